//! Per-endpoint policies of the v2 PATCH endpoints: which operations and
//! paths each accepts, from whom, with which values, and whether the state
//! change is legal. A patch is validated whole before anything applies.

use std::borrow::Cow;

use serde::de::DeserializeOwned;
use serde::Deserialize;
use serde::Serialize;
use serde_json::value::RawValue;
use serde_json::Value;

use json_patch::jsonptr::PointerBuf;
use json_patch::{AddOperation, ReplaceOperation};

use super::document::{
    op_name, parses_as_value, raw_add_replace_ops, surely_a_value, Patch, PatchOperation,
};
use super::members::{
    raw_edits_json, Edited, MemberEdit, RawEdited, RawMemberEdit, ResourceMembers,
};
use crate::lifecycle::{
    transition, Actor, BackupState, CleanupState, Lifecycle, LogfileState, RestoreState,
};
use crate::model::v1::enums::Datacenter;
use crate::model::v2::agent::LogLevel;
use crate::model::v2::common::{ErrorReport, PathFilter};
use crate::model::v2::configuration::{
    validate_notifications, validate_path_filters, Notification, Schedule,
};
use crate::wire::{parse_wire_name, Timestamp};
use crate::{wire_enum, Error, Result};

wire_enum! {
    /// The v2 resources that accept JSON Patch.
    pub enum Endpoint {
        /// `PATCH /v2/{project_id}/restores/{restore_id}`
        Restore = "restore",
        /// `PATCH /v2/{project_id}/backups/{backup_id}`
        Backup = "backup",
        /// `PATCH /v2/{project_id}/cleanups/{cleanup_id}`
        Cleanup = "cleanup",
        /// `PATCH /v2/{project_id}/configurations/{configuration_id}`
        Configuration = "configuration",
        /// `PATCH /v2/{project_id}/agents/{agent_id}`
        Agent = "agent",
        /// `PATCH /v2/{project_id}/agents/{agent_id}/logfiles/{logfile_id}`
        Logfile = "logfile",
    }
}

/// Who sends a patch, and the facts a policy needs that the resource itself
/// does not carry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PatchContext {
    /// Who sends the patch.
    pub actor: Actor,
    /// Whether the agent's vault is empty (the agent resource does not say;
    /// `/vault/region` may change only when it is). `None`: unknown, treated
    /// as not empty.
    pub vault_empty: Option<bool>,
}

impl PatchContext {
    /// A context for `actor` with no extra facts.
    pub fn new(actor: Actor) -> Self {
        PatchContext {
            actor,
            vault_empty: None,
        }
    }
}

/// What a path's value must be.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ValueKind {
    /// The endpoint's state enum (and a legal transition).
    State,
    /// An ISO-8601 time.
    Time,
    /// A non-negative integer.
    Count,
    /// A list of non-negative integers.
    CountList,
    /// An `/errors` report.
    Errors,
    /// `true` or `false`.
    Bool,
    /// A non-empty string.
    Text,
    /// A backup schedule, or `null` for manual backups only.
    Schedule,
    /// A list of notifications.
    Notifications,
    /// A list of file/folder filters.
    Filters,
    /// One of the agent log levels.
    LogLevel,
    /// One of the documented regions (datacenters).
    Region,
}

/// One patchable path.
struct Rule {
    path: &'static str,
    /// Spellings the reference also uses for this path, normalised to `path`.
    aliases: &'static [&'static str],
    kind: ValueKind,
    /// Who may patch it.
    actors: &'static [Actor],
}

const AGENT: &[Actor] = &[Actor::Agent];
const USER: &[Actor] = &[Actor::User];
/// Who may ask for a state change; the lifecycle decides which changes each may make.
const ANY_ACTOR: &[Actor] = &[Actor::User, Actor::Agent, Actor::Scheduler];

const fn rule(path: &'static str, kind: ValueKind, actors: &'static [Actor]) -> Rule {
    Rule {
        path,
        aliases: &[],
        kind,
        actors,
    }
}

const STATE: Rule = rule("/state", ValueKind::State, ANY_ACTOR);
const STARTED: Rule = Rule {
    path: "/started_time",
    aliases: &["/started-time"],
    kind: ValueKind::Time,
    actors: AGENT,
};
const ENDED: Rule = Rule {
    path: "/ended_time",
    aliases: &["/ended-time"],
    kind: ValueKind::Time,
    actors: AGENT,
};
const ERRORS: Rule = rule("/errors", ValueKind::Errors, AGENT);

const RESTORE_RULES: &[Rule] = &[
    STATE,
    STARTED,
    ENDED,
    ERRORS,
    Rule {
        path: "/files_restored",
        aliases: &["/files_restores", "/files-restored"],
        kind: ValueKind::Count,
        actors: AGENT,
    },
    Rule {
        path: "/bytes_restored",
        aliases: &["/bytes-restored"],
        kind: ValueKind::Count,
        actors: AGENT,
    },
];

const BACKUP_RULES: &[Rule] = &[
    STATE,
    STARTED,
    ENDED,
    ERRORS,
    rule("/snapshot_id", ValueKind::Count, AGENT),
    rule("/files_searched", ValueKind::Count, AGENT),
    rule("/files_backed_up", ValueKind::Count, AGENT),
    rule("/bytes_searched", ValueKind::Count, AGENT),
    rule("/bytes_backed_up", ValueKind::Count, AGENT),
    rule("/bytes_in_db", ValueKind::Count, AGENT),
    rule("/bandwidth_avg_bps", ValueKind::Count, AGENT),
];

const CLEANUP_RULES: &[Rule] = &[
    STATE,
    STARTED,
    ENDED,
    ERRORS,
    rule("/snapshot_ids", ValueKind::CountList, AGENT),
    rule("/bytes_before", ValueKind::Count, AGENT),
    rule("/bytes_after", ValueKind::Count, AGENT),
];

const CONFIGURATION_RULES: &[Rule] = &[
    rule("/name", ValueKind::Text, USER),
    rule("/enabled", ValueKind::Bool, USER),
    rule("/schedule", ValueKind::Schedule, USER),
    // 0 keeps backups forever.
    rule("/retention/days", ValueKind::Count, USER),
    rule("/inclusions", ValueKind::Filters, USER),
    rule("/exclusions", ValueKind::Filters, USER),
    rule("/notifications", ValueKind::Notifications, USER),
];

