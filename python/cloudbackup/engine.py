"""Keys, vaults and the sans-IO backup, restore and verify sessions.

Nothing here touches the disk or the network: the host stores and fetches
the bytes (see :mod:`cloudbackup.store` for a local vault directory).
"""

from __future__ import annotations

import sys
from functools import partial
from typing import Any, Callable, Dict, Iterator, List, Mapping, Optional, Tuple, Type, TypeVar, Union

from . import _native
from .shapes import FileError, SnapshotEntry, Fetch, GcPlan, KeySlot, ListedEntry, Problem, PrunePlan, PruneReport, RestoreReport, SnapshotData, SnapshotDiff, SnapshotSummary, VaultInfo, VerifyReport
from .errors import InvalidArgument

__all__ = [
    "Buffer",
    "Bundle",
    "BundleBytes",
    "BundleData",
    "Password",
    "Vault",
    "Index",
    "Snapshot",
    "BackupSession",
    "RestoreSession",
    "Verifier",
    "VaultState",
    "IndexRebuild",
    "Pruner",
    "cleanup_queued_patch",
    "cleanup_started_patch",
    "prune_options",
    "cleanup_finished_patch",
    "cleanup_failed_patch",
    "Lock",
    "LockTable",
    "relative_snapshot_path",
    "partial_name",
    "partial_tag",
    "partial_owner",
    "split_file_root",
    "parse_seconds",
    "quote_path",
    "unquote_path",
    "fs_path",
    "is_cached_object",
    "keep_policy",
    "check_tags",
    "PathLike",
    "BackupFilter",
    "Selector",
    "read_pattern_file",
]

#: A sealed bundle's bytes as a backup hands them out: read-only and
#: bytes-like (buffer protocol, ``len``, indexing, slicing, ``bytes()``),
#: without a copy; dropping it gives its memory back to the session.
#: Python 3.11 and later; before, bundles are handed out as ``bytes`` copies
#: (the stable ABI of 3.9 and 3.10 cannot export a buffer).
BundleBytes = _native.BundleBytes
#: What a bundle's bytes are: :data:`BundleBytes` from Python 3.11,
#: ``bytes`` before.
if sys.version_info >= (3, 11):
    BundleData = BundleBytes
else:
    BundleData = bytes

#: Bytes-like input: ``bytes`` is read without a copy (the GIL is released
#: meanwhile); others are copied once, except by
#: :meth:`BackupSession.write`, which reads any contiguous buffer in place.
Buffer = Union[bytes, bytearray, memoryview, BundleData]
#: A snapshot path: ``str`` in quoted form (a plain path is its own quoted
#: form, see :func:`quote_path`) or the operating system's ``bytes``.
PathLike = Union[str, bytes]
#: A password: text (UTF-8) or bytes-like.
Password = Union[str, bytes, bytearray, memoryview]

#: An unlocked vault: its keys (wiped when it is collected) and settings.
#: The native class itself: ``Vault.create(password, settings=None,
#: kdf=None)`` and ``Vault.open(config, password)`` (a password is text,
#: UTF-8, or bytes-like), ``config()``, ``info()``, ``vault_id``, the key
#: slots (``add_password``, ``remove_password``, ``key_slots``,
#: ``key_slot_of``, ``remove_key_slot``, ``change_password``: store
#: ``config()`` afterwards).
Vault = _native.Vault


_T = TypeVar("_T")


def _expect(value: Any, cls: Type[_T], name: str) -> _T:
    """``value``, which must be a ``cls`` (argument ``name``): otherwise a
    TypeError whose message names the argument (the native module's own
    checks name it in a note, PyO3's ``while processing 'name'``), rather
    than an AttributeError from inside."""
    if not isinstance(value, cls):
        raise TypeError(f"argument '{name}': '{type(value).__name__}' object cannot be converted to '{cls.__name__}'")
    return value


def _inner(value: Any, cls: type, name: str) -> Any:
    """The native object behind ``value``, a ``cls`` (see :func:`_expect`)."""
    checked: Any = _expect(value, cls, name)
    return checked._native


def _fields(value: Any, name: str) -> Dict[str, Any]:
    """A copy of the mapping ``value`` (argument ``name``) for the core: a
    TypeError naming it when it is not a mapping (``dict()`` of a string
    would say "dictionary update sequence element #0 has length 1")."""
    if not isinstance(value, Mapping):
        raise TypeError(f"argument '{name}': '{type(value).__name__}' object is not a mapping")
    return dict(value)


class Dump:
    """One file of a snapshot, blob by blob in file order (``cloudbackup
    dump``): read each of :meth:`fetches`' ranges from its bundle and pass
    it to :meth:`open`; the plaintexts in order are the file."""

    def __init__(self, vault: Vault, index: "Index", snapshot: "Snapshot", path: Union[str, bytes]) -> None:
        """Raises NotFound (no such path, or a blob no index lists) or
        InvalidValue (a folder, symlink or other non-file)."""
        self._native = _native.Dump(vault, _inner(index, Index, "index"), _inner(snapshot, Snapshot, "snapshot"), path)

    def size(self) -> int:
        """The file's size."""
        return self._native.size()

    def fetches(self) -> List[Tuple[str, int, int]]:
        """``[(bundle_id, offset, length)]``, in file order."""
        return self._native.fetches()

    def open(self, i: int, data: Buffer) -> bytes:
        """Blob ``i``'s plaintext from the bytes of fetch ``i`` (IntegrityError
        when they are not that blob)."""
        return self._native.open(i, data)


