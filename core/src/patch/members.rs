//! A resource seen member by member, for hosts that keep it in their own
//! form (a JS object in the browser), and the member edits a validated patch
//! amounts to. The policy reads only a few members (`state`, the times, the
//! filters, the parents of nested paths), so such a host need not turn the
//! whole resource into JSON to have a patch checked, and can build the
//! patched resource by setting the edited members on a copy.

use std::borrow::Cow;

use serde_json::value::RawValue;
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
    /// The patch operation the value is from (0-based).
    pub index: usize,
    /// Its new value, moved out of that operation.
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

/// A [`MemberEdit`] whose value is JSON text taken from the patch.
pub(super) struct RawMemberEdit<'p> {
    pub(super) path: &'static str,
    pub(super) parent: &'static str,
    pub(super) key: &'static str,
    pub(super) index: usize,
    pub(super) value: &'p RawValue,
}

/// [`Edited`] for [`RawMemberEdit`]s: an edited member is parsed when read
/// (the checks of the patched resource read only a few small ones).
pub(super) struct RawEdited<'a, 'p> {
    pub(super) base: &'a dyn ResourceMembers,
    pub(super) edits: &'a [RawMemberEdit<'p>],
}

impl ResourceMembers for RawEdited<'_, '_> {
    fn member(&self, path: &str) -> Option<Cow<'_, Value>> {
        match self.edits.iter().rev().find(|e| e.path == path) {
            // Known to parse (see document::raw_add_replace_ops).
            Some(edit) => serde_json::from_str(edit.value.get()).ok().map(Cow::Owned),
            None => self.base.member(path),
        }
    }

    fn is_object(&self, path: &str) -> bool {
        self.base.is_object(path)
    }
}

/// The JSON text of member edits, the layout hosts set them from:
/// `[[parent, key, index], ...]` in patch order, where `index` is the patch
/// operation whose value the member takes (a host holding the patch takes
/// it from there, as JSON reads it, instead of having it written again).
pub fn edits_json(edits: &[MemberEdit]) -> String {
    heads_json(edits.iter().map(|e| (e.parent, e.key, e.index)))
}

/// [`edits_json`] of raw edits.
pub(super) fn raw_edits_json(edits: &[RawMemberEdit<'_>]) -> String {
    heads_json(edits.iter().map(|e| (e.parent, e.key, e.index)))
}

fn heads_json<'e>(edits: impl Iterator<Item = (&'e str, &'e str, usize)>) -> String {
    let mut text = String::with_capacity(128);
    text.push('[');
    for (i, (parent, key, index)) in edits.enumerate() {
        // Rule paths are plain tokens: nothing in them needs escaping.
        debug_assert!(!(parent.contains(['"', '\\']) || key.contains(['"', '\\'])));
        if i > 0 {
            text.push(',');
        }
        text.push_str("[\"");
        text.push_str(parent);
        text.push_str("\",\"");
        text.push_str(key);
        text.push_str("\",");
        // (`write!` here was a tenth of a plan's time.)
        push_decimal(&mut text, index);
        text.push(']');
    }
    text.push(']');
    text
}

/// `n` in decimal.
fn push_decimal(text: &mut String, n: usize) {
    if n >= 10 {
        push_decimal(text, n / 10);
    }
    text.push(char::from(b'0' + (n % 10) as u8));
}
