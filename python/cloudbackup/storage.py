"""Where a vault's objects live: the storage interface
(:mod:`cloudbackup.backend`, re-exported here) with two implementations,
chosen by the vault's URL (see docs/STORAGE.md).

- ``/path`` (or any path without a scheme, or ``file:///path``):
  :class:`LocalStorage`, a directory laid out exactly as the C example agent
  lays it out (``config``, ``bundles/<id>``, ``index/<id>``,
  ``snapshots/<id>``);
- ``swift://container/prefix``: :class:`cloudbackup.swift.SwiftStorage`, an
  OpenStack Swift (Cloud Files) container, objects named
  ``<prefix>/config``, ``<prefix>/bundles/<id>``...

Object names are always relative (``"config"``, ``"bundles/<64 hex>"``);
each implementation maps them to its own namespace. Every failure is a
:class:`~cloudbackup.errors.StorageError` (or :class:`NotFound` for a missing
object) naming the vault and the object. This module is host I/O only.
"""

from __future__ import annotations

import os
import threading
from typing import Dict, List, Mapping, Optional

from .backend import KINDS as KINDS
from .backend import SET_ASIDE as SET_ASIDE
from .backend import ObjectInfo as ObjectInfo
from .backend import Retryable as Retryable
from .backend import RetryPolicy as RetryPolicy
from .backend import Storage as Storage
from .backend import check_kind as check_kind
from .backend import check_name as check_name
from .backend import is_object_id as is_object_id
from .backend import is_temporary as is_temporary
from .backend import parse_retry_after as parse_retry_after
from .engine import Buffer
from .errors import InvalidArgument, NotFound, StorageError

__all__ = [
    "ObjectInfo",
    "Storage",
    "RetryPolicy",
    "LocalStorage",
    "CachedStorage",
    "default_cache_root",
    "open_storage",
    "write_atomic",
    "DEFAULT_CONCURRENCY",
    "CONCURRENCY_ENV",
]

#: Transfers in flight at once (uploads in a backup, downloads in a restore
#: or verify) unless told otherwise.
DEFAULT_CONCURRENCY = 4
#: The environment variable that sets the concurrency (the CLI's
#: ``--concurrency`` wins over it).
CONCURRENCY_ENV = "CLOUDBACKUP_CONCURRENCY"


# -- local directory ------------------------------------------------------------


def write_atomic(path: str, data: Buffer) -> None:
    """Writes ``data`` to ``path`` through a temporary name in the same
    directory: fsync, rename, and fsync of the directory, so a crash leaves
    either nothing or the whole file under the final name. The temporary
    name is unique per thread, so concurrent writers never share one."""
    tmp = f"{path}.{os.getpid()}.{threading.get_ident()}.tmp"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, 0o600)
    try:
        view = memoryview(data)
        while view:
            n = os.write(fd, view)
            view = view[n:]
        os.fsync(fd)
    except BaseException:
        os.close(fd)
        os.unlink(tmp)
        raise
    os.close(fd)
    os.replace(tmp, path)
    dfd = os.open(os.path.dirname(path) or ".", os.O_RDONLY)
    try:
        os.fsync(dfd)
    finally:
        os.close(dfd)


