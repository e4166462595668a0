"""Metadata fidelity: build a tree with every kind of metadata a backup tool
should keep, snapshot a tree with stat/xattr/inode reads, and compare a
restored tree with its source property by property.

Used by ``tests/metadata/test_metadata.py`` (``make test-metadata``) and by
``python/benchmarks/peers.py`` (the table's ``metadata:`` line, the same
check on restic's and borg's restores). Standard library only.

Paths are bytes relative to the tree's root (``b"names/caf\\xe9"``). Every
file-system call goes through directory descriptors (``dir_fd``) or
``/proc/self/fd/N/NAME``, because the tree holds a path longer than
PATH_MAX (4096 bytes), which the kernel refuses as a whole.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import stat
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import Dict, Iterator, List, Optional, Tuple

MIB = 1 << 20

#: The properties the issue names, in the order of the summary line.
ISSUE_PROPERTIES = ("hardlinks", "xattrs", "owners", "ns-times", "fifos", "devices", "sparse")
#: Everything compared, in print order: the basics first.
PROPERTIES = ("paths", "types", "content", "modes", "names") + ISSUE_PROPERTIES + ("acls",)

#: Owner given to the chowned entries (the test runs as root).
UID, GID = 1234, 5678
#: A binary xattr value: every byte value once, NUL and 0xff included.
BINARY_VALUE = bytes(range(256))


# -- building the tree ---------------------------------------------------------------


@dataclass
class Built:
    """What :func:`build_tree` made: the sub-cases it had to leave out
    (``property -> reason``) and the paths of each case, for the report."""

    skipped: Dict[str, str] = field(default_factory=dict)
    sparse: List[bytes] = field(default_factory=list)
    #: The awkward names (non-UTF-8, 255 bytes, deep): the ``names`` property.
    names: List[bytes] = field(default_factory=list)
    deep_path_bytes: int = 0


def _write(path: bytes, data: bytes, dir_fd: Optional[int] = None, mode: int = 0o644) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode, dir_fd=dir_fd)
    try:
        os.write(fd, data)
    finally:
        os.close(fd)


def _set_acl(path: bytes, spec: str, default: bool) -> Optional[str]:
    """Sets a POSIX ACL with ``setfacl``; returns why not, or None."""
    exe = shutil.which("setfacl")
    if exe is None:
        return "setfacl not installed (Debian package acl; scripts/bootstrap-python --metadata installs it)"
    cmd = [exe, "-d", "-m", spec] if default else [exe, "-m", spec]
    proc = subprocess.run([*cmd, os.fsdecode(path)], capture_output=True, text=True)
    if proc.returncode != 0:
        return f"setfacl failed: {proc.stderr.strip()}"
    return None


def build_tree(root: Path, *, sparse_mib: int = 64, deep: bool = True, awkward_names: bool = True) -> Built:
    """Creates the fidelity tree under ``root`` (which must not exist).

    ``awkward_names=False`` leaves out the non-UTF-8 names, the 255-byte
    name, the non-UTF-8 symlink target and the deep path (for a tool that
    cannot back them up at all, to still see the other properties)."""
    built = Built()
    is_root = os.geteuid() == 0
    r = os.fsencode(root)
    os.makedirs(r)
    for d in (b"files", b"links", b"links/sub", b"elsewhere", b"xattr", b"xattr/dir", b"acl", b"owners",
              b"owners/dir", b"special", b"sparse", b"names", b"symlinks", b"modes"):
        os.mkdir(r + b"/" + d)

    # Plain content and modes.
    _write(r + b"/files/plain.txt", b"plain text\n" * 100)
    _write(r + b"/files/empty", b"")
    _write(r + b"/files/exec.sh", b"#!/bin/sh\necho hi\n", mode=0o755)
    _write(r + b"/modes/private", b"secret\n", mode=0o600)
    os.chmod(r + b"/modes/private", 0o600)
    _write(r + b"/modes/setuid", b"not really a program\n")
    os.chmod(r + b"/modes/setuid", 0o4755)
    _write(r + b"/modes/readonly", b"read only\n")
    os.chmod(r + b"/modes/readonly", 0o444)
    os.mkdir(r + b"/modes/sticky")
    os.chmod(r + b"/modes/sticky", 0o1777)
    os.mkdir(r + b"/modes/closed")
    os.chmod(r + b"/modes/closed", 0o700)

    # Hard links: three names for one inode in one directory, and a pair
    # across directories.
    _write(r + b"/links/a", b"one inode, three names\n")
    os.link(r + b"/links/a", r + b"/links/b")
    os.link(r + b"/links/a", r + b"/links/sub/c")
    _write(r + b"/links/x", b"one inode, two directories\n")
    os.link(r + b"/links/x", r + b"/elsewhere/x-link")
    # Same content, separate inodes: must not come back linked.
    _write(r + b"/links/twin1", b"same bytes, two inodes\n")
    _write(r + b"/links/twin2", b"same bytes, two inodes\n")

    # Extended attributes (user.*, binary values) on a file and a directory.
    _write(r + b"/xattr/file", b"has xattrs\n")
    os.setxattr(r + b"/xattr/file", b"user.binary", BINARY_VALUE)
    os.setxattr(r + b"/xattr/file", b"user.empty", b"")
    os.setxattr(r + b"/xattr/file", b"user.text", b"hello")
    os.setxattr(r + b"/xattr/file", b"user.big", bytes(i % 251 for i in range(3000)))
    os.setxattr(r + b"/xattr/dir", b"user.dir", b"\x00\x01\x02\xff")

    # POSIX ACLs (stored as system.posix_acl_* xattrs).
    _write(r + b"/acl/file", b"has an acl\n")
    os.mkdir(r + b"/acl/dir")
    why = _set_acl(r + b"/acl/file", f"u:{UID}:rw-,g:{GID}:r--", default=False) or _set_acl(
        r + b"/acl/dir", f"u:{UID}:rwx", default=True
    )
    if why:
        built.skipped["acls"] = why

    # Owners: a file, a directory and a symlink given to UID:GID.
    _write(r + b"/owners/file", b"owned by 1234:5678\n")
    os.symlink(b"file", r + b"/owners/link")
    if is_root:
        os.chown(r + b"/owners/file", UID, GID)
        os.chown(r + b"/owners/dir", UID, GID)
        os.lchown(r + b"/owners/link", UID, GID)
        os.chown(r + b"/links/a", UID, GID)  # a hard-linked inode with an owner
    else:
        built.skipped["owners"] = f"not root (uid {os.geteuid()}): cannot chown to {UID}:{GID}"

    # FIFOs and device nodes.
    os.mkfifo(r + b"/special/fifo", 0o640)
    try:
        os.mknod(r + b"/special/null-like", stat.S_IFCHR | 0o640, os.makedev(1, 3))
        os.mknod(r + b"/special/loop-like", stat.S_IFBLK | 0o640, os.makedev(7, 0))
    except PermissionError as e:
        built.skipped["devices"] = f"mknod refused ({e.strerror}): needs root / CAP_MKNOD"

    # A sparse file: ``sparse_mib`` MiB, three small data islands, a hole
    # at the start and at the end.
    path = r + b"/sparse/holes"
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    try:
        for at, size in ((1 * MIB, 4096), (sparse_mib * MIB // 2, 8192), (sparse_mib * MIB - 3 * MIB, 4096)):
            os.pwrite(fd, bytes((at // 4096 + i) % 256 or 1 for i in range(size)), at)
        os.ftruncate(fd, sparse_mib * MIB)
    finally:
        os.close(fd)
    st = os.stat(path)
    if st.st_blocks * 512 >= st.st_size // 2:
        built.skipped["sparse"] = "the file system does not make holes"
    built.sparse.append(b"sparse/holes")

    # Symlinks: relative, absolute, dangling.
    os.symlink(b"../files/plain.txt", r + b"/symlinks/relative")
    os.symlink(b"/etc/hostname", r + b"/symlinks/absolute")
    os.symlink(b"does/not/exist", r + b"/symlinks/dangling")

    if not awkward_names:
        built.skipped["names"] = "left out of this tree (awkward_names=False)"
    else:
        # Names are bytes: not UTF-8, 255 bytes long, a symlink target not
        # UTF-8, and a path longer than PATH_MAX.
        _write(r + b"/names/caf\xe9", b"latin-1 name\n")
        os.mkdir(r + b"/names/dir-\xff\xfe")
        _write(r + b"/names/dir-\xff\xfe/inside", b"inside a non-UTF-8 directory\n")
        long_name = b"n" * 251 + b".txt"
        _write(r + b"/names/" + long_name, b"255-byte name\n")
        os.symlink(b"caf\xe9", r + b"/names/link-to-caf\xe9")
        built.names += [b"names/caf\xe9", b"names/dir-\xff\xfe", b"names/dir-\xff\xfe/inside",
                        b"names/" + long_name, b"names/link-to-caf\xe9"]
        if deep:
            top = _make_deep(r + b"/names", built)
            if top:
                built.names.append(top)

    set_times(root)
    return built


def _make_deep(parent: bytes, built: Built) -> Optional[bytes]:
    """A chain of 200-byte directory names past 4096 bytes, built one
    ``dir_fd`` step at a time; returns the chain's top (relative path)."""
    component = b"d" * 200
    fd = os.open(parent, os.O_RDONLY | os.O_DIRECTORY)
    rel = b"names"
    try:
        for _ in range(22):
            try:
                os.mkdir(component, dir_fd=fd)
            except OSError as e:
                built.skipped["names"] = f"deep path: {e.strerror} at {len(rel)} bytes"
                return None
            nfd = os.open(component, os.O_RDONLY | os.O_DIRECTORY, dir_fd=fd)
            os.close(fd)
            fd = nfd
            rel += b"/" + component
        _write(b"leaf.txt", b"at the bottom of a deep path\n", dir_fd=fd)
        rel += b"/leaf.txt"
    finally:
        os.close(fd)
    built.deep_path_bytes = len(rel)
    return b"names/" + component


