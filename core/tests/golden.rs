//! Every committed golden vault (tests/golden/v<N>/) opens with its password
//! and restores byte-exactly to its `expected/` tree, through the same
//! sessions a host uses: so vaults written by older builds stay readable.

use std::collections::HashMap;
use std::fs;
use std::path::{Path, PathBuf};

use cloudbackup_core::engine::restore::{Create, RestoreOptions, RestoreSession};
use cloudbackup_core::engine::verify::{verify_plan, Verifier};
use cloudbackup_core::engine::{Id, Index, Snapshot, Vault};

fn golden_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../tests/golden")
}

/// The files of `dir/sub` as (id, bytes).
fn objects(dir: &Path, sub: &str) -> Vec<(Id, Vec<u8>)> {
    let mut out = Vec::new();
    for e in fs::read_dir(dir.join(sub)).expect("object dir") {
        let p = e.expect("entry").path();
        let id = Id::parse(&p.file_name().unwrap().to_string_lossy()).expect("hex name");
        out.push((id, fs::read(&p).expect("read object")));
    }
    out
}

fn restore_golden(version_dir: &Path) -> usize {
    let vault_dir = version_dir.join("vault");
    let password = fs::read(version_dir.join("PASSWORD")).expect("password");
    let vault = Vault::open(
        &fs::read(vault_dir.join("config")).expect("config"),
        &password,
    )
    .expect("vault opens");
    let mut index = Index::new();
    for (id, bytes) in objects(&vault_dir, "index") {
        index
            .load_delta(vault.keys(), vault.id(), &id, &bytes)
            .expect("index delta");
    }
    let bundles: HashMap<Id, Vec<u8>> = objects(&vault_dir, "bundles").into_iter().collect();

    let mut verifier = Verifier::new(&vault, &index);
    for fetch in verify_plan(&index, 1.0, 0).expect("plan") {
        verifier
            .feed(&fetch.bundle, &bundles[&fetch.bundle])
            .expect("bundle verifies");
    }
    let report = verifier.finish();
    assert!(report.problems.is_empty(), "{:?}", report.problems);
    assert_eq!(report.bundles_checked, bundles.len() as u64);

    let snapshots = objects(&vault_dir, "snapshots");
    assert_eq!(snapshots.len(), 1);
    let (id, bytes) = &snapshots[0];
    let snapshot = Snapshot::open(vault.keys(), vault.id(), id, bytes).expect("snapshot");
    let mut session =
        RestoreSession::new(&vault, &snapshot, &index, RestoreOptions::default()).expect("session");
    let mut files: HashMap<String, Vec<u8>> = HashMap::new();
    let mut symlinks = Vec::new();
    for c in session.creates() {
        match c {
            Create::File { path, size, .. } => {
                files.insert(path.clone(), vec![0xEE; *size as usize]);
            }
            Create::Symlink { path, target, .. } => symlinks.push((path.clone(), target.clone())),
            Create::Dir { .. } => {}
        }
    }
    for fetch in session.plan() {
        let bundle = &bundles[&fetch.bundle];
        for r in &fetch.ranges {
            let slice = &bundle[r.offset as usize..(r.offset + r.length) as usize];
            for w in session.feed(&fetch.bundle, r.offset, slice).expect("feed") {
                let file = files.get_mut(&w.path).expect("created first");
                file[w.offset as usize..w.offset as usize + w.data.len()].copy_from_slice(&w.data);
            }
        }
    }
    let report = session.finish();
    assert_eq!(report.errors, None);
    let expected_root = version_dir.join("expected");
    for (path, content) in &files {
        let expected =
            fs::read(expected_root.join(path.trim_start_matches('/'))).expect("expected file");
        assert!(expected == *content, "{path} differs from the golden copy");
    }
    assert_eq!(files.len(), 5);
    assert_eq!(
        symlinks,
        vec![("/data/latest".to_string(), "notes.txt".to_string())]
    );
    assert_eq!(report.files_restored, 6, "five files and a symlink");
    files.len()
}

#[test]
fn golden_vaults_restore_byte_exactly() {
    let mut versions = 0;
    for e in fs::read_dir(golden_dir()).expect("tests/golden") {
        let p = e.expect("entry").path();
        if p.is_dir() {
            let files = restore_golden(&p);
            println!(
                "golden vault {}: {files} files restored byte-exactly",
                p.file_name().unwrap().to_string_lossy()
            );
            versions += 1;
        }
    }
    assert!(versions >= 1, "no golden vault found");
}

#[test]
fn the_golden_vault_refuses_a_wrong_password() {
    let config = fs::read(golden_dir().join("v1/vault/config")).expect("config");
    let e = Vault::open(&config, b"not the password").unwrap_err();
    assert_eq!(e.code(), cloudbackup_core::ErrorCode::WrongPassword);
}
