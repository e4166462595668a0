"""Selection with restic's pattern meaning (docs/PATTERNS.md): backup
exclusions through the CLI and the walker, restore inclusions/exclusions,
and the core's matcher as Python sees it."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any, Callable, Dict, List, Set, Union

import pytest

import cloudbackup as cb
from conftest import run_cli


def make_tree(root: Path) -> None:
    for rel, data in {
        "a/keep.txt": "k",
        "a/x.log": "l",
        "a/deep/er/y.log": "l",
        "a/deep/er/z.txt": "z",
        "build/out.o": "o",
        "src/build/main.c": "c",
        "cache/CACHEDIR.TAG": "Signature: 8a477f597d28d172789f06886806bc55\n",
        "cache/blob": "b",
        "fake/CACHEDIR.TAG": "not a signature",
        "fake/blob": "b",
        "tagged/.nobackup": "",
        "tagged/sub/file": "f",
        "tagged/other": "o",
        "Photos/IMG.JPG": "j",
        "notes.tmp": "t",
    }.items():
        p = root / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(data)


def backed_up(tmp_path: Path, cli_env: Dict[str, str], *options: str) -> Set[str]:
    """The snapshot paths of a backup of a fresh tree with ``options``."""
    src, vault = tmp_path / "src", tmp_path / "vault"
    if not src.exists():
        make_tree(src)
    r = run_cli(["backup", "--init", str(src), str(vault), "--json", *options], cli_env)
    assert r.returncode == 0, r.stderr
    snap_id = json.loads(r.stdout)["snapshot"]
    out = tmp_path / f"out-{snap_id[:8]}"
    r = run_cli(["restore", str(vault), snap_id, str(out)], cli_env)
    assert r.returncode == 0, r.stderr
    return {"/" + str(p.relative_to(out)) for p in out.rglob("*")}


def test_backup_excludes_names_at_any_depth_and_anchored_subtrees(
    tmp_path: Path, cli_env: Dict[str, str]
) -> None:
    paths = backed_up(tmp_path, cli_env, "--exclude", "*.log", "-e", "/build", "--iexclude", "*.jpg")
    assert "/a/x.log" not in paths and "/a/deep/er/y.log" not in paths, "a name at any depth"
    assert "/a/deep/er/z.txt" in paths
    assert "/build" not in paths and "/build/out.o" not in paths, "/build is the folder and its subtree"
    assert "/src/build/main.c" in paths, "an anchored pattern does not float"
    assert "/Photos" in paths and "/Photos/IMG.JPG" not in paths, "--iexclude ignores case"
    assert "/notes.tmp" in paths


def test_exclude_file_with_comments_and_variables(tmp_path: Path, cli_env: Dict[str, str]) -> None:
    patterns = tmp_path / "excludes.txt"
    patterns.write_text("# temporary files\n*.tmp\n\n   \n  /$TOP/deep  \n# /src\n")
    env = dict(cli_env, TOP="a")
    paths = backed_up(tmp_path, env, "--exclude-file", str(patterns))
    assert "/notes.tmp" not in paths
    assert "/a/deep" not in paths and "/a/keep.txt" in paths, "$TOP expanded, spaces trimmed"
    assert "/src/build/main.c" in paths, "a comment is no pattern"


def test_exclude_if_present_keeps_only_the_tag_file(tmp_path: Path, cli_env: Dict[str, str]) -> None:
    paths = backed_up(
        tmp_path,
        cli_env,
        "--exclude-if-present",
        "CACHEDIR.TAG:Signature: 8a477f597d28d172789f06886806bc55",
        "--exclude-if-present",
        ".nobackup",
    )
    assert {"/cache", "/cache/CACHEDIR.TAG"} <= paths and "/cache/blob" not in paths
    assert "/fake/blob" in paths, "a tag file without the header tags nothing"
    assert {"/tagged", "/tagged/.nobackup"} <= paths
    assert "/tagged/sub" not in paths and "/tagged/other" not in paths


def test_bad_patterns_and_missing_exclude_files_fail_before_anything(
    tmp_path: Path, cli_env: Dict[str, str]
) -> None:
    src, vault = tmp_path / "src", tmp_path / "vault"
    make_tree(src)
    r = run_cli(["backup", "--init", str(src), str(vault), "--exclude", "ok", "--exclude", "[x"], cli_env)
    assert r.returncode != 0 and "exclude[1]" in r.stderr and "[x" in r.stderr, r.stderr
    assert not vault.exists()
    r = run_cli(["backup", "--init", str(src), str(vault), "--exclude-file", str(tmp_path / "none")], cli_env)
    assert r.returncode != 0 and "--exclude-file" in r.stderr, r.stderr
    assert not vault.exists()


def _walk(src: Path, selection: cb.BackupFilter) -> List[str]:
    from cloudbackup.store import _walk as walk

    def failed(path: bytes, full: bytes, reason: str) -> None:
        raise AssertionError(f"{path!r}: {reason}")

    return [found.path.decode() for found in walk(str(src), failed, selection)]


class _ListingOs:
    """``os`` with a recording ``listdir``, for the walker's module only."""

    def __init__(self, listdir: Callable[[Union[str, int]], List[str]]) -> None:
        self.listdir = listdir

    def __getattr__(self, name: str) -> Any:
        return getattr(os, name)


