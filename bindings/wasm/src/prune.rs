//! Prune (`VaultState.prunePlan`, `Pruner`): give back the space of blobs
//! no snapshot uses, and the v2 cleanup's lifecycle patches. Thin: the
//! rules are the core's (`engine::prune`).

use cloudbackup_core::engine::format::ObjectKind;
use cloudbackup_core::engine::prune::{
    cleanup_failed_patch, cleanup_finished_patch, cleanup_queued_patch, cleanup_started_patch,
};
use cloudbackup_core::engine::{self as core_engine, layout, Id, PruneOptions, PruneReport};
use cloudbackup_core::wire::Timestamp;
use cloudbackup_core::Error;
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;

use crate::engine::set;
use crate::state::VaultState;
use crate::{buffer_arg, json_arg, ns_arg, size_arg, string_arg, time_arg, to_js, wrong, JsResult};

#[wasm_bindgen(typescript_custom_section)]
const TS_PRUNE: &'static str = r#"
/** Binary size suffixes of `MaxUnused` (any case). */
export type SizeSuffix = "k" | "K" | "m" | "M" | "g" | "G" | "t" | "T";
/** How much unused space a prune may leave (restic's `--max-unused`): a percentage of the vault from 0 to below 100 (`"5%"`), a size in bytes (`"100M"`: binary suffixes k, m, g, t; `"1048576"`) or `"unlimited"` (only bundles with no used blob go). */
export type MaxUnused = `${number}%` | `${number}` | `${number}${SizeSuffix}` | "unlimited";
/** What a prune may do: every member optional. */
export interface PruneOptions {
  /** Unused space tolerated after the prune (default `"5%"`). */
  max_unused?: MaxUnused;
  /** Also repack bundles under 80% of the vault's bundle size (the last, partial bundle of each backup), when there are at least two (default false). */
  repack_small?: boolean;
  /** Copy at most this many bytes (the unused space left may then exceed `max_unused`); null: no limit. */
  max_repack_bytes?: number | null;
  /** Bundles no index references and temporary objects younger than this many nanoseconds (a number: JSON) are kept, as in gc (default one hour, 3600000000000). */
  grace_ns?: number;
}
/** How many, and their size in bytes (sealed, as stored). */
export interface Tally { count: number; bytes: number; }
/** What a prune does (`VaultState.prunePlan`, `Pruner.plan()`), and what it saw. */
export interface PrunePlan {
  /** The options it was made with (`max_unused` as the core writes it: `"5%"`, a number of bytes, or `"unlimited"`). */
  options: Required<PruneOptions>;
  /** Snapshots whose blobs are kept. */
  snapshots: number;
  /** Blobs some snapshot uses. */
  used_blobs: Tally;
  /** Indexed blobs no snapshot uses (including second copies). */
  unused_blobs: Tally;
  /** Bundles kept as they are. */
  keep_bundles: Tally;
  /** Bundles whose used blobs are copied into new bundles, then deleted. */
  repack_bundles: Tally;
  /** Used blobs copied. */
  repack_blobs: Tally;
  /** Indexed bundles with no used blob: deleted. */
  unused_bundles: Tally;
  /** Bundles no index references, old enough to delete. */
  unindexed_bundles: Tally;
  /** Temporary objects old enough to delete. */
  temporary: Tally;
  /** Unreferenced objects kept as younger than the grace period. */
  kept_young: number;
  /** Unused bytes left in kept bundles after the prune. */
  unused_after: number;
  /** The vault's stored size now (bundles, index deltas, snapshots). */
  bytes_before: number;
  /** Its expected size after the prune. */
  bytes_after_estimate: number;
  /** The bundles a `Pruner` reads (stored names): fetch and feed each. */
  read: string[];
  /** Whether the index is rewritten. */
  rewrite_index: boolean;
}
/** What a prune did. */
export interface PruneReport {
  plan: PrunePlan;
  bundles_written: Tally;
  indexes_written: Tally;
  /** Objects deleted (as listed in `PruneCommit.delete`: the host deletes them). */
  deleted: Tally;
  /** The vault's size before, bytes. */
  bytes_before: number;
  /** Its size after, bytes. */
  bytes_after: number;
}
/** A new object a prune wrote: store `bytes` under `name` (`bundles/<id>`, `index/<id>`). */
export interface PrunedObject extends StoredObject { name: string; }
/** What `Pruner.finish()` hands back: store `bundles`, then `indexes`; then (the exclusive lock still fresh) delete `delete` in order. */
export interface PruneCommit {
  /** The last new bundles. */
  bundles: PrunedObject[];
  /** The new index deltas. */
  indexes: PrunedObject[];
  /** Stored names to delete, in this order: old index deltas, then bundles, then unreferenced objects. */
  delete: string[];
  report: PruneReport;
}
/** One operation of a cleanup's lifecycle patch (`cleanupStartedPatch`...): send the array to the v2 cleanup's PATCH endpoint. */
export interface CleanupPatchOperation { op: "replace" | "add"; path: string; value: JsonValue; }
"#;

