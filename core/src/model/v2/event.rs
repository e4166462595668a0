//! v2 events: what agents and the service report about agents, backups,
//! restores, cleanups, vaults and log files, and the bodies that post events.
//!
//! One [`Event`] type carries every event kind: the reference documents each
//! kind by which optional members it adds (`mode` for `agent_activate`,
//! `bytes_*` for `*_progress`, `path` for browses...), not as separate schemas.

use serde::{Deserialize, Serialize};

use crate::model::v2::agent::OperatingSystem;
use crate::model::v2::common::{Link, PathFilter};
use crate::wire::{HexString, LooseInt, Open, Timestamp};
use crate::wire_enum;

wire_enum! {
    /// The `event` name of an event. The list is every name the v2 reference
    /// documents (samples and parameter tables); events read it as
    /// [`Open`], so a name the service adds is kept, not an error.
    pub enum EventType {
        /// An agent registered.
        AgentRegistered = "agent_registered",
        /// A client asked agents to poll for events more often (carries `mode`).
        AgentActivate = "agent_activate",
        /// The agent is alive.
        AgentHeartbeat = "agent_heartbeat",
        /// The agent shut down.
        AgentShutdown = "agent_shutdown",
        /// The agent's configuration changed.
        ConfigurationChanged = "configuration_changed",
        /// Request to enable vault encryption (carries `encrypted_password_hex`).
        VaultEncryptionEnable = "vault_encryption_enable",
        /// Request to change the vault password (carries old and new password hex).
        VaultEncryptionChange = "vault_encryption_change",
        /// Result of enabling encryption.
        VaultEncryptionEnabled = "vault_encryption_enabled",
        /// Result of changing the vault password.
        VaultEncryptionChanged = "vault_encryption_changed",
        /// Request to verify the vault password.
        VaultPasswordVerify = "vault_password_verify",
        /// Result of a password verification.
        VaultPasswordVerified = "vault_password_verified",
        /// The agent is downloading its vault database.
        VaultDbDownloadInProgress = "vault_db_download_in_progress",
        /// The vault database download finished.
        VaultDbDownloadCompleted = "vault_db_download_completed",
        /// The vault database download failed.
        VaultDbDownloadFailed = "vault_db_download_failed",
        /// Request to browse the host's files.
        HostBrowse = "host_browse",
        /// Result of a host browse.
        HostBrowsed = "host_browsed",
        /// Request to upload the agent's log file.
        LogfileUpload = "logfile_upload",
        /// The log file upload started.
        LogfileStarted = "logfile_started",
        /// The log file upload finished.
        LogfileCompleted = "logfile_completed",
        /// A user asked for a backup.
        BackupStartRequest = "backup_start_request",
        /// A backup was queued.
        BackupQueued = "backup_queued",
        /// A backup is preparing.
        BackupPreparing = "backup_preparing",
        /// A backup is running.
        BackupInProgress = "backup_in_progress",
        /// Backup progress (carries `bytes_*`).
        BackupProgress = "backup_progress",
        /// A backup completed.
        BackupCompleted = "backup_completed",
        /// A backup failed.
        BackupFailed = "backup_failed",
        /// A scheduled backup was missed.
        BackupMissed = "backup_missed",
        /// A scheduled backup was skipped.
        BackupSkipped = "backup_skipped",
        /// A user asked a backup to stop.
        BackupStopRequest = "backup_stop_request",
        /// A backup stopped.
        BackupStopped = "backup_stopped",
        /// Request to browse a backup's files.
        BackupBrowse = "backup_browse",
        /// Result of a backup browse.
        BackupBrowsed = "backup_browsed",
        /// A user asked for a restore.
        RestoreStartRequest = "restore_start_request",
        /// A restore is running.
        RestoreInProgress = "restore_in_progress",
        /// Restore progress (carries `bytes_*`).
        RestoreProgress = "restore_progress",
        /// A restore completed.
        RestoreCompleted = "restore_completed",
        /// A restore failed.
        RestoreFailed = "restore_failed",
        /// A user asked a restore to stop.
        RestoreStopRequest = "restore_stop_request",
        /// A restore stopped.
        RestoreStopped = "restore_stopped",
        /// A user asked for a cleanup.
        CleanupStartRequest = "cleanup_start_request",
        /// A cleanup was queued.
        CleanupQueued = "cleanup_queued",
        /// A cleanup is running.
        CleanupInProgress = "cleanup_in_progress",
        /// A cleanup completed.
        CleanupCompleted = "cleanup_completed",
        /// A cleanup failed.
        CleanupFailed = "cleanup_failed",
        /// A user asked a cleanup to stop.
        CleanupStopRequest = "cleanup_stop_request",
        /// A cleanup stopped.
        CleanupStopped = "cleanup_stopped",
    }
}

