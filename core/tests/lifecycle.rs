//! Lifecycle machines: every (state, target, actor) triple of the restore and
//! backup machines against a hand-written table of the design's rules, and
//! proptest properties of the machines and of the PATCH policies.

use cloudbackup_core::lifecycle::{
    allowed_actions, transition, Action, Actor, BackupState, Lifecycle, Phase, Rejection,
    RestoreState, Step,
};
use cloudbackup_core::patch::{
    apply_patch, apply_patch_in_place, patch_from_value, Endpoint, PatchContext,
};
use cloudbackup_core::wire::WireName;
use cloudbackup_core::Error;
use proptest::prelude::*;
use serde_json::{json, Value};

/// The expected table: for each state and actor, the states it may move to
/// (no-ops excluded). Written out by hand from design.md's rules, not derived
/// from the implementation, plus two decisions of ours that design.md leaves
/// open: only a user's start moves a not-started (`Creating`) restore into
/// progress, and the scheduler may only mark a backup that has not begun
/// running `missed` or `skipped`. The agent, like the user, may request a
/// restore's stop (the restore PATCH reference: "The agent is issuing a
/// request to stop the restore").
fn restore_table(from: RestoreState, actor: Actor) -> Vec<RestoreState> {
    use RestoreState::*;
    let terminal = vec![Completed, CompletedWithErrors, Failed, Stopped];
    match (from, actor) {
        (Creating, Actor::User) => vec![StartRequested, StopRequested],
        (Creating, Actor::Agent) => [vec![StopRequested], terminal].concat(),
        (StartRequested, Actor::User)
        | (Queued, Actor::User)
        | (Preparing, Actor::User)
        | (InProgress, Actor::User) => vec![StopRequested],
        (StartRequested, Actor::Agent) => {
            [vec![Queued, Preparing, InProgress, StopRequested], terminal].concat()
        }
        (Queued, Actor::Agent) => [vec![Preparing, InProgress, StopRequested], terminal].concat(),
        (Preparing, Actor::Agent) => [vec![InProgress, StopRequested], terminal].concat(),
        (InProgress, Actor::Agent) => [vec![StopRequested], terminal].concat(),
        (StopRequested, Actor::Agent) => terminal,
        _ => vec![],
    }
}

fn backup_table(from: BackupState, actor: Actor) -> Vec<BackupState> {
    use BackupState::*;
    let agent_end = vec![
        Completed,
        CompletedWithErrors,
        Failed,
        Stopped,
        Skipped,
        Missed,
    ];
    let started = matches!(
        from,
        StartRequested | StartScheduled | Queued | Preparing | InProgress
    );
    match (from, actor) {
        (_, Actor::User) if started => vec![StopRequested],
        (StartRequested | StartScheduled, Actor::Agent) => {
            [vec![Queued, Preparing, InProgress], agent_end].concat()
        }
        (Queued, Actor::Agent) => [vec![Preparing, InProgress], agent_end].concat(),
        (Preparing, Actor::Agent) => [vec![InProgress], agent_end].concat(),
        (InProgress | StopRequested, Actor::Agent) => agent_end,
        (StartRequested | StartScheduled | Queued, Actor::Scheduler) => vec![Skipped, Missed],
        _ => vec![],
    }
}

/// Checks one machine's every triple against its table; returns the count.
fn check_machine<S: Lifecycle>(table: fn(S, Actor) -> Vec<S>) -> usize {
    let mut checked = 0;
    for &from in S::ALL {
        for &actor in Actor::ALL {
            let allowed = table(from, actor);
            for &to in S::ALL {
                checked += 1;
                let got = transition(from, to, actor);
                let label = format!("{} -> {} by {actor}", from.wire_name(), to.wire_name());
                match got {
                    Ok(Step::Changed { from: f, to: t }) => {
                        assert!(
                            allowed.contains(&to),
                            "{label}: allowed but not in the table"
                        );
                        assert_eq!((f, t), (from, to), "{label}");
                    }
                    Ok(Step::Unchanged(s)) => {
                        assert_eq!(from, to, "{label}: no-op for a different state");
                        assert_eq!(s, from);
                        assert!(
                            !from.is_terminal(),
                            "{label}: a terminal state accepted a no-op"
                        );
                    }
                    Err(e) => {
                        assert!(
                            !allowed.contains(&to),
                            "{label}: refused ({e}) but in the table"
                        );
                        assert_eq!(e.is_conflict(), from.is_terminal(), "{label}: {e}");
                        let msg = e.to_string();
                        assert!(
                            msg.contains(from.wire_name()) && msg.contains(to.wire_name()),
                            "{msg}"
                        );
                        if from.phase() == Phase::StopRequested && !to.is_terminal() && from != to {
                            assert_eq!(e.rejection, Rejection::StopPending, "{label}");
                        }
                    }
                }
            }
        }
    }
    checked
}

