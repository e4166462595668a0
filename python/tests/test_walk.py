"""The Python host's walker and restore against the filesystem: per-file
errors (the backup goes on, the CLI exits 3), names as bytes (non-UTF-8,
255-byte names, paths over PATH_MAX), and metadata fidelity (hard links,
xattrs, nanosecond times, modes, FIFOs, devices and owners as root)."""

from __future__ import annotations

import errno
import json
import os
import shutil
import socket
import stat
import subprocess
import sys
from pathlib import Path
from typing import Any, Callable, Dict, Iterator, List, Optional, Tuple

import pytest

from cloudbackup import store
from cloudbackup.api import validate_patch
from cloudbackup.engine import BackupSession, quote_path, unquote_path
from cloudbackup.store import StoredVault

from conftest import FAST_KDF, REPO, run_cli

IS_ROOT = hasattr(os, "geteuid") and os.geteuid() == 0
DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW


def _vault(tmp_path: Path) -> StoredVault:
    return StoredVault.init(str(tmp_path / "vault"), "pw", kdf=FAST_KDF)


def _user_xattrs_work(where: Path) -> bool:
    probe = where / ".xattr-probe"
    probe.write_bytes(b"")
    try:
        os.setxattr(probe, b"user.probe", b"1")
        return True
    except (OSError, AttributeError):
        return False
    finally:
        probe.unlink()


# -- a tree as the kernel sees it, reached through descriptors (any depth) ----


def _describe(root: Path) -> Dict[bytes, Dict[str, Any]]:
    """Every path below ``root`` (relative, bytes) with its kind, mode,
    nanosecond mtime, owners, content or target, xattrs, and a hard link
    group (the first path of its inode)."""
    out: Dict[bytes, Dict[str, Any]] = {}
    inodes: Dict[Tuple[int, int], bytes] = {}

    def visit(dir_fd: int, prefix: bytes) -> None:
        for name in sorted(os.fsencode(n) for n in os.listdir(dir_fd)):
            rel = prefix + name
            st = os.stat(name, dir_fd=dir_fd, follow_symlinks=False)
            at = b"/proc/self/fd/%d/%s" % (dir_fd, name)
            d: Dict[str, Any] = {
                "type": stat.S_IFMT(st.st_mode),
                "mode": stat.S_IMODE(st.st_mode),
                "uid": st.st_uid,
                "gid": st.st_gid,
                "xattrs": sorted(
                    (os.fsencode(k), os.getxattr(at, k, follow_symlinks=False))
                    for k in os.listxattr(at, follow_symlinks=False)
                ),
            }
            if not stat.S_ISDIR(st.st_mode):
                d["mtime_ns"] = st.st_mtime_ns
                d["link_group"] = inodes.setdefault((st.st_dev, st.st_ino), rel)
            if stat.S_ISLNK(st.st_mode):
                d["target"] = os.readlink(name, dir_fd=dir_fd)
                del d["mode"]  # not settable on Linux
            elif stat.S_ISREG(st.st_mode):
                fd = os.open(name, os.O_RDONLY, dir_fd=dir_fd)
                try:
                    d["content"] = os.read(fd, st.st_size + 1)
                finally:
                    os.close(fd)
            elif stat.S_ISCHR(st.st_mode) or stat.S_ISBLK(st.st_mode):
                d["rdev"] = st.st_rdev
            out[rel] = d
            if stat.S_ISDIR(st.st_mode):
                child = os.open(name, DIR_FLAGS, dir_fd=dir_fd)
                try:
                    visit(child, rel + b"/")
                finally:
                    os.close(child)
                d["mtime_ns"] = os.stat(name, dir_fd=dir_fd, follow_symlinks=False).st_mtime_ns

    fd = os.open(root, DIR_FLAGS)
    try:
        visit(fd, b"")
    finally:
        os.close(fd)
    return out


