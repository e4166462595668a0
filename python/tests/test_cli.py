"""The ``cloudbackup`` command, run for real in a subprocess on temporary
directories."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Dict, List

import pytest

from conftest import DATA, FAST_KDF_JSON, GOLDEN, run_cli


def make_tree(root: Path) -> None:
    (root / "docs" / "deep").mkdir(parents=True)
    (root / "docs" / "a.txt").write_text("alpha\n")
    (root / "docs" / "deep" / "b.log").write_bytes(os.urandom(200_000))
    (root / "big.bin").write_bytes(os.urandom(1_500_000))
    (root / "copy.bin").write_bytes((root / "big.bin").read_bytes())
    (root / "empty").write_bytes(b"")
    os.symlink("docs/a.txt", root / "link")
    os.chmod(root / "docs" / "a.txt", 0o640)


def same_tree(a: Path, b: Path) -> None:
    names_a = sorted(str(p.relative_to(a)) for p in a.rglob("*"))
    names_b = sorted(str(p.relative_to(b)) for p in b.rglob("*"))
    assert names_a == names_b
    for name in names_a:
        pa, pb = a / name, b / name
        if pa.is_symlink():
            assert os.readlink(pa) == os.readlink(pb)
        elif pa.is_file():
            assert pa.read_bytes() == pb.read_bytes(), name
            assert (pa.stat().st_mode & 0o7777) == (pb.stat().st_mode & 0o7777), name
            assert int(pa.stat().st_mtime) == int(pb.stat().st_mtime), name


def test_backup_snapshots_restore_verify(tmp_path: Path, cli_env: Dict[str, str]) -> None:
    src, vault = tmp_path / "src", tmp_path / "vault"
    make_tree(src)
    r = run_cli(["init", str(vault)], cli_env)
    assert r.returncode == 0, r.stderr
    assert (vault / "config").is_file() and (vault / "bundles").is_dir()
    r = run_cli(["backup", "--init", str(src), str(vault), "--json"], cli_env)
    assert r.returncode == 0, r.stderr
    first = json.loads(r.stdout)
    assert first["files"] == 5 and first["symlinks"] == 1
    assert first["counters"]["bytes_backed_up"] < first["counters"]["bytes_searched"]
    r = run_cli(["snapshots", str(vault), "--json"], cli_env)
    snaps = json.loads(r.stdout)["snapshots"]
    assert [s["id"] for s in snaps] == [first["snapshot"]]
    r = run_cli(["restore", str(vault), first["snapshot"][:12], str(tmp_path / "out")], cli_env)
    assert r.returncode == 0, r.stderr
    same_tree(src, tmp_path / "out")
    r = run_cli(["restore", str(vault), "latest", str(tmp_path / "out1"), "--threads", "1"], cli_env)
    assert r.returncode == 0, r.stderr
    same_tree(src, tmp_path / "out1")
    r = run_cli(["verify", str(vault)], cli_env)
    assert r.returncode == 0 and "verify: ok" in r.stdout
    r = run_cli(["verify", str(vault), "--sample", "0.5", "--json"], cli_env)
    assert json.loads(r.stdout)["ok"] is True


def test_restore_never_overwrites_unless_asked(tmp_path: Path, cli_env: Dict[str, str]) -> None:
    src, vault, out = tmp_path / "src", tmp_path / "vault", tmp_path / "out"
    make_tree(src)
    assert run_cli(["backup", "--init", str(src), str(vault)], cli_env).returncode == 0
    out.mkdir()
    (out / "empty").write_text("mine")
    r = run_cli(["restore", str(vault), "latest", str(out), "--json"], cli_env)
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["report"]["files_skipped"] == 1
    assert (out / "empty").read_text() == "mine"
    r = run_cli(["restore", str(vault), "latest", str(out), "--overwrite"], cli_env)
    assert r.returncode == 0
    assert (out / "empty").read_bytes() == b""
    sub = tmp_path / "sub"
    # restic's meaning: /docs is the folder and all below, *.log any depth.
    r = run_cli(["restore", str(vault), "latest", str(sub), "--include", "/docs", "--exclude", "*.log"], cli_env)
    assert r.returncode == 0, r.stderr
    assert (sub / "docs" / "a.txt").is_file() and not (sub / "big.bin").exists()
    assert (sub / "docs" / "deep").is_dir() and not (sub / "docs" / "deep" / "b.log").exists()


def test_overwrite_replaces_entries_of_another_type_but_never_follows_or_empties(
    tmp_path: Path, cli_env: Dict[str, str]
) -> None:
    """What is in the way of the snapshot's entries: a symlink (to a folder
    outside) or a file where a folder goes, a folder where a file or a
    symlink goes. Without --overwrite each fails its path and nothing is
    followed; with it each is replaced, as restic replaces them, except a
    folder with content (restic keeps it without --delete)."""
    src, vault, outside = tmp_path / "src", tmp_path / "vault", tmp_path / "outside"
    make_tree(src)
    outside.mkdir()
    assert run_cli(["backup", "--init", str(src), str(vault)], cli_env).returncode == 0

    def prepared(name: str) -> Path:
        out = tmp_path / name
        out.mkdir()
        os.symlink(outside, out / "docs")  # a symlink where the folder goes
        (out / "copy.bin").mkdir()  # an empty folder where a file goes
        (out / "link").mkdir()  # an empty folder where a symlink goes
        (out / "big.bin").mkdir()
        (out / "big.bin" / "keep").write_text("mine")  # a folder with content
        return out

    kept = prepared("kept")
    r = run_cli(["restore", str(vault), "latest", str(kept)], cli_env)
    assert r.returncode == 3, r.stderr
    assert (kept / "docs").is_symlink() and list(outside.iterdir()) == []
    assert (kept / "copy.bin").is_dir() and (kept / "link").is_dir()

    out = prepared("out")
    r = run_cli(["restore", str(vault), "latest", str(out), "--overwrite"], cli_env)
    # Only the folder with content stands in the way.
    assert r.returncode == 3 and "error: /big.bin: " in r.stderr, r.stderr
    assert (out / "big.bin" / "keep").read_text() == "mine"
    assert list(outside.iterdir()) == []
    assert not (out / "docs").is_symlink() and (out / "docs" / "deep" / "b.log").read_bytes() == (src / "docs" / "deep" / "b.log").read_bytes()
    assert (out / "copy.bin").read_bytes() == (src / "copy.bin").read_bytes()
    assert os.readlink(out / "link") == "docs/a.txt"
    (out / "big.bin" / "keep").unlink()
    # The emptied folder is replaced too on the next run.
    r = run_cli(["restore", str(vault), "latest", str(out), "--overwrite"], cli_env)
    assert r.returncode == 0, r.stderr
    same_tree(src, out)


def test_passwords_and_settings_that_cannot_be_read_are_clear_errors(tmp_path: Path, cli_env: Dict[str, str]) -> None:
    """No terminal and no password, a password file that is not UTF-8, a
    KDF or settings variable that is not a JSON object: each says which, no
    traceback."""
    vault = str(tmp_path / "vault")
    no_password = {k: v for k, v in cli_env.items() if k != "CLOUDBACKUP_PASSWORD"}
    r = run_cli(["init", vault], no_password, stdin="")
    assert r.returncode == 1 and "no password: set $CLOUDBACKUP_PASSWORD" in r.stderr and "Traceback" not in r.stderr
    bad = tmp_path / "pw"
    bad.write_bytes(b"p\xff\n")
    r = run_cli(["init", "--password-file", str(bad), vault], no_password)
    assert r.returncode == 1 and "the password is not UTF-8 text" in r.stderr and "Traceback" not in r.stderr
    for name, value, says in [("CLOUDBACKUP_KDF", "{", "is not JSON"), ("CLOUDBACKUP_SETTINGS", "5", "must be a JSON object")]:
        r = run_cli(["init", vault], dict(cli_env, **{name: value}))
        assert r.returncode == 1 and f"${name} {says}" in r.stderr and "Traceback" not in r.stderr, r.stderr
    assert not os.path.exists(vault)


def test_second_backup_and_newest_snapshot(tmp_path: Path, cli_env: Dict[str, str]) -> None:
    src, vault = tmp_path / "src", tmp_path / "vault"
    make_tree(src)
    first = json.loads(run_cli(["backup", "--init", str(src), str(vault), "--json"], cli_env).stdout)
    (src / "docs" / "a.txt").write_text("changed\n")
    second = json.loads(run_cli(["backup", "--init", str(src), str(vault), "--json"], cli_env).stdout)
    assert second["counters"]["bytes_backed_up"] < 100
    r = run_cli(["restore", str(vault), first["snapshot"], str(tmp_path / "old")], cli_env)
    assert r.returncode == 0
    assert (tmp_path / "old" / "docs" / "a.txt").read_text() == "alpha\n"
    r = run_cli(["snapshots", str(vault), "--json"], cli_env)
    assert len(json.loads(r.stdout)["snapshots"]) == 2


def test_errors_and_exit_codes(tmp_path: Path, cli_env: Dict[str, str]) -> None:
    src, vault = tmp_path / "src", tmp_path / "vault"
    make_tree(src)
    assert run_cli(["backup", "--init", str(src), str(vault)], cli_env).returncode == 0
    wrong = dict(cli_env, CLOUDBACKUP_PASSWORD="nope")
    r = run_cli(["snapshots", str(vault), "--json"], wrong)
    assert r.returncode == 1 and "WrongPassword" in r.stderr
    assert json.loads(r.stdout)["error"]["code"] == "wrong_password"
    r = run_cli(["restore", str(vault), "ffff", str(tmp_path / "x")], cli_env)
    assert r.returncode == 1 and "NotFound" in r.stderr
    r = run_cli(["init", str(vault)], cli_env)
    assert r.returncode == 1 and "already holds a vault" in r.stderr
    r = run_cli(["restore", str(vault)], cli_env)
    assert r.returncode == 2
    # Tamper a bundle: verify reports it and exits 1, restore exits 3.
    bundle = next((vault / "bundles").iterdir())
    data = bytearray(bundle.read_bytes())
    data[300] ^= 1
    bundle.write_bytes(bytes(data))
    r = run_cli(["verify", str(vault), "--json"], cli_env)
    assert r.returncode == 1 and json.loads(r.stdout)["problems"][0]["code"] == "corrupt"
    r = run_cli(["restore", str(vault), "latest", str(tmp_path / "t")], cli_env)
    # 3: the restore finished; each file it could not restore is named.
    assert r.returncode == 3 and "error: /" in r.stderr and "could not be restored" in r.stdout


def test_password_file_passwd_and_no_echo(tmp_path: Path, cli_env: Dict[str, str]) -> None:
    vault = tmp_path / "vault"
    pwfile = tmp_path / "pw"
    pwfile.write_text("from a file\n")
    env = dict(cli_env)
    del env["CLOUDBACKUP_PASSWORD"]
    assert run_cli(["init", str(vault), "--password-file", str(pwfile)], env).returncode == 0
    r = run_cli(["passwd", str(vault), "--password-file", str(pwfile)], dict(env, CLOUDBACKUP_NEW_PASSWORD="newer"))
    assert r.returncode == 0, r.stderr
    assert "newer" not in r.stdout + r.stderr
    r = run_cli(["snapshots", str(vault)], dict(env, CLOUDBACKUP_PASSWORD="newer"))
    assert r.returncode == 0 and "no snapshots" in r.stdout
    r = run_cli(["snapshots", str(vault), "--password-file", str(pwfile)], env)
    assert r.returncode == 1 and "WrongPassword" in r.stderr


def test_key_list_add_remove(tmp_path: Path, cli_env: Dict[str, str]) -> None:
    """Several passwords open one vault; a slot is removed by id prefix, but
    never the one in use nor the last; the removed password stops working."""
    vault = str(tmp_path / "vault")
    one = dict(cli_env, CLOUDBACKUP_PASSWORD="first")
    two = dict(cli_env, CLOUDBACKUP_PASSWORD="second")
    assert run_cli(["init", vault], one).returncode == 0
    r = run_cli(["key", "add", vault, "--json"], dict(one, CLOUDBACKUP_NEW_PASSWORD="second"))
    assert r.returncode == 0, r.stderr
    added = json.loads(r.stdout)["added"]
    assert "second" not in r.stdout + r.stderr

    r = run_cli(["key", "list", vault, "--json"], two)
    assert r.returncode == 0, r.stderr
    slots = json.loads(r.stdout)["key_slots"]
    assert [s["current"] for s in slots] == [False, True] and slots[1]["id"] == added
    first = slots[0]["id"]
    r = run_cli(["key", "list", vault], one)
    assert r.stdout.splitlines()[0].startswith(f"* {first}") and "argon2id" in r.stdout

    r = run_cli(["key", "remove", vault, first], one)
    assert r.returncode == 1 and "InvalidArgument" in r.stderr and "in use" in r.stderr
    r = run_cli(["key", "remove", vault, "zz"], two)
    assert r.returncode == 1 and "InvalidValue" in r.stderr
    r = run_cli(["key", "remove", vault, first[:6], "--json"], two)
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["removed"] == first
    r = run_cli(["snapshots", vault], one)
    assert r.returncode == 1 and "WrongPassword" in r.stderr
    r = run_cli(["key", "remove", vault, added], two)
    assert r.returncode == 1 and "InvalidArgument" in r.stderr
    assert run_cli(["snapshots", vault], two).returncode == 0


def test_encrypt_password(cli_env: Dict[str, str]) -> None:
    text = (DATA / "rackspace" / "samples-v2" / "cbu-getAgentDetails_response.json").read_text()
    modulus = text.split('"modulus": "')[1].split('"')[0]
    r = run_cli(["encrypt-password", "--modulus", modulus, "--exponent", "10001", "--json"], cli_env)
    assert r.returncode == 0, r.stderr
    assert len(json.loads(r.stdout)["encrypted_password_hex"]) == len(modulus)
    r = run_cli(["encrypt-password", "--modulus", "zz", "--exponent", "10001"], cli_env)
    assert r.returncode == 1 and "InvalidArgument" in r.stderr


def test_golden_vault_with_the_cli(tmp_path: Path, cli_env: Dict[str, str]) -> None:
    copy = tmp_path / "golden"
    shutil.copytree(GOLDEN / "vault", copy)
    env = dict(cli_env, CLOUDBACKUP_PASSWORD=(GOLDEN / "PASSWORD").read_text().strip())
    r = run_cli(["restore", str(copy), "latest", str(tmp_path / "out")], env)
    assert r.returncode == 0, r.stderr
    for p in (GOLDEN / "expected").rglob("*"):
        if p.is_file():
            assert (tmp_path / "out" / p.relative_to(GOLDEN / "expected")).read_bytes() == p.read_bytes()
    assert run_cli(["verify", str(copy)], env).returncode == 0


def test_console_script(tmp_path: Path, cli_env: Dict[str, str]) -> None:
    """The installed ``cloudbackup`` entry point is the same tool."""
    import subprocess
    import sys

    script = Path(sys.executable).parent / "cloudbackup"
    r = subprocess.run([str(script), "--version"], capture_output=True, text=True, env=cli_env)
    assert r.returncode == 0 and r.stdout.startswith("cloudbackup ")
    r = subprocess.run([str(script), "init", str(tmp_path / "v"), "--json"], capture_output=True, text=True, env=cli_env)
    assert r.returncode == 0 and json.loads(r.stdout)["key_slots"] == 1



def test_mmap_threshold_is_4_mib_for_backup_and_1_mib_for_restore(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A backup fixes glibc's mmap threshold at 4 MiB (chunk buffers stay
    on the heap, bundles go back to the system); a restore at 1 MiB (its
    4 MiB ranges too). Run in-process to see the calls."""
    from cloudbackup import cli

    calls: List[int] = []
    monkeypatch.setattr(cli, "_return_large_blocks_to_the_os", calls.append)
    monkeypatch.setenv("CLOUDBACKUP_PASSWORD", "correct horse")
    monkeypatch.setenv("CLOUDBACKUP_KDF", FAST_KDF_JSON)
    src, vault = tmp_path / "src", tmp_path / "vault"
    make_tree(src)
    assert cli.main(["backup", "--init", str(src), str(vault)]) == 0
    assert calls == [4 << 20]
    assert cli.main(["restore", str(vault), "latest", str(tmp_path / "out")]) == 0
    assert calls == [4 << 20, 1 << 20]
    same_tree(src, tmp_path / "out")


