//! The tamper matrix (tests/data/tamper, see tests/interop/README.md): every
//! mutation of the shared plan applied to a copy of the fixture vault, then
//! the host's whole pipeline (open the config, load the index deltas, open
//! the snapshots, restore every snapshot, verify every bundle). Each
//! mutation must be detected in the stages the plan names, with an error
//! code the plan accepts, and no restored byte may differ from the
//! untampered vault's.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::fs;
use std::path::PathBuf;

use cloudbackup_core::engine::restore::{CreateKind, RestoreOptions, RestoreSession};
use cloudbackup_core::engine::verify::{verify_plan, Verifier};
use cloudbackup_core::engine::{Id, Index, Snapshot, Vault};
use cloudbackup_core::Error;
use serde_json::Value;

type Objects = BTreeMap<String, Vec<u8>>;
/// Per snapshot, path -> content, of the untampered vault.
type Baseline = Vec<HashMap<String, Vec<u8>>>;

fn fixture() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../tests/data/tamper")
}

/// What one run of the pipeline saw: (stage, error code) pairs, and writes
/// whose bytes differ from the untampered vault's.
#[derive(Default, Debug, PartialEq)]
struct Outcome {
    errors: Vec<(&'static str, String)>,
    bad_writes: usize,
    files: Baseline,
}

fn code(e: &Error) -> String {
    e.code().as_str().to_string()
}

fn id_of(path: &str) -> Id {
    Id::parse(path.rsplit('/').next().unwrap_or(path)).expect("object names are ids")
}

/// Which part of the restore and verify stages a mutation can change. A
/// file's restore depends only on the ranges it reads, and a bundle's
/// verification only on that bundle, so parts whose inputs equal the
/// untampered vault's give the untampered answer (no error) and are not
/// re-run; this keeps the matrix fast without skipping anything it changes.
#[derive(Default)]
struct Scope {
    /// `None`: everything (the mutation touched config, index or snapshots).
    /// Else per snapshot, the paths to restore, and the bundles to verify.
    only: Option<(Vec<Vec<String>>, BTreeSet<String>)>,
}

/// Per snapshot, per file path: the bundle ranges (bundle, start, end) it reads.
type Reads = Vec<BTreeMap<String, Vec<(String, u64, u64)>>>;

fn glob_escape(path: &str) -> String {
    path.chars()
        .flat_map(|c| {
            if "*?[]{}\\".contains(c) {
                vec!['\\', c]
            } else {
                vec![c]
            }
        })
        .collect()
}

/// What each file of each snapshot reads, planned one file at a time.
fn reads(vault: &Vault, index: &Index, snaps: &[Snapshot]) -> Reads {
    snaps
        .iter()
        .map(|snap| {
            let mut per_file = BTreeMap::new();
            for e in &snap.entries {
                let options = RestoreOptions {
                    inclusions: vec![glob_escape(&e.path.to_string())],
                    max_gap: 0,
                    ..RestoreOptions::default()
                };
                let session = RestoreSession::new(vault, snap, index, options).expect("session");
                let ranges = session
                    .plan()
                    .iter()
                    .flat_map(|f| {
                        f.ranges
                            .iter()
                            .map(|r| (f.bundle.to_string(), r.offset, r.offset + r.length))
                    })
                    .collect();
                per_file.insert(e.path.to_string(), ranges);
            }
            per_file
        })
        .collect()
}

/// The scope of mutation `m`: the byte region it changes per bundle, and the
/// files whose reads overlap it.
fn scope(m: &Value, reads: &Reads) -> Scope {
    let mut changed: BTreeMap<String, (u64, u64)> = BTreeMap::new();
    for key in ["object", "with"] {
        let Some(object) = m[key].as_str() else {
            continue;
        };
        let Some(bundle) = object.strip_prefix("bundles/") else {
            return Scope::default();
        };
        let region = match m["op"].as_str() {
            Some("flip") => {
                let at = m["offset"].as_u64().expect("offset");
                (at, at + 1)
            }
            Some("truncate") => (m["length"].as_u64().expect("length"), u64::MAX),
            _ => (0, u64::MAX),
        };
        changed.insert(bundle.to_string(), region);
    }
    let paths = reads
        .iter()
        .map(|files| {
            files
                .iter()
                .filter(|(_, ranges)| {
                    ranges.iter().any(|(b, start, end)| {
                        changed.get(b).is_some_and(|&(s, e)| s < *end && *start < e)
                    })
                })
                .map(|(p, _)| glob_escape(p))
                .collect()
        })
        .collect();
    Scope {
        only: Some((paths, changed.into_keys().collect())),
    }
}

/// The host's pipeline over `objects`, within `scope`; `baseline` (when
/// given) is what each write must match.
/// How the pipeline feeds a range to the restore session.
#[derive(Clone, Copy, PartialEq)]
enum Feed {
    /// `RestoreSession::feed`: the core opens each blob.
    Core,
    /// `next_sealed` / `open_sealed`, each blob opened by the test's own
    /// AES-256-GCM under `blob_encryption_key`, as a browser host does
    /// with WebCrypto.
    HostAead,
}

/// The writes of one fetched range, fed the `how` way.
fn feed_range(
    session: &mut RestoreSession,
    how: Feed,
    bundle: &Id,
    offset: u64,
    bytes: &[u8],
) -> Vec<cloudbackup_core::engine::Write> {
    if how == Feed::Core {
        return session.feed(bundle, offset, bytes).expect("planned range");
    }
    use aes_gcm::{AeadInOut, Aes256Gcm, KeyInit};
    let cipher = Aes256Gcm::new((&*session.blob_encryption_key()).into());
    let mut range = session
        .start_range(bundle, offset, bytes.len())
        .expect("planned range");
    // All parts first, then all openings, as an async host does.
    let parts: Vec<_> = std::iter::from_fn(|| session.next_sealed(&mut range, bytes)).collect();
    let mut writes = Vec::new();
    for part in &parts {
        let opened = (!part.failed()).then(|| {
            let body = &bytes[part.body.clone()];
            let (text, tag) = body.split_at(body.len() - 16);
            let mut buf = text.to_vec();
            let tag: [u8; 16] = tag.try_into().expect("16-byte tag");
            cipher
                .decrypt_inout_detached(
                    &part.nonce.into(),
                    &part.aad,
                    buf.as_mut_slice().into(),
                    &tag.into(),
                )
                .ok()
                .map(|()| buf)
        });
        writes.extend(session.open_sealed(part, opened.flatten()));
    }
    writes
}

fn pipeline(
    objects: &Objects,
    password: &[u8],
    snapshots: &[String],
    baseline: Option<&Baseline>,
    scope: &Scope,
    how: Feed,
) -> Outcome {
    let mut out = Outcome::default();
    let Some(config) = objects.get("config") else {
        out.errors.push(("open", "not_found".into()));
        return out;
    };
    let vault = match Vault::open(config, password) {
        Ok(v) => v,
        Err(e) => {
            out.errors.push(("open", code(&e)));
            return out;
        }
    };
    let mut index = Index::new();
    for (path, bytes) in objects
        .range("index/".to_string()..)
        .take_while(|(k, _)| k.starts_with("index/"))
    {
        if let Err(e) = index.load_delta(vault.keys(), vault.id(), &id_of(path), bytes) {
            out.errors.push(("index", code(&e)));
            return out;
        }
    }
    let mut snaps = Vec::new();
    for id in snapshots {
        let Some(bytes) = objects.get(&format!("snapshots/{id}")) else {
            out.errors.push(("snapshot", "not_found".into()));
            return out;
        };
        match Snapshot::open(vault.keys(), vault.id(), &id_of(id), bytes) {
            Ok(s) => snaps.push(s),
            Err(e) => {
                out.errors.push(("snapshot", code(&e)));
                return out;
            }
        }
    }
    for (n, snap) in snaps.iter().enumerate() {
        let mut options = RestoreOptions::default();
        if let Some((paths, _)) = &scope.only {
            if paths[n].is_empty() {
                continue;
            }
            options.inclusions = paths[n].clone();
        }
        let mut session = match RestoreSession::new(&vault, snap, &index, options) {
            Ok(s) => s,
            Err(e) => {
                out.errors.push(("restore", code(&e)));
                continue;
            }
        };
        let mut files: HashMap<String, Vec<u8>> = HashMap::new();
        for c in session.creates() {
            if c.kind == CreateKind::File {
                files.insert(c.path.to_string(), vec![0; c.size.unwrap_or(0) as usize]);
            }
        }
        for fetch in session.plan() {
            let Some(bundle) = objects.get(&format!("bundles/{}", fetch.bundle)) else {
                session.missing(&fetch.bundle).expect("planned bundle");
                continue;
            };
            for r in &fetch.ranges {
                // A short bundle gives a short read, as a file or a ranged GET would.
                let start = (r.offset as usize).min(bundle.len());
                let end = ((r.offset + r.length) as usize).min(bundle.len());
                let writes = feed_range(
                    &mut session,
                    how,
                    &fetch.bundle,
                    r.offset,
                    &bundle[start..end],
                );
                for w in writes {
                    for place in &w.places {
                        let at = place.offset as usize;
                        let path = place.path.to_string();
                        if let Some(base) = baseline {
                            if base[n]
                                .get(&path)
                                .and_then(|f| f.get(at..at + w.data.len()))
                                != Some(&w.data[..])
                            {
                                out.bad_writes += 1;
                            }
                        }
                        let file = files.get_mut(&path).expect("written files were created");
                        file[at..at + w.data.len()].copy_from_slice(&w.data);
                    }
                }
            }
        }
        let report = session.finish();
        if let Some(errors) = &report.errors {
            for e in errors.list.iter().flatten() {
                out.errors.push(("restore", e.kind.clone()));
            }
        }
        out.files.push(files);
    }
    let mut verifier = Verifier::new(&vault, &index);
    for fetch in verify_plan(&index, 1.0, 0).expect("plan") {
        if let Some((_, bundles)) = &scope.only {
            if !bundles.contains(&fetch.bundle.to_string()) {
                continue;
            }
        }
        match objects.get(&format!("bundles/{}", fetch.bundle)) {
            Some(bytes) => {
                // Every problem is also in the report.
                let _ = verifier.feed(&fetch.bundle, bytes);
            }
            None => verifier.missing(&fetch.bundle),
        }
    }
    for (_, e) in &verifier.finish().problems {
        out.errors.push(("verify", code(e)));
    }
    out
}

/// A copy of `objects` with mutation `m` applied.
fn mutate(objects: &Objects, m: &Value) -> Objects {
    let mut o = objects.clone();
    let object = m["object"].as_str().expect("object").to_string();
    match m["op"].as_str().expect("op") {
        "flip" => {
            let at = m["offset"].as_u64().expect("offset") as usize;
            o.get_mut(&object).expect("planned object")[at] ^=
                m["xor"].as_u64().expect("xor") as u8;
        }
        "truncate" => o
            .get_mut(&object)
            .expect("planned object")
            .truncate(m["length"].as_u64().expect("length") as usize),
        "swap" => {
            let with = m["with"].as_str().expect("with").to_string();
            let a = o[&object].clone();
            let b = std::mem::replace(o.get_mut(&with).expect("planned object"), a);
            o.insert(object, b);
        }
        "delete" => {
            o.remove(&object);
        }
        other => panic!("unknown mutation {other}"),
    }
    o
}

#[test]
fn every_mutation_of_the_plan_is_detected() {
    let root = fixture();
    let plan: Value = serde_json::from_slice(&fs::read(root.join("plan.json")).expect("plan"))
        .expect("plan JSON");
    let password = plan["password"]
        .as_str()
        .expect("password")
        .as_bytes()
        .to_vec();
    let snapshots: Vec<String> = plan["snapshots"]
        .as_array()
        .expect("snapshots")
        .iter()
        .map(|s| s.as_str().expect("id").to_string())
        .collect();
    let mut objects = Objects::new();
    for name in plan["objects"].as_array().expect("objects") {
        let name = name.as_str().expect("name");
        objects.insert(
            name.to_string(),
            fs::read(root.join("vault").join(name)).expect("object"),
        );
    }

    let clean = pipeline(
        &objects,
        &password,
        &snapshots,
        None,
        &Scope::default(),
        Feed::Core,
    );
    let clean_host = pipeline(
        &objects,
        &password,
        &snapshots,
        None,
        &Scope::default(),
        Feed::HostAead,
    );
    assert_eq!(clean_host, clean, "blobs opened by the host differ");
    assert!(
        clean.errors.is_empty(),
        "the untampered vault fails: {:?}",
        clean.errors
    );
    assert_eq!(clean.files.len(), snapshots.len());
    let vault = Vault::open(&objects["config"], &password).expect("vault");
    let mut index = Index::new();
    for (path, bytes) in objects.iter().filter(|(k, _)| k.starts_with("index/")) {
        index
            .load_delta(vault.keys(), vault.id(), &id_of(path), bytes)
            .expect("delta");
    }
    let snaps: Vec<Snapshot> = snapshots
        .iter()
        .map(|id| {
            Snapshot::open(
                vault.keys(),
                vault.id(),
                &id_of(id),
                &objects[&format!("snapshots/{id}")],
            )
            .expect("snapshot")
        })
        .collect();
    let reads = reads(&vault, &index, &snaps);

    let mutations = plan["mutations"].as_array().expect("mutations");
    let mut undetected = Vec::new();
    let mut seen: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for m in mutations {
        let tampered = mutate(&objects, m);
        let out = pipeline(
            &tampered,
            &password,
            &snapshots,
            Some(&clean.files),
            &scope(m, &reads),
            Feed::Core,
        );
        // A host opening the blobs itself must see exactly the same.
        let host = pipeline(
            &tampered,
            &password,
            &snapshots,
            Some(&clean.files),
            &scope(m, &reads),
            Feed::HostAead,
        );
        assert_eq!(host, out, "{m}: blobs opened by the host differ");
        let accept: BTreeSet<&str> = m["accept"]
            .as_array()
            .expect("accept")
            .iter()
            .filter_map(Value::as_str)
            .collect();
        let failed: BTreeSet<&str> = out.errors.iter().map(|(s, _)| *s).collect();
        let stages_ok = m["fails"]
            .as_array()
            .expect("fails")
            .iter()
            .filter_map(Value::as_str)
            .all(|s| failed.contains(s));
        let codes_ok = out.errors.iter().all(|(_, c)| accept.contains(c.as_str()));
        let region = m["region"].as_str().expect("region").to_string();
        seen.entry(region)
            .or_default()
            .extend(out.errors.iter().map(|(s, c)| format!("{s}:{c}")));
        if !(stages_ok && codes_ok && out.bad_writes == 0 && !out.errors.is_empty()) {
            undetected.push(format!(
                "{m} -> errors {:?}, bad writes {}",
                out.errors, out.bad_writes
            ));
        }
    }
    for (region, codes) in &seen {
        println!(
            "  {region}: {}",
            codes.iter().cloned().collect::<Vec<_>>().join(", ")
        );
    }
    let flips = mutations.iter().filter(|m| m["op"] == "flip").count();
    println!(
        "tamper matrix (rust): {} mutations, {} detected ({flips} of them byte flips)",
        mutations.len(),
        mutations.len() - undetected.len()
    );
    assert!(
        undetected.is_empty(),
        "{} undetected:\n{}",
        undetected.len(),
        undetected.join("\n")
    );
}
