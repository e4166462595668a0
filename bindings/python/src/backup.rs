//! Backup sessions: the host walks its files and pushes their bytes; the
//! session hands back finished bundles, then the index delta and the
//! snapshot to store.

use std::sync::Mutex;

use cloudbackup_core::engine::{BackupOptions, BackupRun, BackupSession, FileMeta, SnapshotInfo};
use pyo3::prelude::*;
use pyo3::types::PyBytes;

use crate::error::{poisoned, to_json, PyResultCb};
use crate::input::bytes_in;
use crate::vault::{NativeIndex, NativeVault};

/// An object to store: `(id hex, bytes)`.
type Object<'py> = (String, Bound<'py, PyBytes>);

/// A backup in progress (the core's [`BackupRun`]: it keeps the order
/// rules).
#[pyclass(module = "cloudbackup._native", name = "BackupSession")]
pub struct NativeBackupSession {
    run: Mutex<BackupRun>,
}

impl NativeBackupSession {
    /// Runs `f` on the running session with the GIL released.
    fn with_running<T: Send>(
        &self,
        py: Python<'_>,
        f: impl FnOnce(&mut BackupSession) -> PyResultCb<T> + Send,
    ) -> PyResultCb<T> {
        py.detach(|| {
            let mut run = self.run.lock().map_err(|_| poisoned())?;
            f(run.session()?)
        })
    }
}

#[pymethods]
impl NativeBackupSession {
    /// Starts a backup into `vault`, deduplicating against `index` (the
    /// session keeps the index as it is now); `threads` hash, compress and
    /// encrypt (1: all on the calling thread).
    #[new]
    #[pyo3(signature = (vault, index, threads=1))]
    fn new(vault: &NativeVault, index: &NativeIndex, threads: usize) -> PyResultCb<Self> {
        let vault = vault.get()?;
        let run = BackupRun::new(&vault, index.get()?, BackupOptions { threads })?;
        Ok(NativeBackupSession {
            run: Mutex::new(run),
        })
    }

    /// Starts the regular file `path` (permission bits `mode`, modification
    /// time `mtime` in Unix seconds); its bytes follow with `write`.
    fn start_file(&self, py: Python<'_>, path: &str, mode: u32, mtime: i64) -> PyResultCb<()> {
        let meta = FileMeta::file(path, mode, mtime);
        self.with_running(py, |s| Ok(s.start_file(meta)?))
    }

    /// Pushes the next bytes (bytes-like) of the open file. Releases the
    /// GIL while they are chunked, hashed, compressed and encrypted.
    fn write(&self, py: Python<'_>, data: &Bound<'_, PyAny>) -> PyResultCb<()> {
        let data = bytes_in(data, "data")?;
        let bytes = data.as_slice();
        self.with_running(py, |s| Ok(s.write(bytes)?))
    }

    /// Ends the open file.
    fn finish_file(&self, py: Python<'_>) -> PyResultCb<()> {
        self.with_running(py, |s| Ok(s.finish_file()?))
    }

    /// Records the directory `path`.
    fn add_dir(&self, py: Python<'_>, path: &str, mode: u32, mtime: i64) -> PyResultCb<()> {
        let meta = FileMeta::dir(path, mode, mtime);
        self.with_running(py, |s| Ok(s.add_entry(meta)?))
    }

    /// Records the symbolic link `path` pointing to `target`.
    fn add_symlink(&self, py: Python<'_>, path: &str, target: &str, mtime: i64) -> PyResultCb<()> {
        let meta = FileMeta::symlink(path, target, mtime);
        self.with_running(py, |s| Ok(s.add_entry(meta)?))
    }

    /// Takes the finished bundles: store each as `bundles/<id>`. Works
    /// before and after `finish`.
    fn take_bundles<'py>(&self, py: Python<'py>) -> PyResultCb<Vec<Object<'py>>> {
        let bundles = py.detach(|| -> PyResultCb<_> {
            let mut run = self.run.lock().map_err(|_| poisoned())?;
            Ok(run.take_bundles())
        })?;
        Ok(bundles
            .into_iter()
            .map(|b| (b.id.to_hex(), PyBytes::new(py, &b.bytes)))
            .collect())
    }

    /// The counters so far (final once finished), as JSON.
    fn counters(&self) -> PyResultCb<String> {
        let run = self.run.lock().map_err(|_| poisoned())?;
        to_json("counters", &run.counters())
    }

    /// Ends the backup: seals the last bundles (take them with
    /// `take_bundles`), the index delta and the snapshot. `time` is when
    /// the backup started (Unix seconds, and `time_nanos` its sub-second
    /// part). Returns the last bundles.
    #[pyo3(signature = (time, hostname=None, backup_configuration_id=None, time_nanos=0))]
    fn finish<'py>(
        &self,
        py: Python<'py>,
        time: i64,
        hostname: Option<String>,
        backup_configuration_id: Option<String>,
        time_nanos: u32,
    ) -> PyResultCb<Vec<Object<'py>>> {
        let info = SnapshotInfo {
            time,
            time_nanos,
            hostname,
            backup_configuration_id,
        };
        let bundles = py.detach(|| -> PyResultCb<_> {
            let mut run = self.run.lock().map_err(|_| poisoned())?;
            run.finish(info)?;
            Ok(run.take_bundles())
        })?;
        Ok(bundles
            .into_iter()
            .map(|b| (b.id.to_hex(), PyBytes::new(py, &b.bytes)))
            .collect())
    }

    /// Takes the index delta (store it as `index/<id>` after the bundles);
    /// `None` once taken.
    fn take_index<'py>(&self, py: Python<'py>) -> PyResultCb<Option<Object<'py>>> {
        let mut run = self.run.lock().map_err(|_| poisoned())?;
        Ok(run
            .take_index()?
            .map(|o| (o.id.to_hex(), PyBytes::new(py, &o.bytes))))
    }

    /// Takes the snapshot (store it as `snapshots/<id>` last); `None` once
    /// taken.
    fn take_snapshot<'py>(&self, py: Python<'py>) -> PyResultCb<Option<Object<'py>>> {
        let mut run = self.run.lock().map_err(|_| poisoned())?;
        Ok(run
            .take_snapshot()?
            .map(|o| (o.id.to_hex(), PyBytes::new(py, &o.bytes))))
    }
}

/// Adds this file's classes to the module.
pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<NativeBackupSession>()?;
    Ok(())
}
