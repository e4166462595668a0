//! Restores on a worker pool (`RestoreOptions::threads`) against the same
//! restore on one thread: the same writes in the same order, the same files
//! completing after the same ranges and the same report, also when a blob
//! is corrupt, a range comes back short, or the host drops a range, and
//! whatever the number of ranges the host starts ahead.
//!
//! Vaults use tiny chunks (1/4/16 KiB), 64 KiB bundles and 16 KiB ranges,
//! so the pool's limit (two average chunks per thread) and range order
//! are both exercised with a small tree.
#![cfg(feature = "parallel")]

use std::collections::{HashMap, VecDeque};

use cloudbackup_core::engine::{
    BackupOptions, BackupSession, ByteRange, FileMeta, Id, Index, RangeFeed, RestoreOptions,
    RestoreReport, RestoreSession, Snapshot, SnapshotInfo, Vault, Write,
};

mod common;
use common::{index_and_bundles, random_bytes, tiny_vault};

struct Stored {
    vault: Vault,
    snapshot: Snapshot,
    index: Index,
    bundles: HashMap<Id, Vec<u8>>,
}

/// Text (compresses), noise (does not), zeros (holes), repeats (one blob,
/// several places) and an empty file, in 40 files.
fn stored() -> Stored {
    let vault = tiny_vault(3, 5);
    let mut s = BackupSession::new(
        &vault,
        std::sync::Arc::new(Index::new()),
        BackupOptions::default(),
    )
    .unwrap();
    for n in 0..40u64 {
        let content = match n % 5 {
            0 => random_bytes(n, 1000 + 3000 * n as usize),
            1 => b"restore at disk speed\n".repeat(200 + 100 * n as usize),
            2 => vec![0; 20_000],
            3 => random_bytes(7, 30_000),
            _ => Vec::new(),
        };
        s.start_file(FileMeta::file(format!("/f{n:02}"), 0o644, 1_700_000_000))
            .unwrap();
        s.write(&content).unwrap();
        s.finish_file().unwrap();
    }
    let out = s.finish(SnapshotInfo::at(1)).unwrap();
    let (index, bundles) = index_and_bundles(&out);
    Stored {
        vault,
        snapshot: out.tree,
        index,
        bundles,
    }
}

/// What the host sees, in order.
#[derive(Debug, PartialEq)]
enum Seen {
    Write(Vec<u8>, Vec<(String, u64)>),
    Completed(Vec<String>),
}

fn session(st: &Stored, threads: usize) -> RestoreSession {
    let options = RestoreOptions {
        threads,
        max_range: 16 * 1024,
        max_gap: 0,
        ..RestoreOptions::default()
    };
    RestoreSession::new(&st.vault, &st.snapshot, &st.index, options).unwrap()
}

fn ranges(s: &RestoreSession) -> Vec<(Id, ByteRange)> {
    s.plan()
        .iter()
        .flat_map(|f| f.ranges.iter().map(move |r| (f.bundle, *r)))
        .collect()
}

fn take(s: &mut RestoreSession, range: &mut RangeFeed, seen: &mut Vec<Seen>) {
    while let Some(w) = s.next_write_owned(range) {
        record(w, seen);
    }
    completed(s, seen);
}

/// Records a write: its bytes and places.
fn record(w: Write, seen: &mut Vec<Seen>) {
    let places = w
        .places
        .iter()
        .map(|p| (p.path.to_string(), p.offset))
        .collect();
    seen.push(Seen::Write(w.data, places));
}

/// Records the files the session completed since the last call.
fn completed(s: &mut RestoreSession, seen: &mut Vec<Seen>) {
    let done = s.take_completed().iter().map(|p| p.to_string()).collect();
    seen.push(Seen::Completed(done));
}

/// Restores `st` on `threads`, starting `ahead` ranges before taking the
/// writes of each; `edit` may change the fetched bytes of range number `i`,
/// and `drop` names a range given up after its first write.
fn restore(
    st: &Stored,
    threads: usize,
    ahead: usize,
    edit: &dyn Fn(usize, &mut Vec<u8>),
    drop: Option<usize>,
) -> (Vec<Seen>, RestoreReport) {
    let mut s = session(st, threads);
    let mut seen = Vec::new();
    let mut todo = ranges(&s).into_iter().enumerate();
    let mut started: VecDeque<(usize, RangeFeed)> = VecDeque::new();
    loop {
        while started.len() <= ahead {
            let Some((i, (bundle, r))) = todo.next() else {
                break;
            };
            let mut bytes =
                st.bundles[&bundle][r.offset as usize..(r.offset + r.length) as usize].to_vec();
            edit(i, &mut bytes);
            let range = s.start_range_owned(&bundle, r.offset, bytes).unwrap();
            started.push_back((i, range));
        }
        let Some((i, mut range)) = started.pop_front() else {
            break;
        };
        if drop == Some(i) {
            if let Some(w) = s.next_write_owned(&mut range) {
                seen.push(Seen::Write(w.data, Vec::new()));
            }
            continue;
        }
        take(&mut s, &mut range, &mut seen);
    }
    (seen, s.finish())
}

