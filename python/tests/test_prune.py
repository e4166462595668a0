"""``cloudbackup prune`` and ``forget --prune``: space given back, every
remaining snapshot still restoring byte-exactly, kills at random moments,
damaged bundles, bad options, and the v2 cleanup lifecycle. The planning
rules are the core's and tested there (core/src/engine/prune.rs,
core/tests/prune.rs); here the host's order of writes and deletes is."""

from __future__ import annotations

import errno
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, Callable, Dict, List

import pytest

import cloudbackup as cb
from cloudbackup.agent import snapshot_id_for
from cloudbackup.api import validate_patch
from cloudbackup.errors import IntegrityError, InvalidArgument
from cloudbackup.store import StoredVault
from conftest import DATA, FAST_KDF, WrappedStorage, read_tree, run_cli, small_filesystem

#: The password conftest's ``cli_env`` gives the CLI.
PASSWORD = "correct horse"

#: Small chunks and bundles, so a few MiB make many bundles to repack.
SMALL = {"chunker": {"min_size": 4096, "avg_size": 16384, "max_size": 65536}, "zstd_level": 3, "bundle_size": 262144}


def vault_bytes(vault: Path) -> int:
    """What a vault takes on disk (its objects' sizes)."""
    return sum(p.stat().st_size for p in vault.rglob("*") if p.is_file())


def make_history(tmp_path: Path, versions: int = 4) -> tuple[StoredVault, Path, Dict[str, Dict[str, bytes]]]:
    """A vault with ``versions`` backups of a tree whose files change
    between them (some kept, some rewritten, some removed); returns the
    vault, the source and each snapshot's expected tree."""
    rng = random.Random(7)
    src = tmp_path / "src"
    src.mkdir()
    sv = StoredVault.init(str(tmp_path / "vault"), PASSWORD, SMALL, FAST_KDF)
    (src / "stable.bin").write_bytes(rng.randbytes(600_000))
    trees: Dict[str, Dict[str, bytes]] = {}
    for v in range(versions):
        (src / "changing.bin").write_bytes(rng.randbytes(900_000))
        (src / f"only-{v}.bin").write_bytes(rng.randbytes(300_000))
        if v:
            (src / f"only-{v - 1}.bin").unlink()
        r = sv.backup(str(src), threads=1, gc_grace=0)
        assert r.snapshot_id
        trees[r.snapshot_id] = read_tree(src)
    return sv, src, trees


def restore_all(sv: StoredVault, trees: Dict[str, Dict[str, bytes]], out: Path) -> None:
    """Every snapshot of the vault restores to exactly the tree it was of."""
    left = [str(s["id"]) for s in sv.state(bundles=False).summaries()]
    assert left, "no snapshot left"
    for sid in left:
        dest = out / sid[:12]
        sv.restore(sid, str(dest))
        assert read_tree(dest) == trees[sid], sid


def test_forget_prune_frees_space_and_every_remaining_snapshot_restores(
    tmp_path: Path, summary: Callable[[str], None]
) -> None:
    sv, _src, trees = make_history(tmp_path)
    vault = tmp_path / "vault"
    before = vault_bytes(vault)
    r = sv.forget({"last": 2}, prune={"max_unused": "0%", "grace_ns": 0})
    assert r.removed == 2 and r.prune is not None and r.prune.report is not None
    after = vault_bytes(vault)
    plan, report = r.prune.plan, r.prune.report
    assert plan["unused_blobs"]["count"] > 0
    assert plan["repack_bundles"]["count"] + plan["unused_bundles"]["count"] > 0
    assert report["deleted"]["count"] > 0
    # The report's sizes are the stored objects' (config and locks aside).
    assert report["bytes_after"] == vault_bytes(vault / "bundles") + vault_bytes(vault / "index") + vault_bytes(
        vault / "snapshots"
    )
    assert after < before
    restore_all(sv, trees, tmp_path / "out")
    assert sv.verify()["ok"]
    # At 0% nothing unused is left, so a second prune has nothing to do.
    again = sv.prune({"max_unused": "0%", "grace_ns": 0})
    assert again.report is None and again.plan["unused_blobs"]["count"] == 0
    summary(
        f"prune: {before / (1 << 20):.1f} MiB before, {after / (1 << 20):.1f} MiB after, "
        "every remaining snapshot restored"
    )


