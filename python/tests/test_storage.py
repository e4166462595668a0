"""The storage layer without a server: vault URLs, credentials, the local
directory's layout, retries with Retry-After, and the consistency of a
backup that fails half-way (then gc) on a local vault."""

from __future__ import annotations

import ast
import json
import os
import time
from pathlib import Path
from typing import Dict, List

import pytest

import cloudbackup as cb
from cloudbackup.engine import Buffer
from cloudbackup import backend, storage, swift
from cloudbackup.storage import LocalStorage, RetryPolicy, Retryable, open_storage, parse_retry_after
from conftest import FAST_KDF, WrappedStorage, read_tree, run_cli

#: Small chunks and bundles, so a few MiB make many bundles.
SMALL = {"chunker": {"min_size": 4096, "avg_size": 16384, "max_size": 65536}, "zstd_level": 3, "bundle_size": 131072}


def make_tree(root: Path, seed: int = 0) -> None:
    """Random files (incompressible, so bundles fill) and a duplicate."""
    (root / "d").mkdir(parents=True)
    for i in range(6):
        (root / "d" / f"f{i}.bin").write_bytes(os.urandom(150_000 + i * 1000 + seed))
    (root / "d" / "copy.bin").write_bytes((root / "d" / "f0.bin").read_bytes())
    (root / "a.txt").write_text("alpha\n" * 1000)


def _package_imports(module_file: str) -> List[str]:
    """The package modules a module imports (``from .x import``, ``from . import x``),
    lazy imports inside functions included."""
    names: List[str] = []
    for node in ast.walk(ast.parse(Path(module_file).read_text())):
        if isinstance(node, ast.ImportFrom) and node.level == 1:
            if node.module:
                names.append(node.module.split(".")[0])
            else:
                names.extend(a.name for a in node.names)
    return names


def test_storage_modules_import_no_cycle() -> None:
    """The implementations depend on the interface module, never on each
    other's: storage (which picks one by URL) may import swift, but neither
    swift nor backend imports storage (or swift)."""
    assert backend.__file__ and storage.__file__ and swift.__file__
    assert "storage" not in _package_imports(swift.__file__)
    assert "backend" in _package_imports(swift.__file__)
    assert not {"storage", "swift"} & set(_package_imports(backend.__file__))
    # The names storage has always offered still come from it.
    assert storage.ObjectInfo is backend.ObjectInfo and storage.RetryPolicy is backend.RetryPolicy


class FailAfter(WrappedStorage):
    """A storage that fails for good on the ``n``-th bundle upload, as a
    backup disconnected half-way does; with ``gone``, every bundle delete
    fails from then on too (the storage is unreachable; its lock goes)."""

    def __init__(self, inner: cb.Storage, n: int, gone: bool = False) -> None:
        super().__init__(inner)
        self.n = n
        self.gone = gone
        self.bundle_puts = 0

    def put(self, name: str, data: Buffer) -> None:
        if name.startswith("bundles/"):
            self.bundle_puts += 1
            if self.bundle_puts == self.n:
                raise cb.StorageError(f"storage error: {self.url}: {name}: injected", {"object": name})
        self.inner.put(name, data)

    def delete(self, name: str) -> None:
        if self.gone and self.bundle_puts >= self.n and name.startswith("bundles/"):
            raise cb.StorageError(f"storage error: {self.url}: {name}: unreachable", {"object": name})
        self.inner.delete(name)


def test_urls_choose_the_storage(tmp_path: Path) -> None:
    assert isinstance(open_storage(str(tmp_path)), LocalStorage)
    assert isinstance(open_storage("relative/dir"), LocalStorage)
    assert isinstance(open_storage(f"file://{tmp_path}"), LocalStorage)
    with pytest.raises(cb.InvalidArgument, match="unknown scheme 's3'"):
        open_storage("s3://bucket/x")
    with pytest.raises(cb.InvalidArgument, match="absolute path"):
        open_storage("file://relative")
    with pytest.raises(cb.InvalidArgument, match="no container"):
        open_storage("swift:///prefix", env={"ST_AUTH": "http://x", "ST_USER": "u", "ST_KEY": "k"})


