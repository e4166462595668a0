//! What an agent tells the service about a job as it runs (`cb_job_reporter`):
//! the JSON Patches for a v2 backup, restore or cleanup, in the order the
//! lifecycle allows, each checked by the core's PATCH policy before it is
//! handed out. A thin wrapper of the core's `lifecycle::JobReporter`, JSON
//! text in and out, as the Python binding's `JobReporter`.

use std::collections::BTreeMap;
use std::ffi::c_char;

use cloudbackup_core::by_name;
use cloudbackup_core::error::{from_json_slice, json_value_from_slice};
use cloudbackup_core::lifecycle::JobReporter;
use cloudbackup_core::model::v2::common::ErrorReport;
use cloudbackup_core::patch::Patch;
use cloudbackup_core::wire::Timestamp;
use cloudbackup_core::Error;

use crate::ffi::{
    c_string, free, guard, guard_void, into_handle, json_string, try_mut, try_opt_str, try_out,
    try_ref, try_str, FfiResult,
};
use crate::status::cb_status;

/// The patches one agent sends about one job. Made by
/// `cb_job_reporter_new`, freed by `cb_job_reporter_free`.
pub struct cb_job_reporter {
    job: JobReporter,
}

/// A patch as JSON text for C.
fn patch_out(patch: &Patch) -> FfiResult<*mut c_char> {
    let value = serde_json::to_value(patch).map_err(|e| Error::json("patch", &e))?;
    json_string(&value)
}

/// A time given in nanoseconds since the Unix epoch, as a patch writes it
/// (to the microsecond, as the service writes its own times).
fn timestamp(ns: i64) -> Timestamp {
    Timestamp::from_unix_micros(ns.div_euclid(1000))
}

/// Reads `counters_json`: a JSON object of counter names (those the
/// endpoint takes, e.g. `"files_restored"`) to non-negative integers.
/// The pointer contract of [`crate::ffi`] applies: pass only an export's
/// own arguments.
fn counters_arg(p: *const c_char) -> FfiResult<BTreeMap<String, u64>> {
    let text = try_str!(p, "counters_json");
    Ok(from_json_slice("counters_json", text.as_bytes())?)
}

/// The counters as the core takes them.
fn counter_list(counters: &BTreeMap<String, u64>) -> Vec<(&str, u64)> {
    counters.iter().map(|(k, v)| (k.as_str(), *v)).collect()
}

/// A reporter for the job `resource_json` (the job's JSON as the service
/// gives it, with at least `"state"`) of `endpoint` (`"backup"`,
/// `"restore"` or `"cleanup"`), sending progress at most every
/// `progress_interval_ns` (0: on every change; negative: the default, 5 s).
///
/// Then, as the job runs: `cb_job_reporter_queued`, `_preparing` (backups
/// and restores), `_started`, `_progress` now and then, `_observe` the
/// service's copy between files (a user's stop shows up in
/// `_stop_requested`), and `_finished` or `_failed`; send each patch the
/// calls return (JSON text) as the body of the job's PATCH.
///
/// Errors: `CB_INVALID_ARGUMENT` for another endpoint or a resource
/// without a `"state"` string; `CB_INVALID_JSON` for a resource that is not
/// JSON.
///
/// # Safety
/// The strings are NUL-terminated; `out_job` points to a writable
/// `cb_job_reporter *` (freed with `cb_job_reporter_free`).
#[no_mangle]
pub unsafe extern "C" fn cb_job_reporter_new(
    endpoint: *const c_char,
    resource_json: *const c_char,
    progress_interval_ns: i64,
    out_job: *mut *mut cb_job_reporter,
) -> cb_status {
    guard(|| {
        let out = try_out!(out_job);
        let endpoint = try_str!(endpoint);
        let resource = try_str!(resource_json);
        let mut job = by_name::job_reporter(endpoint, resource.as_bytes())?;
        if progress_interval_ns >= 0 {
            job = job.with_progress_interval(progress_interval_ns);
        }
        *out = into_handle(cb_job_reporter { job });
        Ok(())
    })
}

/// The job's state as the agent knows it (a v2 wire name such as
/// `"in_progress"`), in `*out_state` (freed with `cb_string_free`).
///
/// # Safety
/// `job` is a live reporter or NULL; `out_state` points to a writable
/// `char *`.
#[no_mangle]
pub unsafe extern "C" fn cb_job_reporter_state(
    job: *const cb_job_reporter,
    out_state: *mut *mut c_char,
) -> cb_status {
    guard(|| {
        let out = try_out!(out_state);
        let j = try_ref!(job);
        *out = c_string(j.job.state().to_string(), "state")?;
        Ok(())
    })
}

/// The job's resource as the agent knows it (the service's copy with the
/// agent's own patches applied), as JSON in `*out_json` (freed with
/// `cb_string_free`).
///
/// # Safety
/// `job` is a live reporter or NULL; `out_json` points to a writable
/// `char *`.
#[no_mangle]
pub unsafe extern "C" fn cb_job_reporter_resource(
    job: *const cb_job_reporter,
    out_json: *mut *mut c_char,
) -> cb_status {
    guard(|| {
        let out = try_out!(out_json);
        let j = try_ref!(job);
        *out = json_string(j.job.resource())?;
        Ok(())
    })
}