const AGENT_RULES: &[Rule] = &[
    rule("/enabled", ValueKind::Bool, USER),
    rule("/vault/region", ValueKind::Region, USER),
    rule("/vault/use_internal", ValueKind::Bool, USER),
    Rule {
        path: "/log_level",
        aliases: &["/log-level"],
        kind: ValueKind::LogLevel,
        actors: USER,
    },
];

const LOGFILE_RULES: &[Rule] = &[rule("/state", ValueKind::State, AGENT)];

impl Endpoint {
    fn rules(self) -> &'static [Rule] {
        match self {
            Endpoint::Restore => RESTORE_RULES,
            Endpoint::Backup => BACKUP_RULES,
            Endpoint::Cleanup => CLEANUP_RULES,
            Endpoint::Configuration => CONFIGURATION_RULES,
            Endpoint::Agent => AGENT_RULES,
            Endpoint::Logfile => LOGFILE_RULES,
        }
    }

    /// Whether `add` is accepted as a synonym of `replace` (else `replace` only).
    fn accepts_add(self) -> bool {
        matches!(
            self,
            Endpoint::Restore | Endpoint::Backup | Endpoint::Cleanup | Endpoint::Agent
        )
    }

    /// The paths this endpoint accepts, in their normal spelling.
    pub fn patchable_paths(self) -> Vec<&'static str> {
        self.rules().iter().map(|r| r.path).collect()
    }
}

/// A patch operation after validation: normalised path and checked value.
struct Checked<'a, V: ?Sized = Value> {
    index: usize,
    rule: &'a Rule,
    value: &'a V,
}

/// What the checks read of one operation: its kind, path and (for `add`
/// and `replace`) value. The value is a parsed [`Value`], or the raw JSON
/// text of the fast path of [`plan_raw_member_edits`].
struct OpView<'a, V: ?Sized> {
    kind: OpKind,
    path: &'a str,
    value: &'a V,
}

/// An operation's kind as the policies tell them apart.
#[derive(Clone, Copy)]
enum OpKind {
    Add,
    Replace,
    /// Any other operation, by name (refused by every endpoint).
    Other(&'static str),
}

/// The operations of a parsed patch as the checks read them.
fn op_views(patch: &Patch) -> Vec<OpView<'_, Value>> {
    const NO_VALUE: &Value = &Value::Null;
    patch
        .0
        .iter()
        .map(|op| match op {
            PatchOperation::Add(a) => OpView {
                kind: OpKind::Add,
                path: a.path.as_str(),
                value: &a.value,
            },
            PatchOperation::Replace(r) => OpView {
                kind: OpKind::Replace,
                path: r.path.as_str(),
                value: &r.value,
            },
            other => OpView {
                kind: OpKind::Other(op_name(other)),
                path: other.path().as_str(),
                value: NO_VALUE,
            },
        })
        .collect()
}

/// An operation's value as the checks read it.
trait OpValue {
    /// Checks it against `rule`'s kind of value: `Err` says why not.
    fn check(&self, endpoint: Endpoint, rule: &Rule) -> std::result::Result<(), String>;
    /// The string it is, for a state name.
    fn state_name(&self) -> Option<Cow<'_, str>>;
}

impl OpValue for Value {
    fn check(&self, endpoint: Endpoint, rule: &Rule) -> std::result::Result<(), String> {
        check_value(endpoint, rule, self)
    }

    fn state_name(&self) -> Option<Cow<'_, str>> {
        self.as_str().map(Cow::Borrowed)
    }
}

/// The raw JSON text of a value (see [`plan_raw_member_edits`]). Each check
/// accepts exactly what it accepts of the parsed value: the small kinds are
/// parsed as a [`Value`]; the structured ones are checked to parse as one
/// and read into the same typed models (from text, which only refuses more:
/// a member given twice).
impl OpValue for RawValue {
    fn check(&self, endpoint: Endpoint, rule: &Rule) -> std::result::Result<(), String> {
        let text = self.get();
        let typed = |e: serde_json::Error| e.to_string();
        let structured = matches!(
            rule.kind,
            ValueKind::Errors | ValueKind::Schedule | ValueKind::Notifications | ValueKind::Filters
        );
        // The typed read below must succeed too for `surely_a_value` to hold.
        if structured && !surely_a_value(text) && !parses_as_value(text) {
            return Err("not a JSON value".into());
        }
        match rule.kind {
            ValueKind::Errors => serde_json::from_str::<ErrorReport>(text)
                .map(|_| ())
                .map_err(typed),
            ValueKind::Schedule => match serde_json::from_str::<Option<Schedule>>(text) {
                Ok(Some(schedule)) => schedule.validate().map_err(|e| e.to_string()),
                Ok(None) => Ok(()),
                Err(e) => Err(typed(e)),
            },
            ValueKind::Notifications => {
                let list = serde_json::from_str::<Vec<Notification>>(text).map_err(typed)?;
                validate_notifications(&list).map_err(|e| e.to_string())
            }
            ValueKind::Filters => serde_json::from_str::<Vec<PathFilter>>(text)
                .map(|_| ())
                .map_err(typed),
            _ => check_value(endpoint, rule, &serde_json::from_str(text).map_err(typed)?),
        }
    }

    fn state_name(&self) -> Option<Cow<'_, str>> {
        serde_json::from_str::<Cow<'_, str>>(self.get()).ok()
    }
}

fn rejected(index: usize, path: &str, reason: impl Into<String>) -> Error {
    Error::PatchRejected {
        index: Some(index),
        path: Some(path.to_string()),
        reason: reason.into(),
    }
}

/// Validates `patch` for `endpoint` against the current `resource` and, if the
/// whole patch is acceptable, returns the patched resource. Nothing is
/// applied unless everything is valid.
///
/// Errors: [`Error::PatchRejected`] (400: which operation and why),
/// [`Error::PatchConflict`] (409: the resource's state forbids changes),
/// [`Error::PatchForbidden`] (403: e.g. a vault region change on a non-empty vault).
pub fn validate_patch(
    endpoint: Endpoint,
    resource: &Value,
    patch: &Patch,
    context: PatchContext,
) -> Result<Value> {
    let views = op_views(patch);
    let checked = check_patch(endpoint, resource, &views, context)?;
    let mut next = resource.clone();
    apply_checked(endpoint, &mut next, &checked, None)?;
    check_patched(endpoint, &next)?;
    Ok(next)
}

