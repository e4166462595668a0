//! Fuzzing harnesses (feature `fuzzing`): one function per fuzz target of
//! `core/fuzz/`, taking the fuzzer's raw bytes. The regression test
//! (`core/tests/fuzz_regressions.rs`) calls the same functions on every
//! committed input, so a crash found once stays fixed.
//!
//! Random bytes rarely get past a header, a length or an AEAD tag, so the
//! harnesses are structure-aware: the first byte(s) of the input select what
//! to exercise, and for the vault objects the rest is sealed with a fixed
//! test key (the engine's own sealing) before it reaches the decoder, which
//! then sees authenticated but arbitrary plaintext. Each also has a raw
//! variant that feeds the bytes unsealed.
//!
//! Every harness returns the core's `Result`: an `Err` is the expected
//! answer to bad input. A panic anywhere is a bug, and so is a broken
//! invariant, which the harnesses check with `assert!` (the oracle the
//! fuzzer needs to notice, say, unverified bytes being written).
//!
//! Nothing here is for production use: the key is fixed and public.

use std::collections::HashMap;
use std::sync::{Arc, OnceLock};

use serde_json::Value;

use crate::api::Response;
use crate::by_name::operations as api_registry;
use crate::by_name::{model_types, parse_model};
use crate::engine::blob::{open_blob, seal_inner, BLOB_OVERHEAD};
use crate::engine::bundle::{check_bundle, read_trailer, trailer_aad, FOOTER_LEN};
use crate::engine::chunker::ChunkerParams;
use crate::engine::crypto::{hash, random_nonce, Id};
use crate::engine::format::{write_header, BlobType, ObjectKind, VaultId};
use crate::engine::keys::{seal_slot, KdfParams, MasterKey};
use crate::engine::object::{aad as object_aad, open_object, seal_object};
use crate::engine::vault::read_config;
use crate::engine::{
    BackupOptions, BackupSession, FileMeta, Index, RestoreOptions, RestoreReport, RestoreSession,
    Snapshot, SnapshotInfo, Vault, VaultSettings,
};
use crate::patch::{apply_patch, apply_patch_in_place, parse_patch, Endpoint, PatchContext};
use crate::{by_name, Error, Result};

/// The byte that separates two parts of an input (JSON never contains it).
const SEPARATOR: u8 = 0xFF;

/// The fixed vault id of every harness vault.
const VAULT_ID: VaultId = [0x5a; 16];

/// The password of the harness vaults and key slots.
const PASSWORD: &[u8] = b"fuzz";

/// Splits `data` at the first [`SEPARATOR`]: `(before, Some(after))`, or
/// `(data, None)` when there is none.
fn split(data: &[u8]) -> (&[u8], Option<&[u8]>) {
    match data.iter().position(|&b| b == SEPARATOR) {
        Some(i) => (&data[..i], Some(&data[i + 1..])),
        None => (data, None),
    }
}

/// The first byte and the rest (0 and everything for an empty input).
fn selector(data: &[u8]) -> (u8, &[u8]) {
    match data.split_first() {
        Some((&b, rest)) => (b, rest),
        None => (0, data),
    }
}

/// The v2 resources the PATCH endpoints apply to, from the API reference's
/// samples: a patch without its own resource is validated against these.
fn sample_resource(endpoint: Endpoint) -> &'static str {
    macro_rules! v2 {
        ($name:literal) => {
            include_str!(concat!(
                env!("CARGO_MANIFEST_DIR"),
                "/../tests/data/rackspace/samples-v2/",
                $name
            ))
        };
    }
    match endpoint {
        Endpoint::Restore => v2!("cbu-getRestoreDetails_response.json"),
        Endpoint::Backup => v2!("cbu-getBackupDetails_response.json"),
        Endpoint::Cleanup => v2!("cbu-getCleanupDetails_response.json"),
        Endpoint::Configuration => v2!("cbu-getConfigurationDetails_response.json"),
        Endpoint::Agent => v2!("cbu-getAgentDetails_response.json"),
        Endpoint::Logfile => v2!("cbu-getAgentLogfileDetails_response.json"),
    }
}

