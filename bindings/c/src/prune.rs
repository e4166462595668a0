//! Prune (`cb_pruner`): give back the space of blobs no snapshot uses, by
//! the core's rules (`engine::prune`): the plan from a vault state read in
//! full, the used blobs of the bundles it reads copied into new bundles, a
//! new index, and the list of what to delete; and the v2 cleanup's
//! lifecycle patches.

use std::collections::VecDeque;
use std::ffi::c_char;

use cloudbackup_core::engine::format::ObjectKind;
use cloudbackup_core::engine::prune::{
    cleanup_failed_patch, cleanup_finished_patch, cleanup_queued_patch, cleanup_started_patch,
};
use cloudbackup_core::engine::{
    layout, PruneOptions, PruneReport, Pruner, SealedBundle, SealedObject,
};
use cloudbackup_core::wire::Timestamp;
use cloudbackup_core::Error;
use serde_json::{json, Value};

use crate::ffi::{
    c_bytes, c_string, free, guard, guard_void, into_handle, json_string, try_mut, try_opt_ref,
    try_out, try_ref, try_slice, try_str, FfiResult,
};
use crate::state::cb_vault_state;
use crate::status::cb_status;
use crate::vault::opt_json;

/// A prune in progress: made by `cb_pruner_new`, fed every bundle of
/// `cb_pruner_remaining`, finished by `cb_pruner_finish`; freed by
/// `cb_pruner_free`.
pub struct cb_pruner {
    /// The core's pruner, until it is finished.
    pruner: Option<Pruner>,
    /// New bundles not taken yet (`cb_pruner_take_bundle`).
    bundles: VecDeque<SealedBundle>,
    /// New index deltas not taken yet (after finish).
    indexes: VecDeque<SealedObject>,
    /// The report, once finished (it holds the plan).
    report: Option<PruneReport>,
}

/// A JSON value of a serialisable core type.
fn to_json<T: serde::Serialize>(value: &T, what: &str) -> FfiResult<Value> {
    Ok(serde_json::to_value(value).map_err(|e| Error::json(what, &e))?)
}

/// Reads the prune options (NULL: the defaults).
/// The pointer contract of [`crate::ffi`] applies: pass only an export's
/// own arguments.
fn options_arg(options_json: *const c_char) -> FfiResult<PruneOptions> {
    opt_json(options_json, "options_json")
}

/// A time given in nanoseconds since the Unix epoch, as a patch writes it
/// (to the microsecond, as the service writes its own times).
fn timestamp(ns: i64) -> Timestamp {
    Timestamp::from_unix_micros(ns.div_euclid(1000))
}

/// The `(name, data, len)` out-parameters of a stored object.
type ObjectOut<'a> = (&'a mut *mut c_char, &'a mut *mut u8, &'a mut usize);

/// Reads the out-parameters of an object (name, data, length).
/// The pointer contract of [`crate::ffi`] applies: pass only an export's
/// own arguments.
fn object_out<'a>(
    out_name: *mut *mut c_char,
    out_data: *mut *mut u8,
    out_len: *mut usize,
) -> FfiResult<ObjectOut<'a>> {
    let name = try_out!(out_name);
    let data = try_out!(out_data);
    let len = try_out!(out_len);
    Ok((name, data, len))
}

/// Hands an object's stored name and bytes to C (nothing when there is none).
fn give_object(out: ObjectOut<'_>, object: Option<(String, Vec<u8>)>) -> FfiResult {
    if let Some((name, bytes)) = object {
        *out.0 = c_string(name, "name")?;
        (*out.1, *out.2) = c_bytes(bytes);
    }
    Ok(())
}

/// What a prune with `options_json` does at `now_ns` (nanoseconds since the
/// Unix epoch), as JSON (the same from every binding): the figures
/// (`"snapshots"`, `"used_blobs"`, `"unused_blobs"`, `"keep_bundles"`,
/// `"repack_bundles"`, `"repack_blobs"`, `"unused_bundles"`,
/// `"unindexed_bundles"`, `"temporary"`: each `{"count", "bytes"}`;
/// `"kept_young"`, `"unused_after"`, `"bytes_before"`,
/// `"bytes_after_estimate"`), `"read"` (the bundles a `cb_pruner` of the
/// same state fetches) and `"rewrite_index"`. Deletes nothing: a dry run.
/// `options_json` (NULL: the defaults) is `{"max_unused": "5%" | "100M" |
/// "unlimited", "repack_small": false, "max_repack_bytes": null,
/// "grace_ns": 3600000000000}`, every member optional.
///
/// Errors: `CB_INVALID_JSON` for options that do not fit (the message names
/// the member, e.g. `max_unused`); `CB_INVALID_ARGUMENT` for a negative
/// grace; `CB_CORRUPT` when prune must not run (as for
/// `cb_vault_state_gc_plan`, or a used blob's bundle is missing).
///
/// # Safety
/// `state` is a live state or NULL; `options_json` is NUL-terminated or
/// NULL; `out_json` points to a writable `char *` (freed with
/// `cb_string_free`).
#[no_mangle]
pub unsafe extern "C" fn cb_vault_state_prune_plan(
    state: *const cb_vault_state,
    options_json: *const c_char,
    now_ns: i64,
    out_json: *mut *mut c_char,
) -> cb_status {
    guard(|| {
        let out = try_out!(out_json);
        let state = try_ref!(state);
        let options = options_arg(options_json)?;
        let plan = state.state.prune_plan(&options, now_ns)?;
        *out = json_string(&to_json(&plan, "prune plan")?)?;
        Ok(())
    })
}

