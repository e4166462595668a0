//! Constants of the vault format and the header every stored object starts
//! with. The byte layouts are documented in `docs/FORMAT.md`.

use super::crypto::Id;
use crate::{Error, Result};

/// The vault format version this build writes and reads.
pub const FORMAT_VERSION: u16 = 1;

/// Bytes in a vault id.
pub const VAULT_ID_LEN: usize = 16;

/// A vault's public, random identity: bound into every object so objects of
/// another vault are recognised as such.
pub type VaultId = [u8; VAULT_ID_LEN];

/// The kinds of stored object, each with its 4-byte magic.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ObjectKind {
    /// `CBCF`: the vault configuration and key slots.
    Config,
    /// `CBBD`: a bundle of blobs with its trailer.
    Bundle,
    /// `CBIX`: an index (delta): blob id -> bundle, offset, length.
    Index,
    /// `CBSN`: a snapshot: a file tree with chunk lists.
    Snapshot,
    /// `CBLK`: a lock: who is using the vault, and how (see `lock`).
    Lock,
}

impl ObjectKind {
    /// The 4-byte magic that opens objects of this kind.
    pub fn magic(self) -> [u8; 4] {
        match self {
            ObjectKind::Config => *b"CBCF",
            ObjectKind::Bundle => *b"CBBD",
            ObjectKind::Index => *b"CBIX",
            ObjectKind::Snapshot => *b"CBSN",
            ObjectKind::Lock => *b"CBLK",
        }
    }

    /// The kind's name, for messages.
    pub fn name(self) -> &'static str {
        match self {
            ObjectKind::Config => "vault config",
            ObjectKind::Bundle => "bundle",
            ObjectKind::Index => "index",
            ObjectKind::Snapshot => "snapshot",
            ObjectKind::Lock => "lock",
        }
    }

    /// The directory objects of this kind are stored under (`config` is a
    /// single object at the top, so it has none).
    pub fn dir(self) -> Option<&'static str> {
        match self {
            ObjectKind::Config => None,
            ObjectKind::Bundle => Some("bundles"),
            ObjectKind::Index => Some("index"),
            ObjectKind::Snapshot => Some("snapshots"),
            ObjectKind::Lock => Some("locks"),
        }
    }

    /// Whether an object of this kind never changes once stored: its name
    /// is the hash of its bytes (bundles, index deltas, snapshots), so a
    /// copy of it is never stale. The config (rewritten on a password
    /// change) and locks (refreshed) are not.
    pub fn is_immutable(self) -> bool {
        match self {
            ObjectKind::Bundle | ObjectKind::Index | ObjectKind::Snapshot => true,
            ObjectKind::Config | ObjectKind::Lock => false,
        }
    }

    /// Whether hosts keep local copies of this kind's objects (their
    /// metadata cache): immutable objects every backup and listing reads,
    /// index deltas and snapshots. Bundles are immutable too but are the
    /// data itself; caching them would copy the vault. A cached copy is
    /// still authenticated when opened, like one fetched from storage.
    pub fn is_cached(self) -> bool {
        matches!(self, ObjectKind::Index | ObjectKind::Snapshot)
    }

    /// The kind stored under directory `dir`, if any.
    pub fn from_dir(dir: &str) -> Option<Self> {
        ObjectKind::STORED
            .into_iter()
            .find(|k| k.dir() == Some(dir))
    }

    /// The kinds stored as `<dir>/<id>`, in the order a vault is created.
    pub const STORED: [ObjectKind; 4] = [
        ObjectKind::Bundle,
        ObjectKind::Index,
        ObjectKind::Snapshot,
        ObjectKind::Lock,
    ];
}

/// Blob types, bound into each blob's AAD.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum BlobType {
    /// A chunk of file content.
    Data = 0,
}

impl BlobType {
    /// The type for a stored byte.
    pub fn from_byte(b: u8) -> Option<Self> {
        match b {
            0 => Some(BlobType::Data),
            _ => None,
        }
    }
}

/// `magic(4) || version(u16 LE) || vault_id(16)`: the header of every object.
pub const HEADER_LEN: usize = 4 + 2 + VAULT_ID_LEN;

/// Writes the header of a `kind` object of vault `vault_id`.
pub fn write_header(kind: ObjectKind, vault_id: &VaultId, out: &mut Vec<u8>) {
    out.extend_from_slice(&kind.magic());
    out.extend_from_slice(&FORMAT_VERSION.to_le_bytes());
    out.extend_from_slice(vault_id);
}

