// The live half of the demo console's server (serve.mjs --python PY):
// starts `cloudbackup serve` on a free port of 127.0.0.1 with a temporary
// database, seeds it through the package's own client (an agent, its
// configuration, backups and restores moved by the agent's PATCHes), and
// plays that agent while the console runs: it takes the restores and
// backups sent to it through queued, preparing and in_progress, reports
// counters, and honours a stop request two ticks later. Every PATCH it
// sends is first checked by the core's validatePatch as the agent, so it
// only says what the service accepts. A real `cloudbackup agent` is
// started beside it when the CLI has that command.
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as cb from '../node.js';

/** The demo user (the emulator accepts any non-empty credentials). */
export const USER = { username: 'demo', apiKey: 'demo-key' };
/** Files (of 64 KiB) the simulated agent "restores" or "backs up" per run: one a tick. */
const FILES = 20;
const FILE_BYTES = 65536;
/** Ticks between a stop request and the run's `stopped`. */
const STOP_TICKS = 2;

/** @typedef {import('../index.js').JsonObject} JsonObject */
/** @typedef {import('../client.js').CallOptions} CallOptions */
/** @typedef {'restore' | 'backup'} Kind */

/** A free TCP port of 127.0.0.1 (bound, read, released). @returns {Promise<number>} */
export function freePort() {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const address = s.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      s.close(() => resolve(port));
    });
  });
}

/** @param {number} ms */
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/**
 * Starts `python -m cloudbackup serve` (the repository's python/ first on
 * PYTHONPATH) on a free port with a database in a temporary directory;
 * resolves once its identity endpoint issues a token.
 * @param {string} python
 * @param {string} root the repository
 * @returns {Promise<{ url: string, stop: () => void }>}
 */
export async function startEmulator(python, root) {
  const port = await freePort();
  const dir = mkdtempSync(join(tmpdir(), 'cloudbackup-demo-'));
  const env = { ...process.env, PYTHONPATH: [join(root, 'python'), process.env.PYTHONPATH].filter(Boolean).join(':') };
  const child = spawn(python, ['-m', 'cloudbackup', 'serve', '--host', '127.0.0.1', '--port', String(port),
    '--db', join(dir, 'emulator.sqlite3'), '--log-level', 'warning'], { env, stdio: ['ignore', 'inherit', 'inherit'] });
  const stop = () => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
    rmSync(dir, { recursive: true, force: true });
  };
  // Never left behind, even when this process dies of an error.
  process.once('exit', stop);
  const url = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 20_000;
  for (;;) {
    if (child.exitCode !== null) {
      stop();
      throw new Error(`cloudbackup serve exited (${child.exitCode})`);
    }
    try {
      const r = await fetch(`${url}/identity/v2.0/tokens`, {
        method: 'POST', headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ auth: { 'RAX-KSKEY:apiKeyCredentials': USER } }),
      });
      if (r.ok) return { url, stop };
    } catch {
      // Not listening yet.
    }
    if (Date.now() > deadline) {
      stop();
      throw new Error('cloudbackup serve did not answer in 20 s');
    }
    await sleep(100);
  }
}

/**
 * Starts `python -m cloudbackup agent` against the emulator when the CLI has
 * that command: signed in as the demo user, with a fresh vault and state in
 * a temporary directory (removed at exit; extra arguments from
 * $DEMO_AGENT_ARGS). Resolves with a note for the page, and a stop function
 * when it runs.
 * @param {string} python
 * @param {string} root
 * @param {string} url the emulator
 * @returns {Promise<{ running: boolean, note: string, stop: () => void }>}
 */
