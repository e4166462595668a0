//! Sans-IO restore: from a snapshot, the vault's index and the host's
//! choices (globs, overwrite policy), a plan of bundle byte ranges to fetch;
//! the host feeds the fetched bytes back and receives verified writes.
//!
//! ```text
//! let mut s = RestoreSession::new(&vault, &snapshot, &index, options)?;
//! for c in s.creates() { create(c) }           // dirs, symlinks; files at c.size
//! for f in s.plan() {
//!     for r in &f.ranges {
//!         match get_range(f.bundle, r.offset, r.length) {
//!             Ok(bytes) => for w in s.feed(&f.bundle, r.offset, &bytes)? {
//!                 for p in &w.places {      // one buffer, written at each place
//!                     if write_at(&p.path, p.offset, &w.data).is_err() {
//!                         s.fail_path(&p.path, "No space left on device")?;
//!                     }
//!                 }
//!             },
//!             Err(_) => s.missing(&f.bundle)?,  // the bundle cannot be fetched
//!         }
//!         for path in s.take_completed() { close_and_rename(path) }
//!     }
//! }
//! let report = s.finish();   // counters and the restore's `/errors` patch value
//! ```
//!
//! ## Memory
//!
//! The session keeps only plan metadata (paths, chunk places, ranges),
//! never file contents. A blob is decrypted once and handed out once, as
//! one [`Write`] listing every place it goes (a blob used by 150 identical
//! files is one buffer with 150 places). A planned range holds at most
//! [`RestoreOptions::max_range`] bytes, stored and decrypted (a single
//! larger blob excepted), so one feed's writes are bounded too.
//!
//! ## Threads
//!
//! With [`RestoreOptions::threads`] above 1, a range started with its
//! bytes ([`RestoreSession::start_range_owned`]) has its blobs opened on a
//! worker pool while the host writes; [`RestoreSession::next_write_owned`]
//! hands them back in the range's order. A host starts the next range or
//! two before taking the writes of the current one, so the pool never
//! waits for the disk. The plaintext opened ahead stays within four
//! average chunks per worker, and since which files a blob goes to is
//! still decided when the host takes it, the writes, the files completed
//! and the report are those of one thread.
//!
//! ## Sparse files
//!
//! With [`RestoreOptions::sparse`] (the default), a blob whose plaintext is
//! all zeros is not handed out at all. Hosts MUST therefore create every
//! file fresh at its final `size` (create or truncate to 0, then
//! `ftruncate(size)`): the bytes never written read back as zeros and, on
//! filesystems that support it, stay holes.
//!
//! ## Host failures and resuming
//!
//! A file the host cannot write (a full disk, an I/O error, a permission
//! refused) is reported back with [`RestoreSession::fail_path`]: it lands
//! in the same error report, gets no further writes, and the restore goes
//! on with the other files. [`RestoreSession::take_completed`] names the
//! files whose content is complete, so a host can move each into place at
//! once and an interrupted restore keeps them. Rerunning completes what is
//! missing: existing files are skipped (or, with
//! [`RestoreOptions::resume`], files whose size and modification time match
//! the snapshot count as done even when overwriting), and the host removes
//! the temporaries a killed restore left in
//! [`RestoreSession::leftover_dirs`] (those [`super::paths::partial_owner`]
//! gives no running owner).
//!
//! Every blob is opened with [`open_blob`] (tag, then id) before any of its
//! bytes go out, so nothing unverified is ever written. A blob that fails
//! (or a bundle that cannot be fetched) turns each file using it into an
//! entry of the error report; the restore itself goes on.
//!
//! ## Selecting paths
//!
//! Inclusions and exclusions are patterns of the one language of
//! [`super::select`] (restic's; `docs/PATTERNS.md`), matched against each
//! entry's snapshot path: `/web` takes the folder and everything below it,
//! `*.log` matches a name at any depth, `*` stays within a name and `**`
//! crosses folders. The folders above an included path are restored too;
//! an excluded folder takes its subtree with it, and exclusions win over
//! inclusions. `iinclusions`/`iexclusions` ignore case. Windows paths
//! (`C:\...`) are matched with `\` read as `/`, and a pattern starting with
//! a drive letter ignores case. [`filter_globs`] turns the v2 restore's
//! path filters into patterns. No inclusion means everything.

use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::atomic::AtomicBool;
use std::sync::Arc;

mod options;
mod report;
mod run;
mod steps;
#[cfg(feature = "parallel")]
mod workers;

use super::blob::{blob_parts, finish_blob, not_authentic, open_blob, AAD_LEN};
use super::bundle::bundle_name;
use super::crypto::Id;
use super::crypto::NONCE_LEN;
use super::format::VaultId;
use super::index::{Index, Location};
use super::keys::VaultKeys;
use super::rawpath::RawPath;
pub use super::select::filter_globs;
use super::select::select_entries;
use super::snapshot::{Entry, EntryKind, Snapshot};
use super::vault::Vault;
use crate::{Error, Result};

pub use options::{FoundFile, RestoreOptions, DEFAULT_MAX_GAP, DEFAULT_MAX_RANGE};
pub(crate) use report::blob_name;
use report::{described_report, Failure};
pub use report::{
    error_report, exception_code, RestoreReport, ERRORS_REASON, WRITE_FAILED, WRITE_FAILED_CODE,
};
pub use run::RestoreRun;
pub(crate) use steps::SharedBytes;
pub use steps::{ByteRange, Create, CreateKind, Fetch, Place, RangeFeed, SealedPart, Write};

/// One selected path and how far it got.
struct Item {
    create: Create,
    /// Whether the host is told to create it (not when it failed at planning).
    announced: bool,
    /// Chunk occurrences not yet written.
    remaining: usize,
    error: Option<Failure>,
}

impl Item {
    /// Whether it is a file still waiting for content.
    fn incomplete(&self) -> bool {
        self.error.is_none() && self.remaining > 0
    }
}

/// Where a chunk goes.
#[derive(Clone, Copy)]
struct Slot {
    item: usize,
    offset: u64,
}

/// A blob the plan fetches once, and every place its plaintext goes.
struct Needed {
    id: Id,
    location: Location,
    slots: Vec<Slot>,
}

/// A planned range and the blobs inside it.
struct Range {
    span: ByteRange,
    /// Decrypted bytes of its blobs.
    raw: u64,
    /// Indexes into `needed`, by offset.
    blobs: Vec<usize>,
    fed: bool,
}

struct BundlePlan {
    id: Id,
    ranges: Vec<Range>,
}

/// A restore in progress. See the module docs for the flow.
pub struct RestoreSession {
    /// A clone (cheap: keys and settings) so the session borrows nothing.
    vault: Vault,
    items: Vec<Item>,
    needed: Vec<Needed>,
    /// In order of first use, so early files complete early.
    bundles: Vec<BundlePlan>,
    bundle_pos: HashMap<Id, usize>,
    files_skipped: u64,
    files_done: u64,
    /// Inclusion patterns that matched no entry (for the report).
    unmatched_includes: Vec<String>,
    sparse: bool,
    /// Files complete since the host last asked (indexes into `items`).
    completed: Vec<usize>,
    /// Path to item, built on the first [`fail_path`](Self::fail_path).
    by_path: HashMap<RawPath, usize>,
    /// The pool opening the blobs of owned ranges (with more than one
    /// thread, until [`close`](Self::close)).
    #[cfg(feature = "parallel")]
    workers: Option<workers::Workers>,
}

