//! The backup pipeline benchmark (`cargo bench -p cloudbackup-core --bench
//! pipeline`): how close the whole engine path (chunk, keyed BLAKE3 id, dedup,
//! zstd, AES-256-GCM, bundles) comes to zstd alone on the same chunks, how fast
//! the result restores, and what a second thread buys.
//!
//! Run without `--bench` (as `cargo test --all-targets` does) it only smoke-tests
//! itself on a small corpus, so CI does not spend minutes in a debug build.
//! `PIPELINE_MIB=64 cargo bench ...` runs a smaller corpus, best of 3;
//! `PIPELINE_PROFILE_THREADS=2` only ten 2-thread backups (for profiling).

use std::collections::{HashMap, VecDeque};
use std::hint::black_box;
use std::sync::Arc;
use std::time::{Duration, Instant};

use cloudbackup_core::engine::blob::open_blob;
use cloudbackup_core::engine::bundle::{read_trailer, BundleEntry};
use cloudbackup_core::engine::chunker::Chunker;
use cloudbackup_core::engine::{
    BackupOptions, BackupSession, FileMeta, Id, Index, KdfParams, RangeFeed, RestoreOptions,
    RestoreSession, SealedBundle, Snapshot, SnapshotInfo, Vault, VaultSettings,
};
use cloudbackup_core::Result;

mod corpus;
use corpus::Corpus;

/// The host's write size.
const WRITE: usize = 1 << 20;

fn main() -> Result<()> {
    let full = std::env::args().any(|a| a == "--bench");
    let (size, runs) = match std::env::var("PIPELINE_MIB") {
        Ok(m) if full => (m.parse::<usize>().unwrap_or(256) << 20, 3),
        _ if full => (256 << 20, 5),
        _ => (2 << 20, 1),
    };
    if !full {
        println!(
            "smoke run (a debug build, tiny corpus): the figures mean nothing; use `cargo bench`"
        );
    }
    let mb = size as f64 / 1e6;
    println!(
        "corpus: {} MiB mixed (text, binary, random, zero runs, repeats); best of {runs} runs each",
        size >> 20
    );
    let data = generate(Corpus::new(1, size as u64, true), size);
    let unique = generate(Corpus::new(2, size as u64, false), size);

    let vault = Vault::create(
        b"bench",
        VaultSettings::default(),
        KdfParams::insecure_for_tests(),
    )?;

    // Only the backup on N threads, ten times: for `perf` of that path alone.
    if let Ok(n) = std::env::var("PIPELINE_PROFILE_THREADS") {
        let threads = n.parse().unwrap_or(2);
        for _ in 0..10 {
            let d = time(|| backup(&vault, &data, threads, false))?;
            println!(
                "backup on {threads} threads: {:.1} MB/s",
                mb / d.as_secs_f64()
            );
        }
        return Ok(());
    }
    // The engine's chunks, cut once outside the timings for zstd alone.
    let lens = chunk_lengths(&vault, &data)?;
    let lens_u = chunk_lengths(&vault, &unique)?;

    // Round robin, so a neighbour's load on this shared machine hits every
    // contender alike; the best of each is kept.
    let mut t = [Duration::MAX; 5];
    for _ in 0..runs {
        let timings = [
            time(|| zstd_only(&vault, &data, &lens))?,
            time(|| backup(&vault, &data, 1, false))?,
            time(|| backup(&vault, &data, 2, false))?,
            time(|| zstd_only(&vault, &unique, &lens_u))?,
            time(|| backup(&vault, &unique, 1, false))?,
        ];
        for (best, new) in t.iter_mut().zip(timings) {
            *best = (*best).min(new);
        }
    }
    let [zstd, one, two, zstd_u, one_u] = t.map(|d| mb / d.as_secs_f64());

    println!("zstd-only MB/s: {zstd:.1}");
    println!("pipeline MB/s: {one:.1}");
    println!("ratio pipeline/zstd-only: {:.2}", one / zstd);
    let (bundles, tree) = backup(&vault, &data, 1, true)?;
    let c = tree.counters;
    println!(
        "  dedup: {:.1}% of input bytes were already stored; {} bundles, {:.1} MB stored",
        100.0 * (1.0 - c.bytes_backed_up as f64 / c.bytes_searched as f64),
        bundles.len(),
        c.bytes_in_db as f64 / 1e6
    );

    // Restore through the blob-level path (bundle trailers + open_blob); the
    // engine's RestoreSession is being written separately and adds planning
    // and range grouping on top of exactly this work.
    let mut at = 0;
    let restored = restore(&vault, &bundles, &tree, &mut |plain| {
        assert_eq!(plain, &data[at..at + plain.len()], "restore differs");
        at += plain.len();
    })?;
    assert_eq!(restored, size, "restore is complete");
    let rest = (0..runs).try_fold(Duration::MAX, |best, _| {
        let d = time(|| {
            restore(&vault, &bundles, &tree, &mut |p| {
                black_box(p);
            })
        })?;
        Ok::<_, cloudbackup_core::Error>(best.min(d))
    })?;
    println!("restore MB/s: {:.1}", mb / rest.as_secs_f64());

    // The same restore through RestoreSession as a host drives it (ranges
    // planned and started ahead, writes taken in order), on 1 and 2 threads.
    let shared: Vec<(Id, Arc<Vec<u8>>)> = bundles
        .iter()
        .map(|b| (b.id, Arc::new(b.bytes.clone())))
        .collect();
    let mut index = Index::new();
    for b in &bundles {
        index.add_bundle(b);
    }
    let mut check = vec![0u8; size];
    restore_session(&vault, &shared, &index, &tree, 2, &mut |at, p| {
        check[at as usize..at as usize + p.len()].copy_from_slice(p);
    })?;
    assert!(check == data, "the 2-thread restore differs");
    drop(check);
    let mut t = [Duration::MAX; 2];
    for _ in 0..runs {
        for (best, threads) in t.iter_mut().zip([1, 2]) {
            let d = time(|| {
                restore_session(&vault, &shared, &index, &tree, threads, &mut |_, p| {
                    black_box(p);
                })
            })?;
            *best = (*best).min(d);
        }
    }
    let [s1, s2] = t.map(|d| mb / d.as_secs_f64());
    println!("restore session 1-thread MB/s: {s1:.1}");
    println!(
        "restore 2-thread MB/s: {s2:.1} (speedup {:.2} over the session on 1 thread)",
        s2 / s1
    );
    println!(
        "pipeline 2-thread speedup: {:.2} ({two:.1} MB/s)",
        two / one
    );

    let (_, tree_u) = backup(&vault, &unique, 1, true)?;
    assert_eq!(
        tree_u.counters.bytes_backed_up, size as u64,
        "the unique corpus dedups nothing"
    );
    println!("pipeline (no dedup possible) MB/s: {one_u:.1}");
    println!(
        "  same corpus: zstd-only MB/s {zstd_u:.1}, ratio {:.2}",
        one_u / zstd_u
    );
    Ok(())
}

