//! Human-readable sizes such as `"35.3 MB"` ([`HumanSize`]).

use std::fmt;

use serde::de::{self, Deserializer};
use serde::{Deserialize, Serialize, Serializer};

use super::names::{parse_wire_name, WireName};
use crate::wire_enum;

wire_enum! {
    /// Unit of a [`HumanSize`]. Read ignoring case; `byte` and `bytes` also
    /// mean [`SizeUnit::Bytes`] (the service writes `"318 bytes"`).
    pub enum SizeUnit {
        /// Bytes.
        Bytes = "B",
        /// 1024 bytes.
        Kilobytes = "KB",
        /// 1024² bytes.
        Megabytes = "MB",
        /// 1024³ bytes.
        Gigabytes = "GB",
        /// 1024⁴ bytes.
        Terabytes = "TB",
        /// 1024⁵ bytes.
        Petabytes = "PB",
        /// 1024⁶ bytes.
        Exabytes = "EB",
    }
}

impl SizeUnit {
    /// Bytes in one of this unit (binary multiples, as the Windows agents print them).
    pub fn multiplier(self) -> u64 {
        match self {
            SizeUnit::Bytes => 1,
            SizeUnit::Kilobytes => 1 << 10,
            SizeUnit::Megabytes => 1 << 20,
            SizeUnit::Gigabytes => 1 << 30,
            SizeUnit::Terabytes => 1 << 40,
            SizeUnit::Petabytes => 1 << 50,
            SizeUnit::Exabytes => 1 << 60,
        }
    }

    /// Reads a unit as sizes spell it: a unit name in any case, or the
    /// words `byte` / `bytes`.
    pub fn parse(text: &str) -> crate::Result<Self> {
        if text.eq_ignore_ascii_case("byte") || text.eq_ignore_ascii_case("bytes") {
            return Ok(SizeUnit::Bytes);
        }
        parse_wire_name::<SizeUnit>(text).map_err(|_| crate::Error::InvalidValue {
            field: "size unit".into(),
            reason: format!(
                "unknown unit {text:?}; expected one of: {}, bytes",
                SizeUnit::expected_names()
            ),
        })
    }
}

/// A size as v1 prints it, `"35.3 MB"`, `"318 bytes"`. The decimal text and
/// the unit's spelling are kept exactly.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct HumanSize {
    amount: String,
    unit: SizeUnit,
    /// The unit as written (`"MB"`, `"bytes"`, `"Mb"`).
    unit_text: String,
}

impl HumanSize {
    /// Parses `"<decimal> <unit>"`.
    pub fn parse(text: &str) -> crate::Result<Self> {
        let bad = |reason: String| crate::Error::InvalidValue {
            field: "size".into(),
            reason: format!("{text:?}: {reason}"),
        };
        let mut parts = text.split_whitespace();
        let (Some(amount), Some(unit), None) = (parts.next(), parts.next(), parts.next()) else {
            return Err(bad("expected \"<number> <unit>\", e.g. \"18 MB\"".into()));
        };
        let valid_number = amount
            .parse::<f64>()
            .is_ok_and(|v| v.is_finite() && v >= 0.0)
            && amount.chars().all(|c| c.is_ascii_digit() || c == '.');
        if !valid_number {
            return Err(bad(format!("{amount:?} is not a non-negative decimal")));
        }
        let unit_text = unit.to_string();
        let unit = SizeUnit::parse(unit).map_err(|e| bad(e.to_string()))?;
        Ok(HumanSize {
            amount: amount.to_string(),
            unit,
            unit_text,
        })
    }

    /// A size of `amount` `unit`s, written with the unit's canonical name.
    pub fn new(amount: u64, unit: SizeUnit) -> Self {
        HumanSize {
            amount: amount.to_string(),
            unit,
            unit_text: unit.as_str().to_string(),
        }
    }

    /// The decimal amount as written.
    pub fn amount(&self) -> &str {
        &self.amount
    }

    /// The unit.
    pub fn unit(&self) -> SizeUnit {
        self.unit
    }

    /// The size in bytes, rounded to the nearest byte (saturating at `u64::MAX`).
    pub fn bytes(&self) -> u64 {
        let amount: f64 = self.amount.parse().unwrap_or(0.0);
        // `as` saturates for floats out of range.
        (amount * self.unit.multiplier() as f64).round() as u64
    }
}

impl fmt::Display for HumanSize {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.amount, self.unit_text)
    }
}

impl Serialize for HumanSize {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for HumanSize {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        HumanSize::parse(&s).map_err(de::Error::custom)
    }
}
