//! Backups (v2): one run of a backup configuration, its progress counters
//! and its errors.

use serde::{Deserialize, Serialize};

use crate::lifecycle::BackupState;
use crate::model::v2::common::{ErrorReport, Link, ResourceRef};
use crate::wire::{LooseInt, Timestamp};
use crate::wire_enum;

wire_enum! {
    /// The state a backup or cleanup is started in (the `state` of the start
    /// bodies): by a user, or by the agent's schedule.
    pub enum StartState {
        /// A user asked for it (manual run).
        StartRequested = "start_requested",
        /// The agent started it from its schedule; starting a backup this way
        /// needs the `X-Agent-Id` header.
        StartScheduled = "start_scheduled",
    }
}

impl From<StartState> for BackupState {
    fn from(s: StartState) -> BackupState {
        match s {
            StartState::StartRequested => BackupState::StartRequested,
            StartState::StartScheduled => BackupState::StartScheduled,
        }
    }
}

/// A backup.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Backup {
    /// The project (tenant) it belongs to.
    pub project_id: String,
    /// Its id.
    pub id: String,
    /// The agent that runs it.
    pub agent: ResourceRef,
    /// The configuration it runs.
    pub configuration: ResourceRef,
    /// Its state.
    pub state: BackupState,
    /// When it started (`null` until it does).
    pub started_time: Option<Timestamp>,
    /// When it ended (`null` until it does).
    pub ended_time: Option<Timestamp>,
    /// The vault snapshot it wrote (`null` until known). The reference
    /// types it as a string while the samples send a number; both parse.
    /// An agent of this library reports the number
    /// [`snapshot_id_for`](crate::model::v2::snapshot_id::snapshot_id_for)
    /// derives from the vault snapshot's hex id.
    pub snapshot_id: Option<LooseInt>,
    /// The error summary, with a link to the full `/errors` list.
    pub errors: Option<ErrorReport>,
    /// Files examined.
    pub files_searched: u64,
    /// Files written to the vault.
    pub files_backed_up: u64,
    /// Bytes examined.
    pub bytes_searched: u64,
    /// Bytes written to the vault.
    pub bytes_backed_up: u64,
    /// Size of the backup database.
    pub bytes_in_db: u64,
    /// Average bandwidth, bytes per second.
    pub bandwidth_avg_bps: u64,
    /// Whether restores may use it.
    pub restorable: bool,
    /// Links (`self`, `events`).
    #[serde(default)]
    pub links: Vec<Link>,
}

/// `{"backups": [...], "links": [...]}`: a page of a project's backups.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BackupList {
    /// The backups.
    pub backups: Vec<Backup>,
    /// Paging links (`next`, `previous`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub links: Vec<Link>,
}

/// The body of "start a backup".
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StartBackupBody {
    /// The configuration to run.
    pub configuration_id: String,
    /// Manual (`start_requested`) or scheduled (`start_scheduled`).
    pub state: StartState,
}
