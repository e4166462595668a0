//! Forget by policy: which snapshots a [`KeepPolicy`] keeps, and why, in
//! restic's `forget` semantics (restic's `internal/data/snapshot_policy.go`
//! and `doc/060_forget.rst`).
//!
//! - Snapshots are grouped by host and source paths (restic's default
//!   `--group-by host,paths`; the paths compared as a set, as
//!   [`VaultState::parent_for`](super::state::VaultState::parent_for) does;
//!   [`GroupBy`] picks any of host, paths and tags, or none)
//!   and each group is decided on its own, newest first (by time, then id).
//! - `last` keeps the N newest snapshots; `hourly`, `daily`, `weekly`,
//!   `monthly` and `yearly` keep the newest snapshot of each of the N most
//!   recent calendar hours, days, ISO weeks, months, years that have one.
//!   When a rule still has counts left at the group's oldest snapshot, that
//!   one is kept too ("oldest daily snapshot"), as restic does since 0.16:
//!   the history kept is as long as the counts allow.
//! - `within` keeps every snapshot newer than the group's latest snapshot
//!   minus the duration (restic measures from the latest snapshot, not from
//!   now, so a host that stopped backing up does not lose its last
//!   snapshots; snapshots dated after `now` do not count as the latest).
//! - `tags` keeps every snapshot that carries all the tags of any one list.
//! - A snapshot is kept when any rule keeps it; every reason is reported.
//!
//! One difference from restic: the calendar buckets use UTC, where restic
//! uses the local time zone of the machine running `forget`. The core has no
//! time zone database, and UTC makes the same vault decide alike on every
//! host; near midnight (or a month's end) a snapshot may fall into another
//! day (or month) than restic would put it in.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use super::rawpath::RawPath;
use super::state::SnapshotSummary;
use crate::model::v1::VersionRetention;
use crate::model::v2::configuration::Retention;
use crate::wire::{civil_from_days, days_from_civil};
use crate::{Error, Result};

/// A calendar duration in restic's `--keep-within` syntax: numbers with the
/// units `y` (years), `m` (months), `d` (days) and `h` (hours), e.g.
/// `"1y6m"`, `"30d"`, `"2d12h"`. Subtracted as calendar arithmetic (one
/// month before March 31 is March 3 in a common year, as Go's `AddDate`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct KeepWithin {
    /// Years.
    pub years: u32,
    /// Months.
    pub months: u32,
    /// Days.
    pub days: u32,
    /// Hours.
    pub hours: u32,
}

impl KeepWithin {
    /// A duration of `days` days.
    pub fn days(days: u32) -> Self {
        KeepWithin {
            days,
            ..KeepWithin::default()
        }
    }

    /// Parses `"1y2m3d4h"` (any subset of the units, each at most once, in
    /// any order). [`Error::InvalidArgument`] for anything else, and for a
    /// zero duration (it would keep nothing: leave the rule out instead).
    pub fn parse(text: &str) -> Result<Self> {
        let bad = |reason: String| Error::argument("within", reason);
        let mut out = KeepWithin::default();
        let mut seen = BTreeSet::new();
        let mut digits = String::new();
        for c in text.chars() {
            if c.is_ascii_digit() {
                digits.push(c);
                continue;
            }
            if digits.is_empty() {
                return Err(bad(format!(
                    "{text:?} is not a duration like \"30d\" or \"1y6m\" (a number must come before {c:?})"
                )));
            }
            let n: u32 = digits
                .parse()
                .map_err(|_| bad(format!("{digits} in {text:?} is too large")))?;
            let field = match c {
                'y' => &mut out.years,
                'm' => &mut out.months,
                'd' => &mut out.days,
                'h' => &mut out.hours,
                _ => {
                    return Err(bad(format!(
                        "{text:?}: unknown unit {c:?} (the units are y, m, d and h)"
                    )))
                }
            };
            if !seen.insert(c) {
                return Err(bad(format!("{text:?} gives the unit {c:?} twice")));
            }
            *field = n;
            digits.clear();
        }
        if !digits.is_empty() {
            return Err(bad(format!(
                "{text:?} ends in a number without a unit (y, m, d or h)"
            )));
        }
        if seen.is_empty() {
            return Err(bad("an empty duration (write e.g. \"30d\")".into()));
        }
        out.check()?;
        Ok(out)
    }

    fn check(&self) -> Result<()> {
        if *self == KeepWithin::default() {
            return Err(Error::argument(
                "within",
                "a zero duration keeps nothing by itself: leave the rule out",
            ));
        }
        Ok(())
    }

