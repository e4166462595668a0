//! A model type read from a [`Value`], naming the member an error is at
//! (`restores[0].started_time`), with serde_json's own messages.
//!
//! serde_path_to_error gave the same paths by wrapping serde_json's
//! deserializer and every visitor in its own, so each model type's
//! `Deserialize` was compiled for both layers: a tenth of the WebAssembly
//! modules (docs/PERFORMANCE.md, "One deserialisation path"). Here the
//! containers (arrays, objects, enums, options, newtypes) are visited by
//! [`Tracked`], which notes the key or index of a member whose reading failed
//! as the error unwinds, and everything else is handed to serde_json's
//! `&Value` deserializer unchanged, so the errors are its errors, word for
//! word. One difference on purpose: a struct is an object, never an array
//! (see [`Tracked::deserialize_struct`]).

use std::cell::RefCell;

use serde::de::value::BorrowedStrDeserializer;
use serde::de::{
    DeserializeSeed, Deserializer, EnumAccess, Error as _, MapAccess, SeqAccess, Unexpected,
    VariantAccess, Visitor,
};
use serde_json::{Map, Value};

/// One step of a path: a member's key, a variant's name, or an index.
enum Segment<'v> {
    Key(&'v str),
    Index(usize),
}

/// The steps from the failing member up to the root (innermost first), as
/// the error unwinds through the containers.
type Trail<'v> = RefCell<Vec<Segment<'v>>>;

/// A failure to read a value: the dotted path of the member it is at
/// (`None` for the value itself), written as serde_path_to_error writes it,
/// and serde_json's error.
pub(crate) type Failure = (Option<String>, serde_json::Error);

/// Reads `value` as a `T`, or says where and why not.
pub(crate) fn deserialize<'v, T: serde::Deserialize<'v>>(value: &'v Value) -> Result<T, Failure> {
    let trail = Trail::default();
    match T::deserialize(Tracked {
        value,
        trail: &trail,
    }) {
        Ok(value) => Ok(value),
        Err(e) => Err(failure(trail, e)),
    }
}

/// The [`Failure`] of a read that ended in `e` (out of line: [`deserialize`]
/// is compiled once per type read).
#[inline(never)]
fn failure(trail: Trail<'_>, e: serde_json::Error) -> Failure {
    (path(&trail.into_inner()), e)
}

/// `a.b[0].c` from the innermost-first steps.
fn path(trail: &[Segment<'_>]) -> Option<String> {
    use std::fmt::Write as _;
    if trail.is_empty() {
        return None;
    }
    let mut out = String::new();
    for segment in trail.iter().rev() {
        match segment {
            Segment::Index(i) => {
                let _ = write!(out, "[{i}]");
            }
            Segment::Key(key) => {
                if !out.is_empty() {
                    out.push('.');
                }
                out.push_str(key);
            }
        }
    }
    Some(out)
}

/// Runs `read`, the deserialisation of a member of a container whose visit
/// began with `base` steps noted, and adds `segment` if it fails. Steps
/// beyond `base` are dropped first and after a success: they were noted by
/// failures a visitor recovered from (serde_path_to_error keeps the first
/// such path; here the path is the failure's that is reported).
fn member<'v, R>(
    trail: &Trail<'v>,
    base: usize,
    segment: Segment<'v>,
    read: impl FnOnce() -> Result<R, serde_json::Error>,
) -> Result<R, serde_json::Error> {
    trail.borrow_mut().truncate(base);
    let result = read();
    let mut steps = trail.borrow_mut();
    match result {
        Ok(_) => steps.truncate(base),
        Err(_) => steps.push(segment),
    }
    result
}

/// A value being read, and where failures are noted.
#[derive(Clone, Copy)]
struct Tracked<'v, 't> {
    value: &'v Value,
    trail: &'t Trail<'v>,
}

impl<'v, 't> Tracked<'v, 't> {
    /// The same, for a member of this value.
    fn at(&self, value: &'v Value) -> Self {
        Tracked {
            value,
            trail: self.trail,
        }
    }

    /// How many steps are noted now: the base of a container visited now.
    fn depth(&self) -> usize {
        self.trail.borrow().len()
    }

