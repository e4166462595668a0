//! The engine: vaults and keys, the index, snapshots, and the sans-IO
//! backup, restore and verify sessions. The host (the page or node) does
//! the I/O: it fetches and stores the objects these produce and consume.

use std::sync::Arc;

use cloudbackup_core::engine::restore::{filter_globs, RestoreOptions, Write};
use cloudbackup_core::engine::{
    self as core_engine, BackupOptions, FileMeta, Id, KdfParams, RawPath, SnapshotInfo,
    VaultSettings,
};
use cloudbackup_core::model::v2::common::PathFilter;
use wasm_bindgen::prelude::*;
use zeroize::Zeroizing;

use crate::state::VaultState;
use crate::{
    argument, bool_arg, buffer_arg, count_arg, given, id_arg, json_arg, mode_arg, number_arg,
    path_arg, size_arg, string_arg, text_or_bytes_arg, time_arg, time_with_nanos_arg, to_js, wrong,
    JsResult, MAX_SAFE,
};
use cloudbackup_core::engine::host_meta;

/// A `FileMeta` object (or its JSON text).
fn meta_arg(meta: &JsValue) -> JsResult<FileMeta> {
    let meta: FileMeta =
        json_arg(meta, "meta")?.ok_or_else(|| argument("meta", "must be a FileMeta object"))?;
    host_meta::check_meta("meta", &meta)?;
    Ok(meta)
}

#[wasm_bindgen(typescript_custom_section)]
const TS_ENGINE: &'static str = r#"
/** Chunk size bounds of a vault, in bytes. */
export interface ChunkerParams { min_size: number; avg_size: number; max_size: number; }
/** Per-vault settings, fixed at creation. */
export interface VaultSettings { chunker: ChunkerParams; zstd_level: number; bundle_size: number; }
/** Argon2id cost of a password's key slot. */
export interface KdfParams { memory_kib: number; iterations: number; parallelism: number; }
/** What a vault is (no secrets). */
export interface VaultInfo { vault_id: string; settings: VaultSettings; key_slots: number; }
/** Bytes: a string is taken as its UTF-8 encoding. */
export type Password = string | Bytes;
/**
 * A time: whole Unix seconds (a number), or a `Date` (kept to the
 * millisecond, as seconds and nanoseconds). A number past the year 5000 as
 * seconds (`Date.now()`, `File.lastModified`: milliseconds) throws
 * `InvalidArgumentError`: pass `new Date(ms)` or `Math.floor(ms / 1000)`.
 */
export type UnixTime = number | Date;
/** A stored object: its name (64 hex digits) and bytes. */
export interface StoredObject { id: string; bytes: Uint8Array; }
/** The counters of the v2 backup resource (plus the files that could not be read and those taken unread from the parent). */
export interface BackupCounters {
  files_searched: number; files_backed_up: number; bytes_searched: number; bytes_backed_up: number; bytes_in_db: number;
  files_with_errors: number; files_unchanged: number;
}
/**
 * A path as the snapshot records it (bytes), in its lossless text form: as
 * it is when valid UTF-8 without control characters and not starting with
 * `"`; otherwise C-quoted (`"/data/caf\xe9"`). `pathBytes`/`quotePath` convert.
 */
export type QuotedPath = string;
/** What a snapshot entry is. */
export type EntryKind = "file" | "dir" | "symlink" | "fifo" | "chardev" | "blockdev";
/** An extended attribute: its name (quoted form) and its value in base64. */
export interface Xattr { name: QuotedPath; value: string; }
/** One path of a snapshot (members after `size` absent when zero or unknown). */
export interface SnapshotEntry {
  path: QuotedPath; kind: EntryKind; mode: number; mtime: number; mtime_nanos?: number; size: number;
  chunks?: string[]; target?: QuotedPath; ctime?: number; ctime_nanos?: number; uid?: number; gid?: number;
  inode?: number; device?: number; links?: number; rdev?: number; xattrs?: Xattr[];
}
/**
 * What the host knows of a path before its bytes (every member but `path`
 * optional). `mode`: permission bits only (0 to 0o7777: node's
 * `stat.mode & 0o7777`); `mtime`, `ctime`: whole Unix seconds (not
 * milliseconds), their sub-second parts in `mtime_nanos`, `ctime_nanos`.
 */
export interface FileMeta {
  path: QuotedPath; kind?: EntryKind; mode?: number; mtime?: number; mtime_nanos?: number;
  ctime?: number; ctime_nanos?: number; size?: number; target?: QuotedPath; uid?: number; gid?: number;
  inode?: number; device?: number; links?: number; rdev?: number; xattrs?: Xattr[];
}
/** A path a backup could not read, and why. */
export interface FileError { path: QuotedPath; error: string; }
/** A backup's file tree. */
export interface SnapshotData {
  version: number;
  /** Start time, Unix seconds. */
  time: number;
  /** Its sub-second part in nanoseconds, 0 to 999999999 (absent when 0). */
  time_nanos?: number;
  hostname?: string; backup_configuration_id?: string; paths?: QuotedPath[];
  counters: BackupCounters; entries: SnapshotEntry[]; errors?: FileError[];
}
/** An entry as `Snapshot.ls` and `find` list it (`synthetic`: a folder above the backup's roots). */
export interface ListedEntry {
  path: QuotedPath; kind: EntryKind; mode: number; size: number; mtime: number;
  target?: QuotedPath; synthetic?: true;
}
/** One path that differs between two snapshots. */
export interface SnapshotChange {
  path: QuotedPath; change: "added" | "removed" | "modified" | "type_changed" | "metadata";
  kind: EntryKind; size_before: number; size_after: number;
}
/** What changed from one snapshot to another (`Snapshot.diff`). */
export interface SnapshotDiff {
  changes: SnapshotChange[];
  totals: {
    added: number; removed: number; modified: number; type_changed: number; metadata: number;
    bytes_added: number; bytes_removed: number;
  };
}
/** One blob of a file being dumped: the range of its bundle to read (`Dump.fetches`). */
export interface DumpFetch { bundle: string; offset: number; length: number; }
/** A byte range of a stored object. */
export interface ByteRange { offset: number; length: number; }
/** What to fetch from one bundle; no ranges means the whole bundle. */
export interface Fetch { bundle: string; ranges: ByteRange[]; }
/** What a `Create` makes (`hardlink`: another name of the file `target`, made once that file is complete). */
export type CreateKind = "dir" | "file" | "symlink" | "fifo" | "chardev" | "blockdev" | "hardlink";
/** What every `Create` has: where, and the metadata to apply after the content. */
export interface CreateCommon {
  path: QuotedPath; mode: number; mtime: number; mtime_nanos?: number; uid?: number; gid?: number; xattrs?: Xattr[];
}
/** Something the host creates before content arrives, with the metadata to apply after it. */
export type Create =
  | (CreateCommon & { kind: "file"; size: number })
  | (CreateCommon & { kind: "symlink" | "hardlink"; target: QuotedPath })
  | (CreateCommon & { kind: "dir" | "fifo" })
  | (CreateCommon & { kind: "chardev" | "blockdev"; rdev?: number });
