//! The worker pool of a multi-threaded backup. The calling thread cuts
//! chunks and hands each to the pool, where one job names it (keyed BLAKE3)
//! and, unless the vault already has it or another job claimed its name,
//! compresses and encrypts it, while the bytes are still in that core's
//! cache. The results come back in stream order; the calling thread
//! deduplicates (in stream order) and places each new blob into the open
//! bundle at its chunk's first occurrence, so the layout does not depend on
//! the threads.
//!
//! Why the job both names and seals: with naming on the calling thread,
//! cutting, naming and copying kept it the bottleneck on two cores (the
//! pipeline bench's 2-thread speedup stalled at ~1.55); with naming and
//! sealing as two jobs, each chunk crossed cores twice and the extra cache
//! misses ate the gain (1.46). A claim (the first job to name an id seals
//! it) keeps a duplicate within the backup from being compressed twice;
//! when a later chunk's job claimed a name, its chunk's first occurrence
//! waits for that blob.
//!
//! Threads: `threads` counts the calling thread: `threads - 1` workers
//! take jobs from a queue, and the calling thread runs the oldest queued
//! job itself instead of waiting for room. So two threads keep two cores
//! busy without a third thread competing for them. It does not run jobs
//! while it has room: when cutting is the slow part (data that does not
//! compress), that would only slow the cutting the worker waits for
//! (compare.py's 2-thread figure: 958 MB/s helping eagerly, 1181 not).
//!
//! Memory: each chunk out has one buffer, which goes out holding the chunk
//! and comes back holding it (not sealed) or its sealed blob; buffers are
//! reused, since allocating and freeing chunk-sized memory costs page
//! faults, and unmapping interrupts the other cores. The bytes out are
//! bounded (see [`Workers::has_room`]).

use std::collections::{BTreeMap, HashSet, VecDeque};
use std::panic::{self, AssertUnwindSafe};
use std::sync::{mpsc, Arc, Condvar, Mutex, PoisonError};

use super::super::blob::{blob_id, seal_blob_into, Compressor, SealedBlob, BLOB_OVERHEAD};
use super::super::crypto::Id;
use super::super::format::{BlobType, VaultId};
use super::super::index::Index;
use super::super::keys::VaultKeys;
use super::super::vault::Vault;
use crate::{Error, Result};

/// Chunks shorter than this are copied into buffers of their own size,
/// not the pool's (see [`Workers::buffer`]).
const SMALL: usize = 256 << 10;

/// What every job needs. Jobs outlive the host's call, so they share this.
struct Shared {
    keys: VaultKeys,
    vault_id: VaultId,
    level: i32,
    /// The vault's index: chunks it has are named, not sealed.
    known: Arc<Index>,
    /// Names some job (or the calling thread) is sealing or has sealed.
    claimed: Mutex<HashSet<Id>>,
    /// Idle sealers (at most one per worker).
    sealers: Mutex<Vec<Sealer>>,
    /// The capacity a scratch that grew for a large chunk is shrunk back to.
    keep_size: usize,
}

/// A worker's zstd state and the scratch buffer it seals into.
struct Sealer {
    compressor: Compressor,
    scratch: Vec<u8>,
}

/// What a job made of one chunk.
pub(super) struct Named {
    /// The chunk's name.
    pub id: Id,
    /// Its length.
    pub len: usize,
    /// Its buffer, still holding it, when it was not sealed.
    chunk: Option<Vec<u8>>,
    /// Its blob, when this job claimed the name (until the calling thread
    /// takes it, maybe for an earlier chunk of the same name).
    sealed: Option<SealedBlob>,
}

