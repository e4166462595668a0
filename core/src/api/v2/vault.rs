//! v2 vault operations: move a vault to another agent; enable or change its
//! encryption; verify its password. The last two run in three steps: the
//! client posts a request (202 + `Location`), the agent posts its report, the
//! client reads the result (404 until the agent has reported).

use serde::{Deserialize, Serialize};

use super::{sub_item_request, with_agent_header};
use crate::api::v2::agents::Accepted;
use crate::api::{
    parse_empty, parse_json, require_id, Auth, Method, Operation, Request, Response, JSON,
};
use crate::model::v2::vault::{
    MoveVault as MoveVaultBody, VaultEncryptionReport, VaultEncryptionRequest,
    VaultEncryptionResult, VaultPasswordReport, VaultPasswordRequest, VaultPasswordResult,
};
use crate::Result;

const ENCRYPTION: &str = "vault-encryption-requests";
const VERIFICATION: &str = "vault-password-verification-requests";

/// A request under `/agents/{agent_id}/{collection}[/{request_id}]`, ids checked.
fn agent_request(
    auth: &Auth,
    method: Method,
    agent_id: &str,
    collection: &str,
    request_id: Option<&str>,
) -> Result<Request> {
    sub_item_request(
        auth,
        method,
        ("agents", "agent_id", agent_id),
        collection,
        request_id.map(|id| ("request_id", id)),
    )
}

/// Give an agent another agent's vault (`POST /v2/{project}/agents/{agent_id}/vault`, 204).
/// The service refuses (403) encrypted vaults, foreign agents, and targets
/// whose own vault already holds data.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MoveVault {
    /// The agent that receives the vault.
    pub agent_id: String,
    /// The agent that gives it up.
    pub body: MoveVaultBody,
}

impl Operation for MoveVault {
    type Output = ();
    const NAME: &'static str = "move vault";
    const METHOD: Method = Method::Post;
    const PATH: &'static str = "/v2/{project_id}/agents/{agent_id}/vault";

    fn request(&self, auth: &Auth) -> Result<Request> {
        require_id("source_agent_id", &self.body.source_agent_id)?;
        agent_request(auth, Self::METHOD, &self.agent_id, "vault", None)?
            .json_body(JSON, &self.body)
    }

    fn parse(&self, response: &Response) -> Result<()> {
        parse_empty(Self::NAME, response, &[204])
    }
}

/// Enable or change vault encryption
/// (`POST /v2/{project}/agents/{agent_id}/vault-encryption-requests`, 202).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RequestVaultEncryption {
    /// Agent id.
    pub agent_id: String,
    /// Old (or `null`) and new encrypted passwords.
    pub body: VaultEncryptionRequest,
}

impl Operation for RequestVaultEncryption {
    type Output = Accepted;
    const NAME: &'static str = "request vault encryption";
    const METHOD: Method = Method::Post;
    const PATH: &'static str = "/v2/{project_id}/agents/{agent_id}/vault-encryption-requests";

    fn request(&self, auth: &Auth) -> Result<Request> {
        agent_request(auth, Self::METHOD, &self.agent_id, ENCRYPTION, None)?
            .json_body(JSON, &self.body)
    }

    fn parse(&self, response: &Response) -> Result<Accepted> {
        Accepted::from_response(Self::NAME, response)
    }
}

/// The agent reports the outcome of an encryption request
/// (`POST .../vault-encryption-requests/{request_id}`, 204).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReportVaultEncryption {
    /// Agent id.
    pub agent_id: String,
    /// The request's id.
    pub request_id: String,
    /// Action and outcome.
    pub body: VaultEncryptionReport,
    /// The calling agent's id, sent as `X-Agent-Id`; agents should always set
    /// it (see agent-header.rst); `None` for a user's call. Not `agent_id`:
    /// that is the path's agent, whose resource this is; an agent calling
    /// about itself sets both to its own id.
    pub caller_agent_id: Option<String>,
}

