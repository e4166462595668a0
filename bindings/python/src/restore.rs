//! Restore sessions: the plan (what to create, which bundle ranges to
//! fetch), feeding fetched bytes, the verified writes, the final report.

use std::sync::Mutex;

use cloudbackup_core::engine::{RangeFeed, RestoreOptions, RestoreRun, Write};
use pyo3::prelude::*;
use pyo3::pybacked::PyBackedBytes;
use pyo3::types::PyBytes;

use crate::error::{poisoned, PyResultCb};
use crate::input::{bytes_in, path_in, BytesIn};
use crate::value::{opt_json, to_value, value_to_py};
use crate::vault::{id_arg, NativeIndex, NativeSnapshot, NativeVault};

/// A verified blob and where it goes: `(bytes, [(path, offset), ...])`,
/// one `bytes` object for all its places.
type WriteOut<'py> = (Bound<'py, PyBytes>, Vec<(String, u64)>);

/// A restore in progress.
#[pyclass(module = "cloudbackup._native", name = "RestoreSession")]
pub struct NativeRestoreSession {
    /// The run (the core keeps the plan, the finished state and the
    /// report). The creates and the plan are encoded on request, not kept
    /// as text: a large tree's JSON would stay resident for the restore's
    /// whole run.
    run: Mutex<RestoreRun>,
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
    /// `options` (a dict or JSON text; `None`: everything, overwrite
    /// nothing) is `{"inclusions", "exclusions", "overwrite", "existing",
    /// "found", "resume", "sparse", "max_gap", "max_range", "threads"}`.
    #[new]
    #[pyo3(signature = (vault, snapshot, index, options=None))]
    fn new(
        py: Python<'_>,
        vault: &NativeVault,
        snapshot: &NativeSnapshot,
        index: &NativeIndex,
        options: Option<&Bound<'_, PyAny>>,
    ) -> PyResultCb<Self> {
        let vault = vault.get()?;
        let index = index.get()?;
        let options: RestoreOptions = opt_json(options, "options")?;
        let snap = &snapshot.snapshot;
        let run = py.detach(|| RestoreRun::new(&vault, snap, &index, options))?;
        Ok(NativeRestoreSession {
            run: Mutex::new(run),
        })
    }

