//! v1 agent operations (`/v1.0/{tenant_id}/agent/...`).

use serde::{Deserialize, Serialize};

use super::{json_request, parse_text, request};
use crate::api::{parse_empty, parse_json, require_id, Auth, Method, Operation, Request, Response};
use crate::model::v1::{
    Agent, ChangeEncryptionPasswordRequest, EnableAgentRequest, EncryptVolumeRequest, LogLevel,
    MachineAgentRef, MigrateVaultRequest, UpdateAgentBehaviorRequest,
};
use crate::wire::{HexString, LooseInt};
use crate::{Error, Result};

/// `GET /v1.0/{tenant_id}/agent/{machineAgentId}`: the agent and its machine.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GetAgent {
    /// The agent.
    pub machine_agent_id: String,
}

impl Operation for GetAgent {
    type Output = Agent;
    const NAME: &'static str = "get agent";
    const METHOD: Method = Method::Get;
    const PATH: &'static str = "/v1.0/{tenant_id}/agent/{machine_agent_id}";

    fn request(&self, auth: &Auth) -> Result<Request> {
        require_id("machine_agent_id", &self.machine_agent_id)?;
        Ok(request(
            auth,
            Self::METHOD,
            &["agent", &self.machine_agent_id],
        ))
    }

    fn parse(&self, response: &Response) -> Result<Agent> {
        parse_json(Self::NAME, response, &[200])
    }
}

/// `GET /v1.0/{tenant_id}/agent/server/{hostServerId}`: the agent running on
/// a server, looked up by the server's id (a UUID).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GetAgentByHostServer {
    /// The host server.
    pub host_server_id: String,
}

impl Operation for GetAgentByHostServer {
    type Output = Agent;
    const NAME: &'static str = "get agent by host server";
    const METHOD: Method = Method::Get;
    const PATH: &'static str = "/v1.0/{tenant_id}/agent/server/{host_server_id}";

    fn request(&self, auth: &Auth) -> Result<Request> {
        require_id("host_server_id", &self.host_server_id)?;
        Ok(request(
            auth,
            Self::METHOD,
            &["agent", "server", &self.host_server_id],
        ))
    }

    fn parse(&self, response: &Response) -> Result<Agent> {
        parse_json(Self::NAME, response, &[200])
    }
}

/// `POST /v1.0/{tenant_id}/agent/{machineAgentId}`: change the backup data
/// center and/or ServiceNet use; answers the updated agent.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UpdateAgentBackupBehavior {
    /// The agent.
    pub machine_agent_id: String,
    /// The new behaviour.
    pub body: UpdateAgentBehaviorRequest,
}

impl Operation for UpdateAgentBackupBehavior {
    type Output = Agent;
    const NAME: &'static str = "update agent backup behavior";
    const METHOD: Method = Method::Post;
    const PATH: &'static str = "/v1.0/{tenant_id}/agent/{machine_agent_id}";

    fn request(&self, auth: &Auth) -> Result<Request> {
        require_id("machine_agent_id", &self.machine_agent_id)?;
        json_request(
            auth,
            Self::METHOD,
            &["agent", &self.machine_agent_id],
            &self.body,
        )
    }

    fn parse(&self, response: &Response) -> Result<Agent> {
        parse_json(Self::NAME, response, &[200])
    }
}

/// `POST /v1.0/{tenant_id}/agent/enable`: enable or disable an agent.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EnableAgent {
    /// Which agent, and whether to enable it.
    pub body: EnableAgentRequest,
}

impl Operation for EnableAgent {
    type Output = ();
    const NAME: &'static str = "enable agent";
    const METHOD: Method = Method::Post;
    const PATH: &'static str = "/v1.0/{tenant_id}/agent/enable";

    fn request(&self, auth: &Auth) -> Result<Request> {
        json_request(auth, Self::METHOD, &["agent", "enable"], &self.body)
    }

    fn parse(&self, response: &Response) -> Result<()> {
        parse_empty(Self::NAME, response, &[204])
    }
}

/// `POST /v1.0/{tenant_id}/agent/delete`: delete an agent and its backups.
///
/// The status table says 204, yet the page shows `{"MachineAgentId": ...}`
/// coming back, which a server can only send with 200 (a 204 has no body):
/// 204 with an empty body gives `None`, 200 with that body `Some`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DeleteAgent {
    /// The agent to delete (a number, or a string holding one).
    pub machine_agent_id: LooseInt,
}

impl Operation for DeleteAgent {
    type Output = Option<MachineAgentRef>;
    const NAME: &'static str = "delete agent";
    const METHOD: Method = Method::Post;
    const PATH: &'static str = "/v1.0/{tenant_id}/agent/delete";

