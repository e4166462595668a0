"""Vaults on a real OpenStack Swift: the all-in-one of scripts/swift-aio
(``make test-swift`` starts it, runs this file with its ST_* variables and
stops it). Without ST_AUTH these tests are skipped, unless
CLOUDBACKUP_SWIFT_REQUIRED=1 (set by ``make test-swift``) makes that a
failure.

Each test uses its own container, removed afterwards.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.request
import uuid
from pathlib import Path
from typing import Any, Dict, Iterator

import pytest

import cloudbackup as cb
from cloudbackup.storage import RetryPolicy, open_storage
from conftest import FAST_KDF, FAST_KDF_JSON, read_tree, run_cli
from test_cli import same_tree
from test_storage import SMALL, FailAfter, make_tree

CONFIGURED = bool(os.environ.get("ST_AUTH"))
if not CONFIGURED and os.environ.get("CLOUDBACKUP_SWIFT_REQUIRED") == "1":
    raise RuntimeError("CLOUDBACKUP_SWIFT_REQUIRED=1 but ST_AUTH is not set (start scripts/swift-aio)")
pytestmark = pytest.mark.skipif(not CONFIGURED, reason="no Swift configured (ST_AUTH unset; see make test-swift)")

#: The proxy's own address, for the fault-injection filter's control path.
PROXY = os.environ.get("SWIFT_AIO_PROXY", "http://127.0.0.1:18080")


def faults(method: str = "GET", rule: Any = None) -> Dict[str, Any]:
    """Arms (POST), reads (GET) or clears (DELETE) the proxy's injected faults."""
    data = None if rule is None else json.dumps(rule).encode()
    req = urllib.request.Request(PROXY + "/__faults__", data=data, method=method)
    with urllib.request.urlopen(req, timeout=10) as resp:
        result: Dict[str, Any] = json.loads(resp.read())
        return result


@pytest.fixture
def url() -> Iterator[str]:
    """A fresh ``swift://`` vault URL in its own container, with a prefix;
    the container and everything in it are removed afterwards."""
    import swiftclient

    container = f"cbtest-{uuid.uuid4().hex[:12]}"
    yield f"swift://{container}/vaults/one"
    faults("DELETE")
    conn = swiftclient.Connection(
        authurl=os.environ["ST_AUTH"], user=os.environ["ST_USER"], key=os.environ["ST_KEY"]
    )
    try:
        _h, objects = conn.get_container(container, full_listing=True)
        for o in objects:
            conn.delete_object(container, o["name"])
        conn.delete_container(container)
    except swiftclient.ClientException as e:
        if e.http_status != 404:
            raise


def test_cli_round_trip(tmp_path: Path, url: str) -> None:
    env = dict(os.environ)
    env["CLOUDBACKUP_PASSWORD"] = "swift horse"
    env["CLOUDBACKUP_KDF"] = FAST_KDF_JSON
    env["CLOUDBACKUP_SETTINGS"] = json.dumps(SMALL)
    src = tmp_path / "src"
    make_tree(src)
    os.symlink("a.txt", src / "link")
    r = run_cli(["backup", "--init", str(src), url, "--json", "--concurrency", "3"], env)
    assert r.returncode == 0, r.stderr
    first = json.loads(r.stdout)
    assert first["new_bundles"] >= 4 and first["files"] == 8 and first["symlinks"] == 1
    print(f"\nswift round trip: backup stored {first['stored_bytes']} bytes in {first['new_bundles']} bundles")
    r = run_cli(["snapshots", url, "--json"], env)
    assert [s["id"] for s in json.loads(r.stdout)["snapshots"]] == [first["snapshot"]]
    r = run_cli(["restore", url, "latest", str(tmp_path / "out")], env)
    assert r.returncode == 0, r.stderr
    same_tree(src, tmp_path / "out")
    r = run_cli(["verify", url], env)
    assert r.returncode == 0 and "verify: ok" in r.stdout, r.stdout + r.stderr
    print(f"swift round trip: restore byte-exact; {r.stdout.strip()}")

    # The objects are where docs/STORAGE.md says, under the prefix.
    storage = open_storage(url)
    assert storage.exists("config") and len(storage.list("bundles")) == first["new_bundles"]

    # A wrong password and a missing vault are the usual typed errors.
    bad = dict(env, CLOUDBACKUP_PASSWORD="nope")
    r = run_cli(["snapshots", url], bad)
    assert r.returncode == 1 and "WrongPassword" in r.stderr
    r = run_cli(["snapshots", url + "-missing"], env)
    assert r.returncode == 1 and "NotFound" in r.stderr and "not found" in r.stderr
    nocreds = {k: v for k, v in env.items() if not k.startswith(("ST_", "OS_"))}
    r = run_cli(["snapshots", url], nocreds)
    assert r.returncode == 1 and "no Swift credentials" in r.stderr