/// The whole corpus in memory.
fn generate(mut corpus: Corpus, size: usize) -> Vec<u8> {
    let mut out = vec![0u8; size];
    let mut at = 0;
    while at < size {
        at += corpus.fill(&mut out[at..]);
    }
    out
}

/// How long `f` takes.
fn time<T>(f: impl FnOnce() -> Result<T>) -> Result<Duration> {
    let start = Instant::now();
    black_box(f()?);
    Ok(start.elapsed())
}

/// The engine's chunk lengths for `data` (as one file).
fn chunk_lengths(vault: &Vault, data: &[u8]) -> Result<Vec<usize>> {
    let mut chunker = Chunker::new(vault.settings().chunker, &vault.keys().chunker)?;
    let mut lens = Vec::new();
    for piece in data.chunks(WRITE) {
        chunker.push(piece, &mut |c| {
            lens.push(c.len());
            Ok(())
        })?;
    }
    chunker.finish(&mut |c| {
        lens.push(c.len());
        Ok(())
    })?;
    Ok(lens)
}

/// zstd alone, one core, one reused bulk compressor at the vault's level,
/// over the chunks the engine cuts (`lens`, cut beforehand, outside the timing).
fn zstd_only(vault: &Vault, data: &[u8], lens: &[usize]) -> Result<usize> {
    let mut c = zstd::bulk::Compressor::new(vault.settings().zstd_level).map_err(io)?;
    let max = vault.settings().chunker.max_size as usize;
    let mut out = Vec::with_capacity(zstd::zstd_safe::compress_bound(max));
    let mut total = 0;
    let mut at = 0;
    for &len in lens {
        out.clear();
        total += c
            .compress_to_buffer(&data[at..at + len], &mut out)
            .map_err(io)?;
        at += len;
    }
    Ok(total)
}

fn io(e: std::io::Error) -> cloudbackup_core::Error {
    cloudbackup_core::Error::argument("zstd", e.to_string())
}

/// What a backup run leaves for the restore.
type Kept = (Vec<SealedBundle>, Snapshot);

