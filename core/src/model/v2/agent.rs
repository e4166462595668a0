//! v2 agent bodies: the agent resource, registration and authentication.

use serde::{Deserialize, Serialize};

use crate::model::v2::common::Link;
use crate::wire::{ById, HexNumber, HexString, Open, Timestamp};
use crate::{wire_enum, wire_enum_with_ids};

wire_enum! {
    /// Where the agent's host runs; decides whether `host.region` is required
    /// and the default of `vault.use_internal` at registration. Agents read
    /// it as [`Open`] (a flavor the service adds is kept); registration
    /// names a known one.
    pub enum HostFlavor {
        /// A Rackspace cloud server (region optional, internal vault by default).
        Nova = "nova",
        /// A dedicated server (region required, public vault by default).
        RackspaceDedicated = "rackspace_dedicated",
        /// A private cloud host (region required, internal vault by default).
        RackspacePrivateCloud = "rackspace_private_cloud",
    }
}

wire_enum! {
    /// An agent's log level (`log_level`, and `system_preferences.logging.level`).
    pub enum LogLevel {
        /// Everything.
        All = "all",
        /// Trace and above.
        Trace = "trace",
        /// Debug and above.
        Debug = "debug",
        /// Info and above (the service's default).
        Info = "info",
        /// Warnings and above.
        Warn = "warn",
        /// Errors and above.
        Error = "error",
        /// Fatal errors only.
        Fatal = "fatal",
    }
}

wire_enum_with_ids! {
    /// IP version of a host address; the wire carries the number (`"version": 4`).
    pub enum IpVersion {
        /// IPv4.
        V4 = "ipv4" => 4,
        /// IPv6.
        V6 = "ipv6" => 6,
    }
}

/// One IP address of the agent's host.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IpAddress {
    /// 4 or 6.
    pub version: ById<IpVersion>,
    /// The address, as the agent reported it.
    pub addr: String,
}

/// The host's operating system, as the agent reports it (free text).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OperatingSystem {
    /// e.g. `Ubuntu`.
    pub name: String,
    /// e.g. `14.04`.
    pub version: String,
    /// e.g. `64-bit`.
    pub architecture: String,
}

/// The machine (cloud server) an agent runs on.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HostMachine {
    /// The server's id.
    pub id: String,
    /// Links to the server; the service adds them, registration omits them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub links: Option<Vec<Link>>,
}

/// The agent's host as the service describes it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Host {
    /// Kind of host (one this build does not know is kept).
    pub flavor: Open<HostFlavor>,
    /// The host's region (e.g. `DFW`); may be absent for `nova` hosts.
    pub region: Option<String>,
    /// The machine, when known.
    pub machine: Option<HostMachine>,
    /// Operating system.
    pub os: OperatingSystem,
    /// IP addresses.
    #[serde(default)]
    pub addresses: Vec<IpAddress>,
}

/// The agent's RSA public key: the service encrypts vault passwords with it
/// (see `encrypted_password_hex`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RsaPublicKey {
    /// Modulus, hex.
    pub modulus: HexString,
    /// Exponent, hex digits; the service sends `10001` as a bare number meaning 0x10001.
    pub exponent: HexNumber,
}

/// The vault (Cloud Files container) an agent backs up to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AgentVault {
    /// Vault id.
    pub id: String,
    /// Container name, e.g. `phoenix_<id>`.
    pub name: Option<String>,
    /// Vault state, e.g. `created`; the reference gives no closed list.
    pub state: Option<String>,
    /// Storage flavor, e.g. `swift`; the reference gives no closed list.
    pub flavor: Option<String>,
    /// Whether the vault is encrypted with a user password.
    pub encrypted: bool,
    /// The vault's region, e.g. `DFW`.
    pub region: Option<String>,
    /// Whether the agent reaches the vault over the internal network.
    pub use_internal: Option<bool>,
    /// `publicURL`, `internalURL` links.
    #[serde(default)]
    pub links: Vec<Link>,
}

