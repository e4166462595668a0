// Dump through the package: one file of a snapshot read from only the
// bundle ranges it names, in file order (the core's engine::browse::Dump,
// as the CLI's dump), and the refusals: paths, wrong bytes, wrong arguments.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as cb from '../node.js';
import { throwsExactly } from './helpers.mjs';

const CHEAP = { memory_kib: 8, iterations: 1, parallelism: 1 };
// Small chunks and 64 KiB bundles: 200 KiB span several bundles.
const SMALL = { chunker: { min_size: 1024, avg_size: 4096, max_size: 16384 }, zstd_level: 3, bundle_size: 65536 };
const BIG = 200 * 1024;

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

/** A backup of a big file, a small one, an empty one and a symlink, stored as a host stores it. */
function fixture() {
  const vault = cb.Vault.create('pw', SMALL, CHEAP);
  const big = random(BIG, 7);
  const backup = new cb.BackupSession(vault, new cb.Index());
  backup.addDir('/d', 0o755, 1);
  /** @type {[string, Uint8Array][]} */
  const files = [
    ['/d/big.bin', big],
    ['/d/empty', new Uint8Array(0)],
    ['/d/small.txt', new TextEncoder().encode('hello, dump\n')],
  ];
  /** @type {Map<string, Uint8Array>} */
  const bundles = new Map();
  const take = () => {
    for (const b of backup.takeBundles()) bundles.set(b.id, b.bytes);
  };
  for (const [path, data] of files) {
    backup.startFile(path, 0o644, 1);
    for (let off = 0; off < data.length; off += 7000) {
      backup.write(data.subarray(off, off + 7000));
      take();
    }
    backup.finishFile();
  }
  backup.addSymlink('/d/link', 'big.bin', 1);
  backup.finish({ time: 1 });
  take();
  const indexObj = backup.takeIndex();
  const snapObj = backup.takeSnapshot();
  assert.ok(indexObj && snapObj);
  const index = new cb.Index();
  index.loadDelta(vault, indexObj.id, indexObj.bytes);
  const snapshot = cb.Snapshot.open(vault, snapObj.id, snapObj.bytes);
  return { vault, index, snapshot, bundles, big };
}

/** The file `dump` names, read range by range; and how many bundles it read. @param {cb.Dump} dump @param {Map<string, Uint8Array>} bundles */
function readAll(dump, bundles) {
  const out = new Uint8Array(dump.size());
  let at = 0;
  /** @type {Set<string>} */
  const read = new Set();
  dump.fetches().forEach((f, i) => {
    const bundle = bundles.get(f.bundle);
    assert.ok(bundle, `bundle ${f.bundle} was stored`);
    assert.ok(f.offset + f.length <= bundle.length);
    read.add(f.bundle);
    const plain = dump.open(i, bundle.subarray(f.offset, f.offset + f.length));
    assert.ok(plain instanceof Uint8Array);
    out.set(plain, at);
    at += plain.length;
  });
  assert.equal(at, out.length);
  return { data: out, bundles: read.size };
}

test('a file dumps byte-exactly from only the ranges it names, in file order', () => {
  const f = fixture();
  assert.ok(f.bundles.size >= 3, `${f.bundles.size} bundles`);
  const dump = new cb.Dump(f.vault, f.index, f.snapshot, '/d/big.bin');
  assert.equal(dump.size(), BIG);
  const fetches = dump.fetches();
  assert.ok(fetches.length >= 10, `${fetches.length} blobs`);
  for (const x of fetches) {
    assert.deepEqual(Object.keys(x), ['bundle', 'offset', 'length']);
    assert.match(x.bundle, /^[0-9a-f]{64}$/);
  }
  const got = readAll(dump, f.bundles);
  assert.deepEqual(got.data, f.big);
  assert.ok(got.bundles >= 2, `read ${got.bundles} bundles`);

  // The path as bytes names the same file; a small file is one blob.
  const small = new cb.Dump(f.vault, f.index, f.snapshot, new TextEncoder().encode('/d/small.txt'));
  assert.equal(small.fetches().length, 1);
  assert.equal(new TextDecoder().decode(readAll(small, f.bundles).data), 'hello, dump\n');
  const empty = new cb.Dump(f.vault, f.index, f.snapshot, '/d/empty');
  assert.equal(empty.size(), 0);
  assert.deepEqual(empty.fetches(), []);
});

