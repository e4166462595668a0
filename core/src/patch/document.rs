//! RFC 6902 JSON Patch documents with RFC 6901 pointers, on top of the
//! `json-patch` crate (which passes the json-patch-tests conformance suite).

use std::borrow::Cow;
use std::fmt;
use std::marker::PhantomData;

use serde::de::value::MapAccessDeserializer;
use serde::de::{DeserializeSeed, MapAccess, SeqAccess, Visitor};
use serde::{Deserialize, Deserializer};
use serde_json::value::RawValue;
use serde_json::Value;

use json_patch::jsonptr::PointerBuf;
use json_patch::{
    AddOperation, CopyOperation, MoveOperation, RemoveOperation, ReplaceOperation, TestOperation,
};
pub use json_patch::{Patch, PatchOperation};

use crate::error::from_utf8_json;
use crate::{Error, Result};

/// Parses a JSON Patch document (a JSON array of operations); a malformed
/// document is a [`Error::PatchRejected`] naming the offending operation.
pub fn parse_patch(bytes: &[u8]) -> Result<Patch> {
    // Most patches are plain: read straight into operations, without a
    // `Value` map per operation (that was most of the parse). Anything else
    // is read as before, for its exact outcome and message.
    if let Some(patch) = plain_patch(bytes) {
        return Ok(patch);
    }
    let value: Value = serde_json::from_slice(bytes).map_err(|e| Error::json("JSON Patch", &e))?;
    patch_from_value(value)
}

/// One operation's members as [`plain_operation`] reads them. Any other
/// member sends the patch the `Value` way: serde would skip it without the
/// checks a `Value` makes (UTF-8, escapes, numbers in range, nesting), so
/// a patch that is not JSON would pass (found by the `patch` fuzz target:
/// an unknown member whose string was not UTF-8).
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PlainItem<'a> {
    #[serde(borrow)]
    op: Cow<'a, str>,
    #[serde(borrow)]
    path: Cow<'a, str>,
    #[serde(default, borrow)]
    from: Option<Cow<'a, str>>,
    /// `Some(Value::Null)` for `"value": null`, `None` when absent.
    #[serde(default, deserialize_with = "present")]
    value: Option<Value>,
}

fn present<'de, D: Deserializer<'de>>(d: D) -> std::result::Result<Option<Value>, D::Error> {
    Value::deserialize(d).map(Some)
}

/// [`PlainItem`] with the value left as its JSON text. Other members are
/// refused (so every string and number outside the value is read as a
/// [`Value`] would read it, not skipped).
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawItem<'a> {
    #[serde(borrow)]
    op: Cow<'a, str>,
    #[serde(borrow)]
    path: Cow<'a, str>,
    #[serde(default, borrow)]
    #[allow(dead_code)] // read only so that a bad `from` fails as in PlainItem
    from: Option<Cow<'a, str>>,
    /// `Some` for `"value": null` too, as in [`PlainItem`].
    #[serde(default, borrow, deserialize_with = "present_raw")]
    value: Option<&'a RawValue>,
}

fn present_raw<'de, D: Deserializer<'de>>(
    d: D,
) -> std::result::Result<Option<&'de RawValue>, D::Error> {
    <&RawValue>::deserialize(d).map(Some)
}

/// An item given as a JSON object, and only so: the derived impls would
/// also read an array by position (`["move", "/a", "/b"]`), which is no
/// operation.
struct ObjectItem<T>(T);

impl<'de, T: Deserialize<'de>> Deserialize<'de> for ObjectItem<T> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        struct ObjectOnly<T>(PhantomData<T>);
        impl<'de, T: Deserialize<'de>> Visitor<'de> for ObjectOnly<T> {
            type Value = ObjectItem<T>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("an operation object")
            }
            fn visit_map<A: MapAccess<'de>>(
                self,
                map: A,
            ) -> std::result::Result<Self::Value, A::Error> {
                T::deserialize(MapAccessDeserializer::new(map)).map(ObjectItem)
            }
        }
        d.deserialize_map(ObjectOnly(PhantomData))
    }
}

/// An `add` or `replace` operation of a plain patch, its value as JSON text.
pub(super) struct RawOperation<'a> {
    /// `add` (else `replace`).
    pub(super) add: bool,
    /// The path as given.
    pub(super) path: Cow<'a, str>,
    /// The value's JSON text, as it is in the patch.
    pub(super) value: &'a RawValue,
}

