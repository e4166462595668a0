//! WebAssembly binding of the Cloud Backup core, for the npm package
//! `@cloudbackup/core` (web/). Thin: every rule lives in the core; this
//! crate converts between JS values and the core's JSON shapes, and turns
//! core errors into the package's `Error` subclasses (web/errors.js) through
//! a factory the package installs at load time.
//!
//! Conventions: names are camelCase in JS; structured results are plain JS
//! objects in the core's JSON shapes (snake_case members, as on the wire);
//! bytes are `Uint8Array` (copied once into wasm memory on the way in, once
//! out); passwords take a string (UTF-8) or a `Uint8Array`.

mod agent;
mod api;
mod engine;
mod lock;
mod select;
mod state;

use std::cell::RefCell;

use cloudbackup_core::engine::RawPath;
use cloudbackup_core::Error;
use serde::Serialize;
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;

thread_local! {
    static ERROR_FACTORY: RefCell<Option<js_sys::Function>> = const { RefCell::new(None) };
}

/// Installs `(code, message, details) => Error`, which every failure goes
/// through (the package calls it once, with its error classes).
#[wasm_bindgen(js_name = "__setErrorFactory", skip_typescript)]
pub fn set_error_factory(factory: js_sys::Function) {
    ERROR_FACTORY.with(|f| *f.borrow_mut() = Some(factory));
}

/// A JS error of class `code` with `message` and `details`.
pub(crate) fn js_error(code: &str, message: &str, details: &serde_json::Value) -> JsValue {
    let details = json_to_js(details).unwrap_or(JsValue::NULL);
    let made = ERROR_FACTORY.with(|f| {
        f.borrow().as_ref().and_then(|factory| {
            factory
                .call3(
                    &JsValue::NULL,
                    &JsValue::from_str(code),
                    &JsValue::from_str(message),
                    &details,
                )
                .ok()
        })
    });
    made.unwrap_or_else(|| {
        // No factory (raw glue used directly): a plain Error with the same members.
        let e = js_sys::Error::new(message);
        let _ = js_sys::Reflect::set(&e, &"code".into(), &JsValue::from_str(code));
        let _ = js_sys::Reflect::set(&e, &"details".into(), &details);
        e.into()
    })
}

/// What every export returns: a value, or the JS error of the core's error.
pub type JsResult<T> = Result<T, Failure>;

/// A failure on its way to JS: the core's error (the binding has none of
/// its own).
pub enum Failure {
    /// An error of the core.
    Core(Error),
}

impl From<Error> for Failure {
    fn from(e: Error) -> Self {
        Failure::Core(e)
    }
}

impl From<Failure> for JsValue {
    fn from(e: Failure) -> JsValue {
        match e {
            Failure::Core(e) => js_error(e.code().as_str(), &e.to_string(), &e.details()),
        }
    }
}

/// An `invalid_argument` error for argument `name`.
pub(crate) fn argument(name: &str, reason: impl Into<String>) -> Failure {
    Failure::Core(Error::argument(name, reason))
}

/// A JSON value as a JS value (objects, arrays, strings, numbers...).
pub(crate) fn json_to_js(value: &serde_json::Value) -> JsResult<JsValue> {
    let text = serde_json::to_string(value).map_err(|e| Error::json("result", &e))?;
    text_to_js(&text)
}

/// Any serialisable core shape as a JS value.
pub(crate) fn to_js<T: Serialize + ?Sized>(what: &str, value: &T) -> JsResult<JsValue> {
    let text = serde_json::to_string(value).map_err(|e| Error::json(what, &e))?;
    text_to_js(&text)
}

fn text_to_js(text: &str) -> JsResult<JsValue> {
    js_sys::JSON::parse(text).map_err(|_| {
        Failure::Core(Error::InvalidJson {
            what: "result".into(),
            message: "JSON.parse refused the core's output".into(),
        })
    })
}

/// The JSON text of a JS argument: a string is taken as JSON text, anything
/// else goes through `JSON.stringify`; `undefined` and `null` give `None`.
pub(crate) fn json_text_arg(value: &JsValue, name: &str) -> JsResult<Option<String>> {
    if value.is_undefined() || value.is_null() {
        return Ok(None);
    }
    if let Some(s) = value.as_string() {
        return Ok(Some(s));
    }
    match js_sys::JSON::stringify(value) {
        Ok(s) => s
            .as_string()
            .map(Some)
            .ok_or_else(|| argument(name, "is not representable as JSON")),
        Err(_) => Err(argument(
            name,
            "is not representable as JSON (a cycle or a BigInt?)",
        )),
    }
}

