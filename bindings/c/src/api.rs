//! The domain model, the operations (request building and response
//! parsing), the lifecycle rules and JSON Patch validation, by name with
//! JSON in and out: thin wrappers over the core's by-name layer.

use std::ffi::c_char;
use std::os::raw::c_int;

use cloudbackup_core::api::{Auth, Response};
use cloudbackup_core::by_name;
use cloudbackup_core::error::json_value_from_slice;
use serde_json::{json, Value};

use crate::ffi::{
    argument, guard, json_string, try_opt_str, try_out, try_slice, try_str, FfiResult,
};
use crate::status::cb_status;

/// Reads an optional JSON argument given as a C string (NULL: `null`).
/// The pointer contract of [`crate::ffi`] applies: pass only an export's
/// own arguments.
fn opt_json_arg(p: *const c_char, name: &'static str) -> FfiResult<Value> {
    match try_opt_str!(p, name) {
        None => Ok(Value::Null),
        Some(text) => Ok(json_value_from_slice(name, text.as_bytes())?),
    }
}

/// The names of every model type, as a JSON array of strings
/// (`["v1.Agent", ..., "v2.Restore", ...]`). Any name also takes a `[]`
/// suffix for a JSON array of that type.
///
/// # Safety
/// `out_json` points to a writable `char *`; the string it receives is
/// freed with `cb_string_free`.
#[no_mangle]
pub unsafe extern "C" fn cb_model_types(out_json: *mut *mut c_char) -> cb_status {
    guard(|| {
        let out = try_out!(out_json);
        *out = json_string(&json!(by_name::model_types()))?;
        Ok(())
    })
}

/// Parses `json` (`len` bytes) as the model type `type_name` (e.g.
/// `"v2.Restore"`, `"v1.Agent[]"`) exactly as the Rust API checks it, and
/// returns it serialised again in its normal form (unknown members dropped,
/// quirky values kept as they came, optional members as `null`).
///
/// Errors: `CB_INVALID_ARGUMENT` for an unknown type name (the message
/// suggests close names), `CB_INVALID_JSON` for bytes that are not JSON or
/// do not fit the type (the message names the offending member).
///
/// # Safety
/// `type_name` is a NUL-terminated string; `json` points to `len` readable
/// bytes (or is NULL with `len` 0); `out_json` points to a writable
/// `char *` (freed with `cb_string_free`).
#[no_mangle]
pub unsafe extern "C" fn cb_model_parse(
    type_name: *const c_char,
    json: *const u8,
    len: usize,
    out_json: *mut *mut c_char,
) -> cb_status {
    guard(|| {
        let out = try_out!(out_json);
        let type_name = try_str!(type_name);
        let json = try_slice!(json, len);
        *out = json_string(&by_name::parse_model(type_name, json)?)?;
        Ok(())
    })
}

/// Every operation, as a JSON array of `{"name", "method", "path",
/// "summary"}` (e.g. `{"name": "v2.restores.get_restore", "method": "GET",
/// "path": "/v2/{project_id}/restores/{restore_id}", ...}`).
///
/// # Safety
/// `out_json` points to a writable `char *` (freed with `cb_string_free`).
#[no_mangle]
pub unsafe extern "C" fn cb_operations(out_json: *mut *mut c_char) -> cb_status {
    guard(|| {
        let out = try_out!(out_json);
        let list = serde_json::to_value(by_name::operations())
            .map_err(|e| cloudbackup_core::Error::json("operations", &e))?;
        *out = json_string(&list)?;
        Ok(())
    })
}

/// Builds the request of `operation` (e.g. `"v2.restores.get_restore"`)
/// from its parameters `params_json` (a JSON object of the operation's
/// fields, e.g. `{"restore_id": "e87e6f7d"}`; NULL for none) for the account
/// `token` / `tenant_id`, and returns it as JSON: `{"method", "path",
/// "query": [[name, value]...], "headers": [[name, value]...], "body": text
/// or null}`. The host sends it with any HTTP client.
///
/// Errors: `CB_INVALID_JSON` when `params_json` is not JSON;
/// `CB_INVALID_ARGUMENT` for an unknown operation, parameters that do not
/// fit (the message names the field) or an empty token or tenant.
///
/// # Safety
/// The strings are NUL-terminated (`params_json` may be NULL); `out_json`
/// points to a writable `char *` (freed with `cb_string_free`).
#[no_mangle]
pub unsafe extern "C" fn cb_build_request(
    operation: *const c_char,
    params_json: *const c_char,
    token: *const c_char,
    tenant_id: *const c_char,
    out_json: *mut *mut c_char,
) -> cb_status {
    guard(|| {
        let out = try_out!(out_json);
        let operation = try_str!(operation);
        let params = opt_json_arg(params_json, "params_json")?;
        let token = try_str!(token);
        let tenant_id = try_str!(tenant_id);
        let auth = Auth::new(token, tenant_id)?;
        let request = by_name::build_request(operation, &params, &auth)?;
        *out = json_string(&request.to_json_value()?)?;
        Ok(())
    })
}

