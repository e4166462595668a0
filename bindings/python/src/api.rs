//! The domain model, the operations (request building and response
//! parsing), the lifecycle rules and JSON Patch validation, by name, with
//! Python objects (or JSON text) in and Python objects out: thin wrappers
//! over the core's by-name layer.

use cloudbackup_core::api::{Auth, Response};
use cloudbackup_core::by_name;
use cloudbackup_core::error::{from_json_slice, json_value_from_slice};
use pyo3::prelude::*;
use serde_json::json;

use crate::error::PyResultCb;
use crate::value::{json_text, opt_json_value, to_py};

/// The names of every model type (`"v1.Agent"`, ..., `"v2.Restore"`, ...).
/// Any name also takes a `[]` suffix for a JSON array of that type.
#[pyfunction]
fn model_types() -> Vec<&'static str> {
    by_name::model_types().to_vec()
}

/// Parses `data` (JSON text, bytes-like JSON or Python objects) as the
/// model type `type_name` exactly as the Rust API checks it, and returns
/// its normal form as Python objects.
#[pyfunction]
fn parse_model<'py>(
    py: Python<'py>,
    type_name: &str,
    data: &Bound<'py, PyAny>,
) -> PyResultCb<Bound<'py, PyAny>> {
    let data = json_text(data, "data")?;
    to_py(py, "model", &by_name::parse_model(type_name, &data)?)
}

/// Like `parse_model`, but returns the normal form as JSON text (what
/// `model_json` hands out).
#[pyfunction]
fn model_json(type_name: &str, data: &Bound<'_, PyAny>) -> PyResultCb<String> {
    let data = json_text(data, "data")?;
    crate::error::to_json("model", &by_name::parse_model(type_name, &data)?)
}

/// Every operation: `[{"name", "method", "path", "summary"}...]`.
#[pyfunction]
fn operations(py: Python<'_>) -> PyResultCb<Bound<'_, PyAny>> {
    to_py(py, "operations", by_name::operations())
}

/// Builds the request of `operation` from its parameters (a dict, JSON
/// object text, or `None`) for the account `token` / `tenant_id` (and, for
/// an agent, `agent_id`, sent as `X-Agent-Id`); returns `{"method", "path",
/// "query", "headers", "body"}`.
#[pyfunction]
#[pyo3(signature = (operation, params, token, tenant_id, agent_id=None))]
fn build_request<'py>(
    py: Python<'py>,
    operation: &str,
    params: Option<&Bound<'py, PyAny>>,
    token: &str,
    tenant_id: &str,
    agent_id: Option<&str>,
) -> PyResultCb<Bound<'py, PyAny>> {
    let params = opt_json_value(params, "params")?;
    let auth = Auth::new(token, tenant_id)?;
    let auth = match agent_id {
        Some(id) => auth.with_agent_id(id)?,
        None => auth,
    };
    let request = by_name::build_request(operation, &params, &auth)?;
    Ok(crate::value::value_to_py(py, request.to_json_value()?)?)
}

/// Parses the response received for `operation` (built from `params`):
/// HTTP `status`, `headers` (a list of `(name, value)` pairs or `None`)
/// and the body (bytes-like). Returns the result as Python objects.
#[pyfunction]
#[pyo3(signature = (operation, params, status, headers, body))]
fn parse_response<'py>(
    py: Python<'py>,
    operation: &str,
    params: Option<&Bound<'py, PyAny>>,
    status: i64,
    headers: Option<&Bound<'py, PyAny>>,
    body: &Bound<'py, PyAny>,
) -> PyResultCb<Bound<'py, PyAny>> {
    let params = opt_json_value(params, "params")?;
    let headers = opt_json_value(headers, "headers")?;
    let body = crate::input::bytes_in(body, "body")?;
    let mut head = json!({ "status": status });
    if !headers.is_null() {
        head["headers"] = headers;
    }
    let mut response = Response::from_json_value(&head)?;
    response.body = body.as_slice().to_vec();
    to_py(
        py,
        "result",
        &by_name::parse_response(operation, &params, &response)?,
    )
}

