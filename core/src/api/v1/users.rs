//! v1 user operations (`/v1.0/{tenant_id}/user/...`).

use super::request;
use crate::api::{parse_empty, parse_json, Auth, Method, Operation, Request, Response};
use crate::model::v1::Agent;
use crate::Result;

/// `GET /v1.0/{tenant_id}/user/agents`: every agent of the user.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ListUserAgents;

crate::api::no_params!(ListUserAgents);

impl Operation for ListUserAgents {
    type Output = Vec<Agent>;
    const NAME: &'static str = "list user agents";
    const METHOD: Method = Method::Get;
    const PATH: &'static str = "/v1.0/{tenant_id}/user/agents";

    fn request(&self, auth: &Auth) -> Result<Request> {
        Ok(request(auth, Self::METHOD, &["user", "agents"]))
    }

    fn parse(&self, response: &Response) -> Result<Vec<Agent>> {
        parse_json(Self::NAME, response, &[200])
    }
}

/// `POST /v1.0/{tenant_id}/user/wakeupagents`: ask idle agents to connect;
/// wait 10-20 seconds before starting a backup or restore.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct WakeUpAgents;

crate::api::no_params!(WakeUpAgents);

impl Operation for WakeUpAgents {
    type Output = ();
    const NAME: &'static str = "wake up agents";
    const METHOD: Method = Method::Post;
    const PATH: &'static str = "/v1.0/{tenant_id}/user/wakeupagents";

    fn request(&self, auth: &Auth) -> Result<Request> {
        Ok(request(auth, Self::METHOD, &["user", "wakeupagents"]))
    }

    fn parse(&self, response: &Response) -> Result<()> {
        parse_empty(Self::NAME, response, &[200])
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_support::v1::{assert_request_line, auth};
    use crate::test_support::{assert_bodiless, sample_v1};
    use crate::Error;

    const AGENTS_HTTP: &str = sample_v1!("getUserAgents-json-http_request.txt");
    const WAKE_HTTP: &str = sample_v1!("wakeUpAgents-json-http_request.txt");
    const AGENTS: &str = sample_v1!("getUserAgents_response.json");

    #[test]
    fn list_user_agents() {
        let req = ListUserAgents.request(&auth()).unwrap();
        assert_request_line(&req, AGENTS_HTTP);
        assert_bodiless(&req, Method::Get, "/v1.0/1234/user/agents");
        // The reference's example writes `"ExponentHex": 09528`: not JSON.
        let e = ListUserAgents
            .parse(&Response::new(200, AGENTS))
            .unwrap_err();
        assert!(matches!(e, Error::InvalidJson { .. }), "{e}");
        let fixed = AGENTS.replace("09528", "\"09528\"");
        let agents = ListUserAgents.parse(&Response::new(200, fixed)).unwrap();
        assert_eq!(agents.len(), 2);
        assert_eq!(
            agents[1]
                .public_key
                .as_ref()
                .map(|k| k.exponent_hex.digits()),
            Some("82374")
        );
        assert!(ListUserAgents
            .parse(&Response::new(401, ""))
            .unwrap_err()
            .to_string()
            .contains("401"));
    }

    #[test]
    fn wake_up_agents() {
        let req = WakeUpAgents.request(&auth()).unwrap();
        assert_request_line(&req, WAKE_HTTP);
        assert_bodiless(&req, Method::Post, "/v1.0/1234/user/wakeupagents");
        WakeUpAgents.parse(&Response::new(200, "")).unwrap();
        assert!(WakeUpAgents.parse(&Response::new(503, "")).is_err());
    }
}
