//! Backup configuration operations (`/v2/{project_id}/configurations`):
//! create, list (for the project or one agent), details, update (JSON
//! Patch) and delete. Activity and event lists of a configuration are in
//! [`activities`](super::activities) and [`events`](super::events).

use json_patch::Patch;
use serde::{Deserialize, Serialize};

use super::{item_request, patch_request};
use crate::api::{parse_empty, parse_json, Auth, Method, Operation, Request, Response, JSON};
use crate::model::v2::configuration::{Configuration, ConfigurationList, CreateConfigurationBody};
use crate::Result;

/// `POST /v2/{project_id}/configurations` (201): creates a backup
/// configuration. The body is checked against the reference's rules
/// ([`CreateConfigurationBody::validate`]) before anything is sent.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreateConfiguration {
    /// The new configuration.
    pub body: CreateConfigurationBody,
}

impl Operation for CreateConfiguration {
    type Output = Configuration;
    const NAME: &'static str = "create configuration";
    const METHOD: Method = Method::Post;
    const PATH: &'static str = "/v2/{project_id}/configurations";

    fn request(&self, auth: &Auth) -> Result<Request> {
        self.body.validate()?;
        auth.request(Self::METHOD, "v2", &["configurations"])
            .json_body(JSON, &self.body)
    }

    fn parse(&self, response: &Response) -> Result<Configuration> {
        parse_json(Self::NAME, response, &[201])
    }
}

/// `GET /v2/{project_id}/configurations` (200): the project's
/// configurations (not paged).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ListConfigurations {
    /// `restorable`: `Some(true)` lists only configurations with restorable backups.
    pub restorable: Option<bool>,
}

impl Operation for ListConfigurations {
    type Output = ConfigurationList;
    const NAME: &'static str = "list configurations";
    const METHOD: Method = Method::Get;
    const PATH: &'static str = "/v2/{project_id}/configurations";

    fn request(&self, auth: &Auth) -> Result<Request> {
        let request = auth.request(Self::METHOD, "v2", &["configurations"]);
        Ok(match self.restorable {
            Some(r) => request.query("restorable", r.to_string()),
            None => request,
        })
    }

    fn parse(&self, response: &Response) -> Result<ConfigurationList> {
        parse_json(Self::NAME, response, &[200])
    }
}

/// `GET /v2/{project_id}/agents/{agent_id}/configurations` (200): the
/// configurations of one agent.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ListAgentConfigurations {
    /// The agent.
    pub agent_id: String,
}

impl Operation for ListAgentConfigurations {
    type Output = ConfigurationList;
    const NAME: &'static str = "list agent configurations";
    const METHOD: Method = Method::Get;
    const PATH: &'static str = "/v2/{project_id}/agents/{agent_id}/configurations";

    fn request(&self, auth: &Auth) -> Result<Request> {
        item_request(
            auth,
            Self::METHOD,
            "agents",
            "agent_id",
            &self.agent_id,
            &["configurations"],
        )
    }

    fn parse(&self, response: &Response) -> Result<ConfigurationList> {
        parse_json(Self::NAME, response, &[200])
    }
}

/// `GET /v2/{project_id}/configurations/{configuration_id}` (200): one configuration.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GetConfiguration {
    /// The configuration.
    pub configuration_id: String,
}

impl Operation for GetConfiguration {
    type Output = Configuration;
    const NAME: &'static str = "get configuration";
    const METHOD: Method = Method::Get;
    const PATH: &'static str = "/v2/{project_id}/configurations/{configuration_id}";

    fn request(&self, auth: &Auth) -> Result<Request> {
        item_request(
            auth,
            Self::METHOD,
            "configurations",
            "configuration_id",
            &self.configuration_id,
            &[],
        )
    }

    fn parse(&self, response: &Response) -> Result<Configuration> {
        parse_json(Self::NAME, response, &[200])
    }
}

/// `PATCH /v2/{project_id}/configurations/{configuration_id}` (204): changes
/// a configuration. The service takes only `replace`, on `/name`,
/// `/enabled`, `/schedule`, `/retention/days`, `/inclusions`, `/exclusions`
/// and `/notifications`, with the create rules applying to the values.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UpdateConfiguration {
    /// The configuration.
    pub configuration_id: String,
    /// The changes.
    pub patch: Patch,
}

impl Operation for UpdateConfiguration {
    type Output = ();
    const NAME: &'static str = "update configuration";
    const METHOD: Method = Method::Patch;
    const PATH: &'static str = "/v2/{project_id}/configurations/{configuration_id}";

