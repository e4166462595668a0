"""The tamper matrix through the Python module: every mutation of the shared
plan (tests/data/tamper/plan.json, see tests/interop/README.md) applied to an
in-memory copy of the fixture vault, then the host's pipeline (open, index,
snapshots, restore every snapshot, verify). Each mutation must fail the
stages the plan names with a typed error whose code the plan accepts, and no
restored byte may differ from the untampered vault's."""

from __future__ import annotations

import contextlib
import io
import json
import os
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional, Set, Tuple

import pytest

from cloudbackup import _native, cli
from cloudbackup.engine import Index, RestoreSession, Snapshot, Vault, Verifier
from cloudbackup.errors import Error, ForeignVault, IntegrityError

from conftest import DATA

TAMPER = DATA / "tamper"
Objects = Dict[str, bytes]
#: Per snapshot, path -> content of the untampered vault.
Baseline = List[Dict[str, bytes]]
#: Per snapshot, path -> the (bundle, start, end) ranges its restore reads.
Reads = List[Dict[str, List[Tuple[str, int, int]]]]
#: None: everything; else per snapshot the paths to restore, and the
#: bundles to verify (see core/tests/tamper_matrix.rs: parts whose inputs
#: the mutation leaves alone give the untampered answer and are not re-run).
Scope = Optional[Tuple[List[List[str]], Set[str]]]


@dataclass
class Outcome:
    errors: List[Tuple[str, str]] = field(default_factory=list)
    bad_writes: int = 0
    files: Baseline = field(default_factory=list)


def _plan() -> Dict[str, Any]:
    plan: Dict[str, Any] = json.loads((TAMPER / "plan.json").read_text())
    return plan


def _objects(plan: Dict[str, Any]) -> Objects:
    return {name: (TAMPER / "vault" / name).read_bytes() for name in plan["objects"]}


def _glob_escape(path: str) -> str:
    return "".join("\\" + c if c in "*?[]{}\\" else c for c in path)


def _id(name: str) -> str:
    return name.rsplit("/", 1)[-1]


def _code(e: Error) -> str:
    # The typed class must agree with the code it carries.
    if e.code in ("corrupt", "foreign_vault"):
        assert isinstance(e, IntegrityError)
    if e.code == "foreign_vault":
        assert isinstance(e, ForeignVault)
    return e.code


def pipeline(objects: Objects, password: str, snapshots: List[str], baseline: Optional[Baseline], scope: Scope) -> Outcome:
    out = Outcome()
    if "config" not in objects:
        out.errors.append(("open", "not_found"))
        return out
    try:
        vault = Vault.open(objects["config"], password)
    except Error as e:
        out.errors.append(("open", _code(e)))
        return out
    index = Index()
    for name in sorted(k for k in objects if k.startswith("index/")):
        try:
            index.load_delta(vault, _id(name), objects[name])
        except Error as e:
            out.errors.append(("index", _code(e)))
            return out
    snaps: List[Snapshot] = []
    for sid in snapshots:
        data = objects.get(f"snapshots/{sid}")
        if data is None:
            out.errors.append(("snapshot", "not_found"))
            return out
        try:
            snaps.append(Snapshot.open(vault, sid, data))
        except Error as e:
            out.errors.append(("snapshot", _code(e)))
            return out
    for n, snap in enumerate(snaps):
        include = None
        if scope is not None:
            if not scope[0][n]:
                continue
            include = scope[0][n]
        try:
            session = RestoreSession(vault, snap, index, include=include)
        except Error as e:
            out.errors.append(("restore", _code(e)))
            continue
        files = {c["path"]: bytearray(int(c["size"])) for c in session.creates if c["kind"] == "file"}
        for fetch in session.plan:
            bundle = objects.get(f"bundles/{fetch['bundle']}")
            if bundle is None:
                session.missing(fetch["bundle"])
                continue
            for r in fetch["ranges"]:
                offset, length = int(r["offset"]), int(r["length"])
                # A short bundle gives a short read, as a file or a ranged GET would.
                for data, places in session.feed(fetch["bundle"], offset, bundle[offset : offset + length]):
                    for path, at in places:
                        if baseline is not None and baseline[n][path][at : at + len(data)] != data:
                            out.bad_writes += 1
                        files[path][at : at + len(data)] = data
        report = session.finish()
        report_errors = report["errors"]
        for entry in (report_errors.get("list") if report_errors else None) or []:
            out.errors.append(("restore", str(entry["type"])))
        out.files.append({p: bytes(b) for p, b in files.items()})
    verifier = Verifier(vault, index)
    for bundle_id in index.verify_plan(1.0, 0):
        if scope is not None and bundle_id not in scope[1]:
            continue
        data = objects.get(f"bundles/{bundle_id}")
        if data is None:
            verifier.missing(bundle_id)
            continue
        try:
            verifier.feed(bundle_id, data)
        except Error:
            pass  # every problem is in the report
    for p in verifier.report()["problems"]:
        out.errors.append(("verify", str(p["code"])))
    return out


