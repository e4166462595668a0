//! Backup configurations (v2): what an agent backs up, on which schedule, how
//! long backups are kept, and whom to notify.
//!
//! The create body ([`CreateConfigurationBody`]) carries the reference's
//! rules, checked by [`CreateConfigurationBody::validate`] before a request is
//! built: one recurrence per schedule, an IANA time zone, the inclusion and
//! exclusion rules ([`validate_path_filters`]) and at least one notification
//! on failure.

use std::fmt;
use std::str::FromStr;

use serde::de::{self, Deserializer};
use serde::{Deserialize, Serialize, Serializer};

use crate::model::require_id;
use crate::model::v2::common::{Link, PathFilter, PathType, ResourceRef};
use crate::wire::{Open, Timestamp};
use crate::{wire_enum, Error, Result};

// ---------------------------------------------------------------------------
// Schedule
// ---------------------------------------------------------------------------

wire_enum! {
    /// How often a scheduled backup recurs (`FREQ=`); the reference shows
    /// only these three.
    pub enum Frequency {
        /// Every `INTERVAL` hours.
        Hourly = "HOURLY",
        /// Every `INTERVAL` days at `BYHOUR:BYMINUTE`.
        Daily = "DAILY",
        /// Every `INTERVAL` weeks on `BYDAY` at `BYHOUR:BYMINUTE`.
        Weekly = "WEEKLY",
    }
}

wire_enum! {
    /// A day of the week as iCalendar writes it (`BYDAY=TH`).
    pub enum Weekday {
        /// Monday
        Monday = "MO",
        /// Tuesday
        Tuesday = "TU",
        /// Wednesday
        Wednesday = "WE",
        /// Thursday
        Thursday = "TH",
        /// Friday
        Friday = "FR",
        /// Saturday
        Saturday = "SA",
        /// Sunday
        Sunday = "SU",
    }
}

/// One schedule recurrence, an iCalendar `RRULE` restricted to the parts the
/// service reads ("Cloud Backup uses only the fields shown in the example
/// schedules"): `FREQ`, `INTERVAL`, `BYDAY`, `BYHOUR`, `BYMINUTE`.
///
/// It travels as a string (`"RRULE:FREQ=WEEKLY;INTERVAL=1;BYDAY=TH;BYHOUR=14;BYMINUTE=0"`).
/// Parsing accepts the parts in any order and names case-insensitively; any
/// other part (`COUNT`, `UNTIL`, ...) is an error rather than silently ignored,
/// because the service would ignore it too and run a different schedule than
/// the one written. It is written back in the order of the reference's
/// examples, so a parsed value may re-serialise with its parts reordered.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Recurrence {
    /// `FREQ`.
    pub frequency: Frequency,
    /// `INTERVAL` (1 or more), if written.
    pub interval: Option<u32>,
    /// `BYDAY` (empty when absent).
    pub by_day: Vec<Weekday>,
    /// `BYHOUR` (0..=23).
    pub by_hour: Option<u8>,
    /// `BYMINUTE` (0..=59).
    pub by_minute: Option<u8>,
}

impl Recurrence {
    /// Every `interval` hours: `RRULE:FREQ=HOURLY;INTERVAL=n`.
    pub fn hourly(interval: u32) -> Self {
        Recurrence {
            frequency: Frequency::Hourly,
            interval: Some(interval),
            by_day: Vec::new(),
            by_hour: None,
            by_minute: None,
        }
    }

    /// Every `interval` days at `hour:minute` (the schedule's time zone).
    pub fn daily(interval: u32, hour: u8, minute: u8) -> Self {
        Recurrence {
            frequency: Frequency::Daily,
            interval: Some(interval),
            by_day: Vec::new(),
            by_hour: Some(hour),
            by_minute: Some(minute),
        }
    }

    /// Every `interval` weeks on `day` at `hour:minute`.
    pub fn weekly(interval: u32, day: Weekday, hour: u8, minute: u8) -> Self {
        Recurrence {
            frequency: Frequency::Weekly,
            interval: Some(interval),
            by_day: vec![day],
            by_hour: Some(hour),
            by_minute: Some(minute),
        }
    }

