"""Keys, vaults and the sans-IO backup, restore and verify sessions.

Nothing here touches the disk or the network: the host stores and fetches
the bytes (see :mod:`cloudbackup.store` for a local vault directory).
"""

from __future__ import annotations

import json
from typing import Any, Dict, List, Optional, Tuple, Union

from . import _native

__all__ = [
    "Buffer",
    "Password",
    "Vault",
    "Index",
    "Snapshot",
    "BackupSession",
    "RestoreSession",
    "Verifier",
]

#: Bytes-like input: ``bytes`` is read without a copy (the GIL is released
#: meanwhile); bytearray and memoryview are copied once.
Buffer = Union[bytes, bytearray, memoryview]
#: A password: text (UTF-8) or bytes-like.
Password = Union[str, bytes, bytearray, memoryview]


def _pw(password: Password) -> Buffer:
    """The bytes of a password (text is UTF-8)."""
    if isinstance(password, str):
        return password.encode("utf-8")
    return password


def _opt(value: Optional[Dict[str, Any]]) -> Optional[str]:
    return None if value is None else json.dumps(value)


class Vault:
    """An unlocked vault: its keys (wiped when it is collected) and settings."""

    def __init__(self, native: _native.Vault) -> None:
        self._native = native

    @classmethod
    def create(
        cls,
        password: Password,
        settings: Optional[Dict[str, Any]] = None,
        kdf: Optional[Dict[str, Any]] = None,
    ) -> "Vault":
        """Creates a new vault with one key slot for ``password``.
        ``settings`` (chunker sizes, zstd level, bundle size) and ``kdf``
        (Argon2id ``memory_kib``, ``iterations``, ``parallelism``) default
        to the core's. Store :meth:`config` as the vault's ``config``."""
        return cls(_native.Vault.create(_pw(password), _opt(settings), _opt(kdf)))

    @classmethod
    def open(cls, config: Buffer, password: Password) -> "Vault":
        """Opens a stored config with ``password``.

        Raises:
            WrongPassword: no key slot opens with it.
            IntegrityError: the config was tampered with.
            UnsupportedVersion: a newer format.
            InvalidJson: bytes that are no config.
        """
        return cls(_native.Vault.open(config, _pw(password)))

    def config(self) -> bytes:
        """The bytes to store as the vault's ``config``."""
        return self._native.config()

    def info(self) -> Dict[str, Any]:
        """``{"vault_id", "settings", "key_slots"}`` (no secrets)."""
        result: Dict[str, Any] = json.loads(self._native.info())
        return result

    @property
    def vault_id(self) -> str:
        """The vault's id (32 hex digits)."""
        return str(self.info()["vault_id"])

    def add_password(self, password: Password, kdf: Optional[Dict[str, Any]] = None) -> None:
        """Adds a key slot for another password."""
        self._native.add_password(_pw(password), _opt(kdf))

    def remove_password(self, password: Password) -> None:
        """Removes the key slot ``password`` opens (never the only one)."""
        self._native.remove_password(_pw(password))

    def change_password(
        self, old: Password, new: Password, kdf: Optional[Dict[str, Any]] = None
    ) -> None:
        """Rewraps the master key from ``old`` to ``new``; data is untouched."""
        self._native.change_password(_pw(old), _pw(new), _opt(kdf))


class Index:
    """Where every blob of a vault is: load every index delta into it."""

    def __init__(self) -> None:
        self._native = _native.Index()

    def load_delta(self, vault: Vault, delta_id: str, data: Buffer) -> None:
        """Merges the stored index delta ``delta_id`` (64 hex digits)."""
        self._native.load_delta(vault._native, delta_id, data)

    def __len__(self) -> int:
        return len(self._native)

    def verify_plan(self, fraction: float = 1.0, seed: int = 0) -> List[str]:
        """The bundle ids to verify: all when ``fraction`` is 1, else a
        sample of ``ceil(fraction * bundles)`` chosen by ``seed``."""
        plan = json.loads(self._native.verify_plan(fraction, seed))
        return [str(f["bundle"]) for f in plan]


class Snapshot:
    """The file tree of one backup, with its counters."""

    def __init__(self, native: _native.Snapshot, snapshot_id: str) -> None:
        self._native = native
        self.id = snapshot_id
        #: The snapshot as a dict: version, time, hostname, counters, entries.
        self.data: Dict[str, Any] = json.loads(native.json())

    @classmethod
    def open(cls, vault: Vault, snapshot_id: str, data: Buffer) -> "Snapshot":
        """Opens the stored snapshot ``snapshot_id``.

        Raises:
            IntegrityError: tampered, truncated or not that snapshot.
            ForeignVault: written for another vault.
        """
        return cls(_native.Snapshot.open(vault._native, snapshot_id, data), snapshot_id)

    @property
    def time(self) -> int:
        """When the backup started (Unix seconds)."""
        return int(self.data["time"])

    @property
    def entries(self) -> List[Dict[str, Any]]:
        """The files, directories and symlinks, in order."""
        result: List[Dict[str, Any]] = self.data["entries"]
        return result

    @property
    def counters(self) -> Dict[str, int]:
        """The backup's counters (``files_searched``...)."""
        result: Dict[str, int] = self.data["counters"]
        return result


