//! v2 vault requests: moving a vault between agents, enabling or changing its
//! encryption, and verifying its password. Encryption and verification are
//! asynchronous: a client posts a request, the agent does the work and
//! reports, and the client reads the result (404 until the agent reported).

use serde::{Deserialize, Serialize};

use crate::model::v2::event::EventHeader;
use crate::wire::HexString;
use crate::wire_enum;

/// The body of `POST /agents/{id}/vault`: take over another agent's vault.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MoveVault {
    /// The agent whose vault moves to the agent of the URL.
    pub source_agent_id: String,
}

/// The body of `POST /agents/{id}/vault-encryption-requests`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct VaultEncryptionRequest {
    /// The current password (encrypted with the agent's RSA key, hex);
    /// `null` when the vault is not encrypted yet. The service answers 403
    /// when this does not match the vault's state. Always sent, `null` included.
    pub old_encrypted_password_hex: Option<HexString>,
    /// The new password, encrypted the same way.
    pub new_encrypted_password_hex: HexString,
}

wire_enum! {
    /// Which encryption request an agent reports on.
    pub enum EncryptionAction {
        /// Encryption was being enabled.
        Enabled = "enabled",
        /// The password was being changed.
        Changed = "changed",
    }
}

/// The body of `POST /agents/{id}/vault-encryption-requests/{request_id}`
/// (the agent's report).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct VaultEncryptionReport {
    /// What was requested.
    pub action: EncryptionAction,
    /// Whether it worked.
    pub succeeded: bool,
}

/// The body of `GET /agents/{id}/vault-encryption-requests/{request_id}`: a
/// `vault_encryption_enabled` or `vault_encryption_changed` event.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct VaultEncryptionResult {
    /// Event id, time, name, agent and request id.
    #[serde(flatten)]
    pub header: EventHeader,
    /// Whether the agent succeeded.
    pub succeeded: bool,
}

/// The body of `POST /agents/{id}/vault-password-verification-requests`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct VaultPasswordRequest {
    /// The password to check, encrypted with the agent's RSA key (hex).
    pub encrypted_password_hex: HexString,
    /// The agent whose vault to check; `null` for the agent of the URL.
    /// Always sent, `null` included.
    pub agent_id: Option<String>,
}

/// The body of `POST /agents/{id}/vault-password-verification-requests/{request_id}`
/// (the agent's report).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct VaultPasswordReport {
    /// Whether the password opened the vault.
    pub verified: bool,
}

/// The body of `GET /agents/{id}/vault-password-verification-requests/{request_id}`:
/// a `vault_password_verified` event.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct VaultPasswordResult {
    /// Event id, time, name, agent and request id.
    #[serde(flatten)]
    pub header: EventHeader,
    /// Whether the password is valid.
    pub valid: bool,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::v2::event::EventType;
    use crate::test_support::sample_v2;

    #[test]
    fn requests_send_null_for_absent_passwords_and_agents() {
        let req = VaultEncryptionRequest {
            old_encrypted_password_hex: None,
            new_encrypted_password_hex: HexString::from_bytes(&[0xab]),
        };
        assert_eq!(
            serde_json::to_value(req).unwrap(),
            serde_json::json!({"old_encrypted_password_hex": null, "new_encrypted_password_hex": "ab"})
        );
        let req = VaultPasswordRequest {
            encrypted_password_hex: HexString::from_bytes(&[1]),
            agent_id: None,
        };
        assert_eq!(
            serde_json::to_value(req).unwrap()["agent_id"],
            serde_json::Value::Null
        );
    }

    #[test]
    fn results_are_events() {
        let r: VaultPasswordResult =
            serde_json::from_str(sample_v2!("cbu-getAgentVaultPasswordReport_response.json"))
                .unwrap();
        assert_eq!(r.header.event, EventType::VaultPasswordVerified);
        assert!(r.valid);
        assert!(serde_json::from_str::<VaultEncryptionReport>(
            r#"{"action": "disabled", "succeeded": true}"#
        )
        .is_err());
    }
}
