//! Sans-IO restore: from a snapshot, the vault's index and the host's
//! choices (globs, overwrite policy), a plan of bundle byte ranges to fetch;
//! the host feeds the fetched bytes back and receives verified writes.
//!
//! ```text
//! let mut s = RestoreSession::new(&vault, &snapshot, &index, options)?;
//! for c in s.creates() { create(c) }           // dirs, symlinks, empty files
//! for f in s.plan() {
//!     for r in &f.ranges {
//!         match get_range(f.bundle, r.offset, r.length) {
//!             Ok(bytes) => for w in s.feed(&f.bundle, r.offset, &bytes)? { write_at(w.path, w.offset, w.data) },
//!             Err(_) => s.missing(&f.bundle)?,  // the bundle cannot be fetched
//!         }
//!     }
//! }
//! let report = s.finish();   // counters and the restore's `/errors` patch value
//! ```
//!
//! Every blob is opened with [`open_blob`] (tag, then id) before any of its
//! bytes go out, so nothing unverified is ever written. A blob that fails
//! (or a bundle that cannot be fetched) turns each file using it into an
//! entry of the error report; the restore itself goes on. The session keeps
//! only plan metadata (paths, chunk places, ranges), never file contents.
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

use std::collections::{HashMap, HashSet};

use serde::{Deserialize, Serialize};

use super::blob::open_blob;
use super::bundle::bundle_name;
use super::crypto::Id;
use super::index::{Index, Location};
use super::rawpath::RawPath;
pub use super::select::filter_globs;
use super::select::{select_entries, Selector};
use super::snapshot::{Entry, EntryKind, Snapshot, Xattr};
use super::vault::Vault;
use crate::model::v2::common::{ErrorEntry, ErrorException, ErrorReport, PathFilter};
use crate::model::wire::LooseInt;
use crate::{wire_enum, Error, ErrorCode, Result};

/// Default largest gap between two needed blobs of a bundle that is
/// fetched rather than split into two range requests.
pub const DEFAULT_MAX_GAP: u64 = 256 * 1024;

/// The `reason` of a restore's error report.
pub const ERRORS_REASON: &str = "unable_to_process_some_files";

/// What to restore and how. As JSON (what the bindings take), every
/// member is optional and unknown members are refused:
/// `{"inclusions": [patterns], "exclusions": [patterns], "iinclusions":
/// [patterns], "iexclusions": [patterns], "overwrite": bool, "existing":
/// [paths], "max_gap": bytes}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RestoreOptions {
    /// Patterns of the paths to restore (see the module docs); with
    /// `iinclusions` empty too, every path.
    pub inclusions: Vec<String>,
    /// Patterns of the paths to leave out (they win over inclusions).
    pub exclusions: Vec<String>,
    /// Like `inclusions`, ignoring case (restic's `--iinclude`).
    pub iinclusions: Vec<String>,
    /// Like `exclusions`, ignoring case (restic's `--iexclude`).
    pub iexclusions: Vec<String>,
    /// Whether files the host reports as existing are overwritten.
    pub overwrite: bool,
    /// Paths (as the snapshot spells them; quoted form in JSON) that
    /// already exist at the destination; with `overwrite` false their files
    /// and symlinks are skipped and counted, not restored.
    pub existing: Vec<RawPath>,
    /// Largest gap in bytes between two needed blobs of a bundle that is
    /// fetched along with them, to make fewer range requests.
    pub max_gap: u64,
}

impl Default for RestoreOptions {
    /// Everything, no overwriting, 256 KiB gaps.
    fn default() -> Self {
        RestoreOptions {
            inclusions: Vec::new(),
            exclusions: Vec::new(),
            iinclusions: Vec::new(),
            iexclusions: Vec::new(),
            overwrite: false,
            existing: Vec::new(),
            max_gap: DEFAULT_MAX_GAP,
        }
    }
}

impl RestoreOptions {
    /// Options from a v2 restore's inclusions, exclusions and
    /// `overwrite_files` (the host adds `existing`).
    pub fn from_filters(
        inclusions: &[PathFilter],
        exclusions: &[PathFilter],
        overwrite: bool,
    ) -> Self {
        RestoreOptions {
            inclusions: filter_globs(inclusions),
            exclusions: filter_globs(exclusions),
            overwrite,
            ..RestoreOptions::default()
        }
    }
}

impl RestoreOptions {
    /// The selector of these options' pattern lists.
    pub fn selector(&self) -> Result<Selector> {
        Selector::all()
            .include("inclusions", &self.inclusions, false)?
            .include("iinclusions", &self.iinclusions, true)?
            .exclude("exclusions", &self.exclusions, false)?
            .exclude("iexclusions", &self.iexclusions, true)
    }
}