impl RestoreSession {
    /// Plans the restore of `snapshot` (opened from `vault`) using `index`
    /// (the union of the vault's index deltas). Fails only on unusable
    /// options; a file whose chunks the index lacks, or whose size does not
    /// match them, becomes a per-file error.
    pub fn new(
        vault: &Vault,
        snapshot: &Snapshot,
        index: &Index,
        options: RestoreOptions,
    ) -> Result<Self> {
        let selector = options.selector()?;
        super::check_threads(options.threads)?;
        #[cfg(not(feature = "parallel"))]
        if options.threads > 1 {
            return Err(Error::argument(
                "threads",
                "this build has no `parallel` feature",
            ));
        }
        #[cfg(feature = "parallel")]
        let workers = if options.threads > 1 {
            Some(workers::Workers::new(vault, options.threads)?)
        } else {
            None
        };
        // Patterns see paths as text (bytes that are not UTF-8 read as U+FFFD).
        let names: Vec<_> = snapshot
            .entries
            .iter()
            .map(|e| e.path.to_string_lossy())
            .collect();
        let taken = select_entries(
            &selector,
            names
                .iter()
                .zip(&snapshot.entries)
                .map(|(name, e)| (name.as_ref(), e.kind == EntryKind::Dir)),
        );
        let unmatched_includes = selector.unmatched_includes(names.iter().map(|n| n.as_ref()));
        let mut existing: HashSet<&RawPath> = options.existing.iter().collect();
        existing.extend(options.found.iter().map(|f| &f.path));
        let found: HashMap<&RawPath, &FoundFile> = if options.resume {
            options.found.iter().map(|f| (&f.path, f)).collect()
        } else {
            HashMap::new()
        };
        // Hard links: the first name restored of each (device, inode).
        let mut first_name: HashMap<(u64, u64), RawPath> = HashMap::new();
        let mut session = RestoreSession {
            vault: vault.clone(),
            items: Vec::new(),
            needed: Vec::new(),
            bundles: Vec::new(),
            bundle_pos: HashMap::new(),
            files_skipped: 0,
            files_done: 0,
            unmatched_includes,
            sparse: options.sparse,
            completed: Vec::new(),
            by_path: HashMap::new(),
            #[cfg(feature = "parallel")]
            workers,
        };
        let mut blob_pos: HashMap<Id, usize> = HashMap::new();
        let misplaced = super::placement::misplaced(&snapshot.entries);
        for ((entry, taken), misplaced) in snapshot.entries.iter().zip(taken).zip(misplaced) {
            if !taken {
                continue;
            }
            if !entry.is_hard_linked() && found.get(&entry.path).is_some_and(|f| f.matches(entry)) {
                session.files_done += 1;
                continue;
            }
            if entry.kind != EntryKind::Dir && !options.overwrite && existing.contains(&entry.path)
            {
                session.files_skipped += 1;
                continue;
            }
            let inode = (entry.device, entry.inode);
            let link_to = if entry.is_hard_linked() {
                first_name.get(&inode).cloned()
            } else {
                None
            };
            let (create, error) = to_create(entry, index, link_to.as_ref());
            // Written by a host before the rule (or a buggy one): never
            // through a link, and never one entry over another.
            let error = error.or_else(|| {
                misplaced.map(|why| {
                    Error::corrupt(
                        format!("snapshot entry {}", entry.path),
                        format!("it {why}"),
                    )
                })
            });
            // The first name planned takes the content; a refused one is
            // never linked to (it could lie through a symlink).
            if entry.is_hard_linked() && link_to.is_none() && error.is_none() {
                first_name.insert(inode, entry.path.clone());
            }
            let planned = error.is_none();
            let is_file = create.kind == CreateKind::File;
            session.items.push(Item {
                remaining: if link_to.is_none() {
                    entry.chunks.len()
                } else {
                    0
                },
                create,
                announced: planned,
                error: error.map(Failure::Core),
            });
            let item = session.items.len() - 1;
            if planned && is_file {
                if entry.chunks.is_empty() {
                    session.completed.push(item);
                } else {
                    session.place_chunks(item, &entry.chunks, index, &mut blob_pos);
                }
            }
        }
        session.build_ranges(options.max_gap, options.max_range);
        Ok(session)
    }

    /// Records where each chunk of file `item` goes, adding blobs not
    /// needed before (`blob_pos` maps blob ids to `needed`).
    fn place_chunks(
        &mut self,
        item: usize,
        chunks: &[Id],
        index: &Index,
        blob_pos: &mut HashMap<Id, usize>,
    ) {
        let mut offset = 0u64;
        for id in chunks {
            let Some(&location) = index.get(id) else {
                continue; // `check_chunks` ruled this out
            };
            let pos = *blob_pos.entry(*id).or_insert_with(|| {
                self.needed.push(Needed {
                    id: *id,
                    location,
                    slots: Vec::new(),
                });
                self.needed.len() - 1
            });
            if let Some(n) = self.needed.get_mut(pos) {
                n.slots.push(Slot { item, offset });
            }
            offset = offset.saturating_add(u64::from(location.raw_len));
        }
    }

    /// Groups the needed blobs by bundle and coalesces each bundle's blobs
    /// into ranges whenever the gap between them is at most `max_gap` and
    /// the range stays within `max_range` bytes, stored and decrypted.
    fn build_ranges(&mut self, max_gap: u64, max_range: u64) {
        let mut by_bundle: Vec<Vec<usize>> = Vec::new();
        for (i, n) in self.needed.iter().enumerate() {
            let pos = *self.bundle_pos.entry(n.location.bundle).or_insert_with(|| {
                self.bundles.push(BundlePlan {
                    id: n.location.bundle,
                    ranges: Vec::new(),
                });
                by_bundle.push(Vec::new());
                by_bundle.len() - 1
            });
            if let Some(list) = by_bundle.get_mut(pos) {
                list.push(i);
            }
        }
        for (plan, mut blobs) in self.bundles.iter_mut().zip(by_bundle) {
            blobs.sort_by_key(|&i| self.needed.get(i).map_or(0, |n| n.location.offset));
            for i in blobs {
                let Some(n) = self.needed.get(i) else {
                    continue;
                };
                let start = u64::from(n.location.offset);
                let end = start + u64::from(n.location.length);
                let raw = u64::from(n.location.raw_len);
                match plan.ranges.last_mut() {
                    Some(r)
                        if start <= (r.span.offset + r.span.length).saturating_add(max_gap)
                            && end.max(r.span.offset + r.span.length) - r.span.offset
                                <= max_range
                            && r.raw.saturating_add(raw) <= max_range =>
                    {
                        let r_end = (r.span.offset + r.span.length).max(end);
                        r.span.length = r_end - r.span.offset;
                        r.raw += raw;
                        r.blobs.push(i);
                    }
                    _ => plan.ranges.push(Range {
                        span: ByteRange {
                            offset: start,
                            length: end - start,
                        },
                        raw,
                        blobs: vec![i],
                        fed: false,
                    }),
                }
            }
        }
    }

    /// What the host creates: directories, symlinks and files (at their
    /// final size), in snapshot order. Files that already failed at planning
    /// are left out (they are in the error report).
    pub fn creates(&self) -> impl Iterator<Item = &Create> {
        self.items.iter().filter(|i| i.announced).map(|i| &i.create)
    }

    /// The folders a killed restore may have left temporaries in, where
    /// this one writes: relative to the target (`b""`: the target itself,
    /// always first), then every folder it creates or creates something in,
    /// sorted and each once. Before creating anything, a host that is not
    /// restoring into a fresh folder lists each one that exists (reaching
    /// it without following symlinks) and removes the names
    /// [`super::paths::partial_owner`] gives no running owner. A path that
    /// could leave the target is not listed (its create fails anyway).
    pub fn leftover_dirs(&self) -> Vec<Vec<u8>> {
        let mut dirs: Vec<&[u8]> = vec![b""];
        for c in self.creates() {
            let Ok(rel) = super::paths::relative_path(c.path.as_bytes()) else {
                continue;
            };
            dirs.push(if c.kind == CreateKind::Dir {
                rel
            } else {
                rel.iter()
                    .rposition(|&b| b == b'/')
                    .map_or(b"".as_slice(), |slash| &rel[..slash])
            });
        }
        dirs.sort_unstable();
        dirs.dedup();
        dirs.into_iter().map(<[u8]>::to_vec).collect()
    }

    /// The ranges to fetch, bundle by bundle (in order of first use), each
    /// bundle's ranges sorted. Every needed blob is in exactly one range.
    pub fn plan(&self) -> Vec<Fetch> {
        self.bundles
            .iter()
            .map(|b| Fetch {
                bundle: b.id,
                ranges: b.ranges.iter().map(|r| r.span).collect(),
            })
            .collect()
    }

