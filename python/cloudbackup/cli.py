"""The ``cloudbackup`` command line tool: back directories up into a vault
and restore them, with the core's engine.

A vault is a local directory (``/path``) or an OpenStack Swift container
(``swift://container/prefix``, credentials from ``ST_AUTH``/``ST_USER``/
``ST_KEY`` or ``OS_*``; see docs/STORAGE.md).

The password comes from ``--password-file FILE``, else the environment
variable ``CLOUDBACKUP_PASSWORD``, else a prompt (never echoed). ``--json``
prints one JSON object for scripts. Exit status: 0 success, 1 a failure the
core reported (or a verify with problems, or a vault locked by another
process), 2 bad usage, 3 finished with per-file errors: a backup that saved
its snapshot but could not read some paths, or a restore that could not
restore some files (each printed as ``error: PATH: REASON``, as restic; the
others were backed up or restored).

A vault is never created implicitly: ``init`` (or ``backup --init``).
Backups, restores and verify share the vault; gc, forget, prune and repair need it alone
and wait up to ``--retry-lock`` seconds for it. A lock left by a process
that crashed goes stale; ``unlock`` removes stale locks (one whose process
is gone from this host is not waited for: the command fails at once).

``api OPERATION --param K=V`` calls the Cloud Backup API with
:class:`cloudbackup.Client` (credentials from ``RAX_USERNAME`` and
``RAX_API_KEY``, see :mod:`cloudbackup.client`); ``api --list`` lists the
operations.
"""

from __future__ import annotations

import argparse
import ctypes
import getpass
import json
import os
import stat
import sys
import time
from typing import Any, Callable, Dict, List, Mapping, Optional, Sequence, Union

from . import MAX_THREADS, __version__
from .api import JsonInput, build_request, encrypt_password_for_agent, operations
from .errors import Error, InvalidArgument
from .locking import retry_lock_from_env
from .storage import concurrency_from_env, open_storage
from .engine import BackupFilter, VaultState, keep_policy, parse_seconds, prune_options
from .store import PruneResult, StoredVault, gc_grace_from_env

PASSWORD_ENV = "CLOUDBACKUP_PASSWORD"
NEW_PASSWORD_ENV = "CLOUDBACKUP_NEW_PASSWORD"


def _read_password(args: argparse.Namespace, *, confirm: bool = False) -> str:
    """The vault password: file, environment, or prompt (not echoed)."""
    if args.password_file:
        with open(args.password_file, "rb") as f:
            data = f.read()
        try:
            return data.decode("utf-8").rstrip("\r\n")
        except UnicodeDecodeError:
            raise SystemExit(f"cloudbackup: --password-file {args.password_file}: the password is not UTF-8 text") from None
    env = os.environ.get(PASSWORD_ENV)
    if env:
        return env
    return _prompt("Vault password: ", confirm)


def _prompt(label: str, confirm: bool) -> str:
    try:
        password = getpass.getpass(label)
        if confirm and getpass.getpass("Repeat it: ") != password:
            raise SystemExit("cloudbackup: the passwords differ")
    except EOFError:
        # No terminal, and standard input ended (a script, a pipe).
        raise SystemExit(
            f"cloudbackup: no password: set ${PASSWORD_ENV} or give --password-file"
            " (standard input ended before one was typed)"
        ) from None
    if not password:
        raise SystemExit("cloudbackup: empty password")
    return password


def _kdf() -> Optional[Dict[str, Any]]:
    """Key-derivation parameters from ``CLOUDBACKUP_KDF`` (JSON), as the C
    agent reads them (tests use cheap ones)."""
    return _json_env("CLOUDBACKUP_KDF")


def _settings() -> Optional[Dict[str, Any]]:
    """Vault settings from ``CLOUDBACKUP_SETTINGS`` (JSON), as the C agent."""
    return _json_env("CLOUDBACKUP_SETTINGS")


def _json_env(name: str) -> Optional[Dict[str, Any]]:
    """The JSON object in environment variable ``name``, None when unset
    (a clear error, naming it, when it holds something else)."""
    text = os.environ.get(name)
    if not text:
        return None
    try:
        value = json.loads(text)
    except ValueError as e:
        raise SystemExit(f"cloudbackup: ${name} is not JSON: {e}") from None
    if not isinstance(value, dict):
        raise SystemExit(f"cloudbackup: ${name} must be a JSON object, not {text!r}")
    return value


def _concurrency(args: argparse.Namespace) -> int:
    """Transfers in flight: ``--concurrency``, else ``CLOUDBACKUP_CONCURRENCY``,
    else the default."""
    value = getattr(args, "concurrency", None)
    if value is None:
        return concurrency_from_env()
    if value < 1:
        raise SystemExit("cloudbackup: --concurrency must be at least 1")
    return int(value)


def _cache(args: argparse.Namespace) -> Union[None, bool, str]:
    """The vault metadata cache: ``--no-cache`` none, ``--cache-dir DIR``
    under DIR (any vault), else the default (remote vaults, under
    ``$XDG_CACHE_HOME/cloudbackup``)."""
    if getattr(args, "no_cache", False):
        return False
    value = getattr(args, "cache_dir", None)
    return str(value) if value else None


class _Bar:
    """A rich progress bar over a byte total (silent with ``--json`` or
    when stderr is not a terminal)."""

    def __init__(self, enabled: bool, label: str, total: Optional[int]) -> None:
        self.progress: Any = None
        if enabled and sys.stderr.isatty():
            from rich.progress import (
                BarColumn,
                DownloadColumn,
                Progress,
                TransferSpeedColumn,
            )
            from rich.console import Console

            self.progress = Progress(
                "[progress.description]{task.description}",
                BarColumn(),
                DownloadColumn(),
                TransferSpeedColumn(),
                console=Console(stderr=True),
                transient=True,
            )
            self.progress.start()
            self.task = self.progress.add_task(label, total=total)

    def advance(self, n: int) -> None:
        if self.progress is not None:
            self.progress.update(self.task, advance=n)

    def close(self) -> None:
        if self.progress is not None:
            self.progress.stop()


def _tree_size(root: str) -> int:
    """The bytes of the regular files below ``root``, for the progress bar
    only: what cannot be read counts nothing (the backup reports it)."""
    total = 0
    for dirpath, _dirs, files in os.walk(root):
        for name in files:
            try:
                st = os.lstat(os.path.join(dirpath, name))
            except OSError:
                continue
            if stat.S_ISREG(st.st_mode):
                total += st.st_size
    return total


def _emit(args: argparse.Namespace, data: Mapping[str, Any], lines: List[str]) -> None:
    if args.json:
        print(json.dumps(data, sort_keys=True))
    else:
        for line in lines:
            print(line)


def cmd_init(args: argparse.Namespace) -> int:
    password = _read_password(args, confirm=True)
    lv = StoredVault.init(args.vault, password, _settings(), _kdf(), concurrency=_concurrency(args), cache=_cache(args))
    del password
    info = lv.vault.info()
    _emit(args, {"vault": args.vault, **info}, [f"created vault {args.vault} ({info['vault_id']})"])
    return 0


