// Prune through the package: two backups sharing data, one forgotten, the
// plan, the Pruner fed what it reads, the vault after it (smaller, complete,
// the other snapshot restoring byte-exactly), the cleanup patches, and the
// wrong arguments (typed errors naming the argument).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as cb from '../node.js';
import { throwsExactly } from './helpers.mjs';
import { restoreToMemory } from './vault.mjs';

const CHEAP = { memory_kib: 8, iterations: 1, parallelism: 1 };
// Bundles of 1 MiB hold a whole backup below: A's one bundle then holds
// shared (still used once A is forgotten) and onlyA (not), so a 0% prune
// repacks it whatever cut points the vault's random chunking key gives.
const ONE_BUNDLE = { chunker: { min_size: 1024, avg_size: 4096, max_size: 16384 }, zstd_level: 3, bundle_size: 1 << 20 };
/** 2027-01-15T08:00:00Z, in nanoseconds. */
const T = 1_800_000_000n * 1_000_000_000n;

/** Deterministic pseudo-random bytes (an LCG): no chunk repeats. @param {number} len @param {number} seed */
function random(len, seed) {
  const out = new Uint8Array(len);
  let x = seed >>> 0;
  for (let i = 0; i < len; i++) {
    x = (Math.imul(x, 1664525) + 1013904223) >>> 0;
    out[i] = x >>> 24;
  }
  return out;
}

/**
 * Backup A (shared + onlyA), then B (deduplicated against A: shared +
 * onlyB), stored as a host stores them: name -> bytes.
 */
function twoBackups() {
  const vault = cb.Vault.create('pw', ONE_BUNDLE, CHEAP);
  const data = { shared: random(200 * 1024, 1), onlyA: random(150 * 1024, 2), onlyB: random(100 * 1024, 3) };
  /** @type {Map<string, Uint8Array>} */
  const objects = new Map();
  const index = new cb.Index();
  /** @type {string[]} */
  const snapshots = [];
  for (const [n, files] of /** @type {const} */ ([[0, ['shared', 'onlyA']], [1, ['shared', 'onlyB']]])) {
    const backup = new cb.BackupSession(vault, index);
    for (const f of files) {
      backup.startFile(`/d/${f}`, 0o644, 1_700_000_000);
      backup.write(data[f]);
      backup.finishFile();
    }
    backup.finish({ time: 1_700_000_000 + n });
    for (const b of backup.takeBundles()) objects.set(cb.objectName('bundle', b.id), b.bytes);
    const i = /** @type {cb.StoredObject} */ (backup.takeIndex());
    const s = /** @type {cb.StoredObject} */ (backup.takeSnapshot());
    objects.set(cb.objectName('index', i.id), i.bytes);
    objects.set(cb.objectName('snapshot', s.id), s.bytes);
    index.loadDelta(vault, i.id, i.bytes);
    snapshots.push(s.id);
  }
  return { vault, data, objects, snapshots };
}

/** List everything (an hour before T), fetch what is wanted. @param {cb.Vault} vault @param {Map<string, Uint8Array>} objects */
function stateOf(vault, objects) {
  const st = new cb.VaultState(vault);
  for (const [name, bytes] of objects) st.addListed(name, bytes.length, T - 3600n * 1_000_000_000n);
  for (const name of st.wanted()) st.addObject(name, /** @type {Uint8Array} */ (objects.get(name)));
  return st;
}

/** @param {Map<string, Uint8Array>} objects */
const total = (objects) => [...objects.values()].reduce((sum, b) => sum + b.length, 0);