/// As `cb_build_request`, for an agent: the request also carries
/// `X-Agent-Id: agent_id`, as every call an agent makes should ("Agents
/// communicating with the Cloud Backup API should always send an
/// `X-Agent-Id` header"). An operation's own agent parameter (e.g.
/// `agent_id` of `v2.backups.start_backup`) may then be left out, or must
/// name the same agent.
///
/// Errors: as `cb_build_request`; `CB_INVALID_ARGUMENT` also for an empty
/// `agent_id` or an operation parameter naming another agent.
///
/// # Safety
/// The strings are NUL-terminated (`params_json` may be NULL); `out_json`
/// points to a writable `char *` (freed with `cb_string_free`).
#[no_mangle]
pub unsafe extern "C" fn cb_build_request_as_agent(
    operation: *const c_char,
    params_json: *const c_char,
    token: *const c_char,
    tenant_id: *const c_char,
    agent_id: *const c_char,
    out_json: *mut *mut c_char,
) -> cb_status {
    guard(|| {
        let out = try_out!(out_json);
        let operation = try_str!(operation);
        let params = opt_json_arg(params_json, "params_json")?;
        let token = try_str!(token);
        let tenant_id = try_str!(tenant_id);
        let agent_id = try_str!(agent_id);
        let auth = Auth::new(token, tenant_id)?.with_agent_id(agent_id)?;
        let request = by_name::build_request(operation, &params, &auth)?;
        *out = json_string(&request.to_json_value()?)?;
        Ok(())
    })
}

/// Parses the response the host received for `operation`, built from
/// `params_json` (the same parameters as the request; NULL for none):
/// HTTP `status`, `headers_json` (a JSON array of `[name, value]` pairs, or
/// NULL for none) and the body (`body_len` bytes). Returns the operation's
/// result as JSON (`null` for "no content").
///
/// Errors: `CB_API` for an error status (the message has the status, the
/// service's message, its list of errors and any Retry-After;
/// `cb_last_error_details` gives them as JSON), `CB_UNEXPECTED_RESPONSE` for a
/// status the operation does not define, `CB_INVALID_JSON` for a body (or
/// `params_json`/`headers_json`) that is not the JSON expected,
/// `CB_INVALID_ARGUMENT` for an unknown operation, bad parameters, headers
/// that are not pairs of strings, or a status outside 100..=599.
///
/// # Safety
/// The strings are NUL-terminated (`params_json`, `headers_json` may be
/// NULL); `body` points to `body_len` readable bytes (or is NULL with
/// `body_len` 0); `out_json` points to a writable `char *` (freed with
/// `cb_string_free`).
#[no_mangle]
pub unsafe extern "C" fn cb_parse_response(
    operation: *const c_char,
    params_json: *const c_char,
    status: c_int,
    headers_json: *const c_char,
    body: *const u8,
    body_len: usize,
    out_json: *mut *mut c_char,
) -> cb_status {
    guard(|| {
        let out = try_out!(out_json);
        let operation = try_str!(operation);
        let params = opt_json_arg(params_json, "params_json")?;
        let headers = opt_json_arg(headers_json, "headers_json")?;
        let body = try_slice!(body, body_len);
        let mut head = json!({ "status": status });
        if !headers.is_null() {
            head["headers"] = headers;
        }
        // The core checks the status and headers; the body goes in as bytes.
        let mut response = Response::from_json_value(&head)?;
        response.body = body.to_vec();
        *out = json_string(&by_name::parse_response(operation, &params, &response)?)?;
        Ok(())
    })
}

