//! v2 settings and service state: an agent's configuration settings
//! (`GET /agents/{id}/configuration`, what the agent runs by), the project's
//! summary e-mail settings, and the health-check bodies.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::model::v2::agent::LogLevel;
use crate::model::v2::common::{Link, PathFilter};
use crate::wire::Timestamp;

/// Free disk space, in MB, an agent needs before starting each kind of job.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct MinimumDiskSpace {
    /// Before a backup.
    pub backup: u64,
    /// Before a restore.
    pub restore: u64,
    /// Before a cleanup.
    pub cleanup: u64,
}

/// `system_preferences.environment`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Environment {
    /// Disk space thresholds.
    pub minimum_disk_space_mb: MinimumDiskSpace,
}

/// `system_preferences.logging`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Logging {
    /// The agent's log level.
    pub level: LogLevel,
}

/// One duration, in milliseconds, per agent mode (`idle`, `active`, `real_time`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct PerMode {
    /// In `idle` mode.
    pub idle: u64,
    /// In `active` mode.
    pub active: u64,
    /// In `real_time` mode.
    pub real_time: u64,
}

/// Interval and timeout of a periodic agent task, per mode.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Periodic {
    /// Time between two runs.
    pub interval_ms: PerMode,
    /// How long one run may wait.
    pub timeout_ms: PerMode,
}

/// Where and how the agent exchanges events (the RSE service).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RseSettings {
    /// RSE endpoint.
    pub host: String,
    /// The agent's channel path on it.
    pub channel: String,
    /// Event polling.
    pub polling: Periodic,
    /// Heartbeat posting.
    pub heartbeat: Periodic,
}

/// `system_preferences.events`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EventSettings {
    /// The RSE settings.
    pub rse: RseSettings,
}

/// `system_preferences.backup_controls`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct BackupControls {
    /// Non-zero disables the Windows volume shadow copy service (the wire
    /// carries a number, e.g. `0`).
    pub disable_vss: i64,
}

impl BackupControls {
    /// Whether VSS is disabled.
    pub fn vss_disabled(self) -> bool {
        self.disable_vss != 0
    }
}

/// `system_preferences` of an agent's configuration settings.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SystemPreferences {
    /// Disk space thresholds.
    pub environment: Environment,
    /// Logging.
    pub logging: Logging,
    /// Event exchange.
    pub events: EventSettings,
    /// Backup controls.
    pub backup_controls: BackupControls,
}

/// A vault the agent may use, with its storage URLs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SettingsVault {
    /// Vault id.
    pub id: String,
    /// Whether to use the internal URL.
    pub use_internal: bool,
    /// Whether the vault is encrypted.
    pub encrypted: bool,
    /// `publicURL`, `internalURL`, `data_services`.
    #[serde(default)]
    pub links: Vec<Link>,
}

/// How long backups are kept.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct SettingsRetention {
    /// Days.
    pub days: u32,
}

/// A backup configuration as the agent receives it: the schedule already
/// expanded into the next run times.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AgentConfiguration {
    /// Configuration id.
    pub id: String,
    /// Name.
    pub name: String,
    /// Whether it runs.
    pub enabled: bool,
    /// The vault it backs up to.
    pub vault_id: String,
    /// Retention.
    pub retention: SettingsRetention,
    /// Next scheduled runs; `null` for manual-only configurations.
    pub times: Option<Vec<Timestamp>>,
    /// What to back up.
    #[serde(default)]
    pub inclusions: Vec<PathFilter>,
    /// What to leave out.
    #[serde(default)]
    pub exclusions: Vec<PathFilter>,
}

/// The body of `GET /agents/{id}/configuration`: everything an agent runs by.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AgentSettings {
    /// System preferences.
    pub system_preferences: SystemPreferences,
    /// Vaults.
    #[serde(default)]
    pub vaults: Vec<SettingsVault>,
    /// Backup configurations.
    #[serde(default)]
    pub configurations: Vec<AgentConfiguration>,
}

/// Where one summary notification goes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Notification {
    /// Channel, e.g. `email` (the reference gives no closed list).
    #[serde(rename = "type")]
    pub kind: String,
    /// Address, e.g. an e-mail address.
    pub destination: String,
}

/// The body of `GET`/`PUT /settings/summaries`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SummarySettings {
    /// Send daily summaries.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub daily: Option<bool>,
    /// Send weekly summaries.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub weekly: Option<bool>,
    /// Recipients.
    pub notifications: Vec<Notification>,
}

/// Health of one region of a dependent system.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct RegionHealth {
    /// Whether the region is online.
    pub online: bool,
}

/// Health of one dependent system (also the body of
/// `GET /health/{dependent_system}`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SystemHealth {
    /// Whether it is online.
    pub online: bool,
    /// The serving node (transport drivers).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub node: Option<String>,
    /// Per-region health (event services).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub regions: Option<BTreeMap<String, RegionHealth>>,
    /// `self` and per-region links.
    #[serde(default)]
    pub links: Vec<Link>,
}

/// The body of `GET /health`: dependent systems grouped by role
/// (`storage`, `transport`, `event`...), each keyed by system name
/// (`cassandra`, `pecan`, `rse`...). Both levels are maps because the set of
/// systems depends on the deployment; each system is typed.
pub type HealthReport = BTreeMap<String, BTreeMap<String, SystemHealth>>;

/// Whether every system of a health report is online.
pub fn all_online(report: &HealthReport) -> bool {
    report
        .values()
        .flat_map(|group| group.values())
        .all(|s| s.online)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_support::sample_v2;

    #[test]
    fn agent_settings_expose_typed_values() {
        let s: AgentSettings =
            serde_json::from_str(sample_v2!("cbu-getAgentConfig_response.json")).unwrap();
        assert_eq!(s.system_preferences.logging.level, LogLevel::Warn);
        assert_eq!(
            s.system_preferences
                .events
                .rse
                .polling
                .interval_ms
                .real_time,
            300
        );
        assert!(!s.system_preferences.backup_controls.vss_disabled());
        assert_eq!(s.configurations[0].times.as_ref().unwrap().len(), 3);
    }

    #[test]
    fn health_reports_tell_whether_all_systems_are_online() {
        let up: HealthReport =
            serde_json::from_str(sample_v2!("cbu-getHealthCheck1_response.json")).unwrap();
        let down: HealthReport =
            serde_json::from_str(sample_v2!("cbu-getHealthCheck2_response.json")).unwrap();
        assert!(all_online(&up));
        assert!(!all_online(&down));
        assert_eq!(up["transport"]["pecan"].node.as_deref(), Some("phx-web-01"));
    }

    #[test]
    fn manual_configurations_have_null_times() {
        let c: AgentConfiguration = serde_json::from_str(
            r#"{"id": "c", "name": "n", "enabled": true, "vault_id": "v",
                "retention": {"days": 30}, "times": null, "inclusions": [], "exclusions": []}"#,
        )
        .unwrap();
        assert_eq!(c.times, None);
    }
}