export async function startAgent(python, root, url) {
  const env = {
    ...process.env,
    PYTHONPATH: [join(root, 'python'), process.env.PYTHONPATH].filter(Boolean).join(':'),
    CLOUDBACKUP_PASSWORD: process.env.CLOUDBACKUP_PASSWORD ?? 'demo vault password',
  };
  const help = spawnSync(python, ['-m', 'cloudbackup', 'agent', '--help'], { env, encoding: 'utf8' });
  if (help.status !== 0) {
    return { running: false, note: 'no `cloudbackup agent` in this build (its --help failed): only the simulated agent runs', stop: () => {} };
  }
  const dir = mkdtempSync(join(tmpdir(), 'cloudbackup-demo-agent-'));
  process.once('exit', () => rmSync(dir, { recursive: true, force: true }));
  const args = [
    '--api', url, '--username', USER.username, '--api-key', USER.apiKey,
    '--vault', join(dir, 'vault'), '--init', '--state-dir', join(dir, 'state'),
    ...(process.env.DEMO_AGENT_ARGS ?? '').split(/\s+/).filter(Boolean),
  ];
  const child = spawn(python, ['-m', 'cloudbackup', 'agent', ...args], { env, stdio: ['ignore', 'inherit', 'pipe'] });
  let err = '';
  child.stderr.on('data', (c) => {
    err += c;
    process.stderr.write(c);
  });
  const stop = () => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
  };
  process.once('exit', stop);
  // Still running after 2 s: taken as started.
  await sleep(2000);
  if (child.exitCode !== null) {
    return { running: false, note: `\`cloudbackup agent\` exited (${child.exitCode}): ${err.trim().split('\n').pop() ?? ''}`, stop };
  }
  return { running: true, note: `\`cloudbackup agent\` runs (pid ${child.pid}, vault ${join(dir, 'vault')})`, stop };
}

/** @param {string} root @param {string} name @returns {JsonObject} */
function sample(root, name) {
  return JSON.parse(readFileSync(join(root, 'tests/data/rackspace/samples-v2', name), 'utf8'));
}

/** A `replace` operation. @param {string} path @param {import('../index.js').JsonValue} value */
const replace = (path, value) => ({ op: 'replace', path, value });

/** Now, as the v2 resources spell times. */
const now = () => new Date().toISOString().replace(/(\.\d{3})Z$/, '$1000Z');

/** Counter fields of each kind. */
const COUNTERS = {
  restore: { files: 'files_restored', bytes: 'bytes_restored' },
  backup: { files: 'files_backed_up', bytes: 'bytes_backed_up' },
};

/**
 * The simulated agent's next patch for a run it owns, or null (nothing to
 * do). `stops` counts the ticks since each run's stop request.
 * @param {Kind} kind @param {JsonObject} run @param {Map<string, number>} stops
 * @returns {import('../index.js').JsonValue[] | null}
 */
export function nextPatch(kind, run, stops) {
  const c = COUNTERS[kind];
  const files = Number(run[c.files] ?? 0);
  switch (run.state) {
    case 'start_requested':
      return [replace('/state', 'queued')];
    case 'queued':
      return [replace('/state', 'preparing')];
    case 'preparing':
      return [replace('/state', 'in_progress'), { op: 'add', path: '/started_time', value: now() }];
    case 'in_progress':
      if (files < FILES) return [replace(`/${c.files}`, files + 1), replace(`/${c.bytes}`, (files + 1) * FILE_BYTES)];
      return [replace('/state', 'completed'), { op: 'add', path: '/ended_time', value: now() }];
    case 'stop_requested': {
      const id = String(run.id);
      const waited = (stops.get(id) ?? 0) + 1;
      stops.set(id, waited);
      if (waited < STOP_TICKS) return null;
      return [replace('/state', 'stopped'), { op: 'add', path: '/ended_time', value: now() }];
    }
    default:
      return null;
  }
}

/**
 * Seeds the emulator as the demo user and plays the seeded agent.
 * @param {string} root @param {string} url the emulator
 * @param {{ tickMs?: number, log?: (line: string) => void }} [options]
 */
