// RestoreWorker: a RestoreSession in a Worker (worker_threads here): the
// same files as the synchronous session, errors as CloudBackupError
// subclasses, wrong arguments named, the calling thread free meanwhile,
// and calls after close() refused.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as cb from '../node.js';
import { restoreToMemory } from './vault.mjs';

const CHEAP = { memory_kib: 8, iterations: 1, parallelism: 1 };
const SMALL = { chunker: { min_size: 1024, avg_size: 4096, max_size: 16384 }, zstd_level: 3, bundle_size: 65536 };

/** A vault with one backup of a few files (~1.5 MiB over many bundles). */
function backedUp() {
  const vault = cb.Vault.create('pw', SMALL, CHEAP);
  const backup = new cb.BackupSession(vault, new cb.Index());
  /** @type {Map<string, Uint8Array>} */
  const content = new Map();
  let x = 12345;
  for (const [path, size] of /** @type {[string, number][]} */ ([['/a/big.bin', 1_200_000], ['/a/mid.bin', 300_000], ['/a/empty', 0], ['/b.txt', 37]])) {
    const data = new Uint8Array(size);
    for (let i = 0; i < size; i++) {
      x = (x * 1103515245 + 12345) >>> 0;
      data[i] = (x >>> 16) % 7; // compressible, not repetitive
    }
    content.set(path, data);
  }
  backup.addDir('/a', 0o755, 1_700_000_000);
  for (const [path, data] of content) {
    backup.startFile(path, 0o644, 1_700_000_001);
    if (data.length) backup.write(data);
    backup.finishFile();
  }
  backup.finish({ time: 1_700_000_100 });
  /** @type {Map<string, Uint8Array>} */
  const bundles = new Map();
  for (const b of backup.takeBundles()) bundles.set(b.id, b.bytes);
  const indexObj = backup.takeIndex();
  const snapObj = backup.takeSnapshot();
  assert.ok(indexObj && snapObj);
  return { vault, bundles, indexObj, snapObj, content };
}

/**
 * Restores through a RestoreWorker into memory, feeding every range without
 * waiting for the answers first (they come back in order).
 * @param {cb.RestoreWorker} restore @param {Map<string, Uint8Array>} bundles
 */
async function restoreThroughWorker(restore, bundles) {
  /** @type {Map<string, Uint8Array>} */
  const files = new Map();
  for (const c of await restore.creates()) if (c.kind === 'file') files.set(c.path, new Uint8Array(c.size));
  /** @type {Promise<cb.Write[]>[]} */
  const fed = [];
  for (const fetch of await restore.plan()) {
    const bundle = bundles.get(fetch.bundle);
    if (!bundle) {
      await restore.missing(fetch.bundle);
      continue;
    }
    const ranges = fetch.ranges.length ? fetch.ranges : [{ offset: 0, length: bundle.length }];
    for (const r of ranges) fed.push(restore.feed(fetch.bundle, r.offset, bundle.subarray(r.offset, r.offset + r.length)));
  }
  for (const writes of await Promise.all(fed)) {
    for (const w of writes) for (const p of w.places) files.get(p.path)?.set(w.data, p.offset);
  }
  return { files, report: await restore.finish() };
}

test('a restore in a Worker gives the files the synchronous session gives', async () => {
  const { vault, bundles, indexObj, snapObj, content } = backedUp();
  const restore = await cb.RestoreWorker.start(vault, snapObj, [indexObj]);
  try {
    // Asked before anything is created (a finished session has no plan).
    const leftovers = await restore.leftoverDirs();
    let ticks = 0;
    const timer = setInterval(() => ticks++, 0);
    const { files, report } = await restoreThroughWorker(restore, bundles);
    clearInterval(timer);
    for (const [path, data] of content) assert.deepEqual(files.get(path), data, path);
    assert.equal(report.files_restored, content.size);
    assert.deepEqual(await restore.report(), report);
    assert.ok((await restore.apply()).some((c) => c.path === '/a'));
    assert.ok(ticks > 0, 'the calling thread ran timers while the Worker restored');

    // The synchronous session on the same objects agrees.
    const index = new cb.Index();
    index.loadDelta(vault, indexObj.id, indexObj.bytes);
    const snapshot = cb.Snapshot.open(vault, snapObj.id, snapObj.bytes);
    const sync = restoreToMemory({ vault, index, bundles, snapshots: [snapshot] }, snapshot);
    assert.deepEqual(sync.files, files);
    assert.deepEqual(sync.report, report);
    assert.deepEqual(leftovers, new cb.RestoreSession(vault, snapshot, index).leftoverDirs());
    assert.equal(leftovers[0], '', 'the target first');
  } finally {
    restore.close();
  }
  // The caller's objects stay usable: the Worker got copies.
  assert.equal(vault.info().key_slots, 1);
});

