//! What a host has read of a vault: its listing, every index delta and
//! snapshot (or why one could not be read). The rules that need the whole
//! picture live here, once, for every host: which snapshot `latest` or an
//! id prefix means, what gc may delete ([`VaultState::gc_plan`]), what
//! `repair` must rebuild ([`super::repair`]) and what `verify` reports
//! besides bundle contents ([`VaultState::problems`]).
//!
//! ```text
//! let mut s = VaultState::new(&vault);
//! for o in storage.list_all() { s.add_listed(o) }           // names, sizes, mtimes
//! for name in s.wanted() {                                  // index/.., snapshots/..
//!     match storage.get(&name) { Ok(b) => s.add_object(&name, &b), Err(e) => s.add_unreadable(&name, e) }
//! }
//! let snap = s.resolve("latest")?;  let plan = s.gc_plan(now_ns, grace_ns)?;
//! ```

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};

use serde::Serialize;

use super::crypto::Id;
use super::format::ObjectKind;
use super::index::Index;
use super::layout::{self, Listed, StoredName};
use super::object::object_name;
use super::rawpath::RawPath;
use super::retention::{Decision, KeepPolicy};
use super::snapshot::Snapshot;
use super::vault::Vault;
use crate::{Error, Result};

/// A vault as read by a host: see the module docs.
#[derive(Debug)]
pub struct VaultState {
    vault: Vault,
    /// Every listed object of the vault's kinds, by kind then id.
    objects: HashMap<ObjectKind, BTreeMap<Id, Listed>>,
    /// Temporary objects (a host's writes in flight or left by a kill).
    temporary: Vec<Listed>,
    /// Objects `repair` set aside earlier.
    set_aside: Vec<Listed>,
    index: Index,
    indexes_read: HashSet<Id>,
    snapshots: BTreeMap<Id, Snapshot>,
    /// Index deltas and snapshots that could not be read, with why.
    unreadable: BTreeMap<(Kind, Id), Error>,
}

/// `ObjectKind` ordered, for map keys.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Kind {
    Index,
    Snapshot,
}

impl Kind {
    fn of(kind: ObjectKind) -> Option<Self> {
        match kind {
            ObjectKind::Index => Some(Kind::Index),
            ObjectKind::Snapshot => Some(Kind::Snapshot),
            _ => None,
        }
    }

    fn object(self) -> ObjectKind {
        match self {
            Kind::Index => ObjectKind::Index,
            Kind::Snapshot => ObjectKind::Snapshot,
        }
    }
}

/// One snapshot in a listing: its id and contents.
pub type SnapshotRef<'a> = (&'a Id, &'a Snapshot);

impl VaultState {
    /// An empty state of `vault` (nothing listed yet).
    pub fn new(vault: &Vault) -> Self {
        VaultState {
            vault: vault.clone(),
            objects: HashMap::new(),
            temporary: Vec::new(),
            set_aside: Vec::new(),
            index: Index::new(),
            indexes_read: HashSet::new(),
            snapshots: BTreeMap::new(),
            unreadable: BTreeMap::new(),
        }
    }

    /// Adds one listed object (any name: the core classifies it; the
    /// config and names it does not know are ignored).
    pub fn add_listed(&mut self, listed: Listed) {
        match layout::parse_name(&listed.name) {
            StoredName::Object { kind, id } => {
                self.objects.entry(kind).or_default().insert(id, listed);
            }
            StoredName::Temporary { .. } => self.temporary.push(listed),
            StoredName::SetAside { .. } => self.set_aside.push(listed),
            StoredName::Config | StoredName::Unknown => {}
        }
    }

    /// The listed objects of `kind`, by id.
    pub fn listed(&self, kind: ObjectKind) -> impl Iterator<Item = &Listed> {
        self.objects.get(&kind).into_iter().flat_map(|m| m.values())
    }

    fn ids(&self, kind: ObjectKind) -> impl Iterator<Item = &Id> {
        self.objects.get(&kind).into_iter().flat_map(|m| m.keys())
    }

