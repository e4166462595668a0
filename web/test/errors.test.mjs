// Every failure is a CloudBackupError subclass, the glue's own included
// (a freed object, an object of the wrong class), and errors survive a
// Worker transfer: toJSON() through structuredClone, CloudBackupError.from.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Worker } from 'node:worker_threads';
import * as cb from '../node.js';
import { throwsExactly } from './helpers.mjs';

const CHEAP = { memory_kib: 8, iterations: 1, parallelism: 1 };

/** One error of each class, with the details the core gives it. */
const SAMPLES = /** @type {const} */ ([
  [cb.InvalidJsonError, 'invalid_json', { what: 'agent', message: 'EOF' }],
  [cb.InvalidValueError, 'invalid_value', { field: 'id', reason: 'not hex' }],
  [cb.InvalidArgumentError, 'invalid_argument', { name: 'bytes', reason: 'must be bytes' }],
  [cb.ApiError, 'api', { operation: 'v2.x', status: 503, kind: 'service_unavailable', message: null, errors: [{ a: 1 }], retry_after: 5 }],
  [cb.UnexpectedResponseError, 'unexpected_response', { operation: 'v2.x', status: 418 }],
  [cb.TransitionError, 'transition', { resource: 'restore', from: 'completed', to: 'queued', actor: 'agent', rejection: 'terminal', conflict: true }],
  [cb.PatchRejectedError, 'patch_rejected', { index: 0, path: '/x', reason: 'no' }],
  [cb.PatchConflictError, 'patch_conflict', { state: 'completed', message: 'done' }],
  [cb.PatchForbiddenError, 'patch_forbidden', { message: 'no' }],
  [cb.WrongPasswordError, 'wrong_password', {}],
  [cb.CorruptError, 'corrupt', { object: 'bundles/ab', reason: 'tag' }],
  [cb.ForeignVaultError, 'foreign_vault', { object: 'bundles/ab' }],
  [cb.UnsupportedVersionError, 'unsupported_version', { object: 'config', found: 9, supported: 2 }],
  [cb.NotFoundError, 'not_found', { what: 'snapshot', id: 'ab' }],
  [cb.InvalidStateError, 'invalid_state', { session: 'backup', reason: 'has finished' }],
  [cb.LockedError, 'locked', { lock: 'ab', holder: 'gc (exclusive) by pid 1 on h', stale: false }],
]);

test('every class survives structuredClone through toJSON() and CloudBackupError.from', () => {
  for (const [cls, code, details] of SAMPLES) {
    const original = new cls(`a ${code} error`, /** @type {never} */ (details));
    const json = original.toJSON();
    assert.deepEqual(Object.keys(json).sort(), ['code', 'details', 'message', 'name', 'stack']);
    const back = cb.CloudBackupError.from(structuredClone(json));
    assert.equal(Object.getPrototypeOf(back), cls.prototype, code);
    assert.ok(back instanceof cb.CloudBackupError && back instanceof Error);
    assert.deepEqual([back.name, back.code, back.message], [cls.name, code, `a ${code} error`]);
    assert.deepEqual(back.details, details);
    // And through JSON text (a log line, an HTTP body).
    const parsed = cb.CloudBackupError.from(JSON.parse(JSON.stringify(original)));
    assert.equal(Object.getPrototypeOf(parsed), cls.prototype);
    assert.deepEqual(parsed.details, details);
  }
});

test('an error thrown in a Worker arrives as its class with its details', async () => {
  const source = `
    import { parentPort } from 'node:worker_threads';
    const cb = await import(${JSON.stringify(new URL('../node.js', import.meta.url).href)});
    try { cb.transition('restore', 'completed', 'queued', 'agent'); }
    catch (e) { parentPort.postMessage({ plain: e, json: e.toJSON() }); }
  `;
  const worker = new Worker(new URL(`data:text/javascript,${encodeURIComponent(source)}`));
  const message = await new Promise((resolve, reject) => {
    worker.once('message', resolve);
    worker.once('error', reject);
  });
  await worker.terminate();
  // The error itself loses its class and members on the way...
  assert.equal(message.plain instanceof cb.CloudBackupError, false);
  assert.equal(message.plain.code, undefined);
  // ...its toJSON() does not.
  const e = cb.CloudBackupError.from(message.json);
  assert.ok(e instanceof cb.TransitionError);
  // Narrowed by its code, the details are typed (tsc checks this file).
  assert.ok(e.code === 'transition');
  assert.equal(e.details.rejection, 'terminal');
  assert.equal(e.details.from, 'completed');
  // Posting the error instead of its toJSON() is refused, with the fix in the message.
  const refused = throwsExactly(() => cb.CloudBackupError.from(message.plain), cb.InvalidArgumentError, 'invalid_argument');
  assert.equal(refused.details.name, 'value');
  assert.match(refused.message, /toJSON/);
});

