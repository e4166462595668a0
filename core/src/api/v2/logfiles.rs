//! v2 agent log files: request an upload, list, read, update (the agent
//! reports progress), delete.

use json_patch::Patch;
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::{sub_item_request, with_agent_header};
use crate::api::{parse_empty, parse_json, Auth, Method, Operation, Request, Response, JSON_PATCH};
use crate::lifecycle::LogfileState;
use crate::model::v2::logfile::{Logfile, LogfileList};
use crate::{Error, Result};

/// `{method} /v2/{project}/agents/{agent_id}/logfiles[/{logfile_id}]`, ids checked.
fn logfile_request(
    auth: &Auth,
    method: Method,
    agent_id: &str,
    logfile_id: Option<&str>,
) -> Result<Request> {
    sub_item_request(
        auth,
        method,
        ("agents", "agent_id", agent_id),
        "logfiles",
        logfile_id.map(|id| ("logfile_id", id)),
    )
}

/// Ask an agent to upload its log file to Cloud Files
/// (`POST /v2/{project}/agents/{agent_id}/logfiles`, 202 with the new log file).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RequestLogfile {
    /// Agent id.
    pub agent_id: String,
}

impl Operation for RequestLogfile {
    type Output = Logfile;
    const NAME: &'static str = "request log file";
    const METHOD: Method = Method::Post;
    const PATH: &'static str = "/v2/{project_id}/agents/{agent_id}/logfiles";

    fn request(&self, auth: &Auth) -> Result<Request> {
        logfile_request(auth, Self::METHOD, &self.agent_id, None)
    }

    fn parse(&self, response: &Response) -> Result<Logfile> {
        parse_json(Self::NAME, response, &[202])
    }
}

/// List an agent's log files (`GET /v2/{project}/agents/{agent_id}/logfiles`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ListLogfiles {
    /// Agent id.
    pub agent_id: String,
}

impl Operation for ListLogfiles {
    type Output = LogfileList;
    const NAME: &'static str = "list log files";
    const METHOD: Method = Method::Get;
    const PATH: &'static str = "/v2/{project_id}/agents/{agent_id}/logfiles";

    fn request(&self, auth: &Auth) -> Result<Request> {
        logfile_request(auth, Self::METHOD, &self.agent_id, None)
    }

    fn parse(&self, response: &Response) -> Result<LogfileList> {
        parse_json(Self::NAME, response, &[200])
    }
}

/// Read a log file (`GET /v2/{project}/agents/{agent_id}/logfiles/{logfile_id}`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GetLogfile {
    /// Agent id.
    pub agent_id: String,
    /// Log file id.
    pub logfile_id: String,
}

impl Operation for GetLogfile {
    type Output = Logfile;
    const NAME: &'static str = "get log file";
    const METHOD: Method = Method::Get;
    const PATH: &'static str = "/v2/{project_id}/agents/{agent_id}/logfiles/{logfile_id}";

    fn request(&self, auth: &Auth) -> Result<Request> {
        logfile_request(auth, Self::METHOD, &self.agent_id, Some(&self.logfile_id))
    }

    fn parse(&self, response: &Response) -> Result<Logfile> {
        parse_json(Self::NAME, response, &[200])
    }
}

/// The agent reports upload progress
/// (`PATCH /v2/{project}/agents/{agent_id}/logfiles/{logfile_id}`, 204). The
/// only patch the service accepts is `replace` of `/state` with `started` or
/// `completed`, so the operation takes the state and builds that patch.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UpdateLogfile {
    /// Agent id.
    pub agent_id: String,
    /// Log file id.
    pub logfile_id: String,
    /// `Started` or `Completed` (`Requested` is only ever the initial state).
    pub state: LogfileState,
    /// The calling agent's id, sent as `X-Agent-Id`; agents should always set
    /// it (see agent-header.rst); `None` for a user's call. Not `agent_id`:
    /// that is the path's agent, whose resource this is; an agent calling
    /// about itself sets both to its own id.
    pub caller_agent_id: Option<String>,
}

impl UpdateLogfile {
    /// The JSON Patch this update sends.
    pub fn patch(&self) -> Result<Patch> {
        if self.state == LogfileState::Requested {
            return Err(Error::argument(
                "state",
                "a log file can only be moved to started or completed",
            ));
        }
        let ops = json!([{"op": "replace", "path": "/state", "value": self.state}]);
        serde_json::from_value(ops).map_err(|e| Error::InvalidValue {
            field: "log file patch".into(),
            reason: e.to_string(),
        })
    }
}

impl Operation for UpdateLogfile {
    type Output = ();
    const NAME: &'static str = "update log file";
    const METHOD: Method = Method::Patch;
    const PATH: &'static str = "/v2/{project_id}/agents/{agent_id}/logfiles/{logfile_id}";

    fn request(&self, auth: &Auth) -> Result<Request> {
        let request = logfile_request(auth, Self::METHOD, &self.agent_id, Some(&self.logfile_id))?;
        with_agent_header(request, "caller_agent_id", self.caller_agent_id.as_deref())?
            .json_body(JSON_PATCH, &self.patch()?)
    }

    fn parse(&self, response: &Response) -> Result<()> {
        parse_empty(Self::NAME, response, &[204])
    }
}

