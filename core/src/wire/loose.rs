//! Numbers and booleans that may arrive as strings ([`LooseInt`],
//! [`LooseBool`]).

use std::fmt;

use serde::de::{self, Deserializer, Visitor};
use serde::{Deserialize, Serialize, Serializer};

/// An integer the service sometimes sends as a JSON string (`"5152883998"`).
/// Remembers which form it came in so it is written back the same way.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct LooseInt {
    /// The number.
    pub value: i64,
    /// Whether it travelled as a string.
    pub quoted: bool,
}

impl LooseInt {
    /// A number that will be written as a plain JSON number.
    pub fn new(value: i64) -> Self {
        LooseInt {
            value,
            quoted: false,
        }
    }
}

impl From<i64> for LooseInt {
    fn from(value: i64) -> Self {
        LooseInt::new(value)
    }
}

impl PartialEq<i64> for LooseInt {
    /// Compares the number, whichever form it travelled in.
    fn eq(&self, other: &i64) -> bool {
        self.value == *other
    }
}

impl fmt::Display for LooseInt {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.value)
    }
}

impl Serialize for LooseInt {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        if self.quoted {
            s.collect_str(&self.value)
        } else {
            s.serialize_i64(self.value)
        }
    }
}

impl<'de> Deserialize<'de> for LooseInt {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = LooseInt;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("an integer or a string holding an integer")
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<LooseInt, E> {
                Ok(LooseInt::new(v))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<LooseInt, E> {
                i64::try_from(v)
                    .map(LooseInt::new)
                    .map_err(|_| E::custom(format!("integer {v} is out of range")))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<LooseInt, E> {
                v.trim()
                    .parse::<i64>()
                    .map(|value| LooseInt {
                        value,
                        quoted: true,
                    })
                    .map_err(|_| E::custom(format!("{v:?} is not an integer")))
            }
        }
        d.deserialize_any(V)
    }
}

/// A boolean the service sometimes sends as a string (`"true"`, `"False"`).
/// Remembers the form (and spelling) it came in.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
pub struct LooseBool {
    /// The boolean.
    pub value: bool,
    /// The exact string it travelled as, if it was a string.
    pub text: Option<String>,
}

impl LooseBool {
    /// A boolean that will be written as a plain JSON boolean.
    pub fn new(value: bool) -> Self {
        LooseBool { value, text: None }
    }
}

impl PartialEq<bool> for LooseBool {
    /// Compares the boolean, whichever form it travelled in.
    fn eq(&self, other: &bool) -> bool {
        self.value == *other
    }
}

impl From<bool> for LooseBool {
    fn from(value: bool) -> Self {
        LooseBool::new(value)
    }
}

impl Serialize for LooseBool {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match &self.text {
            Some(t) => s.serialize_str(t),
            None => s.serialize_bool(self.value),
        }
    }
}

impl<'de> Deserialize<'de> for LooseBool {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = LooseBool;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a boolean or the string \"true\"/\"false\"")
            }
            fn visit_bool<E: de::Error>(self, v: bool) -> Result<LooseBool, E> {
                Ok(LooseBool::new(v))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<LooseBool, E> {
                let value = if v.eq_ignore_ascii_case("true") {
                    true
                } else if v.eq_ignore_ascii_case("false") {
                    false
                } else {
                    return Err(E::custom(format!("{v:?} is not a boolean")));
                };
                Ok(LooseBool {
                    value,
                    text: Some(v.to_string()),
                })
            }
        }
        d.deserialize_any(V)
    }
}
