//! The worker pool of a multi-threaded restore. When the host starts a
//! range with its own bytes, each blob of it becomes a job that a worker
//! opens (authenticates, decrypts, decompresses, checks the id); the host
//! claims the results in its order (range by range, blob by blob), so the
//! writes, the files' states and the report are those of one thread. Only
//! the opening moves: which files a blob goes to is still decided on the
//! calling thread, at the claim.
//!
//! Memory: jobs go out in the order they were queued while the plaintext
//! of the jobs out and not claimed yet stays within a limit (a few average
//! chunks per worker), and so does their number (a range of tiny files'
//! blobs would otherwise put tens of thousands out at once, and each
//! push and claim looks over those out), so starting ranges ahead only
//! queues them.

use std::collections::{HashMap, VecDeque};
use std::panic::{self, AssertUnwindSafe};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{mpsc, Arc};

use super::{open_in_range, SharedBytes};
use crate::engine::crypto::Id;
use crate::engine::format::VaultId;
use crate::engine::index::Location;
use crate::engine::keys::VaultKeys;
use crate::engine::vault::Vault;
use crate::{Error, Result};

/// A blob opened by a worker: its plaintext, and whether it is all zeros
/// (so the calling thread does not scan it again for sparse restores).
pub(super) struct Opened {
    pub(super) plain: Vec<u8>,
    pub(super) zeros: bool,
}

/// One blob to open.
pub(super) struct Job {
    /// The blob and where it is.
    pub(super) id: Id,
    pub(super) location: Location,
    /// The bytes of the range holding it, and where the range starts.
    pub(super) bytes: SharedBytes,
    pub(super) range_offset: u64,
    /// Set when the host dropped the range: its jobs are skipped and their
    /// results thrown away.
    pub(super) dropped: Arc<AtomicBool>,
}

/// A job's sequence number and what it needs kept until claimed.
struct Queued {
    seq: u64,
    job: Job,
}

/// A finished job: its sequence number, plaintext length, the range's
/// dropped flag and the result.
type Done = (u64, usize, Arc<AtomicBool>, Result<Opened>);

/// Jobs queued, out and finished, claimed by sequence number.
pub(super) struct Workers {
    pool: rayon::ThreadPool,
    keys: Arc<(VaultKeys, VaultId)>,
    tx: mpsc::Sender<Done>,
    rx: mpsc::Receiver<Done>,
    /// The next sequence number to give out.
    next_seq: u64,
    /// Jobs waiting for room, in order.
    queue: VecDeque<Queued>,
    /// Jobs out on the pool.
    running: usize,
    /// Finished jobs not claimed yet: plaintext length, dropped flag, result.
    finished: HashMap<u64, (usize, Arc<AtomicBool>, Result<Opened>)>,
    /// Plaintext bytes of the jobs out and of those finished, not claimed.
    held: usize,
    limit: usize,
    /// How many jobs are out or finished and not claimed, and at most how
    /// many may be.
    held_jobs: usize,
    max_jobs: usize,
    /// What a worker runs ([`open`]; tests put a failing one in).
    opener: fn(&(VaultKeys, VaultId), &Job) -> Result<Opened>,
}

impl Workers {
    /// A pool of `threads` workers for `vault`.
    pub(super) fn new(vault: &Vault, threads: usize) -> Result<Self> {
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .thread_name(|i| format!("cloudbackup-restore-{i}"))
            .build()
            .map_err(|e| Error::argument("threads", e.to_string()))?;
        let avg = vault.settings().chunker.avg_size as usize;
        let (tx, rx) = mpsc::channel();
        Ok(Workers {
            pool,
            keys: Arc::new((vault.keys().clone(), *vault.id())),
            tx,
            rx,
            next_seq: 0,
            queue: VecDeque::new(),
            running: 0,
            finished: HashMap::new(),
            held: 0,
            // Two average chunks per thread: blobs are claimed in order, so
            // with fewer a large one stalls the others; four measured no
            // faster (the host's writing is the slow part) and took bench-peers'
            // restore peak from 88 to 95 MiB, restic's.
            limit: 2 * threads * avg,
            // Enough to keep every worker busy on blobs of a few bytes; the
            // 100,000 tiny files of a home directory's dotfiles put ~40,000
            // out per 4 MiB range without it, and restoring them took 4x
            // restic's time (every push and claim scanned them).
            held_jobs: 0,
            max_jobs: 64 * threads,
            opener: open,
        })
    }

    /// Queues `job` (it goes out once there is room); returns its sequence
    /// number, to claim its result with.
    pub(super) fn push(&mut self, job: Job) -> u64 {
        let seq = self.next_seq;
        self.next_seq += 1;
        self.queue.push_back(Queued { seq, job });
        self.pump();
        seq
    }

