//! WebAssembly binding of the Cloud Backup core, for the npm package
//! `@cloudbackup/core` (web/). Thin: every rule lives in the core; this
//! crate converts between JS values and the core's JSON shapes, and turns
//! core errors into the package's `Error` subclasses (web/errors.js, whose
//! `makeError` the glue imports).
//!
//! Conventions: names are camelCase in JS; structured results are plain JS
//! objects in the core's JSON shapes (snake_case members, as on the wire);
//! bytes come in as any `Bytes` (Uint8Array, ArrayBuffer, other views;
//! copied once into wasm memory) and go out as `Uint8Array`; passwords take
//! a string (UTF-8) or `Bytes`. Every argument is a `JsValue` checked by the
//! helpers below (see "Arguments").

// The engine's classes (vaults, sessions, selection, agents) are left out of
// the API-only build (`--no-default-features`: the package's `/api` entry).
#[cfg(feature = "engine")]
mod agent;
mod api;
#[cfg(feature = "engine")]
mod engine;
#[cfg(feature = "engine")]
mod lock;
mod members;
#[cfg(feature = "engine")]
mod prune;
#[cfg(feature = "engine")]
mod select;
#[cfg(feature = "engine")]
mod state;

#[cfg(feature = "engine")]
use cloudbackup_core::engine::{host_meta, RawPath};
use cloudbackup_core::Error;
use serde::Serialize;
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;

// The package's error classes (web/errors.js, beside dist/): every failure
// leaves as one of them, made by their own factory. (The glue's own errors
// go through it too: web/scripts/patch-glue.mjs.)
#[wasm_bindgen(raw_module = "../errors.js")]
extern "C" {
    #[wasm_bindgen(js_name = "makeError")]
    fn make_error(code: &str, message: &str, details: &JsValue) -> JsValue;
}

#[wasm_bindgen(typescript_custom_section)]
const TS_BYTES: &'static str = r#"
/**
 * Bytes: a Uint8Array, an ArrayBuffer, or any other ArrayBufferView (a
 * DataView, another typed array, a node Buffer): the bytes it views.
 * Anything else throws `InvalidArgumentError`.
 */
export type Bytes = ArrayBufferView | ArrayBuffer;
"#;

