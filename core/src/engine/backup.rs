//! Sans-IO backup: the host walks its files and pushes their bytes; the
//! session chunks, names, deduplicates (against the vault's index and
//! itself), compresses and encrypts, and hands back finished bundles to
//! store, then the index delta and the snapshot.
//!
//! ```text
//! let mut s = BackupSession::new(&vault, &index, BackupOptions::default())?;
//! s.start_file(FileMeta::file("/etc/hosts", 0o644, mtime))?;
//! s.write(bytes)?;                  // as many times as needed
//! s.finish_file()?;
//! for b in s.take_bundles() { store(b.id, b.bytes) }   // any time
//! let out = s.finish(SnapshotInfo::at(now))?;           // last bundles, index, snapshot
//! ```
//!
//! Memory stays bounded by about two maximum chunks (the chunker), one
//! bundle, and one batch of chunks in flight, whatever the file sizes.

use std::collections::HashSet;

use super::blob::{blob_id, seal_blob, Compressor, SealedBlob};
use super::bundle::{BundleWriter, SealedBundle};
use super::chunker::Chunker;
use super::crypto::Id;
use super::format::BlobType;
use super::index::Index;
use super::object::SealedObject;
use super::snapshot::{BackupCounters, Entry, EntryKind, Snapshot};
use super::vault::Vault;
use crate::engine::format::FORMAT_VERSION;
use crate::{Error, Result};

/// What the host knows about a path before its bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileMeta {
    /// The path, in the agent's own syntax.
    pub path: String,
    /// File, directory or symlink.
    pub kind: EntryKind,
    /// Permission bits.
    pub mode: u32,
    /// Modification time (Unix seconds).
    pub mtime: i64,
    /// A symlink's target.
    pub target: Option<String>,
}

impl FileMeta {
    /// A regular file.
    pub fn file(path: impl Into<String>, mode: u32, mtime: i64) -> Self {
        FileMeta {
            path: path.into(),
            kind: EntryKind::File,
            mode,
            mtime,
            target: None,
        }
    }

    /// A directory.
    pub fn dir(path: impl Into<String>, mode: u32, mtime: i64) -> Self {
        FileMeta {
            path: path.into(),
            kind: EntryKind::Dir,
            mode,
            mtime,
            target: None,
        }
    }

    /// A symbolic link to `target`.
    pub fn symlink(path: impl Into<String>, target: impl Into<String>, mtime: i64) -> Self {
        FileMeta {
            path: path.into(),
            kind: EntryKind::Symlink,
            mode: 0o777,
            mtime,
            target: Some(target.into()),
        }
    }
}

/// How a backup runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BackupOptions {
    /// Threads for hashing, compressing and encrypting chunks (1 = all on
    /// the calling thread). Needs the `parallel` feature for more than 1.
    pub threads: usize,
}

impl Default for BackupOptions {
    /// One thread: the host decides when to spend more cores.
    fn default() -> Self {
        BackupOptions { threads: 1 }
    }
}

/// What the snapshot records besides the tree.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SnapshotInfo {
    /// When the backup started (Unix seconds, host's clock).
    pub time: i64,
    /// The host's name.
    pub hostname: Option<String>,
    /// The v2 backup configuration this backup ran for.
    pub backup_configuration_id: Option<String>,
}

impl SnapshotInfo {
    /// Info with only the time set.
    pub fn at(time: i64) -> Self {
        SnapshotInfo {
            time,
            ..SnapshotInfo::default()
        }
    }
}

/// Everything a finished backup produced.
#[derive(Debug, Clone)]
pub struct BackupOutcome {
    /// Bundles not yet taken with [`BackupSession::take_bundles`].
    pub bundles: Vec<SealedBundle>,
    /// The index delta: store it, and load it before the next backup.
    pub index: SealedObject,
    /// The sealed snapshot: store it.
    pub snapshot: SealedObject,
    /// The snapshot itself.
    pub tree: Snapshot,
    /// The counters of the v2 backup resource.
    pub counters: BackupCounters,
}

