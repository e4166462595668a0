//! v2 agent operations: register, authenticate, list, read, update, delete,
//! status. Also [`Accepted`], the answer of every asynchronous v2 request.

use json_patch::Patch;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use super::patch_request;
use crate::api::{
    check_status, parse_empty, parse_json, require_id, Auth, Method, Operation, Request, Response,
    JSON,
};
use crate::model::v2::agent::{
    Agent, AgentList, AgentStatus, HostFlavor, LogLevel, NewAgent, TokenRequest, TokenResponse,
};
use crate::{Error, Result};

/// The answer to an asynchronous request (202 Accepted): the `Location` of
/// the result to read once the agent has done the work. Its JSON form also
/// carries the id to read the result by:
/// `{"location": "...", "request_id": "..."}` (either may be `null`).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Accepted {
    /// The `Location` header, when the service sent one.
    pub location: Option<String>,
}

impl Accepted {
    /// The request id: the last path segment of `location`. (The service's
    /// `Location` says `browse-request/{id}` where the result lives under
    /// `browse-requests/{id}`, so only the id is reliable.)
    pub fn request_id(&self) -> Option<&str> {
        let location = self.location.as_deref()?;
        let path = location.split(['?', '#']).next().unwrap_or(location);
        path.rsplit('/').find(|s| !s.is_empty())
    }

    /// Checks for 202 and reads `Location`.
    pub(crate) fn from_response(operation: &str, response: &Response) -> Result<Self> {
        check_status(operation, response, &[202])?;
        Ok(Accepted {
            location: response.header("Location").map(str::to_string),
        })
    }
}

impl Serialize for Accepted {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        #[derive(Serialize)]
        struct AcceptedJson<'a> {
            location: Option<&'a str>,
            request_id: Option<&'a str>,
        }
        AcceptedJson {
            location: self.location.as_deref(),
            request_id: self.request_id(),
        }
        .serialize(serializer)
    }
}

/// Register an agent (`POST /v2/{project}/agents`, 201 with the agent and its password).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RegisterAgent {
    /// The registration.
    pub agent: NewAgent,
}

impl Operation for RegisterAgent {
    type Output = Agent;
    const NAME: &'static str = "register agent";
    const METHOD: Method = Method::Post;
    const PATH: &'static str = "/v2/{project_id}/agents";

    fn request(&self, auth: &Auth) -> Result<Request> {
        let host = &self.agent.host;
        if host.flavor != HostFlavor::Nova && host.region.as_deref().is_none_or(str::is_empty) {
            return Err(Error::argument(
                "host.region",
                format!("is required for {} hosts", host.flavor),
            ));
        }
        require_id("host.machine.id", &host.machine.id)?;
        auth.request(Self::METHOD, "v2", &["agents"])
            .json_body(JSON, &self.agent)
    }

    fn parse(&self, response: &Response) -> Result<Agent> {
        parse_json(Self::NAME, response, &[201])
    }
}

/// Authenticate an agent (`POST /v2/{project}/agents/tokens`): trade the
/// agent's id and password for an identity token. 409 means the host
/// fingerprint differs from the registration's; 503 carries `Retry-After`
/// (see [`ApiError::retry_after`](crate::api::ApiError::retry_after)).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AuthenticateAgent {
    /// The credentials; `project_id` also goes into the path.
    pub credentials: TokenRequest,
}

impl Operation for AuthenticateAgent {
    type Output = TokenResponse;
    const NAME: &'static str = "authenticate agent";
    const METHOD: Method = Method::Post;
    const PATH: &'static str = "/v2/{project_id}/agents/tokens";

    /// The agent has no token yet: `auth` is not used, no `X-Auth-Token` is
    /// sent, and the path's project is the body's `project_id`.
    fn request(&self, _auth: &Auth) -> Result<Request> {
        let c = &self.credentials;
        require_id("project_id", &c.project_id)?;
        require_id("id", &c.id)?;
        require_id("password", &c.password)?;
        Request::new(Self::METHOD, &["v2", &c.project_id, "agents", "tokens"])
            .header("Accept", JSON)
            .json_body(JSON, c)
    }

    fn parse(&self, response: &Response) -> Result<TokenResponse> {
        parse_json(Self::NAME, response, &[200])
    }
}

/// List the project's agents (`GET /v2/{project}/agents`), optionally only
/// those on one host machine.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ListAgents {
    /// Only agents on this machine (`host_machine_id`).
    pub host_machine_id: Option<String>,
}

