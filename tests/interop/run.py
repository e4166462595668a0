"""The interop driver (``make test-interop``; see tests/interop/README.md).

1. The backup matrix: a deterministic tree is backed up by each binding (the
   C example agent, the Python CLI, node over the wasm package) into its own
   vault; each binding restores each vault into a fresh directory (holding
   only the temporaries a killed restore would have left, which it must
   remove); every restored tree must equal the source byte for byte (with modes, mtimes and
   symlink targets), every binding must list each vault's snapshot
   identically, and the three snapshots must agree on entries and counters.
2. The API comparison: the same fixtures through each binding's model,
   operations, patch and lifecycle API and the agent's key and snapshot ids
   (a C probe, a Python probe, a node probe), each writing normalised JSON
   lines; the three outputs must be identical. The fixtures: the reference's
   samples, json-patch-tests, every lifecycle triple, and the API fidelity
   table of real clients' quirks (tests/data/api-fidelity).

Run with the project venv's python: ``python tests/interop/run.py --agent
build/c/agent --c-probe build/interop/api_probe``. Stdlib and the
cloudbackup package only.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import stat
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, Dict, List, Optional, Set, Tuple

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
BINDINGS = ("c", "python", "node")
PASSWORD = "interop matrix password"
#: Cheap Argon2 and small chunks and bundles: a few MiB make several bundles.
ENV = {
    "CLOUDBACKUP_PASSWORD": PASSWORD,
    "CLOUDBACKUP_KDF": '{"memory_kib": 8, "iterations": 1, "parallelism": 1}',
    "CLOUDBACKUP_SETTINGS": '{"chunker": {"min_size": 4096, "avg_size": 16384, "max_size": 65536}, '
    '"zstd_level": 3, "bundle_size": 1048576}',
}


def noise(seed: int, n: int) -> bytes:
    """Deterministic incompressible bytes (xorshift32)."""
    out = bytearray(n)
    x = seed
    for i in range(n):
        x ^= (x << 13) & 0xFFFFFFFF
        x ^= x >> 17
        x ^= (x << 5) & 0xFFFFFFFF
        out[i] = x >> 24
    return bytes(out)


#: A folder name that is not UTF-8 (bytes 0xff 0xfe, as surrogate escapes).
ODD_DIR = os.fsdecode(b"odd-\xff\xfe")


#: Files (in the root, so no folder's mtime moves after them) and their
#: mtimes in nanoseconds since 1970.
ODD_TIMES = {
    "before-1970": -14_182_940_123_456_789,
    "year-2400": 13_569_465_600_500_000_000,
    "nanoseconds": 1_700_000_000_987_654_321,
}


#: How far a node restore's mtimes may be from the source's: node reads a
#: time as a double of seconds (~2 µs apart near the year 2400) and libuv
#: keeps whole microseconds of it.
NODE_MTIME_SLACK_NS = 4000


def mtime_slack_ns(reader: str) -> int:
    """How far a restore by ``reader`` may set mtimes from the source's."""
    return NODE_MTIME_SLACK_NS if reader == "node" else 0