    /// Takes the bytes of one planned range (`offset` as planned) and
    /// returns the writes of every blob in it that verifies, one per blob
    /// with all its places in files still intact (none for a blob of
    /// zeros when sparse). A blob that fails, or that the bytes do not
    /// cover (a short read of a truncated bundle), makes each file using it
    /// fail. An unplanned or already fed range, or more bytes than planned,
    /// is [`Error::InvalidArgument`]. With [`RestoreOptions::threads`] the
    /// range's blobs are opened on the pool (from a copy of `bytes`).
    pub fn feed(&mut self, bundle: &Id, offset: u64, bytes: &[u8]) -> Result<Vec<Write>> {
        let mut out = Vec::new();
        if self.has_pool() {
            let mut range = self.start_range_owned(bundle, offset, bytes.to_vec())?;
            while let Some(w) = self.next_write_owned(&mut range) {
                out.push(w);
            }
        } else {
            let mut range = self.start_range(bundle, offset, bytes.len())?;
            while let Some(w) = self.next_write(&mut range, bytes) {
                out.push(w);
            }
        }
        Ok(out)
    }

    /// Whether blobs of owned ranges are opened on a pool.
    fn has_pool(&self) -> bool {
        #[cfg(feature = "parallel")]
        return self.workers.is_some();
        #[cfg(not(feature = "parallel"))]
        false
    }

    /// Starts feeding one planned range blob by blob: the same checks as
    /// [`feed`](Self::feed), for `len` fetched bytes. Then
    /// [`next_write`](Self::next_write) opens one blob per call, so a host
    /// holds one blob's plaintext at a time rather than a whole range's
    /// (a 4 MiB range of text decompresses to several times that).
    pub fn start_range(&mut self, bundle: &Id, offset: u64, len: usize) -> Result<RangeFeed> {
        let blobs = self.take_range(bundle, offset, len)?;
        Ok(RangeFeed {
            bundle: *bundle,
            offset,
            len,
            blobs: blobs.into(),
            jobs: VecDeque::new(),
            owned: false,
            bytes: None,
            dropped: Arc::new(AtomicBool::new(false)),
        })
    }

    /// As [`start_range`](Self::start_range), handing over the fetched
    /// `bytes` (any owned or shared buffer: a `Vec<u8>`, an `Arc<[u8]>`, a
    /// binding's handle on its host's bytes), then taken blob by blob with
    /// [`next_write_owned`](Self::next_write_owned). With
    /// [`RestoreOptions::threads`] above 1 the range's blobs go to the
    /// pool at once, to be opened while the host writes: a host starts the
    /// next range (or a few) before it has taken all the writes of this
    /// one, so the workers never wait for it. What is opened ahead stays
    /// within a few average chunks per worker; blobs beyond wait their turn.
    pub fn start_range_owned<B>(&mut self, bundle: &Id, offset: u64, bytes: B) -> Result<RangeFeed>
    where
        B: AsRef<[u8]> + Send + Sync + 'static,
    {
        let len = bytes.as_ref().len();
        let mut range = self.start_range(bundle, offset, len)?;
        range.owned = true;
        let bytes: SharedBytes = Arc::new(bytes);
        #[cfg(feature = "parallel")]
        if let Some(pool) = self.workers.as_mut() {
            for i in std::mem::take(&mut range.blobs) {
                let Some(n) = self.needed.get(i) else {
                    continue;
                };
                let seq = pool.push(workers::Job {
                    id: n.id,
                    location: n.location,
                    bytes: Arc::clone(&bytes),
                    range_offset: offset,
                    dropped: Arc::clone(&range.dropped),
                });
                range.jobs.push_back((i, seq));
            }
            return Ok(range);
        }
        range.bytes = Some(bytes);
        Ok(range)
    }

    /// The next write of `range` (started by [`start_range`](Self::start_range)),
    /// given the range's fetched `bytes`; `None` once every blob of it is
    /// done. A blob that fails (or that `bytes` do not cover) fails its
    /// files and is skipped. Bytes of another length than the range was
    /// started with cover nothing: the range's remaining blobs fail. A
    /// range started with its bytes ([`start_range_owned`](Self::start_range_owned))
    /// uses those and ignores `bytes`.
    pub fn next_write(&mut self, range: &mut RangeFeed, bytes: &[u8]) -> Option<Write> {
        if range.owned {
            return self.next_write_owned(range);
        }
        let bytes = if bytes.len() == range.len { bytes } else { &[] };
        while let Some(i) = range.blobs.pop_front() {
            let Some(n) = self.needed.get(i) else {
                continue;
            };
            let opened = open_in_range(
                self.vault.keys(),
                self.vault.id(),
                &n.id,
                &n.location,
                range.offset,
                bytes,
            );
            match opened {
                Ok(plain) => {
                    if let Some(w) = self.emit(i, plain, None) {
                        return Some(w);
                    }
                }
                Err(e) => self.fail(i, &e),
            }
        }
        None
    }

    /// The next blob of a range started by [`start_range`](Self::start_range)
    /// as AES-256-GCM sees it, for a host that opens blobs with its own
    /// cipher (a browser's WebCrypto, under
    /// [`blob_encryption_key`](Self::blob_encryption_key)), then hands the
    /// result to [`open_sealed`](Self::open_sealed): the same writes,
    /// failures and report as [`next_write`](Self::next_write). A blob
    /// that fails `next_write`'s checks before opening (bytes that end
    /// before it, impossible lengths) comes as a part that
    /// [`failed`](SealedPart::failed), to hand back in its turn. `bytes`
    /// are the range's fetched bytes; `None` once every blob was handed out.
    pub fn next_sealed(&mut self, range: &mut RangeFeed, bytes: &[u8]) -> Option<SealedPart> {
        if range.owned {
            return None;
        }
        let bytes = if bytes.len() == range.len { bytes } else { &[] };
        while let Some(i) = range.blobs.pop_front() {
            let Some(n) = self.needed.get(i) else {
                continue;
            };
            let name = blob_name(&n.id, &n.location.bundle);
            let parts = sealed_in_range(&n.location, range.offset, bytes, &name).and_then(
                |(start, sealed)| {
                    let p = blob_parts(
                        self.vault.id(),
                        n.location.kind,
                        &n.id,
                        n.location.raw_len,
                        sealed,
                        &name,
                    )?;
                    // The body follows the nonce within `sealed`.
                    let body_start = start + (sealed.len() - p.body.len());
                    Ok((p.nonce, p.aad, body_start..start + sealed.len()))
                },
            );
            return Some(match parts {
                Ok((nonce, aad, body)) => SealedPart {
                    blob: i,
                    nonce,
                    aad,
                    body,
                    error: None,
                },
                Err(e) => SealedPart {
                    blob: i,
                    nonce: [0; NONCE_LEN],
                    aad: [0; AAD_LEN],
                    body: 0..0,
                    error: Some(e),
                },
            });
        }
        None
    }

    /// Takes a blob [`next_sealed`](Self::next_sealed) handed out, opened
    /// by the host's AES-256-GCM to `opened` (`None`: its tag did not
    /// verify, or the part [`failed`](SealedPart::failed) already):
    /// decompresses it, checks it against its id and returns its write, as
    /// [`next_write`](Self::next_write) would. A blob that fails makes each
    /// file using it fail; a part taken twice gives nothing.
    pub fn open_sealed(&mut self, part: &SealedPart, opened: Option<Vec<u8>>) -> Option<Write> {
        let i = part.blob;
        let n = self.needed.get(i)?;
        let name = blob_name(&n.id, &n.location.bundle);
        let plain = match (&part.error, opened) {
            (Some(e), _) => Err(e.clone()),
            (None, None) => Err(not_authentic(&name)),
            (None, Some(inner)) => {
                finish_blob(self.vault.keys(), &n.id, n.location.raw_len, inner, &name)
            }
        };
        match plain {
            Ok(plain) => self.emit(i, plain, None),
            Err(e) => {
                self.fail(i, &e);
                None
            }
        }
    }

    /// Gives up a part [`next_sealed`](Self::next_sealed) handed out that
    /// will not be opened: each file using its blob fails with `error`.
    pub fn abandon_sealed(&mut self, part: &SealedPart, error: &Error) {
        self.fail(part.blob, error);
    }

