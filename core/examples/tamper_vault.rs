//! Writes the tamper matrix's fixture under `tests/data/tamper/`: a small
//! vault (several bundles, two index deltas, two snapshots) and `plan.json`,
//! the list of mutations every binding's tamper test applies to it (see
//! `tests/interop/README.md` for what each binding checks).
//!
//! The plan is computed from the vault's real layout (blob boundaries come
//! from the bundles' entries), so byte flips land in every region of every
//! object kind: config header and body (settings, key slots, MAC), bundle
//! headers, blob nonces, ciphertexts and tags, bundle trailers and footers,
//! index and snapshot headers, nonces, ciphertexts and tags. It also
//! truncates, swaps and deletes whole objects.
//!
//! Salts and nonces are random, so regenerating rewrites the fixture:
//! `cargo run -p cloudbackup-core --example tamper_vault` (then commit it).

use std::collections::BTreeMap;
use std::fs;
use std::path::PathBuf;
use std::sync::Arc;

use cloudbackup_core::engine::keys::MasterKey;
use cloudbackup_core::engine::{
    BackupOptions, BackupSession, ChunkerParams, FileMeta, Index, KdfParams, SnapshotInfo, Vault,
    VaultSettings,
};
use serde_json::{json, Value};

/// The fixture vault's password.
const PASSWORD: &str = "tamper matrix password";
const HEADER: usize = 22;
const NONCE: usize = 12;
const TAG: usize = 16;
const FOOTER: usize = 8;

/// A deterministic xorshift stream, so the tree is the same every time.
fn noise(seed: u32, len: usize) -> Vec<u8> {
    let mut x = seed;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            (x >> 24) as u8
        })
        .collect()
}

fn text(lines: usize, tag: &str) -> Vec<u8> {
    (0..lines)
        .flat_map(|i| {
            format!("{tag} line {i}: pack my box with five dozen liquor jugs\n").into_bytes()
        })
        .collect()
}

/// One backup's tree: (path, content); directories are implied.
fn tree(second: bool) -> Vec<(&'static str, Vec<u8>)> {
    let mut notes = text(900, "notes");
    if second {
        notes.extend_from_slice(&text(120, "appended"));
    }
    let mut t = vec![
        ("/t/notes.txt", notes),
        ("/t/random.bin", noise(0x9e37_79b9, 110_000)),
        ("/t/copy/random.bin", noise(0x9e37_79b9, 110_000)),
        ("/t/empty", Vec::new()),
        ("/t/zeros", vec![0u8; 20_000]),
    ];
    if second {
        t.push(("/t/new.bin", noise(0x0bad_cafe, 80_000)));
    }
    t
}

/// `n` offsets spread evenly over `start..end` (all of them when fewer).
fn spread(start: usize, end: usize, n: usize) -> Vec<usize> {
    let len = end.saturating_sub(start);
    if len <= n {
        return (start..end).collect();
    }
    (0..n).map(|i| start + i * (len - 1) / (n - 1)).collect()
}

struct Plan {
    mutations: Vec<Value>,
    flips: usize,
    /// The config's bytes: a flip there must change what it says, not only
    /// how (hex is read case-insensitively, so `a` -> `A` is the same MAC).
    config: Vec<u8>,
}

impl Plan {
    /// Byte flips at `offsets` of `object`, tagged with the region they hit,
    /// the error codes that count as detection and the stages that must fail.
    fn flips(
        &mut self,
        object: &str,
        region: &str,
        offsets: &[usize],
        accept: &[&str],
        fails: &[&str],
    ) {
        const XORS: [u8; 5] = [0x01, 0x80, 0xff, 0x20, 0x04];
        for &offset in offsets {
            let mut xor = XORS[self.flips % XORS.len()];
            if object == "config" && xor == 0x20 && self.config[offset].is_ascii_alphabetic() {
                xor = 0x01;
            }
            self.flips += 1;
            self.mutations.push(json!({
                "op": "flip", "object": object, "offset": offset, "xor": xor,
                "region": region, "accept": accept, "fails": fails,
            }));
        }
    }

    fn other(&mut self, m: Value) {
        self.mutations.push(m);
    }
}

