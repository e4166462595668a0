//! Repair, sans-IO: rebuilds lost or unreadable index deltas from the
//! bundles themselves (each bundle's trailer lists its blobs) and sets
//! aside unreadable index deltas and snapshots, so that listing, restore
//! and gc work again. Run under an exclusive lock.
//!
//! ```text
//! let plan = state.repair_plan();
//! for name in &plan.set_aside { copy name -> layout::set_aside_name(..); delete name }
//! let mut r = IndexRebuild::new(&state);
//! for b in &plan.bundles_to_read { match get(b) { Ok(bytes) => r.feed(b, &bytes), Err(e) => r.unreadable(b, e) } }
//! let out = r.finish()?;   // store out.index (if any) as index/<id>; show out.report
//! ```
//!
//! Nothing is deleted for good: set-aside objects move to `lost+found/`,
//! and a bundle that cannot be read is reported and left where it is.

use std::collections::HashSet;

use serde::Serialize;

use super::bundle::check_bundle;
use super::crypto::Id;
use super::format::ObjectKind;
use super::index::{Index, Location};
use super::layout;
use super::object::SealedObject;
use super::state::VaultState;
use super::vault::Vault;
use crate::{Error, Result};

/// What repair has to do, from a [`VaultState`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RepairPlan {
    /// Names of unreadable index deltas and snapshots: move each to
    /// [`layout::set_aside_name`] (copy, then delete), or just note it
    /// when it cannot be fetched at all.
    pub set_aside: Vec<String>,
    /// Bundles no readable index references: fetch each whole and feed it
    /// to [`IndexRebuild::feed`].
    pub bundles_to_read: Vec<Id>,
}

impl VaultState {
    /// What `repair` must do: see [`RepairPlan`].
    pub fn repair_plan(&self) -> RepairPlan {
        let mut set_aside: Vec<String> = self
            .unreadable_indexes()
            .into_iter()
            .map(|(id, _)| layout::object_name(ObjectKind::Index, &id))
            .collect();
        set_aside.extend(
            self.unreadable_snapshots()
                .into_iter()
                .map(|(id, _)| layout::object_name(ObjectKind::Snapshot, &id)),
        );
        let bundles_to_read = self
            .unindexed_bundles()
            .into_iter()
            .filter_map(|l| match layout::parse_name(&l.name) {
                layout::StoredName::Object { id, .. } => Some(id),
                _ => None,
            })
            .collect();
        RepairPlan {
            set_aside,
            bundles_to_read,
        }
    }
}

/// What repair did.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct RepairReport {
    /// Index deltas set aside (unreadable).
    pub indexes_set_aside: Vec<String>,
    /// Snapshots set aside (unreadable).
    pub snapshots_set_aside: Vec<String>,
    /// Bundles read to rebuild the index.
    pub bundles_read: u64,
    /// Bundles whose blobs the new index delta lists.
    pub bundles_indexed: u64,
    /// Blobs it lists.
    pub blobs_indexed: u64,
    /// Bundles that could not be read (object name, why): left in place.
    pub bundles_unreadable: Vec<(String, String)>,
    /// Snapshots still using blobs that no bundle holds (object name, how
    /// many): data lost before repair; restoring them reports those files.
    pub snapshots_damaged: Vec<(String, u64)>,
}

/// What [`IndexRebuild::finish`] produced.
#[derive(Debug, Clone)]
pub struct RepairOutcome {
    /// The new index delta to store (None when nothing was missing).
    pub index: Option<SealedObject>,
    /// What was done.
    pub report: RepairReport,
}

/// Rebuilds index entries from whole bundles.
#[derive(Debug)]
pub struct IndexRebuild {
    vault: Vault,
    known: Index,
    added: Index,
    bundles_added: HashSet<Id>,
    used: Vec<(Id, HashSet<Id>)>,
    report: RepairReport,
}

impl IndexRebuild {
    /// A rebuild for `state` (its readable index is what is known already;
    /// its plan's set-aside objects are recorded in the report).
    pub fn new(state: &VaultState) -> Self {
        let plan = state.repair_plan();
        let mut report = RepairReport::default();
        for name in plan.set_aside {
            if name.starts_with("index/") {
                report.indexes_set_aside.push(name);
            } else {
                report.snapshots_set_aside.push(name);
            }
        }
        let used = state
            .snapshots()
            .into_iter()
            .map(|(id, s)| {
                let blobs = s
                    .entries
                    .iter()
                    .flat_map(|e| e.chunks.iter())
                    .copied()
                    .collect();
                (*id, blobs)
            })
            .collect();
        IndexRebuild {
            vault: state.vault().clone(),
            known: state.index().clone(),
            added: Index::new(),
            bundles_added: HashSet::new(),
            used,
            report,
        }
    }

    /// Checks the whole bundle `bundle` (id, header, trailer) and indexes
    /// every blob it holds that no index lists yet. A damaged bundle is
    /// reported, and its error returned.
    pub fn feed(&mut self, bundle: &Id, bytes: &[u8]) -> Result<()> {
        self.report.bundles_read += 1;
        let entries = match check_bundle(self.vault.keys(), self.vault.id(), bundle, bytes) {
            Ok(e) => e,
            Err(e) => {
                self.unreadable(bundle, &e.to_string());
                return Err(e);
            }
        };
        for e in entries {
            if self.known.contains(&e.id) || self.added.contains(&e.id) {
                continue;
            }
            self.added.insert(
                e.id,
                Location {
                    bundle: *bundle,
                    kind: e.kind,
                    offset: e.offset,
                    length: e.length,
                    raw_len: e.raw_len,
                },
            );
            self.bundles_added.insert(*bundle);
        }
        Ok(())
    }

