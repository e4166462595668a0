//! v1 `/Date(ms)/` dates ([`MsDate`]) and v2 RFC 3339 instants
//! ([`Timestamp`]), each written back in the form it arrived in.
//!
//! Why not `time` or `jiff`: both parse RFC 3339 into an instant and forget
//! how it was written (fraction digits, `Z` or `+00:00`, a `t` or space
//! separator), which the round trip must keep, so the lexical part stays
//! here either way; and both stop at year 9999 while a [`Timestamp`] made
//! from any `i64` of microseconds (and retention's saturating calendar
//! arithmetic) must not fail. What is left by hand is Howard Hinnant's
//! two public-domain day-count formulas, pinned by a test that walks every
//! day from 1600 to 2400.

use std::fmt;

use serde::de::{self, Deserializer};
use serde::{Deserialize, Serialize, Serializer};

/// A v1 date, `"\/Date(1357151359000)\/"` (milliseconds since the Unix
/// epoch, optionally followed by a `+hhmm`/`-hhmm` offset as .NET writes it).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct MsDate {
    /// Milliseconds since 1970-01-01T00:00:00Z.
    pub millis: i64,
    /// The offset suffix in minutes, if one was written.
    pub offset_minutes: Option<i16>,
}

impl MsDate {
    /// A date with no offset suffix.
    pub fn from_millis(millis: i64) -> Self {
        MsDate {
            millis,
            offset_minutes: None,
        }
    }

    /// Parses `/Date(ms)/` or `/Date(ms+hhmm)/` (the JSON `\/` escape is
    /// already gone by the time serde hands us the string).
    pub fn parse(text: &str) -> crate::Result<Self> {
        let bad = || crate::Error::InvalidValue {
            field: "date".into(),
            reason: format!("{text:?} is not of the form \"/Date(<milliseconds>)/\""),
        };
        let inner = text
            .strip_prefix("/Date(")
            .and_then(|t| t.strip_suffix(")/"))
            .ok_or_else(bad)?;
        // An offset sign after the first character (the first may be a minus).
        let split = inner
            .char_indices()
            .skip(1)
            .find(|&(_, c)| c == '+' || c == '-')
            .map(|(i, _)| i);
        let (ms, offset) = match split {
            Some(i) => (&inner[..i], Some(&inner[i..])),
            None => (inner, None),
        };
        let millis = ms.parse::<i64>().map_err(|_| bad())?;
        let offset_minutes = match offset {
            None => None,
            Some(o) => {
                let sign: i16 = if o.starts_with('-') { -1 } else { 1 };
                let digits = &o[1..];
                if digits.len() != 4 || !digits.bytes().all(|b| b.is_ascii_digit()) {
                    return Err(bad());
                }
                let h: i16 = digits[..2].parse().map_err(|_| bad())?;
                let m: i16 = digits[2..].parse().map_err(|_| bad())?;
                Some(sign * (h * 60 + m))
            }
        };
        Ok(MsDate {
            millis,
            offset_minutes,
        })
    }
}

impl fmt::Display for MsDate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "/Date({}", self.millis)?;
        if let Some(off) = self.offset_minutes {
            let sign = if off < 0 { '-' } else { '+' };
            let off = off.unsigned_abs();
            write!(f, "{sign}{:02}{:02}", off / 60, off % 60)?;
        }
        f.write_str(")/")
    }
}

impl Serialize for MsDate {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for MsDate {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        MsDate::parse(&s).map_err(de::Error::custom)
    }
}

/// An ISO-8601 / RFC 3339 instant as v2 writes it
/// (`2014-10-20T13:11:58.985151Z`, `...+00:00`, with 0-9 fraction digits).
/// The instant is held in UTC; the precision and offset it was written with
/// are kept so it serialises back unchanged.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Timestamp {
    unix_seconds: i64,
    nanos: u32,
    frac_digits: u8,
    /// `None` means written with `Z`.
    offset_minutes: Option<i16>,
}

impl Timestamp {
    /// The instant `micros` microseconds after the epoch, written with six
    /// fraction digits and `Z`, as the service writes its own times.
    pub fn from_unix_micros(micros: i64) -> Self {
        Timestamp {
            unix_seconds: micros.div_euclid(1_000_000),
            nanos: (micros.rem_euclid(1_000_000) * 1000) as u32,
            frac_digits: 6,
            offset_minutes: None,
        }
    }

    /// Microseconds since the epoch (sub-microsecond digits truncated).
    pub fn unix_micros(&self) -> i64 {
        self.unix_seconds * 1_000_000 + i64::from(self.nanos / 1000)
    }

