//! The value sets of v1, with their wire names and, where v1 carries them by
//! number, their ids. Every list comes from the reference's parameter tables
//! (rst pages, `rcbu.wadl`, `apidoc_external.xml`) and what real clients
//! send; the states and the `Action` of `action-requested` live in
//! [`crate::lifecycle`].
//!
//! Sets that only name things the service may add to are read through
//! [`Open`](crate::wire::Open) where the model uses them ([`Datacenter`],
//! [`Flavor`], [`Architecture`], [`ActivityType`]): an unknown name is kept,
//! not an error.

use crate::{wire_enum, wire_enum_with_ids};

wire_enum! {
    /// A Rackspace data center (`Datacenter`, `BackupDataCenter`): "IAD, ORD,
    /// DFW, HKG, LON, or SYD". Open in the model: a region this build does
    /// not know is kept as sent.
    pub enum Datacenter {
        /// Dallas-Fort Worth.
        Dfw = "DFW",
        /// Chicago.
        Ord = "ORD",
        /// Northern Virginia.
        Iad = "IAD",
        /// London.
        Lon = "LON",
        /// Hong Kong.
        Hkg = "HKG",
        /// Sydney.
        Syd = "SYD",
    }
}

wire_enum! {
    /// The kind of machine an agent runs on (`Flavor`, `BackupFlavor`); the
    /// reference documents one value, so the model reads it as open.
    pub enum Flavor {
        /// "RaxCloudServer – for Rackspace Cloud Servers."
        RaxCloudServer = "RaxCloudServer",
    }
}

wire_enum! {
    /// `Architecture` of the agent's server: "64-bit or 32-bit" (open in the model).
    pub enum Architecture {
        /// 64-bit.
        Bits64 = "64-bit",
        /// 32-bit.
        Bits32 = "32-bit",
    }
}

wire_enum! {
    /// An agent's `Status`. The tables say "Online or Offline"; the getting
    /// started guide's agent list also shows `Unknown`.
    pub enum AgentStatus {
        /// Posting heartbeats.
        Online = "Online",
        /// Not heard from (possibly idle: wake agents up and ask again).
        Offline = "Offline",
        /// The service cannot tell.
        Unknown = "Unknown",
    }
}

wire_enum! {
    /// A backup configuration's `Frequency`: "Manually", "Hourly", "Daily",
    /// "Weekly". v1 carries it by name only (there is no `FrequencyId`).
    pub enum Frequency {
        /// Only when started by hand.
        Manually = "Manually",
        /// Every `HourInterval` hours.
        Hourly = "Hourly",
        /// Daily at `StartTimeHour:StartTimeMinute StartTimeAmPm`.
        Daily = "Daily",
        /// Weekly on `DayOfWeekId` at the start time.
        Weekly = "Weekly",
    }
}

wire_enum_with_ids! {
    /// `DayOfWeekId`: "0 through 6, with 0 representing Sunday and 6
    /// representing Saturday".
    pub enum DayOfWeek {
        /// 0
        Sunday = "Sunday" => 0,
        /// 1
        Monday = "Monday" => 1,
        /// 2
        Tuesday = "Tuesday" => 2,
        /// 3
        Wednesday = "Wednesday" => 3,
        /// 4
        Thursday = "Thursday" => 4,
        /// 5
        Friday = "Friday" => 5,
        /// 6
        Saturday = "Saturday" => 6,
    }
}

wire_enum_with_ids! {
    /// `MissedBackupActionId`: when to notify about a missed backup. The wire
    /// carries only the id; the names are descriptive.
    pub enum MissedBackupAction {
        /// 1: "notifications are sent as soon as possible".
        AsSoonAsPossible = "AsSoonAsPossible" => 1,
        /// 2: "notifications are sent at the next scheduled time".
        NextScheduledTime = "NextScheduledTime" => 2,
    }
}

wire_enum_with_ids! {
    /// `VersionRetention`: how many days old file versions are kept, "0, 30,
    /// and 60. 0 means indefinite." The wire carries the number of days.
    pub enum VersionRetention {
        /// 0: keep forever.
        Indefinite = "Indefinite" => 0,
        /// 30 days.
        Days30 = "30Days" => 30,
        /// 60 days.
        Days60 = "60Days" => 60,
    }
}