def make_tree(root: Path) -> None:
    """Text, binary, an empty file, a 3 MiB file with duplicated regions,
    nested and empty directories, symlinks (one dangling), unicode names,
    a folder whose name is not UTF-8 holding a file with a 255-byte name,
    and various modes and mtimes."""
    if root.exists():
        shutil.rmtree(root)
    block = noise(0x1234567, 256 * 1024)
    files: Dict[str, bytes] = {
        "docs/readme.txt": b"".join(b"line %d: interop\n" % i for i in range(20000)),
        "docs/empty": b"",
        "docs/deep/er/leaf.txt": b"deep\n",
        "bin/random.bin": noise(0xBEEF, 700_000),
        # Duplicated regions: the same 256 KiB block four times, around others.
        "big/large.bin": block + noise(7, 300_000) + block + block + b"\0" * 500_000 + block + noise(9, 1_200_000),
        "big/copy-of-random.bin": noise(0xBEEF, 700_000),
        "unicode/café – 日本語.txt": "ünïcödé 😀\n".encode() * 100,
        "unicode/😀/emoji-dir-file": b"emoji dir\n",
        "with space/a b.txt": b"spaces\n",
    }
    for rel, data in files.items():
        p = root / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_bytes(data)
    (root / "empty-dir").mkdir()
    (root / ODD_DIR).mkdir()
    (root / ODD_DIR / ("n" * 254 + "\udcff")).write_bytes(b"a 255-byte name in a folder named with bytes\n")
    os.symlink("../bin/random.bin", root / "docs" / "latest")
    os.symlink("/nonexistent/target", root / "dangling")
    os.chmod(root / "docs/deep/er/leaf.txt", 0o600)
    os.chmod(root / "bin/random.bin", 0o755)
    os.chmod(root / "with space/a b.txt", 0o640)
    os.chmod(root / "bin", 0o750)
    os.chmod(root / "empty-dir", 0o700)
    # Times: files, then symlinks, then directories deepest first (writing
    # into a directory changes its mtime).
    t = 1_700_000_000
    paths = sorted(root.rglob("*"), key=lambda p: (-len(p.parts), str(p)))
    for i, p in enumerate(paths):
        os.utime(p, (t + i * 61, t + i * 61), follow_symlinks=False)
    # Times a 32-bit or float clock gets wrong, to the nanosecond: before
    # 1970, after 2038 (restic 0.14 restores year 2400 as 1901), and one
    # whose nanoseconds a double cannot hold next to its seconds.
    for name, ns in ODD_TIMES.items():
        (root / name).write_bytes(name.encode() + b"\n")
        os.utime(root / name, ns=(ns, ns))


def tree_state(root: Path) -> Dict[str, Tuple[Any, ...]]:
    """Everything compared of a tree: per path, (type, mode, mtime, content
    or target). Modes and mtimes of symlinks are left out (Linux ignores
    symlink modes; their mtimes are compared separately, see lstat below)."""
    out: Dict[str, Tuple[Any, ...]] = {}
    for p in sorted(root.rglob("*")):
        rel = "/" + str(p.relative_to(root))
        st = os.lstat(p)
        if stat.S_ISLNK(st.st_mode):
            out[rel] = ("symlink", st.st_mtime_ns, os.readlink(p))
        elif stat.S_ISDIR(st.st_mode):
            out[rel] = ("dir", stat.S_IMODE(st.st_mode), st.st_mtime_ns)
        else:
            out[rel] = ("file", stat.S_IMODE(st.st_mode), st.st_mtime_ns, p.read_bytes())
    return out


def first_difference(a: Dict[str, Tuple[Any, ...]], b: Dict[str, Tuple[Any, ...]], mtime_slack_ns: int = 0) -> str:
    """The first path where trees `a` and `b` differ, or "". Mtimes may
    differ by less than `mtime_slack_ns`."""
    for path in sorted(set(a) | set(b)):
        if path not in a or path not in b:
            return f"{path}: only in {'the source' if path in a else 'the restore'}"
        fields = ("type", "mode", "mtime", "content") if a[path][0] != "symlink" else ("type", "mtime", "target")
        for name, x, y in zip(fields, a[path], b[path]):
            if name == "mtime" and x != y and abs(x - y) < mtime_slack_ns:
                continue
            if x != y:
                return f"{path}: {name} differs ({x!r} against {y!r})" if name == "mtime" else f"{path}: {name} differs"
    return ""


def plant_leftovers(dest: Path) -> None:
    """What a killed restore leaves in ``dest`` (temporaries of the core's
    form, of a process that has ended, at the top, in a folder and in the
    folder named with bytes that are not UTF-8): every binding's restore
    must remove them, or the comparison finds them."""
    from cloudbackup.engine import partial_name

    ended = subprocess.Popen(["true"])
    ended.wait()
    for folder, name in ((dest, "readme.txt"), (dest / "docs", "readme.txt"), (dest / ODD_DIR, "x")):
        folder.mkdir(parents=True, exist_ok=True)
        (folder / partial_name(name, ended.pid)).write_bytes(b"left by a killed restore")


