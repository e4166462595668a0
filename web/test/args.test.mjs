// Arguments of every export that takes bytes, integers, times, booleans or
// strings: a wrong type throws InvalidArgumentError naming the argument
// (wasm-bindgen alone coerced them silently: an ArrayBuffer stored no
// bytes, "644" became 0o1204, milliseconds a year past 50000), and every
// byte source (Bytes: Uint8Array, ArrayBuffer, any view) stores exactly the
// bytes it views.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import vm from 'node:vm';
import * as cb from '../node.js';
import { throwsExactly } from './helpers.mjs';

const CHEAP = { memory_kib: 8, iterations: 1, parallelism: 1 };
const SMALL = { chunker: { min_size: 1024, avg_size: 4096, max_size: 16384 }, zstd_level: 3, bundle_size: 65536 };
const NOW = 1_700_000_000_000_000_000n;
const ID = '0'.repeat(64);

/**
 * A backup of `files` (path -> bytes, written as given) into a new vault,
 * then a restore into memory.
 * @param {Array<[string, (s: cb.BackupSession) => void]>} files
 */
function roundTrip(files) {
  const vault = cb.Vault.create('pw', SMALL, CHEAP);
  const backup = new cb.BackupSession(vault, new cb.Index());
  for (const [path, write] of files) {
    backup.startFile(path, 0o644, 1_700_000_000);
    write(backup);
    backup.finishFile();
  }
  backup.finish({ time: 1_700_000_000 });
  /** @type {Map<string, Uint8Array>} */
  const bundles = new Map();
  for (const b of backup.takeBundles()) bundles.set(b.id, b.bytes);
  const indexObj = backup.takeIndex();
  const snapObj = backup.takeSnapshot();
  assert.ok(indexObj && snapObj);
  const index = new cb.Index();
  index.loadDelta(vault, indexObj.id, indexObj.bytes);
  const snapshot = cb.Snapshot.open(vault, snapObj.id, snapObj.bytes);
  return { vault, index, snapshot, bundles, indexObj, snapObj };
}

/**
 * Restores `snapshot`, feeding each range through `view` (the bytes as
 * some other kind of Bytes).
 * @param {ReturnType<typeof roundTrip>} r
 * @param {(bytes: Uint8Array) => import('../node.js').Bytes} view
 */
function restore(r, view) {
  const session = new cb.RestoreSession(r.vault, r.snapshot, r.index);
  /** @type {Map<string, Uint8Array>} */
  const files = new Map();
  for (const c of session.creates()) if (c.kind === 'file') files.set(c.path, new Uint8Array(c.size));
  for (const fetch of session.plan()) {
    const bundle = r.bundles.get(fetch.bundle);
    assert.ok(bundle);
    const ranges = fetch.ranges.length ? fetch.ranges : [{ offset: 0, length: bundle.length }];
    for (const range of ranges) {
      const bytes = bundle.slice(range.offset, range.offset + range.length);
      for (const w of session.feed(fetch.bundle, range.offset, view(bytes))) {
        for (const p of w.places) files.get(p.path)?.set(w.data, p.offset);
      }
    }
  }
  assert.equal(session.finish().errors, null);
  return files;
}

/** @param {number} n @param {number} seed */
function pattern(n, seed) {
  return Uint8Array.from({ length: n }, (_, i) => (i * 31 + seed) & 0xff);
}

/** `bytes` copied into a bigger buffer at an offset: a view that does not start at 0. */
function offsetView(/** @type {Uint8Array} */ bytes) {
  const big = new Uint8Array(bytes.length + 13);
  big.set(bytes, 7);
  return big.subarray(7, 7 + bytes.length);
}

