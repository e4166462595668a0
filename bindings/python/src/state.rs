//! A vault as the host read it (listing, index deltas, snapshots), locks,
//! repair, and the snapshot path rules: thin wrappers of the core's
//! `VaultState`, `Lock`, `LockTable`, `IndexRebuild` and `paths`.

use std::ffi::OsString;
use std::os::unix::ffi::OsStringExt;
use std::sync::{Arc, Mutex};

use cloudbackup_core::engine::layout::{self, Listed};
use cloudbackup_core::engine::{lock, retention};
use cloudbackup_core::engine::{
    paths, IndexRebuild, KeepPolicy, Lock, LockDecision, LockTable, RawPath, VaultState,
};
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyString};

use crate::error::{poisoned, Failure, PyResultCb};
use crate::input::{bytes_in, path_in};
use crate::value::{json_text, to_py, to_value, value_to_py};
use crate::vault::{id_arg, NativeIndex, NativeSnapshot, NativeVault};

/// An object to store: `(id, bytes)`.
type Object<'py> = (String, Bound<'py, PyBytes>);

/// What a host has read of a vault.
#[pyclass(module = "cloudbackup._native", name = "VaultState")]
pub struct NativeVaultState {
    state: Mutex<VaultState>,
}

impl NativeVaultState {
    fn with<T>(&self, f: impl FnOnce(&mut VaultState) -> PyResultCb<T>) -> PyResultCb<T> {
        f(&mut *self.state.lock().map_err(|_| poisoned())?)
    }

    /// Runs `f` on the core state (for the other modules' wrappers).
    pub fn with_state<T>(&self, f: impl FnOnce(&VaultState) -> PyResultCb<T>) -> PyResultCb<T> {
        f(&*self.state.lock().map_err(|_| poisoned())?)
    }
}

impl NativeVaultState {
    /// A whole-vault verifier and the index it checks against.
    pub fn verifier(
        &self,
    ) -> PyResultCb<(
        cloudbackup_core::engine::Verifier,
        Arc<cloudbackup_core::engine::Index>,
    )> {
        self.with(|s| {
            Ok((
                cloudbackup_core::engine::Verifier::for_state(s),
                Arc::new(s.index().clone()),
            ))
        })
    }
}

#[pymethods]
impl NativeVaultState {
    /// An empty state of `vault`.
    #[new]
    fn new(vault: &NativeVault) -> PyResultCb<Self> {
        Ok(NativeVaultState {
            state: Mutex::new(VaultState::new(&vault.get()?)),
        })
    }

    /// Adds one listed object: its name relative to the vault
    /// (`bundles/<id>`, ...), size and mtime in ns since the epoch.
    fn add_listed(&self, name: String, size: u64, mtime_ns: i64) -> PyResultCb<()> {
        self.with(|s| {
            s.add_listed(Listed {
                name,
                size,
                mtime_ns,
            });
            Ok(())
        })
    }

    /// The names to fetch and hand to `add_object` (every index delta and
    /// snapshot listed and not read yet).
    fn wanted(&self) -> PyResultCb<Vec<String>> {
        self.with(|s| Ok(s.wanted()))
    }

    /// Forgets the listing, keeping what was read: list the vault again
    /// and `wanted` names only the new objects.
    fn clear_listing(&self) -> PyResultCb<()> {
        self.with(|s| {
            s.clear_listing();
            Ok(())
        })
    }

    /// The bytes of the object `name`. A damaged object is recorded as
    /// unreadable and its error raised. Releases the GIL.
    fn add_object(&self, py: Python<'_>, name: &str, data: &Bound<'_, PyAny>) -> PyResultCb<()> {
        let data = bytes_in(data, "data")?;
        let bytes = data.as_slice();
        py.detach(|| self.with(|s| Ok(s.add_object(name, bytes)?)))
    }

