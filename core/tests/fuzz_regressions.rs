//! Every input under `core/tests/fuzz-regressions/<target>/` goes through
//! the harness of its fuzz target (`cloudbackup_core::fuzzing::<target>`)
//! and must come back as the typed error its file name states:
//! `<error code>--<what it is>`, e.g. `corrupt--index-zstd-bomb`, where the
//! code is an [`ErrorCode`] string (`corrupt`, `invalid_json`, ...). For
//! `restore_session`, whose failures are per file, the code is that of the
//! first entry of the restore's error report (or of the error `feed`
//! returned).
//!
//! The inputs are crash reproducers the fuzzers found (fixed since) and
//! error-path samples from their corpora; docs/FUZZING.md says which and
//! how to add one.

use std::fs;
use std::path::{Path, PathBuf};

use cloudbackup_core::{fuzzing, ErrorCode, Result};

/// The error code of a harness's answer; `None` when it accepted the input.
fn code_of<T>(result: Result<T>) -> Option<String> {
    result.err().map(|e| e.code().as_str().to_string())
}

/// What the `target` harness answers to `input`.
fn run(target: &str, input: &[u8]) -> Option<String> {
    match target {
        "patch" => code_of(fuzzing::patch(input)),
        "model" => code_of(fuzzing::model(input)),
        "response" => code_of(fuzzing::response(input)),
        "vault_objects" => code_of(fuzzing::vault_objects(input)),
        "restore_session" => match fuzzing::restore_session(input) {
            Ok(report) => report
                .errors
                .and_then(|r| r.list)
                .and_then(|list| list.into_iter().next())
                .map(|e| e.kind),
            Err(e) => Some(e.code().as_str().to_string()),
        },
        other => panic!("fuzz-regressions/{other}: no such fuzz target"),
    }
}

/// Every code a file name may state.
const CODES: [ErrorCode; ErrorCode::ALL.len()] = ErrorCode::ALL;

fn sorted_entries(dir: &Path) -> Vec<PathBuf> {
    let mut paths: Vec<PathBuf> = fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.expect("a directory entry").path())
        .collect();
    paths.sort();
    paths
}

#[test]
fn every_committed_fuzz_input_is_rejected_with_its_typed_error() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fuzz-regressions");
    let mut total = 0;
    let mut targets = Vec::new();
    // Every mismatch at once, so one run names every input to look at.
    let mut wrong = Vec::new();
    for dir in sorted_entries(&root).into_iter().filter(|p| p.is_dir()) {
        let target = dir.file_name().and_then(|n| n.to_str()).unwrap_or("");
        let mut count = 0;
        for file in sorted_entries(&dir) {
            let name = file.file_name().and_then(|n| n.to_str()).unwrap_or("");
            let (expected, _) = name
                .split_once("--")
                .unwrap_or_else(|| panic!("{target}/{name}: not named <code>--<what>"));
            if !CODES.iter().any(|c| c.as_str() == expected) {
                wrong.push(format!(
                    "{target}/{name}: {expected:?} is not an error code"
                ));
            }
            let input = fs::read(&file).expect("a regression input");
            let got = run(target, &input);
            if got.as_deref() != Some(expected) {
                wrong.push(format!("{target}/{name}: expected {expected}, got {got:?}"));
            }
            count += 1;
        }
        assert!(count > 0, "fuzz-regressions/{target} holds no input");
        targets.push(format!("{target} {count}"));
        total += count;
    }
    assert!(wrong.is_empty(), "wrong answers:\n{}", wrong.join("\n"));
    assert_eq!(
        targets.len(),
        5,
        "one directory per fuzz target: {targets:?}"
    );
    println!(
        "fuzz regressions: {total} inputs ({}), all rejected with typed errors",
        targets.join(", ")
    );
}
