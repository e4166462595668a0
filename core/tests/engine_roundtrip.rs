//! End-to-end engine tests: trees backed up with `BackupSession`, bundles
//! kept in a map standing in for the host's storage, restored with
//! `RestoreSession` plan/feed and checked byte for byte; dedup and chunk
//! stability; tampering, truncation, swapped blobs, missing and foreign
//! bundles, wrong passwords and unknown versions, all as typed errors with
//! no bad plaintext ever written.
//!
//! Vaults use tiny chunks (1/4/16 KiB), 64 KiB bundles and the cheapest
//! Argon2 parameters so the suite runs fast in debug builds.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use cloudbackup_core::engine::crypto::hash;
use cloudbackup_core::engine::keys::MasterKey;
use cloudbackup_core::engine::{
    BackupOptions, BackupOutcome, BackupSession, ByteRange, CreateKind, EntryKind, FileMeta, Id,
    Index, KdfParams, RawPath, RestoreOptions, RestoreReport, RestoreSession, SealedBundle,
    Snapshot, SnapshotInfo, Vault, VaultSettings, Verifier, Write,
};
use cloudbackup_core::model::v2::common::{PathFilter, PathType};
use cloudbackup_core::{ErrorCode, Result};
use proptest::prelude::*;

mod common;
use common::{random_bytes, tiny_settings};

const PASSWORD: &[u8] = b"correct horse battery staple";
const MTIME: i64 = 1_700_000_000;

fn settings() -> VaultSettings {
    tiny_settings()
}

fn new_vault() -> Vault {
    Vault::create(PASSWORD, settings(), KdfParams::insecure_for_tests()).unwrap()
}

