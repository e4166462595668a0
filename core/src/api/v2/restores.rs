//! Restore operations (`/v2/{project_id}/restores`): start, list, details,
//! update (JSON Patch) and errors. The event list of a restore is in
//! [`events`](super::events).

use json_patch::Patch;
use serde::{Deserialize, Serialize};

use super::{item_request, paged_get, patch_request, with_agent_header};
use crate::api::{parse_empty, parse_json, Auth, Method, Operation, Page, Request, Response, JSON};
use crate::model::v2::common::ErrorReport;
use crate::model::v2::restore::{Restore, RestoreList, StartRestoreBody};
use crate::Result;

/// `POST /v2/{project_id}/restores` (201): starts a restore.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StartRestore {
    /// What to restore, where, and the encrypted vault password.
    pub body: StartRestoreBody,
}

impl Operation for StartRestore {
    type Output = Restore;
    const NAME: &'static str = "start restore";
    const METHOD: Method = Method::Post;
    const PATH: &'static str = "/v2/{project_id}/restores";

    fn request(&self, auth: &Auth) -> Result<Request> {
        self.body.validate()?;
        auth.request(Self::METHOD, "v2", &["restores"])
            .json_body(JSON, &self.body)
    }

    fn parse(&self, response: &Response) -> Result<Restore> {
        parse_json(Self::NAME, response, &[201])
    }
}

/// `GET /v2/{project_id}/restores` (200): a page of the project's restores.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ListRestores {
    /// Paging.
    #[serde(default)]
    pub page: Page,
}

impl Operation for ListRestores {
    type Output = RestoreList;
    const NAME: &'static str = "list restores";
    const METHOD: Method = Method::Get;
    const PATH: &'static str = "/v2/{project_id}/restores";

    fn request(&self, auth: &Auth) -> Result<Request> {
        paged_get(auth, &["restores"], &self.page)
    }

    fn parse(&self, response: &Response) -> Result<RestoreList> {
        parse_json(Self::NAME, response, &[200])
    }
}

/// `GET /v2/{project_id}/restores/{restore_id}` (200): one restore.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GetRestore {
    /// The restore.
    pub restore_id: String,
}

impl Operation for GetRestore {
    type Output = Restore;
    const NAME: &'static str = "get restore";
    const METHOD: Method = Method::Get;
    const PATH: &'static str = "/v2/{project_id}/restores/{restore_id}";

    fn request(&self, auth: &Auth) -> Result<Request> {
        item_request(
            auth,
            Self::METHOD,
            "restores",
            "restore_id",
            &self.restore_id,
            &[],
        )
    }

    fn parse(&self, response: &Response) -> Result<Restore> {
        parse_json(Self::NAME, response, &[200])
    }
}

/// `PATCH /v2/{project_id}/restores/{restore_id}` (204): the agent reports
/// progress and results, or a user asks for a stop. A restore already in a
/// terminal state answers 409, with the service's message in
/// [`ApiError::message`](crate::api::ApiError::message).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UpdateRestore {
    /// The restore.
    pub restore_id: String,
    /// The changes (`add`/`replace` on `/state`, `/started_time`,
    /// `/ended_time`, `/errors`, `/files_restored`, `/bytes_restored`).
    pub patch: Patch,
    /// The calling agent's id, sent as `X-Agent-Id`; agents should always set
    /// it (see agent-header.rst); `None` for a user's call.
    pub agent_id: Option<String>,
}

impl Operation for UpdateRestore {
    type Output = ();
    const NAME: &'static str = "update restore";
    const METHOD: Method = Method::Patch;
    const PATH: &'static str = "/v2/{project_id}/restores/{restore_id}";

    fn request(&self, auth: &Auth) -> Result<Request> {
        let request = patch_request(
            auth,
            "restores",
            "restore_id",
            &self.restore_id,
            &self.patch,
        )?;
        with_agent_header(request, "agent_id", self.agent_id.as_deref())
    }

    fn parse(&self, response: &Response) -> Result<()> {
        parse_empty(Self::NAME, response, &[204])
    }
}

/// `GET /v2/{project_id}/restores/{restore_id}/errors` (200): the files a
/// restore failed on.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ListRestoreErrors {
    /// The restore.
    pub restore_id: String,
}

impl Operation for ListRestoreErrors {
    type Output = ErrorReport;
    const NAME: &'static str = "list restore errors";
    const METHOD: Method = Method::Get;
    const PATH: &'static str = "/v2/{project_id}/restores/{restore_id}/errors";

    fn request(&self, auth: &Auth) -> Result<Request> {
        item_request(
            auth,
            Self::METHOD,
            "restores",
            "restore_id",
            &self.restore_id,
            &["errors"],
        )
    }

