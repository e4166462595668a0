// The tamper matrix through the wasm package: every mutation of the shared
// plan (tests/data/tamper/plan.json, see tests/interop/README.md) applied to
// an in-memory copy of the fixture vault, then the host's pipeline (open,
// index, snapshots, restore every snapshot, verify). Each mutation must fail
// the stages the plan names with a typed error (a CloudBackupError subclass)
// whose code the plan accepts, and no restored byte may differ from the
// untampered vault's.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as cb from '../node.js';
import { fixture, fixtureJson } from './helpers.mjs';

/**
 * @typedef {{ op: 'flip' | 'truncate' | 'swap' | 'delete', object: string, with?: string, offset?: number,
 *   xor?: number, length?: number, region: string, accept: string[], fails: string[] }} Mutation
 * @typedef {Map<string, Uint8Array>} Objects
 * @typedef {Map<string, Uint8Array>[]} Baseline per snapshot, path -> content
 * @typedef {Map<string, [string, number, number][]>[]} Reads per snapshot, path -> (bundle, start, end) ranges
 * @typedef {{ paths: string[][], bundles: Set<string> } | null} Scope null: everything
 */

const plan = /** @type {{ password: string, snapshots: string[], objects: string[], mutations: Mutation[] }} */ (
  fixtureJson('tests/data/tamper/plan.json'));

/** @param {string} name */
const idOf = (name) => name.slice(name.lastIndexOf('/') + 1);
/** @param {string} path */
const globEscape = (path) => path.replace(/[*?[\]{}\\]/g, (c) => '\\' + c);

/** The typed error's code; anything else (a crash, a plain Error) fails the test. @param {unknown} e */
function codeOf(e) {
  assert.ok(e instanceof cb.CloudBackupError, `not a typed error: ${String(e)}`);
  if (e.code === 'corrupt') assert.ok(e instanceof cb.CorruptError);
  if (e.code === 'foreign_vault') assert.ok(e instanceof cb.ForeignVaultError);
  return e.code;
}

/**
 * The host's pipeline over `objects`, within `scope` (parts whose inputs the
 * mutation leaves alone give the untampered answer and are not re-run; see
 * core/tests/tamper_matrix.rs).
 * @param {Objects} objects @param {Baseline | null} baseline @param {Scope} scope
 */
function pipeline(objects, baseline, scope) {
  /** @type {[string, string][]} */
  const errors = [];
  /** @type {Baseline} */
  const files = [];
  let badWrites = 0;
  const config = objects.get('config');
  if (!config) return { errors: [['open', 'not_found']], badWrites, files };
  /** @type {cb.Vault} */
  let vault;
  try {
    vault = cb.Vault.open(config, plan.password);
  } catch (e) {
    return { errors: [['open', codeOf(e)]], badWrites, files };
  }
  const index = new cb.Index();
  /** @type {cb.Snapshot[]} */
  const snaps = [];
  try {
    for (const name of [...objects.keys()].filter((k) => k.startsWith('index/')).sort()) {
      try {
        index.loadDelta(vault, idOf(name), /** @type {Uint8Array} */ (objects.get(name)));
      } catch (e) {
        errors.push(['index', codeOf(e)]);
        return { errors, badWrites, files };
      }
    }
    for (const id of plan.snapshots) {
      const bytes = objects.get(`snapshots/${id}`);
      if (!bytes) {
        errors.push(['snapshot', 'not_found']);
        return { errors, badWrites, files };
      }
      try {
        snaps.push(cb.Snapshot.open(vault, id, bytes));
      } catch (e) {
        errors.push(['snapshot', codeOf(e)]);
        return { errors, badWrites, files };
      }
    }
    snaps.forEach((snap, n) => {
      /** @type {cb.RestoreOptions} */
      const options = {};
      if (scope) {
        if (!scope.paths[n].length) return;
        options.inclusions = scope.paths[n];
      }
      /** @type {cb.RestoreSession} */
      let session;
      try {
        session = new cb.RestoreSession(vault, snap, index, options);
      } catch (e) {
        errors.push(['restore', codeOf(e)]);
        return;
      }
      /** @type {Map<string, Uint8Array>} */
      const out = new Map();
      for (const c of session.creates()) if (c.kind === 'file') out.set(c.path, new Uint8Array(c.size));
      for (const fetch of session.plan()) {
        const bundle = objects.get(`bundles/${fetch.bundle}`);
        if (!bundle) {
          session.missing(fetch.bundle);
          continue;
        }
        for (const r of fetch.ranges) {
          // A short bundle gives a short read, as a file or a ranged GET would.
          for (const w of session.feed(fetch.bundle, r.offset, bundle.subarray(r.offset, r.offset + r.length))) {
            for (const p of w.places) {
              const base = baseline?.[n].get(p.path)?.subarray(p.offset, p.offset + w.data.length);
              if (baseline && !(base && Buffer.from(base).equals(w.data))) badWrites++;
              /** @type {Uint8Array} */ (out.get(p.path)).set(w.data, p.offset);
            }
          }
        }
      }
      const report = session.finish();
      for (const e of report.errors?.list ?? []) errors.push(['restore', e.type]);
      files.push(out);
    });
    const verifier = new cb.Verifier(vault, index);
    for (const fetch of cb.verifyPlan(index, 1, 0)) {
      if (scope && !scope.bundles.has(fetch.bundle)) continue;
      const bytes = objects.get(`bundles/${fetch.bundle}`);
      if (!bytes) {
        verifier.missing(fetch.bundle);
        continue;
      }
      try {
        verifier.feed(fetch.bundle, bytes);
      } catch (e) {
        codeOf(e); // every problem is in the report too
      }
    }
    for (const p of verifier.report().problems) errors.push(['verify', p.code]);
    verifier.free();
  } finally {
    // Free the wasm memory now: the loop makes thousands of these.
    for (const s of snaps) s.free();
    index.free();
    vault.free();
  }
  return { errors, badWrites, files };
}

