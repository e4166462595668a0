//! The worker pool of a multi-threaded backup. The calling thread cuts,
//! names and deduplicates chunks (in stream order, so the result does not
//! depend on the threads) and hands a copy of each new one to the pool, which
//! compresses and encrypts it; the sealed blobs come back in stream order.
//!
//! Naming stays on the calling thread on purpose: handing it to the pool
//! would make each chunk wait for the calling thread twice (to deduplicate,
//! then to place), and the workers idle while it is busy chunking.
//!
//! Memory: each chunk in flight has one buffer, which goes out holding the
//! chunk and comes back holding its sealed blob; buffers are reused, since
//! allocating and freeing chunk-sized memory costs page faults, and unmapping
//! interrupts the other cores. Each worker compresses into its own scratch
//! buffer.

use std::collections::BTreeMap;
use std::panic::{self, AssertUnwindSafe};
use std::sync::{mpsc, Arc, Mutex, PoisonError};

use super::super::blob::{seal_blob_into, Compressor, SealedBlob, BLOB_OVERHEAD};
use super::super::crypto::Id;
use super::super::format::{BlobType, VaultId};
use super::super::keys::VaultKeys;
use super::super::vault::Vault;
use crate::{Error, Result};

/// What every job needs. Jobs outlive the host's call, so they share this.
struct Shared {
    keys: VaultKeys,
    vault_id: VaultId,
    level: i32,
    /// Idle sealers (at most one per worker).
    sealers: Mutex<Vec<Sealer>>,
    /// The capacity a scratch that grew for a large chunk is shrunk back to.
    keep_size: usize,
}

/// A worker's zstd state and the scratch buffer it compresses into.
struct Sealer {
    compressor: Compressor,
    scratch: Vec<u8>,
}

/// A finished job: its sequence number, the chunk's length, and the sealed
/// blob (in the job's buffer).
type Done = (u64, usize, Result<SealedBlob>);

/// Jobs in flight and their results, handed back in stream order.
pub(super) struct Workers {
    pool: rayon::ThreadPool,
    shared: Arc<Shared>,
    tx: mpsc::Sender<Done>,
    rx: mpsc::Receiver<Done>,
    /// The next sequence number to submit and to hand back, and the jobs
    /// finished early.
    submitted: u64,
    handed: u64,
    early: BTreeMap<u64, Result<SealedBlob>>,
    /// Plaintext bytes in jobs not yet finished, and in chunks not yet
    /// placed (finished jobs wait for earlier ones).
    working: usize,
    unplaced: usize,
    limit: usize,
    /// Buffers to reuse, how many to keep, and the capacity a buffer that
    /// grew for an unusually large chunk is shrunk back to.
    spare: Vec<Vec<u8>>,
    keep: usize,
    keep_size: usize,
}

impl Workers {
    /// A pool of `threads` workers for `vault`.
    pub(super) fn new(vault: &Vault, threads: usize) -> Result<Self> {
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .thread_name(|i| format!("cloudbackup-worker-{i}"))
            .build()
            .map_err(|e| Error::argument("threads", e.to_string()))?;
        let settings = vault.settings();
        let avg = settings.chunker.avg_size as usize;
        let (tx, rx) = mpsc::channel();
        Ok(Workers {
            pool,
            shared: Arc::new(Shared {
                keys: vault.keys().clone(),
                vault_id: *vault.id(),
                level: settings.zstd_level,
                sealers: Mutex::new(Vec::new()),
                keep_size: 2 * avg + BLOB_OVERHEAD,
            }),
            tx,
            rx,
            submitted: 0,
            handed: 0,
            early: BTreeMap::new(),
            working: 0,
            unplaced: 0,
            // Four average chunks per worker: chunks run from half to eight
            // times the average and are placed in stream order, so with
            // fewer a large one stalls the others (the pipeline bench's
            // 2-thread speedup: 1.34 with two, 1.55-1.67 with four to eight).
            limit: 4 * threads * avg,
            spare: Vec::new(),
            // About the chunks in flight, plus finished ones waiting for a
            // slow one.
            keep: threads + 2,
            keep_size: 2 * avg + BLOB_OVERHEAD,
        })
    }

    /// Queues a copy of new chunk `id` to be compressed and encrypted.
    pub(super) fn submit(&mut self, id: Id, data: &[u8]) {
        let mut buf = self.spare.pop().unwrap_or_default();
        buf.clear();
        // Room for the sealed blob too, so the worker never reallocates it.
        buf.reserve(data.len() + BLOB_OVERHEAD);
        buf.extend_from_slice(data);
        self.working += data.len();
        self.unplaced += data.len();
        let seq = self.submitted;
        self.submitted += 1;
        let (shared, tx) = (Arc::clone(&self.shared), self.tx.clone());
        let len = data.len();
        self.pool.spawn(move || {
            // A panic must reach the session as an error: uncaught, rayon
            // would abort the host's process.
            let sealed = panic::catch_unwind(AssertUnwindSafe(|| shared.seal(id, buf)))
                .unwrap_or_else(|_| {
                    Err(Error::InvalidValue {
                        field: "backup worker".into(),
                        reason: "panicked while sealing a chunk".into(),
                    })
                });
            // The session may be gone (dropped after an error): nothing to do.
            let _ = tx.send((seq, len, sealed));
        });
    }

    /// Takes back the buffer of a placed blob.
    pub(super) fn placed(&mut self, blob: SealedBlob) {
        self.unplaced -= blob.raw_len as usize;
        if self.spare.len() < self.keep {
            let mut buf = blob.bytes;
            buf.clear();
            buf.shrink_to(self.keep_size);
            self.spare.push(buf);
        }
    }

    /// The next sealed blob in stream order, if it is back.
    pub(super) fn next(&mut self) -> Option<Result<SealedBlob>> {
        while let Ok(done) = self.rx.try_recv() {
            self.store(done);
        }
        let sealed = self.early.remove(&self.handed)?;
        self.handed += 1;
        Some(sealed)
    }

    /// Whether no job is in flight.
    pub(super) fn idle(&self) -> bool {
        self.submitted == self.handed
    }

    /// Whether a chunk of `len` bytes can go out now: it fits the limit on
    /// work queued and on chunks not yet placed (finished ones waiting behind
    /// a slow one), or nothing is in flight at all.
    pub(super) fn has_room(&self, len: usize) -> bool {
        self.unplaced == 0
            || (self.working + len <= self.limit && self.unplaced + len <= 2 * self.limit)
    }

    /// Waits for the next job to finish.
    pub(super) fn wait(&mut self) {
        // `self.tx` keeps the channel open, so this returns once a job reports.
        if let Ok(done) = self.rx.recv() {
            self.store(done);
        }
    }

    fn store(&mut self, (seq, len, sealed): Done) {
        self.working -= len;
        self.early.insert(seq, sealed);
    }
}

impl Shared {
    /// Seals the chunk in `buf` with an idle sealer (or a new one): it is
    /// compressed and encrypted into the sealer's scratch, then copied back
    /// over the chunk, so the same buffer returns holding the blob.
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
            buf.clear();
            buf.extend_from_slice(&sealer.scratch);
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