def set_times(root: Path) -> None:
    """Gives every entry below ``root`` a distinct mtime with a sub-second
    part that is not a whole microsecond (files, dirs and symlinks' own
    mtimes), children before their directory."""
    base = 1_600_000_000 * 10**9
    counter = [0]

    def visit(dfd: int) -> None:
        for name in sorted(os.fsencode(n) for n in os.listdir(dfd)):
            st = os.stat(name, dir_fd=dfd, follow_symlinks=False)
            if stat.S_ISDIR(st.st_mode):
                sub = os.open(name, os.O_RDONLY | os.O_DIRECTORY, dir_fd=dfd)
                try:
                    visit(sub)
                finally:
                    os.close(sub)
            counter[0] += 1
            ns = base + counter[0] * 86_400_000_000_123 + counter[0] * 7  # days apart, odd nanoseconds
            os.utime(name, ns=(ns, ns), dir_fd=dfd, follow_symlinks=False)

    fd = os.open(root, os.O_RDONLY | os.O_DIRECTORY)
    try:
        visit(fd)
    finally:
        os.close(fd)


# -- reading a tree ----------------------------------------------------------------


@dataclass
class Node:
    """One entry as stat/xattr/readlink see it."""

    kind: str  # file dir symlink fifo chardev blockdev socket
    mode: int  # permission bits incl. setuid/setgid/sticky
    size: int
    mtime_ns: int
    uid: int
    gid: int
    inode: Tuple[int, int]
    nlink: int
    rdev: int
    alloc: int  # st_blocks * 512
    digest: str = ""  # files: sha256 of the content
    target: bytes = b""  # symlinks
    xattrs: Dict[bytes, bytes] = field(default_factory=dict)