class LocalStorage:
    """A vault directory (the embedded default), in the C agent's layout."""

    def __init__(self, root: str) -> None:
        self.url = root
        self.root = root

    def _path(self, name: str) -> str:
        check_name(name)
        return os.path.join(self.root, *name.split("/"))

    def _error(self, name: str, e: OSError) -> StorageError:
        return StorageError(
            f"storage error: {self.root}: {name}: {e.strerror or e}",
            {"url": self.root, "object": name, "reason": str(e), "errno": e.errno},
        )

    def get(self, name: str) -> bytes:
        """The whole object (see :meth:`Storage.get`)."""
        try:
            with open(self._path(name), "rb") as f:
                return f.read()
        except FileNotFoundError:
            raise NotFound(f"object {name} not found in {self.root}", {"what": "object", "id": name}) from None
        except OSError as e:
            raise self._error(name, e) from None

    def get_range(self, name: str, offset: int, length: int) -> bytes:
        """Part of the object (see :meth:`Storage.get_range`)."""
        try:
            fd = os.open(self._path(name), os.O_RDONLY | os.O_CLOEXEC)
        except FileNotFoundError:
            raise NotFound(f"object {name} not found in {self.root}", {"what": "object", "id": name}) from None
        except OSError as e:
            raise self._error(name, e) from None
        try:
            data = os.pread(fd, length, offset)
        except OSError as e:
            raise self._error(name, e) from None
        finally:
            os.close(fd)
        return data

    def put(self, name: str, data: Buffer) -> None:
        """Stores the object through a temporary file and a rename (the
        object's directory is created when missing: ``locks/`` and
        ``lost+found/`` of a vault made before they existed)."""
        path = self._path(name)
        try:
            try:
                write_atomic(path, data)
            except FileNotFoundError:
                if not os.path.isdir(self.root):
                    raise
                os.makedirs(os.path.dirname(path), mode=0o700, exist_ok=True)
                write_atomic(path, data)
        except OSError as e:
            raise self._error(name, e) from None

    def list(self, kind: str) -> List[ObjectInfo]:
        """The objects of ``kind`` (leftover temporary files skipped)."""
        check_kind(kind)
        directory = os.path.join(self.root, kind)
        try:
            names = os.listdir(directory)
        except FileNotFoundError:
            return []
        except OSError as e:
            raise self._error(kind, e) from None
        out = []
        for n in sorted(names):
            if not (is_object_id(n) or is_temporary(n)):
                continue
            try:
                st = os.stat(os.path.join(directory, n))
            except FileNotFoundError:  # removed meanwhile
                continue
            out.append(ObjectInfo(f"{kind}/{n}", st.st_size, st.st_mtime, st.st_mtime_ns))
        return out

    def delete(self, name: str) -> None:
        """Removes the file (missing is fine)."""
        try:
            os.unlink(self._path(name))
        except FileNotFoundError:
            pass
        except OSError as e:
            raise self._error(name, e) from None

    def exists(self, name: str) -> bool:
        """Whether the file is there."""
        return os.path.exists(self._path(name))

    def create(self) -> None:
        """Creates the directory and its subdirectories (one per kind)."""
        try:
            os.makedirs(self.root, mode=0o700, exist_ok=True)
            for kind in KINDS:
                os.makedirs(os.path.join(self.root, kind), mode=0o700, exist_ok=True)
        except OSError as e:
            raise self._error("", e) from None


# -- metadata cache ----------------------------------------------------------------

#: The environment variable naming the cache root (``--cache-dir`` wins).
CACHE_ENV = "CLOUDBACKUP_CACHE_DIR"


def default_cache_root(env: Optional[Mapping[str, str]] = None) -> str:
    """Where vault metadata caches live: ``$CLOUDBACKUP_CACHE_DIR``, else
    ``$XDG_CACHE_HOME/cloudbackup``, else ``~/.cache/cloudbackup``; each
    vault gets a directory named by its id below it."""
    values: Mapping[str, str] = os.environ if env is None else env
    explicit = values.get(CACHE_ENV)
    if explicit:
        return explicit
    base = values.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return os.path.join(base, "cloudbackup")


