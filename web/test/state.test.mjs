// VaultState (latest, unreadable snapshots, gc plan, verify problems),
// locks and the lock table, the layout names and snapshot path rules, and
// the restore's apply list: the core's rules through the package, with
// typed errors for bad ids and wrong JS types.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as cb from '../node.js';
import { makeError } from '../errors.js';
import { throwsExactly } from './helpers.mjs';

const CHEAP = { memory_kib: 8, iterations: 1, parallelism: 1 };
const SMALL = { chunker: { min_size: 1024, avg_size: 4096, max_size: 16384 }, zstd_level: 3, bundle_size: 65536 };
const SECOND = 1_000_000_000n;
/** 2027-01-15, in nanoseconds. */
const T = 1_800_000_000n * SECOND;

/**
 * A vault with one backup per `[time, timeNanos]`, as a host stores it.
 * @param {[number, number][]} times
 */
function stored(times) {
  const vault = cb.Vault.create('pw', SMALL, CHEAP);
  /** @type {Map<string, Uint8Array>} */
  const objects = new Map();
  /** @type {string[]} */
  const snapshots = [];
  /** @type {string[]} */
  const indexes = [];
  times.forEach(([time, timeNanos], n) => {
    const index = new cb.Index();
    for (const id of indexes) index.loadDelta(vault, id, /** @type {Uint8Array} */ (objects.get(cb.objectName('index', id))));
    const backup = new cb.BackupSession(vault, index);
    backup.startFile(`/f${n}`, 0o644, 0);
    backup.write(new TextEncoder().encode(`content ${n}`));
    backup.finishFile();
    backup.finish({ time, timeNanos });
    for (const b of backup.takeBundles()) objects.set(cb.objectName('bundle', b.id), b.bytes);
    const i = /** @type {cb.StoredObject} */ (backup.takeIndex());
    const s = /** @type {cb.StoredObject} */ (backup.takeSnapshot());
    objects.set(cb.objectName('index', i.id), i.bytes);
    objects.set(cb.objectName('snapshot', s.id), s.bytes);
    indexes.push(i.id);
    snapshots.push(s.id);
  });
  return { vault, objects, snapshots, indexes };
}

/**
 * What a host does: list everything, fetch what the state wants.
 * @param {ReturnType<typeof stored>} s @param {bigint} [mtimeNs]
 */
function stateOf(s, mtimeNs = 0n) {
  const st = new cb.VaultState(s.vault);
  for (const [name, bytes] of s.objects) st.addListed(name, bytes.length, mtimeNs);
  /** @type {string[]} */
  const refused = [];
  for (const name of st.wanted()) {
    const bytes = s.objects.get(name);
    if (!bytes) {
      st.addUnreadable(name, 'not found');
      continue;
    }
    try {
      st.addObject(name, bytes);
    } catch (e) {
      assert.ok(e instanceof cb.CloudBackupError, String(e));
      refused.push(e.code);
    }
  }
  return { st, refused };
}

test('LockedError: a typed error with details {lock, holder, stale}', () => {
  const made = makeError('locked', 'vault is locked', { lock: 'ab'.repeat(32), holder: 'gc', stale: false });
  assert.ok(made instanceof cb.LockedError && made instanceof cb.CloudBackupError && made instanceof Error);
  assert.equal(Object.getPrototypeOf(made), cb.LockedError.prototype);
  assert.equal(made.name, 'LockedError');
  assert.equal(made.code, 'locked');
  const vault = cb.Vault.create('pw', SMALL, CHEAP);
  const gc = new cb.Lock('gc', true, 'h1', 1, T);
  const mine = new cb.Lock('backup', false, 'h2', 2, T);
  const table = new cb.LockTable(T, 'h2');
  const g = gc.seal(vault);
  table.add(vault, g.id, g.bytes);
  const decision = table.decide(mine.seal(vault).id, mine);
  assert.equal(decision.decision, 'back_off');
  const e = decision.error;
  assert.equal(Object.getPrototypeOf(e), cb.LockedError.prototype);
  assert.equal(e.code, 'locked');
  assert.deepEqual(Object.keys(e.details).sort(), ['holder', 'lock', 'stale']);
  assert.equal(e.details.lock, g.id);
  assert.match(e.details.holder, /^gc \(exclusive\) by pid 1 on h1 since 2027-/);
  assert.equal(e.details.stale, false);
  assert.match(e.message, /try again/);
  assert.equal(typeof e.stack, 'string');
});

