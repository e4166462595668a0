// The demo console: everything it decides comes from the core
// (@cloudbackup/core); the page only fetches, renders and wires buttons.
import * as cb from '../index.js';

const $ = (/** @type {string} */ id) => /** @type {HTMLElement} */ (document.getElementById(id));
const SAMPLES = '/tests/data/rackspace/samples-v2/';
const RESTORE_STATES = ['start_requested', 'queued', 'preparing', 'in_progress', 'stop_requested',
  'completed', 'completed_with_errors', 'failed', 'stopped'];
const BACKUP_STATES = ['start_scheduled', 'start_requested', 'queued', 'preparing', 'in_progress', 'stop_requested',
  'completed', 'completed_with_errors', 'failed', 'stopped', 'skipped', 'missed'];
/** Which state a button asks for. */
const ACTION_TARGET = { start: 'start_requested', stop: 'stop_requested' };

/** @type {Record<string, import('../index.js').JsonObject[]>} */
const resources = { restore: [], backup: [] };

/** @param {string} url */
async function bytes(url) {
  const r = await fetch(url);
  if (!r.ok) throw new Error(`${url}: HTTP ${r.status}`);
  return new Uint8Array(await r.arrayBuffer());
}

/** @param {unknown} e */
function describe(e) {
  if (e instanceof cb.CloudBackupError) return `${e.name} (${e.code}): ${e.message}`;
  return String(e);
}

/** @param {'restore' | 'backup'} kind */
function render(kind) {
  const states = kind === 'restore' ? RESTORE_STATES : BACKUP_STATES;
  const body = /** @type {HTMLElement} */ ($(`${kind}s`).querySelector('tbody'));
  body.replaceChildren();
  resources[kind].forEach((res, i) => {
    const tr = document.createElement('tr');
    tr.dataset.id = String(res.id);
    tr.className = kind;
    const state = String(res.state);
    const select = document.createElement('select');
    select.className = 'simulate';
    for (const s of states) select.add(new Option(s, s, false, s === state));
    select.onchange = () => {
      res.state = select.value;
      render(kind);
    };
    const actions = document.createElement('td');
    actions.className = 'actions';
    for (const action of cb.allowedActions(kind, state)) {
      const button = document.createElement('button');
      button.textContent = action === 'start' ? 'Start' : 'Stop';
      button.dataset.action = action;
      button.onclick = () => {
        try {
          const step = cb.transition(kind, state, ACTION_TARGET[action], 'user');
          res.state = step.state;
          $('action-log').textContent = `${kind} ${res.id}: ${state} -> ${step.state}`;
        } catch (e) {
          $('action-log').textContent = describe(e);
        }
        render(kind);
      };
      actions.append(button);
    }
    const cells = [String(res.id), state];
    tr.innerHTML = cells.map((c, j) => `<td class="${j === 1 ? 'state' : 'id'}"></td>`).join('');
    tr.children[0].textContent = cells[0];
    tr.children[1].textContent = cells[1];
    const simulate = document.createElement('td');
    simulate.append(select);
    tr.append(simulate, actions);
    body.append(tr);
    void i;
  });
}

/**
 * Shows the core's verdict on the editor's patch against `restore` (the
 * first restore, or in live mode the one picked, as the server has it now);
 * returns the patched resource, or the error.
 * @param {import('../index.js').JsonObject} [restore]
 * @returns {{ ok: true, patched: import('../index.js').JsonValue } | { ok: false, error: unknown }}
 */
function validatePatch(restore = resources.restore[0]) {
  const verdict = $('patch-verdict');
  const actor = /** @type {HTMLSelectElement} */ ($('patch-actor')).value;
  try {
    const patched = cb.validatePatch('restore', restore, /** @type {HTMLTextAreaElement} */ ($('patch-text')).value,
      /** @type {import('../index.js').Actor} */ (actor));
    verdict.className = 'ok';
    verdict.innerHTML = '<p class="verdict">accepted</p><pre></pre>';
    /** @type {HTMLElement} */ (verdict.querySelector('pre')).textContent = JSON.stringify(patched, null, 2);
    return { ok: true, patched };
  } catch (e) {
    verdict.className = 'bad';
    const code = e instanceof cb.CloudBackupError ? e.code : 'error';
    verdict.innerHTML = '<p class="verdict"></p><p class="reason"></p>';
    /** @type {HTMLElement} */ (verdict.querySelector('.verdict')).textContent = `refused: ${code}`;
    /** @type {HTMLElement} */ (verdict.querySelector('.reason')).textContent = describe(e);
    return { ok: false, error: e };
  }
}

/** @type {{ vault: cb.Vault, index: cb.Index, snapshot: cb.Snapshot, base: string } | null} */
let opened = null;