    fn request(&self, auth: &Auth) -> Result<Request> {
        let body = MachineAgentRef {
            machine_agent_id: self.machine_agent_id,
        };
        json_request(auth, Self::METHOD, &["agent", "delete"], &body)
    }

    fn parse(&self, response: &Response) -> Result<Option<MachineAgentRef>> {
        if response.status == 204 {
            parse_empty(Self::NAME, response, &[204]).map(|()| None)
        } else {
            parse_json(Self::NAME, response, &[200]).map(Some)
        }
    }
}

/// `POST /v1.0/{tenant_id}/agent/changeencryption`: re-key an encrypted
/// vault; answers the RSE request id.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ChangeEncryptionPassword {
    /// The agent and both encrypted passwords.
    pub body: ChangeEncryptionPasswordRequest,
}

impl Operation for ChangeEncryptionPassword {
    type Output = String;
    const NAME: &'static str = "change encryption password";
    const METHOD: Method = Method::Post;
    const PATH: &'static str = "/v1.0/{tenant_id}/agent/changeencryption";

    fn request(&self, auth: &Auth) -> Result<Request> {
        for (name, value) in [
            (
                "OldEncryptedPasswordHex",
                &self.body.old_encrypted_password_hex,
            ),
            (
                "NewEncryptedPasswordHex",
                &self.body.new_encrypted_password_hex,
            ),
        ] {
            if value.trim().is_empty() {
                return Err(Error::argument(name, "must not be empty"));
            }
            HexString::parse(value).map_err(|e| Error::argument(name, e.to_string()))?;
        }
        json_request(
            auth,
            Self::METHOD,
            &["agent", "changeencryption"],
            &self.body,
        )
    }

    fn parse(&self, response: &Response) -> Result<String> {
        parse_text(Self::NAME, response, &[200])
    }
}

/// `POST /v1.0/{tenant_id}/agent/encrypt`: turn on vault encryption (it
/// cannot be turned off); answers the RSE request id.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EnableVolumeEncryption {
    /// The agent and the encrypted password.
    pub body: EncryptVolumeRequest,
}

impl Operation for EnableVolumeEncryption {
    type Output = String;
    const NAME: &'static str = "enable volume encryption";
    const METHOD: Method = Method::Post;
    const PATH: &'static str = "/v1.0/{tenant_id}/agent/encrypt";

    fn request(&self, auth: &Auth) -> Result<Request> {
        if self.body.encrypted_password_hex.digits().is_empty() {
            return Err(Error::argument("EncryptedPasswordHex", "must not be empty"));
        }
        json_request(auth, Self::METHOD, &["agent", "encrypt"], &self.body)
    }

    fn parse(&self, response: &Response) -> Result<String> {
        parse_text(Self::NAME, response, &[200])
    }
}

/// `PUT /v1.0/{tenant_id}/agent/migratevault`: move a vault to another agent
/// of the same user (both unencrypted, the destination without backups).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MigrateVault {
    /// Source and destination agents.
    pub body: MigrateVaultRequest,
}

impl Operation for MigrateVault {
    type Output = ();
    const NAME: &'static str = "migrate vault";
    const METHOD: Method = Method::Put;
    const PATH: &'static str = "/v1.0/{tenant_id}/agent/migratevault";

    fn request(&self, auth: &Auth) -> Result<Request> {
        if self.body.source_machine_agent_id == self.body.destination_machine_agent_id {
            return Err(Error::argument(
                "DestinationMachineAgentId",
                "must differ from SourceMachineAgentId",
            ));
        }
        json_request(auth, Self::METHOD, &["agent", "migratevault"], &self.body)
    }

    fn parse(&self, response: &Response) -> Result<()> {
        parse_empty(Self::NAME, response, &[200])
    }
}

/// `PUT /v1.0/{tenant_id}/agent/logging`: set an agent's log level. The
/// reference sends this one as a form, `MachineAgentId=1311839&LoggingLevelId=6`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ChangeLogLevel {
    /// The agent (a number, or a string holding one).
    pub machine_agent_id: LooseInt,
    /// The level (sent as its id, 1-7).
    pub level: LogLevel,
}

/// `Content-Type` of the change-log-level form body.
pub const FORM: &str = "application/x-www-form-urlencoded";

impl Operation for ChangeLogLevel {
    type Output = ();
    const NAME: &'static str = "change log level";
    const METHOD: Method = Method::Put;
    const PATH: &'static str = "/v1.0/{tenant_id}/agent/logging";

    fn request(&self, auth: &Auth) -> Result<Request> {
        let form = format!(
            "MachineAgentId={}&LoggingLevelId={}",
            self.machine_agent_id.value,
            self.level.id()
        );
        let mut req =
            request(auth, Self::METHOD, &["agent", "logging"]).header("Content-Type", FORM);
        req.body = Some(form.into_bytes());
        Ok(req)
    }