def _make_deep(root: Path, levels: int, name_len: int) -> Tuple[int, bytes]:
    """Directories ``levels`` deep of ``name_len``-byte names below
    ``root``, made through descriptors; a file and a symlink at the bottom.
    Returns (length of the deepest file's path, its relative path)."""
    fd = os.open(root, DIR_FLAGS)
    rel = b""
    try:
        for i in range(levels):
            name = (b"%03d" % i) + b"d" * (name_len - 3)
            os.mkdir(name, 0o755, dir_fd=fd)
            nfd = os.open(name, DIR_FLAGS, dir_fd=fd)
            os.close(fd)
            fd = nfd
            rel += name + b"/"
        f = os.open(b"bottom.txt", os.O_WRONLY | os.O_CREAT, 0o640, dir_fd=fd)
        os.write(f, b"at the bottom\n")
        os.close(f)
        os.symlink(b"bottom.txt", b"link", dir_fd=fd)
    finally:
        os.close(fd)
    rel += b"bottom.txt"
    return len(os.fsencode(str(root))) + 1 + len(rel), rel


def _backup_restore(tmp_path: Path, src: Path) -> Tuple[store.BackupResult, store.RestoreResult, Path]:
    lv = _vault(tmp_path)
    r = lv.backup(str(src))
    dest = tmp_path / "dest"
    rr = lv.restore("latest", str(dest))
    return r, rr, dest


# -- names are bytes -------------------------------------------------------------


def test_odd_names_and_paths_over_path_max_round_trip(tmp_path: Path) -> None:
    src = tmp_path / "src"
    src.mkdir()
    odd = [b"caf\xe9", b"\xff\xfe-not-utf8", b"new\nline", b'"quoted', b"tab\tand\\back", b"n" * 255]
    for i, name in enumerate(odd):
        with open(os.path.join(os.fsencode(str(src)), name), "wb") as f:
            f.write(b"content %d\n" % i)
    os.mkdir(os.path.join(os.fsencode(str(src)), b"dir-\xe9"))
    os.symlink(b"caf\xe9", os.path.join(os.fsencode(str(src)), b"dir-\xe9", b"to-\x80"))
    deepest, deep_rel = _make_deep(src, 20, 250)
    assert deepest > 4096

    r, rr, dest = _backup_restore(tmp_path, src)

    assert r.errors == [] and rr.errors == []
    lv = StoredVault.open(str(tmp_path / "vault"), "pw")
    snap = lv.snapshot("latest")
    assert snap.backup_state == "completed" and snap.error_report() is None
    paths = {unquote_path(e["path"]) for e in snap.entries}
    for name in odd:
        assert b"/" + name in paths
    # The JSON shows non-UTF-8 names in the lossless quoted form.
    assert quote_path(b"/caf\xe9") == '"/caf\\xe9"'
    assert '"/caf\\xe9"' in {e["path"] for e in snap.entries}
    assert b"/" + deep_rel in paths
    assert rr.report["errors"] is None
    assert _describe(src) == _describe(dest)


# -- per-file errors ---------------------------------------------------------------


def _tree_with_an_unreadable_file(tmp_path: Path) -> Path:
    src = tmp_path / "src"
    (src / "locked").mkdir(parents=True)
    (src / "ok.txt").write_bytes(b"fine\n")
    (src / "secret.txt").write_bytes(b"secret\n")
    (src / "locked" / "inside.txt").write_bytes(b"hidden\n")
    os.chmod(src / "secret.txt", 0)
    os.chmod(src / "locked", 0)
    return src


def _unprivileged() -> List[str]:
    """A command prefix that makes permissions apply (root ignores them):
    the backup runs without the capabilities that bypass them."""
    if not IS_ROOT:
        return []
    setpriv = shutil.which("setpriv")
    if setpriv is None:
        pytest.skip("running as root without setpriv: permissions cannot be made to apply")
    return [setpriv, "--bounding-set=-dac_override,-dac_read_search"]