impl Operation for ListAgents {
    type Output = AgentList;
    const NAME: &'static str = "list agents";
    const METHOD: Method = Method::Get;
    const PATH: &'static str = "/v2/{project_id}/agents";

    fn request(&self, auth: &Auth) -> Result<Request> {
        let mut req = auth.request(Self::METHOD, "v2", &["agents"]);
        if let Some(id) = &self.host_machine_id {
            require_id("host_machine_id", id)?;
            req = req.query("host_machine_id", id.clone());
        }
        Ok(req)
    }

    fn parse(&self, response: &Response) -> Result<AgentList> {
        parse_json(Self::NAME, response, &[200])
    }
}

/// Read an agent (`GET /v2/{project}/agents/{agent_id}`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GetAgent {
    /// Agent id.
    pub agent_id: String,
}

impl Operation for GetAgent {
    type Output = Agent;
    const NAME: &'static str = "get agent";
    const METHOD: Method = Method::Get;
    const PATH: &'static str = "/v2/{project_id}/agents/{agent_id}";

    fn request(&self, auth: &Auth) -> Result<Request> {
        require_id("agent_id", &self.agent_id)?;
        Ok(auth.request(Self::METHOD, "v2", &["agents", &self.agent_id]))
    }

    fn parse(&self, response: &Response) -> Result<Agent> {
        parse_json(Self::NAME, response, &[200])
    }
}

/// One change an agent update may make (the paths the reference allows).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AgentChange {
    /// `/enabled`.
    Enabled(bool),
    /// `/vault/region`; the service refuses (403) unless the vault is empty.
    VaultRegion(String),
    /// `/vault/use_internal`.
    VaultUseInternal(bool),
    /// `/log_level`.
    LogLevel(LogLevel),
}

impl AgentChange {
    fn operation(&self) -> Value {
        let (path, value) = match self {
            AgentChange::Enabled(b) => ("/enabled", json!(b)),
            AgentChange::VaultRegion(r) => ("/vault/region", json!(r)),
            AgentChange::VaultUseInternal(b) => ("/vault/use_internal", json!(b)),
            AgentChange::LogLevel(l) => ("/log_level", json!(l)),
        };
        json!({"op": "replace", "path": path, "value": value})
    }
}

/// Update an agent with a JSON Patch (`PATCH /v2/{project}/agents/{agent_id}`, 204).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UpdateAgent {
    /// Agent id.
    pub agent_id: String,
    /// The patch (`replace`/`add` of `/enabled`, `/vault/region`,
    /// `/vault/use_internal`, `/log_level`).
    pub patch: Patch,
}

impl UpdateAgent {
    /// An update of `agent_id` that makes `changes` with `replace` operations.
    pub fn with_changes(agent_id: impl Into<String>, changes: &[AgentChange]) -> Result<Self> {
        let ops: Vec<Value> = changes.iter().map(AgentChange::operation).collect();
        let patch = serde_json::from_value(Value::Array(ops)).map_err(|e| Error::InvalidValue {
            field: "agent patch".into(),
            reason: e.to_string(),
        })?;
        Ok(UpdateAgent {
            agent_id: agent_id.into(),
            patch,
        })
    }
}

impl Operation for UpdateAgent {
    type Output = ();
    const NAME: &'static str = "update agent";
    const METHOD: Method = Method::Patch;
    const PATH: &'static str = "/v2/{project_id}/agents/{agent_id}";

    fn request(&self, auth: &Auth) -> Result<Request> {
        patch_request(auth, "agents", "agent_id", &self.agent_id, &self.patch)
    }

    fn parse(&self, response: &Response) -> Result<()> {
        parse_empty(Self::NAME, response, &[204])
    }
}

/// Delete an agent (`DELETE /v2/{project}/agents/{agent_id}`, 204).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DeleteAgent {
    /// Agent id.
    pub agent_id: String,
}

impl Operation for DeleteAgent {
    type Output = ();
    const NAME: &'static str = "delete agent";
    const METHOD: Method = Method::Delete;
    const PATH: &'static str = "/v2/{project_id}/agents/{agent_id}";

    fn request(&self, auth: &Auth) -> Result<Request> {
        require_id("agent_id", &self.agent_id)?;
        Ok(auth.request(Self::METHOD, "v2", &["agents", &self.agent_id]))
    }

    fn parse(&self, response: &Response) -> Result<()> {
        parse_empty(Self::NAME, response, &[204])
    }
}