fn text_bytes(seed: u64, len: usize) -> Vec<u8> {
    let words = ["backup ", "vault ", "chunk ", "restore ", "agent ", "\n"];
    random_bytes(seed, len)
        .iter()
        .flat_map(|b| words[*b as usize % words.len()].bytes())
        .take(len)
        .collect()
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Node {
    File(Vec<u8>),
    Dir,
    Link(String),
}

type Tree = Vec<(String, Node)>;

fn file(path: &str, data: Vec<u8>) -> (String, Node) {
    (path.to_string(), Node::File(data))
}

fn dir(path: &str) -> (String, Node) {
    (path.to_string(), Node::Dir)
}

/// The host's storage: bundles by id and the vault's index.
#[derive(Default)]
struct Store {
    bundles: HashMap<Id, Vec<u8>>,
    index: Index,
}

/// A finished backup and every bundle it produced.
struct Backup {
    outcome: BackupOutcome,
    bundles: Vec<SealedBundle>,
    snapshot: Snapshot,
}

impl Backup {
    fn new_blobs(&self) -> usize {
        self.bundles.iter().map(|b| b.entries.len()).sum()
    }
}

fn backup(vault: &Vault, store: &mut Store, tree: &Tree) -> Backup {
    let mut session = BackupSession::new(
        vault,
        std::sync::Arc::new(store.index.clone()),
        BackupOptions::default(),
    )
    .unwrap();
    let mut bundles = Vec::new();
    for (path, node) in tree {
        match node {
            Node::File(data) => {
                session
                    .start_file(FileMeta::file(path.as_str(), 0o644, MTIME))
                    .unwrap();
                // Odd-sized pushes, so chunking does not follow write sizes.
                for piece in data.chunks(7001) {
                    session.write(piece).unwrap();
                }
                session.finish_file().unwrap();
            }
            Node::Dir => session
                .add_entry(FileMeta::dir(path.as_str(), 0o755, MTIME))
                .unwrap(),
            Node::Link(target) => session
                .add_entry(FileMeta::symlink(path.as_str(), target.as_str(), MTIME))
                .unwrap(),
        }
        bundles.extend(session.take_bundles());
    }
    let mut outcome = session.finish(SnapshotInfo::at(MTIME)).unwrap();
    bundles.append(&mut outcome.bundles);
    for b in &bundles {
        store.bundles.insert(b.id, b.bytes.clone());
    }
    let (keys, id) = (vault.keys(), vault.id());
    store
        .index
        .load_delta(keys, id, &outcome.index.id, &outcome.index.bytes)
        .unwrap();
    // Restores work from the stored snapshot, opened as a host would.
    let snapshot = Snapshot::open(keys, id, &outcome.snapshot.id, &outcome.snapshot.bytes).unwrap();
    assert_eq!(snapshot, outcome.tree);
    Backup {
        outcome,
        bundles,
        snapshot,
    }
}

/// What a restore produced at the (simulated) destination.
#[derive(Debug, Default)]
struct Restored {
    files: BTreeMap<String, Vec<u8>>,
    dirs: BTreeSet<String>,
    links: BTreeMap<String, String>,
    writes: Vec<Write>,
    fetches: Vec<(Id, ByteRange)>,
    report: Option<RestoreReport>,
}

impl Restored {
    fn report(&self) -> &RestoreReport {
        self.report.as_ref().unwrap()
    }

    /// (path, error type) of every failed file.
    fn failed(&self) -> Vec<(String, String)> {
        self.report()
            .errors
            .iter()
            .flat_map(|e| e.list.iter().flatten())
            .map(|e| (e.path.clone(), e.kind.clone()))
            .collect()
    }
}

/// Runs a restore; `fetch` plays the storage (None = cannot fetch).
fn restore_with(
    vault: &Vault,
    snapshot: &Snapshot,
    index: &Index,
    options: RestoreOptions,
    mut fetch: impl FnMut(&Id, ByteRange) -> Option<Vec<u8>>,
) -> Result<Restored> {
    let mut session = RestoreSession::new(vault, snapshot, index, options)?;
    let mut out = Restored::default();
    for c in session.creates() {
        let path = c.path.to_string();
        match c.kind {
            CreateKind::Dir => {
                out.dirs.insert(path);
            }
            CreateKind::File => {
                out.files
                    .insert(path, vec![0; c.size.unwrap_or(0) as usize]);
            }
            CreateKind::Symlink => {
                out.links.insert(
                    path,
                    c.target.as_ref().map(|t| t.to_string()).unwrap_or_default(),
                );
            }
            other => panic!("unexpected {other:?}"),
        }
    }
    for f in session.plan() {
        for r in &f.ranges {
            out.fetches.push((f.bundle, *r));
            let Some(bytes) = fetch(&f.bundle, *r) else {
                session.missing(&f.bundle)?;
                break;
            };
            for w in session.feed(&f.bundle, r.offset, &bytes)? {
                for place in &w.places {
                    let file = out
                        .files
                        .get_mut(&place.path.to_string())
                        .expect("writes go to created files");
                    let at = place.offset as usize;
                    file[at..at + w.data.len()].copy_from_slice(&w.data);
                }
                out.writes.push(w);
            }
        }
    }
    out.report = Some(session.finish());
    Ok(out)
}

/// Range reads from `bundles`, short at the end like a real store.
fn reader(bundles: &HashMap<Id, Vec<u8>>) -> impl FnMut(&Id, ByteRange) -> Option<Vec<u8>> + '_ {
    |id, r| {
        let b = bundles.get(id)?;
        let start = (r.offset as usize).min(b.len());
        let end = (r.offset + r.length).min(b.len() as u64) as usize;
        Some(b[start..end].to_vec())
    }
}

fn restore(vault: &Vault, store: &Store, snapshot: &Snapshot, options: RestoreOptions) -> Restored {
    restore_with(
        vault,
        snapshot,
        &store.index,
        options,
        reader(&store.bundles),
    )
    .unwrap()
}

/// Every write equals the original bytes at that place.
fn assert_writes_faithful(tree: &Tree, writes: &[Write]) {
    let originals: HashMap<&str, &Vec<u8>> = tree
        .iter()
        .filter_map(|(p, n)| match n {
            Node::File(d) => Some((p.as_str(), d)),
            _ => None,
        })
        .collect();
    for w in writes {
        for place in &w.places {
            let original = originals[&*place.path.to_string()];
            let at = place.offset as usize;
            assert_eq!(
                &original[at..at + w.data.len()],
                &w.data[..],
                "bad plaintext written to {} at {at}",
                place.path
            );
        }
    }
}

/// The restore reproduced `tree` exactly, with no errors.
fn assert_restored(tree: &Tree, r: &Restored) {
    assert_eq!(r.report().errors, None, "{:?}", r.failed());
    assert_writes_faithful(tree, &r.writes);
    let mut files = BTreeMap::new();
    let mut dirs = BTreeSet::new();
    let mut links = BTreeMap::new();
    for (path, node) in tree {
        match node {
            Node::File(d) => {
                files.insert(path.clone(), d.clone());
            }
            Node::Dir => {
                dirs.insert(path.clone());
            }
            Node::Link(t) => {
                links.insert(path.clone(), t.clone());
            }
        }
    }
    assert!(r.files == files, "file contents differ");
    assert_eq!(r.dirs, dirs);
    assert_eq!(r.links, links);
    let report = r.report();
    assert_eq!(report.files_restored, (files.len() + links.len()) as u64);
    assert_eq!(
        report.bytes_restored,
        files.values().map(|d| d.len() as u64).sum::<u64>()
    );
}

