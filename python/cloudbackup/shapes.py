"""The shapes of the values the core hands out, as :class:`TypedDict`
classes: plain dicts at run time (what the native module makes), typed for
mypy. Each has the name, and the members, the npm package's TypeScript
declarations give the same value (``web/`` and ``bindings/wasm``); a member
that may be absent is ``NotRequired``.
"""

# No `from __future__ import annotations`: TypedDict reads NotRequired from
# the evaluated annotations (``__required_keys__``).
import sys
from typing import Any, List, Literal, Optional, Union

if sys.version_info >= (3, 11):
    from typing import NotRequired, TypedDict
else:  # 3.9 and 3.10: typing's TypedDict does not know NotRequired
    from typing_extensions import NotRequired, TypedDict

__all__ = [
    "OperationInfo",
    "Request",
    "TransitionStep",
    "ChunkerParams",
    "VaultSettings",
    "KdfParams",
    "VaultInfo",
    "KeySlot",
    "BackupCounters",
    "Xattr",
    "SnapshotEntry",
    "FileError",
    "SnapshotData",
    "SnapshotSummary",
    "ListedEntry",
    "SnapshotChange",
    "SnapshotDiffTotals",
    "SnapshotDiff",
    "ByteRange",
    "Fetch",
    "ErrorReport",
    "RestoreReport",
    "Problem",
    "VerifyReport",
    "Listed",
    "GcPlan",
    "Tally",
    "PruneOptions",
    "PrunePlan",
    "PruneReport",
    "PublicKeyV1",
    "RsaPublicKey",
]


class OperationInfo(TypedDict):
    """One operation of the service, as :func:`cloudbackup.operations` lists it."""

    name: str
    method: str
    path: str
    summary: str


class Request(TypedDict):
    """A transport-neutral request (:func:`cloudbackup.build_request`):
    ``query`` and ``headers`` are ``[name, value]`` pairs."""

    method: str
    path: str
    query: List[List[str]]
    headers: List[List[str]]
    body: Optional[str]


class TransitionStep(TypedDict):
    """An allowed transition: ``changed`` is false for a no-op."""

    changed: bool
    state: str


class ChunkerParams(TypedDict):
    """Chunk size bounds of a vault, in bytes."""

    min_size: int
    avg_size: int
    max_size: int


class VaultSettings(TypedDict):
    """Per-vault settings, fixed at creation."""

    chunker: ChunkerParams
    zstd_level: int
    bundle_size: int


class KdfParams(TypedDict):
    """Argon2id cost of a password's key slot."""

    memory_kib: int
    iterations: int
    parallelism: int


class VaultInfo(TypedDict):
    """What a vault is (no secrets); ``key_slots`` is their number."""

    vault_id: str
    settings: VaultSettings
    key_slots: int


class KeySlot(TypedDict):
    """One key slot: its id (16 hex digits) and Argon2id cost."""

    id: str
    kdf: KdfParams


class BackupCounters(TypedDict):
    """The counters of the v2 backup resource (plus the files that could
    not be read and those taken unread from the parent)."""

    files_searched: int
    files_backed_up: int
    bytes_searched: int
    bytes_backed_up: int
    bytes_in_db: int
    files_with_errors: int
    files_unchanged: int


class Xattr(TypedDict):
    """An extended attribute: its name (quoted form), its value in base64."""

    name: str
    value: str


class SnapshotEntry(TypedDict):
    """One path of a snapshot (members after ``size`` absent when zero or
    unknown); paths in quoted form."""

    path: str
    kind: str
    mode: int
    mtime: int
    mtime_nanos: NotRequired[int]
    size: int
    chunks: NotRequired[List[str]]
    target: NotRequired[str]
    ctime: NotRequired[int]
    ctime_nanos: NotRequired[int]
    uid: NotRequired[int]
    gid: NotRequired[int]
    inode: NotRequired[int]
    device: NotRequired[int]
    links: NotRequired[int]
    rdev: NotRequired[int]
    xattrs: NotRequired[List[Xattr]]


class FileError(TypedDict):
    """A path a backup could not read, and why."""

    path: str
    error: str


class SnapshotData(TypedDict):
    """A backup's file tree (:attr:`cloudbackup.Snapshot.data`)."""

    version: int
    time: int
    time_nanos: NotRequired[int]
    hostname: NotRequired[str]
    backup_configuration_id: NotRequired[str]
    paths: NotRequired[List[str]]
    tags: NotRequired[List[str]]
    counters: BackupCounters
    entries: List[SnapshotEntry]
    errors: NotRequired[List[FileError]]


