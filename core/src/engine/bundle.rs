//! Bundles: the unit of storage. A header, sealed blobs back to back, then
//! an encrypted trailer listing them, and a footer locating the trailer:
//!
//! `header(22) || blob* || nonce(12) || AES-GCM(trailer) || tag(16) || trailer_len(u32 LE) || "CBTR"`
//!
//! A bundle's id is the plain BLAKE3 of all its bytes, so storage can check
//! it without keys; the trailer's AAD binds the header (format version, vault).

use super::blob::{seal_blob_into, Compressor, SealedBlob};
use super::crypto::{hash, random_nonce, Id, NONCE_LEN, TAG_LEN};
use super::format::{
    check_header, write_header, BlobType, ObjectKind, Reader, VaultId, HEADER_LEN,
};
use super::keys::VaultKeys;
use crate::{Error, Result};

/// The footer's magic.
const FOOTER_MAGIC: &[u8; 4] = b"CBTR";
/// `trailer_len(u32) || magic(4)`.
pub const FOOTER_LEN: usize = 8;
/// Bytes per trailer record: id, type, offset, length, raw length.
const RECORD_LEN: usize = 32 + 1 + 4 + 4 + 4;

/// Where one blob sits in its bundle.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BundleEntry {
    /// The blob's id.
    pub id: Id,
    /// Its type.
    pub kind: BlobType,
    /// Offset of the sealed blob from the start of the bundle.
    pub offset: u32,
    /// Length of the sealed blob.
    pub length: u32,
    /// Length of its plaintext.
    pub raw_len: u32,
}

/// A finished bundle: store `bytes` under `id`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SealedBundle {
    /// The bundle's id (BLAKE3 of `bytes`).
    pub id: Id,
    /// The bundle.
    pub bytes: Vec<u8>,
    /// The blobs it holds.
    pub entries: Vec<BundleEntry>,
}

impl SealedBundle {
    /// Each blob of the bundle with where it lives: what an index records.
    pub fn locations(&self) -> impl Iterator<Item = (Id, super::index::Location)> + '_ {
        self.entries.iter().map(|e| {
            (
                e.id,
                super::index::Location {
                    bundle: self.id,
                    kind: e.kind,
                    offset: e.offset,
                    length: e.length,
                    raw_len: e.raw_len,
                },
            )
        })
    }
}

/// Collects sealed blobs into a bundle.
pub struct BundleWriter {
    vault_id: VaultId,
    bytes: Vec<u8>,
    entries: Vec<BundleEntry>,
    /// The bundle's id so far: BLAKE3 of `bytes[..hashed]`, `hashed` being
    /// a whole number of [`HASH_PIECE`]s (the rest is hashed by
    /// [`seal`](Self::seal)). Blobs are hashed as they are added, while
    /// their bytes are in this core's cache, not all at once when the
    /// bundle is sealed, when they come from memory again (the sealed
    /// bundle was ~12% of a 2-thread backup's calling thread, which is the
    /// one that limits it).
    hasher: blake3::Hasher,
    hashed: usize,
}

/// Blobs copied into a bundle are copied piece by piece (a piece fits in
/// the first-level cache), and the bundle is hashed in whole multiples of a
/// piece from its start, so that the bytes are still in cache and BLAKE3
/// gets updates at aligned offsets: it hashes those with its widest SIMD
/// code, where updates at any offset (a blob's length) make it hash a few
/// 1 KiB chunks at a time and merge subtrees one by one. On the development
/// machine: hashing 16 MiB in 32 KiB updates from offset 57, 2.95 GB/s, in
/// aligned 64 KiB ones 4.7 GB/s; copying and hashing 64 MiB in 1 MiB blobs,
/// 0.94-1.15 GB/s unaligned against 1.23-1.38 GB/s aligned.
const HASH_PIECE: usize = 32 << 10;

pub(crate) fn trailer_aad(vault_id: &VaultId) -> Vec<u8> {
    let mut aad = b"cloudbackup bundle trailer".to_vec();
    write_header(ObjectKind::Bundle, vault_id, &mut aad);
    aad
}

