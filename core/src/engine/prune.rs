//! Prune: give back the space of blobs no snapshot uses any more, in
//! restic's `prune` semantics (`doc/060_forget.rst`), sans-IO so that every
//! host runs the same rules:
//!
//! 1. [`VaultState::prune_plan`] (under the exclusive lock, on a vault read
//!    in full) decides per bundle: **keep** it, **repack** it (copy the blobs
//!    still used into new bundles, then delete it) or **delete** it (no blob
//!    in it is used). Fully unused bundles always go; partly used ones are
//!    repacked, most-unused first, until the unused bytes left are within
//!    [`MaxUnused`]; with `repack_small`, bundles under 80% of the vault's
//!    bundle size are repacked together too. Bundles no index references
//!    and temporary objects go once older than the grace period, as in gc.
//! 2. The host fetches [`PrunePlan::read`]'s bundles and feeds each to a
//!    [`Pruner`], storing the full bundles it hands back.
//! 3. [`Pruner::finish`] hands back the last bundle and the new index: one
//!    or more deltas listing every blob of every kept bundle plus the
//!    repacked blobs' new places, replacing every old delta.
//! 4. The host stores, **in this order**: new bundles, new index deltas;
//!    then (its lock still fresh) deletes [`PruneCommit::delete`] in order:
//!    old index deltas first, bundles last.
//!
//! Every prefix of step 4 leaves a readable vault: until the old deltas
//! are gone, both the old and the new place of a repacked blob exist and
//! either is right; once they are gone nothing references a bundle that
//! is about to be deleted. A prune killed at any point leaves at worst
//! unreferenced bundles, which the next prune or gc removes.
//!
//! Every blob copied is opened first (tag, decompression, id), so a damaged
//! blob stops the prune before anything is deleted, and is never spread to
//! a new bundle. Blobs are copied sealed: repacking re-encrypts nothing.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use super::blob::open_blob;
use super::bundle::{bundle_overhead, BundleWriter, SealedBundle};
use super::crypto::{hash, Id};
use super::format::ObjectKind;
use super::index::{Index, Location};
use super::layout::{self, Listed};
use super::object::SealedObject;
use super::state::VaultState;
use super::vault::Vault;
use crate::lifecycle::CleanupState;
use crate::model::v2::snapshot_id::snapshot_id_for;
use crate::patch::Patch;
use crate::wire::Timestamp;
use crate::{Error, Result};

/// Records per new index delta: about 5 MiB of plaintext, so that no
/// single object of a large vault's index grows without bound.
pub const MAX_DELTA_RECORDS: usize = 65_536;

/// How much unused space a prune may leave (restic's `--max-unused`).
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum MaxUnused {
    /// A share of the used bytes after the prune, 0 to 100 (exclusive):
    /// `5` leaves at most 5% of the vault unused.
    Percent(f64),
    /// At most this many bytes.
    Bytes(u64),
    /// Any amount: only bundles with no used blob go (nothing is repacked
    /// for its unused share).
    Unlimited,
}

impl Default for MaxUnused {
    /// restic's default, 5%.
    fn default() -> Self {
        MaxUnused::Percent(5.0)
    }
}

impl MaxUnused {
    /// Parses restic's syntax: `"5%"`, `"0%"`, `"100M"` (a size with the
    /// suffixes `k`, `m`, `g`, `t`, binary, any case; no suffix is bytes)
    /// or `"unlimited"`.
    pub fn parse(text: &str) -> Result<Self> {
        let bad = |reason: &str| {
            Error::argument(
                "max_unused",
                format!("{text:?} {reason} (e.g. \"5%\", \"100M\" or \"unlimited\")"),
            )
        };
        let t = text.trim();
        if t.eq_ignore_ascii_case("unlimited") {
            return Ok(MaxUnused::Unlimited);
        }
        if let Some(p) = t.strip_suffix('%') {
            let v: f64 = p.trim().parse().map_err(|_| bad("is not a percentage"))?;
            if !(0.0..100.0).contains(&v) {
                return Err(bad("must be at least 0% and below 100%"));
            }
            return Ok(MaxUnused::Percent(v));
        }
        let (digits, shift) = match t.chars().last() {
            Some(c) if c.is_ascii_alphabetic() => {
                let shift = match c.to_ascii_lowercase() {
                    'k' => 10,
                    'm' => 20,
                    'g' => 30,
                    't' => 40,
                    _ => return Err(bad("has an unknown size suffix")),
                };
                (&t[..t.len() - 1], shift)
            }
            _ => (t, 0),
        };
        let n: u64 = digits
            .trim()
            .parse()
            .map_err(|_| bad("is not a size or percentage"))?;
        n.checked_mul(1u64 << shift)
            .map(MaxUnused::Bytes)
            .ok_or_else(|| bad("is too large"))
    }

    /// The unused bytes tolerated when `used` bytes remain.
    fn limit(self, used: u64) -> u64 {
        match self {
            // p% of the vault after the prune: unused <= p/(100-p) * used.
            MaxUnused::Percent(p) => (used as f64 * p / (100.0 - p)) as u64,
            MaxUnused::Bytes(n) => n,
            MaxUnused::Unlimited => u64::MAX,
        }
    }
}

impl fmt::Display for MaxUnused {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            MaxUnused::Percent(p) => write!(f, "{p}%"),
            MaxUnused::Bytes(n) => write!(f, "{n}"),
            MaxUnused::Unlimited => f.write_str("unlimited"),
        }
    }
}

impl Serialize for MaxUnused {
    fn serialize<S: Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for MaxUnused {
    fn deserialize<D: Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        MaxUnused::parse(&text).map_err(|e| serde::de::Error::custom(crate::error::serde_reason(e)))
    }
}

/// What a prune may do. JSON: `{"max_unused": "5%", "repack_small": false,
/// "max_repack_bytes": null, "grace_ns": 3600000000000}` (every field
/// optional).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct PruneOptions {
    /// Unused space tolerated after the prune (default 5%).
    pub max_unused: MaxUnused,
    /// Also repack bundles under 80% of the vault's bundle size (the last,
    /// partial bundle of each backup), when there are at least two.
    pub repack_small: bool,
    /// Copy at most this many bytes (restic's `--max-repack-size`); the
    /// unused space left may then exceed `max_unused`.
    pub max_repack_bytes: Option<u64>,
    /// Bundles no index references and temporary objects younger than
    /// this are kept (a backup elsewhere may be writing them), as in gc.
    pub grace_ns: i64,
}

impl Default for PruneOptions {
    fn default() -> Self {
        PruneOptions {
            max_unused: MaxUnused::default(),
            repack_small: false,
            max_repack_bytes: None,
            grace_ns: 3600 * 1_000_000_000,
        }
    }
}

impl PruneOptions {
    /// Parses the options' JSON (every field optional); an unknown field
    /// or a bad value is [`Error::InvalidArgument`] naming it.
    pub fn from_json(json: &str) -> Result<Self> {
        let value: serde_json::Value =
            serde_json::from_str(json).map_err(|e| Error::json("prune options", &e))?;
        crate::error::from_json_argument("options", &value)
    }
}