/// A chunk waiting to be named and sealed, with the file it belongs to.
struct Pending {
    file: usize,
    data: Vec<u8>,
}

/// Everything but the chunker, so the chunker's callback can borrow it.
struct Sink<'a> {
    vault: &'a Vault,
    known: &'a Index,
    /// Blobs stored by this session, including the open bundle's.
    seen: HashSet<Id>,
    added: Index,
    compressor: Compressor,
    bundle: BundleWriter,
    ready: Vec<SealedBundle>,
    entries: Vec<Entry>,
    /// Per entry: whether it brought new content.
    new_content: Vec<bool>,
    counters: BackupCounters,
    batch: Vec<Pending>,
    batch_bytes: usize,
    batch_limit: usize,
    #[cfg(feature = "parallel")]
    pool: Option<rayon::ThreadPool>,
}

/// A backup in progress. See the module docs for the flow.
pub struct BackupSession<'a> {
    chunker: Chunker,
    sink: Sink<'a>,
    /// The entry being written, if a file is open.
    open: Option<usize>,
}

impl<'a> BackupSession<'a> {
    /// A session writing into `vault`, deduplicating against `index` (the
    /// union of the vault's index deltas).
    pub fn new(vault: &'a Vault, index: &'a Index, options: BackupOptions) -> Result<Self> {
        let settings = vault.settings();
        let chunker = Chunker::new(settings.chunker, &vault.keys().chunker)?;
        if options.threads == 0 {
            return Err(Error::argument("threads", "must be at least 1"));
        }
        #[cfg(feature = "parallel")]
        let pool = if options.threads > 1 {
            Some(
                rayon::ThreadPoolBuilder::new()
                    .num_threads(options.threads)
                    .build()
                    .map_err(|e| Error::argument("threads", e.to_string()))?,
            )
        } else {
            None
        };
        #[cfg(not(feature = "parallel"))]
        if options.threads > 1 {
            return Err(Error::argument(
                "threads",
                "this build has no `parallel` feature",
            ));
        }
        let avg = settings.chunker.avg_size as usize;
        Ok(BackupSession {
            chunker,
            sink: Sink {
                vault,
                known: index,
                seen: HashSet::new(),
                added: Index::new(),
                compressor: Compressor::new(settings.zstd_level)?,
                bundle: new_bundle(vault),
                ready: Vec::new(),
                entries: Vec::new(),
                new_content: Vec::new(),
                counters: BackupCounters::default(),
                batch: Vec::new(),
                batch_bytes: 0,
                // Enough work for every thread without holding much memory.
                batch_limit: if options.threads > 1 {
                    2 * options.threads * avg
                } else {
                    0
                },
                #[cfg(feature = "parallel")]
                pool,
            },
            open: None,
        })
    }

    /// Starts a regular file; its bytes follow with [`write`](Self::write).
    pub fn start_file(&mut self, meta: FileMeta) -> Result<()> {
        if let Some(i) = self.open {
            return Err(Error::argument(
                "start_file",
                format!(
                    "{:?} is still open; call finish_file first",
                    self.sink.entries[i].path
                ),
            ));
        }
        if meta.kind != EntryKind::File {
            return Err(Error::argument(
                "kind",
                "start_file takes files; use add_entry for directories and symlinks",
            ));
        }
        self.open = Some(self.sink.push_entry(meta)?);
        self.sink.counters.files_searched += 1;
        Ok(())
    }

    /// Pushes the next bytes of the open file.
    pub fn write(&mut self, data: &[u8]) -> Result<()> {
        let file = self
            .open
            .ok_or_else(|| Error::argument("write", "no file is open; call start_file first"))?;
        self.sink.entries[file].size += data.len() as u64;
        self.sink.counters.bytes_searched += data.len() as u64;
        let sink = &mut self.sink;
        self.chunker
            .push(data, &mut |chunk| sink.chunk(file, chunk))
    }

