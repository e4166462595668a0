//! Vault verification, sans-IO: [`verify_plan`] names the bundles to check
//! (all, or a seeded sample), the host fetches each whole bundle and feeds
//! it to a [`Verifier`], which checks the bundle (id, header, trailer) and
//! opens every blob the index expects in it.
//!
//! ```text
//! let mut v = Verifier::new(&vault, &index);
//! for f in verify_plan(&index, 0.1, seed)? {
//!     match get(f.bundle) { Ok(bytes) => { let _ = v.feed(&f.bundle, &bytes); }, Err(_) => v.missing(&f.bundle) }
//! }
//! let report = v.finish();   // report.problems lists everything that failed
//! ```

use std::collections::{HashMap, HashSet};

use serde::ser::{Serialize, SerializeMap, SerializeStruct, Serializer};

use super::blob::open_blob;
use super::bundle::{bundle_name, check_bundle};
use super::crypto::{hash, Id};
use super::format::ObjectKind;
use super::index::{Index, Location};
use super::restore::{blob_name, Fetch};
use super::state::VaultState;
use super::vault::Vault;
use crate::{Error, Result};

/// The bundles to verify: all of them when `fraction` is 1, else a sample
/// of `ceil(fraction × bundles)` chosen by `seed` (the same seed and index
/// give the same sample). Each [`Fetch`] asks for the whole bundle.
pub fn verify_plan(index: &Index, fraction: f64, seed: u64) -> Result<Vec<Fetch>> {
    if !(0.0..=1.0).contains(&fraction) {
        return Err(Error::argument(
            "fraction",
            format!("{fraction} is outside 0..=1"),
        ));
    }
    let mut bundles = index.bundles();
    if fraction < 1.0 {
        let wanted = (fraction * bundles.len() as f64).ceil() as usize;
        // Rank by a hash of seed and id: a uniform, reproducible shuffle.
        let rank = |id: &Id| {
            let mut input = [0u8; 40];
            input[..8].copy_from_slice(&seed.to_le_bytes());
            input[8..].copy_from_slice(&id.0);
            hash(&input)
        };
        bundles.sort_by_cached_key(rank);
        bundles.truncate(wanted);
    }
    Ok(bundles
        .into_iter()
        .map(|bundle| Fetch {
            bundle,
            ranges: Vec::new(),
        })
        .collect())
}

/// What a verification found.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct VerifyReport {
    /// Bundles fed (or reported missing).
    pub bundles_checked: u64,
    /// Blobs opened (whether or not they verified).
    pub blobs_checked: u64,
    /// Bundle bytes fed.
    pub bytes_checked: u64,
    /// Snapshots looked at (with [`Verifier::for_state`]).
    pub snapshots_checked: u64,
    /// Index deltas looked at (with [`Verifier::for_state`]).
    pub indexes_checked: u64,
    /// Bundles no index references: a backup in flight, or left by a
    /// failed one (gc removes them once old, repair indexes them). Not a
    /// problem.
    pub unindexed_bundles: u64,
    /// Temporary objects left in the vault (gc removes them once old). Not
    /// a problem.
    pub temporary_objects: Vec<String>,
    /// Every problem: the object it concerns and the typed error.
    pub problems: Vec<(String, Error)>,
}

/// JSON: `{"ok", "bundles_checked", "blobs_checked", "bytes_checked",
/// "snapshots_checked", "indexes_checked", "unindexed_bundles",
/// "temporary_objects": [names], "problems": [{"object", "code",
/// "message"}]}`, `code` being
/// [`crate::ErrorCode::as_str`] of the problem's error.
impl Serialize for VerifyReport {
    fn serialize<S: Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        struct Problem<'a>(&'a str, &'a Error);
        impl Serialize for Problem<'_> {
            fn serialize<S: Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
                let mut m = s.serialize_map(Some(3))?;
                m.serialize_entry("object", self.0)?;
                m.serialize_entry("code", self.1.code().as_str())?;
                m.serialize_entry("message", &self.1.to_string())?;
                m.end()
            }
        }
        let problems: Vec<Problem<'_>> = self.problems.iter().map(|(o, e)| Problem(o, e)).collect();
        let mut st = s.serialize_struct("VerifyReport", 9)?;
        st.serialize_field("ok", &self.is_ok())?;
        st.serialize_field("bundles_checked", &self.bundles_checked)?;
        st.serialize_field("blobs_checked", &self.blobs_checked)?;
        st.serialize_field("bytes_checked", &self.bytes_checked)?;
        st.serialize_field("snapshots_checked", &self.snapshots_checked)?;
        st.serialize_field("indexes_checked", &self.indexes_checked)?;
        st.serialize_field("unindexed_bundles", &self.unindexed_bundles)?;
        st.serialize_field("temporary_objects", &self.temporary_objects)?;
        st.serialize_field("problems", &problems)?;
        st.end()
    }
}