#[test]
fn restore_machine_matches_the_table_for_every_triple() {
    let n = check_machine::<RestoreState>(restore_table);
    assert_eq!(n, 10 * 10 * 3);
    println!("restore lifecycle: {n} (state, target, actor) triples checked");
}

#[test]
fn backup_machine_matches_the_table_for_every_triple() {
    let n = check_machine::<BackupState>(backup_table);
    assert_eq!(n, 12 * 12 * 3);
    println!("backup lifecycle: {n} (state, target, actor) triples checked");
}

#[test]
fn specific_rejections_are_classified() {
    use RestoreState::*;
    let reason = |f, t, a| transition(f, t, a).unwrap_err().rejection;
    assert_eq!(
        reason(InProgress, Queued, Actor::Agent),
        Rejection::Backward
    );
    assert_eq!(
        reason(StopRequested, InProgress, Actor::Agent),
        Rejection::StopPending
    );
    assert_eq!(reason(Creating, Queued, Actor::User), Rejection::NotStarted);
    assert_eq!(
        reason(Queued, Completed, Actor::User),
        Rejection::NotPermitted
    );
    assert_eq!(reason(Failed, Failed, Actor::Agent), Rejection::Terminal);
}

#[test]
fn consoles_are_offered_the_right_buttons() {
    assert_eq!(
        allowed_actions(RestoreState::Creating),
        vec![Action::Start, Action::Stop]
    );
    assert_eq!(
        allowed_actions(RestoreState::InProgress),
        vec![Action::Stop]
    );
    assert_eq!(allowed_actions(RestoreState::StopRequested), vec![]);
    assert_eq!(allowed_actions(RestoreState::Completed), vec![]);
    assert_eq!(
        allowed_actions(BackupState::StartScheduled),
        vec![Action::Stop]
    );
    assert_eq!(allowed_actions(BackupState::Missed), vec![]);
}

fn any_restore_state() -> impl Strategy<Value = RestoreState> {
    prop::sample::select(RestoreState::ALL.to_vec())
}

fn any_backup_state() -> impl Strategy<Value = BackupState> {
    prop::sample::select(BackupState::ALL.to_vec())
}

fn any_actor() -> impl Strategy<Value = Actor> {
    prop::sample::select(Actor::ALL.to_vec())
}

/// A rank that only grows along any legal path: not started < progress by
/// rank < stop requested < terminal.
fn order<S: Lifecycle>(s: S) -> u8 {
    match s.phase() {
        Phase::NotStarted => 0,
        Phase::Progress(r) => 1 + r,
        Phase::StopRequested => 10,
        Phase::Terminal => 20,
    }
}

fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(|n| json!(n)),
        any::<u32>().prop_map(|n| json!(n)),
        prop::sample::select(vec![
            "queued",
            "preparing",
            "in_progress",
            "stop_requested",
            "completed",
            "failed",
            "creating",
            "start_requested",
            "skipped",
            "missed",
            "started",
            "requested",
            "2014-10-20T13:11:58.985151Z",
            "2000-01-01T00:00:00Z",
            "info",
            "bogus",
            "",
        ])
        .prop_map(|s| json!(s)),
        ".*".prop_map(Value::String),
    ];
    leaf.prop_recursive(3, 16, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            prop::collection::btree_map("[a-z_]{1,8}", inner, 0..4)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

fn patch_op() -> impl Strategy<Value = Value> {
    let op = prop::sample::select(vec![
        "add", "replace", "remove", "move", "copy", "test", "bogus",
    ]);
    let path = prop_oneof![
        prop::sample::select(vec![
            "/state",
            "/started_time",
            "/ended-time",
            "/errors",
            "/files_restored",
            "/bytes_restored",
            "/files_restores",
            "/snapshot_ids",
            "/enabled",
            "/log_level",
            "/vault/region",
            "/retention/days",
            "/inclusions",
            "/name",
            "",
            "/",
            "/id",
        ])
        .prop_map(str::to_string),
        "(/[a-z_~01]{0,6}){0,3}",
    ];
    (op, path, json_value(), prop::option::of("/[a-z]{1,5}")).prop_map(|(op, path, value, from)| {
        let mut o = json!({"op": op, "path": path, "value": value});
        if let Some(f) = from {
            o["from"] = json!(f);
        }
        o
    })
}

fn resource_for(endpoint: Endpoint, state: &str) -> Value {
    match endpoint {
        Endpoint::Configuration => {
            json!({"id": "c", "name": "n", "enabled": true, "retention": {"days": 30}})
        }
        Endpoint::Agent => {
            json!({"id": "a", "enabled": true, "log_level": "info", "vault": {"region": "DFW", "use_internal": false}})
        }
        _ => json!({"id": "x", "state": state, "errors": null}),
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn terminal_states_absorb(from in any_restore_state(), to in any_restore_state(), b in any_backup_state(), bt in any_backup_state(), actor in any_actor()) {
        if from.is_terminal() {
            let e = transition(from, to, actor).unwrap_err();
            prop_assert!(e.is_conflict());
        }
        if b.is_terminal() {
            prop_assert!(transition(b, bt, actor).unwrap_err().is_conflict());
        }
    }

    #[test]
    fn progress_never_moves_backward(steps in prop::collection::vec((any_backup_state(), any_actor()), 0..24), r in prop::collection::vec((any_restore_state(), any_actor()), 0..24)) {
        let mut state = BackupState::StartScheduled;
        for (to, actor) in steps {
            if let Ok(step) = transition(state, to, actor) {
                prop_assert!(order(step.state()) >= order(state), "{state} -> {to}");
                state = step.state();
            }
        }
        let mut state = RestoreState::Creating;
        for (to, actor) in r {
            if let Ok(step) = transition(state, to, actor) {
                prop_assert!(order(step.state()) >= order(state), "{state} -> {to}");
                state = step.state();
            }
        }
    }

    #[test]
    fn random_patches_never_panic_and_rejections_change_nothing(
        endpoint in prop::sample::select(Endpoint::ALL.to_vec()),
        state in prop::sample::select(vec!["start_requested", "queued", "in_progress", "stop_requested", "completed", "requested", "started"]),
        actor in any_actor(),
        ops in prop::collection::vec(patch_op(), 0..5),
    ) {
        let resource = resource_for(endpoint, state);
        if let Ok(patch) = patch_from_value(Value::Array(ops)) {
            let mut doc = resource.clone();
            match apply_patch_in_place(endpoint, &mut doc, &patch, PatchContext::new(actor)) {
                Ok(()) => {
                    // An accepted state change must be a legal transition.
                    if let (Some(a), Some(b)) = (resource["state"].as_str(), doc["state"].as_str()) {
                        if endpoint == Endpoint::Restore {
                            let (a, b): (RestoreState, RestoreState) = (a.parse().unwrap(), b.parse().unwrap());
                            prop_assert!(transition(a, b, actor).is_ok() || a == b);
                        }
                    }
                }
                Err(e) => {
                    prop_assert!(matches!(e, Error::PatchRejected { .. } | Error::PatchConflict { .. } | Error::PatchForbidden { .. } | Error::InvalidValue { .. }), "{e:?}");
                    prop_assert_eq!(&doc, &resource, "a rejected patch changed the resource");
                }
            }
            // The plain RFC 6902 layer is atomic too.
            let mut doc = resource.clone();
            if apply_patch(&mut doc, &patch).is_err() {
                prop_assert_eq!(&doc, &resource);
            }
        }
    }

    #[test]
    fn a_rejected_patch_leaves_the_resource_unchanged(good_state in prop::sample::select(vec!["queued", "preparing", "in_progress"]), bad_index in 0usize..3) {
        // Valid operations around one invalid one: nothing may apply.
        let mut ops = vec![
            json!({"op": "add", "path": "/files_restored", "value": 5}),
            json!({"op": "replace", "path": "/state", "value": good_state}),
            json!({"op": "add", "path": "/bytes_restored", "value": 10}),
        ];
        ops[bad_index] = json!({"op": "add", "path": "/destination_path", "value": "/etc"});
        let resource = json!({"id": "r", "state": "start_requested", "files_restored": 0, "bytes_restored": 0});
        let patch = patch_from_value(Value::Array(ops)).unwrap();
        let mut doc = resource.clone();
        match apply_patch_in_place(Endpoint::Restore, &mut doc, &patch, PatchContext::new(Actor::Agent)) {
            Err(Error::PatchRejected { index, .. }) => prop_assert_eq!(index, Some(bad_index)),
            other => prop_assert!(false, "unexpected {:?}", other),
        }
        prop_assert_eq!(&doc, &resource, "the valid operations around the bad one were applied");
        // Plain RFC 6902 would apply it: only the policy refuses it.
        prop_assert!(apply_patch(&mut doc, &patch).is_ok());
        prop_assert_ne!(&doc, &resource);
    }
}
