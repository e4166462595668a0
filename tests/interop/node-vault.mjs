// The node side of the interop matrix: a local vault directory (config,
// bundles/<id>, index/<id>, snapshots/<id>, as bindings/c/examples/agent.c
// and the Python CLI lay it out) driven through the npm package's public API.
//
//   node node-vault.mjs backup SRC VAULT      back SRC up (creates VAULT if needed)
//   node node-vault.mjs restore VAULT DEST    restore the newest snapshot into DEST
//   node node-vault.mjs snapshots VAULT       one JSON line per snapshot: {"id", "snapshot"}
//   node node-vault.mjs verify VAULT          the verify report as JSON
//
// The password comes from $CLOUDBACKUP_PASSWORD, and for tests
// $CLOUDBACKUP_KDF / $CLOUDBACKUP_SETTINGS (JSON), as for the other two.
// Each command prints one JSON object on its last line.
import {
  closeSync, existsSync, fsyncSync, lstatSync, lutimesSync, mkdirSync, openSync, readFileSync, readSync,
  readdirSync, readlinkSync, renameSync, symlinkSync, unlinkSync, utimesSync, writeSync, chmodSync, ftruncateSync,
} from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { BackupSession, Index, RestoreSession, Snapshot, Vault, Verifier, verifyPlan } from '../../web/node.js';

const READ_SIZE = 1 << 20;

function password() {
  const p = process.env.CLOUDBACKUP_PASSWORD;
  if (!p) throw new Error('set CLOUDBACKUP_PASSWORD');
  return p;
}

/** @param {string} name */
const jsonEnv = (name) => (process.env[name] ? JSON.parse(/** @type {string} */ (process.env[name])) : null);

/** Writes through a temporary name and renames, so a crash leaves no partial object. */
function writeAtomic(path, bytes) {
  const tmp = `${path}.tmp`;
  const fd = openSync(tmp, 'w', 0o600);
  try {
    let at = 0;
    while (at < bytes.length) at += writeSync(fd, bytes, at, bytes.length - at);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  renameSync(tmp, path);
}

/** Storage names are 64 hex digits; anything else (a leftover .tmp) is skipped. */
const ids = (dir, sub) => readdirSync(join(dir, sub)).filter((n) => /^[0-9a-f]{64}$/.test(n)).sort();

function openVault(dir, create) {
  const config = join(dir, 'config');
  if (existsSync(config)) return Vault.open(new Uint8Array(readFileSync(config)), password());
  if (!create) throw new Error(`${dir}: no vault here`);
  for (const sub of ['', 'bundles', 'index', 'snapshots']) mkdirSync(join(dir, sub), { recursive: true, mode: 0o700 });
  const vault = Vault.create(password(), jsonEnv('CLOUDBACKUP_SETTINGS'), jsonEnv('CLOUDBACKUP_KDF'));
  writeAtomic(config, vault.config());
  return vault;
}

function loadIndex(dir, vault) {
  const index = new Index();
  for (const id of ids(dir, 'index')) index.loadDelta(vault, id, new Uint8Array(readFileSync(join(dir, 'index', id))));
  return index;
}

/** Names sorted by their UTF-8 bytes, as the C agent (strcmp) and Python (code points) sort them. */
const byBytes = (a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b));

function backup(src, dir) {
  const vault = openVault(dir, true);
  const session = new BackupSession(vault, loadIndex(dir, vault));
  const counts = { files: 0, dirs: 0, symlinks: 0, skipped: 0, new_bundles: 0 };
  const store = () => {
    for (const b of session.takeBundles()) {
      writeAtomic(join(dir, 'bundles', b.id), b.bytes);
      counts.new_bundles++;
    }
  };
  const buf = Buffer.alloc(READ_SIZE);
  const walk = (fsPath, name) => {
    for (const entry of readdirSync(fsPath).sort(byBytes)) {
      const p = join(fsPath, entry);
      const child = `${name === '/' ? '' : name}/${entry}`;
      const st = lstatSync(p);
      const mode = st.mode & 0o7777;
      const mtime = Math.floor(st.mtimeMs / 1000);
      if (st.isFile()) {
        session.startFile(child, mode, mtime);
        const fd = openSync(p, 'r');
        try {
          let n;
          while ((n = readSync(fd, buf, 0, READ_SIZE, null)) > 0) {
            session.write(buf.subarray(0, n));
            store(); // memory stays bounded
          }
        } finally {
          closeSync(fd);
        }
        session.finishFile();
        counts.files++;
      } else if (st.isDirectory()) {
        session.addDir(child, mode, mtime);
        counts.dirs++;
        walk(p, child);
      } else if (st.isSymbolicLink()) {
        session.addSymlink(child, readlinkSync(p), mtime);
        counts.symlinks++;
      } else {
        counts.skipped++;
      }
    }
  };
  walk(src, '/');
  session.finish({ time: Math.floor(Date.now() / 1000), hostname: hostname() });
  store();
  // Bundles first, then the index delta, then the snapshot: a snapshot never
  // names data that is not stored yet.
  const index = /** @type {{ id: string, bytes: Uint8Array }} */ (session.takeIndex());
  writeAtomic(join(dir, 'index', index.id), index.bytes);
  const snapshot = /** @type {{ id: string, bytes: Uint8Array }} */ (session.takeSnapshot());
  writeAtomic(join(dir, 'snapshots', snapshot.id), snapshot.bytes);
  return { snapshot: snapshot.id, counters: session.counters(), ...counts };
}

