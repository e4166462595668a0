//! v2 activities: the backups, restores and cleanups of a project, an agent
//! or a configuration, newest first, with their current state.

use serde::de::Error as _;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::lifecycle::{BackupState, CleanupState, RestoreState};
use crate::model::v2::common::{Link, ResourceRef};
use crate::wire::{parse_wire_name, Open, Timestamp};
use crate::wire_enum;

wire_enum! {
    /// What kind of job an activity is (`type`). Open: an activity of a type
    /// this build does not know is kept ([`ActivityState::Other`]).
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
/// the type, so both are checked as one (a `skipped` restore is an error:
/// states are closed). A type this build does not know is kept with its
/// state as sent ([`ActivityState::Other`]), so one new kind of job never
/// fails a page of activities.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ActivityState {
    /// A backup in this state.
    Backup(BackupState),
    /// A cleanup in this state.
    Cleanup(CleanupState),
    /// A restore in this state.
    Restore(RestoreState),
    /// An activity of another type, with its state, both as sent.
    Other {
        /// The `type`.
        kind: String,
        /// The `state`.
        state: String,
    },
}

impl ActivityState {
    /// The activity's type.
    pub fn kind(&self) -> Open<ActivityType> {
        match self {
            ActivityState::Backup(_) => Open::Known(ActivityType::Backup),
            ActivityState::Cleanup(_) => Open::Known(ActivityType::Cleanup),
            ActivityState::Restore(_) => Open::Known(ActivityType::Restore),
            ActivityState::Other { kind, .. } => Open::Unknown(kind.clone()),
        }
    }

    /// The state's wire name.
    pub fn state_name(&self) -> &str {
        match self {
            ActivityState::Backup(s) => s.as_str(),
            ActivityState::Cleanup(s) => s.as_str(),
            ActivityState::Restore(s) => s.as_str(),
            ActivityState::Other { state, .. } => state,
        }
    }
}

/// The wire form of [`ActivityState`]: two members of the activity.
#[derive(Serialize, Deserialize)]
struct TypeAndState<'a> {
    #[serde(rename = "type", borrow)]
    kind: std::borrow::Cow<'a, str>,
    #[serde(borrow)]
    state: std::borrow::Cow<'a, str>,
}

impl Serialize for ActivityState {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        TypeAndState {
            kind: self.kind().as_str().to_string().into(),
            state: self.state_name().into(),
        }
        .serialize(s)
    }
}

impl<'de> Deserialize<'de> for ActivityState {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let TypeAndState { kind, state } = TypeAndState::deserialize(d)?;
        let named = |e: crate::Error| D::Error::custom(format!("`state` of a {kind}: {e}"));
        Ok(match Open::<ActivityType>::from_name(&kind) {
            Open::Known(ActivityType::Backup) => {
                ActivityState::Backup(parse_wire_name(&state).map_err(named)?)
            }
            Open::Known(ActivityType::Cleanup) => {
                ActivityState::Cleanup(parse_wire_name(&state).map_err(named)?)
            }
            Open::Known(ActivityType::Restore) => {
                ActivityState::Restore(parse_wire_name(&state).map_err(named)?)
            }
            Open::Unknown(_) => ActivityState::Other {
                kind: kind.into_owned(),
                state: state.into_owned(),
            },
        })
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
        let kinds: Vec<_> = list
            .activities
            .iter()
            .map(|a| a.state.kind().known())
            .collect();
        assert_eq!(
            kinds,
            [
                Some(ActivityType::Backup),
                Some(ActivityType::Cleanup),
                Some(ActivityType::Restore)
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
        // An unknown type is kept with its state, and written back as sent.
        let other: Activity = serde_json::from_str(&body("upload", "uploading")).unwrap();
        assert_eq!(
            other.state,
            ActivityState::Other {
                kind: "upload".into(),
                state: "uploading".into()
            }
        );
        let back = serde_json::to_value(&other).unwrap();
        assert_eq!(
            (back["type"].as_str(), back["state"].as_str()),
            (Some("upload"), Some("uploading"))
        );
    }
}