class Index:
    """Where every blob of a vault is: load every index delta into it."""

    def __init__(self) -> None:
        self._native = _native.Index()

    def load_delta(self, vault: Vault, delta_id: str, data: Buffer) -> None:
        """Merges the stored index delta ``delta_id`` (64 hex digits)."""
        self._native.load_delta(vault, delta_id, data)

    def __len__(self) -> int:
        return len(self._native)

    def verify_plan(self, fraction: float = 1.0, seed: int = 0) -> List[str]:
        """The bundle ids to verify: all when ``fraction`` is 1, else a
        sample of ``ceil(fraction * bundles)`` chosen by ``seed``."""
        plan = self._native.verify_plan(fraction, seed)
        return [str(f["bundle"]) for f in plan]


class Snapshot:
    """The file tree of one backup, with its counters."""

    def __init__(self, native: _native.Snapshot, snapshot_id: str) -> None:
        self._opened: Optional[_native.Snapshot] = native
        self._open: Optional[Callable[[], _native.Snapshot]] = None
        self.id = snapshot_id
        self._data: Optional[SnapshotData] = None
        #: What a vault's summary says of it (no tree), when known.
        self._summary: Optional[SnapshotSummary] = None

    @classmethod
    def _lazy(cls, open: Callable[[], _native.Snapshot], summary: SnapshotSummary) -> "Snapshot":
        """A snapshot known by its summary: its time, host, roots, tags and
        counters come from the summary; the tree is taken from the vault
        state (``open``) only when asked for (:attr:`entries`, :meth:`ls`,
        a restore...), so listing a vault's snapshots copies no tree."""
        snap = cls.__new__(cls)
        snap._opened = None
        snap._open = open
        snap.id = str(summary["id"])
        snap._data = None
        snap._summary = summary
        return snap

    @property
    def _native(self) -> _native.Snapshot:
        """The native snapshot, taken on first use for a lazy one."""
        if self._opened is None:
            assert self._open is not None
            self._opened = self._open()
            self._open = None
        return self._opened

    def _head(self, key: str, default: Any = None) -> Any:
        """A member the summary has (when known), else the tree's."""
        known: Mapping[str, Any] = self._summary if self._summary is not None and self._data is None else self.data
        return known.get(key, default)

    @property
    def data(self) -> SnapshotData:
        """The snapshot as a dict: version, time, hostname, paths,
        counters, entries, errors. Decoded on first use: a backup that only
        hands the snapshot to :meth:`BackupSession.set_parent` never pays
        for the JSON of a large tree."""
        if self._data is None:
            self._data = self.decode()
        return self._data

    def decode(self) -> SnapshotData:
        """The snapshot as a new dict, not kept by this object (for one
        pass over a large tree, where :attr:`data` would hold it)."""
        return self._native.json()

    @classmethod
    def open(cls, vault: Vault, snapshot_id: str, data: Buffer) -> "Snapshot":
        """Opens the stored snapshot ``snapshot_id``.

        Raises:
            IntegrityError: tampered, truncated or not that snapshot.
            ForeignVault: written for another vault.
        """
        return cls(_native.Snapshot.open(vault, snapshot_id, data), snapshot_id)

    @property
    def time(self) -> int:
        """When the backup started (Unix seconds)."""
        return int(self._head("time"))

    def ls(self, path: Union[str, bytes] = "/", recursive: bool = False) -> List[ListedEntry]:
        """What is in folder ``path``: its children or (``recursive``)
        everything below it, by path; folders above the backup's roots come
        as ``synthetic`` folders. Paths are in quoted form.

        Raises:
            NotFound: nothing is at or below ``path``.
            InvalidValue: ``path`` is not absolute.
        """
        return self._native.ls(path, recursive)

    def find(self, patterns: List[str], ignore_case: bool = False) -> List[ListedEntry]:
        """The entries a pattern matches (backup's pattern meaning: ``*.log``
        a name at any depth, ``/home/*/x`` from the root), by path."""
        return self._native.find(patterns, ignore_case)

    def diff(self, after: "Snapshot") -> SnapshotDiff:
        """What changed from this snapshot to ``after``: ``{"changes":
        [{"path", "change", "kind", "size_before", "size_after"}], "totals"}``;
        ``change`` is added, removed, modified, type_changed or metadata."""
        return self._native.diff(_inner(after, Snapshot, "after"))

    @property
    def time_ns(self) -> int:
        """When the backup started, in nanoseconds (what ``latest`` orders by)."""
        return int(self._head("time")) * 1_000_000_000 + int(self._head("time_nanos", 0) or 0)

    @property
    def entries(self) -> List[SnapshotEntry]:
        """The files, directories and symlinks, in order."""
        return self.data["entries"]

    @property
    def counters(self) -> Dict[str, int]:
        """The backup's counters (``files_searched``...)."""
        result: Dict[str, int] = self._head("counters")
        return result

    @property
    def hostname(self) -> Optional[str]:
        """The host the backup ran on, if it said."""
        result: Optional[str] = self._head("hostname")
        return result

    @property
    def paths(self) -> List[str]:
        """The roots the backup was given (quoted form), if it said."""
        result: List[str] = self._head("paths") or []
        return result

    @property
    def tags(self) -> List[str]:
        """The backup's tags, sorted."""
        return sorted(str(t) for t in self._head("tags") or [])

    @property
    def errors(self) -> List[FileError]:
        """The paths the backup could not read: ``[{"path": quoted form,
        "error": why}]`` (empty when every path was read)."""
        return self.data.get("errors") or []

    def error_report(self) -> Optional[Dict[str, Any]]:
        """The ``/errors`` value a v2 agent patches into the backup that
        made this snapshot (``{"count", "reason", "diagnostics", "list"}``,
        the restore's shape), or None when every path was read."""
        return self._native.error_report()

    @property
    def backup_state(self) -> str:
        """The state a v2 agent reports for that backup: ``"completed"``,
        or ``"completed_with_errors"`` when some paths could not be read
        (report :meth:`error_report` with it)."""
        return self._native.backup_state()


