//! A v1 wire form that [`crate::model::wire`] does not cover, kept local to
//! v1 because only v1 bodies show it: [`OrBlank`], an enum where the service
//! writes `""` for "none" (e.g. `"StartTimeAmPm": ""`,
//! `"DestinationDatacenter": ""`).
//!
//! (Enums carried by their v1 id, as a number or a numeric string, are
//! [`ById`](crate::model::wire::ById).)

use std::fmt;

use serde::de::{self, Deserializer};
use serde::{Deserialize, Serialize, Serializer};

use crate::model::wire::WireName;

/// A named enum value, or the empty string the service writes when there is
/// none. (JSON `null` is handled by wrapping this in `Option`.)
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum OrBlank<T> {
    /// `""`.
    Blank,
    /// A value.
    Value(T),
}

impl<T: Copy> OrBlank<T> {
    /// The value, if not blank.
    pub fn value(self) -> Option<T> {
        match self {
            OrBlank::Blank => None,
            OrBlank::Value(v) => Some(v),
        }
    }
}

impl<T> From<T> for OrBlank<T> {
    fn from(value: T) -> Self {
        OrBlank::Value(value)
    }
}

impl<T: WireName> fmt::Display for OrBlank<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            OrBlank::Blank => Ok(()),
            OrBlank::Value(v) => f.write_str(v.wire_name()),
        }
    }
}

impl<T: WireName> Serialize for OrBlank<T> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de, T: WireName> Deserialize<'de> for OrBlank<T> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        if s.is_empty() {
            return Ok(OrBlank::Blank);
        }
        T::from_wire_name(&s).map(OrBlank::Value).ok_or_else(|| {
            de::Error::custom(format!(
                "unknown {} {:?}; expected \"\" or one of: {}",
                T::TYPE_NAME,
                s,
                T::expected_names()
            ))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::v1::enums::Datacenter;
    use serde_json::json;

    #[test]
    fn blank_is_distinct_from_a_value() {
        let b: OrBlank<Datacenter> = serde_json::from_value(json!("")).unwrap();
        assert_eq!(b.value(), None);
        assert_eq!(serde_json::to_value(b).unwrap(), json!(""));
        let v: OrBlank<Datacenter> = serde_json::from_value(json!("LON")).unwrap();
        assert_eq!(v.value(), Some(Datacenter::Lon));
        assert!(serde_json::from_value::<OrBlank<Datacenter>>(json!("XYZ")).is_err());
    }
}
