//! The v2 PATCH policies on the reference's own sample patches and 409 bodies.

use cloudbackup_core::lifecycle::Actor;
use cloudbackup_core::patch::{
    parse_patch, patch_from_value, validate_patch, Endpoint, PatchContext,
};
use cloudbackup_core::Error;
use serde_json::{json, Value};

fn sample(name: &str) -> Vec<u8> {
    let p = format!(
        "{}/../tests/data/rackspace/samples-v2/{name}",
        env!("CARGO_MANIFEST_DIR")
    );
    std::fs::read(&p).unwrap_or_else(|e| panic!("{p}: {e}"))
}

fn sample_message(name: &str) -> String {
    let v: Value = serde_json::from_slice(&sample(name)).unwrap();
    v["message"].as_str().unwrap().to_string()
}

fn agent() -> PatchContext {
    PatchContext::new(Actor::Agent)
}

fn user() -> PatchContext {
    PatchContext::new(Actor::User)
}

fn restore(state: &str) -> Value {
    json!({"id": "e87e6f7d", "state": state, "started_time": null, "ended_time": null,
           "errors": null, "files_restored": 0, "bytes_restored": 0})
}

#[test]
fn the_sample_restore_patch_is_accepted_and_applied() {
    let patch = parse_patch(&sample("cbu-updateRestore_request.json")).unwrap();
    let next = validate_patch(Endpoint::Restore, &restore("in_progress"), &patch, agent()).unwrap();
    assert_eq!(next["state"], "completed_with_errors");
    assert_eq!(next["files_restored"], 2);
    assert_eq!(next["bytes_restored"], 1512);
    assert_eq!(next["errors"]["list"][0]["path"], "/usr/bin/h2xs");
}

#[test]
fn terminal_resources_answer_the_services_409_message() {
    for (endpoint, resource, patch, msg) in [
        (
            Endpoint::Restore,
            restore("completed"),
            "cbu-updateRestore_request.json",
            "cbu-updateRestore_response409.json",
        ),
        (
            Endpoint::Backup,
            json!({"state": "missed"}),
            "cbu-updateBackup_request.json",
            "cbu-updateBackup_response409.json",
        ),
        (
            Endpoint::Cleanup,
            json!({"state": "stopped"}),
            "cbu-updateCleanup_request.json",
            "cbu-updateCleanup_response409.json",
        ),
    ] {
        let patch = parse_patch(&sample(patch)).unwrap();
        match validate_patch(endpoint, &resource, &patch, agent()).unwrap_err() {
            Error::PatchConflict { message, state } => {
                assert_eq!(message, sample_message(msg));
                assert_eq!(Some(state.as_str()), resource["state"].as_str());
            }
            other => panic!("{endpoint}: unexpected {other:?}"),
        }
    }
}

#[test]
fn the_sample_backup_and_cleanup_patches_are_accepted() {
    let backup = json!({"state": "in_progress", "errors": null});
    let patch = parse_patch(&sample("cbu-updateBackup_request.json")).unwrap();
    let next = validate_patch(Endpoint::Backup, &backup, &patch, agent()).unwrap();
    assert_eq!(next["bytes_in_db"], 49340871);
    let cleanup = json!({"state": "queued"});
    let patch = parse_patch(&sample("cbu-updateCleanup_request.json")).unwrap();
    let next = validate_patch(Endpoint::Cleanup, &cleanup, &patch, agent()).unwrap();
    assert_eq!(next["snapshot_ids"], json!([23, 51]));
}

#[test]
fn documented_misspellings_are_normalised() {
    let patch = patch_from_value(json!([
        {"op": "add", "path": "/started-time", "value": "2014-10-20T13:11:58.985151Z"},
        {"op": "add", "path": "/files_restores", "value": 3},
        {"op": "add", "path": "/bytes-restored", "value": 9}
    ]))
    .unwrap();
    let next = validate_patch(Endpoint::Restore, &restore("queued"), &patch, agent()).unwrap();
    assert_eq!(next["started_time"], "2014-10-20T13:11:58.985151Z");
    assert_eq!(next["files_restored"], 3);
    assert_eq!(next["bytes_restored"], 9);
    assert!(next.get("files_restores").is_none() && next.get("bytes-restored").is_none());
}

fn rejection(
    endpoint: Endpoint,
    resource: Value,
    patch: Value,
    ctx: PatchContext,
) -> (Option<usize>, String) {
    match validate_patch(endpoint, &resource, &patch_from_value(patch).unwrap(), ctx).unwrap_err() {
        Error::PatchRejected { index, reason, .. } => (index, reason),
        other => panic!("unexpected {other:?}"),
    }
}

