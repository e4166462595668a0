//! Agents: details, backup behaviour, enable/disable, delete, encryption and
//! vault migration bodies.

use serde::{Deserialize, Serialize};

use super::enums::{AgentStatus, Architecture, Datacenter, Flavor};
use super::quirks::OrBlank;
use crate::wire::{HexNumber, HexString, HumanSize, LooseBool, LooseInt, MsDate, Open};

/// A data center member as v1 writes it: a name (open: a region this build
/// does not know is kept), `""` or `"None"` for none (`"BackupDatacenter":
/// "None"` in an agent list), or `null`.
pub type DatacenterField = Option<OrBlank<Open<Datacenter>>>;

/// An RSA public key as v1 writes it (`PublicKey` of agents and restores,
/// `EncryptionKey` of backups and configurations): the passphrase is
/// encrypted with it to form `EncryptedPassword`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct PublicKey {
    /// The modulus, hex, often wrapped with spaces.
    pub modulus_hex: HexString,
    /// The public exponent, hex; sometimes a bare JSON number (`10001` = 0x10001).
    pub exponent_hex: HexNumber,
}

/// An agent and the machine it runs on (list agent details, by host server
/// id, list user agents, and the answer to update backup behaviour).
///
/// Booleans are [`LooseBool`] because the service sends some of them as
/// strings (`"UseServiceNet": "true"` in the host-server example), and the id
/// a [`LooseInt`] (`"MachineAgentId": "1"` in rackerlabs/cbu-sdk-python's
/// mocks).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Agent {
    /// The agent's id (`MachineAgentId` in every other call).
    pub machine_agent_id: LooseInt,
    /// Name of the server.
    pub machine_name: String,
    /// Agent version, e.g. `1.05.005848`.
    pub agent_version: Option<String>,
    /// 64-bit or 32-bit.
    pub architecture: Option<Open<Architecture>>,
    /// Kind of machine.
    pub flavor: Option<Open<Flavor>>,
    /// Size of the backup vault, e.g. `"35.3 MB"`.
    pub backup_vault_size: Option<HumanSize>,
    /// Full Cloud Files URI of the vault container.
    pub backup_container: Option<String>,
    /// Where the agent's backups are kept, as the update-behaviour answer
    /// spells it (`BackupDataCenter`); see also `backup_datacenter_alt`.
    #[serde(rename = "BackupDataCenter", default)]
    pub backup_data_center: DatacenterField,
    /// The same, as agent lists spell it (`"BackupDatacenter": "None"` in the
    /// v1 cheat sheet's agent list); kept apart so each round-trips under the
    /// name it came with. [`Agent::backup_datacenter`] reads either.
    #[serde(
        rename = "BackupDatacenter",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub backup_datacenter_alt: DatacenterField,
    /// Whether a vault cleanup may be triggered by hand.
    pub cleanup_allowed: Option<LooseBool>,
    /// Where the server is.
    #[serde(default)]
    pub datacenter: DatacenterField,
    /// Public IPv4 address of the server.
    #[serde(rename = "IPAddress")]
    pub ip_address: Option<String>,
    /// Whether the agent is disabled.
    pub is_disabled: Option<LooseBool>,
    /// Whether its backups are encrypted.
    pub is_encrypted: Option<LooseBool>,
    /// Operating system.
    pub operating_system: Option<String>,
    /// Operating system version (often `""`).
    pub operating_system_version: Option<String>,
    /// The agent's public key, for encrypting passphrases.
    pub public_key: Option<PublicKey>,
    /// Online, Offline or Unknown.
    pub status: Option<AgentStatus>,
    /// Last successful backup, null if none.
    pub time_of_last_successful_backup: Option<MsDate>,
    /// Whether backups go over ServiceNet (no bandwidth charges).
    pub use_service_net: Option<LooseBool>,
    /// Whether the failover URI is used.
    pub use_failover_uri: Option<LooseBool>,
    /// Id of the host server (a UUID) the agent runs on.
    pub host_server_id: Option<String>,
}