    /// The listed object `name` could not be fetched (`reason`).
    fn add_unreadable(&self, name: &str, reason: &str) -> PyResultCb<()> {
        self.with(|s| Ok(s.add_unreadable(name, reason)?))
    }

    /// The snapshot id `which` means: "latest", a whole id or a unique prefix.
    fn resolve(&self, which: &str) -> PyResultCb<String> {
        self.with(|s| Ok(s.resolve(which)?.to_hex()))
    }

    /// The id of the parent of the next backup of `paths` (the roots, each
    /// a quoted `str` or `bytes`) on `hostname`: the latest readable
    /// snapshot of the same host and the same set of roots; `None` when
    /// there is none (or `paths` is empty).
    #[pyo3(signature = (hostname, paths))]
    fn parent_for(
        &self,
        hostname: Option<String>,
        paths: Vec<Bound<'_, PyAny>>,
    ) -> PyResultCb<Option<String>> {
        let paths = paths
            .iter()
            .map(|p| path_in(p, "paths"))
            .collect::<PyResultCb<Vec<RawPath>>>()?;
        self.with(|s| {
            Ok(s.parent_for(hostname.as_deref(), &paths)
                .map(|id| id.to_hex()))
        })
    }

    /// The readable snapshot `id`.
    fn snapshot(&self, id: &str) -> PyResultCb<NativeSnapshot> {
        let id = id_arg("snapshot", id)?;
        self.with(|s| {
            Ok(NativeSnapshot {
                snapshot: s.snapshot(&id)?.clone(),
            })
        })
    }

    /// The union of every readable index delta, as an `Index`.
    fn index(&self) -> PyResultCb<NativeIndex> {
        self.with(|s| {
            Ok(NativeIndex {
                index: Mutex::new(Arc::new(s.index().clone())),
            })
        })
    }

    /// The readable snapshots, oldest first, `[{"id", "time",
    /// "time_nanos", "hostname", "backup_configuration_id", "paths",
    /// "tags", "entries", "counters"}]`.
    fn summaries<'py>(&self, py: Python<'py>) -> PyResultCb<Bound<'py, PyAny>> {
        let value = self.with(|s| to_value("snapshot summaries", &s.summaries()))?;
        Ok(value_to_py(py, value)?)
    }

    /// The unreadable snapshots, `[{"object", "code", "message"}]`.
    fn unreadable_snapshots<'py>(&self, py: Python<'py>) -> PyResultCb<Bound<'py, PyAny>> {
        let value = self.with(|s| {
            let list: Vec<_> = s
                .unreadable_snapshots()
                .into_iter()
                .map(|(id, e)| problem(&format!("snapshots/{}", id.to_hex()), e))
                .collect();
            to_value("unreadable snapshots", &list)
        })?;
        Ok(value_to_py(py, value)?)
    }

    /// What verify reports besides bundle contents, `[{"object", "code",
    /// "message"}]`.
    fn problems<'py>(&self, py: Python<'py>) -> PyResultCb<Bound<'py, PyAny>> {
        let value = self.with(|s| {
            let list: Vec<_> = s.problems().iter().map(|(o, e)| problem(o, e)).collect();
            to_value("problems", &list)
        })?;
        Ok(value_to_py(py, value)?)
    }

    /// What forget with `policy` (the core's `KeepPolicy` as a dict or
    /// JSON text) does to each readable snapshot, `[{"id", "time",
    /// "time_nanos", "hostname", "paths", "keep", "reasons"}]`; raises
    /// InvalidArgument for a bad policy (or one without rules).
    fn forget_plan<'py>(
        &self,
        py: Python<'py>,
        policy: &Bound<'py, PyAny>,
        now_ns: i64,
    ) -> PyResultCb<Bound<'py, PyAny>> {
        let policy = policy_in(policy)?;
        let value = self.with(|s| to_value("forget plan", &s.forget_plan(&policy, now_ns)?))?;
        Ok(value_to_py(py, value)?)
    }

    /// Leaves the snapshots `ids` (hex) out, as if deleted (a dry run's
    /// view of forget then prune).
    fn drop_snapshots(&self, ids: Vec<String>) -> PyResultCb<()> {
        let ids = ids
            .iter()
            .map(|i| id_arg("ids", i))
            .collect::<PyResultCb<Vec<_>>>()?;
        self.with(|s| {
            s.drop_snapshots(&ids);
            Ok(())
        })
    }

    /// What gc may delete; raises when it must refuse.
    fn gc_plan<'py>(
        &self,
        py: Python<'py>,
        now_ns: i64,
        grace_ns: i64,
    ) -> PyResultCb<Bound<'py, PyAny>> {
        let value = self.with(|s| to_value("gc plan", &s.gc_plan(now_ns, grace_ns)?))?;
        Ok(value_to_py(py, value)?)
    }

    /// What repair must do: `{"set_aside": [names], "bundles_to_read":
    /// [ids]}`.
    fn repair_plan<'py>(&self, py: Python<'py>) -> PyResultCb<Bound<'py, PyAny>> {
        let value = self.with(|s| to_value("repair plan", &s.repair_plan()))?;
        Ok(value_to_py(py, value)?)
    }

    /// Where repair moves the object `name` of its plan.
    fn set_aside_target(&self, name: &str) -> PyResultCb<String> {
        self.with(|s| {
            Ok(cloudbackup_core::engine::repair::set_aside_target(
                &s.repair_plan(),
                name,
            )?)
        })
    }
}

