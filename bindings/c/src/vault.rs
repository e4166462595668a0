//! Keys and stored objects: vaults (create, unlock, passwords, config),
//! the password encrypted for an agent, the index and snapshots.

use std::ffi::c_char;
use std::sync::Arc;

use cloudbackup_core::api::encrypt_password_for_agent;
use cloudbackup_core::engine::{browse, Id, Index, KdfParams, Snapshot, Vault, VaultSettings};
use cloudbackup_core::error::from_json_slice;

use crate::ffi::{
    c_bytes, c_string, free, guard, guard_void, into_handle, json_string, try_mut, try_opt_str,
    try_out, try_path, try_ref, try_slice, try_str, FfiResult,
};
use crate::status::cb_status;

/// An unlocked vault: its id, settings, key slots and keys. Made by
/// `cb_vault_create` or `cb_vault_open`, freed by `cb_vault_free`.
pub struct cb_vault {
    pub(crate) vault: Vault,
}

/// A vault's index (blob id -> bundle, offset, length): the union of the
/// index deltas loaded into it. Made by `cb_index_new`, freed by
/// `cb_index_free`.
pub struct cb_index {
    /// Shared with backup sessions, which keep the index they started with.
    pub(crate) index: Arc<Index>,
}

/// An opened snapshot: the file tree of one backup. Made by
/// `cb_snapshot_open`, freed by `cb_snapshot_free`.
pub struct cb_snapshot {
    pub(crate) snapshot: Snapshot,
}

/// Reads an optional JSON argument of type `T` (NULL: its default).
/// The pointer contract of [`crate::ffi`] applies: pass only an export's
/// own arguments.
pub(crate) fn opt_json<T: serde::de::DeserializeOwned + Default>(
    p: *const c_char,
    name: &'static str,
) -> FfiResult<T> {
    match try_opt_str!(p, name) {
        None => Ok(T::default()),
        Some(text) => Ok(from_json_slice(name, text.as_bytes())?),
    }
}

/// Reads an object id argument (64 hex digits): a bad one is
/// `CB_INVALID_VALUE` naming the argument, as in every binding.
/// The pointer contract of [`crate::ffi`] applies: pass only an export's
/// own arguments.
pub(crate) fn id_arg(p: *const c_char, name: &'static str) -> FfiResult<Id> {
    let hex = try_str!(p, name);
    Ok(Id::parse_named(name, hex)?)
}

/// Creates a vault with a random id and master key, opened by the password
/// (`password_len` bytes, any bytes). `settings_json` (NULL: defaults) is
/// `{"chunker": {"min_size", "avg_size", "max_size"}, "zstd_level",
/// "bundle_size"}`; `kdf_json` (NULL: 64 MiB, 3 passes, 1 lane) is the
/// password's Argon2id cost `{"memory_kib", "iterations", "parallelism"}`.
/// Store `cb_vault_config` as the vault's `config`.
///
/// Errors: `CB_INVALID_JSON` for settings or KDF JSON that does not fit,
/// `CB_INVALID_ARGUMENT` for a setting out of range, `CB_INVALID_VALUE` for
/// KDF parameters Argon2 refuses.
///
/// # Safety
/// `password` points to `password_len` readable bytes (or is NULL with
/// length 0); the JSON strings are NUL-terminated or NULL; `out_vault`
/// points to a writable `cb_vault *` (freed with `cb_vault_free`).
#[no_mangle]
pub unsafe extern "C" fn cb_vault_create(
    password: *const u8,
    password_len: usize,
    settings_json: *const c_char,
    kdf_json: *const c_char,
    out_vault: *mut *mut cb_vault,
) -> cb_status {
    guard(|| {
        let out = try_out!(out_vault);
        let password = try_slice!(password, password_len);
        let settings: VaultSettings = opt_json(settings_json, "settings_json")?;
        let kdf: KdfParams = opt_json(kdf_json, "kdf_json")?;
        let vault = Vault::create(password, settings, kdf)?;
        *out = into_handle(cb_vault { vault });
        Ok(())
    })
}