class CachedStorage:
    """A read-through cache of a vault's immutable metadata in front of
    another storage: index deltas and snapshots (which objects is the
    core's rule, :func:`cloudbackup.engine.is_cached_object`). Their names
    are the hashes of their bytes, so a cached copy is never stale, and the
    core authenticates it when it is opened, as it does a downloaded one: a
    damaged cache file is never a silent wrong answer, and the vault's
    reader drops a copy the core refused and reads the stored object
    instead (:meth:`forget`). A backup to Swift then
    downloads only the index deltas and snapshots other hosts added.

    Objects written through this storage are cached as they are stored;
    objects deleted from the vault (gc, repair) leave the cache when the
    next listing of their kind no longer shows them. Everything else (bundles,
    locks, the config) goes straight to ``inner``. A cache that cannot be
    written (full disk, permissions) only costs downloads: failures to
    write it are ignored.

    ``gets`` counts the reads that reached ``inner`` for cached kinds, and
    ``hits`` those answered from the cache (for reports and tests).
    """

    def __init__(self, inner: Storage, directory: str) -> None:
        from .engine import is_cached_object

        self.inner = inner
        self.url = inner.url
        self.directory = directory
        self._cached = is_cached_object
        self._lock = threading.Lock()
        self.gets = 0
        self.hits = 0

    def _path(self, name: str) -> str:
        check_name(name)
        return os.path.join(self.directory, *name.split("/"))

    def _keep(self, name: str, data: Buffer) -> None:
        path = self._path(name)
        try:
            os.makedirs(os.path.dirname(path), mode=0o700, exist_ok=True)
            write_atomic(path, data)
        except OSError:
            pass  # only a download next time

    def get(self, name: str) -> bytes:
        """The object, from the cache when it holds it (see
        :meth:`Storage.get`)."""
        if not self._cached(name):
            return self.inner.get(name)
        try:
            with open(self._path(name), "rb") as f:
                data = f.read()
            with self._lock:
                self.hits += 1
            return data
        except OSError:
            pass
        data = self.inner.get(name)
        with self._lock:
            self.gets += 1
        self._keep(name, data)
        return data

    def forget(self, name: str) -> bool:
        """Drops the cached copy of ``name`` (one the core refused, say), so
        the next read fetches it from ``inner``; whether there was one."""
        if not self._cached(name):
            return False
        try:
            os.unlink(self._path(name))
            return True
        except OSError:
            return False

    def get_range(self, name: str, offset: int, length: int) -> bytes:
        """Part of the object, always from ``inner`` (bundles are not cached)."""
        return self.inner.get_range(name, offset, length)

    def put(self, name: str, data: Buffer) -> None:
        """Stores the object in ``inner``, then keeps a copy when cached."""
        self.inner.put(name, data)
        if self._cached(name):
            self._keep(name, data)

    def list(self, kind: str) -> List[ObjectInfo]:
        """``inner``'s listing; drops cached copies of the kind's objects it
        no longer shows (deleted by gc or set aside by repair)."""
        listed = self.inner.list(kind)
        directory = os.path.join(self.directory, kind)
        try:
            cached = os.listdir(directory)
        except OSError:
            return listed
        present = {o.name for o in listed}
        for n in cached:
            if f"{kind}/{n}" not in present:
                try:
                    os.unlink(os.path.join(directory, n))
                except OSError:
                    pass
        return listed

    def delete(self, name: str) -> None:
        """Removes the object from ``inner`` and the cache."""
        self.inner.delete(name)
        if self._cached(name):
            try:
                os.unlink(self._path(name))
            except OSError:
                pass

    def exists(self, name: str) -> bool:
        """Whether ``inner`` holds the object."""
        return self.inner.exists(name)

    def create(self) -> None:
        """Prepares ``inner``."""
        self.inner.create()


# -- choosing one by URL ----------------------------------------------------------


def open_storage(
    url: str,
    *,
    retry: Optional[RetryPolicy] = None,
    env: Optional[Dict[str, str]] = None,
) -> Storage:
    """The storage a vault URL names: ``/path`` (or a relative path, or
    ``file:///path``) is a local directory, ``swift://container[/prefix]``
    an OpenStack Swift container authenticated from the environment
    (``ST_AUTH``/``ST_USER``/``ST_KEY``, or ``OS_*``; see docs/STORAGE.md).

    Raises:
        InvalidArgument: an unknown scheme, a malformed URL, or missing
            credentials (the message says which).
    """
    if not isinstance(url, str):
        raise TypeError(f"argument 'url': '{type(url).__name__}' object is not a vault URL or path (a str)")
    if url.startswith("swift://"):
        from .swift import SwiftStorage

        return SwiftStorage.from_url(url, retry=retry, env=env)
    if url.startswith("file://"):
        path = url[len("file://") :]
        if not path.startswith("/"):
            raise InvalidArgument(
                f"invalid argument `vault`: {url!r}: a file URL needs an absolute path (file:///path)",
                {"name": "vault", "reason": "file URL without an absolute path"},
            )
        return LocalStorage(path)
    if "://" in url:
        scheme = url.split("://", 1)[0]
        raise InvalidArgument(
            f"invalid argument `vault`: {url!r}: unknown scheme {scheme!r} "
            "(use a directory path or swift://container/prefix)",
            {"name": "vault", "reason": f"unknown scheme {scheme}"},
        )
    if not url:
        raise InvalidArgument("invalid argument `vault`: empty", {"name": "vault", "reason": "empty"})
    return LocalStorage(url)


def concurrency_from_env(default: int = DEFAULT_CONCURRENCY) -> int:
    """The concurrency from ``CLOUDBACKUP_CONCURRENCY`` (a positive integer),
    else ``default``."""
    text = os.environ.get(CONCURRENCY_ENV)
    if not text:
        return default
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise InvalidArgument(
            f"invalid argument `{CONCURRENCY_ENV}`: {text!r} is not a positive integer",
            {"name": CONCURRENCY_ENV, "reason": "not a positive integer"},
        )
    return value
