//! Path selection: thin wrappers of the core's `select` (restic's
//! pattern language): `BackupFilter` for a backup walker, `Selector` for
//! checking patterns, `read_pattern_file` for `--exclude-file`.

use cloudbackup_core::engine::select::{read_pattern_file as core_read, Visit};
use cloudbackup_core::engine::{BackupFilter, Selector};
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyString};

use crate::error::PyResultCb;
use crate::input::bytes_in;

/// A path from Python as patterns see it: a `str` (one with surrogate
/// escapes, as `os.listdir` returns for names that are not UTF-8, is
/// read lossily) or bytes (read lossily).
fn path_arg(obj: &Bound<'_, PyAny>, name: &str) -> PyResultCb<String> {
    if let Ok(s) = obj.cast::<PyString>() {
        if let Ok(text) = s.to_cow() {
            return Ok(text.into_owned());
        }
        let raw = s.call_method1("encode", ("utf-8", "surrogateescape"))?;
        let raw = raw.cast_into::<PyBytes>().map_err(PyErr::from)?;
        return Ok(String::from_utf8_lossy(raw.as_bytes()).into_owned());
    }
    let raw = bytes_in(obj, name)?;
    Ok(String::from_utf8_lossy(raw.as_slice()).into_owned())
}

/// What a backup leaves out: exclusion patterns (case-sensitive and not),
/// `--exclude-if-present` rules and `--one-file-system`.
#[pyclass(module = "cloudbackup._native", name = "BackupFilter", frozen)]
pub struct NativeBackupFilter {
    filter: BackupFilter,
}

#[pymethods]
impl NativeBackupFilter {
    /// The filter of these options (a bad pattern or rule raises
    /// `InvalidArgument` naming the list, index and pattern).
    #[new]
    #[pyo3(signature = (exclude=Vec::new(), iexclude=Vec::new(), exclude_if_present=Vec::new(), one_file_system=false))]
    fn new(
        exclude: Vec<String>,
        iexclude: Vec<String>,
        exclude_if_present: Vec<String>,
        one_file_system: bool,
    ) -> PyResultCb<Self> {
        let filter = BackupFilter::new()
            .exclude("exclude", &exclude, false)?
            .exclude("iexclude", &iexclude, true)?
            .exclude_if_present(&exclude_if_present)?
            .one_file_system(one_file_system);
        Ok(NativeBackupFilter { filter })
    }

    /// What to do with the entry `path` (snapshot path; its folder was
    /// entered) on device `device`, the source root being on
    /// `root_device`: `"skip"`, `"keep"` or `"keep_empty"` (a folder kept
    /// without its content).
    fn visit(
        &self,
        path: &Bound<'_, PyAny>,
        is_dir: bool,
        device: u64,
        root_device: u64,
    ) -> PyResultCb<&'static str> {
        let path = path_arg(path, "path")?;
        Ok(
            match self.filter.visit(&path, is_dir, device, root_device) {
                Visit::Skip => "skip",
                Visit::Keep => "keep",
                Visit::KeepEmpty => "keep_empty",
            },
        )
    }

    /// Whether the patterns exclude `path`.
    fn excluded(&self, path: &Bound<'_, PyAny>) -> PyResultCb<bool> {
        Ok(self.filter.excluded(&path_arg(path, "path")?))
    }

    /// The `--exclude-if-present` files to look for in each folder, as
    /// `(name, header_len)`: read that many leading bytes of the file and
    /// ask `tag_confirms` (0: its existence is enough).
    fn tag_files(&self) -> Vec<(String, usize)> {
        self.filter
            .tag_files()
            .iter()
            .map(|t| (t.name.clone(), t.header_len()))
            .collect()
    }

    /// Whether the tag file of rule `index` whose first bytes are `head`
    /// tags its folder.
    fn tag_confirms(&self, index: usize, head: &Bound<'_, PyAny>) -> PyResultCb<bool> {
        let head = bytes_in(head, "head")?;
        Ok(self
            .filter
            .tag_files()
            .get(index)
            .is_some_and(|t| t.confirms(head.as_slice())))
    }

    /// Whether the child `name` of a folder whose confirmed tag files are
    /// `confirmed` (their names) is left out.
    fn excluded_by_tags(
        &self,
        confirmed: Vec<String>,
        name: &Bound<'_, PyAny>,
    ) -> PyResultCb<bool> {
        Ok(self
            .filter
            .excluded_by_tags(&confirmed, &path_arg(name, "name")?))
    }

    /// Whether `--one-file-system` is on.
    #[getter]
    fn one_file_system(&self) -> bool {
        self.filter.is_one_file_system()
    }
}

/// Inclusion and exclusion patterns as a restore applies them
/// (docs/PATTERNS.md); public as `cloudbackup.Selector`.
#[pyclass(module = "cloudbackup._native", name = "Selector", frozen)]
pub struct NativeSelector {
    selector: Selector,
}

#[pymethods]
impl NativeSelector {
    /// A selector of these lists, all keyword arguments (`None`: empty);
    /// the `i` lists ignore case. A bad pattern raises `InvalidArgument`.
    #[new]
    #[pyo3(signature = (*, include=None, exclude=None, iinclude=None, iexclude=None))]
    fn new(
        include: Option<Vec<String>>,
        exclude: Option<Vec<String>>,
        iinclude: Option<Vec<String>>,
        iexclude: Option<Vec<String>>,
    ) -> PyResultCb<Self> {
        let selector = Selector::all()
            .include("include", &include.unwrap_or_default(), false)?
            .include("iinclude", &iinclude.unwrap_or_default(), true)?
            .exclude("exclude", &exclude.unwrap_or_default(), false)?
            .exclude("iexclude", &iexclude.unwrap_or_default(), true)?;
        Ok(NativeSelector { selector })
    }

    /// Whether an exclusion matches `path` itself.
    fn excludes(&self, path: &Bound<'_, PyAny>) -> PyResultCb<bool> {
        Ok(self.selector.excludes(&path_arg(path, "path")?))
    }

    /// Whether an inclusion matches `path` (or there is none).
    fn includes(&self, path: &Bound<'_, PyAny>) -> PyResultCb<bool> {
        Ok(self.selector.includes(&path_arg(path, "path")?))
    }

    /// Whether `path` is taken on its own (included, not excluded).
    fn selects(&self, path: &Bound<'_, PyAny>) -> PyResultCb<bool> {
        Ok(self.selector.selects(&path_arg(path, "path")?))
    }

    /// Whether something below folder `path` may be selected.
    fn child_may_match(&self, path: &Bound<'_, PyAny>) -> PyResultCb<bool> {
        Ok(self.selector.child_may_match(&path_arg(path, "path")?))
    }
}

/// The patterns of an exclude/include file's text, as restic reads them
/// (trimmed lines; blank lines and `#` comments skipped; `$VAR`/`${VAR}`
/// from the environment, `$$` for `$`).
#[pyfunction]
fn read_pattern_file(text: &str) -> Vec<String> {
    core_read(text, |name| std::env::var(name).ok())
}

/// Adds this file's classes and functions to the module.
pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<NativeBackupFilter>()?;
    m.add_class::<NativeSelector>()?;
    m.add_function(wrap_pyfunction!(read_pattern_file, m)?)?;
    Ok(())
}