test('from() refuses what is not an error made by toJSON()', () => {
  for (const bad of [null, undefined, 'invalid_json', 5, [], {}, { code: 'corrupt' }, { code: 1, message: 'm' }, { code: 'corrupt', message: 'm', details: 'x' }]) {
    const e = throwsExactly(() => cb.CloudBackupError.from(/** @type {never} */ (bad)), cb.InvalidArgumentError, 'invalid_argument');
    assert.equal(e.details.name, 'value');
    assert.match(e.message, /`value`/);
  }
  // A CloudBackupError of this realm comes back as it is; a code newer than the package gives the base class.
  const same = new cb.CorruptError('x', { object: 'o', reason: 'r' });
  assert.equal(cb.CloudBackupError.from(same), same);
  const newer = cb.CloudBackupError.from(/** @type {never} */ ({ code: 'from_the_future', message: 'm', details: null }));
  assert.equal(Object.getPrototypeOf(newer), cb.CloudBackupError.prototype);
  assert.deepEqual(newer.details, {});
});

test('an object used after free() throws InvalidStateError; free() twice does nothing', () => {
  const vault = cb.Vault.create('pw', null, CHEAP);
  const index = new cb.Index();
  index.free();
  index.free();
  /** @type {Array<[string, () => unknown]>} */
  const uses = [
    ['a getter', () => index.length],
    ['a method', () => index.loadDelta(vault, '0'.repeat(64), new Uint8Array(1))],
  ];
  const session = new cb.BackupSession(vault, new cb.Index());
  session.free();
  uses.push(['a session method', () => session.finishFile()]);
  uses.push(['a session method with arguments', () => session.startFile('/f', 0o644, 1)]);
  for (const [what, use] of uses) {
    const e = throwsExactly(use, cb.InvalidStateError, 'invalid_state');
    assert.match(e.message, /freed/, what);
    assert.equal(e.details.session, 'object', what);
  }
  // A freed object as an argument: named, with its class.
  const e = throwsExactly(() => new cb.BackupSession(vault, index), cb.InvalidStateError, 'invalid_state');
  assert.match(e.message, /the Index `index` was freed/);
  assert.deepEqual(e.details, { session: 'Index', reason: 'was freed (free() was called on it, or a call consumed it)' });
  // The vault is still usable after the refused call.
  vault.addPassword('other', CHEAP);
  assert.equal(vault.info().key_slots, 2);
});

test('an object of the wrong class throws InvalidArgumentError naming the argument', () => {
  const vault = cb.Vault.create('pw', null, CHEAP);
  const index = new cb.Index();
  /** @type {Array<[string, string, () => unknown]>} */
  const cases = [
    ['vault', 'Vault', () => new cb.BackupSession(/** @type {never} */ (index), index)],
    ['index', 'Index', () => new cb.BackupSession(vault, /** @type {never} */ (vault))],
    ['index', 'Index', () => cb.verifyPlan(/** @type {never} */ (null), 1, 0)],
    ['index', 'Index', () => cb.verifyPlan(/** @type {never} */ ({ length: 0 }), 1, 0)],
    ['state', 'VaultState', () => cb.Verifier.forState(/** @type {never} */ (vault))],
    ['vault', 'Vault', () => cb.Snapshot.open(/** @type {never} */ (undefined), '0'.repeat(64), new Uint8Array(1))],
    ['lock', 'Lock', () => new cb.LockTable(1n, 'h').decide('0'.repeat(64), /** @type {never} */ ('lock'))],
  ];
  for (const [name, cls, call] of cases) {
    const e = throwsExactly(call, cb.InvalidArgumentError, 'invalid_argument');
    assert.equal(e.details.name, name);
    assert.match(e.message, new RegExp(`\`${name}\`: must be a ${cls}, got `));
  }
});

test('a class made only by its static methods says so when called with new', () => {
  // wasm-bindgen gave them no constructor: `new Vault()` was an empty
  // object whose first call said it "was freed".
  /** @type {Array<[Function, RegExp]>} */
  const cases = [
    [cb.Vault, /^Vault has no public constructor: use Vault\.create\(\), Vault\.openWithKey\(\) or Vault\.open\(\)$/],
    [cb.Snapshot, /^Snapshot has no public constructor: use Snapshot\.open\(\)$/],
    [cb.AgentKey, /^AgentKey has no public constructor: use AgentKey\.fromDer\(\) or AgentKey\.generate\(\)$/],
  ];
  for (const [cls, message] of cases) {
    const e = throwsExactly(() => new (/** @type {any} */ (cls))(), cb.InvalidStateError, 'invalid_state');
    assert.match(e.message, message);
    assert.deepEqual(e.details, { session: cls.name, reason: 'has no public constructor' });
  }
  // Their own makers still make them.
  const vault = cb.Vault.create('pw', null, CHEAP);
  assert.ok(vault instanceof cb.Vault);
  vault.free();
});

test('every error the wasm module throws is a CloudBackupError subclass with its code', () => {
  const e = throwsExactly(() => cb.Vault.open(cb.Vault.create('pw', null, CHEAP).config(), 'wrong'), cb.WrongPasswordError, 'wrong_password');
  assert.deepEqual(e.toJSON().details, {});
  assert.ok(e.stack?.includes('WrongPasswordError'));
});