KINDS = {
    stat.S_IFREG: "file",
    stat.S_IFDIR: "dir",
    stat.S_IFLNK: "symlink",
    stat.S_IFIFO: "fifo",
    stat.S_IFCHR: "chardev",
    stat.S_IFBLK: "blockdev",
    stat.S_IFSOCK: "socket",
}

_ZERO_MIB_SHA = hashlib.sha256(bytes(MIB)).digest()


def file_digest(fd: int, size: int) -> str:
    """sha256 over the sha256 of each MiB: equal for a sparse file and its
    dense copy, and a MiB wholly inside a hole is not read (SEEK_DATA)."""
    outer = hashlib.sha256()
    at = 0
    while at < size:
        n = min(MIB, size - at)
        try:
            next_data = os.lseek(fd, at, os.SEEK_DATA)
        except OSError:  # ENXIO: only a hole from here to the end
            next_data = size
        if n == MIB and next_data >= at + MIB:
            outer.update(_ZERO_MIB_SHA)
        else:
            outer.update(hashlib.sha256(os.pread(fd, n, at)).digest())
        at += n
    return outer.hexdigest()


def _xattrs(dfd: int, name: bytes) -> Dict[bytes, bytes]:
    # listxattr has no dir_fd; /proc/self/fd/N/NAME stays short whatever
    # the depth, and follow_symlinks=False reads a symlink's own.
    p = b"/proc/self/fd/%d/" % dfd + name
    out: Dict[bytes, bytes] = {}
    try:
        names = os.listxattr(p, follow_symlinks=False)
    except OSError:
        return out
    for n in names:
        try:
            out[os.fsencode(n)] = os.getxattr(p, n, follow_symlinks=False)
        except OSError:
            pass
    return out