    /// The result of job `seq`, waiting for it if need be (sending it out
    /// at once if it is still queued: the host waits for nothing else).
    pub(super) fn claim(&mut self, seq: u64) -> Result<Opened> {
        loop {
            self.collect();
            if let Some((len, _, result)) = self.finished.remove(&seq) {
                self.held -= len;
                self.held_jobs -= 1;
                self.pump();
                return result;
            }
            // Queued in sequence order: a search, not a scan (tens of
            // thousands of tiny blobs may wait there while this one is out).
            if let Ok(pos) = self.queue.binary_search_by_key(&seq, |q| q.seq) {
                if let Some(q) = self.queue.remove(pos) {
                    self.send(q);
                }
                continue;
            }
            if self.running == 0 {
                // Claimed twice, or never pushed: nothing will report it.
                return Err(Error::InvalidState {
                    session: "restore".into(),
                    reason: format!("no blob job {seq} is pending"),
                });
            }
            // `self.tx` keeps the channel open, so this returns once a job reports.
            if let Ok(done) = self.rx.recv() {
                self.store(done);
            }
        }
    }

    /// Sends queued jobs out while they fit the limit (or nothing is out
    /// at all, so a blob larger than the limit still goes), skipping those
    /// of dropped ranges.
    fn pump(&mut self) {
        self.forget_dropped();
        while let Some(q) = self.queue.front() {
            let len = q.job.location.raw_len as usize;
            if q.job.dropped.load(Ordering::Relaxed) {
                self.queue.pop_front();
            } else if self.held_jobs == 0
                || (self.held + len <= self.limit && self.held_jobs < self.max_jobs)
            {
                if let Some(q) = self.queue.pop_front() {
                    self.send(q);
                }
            } else {
                break;
            }
        }
    }

    fn send(&mut self, Queued { seq, job }: Queued) {
        let len = job.location.raw_len as usize;
        self.held += len;
        self.held_jobs += 1;
        self.running += 1;
        let (keys, tx, opener) = (Arc::clone(&self.keys), self.tx.clone(), self.opener);
        self.pool.spawn(move || {
            let dropped = Arc::clone(&job.dropped);
            // A panic must reach the session as an error: uncaught, rayon
            // would abort the host's process.
            let opened = panic::catch_unwind(AssertUnwindSafe(|| opener(&keys, &job)))
                .unwrap_or_else(|_| {
                    Err(Error::InvalidValue {
                        field: "restore worker".into(),
                        reason: "panicked while opening a blob".into(),
                    })
                });
            // The session may be gone (dropped after an error): nothing to do.
            let _ = tx.send((seq, len, dropped, opened));
        });
    }

    /// Takes in the results that arrived.
    fn collect(&mut self) {
        while let Ok(done) = self.rx.try_recv() {
            self.store(done);
        }
    }

    fn store(&mut self, (seq, len, dropped, opened): Done) {
        self.running -= 1;
        if dropped.load(Ordering::Relaxed) {
            self.held -= len;
            self.held_jobs -= 1;
        } else {
            self.finished.insert(seq, (len, dropped, opened));
        }
    }

    /// Frees the results of ranges the host dropped.
    fn forget_dropped(&mut self) {
        self.collect();
        let (mut freed, mut jobs) = (0, 0);
        self.finished.retain(|_, (len, dropped, _)| {
            let keep = !dropped.load(Ordering::Relaxed);
            if !keep {
                freed += *len;
                jobs += 1;
            }
            keep
        });
        self.held -= freed;
        self.held_jobs -= jobs;
    }
}