/// Counts and bytes of one class of blobs or bundles.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Tally {
    /// How many.
    pub count: u64,
    /// Their size in bytes (sealed, as stored).
    pub bytes: u64,
}

impl Tally {
    fn add(&mut self, bytes: u64) {
        self.count += 1;
        self.bytes += bytes;
    }
}

/// What a prune will do, and what it saw. JSON with the fields below;
/// the per-bundle work lists are the host's to-do list.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PrunePlan {
    /// The options it was made with.
    pub options: PruneOptions,
    /// Snapshots whose blobs are kept.
    pub snapshots: u64,
    /// Blobs some snapshot uses.
    pub used_blobs: Tally,
    /// Indexed blobs no snapshot uses (including second copies).
    pub unused_blobs: Tally,
    /// Bundles kept as they are.
    pub keep_bundles: Tally,
    /// Bundles whose used blobs are copied into new bundles, then deleted.
    pub repack_bundles: Tally,
    /// Used blobs copied (sealed bytes).
    pub repack_blobs: Tally,
    /// Indexed bundles with no used blob: deleted.
    pub unused_bundles: Tally,
    /// Bundles no index references, old enough to delete.
    pub unindexed_bundles: Tally,
    /// Temporary objects old enough to delete.
    pub temporary: Tally,
    /// Unreferenced objects kept as younger than the grace period.
    pub kept_young: u64,
    /// Unused bytes left in kept bundles after the prune.
    pub unused_after: u64,
    /// The vault's stored size now (bundles, index deltas, snapshots).
    pub bytes_before: u64,
    /// Its expected size after the prune (exact for the deletions; the new
    /// bundles and index are estimated by what they copy).
    pub bytes_after_estimate: u64,
    /// The bundles to fetch and feed to a [`Pruner`] (names), smallest
    /// offset first within each, in id order.
    pub read: Vec<String>,
    /// Whether the index is rewritten (some indexed bundle goes).
    pub rewrite_index: bool,
    #[serde(skip)]
    work: Work,
}

/// The plan's private half: what the [`Pruner`] copies and writes.
#[derive(Debug, Clone, Default, PartialEq)]
struct Work {
    /// Per bundle to repack: the used blobs it holds, in offset order.
    repack: BTreeMap<Id, Vec<(Id, Location)>>,
    /// The index entries that stay (every blob of every kept bundle).
    keep: Vec<(Id, Location)>,
    /// Every blob some snapshot uses (to check the new index covers them).
    used: HashSet<Id>,
    /// Deletions, in order: index deltas, then bundles, then the rest.
    delete_indexes: Vec<Listed>,
    delete_bundles: Vec<Listed>,
    delete_other: Vec<Listed>,
}

impl PrunePlan {
    /// Whether the prune changes nothing.
    pub fn is_empty(&self) -> bool {
        !self.rewrite_index && self.work.delete_other.is_empty()
    }

    /// Bytes the deletions free.
    pub fn delete_bytes(&self) -> u64 {
        self.work
            .delete_indexes
            .iter()
            .chain(&self.work.delete_bundles)
            .chain(&self.work.delete_other)
            .map(|l| l.size)
            .sum()
    }
}