use cloudbackup_core::engine::verify::problem_json as problem;

/// Rebuilds index entries from whole bundles (repair).
#[pyclass(module = "cloudbackup._native", name = "IndexRebuild")]
pub struct NativeIndexRebuild {
    rebuild: Mutex<Option<IndexRebuild>>,
}

#[pymethods]
impl NativeIndexRebuild {
    /// A rebuild for `state`.
    #[new]
    fn new(state: &NativeVaultState) -> PyResultCb<Self> {
        let rebuild = state.with(|s| Ok(IndexRebuild::new(s)))?;
        Ok(NativeIndexRebuild {
            rebuild: Mutex::new(Some(rebuild)),
        })
    }

    /// Checks the whole bundle `bundle_id` and indexes the blobs no index
    /// lists; a damaged bundle is reported and raised. Releases the GIL.
    fn feed(&self, py: Python<'_>, bundle_id: &str, data: &Bound<'_, PyAny>) -> PyResultCb<()> {
        let id = id_arg("bundle_id", bundle_id)?;
        let data = bytes_in(data, "data")?;
        let bytes = data.as_slice();
        py.detach(|| {
            let mut r = self.rebuild.lock().map_err(|_| poisoned())?;
            let r = r
                .as_mut()
                .ok_or_else(|| Failure::Core(cloudbackup_core::Error::finished("repair")))?;
            Ok(r.feed(&id, bytes)?)
        })
    }

    /// The bundle `bundle_id` could not be fetched (`reason`).
    fn unreadable(&self, bundle_id: &str, reason: &str) -> PyResultCb<()> {
        let id = id_arg("bundle_id", bundle_id)?;
        let mut r = self.rebuild.lock().map_err(|_| poisoned())?;
        r.as_mut()
            .ok_or_else(|| Failure::Core(cloudbackup_core::Error::finished("repair")))?
            .unreadable(&id, reason);
        Ok(())
    }

    /// Ends the rebuild: `(index delta to store or None, report)`.
    fn finish<'py>(&self, py: Python<'py>) -> PyResultCb<(Option<Object<'py>>, Bound<'py, PyAny>)> {
        let r = self
            .rebuild
            .lock()
            .map_err(|_| poisoned())?
            .take()
            .ok_or_else(|| Failure::Core(cloudbackup_core::Error::finished("repair")))?;
        let out = r.finish()?;
        let index = out
            .index
            .map(|o| (o.id.to_hex(), PyBytes::new(py, &o.bytes)));
        Ok((index, to_py(py, "repair report", &out.report)?))
    }
}

