#!/usr/bin/env bash
# Round trip of the example agent, run by `make test-c`:
#   run-agent.sh AGENT
# makes a source tree in a temp dir (nested dirs, random and repeated
# content, an empty file, a sparse file, odd names, a name that is not UTF-8, a symlink,
# a hard link, a FIFO, a device node as root, nanosecond mtimes),
# checks that a backup needs `init` first, creates the vault, backs the
# tree up twice in quick succession (the second run reads only the changed
# file, taking the others over from its parent, and is the newest by its
# nanoseconds), once more with --force (reads all), checks that unreadable
# paths are listed with exit status 3, verifies the vault, restores it elsewhere and compares the
# trees byte for byte; restores a tree deeper than PATH_MAX (what lies past
# it fails alone, exit 3); checks that an unreadable lock keeps a backup out
# with the library's message; then tampers with a bundle and checks that
# verify and restore both notice.
set -euo pipefail
agent=$(realpath "$1")
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cd "$work"

export CLOUDBACKUP_PASSWORD="example agent password"
# Cheap Argon2 and small bundles, so a few MiB make several bundles.
export CLOUDBACKUP_KDF='{"memory_kib": 8, "iterations": 1, "parallelism": 1}'
export CLOUDBACKUP_SETTINGS='{"chunker": {"min_size": 4096, "avg_size": 16384, "max_size": 65536}, "zstd_level": 3, "bundle_size": 1048576}'

mkdir -p src/docs/deep/er src/bin "src/with space" src/empty-dir
head -c 3000000 /dev/urandom > src/bin/random.bin
cp src/bin/random.bin src/docs/copy-of-random.bin
seq 1 200000 > src/docs/numbers.txt
: > src/docs/empty
printf 'caf\xc3\xa9\n' > "src/with space/caf$(printf '\xc3\xa9').txt"
printf 'deep\n' > src/docs/deep/er/leaf.txt
printf 'bytes\n' > "src/docs/not-utf8-$(printf '\xff\xfe')"
chmod 0600 src/docs/deep/er/leaf.txt
chmod 0750 src/bin
ln -s ../bin/random.bin src/docs/latest
ln -s /nonexistent/target src/dangling
touch -d '2020-01-02 03:04:05.123456789' src/docs/numbers.txt src/docs/deep
# Hard links come back as links, a FIFO as a FIFO; a device node (as root,
# where the container allows it) as a device.
ln src/docs/deep/er/leaf.txt src/docs/leaf-link.txt
mkfifo src/docs/pipe
mknod src/docs/null c 1 3 2> /dev/null || true
# A sparse file (holes read as cb_backup_session_write_zeros, a hole at the
# end too) and a dense copy of it.
truncate -s 20M src/sparse.img
printf 'in the middle' | dd of=src/sparse.img bs=1 seek=5000000 conv=notrunc status=none
head -c 70000 /dev/urandom | dd of=src/sparse.img bs=1M seek=12 conv=notrunc status=none
cp --sparse=never src/sparse.img src/docs/dense.img
# A binary extended attribute, where the file system takes user xattrs.
xattr_set=no
if python3 -c 'import os; os.setxattr("src/docs/empty", b"user.note", b"\x00\x01\xff")' 2> /dev/null; then
  xattr_set=yes
fi

# No vault is ever created implicitly: the message names `init`.
if "$agent" backup src vault 2> nonvault.err; then
  echo "run-agent: backup into a directory without a vault succeeded" >&2; exit 1
fi
grep -q 'agent init vault' nonvault.err
"$agent" init vault
if "$agent" init vault 2> /dev/null; then
  echo "run-agent: init over an existing vault succeeded" >&2; exit 1
fi

"$agent" backup src vault
seq 200001 210000 >> src/docs/numbers.txt
# No pause: snapshots record their start to the nanosecond, so the second
# backup is the newest even within the same second. It reads only what
# changed: the other files come from the first backup, its parent.
"$agent" backup src vault > second.out
test "$(ls vault/snapshots | wc -l)" -eq 2
grep -q 'parent snapshot' second.out
grep -q '"files_unchanged":9' second.out
grep -q '"files_backed_up":1' second.out
# --force reads every file again.
"$agent" backup --force src vault > forced.out
grep -q '"files_unchanged":0' forced.out
test -z "$(ls vault/locks)" # released
"$agent" verify vault
"$agent" restore vault restored
"$agent" compare src restored
# A tree deeper than PATH_MAX (40 folders of 200-byte names): the backup
# reads it (openat, one folder at a time); the restore joins paths, so what
# lies past 4,096 bytes fails by name (exit 3) while the rest is restored.
mkdir -p deep-src
python3 -c '
import os
fd = os.open("deep-src", os.O_RDONLY)
for _ in range(40):
    os.mkdir("d" * 200, dir_fd=fd)
    fd = os.open("d" * 200, os.O_RDONLY, dir_fd=fd)
os.close(os.open("leaf", os.O_WRONLY | os.O_CREAT, 0o644, dir_fd=fd))'
echo shallow > deep-src/shallow
"$agent" init deep-vault > /dev/null
"$agent" backup deep-src deep-vault > deep-backup.out
grep -q 'backup: 2 files' deep-backup.out
status=0
"$agent" restore deep-vault deep-restored > deep-restore.out 2> deep-restore.err || status=$?
test "$status" = 3 || { echo "run-agent: deep restore: exit $status, not 3" >&2; cat deep-restore.err >&2; exit 1; }
grep -q '"description":"mkdir: File name too long"' deep-restore.out
test "$(cat deep-restored/shallow)" = shallow
test -z "$(ls deep-vault/locks)"