fn unchanged(_: usize, _: &mut Vec<u8>) {}

/// The borrowed path of one thread (`start_range`/`next_write`), as hosts
/// fed before there were owned ranges.
fn restore_borrowed(st: &Stored) -> (Vec<Seen>, RestoreReport) {
    let mut s = session(st, 1);
    let mut seen = Vec::new();
    for (bundle, r) in ranges(&s) {
        let bytes = &st.bundles[&bundle][r.offset as usize..(r.offset + r.length) as usize];
        let mut range = s.start_range(&bundle, r.offset, bytes.len()).unwrap();
        while let Some(w) = s.next_write(&mut range, bytes) {
            record(w, &mut seen);
        }
        completed(&mut s, &mut seen);
    }
    (seen, s.finish())
}

#[test]
fn threads_give_the_writes_completions_and_report_of_one_thread() {
    let st = stored();
    let one = restore(&st, 1, 0, &unchanged, None);
    assert_eq!(one, restore_borrowed(&st), "owned ranges change nothing");
    assert!(one.1.errors.is_none());
    assert_eq!(one.1.files_restored, 40);
    let n_ranges = ranges(&session(&st, 1)).len();
    assert!(n_ranges > 8, "{n_ranges} ranges: the test needs several");
    for (threads, ahead) in [(2, 0), (2, 1), (2, 3), (3, 2), (4, 100)] {
        let many = restore(&st, threads, ahead, &unchanged, None);
        assert!(many == one, "{threads} threads, {ahead} ranges ahead");
    }
}

#[test]
fn a_corrupt_blob_or_a_short_range_fails_the_same_files_under_threads() {
    let st = stored();
    let n = ranges(&session(&st, 1)).len();
    let (corrupt, short) = (n / 2, n / 2 + 2);
    let edit = |i: usize, bytes: &mut Vec<u8>| {
        if i == corrupt {
            // The first blob of the range: its tag no longer verifies.
            bytes[20] ^= 1;
        } else if i == short {
            // The range's last blob is cut: a truncated bundle.
            bytes.truncate(bytes.len() - 1);
        }
    };
    let one = restore(&st, 1, 0, &edit, None);
    let list = one.1.errors.clone().unwrap().list.unwrap();
    let kinds: Vec<&str> = list.iter().map(|e| e.kind.as_str()).collect();
    assert!(
        !kinds.is_empty() && kinds.iter().all(|&k| k == "corrupt"),
        "{kinds:?}"
    );
    assert!(one.1.files_restored > 0, "the restore goes on");
    for (threads, ahead) in [(2, 0), (2, 2), (3, 5)] {
        let many = restore(&st, threads, ahead, &edit, None);
        assert!(many == one, "{threads} threads, {ahead} ranges ahead");
    }
}

#[test]
fn a_dropped_range_gives_up_its_blobs_alike_and_the_rest_goes_on() {
    let st = stored();
    let n = ranges(&session(&st, 1)).len();
    let one = restore(&st, 1, 0, &unchanged, Some(n / 3));
    assert!(one.1.files_restored < 40, "some files lack blobs");
    for (threads, ahead) in [(2, 0), (2, 3), (4, 100)] {
        let many = restore(&st, threads, ahead, &unchanged, Some(n / 3));
        assert!(many == one, "{threads} threads, {ahead} ranges ahead");
    }
}

#[test]
fn feed_on_threads_matches_one_thread_and_close_stops_the_pool() {
    let st = stored();
    let feed_all = |threads: usize| {
        let mut s = session(&st, threads);
        let mut writes = Vec::new();
        for (bundle, r) in ranges(&s) {
            let bytes = &st.bundles[&bundle][r.offset as usize..(r.offset + r.length) as usize];
            writes.extend(s.feed(&bundle, r.offset, bytes).unwrap());
        }
        (writes, s.finish())
    };
    assert!(feed_all(2) == feed_all(1));

    let mut s = session(&st, 2);
    let (bundle, r) = ranges(&s)[0];
    let bytes = st.bundles[&bundle][r.offset as usize..(r.offset + r.length) as usize].to_vec();
    let mut range = s.start_range_owned(&bundle, r.offset, bytes).unwrap();
    s.close();
    assert!(
        s.next_write_owned(&mut range).is_none(),
        "no writes after close"
    );
}

#[test]
fn thread_counts_outside_1_to_max_are_refused() {
    let st = stored();
    for threads in [0, cloudbackup_core::engine::MAX_THREADS + 1] {
        let options = RestoreOptions {
            threads,
            ..RestoreOptions::default()
        };
        let e = RestoreSession::new(&st.vault, &st.snapshot, &st.index, options).err();
        assert_eq!(
            e.map(|e| e.code()),
            Some(cloudbackup_core::ErrorCode::InvalidArgument)
        );
    }
}
