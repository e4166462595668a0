//! Prune: thin wrappers of the core's `engine::prune` (plan, repack,
//! new index, cleanup lifecycle patches).

use std::sync::Mutex;

use cloudbackup_core::engine::prune as core_prune;
use cloudbackup_core::engine::{PruneOptions, Pruner, SealedBundle};
use cloudbackup_core::wire::Timestamp;
use cloudbackup_core::Error;
use pyo3::prelude::*;
use pyo3::types::PyBytes;

use crate::backup::{bundle_out, no_home, Bundle};
use crate::error::{poisoned, Failure, PyResultCb};
use crate::input::bytes_in;
use crate::state::NativeVaultState;
use crate::value::{json_text, to_py, to_value, value_to_py};
use crate::vault::NativeVault;

/// An object to store: `(id, bytes)`.
type Object<'py> = (String, Bound<'py, PyBytes>);

/// New bundles to store, freed once Python drops them (no session takes
/// their memory back).
fn hand_out(py: Python<'_>, bundles: Vec<SealedBundle>) -> PyResultCb<Vec<Bundle<'_>>> {
    let home = no_home();
    bundles
        .into_iter()
        .map(|b| Ok((b.id.to_hex(), bundle_out(py, b.bytes, &home)?)))
        .collect()
}

/// What `finish` hands back: `(bundles, index deltas, names to delete,
/// report)`.
type Commit<'py> = (
    Vec<Bundle<'py>>,
    Vec<Object<'py>>,
    Vec<String>,
    Bound<'py, PyAny>,
);

/// A prune in progress: its plan, then the bundles it copies.
#[pyclass(module = "cloudbackup._native", name = "Pruner")]
pub struct NativePruner {
    pruner: Mutex<Option<Pruner>>,
    /// The plan as the host sees it (small: names and counts).
    plan: serde_json::Value,
}

/// Prune options given as a dict or as JSON text.
fn options_in(options: &Bound<'_, PyAny>) -> PyResultCb<PruneOptions> {
    let text = json_text(options, "options")?;
    let text = std::str::from_utf8(&text).map_err(|e| {
        Failure::Core(Error::InvalidJson {
            what: "options".into(),
            message: e.to_string(),
        })
    })?;
    Ok(PruneOptions::from_json(text)?)
}

fn done() -> Failure {
    Failure::Core(Error::finished("prune"))
}

#[pymethods]
impl NativePruner {
    /// Plans a prune of `state` with `options` (the core's
    /// `PruneOptions` as a dict or JSON text) at `now_ns`; raises when the
    /// vault must not be pruned (IntegrityError) or the options are bad.
    #[new]
    fn new(
        vault: &NativeVault,
        state: &NativeVaultState,
        options: &Bound<'_, PyAny>,
        now_ns: i64,
    ) -> PyResultCb<Self> {
        let options = options_in(options)?;
        let plan = state.with_state(|s| Ok(s.prune_plan(&options, now_ns)?))?;
        Ok(NativePruner {
            plan: to_value("prune plan", &plan)?,
            pruner: Mutex::new(Some(Pruner::new(&vault.get()?, plan))),
        })
    }

