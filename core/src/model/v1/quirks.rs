//! Two v1 wire forms that [`crate::model::wire`] does not cover, kept local
//! to v1 because only v1 bodies show them:
//!
//! * [`LooseId`]: an enum carried by its id, sometimes as a number (`2`) and
//!   sometimes as a numeric string (`"1"`), written back in the form it came
//!   in (`ById` always writes a number);
//! * [`OrBlank`]: an enum where the service writes `""` for "none" (e.g.
//!   `"StartTimeAmPm": ""`, `"DestinationDatacenter": ""`).

use std::fmt;

use serde::de::{self, Deserializer};
use serde::{Deserialize, Serialize, Serializer};

use crate::model::wire::{LooseInt, WireId, WireName};

/// An enum carried by its v1 id, as a JSON number or a numeric string; the
/// form is remembered so a parsed body serialises back unchanged.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct LooseId<E> {
    /// The value.
    pub value: E,
    /// Whether the id travelled as a string.
    pub quoted: bool,
}

impl<E> LooseId<E> {
    /// A value written as a plain JSON number, as the reference's tables
    /// describe the ids.
    pub fn new(value: E) -> Self {
        LooseId {
            value,
            quoted: false,
        }
    }
}

impl<E> From<E> for LooseId<E> {
    fn from(value: E) -> Self {
        LooseId::new(value)
    }
}

impl<E: WireId> Serialize for LooseId<E> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        LooseInt {
            value: self.value.wire_id(),
            quoted: self.quoted,
        }
        .serialize(s)
    }
}

impl<'de, E: WireId> Deserialize<'de> for LooseId<E> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let n = LooseInt::deserialize(d)?;
        E::from_wire_id(n.value)
            .map(|value| LooseId {
                value,
                quoted: n.quoted,
            })
            .ok_or_else(|| {
                let ids: Vec<String> = E::ALL.iter().map(|v| v.wire_id().to_string()).collect();
                de::Error::custom(format!(
                    "unknown {} id {}; expected one of: {}",
                    E::TYPE_NAME,
                    n.value,
                    ids.join(", ")
                ))
            })
    }
}

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
    use crate::model::v1::enums::{Datacenter, FileFilter};
    use serde_json::json;

    #[test]
    fn loose_ids_keep_their_form() {
        for v in [json!("1"), json!(2)] {
            let id: LooseId<FileFilter> = serde_json::from_value(v.clone()).unwrap();
            assert_eq!(serde_json::to_value(id).unwrap(), v);
        }
        let id: LooseId<FileFilter> = serde_json::from_value(json!("2")).unwrap();
        assert_eq!(id.value, FileFilter::Exclude);
        let e = serde_json::from_value::<LooseId<FileFilter>>(json!(3)).unwrap_err();
        assert!(e.to_string().contains("FileFilter id 3"), "{e}");
    }

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
