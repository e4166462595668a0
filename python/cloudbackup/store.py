"""A vault wherever it is stored (a local directory or a Swift container,
see :mod:`cloudbackup.storage`), opened with its password: backup, restore,
verify and garbage collection over the core's sans-IO sessions.

A local vault is laid out as the C example agent lays it out (so either can
read what the other wrote)::

    VAULT/config              the vault's config (key slots, settings)
    VAULT/bundles/<64 hex>    bundles of encrypted blobs
    VAULT/index/<64 hex>      index deltas, one per backup
    VAULT/snapshots/<64 hex>  snapshots, one per backup

    VAULT/locks/<64 hex>      locks of the clients using the vault
    VAULT/lost+found/...      objects ``repair`` set aside

Crash consistency: every object is stored atomically (rename locally, a
single PUT in Swift), and a backup stores all its bundles first (waiting for
every upload to succeed), then its index delta, then its snapshot, so no
stored object ever names one that is not stored yet. A backup that fails
half-way leaves only bundles that no index references; :meth:`StoredVault.gc`
(run after every successful backup when the vault is not busy, and by
``cloudbackup gc``) removes them once they are older than a grace period.

Concurrency: backups, restores and verify hold a shared lock, gc and repair
an exclusive one (:mod:`cloudbackup.locking`), so gc never runs while a
backup that could still commit is running, on any host. A gc refuses to
run when an index delta or a snapshot cannot be read (what is referenced
would be a guess); ``repair`` rebuilds the index from the bundles and sets
unreadable objects aside. This module is host I/O only: every rule (layout,
``latest``, what gc deletes, what repair rebuilds, paths) lives in the core.
"""

from __future__ import annotations

import errno
import os
import socket
import stat
import sys
import time
from collections import OrderedDict, deque
from functools import partial
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, Callable, Deque, Dict, Iterator, List, Optional, Set, Tuple, TypeVar, Union

from .engine import (
    BackupFilter,
    BackupSession,
    Index,
    IndexRebuild,
    Password,
    RestoreSession,
    Snapshot,
    Vault,
    VaultState,
    Verifier,
    partial_name,
    partial_tag,
    quote_path,
    relative_snapshot_path,
)
from .errors import Error, InvalidArgument, InvalidState, InvalidValue, Locked, NotFound
from .locking import VaultLock, pid_alive
from .storage import (
    DEFAULT_CONCURRENCY,
    CachedStorage,
    LocalStorage,
    Storage,
    default_cache_root,
    open_storage,
    write_atomic,
)

__all__ = [
    "StoredVault",
    "LocalVault",
    "BackupResult",
    "RestoreResult",
    "GcResult",
    "write_atomic",
]

READ_SIZE = 1 << 20
#: Unreferenced bundles younger than this (seconds) are kept by gc: they may
#: belong to a backup still uploading from another machine.
DEFAULT_GC_GRACE = 3600.0
#: The environment variable that overrides the grace period (seconds).
GC_GRACE_ENV = "CLOUDBACKUP_GC_GRACE"

#: Called with the number of bytes just processed.
Progress = Callable[[int], None]
#: Where a vault is: a storage, or a URL/path for :func:`open_storage`.
Location = Union[str, Storage]


def _safe_join(root: str, path: str) -> str:
    """``root`` + a snapshot path; the core refuses paths that could leave
    ``root`` (:class:`InvalidValue`)."""
    return os.path.join(root, relative_snapshot_path(path))


def _warn(message: str) -> None:
    print(f"cloudbackup: warning: {message}", file=sys.stderr)


@dataclass
class BackupResult:
    """What a backup stored."""

    snapshot_id: str
    counters: Dict[str, int]
    bundles: int
    stored_bytes: int
    files: int = 0
    dirs: int = 0
    symlinks: int = 0
    skipped: int = 0
    #: What the gc after the backup removed (None when it did not run).
    gc: Optional["GcResult"] = None
    #: Why the gc after the backup did not run (the vault was busy, or
    #: gc refused), if it did not.
    gc_skipped: Optional[str] = None


@dataclass
class RestoreResult:
    """What a restore did: the core's report, and bytes written."""

    snapshot_id: str
    report: Dict[str, Any]
    bytes_written: int = 0
    creates: int = 0
    errors: List[Any] = field(default_factory=list)


@dataclass
class GcResult:
    """What garbage collection found and removed."""

    referenced: int
    unreferenced: int
    deleted: int
    deleted_bytes: int
    kept_young: int
    #: Temporary objects (left by killed writers) among the deleted.
    temporary: int = 0


def gc_grace_from_env() -> float:
    """The gc grace period from ``CLOUDBACKUP_GC_GRACE`` (seconds), else the
    default of an hour."""
    text = os.environ.get(GC_GRACE_ENV)
    if not text:
        return DEFAULT_GC_GRACE
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if value < 0:
        raise InvalidArgument(
            f"invalid argument `{GC_GRACE_ENV}`: {text!r} is not a number of seconds >= 0",
            {"name": GC_GRACE_ENV, "reason": "not a number >= 0"},
        )
    return value


def _storage(location: Location) -> Storage:
    return open_storage(location) if isinstance(location, str) else location


#: Where a vault's metadata cache is: ``None`` the default (remote storages
#: only, under :func:`~cloudbackup.storage.default_cache_root`), ``False``
#: none, or a cache root directory (any storage, even a local one).
Cache = Union[None, bool, str]