/// A byte range of a stored object; JSON `{"offset", "length"}`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct ByteRange {
    /// First byte.
    pub offset: u64,
    /// Number of bytes.
    pub length: u64,
}

/// What to fetch from one bundle; JSON `{"bundle": "<64 hex>", "ranges":
/// [...]}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Fetch {
    /// The bundle.
    pub bundle: Id,
    /// Ranges, sorted and disjoint; empty means the whole bundle.
    pub ranges: Vec<ByteRange>,
}

impl Fetch {
    /// Whether the whole bundle is wanted (no ranges).
    pub fn is_whole(&self) -> bool {
        self.ranges.is_empty()
    }
}

wire_enum! {
    /// What a [`Create`] makes.
    pub enum CreateKind {
        /// A directory.
        Dir = "dir",
        /// A regular file, created (or truncated) at `size` bytes.
        File = "file",
        /// A symbolic link to `target`.
        Symlink = "symlink",
        /// A named pipe.
        Fifo = "fifo",
        /// A character device with number `rdev`.
        CharDevice = "chardev",
        /// A block device with number `rdev`.
        BlockDevice = "blockdev",
        /// A further name of the file `target` (a snapshot path restored
        /// earlier in the list): a hard link, made once that file is
        /// complete (after its content is written and it is in place).
        HardLink = "hardlink",
    }
}

/// Something the host creates before (or while) content arrives, with the
/// metadata to apply after the last write (see [`RestoreReport::apply`]).
/// JSON: `{"kind", "path", "mode", "mtime", "mtime_nanos", "size",
/// "target", "uid", "gid", "rdev", "xattrs"}`, members that are zero or
/// absent left out (`mode`, `mtime` always there; `size` for files).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Create {
    /// What to create.
    pub kind: CreateKind,
    /// Its path (quoted form in JSON).
    pub path: RawPath,
    /// Permission bits (with setuid/setgid/sticky).
    pub mode: u32,
    /// Modification time (Unix seconds).
    pub mtime: i64,
    /// Its sub-second part, in nanoseconds.
    #[serde(default, skip_serializing_if = "is_zero_u32")]
    pub mtime_nanos: u32,
    /// A file's final size.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub size: Option<u64>,
    /// A symlink's target, or the path a hard link names.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target: Option<RawPath>,
    /// Owner user id to restore (when the host may: root on Unix).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub uid: Option<u32>,
    /// Owner group id to restore.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gid: Option<u32>,
    /// A device node's number.
    #[serde(default, skip_serializing_if = "is_zero_u64")]
    pub rdev: u64,
    /// Extended attributes to set.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub xattrs: Vec<Xattr>,
}

fn is_zero_u32(n: &u32) -> bool {
    *n == 0
}

fn is_zero_u64(n: &u64) -> bool {
    *n == 0
}

impl Create {
    /// The path to create.
    pub fn path(&self) -> &RawPath {
        &self.path
    }

    /// What `entry` restores as (a hard link when `link_to` is given).
    fn of(entry: &Entry, link_to: Option<&RawPath>) -> Self {
        let kind = match (entry.kind, link_to) {
            (_, Some(_)) => CreateKind::HardLink,
            (EntryKind::Dir, _) => CreateKind::Dir,
            (EntryKind::File, _) => CreateKind::File,
            (EntryKind::Symlink, _) => CreateKind::Symlink,
            (EntryKind::Fifo, _) => CreateKind::Fifo,
            (EntryKind::CharDevice, _) => CreateKind::CharDevice,
            (EntryKind::BlockDevice, _) => CreateKind::BlockDevice,
        };
        Create {
            kind,
            path: entry.path.clone(),
            mode: entry.mode,
            mtime: entry.mtime,
            mtime_nanos: entry.mtime_nanos,
            size: (kind == CreateKind::File).then_some(entry.size),
            target: link_to.cloned().or_else(|| entry.target.clone()),
            uid: entry.uid,
            gid: entry.gid,
            rdev: entry.rdev,
            xattrs: entry.xattrs.clone(),
        }
    }

    /// The modification time in nanoseconds since the Unix epoch.
    pub fn mtime_ns(&self) -> i128 {
        i128::from(self.mtime) * 1_000_000_000 + i128::from(self.mtime_nanos)
    }
}

/// Verified plaintext to write at `offset` of file `path`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Write {
    /// The file.
    pub path: RawPath,
    /// Where in the file.
    pub offset: u64,
    /// The bytes.
    pub data: Vec<u8>,
}