def snapshot(root: Path) -> Dict[bytes, Node]:
    """Every entry below ``root`` (not ``root`` itself) by relative bytes path."""
    nodes: Dict[bytes, Node] = {}

    def visit(dfd: int, prefix: bytes) -> None:
        for name in sorted(os.fsencode(n) for n in os.listdir(dfd)):
            st = os.stat(name, dir_fd=dfd, follow_symlinks=False)
            kind = KINDS.get(stat.S_IFMT(st.st_mode), "other")
            node = Node(
                kind=kind,
                mode=stat.S_IMODE(st.st_mode),
                size=st.st_size,
                mtime_ns=st.st_mtime_ns,
                uid=st.st_uid,
                gid=st.st_gid,
                inode=(st.st_dev, st.st_ino),
                nlink=st.st_nlink,
                rdev=st.st_rdev,
                alloc=st.st_blocks * 512,
                xattrs=_xattrs(dfd, name),
            )
            rel = prefix + name
            if kind == "file":
                fd = os.open(name, os.O_RDONLY | os.O_NOFOLLOW, dir_fd=dfd)
                try:
                    node.digest = file_digest(fd, st.st_size)
                finally:
                    os.close(fd)
            elif kind == "symlink":
                node.target = os.readlink(name, dir_fd=dfd)
            nodes[rel] = node
            if kind == "dir":
                sub = os.open(name, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW, dir_fd=dfd)
                try:
                    visit(sub, rel + b"/")
                finally:
                    os.close(sub)

    fd = os.open(root, os.O_RDONLY | os.O_DIRECTORY)
    try:
        visit(fd, b"")
    finally:
        os.close(fd)
    return nodes


def remove_tree(root: Path) -> None:
    """rmtree that copes with the deep path and with read-only dirs."""
    if not os.path.lexists(root):
        return

    def rm(dfd: int) -> None:
        for name in (os.fsencode(n) for n in os.listdir(dfd)):
            st = os.stat(name, dir_fd=dfd, follow_symlinks=False)
            if stat.S_ISDIR(st.st_mode):
                os.chmod(name, 0o700, dir_fd=dfd)
                sub = os.open(name, os.O_RDONLY | os.O_DIRECTORY, dir_fd=dfd)
                try:
                    rm(sub)
                finally:
                    os.close(sub)
                os.rmdir(name, dir_fd=dfd)
            else:
                os.unlink(name, dir_fd=dfd)

    fd = os.open(root, os.O_RDONLY | os.O_DIRECTORY)
    try:
        rm(fd)
    finally:
        os.close(fd)
    os.rmdir(root)


# -- comparing ---------------------------------------------------------------------


def show(path: bytes, limit: int = 60) -> str:
    """A path for a message: invalid UTF-8 as \\xNN, long ones shortened."""
    text = path.decode("utf-8", "backslashreplace")
    if len(text) > limit:
        text = f"{text[:16]}...({len(path)} bytes)...{text[-20:]}"
    return text