impl BundleWriter {
    /// An empty bundle of vault `vault_id`, with room for `capacity` bytes.
    pub fn new(vault_id: VaultId, capacity: usize) -> Self {
        let mut bytes = Vec::with_capacity(capacity);
        write_header(ObjectKind::Bundle, &vault_id, &mut bytes);
        let mut writer = BundleWriter {
            vault_id,
            bytes,
            entries: Vec::new(),
            hasher: blake3::Hasher::new(),
            hashed: 0,
        };
        writer.absorb();
        writer
    }

    /// Hashes the bytes added since the last call up to a whole number of
    /// [`HASH_PIECE`]s from the bundle's start (see `hasher`); the rest
    /// waits for more bytes, or for [`seal`](Self::seal).
    fn absorb(&mut self) {
        let upto = self.bytes.len() / HASH_PIECE * HASH_PIECE;
        if upto > self.hashed {
            self.hasher.update(&self.bytes[self.hashed..upto]);
            self.hashed = upto;
        }
    }

    /// Copies `sealed` to the end piece by piece, hashing after each copy
    /// whatever whole pieces of the bundle it completes (see `absorb`).
    fn append(&mut self, sealed: &[u8]) {
        for piece in sealed.chunks(HASH_PIECE) {
            self.bytes.extend_from_slice(piece);
            self.absorb();
        }
    }

    /// Appends a blob.
    pub fn add(&mut self, blob: &SealedBlob) -> Result<()> {
        let too_big = || Error::argument("bundle", "would exceed 4 GiB");
        let offset = u32::try_from(self.bytes.len()).map_err(|_| too_big())?;
        let length = u32::try_from(blob.bytes.len()).map_err(|_| too_big())?;
        offset.checked_add(length).ok_or_else(too_big)?;
        self.append(&blob.bytes);
        self.entries.push(BundleEntry {
            id: blob.id,
            kind: blob.kind,
            offset,
            length,
            raw_len: blob.raw_len,
        });
        Ok(())
    }

    /// Appends a blob sealed earlier (copied from another bundle as it is:
    /// a blob's seal binds its id and vault, not its place).
    pub fn add_sealed(
        &mut self,
        id: Id,
        kind: BlobType,
        raw_len: u32,
        sealed: &[u8],
    ) -> Result<()> {
        let too_big = || Error::argument("bundle", "would exceed 4 GiB");
        let offset = u32::try_from(self.bytes.len()).map_err(|_| too_big())?;
        let length = u32::try_from(sealed.len()).map_err(|_| too_big())?;
        offset.checked_add(length).ok_or_else(too_big)?;
        self.append(sealed);
        self.entries.push(BundleEntry {
            id,
            kind,
            offset,
            length,
            raw_len,
        });
        Ok(())
    }

    /// Seals `plaintext` (whose id is `id`) as a blob straight into the
    /// bundle, without an intermediate buffer; returns the sealed length.
    /// On error the bundle is left as it was.
    pub fn seal_and_add(
        &mut self,
        keys: &VaultKeys,
        compressor: &mut Compressor,
        kind: BlobType,
        id: Id,
        plaintext: &[u8],
    ) -> Result<usize> {
        let start = self.bytes.len();
        let too_big = || Error::argument("bundle", "would exceed 4 GiB");
        let offset = u32::try_from(start).map_err(|_| too_big())?;
        let raw_len = seal_blob_into(
            keys,
            &self.vault_id,
            compressor,
            kind,
            &id,
            plaintext,
            &mut self.bytes,
        )?;
        let length = self.bytes.len() - start;
        match u32::try_from(self.bytes.len()) {
            Ok(_) => {
                // Just compressed and encrypted in place: still in cache.
                self.absorb();
                self.entries.push(BundleEntry {
                    id,
                    kind,
                    offset,
                    length: length as u32,
                    raw_len,
                });
                Ok(length)
            }
            Err(_) => {
                self.bytes.truncate(start);
                Err(too_big())
            }
        }
    }

