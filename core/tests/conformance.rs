//! External conformance suites, run through the same code paths the core
//! uses in production.
//!
//! * json-patch-tests (tests.json + spec_tests.json): every case not marked
//!   `disabled` runs through `patch::patch_from_value` + `patch::apply_patch`;
//!   a case with `error` must fail, a case with `expected` must produce it,
//!   and a failed case must leave the document unchanged.

use std::path::PathBuf;

use cloudbackup_core::patch::{apply_patch, patch_from_value};
use serde_json::Value;

fn data(path: &str) -> Value {
    let p = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../tests/data")
        .join(path);
    let bytes = std::fs::read(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
    serde_json::from_slice(&bytes).expect("suite file is JSON")
}

fn run_json_patch_case(case: &Value) -> Result<(), String> {
    let doc = case.get("doc").cloned().ok_or("case has no doc")?;
    let mut work = doc.clone();
    let outcome = patch_from_value(case["patch"].clone()).and_then(|p| apply_patch(&mut work, &p));
    match (case.get("error"), case.get("expected"), outcome) {
        (Some(_), _, Err(_)) if work == doc => Ok(()),
        (Some(_), _, Err(_)) => Err("failed but changed the document".into()),
        (Some(why), _, Ok(())) => Err(format!("should have failed: {why}")),
        (None, Some(expected), Ok(())) if &work == expected => Ok(()),
        (None, Some(expected), Ok(())) => Err(format!("got {work}, expected {expected}")),
        (None, None, Ok(())) => Ok(()),
        (None, _, Err(e)) => Err(format!("unexpected error: {e}")),
    }
}

#[test]
fn json_patch_tests() {
    let (mut passed, mut failed) = (0, 0);
    let mut failures = Vec::new();
    for file in [
        "json-patch-tests/tests.json",
        "json-patch-tests/spec_tests.json",
    ] {
        let Value::Array(cases) = data(file) else {
            panic!("{file} is not a list")
        };
        for case in cases
            .iter()
            .filter(|c| c.get("disabled") != Some(&Value::Bool(true)))
        {
            match run_json_patch_case(case) {
                Ok(()) => passed += 1,
                Err(why) => {
                    failed += 1;
                    failures.push(format!(
                        "{file}: {}: {why}",
                        case.get("comment").unwrap_or(&Value::Null)
                    ));
                }
            }
        }
    }
    println!("json-patch-tests: {passed} passed, {failed} failed");
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    assert_eq!(passed, 108, "the suite has 108 enabled cases");
}
