//! The patches an agent sends about a job as it runs: a thin wrapper of
//! the core's `lifecycle::JobReporter` (JSON text in and out).

use std::sync::Mutex;

use cloudbackup_core::dynamic;
use cloudbackup_core::error::from_json_slice;
use cloudbackup_core::lifecycle::JobReporter;
use cloudbackup_core::model::v2::common::ErrorReport;
use cloudbackup_core::patch::Patch;
use cloudbackup_core::wire::Timestamp;
use pyo3::prelude::*;

use crate::error::{poisoned, to_json, PyResultCb};
use crate::input::bytes_in;

/// The patches one agent sends about one backup, restore or cleanup.
#[pyclass(module = "cloudbackup._native", name = "JobReporter")]
pub struct NativeJobReporter {
    inner: Mutex<JobReporter>,
}

impl NativeJobReporter {
    fn with<T>(&self, f: impl FnOnce(&mut JobReporter) -> PyResultCb<T>) -> PyResultCb<T> {
        f(&mut *self.inner.lock().map_err(|_| poisoned())?)
    }
}

fn patch_json(patch: &Patch) -> PyResultCb<String> {
    to_json("patch", patch)
}

fn time(text: &str) -> PyResultCb<Timestamp> {
    Ok(Timestamp::parse(text)?)
}

#[pymethods]
impl NativeJobReporter {
    /// A reporter for the job `resource` (bytes-like JSON, with `state`)
    /// of `endpoint` (`"backup"`, `"restore"`, `"cleanup"`); progress at
    /// most every `progress_interval_ns`.
    #[new]
    #[pyo3(signature = (endpoint, resource, progress_interval_ns=None))]
    fn new(
        endpoint: &str,
        resource: &Bound<'_, PyAny>,
        progress_interval_ns: Option<i64>,
    ) -> PyResultCb<Self> {
        let resource = bytes_in(resource, "resource")?;
        let mut job = dynamic::job_reporter(endpoint, resource.as_slice())?;
        if let Some(ns) = progress_interval_ns {
            job = job.with_progress_interval(ns);
        }
        Ok(NativeJobReporter {
            inner: Mutex::new(job),
        })
    }

    /// The job's state as the agent knows it.
    fn state(&self) -> PyResultCb<String> {
        self.with(|j| Ok(j.state().to_string()))
    }

    /// The job's resource as the agent knows it (JSON text).
    fn resource(&self) -> PyResultCb<String> {
        self.with(|j| to_json("resource", j.resource()))
    }

    /// Takes the service's copy of the job (bytes-like JSON).
    fn observe(&self, resource: &Bound<'_, PyAny>) -> PyResultCb<()> {
        let resource = bytes_in(resource, "resource")?;
        let value = from_json_slice("resource", resource.as_slice())?;
        self.with(|j| Ok(j.observe(value)?))
    }

    /// Whether a user asked the job to stop.
    fn stop_requested(&self) -> PyResultCb<bool> {
        self.with(|j| Ok(j.stop_requested()))
    }

    /// Whether the job has ended.
    fn is_finished(&self) -> PyResultCb<bool> {
        self.with(|j| Ok(j.is_finished()))
    }

    /// The patch for state `queued` (JSON text).
    fn queued(&self) -> PyResultCb<String> {
        self.with(|j| patch_json(&j.queued()?))
    }

    /// The patch for state `preparing`.
    fn preparing(&self) -> PyResultCb<String> {
        self.with(|j| patch_json(&j.preparing()?))
    }

    /// The patch for state `in_progress` at `now` (ISO-8601).
    fn started(&self, now: &str) -> PyResultCb<String> {
        let now = time(now)?;
        self.with(|j| patch_json(&j.started(now)?))
    }

    /// The progress patch for `counters` (`[(name, value)]`) at `now_ns`,
    /// or None (nothing changed, or too soon).
    fn progress(&self, counters: Vec<(String, u64)>, now_ns: i64) -> PyResultCb<Option<String>> {
        let list: Vec<(&str, u64)> = counters.iter().map(|(k, v)| (k.as_str(), *v)).collect();
        self.with(|j| {
            j.progress(&list, now_ns)?
                .as_ref()
                .map(patch_json)
                .transpose()
        })
    }

    /// The final patch: `counters`, `errors` (the per-file report as
    /// bytes-like JSON, or None) and `now` (ISO-8601).
    #[pyo3(signature = (counters, errors, now))]
    fn finished(
        &self,
        counters: Vec<(String, u64)>,
        errors: Option<&Bound<'_, PyAny>>,
        now: &str,
    ) -> PyResultCb<String> {
        let errors: Option<ErrorReport> = match errors {
            Some(e) => Some(from_json_slice(
                "errors",
                bytes_in(e, "errors")?.as_slice(),
            )?),
            None => None,
        };
        let now = time(now)?;
        let list: Vec<(&str, u64)> = counters.iter().map(|(k, v)| (k.as_str(), *v)).collect();
        self.with(|j| patch_json(&j.finished(&list, errors.as_ref(), now)?))
    }

    /// The patch for a failure: `message` and `now` (ISO-8601).
    fn failed(&self, message: &str, now: &str) -> PyResultCb<String> {
        let now = time(now)?;
        self.with(|j| patch_json(&j.failed(message, now)?))
    }
}

/// Registers the class.
pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<NativeJobReporter>()?;
    Ok(())
}
