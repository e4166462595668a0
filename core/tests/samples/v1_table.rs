//! Sample file name -> typed model (v1.0). The two samples that are not
//! JSON (`getUserAgents_response.json`: `"ExponentHex": 09528`;
//! `startEncryptedRestore_request.json`: single quotes) map to their real
//! types and must be rejected.

/// The samples this table maps, each to the name of its model type
/// (`cloudbackup_core::by_name::models`).
pub fn table() -> Vec<(&'static str, &'static str)> {
    vec![
        // agents
        ("getAgentDetails_response.json", "v1.Agent"),
        ("getAgentServer_response.json", "v1.Agent"),
        ("getUserAgents_response.json", "v1.Agent[]"),
        (
            "updateAgentBackupBehavior_request.json",
            "v1.UpdateAgentBehaviorRequest",
        ),
        ("updateAgentBackupBehavior_response.json", "v1.Agent"),
        ("enableAgent_request.json", "v1.EnableAgentRequest"),
        ("disableAgent_request.json", "v1.EnableAgentRequest"),
        ("deleteAgent_request.json", "v1.MachineAgentRef"),
        ("deleteAgent_response.json", "v1.MachineAgentRef"),
        ("encryptVolume_request.json", "v1.EncryptVolumeRequest"),
        (
            "changeEncryptPassword_request.json",
            "v1.ChangeEncryptionPasswordRequest",
        ),
        (
            "encryption-change-request.json",
            "v1.ChangeEncryptionPasswordRequest",
        ),
        ("migrateVault_request.json", "v1.MigrateVaultRequest"),
        // backup configurations
        (
            "createBackupConfiguration-request.json",
            "v1.BackupConfigurationSpec",
        ),
        (
            "createBackupConfiguration-response.json",
            "v1.BackupConfiguration",
        ),
        (
            "updateBackupConfiguration-request.json",
            "v1.BackupConfigurationSpec",
        ),
        ("getBackupConfig-response.json", "v1.BackupConfiguration"),
        (
            "getAllBackupConfigforUser-response.json",
            "v1.BackupConfiguration[]",
        ),
        (
            "getAllBackupConfigforAgent-response.json",
            "v1.BackupConfiguration[]",
        ),
        ("enableBackupConfig_request.json", "v1.EnableRequest"),
        ("disableBackupConfig_request.json", "v1.EnableRequest"),
        (
            "disableBackupConfig_response.json",
            "v1.BackupConfiguration",
        ),
        // backups
        ("startBackupManually_request.json", "v1.BackupActionRequest"),
        ("stopBackupManually_request.json", "v1.BackupActionRequest"),
        ("getBackupDetails_response.json", "v1.Backup"),
        ("getBackupReport_response.json", "v1.BackupReport"),
        ("getCompletedBackups_response.json", "v1.CompletedBackup[]"),
        ("getAvailableBackups_response.json", "v1.AvailableBackup[]"),
        // restores
        ("createRestoreConfig_request.json", "v1.RestoreSpec"),
        ("createRestoreConfig_response.json", "v1.Restore"),
        (
            "updateRestoreConfig_request.json",
            "v1.UpdateRestoreRequest",
        ),
        (
            "startEncryptedRestore_request.json",
            "v1.RestoreActionRequest",
        ),
        (
            "startUnencryptedRestore_request.json",
            "v1.RestoreActionRequest",
        ),
        (
            "stopRestoreManually_request.json",
            "v1.RestoreActionRequest",
        ),
        ("getRestoreDetails_response.json", "v1.Restore"),
        ("getRestoreReport_response.json", "v1.RestoreReport"),
        ("includeRestoreFile_request.json", "v1.RestoreFile"),
        // `GET restore/files/{restoreId}`'s answer, despite the file name.
        ("getRestoreFiles_request.json", "v1.RestoreFile[]"),
        // activity
        ("getUserActivity_response.json", "v1.Activity[]"),
        ("getAgentActivity_response.json", "v1.Activity[]"),
    ]
}
