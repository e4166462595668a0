// Every export of the package, and every method of its classes, called with
// odd values (undefined, NaN, 2^60, a BigInt, a Symbol, a lone surrogate, a
// Proxy whose getter throws, bytes where a string goes...) in each argument
// in turn: each call returns, or fails with a CloudBackupError subclass (or
// the value's own error, rethrown). Nothing else: no TypeError from inside,
// no wasm trap, no error thrown later from a timer where nobody can catch it
// (JS `sleep` did that once), and the module still works afterwards.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as cb from '../node.js';

const CHEAP = { memory_kib: 8, iterations: 1, parallelism: 1 };
const SMALL = { chunker: { min_size: 1024, avg_size: 4096, max_size: 16384 }, zstd_level: 3, bundle_size: 65536 };
const NOW = 1_700_000_000_000_000_000n;

/** The error the Proxy below throws: passing it on is right. */
const OWN = new Error('a getter of the argument threw');

const ODD = [
  undefined, null, {}, [], 1.5, -1, NaN, Infinity, 2 ** 60, 'x', '', '\ud800', Symbol('s'), 10n,
  true, () => 1, new Uint8Array(3), new ArrayBuffer(2), new Date(NaN), Object.create(null), [null],
  { length: -1 }, new Proxy({}, { get() { throw OWN; } }),
];

/** Classes built in the test's own instances() (and the errors: tested in errors.test.mjs). */
const ERRORS = new Set(Object.keys(cb).filter((name) => name === 'CloudBackupError' || name.endsWith('Error')));

/**
 * One of each class, on a small vault with one snapshot.
 * @returns {Record<string, object>}
 */
function instances() {
  const vault = cb.Vault.create('pw', SMALL, CHEAP);
  const backup = new cb.BackupSession(vault, new cb.Index());
  backup.startFile('/a', 0o644, 1);
  backup.write(new Uint8Array(5000).fill(7));
  backup.finishFile();
  backup.finish({ time: 1 });
  backup.takeBundles();
  const delta = backup.takeIndex();
  const stored = backup.takeSnapshot();
  assert.ok(delta && stored);
  const index = new cb.Index();
  index.loadDelta(vault, delta.id, delta.bytes);
  const snapshot = cb.Snapshot.open(vault, stored.id, stored.bytes);
  const open = new cb.BackupSession(vault, new cb.Index());
  open.startFile('/b', 0o644, 1);
  const state = new cb.VaultState(vault);
  return {
    Vault: vault,
    Index: index,
    Snapshot: snapshot,
    BackupSession: open,
    RestoreSession: new cb.RestoreSession(vault, snapshot, index),
    VaultState: state,
    Verifier: new cb.Verifier(vault, index),
    Dump: new cb.Dump(vault, index, snapshot, '/a'),
    LockTable: new cb.LockTable(NOW, 'host'),
    Lock: new cb.Lock('backup', false, 'host', 1, NOW),
    BackupFilter: new cb.BackupFilter(null),
  };
}

/** The classes instances() makes. */
const MADE = new Set(Object.keys(instances()));

/**
 * `call()`'s failure, if it is not one the package should give: null when
 * it returned (or resolved), threw a CloudBackupError, or passed on OWN.
 * @param {() => unknown} call
 * @returns {Promise<{ failure: string | null, returned: boolean }>}
 */
async function outcome(call) {
  try {
    await call();
    return { failure: null, returned: true };
  } catch (e) {
    if (e instanceof cb.CloudBackupError || e === OWN) return { failure: null, returned: false };
    return { failure: `${/** @type {Error} */ (e)?.constructor?.name}: ${String(/** @type {Error} */ (e)?.message).slice(0, 120)}`, returned: false };
  }
}

/** @param {string} value */
function describe(value) {
  try {
    return typeof value === 'symbol' ? 'a Symbol' : typeof value === 'bigint' ? `${value}n` : JSON.stringify(value) ?? String(value);
  } catch {
    return typeof value;
  }
}

test('every export and method, given odd values, returns or throws a CloudBackupError', async () => {
  /** @type {string[]} */
  const failures = [];
  let calls = 0;
  /**
   * Calls `fn` with `arity` plausible arguments (`fill`) and each odd value
   * in each place in turn. `target()` gives the `this` to call on.
   * @param {string} label @param {() => any} target @param {(self: any) => Function} fn
   * @param {number} arity @param {unknown} fill
   */
  async function sweep(label, target, fn, arity, fill) {
    for (let pos = 0; pos < Math.max(arity, 1); pos++) {
      let self = target();
      for (const odd of ODD) {
        const args = Array(Math.max(arity, pos + 1)).fill(fill);
        args[pos] = odd;
        calls++;
        const { failure, returned } = await outcome(() => fn(self).apply(self, args));
        if (failure) failures.push(`${label}(argument ${pos} = ${describe(/** @type {string} */ (odd))}): ${failure}`);
        // A call that went through may have changed or used up the object.
        if (returned) self = target();
      }
    }
  }

  for (const name of Object.keys(cb).sort()) {
    const value = /** @type {Record<string, unknown>} */ (cb)[name];
    if (typeof value !== 'function' || ERRORS.has(name) || name === 'default' || name === 'init') continue;
    const fn = /** @type {Function} */ (value);
    if (!/^[A-Z]/.test(name)) {
      await sweep(name, () => undefined, () => fn, fn.length, 'x');
      continue;
    }
    // The constructor, then the static methods, then the methods of one made by instances().
    await sweep(`new ${name}`, () => undefined, () => function (/** @type {unknown[]} */ ...args) { return Reflect.construct(fn, args); }, Math.max(fn.length, 4), undefined);
    for (const method of Object.getOwnPropertyNames(fn)) {
      const m = Object.getOwnPropertyDescriptor(fn, method)?.value;
      if (typeof m !== 'function' || method.startsWith('__')) continue;
      await sweep(`${name}.${method}`, () => fn, () => m, m.length, undefined);
    }
    if (!MADE.has(name)) continue;
    for (const method of Object.getOwnPropertyNames(fn.prototype)) {
      const m = Object.getOwnPropertyDescriptor(fn.prototype, method)?.value;
      if (typeof m !== 'function' || method === 'constructor' || method === 'free' || method.startsWith('__')) continue;
      await sweep(`${name}#${method}`, () => instances()[name], () => m, m.length, undefined);
    }
  }
  // Timers a call set (sleep's) run before the end of the test.
  await new Promise((resolve) => setTimeout(resolve, 20));
  assert.ok(calls > 5000, `only ${calls} calls made: the sweep lost its exports`);
  assert.deepEqual(failures, []);
  // The module still works.
  const vault = cb.Vault.create('pw', SMALL, CHEAP);
  assert.ok(vault.config().length > 0);
});