def test_interrupted_backup_leaves_the_vault_consistent(tmp_path: Path, url: str) -> None:
    src = tmp_path / "src"
    make_tree(src)
    sv = cb.StoredVault.init(url, "pw", SMALL, FAST_KDF, concurrency=3)
    first = sv.backup(str(src), gc_grace=0)
    before_bundles = set(sv.ids("bundles"))

    for i in range(6):
        (src / "d" / f"f{i}.bin").write_bytes(os.urandom(160_000))
    failing = FailAfter(open_storage(url), n=4)
    with pytest.raises(cb.StorageError):
        cb.StoredVault.open(failing, "pw", concurrency=3).backup(str(src), gc_grace=0)

    # The bundles uploaded before the failure were deleted again.
    assert failing.bundle_puts >= 4
    sv = cb.StoredVault.open(url, "pw")
    assert len(sv.ids("snapshots")) == 1 and len(sv.ids("index")) == 1
    assert set(sv.ids("bundles")) == before_bundles
    assert sv.gc(grace=0, dry_run=True).unreferenced == 0
    r = sv.restore(first.snapshot_id, str(tmp_path / "old"))
    assert not r.report["errors"] and r.report["files_restored"] == 8

    second = sv.backup(str(src), gc_grace=0)
    assert second.gc is not None and second.gc.deleted == 0
    assert sv.verify()["ok"]
    sv.restore(second.snapshot_id, str(tmp_path / "new"))
    assert read_tree(tmp_path / "new") == read_tree(src)
    print(f"\nswift interrupted backup: the {failing.bundle_puts - 1} bundles it had uploaded were deleted again")


