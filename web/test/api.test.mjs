// The model, operations, lifecycle and patch exports, and their errors.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as cb from '../node.js';
import { makeError } from '../errors.js';
import { fixture, fixtureJson, list, throwsExactly } from './helpers.mjs';

const V2 = 'tests/data/rackspace/samples-v2/';

test('version, modelTypes and operations list what the core knows', () => {
  assert.match(cb.version(), /^\d+\.\d+\.\d+$/);
  const types = cb.modelTypes();
  assert.ok(types.includes('v2.Restore') && types.includes('v1.Agent'));
  const ops = cb.operations();
  const get = ops.find((o) => o.name === 'v2.restores.get_restore');
  assert.ok(get);
  assert.equal(get.method, 'GET');
  assert.equal(get.path, '/v2/{project_id}/restores/{restore_id}');
});

test('parseModel normalises a v2 restore list and takes text or bytes', () => {
  const bytes = fixture(V2 + 'cbu-getRestores_response.json');
  const fromBytes = cb.parseModel('v2.RestoreList', new Uint8Array(bytes));
  const fromText = cb.parseModel('v2.RestoreList', bytes.toString('utf8'));
  assert.deepEqual(fromBytes, fromText);
  const restores = /** @type {{ restores: { state: string }[] }} */ (fromBytes).restores;
  assert.equal(restores[0].state, 'completed_with_errors');
});

test('parseModel rejects bad input with exact classes', () => {
  const e = throwsExactly(() => cb.parseModel('v2.Restor', '{}'), cb.InvalidArgumentError, 'invalid_argument');
  assert.equal(e.details.name, 'type_name');
  const j = throwsExactly(() => cb.parseModel('v2.Restore', '{"id": '), cb.InvalidJsonError, 'invalid_json');
  assert.equal(typeof j.details.message, 'string');
  throwsExactly(() => cb.parseModel('v2.Restore', /** @type {never} */ (42)), cb.InvalidArgumentError, 'invalid_argument');
  throwsExactly(() => cb.parseModel(/** @type {never} */ (null), '{}'), cb.InvalidArgumentError, 'invalid_argument');
  // The two v1 samples that are not JSON.
  throwsExactly(() => cb.parseModel('v1.Agent[]', fixture('tests/data/rackspace/samples-v1/getUserAgents_response.json')),
    cb.InvalidJsonError, 'invalid_json');
});

test('every v2 JSON sample with a model parses (through the registry names)', () => {
  // Only checks that the wasm build accepts what the Rust tests accept for a few kinds.
  const files = list(V2).filter((f) => f.endsWith('_response.json'));
  assert.ok(files.length > 20);
  const restore = cb.parseModel('v2.Restore', fixture(V2 + 'cbu-getRestoreDetails_response.json'));
  assert.equal(typeof restore, 'object');
});

test('buildRequest builds a transport-neutral request', () => {
  const r = cb.buildRequest('v2.restores.get_restore', { restore_id: 'e87e6f7d' }, { token: 'tok', tenantId: '123456' });
  assert.equal(r.method, 'GET');
  assert.equal(r.path, '/v2/123456/restores/e87e6f7d');
  assert.ok(r.headers.some(([k, v]) => k.toLowerCase() === 'x-auth-token' && v === 'tok'));
  assert.equal(r.body, null);
  const post = cb.buildRequest('v2.restores.start_restore', { body: fixtureJson(V2 + 'cbu-postRestore_request.json') },
    { token: 'tok', tenantId: '123456' });
  assert.equal(post.method, 'POST');
  assert.equal(typeof post.body, 'string');
});

test('buildRequest rejects unknown operations, bad params and bad auth', () => {
  const auth = { token: 'tok', tenantId: '123456' };
  throwsExactly(() => cb.buildRequest('v2.restores.nope', {}, auth), cb.InvalidArgumentError, 'invalid_argument');
  throwsExactly(() => cb.buildRequest('v2.restores.get_restore', {}, auth), cb.InvalidArgumentError, 'invalid_argument');
  throwsExactly(() => cb.buildRequest('v2.restores.get_restore', { restore_id: 'x' }, { token: '', tenantId: '1' }),
    cb.InvalidArgumentError, 'invalid_argument');
  throwsExactly(() => cb.buildRequest('v2.restores.get_restore', { restore_id: 'x' }, /** @type {never} */ ('tok')),
    cb.InvalidArgumentError, 'invalid_argument');
});

test('parseResponse gives the typed result or the service error', () => {
  const params = { restore_id: 'e87e6f7d-d166-11e4-8689-c8e0eb190e3d' };
  const ok = cb.parseResponse('v2.restores.get_restore', params,
    { status: 200, body: fixture(V2 + 'cbu-getRestoreDetails_response.json') });
  assert.equal(/** @type {{ id: string }} */ (ok).id, params.restore_id);
  const e = throwsExactly(() => cb.parseResponse('v2.restores.get_restore', params,
    { status: 404, body: '{"message": "Restore not found."}' }), cb.ApiError, 'api');
  assert.equal(e.details.status, 404);
  assert.equal(e.details.message, 'Restore not found.');
  const busy = throwsExactly(() => cb.parseResponse('v2.restores.get_restore', params,
    { status: 503, headers: [['Retry-After', '30']], body: '' }), cb.ApiError, 'api');
  assert.equal(busy.details.retry_after, 30);
  throwsExactly(() => cb.parseResponse('v2.restores.get_restore', params, { status: 302 }),
    cb.UnexpectedResponseError, 'unexpected_response');
  throwsExactly(() => cb.parseResponse('v2.restores.get_restore', params, { status: 200, body: 'nope' }),
    cb.InvalidJsonError, 'invalid_json');
  throwsExactly(() => cb.parseResponse('v2.restores.get_restore', params, { status: 99 }),
    cb.InvalidArgumentError, 'invalid_argument');
  throwsExactly(() => cb.parseResponse('v2.restores.get_restore', params, /** @type {never} */ (200)),
    cb.InvalidArgumentError, 'invalid_argument');
});