/// [`validate_patch`] on a resource the caller no longer needs: patched
/// where it is instead of on a copy (the result and errors are the same).
pub(crate) fn validate_owned_patch(
    endpoint: Endpoint,
    mut resource: Value,
    patch: &Patch,
    context: PatchContext,
) -> Result<Value> {
    let views = op_views(patch);
    let checked = check_patch(endpoint, &resource, &views, context)?;
    apply_checked(endpoint, &mut resource, &checked, None)?;
    check_patched(endpoint, &resource)?;
    Ok(resource)
}

/// Everything [`validate_patch`] checks before applying: the operations,
/// who sends them, their values, the state changes and the vault.
fn check_patch<'p, V: OpValue + ?Sized>(
    endpoint: Endpoint,
    resource: &dyn ResourceMembers,
    ops: &[OpView<'p, V>],
    context: PatchContext,
) -> Result<Vec<Checked<'p, V>>> {
    if ops.is_empty() {
        return Err(Error::PatchRejected {
            index: None,
            path: None,
            reason: "the patch has no operations".into(),
        });
    }
    // A finished resource accepts no change at all, whatever the patch says.
    // Read once: a host may fetch each member from elsewhere (wasm: from JS).
    let state = match endpoint {
        Endpoint::Configuration | Endpoint::Agent => None,
        _ => resource.member("/state"),
    };
    let state = state.as_deref();
    check_conflict(endpoint, state)?;
    let checked = check_operations(endpoint, ops, context.actor)?;
    check_states(endpoint, state, &checked, context.actor)?;
    if endpoint == Endpoint::Agent
        && checked.iter().any(|c| c.rule.path == "/vault/region")
        && context.vault_empty != Some(true)
    {
        return Err(Error::PatchForbidden {
            message: "The vault property (region) cannot be updated, reason: vault is not empty."
                .into(),
        });
    }
    Ok(checked)
}