class Bindings:
    """How to run each binding's backup, restore and snapshot listing."""

    def __init__(self, agent: Path, node: str) -> None:
        self.agent = agent
        self.node = node
        self.env = {**os.environ, **ENV}

    def run(
        self, binding: str, args: List[str], password: str = PASSWORD, env: Optional[Dict[str, str]] = None
    ) -> "subprocess.CompletedProcess[str]":
        if binding == "c":
            cmd = [str(self.agent), *args]
        elif binding == "python":
            cmd = [sys.executable, "-m", "cloudbackup", *args, "--json"]
            if args[0] == "restore":  # the CLI names the snapshot
                cmd = [sys.executable, "-m", "cloudbackup", "restore", args[1], "latest", args[2], "--json"]
        else:
            cmd = [self.node, str(HERE / "node-vault.mjs"), *args]
        env = {**self.env, "CLOUDBACKUP_PASSWORD": password, **(env or {})}
        return subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=600)

    def snapshots(self, binding: str, vault: Path) -> List[Dict[str, Any]]:
        """The vault's snapshots as this binding decodes them: [{"id", "snapshot"}]."""
        if binding == "python":
            # The CLI lists summaries; the public API gives the decoded snapshots.
            from cloudbackup import LocalVault

            lv = LocalVault.open(str(vault), PASSWORD)
            return [{"id": s.id, "snapshot": s.data} for s in lv.snapshots()]
        r = self.run(binding, ["snapshots", str(vault)])
        if r.returncode != 0:
            raise SystemExit(f"interop: {binding} snapshots {vault}: {r.stderr}{r.stdout}")
        return sorted((json.loads(line) for line in r.stdout.splitlines() if line.strip()), key=lambda s: str(s["id"]))


def only_some(shapes: Dict[str, Dict[str, Any]]) -> Set[str]:
    """Drops from each entry of ``shapes`` (same length lists) the fields
    not every host recorded for it; returns their names."""
    lists = [s["entries"] for s in shapes.values()]
    dropped: Set[str] = set()
    if len({len(entries) for entries in lists}) != 1:
        return dropped
    for row in zip(*lists):
        common = set.intersection(*(set(e) for e in row))
        for e in row:
            for k in set(e) - common:
                dropped.add(k)
                del e[k]
    return dropped


def without_chunks(snapshot: Dict[str, Any]) -> Dict[str, Any]:
    """A snapshot minus what differs between vaults by design: the time, and
    what follows chunk boundaries, which a secret per-vault gear table sets:
    chunk ids (also keyed per vault), bytes_backed_up (the repeated regions
    of a file dedup only where boundaries line up) and bytes_in_db."""
    counters = {k: v for k, v in snapshot["counters"].items() if k not in ("bytes_backed_up", "bytes_in_db")}
    entries = [{k: v for k, v in e.items() if k != "chunks"} for e in snapshot["entries"]]
    return {"hostname": snapshot["hostname"], "counters": counters, "entries": entries}


def backup_counters(binding: str, stdout: str) -> Dict[str, int]:
    """The counters a binding's backup command reported."""
    if binding == "c":  # "backup: snapshot ab12..., counters {...}"
        line = next(line for line in stdout.splitlines() if ", counters " in line)
        found: Dict[str, int] = json.loads(line.split(", counters ", 1)[1])
    else:
        found = json.loads(stdout.splitlines()[-1])["counters"]
    return found


