#!/usr/bin/env python3
"""Concurrency stress test of one vault (local directory or Swift): three
backup loops, a maintenance loop (``unlock``, then ``gc --grace 0`` and
``forget --keep-last 6 --prune --max-unused 0%`` in turn) and a killer
that SIGKILLs a random running backup, gc or prune, for a fixed time.
Afterwards stale locks are removed, a last gc and prune run, ``verify``
must pass and every snapshot left must restore byte-exactly to the tree it
was taken of.

Each backup attempt writes a unique marker file into its tree first and
records the tree's manifest (path -> sha256, mode, symlink target) under
that marker; a restored snapshot is compared with the manifest its marker
names, so snapshots whose backup was killed after committing are checked
too.

    tests/stress/run.py --vault DIR|swift://c/p --seconds 60 --label local [--agent build/c/agent]

With ``--agent`` (a local vault), the C example agent runs the third backup
loop: two hosts of the core share the vault under the same kills.

Prints ``stress: N backups, M gc runs, K kills, every snapshot restored
(LABEL)`` and exits 0, or names what failed and exits 1. ``--min-backups``,
``--min-gc`` and ``--min-kills`` (defaults 20, 10, 10) are required counts:
after ``--seconds`` the loops go on until they are reached (at most
``--max-seconds``).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Dict, List, Optional, Tuple

#: Small chunks and bundles, so each backup stores several bundles.
SETTINGS = {"chunker": {"min_size": 4096, "avg_size": 16384, "max_size": 65536}, "zstd_level": 1, "bundle_size": 131072}
KDF = {"memory_kib": 64, "iterations": 1, "parallelism": 1}
Manifest = Dict[str, Tuple[str, int, Optional[str]]]
#: The backup loop run by the C agent when ``--agent`` is given.
AGENT_LOOP = 2


def manifest(root: Path) -> Manifest:
    """path -> (sha256 or "dir"/"link", mode bits, symlink target)."""
    out: Manifest = {}
    for p in sorted(root.rglob("*")):
        rel = "/" + str(p.relative_to(root))
        st = p.lstat()
        if p.is_symlink():
            out[rel] = ("link", 0, os.readlink(p))
        elif p.is_dir():
            out[rel] = ("dir", st.st_mode & 0o7777, None)
        else:
            out[rel] = (hashlib.sha256(p.read_bytes()).hexdigest(), st.st_mode & 0o7777, None)
    return out


class Run:
    """One stress run's shared state."""

    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.work = Path(args.work)
        self.vault: str = args.vault
        self.env = dict(os.environ)
        self.env["CLOUDBACKUP_PASSWORD"] = "stress horse"
        self.env["CLOUDBACKUP_KDF"] = json.dumps(KDF)
        self.env["CLOUDBACKUP_SETTINGS"] = json.dumps(SETTINGS)
        self.env["CLOUDBACKUP_CONCURRENCY"] = "3"
        # The C agent's wait for a lock (the CLI's backups pass --retry-lock 60).
        self.env["CLOUDBACKUP_RETRY_LOCK"] = "60"
        self.lock = threading.Lock()
        self.running: Dict[int, Tuple[str, "subprocess.Popen[str]"]] = {}
        self.manifests: Dict[str, Manifest] = {}
        self.backups = 0
        #: Of them, the C agent's (``--agent``).
        self.agent_backups = 0
        #: Successful backups per loop (each loop is one forget group).
        self.backups_by_loop: Dict[int, int] = {}
        self.backup_failures: List[str] = []
        self.gc_runs = 0
        self.gc_deleted = 0
        #: forget --prune runs that finished, and the snapshots they removed.
        self.prune_runs = 0
        self.forgotten = 0
        self.gc_failures: List[str] = []
        #: gc runs refused because a client killed a moment before left a
        #: stale lock (the loop's next `unlock` removes it): expected.
        self.gc_stale = 0
        #: Backups refused at once by the lock of a gc killed a moment
        #: before (its process is gone: the core's give_up; the gc loop's
        #: next `unlock` removes it, and the loop's next backup goes on).
        self.backup_stale = 0
        #: The backup loops' threads (the gc loop unlocks until they end).
        self.backup_threads: List[threading.Thread] = []
        self.kills = 0
        self.kill_victims: Dict[str, int] = {"backup": 0, "agent-backup": 0, "gc": 0}
        self.stop = threading.Event()
        self.rng = random.Random(args.seed)
        self.shared = os.urandom(300_000)

    def cli(self, *argv: str, role: str = "", timeout: float = 300) -> "subprocess.CompletedProcess[str]":
        """Runs the CLI; registered as killable under ``role`` when given."""
        return self.run([sys.executable, "-m", "cloudbackup", *argv], role, timeout)

    def run(self, argv: List[str], role: str = "", timeout: float = 300) -> "subprocess.CompletedProcess[str]":
        """Runs a client; registered as killable under ``role`` when given."""
        proc = subprocess.Popen(
            argv,
            env=self.env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        if role:
            with self.lock:
                self.running[proc.pid] = (role, proc)
        try:
            out, err = proc.communicate(timeout=timeout)
        finally:
            with self.lock:
                self.running.pop(proc.pid, None)
        return subprocess.CompletedProcess(proc.args, proc.returncode, out, err)

    # -- the loops ---------------------------------------------------------

    def mutate(self, root: Path, loop: int, attempt: int) -> str:
        """Changes the tree for the next backup; returns its marker."""
        marker = f"loop{loop}-attempt{attempt}-{os.urandom(4).hex()}"
        (root / "d").mkdir(parents=True, exist_ok=True)
        (root / "marker.txt").write_text(marker)
        (root / "shared.bin").write_bytes(self.shared)  # dedups across loops
        for k in range(3):
            if attempt == 0 or self.rng.random() < 0.5:
                size = self.rng.randrange(20_000, 250_000)
                (root / "d" / f"r{k}.bin").write_bytes(os.urandom(size))
        (root / "d" / "log.txt").write_text(f"{marker}\n" * self.rng.randrange(1, 500))
        os.chmod(root / "d" / "log.txt", self.rng.choice([0o600, 0o644, 0o640]))
        link = root / "link"
        if not link.is_symlink():
            os.symlink("d/log.txt", link)
        return marker

    def backup_loop(self, loop: int) -> None:
        root = self.work / f"src{loop}"
        attempt = 0
        while not self.stop.is_set():
            marker = self.mutate(root, loop, attempt)
            with self.lock:
                self.manifests[marker] = manifest(root)
            by_agent = loop == AGENT_LOOP and bool(self.args.agent)
            if by_agent:
                # The C example agent: the same locks, layout and index
                # rules from the core, in another host.
                r = self.run([self.args.agent, "backup", str(root), self.vault], role="agent-backup")
            else:
                r = self.cli("backup", str(root), self.vault, "--json", "--retry-lock", "60", role="backup")
            attempt += 1
            if r.returncode == 0:
                with self.lock:
                    self.backups += 1
                    if by_agent:
                        self.agent_backups += 1
                    self.backups_by_loop[loop] = self.backups_by_loop.get(loop, 0) + 1
            elif r.returncode != -signal.SIGKILL:
                with self.lock:
                    if "that lock is stale" in r.stderr and "own lock" not in r.stderr:  # another's, not its own
                        self.backup_stale += 1
                    else:
                        self.backup_failures.append(f"exit {r.returncode}: {r.stderr.strip()[-400:]}")
            time.sleep(self.rng.uniform(0.1, 0.6))

    def gc_loop(self) -> None:
        turn = 0
        while not self.stop.is_set():
            self.cli("unlock", self.vault)
            turn += 1
            if turn % 2:
                cmd = ["gc", self.vault, "--grace", "0"]
            else:
                # Repacks bundles backups share while they run and get killed.
                cmd = ["forget", self.vault, "--keep-last", "6", "--prune", "--max-unused", "0%"]
            r = self.cli(*cmd, "--retry-lock", "30", "--json", role="gc")
            if r.returncode == 0:
                out = json.loads(r.stdout)
                with self.lock:
                    if cmd[0] == "gc":
                        self.gc_runs += 1
                        self.gc_deleted += int(out["deleted"])
                    else:
                        self.prune_runs += 1
                        self.forgotten += int(out["removed"])
            elif r.returncode != -signal.SIGKILL:
                with self.lock:
                    if "Locked" in r.stderr and "is stale" in r.stderr:
                        self.gc_stale += 1
                    else:
                        self.gc_failures.append(f"{cmd[0]}: exit {r.returncode}: {r.stderr.strip()[-400:]}")
            self.stop.wait(self.rng.uniform(0.5, 1.5))
        # A kill just before the end can leave a stale lock in the way of the
        # backups still running (refused at once when its process is gone,
        # waited on when it only looks stale): unlock, as an operator would,
        # until they end.
        while any(t.is_alive() for t in self.backup_threads):
            self.cli("unlock", self.vault)
            time.sleep(1.0)

    def killer(self) -> None:
        """Every few seconds, SIGKILLs one running backup or gc (trying the
        next one when the chosen process ended first)."""
        while not self.stop.wait(self.rng.uniform(*self.args.kill_every)):
            for _try in range(20):
                with self.lock:
                    victims = list(self.running.items())
                if not victims:
                    time.sleep(0.05)
                    continue
                # Mostly backups (the data at risk), sometimes gc.
                want = "gc" if self.rng.random() < 0.25 else "backup"
                pick = [v for v in victims if v[1][0].endswith(want)] or victims
                pid, (role, proc) = self.rng.choice(pick)
                # A moment into its run, so kills land at varied points.
                time.sleep(self.rng.uniform(0.02, 0.3))
                if proc.poll() is not None:
                    continue
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    continue
                with self.lock:
                    self.kills += 1
                    self.kill_victims[role] += 1
                break

    # -- the check ---------------------------------------------------------

    def check(self) -> List[str]:
        """Unlock, gc, verify, and restore every snapshot; the problems."""
        problems: List[str] = []
        r = self.cli("unlock", self.vault)
        if r.returncode != 0:
            problems.append(f"unlock: {r.stderr.strip()}")
        r = self.cli("gc", self.vault, "--grace", "0", "--json")
        if r.returncode != 0:
            problems.append(f"final gc: {r.stderr.strip()}")
        r = self.cli("prune", self.vault, "--max-unused", "0%", "--json")
        if r.returncode != 0:
            problems.append(f"final prune: {r.stderr.strip()}")
        r = self.cli("verify", self.vault, "--json")
        if r.returncode != 0:
            problems.append(f"verify: {r.stdout.strip()[-2000:]} {r.stderr.strip()}")
        r = self.cli("snapshots", self.vault, "--json")
        if r.returncode != 0:
            return problems + [f"snapshots: {r.stderr.strip()}"]
        listing = json.loads(r.stdout)
        if listing["unreadable"]:
            problems.append(f"unreadable snapshots: {listing['unreadable']}")
        snaps = listing["snapshots"]
        # forget keeps the 6 newest of each loop's snapshots (a killed forget
        # removes only snapshots the policy gives up, never those).
        kept = sum(min(n, 6) if self.prune_runs or self.kill_victims["gc"] else n for n in self.backups_by_loop.values())
        if len(snaps) < kept:
            problems.append(f"{self.backups} backups succeeded, at least {kept} must be left, {len(snaps)} are listed")
        # Every snapshot through the library in this process (one vault state
        # for all: a CLI process per snapshot would mostly start Python).
        from cloudbackup.store import StoredVault

        stored = StoredVault.open(self.vault, self.env["CLOUDBACKUP_PASSWORD"])
        state = stored.state()
        for s in snaps:
            dest = self.work / "restore" / s["id"][:16]
            try:
                result = stored.restore(s["id"], str(dest), state=state)
            except Exception as e:  # noqa: BLE001 - reported, the run goes on
                problems.append(f"restore {s['id'][:16]}: {type(e).__name__}: {e}")
                continue
            if result.report.get("errors"):
                problems.append(f"restore {s['id'][:16]}: {result.report['errors']}")
                continue
            marker = (dest / "marker.txt").read_text() if (dest / "marker.txt").exists() else "?"
            expected = self.manifests.get(marker)
            if expected is None:
                problems.append(f"snapshot {s['id'][:16]}: marker {marker!r} of no recorded attempt")
            elif manifest(dest) != expected:
                got = manifest(dest)
                diff = sorted(k for k in set(got) | set(expected) if got.get(k) != expected.get(k))
                problems.append(f"snapshot {s['id'][:16]} ({marker}): differs at {diff[:5]}")
            shutil.rmtree(dest)
        return problems


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    p.add_argument("--vault", required=True, help="a directory (created) or swift://container/prefix")
    p.add_argument("--work", required=True, help="a scratch directory for the source trees")
    p.add_argument("--seconds", type=float, default=60.0)
    p.add_argument(
        "--max-seconds", type=float, default=240.0, help="go on until the required counts, at most this long"
    )
    p.add_argument("--label", default="local")
    p.add_argument("--agent", help="the C example agent: it runs the third backup loop (local vaults only)")
    p.add_argument("--seed", type=int, default=None)
    p.add_argument("--kill-every", type=float, nargs=2, default=(1.0, 2.5), metavar=("MIN", "MAX"))
    p.add_argument("--min-backups", type=int, default=20)
    p.add_argument("--min-gc", type=int, default=10)
    p.add_argument("--min-kills", type=int, default=10)
    args = p.parse_args()
    run = Run(args)
    run.work.mkdir(parents=True, exist_ok=True)
    r = run.cli("init", args.vault)
    if r.returncode != 0:
        print(f"stress: init failed: {r.stderr.strip()}")
        return 1
    threads = [threading.Thread(target=run.backup_loop, args=(i,), daemon=True) for i in range(3)]
    run.backup_threads = list(threads)
    threads += [threading.Thread(target=run.gc_loop, daemon=True), threading.Thread(target=run.killer, daemon=True)]
    started = time.monotonic()
    for t in threads:
        t.start()
    # The fixed time, then on (up to --max-seconds) until the required
    # counts are reached: a slow machine runs longer rather than fail.
    run.stop.wait(args.seconds)
    while time.monotonic() - started < args.max_seconds and (
        run.backups < args.min_backups or run.gc_runs < args.min_gc or run.kills < args.min_kills
    ):
        time.sleep(1.0)
    run.stop.set()
    for t in threads:
        t.join(timeout=400)
    elapsed = time.monotonic() - started
    agent_kills = f"{run.kill_victims['agent-backup']} C agent backups, " if args.agent else ""
    print(
        f"stress ({args.label}): {elapsed:.0f} s, {run.backups} backups"
        f"{f' ({run.agent_backups} by the C agent)' if args.agent else ''}, {run.gc_runs} gc runs, "
        f"{run.kills} kills ({run.kill_victims['backup']} backups, {agent_kills}{run.kill_victims['gc']} gc); "
        f"gc removed {run.gc_deleted} objects left by killed backups; "
        f"{run.gc_stale} gc runs and {run.backup_stale} backups stopped by the stale lock of a client just killed; "
        f"{run.prune_runs} forget --prune runs removed {run.forgotten} snapshots"
    )
    problems = run.check()
    # Failures that are not kills are problems too: a backup must finish or
    # wait for its lock, a gc must run or wait.
    problems += [f"backup failed: {f}" for f in run.backup_failures]
    problems += [f"gc or prune failed: {f}" for f in run.gc_failures]
    if args.agent and run.agent_backups == 0:
        problems.append("the C agent's loop made no backup")
    for name, got, want in [
        ("backups", run.backups, args.min_backups),
        ("gc runs", run.gc_runs, args.min_gc),
        ("kills", run.kills, args.min_kills),
    ]:
        if got < want:
            problems.append(f"only {got} {name} (at least {want} required: run longer)")
    if problems:
        for problem in problems:
            print(f"stress: FAILED: {problem}")
        return 1
    print(f"stress: {run.backups} backups, {run.gc_runs} gc runs, {run.kills} kills, every snapshot restored ({args.label})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
