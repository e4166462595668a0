//! JSON Patch (RFC 6902, with RFC 6901 pointers) and the policies of the v2
//! PATCH endpoints.
//!
//! ```
//! use cloudbackup_core::lifecycle::Actor;
//! use cloudbackup_core::patch::{patch_from_value, validate_patch, Endpoint, PatchContext};
//! use serde_json::json;
//! let restore = json!({"id": "r1", "state": "queued"});
//! let patch = patch_from_value(json!([{"op": "replace", "path": "/state", "value": "in_progress"}])).unwrap();
//! let next = validate_patch(Endpoint::Restore, &restore, &patch, PatchContext::new(Actor::Agent)).unwrap();
//! assert_eq!(next["state"], "in_progress");
//! ```

mod document;
mod members;
mod policy;

pub use document::{apply_patch, op_name, parse_patch, patch_from_value, Patch, PatchOperation};
pub use members::{edits_json, MemberEdit, ResourceMembers};
pub(crate) use policy::validate_owned_patch;
pub use policy::{
    apply_patch_in_place, apply_typed_patch, plan_member_edits, plan_raw_member_edits,
    validate_patch, Endpoint, PatchContext,
};
