//! A resource seen member by member, for hosts that keep it in their own
//! form (a JS object in the browser), and the member edits a validated patch
//! amounts to. The policy reads only a few members (`state`, the times, the
//! filters, the parents of nested paths), so such a host need not turn the
//! whole resource into JSON to have a patch checked, and can build the
//! patched resource by setting the edited members on a copy.

use std::borrow::Cow;

use serde_json::Value;

/// Read access to a resource's members, as JSON sees them.
///
/// Paths are RFC 6901 pointers made of plain tokens (no `~` escapes), the
/// way the endpoint rules spell them: `/state`, `/vault/region`; `""` is the
/// resource itself.
pub trait ResourceMembers {
    /// The member at `path`, as its JSON value would be; `None` when there
    /// is none (or a value on the way is not an object).
    fn member(&self, path: &str) -> Option<Cow<'_, Value>>;

    /// Whether the value at `path` (`""`: the resource) is a JSON object.
    fn is_object(&self, path: &str) -> bool;
}

impl ResourceMembers for Value {
    fn member(&self, path: &str) -> Option<Cow<'_, Value>> {
        self.pointer(path).map(Cow::Borrowed)
    }

    fn is_object(&self, path: &str) -> bool {
        matches!(self.pointer(path), Some(Value::Object(_)))
    }
}

/// One member a validated patch sets: in the object at `parent` (`""`: the
/// resource itself), member `key` becomes `value` (added at the end when it
/// was not there, replaced where it is otherwise).
#[derive(Debug, Clone, PartialEq)]
pub struct MemberEdit {
    /// The rule path the edit sets, `parent` + `/` + `key`.
    pub path: &'static str,
    /// The object holding the member: `""` for the resource, else a pointer.
    pub parent: &'static str,
    /// The member's name.
    pub key: &'static str,
    /// Its new value, moved out of the patch operation.
    pub value: Value,
}

/// A resource with planned edits laid over it, as the patched resource would
/// read: what the whole-resource checks look at after the edits.
pub(super) struct Edited<'a> {
    pub(super) base: &'a dyn ResourceMembers,
    pub(super) edits: &'a [MemberEdit],
}

impl ResourceMembers for Edited<'_> {
    fn member(&self, path: &str) -> Option<Cow<'_, Value>> {
        match self.edits.iter().rev().find(|e| e.path == path) {
            Some(edit) => Some(Cow::Borrowed(&edit.value)),
            None => self.base.member(path),
        }
    }

    fn is_object(&self, path: &str) -> bool {
        // No rule path is a prefix of another, so no edit replaces a parent.
        self.base.is_object(path)
    }
}