/// Checks the header of `bytes` as a `kind` object of vault `vault_id`,
/// naming `object` in errors; returns the rest of the bytes.
pub fn check_header<'a>(
    kind: ObjectKind,
    vault_id: Option<&VaultId>,
    object: &str,
    bytes: &'a [u8],
) -> Result<&'a [u8]> {
    if bytes.len() < HEADER_LEN {
        return Err(Error::corrupt(
            object,
            format!("{} bytes is too short for a header", bytes.len()),
        ));
    }
    let (header, rest) = bytes.split_at(HEADER_LEN);
    if header[..4] != kind.magic() {
        return Err(Error::corrupt(
            object,
            format!("not a {} (bad magic)", kind.name()),
        ));
    }
    let version = u16::from_le_bytes([header[4], header[5]]);
    if version != FORMAT_VERSION {
        return Err(Error::UnsupportedVersion {
            object: object.to_string(),
            found: version,
            supported: FORMAT_VERSION,
        });
    }
    if let Some(expected) = vault_id {
        if header[6..HEADER_LEN] != expected[..] {
            return Err(Error::ForeignVault {
                object: object.to_string(),
            });
        }
    }
    Ok(rest)
}

/// Context strings of the key hierarchy (BLAKE3 `derive_key`). Fixed
/// forever for format version 1.
pub mod contexts {
    /// Key of the keyed BLAKE3 that names chunks (blob ids).
    pub const BLOB_ID: &str = "cloudbackup 2026-11-23 v1 blob id";
    /// AES-256-GCM key of data blobs.
    pub const BLOB_ENCRYPTION: &str = "cloudbackup 2026-11-23 v1 blob encryption";
    /// AES-256-GCM key of bundle trailers, indexes and snapshots.
    pub const METADATA_ENCRYPTION: &str = "cloudbackup 2026-11-23 v1 metadata encryption";
    /// Key of the keyed BLAKE3 that names indexes and snapshots.
    pub const OBJECT_ID: &str = "cloudbackup 2026-11-23 v1 object id";
    /// Seed of the chunker's secret gear table.
    pub const CHUNKER: &str = "cloudbackup 2026-11-23 v1 chunker gear";
    /// MAC key of the vault config.
    pub const CONFIG_MAC: &str = "cloudbackup 2026-11-23 v1 config mac";
    /// Key-encryption key from the Argon2id output (key slots).
    pub const KEY_SLOT: &str = "cloudbackup 2026-11-23 v1 key slot";
}

/// Little-endian reader over a byte slice, for the binary records of
/// trailers and indexes; every read names `object` when the bytes run out.
pub struct Reader<'a> {
    bytes: &'a [u8],
    object: &'a str,
}

impl<'a> Reader<'a> {
    /// A reader over `bytes`.
    pub fn new(object: &'a str, bytes: &'a [u8]) -> Self {
        Reader { bytes, object }
    }

    /// The next `n` bytes.
    pub fn take(&mut self, n: usize) -> Result<&'a [u8]> {
        if self.bytes.len() < n {
            return Err(Error::corrupt(self.object, "truncated record"));
        }
        let (head, rest) = self.bytes.split_at(n);
        self.bytes = rest;
        Ok(head)
    }

    /// A little-endian u32.
    pub fn u32(&mut self) -> Result<u32> {
        let b = self.take(4)?;
        Ok(u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
    }

    /// One byte.
    pub fn u8(&mut self) -> Result<u8> {
        Ok(self.take(1)?[0])
    }

    /// A 32-byte id.
    pub fn id(&mut self) -> Result<Id> {
        let mut out = [0u8; 32];
        out.copy_from_slice(self.take(32)?);
        Ok(Id(out))
    }

    /// Whether every byte was read.
    pub fn is_empty(&self) -> bool {
        self.bytes.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn headers_check_magic_version_and_vault() {
        let vault = [3u8; VAULT_ID_LEN];
        let mut b = Vec::new();
        write_header(ObjectKind::Index, &vault, &mut b);
        b.extend_from_slice(b"rest");
        assert_eq!(
            check_header(ObjectKind::Index, Some(&vault), "x", &b).unwrap(),
            b"rest"
        );
        assert_eq!(
            check_header(ObjectKind::Bundle, Some(&vault), "x", &b)
                .unwrap_err()
                .code(),
            crate::ErrorCode::Corrupt
        );
        assert_eq!(
            check_header(ObjectKind::Index, Some(&[4; VAULT_ID_LEN]), "x", &b)
                .unwrap_err()
                .code(),
            crate::ErrorCode::ForeignVault
        );
        let mut future = b.clone();
        future[4] = 9;
        assert_eq!(
            check_header(ObjectKind::Index, Some(&vault), "x", &future)
                .unwrap_err()
                .code(),
            crate::ErrorCode::UnsupportedVersion
        );
        assert!(check_header(ObjectKind::Index, None, "x", &b[..5]).is_err());
    }
}
