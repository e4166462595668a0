//! What an agent tells the service about one job (a v2 backup, restore or
//! cleanup) as it runs: the JSON Patches for the job's resource, in the
//! order the lifecycle allows, each checked by the core's own PATCH policy
//! ([`crate::patch::validate_patch`]) before it is handed out. An agent on
//! any host (the Python reference agent, the C agent) drives a
//! [`JobReporter`] and sends what it returns; a patch the service would
//! refuse (a state the lifecycle does not allow from where the job is, a
//! counter the endpoint does not take) is an error here, before any
//! request.
//!
//! ```text
//! let mut job = JobReporter::new(Endpoint::Restore, resource_from_get)?;
//! send(job.queued()?);  send(job.preparing()?);  send(job.started(now)?);
//! loop { if let Some(p) = job.progress(&[("files_restored", n), ...], now_ns)? { send(p) }
//!        job.observe(resource_from_get_or_event)?;  if job.stop_requested() { break } }
//! send(job.finished(&counters, errors, now)?)   // completed, completed_with_errors or stopped
//! // or send(job.failed("why", now)?)
//! ```

use std::collections::BTreeMap;

use serde_json::{json, Value};

use crate::model::v2::common::ErrorReport;
use crate::patch::{patch_from_value, validate_patch, Endpoint, Patch, PatchContext};
use crate::wire::Timestamp;
use crate::{Error, Result};

use super::Actor;

/// Progress patches at most this often by default (5 s): the service's
/// counters stay fresh without a request per file.
pub const DEFAULT_PROGRESS_INTERVAL_NS: i64 = 5_000_000_000;

/// The diagnostics of a job a killed agent run left behind, reported
/// `failed` by the agent's next run ([`JobReporter::recover`]).
pub const INTERRUPTED: &str = "agent restarted: the job was interrupted";

/// The patches one agent sends about one job: see the module docs.
#[derive(Debug, Clone)]
pub struct JobReporter {
    endpoint: Endpoint,
    /// The job's resource as the agent knows it: the service's copy, with
    /// the agent's own patches applied.
    resource: Value,
    progress_interval_ns: i64,
    last_progress_ns: Option<i64>,
    /// The counters last reported, to send only what changed.
    reported: BTreeMap<String, u64>,
}

impl JobReporter {
    /// A reporter for the job `resource` (its JSON as the service gives it,
    /// with at least `state`) of `endpoint`: a backup, restore or cleanup.
    ///
    /// Errors: [`Error::InvalidArgument`] for another endpoint or a
    /// resource without a `state` string.
    pub fn new(endpoint: Endpoint, resource: Value) -> Result<Self> {
        if !matches!(
            endpoint,
            Endpoint::Backup | Endpoint::Restore | Endpoint::Cleanup
        ) {
            return Err(Error::argument(
                "endpoint",
                format!("{endpoint:?} is not a job (backup, restore or cleanup)"),
            ));
        }
        state_of(&resource)?;
        Ok(JobReporter {
            endpoint,
            resource,
            progress_interval_ns: DEFAULT_PROGRESS_INTERVAL_NS,
            last_progress_ns: None,
            reported: BTreeMap::new(),
        })
    }

    /// Sends progress at most every `interval_ns` (0: every call that
    /// changes a counter).
    pub fn with_progress_interval(mut self, interval_ns: i64) -> Self {
        self.progress_interval_ns = interval_ns.max(0);
        self
    }

    /// The job's state as the agent knows it (wire name).
    pub fn state(&self) -> &str {
        self.resource
            .get("state")
            .and_then(Value::as_str)
            .unwrap_or("")
    }

    /// The job's resource as the agent knows it.
    pub fn resource(&self) -> &Value {
        &self.resource
    }

    /// The service's copy of the job, read again (a GET, or the resource an
    /// event carries): a user's stop request shows up here.
    pub fn observe(&mut self, resource: Value) -> Result<()> {
        state_of(&resource)?;
        self.resource = resource;
        Ok(())
    }

    /// Whether a user asked the job to stop (state `stop_requested`): the
    /// agent ends it and reports [`finished`](Self::finished), which then
    /// says `stopped`.
    pub fn stop_requested(&self) -> bool {
        self.state() == "stop_requested"
    }

    /// Whether the job has ended (a terminal state).
    pub fn is_finished(&self) -> bool {
        matches!(
            self.state(),
            "completed" | "completed_with_errors" | "failed" | "stopped" | "skipped" | "missed"
        )
    }