/// A lock object's contents (docs/FORMAT.md, "Concurrency"); public as
/// `cloudbackup.engine.Lock`.
#[pyclass(module = "cloudbackup._native", name = "Lock", frozen)]
pub struct NativeLock {
    lock: Lock,
}

#[pymethods]
impl NativeLock {
    /// A new lock for `operation`, taken at `now_ns`.
    #[new]
    fn new(
        operation: &str,
        exclusive: bool,
        hostname: &str,
        pid: u32,
        now_ns: i64,
    ) -> PyResultCb<Self> {
        Ok(NativeLock {
            lock: Lock::new(operation, exclusive, hostname, pid, now_ns)?,
        })
    }

    /// `Lock.new(operation, exclusive, hostname, pid, now_ns)`: the same as
    /// `Lock(...)`, by the name the package has always offered.
    #[staticmethod]
    #[pyo3(name = "new")]
    fn new_lock(
        operation: &str,
        exclusive: bool,
        hostname: &str,
        pid: u32,
        now_ns: i64,
    ) -> PyResultCb<Self> {
        Self::new(operation, exclusive, hostname, pid, now_ns)
    }

    /// Opens the stored lock `id`.
    #[staticmethod]
    fn open(vault: &NativeVault, id: &str, data: &Bound<'_, PyAny>) -> PyResultCb<Self> {
        let id = id_arg("lock", id)?;
        let data = bytes_in(data, "data")?;
        Ok(NativeLock {
            lock: Lock::open(&vault.get()?, &id, data.as_slice())?,
        })
    }

    /// Seals it for `vault`: `(id, bytes)` to store as `locks/<id>`.
    fn seal<'py>(&self, py: Python<'py>, vault: &NativeVault) -> PyResultCb<Object<'py>> {
        let o = self.lock.seal(&vault.get()?)?;
        Ok((o.id.to_hex(), PyBytes::new(py, &o.bytes)))
    }

    /// The same lock rewritten at `now_ns`.
    fn refreshed(&self, now_ns: i64) -> Self {
        NativeLock {
            lock: self.lock.refreshed(now_ns),
        }
    }

    /// Whether it is time to refresh it.
    fn needs_refresh(&self, now_ns: i64) -> bool {
        self.lock.needs_refresh(now_ns)
    }

    /// Raises `Locked` unless its holder (stored as `id`) may still act.
    fn check_fresh(&self, id: &str, now_ns: i64) -> PyResultCb<()> {
        let id = id_arg("lock", id)?;
        Ok(self.lock.check_fresh(&id, now_ns)?)
    }

    /// Raises `Locked` when the holder's lock (stored as `id`) is no longer
    /// stored (`stored` false).
    fn check_stored(&self, id: &str, stored: bool) -> PyResultCb<()> {
        let id = id_arg("lock", id)?;
        Ok(self.lock.check_stored(&id, stored)?)
    }

    /// Who holds it, for messages.
    fn describe(&self) -> String {
        self.lock.describe()
    }

    /// Whether it is exclusive.
    #[getter]
    fn exclusive(&self) -> bool {
        self.lock.exclusive
    }
}

/// Other clients' locks and the rules between them.
#[pyclass(module = "cloudbackup._native", name = "LockTable")]
pub struct NativeLockTable {
    table: Mutex<LockTable>,
}

#[pymethods]
impl NativeLockTable {
    /// A table as seen at `now_ns` by a process on `hostname`.
    #[new]
    fn new(now_ns: i64, hostname: &str) -> Self {
        NativeLockTable {
            table: Mutex::new(LockTable::new(now_ns, hostname)),
        }
    }

