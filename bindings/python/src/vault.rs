//! Keys and stored objects: vaults (create, unlock, passwords, config), the
//! index and snapshots, and the verification of bundles.

use std::sync::{Arc, Mutex};

use cloudbackup_core::engine::{
    browse, verify_plan, Id, Index, KdfParams, Snapshot, Vault, VaultSettings, Verifier,
};
use pyo3::prelude::*;
use pyo3::types::PyBytes;

use crate::error::{poisoned, PyResultCb};
use crate::input::{bytes_in, path_in, secret_in};
use crate::value::{opt_json, to_py, to_value, value_to_py};

/// Parses the id argument `name` (64 hex digits) with the core's one
/// parser, so a bad id is `InvalidValue` naming it, as in every binding.
pub fn id_arg(name: &str, hex: &str) -> PyResultCb<Id> {
    Ok(Id::parse_named(name, hex)?)
}

/// An unlocked vault: its keys and settings. Made by `Vault.create` or
/// `Vault.open`; the keys are wiped when it is dropped. Public as
/// `cloudbackup.Vault` (no Python wrapper).
#[pyclass(module = "cloudbackup._native", name = "Vault")]
pub struct NativeVault {
    /// The vault; locked for password changes.
    pub vault: Mutex<Vault>,
}

impl NativeVault {
    /// A copy of the vault (sessions keep their own).
    pub fn get(&self) -> PyResultCb<Vault> {
        Ok(self.vault.lock().map_err(|_| poisoned())?.clone())
    }
}

#[pymethods]
impl NativeVault {
    /// Creates a new vault with one key slot for `password` (str, UTF-8,
    /// or bytes-like); `settings` (chunker sizes, zstd level, bundle size)
    /// and `kdf` (Argon2id `memory_kib`, `iterations`, `parallelism`) are
    /// mappings (or JSON text), `None` for the core's defaults. Store
    /// `config()` as the vault's `config`. Releases the GIL while the key
    /// is derived.
    #[staticmethod]
    #[pyo3(signature = (password, settings=None, kdf=None))]
    fn create(
        py: Python<'_>,
        password: &Bound<'_, PyAny>,
        settings: Option<&Bound<'_, PyAny>>,
        kdf: Option<&Bound<'_, PyAny>>,
    ) -> PyResultCb<Self> {
        let password = secret_in(password, "password")?;
        let settings: VaultSettings = opt_json(settings, "settings")?;
        let kdf: KdfParams = opt_json(kdf, "kdf")?;
        let pw = password.as_slice();
        let vault = py.detach(|| Vault::create(pw, settings, kdf))?;
        Ok(NativeVault {
            vault: Mutex::new(vault),
        })
    }

    /// Opens a stored vault config (bytes-like) with `password`: raises
    /// WrongPassword (no key slot opens with it), IntegrityError (the
    /// config was tampered with), UnsupportedVersion (a newer format) or
    /// InvalidJson (bytes that are no config). Releases the GIL while the
    /// key is derived.
    #[staticmethod]
    fn open(
        py: Python<'_>,
        config: &Bound<'_, PyAny>,
        password: &Bound<'_, PyAny>,
    ) -> PyResultCb<Self> {
        let config = bytes_in(config, "config")?;
        let password = secret_in(password, "password")?;
        let (c, pw) = (config.as_slice(), password.as_slice());
        let vault = py.detach(|| Vault::open(c, pw))?;
        Ok(NativeVault {
            vault: Mutex::new(vault),
        })
    }