    /// Makes room for `additional` more bytes at once, so adding blobs up to
    /// that never reallocates (and copies) the bundle.
    pub fn reserve(&mut self, additional: usize) {
        self.bytes.reserve(additional);
    }

    /// Bytes the bundle can hold without reallocating.
    pub fn capacity(&self) -> usize {
        self.bytes.capacity()
    }

    /// Moves the bundle into `buffer` (a stored bundle's, handed back for
    /// reuse): its bytes so far are copied over and the old buffer dropped.
    pub fn use_buffer(&mut self, mut buffer: Vec<u8>) {
        buffer.clear();
        buffer.extend_from_slice(&self.bytes);
        self.bytes = buffer;
    }

    /// Bytes so far.
    pub fn len(&self) -> usize {
        self.bytes.len()
    }

    /// Whether no blob was added.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Writes the trailer and footer and names the bundle.
    pub fn seal(mut self, keys: &VaultKeys) -> Result<SealedBundle> {
        let mut records = Vec::with_capacity(4 + self.entries.len() * RECORD_LEN);
        let count = u32::try_from(self.entries.len())
            .map_err(|_| Error::argument("bundle", "too many blobs"))?;
        records.extend_from_slice(&count.to_le_bytes());
        for e in &self.entries {
            records.extend_from_slice(&e.id.0);
            records.push(e.kind as u8);
            records.extend_from_slice(&e.offset.to_le_bytes());
            records.extend_from_slice(&e.length.to_le_bytes());
            records.extend_from_slice(&e.raw_len.to_le_bytes());
        }
        let nonce = random_nonce()?;
        let start = self.bytes.len();
        self.bytes.extend_from_slice(&nonce);
        keys.metadata.seal_into(
            &nonce,
            &trailer_aad(&self.vault_id),
            &records,
            &mut self.bytes,
        )?;
        let trailer_len = u32::try_from(self.bytes.len() - start)
            .map_err(|_| Error::argument("bundle", "trailer too large"))?;
        self.bytes.extend_from_slice(&trailer_len.to_le_bytes());
        self.bytes.extend_from_slice(FOOTER_MAGIC);
        self.hasher.update(&self.bytes[self.hashed..]);
        Ok(SealedBundle {
            id: Id(*self.hasher.finalize().as_bytes()),
            bytes: self.bytes,
            entries: self.entries,
        })
    }
}

/// Bytes a bundle of `blobs` blobs takes besides the sealed blobs:
/// header, the sealed trailer's records, and the footer.
pub fn bundle_overhead(blobs: usize) -> u64 {
    (HEADER_LEN + NONCE_LEN + 4 + blobs * RECORD_LEN + TAG_LEN + FOOTER_LEN) as u64
}

/// The object name used in messages about bundle `id`.
pub fn bundle_name(id: &Id) -> String {
    format!("bundle {}", id.short())
}

/// How many bytes from the end of a bundle hold its trailer and footer,
/// read from the last [`FOOTER_LEN`] bytes.
pub fn trailer_span(id: &Id, footer: &[u8]) -> Result<usize> {
    let name = bundle_name(id);
    if footer.len() < FOOTER_LEN || footer[footer.len() - 4..] != FOOTER_MAGIC[..] {
        return Err(Error::corrupt(&name, "no bundle footer (truncated?)"));
    }
    let at = footer.len() - FOOTER_LEN;
    let len =
        u32::from_le_bytes([footer[at], footer[at + 1], footer[at + 2], footer[at + 3]]) as usize;
    Ok(len + FOOTER_LEN)
}

