//! Backup configurations: what a user sends to create or update one
//! ([`BackupConfigurationSpec`]) and what the service answers
//! ([`BackupConfiguration`]).

use std::fmt;

use serde::de::{self, Deserializer};
use serde::{Deserialize, Serialize, Serializer};

use super::agent::{DatacenterField, PublicKey};
use super::enums::{AmPm, DayOfWeek, FileFilter, FileItemType, Flavor, Frequency};
use super::enums::{MissedBackupAction, VersionRetention};
use super::quirks::OrBlank;
use crate::lifecycle::V1BackupState;
use crate::wire::{ById, LooseBool, LooseInt, MsDate, Open, WireName};

/// An optional number of a request body, which clients also send as a
/// string (`"11"`) or as `""` / `"None"` for none.
pub type LooseOptInt = Option<OrBlank<LooseInt>>;
use crate::{Error, Result};

/// A file or folder a backup configuration includes or excludes. Requests
/// carry only `FilePath` and `FileItemType`; answers add the ids, the filter
/// and the encoded path.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct FileItem {
    /// Path on the agent's machine.
    pub file_path: String,
    /// File, Folder or Database (by name here).
    pub file_item_type: FileItemType,
    /// Id of this entry.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub file_id: LooseOptInt,
    /// The configuration it belongs to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parent_id: LooseOptInt,
    /// Include or Exclude (by name here).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub filter: Option<FileFilter>,
    /// The path, base64-encoded.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub file_path_encoded: Option<String>,
}

impl FileItem {
    /// An entry as a create/update request carries it.
    pub fn new(file_path: impl Into<String>, file_item_type: FileItemType) -> Self {
        FileItem {
            file_path: file_path.into(),
            file_item_type,
            file_id: None,
            parent_id: None,
            filter: None,
            file_path_encoded: None,
        }
    }
}

/// The user-settable part of a backup configuration: the body of create
/// (`POST backup-configuration`) and update (`PUT backup-configuration/{id}`),
/// and the common part of every configuration the service returns.
///
/// Numbers and booleans are also read from strings (`"MachineAgentId":
/// "11"`, `"IsActive": "true"`, `"HourInterval": ""`) and sent back in the
/// form they came in: clients that build bodies from text (configuration
/// management tools, forms) send them so, and the service accepts them.
/// The pre- and post-backup scripts belong here, so an update built from a
/// configuration the service returned keeps them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct BackupConfigurationSpec {
    /// The agent that runs it.
    pub machine_agent_id: LooseInt,
    /// Its name.
    pub backup_configuration_name: String,
    /// Whether it is active.
    pub is_active: LooseBool,
    /// How long old versions are kept (0, 30 or 60 days).
    pub version_retention: ById<VersionRetention>,
    /// The schedule's id, as the service returns it; absent on create.
    /// Update sends it when known; clients that leave it out (the Chef
    /// cookbook rackspace_cloudbackup updates with the settable members
    /// only) are accepted by the service.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub backup_configuration_schedule_id: LooseOptInt,
    /// When to notify about a missed backup.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub missed_backup_action_id: Option<OrBlank<ById<MissedBackupAction>>>,
    /// Manually, Hourly, Daily or Weekly.
    pub frequency: Frequency,
    /// 1-12; null for Manually and Hourly.
    pub start_time_hour: LooseOptInt,
    /// 0-59; null for Manually and Hourly.
    pub start_time_minute: LooseOptInt,
    /// AM/PM; null (or `""` from the service) for Manually and Hourly.
    pub start_time_am_pm: Option<OrBlank<AmPm>>,
    /// Day of a weekly backup; null otherwise.
    pub day_of_week_id: Option<OrBlank<ById<DayOfWeek>>>,
    /// 1-23 hours between hourly backups; null otherwise.
    pub hour_interval: LooseOptInt,
    /// Windows time zone name, e.g. "Eastern Standard Time".
    pub time_zone_id: String,
    /// Address notified of success or failure.
    pub notify_recipients: String,
    /// Mail after a successful backup.
    pub notify_success: LooseBool,
    /// Mail after a failed backup.
    pub notify_failure: LooseBool,
    /// Script run before the backup (kept through updates).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub backup_prescript: Option<String>,
    /// Script run after the backup (kept through updates).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub backup_postscript: Option<String>,
    /// What to back up.
    #[serde(default)]
    pub inclusions: Vec<FileItem>,
    /// What to leave out.
    #[serde(default)]
    pub exclusions: Vec<FileItem>,
}

impl BackupConfigurationSpec {
    /// Checks what the reference's tables allow before the body is sent:
    /// hour 1-12, minute 0-59, interval 1-23, a real AM/PM, a name.
    pub fn validate(&self) -> Result<()> {
        if self.backup_configuration_name.trim().is_empty() {
            return Err(Error::argument(
                "BackupConfigurationName",
                "must not be empty",
            ));
        }
        let ranges = [
            ("StartTimeHour", &self.start_time_hour, 1..=12),
            ("StartTimeMinute", &self.start_time_minute, 0..=59),
            ("HourInterval", &self.hour_interval, 1..=23),
        ];
        for (name, value, range) in ranges {
            if let Some(v) = value.as_ref().and_then(OrBlank::value) {
                if !range.contains(&v.value) {
                    return Err(Error::argument(
                        name,
                        format!("{v} is outside {}..={}", range.start(), range.end()),
                    ));
                }
            }
        }
        if self.start_time_am_pm == Some(OrBlank::Value(AmPm::Placeholder)) {
            return Err(Error::argument(
                "StartTimeAmPm",
                format!(
                    "{:?} is a documentation placeholder; send \"AM\" or \"PM\"",
                    AmPm::Placeholder.wire_name()
                ),
            ));
        }
        Ok(())
    }
}

