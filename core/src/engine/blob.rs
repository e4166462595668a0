//! Blobs: one chunk of plaintext, named by its keyed BLAKE3, compressed with
//! zstd when that shrinks it, and sealed with AES-256-GCM under a fresh random
//! nonce. The AAD binds format version, vault, blob type and id, so a blob
//! that is changed, truncated, swapped with another or moved to another vault
//! fails to open; after decryption the id is checked again.
//!
//! Sealed layout: `nonce(12) || AES-GCM(flag(1) || payload) || tag(16)`,
//! flag 0 = raw, 1 = zstd.

use std::io::Cursor;

use super::crypto::{keyed_hash, random_nonce, Id, NONCE_LEN, TAG_LEN};
use super::format::{BlobType, VaultId, FORMAT_VERSION};
use super::keys::VaultKeys;
use crate::{Error, Result};

/// Flag byte: payload stored as is.
const RAW: u8 = 0;
/// Flag byte: payload is a zstd frame.
const ZSTD: u8 = 1;

/// Bytes a sealed blob adds to its payload.
pub const BLOB_OVERHEAD: usize = NONCE_LEN + 1 + TAG_LEN;

/// The largest plaintext a blob holds: the largest maximum chunk size a
/// vault may have (`ChunkerParams::validate`). A larger `raw_len` in a
/// trailer or index is corrupt, and is refused before it sizes a buffer.
pub const MAX_BLOB_LEN: u32 = fastcdc::v2020::MAXIMUM_MAX;

/// The id of a chunk: keyed BLAKE3 under the vault's blob-id key.
pub fn blob_id(keys: &VaultKeys, plaintext: &[u8]) -> Id {
    Id(keyed_hash(&keys.blob_id, plaintext))
}

fn aad(vault_id: &VaultId, kind: BlobType, id: &Id) -> [u8; AAD_LEN] {
    let mut a = [0u8; AAD_LEN];
    a[..16].copy_from_slice(b"cloudbackup blob");
    a[16..18].copy_from_slice(&FORMAT_VERSION.to_le_bytes());
    a[18..34].copy_from_slice(vault_id);
    a[34] = kind as u8;
    a[35..].copy_from_slice(&id.0);
    a
}

/// A sealed blob ready to go into a bundle.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SealedBlob {
    /// The plaintext's id.
    pub id: Id,
    /// The blob type.
    pub kind: BlobType,
    /// Plaintext length.
    pub raw_len: u32,
    /// `nonce || ciphertext || tag`.
    pub bytes: Vec<u8>,
}

/// Reusable zstd state for sealing many blobs (one per thread).
pub struct Compressor {
    inner: zstd::bulk::Compressor<'static>,
}

impl Compressor {
    /// A compressor at `level` (zstd levels 1..=22; 3 is the default).
    pub fn new(level: i32) -> Result<Self> {
        if !(1..=22).contains(&level) {
            return Err(Error::argument(
                "zstd_level",
                format!("{level} is outside 1..=22"),
            ));
        }
        let inner = zstd::bulk::Compressor::new(level)
            .map_err(|e| Error::argument("zstd_level", e.to_string()))?;
        Ok(Compressor { inner })
    }
}

/// Seals `plaintext` (whose id is `id`) as a blob of vault `vault_id`.
pub fn seal_blob(
    keys: &VaultKeys,
    vault_id: &VaultId,
    compressor: &mut Compressor,
    kind: BlobType,
    id: Id,
    plaintext: &[u8],
) -> Result<SealedBlob> {
    let mut bytes = Vec::with_capacity(plaintext.len() + BLOB_OVERHEAD);
    let raw_len = seal_blob_into(keys, vault_id, compressor, kind, &id, plaintext, &mut bytes)?;
    Ok(SealedBlob {
        id,
        kind,
        raw_len,
        bytes,
    })
}

