//! Value sets with fixed wire names: closed enumerations ([`WireName`],
//! [`WireId`], [`ById`]) and open ones ([`Open`]).

use std::fmt;

use serde::de::{self, Deserializer, Visitor};
use serde::{Deserialize, Serialize, Serializer};

use super::loose::LooseInt;

// ---------------------------------------------------------------------------

/// A closed set of values with fixed wire names.
pub trait WireName: Sized + Copy + 'static {
    /// The Rust type's name, used in error messages.
    const TYPE_NAME: &'static str;
    /// Every value, in declaration order.
    const ALL: &'static [Self];
    /// The exact name this value has on the wire.
    fn wire_name(self) -> &'static str;
    /// Looks a value up by wire name: exact match first, then ASCII
    /// case-insensitive (the service is not consistent about case).
    fn from_wire_name(name: &str) -> Option<Self> {
        Self::ALL
            .iter()
            .copied()
            .find(|v| v.wire_name() == name)
            .or_else(|| {
                Self::ALL
                    .iter()
                    .copied()
                    .find(|v| v.wire_name().eq_ignore_ascii_case(name))
            })
    }
    /// The list of accepted names, for error messages.
    fn expected_names() -> String {
        Self::ALL
            .iter()
            .map(|v| v.wire_name())
            .collect::<Vec<_>>()
            .join(", ")
    }
}

/// A closed set of values that v1 also identifies by number.
pub trait WireId: WireName {
    /// The numeric id v1 uses for this value.
    fn wire_id(self) -> i64;
    /// Looks a value up by its numeric id.
    fn from_wire_id(id: i64) -> Option<Self> {
        Self::ALL.iter().copied().find(|v| v.wire_id() == id)
    }
}