/// Takes the service's copy of the job read again (`resource_json`: the
/// body of a GET of the job, or the resource an event carries): a user's
/// stop request shows up here.
///
/// Errors: `CB_INVALID_JSON` for text that is not JSON;
/// `CB_INVALID_ARGUMENT` for a resource without a `"state"` string.
///
/// # Safety
/// `job` is a live reporter or NULL, not used by another thread meanwhile;
/// `resource_json` is NUL-terminated.
#[no_mangle]
pub unsafe extern "C" fn cb_job_reporter_observe(
    job: *mut cb_job_reporter,
    resource_json: *const c_char,
) -> cb_status {
    guard(|| {
        let j = try_mut!(job);
        let text = try_str!(resource_json);
        j.job
            .observe(json_value_from_slice("resource_json", text.as_bytes())?)?;
        Ok(())
    })
}

/// Whether a user asked the job to stop (its state is `stop_requested`):
/// end the work and send `cb_job_reporter_finished`'s patch, which then
/// says `stopped`.
///
/// # Safety
/// `job` is a live reporter or NULL; `out_stop` points to a writable
/// `bool`.
#[no_mangle]
pub unsafe extern "C" fn cb_job_reporter_stop_requested(
    job: *const cb_job_reporter,
    out_stop: *mut bool,
) -> cb_status {
    guard(|| {
        let out = try_out!(out_stop);
        let j = try_ref!(job);
        *out = j.job.stop_requested();
        Ok(())
    })
}

/// Whether the job has ended (a terminal state: `completed`,
/// `completed_with_errors`, `failed`, `stopped`, ...).
///
/// # Safety
/// `job` is a live reporter or NULL; `out_finished` points to a writable
/// `bool`.
#[no_mangle]
pub unsafe extern "C" fn cb_job_reporter_is_finished(
    job: *const cb_job_reporter,
    out_finished: *mut bool,
) -> cb_status {
    guard(|| {
        let out = try_out!(out_finished);
        let j = try_ref!(job);
        *out = j.job.is_finished();
        Ok(())
    })
}

/// Runs one patch-making step of the reporter and hands its patch to C.
/// The pointer contract of [`crate::ffi`] applies: pass only an export's
/// own arguments.
fn step(
    job: *mut cb_job_reporter,
    out_patch: *mut *mut c_char,
    make: impl FnOnce(&mut JobReporter) -> cloudbackup_core::Result<Patch>,
) -> cb_status {
    guard(|| {
        let out = try_out!(out_patch);
        let j = try_mut!(job);
        *out = patch_out(&make(&mut j.job)?)?;
        Ok(())
    })
}

/// The patch (JSON text) for state `queued`: the agent took the job up.
///
/// Errors: `CB_PATCH_CONFLICT` or `CB_PATCH_REJECTED` when the lifecycle
/// does not allow it from where the job is (as the service would answer
/// 409 or 400); the reporter is unchanged then.
///
/// # Safety
/// `job` is a live reporter or NULL, not used by another thread meanwhile;
/// `out_patch` points to a writable `char *` (freed with `cb_string_free`).
#[no_mangle]
pub unsafe extern "C" fn cb_job_reporter_queued(
    job: *mut cb_job_reporter,
    out_patch: *mut *mut c_char,
) -> cb_status {
    step(job, out_patch, |j| j.queued())
}

/// The patch for state `preparing` (the agent reads the vault, lists the
/// files). Backups and restores only.
///
/// Errors: as `cb_job_reporter_queued`.
///
/// # Safety
/// As `cb_job_reporter_queued`.
#[no_mangle]
pub unsafe extern "C" fn cb_job_reporter_preparing(
    job: *mut cb_job_reporter,
    out_patch: *mut *mut c_char,
) -> cb_status {
    step(job, out_patch, |j| j.preparing())
}

/// The patch for state `in_progress` with `started_time` at `now_ns`
/// (nanoseconds since the Unix epoch, written to the microsecond).
///
/// Errors: as `cb_job_reporter_queued`.
///
/// # Safety
/// As `cb_job_reporter_queued`.
#[no_mangle]
pub unsafe extern "C" fn cb_job_reporter_started(
    job: *mut cb_job_reporter,
    now_ns: i64,
    out_patch: *mut *mut c_char,
) -> cb_status {
    step(job, out_patch, |j| j.started(timestamp(now_ns)))
}