impl VaultState {
    /// What a prune with `options` does at `now_ns` (see the module docs).
    /// Refuses as gc does when the picture is incomplete, and when a used
    /// blob lives only in a bundle the listing does not show (`verify`
    /// says more; nothing can rebuild it).
    pub fn prune_plan(&self, options: &PruneOptions, now_ns: i64) -> Result<PrunePlan> {
        if options.grace_ns < 0 {
            return Err(Error::argument(
                "grace",
                format!("{} ns is negative", options.grace_ns),
            ));
        }
        self.check_complete("prune")?;
        let index = self.index();
        let listed: HashMap<Id, &Listed> = self
            .listed(ObjectKind::Bundle)
            .filter_map(|l| match layout::parse_name(&l.name) {
                layout::StoredName::Object { id, .. } => Some((id, l)),
                _ => None,
            })
            .collect();

        let snapshots = self.snapshots();
        let mut used: HashSet<Id> = HashSet::new();
        for (_, s) in &snapshots {
            for e in &s.entries {
                used.extend(e.chunks.iter().copied());
            }
        }
        let mut lost = 0usize;
        for blob in &used {
            if let Some(l) = index.get(blob) {
                if !listed.contains_key(&l.bundle) {
                    lost += 1;
                }
            }
        }
        if lost > 0 {
            return Err(Error::corrupt(
                "vault",
                format!(
                    "prune refuses to run: {lost} blob(s) that snapshots use are in bundles missing from \
                     storage; `cloudbackup verify` lists them (restore what you can, then forget the \
                     snapshots that use them)"
                ),
            ));
        }

        // Per listed, indexed bundle: its blobs, and which of them are used.
        #[derive(Default)]
        struct Contents {
            blobs: Vec<(Id, Location)>,
            used_bytes: u64,
            unused_bytes: u64,
        }
        // Every listed bundle an index names, even one holding only second
        // copies (the rewritten index drops those records: it goes).
        let mut by_bundle: HashMap<Id, Contents> = index
            .bundles()
            .into_iter()
            .filter(|b| listed.contains_key(b))
            .map(|b| (b, Contents::default()))
            .collect();
        let mut plan = PrunePlan {
            options: *options,
            snapshots: snapshots.len() as u64,
            used_blobs: Tally::default(),
            unused_blobs: Tally::default(),
            keep_bundles: Tally::default(),
            repack_bundles: Tally::default(),
            repack_blobs: Tally::default(),
            unused_bundles: Tally::default(),
            unindexed_bundles: Tally::default(),
            temporary: Tally::default(),
            kept_young: 0,
            unused_after: 0,
            bytes_before: 0,
            bytes_after_estimate: 0,
            read: Vec::new(),
            rewrite_index: false,
            work: Work::default(),
        };
        for (blob, loc) in index.iter() {
            if !listed.contains_key(&loc.bundle) {
                continue; // gone, and no snapshot needs it (checked above)
            }
            let c = by_bundle.entry(loc.bundle).or_default();
            c.blobs.push((*blob, *loc));
            if used.contains(blob) {
                c.used_bytes += u64::from(loc.length);
                plan.used_blobs.add(u64::from(loc.length));
            }
        }
        // Bytes of a bundle that no used blob takes: unused blobs, second
        // copies (the index places each blob in one bundle), their trailer
        // records, and the whole framing of a bundle with nothing used.
        // The framing the used blobs need counts as used (as restic counts
        // pack headers): any bundle holding them has it, so a bundle of
        // used blobs only is never worth repacking, even at 0%.
        for (id, c) in by_bundle.iter_mut() {
            let size = listed.get(id).map_or(0, |l| l.size);
            let used_count = c.blobs.iter().filter(|(b, _)| used.contains(b)).count();
            let needed = if c.used_bytes == 0 {
                0
            } else {
                c.used_bytes + bundle_overhead(used_count)
            };
            c.unused_bytes = size.saturating_sub(needed);
            let unused_blobs = c.blobs.iter().filter(|(b, _)| !used.contains(b));
            for (_, l) in unused_blobs {
                plan.unused_blobs.add(u64::from(l.length));
            }
            c.blobs.sort_by_key(|(_, l)| l.offset);
        }

        // Decide: fully unused bundles go; partly used ones are candidates.
        let target = u64::from(self.vault().settings().bundle_size);
        let small = |size: u64| size < target / 5 * 4;
        let mut candidates: Vec<(Id, u64, u64)> = Vec::new(); // id, size, unused
        let mut small_ones: Vec<(Id, u64, u64)> = Vec::new();
        let mut repack: BTreeSet<Id> = BTreeSet::new();
        let mut delete: BTreeSet<Id> = BTreeSet::new();
        let mut unused_total = 0u64;
        for (id, c) in &by_bundle {
            let size = listed.get(id).map_or(0, |l| l.size);
            if c.used_bytes == 0 {
                delete.insert(*id);
                continue;
            }
            unused_total += c.unused_bytes;
            if small(size) {
                small_ones.push((*id, size, c.unused_bytes));
            } else if c.unused_bytes > 0 {
                candidates.push((*id, size, c.unused_bytes));
            }
        }
        let mut budget = options.max_repack_bytes.unwrap_or(u64::MAX);
        // Repacks `id` if the copy budget allows; true if it does.
        let take = |id: Id, repack: &mut BTreeSet<Id>, unused: &mut u64, budget: &mut u64| {
            let c = &by_bundle[&id];
            if c.used_bytes > *budget {
                return false;
            }
            *budget -= c.used_bytes;
            *unused -= c.unused_bytes;
            repack.insert(id)
        };
        if options.repack_small && small_ones.len() >= 2 {
            small_ones.sort_by_key(|&(id, size, _)| (size, id));
            let mut taken = Vec::new();
            for &(id, _, _) in &small_ones {
                if take(id, &mut repack, &mut unused_total, &mut budget) {
                    taken.push(id);
                }
            }
            // One small bundle copied on its own gains nothing.
            if let [only] = taken[..] {
                repack.remove(&only);
                unused_total += by_bundle[&only].unused_bytes;
                budget += by_bundle[&only].used_bytes;
            }
        }
        // Small bundles not repacked for their size compete by their
        // unused share like any other.
        candidates.extend(
            small_ones
                .iter()
                .filter(|(id, _, unused)| *unused > 0 && !repack.contains(id)),
        );
        // Most unused share first (ties: more unused bytes, then id).
        candidates.sort_by(|a, b| {
            let ra = a.2 as f64 / a.1.max(1) as f64;
            let rb = b.2 as f64 / b.1.max(1) as f64;
            rb.total_cmp(&ra).then(b.2.cmp(&a.2)).then(a.0.cmp(&b.0))
        });
        let limit = options.max_unused.limit(plan.used_blobs.bytes);
        for &(id, _, _) in &candidates {
            if unused_total <= limit {
                break;
            }
            take(id, &mut repack, &mut unused_total, &mut budget);
        }
        plan.unused_after = unused_total;

        // The work lists.
        let mut keep_ids: Vec<&Id> = by_bundle.keys().collect();
        keep_ids.sort_unstable();
        for id in keep_ids {
            let c = &by_bundle[id];
            let Some(l) = listed.get(id) else { continue };
            if delete.contains(id) {
                plan.unused_bundles.add(l.size);
                plan.work.delete_bundles.push((*l).clone());
            } else if repack.contains(id) {
                plan.repack_bundles.add(l.size);
                let blobs: Vec<(Id, Location)> = c
                    .blobs
                    .iter()
                    .filter(|(b, _)| used.contains(b))
                    .copied()
                    .collect();
                for (_, loc) in &blobs {
                    plan.repack_blobs.add(u64::from(loc.length));
                }
                plan.read.push(l.name.clone());
                plan.work.repack.insert(*id, blobs);
                plan.work.delete_bundles.push((*l).clone());
            } else {
                plan.keep_bundles.add(l.size);
                plan.work.keep.extend(c.blobs.iter().copied());
            }
        }
        // Also when records repeat (a killed prune's old deltas next to
        // its new ones, or backups that stored one blob twice): the new
        // index lists each blob once.
        plan.rewrite_index = !plan.work.delete_bundles.is_empty() || index.records() > index.len();
        if plan.rewrite_index {
            plan.work.delete_indexes = self.listed(ObjectKind::Index).cloned().collect();
        }
        // Unreferenced bundles and temporaries: gc's rule.
        let old = |l: &Listed| now_ns.saturating_sub(l.mtime_ns) >= options.grace_ns;
        for l in self.unindexed_bundles() {
            if old(l) {
                plan.unindexed_bundles.add(l.size);
                plan.work.delete_other.push(l.clone());
            } else {
                plan.kept_young += 1;
            }
        }
        for t in self.temporary() {
            if old(t) {
                plan.temporary.add(t.size);
                plan.work.delete_other.push(t.clone());
            } else {
                plan.kept_young += 1;
            }
        }
        plan.work.used = used;

        plan.bytes_before = [ObjectKind::Bundle, ObjectKind::Index, ObjectKind::Snapshot]
            .into_iter()
            .flat_map(|k| self.listed(k))
            .map(|l| l.size)
            .sum();
        let index_after = if plan.rewrite_index {
            let records = plan.work.keep.len() as u64 + plan.repack_blobs.count;
            records * INDEX_RECORD_LEN
        } else {
            0
        };
        plan.bytes_after_estimate = (plan.bytes_before + plan.repack_blobs.bytes + index_after)
            .saturating_sub(plan.delete_bytes());
        Ok(plan)
    }
}

/// Bytes an index record takes (before compression), for estimates.
const INDEX_RECORD_LEN: u64 = 32 + 32 + 1 + 4 + 4 + 4;

/// Carries out a [`PrunePlan`]: copies the used blobs of each bundle fed
/// to it into new bundles, then writes the new index. See the module docs
/// for the order the host stores and deletes in.
pub struct Pruner {
    vault: Vault,
    plan: PrunePlan,
    writer: Option<BundleWriter>,
    /// Where the copied blobs now live.
    moved: Vec<(Id, Location)>,
    fed: HashSet<Id>,
    bundles_written: Tally,
}

impl fmt::Debug for Pruner {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Pruner")
            .field("plan", &self.plan)
            .field("fed", &self.fed.len())
            .finish_non_exhaustive()
    }
}

/// What to store and delete once every bundle was fed.
#[derive(Debug)]
pub struct PruneCommit {
    /// The last new bundle (store it before the index).
    pub bundles: Vec<SealedBundle>,
    /// The new index deltas (store them after every bundle). A delta
    /// already stored under the same name (the same records) is not
    /// repeated here, so this can be empty when the index is rewritten.
    pub indexes: Vec<SealedObject>,
    /// What to delete afterwards, in this order: old index deltas, then
    /// bundles, then unreferenced objects (stored names).
    pub delete: Vec<String>,
    /// The summary.
    pub report: PruneReport,
}