/// Opens a stored vault config (`config_len` bytes) with the password.
///
/// Errors: `CB_WRONG_PASSWORD` when no key slot opens, `CB_CORRUPT` when the
/// config was tampered with, `CB_UNSUPPORTED_VERSION` for a newer format,
/// `CB_INVALID_JSON` for bytes that are no config.
///
/// # Safety
/// `config` and `password` point to their lengths of readable bytes (or are
/// NULL with length 0); `out_vault` points to a writable `cb_vault *`
/// (freed with `cb_vault_free`).
#[no_mangle]
pub unsafe extern "C" fn cb_vault_open(
    config: *const u8,
    config_len: usize,
    password: *const u8,
    password_len: usize,
    out_vault: *mut *mut cb_vault,
) -> cb_status {
    guard(|| {
        let out = try_out!(out_vault);
        let config = try_slice!(config, config_len);
        let password = try_slice!(password, password_len);
        let vault = Vault::open(config, password)?;
        *out = into_handle(cb_vault { vault });
        Ok(())
    })
}

/// The bytes to store as the vault's `config` (after creating it or
/// changing its passwords).
///
/// # Safety
/// `vault` is a live vault or NULL; `out_data` and `out_len` point to a
/// writable `uint8_t *` and `size_t` (free the bytes with
/// `cb_bytes_free(data, len)`).
#[no_mangle]
pub unsafe extern "C" fn cb_vault_config(
    vault: *const cb_vault,
    out_data: *mut *mut u8,
    out_len: *mut usize,
) -> cb_status {
    guard(|| {
        let out_data = try_out!(out_data);
        let out_len = try_out!(out_len);
        let vault = try_ref!(vault);
        (*out_data, *out_len) = c_bytes(vault.vault.config_bytes()?);
        Ok(())
    })
}

/// What a vault is, as JSON: `{"vault_id": "<32 hex digits>", "settings":
/// {...}, "key_slots": <count>}` (no secrets).
///
/// # Safety
/// `vault` is a live vault or NULL; `out_json` points to a writable
/// `char *` (freed with `cb_string_free`).
#[no_mangle]
pub unsafe extern "C" fn cb_vault_info(
    vault: *const cb_vault,
    out_json: *mut *mut c_char,
) -> cb_status {
    guard(|| {
        let out = try_out!(out_json);
        let vault = &try_ref!(vault).vault;
        let info = serde_json::to_value(vault.info())
            .map_err(|e| cloudbackup_core::Error::json("vault info", &e))?;
        *out = json_string(&info)?;
        Ok(())
    })
}

/// Adds a key slot for another password (`kdf_json` as in
/// `cb_vault_create`, NULL for the default). Store `cb_vault_config` again
/// afterwards.
///
/// # Safety
/// `vault` is a live vault or NULL, not used by another thread meanwhile;
/// `password` points to `password_len` readable bytes (or is NULL with
/// length 0); `kdf_json` is NUL-terminated or NULL.
#[no_mangle]
pub unsafe extern "C" fn cb_vault_add_password(
    vault: *mut cb_vault,
    password: *const u8,
    password_len: usize,
    kdf_json: *const c_char,
) -> cb_status {
    guard(|| {
        let vault = try_mut!(vault);
        let password = try_slice!(password, password_len);
        let kdf: KdfParams = opt_json(kdf_json, "kdf_json")?;
        vault.vault.add_password(password, kdf)?;
        Ok(())
    })
}

/// Removes the key slot that the password opens.
///
/// Errors: `CB_WRONG_PASSWORD` when no slot opens with it,
/// `CB_INVALID_ARGUMENT` when it is the vault's only slot.
///
/// # Safety
/// As `cb_vault_add_password`.
#[no_mangle]
pub unsafe extern "C" fn cb_vault_remove_password(
    vault: *mut cb_vault,
    password: *const u8,
    password_len: usize,
) -> cb_status {
    guard(|| {
        let vault = try_mut!(vault);
        let password = try_slice!(password, password_len);
        vault.vault.remove_password(password)?;
        Ok(())
    })
}