def test_swift_credentials_errors_name_what_is_missing() -> None:
    pytest.importorskip("swiftclient")
    with pytest.raises(cb.InvalidArgument, match="no Swift credentials: set ST_AUTH, ST_USER and ST_KEY"):
        open_storage("swift://c/p", env={})
    with pytest.raises(cb.InvalidArgument, match="ST_KEY not set"):
        open_storage("swift://c/p", env={"ST_AUTH": "http://127.0.0.1:1/auth/v1.0", "ST_USER": "u"})
    with pytest.raises(cb.InvalidArgument, match="OS_PASSWORD not set"):
        open_storage("swift://c/p", env={"OS_AUTH_URL": "http://x/v3", "OS_USERNAME": "u"})
    s = open_storage("swift://c/a/b/", env={"ST_AUTH": "http://x", "ST_USER": "u", "ST_KEY": "k"})
    from cloudbackup.swift import SwiftStorage

    assert isinstance(s, SwiftStorage) and (s.container, s.prefix) == ("c", "a/b")
    assert s._object("bundles/" + "0" * 64) == "a/b/bundles/" + "0" * 64


def test_local_layout_is_the_c_agents(tmp_path: Path) -> None:
    s = LocalStorage(str(tmp_path / "v"))
    s.create()
    assert sorted(os.listdir(tmp_path / "v")) == ["bundles", "index", "locks", "snapshots"]
    oid = "ab" * 32
    s.put("index/" + oid, b"xyz")
    assert (tmp_path / "v" / "index" / oid).read_bytes() == b"xyz"
    assert s.get_range("index/" + oid, 1, 2) == b"yz"
    (tmp_path / "v" / "index" / (oid + ".123.tmp")).write_bytes(b"left over")
    # Listed too (gc removes stale ones; the core tells them apart).
    assert [o.name for o in s.list("index")] == ["index/" + oid, "index/" + oid + ".123.tmp"]
    with pytest.raises(cb.NotFound):
        s.get("bundles/" + oid)
    # An object shorter than the range: what there is (the core reports
    # the truncation as corrupt).
    assert s.get_range("index/" + oid, 2, 5) == b"z"
    with pytest.raises(cb.InvalidArgument):
        s.get("../etc/passwd")
    s.delete("index/" + oid)
    s.delete("index/" + oid)  # already gone: fine
    assert not s.exists("index/" + oid)


def test_retry_policy_backs_off_and_honours_retry_after() -> None:
    slept: List[float] = []
    policy = RetryPolicy(attempts=4, base_delay=0.5, max_delay=1.0, sleep=slept.append)
    answers: List[object] = [Retryable("503", 2.0), Retryable("reset"), Retryable("503", 300.0), "done"]

    def op() -> str:
        a = answers.pop(0)
        if isinstance(a, Exception):
            raise a
        return str(a)

    assert policy.run("bundles/x", "swift://c", op) == "done"
    assert policy.retries == 3 and policy.retry_after_honoured == 2
    assert slept[0] == 2.0 and 0.0 <= slept[1] <= 1.0 and slept[2] == policy.max_retry_after

    def never() -> str:
        raise Retryable("HTTP 503")

    with pytest.raises(cb.StorageError, match="bundles/y: HTTP 503 .gave up after 4 attempts"):
        policy.run("bundles/y", "swift://c", never)
    assert parse_retry_after("7") == 7.0
    assert parse_retry_after(None) is None and parse_retry_after("soon") is None
    future = time.strftime("%a, %d %b %Y %H:%M:%S GMT", time.gmtime(time.time() + 30))
    assert 25 <= (parse_retry_after(future) or 0) <= 31


def test_failed_backup_gives_back_what_it_stored(tmp_path: Path) -> None:
    """A backup whose storage fails for good deletes the bundles it had
    stored (no index names them): the vault is as before."""
    src = tmp_path / "src"
    make_tree(src)
    url = str(tmp_path / "vault")
    sv = cb.StoredVault.init(url, "pw", SMALL, FAST_KDF, concurrency=3)
    sv.backup(str(src), gc_grace=0)
    before = {kind: sv.ids(kind) for kind in ("bundles", "index", "snapshots")}
    for i in range(6):
        (src / "d" / f"f{i}.bin").write_bytes(os.urandom(150_000))
    failing = FailAfter(open_storage(url), n=3)
    with pytest.raises(cb.StorageError, match="injected"):
        cb.StoredVault.open(failing, "pw", concurrency=3).backup(str(src), gc_grace=0)
    assert failing.bundle_puts >= 3
    assert {kind: sv.ids(kind) for kind in ("bundles", "index", "snapshots")} == before
    assert sv.gc(grace=0, dry_run=True).unreferenced == 0