#: An object to store: ``(id, bytes)``.
Object = Tuple[str, bytes]
#: A bundle to store: ``(id, BundleData)``.
Bundle = Tuple[str, BundleData]


class BackupSession:
    """A backup: push files, store the bundles it hands back as you go, then
    :meth:`finish` and store the index delta and the snapshot, in that order."""

    def __init__(self, vault: Vault, index: Index, threads: int = 1) -> None:
        self._native = _native.BackupSession(vault, _inner(index, Index, "index"), threads)

    def start_file(self, path: PathLike, mode: int, mtime: int) -> None:
        """Starts the regular file ``path`` (e.g. ``"/docs/a.txt"``)."""
        self._native.start_file(path, mode, mtime)

    def start(self, meta: Dict[str, Any]) -> None:
        """Starts a regular file with all its metadata: ``meta`` is a
        FileMeta (``{"path": quoted, "mode", "mtime", "mtime_nanos",
        "ctime", "ctime_nanos", "size", "uid", "gid", "inode", "device",
        "links", "xattrs": [{"name", "value": base64}]}``, all optional but
        ``path``); its bytes follow with :meth:`write`."""
        self._native.start({**meta, "kind": "file"})

    def add(self, meta: Dict[str, Any]) -> None:
        """Records a directory, symlink, FIFO or device node (``meta``: a
        FileMeta with its ``kind``: ``dir``, ``symlink`` (with ``target``),
        ``fifo``, ``chardev`` or ``blockdev`` (with ``rdev``))."""
        self._native.add(meta)

    def set_parent(self, snapshot: "Snapshot") -> None:
        """Uses ``snapshot`` as the parent: :meth:`reuse` then takes over
        its unchanged files without reading them."""
        self._native.set_parent(_inner(snapshot, Snapshot, "snapshot"))

    def reuse(self, meta: Dict[str, Any]) -> bool:
        """Records the file ``meta`` with the parent's chunk list when the
        parent has it unchanged (same size, mtime, ctime, inode and device):
        ``True``, and the file is done; ``False``: back it up as usual."""
        return self._native.reuse({**meta, "kind": "file"})

    def file_error(self, path: PathLike, error: str) -> None:
        """Records that ``path`` could not be read (``error`` says why);
        the backup goes on and the snapshot lists it."""
        self._native.file_error(path, error)

    def abandon_file(self, error: str) -> None:
        """Gives up the open file (a read failed half-way): it becomes a
        file error and its entry is dropped."""
        self._native.abandon_file(error)

    def write(self, data: Buffer) -> None:
        """Pushes the open file's next bytes (GIL released meanwhile).
        ``bytes`` and any C-contiguous buffer (bytearray, memoryview,
        mmap, array, numpy...) are read in place, so a reused buffer or a
        slice of one costs no copy (do not change it from another thread
        during the call); a strided memoryview is copied once."""
        self._native.write(data)

    def write_zeros(self, n: int) -> None:
        """Continues the open file with ``n`` zero bytes (a hole of a
        sparse file) without making them: the same chunks and snapshot as
        ``write(bytes(n))``, so sparse and dense copies dedup, at a cost
        that does not grow with ``n``."""
        self._native.write_zeros(n)

    def finish_file(self) -> None:
        """Ends the open file."""
        self._native.finish_file()

    def finish_file_checked(self, size: int, mtime: int, mtime_nanos: int = 0) -> Optional[str]:
        """Ends the open file given what ``os.fstat`` of it shows after its
        last byte: None, or why it changed while it was read (the size is
        not the bytes read, or the mtime moved; the core's rule). The
        snapshot keeps what was read either way: warn with the text."""
        return self._native.finish_file_checked(size, mtime, mtime_nanos)

    def add_file(self, path: str, mode: int, mtime: int, data: Buffer) -> None:
        """A whole file at once."""
        self._native.start_file(path, mode, mtime)
        self._native.write(data)
        self._native.finish_file()

    def add_dir(self, path: PathLike, mode: int, mtime: int) -> None:
        """Records a directory."""
        self._native.add_dir(path, mode, mtime)

    def add_symlink(self, path: PathLike, target: PathLike, mtime: int) -> None:
        """Records a symbolic link."""
        self._native.add_symlink(path, target, mtime)

    def take_bundles(self) -> List[Bundle]:
        """The finished bundles: store each as ``bundles/<id>``, then let
        it go (its memory goes back to the session for a later bundle).
        Each is a :data:`BundleBytes`, bytes-like without a copy; ``bytes(b)``
        makes a copy."""
        return self._native.take_bundles()

    def counters(self) -> Dict[str, int]:
        """``files_searched``, ``files_backed_up``, ``bytes_searched``,
        ``bytes_backed_up``, ``bytes_in_db``, ``files_with_errors``,
        ``files_unchanged``."""
        return self._native.counters()

    def finish(
        self,
        time: int,
        hostname: Optional[str] = None,
        backup_configuration_id: Optional[str] = None,
        time_nanos: int = 0,
        paths: Optional[List[PathLike]] = None,
        tags: Optional[List[str]] = None,
    ) -> List[Bundle]:
        """Seals the backup (``time``: when it started, Unix seconds, and
        ``time_nanos`` its sub-second part; ``paths``: the roots backed up,
        which with the host name find the next backup's parent; ``tags``:
        labels that ``forget --keep-tag`` keeps by); returns the last bundles
        to store (as :meth:`take_bundles`)."""
        return self._native.finish(time, hostname, backup_configuration_id, time_nanos, paths, tags)

    def take_index(self) -> Optional[Object]:
        """The index delta: store it as ``index/<id>`` after the bundles."""
        return self._native.take_index()

    def take_snapshot(self) -> Optional[Object]:
        """The snapshot: store it as ``snapshots/<id>`` last."""
        return self._native.take_snapshot()


