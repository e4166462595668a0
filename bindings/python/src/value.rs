//! JSON-shaped values across the boundary as Python objects: the core's
//! host-facing values leave as `dict`, `list`, `str`, `int`, `float`,
//! `bool` and `None` (the shapes `json.loads` would give, keys in the
//! core's order), and JSON arguments come in as those objects or as JSON
//! text.
//!
//! Arguments given as objects are serialised here and parsed by the core's
//! one JSON reader, so a value that does not fit is refused with the same
//! error (naming the offending member) as the same value given as text.

use cloudbackup_core::Error;
use pyo3::exceptions::PyTypeError;
use pyo3::prelude::*;
use pyo3::types::{
    PyBool, PyByteArray, PyBytes, PyDict, PyFloat, PyInt, PyList, PyMapping, PyString, PyTuple,
};
use serde_json::{Map, Number, Value};

use crate::error::{Failure, PyResultCb};
use crate::input::{bytes_in, type_name};

/// Serialises a host-facing value of the core into a JSON value (without
/// the GIL: the conversion to Python objects is [`value_to_py`]).
pub fn to_value<T: serde::Serialize + ?Sized>(what: &str, value: &T) -> PyResultCb<Value> {
    serde_json::to_value(value).map_err(|e| Failure::Core(Error::json(what, &e)))
}

/// A host-facing value of the core as Python objects, made directly from
/// its serde form ([`crate::pyser`]).
pub fn to_py<'py, T: serde::Serialize + ?Sized>(
    py: Python<'py>,
    what: &str,
    value: &T,
) -> PyResultCb<Bound<'py, PyAny>> {
    crate::pyser::to_python(py, value).map_err(|e| match e {
        crate::pyser::Error::Py(e) => Failure::Py(e),
        crate::pyser::Error::Value(message) => Failure::Core(Error::InvalidJson {
            what: what.to_string(),
            message,
        }),
    })
}