/** Where a `Write`'s bytes go: `offset` of file `path`. */
export interface Place { path: QuotedPath; offset: number; }
/**
 * The verified plaintext of one blob and every place it goes: write the one
 * `data` at each of `places` (a blob used N times is decrypted once). Before
 * snapshot format 2 each place came as its own `{path, offset, data}`.
 */
export interface Write { data: Uint8Array; places: Place[]; }
/** A regular file found at the destination (`lstat`), for `resume`. */
export interface FoundFile { path: QuotedPath; size: number; mtime: number; mtime_nanos?: number; }
/**
 * What to restore and how (every member optional). `sparse` (default true)
 * leaves blobs of zeros unwritten: create every file at its final `size`.
 * `resume`: found files with the snapshot's size and mtime are done.
 * `max_range`: largest range to fetch, in stored and in decrypted bytes.
 */
export interface RestoreOptions {
  /** Patterns (docs/PATTERNS.md, restic's meaning: `/a` is the subtree, `*.log` any depth); the `i` lists ignore case. */
  inclusions?: string[]; exclusions?: string[]; iinclusions?: string[]; iexclusions?: string[];
  overwrite?: boolean; existing?: QuotedPath[];
  found?: FoundFile[]; resume?: boolean; sparse?: boolean; max_gap?: number; max_range?: number;
}
/** One failed file, as in a v2 restore's `/errors` patch. */
export interface ErrorEntry {
  index: number | string; path: string; type: string; description?: string;
  exception: { code: number | string; description: string | null; details: string | null } | null;
}
/** The value of a v2 restore's `/errors` patch. */
export interface ErrorReport { count: number | string; reason: string | null; diagnostics: string | null; list?: ErrorEntry[]; }
/** What a finished restore did. */
export interface RestoreReport { files_restored: number; bytes_restored: number; files_skipped: number; files_done: number; errors: ErrorReport | null; /** The inclusion patterns, as given, that matched no entry of the snapshot (most often a mistyped path). */ unmatched_includes: string[]; }
/** One problem a verification found. */
export interface VerifyProblem { object: string; code: string; message: string; }
/** What a verification found (`snapshots_checked`, `indexes_checked`, `unindexed_bundles` and `temporary_objects` are filled by `Verifier.forState`; not problems). */
export interface VerifyReport {
  ok: boolean; bundles_checked: number; blobs_checked: number; bytes_checked: number;
  snapshots_checked: number; indexes_checked: number; unindexed_bundles: number; temporary_objects: string[];
  problems: VerifyProblem[];
}
/** A v2 path filter (restore inclusions and exclusions). */
export interface PathFilter { path: string; type: "file" | "folder"; [member: string]: JsonValue; }
/**
 * What a snapshot records besides the tree. `time` is the backup's start in
 * whole Unix seconds or a `Date`, `timeNanos` its sub-second part (a whole
 * number from 0 to 999999999, default 0; left out with a `Date`): two
 * backups in the same second are then still ordered, and `latest` is the
 * later one.
 */
export interface SnapshotInfo { time: UnixTime; timeNanos?: number; hostname?: string; backupConfigurationId?: string; paths?: (QuotedPath | Bytes)[]; }
"#;

/// An optional trailing argument (`undefined` when left out).
fn opt(value: Option<JsValue>) -> JsValue {
    value.unwrap_or(JsValue::UNDEFINED)
}

/// A stored object as JS `{id, bytes}` (`StoredObject`).
pub(crate) fn object_js(id: &Id, bytes: &[u8]) -> JsResult<JsValue> {
    let o = js_sys::Object::new();
    set(&o, "id", &JsValue::from_str(&id.to_hex()))?;
    set(&o, "bytes", &js_sys::Uint8Array::from(bytes).into())?;
    Ok(o.into())
}

/// Sets member `name` of a JS object.
pub(crate) fn set(o: &js_sys::Object, name: &str, value: &JsValue) -> JsResult<()> {
    js_sys::Reflect::set(o, &JsValue::from_str(name), value)
        .map(|_| ())
        .map_err(|_| argument(name, "could not be set"))
}

/// An unlocked vault: its id, settings, key slots and keys.
#[wasm_bindgen]
pub struct Vault {
    pub(crate) inner: core_engine::Vault,
}

#[wasm_bindgen]
impl Vault {
    /// Creates a vault with a random id and master key, opened by
    /// `password`. Store `config()` as the vault's `config` object.
    pub fn create(
        #[wasm_bindgen(unchecked_param_type = "Password")] password: JsValue,
        #[wasm_bindgen(unchecked_param_type = "VaultSettings | null")] settings: Option<JsValue>,
        #[wasm_bindgen(unchecked_param_type = "KdfParams | null")] kdf: Option<JsValue>,
    ) -> JsResult<Vault> {
        let (settings, kdf) = (opt(settings), opt(kdf));
        let password = text_or_bytes_arg(&password, "password")?;
        let settings = json_arg::<VaultSettings>(&settings, "settings")?.unwrap_or_default();
        let kdf = json_arg::<KdfParams>(&kdf, "kdf")?.unwrap_or_default();
        Ok(Vault {
            inner: core_engine::Vault::create(&password, settings, kdf)?,
        })
    }

    /// Opens a stored vault config with a password.
    pub fn open(
        #[wasm_bindgen(unchecked_param_type = "Bytes")] config: JsValue,
        #[wasm_bindgen(unchecked_param_type = "Password")] password: JsValue,
    ) -> JsResult<Vault> {
        let config = buffer_arg(&config, "config")?;
        let password = text_or_bytes_arg(&password, "password")?;
        Ok(Vault {
            inner: core_engine::Vault::open(&config, &password)?,
        })
    }