def test_dry_runs_change_nothing_and_estimate(tmp_path: Path, cli_env: Dict[str, str]) -> None:
    _sv, _src, _trees = make_history(tmp_path, 3)
    vault = tmp_path / "vault"
    listing = sorted(p.name for p in vault.rglob("*"))
    r = run_cli(["forget", str(vault), "--keep-last", "1", "--prune", "--dry-run", "--json"], cli_env)
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)
    assert out["removed"] == 0 and out["prune"]["report"] is None
    est = out["prune"]["plan"]
    assert est["snapshots"] == 1 and est["bytes_after_estimate"] < est["bytes_before"]
    r = run_cli(["prune", str(vault), "--dry-run"], cli_env)
    assert r.returncode == 0, r.stderr
    assert "would go from" in r.stdout
    assert sorted(p.name for p in vault.rglob("*")) == listing


def test_cli_forget_prune_prints_the_summary(tmp_path: Path, cli_env: Dict[str, str]) -> None:
    make_history(tmp_path, 3)
    vault = tmp_path / "vault"
    env = dict(cli_env, CLOUDBACKUP_GC_GRACE="0")
    r = run_cli(["forget", str(vault), "--keep-last", "1", "--prune", "--max-unused", "0%"], env)
    assert r.returncode == 0, r.stderr
    assert "forget: removed 2 of 3 snapshots" in r.stdout
    assert "MiB freed" in r.stdout, r.stdout
    r = run_cli(["prune", str(vault), "--max-unused", "0%", "--json"], env)
    data = json.loads(r.stdout)
    assert r.returncode == 0 and data["report"] is None, r.stdout
    r = run_cli(["verify", str(vault)], env)
    assert r.returncode == 0, r.stdout + r.stderr


@pytest.mark.parametrize(
    "args, named",
    [
        (["--max-unused", "abc"], "max_unused"),
        (["--max-unused", "100%"], "max_unused"),
        (["--max-unused=-1%"], "max_unused"),
        (["--max-repack-size", "lots"], "max-repack-size"),
    ],
)
def test_bad_prune_options_are_usage_errors(
    tmp_path: Path, cli_env: Dict[str, str], args: List[str], named: str
) -> None:
    env = dict(cli_env)
    env.pop("CLOUDBACKUP_PASSWORD")  # refused before any password is asked for
    for command in (["prune", str(tmp_path / "v")], ["forget", str(tmp_path / "v"), "--keep-last", "1", "--prune"]):
        r = run_cli([*command, *args], env, stdin="")
        assert r.returncode == 2, r.stderr
        assert named in r.stderr, r.stderr


def test_prune_options_are_checked_by_the_core() -> None:
    assert cb.engine.prune_options({}) == {
        "max_unused": "5%",
        "repack_small": False,
        "max_repack_bytes": None,
        "grace_ns": 3_600_000_000_000,
    }
    assert cb.engine.prune_options({"max_unused": "10M"})["max_unused"] == str(10 << 20)
    for bad in ({"max_unused": 5}, {"nope": 1}, {"grace_ns": "x"}):
        with pytest.raises(InvalidArgument):
            cb.engine.prune_options(bad)