/// One `(object, error)` problem as the bindings list them outside a
/// report (vault state problems, unreadable snapshots): JSON `{"object",
/// "code", "message"}`, `code` being [`crate::ErrorCode::as_str`].
pub fn problem_json(object: &str, error: &Error) -> serde_json::Value {
    serde_json::json!({"object": object, "code": error.code().as_str(), "message": error.to_string()})
}

impl VerifyReport {
    /// Whether nothing was wrong.
    pub fn is_ok(&self) -> bool {
        self.problems.is_empty()
    }
}

/// Checks fetched bundles against the index.
pub struct Verifier {
    /// A clone (cheap: keys and settings) so the session borrows nothing.
    vault: Vault,
    /// Per bundle, the blobs the index places in it.
    expected: HashMap<Id, Vec<(Id, Location)>>,
    /// Indexed bundles the listing does not show (already reported).
    absent: HashSet<Id>,
    report: VerifyReport,
}

impl Verifier {
    /// A verifier of `vault`'s bundles against `index`.
    pub fn new(vault: &Vault, index: &Index) -> Self {
        let mut expected: HashMap<Id, Vec<(Id, Location)>> = HashMap::new();
        for (blob, location) in index.iter() {
            expected
                .entry(location.bundle)
                .or_default()
                .push((*blob, *location));
        }
        for blobs in expected.values_mut() {
            blobs.sort_by_key(|(_, l)| l.offset);
        }
        Verifier {
            vault: vault.clone(),
            expected,
            absent: HashSet::new(),
            report: VerifyReport::default(),
        }
    }

    /// A verifier of a whole vault as `state` read it: the report starts
    /// with what the listing, the index deltas and the snapshots show
    /// ([`VaultState::problems`]: unreadable snapshots and indexes, blobs
    /// no index lists, indexed bundles missing from storage), and the
    /// bundles to fetch are [`Verifier::plan`]'s.
    pub fn for_state(state: &VaultState) -> Self {
        let mut v = Verifier::new(state.vault(), state.index());
        let listed = |k| state.listed(k).count() as u64;
        v.report.snapshots_checked = listed(ObjectKind::Snapshot);
        v.report.indexes_checked = listed(ObjectKind::Index);
        v.report.unindexed_bundles = state.unindexed_bundles().len() as u64;
        v.report.temporary_objects = state.temporary().iter().map(|l| l.name.clone()).collect();
        v.report.problems = state.problems();
        v.absent = state.missing_bundles().into_iter().collect();
        v
    }

    /// The bundles to fetch whole and [`feed`](Self::feed): all indexed
    /// ones (or a seeded sample, see [`verify_plan`]), less those the
    /// listing already showed missing (reported as problems).
    pub fn plan(&self, index: &Index, fraction: f64, seed: u64) -> Result<Vec<Fetch>> {
        let mut plan = verify_plan(index, fraction, seed)?;
        plan.retain(|f| !self.absent.contains(&f.bundle));
        Ok(plan)
    }

    /// Checks the whole bundle `bundle`: its id (BLAKE3 of the bytes), header
    /// and trailer, then every blob the index expects in it (listed in the
    /// trailer at the same place, and opening to its id). Every problem goes
    /// into the report; the first is also returned.
    pub fn feed(&mut self, bundle: &Id, bytes: &[u8]) -> Result<()> {
        self.report.bundles_checked += 1;
        self.report.bytes_checked += bytes.len() as u64;
        let first = self.report.problems.len();
        self.check(bundle, bytes);
        match self.report.problems.get(first) {
            Some((_, e)) => Err(e.clone()),
            None => Ok(()),
        }
    }

    /// The host cannot fetch `bundle`: a [`Error::NotFound`] problem.
    pub fn missing(&mut self, bundle: &Id) {
        self.report.bundles_checked += 1;
        self.report.problems.push((
            bundle_name(bundle),
            Error::NotFound {
                what: "bundle".into(),
                id: bundle.to_hex(),
            },
        ));
    }

    /// The report so far.
    pub fn report(&self) -> &VerifyReport {
        &self.report
    }

    /// Ends the verification.
    pub fn finish(self) -> VerifyReport {
        self.report
    }

