// Vaults, keys, snapshots, backup / restore / verify sessions, and the
// golden vault made by the Rust side, restored byte-exactly.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import * as cb from '../node.js';
import { ROOT, fixtureJson, throwsExactly } from './helpers.mjs';
import { backUpOneFile, objects, openVault, restoreToMemory, verifyAll } from './vault.mjs';

const GOLDEN = fileURLToPath(new URL('tests/golden/v1/', ROOT));
const CHEAP = { memory_kib: 8, iterations: 1, parallelism: 1 };
const SMALL = { chunker: { min_size: 1024, avg_size: 4096, max_size: 16384 }, zstd_level: 3, bundle_size: 65536 };

test('the golden vault v1 (made by the Rust tests) restores byte-exactly and verifies', () => {
  const password = readFileSync(GOLDEN + 'PASSWORD');
  const v = openVault(GOLDEN + 'vault', new Uint8Array(password));
  assert.equal(v.snapshots.length, 1);
  const report = verifyAll(v);
  assert.equal(report.ok, true);
  assert.deepEqual(report.problems, []);
  assert.equal(report.bundles_checked, v.bundles.size);
  const { files, symlinks, report: restored } = restoreToMemory(v, v.snapshots[0]);
  assert.equal(restored.errors, null);
  assert.equal(files.size, 5);
  for (const [path, bytes] of files) {
    const expected = readFileSync(GOLDEN + 'expected' + path);
    assert.ok(Buffer.from(bytes).equals(expected), `${path} differs`);
  }
  assert.deepEqual([...symlinks], [['/data/latest', 'notes.txt']]);
  assert.equal(restored.files_restored, 6);
  const counters = Object.fromEntries(readFileSync(GOLDEN + 'COUNTERS', 'utf8').trim().split(/\s+/)
    .map((kv) => kv.split('=')).map(([k, n]) => [k, Number(n)]));
  // Counters added with snapshot format 2 read as 0 in a version 1 snapshot.
  assert.deepEqual(v.snapshots[0].data().counters, { ...counters, files_with_errors: 0, files_unchanged: 0 });
  console.log(`golden vault v1: ${files.size} files restored byte-exactly (wasm, node)`);
});

test('one file restores alone with an inclusion, and filterGlobs builds globs', () => {
  const v = openVault(GOLDEN + 'vault', readFileSync(GOLDEN + 'PASSWORD', 'utf8'));
  const globs = cb.filterGlobs([{ path: '/data/notes.txt', type: 'file' }]);
  assert.ok(globs.includes('/data/notes.txt'));
  const { files, report } = restoreToMemory(v, v.snapshots[0], { inclusions: globs });
  assert.deepEqual([...files.keys()], ['/data/notes.txt']);
  assert.ok(Buffer.from(/** @type {Uint8Array} */ (files.get('/data/notes.txt'))).equals(readFileSync(GOLDEN + 'expected/data/notes.txt')));
  assert.equal(report.files_restored, 1);
});

test('vault errors: wrong password, corrupt objects, foreign objects, bad ids', () => {
  const config = new Uint8Array(readFileSync(GOLDEN + 'vault/config'));
  throwsExactly(() => cb.Vault.open(config, 'not the password'), cb.WrongPasswordError, 'wrong_password');
  throwsExactly(() => cb.Vault.open(new Uint8Array([1, 2, 3]), 'x'), cb.CorruptError, 'corrupt');
  throwsExactly(() => cb.Vault.open(config, /** @type {never} */ (7)), cb.InvalidArgumentError, 'invalid_argument');
  const v = openVault(GOLDEN + 'vault', readFileSync(GOLDEN + 'PASSWORD', 'utf8'));
  // A bundle is not the snapshot its name claims.
  const [bundleId, bundleBytes] = [...v.bundles][0];
  // A bad id is invalid_value naming the argument, as in the C and Python bindings.
  const badId = throwsExactly(() => cb.Snapshot.open(v.vault, 'zz', bundleBytes), cb.InvalidValueError, 'invalid_value');
  assert.equal(badId.details.field, 'id');
  const badBundle = throwsExactly(() => new cb.Verifier(v.vault, v.index).feed('12'.repeat(31), bundleBytes),
    cb.InvalidValueError, 'invalid_value');
  assert.equal(badBundle.details.field, 'bundleId');
  throwsExactly(() => new cb.Index().loadDelta(v.vault, 'Z'.repeat(64), bundleBytes), cb.InvalidValueError, 'invalid_value');
  throwsExactly(() => cb.Snapshot.open(v.vault, /** @type {never} */ (42), bundleBytes), cb.InvalidArgumentError, 'invalid_argument');
  throwsExactly(() => cb.Snapshot.open(v.vault, bundleId, bundleBytes), cb.CorruptError, 'corrupt');
  // The golden index delta does not belong to another vault.
  const other = cb.Vault.create('pw', SMALL, CHEAP);
  const [[indexId, indexBytes]] = objects(GOLDEN + 'vault', 'index');
  throwsExactly(() => new cb.Index().loadDelta(other, indexId, indexBytes), cb.ForeignVaultError, 'foreign_vault');
  // A tampered bundle throws; a missing one is reported.
  const verifier = new cb.Verifier(v.vault, v.index);
  const tampered = bundleBytes.slice();
  tampered[100] ^= 1;
  const bad = throwsExactly(() => verifier.feed(bundleId, tampered), cb.CorruptError, 'corrupt');
  assert.equal(typeof bad.details.object, 'string');
  verifier.missing(bundleId);
  const report = verifier.report();
  assert.equal(report.ok, false);
  assert.ok(report.problems.length > 0 && report.problems.every((p) => typeof p.code === 'string'));
  const missing = restoreToMemory({ ...v, bundles: new Map() }, v.snapshots[0]);
  assert.ok(missing.report.errors);
  assert.equal(missing.report.errors.reason, 'unable_to_process_some_files');
});