def _retry_lock(args: argparse.Namespace) -> float:
    """Seconds to wait for a lock: ``--retry-lock``, else
    ``CLOUDBACKUP_RETRY_LOCK``, else the default."""
    value = getattr(args, "retry_lock", None)
    return retry_lock_from_env() if value is None else float(value)


def _seconds(text: str) -> float:
    """An argparse type: a number of seconds, by the core's rule (0 to the
    nanoseconds an i64 holds)."""
    try:
        return parse_seconds("SECONDS", text)
    except InvalidArgument as e:
        raise argparse.ArgumentTypeError(e.reason) from None


def _threads(text: str) -> int:
    """An argparse type: a thread count the core takes (1 to MAX_THREADS)."""
    try:
        value = int(text)
    except ValueError:
        value = 0
    if not 1 <= value <= MAX_THREADS:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of threads from 1 to {MAX_THREADS}")
    return value


def _backup_filter(args: argparse.Namespace) -> Optional[BackupFilter]:
    """The backup's selection options (docs/PATTERNS.md), None without any."""
    if not (
        args.exclude
        or args.iexclude
        or args.exclude_file
        or args.iexclude_file
        or args.exclude_if_present
        or args.one_file_system
    ):
        return None
    return BackupFilter(
        exclude=args.exclude,
        iexclude=args.iexclude,
        exclude_files=args.exclude_file,
        iexclude_files=args.iexclude_file,
        exclude_if_present=args.exclude_if_present,
        one_file_system=args.one_file_system,
    )


def cmd_backup(args: argparse.Namespace) -> int:
    # Bad patterns or unreadable exclude files fail before the vault is touched.
    selection = _backup_filter(args)
    storage = open_storage(args.vault)
    if not storage.exists("config"):
        if not args.init:
            print(
                f"cloudbackup: no vault at {args.vault}: create one with `cloudbackup init {args.vault}` "
                "(or pass --init), or check the path",
                file=sys.stderr,
            )
            return 1
        password = _read_password(args, confirm=True)
        lv = StoredVault.init(storage, password, _settings(), _kdf(), concurrency=_concurrency(args), cache=_cache(args))
    else:
        password = _read_password(args)
        lv = StoredVault.open(storage, password, concurrency=_concurrency(args), cache=_cache(args))
    del password
    # The total is a walk of its own: only when a bar is shown.
    shown = not args.json and sys.stderr.isatty()
    bar = _Bar(shown, "backup", _tree_size(args.source) if shown else None)
    started = time.monotonic()
    try:
        r = lv.backup(
            args.source,
            threads=args.threads,
            progress=bar.advance,
            retry_lock=_retry_lock(args),
            selection=selection,
            force=args.force,
            parent=args.parent,
            tags=args.tag,
        )
    finally:
        bar.close()
    seconds = time.monotonic() - started
    # Each path that could not be read, as restic words its warnings.
    for e in r.errors:
        print(f"error: {e['file']}: {e['error']}", file=sys.stderr)
    for w in r.changed:
        print(f"warning: {w['file']}: {w['warning']}", file=sys.stderr)
    c = r.counters
    mbps = c["bytes_searched"] / 1e6 / seconds if seconds > 0 else 0.0
    data = {
        "snapshot": r.snapshot_id,
        "counters": c,
        "files": r.files,
        "dirs": r.dirs,
        "symlinks": r.symlinks,
        "skipped": r.skipped,
        "new_bundles": r.bundles,
        "stored_bytes": r.stored_bytes,
        "gc_deleted": r.gc.deleted if r.gc else 0,
        "gc_skipped": r.gc_skipped,
        "special": r.special,
        "errors": r.errors,
        "changed": r.changed,
        "seconds": round(seconds, 3),
        "mb_per_s": round(mbps, 1),
    }
    _emit(
        args,
        data,
        [
            f"snapshot {r.snapshot_id}",
            f"{r.files} files, {r.dirs} dirs, {r.symlinks} symlinks"
            + (f", {r.special} FIFOs and devices" if r.special else "")
            + f" ({r.skipped} sockets skipped); "
            + (
                f"{c['files_unchanged']} unchanged since the parent snapshot (not read); "
                if c.get("files_unchanged")
                else ""
            )
            + f"{c['bytes_searched']} bytes searched, {c['bytes_backed_up']} new, "
            f"{r.stored_bytes} stored in {r.bundles} new bundles; {mbps:.1f} MB/s",
        ]
        + (
            [f"gc: removed {r.gc.deleted} unreferenced bundles ({r.gc.deleted_bytes} bytes) left by an earlier run"]
            if r.gc and r.gc.deleted
            else []
        )
        + (
            [
                f"{len(r.errors)} {'path' if len(r.errors) == 1 else 'paths'} could not be read "
                "(listed above): the snapshot was saved without them"
            ]
            if r.errors
            else []
        )
        + (
            [
                f"{len(r.changed)} {'file' if len(r.changed) == 1 else 'files'} changed while read "
                "(listed above): the snapshot has what was read; the next backup reads them again"
            ]
            if r.changed
            else []
        ),
    )
    # restic's convention: the snapshot exists, but is incomplete.
    return 3 if r.errors else 0


def cmd_gc(args: argparse.Namespace) -> int:
    password = _read_password(args)
    lv = StoredVault.open(args.vault, password, concurrency=_concurrency(args), cache=_cache(args))
    del password
    r = lv.gc(grace=args.grace, dry_run=args.dry_run, retry_lock=_retry_lock(args))
    data = {
        "referenced": r.referenced,
        "unreferenced": r.unreferenced,
        "deleted": r.deleted,
        "deleted_bytes": r.deleted_bytes,
        "kept_young": r.kept_young,
        "temporary": r.temporary,
        "dry_run": args.dry_run,
    }
    verb = "would remove" if args.dry_run else "removed"
    count = r.unreferenced - r.kept_young if args.dry_run else r.deleted
    _emit(
        args,
        data,
        [
            f"gc: {r.referenced} bundles referenced, {r.unreferenced} unreferenced; "
            f"{verb} {count}, kept {r.kept_young} younger than the grace period"
        ],
    )
    return 0


def cmd_snapshots(args: argparse.Namespace) -> int:
    password = _read_password(args)
    lv = StoredVault.open(args.vault, password, concurrency=_concurrency(args), cache=_cache(args))
    del password
    state = lv.state()
    rows = state.summaries()
    unreadable = state.unreadable_snapshots()
    for bad in unreadable:
        print(f"cloudbackup: warning: {bad['object']} skipped: {bad['message']}", file=sys.stderr)
    lines = [
        f"{r['id'][:16]}  {_utc(r['time'])}  "
        f"{r['entries']} entries  {r['counters']['bytes_searched']} bytes"
        + (
            f"  {r['counters']['files_with_errors']} unreadable"
            if r["counters"].get("files_with_errors")
            else ""
        )
        + (f"  host {r['hostname']}" if r.get("hostname") else "")
        + (f"  paths {' '.join(r['paths'])}" if r.get("paths") else "")
        + (f"  tags {','.join(r['tags'])}" if r.get("tags") else "")
        for r in rows
    ]
    if args.json:
        print(json.dumps({"snapshots": rows, "unreadable": unreadable}, sort_keys=True))
    else:
        print("\n".join(lines) if lines else "no snapshots")
    return 0