def test_ls_find_diff(tmp_path: Path, cli_env: Dict[str, str]) -> None:
    """Browsing without restoring: a folder's children (and everything
    below it), the entries a pattern matches in every snapshot, and what
    changed between two snapshots, with restic's letters."""
    src, vault = tmp_path / "src", str(tmp_path / "vault")
    make_tree(src)
    (src / b"caf\xe9".decode("utf-8", "surrogateescape")).write_bytes(b"latin-1 name")
    assert run_cli(["backup", "--init", str(src), vault], cli_env).returncode == 0

    # Snapshot paths start at the source (the snapshot records its root).
    r = run_cli(["ls", vault, "latest", "--json"], cli_env)
    assert r.returncode == 0, r.stderr
    names = [e["path"] for e in json.loads(r.stdout)["entries"]]
    assert "/docs" in names and "/docs/a.txt" not in names and names.index("/big.bin") < names.index("/docs")
    assert '"/caf\\xe9"' in names, names
    r = run_cli(["ls", vault, "latest", "/docs", "-r"], cli_env)
    assert r.returncode == 0 and "/docs/deep/b.log" in r.stdout and "0640" in r.stdout
    assert "link -> docs/a.txt" in run_cli(["ls", vault, "latest"], cli_env).stdout
    r = run_cli(["ls", vault, "latest", "/nothing"], cli_env)
    assert r.returncode == 1 and "NotFound" in r.stderr

    (src / "docs" / "a.txt").write_text("alpha, longer now\n")
    (src / "big.bin").unlink()
    (src / "docs" / "new.log").write_text("new\n")
    assert run_cli(["backup", str(src), vault], cli_env).returncode == 0

    r = run_cli(["find", vault, "*.log", "--json"], cli_env)
    assert r.returncode == 0, r.stderr
    found = json.loads(r.stdout)["found"]
    assert [len(f["matches"]) for f in found] == [1, 2]
    r = run_cli(["find", vault, "[", "--json"], cli_env)
    assert r.returncode == 1 and "InvalidValue" in r.stderr

    r = run_cli(["snapshots", vault, "--json"], cli_env)
    first, second = (s["id"] for s in json.loads(r.stdout)["snapshots"])
    r = run_cli(["diff", vault, first[:8], second], cli_env)
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    assert "-    /big.bin" in lines
    assert "+    /docs/new.log" in lines
    assert "M    /docs/a.txt" in lines
    assert lines[-1].startswith("added 1, removed 1, modified 1")