wire_enum! {
    /// `StartTimeAmPm`: "AM" or "PM" (null, or `""` as the service writes it,
    /// when the frequency is Manually or Hourly).
    pub enum AmPm {
        /// Before noon.
        Am = "AM",
        /// After noon.
        Pm = "PM",
        /// The literal placeholder `"AM|PM"` the reference's update example
        /// and `apidoc_external.xml` send. Accepted when parsing so those
        /// bodies read faithfully; the request builders refuse it, since a
        /// schedule must name one half of the day.
        Placeholder = "AM|PM",
    }
}

wire_enum_with_ids! {
    /// `FileItemType`: backup configurations write the name, restore files
    /// the id ("0 for file, 1 for folder, and 2 for database").
    pub enum FileItemType {
        /// 0
        File = "File" => 0,
        /// 1
        Folder = "Folder" => 1,
        /// 2
        Database = "Database" => 2,
    }
}

wire_enum_with_ids! {
    /// `Filter` of a file entry: backup configurations write the name,
    /// restore files the id ("1 for Include and 2 for Exclude").
    pub enum FileFilter {
        /// 1
        Include = "Include" => 1,
        /// 2
        Exclude = "Exclude" => 2,
    }
}

wire_enum! {
    /// An activity's `Type`: "Restore, Backup, or Cleanup" (open in the model).
    pub enum ActivityType {
        /// A backup run.
        Backup = "Backup",
        /// A restore.
        Restore = "Restore",
        /// A vault cleanup.
        Cleanup = "Cleanup",
    }
}

wire_enum_with_ids! {
    /// `LoggingLevelId` of the change-log-level operation: "from 1 (only
    /// FATAL) to 6 (ALL or TRACE)". The reference names only the two ends
    /// (and `Warn` in the agent configuration); ids 2-5 follow the standard
    /// log4net order between them. Real clients also send 7 for `All`
    /// (rackerlabs/cbu-sdk-python `SetLogLevel`: Fatal 1 ... Trace 6, All 7),
    /// as v2's `all`.
    pub enum LogLevel {
        /// 1: fatal errors only.
        Fatal = "Fatal" => 1,
        /// 2
        Error = "Error" => 2,
        /// 3
        Warn = "Warn" => 3,
        /// 4
        Info = "Info" => 4,
        /// 5
        Debug = "Debug" => 5,
        /// 6: trace ("ALL or TRACE" in the reference).
        Trace = "Trace" => 6,
        /// 7: everything.
        All = "All" => 7,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::{ById, WireId, WireName};
    use serde_json::json;

    #[test]
    fn ids_follow_the_reference_tables() {
        assert_eq!(DayOfWeek::Sunday.id(), 0);
        assert_eq!(DayOfWeek::Saturday.id(), 6);
        assert_eq!(FileItemType::from_wire_id(2), Some(FileItemType::Database));
        assert_eq!(FileFilter::from_wire_id(1), Some(FileFilter::Include));
        assert_eq!(MissedBackupAction::NextScheduledTime.id(), 2);
        assert_eq!(LogLevel::ALL.first().map(|l| l.id()), Some(1));
        assert_eq!(LogLevel::Trace.id(), 6);
        assert_eq!(LogLevel::All.id(), 7);
        assert_eq!(Datacenter::ALL.len(), 6);
    }

    #[test]
    fn version_retention_travels_as_days() {
        let v: ById<VersionRetention> = serde_json::from_value(json!(30)).unwrap();
        assert_eq!(v.value, VersionRetention::Days30);
        assert_eq!(
            serde_json::to_value(ById::new(VersionRetention::Indefinite)).unwrap(),
            json!(0)
        );
        assert!(serde_json::from_value::<ById<VersionRetention>>(json!(45)).is_err());
    }

    #[test]
    fn file_filter_ids_keep_their_form() {
        for v in [json!("1"), json!(2)] {
            let id: ById<FileFilter> = serde_json::from_value(v.clone()).unwrap();
            assert_eq!(serde_json::to_value(id).unwrap(), v);
        }
        let id: ById<FileFilter> = serde_json::from_value(json!("2")).unwrap();
        assert_eq!(id.value, FileFilter::Exclude);
        let e = serde_json::from_value::<ById<FileFilter>>(json!(3)).unwrap_err();
        assert!(e.to_string().contains("FileFilter id 3"), "{e}");
    }

    #[test]
    fn unknown_names_are_rejected_with_the_accepted_list() {
        let e = serde_json::from_value::<Datacenter>(json!("AMS"))
            .unwrap_err()
            .to_string();
        assert!(e.contains("AMS") && e.contains("DFW, ORD"), "{e}");
        assert_eq!(
            serde_json::from_value::<Frequency>(json!("weekly")).unwrap(),
            Frequency::Weekly
        );
    }
}
