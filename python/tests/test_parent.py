"""Backups that skip unchanged files (the parent snapshot: the core's
``reuse`` and ``parent_for``), and the local metadata cache that spares a
remote vault's index and snapshot downloads (the core's
``is_cached_object``), on local vaults behind a storage that counts reads."""

from __future__ import annotations

import json
import os
import shutil
import threading
from pathlib import Path
from typing import Dict

import pytest

import cloudbackup as cb
from cloudbackup.engine import is_cached_object
from cloudbackup.storage import CachedStorage, LocalStorage
from conftest import FAST_KDF, WrappedStorage, read_tree, run_cli

SMALL = {"chunker": {"min_size": 4096, "avg_size": 16384, "max_size": 65536}, "zstd_level": 3, "bundle_size": 131072}


def make_tree(root: Path) -> None:
    (root / "d").mkdir(parents=True)
    for i in range(5):
        (root / "d" / f"f{i}.bin").write_bytes(os.urandom(100_000 + i))
    (root / "a.txt").write_text("alpha\n" * 1000)
    (root / "empty").write_bytes(b"")


class Counting(WrappedStorage):
    """A storage that counts the whole-object reads per kind."""

    def __init__(self, inner: cb.Storage) -> None:
        super().__init__(inner)
        self.gets: Dict[str, int] = {}
        self._lock = threading.Lock()

    def get(self, name: str) -> bytes:
        with self._lock:
            kind = name.split("/", 1)[0]
            self.gets[kind] = self.gets.get(kind, 0) + 1
        return self.inner.get(name)


def test_unchanged_files_are_taken_over_from_the_parent(tmp_path: Path) -> None:
    src = tmp_path / "src"
    make_tree(src)
    sv = cb.StoredVault.init(str(tmp_path / "vault"), "pw", SMALL, FAST_KDF)
    first = sv.backup(str(src), hostname="h", gc_grace=0)
    assert first.counters["files_unchanged"] == 0
    snap = sv.snapshot(first.snapshot_id)
    assert snap.data["paths"] == [str(src)], "the root, absolute"

    second = sv.backup(str(src), hostname="h", gc_grace=0)
    c = second.counters
    assert c["files_unchanged"] == 7 and c["files_searched"] == 7
    assert c["bytes_backed_up"] == 0 and second.bundles == 0
    assert c["bytes_searched"] == first.counters["bytes_searched"]
    def files(s: cb.Snapshot) -> Dict[str, object]:
        return {e["path"]: e.get("chunks") for e in s.entries if e["kind"] == "file"}

    assert files(sv.snapshot(second.snapshot_id)) == files(snap)

    # Same size, mtime put back: the ctime tells the change.
    victim = src / "d" / "f2.bin"
    st = victim.stat()
    victim.write_bytes(os.urandom(st.st_size))
    os.utime(victim, ns=(st.st_atime_ns, st.st_mtime_ns))
    third = sv.backup(str(src), hostname="h", gc_grace=0)
    assert third.counters["files_unchanged"] == 6
    assert third.counters["bytes_backed_up"] >= st.st_size
    out = tmp_path / "out"
    assert not sv.restore(third.snapshot_id, str(out)).report["errors"]
    assert read_tree(out) == read_tree(src)

    # --force reads everything; --parent names one; another host or root
    # has no parent.
    assert sv.backup(str(src), hostname="h", force=True, gc_grace=0).counters["files_unchanged"] == 0
    explicit = sv.backup(str(src), hostname="other", parent=first.snapshot_id[:12], gc_grace=0)
    assert explicit.counters["files_unchanged"] == 6, "f2 changed since the first"
    assert sv.backup(str(src), hostname="new", gc_grace=0).counters["files_unchanged"] == 0
    copy = tmp_path / "copy"
    shutil.copytree(src, copy)
    assert sv.backup(str(copy), hostname="h", gc_grace=0).counters["files_unchanged"] == 0
    with pytest.raises(cb.NotFound):
        sv.backup(str(src), hostname="h", parent="f" * 64, gc_grace=0)