    fn request(&self, auth: &Auth) -> Result<Request> {
        patch_request(
            auth,
            "configurations",
            "configuration_id",
            &self.configuration_id,
            &self.patch,
        )
    }

    fn parse(&self, response: &Response) -> Result<()> {
        parse_empty(Self::NAME, response, &[204])
    }
}

/// `DELETE /v2/{project_id}/configurations/{configuration_id}` (204).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DeleteConfiguration {
    /// The configuration.
    pub configuration_id: String,
}

impl Operation for DeleteConfiguration {
    type Output = ();
    const NAME: &'static str = "delete configuration";
    const METHOD: Method = Method::Delete;
    const PATH: &'static str = "/v2/{project_id}/configurations/{configuration_id}";

    fn request(&self, auth: &Auth) -> Result<Request> {
        item_request(
            auth,
            Self::METHOD,
            "configurations",
            "configuration_id",
            &self.configuration_id,
            &[],
        )
    }

    fn parse(&self, response: &Response) -> Result<()> {
        parse_empty(Self::NAME, response, &[204])
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::{ApiErrorKind, JSON_PATCH};
    use crate::model::v2::common::{PathFilter, PathType};
    use crate::model::v2::configuration::{
        Notification, NotificationKind, Recurrence, Retention, Schedule,
    };
    use crate::test_support::v2::auth;
    use crate::test_support::{body, sample_v2};
    use crate::Error;

    const ID: &str = "7c8ee069-568f-4d5a-932f-fb2af86b5fd5";

    fn filter(kind: PathType, path: &str) -> PathFilter {
        PathFilter {
            kind,
            path: path.into(),
        }
    }

    fn sample_body() -> CreateConfigurationBody {
        CreateConfigurationBody {
            agent_id: "8f135b4f-7a69-4b8a-947f-5e80d772fd97".into(),
            name: "Every Other Hour Configuration".into(),
            enabled: true,
            schedule: Some(Schedule::new(Recurrence::hourly(2), "US/Central")),
            retention: Retention { days: 30 },
            inclusions: vec![
                filter(PathType::Folder, "/web/"),
                filter(PathType::File, "/etc/web/app.conf"),
            ],
            exclusions: vec![
                filter(PathType::Folder, "/web/cache/"),
                filter(PathType::File, "/web/cache.jpg"),
            ],
            notifications: vec![Notification {
                kind: NotificationKind::Email.into(),
                destination: "email@example.com".into(),
                on_success: true,
                on_failure: true,
            }],
        }
    }

    #[test]
    fn create_configuration_posts_the_sample_body() {
        let op = CreateConfiguration {
            body: sample_body(),
        };
        let req = op.request(&auth()).unwrap();
        assert_eq!(
            (req.method, req.path.as_str()),
            (Method::Post, "/v2/110011/configurations")
        );
        assert_eq!(req.header_value("Content-Type"), Some(JSON));
        let expected: serde_json::Value =
            serde_json::from_str(sample_v2!("cbu-postConfig_request.json")).unwrap();
        assert_eq!(body(&req), expected);

        let c = op
            .parse(&Response::new(
                201,
                sample_v2!("cbu-postConfig_response.json"),
            ))
            .unwrap();
        assert_eq!(c.id, ID);
        assert_eq!(c.retention, Retention { days: 30 });
        let e = op
            .parse(&Response::new(400, r#"{"message": "Invalid schedule."}"#))
            .unwrap_err();
        assert!(
            matches!(e, Error::Api(ref a) if a.kind == ApiErrorKind::BadRequest),
            "{e}"
        );
    }

    #[test]
    fn create_configuration_refuses_bodies_the_service_would() {
        let mut two = sample_body();
        two.schedule
            .as_mut()
            .unwrap()
            .recurrence
            .push(Recurrence::hourly(4));
        let mut nested = sample_body();
        nested
            .inclusions
            .push(filter(PathType::File, "/web/index.html"));
        let mut no_failure_mail = sample_body();
        no_failure_mail.notifications[0].on_failure = false;
        for (body, name) in [
            (two, "schedule.recurrence"),
            (nested, "inclusions[2]"),
            (no_failure_mail, "notifications"),
        ] {
            let e = CreateConfiguration { body }.request(&auth()).unwrap_err();
            assert!(
                matches!(&e, Error::InvalidArgument { name: n, .. } if n == name),
                "{name}: {e}"
            );
        }
    }

    #[test]
    fn list_configurations_for_the_project() {
        let req = ListConfigurations {
            restorable: Some(true),
        }
        .request(&auth())
        .unwrap();
        assert_eq!(req.method, Method::Get);
        assert_eq!(req.url(""), "/v2/110011/configurations?restorable=true");
        assert_eq!(
            ListConfigurations::default()
                .request(&auth())
                .unwrap()
                .url(""),
            "/v2/110011/configurations"
        );
        let list = ListConfigurations::default()
            .parse(&Response::new(
                200,
                sample_v2!("cbu-getProjectConfigurations_response.json"),
            ))
            .unwrap();
        assert_eq!(
            list.configurations[0].name,
            "Every Other Hour Configuration"
        );
        assert_eq!(list.configurations[0].inclusions, None);
        assert!(ListConfigurations::default()
            .parse(&Response::new(500, ""))
            .is_err());
    }

    #[test]
    fn list_configurations_for_an_agent() {
        let op = ListAgentConfigurations {
            agent_id: "8f135b4f-7a69-4b8a-947f-5e80d772fd97".into(),
        };
        let req = op.request(&auth()).unwrap();
        assert_eq!(
            (req.method, req.path.as_str()),
            (
                Method::Get,
                "/v2/110011/agents/8f135b4f-7a69-4b8a-947f-5e80d772fd97/configurations"
            )
        );
        let list = op
            .parse(&Response::new(
                200,
                sample_v2!("cbu-getAgentConfigs_response.json"),
            ))
            .unwrap();
        assert_eq!(list.configurations[0].agent.id, op.agent_id);
        assert!(ListAgentConfigurations {
            agent_id: "".into()
        }
        .request(&auth())
        .is_err());
        let e = op
            .parse(&Response::new(404, r#"{"message": "Agent not found."}"#))
            .unwrap_err();
        assert!(e.to_string().contains("Agent not found."), "{e}");
    }

    #[test]
    fn get_configuration_by_id() {
        let op = GetConfiguration {
            configuration_id: ID.into(),
        };
        let req = op.request(&auth()).unwrap();
        assert_eq!(
            (req.method, req.path.as_str()),
            (
                Method::Get,
                "/v2/110011/configurations/7c8ee069-568f-4d5a-932f-fb2af86b5fd5"
            )
        );
        let c = op
            .parse(&Response::new(
                200,
                sample_v2!("cbu-getConfigurationDetails_response.json"),
            ))
            .unwrap();
        assert_eq!(c.notifications.unwrap()[0].destination, "email@example.com");
        assert_eq!(c.links[0].rel, "self");
        assert!(op.parse(&Response::new(401, "")).is_err());
    }

    #[test]
    fn update_configuration_sends_a_json_patch() {
        // The reference's request sample has a doubled `/v2/.../v2/` in its
        // URL; the real path is the configuration's own.
        let patch: Patch =
            serde_json::from_str(sample_v2!("cbu-updateConfiguration_request.json")).unwrap();
        let op = UpdateConfiguration {
            configuration_id: ID.into(),
            patch,
        };
        let req = op.request(&auth()).unwrap();
        assert_eq!(
            (req.method, req.path.as_str()),
            (
                Method::Patch,
                "/v2/110011/configurations/7c8ee069-568f-4d5a-932f-fb2af86b5fd5"
            )
        );
        assert_eq!(req.header_value("Content-Type"), Some(JSON_PATCH));
        let expected: serde_json::Value =
            serde_json::from_str(sample_v2!("cbu-updateConfiguration_request.json")).unwrap();
        assert_eq!(body(&req), expected);
        op.parse(&Response::new(204, "")).unwrap();
        let e = op
            .parse(&Response::new(
                409,
                r#"{"message": "Configuration is deleted."}"#,
            ))
            .unwrap_err();
        assert!(
            matches!(e, Error::Api(ref a) if a.message.as_deref() == Some("Configuration is deleted.")),
            "{e}"
        );
    }

    #[test]
    fn delete_configuration() {
        let op = DeleteConfiguration {
            configuration_id: ID.into(),
        };
        let req = op.request(&auth()).unwrap();
        assert_eq!(
            (req.method, req.path.as_str()),
            (
                Method::Delete,
                "/v2/110011/configurations/7c8ee069-568f-4d5a-932f-fb2af86b5fd5"
            )
        );
        assert_eq!(req.body, None);
        op.parse(&Response::new(204, "")).unwrap();
        let e = op.parse(&Response::new(404, "")).unwrap_err();
        assert!(
            matches!(e, Error::Api(ref a) if a.kind == ApiErrorKind::NotFound),
            "{e}"
        );
    }
}
