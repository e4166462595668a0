// The browser's restore of bench.mjs's kind of data, run in a page of the
// demo server by page.evaluate (so self-contained: playwright sends its
// text): a backup made in the page, then restores with feed, with
// feedAsync (WebCrypto) and through a RestoreWorker, and the same with one
// byte of a bundle flipped. test/browser.mjs checks the outcomes agree;
// bench/bench.mjs (`make bench-web`) prints the figures against native.

/**
 * @param {{ mib: number, runs: number }} options the data's size, and how
 *   many timed runs of each way (the best counts)
 */
export async function pageRestore({ mib, runs }) {
  const served = '/web/index.js';
  const cb = /** @type {typeof import('../index.js')} */ (await import(served));
  await cb.init();
  const vault = cb.Vault.create('pw', null, { memory_kib: 8, iterations: 1, parallelism: 1 });
  const backup = new cb.BackupSession(vault, new cb.Index());
  // bench.mjs's data: MiBs of noise and of text in turn.
  const data = new Uint8Array(mib << 20);
  const text = new TextEncoder().encode('The quick brown fox jumps over the lazy dog. 0123456789\n');
  let x = 0x9e3779b9;
  for (let i = 0; i < data.length; i++) {
    if ((i >> 20) % 2 === 0) {
      x = (x ^ (x << 13)) >>> 0;
      x = (x ^ (x >>> 17)) >>> 0;
      x = (x ^ (x << 5)) >>> 0;
      data[i] = x & 0xff;
    } else {
      data[i] = text[(i & 0xfffff) % text.length];
    }
  }
  backup.startFile('/a.bin', 0o644, 1_700_000_000);
  backup.write(data);
  backup.finishFile();
  backup.finish({ time: 1_700_000_100 });
  /** Bundle id -> bytes. @type {Map<string, Uint8Array>} */
  const bundles = new Map(backup.takeBundles().map((b) => [b.id, b.bytes]));
  const index = new cb.Index();
  const indexObj = /** @type {import('../index.js').StoredObject} */ (backup.takeIndex());
  const snapObj = /** @type {import('../index.js').StoredObject} */ (backup.takeSnapshot());
  index.loadDelta(vault, indexObj.id, indexObj.bytes);
  const snapshot = cb.Snapshot.open(vault, snapObj.id, snapObj.bytes);
  /**
   * The file the writes make, and whether it is the data. Compared after
   * the caller's clock stops: a JS loop over 16 MiB takes ~23 ms in
   * Chromium, which the restore does not (native compares with memcmp).
   * @param {import('../index.js').Write[][]} all
   */
  const placed = (all) => {
    const out = new Uint8Array(data.length);
    for (const writes of all) for (const w of writes) for (const p of w.places) out.set(w.data, p.offset);
    return () => {
      let same = true;
      for (let i = 0; same && i < data.length; i++) same = out[i] === data[i];
      return same;
    };
  };
  /** @param {Map<string, Uint8Array>} stored @param {boolean} async */
  const restore = async (stored, async) => {
    const start = performance.now();
    const session = new cb.RestoreSession(vault, snapshot, index);
    /** @type {(import('../index.js').Write[] | Promise<import('../index.js').Write[]>)[]} */
    const fed = [];
    for (const f of session.plan()) {
      const bytes = /** @type {Uint8Array} */ (stored.get(f.bundle));
      for (const r of f.ranges) {
        const range = bytes.subarray(r.offset, r.offset + r.length);
        // feedAsync: every range at once, as a page that has the bytes would.
        fed.push(async ? session.feedAsync(f.bundle, r.offset, range) : session.feed(f.bundle, r.offset, range));
      }
    }
    const same = placed(await Promise.all(fed));
    const report = session.finish();
    const ms = performance.now() - start;
    return { same: same(), report: JSON.stringify(report), ms };
  };
  // The first bundle with a byte of its first blob flipped.
  const tampered = new Map(bundles);
  const [firstId, first] = [...bundles][0];
  const flipped = first.slice();
  flipped[100] ^= 1;
  tampered.set(firstId, flipped);
  /**
   * The same through a RestoreWorker (its feed is feedAsync in the
   * Worker); timed from when it has started.
   * @param {Map<string, Uint8Array>} stored
   */
  const viaWorker = async (stored) => {
    const begin = performance.now();
    const worker = await cb.RestoreWorker.start(vault, snapObj, [indexObj]);
    const start = performance.now();
    /** @type {Promise<import('../index.js').Write[]>[]} */
    const fed = [];
    for (const f of await worker.plan()) {
      const bytes = /** @type {Uint8Array} */ (stored.get(f.bundle));
      for (const r of f.ranges) fed.push(worker.feed(f.bundle, r.offset, bytes.subarray(r.offset, r.offset + r.length)));
    }
    const same = placed(await Promise.all(fed));
    const report = await worker.finish();
    const ms = performance.now() - start;
    worker.close();
    return { same: same(), report: JSON.stringify(report), ms, startMs: start - begin };
  };
  /** A run's files and report, without its time. @param {{ same: boolean, report: string }} run */
  const outcome = ({ same, report }) => ({ same, report });
  /** Best of `runs`, in ms. @param {() => Promise<{ same: boolean, ms: number }>} run */
  const timed = async (run) => {
    let best = Infinity;
    for (let i = 0; i < runs; i++) {
      const r = await run();
      if (!r.same) throw new Error('restore differs');
      best = Math.min(best, r.ms);
    }
    return best;
  };
  const started = await viaWorker(bundles);
  return {
    clean: outcome(await restore(bundles, true)), cleanSync: outcome(await restore(bundles, false)),
    cleanWorker: outcome(started), badWorker: outcome(await viaWorker(tampered)),
    bad: outcome(await restore(tampered, true)), badSync: outcome(await restore(tampered, false)),
    ms: await timed(() => restore(bundles, true)), msSync: await timed(() => restore(bundles, false)),
    msWorker: await timed(() => viaWorker(bundles)), startMs: started.startMs, mb: data.length / 1e6,
  };
}