/// A JS argument parsed as JSON of type `T` (`None` for undefined/null).
pub(crate) fn json_arg<T: serde::de::DeserializeOwned>(
    value: &JsValue,
    name: &str,
) -> JsResult<Option<T>> {
    match json_text_arg(value, name)? {
        None => Ok(None),
        Some(text) => Ok(Some(cloudbackup_core::error::from_json_slice(
            name,
            text.as_bytes(),
        )?)),
    }
}

/// Bytes given as a string (UTF-8) or a `Uint8Array`.
pub(crate) fn bytes_arg(value: &JsValue, name: &str) -> JsResult<Vec<u8>> {
    if let Some(s) = value.as_string() {
        return Ok(s.into_bytes());
    }
    if let Some(a) = value.dyn_ref::<js_sys::Uint8Array>() {
        return Ok(a.to_vec());
    }
    Err(argument(name, "must be a string or a Uint8Array"))
}

/// A path: its quoted text form (see `QuotedPath`) or its bytes.
pub(crate) fn path_arg(value: &JsValue, name: &str) -> JsResult<RawPath> {
    if let Some(s) = value.as_string() {
        return RawPath::parse_quoted(&s).map_err(|e| argument(name, e.to_string()));
    }
    if let Some(a) = value.dyn_ref::<js_sys::Uint8Array>() {
        return Ok(RawPath::from_bytes(a.to_vec()));
    }
    Err(argument(
        name,
        "must be a path (string) or its bytes (Uint8Array)",
    ))
}

/// A string argument (wasm-bindgen only checks types declared as `&str`).
pub(crate) fn string_arg(value: &JsValue, name: &str) -> JsResult<String> {
    value
        .as_string()
        .ok_or_else(|| argument(name, "must be a string"))
}

/// Bytes given as a `Uint8Array` only (stored objects: a string is refused).
pub(crate) fn uint8_arg(value: &JsValue, name: &str) -> JsResult<Vec<u8>> {
    value
        .dyn_ref::<js_sys::Uint8Array>()
        .map(|a| a.to_vec())
        .ok_or_else(|| argument(name, "must be a Uint8Array"))
}

/// A boolean argument.
pub(crate) fn bool_arg(value: &JsValue, name: &str) -> JsResult<bool> {
    value
        .as_bool()
        .ok_or_else(|| argument(name, "must be a boolean"))
}

/// A JS number argument that must be a whole number in `min..=max`.
pub(crate) fn whole_arg(value: &JsValue, name: &str, min: f64, max: f64) -> JsResult<f64> {
    let n = value
        .as_f64()
        .ok_or_else(|| argument(name, "must be a number"))?;
    if n.fract() != 0.0 || !(min..=max).contains(&n) {
        return Err(argument(
            name,
            format!("{n} is not a whole number from {min} to {max}"),
        ));
    }
    Ok(n)
}

/// A `u32` argument given as a JS number (a process id, a tag).
pub(crate) fn u32_arg(value: &JsValue, name: &str) -> JsResult<u32> {
    Ok(whole_arg(value, name, 0.0, f64::from(u32::MAX))? as u32)
}

/// A byte count given as a JS number (a whole number from 0 to 2^53).
pub(crate) fn size_arg(value: &JsValue, name: &str) -> JsResult<u64> {
    Ok(whole_arg(value, name, 0.0, 9_007_199_254_740_992.0)? as u64)
}

/// Nanoseconds (a time since the Unix epoch, or a duration) given as a JS
/// `BigInt` in the signed 64-bit range: a JS number cannot hold today's
/// time in nanoseconds exactly, so numbers are refused rather than rounded.
pub(crate) fn ns_arg(value: &JsValue, name: &str) -> JsResult<i64> {
    if !value.is_bigint() {
        return Err(argument(
            name,
            "must be a BigInt (nanoseconds, e.g. BigInt(Date.now()) * 1000000n)",
        ));
    }
    use wasm_bindgen::convert::TryFromJsValue;
    i64::try_from_js_value_ref(value)
        .ok_or_else(|| argument(name, "is outside the signed 64-bit range"))
}

/// An id argument: a string of 64 hex digits, parsed by the core
/// (`invalid_value` naming `name` when it is not one, as in every binding).
pub(crate) fn id_arg(value: &JsValue, name: &str) -> JsResult<cloudbackup_core::engine::Id> {
    let hex = string_arg(value, name)?;
    Ok(cloudbackup_core::engine::Id::parse_named(name, &hex)?)
}

/// The core's version (the crate version).
#[wasm_bindgen(js_name = "version")]
pub fn version() -> String {
    env!("CARGO_PKG_VERSION").to_string()
}