def test_failed_backup_leaves_only_unreferenced_bundles_then_gc(tmp_path: Path) -> None:
    """What a failed backup cannot delete (the storage is gone; or a
    killed one's) is unreferenced: gc removes it once past the grace."""
    src = tmp_path / "src"
    make_tree(src)
    url = str(tmp_path / "vault")
    sv = cb.StoredVault.init(url, "pw", SMALL, FAST_KDF, concurrency=3)
    first = sv.backup(str(src), gc_grace=0)
    assert first.bundles >= 4
    before = {kind: sv.ids(kind) for kind in ("bundles", "index", "snapshots")}

    for i in range(6):
        (src / "d" / f"f{i}.bin").write_bytes(os.urandom(150_000))
    failing = FailAfter(open_storage(url), n=3, gone=True)
    with pytest.raises(cb.StorageError, match="injected"):
        cb.StoredVault.open(failing, "pw", concurrency=3).backup(str(src), gc_grace=0)
    assert failing.bundle_puts >= 3

    # The vault opens; no index or snapshot was added; the old snapshot
    # restores; the new bundles are all unreferenced.
    sv = cb.StoredVault.open(url, "pw")
    assert sv.ids("index") == before["index"] and sv.ids("snapshots") == before["snapshots"]
    left = set(sv.ids("bundles")) - set(before["bundles"])
    assert left, "the failed backup stored some bundles"
    dry = sv.gc(grace=0, dry_run=True)
    assert dry.unreferenced == len(left) and dry.deleted == 0
    assert sv.gc(grace=3600).kept_young == len(left)  # too young: kept
    out = tmp_path / "out"
    r = sv.restore(first.snapshot_id, str(out))
    assert not r.report["errors"]

    # The next backup succeeds and its gc removes exactly the leftovers.
    second = sv.backup(str(src), gc_grace=0)
    assert second.gc is not None and second.gc.deleted == len(left)
    assert not (left & set(sv.ids("bundles")))
    assert sv.verify()["ok"]
    assert len(sv.snapshots()) == 2
    r = sv.restore(second.snapshot_id, str(tmp_path / "out2"))
    assert not r.report["errors"] and read_tree(tmp_path / "out2") == read_tree(src)


def test_cli_gc_and_concurrency(tmp_path: Path, cli_env: Dict[str, str]) -> None:
    src, vault = tmp_path / "src", tmp_path / "vault"
    make_tree(src)
    env = dict(cli_env, CLOUDBACKUP_SETTINGS=json.dumps(SMALL))
    r = run_cli(["backup", "--init", str(src), str(vault), "--json", "--concurrency", "2"], env)
    assert r.returncode == 0, r.stderr
    bundles = json.loads(r.stdout)["new_bundles"]
    # A bundle nothing references, as a failed backup leaves one.
    stray = vault / "bundles" / ("ee" * 32)
    stray.write_bytes(b"left by a failed backup")
    r = run_cli(["gc", str(vault), "--json"], env)
    assert json.loads(r.stdout) == {
        "referenced": bundles, "unreferenced": 1, "deleted": 0, "deleted_bytes": 0, "kept_young": 1, "temporary": 0, "dry_run": False
    }
    r = run_cli(["gc", str(vault), "--grace", "0", "--dry-run"], env)
    assert "would remove 1" in r.stdout and stray.exists()
    r = run_cli(["gc", str(vault), "--grace", "0"], env)
    assert r.returncode == 0 and "removed 1" in r.stdout and not stray.exists()
    r = run_cli(["snapshots", str(vault), "--concurrency", "0"], env)
    assert r.returncode != 0 and "--concurrency must be at least 1" in r.stderr
    r = run_cli(["snapshots", str(vault)], dict(env, CLOUDBACKUP_CONCURRENCY="many"))
    assert r.returncode == 1 and "CLOUDBACKUP_CONCURRENCY" in r.stderr
    r = run_cli(["snapshots", "s3://bucket/vault"], env)
    assert r.returncode == 1 and "unknown scheme 's3'" in r.stderr


class OtherHostDuring(WrappedStorage):
    """Counts snapshot and index reads; on the first bundle upload, another
    host backs ``other`` up into the same vault (while this backup holds
    its shared lock, so that host's own gc is skipped)."""

    def __init__(self, inner: cb.Storage, other: Path) -> None:
        super().__init__(inner)
        self.other = other
        self.reads: List[str] = []
        self.other_snapshot = ""

    def get(self, name: str) -> bytes:
        if name.startswith(("snapshots/", "index/")):
            self.reads.append(name)
        return self.inner.get(name)

    def put(self, name: str, data: Buffer) -> None:
        if name.startswith("bundles/") and not self.other_snapshot:
            self.other_snapshot = "running"
            done = cb.StoredVault.open(self.inner.url, "pw").backup(str(self.other), gc_grace=0)
            self.other_snapshot = done.snapshot_id
        self.inner.put(name, data)