async function openVault() {
  const out = $('vault-files');
  $('restore-result').replaceChildren();
  try {
    const manifest = await (await fetch('/api/vaults/v1')).json();
    const vault = cb.Vault.open(await bytes(manifest.base + 'config'), /** @type {HTMLInputElement} */ ($('vault-password')).value);
    const index = new cb.Index();
    for (const id of manifest.index) index.loadDelta(vault, id, await bytes(`${manifest.base}index/${id}`));
    const id = manifest.snapshots[0];
    const snapshot = cb.Snapshot.open(vault, id, await bytes(`${manifest.base}snapshots/${id}`));
    opened = { vault, index, snapshot, base: manifest.base };
    const data = snapshot.data();
    out.innerHTML = `<p>Snapshot of ${new Date(data.time * 1000).toISOString()}: pick a file to restore.</p><ul></ul>`;
    for (const e of data.entries.filter((e) => e.kind === 'file')) {
      const li = document.createElement('li');
      const b = document.createElement('button');
      b.textContent = 'Restore';
      b.dataset.path = e.path;
      b.onclick = () => restoreOne(e.path);
      li.append(b, ` ${e.path} (${e.size} bytes)`);
      /** @type {HTMLElement} */ (out.querySelector('ul')).append(li);
    }
  } catch (e) {
    out.innerHTML = '<p class="bad"></p>';
    /** @type {HTMLElement} */ (out.querySelector('p')).textContent = describe(e);
  }
}

/** Restores one file (only the bundle ranges it needs), verified, and offers it. @param {string} path */
async function restoreOne(path) {
  const result = $('restore-result');
  if (!opened) return;
  try {
    const session = new cb.RestoreSession(opened.vault, opened.snapshot, opened.index,
      { inclusions: cb.filterGlobs([{ path, type: 'file' }]) });
    const create = session.creates().find((c) => c.kind === 'file' && c.path === path);
    if (!create || create.kind !== 'file') throw new Error(`${path} is not in the snapshot`);
    const file = new Uint8Array(create.size);
    let fetched = 0;
    for (const f of session.plan()) {
      const url = `${opened.base}bundles/${f.bundle}`;
      // The server has no range support: fetch the bundle once, feed the planned ranges.
      const bundle = await bytes(url);
      fetched += bundle.length;
      const ranges = f.ranges.length ? f.ranges : [{ offset: 0, length: bundle.length }];
      for (const r of ranges) {
        for (const w of session.feed(f.bundle, r.offset, bundle.subarray(r.offset, r.offset + r.length))) {
          for (const p of w.places) file.set(w.data, p.offset);
        }
      }
    }
    const report = session.finish();
    if (report.errors) throw new Error(`restore failed: ${JSON.stringify(report.errors)}`);
    const name = path.split('/').pop() ?? 'file';
    const link = document.createElement('a');
    link.id = 'download';
    link.download = name;
    link.href = URL.createObjectURL(new Blob([file]));
    link.textContent = `Download ${name}`;
    result.className = 'ok';
    result.replaceChildren(`Restored and verified ${path}: ${file.length} bytes (${report.files_restored} file, ${fetched} bundle bytes fetched). `, link);
    result.dataset.path = path;
    result.dataset.size = String(file.length);
    /** @type {{ restored?: Uint8Array }} */ (/** @type {unknown} */ (window)).restored = file;
  } catch (e) {
    result.className = 'bad';
    result.textContent = describe(e);
  }
}

async function main() {
  await cb.init();
  $('version').textContent = `core ${cb.version()}`;
  $('vault-open').onclick = openVault;
  const config = /** @type {LiveConfig | { live: false }} */ (await (await fetch('/api/demo')).json());
  if (config.live) {
    await live(config);
    return;
  }
  const restores = /** @type {{ restores: import('../index.js').JsonObject[] }} */ (
    cb.parseModel('v2.RestoreList', await bytes(SAMPLES + 'cbu-getRestores_response.json')));
  const backups = /** @type {{ backups: import('../index.js').JsonObject[] }} */ (
    cb.parseModel('v2.BackupList', await bytes(SAMPLES + 'cbu-getProjectBackups_response.json')));
  resources.restore = restores.restores;
  resources.backup = backups.backups;
  render('restore');
  render('backup');
  $('patch-validate').onclick = () => validatePatch();
  $('status').textContent = 'Ready (static samples: start the server with --python for the live console).';
  document.body.dataset.ready = 'yes';
}

// -- Live: the console against `cloudbackup serve` (serve.mjs --python) -------

/**
 * What GET /api/demo tells a live page.
 * @typedef {{ live: true, user: { username: string, apiKey: string }, identity: string,
 *   seeded: { agentId: string, configurationId: string, backupId: string },
 *   agents: { simulated: string, real: boolean, note: string } }} LiveConfig
 */