def _with_cache(storage: Storage, vault: Vault, cache: Cache) -> Storage:
    """``storage`` behind a :class:`CachedStorage` in
    ``<cache root>/<vault id>/`` as ``cache`` says. A local vault is not
    cached by default: its objects already are local files."""
    if isinstance(storage, CachedStorage) or cache is False:
        return storage
    if cache is None or cache is True:
        if isinstance(storage, LocalStorage) and cache is None:
            return storage
        cache = default_cache_root()
    return CachedStorage(storage, os.path.join(cache, vault.vault_id))


class _Window:
    """At most ``limit`` tasks in flight on a pool: submitting more waits
    for the oldest, so memory stays bounded by ``limit`` objects."""

    def __init__(self, pool: ThreadPoolExecutor, limit: int) -> None:
        self.pool = pool
        self.limit = max(1, limit)
        self.pending: Deque["Future[Any]"] = deque()

    def submit(self, fn: Callable[[], Any]) -> None:
        """Queues ``fn``; re-raises the first failure of an earlier one."""
        while len(self.pending) >= self.limit:
            self.pending.popleft().result()
        self.pending.append(self.pool.submit(fn))

    def drain(self) -> None:
        """Waits for every task; raises the first failure."""
        while self.pending:
            self.pending.popleft().result()

    def cancel(self) -> None:
        """Drops what has not started and waits for what has (errors
        ignored: the caller is already failing)."""
        for f in self.pending:
            f.cancel()
        for f in self.pending:
            if not f.cancelled():
                try:
                    f.result()
                except BaseException:  # noqa: BLE001 - the first error wins
                    pass
        self.pending.clear()