test('locks: shared coexist, exclusive waits for shared, shared backs off, the younger exclusive backs off', () => {
  const vault = cb.Vault.create('pw', SMALL, CHEAP);
  /** @param {bigint} now @param {cb.Lock[]} locks */
  const table = (now, locks) => {
    const t = new cb.LockTable(now, 'here');
    const ids = locks.map((l) => {
      const o = l.seal(vault);
      t.add(vault, o.id, o.bytes);
      return o.id;
    });
    return { t, ids };
  };
  const a = new cb.Lock('backup', false, 'h1', 1, T);
  const b = new cb.Lock('restore', false, 'h2', 2, T);
  assert.equal(a.exclusive, false);
  assert.equal(a.operation, 'backup');
  assert.equal(a.pid, 1);
  assert.equal(a.createdNs, T);
  assert.equal(typeof a.timeNs, 'bigint');
  let { t, ids } = table(T, [a, b]);
  assert.deepEqual(t.decide(ids[0], a), { decision: 'granted' });
  const gc = new cb.Lock('gc', true, 'h3', 3, T + 1n);
  ({ t, ids } = table(T + 2n, [a, gc]));
  const backOff = t.decide(ids[0], a);
  assert.equal(backOff.decision, 'back_off');
  const wait = t.decide(ids[1], gc);
  assert.equal(wait.decision, 'wait');
  assert.ok(wait.decision === 'wait' && wait.error instanceof cb.LockedError);
  assert.match(wait.error.details.holder, /backup \(shared\) by pid 1 on h1/);
  ({ t, ids } = table(T + 2n, [gc]));
  assert.deepEqual(t.decide(ids[0], gc), { decision: 'granted' });
  const younger = new cb.Lock('repair', true, 'h4', 4, T + 5n);
  ({ t, ids } = table(T + 6n, [gc, younger]));
  assert.deepEqual(t.decide(ids[0], gc), { decision: 'granted' });
  assert.equal(t.decide(ids[1], younger).decision, 'back_off');
});

test('locks: a stale lock blocks with a message naming unlock; freshness and refresh', () => {
  const vault = cb.Vault.create('pw', SMALL, CHEAP);
  const dead = new cb.Lock('backup', false, 'here', 77, T);
  const alive = new cb.Lock('backup', false, 'here', 78, T);
  const elsewhere = new cb.Lock('backup', false, 'far', 79, T);
  const gc = new cb.Lock('gc', true, 'here', 80, T + SECOND);
  const t = new cb.LockTable(T + SECOND, 'here');
  /** @type {string[]} */
  const ids = [];
  for (const l of [dead, alive, elsewhere]) {
    const o = l.seal(vault);
    t.add(vault, o.id, o.bytes);
    ids.push(o.id);
  }
  assert.deepEqual(t.localPids(), [77, 78]);
  t.setPidAlive(77, false);
  t.setPidAlive(78, true);
  const d = t.decide(gc.seal(vault).id, gc);
  // Its process is gone from this host: no wait helps, give up now.
  assert.equal(d.decision, 'give_up');
  assert.ok(d.decision === 'give_up' && d.error instanceof cb.LockedError);
  assert.equal(d.error.details.stale, true);
  assert.equal(d.error.details.lock, ids[0]);
  assert.match(d.error.message, /stale/);
  assert.match(d.error.message, /cloudbackup unlock/);
  assert.deepEqual(t.removable(false).map((r) => r.id), [ids[0]]);
  assert.equal(t.removable(true).length, 3);
  // Not refreshed for 30 minutes: stale on any host.
  const old = new cb.LockTable(T + 30n * 60n * SECOND, 'elsewhere');
  const o = elsewhere.seal(vault);
  old.add(vault, o.id, o.bytes);
  const later = new cb.Lock('gc', true, 'elsewhere', 1, T + 30n * 60n * SECOND);
  const stale = old.decide(later.seal(vault).id, later);
  assert.ok(stale.decision === 'back_off' && stale.error.details.stale);
  // An unreadable lock throws on add, and blocks.
  const other = cb.Vault.create('pw', SMALL, CHEAP);
  const foreign = new cb.Lock('backup', false, 'x', 1, T).seal(other);
  const u = new cb.LockTable(T, 'here');
  throwsExactly(() => u.add(vault, foreign.id, foreign.bytes), cb.ForeignVaultError, 'foreign_vault');
  const mine = new cb.Lock('backup', false, 'here', 5, T);
  assert.equal(u.decide(mine.seal(vault).id, mine).decision, 'back_off');
  // The holder may act while fresh; 25 minutes without a refresh is too late.
  const id = dead.seal(vault).id;
  dead.checkFresh(id, T + 5n * 60n * SECOND);
  const late = throwsExactly(() => dead.checkFresh(id, T + 25n * 60n * SECOND), cb.LockedError, 'locked');
  assert.equal(late.details.stale, true);
  assert.match(String(late.details.holder), /nothing was committed/);
  assert.equal(dead.needsRefresh(T + SECOND), false);
  assert.equal(dead.needsRefresh(T + 5n * 60n * SECOND), true);
  const refreshed = dead.refreshed(T + 25n * 60n * SECOND);
  refreshed.checkFresh(id, T + 25n * 60n * SECOND + 1n);
  assert.equal(refreshed.createdNs, dead.createdNs);
  assert.equal(refreshed.timeNs, T + 25n * 60n * SECOND);
  const reopened = cb.Lock.open(vault, o.id, o.bytes);
  assert.equal(reopened.describe(), elsewhere.describe());
  assert.match(reopened.describe(), /^backup \(shared\) by pid 79 on far since 2027-01-15T/);
});