/** The HTTP status the service answers for each refusal of the core (what the emulator maps them to). */
const PREDICTED_STATUS = { patch_rejected: 400, patch_conflict: 409, patch_forbidden: 403 };
const COUNTERS = { restore: ['files_restored', 'bytes_restored'], backup: ['files_backed_up', 'bytes_backed_up'] };

/** @param {LiveConfig} config */
async function live(config) {
  // Same origin: serve.mjs forwards /identity/ and /v2/ to the emulator.
  const identity = new cb.RackspaceIdentity({
    username: config.user.username, apiKey: config.user.apiKey, identityUrl: location.origin + config.identity,
  });
  /** @type {import('../client.js').CallOptions} */
  const options = { auth: identity, baseUrl: location.origin, retry: false };
  const session = await identity.session();
  $('live').hidden = false;
  $('live-status').textContent = `Live: signed in as ${config.user.username} at the emulator's identity endpoint ` +
    `(project ${session.tenantId}). Agents: the simulated one (${config.agents.simulated}); ${config.agents.note}.`;
  $('start-backup-id').textContent = config.seeded.backupId;
  $('start-config-id').textContent = config.seeded.configurationId;
  document.querySelectorAll('th.third').forEach((th) => { th.textContent = 'Progress'; });
  $('patch-target-label').textContent = 'the restore';
  $('patch-target').hidden = false;
  $('patch-send').hidden = false;

  const list = async (/** @type {'restore' | 'backup'} */ kind) => {
    /** @type {import('../index.js').JsonObject[]} */
    const items = [];
    const op = kind === 'restore' ? 'v2.restores.list_restores' : 'v2.backups.list_backups';
    for await (const item of cb.paginate(op, {}, options)) items.push(/** @type {import('../index.js').JsonObject} */ (item));
    return items;
  };
  /** @param {'restore' | 'backup'} kind @param {string} id @param {import('../index.js').JsonValue[]} patch */
  const update = (kind, id, patch) => kind === 'restore'
    ? cb.call('v2.restores.update_restore', { restore_id: id, patch }, options)
    : cb.call('v2.backups.update_backup', { backup_id: id, patch }, options);

  const refresh = async () => {
    resources.restore = await list('restore');
    resources.backup = await list('backup');
    renderLive('restore', update, refresh);
    renderLive('backup', update, refresh);
    const target = /** @type {HTMLSelectElement} */ ($('patch-target'));
    const picked = target.value;
    target.replaceChildren(...resources.restore.map((r) => new Option(`${r.id} (${r.state})`, String(r.id))));
    if (picked) target.value = picked;
    const agents = /** @type {HTMLSelectElement} */ ($('start-agent'));
    if (agents.options.length === 0) {
      for await (const a of cb.paginate('v2.agents.list_agents', {}, options)) {
        const agent = /** @type {import('../index.js').JsonObject} */ (a);
        agents.add(new Option(`${agent.name} (${agent.id})`, String(agent.id)));
      }
      agents.value = config.seeded.agentId;
    }
  };
  const guarded = (/** @type {() => Promise<void>} */ f) => async () => {
    try {
      await f();
    } catch (e) {
      $('action-log').textContent = describe(e);
    }
  };
  $('start-restore').onclick = guarded(async () => {
    const body = { backup_id: config.seeded.backupId, destination_agent_id: /** @type {HTMLSelectElement} */ ($('start-agent')).value,
      destination_path: '/tmp/restore', overwrite_files: false, inclusions: [{ type: 'folder', path: '/web/' }], exclusions: [] };
    const started = /** @type {import('../index.js').JsonObject} */ (await cb.call('v2.restores.start_restore', { body }, options));
    $('action-log').textContent = `restore ${started.id}: started (${started.state})`;
    await refresh();
  });
  $('start-backup').onclick = guarded(async () => {
    const body = { configuration_id: config.seeded.configurationId, state: 'start_requested' };
    const started = /** @type {import('../index.js').JsonObject} */ (await cb.call('v2.backups.start_backup', { body }, options));
    $('action-log').textContent = `backup ${started.id}: started (${started.state})`;
    await refresh();
  });

  $('patch-validate').onclick = guarded(async () => {
    validatePatch(await picked(options));
  });
  $('patch-send').onclick = guarded(async () => {
    const restore = await picked(options);
    const prediction = validatePatch(restore);
    const actor = /** @type {HTMLSelectElement} */ ($('patch-actor')).value;
    const current = await identity.session();
    /** @type {import('../index.js').Auth} */
    const auth = { token: current.token, tenantId: current.tenantId };
    if (actor === 'agent') auth.agentId = String(/** @type {import('../index.js').JsonObject} */ (restore.destination_agent).id);
    const patch = JSON.parse(/** @type {HTMLTextAreaElement} */ ($('patch-text')).value);
    // The raw exchange, to show the server's own status and body.
    const request = cb.buildRequest('v2.restores.update_restore', { restore_id: String(restore.id), patch }, auth);
    const response = await fetch(...cb.fetchArgs(request, location.origin));
    const text = await response.text();
    /** @type {string | null} */
    let message = null;
    try {
      message = String(JSON.parse(text).message);
    } catch {
      // No JSON body (204).
    }
    const expected = prediction.ok ? 204
      : prediction.error instanceof cb.CloudBackupError && prediction.error.code in PREDICTED_STATUS
        ? PREDICTED_STATUS[/** @type {keyof typeof PREDICTED_STATUS} */ (prediction.error.code)] : null;
    const expectedMessage = prediction.ok ? null : prediction.error instanceof cb.CloudBackupError
      ? String((/** @type {{ message?: unknown }} */ (prediction.error.details)).message ?? prediction.error.message) : null;
    const same = response.status === expected && (prediction.ok || message === expectedMessage || message === String(/** @type {Error} */ (prediction.error).message));
    const out = $('patch-server');
    out.className = same ? 'ok' : 'bad';
    out.innerHTML = '<p>Server: <span class="status"></span> <span class="match"></span></p><pre class="body"></pre>';
    /** @type {HTMLElement} */ (out.querySelector('.status')).textContent = `HTTP ${response.status}`;
    /** @type {HTMLElement} */ (out.querySelector('.match')).textContent = same
      ? `(as the core predicted: ${expected})` : `(the core predicted ${expected ?? 'another error'}${expectedMessage ? `: ${expectedMessage}` : ''})`;
    /** @type {HTMLElement} */ (out.querySelector('.body')).textContent = text || '(no body)';
    out.dataset.status = String(response.status);
    out.dataset.match = same ? 'yes' : 'no';
    await refresh();
  });

  await refresh();
  let busy = false;
  setInterval(() => {
    if (busy || !/** @type {HTMLInputElement} */ ($('auto-refresh')).checked) return;
    busy = true;
    refresh().catch((e) => {
      $('action-log').textContent = describe(e);
    }).finally(() => {
      busy = false;
    });
  }, 1000);
  $('status').textContent = 'Ready (live).';
  document.body.dataset.ready = 'yes';
}