    /// The bytes to store as the vault's `config`.
    fn config<'py>(&self, py: Python<'py>) -> PyResultCb<Bound<'py, PyBytes>> {
        let bytes = self.vault.lock().map_err(|_| poisoned())?.config_bytes()?;
        Ok(PyBytes::new(py, &bytes))
    }

    /// The vault's id (32 hex digits).
    #[getter]
    fn vault_id(&self) -> PyResultCb<String> {
        Ok(self.vault.lock().map_err(|_| poisoned())?.info().vault_id)
    }

    /// What the vault is: `{"vault_id", "settings", "key_slots"}`.
    fn info<'py>(&self, py: Python<'py>) -> PyResultCb<Bound<'py, PyAny>> {
        let info = to_value(
            "vault info",
            &self.vault.lock().map_err(|_| poisoned())?.info(),
        )?;
        Ok(value_to_py(py, info)?)
    }

    /// Adds a key slot for another password. Store `config()` afterwards.
    #[pyo3(signature = (password, kdf=None))]
    fn add_password(
        &self,
        py: Python<'_>,
        password: &Bound<'_, PyAny>,
        kdf: Option<&Bound<'_, PyAny>>,
    ) -> PyResultCb<()> {
        let password = secret_in(password, "password")?;
        let kdf: KdfParams = opt_json(kdf, "kdf")?;
        let pw = password.as_slice();
        py.detach(|| -> PyResultCb<()> {
            let mut vault = self.vault.lock().map_err(|_| poisoned())?;
            Ok(vault.add_password(pw, kdf)?)
        })
    }

    /// Removes the key slot that `password` opens.
    fn remove_password(&self, py: Python<'_>, password: &Bound<'_, PyAny>) -> PyResultCb<()> {
        let password = secret_in(password, "password")?;
        let pw = password.as_slice();
        py.detach(|| -> PyResultCb<()> {
            let mut vault = self.vault.lock().map_err(|_| poisoned())?;
            Ok(vault.remove_password(pw)?)
        })
    }

    /// The key slots: `[{"id", "kdf"}]`, in the order they are tried.
    fn key_slots<'py>(&self, py: Python<'py>) -> PyResultCb<Bound<'py, PyAny>> {
        let slots = to_value(
            "key slots",
            &self.vault.lock().map_err(|_| poisoned())?.key_slots(),
        )?;
        Ok(value_to_py(py, slots)?)
    }

    /// The id of the key slot `password` opens.
    fn key_slot_of(&self, py: Python<'_>, password: &Bound<'_, PyAny>) -> PyResultCb<String> {
        let password = secret_in(password, "password")?;
        let pw = password.as_slice();
        py.detach(|| -> PyResultCb<String> {
            let vault = self.vault.lock().map_err(|_| poisoned())?;
            Ok(vault.key_slot_of(pw)?)
        })
    }

    /// Removes the key slot named by `id` (a unique prefix), never the one
    /// `current` opens nor the last; returns its whole id. Store `config()`
    /// afterwards.
    fn remove_key_slot(
        &self,
        py: Python<'_>,
        id: &str,
        current: &Bound<'_, PyAny>,
    ) -> PyResultCb<String> {
        let current = secret_in(current, "current")?;
        let pw = current.as_slice();
        py.detach(|| -> PyResultCb<String> {
            let mut vault = self.vault.lock().map_err(|_| poisoned())?;
            Ok(vault.remove_key_slot(id, pw)?)
        })
    }

    /// Rewraps the master key from `old` to `new` (data untouched). Store
    /// `config()` afterwards.
    #[pyo3(signature = (old, new, kdf=None))]
    fn change_password(
        &self,
        py: Python<'_>,
        old: &Bound<'_, PyAny>,
        new: &Bound<'_, PyAny>,
        kdf: Option<&Bound<'_, PyAny>>,
    ) -> PyResultCb<()> {
        let old = secret_in(old, "old")?;
        let new = secret_in(new, "new")?;
        let kdf: KdfParams = opt_json(kdf, "kdf")?;
        let (o, n) = (old.as_slice(), new.as_slice());
        py.detach(|| -> PyResultCb<()> {
            let mut vault = self.vault.lock().map_err(|_| poisoned())?;
            Ok(vault.change_password(o, n, kdf)?)
        })
    }
}

/// The blob index of a vault: every index delta loaded.
#[pyclass(module = "cloudbackup._native", name = "Index")]
pub struct NativeIndex {
    /// Shared with the backup sessions started from it.
    pub index: Mutex<Arc<Index>>,
}

impl NativeIndex {
    /// The index as it is now (sessions keep that one).
    pub fn get(&self) -> PyResultCb<Arc<Index>> {
        Ok(Arc::clone(&*self.index.lock().map_err(|_| poisoned())?))
    }
}

#[pymethods]
impl NativeIndex {
    /// A new, empty index.
    #[new]
    fn new() -> Self {
        NativeIndex {
            index: Mutex::new(Arc::new(Index::new())),
        }
    }

    /// Merges the stored index delta `id` (64 hex digits; `data`
    /// bytes-like) of `vault`.
    fn load_delta(
        &self,
        py: Python<'_>,
        vault: &NativeVault,
        id: &str,
        data: &Bound<'_, PyAny>,
    ) -> PyResultCb<()> {
        let id = id_arg("id", id)?;
        let data = bytes_in(data, "data")?;
        let vault = vault.get()?;
        let bytes = data.as_slice();
        py.detach(|| -> PyResultCb<()> {
            let mut index = self.index.lock().map_err(|_| poisoned())?;
            Arc::make_mut(&mut index).load_delta(vault.keys(), vault.id(), &id, bytes)?;
            Ok(())
        })
    }