def _browse_state(args: argparse.Namespace) -> VaultState:
    """The vault's snapshots and index, for ls, find and diff (bundles are
    not listed: browsing reads only snapshots)."""
    password = _read_password(args)
    lv = StoredVault.open(args.vault, password, concurrency=_concurrency(args), cache=_cache(args))
    del password
    return lv.state(bundles=False)


def _listed_line(e: Mapping[str, Any]) -> str:
    when = time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(e["mtime"])) if not e.get("synthetic") else " " * 19
    target = f" -> {e['target']}" if e.get("target") else ""
    return f"{e['kind']:<8} {e['mode']:04o} {e['size']:>12}  {when}  {e['path']}{target}"


def cmd_ls(args: argparse.Namespace) -> int:
    state = _browse_state(args)
    snapshot_id = state.resolve(args.snapshot)
    entries = state.snapshot(snapshot_id).ls(os.fsencode(args.path), args.recursive)
    _emit(args, {"snapshot": snapshot_id, "entries": entries}, [_listed_line(e) for e in entries])
    return 0


def cmd_find(args: argparse.Namespace) -> int:
    state = _browse_state(args)
    ids = [state.resolve(args.snapshot)] if args.snapshot else [r["id"] for r in state.summaries()]
    found = []
    lines: List[str] = []
    for snapshot_id in ids:
        snap = state.snapshot(snapshot_id)
        matches = snap.find(args.pattern, args.ignore_case)
        if matches:
            found.append({"snapshot": snapshot_id, "time": snap.time, "matches": matches})
            when = time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(snap.time))
            lines.append(f"snapshot {snapshot_id[:16]} of {when}:")
            lines.extend("  " + _listed_line(e) for e in matches)
    _emit(args, {"found": found}, lines or ["nothing found"])
    return 0


def cmd_diff(args: argparse.Namespace) -> int:
    state = _browse_state(args)
    before, after = state.resolve(args.first), state.resolve(args.second)
    d = state.snapshot(before).diff(state.snapshot(after))
    letters = {"added": "+", "removed": "-", "modified": "M", "type_changed": "T", "metadata": "U"}
    t = d["totals"]
    lines = [f"{letters[c['change']]}    {c['path']}" for c in d["changes"]]
    lines.append(
        f"added {t['added']}, removed {t['removed']}, modified {t['modified']}, type changed {t['type_changed']},"
        f" metadata only {t['metadata']}; {t['bytes_added']} bytes added, {t['bytes_removed']} removed"
    )
    _emit(args, dict(d, first=before, second=after), lines)
    return 0


def cmd_dump(args: argparse.Namespace) -> int:
    password = _read_password(args)
    lv = StoredVault.open(args.vault, password, concurrency=_concurrency(args), cache=_cache(args))
    del password
    out = sys.stdout.buffer
    try:
        lv.dump(args.snapshot, os.fsencode(args.path), out, retry_lock=_retry_lock(args))
        out.flush()
    except BrokenPipeError:
        # `dump ... | head`: the reader is done, which is not a failure.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
    return 0


def _utc(seconds: int) -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(seconds))


def _policy(args: argparse.Namespace) -> Dict[str, Any]:
    """The forget options as the core's policy (unchecked)."""
    policy: Dict[str, Any] = {}
    for rule in ("last", "hourly", "daily", "weekly", "monthly", "yearly"):
        value = getattr(args, f"keep_{rule}")
        if value is not None:
            policy[rule] = value
    if args.keep_within is not None:
        policy["within"] = args.keep_within
    if args.keep_tag:
        # restic: `--keep-tag a,b` keeps snapshots with both tags.
        policy["tags"] = [t.split(",") for t in args.keep_tag]
    if args.group_by is not None:
        policy["group_by"] = args.group_by
    return policy


def cmd_forget(args: argparse.Namespace) -> int:
    try:
        # Checked before the password is asked for: a bad policy is bad usage.
        policy = keep_policy(_policy(args))
    except InvalidArgument as e:
        print(f"cloudbackup forget: {e}", file=sys.stderr)
        return 2
    options = _checked_prune_options(args, "forget")
    if options is None:
        return 2
    password = _read_password(args)
    lv = StoredVault.open(args.vault, password, concurrency=_concurrency(args), cache=_cache(args))
    del password
    bar = _Bar(not args.json and not args.dry_run and args.prune, "prune", None)
    try:
        r = lv.forget(
            policy,
            dry_run=args.dry_run,
            retry_lock=_retry_lock(args),
            prune=options if args.prune else None,
            progress=bar.advance,
        )
    finally:
        bar.close()
    gone = [d for d in r.decisions if not d["keep"]]
    lines: List[str] = []
    group: Any = None
    for d in r.decisions:
        if d["group"] != group:
            group = d["group"]
            lines.append(f"snapshots of {group}:")
        verdict = "keep  " if d["keep"] else "remove"
        lines.append(f"  {verdict}  {d['id'][:16]}  {_utc(d['time'])}  {', '.join(d['reasons'])}".rstrip())
    verb = "would remove" if args.dry_run else "removed"
    lines.append(
        f"forget: {verb} {len(gone)} of {len(r.decisions)} snapshots"
        + (" (their data stays until a prune)" if gone and not args.prune else "")
    )
    if r.prune is not None:
        lines.extend(_prune_lines(r.prune, args.dry_run))
    _emit(
        args,
        {
            "decisions": r.decisions,
            "removed": r.removed,
            "dry_run": args.dry_run,
            "policy": policy,
            "prune": _prune_data(r.prune),
        },
        lines,
    )
    return 0


def _prune_options(args: argparse.Namespace) -> Dict[str, Any]:
    """The prune options of the command line as the core takes them."""
    options: Dict[str, Any] = {
        "max_unused": args.max_unused,
        "repack_small": args.repack_small,
        # gc's grace for unreferenced bundles and temporaries.
        "grace_ns": int(gc_grace_from_env() * 1_000_000_000),
    }
    if args.max_repack_size is not None:
        options["max_repack_bytes"] = args.max_repack_size
    return options


def _mib(n: int) -> str:
    return f"{n / (1 << 20):.1f} MiB"