/// The operations of `bytes` when [`parse_patch`] would read it as a plain
/// patch (see [`plain_patch`]) of `add` and `replace` operations only, with
/// the same paths; `None` for anything else (other members in an operation
/// too). The values are left as text: whoever reads one must check that it
/// parses as a [`Value`] (see [`parses_as_value`]), which skipping it did
/// not (nesting depth, numbers out of range, lone surrogates).
pub(super) fn raw_add_replace_ops(bytes: &[u8]) -> Option<Vec<RawOperation<'_>>> {
    let items: Vec<ObjectItem<RawItem<'_>>> = from_utf8_json(bytes)?;
    let mut ops = Vec::with_capacity(items.len());
    for ObjectItem(item) in items {
        let add = match item.op.as_ref() {
            "add" => true,
            "replace" => false,
            _ => return None,
        };
        // As plain_patch reads the path.
        json_patch::jsonptr::Pointer::parse(item.path.as_ref()).ok()?;
        ops.push(RawOperation {
            add,
            path: item.path,
            value: item.value?,
        });
    }
    Some(ops)
}

/// Whether `text`, a JSON value that was skipped (a [`RawValue`]), parses
/// as a [`Value`] where it is: an operation's value, two levels down in the
/// patch. It is read with the calls [`Value`]'s deserialisation makes (so
/// the same number and string checks), nested no deeper than 100 (serde_json
/// stops at 128 for the whole patch), without building anything.
pub(super) fn parses_as_value(text: &str) -> bool {
    let mut de = serde_json::Deserializer::from_str(text);
    AnyValue { depth: 0 }.deserialize(&mut de).is_ok() && de.end().is_ok()
}

/// Whether `text`, a JSON value that was skipped (a [`RawValue`]) and then
/// read whole into a typed model, surely parses as a [`Value`] too, so that
/// [`parses_as_value`] need not read it a third time. Skipping and the
/// model's reading make every check a [`Value`] makes but where the model
/// ignored a member (serde_json checks an ignored value's syntax only: not
/// whether a `\u` escape is a lone surrogate, nor whether a number fits an
/// `f64`, nor how deep it nests). So: no escape at all, no digit followed
/// by an exponent's `e`, fewer digits in all than the 309 a number beyond
/// `f64::MAX` needs, and at most [`MAX_VALUE_DEPTH`] brackets in all.
/// `false` says nothing: ask [`parses_as_value`]. Counted, not scanned
/// token by token, so that it vectorises: it must cost less than the read
/// it saves.
pub(super) fn surely_a_value(text: &str) -> bool {
    let bytes = text.as_bytes();
    if bytes.contains(&b'\\') {
        return false;
    }
    // Sums of 0/1 over each byte and the one after it, with no branch per
    // byte (`&` on bools, not `&&`). The last byte has no pair, so it is
    // looked at on its own below.
    let (mut brackets, mut digits, mut exponents) = (0u32, 0u32, 0u32);
    let next = bytes.get(1..).unwrap_or_default();
    // In pieces of 128 pairs, counted in bytes (a vector lane each).
    for (piece, after) in bytes.chunks(128).zip(next.chunks(128)) {
        let (mut b8, mut d8, mut e8) = (0u8, 0u8, 0u8);
        for (&b, &a) in piece.iter().zip(after) {
            let digit = b.wrapping_sub(b'0') < 10;
            b8 += u8::from((b == b'[') | (b == b'{'));
            d8 += u8::from(digit);
            e8 += u8::from(digit & ((a | 0x20) == b'e'));
        }
        brackets += u32::from(b8);
        digits += u32::from(d8);
        exponents += u32::from(e8);
    }
    let last = bytes.last().copied().unwrap_or(b' ');
    let last_plain = !last.is_ascii_digit() && last != b'[' && last != b'{';
    last_plain && exponents == 0 && digits < 309 && brackets <= MAX_VALUE_DEPTH
}

/// The deepest nesting [`parses_as_value`] accepts.
const MAX_VALUE_DEPTH: u32 = 100;

/// [`parses_as_value`]'s reader, at a nesting depth.
#[derive(Clone, Copy)]
struct AnyValue {
    depth: u32,
}