test('every kind of Bytes stores exactly the bytes it views (backup, then restore)', () => {
  const a = pattern(5000, 1);
  const b = pattern(3000, 2);
  const c = pattern(4096, 3);
  const d = pattern(2222, 4);
  const e = pattern(777, 5);
  const other = vm.runInNewContext('new Uint8Array([1, 2, 3, 4, 5])');
  const otherBuffer = vm.runInNewContext('new Uint8Array([9, 8, 7]).buffer');
  const r = roundTrip([
    ['/arraybuffer', (s) => s.write(a.slice().buffer)],
    ['/dataview', (s) => { const v = offsetView(b); s.write(new DataView(v.buffer, v.byteOffset, v.byteLength)); }],
    ['/subarray', (s) => s.write(offsetView(c))],
    ['/int16', (s) => s.write(new Int16Array(d.slice().buffer, 0, d.length / 2))],
    ['/buffer', (s) => s.write(Buffer.from(e))],
    ['/other-realm', (s) => { s.write(other); s.write(otherBuffer); }],
  ]);
  const expected = new Map([
    ['/arraybuffer', a], ['/dataview', b], ['/subarray', c], ['/int16', d], ['/buffer', e],
    ['/other-realm', Uint8Array.from([1, 2, 3, 4, 5, 9, 8, 7])],
  ]);
  // Fed back as an ArrayBuffer, then as a DataView at an offset, then as a Uint8Array subarray.
  for (const view of [
    (/** @type {Uint8Array} */ x) => x.slice().buffer,
    (/** @type {Uint8Array} */ x) => { const v = offsetView(x); return new DataView(v.buffer, v.byteOffset, v.byteLength); },
    offsetView,
  ]) {
    const files = restore(r, view);
    assert.equal(files.size, expected.size);
    for (const [path, bytes] of expected) assert.deepEqual(files.get(path), bytes, path);
  }
  // The stored objects open from any kind of Bytes too.
  const config = r.vault.config();
  const reopened = cb.Vault.open(config.slice().buffer, new TextEncoder().encode('pw').buffer);
  assert.equal(reopened.info().vault_id, r.vault.info().vault_id);
  const idx = new cb.Index();
  idx.loadDelta(r.vault, r.indexObj.id, new DataView(r.indexObj.bytes.slice().buffer));
  assert.equal(idx.length, r.index.length);
  assert.equal(cb.Snapshot.open(r.vault, r.snapObj.id, offsetView(r.snapObj.bytes)).data().entries.length, 6);
  assert.equal(cb.quotePath(new TextEncoder().encode('/a b').buffer), '/a b');
  assert.deepEqual(cb.parseModel('v2.Patch', new TextEncoder().encode('[]').buffer), []);
});

test('times: whole seconds or a Date (to the millisecond); modes: permission bits', () => {
  const vault = cb.Vault.create('pw', SMALL, CHEAP);
  const backup = new cb.BackupSession(vault, new cb.Index());
  backup.startFile('/seconds', 0o4755, 1_700_000_000);
  backup.finishFile();
  backup.startFile('/date', 0o600, new Date(1_700_000_000_123));
  backup.finishFile();
  backup.startFile('/before-1970', 0, new Date(-1500));
  backup.finishFile();
  backup.addDir('/dir', 0o755, new Date(86_400_000));
  backup.addSymlink('/link', '/seconds', new Date(2_000));
  backup.finish({ time: new Date(1_700_000_000_500) });
  const snap = backup.takeSnapshot();
  assert.ok(snap);
  const data = cb.Snapshot.open(vault, snap.id, snap.bytes).data();
  assert.equal(data.time, 1_700_000_000);
  assert.equal(data.time_nanos, 500_000_000);
  const by = new Map(data.entries.map((e) => [e.path, e]));
  assert.deepEqual([by.get('/seconds')?.mode, by.get('/seconds')?.mtime, by.get('/seconds')?.mtime_nanos], [0o4755, 1_700_000_000, undefined]);
  assert.deepEqual([by.get('/date')?.mtime, by.get('/date')?.mtime_nanos], [1_700_000_000, 123_000_000]);
  assert.deepEqual([by.get('/before-1970')?.mtime, by.get('/before-1970')?.mtime_nanos], [-2, 500_000_000]);
  assert.deepEqual([by.get('/dir')?.mode, by.get('/dir')?.mtime], [0o755, 86_400]);
  assert.equal(by.get('/link')?.mtime, 2);
});

