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

function validatePatch() {
  const verdict = $('patch-verdict');
  const restore = resources.restore[0];
  const actor = /** @type {HTMLSelectElement} */ ($('patch-actor')).value;
  try {
    const patched = cb.validatePatch('restore', restore, /** @type {HTMLTextAreaElement} */ ($('patch-text')).value,
      /** @type {import('../index.js').Actor} */ (actor));
    verdict.className = 'ok';
    verdict.innerHTML = '<p class="verdict">accepted</p><pre></pre>';
    /** @type {HTMLElement} */ (verdict.querySelector('pre')).textContent = JSON.stringify(patched, null, 2);
  } catch (e) {
    verdict.className = 'bad';
    const code = e instanceof cb.CloudBackupError ? e.code : 'error';
    verdict.innerHTML = '<p class="verdict"></p><p class="reason"></p>';
    /** @type {HTMLElement} */ (verdict.querySelector('.verdict')).textContent = `refused: ${code}`;
    /** @type {HTMLElement} */ (verdict.querySelector('.reason')).textContent = describe(e);
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
  const restores = /** @type {{ restores: import('../index.js').JsonObject[] }} */ (
    cb.parseModel('v2.RestoreList', await bytes(SAMPLES + 'cbu-getRestores_response.json')));
  const backups = /** @type {{ backups: import('../index.js').JsonObject[] }} */ (
    cb.parseModel('v2.BackupList', await bytes(SAMPLES + 'cbu-getProjectBackups_response.json')));
  resources.restore = restores.restores;
  resources.backup = backups.backups;
  render('restore');
  render('backup');
  $('patch-validate').onclick = validatePatch;
  $('vault-open').onclick = openVault;
  $('status').textContent = 'Ready.';
  document.body.dataset.ready = 'yes';
}

main().catch((e) => {
  $('status').textContent = `Failed to start: ${describe(e)}`;
  $('status').className = 'bad';
});
