"""A vault in a local directory, laid out as the C example agent lays it
out (so either can read what the other wrote)::

    VAULT/config              the vault's config (key slots, settings)
    VAULT/bundles/<64 hex>    bundles of encrypted blobs
    VAULT/index/<64 hex>      index deltas, one per backup
    VAULT/snapshots/<64 hex>  snapshots, one per backup

Writes are crash-safe: each object goes to a temporary name, is fsynced and
renamed into place (and the directory fsynced), and a backup stores its
bundles first, then its index delta, then its snapshot, so no stored object
ever names one that is not stored yet. This module is host I/O only: every
rule lives in the core.
"""

from __future__ import annotations

import os
import socket
import stat
import time
from dataclasses import dataclass, field
from typing import Any, Callable, Dict, Iterator, List, Optional, Tuple

from .engine import BackupSession, Index, Password, RestoreSession, Snapshot, Vault, Verifier
from .errors import Error, InvalidArgument, NotFound

__all__ = ["LocalVault", "BackupResult", "RestoreResult", "write_atomic"]

READ_SIZE = 1 << 20
KINDS = ("bundles", "index", "snapshots")

#: Called with the number of bytes just processed.
Progress = Callable[[int], None]


def write_atomic(path: str, data: bytes) -> None:
    """Writes ``data`` to ``path`` through ``path.tmp``: fsync, rename, and
    fsync of the directory, so a crash leaves either nothing or the whole
    file under the final name."""
    tmp = path + ".tmp"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, 0o600)
    try:
        view = memoryview(data)
        while view:
            n = os.write(fd, view)
            view = view[n:]
        os.fsync(fd)
    finally:
        os.close(fd)
    os.replace(tmp, path)
    dfd = os.open(os.path.dirname(path) or ".", os.O_RDONLY)
    try:
        os.fsync(dfd)
    finally:
        os.close(dfd)


def _is_id(name: str) -> bool:
    return len(name) == 64 and all(c in "0123456789abcdef" for c in name)


def _safe_join(root: str, path: str) -> str:
    """``root`` + a snapshot path; refuses paths that could leave ``root``."""
    if not path.startswith("/") or ".." in path.split("/"):
        raise InvalidArgument(
            f"invalid argument `path`: refusing snapshot path {path!r}",
            {"name": "path", "reason": "not absolute or has .."},
        )
    return os.path.join(root, path.lstrip("/"))


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


@dataclass
class RestoreResult:
    """What a restore did: the core's report, and bytes written."""

    snapshot_id: str
    report: Dict[str, Any]
    bytes_written: int = 0
    creates: int = 0
    errors: List[Any] = field(default_factory=list)