test('a millisecond time, a fraction and stat.mode say what to pass instead', () => {
  const backup = new cb.BackupSession(cb.Vault.create('pw', SMALL, CHEAP), new cb.Index());
  const ms = throwsExactly(() => backup.startFile('/f', 0o644, 1_700_000_000_123), cb.InvalidArgumentError, 'invalid_argument');
  assert.match(ms.message, /`mtime`.*milliseconds.*Date/);
  const frac = throwsExactly(() => backup.startFile('/f', 0o644, 1_700_000_000.5), cb.InvalidArgumentError, 'invalid_argument');
  assert.match(frac.message, /`mtime`.*whole Unix seconds.*Date/);
  const stat = throwsExactly(() => backup.startFile('/f', 0o100644, 1), cb.InvalidArgumentError, 'invalid_argument');
  assert.match(stat.message, /`mode`.*file-type bits.*0o644/);
  const text = throwsExactly(() => backup.startFile('/f', /** @type {never} */ ('644'), 1), cb.InvalidArgumentError, 'invalid_argument');
  assert.match(text.message, /`mode`.*0o644.*got a string \("644"\)/);
  const meta = throwsExactly(() => backup.start({ path: '/f', mode: 0o644, mtime: 1_700_000_000_000 }), cb.InvalidArgumentError, 'invalid_argument');
  assert.equal(meta.details.name, 'meta.mtime');
  // Nothing was started by the refused calls: the session goes on.
  backup.startFile('/f', 0o644, 1);
  backup.write(new Uint8Array([1]));
  backup.finishFile();
});

// A fresh set of objects for the table (sessions in their right state).
function fixtures() {
  const r = roundTrip([['/f', (s) => s.write(pattern(100, 9))]]);
  const backup = new cb.BackupSession(r.vault, new cb.Index());
  backup.startFile('/open', 0o644, 1);
  const idle = new cb.BackupSession(r.vault, new cb.Index());
  const restoreSession = new cb.RestoreSession(r.vault, r.snapshot, r.index);
  const verifier = new cb.Verifier(r.vault, r.index);
  const state = new cb.VaultState(r.vault);
  const lock = new cb.Lock('backup', false, 'h', 1, NOW);
  const sealed = lock.seal(r.vault);
  const table = new cb.LockTable(NOW, 'h');
  const filter = new cb.BackupFilter({ exclude_if_present: ['.nobackup'] });
  return { ...r, backup, idle, restoreSession, verifier, state, lock, sealed, table, filter };
}

/** Wrong values of each kind of argument, and what each is. */
const WRONG = {
  bytes: ['hello', 12, null, undefined, [1, 2, 3], {}, true, new Blob(['x'])],
  text: [12, null, undefined, [1, 2], {}, true],
  path: [12, null, undefined, [47, 97], {}],
  string: [12, null, undefined, new Uint8Array(1), {}, true, 1n],
  int: ['5', 1.5, -1, NaN, Infinity, 2 ** 53, null, undefined, 5n, {}],
  mode: ['644', 1.5, -1, 0o100644, 0o10000, null],
  time: [1_700_000_000_000, -1_700_000_000_000, '1700000000', 1.5, NaN, null, undefined, new Date(NaN), 1700000000n],
  bigint: [5, '5', null, undefined, 1.5],
  bool: ['true', 1, 0, null, undefined],
  number: ['0.5', null, undefined, NaN, Infinity],
};

/**
 * Each export's argument: its name as the error gives it, its kind, and a
 * call with everything else right.
 * @typedef {[string, keyof typeof WRONG, (f: ReturnType<typeof fixtures>, v: never) => unknown]} Case
 * @type {Case[]}
 */
