#!/usr/bin/env bash
# Round trip of the example agent, run by `make test-c`:
#   run-agent.sh AGENT
# makes a source tree in a temp dir (nested dirs, random and repeated
# content, an empty file, odd names, a symlink), backs it up twice (the
# second run deduplicates), verifies the vault, restores it elsewhere and
# compares the trees byte for byte; then tampers with a bundle and checks
# that verify and restore both notice.
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
chmod 0600 src/docs/deep/er/leaf.txt
chmod 0750 src/bin
ln -s ../bin/random.bin src/docs/latest
ln -s /nonexistent/target src/dangling
touch -d '2020-01-02 03:04:05' src/docs/numbers.txt src/docs/deep

"$agent" backup src vault
seq 200001 210000 >> src/docs/numbers.txt
# Snapshots record whole seconds and restore picks the newest: keep the
# second backup's time strictly later.
sleep 1.1
"$agent" backup src vault
"$agent" verify vault
"$agent" restore vault restored
"$agent" compare src restored

# Tampered bundles (one byte each, inside the first blob): verify reports
# them, restore fails the files that use them and says so.
for b in vault/bundles/*; do
  printf '\xff' | dd of="$b" bs=1 seek=100 conv=notrunc status=none
done
if "$agent" verify vault > verify.out; then
  echo "run-agent: verify missed tampered bundles" >&2; exit 1
fi
grep -q '"code":"corrupt"' verify.out
if "$agent" restore vault restored2 > restore.out; then
  echo "run-agent: restore missed tampered bundles" >&2; exit 1
fi
grep -q '"type":"corrupt"' restore.out
echo "run-agent: $(ls vault/bundles | wc -l) tampered bundles caught by verify and restore"