    /// The host could not fetch `bundle` (`reason`).
    pub fn unreadable(&mut self, bundle: &Id, reason: &str) {
        self.report.bundles_unreadable.push((
            layout::object_name(ObjectKind::Bundle, bundle),
            reason.to_string(),
        ));
    }

    /// Seals the new index delta (if any blob was missing) and finishes
    /// the report, listing the snapshots that stay damaged.
    pub fn finish(mut self) -> Result<RepairOutcome> {
        self.report.bundles_indexed = self.bundles_added.len() as u64;
        self.report.blobs_indexed = self.added.len() as u64;
        for (snap, blobs) in &self.used {
            let lost = blobs
                .iter()
                .filter(|b| !self.known.contains(b) && !self.added.contains(b))
                .count() as u64;
            if lost > 0 {
                self.report
                    .snapshots_damaged
                    .push((layout::object_name(ObjectKind::Snapshot, snap), lost));
            }
        }
        let index = if self.added.is_empty() {
            None
        } else {
            Some(Index::seal_delta(
                self.vault.keys(),
                self.vault.id(),
                self.added.iter(),
            )?)
        };
        Ok(RepairOutcome {
            index,
            report: self.report,
        })
    }
}

/// Checks that `name` is one of `plan`'s set-aside names and returns where
/// it goes (hosts move only what the plan names).
pub fn set_aside_target(plan: &RepairPlan, name: &str) -> Result<String> {
    if !plan.set_aside.iter().any(|n| n == name) {
        return Err(Error::argument(
            "name",
            format!("{name} is not an object this repair sets aside"),
        ));
    }
    match layout::parse_name(name) {
        layout::StoredName::Object { kind, id } => Ok(layout::set_aside_name(kind, &id)),
        _ => Err(Error::argument(
            "name",
            format!("{name} is not an object name"),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::state::tests::{state_of, stored};

    #[test]
    fn a_lost_index_is_rebuilt_from_the_bundles() {
        let mut s = stored(&[(1, 0), (2, 0)]);
        let lost = layout::object_name(ObjectKind::Index, &s.indexes[0]);
        s.objects.remove(&lost);
        let st = state_of(&s, 0);
        let plan = st.repair_plan();
        assert!(plan.set_aside.is_empty());
        assert_eq!(plan.bundles_to_read.len(), 1);
        let mut r = IndexRebuild::new(&st);
        for b in &plan.bundles_to_read {
            r.feed(b, &s.objects[&layout::object_name(ObjectKind::Bundle, b)])
                .unwrap();
        }
        let out = r.finish().unwrap();
        assert_eq!(out.report.blobs_indexed, 1);
        assert!(out.report.snapshots_damaged.is_empty());
        let index = out.index.unwrap();
        s.objects.insert(
            layout::object_name(ObjectKind::Index, &index.id),
            index.bytes,
        );
        let st = state_of(&s, 0);
        assert!(st.problems().is_empty(), "{:?}", st.problems());
        assert!(st.gc_plan(1, 0).is_ok());
    }

    #[test]
    fn unreadable_objects_are_set_aside_and_lost_data_reported() {
        let mut s = stored(&[(1, 0), (2, 0)]);
        let snap = layout::object_name(ObjectKind::Snapshot, &s.snapshots[0]);
        s.objects.get_mut(&snap).unwrap()[30] ^= 1;
        let idx = layout::object_name(ObjectKind::Index, &s.indexes[1]);
        s.objects.get_mut(&idx).unwrap()[30] ^= 1;
        // The second backup's bundle is gone too: its snapshot stays damaged.
        let bundles: Vec<String> = s
            .objects
            .keys()
            .filter(|k| k.starts_with("bundles/"))
            .cloned()
            .collect();
        let st = state_of(&s, 0);
        let plan = st.repair_plan();
        assert_eq!(plan.set_aside, vec![idx.clone(), snap.clone()]);
        assert_eq!(
            set_aside_target(&plan, &snap).unwrap(),
            format!("lost+found/{snap}")
        );
        assert!(set_aside_target(&plan, "bundles/x").is_err());
        let mut r = IndexRebuild::new(&st);
        let mut fed = 0;
        for b in &plan.bundles_to_read {
            let name = layout::object_name(ObjectKind::Bundle, b);
            if name == bundles[0] || name == bundles[1] {
                // Feed one bundle damaged, so it is reported.
                let mut bytes = s.objects[&name].clone();
                if fed == 0 {
                    bytes[40] ^= 1;
                    assert!(r.feed(b, &bytes).is_err());
                } else {
                    r.feed(b, &bytes).unwrap();
                }
                fed += 1;
            }
        }
        let out = r.finish().unwrap();
        assert_eq!(out.report.indexes_set_aside, vec![idx]);
        assert_eq!(out.report.snapshots_set_aside, vec![snap]);
        assert_eq!(out.report.bundles_unreadable.len(), 1);
        assert_eq!(out.report.snapshots_damaged.len(), 1, "{:?}", out.report);
    }
}