/// Starts a prune of the vault `state` read in full (it keeps its own copy
/// of the plan and the vault; the state may be freed). Hold an exclusive
/// lock from before the state was read until the last deletion.
///
/// Then: fetch each bundle of `cb_pruner_remaining` and feed it
/// (`cb_pruner_feed`), storing every bundle `cb_pruner_take_bundle` hands
/// back as you go; `cb_pruner_finish`; take the last bundles, then the new
/// index deltas (`cb_pruner_take_index`). Store, in this order: every new
/// bundle, every new index delta; then (`cb_lock_check_fresh` passing)
/// delete the finish's `"delete"` names, in order.
///
/// Errors: as `cb_vault_state_prune_plan`.
///
/// # Safety
/// As `cb_vault_state_prune_plan`; `out_pruner` points to a writable
/// `cb_pruner *` (freed with `cb_pruner_free`).
#[no_mangle]
pub unsafe extern "C" fn cb_pruner_new(
    state: *const cb_vault_state,
    options_json: *const c_char,
    now_ns: i64,
    out_pruner: *mut *mut cb_pruner,
) -> cb_status {
    guard(|| {
        let out = try_out!(out_pruner);
        let state = try_ref!(state);
        let options = options_arg(options_json)?;
        let plan = state.state.prune_plan(&options, now_ns)?;
        *out = into_handle(cb_pruner {
            pruner: Some(Pruner::new(state.state.vault(), plan)),
            bundles: VecDeque::new(),
            indexes: VecDeque::new(),
            report: None,
        });
        Ok(())
    })
}

/// The plan the pruner carries out, as JSON (as `cb_vault_state_prune_plan`
/// gives it), before and after finishing.
///
/// # Safety
/// `pruner` is a live pruner or NULL; `out_json` points to a writable
/// `char *` (freed with `cb_string_free`).
#[no_mangle]
pub unsafe extern "C" fn cb_pruner_plan(
    pruner: *const cb_pruner,
    out_json: *mut *mut c_char,
) -> cb_status {
    guard(|| {
        let out = try_out!(out_json);
        let p = try_ref!(pruner);
        let plan = match (&p.pruner, &p.report) {
            (Some(pruner), _) => pruner.plan(),
            (None, Some(report)) => &report.plan,
            // A finish that failed leaves neither.
            (None, None) => return Err(Error::finished("prune").into()),
        };
        *out = json_string(&to_json(plan, "prune plan")?)?;
        Ok(())
    })
}

/// The bundles still to fetch and feed, as a JSON array of stored names
/// (`"bundles/<64 hex>"`); `[]` once all were fed.
///
/// Errors: `CB_INVALID_STATE` after `cb_pruner_finish`.
///
/// # Safety
/// `pruner` is a live pruner or NULL; `out_json` points to a writable
/// `char *` (freed with `cb_string_free`).
#[no_mangle]
pub unsafe extern "C" fn cb_pruner_remaining(
    pruner: *const cb_pruner,
    out_json: *mut *mut c_char,
) -> cb_status {
    guard(|| {
        let out = try_out!(out_json);
        let p = try_ref!(pruner);
        let pruner = p.pruner.as_ref().ok_or_else(|| Error::finished("prune"))?;
        *out = json_string(&json!(pruner.remaining()))?;
        Ok(())
    })
}

/// Feeds the stored bytes (`len`) of the bundle `name` (one of
/// `cb_pruner_remaining`): they are checked, and every used blob copied out
/// of them is opened first. The new bundles that filled up wait for
/// `cb_pruner_take_bundle`.
///
/// Errors: `CB_INVALID_ARGUMENT` (naming `name`) for a name the plan does
/// not read, or one fed twice; `CB_CORRUPT` when the bytes are not the
/// bundle stored under that name or a used blob in it does not open (stop:
/// delete nothing, run verify); `CB_INVALID_STATE` after finishing.
///
/// # Safety
/// `pruner` is a live pruner or NULL, not used by another thread
/// meanwhile; `name` is NUL-terminated; `data` points to `len` readable
/// bytes (or is NULL with `len` 0).
#[no_mangle]
pub unsafe extern "C" fn cb_pruner_feed(
    pruner: *mut cb_pruner,
    name: *const c_char,
    data: *const u8,
    len: usize,
) -> cb_status {
    guard(|| {
        let p = try_mut!(pruner);
        let name = try_str!(name);
        let bytes = try_slice!(data, len);
        let pruner = p.pruner.as_mut().ok_or_else(|| Error::finished("prune"))?;
        p.bundles.extend(pruner.feed(name, bytes)?);
        Ok(())
    })
}