# A target that is a file: refused by name, the file untouched, no lock left.
echo kept > not-a-folder
if "$agent" restore vault not-a-folder 2> notfolder.err; then
  echo "run-agent: restore into a file succeeded" >&2; exit 1
fi
grep -q 'not-a-folder: not a folder' notfolder.err
if "$agent" restore vault not-a-folder/below 2> notfolder.err; then
  echo "run-agent: restore below a file succeeded" >&2; exit 1
fi
grep -q 'not-a-folder/below: not a folder' notfolder.err
test "$(cat not-a-folder)" = kept
test -z "$(ls vault/locks)"
test -z "$(find restored -name '*.partial')"
if [ "$xattr_set" = yes ]; then
  python3 -c 'import os, sys; sys.exit(os.getxattr("restored/docs/empty", b"user.note") != b"\x00\x01\xff")' || {
    echo "run-agent: the extended attribute was not restored" >&2; exit 1; }
fi

# A file the agent may not read is listed in the snapshot, the rest is
# backed up, and the exit status is 3 (restic's). Root reads everything, so
# then the agent runs as nobody, on a vault of its own.
if [ "$(id -u)" -ne 0 ] || command -v setpriv > /dev/null; then
  as=()
  if [ "$(id -u)" -eq 0 ]; then
    as=(setpriv --reuid=65534 --regid=65534 --clear-groups)
    chmod 0755 "$work"
  fi
  mkdir -m 0777 own
  mkdir -p own/src/locked
  echo readable > own/src/ok.txt
  echo secret > own/src/secret.txt
  chmod 0777 own/src own/src/locked
  chmod 0000 own/src/secret.txt own/src/locked
  "${as[@]}" "$agent" init own/vault
  status=0
  "${as[@]}" "$agent" backup own/src own/vault > own.out 2> own.err || status=$?
  test "$status" -eq 3 || { cat own.err; echo "run-agent: exit status $status, not 3" >&2; exit 1; }
  grep -q 'secret.txt: open: Permission denied' own.err
  grep -q 'locked: open directory: Permission denied' own.err
  grep -q '"files_with_errors":2' own.out
  grep -q '"files_backed_up":1' own.out
  chmod 0755 own/src/locked
  echo "run-agent: unreadable paths listed, exit status 3"
else
  echo "run-agent: running as root without setpriv: the unreadable-file check is skipped"
fi

# A lock nobody can read blocks everyone (nobody can tell what it
# protects): the backup backs off, retries for $CLOUDBACKUP_RETRY_LOCK
# seconds, then fails with the message.
junk="vault/locks/$(printf 'ab%.0s' $(seq 32))"
head -c 100 /dev/urandom > "$junk"
if CLOUDBACKUP_RETRY_LOCK=2 "$agent" backup src vault 2> locked.err; then
  echo "run-agent: backup went on past an unreadable lock" >&2; exit 1
fi
grep -q 'vault is locked: an unreadable lock' locked.err
test "$(ls vault/locks)" = "$(basename "$junk")" # its own lock is gone
# $CLOUDBACKUP_RETRY_LOCK is how long it waits (0: one try); a value that
# is no number of seconds by the library's rule is refused, naming it.
if CLOUDBACKUP_RETRY_LOCK=0 "$agent" backup src vault 2> locked.err; then
  echo "run-agent: backup went on past an unreadable lock" >&2; exit 1
fi
grep -q 'vault is locked: an unreadable lock' locked.err
if CLOUDBACKUP_RETRY_LOCK=soon "$agent" backup src vault 2> locked.err; then
  echo "run-agent: CLOUDBACKUP_RETRY_LOCK=soon was taken" >&2; exit 1
fi
grep -q 'invalid argument `CLOUDBACKUP_RETRY_LOCK`: "soon" is not a number of seconds' locked.err
if CLOUDBACKUP_RETRY_LOCK=inf "$agent" backup src vault 2> locked.err; then
  echo "run-agent: CLOUDBACKUP_RETRY_LOCK=inf was taken" >&2; exit 1
fi
grep -q 'CLOUDBACKUP_RETRY_LOCK`: "inf" is not a number of seconds' locked.err
test "$(ls vault/locks)" = "$(basename "$junk")"
rm "$junk"

# Tampered bundles (one byte each, inside the first blob): verify reports
# them, restore fails the files that use them and says so.
for b in vault/bundles/*; do
  printf '\xff' | dd of="$b" bs=1 seek=100 conv=notrunc status=none
done
if "$agent" verify vault > verify.out; then
  echo "run-agent: verify missed tampered bundles" >&2; exit 1
fi
grep -q '"code":"corrupt"' verify.out
# The files they hold fail alone: exit status 3, as the Python tool's.
status=0
"$agent" restore vault restored2 > restore.out || status=$?
if [ "$status" != 3 ]; then
  echo "run-agent: restore of tampered bundles exited $status, not 3" >&2; exit 1
fi
grep -q '"type":"corrupt"' restore.out
echo "run-agent: $(ls vault/bundles | wc -l) tampered bundles caught by verify and restore"
