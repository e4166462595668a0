//! Criterion benchmark of JSON Patch validation on the workload of
//! `web/bench/bench.mjs`: the reference's v2 restore (in progress) and its
//! update request (state, times, an error report, counts), sent by the
//! agent. Run with `cargo bench -p cloudbackup-core --bench patch`; figures
//! are operations (whole patches validated and applied) per second.
//!
//! - `json`: [`validate_patch_json`] from JSON text to the patched value, as
//!   the bindings call it.
//! - `value`: [`validate_patch`] on an already parsed resource and patch
//!   (the patched resource is a new value).
//! - `in_place`: [`apply_patch_in_place`] on a parsed resource and patch
//!   (a fresh copy of the resource per iteration, made outside the timing).
//! - `parse`: [`parse_patch`] alone, the patch text to operations.
//! - `members`: [`plan_patch_json`] from the patch text on a resource read
//!   member by member (the wasm binding's path for a resource object), here
//!   a parsed value.

use std::hint::black_box;
use std::path::PathBuf;
use std::time::Duration;

use cloudbackup_core::by_name::{plan_patch_json, validate_patch_json};
use cloudbackup_core::lifecycle::Actor;
use cloudbackup_core::patch::{
    apply_patch_in_place, parse_patch, validate_patch, Endpoint, PatchContext,
};
use criterion::{criterion_group, criterion_main, BatchSize, Criterion, Throughput};
use serde_json::Value;

fn sample(name: &str) -> Vec<u8> {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../tests/data/rackspace/samples-v2")
        .join(name);
    std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// The resource and patch texts of `bench.mjs`.
fn workload() -> (Vec<u8>, Vec<u8>) {
    let mut restore: Value =
        serde_json::from_slice(&sample("cbu-getRestoreDetails_response.json")).unwrap();
    restore["state"] = "in_progress".into();
    restore["errors"] = Value::Null;
    restore["ended_time"] = Value::Null;
    // Compact, as JSON.stringify gives it to the wasm binding.
    let patch: Value = serde_json::from_slice(&sample("cbu-updateRestore_request.json")).unwrap();
    (
        serde_json::to_vec(&restore).unwrap(),
        serde_json::to_vec(&patch).unwrap(),
    )
}

fn patch(c: &mut Criterion) {
    let (resource, patch) = workload();
    let mut group = c.benchmark_group("patch");
    group.throughput(Throughput::Elements(1));
    // The workload must succeed, or the figures measure an error path.
    validate_patch_json("restore", &resource, &patch, "agent", None).unwrap();
    group.bench_function("json", |b| {
        b.iter(|| {
            validate_patch_json(
                "restore",
                black_box(&resource),
                black_box(&patch),
                "agent",
                None,
            )
        })
    });
    let value: Value = serde_json::from_slice(&resource).unwrap();
    let parsed = parse_patch(&patch).unwrap();
    group.bench_function("value", |b| {
        b.iter(|| {
            validate_patch(
                Endpoint::Restore,
                black_box(&value),
                black_box(&parsed),
                PatchContext::new(Actor::Agent),
            )
        })
    });
    group.bench_function("in_place", |b| {
        b.iter_batched_ref(
            || value.clone(),
            |resource| {
                let agent = PatchContext::new(Actor::Agent);
                apply_patch_in_place(Endpoint::Restore, resource, black_box(&parsed), agent)
            },
            BatchSize::SmallInput,
        )
    });
    group.bench_function("parse", |b| b.iter(|| parse_patch(black_box(&patch))));
    group.bench_function("members", |b| {
        b.iter(|| {
            plan_patch_json(
                "restore",
                black_box(&value),
                black_box(&patch),
                "agent",
                None,
            )
        })
    });
    group.finish();
}

fn config() -> Criterion {
    Criterion::default()
        .sample_size(20)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(2))
}

criterion_group! {
    name = benches;
    config = config();
    targets = patch
}
criterion_main!(benches);