class StoredVault:
    """A vault in a :class:`~cloudbackup.storage.Storage`, opened with its
    password.

    ``concurrency`` bounds the transfers in flight (uploads in a backup,
    downloads in a restore or verify), and so the memory they hold (about
    one bundle, 16 MiB by default, each).
    """

    def __init__(
        self,
        storage: Location,
        vault: Vault,
        *,
        concurrency: int = DEFAULT_CONCURRENCY,
        cache: Cache = None,
    ) -> None:
        # A path or URL is accepted too, as LocalVault(root, vault) was.
        self.storage = _with_cache(_storage(storage), vault, cache)
        self.vault = vault
        self.concurrency = max(1, concurrency)

    @property
    def root(self) -> str:
        """The vault's URL or directory (as given)."""
        return self.storage.url

    # -- opening ---------------------------------------------------------

    @classmethod
    def init(
        cls,
        location: Location,
        password: Password,
        settings: Optional[Dict[str, Any]] = None,
        kdf: Optional[Dict[str, Any]] = None,
        *,
        concurrency: int = DEFAULT_CONCURRENCY,
        cache: Cache = None,
    ) -> "StoredVault":
        """Creates a vault at ``location`` (which must not hold one yet)."""
        storage = _storage(location)
        if storage.exists("config"):
            raise InvalidArgument(
                f"invalid argument `vault`: {storage.url} already holds a vault",
                {"name": "vault", "reason": "already holds a vault"},
            )
        storage.create()
        vault = Vault.create(password, settings, kdf)
        storage.put("config", vault.config())
        return cls(storage, vault, concurrency=concurrency, cache=cache)

    @classmethod
    def open(
        cls,
        location: Location,
        password: Password,
        *,
        concurrency: int = DEFAULT_CONCURRENCY,
        cache: Cache = None,
    ) -> "StoredVault":
        """Opens the vault at ``location``.

        Raises:
            NotFound: no vault there.
            WrongPassword, IntegrityError: as :meth:`Vault.open`.
            StorageError: the storage failed (after retries).
        """
        storage = _storage(location)
        try:
            data = storage.get("config")
        except NotFound:
            raise NotFound(f"vault {storage.url} not found", {"what": "vault", "id": storage.url}) from None
        return cls(storage, Vault.open(data, password), concurrency=concurrency, cache=cache)

    @classmethod
    def open_or_init(
        cls,
        location: Location,
        password: Password,
        settings: Optional[Dict[str, Any]] = None,
        kdf: Optional[Dict[str, Any]] = None,
        *,
        concurrency: int = DEFAULT_CONCURRENCY,
        cache: Cache = None,
    ) -> "StoredVault":
        """Opens the vault at ``location``, creating it first when there is none."""
        storage = _storage(location)
        if storage.exists("config"):
            return cls.open(storage, password, concurrency=concurrency, cache=cache)
        return cls.init(storage, password, settings, kdf, concurrency=concurrency, cache=cache)

    # -- objects ----------------------------------------------------------

    def path(self, kind: str, object_id: str) -> str:
        """Where object ``object_id`` of ``kind`` is stored, for a local
        vault (a Swift vault has no paths).

        Raises:
            InvalidArgument: not a local vault.
        """
        storage = self.storage.inner if isinstance(self.storage, CachedStorage) else self.storage
        if not isinstance(storage, LocalStorage):
            raise InvalidArgument(
                f"invalid argument `vault`: {self.storage.url} is not a local directory",
                {"name": "vault", "reason": "not local"},
            )
        return os.path.join(storage.root, kind, object_id)

    def ids(self, kind: str) -> List[str]:
        """The ids stored under ``kind`` (temporary objects skipped)."""
        return [n for n in (o.name.split("/", 1)[1] for o in self.storage.list(kind)) if not n.endswith(".tmp")]

    def read(self, kind: str, object_id: str) -> bytes:
        """The bytes of a stored object."""
        return self.storage.get(f"{kind}/{object_id}")

    def store(self, kind: str, object_id: str, data: bytes) -> bool:
        """Stores an object atomically; False when it was already there
        (ids are content hashes, so it holds the same bytes)."""
        name = f"{kind}/{object_id}"
        if self.storage.exists(name):
            return False
        self.storage.put(name, data)
        return True

    def save_config(self) -> None:
        """Stores the vault's config again (after a password change)."""
        self.storage.put("config", self.vault.config())

    def lock(self, operation: str, *, exclusive: bool, retry: float = 0.0, required: bool = True) -> VaultLock:
        """A lock on this vault for ``operation`` (a context manager; see
        :class:`cloudbackup.locking.VaultLock`)."""
        return VaultLock(self, operation, exclusive=exclusive, retry=retry, required=required)

    def state(self, *, bundles: bool = True) -> VaultState:
        """Lists the vault and reads every index delta and snapshot
        (concurrently) into the core's :class:`VaultState`. An object that
        cannot be read is recorded as such, not raised: the core decides
        what that means for each operation. ``bundles=False`` leaves the
        bundles unlisted (a backup needs only the index and the snapshots;
        a large vault in Swift lists its bundles in many pages).

        A local metadata cache (:class:`CachedStorage`) is trusted no more
        than storage: when the core refuses objects read through it, their
        cached copies are dropped and the vault read once more, so a damaged
        cache file never makes a sound object look damaged (gc would refuse,
        and repair would set the original aside)."""
        return self._state(bundles, retry=True)

    def _stored_state(self) -> VaultState:
        """The state as storage holds it, past any local cache: what verify
        checks and repair mends is the vault itself, not this host's copies."""
        storage = self.storage.inner if isinstance(self.storage, CachedStorage) else self.storage
        return self._state(True, retry=False, storage=storage)

    def _state(self, bundles: bool, retry: bool, storage: Optional[Storage] = None) -> VaultState:
        source = storage or self.storage
        state = VaultState(self.vault)
        for kind in ("bundles", "index", "snapshots") if bundles else ("index", "snapshots"):
            for o in source.list(kind):
                state.add_listed(o.name, o.size, o.mtime_ns)
        names = state.wanted()

        def fetch(name: str) -> Optional[bytes]:
            try:
                return source.get(name)
            except NotFound:
                return None

        refused: List[str] = []
        with ThreadPoolExecutor(self.concurrency) as pool:
            for name, data in zip(names, pool.map(fetch, names)):
                if data is None:
                    state.add_unreadable(name, "listed, but gone when fetched")
                elif state.add_object(name, data) is not None:
                    refused.append(name)
        if refused and retry and isinstance(source, CachedStorage):
            if any([source.forget(name) for name in refused]):
                return self._state(bundles, retry=False)
        return state

    def load_index(self) -> Index:
        """An index with every readable delta loaded (fetched concurrently).
        An unreadable delta is skipped with a warning: a backup then only
        stores some chunks again, and gc and verify, which read the whole
        vault, report it."""
        index = Index()
        ids = self.ids("index")

        def fetch(delta: str) -> Optional[bytes]:
            try:
                return self.read("index", delta)
            except NotFound:
                return None

        with ThreadPoolExecutor(self.concurrency) as pool:
            for delta, data in zip(ids, pool.map(fetch, ids)):
                if data is None:
                    continue
                try:
                    index.load_delta(self.vault, delta, data)
                except Error as e:
                    # A damaged cached copy: read the stored object instead.
                    if isinstance(self.storage, CachedStorage) and self.storage.forget(f"index/{delta}"):
                        fresh = fetch(delta)
                        try:
                            if fresh is not None:
                                index.load_delta(self.vault, delta, fresh)
                                continue
                        except Error as again:
                            e = again
                    _warn(f"index {delta[:16]} skipped: {e} (`cloudbackup repair` rebuilds it)")
        return index

    def snapshots(self, state: Optional[VaultState] = None) -> List[Snapshot]:
        """Every readable snapshot, oldest first (by time in nanoseconds,
        then id). Unreadable ones are skipped with a warning."""
        state = state or self.state()
        self._warn_unreadable(state)
        return [state.snapshot(str(s["id"])) for s in state.summaries()]

    @staticmethod
    def _warn_unreadable(state: VaultState) -> None:
        for bad in state.unreadable_snapshots():
            _warn(f"{bad['object']} skipped: {bad['message']} (`cloudbackup repair` sets it aside)")

    def snapshot(self, which: str = "latest", state: Optional[VaultState] = None) -> Snapshot:
        """A snapshot by id, unique id prefix, or ``"latest"`` (the newest
        readable one).

        Raises:
            NotFound: no such snapshot (or no snapshot at all).
            InvalidArgument: a prefix matching several.
            InvalidValue: not an id or prefix.
            IntegrityError: the snapshot named is unreadable.
        """
        state = state or self.state()
        if which == "latest":
            self._warn_unreadable(state)
        return state.snapshot(state.resolve(which))

    # -- backup -------------------------------------------------------------

    def backup(
        self,
        source: str,
        *,
        threads: int = 2,
        progress: Optional[Progress] = None,
        hostname: Optional[str] = None,
        gc_grace: Optional[float] = None,
        retry_lock: float = 0.0,
        force: bool = False,
        parent: Optional[str] = None,
        selection: Optional[BackupFilter] = None,
    ) -> BackupResult:
        """Backs ``source`` up; the tree is named from ``/`` in the snapshot,
        which records ``source`` (made absolute) as its root.

        Files unchanged since the parent snapshot (same size, mtime and
        ctime to the nanosecond, inode and device; the core decides) are
        taken over from it without being read. The parent is ``parent``
        (an id, unique prefix or ``"latest"``) when given, else the latest
        snapshot of the same host and root (the core's rule); ``force``
        reads every file again. ``selection`` leaves paths out
        (docs/PATTERNS.md; its patterns match the snapshot names): an
        excluded folder is not entered.

        Holds a shared lock (waiting up to ``retry_lock`` seconds for it).
        Bundles upload on a pool of :attr:`concurrency` threads while the
        core goes on chunking. The index delta is stored only once every
        bundle is, and the snapshot after it, and only while the lock is
        fresh; then :meth:`gc` removes what earlier failed backups left
        (``gc_grace`` seconds old or more, default
        :func:`gc_grace_from_env`) if it can lock the vault at once.
        """
        if not os.path.isdir(source):
            raise NotFound(f"directory {source} not found", {"what": "directory", "id": source})
        with self.lock("backup", exclusive=False, retry=retry_lock) as held:
            result = self._backup(
                source, held, threads, progress, hostname, None if force else parent, force, selection
            )
        try:
            result.gc = self.gc(grace=gc_grace, retry_lock=0.0)
        except Locked as e:
            result.gc_skipped = f"the vault is in use ({e.holder})"
        except Error as e:
            result.gc_skipped = str(e)
            _warn(f"gc after the backup did not run: {e}")
        return result

    def _backup(
        self,
        source: str,
        held: VaultLock,
        threads: int,
        progress: Optional[Progress],
        hostname: Optional[str],
        parent: Optional[str],
        force: bool,
        selection: Optional[BackupFilter] = None,
    ) -> BackupResult:
        started_ns = time.time_ns()
        hostname = hostname or socket.gethostname()
        roots = [os.path.abspath(source)]
        if force:
            session = BackupSession(self.vault, self.load_index(), threads)
        else:
            state = self.state(bundles=False)
            session = BackupSession(self.vault, state.index(), threads)
            parent_id = state.resolve(parent) if parent else state.parent_for(hostname, list(roots))
            if parent_id is not None:
                session.set_parent(state.snapshot(parent_id))
        result = BackupResult(snapshot_id="", counters={}, bundles=0, stored_bytes=0)
        pool = ThreadPoolExecutor(self.concurrency, thread_name_prefix="cloudbackup-upload")
        window = _Window(pool, self.concurrency)

        def store_bundles(bundles: List[Tuple[str, bytes]]) -> None:
            # A bundle's id is the BLAKE3 of its bytes, fresh nonces inside:
            # a new bundle is never stored yet, so no existence check.
            for bundle_id, data in bundles:
                window.submit(partial(self.storage.put, f"bundles/{bundle_id}", data))
                result.bundles += 1
                result.stored_bytes += len(data)

        try:
            for fs_path, name, st in _walk(source, selection=selection):
                mode = stat.S_IMODE(st.st_mode)
                mtime = int(st.st_mtime)
                if stat.S_ISREG(st.st_mode):
                    meta = _file_meta(name, st)
                    # Unchanged since the parent: taken over unread.
                    if not force and session.reuse(meta):
                        result.files += 1
                        if progress:
                            progress(st.st_size)
                        continue
                    session.start(meta)
                    with open(fs_path, "rb", buffering=0) as f:
                        while True:
                            data = f.read(READ_SIZE)
                            if not data:
                                break
                            session.write(data)
                            store_bundles(session.take_bundles())
                            if progress:
                                progress(len(data))
                    session.finish_file()
                    result.files += 1
                elif stat.S_ISDIR(st.st_mode):
                    session.add_dir(name, mode, mtime)
                    result.dirs += 1
                elif stat.S_ISLNK(st.st_mode):
                    session.add_symlink(name, os.readlink(fs_path), mtime)
                    result.symlinks += 1
                else:
                    result.skipped += 1
            store_bundles(
                session.finish(
                    started_ns // 1_000_000_000,
                    hostname,
                    time_nanos=started_ns % 1_000_000_000,
                    paths=list(roots),
                )
            )
            store_bundles(session.take_bundles())
            # Every bundle stored before anything names it.
            window.drain()
        except BaseException:
            window.cancel()
            raise
        finally:
            pool.shutdown(wait=True)
        index = session.take_index()
        snapshot = session.take_snapshot()
        assert index is not None and snapshot is not None
        # A lock gone stale may have let a gc in: commit nothing then.
        held.check_fresh()
        self.store("index", index[0], index[1])
        result.stored_bytes += len(index[1])
        self.store("snapshots", snapshot[0], snapshot[1])
        result.stored_bytes += len(snapshot[1])
        result.snapshot_id = snapshot[0]
        result.counters = session.counters()
        return result

    # -- garbage collection -----------------------------------------------------

    def gc(self, *, grace: Optional[float] = None, dry_run: bool = False, retry_lock: float = 0.0) -> GcResult:
        """Removes bundles that no index delta references and temporary
        objects, once at least ``grace`` seconds old (default
        :func:`gc_grace_from_env`): what failed or killed backups left.

        Holds an exclusive lock (so no backup that could still commit runs
        meanwhile). Refuses, deleting nothing, when any index delta or
        snapshot cannot be read or a snapshot uses blobs no index lists:
        run :meth:`repair` first.

        Raises:
            Locked: the vault is in use (after ``retry_lock`` seconds).
            IntegrityError: gc refused (the message says why).
            InvalidArgument: a negative grace.
        """
        if grace is None:
            grace = gc_grace_from_env()
        if not grace >= 0:
            raise InvalidArgument(
                f"invalid argument `grace`: {grace} is not a number of seconds >= 0",
                {"name": "grace", "reason": "negative"},
            )
        with self.lock("gc", exclusive=True, retry=retry_lock) as held:
            state = self.state()
            plan = state.gc_plan(time.time_ns(), int(grace * 1_000_000_000))
            delete = [str(o["name"]) for o in plan["delete"]]
            out = GcResult(
                referenced=int(plan["referenced_bundles"]),
                unreferenced=int(plan["unreferenced_bundles"]),
                deleted=0,
                deleted_bytes=0,
                kept_young=int(plan["kept_young"]),
                temporary=int(plan["temporary"]),
            )
            if dry_run or not delete:
                return out
            held.check_fresh()
            with ThreadPoolExecutor(self.concurrency) as pool:
                list(pool.map(self.storage.delete, delete))
            out.deleted = len(delete)
            out.deleted_bytes = int(plan["delete_bytes"])
            return out

    # -- repair -----------------------------------------------------------------

    def repair(self, *, retry_lock: float = 0.0, progress: Optional[Progress] = None) -> Dict[str, Any]:
        """Rebuilds lost or unreadable index deltas from the bundles (each
        bundle's trailer lists its blobs) and sets unreadable index deltas
        and snapshots aside under ``lost+found/``, under an exclusive lock.
        Returns the core's report plus ``index_written`` (the new delta's
        id, or None) and ``set_aside`` (``[[from, to]...]``)."""
        with self.lock("repair", exclusive=True, retry=retry_lock) as held:
            state = self._stored_state()
            plan = state.repair_plan()
            rebuild = IndexRebuild(state)

            def fetch(bundle: str) -> Optional[bytes]:
                try:
                    return self.read("bundles", bundle)
                except NotFound:
                    return None

            for bundle, data in _prefetch(list(plan["bundles_to_read"]), fetch, self.concurrency):
                if data is None:
                    rebuild.unreadable(bundle, "listed, but gone when fetched")
                    continue
                try:
                    rebuild.feed(bundle, data)
                except Error:
                    pass  # in the report
                if progress:
                    progress(len(data))
            index, report = rebuild.finish()
            held.check_fresh()
            # Unreadable objects aside first: a rebuilt delta can have the
            # very id (and name) of the damaged one it replaces. A repair
            # killed in between leaves an index missing, which gc refuses
            # and the next repair rebuilds.
            moved: List[List[str]] = []
            for name in plan["set_aside"]:
                target = state.set_aside_target(name)
                try:
                    data = self.storage.get(name)
                except NotFound:
                    continue
                self.storage.put(target, data)
                self.storage.delete(name)
                moved.append([name, target])
            report["index_written"] = None
            if index is not None:
                self.storage.put(f"index/{index[0]}", index[1])
                report["index_written"] = index[0]
            report["set_aside"] = moved
            return report

    # -- locks ------------------------------------------------------------------

    def locks(self) -> List[Dict[str, Any]]:
        """Every lock on the vault: ``{"id", "holder", "stale"}``."""
        table = VaultLock(self, "list", exclusive=False).table(time.time_ns())
        return [{"id": i, "holder": d, "stale": stale} for i, d, stale in table.describe()]

    def unlock(self, *, remove_all: bool = False) -> List[Tuple[str, str]]:
        """Removes the stale locks (their process is gone from this host,
        or they were not refreshed for 30 minutes), or every lock with
        ``remove_all``; returns ``[(id, holder)]`` of those removed."""
        table = VaultLock(self, "unlock", exclusive=False).table(time.time_ns())
        removed = table.removable(remove_all)
        for lock_id, _holder in removed:
            self.storage.delete(f"locks/{lock_id}")
        return removed

    # -- restore ------------------------------------------------------------

    def restore(
        self,
        which: str,
        dest: str,
        *,
        include: Optional[List[str]] = None,
        exclude: Optional[List[str]] = None,
        overwrite: bool = False,
        progress: Optional[Progress] = None,
        retry_lock: float = 0.0,
        state: Optional[VaultState] = None,
        iinclude: Optional[List[str]] = None,
        iexclude: Optional[List[str]] = None,
        resume: bool = False,
    ) -> RestoreResult:
        """Restores a snapshot (id, unique prefix or ``"latest"``) into
        ``dest``. An existing file is never replaced unless ``overwrite``
        (the core skips it). Ranges download :attr:`concurrency` at a time,
        in plan order, while the core opens the ones already fetched.

        A file that cannot be written (a full disk, an I/O error, a
        permission refused) fails alone: its temporary is removed, the
        report's ``errors`` names it (``write_failed``) and the other files
        go on. Each file is moved into place as soon as its content is
        complete (with its mode and modification time), so an interrupted
        restore keeps the files it finished; rerunning it completes the
        rest (existing files are skipped; with ``resume``, files whose size
        and modification time match the snapshot count as done even with
        ``overwrite``), after removing the temporaries a killed restore
        left beside the files it restores. Blobs of zeros are not written:
        files are created at their size, so those runs stay holes.

        Holds a shared lock when the vault can be written (a read-only
        vault is restored without one). Each file is written beside its
        destination under a temporary name (the core's, short enough for
        any file name) and renamed into place only once all its bytes were
        verified: a file whose blobs fail (reported in the result) or a
        restore that stops half-way leaves no partial file, and an existing
        file that ``overwrite`` would replace stays as it was.

        ``include``/``exclude`` (``iinclude``/``iexclude`` ignore case) are
        patterns (docs/PATTERNS.md): ``/a`` restores ``/a``, all below it
        and the folders above it; ``*.log`` matches at any depth.

        ``state`` (from :meth:`state`) saves reading the vault's metadata
        again when restoring several snapshots in a row."""
        with self.lock("restore", exclusive=False, retry=retry_lock, required=False):
            return self._restore(
                which, dest, include, exclude, overwrite, progress, state, iinclude, iexclude, resume
            )

    def _restore(
        self,
        which: str,
        dest: str,
        include: Optional[List[str]],
        exclude: Optional[List[str]],
        overwrite: bool,
        progress: Optional[Progress],
        state: Optional[VaultState],
        iinclude: Optional[List[str]] = None,
        iexclude: Optional[List[str]] = None,
        resume: bool = False,
    ) -> RestoreResult:
        state = state or self.state()
        snap = self.snapshot(which, state)
        existing, found = _at_destination(dest, snap.entries)
        session = RestoreSession(
            self.vault,
            snap,
            state.index(),
            include=include,
            exclude=exclude,
            iinclude=iinclude,
            iexclude=iexclude,
            overwrite=overwrite,
            existing=existing,
            found=found,
            resume=resume,
        )
        os.makedirs(dest, exist_ok=True)
        result = RestoreResult(snapshot_id=snap.id, report={}, creates=len(session.creates))
        files = _OpenFiles(session)
        files.remove_leftovers(_file_dirs(dest, snap.entries))
        for c in session.creates:
            path = _safe_join(dest, c["path"])
            try:
                if c["kind"] == "dir":
                    os.makedirs(path, exist_ok=True)
                    continue
                # A filtered restore may leave a parent out of the plan.
                os.makedirs(os.path.dirname(path), exist_ok=True)
                if c["kind"] == "symlink":
                    if os.path.lexists(path):
                        os.unlink(path)
                    os.symlink(c["target"], path)
                else:
                    if os.path.islink(path):
                        os.unlink(path)
                    # Created on its first write (one open per file, not two).
                    files.pending[c["path"]] = _Pending(path, int(c["size"]), int(c["mode"]), _mtime_ns(c))
            except OSError as e:
                # This entry fails alone (reported), the restore goes on.
                session.fail_path(c["path"], _os_error(e))

        def fetch(job: Tuple[str, int, int]) -> Optional[bytes]:
            bundle, offset, length = job
            try:
                return self.storage.get_range(f"bundles/{bundle}", offset, length)
            except NotFound:
                return None

        jobs = [
            (fetch_["bundle"], int(r["offset"]), int(r["length"]))
            for fetch_ in session.plan
            for r in fetch_["ranges"]
        ]
        missing: Set[str] = set()
        try:
            # Empty files are complete before any range.
            files.complete(session.take_completed())
            for (bundle, offset, _length), data in _prefetch(jobs, fetch, self.concurrency):
                if data is None:
                    if bundle not in missing:
                        missing.add(bundle)
                        session.missing(bundle)
                    continue
                if bundle in missing:
                    continue
                for chunk, places in session.feed(bundle, offset, data):
                    for path, at in places:
                        written = files.write(path, at, chunk)
                        result.bytes_written += written
                        if progress and written:
                            progress(written)
                files.complete(session.take_completed())
            result.report = session.finish()
        finally:
            # What was not moved into place failed (or the restore stopped):
            # no partial file stays.
            files.discard()
        # Modes and times after the content, deepest first (the core's list).
        failed = False
        for c in session.apply():
            path = _safe_join(dest, c["path"])
            ns = _mtime_ns(c)
            try:
                if c["kind"] == "symlink":
                    os.utime(path, ns=(ns, ns), follow_symlinks=False)
                else:
                    os.chmod(path, int(c["mode"]))
                    os.utime(path, ns=(ns, ns))
            except OSError as e:
                session.fail_path(c["path"], _os_error(e))
                failed = True
        if failed:
            result.report = session.report()
        return result

    # -- verify ---------------------------------------------------------------

    def verify(
        self,
        fraction: float = 1.0,
        seed: Optional[int] = None,
        progress: Optional[Progress] = None,
        retry_lock: float = 0.0,
    ) -> Dict[str, Any]:
        """Checks the whole vault: every snapshot decrypts, every blob it
        uses is indexed, every indexed bundle is there, and every bundle (or
        a sampled ``fraction``) holds what the index says; reports leftover
        temporary objects. Returns the core's report (problems listed, never
        raised). Holds a shared lock when the vault can be written."""
        with self.lock("verify", exclusive=False, retry=retry_lock, required=False):
            state = self._stored_state()
            if seed is None:
                seed = int.from_bytes(os.urandom(8), "little")
            verifier = Verifier.for_state(state)
            plan = verifier.plan(fraction, seed)

            def fetch(bundle: str) -> Optional[bytes]:
                try:
                    return self.read("bundles", bundle)
                except NotFound:
                    return None

            for bundle, data in _prefetch(plan, fetch, self.concurrency):
                if data is None:
                    verifier.missing(bundle)
                    continue
                try:
                    verifier.feed(bundle, data)
                except Error:  # every problem is in the report too
                    pass
                if progress:
                    progress(len(data))
            return verifier.report()


