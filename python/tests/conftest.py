"""Shared fixtures: the repository's fixture files (tests/data,
tests/golden) and cheap key-derivation parameters for fast tests."""

from __future__ import annotations

import atexit
import contextlib
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any, Callable, Dict, Iterator, List, Optional

import pytest

import cloudbackup as cb
from cloudbackup.engine import Buffer
from cloudbackup.storage import ObjectInfo

REPO = Path(__file__).resolve().parents[2]
DATA = REPO / "tests" / "data"
GOLDEN = REPO / "tests" / "golden" / "v1"
#: Argon2id parameters that keep the tests fast (never for real vaults).
# Remote vaults (the Swift tests) keep a metadata cache: in a temporary
# directory, never the user's ~/.cache.
if "CLOUDBACKUP_CACHE_DIR" not in os.environ:
    _CACHE = tempfile.mkdtemp(prefix="cloudbackup-test-cache-")
    os.environ["CLOUDBACKUP_CACHE_DIR"] = _CACHE
    # Removed when the test run ends, so runs leave nothing in /tmp.
    atexit.register(shutil.rmtree, _CACHE, True)

FAST_KDF = {"memory_kib": 64, "iterations": 1, "parallelism": 1}
FAST_KDF_JSON = '{"memory_kib": 64, "iterations": 1, "parallelism": 1}'


#: The lines tests asked for in the run's summary (see ``summary``).
_SUMMARY: List[str] = []


@pytest.fixture
def summary(record_property: Callable[[str, object], None]) -> Callable[[str], None]:
    """Adds a line to the run's summary, printed after the tests: the
    conformance counts and the like. Through ``record_property``, so the
    lines also reach the summary under pytest-xdist, which shows no test's
    own output."""

    def add(line: str) -> None:
        record_property("summary", line)

    return add


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    # With xdist, the controller gets every worker's reports here.
    if report.when == "call":
        _SUMMARY.extend(str(v) for k, v in report.user_properties if k == "summary")


def pytest_terminal_summary(terminalreporter: Any) -> None:
    for line in _SUMMARY:
        terminalreporter.write_line(line)

@contextlib.contextmanager
def small_filesystem(mnt: Path, size: str) -> Iterator[Path]:
    """A tmpfs of ``size`` (``mount -o size=``) at ``mnt``, for full-disk
    cases; the test is skipped where it cannot be mounted (not root, no
    privileges in a container)."""
    mnt.mkdir(parents=True, exist_ok=True)
    if os.geteuid() != 0:
        pytest.skip("mounting a tmpfs needs root")
    r = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(mnt)], capture_output=True)
    if r.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {r.stderr.decode().strip()}")
    try:
        yield mnt
    finally:
        subprocess.run(["umount", str(mnt)], check=False)


@pytest.fixture
def cli_env() -> Dict[str, str]:
    """The environment for CLI subprocesses: a password and a cheap KDF."""
    env = dict(os.environ)
    env["CLOUDBACKUP_PASSWORD"] = "correct horse"
    env["CLOUDBACKUP_KDF"] = FAST_KDF_JSON
    env.pop("CLOUDBACKUP_SETTINGS", None)
    return env


def run_cli(
    args: List[str], env: Dict[str, str], stdin: Optional[str] = None
) -> "subprocess.CompletedProcess[str]":
    """Runs ``python -m cloudbackup ARGS`` in a subprocess."""
    return subprocess.run(
        [sys.executable, "-m", "cloudbackup", *args],
        env=env,
        input=stdin,
        capture_output=True,
        text=True,
        timeout=300,
    )


def read_tree(root: Path) -> Dict[str, bytes]:
    """Every regular file below ``root``: relative path -> bytes."""
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


class WrappedStorage:
    """A storage that passes every call to ``inner``: tests subclass it to
    count or fail some calls."""

    def __init__(self, inner: cb.Storage) -> None:
        self.inner = inner
        self.url = inner.url

    def get(self, name: str) -> bytes:
        return self.inner.get(name)

    def get_range(self, name: str, offset: int, length: int) -> bytes:
        return self.inner.get_range(name, offset, length)

    def put(self, name: str, data: Buffer) -> None:
        self.inner.put(name, data)

    def list(self, kind: str) -> List[ObjectInfo]:
        return self.inner.list(kind)

    def delete(self, name: str) -> None:
        self.inner.delete(name)

    def exists(self, name: str) -> bool:
        return self.inner.exists(name)

    def create(self) -> None:
        self.inner.create()


@contextlib.contextmanager
def emulator_served(emulator: Any, port: int = 0) -> Iterator[str]:
    """Serves ``emulator`` (a ``cloudbackup.emulator.Emulator``) with uvicorn
    in a thread on ``port`` (0: a free one) of 127.0.0.1 and yields its URL;
    afterwards stops the server and closes the emulator."""
    import socket
    import threading
    import time

    import uvicorn

    if port == 0:
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(emulator.app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + 10
        while not server.started:
            assert time.monotonic() < deadline, "uvicorn did not start"
            time.sleep(0.02)
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(10)
        emulator.close()
