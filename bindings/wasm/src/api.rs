//! The domain model, operations, lifecycle and JSON Patch rules by name:
//! thin wrappers over the core's by-name layer (`by_name`: operations,
//! models, lifecycle and patch rules).

use cloudbackup_core::api::{Auth, Response};
use cloudbackup_core::by_name;
use serde_json::{json, Value};
use wasm_bindgen::prelude::*;

use crate::members::{json_bytes_arg, set_members, JsMembers};
use crate::{
    argument, bool_arg, int_arg, json_text_arg, json_to_js, json_value_arg, string_arg,
    text_or_bytes_arg, to_js, wrong, JsResult, MAX_SAFE,
};

#[wasm_bindgen(typescript_custom_section)]
const TS_API: &'static str = r#"
/** Any JSON value. */
export type JsonValue = null | boolean | number | string | JsonValue[] | { [member: string]: JsonValue };
/** A JSON object. */
export type JsonObject = { [member: string]: JsonValue };
/** HTTP methods the operations use. */
export type Method = "GET" | "POST" | "PUT" | "PATCH" | "DELETE" | "HEAD";
/** One operation of the service, as `operations()` lists it. */
export interface OperationInfo {
  /** `version.module.operation`, e.g. `v2.restores.get_restore`. */
  name: string;
  method: Method;
  /** Path template, e.g. `/v2/{project_id}/restores/{restore_id}`. */
  path: string;
  /** What it does, in words (`get restore`). */
  summary: string;
  /** The Rust type implementing it. */
  rust_type: string;
}
/** A transport-neutral request: send it with any HTTP client. */
export interface Request {
  method: Method;
  /** Encoded path, e.g. `/v2/123456/restores/e87e6f7d`. */
  path: string;
  query: [string, string][];
  headers: [string, string][];
  body: string | null;
}
/** The account a request is made for; an agent also gives its id, sent as `X-Agent-Id` on every request. */
export interface Auth {
  token: string;
  tenantId: string;
  agentId?: string;
}
/** What the host's HTTP client received. */
export interface HttpResponse {
  status: number;
  headers?: [string, string][];
  /** The body: bytes, or text (encoded as UTF-8). Absent: empty. (`parseResponse` also takes any `Bytes`.) */
  body?: Uint8Array | string;
}
/** Resources that have a lifecycle. */
export type Resource = "restore" | "backup" | "cleanup" | "logfile";
/** Who causes a transition. */
export type Actor = "user" | "agent" | "scheduler";
/** Buttons a console may offer. */
export type Action = "start" | "stop";
/** v2 PATCH endpoints. */
export type PatchEndpoint = "restore" | "backup" | "cleanup" | "configuration" | "agent" | "logfile";
/** Result of an allowed transition. */
export interface TransitionStep {
  /** False when the target repeats the current state (a no-op). */
  changed: boolean;
  /** The resulting state (v2 wire name). */
  state: string;
}
/** Options of `validatePatch`. */
export interface PatchOptions {
  /** Whether the agent's vault is empty (only an agent's `/vault/region` depends on it); default unknown (treated as not empty). */
  vaultEmpty?: boolean;
}
"#;

/// The names of every model type (`"v1.Agent"`, ..., `"v2.Restore"`); any
/// name also takes a `[]` suffix for an array of that type.
#[wasm_bindgen(js_name = "modelTypes", unchecked_return_type = "string[]")]
pub fn model_types() -> JsResult<JsValue> {
    json_to_js(&json!(by_name::model_types()))
}

/// Parses `json` (text or UTF-8 bytes) as model type `typeName`, exactly as
/// the Rust API checks it, and returns it in its normal form.
#[wasm_bindgen(js_name = "parseModel", unchecked_return_type = "JsonValue")]
pub fn parse_model(
    #[wasm_bindgen(js_name = "typeName", unchecked_param_type = "string")] type_name: JsValue,
    #[wasm_bindgen(unchecked_param_type = "string | Bytes")] json: JsValue,
) -> JsResult<JsValue> {
    let type_name = string_arg(&type_name, "typeName")?;
    let bytes = text_or_bytes_arg(&json, "json")?;
    json_to_js(&by_name::parse_model(&type_name, &bytes)?)
}

/// Every operation the core knows.
#[wasm_bindgen(unchecked_return_type = "OperationInfo[]")]
pub fn operations() -> JsResult<JsValue> {
    to_js("operations", by_name::operations())
}

fn params(value: &JsValue) -> JsResult<Value> {
    json_value_arg(value, "params")
}

