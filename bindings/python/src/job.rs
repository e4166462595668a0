//! The patches an agent sends about a job as it runs: a thin wrapper of
//! the core's `lifecycle::JobReporter` (Python objects or JSON text in,
//! Python objects out).

use std::sync::Mutex;

use cloudbackup_core::by_name;
use cloudbackup_core::error::{from_json_slice, json_value_from_slice};
use cloudbackup_core::lifecycle::JobReporter;
use cloudbackup_core::model::v2::common::ErrorReport;
use cloudbackup_core::patch::Patch;
use cloudbackup_core::wire::Timestamp;
use pyo3::prelude::*;

use crate::error::{poisoned, PyResultCb};
use crate::value::{json_text, to_value, value_to_py};

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

fn patch_json(patch: &Patch) -> PyResultCb<serde_json::Value> {
    to_value("patch", patch)
}

fn time(text: &str) -> PyResultCb<Timestamp> {
    Ok(Timestamp::parse(text)?)
}

#[pymethods]
impl NativeJobReporter {
    /// A reporter for the job `resource` (a dict, JSON text or bytes-like
    /// JSON, with `state`)
    /// of `endpoint` (`"backup"`, `"restore"`, `"cleanup"`); progress at
    /// most every `progress_interval_ns`.
    #[new]
    #[pyo3(signature = (endpoint, resource, progress_interval_ns=None))]
    fn new(
        endpoint: &str,
        resource: &Bound<'_, PyAny>,
        progress_interval_ns: Option<i64>,
    ) -> PyResultCb<Self> {
        let resource = json_text(resource, "resource")?;
        let mut job = by_name::job_reporter(endpoint, &resource)?;
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

    /// The job's resource as the agent knows it.
    fn resource<'py>(&self, py: Python<'py>) -> PyResultCb<Bound<'py, PyAny>> {
        let value = self.with(|j| to_value("resource", j.resource()))?;
        Ok(value_to_py(py, value)?)
    }

    /// Takes the service's copy of the job (a dict or JSON).
    fn observe(&self, resource: &Bound<'_, PyAny>) -> PyResultCb<()> {
        let resource = json_text(resource, "resource")?;
        let value = json_value_from_slice("resource", &resource)?;
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

    /// The patch for state `queued`.
    fn queued<'py>(&self, py: Python<'py>) -> PyResultCb<Bound<'py, PyAny>> {
        let patch = self.with(|j| patch_json(&j.queued()?))?;
        Ok(value_to_py(py, patch)?)
    }

    /// The patch for state `preparing`.
    fn preparing<'py>(&self, py: Python<'py>) -> PyResultCb<Bound<'py, PyAny>> {
        let patch = self.with(|j| patch_json(&j.preparing()?))?;
        Ok(value_to_py(py, patch)?)
    }

    /// The patch for state `in_progress` at `now` (ISO-8601).
    fn started<'py>(&self, py: Python<'py>, now: &str) -> PyResultCb<Bound<'py, PyAny>> {
        let now = time(now)?;
        let patch = self.with(|j| patch_json(&j.started(now)?))?;
        Ok(value_to_py(py, patch)?)
    }

    /// The progress patch for `counters` (`[(name, value)]`) at `now_ns`,
    /// or None (nothing changed, or too soon).
    fn progress<'py>(
        &self,
        py: Python<'py>,
        counters: Vec<(String, u64)>,
        now_ns: i64,
    ) -> PyResultCb<Option<Bound<'py, PyAny>>> {
        let list: Vec<(&str, u64)> = counters.iter().map(|(k, v)| (k.as_str(), *v)).collect();
        let patch = self.with(|j| {
            j.progress(&list, now_ns)?
                .as_ref()
                .map(patch_json)
                .transpose()
        })?;
        Ok(patch.map(|p| value_to_py(py, p)).transpose()?)
    }

    /// The final patch: `counters`, `errors` (the per-file report as a
    /// dict or JSON, or None) and `now` (ISO-8601).
    #[pyo3(signature = (counters, errors, now))]
    fn finished<'py>(
        &self,
        py: Python<'py>,
        counters: Vec<(String, u64)>,
        errors: Option<&Bound<'py, PyAny>>,
        now: &str,
    ) -> PyResultCb<Bound<'py, PyAny>> {
        let errors: Option<ErrorReport> = match errors {
            Some(e) => Some(from_json_slice("errors", &json_text(e, "errors")?)?),
            None => None,
        };
        let now = time(now)?;
        let list: Vec<(&str, u64)> = counters.iter().map(|(k, v)| (k.as_str(), *v)).collect();
        let patch = self.with(|j| patch_json(&j.finished(&list, errors.as_ref(), now)?))?;
        Ok(value_to_py(py, patch)?)
    }

    /// The patch for a failure: `message` and `now` (ISO-8601).
    fn failed<'py>(
        &self,
        py: Python<'py>,
        message: &str,
        now: &str,
    ) -> PyResultCb<Bound<'py, PyAny>> {
        let now = time(now)?;
        let patch = self.with(|j| patch_json(&j.failed(message, now)?))?;
        Ok(value_to_py(py, patch)?)
    }

    /// Whether agent `agent_id` runs this job.
    fn runs_on(&self, agent_id: &str) -> PyResultCb<bool> {
        self.with(|j| Ok(j.runs_on(agent_id)))
    }

    /// The patch a restarted agent sends for a job a killed run left
    /// behind (`failed`, or `stopped` after a stop request), or None.
    fn recover<'py>(&self, py: Python<'py>, now: &str) -> PyResultCb<Option<Bound<'py, PyAny>>> {
        let now = time(now)?;
        let patch = self.with(|j| match j.recover(now)? {
            Some(p) => Ok(Some(patch_json(&p)?)),
            None => Ok(None),
        })?;
        Ok(match patch {
            Some(p) => Some(value_to_py(py, p)?),
            None => None,
        })
    }
}

/// Registers the class.
pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<NativeJobReporter>()?;
    Ok(())
}