#[test]
fn bad_patches_name_the_operation_and_the_reason() {
    let (i, why) = rejection(
        Endpoint::Restore,
        restore("in_progress"),
        json!([{"op": "replace", "path": "/state", "value": "queued"}]),
        agent(),
    );
    assert_eq!(i, Some(0));
    assert!(why.contains("backward"), "{why}");

    let (i, why) = rejection(
        Endpoint::Restore,
        restore("queued"),
        json!([{"op": "add", "path": "/files_restored", "value": 1}, {"op": "remove", "path": "/errors"}]),
        agent(),
    );
    assert_eq!(i, Some(1));
    assert!(why.contains("`remove` is not allowed"), "{why}");

    let (_, why) = rejection(
        Endpoint::Configuration,
        json!({"name": "a"}),
        json!([{"op": "add", "path": "/name", "value": "b"}]),
        user(),
    );
    assert!(why.contains("use `replace`"), "{why}");

    let (_, why) = rejection(
        Endpoint::Restore,
        restore("queued"),
        json!([{"op": "replace", "path": "/destination_path", "value": "/"}]),
        agent(),
    );
    assert!(why.contains("patchable paths: /state"), "{why}");

    let (_, why) = rejection(
        Endpoint::Restore,
        restore("queued"),
        json!([{"op": "replace", "path": "/files_restored", "value": -1}]),
        agent(),
    );
    assert!(why.contains("non-negative integer"), "{why}");

    // Agents may request a restore's stop, not a backup's.
    let (_, why) = rejection(
        Endpoint::Backup,
        json!({"state": "queued", "errors": null}),
        json!([{"op": "replace", "path": "/state", "value": "stop_requested"}]),
        agent(),
    );
    assert!(why.contains("may not"), "{why}");

    let (_, why) = rejection(
        Endpoint::Restore,
        restore("queued"),
        json!([{"op": "replace", "path": "/files_restored", "value": 1}]),
        user(),
    );
    assert!(
        why.contains("a user may not change /files_restored"),
        "{why}"
    );

    let (i, _) = rejection(
        Endpoint::Restore,
        restore("queued"),
        json!([
        {"op": "add", "path": "/started_time", "value": "2014-10-20T13:11:58Z"},
        {"op": "add", "path": "/ended_time", "value": "2014-10-20T13:00:00Z"}]),
        agent(),
    );
    assert_eq!(i, None, "ordering of times is checked on the whole result");
}

#[test]
fn users_stop_and_agents_finish() {
    let stop =
        patch_from_value(json!([{"op": "replace", "path": "/state", "value": "stop_requested"}]))
            .unwrap();
    let next = validate_patch(Endpoint::Restore, &restore("in_progress"), &stop, user()).unwrap();
    assert_eq!(next["state"], "stop_requested");
    // "The agent is issuing a request to stop the restore": the agent may too.
    let by_agent = validate_patch(Endpoint::Restore, &restore("queued"), &stop, agent()).unwrap();
    assert_eq!(by_agent["state"], "stop_requested");
    let finish =
        patch_from_value(json!([{"op": "replace", "path": "/state", "value": "stopped"}])).unwrap();
    assert_eq!(
        validate_patch(Endpoint::Restore, &next, &finish, agent()).unwrap()["state"],
        "stopped"
    );
    let resume =
        patch_from_value(json!([{"op": "replace", "path": "/state", "value": "in_progress"}]))
            .unwrap();
    let (_, why) = rejection(
        Endpoint::Restore,
        next.clone(),
        serde_json::to_value(&resume).unwrap(),
        agent(),
    );
    assert!(why.contains("a stop was requested"), "{why}");
}

