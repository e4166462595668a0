// validatePatch on a resource object (read member by member, the result a
// shallow copy with the patched members set: bindings/wasm/src/members.rs,
// web/members.js) against the same call on the resource's JSON text, which
// parses the whole resource: the same outcome for every endpoint's samples
// and patches, and the object path's own promises (input untouched,
// untouched members shared, edited parents copied).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as cb from '../node.js';
import { fixtureJson } from './helpers.mjs';

const V2 = 'tests/data/rackspace/samples-v2/';

/** @type {[import('../node.js').PatchEndpoint, string, string, string[]][]} */
const ENDPOINTS = [
  ['restore', 'cbu-getRestoreDetails_response.json', 'cbu-updateRestore_request.json', ['queued', 'in_progress', 'completed']],
  ['backup', 'cbu-getBackupDetails_response.json', 'cbu-updateBackup_request.json', ['queued', 'in_progress', 'failed']],
  ['cleanup', 'cbu-getCleanupDetails_response.json', 'cbu-updateCleanup_request.json', ['queued', 'in_progress']],
  ['logfile', 'cbu-getAgentLogfileDetails_response.json', 'cbu-updateLogfile_request.json', ['requested', 'started']],
  ['configuration', 'cbu-getConfigurationDetails_response.json', 'cbu-updateConfiguration_request.json', []],
  ['agent', 'cbu-getAgentDetails_response.json', 'cbu-updateAgent_request.json', []],
];

/** The outcome of a call: its value as JSON, or the error's class, code and message. @param {() => unknown} call */
function outcome(call) {
  try {
    return { ok: JSON.parse(JSON.stringify(call())) };
  } catch (e) {
    const error = /** @type {import('../node.js').CloudBackupError} */ (e);
    assert.ok(error instanceof cb.CloudBackupError, String(e));
    return { error: [error.constructor.name, error.code, error.message] };
  }
}

/** Resources of an endpoint: its sample in each state, with odd members. @param {string} sample @param {string[]} states */
function resources(sample, states) {
  const base = fixtureJson(V2 + sample);
  const list = [base, {}, { ...base, vault: null }, { ...base, vault: ['DFW'] }, { ...base, retention: [1] }];
  for (const state of states) {
    list.push({ ...base, state }, { ...base, state, errors: null, ended_time: null });
    list.push({ ...base, state, started_time: '2014-10-20T13:15:00Z', ended_time: null });
  }
  return list;
}

/** Patches: the reference's own, each of its operations alone, and odd ones. @param {string} request @returns {import('../node.js').JsonValue[]} */
function patches(request) {
  const own = /** @type {import('../node.js').JsonValue[]} */ (fixtureJson(V2 + request));
  /** @type {import('../node.js').JsonValue[]} */
  const list = [own, [], ...own.map((op) => [op])];
  const values = ['stop_requested', 'completed', 'started', 'IAD', 'debug', 7, -1, true, null, '2014-10-20T13:10:00Z', { count: 1 }, [1, 2]];
  for (const path of ['/state', '/ended_time', '/started_time', '/vault/region', '/retention/days', '/name', '/log_level', '/enabled', '/nope']) {
    for (const value of values) {
      list.push([{ op: 'replace', path, value }], [{ op: 'add', path, value }]);
    }
  }
  list.push([{ op: 'remove', path: '/state' }], [{ op: 'replace', path: '/state' }], [{ op: 'move', from: '/a', path: '/b' }]);
  return list;
}

test('a resource object gives what its JSON text gives, for every endpoint', () => {
  let compared = 0;
  let accepted = 0;
  for (const [endpoint, sample, request, states] of ENDPOINTS) {
    for (const resource of resources(sample, states)) {
      const before = JSON.stringify(resource);
      for (const patch of patches(request)) {
        for (const actor of /** @type {const} */ (['user', 'agent', 'scheduler'])) {
          for (const options of [undefined, { vaultEmpty: true }]) {
            const fromObject = outcome(() => cb.validatePatch(endpoint, resource, patch, actor, options));
            const fromText = outcome(() => cb.validatePatch(endpoint, before, patch, actor, options));
            assert.deepEqual(fromObject, fromText, `${endpoint} ${before} ${JSON.stringify(patch)} ${actor}`);
            if ('ok' in fromObject) accepted++;
            compared++;
          }
        }
      }
      assert.equal(JSON.stringify(resource), before, 'the resource is not changed');
    }
  }
  assert.ok(compared > 5000 && accepted > 100, `${compared} compared, ${accepted} accepted`);
});

test('the result shares untouched members and copies the objects it changes', () => {
  const restore = { ...fixtureJson(V2 + 'cbu-getRestoreDetails_response.json'), state: 'in_progress', errors: null, ended_time: null };
  const patch = fixtureJson(V2 + 'cbu-updateRestore_request.json');
  const patched = /** @type {Record<string, unknown>} */ (cb.validatePatch('restore', restore, patch, 'agent'));
  assert.notEqual(patched, restore);
  assert.equal(restore.state, 'in_progress');
  assert.equal(patched.state, 'completed_with_errors');
  for (const key of Object.keys(restore)) {
    const value = restore[key];
    if (typeof value === 'object' && value !== null && !patch.some((/** @type {{path: string}} */ op) => op.path === `/${key}`)) {
      assert.equal(patched[key], value, `${key} is shared`);
    }
  }
  // The patch's own values are not the result's: changing one changes neither.
  /** @type {{count: number}} */ (patched.errors).count = 99;
  assert.equal(patch[3].value.count, 1);

  const agent = fixtureJson(V2 + 'cbu-getAgentDetails_response.json');
  const moved = /** @type {{ vault: { region: string }, host: unknown }} */ (
    cb.validatePatch('agent', agent, [{ op: 'replace', path: '/vault/region', value: 'IAD' }], 'user', { vaultEmpty: true }));
  assert.equal(moved.vault.region, 'IAD');
  assert.notEqual(moved.vault, agent.vault, 'the edited parent is a copy');
  assert.notEqual(agent.vault.region, 'IAD', 'the input vault is unchanged');
});

test('objects JSON reads differently go through JSON text, with its outcome', () => {
  const base = { ...fixtureJson(V2 + 'cbu-getRestoreDetails_response.json'), errors: null, ended_time: null };
  const toState = [{ op: 'replace', path: '/state', value: 'completed' }];
  class Restore {
    constructor() { Object.assign(this, base, { state: 'in_progress' }); }
    // Read by a property access, not written by JSON.stringify.
    get agent_id() { return 'not a member'; }
  }
  const cases = [
    new Restore(),
    { ...base, state: 'in_progress', started_time: new Date('2014-10-20T13:00:00Z') },
    { ...base, state: 'in_progress', toJSON() { return { ...base, state: 'queued' }; } },
    { ...base, get state() { throw new Error('no state'); } },
    { ...base, state: 'in_progress', started_time: 10n },
    Object.defineProperty({ ...base }, 'state', { value: 'in_progress', enumerable: false }),
    Object.assign(Object.create(null), base, { state: 'in_progress' }),
  ];
  for (const resource of cases) {
    /** @type {string | undefined} */
    let text;
    try {
      text = JSON.stringify(resource);
    } catch {
      text = undefined;
    }
    const fromObject = outcome(() => cb.validatePatch('restore', resource, toState, 'agent'));
    if (text === undefined) {
      assert.ok('error' in fromObject, 'a resource JSON cannot write is refused');
    } else {
      assert.deepEqual(fromObject, outcome(() => cb.validatePatch('restore', text, toState, 'agent')), text);
    }
  }
});
