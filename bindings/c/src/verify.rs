//! Verification: which bundles to check, and a verifier fed whole bundles
//! (of one index, or of a whole vault as a `cb_vault_state` read it).

use std::ffi::c_char;

use cloudbackup_core::engine::verify::{verify_plan, Verifier, VerifyReport};
use serde_json::Value;

use crate::ffi::{
    free, guard, guard_void, into_handle, json_string, try_mut, try_out, try_ref, try_slice,
    FfiResult,
};
use crate::restore::plan_json;
use crate::state::cb_vault_state;
use crate::status::cb_status;
use crate::vault::{cb_index, cb_vault, id_arg};

/// A verification in progress. Made by `cb_verifier_new`, freed by
/// `cb_verifier_free`.
pub struct cb_verifier {
    verifier: Verifier,
}

fn report_json(report: &VerifyReport) -> FfiResult<Value> {
    Ok(serde_json::to_value(report)
        .map_err(|e| cloudbackup_core::Error::json("verify report", &e))?)
}

/// The bundles to verify, as a JSON array of `{"bundle": "<64 hex>",
/// "ranges": []}` (empty ranges: fetch the whole bundle): all of them when
/// `fraction` is 1, else a sample of `ceil(fraction × bundles)` chosen by
/// `seed` (the same seed and index give the same sample).
///
/// Errors: `CB_INVALID_ARGUMENT` for a fraction outside 0..=1.
///
/// # Safety
/// `index` is a live index or NULL; `out_json` points to a writable
/// `char *` (freed with `cb_string_free`).
#[no_mangle]
pub unsafe extern "C" fn cb_verify_plan(
    index: *const cb_index,
    fraction: f64,
    seed: u64,
    out_json: *mut *mut c_char,
) -> cb_status {
    guard(|| {
        let out = try_out!(out_json);
        let index = &try_ref!(index).index;
        *out = json_string(&plan_json(&verify_plan(index, fraction, seed)?)?)?;
        Ok(())
    })
}

/// A verifier of `vault`'s bundles against `index` (all of the vault's
/// index deltas loaded).
///
/// # Safety
/// The handles are live or NULL; `out_verifier` points to a writable
/// `cb_verifier *` (freed with `cb_verifier_free`).
#[no_mangle]
pub unsafe extern "C" fn cb_verifier_new(
    vault: *const cb_vault,
    index: *const cb_index,
    out_verifier: *mut *mut cb_verifier,
) -> cb_status {
    guard(|| {
        let out = try_out!(out_verifier);
        let vault = &try_ref!(vault).vault;
        let index = &try_ref!(index).index;
        *out = into_handle(cb_verifier {
            verifier: Verifier::new(vault, index),
        });
        Ok(())
    })
}

/// A verifier of a whole vault as `state` read it (listing, index deltas
/// and snapshots fed): its report starts with what those show
/// (`cb_vault_state_problems`: unreadable snapshots and index deltas,
/// blobs no index lists, indexed bundles missing from storage), counts the
/// snapshots and index deltas, unindexed bundles and temporary objects; the
/// bundles to fetch and feed are those of `cb_verifier_plan` (with the
/// state's index, `cb_vault_state_index`).
///
/// # Safety
/// `state` is a live state or NULL; `out_verifier` points to a writable
/// `cb_verifier *` (freed with `cb_verifier_free`).
#[no_mangle]
pub unsafe extern "C" fn cb_verifier_new_for_state(
    state: *const cb_vault_state,
    out_verifier: *mut *mut cb_verifier,
) -> cb_status {
    guard(|| {
        let out = try_out!(out_verifier);
        let state = &try_ref!(state).state;
        *out = into_handle(cb_verifier {
            verifier: Verifier::for_state(state),
        });
        Ok(())
    })
}