/// A JSON value (made without the GIL, see [`to_value`]) as Python objects.
pub fn value_to_py(py: Python<'_>, value: Value) -> PyResult<Bound<'_, PyAny>> {
    crate::pyser::to_python(py, &value).map_err(|e| match e {
        crate::pyser::Error::Py(e) => e,
        // Unreachable: every member name of a JSON value is text.
        crate::pyser::Error::Value(m) => pyo3::exceptions::PyValueError::new_err(m),
    })
}

/// A Python object (dict or other mapping, list, tuple, str, int, float,
/// bool, None) as a JSON value, as `json.dumps` would write a dict: keys may also be int,
/// bool or None (written as text); NaN and infinities are refused as
/// `InvalidJson`, other objects with a `TypeError`. `name` names the
/// argument in errors.
pub fn value_from_py(obj: &Bound<'_, PyAny>, name: &str) -> PyResultCb<Value> {
    if obj.is_none() {
        return Ok(Value::Null);
    }
    if let Ok(b) = obj.cast::<PyBool>() {
        return Ok(Value::Bool(b.is_true()));
    }
    if obj.is_instance_of::<PyInt>() {
        if let Ok(i) = obj.extract::<i64>() {
            return Ok(Value::from(i));
        }
        if let Ok(u) = obj.extract::<u64>() {
            return Ok(Value::from(u));
        }
        // Beyond 64 bits: what a JSON reader makes of the digits.
        return number(obj.extract::<f64>()?, name);
    }
    if obj.is_instance_of::<PyFloat>() {
        return number(obj.extract::<f64>()?, name);
    }
    if let Ok(s) = obj.cast::<PyString>() {
        return Ok(Value::String(str_text(s, name)?));
    }
    if let Ok(dict) = obj.cast::<PyDict>() {
        let mut members = Map::with_capacity(dict.len());
        for (key, item) in dict.iter() {
            members.insert(key_text(&key, name)?, value_from_py(&item, name)?);
        }
        return Ok(Value::Object(members));
    }
    if let Ok(mapping) = obj.cast::<PyMapping>() {
        // Another mapping (a TypedDict is a dict; this is e.g. a
        // MappingProxyType): its items, as for a dict.
        let mut members = Map::new();
        for item in mapping.items()?.iter() {
            let (key, value): (Bound<'_, PyAny>, Bound<'_, PyAny>) = item.extract()?;
            members.insert(key_text(&key, name)?, value_from_py(&value, name)?);
        }
        return Ok(Value::Object(members));
    }
    if let Ok(list) = obj.cast::<PyList>() {
        return list
            .iter()
            .map(|item| value_from_py(&item, name))
            .collect::<PyResultCb<Vec<_>>>()
            .map(Value::Array);
    }
    if let Ok(tuple) = obj.cast::<PyTuple>() {
        return tuple
            .iter()
            .map(|item| value_from_py(&item, name))
            .collect::<PyResultCb<Vec<_>>>()
            .map(Value::Array);
    }
    Err(PyTypeError::new_err(format!(
        "{name}: object of type {} is not JSON serializable",
        type_name(obj)
    ))
    .into())
}

/// A `str` in a JSON argument as UTF-8: one with a lone surrogate (which
/// `json.dumps` would write as an escape no JSON reader of ours takes) is
/// `InvalidJson` naming the argument, not a bare `UnicodeEncodeError`.
fn str_text(s: &Bound<'_, PyString>, name: &str) -> PyResultCb<String> {
    match s.to_cow() {
        Ok(text) => Ok(text.into_owned()),
        Err(e) => Err(Failure::Core(Error::InvalidJson {
            what: name.to_string(),
            message: format!("a str that is not UTF-8 text ({})", e.value(s.py())),
        })),
    }
}

/// A finite float as a JSON number.
fn number(f: f64, name: &str) -> PyResultCb<Value> {
    Number::from_f64(f).map(Value::Number).ok_or_else(|| {
        Failure::Core(Error::InvalidJson {
            what: name.to_string(),
            message: format!("{f} is not a JSON number"),
        })
    })
}

/// A dict key as JSON member name (`json.dumps`' rules for non-str keys).
fn key_text(key: &Bound<'_, PyAny>, name: &str) -> PyResultCb<String> {
    if let Ok(s) = key.cast::<PyString>() {
        return str_text(s, name);
    }
    if key.is_none() {
        return Ok("null".into());
    }
    if let Ok(b) = key.cast::<PyBool>() {
        return Ok(if b.is_true() { "true" } else { "false" }.into());
    }
    if key.is_instance_of::<PyInt>() {
        return Ok(key.str()?.to_cow()?.into_owned());
    }
    Err(PyTypeError::new_err(format!(
        "{name}: keys must be str, int, bool or None, not {}",
        type_name(key)
    ))
    .into())
}

/// The JSON text of a JSON argument given as text (`str`), as bytes-like
/// JSON, or as Python objects ([`value_from_py`]).
pub fn json_text(obj: &Bound<'_, PyAny>, name: &str) -> PyResultCb<Vec<u8>> {
    if let Ok(s) = obj.cast::<PyString>() {
        return Ok(str_text(s, name)?.into_bytes());
    }
    if obj.is_instance_of::<PyBytes>() || obj.is_instance_of::<PyByteArray>() {
        return Ok(bytes_in(obj, name)?.as_slice().to_vec());
    }
    if !(obj.is_none()
        || obj.is_instance_of::<PyBool>()
        || obj.is_instance_of::<PyInt>()
        || obj.is_instance_of::<PyFloat>()
        || obj.is_instance_of::<PyDict>()
        || obj.is_instance_of::<PyList>()
        || obj.is_instance_of::<PyTuple>())
    {
        // memoryview and other buffers: JSON bytes.
        if let Ok(bytes) = bytes_in(obj, name) {
            return Ok(bytes.as_slice().to_vec());
        }
    }
    let value = value_from_py(obj, name)?;
    serde_json::to_vec(&value).map_err(|e| Failure::Core(Error::json(name, &e)))
}

/// Reads an optional JSON argument (text, bytes-like or Python objects;
/// `None`: `null`) as a JSON value, with the core's JSON reader.
pub fn opt_json_value(obj: Option<&Bound<'_, PyAny>>, name: &str) -> PyResultCb<Value> {
    match obj {
        Some(o) if !o.is_none() => Ok(cloudbackup_core::error::json_value_from_slice(
            name,
            &json_text(o, name)?,
        )?),
        _ => Ok(Value::Null),
    }
}

/// Reads an optional JSON argument (text, bytes-like or Python objects;
/// `None`: the type's default) with the core's JSON reader.
pub fn opt_json<T: serde::de::DeserializeOwned + Default>(
    obj: Option<&Bound<'_, PyAny>>,
    name: &str,
) -> PyResultCb<T> {
    match obj {
        None => Ok(T::default()),
        Some(o) if o.is_none() => Ok(T::default()),
        Some(o) => Ok(cloudbackup_core::error::from_json_slice(
            name,
            &json_text(o, name)?,
        )?),
    }
}
