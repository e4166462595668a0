//! The worker pool of a multi-threaded backup. The calling thread cuts,
//! names and deduplicates chunks (in stream order, so the result does not
//! depend on the threads) and hands a copy of each new one to the pool, which
//! compresses and encrypts it; the sealed blobs come back in stream order.
//!
//! Naming stays on the calling thread on purpose: handing it to the pool
//! would make each chunk wait for the calling thread twice (to deduplicate,
//! then to place), and the workers idle while it is busy chunking.

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
    /// Idle zstd states (at most one per worker).
    compressors: Mutex<Vec<Compressor>>,
}

/// A finished job: its sequence number, the sealed blob, and the chunk's
/// buffer back for reuse.
type Done = (u64, Result<SealedBlob>, Vec<u8>);

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
    /// placed or found duplicate (finished jobs wait for earlier ones).
    working: usize,
    unplaced: usize,
    limit: usize,
    /// Buffers to reuse for chunk copies and sealed blobs; how many to keep,
    /// and up to what size.
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
                compressors: Mutex::new(Vec::new()),
            }),
            tx,
            rx,
            submitted: 0,
            handed: 0,
            early: BTreeMap::new(),
            working: 0,
            unplaced: 0,
            // Two average chunks per worker keep every worker busy while the
            // calling thread chunks; more only costs memory.
            limit: 2 * threads * avg,
            spare: Vec::new(),
            keep: threads,
            keep_size: 2 * avg + BLOB_OVERHEAD,
        })
    }

    fn buffer(&mut self) -> Vec<u8> {
        let mut buf = self.spare.pop().unwrap_or_default();
        buf.clear();
        buf
    }

    /// Keeps a buffer for a later chunk, unless enough are kept or it grew
    /// for an unusually large chunk (it would pin that memory).
    fn recycle(&mut self, buf: Vec<u8>) {
        if self.spare.len() < self.keep && buf.capacity() <= self.keep_size {
            self.spare.push(buf);
        }
    }

    /// Queues a copy of new chunk `id` to be compressed and encrypted.
    pub(super) fn submit(&mut self, id: Id, data: &[u8]) {
        let mut plain = self.buffer();
        plain.extend_from_slice(data);
        // Sized here so workers never allocate: the memory stays in this
        // thread's allocator arena.
        let mut out = self.buffer();
        out.reserve(data.len() + BLOB_OVERHEAD);
        self.working += data.len();
        self.unplaced += data.len();
        let seq = self.submitted;
        self.submitted += 1;
        let (shared, tx) = (Arc::clone(&self.shared), self.tx.clone());
        self.pool.spawn(move || {
            // A panic must reach the session as an error: uncaught, rayon
            // would abort the host's process.
            let sealed = panic::catch_unwind(AssertUnwindSafe(|| shared.seal(id, &plain, out)))
                .unwrap_or_else(|_| {
                    Err(Error::InvalidValue {
                        field: "backup worker".into(),
                        reason: "panicked while sealing a chunk".into(),
                    })
                });
            // The session may be gone (dropped after an error): nothing to do.
            let _ = tx.send((seq, sealed, plain));
        });
    }

    /// Frees what a placed blob held.
    pub(super) fn placed(&mut self, blob: SealedBlob) {
        self.unplaced -= blob.raw_len as usize;
        self.recycle(blob.bytes);
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

    /// Whether the session should wait for the workers before chunking on:
    /// when they have enough work queued, or when too many finished chunks
    /// wait behind a slow one.
    pub(super) fn full(&self) -> bool {
        self.working > self.limit || self.unplaced > 3 * self.limit
    }

    /// Waits for the next job to finish.
    pub(super) fn wait(&mut self) {
        // `self.tx` keeps the channel open, so this returns once a job reports.
        if let Ok(done) = self.rx.recv() {
            self.store(done);
        }
    }

    fn store(&mut self, (seq, sealed, plain): Done) {
        self.working -= plain.len();
        self.early.insert(seq, sealed);
        self.recycle(plain);
    }
}

impl Shared {
    /// Compresses and encrypts one chunk into `out` with an idle zstd state
    /// (or a new one).
    fn seal(&self, id: Id, plain: &[u8], mut out: Vec<u8>) -> Result<SealedBlob> {
        let idle = self
            .compressors
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .pop();
        let mut compressor = match idle {
            Some(c) => c,
            None => Compressor::new(self.level)?,
        };
        let kind = BlobType::Data;
        let raw_len = seal_blob_into(
            &self.keys,
            &self.vault_id,
            &mut compressor,
            kind,
            &id,
            plain,
            &mut out,
        );
        self.compressors
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(compressor);
        Ok(SealedBlob {
            id,
            kind,
            raw_len: raw_len?,
            bytes: out,
        })
    }
}