impl Operation for ReportVaultEncryption {
    type Output = ();
    const NAME: &'static str = "report vault encryption";
    const METHOD: Method = Method::Post;
    const PATH: &'static str =
        "/v2/{project_id}/agents/{agent_id}/vault-encryption-requests/{request_id}";

    fn request(&self, auth: &Auth) -> Result<Request> {
        let request = agent_request(
            auth,
            Self::METHOD,
            &self.agent_id,
            ENCRYPTION,
            Some(&self.request_id),
        )?;
        with_agent_header(request, "caller_agent_id", self.caller_agent_id.as_deref())?
            .json_body(JSON, &self.body)
    }

    fn parse(&self, response: &Response) -> Result<()> {
        parse_empty(Self::NAME, response, &[204])
    }
}

/// Read the outcome of an encryption request
/// (`GET .../vault-encryption-requests/{request_id}`; 404 until the agent reported).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GetVaultEncryptionResult {
    /// Agent id.
    pub agent_id: String,
    /// The request's id.
    pub request_id: String,
}

impl Operation for GetVaultEncryptionResult {
    type Output = VaultEncryptionResult;
    const NAME: &'static str = "get vault encryption result";
    const METHOD: Method = Method::Get;
    const PATH: &'static str =
        "/v2/{project_id}/agents/{agent_id}/vault-encryption-requests/{request_id}";

    fn request(&self, auth: &Auth) -> Result<Request> {
        agent_request(
            auth,
            Self::METHOD,
            &self.agent_id,
            ENCRYPTION,
            Some(&self.request_id),
        )
    }

    fn parse(&self, response: &Response) -> Result<VaultEncryptionResult> {
        parse_json(Self::NAME, response, &[200])
    }
}

/// Ask an agent to verify a vault password
/// (`POST /v2/{project}/agents/{agent_id}/vault-password-verification-requests`,
/// 202; 403 when the vault is not encrypted).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RequestPasswordVerification {
    /// The agent that does the check.
    pub agent_id: String,
    /// The encrypted password and the vault's agent.
    pub body: VaultPasswordRequest,
}

impl Operation for RequestPasswordVerification {
    type Output = Accepted;
    const NAME: &'static str = "request vault password verification";
    const METHOD: Method = Method::Post;
    const PATH: &'static str =
        "/v2/{project_id}/agents/{agent_id}/vault-password-verification-requests";

    fn request(&self, auth: &Auth) -> Result<Request> {
        agent_request(auth, Self::METHOD, &self.agent_id, VERIFICATION, None)?
            .json_body(JSON, &self.body)
    }

    fn parse(&self, response: &Response) -> Result<Accepted> {
        Accepted::from_response(Self::NAME, response)
    }
}

/// The agent reports whether the password opened the vault
/// (`POST .../vault-password-verification-requests/{request_id}`, 204).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReportPasswordVerification {
    /// Agent id.
    pub agent_id: String,
    /// The request's id.
    pub request_id: String,
    /// The outcome.
    pub body: VaultPasswordReport,
    /// The calling agent's id, sent as `X-Agent-Id`; agents should always set
    /// it (see agent-header.rst); `None` for a user's call. Not `agent_id`:
    /// that is the path's agent, whose resource this is; an agent calling
    /// about itself sets both to its own id.
    pub caller_agent_id: Option<String>,
}

impl Operation for ReportPasswordVerification {
    type Output = ();
    const NAME: &'static str = "report vault password verification";
    const METHOD: Method = Method::Post;
    const PATH: &'static str =
        "/v2/{project_id}/agents/{agent_id}/vault-password-verification-requests/{request_id}";

    fn request(&self, auth: &Auth) -> Result<Request> {
        let request = agent_request(
            auth,
            Self::METHOD,
            &self.agent_id,
            VERIFICATION,
            Some(&self.request_id),
        )?;
        with_agent_header(request, "caller_agent_id", self.caller_agent_id.as_deref())?
            .json_body(JSON, &self.body)
    }

    fn parse(&self, response: &Response) -> Result<()> {
        parse_empty(Self::NAME, response, &[204])
    }
}