def _at_destination(dest: str, entries: List[Dict[str, Any]]) -> Tuple[List[str], List[Dict[str, Any]]]:
    """What of the snapshot's ``entries`` is already under ``dest``: the
    paths that exist (not regular files), and the regular files with their
    size and modification time (the core decides which are done). Paths the
    core refuses are left out: the restore reports them."""
    existing: List[str] = []
    found: List[Dict[str, Any]] = []
    for e in entries:
        try:
            st = os.lstat(_safe_join(dest, e["path"]))
        except (OSError, InvalidValue):
            continue
        if stat.S_ISREG(st.st_mode):
            mtime, nanos = divmod(st.st_mtime_ns, 1_000_000_000)
            found.append({"path": e["path"], "size": st.st_size, "mtime": mtime, "mtime_nanos": nanos})
        else:
            existing.append(e["path"])
    return existing, found


def _file_dirs(dest: str, entries: List[Dict[str, Any]]) -> Set[str]:
    """The directories under ``dest`` the snapshot's files go to (where a
    killed restore may have left temporaries)."""
    dirs: Set[str] = set()
    for e in entries:
        if e["kind"] == "file":
            try:
                dirs.add(os.path.dirname(_safe_join(dest, e["path"])))
            except InvalidValue:
                pass
    return dirs


