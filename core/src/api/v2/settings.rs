//! v2 settings and service state: an agent's configuration settings, the
//! project's summary settings, health checks and ping.

use serde::{Deserialize, Serialize};

use super::with_agent_header;
use crate::api::{
    check_status, parse_empty, parse_json, require_id, ApiError, Auth, Method, Operation, Request,
    Response, JSON,
};
use crate::error::from_json_slice;
use crate::model::v2::settings::{AgentSettings, HealthReport, SummarySettings, SystemHealth};
use crate::Result;

/// Everything an agent runs by: preferences, vaults, configurations with
/// their next run times (`GET /v2/{project}/agents/{agent_id}/configuration`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GetAgentSettings {
    /// Agent id.
    pub agent_id: String,
    /// The calling agent's id, sent as `X-Agent-Id`; agents should always set
    /// it (see agent-header.rst); `None` for a user's call. Not `agent_id`:
    /// that is the path's agent, whose resource this is; an agent calling
    /// about itself sets both to its own id.
    pub caller_agent_id: Option<String>,
}

impl Operation for GetAgentSettings {
    type Output = AgentSettings;
    const NAME: &'static str = "get agent configuration settings";
    const METHOD: Method = Method::Get;
    const PATH: &'static str = "/v2/{project_id}/agents/{agent_id}/configuration";

    fn request(&self, auth: &Auth) -> Result<Request> {
        require_id("agent_id", &self.agent_id)?;
        let request = auth.request(
            Self::METHOD,
            "v2",
            &["agents", &self.agent_id, "configuration"],
        );
        with_agent_header(request, "caller_agent_id", self.caller_agent_id.as_deref())
    }

    fn parse(&self, response: &Response) -> Result<AgentSettings> {
        parse_json(Self::NAME, response, &[200])
    }
}

/// Read the summary e-mail settings (`GET /v2/{project}/settings/summaries`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct GetSummarySettings;

crate::api::no_params!(GetSummarySettings);

impl Operation for GetSummarySettings {
    type Output = SummarySettings;
    const NAME: &'static str = "get summary settings";
    const METHOD: Method = Method::Get;
    const PATH: &'static str = "/v2/{project_id}/settings/summaries";

    fn request(&self, auth: &Auth) -> Result<Request> {
        Ok(auth.request(Self::METHOD, "v2", &["settings", "summaries"]))
    }

    fn parse(&self, response: &Response) -> Result<SummarySettings> {
        parse_json(Self::NAME, response, &[200])
    }
}

/// Replace the summary e-mail settings (`PUT /v2/{project}/settings/summaries`, 204).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UpdateSummarySettings {
    /// The new settings.
    pub settings: SummarySettings,
}

impl Operation for UpdateSummarySettings {
    type Output = ();
    const NAME: &'static str = "update summary settings";
    const METHOD: Method = Method::Put;
    const PATH: &'static str = "/v2/{project_id}/settings/summaries";

    fn request(&self, auth: &Auth) -> Result<Request> {
        auth.request(Self::METHOD, "v2", &["settings", "summaries"])
            .json_body(JSON, &self.settings)
    }

    fn parse(&self, response: &Response) -> Result<()> {
        parse_empty(Self::NAME, response, &[204])
    }
}

/// Parses a health body: 200, or 503 with a body of the same shape (a
/// dependent system is down, and the body says which). A 503 without such a
/// body (a proxy's, say) is the usual API error with its `Retry-After`.
fn parse_health<T: serde::de::DeserializeOwned>(operation: &str, response: &Response) -> Result<T> {
    if response.status == 503 {
        return from_json_slice(operation, &response.body)
            .map_err(|_| ApiError::from_response(operation, response).into());
    }
    check_status(operation, response, &[200])?;
    from_json_slice(operation, &response.body)
}

/// Check every dependent system (`GET /v2/{project}/health`). The service
/// answers 503 when any system is down; that answer still parses into the
/// report (see [`all_online`](crate::model::v2::settings::all_online)).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct HealthCheck;

crate::api::no_params!(HealthCheck);

impl Operation for HealthCheck {
    type Output = HealthReport;
    const NAME: &'static str = "health check";
    const METHOD: Method = Method::Get;
    const PATH: &'static str = "/v2/{project_id}/health";

    fn request(&self, auth: &Auth) -> Result<Request> {
        Ok(auth.request(Self::METHOD, "v2", &["health"]))
    }

    fn parse(&self, response: &Response) -> Result<HealthReport> {
        parse_health(Self::NAME, response)
    }
}

/// Check one dependent system (`GET /v2/{project}/health/{dependent_system}`);
/// 503 with a body parses like 200, with `online: false`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GetHealthDetails {
    /// The system's name, e.g. `cassandra`.
    pub dependent_system: String,
}

impl Operation for GetHealthDetails {
    type Output = SystemHealth;
    const NAME: &'static str = "get health details";
    const METHOD: Method = Method::Get;
    const PATH: &'static str = "/v2/{project_id}/health/{dependent_system}";

    fn request(&self, auth: &Auth) -> Result<Request> {
        require_id("dependent_system", &self.dependent_system)?;
        Ok(auth.request(Self::METHOD, "v2", &["health", &self.dependent_system]))
    }