/// Takes the next new bundle: store its bytes under `*out_name`
/// (`"bundles/<64 hex>"`) before any new index delta. When none is ready,
/// `*out_name` and `*out_data` are NULL and `*out_len` 0 (still `CB_OK`).
/// Works before and after `cb_pruner_finish` (which seals the last one).
/// Free the name with `cb_string_free` and the bytes with
/// `cb_bytes_free(data, len)`.
///
/// # Safety
/// `pruner` is a live pruner or NULL, not used by another thread
/// meanwhile; the out-pointers point to writable values.
#[no_mangle]
pub unsafe extern "C" fn cb_pruner_take_bundle(
    pruner: *mut cb_pruner,
    out_name: *mut *mut c_char,
    out_data: *mut *mut u8,
    out_len: *mut usize,
) -> cb_status {
    guard(|| {
        let out = object_out(out_name, out_data, out_len)?;
        let p = try_mut!(pruner);
        let bundle = p.bundles.pop_front();
        give_object(
            out,
            bundle.map(|b| (layout::object_name(ObjectKind::Bundle, &b.id), b.bytes)),
        )
    })
}

/// Ends the prune: seals the last new bundle and the new index deltas (take
/// them with `cb_pruner_take_bundle` and `cb_pruner_take_index`), and gives
/// `{"delete": [names...], "report": {...}}` as JSON: the stored names to
/// delete once everything new is stored, in this order (old index deltas,
/// then bundles, then unreferenced objects), and the report
/// (`"plan"`, `"bundles_written"`, `"indexes_written"`, `"deleted"`: each
/// `{"count", "bytes"}` but the plan; `"bytes_before"`, `"bytes_after"`).
///
/// Errors: `CB_INVALID_ARGUMENT` when a bundle of `cb_pruner_remaining` was
/// not fed; `CB_CORRUPT` if the new index would leave a used blob out
/// (delete nothing); `CB_INVALID_STATE` when already finished. A finish that
/// fails ends the pruner.
///
/// # Safety
/// `pruner` is a live pruner or NULL, not used by another thread
/// meanwhile; `out_json` points to a writable `char *` (freed with
/// `cb_string_free`).
#[no_mangle]
pub unsafe extern "C" fn cb_pruner_finish(
    pruner: *mut cb_pruner,
    out_json: *mut *mut c_char,
) -> cb_status {
    guard(|| {
        let out = try_out!(out_json);
        let p = try_mut!(pruner);
        let pruner = p.pruner.take().ok_or_else(|| Error::finished("prune"))?;
        let commit = pruner.finish()?;
        let value = json!({
            "delete": commit.delete,
            "report": to_json(&commit.report, "prune report")?,
        });
        p.bundles.extend(commit.bundles);
        p.indexes.extend(commit.indexes);
        p.report = Some(commit.report);
        *out = json_string(&value)?;
        Ok(())
    })
}

/// Takes the next new index delta: store it under `*out_name`
/// (`"index/<64 hex>"`) after every new bundle. When none is left, the
/// outputs are NULL / 0 (still `CB_OK`).
///
/// Errors: `CB_INVALID_STATE` before `cb_pruner_finish` succeeded.
///
/// # Safety
/// As `cb_pruner_take_bundle`.
#[no_mangle]
pub unsafe extern "C" fn cb_pruner_take_index(
    pruner: *mut cb_pruner,
    out_name: *mut *mut c_char,
    out_data: *mut *mut u8,
    out_len: *mut usize,
) -> cb_status {
    guard(|| {
        let out = object_out(out_name, out_data, out_len)?;
        let p = try_mut!(pruner);
        if p.report.is_none() {
            return Err(Error::InvalidState {
                session: "prune".into(),
                reason: "has not finished".into(),
            }
            .into());
        }
        let index = p.indexes.pop_front();
        give_object(
            out,
            index.map(|o| (layout::object_name(ObjectKind::Index, &o.id), o.bytes)),
        )
    })
}

/// Frees a pruner (finished or not: an unfinished prune is abandoned, and
/// nothing was deleted). NULL is ignored.
///
/// # Safety
/// `pruner` is NULL or a pruner made by this library, not freed before and
/// not in use.
#[no_mangle]
pub unsafe extern "C" fn cb_pruner_free(pruner: *mut cb_pruner) {
    guard_void(|| free!(pruner));
}

