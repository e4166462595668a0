"""Vaults written by the C example agent open with the Python tool, and
the other way round. Runs when the agent is built (``make test-c`` leaves
it at build/c/agent; or set CLOUDBACKUP_C_AGENT); skipped otherwise."""

from __future__ import annotations

import json
import os
import subprocess
import time
from pathlib import Path
from typing import Dict

import pytest

from cloudbackup.engine import partial_name
from conftest import REPO, run_cli, small_filesystem
from test_cli import make_tree, same_tree
from test_vault_safety import full_disk_scenario

AGENT = Path(os.environ.get("CLOUDBACKUP_C_AGENT", REPO / "build" / "c" / "agent"))

pytestmark = pytest.mark.skipif(not AGENT.is_file(), reason=f"C agent not built ({AGENT})")


def agent(*args: str, env: Dict[str, str]) -> "subprocess.CompletedProcess[str]":
    return subprocess.run([str(AGENT), *args], env=env, capture_output=True, text=True, timeout=300)


def test_c_vault_restores_with_python(tmp_path: Path, cli_env: Dict[str, str]) -> None:
    src, vault = tmp_path / "src", tmp_path / "vault"
    make_tree(src)
    assert agent("init", str(vault), env=cli_env).returncode == 0
    r = agent("backup", str(src), str(vault), env=cli_env)
    assert r.returncode == 0, r.stderr
    r = run_cli(["restore", str(vault), "latest", str(tmp_path / "out")], cli_env)
    assert r.returncode == 0, r.stderr
    same_tree(src, tmp_path / "out")
    assert run_cli(["verify", str(vault)], cli_env).returncode == 0


def test_python_vault_restores_with_c(tmp_path: Path, cli_env: Dict[str, str]) -> None:
    src, vault = tmp_path / "src", tmp_path / "vault"
    make_tree(src)
    assert run_cli(["backup", "--init", str(src), str(vault)], cli_env).returncode == 0
    (src / "docs" / "a.txt").write_text("second\n")
    # No pause: snapshot times have nanoseconds, so the newest is unambiguous.
    r = agent("backup", str(src), str(vault), env=cli_env)  # C adds to a Python vault
    assert r.returncode == 0, r.stderr
    r = agent("restore", str(vault), str(tmp_path / "out"), env=cli_env)
    assert r.returncode == 0, r.stderr
    assert agent("compare", str(src), str(tmp_path / "out"), env=cli_env).returncode == 0
    r = run_cli(["snapshots", str(vault), "--json"], cli_env)
    assert r.returncode == 0 and '"id"' in r.stdout


def test_a_vault_python_pruned_is_read_and_extended_by_c(tmp_path: Path, cli_env: Dict[str, str]) -> None:
    """A prune rewrites the index and repacks bundles: the C agent reads
    the result, restores from it and backs up into it (dedup against the
    rewritten index), and the Python tool verifies it."""
    src, vault = tmp_path / "src", tmp_path / "vault"
    make_tree(src)
    assert agent("init", str(vault), env=cli_env).returncode == 0
    assert agent("backup", str(src), str(vault), env=cli_env).returncode == 0
    (src / "docs" / "a.txt").write_text("changed before the second backup\n" * 1000)
    assert agent("backup", str(src), str(vault), env=cli_env).returncode == 0
    env = dict(cli_env, CLOUDBACKUP_GC_GRACE="0")
    r = run_cli(["forget", str(vault), "--keep-last", "1", "--prune", "--max-unused", "0%", "--json"], env)
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["prune"]["report"] is not None
    r = agent("restore", str(vault), str(tmp_path / "out"), env=cli_env)
    assert r.returncode == 0, r.stderr
    assert agent("compare", str(src), str(tmp_path / "out"), env=cli_env).returncode == 0
    (src / "docs" / "b.txt").write_text("after the prune\n")
    assert agent("backup", str(src), str(vault), env=cli_env).returncode == 0
    r = run_cli(["restore", str(vault), "latest", str(tmp_path / "out2")], cli_env)
    assert r.returncode == 0, r.stderr
    same_tree(src, tmp_path / "out2")
    assert run_cli(["verify", str(vault)], cli_env).returncode == 0


def test_a_c_backup_that_fills_the_vaults_disk_commits_nothing_and_leaves_it_usable(
    tmp_path: Path, cli_env: Dict[str, str]
) -> None:
    """The C agent on a full disk: the same outcome as the CLI's (its
    partial temporary removed, its lock too), checked with the Python tool."""
    full_disk_scenario(tmp_path, cli_env, lambda src, vault: agent("backup", str(src), vault, env=cli_env))


def test_a_c_restore_onto_a_full_disk_fails_the_files_that_do_not_fit_alone(
    tmp_path: Path, cli_env: Dict[str, str]
) -> None:
    """As the CLI's (test_restore_partial.py): the files that fit are exact,
    the others are named with ENOSPC in the report and absent, no temporary
    is left, and the exit status is 3."""
    src, vault = tmp_path / "src", str(tmp_path / "vault")
    src.mkdir()
    content = {f"f{i:02}.bin": os.urandom(1 << 20) for i in range(12)}  # 12 MiB for 8
    for name, data in content.items():
        (src / name).write_bytes(data)
    assert agent("init", vault, env=cli_env).returncode == 0
    assert agent("backup", str(src), vault, env=cli_env).returncode == 0
    with small_filesystem(tmp_path / "small", "8m") as mnt:
        r = agent("restore", vault, str(mnt / "out"), env=cli_env)
        assert r.returncode == 3, r.stdout + r.stderr
        report = json.loads(r.stdout.split("restore: ", 2)[2])
        failed = {e["path"].lstrip("/") for e in report["errors"]["list"]}
        assert failed and all("No space left" in e["exception"]["description"] for e in report["errors"]["list"])
        assert report["files_restored"] + len(failed) == len(content)
        left = sorted(p.name for p in (mnt / "out").iterdir())
        assert left == sorted(set(content) - failed), left
        for name in left:
            assert (mnt / "out" / name).read_bytes() == content[name]


def test_a_c_restore_removes_what_a_killed_restore_left(tmp_path: Path, cli_env: Dict[str, str]) -> None:
    """Temporaries of the core's form whose process is gone are removed
    (in the destination and its folders); a running restore's are kept."""
    src, vault, dest = tmp_path / "src", str(tmp_path / "vault"), tmp_path / "out"
    make_tree(src)
    assert agent("init", vault, env=cli_env).returncode == 0
    assert agent("backup", str(src), vault, env=cli_env).returncode == 0
    gone = subprocess.Popen(["true"])
    gone.wait()  # a process id that has ended
    (dest / "docs").mkdir(parents=True)
    dead = [dest / partial_name("a.txt", gone.pid), dest / "docs" / partial_name("a.txt", gone.pid)]
    live = dest / partial_name("b.txt", os.getpid())
    for p in [*dead, live]:
        p.write_bytes(b"left")
    r = agent("restore", vault, str(dest), env=cli_env)
    assert r.returncode == 0, r.stdout + r.stderr
    assert not any(p.exists() for p in dead)
    assert live.exists()
    live.unlink()
    same_tree(src, dest)
