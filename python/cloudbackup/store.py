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

import base64
import errno
import os
import socket
import stat
import sys
import time
import weakref
from collections import OrderedDict, deque
from functools import partial
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, BinaryIO, Callable, Deque, Dict, Iterable, Iterator, List, Mapping, Optional, Sequence, Set, Tuple, TypeVar, Union, cast

from . import _native
from .engine import (
    BackupFilter,
    BackupSession,
    Buffer,
    Bundle,
    Dump,
    Index,
    IndexRebuild,
    Password,
    Pruner,
    cleanup_failed_patch,
    cleanup_finished_patch,
    cleanup_queued_patch,
    cleanup_started_patch,
    RestoreSession,
    Snapshot,
    Vault,
    VaultState,
    Verifier,
    _expect,
    _fields,
    check_tags,
    parse_seconds,
    partial_name,
    partial_owner,
    quote_path,
    split_file_root,
    relative_snapshot_path,
    unquote_path,
)
from .errors import Error, InvalidArgument, InvalidState, InvalidValue, Locked, NotFound, StorageError
from .shapes import PrunePlan, PruneReport, RestoreReport, SnapshotEntry, VerifyReport
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
#: Where a vault is: a storage, or a URL or path (str or path-like) for
#: :func:`open_storage`.
Location = Union[str, "os.PathLike[str]", Storage]


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
    #: Sockets, not backed up (as restic).
    skipped: int = 0
    #: FIFOs and device nodes.
    special: int = 0
    #: The paths that could not be read, in walk order: ``{"path": snapshot
    #: path, "file": filesystem path (both quoted forms), "error": why}``.
    #: The snapshot was saved without them (and lists them too).
    errors: List[Dict[str, str]] = field(default_factory=list)
    #: The files that changed while they were read (a log being written,
    #: say), in walk order: ``{"path", "file", "warning": why}``. The
    #: snapshot has the bytes read; the next backup reads them again.
    changed: List[Dict[str, str]] = field(default_factory=list)
    #: What the gc after the backup removed (None when it did not run).
    gc: Optional["GcResult"] = None
    #: Why the gc after the backup did not run (the vault was busy, or
    #: gc refused), if it did not.
    gc_skipped: Optional[str] = None


@dataclass
class RestoreResult:
    """What a restore did: the core's report, and bytes written."""

    snapshot_id: str
    report: RestoreReport
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


@dataclass
class ForgetResult:
    """What forget decided and removed."""

    #: Every readable snapshot's decision, by group (host and paths),
    #: newest first: ``{"id", "time", "time_nanos", "hostname", "paths",
    #: "keep", "reasons"}``.
    decisions: List[Dict[str, Any]]
    #: Snapshots removed (0 on a dry run).
    removed: int
    #: The prune that followed (``forget(prune=...)``), if any.
    prune: Optional["PruneResult"] = None


@dataclass
class PruneResult:
    """What a prune planned and did."""

    #: The core's plan: figures (``used_blobs``, ``unused_blobs``,
    #: ``repack_bundles``, ``unused_bundles``..., each ``{"count",
    #: "bytes"}``), ``bytes_before``, ``bytes_after_estimate``, ``read``.
    plan: PrunePlan
    #: The core's report (None on a dry run or when there was nothing to
    #: do): ``bundles_written``, ``indexes_written``, ``deleted``,
    #: ``bytes_before``, ``bytes_after``.
    report: Optional[PruneReport] = None

    @property
    def bytes_before(self) -> int:
        """The vault's size before, bytes."""
        return int(self.plan["bytes_before"])

    @property
    def bytes_after(self) -> int:
        """Its size after (the estimate on a dry run), bytes."""
        if self.report is None:
            return int(self.plan["bytes_after_estimate"])
        return int(self.report["bytes_after"])


def gc_grace_from_env() -> float:
    """The gc grace period from ``CLOUDBACKUP_GC_GRACE`` (seconds, read by
    the core's rule), else the default of an hour."""
    text = os.environ.get(GC_GRACE_ENV)
    return parse_seconds(GC_GRACE_ENV, text) if text else DEFAULT_GC_GRACE


def _path_argument(value: Any, name: str) -> str:
    """A path argument (str, bytes or path-like) as the filesystem's str:
    a TypeError naming the argument for anything else (an int would be
    taken for a file descriptor), ``InvalidArgument`` for a str no file
    name has (a lone surrogate, which ``os.fsencode`` cannot encode)."""
    if not isinstance(value, (str, bytes, os.PathLike)):
        raise TypeError(f"argument '{name}': '{type(value).__name__}' object is not a path")
    path = os.fsdecode(value)
    try:
        os.fsencode(path)
    except UnicodeEncodeError as e:
        raise InvalidArgument(
            f"invalid argument `{name}`: cannot be a file name ({e})", {"name": name, "reason": "not a file name"}
        ) from None
    return path


