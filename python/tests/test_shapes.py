"""The values the native module hands out are plain Python objects of the
shapes :mod:`cloudbackup.shapes` declares (the npm package's TypeScript
shapes): every required member present, no member it does not declare."""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any, Mapping, get_args, get_origin, get_type_hints

import cloudbackup as cb
from cloudbackup import shapes
from cloudbackup.engine import prune_options
from conftest import FAST_KDF

SMALL = {"chunker": {"min_size": 4096, "avg_size": 16384, "max_size": 65536}, "zstd_level": 3, "bundle_size": 65536}


def fits(value: Any, shape: Any, where: str = "value") -> None:
    """Asserts that ``value`` has the TypedDict ``shape`` (recursively for
    members whose type is a TypedDict or a list of one)."""
    assert isinstance(value, dict), f"{where}: {type(value).__name__}, not a dict"
    keys = set(value)
    assert shape.__required_keys__ <= keys, f"{where}: missing {shape.__required_keys__ - keys}"
    assert keys <= set(shape.__annotations__), f"{where}: undeclared {keys - set(shape.__annotations__)}"
    hints = get_type_hints(shape)
    for key, member in value.items():
        if member is None:
            continue  # an Optional member (mypy checks which may be None)
        hint = hints[key]
        args = get_args(hint)
        if args and get_origin(hint) is not list:
            # NotRequired[...] or Optional[...]: look inside.
            hint = next((a for a in args if a is not type(None)), hint)
            args = get_args(hint)
        if isinstance(hint, type) and hasattr(hint, "__required_keys__"):
            fits(member, hint, f"{where}.{key}")
        elif get_origin(hint) is list and args and hasattr(args[0], "__required_keys__"):
            assert isinstance(member, list)
            for i, item in enumerate(member):
                fits(item, args[0], f"{where}.{key}[{i}]")


def each(values: Any, shape: Any, where: str) -> None:
    assert isinstance(values, list) and values, f"{where}: an empty list proves nothing"
    for i, v in enumerate(values):
        fits(v, shape, f"{where}[{i}]")


def test_api_values_have_their_shapes() -> None:
    each(cb.operations(), shapes.OperationInfo, "operations")
    fits(cb.build_request("v2.restores.get_restore", {"restore_id": "e8"}, token="t", tenant_id="1"), shapes.Request)
    fits(cb.transition("restore", "queued", "preparing", "agent"), shapes.TransitionStep)
    key = cb.AgentKey.generate(1024)
    fits(key.public_key(), shapes.PublicKeyV1)
    fits(key.rsa_public_key(), shapes.RsaPublicKey)


def test_engine_values_have_their_shapes(tmp_path: Path) -> None:
    src = tmp_path / "src"
    (src / "d").mkdir(parents=True)
    for i in range(4):
        (src / "d" / f"f{i}.bin").write_bytes(os.urandom(70_000))
    (src / "a.txt").write_text("alpha\n" * 100)
    os.symlink("a.txt", src / "link")
    sv = cb.StoredVault.init(str(tmp_path / "vault"), "pw", SMALL, FAST_KDF)
    fits(sv.vault.info(), shapes.VaultInfo)
    each(sv.vault.key_slots(), shapes.KeySlot, "key_slots")
    first = sv.backup(str(src), hostname="h", tags=["t"])
    (src / "d" / "f1.bin").unlink()
    (src / "a.txt").write_text("beta\n")
    sv.backup(str(src), hostname="h")

    state = sv.state()
    each(state.summaries(), shapes.SnapshotSummary, "summaries")
    old, new = sv.snapshots()
    fits(old.data, shapes.SnapshotData, "snapshot")
    each(old.entries, shapes.SnapshotEntry, "entries")
    each(old.ls("/", recursive=True), shapes.ListedEntry, "ls")
    fits(old.diff(new), shapes.SnapshotDiff, "diff")
    each(old.diff(new)["changes"], shapes.SnapshotChange, "changes")
    fits(sv.verify(), shapes.VerifyReport, "verify")
    fits(state.gc_plan(time.time_ns(), 0), shapes.GcPlan, "gc plan")

    restored = sv.restore(first.snapshot_id, str(tmp_path / "out"))
    fits(restored.report, shapes.RestoreReport, "restore report")

    sv.forget({"last": 1})
    pruned = sv.prune({"max_unused": "0%"})
    fits(pruned.plan, shapes.PrunePlan, "prune plan")
    assert pruned.report is not None
    fits(pruned.report, shapes.PruneReport, "prune report")


def test_shapes_name_what_the_typescript_declares() -> None:
    """Each shape has the name of a TypeScript interface of the npm package
    (the .d.ts the wasm binding generates), so the two read alike."""
    repo = Path(__file__).resolve().parents[2]
    declared = "".join(p.read_text() for p in (repo / "bindings" / "wasm" / "src").glob("*.rs"))
    renamed: Mapping[str, str] = {"Problem": "VerifyProblem", "KeySlot": "", "SnapshotDiffTotals": ""}
    for name in shapes.__all__:
        ts = renamed.get(name, name)
        if ts:
            assert f"export interface {ts} " in declared, name


def test_shapes_are_taken_as_arguments() -> None:
    """The TypedDicts are plain dicts: the calls that take such an object
    take them (typed as mappings)."""
    kdf = shapes.KdfParams(memory_kib=64, iterations=1, parallelism=1)
    vault = cb.Vault.create("pw", kdf=kdf)
    assert vault.key_slots()[0]["kdf"] == kdf
    options = prune_options(shapes.PruneOptions(max_unused="10%", repack_small=True))
    assert options["max_unused"] == "10%" and options["repack_small"] is True