/// Chunks out, and their results handed back in stream order.
pub(super) struct Workers {
    queue: Arc<Queue>,
    threads: Vec<std::thread::JoinHandle<()>>,
    shared: Arc<Shared>,
    rx: mpsc::Receiver<(u64, Result<Named>)>,
    /// The next sequence number to submit and to hand back, and the
    /// results that came back before earlier ones.
    submitted: u64,
    handed: u64,
    early: BTreeMap<u64, Result<Named>>,
    /// Jobs submitted whose result has not come back.
    running: usize,
    /// Chunk bytes out: submitted and not yet handed back.
    out: usize,
    limit: usize,
    /// At most this many chunks out (small files' chunks are many).
    max_jobs: usize,
    /// Buffers to reuse, how many to keep, and the capacity a buffer that
    /// grew for an unusually large chunk is shrunk back to.
    spare: Vec<Vec<u8>>,
    keep: usize,
    keep_size: usize,
}

impl Workers {
    /// A pool of `threads` workers for `vault`, whose index is `known`.
    /// `threads` (at least 2) counts the calling thread.
    pub(super) fn new(vault: &Vault, known: Arc<Index>, threads: usize) -> Result<Self> {
        let settings = vault.settings();
        let avg = settings.chunker.avg_size as usize;
        let (tx, rx) = mpsc::channel();
        let shared = Arc::new(Shared {
            keys: vault.keys().clone(),
            vault_id: *vault.id(),
            level: settings.zstd_level,
            known,
            claimed: Mutex::new(HashSet::new()),
            sealers: Mutex::new(Vec::new()),
            keep_size: 2 * avg + BLOB_OVERHEAD,
        });
        let queue = Arc::new(Queue::default());
        let mut workers = Workers {
            queue: Arc::clone(&queue),
            threads: Vec::new(),
            shared: Arc::clone(&shared),
            rx,
            submitted: 0,
            handed: 0,
            early: BTreeMap::new(),
            running: 0,
            out: 0,
            // Eight average chunks per thread: chunks run from half to eight
            // times the average and are handed back in stream order, so the
            // results done behind a large one count against the limit. With
            // four, the worker sat idle ~15% of a 2-thread run waiting for
            // the calling thread, which had no room to cut (measured with
            // timers around the waits; pipeline bench 1.58-1.69x, 1.78-1.80x
            // with eight and `keep` raised to match).
            limit: 8 * threads * avg,
            max_jobs: 64 * threads,
            spare: Vec::new(),
            // About as many as average chunks fit in the limit, plus the
            // chunker's: fewer, and buffers dropped here are allocated again
            // (and page-faulted in) a moment later; page faults were most of
            // the CPU time a 2-thread run spends beyond a 1-thread one.
            keep: 8 * threads + 2,
            keep_size: 2 * avg + BLOB_OVERHEAD,
        };
        for i in 1..threads {
            let (queue, shared, tx) = (Arc::clone(&queue), Arc::clone(&shared), tx.clone());
            let handle = std::thread::Builder::new()
                .name(format!("cloudbackup-worker-{i}"))
                .spawn(move || {
                    while let Some((seq, buf)) = queue.next() {
                        // The session may be gone (dropped after an error).
                        if tx.send((seq, shared.run(buf))).is_err() {
                            return;
                        }
                    }
                })
                .map_err(|e| Error::argument("threads", e.to_string()))?;
            workers.threads.push(handle);
        }
        Ok(workers)
    }

    /// A reused buffer with room for `len` bytes of chunk and its blob.
    ///
    /// A small chunk (a small file's) gets a buffer of its own size: one of
    /// the pool's, held by each of the thousands of small chunks a tree of
    /// small files keeps out, took the resident set from ~100 MB to ~300.
    fn buffer(&mut self, len: usize) -> Vec<u8> {
        if len < SMALL {
            return Vec::with_capacity(len + BLOB_OVERHEAD);
        }
        let mut buf = self.spare.pop().unwrap_or_default();
        buf.clear();
        // Room for the sealed blob too, so the sealer never reallocates it.
        buf.reserve(len + BLOB_OVERHEAD);
        buf
    }

    /// Whether the chunker's buffer should go out with chunk `len` rather
    /// than a copy: only for a large chunk (see [`buffer`](Self::buffer)).
    pub(super) fn takes_buffer(len: usize) -> bool {
        len >= SMALL
    }