    /// The slow half of `open`: runs Argon2 on `password` for the config's
    /// key slots and returns the vault's 32-byte master key
    /// (WrongPasswordError when no slot opens). For a Worker
    /// (`Vault.openAsync`): the key is a secret that crosses to the main
    /// thread as bytes; hand it to `openWithKey` and overwrite it
    /// (`key.fill(0)`) once the vault is open.
    #[wasm_bindgen(js_name = "unlockKey")]
    pub fn unlock_key(
        #[wasm_bindgen(unchecked_param_type = "Bytes")] config: JsValue,
        #[wasm_bindgen(unchecked_param_type = "Password")] password: JsValue,
    ) -> JsResult<js_sys::Uint8Array> {
        let config = buffer_arg(&config, "config")?;
        let password = Zeroizing::new(text_or_bytes_arg(&password, "password")?);
        let master = core_engine::Vault::unlock_master_key(&config, &password)?;
        Ok(js_sys::Uint8Array::from(&master.to_bytes()[..]))
    }

    /// The fast half of `open`: opens a stored config with the master key
    /// `unlockKey` or `masterKey()` gave (no Argon2), checking the config's
    /// MAC and form. A key that is not this vault's is a CorruptError, as a
    /// tampered config is.
    #[wasm_bindgen(js_name = "openWithKey")]
    pub fn open_with_key(
        #[wasm_bindgen(unchecked_param_type = "Bytes")] config: JsValue,
        #[wasm_bindgen(unchecked_param_type = "Bytes")] key: JsValue,
    ) -> JsResult<Vault> {
        let config = buffer_arg(&config, "config")?;
        let key = Zeroizing::new(buffer_arg(&key, "key")?);
        let bytes: Zeroizing<[u8; 32]> = Zeroizing::new(
            key.as_slice()
                .try_into()
                .map_err(|_| argument("key", format!("must be 32 bytes, not {}", key.len())))?,
        );
        let master = core_engine::keys::MasterKey::from_bytes(*bytes);
        Ok(Vault {
            inner: core_engine::Vault::open_with_master_key(&config, master)?,
        })
    }

    /// The vault's 32-byte master key: only to open this vault in another
    /// Worker or thread (`openWithKey` there; `Vault.createAsync` uses it).
    /// A secret: never store it, and overwrite it (`key.fill(0)`) after use.
    #[wasm_bindgen(js_name = "masterKey")]
    pub fn master_key(&self) -> js_sys::Uint8Array {
        js_sys::Uint8Array::from(&self.inner.master_key().to_bytes()[..])
    }

    /// The bytes to store as the vault's `config`.
    pub fn config(&self) -> JsResult<Vec<u8>> {
        Ok(self.inner.config_bytes()?)
    }

    /// What the vault is (no secrets).
    #[wasm_bindgen(unchecked_return_type = "VaultInfo")]
    pub fn info(&self) -> JsResult<JsValue> {
        to_js("vault info", &self.inner.info())
    }

    /// Adds a key slot for another password; store `config()` again.
    #[wasm_bindgen(js_name = "addPassword")]
    pub fn add_password(
        &mut self,
        #[wasm_bindgen(unchecked_param_type = "Password")] password: JsValue,
        #[wasm_bindgen(unchecked_param_type = "KdfParams | null")] kdf: Option<JsValue>,
    ) -> JsResult<()> {
        let kdf = opt(kdf);
        let password = text_or_bytes_arg(&password, "password")?;
        let kdf = json_arg::<KdfParams>(&kdf, "kdf")?.unwrap_or_default();
        Ok(self.inner.add_password(&password, kdf)?)
    }

    /// Removes the key slot that `password` opens.
    #[wasm_bindgen(js_name = "removePassword")]
    pub fn remove_password(
        &mut self,
        #[wasm_bindgen(unchecked_param_type = "Password")] password: JsValue,
    ) -> JsResult<()> {
        let password = text_or_bytes_arg(&password, "password")?;
        Ok(self.inner.remove_password(&password)?)
    }

    /// Rewraps the master key from the old password to the new one.
    #[wasm_bindgen(js_name = "changePassword")]
    pub fn change_password(
        &mut self,
        #[wasm_bindgen(unchecked_param_type = "Password")] old_password: JsValue,
        #[wasm_bindgen(unchecked_param_type = "Password")] new_password: JsValue,
        #[wasm_bindgen(unchecked_param_type = "KdfParams | null")] kdf: Option<JsValue>,
    ) -> JsResult<()> {
        let kdf = opt(kdf);
        let old = text_or_bytes_arg(&old_password, "oldPassword")?;
        let new = text_or_bytes_arg(&new_password, "newPassword")?;
        let kdf = json_arg::<KdfParams>(&kdf, "kdf")?.unwrap_or_default();
        Ok(self.inner.change_password(&old, &new, kdf)?)
    }
}

/// A vault's index (blob id -> bundle, offset, length): the union of the
/// index deltas loaded into it.
#[wasm_bindgen]
pub struct Index {
    pub(crate) inner: Arc<core_engine::Index>,
}

impl Default for Index {
    fn default() -> Self {
        Index::new()
    }
}

#[wasm_bindgen]
impl Index {
    /// A new, empty index.
    #[wasm_bindgen(constructor)]
    pub fn new() -> Index {
        Index {
            inner: Arc::new(core_engine::Index::new()),
        }
    }

    /// Merges the stored index delta `id` of `vault` into this index.
    #[wasm_bindgen(js_name = "loadDelta")]
    pub fn load_delta(
        &mut self,
        vault: &Vault,
        #[wasm_bindgen(unchecked_param_type = "string")] id: JsValue,
        #[wasm_bindgen(unchecked_param_type = "Bytes")] bytes: JsValue,
    ) -> JsResult<()> {
        let id = id_arg(&id, "id")?;
        let bytes = buffer_arg(&bytes, "bytes")?;
        Arc::make_mut(&mut self.inner).load_delta(
            vault.inner.keys(),
            vault.inner.id(),
            &id,
            &bytes,
        )?;
        Ok(())
    }

    /// The number of blobs the index knows.
    #[wasm_bindgen(getter)]
    pub fn length(&self) -> usize {
        self.inner.len()
    }
}

/// An opened snapshot: the file tree of one backup.
#[wasm_bindgen]
pub struct Snapshot {
    pub(crate) inner: core_engine::Snapshot,
}

#[wasm_bindgen]
impl Snapshot {
    /// Opens the stored snapshot `id` of `vault`.
    pub fn open(
        vault: &Vault,
        #[wasm_bindgen(unchecked_param_type = "string")] id: JsValue,
        #[wasm_bindgen(unchecked_param_type = "Bytes")] bytes: JsValue,
    ) -> JsResult<Snapshot> {
        let id = id_arg(&id, "id")?;
        let bytes = buffer_arg(&bytes, "bytes")?;
        Ok(Snapshot {
            inner: core_engine::Snapshot::open(vault.inner.keys(), vault.inner.id(), &id, &bytes)?,
        })
    }