/// The prune options argument (`undefined`/`null`: the defaults).
fn options_arg(value: &JsValue) -> JsResult<PruneOptions> {
    Ok(json_arg::<PruneOptions>(value, "options")?.unwrap_or_default())
}

/// A new object as JS `{name, id, bytes}` (`PrunedObject`).
fn pruned_js(kind: ObjectKind, id: &Id, bytes: &[u8]) -> JsResult<JsValue> {
    let o = js_sys::Object::new();
    set(
        &o,
        "name",
        &JsValue::from_str(&layout::object_name(kind, id)),
    )?;
    set(&o, "id", &JsValue::from_str(&id.to_hex()))?;
    set(&o, "bytes", &js_sys::Uint8Array::from(bytes).into())?;
    Ok(o.into())
}

/// A time argument (`UnixTime`) as the patch writes it (to the microsecond).
fn timestamp_arg(value: &JsValue, name: &str) -> JsResult<Timestamp> {
    let (seconds, nanos) = time_arg(value, name)?;
    Ok(Timestamp::from_unix_micros(
        seconds * 1_000_000 + i64::from(nanos / 1000),
    ))
}

/// A patch as a JS array of operations.
fn patch_js(patch: &cloudbackup_core::patch::Patch) -> JsResult<JsValue> {
    to_js("cleanup patch", patch)
}

fn not_finished() -> Error {
    Error::InvalidState {
        session: "prune".into(),
        reason: "has not finished".into(),
    }
}

#[wasm_bindgen]
impl VaultState {
    /// What a prune with `options` does at `nowNs`; deletes nothing (a dry
    /// run). Refuses (`CorruptError`) as `gcPlan` does, and when a used
    /// blob's bundle is missing from the listing; options that do not fit
    /// throw `InvalidJsonError` naming the member (`max_unused`).
    #[wasm_bindgen(js_name = "prunePlan", unchecked_return_type = "PrunePlan")]
    pub fn prune_plan(
        &self,
        #[wasm_bindgen(unchecked_param_type = "PruneOptions | null | undefined")] options: JsValue,
        #[wasm_bindgen(js_name = "nowNs", unchecked_param_type = "Nanoseconds")] now_ns: JsValue,
    ) -> JsResult<JsValue> {
        let options = options_arg(&options)?;
        let now_ns = ns_arg(&now_ns, "nowNs")?;
        to_js("prune plan", &self.core().prune_plan(&options, now_ns)?)
    }
}

/// A prune of a vault read in full (`VaultState`), under an exclusive
/// lock: fetch each bundle of `remaining()` and `feed` it, storing the new
/// bundles it returns; then `finish()`, store its bundles and then its
/// index deltas, and delete its `delete` names in order (the lock still
/// fresh).
#[wasm_bindgen]
pub struct Pruner {
    /// The core's pruner, until finished.
    inner: Option<core_engine::Pruner>,
    /// The report, once finished.
    report: Option<PruneReport>,
}

impl Pruner {
    fn running(&mut self) -> JsResult<&mut core_engine::Pruner> {
        Ok(self
            .inner
            .as_mut()
            .ok_or_else(|| Error::finished("prune"))?)
    }
}

