"""``make demo``: the cloudbackup command line tool end to end.

Generates a sample tree (a few hundred files, some large, some duplicated),
backs it up into a new local vault, changes a few files and backs up again,
restores both snapshots, checks them byte for byte against the trees that
were backed up, verifies the vault, and prints a short summary.

Usage: python demo.py [WORKDIR]   (default: a fresh temporary directory)
"""

from __future__ import annotations

import filecmp
import json
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Dict, List

WORDS = "backup restore vault bundle chunk index snapshot agent cloud rackspace data file".split()


def generate(root: Path, seed: int = 5) -> None:
    """A deterministic sample tree: 300 small text files in 12 folders, 24
    medium and 4 large binary files, and 12 duplicates of those."""
    rng = random.Random(seed)
    for i in range(300):
        folder = root / f"docs/section-{i % 12:02d}"
        folder.mkdir(parents=True, exist_ok=True)
        words = [rng.choice(WORDS) for _ in range(rng.randint(50, 3000))]
        (folder / f"note-{i:03d}.txt").write_text(" ".join(words) + "\n")
    media = root / "media"
    media.mkdir()
    big: List[Path] = []
    for i in range(24):
        p = media / f"clip-{i:02d}.bin"
        p.write_bytes(rng.randbytes(rng.randint(100_000, 1_500_000)))
        big.append(p)
    for i in range(4):
        p = media / f"disk-{i}.img"
        # Half random, half runs of a pattern: compressible in part.
        size = rng.randint(8, 16) << 20
        p.write_bytes(rng.randbytes(size // 2) + bytes(range(256)) * (size // 512))
        big.append(p)
    copies = root / "copies"
    copies.mkdir()
    for i, p in enumerate(rng.sample(big, 12)):
        shutil.copyfile(p, copies / f"copy-{i:02d}-{p.name}")
    os.symlink("docs/section-00/note-000.txt", root / "README-link")


def change(root: Path) -> None:
    """Changes a few files: edits two notes, appends to a large file, adds one."""
    (root / "docs/section-01/note-001.txt").write_text("rewritten for the second backup\n")
    with open(root / "docs/section-02/note-002.txt", "a") as f:
        f.write("one more line\n")
    with open(root / "media/disk-0.img", "ab") as f:
        f.write(os.urandom(300_000))
    (root / "docs/new-file.txt").write_text("added after the first backup\n")


def cli(*args: str) -> Dict[str, Any]:
    """Runs the tool with --json and returns its output."""
    r = subprocess.run(
        [sys.executable, "-m", "cloudbackup", *args, "--json"], capture_output=True, text=True
    )
    if r.returncode != 0:
        sys.exit(f"demo: cloudbackup {' '.join(args)} failed:\n{r.stdout}{r.stderr}")
    result: Dict[str, Any] = json.loads(r.stdout)
    return result


def same(a: Path, b: Path) -> bool:
    """Byte-exact comparison of two trees (names, contents, symlinks)."""
    cmp = filecmp.dircmp(a, b)
    if cmp.left_only or cmp.right_only or cmp.funny_files:
        return False
    _, mismatch, errors = filecmp.cmpfiles(a, b, cmp.common_files, shallow=False)
    if mismatch or errors:
        return False
    return all(same(a / d, b / d) for d in cmp.common_dirs)


def tree_stats(root: Path) -> Dict[str, int]:
    files = [p for p in root.rglob("*") if p.is_file() and not p.is_symlink()]
    return {"files": len(files), "bytes": sum(p.stat().st_size for p in files)}


def main() -> int:
    work = Path(sys.argv[1]) if len(sys.argv) > 1 else Path(tempfile.mkdtemp(prefix="cloudbackup-demo-"))
    if work.exists():
        shutil.rmtree(work)
    work.mkdir(parents=True)
    os.environ.setdefault("CLOUDBACKUP_PASSWORD", "demo password, not a secret")
    src, vault = work / "source", work / "vault"
    print(f"demo: working in {work}")
    generate(src)
    stats1 = tree_stats(src)
    print(f"demo: generated {stats1['files']} files, {stats1['bytes'] / 1e6:.1f} MB")

    cli("init", str(vault))
    t = time.monotonic()
    first = cli("backup", "--init", str(src), str(vault))
    secs1 = time.monotonic() - t
    print(f"demo: backup 1: snapshot {first['snapshot'][:16]}, {first['stored_bytes'] / 1e6:.1f} MB stored, "
          f"{first['mb_per_s']} MB/s")
    shutil.copytree(src, work / "source-at-1", symlinks=True)

    change(src)
    stats2 = tree_stats(src)
    t = time.monotonic()
    second = cli("backup", str(src), str(vault))
    secs2 = time.monotonic() - t
    print(f"demo: backup 2 (a few files changed): snapshot {second['snapshot'][:16]}, "
          f"{second['counters']['bytes_backed_up'] / 1e6:.2f} MB new, {second['stored_bytes'] / 1e6:.2f} MB stored")

    snaps = cli("snapshots", str(vault))["snapshots"]
    assert [s["id"] for s in snaps] == [first["snapshot"], second["snapshot"]], snaps
    ok = True
    t = time.monotonic()
    for snap, expected, name in [(first, work / "source-at-1", "restore-1"), (second, src, "restore-2")]:
        rep = cli("restore", str(vault), snap["snapshot"], str(work / name))
        identical = same(expected, work / name)
        ok &= identical and not rep["report"]["errors"]
        print(f"demo: restored snapshot {snap['snapshot'][:16]}: {rep['report']['files_restored']} files, "
              f"byte-exact: {'yes' if identical else 'NO'}")
    secs_restore = time.monotonic() - t
    check = cli("verify", str(vault))
    ok &= bool(check["ok"])
    print(f"demo: verify: {'ok' if check['ok'] else 'PROBLEMS'} ({check['bundles_checked']} bundles, "
          f"{check['blobs_checked']} blobs)")

    read = stats1["bytes"] + stats2["bytes"]
    stored = sum(p.stat().st_size for p in vault.rglob("*") if p.is_file())
    print()
    print("summary")
    print(f"  files:        {stats1['files']} + {stats2['files']} (two backups)")
    print(f"  bytes:        {read:,} read")
    print(f"  stored bytes: {stored:,} in the vault")
    print(f"  dedup ratio:  {read / stored:.2f}x (bytes read / bytes stored, dedup and zstd together)")
    print(f"  backup MB/s:  {stats1['bytes'] / 1e6 / secs1:.1f} (first), {stats2['bytes'] / 1e6 / secs2:.1f} (second)")
    print(f"  restore MB/s: {read / 1e6 / secs_restore:.1f} (both snapshots)")
    print(f"  result:       {'both snapshots restored byte-exactly' if ok else 'FAILED'}")
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
