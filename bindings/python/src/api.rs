//! The domain model, the operations (request building and response
//! parsing), the lifecycle rules and JSON Patch validation, by name, with
//! JSON text in and out: thin wrappers over the core's by-name layer.

use cloudbackup_core::api::{self, Auth, Response};
use cloudbackup_core::error::from_json_slice;
use cloudbackup_core::{dynamic, model};
use pyo3::prelude::*;
use serde_json::{json, Value};

use crate::error::{to_json, PyResultCb};
use crate::input::{bytes_in, opt_json};

/// The names of every model type (`"v1.Agent"`, ..., `"v2.Restore"`, ...).
/// Any name also takes a `[]` suffix for a JSON array of that type.
#[pyfunction]
fn model_types() -> Vec<&'static str> {
    model::model_types().to_vec()
}

/// Parses `data` (JSON as bytes-like) as the model type `type_name` exactly
/// as the Rust API checks it, and returns it serialised again in its normal
/// form (JSON text).
#[pyfunction]
fn parse_model(type_name: &str, data: &Bound<'_, PyAny>) -> PyResultCb<String> {
    let data = bytes_in(data, "data")?;
    to_json("model", &model::parse_model(type_name, data.as_slice())?)
}

/// Every operation, as JSON: `[{"name", "method", "path", "summary"}...]`.
#[pyfunction]
fn operations() -> PyResultCb<String> {
    to_json("operations", api::operations())
}

/// Builds the request of `operation` from its parameters (JSON object text,
/// or `None`) for the account `token` / `tenant_id` (and, for an agent,
/// `agent_id`, sent as `X-Agent-Id`); returns JSON `{"method", "path",
/// "query", "headers", "body"}`.
#[pyfunction]
#[pyo3(signature = (operation, params_json, token, tenant_id, agent_id=None))]
fn build_request(
    operation: &str,
    params_json: Option<&str>,
    token: &str,
    tenant_id: &str,
    agent_id: Option<&str>,
) -> PyResultCb<String> {
    let params: Value = opt_json(params_json, "params_json")?;
    let auth = Auth::new(token, tenant_id)?;
    let auth = match agent_id {
        Some(id) => auth.with_agent_id(id)?,
        None => auth,
    };
    let request = api::build_request(operation, &params, &auth)?;
    to_json("request", &request.to_json_value()?)
}

/// Parses the response received for `operation` (built from `params_json`):
/// HTTP `status`, `headers_json` (JSON array of `[name, value]` pairs or
/// `None`) and the body (bytes-like). Returns the result as JSON text.
#[pyfunction]
#[pyo3(signature = (operation, params_json, status, headers_json, body))]
fn parse_response(
    operation: &str,
    params_json: Option<&str>,
    status: i64,
    headers_json: Option<&str>,
    body: &Bound<'_, PyAny>,
) -> PyResultCb<String> {
    let params: Value = opt_json(params_json, "params_json")?;
    let headers: Value = opt_json(headers_json, "headers_json")?;
    let body = bytes_in(body, "body")?;
    let mut head = json!({ "status": status });
    if !headers.is_null() {
        head["headers"] = headers;
    }
    let mut response = Response::from_json_value(&head)?;
    response.body = body.as_slice().to_vec();
    to_json(
        "result",
        &api::parse_response(operation, &params, &response)?,
    )
}

/// Whether `actor` may move a `resource` from state `from` to `to`;
/// returns JSON `{"changed": bool, "state": "<v2 name>"}`.
#[pyfunction]
fn transition(resource: &str, from: &str, to: &str, actor: &str) -> PyResultCb<String> {
    to_json(
        "transition",
        &dynamic::transition_by_name(resource, from, to, actor)?,
    )
}

/// The actions a console may offer a user for a `resource` in `state`.
#[pyfunction]
fn allowed_actions(resource: &str, state: &str) -> PyResultCb<Vec<&'static str>> {
    Ok(dynamic::allowed_actions_by_name(resource, state)?)
}

/// The states `actor` may move a `resource` to from `state` (no-ops
/// excluded).
#[pyfunction]
fn allowed_targets(resource: &str, state: &str, actor: &str) -> PyResultCb<Vec<&'static str>> {
    Ok(dynamic::allowed_targets_by_name(resource, state, actor)?)
}

