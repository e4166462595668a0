//! v2 browse operations: list a folder on an agent's host or in a backup.
//! The client posts a request (202 + `Location`), then reads the result,
//! which is 404 until the agent has answered.

use serde::{Deserialize, Serialize};

use super::sub_item_request;
use crate::api::v2::agents::Accepted;
use crate::api::{parse_json, require_id, Auth, Method, Operation, Request, Response, JSON};
use crate::model::v2::browse::{BackupBrowseRequest, BrowseResult, HostBrowseRequest};
use crate::Result;

/// A request under `/{collection}/{id}/browse-requests[/{request_id}]`, ids checked.
fn browse_request(
    auth: &Auth,
    method: Method,
    item: (&str, &str, &str),
    request_id: Option<&str>,
) -> Result<Request> {
    sub_item_request(
        auth,
        method,
        item,
        "browse-requests",
        request_id.map(|r| ("request_id", r)),
    )
}

/// Ask an agent to list a folder of its host
/// (`POST /v2/{project}/agents/{agent_id}/browse-requests`, 202).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BrowseHost {
    /// Agent id.
    pub agent_id: String,
    /// The folder.
    pub body: HostBrowseRequest,
}

impl Operation for BrowseHost {
    type Output = Accepted;
    const NAME: &'static str = "browse agent host";
    const METHOD: Method = Method::Post;
    const PATH: &'static str = "/v2/{project_id}/agents/{agent_id}/browse-requests";

    fn request(&self, auth: &Auth) -> Result<Request> {
        browse_request(
            auth,
            Self::METHOD,
            ("agents", "agent_id", &self.agent_id),
            None,
        )?
        .json_body(JSON, &self.body)
    }

    fn parse(&self, response: &Response) -> Result<Accepted> {
        Accepted::from_response(Self::NAME, response)
    }
}

/// Read the answer to a host browse
/// (`GET /v2/{project}/agents/{agent_id}/browse-requests/{request_id}`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GetHostBrowseResult {
    /// Agent id.
    pub agent_id: String,
    /// The browse request's id.
    pub request_id: String,
}

impl Operation for GetHostBrowseResult {
    type Output = BrowseResult;
    const NAME: &'static str = "get agent browse result";
    const METHOD: Method = Method::Get;
    const PATH: &'static str = "/v2/{project_id}/agents/{agent_id}/browse-requests/{request_id}";

    fn request(&self, auth: &Auth) -> Result<Request> {
        browse_request(
            auth,
            Self::METHOD,
            ("agents", "agent_id", &self.agent_id),
            Some(&self.request_id),
        )
    }

    fn parse(&self, response: &Response) -> Result<BrowseResult> {
        parse_json(Self::NAME, response, &[200])
    }
}

/// Ask an agent to list a folder of a backup
/// (`POST /v2/{project}/backups/{backup_id}/browse-requests`, 202).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BrowseBackup {
    /// Backup id.
    pub backup_id: String,
    /// The agent, vault password and folder.
    pub body: BackupBrowseRequest,
}

impl Operation for BrowseBackup {
    type Output = Accepted;
    const NAME: &'static str = "browse backup";
    const METHOD: Method = Method::Post;
    const PATH: &'static str = "/v2/{project_id}/backups/{backup_id}/browse-requests";

    fn request(&self, auth: &Auth) -> Result<Request> {
        require_id("agent_id", &self.body.agent_id)?;
        browse_request(
            auth,
            Self::METHOD,
            ("backups", "backup_id", &self.backup_id),
            None,
        )?
        .json_body(JSON, &self.body)
    }

    fn parse(&self, response: &Response) -> Result<Accepted> {
        Accepted::from_response(Self::NAME, response)
    }
}

/// Read the answer to a backup browse
/// (`GET /v2/{project}/backups/{backup_id}/browse-requests/{request_id}`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GetBackupBrowseResult {
    /// Backup id.
    pub backup_id: String,
    /// The browse request's id.
    pub request_id: String,
}

impl Operation for GetBackupBrowseResult {
    type Output = BrowseResult;
    const NAME: &'static str = "get backup browse result";
    const METHOD: Method = Method::Get;
    const PATH: &'static str = "/v2/{project_id}/backups/{backup_id}/browse-requests/{request_id}";