/// Opens the blob of `job`.
fn open(keys: &(VaultKeys, VaultId), job: &Job) -> Result<Opened> {
    let plain = open_in_range(
        &keys.0,
        &keys.1,
        &job.id,
        &job.location,
        job.range_offset,
        (*job.bytes).as_ref(),
    )?;
    let zeros = plain.iter().all(|&b| b == 0);
    Ok(Opened { plain, zeros })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::format::BlobType;
    use crate::ErrorCode;

    use super::super::tests::vault;

    /// A job for a blob of `raw_len` bytes at 0 of `bytes`.
    fn job(raw_len: u32, bytes: &SharedBytes, dropped: &Arc<AtomicBool>) -> Job {
        Job {
            id: Id([9; 32]),
            location: Location {
                bundle: Id([8; 32]),
                kind: BlobType::Data,
                offset: 0,
                length: 64,
                raw_len,
            },
            bytes: Arc::clone(bytes),
            range_offset: 0,
            dropped: Arc::clone(dropped),
        }
    }

    fn pieces() -> (SharedBytes, Arc<AtomicBool>) {
        (Arc::new(vec![0u8; 64]), Arc::new(AtomicBool::new(false)))
    }

    #[test]
    fn a_panicking_worker_is_an_error_and_the_pool_goes_on() {
        let mut w = Workers::new(&vault(), 2).unwrap();
        w.opener = |_, job| {
            if job.location.raw_len == 1 {
                panic!("a bug in a worker");
            }
            Ok(Opened {
                plain: vec![7; job.location.raw_len as usize],
                zeros: false,
            })
        };
        let (bytes, dropped) = pieces();
        let bad = w.push(job(1, &bytes, &dropped));
        let good = w.push(job(5, &bytes, &dropped));
        let e = w.claim(bad).err().unwrap();
        assert_eq!(e.code(), ErrorCode::InvalidValue);
        assert!(e.to_string().contains("panicked"), "{e}");
        assert_eq!(w.claim(good).unwrap().plain, vec![7; 5]);
        assert_eq!(w.claim(good).err().unwrap().code(), ErrorCode::InvalidState);
        assert_eq!(w.held, 0);
    }

    #[test]
    fn tiny_jobs_go_out_a_bounded_number_at_a_time() {
        let mut w = Workers::new(&vault(), 2).unwrap();
        w.opener = |_, job| {
            Ok(Opened {
                plain: vec![1; job.location.raw_len as usize],
                zeros: false,
            })
        };
        let (bytes, dropped) = pieces();
        let seqs: Vec<u64> = (0..1000)
            .map(|_| w.push(job(3, &bytes, &dropped)))
            .collect();
        assert_eq!(w.held_jobs, w.max_jobs);
        assert_eq!(w.queue.len(), 1000 - w.max_jobs);
        for seq in seqs {
            assert_eq!(w.claim(seq).unwrap().plain, vec![1; 3]);
            assert!(w.held_jobs <= w.max_jobs);
        }
        assert_eq!((w.held, w.held_jobs, w.queue.len()), (0, 0, 0));
    }

    #[test]
    fn dropped_results_give_their_room_back_finished_or_not() {
        let mut w = Workers::new(&vault(), 2).unwrap();
        w.opener = |_, job| {
            Ok(Opened {
                plain: vec![2; job.location.raw_len as usize],
                zeros: false,
            })
        };
        let (bytes, kept) = pieces();
        let (_, gone) = pieces();
        // Out, then finished while their range is dropped: `store` or
        // `forget_dropped` frees them, whichever sees them first.
        let lost: Vec<u64> = (0..10).map(|_| w.push(job(7, &bytes, &gone))).collect();
        let after = w.push(job(5, &bytes, &kept));
        assert_eq!(w.held_jobs, 11);
        gone.store(true, Ordering::Relaxed);
        assert_eq!(w.claim(after).unwrap().plain, vec![2; 5]);
        while w.running > 0 {
            if let Ok(done) = w.rx.recv() {
                w.store(done);
            }
        }
        w.forget_dropped();
        assert_eq!((w.held, w.held_jobs), (0, 0));
        assert!(w.finished.is_empty());
        for seq in lost {
            assert_eq!(w.claim(seq).err().unwrap().code(), ErrorCode::InvalidState);
        }
    }

    #[test]
    fn jobs_wait_for_room_unless_claimed_and_dropped_ones_free_it() {
        let mut w = Workers::new(&vault(), 2).unwrap();
        w.opener = |_, job| {
            Ok(Opened {
                plain: vec![0; job.location.raw_len as usize],
                zeros: true,
            })
        };
        let limit = w.limit as u32;
        let (bytes, dropped) = pieces();
        let (_, gone) = pieces();
        let big = w.push(job(limit + 1, &bytes, &dropped));
        assert_eq!(
            w.running + w.finished.len(),
            1,
            "larger than the limit, alone"
        );
        let lost = w.push(job(limit / 2, &bytes, &gone));
        let later = w.push(job(limit / 2, &bytes, &dropped));
        assert_eq!(w.queue.len(), 2, "no room while the large one is held");
        assert_eq!(w.claim(later).unwrap().plain.len(), (limit / 2) as usize);
        gone.store(true, Ordering::Relaxed);
        assert!(w.claim(big).unwrap().zeros);
        assert!(w.queue.is_empty(), "the dropped job never went out");
        assert_eq!((w.held, w.held_jobs), (0, 0));
        assert_eq!(w.claim(lost).err().unwrap().code(), ErrorCode::InvalidState);
    }
}
