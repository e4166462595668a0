//! `validatePatch` on a resource object without JSON text for the whole
//! resource: the object is read member by member as the core's
//! [`ResourceMembers`], and the core's member edits are set on a shallow copy
//! of it. (Turning the resource into JSON text, parsing it in wasm and back
//! was most of the call.) The reads and the copy are web/members.js's, one
//! call each: a wasm-to-JS call per property cost more than the work.

use std::borrow::Cow;
use std::cell::Cell;

use cloudbackup_core::patch::ResourceMembers;
use serde_json::Value;
use wasm_bindgen::prelude::*;

use crate::JsResult;

#[wasm_bindgen(raw_module = "../members.js")]
extern "C" {
    #[wasm_bindgen(js_name = "isPlainObject")]
    fn is_plain_object(value: &JsValue) -> bool;
    #[wasm_bindgen(js_name = "memberJson")]
    fn member_json(root: &JsValue, path: &str) -> Option<String>;
    #[wasm_bindgen(js_name = "memberKind")]
    fn member_kind(root: &JsValue, path: &str) -> u32;
    #[wasm_bindgen(js_name = "withMembers")]
    fn with_members(root: &JsValue, edits: &str, patch: &JsValue) -> JsValue;
    #[wasm_bindgen(js_name = "jsonBytes")]
    fn json_bytes(value: &JsValue) -> Option<Vec<u8>>;
}

/// A plain JS object (an object literal, `JSON.parse` output) read as JSON
/// would read it.
pub(crate) struct JsMembers<'a> {
    root: &'a JsValue,
    /// Set when a member was on a way JSON would read differently (a class
    /// instance, a getter that throws, a BigInt): the caller then goes
    /// through JSON text, whose outcome and message are the reference.
    unreadable: Cell<bool>,
}

impl<'a> JsMembers<'a> {
    /// `root` read member by member, when it is a plain object.
    pub(crate) fn new(root: &'a JsValue) -> Option<Self> {
        is_plain_object(root).then_some(JsMembers {
            root,
            unreadable: Cell::new(false),
        })
    }

    /// Whether every member read so far was read as JSON would read it.
    pub(crate) fn readable(&self) -> bool {
        !self.unreadable.get()
    }
}

impl ResourceMembers for JsMembers<'_> {
    fn member(&self, path: &str) -> Option<Cow<'_, Value>> {
        let text = member_json(self.root, path)?;
        match serde_json::from_str(&text) {
            Ok(value) => Some(Cow::Owned(value)),
            Err(_) => {
                // '' from members.js, or text JSON.stringify should not make.
                self.unreadable.set(true);
                None
            }
        }
    }

    fn is_object(&self, path: &str) -> bool {
        if path.is_empty() {
            return true; // checked by `new`
        }
        match member_kind(self.root, path) {
            1 => true,
            0 => false,
            _ => {
                self.unreadable.set(true);
                false
            }
        }
    }
}

/// A shallow copy of `root` with `edits` set (the core's
/// [`edits_json`](cloudbackup_core::patch::edits_json) text; each object an
/// edit sets a member of is copied, the rest is shared with `root`), the
/// values taken from `patch`'s operations; `None` if members.js could not
/// make it (a getter threw on the way).
pub(crate) fn set_members(root: &JsValue, edits: &str, patch: &JsValue) -> Option<JsValue> {
    let copy = with_members(root, edits, patch);
    (!copy.is_undefined()).then_some(copy)
}

/// `value`'s JSON text as UTF-8, as [`json_text_arg`](crate::json_text_arg)
/// gives it (a string is JSON text already; `null` for undefined and null)
/// but encoded by JS in one step: wasm-bindgen copies a string into wasm
/// memory a character at a time. Errors: those of `json_text_arg`.
pub(crate) fn json_bytes_arg(value: &JsValue, name: &str) -> JsResult<Vec<u8>> {
    if let Some(bytes) = json_bytes(value) {
        return Ok(bytes);
    }
    // None, or no JSON: json_text_arg says which, and why.
    Ok(crate::json_text_arg(value, name)?
        .unwrap_or_else(|| "null".into())
        .into_bytes())
}