def _prune_lines(r: PruneResult, dry_run: bool) -> List[str]:
    p = r.plan
    lines = [
        f"prune: {p['snapshots']} snapshots use {p['used_blobs']['count']} blobs ({_mib(p['used_blobs']['bytes'])}); "
        f"{p['unused_blobs']['count']} blobs ({_mib(p['unused_blobs']['bytes'])}) are unused",
        f"  bundles: keep {p['keep_bundles']['count']}, repack {p['repack_bundles']['count']} "
        f"({_mib(p['repack_blobs']['bytes'])} copied), delete {p['unused_bundles']['count']} unused"
        + (f" and {p['unindexed_bundles']['count']} unreferenced" if p["unindexed_bundles"]["count"] else "")
        + (f"; {p['kept_young']} younger than the grace period kept" if p["kept_young"] else ""),
    ]
    freed = r.bytes_before - r.bytes_after
    if r.report is None and not dry_run:
        lines.append(f"prune: nothing to do ({_mib(r.bytes_before)})")
    elif r.report is None:
        lines.append(
            f"prune: would go from {_mib(r.bytes_before)} to about {_mib(r.bytes_after)} "
            f"(frees about {_mib(max(freed, 0))}; {_mib(p['unused_after'])} unused left)"
        )
    else:
        lines.append(
            f"prune: {_mib(r.bytes_before)} before, {_mib(r.bytes_after)} after, {_mib(max(freed, 0))} freed "
            f"({r.report['deleted']['count']} objects deleted, {r.report['bundles_written']['count']} bundles written)"
        )
    return lines


def _prune_data(r: Optional[PruneResult]) -> Optional[Dict[str, Any]]:
    if r is None:
        return None
    plan = {k: v for k, v in r.plan.items() if k != "read"}
    return {"plan": plan, "report": r.report, "bytes_before": r.bytes_before, "bytes_after": r.bytes_after}


def _size(text: str) -> int:
    """A size: bytes, or with a k/m/g/t suffix (binary)."""
    units = {"k": 1 << 10, "m": 1 << 20, "g": 1 << 30, "t": 1 << 40}
    t = text.strip().lower()
    try:
        if t and t[-1] in units:
            return int(t[:-1]) * units[t[-1]]
        return int(t)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a size like 500M or 2G") from None


def _prune_arguments(s: argparse.ArgumentParser) -> None:
    s.add_argument(
        "--max-unused",
        default="5%",
        metavar="LIMIT",
        help="unused space to tolerate: a percentage of the used data, a size (100M) or 'unlimited' (default 5%%)",
    )
    s.add_argument(
        "--repack-small", action="store_true", help="also repack bundles under 80%% of the bundle size (two or more)"
    )
    s.add_argument("--max-repack-size", type=_size, default=None, metavar="SIZE", help="copy at most this much data")


def _checked_prune_options(args: argparse.Namespace, command: str) -> Optional[Dict[str, Any]]:
    """The prune options, checked by the core before any password is asked
    for (bad options are bad usage); None after printing why not."""
    try:
        return prune_options(_prune_options(args))
    except InvalidArgument as e:
        print(f"cloudbackup {command}: {e}", file=sys.stderr)
        return None


def cmd_prune(args: argparse.Namespace) -> int:
    options = _checked_prune_options(args, "prune")
    if options is None:
        return 2
    password = _read_password(args)
    lv = StoredVault.open(args.vault, password, concurrency=_concurrency(args), cache=_cache(args))
    del password
    bar = _Bar(not args.json and not args.dry_run, "prune", None)
    try:
        r = lv.prune(options, dry_run=args.dry_run, retry_lock=_retry_lock(args), progress=bar.advance)
    finally:
        bar.close()
    data = {"dry_run": args.dry_run, **(_prune_data(r) or {})}
    _emit(args, data, _prune_lines(r, args.dry_run))
    return 0


def cmd_restore(args: argparse.Namespace) -> int:
    password = _read_password(args)
    lv = StoredVault.open(args.vault, password, concurrency=_concurrency(args), cache=_cache(args))
    del password
    bar = _Bar(not args.json, "restore", None)
    try:
        r = lv.restore(
            args.snapshot,
            args.dest,
            include=args.include,
            exclude=args.exclude,
            iinclude=args.iinclude,
            iexclude=args.iexclude,
            overwrite=args.overwrite,
            progress=bar.advance,
            retry_lock=_retry_lock(args),
            resume=args.resume,
            threads=args.threads,
        )
    finally:
        bar.close()
    rep = r.report
    data = {"snapshot": r.snapshot_id, "report": rep, "bytes_written": r.bytes_written}
    done = f", {rep['files_done']} already done" if rep.get("files_done") else ""
    lines = [
        f"restored snapshot {r.snapshot_id[:16]} into {args.dest}: "
        f"{rep['files_restored']} files, {rep['bytes_restored']} bytes, "
        f"{rep['files_skipped']} skipped{done}"
    ]
    for pattern in rep.get("unmatched_includes") or []:
        # Most often a mistyped path: say so rather than restore nothing in silence.
        print(f"warning: include pattern {pattern!r} matched nothing in the snapshot", file=sys.stderr)
    report_errors = rep["errors"]
    failed = (report_errors.get("list") if report_errors else None) or []
    for e in failed:
        exception = e.get("exception") or {}
        # On stderr, as the backup's (and restic's) per-file errors.
        print(f"error: {e['path']}: {exception.get('description') or e['type']}", file=sys.stderr)
    if failed:
        lines.append(f"{len(failed)} files could not be restored (the others were)")
    data["host_errors"] = r.errors
    _emit(args, data, lines)
    # 3: finished, but some files could not be restored (design.md).
    return 3 if failed else 0


def cmd_verify(args: argparse.Namespace) -> int:
    password = _read_password(args)
    lv = StoredVault.open(args.vault, password, concurrency=_concurrency(args), cache=_cache(args))
    del password
    bar = _Bar(not args.json, "verify", None)
    try:
        rep = lv.verify(args.sample, progress=bar.advance, retry_lock=_retry_lock(args))
    finally:
        bar.close()
    lines = [
        f"verify: {'ok' if rep['ok'] else 'PROBLEMS'}: {rep['snapshots_checked']} snapshots, "
        f"{rep['indexes_checked']} indexes, {rep['bundles_checked']} bundles, "
        f"{rep['blobs_checked']} blobs, {rep['bytes_checked']} bytes checked"
    ]
    lines += [f"  {p['code']}: {p['object']}: {p['message']}" for p in rep["problems"]]
    if rep["unindexed_bundles"]:
        lines.append(
            f"  note: {rep['unindexed_bundles']} bundles no index references (a backup in flight, "
            "or left by a failed one: gc removes them once old)"
        )
    if rep["temporary_objects"]:
        lines.append(
            f"  note: {len(rep['temporary_objects'])} temporary objects left by interrupted writes "
            "(gc removes them once old)"
        )
    _emit(args, rep, lines)
    return 0 if rep["ok"] else 1


def cmd_repair(args: argparse.Namespace) -> int:
    password = _read_password(args)
    lv = StoredVault.open(args.vault, password, concurrency=_concurrency(args), cache=_cache(args))
    del password
    rep = lv.repair(retry_lock=_retry_lock(args))
    lines = [
        f"repair: read {rep['bundles_read']} bundles no index covered; indexed {rep['blobs_indexed']} blobs "
        f"of {rep['bundles_indexed']} bundles"
        + (f" in index {rep['index_written'][:16]}" if rep["index_written"] else "")
    ]
    lines += [f"  set aside {a} -> {b}" for a, b in rep["set_aside"]]
    lines += [f"  unreadable bundle {name}: {why}" for name, why in rep["bundles_unreadable"]]
    lines += [
        f"  {name} still uses {n} blobs no bundle holds: restoring it reports those files"
        for name, n in rep["snapshots_damaged"]
    ]
    _emit(args, rep, lines)
    return 1 if rep["bundles_unreadable"] or rep["snapshots_damaged"] else 0