/// Like [`seal_blob`], but appends the sealed blob to `out` (a bundle being
/// written, a reused buffer) instead of allocating; returns the plaintext
/// length. On error `out` is left as it was.
pub fn seal_blob_into(
    keys: &VaultKeys,
    vault_id: &VaultId,
    compressor: &mut Compressor,
    kind: BlobType,
    id: &Id,
    plaintext: &[u8],
    out: &mut Vec<u8>,
) -> Result<u32> {
    let raw_len = u32::try_from(plaintext.len())
        .map_err(|_| Error::argument("chunk", "larger than 4 GiB"))?;
    let nonce = random_nonce()?;
    let start = out.len();
    out.reserve(plaintext.len() + BLOB_OVERHEAD);
    out.extend_from_slice(&nonce);
    out.push(ZSTD);
    // Compress straight into the output's spare room (a cursor past its end:
    // nothing is zero-filled first, and only what zstd writes is touched);
    // fall back to raw when it does not shrink.
    let mut dst = Cursor::new(&mut *out);
    dst.set_position((start + NONCE_LEN + 1) as u64);
    let shrunk = compressor
        .inner
        .compress_to_buffer(plaintext, &mut dst)
        .is_ok_and(|n| n < plaintext.len());
    if !shrunk {
        out.truncate(start + NONCE_LEN);
        out.push(RAW);
        out.extend_from_slice(plaintext);
    }
    let sealed = keys
        .blob
        .seal_in_place(&nonce, &aad(vault_id, kind, id), out, start + NONCE_LEN);
    if sealed.is_err() {
        out.truncate(start);
    }
    sealed.map(|()| raw_len)
}

/// Opens a sealed blob expected to be `id`, whose plaintext is `raw_len`
/// bytes: checks the tag, decompresses, and checks the id again. Any
/// mismatch is [`Error::Corrupt`] naming `object`; nothing unverified is returned.
pub fn open_blob(
    keys: &VaultKeys,
    vault_id: &VaultId,
    kind: BlobType,
    id: &Id,
    raw_len: u32,
    sealed: &[u8],
    object: &str,
) -> Result<Vec<u8>> {
    let parts = blob_parts(vault_id, kind, id, raw_len, sealed, object)?;
    let inner = keys
        .blob
        .open(&parts.nonce, &parts.aad, parts.body)
        .ok_or_else(|| not_authentic(object))?;
    finish_blob(keys, id, raw_len, inner, object)
}

/// What AES-256-GCM opens of a sealed blob: the parts [`open_blob`] hands
/// to its cipher, for a host that opens blobs with its own (a browser's
/// WebCrypto: [`RestoreSession::next_sealed`](super::restore::RestoreSession::next_sealed)).
#[derive(Debug, Clone, Copy)]
pub struct BlobParts<'a> {
    /// The 96-bit nonce.
    pub nonce: [u8; NONCE_LEN],
    /// The additional authenticated data: format, vault, blob type and id.
    pub aad: [u8; AAD_LEN],
    /// The ciphertext with its 16-byte tag at the end.
    pub body: &'a [u8],
}

/// The length of a blob's additional authenticated data.
pub const AAD_LEN: usize = 16 + 2 + 16 + 1 + 32;

/// Splits sealed blob `id` into what AES-256-GCM opens, after the checks
/// that need no key: long enough to hold nonce, flag and tag, and a
/// plaintext length no chunk can exceed.
pub fn blob_parts<'a>(
    vault_id: &VaultId,
    kind: BlobType,
    id: &Id,
    raw_len: u32,
    sealed: &'a [u8],
    object: &str,
) -> Result<BlobParts<'a>> {
    if sealed.len() < BLOB_OVERHEAD {
        return Err(Error::corrupt(object, "truncated blob"));
    }
    check_raw_len(raw_len, object)?;
    let (nonce, body) = sealed.split_at(NONCE_LEN);
    let mut n = [0u8; NONCE_LEN];
    n.copy_from_slice(nonce);
    Ok(BlobParts {
        nonce: n,
        aad: aad(vault_id, kind, id),
        body,
    })
}

/// A plaintext length no chunk can have is a corrupt index entry: refused
/// before anything is allocated for it.
fn check_raw_len(raw_len: u32, object: &str) -> Result<()> {
    if raw_len > MAX_BLOB_LEN {
        return Err(Error::corrupt(
            object,
            format!("plaintext length {raw_len} exceeds the largest chunk ({MAX_BLOB_LEN} bytes)"),
        ));
    }
    Ok(())
}

/// The error of a blob whose tag does not verify.
pub fn not_authentic(object: &str) -> Error {
    Error::corrupt(
        object,
        "authentication failed (changed, truncated, swapped or foreign)",
    )
}

/// The rest of [`open_blob`] once AES-256-GCM has opened the blob to
/// `inner` (its compression flag, then the payload): decompresses and
/// checks that the plaintext is `raw_len` bytes named `id`.
pub fn finish_blob(
    keys: &VaultKeys,
    id: &Id,
    raw_len: u32,
    mut inner: Vec<u8>,
    object: &str,
) -> Result<Vec<u8>> {
    // Checked by `blob_parts` too; again here, as a host's opened bytes may
    // come without it.
    check_raw_len(raw_len, object)?;
    let (&flag, payload) = inner
        .split_first()
        .ok_or_else(|| Error::corrupt(object, "empty blob"))?;
    let plaintext = match flag {
        // Reuse the decrypted buffer: a move within it, not a new allocation.
        RAW => {
            inner.remove(0);
            inner
        }
        ZSTD => decompress(payload, raw_len as usize)
            .map_err(|e| Error::corrupt(object, format!("zstd: {e}")))?,
        other => {
            return Err(Error::corrupt(
                object,
                format!("unknown compression flag {other}"),
            ))
        }
    };
    if plaintext.len() != raw_len as usize || blob_id(keys, &plaintext) != *id {
        return Err(Error::corrupt(object, "content does not match its id"));
    }
    Ok(plaintext)
}

