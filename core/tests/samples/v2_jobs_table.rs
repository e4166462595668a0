//! Sample file name -> typed model: configurations, backups, restores and
//! cleanups (their resources, lists, start bodies, patches, `/errors` and
//! 409 answers).

/// The samples this table maps, each to the name of its model type
/// (`cloudbackup_core::by_name::models`).
pub fn table() -> Vec<(&'static str, &'static str)> {
    vec![
        // Configurations
        ("cbu-postConfig_request.json", "v2.CreateConfigurationBody"),
        ("cbu-postConfig_response.json", "v2.Configuration"),
        (
            "cbu-getConfigurationDetails_response.json",
            "v2.Configuration",
        ),
        (
            "cbu-getProjectConfigurations_response.json",
            "v2.ConfigurationList",
        ),
        ("cbu-getAgentConfigs_response.json", "v2.ConfigurationList"),
        ("cbu-updateConfiguration_request.json", "v2.Patch"),
        // Backups
        ("cbu-postBackup_request.json", "v2.StartBackupBody"),
        ("cbu-postBackup_response.json", "v2.Backup"),
        ("cbu-getBackupDetails_response.json", "v2.Backup"),
        ("cbu-getProjectBackups_response.json", "v2.BackupList"),
        ("cbu-getBackupErrors_response.json", "v2.ErrorReport"),
        ("cbu-updateBackup_request.json", "v2.Patch"),
        ("cbu-updateBackup_response409.json", "v2.ServiceMessage"),
        // Restores
        ("cbu-postRestore_request.json", "v2.StartRestoreBody"),
        ("cbu-postRestore_response.json", "v2.Restore"),
        ("cbu-getRestoreDetails_response.json", "v2.Restore"),
        ("cbu-getRestores_response.json", "v2.RestoreList"),
        ("cbu-getErrors_response.json", "v2.ErrorReport"),
        ("cbu-updateRestore_request.json", "v2.Patch"),
        ("cbu-updateRestore_response409.json", "v2.ServiceMessage"),
        // Cleanups
        ("cbu-postCleanup_request.json", "v2.StartCleanupBody"),
        ("cbu-postCleanup_response.json", "v2.Cleanup"),
        ("cbu-getCleanupDetails_response.json", "v2.Cleanup"),
        ("cbu-getProjectCleanups_response.json", "v2.CleanupList"),
        ("cbu-getCleanupErrors_response.json", "v2.ErrorReport"),
        ("cbu-updateCleanup_request.json", "v2.Patch"),
        ("cbu-updateCleanup_response409.json", "v2.ServiceMessage"),
    ]
}
