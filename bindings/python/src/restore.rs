//! Restore sessions: the plan (what to create, which bundle ranges to
//! fetch), feeding fetched bytes, the verified writes, the final report.

use std::sync::Mutex;

use cloudbackup_core::engine::{RestoreOptions, RestoreRun};
use pyo3::prelude::*;
use pyo3::types::PyBytes;

use crate::error::{poisoned, to_json, PyResultCb};
use crate::input::{bytes_in, opt_json, path_in};
use crate::vault::{id_arg, NativeIndex, NativeSnapshot, NativeVault};

/// A verified blob and where it goes: `(bytes, [(path, offset), ...])`,
/// one `bytes` object for all its places.
type WriteOut<'py> = (Bound<'py, PyBytes>, Vec<(String, u64)>);

/// A restore in progress.
#[pyclass(module = "cloudbackup._native", name = "RestoreSession")]
pub struct NativeRestoreSession {
    /// The run (the core keeps the finished state and the report).
    run: Mutex<RestoreRun>,
    /// What to create, as JSON (fixed once planned).
    creates: String,
    /// The bundle ranges to fetch, as JSON (fixed once planned).
    plan: String,
}

impl NativeRestoreSession {
    /// Runs `f` on the run with the GIL released.
    fn with_run<T: Send>(
        &self,
        py: Python<'_>,
        f: impl FnOnce(&mut RestoreRun) -> PyResultCb<T> + Send,
    ) -> PyResultCb<T> {
        py.detach(|| f(&mut *self.run.lock().map_err(|_| poisoned())?))
    }
}

#[pymethods]
impl NativeRestoreSession {
    /// Plans the restore of `snapshot` (opened from `vault`) using `index`.
    /// `options_json` (`None`: everything, overwrite nothing) is
    /// `{"inclusions", "exclusions", "overwrite", "existing", "found",
    /// "resume", "sparse", "max_gap", "max_range"}`.
    #[new]
    #[pyo3(signature = (vault, snapshot, index, options_json=None))]
    fn new(
        py: Python<'_>,
        vault: &NativeVault,
        snapshot: &NativeSnapshot,
        index: &NativeIndex,
        options_json: Option<&str>,
    ) -> PyResultCb<Self> {
        let vault = vault.get()?;
        let index = index.get()?;
        let options: RestoreOptions = opt_json(options_json, "options_json")?;
        let snap = &snapshot.snapshot;
        let (run, creates, plan) = py.detach(|| -> PyResultCb<_> {
            let run = RestoreRun::new(&vault, snap, &index, options)?;
            let session = run.session()?;
            let creates = to_json("restore creates", &session.creates().collect::<Vec<_>>())?;
            let plan = to_json("restore plan", &session.plan())?;
            Ok((run, creates, plan))
        })?;
        Ok(NativeRestoreSession {
            run: Mutex::new(run),
            creates,
            plan,
        })
    }

    /// What to create, as a JSON array in snapshot order (`{"kind": "dir"|
    /// "file"|"symlink", "path", ...}`).
    fn creates(&self) -> &str {
        &self.creates
    }

    /// The bundle ranges to fetch, as JSON `[{"bundle", "ranges":
    /// [{"offset", "length"}...]}...]`.
    fn plan(&self) -> &str {
        &self.plan
    }

    /// Feeds the fetched bytes (bytes-like) of the planned range at
    /// `offset` of bundle `bundle_id`; returns the verified writes, one per
    /// blob: `(bytes, [(path, offset), ...])`, the one `bytes` object to
    /// write at every place (before format 2: `(path, offset, bytes)` per
    /// place). Blobs of zeros come as no write when sparse (files are
    /// created at their size). Releases the GIL while blobs are
    /// authenticated, decrypted and decompressed.
    fn feed<'py>(
        &self,
        py: Python<'py>,
        bundle_id: &str,
        offset: u64,
        data: &Bound<'_, PyAny>,
    ) -> PyResultCb<Vec<WriteOut<'py>>> {
        let id = id_arg("bundle_id", bundle_id)?;
        let data = bytes_in(data, "data")?;
        let bytes = data.as_slice();
        let writes = self.with_run(py, |r| Ok(r.feed(&id, offset, bytes)?))?;
        Ok(writes
            .into_iter()
            .map(|w| {
                let places = w
                    .places
                    .into_iter()
                    .map(|p| (p.path.quoted().into_owned(), p.offset))
                    .collect();
                (PyBytes::new(py, &w.data), places)
            })
            .collect())
    }

    /// The files (quoted paths) whose content became complete since the
    /// last call, after the writes fed before were written: close each and
    /// move it into place.
    fn take_completed(&self, py: Python<'_>) -> PyResultCb<Vec<String>> {
        self.with_run(py, |r| {
            Ok(r.take_completed()
                .iter()
                .map(|p| p.quoted().into_owned())
                .collect())
        })
    }

    /// The host could not create, write or move `path` (quoted `str` or
    /// `bytes`) into place, `error` saying why: the file fails
    /// (`write_failed` in the report, also after `finish`) and gets no
    /// further writes.
    fn fail_path(&self, py: Python<'_>, path: &Bound<'_, PyAny>, error: &str) -> PyResultCb<()> {
        let path = path_in(path, "path")?;
        self.with_run(py, |r| Ok(r.fail_path(&path, error)?))
    }

    /// Tells the session that bundle `bundle_id` cannot be fetched: the
    /// files needing it fail (`not_found` in the report).
    fn missing(&self, py: Python<'_>, bundle_id: &str) -> PyResultCb<()> {
        let id = id_arg("bundle_id", bundle_id)?;
        self.with_run(py, |r| Ok(r.missing(&id)?))
    }

    /// Ends the restore and returns its report as JSON:
    /// `{"files_restored", "bytes_restored", "files_skipped", "files_done",
    /// "errors"}`.
    fn finish(&self, py: Python<'_>) -> PyResultCb<String> {
        self.with_run(py, |r| to_json("restore report", r.finish()?))
    }

    /// After `finish`: the report as JSON, with the failures reported
    /// since (`fail_path`).
    fn report(&self, py: Python<'_>) -> PyResultCb<String> {
        self.with_run(py, |r| to_json("restore report", r.report()?))
    }

    /// After `finish`: the modes and times to apply, deepest first, failed
    /// entries left out, as a JSON array of creates.
    fn apply(&self, py: Python<'_>) -> PyResultCb<String> {
        self.with_run(py, |r| to_json("restore attributes", r.apply()?))
    }
}

/// Adds this file's classes to the module.
pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<NativeRestoreSession>()?;
    Ok(())
}
