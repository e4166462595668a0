//! v1.0 operations (`/v1.0/{tenant_id}/...`), one type per method of the
//! reference (`rcbu.wadl`, plus change-log-level from the rst pages), grouped
//! by resource. Path ids are strings (checked with
//! [`require_id`](crate::api::require_id)); body ids are numbers.

pub mod activity;
pub mod agents;
pub mod backups;
pub mod configurations;
pub mod restores;
pub mod users;

use serde::Serialize;

use crate::api::{check_status, Auth, Method, Request, Response, JSON};
use crate::{Error, Result};

/// The API version segment of every v1 path.
const V1: &str = "v1.0";

/// A body-less request under `/v1.0/{tenant_id}/`.
fn request(auth: &Auth, method: Method, rest: &[&str]) -> Request {
    auth.request(method, V1, rest)
}

/// A request under `/v1.0/{tenant_id}/` with a JSON body.
fn json_request<T: Serialize + ?Sized>(
    auth: &Auth,
    method: Method,
    rest: &[&str],
    body: &T,
) -> Result<Request> {
    request(auth, method, rest).json_body(JSON, body)
}

/// Parses a plain-text body such as the RSE request id that encryption
/// operations answer (`0cee72c7-...`, sometimes quoted, often indented).
fn parse_text(operation: &str, response: &Response, ok: &[u16]) -> Result<String> {
    check_status(operation, response, ok)?;
    let text = std::str::from_utf8(&response.body).map_err(|e| Error::InvalidJson {
        what: operation.to_string(),
        message: format!("expected a text body: {e}"),
    })?;
    let text = text.trim();
    let text = text
        .strip_prefix('"')
        .and_then(|t| t.strip_suffix('"'))
        .unwrap_or(text);
    if text.is_empty() {
        return Err(Error::InvalidJson {
            what: operation.to_string(),
            message: "expected a request id, got an empty body".into(),
        });
    }
    Ok(text.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_bodies_are_trimmed_and_unquoted() {
        let id = "0cee72c7-015c-493b-b5fe-a896ae444c34";
        for body in [format!("      {id}"), format!("\"{id}\"\n"), id.to_string()] {
            assert_eq!(
                parse_text("x", &Response::new(200, body), &[200]).unwrap(),
                id
            );
        }
        assert!(parse_text("x", &Response::new(200, "  "), &[200]).is_err());
        assert!(parse_text("x", &Response::new(403, "no"), &[200]).is_err());
    }
}
