//! Sample file name -> typed model: configurations, backups, restores and
//! cleanups (their resources, lists, start bodies, patches, `/errors` and
//! 409 answers).

use super::support::{rt, RoundTrip};
use cloudbackup_core::model::v2::backup::{Backup, BackupList, StartBackupBody};
use cloudbackup_core::model::v2::cleanup::{Cleanup, CleanupList, StartCleanupBody};
use cloudbackup_core::model::v2::common::{ErrorReport, ServiceMessage};
use cloudbackup_core::model::v2::configuration::{
    Configuration, ConfigurationList, CreateConfigurationBody,
};
use cloudbackup_core::model::v2::restore::{Restore, RestoreList, StartRestoreBody};
use json_patch::Patch;

/// The samples this table maps.
pub fn table() -> Vec<(&'static str, RoundTrip)> {
    vec![
        // Configurations
        (
            "cbu-postConfig_request.json",
            rt::<CreateConfigurationBody> as RoundTrip,
        ),
        ("cbu-postConfig_response.json", rt::<Configuration>),
        (
            "cbu-getConfigurationDetails_response.json",
            rt::<Configuration>,
        ),
        (
            "cbu-getProjectConfigurations_response.json",
            rt::<ConfigurationList>,
        ),
        ("cbu-getAgentConfigs_response.json", rt::<ConfigurationList>),
        ("cbu-updateConfiguration_request.json", rt::<Patch>),
        // Backups
        ("cbu-postBackup_request.json", rt::<StartBackupBody>),
        ("cbu-postBackup_response.json", rt::<Backup>),
        ("cbu-getBackupDetails_response.json", rt::<Backup>),
        ("cbu-getProjectBackups_response.json", rt::<BackupList>),
        ("cbu-getBackupErrors_response.json", rt::<ErrorReport>),
        ("cbu-updateBackup_request.json", rt::<Patch>),
        ("cbu-updateBackup_response409.json", rt::<ServiceMessage>),
        // Restores
        ("cbu-postRestore_request.json", rt::<StartRestoreBody>),
        ("cbu-postRestore_response.json", rt::<Restore>),
        ("cbu-getRestoreDetails_response.json", rt::<Restore>),
        ("cbu-getRestores_response.json", rt::<RestoreList>),
        ("cbu-getErrors_response.json", rt::<ErrorReport>),
        ("cbu-updateRestore_request.json", rt::<Patch>),
        ("cbu-updateRestore_response409.json", rt::<ServiceMessage>),
        // Cleanups
        ("cbu-postCleanup_request.json", rt::<StartCleanupBody>),
        ("cbu-postCleanup_response.json", rt::<Cleanup>),
        ("cbu-getCleanupDetails_response.json", rt::<Cleanup>),
        ("cbu-getProjectCleanups_response.json", rt::<CleanupList>),
        ("cbu-getCleanupErrors_response.json", rt::<ErrorReport>),
        ("cbu-updateCleanup_request.json", rt::<Patch>),
        ("cbu-updateCleanup_response409.json", rt::<ServiceMessage>),
    ]
}