def backup_matrix(work: Path, b: Bindings) -> bool:
    src = work / "src"
    make_tree(src)
    source = tree_state(src)
    files = sum(1 for v in source.values() if v[0] == "file")
    size = sum(len(v[3]) for v in source.values() if v[0] == "file")
    print(f"interop: source tree: {len(source)} entries, {files} files, {size} bytes")
    vaults: Dict[str, Path] = {}
    reported: Dict[str, Dict[str, int]] = {}
    for w in BINDINGS:
        vault = work / f"vault_{w}"
        shutil.rmtree(vault, ignore_errors=True)
        started = time.monotonic()
        # No binding creates a vault implicitly: `init` first, in each.
        r = b.run(w, ["init", str(vault)])
        if r.returncode != 0:
            raise SystemExit(f"interop: {w} init failed: {r.stderr}{r.stdout}")
        r = b.run(w, ["backup", str(src), str(vault)])
        if r.returncode != 0:
            raise SystemExit(f"interop: {w} backup failed: {r.stderr}{r.stdout}")
        bundles = len(list((vault / "bundles").iterdir()))
        reported[w] = backup_counters(w, r.stdout)
        print(f"interop: {w:6} backup -> vault_{w}: {bundles} bundles ({time.monotonic() - started:.1f}s)")
        vaults[w] = vault

    ok = True
    matrix: Dict[Tuple[str, str], str] = {}
    for writer in BINDINGS:
        for reader in BINDINGS:
            dest = work / f"restore_{writer}_by_{reader}"
            shutil.rmtree(dest, ignore_errors=True)
            plant_leftovers(dest)
            r = b.run(reader, ["restore", str(vaults[writer]), str(dest)])
            if r.returncode != 0:
                matrix[writer, reader] = "FAIL"
                print(f"interop: {reader} restoring vault_{writer} failed: {r.stderr.strip()}{r.stdout.strip()}")
                ok = False
                continue
            # node's fs.utimes keeps a few microseconds (a double, then
            # libuv's microseconds); C and Python set the nanoseconds.
            diff = first_difference(source, tree_state(dest), mtime_slack_ns(reader))
            matrix[writer, reader] = "identical" if not diff else "DIFFERS"
            if diff:
                print(f"interop: {reader} restoring vault_{writer}: {diff}")
                ok = False
    print("interop: restore matrix (rows: written by, columns: restored by; compared: every path, type,")
    print("         content, mode, mtime (ns; node's to 4 µs) of files and directories, target and mtime of symlinks)")
    print("           " + "".join(f"{r:>12}" for r in BINDINGS))
    for writer in BINDINGS:
        print(f"  vault_{writer:6}" + "".join(f"{matrix[writer, r]:>12}" for r in BINDINGS))

    # Listings: each binding decodes each vault's snapshot to the same JSON;
    # the three vaults' snapshots agree on everything but chunks and sizes.
    listings: Dict[str, Dict[str, Any]] = {}
    for writer in BINDINGS:
        per_reader = {reader: b.snapshots(reader, vaults[writer]) for reader in BINDINGS}
        if any(per_reader[r] != per_reader["c"] for r in BINDINGS):
            print(f"interop: the bindings list vault_{writer} differently")
            ok = False
        if len(per_reader["c"]) != 1:
            print(f"interop: vault_{writer} has {len(per_reader['c'])} snapshots, expected 1")
            ok = False
            continue
        listings[writer] = per_reader["c"][0]["snapshot"]
        if listings[writer]["counters"] != reported[writer]:
            print(f"interop: {writer}'s backup reported {reported[writer]}, its snapshot says {listings[writer]['counters']}")
            ok = False
    if len(listings) == len(BINDINGS):
        shapes = {w: without_chunks(s) for w, s in listings.items()}
        # Hosts record what their platform gives them (format 2: owners,
        # ctime, inode, links... are optional): entries are compared on the
        # fields every host recorded, the others named.
        partial = only_some(shapes)
        if partial:
            print(f"interop: fields only some hosts record (not compared): {', '.join(sorted(partial))}")
        for w in BINDINGS:
            if shapes[w] != shapes["c"]:
                print(f"interop: vault_{w}'s snapshot differs from vault_c's (entries or counters)")
                ok = False
        c = listings["c"]["counters"]
        print(
            f"interop: listings: each vault listed identically by all 3 bindings; the 3 snapshots agree: "
            f"{len(listings['c']['entries'])} entries, files_searched {c['files_searched']}, "
            f"files_backed_up {c['files_backed_up']}, bytes_searched {c['bytes_searched']}; each backup's "
            f"reported counters equal its snapshot's"
        )
        for w in BINDINGS:
            chunks = sum(len(e.get("chunks", [])) for e in listings[w]["entries"])
            k = listings[w]["counters"]
            print(
                f"interop:   vault_{w:6} bytes_backed_up {k['bytes_backed_up']}, bytes_in_db {k['bytes_in_db']}, "
                f"{chunks} chunk references (per-vault chunk boundaries)"
            )
    return ok