wire_enum! {
    /// How often agents poll for and post events (`agent_activate`'s `mode`);
    /// agents fall back to `idle` after a while.
    pub enum AgentMode {
        /// Rarely; online/offline status is unreliable in this mode.
        Idle = "idle",
        /// Frequently.
        Active = "active",
        /// Very frequently, for interactive work such as browsing.
        RealTime = "real_time",
    }
}

wire_enum! {
    /// The only event a client posts to a project: `agent_activate`.
    pub enum ProjectEventKind {
        /// Ask agents to poll for events at the given `mode`.
        AgentActivate = "agent_activate",
    }
}

wire_enum! {
    /// Events an agent posts about itself.
    pub enum AgentSignal {
        /// The agent started; the service answers with pending work.
        Startup = "startup",
        /// The agent is shutting down.
        Shutdown = "shutdown",
    }
}

/// The host part of an `agent_registered` event.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EventHost {
    /// Operating system.
    pub os: OperatingSystem,
}

/// A vault as events describe it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EventVault {
    /// Vault id.
    pub id: String,
    /// Whether it is encrypted.
    pub encrypted: bool,
}

/// The agent (or `source_agent`) an event concerns.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EventAgent {
    /// Agent id (`source_agent` carries only its vault).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// Agent name (`agent_registered`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Host (`agent_registered`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub host: Option<EventHost>,
    /// The vault to work on (browse, cleanup and restore requests).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vault: Option<EventVault>,
}

/// A configuration or cleanup an event concerns (id only).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EventRef {
    /// The resource's id.
    pub id: String,
}

/// The backup an event concerns: by id, or by vault snapshot (browse and
/// restore requests).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EventBackup {
    /// Backup id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// Snapshot id in the vault.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub snapshot_id: Option<LooseInt>,
}

/// The restore a `restore_*` event concerns; the start request carries the
/// whole restore order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EventRestore {
    /// Restore id.
    pub id: String,
    /// Where files go.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub destination_path: Option<String>,
    /// Whether existing files are overwritten.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub overwrite_files: Option<bool>,
    /// What to restore.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub inclusions: Option<Vec<PathFilter>>,
    /// What not to restore.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exclusions: Option<Vec<PathFilter>>,
}

/// The members every event and event-shaped result (browse results, vault
/// request results) share.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EventHeader {
    /// Event id (numeric text, e.g. `5650135582`); also the `marker` of event lists.
    pub id: String,
    /// When it happened.
    pub time: Timestamp,
    /// What happened (an event name this build does not know is kept).
    pub event: Open<EventType>,
    /// The agent concerned (absent for project-wide `agent_activate`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub agent: Option<EventAgent>,
    /// The request this event answers or announces.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub request_id: Option<String>,
}

