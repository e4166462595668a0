// RestoreSession.feedAsync (web/async.js): each blob's AES-256-GCM opened by
// WebCrypto, the rest by the core. It must give what feed gives: the same
// writes, the same report for every bundle mutation of the tamper plan
// (tests/data/tamper/plan.json), the same argument errors, and feed itself
// where WebCrypto is missing.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as cb from '../node.js';
import { fixture, fixtureJson } from './helpers.mjs';

const plan = /** @type {{ password: string, snapshots: string[], objects: string[], mutations: { op: string, object: string, offset?: number, xor?: number, length?: number }[] }} */ (
  fixtureJson('tests/data/tamper/plan.json'));

/** @param {string} name */
const idOf = (name) => name.slice(name.lastIndexOf('/') + 1);

/** @returns {Map<string, Uint8Array>} the fixture vault's objects */
function objects() {
  return new Map(plan.objects.map((name) => [name, fixture(`tests/data/tamper/vault/${name}`)]));
}

/**
 * Restores every snapshot of `objs`, feeding ranges with `feed` or
 * `feedAsync` (one after another, or all at once): the files and each
 * session's report.
 * @param {Map<string, Uint8Array>} objs @param {'feed' | 'async' | 'async-all'} how
 */
async function restoreAll(objs, how) {
  const vault = cb.Vault.open(/** @type {Uint8Array} */ (objs.get('config')), plan.password);
  const index = new cb.Index();
  for (const name of [...objs.keys()].filter((k) => k.startsWith('index/')).sort()) {
    index.loadDelta(vault, idOf(name), /** @type {Uint8Array} */ (objs.get(name)));
  }
  const out = [];
  for (const id of plan.snapshots) {
    const snap = cb.Snapshot.open(vault, id, /** @type {Uint8Array} */ (objs.get(`snapshots/${id}`)));
    const session = new cb.RestoreSession(vault, snap, index);
    /** @type {Map<string, Uint8Array>} */
    const files = new Map();
    for (const c of session.creates()) if (c.kind === 'file') files.set(c.path, new Uint8Array(c.size));
    /** @param {cb.Write[]} writes */
    const put = (writes) => {
      for (const w of writes) for (const p of w.places) /** @type {Uint8Array} */ (files.get(p.path)).set(w.data, p.offset);
    };
    /** @type {Promise<cb.Write[]>[]} */
    const pending = [];
    for (const f of session.plan()) {
      const bundle = objs.get(`bundles/${f.bundle}`);
      if (!bundle) {
        session.missing(f.bundle);
        continue;
      }
      for (const r of f.ranges) {
        const bytes = bundle.subarray(r.offset, r.offset + r.length);
        if (how === 'feed') put(session.feed(f.bundle, r.offset, bytes));
        else if (how === 'async') put(await session.feedAsync(f.bundle, r.offset, bytes));
        else pending.push(session.feedAsync(f.bundle, r.offset, bytes));
      }
    }
    for (const writes of await Promise.all(pending)) put(writes);
    const report = session.finish();
    out.push({ files: [...files].map(([path, data]) => [path, Buffer.from(data).toString('hex')]), report });
    session.free();
    snap.free();
  }
  index.free();
  vault.free();
  return out;
}

test('feedAsync restores what feed restores, one range at a time or all at once', async () => {
  const objs = objects();
  const sync = await restoreAll(objs, 'feed');
  assert.ok(sync.every((s) => !s.report.errors), 'the untampered vault restores');
  assert.deepEqual(await restoreAll(objs, 'async'), sync);
  assert.deepEqual(await restoreAll(objs, 'async-all'), sync);
});

test('feedAsync reports every bundle mutation of the tamper plan exactly as feed does', async () => {
  const clean = objects();
  const bundleMutations = plan.mutations.filter((m) => m.object.startsWith('bundles/') && (m.op === 'flip' || m.op === 'truncate'));
  assert.ok(bundleMutations.length > 10, `the plan has bundle mutations (${bundleMutations.length})`);
  let failing = 0;
  for (const m of bundleMutations) {
    const objs = new Map(clean);
    const bytes = /** @type {Uint8Array} */ (objs.get(m.object));
    if (m.op === 'flip') {
      // A copy (a Buffer's slice would share the clean fixture's bytes).
      const b = new Uint8Array(bytes);
      b[/** @type {number} */ (m.offset)] ^= /** @type {number} */ (m.xor);
      objs.set(m.object, b);
    } else {
      objs.set(m.object, bytes.subarray(0, m.length));
    }
    const sync = await restoreAll(objs, 'feed');
    if (sync.some((s) => s.report.errors)) failing++;
    assert.deepEqual(await restoreAll(objs, 'async'), sync, JSON.stringify(m));
    assert.deepEqual(await restoreAll(objs, 'async-all'), sync, `${JSON.stringify(m)}, every range at once`);
  }
  assert.deepEqual(objects(), clean, 'the clean objects stay clean');
  // Most of them must actually fail a restore, or the comparison shows little.
  assert.ok(failing > bundleMutations.length / 2, `${failing} of ${bundleMutations.length} mutations fail a restore`);
});