    /// The names of the objects the host must fetch and hand to
    /// [`VaultState::add_object`]: every index delta and snapshot listed
    /// and not read yet (nor recorded as unreadable).
    pub fn wanted(&self) -> Vec<String> {
        [ObjectKind::Index, ObjectKind::Snapshot]
            .into_iter()
            .flat_map(|k| {
                self.ids(k)
                    .filter(move |id| !self.is_read(k, id))
                    .map(move |id| layout::object_name(k, id))
            })
            .collect()
    }

    /// Whether the index delta or snapshot `id` was handed to
    /// [`add_object`](Self::add_object) or [`add_unreadable`](Self::add_unreadable).
    fn is_read(&self, kind: ObjectKind, id: &Id) -> bool {
        let done = match kind {
            ObjectKind::Index => self.indexes_read.contains(id),
            ObjectKind::Snapshot => self.snapshots.contains_key(id),
            _ => false,
        };
        done || Kind::of(kind).is_some_and(|k| self.unreadable.contains_key(&(k, *id)))
    }

    /// Forgets the listing but keeps what was read, so that a host can
    /// bring the state up to date by listing the vault again: then
    /// [`wanted`](Self::wanted) names only the objects that are new (a
    /// backup's gc reads only what appeared since the backup began, not
    /// every snapshot again). Objects removed since stay in the read
    /// part: the index then references more bundles, so a gc keeps more,
    /// never less.
    pub fn clear_listing(&mut self) {
        self.objects.clear();
        self.temporary.clear();
        self.set_aside.clear();
    }

    fn parse_wanted(name: &str) -> Result<(Kind, Id)> {
        match layout::parse_name(name) {
            StoredName::Object { kind, id } => Kind::of(kind).map(|k| (k, id)).ok_or_else(|| {
                Error::argument("name", format!("{name} is not an index or snapshot"))
            }),
            _ => Err(Error::argument(
                "name",
                format!("{name:?} is not the name of an index or snapshot"),
            )),
        }
    }

    /// The bytes of the index delta or snapshot stored as `name`. A
    /// damaged object is recorded as unreadable (listing, restore and gc
    /// then treat it as such) and its error returned.
    pub fn add_object(&mut self, name: &str, bytes: &[u8]) -> Result<()> {
        let (kind, id) = Self::parse_wanted(name)?;
        let outcome = match kind {
            Kind::Index => self
                .index
                .load_delta(self.vault.keys(), self.vault.id(), &id, bytes)
                .map(|()| {
                    self.indexes_read.insert(id);
                }),
            Kind::Snapshot => {
                Snapshot::open(self.vault.keys(), self.vault.id(), &id, bytes).map(|s| {
                    self.snapshots.insert(id, s);
                })
            }
        };
        if let Err(e) = &outcome {
            self.unreadable.insert((kind, id), e.clone());
        }
        outcome
    }

    /// The object `name` was listed but could not be fetched (`reason`:
    /// the storage's words); recorded as unreadable ([`Error::NotFound`]).
    pub fn add_unreadable(&mut self, name: &str, reason: &str) -> Result<()> {
        let (kind, id) = Self::parse_wanted(name)?;
        let what = kind.object().name();
        self.unreadable.insert(
            (kind, id),
            Error::NotFound {
                what: what.into(),
                id: format!("{} ({reason})", id.to_hex()),
            },
        );
        Ok(())
    }

    /// The union of every readable index delta.
    pub fn index(&self) -> &Index {
        &self.index
    }

