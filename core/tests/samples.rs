//! Every JSON sample of the public API reference parses into its typed
//! model, re-serialises, and compares equal to the original as a JSON value.
//! The tables name each sample's type as the bindings do
//! ([`parse_model`]), and every registered model type has a sample.
//!
//! Normalisation applied before comparing (and only this):
//! * **null-is-absent**: object members whose value is `null` are removed on
//!   both sides, because optional fields parse absent and `null` alike.

#[path = "samples/support.rs"]
mod support;
#[path = "samples/v1_table.rs"]
mod v1_table;
#[path = "samples/v2_agents_table.rs"]
mod v2_agents_table;
#[path = "samples/v2_jobs_table.rs"]
mod v2_jobs_table;

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;

use cloudbackup_core::by_name::{model_types, parse_model};
use support::normalise;

fn data_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../tests/data/rackspace")
}

/// Sample path (`samples-v2/cbu-getRestores_response.json`) -> model type name.
fn table() -> BTreeMap<String, &'static str> {
    let mut map = BTreeMap::new();
    let entries = v1_table::table()
        .into_iter()
        .map(|(n, f)| (format!("samples-v1/{n}"), f))
        .chain(
            v2_agents_table::table()
                .into_iter()
                .chain(v2_jobs_table::table())
                .map(|(n, f)| (format!("samples-v2/{n}"), f)),
        );
    for (name, f) in entries {
        assert!(
            map.insert(name.clone(), f).is_none(),
            "{name} is mapped twice"
        );
    }
    map
}

#[test]
fn every_sample_round_trips_through_its_typed_model() {
    let table = table();
    let mut files = Vec::new();
    for dir in ["samples-v1", "samples-v2"] {
        for entry in std::fs::read_dir(data_dir().join(dir)).expect("sample dir") {
            let path = entry.expect("dir entry").path();
            if path.extension().is_some_and(|e| e == "json") {
                let name = path.file_name().unwrap().to_string_lossy().to_string();
                files.push((format!("{dir}/{name}"), path));
            }
        }
    }
    files.sort();
    let (mut valid, mut valid_ok, mut invalid, mut invalid_rejected) = (0, 0, 0, 0);
    let mut failures = Vec::new();
    for (name, path) in &files {
        let bytes = std::fs::read(path).expect("read sample");
        let Some(&type_name) = table.get(name) else {
            failures.push(format!("{name}: no typed model is mapped to this sample"));
            continue;
        };
        match serde_json::from_slice::<serde_json::Value>(&bytes) {
            Ok(original) => {
                valid += 1;
                match parse_model(type_name, &bytes) {
                    Ok(back) if normalise(back.clone()) == normalise(original.clone()) => {
                        valid_ok += 1
                    }
                    Ok(back) => failures.push(format!(
                        "{name}: round trip differs\n  original: {}\n  back:     {}",
                        normalise(original),
                        normalise(back)
                    )),
                    Err(e) => failures.push(format!("{name}: {e}")),
                }
            }
            Err(_) => {
                invalid += 1;
                match parse_model(type_name, &bytes) {
                    Err(e) => {
                        assert_eq!(
                            e.code(),
                            cloudbackup_core::ErrorCode::InvalidJson,
                            "{name}: {e}"
                        );
                        invalid_rejected += 1;
                    }
                    Ok(_) => failures.push(format!("{name}: invalid JSON was accepted")),
                }
            }
        }
    }
    for name in table.keys() {
        if !files.iter().any(|(n, _)| n == name) {
            failures.push(format!("{name}: mapped but no such sample"));
        }
    }
    let sampled: BTreeSet<&str> = table
        .values()
        .map(|t| t.strip_suffix("[]").unwrap_or(t))
        .collect();
    for name in model_types() {
        if !sampled.contains(name) {
            failures.push(format!(
                "{name}: a registered model type no sample exercises"
            ));
        }
    }
    println!("rackspace samples: {valid_ok} of {valid} valid samples round-tripped");
    println!(
        "rackspace samples: {invalid_rejected} of {invalid} invalid samples rejected with an error"
    );
    assert!(
        failures.is_empty(),
        "{} failures:\n{}",
        failures.len(),
        failures.join("\n")
    );
    assert_eq!(
        (valid, invalid),
        (108, 2),
        "the reference has 108 valid and 2 invalid samples"
    );
}
