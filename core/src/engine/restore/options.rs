//! What to restore and how: [`RestoreOptions`] and the files a host found
//! already in place ([`FoundFile`]).

use serde::{Deserialize, Serialize};

use crate::engine::rawpath::RawPath;
use crate::engine::select::{filter_globs, Selector};
use crate::engine::snapshot::{Entry, EntryKind};
use crate::model::v2::common::PathFilter;
use crate::Result;

/// Default largest gap between two needed blobs of a bundle that is
/// fetched rather than split into two range requests.
pub const DEFAULT_MAX_GAP: u64 = 256 * 1024;

/// Default largest range, in stored and in decrypted bytes: with the
/// Python host's 4 ranges in flight (plus one being opened) about 20 MiB of
/// restore data in memory at once, whatever the bundles and files.
pub const DEFAULT_MAX_RANGE: u64 = 4 * 1024 * 1024;

/// What to restore and how. As JSON (what the bindings take), every
/// member is optional and unknown members are refused:
/// `{"inclusions": [patterns], "exclusions": [patterns], "iinclusions":
/// [patterns], "iexclusions": [patterns], "overwrite": bool, "existing":
/// [paths], "found": [{"path", "size", "mtime", "mtime_nanos"}], "resume":
/// bool, "sparse": bool, "max_gap": bytes, "max_range": bytes, "threads":
/// n}`.
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
    /// Regular files at the destination, with the size and modification
    /// time the host found (`lstat`); they count as existing too. With
    /// `resume`, those matching the snapshot are done.
    pub found: Vec<FoundFile>,
    /// Completing an interrupted restore: a file of `found` with the
    /// snapshot's size and modification time (to the nanosecond) is taken
    /// as restored by the earlier run (counted in
    /// [`RestoreReport::files_done`]) and left alone, even with
    /// `overwrite`. Hard-linked files are always restored again (their
    /// other names are made from the restored one).
    pub resume: bool,
    /// Whether blobs of zeros are left unwritten (holes): the host creates
    /// files at their final size, so they read back as zeros (see the
    /// module docs). Default true.
    pub sparse: bool,
    /// Largest gap in bytes between two needed blobs of a bundle that is
    /// fetched along with them, to make fewer range requests.
    pub max_gap: u64,
    /// Largest range in bytes, both as fetched and as decrypted: blobs are
    /// grouped into one range only while it stays within this (a single
    /// larger blob makes a range of its own). Bounds the memory a host
    /// needs per range in flight.
    pub max_range: u64,
    /// Workers opening (authenticating, decrypting, decompressing) the
    /// blobs of ranges started with
    /// [`RestoreSession::start_range_owned`] while the host writes; 1
    /// (the default) opens each on the host's thread when it asks for it.
    /// The writes and the report are the same whatever the number. More
    /// than 1 needs the `parallel` feature.
    pub threads: usize,
}

/// A regular file the host found at the destination (see
/// [`RestoreOptions::found`]); JSON `{"path", "size", "mtime",
/// "mtime_nanos"}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FoundFile {
    /// Its snapshot path (quoted form in JSON).
    pub path: RawPath,
    /// Its size in bytes.
    pub size: u64,
    /// Its modification time, Unix seconds.
    pub mtime: i64,
    /// The sub-second part, in nanoseconds.
    #[serde(default)]
    pub mtime_nanos: u32,
}

impl FoundFile {
    /// Whether this file is what `entry` restores to (a regular file of the
    /// same size and modification time).
    pub(super) fn matches(&self, entry: &Entry) -> bool {
        entry.kind == EntryKind::File
            && self.size == entry.size
            && self.mtime == entry.mtime
            && self.mtime_nanos == entry.mtime_nanos
    }
}

impl Default for RestoreOptions {
    /// Everything, no overwriting, sparse, 256 KiB gaps, 4 MiB ranges,
    /// one thread.
    fn default() -> Self {
        RestoreOptions {
            inclusions: Vec::new(),
            exclusions: Vec::new(),
            iinclusions: Vec::new(),
            iexclusions: Vec::new(),
            overwrite: false,
            existing: Vec::new(),
            found: Vec::new(),
            resume: false,
            sparse: true,
            max_gap: DEFAULT_MAX_GAP,
            max_range: DEFAULT_MAX_RANGE,
            threads: 1,
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
