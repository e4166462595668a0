//! Backup sessions: the host walks its files and pushes their bytes; the
//! session hands back finished bundles, then the index delta and the
//! snapshot to store.

#[cfg(Py_3_11)]
use std::ffi::c_int;
use std::sync::{Arc, Mutex};

use cloudbackup_core::engine::{
    BackupOptions, BackupRun, BackupSession, EntryKind, FileMeta, RawPath, SealedBundle,
    SnapshotInfo,
};
use cloudbackup_core::error::from_json_slice;
#[cfg(Py_3_11)]
use pyo3::exceptions::PyBufferError;
use pyo3::exceptions::{PyIndexError, PyTypeError};
#[cfg(Py_3_11)]
use pyo3::ffi;
use pyo3::prelude::*;
#[cfg(Py_3_11)]
use pyo3::types::PyMemoryView;
use pyo3::types::{PyBytes, PyDict, PySlice, PyString};

use crate::error::{poisoned, PyResultCb};
use crate::input::{bytes_view, path_in, text_of, type_name};
use crate::vault::{NativeIndex, NativeSnapshot, NativeVault};

/// A `FileMeta` given as a dict (what the walker builds, read field by
/// field: no JSON text per file) or as JSON text. Unknown keys are refused,
/// as in JSON.
fn meta_in(meta: &Bound<'_, PyAny>) -> PyResultCb<FileMeta> {
    if let Ok(text) = meta.cast::<PyString>() {
        return Ok(from_json_slice("meta", text_of(text, "meta")?.as_bytes())?);
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

/// Where a handed-out bundle's buffer goes back once Python drops it: the
/// session writes a later bundle into it (see [`BackupSession::recycle`]).
#[derive(Default)]
pub struct Slot {
    /// One buffer is enough: the session keeps one.
    buffer: Option<Vec<u8>>,
    /// The session has finished: nothing more to write, buffers are freed.
    closed: bool,
}

/// The slot, shared by a session and the bundles it handed out.
pub type Home = Arc<Mutex<Slot>>;

/// A bundle to store: `(id hex, bytes-like)`: a [`NativeBundleBytes`], or
/// `bytes` in a build for Python < 3.11.
pub type Bundle<'py> = (String, Bound<'py, PyAny>);

/// Hands `bytes` to Python as a bundle whose memory goes back to `home`:
/// without a copy, as [`NativeBundleBytes`]; in a build for Python < 3.11, whose
/// stable ABI cannot export a buffer, as a `bytes` copy (the Vec goes back
/// to `home` at once).
pub fn bundle_out<'py>(
    py: Python<'py>,
    bytes: Vec<u8>,
    home: &Home,
) -> PyResult<Bound<'py, PyAny>> {
    #[cfg(Py_3_11)]
    {
        Ok(Bound::new(
            py,
            NativeBundleBytes {
                bytes,
                home: home.clone(),
            },
        )?
        .into_any())
    }
    #[cfg(not(Py_3_11))]
    {
        let out = PyBytes::new(py, &bytes).into_any();
        drop(NativeBundleBytes {
            bytes,
            home: home.clone(),
        });
        Ok(out)
    }
}

/// A sealed bundle's bytes handed to Python without a copy: read-only and
/// bytes-like (the buffer protocol, `len`, indexing and slicing, `bytes()`,
/// comparison with bytes-like objects). When it is dropped its memory goes
/// back to the session that made it.
#[pyclass(module = "cloudbackup._native", name = "BundleBytes", frozen)]
pub struct NativeBundleBytes {
    bytes: Vec<u8>,
    home: Home,
}

/// A home that takes nothing back: bundles that have no session to
/// return to (a prune's new bundles) are freed when dropped.
pub fn no_home() -> Home {
    Arc::new(Mutex::new(Slot {
        buffer: None,
        closed: true,
    }))
}

impl Drop for NativeBundleBytes {
    fn drop(&mut self) {
        let bytes = std::mem::take(&mut self.bytes);
        // A poisoned slot only means the memory is freed instead.
        if let Ok(mut slot) = self.home.lock() {
            if !slot.closed && slot.buffer.is_none() {
                slot.buffer = Some(bytes);
            }
        }
    }
}