    /// Every readable snapshot, oldest first: by start time (nanoseconds),
    /// then by id, so the order is the same for every host and run.
    pub fn snapshots(&self) -> Vec<SnapshotRef<'_>> {
        let mut all: Vec<SnapshotRef<'_>> = self.snapshots.iter().collect();
        all.sort_by_key(|(id, s)| (s.time_ns(), **id));
        all
    }

    /// The snapshots that could not be read, with why: listing and
    /// restoring skip them with a warning; gc refuses to run; repair sets
    /// them aside.
    pub fn unreadable_snapshots(&self) -> Vec<(Id, &Error)> {
        self.unreadable_of(Kind::Snapshot)
    }

    /// The index deltas that could not be read, with why.
    pub fn unreadable_indexes(&self) -> Vec<(Id, &Error)> {
        self.unreadable_of(Kind::Index)
    }

    fn unreadable_of(&self, kind: Kind) -> Vec<(Id, &Error)> {
        self.unreadable
            .iter()
            .filter(|((k, _), _)| *k == kind)
            .map(|((_, id), e)| (*id, e))
            .collect()
    }

    /// Resolves `which`: `"latest"` (the newest readable snapshot), a whole
    /// id, or a unique id prefix among every listed snapshot.
    ///
    /// Errors: [`Error::NotFound`] (no such snapshot, or none at all),
    /// [`Error::InvalidArgument`] (an ambiguous prefix),
    /// [`Error::InvalidValue`] (not hex), or the error that made the chosen
    /// snapshot unreadable.
    pub fn resolve(&self, which: &str) -> Result<Id> {
        if which == "latest" {
            return self
                .snapshots()
                .last()
                .map(|(id, _)| **id)
                .ok_or_else(|| Error::NotFound {
                    what: "snapshot".into(),
                    id: "latest".into(),
                });
        }
        let id = layout::resolve_prefix("snapshot", self.ids(ObjectKind::Snapshot), which)?;
        match self.unreadable.get(&(Kind::Snapshot, id)) {
            Some(e) => Err(e.clone()),
            None => Ok(id),
        }
    }

    /// The parent of the next backup of `paths` on `hostname`: the latest
    /// readable snapshot (in the order of [`resolve`](Self::resolve)'s
    /// `"latest"`) taken on the same host of the same roots, compared as
    /// sets (order and repeats do not matter). `None` when there is none,
    /// and when `paths` is empty: a snapshot that did not record its roots
    /// is not known to cover the same files. Unreadable snapshots are
    /// skipped (the backup then reads more, but stays correct).
    ///
    /// The host gives the roots as it will record them in the new
    /// snapshot's [`SnapshotInfo::paths`](super::backup::SnapshotInfo).
    pub fn parent_for(&self, hostname: Option<&str>, paths: &[RawPath]) -> Option<Id> {
        if paths.is_empty() {
            return None;
        }
        let wanted: BTreeSet<&RawPath> = paths.iter().collect();
        self.snapshots()
            .into_iter()
            .rev()
            .find(|(_, s)| {
                s.hostname.as_deref() == hostname
                    && s.paths.iter().collect::<BTreeSet<_>>() == wanted
            })
            .map(|(id, _)| *id)
    }

    /// Every readable snapshot, oldest first, as listings show them (the
    /// same JSON from every binding).
    pub fn summaries(&self) -> Vec<SnapshotSummary> {
        self.snapshots()
            .into_iter()
            .map(|(id, s)| SnapshotSummary {
                id: id.to_hex(),
                time: s.time,
                time_nanos: s.time_nanos,
                hostname: s.hostname.clone(),
                backup_configuration_id: s.backup_configuration_id.clone(),
                paths: s.paths.clone(),
                tags: s.tags.clone(),
                entries: s.entries.len() as u64,
                counters: s.counters,
            })
            .collect()
    }

    /// What `forget` with `policy` does to every readable snapshot
    /// ([`KeepPolicy::apply`] over [`summaries`](Self::summaries)).
    /// Unreadable snapshots are not decided, so never removed: `repair`
    /// sets them aside first.
    pub fn forget_plan(&self, policy: &KeepPolicy, now_ns: i64) -> Result<Vec<Decision>> {
        policy.apply(&self.summaries(), now_ns)
    }

    /// Leaves the snapshots `ids` out of what was listed and read, as if
    /// they had been deleted: the state a `forget --prune --dry-run`
    /// plans its prune on without reading the vault again.
    pub fn drop_snapshots(&mut self, ids: &[Id]) {
        for id in ids {
            self.snapshots.remove(id);
            self.unreadable.remove(&(Kind::Snapshot, *id));
            if let Some(m) = self.objects.get_mut(&ObjectKind::Snapshot) {
                m.remove(id);
            }
        }
    }

    /// The readable snapshot `id`.
    pub fn snapshot(&self, id: &Id) -> Result<&Snapshot> {
        if let Some(e) = self.unreadable.get(&(Kind::Snapshot, *id)) {
            return Err(e.clone());
        }
        self.snapshots.get(id).ok_or_else(|| Error::NotFound {
            what: "snapshot".into(),
            id: id.to_hex(),
        })
    }

    /// Per readable snapshot, the blobs it uses that no readable index
    /// lists (a lost or unreadable index): only snapshots with some.
    pub fn unindexed_blobs(&self) -> Vec<(Id, Vec<Id>)> {
        let mut out = Vec::new();
        for (id, snap) in &self.snapshots {
            let mut missing: Vec<Id> = snap
                .entries
                .iter()
                .flat_map(|e| e.chunks.iter())
                .filter(|c| !self.index.contains(c))
                .copied()
                .collect();
            missing.sort_unstable();
            missing.dedup();
            if !missing.is_empty() {
                out.push((*id, missing));
            }
        }
        out
    }

    /// The bundles some readable index places a blob in.
    pub fn indexed_bundles(&self) -> HashSet<Id> {
        self.index.bundles().into_iter().collect()
    }

    /// Listed bundles no readable index references, oldest first.
    pub fn unindexed_bundles(&self) -> Vec<&Listed> {
        let indexed = self.indexed_bundles();
        let mut out: Vec<&Listed> = self
            .objects
            .get(&ObjectKind::Bundle)
            .into_iter()
            .flat_map(|m| m.iter())
            .filter(|(id, _)| !indexed.contains(id))
            .map(|(_, l)| l)
            .collect();
        out.sort_by_key(|l| (l.mtime_ns, l.name.clone()));
        out
    }

    /// Bundles an index references that the listing does not show.
    pub fn missing_bundles(&self) -> Vec<Id> {
        let listed = self.objects.get(&ObjectKind::Bundle);
        let mut out: Vec<Id> = self
            .indexed_bundles()
            .into_iter()
            .filter(|b| !listed.is_some_and(|m| m.contains_key(b)))
            .collect();
        out.sort_unstable();
        out
    }

    /// Temporary objects left in the kinds' directories.
    pub fn temporary(&self) -> &[Listed] {
        &self.temporary
    }

    /// Objects `repair` set aside earlier.
    pub fn set_aside(&self) -> &[Listed] {
        &self.set_aside
    }

    /// The vault this state is of.
    pub fn vault(&self) -> &Vault {
        &self.vault
    }

    /// Everything wrong besides bundle contents, for `verify`: unreadable
    /// snapshots and index deltas, snapshots using blobs no index lists,
    /// and indexed bundles missing from storage. Each is `(object, error)`,
    /// the object by its stored name (`snapshots/<id>`).
    pub fn problems(&self) -> Vec<(String, Error)> {
        let mut out: Vec<(String, Error)> = self
            .unreadable
            .iter()
            .map(|((k, id), e)| (layout::object_name(k.object(), id), e.clone()))
            .collect();
        for (snap, blobs) in self.unindexed_blobs() {
            out.push((
                layout::object_name(ObjectKind::Snapshot, &snap),
                Error::NotFound {
                    what: "index entry".into(),
                    id: format!(
                        "for {} blob(s) of this snapshot, e.g. {} (an index is lost: `cloudbackup repair` rebuilds it from the bundles)",
                        blobs.len(),
                        blobs[0].short()
                    ),
                },
            ));
        }
        for bundle in self.missing_bundles() {
            out.push((
                layout::object_name(ObjectKind::Bundle, &bundle),
                Error::NotFound {
                    what: "bundle".into(),
                    id: bundle.to_hex(),
                },
            ));
        }
        out
    }

    /// [`Error::Corrupt`] unless what the vault references can be known:
    /// every index delta and snapshot was read, and every blob a snapshot
    /// uses is in some index. `operation` ("gc", "prune") names who
    /// refuses in the message. Deleting on a partial picture loses data.
    pub fn check_complete(&self, operation: &str) -> Result<()> {
        if let Some(((k, id), e)) = self.unreadable.iter().next() {
            return Err(Error::corrupt(
                "vault",
                format!(
                    "{operation} refuses to run: {} cannot be read ({e}), so what it references is unknown; \
                     `cloudbackup repair` rebuilds or sets aside what is damaged{}",
                    object_name(k.object(), id),
                    if self.unreadable.len() > 1 {
                        format!(" ({} objects in all)", self.unreadable.len())
                    } else {
                        String::new()
                    }
                ),
            ));
        }
        if let Some((snap, blobs)) = self.unindexed_blobs().first() {
            return Err(Error::corrupt(
                "vault",
                format!(
                    "{operation} refuses to run: {} uses {} blob(s) that no index lists (a lost index), so \
                     bundles that look unreferenced may hold them; `cloudbackup repair` rebuilds the index",
                    object_name(ObjectKind::Snapshot, snap),
                    blobs.len()
                ),
            ));
        }
        Ok(())
    }

    /// What gc may delete at `now_ns`: listed bundles no readable index
    /// references and temporary objects, each only once it is at least
    /// `grace_ns` old (a write in flight elsewhere is younger). Refuses,
    /// deleting nothing, when any index delta or snapshot could not be
    /// read, or when a snapshot uses a blob no index lists: then what is
    /// referenced cannot be known, and guessing loses data.
    pub fn gc_plan(&self, now_ns: i64, grace_ns: i64) -> Result<GcPlan> {
        if grace_ns < 0 {
            return Err(Error::argument(
                "grace",
                format!("{grace_ns} ns is negative"),
            ));
        }
        self.check_complete("gc")?;
        let old = |l: &Listed| now_ns.saturating_sub(l.mtime_ns) >= grace_ns;
        let indexed = self.indexed_bundles();
        let mut plan = GcPlan {
            referenced_bundles: 0,
            unreferenced_bundles: 0,
            kept_young: 0,
            temporary: 0,
            delete: Vec::new(),
            delete_bytes: 0,
        };
        for (id, listed) in self.objects.get(&ObjectKind::Bundle).into_iter().flatten() {
            if indexed.contains(id) {
                plan.referenced_bundles += 1;
                continue;
            }
            plan.unreferenced_bundles += 1;
            if old(listed) {
                plan.delete.push(listed.clone());
            } else {
                plan.kept_young += 1;
            }
        }
        for t in &self.temporary {
            if old(t) {
                plan.temporary += 1;
                plan.delete.push(t.clone());
            } else {
                plan.kept_young += 1;
            }
        }
        plan.delete_bytes = plan.delete.iter().map(|l| l.size).sum();
        Ok(plan)
    }
}