def test_cli_reports_unreadable_paths_saves_the_snapshot_and_exits_3(
    tmp_path: Path, cli_env: Dict[str, str]
) -> None:
    src = _tree_with_an_unreadable_file(tmp_path)
    vault = str(tmp_path / "vault")
    try:
        r = subprocess.run(
            [*_unprivileged(), sys.executable, "-m", "cloudbackup", "backup", "--init", str(src), vault],
            env=cli_env,
            capture_output=True,
            text=True,
            timeout=300,
        )
    finally:
        os.chmod(src / "secret.txt", 0o644)
        os.chmod(src / "locked", 0o755)
    assert r.returncode == 3, r.stderr
    assert f"error: {src}/secret.txt: open: Permission denied" in r.stderr.splitlines()
    assert f"error: {src}/locked: open: Permission denied" in r.stderr.splitlines()
    assert "2 paths could not be read" in r.stdout
    assert "Traceback" not in r.stderr

    listed = run_cli(["snapshots", vault, "--json"], cli_env)
    assert listed.returncode == 0, listed.stderr
    (row,) = json.loads(listed.stdout)["snapshots"]
    assert row["counters"]["files_with_errors"] == 2
    assert "2 unreadable" in run_cli(["snapshots", vault], cli_env).stdout

    lv = StoredVault.open(vault, "correct horse")
    snap = lv.snapshot("latest")
    assert snap.data["errors"] == [
        {"path": "/locked", "error": "open: Permission denied"},
        {"path": "/secret.txt", "error": "open: Permission denied"},
    ]
    # The directory itself is kept (empty), the file is not.
    assert [e["path"] for e in snap.entries] == ["/locked", "/ok.txt"]
    dest = tmp_path / "dest"
    back = run_cli(["restore", vault, "latest", str(dest)], cli_env)
    assert back.returncode == 0, back.stderr
    assert (dest / "ok.txt").read_bytes() == b"fine\n"
    assert not (dest / "secret.txt").exists()


def test_json_backup_lists_errors(tmp_path: Path, cli_env: Dict[str, str]) -> None:
    src = tmp_path / "src"
    src.mkdir()
    (src / "a").write_bytes(b"a")
    os.mkfifo(src / "pipe")
    sock = socket.socket(socket.AF_UNIX)
    sock.bind(str(src / "sock"))
    try:
        r = run_cli(["backup", "--init", "--json", str(src), str(tmp_path / "vault")], cli_env)
    finally:
        sock.close()
    assert r.returncode == 0, r.stderr
    data = json.loads(r.stdout)
    assert data["errors"] == []
    assert data["skipped"] == 1  # the socket, as restic
    assert data["special"] == 1  # the FIFO


def _walk_with(hook: Callable[[store._Found], None]) -> Callable[..., Iterator[store._Found]]:
    real = store._walk

    def walk(root: Any, failed: Any, selection: Any = None) -> Iterator[store._Found]:
        for found in real(root, failed, selection):
            hook(found)
            yield found

    return walk