thread_local! {
    /// Each thread's zstd decompression state: making one per blob cost
    /// ~18% of a restore worker's time.
    static DECOMPRESSOR: std::cell::RefCell<Option<zstd::bulk::Decompressor<'static>>> =
        const { std::cell::RefCell::new(None) };
}

/// Decompresses one zstd frame of at most `capacity` bytes with this
/// thread's decompressor.
fn decompress(payload: &[u8], capacity: usize) -> std::io::Result<Vec<u8>> {
    DECOMPRESSOR.with(|cell| {
        let mut slot = cell.try_borrow_mut().map_err(std::io::Error::other)?;
        let d = match slot.as_mut() {
            Some(d) => d,
            None => slot.insert(zstd::bulk::Decompressor::new()?),
        };
        d.decompress(payload, capacity)
    })
}

/// Seals `inner` (the flag byte and payload, any bytes at all) as blob `id`
/// of vault `vault_id`: what [`open_blob`] sees once the tag checks, so the
/// fuzzing harness can reach decompression and the id check with
/// authenticated but arbitrary contents.
#[cfg(feature = "fuzzing")]
pub(crate) fn seal_inner(
    keys: &VaultKeys,
    vault_id: &VaultId,
    kind: BlobType,
    id: &Id,
    inner: &[u8],
) -> Result<Vec<u8>> {
    let nonce = random_nonce()?;
    let mut out = nonce.to_vec();
    keys.blob
        .seal_into(&nonce, &aad(vault_id, kind, id), inner, &mut out)?;
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::keys::MasterKey;

    #[test]
    fn blobs_round_trip_compressed_or_raw() {
        let keys = MasterKey::from_bytes([3; 32]).derive();
        let vault = [9; 16];
        let mut c = Compressor::new(3).unwrap();
        let text = b"hello hello hello hello hello hello hello".repeat(100);
        let random: Vec<u8> = (0..4096u32)
            .map(|i| (i.wrapping_mul(2654435761) >> 13) as u8)
            .collect();
        for data in [&text[..], &random[..], b""] {
            let id = blob_id(&keys, data);
            let b = seal_blob(&keys, &vault, &mut c, BlobType::Data, id, data).unwrap();
            assert!(b.bytes.len() <= data.len() + BLOB_OVERHEAD);
            let back =
                open_blob(&keys, &vault, BlobType::Data, &id, b.raw_len, &b.bytes, "b").unwrap();
            assert_eq!(back, data);
        }
        let id = blob_id(&keys, &text);
        let b = seal_blob(&keys, &vault, &mut c, BlobType::Data, id, &text).unwrap();
        assert!(b.bytes.len() < text.len() / 10, "text compresses");
    }

    #[test]
    fn wrong_id_vault_or_key_is_corrupt_or_refused() {
        let keys = MasterKey::from_bytes([3; 32]).derive();
        let other = MasterKey::from_bytes([4; 32]).derive();
        let vault = [9; 16];
        let mut c = Compressor::new(3).unwrap();
        let id = blob_id(&keys, b"data");
        let b = seal_blob(&keys, &vault, &mut c, BlobType::Data, id, b"data").unwrap();
        let wrong = blob_id(&keys, b"other");
        for result in [
            open_blob(&keys, &vault, BlobType::Data, &wrong, 4, &b.bytes, "b"),
            open_blob(&keys, &[8; 16], BlobType::Data, &id, 4, &b.bytes, "b"),
            open_blob(&other, &vault, BlobType::Data, &id, 4, &b.bytes, "b"),
            open_blob(
                &keys,
                &vault,
                BlobType::Data,
                &id,
                4,
                &b.bytes[..b.bytes.len() - 1],
                "b",
            ),
            open_blob(&keys, &vault, BlobType::Data, &id, 5, &b.bytes, "b"),
        ] {
            assert_eq!(result.unwrap_err().code(), crate::ErrorCode::Corrupt);
        }
        assert!(Compressor::new(0).is_err());
    }
}