test('prune: forget one snapshot, prune, the other restores byte-exactly from a smaller vault', () => {
  const { vault, data, objects, snapshots } = twoBackups();
  objects.delete(cb.objectName('snapshot', snapshots[0])); // forget A
  const before = total(objects);
  const state = stateOf(vault, objects);
  /** @type {cb.PruneOptions} */
  const options = { max_unused: '0%', grace_ns: 0 };

  const plan = state.prunePlan(options, T);
  assert.equal(plan.snapshots, 1);
  assert.equal(plan.rewrite_index, true);
  assert.equal(plan.options.max_unused, '0%');
  assert.equal(plan.bytes_before, before);
  assert.equal(plan.repack_bundles.count, 1, JSON.stringify(plan));
  assert.equal(plan.keep_bundles.count, 1, JSON.stringify(plan));
  assert.ok(plan.read.length >= 1 && plan.read.every((n) => n.startsWith('bundles/')));

  const pruner = new cb.Pruner(state, options, T);
  state.free(); // the pruner keeps its own copy
  assert.deepEqual(pruner.plan(), plan);
  assert.deepEqual(pruner.remaining(), plan.read);

  // A name the plan does not read, and bytes that are not the bundle.
  const unknown = throwsExactly(() => pruner.feed('bundles/' + '0'.repeat(64), new Uint8Array(1)), cb.InvalidArgumentError, 'invalid_argument');
  assert.equal(unknown.details.name, 'name');
  assert.match(unknown.message, /not a bundle this prune repacks/);
  throwsExactly(() => pruner.feed('index/x', new Uint8Array(1)), cb.InvalidArgumentError, 'invalid_argument');
  const first = /** @type {Uint8Array} */ (objects.get(plan.read[0]));
  const changed = first.slice();
  changed[changed.length >> 1] ^= 1;
  throwsExactly(() => pruner.feed(plan.read[0], changed), cb.CorruptError, 'corrupt');

  /** @type {Map<string, Uint8Array>} */
  const written = new Map();
  for (const name of pruner.remaining()) {
    // Any Bytes: an ArrayBuffer of exactly the bundle.
    const bytes = /** @type {Uint8Array} */ (objects.get(name));
    for (const b of pruner.feed(name, bytes.slice().buffer)) {
      assert.equal(b.name, cb.objectName('bundle', b.id));
      assert.ok(b.bytes instanceof Uint8Array);
      written.set(b.name, b.bytes);
    }
  }
  const twice = throwsExactly(() => pruner.feed(plan.read[0], first), cb.InvalidArgumentError, 'invalid_argument');
  assert.match(twice.message, /fed already/);
  assert.deepEqual(pruner.remaining(), []);

  const commit = pruner.finish();
  for (const b of commit.bundles) written.set(b.name, b.bytes);
  assert.ok(written.size >= 1);
  assert.equal(commit.indexes.length, 1);
  assert.equal(commit.indexes[0].name, cb.objectName('index', commit.indexes[0].id));
  // Store bundles, then indexes; then delete in order (index deltas first).
  for (const [name, bytes] of written) objects.set(name, bytes);
  for (const o of commit.indexes) objects.set(o.name, o.bytes);
  assert.ok(commit.delete[0].startsWith('index/'));
  assert.ok(commit.delete.at(-1)?.startsWith('bundles/'));
  for (const name of commit.delete) assert.ok(objects.delete(name), name);
  assert.equal(commit.report.bytes_after, total(objects));
  assert.ok(commit.report.bytes_after < before, `${commit.report.bytes_after} < ${before}`);
  assert.equal(commit.report.deleted.count, commit.delete.length);
  assert.deepEqual(commit.report.plan, plan);

  // Finished: the plan stays, the rest is out of order.
  assert.deepEqual(pruner.plan(), plan);
  throwsExactly(() => pruner.finish(), cb.InvalidStateError, 'invalid_state');
  throwsExactly(() => pruner.feed(plan.read[0], first), cb.InvalidStateError, 'invalid_state');
  throwsExactly(() => pruner.remaining(), cb.InvalidStateError, 'invalid_state');

  // The cleanup's last patch, from the report.
  const patch = pruner.cleanupFinishedPatch([snapshots[0]], new Date(1_800_000_000_000));
  assert.deepEqual(patch.find((op) => op.path === '/bytes_after')?.value, commit.report.bytes_after);
  assert.deepEqual(patch.find((op) => op.path === '/bytes_before')?.value, before);
  assert.deepEqual(patch.find((op) => op.path === '/snapshot_ids')?.value, [cb.snapshotIdFor(snapshots[0])]);
  pruner.free();

  // After: complete, nothing left to prune, B restores byte-exactly.
  const after = stateOf(vault, objects);
  assert.deepEqual(after.problems(), []);
  // Settled: even at 0% (the framing the used blobs need counts as used),
  // nothing is left to repack.
  const again = after.prunePlan({ max_unused: '0%' }, T);
  assert.deepEqual(again.read, []);
  assert.equal(again.rewrite_index, false);
  assert.deepEqual(again.unused_blobs, { count: 0, bytes: 0 });
  /** @type {Map<string, Uint8Array>} */
  const bundles = new Map();
  for (const [name, bytes] of objects) {
    const parsed = cb.parseName(name);
    if (parsed.kind === 'object' && parsed.type === 'bundle') bundles.set(parsed.id, bytes);
  }
  const restored = restoreToMemory({ vault, index: after.index(), bundles, snapshots: [] }, after.snapshot(snapshots[1]));
  assert.equal(restored.report.errors, null);
  assert.deepEqual([...restored.files.keys()].sort(), ['/d/onlyB', '/d/shared']);
  assert.ok(Buffer.from(/** @type {Uint8Array} */ (restored.files.get('/d/shared'))).equals(data.shared));
  assert.ok(Buffer.from(/** @type {Uint8Array} */ (restored.files.get('/d/onlyB'))).equals(data.onlyB));
});