    /// The instant (Unix seconds, nanoseconds) this duration before `secs`:
    /// years and months move the calendar month (the day overflowing into
    /// the next month as Go's `AddDate` does), days the calendar day, hours
    /// the clock. Saturates rather than overflowing on absurd inputs.
    fn before(&self, secs: i64) -> i64 {
        let day = secs.div_euclid(86_400);
        let in_day = secs.rem_euclid(86_400);
        let (y, m, d) = civil_from_days(day);
        let months = (y * 12 + (m - 1))
            .saturating_sub(i64::from(self.years) * 12)
            .saturating_sub(i64::from(self.months));
        let (y, m) = (months.div_euclid(12), months.rem_euclid(12) + 1);
        let day = days_from_civil(y, m, d).saturating_sub(i64::from(self.days));
        day.saturating_mul(86_400)
            .saturating_add(in_day)
            .saturating_sub(i64::from(self.hours) * 3600)
    }
}

impl fmt::Display for KeepWithin {
    /// restic's spelling: only the non-zero units, `y m d h` in that order.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (n, unit) in [
            (self.years, 'y'),
            (self.months, 'm'),
            (self.days, 'd'),
            (self.hours, 'h'),
        ] {
            if n > 0 {
                write!(f, "{n}{unit}")?;
            }
        }
        Ok(())
    }
}

impl Serialize for KeepWithin {
    fn serialize<S: Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for KeepWithin {
    fn deserialize<D: Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        KeepWithin::parse(&text)
            .map_err(|e| serde::de::Error::custom(crate::error::serde_reason(e)))
    }
}

/// What `forget` decides snapshots together by (restic's `--group-by`):
/// any of the host, the source paths (as a set) and the tags (as a set).
/// The default is host and paths; none puts every snapshot in one group.
/// Text: `"host,paths"`, `"tags"`, `""` (none)...
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GroupBy {
    /// Group by host.
    pub host: bool,
    /// Group by the set of source paths.
    pub paths: bool,
    /// Group by the set of tags.
    pub tags: bool,
}

impl Default for GroupBy {
    fn default() -> Self {
        GroupBy {
            host: true,
            paths: true,
            tags: false,
        }
    }
}

impl GroupBy {
    /// Parses a comma-separated list of `host`, `paths` and `tags` (empty:
    /// no grouping). [`Error::InvalidArgument`] names anything else.
    pub fn parse(text: &str) -> Result<Self> {
        let mut out = GroupBy {
            host: false,
            paths: false,
            tags: false,
        };
        for word in text.split(',').map(str::trim).filter(|w| !w.is_empty()) {
            match word {
                "host" => out.host = true,
                "paths" => out.paths = true,
                "tags" => out.tags = true,
                other => {
                    return Err(Error::argument(
                        "group_by",
                        format!("{other:?} is not host, paths or tags"),
                    ))
                }
            }
        }
        Ok(out)
    }

    fn is_default(&self) -> bool {
        *self == GroupBy::default()
    }
}

impl fmt::Display for GroupBy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let words: Vec<&str> = [
            (self.host, "host"),
            (self.paths, "paths"),
            (self.tags, "tags"),
        ]
        .into_iter()
        .filter(|(on, _)| *on)
        .map(|(_, w)| w)
        .collect();
        f.write_str(&words.join(","))
    }
}

impl Serialize for GroupBy {
    fn serialize<S: Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for GroupBy {
    fn deserialize<D: Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        GroupBy::parse(&text).map_err(|e| serde::de::Error::custom(crate::error::serde_reason(e)))
    }
}

/// Which snapshots `forget` keeps (restic's `--keep-*` options). JSON: the
/// member names below, every one optional, e.g.
/// `{"daily": 7, "weekly": 4, "within": "30d", "tags": [["important"]]}`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KeepPolicy {
    /// Keep the N newest snapshots (`--keep-last`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last: Option<u32>,
    /// Keep the newest snapshot of each of the N latest hours that have one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hourly: Option<u32>,
    /// ... of each of the N latest days.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub daily: Option<u32>,
    /// ... of each of the N latest ISO weeks (Monday to Sunday).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub weekly: Option<u32>,
    /// ... of each of the N latest months.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub monthly: Option<u32>,
    /// ... of each of the N latest years.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub yearly: Option<u32>,
    /// Keep every snapshot within this duration of the group's latest.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub within: Option<KeepWithin>,
    /// Keep every snapshot that has all the tags of any one of these lists
    /// (`--keep-tag a,b` is the list `["a", "b"]`; the option repeated
    /// gives several lists).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tags: Vec<Vec<String>>,
    /// What snapshots are decided together by (default host and paths).
    #[serde(default, skip_serializing_if = "GroupBy::is_default")]
    pub group_by: GroupBy,
}

/// What `forget` does with one snapshot, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Decision {
    /// The snapshot's id (hex).
    pub id: String,
    /// Its time, Unix seconds.
    pub time: i64,
    /// Its sub-second part.
    pub time_nanos: u32,
    /// Its host ...
    pub hostname: Option<String>,
    /// ... its source paths (sorted, without repeats) ...
    pub paths: Vec<RawPath>,
    /// ... and its tags.
    pub tags: Vec<String>,
    /// Its group, in words (`host web1, paths /srv`; `tags a,b`; `all
    /// snapshots`): decisions of one group come together.
    pub group: String,
    /// Whether it stays (`false`: forget removes it).
    pub keep: bool,
    /// Why it stays, one entry per rule that keeps it (restic's wording:
    /// "last snapshot", "daily snapshot", "oldest monthly snapshot",
    /// "within 30d", "has tags [a b]"); empty when it goes.
    pub reasons: Vec<String>,
}