    /// Ends the open file.
    pub fn finish_file(&mut self) -> Result<()> {
        let file = self
            .open
            .take()
            .ok_or_else(|| Error::argument("finish_file", "no file is open"))?;
        let sink = &mut self.sink;
        self.chunker.finish(&mut |chunk| sink.chunk(file, chunk))
    }

    /// Records a directory or symlink.
    pub fn add_entry(&mut self, meta: FileMeta) -> Result<()> {
        if meta.kind == EntryKind::File {
            return Err(Error::argument(
                "kind",
                "files go through start_file/write/finish_file",
            ));
        }
        if meta.kind == EntryKind::Symlink && meta.target.is_none() {
            return Err(Error::argument(
                "target",
                format!("symlink {:?} needs a target", meta.path),
            ));
        }
        self.sink.push_entry(meta)?;
        Ok(())
    }

    /// Bundles finished so far: store each under its id. Taking them as they
    /// come keeps memory bounded.
    pub fn take_bundles(&mut self) -> Vec<SealedBundle> {
        std::mem::take(&mut self.sink.ready)
    }

    /// The counters so far.
    pub fn counters(&self) -> BackupCounters {
        self.sink.counters
    }

    /// Ends the backup: seals the last bundle, the index delta and the snapshot.
    pub fn finish(mut self, info: SnapshotInfo) -> Result<BackupOutcome> {
        if self.open.is_some() {
            self.finish_file()?;
        }
        let mut sink = self.sink;
        sink.flush_batch()?;
        sink.seal_bundle()?;
        let keys = sink.vault.keys();
        let vault_id = sink.vault.id();
        let index = Index::seal_delta(keys, vault_id, sink.added.iter())?;
        sink.counters.bytes_in_db += index.bytes.len() as u64;
        sink.counters.files_backed_up = sink
            .entries
            .iter()
            .zip(&sink.new_content)
            .filter(|(e, new)| e.kind == EntryKind::File && **new)
            .count() as u64;
        let tree = Snapshot {
            version: FORMAT_VERSION,
            time: info.time,
            hostname: info.hostname,
            backup_configuration_id: info.backup_configuration_id,
            counters: sink.counters,
            entries: sink.entries,
        };
        let snapshot = tree.seal(keys, vault_id)?;
        Ok(BackupOutcome {
            bundles: sink.ready,
            index,
            snapshot,
            tree,
            counters: sink.counters,
        })
    }
}

/// Runs `f` on the session's pool, or on rayon's global pool without one.
#[cfg(feature = "parallel")]
fn on_pool<R: Send>(pool: &Option<rayon::ThreadPool>, f: impl FnOnce() -> R + Send) -> R {
    match pool {
        Some(pool) => pool.install(f),
        None => f(),
    }
}

fn new_bundle(vault: &Vault) -> BundleWriter {
    let s = vault.settings();
    // Room for a full bundle plus one maximum blob, so it never reallocates.
    BundleWriter::new(
        *vault.id(),
        s.bundle_size as usize + s.chunker.max_size as usize + 4096,
    )
}