/// The bundles this verifier wants fetched whole and fed, as
/// `cb_verify_plan` gives them for `index` (`fraction`, `seed` likewise),
/// less those the vault state already showed missing (reported as
/// problems).
///
/// Errors: `CB_INVALID_ARGUMENT` for a fraction outside 0..=1.
///
/// # Safety
/// The handles are live or NULL; `out_json` points to a writable `char *`
/// (freed with `cb_string_free`).
#[no_mangle]
pub unsafe extern "C" fn cb_verifier_plan(
    verifier: *const cb_verifier,
    index: *const cb_index,
    fraction: f64,
    seed: u64,
    out_json: *mut *mut c_char,
) -> cb_status {
    guard(|| {
        let out = try_out!(out_json);
        let verifier = &try_ref!(verifier).verifier;
        let index = &try_ref!(index).index;
        *out = json_string(&plan_json(&verifier.plan(index, fraction, seed)?)?)?;
        Ok(())
    })
}

/// Checks the whole bundle `bundle_id` (`len` bytes): its id, header and
/// trailer, and every blob the index expects in it. Every problem goes into
/// the report; the first is also returned.
///
/// Errors: `CB_CORRUPT` (tampered or truncated), `CB_FOREIGN_VAULT`,
/// `CB_UNSUPPORTED_VERSION`, `CB_NOT_FOUND` (a blob the index expects is
/// not in it); `CB_INVALID_VALUE` for an id that is not 64 hex digits.
///
/// # Safety
/// `verifier` is a live verifier or NULL, not used by another thread
/// meanwhile; `bundle_id` is NUL-terminated; `data` points to `len`
/// readable bytes (or is NULL with `len` 0).
#[no_mangle]
pub unsafe extern "C" fn cb_verifier_feed(
    verifier: *mut cb_verifier,
    bundle_id: *const c_char,
    data: *const u8,
    len: usize,
) -> cb_status {
    guard(|| {
        let verifier = try_mut!(verifier);
        let bundle = id_arg(bundle_id, "bundle_id")?;
        let bytes = try_slice!(data, len);
        verifier.verifier.feed(&bundle, bytes)?;
        Ok(())
    })
}

/// Records that bundle `bundle_id` cannot be fetched (a `not_found`
/// problem in the report).
///
/// Errors: `CB_INVALID_VALUE` for an id that is not 64 hex digits.
///
/// # Safety
/// `verifier` is a live verifier or NULL, not used by another thread
/// meanwhile; `bundle_id` is NUL-terminated.
#[no_mangle]
pub unsafe extern "C" fn cb_verifier_missing(
    verifier: *mut cb_verifier,
    bundle_id: *const c_char,
) -> cb_status {
    guard(|| {
        let verifier = try_mut!(verifier);
        let bundle = id_arg(bundle_id, "bundle_id")?;
        verifier.verifier.missing(&bundle);
        Ok(())
    })
}

/// The report so far, as JSON: `{"ok": bool, "bundles_checked",
/// "blobs_checked", "bytes_checked", "snapshots_checked",
/// "indexes_checked", "unindexed_bundles", "temporary_objects": [names],
/// "problems": [{"object", "code", "message"}...]}` (`code` as in the error
/// classes: `"corrupt"`, `"not_found"`, ...; the counts of snapshots,
/// index deltas, unindexed bundles and temporaries are 0 unless made by
/// `cb_verifier_new_for_state`).
///
/// # Safety
/// `verifier` is a live verifier or NULL; `out_json` points to a writable
/// `char *` (freed with `cb_string_free`).
#[no_mangle]
pub unsafe extern "C" fn cb_verifier_report(
    verifier: *const cb_verifier,
    out_json: *mut *mut c_char,
) -> cb_status {
    guard(|| {
        let out = try_out!(out_json);
        let verifier = try_ref!(verifier);
        *out = json_string(&report_json(verifier.verifier.report())?)?;
        Ok(())
    })
}

/// Frees a verifier. NULL is ignored.
///
/// # Safety
/// `verifier` is NULL or a verifier made by this library, not freed before
/// and not in use.
#[no_mangle]
pub unsafe extern "C" fn cb_verifier_free(verifier: *mut cb_verifier) {
    guard_void(|| free!(verifier));
}
