//! `make demo`: a v2 restore through its life, on the API reference's own
//! sample bodies. The console builds the `POST /restores` request, parses the
//! service's answer, then the agent's PATCHes are validated against the
//! restore's lifecycle and applied; a bad PATCH is rejected and a PATCH on the
//! finished restore meets a 409. No network: where a real client would send a
//! request, we print it, and the "service" answers with the reference's samples.

use cloudbackup_core::api::v2::restores::{StartRestore, UpdateRestore};
use cloudbackup_core::api::{Auth, Operation, Request, Response};
use cloudbackup_core::lifecycle::{allowed_actions, Actor};
use cloudbackup_core::model::v2::restore::{Restore, StartRestoreBody};
use cloudbackup_core::patch::{
    apply_typed_patch, parse_patch, patch_from_value, Endpoint, Patch, PatchContext,
};
use cloudbackup_core::{Error, Result};
use serde_json::json;

/// The reference's sample bodies, compiled in so the demo runs anywhere.
macro_rules! sample {
    ($name:literal) => {
        include_str!(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../tests/data/rackspace/samples-v2/",
            $name
        ))
    };
}

fn main() {
    if let Err(e) = run() {
        eprintln!("demo failed: {e} ({})", e.code().as_str());
        std::process::exit(1);
    }
}

fn show_request(request: &Request, all_headers: bool) {
    println!("    -> {request}");
    for (name, value) in &request.headers {
        if all_headers || name == "Content-Type" || name == "X-Agent-Id" {
            println!("       {name}: {value}");
        }
    }
    match &request.body {
        Some(body) if body.len() <= 100 => println!("       {}", String::from_utf8_lossy(body)),
        Some(body) => println!("       ({} body bytes)", body.len()),
        None => {}
    }
}

fn show_restore(restore: &Restore) {
    let buttons: Vec<&str> = allowed_actions(restore.state)
        .iter()
        .map(|a| a.as_str())
        .collect();
    println!(
        "    <- restore {} is {}; files_restored={} bytes_restored={}; console offers: [{}]",
        restore.id,
        restore.state,
        restore.files_restored,
        restore.bytes_restored,
        buttons.join(", ")
    );
}

/// The agent restoring, the restore's destination agent, sends `patch`:
/// build the PATCH request (naming the agent in `X-Agent-Id`), check it
/// against the restore's policy as the service would, and on success return
/// the new restore.
fn agent_patch(auth: &Auth, restore: &Restore, patch: Patch) -> Result<Restore> {
    let op = UpdateRestore {
        restore_id: restore.id.clone(),
        patch,
        agent_id: Some(restore.destination_agent.id.clone()),
    };
    show_request(&op.request(auth)?, false);
    let next = apply_typed_patch(
        Endpoint::Restore,
        restore,
        &op.patch,
        PatchContext::new(Actor::Agent),
    )?;
    // The service accepts with 204 No Content.
    op.parse(&Response::new(204, ""))?;
    Ok(next)
}

fn state_patch(state: &str) -> Result<Patch> {
    patch_from_value(json!([{"op": "replace", "path": "/state", "value": state}]))
}

fn run() -> Result<()> {
    let auth = Auth::new("0f6e9f63600142f0a970911583522217", "110011")?;

    println!("1. The console starts a restore (body: cbu-postRestore_request.json)");
    let body: StartRestoreBody = serde_json::from_str(sample!("cbu-postRestore_request.json"))
        .map_err(|e| Error::json("cbu-postRestore_request.json", &e))?;
    let start = StartRestore { body };
    show_request(&start.request(&auth)?, true);

    println!("2. The service answers 201 (body: cbu-postRestore_response.json)");
    let mut restore = start.parse(&Response::new(
        201,
        sample!("cbu-postRestore_response.json"),
    ))?;
    // The sample shows a finished restore; a new one starts where the user left it.
    restore.state = cloudbackup_core::lifecycle::RestoreState::StartRequested;
    restore.files_restored = 0;
    restore.bytes_restored = 0;
    restore.started_time = None;
    restore.ended_time = None;
    restore.errors = None;
    show_restore(&restore);

    for state in ["queued", "preparing", "in_progress"] {
        println!("3. The agent reports {state}");
        restore = agent_patch(&auth, &restore, state_patch(state)?)?;
        show_restore(&restore);
    }

    println!("4. The agent tries to go back to queued: rejected, nothing changes");
    match agent_patch(&auth, &restore, state_patch("queued")?) {
        Err(e) => println!("    rejected ({}): {e}", e.code().as_str()),
        Ok(_) => println!("    unexpectedly accepted"),
    }
    show_restore(&restore);

    println!("5. The agent reports the results (body: cbu-updateRestore_request.json)");
    let results = parse_patch(sample!("cbu-updateRestore_request.json").as_bytes())?;
    restore = agent_patch(&auth, &restore, results)?;
    show_restore(&restore);
    if let Some(errors) = &restore.errors {
        for entry in errors.list.iter().flatten() {
            println!("    error on {}: {}", entry.path, entry.kind);
        }
    }

    println!("6. A late PATCH on the finished restore: a 409, locally and from the service");
    match agent_patch(&auth, &restore, state_patch("failed")?) {
        Err(e) => println!("    checked locally ({}): {e}", e.code().as_str()),
        Ok(_) => println!("    unexpectedly accepted"),
    }
    let op = UpdateRestore {
        restore_id: restore.id.clone(),
        patch: state_patch("failed")?,
        agent_id: Some(restore.destination_agent.id.clone()),
    };
    let answer = Response::new(409, sample!("cbu-updateRestore_response409.json"));
    match op.parse(&answer) {
        Err(e) => println!("    service answered ({}): {e}", e.code().as_str()),
        Ok(()) => println!("    unexpectedly accepted"),
    }
    println!("Done: the restore ended {}.", restore.state);
    Ok(())
}