export async function seedAndSimulate(root, url, options = {}) {
  const tickMs = options.tickMs ?? 1000;
  const log = options.log ?? (() => {});
  const identity = new cb.RackspaceIdentity({ ...USER, identityUrl: `${url}/identity/v2.0` });
  /** @type {CallOptions} */
  const asUser = { auth: identity, baseUrl: url, retry: false };
  const agentBody = sample(root, 'cbu-postAgent_request.json');
  agentBody.name = 'demo agent (simulated by serve.mjs)';
  const agent = /** @type {JsonObject} */ (await cb.call('v2.agents.register_agent', { agent: agentBody }, asUser));
  const agentId = String(agent.id);
  const session = await identity.session();
  /** @type {CallOptions} */
  const asAgent = { auth: { token: session.token, tenantId: session.tenantId, agentId }, baseUrl: url, retry: false };
  const configBody = sample(root, 'cbu-postConfig_request.json');
  configBody.agent_id = agentId;
  const config = /** @type {JsonObject} */ (await cb.call('v2.configurations.create_configuration', { body: configBody }, asUser));
  const configurationId = String(config.id);

  const stops = new Map();
  /** Moves one run by the agent's next patch (checked by the core first); false when there was none. @param {Kind} kind @param {JsonObject} run */
  const step = async (kind, run) => {
    const patch = nextPatch(kind, run, stops);
    if (!patch) return false;
    cb.validatePatch(kind, run, patch, 'agent');
    if (kind === 'restore') await cb.call('v2.restores.update_restore', { restore_id: String(run.id), patch }, asAgent);
    else await cb.call('v2.backups.update_backup', { backup_id: String(run.id), patch }, asAgent);
    return true;
  };
  /** @param {Kind} kind @param {string} id */
  const get = async (kind, id) => /** @type {JsonObject} */ (kind === 'restore'
    ? await cb.call('v2.restores.get_restore', { restore_id: id }, asUser)
    : await cb.call('v2.backups.get_backup', { backup_id: id }, asUser));
  /** Runs `kind` `id` to its end at once (seeding), the stop honoured at once. @param {Kind} kind @param {string} id */
  const runToEnd = async (kind, id) => {
    for (;;) {
      const run = await get(kind, id);
      if (run.state === 'stop_requested') stops.set(id, STOP_TICKS);
      if (!(await step(kind, run))) return;
    }
  };

  // Two finished backups, then restores of the first: one completed, one
  // stopped by the user mid-way, one left for the simulation to run live.
  /** @type {string[]} */
  const backups = [];
  for (let i = 0; i < 2; i++) {
    const b = /** @type {JsonObject} */ (await cb.call('v2.backups.start_backup',
      { body: { configuration_id: configurationId, state: 'start_requested' } }, asUser));
    await runToEnd('backup', String(b.id));
    backups.push(String(b.id));
  }
  const restoreBody = { backup_id: backups[0], destination_agent_id: agentId, destination_path: '/tmp/restore',
    overwrite_files: false, inclusions: [{ type: 'folder', path: '/web/' }], exclusions: [] };
  const startRestore = async () => String(/** @type {JsonObject} */ (await cb.call('v2.restores.start_restore', { body: restoreBody }, asUser)).id);
  await runToEnd('restore', await startRestore());
  const stopped = await startRestore();
  for (let i = 0; i < 4; i++) await step('restore', await get('restore', stopped));
  await cb.call('v2.restores.update_restore', { restore_id: stopped, patch: [replace('/state', 'stop_requested')] }, asUser);
  await runToEnd('restore', stopped);
  await startRestore();
  log(`demo: seeded agent ${agentId}, configuration ${configurationId}, backups ${backups.join(' ')}, 3 restores`);

  // The simulation: every tick, each run of the seeded agent moves one step.
  let running = true;
  const loop = (async () => {
    while (running) {
      try {
        for (const kind of /** @type {Kind[]} */ (['restore', 'backup'])) {
          const list = kind === 'restore' ? 'v2.restores.list_restores' : 'v2.backups.list_backups';
          for await (const item of cb.paginate(list, {}, asAgent)) {
            const run = /** @type {JsonObject} */ (item);
            const owner = /** @type {JsonObject} */ (run[kind === 'restore' ? 'destination_agent' : 'agent']);
            if (String(owner.id) === agentId) await step(kind, run);
          }
        }
      } catch (e) {
        // A run changed between the list and the patch (the user stopped
        // it): the next tick sees its new state.
        log(`demo agent: ${e instanceof Error ? e.message : String(e)}`);
      }
      await sleep(tickMs);
    }
  })();
  return {
    seeded: { agentId, configurationId, backupId: backups[0] },
    stop: async () => {
      running = false;
      await loop;
    },
  };
}
