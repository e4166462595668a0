// The node side of the interop matrix: a local vault directory (config,
// bundles/<id>, index/<id>, snapshots/<id>, locks/<id>, as
// bindings/c/examples/agent.c and the Python CLI lay it out) driven through
// the npm package's public API. Every rule is the core's: the object names
// (objectName, parseName), which snapshot `latest` is (VaultState), what a
// restore may write where (relativeSnapshotPath, partialName), which temporaries
// of a killed restore it clears (RestoreSession.leftoverDirs, partialOwner), the
// modes and times to apply after it (RestoreSession.apply), the locks (Lock,
// LockTable) and how long to wait for one (retryLockSeconds); this file only
// reads, writes, renames and sleeps.
//
//   node node-vault.mjs init VAULT            create a vault in VAULT
//   node node-vault.mjs backup SRC VAULT      back SRC up (VAULT must exist: `init` first); exit 3
//                                             when some paths could not be read (each on stderr)
//   node node-vault.mjs restore VAULT DEST    restore the newest snapshot into DEST; exit 3 when
//                                             some files could not be restored (each on stderr)
//   node node-vault.mjs snapshots VAULT       one JSON line per snapshot: {"id", "snapshot"}
//   node node-vault.mjs verify VAULT          the verify report as JSON
//
// The password comes from $CLOUDBACKUP_PASSWORD, and for tests
// $CLOUDBACKUP_KDF / $CLOUDBACKUP_SETTINGS (JSON), as for the other two;
// $CLOUDBACKUP_RETRY_LOCK is how many seconds to keep trying for a lock
// another process holds (default 60). Backups and restores (and verify)
// hold a shared lock while they run. Each command prints one JSON object on
// its last line; warnings go to stderr.
import {
  chmodSync, closeSync, existsSync, fstatSync, fsyncSync, ftruncateSync, lchownSync, linkSync, lstatSync, lutimesSync, mkdirSync, openSync,
  readFileSync, readSync, readdirSync, readlinkSync, realpathSync, renameSync, statSync, symlinkSync, unlinkSync, utimesSync, writeSync,
} from 'node:fs';
import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import { basename, dirname, join } from 'node:path';
import {
  BackupSession, CloudBackupError, InvalidArgumentError, InvalidStateError, Lock, LockTable, NotFoundError, RestoreSession,
  Vault, VaultState, Verifier, objectDir, objectName, parseName, partialName, partialOwner, pathBytes, quotePath, relativeSnapshotPath, retryLockSeconds, splitFileRoot,
} from '../../web/node.js';

const READ_SIZE = 1 << 20;
const SECOND = 1_000_000_000n;
/** Wall-clock nanoseconds: the epoch taken once, the rest from the monotonic clock (sub-millisecond). */
const EPOCH = BigInt(Date.now()) * 1_000_000n - process.hrtime.bigint();
const nowNs = () => EPOCH + process.hrtime.bigint();
const HOST = hostname();
/** @type {import('../../web/node.js').ObjectType[]} */
const TYPES = ['bundle', 'index', 'snapshot', 'lock'];

function password() {
  const p = process.env.CLOUDBACKUP_PASSWORD;
  if (!p) throw new Error('set CLOUDBACKUP_PASSWORD');
  return p;
}

/** @param {string} name */
const jsonEnv = (name) => (process.env[name] ? JSON.parse(/** @type {string} */ (process.env[name])) : null);

/** @param {string} message */
const warn = (message) => console.error(`node-vault: warning: ${message}`);

/** @param {unknown} e @param {string} code */
const isErrno = (e, code) => /** @type {NodeJS.ErrnoException} */ (e)?.code === code;

/** @param {number} ms */
const sleep = (ms) => Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);

/**
 * Writes through a temporary name (`<name>.<unique>.tmp`, which every host
 * and gc know as one) and renames, so a crash leaves no partial object.
 * @param {string} path @param {Uint8Array} bytes
 */
