"""Taking and holding a vault lock through the vault's own storage: the
host's half of the protocol in docs/FORMAT.md ("Concurrency"). Every
decision (who conflicts with whom, what is stale, when a holder may still
act) is the core's (:class:`cloudbackup.engine.LockTable`,
:class:`cloudbackup.engine.Lock`); this module only stores, lists, fetches,
deletes and sleeps.
"""

from __future__ import annotations

import os
import random
import socket
import sys
import threading
import time
from types import TracebackType
from typing import TYPE_CHECKING, Callable, Optional, Tuple, Type

from . import _native
from .engine import Lock, LockTable
from .errors import Error, NotFound, StorageError

if TYPE_CHECKING:  # pragma: no cover
    from .store import StoredVault

__all__ = ["VaultLock", "DEFAULT_RETRY_LOCK", "RETRY_LOCK_ENV", "retry_lock_from_env", "pid_alive"]

#: How long (seconds) to keep trying for a lock by default (the core's, as
#: for every host).
DEFAULT_RETRY_LOCK: float = _native.DEFAULT_RETRY_LOCK
#: The environment variable that sets it (the CLI's ``--retry-lock`` wins).
RETRY_LOCK_ENV: str = _native.RETRY_LOCK_ENV
#: How often the holder's thread looks whether its lock needs a rewrite.
_REFRESH_CHECK = 30.0


def retry_lock_from_env() -> float:
    """The lock retry time from ``CLOUDBACKUP_RETRY_LOCK``, read by the
    core's rule (seconds from 0 to 9223372036; unset or empty: the default),
    :class:`InvalidArgument` naming the variable otherwise."""
    return _native.retry_lock_seconds(RETRY_LOCK_ENV, os.environ.get(RETRY_LOCK_ENV))


def pid_alive(pid: int) -> bool:
    """Whether process ``pid`` of this host exists (0 and ids past
    ``pid_t`` name none: ``kill`` would read them as process groups)."""
    if not 0 < pid <= 2**31 - 1:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    except OverflowError:
        return False
    return True


def _warn(message: str) -> None:
    print(f"cloudbackup: warning: {message}", file=sys.stderr)