#[wasm_bindgen]
impl Pruner {
    /// Plans a prune of `state` with `options` at `nowNs`, as `prunePlan`
    /// (same errors), and starts carrying it out (the pruner keeps its own
    /// copy: `state` may be freed).
    #[wasm_bindgen(constructor)]
    pub fn new(
        state: &VaultState,
        #[wasm_bindgen(unchecked_param_type = "PruneOptions | null | undefined")] options: JsValue,
        #[wasm_bindgen(js_name = "nowNs", unchecked_param_type = "Nanoseconds")] now_ns: JsValue,
    ) -> JsResult<Pruner> {
        let options = options_arg(&options)?;
        let now_ns = ns_arg(&now_ns, "nowNs")?;
        let plan = state.core().prune_plan(&options, now_ns)?;
        Ok(Pruner {
            inner: Some(core_engine::Pruner::new(state.core().vault(), plan)),
            report: None,
        })
    }

    /// The plan being carried out (also after `finish`).
    #[wasm_bindgen(unchecked_return_type = "PrunePlan")]
    pub fn plan(&self) -> JsResult<JsValue> {
        match (&self.inner, &self.report) {
            (Some(p), _) => to_js("prune plan", p.plan()),
            (None, Some(r)) => to_js("prune plan", &r.plan),
            // A finish that failed leaves neither.
            (None, None) => Err(Error::finished("prune").into()),
        }
    }

    /// The bundles still to fetch and feed (stored names).
    #[wasm_bindgen(unchecked_return_type = "string[]")]
    pub fn remaining(&mut self) -> JsResult<JsValue> {
        to_js("remaining", &self.running()?.remaining())
    }

    /// Feeds the stored bytes of the bundle `name` (one of `remaining()`):
    /// they are checked, and every used blob copied is opened first.
    /// Returns the new bundles that filled up: store each. Throws
    /// `InvalidArgumentError` (naming `name`) for a name the plan does not
    /// read or one fed twice, `CorruptError` for bytes that are not that
    /// bundle or a used blob that does not open (stop: delete nothing).
    #[wasm_bindgen(unchecked_return_type = "PrunedObject[]")]
    pub fn feed(
        &mut self,
        #[wasm_bindgen(unchecked_param_type = "string")] name: JsValue,
        #[wasm_bindgen(unchecked_param_type = "Bytes")] bytes: JsValue,
    ) -> JsResult<JsValue> {
        let name = string_arg(&name, "name")?;
        let bytes = buffer_arg(&bytes, "bytes")?;
        let out = js_sys::Array::new();
        for b in self.running()?.feed(&name, &bytes)? {
            out.push(&pruned_js(ObjectKind::Bundle, &b.id, &b.bytes)?);
        }
        Ok(out.into())
    }

    /// The JSON Patch a v2 agent sends when its cleanup ends after this
    /// prune (finished): state `completed`, `ended_time`, `snapshot_ids`
    /// (the service's numbers of the vault snapshots `forgotten`, their
    /// ids) and `bytes_before`/`bytes_after` from the report.
    /// `InvalidStateError` before `finish()` succeeded.
    #[wasm_bindgen(
        js_name = "cleanupFinishedPatch",
        unchecked_return_type = "CleanupPatchOperation[]"
    )]
    pub fn cleanup_finished_patch(
        &self,
        #[wasm_bindgen(unchecked_param_type = "string[]")] forgotten: JsValue,
        #[wasm_bindgen(unchecked_param_type = "UnixTime")] ended: JsValue,
    ) -> JsResult<JsValue> {
        let ids = forgotten_arg(&forgotten)?;
        let ended = timestamp_arg(&ended, "ended")?;
        let report = self.report.as_ref().ok_or_else(not_finished)?;
        patch_js(&cleanup_finished_patch(
            &ids,
            report.bytes_before,
            report.bytes_after,
            ended,
        )?)
    }

    /// Ends the prune: the last new bundles, the new index deltas, what to
    /// delete and the report (see `PruneCommit` for the order). Throws
    /// `InvalidArgumentError` when a bundle of `remaining()` was not fed
    /// (a failed finish ends the pruner), `InvalidStateError` when already
    /// finished.
    #[wasm_bindgen(unchecked_return_type = "PruneCommit")]
    pub fn finish(&mut self) -> JsResult<JsValue> {
        let pruner = self.inner.take().ok_or_else(|| Error::finished("prune"))?;
        let commit = pruner.finish()?;
        let bundles = js_sys::Array::new();
        for b in &commit.bundles {
            bundles.push(&pruned_js(ObjectKind::Bundle, &b.id, &b.bytes)?);
        }
        let indexes = js_sys::Array::new();
        for o in &commit.indexes {
            indexes.push(&pruned_js(ObjectKind::Index, &o.id, &o.bytes)?);
        }
        let out = js_sys::Object::new();
        set(&out, "bundles", &bundles)?;
        set(&out, "indexes", &indexes)?;
        set(&out, "delete", &to_js("delete", &commit.delete)?)?;
        set(&out, "report", &to_js("prune report", &commit.report)?)?;
        self.report = Some(commit.report);
        Ok(out.into())
    }
}

