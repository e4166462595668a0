//! Sealed metadata objects (indexes and snapshots): zstd-compressed,
//! encrypted under the metadata key, and named by the keyed BLAKE3 of their
//! plaintext, which is checked again after decryption.
//!
//! Layout: `header(22) || nonce(12) || AES-GCM(zstd(plaintext)) || tag(16)`,
//! AAD = `"cloudbackup object" || header || id`.

use std::io::Read;

use super::crypto::{random_nonce, Id, NONCE_LEN};
use super::format::{check_header, write_header, ObjectKind, VaultId, HEADER_LEN};
use super::keys::VaultKeys;
use crate::{Error, Result};

/// The largest plaintext of an index or snapshot object (512 MiB). The
/// zstd stream inside an object is authenticated but its expansion is not
/// bounded by its size, so decompression stops here instead of following a
/// bomb; sealing refuses larger objects so none is written that cannot be read.
pub const MAX_OBJECT_LEN: usize = 512 << 20;

/// A sealed object: store `bytes` under `id`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SealedObject {
    /// What it is.
    pub kind: ObjectKind,
    /// Its id (keyed BLAKE3 of its plaintext).
    pub id: Id,
    /// The stored bytes.
    pub bytes: Vec<u8>,
}

fn object_id(keys: &VaultKeys, kind: ObjectKind, plaintext: &[u8]) -> Id {
    let mut h = blake3::Hasher::new_keyed(keys.object_id.as_bytes());
    h.update(&kind.magic());
    h.update(plaintext);
    Id(*h.finalize().as_bytes())
}

pub(crate) fn aad(header: &[u8], id: &Id) -> Vec<u8> {
    let mut a = b"cloudbackup object".to_vec();
    a.extend_from_slice(header);
    a.extend_from_slice(&id.0);
    a
}

/// The name used in messages about object `id` of `kind`.
pub fn object_name(kind: ObjectKind, id: &Id) -> String {
    format!("{} {}", kind.name(), id.short())
}

/// Seals `plaintext` as a `kind` object of vault `vault_id`.
pub fn seal_object(
    keys: &VaultKeys,
    vault_id: &VaultId,
    kind: ObjectKind,
    plaintext: &[u8],
) -> Result<SealedObject> {
    if plaintext.len() > MAX_OBJECT_LEN {
        return Err(Error::argument(
            kind.name(),
            format!("larger than the format's {MAX_OBJECT_LEN} bytes"),
        ));
    }
    let id = object_id(keys, kind, plaintext);
    let compressed =
        zstd::bulk::compress(plaintext, 3).map_err(|e| Error::argument("object", e.to_string()))?;
    let mut bytes = Vec::with_capacity(HEADER_LEN + NONCE_LEN + compressed.len() + 16);
    write_header(kind, vault_id, &mut bytes);
    let nonce = random_nonce()?;
    bytes.extend_from_slice(&nonce);
    let aad = aad(&bytes[..HEADER_LEN], &id);
    keys.metadata
        .seal_into(&nonce, &aad, &compressed, &mut bytes)?;
    Ok(SealedObject { kind, id, bytes })
}

/// Opens the `kind` object stored as `id`; any mismatch is an error naming it.
pub fn open_object(
    keys: &VaultKeys,
    vault_id: &VaultId,
    kind: ObjectKind,
    id: &Id,
    bytes: &[u8],
) -> Result<Vec<u8>> {
    let name = object_name(kind, id);
    let rest = check_header(kind, Some(vault_id), &name, bytes)?;
    if rest.len() < NONCE_LEN {
        return Err(Error::corrupt(&name, "truncated"));
    }
    let (nonce, sealed) = rest.split_at(NONCE_LEN);
    let mut n = [0u8; NONCE_LEN];
    n.copy_from_slice(nonce);
    let compressed = keys
        .metadata
        .open(&n, &aad(&bytes[..HEADER_LEN], id), sealed)
        .ok_or_else(|| {
            Error::corrupt(
                &name,
                "authentication failed (changed, truncated or not this object)",
            )
        })?;
    let mut plaintext = Vec::new();
    zstd::stream::read::Decoder::new(compressed.as_slice())
        .and_then(|d| {
            d.take(MAX_OBJECT_LEN as u64 + 1)
                .read_to_end(&mut plaintext)
        })
        .map_err(|e| Error::corrupt(&name, format!("zstd: {e}")))?;
    if plaintext.len() > MAX_OBJECT_LEN {
        return Err(Error::corrupt(
            &name,
            format!("decompresses to more than the format's {MAX_OBJECT_LEN} bytes"),
        ));
    }
    if object_id(keys, kind, &plaintext) != *id {
        return Err(Error::corrupt(&name, "content does not match its id"));
    }
    Ok(plaintext)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::keys::MasterKey;

    #[test]
    fn objects_round_trip_and_reject_tampering() {
        let keys = MasterKey::from_bytes([3; 32]).derive();
        let vault = [9; 16];
        let o = seal_object(&keys, &vault, ObjectKind::Snapshot, b"{\"a\":1}").unwrap();
        assert_eq!(
            open_object(&keys, &vault, ObjectKind::Snapshot, &o.id, &o.bytes).unwrap(),
            b"{\"a\":1}"
        );
        assert!(open_object(&keys, &vault, ObjectKind::Index, &o.id, &o.bytes).is_err());
        let other = seal_object(&keys, &vault, ObjectKind::Snapshot, b"{}").unwrap();
        assert!(
            open_object(&keys, &vault, ObjectKind::Snapshot, &other.id, &o.bytes).is_err(),
            "swapped"
        );
        for i in 0..o.bytes.len() {
            let mut t = o.bytes.clone();
            t[i] ^= 4;
            assert!(
                open_object(&keys, &vault, ObjectKind::Snapshot, &o.id, &t).is_err(),
                "byte {i}"
            );
        }
    }
}