function writeAtomic(path, bytes) {
  mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
  const tmp = `${path}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`;
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

/** Deletes `path`; already gone is fine. @param {string} path */
function remove(path) {
  try {
    unlinkSync(path);
  } catch (e) {
    if (!isErrno(e, 'ENOENT')) throw e;
  }
}

/** @param {string} dir */
function openVault(dir) {
  const config = join(dir, 'config');
  if (!existsSync(config)) {
    throw new NotFoundError(`${dir}: no vault here; create one first with: node node-vault.mjs init ${dir}`,
      { what: 'vault', id: dir });
  }
  return Vault.open(new Uint8Array(readFileSync(config)), password());
}

/** @param {string} dir */
function init(dir) {
  const config = join(dir, 'config');
  if (existsSync(config)) {
    throw new InvalidArgumentError(`${dir} already holds a vault`, { name: 'VAULT', reason: 'already holds a vault' });
  }
  for (const t of TYPES) mkdirSync(join(dir, objectDir(t)), { recursive: true, mode: 0o700 });
  const vault = Vault.create(password(), jsonEnv('CLOUDBACKUP_SETTINGS'), jsonEnv('CLOUDBACKUP_KDF'));
  writeAtomic(config, vault.config());
  return { vault: dir, ...vault.info() };
}

// -- locks (the protocol of docs/FORMAT.md, "Concurrency") -----------------

/** Whether process `pid` of this host runs (0 and ids past pid_t name none). @param {number} pid */
function pidAlive(pid) {
  if (!(pid > 0 && pid <= 2 ** 31 - 1)) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return isErrno(e, 'EPERM');
  }
}

/** A lock this process holds on a vault. */
class HeldLock {
  /** @param {string} dir @param {Vault} vault @param {string} id @param {Lock} lock */
  constructor(dir, vault, id, lock) {
    this.dir = dir;
    this.vault = vault;
    this.id = id;
    this.lock = lock;
  }

  /** Rewrites the lock when it is due: the new object first, then the old one deleted. */
  refresh() {
    const now = nowNs();
    if (!this.lock.needsRefresh(now)) return;
    const newer = this.lock.refreshed(now);
    const id = storeLock(this.dir, this.vault, newer);
    remove(join(this.dir, objectName('lock', this.id)));
    this.id = id;
    this.lock = newer;
  }

  /** Throws LockedError unless the lock may still be acted on (before committing). */
  checkFresh() {
    this.lock.checkFresh(this.id, nowNs());
  }

  release() {
    remove(join(this.dir, objectName('lock', this.id)));
  }
}

/** Stores `lock` as `locks/<id>`; returns the id. @param {string} dir @param {Vault} vault @param {Lock} lock */
function storeLock(dir, vault, lock) {
  const o = lock.seal(vault);
  writeAtomic(join(dir, objectName('lock', o.id)), o.bytes);
  return o.id;
}

/**
 * Every listed lock but `mine`, in the core's table, with this host's lockers' liveness.
 * @param {string} dir @param {Vault} vault @param {string} mine
 */
function lockTable(dir, vault, mine) {
  const table = new LockTable(nowNs(), HOST);
  const locks = objectDir('lock');
  /** @type {string[]} */
  let names = [];
  try {
    names = readdirSync(join(dir, locks));
  } catch (e) {
    if (!isErrno(e, 'ENOENT')) throw e;
  }
  for (const entry of names) {
    const name = parseName(`${locks}/${entry}`);
    if (name.kind !== 'object' || name.type !== 'lock' || name.id === mine) continue;
    let bytes;
    try {
      bytes = readFileSync(join(dir, locks, entry));
    } catch (e) {
      if (isErrno(e, 'ENOENT')) continue; // released meanwhile
      throw e;
    }
    try {
      table.add(vault, name.id, bytes);
    } catch (e) {
      if (!(e instanceof CloudBackupError)) throw e; // kept as unreadable: it blocks
    }
  }
  for (const pid of table.localPids()) table.setPidAlive(pid, pidAlive(pid));
  return table;
}

/**
 * Takes a lock for `operation`: stores it, then lets the core decide
 * against every other lock listed: go on, wait (keeping it), back off
 * (deleting it) and try again, until the retry time is up, or give up at
 * once (a lock of a process gone from this host, seen on two listings).
 * @param {string} dir @param {Vault} vault @param {string} operation @param {boolean} exclusive
 */