@dataclass
class Outcome:
    """One property: how many cases were checked, and what differed."""

    checked: int = 0
    failures: List[str] = field(default_factory=list)
    skipped: str = ""
    info: str = ""  # printed after a pass (e.g. the sparse file's allocation)

    @property
    def ok(self) -> bool:
        return not self.failures and not self.skipped


@dataclass
class Report:
    """The outcome of each property (``PROPERTIES``)."""

    outcomes: Dict[str, Outcome]

    def failed(self) -> List[str]:
        return [p for p, o in self.outcomes.items() if o.failures]

    def lines(self, tool: str = "") -> Iterator[str]:
        """One line per property, then the summary line."""
        who = f"{tool}: " if tool else ""
        for prop in PROPERTIES:
            o = self.outcomes[prop]
            if o.skipped:
                yield f"  {who}{prop:<9} skip  {o.skipped}"
            elif o.failures:
                # Differences first: a missing path fails every property
                # that applies to it and would hide them.
                missing = [f for f in o.failures if f.endswith(": missing")]
                differ = [f for f in o.failures if not f.endswith(": missing")]
                listed = differ + missing
                first = "; ".join(listed[:3])
                more = f" (+{len(listed) - 3} more)" if len(listed) > 3 else ""
                gone = f" ({len(missing)} missing)" if missing else ""
                yield f"  {who}{prop:<9} FAIL  {len(o.failures)} of {o.checked}{gone}: {first}{more}"
            else:
                info = f": {o.info}" if o.info else ""
                yield f"  {who}{prop:<9} ok    {o.checked} checked{info}"
        yield self.summary(tool)

    def summary(self, tool: str = "") -> str:
        """``metadata: hardlinks ... sparse: all restored`` when every
        property ran and passed; otherwise what did not."""
        who = f" ({tool})" if tool else ""
        words = " ".join(ISSUE_PROPERTIES)
        failed = self.failed()
        skipped = [p for p, o in self.outcomes.items() if o.skipped]
        if not failed and not skipped:
            return f"metadata{who}: {words}: all restored"
        if not failed:
            return f"metadata{who}: {words}: restored, but not checked: {' '.join(skipped)}"
        tail = f" (not checked: {' '.join(skipped)})" if skipped else ""
        return f"metadata{who}: {words}: NOT restored: {' '.join(failed)}{tail}"


def _size(n: int) -> str:
    return f"{n / MIB:.1f} MiB" if n >= MIB else f"{n // 1024} KiB"


def _names(xattrs: Dict[bytes, bytes]) -> str:
    return " ".join(sorted(k.decode("utf-8", "backslashreplace") for k in xattrs)) or "none"


