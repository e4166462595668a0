//! The v1.0 API's bodies (PascalCase JSON, `\/Date(ms)\/` dates, ids as
//! numbers or numeric strings). One module per resource; the enumerations
//! are in [`enums`], a v1-only wire form in [`quirks`].
//!
//! Numbers and booleans of v1 bodies are read from strings too (`"11"`,
//! `"true"`, and `""` or `"None"` for an optional number) and written back as
//! they came; names the service may add to (data centers, flavors, activity
//! types) are [`Open`](crate::wire::Open).
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
    Agent, ChangeEncryptionPasswordRequest, DatacenterField, EnableAgentRequest,
    EncryptVolumeRequest, MachineAgentRef, MigrateVaultRequest, PublicKey,
    UpdateAgentBehaviorRequest,
};
pub use backup::{
    AvailableBackup, Backup, BackupActionRequest, BackupReport, CompletedBackup, ReportError,
};
pub use configuration::{
    BackupConfiguration, BackupConfigurationSpec, EnableRequest, FileItem, LastBackupState,
    LooseOptInt,
};
pub use enums::{
    ActivityType, AgentStatus, AmPm, Architecture, Datacenter, DayOfWeek, FileFilter, FileItemType,
    Flavor, Frequency, LogLevel, MissedBackupAction, VersionRetention,
};
pub use quirks::{NoneWord, OrBlank, NONE_WORDS};
pub use restore::{
    Restore, RestoreActionRequest, RestoreFile, RestoreReport, RestoreSpec, UpdateRestoreRequest,
};
