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
use super::bundle::{BundleWriter, SealedBundle, FOOTER_LEN};
use super::crypto::{hash, Id, NONCE_LEN, TAG_LEN};
use super::format::{ObjectKind, HEADER_LEN};
use super::index::{Index, Location};
use super::layout::{self, Listed};
use super::object::SealedObject;
use super::state::VaultState;
use super::vault::Vault;
use crate::lifecycle::CleanupState;
use crate::model::v2::snapshot_id::snapshot_id_for;
use crate::model::wire::Timestamp;
use crate::patch::Patch;
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
        MaxUnused::parse(&text).map_err(serde::de::Error::custom)
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
                c.used_bytes + bundle_framing(used_count)
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
        plan.rewrite_index = !plan.work.delete_bundles.is_empty();
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

/// Bytes of a bundle of `blobs` blobs besides the blobs themselves: the
/// header, the trailer (nonce, count, one record per blob, tag; stored
/// uncompressed) and the footer (see `super::bundle`).
fn bundle_framing(blobs: usize) -> u64 {
    const TRAILER_RECORD_LEN: usize = 32 + 1 + 4 + 4 + 4;
    (HEADER_LEN + NONCE_LEN + 4 + blobs * TRAILER_RECORD_LEN + TAG_LEN + FOOTER_LEN) as u64
}

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
    /// The new index deltas (store them after every bundle).
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
        for e in &bundle.entries {
            self.moved.push((
                e.id,
                Location {
                    bundle: bundle.id,
                    kind: e.kind,
                    offset: e.offset,
                    length: e.length,
                    raw_len: e.raw_len,
                },
            ));
        }
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

/// The JSON Patch a v2 agent sends when its cleanup ends: state
/// `completed`, `ended_time`, `bytes_before`/`bytes_after` from the
/// prune's report (the vault's size when nothing was pruned) and
/// `snapshot_ids` (the service's numbers for the vault snapshots
/// `forgotten`, see [`snapshot_id_for`]).
pub fn cleanup_finished_patch(
    forgotten: &[String],
    report: Option<&PruneReport>,
    vault_bytes: u64,
    ended: Timestamp,
) -> Result<Patch> {
    let ids = forgotten
        .iter()
        .map(|s| snapshot_id_for(s))
        .collect::<Result<Vec<i64>>>()?;
    let (before, after) = report.map_or((vault_bytes, vault_bytes), |r| {
        (r.bytes_before, r.bytes_after)
    });
    let ops = serde_json::json!([
        {"op": "replace", "path": "/state", "value": CleanupState::Completed},
        {"op": "replace", "path": "/ended_time", "value": ended},
        {"op": "replace", "path": "/snapshot_ids", "value": ids},
        {"op": "replace", "path": "/bytes_before", "value": before},
        {"op": "replace", "path": "/bytes_after", "value": after},
    ]);
    crate::patch::patch_from_value(ops)
}

/// The JSON Patch a v2 agent sends when its cleanup fails: state `failed`,
/// `ended_time`, and `/errors` with the error's code and message.
pub fn cleanup_failed_patch(error: &Error, ended: Timestamp) -> Result<Patch> {
    let errors = serde_json::json!({
        "count": 1,
        "reason": "cleanup_failed",
        "diagnostics": error.to_string(),
    });
    let ops = serde_json::json!([
        {"op": "replace", "path": "/state", "value": CleanupState::Failed},
        {"op": "replace", "path": "/ended_time", "value": ended},
        {"op": "add", "path": "/errors", "value": errors},
    ]);
    crate::patch::patch_from_value(ops)
}
