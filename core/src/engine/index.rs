//! The index: where each blob lives (bundle, offset, length). Each backup
//! writes an index *delta* object with the blobs it added; a vault's index is
//! the union of its deltas.
//!
//! Delta plaintext: `count(u32) || record*`, record =
//! `blob id(32) || bundle id(32) || type(1) || offset(u32) || length(u32) || raw_len(u32)`.

use std::collections::{HashMap, HashSet};

use super::bundle::SealedBundle;
use super::crypto::Id;
use super::format::{BlobType, ObjectKind, Reader, VaultId};
use super::keys::VaultKeys;
use super::object::{object_name, open_object, seal_object, SealedObject};
use crate::{Error, Result};

const RECORD_LEN: usize = 32 + 32 + 1 + 4 + 4 + 4;

/// Where a blob lives.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Location {
    /// The bundle holding it.
    pub bundle: Id,
    /// Its type.
    pub kind: BlobType,
    /// Offset of the sealed blob in the bundle.
    pub offset: u32,
    /// Length of the sealed blob.
    pub length: u32,
    /// Length of its plaintext.
    pub raw_len: u32,
}

/// Blob id -> location, for dedup and restore.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Index {
    map: HashMap<Id, Location>,
    /// Every bundle some record names, including records that lost to an
    /// earlier copy of the same blob: such a bundle is still referenced
    /// (a later reader may take that record), so gc must keep it.
    referenced: HashSet<Id>,
    /// Records inserted, counting repeats: more than `len()` means some
    /// blob is listed twice (a second copy, or deltas a killed prune left).
    records: usize,
}

impl Index {
    /// An empty index.
    pub fn new() -> Self {
        Index::default()
    }

    /// Where `blob` lives, if known.
    pub fn get(&self, blob: &Id) -> Option<&Location> {
        self.map.get(blob)
    }

    /// Whether `blob` is stored.
    pub fn contains(&self, blob: &Id) -> bool {
        self.map.contains_key(blob)
    }

    /// Number of blobs.
    pub fn len(&self) -> usize {
        self.map.len()
    }

    /// Records read, repeats included (see [`Index::len`] for blobs).
    pub fn records(&self) -> usize {
        self.records
    }

    /// Whether there are no blobs.
    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }

    /// Records a blob's location (the first location of a blob wins).
    pub fn insert(&mut self, blob: Id, location: Location) {
        self.referenced.insert(location.bundle);
        self.records += 1;
        self.map.entry(blob).or_insert(location);
    }

    /// Adds every blob of a sealed bundle.
    pub fn add_bundle(&mut self, bundle: &SealedBundle) {
        for (blob, location) in bundle.locations() {
            self.insert(blob, location);
        }
    }

    /// Every bundle some record places a blob in (also records of a
    /// blob that lost to another copy), sorted, each once.
    pub fn bundles(&self) -> Vec<Id> {
        let mut out: Vec<Id> = self.referenced.iter().copied().collect();
        out.sort_unstable();
        out
    }

    /// All (blob, location) pairs, in no particular order.
    pub fn iter(&self) -> impl Iterator<Item = (&Id, &Location)> {
        self.map.iter()
    }

    /// Merges a stored index delta into this index.
    pub fn load_delta(
        &mut self,
        keys: &VaultKeys,
        vault_id: &VaultId,
        id: &Id,
        bytes: &[u8],
    ) -> Result<()> {
        let plain = open_object(keys, vault_id, ObjectKind::Index, id, bytes)?;
        let name = object_name(ObjectKind::Index, id);
        let mut r = Reader::new(&name, &plain);
        let count = r.u32()? as usize;
        if plain.len() != 4 + count * RECORD_LEN {
            return Err(Error::corrupt(
                &name,
                "record count does not match its length",
            ));
        }
        for _ in 0..count {
            let blob = r.id()?;
            let bundle = r.id()?;
            let kind = BlobType::from_byte(r.u8()?)
                .ok_or_else(|| Error::corrupt(&name, "unknown blob type"))?;
            let location = Location {
                bundle,
                kind,
                offset: r.u32()?,
                length: r.u32()?,
                raw_len: r.u32()?,
            };
            self.insert(blob, location);
        }
        Ok(())
    }

    /// Seals the given blobs (typically those a backup added) as an index delta.
    pub fn seal_delta<'a>(
        keys: &VaultKeys,
        vault_id: &VaultId,
        blobs: impl IntoIterator<Item = (&'a Id, &'a Location)>,
    ) -> Result<SealedObject> {
        let mut records: Vec<(&Id, &Location)> = blobs.into_iter().collect();
        // Sorted so the same set of blobs always seals to the same id.
        records.sort_by(|a, b| a.0.cmp(b.0));
        let count =
            u32::try_from(records.len()).map_err(|_| Error::argument("index", "too many blobs"))?;
        let mut plain = Vec::with_capacity(4 + records.len() * RECORD_LEN);
        plain.extend_from_slice(&count.to_le_bytes());
        for (blob, l) in records {
            plain.extend_from_slice(&blob.0);
            plain.extend_from_slice(&l.bundle.0);
            plain.push(l.kind as u8);
            plain.extend_from_slice(&l.offset.to_le_bytes());
            plain.extend_from_slice(&l.length.to_le_bytes());
            plain.extend_from_slice(&l.raw_len.to_le_bytes());
        }
        seal_object(keys, vault_id, ObjectKind::Index, &plain)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::keys::MasterKey;

    #[test]
    fn deltas_round_trip_and_merge() {
        let keys = MasterKey::from_bytes([3; 32]).derive();
        let vault = [9; 16];
        let loc = |n: u8| Location {
            bundle: Id([n; 32]),
            kind: BlobType::Data,
            offset: n as u32,
            length: 10,
            raw_len: 20,
        };
        let mut a = Index::new();
        a.insert(Id([1; 32]), loc(1));
        a.insert(Id([2; 32]), loc(2));
        let delta = Index::seal_delta(&keys, &vault, a.iter()).unwrap();
        let mut b = Index::new();
        b.insert(Id([1; 32]), loc(7));
        b.load_delta(&keys, &vault, &delta.id, &delta.bytes)
            .unwrap();
        assert_eq!(b.len(), 2);
        assert_eq!(b.get(&Id([1; 32])), Some(&loc(7)), "first location wins");
        assert_eq!(b.get(&Id([2; 32])), Some(&loc(2)));
        let mut t = delta.bytes.clone();
        let last = t.len() - 1;
        t[last] ^= 1;
        assert!(b.load_delta(&keys, &vault, &delta.id, &t).is_err());
    }
}