/// Applies the checked operations to `doc` at their normal paths, in patch
/// order. `add` and `replace` are synonyms where both are accepted (so
/// `add` semantics, which also create the member); where only `replace` is,
/// RFC 6902's replace requires the member. On an error `doc` may be half
/// patched: callers work on a copy or drop it.
///
/// With `undo`, each applied operation pushes its path and the member's
/// previous value (`None`: there was none), for [`restore_member`].
fn apply_checked(
    endpoint: Endpoint,
    doc: &mut Value,
    checked: &[Checked<'_>],
    mut undo: Option<&mut Vec<(&'static str, Option<Value>)>>,
) -> Result<()> {
    let add = endpoint.accepts_add();
    for c in checked {
        let value = c.value.clone();
        // The usual case, done here: the member's parent (`add`) or the
        // member itself (`replace`) exists, in an object. Anything else is
        // left to json-patch, so its outcome and message are json-patch's.
        let value = if add {
            match split_parent(c.rule.path) {
                Some((parent, key)) => match doc.pointer_mut(parent) {
                    Some(Value::Object(members)) => {
                        let previous = members.insert(key.to_string(), value);
                        if let Some(undo) = undo.as_deref_mut() {
                            undo.push((c.rule.path, previous));
                        }
                        continue;
                    }
                    _ => value,
                },
                None => value,
            }
        } else {
            match doc.pointer_mut(c.rule.path) {
                Some(slot) => {
                    let previous = std::mem::replace(slot, value);
                    if let Some(undo) = undo.as_deref_mut() {
                        undo.push((c.rule.path, Some(previous)));
                    }
                    continue;
                }
                None => value,
            }
        };
        let previous = undo.is_some().then(|| doc.pointer(c.rule.path).cloned());
        let path = PointerBuf::parse(c.rule.path)
            .map_err(|e| rejected(c.index, c.rule.path, e.to_string()))?;
        let op = if add {
            PatchOperation::Add(AddOperation { path, value })
        } else {
            PatchOperation::Replace(ReplaceOperation { path, value })
        };
        json_patch::patch_unsafe(doc, std::slice::from_ref(&op)).map_err(|e| {
            Error::PatchRejected {
                index: Some(c.index),
                path: Some(e.path.as_str().to_string()),
                reason: e.kind.to_string(),
            }
        })?;
        if let (Some(undo), Some(previous)) = (undo.as_deref_mut(), previous) {
            undo.push((c.rule.path, previous));
        }
    }
    Ok(())
}

/// A rule's path split before its last token: (`/vault`, `region`). Rule
/// paths have no escaped (`~`) tokens, so each token is the member's name.
fn split_parent(path: &'static str) -> Option<(&'static str, &'static str)> {
    debug_assert!(!path.contains('~'), "{path}");
    path.rfind('/').map(|i| (&path[..i], &path[i + 1..]))
}

/// What the patched resource must satisfy as a whole.
fn check_patched(endpoint: Endpoint, next: &dyn ResourceMembers) -> Result<()> {
    check_times(next)?;
    if endpoint == Endpoint::Configuration {
        check_filters(next)?;
    }
    Ok(())
}

/// [`validate_patch`] in place: on success `resource` becomes the patched
/// resource; on any error it is left exactly as it was.
pub fn apply_patch_in_place(
    endpoint: Endpoint,
    resource: &mut Value,
    patch: &Patch,
    context: PatchContext,
) -> Result<()> {
    let views = op_views(patch);
    let checked = check_patch(endpoint, resource, &views, context)?;
    // Patched where it is, not on a copy; on an error every applied
    // operation is undone, in reverse order.
    let mut undo = Vec::with_capacity(checked.len());
    let outcome = apply_checked(endpoint, resource, &checked, Some(&mut undo))
        .and_then(|()| check_patched(endpoint, resource));
    if outcome.is_err() {
        for (path, previous) in undo.into_iter().rev() {
            restore_member(resource, path, previous);
        }
    }
    outcome
}

/// [`validate_patch`] for a resource read member by member: checks `patch`
/// exactly as [`validate_patch`] would and returns the members to set, in
/// patch order, so that setting them on a copy of the resource gives the
/// patched resource. Nothing else of the resource is read. The values are
/// moved out of `patch`.
///
/// `Ok(None)`: the patch is acceptable so far but cannot be applied as
/// member edits (a parent that is not an object, a replaced member that is
/// not there). [`validate_patch`] on the whole resource then gives the
/// outcome (json-patch's refusal).
///
/// Errors: those of [`validate_patch`], the same for the same resource.
pub fn plan_member_edits(
    endpoint: Endpoint,
    resource: &dyn ResourceMembers,
    patch: Patch,
    context: PatchContext,
) -> Result<Option<Vec<MemberEdit>>> {
    let targets: Vec<(usize, &'static str)> =
        check_patch(endpoint, resource, &op_views(&patch), context)?
            .iter()
            .map(|c| (c.index, c.rule.path))
            .collect();
    let add = endpoint.accepts_add();
    let mut ops = patch.0;
    let mut edits = Vec::with_capacity(targets.len());
    for (index, path) in targets {
        let Some((parent, key)) = split_parent(path) else {
            return Ok(None);
        };
        // What apply_checked does itself; the rest it leaves to json-patch.
        if !(resource.is_object(parent) && (add || resource.member(path).is_some())) {
            return Ok(None);
        }
        let value = match ops.get_mut(index) {
            Some(PatchOperation::Add(op)) => std::mem::take(&mut op.value),
            Some(PatchOperation::Replace(op)) => std::mem::take(&mut op.value),
            // check_operations admits no other operation.
            _ => Value::Null,
        };
        edits.push(MemberEdit {
            path,
            parent,
            key,
            index,
            value,
        });
    }
    check_patched(
        endpoint,
        &Edited {
            base: resource,
            edits: &edits,
        },
    )?;
    Ok(Some(edits))
}

/// [`plan_member_edits`] on a patch's JSON text, for the usual patch (all
/// of its operations `add` or `replace` objects) when the policy accepts it:
/// the members to set as [`edits_json`] text (no [`Value`] is built for the
/// operations' values: the host takes them from its patch). `None`
/// for anything else, refusals included: [`plan_member_edits`] then decides,
/// with its messages. What this accepts, [`plan_member_edits`] accepts with
/// the same edits.
pub fn plan_raw_member_edits(
    endpoint: Endpoint,
    resource: &dyn ResourceMembers,
    patch: &[u8],
    context: PatchContext,
) -> Option<String> {
    let ops = raw_add_replace_ops(patch)?;
    let views: Vec<OpView<'_, RawValue>> = ops
        .iter()
        .map(|op| OpView {
            kind: if op.add { OpKind::Add } else { OpKind::Replace },
            path: &op.path,
            value: op.value,
        })
        .collect();
    let checked = check_patch(endpoint, resource, &views, context).ok()?;
    let add = endpoint.accepts_add();
    let mut edits = Vec::with_capacity(checked.len());
    for c in &checked {
        let (parent, key) = split_parent(c.rule.path)?;
        // As plan_member_edits decides.
        if !(resource.is_object(parent) && (add || resource.member(c.rule.path).is_some())) {
            return None;
        }
        edits.push(RawMemberEdit {
            path: c.rule.path,
            parent,
            key,
            index: c.index,
            value: c.value,
        });
    }
    let patched = RawEdited {
        base: resource,
        edits: &edits,
    };
    check_patched(endpoint, &patched).ok()?;
    Some(raw_edits_json(&edits))
}

/// Puts back the member at a rule's `path` as it was before an operation:
/// its previous value, or no member at all.
fn restore_member(doc: &mut Value, path: &'static str, previous: Option<Value>) {
    match previous {
        Some(value) => {
            if let Some(slot) = doc.pointer_mut(path) {
                *slot = value;
            }
        }
        None => {
            if let Some((parent, key)) = split_parent(path) {
                if let Some(Value::Object(members)) = doc.pointer_mut(parent) {
                    // The operation appended it: removing it keeps the others' order.
                    members.shift_remove(key);
                }
            }
        }
    }
}

/// [`validate_patch`] on a typed resource: serialises it, validates and
/// applies the patch, and parses the result back, so the new resource is
/// also checked against the typed model.
pub fn apply_typed_patch<T: Serialize + DeserializeOwned>(
    endpoint: Endpoint,
    resource: &T,
    patch: &Patch,
    context: PatchContext,
) -> Result<T> {
    let value = serde_json::to_value(resource).map_err(|e| Error::json(endpoint.as_str(), &e))?;
    let next = validate_patch(endpoint, &value, patch, context)?;
    serde_json::from_value(next).map_err(|e| Error::PatchRejected {
        index: None,
        path: None,
        reason: format!("the patched {endpoint} would be invalid: {e}"),
    })
}

fn check_operations<'p, V: OpValue + ?Sized>(
    endpoint: Endpoint,
    ops: &[OpView<'p, V>],
    actor: Actor,
) -> Result<Vec<Checked<'p, V>>> {
    let mut checked = Vec::with_capacity(ops.len());
    for (index, op) in ops.iter().enumerate() {
        let rule = operation_rule(endpoint, index, op.kind, op.path, actor)?;
        op.value
            .check(endpoint, rule)
            .map_err(|reason| rejected(index, rule.path, reason))?;
        checked.push(Checked {
            index,
            rule,
            value: op.value,
        });
    }
    Ok(checked)
}

/// The rule an operation is checked by, once its kind, path and sender are
/// allowed. (Not generic, so that its messages are in the module once.)
fn operation_rule(
    endpoint: Endpoint,
    index: usize,
    kind: OpKind,
    path: &str,
    actor: Actor,
) -> Result<&'static Rule> {
    match kind {
        OpKind::Replace => {}
        OpKind::Add if endpoint.accepts_add() => {}
        other => {
            let allowed = if endpoint.accepts_add() {
                "`add` or `replace`"
            } else {
                "`replace`"
            };
            let name = match other {
                OpKind::Add => "add",
                OpKind::Replace => "replace",
                OpKind::Other(name) => name,
            };
            return Err(rejected(
                index,
                path,
                format!("`{name}` is not allowed on a {endpoint}; use {allowed}"),
            ));
        }
    }
    let rule = endpoint
        .rules()
        .iter()
        .find(|r| r.path == path || r.aliases.contains(&path))
        .ok_or_else(|| {
            rejected(
                index,
                path,
                format!(
                    "this path cannot be patched on a {endpoint}; patchable paths: {}",
                    endpoint.patchable_paths().join(", ")
                ),
            )
        })?;
    if !rule.actors.contains(&actor) {
        return Err(rejected(
            index,
            rule.path,
            format!("a {actor} may not change {} of a {endpoint}", rule.path),
        ));
    }
    Ok(rule)
}

fn check_value(endpoint: Endpoint, rule: &Rule, value: &Value) -> std::result::Result<(), String> {
    let want = |what: &str| format!("expected {what}, got {value}");
    match rule.kind {
        ValueKind::State => {
            let name = value.as_str().ok_or_else(|| want("a state name"))?;
            let known = match endpoint {
                Endpoint::Restore => parse_wire_name::<RestoreState>(name).map(|_| ()),
                Endpoint::Backup => parse_wire_name::<BackupState>(name).map(|_| ()),
                Endpoint::Cleanup => parse_wire_name::<CleanupState>(name).map(|_| ()),
                Endpoint::Logfile => parse_wire_name::<LogfileState>(name).map(|_| ()),
                Endpoint::Configuration | Endpoint::Agent => {
                    return Err(format!("a {endpoint} has no state"))
                }
            };
            known.map_err(|e| e.to_string())
        }
        ValueKind::Time => {
            let s = value
                .as_str()
                .ok_or_else(|| want("an ISO-8601 time string"))?;
            Timestamp::parse(s).map(|_| ()).map_err(|e| e.to_string())
        }
        ValueKind::Count => value
            .as_u64()
            .map(|_| ())
            .ok_or_else(|| want("a non-negative integer")),
        ValueKind::Schedule => match Option::<Schedule>::deserialize(value) {
            Ok(Some(schedule)) => schedule.validate().map_err(|e| e.to_string()),
            Ok(None) => Ok(()),
            Err(e) => Err(format!("not a schedule: {e}")),
        },
        ValueKind::Notifications => {
            let list = Vec::<Notification>::deserialize(value)
                .map_err(|e| format!("not a list of notifications: {e}"))?;
            validate_notifications(&list).map_err(|e| e.to_string())
        }
        ValueKind::CountList => match value.as_array() {
            Some(items) if items.iter().all(|v| v.as_u64().is_some()) => Ok(()),
            _ => Err(want("a list of non-negative integers")),
        },
        ValueKind::Errors => ErrorReport::deserialize(value)
            .map(|_| ())
            .map_err(|e| format!("not an error report: {e}")),
        ValueKind::Bool => value
            .as_bool()
            .map(|_| ())
            .ok_or_else(|| want("true or false")),
        ValueKind::Text => match value.as_str() {
            Some(s) if !s.trim().is_empty() => Ok(()),
            _ => Err(want("a non-empty string")),
        },
        ValueKind::Filters => Vec::<PathFilter>::deserialize(value)
            .map(|_| ())
            .map_err(|e| format!("not a list of {{type, path}} filters: {e}")),
        ValueKind::Region => {
            let name = value.as_str().ok_or_else(|| want("a region code"))?;
            parse_wire_name::<Datacenter>(name)
                .map(|_| ())
                .map_err(|e| e.to_string())
        }
        ValueKind::LogLevel => {
            let name = value.as_str().ok_or_else(|| want("a log level name"))?;
            parse_wire_name::<LogLevel>(name)
                .map(|_| ())
                .map_err(|e| e.to_string())
        }
    }
}

/// The current state (the resource's `/state` member), parsed as `S`.
fn current_state<S: Lifecycle>(endpoint: Endpoint, state: Option<&Value>) -> Result<S> {
    let name = state
        .and_then(Value::as_str)
        .ok_or_else(|| Error::InvalidValue {
            field: format!("{endpoint}.state"),
            reason: "the resource has no state".into(),
        })?;
    parse_wire_name::<S>(name)
}

fn conflict_message<S: Lifecycle>(endpoint: Endpoint) -> String {
    let terminal: Vec<String> = S::terminal_states()
        .iter()
        .map(|s| format!("'{}'", s.wire_name()))
        .collect();
    format!(
        "Modifying a {endpoint} that is already in a state of [{}] is not allowed.",
        terminal.join(", ")
    )
}

/// A resource in a terminal state accepts no change at all (409).
fn check_conflict(endpoint: Endpoint, current: Option<&Value>) -> Result<()> {
    fn check<S: Lifecycle>(endpoint: Endpoint, current: Option<&Value>) -> Result<()> {
        let state = current_state::<S>(endpoint, current)?;
        if state.is_terminal() {
            return Err(Error::PatchConflict {
                state: state.wire_name().to_string(),
                message: conflict_message::<S>(endpoint),
            });
        }
        Ok(())
    }
    match endpoint {
        Endpoint::Restore => check::<RestoreState>(endpoint, current),
        Endpoint::Backup => check::<BackupState>(endpoint, current),
        Endpoint::Cleanup => check::<CleanupState>(endpoint, current),
        Endpoint::Logfile => check::<LogfileState>(endpoint, current),
        Endpoint::Configuration | Endpoint::Agent => Ok(()),
    }
}

/// Runs every `/state` operation through the lifecycle, in patch order, and
/// forbids a user from changing anything but the state to stop-requested.
fn check_states<V: OpValue + ?Sized>(
    endpoint: Endpoint,
    current: Option<&Value>,
    ops: &[Checked<'_, V>],
    actor: Actor,
) -> Result<()> {
    if matches!(endpoint, Endpoint::Configuration | Endpoint::Agent) {
        return Ok(());
    }
    // The state operations' targets, read here so that the lifecycle's part
    // is not compiled once per kind of value.
    let targets: Vec<(usize, &'static str, Cow<'_, str>)> = ops
        .iter()
        .filter(|c| c.rule.kind == ValueKind::State)
        .map(|c| {
            (
                c.index,
                c.rule.path,
                c.value.state_name().unwrap_or_default(),
            )
        })
        .collect();
    check_state_sequence(endpoint, current, &targets, actor)
}

/// [`check_states`] on each state operation's (index, path, target name).
fn check_state_sequence(
    endpoint: Endpoint,
    current: Option<&Value>,
    targets: &[(usize, &'static str, Cow<'_, str>)],
    actor: Actor,
) -> Result<()> {
    fn run<S: Lifecycle>(
        endpoint: Endpoint,
        current: Option<&Value>,
        targets: &[(usize, &'static str, Cow<'_, str>)],
        actor: Actor,
    ) -> Result<()> {
        let mut state = current_state::<S>(endpoint, current)?;
        for (index, path, name) in targets {
            let target =
                parse_wire_name::<S>(name).map_err(|e| rejected(*index, path, e.to_string()))?;
            // The resource is not terminal (checked before), so any refusal
            // here is about this patch's own sequence of states: a 400.
            state = transition(state, target, actor)
                .map_err(|e| rejected(*index, path, e.to_string()))?
                .state();
        }
        Ok(())
    }
    match endpoint {
        Endpoint::Restore => run::<RestoreState>(endpoint, current, targets, actor),
        Endpoint::Backup => run::<BackupState>(endpoint, current, targets, actor),
        Endpoint::Cleanup => run::<CleanupState>(endpoint, current, targets, actor),
        Endpoint::Logfile => run::<LogfileState>(endpoint, current, targets, actor),
        Endpoint::Configuration | Endpoint::Agent => Ok(()),
    }
}

/// Inclusions and exclusions must stay consistent with each other.
fn check_filters(resource: &dyn ResourceMembers) -> Result<()> {
    let filters = |k: &str| -> Result<Vec<PathFilter>> {
        match resource.member(&format!("/{k}")).as_deref() {
            None | Some(Value::Null) => Ok(Vec::new()),
            Some(v) => Vec::<PathFilter>::deserialize(v).map_err(|e| Error::PatchRejected {
                index: None,
                path: Some(format!("/{k}")),
                reason: e.to_string(),
            }),
        }
    };
    validate_path_filters(&filters("inclusions")?, &filters("exclusions")?).map_err(|e| {
        Error::PatchRejected {
            index: None,
            path: None,
            reason: e.to_string(),
        }
    })
}

/// A run cannot end before it started.
fn check_times(resource: &dyn ResourceMembers) -> Result<()> {
    let time = |path: &str| {
        resource
            .member(path)
            .as_deref()
            .and_then(Value::as_str)
            .and_then(|s| Timestamp::parse(s).ok())
    };
    if let (Some(start), Some(end)) = (time("/started_time"), time("/ended_time")) {
        if end < start {
            return Err(Error::PatchRejected {
                index: None,
                path: Some("/ended_time".into()),
                reason: format!("ended_time {end} is before started_time {start}"),
            });
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::patch::{apply_patch, edits_json, parse_patch, patch_from_value};
    use crate::wire::WireName;
    use serde_json::json;

    /// `validate_patch` as it was before it applied operations itself: the
    /// normalised patch through JSON and `apply_patch` on a copy.
    fn reference(
        endpoint: Endpoint,
        resource: &Value,
        patch: &Patch,
        context: PatchContext,
    ) -> Result<Value> {
        let views = op_views(patch);
        let checked = check_patch(endpoint, resource, &views, context)?;
        let normalised = Patch(
            checked
                .iter()
                .map(|c| {
                    let name = if endpoint.accepts_add() {
                        "add"
                    } else {
                        "replace"
                    };
                    let op = json!({"op": name, "path": c.rule.path, "value": c.value});
                    serde_json::from_value::<PatchOperation>(op)
                        .map_err(|e| rejected(c.index, c.rule.path, e.to_string()))
                })
                .collect::<Result<_>>()?,
        );
        let mut next = resource.clone();
        apply_patch(&mut next, &normalised)?;
        check_patched(endpoint, &next)?;
        Ok(next)
    }

    /// Sets planned member edits the way a host would: on the parent object.
    fn set_members(doc: &mut Value, edits: &[MemberEdit]) {
        for edit in edits {
            match doc.pointer_mut(edit.parent) {
                Some(Value::Object(members)) => {
                    members.insert(edit.key.to_string(), edit.value.clone());
                }
                other => panic!("a planned edit's parent is not an object: {other:?}"),
            }
        }
    }

    /// [`set_members`] from [`edits_json`] text, the values taken from the
    /// operations of `patch` (its JSON) as a host does.
    fn set_members_json(doc: &mut Value, edits: &str, patch: &Value) {
        let edits: Vec<(String, String, usize)> =
            serde_json::from_str(edits).expect("edits JSON is a list of triples");
        for (parent, key, index) in edits {
            let value = patch[index]["value"].clone();
            match doc.pointer_mut(&parent) {
                Some(Value::Object(members)) => {
                    members.insert(key, value);
                }
                other => panic!("a planned edit's parent is not an object: {other:?}"),
            }
        }
    }

    fn sample(name: &str) -> Value {
        let path = format!(
            "{}/../tests/data/rackspace/samples-v2/{name}",
            env!("CARGO_MANIFEST_DIR")
        );
        serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap()
    }

    /// Resources of each endpoint, usual and odd (no parent object for a
    /// nested path, not an object at all).
    fn resources(endpoint: Endpoint) -> Vec<Value> {
        let mut list = vec![json!(null), json!([]), json!({})];
        let stateful = |sample_name: &str, states: &[&str]| {
            let mut out = Vec::new();
            for state in states {
                let mut r = sample(sample_name);
                r["state"] = json!(state);
                out.push(r.clone());
                r["ended_time"] = Value::Null;
                r["errors"] = Value::Null;
                out.push(r);
            }
            out.push(json!({"state": states[0]}));
            out
        };
        list.extend(match endpoint {
            Endpoint::Restore => stateful(
                "cbu-getRestoreDetails_response.json",
                &["queued", "in_progress", "completed"],
            ),
            Endpoint::Backup => stateful(
                "cbu-getBackupDetails_response.json",
                &["queued", "in_progress", "failed"],
            ),
            Endpoint::Cleanup => stateful(
                "cbu-getCleanupDetails_response.json",
                &["queued", "in_progress"],
            ),
            Endpoint::Logfile => stateful(
                "cbu-getAgentLogfileDetails_response.json",
                &["requested", "started"],
            ),
            Endpoint::Configuration => vec![
                sample("cbu-getConfigurationDetails_response.json"),
                json!({"name": "n", "retention": 3}),
                json!({"retention": [1], "inclusions": [{"type": "folder", "path": "/a/"}]}),
                json!({"exclusions": [{"type": "folder", "path": "/"}]}),
            ],
            Endpoint::Agent => vec![
                sample("cbu-getAgentDetails_response.json"),
                json!({"vault": {"region": "DFW"}}),
                json!({"vault": null}),
                json!({"vault": ["DFW"]}),
            ],
        });
        list
    }

    /// Values of every kind the rules check, good and bad.
    fn values() -> Vec<Value> {
        let restore = sample("cbu-getRestoreDetails_response.json");
        let configuration = sample("cbu-getConfigurationDetails_response.json");
        let mut list = vec![
            json!(null),
            json!(true),
            json!(0),
            json!(-1),
            json!(2.5),
            json!(""),
            json!("DFW"),
            json!("MARS"),
            json!("debug"),
            json!([1, 2]),
            json!([1, -2]),
            json!({}),
            json!({"count": 1}),
            json!([{"type": "folder", "path": "/x/"}]),
            json!([{"type": "file"}]),
            json!("2014-10-20T13:11:58.985151Z"),
            json!("2014-10-20T13:12:58Z"),
            json!("2014-10-20T13:10:00Z"),
            json!("2014-13-20T13:10:00Z"),
            json!("stop_requested"),
            json!("completed"),
            json!("started"),
        ];
        list.push(restore["errors"].clone());
        for key in ["schedule", "notifications", "inclusions", "exclusions"] {
            list.push(configuration[key].clone());
        }
        list
    }

    /// Each actor; for agents also each answer to "is the vault empty".
    fn contexts(endpoint: Endpoint) -> Vec<PatchContext> {
        let vault = match endpoint {
            Endpoint::Agent => &[None, Some(false), Some(true)][..],
            _ => &[None],
        };
        let mut list = Vec::new();
        for &actor in Actor::ALL {
            for &vault_empty in vault {
                list.push(PatchContext { actor, vault_empty });
            }
        }
        list
    }

    /// Patches for `endpoint`: each path (normal, alias, unknown) with each
    /// value and operation, two-operation patches, and the reference's own.
    fn patches(endpoint: Endpoint) -> Vec<Value> {
        let mut paths: Vec<&str> = vec!["/nope", "/id", ""];
        for rule in endpoint.rules() {
            paths.push(rule.path);
            paths.extend(rule.aliases);
        }
        let values = values();
        let mut list = vec![json!([]), json!({})];
        for path in &paths {
            for op in ["add", "replace", "remove", "test"] {
                for value in &values {
                    list.push(json!([{"op": op, "path": path, "value": value}]));
                }
            }
        }
        for a in &paths {
            for b in &paths {
                for value in &values[15..] {
                    list.push(json!([
                        {"op": "replace", "path": a, "value": value},
                        {"op": "add", "path": b, "value": value}
                    ]));
                }
            }
        }
        let name = match endpoint {
            Endpoint::Restore => "Restore",
            Endpoint::Backup => "Backup",
            Endpoint::Cleanup => "Cleanup",
            Endpoint::Configuration => "Configuration",
            Endpoint::Agent => "Agent",
            Endpoint::Logfile => "Logfile",
        };
        list.push(sample(&format!("cbu-update{name}_request.json")));
        list
    }

    #[test]
    fn outcomes_are_those_of_applying_through_json_patch() {
        let (mut compared, mut accepted, mut refused_by_json_patch) = (0, 0, 0);
        let (mut planned, mut unplanned, mut raw_planned) = (0, 0, 0);
        for &endpoint in Endpoint::ALL {
            let resources = resources(endpoint);
            for patch in patches(endpoint) {
                let text = patch.to_string();
                let json = patch.clone();
                let Ok(patch) = patch_from_value(patch) else {
                    continue;
                };
                for resource in &resources {
                    for context in contexts(endpoint) {
                        let want = reference(endpoint, resource, &patch, context);
                        match &want {
                            Ok(_) => accepted += 1,
                            Err(Error::PatchRejected { reason, .. })
                                if reason == "path is invalid" =>
                            {
                                refused_by_json_patch += 1
                            }
                            Err(_) => {}
                        }
                        let want = format!("{want:?}");
                        let got = validate_patch(endpoint, resource, &patch, context);
                        assert_eq!(format!("{got:?}"), want, "{endpoint} {resource} {patch:?}");
                        let owned =
                            validate_owned_patch(endpoint, resource.clone(), &patch, context);
                        assert_eq!(format!("{owned:?}"), want);
                        // In place: the same value, or the same error and no change.
                        let mut in_place = resource.clone();
                        match apply_patch_in_place(endpoint, &mut in_place, &patch, context) {
                            Ok(()) => assert_eq!(format!("{:?}", Ok::<_, Error>(&in_place)), want),
                            Err(e) => {
                                assert_eq!(format!("{:?}", Err::<Value, _>(e)), want);
                                assert_eq!(format!("{in_place:?}"), format!("{resource:?}"));
                            }
                        }
                        // Member by member: the same value once the edits are
                        // set on a copy, the same error, or (only where the
                        // whole-resource path is refused) no plan.
                        match plan_member_edits(endpoint, resource, patch.clone(), context) {
                            Ok(Some(edits)) => {
                                let mut edited = resource.clone();
                                set_members(&mut edited, &edits);
                                assert_eq!(format!("{:?}", Ok::<_, Error>(&edited)), want);
                                // The same edits written as the hosts read them.
                                let mut from_json = resource.clone();
                                set_members_json(&mut from_json, &edits_json(&edits), &json);
                                assert_eq!(from_json, edited);
                                planned += 1;
                            }
                            Ok(None) => {
                                assert!(want.starts_with("Err(PatchRejected"), "{want}");
                                unplanned += 1;
                            }
                            Err(e) => assert_eq!(format!("{:?}", Err::<Value, _>(e)), want),
                        }
                        // From the patch's text without building its values:
                        // only accepted patches, with the same result.
                        if let Some(edits) =
                            plan_raw_member_edits(endpoint, resource, text.as_bytes(), context)
                        {
                            let mut edited = resource.clone();
                            set_members_json(&mut edited, &edits, &json);
                            assert_eq!(format!("{:?}", Ok::<_, Error>(&edited)), want);
                            raw_planned += 1;
                        }
                        compared += 1;
                    }
                }
            }
        }
        println!("member edits: {planned} planned ({raw_planned} from the patch's text), {unplanned} left to the whole resource");
        assert!(planned > 1000 && unplanned > 10, "{planned} {unplanned}");
        // Every patch planned here is a plain one of `add`/`replace` objects.
        assert_eq!(raw_planned, planned);
        // The corpus reaches both ways out: accepted, and refused by json-patch.
        println!("{compared} compared, {accepted} accepted, {refused_by_json_patch} refused by json-patch");
        assert!(compared > 200_000, "{compared}");
        assert!(accepted > 1000, "{accepted}");
        assert!(refused_by_json_patch > 10, "{refused_by_json_patch}");
    }

    /// The patch-text plan on patches where reading a value as text and
    /// building it differ (limits, member given twice) or where text needs
    /// unescaping: it plans only what the parsed patch accepts, the same way.
    #[test]
    fn raw_plans_only_what_the_parsed_patch_accepts() {
        let mut restore = sample("cbu-getRestoreDetails_response.json");
        restore["state"] = json!("in_progress");
        restore["errors"] = Value::Null;
        restore["ended_time"] = Value::Null;
        let context = PatchContext::new(Actor::Agent);
        let errors = |extra: &str| {
            format!(
                r#"[{{"op":"add","path":"/errors","value":{{"count":1,"reason":null,"diagnostics":null{extra}}}}}]"#
            )
        };
        let deep = format!("{}1{}", "[".repeat(130), "]".repeat(130));
        let cases: Vec<(String, bool)> = vec![
            // Planned from the text.
            (errors(""), true),
            (errors(r#","x":1e300"#), true),
            (errors(r#","x":{"y":1,"y":2}"#), true),
            (r#"[{"op":"replace","path":"/state","value":"\u0063ompleted"}]"#.into(), true),
            (r#"[{"op":"add","path":"/st\u0061rted_time","value":"2014-10-20T13:11:58Z"}]"#.into(), true),
            (r#"[{"op":"add","path":"/started-time","value":"2014-10-20T13:11:58Z","from":"/x"}]"#.into(), true),
            // Where `surely_a_value` says nothing, `parses_as_value` decides.
            (errors(r#","x":"\ud800\udc00""#), true),
            (errors(r#","x":"1e5 is not a number here""#), true),
            (errors(&format!(r#","x":{}"#, "9".repeat(300))), true),
            (errors(&format!(r#","x":{}1{}"#, "[".repeat(98), "]".repeat(98))), true),
            // Left to the parsed patch (which refuses them or says why).
            (errors(r#","x":1e400"#), false),
            (errors(r#","x":[1E400]"#), false),
            (errors(&format!(r#","x":{}"#, "9".repeat(400))), false),
            (errors(&format!(r#","x":{}1{}"#, "[".repeat(127), "]".repeat(127))), false),
            (errors(&format!(r#","x":{deep}"#)), false),
            (errors(r#","count":2"#), false),
            (r#"[{"op":"add","path":"/errors","value":null}]"#.into(), false),
            (r#"[{"op":"test","path":"/state","value":"in_progress"}]"#.into(), false),
            (r#"[["add","/state","completed"]]"#.into(), false),
            (r#"[{"op":"add","path":"/state","value":"completed","from":5}]"#.into(), false),
            (r#"[{"op":"add","path":"/state","value":"completed","value":"failed"}]"#.into(), false),
            (r#"[{"op":"add","path":"/state","value":"nope"}]"#.into(), false),
            (r#"[{"op":"add","path":"/state","value":"completed","why":1e400}]"#.into(), false),
            (r#"[{"op":"add","path":"/state","value":"completed","why":1}]"#.into(), false),
            (errors(r#","x":"\ud800""#), false),
            (r#"[{"op":"add","path":"/state","value":"\ud800"}]"#.into(), false),
            (r#"[]"#.into(), false),
        ];
        for (text, planned) in cases {
            let raw = plan_raw_member_edits(Endpoint::Restore, &restore, text.as_bytes(), context);
            assert_eq!(raw.is_some(), planned, "{text}");
            let parsed = parse_patch(text.as_bytes())
                .and_then(|patch| validate_patch(Endpoint::Restore, &restore, &patch, context));
            if let Some(edits) = raw {
                let json: Value = serde_json::from_str(&text).expect("a planned patch is JSON");
                let mut edited = restore.clone();
                set_members_json(&mut edited, &edits, &json);
                assert_eq!(Some(&edited), parsed.as_ref().ok(), "{text}");
            }
        }
    }

    #[test]
    fn values_are_checked_as_owned_values_were() {
        fn same<T: DeserializeOwned + std::fmt::Debug>(value: &Value) {
            let borrowed = T::deserialize(value).map_err(|e| e.to_string());
            let owned = serde_json::from_value::<T>(value.clone()).map_err(|e| e.to_string());
            assert_eq!(format!("{borrowed:?}"), format!("{owned:?}"), "{value}");
        }
        let mut values = values();
        let configuration = sample("cbu-getConfigurationDetails_response.json");
        let mut schedule = configuration["schedule"].clone();
        schedule["recurrence"] = json!(["FREQ=SECONDLY"]);
        values.push(schedule);
        values.push(json!({"count": "3", "reason": 1}));
        values.push(json!([{"type": "email", "address": 5}]));
        for value in &values {
            same::<Option<Schedule>>(value);
            same::<Vec<Notification>>(value);
            same::<ErrorReport>(value);
            same::<Vec<PathFilter>>(value);
        }
    }
}
