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

use crate::api::{require_id, Auth, Method, Page, Request, JSON_PATCH};
use crate::{Error, Result};

/// A paged GET of `segments` under the project .
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
