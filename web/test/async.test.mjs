// Vault.openAsync / Vault.createAsync: Argon2 in a worker_threads Worker,
// the vault opened on this thread with the key it derived (openWithKey).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import * as cb from '../node.js';
import { ROOT, throwsExactly } from './helpers.mjs';
import { backUpOneFile, openVault, restoreToMemory } from './vault.mjs';

const GOLDEN = fileURLToPath(new URL('tests/golden/v1/', ROOT));
const CHEAP = { memory_kib: 8, iterations: 1, parallelism: 1 };
const SMALL = { chunker: { min_size: 1024, avg_size: 4096, max_size: 16384 }, zstd_level: 3, bundle_size: 65536 };

/**
 * Backs up `data` as /f with `vault`, then restores it with `other`.
 * @param {cb.Vault} vault @param {cb.Vault} other @param {Uint8Array} data
 */
function roundTrip(vault, other, data) {
  const v = backUpOneFile(vault, '/f', data, other);
  const { files, report } = restoreToMemory(v, v.snapshots[0]);
  assert.equal(report.errors, null);
  return /** @type {Uint8Array} */ (files.get('/f'));
}

test('openAsync opens the vault open() opens: same id, config, keys (a backup of one restores with the other)', async () => {
  const vault = cb.Vault.create('pw', SMALL, CHEAP);
  const config = vault.config();
  const opened = await cb.Vault.openAsync(config, 'pw');
  assert.ok(opened instanceof cb.Vault);
  assert.deepEqual(opened.info(), vault.info());
  assert.deepEqual(opened.config(), config);
  const data = new TextEncoder().encode('async '.repeat(5000));
  assert.deepEqual(roundTrip(vault, opened, data), data);
  assert.deepEqual(roundTrip(opened, cb.Vault.open(config, 'pw'), data), data);
  // Bytes of any kind, as open() takes them.
  const buffer = /** @type {ArrayBuffer} */ (config.buffer.slice(config.byteOffset, config.byteOffset + config.byteLength));
  const again = await cb.Vault.openAsync(buffer, new TextEncoder().encode('pw'));
  assert.deepEqual(again.info(), vault.info());
});

test('the golden vault opens with openAsync and restores byte-exactly', async () => {
  const password = readFileSync(GOLDEN + 'PASSWORD', 'utf8');
  const config = new Uint8Array(readFileSync(GOLDEN + 'vault/config'));
  const vault = await cb.Vault.openAsync(config, password);
  const sync = openVault(GOLDEN + 'vault', password);
  const v = { ...sync, vault };
  const { files, report } = restoreToMemory(v, sync.snapshots[0]);
  assert.equal(report.errors, null);
  for (const [path, bytes] of files) {
    assert.ok(Buffer.from(bytes).equals(readFileSync(GOLDEN + 'expected' + path)), `${path} differs`);
  }
  assert.equal(files.size, 5);
});

test('createAsync creates a vault that open() opens with the same password', async () => {
  const vault = await cb.Vault.createAsync('new pw', SMALL, CHEAP);
  assert.equal(vault.info().key_slots, 1);
  assert.deepEqual(vault.info().settings, SMALL);
  const opened = cb.Vault.open(vault.config(), 'new pw');
  assert.deepEqual(opened.info(), vault.info());
  const data = new Uint8Array(70000).map((_, i) => (i * 7919) & 0xff);
  assert.deepEqual(roundTrip(vault, opened, data), data);
  // Defaults when settings and kdf are left out (the default Argon2: 64 MiB, 3 passes).
  const slow = await cb.Vault.createAsync('pw');
  assert.equal(slow.info().key_slots, 1);
});

test('the event loop keeps running while openAsync derives the key with the default Argon2', async () => {
  const config = (await cb.Vault.createAsync('pw')).config();
  // The synchronous open blocks: no tick in between.
  let ticks = 0;
  const timer = setInterval(() => ticks++, 5);
  try {
    const start = performance.now();
    cb.Vault.open(config, 'pw');
    const syncMs = performance.now() - start;
    assert.equal(ticks, 0, 'open() is synchronous');
    await new Promise((resolve) => setTimeout(resolve, 0));
    ticks = 0;
    const asyncStart = performance.now();
    const vault = await cb.Vault.openAsync(config, 'pw');
    const asyncMs = performance.now() - asyncStart;
    assert.ok(vault instanceof cb.Vault);
    // Ticks every 5 ms through the Worker's Argon2 (which alone takes syncMs).
    assert.ok(ticks >= Math.min(5, Math.floor(syncMs / 20)), `${ticks} ticks during ${asyncMs.toFixed(0)} ms (sync open: ${syncMs.toFixed(0)} ms)`);
    console.log(`default Argon2: open ${syncMs.toFixed(0)} ms blocking; openAsync ${asyncMs.toFixed(0)} ms with ${ticks} timer ticks`);
  } finally {
    clearInterval(timer);
  }
});