class RestoreSession:
    """A restore: create what :attr:`creates` lists, fetch each range of
    :attr:`plan` and :meth:`feed` it, write what comes back, then
    :meth:`finish` for the report.

    With ``threads`` above 1, the blobs of each range given to
    :meth:`feed_blobs` (or :meth:`feed`) are opened on that many worker
    threads while the caller writes; the writes and the report are the
    same as with one."""

    def __init__(
        self,
        vault: Vault,
        snapshot: Snapshot,
        index: Index,
        *,
        include: Optional[List[str]] = None,
        exclude: Optional[List[str]] = None,
        overwrite: bool = False,
        existing: Optional[List[str]] = None,
        iinclude: Optional[List[str]] = None,
        iexclude: Optional[List[str]] = None,
        found: Optional[List[Dict[str, Any]]] = None,
        resume: bool = False,
        sparse: bool = True,
        max_range: Optional[int] = None,
        threads: int = 1,
    ) -> None:
        # Patterns: docs/PATTERNS.md (restic's meaning); i* ignore case.
        options: Dict[str, Any] = {
            "inclusions": include or [],
            "exclusions": exclude or [],
            "iinclusions": iinclude or [],
            "iexclusions": iexclude or [],
            "overwrite": overwrite,
            "existing": existing or [],
            "found": found or [],
            "resume": resume,
            "sparse": sparse,
            "threads": threads,
        }
        if max_range is not None:
            options["max_range"] = max_range
        self._native = _native.RestoreSession(
            vault, _inner(snapshot, Snapshot, "snapshot"), _inner(index, Index, "index"), options
        )

    @property
    def creates(self) -> List[Dict[str, Any]]:
        """What to create, in order: ``{"kind": "dir"|"file"|"symlink"|
        "fifo"|"chardev"|"blockdev"|"hardlink", "path", ...}``. A new list
        on each access (not kept by the session: for a large tree, drop it
        once the entries are made; or use :meth:`iter_creates`)."""
        return self._native.creates()

    def iter_creates(self, batch: int = 4096) -> Iterator[Dict[str, Any]]:
        """:attr:`creates` one by one, made ``batch`` at a time: a large
        tree's entries are never all alive as Python objects (~1.6 KB each)."""
        return _batches(self._native.creates, batch)

    @property
    def leftover_dirs(self) -> List[bytes]:
        """The folders a killed restore may have left temporaries in where
        this one writes, relative to the target (``b""``: the target itself,
        always first). Before creating anything, a host that is not
        restoring into a fresh folder removes from each that exists
        (reached without following symlinks) every name
        :func:`partial_owner` gives no running owner."""
        return self._native.leftover_dirs()

    @property
    def plan(self) -> List[Fetch]:
        """``[{"bundle": id, "ranges": [{"offset", "length"}...]}...]``; a
        new list on each access."""
        return self._native.plan()

    def feed(self, bundle_id: str, offset: int, data: Buffer) -> List[Tuple[bytes, List[Tuple[str, int]]]]:
        """Feeds a fetched range; returns the verified writes, one per blob:
        ``(data, [(path, offset), ...])``, the one ``data`` to write at each
        place. A blob of zeros gives no write (``sparse``: files are
        created at their size, so those bytes read as zeros and stay
        holes). A tampered blob fails its files (see the report)."""
        return self._native.feed(bundle_id, offset, data)

    def feed_blobs(self, bundle_id: str, offset: int, data: Buffer) -> Iterator[Tuple[bytes, List[Tuple[str, int]]]]:
        """As :meth:`feed`, lazily: opens one blob per step, so one blob's
        plaintext is in memory at a time rather than a whole range's (a
        range of text decompresses to several times its size). The range
        counts as fed at once; blobs not iterated are never written.

        With ``threads``, the range's blobs go to the workers at once (a
        ``bytes`` object is shared with them, not copied) and each step
        waits only for its own blob: call this for the next range or two
        before iterating the current one, so the workers open them while
        you write. At most a few chunks per worker are opened ahead."""
        return self._native.feed_blobs(bundle_id, offset, data)

    def take_completed(self) -> List[str]:
        """The files (quoted paths) complete since the last call, once the
        writes fed before are written: close each and move it into place."""
        return self._native.take_completed()

    def fail_path(self, path: PathLike, error: str) -> None:
        """The host could not create, write or move ``path`` into place:
        the file fails (``write_failed`` in the report, naming it, also
        after :meth:`finish`) and gets no further writes."""
        self._native.fail_path(path, error)

    def missing(self, bundle_id: str) -> None:
        """Tells that a bundle cannot be fetched: its files fail."""
        self._native.missing(bundle_id)

    def finish(self) -> RestoreReport:
        """``{"files_restored", "bytes_restored", "files_skipped",
        "files_done", "errors", "unmatched_includes"}``: the inclusion
        patterns that matched no entry of the snapshot are listed (warn
        about them)."""
        return self._native.finish()

    def report(self) -> RestoreReport:
        """After :meth:`finish`: the report with the failures reported
        since (:meth:`fail_path`)."""
        return self._native.report()

    def apply(self) -> List[Dict[str, Any]]:
        """After :meth:`finish`: the entries whose modes and times to set,
        deepest first (children before their directory), entries failed by
        :meth:`finish` left out (the list stays the same through later
        :meth:`fail_path` calls: skip what you failed); each as in
        :attr:`creates`."""
        return self._native.apply()

    def iter_apply(self, batch: int = 4096) -> Iterator[Dict[str, Any]]:
        """:meth:`apply` one by one, made ``batch`` at a time (as
        :meth:`iter_creates`)."""
        return _batches(self._native.apply, batch)