test('VaultState: latest of two snapshots in the same second is decided by timeNanos', () => {
  // The first backup starts later within the second: it is the latest.
  const s = stored([[1_700_000_000, 900_000_000], [1_700_000_000, 100_000_000]]);
  const { st, refused } = stateOf(s);
  assert.deepEqual(refused, []);
  assert.equal(st.resolve('latest'), s.snapshots[0]);
  const summaries = st.summaries();
  assert.deepEqual(summaries.map((x) => x.id), [s.snapshots[1], s.snapshots[0]], 'oldest first');
  assert.deepEqual(summaries.map((x) => x.time_nanos), [100_000_000, 900_000_000]);
  assert.equal(summaries[0].time, 1_700_000_000);
  assert.equal(summaries[0].entries, 1);
  assert.equal(summaries[0].hostname, null);
  assert.equal(st.snapshot(s.snapshots[0]).data().time_nanos, 900_000_000);
  // A unique prefix resolves; an index of both deltas restores either.
  assert.equal(st.resolve(s.snapshots[1].slice(0, 12)), s.snapshots[1]);
  assert.equal(st.index().length, 2);
  assert.deepEqual(st.wanted(), [], 'everything listed was read');
  const listed = new cb.VaultState(s.vault);
  for (const [name, bytes] of s.objects) listed.addListed(name, bytes.length, 0n);
  assert.deepEqual(listed.wanted().sort(), [...s.objects.keys()].filter((n) => !n.startsWith('bundles/')).sort());
  assert.deepEqual(st.problems(), []);
  throwsExactly(() => st.resolve('f'.repeat(64)), cb.NotFoundError, 'not_found');
  throwsExactly(() => st.resolve('xyz'), cb.InvalidValueError, 'invalid_value');
  throwsExactly(() => new cb.VaultState(s.vault).resolve('latest'), cb.NotFoundError, 'not_found');
});

test('BackupSession.finish: timeNanos is a whole number from 0 to 999999999', () => {
  const vault = cb.Vault.create('pw', SMALL, CHEAP);
  const backup = new cb.BackupSession(vault, new cb.Index());
  for (const bad of [1_000_000_000, -1, 0.5]) {
    const e = throwsExactly(() => backup.finish({ time: 1, timeNanos: bad }), cb.InvalidArgumentError, 'invalid_argument');
    assert.equal(e.details.name, 'info.timeNanos');
  }
  throwsExactly(() => backup.finish({ time: 1, timeNanos: /** @type {never} */ ('5') }), cb.InvalidArgumentError, 'invalid_argument');
  // The session survived the refusals.
  backup.finish({ time: 1, timeNanos: 999_999_999 });
  const s = /** @type {cb.StoredObject} */ (backup.takeSnapshot());
  assert.equal(cb.Snapshot.open(vault, s.id, s.bytes).data().time_nanos, 999_999_999);
});

