"""Partial restores (issue 15): a file that cannot be written fails alone
and is named in the report, the files that fit are kept, a rerun (or
``--resume``) completes what is missing, and no temporary stays behind, not
even after a SIGKILL; blobs of zeros are left as holes."""

from __future__ import annotations

import errno
import json
import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any, Dict, Iterator, List, Mapping

import pytest

from cloudbackup.engine import RestoreSession, partial_name, partial_owner, partial_tag
from cloudbackup.store import StoredVault
from conftest import FAST_KDF, run_cli, small_filesystem

MiB = 1 << 20


def source(root: Path, files: int = 12, size: int = MiB) -> Dict[str, bytes]:
    """``files`` files of ``size`` random bytes in two directories, and an
    empty one; returns relative path -> content."""
    content: Dict[str, bytes] = {}
    for i in range(files):
        rel = f"{'ab'[i % 2]}/f{i:02}.bin"
        content[rel] = os.urandom(size)
    content["a/empty"] = b""
    for rel, data in content.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_bytes(data)
    return content


def leftovers(root: Path) -> List[str]:
    return [p.name for p in root.rglob("*") if partial_tag(p.name) is not None]


def errors_of(report: Mapping[str, Any]) -> List[Dict[str, Any]]:
    return list((report.get("errors") or {}).get("list") or [])


def check_restored(dest: Path, content: Dict[str, bytes], failed: List[str]) -> None:
    """Every file is exact, or failed and absent; nothing partial."""
    for rel, data in content.items():
        path = dest / rel
        if "/" + rel in failed:
            assert not path.exists(), f"{rel}: failed, yet there"
        else:
            assert path.read_bytes() == data, f"{rel}: not exact"
    assert not leftovers(dest)


@pytest.fixture
def tmpfs(tmp_path: Path) -> Iterator[Path]:
    """An 8 MiB tmpfs (root only; skipped where it cannot be mounted)."""
    with small_filesystem(tmp_path / "small", "8m") as mnt:
        yield mnt


def test_a_full_disk_keeps_the_files_that_fit_names_the_others_and_a_rerun_completes(
    tmp_path: Path, tmpfs: Path, cli_env: Dict[str, str]
) -> None:
    src = tmp_path / "src"
    content = source(src)  # 12 MiB for an 8 MiB filesystem
    vault = str(tmp_path / "vault")
    assert run_cli(["init", vault], cli_env).returncode == 0
    assert run_cli(["backup", str(src), vault], cli_env).returncode == 0
    dest = tmpfs / "out"

    human = run_cli(["restore", vault, "latest", str(dest)], cli_env)
    assert human.returncode == 3, human.stdout + human.stderr
    errors = [line for line in human.stderr.splitlines() if line.startswith("error: /")]
    assert errors and all("No space left on device (ENOSPC)" in line for line in errors), human.stdout
    subprocess.run(["rm", "-rf", str(dest)], check=True)

    r = run_cli(["restore", vault, "latest", str(dest), "--json"], cli_env)
    assert r.returncode == 3, r.stdout + r.stderr
    report = json.loads(r.stdout)["report"]
    failed = [e["path"] for e in errors_of(report)]
    assert failed and report["files_restored"] >= 5, report
    for e in errors_of(report):
        assert e["type"] == "write_failed"
        assert "ENOSPC" in e["exception"]["description"], e
    check_restored(dest, content, failed)

    # More room: the rerun restores only what is missing.
    subprocess.run(["mount", "-o", "remount,size=64m", str(tmpfs)], check=True)
    r = run_cli(["restore", vault, "latest", str(dest), "--json"], cli_env)
    assert r.returncode == 0, r.stdout + r.stderr
    again = json.loads(r.stdout)["report"]
    assert again["files_skipped"] == report["files_restored"] and not again["errors"]
    assert again["files_restored"] == len(failed)
    check_restored(dest, content, [])