def test_dump_writes_one_file_to_stdout(tmp_path: Path, cli_env: Dict[str, str]) -> None:
    """dump: the file's bytes exactly, on a pipe; a folder or a symlink is
    refused naming what it is; a damaged blob fails rather than write it."""
    src, vault = tmp_path / "src", tmp_path / "vault"
    make_tree(src)
    assert run_cli(["backup", "--init", str(src), str(vault)], cli_env).returncode == 0
    raw = subprocess.run(
        [sys.executable, "-m", "cloudbackup", "dump", str(vault), "latest", "/big.bin"],
        capture_output=True,
        env=cli_env,
    )
    assert raw.returncode == 0, raw.stderr
    assert raw.stdout == (src / "big.bin").read_bytes()
    r = run_cli(["dump", str(vault), "latest", "/docs"], cli_env)
    assert r.returncode == 1 and "InvalidValue" in r.stderr and "not a file" in r.stderr
    r = run_cli(["dump", str(vault), "latest", "/link"], cli_env)
    assert r.returncode == 1 and "a symlink to docs/a.txt" in r.stderr
    r = run_cli(["dump", str(vault), "latest", "/nope"], cli_env)
    assert r.returncode == 1 and "NotFound" in r.stderr

    for bundle in (vault / "bundles").iterdir():
        data = bytearray(bundle.read_bytes())
        data[len(data) // 2] ^= 1
        bundle.write_bytes(bytes(data))
    raw = subprocess.run(
        [sys.executable, "-m", "cloudbackup", "dump", str(vault), "latest", "/big.bin"],
        capture_output=True,
        env=cli_env,
    )
    assert raw.returncode == 1 and b"IntegrityError" in raw.stderr, raw.stderr
    assert len(raw.stdout) < (src / "big.bin").stat().st_size


def test_odd_argument_values_are_usage_errors_naming_the_argument(tmp_path: Path, cli_env: Dict[str, str]) -> None:
    """Values that used to end in a traceback: bytes that are not UTF-8 in
    a text argument (a tag, a snapshot id, a pattern), thread counts the
    core cannot take (-1, 10^20, past MAX_THREADS), seconds that are not
    finite or do not fit 64-bit nanoseconds. Each is argparse's usage error
    (status 2) naming the argument; file names keep any bytes."""
    vault = str(tmp_path / "vault")
    cases: List[List[bytes]] = [
        [b"backup", b"--tag", b"caf\xe9", b"src", vault.encode()],
        [b"restore", vault.encode(), b"lat\xffest", b"out"],
        [b"restore", b"--include", b"/caf\xe9*", vault.encode(), b"latest", b"out"],
        [b"forget", b"--keep-tag", b"\xff", vault.encode()],
        [b"backup", b"--threads", b"-1", b"src", vault.encode()],
        [b"backup", b"--threads", b"99999999999999999999", b"src", vault.encode()],
        [b"restore", b"--threads", b"257", vault.encode(), b"latest", b"out"],
        [b"gc", b"--grace", b"1e999", vault.encode()],
        [b"gc", b"--grace", b"nan", vault.encode()],
        [b"restore", b"--retry-lock", b"99999999999999999999", vault.encode(), b"latest", b"out"],
    ]
    names = ["--tag", "SNAPSHOT", "-i/--include", "--keep-tag", "--threads", "--threads", "--threads", "--grace", "--grace", "--retry-lock"]
    for argv, name in zip(cases, names):
        r = subprocess.run([sys.executable, "-m", "cloudbackup", *argv], env=cli_env, capture_output=True, text=True, timeout=60)
        assert r.returncode == 2, (argv, r.stderr)
        assert f"argument {name}: " in r.stderr and "Traceback" not in r.stderr, (argv, r.stderr)
    # A file name is bytes: a source that is not UTF-8 is backed up.
    src = tmp_path / os.fsdecode(b"caf\xe9")
    src.mkdir()
    (src / "f").write_bytes(b"x")
    r = subprocess.run([sys.executable, "-m", "cloudbackup", "backup", "--init", "--threads", "256", os.fsencode(src), vault],
                       env=cli_env, capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    # Printed as its own bytes, also where the locale's output is strict
    # UTF-8 (it was a UnicodeEncodeError after the vault was made).
    strict = dict(cli_env, PYTHONIOENCODING="utf-8:strict")
    other = os.fsencode(tmp_path) + b"/v\xe9"
    r2 = subprocess.run([sys.executable, "-m", "cloudbackup", "init", other], env=strict, capture_output=True, timeout=60)
    assert r2.returncode == 0 and other in r2.stdout, r2.stderr


def test_a_restore_target_that_is_no_folder_is_named_and_os_errors_read_as_path_and_reason(
    tmp_path: Path, cli_env: Dict[str, str]
) -> None:
    """`restore ... DEST` where DEST (or a folder on its way) is a file:
    an invalid argument naming `dest`, not Python's "[Errno 17] File
    exists: 'DEST'"; nothing is written. Other OS errors read "PATH:
    reason"."""
    src, vault = tmp_path / "src", str(tmp_path / "vault")
    make_tree(src)
    assert run_cli(["backup", "--init", str(src), vault], cli_env).returncode == 0
    (tmp_path / "a-file").write_bytes(b"kept")
    for dest in (tmp_path / "a-file", tmp_path / "a-file" / "below"):
        r = run_cli(["restore", "--json", vault, "latest", str(dest)], cli_env)
        assert r.returncode == 1, r.stderr
        error = json.loads(r.stdout)["error"]
        assert (error["code"], error["details"]["name"]) == ("invalid_argument", "dest"), error
        assert f"{dest} is not a folder" in r.stderr and "Errno" not in r.stderr, r.stderr
    assert (tmp_path / "a-file").read_bytes() == b"kept"
    r = run_cli(["restore", vault, "latest", "/proc/cb-no-such-dir"], cli_env)
    assert r.returncode == 1
    assert r.stderr.strip().endswith("cloudbackup: /proc/cb-no-such-dir: No such file or directory"), r.stderr