/// One event of an event list.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Event {
    /// Id, time, name, agent, request id.
    #[serde(flatten)]
    pub header: EventHeader,
    /// Polling mode (`agent_activate`; a mode this build does not know is kept).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mode: Option<Open<AgentMode>>,
    /// The agent whose vault a restore reads from.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source_agent: Option<EventAgent>,
    /// The backup configuration concerned.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub configuration: Option<EventRef>,
    /// The backup concerned.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub backup: Option<EventBackup>,
    /// The restore concerned.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub restore: Option<EventRestore>,
    /// The cleanup concerned.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cleanup: Option<EventRef>,
    /// Progress: bytes done (`*_progress`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bytes_completed: Option<u64>,
    /// Progress: bytes left.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bytes_remaining: Option<u64>,
    /// Progress: total bytes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub total_bytes: Option<u64>,
    /// Path to browse (`host_browse`, `backup_browse`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
    /// Base64 of the path when it is not UTF-8.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path_encoded: Option<String>,
    /// The vault password encrypted with the agent's key.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub encrypted_password_hex: Option<HexString>,
    /// Old vault password (`vault_encryption_change`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub old_encrypted_password_hex: Option<HexString>,
    /// New vault password (`vault_encryption_change`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub new_encrypted_password_hex: Option<HexString>,
    /// Links (`logfile_upload`: where to upload).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub links: Option<Vec<Link>>,
}

/// The body of every event list (`GET .../events`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EventList {
    /// The events.
    pub events: Vec<Event>,
    /// `next` / `previous` page links.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub links: Option<Vec<Link>>,
}

/// The body of `POST /events`: ask every agent of the project to poll at `mode`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProjectEvent {
    /// Always `agent_activate`.
    pub event: ProjectEventKind,
    /// The polling mode wanted.
    pub mode: AgentMode,
}

impl ProjectEvent {
    /// The `agent_activate` event for `mode`.
    pub fn activate(mode: AgentMode) -> Self {
        ProjectEvent {
            event: ProjectEventKind::AgentActivate,
            mode,
        }
    }
}

/// The body of `POST /agents/{id}/events`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct AgentEvent {
    /// `startup` or `shutdown`.
    pub event: AgentSignal,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_support::sample_v2;

    #[test]
    fn progress_events_expose_their_counters() {
        let list: EventList =
            serde_json::from_str(sample_v2!("cbu-getRestoreEvents_response.json")).unwrap();
        let progress = list
            .events
            .iter()
            .find(|e| e.header.event == Open::Known(EventType::RestoreProgress))
            .unwrap();
        assert_eq!(
            (
                progress.bytes_completed,
                progress.bytes_remaining,
                progress.total_bytes
            ),
            (Some(1), Some(3), Some(4))
        );
        let start = &list.events[0];
        let restore = start.restore.as_ref().unwrap();
        assert_eq!(restore.overwrite_files, Some(false));
        assert_eq!(restore.inclusions.as_ref().unwrap().len(), 2);
        assert!(
            start
                .source_agent
                .as_ref()
                .unwrap()
                .vault
                .as_ref()
                .unwrap()
                .encrypted
        );
    }

    #[test]
    fn unknown_event_names_are_kept() {
        let body =
            r#"{"id": "1", "time": "2014-10-09T12:26:15.233501Z", "event": "agent_exploded"}"#;
        let e: Event = serde_json::from_str(body).unwrap();
        assert_eq!(e.header.event, Open::Unknown("agent_exploded".into()));
        let back = serde_json::to_value(&e).unwrap();
        assert_eq!(back["event"], "agent_exploded");
        // Still an error: what is not a name at all.
        assert!(serde_json::from_str::<Event>(
            r#"{"id": "1", "time": "2014-10-09T12:26:15.233501Z", "event": 7}"#
        )
        .is_err());
    }

    #[test]
    fn post_bodies_have_the_documented_shape() {
        assert_eq!(
            serde_json::to_value(ProjectEvent::activate(AgentMode::RealTime)).unwrap(),
            serde_json::json!({"event": "agent_activate", "mode": "real_time"})
        );
        assert!(
            serde_json::from_str::<ProjectEvent>(r#"{"event": "startup", "mode": "idle"}"#)
                .is_err()
        );
    }
}
