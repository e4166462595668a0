//! v2 operations (`/v2/{project_id}/...`).

pub mod activities;
pub mod agents;
pub mod backups;
pub mod browse;
pub mod cleanups;
pub mod configurations;
pub mod events;
pub mod logfiles;
pub mod restores;
pub mod settings;
pub mod vault;

use json_patch::Patch;

use crate::api::{require_id, Auth, Method, Page, Request, AGENT_ID_HEADER, JSON_PATCH};
use crate::{Error, Result};

/// The header an agent names itself in (see agent-header.rst).
pub(crate) const AGENT_HEADER: &str = AGENT_ID_HEADER;

/// Adds `X-Agent-Id: {agent_id}` when the call is an agent's (`Some`), after
/// checking the id, named `field` in errors; a user's call (`None`) is left
/// as it is. The reference asks agents to send the header on every call.
/// When the auth context already named the agent ([`Auth::with_agent_id`]),
/// the header is there once: the parameter must name the same agent.
pub(crate) fn with_agent_header(
    request: Request,
    field: &str,
    agent_id: Option<&str>,
) -> Result<Request> {
    match agent_id {
        Some(id) => {
            require_id(field, id)?;
            match request.header_value(AGENT_HEADER) {
                Some(existing) if existing == id => Ok(request),
                Some(existing) => Err(Error::argument(
                    field,
                    format!("{id:?} differs from the agent id of the auth context ({existing:?})"),
                )),
                None => Ok(request.header(AGENT_HEADER, id)),
            }
        }
        None => Ok(request),
    }
}

/// A paged GET of `segments` under the project.
pub(crate) fn paged_get(auth: &Auth, segments: &[&str], page: &Page) -> Result<Request> {
    page.apply(auth.request(Method::Get, "v2", segments))
}

/// `{method} /v2/{project_id}/{collection}/{id}/{tail...}`, after checking
/// the id (named `id_name` in errors).
pub(crate) fn item_request(
    auth: &Auth,
    method: Method,
    collection: &str,
    id_name: &str,
    id: &str,
    tail: &[&str],
) -> Result<Request> {
    require_id(id_name, id)?;
    let mut segments = vec![collection, id];
    segments.extend_from_slice(tail);
    Ok(auth.request(method, "v2", &segments))
}

/// `{method} /v2/{project_id}/{collection}/{id}/{sub}[/{sub_id}]`, after
/// checking the id and then the sub-resource's id (each named in errors):
/// the browse, vault and log-file requests under an agent or a backup.
pub(crate) fn sub_item_request(
    auth: &Auth,
    method: Method,
    (collection, id_name, id): (&str, &str, &str),
    sub: &str,
    sub_id: Option<(&str, &str)>,
) -> Result<Request> {
    require_id(id_name, id)?;
    match sub_id {
        Some((sub_id_name, sub_id)) => {
            require_id(sub_id_name, sub_id)?;
            Ok(auth.request(method, "v2", &[collection, id, sub, sub_id]))
        }
        None => Ok(auth.request(method, "v2", &[collection, id, sub])),
    }
}

/// `PATCH /v2/{project_id}/{collection}/{id}` with `patch` as an
/// `application/json-patch+json` body. An empty patch is refused: it would
/// change nothing, so sending one is a caller's mistake.
pub(crate) fn patch_request(
    auth: &Auth,
    collection: &str,
    id_name: &str,
    id: &str,
    patch: &Patch,
) -> Result<Request> {
    if patch.0.is_empty() {
        return Err(Error::argument("patch", "must hold at least one operation"));
    }
    item_request(auth, Method::Patch, collection, id_name, id, &[])?.json_body(JSON_PATCH, patch)
}
