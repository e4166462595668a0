//! v2 events: the project's event feed, posting events (activation of agent
//! polling, agent startup/shutdown), and the event lists of agents, backups,
//! restores, cleanups and configurations.
//!
//! Event lists are for monitoring: `marker` is the last event id seen, and
//! only newer events come back.

use serde::{Deserialize, Serialize};

use super::{paged_get, with_agent_header};
use crate::api::{
    parse_empty, parse_json, require_id, Auth, Method, Operation, Page, Request, Response, JSON,
};
use crate::model::v2::event::{AgentEvent, EventList, ProjectEvent};
use crate::Result;

/// The project's recent events, all agents together (`GET /v2/{project}/events`).
/// The service keeps them only a minute or so.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ListProjectEvents {
    /// `marker` (last event id seen), `limit`, `sort_dir` (default `desc`).
    #[serde(default)]
    pub page: Page,
}

impl Operation for ListProjectEvents {
    type Output = EventList;
    const NAME: &'static str = "list project events";
    const METHOD: Method = Method::Get;
    const PATH: &'static str = "/v2/{project_id}/events";

    fn request(&self, auth: &Auth) -> Result<Request> {
        paged_get(auth, &["events"], &self.page)
    }

    fn parse(&self, response: &Response) -> Result<EventList> {
        parse_json(Self::NAME, response, &[200])
    }
}

/// Ask every agent of the project to poll at a mode (`POST /v2/{project}/events`, 202).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PostProjectEvent {
    /// The `agent_activate` event.
    pub event: ProjectEvent,
}

impl Operation for PostProjectEvent {
    type Output = ();
    const NAME: &'static str = "post project event";
    const METHOD: Method = Method::Post;
    const PATH: &'static str = "/v2/{project_id}/events";

    fn request(&self, auth: &Auth) -> Result<Request> {
        auth.request(Self::METHOD, "v2", &["events"])
            .json_body(JSON, &self.event)
    }

    fn parse(&self, response: &Response) -> Result<()> {
        parse_empty(Self::NAME, response, &[202])
    }
}

/// An agent announces its startup or shutdown
/// (`POST /v2/{project}/agents/{agent_id}/events` with `X-Agent-Id`, 202).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PostAgentEvent {
    /// Agent id (path and `X-Agent-Id`).
    pub agent_id: String,
    /// `startup` or `shutdown`.
    pub event: AgentEvent,
}

impl Operation for PostAgentEvent {
    type Output = ();
    const NAME: &'static str = "post agent event";
    const METHOD: Method = Method::Post;
    const PATH: &'static str = "/v2/{project_id}/agents/{agent_id}/events";

    fn request(&self, auth: &Auth) -> Result<Request> {
        let request = auth.request(Self::METHOD, "v2", &["agents", &self.agent_id, "events"]);
        with_agent_header(request, "agent_id", Some(&self.agent_id))?.json_body(JSON, &self.event)
    }

    fn parse(&self, response: &Response) -> Result<()> {
        parse_empty(Self::NAME, response, &[202])
    }
}