def test_a_file_gone_after_its_lstat_is_an_error_and_the_backup_goes_on(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    src = tmp_path / "src"
    src.mkdir()
    for name in ("a.txt", "gone.txt", "z.txt"):
        (src / name).write_bytes(name.encode())
    (src / "m-dir").mkdir()
    (src / "m-dir" / "inside").write_bytes(b"")

    def vanish(found: store._Found) -> None:
        if found.name == b"gone.txt":
            os.unlink(found.name, dir_fd=found.dir_fd)
        if found.name == b"m-dir":
            shutil.rmtree(src / "m-dir")

    monkeypatch.setattr(store, "_walk", _walk_with(vanish))
    lv = _vault(tmp_path)
    r = lv.backup(str(src))
    # One error each, from the first call that found it gone.
    assert r.errors == [
        {"path": "/gone.txt", "file": f"{src}/gone.txt", "error": "xattrs: No such file or directory"},
        {"path": "/m-dir", "file": f"{src}/m-dir", "error": "xattrs: No such file or directory"},
    ]
    assert r.counters["files_with_errors"] == 2
    assert r.files == 2
    snap = lv.snapshot(r.snapshot_id)
    assert [e["path"] for e in snap.entries] == ["/a.txt", "/z.txt"]
    assert snap.errors == [
        {"path": "/gone.txt", "error": "xattrs: No such file or directory"},
        {"path": "/m-dir", "error": "xattrs: No such file or directory"},
    ]
    # What a v2 agent reports for this backup, and the service accepts.
    assert snap.backup_state == "completed_with_errors"
    report = snap.error_report()
    assert report is not None
    assert report["count"] == 2 and report["list"][0]["path"] == "/gone.txt"
    assert report["list"][0]["exception"]["description"] == "xattrs: No such file or directory"
    patched = validate_patch(
        "backup",
        {"state": "in_progress", "errors": None},
        [
            {"op": "replace", "path": "/state", "value": snap.backup_state},
            {"op": "add", "path": "/errors", "value": report},
            {"op": "add", "path": "/files_searched", "value": r.counters["files_searched"]},
        ],
        "agent",
    )
    assert patched["state"] == "completed_with_errors"
    assert patched["errors"]["list"][0]["type"] == "unreadable"


def test_sparse_files_skip_their_holes_and_dedup_with_dense_copies(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    src = tmp_path / "src"
    src.mkdir()
    size = 64 << 20
    parts = [(3 << 20, os.urandom(5000)), (40 << 20, os.urandom(200_000))]
    with open(src / "sparse.img", "wb") as f:
        f.truncate(size)  # a hole up to the end, too
        for at, data in parts:
            f.seek(at)
            f.write(data)
    if os.stat(src / "sparse.img").st_blocks * 512 >= size:
        pytest.skip("this filesystem does not keep holes")
    dense = bytearray(size)
    for at, data in parts:
        dense[at : at + len(data)] = data
    (src / "dense.img").write_bytes(dense)
    read: Dict[str, int] = {}
    real_preadv = os.preadv

    def counting_preadv(fd: int, buffers: Any, offset: int) -> int:
        n = real_preadv(fd, buffers, offset)
        name = os.path.basename(os.readlink(f"/proc/self/fd/{fd}"))
        read[name] = read.get(name, 0) + n
        return n

    monkeypatch.setattr(os, "preadv", counting_preadv)
    lv = _vault(tmp_path)
    r = lv.backup(str(src))
    monkeypatch.undo()
    assert r.errors == []
    # Only the data extents (whole filesystem blocks around them) are read.
    assert read["dense.img"] == size
    assert read["sparse.img"] < 1 << 20
    c = r.counters
    assert c["bytes_searched"] == 2 * size
    chunks = {e["path"]: e["chunks"] for e in lv.snapshot(r.snapshot_id).entries}
    assert chunks["/sparse.img"] == chunks["/dense.img"]
    dest = tmp_path / "dest"
    lv.restore("latest", str(dest))
    assert (dest / "sparse.img").read_bytes() == dense


def test_a_read_error_half_way_drops_the_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    src = tmp_path / "src"
    src.mkdir()
    (src / "a.txt").write_bytes(b"a" * 10)
    (src / "bad.bin").write_bytes(os.urandom(3 * store.READ_SIZE))
    (src / "c.txt").write_bytes(b"c" * 10)
    real_preadv = os.preadv

    def failing_preadv(fd: int, buffers: Any, offset: int) -> int:
        # A disk error on the second block of bad.bin only.
        if os.readlink(f"/proc/self/fd/{fd}").endswith("bad.bin") and offset > 0:
            raise OSError(errno.EIO, os.strerror(errno.EIO))
        return real_preadv(fd, buffers, offset)

    monkeypatch.setattr(os, "preadv", failing_preadv)
    lv = _vault(tmp_path)
    r = lv.backup(str(src))
    monkeypatch.undo()
    assert [e["path"] for e in r.errors] == ["/bad.bin"]
    assert r.errors[0]["error"] == "read: Input/output error"
    c = r.counters
    assert c["files_with_errors"] == 1
    # Its first megabyte is no longer counted.
    assert c["bytes_searched"] == 20 and c["files_searched"] == 2
    snap = lv.snapshot(r.snapshot_id)
    assert [e["path"] for e in snap.entries] == ["/a.txt", "/c.txt"]
    dest = tmp_path / "dest"
    lv.restore("latest", str(dest))
    assert sorted(os.listdir(dest)) == ["a.txt", "c.txt"]


def test_a_file_changed_while_read_is_warned_kept_as_read_and_read_again_next_time(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # A log written to and a file truncated while the backup reads them
    # (restic: "file has changed"; borg: "file changed while we backed it
    # up"). The core's rule decides; the backup goes on, exit status 0.
    src = tmp_path / "src"
    src.mkdir()
    first = os.urandom(2 * store.READ_SIZE)
    (src / "growing.log").write_bytes(first)
    (src / "shrinking.bin").write_bytes(os.urandom(3 * store.READ_SIZE))
    (src / "still.txt").write_bytes(b"still")
    os.utime(src / "growing.log", ns=(1, 1_600_000_000_000_000_001))
    os.utime(src / "shrinking.bin", ns=(1, 1_600_000_000_000_000_001))
    real_preadv = os.preadv
    done = set()

    def changing_preadv(fd: int, buffers: Any, offset: int) -> int:
        name = os.readlink(f"/proc/self/fd/{fd}").rsplit("/", 1)[1]
        if offset > 0 and name not in done:
            done.add(name)
            if name == "growing.log":
                with open(src / name, "ab") as f:
                    f.write(b"appended\n")
            elif name == "shrinking.bin":
                os.truncate(src / name, store.READ_SIZE + 5)
        return real_preadv(fd, buffers, offset)

    monkeypatch.setattr(os, "preadv", changing_preadv)
    lv = _vault(tmp_path)
    r = lv.backup(str(src))
    monkeypatch.undo()
    assert r.errors == []
    assert [c["path"] for c in r.changed] == ["/growing.log", "/shrinking.bin"]
    assert r.changed[0]["file"] == quote_path(os.fsencode(src / "growing.log"))
    for c in r.changed:
        assert c["warning"].startswith("changed while it was read (modified at "), c
        assert c["warning"].endswith("(was 1600000000.000000001)); the snapshot has the bytes read"), c
    sizes = {e["path"]: e["size"] for e in lv.snapshot(r.snapshot_id).entries}
    assert sizes == {"/growing.log": len(first) + 9, "/shrinking.bin": store.READ_SIZE + 5, "/still.txt": 5}
    dest = tmp_path / "dest"
    lv.restore("latest", str(dest))
    assert (dest / "growing.log").read_bytes() == first + b"appended\n"
    assert (dest / "shrinking.bin").read_bytes() == (src / "shrinking.bin").read_bytes()
    # Their mtimes moved on since the snapshot's: the next backup reads
    # them again, and nothing changes under it this time.
    again = lv.backup(str(src))
    assert again.changed == []
    assert again.counters["files_unchanged"] == 1
    # The command line tool (in this process, to change the file under
    # it): a warning naming the file, `changed` in --json, exit status 0.
    from cloudbackup import cli

    done.clear()
    (src / "growing.log").write_bytes(first)
    monkeypatch.setattr(os, "preadv", changing_preadv)
    monkeypatch.setenv("CLOUDBACKUP_PASSWORD", "pw")
    capsys.readouterr()
    assert cli.main(["backup", "--json", str(src), str(tmp_path / "vault")]) == 0
    monkeypatch.undo()
    out = capsys.readouterr()
    data = json.loads(out.out)
    assert [c["path"] for c in data["changed"]] == ["/growing.log"], data
    assert data["errors"] == []
    assert f"warning: {quote_path(os.fsencode(src / 'growing.log'))}: changed while it was read (" in out.err


def test_a_root_that_is_a_file_backs_up_that_one_file(tmp_path: Path, cli_env: Dict[str, str]) -> None:
    # `cloudbackup backup db.dump VAULT`, as restic takes a file: the one
    # entry /db.dump (the core's split_file_root; a symlink root is
    # resolved, as a directory root is followed), restored as DEST/db.dump.
    src = tmp_path / "src"
    src.mkdir()
    dump = src / "db.dump"
    dump.write_bytes(os.urandom(3 * store.READ_SIZE + 7))
    os.chmod(dump, 0o640)
    os.utime(dump, ns=(1, 1_600_000_000_123_456_789))
    os.symlink("db.dump", src / "current")
    (src / "other").write_bytes(b"not backed up")
    vault = str(tmp_path / "vault")
    r = run_cli(["backup", "--init", "--json", str(dump), vault], cli_env)
    assert r.returncode == 0, r.stderr
    data = json.loads(r.stdout)
    assert (data["files"], data["dirs"], data["errors"]) == (1, 0, [])
    r = run_cli(["backup", "--json", str(src / "current"), vault], cli_env)
    assert r.returncode == 0, r.stderr
    lv = StoredVault.open(vault, cli_env["CLOUDBACKUP_PASSWORD"])
    snap = lv.snapshot(json.loads(r.stdout)["snapshot"])
    assert [(e["path"], e["size"]) for e in snap.entries] == [("/db.dump", dump.stat().st_size)]
    assert snap.data["paths"] == [quote_path(os.fsencode(os.path.abspath(src / "current")))]
    dest = tmp_path / "dest"
    r = run_cli(["restore", vault, "latest", str(dest)], cli_env)
    assert r.returncode == 0, r.stderr
    assert os.listdir(dest) == ["db.dump"]
    st = (dest / "db.dump").stat()
    assert (dest / "db.dump").read_bytes() == dump.read_bytes()
    assert (stat.S_IMODE(st.st_mode), st.st_mtime_ns) == (0o640, 1_600_000_000_123_456_789)
    # Excluded, it is left out; missing, the backup says what is missing.
    r = run_cli(["backup", "--json", "-e", "*.dump", str(dump), vault], cli_env)
    assert r.returncode == 0 and json.loads(r.stdout)["files"] == 0, r.stderr
    for missing in (src / "gone", src / "dangling"):
        if missing.name == "dangling":
            os.symlink("nowhere", missing)
        r = run_cli(["backup", str(missing), vault], cli_env)
        assert r.returncode == 1 and f"{missing} not found" in r.stderr, r.stderr


# -- metadata fidelity --------------------------------------------------------------


def test_hard_links_xattrs_nanoseconds_modes_and_fifos(tmp_path: Path) -> None:
    src = tmp_path / "src"
    (src / "sub").mkdir(parents=True)
    (src / "first").write_bytes(b"shared content\n")
    os.link(src / "first", src / "sub" / "second")
    os.link(src / "first", src / "third")
    (src / "setuid").write_bytes(b"x")
    os.chmod(src / "setuid", 0o4755)
    (src / "sticky").mkdir()
    os.chmod(src / "sticky", 0o1777)
    (src / "setgid").mkdir()
    os.chmod(src / "setgid", 0o2750)
    os.mkfifo(src / "pipe", 0o640)
    os.link(src / "pipe", src / "pipe2")
    (src / "empty").write_bytes(b"")
    xattrs = _user_xattrs_work(tmp_path)
    if xattrs:
        os.setxattr(src / "first", b"user.note", b"\x00binary\xffvalue")
        os.setxattr(src / "sub", b"user.dir", b"on a directory")
    for i, p in enumerate(["first", "setuid", "pipe", "empty", "sub", "sticky", "setgid", ""]):
        ns = 1_600_000_000_123_456_789 + i * 1_000_000_007
        os.utime(src / p, ns=(ns, ns), follow_symlinks=False)
    os.symlink("first", src / "link")
    os.utime(src / "link", ns=(1_500_000_000_000_000_001, 1_500_000_000_000_000_001), follow_symlinks=False)
    os.utime(src, ns=(1_600_000_000_000_000_001,) * 2)

    r, rr, dest = _backup_restore(tmp_path, src)
    assert r.errors == [] and rr.errors == [], (r.errors, rr.errors)
    before, after = _describe(src), _describe(dest)
    assert before == after
    assert after[b"sub/second"]["link_group"] == b"first"
    assert after[b"third"]["link_group"] == b"first"
    assert after[b"pipe2"]["link_group"] == b"pipe"
    assert after[b"setuid"]["mode"] == 0o4755
    assert after[b"sticky"]["mode"] == 0o1777
    assert after[b"first"]["mtime_ns"] % 1_000_000_000 == 123_456_789
    if xattrs:
        assert (b"user.note", b"\x00binary\xffvalue") in after[b"first"]["xattrs"]
        assert after[b"sub"]["xattrs"] == [(b"user.dir", b"on a directory")]
    snap = StoredVault.open(str(tmp_path / "vault"), "pw").snapshot("latest")
    kinds = {e["path"]: e["kind"] for e in snap.entries}
    assert kinds["/pipe"] == "fifo"


@pytest.mark.skipif(not IS_ROOT, reason="device nodes and owners need root")
def test_devices_and_owners_as_root(tmp_path: Path) -> None:
    src = tmp_path / "src"
    src.mkdir()
    os.mknod(src / "null", 0o666 | stat.S_IFCHR, os.makedev(1, 3))
    os.mknod(src / "loop", 0o660 | stat.S_IFBLK, os.makedev(7, 99))
    (src / "owned").write_bytes(b"owned\n")
    os.chown(src / "owned", 1234, 5678)
    (src / "dir").mkdir()
    os.chown(src / "dir", 4321, 8765)
    os.symlink("owned", src / "link")
    os.chown(src / "link", 2222, 3333, follow_symlinks=False)
    (src / "setuid").write_bytes(b"")
    os.chown(src / "setuid", 1234, 1234)
    os.chmod(src / "setuid", 0o6755)  # chown after this would clear it

    r, rr, dest = _backup_restore(tmp_path, src)
    assert r.errors == [] and rr.errors == []
    before, after = _describe(src), _describe(dest)
    assert before == after
    assert after[b"null"]["rdev"] == os.makedev(1, 3)
    assert after[b"loop"]["type"] == stat.S_IFBLK
    assert (after[b"owned"]["uid"], after[b"owned"]["gid"]) == (1234, 5678)
    assert (after[b"link"]["uid"], after[b"link"]["gid"]) == (2222, 3333)
    assert after[b"setuid"]["mode"] == 0o6755


def test_devices_fail_alone_without_privilege(tmp_path: Path, cli_env: Dict[str, str]) -> None:
    """A restore that may not make a device node reports it by name and
    restores the rest (exit 1, as restic)."""
    if not IS_ROOT:
        pytest.skip("needs root to make the device node to back up")
    src = tmp_path / "src"
    src.mkdir()
    os.mknod(src / "null", 0o666 | stat.S_IFCHR, os.makedev(1, 3))
    (src / "a").write_bytes(b"a")
    vault = str(tmp_path / "vault")
    assert run_cli(["backup", "--init", str(src), vault], cli_env).returncode == 0
    dest = tmp_path / "dest"
    r = subprocess.run(
        ["setpriv", "--bounding-set=-mknod", sys.executable, "-m", "cloudbackup", "restore", vault, "latest", str(dest)],
        env=cli_env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert r.returncode == 3, r.stderr  # finished, one file could not be restored
    assert "error: /null: mknod: Operation not permitted" in (r.stdout + r.stderr).splitlines()
    assert (dest / "a").read_bytes() == b"a"


def test_restore_never_writes_through_a_symlink_the_snapshot_made(tmp_path: Path, cli_env: Dict[str, str]) -> None:
    """tests/crafted/misplaced: a symlink ``/a`` to ``../outside`` (the
    target's sibling) and a file ``/a/x`` "inside" it, a file below a file,
    a path twice, a hard link whose first name is inside ``/a``, a symlink
    after a file below its name (as a buggy host could have written them; a
    backup session refuses them now). Those fail by name, nothing is written
    outside, the rest is restored; the CLI exits 3."""
    shutil.copytree(REPO / "tests" / "crafted" / "misplaced" / "vault", tmp_path / "vault")
    password = (REPO / "tests" / "crafted" / "misplaced" / "PASSWORD").read_text()
    outside = tmp_path / "outside"
    outside.mkdir()
    dest = tmp_path / "dest"
    r = StoredVault.open(str(tmp_path / "vault"), password).restore("latest", str(dest))
    assert os.listdir(outside) == []
    report = r.report["errors"]
    assert report is not None
    failed = report.get("list") or []
    assert [(e["path"], e["exception"]["description"]) for e in failed] == [
        ("/a/x", "corrupt snapshot entry /a/x: it is below /a, which is a symlink, not a folder"),
        ("/f/under", "corrupt snapshot entry /f/under: it is below /f, which is a file, not a folder"),
        ("/twice", "corrupt snapshot entry /twice: it is given twice"),
        ("/a/secret", "corrupt snapshot entry /a/secret: it is below /a, which is a symlink, not a folder"),
        ("/x", "corrupt snapshot entry /x: it is a symlink, but /x/y is below it"),
    ]
    assert (dest / "ok").read_bytes() == b"restored\n"
    assert (dest / "f").read_bytes() == b"a file\n"
    assert (dest / "h").read_bytes() == b"one file, three names\n"  # the second name of the refused one
    assert os.stat(dest / "w" / "h2").st_ino == os.stat(dest / "h").st_ino  # in a folder left out
    assert (dest / "x" / "y").read_bytes() == b"placed before its folder\n" and not (dest / "x").is_symlink()
    assert (dest / "twice").is_dir() and os.listdir(dest / "twice") == []
    assert os.readlink(dest / "a") == "../outside"
    cli = run_cli(
        ["restore", str(tmp_path / "vault"), "latest", str(tmp_path / "again")],
        {**cli_env, "CLOUDBACKUP_PASSWORD": password},
    )
    assert cli.returncode == 3, cli.stderr
    assert "error: /a/x: corrupt snapshot entry /a/x: it is below /a" in cli.stderr
    assert os.listdir(outside) == []


@pytest.mark.skipif(shutil.which("setfacl") is None, reason="setfacl (Debian's acl) is not installed")
def test_posix_acls_round_trip(tmp_path: Path) -> None:
    src = tmp_path / "src"
    (src / "shared").mkdir(parents=True)
    (src / "shared" / "f").write_bytes(b"acl\n")
    subprocess.run(["setfacl", "-m", "u:1234:rw-,g:5678:r--", str(src / "shared" / "f")], check=True)
    subprocess.run(["setfacl", "-d", "-m", "u:1234:rwx", str(src / "shared")], check=True)
    r, rr, dest = _backup_restore(tmp_path, src)
    assert r.errors == [] and rr.errors == []
    before, after = _describe(src), _describe(dest)
    names = [k for k, _v in after[b"shared/f"]["xattrs"]]
    assert b"system.posix_acl_access" in names
    assert b"system.posix_acl_default" in [k for k, _v in after[b"shared"]["xattrs"]]
    assert before == after


def test_source_and_target_may_be_symlinks_to_directories(tmp_path: Path) -> None:
    (tmp_path / "real-src").mkdir()
    (tmp_path / "real-src" / "f").write_bytes(b"f")
    os.symlink("real-src", tmp_path / "src")
    (tmp_path / "real-dest").mkdir()
    os.symlink("real-dest", tmp_path / "dest")
    lv = _vault(tmp_path)
    r = lv.backup(str(tmp_path / "src"))
    assert r.files == 1 and r.errors == []
    lv.restore("latest", str(tmp_path / "dest"))
    assert (tmp_path / "real-dest" / "f").read_bytes() == b"f"