test('a wrong password rejects with WrongPasswordError (its class and details across the Worker)', async () => {
  const config = cb.Vault.create('pw', SMALL, CHEAP).config();
  await assert.rejects(cb.Vault.openAsync(config, 'nope'), (e) => {
    assert.ok(e instanceof cb.WrongPasswordError, String(e));
    assert.ok(e instanceof cb.CloudBackupError);
    assert.equal(Object.getPrototypeOf(e), cb.WrongPasswordError.prototype);
    assert.equal(e.code, 'wrong_password');
    assert.equal(typeof e.details, 'object');
    return true;
  });
  // A changed MAC digit: the password still opens the slot, the config's MAC fails.
  const at = Buffer.from(config).indexOf('"mac": "') + 8;
  const tampered = new Uint8Array(config);
  tampered[at] = tampered[at] === 0x30 ? 0x31 : 0x30;
  throwsExactly(() => cb.Vault.open(tampered, 'pw'), cb.CorruptError, 'corrupt');
  await assert.rejects(cb.Vault.openAsync(tampered, 'pw'), cb.CorruptError);
});

test('wrong arguments reject as the synchronous calls throw', async () => {
  const config = cb.Vault.create('pw', SMALL, CHEAP).config();
  for (const [args, cls, code] of /** @type {const} */ ([
    [[new Uint8Array(3), 'pw'], cb.CorruptError, 'corrupt'],
    [['not bytes', 'pw'], cb.InvalidArgumentError, 'invalid_argument'],
    [[config, 42], cb.InvalidArgumentError, 'invalid_argument'],
    [[config, ''], cb.InvalidArgumentError, 'invalid_argument'],
    [[config, () => 'pw'], cb.InvalidArgumentError, 'invalid_argument'],
  ])) {
    const sync = throwsExactly(() => cb.Vault.open(/** @type {never} */ (args[0]), /** @type {never} */ (args[1])), /** @type {abstract new (...args: never[]) => cb.CloudBackupError} */ (cls), code);
    await assert.rejects(cb.Vault.openAsync(/** @type {never} */ (args[0]), /** @type {never} */ (args[1])), (e) => {
      assert.equal(Object.getPrototypeOf(e), cls.prototype, String(e));
      assert.equal(/** @type {cb.CloudBackupError} */ (e).code, code);
      if (typeof args[1] !== 'function') assert.equal(/** @type {Error} */ (e).message, sync.message);
      return true;
    });
  }
  throwsExactly(() => cb.Vault.create('pw', { ...SMALL, zstd_level: 99 }, CHEAP), cb.InvalidArgumentError, 'invalid_argument');
  await assert.rejects(cb.Vault.createAsync('pw', { ...SMALL, zstd_level: 99 }, CHEAP), cb.InvalidArgumentError);
});

test('openWithKey, unlockKey and masterKey: the two halves of open', () => {
  const vault = cb.Vault.create('pw', SMALL, CHEAP);
  const config = vault.config();
  const key = cb.Vault.unlockKey(config, 'pw');
  assert.equal(key.length, 32);
  assert.deepEqual(key, vault.masterKey());
  assert.deepEqual(cb.Vault.openWithKey(config, key).info(), vault.info());
  throwsExactly(() => cb.Vault.unlockKey(config, 'nope'), cb.WrongPasswordError, 'wrong_password');
  const other = cb.Vault.create('pw', SMALL, CHEAP).masterKey();
  throwsExactly(() => cb.Vault.openWithKey(config, other), cb.CorruptError, 'corrupt');
  const err = throwsExactly(() => cb.Vault.openWithKey(config, key.subarray(1)), cb.InvalidArgumentError, 'invalid_argument');
  assert.equal(err.details.name, 'key');
  throwsExactly(() => cb.Vault.openWithKey(config, /** @type {never} */ ('00'.repeat(32))), cb.InvalidArgumentError, 'invalid_argument');
});