test('lifecycle: transitions, allowed actions and targets', () => {
  assert.deepEqual(cb.transition('restore', 'queued', 'in_progress', 'agent'), { changed: true, state: 'in_progress' });
  assert.deepEqual(cb.transition('restore', 'in_progress', 'in_progress', 'agent'), { changed: false, state: 'in_progress' });
  assert.deepEqual(cb.allowedActions('restore', 'in_progress'), ['stop']);
  assert.deepEqual(cb.allowedActions('restore', 'Creating'), ['start', 'stop']);
  assert.deepEqual(cb.allowedActions('restore', 'completed'), []);
  assert.ok(cb.allowedTargets('restore', 'queued', 'agent').includes('in_progress'));
  const e = throwsExactly(() => cb.transition('restore', 'completed', 'queued', 'agent'), cb.TransitionError, 'transition');
  assert.equal(e.details.rejection, 'terminal');
  assert.equal(e.details.conflict, true);
  const back = throwsExactly(() => cb.transition('restore', 'in_progress', 'queued', 'agent'), cb.TransitionError, 'transition');
  assert.equal(back.details.rejection, 'backward');
  throwsExactly(() => cb.allowedActions(/** @type {never} */ ('widget'), 'queued'), cb.InvalidArgumentError, 'invalid_argument');
  throwsExactly(() => cb.allowedTargets('restore', 'queued', /** @type {never} */ ('robot')), cb.InvalidArgumentError, 'invalid_argument');
  throwsExactly(() => cb.allowedActions('restore', 'sleeping'), cb.InvalidArgumentError, 'invalid_argument');
});

/** A v2 restore in `state`, from the reference's sample. @param {string} state @returns {import('../node.js').JsonObject} */
function restoreIn(state) {
  const restore = fixtureJson(V2 + 'cbu-getRestoreDetails_response.json');
  return { ...restore, state, errors: null, ended_time: null };
}

test('validatePatch accepts, rejects, conflicts and forbids', () => {
  const patched = /** @type {{ state: string, files_restored: number }} */ (cb.validatePatch('restore', restoreIn('in_progress'),
    fixtureJson(V2 + 'cbu-updateRestore_request.json'), 'agent'));
  assert.equal(patched.state, 'completed_with_errors');
  assert.equal(patched.files_restored, 2);
  // JSON text works too.
  const text = cb.validatePatch('restore', JSON.stringify(restoreIn('queued')), '[{"op":"replace","path":"/state","value":"in_progress"}]', 'agent');
  assert.equal(/** @type {{ state: string }} */ (text).state, 'in_progress');

  const rej = throwsExactly(() => cb.validatePatch('restore', restoreIn('in_progress'),
    [{ op: 'remove', path: '/state' }], 'agent'), cb.PatchRejectedError, 'patch_rejected');
  assert.equal(rej.details.index, 0);
  assert.equal(typeof rej.details.reason, 'string');
  throwsExactly(() => cb.validatePatch('restore', restoreIn('in_progress'),
    [{ op: 'replace', path: '/state', value: 'queued' }], 'agent'), cb.PatchRejectedError, 'patch_rejected');
  const conflict = throwsExactly(() => cb.validatePatch('restore', restoreIn('completed'),
    [{ op: 'replace', path: '/state', value: 'failed' }], 'agent'), cb.PatchConflictError, 'patch_conflict');
  assert.equal(conflict.details.state, 'completed');
  throwsExactly(() => cb.validatePatch('restore', restoreIn('queued'), '[{"op": ', 'agent'), cb.InvalidJsonError, 'invalid_json');
  throwsExactly(() => cb.validatePatch(/** @type {never} */ ('widget'), {}, [], 'agent'), cb.InvalidArgumentError, 'invalid_argument');
  throwsExactly(() => cb.validatePatch('restore', restoreIn('queued'), [], 'agent', /** @type {never} */ ({ vaultEmpty: 'yes' })),
    cb.InvalidArgumentError, 'invalid_argument');
});

test('validatePatch: an agent vault region depends on vaultEmpty (403)', () => {
  const agent = fixtureJson(V2 + 'cbu-getAgentDetails_response.json');
  const patch = [{ op: 'replace', path: '/vault/region', value: 'IAD' }];
  throwsExactly(() => cb.validatePatch('agent', agent, patch, 'user', { vaultEmpty: false }), cb.PatchForbiddenError, 'patch_forbidden');
  const ok = /** @type {{ vault: { region: string } }} */ (cb.validatePatch('agent', agent, patch, 'user', { vaultEmpty: true }));
  assert.equal(ok.vault.region, 'IAD');
});

test('errors are Error subclasses with a code, details, name and stack', () => {
  try {
    cb.allowedActions('restore', 'sleeping');
    assert.fail('no error');
  } catch (e) {
    assert.ok(e instanceof Error && e instanceof cb.CloudBackupError && e instanceof cb.InvalidArgumentError);
    assert.equal(/** @type {Error} */ (e).name, 'InvalidArgumentError');
    assert.match(/** @type {Error} */ (e).message, /sleeping/);
    assert.equal(typeof /** @type {Error} */ (e).stack, 'string');
  }
  const made = makeError('something_newer', 'msg', null);
  assert.equal(Object.getPrototypeOf(made), cb.CloudBackupError.prototype);
  assert.equal(made.code, 'something_newer');
});