    /// Adds a listed lock; an unreadable one is kept (it blocks) and raised.
    fn add(&self, vault: &NativeVault, id: &str, data: &Bound<'_, PyAny>) -> PyResultCb<()> {
        let id = id_arg("lock", id)?;
        let data = bytes_in(data, "data")?;
        let vault = vault.get()?;
        let mut t = self.table.lock().map_err(|_| poisoned())?;
        Ok(t.add(&vault, &id, data.as_slice())?)
    }

    /// The pids of locks written on this host (say which run).
    fn local_pids(&self) -> PyResultCb<Vec<u32>> {
        Ok(self.table.lock().map_err(|_| poisoned())?.local_pids())
    }

    /// Whether process `pid` of this host is running.
    fn set_pid_alive(&self, pid: u32, alive: bool) -> PyResultCb<()> {
        self.table
            .lock()
            .map_err(|_| poisoned())?
            .set_pid_alive(pid, alive);
        Ok(())
    }

    /// `("granted", None)`, `("wait", Locked)`, `("back_off", Locked)` or
    /// `("give_up", Locked)` (a lock in the way belongs to a process of this
    /// host that is gone: fail now) for the lock `lock` stored as `my_id`.
    fn decide(
        &self,
        py: Python<'_>,
        my_id: &str,
        lock: &NativeLock,
    ) -> PyResultCb<(&'static str, Option<Py<PyAny>>)> {
        let id = id_arg("lock", my_id)?;
        let t = self.table.lock().map_err(|_| poisoned())?;
        let err = |e| PyErr::from(Failure::Core(e)).into_value(py).into_any();
        Ok(match t.decide(&id, &lock.lock) {
            LockDecision::Granted => ("granted", None),
            LockDecision::Wait(e) => ("wait", Some(err(e))),
            LockDecision::BackOff(e) => ("back_off", Some(err(e))),
            LockDecision::GiveUp(e) => ("give_up", Some(err(e))),
        })
    }

    /// `[(id, description, stale)]` of every listed lock.
    fn describe(&self) -> PyResultCb<Vec<(String, String, bool)>> {
        let t = self.table.lock().map_err(|_| poisoned())?;
        Ok(t.describe()
            .into_iter()
            .map(|(id, d, stale)| (id.to_hex(), d, stale))
            .collect())
    }

    /// `[(id, description)]` of the locks `unlock` removes (the stale
    /// ones, or every one with `all`).
    #[pyo3(signature = (all=false))]
    fn removable(&self, all: bool) -> PyResultCb<Vec<(String, String)>> {
        let t = self.table.lock().map_err(|_| poisoned())?;
        Ok(t.removable(all)
            .into_iter()
            .map(|(id, d)| (id.to_hex(), d))
            .collect())
    }
}

/// The snapshot path (quoted `str` or `bytes`) without its leading `/`
/// (refuses `..`, relative and empty components), to join to a restore
/// target: a filesystem `str` (bytes that are not UTF-8 as surrogate
/// escapes, as `os.fsdecode` gives them).
#[pyfunction]
fn relative_snapshot_path(path: &Bound<'_, PyAny>) -> PyResultCb<OsString> {
    let path = path_in(path, "path")?;
    Ok(OsString::from_vec(
        paths::relative_path(path.as_bytes())?.to_vec(),
    ))
}

/// The temporary name a restore writes file `final_name` (a filesystem
/// `str` or `bytes`) under (within NAME_MAX whatever the name's length).
#[pyfunction]
fn partial_name(final_name: &Bound<'_, PyAny>, tag: u32) -> PyResultCb<String> {
    let name = fs_bytes(final_name, "final_name")?;
    Ok(paths::partial_name(&name, tag))
}

/// The tag (e.g. process id) of a restore temporary's name (a filesystem
/// `str` or `bytes`, one component), `None` for any other name: what a
/// killed restore left has such a name.
#[pyfunction]
fn partial_tag(name: &Bound<'_, PyAny>) -> PyResultCb<Option<u32>> {
    Ok(paths::partial_tag(&fs_bytes(name, "name")?))
}