test('finishFileChecked says when a file changed while it was read, and keeps what was read', () => {
  const vault = cb.Vault.create('pw', SMALL, CHEAP);
  const backup = new cb.BackupSession(vault, new cb.Index());
  const start = (/** @type {string} */ path) => {
    backup.start({ path, kind: 'file', mode: 0o644, mtime: -3, mtime_nanos: 750_000_000, size: 5 });
    backup.write(new TextEncoder().encode('hello'));
  };
  start('/same');
  assert.equal(backup.finishFileChecked(5n, -3, 750_000_000), null);
  start('/grew');
  assert.equal(backup.finishFileChecked(9, -3, 750_000_000),
    'changed while it was read (5 bytes read, 9 now); the snapshot has the bytes read');
  start('/touched');
  assert.equal(backup.finishFileChecked(5, new Date(1500)),
    'changed while it was read (modified at 1.500000000 (was -2.250000000)); the snapshot has the bytes read');
  start('/date-and-nanos');
  throwsExactly(() => backup.finishFileChecked(5, new Date(1500), 1), cb.InvalidArgumentError, 'invalid_argument');
  assert.equal(backup.finishFileChecked(5, -3, 750_000_000), null);
  throwsExactly(() => backup.finishFileChecked(5, -3, 0), cb.InvalidArgumentError, 'invalid_argument');
  backup.finish({ time: 1 });
  const snapObj = backup.takeSnapshot();
  assert.ok(snapObj);
  const entries = cb.Snapshot.open(vault, snapObj.id, snapObj.bytes).data().entries;
  assert.deepEqual(entries.map((e) => [e.path, e.size]), [['/same', 5], ['/grew', 5], ['/touched', 5], ['/date-and-nanos', 5]]);
});

test('a path twice, or below a symlink, is refused as it is added', () => {
  // A host joining paths to its target would write /l/passwd through the link.
  const backup = new cb.BackupSession(cb.Vault.create('pw', SMALL, CHEAP), new cb.Index());
  backup.addSymlink('/l', '/etc', 0);
  const below = throwsExactly(() => backup.startFile('/l/passwd', 0o644, 0), cb.InvalidValueError, 'invalid_value');
  assert.match(below.message, /\/l\/passwd is below \/l, which is a symlink, not a folder/);
  backup.addDir('/d', 0o755, 0);
  const twice = throwsExactly(() => backup.addDir('/d', 0o755, 0), cb.InvalidValueError, 'invalid_value');
  assert.match(twice.message, /\/d is given twice/);
  backup.startFile('/d/f', 0o644, 0);
  backup.finishFile();
});

