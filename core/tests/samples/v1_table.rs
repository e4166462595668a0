//! Sample file name -> typed model (v1.0). The two samples that are not
//! JSON (`getUserAgents_response.json`: `"ExponentHex": 09528`;
//! `startEncryptedRestore_request.json`: single quotes) map to their real
//! types and must be rejected.

use cloudbackup_core::model::v1::*;

#[allow(unused_imports)]
use super::support::{rt, RoundTrip};

/// The samples this table maps.
pub fn table() -> Vec<(&'static str, RoundTrip)> {
    vec![
        // agents
        ("getAgentDetails_response.json", rt::<Agent>),
        ("getAgentServer_response.json", rt::<Agent>),
        ("getUserAgents_response.json", rt::<Vec<Agent>>),
        (
            "updateAgentBackupBehavior_request.json",
            rt::<UpdateAgentBehaviorRequest>,
        ),
        ("updateAgentBackupBehavior_response.json", rt::<Agent>),
        ("enableAgent_request.json", rt::<EnableAgentRequest>),
        ("disableAgent_request.json", rt::<EnableAgentRequest>),
        ("deleteAgent_request.json", rt::<MachineAgentRef>),
        ("deleteAgent_response.json", rt::<MachineAgentRef>),
        ("encryptVolume_request.json", rt::<EncryptVolumeRequest>),
        (
            "changeEncryptPassword_request.json",
            rt::<ChangeEncryptionPasswordRequest>,
        ),
        (
            "encryption-change-request.json",
            rt::<ChangeEncryptionPasswordRequest>,
        ),
        ("migrateVault_request.json", rt::<MigrateVaultRequest>),
        // backup configurations
        (
            "createBackupConfiguration-request.json",
            rt::<BackupConfigurationSpec>,
        ),
        (
            "createBackupConfiguration-response.json",
            rt::<BackupConfiguration>,
        ),
        (
            "updateBackupConfiguration-request.json",
            rt::<BackupConfigurationSpec>,
        ),
        ("getBackupConfig-response.json", rt::<BackupConfiguration>),
        (
            "getAllBackupConfigforUser-response.json",
            rt::<Vec<BackupConfiguration>>,
        ),
        (
            "getAllBackupConfigforAgent-response.json",
            rt::<Vec<BackupConfiguration>>,
        ),
        ("enableBackupConfig_request.json", rt::<EnableRequest>),
        ("disableBackupConfig_request.json", rt::<EnableRequest>),
        (
            "disableBackupConfig_response.json",
            rt::<BackupConfiguration>,
        ),
        // backups
        (
            "startBackupManually_request.json",
            rt::<BackupActionRequest>,
        ),
        ("stopBackupManually_request.json", rt::<BackupActionRequest>),
        ("getBackupDetails_response.json", rt::<Backup>),
        ("getBackupReport_response.json", rt::<BackupReport>),
        (
            "getCompletedBackups_response.json",
            rt::<Vec<CompletedBackup>>,
        ),
        (
            "getAvailableBackups_response.json",
            rt::<Vec<AvailableBackup>>,
        ),
        // restores
        ("createRestoreConfig_request.json", rt::<RestoreSpec>),
        ("createRestoreConfig_response.json", rt::<Restore>),
        (
            "updateRestoreConfig_request.json",
            rt::<UpdateRestoreRequest>,
        ),
        (
            "startEncryptedRestore_request.json",
            rt::<RestoreActionRequest>,
        ),
        (
            "startUnencryptedRestore_request.json",
            rt::<RestoreActionRequest>,
        ),
        (
            "stopRestoreManually_request.json",
            rt::<RestoreActionRequest>,
        ),
        ("getRestoreDetails_response.json", rt::<Restore>),
        ("getRestoreReport_response.json", rt::<RestoreReport>),
        ("includeRestoreFile_request.json", rt::<RestoreFile>),
        // `GET restore/files/{restoreId}`'s answer, despite the file name.
        ("getRestoreFiles_request.json", rt::<Vec<RestoreFile>>),
        // activity
        ("getUserActivity_response.json", rt::<Vec<Activity>>),
        ("getAgentActivity_response.json", rt::<Vec<Activity>>),
    ]
}