/// Whose restore temporary `name` (a filesystem `str` or `bytes`, one
/// component) is, for a restore run by process `own_pid` clearing a folder
/// before it writes there: `None` for a name that is no temporary (keep
/// it), 0 when no running restore can own it (remove it), or the process id
/// to remove it after, once that process is gone.
#[pyfunction]
fn partial_owner(name: &Bound<'_, PyAny>, own_pid: u32) -> PyResultCb<Option<u32>> {
    Ok(paths::partial_owner(&fs_bytes(name, "name")?, own_pid))
}

/// Where a backup whose root (a filesystem `str` or `bytes`, symlinks
/// resolved) is no directory finds it: `(directory, name)`, as bytes; the
/// snapshot holds the one entry `/<name>`, whose own device is the root
/// device. `InvalidArgument` for a root whose last
/// component names no file (empty, `.`, `..`, a trailing `/`).
#[pyfunction]
fn split_file_root<'py>(
    py: Python<'py>,
    root: &Bound<'py, PyAny>,
) -> PyResultCb<(Bound<'py, PyBytes>, Bound<'py, PyBytes>)> {
    let (dir, name) = paths::split_file_root(&fs_bytes(root, "root")?)?;
    Ok((PyBytes::new(py, &dir), PyBytes::new(py, &name)))
}

/// Whether the stored object `name` (`index/<hex>`) belongs in a host's
/// local metadata cache: index deltas and snapshots, whose names are the
/// hashes of their bytes, so a cached copy is never stale (and is still
/// authenticated when opened). Never bundles, locks, the config, temporary
/// or set-aside objects.
#[pyfunction]
fn is_cached_object(name: &str) -> bool {
    layout::is_cached(name)
}

/// A forget policy (the core's `KeepPolicy` as JSON) checked and written
/// back in its normal form (`within` as restic spells it); InvalidArgument
/// for a bad policy or one without rules.
#[pyfunction]
fn keep_policy<'py>(py: Python<'py>, policy: &Bound<'py, PyAny>) -> PyResultCb<Bound<'py, PyAny>> {
    to_py(py, "keep policy", &policy_in(policy)?)
}

/// A keep policy given as a dict or as JSON text.
fn policy_in(policy: &Bound<'_, PyAny>) -> PyResultCb<KeepPolicy> {
    let text = json_text(policy, "policy")?;
    let text = std::str::from_utf8(&text).map_err(|e| {
        Failure::Core(cloudbackup_core::Error::InvalidJson {
            what: "policy".into(),
            message: e.to_string(),
        })
    })?;
    Ok(KeepPolicy::from_json(text)?)
}

/// Checks a backup's tags (non-empty, no comma, no control character);
/// InvalidArgument otherwise. Hosts call it before reading any file.
#[pyfunction]
fn check_tags(tags: Vec<String>) -> PyResultCb<()> {
    Ok(retention::check_tags(&tags)?)
}

/// The quoted text form of a path: `bytes`, or a filesystem `str` (as
/// `os.fsdecode` gives it). Valid UTF-8 without control characters and not
/// starting with `"` stays as it is; anything else is C-quoted.
#[pyfunction]
fn quote_path(path: &Bound<'_, PyAny>) -> PyResultCb<String> {
    let bytes = fs_bytes(path, "path")?;
    Ok(RawPath::from_bytes(bytes).quoted().into_owned())
}

/// The bytes of a path given in quoted text form (`InvalidValue` when the
/// quoting is malformed).
#[pyfunction]
fn unquote_path<'py>(py: Python<'py>, quoted: &str) -> PyResultCb<Bound<'py, PyBytes>> {
    Ok(PyBytes::new(py, RawPath::parse_quoted(quoted)?.as_bytes()))
}