function acquire(dir, vault, operation, exclusive) {
  const deadline = Date.now() + retryLockSeconds('CLOUDBACKUP_RETRY_LOCK', process.env.CLOUDBACKUP_RETRY_LOCK) * 1000;
  let delay = 100;
  const pause = (/** @type {number} */ most) => {
    sleep(Math.min(most, delay) * (0.5 + Math.random() / 2));
    delay = Math.min(most, delay * 1.5);
  };
  for (;;) {
    let lock = new Lock(operation, exclusive, HOST, process.pid, nowNs());
    let id = storeLock(dir, vault, lock);
    let error;
    let giveUp = false;
    for (;;) {
      const d = lockTable(dir, vault, id).decide(id, lock);
      if (d.decision === 'granted') return new HeldLock(dir, vault, id, lock);
      error = d.error;
      // A holder that released and exited between the listing and the pid
      // check looks gone: decide once more, on a new listing, first.
      if (d.decision === 'give_up' && !giveUp) {
        giveUp = true;
        continue;
      }
      giveUp = d.decision === 'give_up';
      if (d.decision !== 'wait' || Date.now() >= deadline) break;
      pause(1000);
      if (lock.needsRefresh(nowNs())) {
        const newer = lock.refreshed(nowNs());
        const newId = storeLock(dir, vault, newer);
        remove(join(dir, objectName('lock', id)));
        [id, lock] = [newId, newer];
      }
    }
    remove(join(dir, objectName('lock', id)));
    // give_up: a dead process of this host holds the lock in the way; no wait makes it go.
    if (giveUp || Date.now() >= deadline) throw error;
    pause(2000);
  }
}

/**
 * Runs `fn` holding a lock of the vault, and releases it however `fn` ends.
 * @template T
 * @param {string} dir @param {Vault} vault @param {string} operation @param {(held: HeldLock) => T} fn
 * @returns {T}
 */
function withLock(dir, vault, operation, fn) {
  const held = acquire(dir, vault, operation, false);
  try {
    return fn(held);
  } finally {
    held.release();
  }
}

// -- reading the vault -----------------------------------------------------

/**
 * Every file of the vault, by its name relative to the vault (`/`-separated).
 * @param {string} dir @param {string} [sub]
 * @returns {Generator<[string, import('node:fs').BigIntStats]>}
 */
function* listing(dir, sub = '') {
  for (const entry of readdirSync(join(dir, sub)).sort()) {
    const name = sub ? `${sub}/${entry}` : entry;
    let st;
    try {
      st = lstatSync(join(dir, name), { bigint: true });
    } catch (e) {
      if (isErrno(e, 'ENOENT')) continue; // gone meanwhile
      throw e;
    }
    if (st.isDirectory()) yield* listing(dir, name);
    else if (st.isFile()) yield [name, st];
  }
}

/**
 * What the vault holds, as the core reads it: the listing, then every index
 * delta and snapshot it wants (an unreadable one is recorded and skipped).
 * @param {string} dir @param {Vault} vault
 */
function readState(dir, vault) {
  const state = new VaultState(vault);
  for (const [name, st] of listing(dir)) state.addListed(name, Number(st.size), st.mtimeNs);
  for (const name of state.wanted()) {
    let bytes;
    try {
      bytes = readFileSync(join(dir, name));
    } catch (e) {
      if (!isErrno(e, 'ENOENT')) throw e;
      state.addUnreadable(name, 'not found');
      continue;
    }
    try {
      state.addObject(name, bytes);
    } catch (e) {
      if (!(e instanceof CloudBackupError)) throw e; // recorded as unreadable
    }
  }
  for (const u of state.unreadableSnapshots()) warn(`skipping snapshot ${u.id}: ${u.message}`);
  return state;
}

// -- commands --------------------------------------------------------------

const SLASH = Buffer.from('/');
/** A path's bytes with `/` and a name appended. @param {Buffer} dir @param {Buffer} name */
const under = (dir, name) => Buffer.concat([dir, SLASH, name]);
/** What failed, in the OS's words. @param {string} operation @param {unknown} e */
const why = (operation, e) => {
  const message = /** @type {Error} */ (e)?.message ?? String(e);
  // "EACCES: permission denied, open '/x'" -> "open: permission denied"
  const m = /^[A-Z0-9]+: (.*?), \w+ /.exec(message);
  return `${operation}: ${m ? m[1] : message}`;
};

