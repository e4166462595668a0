//! Backup operations (`/v2/{project_id}/backups`): start, list, details,
//! update (JSON Patch) and errors. The event list of a backup is in
//! [`events`](super::events).

use json_patch::Patch;
use serde::{Deserialize, Serialize};

use super::{item_request, paged_get, patch_request, with_agent_header};
use crate::api::{
    parse_empty, parse_json, require_id, Auth, Method, Operation, Page, Request, Response, JSON,
};
use crate::model::v2::backup::{Backup, BackupList, StartBackupBody, StartState};
use crate::model::v2::common::ErrorReport;
use crate::{Error, Result};

/// `POST /v2/{project_id}/backups` (201): starts a backup of a configuration.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StartBackup {
    /// The configuration and the start state.
    pub body: StartBackupBody,
    /// The agent starting it, sent as `X-Agent-Id`; required when the state
    /// is `start_scheduled` (the agent's own schedule), optional otherwise.
    pub agent_id: Option<String>,
}

impl Operation for StartBackup {
    type Output = Backup;
    const NAME: &'static str = "start backup";
    const METHOD: Method = Method::Post;
    const PATH: &'static str = "/v2/{project_id}/backups";

    fn request(&self, auth: &Auth) -> Result<Request> {
        require_id("configuration_id", &self.body.configuration_id)?;
        if self.agent_id.is_none()
            && auth.agent_id.is_none()
            && self.body.state == StartState::StartScheduled
        {
            return Err(Error::argument(
                "agent_id",
                "the agent id (X-Agent-Id) is required to start a backup in state start_scheduled",
            ));
        }
        let request = auth.request(Self::METHOD, "v2", &["backups"]);
        with_agent_header(request, "agent_id", self.agent_id.as_deref())?
            .json_body(JSON, &self.body)
    }

    fn parse(&self, response: &Response) -> Result<Backup> {
        parse_json(Self::NAME, response, &[201])
    }
}

/// `GET /v2/{project_id}/backups` (200): a page of the project's backups.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ListBackups {
    /// Paging.
    #[serde(default)]
    pub page: Page,
    /// `restorable`: `Some(true)` lists only backups restores may use.
    pub restorable: Option<bool>,
    /// `configuration_id`: only that configuration's backups; the service
    /// reads it only together with `restorable=true`.
    pub configuration_id: Option<String>,
}

impl Operation for ListBackups {
    type Output = BackupList;
    const NAME: &'static str = "list backups";
    const METHOD: Method = Method::Get;
    const PATH: &'static str = "/v2/{project_id}/backups";

    fn request(&self, auth: &Auth) -> Result<Request> {
        let mut request = paged_get(auth, &["backups"], &self.page)?;
        if let Some(r) = self.restorable {
            request = request.query("restorable", r.to_string());
        }
        if let Some(id) = &self.configuration_id {
            require_id("configuration_id", id)?;
            if self.restorable != Some(true) {
                return Err(Error::argument(
                    "configuration_id",
                    "is only used together with restorable = true",
                ));
            }
            request = request.query("configuration_id", id.clone());
        }
        Ok(request)
    }

    fn parse(&self, response: &Response) -> Result<BackupList> {
        parse_json(Self::NAME, response, &[200])
    }
}

/// `GET /v2/{project_id}/backups/{backup_id}` (200): one backup.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GetBackup {
    /// The backup.
    pub backup_id: String,
}

impl Operation for GetBackup {
    type Output = Backup;
    const NAME: &'static str = "get backup";
    const METHOD: Method = Method::Get;
    const PATH: &'static str = "/v2/{project_id}/backups/{backup_id}";

    fn request(&self, auth: &Auth) -> Result<Request> {
        item_request(
            auth,
            Self::METHOD,
            "backups",
            "backup_id",
            &self.backup_id,
            &[],
        )
    }

    fn parse(&self, response: &Response) -> Result<Backup> {
        parse_json(Self::NAME, response, &[200])
    }
}