    fn check(&mut self, bundle: &Id, bytes: &[u8]) {
        let (keys, vault_id) = (self.vault.keys(), self.vault.id());
        let name = bundle_name(bundle);
        let entries = match check_bundle(keys, vault_id, bundle, bytes) {
            Ok(entries) => entries,
            Err(e) => {
                self.report.problems.push((name, e));
                return;
            }
        };
        let listed: HashMap<Id, _> = entries.iter().map(|e| (e.id, e)).collect();
        let expected = self.expected.get(bundle).map(Vec::as_slice).unwrap_or(&[]);
        for (blob, l) in expected {
            let object = blob_name(blob, bundle);
            let Some(entry) = listed.get(blob) else {
                let e = Error::NotFound {
                    what: "blob".into(),
                    id: format!("{} (the index places it in {name})", blob.to_hex()),
                };
                self.report.problems.push((object, e));
                continue;
            };
            if (entry.kind, entry.offset, entry.length, entry.raw_len)
                != (l.kind, l.offset, l.length, l.raw_len)
            {
                let e = Error::corrupt(&object, "the index and the bundle disagree on its place");
                self.report.problems.push((object, e));
                continue;
            }
            self.report.blobs_checked += 1;
            let start = l.offset as usize;
            let sealed = bytes.get(start..start.saturating_add(l.length as usize));
            let opened = match sealed {
                Some(sealed) => {
                    open_blob(keys, vault_id, l.kind, blob, l.raw_len, sealed, &object).map(drop)
                }
                None => Err(Error::corrupt(&object, "lies outside the bundle")),
            };
            if let Err(e) = opened {
                self.report.problems.push((object, e));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::format::BlobType;
    use crate::ErrorCode;

    fn index_of(bundles: u8) -> Index {
        let mut index = Index::new();
        for b in 0..bundles {
            for k in 0..3u8 {
                index.insert(
                    Id([b * 3 + k; 32]),
                    Location {
                        bundle: Id([b; 32]),
                        kind: BlobType::Data,
                        offset: 22 + u32::from(k) * 100,
                        length: 100,
                        raw_len: 80,
                    },
                );
            }
        }
        index
    }

    #[test]
    fn plans_take_all_or_a_seeded_sample() {
        let index = index_of(40);
        let all = verify_plan(&index, 1.0, 0).unwrap();
        assert_eq!(all.len(), 40);
        assert!(all.iter().all(Fetch::is_whole));
        assert!(verify_plan(&index, 0.0, 0).unwrap().is_empty());
        let a = verify_plan(&index, 0.25, 7).unwrap();
        assert_eq!(a.len(), 10);
        assert_eq!(a, verify_plan(&index, 0.25, 7).unwrap(), "same seed");
        assert_ne!(a, verify_plan(&index, 0.25, 8).unwrap(), "other seed");
        assert_eq!(verify_plan(&index, 0.001, 7).unwrap().len(), 1);
        for bad in [-0.1, 1.5, f64::NAN] {
            assert_eq!(
                verify_plan(&index, bad, 0).unwrap_err().code(),
                ErrorCode::InvalidArgument
            );
        }
    }

    #[test]
    fn a_whole_vault_check_reports_what_the_listing_and_metadata_show() {
        use crate::engine::layout;
        use crate::engine::state::tests::{state_of, stored};
        let mut s = stored(&[(1, 0), (2, 0), (3, 0)]);
        // One index lost, one indexed bundle gone, one snapshot corrupt.
        s.objects
            .remove(&layout::object_name(ObjectKind::Index, &s.indexes[0]));
        let indexed = state_of(&s, 0).index().bundles();
        let gone = layout::object_name(ObjectKind::Bundle, &indexed[0]);
        s.objects.remove(&gone);
        let snap = layout::object_name(ObjectKind::Snapshot, &s.snapshots[2]);
        s.objects.get_mut(&snap).unwrap()[30] ^= 1;
        let mut st = state_of(&s, 0);
        st.add_listed(crate::engine::layout::Listed {
            name: "bundles/abc.tmp".into(),
            size: 1,
            mtime_ns: 0,
        });
        let v = Verifier::for_state(&st);
        let r = v.report();
        assert_eq!((r.snapshots_checked, r.indexes_checked), (3, 2));
        assert_eq!(r.temporary_objects, vec!["bundles/abc.tmp".to_string()]);
        let objects: Vec<&str> = r.problems.iter().map(|(o, _)| o.as_str()).collect();
        assert_eq!(objects.len(), 3, "{objects:?}");
        let mut codes: Vec<ErrorCode> = r.problems.iter().map(|(_, e)| e.code()).collect();
        codes.sort_by_key(|c| c.as_str());
        assert_eq!(
            codes,
            vec![ErrorCode::Corrupt, ErrorCode::NotFound, ErrorCode::NotFound],
            "the corrupt snapshot, the lost index's blobs, the missing bundle"
        );
        let plan = v.plan(st.index(), 1.0, 0).unwrap();
        let planned: Vec<String> = plan
            .iter()
            .map(|f| layout::object_name(ObjectKind::Bundle, &f.bundle))
            .collect();
        assert!(!planned.contains(&gone), "a missing bundle is not fetched");
        assert!(!r.is_ok());
    }
}
