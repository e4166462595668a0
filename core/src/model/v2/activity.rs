//! v2 activities: the backups, restores and cleanups of a project, an agent
//! or a configuration, newest first, with their current state.

use serde::{Deserialize, Serialize};

use crate::lifecycle::{BackupState, CleanupState, RestoreState};
use crate::model::v2::common::{Link, ResourceRef};
use crate::model::wire::Timestamp;
use crate::wire_enum;

wire_enum! {
    /// What kind of job an activity is (`type`).
    pub enum ActivityType {
        /// A backup.
        Backup = "backup",
        /// A vault cleanup.
        Cleanup = "cleanup",
        /// A restore.
        Restore = "restore",
    }
}

/// An activity's `type` and `state` together: the state's domain depends on
/// the type, so both are checked as one (a `skipped` restore is an error).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", content = "state", rename_all = "snake_case")]
pub enum ActivityState {
    /// A backup in this state.
    Backup(BackupState),
    /// A cleanup in this state.
    Cleanup(CleanupState),
    /// A restore in this state.
    Restore(RestoreState),
}

impl ActivityState {
    /// The activity's type.
    pub fn kind(self) -> ActivityType {
        match self {
            ActivityState::Backup(_) => ActivityType::Backup,
            ActivityState::Cleanup(_) => ActivityType::Cleanup,
            ActivityState::Restore(_) => ActivityType::Restore,
        }
    }

    /// The state's wire name.
    pub fn state_name(self) -> &'static str {
        match self {
            ActivityState::Backup(s) => s.as_str(),
            ActivityState::Cleanup(s) => s.as_str(),
            ActivityState::Restore(s) => s.as_str(),
        }
    }
}

/// One activity.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Activity {
    /// The backup's, restore's or cleanup's id (also the list `marker`).
    pub id: String,
    /// `type` and `state`.
    #[serde(flatten)]
    pub state: ActivityState,
    /// When it last changed.
    pub last_updated_time: Timestamp,
    /// The agent that runs it.
    pub agent: ResourceRef,
    /// The backup configuration (backups and restores; cleanups have none).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub configuration: Option<ResourceRef>,
    /// A link to the backup, restore or cleanup itself.
    #[serde(default)]
    pub links: Vec<Link>,
}

/// The body of the activity lists.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ActivityList {
    /// The activities (empty when there are none).
    pub activities: Vec<Activity>,
    /// `next` / `previous` page links.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub links: Option<Vec<Link>>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_support::sample_v2;

    #[test]
    fn type_and_state_parse_together() {
        let list: ActivityList =
            serde_json::from_str(sample_v2!("cbu-getProjectActivities_response.json")).unwrap();
        let kinds: Vec<_> = list.activities.iter().map(|a| a.state.kind()).collect();
        assert_eq!(
            kinds,
            [
                ActivityType::Backup,
                ActivityType::Cleanup,
                ActivityType::Restore
            ]
        );
        assert_eq!(
            list.activities[0].state,
            ActivityState::Backup(BackupState::CompletedWithErrors)
        );
        assert_eq!(
            list.activities[2].state.state_name(),
            "completed_with_errors"
        );
        assert!(list.activities[1].configuration.is_none());
    }

    #[test]
    fn a_state_outside_its_type_is_rejected() {
        let body = |kind: &str, state: &str| {
            format!(
                r#"{{"id": "x", "type": "{kind}", "state": "{state}",
                    "last_updated_time": "2014-10-27T18:22:21.238641Z",
                    "agent": {{"id": "a", "links": []}}, "links": []}}"#
            )
        };
        assert!(serde_json::from_str::<Activity>(&body("backup", "skipped")).is_ok());
        assert!(serde_json::from_str::<Activity>(&body("restore", "skipped")).is_err());
        assert!(serde_json::from_str::<Activity>(&body("upload", "completed")).is_err());
    }
}
