//! Backup sessions: the host walks its files and pushes their bytes; the
//! session hands back finished bundles, then the index delta and the
//! snapshot to store.

use std::sync::Mutex;

use cloudbackup_core::engine::{
    BackupCounters, BackupOptions, BackupSession, FileMeta, SealedObject, SnapshotInfo,
};
use pyo3::prelude::*;
use pyo3::types::PyBytes;

use crate::error::{poisoned, to_json, Failure, PyResultCb};
use crate::input::bytes_in;
use crate::vault::{NativeIndex, NativeVault};

/// Where a session is in its life.
enum State {
    Running(Box<BackupSession>),
    /// Finished: the index delta and snapshot until taken.
    Finished {
        index: Option<SealedObject>,
        snapshot: Option<SealedObject>,
        counters: BackupCounters,
    },
    /// `finish` failed: nothing more can come out.
    Failed,
}

impl State {
    fn running(&mut self) -> PyResultCb<&mut BackupSession> {
        match self {
            State::Running(session) => Ok(session),
            _ => Err(Failure::State("the backup session has finished".into())),
        }
    }
}

/// An object to store: `(id hex, bytes)`.
type Object<'py> = (String, Bound<'py, PyBytes>);

/// A backup in progress.
#[pyclass(module = "cloudbackup._native", name = "BackupSession")]
pub struct NativeBackupSession {
    state: Mutex<State>,
}

impl NativeBackupSession {
    /// Runs `f` on the running session with the GIL released.
    fn with_running<T: Send>(
        &self,
        py: Python<'_>,
        f: impl FnOnce(&mut BackupSession) -> PyResultCb<T> + Send,
    ) -> PyResultCb<T> {
        py.detach(|| {
            let mut state = self.state.lock().map_err(|_| poisoned())?;
            f(state.running()?)
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
        let session = BackupSession::new(&vault, index.get()?, BackupOptions { threads })?;
        Ok(NativeBackupSession {
            state: Mutex::new(State::Running(Box::new(session))),
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
            let mut state = self.state.lock().map_err(|_| poisoned())?;
            Ok(match &mut *state {
                State::Running(s) => s.take_bundles(),
                _ => Vec::new(),
            })
        })?;
        Ok(bundles
            .into_iter()
            .map(|b| (b.id.to_hex(), PyBytes::new(py, &b.bytes)))
            .collect())
    }

    /// The counters so far (final once finished), as JSON.
    fn counters(&self) -> PyResultCb<String> {
        let state = self.state.lock().map_err(|_| poisoned())?;
        let counters = match &*state {
            State::Running(s) => s.counters(),
            State::Finished { counters, .. } => *counters,
            State::Failed => BackupCounters::default(),
        };
        to_json("counters", &counters)
    }

    /// Ends the backup: seals the last bundles (take them with
    /// `take_bundles`), the index delta and the snapshot. `time` is when
    /// the backup started (Unix seconds). Returns the last bundles.
    #[pyo3(signature = (time, hostname=None, backup_configuration_id=None))]
    fn finish<'py>(
        &self,
        py: Python<'py>,
        time: i64,
        hostname: Option<String>,
        backup_configuration_id: Option<String>,
    ) -> PyResultCb<Vec<Object<'py>>> {
        let info = SnapshotInfo {
            time,
            hostname,
            backup_configuration_id,
        };
        let bundles = py.detach(|| -> PyResultCb<_> {
            let mut state = self.state.lock().map_err(|_| poisoned())?;
            state.running()?;
            let State::Running(running) = std::mem::replace(&mut *state, State::Failed) else {
                return Err(Failure::State("the backup session has finished".into()));
            };
            let outcome = running.finish(info)?;
            *state = State::Finished {
                index: Some(outcome.index),
                snapshot: Some(outcome.snapshot),
                counters: outcome.counters,
            };
            Ok(outcome.bundles)
        })?;
        Ok(bundles
            .into_iter()
            .map(|b| (b.id.to_hex(), PyBytes::new(py, &b.bytes)))
            .collect())
    }

    /// Takes the index delta (store it as `index/<id>` after the bundles);
    /// `None` once taken.
    fn take_index<'py>(&self, py: Python<'py>) -> PyResultCb<Option<Object<'py>>> {
        let mut state = self.state.lock().map_err(|_| poisoned())?;
        let State::Finished { index, .. } = &mut *state else {
            return Err(Failure::State("the backup session has not finished".into()));
        };
        Ok(index
            .take()
            .map(|o| (o.id.to_hex(), PyBytes::new(py, &o.bytes))))
    }

    /// Takes the snapshot (store it as `snapshots/<id>` last); `None` once
    /// taken.
    fn take_snapshot<'py>(&self, py: Python<'py>) -> PyResultCb<Option<Object<'py>>> {
        let mut state = self.state.lock().map_err(|_| poisoned())?;
        let State::Finished { snapshot, .. } = &mut *state else {
            return Err(Failure::State("the backup session has not finished".into()));
        };
        Ok(snapshot
            .take()
            .map(|o| (o.id.to_hex(), PyBytes::new(py, &o.bytes))))
    }
}

/// Adds this file's classes to the module.
pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<NativeBackupSession>()?;
    Ok(())
}
