//! Sans-IO backup: the host walks its files and pushes their bytes; the
//! session chunks, names, deduplicates (against the vault's index and
//! itself), compresses and encrypts, and hands back finished bundles to
//! store, then the index delta and the snapshot.
//!
//! ```text
//! let mut s = BackupSession::new(&vault, Arc::new(index), BackupOptions::default())?;
//! s.start_file(FileMeta::file("/etc/hosts", 0o644, mtime))?;
//! s.write(bytes)?;                  // as many times as needed
//! s.finish_file()?;
//! for b in s.take_bundles() { store(b.id, b.bytes) }   // any time
//! let out = s.finish(SnapshotInfo::at(now))?;           // last bundles, index, snapshot
//! ```
//!
//! Memory stays bounded by about one maximum chunk (the chunker), one
//! bundle, and (with threads) a few chunks in flight, whatever the file sizes.
//!
//! With one thread every chunk is named, checked against the index, then
//! compressed and encrypted straight into the open bundle. With more, the
//! calling thread cuts chunks and hands them to `threads - 1` workers (and
//! runs queued jobs itself rather than wait for room), which name each
//! chunk and compress and encrypt the new ones; the calling thread
//! deduplicates in stream order and places the blobs into bundles in
//! stream order, so both paths produce the same bundle layout (see
//! `backup/workers.rs`).

use std::collections::{HashMap, HashSet};

use serde::{Deserialize, Serialize};

#[cfg(feature = "parallel")]
use super::blob::seal_blob;
use super::blob::{blob_id, Compressor};
use super::bundle::{BundleWriter, SealedBundle};
use super::chunker::{Chunker, Cut};
use super::crypto::Id;
use super::format::BlobType;
use super::index::Index;
use super::object::SealedObject;
use super::placement::Placement;
use super::rawpath::RawPath;
use super::snapshot::{
    BackupCounters, Entry, EntryKind, FileError, Snapshot, Xattr, SNAPSHOT_VERSION,
};
use super::vault::Vault;
use crate::engine::format::HEADER_LEN;
use crate::{Error, Result};
use std::sync::Arc;

/// What the host knows about a path before its bytes: the snapshot
/// entry's metadata. As JSON (what the bindings take) every member but
/// `path` is optional: `{"path", "kind", "mode", "mtime", "mtime_nanos",
/// "ctime", "ctime_nanos", "size", "target", "uid", "gid", "inode",
/// "device", "links", "rdev", "xattrs": [{"name", "value": base64}]}`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct FileMeta {
    /// The path (bytes; the agent's own syntax).
    pub path: RawPath,
    /// File, directory, symlink, FIFO or device.
    pub kind: EntryKind,
    /// Permission bits.
    pub mode: u32,
    /// Modification time (Unix seconds).
    pub mtime: i64,
    /// Its sub-second part, in nanoseconds.
    pub mtime_nanos: u32,
    /// Status change time (Unix seconds): with the size, mtime, inode and
    /// device, what [`BackupSession::reuse`] compares with the parent.
    pub ctime: i64,
    /// Its sub-second part, in nanoseconds.
    pub ctime_nanos: u32,
    /// The size the host saw (files; compared with the parent's entry: the
    /// snapshot records the bytes actually written).
    pub size: u64,
    /// A symlink's target.
    pub target: Option<RawPath>,
    /// Owner user id.
    pub uid: Option<u32>,
    /// Owner group id.
    pub gid: Option<u32>,
    /// Inode number (0: unknown).
    pub inode: u64,
    /// Device of the filesystem (0: unknown).
    pub device: u64,
    /// Number of hard links (0: unknown).
    pub links: u64,
    /// A device node's device number.
    pub rdev: u64,
    /// Extended attributes.
    pub xattrs: Vec<Xattr>,
}

impl FileMeta {
    /// A regular file.
    pub fn file(path: impl Into<RawPath>, mode: u32, mtime: i64) -> Self {
        FileMeta {
            path: path.into(),
            kind: EntryKind::File,
            mode,
            mtime,
            ..FileMeta::default()
        }
    }

    /// A directory.
    pub fn dir(path: impl Into<RawPath>, mode: u32, mtime: i64) -> Self {
        FileMeta {
            path: path.into(),
            kind: EntryKind::Dir,
            mode,
            mtime,
            ..FileMeta::default()
        }
    }

    /// A symbolic link to `target`.
    pub fn symlink(path: impl Into<RawPath>, target: impl Into<RawPath>, mtime: i64) -> Self {
        FileMeta {
            path: path.into(),
            kind: EntryKind::Symlink,
            mode: 0o777,
            mtime,
            target: Some(target.into()),
            ..FileMeta::default()
        }
    }

    /// The snapshot entry this metadata starts (no content yet).
    fn into_entry(self) -> Entry {
        Entry {
            path: self.path,
            kind: self.kind,
            mode: self.mode,
            mtime: self.mtime,
            mtime_nanos: self.mtime_nanos,
            size: 0,
            chunks: Vec::new(),
            target: self.target,
            ctime: self.ctime,
            ctime_nanos: self.ctime_nanos,
            uid: self.uid,
            gid: self.gid,
            inode: self.inode,
            device: self.device,
            links: self.links,
            rdev: self.rdev,
            xattrs: self.xattrs,
        }
    }

    /// [`Error::InvalidArgument`] for nanoseconds not below a second.
    fn validate(&self) -> Result<()> {
        for (name, n) in [
            ("mtime_nanos", self.mtime_nanos),
            ("ctime_nanos", self.ctime_nanos),
        ] {
            if n >= 1_000_000_000 {
                return Err(Error::argument(
                    name,
                    format!("{n} is not below 1_000_000_000"),
                ));
            }
        }
        Ok(())
    }
}

/// Unix seconds and the nanoseconds past them as one decimal number of
/// seconds (`-1.250000000` for -2 s and 750000000 ns).
fn unix_time(seconds: i64, nanos: u32) -> String {
    let ns = i128::from(seconds) * 1_000_000_000 + i128::from(nanos);
    let sign = if ns < 0 { "-" } else { "" };
    let ns = ns.unsigned_abs();
    format!("{sign}{}.{:09}", ns / 1_000_000_000, ns % 1_000_000_000)
}

/// How a backup runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BackupOptions {
    /// Threads working on the backup, the calling thread included (1 =
    /// everything on the calling thread; N = N - 1 workers naming,
    /// compressing and encrypting chunks while the calling thread cuts
    /// them and runs queued jobs rather than wait). Needs the `parallel`
    /// feature for more than 1.
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
    /// Its sub-second part in nanoseconds (0..1_000_000_000).
    pub time_nanos: u32,
    /// The host's name.
    pub hostname: Option<String>,
    /// The v2 backup configuration this backup ran for.
    pub backup_configuration_id: Option<String>,
    /// The paths the host backed up (its roots, as it names them): with
    /// the host name, what finds the parent of the next backup.
    pub paths: Vec<RawPath>,
    /// Labels for the snapshot (`backup --tag`), which `forget --keep-tag`
    /// keeps by. Recorded sorted and without repeats.
    pub tags: Vec<String>,
}