def _batches(part: Callable[[int, int], List[Dict[str, Any]]], batch: int) -> Iterator[Dict[str, Any]]:
    """The items ``part(start, count)`` gives, ``batch`` per call, until a
    call gives fewer. ``batch`` is checked here, before the first item."""
    if isinstance(batch, bool) or not isinstance(batch, int) or batch < 1:
        raise InvalidArgument(
            f"invalid argument `batch`: a positive int, not {batch!r}", {"name": "batch", "reason": "not a positive int"}
        )

    def items() -> Iterator[Dict[str, Any]]:
        start = 0
        while True:
            got = part(start, batch)
            yield from got
            if len(got) < batch:
                return
            start += batch

    return items()


class Verifier:
    """Checks whole bundles against the index."""

    def __init__(self, vault: Vault, index: Index) -> None:
        self._native = _native.Verifier(vault, _inner(index, Index, "index"))

    @classmethod
    def for_state(cls, state: "VaultState") -> "Verifier":
        """A verifier of the whole vault ``state`` read: its report starts
        with unreadable snapshots and index deltas, blobs no index lists and
        indexed bundles missing from storage."""
        v = cls.__new__(cls)
        v._native = _native.Verifier.for_state(_inner(state, VaultState, "state"))
        return v

    def plan(self, fraction: float = 1.0, seed: int = 0) -> List[str]:
        """The bundle ids to fetch whole and :meth:`feed` (all, or a sample
        chosen by ``seed``), less those the listing showed missing."""
        return [str(f["bundle"]) for f in self._native.plan(fraction, seed)]

    def feed(self, bundle_id: str, data: Buffer) -> None:
        """Checks one bundle; raises its first problem (all go in the report)."""
        self._native.feed(bundle_id, data)

    def missing(self, bundle_id: str) -> None:
        """Records that a bundle cannot be fetched."""
        self._native.missing(bundle_id)

    def report(self) -> VerifyReport:
        """``{"ok", "bundles_checked", "blobs_checked", "bytes_checked",
        "problems": [{"object", "code", "message"}...]}``."""
        return self._native.report()