/** A small session over fresh data, with its one bundle and plan. @param {cb.RestoreOptions} [options] */
function small(options) {
  // Chunks of at most 1 MiB, so that the 3 MiB below are always several
  // chunks: the cut points depend on the vault's own chunker key, and with
  // the default sizes (up to 8 MiB) a vault now and then cut no chunk in
  // 3 MiB, leaving one blob (a fresh clone's CI run once failed so), all in
  // one bundle.
  const settings = { chunker: { min_size: 256 << 10, avg_size: 512 << 10, max_size: 1 << 20 }, zstd_level: 3, bundle_size: 16 << 20 };
  const vault = cb.Vault.create('pw', settings, { memory_kib: 8, iterations: 1, parallelism: 1 });
  const backup = new cb.BackupSession(vault, new cb.Index());
  // Noise (xorshift32): several chunks, none alike.
  const data = new Uint8Array(3 << 20);
  let x = 0x9e3779b9;
  for (let i = 0; i < data.length; i++) {
    x = (x ^ (x << 13)) >>> 0;
    x = (x ^ (x >>> 17)) >>> 0;
    x = (x ^ (x << 5)) >>> 0;
    data[i] = x & 0xff;
  }
  backup.startFile('/f.bin', 0o644, 0);
  backup.write(data);
  backup.finishFile();
  backup.finish({ time: 0 });
  const bundles = new Map(backup.takeBundles().map((b) => [b.id, b.bytes]));
  const indexObj = /** @type {cb.StoredObject} */ (backup.takeIndex());
  const snapObj = /** @type {cb.StoredObject} */ (backup.takeSnapshot());
  const index = new cb.Index();
  index.loadDelta(vault, indexObj.id, indexObj.bytes);
  const snapshot = cb.Snapshot.open(vault, snapObj.id, snapObj.bytes);
  const session = new cb.RestoreSession(vault, snapshot, index, options);
  const fetch = session.plan()[0];
  const bundle = /** @type {Uint8Array} */ (bundles.get(fetch.bundle));
  return { vault, snapshot, index, session, fetch, bundle, data };
}

/** What a call throws (or the promise rejects with), as [class name, message]. @param {() => unknown} fn */
async function failure(fn) {
  try {
    await fn();
  } catch (e) {
    return [e?.constructor?.name, e instanceof Error ? e.message : String(e)];
  }
  return null;
}

test('feedAsync rejects wrong arguments with the errors feed throws', async () => {
  const cases = [
    ['not-an-id', 0, new Uint8Array(1)],
    ['BUNDLE', -1, new Uint8Array(1)],
    ['BUNDLE', '0', new Uint8Array(1)],
    ['BUNDLE', 0, 'bytes'],
    ['BUNDLE', 0, [1, 2, 3]],
    ['BUNDLE', 12345, new Uint8Array(1)],
  ];
  for (const [bundleId, offset, bytes] of cases) {
    // One session for both: a refused call changes nothing.
    const { session, fetch } = small();
    const id = bundleId === 'BUNDLE' ? fetch.bundle : bundleId;
    // @ts-expect-error wrong types on purpose
    const sync = await failure(() => session.feed(id, offset, bytes));
    // @ts-expect-error wrong types on purpose
    const async = await failure(() => session.feedAsync(id, offset, bytes));
    assert.ok(sync, `feed accepts ${String(offset)}, ${typeof bytes}`);
    assert.deepEqual(async, sync);
  }
});

