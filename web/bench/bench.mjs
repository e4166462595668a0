// Benchmarks of @cloudbackup/core (not tests; `make bench-web`):
//   .wasm raw KB / gzip KB, api and full         (goal: gzip <= 150 / 350 KB)
//   restore MB/s wasm (node), feed and feedAsync, vs native (goal: ratio >= 0.4)
//   restore MB/s in Chromium (bench/browser-restore.mjs), feedAsync vs native
//   validatePatch ops/s vs fast-json-patch        (goal: >= 1.0x)
// The native figure comes from target/release/examples/restore_bench (same
// data, same vault settings), which `make bench-web` builds first.
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { gzipSync } from 'node:zlib';
import { fileURLToPath } from 'node:url';
import fastJsonPatch from 'fast-json-patch';
import * as cb from '../node.js';
import { browserRestore } from './browser-restore.mjs';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const KB = 1000;

// 1. Size.
// The API entry's module (@cloudbackup/core/api) and the whole package's.
for (const [entry, file, goal] of [['api', 'cloudbackup_api_bg.wasm', 150], ['full', 'cloudbackup_wasm_bg.wasm', 350]]) {
  const wasm = readFileSync(new URL(`../dist/${file}`, import.meta.url));
  console.log(`.wasm raw KB (${entry}): ${(wasm.length / KB).toFixed(1)}`);
  console.log(`.wasm gzip KB (${entry}): ${(gzipSync(wasm, { level: 9 }).length / KB).toFixed(1)} (goal <= ${goal})`);
}

// 2. Restore throughput: the data of bindings/wasm/examples/restore_bench.rs.
/** @param {number} mib */
function benchData(mib) {
  const out = new Uint8Array(mib << 20);
  const text = new TextEncoder().encode('The quick brown fox jumps over the lazy dog. 0123456789\n');
  let x = 0x9e3779b9;
  let p = 0;
  for (let m = 0; m < mib; m++) {
    for (let i = 0; i < 1 << 20; i++) {
      if (m % 2 === 0) {
        x = (x ^ (x << 13)) >>> 0;
        x = (x ^ (x >>> 17)) >>> 0;
        x = (x ^ (x << 5)) >>> 0;
        out[p++] = x & 0xff;
      } else {
        out[p++] = text[i % text.length];
      }
    }
  }
  return out;
}

const MIB = 32;
const data = benchData(MIB);
const vault = cb.Vault.create('bench', null, { memory_kib: 8, iterations: 1, parallelism: 1 });
const backup = new cb.BackupSession(vault, new cb.Index());
backup.startFile('/bench.bin', 0o644, 0);
for (let o = 0; o < data.length; o += 1 << 20) backup.write(data.subarray(o, o + (1 << 20)));
backup.finishFile();
backup.finish({ time: 0 });
/** @type {Map<string, Uint8Array>} */
const bundles = new Map(backup.takeBundles().map((b) => [b.id, b.bytes]));
const indexObj = /** @type {import('../node.js').StoredObject} */ (backup.takeIndex());
const snapObj = /** @type {import('../node.js').StoredObject} */ (backup.takeSnapshot());
const index = new cb.Index();
index.loadDelta(vault, indexObj.id, indexObj.bytes);
const snapshot = cb.Snapshot.open(vault, snapObj.id, snapObj.bytes);

/** @param {Uint8Array} a @returns {Buffer} a Buffer over the same bytes (Buffer.from(a) would copy them) */
const view = (a) => Buffer.from(a.buffer, a.byteOffset, a.byteLength);
/**
 * Best of 5 restores of the data, feeding ranges with `feed` or, for
 * 'async', `feedAsync` (AES-GCM opened by WebCrypto): MB/s.
 * @param {'feed' | 'async'} how
 */