def test_backup_killed_mid_upload(tmp_path: Path, url: str) -> None:
    """A real kill: the CLI's index upload is stalled by the proxy, so every
    bundle of the second backup is in Swift and nothing references them
    yet, and the process is SIGKILLed right then."""
    env = dict(os.environ)
    env["CLOUDBACKUP_PASSWORD"] = "swift horse"
    env["CLOUDBACKUP_KDF"] = FAST_KDF_JSON
    env["CLOUDBACKUP_SETTINGS"] = json.dumps(SMALL)
    env["CLOUDBACKUP_GC_GRACE"] = "0"
    src = tmp_path / "src"
    make_tree(src)
    r = run_cli(["backup", "--init", str(src), url, "--json"], env)
    assert r.returncode == 0, r.stderr
    first = json.loads(r.stdout)
    storage = open_storage(url)
    before = {o.name for o in storage.list("bundles")}

    for i in range(6):
        (src / "d" / f"f{i}.bin").write_bytes(os.urandom(150_000))
    faults("DELETE")
    faults("POST", {"method": "PUT", "contains": "/index/", "count": 1, "status": 503, "delay": 15})
    proc = subprocess.Popen(
        [sys.executable, "-m", "cloudbackup", "backup", "--init", str(src), url, "--json"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 60
    while faults()["injected"] < 1:
        assert proc.poll() is None, "the backup ended before its index upload"
        assert time.monotonic() < deadline, "the index upload never started"
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    assert proc.wait(timeout=10) == -signal.SIGKILL
    faults("DELETE")

    left = {o.name for o in storage.list("bundles")} - before
    assert len(left) >= 4, "the killed backup's bundles are all in Swift"
    assert len(storage.list("index")) == 1 and len(storage.list("snapshots")) == 1
    r = run_cli(["snapshots", url, "--json"], env)
    assert [s["id"] for s in json.loads(r.stdout)["snapshots"]] == [first["snapshot"]]
    # The killed backup's lock stays behind: gc is refused, naming it stale
    # and `unlock`, until unlock removes it (backups go on meanwhile).
    r = run_cli(["gc", url, "--dry-run", "--json"], env)
    assert r.returncode == 1 and "stale" in r.stderr and "cloudbackup unlock" in r.stderr, r.stderr
    r = run_cli(["unlock", url, "--json"], env)
    assert r.returncode == 0 and len(json.loads(r.stdout)["removed"]) == 1, r.stdout + r.stderr
    r = run_cli(["gc", url, "--dry-run", "--json"], env)
    assert json.loads(r.stdout)["unreferenced"] == len(left)
    r = run_cli(["restore", url, first["snapshot"], str(tmp_path / "old")], env)
    assert r.returncode == 0, r.stderr

    r = run_cli(["backup", "--init", str(src), url], env)
    assert r.returncode == 0, r.stderr
    assert f"gc: removed {len(left)} unreferenced bundles" in r.stdout, r.stdout
    assert not left & {o.name for o in storage.list("bundles")}
    r = run_cli(["verify", url], env)
    assert r.returncode == 0 and "verify: ok" in r.stdout
    print(f"\nswift killed backup: SIGKILL during the index PUT left {len(left)} unreferenced bundles; "
          "the vault opened, the old snapshot restored, unlock removed its stale lock, the next backup's gc removed them")


def test_503_with_retry_after_is_retried(tmp_path: Path, url: str) -> None:
    src = tmp_path / "src"
    make_tree(src)
    faults("DELETE")
    # Two bundle uploads and two ranged downloads refused with 503.
    faults("POST", {"method": "PUT", "contains": "/bundles/", "count": 2, "status": 503, "retry_after": "1"})
    policy = RetryPolicy()
    sv = cb.StoredVault.init(open_storage(url, retry=policy), "pw", SMALL, FAST_KDF, concurrency=2)
    result = sv.backup(str(src))
    assert faults()["injected"] == 2
    assert policy.retries == 2 and policy.retry_after_honoured == 2

    faults("POST", {"method": "GET", "contains": "/bundles/", "count": 2, "status": 503, "retry_after": "0"})
    r = sv.restore(result.snapshot_id, str(tmp_path / "out"))
    assert faults()["injected"] == 4 and policy.retries == 4
    assert not r.report["errors"] and read_tree(tmp_path / "out") == read_tree(src)

    # A server that keeps refusing: a typed error naming the object.
    faults("POST", {"method": "GET", "contains": "/index/", "count": 50, "status": 503, "retry_after": "0"})
    # (No metadata cache: it would answer from the copies this backup kept.)
    stubborn = cb.StoredVault.open(open_storage(url, retry=RetryPolicy(attempts=3)), "pw", cache=False)
    with pytest.raises(cb.StorageError, match=r"index/[0-9a-f]{64}: HTTP 503 .*gave up after 3 attempts"):
        stubborn.load_index()
    print(f"\nswift 503: {policy.retries} retries, {policy.retry_after_honoured} after Retry-After; restore byte-exact")


def test_a_second_backup_downloads_no_index_or_snapshot(tmp_path: Path, url: str) -> None:
    """The metadata cache: index deltas and snapshots come from the local
    cache after the first backup, and unchanged files from the parent."""
    from test_parent import Counting

    src = tmp_path / "src"
    make_tree(src)
    cache = str(tmp_path / "cache")
    cb.StoredVault.init(url, "pw", SMALL, FAST_KDF)
    counting = Counting(open_storage(url))
    first = cb.StoredVault.open(counting, "pw", cache=cache).backup(str(src), gc_grace=0)
    counting.gets.clear()
    second = cb.StoredVault.open(counting, "pw", cache=cache).backup(str(src), gc_grace=0)
    assert "index" not in counting.gets and "snapshots" not in counting.gets, counting.gets
    assert second.counters["files_unchanged"] == second.counters["files_searched"] > 0
    assert second.bundles == 0
    # Without the cache every object is downloaded again.
    counting.gets.clear()
    cb.StoredVault.open(counting, "pw", cache=False).backup(str(src), gc_grace=0)
    assert counting.gets["index"] >= 2 and counting.gets["snapshots"] >= 2, counting.gets
    out = tmp_path / "out"
    r = cb.StoredVault.open(url, "pw").restore(first.snapshot_id, str(out))
    assert not r.report["errors"] and read_tree(out) == read_tree(src)