def _storage(location: Location) -> Storage:
    """The storage a path, a vault URL or a Storage names (a TypeError
    naming the argument for anything else)."""
    if isinstance(location, (str, os.PathLike)):
        return open_storage(_path_argument(location, "location"))
    if not isinstance(location, Storage):
        raise TypeError(
            f"argument 'location': '{type(location).__name__}' object is not a path, a vault URL or a Storage"
        )
    return location


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
        _expect(vault, Vault, "vault")
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

    def store(self, kind: str, object_id: str, data: Buffer) -> bool:
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

    def dump(self, which: str, path: Union[str, bytes], out: BinaryIO, retry_lock: float = 0.0) -> int:
        """Writes the file ``path`` of snapshot ``which`` (id, prefix or
        ``latest``) to ``out`` in order, a blob at a time (memory: one
        blob), each checked before it is written; returns its size. Holds a
        shared lock when the vault can be written."""
        with self.lock("dump", exclusive=False, retry=retry_lock, required=False):
            state = self.state(bundles=False)
            snapshot = state.snapshot(state.resolve(which))
            dump = Dump(self.vault, state.index(), snapshot, path)
            for i, (bundle, offset, length) in enumerate(dump.fetches()):
                out.write(dump.open(i, self.storage.get_range(f"bundles/{bundle}", offset, length)))
            return dump.size()

    def _stored_state(self) -> VaultState:
        """The state as storage holds it, past any local cache: what verify
        checks and repair mends is the vault itself, not this host's copies."""
        storage = self.storage.inner if isinstance(self.storage, CachedStorage) else self.storage
        return self._state(True, retry=False, storage=storage)

    def _state(
        self,
        bundles: bool,
        retry: bool,
        storage: Optional[Storage] = None,
        known: Optional[VaultState] = None,
    ) -> VaultState:
        """``known``: a state read earlier, brought up to date (listed
        again; only objects new since are fetched)."""
        source = storage or self.storage
        if known is not None:
            state = known
            state.clear_listing()
        else:
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
        then id). Unreadable ones are skipped with a warning. Each tree is
        taken from the vault state only when asked for: listing them (time,
        host, roots, tags, counters) copies none."""
        state = self._given_state(state)
        self._warn_unreadable(state)
        return state.snapshots()

    def _given_state(self, state: Optional[VaultState]) -> VaultState:
        """``state`` as given (a VaultState read before), else the vault's
        state read now."""
        if state is None:
            return self.state()
        return _expect(state, VaultState, "state")

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
        state = self._given_state(state)
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
        tags: Optional[List[str]] = None,
    ) -> BackupResult:
        """Backs ``source`` up; the tree is named from ``/`` in the snapshot,
        which records ``source`` (made absolute) as its root, and ``tags``
        (which :meth:`forget` can keep by).

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
        source = _path_argument(source, "source")
        if not os.path.exists(source):
            raise NotFound(f"{source} not found", {"what": "source", "id": source})
        # Bad tags fail now, not after every file was read and uploaded.
        check_tags(tags or [])
        with self.lock("backup", exclusive=False, retry=retry_lock) as held:
            result, state = self._backup(
                source, held, threads, progress, hostname, None if force else parent, force, selection, tags
            )
        try:
            result.gc = self._gc(gc_grace, False, 0.0, state)
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
        tags: Optional[List[str]] = None,
    ) -> Tuple[BackupResult, Optional[VaultState]]:
        """The backup, and the vault's state as read before it (for the gc
        after it; None with ``force``, which reads only the index)."""
        started_ns = time.time_ns()
        hostname = hostname or socket.gethostname()
        # As bytes: a root whose name is not UTF-8 (held by Python as
        # surrogate escapes) is its own bytes to the core.
        roots = [os.fsencode(os.path.abspath(source))]
        state: Optional[VaultState] = None
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

        # The bundles stored, which no index names until this backup's
        # index delta is stored: given back if it fails before that.
        stored: List[str] = []

        def store_bundles(bundles: List[Bundle]) -> None:
            # A bundle's id is the BLAKE3 of its bytes, fresh nonces inside:
            # a new bundle is never stored yet, so no existence check. Its
            # memory goes back to the session once the upload lets it go.
            for bundle_id, data in bundles:
                window.submit(partial(self._put_noted, stored, f"bundles/{bundle_id}", data))
                result.bundles += 1
                result.stored_bytes += len(data)

        def failed(path: bytes, full: bytes, reason: str, *, recorded: bool = False) -> None:
            # ``recorded``: the session already has it (abandon_file).
            if not recorded:
                session.file_error(quote_path(path), reason)
            result.errors.append({"path": quote_path(path), "file": quote_path(full), "error": reason})

        buf = bytearray(READ_SIZE)
        try:
            try:
                for found in _walk(source, failed, selection):
                    self._back_up_one(session, found, result, failed, store_bundles, progress, force, buf)
                store_bundles(
                    session.finish(
                        started_ns // 1_000_000_000,
                        hostname,
                        time_nanos=started_ns % 1_000_000_000,
                        paths=list(roots),
                        tags=tags,
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
        except BaseException:
            # A full disk, a storage that failed for good, Ctrl-C: what was
            # stored is referenced by nothing, so its room comes back now
            # (a killed backup's is left to gc after the grace period). Not
            # once the index delta is being stored: a failed upload may
            # still have landed, and then it names these bundles.
            self._give_back(stored)
            raise
        self.store("index", index[0], index[1])
        result.stored_bytes += len(index[1])
        self.store("snapshots", snapshot[0], snapshot[1])
        result.stored_bytes += len(snapshot[1])
        result.snapshot_id = snapshot[0]
        result.counters = session.counters()
        return result, state

    @staticmethod
    def _back_up_one(
        session: BackupSession,
        found: _Found,
        result: BackupResult,
        failed: Callable[..., None],
        store_bundles: Callable[[List[Bundle]], None],
        progress: Optional[Progress],
        force: bool,
        buf: bytearray,
    ) -> None:
        """Records one path the walker found: its metadata, extended
        attributes and (files) content, or a file's chunk list from the
        parent snapshot when it is unchanged (not read; never with
        ``force``). What cannot be read is a per-file error; the backup
        goes on. ``buf``: the read buffer, :data:`READ_SIZE` bytes, reused
        for every file."""
        st = found.st
        kind = _kind(st.st_mode)
        if kind is None:
            result.skipped += 1  # a socket
            return
        if kind != "file":
            meta = _meta(found.path, kind, st)
            if kind == "symlink":
                try:
                    meta["target"] = quote_path(os.readlink(found.name, dir_fd=found.dir_fd))
                except OSError as e:
                    failed(found.path, found.full, _reason("readlink", e))
                    return
            try:
                xattrs = _read_xattrs(_at(found.dir_fd, found.name, found.full))
            except FileNotFoundError as e:
                # Gone since its lstat: no entry, one error.
                found.descend = False
                failed(found.path, found.full, _reason("xattrs", e))
                return
            except OSError as e:
                # restic warns and keeps the entry; so does this.
                xattrs = []
                failed(found.path, found.full, _reason("xattrs", e))
            if xattrs:
                meta["xattrs"] = _xattr_meta(xattrs)
            try:
                session.add(meta)
            except Error as e:  # a path the core refuses
                found.descend = False
                failed(found.path, found.full, str(e))
                return
            if kind == "dir":
                result.dirs += 1
            elif kind == "symlink":
                result.symlinks += 1
            else:
                result.special += 1
            return
        meta = _meta(found.path, "file", st)
        try:
            xattrs = _read_xattrs(_at(found.dir_fd, found.name, found.full))
        except FileNotFoundError as e:
            # Gone since its lstat: one error, nothing to open.
            failed(found.path, found.full, _reason("xattrs", e))
            return
        except OSError as e:
            xattrs = []
            failed(found.path, found.full, _reason("xattrs", e))
        if xattrs:
            meta["xattrs"] = _xattr_meta(xattrs)
        if not force:
            try:
                reused = session.reuse(meta)
            except Error as e:  # a path the core refuses
                failed(found.path, found.full, str(e))
                return
            if reused:  # unchanged since the parent: taken over unread
                result.files += 1
                if progress:
                    progress(st.st_size)
                return
        try:
            fd = os.open(found.name, _READ_FLAGS, dir_fd=found.dir_fd)
        except OSError as e:
            # Gone since the listing (ENOENT), unreadable (EACCES), ...
            failed(found.path, found.full, _reason("open", e))
            return
        try:
            fst = os.fstat(fd)
            if not stat.S_ISREG(fst.st_mode) or (fst.st_ino, fst.st_dev) != (st.st_ino, st.st_dev):
                failed(found.path, found.full, "replaced by another file during the backup")
                return
            # The metadata of what is read, not of the earlier lstat.
            meta.update(_meta(found.path, "file", fst))
            try:
                session.start(meta)
            except Error as e:  # a path the core refuses
                failed(found.path, found.full, str(e))
                return
            # Holes only where the blocks fall short of the size: other
            # files need no extent walk.
            sparse = getattr(fst, "st_blocks", fst.st_size) * 512 < fst.st_size
            try:
                _read_file(session, fd, sparse, buf, store_bundles, progress)
            except _ReadFailed as e:
                # Half-way: the entry goes, its error stays.
                session.abandon_file(_reason("read", e.error))
                failed(found.path, found.full, _reason("read", e.error), recorded=True)
                return
            try:
                after = os.fstat(fd)
            except OSError as e:
                session.abandon_file(_reason("fstat", e))
                failed(found.path, found.full, _reason("fstat", e), recorded=True)
                return
            mtime, mtime_nanos = divmod(after.st_mtime_ns, 1_000_000_000)
            warning = session.finish_file_checked(after.st_size, mtime, mtime_nanos)
            if warning is not None:
                result.changed.append(
                    {"path": quote_path(found.path), "file": quote_path(found.full), "warning": warning}
                )
            result.files += 1
        finally:
            os.close(fd)

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
        return self._gc(grace, dry_run, retry_lock, None)

    def _gc(
        self, grace: Optional[float], dry_run: bool, retry_lock: float, known: Optional[VaultState]
    ) -> GcResult:
        """:meth:`gc`; ``known``: the state a backup read before it, listed
        again here under the exclusive lock, so only the objects new since
        (the backup's own, and any other host's) are fetched and decoded."""
        if grace is None:
            grace = gc_grace_from_env()
        if not 0 <= grace <= _native.MAX_SECONDS:
            reason = f"{grace} is not a number of seconds from 0 to {_native.MAX_SECONDS:.0f}"
            raise InvalidArgument(f"invalid argument `grace`: {reason}", {"name": "grace", "reason": reason})
        with self.lock("gc", exclusive=True, retry=retry_lock) as held:
            state = self._state(True, retry=True, known=known)
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

    # -- forget -----------------------------------------------------------------

    def forget(
        self,
        policy: Dict[str, Any],
        *,
        dry_run: bool = False,
        retry_lock: float = 0.0,
        prune: Optional[Dict[str, Any]] = None,
        progress: Optional[Progress] = None,
    ) -> "ForgetResult":
        """Removes the snapshots ``policy`` does not keep (the core's
        rules, restic's semantics: :meth:`VaultState.forget_plan` documents
        the policy's shape). Only snapshot objects go: the data they alone
        used stays until a prune.

        Holds an exclusive lock, as gc does, and reads the vault under it,
        so a backup that committed meanwhile is decided too, never removed
        unseen. Unreadable snapshots are left alone (with a warning).

        ``prune``: prune options (``{}`` for the defaults) to prune under
        the same lock once snapshots were removed (restic's ``forget
        --prune``); a dry run then reports the prune's plan as if they
        were gone.

        Raises:
            InvalidArgument: a bad policy, or one without rules.
            Locked: the vault is in use (after ``retry_lock`` seconds).
        """
        # Their types checked before the lock is taken and the vault read.
        policy = _fields(policy, "policy")
        if prune is not None:
            prune = _fields(prune, "prune")
        with self.lock("forget", exclusive=True, retry=retry_lock) as held:
            return self._forget(held, policy, dry_run, prune, progress)

    def _forget(
        self,
        held: VaultLock,
        policy: Dict[str, Any],
        dry_run: bool,
        prune: Optional[Dict[str, Any]],
        progress: Optional[Progress],
    ) -> "ForgetResult":
        """:meth:`forget` under ``held``, the exclusive lock."""
        state = self._state(False, retry=True, known=None)
        self._warn_unreadable(state)
        decisions = state.forget_plan(policy, time.time_ns())
        remove = [str(d["id"]) for d in decisions if not d["keep"]]
        out = ForgetResult(decisions=decisions, removed=0)
        if dry_run:
            if prune is not None and remove:
                out.prune = self._prune_plan_without(state, remove, prune)
            return out
        if remove:
            held.check_fresh()
            with ThreadPoolExecutor(self.concurrency) as pool:
                list(pool.map(self.storage.delete, (f"snapshots/{i}" for i in remove)))
            out.removed = len(remove)
        # restic prunes only when forget removed something.
        if prune is not None and remove:
            out.prune = self._prune(held, prune, False, progress)
        return out

    def _prune_plan_without(
        self, state: VaultState, removed: List[str], options: Dict[str, Any]
    ) -> PruneResult:
        """The plan a prune would make once ``removed`` snapshots are gone
        (a dry run's view): forget's state, with the bundles listed and
        those snapshots left out."""
        options = dict(options)
        options.setdefault("grace_ns", int(gc_grace_from_env() * 1_000_000_000))
        # The forget state was read without bundles: list them too.
        for o in self.storage.list("bundles"):
            state.add_listed(o.name, o.size, o.mtime_ns)
        state.drop_snapshots(removed)
        return PruneResult(plan=Pruner(self.vault, state, options, time.time_ns()).plan)

    # -- cleanup (v2) -------------------------------------------------------------

    def cleanup(
        self,
        policy: Dict[str, Any],
        prune: Optional[Dict[str, Any]] = None,
        *,
        report: Callable[[List[Dict[str, Any]]], None],
        retry_lock: float = 0.0,
        progress: Optional[Progress] = None,
    ) -> "ForgetResult":
        """Runs a v2 cleanup (the service's Cleanup resource): forget by
        ``policy`` (a configuration's ``retention``, see
        :func:`cloudbackup.engine.keep_policy`), then prune with
        ``prune`` options. Each step of its lifecycle is handed to
        ``report`` as the JSON Patch an agent sends to
        ``PATCH /v2/{project}/cleanups/{id}``: ``queued``, then
        ``in_progress`` with ``started_time`` once the vault is locked,
        then ``completed`` with ``snapshot_ids``, ``bytes_before`` and
        ``bytes_after``, or ``failed`` with ``/errors`` (the error is
        raised after it is reported)."""
        report(cleanup_queued_patch())
        try:
            with self.lock("cleanup", exclusive=True, retry=retry_lock) as held:
                report(cleanup_started_patch(_iso_now()))
                result = self._forget(held, policy, False, prune or {}, progress)
                # A cleanup also gives back what earlier runs left (a
                # killed prune's bundles), even when nothing expired.
                pruned = result.prune or self._prune(held, prune or {}, False, progress)
                result.prune = pruned
        except Error as e:
            report(cleanup_failed_patch(str(e), _iso_now()))
            raise
        forgotten = [str(d["id"]) for d in result.decisions if not d["keep"]]
        report(cleanup_finished_patch(forgotten, pruned.bytes_before, pruned.bytes_after, _iso_now()))
        return result

    # -- prune ------------------------------------------------------------------

    def prune(
        self,
        options: Optional[Dict[str, Any]] = None,
        *,
        dry_run: bool = False,
        retry_lock: float = 0.0,
        progress: Optional[Progress] = None,
    ) -> PruneResult:
        """Gives back the space of blobs no snapshot uses (restic's
        ``prune``; :class:`cloudbackup.engine.Pruner` documents
        ``options``): bundles with no used blob are deleted, and those
        with much unused space have their used blobs copied into new
        bundles first. ``options["grace_ns"]`` defaults to gc's grace.

        Crash-safe: new bundles, then the new index, are stored before
        anything is deleted, and deletions go old index first, bundles
        last; a prune killed at any point leaves every snapshot
        restorable, and the next prune or gc finishes the job. Holds an
        exclusive lock. ``progress`` is called with the bytes of each
        bundle read.

        Raises:
            InvalidArgument: bad options.
            IntegrityError: the vault must not be pruned (see the message:
                run ``repair`` or ``verify``), or a bundle to copy is
                damaged (nothing was deleted).
            Locked: the vault is in use (after ``retry_lock`` seconds).
        """
        with self.lock("prune", exclusive=True, retry=retry_lock) as held:
            return self._prune(held, options, dry_run, progress)

    def _prune(
        self,
        held: VaultLock,
        options: Optional[Dict[str, Any]],
        dry_run: bool,
        progress: Optional[Progress],
    ) -> PruneResult:
        options = _fields(options or {}, "options")
        options.setdefault("grace_ns", int(gc_grace_from_env() * 1_000_000_000))
        state = self._state(True, retry=True)
        pruner = Pruner(self.vault, state, options, time.time_ns())
        out = PruneResult(plan=pruner.plan)
        if dry_run or (not pruner.plan["rewrite_index"] and not pruner.plan["read"] and not _deletes(pruner.plan)):
            return out

        def fetch(name: str) -> bytes:
            return self.storage.get(name)

        # The new bundles stored so far, which no index names until the
        # first new index delta is stored.
        stored: List[str] = []
        indexing = False

        # Bundles are whole objects of up to the bundle size in memory:
        # two fetched ahead and two stored behind keep the copy going while
        # the peak stays at a handful of bundles.
        ahead = 1
        try:
            with ThreadPoolExecutor(self.concurrency) as pool:
                window: Deque[Future[None]] = deque()
                for name, data in _prefetch(list(pruner.plan["read"]), fetch, ahead):
                    for bundle_id, bundle in pruner.feed(name, data):
                        window.append(pool.submit(self._put_noted, stored, f"bundles/{bundle_id}", bundle))
                    while len(window) > ahead:
                        window.popleft().result()
                    if progress:
                        progress(len(data))
                bundles, indexes, delete, report = pruner.finish()
                for bundle_id, bundle in bundles:
                    window.append(pool.submit(self._put_noted, stored, f"bundles/{bundle_id}", bundle))
                for f in window:
                    f.result()
                # Every new bundle is stored before the index that names it.
                # From here nothing is given back: an index upload that
                # failed may still have landed, naming the new bundles.
                indexing = True
                list(pool.map(lambda o: self.storage.put(f"index/{o[0]}", o[1]), indexes))
                held.check_fresh()
                # Old index deltas first, bundles last, each phase whole before
                # the next: every prefix leaves a readable vault.
                for phase in _phases(delete):
                    list(pool.map(self._delete_quietly, phase))
        except BaseException as e:
            if not indexing:
                # Nothing refers to them and the lock is ours: a prune that
                # failed (a full disk, above all) gives their room back now
                # rather than leave it to a gc past the grace period.
                self._give_back(stored)
                if isinstance(e, StorageError) and (e.details or {}).get("errno") == errno.ENOSPC:
                    raise StorageError(
                        f"{e} (the bundles this prune had written were removed again; "
                        "`prune --max-unused unlimited` deletes unused bundles and writes none)",
                        e.details,
                    ) from None
            raise
        out.report = report
        return out

    def _put_noted(self, stored: List[str], name: str, data: Buffer) -> None:
        """Stores ``name`` and adds it to ``stored`` (what :meth:`_give_back`
        deletes should the backup or prune fail before an index names it)."""
        self.storage.put(name, data)
        stored.append(name)

    def _give_back(self, names: List[str]) -> None:
        """Deletes objects a failed backup or prune stored and nothing
        refers to, best effort: what cannot be deleted now (the storage is
        what failed) is left to gc."""
        for name in names:
            try:
                self._delete_quietly(name)
            except Exception:  # noqa: BLE001 - the caller's error is the one raised
                pass

    def _delete_quietly(self, name: str) -> None:
        """Deletes ``name``; already gone (a rerun, another prune) is fine."""
        try:
            self.storage.delete(name)
        except NotFound:
            pass

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
        threads: int = 2,
    ) -> RestoreResult:
        """Restores a snapshot (id, unique prefix or ``"latest"``) into
        ``dest``. An existing file is never replaced unless ``overwrite``
        (the core skips it). Ranges download :attr:`concurrency` at a time,
        in plan order, while the core opens the ones already fetched: on
        ``threads`` worker threads (1: on this thread, between writes),
        which open the next range while this thread writes. The result is
        the same whatever the number.

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
                which, dest, include, exclude, overwrite, progress, state, iinclude, iexclude, resume, threads
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
        threads: int = 1,
    ) -> RestoreResult:
        own_state = state is None
        state = self._given_state(state)
        snap = self.snapshot(which, state)
        index = state.index()
        if own_state:
            # The restore needs one snapshot and the index (both copies):
            # the state's other snapshots are not held for its whole run.
            del state
        # An empty or missing target (the usual restore) has nothing to
        # compare: the snapshot's entries are then never decoded into
        # Python objects, which would cost ~1.7 KB each for the restore's
        # whole run.
        fresh = _is_empty_dir(dest)
        existing, found = ([], []) if fresh else _at_destination(dest, snap)
        session = RestoreSession(
            self.vault,
            snap,
            index,
            include=include,
            exclude=exclude,
            iinclude=iinclude,
            iexclude=iexclude,
            overwrite=overwrite,
            existing=existing,
            found=found,
            resume=resume,
            threads=threads,
        )
        try:
            os.makedirs(dest, exist_ok=True)
        except (FileExistsError, NotADirectoryError):
            # Something that is no folder is where the target goes (or on
            # its way there): say so, not "[Errno 17] File exists".
            reason = f"{dest} is not a folder (something else is there, or on the way to it)"
            raise InvalidArgument(f"invalid argument `dest`: {reason}", {"name": "dest", "reason": reason}) from None
        result = RestoreResult(snapshot_id=snap.id, report=cast(RestoreReport, {}))  # set by finish()
        # Descriptors of the target's directories (closed at the end, or
        # when collected should the restore fail).
        tree = _Tree(dest)
        files = _OpenFiles(session)
        if not fresh:
            files.remove_leftovers(tree, session.leftover_dirs)
        # A batch at a time: 100,000 entries as Python objects at once
        # took ~160 MiB (and as many again for the metadata pass).
        links, result.creates = _create_entries(session.iter_creates(), tree, files, overwrite)

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
        # Ranges handed to the core and not written yet. With threads the
        # core's workers open the blobs of the next range while this thread
        # writes the current one (os.pwrite releases the GIL). One range
        # ahead: on a 500 MB tree two made the restore ~5% faster but its
        # peak RSS ~6 MB higher (a range's plaintext).
        started: Deque[Iterator[Tuple[bytes, List[Tuple[str, int]]]]] = deque()
        ahead = 1 if threads > 1 else 0

        def write_started(keep: int) -> None:
            while len(started) > keep:
                for chunk, places in started.popleft():
                    for path, at in places:
                        # 0 for a file that failed (never written through
                        # a symlink the snapshot made, for one).
                        written = files.write(path, at, chunk)
                        result.bytes_written += written
                        if progress and written:
                            progress(written)
                    # A file is moved into place as soon as its last blob is
                    # written, while its descriptor is still open: a range of
                    # thousands of small files would have closed it (at most
                    # 128 stay open) and it was opened again.
                    files.complete(session.take_completed())
                # And those the range completed with no write (its blobs
                # were holes: all zeros, left unwritten).
                files.complete(session.take_completed())

        try:
            # Empty files are complete before any range.
            files.complete(session.take_completed())
            for (bundle, offset, _length), data in _prefetch(jobs, fetch, self.concurrency):
                if data is None:
                    # The ranges started before come first, as on one thread.
                    write_started(0)
                    if bundle not in missing:
                        missing.add(bundle)
                        session.missing(bundle)
                    continue
                if bundle in missing:
                    continue
                started.append(session.feed_blobs(bundle, offset, data))
                write_started(ahead)
            write_started(0)
            result.report = session.finish()
        finally:
            # What was not moved into place failed (or the restore stopped):
            # no partial file stays.
            files.discard()
        files.finished = True
        report_errors = result.report["errors"]
        errors = (report_errors.get("list") if report_errors else None) or []
        failed = {str(e["path"]) for e in errors}
        # Hard links once their first name is complete and in place.
        _create_links(links, tree, failed, files)
        # Owners, attributes, modes and times after the content, deepest
        # first (the core's list).
        _apply_metadata(session.iter_apply(), tree, files)
        tree.close()
        if files.late_failures:
            result.report = session.report()
        result.errors = [{"path": p, "error": why} for p, why in files.host_errors.items()]
        return result

    # -- verify ---------------------------------------------------------------

    def verify(
        self,
        fraction: float = 1.0,
        seed: Optional[int] = None,
        progress: Optional[Progress] = None,
        retry_lock: float = 0.0,
    ) -> VerifyReport:
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


def _relative(path: str) -> bytes:
    """The bytes of snapshot ``path`` (quoted form) without its leading
    ``/``; the core refuses paths that could leave the target
    (:class:`InvalidValue`)."""
    return os.fsencode(relative_snapshot_path(path))


def _close_all(fds: List[int]) -> None:
    for fd in fds:
        try:
            os.close(fd)
        except OSError:
            pass
    fds.clear()


class _Tree:
    """A restore target reached through directory descriptors: every
    create and metadata call is relative to its directory's descriptor,
    opened component by component without following symlinks. So a path of
    any length is restored (no call gets more than one name), and no
    snapshot entry is written through a symlink an earlier entry made (the
    core plans none below a symlink either: ``engine::placement``).

    Descriptors of recently used directories are cached (``limit``); those
    handed to :class:`_OpenFiles` for paths too long to name whole are kept
    until :meth:`close`."""

    def __init__(self, dest: str, limit: int = 64) -> None:
        self.dest = os.fsencode(dest).rstrip(b"/") or b"/"
        self.limit = max(2, limit)
        self.root = os.open(self.dest, _ROOT_FLAGS)
        #: relative directory path -> descriptor (least recently used first).
        self.fds: "OrderedDict[bytes, int]" = OrderedDict()
        self.pinned: Dict[bytes, int] = {}
        # Every descriptor, so a failed restore's are closed when collected.
        self._all: List[int] = [self.root]
        self._finalizer = weakref.finalize(self, _close_all, self._all)

    def _open(self, parent: int, name: bytes, create: bool) -> int:
        try:
            fd = os.open(name, _DIR_FLAGS, dir_fd=parent)
        except FileNotFoundError:
            if not create:
                raise
            try:
                # A parent a filtered restore left out of the plan.
                os.mkdir(name, 0o777, dir_fd=parent)
            except FileExistsError:
                pass
            fd = os.open(name, _DIR_FLAGS, dir_fd=parent)
        self._all.append(fd)
        return fd

    def _forget(self, fd: int) -> None:
        os.close(fd)
        self._all.remove(fd)

    def dir(self, rel: bytes, create: bool = True) -> int:
        """The descriptor of directory ``rel`` (b"" is the target), its
        missing components made when ``create``. Valid until the next call."""
        if not rel:
            return self.root
        fd = self.fds.get(rel)
        if fd is not None:
            self.fds.move_to_end(rel)
            return fd
        parts = rel.split(b"/")
        # The deepest ancestor already open.
        depth, fd = 0, self.root
        for i in range(len(parts) - 1, 0, -1):
            cached = self.fds.get(b"/".join(parts[:i]))
            if cached is not None:
                depth, fd = i, cached
                break
        for i in range(depth, len(parts)):
            fd = self._open(fd, parts[i], create)
            self.fds[b"/".join(parts[: i + 1])] = fd
            while len(self.fds) > self.limit:
                self._forget(self.fds.popitem(last=False)[1])
        return fd

    def parent(self, rel: bytes, create: bool = True) -> Tuple[int, bytes]:
        """``(descriptor of its directory, name)`` for ``rel``."""
        head, _sep, name = rel.rpartition(b"/")
        return self.dir(head, create), name

    def lexists(self, path: str) -> bool:
        """Whether snapshot ``path`` exists under the target (False for a
        path the core refuses, or one under a symlink or non-directory)."""
        try:
            parent, name = self.parent(_relative(path), create=False)
            os.stat(name, dir_fd=parent, follow_symlinks=False)
        except (OSError, InvalidValue):
            return False
        return True

    def full(self, rel: bytes) -> bytes:
        """The filesystem path of ``rel`` (may exceed PATH_MAX)."""
        return self.dest + b"/" + rel if self.dest != b"/" else b"/" + rel

    def fs_path(self, rel: bytes) -> bytes:
        """A path the plain ``os`` calls can take for ``rel``: the whole
        path when short enough (with room for the temporary name beside
        it), else one through a kept descriptor of its directory."""
        full = self.full(rel)
        if len(full) + 64 < _PATH_MAX or not _HAS_PROC_FD:
            return full
        head, _sep, name = rel.rpartition(b"/")
        fd = self.pinned.get(head)
        if fd is None:
            fd = os.dup(self.dir(head))
            self._all.append(fd)
            self.pinned[head] = fd
        return _at(fd, name, full)

    def close(self) -> None:
        """Closes every descriptor."""
        self.fds.clear()
        self.pinned.clear()
        self._finalizer()


def _remove(parent: int, name: bytes, *, dirs: bool = True) -> None:
    """Makes room at ``name`` (the core lists an existing path only when
    overwriting; a symlink is removed, never followed): a non-directory is
    removed, and, with ``dirs`` (something else than a folder goes there),
    an empty directory too. A directory with content stays (the create then
    fails, naming it), as restic leaves it without ``--delete``."""
    try:
        st = os.stat(name, dir_fd=parent, follow_symlinks=False)
    except FileNotFoundError:
        return
    if not stat.S_ISDIR(st.st_mode):
        os.unlink(name, dir_fd=parent)
        return
    if not dirs:
        return
    try:
        os.rmdir(name, dir_fd=parent)
    except OSError as e:
        if e.errno not in (errno.ENOTEMPTY, errno.EEXIST):
            raise


#: ``mknod`` type bits of the device kinds.
_DEVICE_TYPES = {"chardev": stat.S_IFCHR, "blockdev": stat.S_IFBLK}


def _create_entries(
    creates: Iterable[Dict[str, Any]], tree: _Tree, files: "_OpenFiles", overwrite: bool = False
) -> Tuple[List[Dict[str, Any]], int]:
    """Makes the directories, symlinks, FIFOs and device nodes of the plan
    and registers its files with ``files`` (created on their first write).
    Returns the hard links, made once their first name is in place, and
    how many entries there were. What cannot be made fails alone (``files.fail_path``) and the restore goes on.
    With ``overwrite``, an entry of another type in the way is replaced
    (a directory only when empty)."""
    links: List[Dict[str, Any]] = []
    count = 0
    for c in creates:
        count += 1
        path, kind = str(c["path"]), str(c["kind"])
        if kind == "hardlink":
            links.append(c)
            continue
        try:
            rel = _relative(path)
            if kind == "dir":
                if overwrite and rel:
                    # A file or symlink where the snapshot has a folder.
                    dir_parent, dir_name = tree.parent(rel)
                    _remove(dir_parent, dir_name, dirs=False)
                tree.dir(rel)
                continue
            parent, name = tree.parent(rel)
            if kind == "file":
                try:
                    st = os.stat(name, dir_fd=parent, follow_symlinks=False)
                    if stat.S_ISLNK(st.st_mode):
                        os.unlink(name, dir_fd=parent)
                    elif stat.S_ISDIR(st.st_mode):
                        # Listed although it exists: overwriting.
                        _remove(parent, name)
                except FileNotFoundError:
                    pass
                # Created on its first write (one open per file, not two).
                files.pending[path] = _Pending(tree.fs_path(rel), int(c["size"]), int(c["mode"]), _mtime_ns(c))
                continue
            _remove(parent, name)
            if kind == "symlink":
                os.symlink(unquote_path(str(c["target"])), name, dir_fd=parent)
            elif kind == "fifo":
                os.mkfifo(name, 0o600, dir_fd=parent)
            elif kind in _DEVICE_TYPES:
                os.mknod(name, 0o600 | _DEVICE_TYPES[kind], int(c.get("rdev", 0)), dir_fd=parent)
            else:
                files.fail_path(path, f"cannot restore a {kind!r} entry")
        except OSError as e:
            files.fail_path(path, _reason(_CREATE_OPS.get(kind, "create"), e))
        except InvalidValue as e:
            files.fail_path(path, str(e))
    return links, count


_CREATE_OPS = {"dir": "mkdir", "symlink": "symlink", "fifo": "mkfifo", "chardev": "mknod", "blockdev": "mknod"}


def _create_links(links: List[Dict[str, Any]], tree: _Tree, failed: Set[str], files: "_OpenFiles") -> None:
    """Makes each hard link to its first name (restored, complete and in
    place by now); a link whose first name failed fails too."""
    for c in links:
        path, target = str(c["path"]), str(c["target"])
        if target in failed:
            files.fail_path(path, f"not linked: {target} (its first name) was not restored")
            continue
        try:
            src_parent, src_name = tree.parent(_relative(target), create=False)
            # The next lookup may evict the source's descriptor.
            src = os.dup(src_parent)
            try:
                parent, name = tree.parent(_relative(path))
                # A link never takes a folder's place (as before --overwrite
                # replaced entries of another type).
                _remove(parent, name, dirs=False)
                os.link(src_name, name, src_dir_fd=src, dst_dir_fd=parent, follow_symlinks=False)
            finally:
                os.close(src)
        except OSError as e:
            files.fail_path(path, _reason("link", e))
        except InvalidValue as e:
            files.fail_path(path, str(e))


#: The xattr namespaces a file's owner may set without privileges: its own
#: attributes and its POSIX ACLs (``trusted.``/``security.`` need root).
_UNPRIVILEGED_XATTRS = (b"user.", b"system.posix_acl_access", b"system.posix_acl_default")


def _apply_metadata(entries: Iterable[Mapping[str, Any]], tree: _Tree, files: "_OpenFiles") -> None:
    """Sets owners (when running as root, by numeric id, as ``tar
    --numeric-owner``; skipped otherwise, as restic and tar do), extended
    attributes (as non-root only ``user.*`` and POSIX ACLs: the other
    namespaces need privileges), modes and nanosecond times. Hard links are skipped: their
    first name carries the same inode's metadata."""
    as_root = hasattr(os, "geteuid") and os.geteuid() == 0
    for c in entries:
        path, kind = str(c["path"]), str(c["kind"])
        if kind == "hardlink" or path in files.failed:
            continue
        try:
            rel = _relative(path)
            parent, name = tree.parent(rel, create=False)
            if as_root and (c.get("uid") is not None or c.get("gid") is not None):
                uid, gid = c.get("uid"), c.get("gid")
                os.chown(
                    name,
                    -1 if uid is None else int(uid),
                    -1 if gid is None else int(gid),
                    dir_fd=parent,
                    follow_symlinks=False,
                )
            xattrs = c.get("xattrs") or []
            if xattrs and hasattr(os, "setxattr"):
                at = _at(parent, name, tree.full(rel))
                for x in xattrs:
                    key = unquote_path(str(x["name"]))
                    if not as_root and not key.startswith(_UNPRIVILEGED_XATTRS):
                        continue
                    os.setxattr(at, key, base64.b64decode(str(x["value"])), follow_symlinks=False)
            if kind != "symlink":
                # After chown, which clears setuid/setgid. Not a symlink:
                # this restore made it (Linux has no lchmod).
                os.chmod(name, int(c["mode"]), dir_fd=parent)
            mtime = int(c["mtime"]) * 1_000_000_000 + int(c.get("mtime_nanos", 0))
            os.utime(name, ns=(mtime, mtime), dir_fd=parent, follow_symlinks=False)
        except OSError as e:
            files.fail_path(path, _reason("set metadata", e))
        except InvalidValue as e:
            files.fail_path(path, str(e))

def _is_empty_dir(dest: str) -> bool:
    """Whether ``dest`` is missing or an empty directory."""
    try:
        with os.scandir(dest) as it:
            return next(it, None) is None
    except FileNotFoundError:
        return True
    except NotADirectoryError:
        return False


def _at_destination(dest: str, snap: Snapshot) -> Tuple[List[str], List[Dict[str, Any]]]:
    """What of the snapshot's entries is already under ``dest``: the
    paths that exist (not regular files), and the regular files with their
    size and modification time (the core decides which are done). Paths the
    core refuses are left out: the restore reports them."""
    existing: List[str] = []
    found: List[Dict[str, Any]] = []
    if not os.path.isdir(dest):
        return existing, found
    # Decoded here and dropped on return: the snapshot does not keep the
    # whole tree as Python objects for the restore's run.
    entries: List[SnapshotEntry] = snap.decode()["entries"]
    # Through directory descriptors: paths of any length, never through a
    # symlink.
    tree = _Tree(dest)
    try:
        for e in entries:
            path = str(e["path"])
            try:
                parent, name = tree.parent(_relative(path), create=False)
                st = os.stat(name, dir_fd=parent, follow_symlinks=False)
            except (OSError, InvalidValue):
                continue
            if stat.S_ISREG(st.st_mode):
                mtime, nanos = divmod(st.st_mtime_ns, 1_000_000_000)
                found.append({"path": path, "size": st.st_size, "mtime": mtime, "mtime_nanos": nanos})
            else:
                existing.append(path)
    finally:
        tree.close()
    return existing, found


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

    fs_path: bytes
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
        self.temporary: Dict[str, bytes] = {}
        #: Files that failed here (their writes are dropped).
        self.failed: Set[str] = set()
        #: Every path the host failed on, and why (also in the core's report).
        self.host_errors: Dict[str, str] = {}
        #: Set once the core's report is made: later failures (links,
        #: metadata) need it made again.
        self.finished = False
        #: Whether a failure came after the core's report was made.
        self.late_failures = False

    def fail_path(self, path: str, why: str) -> None:
        """``path`` failed on this host (``why``): the core's report lists
        it, its writes are dropped, and the restore goes on."""
        self.failed.add(path)
        if path not in self.host_errors:
            self.host_errors[path] = why
            self.session.fail_path(path, why)
            self.late_failures |= self.finished

    @staticmethod
    def remove_leftovers(tree: "_Tree", dirs: List[bytes]) -> None:
        """Removes the temporaries a killed restore left in ``dirs`` (the
        session's ``leftover_dirs``, relative to ``tree``'s target; reached
        component by component, never through a symlink): every name the
        core's :func:`partial_owner` gives no running owner."""
        own = os.getpid()
        for rel in dirs:
            try:
                fd = tree.dir(rel, create=False)
                names = os.listdir(fd)
            except OSError:
                continue  # not made yet (nothing left there), or not a folder
            for name in names:
                owner = partial_owner(name, own)
                if owner is None or (owner != 0 and pid_alive(owner)):
                    continue
                try:
                    os.unlink(name, dir_fd=fd)
                except OSError:
                    pass

    def _create(self, path: str) -> int:
        p = self.pending[path]
        head, tail = os.path.split(p.fs_path)
        # The core's name: its length does not grow with the file's.
        tmp = os.path.join(head, os.fsencode(partial_name(tail, os.getpid())))
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
        self.fail_path(path, _os_error(e))

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
#: (kept for callers written against it; it opens any location).
LocalVault = StoredVault

J = TypeVar("J")
R = TypeVar("R")


def _iso_now() -> str:
    """Now, as v2 writes times (UTC, microseconds)."""
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime()) + f".{time.time_ns() // 1000 % 1_000_000:06d}Z"