SAMPLES = REPO / "tests" / "data" / "rackspace"
#: PATCH endpoint -> (its resource sample, its PATCH request sample).
ENDPOINTS = {
    "restore": ("cbu-getRestoreDetails_response.json", "cbu-updateRestore_request.json"),
    "backup": ("cbu-getBackupDetails_response.json", "cbu-updateBackup_request.json"),
    "cleanup": ("cbu-getCleanupDetails_response.json", "cbu-updateCleanup_request.json"),
    "logfile": ("cbu-getAgentLogfileDetails_response.json", "cbu-updateLogfile_request.json"),
    "configuration": ("cbu-getConfigurationDetails_response.json", "cbu-updateConfiguration_request.json"),
    "agent": ("cbu-getAgentDetails_response.json", "cbu-updateAgent_request.json"),
}
#: Actors, and one no binding knows (an error path).
ACTORS = ("user", "agent", "scheduler", "robot")


def sample_types() -> Dict[str, str]:
    """Sample file -> model type, from the Rust tests' tables (the one
    mapping every language's sample test reads)."""
    table: Dict[str, str] = {}
    for rust, folder in [("v1_table.rs", "samples-v1"), ("v2_agents_table.rs", "samples-v2"), ("v2_jobs_table.rs", "samples-v2")]:
        text = (REPO / "core" / "tests" / "samples" / rust).read_text()
        for name, type_name in re.findall(r'\(\s*"([^"]+\.json)",\s*"([^"]+)",?\s*\)', text):
            table[f"{folder}/{name}"] = type_name
    return table


def lifecycle_states() -> Dict[str, List[str]]:
    """Each resource's v2 state names, read from the core's enums (plus one
    unknown name, an error path)."""
    text = (REPO / "core" / "src" / "lifecycle" / "state.rs").read_text()
    states: Dict[str, List[str]] = {}
    for resource, enum in [("restore", "RestoreState"), ("backup", "BackupState"), ("cleanup", "CleanupState"), ("logfile", "LogfileState")]:
        body = text.split(f"pub enum {enum} {{", 1)[1].split("}", 1)[0]
        states[resource] = re.findall(r'= "([a-z_]+)"', body)
    return states


FIDELITY = REPO / "tests" / "data" / "api-fidelity" / "cases.json"


def fidelity_fields(case: Dict[str, Any], keys: Dict[str, Any]) -> List[str]:
    """A case of the API fidelity table (tests/data/api-fidelity) as a probe
    line: every field a string, as the C probe reads them."""
    kind = case["kind"]
    if kind == "model":
        return ["model", case["type"], json.dumps(case["body"])]
    if kind == "request":
        a = case["auth"]
        return ["fid-request", case["operation"], json.dumps(case["params"]), a["token"], a["tenant_id"], a.get("agent_id", "")]
    if kind == "response":
        headers = "" if case.get("headers") is None else json.dumps(case["headers"])
        return ["fid-response", case["operation"], json.dumps(case["params"]), str(case["status"]), headers, case["body"]]
    if kind == "transition":
        return ["transition", case["resource"], case["from"], case["to"], case["actor"]]
    if kind == "patch":
        return ["validate", case["endpoint"], json.dumps(case["resource"]), json.dumps(case["patch"]), case["actor"]]
    if kind == "decrypt_password":
        return ["fid-decrypt", keys[case["key"]]["der_hex"], case["encrypted_password_hex"]]
    if kind == "public_key":
        return ["fid-pubkey", keys[case["key"]]["der_hex"]]
    if kind == "snapshot_id":
        return ["fid-snapid", case["vault_snapshot_id"]]
    if kind == "snapshot_prefix":
        return ["fid-snapprefix", str(case["snapshot_id"])]
    raise SystemExit(f"interop: fidelity case {case['name']!r} has an unknown kind {kind}")