const CASES = [
  // The model, operations, lifecycle, patches.
  ['typeName', 'string', (_, v) => cb.parseModel(v, '[]')],
  ['json', 'text', (_, v) => cb.parseModel('v2.Patch', v)],
  ['operation', 'string', (_, v) => cb.buildRequest(v, {}, { token: 't', tenantId: '1' })],
  ['auth.token', 'string', (_, v) => cb.buildRequest('v2.agents.list_agents', {}, { token: v, tenantId: '1' })],
  ['auth.tenantId', 'string', (_, v) => cb.buildRequest('v2.agents.list_agents', {}, { token: 't', tenantId: v })],
  ['operation', 'string', (_, v) => cb.parseResponse(v, {}, { status: 200 })],
  ['response.status', 'int', (_, v) => cb.parseResponse('v2.agents.list_agents', {}, { status: v })],
  ['response.body', 'text', (_, v) => cb.parseResponse('v2.agents.list_agents', {}, { status: 200, body: v === undefined || v === null ? /** @type {never} */ (12) : v })],
  ['resource', 'string', (_, v) => cb.transition(v, 'queued', 'in_progress', 'agent')],
  ['from', 'string', (_, v) => cb.transition('restore', v, 'in_progress', 'agent')],
  ['to', 'string', (_, v) => cb.transition('restore', 'queued', v, 'agent')],
  ['actor', 'string', (_, v) => cb.transition('restore', 'queued', 'in_progress', v)],
  ['resource', 'string', (_, v) => cb.allowedActions(v, 'queued')],
  ['state', 'string', (_, v) => cb.allowedActions('restore', v)],
  ['resource', 'string', (_, v) => cb.allowedTargets(v, 'queued', 'agent')],
  ['state', 'string', (_, v) => cb.allowedTargets('restore', v, 'agent')],
  ['actor', 'string', (_, v) => cb.allowedTargets('restore', 'queued', v)],
  ['endpoint', 'string', (_, v) => cb.validatePatch(v, {}, [], 'agent')],
  ['actor', 'string', (_, v) => cb.validatePatch('restore', {}, [], v)],
  ['options.vaultEmpty', 'bool', (_, v) => cb.validatePatch('restore', {}, [], 'agent', { vaultEmpty: v === undefined || v === null ? /** @type {never} */ (1) : v })],
  // Vaults, indexes, snapshots.
  ['password', 'text', (_, v) => cb.Vault.create(v, SMALL, CHEAP)],
  ['config', 'bytes', (f, v) => cb.Vault.open(v, 'pw')],
  ['password', 'text', (f, v) => cb.Vault.open(f.vault.config(), v)],
  ['password', 'text', (f, v) => f.vault.addPassword(v, CHEAP)],
  ['password', 'text', (f, v) => f.vault.removePassword(v)],
  ['oldPassword', 'text', (f, v) => f.vault.changePassword(v, 'new', CHEAP)],
  ['newPassword', 'text', (f, v) => f.vault.changePassword('pw', v, CHEAP)],
  ['id', 'string', (f, v) => new cb.Index().loadDelta(f.vault, v, f.indexObj.bytes)],
  ['bytes', 'bytes', (f, v) => new cb.Index().loadDelta(f.vault, f.indexObj.id, v)],
  ['id', 'string', (f, v) => cb.Snapshot.open(f.vault, v, f.snapObj.bytes)],
  ['bytes', 'bytes', (f, v) => cb.Snapshot.open(f.vault, f.snapObj.id, v)],
  ['modulusHex', 'string', (_, v) => cb.encryptPasswordForAgent(v, '10001', 'pw')],
  ['exponentHex', 'string', (_, v) => cb.encryptPasswordForAgent('ab', v, 'pw')],
  ['passphrase', 'string', (_, v) => cb.encryptPasswordForAgent('ab', '10001', v)],
  ['fraction', 'number', (f, v) => cb.verifyPlan(f.index, v, 0)],
  ['seed', 'int', (f, v) => cb.verifyPlan(f.index, 1, v)],
  // Restore, verify, backup.
  ['bundleId', 'string', (f, v) => f.restoreSession.feed(v, 0, new Uint8Array(1))],
  ['offset', 'int', (f, v) => f.restoreSession.feed(ID, v, new Uint8Array(1))],
  ['bytes', 'bytes', (f, v) => f.restoreSession.feed(ID, 0, v)],
  ['path', 'path', (f, v) => f.restoreSession.failPath(v, 'EIO')],
  ['error', 'string', (f, v) => f.restoreSession.failPath('/f', v)],
  ['bundleId', 'string', (f, v) => f.restoreSession.missing(v)],
  ['fraction', 'number', (f, v) => f.verifier.plan(f.index, v, 0)],
  ['seed', 'int', (f, v) => f.verifier.plan(f.index, 1, v)],
  ['bundleId', 'string', (f, v) => f.verifier.feed(v, new Uint8Array(1))],
  ['bytes', 'bytes', (f, v) => f.verifier.feed(ID, v)],
  ['bundleId', 'string', (f, v) => f.verifier.missing(v)],
  ['path', 'path', (f, v) => f.idle.startFile(v, 0o644, 1)],
  ['mode', 'mode', (f, v) => f.idle.startFile('/f', v, 1)],
  ['mtime', 'time', (f, v) => f.idle.startFile('/f', 0o644, v)],
  ['path', 'path', (f, v) => f.idle.fileError(v, 'EIO')],
  ['error', 'string', (f, v) => f.idle.fileError('/f', v)],
  ['error', 'string', (f, v) => f.backup.abandonFile(v)],
  ['bytes', 'bytes', (f, v) => f.backup.write(v)],
  ['n', 'int', (f, v) => f.backup.writeZeros(typeof v === 'bigint' ? -1n : v)],
  ['size', 'int', (f, v) => f.backup.finishFileChecked(typeof v === 'bigint' ? -1n : v, 1)],
  ['mtime', 'time', (f, v) => f.backup.finishFileChecked(0, v)],
  ['mtimeNanos', 'int', (f, v) => f.backup.finishFileChecked(0, 1, v === undefined || v === null ? 1e9 : v)],
  ['path', 'path', (f, v) => f.idle.addDir(v, 0o755, 1)],
  ['mode', 'mode', (f, v) => f.idle.addDir('/d', v, 1)],
  ['mtime', 'time', (f, v) => f.idle.addDir('/d', 0o755, v)],
  ['path', 'path', (f, v) => f.idle.addSymlink(v, '/t', 1)],
  ['target', 'path', (f, v) => f.idle.addSymlink('/l', v, 1)],
  ['mtime', 'time', (f, v) => f.idle.addSymlink('/l', '/t', v)],
  ['info.time', 'time', (f, v) => f.idle.finish({ time: v })],
  ['info.timeNanos', 'int', (f, v) => f.idle.finish({ time: 1, timeNanos: v === undefined || v === null ? 1e9 : v })],
  ['info.hostname', 'string', (f, v) => f.idle.finish({ time: 1, hostname: v === undefined || v === null ? /** @type {never} */ (12) : v })],
  ['info.paths[1]', 'path', (f, v) => f.idle.finish({ time: 1, paths: ['/a', v] })],
  // What a host read of a vault; names and paths.
  ['name', 'string', (f, v) => f.state.addListed(v, 1, NOW)],
  ['size', 'int', (f, v) => f.state.addListed('bundles/' + ID, v, NOW)],
  ['mtimeNs', 'bigint', (f, v) => f.state.addListed('bundles/' + ID, 1, v)],
  ['hostname', 'string', (f, v) => f.state.parentFor(v === undefined || v === null ? /** @type {never} */ (12) : v, ['/a'])],
  ['paths[0]', 'path', (f, v) => f.state.parentFor('h', [v])],
  ['name', 'string', (f, v) => f.state.addObject(v, new Uint8Array(1))],
  ['bytes', 'bytes', (f, v) => f.state.addObject('snapshots/' + f.snapObj.id, v)],
  ['name', 'string', (f, v) => f.state.addUnreadable(v, 'gone')],
  ['reason', 'string', (f, v) => f.state.addUnreadable('snapshots/' + ID, v)],
  ['which', 'string', (f, v) => f.state.resolve(v)],
  ['id', 'string', (f, v) => f.state.snapshot(v)],
  ['nowNs', 'bigint', (f, v) => f.state.gcPlan(v, 0n)],
  ['graceNs', 'bigint', (f, v) => f.state.gcPlan(NOW, v)],
  ['type', 'string', (_, v) => cb.objectName(v, ID)],
  ['id', 'string', (_, v) => cb.objectName('bundle', v)],
  ['type', 'string', (_, v) => cb.objectDir(v)],
  ['name', 'string', (_, v) => cb.parseName(v)],
  ['finalName', 'path', (_, v) => cb.partialName(v, 1)],
  ['tag', 'int', (_, v) => cb.partialName('f', v)],
  ['name', 'path', (_, v) => cb.partialTag(v)],
  ['name', 'path', (_, v) => cb.partialOwner(v, 1)],
  ['ownPid', 'int', (_, v) => cb.partialOwner('f', v)],
  ['path', 'path', (_, v) => cb.relativeSnapshotPath(v)],
  ['root', 'path', (_, v) => cb.splitFileRoot(v)],
  ['path', 'string', (_, v) => cb.pathBytes(v)],
  ['bytes', 'bytes', (_, v) => cb.quotePath(v)],
  // Locks.
  ['name', 'string', (_, v) => cb.retryLockSeconds(v, '1')],
  ['operation', 'string', (_, v) => new cb.Lock(v, false, 'h', 1, NOW)],
  ['exclusive', 'bool', (_, v) => new cb.Lock('backup', v, 'h', 1, NOW)],
  ['hostname', 'string', (_, v) => new cb.Lock('backup', false, v, 1, NOW)],
  ['pid', 'int', (_, v) => new cb.Lock('backup', false, 'h', v, NOW)],
  ['nowNs', 'bigint', (_, v) => new cb.Lock('backup', false, 'h', 1, v)],
  ['id', 'string', (f, v) => cb.Lock.open(f.vault, v, f.sealed.bytes)],
  ['bytes', 'bytes', (f, v) => cb.Lock.open(f.vault, f.sealed.id, v)],
  ['nowNs', 'bigint', (f, v) => f.lock.refreshed(v)],
  ['nowNs', 'bigint', (f, v) => f.lock.needsRefresh(v)],
  ['id', 'string', (f, v) => f.lock.checkFresh(v, NOW)],
  ['nowNs', 'bigint', (f, v) => f.lock.checkFresh(f.sealed.id, v)],
  ['nowNs', 'bigint', (_, v) => new cb.LockTable(v, 'h')],
  ['hostname', 'string', (_, v) => new cb.LockTable(NOW, v)],
  ['id', 'string', (f, v) => f.table.add(f.vault, v, f.sealed.bytes)],
  ['bytes', 'bytes', (f, v) => f.table.add(f.vault, f.sealed.id, v)],
  ['pid', 'int', (f, v) => f.table.setPidAlive(v, true)],
  ['alive', 'bool', (f, v) => f.table.setPidAlive(1, v)],
  ['myId', 'string', (f, v) => f.table.decide(v, f.lock)],
  ['all', 'bool', (f, v) => f.table.removable(v)],
  // Agents' keys and snapshot ids (a negative snapshotId is the core's
  // invalid_value, as in every binding: 1.5 stands in for -1).
  ['bits', 'int', (_, v) => cb.AgentKey.generate(v === undefined || v === null ? 1.5 : v)],
  ['der', 'bytes', (_, v) => cb.AgentKey.fromDer(v)],
  ['vaultSnapshotId', 'string', (_, v) => cb.snapshotIdFor(v)],
  ['snapshotId', 'int', (_, v) => cb.vaultSnapshotPrefix(v === -1 ? 1.5 : v)],
  // Backup selection.
  ['path', 'path', (f, v) => f.filter.visit(v, false, 1, 1)],
  ['isDir', 'bool', (f, v) => f.filter.visit('/a', v, 1, 1)],
  ['device', 'int', (f, v) => f.filter.visit('/a', false, v, 1)],
  ['rootDevice', 'int', (f, v) => f.filter.visit('/a', false, 1, v)],
  ['index', 'int', (f, v) => f.filter.tagConfirms(v, new Uint8Array(0))],
  ['head', 'bytes', (f, v) => f.filter.tagConfirms(0, v)],
  ['name', 'text', (f, v) => f.filter.excludedByTags([], v)],
  ['text', 'string', (_, v) => cb.readPatternFile(v)],
];