/// Rewraps the master key from the old password to the new one (`kdf_json`
/// as in `cb_vault_create`); data is untouched. Store `cb_vault_config`
/// again afterwards.
///
/// Errors: `CB_WRONG_PASSWORD` when no slot opens with the old password.
///
/// # Safety
/// As `cb_vault_add_password`, for both passwords.
#[no_mangle]
pub unsafe extern "C" fn cb_vault_change_password(
    vault: *mut cb_vault,
    old_password: *const u8,
    old_len: usize,
    new_password: *const u8,
    new_len: usize,
    kdf_json: *const c_char,
) -> cb_status {
    guard(|| {
        let vault = try_mut!(vault);
        let old = try_slice!(old_password, old_len);
        let new = try_slice!(new_password, new_len);
        let kdf: KdfParams = opt_json(kdf_json, "kdf_json")?;
        vault.vault.change_password(old, new, kdf)?;
        Ok(())
    })
}

/// Frees a vault (its keys are wiped). NULL is ignored.
///
/// # Safety
/// `vault` is NULL or a vault made by this library, not freed before and
/// not in use.
#[no_mangle]
pub unsafe extern "C" fn cb_vault_free(vault: *mut cb_vault) {
    guard_void(|| free!(vault));
}

/// Encrypts `passphrase` for an agent whose RSA public key is
/// `modulus_hex` / `exponent_hex` (hex as the service sends it: spaces and
/// either case allowed), as v1 `EncryptedPassword` and v2
/// `encrypted_password_hex` expect: RSA PKCS#1 v1.5, lower-case hex.
///
/// Errors: `CB_INVALID_ARGUMENT` for hex that is not hex, an empty
/// passphrase, or one too long for the key; `CB_INVALID_VALUE` for a key
/// that is no usable RSA key (e.g. under 1024 bits).
///
/// # Safety
/// The strings are NUL-terminated; `out_hex` points to a writable `char *`
/// (freed with `cb_string_free`).
#[no_mangle]
pub unsafe extern "C" fn cb_encrypt_password_for_agent(
    modulus_hex: *const c_char,
    exponent_hex: *const c_char,
    passphrase: *const c_char,
    out_hex: *mut *mut c_char,
) -> cb_status {
    guard(|| {
        let out = try_out!(out_hex);
        let modulus = try_str!(modulus_hex);
        let exponent = try_str!(exponent_hex);
        let passphrase = try_str!(passphrase);
        *out = c_string(
            encrypt_password_for_agent(modulus, exponent, passphrase)?,
            "hex",
        )?;
        Ok(())
    })
}

/// A new, empty index. Load every index delta of the vault into it
/// (`cb_index_load_delta`) before a backup (for dedup), a restore or a
/// verification.
///
/// # Safety
/// `out_index` points to a writable `cb_index *` (freed with
/// `cb_index_free`).
#[no_mangle]
pub unsafe extern "C" fn cb_index_new(out_index: *mut *mut cb_index) -> cb_status {
    guard(|| {
        let out = try_out!(out_index);
        *out = into_handle(cb_index {
            index: Arc::new(Index::new()),
        });
        Ok(())
    })
}

/// Merges the stored index delta `id` (64 hex digits, the name it is stored
/// under; `len` bytes) of `vault` into `index`. Sessions already started
/// keep the index they started with.
///
/// Errors: `CB_CORRUPT` (tampered, truncated, or not the object `id`
/// names), `CB_FOREIGN_VAULT`, `CB_UNSUPPORTED_VERSION`; `CB_INVALID_VALUE`
/// for an id that is not 64 hex digits.
///
/// # Safety
/// `index` and `vault` are live handles or NULL (`index` not used by
/// another thread meanwhile); `id` is NUL-terminated; `data` points to `len`
/// readable bytes (or is NULL with `len` 0).
#[no_mangle]
pub unsafe extern "C" fn cb_index_load_delta(
    index: *mut cb_index,
    vault: *const cb_vault,
    id: *const c_char,
    data: *const u8,
    len: usize,
) -> cb_status {
    guard(|| {
        let index = try_mut!(index);
        let vault = &try_ref!(vault).vault;
        let id = id_arg(id, "id")?;
        let bytes = try_slice!(data, len);
        // Copied first only while a backup session shares it.
        Arc::make_mut(&mut index.index).load_delta(vault.keys(), vault.id(), &id, bytes)?;
        Ok(())
    })
}