def mutate(objects: Objects, m: Dict[str, Any]) -> Objects:
    o = dict(objects)
    name = m["object"]
    if m["op"] == "flip":
        b = bytearray(o[name])
        b[m["offset"]] ^= m["xor"]
        o[name] = bytes(b)
    elif m["op"] == "truncate":
        o[name] = o[name][: m["length"]]
    elif m["op"] == "swap":
        o[name], o[m["with"]] = o[m["with"]], o[name]
    elif m["op"] == "delete":
        del o[name]
    else:
        raise AssertionError(f"unknown mutation {m['op']}")
    return o


def reads(objects: Objects, password: str, snapshots: List[str]) -> Reads:
    """What each file of each snapshot reads, planned one file at a time
    (with no gap coalescing, which the wrapper does not expose)."""
    vault = Vault.open(objects["config"], password)
    index = Index()
    for name in sorted(k for k in objects if k.startswith("index/")):
        index.load_delta(vault, _id(name), objects[name])
    result: Reads = []
    for sid in snapshots:
        snap = Snapshot.open(vault, sid, objects[f"snapshots/{sid}"])
        per_file: Dict[str, List[Tuple[str, int, int]]] = {}
        for e in snap.entries:
            options = {"inclusions": [_glob_escape(e["path"])], "max_gap": 0}
            session = _native.RestoreSession(vault, snap._native, index._native, options)
            plan = session.plan()
            per_file[e["path"]] = [
                (f["bundle"], int(r["offset"]), int(r["offset"]) + int(r["length"])) for f in plan for r in f["ranges"]
            ]
        result.append(per_file)
    return result


def scope(m: Dict[str, Any], file_reads: Reads) -> Scope:
    changed: Dict[str, Tuple[int, int]] = {}
    for key in ("object", "with"):
        name = m.get(key)
        if name is None:
            continue
        if not name.startswith("bundles/"):
            return None
        if m["op"] == "flip":
            region = (m["offset"], m["offset"] + 1)
        elif m["op"] == "truncate":
            region = (m["length"], 1 << 62)
        else:
            region = (0, 1 << 62)
        changed[_id(name)] = region
    paths = [
        [
            _glob_escape(p)
            for p, ranges in files.items()
            if any(b in changed and changed[b][0] < end and start < changed[b][1] for b, start, end in ranges)
        ]
        for files in file_reads
    ]
    return (paths, set(changed))


def test_every_mutation_of_the_plan_is_detected(summary: Callable[[str], None]) -> None:
    plan = _plan()
    objects = _objects(plan)
    password, snapshots = plan["password"], plan["snapshots"]
    clean = pipeline(objects, password, snapshots, None, None)
    assert clean.errors == [], clean.errors
    assert len(clean.files) == len(snapshots)
    file_reads = reads(objects, password, snapshots)
    undetected = []
    for m in plan["mutations"]:
        out = pipeline(mutate(objects, m), password, snapshots, clean.files, scope(m, file_reads))
        failed = {s for s, _ in out.errors}
        ok = (
            bool(out.errors)
            and all(s in failed for s in m["fails"])
            and all(c in m["accept"] for _, c in out.errors)
            and out.bad_writes == 0
        )
        if not ok:
            undetected.append(f"{json.dumps(m)} -> {out.errors}, bad writes {out.bad_writes}")
    n = len(plan["mutations"])
    summary(f"tamper matrix (python): {n} mutations, {n - len(undetected)} detected")
    assert not undetected, "\n".join(undetected)


def _one_per_region(plan: Dict[str, Any]) -> List[Dict[str, Any]]:
    """The first mutation of each region: the CLI runs in subprocesses, so it
    gets a sample of the plan (the in-memory test above takes all of it)."""
    seen: Dict[str, Dict[str, Any]] = {}
    for m in plan["mutations"]:
        seen.setdefault(m["region"], m)
    return list(seen.values())


def _write_vault(objects: Objects, root: Path) -> None:
    for name, data in objects.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_bytes(data)


def _cli_restore(
    tmp: Path, m: Dict[str, Any], objects: Objects, snapshot: str, env: Dict[str, str]
) -> Tuple[int, Dict[str, Any], Path]:
    """Restores `snapshot` of the mutated vault with the CLI: (exit status,
    its JSON, the destination)."""
    vault, dest = tmp / "vault", tmp / "dest"
    for p in (vault, dest):
        shutil.rmtree(p, ignore_errors=True)
    _write_vault(mutate(objects, m), vault)
    status, stdout = _cli(["restore", str(vault), snapshot, str(dest), "--json"], env)
    assert status in (0, 1, 3), f"{m}: exit {status}\n{stdout}"
    out: Dict[str, Any] = json.loads(stdout.splitlines()[0])
    return status, out, dest