    /// The AES-256 key that opens this vault's data blobs (and nothing
    /// else), wiped when dropped: for a host that opens them itself
    /// ([`next_sealed`](Self::next_sealed)).
    pub fn blob_encryption_key(&self) -> zeroize::Zeroizing<[u8; 32]> {
        self.vault.master_key().blob_encryption_key()
    }

    /// The next write of a range started by
    /// [`start_range_owned`](Self::start_range_owned), as
    /// [`next_write`](Self::next_write): blobs come in the range's order,
    /// each waiting only for its own opening (on the pool, with threads).
    /// Same writes, failures and report as with one thread. After
    /// [`close`](Self::close) a range whose blobs were on the pool gives
    /// no more writes.
    pub fn next_write_owned(&mut self, range: &mut RangeFeed) -> Option<Write> {
        if !range.owned {
            // Started without bytes: nothing covers its blobs.
            return self.next_write(range, &[]);
        }
        #[cfg(feature = "parallel")]
        while let Some((i, seq)) = range.jobs.pop_front() {
            let pool = self.workers.as_mut()?;
            match pool.claim(seq) {
                Ok(opened) => {
                    if let Some(w) = self.emit(i, opened.plain, Some(opened.zeros)) {
                        return Some(w);
                    }
                }
                Err(e) => self.fail(i, &e),
            }
        }
        // Without a pool: the borrowed path, over the bytes it holds.
        let bytes = range.bytes.clone()?;
        range.owned = false;
        let write = self.next_write(range, (*bytes).as_ref());
        range.owned = true;
        write
    }

    /// The host cannot fetch `bundle`: every file needing a blob of it that
    /// was not fed yet fails with [`Error::NotFound`].
    pub fn missing(&mut self, bundle: &Id) -> Result<()> {
        let pos = self.bundle_pos(bundle)?;
        let mut blobs = Vec::new();
        if let Some(plan) = self.bundles.get_mut(pos) {
            for r in plan.ranges.iter_mut().filter(|r| !r.fed) {
                r.fed = true;
                blobs.append(&mut r.blobs);
            }
        }
        let e = Error::NotFound {
            what: "bundle".into(),
            id: bundle.to_hex(),
        };
        for i in blobs {
            self.fail(i, &e);
        }
        Ok(())
    }

    /// The host could not create or write `path` (a full disk, an I/O
    /// error, a permission refused; `error` says which, e.g. the OS
    /// message): the file fails with type [`WRITE_FAILED`] in the report,
    /// gets no further writes and no attributes to apply; the restore goes
    /// on. The host removes what it wrote of it. Failing a path twice keeps
    /// the first error. A path not in the restore is
    /// [`Error::InvalidArgument`].
    pub fn fail_path(&mut self, path: &RawPath, error: &str) -> Result<()> {
        if self.by_path.is_empty() {
            // A path given twice: the planned item wins (the other was
            // refused, see `placement`), whichever came first.
            for (i, item) in self.items.iter().enumerate() {
                let slot = self.by_path.entry(item.create.path.clone()).or_insert(i);
                if item.announced {
                    *slot = i;
                }
            }
        }
        let item = self
            .by_path
            .get(path)
            .and_then(|&i| self.items.get_mut(i))
            .ok_or_else(|| {
                Error::argument("path", format!("{} is not in the restore", path.quoted()))
            })?;
        item.error
            .get_or_insert_with(|| Failure::Host(error.to_string()));
        Ok(())
    }

    /// The files whose content became complete since the last call (every
    /// blob written, or left as a hole): the host may close each and move
    /// it into place now, so an interrupted restore keeps it. Empty files
    /// come at the first call. A file failed since it completed (see
    /// [`fail_path`](Self::fail_path)) is left out.
    pub fn take_completed(&mut self) -> Vec<RawPath> {
        let items = &self.items;
        std::mem::take(&mut self.completed)
            .into_iter()
            .filter_map(|i| items.get(i))
            .filter(|item| item.error.is_none())
            .map(|item| item.create.path.clone())
            .collect()
    }

    /// Marks the ranges never fed as missing bundles (so their files fail);
    /// the restore takes no more bytes after this (and stops its workers).
    pub fn close(&mut self) {
        #[cfg(feature = "parallel")]
        {
            self.workers = None;
        }
        let unfed: Vec<Id> = self
            .bundles
            .iter()
            .filter(|b| b.ranges.iter().any(|r| !r.fed))
            .map(|b| b.id)
            .collect();
        for id in unfed {
            // Planned bundles are always known.
            let _ = self.missing(&id);
        }
    }

    /// What the restore did so far (final after [`close`](Self::close)):
    /// files still waiting for content count neither as restored nor as
    /// failed.
    pub fn report(&self) -> RestoreReport {
        let mut report = RestoreReport {
            files_restored: 0,
            bytes_restored: 0,
            files_skipped: self.files_skipped,
            files_done: self.files_done,
            errors: None,
            unmatched_includes: self.unmatched_includes.clone(),
            apply: Vec::new(),
        };
        for item in self.items.iter().filter(|i| i.error.is_none()) {
            match item.create.kind {
                CreateKind::Dir => {}
                CreateKind::File if item.remaining == 0 => {
                    report.files_restored += 1;
                    report.bytes_restored += item.create.size.unwrap_or(0);
                }
                CreateKind::File => {}
                _ => report.files_restored += 1,
            }
        }
        report.apply = self
            .items
            .iter()
            .rev()
            .filter(|i| i.error.is_none() && i.announced && !i.incomplete())
            .map(|i| i.create.clone())
            .collect();
        report.errors = described_report(
            self.items.iter().filter_map(|i| {
                let (kind, code, description) = i.error.as_ref()?.describe();
                Some((i.create.path.quoted().into_owned(), kind, code, description))
            }),
            "Some files could not be restored.",
        );
        report
    }

    /// Ends the restore ([`close`](Self::close), then the
    /// [`report`](Self::report)). Ranges never fed count as missing bundles.
    pub fn finish(mut self) -> RestoreReport {
        self.close();
        self.report()
    }

    fn bundle_pos(&self, bundle: &Id) -> Result<usize> {
        self.bundle_pos.get(bundle).copied().ok_or_else(|| {
            Error::argument(
                "bundle",
                format!("{} is not in the restore plan", bundle_name(bundle)),
            )
        })
    }

    /// Checks that `len` bytes fit the planned range at `offset` of
    /// `bundle`, not fed yet; marks it fed and returns its blobs.
    fn take_range(&mut self, bundle: &Id, offset: u64, len: usize) -> Result<Vec<usize>> {
        let pos = self.bundle_pos(bundle)?;
        let name = bundle_name(bundle);
        let unplanned = || {
            Error::argument(
                "offset",
                format!("no planned range starts at {offset} of {name}"),
            )
        };
        let plan = self.bundles.get_mut(pos).ok_or_else(unplanned)?;
        let i = plan
            .ranges
            .binary_search_by_key(&offset, |r| r.span.offset)
            .map_err(|_| unplanned())?;
        let range = plan.ranges.get_mut(i).ok_or_else(unplanned)?;
        if range.fed {
            return Err(Error::argument(
                "offset",
                format!("the range at {offset} of {name} was already fed"),
            ));
        }
        if len as u64 > range.span.length {
            return Err(Error::argument(
                "bytes",
                format!(
                    "{len} bytes given for the {}-byte range at {offset} of {name}",
                    range.span.length
                ),
            ));
        }
        range.fed = true;
        Ok(std::mem::take(&mut range.blobs))
    }

    /// The write of verified blob `i`: its plaintext once, with every
    /// place it goes in files still intact; `None` when it goes nowhere,
    /// or is all zeros and the restore is sparse (the host created the
    /// files at their size, so those bytes already read as zeros).
    /// `zeros` says whether it is all zeros, when a worker found out.
    fn emit(&mut self, i: usize, plain: Vec<u8>, zeros: Option<bool>) -> Option<Write> {
        let n = self.needed.get_mut(i)?;
        let slots = std::mem::take(&mut n.slots);
        let hole = self.sparse && zeros.unwrap_or_else(|| plain.iter().all(|&b| b == 0));
        let mut places = Vec::new();
        for slot in slots {
            let Some(item) = self.items.get_mut(slot.item) else {
                continue;
            };
            if item.error.is_some() {
                continue;
            }
            item.remaining = item.remaining.saturating_sub(1);
            if item.remaining == 0 {
                self.completed.push(slot.item);
            }
            if !hole {
                places.push(Place {
                    path: item.create.path.clone(),
                    offset: slot.offset,
                });
            }
        }
        (!places.is_empty()).then_some(Write {
            data: plain,
            places,
        })
    }