def api_cases() -> Tuple[List[List[str]], Dict[str, int]]:
    """Every case of the comparison, as (op, arguments...) strings."""
    cases: List[List[str]] = []
    counts: Dict[str, int] = {}

    def add(group: str, *fields: str) -> None:
        cases.append(list(fields))
        counts[group] = counts.get(group, 0) + 1

    for name, type_name in sorted(sample_types().items()):
        add("model: rackspace samples", "model", type_name, (SAMPLES / name).read_text())
    fidelity = json.loads(FIDELITY.read_text(encoding="utf-8"))
    for case in fidelity["cases"]:
        add("api fidelity: quirk cases of real clients", *fidelity_fields(case, fidelity["keys"]))
    restore = (SAMPLES / "samples-v2" / ENDPOINTS["restore"][0]).read_text()
    for suite in ("tests.json", "spec_tests.json"):
        for case in json.loads((REPO / "tests" / "data" / "json-patch-tests" / suite).read_text()):
            if "doc" not in case or "patch" not in case:
                continue
            add("patch: json-patch-tests applied", "apply", json.dumps(case["doc"]), json.dumps(case["patch"]))
            for actor in ("user", "agent"):
                add("patch: json-patch-tests validated on a restore", "validate", "restore", restore, json.dumps(case["patch"]), actor)
    states = lifecycle_states()
    patches = [(SAMPLES / "samples-v2" / patch).read_text() for _, patch in ENDPOINTS.values()]
    for endpoint, (resource_file, _) in ENDPOINTS.items():
        resource = json.loads((SAMPLES / "samples-v2" / resource_file).read_text())
        # Resources with a lifecycle are tried in each of its states.
        for state in states.get(endpoint, [""]):
            if state:
                resource["state"] = state
            for patch in patches:
                for actor in ACTORS:
                    add("patch: endpoint samples x states x actors", "validate", endpoint, json.dumps(resource), patch, actor)
    for resource_name, names in states.items():
        for a in [*names, "no_such_state"]:
            add("lifecycle: allowed actions", "actions", resource_name, a)
            for actor in ACTORS:
                add("lifecycle: allowed targets", "targets", resource_name, a, actor)
                for b in names:
                    add("lifecycle: transitions", "transition", resource_name, a, b, actor)
    return cases, counts


def api_comparison(work: Path, agent_probe: Path, node: str) -> bool:
    cases, counts = api_cases()
    path = work / "api-cases.tsv"
    path.write_text("".join("\t".join(f.encode().hex() for f in c) + "\n" for c in cases), encoding="ascii")
    commands = {
        "c": [str(agent_probe), str(path)],
        "python": [sys.executable, str(HERE / "api_probe.py"), str(path)],
        "node": [node, str(HERE / "api-probe.mjs"), str(path)],
    }
    answers: Dict[str, List[Dict[str, Any]]] = {}
    for w, cmd in commands.items():
        r = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
        if r.returncode != 0:
            raise SystemExit(f"interop: the {w} probe failed: {r.stderr}")
        answers[w] = [json.loads(line) for line in r.stdout.splitlines()]
        (work / f"api-answers-{w}.jsonl").write_text(
            "".join(json.dumps(a, sort_keys=True) + "\n" for a in answers[w])
        )
        if len(answers[w]) != len(cases):
            raise SystemExit(f"interop: the {w} probe answered {len(answers[w])} of {len(cases)} cases")
    ok = True
    compared = skipped = 0
    for i, case in enumerate(cases):
        got = {w: answers[w][i] for w in BINDINGS if "skip" not in answers[w][i]}
        skipped += len(BINDINGS) - len(got)
        first = next(iter(got.values()))
        compared += 1
        for w, a in got.items():
            if a != first:
                print(f"interop: API answers differ on case {i} ({case[0]} {case[1]!r}...): "
                      f"{json.dumps(got, sort_keys=True)[:600]}")
                ok = False
                break
        if not ok:
            break
    for group, n in counts.items():
        print(f"interop: api: {n:5} cases  {group}")
    verdicts: Dict[str, int] = {}
    for a in answers["python"]:
        key = "accepted" if a["ok"] else a["code"]
        verdicts[key] = verdicts.get(key, 0) + 1
    print(f"interop: api: answers by outcome: {json.dumps(verdicts, sort_keys=True)}")
    print(
        f"interop: api: {compared} cases through C, Python and node: "
        f"{'identical answers (result, or error code, message and details)' if ok else 'DIFFERENT'}"
        f"{f'; {skipped} C answers skipped (no C export for plain RFC 6902 apply)' if skipped else ''}"
    )
    return ok