/// `PATCH /v2/{project_id}/backups/{backup_id}` (204): the agent reports
/// progress and results, or a user asks for a stop. A backup already in a
/// terminal state answers 409, with the service's message in
/// [`ApiError::message`](crate::api::ApiError::message).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UpdateBackup {
    /// The backup.
    pub backup_id: String,
    /// The changes (`add`/`replace` on `/state`, times, counters, `/errors`...).
    pub patch: Patch,
    /// The calling agent's id, sent as `X-Agent-Id`; agents should always set
    /// it (see agent-header.rst); `None` for a user's call.
    pub agent_id: Option<String>,
}

impl Operation for UpdateBackup {
    type Output = ();
    const NAME: &'static str = "update backup";
    const METHOD: Method = Method::Patch;
    const PATH: &'static str = "/v2/{project_id}/backups/{backup_id}";

    fn request(&self, auth: &Auth) -> Result<Request> {
        let request = patch_request(auth, "backups", "backup_id", &self.backup_id, &self.patch)?;
        with_agent_header(request, "agent_id", self.agent_id.as_deref())
    }

    fn parse(&self, response: &Response) -> Result<()> {
        parse_empty(Self::NAME, response, &[204])
    }
}

/// `GET /v2/{project_id}/backups/{backup_id}/errors` (200): the files a
/// backup failed on.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ListBackupErrors {
    /// The backup.
    pub backup_id: String,
}

impl Operation for ListBackupErrors {
    type Output = ErrorReport;
    const NAME: &'static str = "list backup errors";
    const METHOD: Method = Method::Get;
    const PATH: &'static str = "/v2/{project_id}/backups/{backup_id}/errors";