    /// The snapshot's tree and metadata.
    #[wasm_bindgen(unchecked_return_type = "SnapshotData")]
    pub fn data(&self) -> JsResult<JsValue> {
        to_js("snapshot", &self.inner)
    }

    /// What is in folder `path` (quoted form or bytes): its children, or
    /// (`recursive`) everything below it, by path; folders above the
    /// backup's roots come as `synthetic` folders. NotFoundError when
    /// nothing is at or below it.
    #[wasm_bindgen(unchecked_return_type = "ListedEntry[]")]
    pub fn ls(
        &self,
        #[wasm_bindgen(unchecked_param_type = "QuotedPath | Bytes")] path: JsValue,
        #[wasm_bindgen(unchecked_optional_param_type = "boolean")] recursive: JsValue,
    ) -> JsResult<JsValue> {
        let path = path_arg(&path, "path")?;
        let recursive = !recursive.is_undefined() && bool_arg(&recursive, "recursive")?;
        to_js(
            "listing",
            &core_engine::browse::list(&self.inner, path.as_bytes(), recursive)?,
        )
    }

    /// The entries one of `patterns` matches (the backup patterns'
    /// meaning: `*.log` a name at any depth, `/home/ann/*.txt` from the
    /// root).
    #[wasm_bindgen(unchecked_return_type = "ListedEntry[]")]
    pub fn find(
        &self,
        #[wasm_bindgen(unchecked_param_type = "string[]")] patterns: JsValue,
        #[wasm_bindgen(js_name = "ignoreCase", unchecked_optional_param_type = "boolean")]
        ignore_case: JsValue,
    ) -> JsResult<JsValue> {
        let texts: Vec<String> = json_arg(&patterns, "patterns")?.unwrap_or_default();
        let ignore_case = !ignore_case.is_undefined() && bool_arg(&ignore_case, "ignoreCase")?;
        let patterns = core_engine::browse::patterns(&texts, ignore_case)?;
        to_js("found", &core_engine::browse::find(&self.inner, &patterns)?)
    }

    /// What changed from this snapshot to `after` (restic's `+ - M T U`
    /// as `added`, `removed`, `modified`, `type_changed`, `metadata`).
    #[wasm_bindgen(unchecked_return_type = "SnapshotDiff")]
    pub fn diff(&self, after: &Snapshot) -> JsResult<JsValue> {
        to_js(
            "diff",
            &core_engine::browse::diff(&self.inner, &after.inner),
        )
    }
}

/// One file of a snapshot, blob by blob in file order, for a host writing
/// it to a stream (`cloudbackup dump`): read each range of `fetches()` and
/// pass its bytes to `open(i, bytes)`; the plaintexts in order are the file.
#[wasm_bindgen]
pub struct Dump {
    inner: core_engine::browse::Dump,
}

#[wasm_bindgen]
impl Dump {
    /// The file at `path` (quoted form or bytes) of `snapshot`, its blobs
    /// located by `index`. NotFoundError for a path not in the snapshot
    /// (or a blob no index lists), InvalidValueError for a folder, a
    /// symlink or any other non-file.
    #[wasm_bindgen(constructor)]
    pub fn new(
        vault: &Vault,
        index: &Index,
        snapshot: &Snapshot,
        #[wasm_bindgen(unchecked_param_type = "QuotedPath | Bytes")] path: JsValue,
    ) -> JsResult<Dump> {
        let path = path_arg(&path, "path")?;
        Ok(Dump {
            inner: core_engine::browse::Dump::new(
                &vault.inner,
                &index.inner,
                &snapshot.inner,
                path.as_bytes(),
            )?,
        })
    }

    /// The file's size in bytes.
    pub fn size(&self) -> f64 {
        // Sizes stay below 2^53: exact as a JS number.
        self.inner.size() as f64
    }

    /// The ranges to read, one per blob, in file order.
    #[wasm_bindgen(unchecked_return_type = "DumpFetch[]")]
    pub fn fetches(&self) -> JsResult<JsValue> {
        to_js("dump fetches", &self.inner.fetches())
    }

    /// Blob `i`'s plaintext from the bytes of fetch `i`: CorruptError when
    /// they are not that blob, InvalidArgumentError for `i` out of range.
    pub fn open(
        &self,
        #[wasm_bindgen(unchecked_param_type = "number")] i: JsValue,
        #[wasm_bindgen(unchecked_param_type = "Bytes")] bytes: JsValue,
    ) -> JsResult<js_sys::Uint8Array> {
        // Past usize (wasm32): out of range all the same, as the core says.
        let i = usize::try_from(size_arg(&i, "i")?).unwrap_or(usize::MAX);
        let bytes = buffer_arg(&bytes, "bytes")?;
        Ok(js_sys::Uint8Array::from(&self.inner.open(i, &bytes)?[..]))
    }
}

/// Encrypts `passphrase` for an agent's RSA public key (hex as the service
/// sends it), as v1 `EncryptedPassword` / v2 `encrypted_password_hex`
/// expect: PKCS#1 v1.5, lower-case hex.
#[wasm_bindgen(js_name = "encryptPasswordForAgent")]
pub fn encrypt_password_for_agent(
    #[wasm_bindgen(js_name = "modulusHex", unchecked_param_type = "string")] modulus_hex: JsValue,
    #[wasm_bindgen(js_name = "exponentHex", unchecked_param_type = "string")] exponent_hex: JsValue,
    #[wasm_bindgen(unchecked_param_type = "string")] passphrase: JsValue,
) -> JsResult<String> {
    Ok(cloudbackup_core::api::encrypt_password_for_agent(
        &string_arg(&modulus_hex, "modulusHex")?,
        &string_arg(&exponent_hex, "exponentHex")?,
        &string_arg(&passphrase, "passphrase")?,
    )?)
}

/// Patterns (docs/PATTERNS.md) equivalent to v2 path filters (for
/// `RestoreOptions`): each path escaped; a folder's pattern takes its subtree.
#[wasm_bindgen(js_name = "filterGlobs", unchecked_return_type = "string[]")]
pub fn filter_globs_js(
    #[wasm_bindgen(unchecked_param_type = "PathFilter[]")] filters: JsValue,
) -> JsResult<JsValue> {
    let filters: Vec<PathFilter> = json_arg(&filters, "filters")?.unwrap_or_default();
    to_js("globs", &filter_globs(&filters))
}