def test_the_gc_after_a_backup_reads_only_new_objects_and_keeps_another_hosts_bundles(tmp_path: Path) -> None:
    src, other = tmp_path / "src", tmp_path / "other"
    make_tree(src)
    make_tree(other, seed=1)
    url = str(tmp_path / "vault")
    sv = cb.StoredVault.init(url, "pw", SMALL, FAST_KDF)
    for _ in range(3):
        (src / "a.txt").write_bytes(os.urandom(20_000))
        sv.backup(str(src), gc_grace=0)
    (src / "d" / "f1.bin").write_bytes(os.urandom(150_000))
    watched = OtherHostDuring(open_storage(url), other)
    mine = cb.StoredVault.open(watched, "pw").backup(str(src), gc_grace=0)
    assert mine.gc is not None and mine.gc.deleted == 0, mine.gc
    # Before the backup: the 3 snapshots (parent lookup) and 3 index
    # deltas. Its gc reads only what is new since: the other host's
    # snapshot and delta (its own come from the metadata cache it wrote).
    assert len(watched.reads) == len(set(watched.reads)), "no object read twice"
    assert f"snapshots/{watched.other_snapshot}" in watched.reads
    assert len([n for n in watched.reads if n.startswith("snapshots/")]) == 4, watched.reads
    assert mine.gc.referenced == len(sv.ids("bundles"))
    for snap_id in (mine.snapshot_id, watched.other_snapshot):
        out = tmp_path / f"out-{snap_id[:8]}"
        r = sv.restore(snap_id, str(out))
        assert not r.report["errors"]
    assert read_tree(tmp_path / f"out-{watched.other_snapshot[:8]}") == read_tree(other)
    assert sv.verify()["ok"]


def test_a_restore_on_two_threads_writes_what_one_thread_writes(tmp_path: Path) -> None:
    src = tmp_path / "src"
    make_tree(src)
    (src / "zeros.bin").write_bytes(bytes(300_000))
    url = str(tmp_path / "vault")
    sv = cb.StoredVault.init(url, "pw", SMALL, FAST_KDF, concurrency=3)
    snap = sv.backup(str(src), gc_grace=0).snapshot_id
    results = {}
    for threads in (1, 2):
        out = tmp_path / f"out{threads}"
        seen: List[int] = []
        r = sv.restore(snap, str(out), threads=threads, progress=seen.append)
        assert not r.report["errors"] and read_tree(out) == read_tree(src)
        results[threads] = (r.report, r.bytes_written, sum(seen))
    assert results[2] == results[1]


def test_snapshots_take_no_tree_until_one_is_asked_for(tmp_path: Path) -> None:
    """``snapshots()`` answers from the vault state's summaries: time, host,
    roots, tags and counters read no tree; the tree (entries, listing,
    restore) is taken on first use, and then agrees with the summary."""
    src = tmp_path / "src"
    make_tree(src)
    sv = cb.StoredVault.init(str(tmp_path / "vault"), "pw", SMALL, FAST_KDF)
    first = sv.backup(str(src), hostname="h1", tags=["b", "a"])
    (src / "a.txt").write_text("changed\n")
    second = sv.backup(str(src), hostname="h1")
    snaps = sv.snapshots()
    assert [s.id for s in snaps] == [first.snapshot_id, second.snapshot_id]
    for s in snaps:
        assert s.hostname == "h1" and s.time > 0 and s.counters["files_searched"] > 0
        assert s.paths and s.time_ns // 1_000_000_000 == s.time
    assert snaps[0].tags == ["a", "b"] and snaps[1].tags == []
    assert all(s._opened is None for s in snaps), "no tree taken for the header"
    head = (snaps[1].time_ns, snaps[1].counters, snaps[1].hostname, snaps[1].paths)
    assert any(e["path"].endswith("/a.txt") for e in snaps[1].entries)
    assert snaps[1]._opened is not None and snaps[0]._opened is None
    # Once the tree is decoded, the same members come from it.
    assert (snaps[1].time_ns, snaps[1].counters, snaps[1].hostname, snaps[1].paths) == head
    eager = sv.snapshot(second.snapshot_id)
    assert eager.data["counters"] == head[1] and eager.time_ns == head[0]
    assert snaps[0].ls("/") == sv.snapshot(first.snapshot_id).ls("/")
