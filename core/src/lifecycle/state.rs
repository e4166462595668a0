//! The state enums of the four lifecycles, with their v2 wire names, and the
//! v1 spellings (PascalCase names and, for restores, `RestoreStateId`s).

use crate::{wire_enum, wire_enum_with_ids};

wire_enum! {
    /// State of a restore (v2 names; `Creating` exists only in v1, before a
    /// restore configuration is started).
    pub enum RestoreState {
        /// v1 only: the restore configuration is being edited, not started.
        Creating = "creating",
        /// A user asked for the restore to start.
        StartRequested = "start_requested",
        /// The agent has queued it.
        Queued = "queued",
        /// The agent is preparing it.
        Preparing = "preparing",
        /// Files are being restored.
        InProgress = "in_progress",
        /// A user asked for it to stop; the agent has not answered yet.
        StopRequested = "stop_requested",
        /// Finished (terminal).
        Completed = "completed",
        /// Finished with per-file errors (terminal).
        CompletedWithErrors = "completed_with_errors",
        /// Failed (terminal).
        Failed = "failed",
        /// Stopped on request (terminal).
        Stopped = "stopped",
    }
}

wire_enum! {
    /// State of a backup (v2 names).
    pub enum BackupState {
        /// A user asked for a manual backup.
        StartRequested = "start_requested",
        /// The agent started a scheduled backup.
        StartScheduled = "start_scheduled",
        /// The agent has queued it.
        Queued = "queued",
        /// The agent is preparing it.
        Preparing = "preparing",
        /// Files are being backed up.
        InProgress = "in_progress",
        /// A user asked for it to stop.
        StopRequested = "stop_requested",
        /// Finished (terminal).
        Completed = "completed",
        /// Finished with per-file errors (terminal).
        CompletedWithErrors = "completed_with_errors",
        /// Failed (terminal).
        Failed = "failed",
        /// Stopped on request (terminal).
        Stopped = "stopped",
        /// Skipped, e.g. because the previous run was still going (terminal).
        Skipped = "skipped",
        /// Its scheduled time passed without it running (terminal).
        Missed = "missed",
    }
}

wire_enum! {
    /// State of a vault cleanup (v2 names).
    pub enum CleanupState {
        /// A user asked for the cleanup.
        StartRequested = "start_requested",
        /// The agent started a scheduled cleanup.
        StartScheduled = "start_scheduled",
        /// The agent has queued it.
        Queued = "queued",
        /// The cleanup is running.
        InProgress = "in_progress",
        /// A user asked for it to stop.
        StopRequested = "stop_requested",
        /// Finished (terminal).
        Completed = "completed",
        /// Finished with errors (terminal).
        CompletedWithErrors = "completed_with_errors",
        /// Failed (terminal).
        Failed = "failed",
        /// Stopped on request (terminal).
        Stopped = "stopped",
    }
}

wire_enum! {
    /// State of an agent log-file upload (v2).
    pub enum LogfileState {
        /// A user asked for the agent's log file.
        Requested = "requested",
        /// The agent is uploading it.
        Started = "started",
        /// The upload finished (terminal).
        Completed = "completed",
    }
}

wire_enum_with_ids! {
    /// A restore's state as v1 writes it: `RestoreState` names and `RestoreStateId`s.
    pub enum V1RestoreState {
        /// 0
        Creating = "Creating" => 0,
        /// 1
        Queued = "Queued" => 1,
        /// 2
        InProgress = "InProgress" => 2,
        /// 3
        Completed = "Completed" => 3,
        /// 4
        Stopped = "Stopped" => 4,
        /// 5
        Failed = "Failed" => 5,
        /// 6
        StartRequested = "StartRequested" => 6,
        /// 7
        StopRequested = "StopRequested" => 7,
        /// 8
        CompletedWithErrors = "CompletedWithErrors" => 8,
        /// 9
        Preparing = "Preparing" => 9,
    }
}

wire_enum! {
    /// A backup's state as v1 writes it (`CurrentState`, `State`).
    pub enum V1BackupState {
        /// Requested by a user.
        StartRequested = "StartRequested",
        /// Started by the schedule.
        StartScheduled = "StartScheduled",
        /// Queued.
        Queued = "Queued",
        /// Preparing.
        Preparing = "Preparing",
        /// Running.
        InProgress = "InProgress",
        /// Stop requested.
        StopRequested = "StopRequested",
        /// Completed.
        Completed = "Completed",
        /// Completed with errors.
        CompletedWithErrors = "CompletedWithErrors",
        /// Failed.
        Failed = "Failed",
        /// Stopped.
        Stopped = "Stopped",
        /// Skipped.
        Skipped = "Skipped",
        /// Missed.
        Missed = "Missed",
    }
}

/// Generates the lossless v1 <-> v2 conversions between two enums whose
/// variants share names.
macro_rules! same_variants {
    ($a:ident <-> $b:ident : $($v:ident),+) => {
        impl From<$a> for $b {
            fn from(s: $a) -> $b { match s { $($a::$v => $b::$v),+ } }
        }
        impl From<$b> for $a {
            fn from(s: $b) -> $a { match s { $($b::$v => $a::$v),+ } }
        }
    };
}

same_variants!(V1RestoreState <-> RestoreState: Creating, Queued, InProgress, Completed,
    Stopped, Failed, StartRequested, StopRequested, CompletedWithErrors, Preparing);
same_variants!(V1BackupState <-> BackupState: StartRequested, StartScheduled, Queued,
    Preparing, InProgress, StopRequested, Completed, CompletedWithErrors, Failed, Stopped,
    Skipped, Missed);

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::{WireId, WireName};

    #[test]
    fn v1_restore_ids_match_the_reference() {
        let expected = [
            (0, "Creating"),
            (1, "Queued"),
            (2, "InProgress"),
            (3, "Completed"),
            (4, "Stopped"),
            (5, "Failed"),
            (6, "StartRequested"),
            (7, "StopRequested"),
            (8, "CompletedWithErrors"),
            (9, "Preparing"),
        ];
        for (id, name) in expected {
            let s = V1RestoreState::from_wire_id(id).unwrap();
            assert_eq!(s.wire_name(), name);
        }
        assert_eq!(V1RestoreState::ALL.len(), 10);
    }

    #[test]
    fn v1_and_v2_states_map_both_ways() {
        for &s in RestoreState::ALL {
            assert_eq!(RestoreState::from(V1RestoreState::from(s)), s);
        }
        for &s in BackupState::ALL {
            assert_eq!(BackupState::from(V1BackupState::from(s)), s);
        }
        assert_eq!(
            RestoreState::from(V1RestoreState::CompletedWithErrors).as_str(),
            "completed_with_errors"
        );
    }
}