/** The snapshot kind of a file type; null for sockets (not backed up, as restic). @param {import('node:fs').BigIntStats} st */
function kindOf(st) {
  if (st.isFile()) return 'file';
  if (st.isDirectory()) return 'dir';
  if (st.isSymbolicLink()) return 'symlink';
  if (st.isFIFO()) return 'fifo';
  if (st.isCharacterDevice()) return 'chardev';
  if (st.isBlockDevice()) return 'blockdev';
  return null;
}

/**
 * A FileMeta time from nanoseconds since 1970: whole seconds rounded down
 * and the nanoseconds past them (0..999999999), as the C and Python hosts
 * give them. BigInt division rounds toward zero, which put a time before
 * 1970 a second late.
 * @param {'mtime' | 'ctime'} name @param {bigint} ns
 */
function splitTime(name, ns) {
  const nanos = ((ns % SECOND) + SECOND) % SECOND;
  return { [name]: Number((ns - nanos) / SECOND), [`${name}_nanos`]: Number(nanos) };
}

/**
 * A time for `fs.utimes` as a numeric string: node reads a negative number
 * as "now" but a string as the number it spells. Node turns it into a
 * double of seconds and libuv keeps its whole microseconds, so node sets
 * a time to within a few microseconds (~2 µs near the year 2400).
 * @param {number} seconds @param {number} nanos
 */
function utimeArg(seconds, nanos) {
  const ns = BigInt(seconds) * SECOND + BigInt(nanos);
  const size = ns < 0n ? -ns : ns;
  return `${ns < 0n ? '-' : ''}${size / SECOND}.${String(size % SECOND).padStart(9, '0')}`;
}

/** The core's FileMeta of `path` (bytes) from its lstat (bigint: nanoseconds). @param {Buffer} path @param {string} kind @param {import('node:fs').BigIntStats} st */
function fileMeta(path, kind, st) {
  /** @type {Record<string, unknown>} */
  const meta = {
    path: quotePath(path), kind, mode: Number(st.mode & 0o7777n),
    ...splitTime('mtime', st.mtimeNs), ...splitTime('ctime', st.ctimeNs),
    uid: Number(st.uid), gid: Number(st.gid), inode: Number(st.ino), device: Number(st.dev), links: Number(st.nlink),
  };
  if (kind === 'file') meta.size = Number(st.size);
  if (kind === 'chardev' || kind === 'blockdev') meta.rdev = Number(st.rdev);
  return meta;
}

