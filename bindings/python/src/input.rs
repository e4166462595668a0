//! Arguments from Python: bytes-like objects and paths (JSON arguments:
//! [`crate::value`]).

use cloudbackup_core::engine::RawPath;
#[cfg(Py_3_11)]
use pyo3::buffer::PyUntypedBuffer;
use pyo3::exceptions::PyTypeError;
use pyo3::prelude::*;
use pyo3::types::{PyByteArray, PyBytes, PyString};

use crate::error::{Failure, PyResultCb};

/// The bytes of a bytes-like argument kept beyond the call or read while
/// Python code may run: a `bytes` object is borrowed (no copy; it is
/// immutable); anything else that supports the buffer protocol (bytearray,
/// memoryview, array, mmap...) is copied once, since a bytearray could be
/// resized meanwhile. Arguments read only during a call with the GIL
/// released use [`bytes_view`], which reads every contiguous buffer in place.
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
    refuse_str(obj, name)?;
    Ok(BytesIn::Bytes(copy_buffer(obj, name)?))
}

/// A copy, in C order, of the buffer `obj` exports (`bytes(memoryview(obj))`:
/// also what reads a strided view); a `TypeError` naming `name` when it
/// has no buffer.
fn copy_buffer<'py>(obj: &Bound<'py, PyAny>, name: &str) -> PyResultCb<Bound<'py, PyBytes>> {
    let view = obj
        .py()
        .import("builtins")
        .and_then(|b| b.getattr("memoryview"))
        .and_then(|mv| mv.call1((obj,)))
        .map_err(|_| {
            PyTypeError::new_err(format!(
                "{name}: expected a bytes-like object (bytes, bytearray, memoryview), got {}",
                type_name(obj)
            ))
        })?;
    let copy = view.call_method0("tobytes")?;
    Ok(copy.cast_into::<PyBytes>().map_err(PyErr::from)?)
}

/// A password argument: `str` (encoded to a UTF-8 `bytes` object, as
/// `password.encode()` would: no copy kept on the Rust side) or bytes-like
/// ([`bytes_in`]).
pub fn secret_in<'py>(obj: &Bound<'py, PyAny>, name: &str) -> PyResultCb<BytesIn<'py>> {
    if let Ok(s) = obj.cast::<PyString>() {
        return Ok(BytesIn::Bytes(
            s.encode_utf8().map_err(|e| not_utf8(obj.py(), name, e))?,
        ));
    }
    bytes_in(obj, name)
}

/// The bytes of a bytes-like argument read only during the call (with the
/// GIL released): `bytes` and any C-contiguous buffer (bytearray,
/// memoryview, mmap, array, numpy...) are read in place through the buffer
/// protocol (the stable ABI has it from Python 3.11). The exported buffer
/// pins the memory meanwhile (Python refuses to resize a bytearray or close
/// an mmap that has one); its content must not be changed from another
/// thread during the call. A buffer that is not contiguous is copied once,
/// as is every buffer but `bytes` in a build for Python < 3.11 (3.9's stable ABI has
/// no buffer protocol).
pub enum BytesView<'py> {
    /// A `bytes` object, borrowed (immutable).
    Bytes(Bound<'py, PyBytes>),
    /// Another object's exported buffer, C-contiguous.
    #[cfg(Py_3_11)]
    Buffer(PyUntypedBuffer),
    /// A copy of a buffer that is not contiguous (or of any buffer but
    /// `bytes` in a build for Python < 3.11).
    Copy(Bound<'py, PyBytes>),
}

impl BytesView<'_> {
    /// The bytes.
    pub fn as_slice(&self) -> &[u8] {
        match self {
            BytesView::Bytes(b) | BytesView::Copy(b) => b.as_bytes(),
            #[cfg(Py_3_11)]
            BytesView::Buffer(buffer) => {
                let len = buffer.len_bytes();
                if len == 0 {
                    return &[];
                }
                // SAFETY: `bytes_view` only keeps C-contiguous buffers, so
                // `len_bytes` bytes start at `buf_ptr`; the export keeps
                // them allocated and in place while `buffer` (which the
                // slice borrows) lives; their content is the caller's to
                // keep unchanged during the call (see the type's doc).
                unsafe { std::slice::from_raw_parts(buffer.buf_ptr().cast::<u8>(), len) }
            }
        }
    }
}

/// A `TypeError` for a `str` given as bytes argument `name` (a common
/// slip: it has no buffer, and encoding is the caller's choice).
fn refuse_str(obj: &Bound<'_, PyAny>, name: &str) -> PyResultCb<()> {
    if obj.is_instance_of::<PyString>() {
        return Err(PyTypeError::new_err(format!(
            "{name}: expected a bytes-like object, got str (encode it first)"
        ))
        .into());
    }
    Ok(())
}

/// Reads the bytes-like argument `name` for the duration of a call (see
/// [`BytesView`]); `str` and objects without the buffer protocol are
/// refused with a `TypeError`.
pub fn bytes_view<'py>(obj: &Bound<'py, PyAny>, name: &str) -> PyResultCb<BytesView<'py>> {
    if let Ok(b) = obj.cast::<PyBytes>() {
        return Ok(BytesView::Bytes(b.clone()));
    }
    refuse_str(obj, name)?;
    #[cfg(Py_3_11)]
    {
        let buffer = PyUntypedBuffer::get(obj).map_err(|_| {
            PyTypeError::new_err(format!(
                "{name}: expected a bytes-like object (bytes, bytearray, memoryview), got {}",
                type_name(obj)
            ))
        })?;
        if buffer.is_c_contiguous() {
            return Ok(BytesView::Buffer(buffer));
        }
    }
    // A strided view, or any buffer where the limited API has no buffer
    // protocol (a build for Python < 3.11): one copy.
    Ok(BytesView::Copy(copy_buffer(obj, name)?))
}

/// The Python type name of `obj`, for messages.
pub fn type_name(obj: &Bound<'_, PyAny>) -> String {
    obj.get_type()
        .name()
        .map(|n| n.to_string())
        .unwrap_or_else(|_| "object".into())
}

/// The UTF-8 text of a `str` argument.
pub fn text_of(text: &Bound<'_, PyString>, name: &str) -> PyResultCb<String> {
    match text.to_cow() {
        Ok(s) => Ok(s.into_owned()),
        Err(e) => Err(not_utf8(text.py(), name, e)),
    }
}

/// The error for a `str` argument that has no UTF-8 form (a lone
/// surrogate): an invalid argument naming `name`, where PyO3's conversion
/// gives a bare `UnicodeEncodeError`.
pub fn not_utf8(py: Python<'_>, name: &str, e: PyErr) -> Failure {
    Failure::Core(cloudbackup_core::Error::argument(
        name,
        format!("is not UTF-8 text ({})", e.value(py)),
    ))
}

/// A path argument: `str` is the quoted text form (a plain path is its own
/// quoted form; see `quote_path`), `bytes` the operating system's bytes.
pub fn path_in(obj: &Bound<'_, PyAny>, name: &str) -> PyResultCb<RawPath> {
    if let Ok(text) = obj.cast::<PyString>() {
        return Ok(RawPath::parse_quoted(&text_of(text, name)?)?);
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
