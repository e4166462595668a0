//! Arguments from Python: bytes-like objects and optional JSON text.

use cloudbackup_core::engine::RawPath;
use cloudbackup_core::error::from_json_slice;
use pyo3::exceptions::PyTypeError;
use pyo3::prelude::*;
use pyo3::types::{PyByteArray, PyBytes, PyString};

use crate::error::PyResultCb;

/// The bytes of a bytes-like argument: a `bytes` object is borrowed (no
/// copy; it is immutable, so the GIL may be released while it is read);
/// anything else that supports the buffer protocol (bytearray, memoryview,
/// array, mmap...) is copied once, since the Python 3.9 stable ABI has no
/// buffer access and a bytearray could be resized while the GIL is released.
pub enum BytesIn<'py> {
    /// A `bytes` object, borrowed.
    Bytes(Bound<'py, PyBytes>),
    /// A copy of another bytes-like object.
    Owned(Vec<u8>),
}

impl BytesIn<'_> {
    /// The bytes.
    pub fn as_slice(&self) -> &[u8] {
        match self {
            BytesIn::Bytes(b) => b.as_bytes(),
            BytesIn::Owned(v) => v,
        }
    }
}

/// Reads the bytes-like argument `name`; `str` is refused (a `TypeError`,
/// as for any other object that is not bytes-like).
pub fn bytes_in<'py>(obj: &Bound<'py, PyAny>, name: &str) -> PyResultCb<BytesIn<'py>> {
    if let Ok(b) = obj.cast::<PyBytes>() {
        return Ok(BytesIn::Bytes(b.clone()));
    }
    if let Ok(b) = obj.cast::<PyByteArray>() {
        return Ok(BytesIn::Owned(b.to_vec()));
    }
    if obj.is_instance_of::<PyString>() {
        return Err(PyTypeError::new_err(format!(
            "{name}: expected a bytes-like object, got str (encode it first)"
        ))
        .into());
    }
    // memoryview and other buffer exporters: memoryview(obj).tobytes() copies.
    let py = obj.py();
    let view = py
        .import("builtins")
        .and_then(|b| b.getattr("memoryview"))
        .and_then(|mv| mv.call1((obj,)));
    match view {
        Ok(view) => {
            let copy = view.call_method0("tobytes")?;
            Ok(BytesIn::Bytes(
                copy.cast_into::<PyBytes>().map_err(PyErr::from)?,
            ))
        }
        Err(_) => Err(PyTypeError::new_err(format!(
            "{name}: expected a bytes-like object (bytes, bytearray, memoryview), got {}",
            type_name(obj)
        ))
        .into()),
    }
}

/// The Python type name of `obj`, for messages.
pub fn type_name(obj: &Bound<'_, PyAny>) -> String {
    obj.get_type()
        .name()
        .map(|n| n.to_string())
        .unwrap_or_else(|_| "object".into())
}

/// Reads an optional JSON argument given as text (`None`: the type's
/// default).
pub fn opt_json<T: serde::de::DeserializeOwned + Default>(
    text: Option<&str>,
    name: &str,
) -> PyResultCb<T> {
    match text {
        None => Ok(T::default()),
        Some(t) => Ok(from_json_slice(name, t.as_bytes())?),
    }
}

/// A path argument: `str` is the quoted text form (a plain path is its own
/// quoted form; see `quote_path`), `bytes` the operating system's bytes.
pub fn path_in(obj: &Bound<'_, PyAny>, name: &str) -> PyResultCb<RawPath> {
    if let Ok(text) = obj.extract::<String>() {
        return Ok(RawPath::parse_quoted(&text)?);
    }
    if let Ok(bytes) = obj.cast::<PyBytes>() {
        return Ok(RawPath::from_bytes(bytes.as_bytes()));
    }
    Err(PyTypeError::new_err(format!(
        "{name}: expected a path (str in quoted form, or bytes), got {}",
        type_name(obj)
    ))
    .into())
}
