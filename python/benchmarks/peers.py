"""cloudbackup against restic and borg, side by side (``make bench-peers``).

One generated corpus (default ~1 GiB: source-like text, binaries, duplicates,
a few large files, plus issue 15's memory-heavy cases: a 4.5 GiB sparse file
with a few MiB of data and 150 identical 4 MiB files; ``--sparse-gib 0`` and
``--duplicates 0`` leave them out), then on the same machine, one tool after
another, each timed by ``/usr/bin/time -v`` (wall seconds, peak RSS):

1. a first backup into an empty local repository;
2. a second backup after changing ~5% of the files (and adding a few; the
   memory-heavy files stay as they are);
3. a full restore of the second snapshot into an empty directory (checked
   against the corpus, so a fast wrong restore cannot win).

Then the metadata fidelity tree of ``tests/metadata`` (hard links, xattrs,
ACLs, owners, nanosecond mtimes, a FIFO, devices, a sparse file, awkward
names) is backed up and restored by each tool and compared with
``tests/metadata/treecompare.py``: one row per property and tool, and the
issue's ``metadata: ...`` line for cloudbackup (``--no-metadata`` skips it).

Tools and settings: ``cloudbackup backup`` (defaults: FastCDC 1 MiB average,
zstd 3, AES-256-GCM, Argon2id; the CLI takes the latest snapshot of the same
host and source as the parent and reuses the entries of unchanged files, as
restic and borg do with theirs; ``--force`` would reread everything),
Debian's ``restic`` (repository v2, compression auto) and Debian's ``borg
create --compression zstd,3`` (``repokey-blake2``; ``extract --sparse``).
Every tool runs with its defaults otherwise: the table shows what each tool
does, not an idealised version of it.

MB/s is the corpus's file data (10^6 bytes per MB; a sparse file counts its
allocated blocks, not its holes) over wall seconds. The page cache is warm for
every tool (the corpus is read once first). The issue's two ratios (issue 15):
backup 2 throughput cloudbackup/restic (goal >= 2.0) and restore peak RSS
cloudbackup/restic (goal <= 1.0), printed as ``ratio`` lines at the end.

Retention (issue 18): after the restore, 30% of the files change, a third
backup runs, and each tool keeps only the newest snapshot and gives the rest
back (``cloudbackup forget --keep-last 1 --prune``, ``restic forget
--keep-last 1 --prune``, ``borg prune --keep-last 1 && borg compact``, each
with its default unused-space tolerance): the ``prune`` row shows its time
and the repository size after.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import shutil
import stat
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, List, Optional, Sequence, Tuple

REPO = Path(__file__).resolve().parents[2]
# The metadata fidelity tree and comparison are shared with the test
# (tests/metadata/test_metadata.py); mypy finds them through MYPYPATH.
sys.path.insert(0, str(REPO / "tests" / "metadata"))
import treecompare  # noqa: E402
PASSWORD = "bench-peers password"
TIME = "/usr/bin/time"
MIB = 1 << 20


@dataclass
class Run:
    """One timed command."""

    wall: float
    rss_kib: int


@dataclass
class Step:
    """One step of one tool: timing and the repository size after it."""

    run: Run
    repo_bytes: int


# -- the corpus ------------------------------------------------------------------

WORDS = (
    "def class return import from self if else elif for while in not and or None True False "
    "try except finally with as yield lambda raise pass break continue async await struct fn "
    "let mut impl pub use match Some Ok Err Vec String usize u32 u64 i64 const static void int "
    "char unsigned sizeof malloc free printf buffer offset length index value result error config "
    "bundle chunk snapshot restore backup vault key nonce tag data file path name size mode mtime"
).split()


def _source_lines(rng: random.Random, count: int) -> List[str]:
    """A pool of plausible source lines: indentation, identifiers, numbers,
    comments; compressible as real code is (zstd ~4x)."""
    lines = []
    for _ in range(count):
        indent = " " * (4 * rng.randint(0, 3))
        n = rng.randint(2, 10)
        body = " ".join(rng.choice(WORDS) for _ in range(n))
        tail = rng.choice(["", ":", ";", " {", " }", f"  # {rng.choice(WORDS)} {rng.randint(0, 9999)}", f"({rng.randint(0, 255)})"])
        lines.append(indent + body + tail)
    return lines


def generate(root: Path, total: int, seed: int, sparse_gib: float = 0.0, duplicates: int = 0) -> Dict[str, int]:
    """Writes the corpus under ``root``: ~40% source-like text in many small
    files, ~30% incompressible binaries, ~10% duplicates of earlier files,
    ~20% in three large files (random blocks, repeated blocks, zeros); and
    below ``heavy/`` a sparse file of ``sparse_gib`` GiB (holes but for four
    1 MiB islands) and ``duplicates`` identical 4 MiB files. Returns the
    bytes written per category."""
    rng = random.Random(seed)
    pool = _source_lines(rng, 20000)
    made = {"text": 0, "binary": 0, "duplicate": 0, "large": 0}
    written: List[Path] = []

    def put(path: Path, data: bytes, kind: str) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
        made[kind] += len(data)
        written.append(path)

    i = 0
    while made["text"] < total * 0.40:
        n = int(rng.lognormvariate(6.0, 1.0)) + 5  # lines: median ~400, a long tail
        text = "\n".join(rng.choices(pool, k=min(n, 20000))) + "\n"
        put(root / "src" / f"pkg{i % 40:02d}" / f"mod{i:05d}.py", text.encode(), "text")
        i += 1
    i = 0
    while made["binary"] < total * 0.30:
        size = int(min(8 * MIB, rng.lognormvariate(12.5, 1.2)))  # median ~270 KiB
        put(root / "bin" / f"d{i % 16:02d}" / f"blob{i:04d}.bin", rng.randbytes(size), "binary")
        i += 1
    originals = list(written)
    i = 0
    while made["duplicate"] < total * 0.10:
        src = rng.choice(originals)
        put(root / "copies" / f"c{i % 8}" / f"{i:04d}-{src.name}", src.read_bytes(), "duplicate")
        i += 1
    per_large = int(total * 0.20 / 3)
    for j in range(3):
        blocks = []
        have = 0
        repeated = rng.randbytes(MIB)
        while have < per_large:
            r = rng.random()
            block = rng.randbytes(MIB) if r < 0.6 else (repeated if r < 0.8 else bytes(MIB))
            blocks.append(block)
            have += len(block)
        put(root / "large" / f"image{j}.img", b"".join(blocks), "large")
    if sparse_gib > 0:
        made["sparse data"] = make_sparse(root / HEAVY / "sparse.img", int(sparse_gib * (1 << 30)), rng)
    if duplicates > 0:
        block = rng.randbytes(4 * MIB)
        made["4 MiB copies"] = 0
        for i in range(duplicates):
            put(root / HEAVY / "same" / f"copy{i:03d}.bin", block, "4 MiB copies")
    return made


def make_sparse(path: Path, size: int, rng: random.Random) -> int:
    """A ``size``-byte file that is holes but for four 1 MiB islands of
    random bytes (ftruncate, then pwrite); returns the data bytes."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "wb") as f:
        f.truncate(size)
        for k in range(4):
            at = (size // 4) * k + (size // 8)
            f.seek(min(at, size - MIB))
            f.write(rng.randbytes(MIB))
    return 4 * MIB


HEAVY = "heavy"


def mutate(root: Path, fraction: float, seed: int) -> Tuple[int, int]:
    """Changes ``fraction`` of the files (an edit in the middle of text, a
    rewritten region of a binary) and adds a few new files; returns
    ``(changed, added)``."""
    rng = random.Random(seed + 1)
    # The memory-heavy files stay: they are there for the restore's RSS.
    files = sorted(p for p in root.rglob("*") if p.is_file() and p.relative_to(root).parts[0] != HEAVY)
    chosen = rng.sample(files, max(1, int(len(files) * fraction)))
    for p in chosen:
        data = bytearray(p.read_bytes())
        if p.suffix == ".py":
            at = len(data) // 2
            data[at:at] = f"\n# changed {rng.randint(0, 1 << 30)}\n".encode()
        else:
            at = rng.randrange(max(1, len(data)))
            n = min(len(data) - at, 64 * 1024)
            data[at : at + n] = rng.randbytes(n)
        p.write_bytes(bytes(data))
    added = max(1, len(chosen) // 10)
    for i in range(added):
        (root / "src" / "new").mkdir(parents=True, exist_ok=True)
        (root / "src" / "new" / f"added{i}.bin").write_bytes(rng.randbytes(rng.randint(1000, 400_000)))
    return len(chosen), added


def tree_bytes(root: Path) -> int:
    """File data below ``root``: each regular file's size, or its allocated
    bytes when that is less (a sparse file's holes are not data)."""
    total = 0
    for dirpath, _dirs, names in os.walk(root):
        for n in names:
            st = os.lstat(os.path.join(dirpath, n))
            if stat.S_ISREG(st.st_mode):
                total += min(st.st_size, st.st_blocks * 512)
    return total


def settle() -> None:
    """Writes dirty pages out before a timed step, so the writeback of
    what came before (the corpus just generated, the previous tool's
    repository or restore) is not charged to the next tool."""
    os.sync()


def tree_digest(root: Path) -> Dict[str, str]:
    """``relative path -> digest`` of every regular file, streamed (the
    sparse file is GiBs; its holes are not read, see
    ``treecompare.file_digest``)."""
    out = {}
    for p in sorted(root.rglob("*")):
        if p.is_file() and not p.is_symlink():
            fd = os.open(p, os.O_RDONLY)
            try:
                out[str(p.relative_to(root))] = treecompare.file_digest(fd, os.fstat(fd).st_size)
            finally:
                os.close(fd)
    return out


# -- running the tools ------------------------------------------------------------


def timed(cmd: Sequence[str], env: Dict[str, str], cwd: Optional[Path] = None, log: Optional[Path] = None) -> Run:
    """Runs ``cmd`` under ``/usr/bin/time -v``; fails loudly on a non-zero exit."""
    tfile = (log or Path("/tmp/peers")).with_suffix(".time")
    with open(log or os.devnull, "w") as out:
        proc = subprocess.run(
            [TIME, "-v", "-o", str(tfile), *cmd], env=env, cwd=cwd, stdout=out, stderr=subprocess.STDOUT
        )
    text = tfile.read_text()
    if proc.returncode != 0:
        detail = log.read_text()[-2000:] if log else ""
        raise SystemExit(f"peers: {' '.join(cmd)} exited {proc.returncode}\n{detail}")
    m = re.search(r"Elapsed \(wall clock\) time \(h:mm:ss or m:ss\): (?:(\d+):)?(\d+):([\d.]+)", text)
    rss = re.search(r"Maximum resident set size \(kbytes\): (\d+)", text)
    assert m and rss, text
    wall = int(m.group(1) or 0) * 3600 + int(m.group(2)) * 60 + float(m.group(3))
    return Run(wall, int(rss.group(1)))


class Tool:
    """A backup tool driven through its command line."""

    name = ""

    def __init__(self, work: Path, corpus: Path) -> None:
        self.work = work / self.name
        self.repo = self.work / "repo"
        self.corpus = corpus
        self.env = dict(os.environ)
        shutil.rmtree(self.work, ignore_errors=True)
        self.work.mkdir(parents=True)

    def log(self, step: str) -> Path:
        return self.work / f"{step}.log"

    def init(self) -> None:
        """Creates the empty repository (untimed)."""

    def backup(self, step: str) -> Run:
        raise NotImplementedError

    def restore(self, dest: Path) -> Tuple[Run, Path]:
        """Restores the latest snapshot into ``dest``; returns the timing
        and where the corpus's copy landed."""
        raise NotImplementedError

    def version(self) -> str:
        raise NotImplementedError

    def forget_prune(self, step: str) -> Run:
        """Keeps only the newest snapshot and gives back the rest's space
        (each tool's defaults otherwise: 5% unused tolerated)."""
        raise NotImplementedError


class Cloudbackup(Tool):
    name = "cloudbackup"

    def __init__(self, work: Path, corpus: Path, threads: int) -> None:
        super().__init__(work, corpus)
        self.env["CLOUDBACKUP_PASSWORD"] = PASSWORD
        self.cli = [sys.executable, "-m", "cloudbackup"]
        self.threads = threads

    def init(self) -> None:
        subprocess.run([*self.cli, "init", str(self.repo)], env=self.env, check=True, stdout=subprocess.DEVNULL)

    def backup(self, step: str) -> Run:
        return timed(
            [*self.cli, "backup", "--init", str(self.corpus), str(self.repo), "--threads", str(self.threads)],
            self.env,
            log=self.log(step),
        )

    def restore(self, dest: Path) -> Tuple[Run, Path]:
        cmd = [*self.cli, "restore", str(self.repo), "latest", str(dest), "--threads", str(self.threads)]
        return timed(cmd, self.env, log=self.log("restore")), dest

    def forget_prune(self, step: str) -> Run:
        cmd = [*self.cli, "forget", str(self.repo), "--keep-last", "1", "--prune"]
        return timed(cmd, self.env, log=self.log(step))

    def version(self) -> str:
        return subprocess.run([*self.cli, "--version"], capture_output=True, text=True, env=self.env).stdout.strip()


class Restic(Tool):
    name = "restic"

    def __init__(self, work: Path, corpus: Path) -> None:
        super().__init__(work, corpus)
        self.env.update(
            RESTIC_PASSWORD=PASSWORD,
            RESTIC_REPOSITORY=str(self.repo),
            RESTIC_CACHE_DIR=str(self.work / "cache"),
            RESTIC_COMPRESSION="auto",
        )

    def init(self) -> None:
        subprocess.run(["restic", "init"], env=self.env, check=True, stdout=subprocess.DEVNULL)

    def backup(self, step: str) -> Run:
        return timed(["restic", "backup", "--quiet", str(self.corpus)], self.env, log=self.log(step))

    def restore(self, dest: Path) -> Tuple[Run, Path]:
        run = timed(["restic", "restore", "latest", "--target", str(dest)], self.env, log=self.log("restore"))
        return run, dest / str(self.corpus).lstrip("/")

    def version(self) -> str:
        return subprocess.run(["restic", "version"], capture_output=True, text=True).stdout.strip()

    def forget_prune(self, step: str) -> Run:
        return timed(["restic", "forget", "--keep-last", "1", "--prune"], self.env, log=self.log(step))


class Borg(Tool):
    name = "borg"

    def __init__(self, work: Path, corpus: Path) -> None:
        super().__init__(work, corpus)
        self.env.update(
            BORG_PASSPHRASE=PASSWORD,
            BORG_REPO=str(self.repo),
            BORG_BASE_DIR=str(self.work / "base"),
            BORG_RELOCATED_REPO_ACCESS_IS_OK="yes",
            BORG_UNKNOWN_UNENCRYPTED_REPO_ACCESS_IS_OK="yes",
        )
        self.count = 0

    def init(self) -> None:
        subprocess.run(
            ["borg", "init", "--encryption=repokey-blake2"], env=self.env, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )

    def backup(self, step: str) -> Run:
        self.count += 1
        # Relative path from the corpus's parent, so extract recreates it.
        return timed(
            ["borg", "create", "--compression", "zstd,3", f"::snap{self.count}", self.corpus.name],
            self.env,
            cwd=self.corpus.parent,
            log=self.log(step),
        )

    def restore(self, dest: Path) -> Tuple[Run, Path]:
        dest.mkdir(parents=True, exist_ok=True)
        # --sparse: holes for the sparse file's zero chunks (restic 0.14
        # has no such option and writes it dense).
        run = timed(["borg", "extract", "--sparse", f"::snap{self.count}"], self.env, cwd=dest, log=self.log("restore"))
        return run, dest / self.corpus.name

    def version(self) -> str:
        return subprocess.run(["borg", "--version"], capture_output=True, text=True).stdout.strip()

    def forget_prune(self, step: str) -> Run:
        # borg 1.2: prune removes archives, compact gives the space back.
        return timed(["sh", "-c", "borg prune --keep-last 1 && borg compact"], self.env, log=self.log(step))


# -- metadata fidelity ------------------------------------------------------------


def generate_small(root: Path, count: int, seed: int) -> int:
    """``count`` small files (20 to 400 bytes of text) in folders of 1000,
    as a home directory's dotfiles or a source tree: per-file costs, not
    bytes, decide. Returns the bytes written."""
    rng = random.Random(seed)
    total = 0
    for i in range(count):
        folder = root / f"d{i // 1000:04d}"
        if i % 1000 == 0:
            folder.mkdir(parents=True)
        data = (f"file {i}: " + " ".join(rng.choice(WORDS) for _ in range(rng.randint(2, 60)))).encode()[:400]
        (folder / f"f{i % 1000:04d}.txt").write_bytes(data)
        total += len(data)
    return total


def small_files(names: Sequence[str], work: Path, count: int, seed: int, threads: int) -> Dict[str, Tuple[Run, Run]]:
    """Each tool backs up and restores a tree of ``count`` small files
    into a repository of its own; returns (backup, restore) per tool."""
    corpus = work / "small-corpus"
    size = generate_small(corpus, count, seed)
    print(f"small files: {count} files, {size / 1e6:.1f} MB", flush=True)
    out: Dict[str, Tuple[Run, Run]] = {}
    expected = tree_digest(corpus)
    for n in names:
        t: Tool
        if n == "cloudbackup":
            t = Cloudbackup(work / "small", corpus, threads)
        else:
            t = Restic(work / "small", corpus) if n == "restic" else Borg(work / "small", corpus)
        t.init()
        settle()
        backup = t.backup("small-backup")
        dest = t.work / "restore"
        settle()
        restore, landed = t.restore(dest)
        if tree_digest(landed) != expected:
            raise SystemExit(f"peers: {t.name} restored a different tree of small files")
        shutil.rmtree(dest)
        out[n] = (backup, restore)
        print(f"  {n}: backup {backup.wall:.1f} s, restore {restore.wall:.1f} s (byte-exact)", flush=True)
    return out


def metadata_fidelity(tools: Sequence[Tool], work: Path) -> Dict[str, Tuple[Optional[treecompare.Report], str]]:
    """Backs the ``tests/metadata`` tree up and restores it with each tool;
    returns ``tool -> (report or None, note)``. A tool that does not restore
    the tree at all gets a second try on the tree without the awkward names
    (non-UTF-8, 255-byte, deep), so the other properties still show; the
    note says so (None: not even that came back)."""
    base = work / "metadata"
    trees = {"full": base / "tree", "plain": base / "plain"}
    built = {"full": treecompare.build_tree(trees["full"]), "plain": treecompare.build_tree(trees["plain"], awkward_names=False)}
    nodes = {k: treecompare.snapshot(v) for k, v in trees.items()}
    out: Dict[str, Tuple[Optional[treecompare.Report], str]] = {}
    for t in tools:
        first = ""
        for which in ("full", "plain"):
            twork = base / f"{t.name}-{which}"
            twork.mkdir(parents=True)
            src = trees[which]
            if isinstance(t, Cloudbackup):
                rt = treecompare.cloudbackup_roundtrip(src, twork, t.env, t.cli)
            elif isinstance(t, Restic):
                rt = treecompare.restic_roundtrip(src, twork)
            else:
                rt = treecompare.borg_roundtrip(src, twork)
            note = first + f"backup exit {rt.backup_rc}, restore exit {rt.restore_rc}"
            if rt.landed is not None:
                out[t.name] = (treecompare.compare(nodes[which], treecompare.snapshot(rt.landed), built[which]), note)
                break
            lines = rt.log.strip().splitlines() or [""]
            errors = [ln for ln in lines if "Error" in ln or "error" in ln]
            first = f"the full tree did not round-trip ({note}: {(errors or lines)[-1].strip()[:160]}); without the awkward names: "
            out[t.name] = (None, note)
    treecompare.remove_tree(base)
    return out


def print_fidelity(results: Dict[str, Tuple[Optional[treecompare.Report], str]]) -> None:
    """One row per property, one column per tool; then each tool's summary
    (cloudbackup's first, unlabelled: the issue's table line)."""
    names = list(results)
    print()
    print("metadata fidelity (the tests/metadata tree; ok / FAIL n = paths that differ or are missing)")
    print(f"  {'property':<10}" + "".join(f"{n:>14}" for n in names))
    for prop in treecompare.PROPERTIES:
        cells = []
        for n in names:
            report, _ = results[n]
            if report is None:
                cells.append("no restore")
                continue
            o = report.outcomes[prop]
            cells.append("skip" if o.skipped else f"FAIL {len(o.failures)}" if o.failures else "ok")
        print(f"  {prop:<10}" + "".join(f"{c:>14}" for c in cells))
    cb = results.get("cloudbackup", (None, ""))[0]
    if cb is not None and cb.failed():
        print("cloudbackup's differences:")
        for line in cb.lines():
            if "FAIL" in line:
                print(line)
    for n in names:
        report, note = results[n]
        label = "" if n == "cloudbackup" else n
        if report is None:
            who = f" ({label})" if label else ""
            print(f"metadata{who}: {' '.join(treecompare.ISSUE_PROPERTIES)}: NOT restored: the tree did not round-trip ({note})")
        else:
            print(report.summary(label) + ("" if note == "backup exit 0, restore exit 0" else f"  [{note}]"))


# -- the table ------------------------------------------------------------------


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Generates the corpus, runs the three tools, prints the table."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    ap.add_argument("--size-mib", type=int, default=1024, help="corpus size (default 1024)")
    ap.add_argument("--sparse-gib", type=float, default=4.5, help="the sparse file's apparent size in GiB (default 4.5; 0: none)")
    ap.add_argument("--duplicates", type=int, default=150, help="identical 4 MiB files (default 150; 0: none)")
    ap.add_argument("--no-metadata", action="store_true", help="skip the metadata fidelity comparison")
    ap.add_argument("--work", default=str(REPO / "build" / "bench-peers"), help="scratch directory")
    ap.add_argument("--seed", type=int, default=2026)
    ap.add_argument("--threads", type=int, default=os.cpu_count() or 2, help="cloudbackup --threads (default: cores)")
    ap.add_argument("--tools", default="cloudbackup,restic,borg", help="which tools, comma-separated")
    ap.add_argument("--keep", action="store_true", help="keep the corpus and repositories")
    ap.add_argument("--json", metavar="FILE", help="also write the figures as JSON")
    ap.add_argument("--small-files", type=int, default=100_000, help="files of the small-file tree (default 100000; 0: skip)")
    args = ap.parse_args(argv)

    names = args.tools.split(",")
    for exe in [TIME] + [n for n in names if n != "cloudbackup"]:
        if shutil.which(exe) is None:
            raise SystemExit(f"peers: {exe} not found (make bench-peers installs restic, borgbackup and time)")
    work = Path(args.work).resolve()
    corpus = work / "corpus"
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    t0 = time.monotonic()
    made = generate(corpus, args.size_mib * MIB, args.seed, args.sparse_gib, args.duplicates)
    files = sum(1 for p in corpus.rglob("*") if p.is_file())
    size1 = tree_bytes(corpus)
    sparse = f"; plus a {args.sparse_gib:g} GiB sparse file (holes not counted)" if args.sparse_gib > 0 else ""
    print(
        f"corpus: {size1 / MIB:.0f} MiB of data in {files} files: "
        + ", ".join(f"{k} {v / MIB:.0f} MiB" for k, v in made.items())
        + f"{sparse} (generated in {time.monotonic() - t0:.0f} s)",
        flush=True,
    )

    tools: List[Tool] = []
    for n in names:
        if n == "cloudbackup":
            tools.append(Cloudbackup(work, corpus, args.threads))
        elif n == "restic":
            tools.append(Restic(work, corpus))
        elif n == "borg":
            tools.append(Borg(work, corpus))
        else:
            raise SystemExit(f"peers: unknown tool {n!r}")
    for t in tools:
        print(f"  {t.name}: {t.version()}", flush=True)
        t.init()

    results: Dict[str, Dict[str, Step]] = {t.name: {} for t in tools}
    tree_digest(corpus)  # warm the page cache alike for everyone
    for t in tools:
        settle()
        run = t.backup("backup1")
        results[t.name]["backup 1"] = Step(run, tree_bytes(t.repo))
        print(f"  {t.name} backup 1: {run.wall:.1f} s", flush=True)
    changed, added = mutate(corpus, 0.05, args.seed)
    size2 = tree_bytes(corpus)
    print(f"changed {changed} files, added {added}: {size2 / MIB:.0f} MiB", flush=True)
    expected = tree_digest(corpus)
    for t in tools:
        settle()
        run = t.backup("backup2")
        results[t.name]["backup 2"] = Step(run, tree_bytes(t.repo))
        print(f"  {t.name} backup 2: {run.wall:.1f} s", flush=True)
    for t in tools:
        dest = t.work / "restore"
        settle()
        run, landed = t.restore(dest)
        got = tree_digest(landed)
        if got != expected:
            bad = sorted(set(got.items()) ^ set(expected.items()))[:5]
            raise SystemExit(f"peers: {t.name} restored a different tree (first differences: {bad})")
        results[t.name]["restore"] = Step(run, tree_bytes(t.repo))
        print(f"  {t.name} restore: {run.wall:.1f} s (byte-exact)", flush=True)
        shutil.rmtree(dest)

    # Retention: a third backup after more changes, then keep only it.
    changed3, added3 = mutate(corpus, 0.3, args.seed + 1)
    print(f"changed {changed3} files, added {added3}; backup 3, then forget --keep-last 1 --prune", flush=True)
    for t in tools:
        settle()
        t.backup("backup3")
        before = tree_bytes(t.repo)
        settle()
        run = t.forget_prune("prune")
        results[t.name]["prune"] = Step(run, tree_bytes(t.repo))
        print(
            f"  {t.name} forget --prune: {run.wall:.1f} s, repository {before / MIB:.1f} -> "
            f"{results[t.name]['prune'].repo_bytes / MIB:.1f} MiB",
            flush=True,
        )

    fidelity = {} if args.no_metadata else metadata_fidelity(tools, work)
    small = small_files(names, work, args.small_files, args.seed, args.threads) if args.small_files > 0 else {}

    sizes = {"backup 1": size1, "backup 2": size2, "restore": size2, "prune": tree_bytes(corpus)}
    print()
    print(f"corpus {size1 / 1e6:.0f} MB of data, {files} files{sparse}; {os.cpu_count()} cores; cloudbackup --threads {args.threads}")
    header = f"{'step':<10} {'tool':<12} {'wall s':>8} {'MB/s':>8} {'peak RSS MiB':>13} {'repo MiB':>9}"
    print(header)
    print("-" * len(header))
    for step in ("backup 1", "backup 2", "restore", "prune"):
        for t in tools:
            s = results[t.name][step]
            print(
                f"{step:<10} {t.name:<12} {s.run.wall:>8.1f} {sizes[step] / 1e6 / s.run.wall:>8.1f} "
                f"{s.run.rss_kib / 1024:>13.0f} {s.repo_bytes / MIB:>9.1f}"
            )
    ratios: Dict[str, float] = {}
    if "cloudbackup" in results:
        cbr = results["cloudbackup"]
        print()
        print("ratios cloudbackup/peer (throughput: >1 is faster; RSS and repo: <1 is smaller)")
        for peer in (n for n in results if n != "cloudbackup"):
            pr = results[peer]
            for step in ("backup 1", "backup 2", "restore", "prune"):
                thr = pr[step].run.wall / cbr[step].run.wall
                rss = cbr[step].run.rss_kib / pr[step].run.rss_kib
                repo = cbr[step].repo_bytes / pr[step].repo_bytes
                extra = f"  repo x{repo:.2f}" if step != "restore" else ""
                print(f"  /{peer:<7} {step:<9} throughput x{thr:.2f}  peak RSS x{rss:.2f}{extra}")
    if "cloudbackup" in small:
        cbb, cbr_ = small["cloudbackup"]
        print()
        print(f"small files ({args.small_files}): wall s, peak RSS MiB; ratios cloudbackup/peer (throughput: >1 is faster)")
        for n, (b, r_) in small.items():
            print(f"  {n:<12} backup {b.wall:6.1f} s {b.rss_kib / 1024:6.0f} MiB   restore {r_.wall:6.1f} s {r_.rss_kib / 1024:6.0f} MiB")
        for n, (b, r_) in small.items():
            if n != "cloudbackup":
                print(f"  /{n:<7} small files backup throughput x{b.wall / cbb.wall:.2f}  restore throughput x{r_.wall / cbr_.wall:.2f}")
                ratios[f"small_backup_vs_{n}"] = b.wall / cbb.wall
                ratios[f"small_restore_vs_{n}"] = r_.wall / cbr_.wall
    if fidelity:
        print_fidelity(fidelity)
    if "cloudbackup" in results and "restic" in results:
        cb, r = results["cloudbackup"], results["restic"]
        cb_mbs = size2 / 1e6 / cb["backup 2"].run.wall
        r_mbs = size2 / 1e6 / r["backup 2"].run.wall
        thr = cb_mbs / r_mbs
        cb_rss, r_rss = cb["restore"].run.rss_kib / 1024, r["restore"].run.rss_kib / 1024
        rss = cb_rss / r_rss
        ratios.update(backup2_throughput=thr, restore_peak_rss=rss)
        print()
        print("goals (issue 15):")
        print(
            f"backup 2 throughput: cloudbackup {cb_mbs:.1f} MB/s, restic {r_mbs:.1f} MB/s: "
            f"ratio {thr:.2f} (goal >= 2.0) {'met' if thr >= 2.0 else 'MISS'}"
        )
        print(
            f"restore peak RSS: cloudbackup {cb_rss:.0f} MiB, restic {r_rss:.0f} MiB: "
            f"ratio {rss:.2f} (goal <= 1.0) {'met' if rss <= 1.0 else 'MISS'}"
        )
        goals = [
            ("backup 1 throughput >= 2x restic", r["backup 1"].run.wall / cb["backup 1"].run.wall >= 2),
            ("restore throughput >= 2x restic", r["restore"].run.wall / cb["restore"].run.wall >= 2),
            (
                "repository <= restic's (after each backup)",
                all(cb[s].repo_bytes <= r[s].repo_bytes for s in ("backup 1", "backup 2")),
            ),
            (
                "peak RSS <= restic's (every step)",
                all(cb[s].run.rss_kib <= r[s].run.rss_kib for s in ("backup 1", "backup 2", "restore")),
            ),
        ]
        print("goals (issue 8):")
        for what, ok in goals:
            print(f"  {'met ' if ok else 'MISS'}  {what}")
        cp, rp = cb["prune"], r["prune"]
        ratios["prune_time"] = cp.run.wall / rp.run.wall
        ratios["prune_repo"] = cp.repo_bytes / rp.repo_bytes
        print("goals (issue 18):")
        print(
            f"forget --prune: cloudbackup {cp.run.wall:.1f} s, restic {rp.run.wall:.1f} s: time ratio "
            f"{ratios['prune_time']:.2f} (goal <= 1.0) {'met' if ratios['prune_time'] <= 1.0 else 'MISS'}"
        )
        print(
            f"repository after: cloudbackup {cp.repo_bytes / MIB:.1f} MiB, restic {rp.repo_bytes / MIB:.1f} MiB: "
            f"ratio {ratios['prune_repo']:.2f} (goal <= 1.0) {'met' if ratios['prune_repo'] <= 1.0 else 'MISS'}"
        )
    if args.json:
        Path(args.json).write_text(
            json.dumps(
                {
                    "steps": {
                        t: {s: {"wall": v.run.wall, "rss_kib": v.run.rss_kib, "repo_bytes": v.repo_bytes} for s, v in st.items()}
                        for t, st in results.items()
                    },
                    "ratios": ratios,
                    "metadata": {
                        t: (
                            {p: {"checked": o.checked, "failures": o.failures, "skipped": o.skipped} for p, o in rep.outcomes.items()}
                            if rep is not None
                            else note
                        )
                        for t, (rep, note) in fidelity.items()
                    },
                },
                indent=2,
            )
        )
    if not args.keep:
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