test('feedAsync gives the same data from an ArrayBuffer, and rejects after finish', async () => {
  const { session, fetch, bundle, data } = small();
  const out = new Uint8Array(data.length);
  for (const r of fetch.ranges) {
    const bytes = bundle.slice(r.offset, r.offset + r.length).buffer;
    for (const w of await session.feedAsync(fetch.bundle, r.offset, bytes)) for (const p of w.places) out.set(w.data, p.offset);
  }
  assert.ok(Buffer.from(out).equals(data));
  assert.equal(session.finish().errors, null);
  const again = await failure(() => session.feedAsync(fetch.bundle, fetch.ranges[0].offset, new Uint8Array(1)));
  assert.equal(again?.[0], 'InvalidStateError');
});

test('feedAsync overwrites the key bytes it imported', async () => {
  const { session, fetch, bundle } = small();
  /** @type {Uint8Array[]} */
  const given = [];
  // An internal method (not in the public types).
  const internal = /** @type {{ __blobKey(): Uint8Array }} */ (/** @type {unknown} */ (session));
  const own = internal.__blobKey.bind(session);
  Object.defineProperty(session, '__blobKey', { value: () => { const k = own(); given.push(k); return k; } });
  const r = fetch.ranges[0];
  await session.feedAsync(fetch.bundle, r.offset, bundle.subarray(r.offset, r.offset + r.length));
  assert.equal(given.length, 1);
  assert.equal(given[0].length, 32);
  assert.ok(given[0].every((b) => b === 0), 'the key bytes are zeroed');
});

test('calls made before the key is imported share one import', async () => {
  const objs = objects();
  const proto = cb.RestoreSession.prototype;
  const blobKey = /** @type {PropertyDescriptor} */ (Object.getOwnPropertyDescriptor(proto, '__blobKey'));
  const feedAsync = /** @type {PropertyDescriptor} */ (Object.getOwnPropertyDescriptor(proto, 'feedAsync'));
  const subtle = /** @type {SubtleCrypto} */ (globalThis.crypto.subtle);
  const importKey = subtle.importKey;
  let exported = 0;
  let imported = 0;
  let calls = 0;
  let restored;
  try {
    Object.defineProperty(proto, '__blobKey', {
      ...blobKey,
      /** @this {unknown} */
      value() { exported++; return blobKey.value.call(this); },
    });
    Object.defineProperty(proto, 'feedAsync', {
      ...feedAsync,
      /** @this {unknown} @param {unknown[]} args */
      value(...args) { calls++; return Reflect.apply(feedAsync.value, this, args); },
    });
    // An own property over SubtleCrypto.prototype's, deleted afterwards.
    Object.defineProperty(subtle, 'importKey', {
      configurable: true,
      /** @param {unknown[]} args */
      value: (...args) => { imported++; return Reflect.apply(importKey, subtle, args); },
    });
    // Every range of a session fed at once, before its key is imported.
    restored = await restoreAll(objs, 'async-all');
  } finally {
    Object.defineProperty(proto, '__blobKey', blobKey);
    Object.defineProperty(proto, 'feedAsync', feedAsync);
    Reflect.deleteProperty(subtle, 'importKey');
  }
  assert.deepEqual(restored, await restoreAll(objs, 'feed'));
  const sessions = plan.snapshots.length;
  // Several calls per session, or one import each would prove nothing.
  assert.ok(sessions >= 2 && calls > sessions, `${calls} calls in ${sessions} sessions`);
  assert.equal(exported, sessions, 'the key leaves wasm once per session');
  assert.equal(imported, sessions, 'WebCrypto imports it once per session');
});

test('feedAsync is feed where WebCrypto is missing', async () => {
  const saved = Object.getOwnPropertyDescriptor(globalThis, 'crypto');
  Object.defineProperty(globalThis, 'crypto', { value: undefined, configurable: true, writable: true });
  try {
    const { session, fetch, bundle, data } = small();
    let called = false;
    Object.defineProperty(session, '__sealedBlobs', { value: () => { called = true; throw new Error('not to be called'); } });
    const out = new Uint8Array(data.length);
    for (const r of fetch.ranges) {
      for (const w of await session.feedAsync(fetch.bundle, r.offset, bundle.subarray(r.offset, r.offset + r.length))) {
        for (const p of w.places) out.set(w.data, p.offset);
      }
    }
    assert.equal(called, false);
    assert.ok(Buffer.from(out).equals(data));
  } finally {
    if (saved) Object.defineProperty(globalThis, 'crypto', saved);
  }
});