test('VaultState: a corrupt snapshot is skipped by latest and listed as unreadable', () => {
  const s = stored([[1, 0], [2, 0]]);
  const bad = cb.objectName('snapshot', s.snapshots[1]);
  const bytes = /** @type {Uint8Array} */ (s.objects.get(bad)).slice();
  bytes[bytes.length - 3] ^= 0x40;
  s.objects.set(bad, bytes);
  const { st, refused } = stateOf(s);
  assert.deepEqual(refused, ['corrupt']);
  assert.equal(st.resolve('latest'), s.snapshots[0], 'the newest readable one');
  assert.deepEqual(st.summaries().map((x) => x.id), [s.snapshots[0]]);
  const unreadable = st.unreadableSnapshots();
  assert.equal(unreadable.length, 1);
  assert.equal(unreadable[0].id, s.snapshots[1]);
  assert.equal(unreadable[0].code, 'corrupt');
  assert.equal(typeof unreadable[0].message, 'string');
  assert.deepEqual(st.unreadableIndexes(), []);
  throwsExactly(() => st.resolve(s.snapshots[1]), cb.CorruptError, 'corrupt');
  throwsExactly(() => st.snapshot(s.snapshots[1]), cb.CorruptError, 'corrupt');
  const problems = st.problems();
  assert.deepEqual(problems.map((p) => [p.object, p.code]), [[cb.objectName('snapshot', s.snapshots[1]), 'corrupt']]);
  // Verify reports it too, before any bundle is fed.
  const verifier = cb.Verifier.forState(st);
  const report = verifier.report();
  assert.equal(report.ok, false);
  assert.equal(report.snapshots_checked, 2);
  assert.equal(report.indexes_checked, 2);
  assert.deepEqual(report.problems, problems);
});

test('VaultState.gcPlan: refuses when an index is missing; deletes only old unreferenced objects', () => {
  const s = stored([[1, 0], [2, 0]]);
  s.objects.delete(cb.objectName('index', s.indexes[0]));
  const { st } = stateOf(s);
  const e = throwsExactly(() => st.gcPlan(T, 0n), cb.CorruptError, 'corrupt');
  assert.match(e.message, /gc refuses to run/);
  assert.match(e.message, /no index lists/);
  assert.ok(st.problems().some((p) => /repair/.test(p.message)));
  // Listed, then gone when fetched: refused too.
  const gone = stored([[1, 0]]);
  const listedOnly = new cb.VaultState(gone.vault);
  listedOnly.addListed(cb.objectName('index', gone.indexes[0]), 10, 0n);
  listedOnly.addUnreadable(listedOnly.wanted()[0], 'not found');
  assert.equal(listedOnly.unreadableIndexes()[0].code, 'not_found');
  throwsExactly(() => listedOnly.gcPlan(T, 0n), cb.CorruptError, 'corrupt');

  const ok = stored([[1, 0]]);
  const { st: whole } = stateOf(ok, T);
  const orphan = `bundles/${'ab'.repeat(32)}`;
  whole.addListed(orphan, 10, 0n);
  whole.addListed(`bundles/${'cd'.repeat(32)}`, 10, T - 1n);
  whole.addListed('bundles/x.1.2.tmp', 10, 0n);
  whole.addListed('index/y.tmp', 10, T);
  const plan = whole.gcPlan(T, 3600n * SECOND);
  assert.deepEqual(plan.delete.map((l) => l.name), [orphan, 'bundles/x.1.2.tmp']);
  assert.equal(plan.delete[0].mtime_ns, 0n);
  assert.equal(typeof plan.delete[0].mtime_ns, 'bigint');
  assert.equal(plan.referenced_bundles, 1);
  assert.equal(plan.unreferenced_bundles, 2);
  assert.equal(plan.kept_young, 2);
  assert.equal(plan.temporary, 1);
  assert.equal(plan.delete_bytes, 20);
  throwsExactly(() => whole.gcPlan(T, -1n), cb.InvalidArgumentError, 'invalid_argument');
  // Verify: the young orphan is not a problem, the temporaries are listed,
  // an indexed bundle the listing lacks is a problem and left out of the plan.
  const report = cb.Verifier.forState(whole).report();
  assert.equal(report.ok, true);
  assert.equal(report.unindexed_bundles, 2);
  assert.deepEqual(report.temporary_objects.sort(), ['bundles/x.1.2.tmp', 'index/y.tmp']);
  const [bundleName] = [...ok.objects.keys()].filter((n) => n.startsWith('bundles/'));
  ok.objects.delete(bundleName);
  const { st: lacking } = stateOf(ok, T);
  const v = cb.Verifier.forState(lacking);
  assert.deepEqual(v.plan(lacking.index(), 1, 0), []);
  assert.deepEqual(v.report().problems.map((p) => [p.object, p.code]), [[bundleName, 'not_found']]);
});