/** @param {string} src @param {string} dir */
function backup(src, dir) {
  const vault = openVault(dir);
  return withLock(dir, vault, 'backup', (held) => {
    const started = nowNs();
    const session = new BackupSession(vault, readState(dir, vault).index());
    const counts = { files: 0, dirs: 0, symlinks: 0, special: 0, skipped: 0, new_bundles: 0, changed: 0 };
    /** @type {{ path: string, file: string, error: string }[]} */
    const errors = [];
    const store = () => {
      for (const b of session.takeBundles()) {
        writeAtomic(join(dir, objectName('bundle', b.id)), b.bytes);
        counts.new_bundles++;
      }
      held.refresh();
    };
    /** A path that could not be read: the snapshot lists it, the backup goes on. @param {Buffer} path @param {Buffer} file @param {string} reason @param {boolean} [recorded] */
    const failed = (path, file, reason, recorded = false) => {
      if (!recorded) session.fileError(new Uint8Array(path), reason);
      errors.push({ path: quotePath(path), file: quotePath(file), error: reason });
    };
    const buf = Buffer.alloc(READ_SIZE);
    /**
     * Names are bytes (any name the OS allows), sorted by bytes as the C agent and Python sort them.
     * `only`: the one name of a root that is no directory.
     * @param {Buffer} fsPath @param {Buffer} name @param {Buffer[]} [only]
     */
    const walk = (fsPath, name, only) => {
      let names = only;
      try {
        names ??= readdirSync(fsPath, { encoding: 'buffer' }).sort(Buffer.compare);
      } catch (e) {
        failed(name, fsPath, why('readdir', e));
        return;
      }
      for (const entry of names) {
        const p = under(fsPath, entry);
        const child = under(name.equals(SLASH) ? Buffer.alloc(0) : name, entry);
        let st;
        try {
          st = lstatSync(p, { bigint: true });
        } catch (e) {
          failed(child, p, why('lstat', e));
          continue;
        }
        const kind = kindOf(st);
        if (kind === null) {
          counts.skipped++;
          continue;
        }
        const meta = fileMeta(child, kind, st);
        if (kind === 'file') {
          let fd;
          try {
            fd = openSync(p, 'r');
          } catch (e) {
            failed(child, p, why('open', e));
            continue;
          }
          try {
            // The metadata of what is read, not of the earlier lstat (as C
            // and Python): the mtime finishFileChecked compares with.
            const opened = fstatSync(fd, { bigint: true });
            if (!opened.isFile() || opened.ino !== st.ino || opened.dev !== st.dev) {
              failed(child, p, 'replaced by another file during the backup');
              continue;
            }
            session.start(fileMeta(child, 'file', opened));
            let n;
            for (;;) {
              try {
                n = readSync(fd, buf, 0, READ_SIZE, null);
              } catch (e) {
                session.abandonFile(why('read', e));
                failed(child, p, why('read', e), true);
                n = -1;
                break;
              }
              if (n <= 0) break;
              session.write(buf.subarray(0, n));
              store(); // memory stays bounded
            }
            if (n < 0) continue;
            // The core tells whether it changed while it was read (a log
            // being written): the snapshot has what was read; warn.
            let after;
            try {
              after = fstatSync(fd, { bigint: true });
            } catch (e) {
              session.abandonFile(why('fstat', e));
              failed(child, p, why('fstat', e), true);
              continue;
            }
            const { mtime, mtime_nanos } = splitTime('mtime', after.mtimeNs);
            const warning = session.finishFileChecked(after.size, mtime, mtime_nanos);
            if (warning !== null) {
              console.error(`node-vault: warning: ${p}: ${warning}`);
              counts.changed++;
            }
          } finally {
            closeSync(fd);
          }
          counts.files++;
          continue;
        }
        if (kind === 'symlink') {
          try {
            meta.target = quotePath(readlinkSync(p, { encoding: 'buffer' }));
          } catch (e) {
            failed(child, p, why('readlink', e));
            continue;
          }
        }
        session.add(meta);
        if (kind === 'dir') {
          counts.dirs++;
          walk(p, child);
        } else if (kind === 'symlink') counts.symlinks++;
        else counts.special++;
      }
    };
    // A root that is no directory (a file, say; symlinks resolved) is the
    // one entry /<name> of its directory: the core's rule, as in C and Python.
    // The native realpath: node's own resolves through strings, which lose
    // a link target that is not UTF-8.
    const real = realpathSync.native(src, { encoding: 'buffer' });
    if (statSync(real).isDirectory()) walk(Buffer.from(src), SLASH);
    else {
      const root = splitFileRoot(real);
      walk(Buffer.from(root.dir), SLASH, [Buffer.from(root.name)]);
    }
    session.finish({ time: Number(started / SECOND), timeNanos: Number(started % SECOND), hostname: HOST });
    store();
    // Bundles first, then the index delta, then the snapshot: a snapshot
    // never names data that is not stored yet; and only while the lock is
    // fresh enough that nobody may take it for stale.
    held.checkFresh();
    const index = /** @type {import('../../web/node.js').StoredObject} */ (session.takeIndex());
    writeAtomic(join(dir, objectName('index', index.id)), index.bytes);
    const snapshot = /** @type {import('../../web/node.js').StoredObject} */ (session.takeSnapshot());
    writeAtomic(join(dir, objectName('snapshot', snapshot.id)), snapshot.bytes);
    return { snapshot: snapshot.id, counters: session.counters(), ...counts, errors };
  });
}

/**
 * Removes the temporaries a killed restore left where `session` writes: in
 * each folder of its leftoverDirs (relative to `dest`, reached without
 * following a symlink where a folder goes), every name partialOwner gives
 * no running owner. Called before the restore creates anything.
 * @param {Buffer} dest @param {RestoreSession} session
 */
