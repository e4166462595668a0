"""Backup throughput: cloudbackup's backup session against the best
pure-Python composition of well-kept packages doing the same work.

Both push the same generated corpus (256 MiB by default: random,
compressible and duplicated regions) through content-defined chunking
(FastCDC 2020, min 512 KiB / avg 1 MiB / max 8 MiB), keyed BLAKE3 chunk ids
with dedup, zstd level 3 (kept raw when it does not shrink), AES-256-GCM
with a fresh 96-bit nonce per chunk (the id as AAD), and packing into
16 MiB bundles. The composition is pyfastcdc + blake3 + zstandard +
cryptography's AESGCM on one thread (the way such a script is written);
cloudbackup runs with 1 thread (like for like: the headline figure) and
with 2 (as the CLI does). Each contender runs 3 times; the best counts.

Prints ``cloudbackup MB/s: X``, ``composition MB/s: Y``, ``ratio: X/Y`` and
``ratio (2 threads): X2/Y`` (issue 16's goals: >= 1.2 and >= 2.0).
Usage: python compare.py [MIB]
"""

from __future__ import annotations

import os
import random
import sys
import time
from typing import Callable, List, Set

import blake3
import zstandard
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from pyfastcdc import FastCDC

import cloudbackup as cb

MIN, AVG, MAX = 512 << 10, 1 << 20, 8 << 20
LEVEL = 3
BUNDLE = 16 << 20
WRITE = 1 << 20
FAST_KDF = {"memory_kib": 64, "iterations": 1, "parallelism": 1}


def corpus(mib: int, seed: int = 256) -> bytes:
    """``mib`` MiB: per 8 MiB region, half random, a quarter compressible
    (a random 64 KiB block repeated), a quarter a copy of an earlier region
    (deduplicable) once there is one."""
    rng = random.Random(seed)
    out = bytearray()
    regions: List[bytes] = []
    while len(out) < mib << 20:
        region = bytearray(rng.randbytes(4 << 20))
        region += rng.randbytes(64 << 10) * 32
        if regions and rng.random() < 0.5:
            region += rng.choice(regions)[: 2 << 20]
        else:
            region += rng.randbytes(2 << 20)
        regions.append(bytes(region))
        out += region
    return bytes(out[: mib << 20])


def run_cloudbackup(data: bytes, threads: int) -> int:
    """Backs ``data`` up as one file; returns the bytes stored."""
    vault = cb.Vault.create("bench", settings=None, kdf=FAST_KDF)
    session = cb.BackupSession(vault, cb.Index(), threads=threads)
    stored = 0
    view = memoryview(data)
    session.start_file("/corpus", 0o644, 0)
    for at in range(0, len(data), WRITE):
        session.write(view[at : at + WRITE])
        stored += sum(len(b) for _, b in session.take_bundles())
    session.finish_file()
    stored += sum(len(b) for _, b in session.finish(0))
    return stored


def run_composition(data: bytes) -> int:
    """The same pipeline from packages; returns the bytes stored."""
    key = os.urandom(32)
    id_key = os.urandom(32)
    aead = AESGCM(key)
    zc = zstandard.ZstdCompressor(level=LEVEL)
    cdc = FastCDC(AVG, min_size=MIN, max_size=MAX, seed=random.getrandbits(63) or 1)
    seen: Set[bytes] = set()
    bundle = bytearray()
    stored = 0
    for chunk in cdc.cut_buf(data):
        plain = chunk.data
        blob_id = blake3.blake3(plain, key=id_key).digest()
        if blob_id in seen:
            continue
        seen.add(blob_id)
        packed = zc.compress(plain)
        if len(packed) >= len(plain):
            packed = bytes(plain)
        nonce = os.urandom(12)
        bundle += nonce
        bundle += aead.encrypt(nonce, packed, blob_id)
        if len(bundle) >= BUNDLE:
            stored += len(bundle)
            bundle = bytearray()
    return stored + len(bundle)


def best_of(n: int, f: Callable[[], int]) -> "tuple[float, int]":
    best, stored = float("inf"), 0
    for _ in range(n):
        t = time.perf_counter()
        stored = f()
        best = min(best, time.perf_counter() - t)
    return best, stored


def main() -> int:
    mib = int(sys.argv[1]) if len(sys.argv) > 1 else 256
    data = corpus(mib)
    mb = len(data) / 1e6
    print(f"corpus: {mib} MiB ({len(data)} bytes); chunks {MIN >> 10}/{AVG >> 10}/{MAX >> 10} KiB, zstd {LEVEL}")
    t1, s1 = best_of(3, lambda: run_cloudbackup(data, 1))
    t2, s2 = best_of(3, lambda: run_cloudbackup(data, 2))
    tc, sc = best_of(3, lambda: run_composition(data))
    x, x2, y = mb / t1, mb / t2, mb / tc
    print(f"stored bytes: cloudbackup {s1} (1 thread), {s2} (2 threads); composition {sc}")
    print(f"cloudbackup (2 threads) MB/s: {x2:.1f}")
    print(f"cloudbackup MB/s: {x:.1f}")
    print(f"composition MB/s: {y:.1f}")
    print(f"ratio: {x / y:.2f}")
    print(f"ratio (2 threads): {x2 / y:.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