def _deletes(plan: PrunePlan) -> bool:
    """Whether a prune plan deletes anything."""
    keys = ("unused_bundles", "repack_bundles", "unindexed_bundles", "temporary")
    return any(int(plan[k]["count"]) for k in keys)  # type: ignore[literal-required]


def _phases(names: List[str]) -> List[List[str]]:
    """A prune's deletions split by directory, in their order (index
    deltas, then bundles, then the rest)."""
    out: List[List[str]] = []
    last = None
    for name in names:
        d = name.split("/", 1)[0]
        if d != last or not out:
            out.append([])
            last = d
        out[-1].append(name)
    return out


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


#: Open flags for a directory the walker lists (never through a symlink).
_DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
#: Open flags for the root the user names (a backup source or restore
#: target), which may be a symlink to a directory.
_ROOT_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC
#: Open flags for a file the backup reads: never through a symlink, and
#: without blocking should it have been replaced by a FIFO since its lstat.
_READ_FLAGS = os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC | getattr(os, "O_NONBLOCK", 0)
#: Where a descriptor's directory can be named by a short path (Linux), so
#: that calls without a ``dir_fd`` form (the xattr ones) work whatever the
#: length of the real path.
_PROC_FD = b"/proc/self/fd"
_HAS_PROC_FD = os.path.isdir(_PROC_FD)
#: The kernel's limit on a path given to one system call.
_PATH_MAX = int(os.pathconf("/", "PC_PATH_MAX")) if hasattr(os, "pathconf") else 4096