/// An agent (`GET /agents/{id}`, items of `GET /agents`, and the answer to
/// registration, which adds `password`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Agent {
    /// The owning project.
    pub project_id: String,
    /// Agent id.
    pub id: String,
    /// The agent's password, returned once, by registration; the agent
    /// authenticates with it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub password: Option<String>,
    /// Display name.
    pub name: String,
    /// Agent software version.
    pub version: String,
    /// The host it runs on.
    pub host: Host,
    /// Whether the agent is enabled.
    pub enabled: bool,
    /// The agent's public key.
    pub rsa_public_key: RsaPublicKey,
    /// Its vault, once created.
    pub vault: Option<AgentVault>,
    /// Its log level.
    pub log_level: Option<LogLevel>,
    /// When it registered.
    pub registered_time: Option<Timestamp>,
    /// `self`, `activities`, `configuration`, `events`, `logfiles`, `status`... links.
    #[serde(default)]
    pub links: Vec<Link>,
}

/// The body of `GET /agents`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AgentList {
    /// The project's agents (empty when there are none).
    pub agents: Vec<Agent>,
}

/// The host part of a registration.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NewHost {
    /// Kind of host.
    pub flavor: HostFlavor,
    /// Region; required unless the flavor is `nova` (sent as `null` then).
    pub region: Option<String>,
    /// The machine the agent runs on.
    pub machine: HostMachine,
    /// Operating system.
    pub os: OperatingSystem,
    /// A string the agent derives from its host; authentication must repeat
    /// it (409 otherwise), so two hosts cannot share one agent.
    pub fingerprint: String,
    /// IP addresses.
    pub addresses: Vec<IpAddress>,
}

/// Vault options of a registration.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct NewAgentVault {
    /// Use the internal network; the default depends on the host flavor.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub use_internal: Option<bool>,
}

/// The body of `POST /agents` (register an agent).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NewAgent {
    /// Display name.
    pub name: String,
    /// Agent software version.
    pub version: String,
    /// The host.
    pub host: NewHost,
    /// The agent's public key.
    pub rsa_public_key: RsaPublicKey,
    /// Vault options.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vault: Option<NewAgentVault>,
}

/// The host part of an authentication: what the service compares with the
/// registration.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TokenHost {
    /// Operating system.
    pub os: OperatingSystem,
    /// Must equal the fingerprint sent at registration.
    pub fingerprint: String,
    /// IP addresses.
    pub addresses: Vec<IpAddress>,
}

/// The body of `POST /agents/tokens` (authenticate an agent).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TokenRequest {
    /// The agent's project.
    pub project_id: String,
    /// Agent id.
    pub id: String,
    /// The password registration returned.
    pub password: String,
    /// Agent name.
    pub name: String,
    /// Agent software version.
    pub version: String,
    /// The host.
    pub host: TokenHost,
}

/// An identity token issued to an agent.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Token {
    /// The token (send as `X-Auth-Token`).
    pub id: String,
    /// When it expires.
    pub expires: Timestamp,
}

/// The body of a successful authentication.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TokenResponse {
    /// The token.
    pub token: Token,
}

/// The body of `GET /agents/{id}/status`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct AgentStatus {
    /// Whether the agent is running a job.
    pub busy: bool,
    /// Whether it has sent a heartbeat recently.
    pub online: bool,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_support::sample_v2;

    const DETAILS: &str = sample_v2!("cbu-getAgentDetails_response.json");

    #[test]
    fn agent_details_expose_typed_values() {
        let agent: Agent = serde_json::from_str(DETAILS).unwrap();
        assert_eq!(agent.host.flavor, Open::Known(HostFlavor::Nova));
        assert_eq!(agent.host.addresses[1].version.value, IpVersion::V6);
        assert_eq!(
            agent.rsa_public_key.exponent.to_bytes(),
            vec![0x01, 0x00, 0x01]
        );
        assert_eq!(agent.rsa_public_key.modulus.to_bytes().len(), 256);
        assert_eq!(agent.log_level, Some(LogLevel::Warn));
        assert!(agent.password.is_none());
    }

    #[test]
    fn unknown_flavors_are_kept_and_ip_versions_rejected() {
        let mut v: serde_json::Value = serde_json::from_str(DETAILS).unwrap();
        v["host"]["flavor"] = "vmware".into();
        let agent = serde_json::from_value::<Agent>(v.clone()).unwrap();
        assert_eq!(agent.host.flavor, Open::Unknown("vmware".into()));
        assert_eq!(
            serde_json::to_value(&agent).unwrap()["host"]["flavor"],
            "vmware"
        );
        v["host"]["flavor"] = "nova".into();
        v["host"]["addresses"][0]["version"] = 5.into();
        assert!(serde_json::from_value::<Agent>(v).is_err());
    }
}