/// Target `patch`: JSON Patch parsing, plain RFC 6902 application, and the
/// v2 endpoint policies.
///
/// Input: `selector(1) || [resource 0xFF] patch`. The selector picks the
/// endpoint (`% 6`), the actor (`/ 6 % 3`: user, agent, scheduler) and
/// whether the vault is empty (`/ 18 % 3`: unknown, yes, no). Without a
/// separator the resource is the endpoint's sample from the API reference.
///
/// Returns what [`by_name::validate_patch_json`] returns. Checks that a
/// refused patch leaves the resource untouched, and that
/// [`by_name::plan_patch_json`] agrees with it.
pub fn patch(data: &[u8]) -> Result<Value> {
    const ENDPOINTS: [Endpoint; 6] = [
        Endpoint::Restore,
        Endpoint::Backup,
        Endpoint::Cleanup,
        Endpoint::Configuration,
        Endpoint::Agent,
        Endpoint::Logfile,
    ];
    let (sel, rest) = selector(data);
    let endpoint = ENDPOINTS[usize::from(sel) % ENDPOINTS.len()];
    let actor = ["user", "agent", "scheduler"][usize::from(sel / 6) % 3];
    let vault_empty = [None, Some(true), Some(false)][usize::from(sel / 18) % 3];
    let (resource, patch) = match split(rest) {
        (resource, Some(patch)) => (resource, patch),
        (patch, None) => (sample_resource(endpoint).as_bytes(), patch),
    };
    // Plain RFC 6902 first: whatever the policies say, applying the
    // document must answer with a result or an error, and be atomic.
    if let (Ok(doc), Ok(parsed)) = (
        serde_json::from_slice::<Value>(resource),
        parse_patch(patch),
    ) {
        let mut work = doc.clone();
        if apply_patch(&mut work, &parsed).is_err() {
            assert_eq!(work, doc, "a failed patch changed the document");
        }
        let actor = dynamic_actor(actor);
        let mut in_place = doc.clone();
        let context = PatchContext { actor, vault_empty };
        if apply_patch_in_place(endpoint, &mut in_place, &parsed, context).is_err() {
            assert_eq!(in_place, doc, "a refused patch changed the resource");
        }
    }
    let whole =
        by_name::validate_patch_json(endpoint.as_str(), resource, patch, actor, vault_empty);
    // Member by member (the wasm binding's path for a resource object): the
    // same value once the edits are set, the same error, or no plan only
    // where the whole resource is refused.
    if let Ok(doc) = serde_json::from_slice::<Value>(resource) {
        let plan = by_name::plan_patch_json(endpoint.as_str(), &doc, patch, actor, vault_empty);
        match (plan, &whole) {
            (Ok(Some(edits)), Ok(want)) => {
                // The values are the operations', as a host takes them.
                let edits: Vec<(String, String, usize)> =
                    serde_json::from_str(&edits).expect("member edits are JSON triples");
                let ops: Value = serde_json::from_slice(patch).expect("a planned patch is JSON");
                let mut edited = doc;
                for (parent, key, index) in edits {
                    if let Some(Value::Object(members)) = edited.pointer_mut(&parent) {
                        members.insert(key, ops[index]["value"].clone());
                    }
                }
                assert_eq!(
                    &edited, want,
                    "member edits differ from the patched resource"
                );
            }
            (Ok(None), Err(_)) => {}
            (Err(e), Err(want)) => assert_eq!(e.to_string(), want.to_string()),
            (plan, want) => panic!("member plan {plan:?} against {want:?}"),
        }
    }
    whole
}

/// The actor called `name` (one of the three the harness uses).
fn dynamic_actor(name: &str) -> crate::lifecycle::Actor {
    use crate::lifecycle::Actor;
    match name {
        "agent" => Actor::Agent,
        "scheduler" => Actor::Scheduler,
        _ => Actor::User,
    }
}