def _mtime_ns(create: Dict[str, Any]) -> int:
    """A create's modification time in nanoseconds."""
    return int(create["mtime"]) * 1_000_000_000 + int(create.get("mtime_nanos", 0))


def _os_error(e: OSError) -> str:
    """The report's text of a host failure: the system's message and the
    errno name (``No space left on device (ENOSPC)``), without the
    temporary's name (the report names the file)."""
    name = errno.errorcode.get(e.errno or 0)
    message = e.strerror or str(e)
    return f"{message} ({name})" if name else message


@dataclass
class _Pending:
    """A file to create: where, its size, and the mode and modification
    time (ns) it gets before it is moved into place."""

    fs_path: str
    size: int
    mode: int
    mtime_ns: int


class _OpenFiles:
    """The files a restore writes: each created at its size (so the holes
    the core leaves read as zeros) on its first write under a temporary name
    beside its destination, and its descriptor kept for the writes that
    follow, up to ``limit`` open at once (least recently used closed first).
    :meth:`complete` gives a finished file its mode and time and renames it
    into place; a file that cannot be written fails alone (reported to the
    core, its temporary removed); :meth:`discard` removes every temporary
    not moved into place."""

    def __init__(self, session: RestoreSession, limit: int = 128) -> None:
        self.session = session
        self.limit = limit
        #: snapshot path -> what to create, not created yet (or not done).
        self.pending: Dict[str, _Pending] = {}
        self.open: "OrderedDict[str, int]" = OrderedDict()
        #: snapshot path -> temporary path, once created.
        self.temporary: Dict[str, str] = {}
        #: Files that failed here (their writes are dropped).
        self.failed: Set[str] = set()

    @staticmethod
    def remove_leftovers(dirs: Set[str]) -> None:
        """Removes the temporaries a killed restore left in ``dirs``: names
        of the core's temporary form whose restore is not running (its
        process is gone, or it had this process's id)."""
        for d in dirs:
            try:
                names = os.listdir(d)
            except OSError:
                continue
            for name in names:
                tag = partial_tag(name)
                if tag is None or (tag != os.getpid() and pid_alive(tag)):
                    continue
                try:
                    os.unlink(os.path.join(d, name))
                except OSError:
                    pass

    def _create(self, path: str) -> int:
        p = self.pending[path]
        head, tail = os.path.split(p.fs_path)
        # The core's name: its length does not grow with the file's.
        tmp = os.path.join(head, partial_name(tail, os.getpid()))
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, 0o600)
        self.temporary[path] = tmp
        try:
            os.ftruncate(fd, p.size)
        except BaseException:
            os.close(fd)
            raise
        return fd

    def _fd(self, path: str) -> int:
        """The descriptor to write snapshot ``path`` through."""
        fd = self.open.get(path)
        if fd is not None:
            self.open.move_to_end(path)
            return fd
        if path in self.temporary:
            fd = os.open(self.temporary[path], os.O_WRONLY | os.O_CLOEXEC)
        elif path in self.pending:
            fd = self._create(path)
        else:
            raise InvalidState(f"restore wrote to {path!r}, which it did not create")
        self.open[path] = fd
        while len(self.open) > self.limit:
            _old, old_fd = self.open.popitem(last=False)
            os.close(old_fd)
        return fd

    def write(self, path: str, at: int, data: bytes) -> int:
        """Writes ``data`` at ``at`` of ``path``; returns the bytes written
        (0 when the file failed, now or before)."""
        if path in self.failed:
            return 0
        try:
            fd = self._fd(path)
            view = memoryview(data)
            while view:
                n = os.pwrite(fd, view, at)
                view, at = view[n:], at + n
        except OSError as e:
            self.fail(path, e)
            return 0
        return len(data)

    def complete(self, paths: List[str]) -> None:
        """Gives each finished file its mode and modification time and
        renames it into place (a file with nothing written, empty or all
        holes, is created first)."""
        for path in paths:
            p = self.pending.get(path)
            if p is None or path in self.failed:
                continue
            try:
                fd = self._fd(path)
                self.open.pop(path, None)
                try:
                    os.fchmod(fd, p.mode & 0o7777)
                    os.utime(fd, ns=(p.mtime_ns, p.mtime_ns))
                finally:
                    os.close(fd)
                os.replace(self.temporary[path], p.fs_path)
            except OSError as e:
                self.fail(path, e)
                continue
            del self.temporary[path]
            del self.pending[path]

    def fail(self, path: str, e: OSError) -> None:
        """``path`` cannot be written: removes what there is of it and
        reports it to the core (the restore goes on)."""
        self.failed.add(path)
        fd = self.open.pop(path, None)
        if fd is not None:
            os.close(fd)
        tmp = self.temporary.pop(path, None)
        if tmp is not None:
            try:
                os.unlink(tmp)
            except OSError:
                pass
        self.session.fail_path(path, _os_error(e))

    def discard(self) -> None:
        """Closes and removes every temporary not moved into place."""
        while self.open:
            os.close(self.open.popitem()[1])
        for tmp in self.temporary.values():
            try:
                os.unlink(tmp)
            except FileNotFoundError:
                pass
        self.temporary.clear()