#[test]
fn agent_and_configuration_and_logfile_policies() {
    let a = json!({"enabled": false, "log_level": "info", "vault": {"region": "DFW", "use_internal": false}});
    let p = parse_patch(&sample("cbu-updateAgent_request.json")).unwrap();
    assert_eq!(
        validate_patch(Endpoint::Agent, &a, &p, user()).unwrap()["enabled"],
        true
    );
    let level =
        patch_from_value(json!([{"op": "replace", "path": "/log-level", "value": "debug"}]))
            .unwrap();
    assert_eq!(
        validate_patch(Endpoint::Agent, &a, &level, user()).unwrap()["log_level"],
        "debug"
    );
    let region =
        patch_from_value(json!([{"op": "replace", "path": "/vault/region", "value": "ORD"}]))
            .unwrap();
    match validate_patch(Endpoint::Agent, &a, &region, user()).unwrap_err() {
        Error::PatchForbidden { message } => {
            assert_eq!(message, sample_message("cbu-updateAgent_response2.json"))
        }
        other => panic!("unexpected {other:?}"),
    }
    let empty = PatchContext {
        vault_empty: Some(true),
        ..user()
    };
    assert_eq!(
        validate_patch(Endpoint::Agent, &a, &region, empty).unwrap()["vault"]["region"],
        "ORD"
    );

    let c = json!({"name": "a", "enabled": false, "retention": {"days": 30}, "schedule": null, "notifications": []});
    let p = parse_patch(&sample("cbu-updateConfiguration_request.json")).unwrap();
    assert_eq!(
        validate_patch(Endpoint::Configuration, &c, &p, user()).unwrap()["enabled"],
        true
    );
    let forever =
        patch_from_value(json!([{"op": "replace", "path": "/retention/days", "value": 0}]))
            .unwrap();
    assert_eq!(
        validate_patch(Endpoint::Configuration, &c, &forever, user()).unwrap()["retention"]["days"],
        0
    );
    let days = patch_from_value(json!([{"op": "replace", "path": "/retention/days", "value": -1}]))
        .unwrap();
    let (_, why) = rejection(
        Endpoint::Configuration,
        c.clone(),
        serde_json::to_value(&days).unwrap(),
        user(),
    );
    assert!(why.contains("non-negative integer"), "{why}");
    let schedule = patch_from_value(json!([{"op": "replace", "path": "/schedule", "value":
        {"recurrence": ["RRULE:FREQ=WEEKLY;INTERVAL=1;BYDAY=TH;BYHOUR=14;BYMINUTE=0"], "time_zone": "US/Central"}}])).unwrap();
    assert!(validate_patch(Endpoint::Configuration, &c, &schedule, user()).is_ok());
    let (i, why) = rejection(
        Endpoint::Configuration,
        c.clone(),
        json!([{"op": "replace", "path": "/schedule", "value":
        {"recurrence": ["RRULE:FREQ=SECONDLY"], "time_zone": "US/Central"}}]),
        user(),
    );
    assert_eq!(i, Some(0));
    assert!(why.contains("SECONDLY"), "{why}");
    let (i, _) = rejection(
        Endpoint::Configuration,
        c.clone(),
        json!([{"op": "replace", "path": "/notifications", "value": [{"type": "pager"}]}]),
        user(),
    );
    assert_eq!(i, Some(0));

    let l = json!({"state": "requested"});
    let p = parse_patch(&sample("cbu-updateLogfile_request.json")).unwrap();
    let started = validate_patch(Endpoint::Logfile, &l, &p, agent()).unwrap();
    assert_eq!(started["state"], "started");
    let back = patch_from_value(json!([{"op": "replace", "path": "/state", "value": "requested"}]))
        .unwrap();
    let (_, why) = rejection(
        Endpoint::Logfile,
        started.clone(),
        serde_json::to_value(&back).unwrap(),
        agent(),
    );
    assert!(why.contains("from started to requested"), "{why}");
}

#[test]
fn a_finished_resource_answers_409_whatever_the_patch() {
    let bad = patch_from_value(json!([{"op": "remove", "path": "/errors"}])).unwrap();
    match validate_patch(Endpoint::Restore, &restore("failed"), &bad, user()).unwrap_err() {
        Error::PatchConflict { state, .. } => assert_eq!(state, "failed"),
        other => panic!("unexpected {other:?}"),
    }
}

#[test]
fn the_scheduler_marks_unstarted_backups_missed() {
    let missed =
        patch_from_value(json!([{"op": "replace", "path": "/state", "value": "missed"}])).unwrap();
    let sched = PatchContext::new(Actor::Scheduler);
    let next = validate_patch(
        Endpoint::Backup,
        &json!({"state": "start_scheduled"}),
        &missed,
        sched,
    )
    .unwrap();
    assert_eq!(next["state"], "missed");
    let (_, why) = rejection(
        Endpoint::Backup,
        json!({"state": "in_progress"}),
        serde_json::to_value(&missed).unwrap(),
        sched,
    );
    assert!(why.contains("may not"), "{why}");
}

#[test]
fn regions_are_checked_and_replace_needs_the_member() {
    let empty = PatchContext {
        vault_empty: Some(true),
        ..user()
    };
    let a = json!({"enabled": true, "vault": {"region": "DFW"}});
    let (_, why) = rejection(
        Endpoint::Agent,
        a,
        json!([{"op": "replace", "path": "/vault/region", "value": "MARS"}]),
        empty,
    );
    assert!(why.contains("MARS") && why.contains("DFW"), "{why}");
    // Configurations take `replace` only, and RFC 6902's replace needs an existing member.
    let c = json!({"name": "a"});
    let p =
        patch_from_value(json!([{"op": "replace", "path": "/enabled", "value": true}])).unwrap();
    match validate_patch(Endpoint::Configuration, &c, &p, user()).unwrap_err() {
        Error::PatchRejected { index, .. } => assert_eq!(index, Some(0)),
        other => panic!("unexpected {other:?}"),
    }
}
