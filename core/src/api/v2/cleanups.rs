//! Cleanup operations (`/v2/{project_id}/cleanups`): start, list, details,
//! update (JSON Patch) and errors. The event list of a cleanup is in
//! [`events`](super::events).

use json_patch::Patch;
use serde::{Deserialize, Serialize};

use super::{item_request, paged_get, patch_request, with_agent_header};
use crate::api::{
    parse_empty, parse_json, require_id, Auth, Method, Operation, Page, Request, Response, JSON,
};
use crate::model::v2::cleanup::{Cleanup, CleanupList, StartCleanupBody};
use crate::model::v2::common::ErrorReport;
use crate::Result;

/// `POST /v2/{project_id}/cleanups` (201): starts a cleanup of an agent's vault.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StartCleanup {
    /// The agent and the start state.
    pub body: StartCleanupBody,
}

impl Operation for StartCleanup {
    type Output = Cleanup;
    const NAME: &'static str = "start cleanup";
    const METHOD: Method = Method::Post;
    const PATH: &'static str = "/v2/{project_id}/cleanups";

    fn request(&self, auth: &Auth) -> Result<Request> {
        require_id("agent_id", &self.body.agent_id)?;
        auth.request(Self::METHOD, "v2", &["cleanups"])
            .json_body(JSON, &self.body)
    }

    fn parse(&self, response: &Response) -> Result<Cleanup> {
        parse_json(Self::NAME, response, &[201])
    }
}

/// `GET /v2/{project_id}/cleanups` (200): a page of the project's cleanups.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ListCleanups {
    /// Paging.
    #[serde(default)]
    pub page: Page,
}

impl Operation for ListCleanups {
    type Output = CleanupList;
    const NAME: &'static str = "list cleanups";
    const METHOD: Method = Method::Get;
    const PATH: &'static str = "/v2/{project_id}/cleanups";

    fn request(&self, auth: &Auth) -> Result<Request> {
        paged_get(auth, &["cleanups"], &self.page)
    }

    fn parse(&self, response: &Response) -> Result<CleanupList> {
        parse_json(Self::NAME, response, &[200])
    }
}

/// `GET /v2/{project_id}/cleanups/{cleanup_id}` (200): one cleanup.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GetCleanup {
    /// The cleanup.
    pub cleanup_id: String,
}

impl Operation for GetCleanup {
    type Output = Cleanup;
    const NAME: &'static str = "get cleanup";
    const METHOD: Method = Method::Get;
    const PATH: &'static str = "/v2/{project_id}/cleanups/{cleanup_id}";

    fn request(&self, auth: &Auth) -> Result<Request> {
        item_request(
            auth,
            Self::METHOD,
            "cleanups",
            "cleanup_id",
            &self.cleanup_id,
            &[],
        )
    }

    fn parse(&self, response: &Response) -> Result<Cleanup> {
        parse_json(Self::NAME, response, &[200])
    }
}

/// `PATCH /v2/{project_id}/cleanups/{cleanup_id}` (204): the agent reports
/// progress and results, or a user asks for a stop. A cleanup already in a
/// terminal state answers 409, with the service's message in
/// [`ApiError::message`](crate::api::ApiError::message).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UpdateCleanup {
    /// The cleanup.
    pub cleanup_id: String,
    /// The changes (`add`/`replace` on `/state`, times, `/snapshot_ids`,
    /// `/errors`, `/bytes_before`, `/bytes_after`).
    pub patch: Patch,
    /// The calling agent's id, sent as `X-Agent-Id`; agents should always set
    /// it (see agent-header.rst); `None` for a user's call.
    pub agent_id: Option<String>,
}

impl Operation for UpdateCleanup {
    type Output = ();
    const NAME: &'static str = "update cleanup";
    const METHOD: Method = Method::Patch;
    const PATH: &'static str = "/v2/{project_id}/cleanups/{cleanup_id}";

    fn request(&self, auth: &Auth) -> Result<Request> {
        let request = patch_request(
            auth,
            "cleanups",
            "cleanup_id",
            &self.cleanup_id,
            &self.patch,
        )?;
        with_agent_header(request, "agent_id", self.agent_id.as_deref())
    }

    fn parse(&self, response: &Response) -> Result<()> {
        parse_empty(Self::NAME, response, &[204])
    }
}

/// `GET /v2/{project_id}/cleanups/{cleanup_id}/errors` (200): what a cleanup
/// failed on.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ListCleanupErrors {
    /// The cleanup.
    pub cleanup_id: String,
}

impl Operation for ListCleanupErrors {
    type Output = ErrorReport;
    const NAME: &'static str = "list cleanup errors";
    const METHOD: Method = Method::Get;
    const PATH: &'static str = "/v2/{project_id}/cleanups/{cleanup_id}/errors";