    /// serde_json's message for a value that is not what `exp` expects.
    fn invalid_type(&self, exp: &dyn serde::de::Expected) -> serde_json::Error {
        serde_json::Error::invalid_type(unexpected(self.value), exp)
    }

    fn visit_array<V: Visitor<'v>>(
        self,
        items: &'v [Value],
        visitor: V,
    ) -> Result<V::Value, serde_json::Error> {
        let mut seq = Items {
            items: items.iter(),
            index: 0,
            base: self.depth(),
            of: self,
        };
        let value = visitor.visit_seq(&mut seq)?;
        match seq.items.len() {
            0 => Ok(value),
            _ => Err(serde_json::Error::invalid_length(
                items.len(),
                &"fewer elements in array",
            )),
        }
    }

    fn visit_object<V: Visitor<'v>>(
        self,
        members: &'v Map<String, Value>,
        visitor: V,
    ) -> Result<V::Value, serde_json::Error> {
        let mut map = Members {
            members: members.iter(),
            pending: None,
            base: self.depth(),
            of: self,
        };
        let value = visitor.visit_map(&mut map)?;
        match map.members.len() {
            0 => Ok(value),
            _ => Err(serde_json::Error::invalid_length(
                members.len(),
                &"fewer elements in map",
            )),
        }
    }
}

/// What serde_json's `Value::unexpected` says of `value`.
fn unexpected(value: &Value) -> Unexpected<'_> {
    match value {
        Value::Null => Unexpected::Unit,
        Value::Bool(b) => Unexpected::Bool(*b),
        Value::Number(n) => match (n.as_u64(), n.as_i64(), n.as_f64()) {
            (Some(u), _, _) => Unexpected::Unsigned(u),
            (None, Some(i), _) => Unexpected::Signed(i),
            (None, None, f) => Unexpected::Float(f.unwrap_or(f64::NAN)),
        },
        Value::String(s) => Unexpected::Str(s),
        Value::Array(_) => Unexpected::Seq,
        Value::Object(_) => Unexpected::Map,
    }
}

/// serde_json's name for the `RawValue` newtype (its `raw::TOKEN`), which
/// reads the value's text: left to serde_json, as no member is inside.
const RAW_VALUE_TOKEN: &str = "$serde_json::private::RawValue";

/// Containers are visited here; every other request is serde_json's
/// `&Value` deserializer's (the same code paths and messages).
macro_rules! leaves_to_serde_json {
    ($($method:ident)*) => {$(
        fn $method<V: Visitor<'v>>(self, visitor: V) -> Result<V::Value, serde_json::Error> {
            self.value.$method(visitor)
        }
    )*};
}

impl<'v> Deserializer<'v> for Tracked<'v, '_> {
    type Error = serde_json::Error;