/// The JSON Patch (text) a v2 agent sends when it starts a cleanup: state
/// `in_progress` and `started_time` (`started_ns`, nanoseconds since the
/// Unix epoch, written to the microsecond).
///
/// # Safety
/// `out_json` points to a writable `char *` (freed with `cb_string_free`).
#[no_mangle]
pub unsafe extern "C" fn cb_cleanup_started_patch(
    started_ns: i64,
    out_json: *mut *mut c_char,
) -> cb_status {
    guard(|| {
        let out = try_out!(out_json);
        let patch = cleanup_started_patch(timestamp(started_ns))?;
        *out = json_string(&to_json(&patch, "cleanup patch")?)?;
        Ok(())
    })
}

/// The JSON Patch (text) a v2 agent sends when its cleanup ends: state
/// `completed`, `ended_time` (`ended_ns`), `snapshot_ids` (the service's
/// numbers of the vault snapshots `forgotten_json`, a JSON array of their
/// ids) and `bytes_before`/`bytes_after`: from the finished `pruner`'s
/// report, or `vault_bytes` both when `pruner` is NULL (nothing pruned).
///
/// Errors: `CB_INVALID_JSON` for `forgotten_json` that is not an array of
/// strings; `CB_INVALID_VALUE` for an id that is not one;
/// `CB_INVALID_STATE` for a pruner not finished.
///
/// # Safety
/// `forgotten_json` is NUL-terminated; `pruner` is a live pruner or NULL;
/// `out_json` points to a writable `char *` (freed with `cb_string_free`).
#[no_mangle]
pub unsafe extern "C" fn cb_cleanup_finished_patch(
    forgotten_json: *const c_char,
    pruner: *const cb_pruner,
    vault_bytes: u64,
    ended_ns: i64,
    out_json: *mut *mut c_char,
) -> cb_status {
    guard(|| {
        let out = try_out!(out_json);
        let text = try_str!(forgotten_json);
        let forgotten: Vec<String> =
            cloudbackup_core::error::from_json_slice("forgotten_json", text.as_bytes())?;
        let report = match try_opt_ref!(pruner) {
            None => None,
            Some(p) => Some(p.report.as_ref().ok_or_else(|| Error::InvalidState {
                session: "prune".into(),
                reason: "has not finished".into(),
            })?),
        };
        let (before, after) = report.map_or((vault_bytes, vault_bytes), |r| {
            (r.bytes_before, r.bytes_after)
        });
        let patch = cleanup_finished_patch(&forgotten, before, after, timestamp(ended_ns))?;
        *out = json_string(&to_json(&patch, "cleanup patch")?)?;
        Ok(())
    })
}

/// The core's failed-cleanup patch with `message` as its diagnostics.
pub(crate) fn failed_patch_json(message: &str, ended: Timestamp) -> FfiResult<Value> {
    to_json(&cleanup_failed_patch(message, ended)?, "cleanup patch")
}

/// The JSON Patch (text) a v2 agent sends when it takes a cleanup up:
/// state `queued`.
///
/// # Safety
/// `out_json` points to a writable `char *` (freed with `cb_string_free`).
#[no_mangle]
pub unsafe extern "C" fn cb_cleanup_queued_patch(out_json: *mut *mut c_char) -> cb_status {
    guard(|| {
        let out = try_out!(out_json);
        *out = json_string(&to_json(&cleanup_queued_patch()?, "cleanup patch")?)?;
        Ok(())
    })
}

/// The JSON Patch (text) a v2 agent sends when its cleanup fails: state
/// `failed`, `ended_time` (`ended_ns`) and `/errors` with `message` (the
/// error's message, e.g. from `cb_last_error_message`) as diagnostics.
///
/// # Safety
/// `message` is NUL-terminated; `out_json` points to a writable `char *`
/// (freed with `cb_string_free`).
#[no_mangle]
pub unsafe extern "C" fn cb_cleanup_failed_patch(
    message: *const c_char,
    ended_ns: i64,
    out_json: *mut *mut c_char,
) -> cb_status {
    guard(|| {
        let out = try_out!(out_json);
        let message = try_str!(message);
        *out = json_string(&failed_patch_json(message, timestamp(ended_ns))?)?;
        Ok(())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_failed_patch_carries_the_hosts_message() {
        let v = failed_patch_json("disk full", Timestamp::from_unix_micros(0)).unwrap();
        assert_eq!(v[2]["path"], "/errors");
        assert_eq!(v[2]["value"]["diagnostics"], "disk full");
        assert_eq!(v[2]["value"]["reason"], "cleanup_failed");
        assert_eq!(v[0]["value"], "failed");
        assert_eq!(v[1]["value"], "1970-01-01T00:00:00.000000Z");
    }
}