def _reason(operation: str, e: OSError) -> str:
    """``"open: Permission denied"``: what failed, in the OS's words."""
    return f"{operation}: {e.strerror or e}"


def _at(dir_fd: int, name: bytes, full: bytes) -> bytes:
    """A path naming ``name`` in directory ``dir_fd`` for calls that take no
    ``dir_fd``: short (through /proc) when possible, else ``full``."""
    if _HAS_PROC_FD:
        return b"%s/%d/%s" % (_PROC_FD, dir_fd, name)
    return full


def _read_xattrs(target: Union[int, bytes]) -> List[Tuple[bytes, bytes]]:
    """The extended attributes of ``target`` (a descriptor, or a path not
    followed if a symlink), sorted by name; none where the OS or the
    filesystem has none. POSIX ACLs are among them
    (``system.posix_acl_access``/``_default``). Raises OSError."""
    if not hasattr(os, "listxattr"):
        return []
    follow = isinstance(target, int)
    try:
        names = os.listxattr(target, follow_symlinks=follow)
    except OSError as e:
        if e.errno in (errno.ENOTSUP, errno.EOPNOTSUPP):
            return []
        raise
    out = []
    for name in sorted(os.fsencode(n) for n in names):
        try:
            out.append((name, os.getxattr(target, name, follow_symlinks=follow)))
        except OSError as e:
            if e.errno == errno.ENODATA:  # removed since the listing
                continue
            raise
    return out


