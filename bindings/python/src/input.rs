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

/// The bytes of a bytes-like argument read only during the call (with the
/// GIL released): like [`bytes_in`], but a `bytearray` is borrowed too. A
/// memoryview on it is held meanwhile, which makes Python refuse to resize
/// (and so move) its buffer; the bytes must not be changed from another
/// thread during the call. (Other buffer exporters are still copied: the
/// Python 3.9 stable ABI has no buffer protocol.)
pub enum BytesView<'py> {
    /// What [`bytes_in`] gives.
    In(BytesIn<'py>),
    /// A `bytearray`, borrowed, with the memoryview that pins it.
    Array {
        /// The bytearray.
        array: Bound<'py, PyByteArray>,
        /// A memoryview of it, held for the pin.
        _pin: Bound<'py, PyAny>,
    },
}

impl BytesView<'_> {
    /// The bytes.
    pub fn as_slice(&self) -> &[u8] {
        match self {
            BytesView::In(b) => b.as_slice(),
            // SAFETY: the memoryview `_pin` exports the buffer, so Python
            // refuses to resize or free it while this view (and the slice,
            // which borrows it) lives; its content is the caller's to keep
            // unchanged during the call (documented on `bytes_view`).
            BytesView::Array { array, .. } => unsafe { array.as_bytes() },
        }
    }
}

/// Reads the bytes-like argument `name` for the duration of a call (see
/// [`BytesView`]).
pub fn bytes_view<'py>(obj: &Bound<'py, PyAny>, name: &str) -> PyResultCb<BytesView<'py>> {
    if let Ok(array) = obj.cast::<PyByteArray>() {
        let pin = obj
            .py()
            .import("builtins")
            .and_then(|b| b.getattr("memoryview"))
            .and_then(|mv| mv.call1((obj,)))?;
        return Ok(BytesView::Array {
            array: array.clone(),
            _pin: pin,
        });
    }
    Ok(BytesView::In(bytes_in(obj, name)?))
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