/// Which bundles to verify: all (`fraction` 1) or a sample chosen by `seed`.
#[wasm_bindgen(js_name = "verifyPlan", unchecked_return_type = "Fetch[]")]
pub fn verify_plan(
    index: &Index,
    #[wasm_bindgen(unchecked_param_type = "number")] fraction: JsValue,
    #[wasm_bindgen(unchecked_param_type = "number")] seed: JsValue,
) -> JsResult<JsValue> {
    let fraction = number_arg(&fraction, "fraction")?;
    let seed = size_arg(&seed, "seed")?;
    to_js(
        "verify plan",
        &core_engine::verify_plan(&index.inner, fraction, seed)?,
    )
}

/// A restore of a snapshot: what to create, which bundle ranges to fetch,
/// then verified writes for the bytes fed; after `finish`, the report and
/// the modes and times to apply.
#[wasm_bindgen]
pub struct RestoreSession {
    /// The core's run keeps the order rules.
    run: core_engine::RestoreRun,
}

/// A token of `__sealedBlobs` (a safe integer).
fn token_arg(token: &JsValue) -> JsResult<u64> {
    token
        .as_f64()
        .filter(|t| t.fract() == 0.0 && (0.0..=MAX_SAFE as f64).contains(t))
        .map(|t| t as u64)
        .ok_or_else(|| wrong("token", "a token from __sealedBlobs", token))
}

fn writes_js(writes: Vec<Write>) -> JsResult<JsValue> {
    let out = js_sys::Array::new_with_length(writes.len() as u32);
    for (i, w) in writes.into_iter().enumerate() {
        let places = js_sys::Array::new_with_length(w.places.len() as u32);
        for (k, p) in w.places.iter().enumerate() {
            let place = js_sys::Object::new();
            set(&place, "path", &JsValue::from_str(&p.path.quoted()))?;
            set(&place, "offset", &JsValue::from_f64(p.offset as f64))?;
            places.set(k as u32, place.into());
        }
        let o = js_sys::Object::new();
        // One Uint8Array for every place.
        set(&o, "data", &js_sys::Uint8Array::from(&w.data[..]).into())?;
        set(&o, "places", &places.into())?;
        out.set(i as u32, o.into());
    }
    Ok(out.into())
}

#[wasm_bindgen]
impl RestoreSession {
    /// Starts restoring `snapshot` (its blobs located by `index`).
    #[wasm_bindgen(constructor)]
    pub fn new(
        vault: &Vault,
        snapshot: &Snapshot,
        index: &Index,
        #[wasm_bindgen(unchecked_param_type = "RestoreOptions | null")] options: Option<JsValue>,
    ) -> JsResult<RestoreSession> {
        let options = opt(options);
        let options = json_arg::<RestoreOptions>(&options, "options")?.unwrap_or_default();
        let run =
            core_engine::RestoreRun::new(&vault.inner, &snapshot.inner, &index.inner, options)?;
        Ok(RestoreSession { run })
    }

    /// What to create (directories, files at their size, symlinks).
    #[wasm_bindgen(unchecked_return_type = "Create[]")]
    pub fn creates(&self) -> JsResult<JsValue> {
        let session = self.run.session()?;
        to_js("restore creates", &session.creates().collect::<Vec<_>>())
    }

    /// The folders a killed restore may have left temporaries in where this
    /// one writes, relative to the target, in quoted form (`""`: the target
    /// itself, always first). Before creating anything, a host that is not
    /// restoring into a fresh folder removes from each that exists (reached
    /// without following symlinks) every name `partialOwner` gives no
    /// running owner.
    #[wasm_bindgen(js_name = "leftoverDirs", unchecked_return_type = "QuotedPath[]")]
    pub fn leftover_dirs(&self) -> JsResult<Vec<String>> {
        Ok(self
            .run
            .session()?
            .leftover_dirs()
            .iter()
            .map(|d| RawPath::from(d.as_slice()).quoted().into_owned())
            .collect())
    }

    /// Which bundles and byte ranges to fetch, in order.
    #[wasm_bindgen(unchecked_return_type = "Fetch[]")]
    pub fn plan(&self) -> JsResult<JsValue> {
        to_js("restore plan", &self.run.session()?.plan())
    }

    /// Feeds `bytes` fetched from bundle `bundleId` at `offset`; returns the
    /// verified writes, one per blob with every place it goes (none for a
    /// blob of zeros when sparse: files are created at their size).
    #[wasm_bindgen(unchecked_return_type = "Write[]")]
    pub fn feed(
        &mut self,
        #[wasm_bindgen(js_name = "bundleId", unchecked_param_type = "string")] bundle_id: JsValue,
        #[wasm_bindgen(unchecked_param_type = "number")] offset: JsValue,
        #[wasm_bindgen(unchecked_param_type = "Bytes")] bytes: JsValue,
    ) -> JsResult<JsValue> {
        let bundle = id_arg(&bundle_id, "bundleId")?;
        let offset = size_arg(&offset, "offset")?;
        let bytes = buffer_arg(&bytes, "bytes")?;
        let writes = self.run.feed(&bundle, offset, &bytes)?;
        writes_js(writes)
    }

    /// Internal (`feedAsync`, web/feed-async.js): `feed`'s checks, then
    /// each blob of the range as AES-256-GCM sees it, for WebCrypto to
    /// open: `{ token, parts: [{ nonce, aad, start, end, failed }] }`,
    /// `bytes[start..end]` being the ciphertext and its tag. Hand the
    /// results to `__openedBlobs(token, ...)` (`null` for a part that
    /// `failed` already: nothing to decrypt), or `__abandonSealed`.
    #[wasm_bindgen(js_name = "__sealedBlobs", skip_typescript)]
    pub fn sealed_blobs(
        &mut self,
        bundle_id: JsValue,
        offset: JsValue,
        bytes: JsValue,
    ) -> JsResult<JsValue> {
        let bundle = id_arg(&bundle_id, "bundleId")?;
        let offset = size_arg(&offset, "offset")?;
        let bytes = buffer_arg(&bytes, "bytes")?;
        let (token, parts) = self.run.sealed_range(&bundle, offset, &bytes)?;
        let list = js_sys::Array::new_with_length(parts.len() as u32);
        for (i, p) in parts.iter().enumerate() {
            let o = js_sys::Object::new();
            set(&o, "nonce", &js_sys::Uint8Array::from(&p.nonce[..]).into())?;
            set(&o, "aad", &js_sys::Uint8Array::from(&p.aad[..]).into())?;
            set(&o, "start", &JsValue::from_f64(p.body.start as f64))?;
            set(&o, "end", &JsValue::from_f64(p.body.end as f64))?;
            set(&o, "failed", &JsValue::from_bool(p.failed()))?;
            list.set(i as u32, o.into());
        }
        let out = js_sys::Object::new();
        set(&out, "token", &JsValue::from_f64(token as f64))?;
        set(&out, "parts", &list.into())?;
        Ok(out.into())
    }