    fn deserialize_any<V: Visitor<'v>>(self, visitor: V) -> Result<V::Value, Self::Error> {
        match self.value {
            Value::Array(items) => self.visit_array(items, visitor),
            Value::Object(members) => self.visit_object(members, visitor),
            leaf => leaf.deserialize_any(visitor),
        }
    }

    leaves_to_serde_json! {
        deserialize_bool deserialize_i8 deserialize_i16 deserialize_i32 deserialize_i64
        deserialize_i128 deserialize_u8 deserialize_u16 deserialize_u32 deserialize_u64
        deserialize_u128 deserialize_f32 deserialize_f64 deserialize_char deserialize_str
        deserialize_string deserialize_unit deserialize_identifier
    }

    fn deserialize_bytes<V: Visitor<'v>>(self, visitor: V) -> Result<V::Value, Self::Error> {
        match self.value {
            Value::Array(items) => self.visit_array(items, visitor),
            leaf => leaf.deserialize_bytes(visitor),
        }
    }

    fn deserialize_byte_buf<V: Visitor<'v>>(self, visitor: V) -> Result<V::Value, Self::Error> {
        self.deserialize_bytes(visitor)
    }

    fn deserialize_option<V: Visitor<'v>>(self, visitor: V) -> Result<V::Value, Self::Error> {
        match self.value {
            Value::Null => visitor.visit_none(),
            _ => visitor.visit_some(self),
        }
    }

    fn deserialize_unit_struct<V: Visitor<'v>>(
        self,
        _name: &'static str,
        visitor: V,
    ) -> Result<V::Value, Self::Error> {
        self.value.deserialize_unit(visitor)
    }

    fn deserialize_newtype_struct<V: Visitor<'v>>(
        self,
        name: &'static str,
        visitor: V,
    ) -> Result<V::Value, Self::Error> {
        if name == RAW_VALUE_TOKEN {
            return self.value.deserialize_newtype_struct(name, visitor);
        }
        visitor.visit_newtype_struct(self)
    }

    fn deserialize_seq<V: Visitor<'v>>(self, visitor: V) -> Result<V::Value, Self::Error> {
        match self.value {
            Value::Array(items) => self.visit_array(items, visitor),
            _ => Err(self.invalid_type(&visitor)),
        }
    }

    fn deserialize_tuple<V: Visitor<'v>>(
        self,
        _len: usize,
        visitor: V,
    ) -> Result<V::Value, Self::Error> {
        self.deserialize_seq(visitor)
    }

    fn deserialize_tuple_struct<V: Visitor<'v>>(
        self,
        _name: &'static str,
        _len: usize,
        visitor: V,
    ) -> Result<V::Value, Self::Error> {
        self.deserialize_seq(visitor)
    }

    fn deserialize_map<V: Visitor<'v>>(self, visitor: V) -> Result<V::Value, Self::Error> {
        match self.value {
            Value::Object(members) => self.visit_object(members, visitor),
            _ => Err(self.invalid_type(&visitor)),
        }
    }

    /// An object only: serde_json also takes a struct's fields as an array
    /// in order (`[1, "x"]`), which no Cloud Backup body is, and which made
    /// every struct's sequence visitor part of the modules (8% of the API
    /// module's gzip size).
    fn deserialize_struct<V: Visitor<'v>>(
        self,
        _name: &'static str,
        _fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, Self::Error> {
        self.deserialize_map(visitor)
    }

    fn deserialize_enum<V: Visitor<'v>>(
        self,
        name: &'static str,
        variants: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, Self::Error> {
        match self.value {
            Value::Object(members) => {
                let mut members = members.iter();
                match (members.next(), members.next()) {
                    (Some((variant, value)), None) => visitor.visit_enum(Variant {
                        name: variant,
                        value: Some(self.at(value)),
                        base: self.depth(),
                        of: self,
                    }),
                    _ => Err(serde_json::Error::invalid_value(
                        Unexpected::Map,
                        &"map with a single key",
                    )),
                }
            }
            // A variant by name: a unit variant, or an error at the variant.
            Value::String(variant) => visitor.visit_enum(Variant {
                name: variant,
                value: None,
                base: self.depth(),
                of: self,
            }),
            leaf => leaf.deserialize_enum(name, variants, visitor),
        }
    }

    fn deserialize_ignored_any<V: Visitor<'v>>(self, visitor: V) -> Result<V::Value, Self::Error> {
        visitor.visit_unit()
    }
}

/// An array's items, each read as a [`Tracked`] member at its index.
struct Items<'v, 't> {
    items: std::slice::Iter<'v, Value>,
    index: usize,
    base: usize,
    of: Tracked<'v, 't>,
}

impl<'v> SeqAccess<'v> for Items<'v, '_> {
    type Error = serde_json::Error;

    fn next_element_seed<S: DeserializeSeed<'v>>(
        &mut self,
        seed: S,
    ) -> Result<Option<S::Value>, Self::Error> {
        let Some(item) = self.items.next() else {
            return Ok(None);
        };
        let index = self.index;
        self.index += 1;
        let item = self.of.at(item);
        member(self.of.trail, self.base, Segment::Index(index), || {
            seed.deserialize(item)
        })
        .map(Some)
    }

    fn size_hint(&self) -> Option<usize> {
        Some(self.items.len())
    }
}

/// An object's members: the key (a string) and its value, read as a
/// [`Tracked`] member under that key.
struct Members<'v, 't> {
    members: serde_json::map::Iter<'v>,
    pending: Option<(&'v str, &'v Value)>,
    base: usize,
    of: Tracked<'v, 't>,
}

