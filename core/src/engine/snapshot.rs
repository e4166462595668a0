//! Snapshots: the file tree a backup saw, with each file's chunk list, the
//! backup configuration it ran for, and its counters. Stored as a sealed
//! object whose plaintext is JSON (compact, and readable by any binding's
//! tooling once decrypted).

use serde::{Deserialize, Serialize};

use super::crypto::Id;
use super::format::{ObjectKind, VaultId};
use super::keys::VaultKeys;
use super::object::{object_name, open_object, seal_object, SealedObject};
use super::rawpath::RawPath;
use crate::{wire_enum, Error, Result};

wire_enum! {
    /// What a snapshot entry is.
    pub enum EntryKind {
        /// A regular file (has chunks).
        File = "file",
        /// A directory.
        Dir = "dir",
        /// A symbolic link (has a target).
        Symlink = "symlink",
        /// A named pipe (FIFO).
        Fifo = "fifo",
        /// A character device (has `rdev`).
        CharDevice = "chardev",
        /// A block device (has `rdev`).
        BlockDevice = "blockdev",
    }
}

/// An extended attribute (POSIX ACLs are stored as the
/// `system.posix_acl_*` attributes). JSON: `{"name": quoted path form,
/// "value": base64}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Xattr {
    /// The attribute's name (bytes, as the OS gives them).
    pub name: RawPath,
    /// Its value.
    #[serde(with = "base64_bytes")]
    pub value: Vec<u8>,
}

/// One path in a snapshot. Every member after `size` is optional in JSON
/// (absent: zero, none or empty), so hosts that do not know a piece of
/// metadata just leave it out.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Entry {
    /// The path as the host gave it (bytes; the agent's own syntax).
    pub path: RawPath,
    /// File, directory, symlink, FIFO or device.
    pub kind: EntryKind,
    /// Permission bits (Unix mode, including setuid/setgid/sticky; 0 where
    /// the host has none).
    pub mode: u32,
    /// Modification time, seconds since the Unix epoch.
    pub mtime: i64,
    /// The sub-second part of `mtime`, in nanoseconds.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub mtime_nanos: u32,
    /// Size in bytes (files: the content length).
    pub size: u64,
    /// The file's content, in order.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub chunks: Vec<Id>,
    /// A symlink's target (bytes).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target: Option<RawPath>,
    /// Status change time (seconds), compared with the parent snapshot's
    /// to decide whether a file must be read again.
    #[serde(default, skip_serializing_if = "is_zero_i64")]
    pub ctime: i64,
    /// The sub-second part of `ctime`, in nanoseconds.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub ctime_nanos: u32,
    /// Owner user id, when the host knows it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub uid: Option<u32>,
    /// Owner group id, when the host knows it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gid: Option<u32>,
    /// Inode number (0: unknown). With `device`, it groups hard links and
    /// identifies a file across backups.
    #[serde(default, skip_serializing_if = "is_zero_u64")]
    pub inode: u64,
    /// Device of the filesystem holding the entry (0: unknown).
    #[serde(default, skip_serializing_if = "is_zero_u64")]
    pub device: u64,
    /// Number of hard links (0: unknown). Above 1, restore links every
    /// entry with the same `device` and `inode` to the first one restored.
    #[serde(default, skip_serializing_if = "is_zero_u64")]
    pub links: u64,
    /// A device node's device number.
    #[serde(default, skip_serializing_if = "is_zero_u64")]
    pub rdev: u64,
    /// Extended attributes, in the order the host read them.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub xattrs: Vec<Xattr>,
}

impl Default for EntryKind {
    /// A regular file.
    fn default() -> Self {
        EntryKind::File
    }
}

impl Entry {
    /// The modification time in nanoseconds since the Unix epoch.
    pub fn mtime_ns(&self) -> i128 {
        i128::from(self.mtime) * 1_000_000_000 + i128::from(self.mtime_nanos)
    }

    /// Whether this entry is one name of a file with several (a hard link
    /// the restore recreates as such).
    pub fn is_hard_linked(&self) -> bool {
        self.kind != EntryKind::Dir && self.links > 1 && self.inode != 0
    }
}

/// A path the backup could not read, and why: the snapshot stands without
/// it (restic's "warnings", exit status 3).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileError {
    /// The path (bytes).
    pub path: RawPath,
    /// What went wrong, in the host's words.
    pub error: String,
}

/// What a backup did: the counters of the v2 backup resource.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct BackupCounters {
    /// Files looked at.
    pub files_searched: u64,
    /// Files with content not already in the vault.
    pub files_backed_up: u64,
    /// Bytes looked at.
    pub bytes_searched: u64,
    /// Plaintext bytes of the chunks that were new to the vault.
    pub bytes_backed_up: u64,
    /// Bytes added to the vault (sealed blobs, trailers, index and snapshot).
    pub bytes_in_db: u64,
    /// Paths that could not be read (listed in the snapshot's `errors`).
    #[serde(default)]
    pub files_with_errors: u64,
    /// Files whose chunk lists came from the parent snapshot, unread.
    #[serde(default)]
    pub files_unchanged: u64,
}