    /// What to create, a list in snapshot order (`{"kind": "dir"|"file"|
    /// "symlink", "path", ...}`); made on each call. `start` and `count`
    /// take a part of it, so a large tree's are made a batch at a time.
    #[pyo3(signature = (start = 0, count = None))]
    fn creates<'py>(
        &self,
        py: Python<'py>,
        start: usize,
        count: Option<usize>,
    ) -> PyResultCb<Bound<'py, PyAny>> {
        let value = self.with_run(py, |r| {
            let part: Vec<_> = r
                .session()?
                .creates()
                .skip(start)
                .take(count.unwrap_or(usize::MAX))
                .collect();
            to_value("restore creates", &part)
        })?;
        Ok(value_to_py(py, value)?)
    }

    /// The folders a killed restore may have left temporaries in where this
    /// one writes, relative to the target as `bytes` (`b""`: the target,
    /// always first); made on each call.
    fn leftover_dirs<'py>(&self, py: Python<'py>) -> PyResultCb<Vec<Bound<'py, PyBytes>>> {
        let dirs = self.with_run(py, |r| Ok(r.session()?.leftover_dirs()))?;
        Ok(dirs.iter().map(|d| PyBytes::new(py, d)).collect())
    }

    /// The bundle ranges to fetch, `[{"bundle", "ranges": [{"offset",
    /// "length"}...]}...]`; made on each call.
    fn plan<'py>(&self, py: Python<'py>) -> PyResultCb<Bound<'py, PyAny>> {
        let value = self.with_run(py, |r| to_value("restore plan", &r.session()?.plan()))?;
        Ok(value_to_py(py, value)?)
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
        Ok(writes.into_iter().map(|w| write_out(py, w)).collect())
    }

    /// As `feed`, but lazily: an iterator of the same writes that opens one
    /// blob per step, so only one blob's plaintext is alive at a time (a
    /// range of text decompresses to several times its size). The range
    /// counts as fed at once; blobs not iterated are never written. With
    /// `threads` above 1 its blobs go to the session's workers at once (a
    /// `bytes` object is shared with them, not copied), so start the next
    /// range before iterating this one to keep them busy while you write.
    fn feed_blobs(
        slf: &Bound<'_, Self>,
        bundle_id: &str,
        offset: u64,
        data: &Bound<'_, PyAny>,
    ) -> PyResultCb<NativeRestoreFeed> {
        let py = slf.py();
        let id = id_arg("bundle_id", bundle_id)?;
        let session = slf.borrow();
        let range = match bytes_in(data, "data")? {
            BytesIn::Bytes(b) => {
                let b = PyBackedBytes::from(b);
                session.with_run(py, |r| Ok(r.start_range_owned(&id, offset, b)?))?
            }
            BytesIn::Owned(v) => {
                session.with_run(py, |r| Ok(r.start_range_owned(&id, offset, v)?))?
            }
        };
        Ok(NativeRestoreFeed {
            session: slf.clone().unbind(),
            range: Mutex::new(range),
        })
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

    /// Ends the restore and returns its report: `{"files_restored",
    /// "bytes_restored", "files_skipped", "files_done", "errors",
    /// "unmatched_includes"}` (the inclusion patterns that matched no entry).
    fn finish<'py>(&self, py: Python<'py>) -> PyResultCb<Bound<'py, PyAny>> {
        let value = self.with_run(py, |r| to_value("restore report", r.finish()?))?;
        Ok(value_to_py(py, value)?)
    }

    /// After `finish`: the report, with the failures reported since
    /// (`fail_path`).
    fn report<'py>(&self, py: Python<'py>) -> PyResultCb<Bound<'py, PyAny>> {
        let value = self.with_run(py, |r| to_value("restore report", r.report()?))?;
        Ok(value_to_py(py, value)?)
    }

    /// After `finish`: the modes and times to apply, deepest first, entries
    /// failed by `finish` left out (the same list through later
    /// `fail_path` calls), as a list of creates; `start` and `count` as in
    /// `creates`.
    #[pyo3(signature = (start = 0, count = None))]
    fn apply<'py>(
        &self,
        py: Python<'py>,
        start: usize,
        count: Option<usize>,
    ) -> PyResultCb<Bound<'py, PyAny>> {
        let value = self.with_run(py, |r| {
            let all = r.apply()?;
            let part = all.get(start..).unwrap_or_default();
            let part = part.get(..count.unwrap_or(usize::MAX)).unwrap_or(part);
            to_value("restore attributes", part)
        })?;
        Ok(value_to_py(py, value)?)
    }
}

/// A verified write as Python objects.
fn write_out(py: Python<'_>, w: Write) -> WriteOut<'_> {
    let places = w
        .places
        .into_iter()
        .map(|p| (p.path.quoted().into_owned(), p.offset))
        .collect();
    (PyBytes::new(py, &w.data), places)
}

/// The writes of one fed range, opened one blob per step (from
/// `RestoreSession.feed_blobs`).
#[pyclass(module = "cloudbackup._native", name = "RestoreFeed")]
pub struct NativeRestoreFeed {
    /// The session the range belongs to.
    session: Py<NativeRestoreSession>,
    /// Which of the range's blobs are still to open (and its bytes).
    range: Mutex<RangeFeed>,
}

#[pymethods]
impl NativeRestoreFeed {
    fn __iter__(slf: PyRef<'_, Self>) -> PyRef<'_, Self> {
        slf
    }

    /// The next verified write `(bytes, [(path, offset), ...])`; stops once
    /// the range's blobs are done. Releases the GIL while the blob is
    /// authenticated, decrypted and decompressed (or, with threads, while
    /// waiting for a worker to have done so).
    fn __next__<'py>(&self, py: Python<'py>) -> PyResultCb<Option<WriteOut<'py>>> {
        let session = self.session.bind(py).borrow();
        let mut guard = self.range.lock().map_err(|_| poisoned())?;
        let range: &mut RangeFeed = &mut guard;
        let write = session.with_run(py, |r| Ok(r.next_write_owned(range)))?;
        Ok(write.map(|w| write_out(py, w)))
    }
}

/// Adds this file's classes to the module.
pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<NativeRestoreSession>()?;
    m.add_class::<NativeRestoreFeed>()?;
    Ok(())
}