    /// Parses `RRULE:...` (see the type's documentation for what is accepted).
    pub fn parse(text: &str) -> Result<Self> {
        let bad = |reason: String| Error::InvalidValue {
            field: "recurrence".into(),
            reason: format!("{text:?}: {reason}"),
        };
        let body = text
            .get(..6)
            .filter(|p| p.eq_ignore_ascii_case("RRULE:"))
            .and_then(|_| text.get(6..))
            .ok_or_else(|| bad("must start with \"RRULE:\"".into()))?;
        let (mut frequency, mut interval, mut by_day, mut by_hour, mut by_minute) =
            (None, None, Vec::new(), None, None);
        let mut seen: Vec<String> = Vec::new();
        for part in body.split(';').filter(|p| !p.is_empty()) {
            let (key, value) = part
                .split_once('=')
                .ok_or_else(|| bad(format!("part {part:?} is not NAME=VALUE")))?;
            let key = key.trim().to_ascii_uppercase();
            if seen.contains(&key) {
                return Err(bad(format!("{key} appears twice")));
            }
            let value = value.trim();
            match key.as_str() {
                "FREQ" => frequency = Some(value.parse::<Frequency>().map_err(|e| bad(e.to_string()))?),
                "INTERVAL" => interval = Some(parse_number(value, 1, u64::from(u32::MAX)).map_err(bad)?),
                "BYDAY" => {
                    by_day = value
                        .split(',')
                        .map(|d| d.trim().parse::<Weekday>().map_err(|e| bad(e.to_string())))
                        .collect::<Result<_>>()?;
                }
                "BYHOUR" => by_hour = Some(parse_number(value, 0, 23).map_err(bad)?),
                "BYMINUTE" => by_minute = Some(parse_number(value, 0, 59).map_err(bad)?),
                other => {
                    return Err(bad(format!(
                        "{other} is not supported; the service uses only FREQ, INTERVAL, BYDAY, BYHOUR and BYMINUTE"
                    )))
                }
            }
            seen.push(key);
        }
        Ok(Recurrence {
            frequency: frequency.ok_or_else(|| bad("FREQ is missing".into()))?,
            interval,
            by_day,
            by_hour,
            by_minute,
        })
    }

    /// Checks the ranges of a value built in code (parsing already does).
    pub fn validate(&self) -> Result<()> {
        Recurrence::parse(&self.to_string()).map(|_| ())
    }
}

fn parse_number<T: TryFrom<u64>>(
    value: &str,
    min: u64,
    max: u64,
) -> std::result::Result<T, String> {
    value
        .parse::<u64>()
        .ok()
        .filter(|n| (min..=max).contains(n))
        .and_then(|n| T::try_from(n).ok())
        .ok_or_else(|| format!("{value:?} is not a number in {min}..={max}"))
}

impl fmt::Display for Recurrence {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "RRULE:FREQ={}", self.frequency)?;
        if let Some(n) = self.interval {
            write!(f, ";INTERVAL={n}")?;
        }
        if !self.by_day.is_empty() {
            let days: Vec<&str> = self.by_day.iter().map(|d| d.as_str()).collect();
            write!(f, ";BYDAY={}", days.join(","))?;
        }
        if let Some(h) = self.by_hour {
            write!(f, ";BYHOUR={h}")?;
        }
        if let Some(m) = self.by_minute {
            write!(f, ";BYMINUTE={m}")?;
        }
        Ok(())
    }
}

impl FromStr for Recurrence {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        Recurrence::parse(s)
    }
}

impl Serialize for Recurrence {
    fn serialize<S: Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Recurrence {
    fn deserialize<D: Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        let s = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        Recurrence::parse(&s).map_err(de::Error::custom)
    }
}

/// When backups of a configuration run. A configuration whose `schedule` is
/// `null` only runs when started by hand.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Schedule {
    /// When the schedule starts; set by the service, never sent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub start: Option<Timestamp>,
    /// The recurrences; the service supports exactly one.
    pub recurrence: Vec<Recurrence>,
    /// IANA time zone name, e.g. `US/Central`.
    pub time_zone: String,
}

impl Schedule {
    /// A schedule with one recurrence, as the service requires.
    pub fn new(recurrence: Recurrence, time_zone: impl Into<String>) -> Self {
        Schedule {
            start: None,
            recurrence: vec![recurrence],
            time_zone: time_zone.into(),
        }
    }