def test_a_write_error_fails_that_file_alone(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The same without root: the writer's pwrite fails (EIO) once."""
    src = tmp_path / "src"
    content = source(src, files=4, size=100_000)
    sv = StoredVault.init(str(tmp_path / "vault"), "pw", None, FAST_KDF)
    sv.backup(str(src), gc_grace=3600)
    real = os.pwrite
    calls = [0]

    def flaky(fd: int, data: Any, offset: int) -> int:
        calls[0] += 1
        if calls[0] == 2:
            raise OSError(errno.EIO, os.strerror(errno.EIO))
        return real(fd, data, offset)

    monkeypatch.setattr(os, "pwrite", flaky)
    dest = tmp_path / "out"
    r = sv.restore("latest", str(dest))
    monkeypatch.undo()
    failed = errors_of(r.report)
    assert len(failed) == 1, r.report
    assert failed[0]["type"] == "write_failed"
    assert failed[0]["exception"]["description"] == "Input/output error (EIO)"
    assert r.report["files_restored"] == len(content) - 1
    check_restored(dest, content, [failed[0]["path"]])
    # A rerun completes it.
    r = sv.restore("latest", str(dest))
    assert not r.report["errors"] and r.report["files_restored"] == 1
    check_restored(dest, content, [])


KILLER = textwrap.dedent(
    """
    import os, signal, sys
    from cloudbackup import cli, store
    # SIGKILL in the middle of the restore: after `keep` files are in place
    # and with another file half written.
    keep = int(sys.argv[1])
    done = [0]
    complete, write = store._OpenFiles.complete, store._OpenFiles.write
    def counting(self, paths):
        complete(self, paths)
        done[0] += len(paths)
    def killing(self, path, at, data):
        n = write(self, path, at, data)
        if done[0] >= keep and self.temporary:
            os.kill(os.getpid(), signal.SIGKILL)
        return n
    store._OpenFiles.complete, store._OpenFiles.write = counting, killing
    sys.exit(cli.main(sys.argv[2:]))
    """
)


def test_a_killed_restore_leaves_nothing_partial_after_the_rerun(tmp_path: Path, cli_env: Dict[str, str]) -> None:
    src = tmp_path / "src"
    content = source(src, files=10, size=MiB)
    vault = str(tmp_path / "vault")
    assert run_cli(["init", vault], cli_env).returncode == 0
    assert run_cli(["backup", str(src), vault], cli_env).returncode == 0
    dest = tmp_path / "out"
    killed = subprocess.run(
        # Killed after 3 files are in place: the empty one (at the start)
        # and two of the .bin files (each as its last blob is written).
        [sys.executable, "-c", KILLER, "3", "restore", vault, "latest", str(dest)],
        env=cli_env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert killed.returncode == -signal.SIGKILL, killed.stderr
    kept = [p for p in dest.rglob("*.bin")]
    assert len(kept) >= 2, "the files finished before the kill are in place"
    for p in kept:
        assert p.read_bytes() == content[str(p.relative_to(dest))]
    assert leftovers(dest), "the kill left a temporary (what the rerun must remove)"

    r = run_cli(["restore", vault, "latest", str(dest), "--json"], cli_env)
    assert r.returncode == 0, r.stdout + r.stderr
    check_restored(dest, content, [])

    # --resume with --overwrite: everything is already done.
    r = run_cli(["restore", vault, "latest", str(dest), "--json", "--overwrite", "--resume"], cli_env)
    assert r.returncode == 0, r.stdout + r.stderr
    report = json.loads(r.stdout)["report"]
    assert report["files_done"] == len(content) and report["files_restored"] == 0, report


def test_the_core_lists_the_folders_to_clear_and_whose_temporaries_they_are(tmp_path: Path) -> None:
    src = tmp_path / "src"
    (src / "d" / "e").mkdir(parents=True)
    (src / "d" / "e" / "f").write_bytes(b"deep")
    (src / "top").write_bytes(b"top")
    sv = StoredVault.init(str(tmp_path / "vault"), "pw", None, FAST_KDF)
    sv.backup(str(src), gc_grace=3600)
    state = sv.state()
    session = RestoreSession(sv.vault, sv.snapshot("latest", state), state.index())
    assert session.leftover_dirs == [b"", b"d", b"d/e"]
    assert partial_owner(partial_name("f", 77), 42) == 77
    assert partial_owner(partial_name("f", 42), 42) == 0
    assert partial_owner("f", 42) is None
    with pytest.raises(TypeError):
        partial_owner("f", "42")  # type: ignore[arg-type]


def test_leftovers_of_live_restores_are_kept(tmp_path: Path) -> None:
    """Only temporaries whose restore is gone are removed, and never
    through a symlink in the target (one where a folder goes)."""
    from cloudbackup.store import _OpenFiles, _Tree

    dest = tmp_path / "dest"
    d = dest / "d"
    d.mkdir(parents=True)
    mine = d / partial_name("a", os.getpid())
    live = d / partial_name("b", os.getppid())
    dead = d / partial_name("c", 2**22 + 12345)  # above any pid_max default
    # No process has id 0 (kill(0) would signal our own group) or one past pid_t.
    zero = d / partial_name("z", 0)
    huge = d / partial_name("h", 2**32 - 1)
    other = d / "c.partial"
    outside = tmp_path / "outside"
    outside.mkdir()
    elsewhere = outside / partial_name("c", 2**22 + 12345)
    for p in (mine, live, dead, zero, huge, other, elsewhere):
        p.write_bytes(b"x")
    (dest / "link").symlink_to(outside)
    tree = _Tree(str(dest))
    try:
        _OpenFiles.remove_leftovers(tree, [b"", b"d", b"missing", b"link"])
    finally:
        tree.close()
    assert sorted(p.name for p in d.iterdir()) == sorted([live.name, other.name])
    assert elsewhere.exists()


def test_zero_runs_come_back_as_holes(tmp_path: Path) -> None:
    src = tmp_path / "src"
    src.mkdir()
    size = 64 * MiB
    with open(src / "sparse.img", "wb") as f:
        f.truncate(size)
        f.seek(size // 2)
        f.write(b"data in the middle")
    sv = StoredVault.init(str(tmp_path / "vault"), "pw", None, FAST_KDF)
    sv.backup(str(src), gc_grace=3600)
    dest = tmp_path / "out"
    r = sv.restore("latest", str(dest))
    assert not r.report["errors"] and r.report["bytes_restored"] == size
    out = dest / "sparse.img"
    assert out.stat().st_size == size
    with open(src / "sparse.img", "rb") as a, open(out, "rb") as b:
        while True:
            x, y = a.read(MiB), b.read(MiB)
            assert x == y
            if not x:
                break
    assert out.stat().st_blocks * 512 < 16 * MiB, "the zero runs are holes"
    assert r.bytes_written < 16 * MiB


def test_small_files_are_opened_once_each_however_many_a_range_holds(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # 300 small files share one range: each is moved into place as its
    # last blob is written, while still open. Before, those past the 128
    # descriptors kept open were closed and opened again to finish them.
    src = tmp_path / "src"
    src.mkdir()
    for i in range(300):
        (src / f"f{i:03}").write_bytes(b"small file %d\n" % i)
    sv = StoredVault.init(str(tmp_path / "vault"), "pw", None, FAST_KDF)
    sv.backup(str(src), gc_grace=3600)
    opened: List[str] = []
    real_open = os.open

    def counting(path: Any, flags: int, *args: Any, **kwargs: Any) -> int:
        if flags & os.O_WRONLY and os.fsdecode(path).startswith(str(tmp_path / "out")):
            opened.append(os.fsdecode(path))
        return real_open(path, flags, *args, **kwargs)

    monkeypatch.setattr(os, "open", counting)
    sv.restore("latest", str(tmp_path / "out"))
    monkeypatch.undo()
    assert len(opened) == 300 and len(set(opened)) == 300, len(opened)
    for i in range(300):
        assert (tmp_path / "out" / f"f{i:03}").read_bytes() == b"small file %d\n" % i