    fn parse(&self, response: &Response) -> Result<ErrorReport> {
        parse_json(Self::NAME, response, &[200])
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::{ApiErrorKind, SortDir, JSON_PATCH};
    use crate::lifecycle::RestoreState;
    use crate::model::v2::common::{PathFilter, PathType};
    use crate::test_support::v2::auth;
    use crate::test_support::{assert_agent_header, assert_conflict, body, sample_v2};
    use crate::wire::HexString;
    use crate::Error;

    const ID: &str = "e87e6f7d-d166-11e4-8689-c8e0eb190e3d";

    fn filter(kind: PathType, path: &str) -> PathFilter {
        PathFilter {
            kind,
            path: path.into(),
        }
    }

    fn sample_body() -> StartRestoreBody {
        let hex: serde_json::Value =
            serde_json::from_str(sample_v2!("cbu-postRestore_request.json")).unwrap();
        StartRestoreBody {
            backup_id: "0d95d699-d16b-11e4-93bd-c8e0eb190e3d".into(),
            destination_agent_id: "74124b09-5bd3-4436-b3e4-87ef362e4df5".into(),
            destination_path: Some("/tmp/restore".into()),
            overwrite_files: false,
            encrypted_password_hex: Some(
                HexString::parse(hex["encrypted_password_hex"].as_str().unwrap()).unwrap(),
            ),
            inclusions: vec![
                filter(PathType::Folder, "/web/"),
                filter(PathType::File, "/etc/web/app.conf"),
            ],
            exclusions: vec![
                filter(PathType::Folder, "/web/cache/"),
                filter(PathType::File, "/web/cache.jpg"),
            ],
        }
    }

    #[test]
    fn start_restore_posts_the_sample_body() {
        let op = StartRestore {
            body: sample_body(),
        };
        let req = op.request(&auth()).unwrap();
        assert_eq!(
            (req.method, req.path.as_str()),
            (Method::Post, "/v2/110011/restores")
        );
        assert_eq!(req.header_value("Content-Type"), Some(JSON));
        assert_eq!(
            req.header_value("X-Auth-Token"),
            Some("0f6e9f63600142f0a970911583522217")
        );
        let expected: serde_json::Value =
            serde_json::from_str(sample_v2!("cbu-postRestore_request.json")).unwrap();
        assert_eq!(body(&req), expected);
        assert_eq!(
            op.body.encrypted_password_hex.unwrap().to_bytes().len(),
            256,
            "a 2048-bit RSA block"
        );

        let r = StartRestore {
            body: sample_body(),
        }
        .parse(&Response::new(
            201,
            sample_v2!("cbu-postRestore_response.json"),
        ))
        .unwrap();
        assert_eq!(r.state, RestoreState::StartRequested);
        assert_eq!((r.files_restored, r.started_time), (0, None));
        let e = StartRestore {
            body: sample_body(),
        }
        .parse(&Response::new(400, r#"{"message": "Invalid backup."}"#))
        .unwrap_err();
        assert!(
            matches!(e, Error::Api(ref a) if a.kind == ApiErrorKind::BadRequest && a.message.as_deref() == Some("Invalid backup.")),
            "{e}"
        );
    }

    #[test]
    fn start_restore_bodies_are_checked() {
        let mut original_place = sample_body();
        original_place.destination_path = None;
        original_place.encrypted_password_hex = None;
        let req = StartRestore {
            body: original_place,
        }
        .request(&auth())
        .unwrap();
        let sent = body(&req);
        assert!(sent["destination_path"].is_null() && sent.get("destination_path").is_some());
        assert!(sent["encrypted_password_hex"].is_null());

        let mut empty_path = sample_body();
        empty_path.destination_path = Some("".into());
        let mut nothing = sample_body();
        nothing.inclusions.clear();
        let mut no_backup = sample_body();
        no_backup.backup_id = "".into();
        for (body, name) in [
            (empty_path, "destination_path"),
            (nothing, "inclusions"),
            (no_backup, "backup_id"),
        ] {
            let e = StartRestore { body }.request(&auth()).unwrap_err();
            assert!(
                matches!(&e, Error::InvalidArgument { name: n, .. } if n == name),
                "{e}"
            );
        }
    }

    #[test]
    fn the_reference_table_spelling_of_the_agent_id_is_read() {
        let text = sample_v2!("cbu-postRestore_request.json")
            .replace("destination_agent_id", "destination_agent_ID");
        let body: StartRestoreBody = serde_json::from_str(&text).unwrap();
        assert_eq!(body, sample_body());
    }

    #[test]
    fn list_restores_pages() {
        let op = ListRestores {
            page: Page {
                marker: Some(ID.into()),
                limit: Some(100),
                sort_dir: Some(SortDir::Asc),
            },
        };
        let req = op.request(&auth()).unwrap();
        assert_eq!(req.method, Method::Get);
        assert_eq!(
            req.url(""),
            format!("/v2/110011/restores?marker={ID}&limit=100&sort_dir=asc")
        );
        let list = op
            .parse(&Response::new(
                200,
                sample_v2!("cbu-getRestores_response.json"),
            ))
            .unwrap();
        assert_eq!(list.restores[0].state, RestoreState::CompletedWithErrors);
        assert_eq!(list.restores[0].inclusions, None);
        assert_eq!(list.links.len(), 2);
        let bad = ListRestores {
            page: Page {
                limit: Some(101),
                ..Page::default()
            },
        };
        assert!(bad.request(&auth()).is_err());
        assert!(op.parse(&Response::new(500, "oops")).is_err());
    }

    #[test]
    fn get_restore_by_id() {
        let op = GetRestore {
            restore_id: ID.into(),
        };
        let req = op.request(&auth()).unwrap();
        assert_eq!(
            (req.method, req.path.as_str()),
            (
                Method::Get,
                "/v2/110011/restores/e87e6f7d-d166-11e4-8689-c8e0eb190e3d"
            )
        );
        let r = op
            .parse(&Response::new(
                200,
                sample_v2!("cbu-getRestoreDetails_response.json"),
            ))
            .unwrap();
        assert_eq!(
            r.destination_agent.id,
            "74124b09-5bd3-4436-b3e4-87ef362e4df5"
        );
        assert_eq!(r.destination_path.as_deref(), Some("/tmp/restore"));
        assert_eq!((r.files_restored, r.bytes_restored), (2, 1512));
        assert_eq!(r.exclusions.unwrap().len(), 2);
        let e = op
            .parse(&Response::new(404, r#"{"message": "Restore not found."}"#))
            .unwrap_err();
        assert!(e.to_string().contains("Restore not found."), "{e}");
    }

    #[test]
    fn update_restore_sends_a_json_patch() {
        let patch: Patch =
            serde_json::from_str(sample_v2!("cbu-updateRestore_request.json")).unwrap();
        let op = UpdateRestore {
            restore_id: ID.into(),
            patch,
            agent_id: None,
        };
        let req = op.request(&auth()).unwrap();
        assert_eq!(
            (req.method, req.path.as_str()),
            (
                Method::Patch,
                "/v2/110011/restores/e87e6f7d-d166-11e4-8689-c8e0eb190e3d"
            )
        );
        assert_eq!(req.header_value("Content-Type"), Some(JSON_PATCH));
        let expected: serde_json::Value =
            serde_json::from_str(sample_v2!("cbu-updateRestore_request.json")).unwrap();
        assert_eq!(body(&req), expected);
        op.parse(&Response::new(204, "")).unwrap();
        assert_conflict(
            op.parse(&Response::new(
                409,
                sample_v2!("cbu-updateRestore_response409.json"),
            )),
            sample_v2!("cbu-updateRestore_response409.json"),
        );
        assert!(UpdateRestore {
            restore_id: "".into(),
            patch: op.patch.clone(),
            agent_id: None,
        }
        .request(&auth())
        .is_err());
    }

    #[test]
    fn update_restore_names_the_calling_agent() {
        let patch: Patch =
            serde_json::from_str(sample_v2!("cbu-updateRestore_request.json")).unwrap();
        assert_agent_header(
            |agent_id| UpdateRestore {
                restore_id: ID.into(),
                patch: patch.clone(),
                agent_id,
            },
            "agent_id",
        );
    }

    #[test]
    fn restore_errors_list() {
        let op = ListRestoreErrors {
            restore_id: ID.into(),
        };
        let req = op.request(&auth()).unwrap();
        assert_eq!(
            req.path,
            "/v2/110011/restores/e87e6f7d-d166-11e4-8689-c8e0eb190e3d/errors"
        );
        let report = op
            .parse(&Response::new(
                200,
                sample_v2!("cbu-getErrors_response.json"),
            ))
            .unwrap();
        assert_eq!(report.count.value, 1);
        let entry = &report.list.unwrap()[0];
        assert_eq!(
            (entry.index.value, entry.path.as_str()),
            (3, "/usr/bin/h2xs")
        );
        assert_eq!(entry.exception.as_ref().map(|x| x.code.value), Some(9016));
        assert!(op.parse(&Response::new(403, "")).is_err());
    }
}
