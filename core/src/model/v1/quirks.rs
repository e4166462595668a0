//! A v1 wire form that [`crate::wire`] does not cover, kept local to
//! v1 because only v1 bodies show it: [`OrBlank`], a value where the service
//! or a client writes `""`, or a word such as `"None"`, for "none"
//! (`"StartTimeAmPm": ""`, `"DestinationDatacenter": ""`,
//! `"BackupDatacenter": "None"`, `"HourInterval": ""`).
//!
//! (Enums carried by their v1 id, as a number or a numeric string, are
//! [`ById`](crate::wire::ById).)

use std::fmt;

use serde::de::value::{MapAccessDeserializer, SeqAccessDeserializer};
use serde::de::{self, Deserializer, IntoDeserializer, MapAccess, SeqAccess, Visitor};
use serde::{Deserialize, Serialize, Serializer};

/// The words that mean "none" when sent in place of a value, compared
/// ignoring ASCII case: what `str(None)` in Python and `String(null)` in
/// JavaScript write.
pub const NONE_WORDS: [&str; 2] = ["None", "null"];

/// A value, or a string that stands for "no value": the empty string, or
/// one of the [`NONE_WORDS`] (kept as written, so it is sent back the same).
/// JSON `null` is handled by wrapping this in `Option`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum OrBlank<T> {
    /// `""`.
    Blank,
    /// `"None"` or `"null"` (any case): no value, and which word was written.
    NoneWord(NoneWord),
    /// A value.
    Value(T),
}

/// Which of the [`NONE_WORDS`] was written, with its case.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct NoneWord {
    /// Index into [`NONE_WORDS`].
    word: usize,
    /// Bit `i` set: character `i` was upper case (the words are short).
    upper: u8,
}

impl NoneWord {
    /// Recognises one of the [`NONE_WORDS`], ignoring ASCII case.
    pub fn parse(text: &str) -> Option<Self> {
        let word = NONE_WORDS
            .iter()
            .position(|w| w.eq_ignore_ascii_case(text))?;
        let upper = text
            .bytes()
            .enumerate()
            .filter(|(_, b)| b.is_ascii_uppercase())
            .fold(0u8, |acc, (i, _)| acc | (1 << i));
        Some(NoneWord { word, upper })
    }

    /// The word as it was written.
    pub fn text(self) -> String {
        NONE_WORDS[self.word]
            .bytes()
            .enumerate()
            .map(|(i, b)| {
                let c = b.to_ascii_lowercase() as char;
                if self.upper & (1 << i) != 0 {
                    c.to_ascii_uppercase()
                } else {
                    c
                }
            })
            .collect()
    }
}

impl<T> OrBlank<T> {
    /// The value, if there is one (not blank, not a none-word).
    pub fn value(&self) -> Option<&T> {
        match self {
            OrBlank::Value(v) => Some(v),
            OrBlank::Blank | OrBlank::NoneWord(_) => None,
        }
    }

    /// The value, if there is one.
    pub fn into_value(self) -> Option<T> {
        match self {
            OrBlank::Value(v) => Some(v),
            OrBlank::Blank | OrBlank::NoneWord(_) => None,
        }
    }
}

impl<T> From<T> for OrBlank<T> {
    fn from(value: T) -> Self {
        OrBlank::Value(value)
    }
}

impl<T: fmt::Display> fmt::Display for OrBlank<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            OrBlank::Blank => Ok(()),
            OrBlank::NoneWord(w) => f.write_str(&w.text()),
            OrBlank::Value(v) => v.fmt(f),
        }
    }
}

impl<T: Serialize> Serialize for OrBlank<T> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            OrBlank::Blank => s.serialize_str(""),
            OrBlank::NoneWord(w) => s.serialize_str(&w.text()),
            OrBlank::Value(v) => v.serialize(s),
        }
    }
}

impl<'de, T: Deserialize<'de>> Deserialize<'de> for OrBlank<T> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V<T>(std::marker::PhantomData<T>);
        impl<'de, T: Deserialize<'de>> Visitor<'de> for V<T> {
            type Value = OrBlank<T>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a value, \"\", or \"None\"")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
                if v.is_empty() {
                    return Ok(OrBlank::Blank);
                }
                if let Some(w) = NoneWord::parse(v) {
                    return Ok(OrBlank::NoneWord(w));
                }
                T::deserialize(v.into_deserializer()).map(OrBlank::Value)
            }
            fn visit_bool<E: de::Error>(self, v: bool) -> Result<Self::Value, E> {
                T::deserialize(v.into_deserializer()).map(OrBlank::Value)
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Self::Value, E> {
                T::deserialize(v.into_deserializer()).map(OrBlank::Value)
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Self::Value, E> {
                T::deserialize(v.into_deserializer()).map(OrBlank::Value)
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<Self::Value, E> {
                T::deserialize(v.into_deserializer()).map(OrBlank::Value)
            }
            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Self::Value, A::Error> {
                T::deserialize(MapAccessDeserializer::new(map)).map(OrBlank::Value)
            }
            fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<Self::Value, A::Error> {
                T::deserialize(SeqAccessDeserializer::new(seq)).map(OrBlank::Value)
            }
        }
        d.deserialize_any(V(std::marker::PhantomData))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::v1::enums::Datacenter;
    use crate::wire::{LooseInt, Open};
    use serde_json::json;

    #[test]
    fn blank_and_none_words_are_distinct_from_a_value() {
        let b: OrBlank<Datacenter> = serde_json::from_value(json!("")).unwrap();
        assert_eq!(b.value(), None);
        assert_eq!(serde_json::to_value(b).unwrap(), json!(""));
        let v: OrBlank<Datacenter> = serde_json::from_value(json!("LON")).unwrap();
        assert_eq!(v.value(), Some(&Datacenter::Lon));
        assert!(serde_json::from_value::<OrBlank<Datacenter>>(json!("XYZ")).is_err());
        for word in ["None", "none", "NULL", "null"] {
            let n: OrBlank<Datacenter> = serde_json::from_value(json!(word)).unwrap();
            assert_eq!(n.value(), None, "{word}");
            assert_eq!(serde_json::to_value(n).unwrap(), json!(word));
        }
    }

    #[test]
    fn numbers_and_open_names_pass_through() {
        let n: OrBlank<LooseInt> = serde_json::from_value(json!("11")).unwrap();
        assert_eq!(n.value().map(|n| n.value), Some(11));
        assert_eq!(serde_json::to_value(n).unwrap(), json!("11"));
        let n: OrBlank<LooseInt> = serde_json::from_value(json!(7)).unwrap();
        assert_eq!(serde_json::to_value(n).unwrap(), json!(7));
        assert!(serde_json::from_value::<OrBlank<LooseInt>>(json!("x1")).is_err());
        let d: OrBlank<Open<Datacenter>> = serde_json::from_value(json!("AMS")).unwrap();
        assert_eq!(d, OrBlank::Value(Open::Unknown("AMS".into())));
    }
}