/// One snapshot in a listing. JSON: `{"id", "time", "time_nanos",
/// "hostname", "backup_configuration_id", "paths", "tags", "entries",
/// "counters"}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SnapshotSummary {
    /// Its id (hex).
    pub id: String,
    /// Start time, Unix seconds.
    pub time: i64,
    /// Its sub-second part.
    pub time_nanos: u32,
    /// The host it was taken on.
    pub hostname: Option<String>,
    /// The v2 backup configuration it ran for.
    pub backup_configuration_id: Option<String>,
    /// The paths the host backed up (its roots), in the quoted form.
    pub paths: Vec<RawPath>,
    /// Its tags (sorted).
    pub tags: Vec<String>,
    /// Number of entries (files, directories, symlinks).
    pub entries: u64,
    /// The backup's counters.
    pub counters: super::snapshot::BackupCounters,
}

/// What gc deletes, and what it saw.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct GcPlan {
    /// Bundles an index references (kept).
    pub referenced_bundles: u64,
    /// Bundles no index references.
    pub unreferenced_bundles: u64,
    /// Unreferenced bundles and temporary objects younger than the grace
    /// period (kept: they may be a write still in flight elsewhere).
    pub kept_young: u64,
    /// Temporary objects to delete.
    pub temporary: u64,
    /// The objects to delete (unreferenced old bundles, stale temporaries).
    pub delete: Vec<Listed>,
    /// Their total size.
    pub delete_bytes: u64,
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::engine::backup::{BackupOptions, BackupSession, FileMeta, SnapshotInfo};
    use crate::engine::keys::KdfParams;
    use crate::engine::vault::VaultSettings;
    use crate::ErrorCode;
    use std::sync::Arc;

    /// A vault with two backups, as a host would have stored it.
    pub(crate) struct Stored {
        pub vault: Vault,
        pub objects: BTreeMap<String, Vec<u8>>,
        pub snapshots: Vec<Id>,
        pub indexes: Vec<Id>,
    }

    pub(crate) fn stored(times: &[(i64, u32)]) -> Stored {
        let infos: Vec<SnapshotInfo> = times
            .iter()
            .map(|(time, nanos)| SnapshotInfo {
                time: *time,
                time_nanos: *nanos,
                ..SnapshotInfo::default()
            })
            .collect();
        stored_infos(&infos)
    }

    /// A vault with one backup per `infos` (each of one file).
    pub(crate) fn stored_infos(infos: &[SnapshotInfo]) -> Stored {
        let vault = Vault::create(
            b"pw",
            VaultSettings::default(),
            KdfParams::insecure_for_tests(),
        )
        .unwrap();
        let mut objects = BTreeMap::new();
        let mut index = Index::new();
        let (mut snapshots, mut indexes) = (Vec::new(), Vec::new());
        for (n, info) in infos.iter().enumerate() {
            let mut s =
                BackupSession::new(&vault, Arc::new(index.clone()), BackupOptions::default())
                    .unwrap();
            s.start_file(FileMeta::file(format!("/f{n}"), 0o644, 0))
                .unwrap();
            s.write(format!("content {n}").as_bytes()).unwrap();
            s.finish_file().unwrap();
            let out = s.finish(info.clone()).unwrap();
            for b in &out.bundles {
                index.add_bundle(b);
                objects.insert(
                    layout::object_name(ObjectKind::Bundle, &b.id),
                    b.bytes.clone(),
                );
            }
            objects.insert(
                layout::object_name(ObjectKind::Index, &out.index.id),
                out.index.bytes,
            );
            objects.insert(
                layout::object_name(ObjectKind::Snapshot, &out.snapshot.id),
                out.snapshot.bytes,
            );
            snapshots.push(out.snapshot.id);
            indexes.push(out.index.id);
        }
        Stored {
            vault,
            objects,
            snapshots,
            indexes,
        }
    }

    pub(crate) fn state_of(s: &Stored, mtime_ns: i64) -> VaultState {
        let mut st = VaultState::new(&s.vault);
        for (name, bytes) in &s.objects {
            st.add_listed(Listed {
                name: name.clone(),
                size: bytes.len() as u64,
                mtime_ns,
            });
        }
        for name in st.wanted() {
            match s.objects.get(&name) {
                Some(b) => {
                    let _ = st.add_object(&name, b);
                }
                None => st.add_unreadable(&name, "gone").unwrap(),
            }
        }
        st
    }

    #[test]
    fn a_state_listed_again_wants_only_the_new_objects() {
        let all = stored(&[(1, 0), (2, 0)]);
        // The state of a host that read the vault when it had one backup.
        let first: BTreeMap<String, Vec<u8>> = all
            .objects
            .iter()
            .filter(|(name, _)| {
                !name.ends_with(&all.snapshots[1].to_hex())
                    && !name.ends_with(&all.indexes[1].to_hex())
            })
            .map(|(n, b)| (n.clone(), b.clone()))
            .collect();
        let mut st = state_of(
            &Stored {
                vault: all.vault.clone(),
                objects: first,
                snapshots: Vec::new(),
                indexes: Vec::new(),
            },
            0,
        );
        assert_eq!(st.snapshots().len(), 1);
        assert!(st.wanted().is_empty(), "everything listed was read");
        st.clear_listing();
        for (name, bytes) in &all.objects {
            st.add_listed(Listed {
                name: name.clone(),
                size: bytes.len() as u64,
                mtime_ns: 0,
            });
        }
        let mut wanted = st.wanted();
        wanted.sort();
        let mut new = vec![
            layout::object_name(ObjectKind::Index, &all.indexes[1]),
            layout::object_name(ObjectKind::Snapshot, &all.snapshots[1]),
        ];
        new.sort();
        assert_eq!(wanted, new, "only what appeared since");
        for name in &wanted {
            st.add_object(name, &all.objects[name]).unwrap();
        }
        assert_eq!(st.snapshots().len(), 2);
        let plan = st.gc_plan(i64::MAX, 0).unwrap();
        assert_eq!(plan.unreferenced_bundles, 0, "{plan:?}");
        assert_eq!(plan.referenced_bundles, 2, "{plan:?}");
        assert!(plan.delete.is_empty());
    }

    #[test]
    fn latest_orders_by_nanoseconds_then_id() {
        // Two backups in the same second: the later one is latest.
        let s = stored(&[(100, 900_000_000), (100, 100_000_000)]);
        let st = state_of(&s, 0);
        assert_eq!(st.resolve("latest").unwrap(), s.snapshots[0]);
        let order: Vec<Id> = st.snapshots().iter().map(|(id, _)| **id).collect();
        assert_eq!(order, vec![s.snapshots[1], s.snapshots[0]]);
        // Equal times: the larger id is latest, on every host.
        let s = stored(&[(7, 0), (7, 0)]);
        let st = state_of(&s, 0);
        assert_eq!(
            st.resolve("latest").unwrap(),
            *s.snapshots.iter().max().unwrap()
        );
        let prefix = &s.snapshots[0].to_hex()[..12];
        assert_eq!(st.resolve(prefix).unwrap(), s.snapshots[0]);
    }

    #[test]
    fn a_corrupt_snapshot_is_skipped_by_listing_and_latest_and_refused_by_gc() {
        let mut s = stored(&[(1, 0), (2, 0)]);
        let bad = layout::object_name(ObjectKind::Snapshot, &s.snapshots[1]);
        if let Some(b) = s.objects.get_mut(&bad) {
            let at = b.len() - 3;
            b[at] ^= 0x40;
        }
        let st = state_of(&s, 0);
        assert_eq!(st.snapshots().len(), 1);
        assert_eq!(
            st.resolve("latest").unwrap(),
            s.snapshots[0],
            "the newest readable one"
        );
        assert_eq!(st.unreadable_snapshots().len(), 1);
        let e = st.resolve(&s.snapshots[1].to_hex()).unwrap_err();
        assert_eq!(e.code(), ErrorCode::Corrupt);
        let e = st.gc_plan(1, 0).unwrap_err();
        assert!(e.to_string().contains("gc refuses"), "{e}");
        assert_eq!(st.problems().len(), 1);
    }

    #[test]
    fn a_missing_index_makes_gc_refuse_and_verify_report_it() {
        let mut s = stored(&[(1, 0), (2, 0)]);
        s.objects
            .remove(&layout::object_name(ObjectKind::Index, &s.indexes[0]));
        let st = state_of(&s, 0);
        let e = st.gc_plan(i64::MAX, 0).unwrap_err();
        assert!(e.to_string().contains("no index lists"), "{e}");
        let problems = st.problems();
        assert_eq!(problems.len(), 1, "{problems:?}");
        assert!(problems[0].1.to_string().contains("repair"), "{problems:?}");
        // An index listed but gone when fetched: refused too.
        let mut st = VaultState::new(&s.vault);
        st.add_listed(Listed {
            name: layout::object_name(ObjectKind::Index, &s.indexes[0]),
            size: 1,
            mtime_ns: 0,
        });
        st.add_unreadable(&st.wanted()[0], "404").unwrap();
        assert!(st.gc_plan(1, 0).is_err());
    }

    #[test]
    fn gc_deletes_only_old_unreferenced_bundles_and_temporaries() {
        let s = stored(&[(1, 0)]);
        let mut st = state_of(&s, 1_000);
        let orphan = format!("bundles/{}", "ab".repeat(32));
        for (name, mtime) in [
            (orphan.clone(), 0),
            (format!("bundles/{}", "cd".repeat(32)), 900),
            ("bundles/x.1.2.tmp".to_string(), 0),
            ("index/y.tmp".to_string(), 950),
        ] {
            st.add_listed(Listed {
                name,
                size: 10,
                mtime_ns: mtime,
            });
        }
        let plan = st.gc_plan(1_000, 500).unwrap();
        let names: Vec<&str> = plan.delete.iter().map(|l| l.name.as_str()).collect();
        assert_eq!(names, vec![orphan.as_str(), "bundles/x.1.2.tmp"]);
        assert_eq!(plan.referenced_bundles, 1);
        assert_eq!(plan.unreferenced_bundles, 2);
        assert_eq!(plan.kept_young, 2);
        assert_eq!(plan.temporary, 1);
        assert_eq!(plan.delete_bytes, 20);
        assert!(st.gc_plan(1_000, -1).is_err());
    }

    #[test]
    fn summaries_show_paths_and_tags_and_forget_decides_by_them() {
        let info = |time: i64, tags: &[&str]| SnapshotInfo {
            time,
            hostname: Some("h".into()),
            paths: vec![RawPath::from("/a")],
            tags: tags.iter().map(|t| t.to_string()).collect(),
            ..SnapshotInfo::default()
        };
        let s = stored_infos(&[info(1, &["keep", "b", "keep"]), info(2, &[]), info(3, &[])]);
        let st = state_of(&s, 0);
        let sums = st.summaries();
        assert_eq!(sums[0].tags, ["b", "keep"], "sorted, without repeats");
        assert_eq!(sums[0].paths, [RawPath::from("/a")]);
        let json = serde_json::to_value(&sums[1]).unwrap();
        assert_eq!(json["tags"], serde_json::json!([]));
        assert_eq!(json["paths"], serde_json::json!(["/a"]));
        let policy = KeepPolicy {
            last: Some(1),
            tags: vec![vec!["keep".into()]],
            ..KeepPolicy::default()
        };
        let plan = st.forget_plan(&policy, 10_000_000_000).unwrap();
        let keep: Vec<(&str, bool)> = plan.iter().map(|d| (d.id.as_str(), d.keep)).collect();
        assert_eq!(
            keep,
            [
                (sums[2].id.as_str(), true),
                (sums[1].id.as_str(), false),
                (sums[0].id.as_str(), true)
            ]
        );
        let bad = SnapshotInfo {
            tags: vec!["a,b".into()],
            ..SnapshotInfo::default()
        };
        assert_eq!(
            bad.validate().unwrap_err().code(),
            crate::ErrorCode::InvalidArgument
        );
    }

    #[test]
    fn the_parent_is_the_latest_of_the_same_host_and_roots() {
        let info = |time: i64, host: Option<&str>, paths: &[&str]| SnapshotInfo {
            time,
            hostname: host.map(str::to_string),
            paths: paths.iter().map(|p| RawPath::from(*p)).collect(),
            ..SnapshotInfo::default()
        };
        let raw =
            |paths: &[&str]| -> Vec<RawPath> { paths.iter().map(|p| RawPath::from(*p)).collect() };
        let mut s = stored_infos(&[
            info(1, Some("h"), &["/a", "/b"]),
            info(2, Some("h"), &["/b", "/a"]),
            info(3, Some("h"), &["/a"]),
            info(4, Some("other"), &["/a", "/b"]),
            info(5, None, &["/a", "/b"]),
            info(6, Some("h"), &[]),
            info(7, Some("h"), &["/a", "/b", "/c"]),
        ]);
        let st = state_of(&s, 0);
        let id = |n: usize| Some(s.snapshots[n]);
        // The latest of the same set, in any order and with repeats.
        assert_eq!(st.parent_for(Some("h"), &raw(&["/a", "/b"])), id(1));
        assert_eq!(st.parent_for(Some("h"), &raw(&["/b", "/a", "/a"])), id(1));
        assert_eq!(st.parent_for(Some("h"), &raw(&["/a"])), id(2));
        assert_eq!(st.parent_for(Some("other"), &raw(&["/b", "/a"])), id(3));
        assert_eq!(st.parent_for(None, &raw(&["/a", "/b"])), id(4));
        assert_eq!(st.parent_for(Some("h"), &raw(&["/a", "/b", "/c"])), id(6));
        // No roots, other roots, another host: no parent.
        assert_eq!(st.parent_for(Some("h"), &[]), None);
        assert_eq!(st.parent_for(Some("h"), &raw(&["/b"])), None);
        assert_eq!(st.parent_for(Some("new"), &raw(&["/a"])), None);
        // Paths are bytes: a non-UTF-8 root is a root like any other.
        assert_eq!(
            st.parent_for(Some("h"), &[RawPath::from(b"/a\xff".to_vec())]),
            None
        );
        // An unreadable snapshot is skipped: the one before it is the parent.
        let bad = layout::object_name(ObjectKind::Snapshot, &s.snapshots[1]);
        if let Some(b) = s.objects.get_mut(&bad) {
            let at = b.len() - 3;
            b[at] ^= 0x40;
        }
        let st = state_of(&s, 0);
        assert_eq!(st.unreadable_snapshots().len(), 1);
        assert_eq!(st.parent_for(Some("h"), &raw(&["/a", "/b"])), id(0));
    }
}