    /// A spare buffer (empty), for the chunker to assemble its next chunk
    /// in: room for most chunks, so it seldom grows.
    pub(super) fn spare_buffer(&mut self) -> Vec<u8> {
        self.buffer(self.keep_size - BLOB_OVERHEAD)
    }

    /// Queues a copy of the next chunk (see [`submit_owned`](Self::submit_owned)).
    pub(super) fn submit(&mut self, data: &[u8]) {
        let mut buf = self.buffer(data.len());
        buf.extend_from_slice(data);
        self.submit_owned(buf);
    }

    /// Queues the next chunk, in `buf`, to be named and, if new, sealed:
    /// the result comes back from [`front`](Self::front) in the order
    /// chunks went out.
    pub(super) fn submit_owned(&mut self, buf: Vec<u8>) {
        self.out += buf.len();
        let seq = self.submitted;
        self.submitted += 1;
        self.running += 1;
        self.queue.push(seq, buf);
    }

    /// Runs the oldest queued job (the one stream order waits for first)
    /// on the calling thread; `false` if none is queued.
    fn help(&mut self) -> bool {
        let Some((seq, buf)) = self.queue.take() else {
            return false;
        };
        let named = self.shared.run(buf);
        self.store((seq, named));
        true
    }

    /// The next chunk's result, in stream order, if it is back (it stays
    /// until [`pop_front`](Self::pop_front)).
    pub(super) fn front(&mut self) -> Option<&Result<Named>> {
        self.receive();
        self.early.get(&self.handed)
    }

    /// Hands back the next chunk's result, if it is back; its buffers are
    /// taken back (a blob still in it was a duplicate's: dropped).
    pub(super) fn pop_front(&mut self) -> Option<Result<()>> {
        self.receive();
        let named = self.early.remove(&self.handed)?;
        self.handed += 1;
        Some(named.map(|n| {
            self.out -= n.len;
            for buf in n.chunk.into_iter().chain(n.sealed.map(|b| b.bytes)) {
                self.reuse(buf);
            }
        }))
    }

    /// Takes the blob named `id` from the results back so far (the chunk
    /// whose job claimed the name may come later in the stream).
    pub(super) fn take_sealed(&mut self, id: &Id) -> Option<SealedBlob> {
        self.receive();
        self.early
            .values_mut()
            .filter_map(|n| n.as_mut().ok())
            .find(|n| n.sealed.as_ref().is_some_and(|b| b.id == *id))
            .and_then(|n| n.sealed.take())
    }

    /// Claims `id` for the calling thread to seal; `false` when a job has.
    pub(super) fn claim(&self, id: Id) -> bool {
        self.shared
            .claimed
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(id)
    }

    /// Takes back the buffer of a placed blob.
    pub(super) fn placed(&mut self, blob: SealedBlob) {
        self.reuse(blob.bytes);
    }

    fn reuse(&mut self, mut buf: Vec<u8>) {
        if self.spare.len() < self.keep && buf.capacity() >= SMALL {
            buf.clear();
            buf.shrink_to(self.keep_size);
            self.spare.push(buf);
        }
    }

    /// Whether a chunk of `len` bytes can go out now: the bytes and the
    /// chunks out stay within their limits, or none are out at all.
    pub(super) fn has_room(&self, len: usize) -> bool {
        let jobs = (self.submitted - self.handed) as usize;
        self.out == 0 || (self.out + len <= self.limit && jobs < self.max_jobs)
    }

    /// Runs a queued job, or waits for a worker's to finish; `false` (at
    /// once) if none is running.
    pub(super) fn wait(&mut self) -> bool {
        if self.running == 0 {
            return false;
        }
        if self.help() {
            return true;
        }
        // `self.tx` keeps the channel open, so this returns once a job reports.
        match self.rx.recv() {
            Ok(done) => {
                self.store(done);
                true
            }
            Err(_) => false,
        }
    }

    fn receive(&mut self) {
        while let Ok(done) = self.rx.try_recv() {
            self.store(done);
        }
    }

    fn store(&mut self, (seq, named): (u64, Result<Named>)) {
        self.running -= 1;
        self.early.insert(seq, named);
    }
}

