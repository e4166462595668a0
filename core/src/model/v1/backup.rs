//! Backups: the action-requested body, details, reports, completed backups
//! and backups available for restore.

use serde::{Deserialize, Serialize};

use super::agent::{DatacenterField, PublicKey};
use super::enums::Flavor;
use crate::lifecycle::{V1Action, V1BackupState};
use crate::wire::{HexNumber, HexString, HumanSize, LooseBool, LooseInt, MsDate, Open};

/// Body of `POST backup/action-requested`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct BackupActionRequest {
    /// StartManual or StopManual.
    pub action: V1Action,
    /// The backup configuration id to start, or the backup id to stop.
    pub id: LooseInt,
}

/// A backup (`GET backup/{backupId}`). Besides the reference's members, the
/// data centers that rackerlabs/cbu-sdk-python's `MonitorBackupProgress`
/// reads from the live service (`Datacenter`, `BackupDatacenter`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Backup {
    /// Its id.
    pub backup_id: LooseInt,
    /// The configuration it runs.
    pub backup_configuration_id: LooseInt,
    /// Where it is in its lifecycle.
    pub current_state: V1BackupState,
    /// Name of the configuration.
    pub backup_configuration_name: String,
    /// The agent.
    pub machine_agent_id: LooseInt,
    /// Name of the agent's machine.
    pub machine_name: String,
    /// Where the agent's server is.
    #[serde(default)]
    pub datacenter: DatacenterField,
    /// Where the backup is stored (`"None"` when not chosen yet).
    #[serde(default)]
    pub backup_datacenter: DatacenterField,
    /// When the state last changed.
    pub state_change_time: Option<MsDate>,
    /// Whether the vault is encrypted.
    pub is_encrypted: LooseBool,
    /// The agent's public key.
    pub encryption_key: Option<PublicKey>,
    /// The agent's snapshot of this backup in its vault, once there is one.
    #[serde(default)]
    pub snapshot_id: Option<LooseInt>,
}

/// One file a backup or restore could not process (`ErrorList` of the
/// reports). The restore report's entries are not shown in the reference
/// (its example list is empty); they are read with this shape.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ReportError {
    /// The report this entry belongs to.
    #[serde(rename = "BackupReportID")]
    pub backup_report_id: Option<LooseInt>,
    /// Position in the report.
    pub list_index: Option<LooseInt>,
    /// The agent's error class (e.g. 101).
    pub error_type: Option<LooseInt>,
    /// What went wrong.
    pub error_desc: Option<String>,
    /// The underlying exception.
    pub exception_desc: Option<String>,
    /// The exception with source location.
    pub exception_details: Option<String>,
    /// The exception's code.
    pub exception_code: Option<LooseInt>,
    /// The file concerned.
    pub path: Option<String>,
}

/// `GET backup/report/{backupId}`. Besides the reference's members, those
/// rackerlabs/cbu-sdk-python reads from the live service's reports
/// (`Datacenter`, `BackupDatacenter`, and `SnapshotId`, the agent's snapshot,
/// which it checks before restoring).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct BackupReport {
    /// The backup.
    pub backup_id: LooseInt,
    /// Its configuration.
    pub backup_configuration_id: LooseInt,
    /// Name of the configuration.
    pub backup_configuration_name: String,
    /// Whether the configuration has since been deleted.
    pub backup_configuration_is_deleted: Option<LooseBool>,
    /// Name of the agent's machine.
    pub computer_name: Option<String>,
    /// The agent.
    pub machine_agent_id: LooseInt,
    /// How it ended.
    pub state: V1BackupState,
    /// Whether it can be restored from.
    pub can_restore: Option<LooseBool>,
    /// Where the agent's server is.
    #[serde(default)]
    pub datacenter: DatacenterField,
    /// Where the backup is stored.
    #[serde(default)]
    pub backup_datacenter: DatacenterField,
    /// The agent's snapshot of this backup in its vault (v2 `snapshot_id`).
    #[serde(default)]
    pub snapshot_id: Option<LooseInt>,
    /// Start.
    pub start_time: Option<MsDate>,
    /// End.
    pub completed_time: Option<MsDate>,
    /// Run time as `hh:mm:ss`.
    pub duration: Option<String>,
    /// Files looked at (sent as a string).
    pub files_searched: Option<LooseInt>,
    /// Bytes looked at, e.g. `"3.7 GB"`.
    pub bytes_searched: Option<HumanSize>,
    /// Files stored (sent as a string).
    pub files_backed_up: Option<LooseInt>,
    /// Bytes stored, e.g. `"178.1 MB"`.
    pub bytes_backed_up: Option<HumanSize>,
    /// Number of errors.
    pub num_errors: Option<LooseInt>,
    /// Short outcome, e.g. "Success".
    pub reason: Option<String>,
    /// Longer outcome, e.g. "Completed With Errors".
    pub diagnostics: Option<String>,
    /// The files that failed.
    #[serde(default)]
    pub error_list: Vec<ReportError>,
}

/// One entry of `GET backup/completed/{backupConfigurationId}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct CompletedBackup {
    /// The backup.
    pub backup_id: LooseInt,
    /// Its configuration.
    pub backup_configuration_id: LooseInt,
    /// Name of the configuration.
    pub backup_configuration_name: String,
    /// Name of the agent's machine.
    pub machine_name: String,
    /// The agent.
    pub machine_agent_id: LooseInt,
    /// When it completed.
    pub completed_time: MsDate,
    /// Bytes looked at (a plain number here, unlike the report).
    pub bytes_searched: Option<LooseInt>,
    /// Number of errors.
    pub num_errors: Option<LooseInt>,
}

/// One entry of `GET backup/availableforrestore`: a configuration with at
/// least one completed, unexpired backup.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct AvailableBackup {
    /// The configuration.
    pub backup_configuration_id: LooseInt,
    /// Its name.
    pub backup_configuration_name: String,
    /// Name of the agent's machine.
    pub machine_name: String,
    /// The agent.
    pub machine_agent_id: LooseInt,
    /// Whether the vault is encrypted.
    pub is_encrypted: LooseBool,
    /// The agent's public exponent (hex, sent as a bare number).
    pub public_key_hex: Option<HexNumber>,
    /// The agent's modulus (hex with spaces).
    pub public_key_mod: Option<HexString>,
    /// Kind of machine.
    pub flavor: Option<Open<Flavor>>,
    /// The newest backup to restore from.
    pub last_successful_backup_time: Option<MsDate>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_support::sample_v1;

    const REPORT: &str = sample_v1!("getBackupReport_response.json");

    #[test]
    fn reports_decode_counts_and_sizes() {
        let r: BackupReport = serde_json::from_str(REPORT).unwrap();
        assert_eq!(r.state, V1BackupState::CompletedWithErrors);
        assert_eq!(r.files_searched.map(|n| n.value), Some(11_936));
        assert_eq!(
            r.bytes_backed_up.map(|s| s.to_string()),
            Some("178.1 MB".into())
        );
        assert_eq!(r.error_list.len(), 2);
        assert_eq!(
            r.error_list[0].backup_report_id.map(|n| n.value),
            Some(48_785)
        );
    }

    #[test]
    fn action_requests_use_the_lifecycle_action() {
        let r: BackupActionRequest =
            serde_json::from_str(r#"{"Action":"StopManual","Id":368785}"#).unwrap();
        assert_eq!(r.action, V1Action::StopManual);
        assert!(
            serde_json::from_str::<BackupActionRequest>(r#"{"Action":"Pause","Id":1}"#).is_err()
        );
    }
}