    fn request(&self, auth: &Auth) -> Result<Request> {
        browse_request(
            auth,
            Self::METHOD,
            ("backups", "backup_id", &self.backup_id),
            Some(&self.request_id),
        )
    }

    fn parse(&self, response: &Response) -> Result<BrowseResult> {
        parse_json(Self::NAME, response, &[200])
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::ApiErrorKind;
    use crate::model::v2::event::EventType;
    use crate::test_support::v2::{assert_request_line, auth};
    use crate::test_support::{api_kind, assert_body, json, sample_v2};

    const AGENT: &str = "8f135b4f-7a69-4b8a-947f-5e80d772fd97";
    const BACKUP: &str = "0d95d699-d16b-11e4-93bd-c8e0eb190e3d";

    #[test]
    fn browse_host_then_read_the_result() {
        let op = BrowseHost {
            agent_id: AGENT.into(),
            body: serde_json::from_str(sample_v2!("cbu-postAgentBrowseRequest_request.json"))
                .unwrap(),
        };
        let req = op.request(&auth()).unwrap();
        assert_request_line(
            &req,
            sample_v2!("cbu-postAgentBrowseRequest_request-json-http.txt"),
        );
        assert_body(
            &req,
            sample_v2!("cbu-postAgentBrowseRequest_request.json"),
            JSON,
        );
        let accepted = op
            .parse(&Response::new(202, "").with_header(
                "Location",
                "https://cloudbackupapi.apiary-mock.com/v2/agents/8f135b4f-7a69-4b8a-947f-5e80d772fd97/browse-request/16ce47f7-88b2-4983-8b1c-d4a82306ae87",
            ))
            .unwrap();
        assert_eq!(
            api_kind(op.parse(&json(404, "")).unwrap_err()),
            ApiErrorKind::NotFound
        );

        let get = GetHostBrowseResult {
            agent_id: AGENT.into(),
            request_id: accepted.request_id().unwrap().into(),
        };
        assert_request_line(
            &get.request(&auth()).unwrap(),
            sample_v2!("cbu-getAgentBrowseResult_request-json-http.txt"),
        );
        let r = get
            .parse(&json(
                200,
                sample_v2!("cbu-getAgentBrowseResult_response.json"),
            ))
            .unwrap();
        assert_eq!(r.header.event, EventType::HostBrowsed);
        assert_eq!(r.items.len(), 1);
        assert_eq!(
            api_kind(get.parse(&json(404, "")).unwrap_err()),
            ApiErrorKind::NotFound
        );
    }

    #[test]
    fn browse_backup_then_read_the_result() {
        let op = BrowseBackup {
            backup_id: BACKUP.into(),
            body: serde_json::from_str(sample_v2!("cbu-postBackupBrowseRequest_request.json"))
                .unwrap(),
        };
        let req = op.request(&auth()).unwrap();
        assert_request_line(
            &req,
            sample_v2!("cbu-postBackupBrowseRequest_request-json-http.txt"),
        );
        assert_body(
            &req,
            sample_v2!("cbu-postBackupBrowseRequest_request.json"),
            JSON,
        );
        assert!(op.parse(&Response::new(202, "")).is_ok());
        assert!(op.parse(&Response::new(200, "")).is_err());

        let get = GetBackupBrowseResult {
            backup_id: BACKUP.into(),
            request_id: "ae7528c8-bcc3-4356-a237-f20fbdd79ee4".into(),
        };
        assert_request_line(
            &get.request(&auth()).unwrap(),
            sample_v2!("cbu-getBackupBrowseResult_request-json-http.txt"),
        );
        let r = get
            .parse(&json(
                200,
                sample_v2!("cbu-getBackupBrowseResult_response.json"),
            ))
            .unwrap();
        assert_eq!(r.header.event, EventType::BackupBrowsed);
        assert!(r.succeeded);
        assert_eq!(
            api_kind(get.parse(&json(503, "")).unwrap_err()),
            ApiErrorKind::ServiceUnavailable
        );
        let no_backup = GetBackupBrowseResult {
            backup_id: " ".into(),
            ..get
        };
        assert!(no_backup
            .request(&auth())
            .unwrap_err()
            .to_string()
            .contains("backup_id"));
    }
}