    /// Fails every file that needs blob `i`.
    fn fail(&mut self, i: usize, error: &Error) {
        let Some(n) = self.needed.get_mut(i) else {
            return;
        };
        for slot in std::mem::take(&mut n.slots) {
            if let Some(item) = self.items.get_mut(slot.item) {
                item.error
                    .get_or_insert_with(|| Failure::Core(error.clone()));
            }
        }
    }
}

/// Blob `location`'s sealed bytes within the fetched `bytes` of the range
/// starting at `range_offset` of its bundle, and where they start in them;
/// bytes that end before the blob are a truncated bundle.
fn sealed_in_range<'a>(
    location: &Location,
    range_offset: u64,
    bytes: &'a [u8],
    name: &str,
) -> Result<(usize, &'a [u8])> {
    u64::from(location.offset)
        .checked_sub(range_offset)
        .and_then(|s| usize::try_from(s).ok())
        .and_then(|s| Some((s, bytes.get(s..s.checked_add(location.length as usize)?)?)))
        .ok_or_else(|| {
            Error::corrupt(
                name,
                "the fetched range ends before the blob (truncated bundle?)",
            )
        })
}

/// Opens blob `id` at `location` from the fetched `bytes` of the range
/// starting at `range_offset` of its bundle; bytes that end before the
/// blob are a truncated bundle.
fn open_in_range(
    keys: &VaultKeys,
    vault_id: &VaultId,
    id: &Id,
    location: &Location,
    range_offset: u64,
    bytes: &[u8],
) -> Result<Vec<u8>> {
    let name = blob_name(id, &location.bundle);
    let (_, sealed) = sealed_in_range(location, range_offset, bytes, &name)?;
    open_blob(
        keys,
        vault_id,
        location.kind,
        id,
        location.raw_len,
        sealed,
        &name,
    )
}

/// What the host creates for `entry` (a hard link to `link_to` when
/// given), and why it cannot be restored, if so.
fn to_create(entry: &Entry, index: &Index, link_to: Option<&RawPath>) -> (Create, Option<Error>) {
    let create = Create::of(entry, link_to);
    let what = || format!("snapshot entry {}", entry.path);
    if let Err(e) = super::paths::check_snapshot_path(entry.path.as_bytes()) {
        // A snapshot is authenticated, but one written by a buggy or old
        // host could still hold such a path: never follow it out of the target.
        return (create, Some(e));
    }
    let error = match create.kind {
        CreateKind::Symlink if entry.target.is_none() => {
            Some(Error::corrupt(what(), "symlink has no target"))
        }
        CreateKind::File => check_chunks(index, &entry.chunks, entry.size, &what()).err(),
        _ => None,
    };
    (create, error)
}