/// What a finished restore did. JSON: `{"files_restored",
/// "bytes_restored", "files_skipped", "errors"}` (`errors` null or the
/// `/errors` patch value).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RestoreReport {
    /// Files and symlinks restored completely.
    pub files_restored: u64,
    /// Bytes of the files restored completely.
    pub bytes_restored: u64,
    /// Files and symlinks left alone because they exist and overwriting is off.
    pub files_skipped: u64,
    /// The files that failed, as the value of the restore's `/errors`
    /// patch; `None` when none did.
    pub errors: Option<ErrorReport>,
    /// The modes and times to apply once content is written: every
    /// restored entry, deepest first (children before their directory, so
    /// writing into a directory does not change its time again), failed
    /// ones left out. Not part of the JSON report.
    #[serde(skip)]
    pub apply: Vec<Create>,
}

/// The exception code of a per-file error of class `code` (stable: agents
/// and consoles may key on it).
///
/// | class | code |
/// |---|---|
/// | not found (missing blob or bundle) | 7001 |
/// | corrupt | 7002 |
/// | foreign vault | 7003 |
/// | unsupported version | 7004 |
/// | wrong password | 7005 |
/// | anything else | 7099 |
pub fn exception_code(code: ErrorCode) -> i64 {
    match code {
        ErrorCode::NotFound => 7001,
        ErrorCode::Corrupt => 7002,
        ErrorCode::ForeignVault => 7003,
        ErrorCode::UnsupportedVersion => 7004,
        ErrorCode::WrongPassword => 7005,
        _ => 7099,
    }
}

/// The error report (the `/errors` patch value) of failed paths, in order;
/// `None` when the list is empty.
pub fn error_report<'a, P: AsRef<str>>(
    failed: impl IntoIterator<Item = (P, &'a Error)>,
    diagnostics: &str,
) -> Option<ErrorReport> {
    let list: Vec<ErrorEntry> = failed
        .into_iter()
        .enumerate()
        .map(|(i, (path, e))| ErrorEntry {
            index: LooseInt::new(i as i64),
            path: path.as_ref().to_string(),
            kind: e.code().as_str().to_string(),
            description: None,
            exception: Some(ErrorException {
                code: LooseInt::new(exception_code(e.code())),
                description: Some(e.to_string()),
                details: None,
            }),
        })
        .collect();
    if list.is_empty() {
        return None;
    }
    Some(ErrorReport {
        count: LooseInt::new(list.len() as i64),
        reason: Some(ERRORS_REASON.to_string()),
        diagnostics: Some(diagnostics.to_string()),
        list: Some(list),
        links: None,
    })
}

/// The name of blob `blob` of bundle `bundle`, for messages.
pub(crate) fn blob_name(blob: &Id, bundle: &Id) -> String {
    format!("blob {} in {}", blob.short(), bundle_name(bundle))
}

/// One selected path and how far it got.
struct Item {
    create: Create,
    /// Whether the host is told to create it (not when it failed at planning).
    announced: bool,
    /// Chunk occurrences not yet written.
    remaining: usize,
    error: Option<Error>,
}

/// Where a chunk goes.
#[derive(Clone, Copy)]
struct Place {
    item: usize,
    offset: u64,
}

/// A blob the plan fetches once, and every place its plaintext goes.
struct Needed {
    id: Id,
    location: Location,
    places: Vec<Place>,
}