test('bad ids are invalid_value naming the argument', () => {
  const s = stored([[1, 0]]);
  const { st } = stateOf(s);
  const lock = new cb.Lock('backup', false, 'h', 1, T);
  const table = new cb.LockTable(T, 'h');
  /** @type {[() => unknown, string][]} */
  const cases = [
    [() => st.snapshot('zz'), 'id'],
    [() => lock.checkFresh('not an id', T), 'id'],
    [() => table.decide('ab'.repeat(31), lock), 'myId'],
    [() => table.add(s.vault, 'g'.repeat(64), new Uint8Array(4)), 'id'],
    [() => cb.Lock.open(s.vault, '', new Uint8Array(4)), 'id'],
    [() => cb.objectName('bundle', 'xyz'), 'id'],
  ];
  for (const [fn, field] of cases) {
    const e = throwsExactly(fn, cb.InvalidValueError, 'invalid_value');
    assert.equal(e.details.field, field);
  }
});

test('wrong JS types for the new functions are typed errors naming the argument', () => {
  const s = stored([[1, 0]]);
  const st = new cb.VaultState(s.vault);
  /** @type {[() => unknown, string][]} */
  const cases = [
    [() => st.addListed(/** @type {never} */ (1), 1, 0n), 'name'],
    [() => st.addListed('bundles/x', /** @type {never} */ ('10'), 0n), 'size'],
    [() => st.addListed('bundles/x', -1, 0n), 'size'],
    [() => st.addListed('bundles/x', 1, /** @type {never} */ (5)), 'mtimeNs'],
    [() => st.addListed('bundles/x', 1, 1n << 64n), 'mtimeNs'],
    [() => st.addObject('index/' + 'ab'.repeat(32), /** @type {never} */ ('bytes')), 'bytes'],
    [() => st.addUnreadable('index/' + 'ab'.repeat(32), /** @type {never} */ (404)), 'reason'],
    [() => st.resolve(/** @type {never} */ (undefined)), 'which'],
    [() => st.gcPlan(/** @type {never} */ (Date.now()), 0n), 'nowNs'],
    [() => new cb.Lock(/** @type {never} */ (null), false, 'h', 1, T), 'operation'],
    [() => new cb.Lock('backup', /** @type {never} */ ('yes'), 'h', 1, T), 'exclusive'],
    [() => new cb.Lock('backup', false, /** @type {never} */ (7), 1, T), 'hostname'],
    [() => new cb.Lock('backup', false, 'h', -1, T), 'pid'],
    [() => new cb.Lock('backup', false, 'h', 2 ** 32, T), 'pid'],
    [() => new cb.Lock('backup', false, 'h', 1, /** @type {never} */ (1.5)), 'nowNs'],
    [() => new cb.LockTable(/** @type {never} */ ('now'), 'h'), 'nowNs'],
    [() => new cb.LockTable(T, /** @type {never} */ (null)), 'hostname'],
    [() => new cb.LockTable(T, 'h').setPidAlive(1, /** @type {never} */ (1)), 'alive'],
    [() => new cb.LockTable(T, 'h').setPidAlive(1.5, true), 'pid'],
    [() => new cb.LockTable(T, 'h').removable(/** @type {never} */ ('all')), 'all'],
    [() => new cb.Lock('backup', false, 'h', 1, T).needsRefresh(/** @type {never} */ (1)), 'nowNs'],
    [() => cb.partialName(/** @type {never} */ (5), 1), 'finalName'],
    [() => cb.partialName('a', 1.5), 'tag'],
    [() => cb.partialName('a', /** @type {never} */ ('1')), 'tag'],
    [() => cb.relativeSnapshotPath(/** @type {never} */ (['/a'])), 'path'],
    [() => cb.parseName(/** @type {never} */ (1)), 'name'],
    [() => cb.objectName(/** @type {never} */ ('config'), 'ab'.repeat(32)), 'type'],
  ];
  for (const [fn, name] of cases) {
    const e = throwsExactly(fn, cb.InvalidArgumentError, 'invalid_argument');
    assert.equal(e.details.name, name, String(fn));
  }
  throwsExactly(() => new cb.Lock('', false, 'h', 1, T), cb.InvalidArgumentError, 'invalid_argument');
});

