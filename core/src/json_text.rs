//! JSON text read into a [`Value`] that refuses an object with the same key
//! twice.
//!
//! Every model type is read from a [`Value`] (the one deserialisation path:
//! [`crate::error::from_json_slice`] parses text here first), so its
//! `Deserialize` is compiled once, not once for text and once for values,
//! which halves most of the WebAssembly modules' model code. Reading text
//! straight into a struct refused a repeated field; reading it into a
//! [`Value`] would keep the last one silently, so the check moves here, where
//! it covers every object and keeps serde_json's line and column.

use serde::de::{Deserialize, Deserializer, Error as _, MapAccess, SeqAccess, Visitor};
use serde_json::map::Entry;
use serde_json::{Map, Number, Value};

/// A [`Value`] whose objects had no repeated key.
pub(crate) struct UniqueKeys(pub(crate) Value);

impl<'de> Deserialize<'de> for UniqueKeys {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(ValueVisitor).map(UniqueKeys)
    }
}

/// Builds the [`Value`], as serde_json's own visitor does, but for objects.
struct ValueVisitor;

impl<'de> Visitor<'de> for ValueVisitor {
    type Value = Value;

    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("any valid JSON value")
    }

    fn visit_bool<E>(self, v: bool) -> Result<Value, E> {
        Ok(Value::Bool(v))
    }

    fn visit_i64<E>(self, v: i64) -> Result<Value, E> {
        Ok(Value::Number(v.into()))
    }

    fn visit_u64<E>(self, v: u64) -> Result<Value, E> {
        Ok(Value::Number(v.into()))
    }

    fn visit_f64<E>(self, v: f64) -> Result<Value, E> {
        // JSON text has no NaN or infinity; serde_json's visitor maps them to
        // null the same way.
        Ok(Number::from_f64(v).map_or(Value::Null, Value::Number))
    }

    fn visit_str<E>(self, v: &str) -> Result<Value, E> {
        Ok(Value::String(v.to_owned()))
    }

    fn visit_string<E>(self, v: String) -> Result<Value, E> {
        Ok(Value::String(v))
    }

    fn visit_unit<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_none<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Value, D::Error> {
        UniqueKeys::deserialize(d).map(|v| v.0)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let mut items = Vec::with_capacity(seq.size_hint().unwrap_or(0).min(4096));
        while let Some(UniqueKeys(item)) = seq.next_element()? {
            items.push(item);
        }
        Ok(Value::Array(items))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        let mut members = Map::new();
        while let Some(key) = map.next_key::<String>()? {
            match members.entry(key) {
                Entry::Occupied(seen) => {
                    let key = seen.key();
                    return Err(A::Error::custom(format_args!("duplicate key `{key}`")));
                }
                Entry::Vacant(slot) => {
                    slot.insert(map.next_value::<UniqueKeys>()?.0);
                }
            }
        }
        Ok(Value::Object(members))
    }
}

/// Parses `bytes`, one JSON value with nothing but whitespace after it,
/// refusing repeated keys; the error is serde_json's, with its line and
/// column.
pub(crate) fn parse(bytes: &[u8]) -> serde_json::Result<Value> {
    let mut de = serde_json::Deserializer::from_slice(bytes);
    let UniqueKeys(value) = UniqueKeys::deserialize(&mut de)?;
    de.end()?;
    Ok(value)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_what_serde_json_parses() {
        let text = br#" {"a": [1, -2, 2.5, 18446744073709551615, "x\u00e9", null, true, {}],
            "b": {"c": {"d": []}}, "e": -9223372036854775808} "#;
        let want: Value = serde_json::from_slice(text).unwrap();
        let got = parse(text).unwrap();
        assert_eq!(got, want);
        // Member order is kept (preserve_order), as serde_json keeps it.
        let keys: Vec<&String> = got.as_object().unwrap().keys().collect();
        assert_eq!(keys, ["a", "b", "e"]);
    }

    #[test]
    fn refuses_a_repeated_key_at_any_depth_with_its_position() {
        let e = parse(br#"{"a": 1, "a": 2}"#).unwrap_err().to_string();
        assert!(e.starts_with("duplicate key `a`"), "{e}");
        assert!(e.contains("line 1 column"), "{e}");
        let e = parse(b"[{\"x\": {\"k\": 1,\n \"k\": 1}}]")
            .unwrap_err()
            .to_string();
        assert!(e.starts_with("duplicate key `k` at line 2"), "{e}");
        assert!(parse(br#"{"a": {"k": 1}, "b": {"k": 1}}"#).is_ok());
    }

    #[test]
    fn refuses_trailing_text_and_bad_json() {
        assert!(parse(b"1 2").is_err());
        assert!(parse(b"{'a': 1}").is_err());
        assert!(parse(b"").is_err());
        assert_eq!(parse(b" 7 \n").unwrap(), Value::from(7));
    }
}