impl<'de> DeserializeSeed<'de> for AnyValue {
    type Value = ();
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> std::result::Result<(), D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for AnyValue {
    type Value = ();
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any JSON value")
    }
    fn visit_bool<E>(self, _: bool) -> std::result::Result<(), E> {
        Ok(())
    }
    fn visit_i64<E>(self, _: i64) -> std::result::Result<(), E> {
        Ok(())
    }
    fn visit_u64<E>(self, _: u64) -> std::result::Result<(), E> {
        Ok(())
    }
    fn visit_f64<E>(self, _: f64) -> std::result::Result<(), E> {
        Ok(())
    }
    fn visit_str<E>(self, _: &str) -> std::result::Result<(), E> {
        Ok(())
    }
    fn visit_unit<E>(self) -> std::result::Result<(), E> {
        Ok(())
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> std::result::Result<(), A::Error> {
        let inner = self.inner::<A::Error>()?;
        while seq.next_element_seed(inner)?.is_some() {}
        Ok(())
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> std::result::Result<(), A::Error> {
        let inner = self.inner::<A::Error>()?;
        while map.next_entry_seed(inner, inner)?.is_some() {}
        Ok(())
    }
}

impl AnyValue {
    /// The reader one level down, unless that is too deep.
    fn inner<E: serde::de::Error>(self) -> std::result::Result<AnyValue, E> {
        if self.depth >= MAX_VALUE_DEPTH {
            return Err(E::custom("nested too deeply"));
        }
        Ok(AnyValue {
            depth: self.depth + 1,
        })
    }
}

/// The patch in `bytes` when it is an array of well-formed operations (as
/// [`plain_operation`] defines them, with no member given twice); `None`
/// for anything else, which the `Value` path then reads.
fn plain_patch(bytes: &[u8]) -> Option<Patch> {
    let items: Vec<ObjectItem<PlainItem<'_>>> = from_utf8_json(bytes)?;
    let mut ops = Vec::with_capacity(items.len());
    for ObjectItem(item) in items {
        let pointer = |text: Cow<'_, str>| PointerBuf::try_from(text.into_owned()).ok();
        let op = match (item.op.as_ref(), item.value) {
            ("add", Some(value)) => PatchOperation::Add(AddOperation {
                path: pointer(item.path)?,
                value,
            }),
            ("replace", Some(value)) => PatchOperation::Replace(ReplaceOperation {
                path: pointer(item.path)?,
                value,
            }),
            ("test", Some(value)) => PatchOperation::Test(TestOperation {
                path: pointer(item.path)?,
                value,
            }),
            ("remove", _) => PatchOperation::Remove(RemoveOperation {
                path: pointer(item.path)?,
            }),
            ("move", _) => PatchOperation::Move(MoveOperation {
                from: pointer(item.from?)?,
                path: pointer(item.path)?,
            }),
            ("copy", _) => PatchOperation::Copy(CopyOperation {
                from: pointer(item.from?)?,
                path: pointer(item.path)?,
            }),
            _ => return None,
        };
        ops.push(op);
    }
    Some(Patch(ops))
}

/// Converts a JSON value into a patch, naming the first bad operation.
pub fn patch_from_value(value: Value) -> Result<Patch> {
    let Value::Array(items) = value else {
        return Err(Error::PatchRejected {
            index: None,
            path: None,
            reason: "a JSON Patch must be a JSON array of operations".into(),
        });
    };
    let mut ops = Vec::with_capacity(items.len());
    for (index, item) in items.into_iter().enumerate() {
        let item = match plain_operation(item) {
            Ok(op) => {
                ops.push(op);
                continue;
            }
            Err(item) => item,
        };
        let path = item.get("path").and_then(Value::as_str).map(str::to_string);
        let op =
            serde_json::from_value::<PatchOperation>(item).map_err(|e| Error::PatchRejected {
                index: Some(index),
                path,
                reason: format!("malformed operation: {e}"),
            })?;
        ops.push(op);
    }
    Ok(Patch(ops))
}

/// The operation of a well-formed item (an object whose `op` is one of the
/// six names, with the members that operation needs, of the right types),
/// taken apart without serde's buffering of internally tagged enums; or the
/// item back untouched. Serde accepts all this accepts, with the same
/// operation (both ignore other members); anything else, accepted by serde
/// or not, is left to serde, so results and messages stay serde's.
fn plain_operation(item: Value) -> std::result::Result<PatchOperation, Value> {
    let Value::Object(map) = &item else {
        return Err(item);
    };
    // As serde reads a pointer: a string, then `PointerBuf::try_from`.
    let pointer = |key: &str| {
        let text = map.get(key).and_then(Value::as_str)?;
        PointerBuf::try_from(text.to_string()).ok()
    };
    let has_value = map.contains_key("value");
    let op = match map.get("op").and_then(Value::as_str) {
        Some("remove") => {
            pointer("path").map(|path| PatchOperation::Remove(RemoveOperation { path }))
        }
        Some("move") => match (pointer("from"), pointer("path")) {
            (Some(from), Some(path)) => Some(PatchOperation::Move(MoveOperation { from, path })),
            _ => None,
        },
        Some("copy") => match (pointer("from"), pointer("path")) {
            (Some(from), Some(path)) => Some(PatchOperation::Copy(CopyOperation { from, path })),
            _ => None,
        },
        // The value is moved in below, once the item is no longer borrowed.
        Some("add") if has_value => pointer("path").map(|path| {
            PatchOperation::Add(AddOperation {
                path,
                value: Value::Null,
            })
        }),
        Some("replace") if has_value => pointer("path").map(|path| {
            PatchOperation::Replace(ReplaceOperation {
                path,
                value: Value::Null,
            })
        }),
        Some("test") if has_value => pointer("path").map(|path| {
            PatchOperation::Test(TestOperation {
                path,
                value: Value::Null,
            })
        }),
        _ => None,
    };
    let Some(mut op) = op else {
        return Err(item);
    };
    let slot = match &mut op {
        PatchOperation::Add(a) => Some(&mut a.value),
        PatchOperation::Replace(r) => Some(&mut r.value),
        PatchOperation::Test(t) => Some(&mut t.value),
        _ => None,
    };
    if let (Some(slot), Value::Object(mut map)) = (slot, item) {
        // Present: `has_value` was checked for these three.
        *slot = map.swap_remove("value").unwrap_or_default();
    }
    Ok(op)
}

/// The RFC 6902 name of an operation (`add`, `remove`, ...).
pub fn op_name(op: &PatchOperation) -> &'static str {
    match op {
        PatchOperation::Add(_) => "add",
        PatchOperation::Remove(_) => "remove",
        PatchOperation::Replace(_) => "replace",
        PatchOperation::Move(_) => "move",
        PatchOperation::Copy(_) => "copy",
        PatchOperation::Test(_) => "test",
    }
}

/// Applies `patch` to `doc` atomically: on error `doc` is unchanged and the
/// error names the failing operation and why.
pub fn apply_patch(doc: &mut Value, patch: &Patch) -> Result<()> {
    // Work on a copy so a failure can never leave `doc` half-patched.
    let mut work = doc.clone();
    json_patch::patch_unsafe(&mut work, &patch.0).map_err(|e| Error::PatchRejected {
        index: Some(e.operation),
        path: Some(e.path.as_str().to_string()),
        reason: e.kind.to_string(),
    })?;
    *doc = work;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn failures_leave_the_document_unchanged() {
        let mut doc = json!({"a": 1});
        let patch = patch_from_value(json!([
            {"op": "add", "path": "/b", "value": 2},
            {"op": "remove", "path": "/missing"}
        ]))
        .unwrap();
        let e = apply_patch(&mut doc, &patch).unwrap_err();
        assert_eq!(doc, json!({"a": 1}));
        assert!(e.to_string().contains("operation 1 (/missing)"), "{e}");
    }

    /// `surely_a_value` only vouches for text that parses as a `Value`,
    /// and vouches for the plain cases.
    #[test]
    fn surely_a_value_vouches_only_for_values() {
        let deep = |n: usize| format!("{}1{}", "[".repeat(n), "]".repeat(n));
        let texts = [
            r#"{"count":1,"reason":"x","list":[{"index":3,"path":"/usr/bin/h2xs"}]}"#.to_string(),
            r#"{"a":1.5,"b":-0,"c":[true,false,null],"d":"2014-10-20T13:11:58.985151Z"}"#.into(),
            r#"{"x":1e400}"#.into(),
            r#"{"x":1E400}"#.into(),
            r#"{"x":-2.5e-3}"#.into(),
            format!(r#"{{"x":{}}}"#, "9".repeat(400)),
            format!(r#"{{"x":{}}}"#, "9".repeat(19)),
            r#"{"x":"\ud800"}"#.into(),
            r#"{"x":"\ud800\udc00"}"#.into(),
            r#"{"x":"a \" quote"}"#.into(),
            deep(99),
            deep(100),
            deep(101),
            deep(140),
        ];
        for text in &texts {
            if surely_a_value(text) {
                assert!(parses_as_value(text), "{text}");
            }
        }
        for plain in [0, 1, 6, 10, 11] {
            assert!(surely_a_value(&texts[plain]), "{}", texts[plain]);
        }
        for doubtful in [2, 3, 4, 5, 7, 8, 9, 12, 13] {
            assert!(!surely_a_value(&texts[doubtful]), "{}", texts[doubtful]);
        }
    }

    /// `patch_from_value` as it was before `plain_operation`: serde for
    /// every item.
    fn through_serde(value: Value) -> Result<Patch> {
        let Value::Array(items) = value else {
            return patch_from_value(value);
        };
        let mut ops = Vec::new();
        for (index, item) in items.into_iter().enumerate() {
            let path = item.get("path").and_then(Value::as_str).map(str::to_string);
            let op = serde_json::from_value::<PatchOperation>(item).map_err(|e| {
                Error::PatchRejected {
                    index: Some(index),
                    path,
                    reason: format!("malformed operation: {e}"),
                }
            })?;
            ops.push(op);
        }
        Ok(Patch(ops))
    }

    /// The patch read from a value and from its text (the plain path or
    /// the value path) as serde reads it.
    fn assert_same_as_serde(patch: Value) {
        let serde = format!("{:?}", through_serde(patch.clone()));
        let ours = format!("{:?}", patch_from_value(patch.clone()));
        assert_eq!(ours, serde, "{patch}");
        let from_text = format!("{:?}", parse_patch(patch.to_string().as_bytes()));
        assert_eq!(from_text, serde, "{patch}");
    }

    #[test]
    fn operations_are_read_as_serde_reads_them() {
        let ops = [
            json!("add"),
            json!("remove"),
            json!("replace"),
            json!("move"),
            json!("copy"),
            json!("test"),
            json!("spam"),
            json!("Add"),
            json!(0),
            json!(3),
            json!(null),
        ];
        let pointers = [
            json!("/a"),
            json!(""),
            json!("/a/0"),
            json!("/~1b/~0"),
            json!("a"),
            json!("/a~2"),
            json!(5),
            json!(null),
            json!(["/a"]),
        ];
        let values = [json!(null), json!(1), json!({"x": [1, 2.5, "y"]})];
        let mut items = Vec::new();
        for op in ops.iter().map(Some).chain([None]) {
            for path in pointers.iter().map(Some).chain([None]) {
                for from in [None, Some(&pointers[0]), Some(&pointers[4])] {
                    for value in values.iter().map(Some).chain([None]) {
                        let mut item = serde_json::Map::new();
                        let members =
                            [("op", op), ("path", path), ("from", from), ("value", value)];
                        for (key, v) in members {
                            if let Some(v) = v {
                                item.insert(key.into(), v.clone());
                            }
                        }
                        items.push(Value::Object(item));
                    }
                }
            }
        }
        // Other members, other orders, and items that are not objects.
        items.push(json!({"value": 1, "path": "/a", "op": "add", "extra": true}));
        items.push(json!({"path": "/a", "op": "remove", "value": 1, "from": "/b"}));
        items.push(json!(["add", "/a", 1]));
        // Operations written as arrays are no operations, however many members.
        items.push(json!(["replace", "/a", null, 1]));
        items.push(json!(["move", "/a", "/b"]));
        items.push(json!(["remove", "/a"]));
        items.push(json!("add"));
        items.push(json!(null));
        for item in &items {
            assert_same_as_serde(json!([item]));
            assert_same_as_serde(json!([{"op": "test", "path": "", "value": 1}, item]));
        }
        assert_same_as_serde(Value::Array(items));
    }

    #[test]
    fn the_conformance_suites_patches_are_read_as_serde_reads_them() {
        let dir = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../tests/data/json-patch-tests/"
        );
        let mut patches = 0;
        for file in ["tests.json", "spec_tests.json"] {
            let text = std::fs::read(format!("{dir}{file}")).unwrap();
            let cases: Vec<Value> = serde_json::from_slice(&text).unwrap();
            for case in cases {
                assert_same_as_serde(case["patch"].clone());
                patches += 1;
            }
        }
        assert!(patches > 100, "{patches}");
    }

    #[test]
    fn malformed_operations_are_named() {
        let e = patch_from_value(
            json!([{"op": "add", "path": "/a", "value": 1}, {"op": "spam", "path": "/x"}]),
        )
        .unwrap_err();
        match e {
            Error::PatchRejected { index, path, .. } => {
                assert_eq!(index, Some(1));
                assert_eq!(path.as_deref(), Some("/x"));
            }
            other => panic!("unexpected {other:?}"),
        }
        assert!(patch_from_value(json!({"op": "add"})).is_err());
        // A member given twice: the last one, as a JSON value keeps it.
        let twice = br#"[{"op": "add", "path": "/a", "value": 1, "value": 2}]"#;
        let want = patch_from_value(serde_json::from_slice(twice).unwrap()).unwrap();
        assert_eq!(parse_patch(twice).unwrap(), want);
        assert_eq!(
            format!("{want:?}").matches("Number(2)").count(),
            1,
            "{want:?}"
        );
        assert!(parse_patch(b"[{'op': 'add'}]").is_err());
    }

    /// Text that is not UTF-8 (in a value, in a path, between operations)
    /// is refused as the `Value` reading refuses it, with its message: the
    /// fast paths check the whole text once and send such text that way.
    /// Text that is UTF-8, multi-byte characters included, stays on them.
    #[test]
    fn text_not_utf8_goes_the_value_way() {
        for bad in [
            &b"[{\"op\": \"add\", \"path\": \"/a\", \"value\": \"\xff\"}]"[..],
            b"[{\"op\": \"add\", \"path\": \"/\xc3\", \"value\": 1}]",
            b"[{\"op\": \"add\", \"path\": \"/a\", \"value\": 1}\xa0]",
        ] {
            assert!(raw_add_replace_ops(bad).is_none());
            assert!(plain_patch(bad).is_none());
            let want = serde_json::from_slice::<Value>(bad).unwrap_err();
            match parse_patch(bad) {
                Err(Error::InvalidJson { message, .. }) => assert_eq!(message, want.to_string()),
                other => panic!("{}: {other:?}", String::from_utf8_lossy(bad)),
            }
        }
        let fine = "[{\"op\": \"add\", \"path\": \"/é\", \"value\": \"ünï €𝄞\"}]".as_bytes();
        let ops = raw_add_replace_ops(fine).unwrap();
        assert_eq!(
            (ops[0].path.as_ref(), ops[0].value.get()),
            ("/é", "\"ünï €𝄞\"")
        );
        let want = patch_from_value(serde_json::from_slice(fine).unwrap()).unwrap();
        assert_eq!(plain_patch(fine).unwrap(), want);
    }

    /// Members an operation does not define are ignored (RFC 6902), but the
    /// patch must still be JSON: each of these is not, only inside such a
    /// member (the `patch` fuzz target found the first), and each is
    /// refused as the `Value` reading refuses it.
    #[test]
    fn unknown_members_must_still_be_json() {
        let with = |member: &[u8]| {
            let mut patch = br#"[{"op": "replace", "path": "/a", "x": "#.to_vec();
            patch.extend_from_slice(member);
            patch.extend_from_slice(br#", "value": true}]"#);
            patch
        };
        let deep = format!("{}{}", "[".repeat(200), "]".repeat(200));
        for bad in [
            &b"\"/en\xa3\xa3ed\""[..],
            br#""\ud800""#,
            b"1e400",
            deep.as_bytes(),
        ] {
            let patch = with(bad);
            let want = serde_json::from_slice::<Value>(&patch).unwrap_err();
            match parse_patch(&patch) {
                Err(Error::InvalidJson { message, .. }) => {
                    assert_eq!(message, want.to_string())
                }
                other => panic!("{}: {other:?}", String::from_utf8_lossy(&patch)),
            }
        }
        // Well-formed, it is ignored, as the Value reading ignores it.
        let fine = with(br#"{"any": ["thing", 1.5, null]}"#);
        let want = patch_from_value(serde_json::from_slice(&fine).unwrap()).unwrap();
        assert_eq!(parse_patch(&fine).unwrap(), want);
    }
}