    /// 200 as the reference says, or 204 as the service also answers
    /// (rackerlabs/cbu-sdk-python's `SetLogLevel` checks for 204).
    fn parse(&self, response: &Response) -> Result<()> {
        parse_empty(Self::NAME, response, &[200, 204])
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::ApiErrorKind;
    use crate::model::v1::{Datacenter, OrBlank};
    use crate::test_support::v1::{assert_request_line, auth};
    use crate::test_support::{api_kind, assert_json_request, sample_v1};
    use crate::wire::Open;

    #[test]
    fn get_agent() {
        let op = GetAgent {
            machine_agent_id: "213564".into(),
        };
        let req = op.request(&auth()).unwrap();
        assert_request_line(&req, sample_v1!("getAgentDetails-json-http_request.txt"));
        assert_eq!(req.body, None);
        let agent = op
            .parse(&Response::new(
                200,
                sample_v1!("getAgentDetails_response.json"),
            ))
            .unwrap();
        assert_eq!(
            agent.host_server_id.as_deref(),
            Some("87c3b6e1-fb1a-41f9-91e5-313ae35a5a06")
        );
        let e = op
            .parse(&Response::new(
                404,
                r#"{"itemNotFound":{"message":"Agent not found"}}"#,
            ))
            .unwrap_err();
        assert!(e.to_string().contains("Agent not found"), "{e}");
        assert!(GetAgent {
            machine_agent_id: " ".into()
        }
        .request(&auth())
        .is_err());
    }

    #[test]
    fn get_agent_by_host_server() {
        let op = GetAgentByHostServer {
            host_server_id: "87c3b6e1-fb1a-41f9-91e5-313ae35a5a06".into(),
        };
        let req = op.request(&auth()).unwrap();
        assert_request_line(&req, sample_v1!("getAgentServer-json-http_request.txt"));
        let agent = op
            .parse(&Response::new(
                200,
                sample_v1!("getAgentServer_response.json"),
            ))
            .unwrap();
        assert!(agent
            .backup_container
            .unwrap()
            .starts_with("https://storage101"));
        assert_eq!(
            api_kind(op.parse(&Response::new(401, "")).unwrap_err()),
            ApiErrorKind::Unauthorized
        );
    }

    #[test]
    fn update_agent_backup_behavior() {
        let op = UpdateAgentBackupBehavior {
            machine_agent_id: "213564".into(),
            body: UpdateAgentBehaviorRequest {
                backup_data_center: Some(OrBlank::Value(Open::Known(Datacenter::Dfw))),
                use_service_net: true.into(),
            },
        };
        let req = op.request(&auth()).unwrap();
        assert_request_line(
            &req,
            sample_v1!("updateAgentBackupBehavior_request_json_http.txt"),
        );
        assert_json_request(
            &req,
            Method::Post,
            "/v1.0/1234/agent/213564",
            sample_v1!("updateAgentBackupBehavior_request.json"),
        );
        let agent = op
            .parse(&Response::new(
                200,
                sample_v1!("updateAgentBackupBehavior_response.json"),
            ))
            .unwrap();
        assert_eq!(agent.use_failover_uri.as_ref().map(|b| b.value), Some(true));
        assert!(agent
            .backup_datacenter()
            .is_some_and(|d| *d == Datacenter::Dfw));
        assert_eq!(
            api_kind(op.parse(&Response::new(400, "")).unwrap_err()),
            ApiErrorKind::BadRequest
        );
    }

    #[test]
    fn enable_and_disable_agent() {
        for (enable, sample) in [
            (true, sample_v1!("enableAgent_request.json")),
            (false, sample_v1!("disableAgent_request.json")),
        ] {
            let op = EnableAgent {
                body: EnableAgentRequest {
                    machine_agent_id: 92_384_579.into(),
                    enable: enable.into(),
                },
            };
            let req = op.request(&auth()).unwrap();
            assert_json_request(&req, Method::Post, "/v1.0/1234/agent/enable", sample);
            op.parse(&Response::new(204, "")).unwrap();
            assert_eq!(
                api_kind(op.parse(&Response::new(403, "")).unwrap_err()),
                ApiErrorKind::Forbidden
            );
        }
    }

    #[test]
    fn delete_agent() {
        let op = DeleteAgent {
            machine_agent_id: 92_384_579.into(),
        };
        let req = op.request(&auth()).unwrap();
        assert_json_request(
            &req,
            Method::Post,
            "/v1.0/1234/agent/delete",
            sample_v1!("deleteAgent_request.json"),
        );
        assert_eq!(op.parse(&Response::new(204, "")).unwrap(), None);
        let body = op
            .parse(&Response::new(200, sample_v1!("deleteAgent_response.json")))
            .unwrap();
        assert_eq!(
            body,
            Some(MachineAgentRef {
                machine_agent_id: 92_384_579.into()
            })
        );
        // 200 promises the body; 204 promises none.
        assert!(matches!(
            op.parse(&Response::new(200, "")).unwrap_err(),
            Error::InvalidJson { .. }
        ));
        assert!(matches!(
            op.parse(&Response::new(204, sample_v1!("deleteAgent_response.json")))
                .unwrap_err(),
            Error::InvalidJson { .. }
        ));
        assert!(matches!(
            op.parse(&Response::new(202, "")).unwrap_err(),
            Error::UnexpectedResponse { status: 202, .. }
        ));
        assert_eq!(
            api_kind(op.parse(&Response::new(500, "boom")).unwrap_err()),
            ApiErrorKind::InternalServerError
        );
    }

    #[test]
    fn change_encryption_password() {
        let valid: ChangeEncryptionPasswordRequest =
            serde_json::from_str(sample_v1!("encryption-change-request.json")).unwrap();
        // The reference's new password ends in "fgh": not hex, so not sent.
        let op = ChangeEncryptionPassword {
            body: valid.clone(),
        };
        let e = op.request(&auth()).unwrap_err();
        assert!(
            matches!(&e, Error::InvalidArgument { name, .. } if name == "NewEncryptedPasswordHex"),
            "{e}"
        );
        let mut body = valid;
        body.new_encrypted_password_hex = body.old_encrypted_password_hex.replace("cbe", "cbf");
        let op = ChangeEncryptionPassword { body: body.clone() };
        let req = op.request(&auth()).unwrap();
        assert_json_request(
            &req,
            Method::Post,
            "/v1.0/1234/agent/changeencryption",
            &serde_json::to_string(&body).unwrap(),
        );
        let id = op
            .parse(&Response::new(
                200,
                sample_v1!("changeEncryptPassword_response.txt"),
            ))
            .unwrap();
        assert_eq!(id, "0cee72c7-015c-493b-b5fe-a896ae444c34");
        assert_eq!(
            api_kind(op.parse(&Response::new(503, "")).unwrap_err()),
            ApiErrorKind::ServiceUnavailable
        );
    }

    #[test]
    fn enable_volume_encryption() {
        let body: EncryptVolumeRequest =
            serde_json::from_str(sample_v1!("encryptVolume_request.json")).unwrap();
        let op = EnableVolumeEncryption { body };
        let req = op.request(&auth()).unwrap();
        assert_json_request(
            &req,
            Method::Post,
            "/v1.0/1234/agent/encrypt",
            sample_v1!("encryptVolume_request.json"),
        );
        let id = op
            .parse(&Response::new(
                200,
                sample_v1!("encryptVolume_response.txt"),
            ))
            .unwrap();
        assert_eq!(id, "0cee72c7-015c-493b-b5fe-a896ae444c34");
        assert_eq!(
            api_kind(op.parse(&Response::new(400, "")).unwrap_err()),
            ApiErrorKind::BadRequest
        );
    }

    #[test]
    fn migrate_vault() {
        let op = MigrateVault {
            body: MigrateVaultRequest {
                source_machine_agent_id: 1.into(),
                destination_machine_agent_id: 2.into(),
            },
        };
        let req = op.request(&auth()).unwrap();
        assert_json_request(
            &req,
            Method::Put,
            "/v1.0/1234/agent/migratevault",
            sample_v1!("migrateVault_request.json"),
        );
        op.parse(&Response::new(200, "")).unwrap();
        assert_eq!(
            api_kind(op.parse(&Response::new(403, "")).unwrap_err()),
            ApiErrorKind::Forbidden
        );
        let same = MigrateVault {
            body: MigrateVaultRequest {
                source_machine_agent_id: 1.into(),
                destination_machine_agent_id: 1.into(),
            },
        };
        assert!(same.request(&auth()).is_err());
    }

    #[test]
    fn change_log_level_sends_the_documented_form() {
        let op = ChangeLogLevel {
            machine_agent_id: 1_311_839.into(),
            level: LogLevel::Trace,
        };
        let req = op.request(&auth()).unwrap();
        assert_eq!(
            (req.method, req.path.as_str()),
            (Method::Put, "/v1.0/1234/agent/logging")
        );
        assert_eq!(req.header_value("Content-Type"), Some(FORM));
        assert_eq!(
            req.body.as_deref(),
            Some(&b"MachineAgentId=1311839&LoggingLevelId=6"[..])
        );
        op.parse(&Response::new(200, "")).unwrap();
        assert_eq!(
            api_kind(op.parse(&Response::new(500, "")).unwrap_err()),
            ApiErrorKind::InternalServerError
        );
    }
}
