//! Restores: configuration bodies, the action-requested body, details,
//! restore files and reports.

use serde::{Deserialize, Serialize};

use super::agent::{DatacenterField, PublicKey};
use super::backup::ReportError;
use super::configuration::LooseOptInt;
use super::enums::{FileFilter, FileItemType, Flavor};
use super::quirks::OrBlank;
use crate::lifecycle::{apply_v1_action, RestoreState, V1Action, V1RestoreState};
use crate::wire::{ById, HexString, HumanSize, LooseBool, LooseInt, MsDate, Open};
use crate::{Error, Result};

/// What to restore and where: the body of `PUT restore` (create) and the
/// common part of update and of the restore the service returns. Numbers and
/// booleans are also read from strings (`"OverwriteFiles": "false"` in
/// openstacksdk's Rackspace plugin) and sent back as they came.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct RestoreSpec {
    /// The backup to restore from.
    pub backup_id: LooseInt,
    /// The agent that made the backup.
    pub backup_machine_id: LooseInt,
    /// The agent to restore to (the same one, or another).
    pub destination_machine_id: LooseInt,
    /// Where on the destination.
    pub destination_path: String,
    /// Data center of the agent that made the backup (it may be offline).
    #[serde(
        rename = "BackupDataCenter",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub backup_data_center: DatacenterField,
    /// Whether existing files are overwritten.
    pub overwrite_files: LooseBool,
}

/// Body of `POST restore` (update a restore configuration, only while it is
/// `Creating`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct UpdateRestoreRequest {
    /// The restore.
    pub restore_id: LooseInt,
    /// The configuration of the backup.
    pub backup_configuration_id: LooseInt,
    /// The state (by id, 0-9).
    pub restore_state_id: ById<V1RestoreState>,
    /// What and where.
    #[serde(flatten)]
    pub spec: RestoreSpec,
}

/// A restore (`GET restore/{restoreId}`, and the answer to create).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Restore {
    /// Its id.
    pub restore_id: LooseInt,
    /// What and where.
    #[serde(flatten)]
    pub spec: RestoreSpec,
    /// The configuration of the backup.
    pub backup_configuration_id: LooseInt,
    /// Its name.
    pub backup_configuration_name: String,
    /// Date of the backup being restored.
    pub backup_restore_point: Option<MsDate>,
    /// The agent (documented, not in the examples).
    pub machine_agent_id: Option<LooseInt>,
    /// Name of the machine that made the backup.
    pub backup_machine_name: Option<String>,
    /// Kind of that machine.
    pub backup_flavor: Option<Open<Flavor>>,
    /// Name of the destination machine.
    pub destination_machine_name: Option<String>,
    /// Whether the backup is encrypted.
    pub is_encrypted: LooseBool,
    /// The encrypted passphrase, or null (also `""`, `"None"` or `"null"`
    /// as text, as openstacksdk's Rackspace plugin shows it).
    pub encrypted_password: Option<OrBlank<HexString>>,
    /// Key to encrypt the passphrase with.
    pub public_key: Option<PublicKey>,
    /// The state (by id, 0-9).
    pub restore_state_id: ById<V1RestoreState>,
    /// Files to restore (documented, not in the examples).
    pub inclusions: Option<Vec<RestoreFile>>,
    /// Files not to restore (documented, not in the examples).
    pub exclusions: Option<Vec<RestoreFile>>,
}

/// Body of `POST restore/action-requested`.
///
/// With StartManual, `EncryptedPassword` is always sent: the reference marks
/// it required there ("specify null or the encrypted key"), so the start of
/// an unencrypted restore carries `"EncryptedPassword": null`. StopManual
/// sends it only when set (which [`RestoreActionRequest::validate`] refuses).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct RestoreActionRequest {
    /// StartManual or StopManual.
    pub action: V1Action,
    /// The passphrase encrypted with the agent's key, hex; only with
    /// StartManual, and only when the backup is encrypted (null otherwise).
    #[serde(default)]
    pub encrypted_password: Option<HexString>,
    /// The restore.
    pub id: LooseInt,
}

impl Serialize for RestoreActionRequest {
    fn serialize<S: serde::Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        use serde::ser::SerializeStruct;
        let with_password =
            self.action == V1Action::StartManual || self.encrypted_password.is_some();
        let mut st = s.serialize_struct("RestoreActionRequest", 2 + usize::from(with_password))?;
        st.serialize_field("Action", &self.action)?;
        if with_password {
            st.serialize_field("EncryptedPassword", &self.encrypted_password)?;
        }
        st.serialize_field("Id", &self.id)?;
        st.end()
    }
}

impl RestoreActionRequest {
    /// Checks the body on its own: a password is only meaningful with
    /// StartManual (the same rule [`apply_v1_action`] enforces).
    pub fn validate(&self) -> Result<()> {
        if self.action == V1Action::StopManual && self.encrypted_password.is_some() {
            return Err(Error::argument(
                "EncryptedPassword",
                "only meaningful with StartManual; leave it out with StopManual",
            ));
        }
        Ok(())
    }

    /// The state a restore now in `current` moves to when this request is
    /// accepted, or why it would be refused (a terminal restore: conflict).
    pub fn next_state(&self, current: V1RestoreState) -> Result<V1RestoreState> {
        let step = apply_v1_action(
            RestoreState::from(current),
            self.action,
            self.encrypted_password.is_some(),
        )?;
        Ok(step.state().into())
    }
}