function snapshots(dir, vault) {
  return ids(dir, 'snapshots').map((id) => ({ id, snapshot: Snapshot.open(vault, id, new Uint8Array(readFileSync(join(dir, 'snapshots', id)))) }))
    .sort((a, b) => a.snapshot.data().time - b.snapshot.data().time || (a.id < b.id ? -1 : 1));
}

/** Refuses snapshot paths that could leave the destination. */
function safeJoin(root, path) {
  if (!path.startsWith('/') || path.split('/').includes('..')) throw new Error(`refusing path ${path}`);
  return join(root, path);
}

function restore(dir, dest) {
  const vault = openVault(dir, false);
  const index = loadIndex(dir, vault);
  const all = snapshots(dir, vault);
  if (!all.length) throw new Error(`${dir}: no snapshot`);
  const { id, snapshot } = all[all.length - 1];
  const session = new RestoreSession(vault, snapshot, index);
  const creates = session.creates();
  mkdirSync(dest, { recursive: true });
  for (const c of creates) {
    const p = safeJoin(dest, c.path);
    if (c.kind === 'dir') mkdirSync(p, { recursive: true });
    else if (c.kind === 'symlink') symlinkSync(c.target, p);
    else {
      const fd = openSync(p, 'w', 0o600);
      ftruncateSync(fd, c.size);
      closeSync(fd);
    }
  }
  let written = 0;
  for (const fetch of session.plan()) {
    const path = join(dir, 'bundles', fetch.bundle);
    if (!existsSync(path)) {
      session.missing(fetch.bundle);
      continue;
    }
    const fd = openSync(path, 'r');
    try {
      for (const r of fetch.ranges) {
        const bytes = Buffer.alloc(r.length);
        const got = readSync(fd, bytes, 0, r.length, r.offset);
        for (const w of session.feed(fetch.bundle, r.offset, bytes.subarray(0, got))) {
          const out = openSync(safeJoin(dest, w.path), 'r+');
          try {
            writeSync(out, w.data, 0, w.data.length, w.offset);
          } finally {
            closeSync(out);
          }
          written += w.data.length;
        }
      }
    } finally {
      closeSync(fd);
    }
  }
  // Modes and times after the content; deepest first.
  for (const c of [...creates].reverse()) {
    const p = safeJoin(dest, c.path);
    if (c.kind === 'symlink') lutimesSync(p, c.mtime, c.mtime);
    else {
      chmodSync(p, c.mode);
      utimesSync(p, c.mtime, c.mtime);
    }
  }
  const report = session.finish();
  // A file whose data failed verification is removed, not left half-written
  // (the report names it).
  const created = new Map(creates.map((c) => [c.path, c.kind]));
  for (const e of report.errors?.list ?? []) {
    if (created.get(e.path) === 'file') unlinkSync(safeJoin(dest, e.path));
  }
  return { snapshot: id, report, bytes_written: written };
}

function verify(dir) {
  const vault = openVault(dir, false);
  const index = loadIndex(dir, vault);
  const verifier = new Verifier(vault, index);
  for (const fetch of verifyPlan(index, 1, 0)) {
    const path = join(dir, 'bundles', fetch.bundle);
    if (!existsSync(path)) verifier.missing(fetch.bundle);
    else {
      try {
        verifier.feed(fetch.bundle, new Uint8Array(readFileSync(path)));
      } catch {
        // every problem is in the report
      }
    }
  }
  return verifier.report();
}

const [cmd, a, b] = process.argv.slice(2);
try {
  if (cmd === 'backup' && a && b) console.log(JSON.stringify(backup(a, b)));
  else if (cmd === 'restore' && a && b) {
    const r = restore(a, b);
    console.log(JSON.stringify(r));
    process.exitCode = r.report.errors ? 1 : 0;
  } else if (cmd === 'snapshots' && a) {
    for (const s of snapshots(a, openVault(a, false))) console.log(JSON.stringify({ id: s.id, snapshot: s.snapshot.data() }));
  } else if (cmd === 'verify' && a) {
    const r = verify(a);
    console.log(JSON.stringify(r));
    process.exitCode = r.ok ? 0 : 1;
  } else {
    console.error('usage: node-vault.mjs backup SRC VAULT | restore VAULT DEST | snapshots VAULT | verify VAULT');
    process.exitCode = 2;
  }
} catch (e) {
  const err = /** @type {Error & { code?: string }} */ (e);
  console.log(JSON.stringify({ error: { code: err.code ?? 'error', type: err.name, message: err.message } }));
  process.exitCode = 1;
}