/// A JS error of class `code` with `message` and `details`.
pub(crate) fn js_error(code: &str, message: &str, details: &serde_json::Value) -> JsValue {
    let details = json_to_js(details).unwrap_or(JsValue::NULL);
    make_error(code, message, &details)
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

/// A JS argument as a JSON value (`Null` for undefined/null), not read
/// again as a type.
pub(crate) fn json_value_arg(value: &JsValue, name: &str) -> JsResult<serde_json::Value> {
    match json_text_arg(value, name)? {
        None => Ok(serde_json::Value::Null),
        Some(text) => Ok(cloudbackup_core::error::json_value_from_slice(
            name,
            text.as_bytes(),
        )?),
    }
}

/// A JS argument parsed as JSON of type `T` (`None` for undefined/null).
#[cfg(feature = "engine")]
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

// Arguments. wasm-bindgen converts `&[u8]`, numbers, `bool` and `&str`
// parameters silently (an ArrayBuffer becomes no bytes, "644" the number
// 644, a millisecond time a year past 50000): every export takes `JsValue`
// instead and converts it here, refusing anything else with an
// `InvalidArgumentError` that names the argument and what it got.

/// The largest safe integer of JS (`Number.MAX_SAFE_INTEGER`, 2^53 - 1).
pub(crate) const MAX_SAFE: i64 = 9_007_199_254_740_991;

/// What `value` is, for an error message: `a string ("644")`, `a number
/// (1.5)`, `an ArrayBuffer`, `an Index`, `undefined`...
pub(crate) fn describe(value: &JsValue) -> String {
    if value.is_undefined() {
        return "undefined".into();
    }
    if value.is_null() {
        return "null".into();
    }
    if let Some(s) = value.as_string() {
        let mut shown: String = s.chars().take(40).collect();
        if shown.len() < s.len() {
            shown.push_str("...");
        }
        return format!("a string ({shown:?})");
    }
    if let Some(n) = value.as_f64() {
        return format!("a number ({})", js_number(n));
    }
    if let Some(b) = value.as_bool() {
        return format!("a boolean ({b})");
    }
    if value.is_bigint() {
        return "a bigint".into();
    }
    if value.is_symbol() {
        return "a symbol".into();
    }
    if value.is_function() {
        return "a function".into();
    }
    if js_sys::Array::is_array(value) {
        return "an array".into();
    }
    // An object: its class, when it has one (`an Index`, `a Blob`).
    let class = js_sys::Reflect::get(value, &JsValue::from_str("constructor"))
        .ok()
        .and_then(|c| js_sys::Reflect::get(&c, &JsValue::from_str("name")).ok())
        .and_then(|n| n.as_string())
        .filter(|n| !n.is_empty() && n != "Object");
    match class {
        Some(c) if c.starts_with(['A', 'E', 'I', 'O', 'U']) => format!("an {c}"),
        Some(c) => format!("a {c}"),
        None => "an object".into(),
    }
}

/// A number as JS prints it (`NaN`, `Infinity`, `1.5`, `1700000000000`).
fn js_number(n: f64) -> String {
    if n.is_infinite() {
        return if n > 0.0 { "Infinity" } else { "-Infinity" }.into();
    }
    format!("{n}")
}

/// An `invalid_argument` error: argument `name` must be `expected` and
/// `value` is not.
pub(crate) fn wrong(name: &str, expected: &str, value: &JsValue) -> Failure {
    argument(name, format!("must be {expected}, got {}", describe(value)))
}

#[cfg(feature = "engine")]
const BUFFER_SOURCE: &str = "a Uint8Array, an ArrayBuffer or another ArrayBufferView";

thread_local! {
    // `ArrayBuffer.prototype.byteLength`'s getter: it throws for anything
    // but an ArrayBuffer, which recognises one from another realm too (a
    // node vm context, Jest's environment, an iframe), where `instanceof`
    // says no.
    static BYTE_LENGTH: Option<js_sys::Function> = {
        let proto = js_sys::Object::get_prototype_of(&js_sys::ArrayBuffer::new(0));
        js_sys::Reflect::get_own_property_descriptor(&proto, &JsValue::from_str("byteLength"))
            .ok()
            .and_then(|d| js_sys::Reflect::get(&d, &JsValue::from_str("get")).ok())
            .and_then(|g| g.dyn_into::<js_sys::Function>().ok())
    };
}

/// A `Uint8Array` over the bytes `value` holds when it is a
/// `Bytes` (a BufferSource): a Uint8Array itself; any other ArrayBufferView (a
/// DataView, another typed array, a Buffer) over exactly the bytes it
/// views; an ArrayBuffer whole.
fn buffer_view(value: &JsValue) -> Option<js_sys::Uint8Array> {
    if let Some(a) = value.dyn_ref::<js_sys::Uint8Array>() {
        return Some(a.clone());
    }
    if !value.is_object() {
        return None;
    }
    if js_sys::ArrayBuffer::is_view(value) {
        // Every view has `buffer`, `byteOffset` and `byteLength`.
        let view = value.unchecked_ref::<js_sys::DataView>();
        return Some(js_sys::Uint8Array::new_with_byte_offset_and_length(
            &view.buffer(),
            view.byte_offset() as u32,
            view.byte_length() as u32,
        ));
    }
    let is_buffer = value.is_instance_of::<js_sys::ArrayBuffer>()
        || BYTE_LENGTH.with(|g| g.as_ref().is_some_and(|g| g.call0(value).is_ok()));
    is_buffer.then(|| js_sys::Uint8Array::new(value))
}

#[cfg(feature = "engine")]
/// Bytes given as `Bytes` (see `buffer_view`); nothing else.
pub(crate) fn buffer_arg(value: &JsValue, name: &str) -> JsResult<Vec<u8>> {
    buffer_view(value)
        .map(|a| a.to_vec())
        .ok_or_else(|| wrong(name, BUFFER_SOURCE, value))
}

/// Bytes given as a string (its UTF-8) or as `Bytes`.
pub(crate) fn text_or_bytes_arg(value: &JsValue, name: &str) -> JsResult<Vec<u8>> {
    if let Some(s) = value.as_string() {
        return Ok(s.into_bytes());
    }
    buffer_view(value).map(|a| a.to_vec()).ok_or_else(|| {
        wrong(
            name,
            "a string or bytes (a Uint8Array, an ArrayBuffer or another ArrayBufferView)",
            value,
        )
    })
}

#[cfg(feature = "engine")]
/// A path: its quoted text form (see `QuotedPath`) or its bytes (a
/// `Bytes`).
pub(crate) fn path_arg(value: &JsValue, name: &str) -> JsResult<RawPath> {
    if let Some(s) = value.as_string() {
        return RawPath::parse_quoted(&s).map_err(|e| argument(name, e.to_string()));
    }
    buffer_view(value)
        .map(|a| RawPath::from_bytes(a.to_vec()))
        .ok_or_else(|| {
            wrong(
                name,
                "a path (a string) or its bytes (a Uint8Array, an ArrayBuffer or another ArrayBufferView)",
                value,
            )
        })
}

/// A string argument.
pub(crate) fn string_arg(value: &JsValue, name: &str) -> JsResult<String> {
    value
        .as_string()
        .ok_or_else(|| wrong(name, "a string", value))
}

/// A boolean argument.
pub(crate) fn bool_arg(value: &JsValue, name: &str) -> JsResult<bool> {
    value
        .as_bool()
        .ok_or_else(|| wrong(name, "a boolean", value))
}

#[cfg(feature = "engine")]
/// A finite JS number (the core checks its range).
pub(crate) fn number_arg(value: &JsValue, name: &str) -> JsResult<f64> {
    match value.as_f64() {
        Some(n) if n.is_finite() => Ok(n),
        _ => Err(wrong(name, "a finite number", value)),
    }
}

/// A JS number that is a safe integer (`Number.isSafeInteger`) from `min`
/// to `max`.
pub(crate) fn int_arg(value: &JsValue, name: &str, min: i64, max: i64) -> JsResult<i64> {
    let n = value
        .as_f64()
        .ok_or_else(|| wrong(name, "a number", value))?;
    if n.fract() != 0.0 || n.abs() > MAX_SAFE as f64 {
        return Err(argument(
            name,
            format!(
                "must be a whole number (a safe integer), got {}",
                js_number(n)
            ),
        ));
    }
    let i = n as i64;
    if !(min..=max).contains(&i) {
        return Err(argument(
            name,
            format!("must be a whole number from {min} to {max}, got {i}"),
        ));
    }
    Ok(i)
}

#[cfg(feature = "engine")]
/// A `u32` argument given as a JS number (a process id, a tag).
pub(crate) fn u32_arg(value: &JsValue, name: &str) -> JsResult<u32> {
    Ok(int_arg(value, name, 0, i64::from(u32::MAX))? as u32)
}

#[cfg(feature = "engine")]
/// A byte count or offset given as a JS number (a safe integer, 0 or more).
pub(crate) fn size_arg(value: &JsValue, name: &str) -> JsResult<u64> {
    Ok(int_arg(value, name, 0, MAX_SAFE)? as u64)
}

#[cfg(feature = "engine")]
/// A byte count given as a JS number (a safe integer, 0 or more) or a
/// `BigInt` (any unsigned 64-bit value: a file's size from a bigint stat).
pub(crate) fn count_arg(value: &JsValue, name: &str) -> JsResult<u64> {
    if !value.is_bigint() {
        return size_arg(value, name);
    }
    use wasm_bindgen::convert::TryFromJsValue;
    u64::try_from_js_value_ref(value)
        .ok_or_else(|| argument(name, "is outside the unsigned 64-bit range"))
}

#[cfg(feature = "engine")]
/// Permission bits (`0o644`): a number, in the core's range
/// (`host_meta::check_mode`).
pub(crate) fn mode_arg(value: &JsValue, name: &str) -> JsResult<u32> {
    if value.as_string().is_some() {
        // "644" is octal text: say how to give the number.
        return Err(wrong(
            name,
            "a number (permission bits: 0o644, or parseInt(\"644\", 8))",
            value,
        ));
    }
    let n = int_arg(value, name, i64::MIN, i64::MAX)?;
    Ok(host_meta::check_mode(name, n)?)
}

#[cfg(feature = "engine")]
/// A time: whole Unix seconds (a number) or a `Date` (to the millisecond),
/// as seconds and nanoseconds. Seconds beyond the core's range
/// (`host_meta::check_seconds`, year 5000) are refused as the milliseconds
/// they most likely are.
pub(crate) fn time_arg(value: &JsValue, name: &str) -> JsResult<(i64, u32)> {
    const EXPECTED: &str = "whole Unix seconds (a number) or a Date";
    if let Some(date) = value.dyn_ref::<js_sys::Date>() {
        let ms = date.get_time();
        if !ms.is_finite() {
            return Err(argument(name, "must be a valid Date, got an invalid Date"));
        }
        // Within ±8.64e15 ms: exact in i64.
        let ms = ms as i64;
        let seconds = ms.div_euclid(1000);
        let nanos = (ms.rem_euclid(1000) * 1_000_000) as u32;
        return Ok((host_meta::check_seconds(name, seconds)?, nanos));
    }
    let Some(n) = value.as_f64() else {
        return Err(wrong(name, EXPECTED, value));
    };
    if n.fract() != 0.0 || !n.is_finite() {
        return Err(argument(
            name,
            format!(
                "must be {EXPECTED}, got {} (a Date keeps milliseconds; FileMeta takes mtime_nanos)",
                js_number(n)
            ),
        ));
    }
    let seconds = int_arg(value, name, -MAX_SAFE, MAX_SAFE)?;
    match host_meta::check_seconds(name, seconds) {
        Ok(s) => Ok((s, 0)),
        Err(Error::InvalidArgument { name, reason }) => Err(argument(
            &name,
            format!("{reason}, or pass a Date (new Date(milliseconds))"),
        )),
        Err(e) => Err(e.into()),
    }
}

#[cfg(feature = "engine")]
/// A time ([`time_arg`], named `name`) and its sub-second part given
/// apart (`nanos`, named `nanos_name`: 0 to 999999999, `None` when left
/// out), which a `Date` already has and so must not be given with one.
pub(crate) fn time_with_nanos_arg(
    time: &JsValue,
    nanos: Option<JsValue>,
    name: &str,
    nanos_name: &str,
) -> JsResult<(i64, u32)> {
    let (seconds, date_nanos) = time_arg(time, name)?;
    let nanos = match nanos {
        None => date_nanos,
        Some(_) if time.is_instance_of::<js_sys::Date>() => {
            return Err(argument(
                nanos_name,
                format!("must be left out when {name} is a Date (it has the milliseconds)"),
            ))
        }
        Some(v) => host_meta::check_nanos(nanos_name, int_arg(&v, nanos_name, 0, MAX_SAFE)?)?,
    };
    Ok((seconds, nanos))
}

#[cfg(feature = "engine")]
/// Nanoseconds (a time since the Unix epoch, or a duration) given as a JS
/// `BigInt` in the signed 64-bit range: a JS number cannot hold today's
/// time in nanoseconds exactly, so numbers are refused rather than rounded.
pub(crate) fn ns_arg(value: &JsValue, name: &str) -> JsResult<i64> {
    if !value.is_bigint() {
        return Err(wrong(
            name,
            "a bigint (nanoseconds, e.g. BigInt(Date.now()) * 1000000n)",
            value,
        ));
    }
    use wasm_bindgen::convert::TryFromJsValue;
    i64::try_from_js_value_ref(value)
        .ok_or_else(|| argument(name, "is outside the signed 64-bit range"))
}

#[cfg(feature = "engine")]
/// An optional argument: `None` when left out, `undefined` or `null`.
pub(crate) fn given(value: Option<JsValue>) -> Option<JsValue> {
    value.filter(|v| !v.is_undefined() && !v.is_null())
}

#[cfg(feature = "engine")]
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