    /// The number of blobs the index knows.
    fn __len__(&self) -> PyResultCb<usize> {
        Ok(self.index.lock().map_err(|_| poisoned())?.len())
    }

    /// The bundles to verify, `[{"bundle", "ranges": []}...]`: all when
    /// `fraction` is 1, else a sample chosen by `seed`.
    #[pyo3(signature = (fraction=1.0, seed=0))]
    fn verify_plan<'py>(
        &self,
        py: Python<'py>,
        fraction: f64,
        seed: u64,
    ) -> PyResultCb<Bound<'py, PyAny>> {
        let index = self.get()?;
        to_py(py, "verify plan", &verify_plan(&index, fraction, seed)?)
    }
}

/// A snapshot: the file tree of one backup.
#[pyclass(module = "cloudbackup._native", name = "Snapshot", frozen)]
pub struct NativeSnapshot {
    /// The opened snapshot.
    pub snapshot: Snapshot,
}

#[pymethods]
impl NativeSnapshot {
    /// Opens the stored snapshot `id` (64 hex digits; `data` bytes-like) of
    /// `vault`.
    #[staticmethod]
    fn open(
        py: Python<'_>,
        vault: &NativeVault,
        id: &str,
        data: &Bound<'_, PyAny>,
    ) -> PyResultCb<Self> {
        let id = id_arg("id", id)?;
        let data = bytes_in(data, "data")?;
        let vault = vault.get()?;
        let bytes = data.as_slice();
        let snapshot = py.detach(|| Snapshot::open(vault.keys(), vault.id(), &id, bytes))?;
        Ok(NativeSnapshot { snapshot })
    }

    /// The snapshot as Python objects: `{"version", "time", "hostname",
    /// "backup_configuration_id", "counters", "entries"}` (the whole tree:
    /// made on each call, nothing kept).
    fn json<'py>(&self, py: Python<'py>) -> PyResultCb<Bound<'py, PyAny>> {
        to_py(py, "snapshot", &self.snapshot)
    }

    /// The `/errors` value a v2 agent reports for the backup that made the
    /// snapshot, or `None` when every path was read.
    fn error_report<'py>(&self, py: Python<'py>) -> PyResultCb<Option<Bound<'py, PyAny>>> {
        self.snapshot
            .error_report()
            .map(|r| to_py(py, "errors", &r))
            .transpose()
    }

    /// The state a v2 agent reports for that backup: `completed`, or
    /// `completed_with_errors` when some paths could not be read.
    fn backup_state(&self) -> String {
        self.snapshot.backup_state().as_str().to_string()
    }

    /// What is in folder `path` (str or bytes): its children, or
    /// (`recursive`) everything below it (see the core's `browse::list`).
    #[pyo3(signature = (path, recursive=false))]
    fn ls<'py>(
        &self,
        py: Python<'py>,
        path: &Bound<'py, PyAny>,
        recursive: bool,
    ) -> PyResultCb<Bound<'py, PyAny>> {
        let path = path_in(path, "path")?;
        to_py(
            py,
            "listing",
            &browse::list(&self.snapshot, path.as_bytes(), recursive)?,
        )
    }

    /// The entries the patterns match (see `browse::find`).
    #[pyo3(signature = (patterns, ignore_case=false))]
    fn find<'py>(
        &self,
        py: Python<'py>,
        patterns: Vec<String>,
        ignore_case: bool,
    ) -> PyResultCb<Bound<'py, PyAny>> {
        let patterns = browse::patterns(&patterns, ignore_case)?;
        to_py(py, "found", &browse::find(&self.snapshot, &patterns)?)
    }

    /// What changed from this snapshot to `after`: `{"changes": [...],
    /// "totals": {...}}` (see `browse::diff`).
    fn diff<'py>(&self, py: Python<'py>, after: &NativeSnapshot) -> PyResultCb<Bound<'py, PyAny>> {
        to_py(py, "diff", &browse::diff(&self.snapshot, &after.snapshot))
    }
}

/// Verifies bundles against the index.
#[pyclass(module = "cloudbackup._native", name = "Verifier")]
pub struct NativeVerifier {
    verifier: Mutex<Verifier>,
    /// The index the verifier checks against (for `plan`).
    index: Arc<Index>,
}

#[pymethods]
impl NativeVerifier {
    /// A verifier of `vault`'s bundles against `index`.
    #[new]
    fn new(vault: &NativeVault, index: &NativeIndex) -> PyResultCb<Self> {
        let vault = vault.get()?;
        let index = index.get()?;
        Ok(NativeVerifier {
            verifier: Mutex::new(Verifier::new(&vault, &index)),
            index,
        })
    }