/// Target `model`: every registered model type's JSON parser.
///
/// Input: `selector(2, LE) || JSON`. The selector picks the type of
/// [`model_types`] (`/ 2`) and whether it is the list form `T[]` (odd).
///
/// Returns what [`parse_model`] returns. Checks that what it returns
/// parses again as the same type.
pub fn model(data: &[u8]) -> Result<Value> {
    let (sel, json) = match data {
        [a, b, rest @ ..] => (usize::from(u16::from_le_bytes([*a, *b])), rest),
        _ => (0, data),
    };
    let names = model_types();
    let name = names[(sel / 2) % names.len()];
    let name = if sel % 2 == 1 {
        format!("{name}[]")
    } else {
        name.to_string()
    };
    let parsed = parse_model(&name, json)?;
    let again = serde_json::to_vec(&parsed).map_err(|e| Error::json(&name, &e))?;
    if let Err(e) = parse_model(&name, &again) {
        panic!("{name}: its own output does not parse again: {e}");
    }
    Ok(parsed)
}

/// Target `response`: response parsing of every registered operation.
///
/// Input: `op(2, LE) || status(2, LE) || headers(1) || [params 0xFF] body`.
/// `op` picks the operation (`% count`); a status below 0x8000 picks a
/// common one (`% 13`: 200, 201, 202, 204, 400, 401, 403, 404, 405, 409,
/// 413, 500, 503), anything else is taken as is (`% 1000`); the header bits
/// add `Content-Type: application/json` (1), `Retry-After` (2) and
/// `Location` (4). The parameters are the ids of the operation's path
/// (`"1"`, or `1` when a string does not fit), with the members of the
/// input's `params` object, if any, on top.
///
/// Returns what the operation's `parse_response` returns.
pub fn response(data: &[u8]) -> Result<Value> {
    const STATUSES: [u16; 13] = [
        200, 201, 202, 204, 400, 401, 403, 404, 405, 409, 413, 500, 503,
    ];
    let (head, rest) = data.split_at(data.len().min(5));
    let mut h = [0u8; 5];
    h[..head.len()].copy_from_slice(head);
    let ops = api_registry::operations();
    let op = &ops[usize::from(u16::from_le_bytes([h[0], h[1]])) % ops.len()];
    let raw_status = u16::from_le_bytes([h[2], h[3]]);
    let status = if raw_status < 0x8000 {
        STATUSES[usize::from(raw_status) % STATUSES.len()]
    } else {
        raw_status % 1000
    };
    let (given, body) = match split(rest) {
        (params, Some(body)) => (serde_json::from_slice::<Value>(params).ok(), body),
        (body, None) => (None, body),
    };
    let mut response = Response::new(status, body);
    if h[4] & 1 != 0 {
        response = response.with_header("Content-Type", "application/json");
    }
    if h[4] & 2 != 0 {
        response = response.with_header("Retry-After", "120");
    }
    if h[4] & 4 != 0 {
        response = response.with_header(
            "Location",
            "https://dfw.backup.api.rackspacecloud.com/v2/110011/restores/1",
        );
    }
    // Parsing needs the operation's parameters: the path's ids (tried as
    // strings, then as numbers), overridden by any the input gives.
    let mut last = None;
    for id in [Value::from("1"), Value::from(1)] {
        let params = path_params(op.path, id, given.as_ref());
        match op.parse_response(&params, &response) {
            Err(Error::InvalidArgument { name, reason }) if name == "params" => {
                last = Some(Error::InvalidArgument { name, reason });
            }
            other => return other,
        }
    }
    Err(last.unwrap_or_else(|| Error::argument("params", "unusable")))
}