    /// Whether the agent `agent_id` runs this job: a backup's or cleanup's
    /// `agent.id`, a restore's `destination_agent.id` (ids compared as
    /// text, so `7` and `"7"` agree).
    pub fn runs_on(&self, agent_id: &str) -> bool {
        let owner = match self.endpoint {
            Endpoint::Restore => "destination_agent",
            _ => "agent",
        };
        match self.resource.get(owner).and_then(|o| o.get("id")) {
            Some(Value::String(id)) => id == agent_id,
            Some(Value::Number(id)) => id.to_string() == agent_id,
            _ => false,
        }
    }

    /// What an agent reports when it starts, for a job an earlier run of it
    /// left behind (killed mid-job): `failed` with [`INTERRUPTED`] at `now`
    /// for a job `queued`, `preparing` or `in_progress`; `stopped` for one
    /// whose stop was requested; `None` for a job not taken up yet or
    /// already ended. So a job is never left running by a dead agent.
    pub fn recover(&mut self, now: Timestamp) -> Result<Option<Patch>> {
        match self.state() {
            "queued" | "preparing" | "in_progress" => self.failed(INTERRUPTED, now).map(Some),
            "stop_requested" => self.finished(&[], None, now).map(Some),
            _ => Ok(None),
        }
    }

    /// The agent took the job up: state `queued`.
    pub fn queued(&mut self) -> Result<Patch> {
        self.apply(json!([{"op": "replace", "path": "/state", "value": "queued"}]))
    }

    /// The agent prepares the job (reads the vault, lists the files):
    /// state `preparing`. Backups and restores only.
    pub fn preparing(&mut self) -> Result<Patch> {
        self.apply(json!([{"op": "replace", "path": "/state", "value": "preparing"}]))
    }

    /// The work began at `now`: state `in_progress` and `started_time`.
    pub fn started(&mut self, now: Timestamp) -> Result<Patch> {
        self.apply(json!([
            {"op": "replace", "path": "/state", "value": "in_progress"},
            {"op": "replace", "path": "/started_time", "value": now},
        ]))
    }

    /// The counters now (`("files_restored", n)`...; the names the
    /// endpoint takes), at `now_ns`: a patch of those that changed, or
    /// `None` when none did or the last progress was less than the
    /// interval ago. Never after a stop request or the end.
    pub fn progress(&mut self, counters: &[(&str, u64)], now_ns: i64) -> Result<Option<Patch>> {
        if self.stop_requested() || self.is_finished() {
            return Ok(None);
        }
        if let Some(last) = self.last_progress_ns {
            if now_ns.saturating_sub(last) < self.progress_interval_ns {
                return Ok(None);
            }
        }
        let ops = self.counter_ops(counters);
        if ops.is_empty() {
            return Ok(None);
        }
        let patch = self.apply(Value::Array(ops))?;
        self.remember(counters);
        self.last_progress_ns = Some(now_ns);
        Ok(Some(patch))
    }

    /// The job ended at `now` with these final counters: `stopped` when a
    /// stop was requested, else `completed_with_errors` with `errors` (the
    /// per-file report) when there are some, else `completed`; with
    /// `ended_time`.
    pub fn finished(
        &mut self,
        counters: &[(&str, u64)],
        errors: Option<&ErrorReport>,
        now: Timestamp,
    ) -> Result<Patch> {
        let state = if self.stop_requested() {
            "stopped"
        } else if errors.is_some() {
            "completed_with_errors"
        } else {
            "completed"
        };
        let mut ops = vec![json!({"op": "replace", "path": "/state", "value": state})];
        ops.extend(self.counter_ops(counters));
        ops.push(json!({"op": "replace", "path": "/ended_time", "value": now}));
        if let Some(errors) = errors {
            let value =
                serde_json::to_value(errors).map_err(|e| Error::json("error report", &e))?;
            ops.push(json!({"op": "add", "path": "/errors", "value": value}));
        }
        let patch = self.apply(Value::Array(ops))?;
        self.remember(counters);
        Ok(patch)
    }

    /// The job failed at `now` (`message`: why, e.g. the error's text):
    /// state `failed`, `ended_time` and `/errors` with it as diagnostics.
    pub fn failed(&mut self, message: &str, now: Timestamp) -> Result<Patch> {
        let reason = match self.endpoint {
            Endpoint::Backup => "backup_failed",
            Endpoint::Restore => "restore_failed",
            _ => "cleanup_failed",
        };
        self.apply(json!([
            {"op": "replace", "path": "/state", "value": "failed"},
            {"op": "replace", "path": "/ended_time", "value": now},
            {"op": "add", "path": "/errors", "value": {
                "count": 1, "reason": reason, "diagnostics": message,
            }},
        ]))
    }

