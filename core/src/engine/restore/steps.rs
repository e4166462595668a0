//! What a restore asks of its host, step by step: objects to create
//! ([`Create`]), byte ranges to fetch ([`Fetch`], [`ByteRange`]), fetched
//! bytes fed back ([`RangeFeed`]), verified writes ([`Write`]) and files to
//! move into place ([`Place`]).

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use crate::engine::blob::AAD_LEN;
use crate::engine::crypto::{Id, NONCE_LEN};
use crate::engine::rawpath::RawPath;
use crate::engine::snapshot::{Entry, EntryKind, Xattr};
use crate::wire_enum;
use crate::Error;

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
    pub(super) fn of(entry: &Entry, link_to: Option<&RawPath>) -> Self {
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

/// The fetched bytes of a range, shared with the workers opening its blobs.
pub(crate) type SharedBytes = Arc<dyn AsRef<[u8]> + Send + Sync>;

/// One blob of a range for a host that opens AES-256-GCM itself
/// ([`RestoreSession::next_sealed`](super::RestoreSession::next_sealed)):
/// decrypt `bytes[body]` (ciphertext, then the 16-byte tag) under the
/// session's blob key with `nonce` and `aad`, then hand the plaintext (or
/// the failure) to [`RestoreSession::open_sealed`](super::RestoreSession::open_sealed).
/// A part that [`failed`](Self::failed) already (the fetched bytes end
/// before it, or its lengths are impossible) has an empty `body`: hand it
/// back with `None`, in its turn, so that failures are recorded in the
/// range's order as [`RestoreSession::next_write`](super::RestoreSession::next_write)
/// records them.
#[derive(Debug, Clone, PartialEq)]
pub struct SealedPart {
    /// Which of the session's needed blobs this is.
    pub(super) blob: usize,
    /// The 96-bit nonce.
    pub nonce: [u8; NONCE_LEN],
    /// The additional authenticated data.
    pub aad: [u8; AAD_LEN],
    /// Where the ciphertext and its tag lie in the range's bytes.
    pub body: std::ops::Range<usize>,
    /// Why the blob failed before it could be opened, if it did.
    pub(super) error: Option<Error>,
}

impl SealedPart {
    /// Whether the blob failed before it could be opened (nothing to decrypt).
    pub fn failed(&self) -> bool {
        self.error.is_some()
    }
}

/// One planned range being fed blob by blob (see
/// [`RestoreSession::start_range`] and
/// [`RestoreSession::start_range_owned`]): which blobs of it are still to
/// open. Dropping it gives up the blobs not taken yet (they are never
/// written; their work on the pool, if any, is dropped too).
pub struct RangeFeed {
    /// The bundle the range is of.
    pub(super) bundle: Id,
    /// Where the range starts in the bundle.
    pub(super) offset: u64,
    /// How many bytes were fetched for it.
    pub(super) len: usize,
    /// The range's blobs not opened yet, in bundle order, and with a pool
    /// the job opening each (then `blobs` is empty).
    pub(super) blobs: VecDeque<usize>,
    pub(super) jobs: VecDeque<(usize, u64)>,
    /// Whether the range was started with its bytes.
    pub(super) owned: bool,
    /// Those bytes, unless the pool's jobs hold them: then they are freed
    /// once the last blob is opened, not when the host is done writing.
    pub(super) bytes: Option<SharedBytes>,
    /// Set on drop, so the pool skips the jobs nobody will claim.
    pub(super) dropped: Arc<AtomicBool>,
}

impl std::fmt::Debug for RangeFeed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RangeFeed")
            .field("bundle", &self.bundle)
            .field("offset", &self.offset)
            .field("len", &self.len)
            .field("blobs", &self.blobs)
            .field("owned", &self.owned)
            .field("jobs", &self.jobs)
            .finish()
    }
}

impl Drop for RangeFeed {
    fn drop(&mut self) {
        self.dropped.store(true, Ordering::Relaxed);
    }
}

/// The verified plaintext of one blob and every place it goes: the host
/// writes the one buffer `data` at each of `places` (a blob used N times is
/// decrypted once and handed out once). Until format 2 each place came as
/// its own write, a copy of the bytes with its path and offset (bindings'
/// old `(path, offset, bytes)` shape).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Write {
    /// The bytes.
    pub data: Vec<u8>,
    /// Where they go, in plan order (files in snapshot order).
    pub places: Vec<Place>,
}

/// Where a [`Write`]'s bytes go: `offset` of file `path`. JSON (where a
/// binding shows it) `{"path": quoted, "offset"}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Place {
    /// The file (as the snapshot spells it; quoted form in JSON).
    pub path: RawPath,
    /// Where in the file.
    pub offset: u64,
}