#: The name this class had when vaults could only be local directories
#: (kept: callers and the README use it; it opens any location).
LocalVault = StoredVault

J = TypeVar("J")
R = TypeVar("R")


def _prefetch(jobs: List[J], fetch: Callable[[J], R], limit: int) -> Iterator[Tuple[J, R]]:
    """``(job, fetch(job))`` in job order, with up to ``limit`` fetches
    running ahead on a pool, so downloads overlap the caller's work while
    at most ``limit`` results wait in memory."""
    if not jobs:
        return
    with ThreadPoolExecutor(max(1, limit), thread_name_prefix="cloudbackup-fetch") as pool:
        pending: Deque[Tuple[J, "Future[R]"]] = deque()
        it = iter(jobs)
        try:
            for job in it:
                pending.append((job, pool.submit(fetch, job)))
                if len(pending) >= limit:
                    break
            while pending:
                job, fut = pending.popleft()
                value = fut.result()
                nxt = next(it, None)
                if nxt is not None:
                    pending.append((nxt, pool.submit(fetch, nxt)))
                yield job, value
        finally:
            for _job, fut in pending:
                fut.cancel()


def _file_meta(name: str, st: os.stat_result) -> Dict[str, Any]:
    """A regular file's FileMeta (see :meth:`BackupSession.start`): what
    the core compares with the parent (size, mtime and ctime in
    nanoseconds, inode, device) besides what the snapshot records."""
    return {
        "path": quote_path(name),
        "kind": "file",
        "mode": stat.S_IMODE(st.st_mode),
        "mtime": st.st_mtime_ns // 1_000_000_000,
        "mtime_nanos": st.st_mtime_ns % 1_000_000_000,
        "ctime": st.st_ctime_ns // 1_000_000_000,
        "ctime_nanos": st.st_ctime_ns % 1_000_000_000,
        "size": st.st_size,
        "uid": st.st_uid,
        "gid": st.st_gid,
        "inode": st.st_ino,
        "device": st.st_dev,
        "links": st.st_nlink,
    }