/// The JSON Patch a v2 agent sends when it starts a cleanup: state
/// `in_progress` and `started_time` (`started`: a `Date`, or whole Unix
/// seconds).
#[wasm_bindgen(
    js_name = "cleanupStartedPatch",
    unchecked_return_type = "CleanupPatchOperation[]"
)]
pub fn cleanup_started(
    #[wasm_bindgen(unchecked_param_type = "UnixTime")] started: JsValue,
) -> JsResult<JsValue> {
    patch_js(&cleanup_started_patch(timestamp_arg(&started, "started")?)?)
}

/// The ids of the forgotten snapshots (an array of strings).
fn forgotten_arg(value: &JsValue) -> JsResult<Vec<String>> {
    let list = value
        .dyn_ref::<js_sys::Array>()
        .ok_or_else(|| wrong("forgotten", "an array of snapshot ids", value))?;
    list.iter()
        .enumerate()
        .map(|(i, v)| string_arg(&v, &format!("forgotten[{i}]")))
        .collect()
}

/// The JSON Patch a v2 agent sends when its cleanup ends without a prune:
/// state `completed`, `ended_time`, `snapshot_ids` (the service's numbers
/// of the vault snapshots `forgotten`, their ids) and `vaultBytes` as both
/// `bytes_before` and `bytes_after`. After a prune:
/// `Pruner.cleanupFinishedPatch`.
#[wasm_bindgen(
    js_name = "cleanupFinishedPatch",
    unchecked_return_type = "CleanupPatchOperation[]"
)]
pub fn cleanup_finished(
    #[wasm_bindgen(unchecked_param_type = "string[]")] forgotten: JsValue,
    #[wasm_bindgen(js_name = "vaultBytes", unchecked_param_type = "number")] vault_bytes: JsValue,
    #[wasm_bindgen(unchecked_param_type = "UnixTime")] ended: JsValue,
) -> JsResult<JsValue> {
    let ids = forgotten_arg(&forgotten)?;
    let vault_bytes = size_arg(&vault_bytes, "vaultBytes")?;
    let ended = timestamp_arg(&ended, "ended")?;
    patch_js(&cleanup_finished_patch(
        &ids,
        vault_bytes,
        vault_bytes,
        ended,
    )?)
}

/// The JSON Patch a v2 agent sends when its cleanup fails: state `failed`,
/// `ended_time` and `/errors` with the error's message as diagnostics
/// (`error`: the error thrown, or a message).
#[wasm_bindgen(
    js_name = "cleanupFailedPatch",
    unchecked_return_type = "CleanupPatchOperation[]"
)]
pub fn cleanup_failed(
    #[wasm_bindgen(unchecked_param_type = "Error | string")] error: JsValue,
    #[wasm_bindgen(unchecked_param_type = "UnixTime")] ended: JsValue,
) -> JsResult<JsValue> {
    let message = match error.as_string() {
        Some(s) => s,
        None => error
            .dyn_ref::<js_sys::Error>()
            .and_then(|e| e.message().as_string())
            .ok_or_else(|| wrong("error", "an Error or a message (a string)", &error))?,
    };
    let ended = timestamp_arg(&ended, "ended")?;
    patch_js(&cleanup_failed_patch(&message, ended)?)
}

/// The JSON Patch a v2 agent sends when it takes a cleanup up: state
/// `queued`.
#[wasm_bindgen(
    js_name = "cleanupQueuedPatch",
    unchecked_return_type = "CleanupPatchOperation[]"
)]
pub fn cleanup_queued() -> JsResult<JsValue> {
    patch_js(&cleanup_queued_patch()?)
}