fn sample_tree() -> Tree {
    let big = random_bytes(1, 200 * 1024);
    let mut twice = big[..50_000].to_vec();
    twice.extend_from_slice(&big[..50_000]);
    let mut zero_run = random_bytes(2, 30_000);
    zero_run.extend(std::iter::repeat_n(0, 80_000));
    zero_run.extend(random_bytes(3, 10_000));
    vec![
        dir("/web"),
        file("/web/index.html", text_bytes(4, 20_000)),
        file("/web/big.bin", big.clone()),
        dir("/web/cache"),
        file("/web/cache/tmp.bin", random_bytes(5, 9_000)),
        file("/web/empty", Vec::new()),
        (
            "/web/current".to_string(),
            Node::Link("/web/index.html".into()),
        ),
        dir("/etc"),
        file("/etc/app.conf", b"listen 80\n".to_vec()),
        file("/etc/copy-of-big.bin", big),
        file("/etc/twice.bin", twice),
        file("/etc/zeros.bin", zero_run),
    ]
}

#[test]
fn trees_round_trip_byte_exactly_and_shared_chunks_are_fetched_once() {
    let vault = new_vault();
    let mut store = Store::default();
    let tree = sample_tree();
    let b = backup(&vault, &mut store, &tree);
    assert!(b.bundles.len() >= 2, "tiny bundles: several of them");
    let r = restore(&vault, &store, &b.snapshot, RestoreOptions::default());
    assert_restored(&tree, &r);

    // With no gap allowed, the ranges hold exactly the distinct blobs:
    // a chunk shared by files (or repeated in one) is fetched once.
    let exact = RestoreOptions {
        max_gap: 0,
        sparse: false,
        ..RestoreOptions::default()
    };
    let r0 = restore(&vault, &store, &b.snapshot, exact);
    assert_restored(&tree, &r0);
    let distinct: BTreeSet<Id> = b
        .snapshot
        .entries
        .iter()
        .flat_map(|e| e.chunks.iter().copied())
        .collect();
    let blob_bytes: u64 = distinct
        .iter()
        .map(|id| u64::from(store.index.get(id).unwrap().length))
        .sum();
    let fetched: u64 = r0.fetches.iter().map(|(_, r)| r.length).sum();
    assert_eq!(fetched, blob_bytes);
    let chunk_uses: usize = b.snapshot.entries.iter().map(|e| e.chunks.len()).sum();
    assert!(distinct.len() < chunk_uses, "the tree shares chunks");
    assert_eq!(r0.writes.len(), distinct.len(), "one write per blob");
    assert_eq!(
        r0.writes.iter().map(|w| w.places.len()).sum::<usize>(),
        chunk_uses,
        "one place per chunk use"
    );

    // Ranges are sorted and disjoint per bundle; the default gap merges
    // each bundle's contiguous blobs into one request.
    for rr in [&r, &r0] {
        let mut by_bundle: HashMap<Id, Vec<ByteRange>> = HashMap::new();
        for (id, range) in &rr.fetches {
            by_bundle.entry(*id).or_default().push(*range);
        }
        for ranges in by_bundle.values() {
            for pair in ranges.windows(2) {
                assert!(pair[0].offset + pair[0].length <= pair[1].offset);
            }
        }
    }
    assert_eq!(r.fetches.len(), b.bundles.len());
}