def _walk(
    root: str,
    name: str = "/",
    *,
    selection: Optional[BackupFilter] = None,
    root_device: Optional[int] = None,
) -> Iterator[Tuple[str, str, os.stat_result]]:
    """The tree below ``root``, depth first, names sorted, as
    ``(filesystem path, snapshot name, lstat)`` (the C agent's order).
    What ``selection`` leaves out is not yielded, and a left-out folder
    (or a mount point under ``one_file_system``) is not entered."""
    entries = sorted(os.listdir(root))
    confirmed: List[str] = []
    if selection is not None:
        if root_device is None:
            root_device = os.lstat(root).st_dev
        confirmed = _tags_in(root, entries, selection)
    for entry in entries:
        fs_path = os.path.join(root, entry)
        child = name.rstrip("/") + "/" + entry
        st = os.lstat(fs_path)
        is_dir = stat.S_ISDIR(st.st_mode)
        visit = "keep"
        if selection is not None and root_device is not None:
            if confirmed and selection.excluded_by_tags(confirmed, entry):
                continue
            visit = selection.visit(child, is_dir, st.st_dev, root_device)
            if visit == "skip":
                continue
        yield fs_path, child, st
        if is_dir and visit == "keep":
            yield from _walk(fs_path, child, selection=selection, root_device=root_device)


def _tags_in(folder: str, entries: List[str], selection: BackupFilter) -> List[str]:
    """The ``exclude_if_present`` files ``folder`` holds (with the right
    header), by name. An unreadable one tags nothing (with a warning), as
    in restic."""
    found: List[str] = []
    for index, (tag, header_len) in enumerate(selection.tag_files):
        if tag not in entries:
            continue
        head = b""
        if header_len:
            try:
                with open(os.path.join(folder, tag), "rb") as f:
                    head = f.read(header_len)
            except OSError as e:
                _warn(f"could not read the exclusion tag file {os.path.join(folder, tag)}: {e}")
                continue
        if selection.tag_confirms(index, head):
            found.append(tag)
    return found