test('every wrong type of every argument throws InvalidArgumentError naming it', () => {
  const f = fixtures();
  let checked = 0;
  for (const [name, kind, call] of CASES) {
    for (const value of WRONG[kind]) {
      const label = `${name} (${kind}) = ${typeof value === 'bigint' ? `${value}n` : String(value)}`;
      let thrown;
      try {
        call(f, /** @type {never} */ (value));
      } catch (e) {
        thrown = e;
      }
      assert.ok(thrown instanceof cb.InvalidArgumentError, `${label}: ${thrown === undefined ? 'nothing thrown' : String(thrown)}`);
      assert.equal(Object.getPrototypeOf(thrown), cb.InvalidArgumentError.prototype, label);
      assert.equal(thrown.code, 'invalid_argument', label);
      assert.equal(thrown.details.name, name, `${label}: ${thrown.message}`);
      assert.ok(thrown.message.includes(`\`${name}\``), `${label}: ${thrown.message}`);
      checked++;
    }
  }
  // The sessions are still usable after all that.
  f.backup.write(new Uint8Array([1, 2, 3]));
  f.backup.finishFile();
  console.log(`argument checks: ${checked} wrong values over ${CASES.length} arguments`);
});

test('what a wrong argument got is in the message', () => {
  const f = fixtures();
  /** @type {Array<[() => unknown, RegExp]>} */
  const cases = [
    [() => f.backup.write(/** @type {never} */ ('hello')), /`bytes`: must be a Uint8Array, an ArrayBuffer or another ArrayBufferView, got a string \("hello"\)/],
    [() => f.backup.write(/** @type {never} */ (new Blob(['x']))), /got a Blob/],
    [() => f.backup.write(/** @type {never} */ ([1])), /got an array/],
    [() => f.restoreSession.feed(ID, /** @type {never} */ ('0'), new Uint8Array(1)), /`offset`: must be a number, got a string \("0"\)/],
    [() => f.restoreSession.feed(ID, 2 ** 53, new Uint8Array(1)), /`offset`: must be a whole number \(a safe integer\), got 9007199254740992/],
    [() => f.restoreSession.feed(ID, -1, new Uint8Array(1)), /`offset`: must be a whole number from 0 to 9007199254740991, got -1/],
    [() => cb.partialName('f', 2 ** 32), /`tag`: must be a whole number from 0 to 4294967295, got 4294967296/],
    [() => f.state.gcPlan(/** @type {never} */ (5), 0n), /`nowNs`: must be a bigint .*, got a number \(5\)/],
    [() => f.idle.startFile('/f', 0o644, new Date(NaN)), /`mtime`: must be a valid Date/],
  ];
  for (const [call, message] of cases) {
    const e = throwsExactly(call, cb.InvalidArgumentError, 'invalid_argument');
    assert.match(e.message, message);
  }
});