#[test]
fn inclusions_and_exclusions_select_paths() {
    let vault = new_vault();
    let mut store = Store::default();
    let tree = sample_tree();
    let b = backup(&vault, &mut store, &tree);
    // restic's meaning (docs/PATTERNS.md): `/web` is the folder and all
    // below it; the excluded folder goes with its content; `*.bin` is a
    // name at any depth.
    let options = RestoreOptions {
        inclusions: vec!["/web".into()],
        exclusions: vec!["/web/cache".into(), "*.bin".into()],
        ..RestoreOptions::default()
    };
    let r = restore(&vault, &store, &b.snapshot, options);
    let expected: Tree = tree
        .iter()
        .filter(|(p, _)| {
            ["/web", "/web/index.html", "/web/empty", "/web/current"].contains(&p.as_str())
        })
        .cloned()
        .collect();
    assert_restored(&expected, &r);

    assert!(r.report().unmatched_includes.is_empty());

    // An included file brings the folders above it; an inclusion that
    // matches nothing is named in the report.
    let options = RestoreOptions {
        inclusions: vec!["/etc/app.conf".into(), "/etc/app.cnf".into()],
        ..RestoreOptions::default()
    };
    let r = restore(&vault, &store, &b.snapshot, options);
    assert_eq!(r.report().unmatched_includes, ["/etc/app.cnf"]);
    let expected: Tree = tree
        .iter()
        .filter(|(p, _)| p == "/etc" || p == "/etc/app.conf")
        .cloned()
        .collect();
    assert_restored(&expected, &r);

    // The v2 restore's filters map directly: a folder brings itself and its content.
    let options = RestoreOptions::from_filters(
        &[
            PathFilter {
                kind: PathType::Folder,
                path: "/web/".into(),
            },
            PathFilter {
                kind: PathType::File,
                path: "/etc/app.conf".into(),
            },
        ],
        &[PathFilter {
            kind: PathType::Folder,
            path: "/web/cache".into(),
        }],
        false,
    );
    let r = restore(&vault, &store, &b.snapshot, options);
    let expected: Tree = tree
        .iter()
        .filter(|(p, _)| {
            (p.starts_with("/web") && !p.starts_with("/web/cache"))
                || p == "/etc/app.conf"
                || p == "/etc"
        })
        .cloned()
        .collect();
    assert_restored(&expected, &r);

    let bad = RestoreOptions {
        inclusions: vec!["/web/[a,b".into()],
        ..RestoreOptions::default()
    };
    let e = RestoreSession::new(&vault, &b.snapshot, &store.index, bad)
        .err()
        .unwrap();
    assert_eq!(e.code(), ErrorCode::InvalidArgument);
    assert!(e.to_string().contains("/web/[a,b"), "{e}");
}

#[test]
fn existing_files_are_skipped_unless_overwriting() {
    let vault = new_vault();
    let mut store = Store::default();
    let tree = sample_tree();
    let b = backup(&vault, &mut store, &tree);
    let existing: Vec<RawPath> = vec!["/etc/app.conf".into(), "/web/current".into(), "/web".into()];
    let keep = RestoreOptions {
        existing: existing.clone(),
        ..RestoreOptions::default()
    };
    let r = restore(&vault, &store, &b.snapshot, keep);
    assert_eq!(r.report().files_skipped, 2, "a file and a symlink");
    assert!(!r.files.contains_key("/etc/app.conf"));
    assert!(!r.links.contains_key("/web/current"));
    assert!(r.dirs.contains("/web"), "directories are always created");
    assert!(r
        .writes
        .iter()
        .flat_map(|w| &w.places)
        .all(|p| p.path != "/etc/app.conf"));
    let expected: Tree = tree
        .iter()
        .filter(|(p, _)| p != "/etc/app.conf" && p != "/web/current")
        .cloned()
        .collect();
    assert_restored(&expected, &r);

    let overwrite = RestoreOptions {
        existing,
        overwrite: true,
        ..RestoreOptions::default()
    };
    let r = restore(&vault, &store, &b.snapshot, overwrite);
    assert_eq!(r.report().files_skipped, 0);
    assert_restored(&tree, &r);
}

fn tree_strategy() -> impl Strategy<Value = Tree> {
    // (kind, size, seed): 0 random, 1 text, 2 zero runs, 3 copy of an earlier file.
    let spec = (0u8..4, 0usize..200 * 1024, any::<u64>());
    prop::collection::vec(spec, 1..6).prop_map(|specs| {
        let mut tree: Tree = vec![dir("/d")];
        for (i, (kind, size, seed)) in specs.into_iter().enumerate() {
            let data = match kind {
                0 => random_bytes(seed, size),
                1 => text_bytes(seed, size),
                2 => {
                    let mut d = random_bytes(seed, size / 3);
                    d.resize(size - size / 4, 0);
                    d.extend(random_bytes(seed ^ 1, size / 4));
                    d
                }
                _ => match tree.iter().rev().find_map(|(_, n)| match n {
                    Node::File(d) => Some(d.clone()),
                    _ => None,
                }) {
                    Some(d) => d,
                    None => random_bytes(seed, size),
                },
            };
            tree.push(file(&format!("/d/f{i}"), data));
        }
        tree
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(24))]

    #[test]
    fn random_trees_round_trip_and_a_second_backup_stores_nothing(tree in tree_strategy()) {
        let vault = new_vault();
        let mut store = Store::default();
        let first = backup(&vault, &mut store, &tree);
        let r = restore(&vault, &store, &first.snapshot, RestoreOptions::default());
        assert_restored(&tree, &r);

        let second = backup(&vault, &mut store, &tree);
        prop_assert_eq!(second.outcome.counters.bytes_backed_up, 0);
        prop_assert_eq!(second.outcome.counters.files_backed_up, 0);
        prop_assert!(second.bundles.is_empty());
        let r = restore(&vault, &store, &second.snapshot, RestoreOptions::default());
        assert_restored(&tree, &r);
    }
}