    /// Internal (`feedAsync`): the writes of range `token` of
    /// `__sealedBlobs`, given each part's plaintext as WebCrypto opened it
    /// (`null`: its tag did not verify), in the parts' order.
    #[wasm_bindgen(js_name = "__openedBlobs", skip_typescript)]
    pub fn opened_blobs(&mut self, token: JsValue, opened: JsValue) -> JsResult<JsValue> {
        let token = token_arg(&token)?;
        let opened: js_sys::Array = opened
            .dyn_into()
            .map_err(|v| wrong("opened", "an array of bytes or null", &v))?;
        let mut plain = Vec::with_capacity(opened.length() as usize);
        for (i, v) in opened.iter().enumerate() {
            plain.push(if v.is_null() {
                None
            } else {
                Some(buffer_arg(&v, &format!("opened[{i}]"))?)
            });
        }
        writes_js(self.run.open_sealed(token, plain)?)
    }

    /// Internal (`feedAsync`): WebCrypto could not open range `token`
    /// (`reason` says why): the files using its blobs fail.
    #[wasm_bindgen(js_name = "__abandonSealed", skip_typescript)]
    pub fn abandon_sealed(&mut self, token: JsValue, reason: JsValue) -> JsResult<()> {
        let token = token_arg(&token)?;
        let reason = string_arg(&reason, "reason")?;
        Ok(self.run.abandon_sealed(token, &reason)?)
    }

    /// Internal (`feedAsync`): the AES-256 key of the vault's data blobs,
    /// to import into WebCrypto as a non-extractable key; overwrite these
    /// bytes once imported.
    #[wasm_bindgen(js_name = "__blobKey", skip_typescript)]
    pub fn blob_key(&mut self) -> JsResult<js_sys::Uint8Array> {
        Ok(js_sys::Uint8Array::from(
            &self.run.blob_encryption_key()?[..],
        ))
    }

    /// The files whose content became complete since the last call (after
    /// the writes fed before are written): close each and move it into place.
    #[wasm_bindgen(js_name = "takeCompleted", unchecked_return_type = "QuotedPath[]")]
    pub fn take_completed(&mut self) -> JsResult<JsValue> {
        let paths: Vec<String> = self
            .run
            .take_completed()
            .iter()
            .map(|p| p.quoted().into_owned())
            .collect();
        to_js("completed files", &paths)
    }

    /// The host could not create, write or move `path` into place (`error`
    /// says why): the file fails (`write_failed` in the report, also after
    /// `finish`) and gets no further writes.
    #[wasm_bindgen(js_name = "failPath")]
    pub fn fail_path(
        &mut self,
        #[wasm_bindgen(unchecked_param_type = "QuotedPath | Bytes")] path: JsValue,
        #[wasm_bindgen(unchecked_param_type = "string")] error: JsValue,
    ) -> JsResult<()> {
        let path = path_arg(&path, "path")?;
        let error = string_arg(&error, "error")?;
        Ok(self.run.fail_path(&path, &error)?)
    }

    /// Reports bundle `bundleId` as missing: its files end up in the errors.
    pub fn missing(
        &mut self,
        #[wasm_bindgen(js_name = "bundleId", unchecked_param_type = "string")] bundle_id: JsValue,
    ) -> JsResult<()> {
        let bundle = id_arg(&bundle_id, "bundleId")?;
        Ok(self.run.missing(&bundle)?)
    }

    /// Ends the session: what it restored, and which files failed (an
    /// `InvalidStateError` when called twice).
    #[wasm_bindgen(unchecked_return_type = "RestoreReport")]
    pub fn finish(&mut self) -> JsResult<JsValue> {
        to_js("restore report", self.run.finish()?)
    }

    /// The report of the finished session (`InvalidStateError` before
    /// `finish`).
    #[wasm_bindgen(unchecked_return_type = "RestoreReport")]
    pub fn report(&self) -> JsResult<JsValue> {
        to_js("restore report", self.run.report()?)
    }

    /// After `finish`: the modes and times to apply once the content is
    /// written, deepest first (children before their directory), entries
    /// failed by `finish` left out (the same list through later `failPath`
    /// calls: skip what you failed). Directories and files: `chmod` then `utimes`;
    /// symlinks: `lutimes`. In node, give `utimes` the time as a numeric
    /// string (`"-14182940.123456789"`): node reads a negative number, a
    /// time before 1970, as the current time. `InvalidStateError` before
    /// `finish`.
    #[wasm_bindgen(unchecked_return_type = "Create[]")]
    pub fn apply(&self) -> JsResult<JsValue> {
        to_js("restore apply", self.run.apply()?)
    }
}

/// Checks that every blob of the bundles fed decrypts and matches its id.
#[wasm_bindgen]
pub struct Verifier {
    inner: core_engine::Verifier,
}

#[wasm_bindgen]
impl Verifier {
    /// A verifier for the blobs `index` places in `vault`'s bundles.
    #[wasm_bindgen(constructor)]
    pub fn new(vault: &Vault, index: &Index) -> Verifier {
        Verifier {
            inner: core_engine::Verifier::new(&vault.inner, &index.inner),
        }
    }

    /// A verifier of a whole vault as `state` read it: its report starts
    /// with what the listing, the index deltas and the snapshots show
    /// (unreadable snapshots and indexes, blobs no index lists, indexed
    /// bundles missing from storage, temporary objects); fetch and feed the
    /// bundles of `plan(state.index(), ...)`.
    #[wasm_bindgen(js_name = "forState")]
    pub fn for_state(state: &VaultState) -> Verifier {
        Verifier {
            inner: core_engine::Verifier::for_state(state.core()),
        }
    }

    /// The bundles to fetch whole and feed: every bundle `index` places a
    /// blob in (`fraction` 1) or a sample chosen by `seed`, less those the
    /// state's listing already showed missing (reported as problems).
    #[wasm_bindgen(unchecked_return_type = "Fetch[]")]
    pub fn plan(
        &self,
        index: &Index,
        #[wasm_bindgen(unchecked_param_type = "number")] fraction: JsValue,
        #[wasm_bindgen(unchecked_param_type = "number")] seed: JsValue,
    ) -> JsResult<JsValue> {
        let fraction = number_arg(&fraction, "fraction")?;
        let seed = size_arg(&seed, "seed")?;
        to_js(
            "verify plan",
            &self.inner.plan(&index.inner, fraction, seed)?,
        )
    }