    /// Parses `YYYY-MM-DDTHH:MM:SS[.fraction](Z|±HH:MM)`.
    pub fn parse(text: &str) -> crate::Result<Self> {
        parse_rfc3339(text).ok_or_else(|| crate::Error::InvalidValue {
            field: "timestamp".into(),
            reason: format!(
                "{text:?} is not an ISO-8601 time like \"2014-10-20T13:11:58.985151Z\""
            ),
        })
    }
}

impl PartialOrd for Timestamp {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Timestamp {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        (self.unix_seconds, self.nanos).cmp(&(other.unix_seconds, other.nanos))
    }
}

fn parse_rfc3339(text: &str) -> Option<Timestamp> {
    let b = text.as_bytes();
    // The ASCII digits in `r` (never empty here) as a number; `None` when
    // any is not a digit.
    let num = |r: std::ops::Range<usize>| -> Option<i64> {
        b.get(r)?.iter().try_fold(0i64, |n, &c| {
            c.is_ascii_digit().then(|| n * 10 + i64::from(c - b'0'))
        })
    };
    if b.len() < 20 || b[4] != b'-' || b[7] != b'-' || !matches!(b[10], b'T' | b't' | b' ') {
        return None;
    }
    if b[13] != b':' || b[16] != b':' {
        return None;
    }
    let (year, month, day) = (num(0..4)?, num(5..7)?, num(8..10)?);
    let (hour, minute, second) = (num(11..13)?, num(14..16)?, num(17..19)?);
    if !(1..=12).contains(&month)
        || day < 1
        || day > days_in_month(year, month)
        || hour > 23
        || minute > 59
        || second > 60
    {
        return None;
    }
    let mut i = 19;
    let mut nanos: u32 = 0;
    let mut frac_digits: u8 = 0;
    if b.get(i) == Some(&b'.') {
        i += 1;
        let start = i;
        while i < b.len() && b[i].is_ascii_digit() {
            i += 1;
        }
        let digits = &b[start..i];
        if digits.is_empty() || digits.len() > 9 {
            return None;
        }
        frac_digits = digits.len() as u8;
        // The digits padded with zeros to nine: nanoseconds.
        nanos = digits.iter().fold(0, |n, &d| n * 10 + u32::from(d - b'0'))
            * 10u32.pow(9 - u32::from(frac_digits));
    }
    let offset_minutes = match b.get(i) {
        Some(b'Z') | Some(b'z') if i + 1 == b.len() => None,
        Some(&sign @ (b'+' | b'-')) if i + 6 == b.len() && b[i + 3] == b':' => {
            let h = num(i + 1..i + 3)?;
            let m = num(i + 4..i + 6)?;
            if h > 23 || m > 59 {
                return None;
            }
            let off = (h * 60 + m) as i16;
            Some(if sign == b'-' { -off } else { off })
        }
        _ => return None,
    };
    let local = days_from_civil(year, month, day) * 86_400 + hour * 3600 + minute * 60 + second;
    let unix_seconds = local - i64::from(offset_minutes.unwrap_or(0)) * 60;
    Some(Timestamp {
        unix_seconds,
        nanos,
        frac_digits,
        offset_minutes,
    })
}

fn is_leap(y: i64) -> bool {
    (y % 4 == 0 && y % 100 != 0) || y % 400 == 0
}

fn days_in_month(y: i64, m: i64) -> i64 {
    match m {
        2 if is_leap(y) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's
/// algorithm). A day outside its month counts on linearly (day 0 is the
/// month's previous day), as retention's calendar arithmetic relies on.
pub(crate) fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The proleptic Gregorian `(year, month, day)` of a day counted from
/// 1970-01-01 (the inverse of [`days_from_civil`]).
pub(crate) fn civil_from_days(z: i64) -> (i64, i64, i64) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    (if m <= 2 { y + 1 } else { y }, m, d)
}

impl fmt::Display for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let local = self.unix_seconds + i64::from(self.offset_minutes.unwrap_or(0)) * 60;
        let (y, mo, d) = civil_from_days(local.div_euclid(86_400));
        let secs = local.rem_euclid(86_400);
        write!(
            f,
            "{y:04}-{mo:02}-{d:02}T{:02}:{:02}:{:02}",
            secs / 3600,
            secs / 60 % 60,
            secs % 60
        )?;
        if self.frac_digits > 0 {
            let frac = format!("{:09}", self.nanos);
            write!(f, ".{}", &frac[..usize::from(self.frac_digits)])?;
        }
        match self.offset_minutes {
            None => f.write_str("Z"),
            Some(off) => {
                let sign = if off < 0 { '-' } else { '+' };
                let off = off.unsigned_abs();
                write!(f, "{sign}{:02}:{:02}", off / 60, off % 60)
            }
        }
    }
}

impl Serialize for Timestamp {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Timestamp {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        Timestamp::parse(&s).map_err(de::Error::custom)
    }
}