#[test]
fn a_one_byte_change_stores_at_most_two_new_chunks_on_average() {
    const CASES: u64 = 20;
    let mut new_chunks = 0usize;
    for seed in 0..CASES {
        // A fixed key per case (it seeds the chunker), so the figure is reproducible.
        let key: [u8; 32] = random_bytes(seed ^ 0x5EED, 32).try_into().unwrap();
        let vault = Vault::create_with(
            MasterKey::from_bytes(key),
            [seed as u8; 16],
            PASSWORD,
            settings(),
            KdfParams::insecure_for_tests(),
        )
        .unwrap();
        let mut store = Store::default();
        let mut data = random_bytes(seed, 1024 * 1024);
        let tree = vec![file("/big", data.clone())];
        let first = backup(&vault, &mut store, &tree);
        assert!(first.new_blobs() > 100);
        let at = random_bytes(seed ^ 0xA5A5, 8)
            .iter()
            .fold(0usize, |a, b| a * 256 + *b as usize)
            % data.len();
        data[at] ^= 0x40;
        let changed = vec![file("/big", data)];
        let second = backup(&vault, &mut store, &changed);
        new_chunks += second.new_blobs();
        if seed == 0 {
            let r = restore(&vault, &store, &second.snapshot, RestoreOptions::default());
            assert_restored(&changed, &r);
        }
    }
    let average = new_chunks as f64 / CASES as f64;
    println!("1-byte change in 1 MiB: {average:.2} new chunks on average over {CASES} cases");
    assert!(average <= 2.0, "average {average}");
}

/// A tree small enough that its one bundle can be tampered with byte by byte.
fn small_tree() -> Tree {
    vec![
        dir("/s"),
        file("/s/a", random_bytes(10, 1500)),
        file("/s/b", random_bytes(11, 2500)),
        file("/s/c", text_bytes(12, 3000)),
        file("/s/copy-of-a", random_bytes(10, 1500)),
        file("/s/empty", Vec::new()),
    ]
}

/// Restores `snapshot` from `bundles` and checks that nothing bad came out:
/// every write is faithful, and every failure is `want`; returns the failures.
fn restore_tampered(
    vault: &Vault,
    store: &Store,
    snapshot: &Snapshot,
    tree: &Tree,
    bundles: &HashMap<Id, Vec<u8>>,
    want: &str,
) -> Vec<(String, String)> {
    let r = restore_with(
        vault,
        snapshot,
        &store.index,
        RestoreOptions::default(),
        reader(bundles),
    )
    .unwrap();
    assert_writes_faithful(tree, &r.writes);
    let failed = r.failed();
    assert!(failed.iter().all(|(_, kind)| kind == want), "{failed:?}");
    let files = tree
        .iter()
        .filter(|(_, n)| matches!(n, Node::File(_)))
        .count();
    assert_eq!(r.report().files_restored as usize + failed.len(), files);
    failed
}

fn verify_error(vault: &Vault, index: &Index, id: &Id, bytes: &[u8]) -> ErrorCode {
    let mut v = Verifier::new(vault, index);
    let e = v.feed(id, bytes).unwrap_err();
    assert!(!v.finish().is_ok());
    e.code()
}