/// Whether an agent is online and busy (`GET /v2/{project}/agents/{agent_id}/status`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GetAgentStatus {
    /// Agent id.
    pub agent_id: String,
}

impl Operation for GetAgentStatus {
    type Output = AgentStatus;
    const NAME: &'static str = "get agent status";
    const METHOD: Method = Method::Get;
    const PATH: &'static str = "/v2/{project_id}/agents/{agent_id}/status";

    fn request(&self, auth: &Auth) -> Result<Request> {
        require_id("agent_id", &self.agent_id)?;
        Ok(auth.request(Self::METHOD, "v2", &["agents", &self.agent_id, "status"]))
    }

    fn parse(&self, response: &Response) -> Result<AgentStatus> {
        parse_json(Self::NAME, response, &[200])
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::{ApiErrorKind, RetryAfter, JSON_PATCH};
    use crate::test_support::v2::{assert_request_line, auth};
    use crate::test_support::{api_error, assert_body, json, sample_v2};

    const AGENT: &str = "8f135b4f-7a69-4b8a-947f-5e80d772fd97";

    #[test]
    fn register_agent_posts_the_registration() {
        let agent: NewAgent =
            serde_json::from_str(sample_v2!("cbu-postAgent_request.json")).unwrap();
        let op = RegisterAgent { agent };
        let req = op.request(&auth()).unwrap();
        assert_request_line(&req, sample_v2!("cbu-postAgent_request-json-http.txt"));
        assert_body(&req, sample_v2!("cbu-postAgent_request.json"), JSON);
        let created = op
            .parse(&json(201, sample_v2!("cbu-postAgent_response.json")))
            .unwrap();
        assert_eq!(
            created.password.as_deref(),
            Some("2d0080f9-3a6a-4ef1-b7ea-4c67c5e92796")
        );
        assert!(op
            .parse(&json(200, sample_v2!("cbu-postAgent_response.json")))
            .is_err());
        let e = api_error(
            op.parse(&json(409, r#"{"message": "Agent exists."}"#))
                .unwrap_err(),
        );
        assert_eq!(e.kind, ApiErrorKind::Conflict);
    }

    #[test]
    fn register_agent_requires_a_region_off_nova() {
        let mut agent: NewAgent =
            serde_json::from_str(sample_v2!("cbu-postAgent_request.json")).unwrap();
        agent.host.region = None;
        assert!(RegisterAgent {
            agent: agent.clone()
        }
        .request(&auth())
        .is_ok());
        agent.host.flavor = HostFlavor::RackspaceDedicated;
        let e = RegisterAgent { agent }.request(&auth()).unwrap_err();
        assert!(e.to_string().contains("host.region"), "{e}");
    }

    #[test]
    fn authenticate_agent_sends_no_token() {
        let credentials: TokenRequest =
            serde_json::from_str(sample_v2!("cbu-postAgentTokens_request.json")).unwrap();
        let op = AuthenticateAgent { credentials };
        let req = op.request(&auth()).unwrap();
        assert_eq!(req.method, Method::Post);
        assert_eq!(req.path, "/v2/123456/agents/tokens");
        assert_eq!(req.header_value("X-Auth-Token"), None);
        assert_body(&req, sample_v2!("cbu-postAgentTokens_request.json"), JSON);
        let token = op
            .parse(&json(200, sample_v2!("cbu-postAgentTokens_response.json")))
            .unwrap();
        assert_eq!(token.token.id, "07ca94b0-df24-436e-b709-71b0f0c0ffdf");
        let unavailable = Response::new(503, "").with_header("Retry-After", "120");
        let e = api_error(op.parse(&unavailable).unwrap_err());
        assert_eq!(e.kind, ApiErrorKind::ServiceUnavailable);
        assert_eq!(e.retry_after, Some(RetryAfter::Seconds(120)));
        let conflict = json(409, r#"{"message": "Fingerprint mismatch."}"#);
        assert_eq!(
            api_error(op.parse(&conflict).unwrap_err()).kind,
            ApiErrorKind::Conflict
        );
    }

    #[test]
    fn list_agents_filters_by_machine() {
        let op = ListAgents {
            host_machine_id: Some(AGENT.into()),
        };
        let req = op.request(&auth()).unwrap();
        assert_request_line(
            &req,
            sample_v2!("cbu-getProjectAgents_request-json-http.txt"),
        );
        assert_eq!(
            ListAgents::default().request(&auth()).unwrap().path,
            "/v2/110011/agents"
        );
        let list = op
            .parse(&json(200, sample_v2!("cbu-getProjectAgents_response.json")))
            .unwrap();
        assert_eq!(list.agents[0].id, AGENT);
        assert_eq!(
            api_error(op.parse(&json(401, "")).unwrap_err()).kind,
            ApiErrorKind::Unauthorized
        );
    }

    #[test]
    fn get_agent_reads_the_agent() {
        let op = GetAgent {
            agent_id: AGENT.into(),
        };
        assert_request_line(
            &op.request(&auth()).unwrap(),
            sample_v2!("cbu-getAgentDetails_request-json-http.txt"),
        );
        let agent = op
            .parse(&json(200, sample_v2!("cbu-getAgentDetails_response.json")))
            .unwrap();
        assert_eq!(agent.name, "Web Server");
        let e = api_error(
            op.parse(&json(404, sample_v2!("cbu-updateAgent_response3.json")))
                .unwrap_err(),
        );
        assert_eq!(e.message.as_deref(), Some("Agent not found."));
        assert!(GetAgent {
            agent_id: " ".into()
        }
        .request(&auth())
        .is_err());
    }

    #[test]
    fn update_agent_sends_a_json_patch() {
        let op = UpdateAgent::with_changes(AGENT, &[AgentChange::Enabled(true)]).unwrap();
        let req = op.request(&auth()).unwrap();
        assert_request_line(&req, sample_v2!("cbu-updateAgent_request-json-http.txt"));
        assert_body(&req, sample_v2!("cbu-updateAgent_request.json"), JSON_PATCH);
        op.parse(&Response::new(204, "")).unwrap();
        let e = api_error(
            op.parse(&json(403, sample_v2!("cbu-updateAgent_response2.json")))
                .unwrap_err(),
        );
        assert_eq!(e.kind, ApiErrorKind::Forbidden);
        assert!(e.message.unwrap().contains("vault is not empty"));
        let e = api_error(
            op.parse(&json(404, sample_v2!("cbu-updateAgent_response3.json")))
                .unwrap_err(),
        );
        assert_eq!(e.kind, ApiErrorKind::NotFound);
    }

    #[test]
    fn agent_changes_use_the_documented_paths() {
        let op = UpdateAgent::with_changes(
            AGENT,
            &[
                AgentChange::VaultRegion("IAD".into()),
                AgentChange::VaultUseInternal(false),
                AgentChange::LogLevel(LogLevel::Debug),
            ],
        )
        .unwrap();
        assert_eq!(
            serde_json::to_value(&op.patch).unwrap(),
            json!([
                {"op": "replace", "path": "/vault/region", "value": "IAD"},
                {"op": "replace", "path": "/vault/use_internal", "value": false},
                {"op": "replace", "path": "/log_level", "value": "debug"},
            ])
        );
        let empty = UpdateAgent::with_changes(AGENT, &[]).unwrap();
        assert!(empty.request(&auth()).is_err());
    }

    #[test]
    fn delete_agent_expects_204() {
        let op = DeleteAgent {
            agent_id: AGENT.into(),
        };
        let req = op.request(&auth()).unwrap();
        assert_request_line(&req, sample_v2!("cbu-deleteAgent_request-json-http.txt"));
        assert!(req.body.is_none());
        op.parse(&Response::new(204, "")).unwrap();
        assert_eq!(
            api_error(op.parse(&json(404, "")).unwrap_err()).kind,
            ApiErrorKind::NotFound
        );
    }

    #[test]
    fn agent_status_parses() {
        let op = GetAgentStatus {
            agent_id: AGENT.into(),
        };
        assert_request_line(
            &op.request(&auth()).unwrap(),
            sample_v2!("cbu-getAgentStatus_request-json-http.txt"),
        );
        let s = op
            .parse(&json(200, sample_v2!("cbu-getAgentStatus_response.json")))
            .unwrap();
        assert!(s.online && !s.busy);
        assert!(op.parse(&json(500, r#"{"message": "boom"}"#)).is_err());
    }

    #[test]
    fn accepted_yields_the_request_id() {
        let r = Response::new(202, "").with_header(
            "Location",
            "https://cloudbackupapi.apiary-mock.com/v2/agents/8f/browse-request/16ce47f7?x=1",
        );
        let a = Accepted::from_response("x", &r).unwrap();
        assert_eq!(a.request_id(), Some("16ce47f7"));
        assert_eq!(Accepted::default().request_id(), None);
        assert!(Accepted::from_response("x", &Response::new(200, "")).is_err());
    }
}