def cmd_unlock(args: argparse.Namespace) -> int:
    password = _read_password(args)
    lv = StoredVault.open(args.vault, password, concurrency=_concurrency(args), cache=_cache(args))
    del password
    if args.list:
        locks = lv.locks()
        lines = [f"{lk['id'][:16]}  {'stale  ' if lk['stale'] else 'active '} {lk['holder']}" for lk in locks]
        _emit(args, {"locks": locks}, lines or ["no locks"])
        return 0
    removed = lv.unlock(remove_all=args.remove_all)
    _emit(
        args,
        {"removed": [{"id": i, "holder": h} for i, h in removed]},
        [f"removed lock {i[:16]}: {h}" for i, h in removed] or ["no stale locks"],
    )
    return 0


def cmd_passwd(args: argparse.Namespace) -> int:
    old = _read_password(args)
    lv = StoredVault.open(args.vault, old, concurrency=_concurrency(args), cache=_cache(args))
    new = os.environ.get(NEW_PASSWORD_ENV) or _prompt("New password: ", True)
    lv.vault.change_password(old, new, _kdf())
    del old, new
    lv.save_config()
    _emit(args, {"vault": args.vault, "changed": True}, [f"password of {args.vault} changed"])
    return 0


def cmd_key(args: argparse.Namespace) -> int:
    password = _read_password(args)
    lv = StoredVault.open(args.vault, password, concurrency=_concurrency(args), cache=_cache(args))
    if args.action == "list":
        current = lv.vault.key_slot_of(password)
        slots: List[Dict[str, Any]] = [{**slot, "current": slot["id"] == current} for slot in lv.vault.key_slots()]
        lines = [
            f"{'*' if slot['current'] else ' '} {slot['id']}  argon2id m={slot['kdf']['memory_kib']} KiB"
            f" t={slot['kdf']['iterations']} p={slot['kdf']['parallelism']}"
            for slot in slots
        ]
        _emit(args, {"key_slots": slots}, lines)
        return 0
    if args.action == "add":
        new = os.environ.get(NEW_PASSWORD_ENV) or _prompt("Password to add: ", True)
        lv.vault.add_password(new, _kdf())
        added = lv.vault.key_slot_of(new)
        del new
        lv.save_config()
        _emit(args, {"added": added}, [f"key slot {added} added"])
        return 0
    if not args.id:
        raise SystemExit("cloudbackup: key remove needs the slot's ID (see key list)")
    removed = lv.vault.remove_key_slot(args.id, password)
    lv.save_config()
    _emit(args, {"removed": removed}, [f"key slot {removed} removed"])
    return 0


def cmd_encrypt_password(args: argparse.Namespace) -> int:
    passphrase = _read_password(args)
    hexed = encrypt_password_for_agent(args.modulus, args.exponent, passphrase)
    del passphrase
    _emit(args, {"encrypted_password_hex": hexed}, [hexed])
    return 0


# -- api ----------------------------------------------------------------------

#: The parameter names operations take their body under, in the order tried.
BODY_PARAMS = ("body", "patch", "agent", "credentials", "event", "settings")


class _Usage(Exception):
    """A command line that cannot be run (exit status 2)."""


def _api_param(params: Dict[str, Any], item: str) -> None:
    """Adds ``K=V`` (a string) or ``K:=JSON`` (any JSON value) to
    ``params``; a dotted ``K`` (``page.limit:=5``) nests."""
    at = item.find("=")
    if at <= 0:
        raise _Usage(f"--param {item!r}: expected K=V (a string) or K:=JSON")
    raw = item.endswith(":", 0, at)
    key = item[: at - 1] if raw else item[:at]
    text = item[at + 1 :]
    value: Any = text
    if raw:
        try:
            value = json.loads(text)
        except ValueError as e:
            raise _Usage(f"--param {item!r}: the value after := is not JSON ({e})") from None
    parts = key.split(".")
    if not all(parts):
        raise _Usage(f"--param {item!r}: empty name")
    target = params
    for part in parts[:-1]:
        nested = target.setdefault(part, {})
        if not isinstance(nested, dict):
            raise _Usage(f"--param {item!r}: {part} is already set to a value")
        target = nested
    target[parts[-1]] = value


def _body_param(operation: str, params: Dict[str, Any], body: Any) -> str:
    """The parameter ``operation`` takes its body under, asked of the core
    (building a request needs no network): the first of
    :data:`BODY_PARAMS` it does not call an unknown field."""
    for name in BODY_PARAMS:
        try:
            build_request(operation, {**params, name: body}, token="t", tenant_id="t")
        except InvalidArgument as e:
            if getattr(e, "name", None) == f"params.{name}" and "unknown field" in str(getattr(e, "reason", "")):
                continue
        except Error:
            pass
        return name
    raise _Usage(f"{operation} takes no body")


def _read_body(source: str) -> Any:
    if source == "-":
        text = sys.stdin.read()
    else:
        with open(source, "r", encoding="utf-8") as f:
            text = f.read()
    try:
        return json.loads(text)
    except ValueError as e:
        raise _Usage(f"--body {source}: not JSON ({e})") from None


def cmd_api(args: argparse.Namespace) -> int:
    try:
        return _cmd_api(args)
    except _Usage as e:
        print(f"cloudbackup api: {e}", file=sys.stderr)
        return 2


def _cmd_api(args: argparse.Namespace) -> int:
    if args.list:
        ops = operations()
        width = max(len(op["name"]) for op in ops)
        _emit(args, {"operations": ops}, [f"{op['name']:<{width}}  {op['method']:<6} {op['path']}" for op in ops])
        return 0
    if not args.operation:
        raise _Usage("name an OPERATION (cloudbackup api --list lists them)")
    params: Dict[str, Any] = {}
    for item in args.param:
        _api_param(params, item)
    if args.body is not None:
        body = _read_body(args.body)
        params[_body_param(args.operation, params, body)] = body
    # Imported here: only this command needs httpx.
    from .client import Client

    call_params: JsonInput = params
    with Client.from_env(region=args.region, base_url=args.api_url) as client:
        if args.all:
            result: Any = list(client.paginate(args.operation, call_params))
        else:
            result = client.call(args.operation, call_params)
    if args.json:
        print(json.dumps({"operation": args.operation, "result": result}, sort_keys=True))
    else:
        print(json.dumps(result, indent=2, ensure_ascii=False))
    return 0


def cmd_serve(args: argparse.Namespace) -> int:
    """Runs the service emulator until interrupted (Ctrl-C)."""
    try:
        # Imported here: only this command needs Starlette and uvicorn.
        from .emulator import serve
    except ImportError as e:
        print(f"cloudbackup serve: {e} (install the extra: pip install 'cloudbackup[serve]')", file=sys.stderr)
        return 1
    serve(args.host, args.port, args.db, tenant=args.tenant, log_level=args.log_level,
          heartbeat_interval=args.heartbeat_interval, heartbeat_timeout=args.heartbeat_timeout)
    return 0