/// Reads the blob list of bundle `id` from its last bytes (`tail` must hold
/// at least the trailer and footer, e.g. the whole bundle).
pub fn read_trailer(
    keys: &VaultKeys,
    vault_id: &VaultId,
    id: &Id,
    tail: &[u8],
) -> Result<Vec<BundleEntry>> {
    let name = bundle_name(id);
    let span = trailer_span(id, tail)?;
    if span > tail.len() || span < FOOTER_LEN + NONCE_LEN + TAG_LEN {
        return Err(Error::corrupt(&name, "trailer length out of range"));
    }
    let trailer = &tail[tail.len() - span..tail.len() - FOOTER_LEN];
    let (nonce, sealed) = trailer.split_at(NONCE_LEN);
    let mut n = [0u8; NONCE_LEN];
    n.copy_from_slice(nonce);
    let plain = keys
        .metadata
        .open(&n, &trailer_aad(vault_id), sealed)
        .ok_or_else(|| {
            Error::corrupt(
                &name,
                "trailer authentication failed (changed, or another vault's)",
            )
        })?;
    let mut r = Reader::new(&name, &plain);
    let count = r.u32()? as usize;
    let mut entries = Vec::with_capacity(count.min(plain.len() / RECORD_LEN));
    for _ in 0..count {
        let id = r.id()?;
        let kind = BlobType::from_byte(r.u8()?)
            .ok_or_else(|| Error::corrupt(&name, "unknown blob type"))?;
        entries.push(BundleEntry {
            id,
            kind,
            offset: r.u32()?,
            length: r.u32()?,
            raw_len: r.u32()?,
        });
    }
    if !r.is_empty() {
        return Err(Error::corrupt(&name, "trailing bytes after the blob list"));
    }
    Ok(entries)
}