test('feedAsync takes bytes on a SharedArrayBuffer (which WebCrypto refuses) by feed', async () => {
  const { session, fetch, bundle, data } = small();
  const out = new Uint8Array(data.length);
  for (const r of fetch.ranges) {
    const shared = new Uint8Array(new SharedArrayBuffer(r.length));
    shared.set(bundle.subarray(r.offset, r.offset + r.length));
    for (const w of await session.feedAsync(fetch.bundle, r.offset, shared)) for (const p of w.places) out.set(w.data, p.offset);
  }
  assert.ok(Buffer.from(out).equals(data));
  assert.equal(session.finish().errors, null);
});

/** Restores `small()`'s data with every range fed by `feedAsync`, `change` run on each range's bytes right after the call. @param {(bytes: Uint8Array) => void} change */
async function changedAfterCall(change) {
  // A range per blob: the first call (which imports the key) and later ones.
  const { session, fetch, bundle, data } = small({ max_range: 1 });
  assert.ok(fetch.ranges.length > 1);
  const out = new Uint8Array(data.length);
  /** @type {Promise<cb.Write[]>[]} */
  const fed = [];
  for (const r of fetch.ranges) {
    const bytes = bundle.slice(r.offset, r.offset + r.length);
    fed.push(session.feedAsync(fetch.bundle, r.offset, bytes));
    change(bytes);
  }
  for (const writes of await Promise.all(fed)) for (const w of writes) for (const p of w.places) out.set(w.data, p.offset);
  return { same: Buffer.from(out).equals(data), report: session.finish() };
}

test('feedAsync reads the bytes during the call: the caller may reuse its buffer once it returns', async () => {
  const { same, report } = await changedAfterCall((bytes) => bytes.fill(0));
  assert.equal(report.errors, null);
  assert.ok(same);
});

test('finish while a feedAsync is pending fails its files instead of leaving them out', async () => {
  const { session, fetch, bundle } = small({ max_range: 1 });
  const r = fetch.ranges[0];
  // The first call imports the key first; a second call's blobs are out at once.
  await session.feedAsync(fetch.bundle, r.offset, bundle.subarray(r.offset, r.offset + r.length));
  const rest = fetch.ranges.slice(1);
  assert.ok(rest.length > 0, 'the file spans several ranges');
  const pending = rest.map((q) => session.feedAsync(fetch.bundle, q.offset, bundle.subarray(q.offset, q.offset + q.length)));
  const report = session.finish();
  assert.equal(report.files_restored, 0);
  assert.match(JSON.stringify(report.errors), /finished while the blob was being opened/);
  for (const p of pending) assert.equal((await failure(() => p))?.[0], 'InvalidStateError');
});

test('a WebCrypto failure (not a bad tag) rejects, and the files fail', async () => {
  const { session, fetch, bundle } = small();
  const subtle = /** @type {SubtleCrypto} */ (globalThis.crypto.subtle);
  const decrypt = subtle.decrypt;
  Object.defineProperty(subtle, 'decrypt', { value: () => Promise.reject(new TypeError('engine out of order')), configurable: true, writable: true });
  try {
    const r = fetch.ranges[0];
    const f = await failure(() => session.feedAsync(fetch.bundle, r.offset, bundle.subarray(r.offset, r.offset + r.length)));
    assert.deepEqual(f, ['InvalidStateError', 'the restore session could not open a blob: WebCrypto failed (engine out of order)']);
  } finally {
    Object.defineProperty(subtle, 'decrypt', { value: decrypt, configurable: true, writable: true });
  }
  const report = session.finish();
  assert.equal(report.files_restored, 0);
  assert.match(JSON.stringify(report.errors), /engine out of order/);
});

test("the restore Worker's replies go out in order, even after one could not be sent", async () => {
  const { serve } = await import('../restore-worker.js');
  /** @type {unknown[]} */
  const sent = [];
  let refuse = true;
  /** @param {unknown} reply */
  const send = (reply) => {
    if (refuse) {
      refuse = false;
      throw new Error('DataCloneError');
    }
    sent.push(reply);
  };
  // No session in this module: each call is answered with an error.
  for (const id of [1, 2, 3]) serve({ id, method: 'plan', args: [] }, send);
  await new Promise((resolve) => setTimeout(resolve, 50));
  assert.deepEqual(sent.map((r) => /** @type {{ id: number, ok: boolean }} */ (r)).map((r) => [r.id, r.ok]), [[1, false], [2, false], [3, false]]);
  assert.match(JSON.stringify(sent[0]), /could not send its reply: DataCloneError/);
  assert.match(JSON.stringify(sent[1]), /has no session/);
});