/// [`Error::InvalidArgument`] unless every tag is non-empty, without a
/// comma (`--keep-tag a,b` means the tags `a` and `b`, so a tag holding a
/// comma could never be kept by) and without control characters. A
/// backup's tags and a policy's must pass; hosts check a backup's before
/// reading any file.
pub fn check_tags(tags: &[String]) -> Result<()> {
    for tag in tags {
        if tag.is_empty() || tag.contains(',') || tag.chars().any(char::is_control) {
            return Err(Error::argument(
                "tags",
                format!("{tag:?}: a tag is not empty and has no comma or control character"),
            ));
        }
    }
    Ok(())
}

/// A group's key: host, paths and tags, each only when grouped by it.
type GroupKey<'a> = (
    Option<Option<&'a str>>,
    Option<Vec<&'a RawPath>>,
    Option<Vec<&'a String>>,
);

/// A group key in words, for listings.
fn group_label((host, paths, tags): &GroupKey<'_>) -> String {
    let mut parts = Vec::new();
    if let Some(h) = host {
        parts.push(format!("host {}", h.unwrap_or("(none)")));
    }
    if let Some(p) = paths {
        let words: Vec<String> = p.iter().map(|p| p.quoted().into_owned()).collect();
        parts.push(format!(
            "paths {}",
            if words.is_empty() {
                "(none)".into()
            } else {
                words.join(" ")
            }
        ));
    }
    if let Some(t) = tags {
        let words: Vec<&str> = t.iter().map(|t| t.as_str()).collect();
        parts.push(format!(
            "tags {}",
            if words.is_empty() {
                "(none)".into()
            } else {
                words.join(",")
            }
        ));
    }
    if parts.is_empty() {
        "all snapshots".into()
    } else {
        parts.join(", ")
    }
}

/// The count rules, in restic's order (which orders the reasons).
const COUNT_RULES: [&str; 6] = ["last", "hourly", "daily", "weekly", "monthly", "yearly"];

impl KeepPolicy {
    /// Parses a policy from JSON (the shape above) and validates it.
    /// [`Error::InvalidArgument`] for an unknown member, a value out of
    /// range, or no rule at all.
    pub fn from_json(json: &str) -> Result<Self> {
        let value: serde_json::Value =
            serde_json::from_str(json).map_err(|e| Error::json("keep policy", &e))?;
        let policy: KeepPolicy = crate::error::from_json_argument("policy", &value)?;
        policy.validate()?;
        Ok(policy)
    }

    /// [`Error::InvalidArgument`] when the policy has no rule (restic: "no
    /// policy was specified, no snapshots will be removed": refusing is
    /// safer than keeping or removing everything), when a count is 0 (it
    /// would keep nothing: leave it out), on a zero `within`, and on an
    /// empty tag list or an empty tag.
    pub fn validate(&self) -> Result<()> {
        for (name, count) in COUNT_RULES.iter().zip(self.counts()) {
            if count == Some(0) {
                return Err(Error::argument(
                    *name,
                    "0 keeps nothing: leave the rule out, or give at least 1",
                ));
            }
        }
        if let Some(w) = &self.within {
            w.check()?;
        }
        for list in &self.tags {
            if list.is_empty() {
                return Err(Error::argument(
                    "tags",
                    "a list without tags (it would match every snapshot)",
                ));
            }
            check_tags(list)?;
        }
        if self.is_empty() {
            return Err(Error::argument(
                "policy",
                "no rule given (last, hourly, daily, weekly, monthly, yearly, within or tags): nothing would be kept, so nothing is removed",
            ));
        }
        Ok(())
    }

    /// Whether no rule is set.
    pub fn is_empty(&self) -> bool {
        self.counts().iter().all(Option::is_none) && self.within.is_none() && self.tags.is_empty()
    }

    fn counts(&self) -> [Option<u32>; 6] {
        [
            self.last,
            self.hourly,
            self.daily,
            self.weekly,
            self.monthly,
            self.yearly,
        ]
    }

    /// The policy of a v2 backup configuration's `retention`: keep every
    /// backup within `days` days (of the latest, see the module docs).
    /// `None` for `days == 0`, which the service defines as "kept forever":
    /// there is nothing to forget.
    pub fn from_v2_retention(retention: &Retention) -> Option<Self> {
        if retention.is_forever() {
            return None;
        }
        Some(KeepPolicy {
            within: Some(KeepWithin::days(retention.days)),
            ..KeepPolicy::default()
        })
    }