class VaultState:
    """What a host has read of a vault: its listing, every index delta and
    snapshot (or why one could not be read). The core's rules over the whole
    vault come from here: ``latest`` and id prefixes (:meth:`resolve`), the
    gc plan, the repair plan and the problems verify reports."""

    def __init__(self, vault: Vault) -> None:
        self.vault = vault
        self._native = _native.VaultState(vault)

    def add_listed(self, name: str, size: int, mtime_ns: int) -> None:
        """One listed object (``bundles/<id>``, ...; the core classifies it)."""
        self._native.add_listed(name, size, mtime_ns)

    def wanted(self) -> List[str]:
        """The objects to fetch: every index delta and snapshot listed and
        not read yet."""
        return self._native.wanted()

    def clear_listing(self) -> None:
        """Forgets the listing but keeps what was read: after listing the
        vault again, :meth:`wanted` names only the objects new since.
        Objects removed meanwhile stay in what was read (a gc then keeps
        more, never less)."""
        self._native.clear_listing()

    def add_object(self, name: str, data: Buffer) -> Optional[Exception]:
        """Hands over a fetched object; returns the error that made it
        unreadable (it is recorded as such), else None."""
        from .errors import Error

        try:
            self._native.add_object(name, data)
        except Error as e:
            return e
        return None

    def add_unreadable(self, name: str, reason: str) -> None:
        """A listed object could not be fetched (``reason``)."""
        self._native.add_unreadable(name, reason)

    def resolve(self, which: str) -> str:
        """The snapshot id ``which`` means: ``"latest"`` (the newest readable
        one, by time in nanoseconds then id), an id, or a unique prefix.

        Raises:
            NotFound, InvalidArgument (ambiguous), InvalidValue (not hex),
            or the error that makes the chosen snapshot unreadable.
        """
        return self._native.resolve(which)

    def parent_for(self, hostname: Optional[str], paths: List[PathLike]) -> Optional[str]:
        """The id of the parent of the next backup of ``paths`` (its roots,
        as the snapshot will record them) on ``hostname``: the latest
        readable snapshot of the same host with the same set of roots;
        ``None`` when there is none (or ``paths`` is empty)."""
        return self._native.parent_for(hostname, list(paths))

    def snapshot(self, snapshot_id: str) -> Snapshot:
        """The readable snapshot ``snapshot_id``."""
        return Snapshot(self._native.snapshot(snapshot_id), snapshot_id)

    def index(self) -> Index:
        """The union of every readable index delta."""
        index = Index.__new__(Index)
        index._native = self._native.index()
        return index

    def snapshots(self) -> List[Snapshot]:
        """The readable snapshots, oldest first, each known by its summary:
        no tree is copied until one is asked for (see :meth:`Snapshot._lazy`)."""
        return [Snapshot._lazy(partial(self._native.snapshot, str(s["id"])), s) for s in self.summaries()]

    def summaries(self) -> List[SnapshotSummary]:
        """The readable snapshots, oldest first: ``{"id", "time",
        "time_nanos", "hostname", "backup_configuration_id", "paths", "tags",
        "entries", "counters"}``."""
        return self._native.summaries()

    def unreadable_snapshots(self) -> List[Problem]:
        """``[{"object", "code", "message"}]`` of the snapshots that could
        not be read (listing and restore skip them)."""
        return self._native.unreadable_snapshots()

    def problems(self) -> List[Problem]:
        """What verify reports besides bundle contents."""
        return self._native.problems()

    def forget_plan(self, policy: Mapping[str, Any], now_ns: int) -> List[Dict[str, Any]]:
        """What forget with ``policy`` (``{"last", "hourly", "daily",
        "weekly", "monthly", "yearly": int, "within": "30d", "tags": [[tag,
        ...], ...]}``, any subset but not none) does to each readable
        snapshot: ``[{"id", "time", "time_nanos", "hostname", "paths",
        "keep", "reasons"}]`` by group (host and paths), newest first.

        Raises:
            InvalidArgument: a bad policy, or one without rules.
        """
        return self._native.forget_plan(_fields(policy, "policy"), now_ns)

    def drop_snapshots(self, ids: List[str]) -> None:
        """Leaves the snapshots ``ids`` out, as if deleted: a dry run's
        view of a prune after forget."""
        self._native.drop_snapshots(ids)

    def gc_plan(self, now_ns: int, grace_ns: int) -> GcPlan:
        """What gc may delete; raises (IntegrityError) when it must refuse."""
        return self._native.gc_plan(now_ns, grace_ns)

    def repair_plan(self) -> Dict[str, Any]:
        """``{"set_aside": [names], "bundles_to_read": [ids]}``."""
        return self._native.repair_plan()

    def set_aside_target(self, name: str) -> str:
        """Where repair moves object ``name`` of its plan."""
        return self._native.set_aside_target(name)


class IndexRebuild:
    """Repair's index rebuild: feed it the bundles of the repair plan."""

    def __init__(self, state: VaultState) -> None:
        self._native = _native.IndexRebuild(_inner(state, VaultState, "state"))

    def feed(self, bundle_id: str, data: Buffer) -> None:
        """Checks a whole bundle and indexes the blobs no index lists;
        raises for a damaged bundle (also reported)."""
        self._native.feed(bundle_id, data)

    def unreadable(self, bundle_id: str, reason: str) -> None:
        """A bundle of the plan could not be fetched."""
        self._native.unreadable(bundle_id, reason)

    def finish(self) -> Tuple[Optional[Object], Dict[str, Any]]:
        """``(index delta to store or None, report)``."""
        index, report = self._native.finish()
        return index, report


#: A lock's contents (docs/FORMAT.md, "Concurrency"): the native class,
#: ``Lock.new(operation, exclusive, hostname, pid, now_ns)`` (or ``Lock(...)``),
#: ``Lock.open(vault, id, data)``, ``seal(vault)`` (``(id, bytes)`` to store
#: as ``locks/<id>``), ``refreshed(now_ns)``, ``needs_refresh(now_ns)``,
#: ``check_fresh(id, now_ns)`` and ``check_stored(id, stored)`` (raise
#: :class:`Locked`), ``describe()`` (who holds it) and ``exclusive``.
Lock = _native.Lock

#: Other clients' locks and the core's rules between them: the native class,
#: ``LockTable(now_ns, hostname)``, ``add(vault, id, data)`` (an unreadable
#: lock blocks, and is raised), ``local_pids()``, ``set_pid_alive(pid,
#: alive)``, ``decide(my_id, lock)`` (``("granted", None)``, ``("wait",
#: Locked)``, ``("back_off", Locked)`` or ``("give_up", Locked)``: a lock of
#: a process gone from this host is in the way, fail now), ``describe()`` (``[(id, holder,
#: stale)]``) and ``removable(all=False)`` (``[(id, description)]``).
LockTable = _native.LockTable


def relative_snapshot_path(path: PathLike) -> str:
    """A snapshot path (quoted ``str`` or ``bytes``) without its leading
    ``/``, refusing ``..``, relative paths and empty components
    (:class:`InvalidValue`), as a filesystem ``str`` (``os.fsdecode``'s
    surrogate escapes for bytes that are not UTF-8)."""
    return _native.relative_snapshot_path(path)