#[pymethods]
impl NativeBundleBytes {
    /// Exports the bytes, read-only (a writable request is refused).
    #[cfg(Py_3_11)]
    unsafe fn __getbuffer__(
        slf: Bound<'_, Self>,
        view: *mut ffi::Py_buffer,
        flags: c_int,
    ) -> PyResult<()> {
        let bytes = &slf.get().bytes;
        let len = ffi::Py_ssize_t::try_from(bytes.len())
            .map_err(|_| PyBufferError::new_err("bundle too large"))?;
        // SAFETY: `view` is the exporter's to fill (CPython passes a valid
        // pointer); PyBuffer_FillInfo takes a reference to `slf`, which keeps
        // the Vec (never changed after creation: the class is frozen) alive
        // and in place until the buffer is released; readonly = 1 makes it
        // refuse PyBUF_WRITABLE.
        let rc = unsafe {
            ffi::PyBuffer_FillInfo(
                view,
                slf.as_ptr(),
                bytes.as_ptr().cast_mut().cast(),
                len,
                1,
                flags,
            )
        };
        if rc == 0 {
            Ok(())
        } else {
            Err(PyErr::fetch(slf.py()))
        }
    }

    /// PEP 688's Python-level buffer method, for Python 3.11 (3.12 and
    /// later use the slot's own): a read-only memoryview of the bytes.
    #[cfg(Py_3_11)]
    #[pyo3(signature = (flags, /))]
    fn __buffer__<'py>(slf: &Bound<'py, Self>, flags: i32) -> PyResult<Bound<'py, PyMemoryView>> {
        let _ = flags; // read-only whatever is asked; a writable export is refused
        PyMemoryView::from(slf.as_any())
    }

    fn __len__(&self) -> usize {
        self.bytes.len()
    }

    /// A copy as `bytes`.
    fn __bytes__<'py>(&self, py: Python<'py>) -> Bound<'py, PyBytes> {
        PyBytes::new(py, &self.bytes)
    }

    /// A byte (an int) or a slice (a `bytes` copy), indexed as `bytes` is.
    fn __getitem__<'py>(
        &self,
        py: Python<'py>,
        index: &Bound<'py, PyAny>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let bytes = &self.bytes;
        let len =
            isize::try_from(bytes.len()).map_err(|_| PyIndexError::new_err("bundle too large"))?;
        if let Ok(slice) = index.cast::<PySlice>() {
            let ind = slice.indices(len)?;
            // `indices` keeps every position of the slice inside 0..len.
            let at = |i: usize| bytes[(ind.start + i as isize * ind.step) as usize];
            let out: Vec<u8> = if ind.step == 1 {
                let start = ind.start as usize;
                bytes[start..start + ind.slicelength].to_vec()
            } else {
                (0..ind.slicelength).map(at).collect()
            };
            return Ok(PyBytes::new(py, &out).into_any());
        }
        let i: isize = index.extract().map_err(|_| {
            PyTypeError::new_err(format!(
                "BundleBytes indices must be integers or slices, not {}",
                type_name(index)
            ))
        })?;
        let at = if i < 0 { i + len } else { i };
        if !(0..len).contains(&at) {
            return Err(PyIndexError::new_err("index out of range"));
        }
        Ok(bytes[at as usize].into_pyobject(py)?.into_any())
    }

    /// Equal to any bytes-like object with the same bytes (unhashable, as
    /// a bytearray).
    fn __eq__(&self, other: &Bound<'_, PyAny>) -> bool {
        bytes_view(other, "other").is_ok_and(|o| o.as_slice() == self.bytes.as_slice())
    }

    fn __repr__(&self) -> String {
        format!("<BundleBytes: {} bytes>", self.bytes.len())
    }
}

/// A backup in progress (the core's [`BackupRun`]: it keeps the order
/// rules).
#[pyclass(module = "cloudbackup._native", name = "BackupSession")]
pub struct NativeBackupSession {
    run: Mutex<BackupRun>,
    /// A bundle buffer Python has let go of, for the session to reuse.
    home: Home,
}