/// The number of blobs the index knows.
///
/// # Safety
/// `index` is a live index or NULL; `out_count` points to a writable
/// `size_t`.
#[no_mangle]
pub unsafe extern "C" fn cb_index_len(index: *const cb_index, out_count: *mut usize) -> cb_status {
    guard(|| {
        let out = try_out!(out_count);
        *out = try_ref!(index).index.len();
        Ok(())
    })
}

/// Frees an index. NULL is ignored.
///
/// # Safety
/// `index` is NULL or an index made by this library, not freed before and
/// not in use.
#[no_mangle]
pub unsafe extern "C" fn cb_index_free(index: *mut cb_index) {
    guard_void(|| free!(index));
}

/// Opens the stored snapshot `id` (64 hex digits; `len` bytes) of `vault`.
///
/// Errors: `CB_CORRUPT`, `CB_FOREIGN_VAULT`, `CB_UNSUPPORTED_VERSION`,
/// `CB_INVALID_VALUE` for an id that is not 64 hex digits.
///
/// # Safety
/// `vault` is a live vault or NULL; `id` is NUL-terminated; `data` points
/// to `len` readable bytes (or is NULL with `len` 0); `out_snapshot` points
/// to a writable `cb_snapshot *` (freed with `cb_snapshot_free`).
#[no_mangle]
pub unsafe extern "C" fn cb_snapshot_open(
    vault: *const cb_vault,
    id: *const c_char,
    data: *const u8,
    len: usize,
    out_snapshot: *mut *mut cb_snapshot,
) -> cb_status {
    guard(|| {
        let out = try_out!(out_snapshot);
        let vault = &try_ref!(vault).vault;
        let id = id_arg(id, "id")?;
        let bytes = try_slice!(data, len);
        let snapshot = Snapshot::open(vault.keys(), vault.id(), &id, bytes)?;
        *out = into_handle(cb_snapshot { snapshot });
        Ok(())
    })
}

/// The snapshot as JSON: `{"version", "time", "hostname",
/// "backup_configuration_id", "counters": {...}, "entries": [{"path",
/// "kind": "file"|"dir"|"symlink", "mode", "mtime", "size", "chunks",
/// "target"}...]}` (absent members left out).
///
/// # Safety
/// `snapshot` is a live snapshot or NULL; `out_json` points to a writable
/// `char *` (freed with `cb_string_free`).
#[no_mangle]
pub unsafe extern "C" fn cb_snapshot_json(
    snapshot: *const cb_snapshot,
    out_json: *mut *mut c_char,
) -> cb_status {
    guard(|| {
        let out = try_out!(out_json);
        json_out(&try_ref!(snapshot).snapshot, "snapshot", out)
    })
}

/// The backup's `/errors` value for the paths the snapshot could not read,
/// as the core shapes it for every agent: `{"count", "reason":
/// "unable_to_process_some_files", "diagnostics", "list": [{"index", "path",
/// "type": "unreadable", "exception": {"code", "description"}}...]}`, or the
/// JSON `null` when every path was read. An agent PATCHes it into `/errors`
/// (`cb_job_reporter_finished` takes it as is).
///
/// # Safety
/// `snapshot` is a live snapshot or NULL; `out_json` points to a writable
/// `char *` (freed with `cb_string_free`).
#[no_mangle]
pub unsafe extern "C" fn cb_snapshot_error_report(
    snapshot: *const cb_snapshot,
    out_json: *mut *mut c_char,
) -> cb_status {
    guard(|| {
        let out = try_out!(out_json);
        let snapshot = &try_ref!(snapshot).snapshot;
        json_out(&snapshot.error_report(), "error report", out)
    })
}