/// The snapshot format this build writes: 2 (paths as bytes, nanosecond
/// times, owners, hard links, devices, extended attributes, per-file
/// errors). Version 1 snapshots are still read.
pub const SNAPSHOT_VERSION: u16 = 2;

/// A backup's file tree.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Snapshot {
    /// Format version of the snapshot.
    pub version: u16,
    /// When the backup started, seconds since the Unix epoch (host's clock).
    pub time: i64,
    /// The sub-second part of the start time (0..1_000_000_000), so that
    /// two backups started within one second still order by time. Absent
    /// (0) in snapshots written before it existed.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub time_nanos: u32,
    /// The host's name, if given.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hostname: Option<String>,
    /// The v2 backup configuration this backup ran for, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub backup_configuration_id: Option<String>,
    /// The paths the host backed up (its roots), if it said.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub paths: Vec<RawPath>,
    /// The backup's counters.
    pub counters: BackupCounters,
    /// Every path, in the order the host gave them.
    pub entries: Vec<Entry>,
    /// The paths the backup could not read (the counters count them in
    /// `files_with_errors`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub errors: Vec<FileError>,
}

fn is_zero(n: &u32) -> bool {
    *n == 0
}

fn is_zero_i64(n: &i64) -> bool {
    *n == 0
}

fn is_zero_u64(n: &u64) -> bool {
    *n == 0
}

/// Bytes as base64 text in JSON (xattr values are binary).
mod base64_bytes {
    use base64ct::{Base64, Encoding};
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(bytes: &[u8], s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&Base64::encode_string(bytes))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<u8>, D::Error> {
        let text = std::borrow::Cow::<str>::deserialize(d)?;
        Base64::decode_vec(&text).map_err(|e| serde::de::Error::custom(format!("base64: {e}")))
    }
}

impl Snapshot {
    /// The start time in nanoseconds since the Unix epoch: what snapshots
    /// are ordered by (then by id), and so what `latest` means.
    pub fn time_ns(&self) -> i128 {
        i128::from(self.time) * 1_000_000_000 + i128::from(self.time_nanos)
    }

    /// Seals the snapshot.
    pub fn seal(&self, keys: &VaultKeys, vault_id: &VaultId) -> Result<SealedObject> {
        let json = serde_json::to_vec(self).map_err(|e| Error::json("snapshot", &e))?;
        seal_object(keys, vault_id, ObjectKind::Snapshot, &json)
    }

    /// Opens the snapshot stored as `id` (version 2, or a version 1
    /// snapshot, read into the same shape).
    pub fn open(keys: &VaultKeys, vault_id: &VaultId, id: &Id, bytes: &[u8]) -> Result<Self> {
        let plain = open_object(keys, vault_id, ObjectKind::Snapshot, id, bytes)?;
        let name = object_name(ObjectKind::Snapshot, id);
        let probe: VersionProbe = crate::error::from_json_slice(&name, &plain)?;
        match probe.version {
            SNAPSHOT_VERSION => crate::error::from_json_slice(&name, &plain),
            1 => Ok(crate::error::from_json_slice::<v1::Snapshot>(&name, &plain)?.into()),
            found => Err(Error::UnsupportedVersion {
                object: name,
                found,
                supported: SNAPSHOT_VERSION,
            }),
        }
    }
}

/// Just the version, to pick the shape to read.
#[derive(Deserialize)]
struct VersionProbe {
    version: u16,
}

/// Version 1 snapshots: paths and symlink targets were UTF-8 text, times
/// whole seconds, and no owners, links, devices, attributes or errors.
mod v1 {
    use serde::Deserialize;

    use super::{BackupCounters, EntryKind, RawPath, SNAPSHOT_VERSION};
    use crate::engine::crypto::Id;

    #[derive(Deserialize)]
    pub struct Entry {
        path: String,
        kind: EntryKind,
        mode: u32,
        mtime: i64,
        size: u64,
        #[serde(default)]
        chunks: Vec<Id>,
        #[serde(default)]
        target: Option<String>,
    }

    #[derive(Deserialize)]
    pub struct Snapshot {
        time: i64,
        #[serde(default)]
        time_nanos: u32,
        #[serde(default)]
        hostname: Option<String>,
        #[serde(default)]
        backup_configuration_id: Option<String>,
        counters: BackupCounters,
        entries: Vec<Entry>,
    }

    impl From<Snapshot> for super::Snapshot {
        fn from(v1: Snapshot) -> Self {
            super::Snapshot {
                version: SNAPSHOT_VERSION,
                time: v1.time,
                time_nanos: v1.time_nanos,
                hostname: v1.hostname,
                backup_configuration_id: v1.backup_configuration_id,
                paths: Vec::new(),
                counters: v1.counters,
                entries: v1
                    .entries
                    .into_iter()
                    .map(|e| super::Entry {
                        path: RawPath::from(e.path),
                        kind: e.kind,
                        mode: e.mode,
                        mtime: e.mtime,
                        size: e.size,
                        chunks: e.chunks,
                        target: e.target.map(RawPath::from),
                        ..super::Entry::default()
                    })
                    .collect(),
                errors: Vec::new(),
            }
        }
    }
}