    /// The policy of a v1 configuration's `VersionRetention` (30 or 60
    /// days; `None` for `Indefinite`, kept forever). An unknown value the
    /// service may add is `None` too: keeping is the safe reading.
    pub fn from_v1_version_retention(retention: &VersionRetention) -> Option<Self> {
        let days = match retention {
            VersionRetention::Days30 => 30,
            VersionRetention::Days60 => 60,
            _ => return None,
        };
        Self::from_v2_retention(&Retention { days })
    }

    /// Decides every snapshot of `snapshots`: one [`Decision`] each, by
    /// group (host, then paths, in byte order), newest first within a
    /// group. `now_ns` (Unix nanoseconds) only stops a snapshot dated in
    /// the future from being a group's latest for `within`.
    /// Validates the policy first.
    pub fn apply(&self, snapshots: &[SnapshotSummary], now_ns: i64) -> Result<Vec<Decision>> {
        self.validate()?;
        let by = self.group_by;
        let mut groups: BTreeMap<GroupKey<'_>, Vec<&SnapshotSummary>> = BTreeMap::new();
        for s in snapshots {
            let paths: BTreeSet<&RawPath> = s.paths.iter().collect();
            let tags: BTreeSet<&String> = s.tags.iter().collect();
            let key: GroupKey<'_> = (
                by.host.then_some(s.hostname.as_deref()),
                by.paths.then(|| paths.into_iter().collect()),
                by.tags.then(|| tags.into_iter().collect()),
            );
            groups.entry(key).or_default().push(s);
        }
        let mut out = Vec::with_capacity(snapshots.len());
        for (key, mut list) in groups {
            list.sort_by(|a, b| (b.time, b.time_nanos, &b.id).cmp(&(a.time, a.time_nanos, &a.id)));
            let group = group_label(&key);
            for (s, reasons) in list.iter().zip(self.decide_group(&list, now_ns)) {
                let mut paths: Vec<RawPath> = s.paths.clone();
                paths.sort();
                paths.dedup();
                out.push(Decision {
                    id: s.id.clone(),
                    time: s.time,
                    time_nanos: s.time_nanos,
                    hostname: s.hostname.clone(),
                    paths,
                    tags: s.tags.clone(),
                    group: group.clone(),
                    keep: !reasons.is_empty(),
                    reasons,
                });
            }
        }
        Ok(out)
    }

    /// The reasons to keep each snapshot of one group (newest first).
    fn decide_group(&self, list: &[&SnapshotSummary], now_ns: i64) -> Vec<Vec<String>> {
        let now = (
            now_ns.div_euclid(1_000_000_000),
            now_ns.rem_euclid(1_000_000_000),
        );
        // restic: the latest snapshot not in the future; none such, and
        // `within` keeps them all (Go's zero time as the latest).
        let cutoff = self.within.and_then(|w| {
            list.iter()
                .map(|s| (s.time, i64::from(s.time_nanos)))
                .filter(|t| *t < now)
                .max()
                .map(|(secs, nanos)| (w.before(secs), nanos))
        });
        let mut left = self.counts().map(|c| c.unwrap_or(0));
        let mut last: [Option<i64>; 6] = [None; 6];
        let oldest = list.len().saturating_sub(1);
        let mut out = Vec::with_capacity(list.len());
        for (nr, s) in list.iter().enumerate() {
            let mut reasons = Vec::new();
            for tags in &self.tags {
                if tags.iter().all(|t| s.tags.contains(t)) {
                    reasons.push(format!("has tags [{}]", tags.join(" ")));
                }
            }
            if let Some(w) = &self.within {
                if cutoff.is_none_or(|c| (s.time, i64::from(s.time_nanos)) > c) {
                    reasons.push(format!("within {w}"));
                }
            }
            let buckets = buckets(s.time, nr);
            for i in 0..COUNT_RULES.len() {
                if left[i] == 0 {
                    continue;
                }
                let same = last[i] == Some(buckets[i]);
                if !same || nr == oldest {
                    let rule = if i == 0 { "last" } else { COUNT_RULES[i] };
                    let oldest_prefix = if same { "oldest " } else { "" };
                    reasons.push(format!("{oldest_prefix}{rule} snapshot"));
                    last[i] = Some(buckets[i]);
                    left[i] -= 1;
                }
            }
            out.push(reasons);
        }
        out
    }
}