function removeLeftovers(dest, session) {
  for (const rel of session.leftoverDirs()) {
    let dir = dest;
    let reachable = true;
    // latin1 keeps each byte as one character, so any name splits at its slashes.
    for (const part of rel === '' ? [] : Buffer.from(pathBytes(rel)).toString('latin1').split('/')) {
      dir = under(dir, Buffer.from(part, 'latin1'));
      const stat = lstatSync(dir, { throwIfNoEntry: false });
      if (!stat?.isDirectory()) {
        reachable = false; // not made yet, or a symlink or file where a folder goes
        break;
      }
    }
    if (!reachable) continue;
    for (const name of readdirSync(dir, { encoding: 'buffer' })) {
      const owner = partialOwner(name, process.pid);
      if (owner === undefined || (owner !== 0 && pidAlive(owner))) continue;
      try {
        unlinkSync(under(dir, name));
      } catch (e) {
        if (!isErrno(e, 'ENOENT')) process.stderr.write(`node-vault: ${under(dir, name)}: ${e} (left by a killed restore)\n`);
      }
    }
  }
}

/** @param {string} dir @param {string} dest */
function restore(dir, dest) {
  const vault = openVault(dir);
  return withLock(dir, vault, 'restore', (held) => {
    const state = readState(dir, vault);
    const id = state.resolve('latest');
    const session = new RestoreSession(vault, state.snapshot(id), state.index());
    /** Where each path goes (bytes: any name): files are written under a temporary name beside it, renamed once verified. */
    const target = (/** @type {string} */ path) => under(Buffer.from(dest), Buffer.from(pathBytes(relativeSnapshotPath(path))));
    /** @param {Buffer} p */
    const parentOf = (p) => p.subarray(0, p.lastIndexOf(0x2f));
    /** @type {Map<string, Buffer>} */
    const partial = new Map();
    /** Hard links, made once their first name is in place. @type {{ path: string, target: string }[]} */
    const links = [];
    /** What this host could not make (node has no mkfifo or mknod): quoted path -> why. @type {Map<string, string>} */
    const hostErrors = new Map();
    mkdirSync(dest, { recursive: true });
    removeLeftovers(Buffer.from(dest), session);
    for (const c of session.creates()) {
      const p = target(c.path);
      // A folder the snapshot leaves out (the format allows it) is made here.
      mkdirSync(parentOf(p), { recursive: true });
      if (c.kind === 'dir') {
        mkdirSync(p, { recursive: true });
      }
      else if (c.kind === 'symlink') symlinkSync(Buffer.from(pathBytes(c.target)), p);
      else if (c.kind === 'hardlink') links.push({ path: c.path, target: c.target });
      else if (c.kind === 'file') {
        const tmp = under(parentOf(p), Buffer.from(partialName(p.subarray(p.lastIndexOf(0x2f) + 1), process.pid)));
        const fd = openSync(tmp, 'w', 0o600);
        ftruncateSync(fd, c.size);
        closeSync(fd);
        partial.set(c.path, tmp);
      } else hostErrors.set(c.path, `cannot make a ${c.kind} (node has no mkfifo/mknod)`);
    }
    let written = 0;
    for (const fetch of session.plan()) {
      const path = join(dir, objectName('bundle', fetch.bundle));
      let fd;
      try {
        fd = openSync(path, 'r');
      } catch (e) {
        if (!isErrno(e, 'ENOENT')) throw e;
        session.missing(fetch.bundle);
        continue;
      }
      try {
        for (const r of fetch.ranges) {
          const bytes = Buffer.alloc(r.length);
          const got = readSync(fd, bytes, 0, r.length, r.offset);
          // One write per blob: its one buffer goes to each of its places.
          for (const w of session.feed(fetch.bundle, r.offset, bytes.subarray(0, got))) {
            for (const p of w.places) {
              const file = partial.get(p.path);
              if (!file) throw new InvalidStateError(`a write to ${p.path}, which was not created`, { session: 'restore', reason: 'wrote an uncreated path' });
              const out = openSync(file, 'r+');
              try {
                writeSync(out, w.data, 0, w.data.length, p.offset);
              } finally {
                closeSync(out);
              }
              written += w.data.length;
            }
          }
        }
      } finally {
        closeSync(fd);
      }
      held.refresh();
    }
    const report = session.finish();
    // The files restored completely are renamed into place; a file whose
    // data failed is removed, never left half-written (the report names it).
    const apply = session.apply();
    const done = new Set(apply.map((c) => c.path));
    for (const [path, tmp] of partial) {
      if (done.has(path)) renameSync(tmp, target(path));
      else remove(tmp);
    }
    for (const l of links) {
      if (!done.has(l.target) || hostErrors.has(l.target)) hostErrors.set(l.path, `not linked: ${l.target} (its first name) was not restored`);
      else linkSync(target(l.target), target(l.path));
    }
    // Then owners (as root), modes and times, deepest first (the core's
    // order); a hard link shares its first name's inode.
    const root = process.getuid?.() === 0;
    for (const c of apply) {
      if (c.kind === 'hardlink' || hostErrors.has(c.path)) continue;
      const p = target(c.path);
      if (root && (c.uid !== undefined || c.gid !== undefined)) lchownSync(p, c.uid ?? -1, c.gid ?? -1);
      const t = utimeArg(c.mtime, c.mtime_nanos ?? 0);
      if (c.kind === 'symlink') lutimesSync(p, t, t);
      else {
        chmodSync(p, c.mode);
        utimesSync(p, t, t);
      }
    }
    const errors = [...hostErrors].map(([path, error]) => ({ path, error }));
    return { snapshot: id, report, bytes_written: written, errors };
  });
}