def cmd_agent(args: argparse.Namespace) -> int:
    """Runs the reference agent until interrupted (SIGINT or SIGTERM)."""
    import signal
    import threading

    from .agentd import Agent, AgentConfig

    password: Optional[str] = None
    if args.password_file:
        with open(args.password_file, "r", encoding="utf-8") as f:
            password = f.read().rstrip("\r\n")
    else:
        password = os.environ.get(PASSWORD_ENV) or None
    identity = args.identity or (args.api.rstrip("/") + "/identity/v2.0")
    config = AgentConfig(
        api=args.api, identity=identity, username=args.username, api_key=args.api_key, vault=args.vault,
        state_dir=args.state_dir, password=password, init_vault=args.init, name=args.name,
        poll_interval=args.poll_interval, storage_delay=args.storage_delay,
        heartbeat_interval=args.heartbeat_interval, kdf=_kdf(), retry_lock=retry_lock_from_env(),
    )
    stop = threading.Event()

    def on_signal(_signo: int, _frame: object) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    agent = Agent(config)
    try:
        agent.start()
        print(f"cloudbackup agent: agent {agent.id} polling {args.api} (vault {args.vault})", file=sys.stderr, flush=True)
        agent.run(stop)
    finally:
        agent.close()
    return 0


def _parser() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--json", action="store_true", help="print one JSON object")
    common.add_argument(
        "--password-file", metavar="FILE", help=f"read the password from FILE (else ${PASSWORD_ENV}, else a prompt)"
    )
    common.add_argument(
        "--concurrency",
        type=int,
        metavar="N",
        help="transfers in flight (default $CLOUDBACKUP_CONCURRENCY, else 4)",
    )
    common.add_argument(
        "--cache-dir",
        metavar="DIR",
        help="keep the vault's index and snapshot objects in DIR/<vault id> (default for remote vaults: "
        "$CLOUDBACKUP_CACHE_DIR, else $XDG_CACHE_HOME/cloudbackup)",
    )
    common.add_argument("--no-cache", action="store_true", help="keep no local copy of the vault's metadata")
    locking = argparse.ArgumentParser(add_help=False)
    locking.add_argument(
        "--retry-lock",
        type=_seconds,
        default=None,
        metavar="SECONDS",
        help="wait this long for a lock another process holds (default $CLOUDBACKUP_RETRY_LOCK, else 60)",
    )
    p = argparse.ArgumentParser(prog="cloudbackup", description=__doc__.splitlines()[0] if __doc__ else None)
    p.add_argument("--version", action="version", version=f"cloudbackup {__version__}")
    sub = p.add_subparsers(dest="command", required=True)

    s = sub.add_parser("init", parents=[common], help="create a vault (directory or swift://container/prefix)")
    s.add_argument("vault")
    s.set_defaults(run=cmd_init)

    s = sub.add_parser("backup", parents=[common, locking], help="back SRC up into VAULT")
    s.add_argument("source", metavar="SRC", help="a folder (its tree), or a file (that one file, /NAME in the snapshot)")
    s.add_argument("vault", metavar="VAULT")
    s.add_argument("--init", action="store_true", help="create the vault first if there is none")
    s.add_argument("--threads", type=_threads, default=2, help="threads working, this one included (default 2)")
    s.add_argument(
        "--force", action="store_true", help="read every file again (no parent snapshot: unchanged files too)"
    )
    s.add_argument(
        "--parent",
        metavar="ID",
        help="take unchanged files over from this snapshot (default: the latest of this host and SRC)",
    )
    s.add_argument(
        "-e",
        "--exclude",
        action="append",
        metavar="PATTERN",
        help="leave out paths matching PATTERN (repeatable; docs/PATTERNS.md: `*.log` at any depth, "
        "`/build` = SRC/build and below)",
    )
    s.add_argument("--iexclude", action="append", metavar="PATTERN", help="like --exclude, ignoring case")
    s.add_argument(
        "--exclude-file",
        action="append",
        metavar="FILE",
        help="read exclude patterns from FILE (one a line; # comments, $VAR expanded)",
    )
    s.add_argument("--iexclude-file", action="append", metavar="FILE", help="like --exclude-file, ignoring case")
    s.add_argument(
        "--exclude-if-present",
        action="append",
        metavar="NAME[:HEADER]",
        help="keep only the file NAME of a folder that holds it (starting with HEADER, if given)",
    )
    s.add_argument(
        "-x",
        "--one-file-system",
        action="store_true",
        help="do not cross file system boundaries (mount points are kept empty)",
    )
    s.add_argument(
        "--tag", action="append", metavar="TAG", help="label the snapshot (repeatable; forget --keep-tag keeps by it)"
    )
    s.set_defaults(run=cmd_backup)

    s = sub.add_parser("snapshots", parents=[common], help="list the snapshots, oldest first")
    s.add_argument("vault", metavar="VAULT")
    s.set_defaults(run=cmd_snapshots)

    s = sub.add_parser("ls", parents=[common], help="list a folder of SNAPSHOT (id, prefix or latest)")
    s.add_argument("vault", metavar="VAULT")
    s.add_argument("snapshot", metavar="SNAPSHOT")
    s.add_argument("path", metavar="PATH", nargs="?", default="/", help="the folder (default: /)")
    s.add_argument("-r", "--recursive", action="store_true", help="everything below PATH, not only its children")
    s.set_defaults(run=cmd_ls)

    s = sub.add_parser("find", parents=[common], help="the entries PATTERN matches, in every snapshot (or one)")
    s.add_argument("vault", metavar="VAULT")
    s.add_argument("pattern", metavar="PATTERN", nargs="+", help="backup/restore pattern meaning (docs/PATTERNS.md)")
    s.add_argument("--snapshot", metavar="SNAPSHOT", help="search only this snapshot")
    s.add_argument("-i", "--ignore-case", action="store_true")
    s.set_defaults(run=cmd_find)

    s = sub.add_parser("diff", parents=[common], help="what changed from FIRST to SECOND (+ - M T U, as restic)")
    s.add_argument("vault", metavar="VAULT")
    s.add_argument("first", metavar="FIRST")
    s.add_argument("second", metavar="SECOND")
    s.set_defaults(run=cmd_diff)

    s = sub.add_parser("dump", parents=[common, locking], help="write one file of SNAPSHOT to standard output")
    s.add_argument("vault", metavar="VAULT")
    s.add_argument("snapshot", metavar="SNAPSHOT")
    s.add_argument("path", metavar="FILE", help="its path in the snapshot (see ls)")
    s.set_defaults(run=cmd_dump)

    s = sub.add_parser("restore", parents=[common, locking], help="restore SNAPSHOT (id, prefix or latest) into DEST")
    s.add_argument("vault", metavar="VAULT")
    s.add_argument("snapshot", metavar="SNAPSHOT")
    s.add_argument("dest", metavar="DEST")
    s.add_argument(
        "-i",
        "--include",
        action="append",
        metavar="PATTERN",
        help="restore only matching paths (and the folders above them); docs/PATTERNS.md",
    )
    s.add_argument(
        "-e", "--exclude", action="append", metavar="PATTERN", help="skip matching paths (a folder with its content)"
    )
    s.add_argument("--iinclude", action="append", metavar="PATTERN", help="like --include, ignoring case")
    s.add_argument("--iexclude", action="append", metavar="PATTERN", help="like --exclude, ignoring case")
    s.add_argument("--overwrite", action="store_true", help="replace existing files")
    s.add_argument(
        "--resume",
        action="store_true",
        help="complete an interrupted restore: files already there with the snapshot's size and "
        "mtime count as done, also with --overwrite",
    )
    s.add_argument(
        "--threads", type=_threads, default=2, help="worker threads opening blobs while files are written (default 2)"
    )
    s.set_defaults(run=cmd_restore)

    s = sub.add_parser(
        "verify",
        parents=[common, locking],
        help="check every snapshot, the index's coverage and the bundles",
    )
    s.add_argument("vault", metavar="VAULT")
    s.add_argument("--sample", type=float, default=1.0, metavar="FRACTION", help="check this fraction (0..1)")
    s.set_defaults(run=cmd_verify)

    s = sub.add_parser(
        "gc", parents=[common, locking], help="remove bundles no index references (left by failed backups)"
    )
    s.add_argument("vault", metavar="VAULT")
    s.add_argument(
        "--grace",
        type=_seconds,
        default=None,
        metavar="SECONDS",
        help="keep unreferenced bundles younger than this (default $CLOUDBACKUP_GC_GRACE, else 3600)",
    )
    s.add_argument("--dry-run", action="store_true", help="only count what would be removed")
    s.set_defaults(run=cmd_gc)

    s = sub.add_parser(
        "forget",
        parents=[common, locking],
        help="remove the snapshots a keep policy does not keep (restic's rules, by host and paths; data stays)",
    )
    s.add_argument("vault", metavar="VAULT")
    for rule, unit in (
        ("last", "the N newest snapshots"),
        ("hourly", "the newest snapshot of each of the last N hours that have one"),
        ("daily", "... of each of the last N days (UTC)"),
        ("weekly", "... of each of the last N ISO weeks (UTC)"),
        ("monthly", "... of each of the last N months (UTC)"),
        ("yearly", "... of each of the last N years (UTC)"),
    ):
        s.add_argument(f"--keep-{rule}", type=int, metavar="N", help=f"keep {unit}")
    s.add_argument(
        "--keep-within",
        metavar="DURATION",
        help="keep every snapshot within DURATION (e.g. 30d, 1y6m, 2d12h) of the newest of its group",
    )
    s.add_argument(
        "--keep-tag",
        action="append",
        metavar="TAG[,TAG...]",
        help="keep snapshots with all these tags (repeatable: any of the lists)",
    )
    s.add_argument(
        "--group-by",
        metavar="host,paths,tags",
        help="decide snapshots together by these (default host,paths; '' for one group)",
    )
    s.add_argument("--dry-run", action="store_true", help="only list what would be removed, and why the rest stays")
    s.add_argument("--prune", action="store_true", help="then prune, under the same lock, if snapshots were removed")
    _prune_arguments(s)
    s.set_defaults(run=cmd_forget)

    s = sub.add_parser(
        "prune",
        parents=[common, locking],
        help="give back the space of data no snapshot uses (repacking bundles that are mostly unused)",
    )
    s.add_argument("vault", metavar="VAULT")
    s.add_argument("--dry-run", action="store_true", help="only show what would be repacked and deleted")
    _prune_arguments(s)
    s.set_defaults(run=cmd_prune)

    s = sub.add_parser(
        "repair",
        parents=[common, locking],
        help="rebuild a lost or unreadable index from the bundles; set unreadable snapshots aside",
    )
    s.add_argument("vault", metavar="VAULT")
    s.set_defaults(run=cmd_repair)

    s = sub.add_parser("unlock", parents=[common], help="remove stale locks (left by crashed processes)")
    s.add_argument("vault", metavar="VAULT")
    s.add_argument("--remove-all", action="store_true", help="remove every lock, also live ones")
    s.add_argument("--list", action="store_true", help="only list the locks")
    s.set_defaults(run=cmd_unlock)

    s = sub.add_parser("passwd", parents=[common], help=f"change the password (new one: ${NEW_PASSWORD_ENV} or a prompt)")
    s.add_argument("vault", metavar="VAULT")
    s.set_defaults(run=cmd_passwd)

    s = sub.add_parser(
        "key",
        parents=[common],
        help=f"list, add or remove the passwords (key slots) that open the vault (new one: ${NEW_PASSWORD_ENV} or a prompt)",
    )
    s.add_argument("action", choices=["list", "add", "remove"])
    s.add_argument("vault", metavar="VAULT")
    s.add_argument("id", nargs="?", metavar="ID", help="remove: the slot's id, or 4 or more of its first digits")
    s.set_defaults(run=cmd_key)

    s = sub.add_parser(
        "encrypt-password", parents=[common], help="encrypt the password for an agent's RSA key (EncryptedPassword)"
    )
    s.add_argument("--modulus", required=True, metavar="HEX")
    s.add_argument("--exponent", required=True, metavar="HEX")
    s.set_defaults(run=cmd_encrypt_password)

    s = sub.add_parser(
        "api",
        help="call a Cloud Backup API operation (credentials from $RAX_USERNAME and $RAX_API_KEY)",
        description="Calls OPERATION (e.g. v2.restores.get_restore; --list lists them) and prints its "
        "result as JSON. Credentials: RAX_USERNAME with RAX_API_KEY (or RAX_PASSWORD), RAX_REGION, "
        "RAX_AUTH_URL; or CLOUDBACKUP_TOKEN, CLOUDBACKUP_TENANT_ID and CLOUDBACKUP_API_URL. "
        "CLOUDBACKUP_AGENT_ID makes every request an agent's (X-Agent-Id).",
    )
    s.add_argument("operation", nargs="?", metavar="OPERATION")
    s.add_argument("--list", action="store_true", help="list the operations")
    s.add_argument(
        "--param",
        "-p",
        action="append",
        default=[],
        metavar="K=V",
        help="a parameter: K=V (string) or K:=JSON (number, object...); page.limit:=5 nests",
    )
    s.add_argument("--body", metavar="FILE", help="the request body, JSON from FILE (- for standard input)")
    s.add_argument("--all", action="store_true", help="follow the pages of a list; print all its items")
    s.add_argument("--region", help="the endpoint's region (default $RAX_REGION, else the user's default)")
    s.add_argument("--api-url", metavar="URL", help="the service root (default $CLOUDBACKUP_API_URL, else the catalog's)")
    s.add_argument("--json", action="store_true", help='print one JSON object: {"operation", "result"}')
    s.set_defaults(run=cmd_api)

    s = sub.add_parser(
        "serve",
        help="run a local Cloud Backup service (emulator) with its own Identity endpoint",
        description="Serves the v2 agents (with their settings and online status from heartbeats), "
        "configurations, backups, restores, cleanups, events and activities, and the v1.0 backup and "
        "restore actions (StartManual/StopManual), restore details and reports and the backups "
        "available for restore, over HTTP, with the state in an SQLite file (kept across restarts), and a Rackspace "
        "Identity v2.0 endpoint at /identity/v2.0 accepting any user name and API key. Point a "
        "client at it with RAX_AUTH_URL=http://HOST:PORT/identity/v2.0.",
    )
    s.add_argument("--host", default="127.0.0.1", help="the address to listen on (default 127.0.0.1)")
    s.add_argument("--port", type=int, default=8080, metavar="N", help="the port (default 8080)")
    s.add_argument(
        "--db", default="cloudbackup-emulator.sqlite3", metavar="FILE",
        help="the SQLite file the state lives in (default ./cloudbackup-emulator.sqlite3)",
    )
    s.add_argument("--tenant", default="123456", help="the tenant (project) id of every token (default 123456)")
    s.add_argument("--log-level", default="info", choices=["critical", "error", "warning", "info", "debug"])
    s.add_argument("--heartbeat-interval", type=_seconds, default=30.0, metavar="S",
                   help="seconds between heartbeats the agents' settings ask for (default 30)")
    s.add_argument("--heartbeat-timeout", type=_seconds, default=75.0, metavar="S",
                   help="seconds without a heartbeat before an agent shows offline (default 75)")
    s.set_defaults(run=cmd_serve)

    s = sub.add_parser(
        "agent",
        help="run the reference agent: registers, polls events, runs backups and restores against a vault",
        description="Registers with the service (once: the id, password and RSA key stay in --state-dir), "
        "polls its events and runs the backups (of the configuration's folder) and restores users "
        "request, reporting state, counters and errors by JSON Patch, and honouring stop requests. "
        f"The vault password comes with a restore (encrypted with the agent's key), else from "
        f"--password-file or ${PASSWORD_ENV}.",
    )
    s.add_argument("--api", required=True, metavar="URL", help="the service root, e.g. http://127.0.0.1:8080")
    s.add_argument("--identity", metavar="URL", help="Identity v2.0's root (default: URL/identity/v2.0 of --api)")
    s.add_argument("--username", required=True)
    s.add_argument("--api-key", required=True)
    s.add_argument("--vault", required=True, metavar="PATH|URL", help="the vault: a directory or swift://...")
    s.add_argument("--state-dir", default=".cloudbackup-agent", metavar="DIR",
                   help="where the agent keeps its identity and key (default ./.cloudbackup-agent)")
    s.add_argument("--password-file", metavar="FILE", help=f"the vault password (else ${PASSWORD_ENV})")
    s.add_argument("--init", action="store_true", help="create the vault when there is none")
    s.add_argument("--name", help="the agent's name when it registers (default: the host name)")
    s.add_argument("--poll-interval", type=_seconds, default=1.0, metavar="S", help="seconds between polls (default 1)")
    s.add_argument("--heartbeat-interval", type=_seconds, metavar="S",
                   help="seconds between heartbeats (default: what the service's agent settings say)")
    s.add_argument("--storage-delay", type=_seconds, default=0.0, metavar="S",
                   help="wait S seconds before each vault read or write (demos: a job slow enough to stop)")
    s.add_argument("--json", action="store_true", help=argparse.SUPPRESS)
    s.set_defaults(run=cmd_agent)
    return p