    /// Feeds a whole bundle. Problems go to the report; a bundle that is not
    /// a bundle of this vault at all throws.
    pub fn feed(
        &mut self,
        #[wasm_bindgen(js_name = "bundleId", unchecked_param_type = "string")] bundle_id: JsValue,
        #[wasm_bindgen(unchecked_param_type = "Bytes")] bytes: JsValue,
    ) -> JsResult<()> {
        let bundle = id_arg(&bundle_id, "bundleId")?;
        let bytes = buffer_arg(&bytes, "bytes")?;
        Ok(self.inner.feed(&bundle, &bytes)?)
    }

    /// Reports a bundle of the plan as missing.
    pub fn missing(
        &mut self,
        #[wasm_bindgen(js_name = "bundleId", unchecked_param_type = "string")] bundle_id: JsValue,
    ) -> JsResult<()> {
        let bundle = id_arg(&bundle_id, "bundleId")?;
        self.inner.missing(&bundle);
        Ok(())
    }

    /// What the verification found so far.
    #[wasm_bindgen(unchecked_return_type = "VerifyReport")]
    pub fn report(&self) -> JsResult<JsValue> {
        to_js("verify report", self.inner.report())
    }
}

/// A backup: the host pushes files' bytes; the session hands back sealed
/// bundles, then the index delta and the snapshot to store.
#[wasm_bindgen]
pub struct BackupSession {
    /// The core's run keeps the order rules.
    run: core_engine::BackupRun,
}

#[wasm_bindgen]
impl BackupSession {
    /// Starts a backup into `vault`, deduplicating against `index`.
    #[wasm_bindgen(constructor)]
    pub fn new(vault: &Vault, index: &Index) -> JsResult<BackupSession> {
        let run = core_engine::BackupRun::new(
            &vault.inner,
            Arc::clone(&index.inner),
            BackupOptions { threads: 1 },
        )?;
        Ok(BackupSession { run })
    }

    fn running(&mut self) -> JsResult<&mut core_engine::BackupSession> {
        Ok(self.run.session()?)
    }

    /// Starts a regular file (then `write` its bytes, then `finishFile`).
    /// `path` is a quoted path (`QuotedPath`) or its bytes; `mode` its
    /// permission bits (0 to 0o7777); `mtime` whole Unix seconds or a `Date`.
    #[wasm_bindgen(js_name = "startFile")]
    pub fn start_file(
        &mut self,
        #[wasm_bindgen(unchecked_param_type = "QuotedPath | Bytes")] path: JsValue,
        #[wasm_bindgen(unchecked_param_type = "number")] mode: JsValue,
        #[wasm_bindgen(unchecked_param_type = "UnixTime")] mtime: JsValue,
    ) -> JsResult<()> {
        let path = path_arg(&path, "path")?;
        let mode = mode_arg(&mode, "mode")?;
        let (mtime, nanos) = time_arg(&mtime, "mtime")?;
        let mut meta = FileMeta::file(path, mode, mtime);
        meta.mtime_nanos = nanos;
        Ok(self.running()?.start_file(meta)?)
    }

    /// Starts a regular file with all its metadata (then `write` its
    /// bytes, then `finishFile`).
    pub fn start(
        &mut self,
        #[wasm_bindgen(unchecked_param_type = "FileMeta")] meta: JsValue,
    ) -> JsResult<()> {
        let meta = meta_arg(&meta)?;
        Ok(self.running()?.start_file(meta)?)
    }

    /// Records a directory, symlink, FIFO or device node with all its metadata.
    pub fn add(
        &mut self,
        #[wasm_bindgen(unchecked_param_type = "FileMeta")] meta: JsValue,
    ) -> JsResult<()> {
        let meta = meta_arg(&meta)?;
        Ok(self.running()?.add_entry(meta)?)
    }

    /// Uses `snapshot` as the parent: `reuse` then takes over its unchanged files.
    #[wasm_bindgen(js_name = "setParent")]
    pub fn set_parent(&mut self, snapshot: &Snapshot) -> JsResult<()> {
        self.running()?.set_parent(&snapshot.inner);
        Ok(())
    }

    /// Records file `meta` with the parent's chunk list when it is
    /// unchanged (same size, mtime, ctime, inode, device): `true`, and the
    /// file is done; `false`: back it up as usual.
    pub fn reuse(
        &mut self,
        #[wasm_bindgen(unchecked_param_type = "FileMeta")] meta: JsValue,
    ) -> JsResult<bool> {
        let meta = meta_arg(&meta)?;
        Ok(self.running()?.reuse(meta)?)
    }

    /// Records that `path` could not be read, and why; the backup goes on.
    #[wasm_bindgen(js_name = "fileError")]
    pub fn file_error(
        &mut self,
        #[wasm_bindgen(unchecked_param_type = "QuotedPath | Bytes")] path: JsValue,
        #[wasm_bindgen(unchecked_param_type = "string")] error: JsValue,
    ) -> JsResult<()> {
        let path = path_arg(&path, "path")?;
        let error = string_arg(&error, "error")?;
        self.running()?.file_error(path, error);
        Ok(())
    }

    /// Gives up the open file (a read failed half-way): it becomes a file error.
    #[wasm_bindgen(js_name = "abandonFile")]
    pub fn abandon_file(
        &mut self,
        #[wasm_bindgen(unchecked_param_type = "string")] error: JsValue,
    ) -> JsResult<()> {
        let error = string_arg(&error, "error")?;
        Ok(self.running()?.abandon_file(error)?)
    }

    /// The next bytes of the current file.
    pub fn write(
        &mut self,
        #[wasm_bindgen(unchecked_param_type = "Bytes")] bytes: JsValue,
    ) -> JsResult<()> {
        let bytes = buffer_arg(&bytes, "bytes")?;
        Ok(self.running()?.write(&bytes)?)
    }

    /// Continues the current file with `n` zero bytes (a hole of a sparse
    /// file; a number up to 2^53 or a bigint) without making them: the same
    /// chunks and snapshot as writing them, at a cost that does not grow
    /// with `n`.
    #[wasm_bindgen(js_name = "writeZeros")]
    pub fn write_zeros(
        &mut self,
        #[wasm_bindgen(unchecked_param_type = "number | bigint")] n: JsValue,
    ) -> JsResult<()> {
        let n = count_arg(&n, "n")?;
        Ok(self.running()?.write_zeros(n)?)
    }

    /// Ends the current file.
    #[wasm_bindgen(js_name = "finishFile")]
    pub fn finish_file(&mut self) -> JsResult<()> {
        Ok(self.running()?.finish_file()?)
    }