class LocalVault:
    """A vault directory, opened with its password."""

    def __init__(self, root: str, vault: Vault) -> None:
        self.root = root
        self.vault = vault

    # -- opening ---------------------------------------------------------

    @classmethod
    def init(
        cls,
        root: str,
        password: Password,
        settings: Optional[Dict[str, Any]] = None,
        kdf: Optional[Dict[str, Any]] = None,
    ) -> "LocalVault":
        """Creates a vault in ``root`` (which must not hold one yet)."""
        config = os.path.join(root, "config")
        if os.path.exists(config):
            raise InvalidArgument(
                f"invalid argument `vault`: {root} already holds a vault",
                {"name": "vault", "reason": "already holds a vault"},
            )
        os.makedirs(root, mode=0o700, exist_ok=True)
        for kind in KINDS:
            os.makedirs(os.path.join(root, kind), mode=0o700, exist_ok=True)
        vault = Vault.create(password, settings, kdf)
        write_atomic(config, vault.config())
        return cls(root, vault)

    @classmethod
    def open(cls, root: str, password: Password) -> "LocalVault":
        """Opens the vault in ``root``.

        Raises:
            NotFound: no vault there.
            WrongPassword, IntegrityError: as :meth:`Vault.open`.
        """
        config = os.path.join(root, "config")
        try:
            with open(config, "rb") as f:
                data = f.read()
        except FileNotFoundError:
            raise NotFound(f"vault {root} not found", {"what": "vault", "id": root}) from None
        return cls(root, Vault.open(data, password))

    @classmethod
    def open_or_init(
        cls,
        root: str,
        password: Password,
        settings: Optional[Dict[str, Any]] = None,
        kdf: Optional[Dict[str, Any]] = None,
    ) -> "LocalVault":
        """Opens the vault in ``root``, creating it first when there is none."""
        if os.path.exists(os.path.join(root, "config")):
            return cls.open(root, password)
        return cls.init(root, password, settings, kdf)

    # -- objects ----------------------------------------------------------

    def path(self, kind: str, object_id: str) -> str:
        """Where object ``object_id`` of ``kind`` is stored."""
        return os.path.join(self.root, kind, object_id)

    def ids(self, kind: str) -> List[str]:
        """The ids stored under ``kind`` (leftover temporary files skipped)."""
        try:
            names = os.listdir(os.path.join(self.root, kind))
        except FileNotFoundError:
            return []
        return sorted(n for n in names if _is_id(n))

    def read(self, kind: str, object_id: str) -> bytes:
        """The bytes of a stored object."""
        with open(self.path(kind, object_id), "rb") as f:
            return f.read()

    def store(self, kind: str, object_id: str, data: bytes) -> bool:
        """Stores an object (crash-safe); False when it was already there
        (ids are content hashes)."""
        target = self.path(kind, object_id)
        if os.path.exists(target):
            return False
        write_atomic(target, data)
        return True

    def save_config(self) -> None:
        """Stores the vault's config again (after a password change)."""
        write_atomic(os.path.join(self.root, "config"), self.vault.config())

    def load_index(self) -> Index:
        """An index with every delta of ``index/`` loaded."""
        index = Index()
        for delta in self.ids("index"):
            index.load_delta(self.vault, delta, self.read("index", delta))
        return index

    def snapshots(self) -> List[Snapshot]:
        """Every snapshot, oldest first (by recorded time, then id)."""
        snaps = [Snapshot.open(self.vault, i, self.read("snapshots", i)) for i in self.ids("snapshots")]
        snaps.sort(key=lambda s: (s.time, s.id))
        return snaps

    def snapshot(self, which: str = "latest") -> Snapshot:
        """A snapshot by id, unique id prefix, or ``"latest"``.

        Raises:
            NotFound: no such snapshot (or no snapshot at all).
            InvalidArgument: a prefix matching several.
        """
        if which == "latest":
            snaps = self.snapshots()
            if not snaps:
                raise NotFound("snapshot latest not found", {"what": "snapshot", "id": which})
            return snaps[-1]
        matches = [i for i in self.ids("snapshots") if i.startswith(which.lower())]
        if not matches or not which:
            raise NotFound(f"snapshot {which} not found", {"what": "snapshot", "id": which})
        if len(matches) > 1:
            raise InvalidArgument(
                f"invalid argument `snapshot`: {which} matches {len(matches)} snapshots",
                {"name": "snapshot", "reason": "ambiguous prefix"},
            )
        return Snapshot.open(self.vault, matches[0], self.read("snapshots", matches[0]))

    # -- backup -------------------------------------------------------------

    def backup(
        self,
        source: str,
        *,
        threads: int = 2,
        progress: Optional[Progress] = None,
        hostname: Optional[str] = None,
    ) -> BackupResult:
        """Backs ``source`` up; the tree is named from ``/`` in the snapshot."""
        if not os.path.isdir(source):
            raise NotFound(f"directory {source} not found", {"what": "directory", "id": source})
        started = int(time.time())
        session = BackupSession(self.vault, self.load_index(), threads)
        result = BackupResult(snapshot_id="", counters={}, bundles=0, stored_bytes=0)

        def store_bundles(bundles: List[Tuple[str, bytes]]) -> None:
            for bundle_id, data in bundles:
                if self.store("bundles", bundle_id, data):
                    result.bundles += 1
                    result.stored_bytes += len(data)

        for fs_path, name, st in _walk(source):
            mode = stat.S_IMODE(st.st_mode)
            mtime = int(st.st_mtime)
            if stat.S_ISREG(st.st_mode):
                session.start_file(name, mode, mtime)
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
        store_bundles(session.finish(started, hostname or socket.gethostname()))
        store_bundles(session.take_bundles())
        index = session.take_index()
        snapshot = session.take_snapshot()
        assert index is not None and snapshot is not None
        self.store("index", index[0], index[1])
        result.stored_bytes += len(index[1])
        self.store("snapshots", snapshot[0], snapshot[1])
        result.stored_bytes += len(snapshot[1])
        result.snapshot_id = snapshot[0]
        result.counters = session.counters()
        return result

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
    ) -> RestoreResult:
        """Restores a snapshot into ``dest``. An existing file is never
        replaced unless ``overwrite`` (the core skips it)."""
        snap = self.snapshot(which)
        existing = [
            e["path"] for e in snap.entries if os.path.lexists(_safe_join(dest, e["path"]))
        ]
        session = RestoreSession(
            self.vault,
            snap,
            self.load_index(),
            include=include,
            exclude=exclude,
            overwrite=overwrite,
            existing=existing,
        )
        os.makedirs(dest, exist_ok=True)
        result = RestoreResult(snapshot_id=snap.id, report={}, creates=len(session.creates))
        for c in session.creates:
            path = _safe_join(dest, c["path"])
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
                fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, 0o600)
                try:
                    os.ftruncate(fd, int(c["size"]))
                finally:
                    os.close(fd)
        for fetch in session.plan:
            bundle = fetch["bundle"]
            try:
                f = open(self.path("bundles", bundle), "rb", buffering=0)
            except FileNotFoundError:
                session.missing(bundle)
                continue
            with f:
                for r in fetch["ranges"]:
                    f.seek(int(r["offset"]))
                    data = f.read(int(r["length"]))
                    for path, offset, chunk in session.feed(bundle, int(r["offset"]), data):
                        fd = os.open(_safe_join(dest, path), os.O_WRONLY | os.O_CLOEXEC)
                        try:
                            view = memoryview(chunk)
                            at = offset
                            while view:
                                n = os.pwrite(fd, view, at)
                                view, at = view[n:], at + n
                        finally:
                            os.close(fd)
                        result.bytes_written += len(chunk)
                        if progress:
                            progress(len(chunk))
        # Modes and times after the content; deepest first.
        for c in reversed(session.creates):
            path = _safe_join(dest, c["path"])
            mtime = int(c["mtime"])
            if c["kind"] == "symlink":
                os.utime(path, (mtime, mtime), follow_symlinks=False)
            else:
                os.chmod(path, int(c["mode"]))
                os.utime(path, (mtime, mtime))
        result.report = session.finish()
        return result

    # -- verify ---------------------------------------------------------------

    def verify(
        self,
        fraction: float = 1.0,
        seed: Optional[int] = None,
        progress: Optional[Progress] = None,
    ) -> Dict[str, Any]:
        """Checks every bundle (or a sampled ``fraction``) against the index;
        returns the core's report (problems listed, never raised)."""
        index = self.load_index()
        if seed is None:
            seed = int.from_bytes(os.urandom(8), "little")
        plan = index.verify_plan(fraction, seed)
        verifier = Verifier(self.vault, index)
        for bundle in plan:
            try:
                data = self.read("bundles", bundle)
            except FileNotFoundError:
                verifier.missing(bundle)
                continue
            try:
                verifier.feed(bundle, data)
            except Error:  # every problem is in the report too
                pass
            if progress:
                progress(len(data))
        return verifier.report()


def _walk(root: str, name: str = "/") -> Iterator[Tuple[str, str, os.stat_result]]:
    """The tree below ``root``, depth first, names sorted, as
    ``(filesystem path, snapshot name, lstat)`` (the C agent's order)."""
    for entry in sorted(os.listdir(root)):
        fs_path = os.path.join(root, entry)
        child = name.rstrip("/") + "/" + entry
        st = os.lstat(fs_path)
        yield fs_path, child, st
        if stat.S_ISDIR(st.st_mode):
            yield from _walk(fs_path, child)