def file_root_matrix(work: Path, b: Bindings) -> bool:
    """A root that is no directory: each binding backs up a symlink to a
    file (the core's split_file_root names the one entry after the
    resolved file), then each restores each vault: only that file, with
    its bytes, mode and mtime, in every destination."""
    src = work / "file-root"
    shutil.rmtree(src, ignore_errors=True)
    src.mkdir(parents=True)
    data = src / ("db-\udcff.dump")  # a name that is not UTF-8 too
    data.write_bytes(noise(0xF11E, 300_000))
    os.chmod(data, 0o640)
    os.utime(data, ns=(1, ODD_TIMES["nanoseconds"]))
    os.symlink(data.name, src / "current")
    want = {"/" + data.name: ("file", 0o640, ODD_TIMES["nanoseconds"], data.read_bytes())}
    ok = True
    for writer in BINDINGS:
        vault = work / f"file_root_vault_{writer}"
        shutil.rmtree(vault, ignore_errors=True)
        for args in (["init", str(vault)], ["backup", str(src / "current"), str(vault)]):
            r = b.run(writer, args)
            if r.returncode != 0:
                print(f"interop: file root: {writer} {args[0]} failed: {r.stderr.strip()}{r.stdout.strip()}")
                return False
        for reader in BINDINGS:
            dest = work / f"file_root_{writer}_by_{reader}"
            shutil.rmtree(dest, ignore_errors=True)
            r = b.run(reader, ["restore", str(vault), str(dest)])
            diff = (
                first_difference(want, tree_state(dest), mtime_slack_ns(reader))
                if r.returncode == 0
                else f"failed: {r.stderr.strip()}{r.stdout.strip()}"
            )
            if diff:
                print(f"interop: file root: {reader} restoring {writer}'s vault: {diff}")
                ok = False
    if ok:
        print(f"interop: file root: a symlink to a file backed up by each binding, restored by each: the one file {os.fsencode(data.name)!r}, identical (9/9)")
    return ok


def dead_lock_matrix(work: Path, b: Bindings) -> bool:
    """A gc of this host killed while it held its exclusive lock: each
    binding's backup meets the lock, whose process is gone, and gives up at
    once (the core's give_up decision) with an error calling it stale and
    naming `unlock`, instead of waiting out a 60-second lock wait; after the
    CLI's unlock, each backs up."""
    src = work / "dead-lock-src"
    shutil.rmtree(src, ignore_errors=True)
    src.mkdir(parents=True)
    (src / "a.txt").write_bytes(b"locked out\n")
    ok = True
    for binding in BINDINGS:
        vault = work / f"dead_lock_vault_{binding}"
        shutil.rmtree(vault, ignore_errors=True)
        r = b.run(binding, ["init", str(vault)])
        if r.returncode != 0:
            print(f"interop: dead lock: {binding} init failed: {r.stderr.strip()}")
            return False
        holder = subprocess.Popen(
            [
                sys.executable,
                "-c",
                "import sys, time; from cloudbackup.store import StoredVault; "
                "l = StoredVault.open(sys.argv[1], sys.argv[2]).lock('gc', exclusive=True); l.acquire(); "
                "print('held', flush=True); time.sleep(600)",
                str(vault),
                PASSWORD,
            ],
            stdout=subprocess.PIPE,
            text=True,
            env=b.env,
        )
        try:
            held = holder.stdout.readline().strip() if holder.stdout else ""
        finally:
            holder.kill()
            holder.wait()
        if held != "held":
            print(f"interop: dead lock: the gc holding {vault} did not start")
            return False
        started = time.monotonic()
        r = b.run(binding, ["backup", str(src), str(vault)], env={"CLOUDBACKUP_RETRY_LOCK": "60"})
        took = time.monotonic() - started
        out = r.stderr + r.stdout
        if r.returncode == 0 or took > 30 or "stale" not in out or "unlock" not in out:
            print(f"interop: dead lock: {binding} backup: exit {r.returncode} after {took:.1f}s: {out.strip()[-400:]}")
            ok = False
        r = b.run("python", ["unlock", str(vault)])
        r2 = b.run(binding, ["backup", str(src), str(vault)])
        if r.returncode != 0 or r2.returncode != 0:
            print(f"interop: dead lock: {binding} after unlock: {r.stderr.strip()} {r2.stderr.strip()}")
            ok = False
    if ok:
        print("interop: dead lock: each binding's backup gave up at once on a killed gc's lock, naming it stale and unlock; after unlock each backed up (3/3)")
    return ok