impl Drop for Workers {
    /// Stops the workers once their current jobs end (queued ones are
    /// dropped: the session is gone).
    fn drop(&mut self) {
        self.queue.close();
        for handle in self.threads.drain(..) {
            let _ = handle.join();
        }
    }
}

/// The jobs not started yet, oldest first.
#[derive(Default)]
struct Queue {
    state: Mutex<QueueState>,
    ready: Condvar,
}

#[derive(Default)]
struct QueueState {
    jobs: VecDeque<(u64, Vec<u8>)>,
    closed: bool,
}

impl Queue {
    fn lock(&self) -> std::sync::MutexGuard<'_, QueueState> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Queues a job.
    fn push(&self, seq: u64, buf: Vec<u8>) {
        self.lock().jobs.push_back((seq, buf));
        self.ready.notify_one();
    }

    /// The oldest job, for the calling thread, without waiting.
    fn take(&self) -> Option<(u64, Vec<u8>)> {
        self.lock().jobs.pop_front()
    }

    /// The oldest job for a worker, waiting for one; `None` once closed.
    fn next(&self) -> Option<(u64, Vec<u8>)> {
        let mut state = self.lock();
        loop {
            if state.closed {
                return None;
            }
            if let Some(job) = state.jobs.pop_front() {
                return Some(job);
            }
            state = self
                .ready
                .wait(state)
                .unwrap_or_else(PoisonError::into_inner);
        }
    }

    fn close(&self) {
        self.lock().closed = true;
        self.ready.notify_all();
    }
}

impl Shared {
    /// [`name_and_seal`](Self::name_and_seal), with a panic turned into an
    /// error: the session must hear of it, and a worker thread must not
    /// die with the chunk (the session would wait for it forever).
    fn run(&self, buf: Vec<u8>) -> Result<Named> {
        panic::catch_unwind(AssertUnwindSafe(|| self.name_and_seal(buf))).unwrap_or_else(|_| {
            Err(Error::InvalidValue {
                field: "backup worker".into(),
                reason: "panicked while naming or sealing a chunk".into(),
            })
        })
    }

    /// Names the chunk in `buf` and seals it unless the vault has it or
    /// another job claimed the name.
    fn name_and_seal(&self, buf: Vec<u8>) -> Result<Named> {
        let id = blob_id(&self.keys, &buf);
        let len = buf.len();
        let claimed = !self.known.contains(&id)
            && self
                .claimed
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .insert(id);
        if !claimed {
            return Ok(Named {
                id,
                len,
                chunk: Some(buf),
                sealed: None,
            });
        }
        Ok(Named {
            id,
            len,
            chunk: None,
            sealed: Some(self.seal(id, buf)?),
        })
    }

    /// Seals the chunk in `buf` with an idle sealer (or a new one): it is
    /// compressed and encrypted into the sealer's scratch, and the two
    /// buffers trade places, so the blob goes back without a copy and the
    /// chunk's buffer becomes the sealer's next scratch.
    fn seal(&self, id: Id, mut buf: Vec<u8>) -> Result<SealedBlob> {
        let idle = self
            .sealers
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .pop();
        let mut sealer = match idle {
            Some(s) => s,
            None => Sealer {
                compressor: Compressor::new(self.level)?,
                scratch: Vec::new(),
            },
        };
        let kind = BlobType::Data;
        sealer.scratch.clear();
        // Room for the blob at its largest (a raw chunk), as `buf` had.
        sealer.scratch.reserve(buf.len() + BLOB_OVERHEAD);
        let raw_len = seal_blob_into(
            &self.keys,
            &self.vault_id,
            &mut sealer.compressor,
            kind,
            &id,
            &buf,
            &mut sealer.scratch,
        );
        if raw_len.is_ok() {
            std::mem::swap(&mut buf, &mut sealer.scratch);
        }
        sealer.scratch.clear();
        sealer.scratch.shrink_to(self.keep_size);
        self.sealers
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(sealer);
        Ok(SealedBlob {
            id,
            kind,
            raw_len: raw_len?,
            bytes: buf,
        })
    }
}