#: An object to store: ``(id, bytes)``.
Object = Tuple[str, bytes]


class BackupSession:
    """A backup: push files, store the bundles it hands back as you go, then
    :meth:`finish` and store the index delta and the snapshot, in that order."""

    def __init__(self, vault: Vault, index: Index, threads: int = 1) -> None:
        self._native = _native.BackupSession(vault._native, index._native, threads)

    def start_file(self, path: str, mode: int, mtime: int) -> None:
        """Starts the regular file ``path`` (e.g. ``"/docs/a.txt"``)."""
        self._native.start_file(path, mode, mtime)

    def write(self, data: Buffer) -> None:
        """Pushes the open file's next bytes (GIL released meanwhile)."""
        self._native.write(data)

    def finish_file(self) -> None:
        """Ends the open file."""
        self._native.finish_file()

    def add_file(self, path: str, mode: int, mtime: int, data: Buffer) -> None:
        """A whole file at once."""
        self._native.start_file(path, mode, mtime)
        self._native.write(data)
        self._native.finish_file()

    def add_dir(self, path: str, mode: int, mtime: int) -> None:
        """Records a directory."""
        self._native.add_dir(path, mode, mtime)

    def add_symlink(self, path: str, target: str, mtime: int) -> None:
        """Records a symbolic link."""
        self._native.add_symlink(path, target, mtime)

    def take_bundles(self) -> List[Object]:
        """The finished bundles: store each as ``bundles/<id>``."""
        return self._native.take_bundles()

    def counters(self) -> Dict[str, int]:
        """``files_searched``, ``files_backed_up``, ``bytes_searched``,
        ``bytes_backed_up``, ``bytes_in_db``."""
        result: Dict[str, int] = json.loads(self._native.counters())
        return result

    def finish(
        self,
        time: int,
        hostname: Optional[str] = None,
        backup_configuration_id: Optional[str] = None,
    ) -> List[Object]:
        """Seals the backup; returns the last bundles to store."""
        return self._native.finish(time, hostname, backup_configuration_id)

    def take_index(self) -> Optional[Object]:
        """The index delta: store it as ``index/<id>`` after the bundles."""
        return self._native.take_index()

    def take_snapshot(self) -> Optional[Object]:
        """The snapshot: store it as ``snapshots/<id>`` last."""
        return self._native.take_snapshot()


class RestoreSession:
    """A restore: create what :attr:`creates` lists, fetch each range of
    :attr:`plan` and :meth:`feed` it, write what comes back, then
    :meth:`finish` for the report."""

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
    ) -> None:
        options = {
            "inclusions": include or [],
            "exclusions": exclude or [],
            "overwrite": overwrite,
            "existing": existing or [],
        }
        self._native = _native.RestoreSession(
            vault._native, snapshot._native, index._native, json.dumps(options)
        )
        #: What to create, in order: ``{"kind": "dir"|"file"|"symlink", ...}``.
        self.creates: List[Dict[str, Any]] = json.loads(self._native.creates())
        #: ``[{"bundle": id, "ranges": [{"offset", "length"}...]}...]``.
        self.plan: List[Dict[str, Any]] = json.loads(self._native.plan())

    def feed(self, bundle_id: str, offset: int, data: Buffer) -> List[Tuple[str, int, bytes]]:
        """Feeds a fetched range; returns verified writes ``(path, offset,
        bytes)``. A tampered blob fails its files (see the report)."""
        return self._native.feed(bundle_id, offset, data)

    def missing(self, bundle_id: str) -> None:
        """Tells that a bundle cannot be fetched: its files fail."""
        self._native.missing(bundle_id)

    def finish(self) -> Dict[str, Any]:
        """``{"files_restored", "bytes_restored", "files_skipped", "errors"}``."""
        result: Dict[str, Any] = json.loads(self._native.finish())
        return result


class Verifier:
    """Checks whole bundles against the index."""

    def __init__(self, vault: Vault, index: Index) -> None:
        self._native = _native.Verifier(vault._native, index._native)

    def feed(self, bundle_id: str, data: Buffer) -> None:
        """Checks one bundle; raises its first problem (all go in the report)."""
        self._native.feed(bundle_id, data)

    def missing(self, bundle_id: str) -> None:
        """Records that a bundle cannot be fetched."""
        self._native.missing(bundle_id)

    def report(self) -> Dict[str, Any]:
        """``{"ok", "bundles_checked", "blobs_checked", "bytes_checked",
        "problems": [{"object", "code", "message"}...]}``."""
        result: Dict[str, Any] = json.loads(self._native.report())
        return result