@dataclass
class _Found:
    """One path the walker found: its directory's descriptor and its name
    there (valid until the walker moves on), its snapshot path and
    filesystem path (bytes), and its lstat."""

    dir_fd: int
    name: bytes
    path: bytes
    full: bytes
    st: os.stat_result
    #: For a directory: whether the walker lists it next (the consumer
    #: clears it to skip the subtree: gone, or excluded).
    descend: bool = True


def _walk(
    root: Union[str, bytes],
    failed: Callable[[bytes, bytes, str], None],
    selection: Optional[BackupFilter] = None,
) -> Iterator[_Found]:
    """The tree below ``root``, depth first, names sorted by bytes (the C
    agent's order), root itself left out; snapshot paths start at ``/``.

    Names are bytes (any name the OS allows), and every call is relative to
    an open descriptor of the directory, so no path given to the kernel
    grows with the tree's depth: paths longer than PATH_MAX are walked too.
    A directory is listed right after it is yielded. What cannot be read
    (a name gone before its lstat, a directory that cannot be opened or
    listed) goes to ``failed(snapshot path, filesystem path, reason)`` and
    the walk goes on. What ``selection`` leaves out is not yielded, and a
    left-out folder (or a mount point under ``one_file_system``) is not
    entered."""
    if not os.path.isdir(root):
        yield from _walk_file_root(os.path.realpath(os.fsencode(root)), failed, selection)
        return
    root_b = os.fsencode(root).rstrip(b"/") or b"/"
    root_fd = os.open(root_b, _ROOT_FLAGS)
    try:
        root_device = os.fstat(root_fd).st_dev
        names = sorted(os.fsencode(n) for n in os.listdir(root_fd))
        tags = _tags_in(root_fd, root_b, names, selection)
    except BaseException:
        os.close(root_fd)
        raise
    # (descriptor, snapshot path, filesystem path, names left, tag files there)
    stack: List[Tuple[int, bytes, bytes, Iterator[bytes], List[str]]] = [
        (root_fd, b"", root_b.rstrip(b"/"), iter(names), tags)
    ]
    try:
        while stack:
            dir_fd, prefix, full_prefix, left, confirmed = stack[-1]
            name = next(left, None)
            if name is None:
                stack.pop()
                os.close(dir_fd)
                continue
            path = prefix + b"/" + name
            full = full_prefix + b"/" + name
            if selection is not None and confirmed and selection.excluded_by_tags(confirmed, name):
                continue
            try:
                st = os.stat(name, dir_fd=dir_fd, follow_symlinks=False)
            except OSError as e:
                if selection is None or not selection.excluded(path):
                    failed(path, full, _reason("lstat", e))
                continue
            is_dir = stat.S_ISDIR(st.st_mode)
            visit = "keep"
            if selection is not None:
                visit = selection.visit(path, is_dir, st.st_dev, root_device)
                if visit == "skip":
                    continue
            found = _Found(dir_fd, name, path, full, st)
            yield found
            if not is_dir or visit != "keep" or not found.descend:
                continue
            try:
                child = os.open(name, _DIR_FLAGS, dir_fd=dir_fd)
            except OSError as e:
                failed(path, full, _reason("open", e))
                continue
            try:
                listed = sorted(os.fsencode(n) for n in os.listdir(child))
                tags = _tags_in(child, full, listed, selection)
            except OSError as e:
                os.close(child)
                failed(path, full, _reason("readdir", e))
                continue
            stack.append((child, path, full, iter(listed), tags))
    finally:
        for dir_fd, _p, _f, _l, _t in stack:
            os.close(dir_fd)