def compare(src: Dict[bytes, Node], dst: Dict[bytes, Node], built: Built) -> Report:
    """Compares a restored tree ``dst`` with its source ``src``, property by
    property. A property fails for a path it applies to that is missing or
    differs; ``built.skipped`` marks the sub-cases that could not be made."""
    out = {p: Outcome() for p in PROPERTIES}
    for prop, why in built.skipped.items():
        if prop in out:
            out[prop].skipped = why

    def check(prop: str, path: bytes, ok: bool, detail: str) -> None:
        o = out[prop]
        o.checked += 1
        if not ok:
            o.failures.append(f"{show(path)}: {detail}")

    for path, s in src.items():
        d = dst.get(path)
        check("paths", path, d is not None, "missing")
        if path in built.names or any(path.startswith(n + b"/") for n in built.names):
            check("names", path, d is not None, "missing")
        if s.kind == "fifo":
            check("fifos", path, d is not None and d.kind == "fifo", "missing" if d is None else f"a {d.kind}")
        if s.kind in ("chardev", "blockdev"):
            check(
                "devices",
                path,
                d is not None and d.kind == s.kind and d.rdev == s.rdev,
                "missing" if d is None else f"{d.kind} {os.major(d.rdev)}:{os.minor(d.rdev)}, "
                f"source {s.kind} {os.major(s.rdev)}:{os.minor(s.rdev)}",
            )
        if d is None:
            # Missing: every property that applies to this entry fails.
            applies = ["owners"] if "owners" not in built.skipped else []
            if s.kind in ("file", "dir", "symlink"):
                applies += ["types", "ns-times"]
            if s.kind in ("file", "symlink"):
                applies.append("content")
            if s.kind != "symlink":
                applies.append("modes")
            if s.xattrs:
                applies.append("xattrs")
            if any(k.startswith(b"system.posix_acl_") for k in s.xattrs) and "acls" not in built.skipped:
                applies.append("acls")
            if path in built.sparse and "sparse" not in built.skipped:
                applies.append("sparse")
            for prop in applies:
                check(prop, path, False, "missing")
            continue
        if s.kind in ("file", "dir", "symlink"):  # fifos and devices: their own lines
            check("types", path, d.kind == s.kind, f"{d.kind}, source {s.kind}")
        if d.kind != s.kind:
            continue
        if s.kind == "file":
            check("content", path, (d.size, d.digest) == (s.size, s.digest), f"size {d.size} (source {s.size}) or bytes differ")
        elif s.kind == "symlink":
            check("content", path, d.target == s.target, f"target '{show(d.target)}', source '{show(s.target)}'")
        if s.kind != "symlink":
            check("modes", path, d.mode == s.mode, f"{d.mode:04o}, source {s.mode:04o}")
        if s.kind in ("file", "dir", "symlink"):
            lost = "sub-second part lost" if d.mtime_ns // 10**9 == s.mtime_ns // 10**9 else "differs"
            check("ns-times", path, d.mtime_ns == s.mtime_ns, f"{d.mtime_ns} ({lost}), source {s.mtime_ns}")
        if "owners" not in built.skipped:
            check("owners", path, (d.uid, d.gid) == (s.uid, s.gid), f"{d.uid}:{d.gid}, source {s.uid}:{s.gid}")
        acl = {k: v for k, v in s.xattrs.items() if k.startswith(b"system.posix_acl_")}
        if acl:
            got = {k: v for k, v in d.xattrs.items() if k.startswith(b"system.posix_acl_")}
            check("acls", path, got == acl, f"{_names(got)}, source {_names(acl)}")
        if s.xattrs or d.xattrs:
            lost = _names({k: v for k, v in s.xattrs.items() if d.xattrs.get(k) != v})
            extra = _names({k: v for k, v in d.xattrs.items() if k not in s.xattrs})
            check("xattrs", path, lost == extra == "none", f"lost or changed: {lost}" + (f"; extra: {extra}" if extra != "none" else ""))
        if path in built.sparse and "sparse" not in built.skipped:
            # At most half allocated: holes for the zero runs, also when a
            # tool makes them per chunk (up to 8 MiB around each island
            # stays dense: borg's extract --sparse allocates 24 of 64 MiB).
            alloc = f"{_size(d.alloc)} allocated of {_size(s.size)} (source {_size(s.alloc)})"
            check("sparse", path, d.alloc <= s.size // 2, alloc)
            out["sparse"].info = alloc

    for path in dst:
        if path not in src:
            check("paths", path, False, "extra in the restore")

    # Hard links: the paths sharing an inode in the source share exactly
    # one inode in the restore, and no other path does.
    groups: Dict[Tuple[int, int], List[bytes]] = {}
    for path, s in src.items():
        if s.kind != "dir":
            groups.setdefault(s.inode, []).append(path)
    for members in groups.values():
        inodes = {dst[p].inode for p in members if p in dst}
        if len(members) > 1:
            ok = len(inodes) == 1 and all(p in dst for p in members)
            names = ", ".join(show(p) for p in members)
            check("hardlinks", members[0], ok, f"[{names}] restored as {len(inodes)} inodes (source: 1)")
        elif members[0] in dst and dst[members[0]].nlink > 1 and dst[members[0]].kind == "file":
            others = [p for p, d in dst.items() if d.inode == dst[members[0]].inode and p != members[0]]
            check("hardlinks", members[0], not others, f"linked to {[show(p) for p in others]} (source: separate)")

    if not built.sparse:
        out["sparse"].skipped = out["sparse"].skipped or "no sparse file in the tree"
    return Report(out)


# -- round trips -------------------------------------------------------------------


@dataclass
class RoundTrip:
    """A backup and restore by one tool: exit codes, output, where it landed."""

    tool: str
    backup_rc: int
    restore_rc: int
    landed: Optional[Path]
    log: str


def _run(cmd: List[str], env: Dict[str, str], cwd: Optional[Path] = None) -> "subprocess.CompletedProcess[str]":
    return subprocess.run(cmd, env=env, cwd=cwd, capture_output=True, text=True, errors="backslashreplace", timeout=1800)


def _tail(p: "subprocess.CompletedProcess[str]", n: int = 1500) -> str:
    text = (p.stdout + p.stderr).strip()
    return text[-n:]


def cloudbackup_roundtrip(src: Path, work: Path, env: Dict[str, str], cli: List[str]) -> RoundTrip:
    """``cloudbackup init``, ``backup SRC VAULT``, ``restore VAULT latest DEST``.
    ``env`` carries CLOUDBACKUP_PASSWORD (and a cheap CLOUDBACKUP_KDF in tests)."""
    vault, dest = work / "vault", work / "restore"
    init = _run([*cli, "init", str(vault)], env)
    if init.returncode != 0:
        return RoundTrip("cloudbackup", init.returncode, -1, None, "init: " + _tail(init))
    b = _run([*cli, "backup", str(src), str(vault)], env)
    log = f"backup exit {b.returncode}: {_tail(b)}"
    if b.returncode not in (0, 3):
        return RoundTrip("cloudbackup", b.returncode, -1, None, log)
    r = _run([*cli, "restore", str(vault), "latest", str(dest)], env)
    log += f"\nrestore exit {r.returncode}: {_tail(r)}"
    return RoundTrip("cloudbackup", b.returncode, r.returncode, dest if dest.exists() else None, log)


def restic_roundtrip(src: Path, work: Path) -> RoundTrip:
    """``restic init``, ``backup SRC``, ``restore latest --target DEST``
    (restic recreates SRC's absolute path below DEST)."""
    env = dict(os.environ)
    env.update(RESTIC_PASSWORD="fidelity", RESTIC_REPOSITORY=str(work / "repo"), RESTIC_CACHE_DIR=str(work / "cache"))
    dest = work / "restore"
    init = _run(["restic", "init"], env)
    if init.returncode != 0:
        return RoundTrip("restic", init.returncode, -1, None, "init: " + _tail(init))
    b = _run(["restic", "backup", str(src)], env)
    log = f"backup exit {b.returncode}: {_tail(b, 600)}"
    if b.returncode not in (0, 3):
        return RoundTrip("restic", b.returncode, -1, None, log)
    r = _run(["restic", "restore", "latest", "--target", str(dest)], env)
    log += f"\nrestore exit {r.returncode}: {_tail(r, 600)}"
    landed = dest / str(src.resolve()).lstrip("/")
    return RoundTrip("restic", b.returncode, r.returncode, landed if landed.exists() else None, log)


def borg_roundtrip(src: Path, work: Path) -> RoundTrip:
    """``borg init``, ``create ::m NAME`` from SRC's parent, ``extract --sparse``."""
    env = dict(os.environ)
    env.update(
        BORG_PASSPHRASE="fidelity",
        BORG_REPO=str(work / "repo"),
        BORG_BASE_DIR=str(work / "base"),
        BORG_RELOCATED_REPO_ACCESS_IS_OK="yes",
    )
    dest = work / "restore"
    dest.mkdir(parents=True)
    init = _run(["borg", "init", "--encryption=repokey-blake2"], env)
    if init.returncode != 0:
        return RoundTrip("borg", init.returncode, -1, None, "init: " + _tail(init))
    b = _run(["borg", "create", "::m", src.name], env, cwd=src.parent)
    log = f"backup exit {b.returncode}: {_tail(b, 600)}"
    if b.returncode not in (0, 1):  # borg: 1 = warnings
        return RoundTrip("borg", b.returncode, -1, None, log)
    r = _run(["borg", "extract", "--sparse", "::m"], env, cwd=dest)
    log += f"\nrestore exit {r.returncode}: {_tail(r, 600)}"
    landed = dest / src.name
    return RoundTrip("borg", b.returncode, r.returncode, landed if landed.exists() else None, log)
