"""The storage interface every vault location implements, and what the
implementations share: :class:`ObjectInfo`, the :class:`Storage` protocol,
the :class:`RetryPolicy` of remote stores and the vault's object-name rules.

Its own module so that the implementations (:mod:`cloudbackup.storage`'s
local directory and cache, :mod:`cloudbackup.swift`) depend on it and not
on each other. This module is host I/O only.
"""

from __future__ import annotations

import email.utils
import random
import threading
import time
from dataclasses import dataclass
from typing import Callable, List, Optional, Protocol, TypeVar, runtime_checkable

from .engine import Buffer
from .errors import InvalidArgument, NotFound, StorageError

__all__ = [
    "ObjectInfo",
    "Storage",
    "Retryable",
    "RetryPolicy",
    "parse_retry_after",
    "KINDS",
    "SET_ASIDE",
    "is_object_id",
    "is_temporary",
    "check_kind",
    "check_name",
]

T = TypeVar("T")


@dataclass(frozen=True)
class ObjectInfo:
    """One listed object: its relative name, size and last-modified time
    (Unix seconds; used by garbage collection's grace period)."""

    name: str
    size: int
    mtime: float
    #: The same time in nanoseconds (0: take it from ``mtime``).
    mtime_ns_exact: int = 0

    @property
    def mtime_ns(self) -> int:
        """The last-modified time in nanoseconds since the epoch."""
        return self.mtime_ns_exact or int(self.mtime * 1_000_000_000)


@runtime_checkable
class Storage(Protocol):
    """The operations a vault needs from where it is stored.

    Implementations are safe to call from several threads at once: backups
    upload, and restores download, with a bounded pool.
    """

    #: The vault's URL as the user gave it (for messages).
    url: str

    def get(self, name: str) -> bytes:
        """The whole object. Raises :class:`NotFound` when it is missing."""
        ...

    def get_range(self, name: str, offset: int, length: int) -> bytes:
        """``length`` bytes of the object from ``offset``; fewer only when
        the object ends sooner (a truncated object: the core, fed the short
        range, reports it as corrupt). Raises :class:`NotFound` when
        missing, :class:`StorageError` when the storage fails."""
        ...

    def put(self, name: str, data: Buffer) -> None:
        """Stores the object atomically: a reader sees the old object (or
        none) or all of ``data``, never part of it. ``data`` is bytes-like
        (a backup hands over its bundles as :class:`BundleBytes`, without
        a copy): write it, hash it or take its ``len`` as bytes."""
        ...

    def list(self, kind: str) -> List[ObjectInfo]:
        """The objects under ``kind/`` (``"bundles"``, ``"index"``,
        ``"snapshots"``, ``"locks"``), sorted by name: objects named by their
        id, and temporary ones (``*.tmp``, a write in flight or left by a
        killed process). The core classifies the names."""
        ...

    def delete(self, name: str) -> None:
        """Removes the object (no error when it is already gone)."""
        ...

    def exists(self, name: str) -> bool:
        """Whether the object is stored."""
        ...

    def create(self) -> None:
        """Prepares an empty vault location (directories, container)."""
        ...


# -- retries ------------------------------------------------------------------


class Retryable(Exception):
    """Raised by a storage operation to ask :class:`RetryPolicy` for another
    attempt; ``retry_after`` is the server's Retry-After in seconds, if any."""

    def __init__(self, message: str, retry_after: Optional[float] = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


def parse_retry_after(value: Optional[str]) -> Optional[float]:
    """Seconds to wait from a Retry-After header (delta-seconds or an HTTP
    date); None when absent or unreadable."""
    if value is None:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())


@dataclass
class RetryPolicy:
    """Bounded exponential backoff with full jitter.

    Attempt ``n`` (from 0) that fails retryably waits a random time in
    ``[0, min(max_delay, base_delay * 2**n)]``, or the server's Retry-After
    when it sent one (capped at ``max_retry_after`` so a confused server
    cannot stall a backup for hours). After ``attempts`` tries the last error
    is raised as a :class:`StorageError`.
    """

    attempts: int = 6
    base_delay: float = 0.25
    max_delay: float = 8.0
    max_retry_after: float = 60.0
    #: How to sleep (tests may replace it).
    sleep: Callable[[float], None] = time.sleep

    def __post_init__(self) -> None:
        self._lock = threading.Lock()
        #: Retries made so far (all threads), and the waits that came from a
        #: Retry-After header: for reports and tests.
        self.retries = 0
        self.retry_after_honoured = 0

    def delay(self, attempt: int, retry_after: Optional[float]) -> float:
        """How long to wait before attempt ``attempt + 1``."""
        if retry_after is not None:
            return min(retry_after, self.max_retry_after)
        return random.uniform(0.0, min(self.max_delay, self.base_delay * (2**attempt)))

    def run(self, what: str, url: str, op: Callable[[], T]) -> T:
        """Runs ``op`` until it returns, raises a non-retryable error, or the
        attempts are used up (then :class:`StorageError` naming ``what``)."""
        for attempt in range(self.attempts):
            try:
                return op()
            except Retryable as e:
                if attempt + 1 >= self.attempts:
                    raise StorageError(
                        f"storage error: {url}: {what}: {e} (gave up after {self.attempts} attempts)",
                        {"url": url, "object": what, "reason": str(e), "attempts": self.attempts},
                    ) from None
                with self._lock:
                    self.retries += 1
                    if e.retry_after is not None:
                        self.retry_after_honoured += 1
                self.sleep(self.delay(attempt, e.retry_after))
        raise AssertionError("unreachable")  # pragma: no cover


KINDS = ("bundles", "index", "snapshots", "locks")
#: Where repair sets unreadable objects aside (``lost+found/<kind>/<id>``).
SET_ASIDE = "lost+found"


def is_object_id(name: str) -> bool:
    """Whether ``name`` is an object id (64 lowercase hex digits)."""
    return len(name) == 64 and all(c in "0123456789abcdef" for c in name)


def is_temporary(name: str) -> bool:
    """Whether ``name`` (one path component) is a temporary object's
    (``<anything>.tmp`` made of safe characters, as :func:`write_atomic`
    names them)."""
    return (
        name.endswith(".tmp")
        and not name.startswith(".")
        and all(c.isalnum() or c in "._-" for c in name)
    )


def check_kind(kind: str) -> None:
    """Refuses a kind of object outside the vault layout (:data:`KINDS`)."""
    if kind not in KINDS:
        raise InvalidArgument(
            f"invalid argument `kind`: {kind!r} is not one of {', '.join(KINDS)}",
            {"name": "kind", "reason": "not a vault object kind"},
        )


def check_name(name: str) -> None:
    """Refuses object names outside the vault layout (so no name can leave
    the vault's directory or prefix): ``config``, ``<kind>/<64 hex>``,
    ``<kind>/<temporary>.tmp`` and ``lost+found/<kind>/<64 hex>``."""
    if name == "config":
        return
    parts = name.split("/")
    if len(parts) == 3 and parts[0] == SET_ASIDE:
        parts = parts[1:]
    if len(parts) != 2 or parts[0] not in KINDS or not (is_object_id(parts[1]) or is_temporary(parts[1])):
        raise InvalidArgument(
            f"invalid argument `name`: {name!r} is not a vault object name",
            {"name": "name", "reason": "not config, <kind>/<64 hex> or <kind>/<name>.tmp"},
        )