/// An object with every `{name}` of `path` but the account's own id
/// (`tenant_id`, `project_id`) set to `id`, then the members of `given`
/// (when it is an object) on top.
fn path_params(path: &str, id: Value, given: Option<&Value>) -> Value {
    let mut params = serde_json::Map::new();
    for part in path.split('{').skip(1) {
        if let Some((name, _)) = part.split_once('}') {
            if name != "tenant_id" && name != "project_id" {
                params.insert(name.to_string(), id.clone());
            }
        }
    }
    if let Some(Value::Object(given)) = given {
        params.extend(given.clone());
    }
    Value::Object(params)
}

/// The keys, id and settings of the harness vault (cheap KDF, small chunks).
fn vault() -> &'static Vault {
    static VAULT: OnceLock<Vault> = OnceLock::new();
    VAULT.get_or_init(|| {
        let settings = VaultSettings {
            chunker: ChunkerParams {
                min_size: 256,
                avg_size: 1024,
                max_size: 4096,
            },
            zstd_level: 3,
            bundle_size: 64 * 1024,
        };
        match Vault::create_with(
            MasterKey::from_bytes([7; 32]),
            VAULT_ID,
            PASSWORD,
            settings,
            KdfParams::insecure_for_tests(),
        ) {
            Ok(v) => v,
            Err(e) => panic!("the harness vault: {e}"),
        }
    })
}

/// The fixed id the harness names objects and blobs by when the input does
/// not determine one.
const FIXED_ID: Id = Id([0x11; 32]);

/// Target `vault_objects`: decoding of bundle trailers and whole bundles,
/// index deltas, snapshots, metadata objects, blobs, key slots and configs.
///
/// Input: `selector(1) || rest`; `selector % 12` picks:
///
/// | sel | what |
/// |---|---|
/// | 0 | trailer: `rest` as the trailer's plaintext records, sealed |
/// | 1 | trailer, raw: `rest` as a bundle's tail |
/// | 2 | bundle, raw: `rest` as a whole bundle (its id is its hash), then every listed blob opened |
/// | 3 | bundle, sealed: `n(2, LE) || bytes`: a header, `n` bytes of blobs, and the remaining bytes as the sealed trailer's records, then every listed blob opened |
/// | 4 | index delta: `rest` as its plaintext, sealed |
/// | 5 | index delta, raw |
/// | 6 | snapshot: `rest` as its plaintext (JSON), sealed |
/// | 7 | snapshot, raw |
/// | 8 | metadata object whose decrypted bytes (the zstd stream) are `kind(1) || rest` |
/// | 9 | blob: `raw_len(4, LE) || rest`, `rest` sealed as the blob's flag and payload |
/// | 10 | key slot: `rest` sealed as the wrapped key |
/// | 11 | vault config, raw (opened when its slots' KDF costs are tiny) |
pub fn vault_objects(data: &[u8]) -> Result<()> {
    let v = vault();
    let keys = v.keys();
    let vid = v.id();
    let (sel, rest) = selector(data);
    match sel % 12 {
        0 => {
            let tail = sealed_trailer(rest)?;
            read_trailer(keys, vid, &FIXED_ID, &tail).map(drop)
        }
        1 => read_trailer(keys, vid, &FIXED_ID, rest).map(drop),
        2 => open_bundle(v, rest),
        3 => {
            let (n, rest) = match rest {
                [a, b, rest @ ..] => (usize::from(u16::from_le_bytes([*a, *b])), rest),
                _ => (0, rest),
            };
            let (blobs, records) = rest.split_at(n.min(rest.len()));
            let mut bundle = Vec::new();
            write_header(ObjectKind::Bundle, vid, &mut bundle);
            bundle.extend_from_slice(blobs);
            bundle.extend_from_slice(&sealed_trailer(records)?);
            open_bundle(v, &bundle)
        }
        4 => {
            let o = seal_object(keys, vid, ObjectKind::Index, rest)?;
            Index::new().load_delta(keys, vid, &o.id, &o.bytes)
        }
        5 => Index::new().load_delta(keys, vid, &FIXED_ID, rest),
        6 => {
            let o = seal_object(keys, vid, ObjectKind::Snapshot, rest)?;
            Snapshot::open(keys, vid, &o.id, &o.bytes).map(drop)
        }
        7 => Snapshot::open(keys, vid, &FIXED_ID, rest).map(drop),
        8 => {
            let (kind, stream) = selector(rest);
            let kind = if kind % 2 == 0 {
                ObjectKind::Index
            } else {
                ObjectKind::Snapshot
            };
            let mut bytes = Vec::new();
            write_header(kind, vid, &mut bytes);
            let nonce = random_nonce()?;
            bytes.extend_from_slice(&nonce);
            let aad = object_aad(&bytes[..bytes.len() - nonce.len()], &FIXED_ID);
            keys.metadata.seal_into(&nonce, &aad, stream, &mut bytes)?;
            open_object(keys, vid, kind, &FIXED_ID, &bytes).map(drop)
        }
        9 => {
            let (raw_len, inner) = match rest {
                [a, b, c, d, inner @ ..] => (u32::from_le_bytes([*a, *b, *c, *d]), inner),
                _ => (0, rest),
            };
            let sealed = seal_inner(keys, vid, BlobType::Data, &FIXED_ID, inner)?;
            open_blob(
                keys,
                vid,
                BlobType::Data,
                &FIXED_ID,
                raw_len,
                &sealed,
                "blob",
            )
            .map(drop)
        }
        10 => {
            let slot = seal_slot(
                PASSWORD,
                KdfParams::insecure_for_tests(),
                &[3; 16],
                vid,
                rest,
            )?;
            slot.unwrap(PASSWORD, vid).map(drop)
        }
        _ => {
            let (_, body) = read_config(rest)?;
            // Argon2 runs at the slots' own cost: open only configs whose
            // every slot is cheap, or the fuzzer measures Argon2.
            let cheap = body
                .key_slots
                .iter()
                .all(|s| s.kdf.memory_kib <= 64 && s.kdf.iterations <= 2 && s.kdf.parallelism <= 2);
            if cheap {
                Vault::open(rest, PASSWORD).map(drop)
            } else {
                Ok(())
            }
        }
    }
}