    fn counter_ops(&self, counters: &[(&str, u64)]) -> Vec<Value> {
        counters
            .iter()
            .filter(|(name, value)| self.reported.get(*name) != Some(value))
            .map(|(name, value)| json!({"op": "replace", "path": format!("/{name}"), "value": value}))
            .collect()
    }

    fn remember(&mut self, counters: &[(&str, u64)]) {
        for (name, value) in counters {
            self.reported.insert((*name).to_string(), *value);
        }
    }

    /// Checks `ops` as the service would (the agent's patch of the job as
    /// the agent knows it) and applies them to the local copy.
    fn apply(&mut self, ops: Value) -> Result<Patch> {
        let patch = patch_from_value(ops)?;
        let next = validate_patch(
            self.endpoint,
            &self.resource,
            &patch,
            PatchContext::new(Actor::Agent),
        )?;
        self.resource = next;
        Ok(patch)
    }
}

fn state_of(resource: &Value) -> Result<&str> {
    resource
        .get("state")
        .and_then(Value::as_str)
        .ok_or_else(|| Error::argument("resource", "has no \"state\" string"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ErrorCode;

    fn t(s: i64) -> Timestamp {
        Timestamp::from_unix_micros(s * 1_000_000)
    }

    fn restore(state: &str) -> Value {
        json!({"state": state, "started_time": null, "ended_time": null, "errors": null,
               "files_restored": 0, "bytes_restored": 0})
    }

    #[test]
    fn a_restore_runs_through_its_lifecycle_with_throttled_progress() {
        let mut job = JobReporter::new(Endpoint::Restore, restore("start_requested"))
            .unwrap()
            .with_progress_interval(1_000);
        job.queued().unwrap();
        job.preparing().unwrap();
        let p = job.started(t(100)).unwrap();
        assert_eq!(
            serde_json::to_value(&p).unwrap()[1]["value"],
            "1970-01-01T00:01:40.000000Z"
        );
        assert_eq!(job.state(), "in_progress");
        let first = job
            .progress(&[("files_restored", 3), ("bytes_restored", 300)], 10_000)
            .unwrap();
        assert_eq!(
            serde_json::to_value(first.unwrap())
                .unwrap()
                .as_array()
                .unwrap()
                .len(),
            2
        );
        // Too soon, then unchanged, then one counter changed.
        assert!(job
            .progress(&[("files_restored", 4)], 10_500)
            .unwrap()
            .is_none());
        assert!(job
            .progress(&[("files_restored", 3), ("bytes_restored", 300)], 20_000)
            .unwrap()
            .is_none());
        let one = job
            .progress(&[("files_restored", 5), ("bytes_restored", 300)], 30_000)
            .unwrap()
            .unwrap();
        let one = serde_json::to_value(one).unwrap();
        assert_eq!(
            one,
            json!([{"op": "replace", "path": "/files_restored", "value": 5}])
        );
        let done = job
            .finished(
                &[("files_restored", 9), ("bytes_restored", 900)],
                None,
                t(200),
            )
            .unwrap();
        assert_eq!(serde_json::to_value(done).unwrap()[0]["value"], "completed");
        assert!(job.is_finished());
        assert_eq!(job.resource()["files_restored"], 9);
        assert_eq!(job.resource()["ended_time"], "1970-01-01T00:03:20.000000Z");
        // Nothing after the end: the lifecycle refuses, here as there.
        assert!(job
            .progress(&[("files_restored", 10)], 90_000)
            .unwrap()
            .is_none());
        let e = job.failed("late", t(300)).unwrap_err();
        assert_eq!(e.code(), ErrorCode::PatchConflict, "{e}");
    }

    #[test]
    fn a_stop_request_ends_the_job_stopped() {
        let mut job = JobReporter::new(Endpoint::Restore, restore("start_requested")).unwrap();
        job.queued().unwrap();
        job.started(t(1)).unwrap();
        // The user's stop, seen on the next read of the resource.
        let mut seen = job.resource().clone();
        seen["state"] = json!("stop_requested");
        job.observe(seen).unwrap();
        assert!(job.stop_requested());
        assert!(job.progress(&[("files_restored", 1)], 1).unwrap().is_none());
        let p = job.finished(&[("files_restored", 1)], None, t(2)).unwrap();
        assert_eq!(serde_json::to_value(p).unwrap()[0]["value"], "stopped");
    }

    #[test]
    fn errors_make_completed_with_errors_and_failures_carry_the_message() {
        let report: ErrorReport = serde_json::from_value(json!({
            "count": 1, "reason": "unable_to_process_some_files", "diagnostics": "d",
            "list": [{"index": 0, "path": "/a", "type": "unreadable",
                      "exception": {"code": 7101, "description": "EACCES"}}]
        }))
        .unwrap();
        let backup = json!({"state": "start_requested", "started_time": null,
                            "ended_time": null, "errors": null});
        let mut job = JobReporter::new(Endpoint::Backup, backup.clone()).unwrap();
        job.queued().unwrap();
        job.started(t(1)).unwrap();
        let p = job
            .finished(&[("files_backed_up", 2)], Some(&report), t(2))
            .unwrap();
        assert_eq!(
            serde_json::to_value(p).unwrap()[0]["value"],
            "completed_with_errors"
        );
        assert_eq!(job.resource()["errors"]["list"][0]["path"], "/a");

        let mut job = JobReporter::new(Endpoint::Backup, backup).unwrap();
        job.queued().unwrap();
        job.failed("vault unreachable", t(3)).unwrap();
        assert_eq!(job.state(), "failed");
        assert_eq!(job.resource()["errors"]["diagnostics"], "vault unreachable");
        assert_eq!(job.resource()["errors"]["reason"], "backup_failed");
    }

    #[test]
    fn what_the_service_refuses_is_refused_here() {
        // A counter restores do not have.
        let mut job = JobReporter::new(Endpoint::Restore, restore("in_progress")).unwrap();
        let e = job.progress(&[("files_backed_up", 1)], 0).unwrap_err();
        assert_eq!(e.code(), ErrorCode::PatchRejected, "{e}");
        // Back from in_progress to queued.
        let e = job.queued().unwrap_err();
        assert!(
            matches!(
                e.code(),
                ErrorCode::PatchConflict | ErrorCode::PatchRejected
            ),
            "{e}"
        );
        // Cleanups have no preparing state.
        let mut c = JobReporter::new(Endpoint::Cleanup, json!({"state": "queued"})).unwrap();
        assert!(c.preparing().is_err());
        // Not a job; no state.
        assert!(JobReporter::new(Endpoint::Agent, json!({"state": "x"})).is_err());
        assert!(JobReporter::new(Endpoint::Restore, json!({})).is_err());
    }

    /// A restarted agent ends what a killed run left: running jobs fail,
    /// a requested stop becomes `stopped`, the rest is left alone; each
    /// patch passes the agent's PATCH policy (checked inside `apply`).
    #[test]
    fn a_restarted_agent_recovers_what_a_killed_run_left() {
        for (state, ends) in [
            ("queued", Some("failed")),
            ("preparing", Some("failed")),
            ("in_progress", Some("failed")),
            ("stop_requested", Some("stopped")),
            ("start_requested", None),
            ("completed", None),
            ("failed", None),
        ] {
            let mut job = JobReporter::new(Endpoint::Restore, restore(state)).unwrap();
            let patch = job.recover(t(5)).unwrap();
            assert_eq!(patch.is_some(), ends.is_some(), "{state}");
            if let Some(end) = ends {
                assert_eq!(job.state(), end, "{state}");
                if end == "failed" {
                    assert_eq!(job.resource()["errors"]["diagnostics"], INTERRUPTED);
                }
            } else {
                assert_eq!(job.state(), state);
            }
        }
    }

    #[test]
    fn jobs_belong_to_their_agent() {
        let mut restore = restore("queued");
        restore["destination_agent"] = json!({"id": 7, "links": []});
        let job = JobReporter::new(Endpoint::Restore, restore).unwrap();
        assert!(job.runs_on("7"));
        assert!(!job.runs_on("8"));
        let backup = json!({"state": "queued", "agent": {"id": "a-1"}});
        let job = JobReporter::new(Endpoint::Backup, backup).unwrap();
        assert!(job.runs_on("a-1") && !job.runs_on("7"));
        let job = JobReporter::new(Endpoint::Backup, json!({"state": "queued"})).unwrap();
        assert!(!job.runs_on("a-1"), "no agent: not ours");
    }
}