impl<'v> MapAccess<'v> for Members<'v, '_> {
    type Error = serde_json::Error;

    fn next_key_seed<K: DeserializeSeed<'v>>(
        &mut self,
        seed: K,
    ) -> Result<Option<K::Value>, Self::Error> {
        let Some((key, value)) = self.members.next() else {
            return Ok(None);
        };
        self.pending = Some((key, value));
        let key_de = BorrowedStrDeserializer::<serde_json::Error>::new(key);
        member(self.of.trail, self.base, Segment::Key(key), || {
            seed.deserialize(key_de)
        })
        .map(Some)
    }

    fn next_value_seed<S: DeserializeSeed<'v>>(
        &mut self,
        seed: S,
    ) -> Result<S::Value, Self::Error> {
        let Some((key, value)) = self.pending.take() else {
            return Err(serde_json::Error::custom("value is missing"));
        };
        let value = self.of.at(value);
        member(self.of.trail, self.base, Segment::Key(key), || {
            seed.deserialize(value)
        })
    }

    fn size_hint(&self) -> Option<usize> {
        Some(self.members.len())
    }
}

/// An enum's `"Variant"` or `{"Variant": value}`: the value (none for a
/// name alone) is read as a [`Tracked`] member named by the variant.
struct Variant<'v, 't> {
    name: &'v str,
    value: Option<Tracked<'v, 't>>,
    base: usize,
    of: Tracked<'v, 't>,
}

impl<'v, 't> Variant<'v, 't> {
    /// Reads the variant's value with `read`, or says that a variant named
    /// alone is not the `kind` the type has.
    fn read<R>(
        self,
        kind: &'static str,
        read: impl FnOnce(Tracked<'v, 't>) -> Result<R, serde_json::Error>,
    ) -> Result<R, serde_json::Error> {
        member(
            self.of.trail,
            self.base,
            Segment::Key(self.name),
            || match self.value {
                Some(value) => read(value),
                None => Err(serde_json::Error::invalid_type(
                    Unexpected::UnitVariant,
                    &kind,
                )),
            },
        )
    }
}

impl<'v, 't> EnumAccess<'v> for Variant<'v, 't> {
    type Error = serde_json::Error;
    type Variant = Self;

    fn variant_seed<S: DeserializeSeed<'v>>(
        self,
        seed: S,
    ) -> Result<(S::Value, Self), Self::Error> {
        let name = BorrowedStrDeserializer::<serde_json::Error>::new(self.name);
        seed.deserialize(name).map(|v| (v, self))
    }
}

impl<'v> VariantAccess<'v> for Variant<'v, '_> {
    type Error = serde_json::Error;

    fn unit_variant(self) -> Result<(), Self::Error> {
        match self.value {
            None => Ok(()),
            Some(_) => self.read("unit variant", serde::Deserialize::deserialize),
        }
    }