/// Checks that every chunk of a file is in the index and that their sizes
/// add up to the file's.
fn check_chunks(index: &Index, chunks: &[Id], size: u64, what: &str) -> Result<()> {
    let mut total = 0u64;
    for id in chunks {
        let location = index.get(id).ok_or_else(|| Error::NotFound {
            what: "blob".into(),
            id: id.to_hex(),
        })?;
        total = total.saturating_add(u64::from(location.raw_len));
    }
    if total != size {
        return Err(Error::corrupt(
            what,
            format!("its chunks hold {total} bytes, its size is {size}"),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::format::BlobType;
    use crate::engine::keys::{KdfParams, MasterKey};
    use crate::engine::snapshot::BackupCounters;
    use crate::engine::vault::VaultSettings;
    use crate::model::v2::common::PathFilter;
    use crate::model::v2::common::PathType;
    use crate::ErrorCode;

    /// A vault with fixed keys and test KDF settings (also the pool's tests').
    pub(super) fn vault() -> Vault {
        Vault::create_with(
            MasterKey::from_bytes([1; 32]),
            [2; 16],
            b"pw",
            VaultSettings::default(),
            KdfParams::insecure_for_tests(),
        )
        .unwrap()
    }

    fn file_entry(path: &str, chunks: &[u8], size: u64) -> Entry {
        Entry {
            path: path.into(),
            kind: EntryKind::File,
            mode: 0o644,
            mtime: 0,
            size,
            chunks: chunks.iter().map(|&c| Id([c; 32])).collect(),
            ..Entry::default()
        }
    }

    /// Blobs 1..=4 in bundle A at 22, 122, 1000 and 300 000; blob 5 in B.
    fn index() -> Index {
        let mut index = Index::new();
        for (blob, bundle, offset) in [
            (1u8, 0xA, 22u32),
            (2, 0xA, 122),
            (3, 0xA, 1000),
            (4, 0xA, 300_000),
            (5, 0xB, 22),
        ] {
            index.insert(
                Id([blob; 32]),
                Location {
                    bundle: Id([bundle; 32]),
                    kind: BlobType::Data,
                    offset,
                    length: 100,
                    raw_len: 10,
                },
            );
        }
        index
    }

    fn snapshot(entries: Vec<Entry>) -> Snapshot {
        Snapshot {
            version: crate::engine::SNAPSHOT_VERSION,
            time: 0,
            time_nanos: 0,
            hostname: None,
            backup_configuration_id: None,
            counters: BackupCounters::default(),
            entries,
            paths: Vec::new(),
            tags: Vec::new(),
            errors: Vec::new(),
        }
    }

    fn ranges(plan: &[Fetch], bundle: u8) -> Vec<(u64, u64)> {
        plan.iter()
            .find(|f| f.bundle == Id([bundle; 32]))
            .map(|f| f.ranges.iter().map(|r| (r.offset, r.length)).collect())
            .unwrap_or_default()
    }

    #[test]
    fn leftover_dirs_are_the_target_and_every_folder_written() {
        let v = vault();
        let snap = snapshot(vec![
            dir_entry("/d"),
            dir_entry("/d/empty"),
            file_entry("/d/x", &[1], 10),
            file_entry("/d/y", &[2], 10),
            file_entry("/top", &[], 0),
            // Not planned (its chunk is in no bundle): it writes nothing.
            file_entry("/lost/z", &[9], 10),
            // Created though its folder is not in the snapshot.
            file_entry("/bare/f", &[3], 10),
        ]);
        let s = RestoreSession::new(&v, &snap, &index(), RestoreOptions::default()).unwrap();
        let dirs: Vec<&[u8]> = vec![b"", b"bare", b"d", b"d/empty"];
        assert_eq!(s.leftover_dirs(), dirs);
        let only = RestoreOptions {
            inclusions: vec!["/top".into()],
            ..RestoreOptions::default()
        };
        let s = RestoreSession::new(&v, &snap, &index(), only).unwrap();
        assert_eq!(s.leftover_dirs(), [b""], "the target always");
    }

    #[test]
    fn plans_fetch_each_blob_once_and_coalesce_small_gaps() {
        let v = vault();
        let snap = snapshot(vec![
            file_entry("/b", &[5, 1], 20),
            file_entry("/a", &[1, 2, 3, 4, 1], 50),
            file_entry("/c", &[2, 2], 20),
        ]);
        let s = RestoreSession::new(&v, &snap, &index(), RestoreOptions::default()).unwrap();
        let plan = s.plan();
        assert_eq!(
            plan[0].bundle,
            Id([0xB; 32]),
            "bundles in order of first use"
        );
        assert_eq!(ranges(&plan, 0xB), [(22, 100)]);
        assert_eq!(ranges(&plan, 0xA), [(22, 1078), (300_000, 100)]);
        let tight = RestoreOptions {
            max_gap: 0,
            ..RestoreOptions::default()
        };
        let s = RestoreSession::new(&v, &snap, &index(), tight).unwrap();
        assert_eq!(
            ranges(&s.plan(), 0xA),
            [(22, 200), (1000, 100), (300_000, 100)],
            "adjacent blobs still merge"
        );
    }

    #[test]
    fn unplannable_files_are_per_file_errors() {
        let v = vault();
        let mut link = file_entry("/l", &[], 0);
        link.kind = EntryKind::Symlink;
        let snap = snapshot(vec![
            file_entry("/unknown-chunk", &[1, 9], 20),
            file_entry("/wrong-size", &[1], 11),
            file_entry("/ok", &[1], 10),
            link,
        ]);
        let s = RestoreSession::new(&v, &snap, &index(), RestoreOptions::default()).unwrap();
        let created: Vec<String> = s.creates().map(|c| c.path.to_string()).collect();
        assert_eq!(created, ["/ok"]);
        let report = s.finish();
        let list = report.errors.unwrap().list.unwrap();
        let got: Vec<(&str, &str)> = list
            .iter()
            .map(|e| (e.path.as_str(), e.kind.as_str()))
            .collect();
        assert_eq!(
            got,
            [
                ("/unknown-chunk", "not_found"),
                ("/wrong-size", "corrupt"),
                ("/ok", "not_found"),
                ("/l", "corrupt"),
            ],
            "/ok was never fed"
        );
    }

    #[test]
    fn nothing_is_planned_below_a_link_or_over_another_entry() {
        // As a buggy host could have written it: a link, then a file
        // "inside" it (a host joining paths would write through the link,
        // out of the target), a file with a folder below it, a path twice.
        let v = vault();
        let mut link = file_entry("/l", &[], 0);
        link.kind = EntryKind::Symlink;
        link.target = Some("/etc".into());
        // Two names of one file, the first refused: the second takes the
        // content, and is never a link to the first (through /l).
        let linked = |path: &str| Entry {
            device: 7,
            inode: 9,
            links: 2,
            ..file_entry(path, &[3], 10)
        };
        let snap = snapshot(vec![
            link,
            file_entry("/l/passwd", &[1], 10),
            file_entry("/f", &[], 0),
            dir_entry("/f/d"),
            dir_entry("/d"),
            file_entry("/d", &[2], 10),
            file_entry("/d/ok", &[], 0),
            linked("/l/secret"),
            linked("/h"),
        ]);
        let s = RestoreSession::new(&v, &snap, &index(), RestoreOptions::default()).unwrap();
        let created: Vec<(String, CreateKind)> =
            s.creates().map(|c| (c.path.to_string(), c.kind)).collect();
        let kinds = [
            ("/l", CreateKind::Symlink),
            ("/f", CreateKind::File),
            ("/d", CreateKind::Dir),
            ("/d/ok", CreateKind::File),
            ("/h", CreateKind::File),
        ];
        assert_eq!(created, kinds.map(|(p, k)| (p.to_string(), k)));
        let fetched: Vec<(u64, u64)> = ranges(&s.plan(), 0xA);
        assert_eq!(fetched.len(), 1, "only /h's blob: {fetched:?}");
        let report = s.finish();
        let list = report.errors.unwrap().list.unwrap();
        let got: Vec<(&str, &str, &str)> = list
            .iter()
            .map(|e| {
                let message = e.exception.as_ref().and_then(|x| x.description.as_deref());
                (e.path.as_str(), e.kind.as_str(), message.unwrap_or(""))
            })
            .collect();
        assert_eq!(
            got,
            [
                (
                    "/l/passwd",
                    "corrupt",
                    "corrupt snapshot entry /l/passwd: it is below /l, which is a symlink, not a folder"
                ),
                (
                    "/f/d",
                    "corrupt",
                    "corrupt snapshot entry /f/d: it is below /f, which is a file, not a folder"
                ),
                ("/d", "corrupt", "corrupt snapshot entry /d: it is given twice"),
                (
                    "/l/secret",
                    "corrupt",
                    "corrupt snapshot entry /l/secret: it is below /l, which is a symlink, not a folder"
                ),
                // Planned with the content (never fed here).
                ("/h", "not_found", &format!("bundle {} not found", "0a".repeat(32))),
            ]
        );
    }

    #[test]
    fn a_host_failure_lands_on_the_planned_one_of_a_path_given_twice() {
        // /p/q refused as a symlink (a file lies below it), then planned as
        // the folder: the host's failure of /p/q is that folder's.
        let mut link = file_entry("/p/q", &[], 0);
        link.kind = EntryKind::Symlink;
        link.target = Some("/etc".into());
        let snap = snapshot(vec![file_entry("/p/q/r", &[], 0), link, dir_entry("/p/q")]);
        let mut s =
            RestoreSession::new(&vault(), &snap, &index(), RestoreOptions::default()).unwrap();
        s.fail_path(&RawPath::from("/p/q"), "mkdir: Permission denied")
            .unwrap();
        let report = s.finish();
        let list = report.errors.unwrap().list.unwrap();
        let got: Vec<(&str, &str)> = list
            .iter()
            .map(|e| (e.path.as_str(), e.kind.as_str()))
            .collect();
        assert_eq!(got, [("/p/q", "corrupt"), ("/p/q", WRITE_FAILED)]);
        let applied: Vec<String> = report.apply.iter().map(|c| c.path.to_string()).collect();
        assert_eq!(applied, ["/p/q/r"], "the failed folder is not applied");
    }

    fn filter(kind: PathType, path: &str) -> PathFilter {
        PathFilter {
            kind,
            path: path.into(),
        }
    }

    fn dir_entry(path: &str) -> Entry {
        Entry {
            kind: EntryKind::Dir,
            mode: 0o755,
            ..file_entry(path, &[], 0)
        }
    }

    /// The paths a restore with `options` creates, in snapshot order.
    fn restored(entries: &[Entry], options: RestoreOptions) -> Vec<String> {
        let snap = snapshot(entries.to_vec());
        let s = RestoreSession::new(&vault(), &snap, &index(), options).unwrap();
        s.creates()
            .map(|c| c.path.to_string_lossy().into_owned())
            .collect()
    }

    fn tree() -> Vec<Entry> {
        vec![
            dir_entry("/web"),
            dir_entry("/web/cache"),
            file_entry("/web/cache/x", &[], 0),
            file_entry("/web/index.html", &[], 0),
            dir_entry("/web/a"),
            file_entry("/web/a/x.log", &[], 0),
            file_entry("/website", &[], 0),
            dir_entry("/etc"),
            file_entry("/etc/a.conf", &[], 0),
            dir_entry("/etc/sub"),
            file_entry("/etc/sub/a.conf", &[], 0),
        ]
    }

    fn opts(inc: &[&str], exc: &[&str]) -> RestoreOptions {
        RestoreOptions {
            inclusions: inc.iter().map(|s| s.to_string()).collect(),
            exclusions: exc.iter().map(|s| s.to_string()).collect(),
            ..RestoreOptions::default()
        }
    }

    #[test]
    fn an_included_folder_comes_with_its_subtree_and_exclusions_match_names() {
        assert_eq!(
            restored(&tree(), opts(&["/web"], &["/web/cache", "*.log"])),
            ["/web", "/web/index.html", "/web/a"],
            "the excluded folder goes with its content; *.log at any depth"
        );
        assert_eq!(
            restored(&tree(), opts(&["/etc/*.conf"], &[])),
            ["/etc", "/etc/a.conf"],
            "* stays in one name; the folder above comes along"
        );
        assert_eq!(
            restored(&tree(), opts(&["/etc/sub/a.conf"], &[])),
            ["/etc", "/etc/sub", "/etc/sub/a.conf"],
            "every folder above an included file is restored"
        );
        assert_eq!(
            restored(&tree(), opts(&["a.conf"], &["/etc/sub"])),
            ["/etc", "/etc/a.conf"]
        );
        assert_eq!(restored(&tree(), opts(&[], &[])).len(), tree().len());
        let ignoring_case = RestoreOptions {
            iinclusions: vec!["/WEB/INDEX.*".into()],
            ..RestoreOptions::default()
        };
        assert_eq!(
            restored(&tree(), ignoring_case),
            ["/web", "/web/index.html"]
        );
    }

    #[test]
    fn bad_patterns_name_the_list_and_the_pattern() {
        for (options, list) in [
            (opts(&[], &["/ok", "/bad/["]), "exclusions[1]"),
            (opts(&["x\\"], &[]), "inclusions[0]"),
            (
                RestoreOptions {
                    iexclusions: vec!["[z-a]".into()],
                    ..RestoreOptions::default()
                },
                "iexclusions[0]",
            ),
        ] {
            let bad = options.exclusions.last().cloned();
            let e = RestoreSession::new(&vault(), &snapshot(vec![]), &index(), options)
                .err()
                .unwrap();
            assert_eq!(e.code(), ErrorCode::InvalidArgument);
            let text = e.to_string();
            assert!(text.contains(list), "{text}");
            if let Some(bad) = bad.filter(|b| b.contains('[')) {
                assert!(text.contains(&bad), "{text}");
            }
        }
    }

    #[test]
    fn v2_filters_select_exact_paths_and_folders() {
        let inclusions = [
            filter(PathType::Folder, "/web/"),
            filter(PathType::File, "/etc/app[1].conf"),
        ];
        let entries = vec![
            dir_entry("/web"),
            file_entry("/web/x", &[], 0),
            file_entry("/etc/app[1].conf", &[], 0),
            file_entry("/etc/app1.conf", &[], 0),
        ];
        let options = RestoreOptions::from_filters(&inclusions, &[], false);
        assert_eq!(
            restored(&entries, options),
            ["/web", "/web/x", "/etc/app[1].conf"],
            "brackets are literal"
        );
    }

    /// A vault holding `files` (path, content, mtime nanos; hard-linked
    /// when the inode is not 0), backed up with the real session.
    struct Stored {
        vault: Vault,
        snapshot: Snapshot,
        index: Index,
        bundles: HashMap<Id, Vec<u8>>,
    }

    fn stored(files: &[(&str, Vec<u8>, u64)]) -> Stored {
        use crate::engine::backup::{BackupOptions, BackupSession, FileMeta, SnapshotInfo};
        let vault = vault();
        let mut s = BackupSession::new(
            &vault,
            std::sync::Arc::new(Index::new()),
            BackupOptions::default(),
        )
        .unwrap();
        for (path, content, inode) in files {
            let mut meta = FileMeta::file(*path, 0o644, 1_700_000_000);
            meta.mtime_nanos = 123;
            if *inode != 0 {
                (meta.inode, meta.device, meta.links) = (*inode, 1, 2);
            }
            s.start_file(meta).unwrap();
            s.write(content).unwrap();
            s.finish_file().unwrap();
        }
        let out = s.finish(SnapshotInfo::at(1)).unwrap();
        let mut index = Index::new();
        for b in &out.bundles {
            index.add_bundle(b);
        }
        let bundles = out
            .bundles
            .iter()
            .map(|b| (b.id, b.bytes.to_vec()))
            .collect();
        Stored {
            vault,
            snapshot: out.tree,
            index,
            bundles,
        }
    }

    /// A session restoring all of `st` with the default options.
    fn default_session(st: &Stored) -> RestoreSession {
        RestoreSession::new(
            &st.vault,
            &st.snapshot,
            &st.index,
            RestoreOptions::default(),
        )
        .unwrap()
    }

    /// Feeds every planned range; returns the writes.
    fn feed_all(s: &mut RestoreSession, bundles: &HashMap<Id, Vec<u8>>) -> Vec<Write> {
        let mut out = Vec::new();
        for f in s.plan() {
            for r in &f.ranges {
                let bytes = &bundles[&f.bundle][r.offset as usize..(r.offset + r.length) as usize];
                out.extend(s.feed(&f.bundle, r.offset, bytes).unwrap());
            }
        }
        out
    }

    fn places(writes: &[Write]) -> Vec<(String, u64)> {
        writes
            .iter()
            .flat_map(|w| &w.places)
            .map(|p| (p.path.to_string(), p.offset))
            .collect()
    }

    #[test]
    fn a_blob_used_many_times_is_handed_out_once_with_all_its_places() {
        let same = vec![7u8; 5000];
        let st = stored(&[
            ("/a", same.clone(), 0),
            ("/b", same.clone(), 0),
            ("/c", same.clone(), 0),
            ("/d", b"other".to_vec(), 0),
        ]);
        let mut s = default_session(&st);
        let writes = feed_all(&mut s, &st.bundles);
        assert_eq!(writes.len(), 2, "one write per distinct blob");
        let shared = writes.iter().find(|w| w.places.len() == 3).unwrap();
        assert_eq!(shared.data, same, "decrypted once, the one buffer");
        assert_eq!(
            places(std::slice::from_ref(shared)),
            [("/a".into(), 0), ("/b".into(), 0), ("/c".into(), 0)]
        );
        assert_eq!(s.finish().files_restored, 4);
    }

    #[test]
    fn a_range_fed_blob_by_blob_gives_the_same_writes_one_at_a_time() {
        let st = stored(&[
            ("/a", b"first file".to_vec(), 0),
            ("/b", b"second file".to_vec(), 0),
            ("/c", b"first file".to_vec(), 0),
        ]);
        let mut whole = default_session(&st);
        let expected = feed_all(&mut whole, &st.bundles);
        let mut lazy = default_session(&st);
        let mut got = Vec::new();
        for f in lazy.plan() {
            for r in &f.ranges {
                let bytes =
                    &st.bundles[&f.bundle][r.offset as usize..(r.offset + r.length) as usize];
                let mut range = lazy.start_range(&f.bundle, r.offset, bytes.len()).unwrap();
                assert!(
                    lazy.start_range(&f.bundle, r.offset, bytes.len()).is_err(),
                    "a started range counts as fed"
                );
                while let Some(w) = lazy.next_write(&mut range, bytes) {
                    got.push(w);
                }
                assert!(lazy.next_write(&mut range, bytes).is_none());
            }
        }
        assert_eq!(got.len(), 2, "one write per distinct blob");
        assert_eq!(places(&got), places(&expected));
        assert_eq!(
            got.iter().map(|w| &w.data).collect::<Vec<_>>(),
            expected.iter().map(|w| &w.data).collect::<Vec<_>>()
        );
        assert_eq!(lazy.finish().files_restored, 3);
    }

    #[test]
    fn bytes_of_another_length_than_started_fail_the_ranges_files() {
        let st = stored(&[("/a", b"content".to_vec(), 0)]);
        let mut s = default_session(&st);
        let f = &s.plan()[0];
        let (bundle, r) = (f.bundle, f.ranges[0]);
        let bytes = &st.bundles[&bundle][r.offset as usize..(r.offset + r.length) as usize];
        let mut range = s.start_range(&bundle, r.offset, bytes.len()).unwrap();
        assert!(s.next_write(&mut range, &bytes[1..]).is_none());
        let report = s.finish();
        assert_eq!(report.files_restored, 0);
        let errors = report.errors.expect("the file failed");
        assert_eq!(errors.list.map(|l| l.len()), Some(1));
    }

    #[test]
    fn blobs_of_zeros_are_holes_when_sparse() {
        let st = stored(&[
            ("/zeros", vec![0; 20_000], 0),
            ("/data", b"abc".to_vec(), 0),
            ("/empty", Vec::new(), 0),
        ]);
        let mut s = default_session(&st);
        let writes = feed_all(&mut s, &st.bundles);
        assert_eq!(
            places(&writes),
            [("/data".to_string(), 0)],
            "zeros: no write"
        );
        let mut done: Vec<String> = s.take_completed().iter().map(|p| p.to_string()).collect();
        done.sort();
        assert_eq!(
            done,
            ["/data", "/empty", "/zeros"],
            "a hole completes its file"
        );
        let report = s.finish();
        assert_eq!((report.files_restored, report.bytes_restored), (3, 20_003));

        let dense = RestoreOptions {
            sparse: false,
            ..RestoreOptions::default()
        };
        let mut s = RestoreSession::new(&st.vault, &st.snapshot, &st.index, dense).unwrap();
        let writes = feed_all(&mut s, &st.bundles);
        let zeros = writes
            .iter()
            .find(|w| w.places[0].path == "/zeros")
            .unwrap();
        assert_eq!(zeros.data, vec![0; 20_000], "written when not sparse");
    }

    #[test]
    fn ranges_stay_within_max_range_but_a_larger_blob_has_its_own() {
        let v = vault();
        // Blobs of 100 stored bytes (10 decrypted) at 22, 122, 1000, 300 000.
        let snap = snapshot(vec![file_entry("/a", &[1, 2, 3, 4], 40)]);
        let small = RestoreOptions {
            max_gap: u64::MAX,
            max_range: 250,
            ..RestoreOptions::default()
        };
        let s = RestoreSession::new(&v, &snap, &index(), small).unwrap();
        assert_eq!(
            ranges(&s.plan(), 0xA),
            [(22, 200), (1000, 100), (300_000, 100)]
        );
        let tiny = RestoreOptions {
            max_range: 50,
            ..RestoreOptions::default()
        };
        let s = RestoreSession::new(&v, &snap, &index(), tiny).unwrap();
        assert_eq!(
            ranges(&s.plan(), 0xA),
            [(22, 100), (122, 100), (1000, 100), (300_000, 100)],
            "one blob per range when each exceeds the bound"
        );
        // The decrypted size bounds a range too (10 bytes a blob here).
        let raw = RestoreOptions {
            max_gap: u64::MAX,
            max_range: 25,
            ..RestoreOptions::default()
        };
        let s = RestoreSession::new(&v, &snap, &index(), raw).unwrap();
        assert_eq!(ranges(&s.plan(), 0xA).len(), 4);
        let plan = RestoreSession::new(&v, &snap, &index(), RestoreOptions::default())
            .unwrap()
            .plan();
        assert_eq!(
            ranges(&plan, 0xA),
            [(22, 1078), (300_000, 100)],
            "the default bound leaves small ranges alone"
        );
    }

    #[test]
    fn host_failures_are_reported_and_end_the_files_writes() {
        let st = stored(&[
            ("/full", b"one".to_vec(), 0),
            ("/ok", b"two".to_vec(), 0),
            ("/late", b"three".to_vec(), 0),
        ]);
        let mut run = RestoreRun::new(
            &st.vault,
            &st.snapshot,
            &st.index,
            RestoreOptions::default(),
        )
        .unwrap();
        run.fail_path(
            &RawPath::from("/full"),
            "No space left on device (os error 28)",
        )
        .unwrap();
        run.fail_path(&RawPath::from("/full"), "second error")
            .unwrap();
        assert_eq!(
            run.fail_path(&RawPath::from("/nowhere"), "x")
                .unwrap_err()
                .code(),
            ErrorCode::InvalidArgument
        );
        let plan = run.session().unwrap().plan();
        let mut writes = Vec::new();
        for f in &plan {
            for r in &f.ranges {
                let b = &st.bundles[&f.bundle][r.offset as usize..(r.offset + r.length) as usize];
                writes.extend(run.feed(&f.bundle, r.offset, b).unwrap());
            }
        }
        let written: Vec<String> = places(&writes).into_iter().map(|p| p.0).collect();
        assert_eq!(written, ["/ok", "/late"], "no writes for a failed file");
        let done: Vec<String> = run.take_completed().iter().map(|p| p.to_string()).collect();
        assert_eq!(done, ["/ok", "/late"]);
        assert_eq!(run.finish().unwrap().files_restored, 2);
        // Moving a file into place can still fail after finishing.
        run.fail_path(&RawPath::from("/late"), "Permission denied (os error 13)")
            .unwrap();
        let report = run.report().unwrap();
        assert_eq!(report.files_restored, 1);
        assert_eq!(report.bytes_restored, 3);
        // The list to apply stays as it was at finish (a host walking it by
        // position while failing entries would skip some otherwise); the
        // host knows what it failed.
        let applied: Vec<String> = report.apply.iter().map(|c| c.path.to_string()).collect();
        assert_eq!(applied, ["/late", "/ok"]);
        let json = serde_json::to_value(report).unwrap();
        let list = &json["errors"]["list"];
        assert_eq!(list[0]["path"], "/full");
        assert_eq!(list[0]["type"], WRITE_FAILED);
        assert_eq!(list[0]["exception"]["code"], WRITE_FAILED_CODE);
        assert_eq!(
            list[0]["exception"]["description"], "No space left on device (os error 28)",
            "the first error stays"
        );
        assert_eq!(list[1]["path"], "/late");
        assert_eq!(json["errors"]["count"], 2);
    }

    #[test]
    fn resume_takes_matching_found_files_as_done() {
        let st = stored(&[
            ("/done", b"one".to_vec(), 0),
            ("/stale", b"two".to_vec(), 0),
            ("/missing", b"three".to_vec(), 0),
            ("/linked", b"four".to_vec(), 9),
        ]);
        let found = |path: &str, size: u64, nanos: u32| FoundFile {
            path: path.into(),
            size,
            mtime: 1_700_000_000,
            mtime_nanos: nanos,
        };
        let options = RestoreOptions {
            found: vec![
                found("/done", 3, 123),
                found("/stale", 3, 124),
                found("/linked", 4, 123),
            ],
            resume: true,
            overwrite: true,
            ..RestoreOptions::default()
        };
        let s = RestoreSession::new(&st.vault, &st.snapshot, &st.index, options.clone()).unwrap();
        let created: Vec<String> = s.creates().map(|c| c.path.to_string()).collect();
        assert_eq!(
            created,
            ["/stale", "/missing", "/linked"],
            "a nanosecond off is not done; hard links are always restored"
        );
        let report = s.finish();
        assert_eq!((report.files_done, report.files_skipped), (1, 0));

        // Without overwriting, a found file that does not match stays.
        let keep = RestoreOptions {
            overwrite: false,
            ..options.clone()
        };
        let s = RestoreSession::new(&st.vault, &st.snapshot, &st.index, keep).unwrap();
        let created: Vec<String> = s.creates().map(|c| c.path.to_string()).collect();
        assert_eq!(created, ["/missing"]);
        let report = s.finish();
        assert_eq!((report.files_done, report.files_skipped), (1, 2));

        // Without resume, found files are only existing ones.
        let plain = RestoreOptions {
            resume: false,
            ..options
        };
        let s = RestoreSession::new(&st.vault, &st.snapshot, &st.index, plain).unwrap();
        assert_eq!(s.creates().count(), 4, "overwriting all");
    }

    #[test]
    fn options_json_takes_the_new_members_and_refuses_unknown_ones() {
        let o: RestoreOptions = serde_json::from_str(
            r#"{"found": [{"path": "/a", "size": 3, "mtime": 5}], "resume": true,
                "sparse": false, "max_range": 1024}"#,
        )
        .unwrap();
        assert_eq!(o.found[0].mtime_nanos, 0);
        assert!(o.resume && !o.sparse);
        assert_eq!(o.max_range, 1024);
        let d: RestoreOptions = serde_json::from_str("{}").unwrap();
        assert!(d.sparse && !d.resume);
        assert_eq!(d.max_range, DEFAULT_MAX_RANGE);
        assert!(serde_json::from_str::<RestoreOptions>(r#"{"sparce": true}"#).is_err());
        assert!(serde_json::from_str::<RestoreOptions>(
            r#"{"found": [{"path": "/a", "size": 3, "mtime": 5, "x": 1}]}"#
        )
        .is_err());
    }

    #[test]
    fn error_reports_have_the_patch_shape() {
        let e = Error::NotFound {
            what: "bundle".into(),
            id: "ab".into(),
        };
        let report = error_report([("/a", &e)], "Some files could not be restored.").unwrap();
        let json = serde_json::to_value(&report).unwrap();
        assert_eq!(json["count"], 1);
        assert_eq!(json["reason"], ERRORS_REASON);
        assert_eq!(json["list"][0]["index"], 0);
        assert_eq!(json["list"][0]["path"], "/a");
        assert_eq!(json["list"][0]["type"], "not_found");
        assert_eq!(json["list"][0]["exception"]["code"], 7001);
        assert_eq!(
            json["list"][0]["exception"]["description"],
            "bundle ab not found"
        );
        assert!(json.get("links").is_none());
        assert!(error_report::<&str>([], "x").is_none());
    }
}