async function restoreMBs(how) {
  let best = Infinity;
  for (let run = 0; run < 5; run++) {
    const start = performance.now();
    const session = new cb.RestoreSession(vault, snapshot, index);
    let file = new Uint8Array(0);
    for (const c of session.creates()) if (c.kind === 'file') file = new Uint8Array(c.size);
    for (const f of session.plan()) {
      const bundle = /** @type {Uint8Array} */ (bundles.get(f.bundle));
      for (const r of f.ranges) {
        const bytes = bundle.subarray(r.offset, r.offset + r.length);
        const writes = how === 'feed' ? session.feed(f.bundle, r.offset, bytes) : await session.feedAsync(f.bundle, r.offset, bytes);
        for (const w of writes) {
          for (const p of w.places) file.set(w.data, p.offset);
        }
      }
    }
    const report = session.finish();
    session.free();
    // Compared in place, as the native side compares (two 32 MiB copies were timed before).
    if (report.errors || !view(file).equals(view(data))) throw new Error('restore differs');
    best = Math.min(best, (performance.now() - start) / 1000);
  }
  return data.length / 1e6 / best;
}
const wasmMBs = await restoreMBs('feed');
const asyncMBs = await restoreMBs('async');
console.log(`restore MB/s wasm (node): ${wasmMBs.toFixed(1)} (${MIB} MiB, best of 5)`);
console.log(`restore MB/s wasm + WebCrypto (node, feedAsync): ${asyncMBs.toFixed(1)} (${MIB} MiB, best of 5)`);
const native = `${ROOT}target/release/examples/restore_bench`;
if (existsSync(native)) {
  const line = execFileSync(native, { encoding: 'utf8' }).trim();
  const nativeMBs = Number(/native: ([\d.]+)/.exec(line)?.[1]);
  console.log(line);
  console.log(`restore ratio wasm/native: ${(wasmMBs / nativeMBs).toFixed(2)} (goal >= 0.4)`);
  console.log(`restore ratio wasm+WebCrypto/native: ${(asyncMBs / nativeMBs).toFixed(2)} (goal >= 0.4)`);
  // The goal is the browser's: the same data restored in Chromium,
  // every range fed at once, as a page that has the bytes would.
  const browser = await browserRestore(MIB, 5);
  if ('missing' in browser) {
    console.log(`restore MB/s browser: not measured (${browser.missing})`);
  } else {
    console.log(`restore MB/s browser (Chromium ${browser.version}): feed ${browser.feed.toFixed(1)}, `
      + `feedAsync ${browser.feedAsync.toFixed(1)}, RestoreWorker ${browser.worker.toFixed(1)} (${MIB} MiB, best of 5)`);
    console.log(`restore ratio browser feedAsync/native: ${(browser.feedAsync / nativeMBs).toFixed(2)} (goal >= 0.4)`);
  }
} else {
  console.log(`restore MB/s native: not measured (${native} not built)`);
}

// 3. Patch validation vs fast-json-patch applying the same patch.
const restore = JSON.parse(readFileSync(`${ROOT}tests/data/rackspace/samples-v2/cbu-getRestoreDetails_response.json`, 'utf8'));
const resource = { ...restore, state: 'in_progress', errors: null, ended_time: null };
const patch = JSON.parse(readFileSync(`${ROOT}tests/data/rackspace/samples-v2/cbu-updateRestore_request.json`, 'utf8'));
/** @param {() => unknown} fn @returns {number} ops/s, best of 3 runs of ~0.5 s */
function opsPerSecond(fn) {
  let bestOps = 0;
  for (let run = 0; run < 3; run++) {
    let n = 0;
    const start = performance.now();
    let elapsed = 0;
    while (elapsed < 500) {
      for (let i = 0; i < 100; i++) fn();
      n += 100;
      elapsed = performance.now() - start;
    }
    bestOps = Math.max(bestOps, (n / elapsed) * 1000);
  }
  return bestOps;
}
const ours = opsPerSecond(() => cb.validatePatch('restore', resource, patch, 'agent'));
const theirs = opsPerSecond(() => fastJsonPatch.applyPatch(resource, patch, true, false));
console.log(`patch validation ops/s wasm validatePatch: ${ours.toFixed(0)}`);
console.log(`patch ops/s fast-json-patch applyPatch (validate, no mutation): ${theirs.toFixed(0)}`);
console.log(`validatePatch vs fast-json-patch: ${(ours / theirs).toFixed(2)}x (ops/s ratio, goal >= 1.0x)`);