test('prune: bad options name the member; an incomplete vault is refused; a finish before every feed ends the pruner', () => {
  const { vault, objects, snapshots } = twoBackups();
  const state = stateOf(vault, objects);
  for (const options of [{ max_unused: 'lots' }, '{"max_unused": "lots"}', { max_unused: '100%' }, { max_unused: 5 }]) {
    const e = throwsExactly(() => state.prunePlan(/** @type {never} */ (options), T), cb.InvalidJsonError, 'invalid_json');
    assert.match(e.message, /max_unused/);
    assert.equal(e.details.what, 'options');
    throwsExactly(() => new cb.Pruner(state, /** @type {never} */ (options), T), cb.InvalidJsonError, 'invalid_json');
  }
  const unknownMember = throwsExactly(() => state.prunePlan(/** @type {never} */ ({ max_unsed: '5%' }), T), cb.InvalidJsonError, 'invalid_json');
  assert.match(unknownMember.message, /max_unsed/);
  const negative = throwsExactly(() => state.prunePlan({ grace_ns: -1 }, T), cb.InvalidArgumentError, 'invalid_argument');
  assert.equal(negative.details.name, 'grace');
  // Defaults (undefined or null options): nothing unused, nothing to do.
  for (const options of [undefined, null, {}]) {
    const plan = state.prunePlan(options, T);
    assert.equal(plan.options.max_unused, '5%');
    assert.equal(plan.options.grace_ns, 3_600_000_000_000);
    assert.deepEqual(plan.read, []);
  }
  for (const size of ['100M', '1048576', '64k', 'unlimited']) {
    assert.deepEqual(state.prunePlan({ max_unused: /** @type {cb.MaxUnused} */ (size) }, T).read, []);
  }
  // repack_small: the last, partial bundle of each backup, repacked together.
  assert.equal(state.prunePlan({ repack_small: true }, T).read.length, 2);
  state.free();

  // Forget A; finish at once: the bundle to repack was not fed.
  objects.delete(cb.objectName('snapshot', snapshots[0]));
  const forgotten = stateOf(vault, objects);
  const pruner = new cb.Pruner(forgotten, { max_unused: '0%' }, T);
  assert.ok(pruner.remaining().length >= 1);
  const early = throwsExactly(() => pruner.finish(), cb.InvalidArgumentError, 'invalid_argument');
  assert.match(early.message, /were not fed/);
  throwsExactly(() => pruner.plan(), cb.InvalidStateError, 'invalid_state');
  throwsExactly(() => pruner.feed('bundles/x', new Uint8Array(1)), cb.InvalidStateError, 'invalid_state');
  throwsExactly(() => pruner.cleanupFinishedPatch([], 1), cb.InvalidStateError, 'invalid_state');
  pruner.free();
  forgotten.free();

  // An index delta that cannot be fetched: refused, as gc refuses.
  const partial = new cb.VaultState(vault);
  for (const [name, bytes] of objects) partial.addListed(name, bytes.length, 0n);
  let gone = false;
  for (const name of partial.wanted()) {
    if (!gone && name.startsWith('index/')) {
      partial.addUnreadable(name, 'not found');
      gone = true;
    } else partial.addObject(name, /** @type {Uint8Array} */ (objects.get(name)));
  }
  const refused = throwsExactly(() => partial.prunePlan(null, T), cb.CorruptError, 'corrupt');
  assert.match(refused.message, /prune refuses to run/);
  throwsExactly(() => new cb.Pruner(partial, null, T), cb.CorruptError, 'corrupt');
});