def _return_large_blocks_to_the_os(threshold: int) -> None:
    """Fixes glibc's mmap threshold at ``threshold`` bytes. By default glibc
    raises it to the size of every large block freed, so large buffers end
    up on the heap, where freed space stays resident; setting it also turns
    that adjustment off. A restore takes 1 MiB: the 4 MiB ranges and blobs
    it passes through grew its peak RSS by ~35 MiB on the heap. A backup
    takes 4 MiB: its chunk-sized buffers stay on the heap (at 1 MiB each
    would be mapped and faulted in afresh: +20% CPU on 256 MiB), its
    bundles (16 MiB and more) go back to the system when freed (bench-peers'
    tree, 2 threads: peak 138-159 MB adaptive, 124-126 MB at 4 MiB, in the
    same time). Other C libraries: nothing to do."""
    if not sys.platform.startswith("linux"):
        return
    try:
        libc = ctypes.CDLL("libc.so.6")
        mallopt = libc.mallopt
    except (OSError, AttributeError):
        return
    m_mmap_threshold = -3
    mallopt(ctypes.c_int(m_mmap_threshold), ctypes.c_int(threshold))


#: The arguments that name files: any bytes the system gives are kept
#: (Python's surrogate escapes, turned back into the same bytes).
_FILE_ARGUMENTS = frozenset(
    {"vault", "source", "dest", "path", "cache_dir", "password_file", "exclude_file", "iexclude_file", "state_dir", "db"}
)