/// Delete a log file (`DELETE /v2/{project}/agents/{agent_id}/logfiles/{logfile_id}`, 204).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DeleteLogfile {
    /// Agent id.
    pub agent_id: String,
    /// Log file id.
    pub logfile_id: String,
}

impl Operation for DeleteLogfile {
    type Output = ();
    const NAME: &'static str = "delete log file";
    const METHOD: Method = Method::Delete;
    const PATH: &'static str = "/v2/{project_id}/agents/{agent_id}/logfiles/{logfile_id}";

    fn request(&self, auth: &Auth) -> Result<Request> {
        logfile_request(auth, Self::METHOD, &self.agent_id, Some(&self.logfile_id))
    }

    fn parse(&self, response: &Response) -> Result<()> {
        parse_empty(Self::NAME, response, &[204])
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::ApiErrorKind;
    use crate::test_support::v2::{assert_request_line, auth};
    use crate::test_support::{api_kind, assert_agent_header, assert_body, json, sample_v2};

    const AGENT: &str = "8f135b4f-7a69-4b8a-947f-5e80d772fd97";
    const LOGFILE: &str = "a533a845-4279-4838-af13-276114e90234";

    #[test]
    fn request_logfile_answers_202_with_the_logfile() {
        let op = RequestLogfile {
            agent_id: AGENT.into(),
        };
        let req = op.request(&auth()).unwrap();
        assert_request_line(
            &req,
            sample_v2!("cbu-postAgentLogfile_request-json-http.txt"),
        );
        assert!(req.body.is_none());
        let l = op
            .parse(&json(202, sample_v2!("cbu-postAgentLogfile_response.json")))
            .unwrap();
        assert_eq!(l.state, LogfileState::Requested);
        assert_eq!(l.id, LOGFILE);
        assert!(op
            .parse(&json(200, sample_v2!("cbu-postAgentLogfile_response.json")))
            .is_err());
        assert_eq!(
            api_kind(op.parse(&json(404, "")).unwrap_err()),
            ApiErrorKind::NotFound
        );
    }

    #[test]
    fn list_and_get_logfiles() {
        let list = ListLogfiles {
            agent_id: AGENT.into(),
        };
        assert_request_line(
            &list.request(&auth()).unwrap(),
            sample_v2!("cbu-getAgentLogfiles_request-json-http.txt"),
        );
        assert_eq!(
            list.parse(&json(200, sample_v2!("cbu-getAgentLogfiles_response.json")))
                .unwrap()
                .logfiles
                .len(),
            1
        );
        assert!(list.parse(&json(500, "")).is_err());
        let get = GetLogfile {
            agent_id: AGENT.into(),
            logfile_id: LOGFILE.into(),
        };
        assert_request_line(
            &get.request(&auth()).unwrap(),
            sample_v2!("cbu-getAgentLogfileDetails_request-json-http.txt"),
        );
        let l = get
            .parse(&json(
                200,
                sample_v2!("cbu-getAgentLogfileDetails_response.json"),
            ))
            .unwrap();
        assert_eq!(l.state, LogfileState::Completed);
        assert_eq!(
            api_kind(get.parse(&json(404, "")).unwrap_err()),
            ApiErrorKind::NotFound
        );
    }

    #[test]
    fn update_logfile_replaces_the_state_only() {
        let op = UpdateLogfile {
            agent_id: AGENT.into(),
            logfile_id: LOGFILE.into(),
            state: LogfileState::Started,
            caller_agent_id: Some(AGENT.into()),
        };
        let req = op.request(&auth()).unwrap();
        assert_request_line(&req, sample_v2!("cbu-updateLogfile_request-json-http.txt"));
        assert_body(
            &req,
            sample_v2!("cbu-updateLogfile_request.json"),
            JSON_PATCH,
        );
        op.parse(&Response::new(204, "")).unwrap();
        assert_eq!(
            api_kind(op.parse(&json(409, r#"{"message": "done"}"#)).unwrap_err()),
            ApiErrorKind::Conflict
        );
        let back = UpdateLogfile {
            state: LogfileState::Requested,
            ..op
        };
        assert!(back
            .request(&auth())
            .unwrap_err()
            .to_string()
            .contains("state"));
    }

    #[test]
    fn update_logfile_names_the_calling_agent() {
        assert_agent_header(
            |caller_agent_id| UpdateLogfile {
                agent_id: AGENT.into(),
                logfile_id: LOGFILE.into(),
                state: LogfileState::Completed,
                caller_agent_id,
            },
            "caller_agent_id",
        );
    }

    #[test]
    fn delete_logfile() {
        let op = DeleteLogfile {
            agent_id: AGENT.into(),
            logfile_id: LOGFILE.into(),
        };
        assert_request_line(
            &op.request(&auth()).unwrap(),
            sample_v2!("cbu-deleteLogfile_request-json-http.txt"),
        );
        op.parse(&Response::new(204, "")).unwrap();
        assert_eq!(
            api_kind(op.parse(&json(404, "")).unwrap_err()),
            ApiErrorKind::NotFound
        );
        let bad = DeleteLogfile {
            logfile_id: "".into(),
            ..op
        };
        assert!(bad.request(&auth()).is_err());
    }
}