def restore_failures(stdout: str) -> List[str]:
    """The paths a restore's report (the core's, in each binding's output:
    the C agent's `restore: {...}` line, the CLI's and node's JSON) lists as
    failed."""
    for line in stdout.splitlines():
        try:
            out = json.loads(line.removeprefix("restore: "))
        except ValueError:
            continue
        report = out.get("report", out) if isinstance(out, dict) else None
        if isinstance(report, dict) and "files_restored" in report:
            return [str(e["path"]) for e in ((report.get("errors") or {}).get("list") or [])]
    return []


#: The entries of tests/crafted/misplaced a restore must fail, in order.
MISPLACED = ["/a/x", "/f/under", "/twice", "/a/secret", "/x"]


def misplaced_matrix(work: Path, b: Bindings) -> bool:
    """tests/crafted/misplaced (core/examples/misplaced_vault.rs): a snapshot
    with a symlink /a -> ../outside and a file /a/x "inside" it, a file
    below a file, a path twice, a hard link whose first name is inside /a,
    and a symlink /x after the file /x/y. Each binding restores it: those
    five fail by name (exit 3), nothing appears in ../outside, the rest is
    restored (the hard link's other name with the content). Before the
    core planned around them, the C agent wrote /a/x through the link into
    ../outside."""
    crafted = REPO / "tests" / "crafted" / "misplaced"
    password = (crafted / "PASSWORD").read_text()
    ok = True
    for reader in BINDINGS:
        place = work / f"misplaced_{reader}"
        shutil.rmtree(place, ignore_errors=True)
        shutil.copytree(crafted / "vault", place / "vault")
        (place / "outside").mkdir()
        r = b.run(reader, ["restore", str(place / "vault"), str(place / "dest")], password)
        got = {path: state[0] if state[0] != "file" else state[3] for path, state in tree_state(place / "dest").items()}
        got.update({path: state[2] for path, state in tree_state(place / "dest").items() if state[0] == "symlink"})
        want = {
            "/a": "../outside",
            "/f": b"a file\n",
            "/h": b"one file, three names\n",
            "/ok": b"restored\n",
            "/twice": "dir",
            "/w": "dir",
            "/w/h2": b"one file, three names\n",
            "/x": "dir",
            "/x/y": b"placed before its folder\n",
        }
        failed = restore_failures(r.stdout)
        problems = [
            f"exit {r.returncode}, not 3" if r.returncode != 3 else "",
            f"wrote outside its target: {os.listdir(place / 'outside')}" if os.listdir(place / "outside") else "",
            f"restored {got}, not {want}" if got != want else "",
            f"reported {failed}, not {MISPLACED}" if failed != MISPLACED else "",
        ]
        for problem in filter(None, problems):
            print(f"interop: misplaced entries: {reader}: {problem} ({r.stderr.strip()[-400:]})")
            ok = False
    if ok:
        print(f"interop: misplaced entries: each binding restored tests/crafted/misplaced without writing outside its target, the {len(MISPLACED)} misplaced entries failed by name (3/3)")
    return ok


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    p.add_argument("--agent", type=Path, default=REPO / "build" / "c" / "agent")
    p.add_argument("--c-probe", type=Path, default=REPO / "build" / "interop" / "api_probe")
    p.add_argument("--node", default="node")
    p.add_argument("--work", type=Path, default=REPO / "build" / "interop")
    args = p.parse_args()
    args.work.mkdir(parents=True, exist_ok=True)
    started = time.monotonic()
    bindings = Bindings(args.agent.resolve(), args.node)
    ok = backup_matrix(args.work, bindings)
    ok = file_root_matrix(args.work, bindings) and ok
    ok = misplaced_matrix(args.work, bindings) and ok
    ok = dead_lock_matrix(args.work, bindings) and ok
    print(f"interop: backup matrix {'passed' if ok else 'FAILED'} ({time.monotonic() - started:.1f}s)")
    started = time.monotonic()
    api_ok = api_comparison(args.work, args.c_probe.resolve(), args.node)
    print(f"interop: API comparison {'passed' if api_ok else 'FAILED'} ({time.monotonic() - started:.1f}s)")
    return 0 if ok and api_ok else 1


if __name__ == "__main__":
    sys.exit(main())