    fn parse(&self, response: &Response) -> Result<SystemHealth> {
        parse_health(Self::NAME, response)
    }
}

/// Is the service running? (`GET /v2/{project}/ping`, 204; for load balancers.)
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Ping;

crate::api::no_params!(Ping);

impl Operation for Ping {
    type Output = ();
    const NAME: &'static str = "ping";
    const METHOD: Method = Method::Get;
    const PATH: &'static str = "/v2/{project_id}/ping";

    fn request(&self, auth: &Auth) -> Result<Request> {
        Ok(auth.request(Self::METHOD, "v2", &["ping"]))
    }

    fn parse(&self, response: &Response) -> Result<()> {
        parse_empty(Self::NAME, response, &[204])
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::{ApiErrorKind, RetryAfter};
    use crate::model::v2::settings::all_online;
    use crate::test_support::v2::{assert_request_line, auth};
    use crate::test_support::{api_error, assert_agent_header, assert_body, json, sample_v2};

    #[test]
    fn agent_settings() {
        let op = GetAgentSettings {
            agent_id: "8f135b4f-7a69-4b8a-947f-5e80d772fd97".into(),
            caller_agent_id: None,
        };
        assert_request_line(
            &op.request(&auth()).unwrap(),
            sample_v2!("cbu-getAgentConfig_request-json-http.txt"),
        );
        let s = op
            .parse(&json(200, sample_v2!("cbu-getAgentConfig_response.json")))
            .unwrap();
        assert_eq!(s.vaults[0].id, "7cd999c3-a0c3-4985-99d4-42b544685456");
        assert_eq!(
            api_error(op.parse(&json(404, "")).unwrap_err()).kind,
            ApiErrorKind::NotFound
        );
    }

    #[test]
    fn agent_settings_name_the_calling_agent() {
        assert_agent_header(
            |caller_agent_id| GetAgentSettings {
                agent_id: "8f135b4f-7a69-4b8a-947f-5e80d772fd97".into(),
                caller_agent_id,
            },
            "caller_agent_id",
        );
    }

    #[test]
    fn summary_settings_live_under_the_project() {
        let get = GetSummarySettings;
        assert_request_line(
            &get.request(&auth()).unwrap(),
            sample_v2!("cbu-getSummarySettings_request-json-http.txt"),
        );
        let settings = get
            .parse(&json(
                200,
                sample_v2!("cbu-getSummarySettings_response.json"),
            ))
            .unwrap();
        assert_eq!(settings.notifications.len(), 2);
        assert!(get.parse(&json(500, "")).is_err());

        let put = UpdateSummarySettings { settings };
        let req = put.request(&auth()).unwrap();
        assert_request_line(
            &req,
            sample_v2!("cbu-putSummarySettings_request-json-http.txt"),
        );
        assert_body(
            &req,
            sample_v2!("cbu-putSummarySettings_request.json"),
            JSON,
        );
        put.parse(&Response::new(204, "")).unwrap();
        assert_eq!(
            api_error(put.parse(&json(400, r#"{"message": "x"}"#)).unwrap_err()).kind,
            ApiErrorKind::BadRequest
        );
    }

    #[test]
    fn health_check_reports_down_systems_on_503() {
        let op = HealthCheck;
        assert_request_line(
            &op.request(&auth()).unwrap(),
            sample_v2!("cbu-getHealthCheck_request-json-http.txt"),
        );
        let up = op
            .parse(&json(200, sample_v2!("cbu-getHealthCheck1_response.json")))
            .unwrap();
        assert!(all_online(&up));
        let down = op
            .parse(&json(503, sample_v2!("cbu-getHealthCheck2_response.json")))
            .unwrap();
        assert!(!down["storage"]["cassandra"].online);
        let proxy = Response::new(503, "Service Unavailable").with_header("Retry-After", "5");
        let e = api_error(op.parse(&proxy).unwrap_err());
        assert_eq!(
            (e.kind, e.retry_after),
            (
                ApiErrorKind::ServiceUnavailable,
                Some(RetryAfter::Seconds(5))
            )
        );
        assert!(op.parse(&json(401, "")).is_err());
    }

    #[test]
    fn health_details() {
        let op = GetHealthDetails {
            dependent_system: "dependentSystemName".into(),
        };
        assert_request_line(
            &op.request(&auth()).unwrap(),
            sample_v2!("cbu-getHealthDetails_request-json-http.txt"),
        );
        assert!(
            op.parse(&json(
                200,
                sample_v2!("cbu-getHealthDetails1_response.json")
            ))
            .unwrap()
            .online
        );
        assert!(
            !op.parse(&json(
                503,
                sample_v2!("cbu-getHealthDetails2_response.json")
            ))
            .unwrap()
            .online
        );
        assert!(op.parse(&json(404, "")).is_err());
    }

    #[test]
    fn ping() {
        assert_request_line(
            &Ping.request(&auth()).unwrap(),
            sample_v2!("cbu-getPing_request-json-http.txt"),
        );
        Ping.parse(&Response::new(204, "")).unwrap();
        assert_eq!(
            api_error(Ping.parse(&Response::new(503, "")).unwrap_err()).kind,
            ApiErrorKind::ServiceUnavailable
        );
    }
}