#[test]
fn flipping_any_byte_of_a_bundle_fails_with_corrupt_and_writes_nothing_bad() {
    let vault = new_vault();
    let mut store = Store::default();
    let tree = small_tree();
    let b = backup(&vault, &mut store, &tree);
    assert_eq!(b.bundles.len(), 1);
    let bundle = &b.bundles[0];
    let spans: Vec<(usize, usize)> = bundle
        .entries
        .iter()
        .map(|e| (e.offset as usize, (e.offset + e.length) as usize))
        .collect();
    let mut verify = Verifier::new(&vault, &store.index);
    verify.feed(&bundle.id, &bundle.bytes).unwrap();
    let clean = verify.finish();
    assert!(clean.is_ok());
    assert_eq!(clean.blobs_checked as usize, store.index.len());

    for i in 0..bundle.bytes.len() {
        let mut bytes = bundle.bytes.clone();
        bytes[i] ^= 1 << (i % 8);
        assert_eq!(
            verify_error(&vault, &store.index, &bundle.id, &bytes),
            ErrorCode::Corrupt,
            "byte {i}"
        );
        let tampered = HashMap::from([(bundle.id, bytes)]);
        let failed = restore_tampered(&vault, &store, &b.snapshot, &tree, &tampered, "corrupt");
        let in_blob = spans.iter().any(|&(s, e)| (s..e).contains(&i));
        assert_eq!(!failed.is_empty(), in_blob, "byte {i}: {failed:?}");
    }
}

#[test]
fn truncated_bundles_fail_with_corrupt() {
    let vault = new_vault();
    let mut store = Store::default();
    let tree = small_tree();
    let b = backup(&vault, &mut store, &tree);
    let bundle = &b.bundles[0];
    let blobs_end = bundle
        .entries
        .iter()
        .map(|e| (e.offset + e.length) as usize)
        .max()
        .unwrap();
    for len in 0..bundle.bytes.len() {
        let bytes = bundle.bytes[..len].to_vec();
        assert_eq!(
            verify_error(&vault, &store.index, &bundle.id, &bytes),
            ErrorCode::Corrupt,
            "length {len}"
        );
        let tampered = HashMap::from([(bundle.id, bytes)]);
        let failed = restore_tampered(&vault, &store, &b.snapshot, &tree, &tampered, "corrupt");
        assert_eq!(!failed.is_empty(), len < blobs_end, "length {len}");
    }
}

#[test]
fn swapped_blobs_fail_with_corrupt() {
    let vault = new_vault();
    let mut store = Store::default();
    let tree = small_tree();
    let b = backup(&vault, &mut store, &tree);
    let bundle = &b.bundles[0];
    let (x, y) = (bundle.entries[0], bundle.entries[1]);
    assert_eq!(x.offset + x.length, y.offset, "adjacent blobs");
    let (xs, ys) = (x.offset as usize, y.offset as usize);
    let end = ys + y.length as usize;
    let mut bytes = bundle.bytes[..xs].to_vec();
    bytes.extend_from_slice(&bundle.bytes[ys..end]);
    bytes.extend_from_slice(&bundle.bytes[xs..ys]);
    bytes.extend_from_slice(&bundle.bytes[end..]);
    assert_eq!(bytes.len(), bundle.bytes.len());
    assert_eq!(
        verify_error(&vault, &store.index, &bundle.id, &bytes),
        ErrorCode::Corrupt
    );
    let tampered = HashMap::from([(bundle.id, bytes.clone())]);
    let failed = restore_tampered(&vault, &store, &b.snapshot, &tree, &tampered, "corrupt");
    assert!(!failed.is_empty());

    // Even a bundle renamed to its new hash (so its id checks) with an index
    // pointing at it fails blob by blob: each blob's AAD binds its id.
    let renamed = Id(hash(&bytes));
    let mut index = Index::new();
    for (blob, l) in store.index.iter() {
        let mut l = *l;
        l.bundle = renamed;
        index.insert(*blob, l);
    }
    let mut v = Verifier::new(&vault, &index);
    assert_eq!(
        v.feed(&renamed, &bytes).unwrap_err().code(),
        ErrorCode::Corrupt
    );
    let report = v.finish();
    assert_eq!(report.problems.len(), 2, "{:?}", report.problems);
    assert!(report
        .problems
        .iter()
        .all(|(object, e)| object.starts_with("blob ") && e.code() == ErrorCode::Corrupt));
}