    fn newtype_variant_seed<S: DeserializeSeed<'v>>(
        self,
        seed: S,
    ) -> Result<S::Value, Self::Error> {
        self.read("newtype variant", |value| seed.deserialize(value))
    }

    fn tuple_variant<V: Visitor<'v>>(
        self,
        _len: usize,
        visitor: V,
    ) -> Result<V::Value, Self::Error> {
        self.read("tuple variant", |value| match value.value {
            Value::Array(items) if items.is_empty() => visitor.visit_unit(),
            Value::Array(items) => value.visit_array(items, visitor),
            other => Err(serde_json::Error::invalid_type(
                unexpected(other),
                &"tuple variant",
            )),
        })
    }

    fn struct_variant<V: Visitor<'v>>(
        self,
        _fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, Self::Error> {
        self.read("struct variant", |value| match value.value {
            Value::Object(members) => value.visit_object(members, visitor),
            other => Err(serde_json::Error::invalid_type(
                unexpected(other),
                &"struct variant",
            )),
        })
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use serde::Deserialize;
    use serde_json::json;

    use super::*;

    /// What serde_path_to_error over serde_json's `&Value` deserializer
    /// says: the model the paths and messages here are held to.
    fn reference<'v, T: Deserialize<'v>>(value: &'v Value) -> Result<T, (Option<String>, String)> {
        serde_path_to_error::deserialize(value).map_err(|e| {
            let path = e.path().to_string();
            ((path != ".").then_some(path), e.into_inner().to_string())
        })
    }

    /// `deserialize` agrees with [`reference`] on each of `values`, in result
    /// or in path and message; returns how many it refused.
    fn agrees<T>(values: &[Value]) -> usize
    where
        T: for<'v> Deserialize<'v> + PartialEq + std::fmt::Debug,
    {
        let mut refused = 0;
        for value in values {
            let ours = deserialize::<T>(value).map_err(|(p, e)| (p, e.to_string()));
            if let Err((_, e)) = &ours {
                if e.starts_with("invalid type: sequence, expected struct ") {
                    refused += 1;
                    continue;
                }
            }
            assert_eq!(ours, reference::<T>(value), "{value}");
            refused += usize::from(ours.is_err());
        }
        refused
    }

    #[derive(Debug, PartialEq, Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Inner {
        n: u8,
        #[serde(default)]
        tags: Vec<String>,
    }

    #[derive(Debug, PartialEq, Deserialize)]
    struct Newtype(Inner);

    #[derive(Debug, PartialEq, Deserialize)]
    enum Shape {
        Unit,
        Wrap(Inner),
        Pair(u8, String),
        Named { inner: Inner, at: Option<u32> },
    }

    #[derive(Debug, PartialEq, Deserialize)]
    #[serde(untagged)]
    enum Loose {
        Number(u64),
        Inner(Inner),
    }

    #[derive(Debug, PartialEq, Deserialize)]
    #[serde(tag = "kind")]
    enum Tagged {
        A { inner: Inner },
        B,
    }

    #[derive(Debug, PartialEq, Deserialize)]
    struct Outer {
        list: Vec<Inner>,
        shapes: Vec<Shape>,
        wrapped: Option<Newtype>,
        #[serde(default)]
        map: BTreeMap<String, Inner>,
        #[serde(default)]
        pair: Option<(u8, bool)>,
        #[serde(default)]
        loose: Option<Loose>,
        #[serde(default)]
        tagged: Option<Tagged>,
        #[serde(flatten)]
        rest: BTreeMap<String, Value>,
    }

    #[test]
    fn paths_and_messages_are_serde_path_to_errors() {
        let good = json!({
            "list": [{"n": 1}, {"n": 2, "tags": ["a"]}],
            "shapes": ["Unit", {"Wrap": {"n": 3}}, {"Pair": [4, "x"]},
                {"Named": {"inner": {"n": 5}, "at": null}}],
            "wrapped": {"n": 6},
            "map": {"k": {"n": 7}},
            "pair": [8, true],
            "loose": {"n": 9},
            "tagged": {"kind": "A", "inner": {"n": 10}},
            "extra": [1, 2],
        });
        let mut values = vec![good.clone()];
        for (pointer, bad) in [
            ("/list/1/n", json!(300)),
            ("/list/1/n", json!(-1)),
            ("/list/1/n", json!(1.5)),
            ("/list/1/tags/0", json!(null)),
            ("/list/0", json!({"n": 1, "unknown": 2})),
            ("/list/0", json!({})),
            ("/list/0", json!([1, ["t"], 3])),
            ("/list/0", json!([1])),
            ("/list", json!({"n": 1})),
            ("/shapes/0", json!("Nope")),
            ("/shapes/0", json!(7)),
            ("/shapes/0", json!({"Unit": 1})),
            ("/shapes/0", json!({"Unit": null})),
            ("/shapes/0", json!({})),
            ("/shapes/0", json!({"Unit": null, "Wrap": {}})),
            ("/shapes/1", json!({"Wrap": {"n": "x"}})),
            ("/shapes/1", json!("Wrap")),
            ("/shapes/2", json!({"Pair": [4]})),
            ("/shapes/2", json!({"Pair": [4, "x", 5]})),
            ("/shapes/2", json!({"Pair": []})),
            ("/shapes/2", json!({"Pair": {"a": 1}})),
            ("/shapes/3", json!({"Named": {"inner": {"n": 5}, "at": -3}})),
            ("/shapes/3", json!({"Named": [{"n": 5}, 2]})),
            ("/shapes/3", json!({"Named": 1})),
            ("/shapes/3", json!("Named")),
            ("/wrapped", json!({"n": true})),
            ("/wrapped", json!(false)),
            ("/map/k", json!({"n": []})),
            ("/map", json!([])),
            ("/pair", json!([8])),
            ("/pair", json!([8, true, 1])),
            ("/pair/1", json!("yes")),
            ("/loose", json!("x")),
            ("/loose", json!(12)),
            ("/tagged", json!({"kind": "C"})),
            ("/tagged", json!({"kind": "A", "inner": {"n": -1}})),
            ("/tagged", json!({"kind": "B"})),
            ("/extra", json!({"deep": [1]})),
        ] {
            let mut value = good.clone();
            *value.pointer_mut(pointer).unwrap() = bad;
            values.push(value);
        }
        let mut missing = good.clone();
        missing.as_object_mut().unwrap().remove("shapes");
        values.extend([missing, json!(null), json!([]), json!("x"), json!([[], []])]);
        let refused = agrees::<Outer>(&values);
        // Accepted: the good value, and with a unit variant as
        // `{"Unit": null}`, a number for `loose`, the unit variant `B` for
        // `tagged`, an object for `extra`.
        assert_eq!(refused, values.len() - 5);
        let as_array = json!({"list": [[1, []]], "shapes": []});
        let (path, e) = deserialize::<Outer>(&as_array).err().unwrap();
        assert_eq!(path.as_deref(), Some("list[0]"));
        assert_eq!(
            e.to_string(),
            "invalid type: sequence, expected struct Inner"
        );
        assert!(deserialize::<Outer>(&good).is_ok());
    }

    #[test]
    fn top_level_values_and_leaves() {
        let values = [
            json!(null),
            json!(true),
            json!(0),
            json!(-5),
            json!(1e300),
            json!(18446744073709551615u64),
            json!("s"),
            json!([]),
            json!({}),
            json!([1, 2]),
            json!({"n": 1}),
        ];
        agrees::<u8>(&values);
        agrees::<i64>(&values);
        agrees::<f64>(&values);
        agrees::<bool>(&values);
        agrees::<String>(&values);
        agrees::<Option<u32>>(&values);
        agrees::<()>(&values);
        agrees::<Vec<u8>>(&values);
        agrees::<(u8, u8)>(&values);
        agrees::<BTreeMap<String, u8>>(&values);
        agrees::<Inner>(&values);
        agrees::<Shape>(&values);
        agrees::<Value>(&values);
    }

    #[test]
    fn a_raw_value_reads_the_members_text() {
        #[derive(Deserialize)]
        struct Holder {
            raw: Box<serde_json::value::RawValue>,
        }
        let value = json!({"raw": {"a": [1, "x"]}});
        let holder: Holder = deserialize(&value).map_err(|(_, e)| e).unwrap();
        assert_eq!(holder.raw.get(), r#"{"a":[1,"x"]}"#);
    }

    #[test]
    fn a_recovered_failure_leaves_no_step_behind() {
        // A visitor that reads a member as `u8`, ignores the failure, then
        // fails on the next member: the path is the second member's.
        struct Lenient;
        impl<'de> Deserialize<'de> for Lenient {
            fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                struct V;
                impl<'de> Visitor<'de> for V {
                    type Value = Lenient;
                    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                        f.write_str("two numbers")
                    }
                    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Lenient, A::Error> {
                        let _ = seq.next_element::<u8>();
                        seq.next_element::<u8>()?;
                        Ok(Lenient)
                    }
                }
                d.deserialize_seq(V)
            }
        }
        let value = json!([{"a": 1}, "x"]);
        let (path, e) = deserialize::<Lenient>(&value).err().unwrap();
        assert_eq!(path.as_deref(), Some("[1]"));
        assert!(e.to_string().contains("invalid type: string \"x\""), "{e}");
    }
}