/// A planned range and the blobs inside it.
struct Range {
    span: ByteRange,
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
        let existing: HashSet<&RawPath> = options.existing.iter().collect();
        // Hard links: the first name restored of each (device, inode).
        let mut first_name: HashMap<(u64, u64), RawPath> = HashMap::new();
        let mut session = RestoreSession {
            vault: vault.clone(),
            items: Vec::new(),
            needed: Vec::new(),
            bundles: Vec::new(),
            bundle_pos: HashMap::new(),
            files_skipped: 0,
        };
        let mut blob_pos: HashMap<Id, usize> = HashMap::new();
        for (entry, taken) in snapshot.entries.iter().zip(taken) {
            if !taken {
                continue;
            }
            if entry.kind != EntryKind::Dir && !options.overwrite && existing.contains(&entry.path)
            {
                session.files_skipped += 1;
                continue;
            }
            let link_to = if entry.is_hard_linked() {
                match first_name.entry((entry.device, entry.inode)) {
                    std::collections::hash_map::Entry::Occupied(first) => Some(first.get().clone()),
                    std::collections::hash_map::Entry::Vacant(v) => {
                        v.insert(entry.path.clone());
                        None
                    }
                }
            } else {
                None
            };
            let (create, error) = to_create(entry, index, link_to.as_ref());
            let planned = error.is_none();
            session.items.push(Item {
                remaining: if link_to.is_none() {
                    entry.chunks.len()
                } else {
                    0
                },
                create,
                announced: planned,
                error,
            });
            if planned && entry.kind == EntryKind::File && link_to.is_none() {
                session.place_chunks(session.items.len() - 1, &entry.chunks, index, &mut blob_pos);
            }
        }
        session.build_ranges(options.max_gap);
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
                    places: Vec::new(),
                });
                self.needed.len() - 1
            });
            if let Some(n) = self.needed.get_mut(pos) {
                n.places.push(Place { item, offset });
            }
            offset = offset.saturating_add(u64::from(location.raw_len));
        }
    }

    /// Groups the needed blobs by bundle and coalesces each bundle's blobs
    /// into ranges whenever the gap between them is at most `max_gap`.
    fn build_ranges(&mut self, max_gap: u64) {
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
                match plan.ranges.last_mut() {
                    Some(r) if start <= (r.span.offset + r.span.length).saturating_add(max_gap) => {
                        let r_end = (r.span.offset + r.span.length).max(end);
                        r.span.length = r_end - r.span.offset;
                        r.blobs.push(i);
                    }
                    _ => plan.ranges.push(Range {
                        span: ByteRange {
                            offset: start,
                            length: end - start,
                        },
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
    /// returns the writes of every blob in it that verifies. A blob that
    /// fails, or that the bytes do not cover (a short read of a truncated
    /// bundle), makes each file using it fail. An unplanned or already fed
    /// range, or more bytes than planned, is [`Error::InvalidArgument`].
    pub fn feed(&mut self, bundle: &Id, offset: u64, bytes: &[u8]) -> Result<Vec<Write>> {
        let blobs = self.take_range(bundle, offset, bytes.len())?;
        let mut out = Vec::new();
        for i in blobs {
            let Some(n) = self.needed.get(i) else {
                continue;
            };
            let name = blob_name(&n.id, bundle);
            let l = n.location;
            let sealed = u64::from(l.offset)
                .checked_sub(offset)
                .and_then(|s| usize::try_from(s).ok())
                .and_then(|s| bytes.get(s..s.checked_add(l.length as usize)?));
            let opened = match sealed {
                Some(sealed) => open_blob(
                    self.vault.keys(),
                    self.vault.id(),
                    l.kind,
                    &n.id,
                    l.raw_len,
                    sealed,
                    &name,
                ),
                None => Err(Error::corrupt(
                    &name,
                    "the fetched range ends before the blob (truncated bundle?)",
                )),
            };
            match opened {
                Ok(plain) => self.emit(i, plain, &mut out),
                Err(e) => self.fail(i, &e),
            }
        }
        Ok(out)
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

    /// Ends the restore. Ranges never fed count as missing bundles.
    pub fn finish(mut self) -> RestoreReport {
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
        let mut report = RestoreReport {
            files_restored: 0,
            bytes_restored: 0,
            files_skipped: self.files_skipped,
            errors: None,
            apply: Vec::new(),
        };
        for item in self.items.iter().filter(|i| i.error.is_none()) {
            match item.create.kind {
                CreateKind::Dir => {}
                CreateKind::File => {
                    report.files_restored += 1;
                    report.bytes_restored += item.create.size.unwrap_or(0);
                }
                _ => report.files_restored += 1,
            }
        }
        report.apply = self
            .items
            .iter()
            .rev()
            .filter(|i| i.error.is_none() && i.announced)
            .map(|i| i.create.clone())
            .collect();
        report.errors = error_report(
            self.items
                .iter()
                .filter_map(|i| Some((i.create.path.quoted(), i.error.as_ref()?))),
            "Some files could not be restored.",
        );
        report
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

    /// Sends verified blob `i` to every place it goes in files still intact.
    fn emit(&mut self, i: usize, plain: Vec<u8>, out: &mut Vec<Write>) {
        let Some(n) = self.needed.get_mut(i) else {
            return;
        };
        let mut places = std::mem::take(&mut n.places);
        places.retain(|p| self.items.get(p.item).is_some_and(|it| it.error.is_none()));
        let mut plain = Some(plain);
        let last = places.len().saturating_sub(1);
        for (k, place) in places.into_iter().enumerate() {
            let Some(item) = self.items.get_mut(place.item) else {
                continue;
            };
            // The last place takes the buffer itself; the others get copies.
            let data = if k == last {
                plain.take()
            } else {
                plain.clone()
            };
            item.remaining = item.remaining.saturating_sub(1);
            out.push(Write {
                path: item.create.path.clone(),
                offset: place.offset,
                data: data.unwrap_or_default(),
            });
        }
    }

    /// Fails every file that needs blob `i`.
    fn fail(&mut self, i: usize, error: &Error) {
        let Some(n) = self.needed.get_mut(i) else {
            return;
        };
        for place in std::mem::take(&mut n.places) {
            if let Some(item) = self.items.get_mut(place.item) {
                item.error.get_or_insert_with(|| error.clone());
            }
        }
    }
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
    use crate::model::v2::common::PathType;

    fn vault() -> Vault {
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