fn auth(value: &JsValue) -> JsResult<Auth> {
    let member = |name: &str| -> JsResult<JsValue> {
        js_sys::Reflect::get(value, &JsValue::from_str(name))
            .map_err(|_| argument("auth", "must be an object {token, tenantId, agentId?}"))
    };
    let get =
        |name: &str| -> JsResult<String> { string_arg(&member(name)?, &format!("auth.{name}")) };
    if !value.is_object() {
        return Err(wrong(
            "auth",
            "an object {token, tenantId, agentId?}",
            value,
        ));
    }
    let auth = Auth::new(&get("token")?, &get("tenantId")?)?;
    let agent = member("agentId")?;
    if agent.is_undefined() || agent.is_null() {
        return Ok(auth);
    }
    Ok(auth.with_agent_id(get("agentId")?)?)
}

/// Builds the request of `operation` from its parameters for an account.
#[wasm_bindgen(js_name = "buildRequest", unchecked_return_type = "Request")]
pub fn build_request(
    #[wasm_bindgen(unchecked_param_type = "string")] operation: JsValue,
    #[wasm_bindgen(unchecked_param_type = "JsonObject | null | undefined")] params_: JsValue,
    #[wasm_bindgen(unchecked_param_type = "Auth")] auth_: JsValue,
) -> JsResult<JsValue> {
    let operation = string_arg(&operation, "operation")?;
    let params = params(&params_)?;
    let auth = auth(&auth_)?;
    json_to_js(&by_name::build_request(&operation, &params, &auth)?.to_json_value()?)
}

/// Parses the response the host received for `operation` (built from
/// `params`): the operation's result, or the error the service meant.
#[wasm_bindgen(js_name = "parseResponse", unchecked_return_type = "JsonValue")]
pub fn parse_response(
    #[wasm_bindgen(unchecked_param_type = "string")] operation: JsValue,
    #[wasm_bindgen(unchecked_param_type = "JsonObject | null | undefined")] params_: JsValue,
    #[wasm_bindgen(unchecked_param_type = "HttpResponse")] response: JsValue,
) -> JsResult<JsValue> {
    let operation = string_arg(&operation, "operation")?;
    let params = params(&params_)?;
    if !response.is_object() {
        return Err(wrong(
            "response",
            "an object {status, headers?, body?}",
            &response,
        ));
    }
    let field = |name: &str| js_sys::Reflect::get(&response, &JsValue::from_str(name)).ok();
    // Out-of-range statuses are the core's to refuse.
    let status = field("status").unwrap_or(JsValue::UNDEFINED);
    let status = int_arg(&status, "response.status", 0, MAX_SAFE)?;
    let mut head = json!({ "status": status });
    if let Some(headers) = field("headers").filter(|h| !h.is_undefined() && !h.is_null()) {
        head["headers"] = json_value_arg(&headers, "response.headers")?;
    }
    // The core checks the status and the headers; the body goes in as bytes.
    let mut parsed = Response::from_json_value(&head)?;
    if let Some(body) = field("body").filter(|b| !b.is_undefined() && !b.is_null()) {
        parsed.body = text_or_bytes_arg(&body, "response.body")?;
    }
    json_to_js(&by_name::parse_response(&operation, &params, &parsed)?)
}

/// Whether `actor` may move `resource` from state `from` to `to` (v2 names;
/// restores and backups also take v1 names).
#[wasm_bindgen(unchecked_return_type = "TransitionStep")]
pub fn transition(
    #[wasm_bindgen(unchecked_param_type = "Resource")] resource: JsValue,
    #[wasm_bindgen(unchecked_param_type = "string")] from: JsValue,
    #[wasm_bindgen(unchecked_param_type = "string")] to: JsValue,
    #[wasm_bindgen(unchecked_param_type = "Actor")] actor: JsValue,
) -> JsResult<JsValue> {
    let step = by_name::transition_by_name(
        &string_arg(&resource, "resource")?,
        &string_arg(&from, "from")?,
        &string_arg(&to, "to")?,
        &string_arg(&actor, "actor")?,
    )?;
    json_to_js(&step)
}

/// The actions a console may offer a user for `resource` in `state`.
#[wasm_bindgen(js_name = "allowedActions", unchecked_return_type = "Action[]")]
pub fn allowed_actions(
    #[wasm_bindgen(unchecked_param_type = "Resource")] resource: JsValue,
    #[wasm_bindgen(unchecked_param_type = "string")] state: JsValue,
) -> JsResult<JsValue> {
    let actions = by_name::allowed_actions_by_name(
        &string_arg(&resource, "resource")?,
        &string_arg(&state, "state")?,
    )?;
    json_to_js(&json!(actions))
}