/// Flips in a sealed metadata object (index delta or snapshot): header
/// fields, nonce, ciphertext and tag.
fn sealed_object(plan: &mut Plan, object: &str, kind: &str, len: usize, stage: &str) {
    let f = [stage];
    plan.flips(
        object,
        &format!("{kind}.header.magic"),
        &spread(0, 4, 4),
        &["corrupt"],
        &f,
    );
    plan.flips(
        object,
        &format!("{kind}.header.version"),
        &spread(4, 6, 2),
        &["unsupported_version"],
        &f,
    );
    plan.flips(
        object,
        &format!("{kind}.header.vault_id"),
        &spread(6, HEADER, 16),
        &["foreign_vault"],
        &f,
    );
    plan.flips(
        object,
        &format!("{kind}.nonce"),
        &spread(HEADER, HEADER + NONCE, 12),
        &["corrupt"],
        &f,
    );
    plan.flips(
        object,
        &format!("{kind}.ciphertext"),
        &spread(HEADER + NONCE, len - TAG, 40),
        &["corrupt"],
        &f,
    );
    plan.flips(
        object,
        &format!("{kind}.tag"),
        &spread(len - TAG, len, 16),
        &["corrupt"],
        &f,
    );
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../tests/data/tamper");
    let settings = VaultSettings {
        chunker: ChunkerParams {
            min_size: 1024,
            avg_size: 4096,
            max_size: 16384,
        },
        zstd_level: 3,
        bundle_size: 64 * 1024,
    };
    let vault = Vault::create_with(
        MasterKey::from_bytes(*b"tamper matrix master key, fake!!"),
        *b"tamper-matrix-v1",
        PASSWORD.as_bytes(),
        settings,
        KdfParams::insecure_for_tests(),
    )?;

    // Object path (as stored in the vault directory) -> bytes.
    let mut objects: BTreeMap<String, Vec<u8>> = BTreeMap::new();
    objects.insert("config".into(), vault.config_bytes()?);
    // Bundle path -> blob (offset, length), from the writer's entries.
    let mut blobs: BTreeMap<String, Vec<(usize, usize)>> = BTreeMap::new();
    let mut index = Index::new();
    let mut order = Vec::new();
    for (n, second) in [false, true].into_iter().enumerate() {
        let time = 1_764_000_000 + n as i64 * 3600;
        let mut session =
            BackupSession::new(&vault, Arc::new(index.clone()), BackupOptions::default())?;
        session.add_entry(FileMeta::dir("/t", 0o755, time))?;
        session.add_entry(FileMeta::dir("/t/copy", 0o700, time))?;
        for (path, content) in tree(second) {
            session.start_file(FileMeta::file(path, 0o644, time))?;
            for piece in content.chunks(7_000) {
                session.write(piece)?;
            }
            session.finish_file()?;
        }
        session.add_entry(FileMeta::symlink("/t/latest", "notes.txt", time))?;
        let mut bundles = session.take_bundles();
        let out = session.finish(SnapshotInfo {
            time,
            time_nanos: 0,
            hostname: Some("tamper".into()),
            backup_configuration_id: None,
            paths: Vec::new(),
            tags: Vec::new(),
        })?;
        bundles.extend(out.bundles);
        for b in &bundles {
            index.add_bundle(b);
            let path = format!("bundles/{}", b.id);
            blobs.insert(
                path.clone(),
                b.entries
                    .iter()
                    .map(|e| (e.offset as usize, e.length as usize))
                    .collect(),
            );
            objects.insert(path, b.bytes.clone());
        }
        objects.insert(format!("index/{}", out.index.id), out.index.bytes.clone());
        objects.insert(
            format!("snapshots/{}", out.snapshot.id),
            out.snapshot.bytes.clone(),
        );
        order.push(out.snapshot.id.to_string());
    }

    let mut plan = Plan {
        mutations: Vec::new(),
        flips: 0,
        config: objects["config"].clone(),
    };
    // Config: the header, then every part of the JSON body. A flip in a key
    // slot cannot be told from a wrong password (the slot's AEAD fails either
    // way), so wrong_password is the honest answer there (corrupt when the
    // slot still opens and the MAC catches the change); a flip that breaks
    // the JSON is invalid_json (bytes that are no config).
    let config = objects["config"].clone();
    let body = String::from_utf8(config[HEADER..].to_vec())?;
    plan.flips(
        "config",
        "config.header.magic",
        &spread(0, 4, 4),
        &["corrupt"],
        &["open"],
    );
    plan.flips(
        "config",
        "config.header.version",
        &spread(4, 6, 2),
        &["unsupported_version"],
        &["open"],
    );
    // The body names the vault too: a header naming another one is corrupt.
    plan.flips(
        "config",
        "config.header.vault_id",
        &spread(6, HEADER, 16),
        &["corrupt"],
        &["open"],
    );
    let at = |needle: &str| -> Result<usize, String> {
        body.find(needle)
            .map(|i| HEADER + i)
            .ok_or(format!("config lacks {needle}"))
    };
    let (settings_at, slots_at, mac_at) =
        (at("\"settings\"")?, at("\"key_slots\"")?, at("\"mac\"")?);
    let body_parts = [
        ("config.body.format_version", HEADER, settings_at),
        ("config.body.settings", settings_at, slots_at),
        ("config.body.key_slots", slots_at, mac_at),
        ("config.body.mac", mac_at, config.len()),
    ];
    for (region, start, end) in body_parts {
        let accept: &[&str] = match region {
            "config.body.format_version" => &["invalid_json", "unsupported_version", "corrupt"],
            "config.body.settings" => &["invalid_json", "corrupt"],
            "config.body.key_slots" => &["invalid_json", "wrong_password", "corrupt"],
            _ => &["invalid_json", "corrupt"],
        };
        let n = ((end - start) / 3).max(4);
        plan.flips("config", region, &spread(start, end, n), accept, &["open"]);
    }

    // Bundles: header, each blob's nonce, ciphertext and tag (restore reads
    // those, so both restore and verify must fail), trailer and footer (only
    // verify reads them; restore must still emit nothing unauthenticated).
    for (path, spans) in &blobs {
        let len = objects[path].len();
        let rv: &[&str] = &["restore", "verify"];
        plan.flips(
            path,
            "bundle.header",
            &spread(0, HEADER, 22),
            &["corrupt"],
            &["verify"],
        );
        for &(off, blen) in spans {
            plan.flips(
                path,
                "bundle.blob.nonce",
                &spread(off, off + NONCE, 3),
                &["corrupt"],
                rv,
            );
            plan.flips(
                path,
                "bundle.blob.ciphertext",
                &spread(off + NONCE, off + blen - TAG, 5),
                &["corrupt"],
                rv,
            );
            plan.flips(
                path,
                "bundle.blob.tag",
                &spread(off + blen - TAG, off + blen, 3),
                &["corrupt"],
                rv,
            );
        }
        let blobs_end = spans.iter().map(|&(o, l)| o + l).max().unwrap_or(HEADER);
        let trailer_end = len - FOOTER;
        plan.flips(
            path,
            "bundle.trailer.nonce",
            &spread(blobs_end, blobs_end + NONCE, 4),
            &["corrupt"],
            &["verify"],
        );
        plan.flips(
            path,
            "bundle.trailer.ciphertext",
            &spread(blobs_end + NONCE, trailer_end - TAG, 10),
            &["corrupt"],
            &["verify"],
        );
        plan.flips(
            path,
            "bundle.trailer.tag",
            &spread(trailer_end - TAG, trailer_end, 6),
            &["corrupt"],
            &["verify"],
        );
        plan.flips(
            path,
            "bundle.footer",
            &spread(trailer_end, len, 8),
            &["corrupt"],
            &["verify"],
        );
        for cut in [0, HEADER - 1, HEADER + 1, blobs_end - 1, blobs_end, len - 1] {
            let fails: &[&str] = if cut < blobs_end { rv } else { &["verify"] };
            plan.other(json!({"op": "truncate", "object": path, "length": cut,
                "region": "bundle.truncated", "accept": ["corrupt"], "fails": fails}));
        }
        plan.other(
            json!({"op": "delete", "object": path, "region": "bundle.deleted",
            "accept": ["not_found"], "fails": ["restore", "verify"]}),
        );
    }
    let kinds: Vec<(&str, &str, &str)> = vec![
        ("index/", "index", "index"),
        ("snapshots/", "snapshot", "snapshot"),
    ];
    for (prefix, kind, stage) in &kinds {
        let paths: Vec<String> = objects
            .keys()
            .filter(|k| k.starts_with(prefix))
            .cloned()
            .collect();
        for path in &paths {
            let len = objects[path].len();
            sealed_object(&mut plan, path, kind, len, stage);
            for cut in [0, HEADER - 1, HEADER, HEADER + NONCE + 1, len / 2, len - 1] {
                plan.other(json!({"op": "truncate", "object": path, "length": cut,
                    "region": format!("{kind}.truncated"), "accept": ["corrupt"], "fails": [stage]}));
            }
        }
        plan.other(json!({"op": "swap", "object": paths[0], "with": paths[1],
            "region": format!("{kind}.swapped"), "accept": ["corrupt"], "fails": [stage]}));
    }
    for cut in [0, 3, HEADER, config.len() / 2, config.len() - 1] {
        plan.other(json!({"op": "truncate", "object": "config", "length": cut,
            "region": "config.truncated", "accept": ["corrupt", "invalid_json"], "fails": ["open"]}));
    }
    let bundle_paths: Vec<&String> = blobs.keys().collect();
    for pair in bundle_paths.windows(2) {
        plan.other(json!({"op": "swap", "object": pair[0], "with": pair[1],
            "region": "bundle.swapped", "accept": ["corrupt"], "fails": ["restore", "verify"]}));
    }
    let first_index = objects
        .keys()
        .find(|k| k.starts_with("index/"))
        .cloned()
        .unwrap_or_default();
    let first_snapshot = objects
        .keys()
        .find(|k| k.starts_with("snapshots/"))
        .cloned()
        .unwrap_or_default();
    // Objects of one kind stored under another kind's name.
    plan.other(
        json!({"op": "swap", "object": bundle_paths[0], "with": first_index,
        "region": "kinds.swapped", "accept": ["corrupt"], "fails": ["index"]}),
    );
    plan.other(
        json!({"op": "swap", "object": first_index, "with": first_snapshot,
        "region": "kinds.swapped", "accept": ["corrupt"], "fails": ["index"]}),
    );
    plan.other(
        json!({"op": "swap", "object": "config", "with": first_snapshot,
        "region": "kinds.swapped", "accept": ["corrupt"], "fails": ["open"]}),
    );
    // A missing index delta: its snapshot names blobs nobody can locate.
    // (A missing snapshot is a rollback, outside the threat model.)
    for path in objects.keys().filter(|k| k.starts_with("index/")) {
        plan.other(
            json!({"op": "delete", "object": path, "region": "index.deleted",
            "accept": ["not_found"], "fails": ["restore"]}),
        );
    }

    let vault_dir = root.join("vault");
    if vault_dir.exists() {
        fs::remove_dir_all(&vault_dir)?;
    }
    for (path, bytes) in &objects {
        let p = vault_dir.join(path);
        fs::create_dir_all(p.parent().expect("has a parent"))?;
        fs::write(p, bytes)?;
    }
    let total: usize = objects.values().map(Vec::len).sum();
    let doc = json!({
        "comment": "generated by core/examples/tamper_vault.rs; see tests/interop/README.md",
        "password": PASSWORD,
        "snapshots": order,
        "objects": objects.keys().collect::<Vec<_>>(),
        "flips": plan.flips,
    });
    // One mutation a line: small, and diffs of a regenerated plan stay readable.
    let mut text = serde_json::to_string_pretty(&doc)?;
    text.truncate(text.rfind('}').expect("an object"));
    let lines: Vec<String> = plan.mutations.iter().map(|m| format!("    {m}")).collect();
    text = format!(
        "{},\n  \"mutations\": [\n{}\n  ]\n}}\n",
        text.trim_end(),
        lines.join(",\n")
    );
    fs::write(root.join("plan.json"), text)?;
    println!(
        "wrote {}: {} objects, {} bytes; {} mutations ({} byte flips)",
        root.display(),
        objects.len(),
        total,
        plan.mutations.len(),
        plan.flips
    );
    Ok(())
}