test('writeZeros (number or bigint) backs a hole up as its zeros: same chunks, nothing new stored', () => {
  const vault = cb.Vault.create('pw', SMALL, CHEAP);
  const backup = new cb.BackupSession(vault, new cb.Index());
  const head = new Uint8Array(5000).map((_, i) => (i * 7919) % 251);
  const dense = new Uint8Array(5000 + 300_000 + 3);
  dense.set(head);
  dense.set(new TextEncoder().encode('end'), 5000 + 300_000);
  throwsExactly(() => backup.writeZeros(1), cb.InvalidArgumentError, 'invalid_argument');
  backup.startFile('/dense', 0o644, 1);
  backup.write(dense);
  backup.finishFile();
  backup.startFile('/sparse', 0o644, 1);
  backup.write(head);
  backup.writeZeros(100_000);
  backup.writeZeros(200_000n);
  backup.write(new TextEncoder().encode('end'));
  backup.finishFile();
  backup.startFile('/bad', 0o644, 1);
  throwsExactly(() => backup.writeZeros(-1), cb.InvalidArgumentError, 'invalid_argument');
  throwsExactly(() => backup.writeZeros(1.5), cb.InvalidArgumentError, 'invalid_argument');
  throwsExactly(() => backup.writeZeros(-1n), cb.InvalidArgumentError, 'invalid_argument');
  backup.finishFile();
  backup.finish({ time: 1 });
  const counters = backup.counters();
  assert.equal(counters.bytes_searched, 2 * dense.length);
  assert.equal(counters.files_backed_up, 1); // the sparse copy dedups with the dense one
  const snapObj = backup.takeSnapshot();
  assert.ok(snapObj);
  const entries = cb.Snapshot.open(vault, snapObj.id, snapObj.bytes).data().entries;
  const chunks = (/** @type {string} */ path) => {
    const entry = entries.find((e) => e.path === path);
    assert.ok(entry, path);
    return entry.chunks ?? [];
  };
  assert.ok(chunks('/dense').length > 3);
  assert.deepEqual(chunks('/sparse'), chunks('/dense'));
});

test('backup session: files dropped into a page round-trip through a new vault', () => {
  const vault = cb.Vault.create('correct horse', SMALL, CHEAP);
  assert.equal(vault.info().key_slots, 1);
  const index = new cb.Index();
  const backup = new cb.BackupSession(vault, index);
  const content = new Uint8Array(200_000);
  for (let i = 0; i < content.length; i++) content[i] = (i * 7919) % 251;
  const text = new TextEncoder().encode('hello from the browser\n');
  backup.addDir('/drop', 0o755, 1_700_000_000);
  backup.startFile('/drop/big.bin', 0o644, 1_700_000_001);
  backup.write(content.subarray(0, 100_000));
  backup.write(content.subarray(100_000));
  backup.finishFile();
  backup.startFile('/drop/hello.txt', 0o644, 1_700_000_002);
  backup.write(text);
  backup.finishFile();
  backup.addSymlink('/drop/latest', 'hello.txt', 1_700_000_003);
  /** @type {Map<string, Uint8Array>} */
  const bundles = new Map();
  for (const b of backup.takeBundles()) bundles.set(b.id, b.bytes);
  throwsExactly(() => backup.takeIndex(), cb.InvalidStateError, 'invalid_state');
  backup.finish({ time: 1_700_000_100, hostname: 'browser' });
  for (const b of backup.takeBundles()) bundles.set(b.id, b.bytes);
  const indexObj = backup.takeIndex();
  const snapObj = backup.takeSnapshot();
  assert.ok(indexObj && snapObj);
  assert.equal(backup.takeIndex(), null);
  const counters = backup.counters();
  assert.equal(counters.files_searched, 2);
  assert.equal(counters.bytes_searched, content.length + text.length);
  throwsExactly(() => backup.startFile('/x', 0o644, 0), cb.InvalidStateError, 'invalid_state');

  const reopened = cb.Vault.open(vault.config(), 'correct horse');
  const idx = new cb.Index();
  idx.loadDelta(reopened, indexObj.id, indexObj.bytes);
  assert.ok(idx.length > 0);
  const snapshot = cb.Snapshot.open(reopened, snapObj.id, snapObj.bytes);
  assert.equal(snapshot.data().hostname, 'browser');
  const v = { vault: reopened, index: idx, bundles, snapshots: [snapshot] };
  assert.equal(verifyAll(v).ok, true);
  const { files, symlinks, report } = restoreToMemory(v, snapshot);
  assert.deepEqual(files.get('/drop/big.bin'), content);
  assert.deepEqual(files.get('/drop/hello.txt'), text);
  assert.equal(symlinks.get('/drop/latest'), 'hello.txt');
  assert.equal(report.files_restored, 3);

  const session = new cb.RestoreSession(reopened, snapshot, idx);
  session.finish();
  throwsExactly(() => session.plan(), cb.InvalidStateError, 'invalid_state');
  throwsExactly(() => session.finish(), cb.InvalidStateError, 'invalid_state');
  throwsExactly(() => new cb.RestoreSession(reopened, snapshot, idx, /** @type {never} */ ({ bogus: 1 })),
    cb.InvalidJsonError, 'invalid_json');
});