def _walk_file_root(
    root: bytes, failed: Callable[[bytes, bytes, str], None], selection: Optional[BackupFilter]
) -> Iterator[_Found]:
    """A root that is no directory (a file, say; symlinks resolved): the
    one entry ``/<name>`` of its directory (the core's
    :func:`split_file_root`, as the C agent names it)."""
    folder, name = split_file_root(root)
    dir_fd = os.open(folder, _ROOT_FLAGS)
    try:
        path = b"/" + name
        try:
            st = os.stat(name, dir_fd=dir_fd, follow_symlinks=False)
        except OSError as e:
            failed(path, root, _reason("lstat", e))
            return
        if selection is not None and selection.visit(path, stat.S_ISDIR(st.st_mode), st.st_dev, st.st_dev) == "skip":
            return
        yield _Found(dir_fd, name, path, root, st)
    finally:
        os.close(dir_fd)


def _tags_in(dir_fd: int, folder: bytes, names: List[bytes], selection: Optional[BackupFilter]) -> List[str]:
    """The ``exclude_if_present`` files the folder (open as ``dir_fd``)
    holds (with the right header), by name. An unreadable one tags nothing
    (with a warning), as in restic."""
    found: List[str] = []
    if selection is None:
        return found
    present = set(names)
    for index, (tag, header_len) in enumerate(selection.tag_files):
        tag_b = os.fsencode(tag)
        if tag_b not in present:
            continue
        head = b""
        if header_len:
            try:
                fd = os.open(tag_b, os.O_RDONLY | os.O_CLOEXEC | os.O_NOFOLLOW, dir_fd=dir_fd)
                try:
                    head = os.read(fd, header_len)
                finally:
                    os.close(fd)
            except OSError as e:
                _warn(f"could not read the exclusion tag file {quote_path(folder + b'/' + tag_b)}: {e.strerror or e}")
                continue
        if selection.tag_confirms(index, head):
            found.append(tag)
    return found