test('layout names and snapshot paths are the core\'s', () => {
  const id = 'ab'.repeat(32);
  assert.equal(cb.objectName('bundle', id), `bundles/${id}`);
  assert.equal(cb.objectName('lock', id), `locks/${id}`);
  assert.deepEqual(['bundle', 'index', 'snapshot', 'lock'].map((k) => cb.objectDir(/** @type {cb.ObjectType} */ (k))),
    ['bundles', 'index', 'snapshots', 'locks']);
  assert.deepEqual(cb.parseName(`snapshots/${id}`), { kind: 'object', type: 'snapshot', id });
  assert.deepEqual(cb.parseName(`locks/${id}.123.tmp`), { kind: 'temporary', type: 'lock' });
  assert.deepEqual(cb.parseName(`lost+found/index/${id}`), { kind: 'set_aside', type: 'index', id });
  assert.deepEqual(cb.parseName('config'), { kind: 'config' });
  for (const other of [`bundles/${id.toUpperCase()}`, 'nope/x', 'x.tmp', '']) assert.deepEqual(cb.parseName(other), { kind: 'unknown' });
  assert.equal(cb.relativeSnapshotPath('/a/b c/d'), 'a/b c/d');
  for (const bad of ['', '/', 'a', '../a', '/a/../b', '/a/./b', '//a', '/a/']) {
    const e = throwsExactly(() => cb.relativeSnapshotPath(bad), cb.InvalidValueError, 'invalid_value');
    assert.equal(e.details.field, 'path');
  }
});

test('partialName: short enough for NAME_MAX whatever the final name', () => {
  const utf8 = new TextEncoder();
  for (const name of ['x'.repeat(255), 'é'.repeat(127) + 'x', '😀'.repeat(63) + 'abc']) {
    assert.equal(utf8.encode(name).length, 255);
    const partial = cb.partialName(name, 4_294_967_295);
    assert.ok(utf8.encode(partial).length < 64, partial);
    assert.match(partial, /^\.cb-[0-9a-f]{16}-4294967295\.partial$/);
  }
  assert.notEqual(cb.partialName('a', 1), cb.partialName('b', 1));
  assert.notEqual(cb.partialName('a', 1), cb.partialName('a', 2));
  assert.equal(cb.partialName('a', 1), cb.partialName('a', 1));
});

test('partialTag: reads back what partialName wrote, and nothing else', () => {
  assert.equal(cb.partialTag(cb.partialName('f.bin', 4_294_967_295)), 4_294_967_295);
  assert.equal(cb.partialTag(new TextEncoder().encode(cb.partialName('f.bin', 7))), 7);
  for (const other of ['f.bin', '.cb-0123456789abcdef.partial', '.cb-0123456789abcdeg-1.partial',
    '.cb-0123456789abcdef-4294967296.partial', '.cb-0123456789abcdef-x.partial']) {
    assert.equal(cb.partialTag(other), undefined, other);
  }
  throwsExactly(() => cb.partialTag(/** @type {never} */ (5)), cb.InvalidArgumentError, 'invalid_argument');
});