test('every zstd level backs up and restores (the package builds zstd with its fast strategies only)', () => {
  // Text-like data that compresses well at any level. Chunks of at most 16 KiB,
  // where zstd picks its greedy strategy from level 4 and the lazy and
  // optimal ones above: scripts/build-web leaves those out, so these levels
  // compress with double-fast instead; each must still store compressed,
  // standard zstd that restores byte-exactly.
  const content = new TextEncoder().encode(
    Array.from({ length: 6000 }, (_, i) => `line ${i % 97} of a log, status ${i % 7}\n`).join(''));
  for (const level of [1, 3, 4, 5, 9, 15, 19, 22]) {
    const v = backUpOneFile(cb.Vault.create('pw', { ...SMALL, zstd_level: level }, CHEAP), '/log.txt', content);
    const stored = [...v.bundles.values()].reduce((n, b) => n + b.length, 0);
    assert.ok(stored < content.length / 4, `level ${level}: ${stored} bytes stored for ${content.length}`);
    assert.equal(verifyAll(v).ok, true, `level ${level}: verify`);
    const { files } = restoreToMemory(v, v.snapshots[0]);
    assert.deepEqual(files.get('/log.txt'), content, `level ${level}: restore`);
  }
});

test('passwords: add, change, remove key slots', () => {
  const vault = cb.Vault.create(new TextEncoder().encode('one'), null, CHEAP);
  vault.addPassword('two', CHEAP);
  assert.equal(vault.info().key_slots, 2);
  vault.changePassword('one', 'three', CHEAP);
  const config = vault.config();
  cb.Vault.open(config, 'three');
  cb.Vault.open(config, 'two');
  throwsExactly(() => cb.Vault.open(config, 'one'), cb.WrongPasswordError, 'wrong_password');
  vault.removePassword('two');
  throwsExactly(() => vault.removePassword('three'), cb.InvalidArgumentError, 'invalid_argument');
  throwsExactly(() => vault.changePassword('nope', 'x', CHEAP), cb.WrongPasswordError, 'wrong_password');
  throwsExactly(() => cb.Vault.create('x', /** @type {never} */ ({ zstd_level: 99 }), CHEAP), cb.InvalidJsonError, 'invalid_json');
});

test('encryptPasswordForAgent: the agent sample key gives 256 hex bytes', () => {
  const agent = /** @type {{ rsa_public_key: { modulus: string, exponent: string | number } }} */ (
    fixtureJson('tests/data/rackspace/samples-v2/cbu-getAgentDetails_response.json'));
  const key = agent.rsa_public_key;
  const hex = cb.encryptPasswordForAgent(key.modulus, String(key.exponent), 'vault passphrase');
  assert.match(hex, /^[0-9a-f]+$/);
  assert.equal(hex.length % 2, 0);
  assert.notEqual(cb.encryptPasswordForAgent(key.modulus, String(key.exponent), 'vault passphrase'), hex, 'random padding');
  throwsExactly(() => cb.encryptPasswordForAgent('xyz', '10001', 'p'), cb.InvalidArgumentError, 'invalid_argument');
  throwsExactly(() => cb.encryptPasswordForAgent(key.modulus, String(key.exponent), ''), cb.InvalidArgumentError, 'invalid_argument');
  throwsExactly(() => cb.encryptPasswordForAgent('ab', '03', 'p'), cb.InvalidValueError, 'invalid_value');
});

test('verifyPlan rejects bad fractions and seeds', () => {
  const index = new cb.Index();
  assert.deepEqual(cb.verifyPlan(index, 1, 0), []);
  throwsExactly(() => cb.verifyPlan(index, 1, -1), cb.InvalidArgumentError, 'invalid_argument');
  throwsExactly(() => cb.verifyPlan(index, 2, 0), cb.InvalidArgumentError, 'invalid_argument');
});

