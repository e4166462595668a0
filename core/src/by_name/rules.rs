//! The lifecycle and JSON Patch rules by name, with JSON in and out, for the
//! bindings: resources, states, actors and endpoints are their wire names,
//! so a binding passes strings through and holds no rule of its own.
//! (Operations by name are in [`operations`](super::operations), model
//! types by name in [`models`](super::models).)
//!
//! An unknown name is an [`Error::InvalidArgument`](crate::Error::InvalidArgument)
//! naming the argument and listing the accepted names; everything else fails
//! as the typed functions do.
//!
//! ```
//! use cloudbackup_core::by_name::{allowed_actions_by_name, transition_by_name};
//! use serde_json::json;
//! let step = transition_by_name("restore", "queued", "in_progress", "agent").unwrap();
//! assert_eq!(step, json!({"changed": true, "state": "in_progress"}));
//! assert_eq!(allowed_actions_by_name("restore", "Creating").unwrap(), ["start", "stop"]);
//! ```

use serde_json::{json, Value};

use crate::error::{from_utf8_json, json_value_from_slice, unknown_name};
use crate::json_text::UniqueKeys;
use crate::lifecycle::{
    allowed_actions, allowed_targets, transition, Action, Actor, BackupState, CleanupState,
    Lifecycle, LogfileState, ResourceKind, RestoreState, Step, V1BackupState, V1RestoreState,
};
use crate::patch::{
    edits_json, parse_patch, plan_member_edits, plan_raw_member_edits, validate_owned_patch,
    Endpoint, PatchContext, ResourceMembers,
};
use crate::wire::WireName;
use crate::Result;

/// The value of `T` called `name` (its wire name, any case), or an error
/// for argument `arg` listing the accepted names.
fn by_name<T: WireName>(arg: &str, what: &str, name: &str) -> Result<T> {
    T::from_wire_name(name)
        .ok_or_else(|| unknown_name(arg, what, name, T::ALL.iter().map(|v| v.wire_name()), ""))
}

/// A lifecycle state that may also be named as v1 spells it.
trait NamedState: Lifecycle {
    /// The state v1 calls `name` (`InProgress`), if v1 has this resource.
    fn from_v1_name(name: &str) -> Option<Self> {
        let _ = name;
        None
    }
}

impl NamedState for RestoreState {
    fn from_v1_name(name: &str) -> Option<Self> {
        V1RestoreState::from_wire_name(name).map(Self::from)
    }
}

impl NamedState for BackupState {
    fn from_v1_name(name: &str) -> Option<Self> {
        V1BackupState::from_wire_name(name).map(Self::from)
    }
}

impl NamedState for CleanupState {}

impl NamedState for LogfileState {}

/// The state called `name`: a v2 wire name, or for restores and backups
/// also the v1 name.
fn state<S: NamedState>(arg: &str, name: &str) -> Result<S> {
    S::from_wire_name(name)
        .or_else(|| S::from_v1_name(name))
        .ok_or_else(|| {
            let what = format!("{} state", S::RESOURCE);
            unknown_name(arg, &what, name, S::ALL.iter().map(|s| s.wire_name()), "")
        })
}

/// Calls the generic `$f::<State>(args)` for the lifecycle of `$kind`.
macro_rules! for_lifecycle {
    ($kind:expr, $f:ident($($arg:expr),*)) => {
        match $kind {
            ResourceKind::Restore => $f::<RestoreState>($($arg),*),
            ResourceKind::Backup => $f::<BackupState>($($arg),*),
            ResourceKind::Cleanup => $f::<CleanupState>($($arg),*),
            ResourceKind::Logfile => $f::<LogfileState>($($arg),*),
        }
    };
}

fn resource_kind(resource: &str) -> Result<ResourceKind> {
    by_name("resource", "resource", resource)
}

fn actor(actor: &str) -> Result<Actor> {
    by_name("actor", "actor", actor)
}

