// A CommonJS host as Jest runs one: `require` only (node runs this with
// --no-experimental-require-module, so an ESM file would fail to load, as
// it does under Jest), and the module usable at once, no init().
const assert = require('node:assert/strict');
const main = require.resolve('@cloudbackup/core');
const inline = require.resolve('@cloudbackup/core/inline');
assert.ok(main.endsWith('dist/inline.cjs') && inline === main, `resolved ${main}, ${inline}`);
const cb = require('@cloudbackup/core');
assert.equal(cb, require('@cloudbackup/core/inline'));
assert.deepEqual(cb.allowedActions('restore', 'in_progress'), ['stop']);
assert.throws(() => cb.validatePatch('restore', { state: 'in_progress' }, [{ op: 'remove', path: '/state' }], 'agent'),
  (e) => e instanceof cb.PatchRejectedError && e instanceof cb.CloudBackupError && e.code === 'patch_rejected');
const vault = cb.Vault.create('pw', null, { memory_kib: 8, iterations: 1, parallelism: 1 });
assert.throws(() => cb.Vault.open(vault.config(), 'nope'), cb.WrongPasswordError);
assert.equal(cb.default, cb.init);
assert.ok(!('makeError' in cb) && !('__setErrorFactory' in cb), 'internals are not exported');
cb.init().then(() => console.log(`bundlers: CommonJS (Jest-style) require('@cloudbackup/core') ${cb.version()}: loaded on require, calls and errors work`));
