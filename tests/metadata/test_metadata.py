"""Metadata fidelity of ``cloudbackup backup`` + ``restore`` (issue 15,
item 5), checked with stat/xattr/inode reads (``make test-metadata``).

The tree (``treecompare.build_tree``): hard links (three names for one
inode, a pair across directories), user xattrs with binary values, POSIX
ACLs, files/dirs/symlinks owned by 1234:5678, nanosecond mtimes on files,
dirs and symlinks, a FIFO, a character and a block device, a 64 MiB sparse
file with three data islands, non-UTF-8 names, a 255-byte name, a path over
4096 bytes, an empty file and a symlink with a non-UTF-8 target.

``test_cloudbackup_metadata`` backs it up with the CLI into a temporary
vault, restores it into a fresh directory and compares the trees; it prints
one line per property and ``metadata: hardlinks xattrs owners ns-times
fifos devices sparse: all restored`` when all pass. Until the features land
it is an expected failure (xfail); ``METADATA_REQUIRED=1`` makes it a plain
test (``make test-metadata METADATA_REQUIRED=1``).

``test_harness_*`` check the comparison itself against ``cp -a`` (keeps
everything) and a plain copy (keeps nothing of it); ``test_restic_reference``
prints what restic restores of the same tree (information, not a goal).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Dict, List

import pytest

import treecompare as tc

#: Argon2id parameters that keep the test fast (never for real vaults).
FAST_KDF_JSON = '{"memory_kib": 64, "iterations": 1, "parallelism": 1}'
REQUIRED = os.environ.get("METADATA_REQUIRED", "0") not in ("", "0")
CLI: List[str] = [sys.executable, "-m", "cloudbackup"]


def _env() -> Dict[str, str]:
    env = dict(os.environ)
    env["CLOUDBACKUP_PASSWORD"] = "fidelity horse"
    env["CLOUDBACKUP_KDF"] = FAST_KDF_JSON
    env.pop("CLOUDBACKUP_SETTINGS", None)
    return env


def _describe(built: tc.Built, nodes: Dict[bytes, tc.Node]) -> str:
    kinds: Dict[str, int] = {}
    for n in nodes.values():
        kinds[n.kind] = kinds.get(n.kind, 0) + 1
    parts = ", ".join(f"{v} {k}" for k, v in sorted(kinds.items()))
    skipped = "; ".join(f"{k}: {v}" for k, v in built.skipped.items()) or "none"
    return f"tree: {len(nodes)} entries ({parts}); deepest path {built.deep_path_bytes} bytes; not made: {skipped}"


def _print_report(report: tc.Report, tool: str = "") -> None:
    for line in report.lines(tool):
        print(line)


@pytest.mark.xfail(not REQUIRED, reason="issue 15 metadata fidelity not landed yet (METADATA_REQUIRED=1 to enforce)", strict=False)
def test_cloudbackup_metadata(tmp_path: Path) -> None:
    src = tmp_path / "src"
    built = tc.build_tree(src)
    nodes = tc.snapshot(src)
    print()
    print(_describe(built, nodes))
    rt = tc.cloudbackup_roundtrip(src, tmp_path / "cb", _env(), CLI)
    print(f"cloudbackup {rt.log}".replace("\n", "\n  "))
    if rt.landed is None:
        # The whole backup or restore failed. Show what the other properties
        # look like on the same tree without the awkward names, then fail.
        plain = tmp_path / "plain"
        pbuilt = tc.build_tree(plain, awkward_names=False)
        prt = tc.cloudbackup_roundtrip(plain, tmp_path / "cb-plain", _env(), CLI)
        print("the full tree did not round-trip; the same tree without the awkward names:")
        print(f"  cloudbackup {prt.log}".replace("\n", "\n  "))
        detail = ""
        if prt.landed is not None:
            report = tc.compare(tc.snapshot(plain), tc.snapshot(prt.landed), pbuilt)
            _print_report(report)
            detail = f"; without them: {report.summary()}"
        pytest.fail(f"names: the tree with non-UTF-8/long/deep names did not back up and restore "
                    f"(backup exit {rt.backup_rc}, restore exit {rt.restore_rc}){detail}")
    report = tc.compare(nodes, tc.snapshot(rt.landed), built)
    _print_report(report)
    failed = report.failed()
    if failed:
        pytest.fail(
            "not restored: "
            + "; ".join(f"{p}: {report.outcomes[p].failures[0]}" + (f" (+{len(report.outcomes[p].failures) - 1})"
                        if len(report.outcomes[p].failures) > 1 else "") for p in failed)
        )
    assert report.summary().endswith("all restored"), report.summary()


def test_harness_accepts_cp_a(tmp_path: Path) -> None:
    """``cp -a --sparse=always`` keeps every property: the comparison must
    pass it (no false alarms), or the cloudbackup test proves nothing. (cp
    cannot reach a path over PATH_MAX, so this tree has no deep path.)"""
    if shutil.which("cp") is None:
        pytest.skip("no cp")
    src = tmp_path / "src"
    built = tc.build_tree(src, deep=False)
    dst = tmp_path / "copy"
    subprocess.run(["cp", "-a", "--sparse=always", str(src), str(dst)], check=True)
    report = tc.compare(tc.snapshot(src), tc.snapshot(dst), built)
    print()
    _print_report(report, "cp -a")
    assert report.failed() == [], report.summary()
    checked = {p: o.checked for p, o in report.outcomes.items() if not o.skipped}
    assert all(n > 0 for n in checked.values()), checked


def test_harness_flags_a_plain_copy(tmp_path: Path) -> None:
    """A copy that keeps only names, types and content (shutil.copyfile,
    new dirs, symlinks recreated, FIFOs/devices dropped) fails every
    metadata property: the comparison must say so, naming each."""
    src = tmp_path / "src"
    built = tc.build_tree(src, awkward_names=False)
    dst = tmp_path / "copy"
    for path, node in sorted(tc.snapshot(src).items()):
        s, d = os.fsencode(src) + b"/" + path, os.fsencode(dst) + b"/" + path
        if node.kind == "dir":
            os.makedirs(d, exist_ok=True)
        elif node.kind == "file":
            os.makedirs(os.path.dirname(d), exist_ok=True)
            shutil.copyfile(s, d)
        elif node.kind == "symlink":
            os.symlink(os.readlink(s), d)
    report = tc.compare(tc.snapshot(src), tc.snapshot(dst), built)
    print()
    _print_report(report, "plain copy")
    must_fail = {"hardlinks", "xattrs", "ns-times", "fifos", "modes", "sparse"}
    if "owners" not in built.skipped:
        must_fail.add("owners")
    if "devices" not in built.skipped:
        must_fail.add("devices")
    if "acls" not in built.skipped:
        must_fail.add("acls")
    assert must_fail <= set(report.failed()), report.failed()
    assert "content" not in report.failed() and "types" not in report.failed()
    assert "all restored" not in report.summary()


def test_restic_reference(tmp_path: Path) -> None:
    """What restic restores of the same tree: printed for comparison, not
    a goal (restic's misses do not fail this test)."""
    if shutil.which("restic") is None:
        pytest.skip("restic not installed (scripts/bootstrap-python --peers)")
    src = tmp_path / "src"
    built = tc.build_tree(src)
    rt = tc.restic_roundtrip(src, tmp_path / "restic")
    print()
    print(f"restic {rt.log}".replace("\n", "\n  "))
    assert rt.landed is not None, rt.log
    report = tc.compare(tc.snapshot(src), tc.snapshot(rt.landed), built)
    _print_report(report, "restic")
    assert report.outcomes["paths"].checked > 0
