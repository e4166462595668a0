//! Backup sessions: the host walks its files and pushes their bytes; the
//! session hands back finished bundles, then the index delta and the
//! snapshot to store.

use std::sync::Mutex;

use cloudbackup_core::engine::{
    BackupOptions, BackupRun, BackupSession, EntryKind, FileMeta, RawPath, SealedBundle,
    SnapshotInfo,
};
use cloudbackup_core::error::from_json_slice;
use pyo3::exceptions::PyTypeError;
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyDict, PyString};

use crate::error::{poisoned, to_json, PyResultCb};
use crate::input::{bytes_view, path_in};
use crate::vault::{NativeIndex, NativeSnapshot, NativeVault};

/// A `FileMeta` given as a dict (what the walker builds, read field by
/// field: no JSON text per file) or as JSON text. Unknown keys are refused,
/// as in JSON.
fn meta_in(meta: &Bound<'_, PyAny>) -> PyResultCb<FileMeta> {
    if meta.is_instance_of::<PyString>() {
        let text: String = meta.extract()?;
        return Ok(from_json_slice("meta", text.as_bytes())?);
    }
    let dict = meta.cast::<PyDict>().map_err(|_| {
        PyTypeError::new_err(format!(
            "meta: expected a dict (or JSON text), got {}",
            meta.get_type()
                .name()
                .map(|n| n.to_string())
                .unwrap_or_default()
        ))
    })?;
    let mut m = FileMeta::default();
    for (key, value) in dict.iter() {
        let key: String = key
            .extract()
            .map_err(|_| PyTypeError::new_err("meta: keys must be str"))?;
        let key = key.as_str();
        let field = |what: &str| format!("meta[{key:?}]: expected {what}");
        fn num<'py, T: FromPyObjectOwned<'py>>(
            v: &Bound<'py, PyAny>,
            why: String,
        ) -> PyResultCb<T> {
            v.extract::<T>()
                .map_err(|_| cloudbackup_core::Error::argument("meta", why).into())
        }
        match key {
            "path" => m.path = path_in(&value, "meta[\"path\"]")?,
            "kind" => {
                let kind: String = num(&value, field("a str"))?;
                m.kind = kind.parse::<EntryKind>()?;
            }
            "mode" => m.mode = num(&value, field("an int in 0..2**32"))?,
            "mtime" => m.mtime = num(&value, field("an int (Unix seconds)"))?,
            "mtime_nanos" => m.mtime_nanos = num(&value, field("an int in 0..2**32"))?,
            "ctime" => m.ctime = num(&value, field("an int (Unix seconds)"))?,
            "ctime_nanos" => m.ctime_nanos = num(&value, field("an int in 0..2**32"))?,
            "size" => m.size = num(&value, field("an int >= 0"))?,
            "target" if value.is_none() => m.target = None,
            "target" => m.target = Some(path_in(&value, "meta[\"target\"]")?),
            "uid" => m.uid = num(&value, field("an int in 0..2**32 or None"))?,
            "gid" => m.gid = num(&value, field("an int in 0..2**32 or None"))?,
            "inode" => m.inode = num(&value, field("an int >= 0"))?,
            "device" => m.device = num(&value, field("an int >= 0"))?,
            "links" => m.links = num(&value, field("an int >= 0"))?,
            "rdev" => m.rdev = num(&value, field("an int >= 0"))?,
            // Rare (and base64 in the dict, as in JSON): through serde.
            "xattrs" => {
                let json = value
                    .py()
                    .import("json")?
                    .call_method1("dumps", (&value,))?;
                let text: String = json.extract()?;
                m.xattrs = from_json_slice("meta[\"xattrs\"]", text.as_bytes())?;
            }
            other => {
                return Err(cloudbackup_core::Error::argument(
                    "meta",
                    format!(
                        "unknown field {other:?} (expected path, kind, mode, mtime, mtime_nanos, \
                         ctime, ctime_nanos, size, target, uid, gid, inode, device, links, rdev, \
                         xattrs)"
                    ),
                )
                .into())
            }
        }
    }
    Ok(m)
}

/// An object to store: `(id hex, bytes)`.
type Object<'py> = (String, Bound<'py, PyBytes>);