/// One backup of `data` (as one file) in 1 MiB writes, taking bundles as they
/// come: kept (for the restore) or, as a host does once it stored them,
/// dropped with their buffers handed back to the session for reuse.
fn backup(vault: &Vault, data: &[u8], threads: usize, keep: bool) -> Result<Kept> {
    let index = Index::new();
    let mut s = BackupSession::new(vault, std::sync::Arc::new(index), BackupOptions { threads })?;
    let mut kept = Vec::new();
    s.start_file(FileMeta::file("/corpus", 0o644, 0))?;
    for piece in data.chunks(WRITE) {
        s.write(piece)?;
        for b in s.take_bundles() {
            if keep {
                kept.push(b);
            } else {
                s.recycle(b.bytes);
            }
        }
    }
    s.finish_file()?;
    let out = s.finish(SnapshotInfo::at(0))?;
    kept.extend(out.bundles);
    Ok((kept, out.tree))
}

/// Opens every chunk of the snapshot in order, reading each bundle's trailer
/// first; `sink` gets the verified plaintext. Returns the bytes produced.
fn restore(
    vault: &Vault,
    bundles: &[SealedBundle],
    tree: &Snapshot,
    sink: &mut dyn FnMut(&[u8]),
) -> Result<usize> {
    let keys = vault.keys();
    let mut blobs: HashMap<_, (usize, BundleEntry)> = HashMap::new();
    for (i, b) in bundles.iter().enumerate() {
        for e in read_trailer(keys, vault.id(), &b.id, &b.bytes)? {
            blobs.insert(e.id, (i, e));
        }
    }
    let mut produced = 0;
    for id in tree.entries.iter().flat_map(|e| &e.chunks) {
        let Some(&(i, e)) = blobs.get(id) else {
            return Err(cloudbackup_core::Error::corrupt("bench", "chunk not found"));
        };
        let sealed = &bundles[i].bytes[e.offset as usize..(e.offset + e.length) as usize];
        let plain = open_blob(keys, vault.id(), e.kind, &e.id, e.raw_len, sealed, "bench")?;
        produced += plain.len();
        sink(&plain);
    }
    Ok(produced)
}

/// A range of a shared bundle, handed to a restore without a copy.
struct Slice(Arc<Vec<u8>>, std::ops::Range<usize>);

impl AsRef<[u8]> for Slice {
    fn as_ref(&self) -> &[u8] {
        &self.0[self.1.clone()]
    }
}

/// Restores `tree` with a [`RestoreSession`] on `threads`, as the Python
/// host does: one range started ahead of the one whose writes it takes;
/// `sink` gets each write's offset in the (single) file and its bytes.
/// Returns the bytes written.
fn restore_session(
    vault: &Vault,
    bundles: &[(Id, Arc<Vec<u8>>)],
    index: &Index,
    tree: &Snapshot,
    threads: usize,
    sink: &mut dyn FnMut(u64, &[u8]),
) -> Result<usize> {
    const AHEAD: usize = 1;
    let options = RestoreOptions {
        threads,
        ..RestoreOptions::default()
    };
    let mut s = RestoreSession::new(vault, tree, index, options)?;
    let by_id: HashMap<Id, &Arc<Vec<u8>>> = bundles.iter().map(|(id, b)| (*id, b)).collect();
    let mut todo = Vec::new();
    for f in s.plan() {
        let Some(&bytes) = by_id.get(&f.bundle) else {
            return Err(cloudbackup_core::Error::corrupt(
                "bench",
                "bundle not found",
            ));
        };
        for r in f.ranges {
            let span = r.offset as usize..(r.offset + r.length) as usize;
            todo.push((f.bundle, r.offset, Slice(Arc::clone(bytes), span)));
        }
    }
    let mut todo = todo.into_iter();
    let mut started: VecDeque<RangeFeed> = VecDeque::new();
    let mut written = 0;
    loop {
        while started.len() <= AHEAD {
            let Some((bundle, offset, bytes)) = todo.next() else {
                break;
            };
            started.push_back(s.start_range_owned(&bundle, offset, bytes)?);
        }
        let Some(mut range) = started.pop_front() else {
            break;
        };
        while let Some(w) = s.next_write_owned(&mut range) {
            for p in &w.places {
                sink(p.offset, &w.data);
                written += w.data.len();
            }
        }
    }
    let report = s.finish();
    if report.errors.is_some() {
        return Err(cloudbackup_core::Error::corrupt(
            "bench",
            "the restore failed",
        ));
    }
    Ok(written)
}