/// The counters now (`counters_json`: `{"files_restored": 3,
/// "bytes_restored": 3000}`, the names the endpoint takes) at `now_ns`:
/// `*out_patch` receives a patch of those that changed, or NULL (still
/// `CB_OK`) when none did, the last progress was less than the interval
/// ago, or a stop was requested or the job ended.
///
/// Errors: `CB_INVALID_JSON` for counters that are not an object of
/// non-negative integers; `CB_PATCH_REJECTED` for a counter the endpoint
/// does not take.
///
/// # Safety
/// As `cb_job_reporter_queued`; `counters_json` is NUL-terminated.
#[no_mangle]
pub unsafe extern "C" fn cb_job_reporter_progress(
    job: *mut cb_job_reporter,
    counters_json: *const c_char,
    now_ns: i64,
    out_patch: *mut *mut c_char,
) -> cb_status {
    guard(|| {
        let out = try_out!(out_patch);
        let j = try_mut!(job);
        let counters = counters_arg(counters_json)?;
        if let Some(patch) = j.job.progress(&counter_list(&counters), now_ns)? {
            *out = patch_out(&patch)?;
        }
        Ok(())
    })
}

/// The final patch: the job ended at `now_ns` with the final counters
/// `counters_json` (as for `cb_job_reporter_progress`); state `stopped`
/// when a stop was requested, else `completed_with_errors` with
/// `errors_json` (the per-file error report, a v2 `errors` object:
/// `{"count", "reason", "diagnostics", "list": [...]}`) when it is not
/// NULL, else `completed`; with `ended_time`.
///
/// Errors: `CB_INVALID_JSON` for counters or errors that do not fit;
/// `CB_PATCH_CONFLICT` after the end; as `cb_job_reporter_queued`.
///
/// # Safety
/// As `cb_job_reporter_queued`; `counters_json` is NUL-terminated and
/// `errors_json` NULL or NUL-terminated.
#[no_mangle]
pub unsafe extern "C" fn cb_job_reporter_finished(
    job: *mut cb_job_reporter,
    counters_json: *const c_char,
    errors_json: *const c_char,
    now_ns: i64,
    out_patch: *mut *mut c_char,
) -> cb_status {
    guard(|| {
        let out = try_out!(out_patch);
        let j = try_mut!(job);
        let counters = counters_arg(counters_json)?;
        let errors: Option<ErrorReport> = match try_opt_str!(errors_json) {
            None => None,
            Some(text) => Some(from_json_slice("errors_json", text.as_bytes())?),
        };
        let patch = j
            .job
            .finished(&counter_list(&counters), errors.as_ref(), timestamp(now_ns))?;
        *out = patch_out(&patch)?;
        Ok(())
    })
}

/// The patch for a failure at `now_ns`: state `failed`, `ended_time` and
/// `/errors` with `message` (why, e.g. from `cb_last_error_message`) as
/// diagnostics.
///
/// Errors: `CB_PATCH_CONFLICT` after the end; as `cb_job_reporter_queued`.
///
/// # Safety
/// As `cb_job_reporter_queued`; `message` is NUL-terminated.
#[no_mangle]
pub unsafe extern "C" fn cb_job_reporter_failed(
    job: *mut cb_job_reporter,
    message: *const c_char,
    now_ns: i64,
    out_patch: *mut *mut c_char,
) -> cb_status {
    guard(|| {
        let out = try_out!(out_patch);
        let j = try_mut!(job);
        let message = try_str!(message);
        *out = patch_out(&j.job.failed(message, timestamp(now_ns))?)?;
        Ok(())
    })
}

/// Whether the agent `agent_id` runs this job (a backup's or cleanup's
/// `agent.id`, a restore's `destination_agent.id`).
///
/// # Safety
/// `job` is a live reporter or NULL; `agent_id` is NUL-terminated;
/// `out_runs` points to a writable `bool`.
#[no_mangle]
pub unsafe extern "C" fn cb_job_reporter_runs_on(
    job: *const cb_job_reporter,
    agent_id: *const c_char,
    out_runs: *mut bool,
) -> cb_status {
    guard(|| {
        let out = try_out!(out_runs);
        let j = try_ref!(job);
        *out = j.job.runs_on(try_str!(agent_id));
        Ok(())
    })
}

/// What a restarted agent sends, at `now_ns`, for a job a killed run of it
/// left behind: `failed` ("agent restarted: the job was interrupted") for a
/// job `queued`, `preparing` or `in_progress`, `stopped` for one whose stop
/// was requested; `*out_patch` is NULL for a job not taken up yet or
/// already ended (nothing to send).
///
/// # Safety
/// As `cb_job_reporter_queued`.
#[no_mangle]
pub unsafe extern "C" fn cb_job_reporter_recover(
    job: *mut cb_job_reporter,
    now_ns: i64,
    out_patch: *mut *mut c_char,
) -> cb_status {
    guard(|| {
        let out = try_out!(out_patch);
        let j = try_mut!(job);
        if let Some(patch) = j.job.recover(timestamp(now_ns))? {
            *out = patch_out(&patch)?;
        }
        Ok(())
    })
}

/// Frees a reporter. NULL is ignored.
///
/// # Safety
/// `job` is NULL or a reporter made by this library, not freed before and
/// not in use.
#[no_mangle]
pub unsafe extern "C" fn cb_job_reporter_free(job: *mut cb_job_reporter) {
    guard_void(|| free!(job));
}