    /// The plan (a new dict on each call).
    fn plan<'py>(&self, py: Python<'py>) -> PyResultCb<Bound<'py, PyAny>> {
        Ok(value_to_py(py, self.plan.clone())?)
    }

    /// Bundles of the plan not fed yet (names).
    fn remaining(&self) -> PyResultCb<Vec<String>> {
        let p = self.pruner.lock().map_err(|_| poisoned())?;
        Ok(p.as_ref().ok_or_else(done)?.remaining())
    }

    /// Copies the used blobs of bundle `name` (`bundles/<id>`, fetched
    /// whole); returns the new bundles that filled up, to store. Raises
    /// IntegrityError for a damaged bundle. Releases the GIL.
    fn feed<'py>(
        &self,
        py: Python<'py>,
        name: &str,
        data: &Bound<'_, PyAny>,
    ) -> PyResultCb<Vec<Bundle<'py>>> {
        let data = bytes_in(data, "data")?;
        let bytes = data.as_slice();
        let full = py.detach(|| {
            let mut p = self.pruner.lock().map_err(|_| poisoned())?;
            Ok::<_, Failure>(p.as_mut().ok_or_else(done)?.feed(name, bytes)?)
        })?;
        hand_out(py, full)
    }

    /// Ends the repack: `(bundles, index deltas, names to delete,
    /// report)`. Store the bundles, then the deltas, then delete in order.
    fn finish<'py>(&self, py: Python<'py>) -> PyResultCb<Commit<'py>> {
        let p = self
            .pruner
            .lock()
            .map_err(|_| poisoned())?
            .take()
            .ok_or_else(done)?;
        let commit = py.detach(|| p.finish())?;
        let bundles = hand_out(py, commit.bundles)?;
        let indexes = commit
            .indexes
            .into_iter()
            .map(|o| (o.id.to_hex(), PyBytes::new(py, &o.bytes)))
            .collect();
        let report = to_py(py, "prune report", &commit.report)?;
        Ok((bundles, indexes, commit.delete, report))
    }
}

fn timestamp(text: &str) -> PyResultCb<Timestamp> {
    Ok(Timestamp::parse(text)?)
}

/// The v2 cleanup PATCH an agent sends when it starts: state
/// `in_progress` and `started_time` (ISO-8601 text).
#[pyfunction]
fn cleanup_started_patch<'py>(py: Python<'py>, started: &str) -> PyResultCb<Bound<'py, PyAny>> {
    to_py(
        py,
        "cleanup patch",
        &core_prune::cleanup_started_patch(timestamp(started)?)?,
    )
}

/// The v2 cleanup PATCH an agent sends when it takes a cleanup up
/// (state `queued`).
#[pyfunction]
fn cleanup_queued_patch(py: Python<'_>) -> PyResultCb<Bound<'_, PyAny>> {
    to_py(py, "cleanup patch", &core_prune::cleanup_queued_patch()?)
}

/// The v2 cleanup PATCH an agent sends when it ends: state `completed`,
/// `ended_time` (ISO-8601), the service's ids of the `forgotten` vault
/// snapshots, and the vault's size before and after.
#[pyfunction]
fn cleanup_finished_patch<'py>(
    py: Python<'py>,
    forgotten: Vec<String>,
    bytes_before: u64,
    bytes_after: u64,
    ended: &str,
) -> PyResultCb<Bound<'py, PyAny>> {
    to_py(
        py,
        "cleanup patch",
        &core_prune::cleanup_finished_patch(
            &forgotten,
            bytes_before,
            bytes_after,
            timestamp(ended)?,
        )?,
    )
}

/// Checks prune options (the core's `PruneOptions` as a dict or JSON
/// text) and returns them in their normal form; InvalidArgument names a
/// bad field.
#[pyfunction]
fn prune_options<'py>(
    py: Python<'py>,
    options: &Bound<'py, PyAny>,
) -> PyResultCb<Bound<'py, PyAny>> {
    to_py(py, "prune options", &options_in(options)?)
}

/// The v2 cleanup PATCH an agent sends when it fails: state `failed`,
/// `ended_time` and `/errors` with `message`.
#[pyfunction]
fn cleanup_failed_patch<'py>(
    py: Python<'py>,
    message: &str,
    ended: &str,
) -> PyResultCb<Bound<'py, PyAny>> {
    to_py(
        py,
        "cleanup patch",
        &core_prune::cleanup_failed_patch(message, timestamp(ended)?)?,
    )
}

/// Registers the classes and functions.
pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<NativePruner>()?;
    m.add_function(wrap_pyfunction!(cleanup_queued_patch, m)?)?;
    m.add_function(wrap_pyfunction!(cleanup_started_patch, m)?)?;
    m.add_function(wrap_pyfunction!(prune_options, m)?)?;
    m.add_function(wrap_pyfunction!(cleanup_finished_patch, m)?)?;
    m.add_function(wrap_pyfunction!(cleanup_failed_patch, m)?)?;
    Ok(())
}