def _kind(mode: int) -> Optional[str]:
    """The snapshot kind of a file type; None for those not backed up
    (sockets: a restore could not make a working one, as restic)."""
    if stat.S_ISREG(mode):
        return "file"
    if stat.S_ISDIR(mode):
        return "dir"
    if stat.S_ISLNK(mode):
        return "symlink"
    if stat.S_ISFIFO(mode):
        return "fifo"
    if stat.S_ISCHR(mode):
        return "chardev"
    if stat.S_ISBLK(mode):
        return "blockdev"
    return None


def _meta(path: bytes, kind: str, st: os.stat_result) -> Dict[str, Any]:
    """The core's FileMeta JSON of ``path`` from its (l)stat."""
    meta: Dict[str, Any] = {
        "path": quote_path(path),
        "kind": kind,
        "mode": stat.S_IMODE(st.st_mode),
        "mtime": st.st_mtime_ns // 1_000_000_000,
        "mtime_nanos": st.st_mtime_ns % 1_000_000_000,
        "ctime": st.st_ctime_ns // 1_000_000_000,
        "ctime_nanos": st.st_ctime_ns % 1_000_000_000,
        "uid": st.st_uid,
        "gid": st.st_gid,
        "inode": st.st_ino,
        "device": st.st_dev,
        "links": st.st_nlink,
    }
    if kind == "file":
        meta["size"] = st.st_size
    if kind in ("chardev", "blockdev"):
        meta["rdev"] = st.st_rdev
    return meta