def test_the_walker_does_not_enter_excluded_folders(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    make_tree(tmp_path)
    import cloudbackup.store as store

    listed: List[str] = []
    real_listdir = os.listdir

    def listdir(path: Union[str, int]) -> List[str]:
        # The walker lists open directories: name them through /proc.
        named = os.readlink(f"/proc/self/fd/{path}") if isinstance(path, int) else path
        listed.append(os.path.relpath(named, tmp_path))
        return real_listdir(path)

    monkeypatch.setattr(store, "os", _ListingOs(listdir))
    names = _walk(tmp_path, cb.BackupFilter(exclude=["/build", "er"]))
    assert "build" not in listed and "a/deep/er" not in listed, "excluded folders are never read"
    assert not any(n.startswith("/build") for n in names)
    assert "/src/build/main.c" in names and "/a/deep" in names and "/a/deep/er" not in names


def test_one_file_system_keeps_mount_points_empty(tmp_path: Path) -> None:
    """The walker asks the core per entry with its device; a folder on
    another device is kept without its content. /proc or /dev/shm under a
    bind would need root, so the devices are the real ones of two trees
    when the machine has them, else the core rule alone."""
    f = cb.BackupFilter(one_file_system=True)
    assert f.visit("/mnt", True, 2, 1) == "keep_empty"
    assert f.visit("/mnt/x", False, 2, 1) == "skip"
    assert f.visit("/a", True, 1, 1) == "keep"
    assert cb.BackupFilter().visit("/mnt", True, 2, 1) == "keep"
    make_tree(tmp_path)
    names = _walk(tmp_path, f)
    assert "/a/deep/er/z.txt" in names, "one device: everything"


def test_restore_include_exclude_with_restic_meaning(tmp_path: Path, cli_env: Dict[str, str]) -> None:
    src, vault = tmp_path / "src", tmp_path / "vault"
    make_tree(src)
    assert run_cli(["backup", "--init", str(src), str(vault)], cli_env).returncode == 0

    def restored(*options: str) -> Set[str]:
        out = tmp_path / f"out{len(list(tmp_path.iterdir()))}"
        r = run_cli(["restore", str(vault), "latest", str(out), *options], cli_env)
        assert r.returncode == 0, r.stderr
        return {"/" + str(p.relative_to(out)) for p in out.rglob("*")}

    assert restored("--include", "/a/deep/er/z.txt") == {"/a", "/a/deep", "/a/deep/er", "/a/deep/er/z.txt"}
    assert restored("--include", "/a", "--exclude", "*.log") == {
        "/a",
        "/a/keep.txt",
        "/a/deep",
        "/a/deep/er",
        "/a/deep/er/z.txt",
    }
    assert restored("--iinclude", "photos") == {"/Photos", "/Photos/IMG.JPG"}
    assert "/cache" not in restored("--iexclude", "CACHE")
    r = run_cli(["restore", str(vault), "latest", str(tmp_path / "bad"), "--include", "a["], cli_env)
    assert r.returncode != 0 and "inclusions[0]" in r.stderr, r.stderr
    # A pattern that selects nothing (a typo) is named, not passed over in
    # silence; the others still restore, and the report lists it too.
    out = tmp_path / "typo"
    r = run_cli(
        ["restore", "--json", str(vault), "latest", str(out), "--include", "/a/kep.txt", "--iinclude", "photos"],
        cli_env,
    )
    assert r.returncode == 0, r.stderr
    assert "warning: include pattern '/a/kep.txt' matched nothing in the snapshot" in r.stderr, r.stderr
    assert "photos" not in r.stderr
    assert json.loads(r.stdout)["report"]["unmatched_includes"] == ["/a/kep.txt"]
    assert (out / "Photos" / "IMG.JPG").exists() and not (out / "a").exists()


def test_selector_and_pattern_files_from_python(monkeypatch: pytest.MonkeyPatch) -> None:
    s = cb.Selector(include=["/etc"], exclude=["*.bak"])
    assert s.selects("/etc/x") and not s.selects("/etc/x.bak") and not s.selects("/usr/etc")
    assert s.child_may_match("/etc") and not s.child_may_match("/usr")
    assert cb.Selector(iexclude=["*.BAK"]).excludes("/a/b.bak")
    assert cb.Selector(exclude=["b"]).excludes(os.fsdecode(b"/\xff/b")), "names that are not UTF-8"
    monkeypatch.setenv("CB_TEST_DIR", "/home/bob")
    from cloudbackup.engine import read_pattern_file

    assert read_pattern_file("# c\n\n $CB_TEST_DIR/x \n$$y\n") == ["/home/bob/x", "$y"]
    with pytest.raises(cb.InvalidArgument, match=r"include\[0\]"):
        cb.Selector(include=["x\\"])
    assert cb.filter_globs([{"type": "folder", "path": "/web/"}, {"type": "file", "path": "/a[1]"}]) == [
        "/web",
        "/a\\[1\\]",
    ]