/** @param {string} dir */
function snapshots(dir) {
  const vault = openVault(dir);
  const state = readState(dir, vault);
  return state.summaries().map((s) => ({ id: s.id, snapshot: state.snapshot(s.id).data() }));
}

/** @param {string} dir */
function verify(dir) {
  const vault = openVault(dir);
  return withLock(dir, vault, 'verify', (held) => {
    const state = readState(dir, vault);
    const verifier = Verifier.forState(state);
    for (const fetch of verifier.plan(state.index(), 1, 0)) {
      let bytes;
      try {
        bytes = readFileSync(join(dir, objectName('bundle', fetch.bundle)));
      } catch (e) {
        if (!isErrno(e, 'ENOENT')) throw e;
        verifier.missing(fetch.bundle);
        continue;
      }
      try {
        verifier.feed(fetch.bundle, bytes);
      } catch (e) {
        if (!(e instanceof CloudBackupError)) throw e; // every problem is in the report
      }
      held.refresh();
    }
    return verifier.report();
  });
}

const [cmd, a, b] = process.argv.slice(2);
try {
  if (cmd === 'init' && a) console.log(JSON.stringify(init(a)));
  else if (cmd === 'backup' && a && b) {
    const r = backup(a, b);
    // As restic: each unreadable path on stderr, exit 3 (the snapshot was saved without them).
    for (const e of r.errors) console.error(`error: ${e.file}: ${e.error}`);
    console.log(JSON.stringify(r));
    process.exitCode = r.errors.length ? 3 : 0;
  }
  else if (cmd === 'restore' && a && b) {
    const r = restore(a, b);
    console.log(JSON.stringify(r));
    // As the CLI and the C agent: each file that failed on stderr, exit 3 (the others were restored).
    for (const e of r.report.errors?.list ?? []) console.error(`error: ${e.path}: ${e.exception?.description ?? e.type}`);
    for (const e of r.errors) console.error(`error: ${e.path}: ${e.error}`);
    process.exitCode = r.report.errors || r.errors.length ? 3 : 0;
  } else if (cmd === 'snapshots' && a) {
    for (const s of snapshots(a)) console.log(JSON.stringify(s));
  } else if (cmd === 'verify' && a) {
    const r = verify(a);
    console.log(JSON.stringify(r));
    process.exitCode = r.ok ? 0 : 1;
  } else {
    console.error('usage: node-vault.mjs init VAULT | backup SRC VAULT | restore VAULT DEST | snapshots VAULT | verify VAULT');
    process.exitCode = 2;
  }
} catch (e) {
  const err = /** @type {Error & { code?: string }} */ (e);
  console.log(JSON.stringify({ error: { code: err.code ?? 'error', type: err.name, message: err.message } }));
  process.exitCode = 1;
}