/// A backup in progress (the core's [`BackupRun`]: it keeps the order
/// rules).
#[pyclass(module = "cloudbackup._native", name = "BackupSession")]
pub struct NativeBackupSession {
    run: Mutex<BackupRun>,
}

impl NativeBackupSession {
    /// The bundles as `(id hex, bytes)`; their buffers go back to the
    /// session (while it runs), so the next bundle is written into memory
    /// already mapped instead of a fresh bundle-sized block each time.
    fn hand_out<'py>(
        &self,
        py: Python<'py>,
        bundles: Vec<SealedBundle>,
    ) -> PyResultCb<Vec<Object<'py>>> {
        let mut out = Vec::with_capacity(bundles.len());
        let mut spare = None;
        for b in bundles {
            out.push((b.id.to_hex(), PyBytes::new(py, &b.bytes)));
            spare = Some(b.bytes);
        }
        if let Some(buffer) = spare {
            py.detach(|| -> PyResultCb<()> {
                let mut run = self.run.lock().map_err(|_| poisoned())?;
                // Finished: nothing more to write, the buffer is dropped.
                if let Ok(session) = run.session() {
                    session.recycle(buffer);
                }
                Ok(())
            })?;
        }
        Ok(out)
    }

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

    /// Starts the regular file `path` (quoted `str` or `bytes`; permission
    /// bits `mode`, modification time `mtime` in Unix seconds); its bytes
    /// follow with `write`.
    fn start_file(
        &self,
        py: Python<'_>,
        path: &Bound<'_, PyAny>,
        mode: u32,
        mtime: i64,
    ) -> PyResultCb<()> {
        let meta = FileMeta::file(path_in(path, "path")?, mode, mtime);
        self.with_running(py, |s| Ok(s.start_file(meta)?))
    }

    /// Starts a regular file described by `meta` (a FileMeta dict or JSON: `{"path",
    /// "kind", "mode", "mtime", "mtime_nanos", "ctime", "ctime_nanos",
    /// "size", "uid", "gid", "inode", "device", "links", "xattrs"}`); its
    /// bytes follow with `write`.
    fn start(&self, py: Python<'_>, meta: &Bound<'_, PyAny>) -> PyResultCb<()> {
        let meta = meta_in(meta)?;
        self.with_running(py, |s| Ok(s.start_file(meta)?))
    }

    /// Records a directory, symlink, FIFO or device node described by
    /// `meta` (a FileMeta dict or JSON).
    fn add(&self, py: Python<'_>, meta: &Bound<'_, PyAny>) -> PyResultCb<()> {
        let meta = meta_in(meta)?;
        self.with_running(py, |s| Ok(s.add_entry(meta)?))
    }

    /// Uses `snapshot` as the parent: `reuse` then takes over its
    /// unchanged files.
    fn set_parent(&self, py: Python<'_>, snapshot: &NativeSnapshot) -> PyResultCb<()> {
        let parent = &snapshot.snapshot;
        self.with_running(py, |s| {
            s.set_parent(parent);
            Ok(())
        })
    }

    /// Records the file `meta` (a FileMeta dict or JSON) with the parent's chunk
    /// list when it is unchanged (same size, mtime, ctime, inode, device):
    /// True, and the file is done; False: back it up as usual.
    fn reuse(&self, py: Python<'_>, meta: &Bound<'_, PyAny>) -> PyResultCb<bool> {
        let meta = meta_in(meta)?;
        self.with_running(py, |s| Ok(s.reuse(meta)?))
    }

    /// Records that `path` (quoted `str` or `bytes`) could not be read, and
    /// why; the backup goes on and the snapshot lists it.
    fn file_error(&self, py: Python<'_>, path: &Bound<'_, PyAny>, error: String) -> PyResultCb<()> {
        let path = path_in(path, "path")?;
        self.with_running(py, |s| {
            s.file_error(path, error);
            Ok(())
        })
    }

    /// Gives up the open file (a read failed half-way): it becomes a file
    /// error, its entry is dropped.
    fn abandon_file(&self, py: Python<'_>, error: String) -> PyResultCb<()> {
        self.with_running(py, |s| Ok(s.abandon_file(error)?))
    }

    /// Pushes the next bytes (bytes-like) of the open file. Releases the
    /// GIL while they are chunked, hashed, compressed and encrypted;
    /// `bytes` and every C-contiguous buffer (bytearray, memoryview, mmap,
    /// array...) are read in place (a mutable one must not be changed by
    /// another thread meanwhile), a strided memoryview is copied.
    fn write(&self, py: Python<'_>, data: &Bound<'_, PyAny>) -> PyResultCb<()> {
        let data = bytes_view(data, "data")?;
        let bytes = data.as_slice();
        self.with_running(py, |s| Ok(s.write(bytes)?))
    }

    /// Continues the open file with `n` zero bytes (a hole) without
    /// materialising them: the same chunks and snapshot as writing them.
    fn write_zeros(&self, py: Python<'_>, n: u64) -> PyResultCb<()> {
        self.with_running(py, |s| Ok(s.write_zeros(n)?))
    }

    /// Ends the open file.
    fn finish_file(&self, py: Python<'_>) -> PyResultCb<()> {
        self.with_running(py, |s| Ok(s.finish_file()?))
    }

    /// Records the directory `path` (quoted `str` or `bytes`).
    fn add_dir(
        &self,
        py: Python<'_>,
        path: &Bound<'_, PyAny>,
        mode: u32,
        mtime: i64,
    ) -> PyResultCb<()> {
        let meta = FileMeta::dir(path_in(path, "path")?, mode, mtime);
        self.with_running(py, |s| Ok(s.add_entry(meta)?))
    }

    /// Records the symbolic link `path` pointing to `target` (each a
    /// quoted `str` or `bytes`).
    fn add_symlink(
        &self,
        py: Python<'_>,
        path: &Bound<'_, PyAny>,
        target: &Bound<'_, PyAny>,
        mtime: i64,
    ) -> PyResultCb<()> {
        let meta = FileMeta::symlink(path_in(path, "path")?, path_in(target, "target")?, mtime);
        self.with_running(py, |s| Ok(s.add_entry(meta)?))
    }

    /// Takes the finished bundles: store each as `bundles/<id>`. Works
    /// before and after `finish`.
    fn take_bundles<'py>(&self, py: Python<'py>) -> PyResultCb<Vec<Object<'py>>> {
        let bundles = py.detach(|| -> PyResultCb<_> {
            let mut run = self.run.lock().map_err(|_| poisoned())?;
            Ok(run.take_bundles())
        })?;
        self.hand_out(py, bundles)
    }

    /// The counters so far (final once finished), as JSON.
    fn counters(&self) -> PyResultCb<String> {
        let run = self.run.lock().map_err(|_| poisoned())?;
        to_json("counters", &run.counters())
    }

    /// Ends the backup: seals the last bundles (take them with
    /// `take_bundles`), the index delta and the snapshot. `time` is when
    /// the backup started (Unix seconds, and `time_nanos` its sub-second
    /// part); `paths` the roots backed up (quoted `str` or `bytes`: with
    /// the host name they find the next backup's parent). Returns the last
    /// bundles.
    #[pyo3(signature = (time, hostname=None, backup_configuration_id=None, time_nanos=0, paths=None))]
    fn finish<'py>(
        &self,
        py: Python<'py>,
        time: i64,
        hostname: Option<String>,
        backup_configuration_id: Option<String>,
        time_nanos: u32,
        paths: Option<Vec<Bound<'py, PyAny>>>,
    ) -> PyResultCb<Vec<Object<'py>>> {
        let paths = paths
            .unwrap_or_default()
            .iter()
            .map(|p| path_in(p, "paths"))
            .collect::<PyResultCb<Vec<RawPath>>>()?;
        let info = SnapshotInfo {
            time,
            time_nanos,
            hostname,
            backup_configuration_id,
            paths,
        };
        let bundles = py.detach(|| -> PyResultCb<_> {
            let mut run = self.run.lock().map_err(|_| poisoned())?;
            run.finish(info)?;
            Ok(run.take_bundles())
        })?;
        self.hand_out(py, bundles)
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