test('paths are bytes: quoted strings or Uint8Arrays in, quoted strings out; per-file errors and full metadata', () => {
  const vault = cb.Vault.create('pw', SMALL, CHEAP);
  const backup = new cb.BackupSession(vault, new cb.Index());
  const latin1 = new Uint8Array([0x2f, 0x63, 0x61, 0x66, 0xe9]); // "/caf\xe9"
  assert.equal(cb.quotePath(latin1), '"/caf\\xe9"');
  assert.deepEqual(cb.pathBytes('"/caf\\xe9"'), latin1);
  assert.equal(cb.quotePath(new TextEncoder().encode('/plain')), '/plain');
  throwsExactly(() => cb.pathBytes('"/open'), cb.InvalidValueError, 'invalid_value');
  backup.add({ path: '/d', kind: 'dir', mode: 0o755, mtime: 1, mtime_nanos: 5, uid: 7, gid: 8 });
  backup.startFile(latin1, 0o644, 2);
  backup.write(new TextEncoder().encode('latin-1 name'));
  backup.finishFile();
  backup.start({ path: '/d/meta', mode: 0o600, mtime: 3, mtime_nanos: 999, xattrs: [{ name: 'user.k', value: 'AAE=' }] });
  backup.write(new Uint8Array([1, 2, 3]));
  backup.abandonFile('read failed half-way');
  backup.fileError('/d/locked', 'Permission denied');
  backup.add({ path: '/d/pipe', kind: 'fifo', mode: 0o600, mtime: 4 });
  // @ts-expect-error: a number is not a path
  throwsExactly(() => backup.startFile(42, 0o644, 0), cb.InvalidArgumentError, 'invalid_argument');
  // @ts-expect-error: sockets are not backed up
  throwsExactly(() => backup.add({ path: '/x', kind: 'socket' }), cb.InvalidJsonError, 'invalid_json');
  throwsExactly(() => backup.add({ path: '/x', mtime_nanos: 1e9, kind: 'dir' }), cb.InvalidArgumentError, 'invalid_argument');
  const bundles = new Map();
  backup.finish({ time: 10, paths: ['/d', latin1] });
  for (const b of backup.takeBundles()) bundles.set(b.id, b.bytes);
  const indexObj = backup.takeIndex();
  const snapObj = backup.takeSnapshot();
  assert.ok(indexObj && snapObj);
  assert.equal(backup.counters().files_with_errors, 2);
  const idx = new cb.Index();
  idx.loadDelta(vault, indexObj.id, indexObj.bytes);
  const snapshot = cb.Snapshot.open(vault, snapObj.id, snapObj.bytes);
  const data = snapshot.data();
  assert.deepEqual(data.paths, ['/d', '"/caf\\xe9"']);
  assert.deepEqual(data.errors, [
    { path: '/d/meta', error: 'read failed half-way' },
    { path: '/d/locked', error: 'Permission denied' },
  ]);
  assert.deepEqual(data.entries.map((e) => [e.path, e.kind]), [['/d', 'dir'], ['"/caf\\xe9"', 'file'], ['/d/pipe', 'fifo']]);
  assert.equal(data.entries[0].mtime_nanos, 5);
  const { files, report } = restoreToMemory({ vault, index: idx, bundles, snapshots: [snapshot] }, snapshot);
  assert.deepEqual(files.get('"/caf\\xe9"'), new TextEncoder().encode('latin-1 name'));
  assert.equal(report.errors, null);
});

test('a blob used twice comes once with both places, zeros stay holes, host failures are reported', () => {
  const password = readFileSync(GOLDEN + 'PASSWORD');
  const v = openVault(GOLDEN + 'vault', new Uint8Array(password));
  const session = new cb.RestoreSession(v.vault, v.snapshots[0], v.index);
  /** @type {import('../node.js').Write[]} */
  const writes = [];
  for (const fetch of session.plan()) {
    const bundle = /** @type {Uint8Array} */ (v.bundles.get(fetch.bundle));
    for (const r of fetch.ranges) writes.push(...session.feed(fetch.bundle, r.offset, bundle.subarray(r.offset, r.offset + r.length)));
  }
  const places = writes.flatMap((w) => w.places.map((p) => p.path));
  assert.ok(!places.includes('/data/zeros'), 'a blob of zeros is not written');
  const shared = writes.find((w) => w.places.some((p) => p.path === '/data/copy-of-notes.txt'));
  assert.deepEqual(shared?.places.map((p) => p.path).sort(), ['/data/copy-of-notes.txt', '/data/notes.txt']);
  assert.deepEqual(session.takeCompleted().sort(), ['/data/copy-of-notes.txt', '/data/empty', '/data/notes.txt', '/data/random.bin', '/data/zeros']);
  assert.deepEqual(session.takeCompleted(), []);
  session.failPath('/data/random.bin', 'No space left on device');
  throwsExactly(() => session.failPath('/nowhere', 'x'), cb.InvalidArgumentError, 'invalid_argument');
  const report = session.finish();
  assert.equal(report.files_done, 0);
  const failed = report.errors?.list?.[0];
  assert.equal(failed?.path, '/data/random.bin');
  assert.equal(failed?.type, 'write_failed');
  assert.equal(failed?.exception?.code, 7006);
  assert.ok(!session.apply().some((c) => c.path === '/data/random.bin'));
});