/// The states `actor` may move `resource` to from `state` (no-ops excluded).
#[wasm_bindgen(js_name = "allowedTargets", unchecked_return_type = "string[]")]
pub fn allowed_targets(
    #[wasm_bindgen(unchecked_param_type = "Resource")] resource: JsValue,
    #[wasm_bindgen(unchecked_param_type = "string")] state: JsValue,
    #[wasm_bindgen(unchecked_param_type = "Actor")] actor: JsValue,
) -> JsResult<JsValue> {
    let targets = by_name::allowed_targets_by_name(
        &string_arg(&resource, "resource")?,
        &string_arg(&state, "state")?,
        &string_arg(&actor, "actor")?,
    )?;
    json_to_js(&json!(targets))
}

/// Validates a JSON Patch for a v2 PATCH endpoint against the current
/// resource, sent by `actor`; returns the patched resource. `resource` and
/// `patch` are JSON values, or JSON text.
///
/// A resource object is not changed. The result is a new object with the
/// patched members set; the members the patch does not touch are the
/// resource's own (shared, as immutable-update libraries share them: copy
/// one before changing it in place), and objects holding a patched member
/// (`vault` for `/vault/region`) are copies. A patched member's value is the
/// patch operation's own (shared too, as fast-json-patch shares it) when it
/// is JSON data (no `Date`, `undefined`, -0, hole or class instance in it);
/// otherwise a copy as JSON reads the patch. Only the members the endpoint's
/// rules read are looked at: the others are neither checked nor converted
/// (a `Date` stays a `Date`, and one JSON cannot write, such as a `BigInt`,
/// is not refused). A resource given as JSON text, or an object that JSON
/// would write differently than its properties read (a class instance, a
/// `toJSON`), is taken whole as JSON and the result is a fresh value.
#[wasm_bindgen(js_name = "validatePatch", unchecked_return_type = "JsonValue")]
pub fn validate_patch(
    #[wasm_bindgen(unchecked_param_type = "PatchEndpoint")] endpoint: JsValue,
    #[wasm_bindgen(unchecked_param_type = "JsonValue")] resource: JsValue,
    #[wasm_bindgen(unchecked_param_type = "JsonValue")] patch: JsValue,
    #[wasm_bindgen(unchecked_param_type = "Actor")] actor: JsValue,
    #[wasm_bindgen(unchecked_param_type = "PatchOptions | null")] options: Option<JsValue>,
) -> JsResult<JsValue> {
    let options = options.unwrap_or(JsValue::UNDEFINED);
    let endpoint = string_arg(&endpoint, "endpoint")?;
    let actor = string_arg(&actor, "actor")?;
    let patch_json = json_bytes_arg(&patch, "patch")?;
    let vault_empty = if options.is_object() {
        let v = js_sys::Reflect::get(&options, &JsValue::from_str("vaultEmpty"))
            .unwrap_or(JsValue::UNDEFINED);
        if v.is_undefined() || v.is_null() {
            None
        } else {
            Some(bool_arg(&v, "options.vaultEmpty")?)
        }
    } else if options.is_undefined() || options.is_null() {
        None
    } else {
        return Err(wrong("options", "an object {vaultEmpty?}", &options));
    };
    // A resource object is read member by member and the result is a copy of
    // it with the patched members set; only what that cannot do exactly
    // (see members.rs) goes through JSON text.
    if let Some(members) = JsMembers::new(&resource) {
        let plan = by_name::plan_patch_json(&endpoint, &members, &patch_json, &actor, vault_empty);
        if members.readable() {
            if let Some(edits) = plan? {
                if let Some(patched) = set_members(&resource, &edits, &patch) {
                    return Ok(patched);
                }
            }
        }
    }
    let resource = json_text_arg(&resource, "resource")?.unwrap_or_else(|| "null".into());
    let patched = by_name::validate_patch_json(
        &endpoint,
        resource.as_bytes(),
        &patch_json,
        &actor,
        vault_empty,
    )?;
    json_to_js(&patched)
}

/// Applies a plain RFC 6902 JSON Patch (no endpoint policy) to `document`
/// and returns the result, as the json-patch-tests suite checks it.
#[wasm_bindgen(js_name = "applyPatch", unchecked_return_type = "JsonValue")]
pub fn apply_patch(
    #[wasm_bindgen(unchecked_param_type = "JsonValue")] document: JsValue,
    #[wasm_bindgen(unchecked_param_type = "JsonValue")] patch: JsValue,
) -> JsResult<JsValue> {
    let document = json_text_arg(&document, "document")?.unwrap_or_else(|| "null".into());
    let patch_json = json_bytes_arg(&patch, "patch")?;
    let mut document =
        cloudbackup_core::error::json_value_from_slice("document", document.as_bytes())?;
    let patch = cloudbackup_core::patch::parse_patch(&patch_json)?;
    cloudbackup_core::patch::apply_patch(&mut document, &patch)?;
    json_to_js(&document)
}
