//! Helpers shared by the sample tables.

use cloudbackup_core::error::from_json_slice;
use serde::de::DeserializeOwned;
use serde::Serialize;
use serde_json::Value;

/// Parses sample bytes into a typed model and serialises it back.
pub type RoundTrip = fn(&[u8]) -> Result<Value, cloudbackup_core::Error>;

/// The round trip through `T`.
pub fn rt<T: Serialize + DeserializeOwned>(bytes: &[u8]) -> Result<Value, cloudbackup_core::Error> {
    let typed: T = from_json_slice(std::any::type_name::<T>(), bytes)?;
    Ok(serde_json::to_value(&typed).expect("a typed model always serialises"))
}

/// The named normalisation: object members whose value is `null` are removed.
pub fn normalise(v: Value) -> Value {
    match v {
        Value::Object(map) => Value::Object(
            map.into_iter()
                .filter(|(_, v)| !v.is_null())
                .map(|(k, v)| (k, normalise(v)))
                .collect(),
        ),
        Value::Array(items) => Value::Array(items.into_iter().map(normalise).collect()),
        other => other,
    }
}