impl SnapshotInfo {
    /// [`Error::InvalidArgument`] when `time_nanos` is not below a second,
    /// or a tag is not one [`check_tags`](super::retention::check_tags)
    /// accepts.
    pub fn validate(&self) -> Result<()> {
        if self.time_nanos >= 1_000_000_000 {
            return Err(Error::argument(
                "time_nanos",
                format!("{} is not below 1_000_000_000", self.time_nanos),
            ));
        }
        super::retention::check_tags(&self.tags)
    }

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

/// Everything but the chunker, so the chunker's callback can borrow it.
struct Sink {
    /// A clone (cheap: keys and settings) so the session borrows nothing.
    vault: Vault,
    /// The vault's index, shared with the host (it can be large).
    known: Arc<Index>,
    /// Blobs stored by this session, including the open bundle's.
    seen: HashSet<Id>,
    added: Index,
    compressor: Compressor,
    bundle: BundleWriter,
    ready: Vec<SealedBundle>,
    /// A stored bundle's buffer the host handed back, for the next bundle.
    spare: Option<Vec<u8>>,
    entries: Vec<Entry>,
    /// Where the entries sit: no path twice, none below a non-folder.
    placement: Placement,
    /// Per entry: whether it brought new content.
    new_content: Vec<bool>,
    errors: Vec<FileError>,
    counters: BackupCounters,
    /// The id of the last all-zero chunk named, by length: zero runs cut
    /// into chunks of one length, named once.
    zero_id: Option<(usize, Id)>,
    #[cfg(feature = "parallel")]
    workers: Option<workers::Workers>,
    /// With workers: the chunks cut and not yet named, in stream order.
    #[cfg(feature = "parallel")]
    pending: std::collections::VecDeque<Pending>,
}

/// A chunk cut and waiting for its name (see [`Sink::name_ready`]).
#[cfg(feature = "parallel")]
#[derive(Clone, Copy)]
struct Pending {
    /// The entry it is of.
    file: usize,
    /// For a run of zeros: its id (named once per length) and length;
    /// otherwise the name comes from the workers' naming stage.
    zeros: Option<(Id, usize)>,
}

/// A backup in progress. See the module docs for the flow.
pub struct BackupSession {
    chunker: Chunker,
    sink: Sink,
    /// The entry being written, if a file is open.
    open: Option<usize>,
    /// The parent snapshot's files by path, when one was given.
    parent: HashMap<RawPath, Entry>,
}

impl BackupSession {
    /// A session writing into `vault`, deduplicating against `index` (the
    /// union of the vault's index deltas).
    pub fn new(vault: &Vault, index: Arc<Index>, options: BackupOptions) -> Result<Self> {
        let settings = vault.settings();
        let chunker = Chunker::new(settings.chunker, &vault.keys().chunker)?;
        super::check_threads(options.threads)?;
        #[cfg(feature = "parallel")]
        let workers = if options.threads > 1 {
            Some(workers::Workers::new(
                vault,
                Arc::clone(&index),
                options.threads,
            )?)
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
        Ok(BackupSession {
            chunker,
            sink: Sink {
                vault: vault.clone(),
                known: index,
                seen: HashSet::new(),
                added: Index::new(),
                compressor: Compressor::new(settings.zstd_level)?,
                bundle: new_bundle(vault),
                ready: Vec::new(),
                spare: None,
                entries: Vec::new(),
                placement: Placement::default(),
                new_content: Vec::new(),
                errors: Vec::new(),
                counters: BackupCounters::default(),
                zero_id: None,
                #[cfg(feature = "parallel")]
                workers,
                #[cfg(feature = "parallel")]
                pending: std::collections::VecDeque::new(),
            },
            open: None,
            parent: HashMap::new(),
        })
    }

    /// Sets the parent snapshot: the previous backup of the same sources,
    /// whose files [`reuse`](Self::reuse) can take over unread. Its regular
    /// files are kept (paths, metadata and chunk lists; not contents).
    pub fn set_parent(&mut self, parent: &Snapshot) {
        self.parent = parent
            .entries
            .iter()
            .filter(|e| e.kind == EntryKind::File)
            .map(|e| (e.path.clone(), e.clone()))
            .collect();
    }

    /// Records file `meta` with the parent snapshot's chunk list, without
    /// its bytes, when the parent has the same path as a regular file with
    /// the same size, mtime, ctime (to the nanosecond), inode and device,
    /// and every chunk of it is still in the vault's index: then returns
    /// `true` and the file is done. Otherwise returns `false`, records
    /// nothing, and the host backs the file up as usual
    /// ([`start_file`](Self::start_file)). Hosts skip this call to read
    /// everything again (`--force`).
    ///
    /// Why these fields: an edit changes the mtime or, if the mtime was
    /// put back, the ctime; a file replaced by another (rename over it)
    /// changes the inode. restic and borg decide the same way. A parent
    /// entry without a ctime (a version 1 snapshot, or a host that does
    /// not know it) is never reused: it could not tell a put-back mtime.
    ///
    /// Errors: [`Error::InvalidArgument`] for bad nanoseconds, or while a
    /// file is still open (a host bug: its `finish_file` is missing).
    pub fn reuse(&mut self, meta: FileMeta) -> Result<bool> {
        meta.validate()?;
        if let Some(i) = self.open {
            return Err(self.still_open("reuse", i));
        }
        if meta.kind != EntryKind::File {
            return Ok(false);
        }
        let Some(old) = self.parent.get(&meta.path) else {
            return Ok(false);
        };
        let same = old.size == meta.size
            && old.mtime == meta.mtime
            && old.mtime_nanos == meta.mtime_nanos
            && old.ctime == meta.ctime
            && old.ctime_nanos == meta.ctime_nanos
            && old.inode == meta.inode
            && old.device == meta.device
            && (old.ctime != 0 || old.ctime_nanos != 0)
            && old.chunks.iter().all(|c| self.sink.known.contains(c));
        if !same {
            return Ok(false);
        }
        let (chunks, size) = (old.chunks.clone(), old.size);
        let i = self.sink.push_entry(meta)?;
        if let Some(entry) = self.sink.entries.get_mut(i) {
            entry.chunks = chunks;
            entry.size = size;
        }
        self.sink.counters.files_searched += 1;
        self.sink.counters.files_unchanged += 1;
        self.sink.counters.bytes_searched += size;
        Ok(true)
    }

    /// Records that `path` could not be read (or listed), and why: the
    /// snapshot lists it in `errors`, counts it in `files_with_errors`, and
    /// the backup goes on. The host reports it as restic does ("exit
    /// status 3"); a v2 agent reports the backup `completed_with_errors`.
    pub fn file_error(&mut self, path: impl Into<RawPath>, error: impl Into<String>) {
        self.sink.errors.push(FileError {
            path: path.into(),
            error: error.into(),
        });
        self.sink.counters.files_with_errors += 1;
    }

    /// Gives up the open file (a read failed half-way, or it vanished):
    /// its entry is dropped and recorded as a [`file_error`](Self::file_error);
    /// chunks already stored stay in the vault unreferenced by it (a later
    /// gc removes what nothing uses).
    pub fn abandon_file(&mut self, error: impl Into<String>) -> Result<()> {
        let i = self
            .open
            .take()
            .ok_or_else(|| Error::argument("abandon_file", "no file is open"))?;
        self.chunker.reset();
        // Its chunks still on the way must be named before the entry goes
        // (their names would land on whatever entry took its place).
        self.sink.pump(None)?;
        // The open file is always the last entry.
        let entry = self.sink.entries.remove(i);
        self.sink.new_content.remove(i);
        self.sink.counters.files_searched = self.sink.counters.files_searched.saturating_sub(1);
        self.sink.counters.bytes_searched =
            self.sink.counters.bytes_searched.saturating_sub(entry.size);
        self.file_error(entry.path, error);
        Ok(())
    }

    /// The error for `call` while entry `i` is still open.
    fn still_open(&self, call: &str, i: usize) -> Error {
        Error::argument(
            call,
            format!(
                "{} is still open; call finish_file first",
                self.sink
                    .entries
                    .get(i)
                    .map(|e| e.path.quoted())
                    .unwrap_or_default()
            ),
        )
    }

    /// Starts a regular file; its bytes follow with [`write`](Self::write).
    pub fn start_file(&mut self, meta: FileMeta) -> Result<()> {
        if let Some(i) = self.open {
            return Err(self.still_open("start_file", i));
        }
        if meta.kind != EntryKind::File {
            return Err(Error::argument(
                "kind",
                "start_file takes files; use add_entry for other kinds",
            ));
        }
        meta.validate()?;
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
        self.chunker.push_cuts(data, &mut |cut| sink.cut(file, cut))
    }

    /// Continues the open file with `n` zero bytes (a hole of a sparse
    /// file) without the host holding them: the same chunks, ids and
    /// snapshot as [`write`](Self::write) of `n` zeros, so sparse and dense
    /// copies of a file dedup, but the work does not grow with `n` (runs of
    /// zeros are cut in a closed form, an all-zero chunk is named once).
    pub fn write_zeros(&mut self, n: u64) -> Result<()> {
        let file = self.open.ok_or_else(|| {
            Error::argument("write_zeros", "no file is open; call start_file first")
        })?;
        self.sink.entries[file].size += n;
        self.sink.counters.bytes_searched += n;
        let sink = std::cell::RefCell::new(&mut self.sink);
        self.chunker.push_zeros(
            n,
            &mut |chunk| sink.borrow_mut().chunk(file, chunk),
            &mut |len| sink.borrow_mut().zero_chunk(file, len),
        )
    }

    /// Ends the open file.
    pub fn finish_file(&mut self) -> Result<()> {
        let file = self
            .open
            .take()
            .ok_or_else(|| Error::argument("finish_file", "no file is open"))?;
        let sink = &mut self.sink;
        self.chunker.finish_cuts(&mut |cut| sink.cut(file, cut))
    }

    /// Ends the open file as [`finish_file`](Self::finish_file) does, given
    /// what the host sees of it after its last byte (`fstat` of the
    /// descriptor it read: `size`, `mtime`, `mtime_nanos`), and says whether
    /// it changed while it was read: `Some(reason)` when the size now is not
    /// the number of bytes read, or the mtime is not the one it was started
    /// with. The ctime is not compared: a `chmod` meanwhile leaves the bytes
    /// alone. The snapshot keeps what was read either way; the host warns,
    /// as restic ("file has changed") and borg ("file changed while we
    /// backed it up") do, and the next backup reads the file again (its
    /// mtime no longer matches).
    pub fn finish_file_checked(
        &mut self,
        size: u64,
        mtime: i64,
        mtime_nanos: u32,
    ) -> Result<Option<String>> {
        let file = self
            .open
            .ok_or_else(|| Error::argument("finish_file_checked", "no file is open"))?;
        super::host_meta::check_nanos("mtime_nanos", i64::from(mtime_nanos))?;
        let entry = &self.sink.entries[file];
        let mut what = Vec::new();
        if entry.size != size {
            what.push(format!("{} bytes read, {size} now", entry.size));
        }
        if (entry.mtime, entry.mtime_nanos) != (mtime, mtime_nanos) {
            what.push(format!(
                "modified at {} (was {})",
                unix_time(mtime, mtime_nanos),
                unix_time(entry.mtime, entry.mtime_nanos)
            ));
        }
        self.finish_file()?;
        Ok((!what.is_empty()).then(|| {
            format!(
                "changed while it was read ({}); the snapshot has the bytes read",
                what.join(", ")
            )
        }))
    }

    /// Records a directory, symlink, FIFO or device node.
    pub fn add_entry(&mut self, meta: FileMeta) -> Result<()> {
        meta.validate()?;
        // Bad input is named before the session's state is.
        super::paths::check_snapshot_path(meta.path.as_bytes())?;
        // The open file must stay the last entry (abandon_file drops it).
        if let Some(i) = self.open {
            return Err(self.still_open("add_entry", i));
        }
        if meta.kind == EntryKind::File {
            return Err(Error::argument(
                "kind",
                "files go through start_file/write/finish_file",
            ));
        }
        if meta.kind == EntryKind::Symlink && meta.target.is_none() {
            return Err(Error::argument(
                "target",
                format!("symlink {} needs a target", meta.path),
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

    /// Optionally hands back a taken bundle's buffer (`SealedBundle::bytes`)
    /// once it is stored: a later bundle is written into it instead of fresh
    /// memory, which saves the allocation and its page faults. One buffer is
    /// kept; others, and ones too small for a bundle, are dropped.
    pub fn recycle(&mut self, buffer: Vec<u8>) {
        if self.sink.spare.is_none() && buffer.capacity() >= self.sink.bundle_room() {
            self.sink.spare = Some(buffer);
        }
    }

    /// The counters so far.
    pub fn counters(&self) -> BackupCounters {
        self.sink.counters
    }

    /// Ends the backup: seals the last bundle, the index delta and the snapshot.
    pub fn finish(mut self, info: SnapshotInfo) -> Result<BackupOutcome> {
        info.validate()?;
        if self.open.is_some() {
            self.finish_file()?;
        }
        let mut sink = self.sink;
        sink.pump(None)?;
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
            version: SNAPSHOT_VERSION,
            time: info.time,
            time_nanos: info.time_nanos,
            hostname: info.hostname,
            backup_configuration_id: info.backup_configuration_id,
            paths: info.paths,
            tags: {
                let mut tags = info.tags;
                tags.sort();
                tags.dedup();
                tags
            },
            counters: sink.counters,
            entries: sink.entries,
            errors: sink.errors,
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

/// An empty bundle. Its room is reserved when its first blob comes (see
/// [`Sink::make_room`]).
fn new_bundle(vault: &Vault) -> BundleWriter {
    BundleWriter::new(*vault.id(), HEADER_LEN)
}

impl Sink {
    fn push_entry(&mut self, meta: FileMeta) -> Result<usize> {
        // The restore side refuses such paths too; refusing them here means
        // no snapshot ever records one.
        super::paths::check_snapshot_path(meta.path.as_bytes())?;
        self.entries.push(meta.into_entry());
        let index = self.entries.len() - 1;
        if let Err(reason) = self.placement.place(&self.entries, index) {
            let refused = self.entries.pop().map(|e| e.path).unwrap_or_default();
            return Err(Error::InvalidValue {
                field: "path".into(),
                reason: format!("{} {reason}", refused.quoted()),
            });
        }
        self.new_content.push(false);
        Ok(index)
    }

    /// A chunk of `file` as the chunker cut it: one in the chunker's buffer
    /// goes to the workers as it is (another buffer takes its place).
    fn cut(&mut self, file: usize, cut: Cut<'_>) -> Result<()> {
        match cut {
            #[cfg(feature = "parallel")]
            Cut::Buffered(buf)
                if self.workers.is_some() && workers::Workers::takes_buffer(buf.len()) =>
            {
                self.pump(Some(buf.len()))?;
                if let Some(workers) = self.workers.as_mut() {
                    let chunk = std::mem::replace(buf, workers.spare_buffer());
                    workers.submit_owned(chunk);
                    self.pending.push_back(Pending { file, zeros: None });
                }
                Ok(())
            }
            cut => self.chunk(file, cut.bytes()),
        }
    }

    /// Names a chunk of `file`, and stores it unless the vault or this
    /// session already has it.
    fn chunk(&mut self, file: usize, data: &[u8]) -> Result<()> {
        #[cfg(feature = "parallel")]
        if self.workers.is_some() {
            // Place what is done, and wait for room for this chunk.
            self.pump(Some(data.len()))?;
            if let Some(workers) = self.workers.as_mut() {
                workers.submit(data);
                self.pending.push_back(Pending { file, zeros: None });
            }
            return Ok(());
        }
        let id = blob_id(self.vault.keys(), data);
        self.named_chunk(file, id, data)
    }

    /// A chunk of `len` zero bytes of `file`: its id is computed once per
    /// length, its bytes made only if it has to be stored.
    fn zero_chunk(&mut self, file: usize, len: usize) -> Result<()> {
        let id = match self.zero_id {
            Some((l, id)) if l == len => id,
            _ => {
                let id = blob_id(self.vault.keys(), &vec![0; len]);
                self.zero_id = Some((len, id));
                id
            }
        };
        #[cfg(feature = "parallel")]
        if self.workers.is_some() {
            // Named in its turn, after the chunks before it.
            self.pump(Some(len))?;
            self.pending.push_back(Pending {
                file,
                zeros: Some((id, len)),
            });
            return Ok(());
        }
        if self.known.contains(&id) || self.seen.contains(&id) {
            self.entries[file].chunks.push(id);
            return Ok(());
        }
        self.named_chunk(file, id, &vec![0; len])
    }

    /// Records chunk `id` (of `data`) in `file`, and stores it unless the
    /// vault or this session already has it.
    fn named_chunk(&mut self, file: usize, id: Id, data: &[u8]) -> Result<()> {
        self.entries[file].chunks.push(id);
        if !self.is_new(id) {
            return Ok(());
        }
        self.new_content[file] = true;
        self.counters.bytes_backed_up += data.len() as u64;
        self.make_room();
        let len = self.bundle.seal_and_add(
            self.vault.keys(),
            &mut self.compressor,
            BlobType::Data,
            id,
            data,
        )?;
        self.counters.bytes_in_db += len as u64;
        self.seal_if_full()
    }

    /// Whether `id` still has to be stored (and marks it as being stored).
    fn is_new(&mut self, id: Id) -> bool {
        !self.known.contains(&id) && self.seen.insert(id)
    }

    /// The room a bundle gets: the bundle size plus two maximum blobs.
    ///
    /// One large block on purpose: allocators map blocks that large straight
    /// from the OS (glibc from 32 MiB, which the default settings reach), so a
    /// dropped bundle's memory goes back at once instead of fragmenting the
    /// heap the chunk buffers share; that keeps the resident set flat.
    fn bundle_room(&self) -> usize {
        let s = self.vault.settings();
        s.bundle_size as usize + 2 * s.chunker.max_size as usize + 4096
    }

    /// Before each blob: once the host has taken the finished bundles, the
    /// bundle's whole room at once (the buffer the host handed back, if any),
    /// so it never reallocates. Until then it grows only as needed, so two
    /// bundles' worth is not held while the host still has the last one.
    fn make_room(&mut self) {
        if !self.ready.is_empty() {
            return;
        }
        let room = self.bundle_room();
        if self.bundle.capacity() < room {
            match self.spare.take() {
                Some(buffer) => self.bundle.use_buffer(buffer),
                None => self.bundle.reserve(room - self.bundle.len()),
            }
        }
    }

    /// After each blob: seals the bundle once it reaches the vault's bundle
    /// size. This depends on the blobs alone, so bundles come out the same
    /// whatever the threads and the host's write sizes.
    fn seal_if_full(&mut self) -> Result<()> {
        if self.bundle.len() >= self.vault.settings().bundle_size as usize {
            self.seal_bundle()?;
        }
        Ok(())
    }

    fn seal_bundle(&mut self) -> Result<()> {
        if self.bundle.is_empty() {
            return Ok(());
        }
        let full = std::mem::replace(&mut self.bundle, new_bundle(&self.vault));
        let before = full.len();
        let sealed = full.seal(self.vault.keys())?;
        // The blobs are counted as they come; now the header and trailer.
        self.counters.bytes_in_db += (sealed.bytes.len() - before + HEADER_LEN) as u64;
        self.added.add_bundle(&sealed);
        self.ready.push(sealed);
        Ok(())
    }

    /// Takes the workers' results in stream order (each chunk joins its
    /// file; each new one's blob goes into the open bundle), then waits
    /// for room for a chunk of `need` bytes, or (`None`) until every chunk
    /// is placed.
    #[cfg(feature = "parallel")]
    fn pump(&mut self, need: Option<usize>) -> Result<()> {
        loop {
            self.name_ready()?;
            let Some(workers) = self.workers.as_mut() else {
                return Ok(());
            };
            let done = match need {
                Some(n) => workers.has_room(n),
                None => self.pending.is_empty(),
            };
            // Nothing running means nothing left to wait for.
            if done || !workers.wait() {
                return Ok(());
            }
        }
    }

    /// The chunks whose results are back, in stream order, up to the first
    /// that must wait (for its own job, or for the later one that claimed
    /// its name).
    #[cfg(feature = "parallel")]
    fn name_ready(&mut self) -> Result<()> {
        while let (Some(&front), Some(workers)) = (self.pending.front(), self.workers.as_mut()) {
            let (id, len) = match front.zeros {
                Some(zeros) => zeros,
                None => match workers.front() {
                    Some(Ok(named)) => (named.id, named.len),
                    Some(Err(_)) => {
                        return match workers.pop_front() {
                            Some(Err(e)) => Err(e),
                            _ => Ok(()),
                        }
                    }
                    None => return Ok(()),
                },
            };
            let new = !self.known.contains(&id) && !self.seen.contains(&id);
            let blob = if !new {
                None
            } else if let Some(blob) = workers.take_sealed(&id) {
                Some(blob)
            } else if front.zeros.is_some() && workers.claim(id) {
                Some(seal_blob(
                    self.vault.keys(),
                    self.vault.id(),
                    &mut self.compressor,
                    BlobType::Data,
                    id,
                    &vec![0; len],
                )?)
            } else {
                // The job that claimed the name is still sealing.
                if !workers.wait() {
                    return Err(Error::InvalidValue {
                        field: "backup worker".into(),
                        reason: "a claimed chunk never came back".into(),
                    });
                }
                continue;
            };
            self.pending.pop_front();
            if front.zeros.is_none() {
                if let Some(Err(e)) = workers.pop_front() {
                    return Err(e);
                }
            }
            if let Some(entry) = self.entries.get_mut(front.file) {
                entry.chunks.push(id);
            }
            if let Some(blob) = blob {
                self.seen.insert(id);
                if let Some(n) = self.new_content.get_mut(front.file) {
                    *n = true;
                }
                self.counters.bytes_backed_up += len as u64;
                self.make_room();
                self.bundle.add(&blob)?;
                self.counters.bytes_in_db += blob.bytes.len() as u64;
                if let Some(workers) = self.workers.as_mut() {
                    workers.placed(blob);
                }
                self.seal_if_full()?;
            }
        }
        Ok(())
    }

    #[cfg(not(feature = "parallel"))]
    fn pump(&mut self, _need: Option<usize>) -> Result<()> {
        Ok(())
    }
}

mod run;
#[cfg(feature = "parallel")]
mod workers;

pub use run::BackupRun;

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;
    use crate::engine::blob::open_blob;
    use crate::engine::bundle::check_bundle;
    use crate::engine::chunker::ChunkerParams;
    use crate::engine::keys::{KdfParams, MasterKey};
    use crate::engine::vault::VaultSettings;

    fn vault() -> Vault {
        let settings = VaultSettings {
            chunker: ChunkerParams {
                min_size: 1024,
                avg_size: 4096,
                max_size: 16384,
            },
            zstd_level: 3,
            bundle_size: 64 * 1024,
        };
        let kdf = KdfParams::insecure_for_tests();
        Vault::create_with(
            MasterKey::from_bytes([4; 32]),
            [6; 16],
            b"pw",
            settings,
            kdf,
        )
        .unwrap()
    }

    #[test]
    fn a_file_changed_while_read_is_told_and_kept_as_read() {
        let vault = vault();
        let mut s = test_session(&vault, &Index::new(), 1);
        let start = |s: &mut BackupSession, path: &str| {
            let mut meta = FileMeta::file(path, 0o644, -3);
            meta.mtime_nanos = 750_000_000;
            meta.size = 5;
            s.start_file(meta).unwrap();
            s.write(b"hello").unwrap();
        };
        start(&mut s, "/same");
        assert_eq!(s.finish_file_checked(5, -3, 750_000_000).unwrap(), None);
        start(&mut s, "/grew");
        assert_eq!(
            s.finish_file_checked(9, -3, 750_000_000)
                .unwrap()
                .as_deref(),
            Some(
                "changed while it was read (5 bytes read, 9 now); the snapshot has the bytes read"
            )
        );
        start(&mut s, "/touched");
        assert_eq!(
            s.finish_file_checked(5, 1_700_000_000, 1)
                .unwrap()
                .as_deref(),
            Some(
                "changed while it was read (modified at 1700000000.000000001 (was \
                 -2.250000000)); the snapshot has the bytes read"
            )
        );
        // Refused without ending the file; then nothing is open.
        start(&mut s, "/bad");
        let e = s.finish_file_checked(5, 0, 1_000_000_000).unwrap_err();
        assert!(e.to_string().contains("mtime_nanos"), "{e}");
        assert_eq!(s.finish_file_checked(5, -3, 750_000_000).unwrap(), None);
        let e = s.finish_file_checked(5, -3, 750_000_000).unwrap_err();
        assert!(e.to_string().contains("no file is open"), "{e}");
        let out = s.finish(SnapshotInfo::at(1)).unwrap();
        let sizes: Vec<(String, u64)> = out
            .tree
            .entries
            .iter()
            .map(|e| (e.path.to_string(), e.size))
            .collect();
        assert_eq!(
            sizes,
            [("/same", 5), ("/grew", 5), ("/touched", 5), ("/bad", 5)]
                .map(|(p, n)| (p.to_string(), n))
        );
    }

    /// Text, noise, zeros and a repeat, so chunks compress, do not, and dedup.
    fn files() -> Vec<(String, Vec<u8>)> {
        let stream = crate::engine::noise::noise(88172645463325252, 350_000);
        let text = b"the quick brown fox jumps over the lazy dog; ".repeat(5000);
        let random = stream[..300_000].to_vec();
        let mut mixed = stream[300_000..].to_vec();
        mixed.extend(vec![0u8; 100_000]);
        mixed.extend(&text);
        mixed.extend(&random[..120_000]);
        vec![
            ("/a/text".into(), text),
            ("/a/random".into(), random),
            ("/b/mixed".into(), mixed),
            ("/b/empty".into(), Vec::new()),
        ]
    }

    struct Run {
        bundles: Vec<SealedBundle>,
        out: BackupOutcome,
    }

    /// A session on `threads` workers (one without the `parallel` feature,
    /// where the threaded runs repeat the single one).
    fn test_session(vault: &Vault, index: &Index, threads: usize) -> BackupSession {
        let threads = if cfg!(feature = "parallel") {
            threads
        } else {
            1
        };
        BackupSession::new(vault, Arc::new(index.clone()), BackupOptions { threads }).unwrap()
    }

    /// A backup of [`files`] in `write`-byte writes. Odd write sizes also
    /// hand each taken bundle's buffer back (keeping a copy to check).
    fn backup(vault: &Vault, index: &Index, threads: usize, write: usize) -> Run {
        let mut s = test_session(vault, index, threads);
        let mut bundles = Vec::new();
        s.add_entry(FileMeta::dir("/a", 0o755, 1)).unwrap();
        for (path, data) in files() {
            s.start_file(FileMeta::file(path, 0o644, 2)).unwrap();
            for piece in data.chunks(write) {
                s.write(piece).unwrap();
                for b in s.take_bundles() {
                    bundles.push(b.clone());
                    if write % 2 == 1 {
                        s.recycle(b.bytes);
                    }
                }
            }
            s.finish_file().unwrap();
        }
        let out = s.finish(SnapshotInfo::at(3)).unwrap();
        bundles.extend(out.bundles.iter().cloned());
        Run { bundles, out }
    }

    /// Every file's bytes, rebuilt from the bundles through the checked paths.
    fn restore(vault: &Vault, run: &Run) -> Vec<(String, Vec<u8>)> {
        let keys = vault.keys();
        let mut blobs = HashMap::new();
        for b in &run.bundles {
            for e in check_bundle(keys, vault.id(), &b.id, &b.bytes).unwrap() {
                let sealed = &b.bytes[e.offset as usize..(e.offset + e.length) as usize];
                let plain =
                    open_blob(keys, vault.id(), e.kind, &e.id, e.raw_len, sealed, "t").unwrap();
                assert!(blobs.insert(e.id, plain).is_none(), "each blob stored once");
            }
        }
        run.out
            .tree
            .entries
            .iter()
            .filter(|e| e.kind == EntryKind::File)
            .map(|e| {
                (
                    e.path.to_string(),
                    e.chunks.iter().flat_map(|c| blobs[c].clone()).collect(),
                )
            })
            .collect()
    }

    fn layout(run: &Run) -> Vec<Vec<(Id, u32, u32, u32)>> {
        run.bundles
            .iter()
            .map(|b| {
                b.entries
                    .iter()
                    .map(|e| (e.id, e.offset, e.length, e.raw_len))
                    .collect()
            })
            .collect()
    }

    /// A file given up half-way, between two complete ones, with its
    /// chunks still being named by the workers when it is abandoned: the
    /// snapshot has the others with their own chunks, whatever the threads.
    #[test]
    fn an_abandoned_file_leaves_the_others_whole_on_any_threads() {
        let vault = vault();
        let data = files();
        let run = |threads: usize| {
            let mut s = test_session(&vault, &Index::new(), threads);
            let mut bundles = Vec::new();
            for (i, (path, bytes)) in data.iter().enumerate() {
                s.start_file(FileMeta::file(path.as_str(), 0o644, 2))
                    .unwrap();
                for piece in bytes.chunks(5000) {
                    s.write(piece).unwrap();
                }
                if i == 1 {
                    s.abandon_file("read error").unwrap();
                } else {
                    s.finish_file().unwrap();
                }
                bundles.extend(s.take_bundles());
            }
            let out = s.finish(SnapshotInfo::at(3)).unwrap();
            bundles.extend(out.bundles.iter().cloned());
            Run { bundles, out }
        };
        let one = run(1);
        let mut expected = data.clone();
        expected.remove(1);
        assert_eq!(restore(&vault, &one), expected);
        assert_eq!(one.out.tree.errors.len(), 1);
        assert_eq!(one.out.tree.errors[0].path.to_string(), data[1].0);
        for threads in [2, 3] {
            let many = run(threads);
            assert_eq!(restore(&vault, &many), expected, "{threads} threads");
            assert_eq!(many.out.tree.entries, one.out.tree.entries);
            assert_eq!(many.out.tree.errors, one.out.tree.errors);
            assert_eq!(layout(&many), layout(&one), "{threads} threads");
        }
    }

    #[test]
    fn one_or_more_threads_store_the_same_blobs_in_the_same_places() {
        let vault = vault();
        let index = Index::new();
        let one = backup(&vault, &index, 1, 10_000);
        assert_eq!(restore(&vault, &one), files());
        assert!(one.bundles.len() > 1, "several bundles");
        let c = one.out.counters;
        assert_eq!(c.files_searched, 4);
        assert_eq!(c.files_backed_up, 3, "the empty file brings nothing");
        assert!(c.bytes_backed_up < c.bytes_searched, "the repeats dedup");
        // Everything stored but the snapshot, which records the counters and
        // so cannot count itself.
        let in_db = |run: &Run| {
            let bundles: usize = run.bundles.iter().map(|b| b.bytes.len()).sum();
            (bundles + run.out.index.bytes.len()) as u64
        };
        assert_eq!(c.bytes_in_db, in_db(&one));
        for (threads, write) in [(2, 10_000), (3, 1), (2, 1 << 20), (1, 4097), (2, 9999)] {
            let many = backup(&vault, &index, threads, write);
            assert_eq!(restore(&vault, &many), files(), "{threads} threads");
            assert_eq!(layout(&many), layout(&one), "{threads} threads");
            assert_eq!(many.out.tree.entries, one.out.tree.entries);
            // The index delta is compressed, so its size varies by a byte or two.
            let counters = many.out.counters;
            assert_eq!(counters.bytes_in_db, in_db(&many));
            assert_eq!(
                BackupCounters {
                    bytes_in_db: 0,
                    ..counters
                },
                BackupCounters {
                    bytes_in_db: 0,
                    ..c
                }
            );
        }
    }

    /// A backup of `files` in `write`-byte writes where every run of zeros
    /// within a write goes through `write_zeros` when `sparse`.
    fn backup_zeros(
        vault: &Vault,
        index: &Index,
        threads: usize,
        write: usize,
        files: &[(String, Vec<u8>)],
        sparse: bool,
    ) -> Run {
        let mut s = test_session(vault, index, threads);
        let mut bundles = Vec::new();
        for (path, data) in files {
            s.start_file(FileMeta::file(path.as_str(), 0o644, 2))
                .unwrap();
            for piece in data.chunks(write) {
                let mut rest = piece;
                while !rest.is_empty() {
                    let zero = rest[0] == 0;
                    let run = rest.iter().take_while(|b| (**b == 0) == zero).count();
                    if zero && sparse {
                        s.write_zeros(run as u64).unwrap();
                    } else {
                        s.write(&rest[..run]).unwrap();
                    }
                    rest = &rest[run..];
                }
                bundles.extend(s.take_bundles());
            }
            s.finish_file().unwrap();
        }
        let out = s.finish(SnapshotInfo::at(3)).unwrap();
        bundles.extend(out.bundles.iter().cloned());
        Run { bundles, out }
    }

    #[test]
    fn zero_runs_without_their_bytes_store_what_their_bytes_do() {
        let vault = vault();
        let index = Index::new();
        let mut files = files();
        let mut holes = b"head".to_vec();
        holes.extend(vec![0u8; 1_000_000]);
        holes.extend(b"middle".repeat(3000));
        holes.extend(vec![0u8; 16_383]);
        holes.push(1);
        holes.extend(vec![0u8; 33]);
        holes.push(2);
        holes.extend(vec![0u8; 500_000]);
        files.push(("/c/holes".into(), holes));
        files.push(("/c/all-zeros".into(), vec![0u8; 2_000_001]));
        files.push(("/c/short-zeros".into(), vec![0u8; 1000]));
        for (threads, write) in [(1, 1 << 20), (2, 10_000), (1, 4097)] {
            let dense = backup_zeros(&vault, &index, threads, write, &files, false);
            let sparse = backup_zeros(&vault, &index, threads, write, &files, true);
            assert_eq!(restore(&vault, &sparse), files, "{threads} {write}");
            assert_eq!(layout(&sparse), layout(&dense), "{threads} {write}");
            assert_eq!(sparse.out.tree.entries, dense.out.tree.entries);
            assert_eq!(
                sparse.out.counters.bytes_searched,
                dense.out.counters.bytes_searched
            );
            assert_eq!(
                sparse.out.counters.bytes_backed_up,
                dense.out.counters.bytes_backed_up
            );
            // A sparse copy of a dense backup's files stores nothing.
            let known = loaded(&vault, &dense.out);
            let again = backup_zeros(&vault, &known, threads, write, &files, true);
            assert_eq!(again.out.counters.bytes_backed_up, 0);
            assert!(again.bundles.is_empty());
        }
    }

    #[test]
    fn a_path_twice_or_below_a_non_folder_is_refused_as_added() {
        let vault = vault();
        let mut s =
            BackupSession::new(&vault, Arc::new(Index::new()), BackupOptions::default()).unwrap();
        s.add_entry(FileMeta::symlink("/l", "/etc", 0)).unwrap();
        let e = s
            .start_file(FileMeta::file("/l/passwd", 0o644, 0))
            .unwrap_err();
        assert_eq!(e.code(), crate::ErrorCode::InvalidValue);
        assert!(
            e.to_string()
                .contains("/l/passwd is below /l, which is a symlink, not a folder"),
            "{e}"
        );
        s.add_entry(FileMeta::dir("/d", 0o755, 0)).unwrap();
        let e = s.add_entry(FileMeta::dir("/d", 0o755, 0)).unwrap_err();
        assert!(e.to_string().contains("/d is given twice"), "{e}");
        // Nothing is added while a file is open (it must stay the last
        // entry, for abandon_file).
        s.start_file(FileMeta::file("/d/g", 0o644, 0)).unwrap();
        let e = s
            .add_entry(FileMeta::symlink("/d/l", "/etc", 0))
            .unwrap_err();
        assert!(e.to_string().contains("/d/g is still open"), "{e}");
        s.finish_file().unwrap();
        // What a dropped entry left in the map never vouches for a later
        // one at its index (placement checks only entries before).
        s.start_file(FileMeta::file("/q/q/x", 0o644, 0)).unwrap();
        s.abandon_file("vanished").unwrap();
        s.start_file(FileMeta::file("/q", 0o644, 0)).unwrap();
        s.abandon_file("vanished").unwrap();
        s.add_entry(FileMeta::dir("/q/q/q", 0o755, 0)).unwrap();
        let e = s.add_entry(FileMeta::symlink("/q", "/etc", 0)).unwrap_err();
        assert!(
            e.to_string()
                .contains("/q is a symlink, but /q/q/q is below it"),
            "{e}"
        );
        // A file given up may be given again (a host retrying it).
        s.start_file(FileMeta::file("/d/f", 0o644, 0)).unwrap();
        s.abandon_file("vanished").unwrap();
        s.start_file(FileMeta::file("/d/f", 0o644, 0)).unwrap();
        s.finish_file().unwrap();
        let out = s.finish(SnapshotInfo::at(0)).unwrap();
        let paths: Vec<String> = out
            .tree
            .entries
            .iter()
            .map(|e| e.path.to_string())
            .collect();
        assert_eq!(paths, ["/l", "/d", "/d/g", "/q/q/q", "/d/f"]);
    }

    #[test]
    fn write_zeros_needs_an_open_file() {
        let vault = vault();
        let mut s =
            BackupSession::new(&vault, Arc::new(Index::new()), BackupOptions::default()).unwrap();
        let e = s.write_zeros(10).unwrap_err();
        assert!(e.to_string().contains("start_file"), "{e}");
    }

    #[test]
    fn a_second_backup_against_the_index_stores_nothing() {
        let vault = vault();
        let first = backup(&vault, &Index::new(), 2, 4096);
        let mut index = Index::new();
        index
            .load_delta(
                vault.keys(),
                vault.id(),
                &first.out.index.id,
                &first.out.index.bytes,
            )
            .unwrap();
        for threads in [1, 2] {
            let again = backup(&vault, &index, threads, 7777);
            assert!(again.bundles.is_empty());
            assert_eq!(again.out.counters.bytes_backed_up, 0);
            assert_eq!(again.out.counters.files_backed_up, 0);
            assert_eq!(again.out.tree.entries, first.out.tree.entries);
        }
    }

    /// A regular file's full metadata, as a host's lstat gives it.
    fn stat(path: &str, size: u64) -> FileMeta {
        FileMeta {
            path: path.into(),
            kind: EntryKind::File,
            mode: 0o640,
            mtime: 1_700_000_000,
            mtime_nanos: 123_456_789,
            ctime: 1_700_000_100,
            ctime_nanos: 987_654_321,
            size,
            uid: Some(1000),
            gid: Some(100),
            inode: 4242,
            device: 2049,
            links: 1,
            ..FileMeta::default()
        }
    }

    /// A first backup of `/a/random` and `/b/empty` with [`stat`]'s
    /// metadata: its bundles and outcome.
    fn parent_backup(vault: &Vault) -> (Vec<SealedBundle>, BackupOutcome) {
        let mut s =
            BackupSession::new(vault, Arc::new(Index::new()), BackupOptions::default()).unwrap();
        let mut bundles = Vec::new();
        s.add_entry(FileMeta::dir("/a", 0o755, 1)).unwrap();
        for (path, data) in files()
            .into_iter()
            .filter(|(p, _)| p == "/a/random" || p == "/b/empty")
        {
            s.start_file(stat(&path, data.len() as u64)).unwrap();
            s.write(&data).unwrap();
            s.finish_file().unwrap();
            bundles.extend(s.take_bundles());
        }
        let out = s.finish(SnapshotInfo::at(5)).unwrap();
        bundles.extend(out.bundles.iter().cloned());
        (bundles, out)
    }

    fn loaded(vault: &Vault, out: &BackupOutcome) -> Index {
        let mut index = Index::new();
        index
            .load_delta(vault.keys(), vault.id(), &out.index.id, &out.index.bytes)
            .unwrap();
        index
    }

    fn child(vault: &Vault, index: Index, parent: &Snapshot) -> BackupSession {
        let mut s = BackupSession::new(vault, Arc::new(index), BackupOptions::default()).unwrap();
        s.set_parent(parent);
        s
    }

    #[test]
    fn an_unchanged_file_is_reused_with_its_new_metadata_and_counted() {
        let vault = vault();
        let (_, first) = parent_backup(&vault);
        let old = first.tree.entries[1].clone();
        assert_eq!(old.path, "/a/random");
        assert!(old.chunks.len() > 10, "several chunks");
        let mut s = child(&vault, loaded(&vault, &first), &first.tree);
        // What reuse does not compare may change: the entry takes it.
        let meta = FileMeta {
            mode: 0o600,
            uid: Some(0),
            links: 2,
            ..stat("/a/random", old.size)
        };
        assert!(s.reuse(meta).unwrap());
        assert!(s.reuse(stat("/b/empty", 0)).unwrap(), "an empty file too");
        let c = s.counters();
        assert_eq!(c.files_unchanged, 2);
        assert_eq!(c.files_searched, 2);
        assert_eq!(c.bytes_searched, old.size);
        assert_eq!(c.bytes_backed_up, 0);
        let out = s.finish(SnapshotInfo::at(6)).unwrap();
        assert!(out.bundles.is_empty(), "nothing read, nothing stored");
        assert_eq!(out.counters.files_backed_up, 0);
        assert_eq!(out.counters.files_unchanged, 2);
        let expected = Entry {
            mode: 0o600,
            uid: Some(0),
            links: 2,
            ..old
        };
        assert_eq!(out.tree.entries[0], expected);
        assert_eq!(out.tree.entries[1], first.tree.entries[2]);
    }

    #[test]
    fn a_changed_or_unknown_file_is_not_reused_and_nothing_is_recorded() {
        let vault = vault();
        let (_, first) = parent_backup(&vault);
        let size = first.tree.entries[1].size;
        let base = stat("/a/random", size);
        let changed: Vec<(&str, FileMeta)> = vec![
            (
                "size",
                FileMeta {
                    size: size + 1,
                    ..base.clone()
                },
            ),
            (
                "mtime",
                FileMeta {
                    mtime: base.mtime + 1,
                    ..base.clone()
                },
            ),
            (
                "mtime_nanos",
                FileMeta {
                    mtime_nanos: 1,
                    ..base.clone()
                },
            ),
            (
                "ctime",
                FileMeta {
                    ctime: base.ctime - 1,
                    ..base.clone()
                },
            ),
            (
                "ctime_nanos",
                FileMeta {
                    ctime_nanos: 2,
                    ..base.clone()
                },
            ),
            (
                "inode",
                FileMeta {
                    inode: 7,
                    ..base.clone()
                },
            ),
            (
                "device",
                FileMeta {
                    device: 8,
                    ..base.clone()
                },
            ),
            (
                "path",
                FileMeta {
                    path: "/a/other".into(),
                    ..base.clone()
                },
            ),
            (
                "kind",
                FileMeta {
                    kind: EntryKind::Fifo,
                    ..base.clone()
                },
            ),
        ];
        for (what, meta) in changed {
            let mut s = child(&vault, loaded(&vault, &first), &first.tree);
            assert!(!s.reuse(meta).unwrap(), "changed {what}");
            assert_eq!(s.counters(), BackupCounters::default(), "{what}");
            let out = s.finish(SnapshotInfo::at(6)).unwrap();
            assert!(out.tree.entries.is_empty(), "{what}: nothing recorded");
        }
        // Without a parent nothing is reused.
        let mut s = BackupSession::new(
            &vault,
            Arc::new(loaded(&vault, &first)),
            BackupOptions::default(),
        )
        .unwrap();
        assert!(!s.reuse(base.clone()).unwrap());
        // A false answer leaves the session as it was: the host backs the
        // file up as usual.
        s.start_file(base.clone()).unwrap();
        s.write(&files()[1].1).unwrap();
        s.finish_file().unwrap();
        let out = s.finish(SnapshotInfo::at(6)).unwrap();
        assert_eq!(out.tree.entries[0].chunks, first.tree.entries[1].chunks);
    }

    #[test]
    fn a_file_whose_chunks_left_the_index_is_read_again() {
        let vault = vault();
        let (bundles, first) = parent_backup(&vault);
        assert!(bundles.len() > 1);
        // A gc (or a lost index) took the last bundle's blobs away.
        let mut index = Index::new();
        for b in &bundles[..bundles.len() - 1] {
            index.add_bundle(b);
        }
        let old = &first.tree.entries[1];
        assert!(old.chunks.iter().any(|c| !index.contains(c)));
        let mut s = child(&vault, index, &first.tree);
        assert!(!s.reuse(stat("/a/random", old.size)).unwrap());
        assert_eq!(s.counters().files_unchanged, 0);
        // The empty file has no chunk to lose.
        assert!(s.reuse(stat("/b/empty", 0)).unwrap());
    }

    #[test]
    fn a_parent_without_ctimes_is_never_reused() {
        let vault = vault();
        let (_, first) = parent_backup(&vault);
        let mut tree = first.tree.clone();
        for e in &mut tree.entries {
            e.ctime = 0;
            e.ctime_nanos = 0;
        }
        let size = tree.entries[1].size;
        let mut s = child(&vault, loaded(&vault, &first), &tree);
        let meta = FileMeta {
            ctime: 0,
            ctime_nanos: 0,
            ..stat("/a/random", size)
        };
        assert!(!s.reuse(meta).unwrap());
    }

    #[test]
    fn reuse_refuses_bad_nanoseconds_and_an_open_file() {
        let vault = vault();
        let (_, first) = parent_backup(&vault);
        let size = first.tree.entries[1].size;
        let mut s = child(&vault, loaded(&vault, &first), &first.tree);
        for meta in [
            FileMeta {
                mtime_nanos: 1_000_000_000,
                ..stat("/a/random", size)
            },
            FileMeta {
                ctime_nanos: u32::MAX,
                ..stat("/a/random", size)
            },
        ] {
            let e = s.reuse(meta).unwrap_err();
            assert_eq!(e.code(), crate::ErrorCode::InvalidArgument, "{e}");
        }
        s.start_file(stat("/new", 1)).unwrap();
        let e = s.reuse(stat("/a/random", size)).unwrap_err();
        assert_eq!(e.code(), crate::ErrorCode::InvalidArgument);
        assert!(e.to_string().contains("/new is still open"), "{e}");
        s.finish_file().unwrap();
        assert!(s.reuse(stat("/a/random", size)).unwrap(), "usable after");
    }

    #[test]
    fn thread_counts_outside_1_to_max_are_refused() {
        let vault = vault();
        for threads in [0, super::super::MAX_THREADS + 1, usize::MAX] {
            let index = Arc::new(Index::new());
            let e = BackupSession::new(&vault, index, BackupOptions { threads }).err();
            assert_eq!(
                e.map(|e| e.to_string()),
                Some(format!(
                    "invalid argument `threads`: must be from 1 to 256, not {threads}"
                )),
            );
        }
    }
}
