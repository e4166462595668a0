// @cloudbackup/core/api: the engine-free module answers exactly as the whole
// package does (model, operations, lifecycle, patch, and their errors), and
// exports none of the engine's classes.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import * as api from '../api-node.js';
import * as cb from '../node.js';
import { fixture, fixtureJson, throwsExactly } from './helpers.mjs';

const V2 = 'tests/data/rackspace/samples-v2/';
const auth = { token: 'tok', tenantId: '123456' };

test('the api entry is loaded on import in node and init() resolves', async () => {
  await api.init();
  assert.equal(api.version(), cb.version());
  assert.deepEqual(api.modelTypes(), cb.modelTypes());
  assert.deepEqual(api.operations(), cb.operations());
});

test('the api entry parses models as the whole package does', () => {
  const bytes = fixture(V2 + 'cbu-getRestores_response.json');
  const parsed = api.parseModel('v2.RestoreList', new Uint8Array(bytes));
  assert.deepEqual(parsed, cb.parseModel('v2.RestoreList', bytes.toString('utf8')));
  assert.equal(/** @type {{ restores: { state: string }[] }} */ (parsed).restores[0].state, 'completed_with_errors');
  // The same error, message and details (the path of the bad field).
  const bad = '{"restores": [{"id": 5}]}';
  const e = throwsExactly(() => api.parseModel('v2.RestoreList', bad), api.InvalidJsonError, 'invalid_json');
  const full = throwsExactly(() => cb.parseModel('v2.RestoreList', bad), cb.InvalidJsonError, 'invalid_json');
  assert.equal(e.message, full.message);
  assert.deepEqual(e.details, full.details);
});

test('the api entry builds requests and parses responses', () => {
  const r = api.buildRequest('v2.restores.get_restore', { restore_id: 'e87e6f7d' }, auth);
  assert.deepEqual(r, cb.buildRequest('v2.restores.get_restore', { restore_id: 'e87e6f7d' }, auth));
  assert.equal(r.method, 'GET');
  assert.equal(r.path, '/v2/123456/restores/e87e6f7d');
  const body = fixture(V2 + 'cbu-getRestoreDetails_response.json');
  /** @type {import('../api.js').HttpResponse} */
  const response = { status: 200, headers: [['content-type', 'application/json']], body: new Uint8Array(body) };
  assert.deepEqual(api.parseResponse('v2.restores.get_restore', { restore_id: 'e87e6f7d' }, response),
    cb.parseResponse('v2.restores.get_restore', { restore_id: 'e87e6f7d' }, response));
  throwsExactly(() => api.buildRequest('v2.restores.nope', {}, auth), api.InvalidArgumentError, 'invalid_argument');
});

test('the api entry validates patches and answers lifecycle questions', () => {
  const restore = { ...fixtureJson(V2 + 'cbu-getRestoreDetails_response.json'), state: 'in_progress', errors: null, ended_time: null };
  const patch = fixtureJson(V2 + 'cbu-updateRestore_request.json');
  const patched = /** @type {{ state: string }} */ (api.validatePatch('restore', restore, patch, 'agent'));
  assert.equal(patched.state, 'completed_with_errors');
  assert.deepEqual(patched, cb.validatePatch('restore', restore, patch, 'agent'));
  throwsExactly(() => api.validatePatch('restore', restore, [{ op: 'remove', path: '/state' }], 'agent'),
    api.PatchRejectedError, 'patch_rejected');
  assert.deepEqual(api.allowedActions('restore', 'queued'), cb.allowedActions('restore', 'queued'));
});

test('the api entry exports no engine class and references no full module', () => {
  for (const name of ['Vault', 'BackupSession', 'RestoreSession', 'Index', 'Snapshot', 'AgentKey', 'BackupFilter']) {
    assert.ok(name in cb, `the whole package exports ${name}`);
    assert.ok(!(name in api), `the api entry must not export ${name}`);
  }
  for (const file of ['api.js', 'dist/api-public.js', 'dist/cloudbackup_api.js', 'create-loader.js']) {
    const text = readFileSync(new URL(`../${file}`, import.meta.url), 'utf8');
    assert.ok(!text.includes('cloudbackup_wasm'), `${file} must not import the whole package's module`);
  }
});