def partial_name(final_name: Union[str, bytes], tag: int) -> str:
    """The temporary name a restore writes ``final_name`` (a filesystem
    name) under (short enough for any filesystem whatever the name's
    length)."""
    return _native.partial_name(final_name, tag)


def partial_tag(name: Union[str, bytes]) -> Optional[int]:
    """The tag (the process id of the restore that wrote it) of a restore
    temporary's name (:func:`partial_name`), ``None`` for any other name."""
    return _native.partial_tag(name)


def parse_seconds(name: str, text: str) -> float:
    """A span of seconds given as text (``--grace``, ``--retry-lock``, an
    environment variable), by the core's rule (the one C's
    ``cb_retry_lock_seconds`` and JS's ``retryLockSeconds`` read the lock
    wait with): a decimal number from 0 to 9223372036 (what nanoseconds in
    an i64 hold); :class:`InvalidArgument` naming ``name`` otherwise."""
    return _native.parse_seconds(name, text)


def partial_owner(name: Union[str, bytes], own_pid: int) -> Optional[int]:
    """Whose restore temporary ``name`` (one component) is, for a restore
    run by process ``own_pid`` clearing a folder of what a killed restore
    left before it writes there: ``None`` for a name that is no temporary
    (keep it), 0 when no running restore can own it (remove it), or the
    process id to remove it after, once that process is gone."""
    return _native.partial_owner(name, own_pid)


def split_file_root(root: Union[str, bytes]) -> Tuple[bytes, bytes]:
    """Where a backup whose root is no directory (a file, a FIFO, a
    device; give ``root`` with its symlinks resolved, ``os.path.realpath``)
    finds it: ``(directory, name)`` as bytes; the snapshot holds the one
    entry ``/<name>``, whose own device is the root device (the core's
    rule, as in every binding). :class:`InvalidArgument` for a root whose last component
    names no file (empty, ``.``, ``..``, a trailing ``/``)."""
    return _native.split_file_root(root)


def read_pattern_file(text: str) -> List[str]:
    """The patterns of an exclude/include file's text, as restic reads
    them: lines trimmed, blank lines and ``#`` comments skipped, ``$VAR``
    and ``${VAR}`` expanded from the environment (``$$`` is ``$``)."""
    return _native.read_pattern_file(text)


def _pattern_files(paths: Optional[List[str]], option: str) -> List[str]:
    """The patterns of the files ``paths`` (``option`` names them in the
    error of a file that cannot be read)."""
    patterns: List[str] = []
    for path in paths or []:
        try:
            with open(path, "r", encoding="utf-8-sig") as f:
                text = f.read()
        except (OSError, UnicodeDecodeError) as e:
            raise InvalidArgument(f"{option} {path}: {e}", {"name": option, "reason": str(e)}) from e
        patterns.extend(read_pattern_file(text))
    return patterns


class BackupFilter:
    """What a backup leaves out (docs/PATTERNS.md): exclusion patterns
    matched against snapshot paths (``/`` is the source root; an excluded
    folder is not entered), ``exclude_if_present`` rules (``NAME[:HEADER]``:
    a folder holding that file keeps only it) and ``one_file_system``
    (mount points are kept empty). A bad pattern raises ``InvalidArgument``
    naming the list, its index and the pattern."""

    def __init__(
        self,
        *,
        exclude: Optional[List[str]] = None,
        iexclude: Optional[List[str]] = None,
        exclude_files: Optional[List[str]] = None,
        iexclude_files: Optional[List[str]] = None,
        exclude_if_present: Optional[List[str]] = None,
        one_file_system: bool = False,
    ) -> None:
        excludes = list(exclude or []) + _pattern_files(exclude_files, "--exclude-file")
        iexcludes = list(iexclude or []) + _pattern_files(iexclude_files, "--iexclude-file")
        self._native = _native.BackupFilter(excludes, iexcludes, list(exclude_if_present or []), one_file_system)
        #: ``(name, header_len)`` of each ``exclude_if_present`` rule.
        self.tag_files: List[Tuple[str, int]] = self._native.tag_files()

    @property
    def one_file_system(self) -> bool:
        """Whether the backup stays on the source root's file system."""
        return self._native.one_file_system

    def visit(self, path: Union[str, bytes], is_dir: bool, device: int, root_device: int) -> str:
        """``"skip"``, ``"keep"`` or ``"keep_empty"`` (a folder kept without
        its content) for the entry ``path`` on ``device``."""
        return self._native.visit(path, is_dir, device, root_device)

    def excluded(self, path: Union[str, bytes]) -> bool:
        """Whether the patterns exclude ``path``."""
        return self._native.excluded(path)

    def tag_confirms(self, index: int, head: Buffer) -> bool:
        """Whether rule ``index``'s file starting with ``head`` tags its folder."""
        return self._native.tag_confirms(index, head)

    def excluded_by_tags(self, confirmed: List[str], name: Union[str, bytes]) -> bool:
        """Whether child ``name`` of a folder holding the tag files
        ``confirmed`` is left out."""
        return self._native.excluded_by_tags(confirmed, name)