/// Whether `actor` may move a `resource` (`restore`, `backup`, `cleanup`,
/// `logfile`) from state `from` to `to`, as
/// [`lifecycle::transition`](crate::lifecycle::transition) decides.
///
/// States are v2 wire names (`in_progress`); restores and backups also
/// accept v1 names (`InProgress`). Returns `{"changed": bool, "state":
/// "<v2 wire name>"}` (`changed` is false when `to` repeats the current
/// state); a refused transition is
/// [`Error::Transition`](crate::Error::Transition).
pub fn transition_by_name(resource: &str, from: &str, to: &str, actor_name: &str) -> Result<Value> {
    fn run<S: NamedState>(from: &str, to: &str, actor: Actor) -> Result<Value> {
        let step = transition(state::<S>("from", from)?, state::<S>("to", to)?, actor)?;
        Ok(json!({
            "changed": matches!(step, Step::Changed { .. }),
            "state": step.state().wire_name(),
        }))
    }
    let kind = resource_kind(resource)?;
    let actor = actor(actor_name)?;
    for_lifecycle!(kind, run(from, to, actor))
}

/// The actions (`start`, `stop`) a console may offer a user for a
/// `resource` in `state`, as
/// [`lifecycle::allowed_actions`](crate::lifecycle::allowed_actions) decides.
pub fn allowed_actions_by_name(resource: &str, state_name: &str) -> Result<Vec<&'static str>> {
    fn run<S: NamedState>(state_name: &str) -> Result<Vec<&'static str>> {
        let actions = allowed_actions(state::<S>("state", state_name)?);
        Ok(actions.into_iter().map(Action::as_str).collect())
    }
    for_lifecycle!(resource_kind(resource)?, run(state_name))
}

/// The states (v2 wire names) `actor` may move a `resource` to from
/// `state`, no-ops excluded, as
/// [`lifecycle::allowed_targets`](crate::lifecycle::allowed_targets) decides.
pub fn allowed_targets_by_name(
    resource: &str,
    state_name: &str,
    actor_name: &str,
) -> Result<Vec<&'static str>> {
    fn run<S: NamedState>(state_name: &str, actor: Actor) -> Result<Vec<&'static str>> {
        let targets = allowed_targets(state::<S>("state", state_name)?, actor);
        Ok(targets.into_iter().map(|s| s.wire_name()).collect())
    }
    let kind = resource_kind(resource)?;
    let actor = actor(actor_name)?;
    for_lifecycle!(kind, run(state_name, actor))
}

/// A [`JobReporter`](crate::lifecycle::JobReporter) for the job `resource`
/// (JSON) of the endpoint named `endpoint` (`"backup"`, `"restore"` or
/// `"cleanup"`): what the bindings construct.
pub fn job_reporter(endpoint: &str, resource: &[u8]) -> Result<crate::lifecycle::JobReporter> {
    let endpoint: Endpoint = by_name("endpoint", "job endpoint", endpoint)?;
    let resource = json_value_from_slice(&format!("{endpoint} resource"), resource)?;
    crate::lifecycle::JobReporter::new(endpoint, resource)
}