/** @param {Objects} objects @param {Mutation} m @returns {Objects} */
function mutate(objects, m) {
  const o = new Map(objects);
  const bytes = /** @type {Uint8Array} */ (o.get(m.object));
  if (m.op === 'flip') {
    const b = bytes.slice();
    b[/** @type {number} */ (m.offset)] ^= /** @type {number} */ (m.xor);
    o.set(m.object, b);
  } else if (m.op === 'truncate') {
    o.set(m.object, bytes.subarray(0, m.length));
  } else if (m.op === 'swap') {
    const other = /** @type {string} */ (m.with);
    o.set(m.object, /** @type {Uint8Array} */ (objects.get(other)));
    o.set(other, bytes);
  } else {
    o.delete(m.object);
  }
  return o;
}

/** What each file of each snapshot reads, planned one file at a time. @param {Objects} objects @returns {Reads} */
function reads(objects) {
  const vault = cb.Vault.open(/** @type {Uint8Array} */ (objects.get('config')), plan.password);
  const index = new cb.Index();
  for (const name of [...objects.keys()].filter((k) => k.startsWith('index/')).sort()) {
    index.loadDelta(vault, idOf(name), /** @type {Uint8Array} */ (objects.get(name)));
  }
  return plan.snapshots.map((id) => {
    const snap = cb.Snapshot.open(vault, id, /** @type {Uint8Array} */ (objects.get(`snapshots/${id}`)));
    /** @type {Map<string, [string, number, number][]>} */
    const perFile = new Map();
    for (const e of snap.data().entries) {
      const session = new cb.RestoreSession(vault, snap, index, { inclusions: [globEscape(e.path)], max_gap: 0 });
      perFile.set(e.path, session.plan().flatMap((f) => f.ranges.map((r) => /** @type {[string, number, number]} */ (
        [f.bundle, r.offset, r.offset + r.length]))));
      session.free();
    }
    return perFile;
  });
}

/** @param {Mutation} m @param {Reads} fileReads @returns {Scope} */
function scope(m, fileReads) {
  /** @type {Map<string, [number, number]>} */
  const changed = new Map();
  for (const name of [m.object, m.with]) {
    if (name === undefined) continue;
    if (!name.startsWith('bundles/')) return null;
    const region = m.op === 'flip' ? [Number(m.offset), Number(m.offset) + 1]
      : m.op === 'truncate' ? [Number(m.length), Infinity] : [0, Infinity];
    changed.set(idOf(name), /** @type {[number, number]} */ (region));
  }
  const paths = fileReads.map((perFile) => [...perFile].filter(([, ranges]) => ranges.some(([b, start, end]) => {
    const c = changed.get(b);
    return c !== undefined && c[0] < end && start < c[1];
  })).map(([p]) => globEscape(p)));
  return { paths, bundles: new Set(changed.keys()) };
}

test('tamper matrix: every mutation of the shared plan is detected, with typed errors and no foreign bytes', () => {
  /** @type {Objects} */
  const objects = new Map(plan.objects.map((name) => [name, new Uint8Array(fixture(`tests/data/tamper/vault/${name}`))]));
  const clean = pipeline(objects, null, null);
  assert.deepEqual(clean.errors, []);
  assert.equal(clean.files.length, plan.snapshots.length);
  const fileReads = reads(objects);
  const undetected = [];
  for (const m of plan.mutations) {
    const out = pipeline(mutate(objects, m), clean.files, scope(m, fileReads));
    const failed = new Set(out.errors.map(([s]) => s));
    const ok = out.errors.length > 0 && m.fails.every((s) => failed.has(s))
      && out.errors.every(([, c]) => m.accept.includes(c)) && out.badWrites === 0;
    if (!ok) undetected.push(`${JSON.stringify(m)} -> ${JSON.stringify(out.errors)}, bad writes ${out.badWrites}`);
  }
  const n = plan.mutations.length;
  console.log(`tamper matrix (wasm, node): ${n} mutations, ${n - undetected.length} detected`);
  assert.deepEqual(undetected, []);
});