    /// The create/update rules: exactly one valid recurrence and a time zone
    /// shaped like an IANA name (the database itself is not consulted, so an
    /// unknown but well-formed zone is left for the service to refuse).
    pub fn validate(&self) -> Result<()> {
        match self.recurrence.as_slice() {
            [one] => one.validate()?,
            other => {
                return Err(Error::argument(
                    "schedule.recurrence",
                    format!(
                        "the service supports exactly one recurrence, got {}",
                        other.len()
                    ),
                ))
            }
        }
        let tz = self.time_zone.as_str();
        let well_formed = !tz.is_empty()
            && tz
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '/' | '_' | '-' | '+'))
            && tz.split('/').all(|part| !part.is_empty());
        if !well_formed {
            return Err(Error::argument(
                "schedule.time_zone",
                format!("{tz:?} is not an IANA time zone name like \"US/Central\""),
            ));
        }
        Ok(())
    }
}

/// How long backups are kept.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Retention {
    /// Days to keep each backup; `0` keeps them forever.
    pub days: u32,
}

impl Retention {
    /// Whether backups are kept forever (`days == 0`).
    pub fn is_forever(self) -> bool {
        self.days == 0
    }
}

wire_enum! {
    /// The channel of a notification; the reference documents only e-mail.
    /// Read as [`Open`]: a channel the service adds is kept.
    pub enum NotificationKind {
        /// An e-mail to `destination`.
        Email = "email",
    }
}

/// Whom to notify about a configuration's backups.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Notification {
    /// The channel (one this build does not know is kept).
    #[serde(rename = "type")]
    pub kind: Open<NotificationKind>,
    /// Where to send it (an e-mail address).
    pub destination: String,
    /// Notify when a backup succeeds.
    pub on_success: bool,
    /// Notify when a backup fails.
    pub on_failure: bool,
}

/// The next scheduled run of a configuration.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NextBackup {
    /// When it is due.
    pub scheduled_time: Option<Timestamp>,
}

/// The `backups` summary of a configuration.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConfigurationBackups {
    /// The last completed backup, `null` before the first one.
    pub last_completed: Option<ResourceRef>,
    /// The next scheduled backup, absent for manual configurations.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next: Option<NextBackup>,
}

// ---------------------------------------------------------------------------
// Resources
// ---------------------------------------------------------------------------

/// A backup configuration.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Configuration {
    /// The project (tenant) it belongs to.
    pub project_id: String,
    /// Its id.
    pub id: String,
    /// The agent it runs on.
    pub agent: ResourceRef,
    /// Its name.
    pub name: String,
    /// Whether scheduled backups run.
    pub enabled: bool,
    /// The schedule; `None` (`null`) means backups are only started by hand.
    pub schedule: Option<Schedule>,
    /// How long backups are kept.
    pub retention: Retention,
    /// What is backed up (absent from list answers).
    pub inclusions: Option<Vec<PathFilter>>,
    /// What is left out (absent from list answers).
    pub exclusions: Option<Vec<PathFilter>>,
    /// Notifications (absent from list answers).
    pub notifications: Option<Vec<Notification>>,
    /// Whether the configuration was deleted.
    pub deleted: Option<bool>,
    /// Last completed and next backups.
    pub backups: Option<ConfigurationBackups>,
    /// Quirk: the create answer's sample puts `next` beside `backups`
    /// instead of inside it; kept where it arrived. Prefer
    /// [`Configuration::next_backup`], which looks in both places.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next: Option<NextBackup>,
    /// Links (`self`/`full`, `activities`, `events`).
    #[serde(default)]
    pub links: Vec<Link>,
}

impl Configuration {
    /// The next scheduled backup, wherever the service put it.
    pub fn next_backup(&self) -> Option<&NextBackup> {
        self.backups
            .as_ref()
            .and_then(|b| b.next.as_ref())
            .or(self.next.as_ref())
    }
}

/// `{"configurations": [...]}`: the configurations of a project or an agent.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConfigurationList {
    /// The configurations.
    pub configurations: Vec<Configuration>,
}

/// The body of "create a configuration". Every member is required;
/// `schedule` is sent as `null` when `None` (manual backups only).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CreateConfigurationBody {
    /// The agent the configuration runs on.
    pub agent_id: String,
    /// Its name.
    pub name: String,
    /// Whether scheduled backups run.
    pub enabled: bool,
    /// The schedule, or `None` for manual backups only.
    pub schedule: Option<Schedule>,
    /// How long backups are kept.
    pub retention: Retention,
    /// What to back up.
    pub inclusions: Vec<PathFilter>,
    /// What to leave out (each under an inclusion).
    pub exclusions: Vec<PathFilter>,
    /// Whom to notify; at least one must have `on_failure`.
    pub notifications: Vec<Notification>,
}