class VaultLock:
    """A lock on a vault for ``operation``, as a context manager.

    Entering stores the lock, then asks the core about every other lock
    listed: it goes on, waits (an exclusive lock waiting for backups to
    end keeps new ones out), or backs off and tries again, for up to
    ``retry`` seconds; then it raises :class:`Locked`. When the lock in the
    way belongs to a process gone from this host (the core's ``give_up``,
    seen on two listings in a row), it raises at once: no wait makes that
    lock go, only ``unlock``. While held, a thread
    rewrites the lock before it could go stale. :meth:`check_fresh` raises
    unless the lock is still fresh enough to act on (call it right before
    committing or deleting). Leaving deletes it.

    ``required=False`` (restore, verify): a vault whose storage refuses
    the lock's write (read-only) is used without one, with a warning.
    """

    def __init__(
        self,
        stored: "StoredVault",
        operation: str,
        *,
        exclusive: bool,
        retry: float = 0.0,
        required: bool = True,
        warn: Callable[[str], None] = _warn,
    ) -> None:
        self.stored = stored
        self.operation = operation
        self.exclusive = exclusive
        self.retry = max(0.0, retry)
        self.required = required
        self.warn = warn
        self.hostname = socket.gethostname()
        self.pid = os.getpid()
        self._mutex = threading.Lock()
        self._held: Optional[Tuple[str, Lock]] = None
        self._stop = threading.Event()
        self._thread: Optional[threading.Thread] = None

    # -- storage -----------------------------------------------------------

    def _store(self, lock: Lock) -> str:
        lock_id, data = lock.seal(self.stored.vault)
        self.stored.storage.put(f"locks/{lock_id}", data)
        return lock_id

    def _delete(self, lock_id: str) -> None:
        try:
            self.stored.storage.delete(f"locks/{lock_id}")
        except Error as e:  # a lock left behind goes stale; say so, go on
            self.warn(f"could not remove lock {lock_id[:16]}: {e}")

    def table(self, now_ns: int, skip: str = "") -> LockTable:
        """Every listed lock but ``skip``, read into the core's table, with
        the liveness of this host's lockers."""
        table = LockTable(now_ns, self.hostname)
        for info in self.stored.storage.list("locks"):
            lock_id = info.name.split("/", 1)[1]
            if lock_id == skip or lock_id.endswith(".tmp"):
                continue
            try:
                data = self.stored.storage.get(info.name)
            except NotFound:  # released meanwhile
                continue
            try:
                table.add(self.stored.vault, lock_id, data)
            except Error:
                pass  # kept in the table as unreadable: it blocks
        for pid in table.local_pids():
            table.set_pid_alive(pid, pid_alive(pid))
        return table

    # -- taking and holding -----------------------------------------------

    def acquire(self) -> "VaultLock":
        """Takes the lock (see the class docs)."""
        deadline = time.monotonic() + self.retry
        delay = 0.1
        while True:
            lock = Lock.new(self.operation, self.exclusive, self.hostname, self.pid, time.time_ns())
            try:
                lock_id = self._store(lock)
            except StorageError as e:
                if self.required:
                    raise
                self.warn(f"cannot write a lock ({e}); going on without one (a read-only vault?)")
                return self
            confirming = False
            while True:
                decision, error = self.table(time.time_ns(), skip=lock_id).decide(lock_id, lock)
                if decision == "granted":
                    self._held = (lock_id, lock)
                    self._start_refresher()
                    return self
                if decision == "give_up" and not confirming:
                    # A holder that released and exited between the listing
                    # and the pid check looks gone: list once more first.
                    confirming = True
                    continue
                confirming = False
                if decision == "wait" and time.monotonic() < deadline:
                    time.sleep(min(1.0, delay) * random.uniform(0.5, 1.0))
                    delay = min(1.0, delay * 1.5)
                    if lock.needs_refresh(time.time_ns()):
                        newer = lock.refreshed(time.time_ns())
                        new_id = self._store(newer)
                        self._delete(lock_id)
                        lock_id, lock = new_id, newer
                    continue
                break
            self._delete(lock_id)
            # give_up: the lock in the way is a dead process's of this host;
            # no wait makes it go, only `unlock`.
            if decision == "give_up" or time.monotonic() >= deadline:
                assert error is not None
                raise error
            time.sleep(min(2.0, delay) * random.uniform(0.5, 1.0))
            delay = min(2.0, delay * 1.5)

    def _start_refresher(self) -> None:
        self._stop.clear()
        self._thread = threading.Thread(target=self._refresh_loop, name="cloudbackup-lock", daemon=True)
        self._thread.start()

    def _refresh_loop(self) -> None:
        while not self._stop.wait(_REFRESH_CHECK):
            try:
                self.refresh()
            except Error as e:
                # The next refresh tries again; check_fresh stops the holder
                # from acting if none succeeds in time.
                self.warn(f"could not refresh the vault lock: {e}")

    def refresh(self) -> None:
        """Rewrites the lock if it is due (new object first, then the old
        one deleted, so the holder is never without one)."""
        with self._mutex:
            if self._held is None:
                return
            lock_id, lock = self._held
            now = time.time_ns()
            if not lock.needs_refresh(now):
                return
            newer = lock.refreshed(now)
            new_id = self._store(newer)
            self._held = (new_id, newer)
        self._delete(lock_id)

    def check_fresh(self) -> None:
        """Raises :class:`Locked` unless the lock may still be acted on: it
        is fresh, and still stored (nothing to check when going on without
        a lock)."""
        with self._mutex:
            if self._held is not None:
                lock_id, lock = self._held
                lock.check_fresh(lock_id, time.time_ns())
                lock.check_stored(lock_id, self.stored.storage.exists(f"locks/{lock_id}"))

    def release(self) -> None:
        """Stops refreshing and deletes the lock."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
            self._thread = None
        with self._mutex:
            held, self._held = self._held, None
        if held is not None:
            self._delete(held[0])

    def __enter__(self) -> "VaultLock":
        return self.acquire()

    def __exit__(
        self,
        exc_type: Optional[Type[BaseException]],
        exc: Optional[BaseException],
        tb: Optional[TracebackType],
    ) -> None:
        self.release()