    fn request(&self, auth: &Auth) -> Result<Request> {
        item_request(
            auth,
            Self::METHOD,
            "cleanups",
            "cleanup_id",
            &self.cleanup_id,
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
    use crate::lifecycle::CleanupState;
    use crate::model::v2::backup::StartState;
    use crate::test_support::v2::auth;
    use crate::test_support::{assert_agent_header, assert_conflict, body, sample_v2};
    use crate::Error;

    const ID: &str = "2f8708b3-d16b-11e4-bc22-c8e0eb190e3d";

    fn start() -> StartCleanup {
        StartCleanup {
            body: StartCleanupBody {
                agent_id: "8f135b4f-7a69-4b8a-947f-5e80d772fd97".into(),
                state: StartState::StartRequested,
            },
        }
    }

    #[test]
    fn start_cleanup_posts_the_sample_body() {
        let req = start().request(&auth()).unwrap();
        assert_eq!(
            (req.method, req.path.as_str()),
            (Method::Post, "/v2/110011/cleanups")
        );
        assert_eq!(req.header_value("Content-Type"), Some(JSON));
        let expected: serde_json::Value =
            serde_json::from_str(sample_v2!("cbu-postCleanup_request.json")).unwrap();
        assert_eq!(body(&req), expected);
        let c = start()
            .parse(&Response::new(
                201,
                sample_v2!("cbu-postCleanup_response.json"),
            ))
            .unwrap();
        assert_eq!(c.state, CleanupState::StartRequested);
        assert!(c.snapshot_ids.is_empty());
        let e = start()
            .parse(&Response::new(
                409,
                r#"{"message": "A cleanup is already running."}"#,
            ))
            .unwrap_err();
        assert!(
            matches!(e, Error::Api(ref a) if a.kind == ApiErrorKind::Conflict),
            "{e}"
        );
        let mut no_agent = start();
        no_agent.body.agent_id = "".into();
        assert!(no_agent.request(&auth()).is_err());
    }

    #[test]
    fn list_cleanups_pages() {
        let op = ListCleanups {
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
            format!("/v2/110011/cleanups?marker={ID}&limit=100&sort_dir=asc")
        );
        let list = op
            .parse(&Response::new(
                200,
                sample_v2!("cbu-getProjectCleanups_response.json"),
            ))
            .unwrap();
        assert_eq!(
            list.cleanups[0].bytes_freed(),
            1_073_741_824 - 1_067_030_938
        );
        assert_eq!(list.links[1].rel, "previous");
        assert!(op.parse(&Response::new(401, "")).is_err());
    }

    #[test]
    fn get_cleanup_by_id() {
        let op = GetCleanup {
            cleanup_id: ID.into(),
        };
        let req = op.request(&auth()).unwrap();
        assert_eq!(
            (req.method, req.path.as_str()),
            (
                Method::Get,
                "/v2/110011/cleanups/2f8708b3-d16b-11e4-bc22-c8e0eb190e3d"
            )
        );
        let c = op
            .parse(&Response::new(
                200,
                sample_v2!("cbu-getCleanupDetails_response.json"),
            ))
            .unwrap();
        let ids: Vec<i64> = c.snapshot_ids.iter().map(|s| s.value).collect();
        assert_eq!(ids, [23, 51]);
        assert_eq!(c.state, CleanupState::CompletedWithErrors);
        assert_eq!(c.errors.unwrap().diagnostics, None);
        let e = op
            .parse(&Response::new(404, r#"{"message": "Cleanup not found."}"#))
            .unwrap_err();
        assert!(e.to_string().contains("Cleanup not found."), "{e}");
    }

    #[test]
    fn update_cleanup_sends_a_json_patch() {
        let patch: Patch =
            serde_json::from_str(sample_v2!("cbu-updateCleanup_request.json")).unwrap();
        let op = UpdateCleanup {
            cleanup_id: ID.into(),
            patch,
            agent_id: None,
        };
        let req = op.request(&auth()).unwrap();
        assert_eq!(
            (req.method, req.path.as_str()),
            (
                Method::Patch,
                "/v2/110011/cleanups/2f8708b3-d16b-11e4-bc22-c8e0eb190e3d"
            )
        );
        assert_eq!(req.header_value("Content-Type"), Some(JSON_PATCH));
        let expected: serde_json::Value =
            serde_json::from_str(sample_v2!("cbu-updateCleanup_request.json")).unwrap();
        assert_eq!(body(&req), expected);
        op.parse(&Response::new(204, "")).unwrap();
        assert_conflict(
            op.parse(&Response::new(
                409,
                sample_v2!("cbu-updateCleanup_response409.json"),
            )),
            sample_v2!("cbu-updateCleanup_response409.json"),
        );
    }

    #[test]
    fn update_cleanup_names_the_calling_agent() {
        let patch: Patch =
            serde_json::from_str(sample_v2!("cbu-updateCleanup_request.json")).unwrap();
        assert_agent_header(
            |agent_id| UpdateCleanup {
                cleanup_id: ID.into(),
                patch: patch.clone(),
                agent_id,
            },
            "agent_id",
        );
    }

    #[test]
    fn cleanup_errors_list() {
        let op = ListCleanupErrors {
            cleanup_id: ID.into(),
        };
        let req = op.request(&auth()).unwrap();
        assert_eq!(
            req.path,
            "/v2/110011/cleanups/2f8708b3-d16b-11e4-bc22-c8e0eb190e3d/errors"
        );
        let report = op
            .parse(&Response::new(
                200,
                sample_v2!("cbu-getCleanupErrors_response.json"),
            ))
            .unwrap();
        let entry = &report.list.unwrap()[0];
        assert_eq!(
            (entry.index.value, entry.kind.as_str()),
            (34, "file_missing_blocks")
        );
        assert_eq!(entry.exception, None);
        assert!(op.parse(&Response::new(404, "")).is_err());
    }
}