impl CreateConfigurationBody {
    /// Checks the reference's rules for creating (and updating) a configuration.
    pub fn validate(&self) -> Result<()> {
        require_id("agent_id", &self.agent_id)?;
        if self.name.trim().is_empty() {
            return Err(Error::argument("name", "must not be empty"));
        }
        if let Some(schedule) = &self.schedule {
            schedule.validate()?;
        }
        validate_path_filters(&self.inclusions, &self.exclusions)?;
        validate_notifications(&self.notifications)
    }
}

/// At least one notification must be sent on failure, and each needs a destination.
pub fn validate_notifications(notifications: &[Notification]) -> Result<()> {
    if let Some(i) = notifications
        .iter()
        .position(|n| n.destination.trim().is_empty())
    {
        return Err(Error::argument(
            format!("notifications[{i}].destination"),
            "must not be empty",
        ));
    }
    if !notifications.iter().any(|n| n.on_failure) {
        return Err(Error::argument(
            "notifications",
            "at least one notification must have on_failure = true",
        ));
    }
    Ok(())
}

/// The reference's rules for a configuration's inclusions and exclusions:
///
/// * no empty path, no path twice in either list, nor in both lists;
/// * nothing included under an included or excluded folder;
/// * nothing excluded under an excluded folder;
/// * every exclusion under an included folder.
///
/// Paths compare with `\` and `/` alike and without a trailing separator;
/// Windows-looking paths (a drive letter or a backslash) compare
/// case-insensitively.
pub fn validate_path_filters(inclusions: &[PathFilter], exclusions: &[PathFilter]) -> Result<()> {
    let inc: Vec<String> = inclusions.iter().map(|f| path_key(&f.path)).collect();
    let exc: Vec<String> = exclusions.iter().map(|f| path_key(&f.path)).collect();
    let folders = |filters: &[PathFilter], keys: &[String]| -> Vec<(String, String)> {
        filters
            .iter()
            .zip(keys)
            .filter(|(f, _)| f.kind == PathType::Folder)
            .map(|(f, k)| (f.path.clone(), k.clone()))
            .collect()
    };
    let inc_folders = folders(inclusions, &inc);
    let exc_folders = folders(exclusions, &exc);
    let fail =
        |list: &str, i: usize, reason: String| Err(Error::argument(format!("{list}[{i}]"), reason));
    for (list, filters, keys) in [
        ("inclusions", inclusions, &inc),
        ("exclusions", exclusions, &exc),
    ] {
        for (i, key) in keys.iter().enumerate() {
            if path_of(filters, i).trim().is_empty() {
                return fail(list, i, "the path must not be empty".into());
            }
            if keys.get(..i).is_some_and(|before| before.contains(key)) {
                return fail(list, i, format!("{:?} appears twice", path_of(filters, i)));
            }
        }
    }
    for (i, key) in inc.iter().enumerate() {
        let path = path_of(inclusions, i);
        if exc.contains(key) {
            return fail("inclusions", i, format!("{path:?} is also excluded"));
        }
        if let Some((folder, _)) = exc_folders.iter().find(|(_, f)| is_under(key, f)) {
            return fail(
                "inclusions",
                i,
                format!("{path:?} lies under excluded folder {folder:?}"),
            );
        }
        if let Some((folder, _)) = inc_folders.iter().find(|(_, f)| is_under(key, f)) {
            return fail(
                "inclusions",
                i,
                format!("{path:?} is already included by folder {folder:?}"),
            );
        }
    }
    for (i, key) in exc.iter().enumerate() {
        let path = path_of(exclusions, i);
        if let Some((folder, _)) = exc_folders.iter().find(|(_, f)| is_under(key, f)) {
            return fail(
                "exclusions",
                i,
                format!("{path:?} is already excluded by folder {folder:?}"),
            );
        }
        if !inc_folders.iter().any(|(_, f)| is_under(key, f)) {
            return fail(
                "exclusions",
                i,
                format!("{path:?} is not under any included folder"),
            );
        }
    }
    Ok(())
}