#[test]
fn a_missing_bundle_fails_its_files_with_not_found_in_the_errors_patch_shape() {
    let vault = new_vault();
    let mut store = Store::default();
    let tree = sample_tree();
    let b = backup(&vault, &mut store, &tree);
    let lost = b.bundles[0].id;
    let r = restore_with(
        &vault,
        &b.snapshot,
        &store.index,
        RestoreOptions::default(),
        |id, range| {
            if *id == lost {
                None
            } else {
                reader(&store.bundles)(id, range)
            }
        },
    )
    .unwrap();
    assert_writes_faithful(&tree, &r.writes);
    let failed = r.failed();
    assert!(!failed.is_empty());
    assert!(failed.iter().all(|(_, kind)| kind == "not_found"));
    assert!(
        r.report().files_restored > 0,
        "files in other bundles restore"
    );
    let errors = serde_json::to_value(r.report().errors.as_ref().unwrap()).unwrap();
    assert_eq!(errors["count"], failed.len());
    assert_eq!(errors["reason"], "unable_to_process_some_files");
    assert!(errors["diagnostics"].is_string());
    for (i, entry) in errors["list"].as_array().unwrap().iter().enumerate() {
        assert_eq!(entry["index"], i);
        assert_eq!(entry["type"], "not_found");
        assert_eq!(entry["exception"]["code"], 7001);
        let description = entry["exception"]["description"].as_str().unwrap();
        assert!(description.contains(&lost.to_hex()), "{description}");
    }

    // Ranges the host never feeds count as missing too.
    let session =
        RestoreSession::new(&vault, &b.snapshot, &store.index, RestoreOptions::default()).unwrap();
    let report = session.finish();
    assert_eq!(
        report.files_restored, 2,
        "only the empty file and the symlink need no data"
    );
    let list = report.errors.unwrap().list.unwrap();
    assert!(list.iter().all(|e| e.kind == "not_found"));

    let mut v = Verifier::new(&vault, &store.index);
    v.missing(&lost);
    assert_eq!(v.finish().problems[0].1.code(), ErrorCode::NotFound);
}

#[test]
fn blobs_missing_from_the_index_or_their_bundle_are_not_found() {
    let vault = new_vault();
    let mut store = Store::default();
    let tree = small_tree();
    let b = backup(&vault, &mut store, &tree);
    let entry = |path: &str| b.snapshot.entries.iter().find(|e| e.path == path).unwrap();
    let lost = entry("/s/b").chunks[0];

    // Index without one blob: that file fails at planning, the rest restore.
    let mut partial = Index::new();
    for (blob, l) in store.index.iter().filter(|(blob, _)| **blob != lost) {
        partial.insert(*blob, *l);
    }
    let r = restore_with(
        &vault,
        &b.snapshot,
        &partial,
        RestoreOptions::default(),
        reader(&store.bundles),
    )
    .unwrap();
    assert_eq!(r.failed(), [("/s/b".to_string(), "not_found".to_string())]);
    assert!(
        !r.files.contains_key("/s/b"),
        "a failed plan creates nothing"
    );
    assert_writes_faithful(&tree, &r.writes);

    // Index that places a blob in a bundle whose trailer does not list it.
    let mut index = store.index.clone();
    let mut ghost = *store.index.get(&lost).unwrap();
    ghost.offset += 1;
    index.insert(Id([0xEE; 32]), ghost);
    let bundle = &b.bundles[0];
    let mut v = Verifier::new(&vault, &index);
    assert!(v.feed(&bundle.id, &bundle.bytes).is_err());
    let report = v.finish();
    assert_eq!(report.problems.len(), 1);
    assert_eq!(report.problems[0].1.code(), ErrorCode::NotFound);
    assert_eq!(report.blobs_checked as usize, store.index.len());
}

