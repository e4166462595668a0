//! v2 activity lists: of a project, an agent, or a backup configuration.

use crate::api::Method;
use serde::{Deserialize, Serialize};

use super::paged_get;
use crate::api::{parse_json, require_id, Auth, Operation, Page, Request, Response};
use crate::model::v2::activity::ActivityList;
use crate::Result;

/// List the project's activities (`GET /v2/{project}/activities`).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ListProjectActivities {
    /// `marker` (an activity id), `limit`, `sort_dir` (default `desc`).
    #[serde(default)]
    pub page: Page,
}

impl Operation for ListProjectActivities {
    type Output = ActivityList;
    const NAME: &'static str = "list project activities";
    const METHOD: Method = Method::Get;
    const PATH: &'static str = "/v2/{project_id}/activities";

    fn request(&self, auth: &Auth) -> Result<Request> {
        paged_get(auth, &["activities"], &self.page)
    }

    fn parse(&self, response: &Response) -> Result<ActivityList> {
        parse_json(Self::NAME, response, &[200])
    }
}

/// List an agent's activities (`GET /v2/{project}/agents/{agent_id}/activities`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ListAgentActivities {
    /// Agent id.
    pub agent_id: String,
    /// `marker` (an activity id), `limit`, `sort_dir` (default `desc`).
    #[serde(default)]
    pub page: Page,
}

impl Operation for ListAgentActivities {
    type Output = ActivityList;
    const NAME: &'static str = "list agent activities";
    const METHOD: Method = Method::Get;
    const PATH: &'static str = "/v2/{project_id}/agents/{agent_id}/activities";

    fn request(&self, auth: &Auth) -> Result<Request> {
        require_id("agent_id", &self.agent_id)?;
        paged_get(auth, &["agents", &self.agent_id, "activities"], &self.page)
    }

    fn parse(&self, response: &Response) -> Result<ActivityList> {
        parse_json(Self::NAME, response, &[200])
    }
}

/// List a backup configuration's activities
/// (`GET /v2/{project}/configurations/{configuration_id}/activities`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ListConfigurationActivities {
    /// Configuration id.
    pub configuration_id: String,
    /// `marker` (an activity id), `limit`, `sort_dir` (default `desc`).
    #[serde(default)]
    pub page: Page,
}

impl Operation for ListConfigurationActivities {
    type Output = ActivityList;
    const NAME: &'static str = "list configuration activities";
    const METHOD: Method = Method::Get;
    const PATH: &'static str = "/v2/{project_id}/configurations/{configuration_id}/activities";

    fn request(&self, auth: &Auth) -> Result<Request> {
        require_id("configuration_id", &self.configuration_id)?;
        paged_get(
            auth,
            &["configurations", &self.configuration_id, "activities"],
            &self.page,
        )
    }

    fn parse(&self, response: &Response) -> Result<ActivityList> {
        parse_json(Self::NAME, response, &[200])
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::SortDir;
    use crate::lifecycle::RestoreState;
    use crate::model::v2::activity::ActivityState;
    use crate::test_support::v2::{assert_request_line, auth};
    use crate::test_support::{json, sample_v2};
    use crate::Error;

    fn sample_page() -> Page {
        Page {
            marker: Some("0d95d699-d16b-11e4-93bd-c8e0eb190e3d".into()),
            limit: Some(100),
            sort_dir: Some(SortDir::Asc),
        }
    }

    #[test]
    fn project_activities() {
        let op = ListProjectActivities {
            page: sample_page(),
        };
        let req = op.request(&auth()).unwrap();
        assert_request_line(
            &req,
            sample_v2!("cbu-getProjectActivities_request-json-http.txt"),
        );
        assert!(req.body.is_none());
        let list = op
            .parse(&json(
                200,
                sample_v2!("cbu-getProjectActivities_response.json"),
            ))
            .unwrap();
        assert_eq!(list.activities.len(), 3);
        assert_eq!(
            ListProjectActivities::default()
                .request(&auth())
                .unwrap()
                .url(""),
            "/v2/110011/activities"
        );
        assert!(matches!(op.parse(&json(403, "{}")), Err(Error::Api(_))));
    }

    #[test]
    fn agent_activities() {
        let op = ListAgentActivities {
            agent_id: "8f135b4f-7a69-4b8a-947f-5e80d772fd97".into(),
            page: sample_page(),
        };
        assert_request_line(
            &op.request(&auth()).unwrap(),
            sample_v2!("cbu-getAgentActivities_request-json-http.txt"),
        );
        let list = op
            .parse(&json(
                200,
                sample_v2!("cbu-getAgentActivities_response.json"),
            ))
            .unwrap();
        assert_eq!(
            list.activities[2].state,
            ActivityState::Restore(RestoreState::CompletedWithErrors)
        );
        assert!(op
            .parse(&json(404, r#"{"message": "Agent not found."}"#))
            .is_err());
        let bad = ListAgentActivities {
            agent_id: "".into(),
            page: Page::default(),
        };
        assert!(bad.request(&auth()).is_err());
    }

    #[test]
    fn configuration_activities() {
        let op = ListConfigurationActivities {
            configuration_id: "7c8ee069-568f-4d5a-932f-fb2af86b5fd5".into(),
            page: sample_page(),
        };
        assert_request_line(
            &op.request(&auth()).unwrap(),
            sample_v2!("cbu-getConfigActivities_request-json-http.txt"),
        );
        op.parse(&json(
            200,
            sample_v2!("cbu-getConfigActivities_response.json"),
        ))
        .unwrap();
        let too_many = ListConfigurationActivities {
            page: Page {
                limit: Some(101),
                ..Page::default()
            },
            ..op.clone()
        };
        assert!(too_many.request(&auth()).is_err());
        assert!(op.parse(&json(500, "")).is_err());
    }
}