/// Whether `actor` may move a `resource` from state `from` to `to`;
/// returns `{"changed": bool, "state": "<v2 name>"}`.
#[pyfunction]
fn transition<'py>(
    py: Python<'py>,
    resource: &str,
    from: &str,
    to: &str,
    actor: &str,
) -> PyResultCb<Bound<'py, PyAny>> {
    to_py(
        py,
        "transition",
        &by_name::transition_by_name(resource, from, to, actor)?,
    )
}

/// The actions a console may offer a user for a `resource` in `state`.
#[pyfunction]
fn allowed_actions(resource: &str, state: &str) -> PyResultCb<Vec<&'static str>> {
    Ok(by_name::allowed_actions_by_name(resource, state)?)
}

/// The states `actor` may move a `resource` to from `state` (no-ops
/// excluded).
#[pyfunction]
fn allowed_targets(resource: &str, state: &str, actor: &str) -> PyResultCb<Vec<&'static str>> {
    Ok(by_name::allowed_targets_by_name(resource, state, actor)?)
}

/// Validates a JSON Patch for the v2 PATCH `endpoint` against the current
/// `resource` (each JSON text, bytes-like JSON or Python objects), sent by
/// `actor`; returns the patched resource. `vault_empty` matters only for
/// an agent's `/vault/region` (`None`: unknown, treated as not empty).
#[pyfunction]
#[pyo3(signature = (endpoint, resource, patch, actor, vault_empty=None))]
fn validate_patch<'py>(
    py: Python<'py>,
    endpoint: &str,
    resource: &Bound<'py, PyAny>,
    patch: &Bound<'py, PyAny>,
    actor: &str,
    vault_empty: Option<bool>,
) -> PyResultCb<Bound<'py, PyAny>> {
    let resource = json_text(resource, "resource")?;
    let patch = json_text(patch, "patch")?;
    let patched = by_name::validate_patch_json(endpoint, &resource, &patch, actor, vault_empty)?;
    to_py(py, "patched resource", &patched)
}

/// Applies an RFC 6902 JSON Patch to a JSON document (each JSON text,
/// bytes-like JSON or Python objects) with no endpoint policy, all or
/// nothing; returns the new document.
#[pyfunction]
fn apply_patch<'py>(
    py: Python<'py>,
    document: &Bound<'py, PyAny>,
    patch: &Bound<'py, PyAny>,
) -> PyResultCb<Bound<'py, PyAny>> {
    let document = json_text(document, "document")?;
    let patch = json_text(patch, "patch")?;
    let mut doc = json_value_from_slice("document", &document)?;
    let patch = cloudbackup_core::patch::parse_patch(&patch)?;
    cloudbackup_core::patch::apply_patch(&mut doc, &patch)?;
    Ok(crate::value::value_to_py(py, doc)?)
}

/// Patterns (docs/PATTERNS.md) equivalent to v2 path filters (`filters`: a
/// list of `{"type": "file"|"folder", "path"}`, or its JSON text).
#[pyfunction]
fn filter_globs(filters: &Bound<'_, PyAny>) -> PyResultCb<Vec<String>> {
    let filters: Vec<cloudbackup_core::model::v2::common::PathFilter> =
        from_json_slice("filters", &json_text(filters, "filters")?)?;
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

/// The stable code of every core error class (`"invalid_json"`, ...), in
/// the core's declaration order, for the Python package's own checks.
#[pyfunction]
fn error_codes() -> Vec<&'static str> {
    cloudbackup_core::ErrorCode::ALL
        .iter()
        .map(|c| c.as_str())
        .collect()
}

/// Adds this file's functions to the module.
pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(model_types, m)?)?;
    m.add_function(wrap_pyfunction!(parse_model, m)?)?;
    m.add_function(wrap_pyfunction!(model_json, m)?)?;
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