/// Whether `actor` (`"user"`, `"agent"`, `"scheduler"`) may move a
/// `resource` (`"restore"`, `"backup"`, `"cleanup"`, `"logfile"`) from state
/// `from` to state `to` (v2 wire names such as `"in_progress"`; restores and
/// backups also take v1 names such as `"InProgress"`). Returns
/// `{"changed": bool, "state": "<v2 name>"}`.
///
/// Errors: `CB_TRANSITION` when the transition is refused,
/// `CB_INVALID_ARGUMENT` for an unknown name (the message lists the
/// accepted ones).
///
/// # Safety
/// The strings are NUL-terminated; `out_json` points to a writable `char *`
/// (freed with `cb_string_free`).
#[no_mangle]
pub unsafe extern "C" fn cb_lifecycle_transition(
    resource: *const c_char,
    from: *const c_char,
    to: *const c_char,
    actor: *const c_char,
    out_json: *mut *mut c_char,
) -> cb_status {
    guard(|| {
        let out = try_out!(out_json);
        let resource = try_str!(resource);
        let from = try_str!(from);
        let to = try_str!(to);
        let actor = try_str!(actor);
        *out = json_string(&by_name::transition_by_name(resource, from, to, actor)?)?;
        Ok(())
    })
}

/// The actions (`"start"`, `"stop"`) a console may offer a user for a
/// `resource` in `state`, as a JSON array of strings.
///
/// Errors: `CB_INVALID_ARGUMENT` for an unknown resource or state.
///
/// # Safety
/// The strings are NUL-terminated; `out_json` points to a writable `char *`
/// (freed with `cb_string_free`).
#[no_mangle]
pub unsafe extern "C" fn cb_lifecycle_allowed_actions(
    resource: *const c_char,
    state: *const c_char,
    out_json: *mut *mut c_char,
) -> cb_status {
    guard(|| {
        let out = try_out!(out_json);
        let resource = try_str!(resource);
        let state = try_str!(state);
        *out = json_string(&json!(by_name::allowed_actions_by_name(resource, state)?))?;
        Ok(())
    })
}

/// The states (v2 wire names) `actor` may move a `resource` to from
/// `state`, no-ops excluded, as a JSON array of strings.
///
/// Errors: `CB_INVALID_ARGUMENT` for an unknown resource, state or actor.
///
/// # Safety
/// The strings are NUL-terminated; `out_json` points to a writable `char *`
/// (freed with `cb_string_free`).
#[no_mangle]
pub unsafe extern "C" fn cb_lifecycle_allowed_targets(
    resource: *const c_char,
    state: *const c_char,
    actor: *const c_char,
    out_json: *mut *mut c_char,
) -> cb_status {
    guard(|| {
        let out = try_out!(out_json);
        let resource = try_str!(resource);
        let state = try_str!(state);
        let actor = try_str!(actor);
        let targets = by_name::allowed_targets_by_name(resource, state, actor)?;
        *out = json_string(&json!(targets))?;
        Ok(())
    })
}

/// Validates a JSON Patch (`patch`, `patch_len` bytes) for the v2 PATCH
/// `endpoint` (`"restore"`, `"backup"`, `"cleanup"`, `"configuration"`,
/// `"agent"`, `"logfile"`) against the current resource (`resource`,
/// `resource_len` bytes of JSON), sent by `actor`, and returns the patched
/// resource as JSON. `vault_empty` says whether the agent's vault is empty
/// (only an agent's `/vault/region` depends on it): 1 yes, 0 no, -1 unknown
/// (treated as not empty).
///
/// Errors: `CB_PATCH_REJECTED` (the service would answer 400),
/// `CB_PATCH_CONFLICT` (409), `CB_PATCH_FORBIDDEN` (403); `CB_INVALID_JSON`
/// for a resource or patch that is not JSON; `CB_INVALID_ARGUMENT` for an
/// unknown endpoint or actor or a `vault_empty` other than -1, 0, 1.
///
/// # Safety
/// The strings are NUL-terminated; `resource` and `patch` point to their
/// lengths of readable bytes (or are NULL with length 0); `out_json` points
/// to a writable `char *` (freed with `cb_string_free`).
#[no_mangle]
pub unsafe extern "C" fn cb_patch_validate(
    endpoint: *const c_char,
    resource: *const u8,
    resource_len: usize,
    patch: *const u8,
    patch_len: usize,
    actor: *const c_char,
    vault_empty: c_int,
    out_json: *mut *mut c_char,
) -> cb_status {
    guard(|| {
        let out = try_out!(out_json);
        let endpoint = try_str!(endpoint);
        let resource = try_slice!(resource, resource_len);
        let patch = try_slice!(patch, patch_len);
        let actor = try_str!(actor);
        let vault_empty = match vault_empty {
            -1 => None,
            0 => Some(false),
            1 => Some(true),
            other => {
                return Err(argument(
                    "vault_empty",
                    format!("{other} is not -1 (unknown), 0 (no) or 1 (yes)"),
                ))
            }
        };
        let patched = by_name::validate_patch_json(endpoint, resource, patch, actor, vault_empty)?;
        *out = json_string(&patched)?;
        Ok(())
    })
}