impl Agent {
    /// Where the agent's backups are kept, whichever spelling the body used
    /// (`BackupDataCenter` or `BackupDatacenter`); `None` when absent, blank
    /// or `"None"`.
    pub fn backup_datacenter(&self) -> Option<&Open<Datacenter>> {
        self.backup_data_center
            .as_ref()
            .or(self.backup_datacenter_alt.as_ref())
            .and_then(OrBlank::value)
    }
}

/// Body of `POST agent/{machineAgentId}` (update backup behaviour).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct UpdateAgentBehaviorRequest {
    /// Where backups should be kept (you need servers in that data center).
    #[serde(
        rename = "BackupDataCenter",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub backup_data_center: DatacenterField,
    /// Use ServiceNet to talk to Cloud Files.
    pub use_service_net: LooseBool,
}

/// Body of `POST agent/enable` (enable or disable an agent).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct EnableAgentRequest {
    /// The agent.
    pub machine_agent_id: LooseInt,
    /// `true` enables, `false` disables (data is kept).
    pub enable: LooseBool,
}

/// `{"MachineAgentId": ...}`: the body of `POST agent/delete`, and the body
/// the reference shows coming back.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct MachineAgentRef {
    /// The agent.
    pub machine_agent_id: LooseInt,
}

/// Body of `POST agent/encrypt` (enable volume encryption).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct EncryptVolumeRequest {
    /// The agent.
    pub machine_agent_id: LooseInt,
    /// The passphrase RSA-encrypted with the agent's [`PublicKey`], hex.
    pub encrypted_password_hex: HexString,
}

/// Body of `POST agent/changeencryption`.
///
/// The two passwords are kept as text when parsing: the reference's own
/// example ends its new password in `...319fgh`, which is not hex. The
/// operation (`ChangeEncryptionPassword`) checks both are hex before sending.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ChangeEncryptionPasswordRequest {
    /// The agent.
    pub machine_agent_id: LooseInt,
    /// The current passphrase, encrypted, hex.
    pub old_encrypted_password_hex: String,
    /// The new passphrase, encrypted, hex.
    pub new_encrypted_password_hex: String,
}

/// Body of `PUT agent/migratevault`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct MigrateVaultRequest {
    /// Agent whose vault moves.
    pub source_machine_agent_id: LooseInt,
    /// Agent that receives it (no backups of its own, unencrypted). The
    /// table spells it `DestinationMachineAgentID`, the example `...Id`.
    #[serde(
        rename = "DestinationMachineAgentId",
        alias = "DestinationMachineAgentID"
    )]
    pub destination_machine_agent_id: LooseInt,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_support::sample_v1;

    const DETAILS: &str = sample_v1!("getAgentServer_response.json");

    #[test]
    fn agent_details_decode_their_quirks() {
        let a: Agent = serde_json::from_str(DETAILS).unwrap();
        assert_eq!(a.machine_agent_id.value, 213_564);
        assert_eq!(a.backup_vault_size.unwrap().bytes(), 37_014_733);
        assert_eq!(a.use_service_net.map(|b| b.value), Some(true));
        assert_eq!(
            a.datacenter,
            Some(OrBlank::Value(Open::Known(Datacenter::Dfw)))
        );
        let key = a.public_key.unwrap();
        assert_eq!(key.exponent_hex.to_bytes(), vec![0x00, 0x95, 0x28]);
        assert!(key.modulus_hex.as_str().contains(' '));
        assert_eq!(
            a.time_of_last_successful_backup.unwrap().millis,
            1_357_817_400_000
        );
    }

    #[test]
    fn migrate_vault_accepts_both_spellings() {
        let a: MigrateVaultRequest =
            serde_json::from_str(r#"{"SourceMachineAgentId":1,"DestinationMachineAgentID":2}"#)
                .unwrap();
        assert_eq!(a.destination_machine_agent_id.value, 2);
        let out = serde_json::to_string(&a).unwrap();
        assert!(out.contains("\"DestinationMachineAgentId\":2"), "{out}");
    }
}