/// Validates a JSON Patch (bytes-like JSON) for the v2 PATCH `endpoint`
/// against the current `resource` (bytes-like JSON), sent by `actor`;
/// returns the patched resource as JSON text. `vault_empty` matters only
/// for an agent's `/vault/region` (`None`: unknown, treated as not empty).
#[pyfunction]
#[pyo3(signature = (endpoint, resource, patch, actor, vault_empty=None))]
fn validate_patch(
    endpoint: &str,
    resource: &Bound<'_, PyAny>,
    patch: &Bound<'_, PyAny>,
    actor: &str,
    vault_empty: Option<bool>,
) -> PyResultCb<String> {
    let resource = bytes_in(resource, "resource")?;
    let patch = bytes_in(patch, "patch")?;
    let patched = dynamic::validate_patch_json(
        endpoint,
        resource.as_slice(),
        patch.as_slice(),
        actor,
        vault_empty,
    )?;
    to_json("patched resource", &patched)
}

/// Applies an RFC 6902 JSON Patch (bytes-like JSON) to a JSON document
/// (bytes-like) with no endpoint policy, all or nothing; returns the new
/// document as JSON text.
#[pyfunction]
fn apply_patch(document: &Bound<'_, PyAny>, patch: &Bound<'_, PyAny>) -> PyResultCb<String> {
    let document = bytes_in(document, "document")?;
    let patch = bytes_in(patch, "patch")?;
    let mut doc: Value = from_json_slice("document", document.as_slice())?;
    let patch = cloudbackup_core::patch::parse_patch(patch.as_slice())?;
    cloudbackup_core::patch::apply_patch(&mut doc, &patch)?;
    to_json("patched document", &doc)
}

/// Patterns (docs/PATTERNS.md) equivalent to v2 path filters (`filters_json`: a JSON
/// array of `{"type": "file"|"folder", "path"}`).
#[pyfunction]
fn filter_globs(filters_json: &str) -> PyResultCb<Vec<String>> {
    let filters: Vec<model::v2::common::PathFilter> =
        from_json_slice("filters_json", filters_json.as_bytes())?;
    Ok(cloudbackup_core::engine::filter_globs(&filters))
}

/// Encrypts `passphrase` for an agent whose RSA public key is
/// `modulus_hex` / `exponent_hex`, as `EncryptedPassword` expects (RSA
/// PKCS#1 v1.5, lower-case hex).
#[pyfunction]
fn encrypt_password_for_agent(
    modulus_hex: &str,
    exponent_hex: &str,
    passphrase: &str,
) -> PyResultCb<String> {
    Ok(cloudbackup_core::api::encrypt_password_for_agent(
        modulus_hex,
        exponent_hex,
        passphrase,
    )?)
}

/// The stable code of every core error class (`"invalid_json"`, ...), for
/// the Python package's own checks.
#[pyfunction]
fn error_codes() -> Vec<&'static str> {
    use cloudbackup_core::ErrorCode as C;
    [
        C::InvalidJson,
        C::InvalidValue,
        C::InvalidArgument,
        C::Api,
        C::UnexpectedResponse,
        C::Transition,
        C::PatchRejected,
        C::PatchConflict,
        C::PatchForbidden,
        C::WrongPassword,
        C::Corrupt,
        C::ForeignVault,
        C::UnsupportedVersion,
        C::NotFound,
    ]
    .iter()
    .map(|c| c.as_str())
    .collect()
}

/// Adds this file's functions to the module.
pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(model_types, m)?)?;
    m.add_function(wrap_pyfunction!(parse_model, m)?)?;
    m.add_function(wrap_pyfunction!(operations, m)?)?;
    m.add_function(wrap_pyfunction!(build_request, m)?)?;
    m.add_function(wrap_pyfunction!(parse_response, m)?)?;
    m.add_function(wrap_pyfunction!(transition, m)?)?;
    m.add_function(wrap_pyfunction!(allowed_actions, m)?)?;
    m.add_function(wrap_pyfunction!(allowed_targets, m)?)?;
    m.add_function(wrap_pyfunction!(validate_patch, m)?)?;
    m.add_function(wrap_pyfunction!(apply_patch, m)?)?;
    m.add_function(wrap_pyfunction!(filter_globs, m)?)?;
    m.add_function(wrap_pyfunction!(encrypt_password_for_agent, m)?)?;
    m.add_function(wrap_pyfunction!(error_codes, m)?)?;
    Ok(())
}