class SnapshotSummary(TypedDict):
    """One readable snapshot in a listing (``VaultState.summaries()``,
    oldest first): ``entries`` is their number, ``tags`` sorted."""

    id: str
    time: int
    time_nanos: int
    hostname: Optional[str]
    backup_configuration_id: Optional[str]
    paths: List[str]
    tags: List[str]
    entries: int
    counters: BackupCounters


class ListedEntry(TypedDict):
    """An entry as ``Snapshot.ls`` and ``find`` list it (``synthetic``: a
    folder above the backup's roots)."""

    path: str
    kind: str
    mode: int
    size: int
    mtime: int
    target: NotRequired[str]
    synthetic: NotRequired[bool]


class SnapshotChange(TypedDict):
    """One path that differs between two snapshots."""

    path: str
    change: Literal["added", "removed", "modified", "type_changed", "metadata"]
    kind: str
    size_before: int
    size_after: int


class SnapshotDiffTotals(TypedDict):
    """The totals of a :class:`SnapshotDiff`."""

    added: int
    removed: int
    modified: int
    type_changed: int
    metadata: int
    bytes_added: int
    bytes_removed: int


class SnapshotDiff(TypedDict):
    """What changed from one snapshot to another (``Snapshot.diff``)."""

    changes: List[SnapshotChange]
    totals: SnapshotDiffTotals


class ByteRange(TypedDict):
    """A byte range of a stored object."""

    offset: int
    length: int


class Fetch(TypedDict):
    """What to fetch from one bundle; no ranges means the whole bundle."""

    bundle: str
    ranges: List[ByteRange]


class ErrorReport(TypedDict):
    """The value of a v2 restore's (or backup's) ``/errors`` patch."""

    count: Union[int, str]
    reason: Optional[str]
    diagnostics: Optional[str]
    list: NotRequired[List[Any]]


class RestoreReport(TypedDict):
    """What a finished restore did."""

    files_restored: int
    bytes_restored: int
    files_skipped: int
    files_done: int
    errors: Optional[ErrorReport]
    #: The inclusion patterns, as given, that matched no entry of the snapshot.
    unmatched_includes: List[str]


class Problem(TypedDict):
    """Something wrong with a vault: the object, the error's code and message
    (the .d.ts's ``VerifyProblem`` and ``Problem``)."""

    object: str
    code: str
    message: str


class VerifyReport(TypedDict):
    """What a verification found."""

    ok: bool
    bundles_checked: int
    blobs_checked: int
    bytes_checked: int
    snapshots_checked: int
    indexes_checked: int
    unindexed_bundles: int
    temporary_objects: List[str]
    problems: List[Problem]


class Listed(TypedDict):
    """One object as the host's listing shows it."""

    name: str
    size: int
    mtime_ns: int


class GcPlan(TypedDict):
    """What gc deletes, and what it saw."""

    referenced_bundles: int
    unreferenced_bundles: int
    kept_young: int
    temporary: int
    delete: List[Listed]
    delete_bytes: int


class Tally(TypedDict):
    """How many, and their size in bytes (sealed, as stored)."""

    count: int
    bytes: int


class PruneOptions(TypedDict, total=False):
    """What a prune may do: every member optional (``max_unused``:
    ``"5%"``, a size such as ``"100M"`` or bytes, or ``"unlimited"``)."""

    max_unused: Union[str, int]
    repack_small: bool
    max_repack_bytes: Optional[int]
    grace_ns: int


class PrunePlan(TypedDict):
    """What a prune does, and what it saw."""

    options: PruneOptions
    snapshots: int
    used_blobs: Tally
    unused_blobs: Tally
    keep_bundles: Tally
    repack_bundles: Tally
    repack_blobs: Tally
    unused_bundles: Tally
    unindexed_bundles: Tally
    temporary: Tally
    kept_young: int
    unused_after: int
    bytes_before: int
    bytes_after_estimate: int
    read: List[str]
    rewrite_index: bool


class PruneReport(TypedDict):
    """What a prune did."""

    plan: PrunePlan
    bundles_written: Tally
    indexes_written: Tally
    deleted: Tally
    bytes_before: int
    bytes_after: int


class PublicKeyV1(TypedDict):
    """An RSA public key as v1 writes it (an agent's ``PublicKey``)."""

    ModulusHex: str
    ExponentHex: str


class RsaPublicKey(TypedDict):
    """An RSA public key as v2 writes it (``rsa_public_key``)."""

    modulus: str
    exponent: str