/// Validates a JSON Patch for a v2 PATCH `endpoint` (`restore`, `backup`,
/// `cleanup`, `configuration`, `agent`, `logfile`) against the current
/// `resource` (its JSON), sent by `actor`, and returns the patched resource,
/// as [`patch::validate_patch`](crate::patch::validate_patch) decides.
/// `vault_empty` says whether the agent's vault is empty (only an agent's
/// `/vault/region` depends on it; `None`: unknown, treated as not empty).
///
/// Errors: unknown names are [`Error::InvalidArgument`](crate::Error::InvalidArgument);
/// a `resource` or `patch` that is not JSON is
/// [`Error::InvalidJson`](crate::Error::InvalidJson); a refused patch is
/// [`Error::PatchRejected`](crate::Error::PatchRejected) (400),
/// [`Error::PatchConflict`](crate::Error::PatchConflict) (409) or
/// [`Error::PatchForbidden`](crate::Error::PatchForbidden) (403).
pub fn validate_patch_json(
    endpoint: &str,
    resource: &[u8],
    patch: &[u8],
    actor_name: &str,
    vault_empty: Option<bool>,
) -> Result<Value> {
    let endpoint: Endpoint = by_name("endpoint", "patch endpoint", endpoint)?;
    let actor = actor(actor_name)?;
    // Read as `str` once its UTF-8 is checked (faster), and again from
    // bytes only to describe invalid JSON as every other parse does.
    let resource = match from_utf8_json::<UniqueKeys>(resource) {
        Some(UniqueKeys(value)) => value,
        None => json_value_from_slice(&format!("{endpoint} resource"), resource)?,
    };
    let patch = parse_patch(patch)?;
    validate_owned_patch(
        endpoint,
        resource,
        &patch,
        PatchContext { actor, vault_empty },
    )
}