/// A bundle tail whose trailer seals `records` under the harness vault's
/// metadata key: `nonce || AES-GCM(records) || tag || len || "CBTR"`.
fn sealed_trailer(records: &[u8]) -> Result<Vec<u8>> {
    let v = vault();
    let nonce = random_nonce()?;
    let mut tail = nonce.to_vec();
    v.keys()
        .metadata
        .seal_into(&nonce, &trailer_aad(v.id()), records, &mut tail)?;
    let len = u32::try_from(tail.len()).map_err(|_| Error::argument("trailer", "too long"))?;
    tail.extend_from_slice(&len.to_le_bytes());
    tail.extend_from_slice(b"CBTR");
    debug_assert_eq!(FOOTER_LEN, 8);
    Ok(tail)
}

/// Checks `bytes` as a whole bundle named by its hash, then opens every
/// blob its trailer lists (what verify does); the first error is returned.
fn open_bundle(v: &Vault, bytes: &[u8]) -> Result<()> {
    let id = Id(hash(bytes));
    let entries = check_bundle(v.keys(), v.id(), &id, bytes)?;
    let mut first = Ok(());
    for e in entries {
        let start = e.offset as usize;
        let Some(sealed) = bytes.get(start..start + e.length as usize) else {
            return Err(Error::corrupt("bundle", "a listed blob lies outside it"));
        };
        if let Err(err) = open_blob(v.keys(), v.id(), e.kind, &e.id, e.raw_len, sealed, "blob") {
            if first.is_ok() {
                first = Err(err);
            }
        }
    }
    first
}

/// A small backup of the harness vault, made once: the files' contents,
/// the stored bundles, the index and the snapshot.
struct Backup {
    files: HashMap<String, Vec<u8>>,
    bundles: HashMap<Id, Vec<u8>>,
    index: Index,
    snapshot: Snapshot,
}