/// What a prune did. JSON with the fields below.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PruneReport {
    /// The plan's figures.
    pub plan: PrunePlan,
    /// New bundles written.
    pub bundles_written: Tally,
    /// New index deltas written.
    pub indexes_written: Tally,
    /// Objects deleted (as planned; the host deletes them).
    pub deleted: Tally,
    /// The vault's size before, bytes.
    pub bytes_before: u64,
    /// Its size after, bytes.
    pub bytes_after: u64,
}

impl PruneReport {
    /// Bytes the prune gave back (0 if the vault grew).
    pub fn bytes_freed(&self) -> u64 {
        self.bytes_before.saturating_sub(self.bytes_after)
    }
}

impl Pruner {
    /// Starts carrying out `plan` (made by `state.prune_plan`) on `vault`.
    pub fn new(vault: &Vault, plan: PrunePlan) -> Self {
        Pruner {
            vault: vault.clone(),
            plan,
            writer: None,
            moved: Vec::new(),
            fed: HashSet::new(),
            bundles_written: Tally::default(),
        }
    }

    /// The plan being carried out.
    pub fn plan(&self) -> &PrunePlan {
        &self.plan
    }

    /// The bundles still to feed (names).
    pub fn remaining(&self) -> Vec<String> {
        self.plan
            .work
            .repack
            .keys()
            .filter(|id| !self.fed.contains(id))
            .map(|id| layout::object_name(ObjectKind::Bundle, id))
            .collect()
    }

    /// Takes the stored bytes of the bundle `name` (one of the plan's
    /// [`read`](PrunePlan::read)), checks them and every blob copied out
    /// of them, and returns the new bundles that filled up (store each).
    ///
    /// Errors: [`Error::InvalidArgument`] for a name the plan does not
    /// read, or one fed twice; [`Error::Corrupt`] when the bundle is not
    /// the one stored under that name or a used blob in it does not open
    /// (nothing is deleted then: stop, run `verify`).
    pub fn feed(&mut self, name: &str, bytes: &[u8]) -> Result<Vec<SealedBundle>> {
        let id = match layout::parse_name(name) {
            layout::StoredName::Object {
                kind: ObjectKind::Bundle,
                id,
            } => id,
            _ => {
                return Err(Error::argument(
                    "name",
                    format!("{name:?} is not a bundle's name"),
                ))
            }
        };
        let Some(blobs) = self.plan.work.repack.get(&id).cloned() else {
            return Err(Error::argument(
                "name",
                format!("{name} is not a bundle this prune repacks"),
            ));
        };
        if self.fed.contains(&id) {
            return Err(Error::argument("name", format!("{name} was fed already")));
        }
        let object = super::bundle::bundle_name(&id);
        if hash(bytes) != id.0 {
            return Err(Error::corrupt(
                &object,
                "its bytes do not hash to its name (changed or truncated in storage)",
            ));
        }
        let target = self.vault.settings().bundle_size as usize;
        let mut full = Vec::new();
        for (blob, loc) in &blobs {
            let start = loc.offset as usize;
            let sealed = start
                .checked_add(loc.length as usize)
                .and_then(|end| bytes.get(start..end))
                .ok_or_else(|| {
                    Error::corrupt(&object, format!("blob {} lies past its end", blob.short()))
                })?;
            open_blob(
                self.vault.keys(),
                self.vault.id(),
                loc.kind,
                blob,
                loc.raw_len,
                sealed,
                &object,
            )?;
            let writer = self.writer.get_or_insert_with(|| {
                let mut w = BundleWriter::new(*self.vault.id(), 0);
                w.reserve(target + sealed.len());
                w
            });
            writer.add_sealed(*blob, loc.kind, loc.raw_len, sealed)?;
            if writer.len() >= target {
                if let Some(w) = self.writer.take() {
                    full.push(self.seal(w)?);
                }
            }
        }
        self.fed.insert(id);
        Ok(full)
    }

    fn seal(&mut self, writer: BundleWriter) -> Result<SealedBundle> {
        let bundle = writer.seal(self.vault.keys())?;
        self.moved.extend(bundle.locations());
        self.bundles_written.add(bundle.bytes.len() as u64);
        Ok(bundle)
    }

    /// Seals the last bundle and the new index, and lists what to delete.
    ///
    /// Errors: [`Error::InvalidArgument`] when a bundle of the plan was
    /// not fed; [`Error::Corrupt`] if the new index would leave a used blob
    /// out (a bug: nothing must be deleted then).
    pub fn finish(mut self) -> Result<PruneCommit> {
        let missing = self.remaining();
        if let Some(first) = missing.first() {
            return Err(Error::argument(
                "prune",
                format!(
                    "{} bundle(s) to repack were not fed, e.g. {first}",
                    missing.len()
                ),
            ));
        }
        let mut bundles = Vec::new();
        if let Some(w) = self.writer.take() {
            if !w.is_empty() {
                bundles.push(self.seal(w)?);
            }
        }
        let mut indexes = Vec::new();
        let mut delete = Vec::new();
        if self.plan.rewrite_index {
            let mut all = Index::new();
            for (blob, loc) in self.moved.iter().chain(&self.plan.work.keep) {
                all.insert(*blob, *loc);
            }
            if let Some(lost) = self.plan.work.used.iter().find(|b| !all.contains(b)) {
                return Err(Error::corrupt(
                    "prune",
                    format!(
                        "the new index would leave out used blob {}; nothing was deleted",
                        lost.short()
                    ),
                ));
            }
            let mut records: Vec<(&Id, &Location)> = all.iter().collect();
            records.sort_unstable_by_key(|(b, _)| **b);
            for part in records.chunks(MAX_DELTA_RECORDS) {
                indexes.push(Index::seal_delta(
                    self.vault.keys(),
                    self.vault.id(),
                    part.iter().copied(),
                )?);
            }
            // A new delta can have an old one's name (the same records: ids
            // are keyed hashes of the plaintext). That one is stored and was
            // read already: keep it, and do not hand it back to be written
            // again (storing it would overwrite an object in place, and the
            // report would count its bytes as added without any removed).
            let old_names: HashSet<&str> = self
                .plan
                .work
                .delete_indexes
                .iter()
                .map(|l| l.name.as_str())
                .collect();
            let new_names: HashSet<String> = indexes
                .iter()
                .map(|o| layout::object_name(ObjectKind::Index, &o.id))
                .collect();
            indexes.retain(|o| {
                !old_names.contains(layout::object_name(ObjectKind::Index, &o.id).as_str())
            });
            delete.extend(
                self.plan
                    .work
                    .delete_indexes
                    .iter()
                    .filter(|l| !new_names.contains(&l.name))
                    .map(|l| l.name.clone()),
            );
        }
        delete.extend(self.plan.work.delete_bundles.iter().map(|l| l.name.clone()));
        delete.extend(self.plan.work.delete_other.iter().map(|l| l.name.clone()));

        let deleted_names: HashSet<&String> = delete.iter().collect();
        let mut deleted = Tally::default();
        for l in self
            .plan
            .work
            .delete_indexes
            .iter()
            .chain(&self.plan.work.delete_bundles)
            .chain(&self.plan.work.delete_other)
        {
            if deleted_names.contains(&l.name) {
                deleted.add(l.size);
            }
        }
        let mut indexes_written = Tally::default();
        for o in &indexes {
            indexes_written.add(o.bytes.len() as u64);
        }
        let bytes_before = self.plan.bytes_before;
        let bytes_after = (bytes_before + self.bundles_written.bytes + indexes_written.bytes)
            .saturating_sub(deleted.bytes);
        let report = PruneReport {
            plan: self.plan,
            bundles_written: self.bundles_written,
            indexes_written,
            deleted,
            bytes_before,
            bytes_after,
        };
        Ok(PruneCommit {
            bundles,
            indexes,
            delete,
            report,
        })
    }
}