test('dump refuses what is not a file of the snapshot, and bytes that are not the blob', () => {
  const f = fixture();
  const missing = throwsExactly(() => new cb.Dump(f.vault, f.index, f.snapshot, '/d/nothing'), cb.NotFoundError, 'not_found');
  assert.match(missing.message, /\/d\/nothing/);
  // Any bytes name a path; the message quotes them.
  const latin = throwsExactly(
    () => new cb.Dump(f.vault, f.index, f.snapshot, new Uint8Array([0x2f, 0x63, 0x61, 0x66, 0xe9])),
    cb.NotFoundError,
    'not_found',
  );
  assert.match(latin.message, /caf\\xe9/);
  const dir = throwsExactly(() => new cb.Dump(f.vault, f.index, f.snapshot, '/d'), cb.InvalidValueError, 'invalid_value');
  assert.match(dir.message, /not a file/);
  throwsExactly(() => new cb.Dump(f.vault, f.index, f.snapshot, '/d/link'), cb.InvalidValueError, 'invalid_value');
  // An index without the file's blobs.
  const noBlobs = throwsExactly(() => new cb.Dump(f.vault, new cb.Index(), f.snapshot, '/d/big.bin'), cb.NotFoundError, 'not_found');
  assert.match(noBlobs.message, /blob/);

  const dump = new cb.Dump(f.vault, f.index, f.snapshot, '/d/big.bin');
  const [a, b] = dump.fetches();
  const bundleA = f.bundles.get(a.bundle);
  const bundleB = f.bundles.get(b.bundle);
  assert.ok(bundleA && bundleB);
  const sealedA = bundleA.slice(a.offset, a.offset + a.length);
  // Another blob's bytes, one byte changed, one byte short, nothing.
  throwsExactly(() => dump.open(0, bundleB.subarray(b.offset, b.offset + b.length)), cb.CorruptError, 'corrupt');
  const changed = sealedA.slice();
  changed[changed.length >> 1] ^= 0x40;
  throwsExactly(() => dump.open(0, changed), cb.CorruptError, 'corrupt');
  throwsExactly(() => dump.open(0, sealedA.subarray(1)), cb.CorruptError, 'corrupt');
  throwsExactly(() => dump.open(0, new Uint8Array(0)), cb.CorruptError, 'corrupt');
  // The right bytes still open, as any BufferSource.
  assert.deepEqual(dump.open(0, sealedA.buffer), f.big.subarray(0, dump.open(0, sealedA).length));
  const outOfRange = throwsExactly(() => dump.open(dump.fetches().length, sealedA), cb.InvalidArgumentError, 'invalid_argument');
  assert.equal(outOfRange.details.name, 'i');
});

test('wrong arguments throw the typed errors naming the argument', () => {
  const f = fixture();
  /** @type {[string, () => unknown][]} */
  const cases = [
    ['vault', () => new cb.Dump(/** @type {never} */ (f.index), f.index, f.snapshot, '/d/big.bin')],
    ['index', () => new cb.Dump(f.vault, /** @type {never} */ (null), f.snapshot, '/d/big.bin')],
    ['snapshot', () => new cb.Dump(f.vault, f.index, /** @type {never} */ ('snap'), '/d/big.bin')],
    ['path', () => new cb.Dump(f.vault, f.index, f.snapshot, /** @type {never} */ (42))],
    ['path', () => new cb.Dump(f.vault, f.index, f.snapshot, /** @type {never} */ (undefined))],
  ];
  const dump = new cb.Dump(f.vault, f.index, f.snapshot, '/d/big.bin');
  const sealed = new Uint8Array(8);
  cases.push(
    ['i', () => dump.open(/** @type {never} */ ('0'), sealed)],
    ['i', () => dump.open(-1, sealed)],
    ['i', () => dump.open(0.5, sealed)],
    ['bytes', () => dump.open(0, /** @type {never} */ ('bytes'))],
    ['bytes', () => dump.open(0, /** @type {never} */ ([1, 2, 3]))],
  );
  for (const [name, call] of cases) {
    const e = throwsExactly(call, cb.InvalidArgumentError, 'invalid_argument');
    assert.equal(e.details.name, name, e.message);
    assert.match(e.message, new RegExp('`' + name + '`'));
  }
  // A freed handle is a state error, not a crash.
  const gone = new cb.Dump(f.vault, f.index, f.snapshot, '/d/small.txt');
  gone.free();
  assert.throws(() => gone.size(), cb.InvalidStateError);
});