    /// A verifier of the whole vault `state` read: its report starts with
    /// what the listing, index deltas and snapshots show.
    #[staticmethod]
    fn for_state(state: &crate::state::NativeVaultState) -> PyResultCb<Self> {
        let (verifier, index) = state.verifier()?;
        Ok(NativeVerifier {
            verifier: Mutex::new(verifier),
            index,
        })
    }

    /// The bundles to fetch whole and feed, `[{"bundle", "ranges": []}]`:
    /// all (or a sample chosen by `seed`), less those the listing showed
    /// missing.
    #[pyo3(signature = (fraction=1.0, seed=0))]
    fn plan<'py>(
        &self,
        py: Python<'py>,
        fraction: f64,
        seed: u64,
    ) -> PyResultCb<Bound<'py, PyAny>> {
        let plan = {
            let v = self.verifier.lock().map_err(|_| poisoned())?;
            to_value("verify plan", &v.plan(&self.index, fraction, seed)?)?
        };
        Ok(value_to_py(py, plan)?)
    }

    /// Checks the whole bundle `bundle_id` (`data` bytes-like). Every
    /// problem goes into the report; the first is also raised. Releases the
    /// GIL.
    fn feed(&self, py: Python<'_>, bundle_id: &str, data: &Bound<'_, PyAny>) -> PyResultCb<()> {
        let id = id_arg("bundle_id", bundle_id)?;
        let data = bytes_in(data, "data")?;
        let bytes = data.as_slice();
        py.detach(|| -> PyResultCb<()> {
            let mut v = self.verifier.lock().map_err(|_| poisoned())?;
            Ok(v.feed(&id, bytes)?)
        })
    }

    /// Records that bundle `bundle_id` cannot be fetched.
    fn missing(&self, bundle_id: &str) -> PyResultCb<()> {
        let id = id_arg("bundle_id", bundle_id)?;
        self.verifier.lock().map_err(|_| poisoned())?.missing(&id);
        Ok(())
    }

    /// The report so far: `{"ok", "bundles_checked", "blobs_checked",
    /// "bytes_checked", "problems"}`.
    fn report<'py>(&self, py: Python<'py>) -> PyResultCb<Bound<'py, PyAny>> {
        let report = {
            let v = self.verifier.lock().map_err(|_| poisoned())?;
            to_value("verify report", v.report())?
        };
        Ok(value_to_py(py, report)?)
    }
}

/// One file's content blob by blob in file order (`cloudbackup dump`).
#[pyclass(module = "cloudbackup._native", name = "Dump", frozen)]
pub struct NativeDump {
    dump: browse::Dump,
}

#[pymethods]
impl NativeDump {
    /// The file at `path` (str or bytes) of `snapshot`, whose blobs `index`
    /// locates.
    #[new]
    fn new(
        vault: &NativeVault,
        index: &NativeIndex,
        snapshot: &NativeSnapshot,
        path: &Bound<'_, PyAny>,
    ) -> PyResultCb<Self> {
        let path = path_in(path, "path")?;
        let (vault, index) = (vault.get()?, index.get()?);
        let dump = browse::Dump::new(&vault, &index, &snapshot.snapshot, path.as_bytes())?;
        Ok(NativeDump { dump })
    }

    /// The file's size.
    fn size(&self) -> u64 {
        self.dump.size()
    }

    /// `[(bundle_id, offset, length)]`: the ranges to read, in file order.
    fn fetches(&self) -> Vec<(String, u64, u64)> {
        self.dump
            .fetches()
            .into_iter()
            .map(|f| (f.bundle, f.offset, f.length))
            .collect()
    }

    /// Blob `i`'s plaintext from the bytes of fetch `i`.
    fn open<'py>(
        &self,
        py: Python<'py>,
        i: usize,
        data: &Bound<'_, PyAny>,
    ) -> PyResultCb<Bound<'py, PyBytes>> {
        let data = bytes_in(data, "data")?;
        let sealed = data.as_slice();
        let plain = py.detach(|| self.dump.open(i, sealed))?;
        Ok(PyBytes::new(py, &plain))
    }
}

/// Adds this file's classes to the module.
pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<NativeVault>()?;
    m.add_class::<NativeIndex>()?;
    m.add_class::<NativeSnapshot>()?;
    m.add_class::<NativeVerifier>()?;
    m.add_class::<NativeDump>()?;
    Ok(())
}
