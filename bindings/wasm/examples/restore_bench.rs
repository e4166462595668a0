//! The native side of web/bench (`make bench-web`): backs up the same data
//! the wasm benchmark uses, into a vault with the same settings, and prints
//! how fast the core restores it natively (`restore MB/s native: N`).
//! Not a test: `cargo run --release -p cloudbackup-wasm --example restore_bench`.

use std::sync::Arc;
use std::time::Instant;

use cloudbackup_core::engine::restore::{RestoreOptions, RestoreSession};
use cloudbackup_core::engine::{
    BackupOptions, BackupSession, FileMeta, Index, KdfParams, SnapshotInfo, Vault, VaultSettings,
};

/// The benchmark's data, as web/bench/bench.mjs makes it: `mib` MiB where
/// every other MiB is xorshift noise and the rest a repeating text.
pub fn bench_data(mib: usize) -> Vec<u8> {
    let mut out = Vec::with_capacity(mib << 20);
    let mut x: u32 = 0x9e37_79b9;
    let text = b"The quick brown fox jumps over the lazy dog. 0123456789\n";
    for m in 0..mib {
        for i in 0..(1 << 20) {
            if m % 2 == 0 {
                x ^= x << 13;
                x ^= x >> 17;
                x ^= x << 5;
                out.push(x as u8);
            } else {
                out.push(text[i % text.len()]);
            }
        }
    }
    out
}

fn main() -> Result<(), cloudbackup_core::Error> {
    let mib = 32;
    let data = bench_data(mib);
    let vault = Vault::create(
        b"bench",
        VaultSettings::default(),
        KdfParams::insecure_for_tests(),
    )?;
    let mut backup = BackupSession::new(&vault, Arc::new(Index::new()), BackupOptions::default())?;
    backup.start_file(FileMeta::file("/bench.bin", 0o644, 0))?;
    for part in data.chunks(1 << 20) {
        backup.write(part)?;
    }
    backup.finish_file()?;
    let outcome = backup.finish(SnapshotInfo::at(0))?;
    let mut index = Index::new();
    index.load_delta(
        vault.keys(),
        vault.id(),
        &outcome.index.id,
        &outcome.index.bytes,
    )?;
    let bundles: std::collections::HashMap<_, _> = outcome
        .bundles
        .into_iter()
        .map(|b| (b.id, b.bytes))
        .collect();
    let snapshot = cloudbackup_core::engine::Snapshot::open(
        vault.keys(),
        vault.id(),
        &outcome.snapshot.id,
        &outcome.snapshot.bytes,
    )?;

    let mut best = f64::MAX;
    for _ in 0..5 {
        let start = Instant::now();
        let mut session =
            RestoreSession::new(&vault, &snapshot, &index, RestoreOptions::default())?;
        let mut file = Vec::new();
        for c in session.creates() {
            if let Some(size) = c.size {
                file = vec![0u8; size as usize];
            }
        }
        for fetch in session.plan() {
            let bundle = &bundles[&fetch.bundle];
            for r in &fetch.ranges {
                let slice = &bundle[r.offset as usize..(r.offset + r.length) as usize];
                for w in session.feed(&fetch.bundle, r.offset, slice)? {
                    for p in &w.places {
                        file[p.offset as usize..p.offset as usize + w.data.len()]
                            .copy_from_slice(&w.data);
                    }
                }
            }
        }
        let report = session.finish();
        assert!(file == data && report.errors.is_none(), "restore differs");
        best = best.min(start.elapsed().as_secs_f64());
    }
    println!(
        "restore MB/s native: {:.1} ({mib} MiB, best of 5)",
        (data.len() as f64 / 1e6) / best
    );
    Ok(())
}