/// Checks a whole bundle: its id, header and trailer, and that every listed
/// blob lies inside it. Returns the blob list (the blobs themselves are
/// checked when opened).
pub fn check_bundle(
    keys: &VaultKeys,
    vault_id: &VaultId,
    id: &Id,
    bytes: &[u8],
) -> Result<Vec<BundleEntry>> {
    let name = bundle_name(id);
    // The id first: bytes that are not this bundle's are corrupt, whatever
    // their header happens to say.
    if Id(hash(bytes)) != *id {
        return Err(Error::corrupt(&name, "content does not match its id"));
    }
    check_header(ObjectKind::Bundle, Some(vault_id), &name, bytes)?;
    let entries = read_trailer(keys, vault_id, id, bytes)?;
    let blobs_end = bytes.len() - trailer_span(id, bytes)?;
    for e in &entries {
        let end = e.offset as usize + e.length as usize;
        if (e.offset as usize) < HEADER_LEN || end > blobs_end {
            return Err(Error::corrupt(
                &name,
                format!("blob {} lies outside the bundle", e.id.short()),
            ));
        }
    }
    Ok(entries)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::blob::{blob_id, open_blob, seal_blob, Compressor};
    use crate::engine::keys::MasterKey;

    /// The id hashed as the blobs are added is BLAKE3 of the
    /// sealed bundle's bytes, whichever way the blobs came in (sealed in
    /// place, copied, larger than a hashing piece) and after the bundle
    /// moved into another buffer.
    #[test]
    fn the_incremental_id_is_the_hash_of_the_bytes() {
        let keys = MasterKey::from_bytes([4; 32]).derive();
        let vault = [7; 16];
        let mut c = Compressor::new(3).unwrap();
        let mut w = BundleWriter::new(vault, 16);
        let noise = crate::engine::noise::noise(0x9e37_79b9_7f4a_7c15, 3 * HASH_PIECE + 123);
        let blob = seal_blob(
            &keys,
            &vault,
            &mut c,
            BlobType::Data,
            blob_id(&keys, &noise),
            &noise,
        )
        .unwrap();
        w.add(&blob).unwrap();
        w.use_buffer(Vec::with_capacity(1 << 20));
        let text = b"text text text text text text".repeat(5000);
        w.seal_and_add(&keys, &mut c, BlobType::Data, blob_id(&keys, &text), &text)
            .unwrap();
        w.add_sealed(blob.id, blob.kind, blob.raw_len, &blob.bytes)
            .unwrap();
        let b = w.seal(&keys).unwrap();
        assert_eq!(b.id, Id(hash(&b.bytes)));
        assert_eq!(
            check_bundle(&keys, &vault, &b.id, &b.bytes).unwrap(),
            b.entries
        );
        let empty = BundleWriter::new(vault, 0).seal(&keys).unwrap();
        assert_eq!(empty.id, Id(hash(&empty.bytes)));
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(64))]

        /// Whatever the blobs' lengths, and wherever they end against a
        /// hashing piece (exactly on its edge, one or two bytes past it),
        /// the id is BLAKE3 of the sealed bytes.
        #[test]
        fn the_id_is_the_hash_of_the_bytes_wherever_blobs_end(
            steps in proptest::collection::vec((0u8..4, 0usize..3 * HASH_PIECE), 0..8),
        ) {
            let keys = MasterKey::from_bytes([5; 32]).derive();
            let vault = [3; 16];
            let mut c = Compressor::new(3).unwrap();
            let mut w = BundleWriter::new(vault, 0);
            // Noise, so that a blob sealed in place stays about its size.
            let bytes = |n: usize| crate::engine::noise::noise(0x9e37_79b9_7f4a_7c15 ^ n as u64, n);
            for (step, n) in steps {
                match step {
                    // Up to a piece's edge, then 0-2 bytes more.
                    0 => {
                        let to_edge = HASH_PIECE - w.len() % HASH_PIECE;
                        w.add_sealed(Id([1; 32]), BlobType::Data, 0, &bytes(to_edge + n % 3)).unwrap();
                    }
                    1 => w.add_sealed(Id([2; 32]), BlobType::Data, 0, &bytes(n)).unwrap(),
                    2 => {
                        let data = bytes(n);
                        w.seal_and_add(&keys, &mut c, BlobType::Data, blob_id(&keys, &data), &data)
                            .unwrap();
                    }
                    _ => w.use_buffer(Vec::with_capacity(n)),
                }
            }
            let b = w.seal(&keys).unwrap();
            proptest::prop_assert_eq!(b.id, Id(hash(&b.bytes)));
        }
    }

    #[test]
    fn bundles_list_their_blobs_and_detect_tampering() {
        let keys = MasterKey::from_bytes([3; 32]).derive();
        let vault = [9; 16];
        let mut c = Compressor::new(3).unwrap();
        let mut w = BundleWriter::new(vault, 1024);
        for data in [&b"one"[..], b"two two two two", b"three"] {
            let blob = seal_blob(
                &keys,
                &vault,
                &mut c,
                BlobType::Data,
                blob_id(&keys, data),
                data,
            )
            .unwrap();
            w.add(&blob).unwrap();
        }
        let b = w.seal(&keys).unwrap();
        let entries = check_bundle(&keys, &vault, &b.id, &b.bytes).unwrap();
        assert_eq!(entries, b.entries);
        let e = entries[1];
        let blob = &b.bytes[e.offset as usize..(e.offset + e.length) as usize];
        assert_eq!(
            open_blob(&keys, &vault, e.kind, &e.id, e.raw_len, blob, "x").unwrap(),
            b"two two two two"
        );
        // The tail alone is enough to read the trailer.
        let span = trailer_span(&b.id, &b.bytes).unwrap();
        assert_eq!(
            read_trailer(&keys, &vault, &b.id, &b.bytes[b.bytes.len() - span..]).unwrap(),
            entries
        );
        for i in 0..b.bytes.len() {
            let mut t = b.bytes.clone();
            t[i] ^= 1;
            assert!(check_bundle(&keys, &vault, &b.id, &t).is_err(), "byte {i}");
        }
        assert!(check_bundle(&keys, &vault, &b.id, &b.bytes[..b.bytes.len() - 3]).is_err());
        let foreign = check_bundle(&keys, &[1; 16], &b.id, &b.bytes).unwrap_err();
        assert_eq!(
            check_bundle(&keys, &vault, &Id([0; 32]), &b.bytes)
                .unwrap_err()
                .code(),
            crate::ErrorCode::Corrupt
        );
        assert_eq!(foreign.code(), crate::ErrorCode::ForeignVault);
    }
}