/** The restore the patch editor targets, as the server has it now. @param {import('../client.js').CallOptions} options */
async function picked(options) {
  const id = /** @type {HTMLSelectElement} */ ($('patch-target')).value;
  return /** @type {import('../index.js').JsonObject} */ (await cb.call('v2.restores.get_restore', { restore_id: id }, options));
}

/**
 * Renders a live table: state, the agent's counters, and the actions the
 * core allows the user in that state (Stop sends `stop_requested`).
 * @param {'restore' | 'backup'} kind
 * @param {(kind: 'restore' | 'backup', id: string, patch: import('../index.js').JsonValue[]) => Promise<unknown>} update
 * @param {() => Promise<void>} refresh
 */
function renderLive(kind, update, refresh) {
  const body = /** @type {HTMLElement} */ ($(`${kind}s`).querySelector('tbody'));
  body.replaceChildren();
  for (const res of resources[kind]) {
    const state = String(res.state);
    const tr = document.createElement('tr');
    tr.dataset.id = String(res.id);
    tr.dataset.state = state;
    tr.className = kind;
    const [files, bytes] = COUNTERS[kind];
    const cells = [String(res.id), state, `${res[files] ?? 0} files, ${res[bytes] ?? 0} bytes`];
    for (const [j, text] of cells.entries()) {
      const td = document.createElement('td');
      td.className = ['id', 'state', 'progress'][j];
      td.textContent = text;
      tr.append(td);
    }
    const actions = document.createElement('td');
    actions.className = 'actions';
    // Start needs a new run (the buttons above); a row offers Stop when the core allows it.
    for (const action of cb.allowedActions(kind, state).filter((a) => a === 'stop')) {
      const button = document.createElement('button');
      button.textContent = 'Stop';
      button.dataset.action = action;
      button.onclick = async () => {
        try {
          const step = cb.transition(kind, state, ACTION_TARGET[action], 'user');
          await update(kind, String(res.id), [{ op: 'replace', path: '/state', value: step.state }]);
          $('action-log').textContent = `${kind} ${res.id}: ${state} -> ${step.state} (PATCH accepted)`;
        } catch (e) {
          $('action-log').textContent = describe(e);
        }
        await refresh();
      };
      actions.append(button);
    }
    tr.append(actions);
    body.append(tr);
  }
}

main().catch((e) => {
  $('status').textContent = `Failed to start: ${describe(e)}`;
  $('status').className = 'bad';
});
