//! RFC 6902 JSON Patch documents with RFC 6901 pointers, on top of the
//! `json-patch` crate (which passes the json-patch-tests conformance suite).

use serde_json::Value;

pub use json_patch::{Patch, PatchOperation};

use crate::{Error, Result};

/// Parses a JSON Patch document (a JSON array of operations); a malformed
/// document is a [`Error::PatchRejected`] naming the offending operation.
pub fn parse_patch(bytes: &[u8]) -> Result<Patch> {
    let value: Value = serde_json::from_slice(bytes).map_err(|e| Error::json("JSON Patch", &e))?;
    patch_from_value(value)
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
        assert!(parse_patch(b"[{'op': 'add'}]").is_err());
    }
}