/// [`validate_patch_json`] for a resource the host reads member by member
/// (a JS object): the same names, checks and errors, but on success the
/// members to set on a copy of the resource instead of the patched resource,
/// as [`edits_json`](crate::patch::edits_json) text (`[[parent, key, value],
/// ...]`, in patch order), as [`plan_member_edits`](crate::patch::plan_member_edits)
/// gives them. `Ok(None)`: those members cannot be set as they are (a
/// parent that is not an object, a replaced member that is not there);
/// [`validate_patch_json`] on the whole resource then says how the patch
/// fails.
pub fn plan_patch_json(
    endpoint: &str,
    resource: &dyn ResourceMembers,
    patch: &[u8],
    actor_name: &str,
    vault_empty: Option<bool>,
) -> Result<Option<String>> {
    let endpoint: Endpoint = by_name("endpoint", "patch endpoint", endpoint)?;
    let actor = actor(actor_name)?;
    let context = PatchContext { actor, vault_empty };
    // The usual accepted patch without building its values; anything else
    // (refusals too) the way that says why.
    if let Some(edits) = plan_raw_member_edits(endpoint, resource, patch, context) {
        return Ok(Some(edits));
    }
    let patch = parse_patch(patch)?;
    Ok(plan_member_edits(endpoint, resource, patch, context)?.map(|edits| edits_json(&edits)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lifecycle::{Rejection, TransitionError};
    use crate::{Error, ErrorCode};

    /// The `InvalidArgument`'s name and reason; panics on any other outcome.
    fn invalid_argument<T: std::fmt::Debug>(result: Result<T>) -> (String, String) {
        match result {
            Err(Error::InvalidArgument { name, reason }) => (name, reason),
            other => panic!("expected an invalid argument: {other:?}"),
        }
    }

    fn refusal(result: Result<Value>) -> TransitionError {
        match result {
            Err(Error::Transition(e)) => e,
            other => panic!("expected a refused transition: {other:?}"),
        }
    }

    #[test]
    fn transitions_by_name_report_the_step() {
        assert_eq!(
            transition_by_name("restore", "queued", "in_progress", "agent").unwrap(),
            json!({"changed": true, "state": "in_progress"})
        );
        assert_eq!(
            transition_by_name("backup", "in_progress", "in_progress", "agent").unwrap(),
            json!({"changed": false, "state": "in_progress"})
        );
        assert_eq!(
            transition_by_name("logfile", "started", "completed", "agent").unwrap(),
            json!({"changed": true, "state": "completed"})
        );
        // v1 names (restores and backups), answered with the v2 name.
        assert_eq!(
            transition_by_name("restore", "Creating", "StartRequested", "user").unwrap(),
            json!({"changed": true, "state": "start_requested"})
        );
        assert_eq!(
            transition_by_name("backup", "InProgress", "StopRequested", "user").unwrap(),
            json!({"changed": true, "state": "stop_requested"})
        );
    }

    #[test]
    fn refused_transitions_are_the_cores_errors() {
        let e = refusal(transition_by_name(
            "restore",
            "completed",
            "failed",
            "agent",
        ));
        assert!(e.is_conflict());
        assert_eq!((e.from, e.to), ("completed", "failed"));
        let e = refusal(transition_by_name(
            "cleanup",
            "in_progress",
            "queued",
            "agent",
        ));
        assert_eq!(e.rejection, Rejection::Backward);
        let e = refusal(transition_by_name("backup", "queued", "completed", "user"));
        assert_eq!(e.rejection, Rejection::NotPermitted);
        let e = transition_by_name("restore", "completed", "failed", "agent").unwrap_err();
        assert_eq!(e.code(), ErrorCode::Transition);
    }

    #[test]
    fn unknown_names_list_the_accepted_ones() {
        let (name, reason) =
            invalid_argument(transition_by_name("restores", "queued", "queued", "user"));
        assert_eq!(name, "resource");
        assert!(
            reason.contains("restore, backup, cleanup, logfile"),
            "{reason}"
        );
        let (name, reason) =
            invalid_argument(transition_by_name("restore", "running", "queued", "user"));
        assert_eq!(name, "from");
        assert!(
            reason.contains("unknown restore state \"running\"")
                && reason.contains("creating, start_requested, queued"),
            "{reason}"
        );
        let (name, _) = invalid_argument(transition_by_name("restore", "queued", "done", "user"));
        assert_eq!(name, "to");
        // Cleanups and log files have no v1 names.
        let (name, _) = invalid_argument(transition_by_name(
            "cleanup",
            "InProgress",
            "Completed",
            "agent",
        ));
        assert_eq!(name, "from");
        let (name, reason) =
            invalid_argument(transition_by_name("restore", "queued", "queued", "robot"));
        assert_eq!(name, "actor");
        assert!(reason.contains("user, agent, scheduler"), "{reason}");
        let (name, _) = invalid_argument(allowed_actions_by_name("vault", "queued"));
        assert_eq!(name, "resource");
        let (name, _) = invalid_argument(allowed_actions_by_name("logfile", "queued"));
        assert_eq!(name, "state");
        let (name, _) = invalid_argument(allowed_targets_by_name("backup", "queued", ""));
        assert_eq!(name, "actor");
        let (name, _) = invalid_argument(allowed_targets_by_name("backup", "", "user"));
        assert_eq!(name, "state");
    }

    #[test]
    fn allowed_actions_and_targets_by_name() {
        assert_eq!(
            allowed_actions_by_name("restore", "creating").unwrap(),
            ["start", "stop"]
        );
        assert_eq!(
            allowed_actions_by_name("backup", "in_progress").unwrap(),
            ["stop"]
        );
        assert!(allowed_actions_by_name("restore", "completed")
            .unwrap()
            .is_empty());
        assert!(allowed_actions_by_name("logfile", "requested")
            .unwrap()
            .is_empty());
        assert_eq!(
            allowed_targets_by_name("backup", "queued", "scheduler").unwrap(),
            ["skipped", "missed"]
        );
        assert_eq!(
            allowed_targets_by_name("restore", "in_progress", "user").unwrap(),
            ["stop_requested"]
        );
        assert_eq!(
            allowed_targets_by_name("logfile", "requested", "agent").unwrap(),
            ["started", "completed"]
        );
        // The same answers as the typed functions, for every state and actor.
        for &s in CleanupState::ALL {
            for &a in Actor::ALL {
                let typed: Vec<&str> = allowed_targets(s, a)
                    .into_iter()
                    .map(|t| t.as_str())
                    .collect();
                assert_eq!(
                    allowed_targets_by_name("cleanup", s.as_str(), a.as_str()).unwrap(),
                    typed
                );
            }
            let typed: Vec<&str> = allowed_actions(s).into_iter().map(Action::as_str).collect();
            assert_eq!(
                allowed_actions_by_name("cleanup", s.as_str()).unwrap(),
                typed
            );
        }
    }

    #[test]
    fn patches_are_validated_by_endpoint_name() {
        let restore = br#"{"id": "r1", "state": "queued", "files_restored": 0}"#;
        let next = validate_patch_json(
            "restore",
            restore,
            br#"[{"op": "replace", "path": "/state", "value": "in_progress"},
                {"op": "add", "path": "/files-restored", "value": 3}]"#,
            "agent",
            None,
        )
        .unwrap();
        assert_eq!(
            next,
            json!({"id": "r1", "state": "in_progress", "files_restored": 3})
        );

        let finished = br#"{"id": "r1", "state": "completed"}"#;
        let stop = br#"[{"op": "replace", "path": "/state", "value": "stop_requested"}]"#;
        let e = validate_patch_json("restore", finished, stop, "user", None).unwrap_err();
        assert_eq!(e.code(), ErrorCode::PatchConflict);
        let count = br#"[{"op": "replace", "path": "/files_restored", "value": 1}]"#;
        let e = validate_patch_json("restore", restore, count, "user", None).unwrap_err();
        assert_eq!(e.code(), ErrorCode::PatchRejected);

        let agent = br#"{"id": "a1", "vault": {"region": "DFW"}}"#;
        let region = br#"[{"op": "replace", "path": "/vault/region", "value": "ORD"}]"#;
        for unknown_or_full in [None, Some(false)] {
            let e =
                validate_patch_json("agent", agent, region, "user", unknown_or_full).unwrap_err();
            assert_eq!(e.code(), ErrorCode::PatchForbidden);
        }
        let next = validate_patch_json("agent", agent, region, "user", Some(true)).unwrap();
        assert_eq!(next["vault"]["region"], "ORD");
    }

    #[test]
    fn bad_patch_inputs_are_refused_with_their_codes() {
        let restore = br#"{"id": "r1", "state": "queued"}"#;
        let patch = br#"[{"op": "replace", "path": "/state", "value": "in_progress"}]"#;
        let (name, reason) = invalid_argument(validate_patch_json(
            "restores", restore, patch, "agent", None,
        ));
        assert_eq!(name, "endpoint");
        assert!(
            reason.contains("restore, backup, cleanup, configuration, agent, logfile"),
            "{reason}"
        );
        let (name, _) = invalid_argument(validate_patch_json(
            "restore", restore, patch, "admin", None,
        ));
        assert_eq!(name, "actor");
        for (resource, patch, code) in [
            (
                &b"{'state': 'queued'}"[..],
                &patch[..],
                ErrorCode::InvalidJson,
            ),
            (restore, b"[{op: replace}]", ErrorCode::InvalidJson),
            (restore, br#"{"op": "replace"}"#, ErrorCode::PatchRejected),
            (
                restore,
                br#"[{"op": "replace", "path": "/state"}]"#,
                ErrorCode::PatchRejected,
            ),
            (restore, b"[]", ErrorCode::PatchRejected),
            (br#"{"id": "r1"}"#, patch, ErrorCode::InvalidValue),
        ] {
            let e = validate_patch_json("restore", resource, patch, "agent", None).unwrap_err();
            assert_eq!(e.code(), code, "{e}");
        }
        let e = validate_patch_json("restore", b"{} x", patch, "agent", None).unwrap_err();
        assert!(
            e.to_string().contains("invalid JSON for restore resource"),
            "{e}"
        );
        // A resource that is not UTF-8 is described as the tracked parse
        // describes it (the plain parse checks UTF-8 first, then reads `str`).
        let bad = b"{\"id\": \"r\xff1\"}";
        let e = validate_patch_json("restore", bad, patch, "agent", None).unwrap_err();
        let want = crate::error::json_value_from_slice("restore resource", bad).unwrap_err();
        assert_eq!(
            (e.code(), e.to_string()),
            (ErrorCode::InvalidJson, want.to_string())
        );
    }
}