fn backup() -> &'static Backup {
    static BACKUP: OnceLock<Backup> = OnceLock::new();
    BACKUP.get_or_init(|| match make_backup() {
        Ok(b) => b,
        Err(e) => panic!("the harness backup: {e}"),
    })
}

fn make_backup() -> Result<Backup> {
    let v = vault();
    // Text that compresses, noise that does not, a file repeating another
    // (dedup: one blob, two places), an empty file, a dir and a symlink.
    let noise: Vec<u8> = (0..9000u32)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
        .collect();
    let text = b"the quick brown fox jumps over the lazy dog\n".repeat(200);
    let mut both = text.clone();
    both.extend_from_slice(&noise);
    let files: Vec<(&str, Vec<u8>)> = vec![
        ("/data/text", text),
        ("/data/noise", noise.clone()),
        ("/data/both", both),
        ("/data/noise-copy", noise),
        ("/data/empty", Vec::new()),
    ];
    let mut session = BackupSession::new(v, Arc::new(Index::new()), BackupOptions::default())?;
    session.add_entry(FileMeta::dir("/data", 0o755, 1))?;
    for (path, content) in &files {
        session.start_file(FileMeta::file(*path, 0o644, 2))?;
        session.write(content)?;
        session.finish_file()?;
    }
    session.add_entry(FileMeta::symlink("/data/link", "text", 3))?;
    let mut bundles: Vec<_> = session.take_bundles();
    let outcome = session.finish(SnapshotInfo::at(4))?;
    bundles.extend(outcome.bundles);
    let mut index = Index::new();
    for b in &bundles {
        index.add_bundle(b);
    }
    Ok(Backup {
        files: files.into_iter().map(|(p, c)| (p.to_string(), c)).collect(),
        bundles: bundles.into_iter().map(|b| (b.id, b.bytes)).collect(),
        index,
        snapshot: outcome.tree,
    })
}

/// What is left of a fuzz input, read front to back; reads past the end
/// give what remains (zeros for numbers).
struct Input<'a>(&'a [u8]);

impl<'a> Input<'a> {
    /// Up to `n` bytes.
    fn take(&mut self, n: usize) -> &'a [u8] {
        let (head, rest) = self.0.split_at(n.min(self.0.len()));
        self.0 = rest;
        head
    }

    /// The next byte, if any.
    fn byte(&mut self) -> Option<u8> {
        self.take(1).first().copied()
    }

    /// A little-endian u16 (missing bytes are zeros).
    fn u16(&mut self) -> usize {
        let b = self.take(2);
        usize::from(b.first().copied().unwrap_or(0))
            | usize::from(b.get(1).copied().unwrap_or(0)) << 8
    }
}