def _refuse_undecodable(parser: argparse.ArgumentParser, args: argparse.Namespace) -> None:
    """Exits with argparse's usage error (status 2) when an argument that is
    text, not a file name (a snapshot id, a pattern, a tag...), holds bytes
    that are not UTF-8: the core reads text as UTF-8, and the error would
    otherwise be a traceback from deep inside."""
    commands = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    command: argparse.ArgumentParser = commands.choices[args.command]
    for action in command._actions:
        if action.dest in _FILE_ARGUMENTS:
            continue
        value = getattr(args, action.dest, None)
        for v in value if isinstance(value, list) else [value]:
            if not isinstance(v, str):
                continue
            try:
                v.encode("utf-8")
            except UnicodeEncodeError:
                name = "/".join(action.option_strings) or str(action.metavar or action.dest.upper())
                shown = v.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")
                command.error(f"argument {name}: {shown!r} is not valid UTF-8 (it is text, not a file name)")


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Runs the tool; returns the exit status."""
    # A file name that is not UTF-8 (a surrogate escape in Python) goes out
    # as its own bytes, as ls prints it, whatever the locale's error handler.
    for stream in (sys.stdout, sys.stderr):
        reconfigure = getattr(stream, "reconfigure", None)
        if reconfigure is not None:
            reconfigure(errors="surrogateescape")
    parser = _parser()
    args = parser.parse_args(argv)
    _refuse_undecodable(parser, args)
    _return_large_blocks_to_the_os(4 << 20 if args.run is cmd_backup else 1 << 20)
    run: Callable[[argparse.Namespace], int] = args.run
    try:
        return run(args)
    except Error as e:
        if args.json:
            print(json.dumps({"error": {"code": e.code, "type": type(e).__name__, "message": str(e), "details": e.details}}))
        print(f"cloudbackup: {type(e).__name__}: {e}", file=sys.stderr)
        return 1
    except OSError as e:
        # "PATH: reason", not Python's "[Errno 13] Permission denied: 'PATH'"
        # (a call on a descriptor names no path).
        names = [os.fsdecode(n) for n in (e.filename, e.filename2) if isinstance(n, (str, bytes))]
        where = "".join(f"{n}: " for n in names[:1]) if len(names) < 2 else f"{names[0]} -> {names[1]}: "
        print(f"cloudbackup: {where}{e.strerror or e}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
