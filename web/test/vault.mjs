// Vaults for the tests and the benchmark, through the package: one read
// from a local vault directory (VAULT/config, bundles/<id>, index/<id>,
// snapshots/<id>, as bindings/c/examples/agent.c lays it out) or backed up
// in memory, then restored or verified.
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { BackupSession, Index, RestoreSession, Snapshot, Vault, Verifier, verifyPlan } from '../node.js';

/** @param {string} dir @param {string} sub @returns {[string, Uint8Array][]} */
export function objects(dir, sub) {
  return readdirSync(join(dir, sub)).sort().map((name) => [name, new Uint8Array(readFileSync(join(dir, sub, name)))]);
}

/**
 * Opens the vault in `dir` and loads its index and snapshots.
 * @param {string} dir @param {string | Uint8Array} password
 */
export function openVault(dir, password) {
  const vault = Vault.open(new Uint8Array(readFileSync(join(dir, 'config'))), password);
  const index = new Index();
  for (const [id, bytes] of objects(dir, 'index')) index.loadDelta(vault, id, bytes);
  const bundles = new Map(objects(dir, 'bundles'));
  const snapshots = objects(dir, 'snapshots').map(([id, bytes]) => Snapshot.open(vault, id, bytes));
  return { vault, index, bundles, snapshots };
}

/**
 * Backs `data` up as the one file `path` of a new snapshot in `vault`, and
 * opens what it stored with `reader` (the same vault by default, or another
 * opening of it): a vault in memory for `restoreToMemory` and `verifyAll`.
 * @param {Vault} vault @param {string} path @param {Uint8Array} data @param {Vault} [reader]
 */
export function backUpOneFile(vault, path, data, reader = vault) {
  const backup = new BackupSession(vault, new Index());
  backup.startFile(path, 0o644, 0);
  backup.write(data);
  backup.finishFile();
  backup.finish({ time: 1 });
  const bundles = new Map(backup.takeBundles().map((b) => [b.id, b.bytes]));
  const indexObj = /** @type {import('../node.js').StoredObject} */ (backup.takeIndex());
  const snapObj = /** @type {import('../node.js').StoredObject} */ (backup.takeSnapshot());
  const index = new Index();
  index.loadDelta(reader, indexObj.id, indexObj.bytes);
  const snapshot = Snapshot.open(reader, snapObj.id, snapObj.bytes);
  return { vault: reader, index, bundles, snapshots: [snapshot] };
}

/**
 * Restores `snapshot` into memory: path -> bytes (files), path -> target (symlinks).
 * @param {ReturnType<typeof openVault>} v @param {Snapshot} snapshot
 * @param {import('../node.js').RestoreOptions} [options]
 */
export function restoreToMemory(v, snapshot, options) {
  const session = new RestoreSession(v.vault, snapshot, v.index, options);
  /** @type {Map<string, Uint8Array>} */
  const files = new Map();
  /** @type {Map<string, string>} */
  const symlinks = new Map();
  for (const c of session.creates()) {
    if (c.kind === 'file') files.set(c.path, new Uint8Array(c.size));
    else if (c.kind === 'symlink') symlinks.set(c.path, c.target);
  }
  for (const fetch of session.plan()) {
    const bundle = v.bundles.get(fetch.bundle);
    if (!bundle) {
      session.missing(fetch.bundle);
      continue;
    }
    const ranges = fetch.ranges.length ? fetch.ranges : [{ offset: 0, length: bundle.length }];
    for (const r of ranges) {
      for (const w of session.feed(fetch.bundle, r.offset, bundle.subarray(r.offset, r.offset + r.length))) {
        for (const p of w.places) {
          const file = files.get(p.path);
          if (!file) throw new Error(`write to ${p.path}, which was not created`);
          file.set(w.data, p.offset);
        }
      }
    }
  }
  return { files, symlinks, report: session.finish() };
}

/** Verifies every bundle of the vault. @param {ReturnType<typeof openVault>} v */
export function verifyAll(v) {
  const verifier = new Verifier(v.vault, v.index);
  for (const fetch of verifyPlan(v.index, 1, 0)) {
    const bundle = v.bundles.get(fetch.bundle);
    if (bundle) verifier.feed(fetch.bundle, bundle);
    else verifier.missing(fetch.bundle);
  }
  return verifier.report();
}