test('prune: wrong argument types throw InvalidArgumentError naming the argument', () => {
  const { vault, objects, snapshots } = twoBackups();
  objects.delete(cb.objectName('snapshot', snapshots[0]));
  const state = stateOf(vault, objects);
  const pruner = new cb.Pruner(state, { max_unused: '0%' }, T);
  const name = pruner.remaining()[0];
  /** @type {Array<[string, () => unknown]>} */
  const cases = [
    ['nowNs', () => state.prunePlan(null, /** @type {never} */ (1_800_000_000_000))],
    ['nowNs', () => state.prunePlan(null, /** @type {never} */ ('1800000000000000000'))],
    ['nowNs', () => new cb.Pruner(state, null, /** @type {never} */ (undefined))],
    ['state', () => new cb.Pruner(/** @type {never} */ (vault), null, T)],
    ['state', () => new cb.Pruner(/** @type {never} */ ({}), null, T)],
    ['options', () => state.prunePlan(/** @type {never} */ ({ grace_ns: 1n }), T)],
    ['name', () => pruner.feed(/** @type {never} */ (42), new Uint8Array(1))],
    ['bytes', () => pruner.feed(name, /** @type {never} */ ('bytes'))],
    ['bytes', () => pruner.feed(name, /** @type {never} */ ([1, 2, 3]))],
    ['started', () => cb.cleanupStartedPatch(/** @type {never} */ ('2027-01-15'))],
    ['started', () => cb.cleanupStartedPatch(Date.now())],
    ['forgotten', () => cb.cleanupFinishedPatch(/** @type {never} */ (snapshots[0]), 0, 1)],
    ['forgotten[1]', () => cb.cleanupFinishedPatch(/** @type {never} */ ([snapshots[0], 7]), 0, 1)],
    ['vaultBytes', () => cb.cleanupFinishedPatch([], /** @type {never} */ (-1), 1)],
    ['vaultBytes', () => cb.cleanupFinishedPatch([], /** @type {never} */ ('12'), 1)],
    ['ended', () => cb.cleanupFinishedPatch([], 0, /** @type {never} */ (null))],
    ['forgotten', () => pruner.cleanupFinishedPatch(/** @type {never} */ (null), 1)],
    ['ended', () => pruner.cleanupFinishedPatch([], /** @type {never} */ ('now'))],
    ['error', () => cb.cleanupFailedPatch(/** @type {never} */ (42), 1)],
    ['error', () => cb.cleanupFailedPatch(/** @type {never} */ ({ message: 'not an Error' }), 1)],
    ['ended', () => cb.cleanupFailedPatch('disk full', /** @type {never} */ (1.5))],
  ];
  for (const [arg, call] of cases) {
    const e = throwsExactly(call, cb.InvalidArgumentError, 'invalid_argument');
    assert.equal(e.details.name, arg, e.message);
    assert.ok(e.message.includes(`\`${arg}\``), e.message);
  }
  // The pruner is still usable after all that.
  pruner.feed(name, /** @type {Uint8Array} */ (objects.get(name)));
});

test('cleanup patches: queued, started, finished without a prune, failed with the error thrown', () => {
  assert.deepEqual(cb.cleanupQueuedPatch(), [{ op: 'replace', path: '/state', value: 'queued' }]);
  const started = cb.cleanupStartedPatch(new Date(1_800_000_000_123));
  assert.deepEqual(started, [
    { op: 'replace', path: '/state', value: 'in_progress' },
    { op: 'replace', path: '/started_time', value: '2027-01-15T08:00:00.123000Z' },
  ]);
  assert.deepEqual(cb.cleanupStartedPatch(1_800_000_000)[1].value, '2027-01-15T08:00:00.000000Z');
  const id = '00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff';
  const finished = cb.cleanupFinishedPatch([id], 1234, 1_800_000_000);
  assert.deepEqual(finished, [
    { op: 'replace', path: '/state', value: 'completed' },
    { op: 'replace', path: '/ended_time', value: '2027-01-15T08:00:00.000000Z' },
    { op: 'replace', path: '/snapshot_ids', value: [cb.snapshotIdFor(id)] },
    { op: 'replace', path: '/bytes_before', value: 1234 },
    { op: 'replace', path: '/bytes_after', value: 1234 },
  ]);
  throwsExactly(() => cb.cleanupFinishedPatch(['xyz'], 0, 1), cb.InvalidValueError, 'invalid_value');
  // The patch the service accepts from an agent on an in-progress cleanup.
  let thrown;
  try {
    cb.Vault.open(new Uint8Array(8), 'pw');
  } catch (e) {
    thrown = e;
  }
  assert.ok(thrown instanceof cb.CloudBackupError);
  const failed = cb.cleanupFailedPatch(thrown, new Date(1_800_000_000_000));
  assert.deepEqual(failed[0], { op: 'replace', path: '/state', value: 'failed' });
  assert.deepEqual(failed[2], {
    op: 'add',
    path: '/errors',
    value: { count: 1, reason: 'cleanup_failed', diagnostics: thrown.message },
  });
  assert.deepEqual(cb.cleanupFailedPatch('disk full', 1)[2].value, { count: 1, reason: 'cleanup_failed', diagnostics: 'disk full' });
});
