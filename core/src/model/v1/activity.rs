//! The activity feeds (`GET activity`, `GET system/activity/{agentId}`).

use std::fmt;

use serde::de::{self, Deserializer};
use serde::{Deserialize, Serialize, Serializer};

use super::enums::{ActivityType, Datacenter};
use super::quirks::OrBlank;
use crate::lifecycle::{V1BackupState, V1RestoreState};
use crate::wire::{LooseBool, LooseInt, MsDate, Open, WireName};

/// One backup, restore or cleanup, finished or running. Numbers and
/// booleans may come as strings (`"IsBackupConfigurationDeleted": "false"`
/// in openstacksdk's Rackspace plugin); the type and data centers are open.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Activity {
    /// The backup, restore or cleanup id.
    #[serde(rename = "ID")]
    pub id: LooseInt,
    /// Backup, Restore or Cleanup (an unknown type is kept).
    #[serde(rename = "Type")]
    pub kind: Open<ActivityType>,
    /// The backup configuration of a backup (0 for a cleanup).
    pub parent_id: LooseInt,
    /// Name of the backup or restore.
    pub display_name: String,
    /// Whether the backup configuration has been deleted.
    pub is_backup_configuration_deleted: LooseBool,
    /// The source agent.
    pub source_machine_agent_id: LooseInt,
    /// Its machine name.
    pub source_machine_name: String,
    /// Data center of the source (getting-started example).
    pub source_datacenter: Option<OrBlank<Open<Datacenter>>>,
    /// The destination agent of a restore (0 otherwise).
    pub destination_machine_agent_id: LooseInt,
    /// Its machine name (`""` otherwise).
    pub destination_machine_name: String,
    /// Data center of the destination (`""` when there is none).
    pub destination_datacenter: Option<OrBlank<Open<Datacenter>>>,
    /// Where the activity is in its lifecycle.
    pub current_state: ActivityState,
    /// When it happened.
    pub time_of_activity: MsDate,
    /// The backup a restore uses (also set on backups).
    pub backup_id: Option<LooseInt>,
}

/// An activity's `CurrentState`: a backup state, or for restores a restore
/// state (only `Creating` is restore-only; the other names are shared).
/// Cleanups report the shared names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ActivityState {
    /// A name [`V1BackupState`] knows.
    Backup(V1BackupState),
    /// `Creating`, which only restores have.
    Restore(V1RestoreState),
}

impl ActivityState {
    /// The wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            ActivityState::Backup(s) => s.as_str(),
            ActivityState::Restore(s) => s.as_str(),
        }
    }

    /// The state as a backup state, if backups have it.
    pub fn backup_state(self) -> Option<V1BackupState> {
        V1BackupState::from_wire_name(self.as_str())
    }

    /// The state as a restore state, if restores have it.
    pub fn restore_state(self) -> Option<V1RestoreState> {
        V1RestoreState::from_wire_name(self.as_str())
    }
}

impl fmt::Display for ActivityState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Serialize for ActivityState {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for ActivityState {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        V1BackupState::from_wire_name(&s)
            .map(ActivityState::Backup)
            .or_else(|| V1RestoreState::from_wire_name(&s).map(ActivityState::Restore))
            .ok_or_else(|| {
                de::Error::custom(format!(
                    "unknown activity state {s:?}; expected one of: {}, Creating",
                    V1BackupState::expected_names()
                ))
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_support::sample_v1;
    use serde_json::json;

    const FEED: &str = sample_v1!("getAgentActivity_response.json");

    #[test]
    fn feeds_decode_ids_and_states() {
        let feed: Vec<Activity> = serde_json::from_str(FEED).unwrap();
        let a = &feed[0];
        assert_eq!(a.id.value, 137_987);
        assert!(a.kind == ActivityType::Backup);
        assert_eq!(
            a.current_state.backup_state(),
            Some(V1BackupState::Completed)
        );
        assert_eq!(
            a.current_state.restore_state(),
            Some(V1RestoreState::Completed)
        );
        assert_eq!(a.backup_id.map(|b| b.value), Some(134_332));
    }

    #[test]
    fn creating_is_a_restore_state_and_blanks_are_kept() {
        let s: ActivityState = serde_json::from_value(json!("Creating")).unwrap();
        assert_eq!(s, ActivityState::Restore(V1RestoreState::Creating));
        assert_eq!(s.backup_state(), None);
        assert!(serde_json::from_value::<ActivityState>(json!("Paused")).is_err());
        let d: OrBlank<Open<Datacenter>> = serde_json::from_value(json!("")).unwrap();
        assert_eq!(d, OrBlank::Blank);
    }
}