/// Declares an enum whose values travel as fixed strings, with `Serialize`,
/// `Deserialize` (unknown names are an error listing the accepted ones),
/// `Display`, `FromStr` and [`WireName`].
#[macro_export]
macro_rules! wire_enum {
    (
        $(#[$meta:meta])*
        $vis:vis enum $name:ident {
            $( $(#[$vmeta:meta])* $variant:ident = $wire:literal ),+ $(,)?
        }
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        $vis enum $name { $( $(#[$vmeta])* $variant ),+ }

        impl $crate::wire::WireName for $name {
            const TYPE_NAME: &'static str = stringify!($name);
            const ALL: &'static [Self] = &[ $( Self::$variant ),+ ];
            fn wire_name(self) -> &'static str {
                match self { $( Self::$variant => $wire ),+ }
            }
        }

        impl $name {
            /// The exact name this value has on the wire.
            pub fn as_str(self) -> &'static str {
                $crate::wire::WireName::wire_name(self)
            }
        }

        impl ::std::fmt::Display for $name {
            fn fmt(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl ::std::str::FromStr for $name {
            type Err = $crate::Error;
            fn from_str(s: &str) -> ::std::result::Result<Self, Self::Err> {
                $crate::wire::parse_wire_name(s)
            }
        }

        impl ::serde::Serialize for $name {
            fn serialize<S: ::serde::Serializer>(&self, s: S) -> ::std::result::Result<S::Ok, S::Error> {
                s.serialize_str(self.as_str())
            }
        }

        impl<'de> ::serde::Deserialize<'de> for $name {
            fn deserialize<D: ::serde::Deserializer<'de>>(d: D) -> ::std::result::Result<Self, D::Error> {
                $crate::wire::deserialize_wire_name(d)
            }
        }
    };
}

/// Like [`wire_enum!`](crate::wire_enum), but each value also has the numeric
/// id v1 uses (`Variant = "Name" => 3`), exposed through [`WireId`]. The
/// enum serialises by name; wrap it in [`ById`] where the wire carries the id.
#[macro_export]
macro_rules! wire_enum_with_ids {
    (
        $(#[$meta:meta])*
        $vis:vis enum $name:ident {
            $( $(#[$vmeta:meta])* $variant:ident = $wire:literal => $id:literal ),+ $(,)?
        }
    ) => {
        $crate::wire_enum! {
            $(#[$meta])*
            $vis enum $name { $( $(#[$vmeta])* $variant = $wire ),+ }
        }

        impl $crate::wire::WireId for $name {
            fn wire_id(self) -> i64 {
                match self { $( Self::$variant => $id ),+ }
            }
        }

        impl $name {
            /// The numeric id v1 uses for this value.
            pub fn id(self) -> i64 {
                $crate::wire::WireId::wire_id(self)
            }
        }
    };
}

/// Parses a wire name into `T`, or an error naming the type and the accepted names.
pub fn parse_wire_name<T: WireName>(s: &str) -> crate::Result<T> {
    T::from_wire_name(s).ok_or_else(|| crate::Error::InvalidValue {
        field: T::TYPE_NAME.to_string(),
        reason: format!(
            "unknown value {s:?}; expected one of: {}",
            T::expected_names()
        ),
    })
}

/// Serde helper behind [`wire_enum!`](crate::wire_enum)'s `Deserialize`.
pub fn deserialize_wire_name<'de, D: Deserializer<'de>, T: WireName>(d: D) -> Result<T, D::Error> {
    let s = <std::borrow::Cow<'de, str>>::deserialize(d)?;
    T::from_wire_name(&s).ok_or_else(|| {
        de::Error::custom(format!(
            "unknown {} {:?}; expected one of: {}",
            T::TYPE_NAME,
            s,
            T::expected_names()
        ))
    })
}

/// An enum carried on the wire by its v1 numeric id (e.g. `"RestoreStateId": 3`).
/// Accepts the id as a number or a numeric string (`"Filter": "1"`), and the
/// value's name as clients also send it (`"FileItemType": "Folder"` in a
/// restore's inclusions), and remembers which, so a parsed body is written
/// back in the form it came in; [`ById::new`] (and `From`) write a number.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ById<T> {
    /// The value.
    pub value: T,
    /// Whether the id travelled as a string.
    pub quoted: bool,
    /// Whether the value travelled by its name instead of its id.
    pub named: bool,
}

impl<T> ById<T> {
    /// A value written as a plain JSON number, as the reference's tables
    /// describe the ids.
    pub fn new(value: T) -> Self {
        ById {
            value,
            quoted: false,
            named: false,
        }
    }
}

impl<T> From<T> for ById<T> {
    fn from(value: T) -> Self {
        ById::new(value)
    }
}

impl<T: WireId> Serialize for ById<T> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        if self.named {
            return s.serialize_str(self.value.wire_name());
        }
        LooseInt {
            value: self.value.wire_id(),
            quoted: self.quoted,
        }
        .serialize(s)
    }
}

impl<'de, T: WireId> Deserialize<'de> for ById<T> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V<T>(std::marker::PhantomData<T>);
        impl<T: WireId> V<T> {
            fn by_id<E: de::Error>(n: i64, quoted: bool) -> Result<ById<T>, E> {
                T::from_wire_id(n)
                    .map(|value| ById {
                        value,
                        quoted,
                        named: false,
                    })
                    .ok_or_else(|| {
                        let ids: Vec<String> =
                            T::ALL.iter().map(|v| v.wire_id().to_string()).collect();
                        E::custom(format!(
                            "unknown {} id {n}; expected one of: {}",
                            T::TYPE_NAME,
                            ids.join(", ")
                        ))
                    })
            }
        }
        impl<T: WireId> Visitor<'_> for V<T> {
            type Value = ById<T>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(
                    f,
                    "a {} id (a number or a numeric string) or name",
                    T::TYPE_NAME
                )
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<ById<T>, E> {
                Self::by_id(v, false)
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<ById<T>, E> {
                let n = i64::try_from(v)
                    .map_err(|_| E::custom(format!("integer {v} is out of range")))?;
                Self::by_id(n, false)
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<ById<T>, E> {
                if let Ok(n) = v.trim().parse::<i64>() {
                    return Self::by_id(n, true);
                }
                T::from_wire_name(v)
                    .map(|value| ById {
                        value,
                        quoted: false,
                        named: true,
                    })
                    .ok_or_else(|| {
                        E::custom(format!(
                            "unknown {} {v:?}; expected an id or one of: {}",
                            T::TYPE_NAME,
                            T::expected_names()
                        ))
                    })
            }
        }
        d.deserialize_any(V(std::marker::PhantomData))
    }
}

/// A value of an open set: one of the names this build knows, or a name it
/// does not know yet (the service added an event name, a data center, a host
/// flavor...), kept exactly as sent and written back unchanged, so one new
/// value never fails a whole page.
///
/// Known names are matched as [`WireName::from_wire_name`] does (exact, then
/// ignoring ASCII case) and written back in their canonical spelling.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Open<T> {
    /// A name this build knows.
    Known(T),
    /// Any other name, as it was sent.
    Unknown(String),
}

impl<T: WireName> Open<T> {
    /// Reads `name`: known when [`WireName::from_wire_name`] finds it.
    pub fn from_name(name: &str) -> Self {
        T::from_wire_name(name)
            .map(Open::Known)
            .unwrap_or_else(|| Open::Unknown(name.to_string()))
    }

    /// The known value, if it is one.
    pub fn known(&self) -> Option<T> {
        match self {
            Open::Known(v) => Some(*v),
            Open::Unknown(_) => None,
        }
    }

    /// The name as it travels.
    pub fn as_str(&self) -> &str {
        match self {
            Open::Known(v) => v.wire_name(),
            Open::Unknown(s) => s,
        }
    }
}

impl<T> From<T> for Open<T> {
    fn from(value: T) -> Self {
        Open::Known(value)
    }
}

impl<T: WireName + PartialEq> PartialEq<T> for Open<T> {
    fn eq(&self, other: &T) -> bool {
        matches!(self, Open::Known(v) if v == other)
    }
}

impl<T: WireName> fmt::Display for Open<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl<T: WireName> Serialize for Open<T> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl<'de, T: WireName> Deserialize<'de> for Open<T> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        Ok(Open::from_name(&s))
    }
}