/// A file or folder of a restore: the body of `PUT restore/files` (with
/// `ParentId`) and an entry of `GET restore/files/{restoreId}` (with
/// `RestoreId`), and of a restore's `Inclusions` / `Exclusions`. Filter and
/// type travel by id, as a number or a string, or by name (`"FileItemType":
/// "Folder"` in a restore's lists, which carry no `Filter`: the list says).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct RestoreFile {
    /// Path as it was backed up.
    pub file_path: String,
    /// The path, base64-encoded.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub file_path_encoded: Option<String>,
    /// 1 Include, 2 Exclude; required when adding a file
    /// ([`IncludeRestoreFile`](crate::api::v1::restores::IncludeRestoreFile)).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub filter: Option<ById<FileFilter>>,
    /// The restore it belongs to (requests).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parent_id: LooseOptInt,
    /// The restore it belongs to (listings).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub restore_id: LooseOptInt,
    /// 0 File, 1 Folder, 2 Database.
    pub file_item_type: ById<FileItemType>,
    /// Id of this entry.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub file_id: LooseOptInt,
}

/// `GET restore/report/{restoreId}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct RestoreReport {
    /// The configuration of the backup.
    pub backup_configuration_id: LooseInt,
    /// Its name.
    pub backup_configuration_name: String,
    /// The backup report restored from.
    pub backup_report_id: Option<LooseInt>,
    /// Date of the backup restored.
    pub restore_point: Option<MsDate>,
    /// Start.
    pub start_time: Option<MsDate>,
    /// End.
    pub completed_time: Option<MsDate>,
    /// Run time as `hh:mm:ss`.
    pub duration: Option<String>,
    /// Machine that made the backup.
    pub originating_computer_name: Option<String>,
    /// How it ended.
    pub state: V1RestoreState,
    /// Files restored (sent as a string).
    pub num_files_restored: Option<LooseInt>,
    /// Bytes restored, e.g. `"18 MB"`.
    pub num_bytes_restored: Option<HumanSize>,
    /// Name of the destination machine.
    pub restore_destination: Option<String>,
    /// The destination agent.
    pub restore_destination_machine_id: Option<LooseInt>,
    /// Number of errors (sent as a string).
    pub num_errors: Option<LooseInt>,
    /// Short outcome, e.g. "UnableToProcessSomeFiles".
    pub reason: Option<String>,
    /// Longer outcome.
    pub diagnostics: Option<String>,
    /// The files that failed.
    #[serde(default)]
    pub error_list: Vec<ReportError>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_support::sample_v1;

    const DETAILS: &str = sample_v1!("getRestoreDetails_response.json");

    fn action(action: V1Action, password: Option<&str>) -> RestoreActionRequest {
        RestoreActionRequest {
            action,
            encrypted_password: password.map(|p| HexString::parse(p).unwrap()),
            id: LooseInt::new(13689),
        }
    }

    #[test]
    fn restore_details_carry_the_state_by_id() {
        let r: Restore = serde_json::from_str(DETAILS).unwrap();
        assert_eq!(r.restore_state_id.value, V1RestoreState::Completed);
        assert_eq!(
            r.spec.backup_data_center,
            Some(crate::model::v1::OrBlank::Value(Open::Known(
                crate::model::v1::Datacenter::Dfw
            )))
        );
        assert_eq!(r.encrypted_password, None);
        // The restore of openstacksdk's Rackspace plugin: text booleans, a
        // "null" password, inclusions by type name without a filter.
        let mut v: serde_json::Value = serde_json::from_str(DETAILS).unwrap();
        v["EncryptedPassword"] = "null".into();
        v["IsEncrypted"] = "false".into();
        v["Inclusions"] = serde_json::json!([{"FilePath": "C:\\backed_up_folder", "ParentId": 148325,
            "FileItemType": "Folder", "FileId": 35000}]);
        let r: Restore = serde_json::from_value(v.clone()).unwrap();
        assert_eq!(
            r.encrypted_password.clone().and_then(OrBlank::into_value),
            None
        );
        let files = r.inclusions.clone().unwrap();
        assert_eq!(
            (files[0].file_item_type.value, files[0].filter),
            (FileItemType::Folder, None)
        );
        let back = serde_json::to_value(&r).unwrap();
        assert_eq!(back["Inclusions"], v["Inclusions"]);
        assert_eq!(back["EncryptedPassword"], "null");
        assert_eq!(r.public_key.unwrap().exponent_hex.digits(), "10001");
    }

    #[test]
    fn a_password_with_stop_manual_is_refused() {
        let e = action(V1Action::StopManual, Some("deadbeef"))
            .validate()
            .unwrap_err();
        assert!(
            matches!(&e, Error::InvalidArgument { name, .. } if name == "EncryptedPassword"),
            "{e}"
        );
        action(V1Action::StartManual, Some("deadbeef"))
            .validate()
            .unwrap();
        action(V1Action::StopManual, None).validate().unwrap();
    }

    #[test]
    fn actions_move_restores_through_the_lifecycle() {
        let start = action(V1Action::StartManual, None);
        assert_eq!(
            start.next_state(V1RestoreState::Creating).unwrap(),
            V1RestoreState::StartRequested
        );
        let stop = action(V1Action::StopManual, None);
        assert_eq!(
            stop.next_state(V1RestoreState::InProgress).unwrap(),
            V1RestoreState::StopRequested
        );
        assert!(stop.next_state(V1RestoreState::Completed).is_err());
    }
}