/// A backup configuration as the service returns it (create, get, list,
/// enable/disable).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct BackupConfiguration {
    /// Its id.
    pub backup_configuration_id: LooseInt,
    /// The settings (with the pre- and post-backup scripts).
    #[serde(flatten)]
    pub spec: BackupConfigurationSpec,
    /// Name of the agent's machine.
    pub machine_name: Option<String>,
    /// Kind of machine.
    pub flavor: Option<Open<Flavor>>,
    /// Whether the vault is encrypted.
    pub is_encrypted: Option<LooseBool>,
    /// Whether it has been deleted.
    pub is_deleted: Option<LooseBool>,
    /// Data center of the agent.
    #[serde(default)]
    pub datacenter: DatacenterField,
    /// The agent's public key.
    pub encryption_key: Option<PublicKey>,
    /// Next run (a date before year 1 for manual configurations).
    pub next_scheduled_run_time: Option<MsDate>,
    /// Last run, if any.
    pub last_run_time: Option<MsDate>,
    /// Report of the last run, if any.
    pub last_run_backup_report_id: Option<LooseInt>,
    /// State of the last backup (list for user only).
    pub backup_state: Option<LastBackupState>,
}

/// Body of `POST backup-configuration/enable/{id}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct EnableRequest {
    /// `true` enables, `false` disables (nothing is deleted).
    pub enable: LooseBool,
}

/// `BackupState` of a configuration: "InProgress", "Skipped", "Queued", or
/// "Not Available" — a backup state, or none yet.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum LastBackupState {
    /// The last backup's state.
    State(V1BackupState),
    /// `"Not Available"`: no backup has run.
    NotAvailable,
}

const NOT_AVAILABLE: &str = "Not Available";

impl fmt::Display for LastBackupState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LastBackupState::State(s) => f.write_str(s.as_str()),
            LastBackupState::NotAvailable => f.write_str(NOT_AVAILABLE),
        }
    }
}

impl Serialize for LastBackupState {
    fn serialize<S: Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for LastBackupState {
    fn deserialize<D: Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        let s = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        if s.eq_ignore_ascii_case(NOT_AVAILABLE) {
            return Ok(LastBackupState::NotAvailable);
        }
        V1BackupState::from_wire_name(&s)
            .map(LastBackupState::State)
            .ok_or_else(|| {
                de::Error::custom(format!(
                    "unknown BackupState {s:?}; expected {NOT_AVAILABLE:?} or one of: {}",
                    V1BackupState::expected_names()
                ))
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_support::sample_v1;
    use serde_json::json;

    const CREATE: &str = sample_v1!("createBackupConfiguration-request.json");
    const LIST: &str = sample_v1!("getAllBackupConfigforAgent-response.json");

    #[test]
    fn a_create_request_is_typed_and_valid() {
        let spec: BackupConfigurationSpec = serde_json::from_str(CREATE).unwrap();
        assert_eq!(spec.frequency, Frequency::Weekly);
        assert_eq!(
            spec.day_of_week_id
                .and_then(OrBlank::into_value)
                .map(|d| d.value),
            Some(DayOfWeek::Friday)
        );
        assert_eq!(spec.version_retention.value, VersionRetention::Days30);
        assert_eq!(
            spec.start_time_am_pm.and_then(OrBlank::into_value),
            Some(AmPm::Pm)
        );
        assert_eq!(spec.inclusions[1].file_item_type, FileItemType::Folder);
        spec.validate().unwrap();
    }

    #[test]
    fn manual_configurations_have_blank_times() {
        let list: Vec<BackupConfiguration> = serde_json::from_str(LIST).unwrap();
        let manual = &list[0];
        assert_eq!(manual.spec.frequency, Frequency::Manually);
        assert_eq!(manual.spec.start_time_am_pm, Some(OrBlank::Blank));
        assert_eq!(
            manual.next_scheduled_run_time.unwrap().millis,
            -62_135_578_800_000
        );
        assert!(manual.spec.exclusions.is_empty());
    }

    #[test]
    fn validation_names_the_offending_field() {
        let mut spec: BackupConfigurationSpec = serde_json::from_str(CREATE).unwrap();
        spec.start_time_hour = Some(OrBlank::Value(LooseInt::new(13)));
        let e = spec.validate().unwrap_err();
        assert!(
            matches!(&e, Error::InvalidArgument { name, .. } if name == "StartTimeHour"),
            "{e}"
        );
        spec.start_time_hour = Some(OrBlank::Value(LooseInt::new(7)));
        spec.start_time_am_pm = Some(OrBlank::Value(AmPm::Placeholder));
        assert!(spec
            .validate()
            .unwrap_err()
            .to_string()
            .contains("StartTimeAmPm"));
    }

    #[test]
    fn last_backup_state_accepts_not_available() {
        let s: LastBackupState = serde_json::from_value(json!("Not Available")).unwrap();
        assert_eq!(s, LastBackupState::NotAvailable);
        let s: LastBackupState = serde_json::from_value(json!("Skipped")).unwrap();
        assert_eq!(s, LastBackupState::State(V1BackupState::Skipped));
        assert_eq!(serde_json::to_value(s).unwrap(), json!("Skipped"));
        assert!(serde_json::from_value::<LastBackupState>(json!("Nope")).is_err());
    }
}
