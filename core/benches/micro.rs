//! Criterion micro-benchmarks of the engine's per-byte stages: the chunker,
//! the blob id hash, compression (the engine's `seal_blob` against bare zstd
//! on the same chunks) and AES-256-GCM on each backend. Run with
//! `cargo bench -p cloudbackup-core --bench micro`; figures are throughput
//! (the chunker-alone and AEAD groups in decimal GB/s, the others in GiB/s).

use std::hint::black_box;
use std::time::Duration;

use cloudbackup_core::engine::blob::{blob_id, seal_blob, Compressor};
use cloudbackup_core::engine::chunker::Chunker;
use cloudbackup_core::engine::crypto::{Aead, AeadBackend, SecretKey};
use cloudbackup_core::engine::format::BlobType;
use cloudbackup_core::engine::keys::{MasterKey, VaultKeys};
use cloudbackup_core::engine::ChunkerParams;
use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};

const MIB: usize = 1024 * 1024;
/// The engine's default zstd level.
const ZSTD_LEVEL: i32 = 3;

/// A deterministic xorshift64* stream: the data must be the same on every run.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

/// Words and punctuation, so zstd finds the redundancy of source or logs.
fn text_like(rng: &mut Rng, len: usize) -> Vec<u8> {
    const WORDS: &[&str] = &[
        "backup",
        "vault",
        "agent",
        "the",
        "of",
        "snapshot",
        "chunk",
        "restore",
        "error",
        "INFO",
        "2024-05-01T12:00:00Z",
        "configuration",
        "=",
        "{",
        "}",
        "fn",
        "let",
        "return",
        "bytes",
        "file",
        "path",
        "/var/log/",
        "success",
        "retry",
        "0x1f",
        "42",
    ];
    let mut out = Vec::with_capacity(len + 32);
    while out.len() < len {
        out.extend_from_slice(WORDS[rng.below(WORDS.len())].as_bytes());
        out.push(match rng.below(12) {
            0 => b'\n',
            1 => b',',
            _ => b' ',
        });
    }
    out.truncate(len);
    out
}

/// Records of slowly changing integers, like tables or executables: some
/// structure, less than text.
fn binary_like(rng: &mut Rng, len: usize) -> Vec<u8> {
    let mut out = Vec::with_capacity(len + 16);
    let mut counter = rng.next() as u32;
    while out.len() < len {
        counter = counter.wrapping_add(rng.below(16) as u32);
        out.extend_from_slice(&counter.to_le_bytes());
        out.extend_from_slice(&(rng.next() as u16).to_le_bytes());
        out.extend_from_slice(&[0, 0]);
    }
    out.truncate(len);
    out
}

fn random(rng: &mut Rng, len: usize) -> Vec<u8> {
    let mut out = Vec::with_capacity(len + 8);
    while out.len() < len {
        out.extend_from_slice(&rng.next().to_le_bytes());
    }
    out.truncate(len);
    out
}

/// `len` bytes alternating text-like, binary-like, random and zero runs of
/// 256 KiB to 4 MiB.
fn mixed(rng: &mut Rng, len: usize) -> Vec<u8> {
    let mut out = Vec::with_capacity(len);
    let mut kind = 0;
    while out.len() < len {
        let run = (256 * 1024 + rng.below(4 * MIB - 256 * 1024)).min(len - out.len());
        let piece = match kind % 4 {
            0 => text_like(rng, run),
            1 => binary_like(rng, run),
            2 => random(rng, run),
            _ => vec![0; run],
        };
        out.extend_from_slice(&piece);
        kind += 1;
    }
    out
}

fn keys() -> VaultKeys {
    MasterKey::from_bytes([7; 32]).derive()
}

/// Chunks `data` fed in 1 MiB reads, as a host streaming a file would;
/// returns the number of chunks.
fn chunk_all(params: ChunkerParams, keys: &VaultKeys, data: &[u8]) -> usize {
    let mut chunker = Chunker::new(params, &keys.chunker).unwrap();
    let mut chunks = 0usize;
    let mut count = |chunk: &[u8]| {
        chunks += black_box(chunk).len().min(1);
        Ok(())
    };
    for piece in data.chunks(MIB) {
        chunker.push(piece, &mut count).unwrap();
    }
    chunker.finish(&mut count).unwrap();
    chunks
}