/// The JSON Patch a v2 agent sends when it starts working on a cleanup:
/// state `in_progress` and `started_time`.
pub fn cleanup_started_patch(started: Timestamp) -> Result<Patch> {
    let ops = serde_json::json!([
        {"op": "replace", "path": "/state", "value": CleanupState::InProgress},
        {"op": "replace", "path": "/started_time", "value": started},
    ]);
    crate::patch::patch_from_value(ops)
}

/// The JSON Patch a v2 agent sends when it takes a cleanup up: state
/// `queued` (it starts when the vault is free: see
/// [`cleanup_started_patch`]).
pub fn cleanup_queued_patch() -> Result<Patch> {
    let ops = serde_json::json!([
        {"op": "replace", "path": "/state", "value": CleanupState::Queued},
    ]);
    crate::patch::patch_from_value(ops)
}

/// The JSON Patch a v2 agent sends when its cleanup ends: state
/// `completed`, `ended_time`, `snapshot_ids` (the service's numbers for
/// the vault snapshots `forgotten`, see [`snapshot_id_for`]) and the
/// vault's size before and after ([`PruneReport::bytes_before`] and
/// `bytes_after`; the vault's size for both when nothing was pruned).
pub fn cleanup_finished_patch(
    forgotten: &[String],
    bytes_before: u64,
    bytes_after: u64,
    ended: Timestamp,
) -> Result<Patch> {
    let ids = forgotten
        .iter()
        .map(|s| snapshot_id_for(s))
        .collect::<Result<Vec<i64>>>()?;
    let ops = serde_json::json!([
        {"op": "replace", "path": "/state", "value": CleanupState::Completed},
        {"op": "replace", "path": "/ended_time", "value": ended},
        {"op": "replace", "path": "/snapshot_ids", "value": ids},
        {"op": "replace", "path": "/bytes_before", "value": bytes_before},
        {"op": "replace", "path": "/bytes_after", "value": bytes_after},
    ]);
    crate::patch::patch_from_value(ops)
}