    /// Ends the current file given what a `stat` of it shows after its last
    /// byte (`size`: a number or a bigint; `mtime`: whole Unix seconds or a
    /// `Date`; `mtimeNanos`: 0 to 999999999, left out with a `Date`):
    /// `null`, or why it changed while it was read (the size is not the
    /// bytes read, or the mtime moved). The snapshot keeps what was read
    /// either way: warn with the text. Node: `fstat(fd, { bigint: true })`,
    /// seconds rounded down (`mtimeNs / 1000000000n` rounds toward zero
    /// before 1970).
    #[wasm_bindgen(js_name = "finishFileChecked", unchecked_return_type = "string | null")]
    pub fn finish_file_checked(
        &mut self,
        #[wasm_bindgen(unchecked_param_type = "number | bigint")] size: JsValue,
        #[wasm_bindgen(unchecked_param_type = "UnixTime")] mtime: JsValue,
        #[wasm_bindgen(js_name = "mtimeNanos", unchecked_param_type = "number | null")]
        mtime_nanos: Option<JsValue>,
    ) -> JsResult<JsValue> {
        let size = count_arg(&size, "size")?;
        let (seconds, nanos) =
            time_with_nanos_arg(&mtime, given(mtime_nanos), "mtime", "mtimeNanos")?;
        let warning = self.running()?.finish_file_checked(size, seconds, nanos)?;
        Ok(warning.map_or(JsValue::NULL, |w| JsValue::from_str(&w)))
    }

    /// Records a directory (`mode`, `mtime` as for `startFile`).
    #[wasm_bindgen(js_name = "addDir")]
    pub fn add_dir(
        &mut self,
        #[wasm_bindgen(unchecked_param_type = "QuotedPath | Bytes")] path: JsValue,
        #[wasm_bindgen(unchecked_param_type = "number")] mode: JsValue,
        #[wasm_bindgen(unchecked_param_type = "UnixTime")] mtime: JsValue,
    ) -> JsResult<()> {
        let path = path_arg(&path, "path")?;
        let mode = mode_arg(&mode, "mode")?;
        let (mtime, nanos) = time_arg(&mtime, "mtime")?;
        let mut meta = FileMeta::dir(path, mode, mtime);
        meta.mtime_nanos = nanos;
        Ok(self.running()?.add_entry(meta)?)
    }

    /// Records a symbolic link.
    #[wasm_bindgen(js_name = "addSymlink")]
    pub fn add_symlink(
        &mut self,
        #[wasm_bindgen(unchecked_param_type = "QuotedPath | Bytes")] path: JsValue,
        #[wasm_bindgen(unchecked_param_type = "QuotedPath | Bytes")] target: JsValue,
        #[wasm_bindgen(unchecked_param_type = "UnixTime")] mtime: JsValue,
    ) -> JsResult<()> {
        let path = path_arg(&path, "path")?;
        let target = path_arg(&target, "target")?;
        let (mtime, nanos) = time_arg(&mtime, "mtime")?;
        let mut meta = FileMeta::symlink(path, target, mtime);
        meta.mtime_nanos = nanos;
        Ok(self.running()?.add_entry(meta)?)
    }

    /// The bundles sealed so far (store each as `bundles/<id>`).
    #[wasm_bindgen(js_name = "takeBundles", unchecked_return_type = "StoredObject[]")]
    pub fn take_bundles(&mut self) -> JsResult<JsValue> {
        let out = js_sys::Array::new();
        for b in self.run.take_bundles() {
            out.push(&object_js(&b.id, &b.bytes)?);
        }
        Ok(out.into())
    }

    /// The counters so far (final after `finish`).
    #[wasm_bindgen(unchecked_return_type = "BackupCounters")]
    pub fn counters(&self) -> JsResult<JsValue> {
        to_js("counters", &self.run.counters())
    }

    /// Seals the last bundle, the index delta and the snapshot. Take the
    /// remaining bundles, then the index and the snapshot.
    pub fn finish(
        &mut self,
        #[wasm_bindgen(unchecked_param_type = "SnapshotInfo")] info: JsValue,
    ) -> JsResult<()> {
        self.running()?;
        let get = |name: &str| js_sys::Reflect::get(&info, &JsValue::from_str(name)).ok();
        if !info.is_object() {
            return Err(argument(
                "info",
                "must be an object {time, timeNanos?, hostname?, backupConfigurationId?, paths?}",
            ));
        }
        let time_js = get("time").unwrap_or(JsValue::UNDEFINED);
        // Checked here, before the session is handed to the core (which
        // would end it on a bad value).
        let (time, time_nanos) = time_with_nanos_arg(
            &time_js,
            given(get("timeNanos")),
            "info.time",
            "info.timeNanos",
        )?;
        let optional = |name: &str| -> JsResult<Option<String>> {
            match get(name) {
                None => Ok(None),
                Some(v) if v.is_undefined() || v.is_null() => Ok(None),
                Some(v) => Ok(Some(string_arg(&v, &format!("info.{name}"))?)),
            }
        };
        let paths = match get("paths") {
            None => Vec::new(),
            Some(v) if v.is_undefined() || v.is_null() => Vec::new(),
            Some(v) => {
                let list = v
                    .dyn_ref::<js_sys::Array>()
                    .ok_or_else(|| argument("info.paths", "must be an array of paths"))?;
                list.iter()
                    .enumerate()
                    .map(|(i, p)| path_arg(&p, &format!("info.paths[{i}]")))
                    .collect::<JsResult<Vec<_>>>()?
            }
        };
        let info = SnapshotInfo {
            time,
            time_nanos,
            hostname: optional("hostname")?,
            backup_configuration_id: optional("backupConfigurationId")?,
            paths,
            // Tags from JS come with the forget round (issue 18).
            tags: Vec::new(),
        };
        Ok(self.run.finish(info)?)
    }

    /// The index delta (store as `index/<id>`), once, after `finish`.
    #[wasm_bindgen(js_name = "takeIndex", unchecked_return_type = "StoredObject | null")]
    pub fn take_index(&mut self) -> JsResult<JsValue> {
        match self.run.take_index()? {
            Some(o) => object_js(&o.id, &o.bytes),
            None => Ok(JsValue::NULL),
        }
    }

    /// The snapshot (store as `snapshots/<id>`), once, after `finish`.
    #[wasm_bindgen(
        js_name = "takeSnapshot",
        unchecked_return_type = "StoredObject | null"
    )]
    pub fn take_snapshot(&mut self) -> JsResult<JsValue> {
        match self.run.take_snapshot()? {
            Some(o) => object_js(&o.id, &o.bytes),
            None => Ok(JsValue::NULL),
        }
    }
}