#: Inclusion and exclusion patterns as a restore applies them
#: (docs/PATTERNS.md): the native class itself, ``Selector(*, include=None,
#: exclude=None, iinclude=None, iexclude=None)`` (the ``i`` lists ignore
#: case; a bad pattern raises ``InvalidArgument``), with ``excludes(path)``,
#: ``includes(path)``, ``selects(path)`` and ``child_may_match(path)``.
Selector = _native.Selector


class Pruner:
    """A prune of a vault read in full (the core's rules: restic's
    ``prune``). Construct it under the exclusive lock; then feed it every
    bundle of ``plan["read"]`` (storing the new bundles it returns),
    :meth:`finish`, and store the bundles, then the index deltas, then
    delete the names it lists, in order.

    ``options``: ``{"max_unused": "5%" | "100M" | "unlimited",
    "repack_small": bool, "max_repack_bytes": int | None, "grace_ns":
    int}``, every key optional.

    Raises:
        InvalidArgument: bad options (the message names the field).
        IntegrityError: the vault must not be pruned yet (an unreadable
            index or snapshot, a lost index, a used blob in a missing
            bundle); the message says what to run.
    """

    def __init__(self, vault: Vault, state: VaultState, options: Optional[Mapping[str, Any]], now_ns: int) -> None:
        self._native = _native.Pruner(vault, _inner(state, VaultState, "state"), _fields(options or {}, "options"), now_ns)
        #: The plan: figures (``used_blobs``, ``repack_bundles``...,
        #: ``bytes_before``, ``bytes_after_estimate``), ``read`` (bundle
        #: names to feed) and ``rewrite_index``.
        self.plan: PrunePlan = self._native.plan()

    def remaining(self) -> List[str]:
        """Bundles of the plan not fed yet."""
        return self._native.remaining()

    def feed(self, name: str, data: Buffer) -> List[Bundle]:
        """Copies the used blobs of bundle ``name``; returns the new
        bundles that filled up ``[(id, BundleBytes)]`` (bytes-like, not
        copied), to store."""
        return self._native.feed(name, data)

    def finish(self) -> Tuple[List[Bundle], List[Object], List[str], PruneReport]:
        """``(bundles, index deltas, names to delete, report)``."""
        bundles, indexes, delete, report = self._native.finish()
        return bundles, indexes, delete, report


def cleanup_started_patch(started: str) -> List[Dict[str, Any]]:
    """The v2 cleanup PATCH an agent sends when it starts (``started``:
    ISO-8601 time)."""
    return _native.cleanup_started_patch(started)


def cleanup_queued_patch() -> List[Dict[str, Any]]:
    """The v2 cleanup PATCH an agent sends when it takes a cleanup up."""
    return _native.cleanup_queued_patch()


def cleanup_finished_patch(
    forgotten: List[str], bytes_before: int, bytes_after: int, ended: str
) -> List[Dict[str, Any]]:
    """The v2 cleanup PATCH an agent sends when it ends: ``completed``,
    the service ids of the ``forgotten`` vault snapshots, and the vault's
    size before and after."""
    return _native.cleanup_finished_patch(forgotten, bytes_before, bytes_after, ended)


def prune_options(options: Mapping[str, Any]) -> Dict[str, Any]:
    """Prune options (see :class:`Pruner`) checked by the core and
    returned in their normal form.

    Raises:
        InvalidArgument: an unknown field or a bad value (named).
    """
    return _native.prune_options(_fields(options, "options"))


def cleanup_failed_patch(message: str, ended: str) -> List[Dict[str, Any]]:
    """The v2 cleanup PATCH an agent sends when it fails."""
    return _native.cleanup_failed_patch(message, ended)


def keep_policy(policy: Mapping[str, Any]) -> Dict[str, Any]:
    """A forget policy (see :meth:`VaultState.forget_plan`) checked by the
    core and returned in its normal form.

    Raises:
        InvalidArgument: a bad policy (unknown rule, a count of 0, a bad
            ``within`` duration, an empty tag), or one without rules.
    """
    return _native.keep_policy(_fields(policy, "policy"))


def check_tags(tags: List[str]) -> None:
    """Checks a backup's tags as the core records them: each non-empty,
    without a comma (``--keep-tag a,b`` means both ``a`` and ``b``) or a
    control character.

    Raises:
        InvalidArgument: a tag that is not.
    """
    _native.check_tags(tags)


def quote_path(path: Union[str, bytes]) -> str:
    """The lossless text form of a filesystem path (``bytes``, or a ``str``
    as ``os.fsdecode`` gives it): as it is when it is UTF-8 without control
    characters and does not start with ``"``; otherwise C-quoted, e.g.
    ``"/data/caf\\xe9"``. Snapshot entries, creates and writes use it."""
    return _native.quote_path(path)


def unquote_path(quoted: str) -> bytes:
    """The bytes of a path in quoted form (:class:`InvalidValue` when the
    quoting is malformed)."""
    return _native.unquote_path(quoted)


def fs_path(quoted: str) -> str:
    """The filesystem ``str`` of a path in quoted form (surrogate escapes
    for bytes that are not UTF-8: usable with every ``os`` function)."""
    return _native.fs_path(quoted)


def is_cached_object(name: str) -> bool:
    """Whether the stored object ``name`` (``"index/<hex>"``) belongs in a
    host's local metadata cache: index deltas and snapshots (named by the
    hash of their bytes, so a cached copy is never stale; it is still
    authenticated when opened). Never bundles, locks, the config, or
    temporary and set-aside objects."""
    return _native.is_cached_object(name)