test('a Worker restore reports missing and damaged bundles as the session does', async () => {
  const { vault, bundles, indexObj, snapObj } = backedUp();
  const first = [...bundles.keys()][0];
  const damaged = new Map(bundles);
  damaged.delete(first);
  const restore = await cb.RestoreWorker.start(vault, snapObj, [indexObj]);
  try {
    const { report } = await restoreThroughWorker(restore, damaged);
    assert.ok(report.errors !== null && Number(report.errors.count) > 0, JSON.stringify(report));
    // A range that is not what the plan names: the core's error, as its class.
    const plan = await cb.RestoreWorker.start(vault, snapObj, [indexObj]);
    try {
      const fetch = (await plan.plan())[0];
      await assert.rejects(plan.feed(fetch.bundle, 0, new Uint8Array(10)), (e) => e instanceof cb.CloudBackupError && !(e instanceof cb.InvalidStateError));
    } finally {
      plan.close();
    }
  } finally {
    restore.close();
  }
});

test('RestoreWorker: wrong arguments, a wrong key, and calls after close', async () => {
  const { vault, indexObj, snapObj } = backedUp();
  await assert.rejects(cb.RestoreWorker.start(/** @type {never} */ ({}), snapObj, [indexObj]), cb.InvalidArgumentError);
  await assert.rejects(cb.RestoreWorker.start(vault, /** @type {never} */ ('snap'), [indexObj]), cb.InvalidArgumentError);
  await assert.rejects(cb.RestoreWorker.start(vault, snapObj, /** @type {never} */ (indexObj)), cb.InvalidArgumentError);
  await assert.rejects(cb.RestoreWorker.start(vault, snapObj, [/** @type {never} */ ({ id: 1, bytes: 'x' })]), cb.InvalidArgumentError);
  // Another vault's key cannot open this snapshot: rejected with the core's error.
  const other = cb.Vault.create('pw', SMALL, CHEAP);
  await assert.rejects(cb.RestoreWorker.start(other, snapObj, [indexObj]), (e) => e instanceof cb.CloudBackupError);
  await assert.rejects(cb.RestoreWorker.start(vault, snapObj, [indexObj], /** @type {never} */ ({ bogus: 1 })), cb.InvalidJsonError);

  // `new` is not how one starts (it took a function and threw a TypeError).
  for (const args of [[], [vault, snapObj, [indexObj]], [() => {}]]) {
    assert.throws(() => new (/** @type {any} */ (cb.RestoreWorker))(...args),
      (/** @type {any} */ e) => e instanceof cb.InvalidStateError && /RestoreWorker\.start/.test(e.message));
  }

  const restore = await cb.RestoreWorker.start(vault, snapObj, [indexObj]);
  await assert.rejects(restore.feed(/** @type {never} */ (5), 0, new Uint8Array(1)), cb.InvalidArgumentError);
  const bundle = (await restore.plan())[0].bundle;
  await assert.rejects(restore.feed(bundle, -1, new Uint8Array(1)), cb.InvalidArgumentError);
  await assert.rejects(restore.feed(bundle, 0, /** @type {never} */ ('bytes')), cb.InvalidArgumentError);
  await assert.rejects(restore.feed(bundle, 0, /** @type {never} */ ({ fn() {} })), cb.InvalidArgumentError);
  await assert.rejects(restore.failPath('/nope', /** @type {never} */ (7)), cb.InvalidArgumentError);
  // A detached buffer: a rejected promise naming `bytes`, not a throw.
  const detached = new Uint8Array(8);
  structuredClone(detached.buffer, { transfer: [detached.buffer] });
  const fed = restore.feed(bundle, 0, detached);
  assert.ok(fed instanceof Promise);
  await assert.rejects(fed, cb.InvalidArgumentError);
  const pending = restore.plan();
  restore.close();
  await assert.rejects(pending, cb.InvalidStateError);
  await assert.rejects(restore.creates(), cb.InvalidStateError);
  restore.close();
});
