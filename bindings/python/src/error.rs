//! The one mapping of the core's [`Error`] onto Python exceptions.
//!
//! The exception classes live in Python (`cloudbackup.errors`), where
//! multiple inheritance (`Error` and `ValueError`) is plain; this module
//! asks `cloudbackup.errors._from_core(code, message, details)` for the
//! exception to raise (`details` a dict).

use cloudbackup_core::Error;
use pyo3::exceptions::PyRuntimeError;
use pyo3::prelude::*;

/// Why a call failed, before it becomes a Python exception.
#[derive(Debug)]
pub enum Failure {
    /// An error of the core.
    Core(Error),
    /// A Python exception already (e.g. a wrong argument type).
    Py(PyErr),
}

/// The result of every exported call.
pub type PyResultCb<T> = Result<T, Failure>;

impl From<Error> for Failure {
    fn from(e: Error) -> Self {
        Failure::Core(e)
    }
}

impl From<PyErr> for Failure {
    fn from(e: PyErr) -> Self {
        Failure::Py(e)
    }
}

/// Builds the `cloudbackup.errors` exception for `code`.
fn exception(py: Python<'_>, code: &str, message: String, details: serde_json::Value) -> PyErr {
    let made = crate::value::value_to_py(py, details).and_then(|details| {
        py.import("cloudbackup.errors")
            .and_then(|m| m.getattr("_from_core"))
            .and_then(|f| f.call1((code, message, details)))
    });
    match made {
        Ok(exc) => PyErr::from_value(exc),
        Err(e) => e,
    }
}

impl From<Failure> for PyErr {
    fn from(f: Failure) -> Self {
        match f {
            Failure::Py(e) => e,
            Failure::Core(e) => {
                Python::attach(|py| exception(py, e.code().as_str(), e.to_string(), e.details()))
            }
        }
    }
}

/// A poisoned lock (a panic inside the core while it was held) as an
/// exception, never a crash.
pub fn poisoned() -> Failure {
    Failure::Py(PyRuntimeError::new_err(
        "cloudbackup: an earlier call failed inside the native module; this object is unusable",
    ))
}

/// Serialises a host-facing value of the core to JSON text.
pub fn to_json<T: serde::Serialize + ?Sized>(what: &str, value: &T) -> PyResultCb<String> {
    serde_json::to_string(value).map_err(|e| Failure::Core(Error::json(what, &e)))
}