fn chunker(c: &mut Criterion) {
    let keys = keys();
    let data = mixed(&mut Rng(1), 32 * MIB);
    let mut group = c.benchmark_group("chunker");
    group.throughput(Throughput::Bytes(data.len() as u64));
    group.bench_function("fastcdc default params, 32 MiB mixed", |b| {
        b.iter(|| chunk_all(ChunkerParams::default(), &keys, &data))
    });
    group.finish();

    // The chunker alone on random data, in GB/s. With the default sizes
    // FastCDC skips each chunk's first 512 KiB, so about half the bytes
    // are hashed; with a 64-byte minimum every byte goes through the gear
    // loop, which so is measured on its own.
    let data = random(&mut Rng(6), 64 * MIB);
    let mut group = c.benchmark_group("chunker alone");
    group.throughput(Throughput::BytesDecimal(data.len() as u64));
    let every_byte = ChunkerParams {
        min_size: 64,
        ..ChunkerParams::default()
    };
    for (name, params) in [
        ("default params, 64 MiB random", ChunkerParams::default()),
        ("gear loop (min 64 B), 64 MiB random", every_byte),
    ] {
        group.bench_function(name, |b| b.iter(|| chunk_all(params, &keys, &data)));
    }
    group.finish();
}

fn id_hash(c: &mut Criterion) {
    let keys = keys();
    let chunk = mixed(&mut Rng(2), MIB);
    let mut group = c.benchmark_group("id hash");
    group.throughput(Throughput::Bytes(MIB as u64));
    group.bench_function("blob_id, 1 MiB", |b| {
        b.iter(|| blob_id(&keys, black_box(&chunk)))
    });
    group.finish();
}

fn compression(c: &mut Criterion) {
    let keys = keys();
    let vault_id = [1u8; 16];
    let mut compressor = Compressor::new(ZSTD_LEVEL).unwrap();
    let mut group = c.benchmark_group("compression");
    group.throughput(Throughput::Bytes(MIB as u64));
    for (name, chunk) in [
        ("text-like", text_like(&mut Rng(3), MIB)),
        ("random", random(&mut Rng(4), MIB)),
    ] {
        let id = blob_id(&keys, &chunk);
        // seal_blob also encrypts: its gap to bare zstd is the engine's overhead.
        group.bench_function(format!("seal_blob zstd-3, 1 MiB {name}"), |b| {
            b.iter(|| {
                seal_blob(
                    &keys,
                    &vault_id,
                    &mut compressor,
                    BlobType::Data,
                    id,
                    black_box(&chunk),
                )
                .unwrap()
            })
        });
        group.bench_function(format!("zstd::bulk::compress 3, 1 MiB {name}"), |b| {
            b.iter(|| zstd::bulk::compress(black_box(&chunk), ZSTD_LEVEL).unwrap())
        });
    }
    group.finish();
}

fn aead(c: &mut Criterion) {
    let keys = keys();
    let nonce = [9u8; 12];
    let mut buf = random(&mut Rng(5), MIB);
    let mut group = c.benchmark_group("aead");
    group.throughput(Throughput::Bytes(MIB as u64));
    group.bench_function("AES-256-GCM seal_in_place, 1 MiB", |b| {
        b.iter(|| {
            keys.blob
                .seal_in_place(&nonce, b"aad", &mut buf, 0)
                .unwrap();
            // Drop the tag so every iteration seals the same length.
            buf.truncate(MIB);
        })
    });
    group.finish();

    // Each backend on 1 MiB blocks, in GB/s: the native assembly against
    // the portable Rust (wasm32's).
    let key = SecretKey::from_bytes([5; 32]);
    let mut group = c.benchmark_group("aead backends");
    group.throughput(Throughput::BytesDecimal(MIB as u64));
    for &backend in AeadBackend::ALL {
        let aead = Aead::with_backend(&key, backend);
        let name = format!("{backend:?}");
        group.bench_function(BenchmarkId::new("seal 1 MiB", &name), |b| {
            b.iter(|| {
                aead.seal_in_place(&nonce, b"aad", &mut buf, 0).unwrap();
                buf.truncate(MIB);
            })
        });
        let mut sealed = Vec::new();
        aead.seal_into(&nonce, b"aad", &buf, &mut sealed).unwrap();
        group.bench_function(BenchmarkId::new("open 1 MiB", &name), |b| {
            b.iter(|| aead.open(&nonce, b"aad", black_box(&sealed)).unwrap())
        });
    }
    group.finish();
}

fn config() -> Criterion {
    Criterion::default()
        .sample_size(10)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(2))
}

criterion_group! {
    name = micro;
    config = config();
    targets = chunker, id_hash, compression, aead
}
criterion_main!(micro);
