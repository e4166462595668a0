//! Backs up a generated stream (2 GiB by default) into a fresh vault the way a
//! host would: 1 MiB writes, bundles taken as they come (dropped here, where
//! a real host would upload them) and their buffers handed back for reuse.
//! The stream is generated on the fly and never held in memory, so the
//! process's peak RSS is the engine's.
//!
//! ```text
//! cargo run --release -p cloudbackup-core --example stream_backup -- [size_mib] [threads]
//! /usr/bin/time -v target/release/examples/stream_backup 2048 2   # peak RSS
//! ```

use std::time::{Duration, Instant};

use cloudbackup_core::engine::{
    BackupOptions, BackupSession, FileMeta, Index, KdfParams, SnapshotInfo, Vault, VaultSettings,
};
use cloudbackup_core::{Error, Result};

#[path = "../benches/corpus/mod.rs"]
mod corpus;
use corpus::Corpus;

/// The host's write size.
const WRITE: usize = 1 << 20;

fn main() {
    if let Err(e) = run() {
        eprintln!("stream_backup: {e}");
        std::process::exit(1);
    }
}

/// The `n`th argument as a number, or `default`.
fn arg(n: usize, name: &str, default: u64) -> Result<u64> {
    match std::env::args().nth(n) {
        None => Ok(default),
        Some(a) => a
            .parse()
            .map_err(|_| Error::argument(name, format!("{a:?} is not a number"))),
    }
}

fn run() -> Result<()> {
    let size_mib = arg(1, "size_mib", 2048)?;
    let threads = arg(2, "threads", 1)? as usize;
    let size = size_mib << 20;
    let vault = Vault::create(
        b"example",
        VaultSettings::default(),
        KdfParams::insecure_for_tests(),
    )?;
    let index = Index::new();
    let mut corpus = Corpus::new(1, size, true);
    let mut buf = vec![0u8; WRITE];

    let start = Instant::now();
    let mut engine = Duration::ZERO;
    let (mut bundles, mut stored) = (0usize, 0u64);
    let mut session = BackupSession::new(
        &vault,
        std::sync::Arc::new(index),
        BackupOptions { threads },
    )?;
    session.start_file(FileMeta::file("/stream", 0o644, 0))?;
    loop {
        let n = corpus.fill(&mut buf);
        if n == 0 {
            break;
        }
        let t = Instant::now();
        session.write(&buf[..n])?;
        for b in session.take_bundles() {
            bundles += 1;
            stored += b.bytes.len() as u64;
            // A real host uploads `b` here, then hands its buffer back.
            session.recycle(b.bytes);
        }
        engine += t.elapsed();
    }
    let t = Instant::now();
    session.finish_file()?;
    let out = session.finish(SnapshotInfo::at(0))?;
    for b in &out.bundles {
        bundles += 1;
        stored += b.bytes.len() as u64;
    }
    engine += t.elapsed();
    let total = start.elapsed();

    let mb = size as f64 / 1e6;
    let c = out.counters;
    println!("stream: {size_mib} MiB in 1 MiB writes, threads {threads}");
    println!(
        "MB/s: {:.1} end to end, {:.1} in the engine (generation excluded)",
        mb / total.as_secs_f64(),
        mb / engine.as_secs_f64()
    );
    println!(
        "counters: files_searched {} files_backed_up {} bytes_searched {} bytes_backed_up {} bytes_in_db {}",
        c.files_searched, c.files_backed_up, c.bytes_searched, c.bytes_backed_up, c.bytes_in_db
    );
    println!(
        "bundles: {bundles} ({:.1} MB), chunks: {}, index delta {} B, snapshot {} B",
        stored as f64 / 1e6,
        out.tree
            .entries
            .iter()
            .map(|e| e.chunks.len())
            .sum::<usize>(),
        out.index.bytes.len(),
        out.snapshot.bytes.len()
    );
    if let Some(hwm) = peak_rss() {
        println!("peak RSS (VmHWM): {hwm}");
    }
    Ok(())
}

/// The kernel's high-water mark of this process's resident set (Linux only).
fn peak_rss() -> Option<String> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    Some(line["VmHWM:".len()..].trim().to_string())
}
