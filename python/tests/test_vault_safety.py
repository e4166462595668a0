"""Vaults that cannot lose data (issue 13): locks, a gc that refuses to
guess, repair, a verify that checks everything, and the cases that lost
data or broke a vault before: a missing index, a corrupt snapshot, a
230+-byte file name, two backups in one second, a mistyped vault path, a
negative grace, temporary objects left by a kill."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, Callable, Dict, List

import pytest

import cloudbackup as cb
from cloudbackup.engine import Lock, LockTable
from cloudbackup.locking import VaultLock
from cloudbackup.store import StoredVault
from conftest import FAST_KDF, run_cli, small_filesystem


def tree(root: Path, tag: str = "") -> None:
    (root / "d").mkdir(parents=True, exist_ok=True)
    for i in range(3):
        (root / "d" / f"f{i}.bin").write_bytes(os.urandom(120_000) + tag.encode())
    (root / "note.txt").write_text(f"note {tag}\n")


def vault_with(tmp_path: Path, backups: int) -> StoredVault:
    sv = StoredVault.init(str(tmp_path / "vault"), "pw", None, FAST_KDF)
    for n in range(backups):
        src = tmp_path / f"src{n}"
        tree(src, str(n))
        sv.backup(str(src), gc_grace=3600)
    return sv


def objects(sv: StoredVault, kind: str) -> List[str]:
    return sv.ids(kind)


def first_bytes_flipped(path: Path) -> None:
    data = bytearray(path.read_bytes())
    data[-5] ^= 0x20
    path.write_bytes(bytes(data))


# -- gc refuses to guess ------------------------------------------------------------


def test_a_missing_index_makes_gc_refuse_verify_report_and_repair_rebuild(tmp_path: Path) -> None:
    sv = vault_with(tmp_path, 2)
    bundles_before = sorted(objects(sv, "bundles"))
    lost = objects(sv, "index")[0]
    os.unlink(tmp_path / "vault" / "index" / lost)
    with pytest.raises(cb.IntegrityError, match="no index lists"):
        sv.gc(grace=0)
    assert sorted(objects(sv, "bundles")) == bundles_before, "gc deleted nothing"
    rep = sv.verify()
    assert not rep["ok"]
    assert any("repair" in p["message"] for p in rep["problems"]), rep["problems"]
    repaired = sv.repair()
    assert repaired["index_written"] and repaired["blobs_indexed"] > 0
    assert not repaired["snapshots_damaged"]
    assert sv.verify()["ok"]
    assert sv.gc(grace=0).deleted == 0, "every bundle is referenced again"
    for s in sv.snapshots():
        out = tmp_path / f"out-{s.id[:8]}"
        r = sv.restore(s.id, str(out))
        assert not r.report["errors"]


def test_an_unreadable_index_is_set_aside_and_rebuilt(tmp_path: Path) -> None:
    sv = vault_with(tmp_path, 2)
    bad = objects(sv, "index")[1]
    first_bytes_flipped(tmp_path / "vault" / "index" / bad)
    with pytest.raises(cb.IntegrityError, match="gc refuses"):
        sv.gc(grace=0)
    rep = sv.repair()
    assert rep["set_aside"] == [[f"index/{bad}", f"lost+found/index/{bad}"]]
    assert (tmp_path / "vault" / "lost+found" / "index" / bad).is_file(), "kept, not deleted"
    assert sv.verify()["ok"]
    sv.gc(grace=0)


def test_a_corrupt_snapshot_is_skipped_by_listing_and_latest_and_set_aside_by_repair(
    tmp_path: Path, cli_env: Dict[str, str]
) -> None:
    sv = vault_with(tmp_path, 2)
    snaps = sv.snapshots()
    newest = snaps[-1].id
    first_bytes_flipped(tmp_path / "vault" / "snapshots" / newest)
    vault = str(tmp_path / "vault")
    env = dict(cli_env, CLOUDBACKUP_PASSWORD="pw")
    listing = run_cli(["snapshots", vault, "--json"], env)
    assert listing.returncode == 0, listing.stderr
    data = json.loads(listing.stdout)
    assert [s["id"] for s in data["snapshots"]] == [snaps[0].id]
    assert data["unreadable"][0]["object"] == f"snapshots/{newest}"
    assert "skipped" in listing.stderr
    r = run_cli(["restore", vault, "latest", str(tmp_path / "out"), "--json"], env)
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["snapshot"] == snaps[0].id, "the newest readable one"
    assert "skipped" in r.stderr
    v = run_cli(["verify", vault, "--json"], env)
    assert v.returncode == 1
    assert [p["object"] for p in json.loads(v.stdout)["problems"]] == [f"snapshots/{newest}"]
    g = run_cli(["gc", vault, "--grace", "0"], env)
    assert g.returncode == 1 and "gc refuses" in g.stderr
    rep = run_cli(["repair", vault, "--json"], env)
    assert rep.returncode == 0, rep.stderr
    assert json.loads(rep.stdout)["snapshots_set_aside"] == [f"snapshots/{newest}"]
    assert run_cli(["verify", vault], env).returncode == 0
    assert run_cli(["gc", vault, "--grace", "0"], env).returncode == 0


# -- names, times, paths ----------------------------------------------------------------


@pytest.mark.parametrize("length", [230, 255])
def test_long_file_names_restore(tmp_path: Path, length: int) -> None:
    src = tmp_path / "src"
    src.mkdir()
    name = "n" * length
    (src / name).write_bytes(b"long name" * 1000)
    sv = StoredVault.init(str(tmp_path / "vault"), "pw", None, FAST_KDF)
    sv.backup(str(src))
    r = sv.restore("latest", str(tmp_path / "out"))
    assert not r.report["errors"]
    assert (tmp_path / "out" / name).read_bytes() == b"long name" * 1000
    assert [p.name for p in (tmp_path / "out").iterdir()] == [name], "no temporary left"


def test_two_backups_in_one_second_latest_is_the_later(tmp_path: Path) -> None:
    sv = StoredVault.init(str(tmp_path / "vault"), "pw", None, FAST_KDF)
    ids = []
    for n in range(3):
        src = tmp_path / f"s{n}"
        tree(src, str(n))
        ids.append(sv.backup(str(src), gc_grace=3600).snapshot_id)
    snaps = sv.snapshots()
    assert [s.id for s in snaps] == ids, "ordered by start time in nanoseconds"
    assert sv.snapshot("latest").id == ids[-1]
    assert len({s.time_ns for s in snaps}) == 3


def test_snapshot_prefixes_resolve_in_the_core(tmp_path: Path) -> None:
    sv = vault_with(tmp_path, 1)
    sid = sv.snapshots()[0].id
    assert sv.snapshot(sid[:6].upper()).id == sid
    with pytest.raises(cb.InvalidValue):
        sv.snapshot("../etc")
    with pytest.raises(cb.NotFound):
        sv.snapshot("f" * 64 if not sid.startswith("f") else "0" * 64)


def test_restore_refuses_escaping_paths_in_the_core() -> None:
    assert cb.engine.relative_snapshot_path("/a/b") == "a/b"
    for bad in ["a", "/a/../b", "/..", "//a"]:
        with pytest.raises(cb.InvalidValue):
            cb.engine.relative_snapshot_path(bad)
    assert len(cb.engine.partial_name(b"x" * 255, 2**31)) < 64


# -- the command line --------------------------------------------------------------------


def test_backup_to_a_path_without_a_vault_names_init(tmp_path: Path, cli_env: Dict[str, str]) -> None:
    src = tmp_path / "src"
    tree(src)
    r = run_cli(["backup", str(src), str(tmp_path / "typo")], cli_env)
    assert r.returncode == 1
    assert "cloudbackup init" in r.stderr
    assert not (tmp_path / "typo").exists(), "nothing created"
    r = run_cli(["backup", "--init", str(src), str(tmp_path / "v")], cli_env)
    assert r.returncode == 0, r.stderr


def test_negative_grace_is_refused(tmp_path: Path, cli_env: Dict[str, str]) -> None:
    assert run_cli(["init", str(tmp_path / "v")], cli_env).returncode == 0
    r = run_cli(["gc", str(tmp_path / "v"), "--grace", "-5"], cli_env)
    assert r.returncode == 2 and "--grace" in r.stderr
    sv = StoredVault.open(str(tmp_path / "v"), "correct horse")
    with pytest.raises(cb.InvalidArgument):
        sv.gc(grace=-1)


def test_gc_removes_stale_temporary_objects_only(tmp_path: Path) -> None:
    sv = vault_with(tmp_path, 1)
    old = tmp_path / "vault" / "bundles" / ("ab" * 32 + ".999.1.tmp")
    young = tmp_path / "vault" / "index" / ("cd" * 32 + ".999.2.tmp")
    old.write_bytes(b"half a bundle")
    young.write_bytes(b"in flight")
    hour_ago = time.time() - 7200
    os.utime(old, (hour_ago, hour_ago))
    rep = sv.verify()
    assert sorted(rep["temporary_objects"]) == sorted(
        [f"bundles/{old.name}", f"index/{young.name}"]
    ) and rep["ok"]
    r = sv.gc(grace=3600)
    assert (r.deleted, r.temporary) == (1, 1)
    assert not old.exists() and young.exists()


# -- locks -----------------------------------------------------------------------------


def test_gc_waits_for_a_running_backup_and_its_lock_keeps_backups_out(tmp_path: Path) -> None:
    sv = vault_with(tmp_path, 1)
    with sv.lock("backup", exclusive=False):
        with pytest.raises(cb.Locked) as e:
            sv.gc(grace=0, retry_lock=0.3)
        assert "backup (shared)" in str(e.value) and not e.value.stale
        # A backup still gets in beside another backup.
        with sv.lock("backup", exclusive=False):
            pass
    with sv.lock("gc", exclusive=True):
        with pytest.raises(cb.Locked, match="gc \\(exclusive\\)"):
            sv.backup(str(tmp_path / "src0"), retry_lock=0.2)
    assert sv.locks() == [], "every lock released"


def test_a_killed_clients_lock_is_stale_and_unlock_removes_it(tmp_path: Path, cli_env: Dict[str, str]) -> None:
    sv = vault_with(tmp_path, 1)
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sys, time; from cloudbackup.store import StoredVault; "
            "sv = StoredVault.open(sys.argv[1], 'pw'); l = sv.lock('backup', exclusive=True); l.acquire(); "
            "print('held', flush=True); time.sleep(60)",
            str(tmp_path / "vault"),
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
        with pytest.raises(cb.Locked) as live:
            sv.backup(str(tmp_path / "src0"), retry_lock=0)
        assert not live.value.stale
        assert sv.unlock() == [], "a live lock is not stale"
        holder.send_signal(signal.SIGKILL)
        holder.wait()
        # The holder's process is gone from this host: gc gives up at once
        # (the core's give_up) instead of waiting out a lock that cannot go.
        started = time.monotonic()
        with pytest.raises(cb.Locked) as dead:
            sv.gc(grace=0, retry_lock=60)
        assert time.monotonic() - started < 30, "waited for a dead process's lock"
        assert dead.value.stale and "cloudbackup unlock" in str(dead.value)
        env = dict(cli_env, CLOUDBACKUP_PASSWORD="pw")
        r = run_cli(["unlock", str(tmp_path / "vault")], env)
        assert r.returncode == 0 and "removed lock" in r.stdout, r.stdout + r.stderr
        assert sv.gc(grace=0).deleted == 0
    finally:
        holder.kill()
        holder.wait()


def test_a_backup_whose_lock_went_stale_commits_nothing(tmp_path: Path, monkeypatch: Any) -> None:
    sv = vault_with(tmp_path, 1)
    before = objects(sv, "snapshots")

    def stale(self: VaultLock) -> None:
        raise cb.Locked("vault is locked: this process's own lock went stale", {"lock": "x", "holder": "me", "stale": True})

    monkeypatch.setattr(VaultLock, "check_fresh", stale)
    with pytest.raises(cb.Locked):
        sv.backup(str(tmp_path / "src0"))
    assert objects(sv, "snapshots") == before


def test_a_backup_whose_lock_was_removed_commits_nothing(tmp_path: Path) -> None:
    sv = vault_with(tmp_path, 1)
    before = objects(sv, "snapshots")
    removed: List[Any] = []

    def remove_all_locks(_n: int) -> None:
        if not removed:
            removed.extend(sv.unlock(remove_all=True))

    with pytest.raises(cb.Locked, match="was removed"):
        sv.backup(str(tmp_path / "src0"), progress=remove_all_locks)
    assert len(removed) == 1 and objects(sv, "snapshots") == before


def test_read_only_vaults_restore_and_verify(tmp_path: Path) -> None:
    if os.geteuid() == 0:
        # root ignores permission bits: a read-only bind is not available
        # here, so make lock writes fail the way a read-only mount does.
        sv = vault_with(tmp_path, 1)

        def refuse(name: str, data: object) -> None:
            raise cb.StorageError(f"storage error: {name}: Read-only file system", {"reason": "EROFS"})

        sv.storage.put = refuse  # type: ignore[method-assign]
    else:
        sv = vault_with(tmp_path, 1)
        for d in (tmp_path / "vault").rglob("*"):
            d.chmod(0o555 if d.is_dir() else 0o444)
        (tmp_path / "vault").chmod(0o555)
    assert sv.verify()["ok"]
    r = sv.restore("latest", str(tmp_path / "out"))
    assert not r.report["errors"]


def test_lock_table_rules_come_from_the_core(tmp_path: Path) -> None:
    vault = cb.Vault.create("pw", kdf=FAST_KDF)
    now = time.time_ns()
    backup = Lock.new("backup", False, "h1", 1, now)
    gc = Lock.new("gc", True, "h2", 2, now + 1)
    table = LockTable(now, "h9")
    b_id, b_bytes = backup.seal(vault)
    g_id, g_bytes = gc.seal(vault)
    table.add(vault, b_id, b_bytes)
    table.add(vault, g_id, g_bytes)
    assert table.decide(g_id, gc)[0] == "wait"
    decision, error = table.decide(b_id, backup)
    assert decision == "back_off" and isinstance(error, cb.Locked)
    with pytest.raises(cb.InvalidValue):
        table.decide("not hex", gc)


def test_gc_during_a_backup_in_flight_deletes_nothing_it_needs(tmp_path: Path) -> None:
    """The issue's first case: gc while another backup uploads. With locks
    gc cannot start until the backup is done; afterwards every snapshot
    restores.

    gc starts once the backup has read its first bytes, so it holds its lock:
    a lock file seen in the listing is not enough, since a backup still
    confirming its lock backs off from a gc that wrote one meanwhile (by
    design: see the lock table test above), which made this test flaky."""
    sv = vault_with(tmp_path, 1)
    big = tmp_path / "big"
    big.mkdir()
    (big / "f").write_bytes(os.urandom(8_000_000))
    started = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sys\n"
            "from cloudbackup.store import StoredVault\n"
            "first = []\n"
            "def reading(n):\n"
            "    if not first:\n"
            "        first.append(n)\n"
            "        print('reading', flush=True)\n"
            "sv = StoredVault.open(sys.argv[1], 'pw', concurrency=1)\n"
            "sv.backup(sys.argv[2], gc_grace=0, progress=reading)\n",
            str(tmp_path / "vault"),
            str(big),
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert started.stdout is not None
    # '' if the backup ended without reading: the assertion below says how.
    started.stdout.readline()
    try:
        sv.gc(grace=0, retry_lock=60)
    finally:
        assert started.wait(60) == 0
        started.stdout.close()
    for s in sv.snapshots():
        out = tmp_path / f"r-{s.id[:8]}"
        assert not sv.restore(s.id, str(out)).report["errors"]
    assert len(sv.snapshots()) == 2



# -- a full disk under the vault ---------------------------------------------------

#: Runs a backup of SRC into VAULT (the CLI, or the C agent).
Backup = Callable[[Path, str], "subprocess.CompletedProcess[str]"]


def full_disk_scenario(tmp_path: Path, cli_env: Dict[str, str], backup: Backup) -> None:
    """The vault's filesystem fills in the middle of a backup made by
    ``backup``: it fails naming ENOSPC, commits no snapshot, and leaves no
    lock, no temporary object and none of the bundles it had stored (they
    are deleted again at once; restic leaves them to its next prune); the
    vault verifies and restores its earlier snapshot; with room again the
    same backup goes through."""
    with small_filesystem(tmp_path / "small", "6m") as mnt:
        vault = str(mnt / "vault")
        first = tmp_path / "first"
        tree(first, "first")
        # Bundles of ~1 MiB, so the failed backup stores some before the disk is full.
        settings = {"chunker": {"min_size": 65536, "avg_size": 262144, "max_size": 1048576}, "zstd_level": 3, "bundle_size": 1 << 20}
        assert run_cli(["init", vault], dict(cli_env, CLOUDBACKUP_SETTINGS=json.dumps(settings))).returncode == 0
        r = backup(first, vault)
        assert r.returncode == 0, r.stdout + r.stderr
        big = tmp_path / "big"
        big.mkdir()
        for i in range(10):
            (big / f"r{i}.bin").write_bytes(os.urandom(1 << 20))

        bundles_before = sum(1 for _ in (Path(vault) / "bundles").iterdir())
        r = backup(big, vault)
        assert r.returncode == 1, r.stdout + r.stderr
        assert "No space left on device" in r.stderr, r.stderr
        assert "Traceback" not in r.stderr, r.stderr
        left = [p.name for p in Path(vault).rglob("*") if p.name.endswith(".tmp")]
        assert not left, left
        assert not list((Path(vault) / "locks").iterdir())
        listed = json.loads(run_cli(["snapshots", vault, "--json"], cli_env).stdout)
        assert len(listed["snapshots"]) == 1, listed
        v = run_cli(["verify", vault], cli_env)
        assert v.returncode == 0, v.stdout + v.stderr
        out = tmp_path / "out"
        assert run_cli(["restore", vault, "latest", str(out)], cli_env).returncode == 0
        for rel in ("d/f0.bin", "d/f1.bin", "d/f2.bin", "note.txt"):
            assert (out / rel).read_bytes() == (first / rel).read_bytes()

        # The bundles it stored before the disk filled were deleted again.
        dry = json.loads(run_cli(["gc", vault, "--grace", "0", "--dry-run", "--json"], cli_env).stdout)
        assert dry["unreferenced"] == 0 and dry["temporary"] == 0, dry
        assert sum(1 for _ in (Path(vault) / "bundles").iterdir()) == bundles_before

        subprocess.run(["mount", "-o", "remount,size=64m", str(mnt)], check=True)
        r = backup(big, vault)
        assert r.returncode == 0, r.stdout + r.stderr
        gc = run_cli(["gc", vault, "--grace", "0", "--json"], cli_env)
        assert gc.returncode == 0, gc.stdout + gc.stderr
        assert json.loads(gc.stdout)["deleted"] == 0, gc.stdout
        out2 = tmp_path / "out2"
        assert run_cli(["restore", vault, "latest", str(out2)], cli_env).returncode == 0
        for i in range(10):
            assert (out2 / f"r{i}.bin").read_bytes() == (big / f"r{i}.bin").read_bytes()
        assert run_cli(["verify", vault], cli_env).returncode == 0


def test_a_backup_that_fills_the_vaults_disk_commits_nothing_and_leaves_it_usable(
    tmp_path: Path, cli_env: Dict[str, str]
) -> None:
    full_disk_scenario(tmp_path, cli_env, lambda src, vault: run_cli(["backup", str(src), vault], cli_env))