/// Target `restore_session`: a restore of a small backup fed arbitrary
/// bundle bytes for its planned ranges.
///
/// Input: `gap(1) || step*`. `gap` sets the plan's `max_gap` (`gap * 64`
/// bytes, so ranges coalesce differently). Then one step per planned range,
/// in plan order, each `op(1) || args`; `op % 6` is:
///
/// | op | fed for the range |
/// |---|---|
/// | 0 | the stored bytes |
/// | 1 | the stored bytes with the byte at `pos(2, LE) % len` flipped |
/// | 2 | `len(2, LE)` raw bytes of the input |
/// | 3 | the stored bytes with every blob in the range replaced by a blob sealed with the right key, type and id around `length - 28` arbitrary bytes of the input (flag and payload) |
/// | 4 | nothing: the bundle is reported missing |
/// | 5 | the first `len(2, LE) % len` stored bytes (a short read) |
///
/// When the input runs out the remaining ranges are never fed.
///
/// Returns the report, or the first error of `feed` or `missing`. Checks
/// that every write holds the file's true bytes, and that every file
/// counted restored got all of them.
pub fn restore_session(data: &[u8]) -> Result<RestoreReport> {
    let v = vault();
    let b = backup();
    let (gap, rest) = selector(data);
    let mut input = Input(rest);
    let options = RestoreOptions {
        max_gap: u64::from(gap) * 64,
        ..RestoreOptions::default()
    };
    let mut session = RestoreSession::new(v, &b.snapshot, &b.index, options)?;
    let mut restored: HashMap<String, Vec<u8>> = HashMap::new();
    'plan: for fetch in session.plan() {
        let stored = b
            .bundles
            .get(&fetch.bundle)
            .ok_or_else(|| Error::corrupt("harness", "a planned bundle is not stored"))?;
        for range in &fetch.ranges {
            let Some(op) = input.byte() else {
                break 'plan;
            };
            let start = usize::try_from(range.offset).unwrap_or(usize::MAX);
            let len = usize::try_from(range.length).unwrap_or(usize::MAX);
            let genuine = stored
                .get(start..start.saturating_add(len))
                .ok_or_else(|| Error::corrupt("harness", "a planned range is not stored"))?;
            let bytes: Vec<u8> = match op % 6 {
                0 => genuine.to_vec(),
                1 => {
                    let mut t = genuine.to_vec();
                    let pos = input.u16();
                    if !t.is_empty() {
                        let at = pos % t.len();
                        t[at] ^= 0x01;
                    }
                    t
                }
                2 => {
                    let n = input.u16();
                    input.take(n).to_vec()
                }
                3 => {
                    let mut t = genuine.to_vec();
                    for (blob, l) in b.index.iter() {
                        let off = u64::from(l.offset);
                        let inside = l.bundle == fetch.bundle
                            && off >= range.offset
                            && off + u64::from(l.length) <= range.offset + range.length;
                        if !inside {
                            continue;
                        }
                        let n = (l.length as usize).saturating_sub(BLOB_OVERHEAD - 1);
                        let mut inner = input.take(n).to_vec();
                        inner.resize(n, 0);
                        let sealed = seal_inner(v.keys(), v.id(), l.kind, blob, &inner)?;
                        let at = (off - range.offset) as usize;
                        if let Some(slot) = t.get_mut(at..at + sealed.len()) {
                            slot.copy_from_slice(&sealed);
                        }
                    }
                    t
                }
                4 => {
                    session.missing(&fetch.bundle)?;
                    continue 'plan;
                }
                _ => {
                    let n = input.u16();
                    genuine[..n % genuine.len().max(1)].to_vec()
                }
            };
            for w in session.feed(&fetch.bundle, range.offset, &bytes)? {
                for place in &w.places {
                    let path = place.path.quoted().into_owned();
                    let content = b.files.get(&path).map(Vec::as_slice).unwrap_or(&[]);
                    let at = usize::try_from(place.offset).unwrap_or(usize::MAX);
                    let end = at.saturating_add(w.data.len());
                    assert_eq!(
                        content.get(at..end),
                        Some(&w.data[..]),
                        "{} at {}: written bytes are not the file's",
                        place.path,
                        place.offset
                    );
                    // Created at its size, as hosts must (holes read as zeros).
                    let file = restored
                        .entry(path)
                        .or_insert_with(|| vec![0; content.len()]);
                    if let Some(slot) = file.get_mut(at..end) {
                        slot.copy_from_slice(&w.data);
                    }
                }
            }
        }
    }
    let report = session.finish();
    let failed: Vec<&str> = report
        .errors
        .iter()
        .flat_map(|r| r.list.iter().flatten())
        .map(|e| e.path.as_str())
        .collect();
    for (path, content) in &b.files {
        if !failed.contains(&path.as_str()) {
            // A file that did not fail was written completely (zero runs
            // left as holes of the file created at its size).
            let got = restored
                .get(path)
                .cloned()
                .unwrap_or_else(|| vec![0; content.len()]);
            assert!(
                got == *content,
                "{path}: not failed, yet not completely written"
            );
        }
    }
    Ok(report)
}