/// Declares a paged `GET /v2/{project}/{collection}/{id}/events` operation.
macro_rules! event_list {
    ($(#[$doc:meta])* $name:ident, $op:literal, $collection:literal, $id:ident) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
        #[serde(deny_unknown_fields)]
        pub struct $name {
            /// The resource's id.
            pub $id: String,
            /// `marker` (last event id seen), `limit`, `sort_dir`.
            #[serde(default)]
            pub page: Page,
        }

        impl Operation for $name {
            type Output = EventList;
            const NAME: &'static str = $op;
            const METHOD: Method = Method::Get;
            const PATH: &'static str =
                concat!("/v2/{project_id}/", $collection, "/{", stringify!($id), "}/events");

            fn request(&self, auth: &Auth) -> Result<Request> {
                require_id(stringify!($id), &self.$id)?;
                paged_get(auth, &[$collection, &self.$id, "events"], &self.page)
            }

            fn parse(&self, response: &Response) -> Result<EventList> {
                parse_json(Self::NAME, response, &[200])
            }
        }
    };
}

event_list! {
    /// An agent's events (`GET /v2/{project}/agents/{agent_id}/events`).
    ListAgentEvents, "list agent events", "agents", agent_id
}

event_list! {
    /// A backup's events (`GET /v2/{project}/backups/{backup_id}/events`).
    ListBackupEvents, "list backup events", "backups", backup_id
}

event_list! {
    /// A restore's events (`GET /v2/{project}/restores/{restore_id}/events`).
    ListRestoreEvents, "list restore events", "restores", restore_id
}

event_list! {
    /// A cleanup's events (`GET /v2/{project}/cleanups/{cleanup_id}/events`).
    ListCleanupEvents, "list cleanup events", "cleanups", cleanup_id
}

event_list! {
    /// A backup configuration's events
    /// (`GET /v2/{project}/configurations/{configuration_id}/events`).
    ListConfigurationEvents, "list configuration events", "configurations", configuration_id
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::{ApiErrorKind, SortDir};
    use crate::model::v2::event::{AgentMode, AgentSignal, EventType};
    use crate::test_support::v2::{assert_request_line, auth};
    use crate::test_support::{api_kind, assert_body, json, sample_v2};

    fn page(marker: &str) -> Page {
        Page {
            marker: Some(marker.into()),
            limit: Some(100),
            sort_dir: Some(SortDir::Desc),
        }
    }

    #[test]
    fn project_events() {
        let op = ListProjectEvents {
            page: page("5152883998"),
        };
        assert_request_line(
            &op.request(&auth()).unwrap(),
            sample_v2!("cbu-getEvents_request-json-htttp.txt"),
        );
        let list = op
            .parse(&json(200, sample_v2!("cbu-getEvents_response.json")))
            .unwrap();
        assert_eq!(list.events[1].mode, Some(AgentMode::Active.into()));
        assert_eq!(
            api_kind(op.parse(&json(401, "")).unwrap_err()),
            ApiErrorKind::Unauthorized
        );
    }

    #[test]
    fn post_project_event() {
        let op = PostProjectEvent {
            event: ProjectEvent::activate(AgentMode::Active),
        };
        let req = op.request(&auth()).unwrap();
        assert_request_line(&req, sample_v2!("cbu-postEvents_request-json-http.txt"));
        assert_body(&req, sample_v2!("cbu-postEvents_request.json"), JSON);
        op.parse(&Response::new(202, "")).unwrap();
        assert_eq!(
            api_kind(
                op.parse(&json(400, r#"{"message": "bad mode"}"#))
                    .unwrap_err()
            ),
            ApiErrorKind::BadRequest
        );
    }

    #[test]
    fn post_agent_event_names_the_agent_in_a_header() {
        let op = PostAgentEvent {
            agent_id: "8f135b4f-7a69-4b8a-947f-5e80d772fd97".into(),
            event: AgentEvent {
                event: AgentSignal::Startup,
            },
        };
        let req = op.request(&auth()).unwrap();
        assert_request_line(
            &req,
            sample_v2!("cbu-postAgentEvents_request-json-http.txt"),
        );
        assert_eq!(
            req.header_value("X-Agent-Id"),
            Some("8f135b4f-7a69-4b8a-947f-5e80d772fd97")
        );
        assert_body(&req, sample_v2!("cbu-postAgentEvents_request.json"), JSON);
        op.parse(&Response::new(202, "")).unwrap();
        assert_eq!(
            api_kind(op.parse(&json(404, "")).unwrap_err()),
            ApiErrorKind::NotFound
        );
        for id in ["a\nb", "..", ""] {
            let bad = PostAgentEvent {
                agent_id: id.into(),
                ..op.clone()
            };
            let e = bad.request(&auth()).unwrap_err();
            assert!(
                matches!(&e, crate::Error::InvalidArgument { name, .. } if name == "agent_id"),
                "{e}"
            );
        }
    }

    #[test]
    fn resource_event_lists() {
        let agent = ListAgentEvents {
            agent_id: "8f135b4f-7a69-4b8a-947f-5e80d772fd97".into(),
            page: page("5152883998"),
        };
        assert_request_line(
            &agent.request(&auth()).unwrap(),
            sample_v2!("cbu-getAgentEvents_request-json-http.txt"),
        );
        let list = agent
            .parse(&json(200, sample_v2!("cbu-getAgentEvents_response.json")))
            .unwrap();
        assert_eq!(list.events[0].header.event, EventType::AgentRegistered);

        let backup = ListBackupEvents {
            backup_id: "0d95d699-d16b-11e4-93bd-c8e0eb190e3d".into(),
            page: page("5152883998"),
        };
        assert_request_line(
            &backup.request(&auth()).unwrap(),
            sample_v2!("cbu-getBackupEvents_request-json-http.txt"),
        );
        let list = backup
            .parse(&json(200, sample_v2!("cbu-getBackupEvents_response.json")))
            .unwrap();
        let browse = list.events.last().unwrap();
        assert_eq!(
            browse.backup.as_ref().unwrap().snapshot_id.unwrap().value,
            1111
        );
        assert!(browse.encrypted_password_hex.is_some());

        let restore = ListRestoreEvents {
            restore_id: "e87e6f7d-d166-11e4-8689-c8e0eb190e3d".into(),
            page: page("282856510"),
        };
        assert_request_line(
            &restore.request(&auth()).unwrap(),
            sample_v2!("cbu-getRestoreEvents_request-json-http.txt"),
        );
        restore
            .parse(&json(200, sample_v2!("cbu-getRestoreEvents_response.json")))
            .unwrap();

        let cleanup = ListCleanupEvents {
            cleanup_id: "2f8708b3-d16b-11e4-bc22-c8e0eb190e3d".into(),
            page: page("5152883998"),
        };
        assert_request_line(
            &cleanup.request(&auth()).unwrap(),
            sample_v2!("cbu-getCleanupEvents_request-json-http.txt"),
        );
        let list = cleanup
            .parse(&json(200, sample_v2!("cbu-getCleanupEvents_response.json")))
            .unwrap();
        assert_eq!(
            list.events[0].cleanup.as_ref().unwrap().id,
            "2f8708b3-d16b-11e4-bc22-c8e0eb190e3d"
        );

        let config = ListConfigurationEvents {
            configuration_id: "7c8ee069-568f-4d5a-932f-fb2af86b5fd5".into(),
            page: page("5152883998"),
        };
        assert_request_line(
            &config.request(&auth()).unwrap(),
            sample_v2!("cbu-getConfigEvents_request-json-http.txt"),
        );
        config
            .parse(&json(200, sample_v2!("cbu-getConfigEvents_response.json")))
            .unwrap();
        assert_eq!(
            api_kind(config.parse(&json(404, "")).unwrap_err()),
            ApiErrorKind::NotFound
        );

        let missing = ListBackupEvents {
            backup_id: String::new(),
            page: Page::default(),
        };
        assert!(missing
            .request(&auth())
            .unwrap_err()
            .to_string()
            .contains("backup_id"));
    }
}