/// Serialises `value` into a new JSON string at `*out`.
fn json_out<T: serde::Serialize>(value: &T, what: &str, out: &mut *mut c_char) -> FfiResult {
    let value = serde_json::to_value(value).map_err(|e| cloudbackup_core::Error::json(what, &e))?;
    *out = json_string(&value)?;
    Ok(())
}

/// What is in folder `path` of `snapshot`, as a JSON array of
/// `{"path", "kind", "mode", "size", "mtime", "target"?, "synthetic"?}`
/// sorted by path: its children, or (`recursive` non-zero) everything below
/// it; folders above the backup's roots come as `synthetic` folders.
///
/// Errors: `CB_NOT_FOUND` when nothing is at or below `path`,
/// `CB_INVALID_VALUE` for a path that is not absolute.
///
/// # Safety
/// `snapshot` is a live snapshot or NULL; `path` is NUL-terminated (any
/// bytes: snapshot paths need not be UTF-8); `out_json` points to a
/// writable `char *` (freed with `cb_string_free`).
#[no_mangle]
pub unsafe extern "C" fn cb_snapshot_ls(
    snapshot: *const cb_snapshot,
    path: *const c_char,
    recursive: i32,
    out_json: *mut *mut c_char,
) -> cb_status {
    guard(|| {
        let out = try_out!(out_json);
        let snapshot = &try_ref!(snapshot).snapshot;
        let path = try_path!(path);
        json_out(
            &browse::list(snapshot, path, recursive != 0)?,
            "listing",
            out,
        )
    })
}

/// The entries of `snapshot` that one of `patterns_json` (a JSON array of
/// strings, with the backup patterns' meaning) matches, as `cb_snapshot_ls`
/// lists them; `ignore_case` non-zero ignores case.
///
/// Errors: `CB_INVALID_VALUE` for a bad pattern (named),
/// `CB_INVALID_ARGUMENT` for an empty list, `CB_INVALID_JSON` for what is
/// not an array of strings.
///
/// # Safety
/// `snapshot` is a live snapshot or NULL; `patterns_json` is a
/// NUL-terminated UTF-8 string; `out_json` points to a writable `char *`
/// (freed with `cb_string_free`).
#[no_mangle]
pub unsafe extern "C" fn cb_snapshot_find(
    snapshot: *const cb_snapshot,
    patterns_json: *const c_char,
    ignore_case: i32,
    out_json: *mut *mut c_char,
) -> cb_status {
    guard(|| {
        let out = try_out!(out_json);
        let snapshot = &try_ref!(snapshot).snapshot;
        let text = try_str!(patterns_json);
        let texts: Vec<String> = from_json_slice("patterns_json", text.as_bytes())?;
        let patterns = browse::patterns(&texts, ignore_case != 0)?;
        json_out(&browse::find(snapshot, &patterns)?, "found", out)
    })
}

/// What changed from `before` to `after`, as JSON: `{"changes": [{"path",
/// "change", "kind", "size_before", "size_after"}], "totals": {...}}`;
/// `change` is `added`, `removed`, `modified` (content), `type_changed` or
/// `metadata` (restic's `+ - M T U`).
///
/// # Safety
/// `before` and `after` are live snapshots or NULL; `out_json` points to a
/// writable `char *` (freed with `cb_string_free`).
#[no_mangle]
pub unsafe extern "C" fn cb_snapshot_diff(
    before: *const cb_snapshot,
    after: *const cb_snapshot,
    out_json: *mut *mut c_char,
) -> cb_status {
    guard(|| {
        let out = try_out!(out_json);
        let (before, after) = (try_ref!(before), try_ref!(after));
        json_out(
            &browse::diff(&before.snapshot, &after.snapshot),
            "diff",
            out,
        )
    })
}

/// Frees a snapshot. NULL is ignored.
///
/// # Safety
/// `snapshot` is NULL or a snapshot made by this library, not freed before
/// and not in use.
#[no_mangle]
pub unsafe extern "C" fn cb_snapshot_free(snapshot: *mut cb_snapshot) {
    guard_void(|| free!(snapshot));
}