impl NativeBackupSession {
    /// The bundles as `(id hex, BundleBytes)`: no copy; each one's buffer
    /// comes back to `home` once Python drops it.
    fn hand_out<'py>(
        &self,
        py: Python<'py>,
        bundles: Vec<SealedBundle>,
    ) -> PyResultCb<Vec<Bundle<'py>>> {
        bundles
            .into_iter()
            .map(|b| Ok((b.id.to_hex(), bundle_out(py, b.bytes, &self.home)?)))
            .collect()
    }

    /// Runs `f` on the running session with the GIL released.
    fn with_running<T: Send>(
        &self,
        py: Python<'_>,
        f: impl FnOnce(&mut BackupSession) -> PyResultCb<T> + Send,
    ) -> PyResultCb<T> {
        py.detach(|| {
            let mut run = self.run.lock().map_err(|_| poisoned())?;
            let session = run.session()?;
            // A bundle buffer Python dropped since: the next bundle's room.
            if let Some(buffer) = self.home.lock().ok().and_then(|mut h| h.buffer.take()) {
                session.recycle(buffer);
            }
            f(session)
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
            home: Home::default(),
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

    /// Ends the open file given what an `fstat` of it shows after its last
    /// byte (`size`, `mtime` in Unix seconds, `mtime_nanos`): `None`, or
    /// why it changed while it was read (the size is not the bytes read,
    /// or the mtime moved). The snapshot keeps what was read either way;
    /// warn with the text.
    #[pyo3(signature = (size, mtime, mtime_nanos = 0))]
    fn finish_file_checked(
        &self,
        py: Python<'_>,
        size: u64,
        mtime: i64,
        mtime_nanos: u32,
    ) -> PyResultCb<Option<String>> {
        self.with_running(py, |s| {
            Ok(s.finish_file_checked(size, mtime, mtime_nanos)?)
        })
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

    /// Takes the finished bundles as `(id hex, BundleBytes)`: store each as
    /// `bundles/<id>`, then drop it (its memory goes back to the session).
    /// Works before and after `finish`.
    fn take_bundles<'py>(&self, py: Python<'py>) -> PyResultCb<Vec<Bundle<'py>>> {
        let bundles = py.detach(|| -> PyResultCb<_> {
            let mut run = self.run.lock().map_err(|_| poisoned())?;
            Ok(run.take_bundles())
        })?;
        self.hand_out(py, bundles)
    }

    /// The counters so far (final once finished).
    fn counters<'py>(&self, py: Python<'py>) -> PyResultCb<Bound<'py, PyAny>> {
        let counters = {
            let run = self.run.lock().map_err(|_| poisoned())?;
            crate::value::to_value("counters", &run.counters())?
        };
        Ok(crate::value::value_to_py(py, counters)?)
    }

    /// Ends the backup: seals the last bundles (take them with
    /// `take_bundles`), the index delta and the snapshot. `time` is when
    /// the backup started (Unix seconds, and `time_nanos` its sub-second
    /// part); `paths` the roots backed up (quoted `str` or `bytes`: with
    /// the host name they find the next backup's parent); `tags` labels
    /// for the snapshot. Returns the last bundles, as `take_bundles`.
    #[pyo3(signature = (time, hostname=None, backup_configuration_id=None, time_nanos=0, paths=None, tags=None))]
    #[allow(clippy::too_many_arguments)]
    fn finish<'py>(
        &self,
        py: Python<'py>,
        time: i64,
        hostname: Option<String>,
        backup_configuration_id: Option<String>,
        time_nanos: u32,
        paths: Option<Vec<Bound<'py, PyAny>>>,
        tags: Option<Vec<String>>,
    ) -> PyResultCb<Vec<Bundle<'py>>> {
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
            tags: tags.unwrap_or_default(),
        };
        let bundles = py.detach(|| -> PyResultCb<_> {
            let mut run = self.run.lock().map_err(|_| poisoned())?;
            let finished = run.finish(info);
            if run.session().is_err() {
                // Over (done or failed): bundles dropped from now on are
                // freed, not kept for a session that writes no more.
                if let Ok(mut slot) = self.home.lock() {
                    *slot = Slot {
                        buffer: None,
                        closed: true,
                    };
                }
            }
            finished?;
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
    m.add_class::<NativeBundleBytes>()?;
    Ok(())
}