/// Read the outcome of a password verification
/// (`GET .../vault-password-verification-requests/{request_id}`; 404 until the agent reported).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GetPasswordVerificationResult {
    /// Agent id.
    pub agent_id: String,
    /// The request's id.
    pub request_id: String,
}

impl Operation for GetPasswordVerificationResult {
    type Output = VaultPasswordResult;
    const NAME: &'static str = "get vault password verification result";
    const METHOD: Method = Method::Get;
    const PATH: &'static str =
        "/v2/{project_id}/agents/{agent_id}/vault-password-verification-requests/{request_id}";

    fn request(&self, auth: &Auth) -> Result<Request> {
        agent_request(
            auth,
            Self::METHOD,
            &self.agent_id,
            VERIFICATION,
            Some(&self.request_id),
        )
    }

    fn parse(&self, response: &Response) -> Result<VaultPasswordResult> {
        parse_json(Self::NAME, response, &[200])
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::ApiErrorKind;
    use crate::model::v2::event::EventType;
    use crate::model::v2::vault::EncryptionAction;
    use crate::test_support::v2::{assert_request_line, auth};
    use crate::test_support::{api_error, assert_agent_header, assert_body, json, sample_v2};

    const AGENT: &str = "8f135b4f-7a69-4b8a-947f-5e80d772fd97";

    #[test]
    fn move_vault() {
        let op = MoveVault {
            agent_id: AGENT.into(),
            body: serde_json::from_str(sample_v2!("cbu-postAgentVault_request.json")).unwrap(),
        };
        let req = op.request(&auth()).unwrap();
        assert_request_line(&req, sample_v2!("cbu-postAgentVault_request-json-http.txt"));
        assert_body(&req, sample_v2!("cbu-postAgentVault_request.json"), JSON);
        op.parse(&Response::new(204, "")).unwrap();
        assert_eq!(
            api_error(
                op.parse(&json(403, r#"{"message": "encrypted"}"#))
                    .unwrap_err()
            )
            .kind,
            ApiErrorKind::Forbidden
        );
    }

    #[test]
    fn encryption_request_report_and_result() {
        let op = RequestVaultEncryption {
            agent_id: AGENT.into(),
            body: serde_json::from_str(sample_v2!(
                "cbu-postAgentVaultEncryptionRequest_request.json"
            ))
            .unwrap(),
        };
        let req = op.request(&auth()).unwrap();
        assert_request_line(
            &req,
            sample_v2!("cbu-postAgentVaultEncryptionRequest_request-json-http.txt"),
        );
        assert_body(
            &req,
            sample_v2!("cbu-postAgentVaultEncryptionRequest_request.json"),
            JSON,
        );
        let accepted = op
            .parse(&Response::new(202, "").with_header(
                "Location",
                "https://cloudbackupapi.apiary-mock.com/v2/agents/8f135b4f-7a69-4b8a-947f-5e80d772fd97/vault-encryption-request/9072bb51-d5fd-4fc5-ad80-d62e573236b6",
            ))
            .unwrap();
        let request_id = accepted.request_id().unwrap().to_string();
        assert_eq!(request_id, "9072bb51-d5fd-4fc5-ad80-d62e573236b6");
        let e = api_error(
            op.parse(&json(
                403,
                r#"{"message": "An old password was supplied, but the vault is unencrypted."}"#,
            ))
            .unwrap_err(),
        );
        assert!(e.message.unwrap().contains("old password"));

        let report = ReportVaultEncryption {
            agent_id: AGENT.into(),
            request_id: request_id.clone(),
            body: VaultEncryptionReport {
                action: EncryptionAction::Enabled,
                succeeded: true,
            },
            caller_agent_id: Some(AGENT.into()),
        };
        let req = report.request(&auth()).unwrap();
        assert_request_line(
            &req,
            sample_v2!("cbu-postAgentVaultEncryptionReport_request-json-http.txt"),
        );
        assert_body(
            &req,
            sample_v2!("cbu-postAgentVaultEncryptionReport_request.json"),
            JSON,
        );
        report.parse(&Response::new(204, "")).unwrap();
        assert!(report.parse(&json(404, "")).is_err());

        let result = GetVaultEncryptionResult {
            agent_id: AGENT.into(),
            request_id,
        };
        assert_request_line(
            &result.request(&auth()).unwrap(),
            sample_v2!("cbu-getAgentVaultEncryptionReport_request-json-http.txt"),
        );
        let r = result
            .parse(&json(
                200,
                sample_v2!("cbu-getAgentVaultEncryptionReport_response.json"),
            ))
            .unwrap();
        assert_eq!(r.header.event, EventType::VaultEncryptionEnabled);
        assert!(r.succeeded);
        assert_eq!(
            api_error(result.parse(&json(404, "")).unwrap_err()).kind,
            ApiErrorKind::NotFound
        );
        let no_id = GetVaultEncryptionResult {
            agent_id: AGENT.into(),
            request_id: "".into(),
        };
        assert!(no_id
            .request(&auth())
            .unwrap_err()
            .to_string()
            .contains("request_id"));
    }

    #[test]
    fn reports_name_the_calling_agent() {
        assert_agent_header(
            |caller_agent_id| ReportVaultEncryption {
                agent_id: AGENT.into(),
                request_id: "9072bb51-d5fd-4fc5-ad80-d62e573236b6".into(),
                body: VaultEncryptionReport {
                    action: EncryptionAction::Changed,
                    succeeded: false,
                },
                caller_agent_id,
            },
            "caller_agent_id",
        );
        assert_agent_header(
            |caller_agent_id| ReportPasswordVerification {
                agent_id: AGENT.into(),
                request_id: "f353f472-4931-463a-9920-1dcad25f88e7".into(),
                body: VaultPasswordReport { verified: false },
                caller_agent_id,
            },
            "caller_agent_id",
        );
    }

    #[test]
    fn password_verification_request_report_and_result() {
        let op = RequestPasswordVerification {
            agent_id: AGENT.into(),
            body: serde_json::from_str(sample_v2!(
                "cbu-postAgentVaultPasswordRequest_request.json"
            ))
            .unwrap(),
        };
        let req = op.request(&auth()).unwrap();
        assert_request_line(
            &req,
            sample_v2!("cbu-postAgentVaultPasswordRequest_request-json-http.txt"),
        );
        assert_body(
            &req,
            sample_v2!("cbu-postAgentVaultPasswordRequest_request.json"),
            JSON,
        );
        assert_eq!(
            op.parse(&Response::new(202, "")).unwrap(),
            Accepted::default()
        );
        let e = api_error(
            op.parse(&json(
                403,
                r#"{"message": "Encryption is not enabled for this agent's vault."}"#,
            ))
            .unwrap_err(),
        );
        assert_eq!(e.kind, ApiErrorKind::Forbidden);

        let report = ReportPasswordVerification {
            agent_id: AGENT.into(),
            request_id: "f353f472-4931-463a-9920-1dcad25f88e7".into(),
            body: VaultPasswordReport { verified: true },
            caller_agent_id: Some(AGENT.into()),
        };
        let req = report.request(&auth()).unwrap();
        assert_request_line(
            &req,
            sample_v2!("cbu-postAgentVaultPasswordReport_request-json-http.txt"),
        );
        assert_body(
            &req,
            sample_v2!("cbu-postAgentVaultPasswordReport_request.json"),
            JSON,
        );
        report.parse(&Response::new(204, "")).unwrap();
        assert!(report.parse(&Response::new(200, "")).is_err());

        let result = GetPasswordVerificationResult {
            agent_id: AGENT.into(),
            request_id: "f353f472-4931-463a-9920-1dcad25f88e7".into(),
        };
        assert_request_line(
            &result.request(&auth()).unwrap(),
            sample_v2!("cbu-getAgentVaultPasswordReport_request-json-http.txt"),
        );
        assert!(
            result
                .parse(&json(
                    200,
                    sample_v2!("cbu-getAgentVaultPasswordReport_response.json")
                ))
                .unwrap()
                .valid
        );
        assert_eq!(
            api_error(result.parse(&json(404, "")).unwrap_err()).kind,
            ApiErrorKind::NotFound
        );
    }
}