impl Sink<'_> {
    fn push_entry(&mut self, meta: FileMeta) -> Result<usize> {
        if meta.path.is_empty() {
            return Err(Error::argument("path", "must not be empty"));
        }
        self.entries.push(Entry {
            path: meta.path,
            kind: meta.kind,
            mode: meta.mode,
            mtime: meta.mtime,
            size: 0,
            chunks: Vec::new(),
            target: meta.target,
        });
        self.new_content.push(false);
        Ok(self.entries.len() - 1)
    }

    fn chunk(&mut self, file: usize, data: &[u8]) -> Result<()> {
        if self.batch_limit == 0 {
            let id = blob_id(self.vault.keys(), data);
            let sealed = if self.is_new(id) {
                Some(seal_blob(
                    self.vault.keys(),
                    self.vault.id(),
                    &mut self.compressor,
                    BlobType::Data,
                    id,
                    data,
                )?)
            } else {
                None
            };
            return self.place(file, id, data.len(), sealed);
        }
        self.batch.push(Pending {
            file,
            data: data.to_vec(),
        });
        self.batch_bytes += data.len();
        if self.batch_bytes >= self.batch_limit {
            self.flush_batch()?;
        }
        Ok(())
    }

    /// Whether `id` still has to be stored (and marks it as being stored).
    fn is_new(&mut self, id: Id) -> bool {
        !self.known.contains(&id) && self.seen.insert(id)
    }

    /// Appends chunk `id` to `file`'s list and stores its sealed blob, if new.
    fn place(&mut self, file: usize, id: Id, len: usize, sealed: Option<SealedBlob>) -> Result<()> {
        self.entries[file].chunks.push(id);
        if let Some(blob) = sealed {
            self.new_content[file] = true;
            self.counters.bytes_backed_up += len as u64;
            self.counters.bytes_in_db += blob.bytes.len() as u64;
            self.bundle.add(&blob)?;
            if self.bundle.len() >= self.vault.settings().bundle_size as usize {
                self.seal_bundle()?;
            }
        }
        Ok(())
    }

    fn seal_bundle(&mut self) -> Result<()> {
        if self.bundle.is_empty() {
            return Ok(());
        }
        let full = std::mem::replace(&mut self.bundle, new_bundle(self.vault));
        let before = full.len();
        let sealed = full.seal(self.vault.keys())?;
        self.counters.bytes_in_db += (sealed.bytes.len() - before) as u64;
        self.added.add_bundle(&sealed);
        self.ready.push(sealed);
        Ok(())
    }

    /// Names, deduplicates and seals the batched chunks on the pool, then
    /// places them in order.
    #[cfg(feature = "parallel")]
    fn flush_batch(&mut self) -> Result<()> {
        use rayon::prelude::*;
        if self.batch.is_empty() {
            return Ok(());
        }
        let batch = std::mem::take(&mut self.batch);
        self.batch_bytes = 0;
        let keys = self.vault.keys();
        let vault_id = *self.vault.id();
        let level = self.vault.settings().zstd_level;
        let ids: Vec<Id> = on_pool(&self.pool, || {
            batch.par_iter().map(|p| blob_id(keys, &p.data)).collect()
        });
        // Dedup is sequential so the first occurrence in stream order is the one stored.
        let new: Vec<bool> = ids.iter().map(|&id| self.is_new(id)).collect();
        let seal_all = || -> Vec<Result<Option<SealedBlob>>> {
            batch
                .par_iter()
                .zip(ids.par_iter())
                .zip(new.par_iter())
                .map_init(
                    || Compressor::new(level),
                    |compressor, ((p, &id), &is_new)| {
                        if !is_new {
                            return Ok(None);
                        }
                        let c = compressor.as_mut().map_err(|e| e.clone())?;
                        seal_blob(keys, &vault_id, c, BlobType::Data, id, &p.data).map(Some)
                    },
                )
                .collect()
        };
        let sealed = on_pool(&self.pool, seal_all);
        for ((p, id), blob) in batch.iter().zip(ids).zip(sealed) {
            self.place(p.file, id, p.data.len(), blob?)?;
        }
        Ok(())
    }

    #[cfg(not(feature = "parallel"))]
    fn flush_batch(&mut self) -> Result<()> {
        let batch = std::mem::take(&mut self.batch);
        self.batch_bytes = 0;
        for p in batch {
            let id = blob_id(self.vault.keys(), &p.data);
            let sealed = if self.is_new(id) {
                Some(seal_blob(
                    self.vault.keys(),
                    self.vault.id(),
                    &mut self.compressor,
                    BlobType::Data,
                    id,
                    &p.data,
                )?)
            } else {
                None
            };
            self.place(p.file, id, p.data.len(), sealed)?;
        }
        Ok(())
    }
}