    fn request(&self, auth: &Auth) -> Result<Request> {
        item_request(
            auth,
            Self::METHOD,
            "backups",
            "backup_id",
            &self.backup_id,
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
    use crate::lifecycle::BackupState;
    use crate::test_support::v2::auth;
    use crate::test_support::{assert_agent_header, assert_conflict, body, sample_v2};
    use crate::wire::Timestamp;

    fn start(state: StartState, agent_id: Option<&str>) -> StartBackup {
        StartBackup {
            body: StartBackupBody {
                configuration_id: "7c8ee069-568f-4d5a-932f-fb2af86b5fd5".into(),
                state,
            },
            agent_id: agent_id.map(String::from),
        }
    }

    #[test]
    fn start_backup_posts_the_sample_body() {
        let req = start(StartState::StartRequested, None)
            .request(&auth())
            .unwrap();
        assert_eq!(req.method, Method::Post);
        assert_eq!(
            req.url("https://dfw.backup.api.rackspacecloud.com"),
            "https://dfw.backup.api.rackspacecloud.com/v2/110011/backups"
        );
        assert_eq!(
            req.header_value("X-Auth-Token"),
            Some("0f6e9f63600142f0a970911583522217")
        );
        assert_eq!(req.header_value("Content-Type"), Some(JSON));
        assert_eq!(req.header_value("X-Agent-Id"), None);
        let expected: serde_json::Value =
            serde_json::from_str(sample_v2!("cbu-postBackup_request.json")).unwrap();
        assert_eq!(body(&req), expected);
    }

    #[test]
    fn scheduled_starts_need_the_agent_header() {
        let e = start(StartState::StartScheduled, None)
            .request(&auth())
            .unwrap_err();
        assert!(
            matches!(&e, Error::InvalidArgument { name, .. } if name == "agent_id"),
            "{e}"
        );
        let agent = "8f135b4f-7a69-4b8a-947f-5e80d772fd97";
        let req = start(StartState::StartScheduled, Some(agent))
            .request(&auth())
            .unwrap();
        assert_eq!(req.header_value("X-Agent-Id"), Some(agent));
        assert_eq!(body(&req)["state"], "start_scheduled");
        assert!(start(StartState::StartRequested, Some(" "))
            .request(&auth())
            .is_err());
        assert!(StartBackup {
            body: StartBackupBody {
                configuration_id: "".into(),
                state: StartState::StartRequested
            },
            agent_id: None
        }
        .request(&auth())
        .is_err());
    }

    #[test]
    fn start_backup_parses_201_only() {
        let op = start(StartState::StartRequested, None);
        let b = op
            .parse(&Response::new(
                201,
                sample_v2!("cbu-postBackup_response.json"),
            ))
            .unwrap();
        assert_eq!(b.state, BackupState::StartRequested);
        assert_eq!((b.started_time, b.snapshot_id), (None, None));
        assert_eq!(b.errors.unwrap().count.value, 0);
        let e = op
            .parse(&Response::new(
                404,
                r#"{"message": "Configuration not found."}"#,
            ))
            .unwrap_err();
        assert!(e.to_string().contains("Configuration not found."), "{e}");
        let e = op
            .parse(&Response::new(
                200,
                sample_v2!("cbu-postBackup_response.json"),
            ))
            .unwrap_err();
        assert_eq!(
            e,
            Error::UnexpectedResponse {
                operation: "start backup".into(),
                status: 200
            }
        );
    }

    #[test]
    fn list_backups_sends_the_sample_query() {
        let op = ListBackups {
            page: Page {
                marker: Some("0d95d699-d16b-11e4-93bd-c8e0eb190e3d".into()),
                limit: Some(100),
                sort_dir: Some(SortDir::Asc),
            },
            restorable: Some(true),
            configuration_id: Some("7c8ee069-568f-4d5a-932f-fb2af86b5fd5".into()),
        };
        let req = op.request(&auth()).unwrap();
        assert_eq!(req.method, Method::Get);
        assert_eq!(
            req.url(""),
            "/v2/110011/backups?marker=0d95d699-d16b-11e4-93bd-c8e0eb190e3d&limit=100&sort_dir=asc&restorable=true&configuration_id=7c8ee069-568f-4d5a-932f-fb2af86b5fd5"
        );
        assert_eq!(req.body, None);
        let bare = ListBackups::default().request(&auth()).unwrap();
        assert_eq!(bare.url(""), "/v2/110011/backups");
        let lonely = ListBackups {
            configuration_id: Some("c".into()),
            ..ListBackups::default()
        };
        let e = lonely.request(&auth()).unwrap_err();
        assert!(
            matches!(&e, Error::InvalidArgument { name, .. } if name == "configuration_id"),
            "{e}"
        );

        let list = op
            .parse(&Response::new(
                200,
                sample_v2!("cbu-getProjectBackups_response.json"),
            ))
            .unwrap();
        assert_eq!(list.backups.len(), 1);
        assert_eq!(list.links[0].rel, "next");
        let b = &list.backups[0];
        assert_eq!(b.state, BackupState::CompletedWithErrors);
        assert_eq!(
            (b.files_searched, b.bytes_searched, b.bandwidth_avg_bps),
            (1222, 3_700_000_000, 16_628_982)
        );
        let e = op.parse(&Response::new(401, "")).unwrap_err();
        assert!(
            matches!(e, Error::Api(ref a) if a.kind == ApiErrorKind::Unauthorized),
            "{e}"
        );
    }

    #[test]
    fn get_backup_by_id() {
        let op = GetBackup {
            backup_id: "0d95d699-d16b-11e4-93bd-c8e0eb190e3d".into(),
        };
        let req = op.request(&auth()).unwrap();
        assert_eq!(
            (req.method, req.path.as_str()),
            (
                Method::Get,
                "/v2/110011/backups/0d95d699-d16b-11e4-93bd-c8e0eb190e3d"
            )
        );
        assert_eq!(req.header_value("Accept"), Some(JSON));
        let b = op
            .parse(&Response::new(
                200,
                sample_v2!("cbu-getBackupDetails_response.json"),
            ))
            .unwrap();
        assert_eq!(b.snapshot_id.map(|s| s.value), Some(1111));
        assert_eq!(
            b.started_time,
            Some(Timestamp::parse("2014-08-05T18:22:22.238641Z").unwrap())
        );
        assert!(b.restorable);
        assert_eq!(b.configuration.id, "7c8ee069-568f-4d5a-932f-fb2af86b5fd5");
        let errors = b.errors.unwrap();
        assert_eq!(
            errors.reason.as_deref(),
            Some("unable_to_process_some_files")
        );
        assert!(errors.links.unwrap()[0].href.ends_with("/errors"));
        assert!(GetBackup {
            backup_id: "".into()
        }
        .request(&auth())
        .is_err());
        let slashed = GetBackup {
            backup_id: "a/b".into(),
        }
        .request(&auth())
        .unwrap();
        assert_eq!(slashed.path, "/v2/110011/backups/a%2Fb");
        let e = op
            .parse(&Response::new(404, r#"{"message": "Backup not found."}"#))
            .unwrap_err();
        assert!(
            matches!(e, Error::Api(ref a) if a.kind == ApiErrorKind::NotFound),
            "{e}"
        );
    }

    #[test]
    fn update_backup_sends_a_json_patch() {
        let patch: Patch =
            serde_json::from_str(sample_v2!("cbu-updateBackup_request.json")).unwrap();
        let op = UpdateBackup {
            backup_id: "0d95d699-d16b-11e4-93bd-c8e0eb190e3d".into(),
            patch,
            agent_id: None,
        };
        let req = op.request(&auth()).unwrap();
        assert_eq!(
            (req.method, req.path.as_str()),
            (
                Method::Patch,
                "/v2/110011/backups/0d95d699-d16b-11e4-93bd-c8e0eb190e3d"
            )
        );
        assert_eq!(req.header_value("Content-Type"), Some(JSON_PATCH));
        let expected: serde_json::Value =
            serde_json::from_str(sample_v2!("cbu-updateBackup_request.json")).unwrap();
        assert_eq!(body(&req), expected);

        op.parse(&Response::new(204, "")).unwrap();
        assert_conflict(
            op.parse(&Response::new(
                409,
                sample_v2!("cbu-updateBackup_response409.json"),
            )),
            sample_v2!("cbu-updateBackup_response409.json"),
        );
        let e = op.parse(&Response::new(200, "")).unwrap_err();
        assert_eq!(e.code(), crate::ErrorCode::UnexpectedResponse);
        let empty = UpdateBackup {
            backup_id: "x".into(),
            patch: Patch(vec![]),
            agent_id: None,
        };
        let e = empty.request(&auth()).unwrap_err();
        assert!(
            matches!(&e, Error::InvalidArgument { name, .. } if name == "patch"),
            "{e}"
        );
    }

    #[test]
    fn update_backup_names_the_calling_agent() {
        let patch: Patch =
            serde_json::from_str(sample_v2!("cbu-updateBackup_request.json")).unwrap();
        assert_agent_header(
            |agent_id| UpdateBackup {
                backup_id: "0d95d699-d16b-11e4-93bd-c8e0eb190e3d".into(),
                patch: patch.clone(),
                agent_id,
            },
            "agent_id",
        );
    }

    #[test]
    fn start_backup_names_the_calling_agent() {
        assert_agent_header(
            |agent_id| StartBackup {
                body: StartBackupBody {
                    configuration_id: "7c8ee069-568f-4d5a-932f-fb2af86b5fd5".into(),
                    state: StartState::StartRequested,
                },
                agent_id,
            },
            "agent_id",
        );
    }

    #[test]
    fn backup_errors_list() {
        let op = ListBackupErrors {
            backup_id: "0d95d699-d16b-11e4-93bd-c8e0eb190e3d".into(),
        };
        let req = op.request(&auth()).unwrap();
        assert_eq!(
            (req.method, req.path.as_str()),
            (
                Method::Get,
                "/v2/110011/backups/0d95d699-d16b-11e4-93bd-c8e0eb190e3d/errors"
            )
        );
        let report = op
            .parse(&Response::new(
                200,
                sample_v2!("cbu-getBackupErrors_response.json"),
            ))
            .unwrap();
        let list = report.list.unwrap();
        assert_eq!(list[0].kind, "file_or_folder_missing");
        assert_eq!(list[0].exception.as_ref().map(|x| x.code.value), Some(3015));
        let e = op
            .parse(&Response::new(503, "").with_header("Retry-After", "5"))
            .unwrap_err();
        assert!(e.to_string().contains("retry after 5 s"), "{e}");
    }
}
