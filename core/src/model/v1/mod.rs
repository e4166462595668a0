//! The v1.0 API's bodies (PascalCase JSON, `\/Date(ms)\/` dates, ids as
//! numbers or numeric strings). One module per resource; the enumerations
//! are in [`enums`], a v1-only wire form in [`quirks`].
//!
//! States and the `Action` of `action-requested` are the lifecycle types
//! ([`V1BackupState`](crate::lifecycle::V1BackupState),
//! [`V1RestoreState`](crate::lifecycle::V1RestoreState),
//! [`V1Action`](crate::lifecycle::V1Action)).

pub mod activity;
pub mod agent;
pub mod backup;
pub mod configuration;
pub mod enums;
pub mod quirks;
pub mod restore;

pub use activity::{Activity, ActivityState};
pub use agent::{
    Agent, ChangeEncryptionPasswordRequest, EnableAgentRequest, EncryptVolumeRequest,
    MachineAgentRef, MigrateVaultRequest, PublicKey, UpdateAgentBehaviorRequest,
};
pub use backup::{
    AvailableBackup, Backup, BackupActionRequest, BackupReport, CompletedBackup, ReportError,
};
pub use configuration::{
    BackupConfiguration, BackupConfigurationSpec, EnableRequest, FileItem, LastBackupState,
};
pub use enums::{
    ActivityType, AgentStatus, AmPm, Architecture, Datacenter, DayOfWeek, FileFilter, FileItemType,
    Flavor, Frequency, LogLevel, MissedBackupAction, VersionRetention,
};
pub use quirks::OrBlank;
pub use restore::{
    Restore, RestoreActionRequest, RestoreFile, RestoreReport, RestoreSpec, UpdateRestoreRequest,
};