def test_a_second_backup_reads_no_index_or_snapshot_from_the_store(tmp_path: Path) -> None:
    src = tmp_path / "src"
    make_tree(src)
    url = str(tmp_path / "vault")
    cache = str(tmp_path / "cache")
    cb.StoredVault.init(url, "pw", SMALL, FAST_KDF)
    counting = Counting(LocalStorage(url))
    sv = cb.StoredVault.open(counting, "pw", cache=cache)
    assert isinstance(sv.storage, CachedStorage)
    sv.backup(str(src), gc_grace=0)
    # Its own index delta and snapshot were cached as they were stored.
    assert counting.gets.get("index", 0) == 0 and counting.gets.get("snapshots", 0) == 0
    vault_dir = Path(cache) / sv.vault.vault_id
    assert len(list((vault_dir / "index").iterdir())) == 1
    assert len(list((vault_dir / "snapshots").iterdir())) == 1

    # Another host (no cache) adds a backup: only its objects are fetched.
    (src / "new.txt").write_text("new\n")
    other = cb.StoredVault.open(url, "pw", cache=False)
    assert not isinstance(other.storage, CachedStorage)
    other.backup(str(src), gc_grace=0)
    counting.gets.clear()
    sv = cb.StoredVault.open(counting, "pw", cache=cache)
    sv.backup(str(src), gc_grace=0)
    assert counting.gets.get("index") == 1 and counting.gets.get("snapshots") == 1
    counting.gets.clear()
    again = cb.StoredVault.open(counting, "pw", cache=cache)
    result = again.backup(str(src), gc_grace=0)
    assert result.counters["files_unchanged"] == 8
    assert "index" not in counting.gets and "snapshots" not in counting.gets, counting.gets
    assert len(again.snapshots()) == 4

    # An object gone from the vault (gc, repair) leaves the cache with the
    # next listing.
    gone = sorted((vault_dir / "snapshots").iterdir())[0].name
    LocalStorage(url).delete(f"snapshots/{gone}")
    assert len(again.snapshots()) == 3
    assert not (vault_dir / "snapshots" / gone).exists()

    # A damaged cached copy is refused by the core like a damaged download,
    # then dropped and the stored object read instead: the vault stays
    # sound (gc runs; nothing for repair to set aside).
    victim = sorted((vault_dir / "snapshots").iterdir())[0]
    index_copy = sorted((vault_dir / "index").iterdir())[0]
    good = victim.read_bytes()
    for path in (victim, index_copy):
        data = bytearray(path.read_bytes())
        data[-3] ^= 0x40
        path.write_bytes(bytes(data))
    counting.gets.clear()
    assert again.snapshot(victim.name).id == victim.name
    assert counting.gets == {"index": 1, "snapshots": 1}, counting.gets
    assert victim.read_bytes() == good, "the copy is the stored object again"
    assert again.gc(grace=0).deleted == 0
    # A load of the index alone (backup --force) also reads past a bad copy.
    data = bytearray(index_copy.read_bytes())
    data[-3] ^= 0x40
    index_copy.write_bytes(bytes(data))
    assert len(again.load_index()) > 0
    # Damage in the vault itself: this host still reads its authentic copy,
    # but verify (and repair) look at the vault, past the cache.
    LocalStorage(url).put(f"snapshots/{victim.name}", good[:-1] + bytes([good[-1] ^ 1]))
    assert again.snapshot(victim.name).id == victim.name
    report = again.verify()
    assert not report["ok"] and victim.name in json.dumps(report["problems"]), report
    with pytest.raises(cb.IntegrityError):
        cb.StoredVault.open(url, "pw").snapshot(victim.name)


def test_which_objects_are_cached_is_the_cores_rule(tmp_path: Path) -> None:
    hexid = "ab" * 32
    assert is_cached_object(f"index/{hexid}") and is_cached_object(f"snapshots/{hexid}")
    for name in (f"bundles/{hexid}", f"locks/{hexid}", "config", f"lost+found/index/{hexid}", "index/x.tmp"):
        assert not is_cached_object(name), name
    # A local vault is not cached unless asked; a remote one is by default.
    cb.StoredVault.init(str(tmp_path / "v"), "pw", SMALL, FAST_KDF)
    assert isinstance(cb.StoredVault.open(str(tmp_path / "v"), "pw").storage, LocalStorage)
    counting = Counting(LocalStorage(str(tmp_path / "v")))
    assert isinstance(cb.StoredVault.open(counting, "pw").storage, CachedStorage)
    assert not isinstance(cb.StoredVault.open(counting, "pw", cache=False).storage, CachedStorage)


def test_cli_parent_force_and_cache_flags(tmp_path: Path, cli_env: Dict[str, str]) -> None:
    src, vault = tmp_path / "src", tmp_path / "vault"
    make_tree(src)
    env = dict(cli_env, CLOUDBACKUP_SETTINGS=json.dumps(SMALL))
    cache = tmp_path / "cache"
    r = run_cli(["backup", "--init", str(src), str(vault), "--json", "--cache-dir", str(cache)], env)
    assert r.returncode == 0, r.stderr
    first = json.loads(r.stdout)
    assert list(cache.iterdir()), "cached under the vault's id"
    r = run_cli(["backup", str(src), str(vault), "--cache-dir", str(cache)], env)
    assert r.returncode == 0, r.stderr
    assert "7 unchanged since the parent snapshot (not read)" in r.stdout
    r = run_cli(["backup", str(src), str(vault), "--json", "--force", "--no-cache"], env)
    assert json.loads(r.stdout)["counters"]["files_unchanged"] == 0
    r = run_cli(["backup", str(src), str(vault), "--json", "--parent", first["snapshot"][:10]], env)
    assert json.loads(r.stdout)["counters"]["files_unchanged"] == 7
    r = run_cli(["backup", str(src), str(vault), "--parent", "0" * 64], env)
    assert r.returncode == 1 and "not found" in r.stderr.lower(), r.stderr