def _xattr_meta(xattrs: List[Tuple[bytes, bytes]]) -> List[Dict[str, str]]:
    return [{"name": quote_path(n), "value": base64.b64encode(v).decode("ascii")} for n, v in xattrs]


def _pread(fd: int, view: memoryview, pos: int) -> int:
    """Reads into ``view`` from offset ``pos`` of ``fd``: the number of
    bytes read, 0 at the end of the file."""
    if hasattr(os, "preadv"):
        return os.preadv(fd, [view], pos)
    os.lseek(fd, pos, os.SEEK_SET)
    data = os.read(fd, len(view))
    view[: len(data)] = data
    return len(data)


def _next_data(fd: int, pos: int) -> Optional[Tuple[int, int]]:
    """The next extent of data at or after ``pos``: ``(start, end)``, end
    at the next hole (the file's end is one); None when only a hole (or
    nothing) follows. Filesystems that do not track holes report the whole
    file as data."""
    try:
        start = os.lseek(fd, pos, os.SEEK_DATA)
    except OSError as e:
        if e.errno == errno.ENXIO:
            return None
        raise
    return start, os.lseek(fd, start, os.SEEK_HOLE)


#: Whether this platform can ask for a file's holes.
_HOLES = hasattr(os, "SEEK_DATA") and hasattr(os, "SEEK_HOLE")


class _ReadFailed(Exception):
    """Reading the file being backed up failed with ``error``: a per-file
    error, unlike a failure to store (which ends the backup)."""

    def __init__(self, error: OSError) -> None:
        super().__init__(str(error))
        self.error = error


def _read_file(
    session: BackupSession,
    fd: int,
    sparse: bool,
    buf: bytearray,
    store_bundles: Callable[[List[Bundle]], None],
    progress: Optional[Progress],
) -> None:
    """Writes the content of the open file ``fd`` into ``session``, read
    into ``buf`` (the native module reads it, or a view of a partial read,
    in place: per MiB only the read, the write and a bundle check run in
    Python), and for a ``sparse`` file its holes as
    :meth:`BackupSession.write_zeros`, so they are never read. A file that
    changes meanwhile is read up to where its end is met. Raises
    _ReadFailed when the file cannot be read; what storing the bundles
    raises goes through as it is."""
    view = memoryview(buf)
    pos = 0
    sparse = sparse and _HOLES
    while True:
        end: Optional[int] = None  # None: read up to the end of the file
        if sparse:
            try:
                extent = _next_data(fd, pos)
                if extent is None:
                    end = os.fstat(fd).st_size
            except OSError as e:
                if e.errno not in (errno.EINVAL, errno.EOPNOTSUPP, errno.ENOTSUP):
                    raise _ReadFailed(e) from e
                sparse = False  # no hole support after all: read it all
                continue
            if extent is None:
                assert end is not None
                if end > pos:  # a hole up to the end
                    session.write_zeros(end - pos)
                    if progress:
                        progress(end - pos)
                return
            start, end = extent
            if start > pos:
                session.write_zeros(start - pos)
                if progress:
                    progress(start - pos)
                pos = start
        while end is None or pos < end:
            want = READ_SIZE if end is None else min(READ_SIZE, end - pos)
            try:
                n = _pread(fd, view[:want], pos)
            except OSError as e:
                raise _ReadFailed(e) from e
            if n == 0:
                return
            session.write(buf if n == READ_SIZE else view[:n])
            store_bundles(session.take_bundles())
            if progress:
                progress(n)
            pos += n
        if not sparse:
            return