/// The JSON Patch a v2 agent sends when its cleanup fails: state `failed`,
/// `ended_time`, and `/errors` with `message` (the error's text) as its
/// diagnostics.
pub fn cleanup_failed_patch(message: &str, ended: Timestamp) -> Result<Patch> {
    let errors = serde_json::json!({
        "count": 1,
        "reason": "cleanup_failed",
        "diagnostics": message,
    });
    let ops = serde_json::json!([
        {"op": "replace", "path": "/state", "value": CleanupState::Failed},
        {"op": "replace", "path": "/ended_time", "value": ended},
        {"op": "add", "path": "/errors", "value": errors},
    ]);
    crate::patch::patch_from_value(ops)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::backup::{BackupOptions, BackupSession, FileMeta, SnapshotInfo};
    use crate::engine::chunker::ChunkerParams;
    use crate::engine::keys::KdfParams;
    use crate::engine::vault::VaultSettings;
    use crate::lifecycle::Actor;
    use crate::patch::{validate_patch, Endpoint, PatchContext};
    use crate::ErrorCode;
    use std::sync::Arc;

    const KIB: usize = 1024;

    /// Deterministic pseudo-random bytes (splitmix64): incompressible, so
    /// sizes in the tests are predictable.
    fn data(seed: u64, len: usize) -> Vec<u8> {
        let mut state = seed;
        let mut out = Vec::with_capacity(len + 8);
        while out.len() < len {
            state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
            let mut z = state;
            z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
            out.extend_from_slice(&(z ^ (z >> 31)).to_le_bytes());
        }
        out.truncate(len);
        out
    }

    /// A vault in memory with 1/4/16 KiB chunks and 64 KiB bundles.
    struct Mem {
        vault: Vault,
        objects: BTreeMap<String, Vec<u8>>,
        /// What each snapshot holds: path -> bytes.
        files: BTreeMap<Id, Vec<(String, Vec<u8>)>>,
    }

    impl Mem {
        fn new() -> Self {
            let settings = VaultSettings {
                chunker: ChunkerParams {
                    min_size: KIB as u32,
                    avg_size: 4 * KIB as u32,
                    max_size: 16 * KIB as u32,
                },
                zstd_level: 3,
                bundle_size: 64 * KIB as u32,
            };
            let vault = Vault::create(b"pw", settings, KdfParams::insecure_for_tests()).unwrap();
            Mem {
                vault,
                objects: BTreeMap::new(),
                files: BTreeMap::new(),
            }
        }

        fn state(&self) -> VaultState {
            let mut st = VaultState::new(&self.vault);
            for (name, bytes) in &self.objects {
                st.add_listed(Listed {
                    name: name.clone(),
                    size: bytes.len() as u64,
                    mtime_ns: 0,
                });
            }
            for name in st.wanted() {
                st.add_object(&name, &self.objects[&name]).unwrap();
            }
            st
        }

        fn backup(&mut self, files: &[(&str, Vec<u8>)]) -> Id {
            let index = self.state().index().clone();
            let mut s =
                BackupSession::new(&self.vault, Arc::new(index), BackupOptions::default()).unwrap();
            for (path, bytes) in files {
                s.start_file(FileMeta::file(*path, 0o644, 0)).unwrap();
                s.write(bytes).unwrap();
                s.finish_file().unwrap();
            }
            let out = s
                .finish(SnapshotInfo::at(self.files.len() as i64 + 1))
                .unwrap();
            for b in out.bundles {
                self.objects
                    .insert(layout::object_name(ObjectKind::Bundle, &b.id), b.bytes);
            }
            self.objects.insert(
                layout::object_name(ObjectKind::Index, &out.index.id),
                out.index.bytes,
            );
            self.objects.insert(
                layout::object_name(ObjectKind::Snapshot, &out.snapshot.id),
                out.snapshot.bytes,
            );
            let kept = files.iter().map(|(p, b)| (p.to_string(), b.clone()));
            self.files.insert(out.snapshot.id, kept.collect());
            out.snapshot.id
        }

        fn forget(&mut self, id: &Id) {
            self.objects
                .remove(&layout::object_name(ObjectKind::Snapshot, id))
                .unwrap();
            self.files.remove(id);
        }

        fn bundles(&self) -> usize {
            self.objects
                .keys()
                .filter(|n| n.starts_with("bundles/"))
                .count()
        }

        fn size(&self) -> u64 {
            self.objects.values().map(|b| b.len() as u64).sum()
        }

        fn plan(&self, options: &PruneOptions) -> PrunePlan {
            self.state().prune_plan(options, 0).unwrap()
        }

        /// A whole prune as a host runs it; every remaining snapshot is
        /// then checked byte for byte.
        fn prune(&mut self, options: &PruneOptions) -> PruneReport {
            let plan = self.plan(options);
            let mut pruner = Pruner::new(&self.vault, plan.clone());
            let mut new = Vec::new();
            for name in &plan.read {
                new.extend(pruner.feed(name, &self.objects[name]).unwrap());
            }
            let commit = pruner.finish().unwrap();
            for b in new.into_iter().chain(commit.bundles) {
                self.objects
                    .insert(layout::object_name(ObjectKind::Bundle, &b.id), b.bytes);
            }
            for o in commit.indexes {
                self.objects
                    .insert(layout::object_name(ObjectKind::Index, &o.id), o.bytes);
            }
            for name in &commit.delete {
                self.objects.remove(name).unwrap();
            }
            assert_eq!(commit.report.bytes_after, self.size());
            self.check();
            commit.report
        }

        /// Every snapshot restores byte for byte from the index.
        fn check(&self) {
            let st = self.state();
            assert_eq!(st.snapshots().len(), self.files.len());
            for (id, snap) in st.snapshots() {
                let want = &self.files[id];
                assert_eq!(snap.entries.len(), want.len());
                for (e, (path, bytes)) in snap.entries.iter().zip(want) {
                    assert_eq!(&e.path.to_string(), path);
                    let mut got = Vec::new();
                    for c in &e.chunks {
                        let l = st.index().get(c).unwrap();
                        let name = layout::object_name(ObjectKind::Bundle, &l.bundle);
                        let b = &self.objects[&name];
                        let sealed = &b[l.offset as usize..(l.offset + l.length) as usize];
                        got.extend(
                            open_blob(
                                self.vault.keys(),
                                self.vault.id(),
                                l.kind,
                                c,
                                l.raw_len,
                                sealed,
                                "t",
                            )
                            .unwrap(),
                        );
                    }
                    assert!(got == *bytes, "{path} differs");
                }
            }
        }
    }

    fn opts(max_unused: &str) -> PruneOptions {
        PruneOptions {
            max_unused: MaxUnused::parse(max_unused).unwrap(),
            grace_ns: 0,
            ..PruneOptions::default()
        }
    }

    #[test]
    fn bundle_framing_is_what_a_sealed_bundle_adds_to_its_blobs() {
        let mut m = Mem::new();
        m.backup(&[("/a", data(5, 150 * KIB)), ("/b", data(6, 3 * KIB))]);
        let st = m.state();
        for l in st.listed(ObjectKind::Bundle) {
            let layout::StoredName::Object { id, .. } = layout::parse_name(&l.name) else {
                panic!("{}", l.name)
            };
            let blobs: Vec<&Location> = st
                .index()
                .iter()
                .map(|(_, l)| l)
                .filter(|l| l.bundle == id)
                .collect();
            let payload: u64 = blobs.iter().map(|l| u64::from(l.length)).sum();
            assert_eq!(l.size, payload + bundle_overhead(blobs.len()), "{}", l.name);
        }
    }

    #[test]
    fn max_unused_parses_restic_syntax_and_refuses_the_rest() {
        use MaxUnused::*;
        for (text, want) in [
            ("5%", Percent(5.0)),
            ("0%", Percent(0.0)),
            ("99.5%", Percent(99.5)),
            (" 7 % ", Percent(7.0)),
            ("10M", Bytes(10 << 20)),
            ("1g", Bytes(1 << 30)),
            ("2k", Bytes(2048)),
            ("3T", Bytes(3 << 40)),
            ("123", Bytes(123)),
            ("0", Bytes(0)),
            ("unlimited", Unlimited),
            ("UNLIMITED", Unlimited),
        ] {
            assert_eq!(MaxUnused::parse(text).unwrap(), want, "{text}");
            // What Display writes parses back to the same value.
            assert_eq!(MaxUnused::parse(&want.to_string()).unwrap(), want);
        }
        for bad in [
            "100%",
            "150%",
            "-1%",
            "NaN%",
            "inf%",
            "%",
            "abc",
            "",
            "-1",
            "1.5M",
            "10X",
            "M",
            "5 %%",
            "18446744073709551616",
            "16777216T",
            "99999999999999999999k",
            "5\u{e9}",
        ] {
            let e = MaxUnused::parse(bad).unwrap_err();
            assert_eq!(e.code(), ErrorCode::InvalidArgument, "{bad}: {e}");
            assert!(e.to_string().contains("max_unused"), "{bad}: {e}");
        }
        // The largest size that fits.
        assert_eq!(
            MaxUnused::parse("16777215T").unwrap(),
            Bytes(16_777_215 << 40)
        );
        assert_eq!(MaxUnused::default(), Percent(5.0));
    }

    #[test]
    fn options_round_trip_through_json_and_refuse_unknown_fields() {
        let o = PruneOptions {
            max_unused: MaxUnused::Bytes(1 << 20),
            repack_small: true,
            max_repack_bytes: Some(12345),
            grace_ns: 7,
        };
        let json = serde_json::to_value(o).unwrap();
        assert_eq!(
            json,
            serde_json::json!({"max_unused": "1048576", "repack_small": true,
                "max_repack_bytes": 12345, "grace_ns": 7})
        );
        let back: PruneOptions = serde_json::from_value(json).unwrap();
        assert_eq!(back, o);
        let d: PruneOptions = serde_json::from_str("{}").unwrap();
        assert_eq!(d, PruneOptions::default());
        assert_eq!(
            serde_json::to_value(d).unwrap(),
            serde_json::json!({"max_unused": "5%", "repack_small": false,
                "max_repack_bytes": null, "grace_ns": 3_600_000_000_000i64})
        );
        let p: PruneOptions = serde_json::from_str(r#"{"max_unused": "unlimited"}"#).unwrap();
        assert_eq!(p.max_unused, MaxUnused::Unlimited);
        for bad in [
            r#"{"max_unused": "5%", "max_unsued": "1%"}"#,
            r#"{"max_unused": "100%"}"#,
            r#"{"max_unused": 5}"#,
            r#"{"grace_ns": "1h"}"#,
        ] {
            assert!(serde_json::from_str::<PruneOptions>(bad).is_err(), "{bad}");
        }
        // A negative grace parses but no plan is made with it.
        let neg: PruneOptions = serde_json::from_str(r#"{"grace_ns": -1}"#).unwrap();
        let e = Mem::new().state().prune_plan(&neg, 0).unwrap_err();
        assert_eq!(e.code(), ErrorCode::InvalidArgument);
    }

    #[test]
    fn a_bundle_no_snapshot_uses_is_deleted_without_reading_it() {
        let mut m = Mem::new();
        let old = m.backup(&[("/a", data(1, 200 * KIB))]);
        m.backup(&[("/b", data(2, 100 * KIB))]);
        let before = m.bundles();
        m.forget(&old);
        let plan = m.plan(&opts("5%"));
        assert!(plan.unused_bundles.count >= 3, "{plan:?}");
        assert_eq!(plan.repack_bundles.count, 0, "{plan:?}");
        assert!(plan.read.is_empty());
        assert!(plan.rewrite_index && !plan.is_empty());
        assert_eq!(plan.snapshots, 1);
        let gone = plan.unused_bundles.count as usize;
        let report = m.prune(&opts("5%"));
        assert_eq!(m.bundles(), before - gone);
        assert_eq!(report.bundles_written.count, 0);
        assert!(report.bytes_freed() >= 200 * KIB as u64, "{report:?}");
        // The index left is the second backup's delta, record for record:
        // it stays as stored, nothing is written.
        assert_eq!(report.indexes_written.count, 0, "{report:?}");
        assert_eq!(
            m.objects.keys().filter(|n| n.starts_with("index/")).count(),
            1
        );
        // Nothing left to do.
        assert!(m.plan(&opts("5%")).is_empty());
    }

    /// Two files in one bundle; then a snapshot of the first only, and the
    /// first snapshot forgotten: the bundle is half unused.
    fn half_used() -> Mem {
        let mut m = Mem::new();
        let (x, y) = (data(10, 20 * KIB), data(11, 20 * KIB));
        let first = m.backup(&[("/x", x.clone()), ("/y", y)]);
        m.backup(&[("/x", x)]);
        assert_eq!(m.bundles(), 1, "the second backup wrote nothing new");
        m.forget(&first);
        m
    }

    #[test]
    fn a_partly_used_bundle_is_repacked_over_max_unused_and_kept_under_it() {
        let m = half_used();
        let plan = m.plan(&opts("unlimited"));
        assert_eq!(plan.keep_bundles.count, 1, "{plan:?}");
        assert!(plan.is_empty() && plan.read.is_empty());
        assert!(plan.unused_after > 20 * KIB as u64, "{plan:?}");
        // 20 KiB unused of 20 KiB used is within 100M or 60%, not 5%.
        assert!(m.plan(&opts("100M")).is_empty());
        assert!(m.plan(&opts("60%")).is_empty());

        let mut m = m;
        let plan = m.plan(&opts("5%"));
        assert_eq!(plan.repack_bundles.count, 1, "{plan:?}");
        assert_eq!(plan.read.len(), 1);
        assert!(plan.repack_blobs.bytes > 20 * KIB as u64, "{plan:?}");
        assert!(plan.repack_blobs.bytes < 22 * KIB as u64, "{plan:?}");
        let report = m.prune(&opts("5%"));
        assert_eq!(report.bundles_written.count, 1);
        assert!(report.bytes_after < report.bytes_before - 19 * KIB as u64);
        assert!(m.plan(&opts("0%")).is_empty(), "converged");
    }

    #[test]
    fn a_vault_with_no_unused_blob_is_left_alone_even_at_zero_percent() {
        let mut m = Mem::new();
        m.backup(&[("/a", data(3, 300 * KIB))]);
        m.backup(&[("/b", data(4, 300 * KIB))]);
        let plan = m.plan(&opts("0%"));
        assert!(plan.is_empty(), "{plan:?}");
        assert_eq!(plan.unused_blobs.count, 0);
        assert_eq!(plan.repack_bundles.count, 0, "{plan:?}");
        let before = m.size();
        m.prune(&opts("0%"));
        assert_eq!(m.size(), before);
    }

    #[test]
    fn repack_small_merges_two_or_more_small_bundles() {
        let mut m = Mem::new();
        for n in 0..3 {
            m.backup(&[("/f", data(20 + n, 15 * KIB))]);
        }
        assert_eq!(m.bundles(), 3);
        let small = PruneOptions {
            repack_small: true,
            ..opts("5%")
        };
        assert!(m.plan(&opts("5%")).is_empty(), "fully used: kept");
        let plan = m.plan(&small);
        assert_eq!(plan.repack_bundles.count, 3, "{plan:?}");
        assert_eq!(plan.read.len(), 3);
        let report = m.prune(&small);
        assert_eq!(report.bundles_written.count, 1);
        assert_eq!(m.bundles(), 1);
        // One small bundle alone is not copied again.
        assert!(m.plan(&small).is_empty());
    }

    #[test]
    fn max_repack_bytes_bounds_what_is_copied() {
        let mut m = Mem::new();
        // Two bundles, each half used once the first snapshot goes.
        let (x, y) = (data(30, 20 * KIB), data(31, 20 * KIB));
        let (p, q) = (data(32, 30 * KIB), data(33, 30 * KIB));
        let first = m.backup(&[("/x", x.clone()), ("/y", y)]);
        let second = m.backup(&[("/p", p.clone()), ("/q", q)]);
        m.backup(&[("/x", x), ("/p", p)]);
        m.forget(&first);
        m.forget(&second);
        assert_eq!(m.bundles(), 2);
        let with = |budget: u64| PruneOptions {
            max_repack_bytes: Some(budget),
            ..opts("0%")
        };
        let plan = m.plan(&with(10 * KIB as u64));
        assert_eq!(plan.repack_bundles.count, 0, "{plan:?}");
        assert!(plan.is_empty());
        assert!(plan.unused_after > 50 * KIB as u64);
        // Room for the 20 KiB bundle's blobs, not for both.
        let plan = m.plan(&with(25 * KIB as u64));
        assert_eq!(plan.repack_bundles.count, 1, "{plan:?}");
        assert!(plan.repack_blobs.bytes <= 25 * KIB as u64);
        let plan = m.plan(&with(60 * KIB as u64));
        assert_eq!(plan.repack_bundles.count, 2, "{plan:?}");
        let report = m.prune(&with(25 * KIB as u64));
        assert_eq!(report.plan.repack_bundles.count, 1);
        assert!(m.plan(&with(25 * KIB as u64)).is_empty(), "30 KiB to copy");
        m.prune(&with(40 * KIB as u64));
        assert!(m.plan(&opts("0%")).is_empty(), "the rest on the next run");
    }

    #[test]
    fn unreferenced_bundles_and_temporaries_go_only_after_the_grace() {
        let mut m = Mem::new();
        m.backup(&[("/a", data(40, 10 * KIB))]);
        let mut st = m.state();
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
        let o = PruneOptions {
            grace_ns: 500,
            ..PruneOptions::default()
        };
        let plan = st.prune_plan(&o, 1_000).unwrap();
        assert!(!plan.rewrite_index && !plan.is_empty());
        assert_eq!(
            plan.unindexed_bundles,
            Tally {
                count: 1,
                bytes: 10
            }
        );
        assert_eq!(
            plan.temporary,
            Tally {
                count: 1,
                bytes: 10
            }
        );
        assert_eq!(plan.kept_young, 2);
        assert_eq!(plan.delete_bytes(), 20);
        let commit = Pruner::new(&m.vault, plan).finish().unwrap();
        assert_eq!(commit.delete, vec![orphan, "bundles/x.1.2.tmp".to_string()]);
        assert!(commit.indexes.is_empty() && commit.bundles.is_empty());
    }

    #[test]
    fn the_pruner_refuses_names_it_does_not_read_and_bundles_fed_twice() {
        let mut m = half_used();
        m.backup(&[("/z", data(50, 10 * KIB))]);
        let plan = m.plan(&opts("5%"));
        assert_eq!(plan.read.len(), 1);
        let name = plan.read[0].clone();
        let mut pruner = Pruner::new(&m.vault, plan);
        assert_eq!(pruner.remaining(), vec![name.clone()]);
        let kept = m
            .objects
            .keys()
            .find(|n| n.starts_with("bundles/") && **n != name)
            .unwrap()
            .clone();
        for bad in [kept.as_str(), "index/00", "snapshots/zz", "nonsense"] {
            let e = pruner.feed(bad, &m.objects[&name]).unwrap_err();
            assert_eq!(e.code(), ErrorCode::InvalidArgument, "{bad}: {e}");
        }
        pruner.feed(&name, &m.objects[&name]).unwrap();
        assert!(pruner.remaining().is_empty());
        let e = pruner.feed(&name, &m.objects[&name]).unwrap_err();
        assert_eq!(e.code(), ErrorCode::InvalidArgument, "{e}");
        assert!(e.to_string().contains("fed already"), "{e}");
        let commit = pruner.finish().unwrap();
        assert_eq!(commit.bundles.len(), 1);
        // Old deltas first, then the bundle.
        assert_eq!(commit.delete.last(), Some(&name));
        assert!(commit.delete[..commit.delete.len() - 1]
            .iter()
            .all(|n| n.starts_with("index/")));
    }

    #[test]
    fn a_damaged_bundle_stops_the_prune_before_anything_is_deleted() {
        let m = half_used();
        let plan = m.plan(&opts("5%"));
        let name = plan.read[0].clone();
        let mut bytes = m.objects[&name].clone();
        bytes[100] ^= 1;
        let mut pruner = Pruner::new(&m.vault, plan.clone());
        let e = pruner.feed(&name, &bytes).unwrap_err();
        assert_eq!(e.code(), ErrorCode::Corrupt, "{e}");
        let e = pruner.feed(&name, &bytes[..bytes.len() - 1]).unwrap_err();
        assert_eq!(e.code(), ErrorCode::Corrupt, "{e}");
        assert_eq!(pruner.remaining(), vec![name.clone()], "not counted as fed");
        let e = pruner.finish().unwrap_err();
        assert_eq!(e.code(), ErrorCode::InvalidArgument, "{e}");
        assert!(e.to_string().contains("not fed"), "{e}");

        // A blob that does not open in a bundle whose bytes match its name
        // (written damaged): refused too, never copied.
        let mut m = half_used();
        let old = m.plan(&opts("5%")).read[0].clone();
        let mut bytes = m.objects.remove(&old).unwrap();
        let st = m.state();
        let first = *st
            .index()
            .iter()
            .map(|(_, l)| l)
            .min_by_key(|l| l.offset)
            .unwrap();
        bytes[first.offset as usize + 20] ^= 1;
        let id = Id(hash(&bytes));
        let name = layout::object_name(ObjectKind::Bundle, &id);
        let records: Vec<(Id, Location)> = st
            .index()
            .iter()
            .map(|(b, l)| (*b, Location { bundle: id, ..*l }))
            .collect();
        let delta = Index::seal_delta(
            m.vault.keys(),
            m.vault.id(),
            records.iter().map(|(b, l)| (b, l)),
        )
        .unwrap();
        for n in m
            .objects
            .keys()
            .filter(|n| n.starts_with("index/"))
            .cloned()
            .collect::<Vec<_>>()
        {
            m.objects.remove(&n);
        }
        m.objects.insert(
            layout::object_name(ObjectKind::Index, &delta.id),
            delta.bytes,
        );
        m.objects.insert(name.clone(), bytes.clone());
        let plan = m.plan(&opts("5%"));
        assert_eq!(plan.read, vec![name.clone()]);
        let mut pruner = Pruner::new(&m.vault, plan);
        match pruner.feed(&name, &bytes) {
            // The damaged blob is the used one, or not copied at all.
            Err(e) => assert_eq!(e.code(), ErrorCode::Corrupt, "{e}"),
            Ok(_) => panic!("a damaged used blob was copied"),
        }
    }

    #[test]
    fn cleanup_patches_are_what_the_service_takes() {
        let agent = || PatchContext::new(Actor::Agent);
        let t = |s: i64| Timestamp::from_unix_micros(s * 1_000_000);
        let requested = serde_json::json!({"state": "start_requested", "errors": null});
        let queued = validate_patch(
            Endpoint::Cleanup,
            &requested,
            &cleanup_queued_patch().unwrap(),
            agent(),
        )
        .unwrap();
        assert_eq!(queued["state"], "queued");
        let started = cleanup_started_patch(t(100)).unwrap();
        let running = validate_patch(Endpoint::Cleanup, &queued, &started, agent()).unwrap();
        assert_eq!(running["state"], "in_progress");
        assert_eq!(running["started_time"], "1970-01-01T00:01:40.000000Z");

        let mut m = half_used();
        let report = m.prune(&opts("5%"));
        let forgotten = vec!["0123456789abcdef".repeat(4), "fedcba9876543".to_string()];
        let done =
            cleanup_finished_patch(&forgotten, report.bytes_before, report.bytes_after, t(200))
                .unwrap();
        let next = validate_patch(Endpoint::Cleanup, &running, &done, agent()).unwrap();
        assert_eq!(next["state"], "completed");
        assert_eq!(next["ended_time"], "1970-01-01T00:03:20.000000Z");
        assert_eq!(
            next["snapshot_ids"],
            serde_json::json!([0x0123456789abc_i64, 0xfedcba9876543_i64])
        );
        assert_eq!(next["bytes_before"], report.bytes_before);
        assert_eq!(next["bytes_after"], report.bytes_after);
        // Forget without prune: the vault's size, twice.
        let done = cleanup_finished_patch(&[], 4242, 4242, t(200)).unwrap();
        let next = validate_patch(Endpoint::Cleanup, &running, &done, agent()).unwrap();
        assert_eq!(
            (&next["bytes_before"], &next["bytes_after"]),
            (&4242.into(), &4242.into())
        );
        assert_eq!(next["snapshot_ids"], serde_json::json!([]));
        // An id that is not a vault snapshot's: refused before sending.
        let e = cleanup_finished_patch(&["xyz".into()], 0, 0, t(1)).unwrap_err();
        assert_eq!(e.code(), ErrorCode::InvalidValue);

        let err = Error::corrupt("bundle 1234", "trailer authentication failed");
        let failed = cleanup_failed_patch(&err.to_string(), t(300)).unwrap();
        let next = validate_patch(Endpoint::Cleanup, &running, &failed, agent()).unwrap();
        assert_eq!(next["state"], "failed");
        assert_eq!(next["errors"]["count"], 1);
        assert_eq!(next["errors"]["reason"], "cleanup_failed");
        assert!(next["errors"]["diagnostics"]
            .as_str()
            .unwrap()
            .contains("trailer authentication failed"));
        // A finished cleanup does not start again.
        assert!(validate_patch(Endpoint::Cleanup, &next, &started, agent()).is_err());
    }
}