def test_a_damaged_bundle_stops_the_prune_before_anything_is_deleted(tmp_path: Path) -> None:
    sv, _src, _trees = make_history(tmp_path, 3)
    vault = tmp_path / "vault"
    sv.forget({"last": 1})
    pruner_plan = sv.prune({"max_unused": "0%", "grace_ns": 0}, dry_run=True).plan
    assert pruner_plan["read"], "the history leaves partly used bundles to repack"
    victim = vault / pruner_plan["read"][0]
    data = bytearray(victim.read_bytes())
    data[len(data) // 2] ^= 0x40
    victim.write_bytes(bytes(data))
    names = {str(p.relative_to(vault)) for p in vault.rglob("*") if p.is_file()}
    with pytest.raises(IntegrityError) as e:
        sv.prune({"max_unused": "0%", "grace_ns": 0})
    assert victim.name[:8] in str(e.value) or "hash" in str(e.value), str(e.value)
    after = {str(p.relative_to(vault)) for p in vault.rglob("*") if p.is_file()}
    assert names <= after, "nothing was deleted"


PRUNE_SCRIPT = """
import sys, time
from cloudbackup.store import StoredVault

class Slow:
    # Each write and delete takes 50 ms, so a kill lands inside the prune.
    def __init__(self, inner):
        self.inner = inner
    def __getattr__(self, name):
        return getattr(self.inner, name)
    def put(self, name, data):
        time.sleep(0.05)
        self.inner.put(name, data)
    def delete(self, name):
        time.sleep(0.05)
        self.inner.delete(name)

sv = StoredVault.open(sys.argv[1], "correct horse", concurrency=1)
sv.storage = Slow(sv.storage)
print("start", flush=True)
sv.forget({"last": int(sys.argv[2])}, prune={"max_unused": "0%", "grace_ns": 0})
print("done", flush=True)
"""


def test_prune_killed_at_random_points_then_rerun(tmp_path: Path) -> None:
    """SIGKILL a forget+prune at random moments (storage slowed so that a
    kill lands inside it); after each kill every remaining snapshot
    restores, and a final prune leaves nothing unused and verify passes."""
    sv, _src, trees = make_history(tmp_path, 6)
    vault = tmp_path / "vault"
    rng = random.Random(11)
    keep = 6
    interrupted = 0
    for round_ in range(5):
        keep = max(1, keep - 1)
        proc = subprocess.Popen(
            [sys.executable, "-c", PRUNE_SCRIPT, str(vault), str(keep)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        assert proc.stdout is not None
        assert proc.stdout.readline() == "start\n"
        time.sleep(rng.uniform(0.0, 0.3))
        proc.send_signal(signal.SIGKILL)
        out, _err = proc.communicate()
        interrupted += "done" not in out
        # The killed process's lock is stale (its pid is gone): remove it.
        r = run_cli(["unlock", str(vault)], dict(os.environ, CLOUDBACKUP_PASSWORD=PASSWORD))
        assert r.returncode == 0, r.stderr
        restore_all(sv, trees, tmp_path / f"out{round_}")
    assert interrupted >= 3, "the kills landed inside the prunes"
    # What the killed runs left (unreferenced new bundles, old bundles
    # not deleted yet) goes with the next prune; then nothing is left.
    sv.forget({"last": 1})
    sv.prune({"max_unused": "0%", "grace_ns": 0})
    final = sv.prune({"max_unused": "0%", "grace_ns": 0})
    assert final.report is None, "nothing left over"
    assert sv.verify()["ok"]
    restore_all(sv, trees, tmp_path / "final")
    assert final.plan["unused_blobs"]["count"] == 0
    assert final.plan["unindexed_bundles"]["count"] == 0


class Crash(Exception):
    """The simulated power cut."""


class CrashingStorage(WrappedStorage):
    """Fails every write and delete after the first ``budget``."""

    def __init__(self, inner: cb.Storage, budget: int) -> None:
        super().__init__(inner)
        self.budget = budget
        self.done: List[str] = []

    def _spend(self, what: str) -> None:
        if len(self.done) >= self.budget:
            raise Crash(what)
        self.done.append(what)

    def put(self, name: str, data: Any) -> None:
        if not name.startswith("locks/"):
            self._spend(f"put {name}")
        self.inner.put(name, data)

    def delete(self, name: str) -> None:
        if not name.startswith("locks/"):
            self._spend(f"delete {name}")
        self.inner.delete(name)


def test_prune_stopped_after_every_write_or_delete_leaves_a_restorable_vault(tmp_path: Path) -> None:
    """The host's order, checked at every point: a prune stopped after
    its k-th write or delete, for every k, leaves every snapshot
    restorable; a prune rerun then finishes at the same size as one that
    was never stopped."""
    sv, _src, trees = make_history(tmp_path, 4)
    sv.forget({"last": 2})
    options = {"max_unused": "0%", "grace_ns": 0}
    pristine = tmp_path / "pristine"
    shutil.copytree(tmp_path / "vault", pristine)

    # The uninterrupted run: how many steps, and the size it ends at.
    clean = tmp_path / "clean"
    shutil.copytree(pristine, clean)
    counting = CrashingStorage(StoredVault.open(str(clean), PASSWORD).storage, 10**9)
    sv_clean = StoredVault.open(str(clean), PASSWORD)
    sv_clean.storage = counting
    sv_clean.prune(options)
    steps = counting.done
    assert any(s.startswith("put bundles/") for s in steps) and any(s.startswith("delete index/") for s in steps)
    # The order: every put before any delete; index deltas before bundles.
    kinds = [s.split("/")[0] for s in steps]
    assert kinds == sorted(kinds, key=["put bundles", "put index", "delete index", "delete bundles"].index), kinds
    clean_size = vault_bytes(clean / "bundles") + vault_bytes(clean / "index")

    for k in range(len(steps)):
        copy = tmp_path / f"k{k}"
        shutil.copytree(pristine, copy)
        victim = StoredVault.open(str(copy), PASSWORD)
        victim.storage = CrashingStorage(victim.storage, k)
        with pytest.raises(Crash):
            victim.prune(options)
        again = StoredVault.open(str(copy), PASSWORD)
        run_cli_env = dict(os.environ, CLOUDBACKUP_PASSWORD=PASSWORD)
        assert run_cli(["unlock", str(copy), "--remove-all"], run_cli_env).returncode == 0
        restore_all(again, trees, tmp_path / f"k{k}-out")
        again.prune(options)
        assert again.prune(options).report is None, f"k={k}: a second rerun has nothing to do"
        size = vault_bytes(copy / "bundles") + vault_bytes(copy / "index")
        # Same data; bundle trailers and index deltas may differ a little
        # (a rerun packs the copied blobs into bundles anew).
        assert abs(size - clean_size) <= clean_size // 50, (k, size, clean_size)
        restore_all(again, trees, tmp_path / f"k{k}-out2")
        shutil.rmtree(copy)


def test_cleanup_reports_lifecycle_patches_the_service_accepts(tmp_path: Path) -> None:
    sv, _src, _trees = make_history(tmp_path, 3)
    resource: Any = json.loads((DATA / "rackspace" / "samples-v2" / "cbu-postCleanup_response.json").read_text())
    patches: List[List[Dict[str, Any]]] = []
    result = sv.cleanup({"last": 1}, {"max_unused": "0%", "grace_ns": 0}, report=patches.append)
    assert [p[0]["value"] for p in patches] == ["queued", "in_progress", "completed"]
    for patch in patches:
        resource = validate_patch("cleanup", resource, patch, "agent")
    forgotten = [d["id"] for d in result.decisions if not d["keep"]]
    assert len(forgotten) == 2
    assert resource["state"] == "completed"
    assert resource["snapshot_ids"] == [snapshot_id_for(i) for i in forgotten]
    assert 0 < resource["bytes_after"] < resource["bytes_before"]
    assert resource["started_time"] <= resource["ended_time"]

    # A failing cleanup reports `failed` with its error, then raises.
    failing: List[List[Dict[str, Any]]] = []
    with pytest.raises(InvalidArgument):
        sv.cleanup({"last": 1}, {"max_unused": "lots"}, report=failing.append)
    assert [p[0]["value"] for p in failing] == ["queued", "in_progress", "failed"]
    resource = json.loads((DATA / "rackspace" / "samples-v2" / "cbu-postCleanup_response.json").read_text())
    for patch in failing:
        resource = validate_patch("cleanup", resource, patch, "agent")
    assert "max_unused" in resource["errors"]["diagnostics"]


def test_a_prune_that_runs_out_of_room_gives_back_what_it_wrote(tmp_path: Path) -> None:
    """A full disk is when prunes are run: one that fails for room while
    repacking removes the bundles it had written (no index names them
    yet), so the vault is as before, not fuller; the error says so and
    names the way that writes nothing. With room, the prune goes through."""
    with small_filesystem(tmp_path / "small", "12m") as mnt:
        sv = StoredVault.init(str(mnt / "vault"), PASSWORD, SMALL, FAST_KDF)
        rng = random.Random(3)
        src = tmp_path / "src"
        src.mkdir()
        data = bytearray(rng.randbytes(3_000_000))
        (src / "a.bin").write_bytes(data)
        sv.backup(str(src), threads=1, gc_grace=0)
        for k in range(0, len(data), 100_000):  # a fifth rewritten, all over
            data[k : k + 20_000] = rng.randbytes(20_000)
        (src / "a.bin").write_bytes(data)
        kept = sv.backup(str(src), threads=1, gc_grace=0).snapshot_id
        trees = {kept: read_tree(src)}
        sv.forget({"last": 1})
        options = {"max_unused": "0%", "grace_ns": 0}
        assert len(sv.prune(options, dry_run=True).plan["read"]) >= 4  # several bundles to repack
        before = set(sv.ids("bundles"))
        # Room for one new bundle (256 KiB), not for the repack.
        (mnt / "filler").write_bytes(bytes(shutil.disk_usage(mnt).free - 400 * 1024))

        with pytest.raises(cb.StorageError, match=r"No space left.*removed again.*--max-unused unlimited") as e:
            sv.prune(options)
        assert e.value.errno == errno.ENOSPC
        assert set(sv.ids("bundles")) == before
        assert sv.verify()["ok"]
        restore_all(sv, trees, tmp_path / "out")

        (mnt / "filler").unlink()
        assert sv.prune(options).report is not None
        assert sv.verify()["ok"]
        restore_all(sv, trees, tmp_path / "out2")