/// The filesystem `str` (surrogate escapes for bytes that are not UTF-8,
/// as `os.fsdecode`) of a path given in quoted text form.
#[pyfunction]
fn fs_path(quoted: &str) -> PyResultCb<OsString> {
    Ok(OsString::from_vec(
        RawPath::parse_quoted(quoted)?.into_bytes(),
    ))
}

/// The bytes of a filesystem path: `bytes` as they are, `str` encoded as
/// `os.fsencode` does.
fn fs_bytes(obj: &Bound<'_, PyAny>, name: &str) -> PyResultCb<Vec<u8>> {
    if let Ok(bytes) = obj.cast::<PyBytes>() {
        return Ok(bytes.as_bytes().to_vec());
    }
    match obj.extract::<OsString>() {
        Ok(os) => Ok(os.into_vec()),
        // What os.fsencode cannot encode either (a surrogate outside the
        // escapes of undecodable bytes).
        Err(e) if obj.is_instance_of::<pyo3::types::PyString>() => {
            Err(cloudbackup_core::Error::argument(
                name,
                format!("cannot be a file name ({})", e.value(obj.py())),
            )
            .into())
        }
        Err(_) => Err(pyo3::exceptions::PyTypeError::new_err(format!(
            "{name}: expected a path (str or bytes), got {}",
            crate::input::type_name(obj)
        ))
        .into()),
    }
}

/// A span of seconds given as text (`--grace`, `--retry-lock`, an
/// environment variable): a decimal number from 0 to 9223372036;
/// `InvalidArgument` naming `name` otherwise.
#[pyfunction]
fn parse_seconds(name: &str, text: &Bound<'_, PyString>) -> PyResultCb<f64> {
    // An environment value that is not UTF-8 comes as surrogate escapes,
    // read as U+FFFD: refused naming the variable, as any other text.
    Ok(lock::parse_seconds(name, &text.to_string_lossy())?)
}

/// How long to wait for a busy vault's lock: `text` (the value of
/// `RETRY_LOCK_ENV`, or of an option called `name`) read as
/// `parse_seconds` reads it, `DEFAULT_RETRY_LOCK` when `None` or empty.
#[pyfunction]
#[pyo3(signature = (name, text))]
fn retry_lock_seconds(name: &str, text: Option<&Bound<'_, PyString>>) -> PyResultCb<f64> {
    let text = text.map(|t| t.to_string_lossy());
    Ok(lock::retry_lock_seconds(name, text.as_deref())?)
}

/// Adds this file's classes and functions to the module.
pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add("RETRY_LOCK_ENV", lock::RETRY_LOCK_ENV)?;
    m.add("DEFAULT_RETRY_LOCK", lock::DEFAULT_RETRY_LOCK)?;
    m.add("MAX_SECONDS", lock::MAX_SECONDS)?;
    m.add_function(wrap_pyfunction!(parse_seconds, m)?)?;
    m.add_function(wrap_pyfunction!(retry_lock_seconds, m)?)?;
    m.add_class::<NativeVaultState>()?;
    m.add_class::<NativeIndexRebuild>()?;
    m.add_class::<NativeLock>()?;
    m.add_class::<NativeLockTable>()?;
    m.add_function(wrap_pyfunction!(relative_snapshot_path, m)?)?;
    m.add_function(wrap_pyfunction!(partial_name, m)?)?;
    m.add_function(wrap_pyfunction!(partial_tag, m)?)?;
    m.add_function(wrap_pyfunction!(partial_owner, m)?)?;
    m.add_function(wrap_pyfunction!(split_file_root, m)?)?;
    m.add_function(wrap_pyfunction!(quote_path, m)?)?;
    m.add_function(wrap_pyfunction!(unquote_path, m)?)?;
    m.add_function(wrap_pyfunction!(fs_path, m)?)?;
    m.add_function(wrap_pyfunction!(is_cached_object, m)?)?;
    m.add_function(wrap_pyfunction!(keep_policy, m)?)?;
    m.add_function(wrap_pyfunction!(check_tags, m)?)?;
    Ok(())
}