fn path_of(filters: &[PathFilter], i: usize) -> &str {
    filters.get(i).map_or("", |f| f.path.as_str())
}

/// The comparable form of a path: `/` separators, no trailing separator,
/// lower case for Windows paths.
fn path_key(path: &str) -> String {
    let windows = path.contains('\\') || path.as_bytes().get(1) == Some(&b':');
    let mut key = path.replace('\\', "/");
    while key.ends_with('/') {
        key.pop();
    }
    if windows {
        key.make_ascii_lowercase();
    }
    key
}

/// Whether `path` lies strictly below `folder` (both [`path_key`]s).
fn is_under(path: &str, folder: &str) -> bool {
    path.strip_prefix(folder)
        .is_some_and(|rest| rest.starts_with('/'))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_support::sample_v2;

    fn filter(kind: PathType, path: &str) -> PathFilter {
        PathFilter {
            kind,
            path: path.into(),
        }
    }

    #[test]
    fn recurrences_of_the_reference_round_trip() {
        for text in [
            "RRULE:FREQ=HOURLY;INTERVAL=2",
            "RRULE:FREQ=DAILY;INTERVAL=1;BYHOUR=14;BYMINUTE=0",
            "RRULE:FREQ=WEEKLY;INTERVAL=1;BYDAY=TH;BYHOUR=14;BYMINUTE=0",
        ] {
            let r = Recurrence::parse(text).unwrap();
            assert_eq!(r.to_string(), text);
        }
        assert_eq!(
            Recurrence::weekly(1, Weekday::Thursday, 14, 0).to_string(),
            "RRULE:FREQ=WEEKLY;INTERVAL=1;BYDAY=TH;BYHOUR=14;BYMINUTE=0"
        );
        let any_order =
            Recurrence::parse("rrule:byminute=0;FREQ=daily;BYHOUR=14;INTERVAL=1").unwrap();
        assert_eq!(any_order, Recurrence::daily(1, 14, 0));
    }

    #[test]
    fn recurrences_outside_the_supported_subset_are_rejected() {
        for (text, why) in [
            ("FREQ=HOURLY", "RRULE:"),
            ("RRULE:INTERVAL=2", "FREQ is missing"),
            ("RRULE:FREQ=MONTHLY", "MONTHLY"),
            ("RRULE:FREQ=DAILY;COUNT=3", "COUNT is not supported"),
            ("RRULE:FREQ=DAILY;BYHOUR=24", "0..=23"),
            ("RRULE:FREQ=DAILY;BYMINUTE=60", "0..=59"),
            ("RRULE:FREQ=HOURLY;INTERVAL=0", "1..="),
            ("RRULE:FREQ=HOURLY;FREQ=DAILY", "appears twice"),
            ("RRULE:FREQ=WEEKLY;BYDAY=1MO", "1MO"),
        ] {
            let e = Recurrence::parse(text).unwrap_err();
            assert_eq!(e.code(), crate::ErrorCode::InvalidValue);
            assert!(e.to_string().contains(why), "{text}: {e}");
        }
        assert!(Recurrence::daily(1, 25, 0).validate().is_err());
    }

    #[test]
    fn schedules_need_one_recurrence_and_a_time_zone_name() {
        let ok = Schedule::new(Recurrence::hourly(2), "US/Central");
        ok.validate().unwrap();
        let mut two = ok.clone();
        two.recurrence.push(Recurrence::hourly(3));
        let e = two.validate().unwrap_err();
        assert!(
            matches!(&e, Error::InvalidArgument { name, .. } if name == "schedule.recurrence"),
            "{e}"
        );
        let mut none = ok.clone();
        none.recurrence.clear();
        assert!(none.validate().is_err());
        for tz in ["", "Central Time", "US//Central", "/UTC"] {
            let bad = Schedule::new(Recurrence::hourly(2), tz);
            let e = bad.validate().unwrap_err();
            assert!(
                matches!(&e, Error::InvalidArgument { name, .. } if name == "schedule.time_zone"),
                "{e}"
            );
        }
        for tz in ["UTC", "America/Argentina/Buenos_Aires", "Etc/GMT+5"] {
            Schedule::new(Recurrence::hourly(2), tz).validate().unwrap();
        }
    }

    #[test]
    fn path_rules_of_the_reference() {
        use PathType::{File, Folder};
        let inc = [filter(Folder, "/web/"), filter(File, "/etc/web/app.conf")];
        let exc = [
            filter(Folder, "/web/cache/"),
            filter(File, "/web/cache.jpg"),
        ];
        validate_path_filters(&inc, &exc).unwrap();

        let cases: Vec<(Vec<PathFilter>, Vec<PathFilter>, &str, &str)> = vec![
            (
                vec![filter(Folder, "/web/"), filter(Folder, "/web")],
                vec![],
                "inclusions[1]",
                "twice",
            ),
            (
                vec![filter(Folder, "/web/")],
                vec![filter(Folder, "/web/a"), filter(File, "/web/a/")],
                "exclusions[1]",
                "twice",
            ),
            (
                vec![filter(Folder, "/web/"), filter(File, "/x")],
                vec![filter(File, "/x")],
                "inclusions[1]",
                "also excluded",
            ),
            (
                vec![filter(Folder, "/web/"), filter(File, "/web/a")],
                vec![],
                "inclusions[1]",
                "already included",
            ),
            (
                vec![filter(Folder, "/web/"), filter(File, "/web/c/a")],
                vec![filter(Folder, "/web/c")],
                "inclusions[1]",
                "excluded folder",
            ),
            (
                vec![filter(Folder, "/web/")],
                vec![filter(Folder, "/web/c"), filter(File, "/web/c/x")],
                "exclusions[1]",
                "already excluded",
            ),
            (
                vec![filter(Folder, "/web/")],
                vec![filter(File, "/etc/passwd")],
                "exclusions[0]",
                "not under any included folder",
            ),
            (
                vec![filter(File, "/web")],
                vec![filter(File, "/web/a")],
                "exclusions[0]",
                "not under any included folder",
            ),
        ];
        for (inc, exc, name, why) in cases {
            let e = validate_path_filters(&inc, &exc).unwrap_err();
            assert!(
                matches!(&e, Error::InvalidArgument { name: n, reason } if n == name && reason.contains(why)),
                "{name}/{why}: {e}"
            );
        }
        // Windows paths: case and separators do not matter; siblings are not nested.
        let inc = [filter(Folder, "C:\\Users\\")];
        validate_path_filters(&inc, &[filter(Folder, "c:\\users\\Temp")]).unwrap();
        assert!(validate_path_filters(&inc, &[filter(Folder, "C:\\UsersX")]).is_err());
        let e = validate_path_filters(&[filter(Folder, " ")], &[]).unwrap_err();
        assert!(e.to_string().contains("must not be empty"), "{e}");
        // The root folder includes everything.
        validate_path_filters(&[filter(Folder, "/")], &[filter(Folder, "/tmp")]).unwrap();
    }

    #[test]
    fn next_backup_is_found_inside_or_beside_backups() {
        let text = sample_v2!("cbu-postConfig_response.json");
        let c: Configuration = serde_json::from_str(text).unwrap();
        let when = Timestamp::parse("2014-08-05T20:22:21Z").unwrap();
        assert_eq!(c.next_backup().and_then(|n| n.scheduled_time), Some(when));
        assert_eq!(
            c.backups.as_ref().and_then(|b| b.last_completed.as_ref()),
            None
        );
        let text = sample_v2!("cbu-getConfigurationDetails_response.json");
        let c: Configuration = serde_json::from_str(text).unwrap();
        assert_eq!(c.next_backup().and_then(|n| n.scheduled_time), Some(when));
        assert_eq!(c.schedule.unwrap().recurrence, vec![Recurrence::hourly(2)]);
        assert!(!c.deleted.unwrap());
    }

    #[test]
    fn create_body_rules() {
        let text = sample_v2!("cbu-postConfig_request.json");
        let body: CreateConfigurationBody = serde_json::from_str(text).unwrap();
        body.validate().unwrap();

        let mut quiet = body.clone();
        quiet.notifications[0].on_failure = false;
        let e = quiet.validate().unwrap_err();
        assert!(e.to_string().contains("on_failure"), "{e}");

        let mut nameless = body.clone();
        nameless.name = " ".into();
        assert!(nameless.validate().is_err());

        let mut manual = body.clone();
        manual.schedule = None;
        manual.validate().unwrap();
        let json = serde_json::to_value(&manual).unwrap();
        assert!(
            json["schedule"].is_null(),
            "manual configurations send schedule: null"
        );
    }
}
