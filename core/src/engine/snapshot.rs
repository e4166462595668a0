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
use crate::lifecycle::BackupState;
use crate::model::v2::common::{ErrorEntry, ErrorException, ErrorReport};
use crate::wire::LooseInt;
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
    /// Labels the host gave the backup (`backup --tag`): `forget --keep-tag`
    /// keeps by them. Absent in snapshots written before tags existed.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tags: Vec<String>,
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
        // One parse in the current shape, with plain serde_json (a snapshot
        // of tens of thousands of entries is read at every backup, to find
        // the parent); the path-naming parser only to say where a bad one is
        // wrong, and older versions read again in their own shape.
        let current = serde_json::from_slice::<Snapshot>(&plain)
            .or_else(|_| crate::error::from_json_slice::<Snapshot>(&name, &plain));
        if let Ok(snap) = &current {
            if snap.version == SNAPSHOT_VERSION {
                return current;
            }
        }
        let probe: VersionProbe = crate::error::from_json_slice(&name, &plain)?;
        match probe.version {
            SNAPSHOT_VERSION => current,
            1 => Ok(crate::error::from_json_slice::<v1::Snapshot>(&name, &plain)?.into()),
            found => Err(Error::UnsupportedVersion {
                object: name,
                found,
                supported: SNAPSHOT_VERSION,
            }),
        }
    }
}

/// The exception code of a backup's per-file error (a path the host could
/// not read): after the restore's 7001..7099 classes, stable for agents
/// and consoles to key on.
pub const BACKUP_FILE_ERROR_CODE: i64 = 7101;

/// The error type a backup's per-file errors are reported under.
pub const BACKUP_FILE_ERROR_TYPE: &str = "unreadable";

/// The value a v2 agent patches into a backup's `/errors` (with state
/// `completed_with_errors`) for the paths a backup could not read, in the
/// order the host met them; `None` when there were none (the backup is
/// then `completed`). The shape is the restore's
/// ([`error_report`](super::restore::error_report)): `{"count", "reason":
/// "unable_to_process_some_files", "diagnostics", "list": [{"index",
/// "path" (quoted form), "type": "unreadable", "exception": {"code": 7101,
/// "description": the host's reason}}]}`.
pub fn backup_error_report(errors: &[FileError]) -> Option<ErrorReport> {
    if errors.is_empty() {
        return None;
    }
    let list: Vec<ErrorEntry> = errors
        .iter()
        .enumerate()
        .map(|(i, e)| ErrorEntry {
            index: LooseInt::new(i as i64),
            path: e.path.quoted().into_owned(),
            kind: BACKUP_FILE_ERROR_TYPE.to_string(),
            description: None,
            exception: Some(ErrorException {
                code: LooseInt::new(BACKUP_FILE_ERROR_CODE),
                description: Some(e.error.clone()),
                details: None,
            }),
        })
        .collect();
    Some(ErrorReport {
        count: LooseInt::new(list.len() as i64),
        reason: Some(super::restore::ERRORS_REASON.to_string()),
        diagnostics: Some("Some files could not be backed up.".to_string()),
        list: Some(list),
        links: None,
    })
}

impl Snapshot {
    /// The backup's `/errors` value (see [`backup_error_report`]); `None`
    /// when every path was read.
    pub fn error_report(&self) -> Option<ErrorReport> {
        backup_error_report(&self.errors)
    }

    /// The state a v2 agent reports for the backup that made this
    /// snapshot: `completed_with_errors` when some paths could not be
    /// read (patch [`error_report`](Self::error_report) into `/errors`
    /// with it), else `completed`.
    pub fn backup_state(&self) -> BackupState {
        if self.errors.is_empty() {
            BackupState::Completed
        } else {
            BackupState::CompletedWithErrors
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
                tags: Vec::new(),
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backup_error_reports_list_each_path_in_the_patch_shape() {
        assert!(backup_error_report(&[]).is_none());
        let errors = vec![
            FileError {
                path: RawPath::from("/a/secret"),
                error: "open: Permission denied".into(),
            },
            FileError {
                path: RawPath::from_bytes(b"/caf\xe9".to_vec()),
                error: "vanished during the backup".into(),
            },
        ];
        let report = backup_error_report(&errors).unwrap();
        let json = serde_json::to_value(&report).unwrap();
        assert_eq!(json["count"], 2);
        assert_eq!(json["reason"], "unable_to_process_some_files");
        assert_eq!(json["list"][0]["index"], 0);
        assert_eq!(json["list"][0]["path"], "/a/secret");
        assert_eq!(json["list"][0]["type"], "unreadable");
        assert_eq!(json["list"][0]["exception"]["code"], 7101);
        assert_eq!(
            json["list"][0]["exception"]["description"],
            "open: Permission denied"
        );
        // Non-UTF-8 paths in their lossless quoted form.
        assert_eq!(json["list"][1]["path"], "\"/caf\\xe9\"");
        let snapshot = Snapshot {
            version: SNAPSHOT_VERSION,
            time: 0,
            time_nanos: 0,
            hostname: None,
            backup_configuration_id: None,
            paths: Vec::new(),
            tags: Vec::new(),
            counters: BackupCounters::default(),
            entries: Vec::new(),
            errors,
        };
        assert_eq!(snapshot.error_report(), Some(report));
        assert_eq!(snapshot.backup_state(), BackupState::CompletedWithErrors);

        // What an agent patches into its backup is what the service takes.
        let patch = crate::patch::patch_from_value(serde_json::json!([
            {"op": "replace", "path": "/state", "value": snapshot.backup_state()},
            {"op": "add", "path": "/errors", "value": snapshot.error_report()},
        ]))
        .unwrap();
        let resource = serde_json::json!({"state": "in_progress", "errors": null});
        let next = crate::patch::validate_patch(
            crate::patch::Endpoint::Backup,
            &resource,
            &patch,
            crate::patch::PatchContext::new(crate::lifecycle::Actor::Agent),
        )
        .unwrap();
        assert_eq!(next["state"], "completed_with_errors");
        assert_eq!(next["errors"]["list"][1]["path"], "\"/caf\\xe9\"");

        let clean = Snapshot {
            errors: Vec::new(),
            ..snapshot
        };
        assert_eq!(clean.backup_state(), BackupState::Completed);
        assert!(clean.error_report().is_none());
    }
}