test('retryLockSeconds: the core\'s one rule for a lock wait, naming the variable', () => {
  assert.equal(cb.retryLockSeconds('CLOUDBACKUP_RETRY_LOCK', undefined), 60);
  assert.equal(cb.retryLockSeconds('CLOUDBACKUP_RETRY_LOCK', ''), 60);
  assert.equal(cb.retryLockSeconds('CLOUDBACKUP_RETRY_LOCK', '2.5'), 2.5);
  for (const bad of ['soon', '-1', 'Infinity', 'inf', 'NaN', '0x10', ' 5', '9223372037']) {
    const e = throwsExactly(() => cb.retryLockSeconds('CLOUDBACKUP_RETRY_LOCK', bad), cb.InvalidArgumentError, 'invalid_argument');
    assert.match(e.message, /^invalid argument `CLOUDBACKUP_RETRY_LOCK`: .* is not a number of seconds from 0 to 9223372036$/);
  }
  // `text` may be absent (the default); anything else but a string is refused, naming it.
  assert.equal(cb.retryLockSeconds('x', null), 60);
  for (const wrong of [5, 1n, new Uint8Array(1), {}, true]) {
    const e = throwsExactly(() => cb.retryLockSeconds('x', /** @type {never} */ (wrong)), cb.InvalidArgumentError, 'invalid_argument');
    assert.equal(e.details.name, 'text');
  }
});

test('splitFileRoot: a root that is no directory is its directory and its name, as bytes', () => {
  const text = (/** @type {{ dir: Uint8Array, name: Uint8Array }} */ r) => [Buffer.from(r.dir).toString('latin1'), Buffer.from(r.name).toString('latin1')];
  assert.deepEqual(text(cb.splitFileRoot('db.sql')), ['.', 'db.sql']);
  assert.deepEqual(text(cb.splitFileRoot('/db.sql')), ['/', 'db.sql']);
  assert.deepEqual(text(cb.splitFileRoot(Buffer.from('/var/b/\xff.gz', 'latin1'))), ['/var/b', '\xff.gz']);
  assert.ok(cb.splitFileRoot('/a/x').name instanceof Uint8Array);
  for (const bad of ['', '/', 'a/', '.', '..', 'a/..']) {
    const e = throwsExactly(() => cb.splitFileRoot(bad), cb.InvalidArgumentError, 'invalid_argument');
    assert.equal(e.details.name, 'root', bad);
  }
});

test('partialOwner: no owner for tag 0, this process or past any process id; no temporary, undefined', () => {
  assert.equal(cb.partialOwner(cb.partialName('f.bin', 2_147_483_647), 42), 2_147_483_647);
  for (const dead of [0, 42, 2_147_483_648, 4_294_967_295]) assert.equal(cb.partialOwner(cb.partialName('f.bin', dead), 42), 0, `${dead}`);
  assert.equal(cb.partialOwner('f.bin', 42), undefined);
  throwsExactly(() => cb.partialOwner('f.bin', -1), cb.InvalidArgumentError, 'invalid_argument');
});

test('restore: apply() gives the modes and times after finish, deepest first, failed entries left out', () => {
  const vault = cb.Vault.create('pw', SMALL, CHEAP);
  const backup = new cb.BackupSession(vault, new cb.Index());
  backup.addDir('/d', 0o755, 10);
  backup.addDir('/d/e', 0o700, 11);
  backup.startFile('/d/e/f', 0o600, 12);
  backup.write(new TextEncoder().encode('deep'));
  backup.finishFile();
  backup.addSymlink('/d/l', 'e/f', 13);
  backup.startFile('/top', 0o644, 14);
  backup.write(new TextEncoder().encode('top'));
  backup.finishFile();
  backup.finish({ time: 1 });
  /** @type {Map<string, Uint8Array>} */
  const bundles = new Map(backup.takeBundles().map((b) => [b.id, b.bytes]));
  const i = /** @type {cb.StoredObject} */ (backup.takeIndex());
  const s = /** @type {cb.StoredObject} */ (backup.takeSnapshot());
  const index = new cb.Index();
  index.loadDelta(vault, i.id, i.bytes);
  const snapshot = cb.Snapshot.open(vault, s.id, s.bytes);

  const session = new cb.RestoreSession(vault, snapshot, index);
  // Where a killed restore may have left temporaries: the target, then each folder written.
  assert.deepEqual(session.leftoverDirs(), ['', 'd', 'd/e']);
  throwsExactly(() => session.apply(), cb.InvalidStateError, 'invalid_state');
  throwsExactly(() => session.report(), cb.InvalidStateError, 'invalid_state');
  for (const f of session.plan()) {
    const bytes = /** @type {Uint8Array} */ (bundles.get(f.bundle));
    for (const r of f.ranges) session.feed(f.bundle, r.offset, bytes.subarray(r.offset, r.offset + r.length));
  }
  const report = session.finish();
  assert.equal(report.errors, null);
  assert.deepEqual(session.report(), report);
  const apply = session.apply();
  const paths = apply.map((c) => c.path);
  assert.deepEqual(paths.slice().sort(), ['/d', '/d/e', '/d/e/f', '/d/l', '/top']);
  // Children before their directory: writing into a directory changes its time.
  for (const [n, p] of paths.entries()) {
    const parent = p.slice(0, p.lastIndexOf('/'));
    if (parent) assert.ok(paths.indexOf(parent) > n, `${p} before ${parent}: ${paths}`);
  }
  assert.deepEqual(apply.find((c) => c.path === '/d/e'), { kind: 'dir', path: '/d/e', mode: 0o700, mtime: 11 });
  throwsExactly(() => session.finish(), cb.InvalidStateError, 'invalid_state');
  throwsExactly(() => session.plan(), cb.InvalidStateError, 'invalid_state');
  throwsExactly(() => session.missing(i.id), cb.InvalidStateError, 'invalid_state');

  // A bundle missing: its files fail and are left out of apply().
  const failed = new cb.RestoreSession(vault, snapshot, index);
  for (const f of failed.plan()) failed.missing(f.bundle);
  const bad = failed.finish();
  assert.ok(bad.errors);
  const left = failed.apply().map((c) => c.path);
  assert.ok(!left.includes('/d/e/f') && !left.includes('/top'), String(left));
  assert.ok(left.includes('/d') && left.includes('/d/l'), String(left));
});

