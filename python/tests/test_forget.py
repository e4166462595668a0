"""``cloudbackup forget`` and tags, run for real in subprocesses. The
calendar rules (hourly ... yearly, within) are the core's and tested there
(core/src/engine/retention.rs): backups made here all fall within seconds."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Dict, List, Tuple

from conftest import run_cli


def backup(src: Path, vault: Path, env: Dict[str, str], *extra: str) -> str:
    r = run_cli(["backup", "--init", str(src), str(vault), "--json", *extra], env)
    assert r.returncode == 0, r.stderr
    snapshot: str = json.loads(r.stdout)["snapshot"]
    return snapshot


def snapshots(vault: Path, env: Dict[str, str]) -> List[Dict[str, Any]]:
    r = run_cli(["snapshots", str(vault), "--json"], env)
    assert r.returncode == 0, r.stderr
    rows: List[Dict[str, Any]] = json.loads(r.stdout)["snapshots"]
    return rows


def make_src(root: Path, text: str) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    (root / "file.txt").write_text(text)
    return root


def test_forget_keeps_by_last_and_tag_lists_why_and_dry_run_removes_nothing(
    tmp_path: Path, cli_env: Dict[str, str]
) -> None:
    src, vault = make_src(tmp_path / "src", "one"), tmp_path / "vault"
    tagged = backup(src, vault, cli_env, "--tag", "keep", "--tag", "monthly")
    (src / "file.txt").write_text("two")
    middle = backup(src, vault, cli_env)
    (src / "file.txt").write_text("three")
    newest = backup(src, vault, cli_env, "--tag", "other")

    rows = snapshots(vault, cli_env)
    assert [r["tags"] for r in rows] == [["keep", "monthly"], [], ["other"]]
    assert all(r["paths"] == [str(src)] for r in rows)
    r = run_cli(["snapshots", str(vault)], cli_env)
    assert "tags keep,monthly" in r.stdout and f"paths {src}" in r.stdout

    args = ["forget", str(vault), "--keep-last", "1", "--keep-tag", "keep,monthly"]
    r = run_cli([*args, "--dry-run", "--json"], cli_env)
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)
    assert out["dry_run"] is True and out["removed"] == 0
    assert out["policy"] == {"last": 1, "tags": [["keep", "monthly"]]}
    decided = {d["id"]: (d["keep"], d["reasons"]) for d in out["decisions"]}
    assert decided == {
        newest: (True, ["last snapshot"]),
        middle: (False, []),
        tagged: (True, ["has tags [keep monthly]"]),
    }
    assert [d["id"] for d in out["decisions"]] == [newest, middle, tagged], "newest first"
    assert len(snapshots(vault, cli_env)) == 3, "a dry run removes nothing"
    r = run_cli([*args, "--dry-run"], cli_env)
    assert "would remove 1 of 3 snapshots" in r.stdout
    assert f"remove  {middle[:16]}" in r.stdout

    r = run_cli(args, cli_env)
    assert r.returncode == 0, r.stderr
    assert "removed 1 of 3 snapshots" in r.stdout
    assert [s["id"] for s in snapshots(vault, cli_env)] == [tagged, newest]
    assert not (vault / "snapshots" / middle).exists()
    # Only the snapshot object went: what is left restores and verifies.
    r = run_cli(["restore", str(vault), tagged, str(tmp_path / "out")], cli_env)
    assert r.returncode == 0, r.stderr
    assert (tmp_path / "out" / "file.txt").read_text() == "one"
    r = run_cli(["verify", str(vault)], cli_env)
    assert r.returncode == 0, r.stdout + r.stderr
    # Run again: nothing more to remove.
    r = run_cli([*args, "--json"], cli_env)
    assert json.loads(r.stdout)["removed"] == 0


def test_forget_groups_by_host_and_paths(tmp_path: Path, cli_env: Dict[str, str]) -> None:
    a, b, vault = make_src(tmp_path / "a", "a"), make_src(tmp_path / "b", "b"), tmp_path / "vault"
    first_a = backup(a, vault, cli_env)
    first_b = backup(b, vault, cli_env)
    second_a = backup(a, vault, cli_env)
    r = run_cli(["forget", str(vault), "--keep-last", "1", "--keep-within", "1h", "--json"], cli_env)
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)
    assert out["removed"] == 0, "within an hour of each group's newest: all stay"
    r = run_cli(["forget", str(vault), "--keep-last", "1", "--json"], cli_env)
    out = json.loads(r.stdout)
    assert out["removed"] == 1
    by_paths: Dict[str, List[Tuple[str, bool]]] = {}
    for d in out["decisions"]:
        by_paths.setdefault(d["paths"][0], []).append((d["id"], d["keep"]))
    assert by_paths == {str(a): [(second_a, True), (first_a, False)], str(b): [(first_b, True)]}
    assert {s["id"] for s in snapshots(vault, cli_env)} == {second_a, first_b}


def test_forget_group_by_picks_the_groups(tmp_path: Path, cli_env: Dict[str, str]) -> None:
    a, b, vault = make_src(tmp_path / "a", "a"), make_src(tmp_path / "b", "b"), tmp_path / "vault"
    backup(a, vault, cli_env, "--tag", "web")
    newest_b = backup(b, vault, cli_env, "--tag", "web")
    newest_a = backup(a, vault, cli_env, "--tag", "db")
    # One group: only the newest of all stays.
    r = run_cli(["forget", str(vault), "--keep-last", "1", "--group-by", "", "--dry-run", "--json"], cli_env)
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)
    assert [d["id"] for d in out["decisions"] if d["keep"]] == [newest_a]
    assert {d["group"] for d in out["decisions"]} == {"all snapshots"}
    # By tags: the newest of each tag set stays.
    r = run_cli(["forget", str(vault), "--keep-last", "1", "--group-by", "tags", "--dry-run"], cli_env)
    assert r.returncode == 0, r.stderr
    assert "snapshots of tags db:" in r.stdout and "snapshots of tags web:" in r.stdout
    assert f"keep    {newest_b[:16]}" in r.stdout and f"keep    {newest_a[:16]}" in r.stdout
    r = run_cli(["forget", str(vault), "--keep-last", "1", "--group-by", "user"], cli_env)
    assert r.returncode == 2 and "group_by" in r.stderr, r.stderr


def test_forget_refuses_bad_policies_as_usage_errors(tmp_path: Path, cli_env: Dict[str, str]) -> None:
    src, vault = make_src(tmp_path / "src", "x"), tmp_path / "vault"
    backup(src, vault, cli_env)
    for bad, words in [
        ([], "no rule"),
        (["--keep-daily", "0"], "daily"),
        (["--keep-last", "-1"], "last"),
        (["--keep-within", "3w"], "unknown unit"),
        (["--keep-within", "0d"], "zero duration"),
        (["--keep-tag", "a,,b"], "tag"),
    ]:
        r = run_cli(["forget", str(vault), *bad], cli_env)
        assert r.returncode == 2, (bad, r.stderr)
        assert words in r.stderr, (bad, r.stderr)
    assert len(snapshots(vault, cli_env)) == 1
    # A tag forget could never keep by is refused before anything is read.
    r = run_cli(["backup", str(src), str(vault), "--tag", "a,b"], cli_env)
    assert r.returncode == 1 and "comma" in r.stderr, r.stderr
    assert len(snapshots(vault, cli_env)) == 1
