//! Snapshots: the file tree a backup saw, with each file's chunk list, the
//! backup configuration it ran for, and its counters. Stored as a sealed
//! object whose plaintext is JSON (compact, and readable by any binding's
//! tooling once decrypted).

use serde::{Deserialize, Serialize};

use super::crypto::Id;
use super::format::{ObjectKind, VaultId, FORMAT_VERSION};
use super::keys::VaultKeys;
use super::object::{object_name, open_object, seal_object, SealedObject};
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
    }
}

/// One path in a snapshot.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Entry {
    /// The path as the host gave it (the agent's own syntax).
    pub path: String,
    /// File, directory or symlink.
    pub kind: EntryKind,
    /// Permission bits (Unix mode; 0 where the host has none).
    pub mode: u32,
    /// Modification time, seconds since the Unix epoch.
    pub mtime: i64,
    /// Size in bytes (files: the content length).
    pub size: u64,
    /// The file's content, in order.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub chunks: Vec<Id>,
    /// A symlink's target.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target: Option<String>,
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
}

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
    /// The backup's counters.
    pub counters: BackupCounters,
    /// Every path, in the order the host gave them.
    pub entries: Vec<Entry>,
}

fn is_zero(n: &u32) -> bool {
    *n == 0
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

    /// Opens the snapshot stored as `id`.
    pub fn open(keys: &VaultKeys, vault_id: &VaultId, id: &Id, bytes: &[u8]) -> Result<Self> {
        let plain = open_object(keys, vault_id, ObjectKind::Snapshot, id, bytes)?;
        let name = object_name(ObjectKind::Snapshot, id);
        let snap: Snapshot = crate::error::from_json_slice(&name, &plain)?;
        if snap.version != FORMAT_VERSION {
            return Err(Error::UnsupportedVersion {
                object: name,
                found: snap.version,
                supported: FORMAT_VERSION,
            });
        }
        Ok(snap)
    }
}