#[test]
fn foreign_bundles_wrong_passwords_and_unknown_versions_are_typed_errors() {
    let vault = new_vault();
    let mut store = Store::default();
    let tree = small_tree();
    let b = backup(&vault, &mut store, &tree);

    // Another vault's bundle: its blobs do not open here, its header names another vault.
    let other = new_vault();
    let mut other_store = Store::default();
    let ob = backup(&other, &mut other_store, &tree);
    let r = restore_with(
        &vault,
        &ob.snapshot,
        &other_store.index,
        RestoreOptions::default(),
        reader(&other_store.bundles),
    )
    .unwrap();
    assert_eq!(r.report().files_restored, 1, "only the empty file");
    assert!(r.writes.is_empty());
    assert!(r.failed().iter().all(|(_, k)| k == "corrupt"));
    let foreign = &ob.bundles[0];
    assert_eq!(
        verify_error(&vault, &other_store.index, &foreign.id, &foreign.bytes),
        ErrorCode::ForeignVault
    );

    // Wrong password; the right one opens a vault that restores.
    let config = vault.config_bytes().unwrap();
    assert_eq!(
        Vault::open(&config, b"wrong").unwrap_err().code(),
        ErrorCode::WrongPassword
    );
    let reopened = Vault::open(&config, PASSWORD).unwrap();
    assert_restored(
        &tree,
        &restore(&reopened, &store, &b.snapshot, RestoreOptions::default()),
    );

    // Unknown format versions: config, bundle (written by a future version,
    // so its id matches), snapshot.
    let mut future = config.clone();
    future[4] = 2;
    assert_eq!(
        Vault::open(&future, PASSWORD).unwrap_err().code(),
        ErrorCode::UnsupportedVersion
    );
    let mut bytes = b.bundles[0].bytes.clone();
    bytes[4] = 2;
    let id = Id(hash(&bytes));
    assert_eq!(
        verify_error(&vault, &Index::new(), &id, &bytes),
        ErrorCode::UnsupportedVersion
    );
    let mut snapshot = b.snapshot.clone();
    snapshot.version = cloudbackup_core::engine::SNAPSHOT_VERSION + 1;
    let sealed = snapshot.seal(vault.keys(), vault.id()).unwrap();
    assert_eq!(
        Snapshot::open(vault.keys(), vault.id(), &sealed.id, &sealed.bytes)
            .unwrap_err()
            .code(),
        ErrorCode::UnsupportedVersion
    );
}

#[test]
fn feeding_what_was_not_planned_is_an_invalid_argument() {
    let vault = new_vault();
    let mut store = Store::default();
    let tree = small_tree();
    let b = backup(&vault, &mut store, &tree);
    let mut s =
        RestoreSession::new(&vault, &b.snapshot, &store.index, RestoreOptions::default()).unwrap();
    let plan = s.plan();
    assert_eq!(plan.len(), 1);
    let f = &plan[0];
    let r = f.ranges[0];
    let bytes = &store.bundles[&f.bundle];
    let good = &bytes[r.offset as usize..(r.offset + r.length) as usize];
    let invalid = |res: Result<Vec<Write>>| {
        assert_eq!(res.unwrap_err().code(), ErrorCode::InvalidArgument);
    };
    invalid(s.feed(&Id([1; 32]), r.offset, good));
    invalid(s.feed(&f.bundle, r.offset + 1, good));
    invalid(s.feed(&f.bundle, r.offset, &bytes[r.offset as usize..]));
    assert!(s.missing(&Id([1; 32])).is_err());
    let writes = s.feed(&f.bundle, r.offset, good).unwrap();
    assert_writes_faithful(&tree, &writes);
    invalid(s.feed(&f.bundle, r.offset, good));
    let report = s.finish();
    assert_eq!(report.errors, None);
    assert_eq!(report.files_restored, 5);
    assert!(
        b.snapshot
            .entries
            .iter()
            .filter(|e| e.kind == EntryKind::File)
            .count()
            == 5
    );
}

#[test]
fn flipping_any_byte_of_the_index_or_snapshot_is_a_typed_error() {
    let vault = new_vault();
    let mut store = Store::default();
    let b = backup(&vault, &mut store, &small_tree());
    let (keys, vault_id) = (vault.keys(), vault.id());
    let (index, snapshot) = (&b.outcome.index, &b.outcome.snapshot);
    // The header (magic, version, vault id) is read before the bytes are
    // authenticated, so a flip there may read as another version or vault.
    let expected = |i: usize, code: ErrorCode| {
        code == ErrorCode::Corrupt
            || (i < 22 && [ErrorCode::UnsupportedVersion, ErrorCode::ForeignVault].contains(&code))
    };
    for i in 0..index.bytes.len() {
        let mut bytes = index.bytes.clone();
        bytes[i] ^= 1 << (i % 8);
        let e = Index::new()
            .load_delta(keys, vault_id, &index.id, &bytes)
            .unwrap_err();
        assert!(expected(i, e.code()), "index byte {i}: {e}");
    }
    for i in 0..snapshot.bytes.len() {
        let mut bytes = snapshot.bytes.clone();
        bytes[i] ^= 1 << (i % 8);
        let e = Snapshot::open(keys, vault_id, &snapshot.id, &bytes).unwrap_err();
        assert!(expected(i, e.code()), "snapshot byte {i}: {e}");
    }
    for len in 0..snapshot.bytes.len() {
        let e = Snapshot::open(keys, vault_id, &snapshot.id, &snapshot.bytes[..len]).unwrap_err();
        assert_eq!(e.code(), ErrorCode::Corrupt, "snapshot length {len}");
    }
}