test('VaultState.parentFor: the latest of the same host and roots; clearListing: only new objects are wanted', () => {
  const vault = cb.Vault.create('pw', SMALL, CHEAP);
  /** @type {Map<string, Uint8Array>} */
  const objects = new Map();
  /** @param {number} time @param {string} hostname @param {(string | Uint8Array)[]} paths */
  const backup = (time, hostname, paths) => {
    const b = new cb.BackupSession(vault, new cb.Index());
    b.startFile('/d/f', 0o644, 0);
    b.write(new TextEncoder().encode(`content ${time}`));
    b.finishFile();
    b.finish({ time, hostname, paths });
    for (const x of b.takeBundles()) objects.set(cb.objectName('bundle', x.id), x.bytes);
    const i = /** @type {cb.StoredObject} */ (b.takeIndex());
    const s = /** @type {cb.StoredObject} */ (b.takeSnapshot());
    objects.set(cb.objectName('index', i.id), i.bytes);
    objects.set(cb.objectName('snapshot', s.id), s.bytes);
    return s.id;
  };
  const older = backup(1_700_000_000, 'h', ['/d']);
  backup(1_700_000_100, 'other', ['/d']);
  const bytesRoot = new Uint8Array([0x2f, 0x65, 0xff]);
  const odd = backup(1_700_000_200, 'h', [bytesRoot]);
  const st = new cb.VaultState(vault);
  for (const [name, bytes] of objects) st.addListed(name, bytes.length, 0n);
  for (const name of st.wanted()) st.addObject(name, /** @type {Uint8Array} */ (objects.get(name)));
  assert.equal(st.parentFor('h', ['/d']), older);
  assert.equal(st.parentFor('h', [bytesRoot]), odd);
  assert.equal(st.parentFor('h', ['"/e\\xff"']), odd, 'the quoted form names the same bytes');
  assert.equal(st.parentFor('h', ['/elsewhere']), null);
  assert.equal(st.parentFor(null, ['/d']), null);
  throwsExactly(() => st.parentFor('h', /** @type {any} */ ('/d')), cb.InvalidArgumentError, 'invalid_argument');
  throwsExactly(() => st.parentFor('h', /** @type {any} */ ([42])), cb.InvalidArgumentError, 'invalid_argument');
  // Listed again after another backup: only its objects are wanted.
  const newer = backup(1_700_000_300, 'h', ['/d']);
  st.clearListing();
  for (const [name, bytes] of objects) st.addListed(name, bytes.length, 0n);
  const wanted = st.wanted();
  assert.deepEqual(wanted.filter((n) => n.startsWith('snapshots/')), [cb.objectName('snapshot', newer)]);
  assert.equal(wanted.length, 2);
  for (const name of wanted) st.addObject(name, /** @type {Uint8Array} */ (objects.get(name)));
  assert.equal(st.parentFor('h', ['/d']), newer);
});