def _cli(args: List[str], env: Dict[str, str]) -> Tuple[int, str]:
    """Runs the command line tool's ``main`` in this process (the same code
    as the ``cloudbackup`` command, without an interpreter start per call:
    the sample below makes a hundred calls)."""
    saved = {k: os.environ.get(k) for k in env}
    os.environ.update(env)
    buf = io.StringIO()
    try:
        with contextlib.redirect_stdout(buf), contextlib.redirect_stderr(io.StringIO()):
            status = cli.main(args)
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
    return status, buf.getvalue()


def _cli_env(plan: Dict[str, Any]) -> Dict[str, str]:
    return {"CLOUDBACKUP_PASSWORD": plan["password"]}


def test_the_cli_fails_every_region_with_a_typed_error_and_no_foreign_bytes(
    tmp_path: Path, summary: Callable[[str], None]
) -> None:
    plan = _plan()
    objects = _objects(plan)
    env = _cli_env(plan)
    baseline = pipeline(objects, plan["password"], plan["snapshots"], None, None).files
    sample = _one_per_region(plan)
    for m in sample:
        codes: List[str] = []
        for n, sid in enumerate(plan["snapshots"]):
            status, out, dest = _cli_restore(tmp_path, m, objects, sid, env)
            if "error" in out:  # the restore could not start: open, index or snapshot
                these = [str(out["error"]["code"])]
                assert status == 1, f"{m}: exit {status} with errors {these}"
            else:
                # 3: finished, with the files that failed reported.
                these = [str(e["type"]) for e in (out["report"]["errors"] or {}).get("list") or []]
                assert status == (3 if these else 0), f"{m}: exit {status} with errors {these}"
            codes += these
            # Whatever was written is the original plaintext (holes stay zero).
            for f in dest.rglob("*") if dest.exists() else []:
                if f.is_file() and not f.is_symlink():
                    data, orig = f.read_bytes(), baseline[n]["/" + str(f.relative_to(dest))]
                    assert len(data) == len(orig)
                    assert all(a == b or a == 0 for a, b in zip(data, orig)), f"{m}: {f} has foreign bytes"
        if any(s in m["fails"] for s in ("open", "index", "snapshot", "restore")):
            assert codes, f"{m}: the CLI restored every snapshot"
        # An unreadable index no longer stops the whole restore: the files
        # whose blobs only it located fail as not found (and verify, gc and
        # repair name the index itself).
        accept = m["accept"] + (["not_found"] if m["fails"] == ["index"] else [])
        assert all(c in accept for c in codes), f"{m}: {codes}"
        if "verify" in m["fails"]:
            status, stdout = _cli(["verify", str(tmp_path / "vault"), "--json"], env)
            assert status == 1, f"{m}: verify exit {status}"
            rep = json.loads(stdout.splitlines()[0])
            assert rep["problems"] and all(p["code"] in m["accept"] for p in rep["problems"]), rep
    summary(f"tamper matrix (python cli, in process): {len(sample)} mutations (one per region), {len(sample)} detected")


def test_the_cli_leaves_no_half_written_file(tmp_path: Path) -> None:
    plan = _plan()
    objects = _objects(plan)
    failed: List[str] = []
    for m in (m for m in plan["mutations"] if m["region"] == "bundle.blob.ciphertext"):
        _, out, dest = _cli_restore(tmp_path, m, objects, plan["snapshots"][-1], _cli_env(plan))
        failed = [e["path"] for e in (out.get("report", {}).get("errors") or {}).get("list") or []]
        if failed:
            break
    assert failed, "no blob mutation failed a file of the newest snapshot"
    left = [p for p in failed if (dest / p.lstrip("/")).exists()]
    assert not left, f"half-written files left behind: {left}"
    partial = [p.name for p in dest.rglob("*") if p.name.endswith(".partial")]
    assert not partial, f"temporary files left behind: {partial}"


def test_the_harness_counts_a_no_op_as_undetected_and_sees_foreign_bytes() -> None:
    """The matrix's own check: a mutation that changes nothing reports no
    error (so it could never count as detected), and a write that differs
    from the baseline is counted."""
    plan = _plan()
    objects = _objects(plan)
    password, snapshots = plan["password"], plan["snapshots"]
    clean = pipeline(objects, password, snapshots, None, None)
    blob = next(m for m in plan["mutations"] if m["region"] == "bundle.blob.ciphertext")
    same = pipeline(mutate(objects, {**blob, "xor": 0}), password, snapshots, clean.files, scope(blob, reads(objects, password, snapshots)))
    assert same.errors == [] and same.bad_writes == 0
    skewed = [{p: bytes(b ^ 1 for b in data) for p, data in files.items()} for files in clean.files]
    assert pipeline(objects, password, snapshots, skewed, None).bad_writes > 0
