//! v1 activity feeds.

use serde::{Deserialize, Serialize};

use super::request;
use crate::api::{parse_json, require_id, Auth, Method, Operation, Request, Response};
use crate::model::v1::Activity;
use crate::Result;

/// `GET /v1.0/{tenant_id}/activity`: the user's backups, restores and
/// cleanups, finished or running.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ListUserActivity;

crate::api::no_params!(ListUserActivity);

impl Operation for ListUserActivity {
    type Output = Vec<Activity>;
    const NAME: &'static str = "list user activity";
    const METHOD: Method = Method::Get;
    const PATH: &'static str = "/v1.0/{tenant_id}/activity";

    fn request(&self, auth: &Auth) -> Result<Request> {
        Ok(request(auth, Self::METHOD, &["activity"]))
    }

    fn parse(&self, response: &Response) -> Result<Vec<Activity>> {
        parse_json(Self::NAME, response, &[200])
    }
}

/// `GET /v1.0/{tenant_id}/system/activity/{agentId}`: one agent's activity.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ListAgentActivity {
    /// The agent (`MachineAgentId`).
    pub machine_agent_id: String,
}

impl Operation for ListAgentActivity {
    type Output = Vec<Activity>;
    const NAME: &'static str = "list agent activity";
    const METHOD: Method = Method::Get;
    const PATH: &'static str = "/v1.0/{tenant_id}/system/activity/{machine_agent_id}";

    fn request(&self, auth: &Auth) -> Result<Request> {
        require_id("machine_agent_id", &self.machine_agent_id)?;
        Ok(request(
            auth,
            Self::METHOD,
            &["system", "activity", &self.machine_agent_id],
        ))
    }

    fn parse(&self, response: &Response) -> Result<Vec<Activity>> {
        parse_json(Self::NAME, response, &[200])
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::v1::ActivityType;
    use crate::test_support::v1::{assert_request_line, auth};
    use crate::test_support::{assert_bodiless, sample_v1};

    #[test]
    fn list_user_activity() {
        let req = ListUserActivity.request(&auth()).unwrap();
        assert_request_line(&req, sample_v1!("getUserActivity-json-http_request.txt"));
        assert_bodiless(&req, Method::Get, "/v1.0/1234/activity");
        let feed = ListUserActivity
            .parse(&Response::new(
                200,
                sample_v1!("getUserActivity_response.json"),
            ))
            .unwrap();
        assert_eq!(
            feed.iter().map(|a| a.id).collect::<Vec<_>>(),
            vec![134_692, 134_693]
        );
        assert!(ListUserActivity.parse(&Response::new(404, "")).is_err());
    }

    #[test]
    fn list_agent_activity() {
        let op = ListAgentActivity {
            machine_agent_id: "232180".into(),
        };
        let req = op.request(&auth()).unwrap();
        assert_request_line(&req, sample_v1!("getAgentActivity-json-http_request.txt"));
        let feed = op
            .parse(&Response::new(
                200,
                sample_v1!("getAgentActivity_response.json"),
            ))
            .unwrap();
        assert_eq!(feed[0].kind, ActivityType::Backup);
        assert!(op
            .parse(&Response::new(400, ""))
            .unwrap_err()
            .to_string()
            .contains("400"));
        assert!(ListAgentActivity {
            machine_agent_id: String::new()
        }
        .request(&auth())
        .is_err());
    }
}