/// The bucket of a snapshot taken at `secs` (UTC) for each count rule:
/// its position (`last`: every snapshot its own bucket), then the hour,
/// day, ISO week, month and year as restic numbers them (YYYYMMDDHH,
/// YYYYMMDD, YYYYWW with the ISO week-numbering year, YYYYMM, YYYY).
fn buckets(secs: i64, nr: usize) -> [i64; 6] {
    let day = secs.div_euclid(86_400);
    let hour = secs.rem_euclid(86_400) / 3600;
    let (y, m, d) = civil_from_days(day);
    // ISO 8601: weeks start on Monday and belong to the year of their
    // Thursday. 1970-01-01 was a Thursday (weekday 3 counting Monday as 0).
    let weekday = (day + 3).rem_euclid(7);
    let thursday = day - weekday + 3;
    let (iso_year, _, _) = civil_from_days(thursday);
    let week = (thursday - days_from_civil(iso_year, 1, 1)) / 7 + 1;
    [
        i64::try_from(nr).unwrap_or(i64::MAX),
        ((y * 100 + m) * 100 + d) * 100 + hour,
        (y * 100 + m) * 100 + d,
        iso_year * 100 + week,
        y * 100 + m,
        y,
    ]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::BackupCounters;
    use crate::wire::days_from_civil as day_of;
    use proptest::prelude::*;

    /// Unix seconds of a UTC date and hour.
    fn at(y: i64, m: i64, d: i64, h: i64) -> i64 {
        day_of(y, m, d) * 86_400 + h * 3600
    }

    fn snap(id: &str, time: i64) -> SnapshotSummary {
        SnapshotSummary {
            id: id.into(),
            time,
            time_nanos: 0,
            hostname: Some("h".into()),
            backup_configuration_id: None,
            paths: vec![RawPath::from("/data")],
            tags: vec![],
            entries: 0,
            counters: BackupCounters::default(),
        }
    }

    fn kept(policy: &KeepPolicy, snaps: &[SnapshotSummary]) -> Vec<String> {
        policy
            .apply(snaps, i64::MAX)
            .unwrap()
            .into_iter()
            .filter(|d| d.keep)
            .map(|d| d.id)
            .collect()
    }

    #[test]
    fn within_parses_restic_durations() {
        let w = KeepWithin::parse("1y2m3d4h").unwrap();
        assert_eq!((w.years, w.months, w.days, w.hours), (1, 2, 3, 4));
        assert_eq!(KeepWithin::parse("4h30d").unwrap().to_string(), "30d4h");
        for bad in ["", "30", "d", "3w", "1d1d", "0d", "-1d", "99999999999d"] {
            let e = KeepWithin::parse(bad).unwrap_err();
            assert_eq!(e.code(), crate::ErrorCode::InvalidArgument, "{bad}");
        }
    }

    #[test]
    fn within_subtracts_calendar_months_like_go() {
        // One month before 2023-03-31 is "2023-02-31", which is March 3.
        let w = KeepWithin::parse("1m").unwrap();
        assert_eq!(w.before(at(2023, 3, 31, 5)), at(2023, 3, 3, 5));
        let w = KeepWithin::parse("1y1d2h").unwrap();
        assert_eq!(w.before(at(2024, 3, 1, 1)), at(2023, 2, 27, 23));
    }

    #[test]
    fn iso_weeks_belong_to_the_year_of_their_thursday() {
        // 2021-01-03 (Sunday) is in week 53 of 2020; 2024-12-30 (Monday)
        // in week 1 of 2025; 2026-12-05 (Saturday) in week 49 of 2026.
        assert_eq!(buckets(at(2021, 1, 3, 12), 0)[3], 202053);
        assert_eq!(buckets(at(2021, 1, 4, 0), 0)[3], 202101);
        assert_eq!(buckets(at(2024, 12, 30, 0), 0)[3], 202501);
        assert_eq!(buckets(at(2026, 12, 5, 1), 0)[3], 202649);
        assert_eq!(buckets(at(1969, 12, 31, 23), 0)[1], 1969123123);
    }

    #[test]
    fn a_policy_without_rules_or_with_zero_counts_is_refused() {
        let e = KeepPolicy::default().apply(&[], 0).unwrap_err();
        assert_eq!(e.code(), crate::ErrorCode::InvalidArgument);
        assert!(e.to_string().contains("no rule"), "{e}");
        let zero = KeepPolicy {
            daily: Some(0),
            ..KeepPolicy::default()
        };
        assert!(zero.validate().unwrap_err().to_string().contains("daily"));
        let empty_tag = KeepPolicy {
            tags: vec![vec![]],
            ..KeepPolicy::default()
        };
        assert!(empty_tag.validate().is_err());
        for bad in ["", "a,b", "a\nb"] {
            let p = KeepPolicy {
                tags: vec![vec![bad.into()]],
                ..KeepPolicy::default()
            };
            assert!(p.validate().is_err(), "{bad:?}");
        }
        assert!(check_tags(&["daily".into(), "ü-1 x".into()]).is_ok());
        assert!(KeepPolicy::from_json(r#"{"dayly": 3}"#).is_err());
        assert!(KeepPolicy::from_json(r#"{"within": "3x"}"#).is_err());
        let p =
            KeepPolicy::from_json(r#"{"daily": 3, "within": "30d", "tags": [["a","b"]]}"#).unwrap();
        assert_eq!(p.daily, Some(3));
        assert_eq!(p.within, Some(KeepWithin::days(30)));
        assert_eq!(
            serde_json::to_string(&p).unwrap(),
            r#"{"daily":3,"within":"30d","tags":[["a","b"]]}"#
        );
    }

    #[test]
    fn last_keeps_the_newest_n() {
        let snaps: Vec<_> = (0..5).map(|i| snap(&format!("s{i}"), 100 + i)).collect();
        let p = KeepPolicy {
            last: Some(2),
            ..KeepPolicy::default()
        };
        assert_eq!(kept(&p, &snaps), ["s4", "s3"]);
        let d = p.apply(&snaps, i64::MAX).unwrap();
        assert_eq!(d[0].reasons, ["last snapshot"]);
        assert!(d[2].reasons.is_empty() && !d[2].keep);
    }

    #[test]
    fn daily_keeps_the_newest_of_each_day_and_the_oldest_while_counts_last() {
        let snaps = vec![
            snap("d1-early", at(2024, 5, 1, 1)),
            snap("d1-late", at(2024, 5, 1, 23)),
            snap("d2-early", at(2024, 5, 2, 8)),
            snap("d2-late", at(2024, 5, 2, 9)),
            snap("d4", at(2024, 5, 4, 0)),
        ];
        let two = KeepPolicy {
            daily: Some(2),
            ..KeepPolicy::default()
        };
        assert_eq!(kept(&two, &snaps), ["d4", "d2-late"]);
        let three = KeepPolicy {
            daily: Some(3),
            ..KeepPolicy::default()
        };
        assert_eq!(kept(&three, &snaps), ["d4", "d2-late", "d1-late"]);
        // Counts left at the oldest snapshot: restic keeps it too.
        let ten = KeepPolicy {
            daily: Some(10),
            ..KeepPolicy::default()
        };
        let d = ten.apply(&snaps, i64::MAX).unwrap();
        assert_eq!(
            d.iter()
                .filter(|d| d.keep)
                .map(|d| d.id.as_str())
                .collect::<Vec<_>>(),
            ["d4", "d2-late", "d1-late", "d1-early"]
        );
        assert_eq!(d[4].reasons, ["oldest daily snapshot"]);
    }

    #[test]
    fn hourly_weekly_monthly_yearly_use_their_calendar_units() {
        let snaps = vec![
            snap("2022", at(2022, 6, 1, 0)),
            snap("2023-jan", at(2023, 1, 10, 0)),
            snap("2023-feb-w5", at(2023, 2, 1, 0)),
            snap("2023-feb-w6a", at(2023, 2, 6, 0)),
            snap("2023-feb-w6b-10h", at(2023, 2, 7, 10)),
            snap("2023-feb-w6b-11h", at(2023, 2, 7, 11)),
        ];
        let rule = |f: fn(&mut KeepPolicy)| {
            let mut p = KeepPolicy::default();
            f(&mut p);
            kept(&p, &snaps)
        };
        assert_eq!(
            rule(|p| p.hourly = Some(2)),
            ["2023-feb-w6b-11h", "2023-feb-w6b-10h"]
        );
        assert_eq!(
            rule(|p| p.weekly = Some(2)),
            ["2023-feb-w6b-11h", "2023-feb-w5"]
        );
        assert_eq!(
            rule(|p| p.monthly = Some(2)),
            ["2023-feb-w6b-11h", "2023-jan"]
        );
        assert_eq!(rule(|p| p.yearly = Some(2)), ["2023-feb-w6b-11h", "2022"]);
    }

    #[test]
    fn rules_combine_and_every_reason_is_given() {
        let snaps: Vec<_> = (1..=10)
            .map(|d| snap(&format!("may{d}"), at(2024, 5, d, 12)))
            .collect();
        let p = KeepPolicy {
            last: Some(1),
            daily: Some(3),
            monthly: Some(1),
            ..KeepPolicy::default()
        };
        let d = p.apply(&snaps, i64::MAX).unwrap();
        assert_eq!(
            d[0].reasons,
            ["last snapshot", "daily snapshot", "monthly snapshot"]
        );
        assert_eq!(d[1].reasons, ["daily snapshot"]);
        assert_eq!(d.iter().filter(|d| d.keep).count(), 3);
    }

    #[test]
    fn within_counts_from_the_latest_snapshot_not_in_the_future() {
        let snaps = vec![
            snap("old", at(2024, 1, 1, 0)),
            snap("edge", at(2024, 1, 21, 0)),
            snap("mid", at(2024, 1, 25, 0)),
            snap("latest", at(2024, 1, 31, 0)),
            snap("future", at(2030, 1, 1, 0)),
        ];
        let p = KeepPolicy {
            within: Some(KeepWithin::days(10)),
            ..KeepPolicy::default()
        };
        let now = at(2025, 6, 1, 0) * 1_000_000_000;
        let d = p.apply(&snaps, now).unwrap();
        let keep: Vec<&str> = d.iter().filter(|d| d.keep).map(|d| d.id.as_str()).collect();
        // "edge" is exactly 10 days before the latest: restic keeps only
        // what is strictly after the cutoff.
        assert_eq!(keep, ["future", "latest", "mid"]);
        assert_eq!(d[1].reasons, ["within 10d"]);
        // Everything in the future: no latest, all kept.
        let d = p.apply(&snaps, 0).unwrap();
        assert!(d.iter().all(|d| d.keep));
    }

    #[test]
    fn keep_tag_needs_every_tag_of_one_list() {
        let mut snaps: Vec<_> = (0..4).map(|i| snap(&format!("s{i}"), i)).collect();
        snaps[0].tags = vec!["a".into(), "b".into()];
        snaps[1].tags = vec!["a".into()];
        snaps[2].tags = vec!["c".into()];
        let p = KeepPolicy {
            tags: vec![vec!["a".into(), "b".into()], vec!["c".into()]],
            ..KeepPolicy::default()
        };
        let d = p.apply(&snaps, i64::MAX).unwrap();
        let keep: Vec<&str> = d.iter().filter(|d| d.keep).map(|d| d.id.as_str()).collect();
        assert_eq!(keep, ["s2", "s0"]);
        assert_eq!(d[1].reasons, ["has tags [c]"]);
        assert_eq!(d[3].reasons, ["has tags [a b]"]);
    }

    #[test]
    fn groups_are_host_and_path_set_each_decided_alone() {
        let mut snaps = Vec::new();
        for (i, (host, paths)) in [
            ("a", vec!["/x", "/y"]),
            ("a", vec!["/y", "/x", "/x"]),
            ("b", vec!["/x", "/y"]),
            ("a", vec!["/x"]),
        ]
        .into_iter()
        .enumerate()
        {
            let mut s = snap(&format!("s{i}"), i as i64);
            s.hostname = Some(host.into());
            s.paths = paths.into_iter().map(RawPath::from).collect();
            snaps.push(s);
        }
        let p = KeepPolicy {
            last: Some(1),
            ..KeepPolicy::default()
        };
        let d = p.apply(&snaps, i64::MAX).unwrap();
        let keep: Vec<&str> = d.iter().filter(|d| d.keep).map(|d| d.id.as_str()).collect();
        // Groups in order: (a, [/x]), (a, [/x, /y]), (b, [/x, /y]).
        assert_eq!(keep, ["s3", "s1", "s2"]);
        assert_eq!(d[1].paths, [RawPath::from("/x"), RawPath::from("/y")]);
        assert_eq!(d[2].id, "s0");
        assert!(!d[2].keep);
    }

    #[test]
    fn retention_of_the_reference_samples_maps_onto_within() {
        let body = include_str!(
            "../../../tests/data/rackspace/samples-v2/cbu-getConfigurationDetails_response.json"
        );
        let conf: crate::model::v2::configuration::Configuration =
            serde_json::from_str(body).unwrap();
        let policy = KeepPolicy::from_v2_retention(&conf.retention).unwrap();
        assert_eq!(
            policy.within,
            Some(KeepWithin::days(conf.retention.days)),
            "sample retention {:?}",
            conf.retention
        );
        assert!(policy.validate().is_ok());
        assert_eq!(KeepPolicy::from_v2_retention(&Retention { days: 0 }), None);
        assert_eq!(
            KeepPolicy::from_v1_version_retention(&VersionRetention::Days60).and_then(|p| p.within),
            Some(KeepWithin::days(60))
        );
        assert_eq!(
            KeepPolicy::from_v1_version_retention(&VersionRetention::Indefinite),
            None
        );
    }

    /// A random group-able snapshot: host, paths and tags from small sets
    /// so groups and tag matches happen; times over a few years.
    fn arb_snapshot() -> impl Strategy<Value = (u8, u8, u8, i64, u32)> {
        (0..2u8, 0..2u8, 0..4u8, 0..(3 * 365 * 86_400i64), 0..3u32)
    }

    fn arb_policy() -> impl Strategy<Value = KeepPolicy> {
        let count = || proptest::option::of(1..6u32);
        (
            (count(), count(), count(), count(), count(), count()),
            proptest::option::of(1..400u32),
            proptest::option::of(0..4u8),
        )
            .prop_map(
                |((last, hourly, daily, weekly, monthly, yearly), within, tag)| KeepPolicy {
                    last,
                    hourly,
                    daily,
                    weekly,
                    monthly,
                    yearly,
                    within: within.map(KeepWithin::days),
                    tags: tag.map(|t| vec![format!("t{t}")]).into_iter().collect(),
                    group_by: GroupBy::default(),
                },
            )
            .prop_filter("a rule", |p| !p.is_empty())
    }

    proptest! {
        /// Every snapshot is decided exactly once; a snapshot a rule selects
        /// (computed here independently of `apply`'s walk) is never
        /// removed; a kept snapshot says why, a removed one does not.
        #[test]
        fn forget_never_removes_what_a_rule_keeps(
            raw in proptest::collection::vec(arb_snapshot(), 0..40),
            policy in arb_policy(),
        ) {
            let base = at(2022, 1, 1, 0);
            let snaps: Vec<SnapshotSummary> = raw.iter().enumerate().map(|(i, (h, p, t, secs, nanos))| {
                let mut s = snap(&format!("{i:03}"), base + secs);
                s.time_nanos = *nanos;
                s.hostname = Some(format!("host{h}"));
                s.paths = vec![RawPath::from(format!("/p{p}"))];
                s.tags = vec![format!("t{t}")];
                s
            }).collect();
            let decisions = policy.apply(&snaps, i64::MAX).unwrap();
            let ids: Vec<&str> = decisions.iter().map(|d| d.id.as_str()).collect();
            let unique: BTreeSet<&str> = ids.iter().copied().collect();
            prop_assert_eq!(ids.len(), snaps.len());
            prop_assert_eq!(unique.len(), snaps.len());
            for d in &decisions {
                prop_assert_eq!(d.keep, !d.reasons.is_empty());
            }
            let keep: BTreeSet<&str> = decisions.iter().filter(|d| d.keep).map(|d| d.id.as_str()).collect();
            // The oracle, per group: newest first by (time, nanos, id).
            let mut groups: BTreeMap<(Option<String>, Vec<RawPath>), Vec<&SnapshotSummary>> = BTreeMap::new();
            for s in &snaps {
                groups.entry((s.hostname.clone(), s.paths.clone())).or_default().push(s);
            }
            for list in groups.values_mut() {
                list.sort_by_key(|s| std::cmp::Reverse((s.time, s.time_nanos, s.id.clone())));
                let mut must: Vec<&str> = Vec::new();
                for (i, count) in policy.counts().iter().enumerate() {
                    let Some(n) = count else { continue };
                    let mut seen = Vec::new();
                    for (nr, s) in list.iter().enumerate() {
                        let b = buckets(s.time, nr)[i];
                        if !seen.contains(&b) && seen.len() < *n as usize {
                            seen.push(b);
                            must.push(&s.id);
                        }
                    }
                }
                for tags in &policy.tags {
                    must.extend(list.iter().filter(|s| tags.iter().all(|t| s.tags.contains(t))).map(|s| s.id.as_str()));
                }
                if let (Some(w), Some(newest)) = (policy.within, list.first()) {
                    let cutoff = (w.before(newest.time), newest.time_nanos);
                    must.extend(list.iter().filter(|s| (s.time, s.time_nanos) > cutoff).map(|s| s.id.as_str()));
                }
                for id in must {
                    prop_assert!(keep.contains(id), "{} removed though a rule selects it ({:?})", id, policy);
                }
            }
        }
    }

    #[test]
    fn group_by_parses_and_groups_as_asked() {
        assert_eq!(GroupBy::parse("host,paths").unwrap(), GroupBy::default());
        assert_eq!(GroupBy::parse("").unwrap().to_string(), "");
        assert_eq!(
            GroupBy::parse(" tags , host ").unwrap().to_string(),
            "host,tags"
        );
        let e = GroupBy::parse("host,user").unwrap_err();
        assert_eq!(e.code(), crate::ErrorCode::InvalidArgument);
        assert!(e.to_string().contains("\"user\""), "{e}");
        let p = KeepPolicy::from_json(r#"{"last": 1, "group_by": "tags"}"#).unwrap();
        assert_eq!(p.group_by.to_string(), "tags");
        assert!(KeepPolicy::from_json(r#"{"last": 1, "group_by": "hosts"}"#).is_err());
        // Default omitted when written back.
        let json =
            serde_json::to_string(&KeepPolicy::from_json(r#"{"last": 1}"#).unwrap()).unwrap();
        assert_eq!(json, r#"{"last":1}"#);

        let snap = |id: &str, host: &str, t: i64, tags: &[&str]| SnapshotSummary {
            id: id.into(),
            time: t,
            time_nanos: 0,
            hostname: Some(host.into()),
            backup_configuration_id: None,
            paths: vec![RawPath::from_bytes(b"/data".to_vec())],
            tags: tags.iter().map(|t| t.to_string()).collect(),
            entries: 0,
            counters: Default::default(),
        };
        let snaps = vec![
            snap("a1", "a", 10, &["x"]),
            snap("b1", "b", 20, &["x"]),
            snap("a2", "a", 30, &["y"]),
        ];
        let keep = |group_by: &str| -> Vec<(String, String)> {
            let mut p = KeepPolicy::from_json(r#"{"last": 1}"#).unwrap();
            p.group_by = GroupBy::parse(group_by).unwrap();
            p.apply(&snaps, 100)
                .unwrap()
                .into_iter()
                .filter(|d| d.keep)
                .map(|d| (d.id, d.group))
                .collect()
        };
        assert_eq!(
            keep("host,paths"),
            vec![
                ("a2".into(), "host a, paths /data".into()),
                ("b1".into(), "host b, paths /data".into())
            ]
        );
        assert_eq!(keep(""), vec![("a2".into(), "all snapshots".into())]);
        assert_eq!(
            keep("tags"),
            vec![
                ("b1".into(), "tags x".into()),
                ("a2".into(), "tags y".into())
            ]
        );
    }
}
