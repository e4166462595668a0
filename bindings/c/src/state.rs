//! A whole vault as the host read it (`cb_vault_state`): its listing, index
//! deltas and snapshots, and the rules that need them all (which snapshot
//! `latest` or an id prefix means, what gc may delete, what is wrong);
//! object names and directories; snapshot paths and the temporary names a
//! restore writes files under.

use std::ffi::{c_char, CString};
use std::os::raw::c_int;
use std::ptr;
use std::sync::{Arc, OnceLock};

use cloudbackup_core::engine::format::ObjectKind;
use cloudbackup_core::engine::{layout, paths, Listed, VaultState};
use cloudbackup_core::Error;
use serde_json::{json, Value};

use crate::backup::{cb_path, paths_arg};
use crate::ffi::{
    argument, c_string, free, guard, guard_void, into_handle, json_string, try_mut, try_opt_str,
    try_out, try_path, try_ref, try_slice, try_str, FfiResult,
};
use crate::status::cb_status;
use crate::vault::{cb_index, cb_snapshot, cb_vault, id_arg};

/// A kind of object stored in a vault as `<dir>/<id>`.
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum cb_object_kind {
    /// A bundle of blobs (`bundles/<id>`).
    CB_OBJECT_BUNDLE = 0,
    /// An index delta (`index/<id>`).
    CB_OBJECT_INDEX = 1,
    /// A snapshot (`snapshots/<id>`).
    CB_OBJECT_SNAPSHOT = 2,
    /// A lock (`locks/<id>`).
    CB_OBJECT_LOCK = 3,
}

/// Every kind, with the core's.
const KINDS: [(cb_object_kind, ObjectKind); 4] = [
    (cb_object_kind::CB_OBJECT_BUNDLE, ObjectKind::Bundle),
    (cb_object_kind::CB_OBJECT_INDEX, ObjectKind::Index),
    (cb_object_kind::CB_OBJECT_SNAPSHOT, ObjectKind::Snapshot),
    (cb_object_kind::CB_OBJECT_LOCK, ObjectKind::Lock),
];

/// The core's kind of a kind given as an `int` (any value is safe).
fn object_kind(kind: c_int) -> Option<ObjectKind> {
    KINDS
        .into_iter()
        .find(|(c, _)| *c as c_int == kind)
        .map(|(_, k)| k)
}

/// The core's directory names as C strings, made once (static for C).
fn dir_names() -> &'static [(c_int, CString)] {
    static DIRS: OnceLock<Vec<(c_int, CString)>> = OnceLock::new();
    DIRS.get_or_init(|| {
        KINDS
            .into_iter()
            .filter_map(|(c, k)| Some((c as c_int, CString::new(k.dir()?).ok()?)))
            .collect()
    })
}

/// The directory (relative to the vault) objects of `kind` are stored in:
/// `"bundles"`, `"index"`, `"snapshots"` or `"locks"`, a static string
/// (never freed); NULL for a value that is no `cb_object_kind`. A vault is
/// its `config` object and these directories, created in this order.
/// Takes an `int` so that any value, even one outside the enum, is safe.
#[no_mangle]
pub extern "C" fn cb_object_dir(kind: c_int) -> *const c_char {
    std::panic::catch_unwind(|| {
        dir_names()
            .iter()
            .find(|(k, _)| *k == kind)
            .map_or(ptr::null(), |(_, dir)| dir.as_ptr())
    })
    .unwrap_or(ptr::null())
}

/// The name (relative to the vault, `/`-separated) object `id` of `kind`
/// is stored under, e.g. `"bundles/<64 hex>"`: every host stores objects
/// under exactly these names, so each reads what another wrote.
///
/// Errors: `CB_INVALID_ARGUMENT` for a `kind` that is no `cb_object_kind`;
/// `CB_INVALID_VALUE` for an id that is not 64 hex digits.
///
/// # Safety
/// `id` is NUL-terminated; `out_name` points to a writable `char *` (freed
/// with `cb_string_free`).
#[no_mangle]
pub unsafe extern "C" fn cb_object_name(
    kind: c_int,
    id: *const c_char,
    out_name: *mut *mut c_char,
) -> cb_status {
    guard(|| {
        let out = try_out!(out_name);
        let kind = object_kind(kind)
            .ok_or_else(|| argument("kind", format!("{kind} is not a cb_object_kind")))?;
        let id = id_arg(id, "id")?;
        *out = c_string(layout::object_name(kind, &id), "name")?;
        Ok(())
    })
}

/// The snapshot path `path` without its leading `/`, to join to a restore
/// target: `*out_relative` points into `path` itself (one byte on; nothing
/// to free). A host joins a snapshot path to its target only through this,
/// and a restore session plans no entry below (or above) a symlink or
/// another non-folder entry, so no crafted snapshot can lead it outside the
/// target.
///
/// Errors: `CB_INVALID_VALUE` for a path that is not absolute or has an
/// empty, `.` or `..` component (the message names the path).
///
/// # Safety
/// `path` is NUL-terminated and outlives the use of `*out_relative`;
/// `out_relative` points to a writable `const char *`.
#[no_mangle]
pub unsafe extern "C" fn cb_snapshot_path_relative(
    path: *const c_char,
    out_relative: *mut *const c_char,
) -> cb_status {
    guard(|| {
        let out = try_out!(out_relative);
        let text = try_path!(path);
        let relative = paths::relative_path(text)?;
        // A suffix of `text`, so of the caller's NUL-terminated string.
        *out = relative.as_ptr().cast();
        Ok(())
    })
}

/// The name a restore writes the file `final_name` (one path component,
/// the file's own name) under before renaming it into place, beside it:
/// `.cb-<16 hex>-<tag>.partial`. Its length does not depend on the final
/// name's, so it fits NAME_MAX (255 bytes) whatever the name; `tag` (the
/// process id, say) keeps concurrent restores apart.
///
/// # Safety
/// `final_name` is NUL-terminated; `out_name` points to a writable
/// `char *` (freed with `cb_string_free`).
#[no_mangle]
pub unsafe extern "C" fn cb_partial_name(
    final_name: *const c_char,
    tag: u32,
    out_name: *mut *mut c_char,
) -> cb_status {
    guard(|| {
        let out = try_out!(out_name);
        let name = try_path!(final_name);
        *out = c_string(paths::partial_name(name, tag), "name")?;
        Ok(())
    })
}

/// Whether `name` (one path component) is a restore temporary, the form
/// `cb_partial_name` gives: `*out_is_partial` true and `*out_tag` its tag;
/// false (and 0) for any other name. To decide what a killed restore left,
/// a host uses `cb_partial_owner`, which holds the whole rule.
///
/// # Safety
/// `name` is NUL-terminated; `out_is_partial` and `out_tag` point to a
/// writable `bool` and `uint32_t`.
#[no_mangle]
pub unsafe extern "C" fn cb_partial_tag(
    name: *const c_char,
    out_is_partial: *mut bool,
    out_tag: *mut u32,
) -> cb_status {
    guard(|| {
        let is_partial = try_out!(out_is_partial);
        let out = try_out!(out_tag);
        let tag = paths::partial_tag(try_path!(name));
        *is_partial = tag.is_some();
        *out = tag.unwrap_or(0);
        Ok(())
    })
}

/// Whose restore temporary `name` (one path component) is, for a restore
/// run by process `own_pid` clearing a folder of what a killed restore left
/// before it writes there (see `cb_restore_session_leftover_dir_at`):
/// `*out_is_partial` false for a name that is no temporary (keep it); true
/// with `*out_owner` 0 when no running restore can own it (remove it), or
/// with the process id to remove it after, once that process is gone.
///
/// # Safety
/// `name` is NUL-terminated; `out_is_partial` and `out_owner` point to a
/// writable `bool` and `uint32_t`.
#[no_mangle]
pub unsafe extern "C" fn cb_partial_owner(
    name: *const c_char,
    own_pid: u32,
    out_is_partial: *mut bool,
    out_owner: *mut u32,
) -> cb_status {
    guard(|| {
        let is_partial = try_out!(out_is_partial);
        let out = try_out!(out_owner);
        let owner = paths::partial_owner(try_path!(name), own_pid);
        *is_partial = owner.is_some();
        *out = owner.unwrap_or(0);
        Ok(())
    })
}

/// Where a backup whose root is no directory (a file, a FIFO, a device;
/// give `root` with its symlinks resolved, `realpath`) finds it: `*out_dir`
/// the directory to open and `*out_name` the name in it (both freed with
/// `cb_string_free`); the snapshot holds the one entry `/<name>`, as a
/// directory root's children are `/<child>`, and the entry's own device is
/// the root device (`cb_backup_filter_visit`'s `root_device`). The core's
/// rule, so every host names the entry alike.
///
/// Errors: `CB_INVALID_ARGUMENT` for a root whose last component names no
/// file (empty, `.`, `..`, a trailing `/`).
///
/// # Safety
/// `root` is NUL-terminated; `out_dir` and `out_name` point to writable
/// `char *`s.
#[no_mangle]
pub unsafe extern "C" fn cb_split_file_root(
    root: *const c_char,
    out_dir: *mut *mut c_char,
    out_name: *mut *mut c_char,
) -> cb_status {
    guard(|| {
        let dir_out = try_out!(out_dir);
        let name_out = try_out!(out_name);
        let (dir, name) = paths::split_file_root(try_path!(root))?;
        // Both made before either is handed out (the core refuses a NUL,
        // so neither fails).
        let nul = |_| Error::argument("root", "holds a NUL byte");
        let (dir, name) = (
            CString::new(dir).map_err(nul)?,
            CString::new(name).map_err(nul)?,
        );
        *dir_out = dir.into_raw();
        *name_out = name.into_raw();
        Ok(())
    })
}

/// A vault as read by the host: made by `cb_vault_state_new`, fed the
/// listing (`cb_vault_state_add_listed`) and then every object of
/// `cb_vault_state_wanted` (`cb_vault_state_add_object`, or
/// `cb_vault_state_add_unreadable` when it cannot be fetched); freed by
/// `cb_vault_state_free`.
pub struct cb_vault_state {
    pub(crate) state: VaultState,
}

/// `[{"object", "code", "message"}...]` of `(object, error)` pairs.
fn problems_json(problems: &[(String, Error)]) -> Value {
    Value::Array(
        problems
            .iter()
            .map(|(object, e)| cloudbackup_core::engine::verify::problem_json(object, e))
            .collect(),
    )
}

/// A JSON value of a serialisable core type.
fn to_json<T: serde::Serialize>(value: &T, what: &str) -> FfiResult<Value> {
    Ok(serde_json::to_value(value).map_err(|e| Error::json(what, &e))?)
}

/// An empty state of `vault` (the state keeps its own copy of the vault).
///
/// # Safety
/// `vault` is a live vault or NULL; `out_state` points to a writable
/// `cb_vault_state *` (freed with `cb_vault_state_free`).
#[no_mangle]
pub unsafe extern "C" fn cb_vault_state_new(
    vault: *const cb_vault,
    out_state: *mut *mut cb_vault_state,
) -> cb_status {
    guard(|| {
        let out = try_out!(out_state);
        let vault = &try_ref!(vault).vault;
        *out = into_handle(cb_vault_state {
            state: VaultState::new(vault),
        });
        Ok(())
    })
}

/// Adds one listed object: its `name` relative to the vault
/// (`"bundles/<64 hex>"`, `"index/<id>.123.tmp"`...), its `size` in bytes
/// and `mtime_ns`, when it was last written (nanoseconds since the Unix
/// epoch, the storage's clock). List every name under `bundles/`,
/// `index/` and `snapshots/`: the core classifies them (objects, a host's
/// temporary objects, anything else ignored).
///
/// # Safety
/// `state` is a live state or NULL, not used by another thread meanwhile;
/// `name` is NUL-terminated.
#[no_mangle]
pub unsafe extern "C" fn cb_vault_state_add_listed(
    state: *mut cb_vault_state,
    name: *const c_char,
    size: u64,
    mtime_ns: i64,
) -> cb_status {
    guard(|| {
        let state = try_mut!(state);
        let name = try_str!(name);
        state.state.add_listed(Listed {
            name: name.to_string(),
            size,
            mtime_ns,
        });
        Ok(())
    })
}

/// Forgets the listing but keeps what was read: list the vault again
/// (`cb_vault_state_add_listed`) and `cb_vault_state_wanted` names only the
/// objects new since (a backup's gc then reads only those). Objects removed
/// meanwhile stay in what was read: a gc keeps more, never less.
///
/// # Safety
/// `state` is a live state or NULL, not used by another thread meanwhile.
#[no_mangle]
pub unsafe extern "C" fn cb_vault_state_clear_listing(state: *mut cb_vault_state) -> cb_status {
    guard(|| {
        let state = try_mut!(state);
        state.state.clear_listing();
        Ok(())
    })
}

/// The names of the objects to fetch and hand to
/// `cb_vault_state_add_object`, as a JSON array of strings: every index
/// delta and snapshot listed and not read yet (`"index/<64 hex>"`,
/// `"snapshots/<64 hex>"`).
///
/// # Safety
/// `state` is a live state or NULL; `out_json` points to a writable
/// `char *` (freed with `cb_string_free`).
#[no_mangle]
pub unsafe extern "C" fn cb_vault_state_wanted(
    state: *const cb_vault_state,
    out_json: *mut *mut c_char,
) -> cb_status {
    guard(|| {
        let out = try_out!(out_json);
        let state = try_ref!(state);
        *out = json_string(&json!(state.state.wanted()))?;
        Ok(())
    })
}

/// The bytes (`len`) of the index delta or snapshot stored as `name` (a
/// name of `cb_vault_state_wanted`). A damaged object is recorded as
/// unreadable (listings and `latest` skip such a snapshot, gc refuses to
/// run, verify reports it) and its error returned: a host warns and goes
/// on.
///
/// Errors: `CB_CORRUPT`, `CB_FOREIGN_VAULT`, `CB_UNSUPPORTED_VERSION` for
/// a damaged object (recorded); `CB_INVALID_ARGUMENT` for a name that is
/// not an index delta's or snapshot's.
///
/// # Safety
/// `state` is a live state or NULL, not used by another thread meanwhile;
/// `name` is NUL-terminated; `data` points to `len` readable bytes (or is
/// NULL with `len` 0).
#[no_mangle]
pub unsafe extern "C" fn cb_vault_state_add_object(
    state: *mut cb_vault_state,
    name: *const c_char,
    data: *const u8,
    len: usize,
) -> cb_status {
    guard(|| {
        let state = try_mut!(state);
        let name = try_str!(name);
        let bytes = try_slice!(data, len);
        state.state.add_object(name, bytes)?;
        Ok(())
    })
}

/// The object `name` (of `cb_vault_state_wanted`) was listed but could not
/// be fetched; `reason` is the storage's words. It is recorded as
/// unreadable (a `not_found` problem).
///
/// Errors: `CB_INVALID_ARGUMENT` for a name that is not an index delta's
/// or snapshot's.
///
/// # Safety
/// `state` is a live state or NULL, not used by another thread meanwhile;
/// the strings are NUL-terminated.
#[no_mangle]
pub unsafe extern "C" fn cb_vault_state_add_unreadable(
    state: *mut cb_vault_state,
    name: *const c_char,
    reason: *const c_char,
) -> cb_status {
    guard(|| {
        let state = try_mut!(state);
        let name = try_str!(name);
        let reason = try_str!(reason);
        state.state.add_unreadable(name, reason)?;
        Ok(())
    })
}

/// Resolves `which` to a snapshot id (64 hex digits): `"latest"` (the
/// newest readable snapshot, by start time to the nanosecond, then id), a
/// whole id, or a unique id prefix.
///
/// Errors: `CB_NOT_FOUND` (no such snapshot, or none at all),
/// `CB_INVALID_ARGUMENT` (an ambiguous prefix), `CB_INVALID_VALUE` (not
/// hex), or the error that made the chosen snapshot unreadable
/// (`CB_CORRUPT`...).
///
/// # Safety
/// `state` is a live state or NULL; `which` is NUL-terminated; `out_id`
/// points to a writable `char *` (freed with `cb_string_free`).
#[no_mangle]
pub unsafe extern "C" fn cb_vault_state_resolve(
    state: *const cb_vault_state,
    which: *const c_char,
    out_id: *mut *mut c_char,
) -> cb_status {
    guard(|| {
        let out = try_out!(out_id);
        let state = try_ref!(state);
        let which = try_str!(which);
        *out = c_string(state.state.resolve(which)?.to_hex(), "id")?;
        Ok(())
    })
}

/// The parent of the next backup of the `count` roots `paths` (as the
/// backup records them with `cb_backup_session_set_paths`) on `hostname`
/// (NULL: snapshots without one): the latest readable snapshot of the same
/// host with the same set of roots (order and repeats do not matter), its
/// id in `*out_id`; NULL there (still `CB_OK`) when there is none, or no
/// roots are given. Open it with `cb_vault_state_snapshot` and hand it to
/// `cb_backup_session_set_parent`.
///
/// Errors: `CB_NULL_ARGUMENT` for a NULL state, out-pointer, array (with
/// `count` > 0) or path; `CB_INVALID_UTF8` for the host name.
///
/// # Safety
/// `state` is a live state or NULL; `hostname` is NUL-terminated or NULL;
/// `paths` points to `count` readable `cb_path`s (NULL with 0); `out_id`
/// points to a writable `char *` (freed with `cb_string_free`).
#[no_mangle]
pub unsafe extern "C" fn cb_vault_state_parent_for(
    state: *const cb_vault_state,
    hostname: *const c_char,
    paths: *const cb_path,
    count: usize,
    out_id: *mut *mut c_char,
) -> cb_status {
    guard(|| {
        let out = try_out!(out_id);
        let state = try_ref!(state);
        let hostname = try_opt_str!(hostname);
        let paths = paths_arg(paths, count, "paths")?;
        if let Some(id) = state.state.parent_for(hostname, &paths) {
            *out = c_string(id.to_hex(), "id")?;
        }
        Ok(())
    })
}

/// The readable snapshot `id` (64 hex digits), as a new `cb_snapshot` (for
/// `cb_snapshot_json` and `cb_restore_session_new`).
///
/// Errors: `CB_NOT_FOUND` (not read), the error that made it unreadable
/// (`CB_CORRUPT`...), `CB_INVALID_VALUE` for an id that is not 64 hex
/// digits.
///
/// # Safety
/// `state` is a live state or NULL; `id` is NUL-terminated; `out_snapshot`
/// points to a writable `cb_snapshot *` (freed with `cb_snapshot_free`).
#[no_mangle]
pub unsafe extern "C" fn cb_vault_state_snapshot(
    state: *const cb_vault_state,
    id: *const c_char,
    out_snapshot: *mut *mut cb_snapshot,
) -> cb_status {
    guard(|| {
        let out = try_out!(out_snapshot);
        let state = try_ref!(state);
        let id = id_arg(id, "id")?;
        let snapshot = state.state.snapshot(&id)?.clone();
        *out = into_handle(cb_snapshot { snapshot });
        Ok(())
    })
}

/// The union of every readable index delta, as a new `cb_index` (a copy:
/// for `cb_backup_session_new`, `cb_restore_session_new`,
/// `cb_verifier_plan`...).
///
/// # Safety
/// `state` is a live state or NULL; `out_index` points to a writable
/// `cb_index *` (freed with `cb_index_free`).
#[no_mangle]
pub unsafe extern "C" fn cb_vault_state_index(
    state: *const cb_vault_state,
    out_index: *mut *mut cb_index,
) -> cb_status {
    guard(|| {
        let out = try_out!(out_index);
        let state = try_ref!(state);
        *out = into_handle(cb_index {
            index: Arc::new(state.state.index().clone()),
        });
        Ok(())
    })
}

/// Every readable snapshot, oldest first, as listings show them: a JSON
/// array of `{"id", "time", "time_nanos", "hostname",
/// "backup_configuration_id", "entries", "counters"}` (the same from every
/// binding).
///
/// # Safety
/// `state` is a live state or NULL; `out_json` points to a writable
/// `char *` (freed with `cb_string_free`).
#[no_mangle]
pub unsafe extern "C" fn cb_vault_state_summaries(
    state: *const cb_vault_state,
    out_json: *mut *mut c_char,
) -> cb_status {
    guard(|| {
        let out = try_out!(out_json);
        let state = try_ref!(state);
        *out = json_string(&to_json(&state.state.summaries(), "snapshot summaries")?)?;
        Ok(())
    })
}

/// Everything wrong besides bundle contents, as a JSON array of
/// `{"object", "code", "message"}` (`code` as in the error classes:
/// `"corrupt"`, `"not_found"`...): unreadable snapshots and index deltas,
/// snapshots using blobs no index lists (a lost index), indexed bundles
/// missing from the listing. (`cb_verifier_new_for_state` starts its report
/// with these.)
///
/// # Safety
/// `state` is a live state or NULL; `out_json` points to a writable
/// `char *` (freed with `cb_string_free`).
#[no_mangle]
pub unsafe extern "C" fn cb_vault_state_problems(
    state: *const cb_vault_state,
    out_json: *mut *mut c_char,
) -> cb_status {
    guard(|| {
        let out = try_out!(out_json);
        let state = try_ref!(state);
        *out = json_string(&problems_json(&state.state.problems()))?;
        Ok(())
    })
}

/// What gc may delete at `now_ns` (nanoseconds since the Unix epoch): the
/// listed bundles no readable index references and temporary objects, each
/// only once at least `grace_ns` old. JSON: `{"referenced_bundles",
/// "unreferenced_bundles", "kept_young", "temporary", "delete": [{"name",
/// "size", "mtime_ns"}...], "delete_bytes"}`. Delete them only while
/// holding an exclusive lock that `cb_lock_check_fresh` passes.
///
/// Errors: `CB_CORRUPT` when gc must not run (an index delta or snapshot
/// could not be read, or a snapshot uses blobs no index lists: what is
/// referenced cannot be known; the message says `cloudbackup repair`);
/// `CB_INVALID_ARGUMENT` for a negative `grace_ns`.
///
/// # Safety
/// `state` is a live state or NULL; `out_json` points to a writable
/// `char *` (freed with `cb_string_free`).
#[no_mangle]
pub unsafe extern "C" fn cb_vault_state_gc_plan(
    state: *const cb_vault_state,
    now_ns: i64,
    grace_ns: i64,
    out_json: *mut *mut c_char,
) -> cb_status {
    guard(|| {
        let out = try_out!(out_json);
        let state = try_ref!(state);
        let plan = state.state.gc_plan(now_ns, grace_ns)?;
        *out = json_string(&to_json(&plan, "gc plan")?)?;
        Ok(())
    })
}

/// Frees a vault state. NULL is ignored.
///
/// # Safety
/// `state` is NULL or a state made by this library, not freed before and
/// not in use.
#[no_mangle]
pub unsafe extern "C" fn cb_vault_state_free(state: *mut cb_vault_state) {
    guard_void(|| free!(state));
}

#[cfg(test)]
// The tests call the exports as C would, with pointers they own or just got
// from the library, each freed once: the exports' contract, met throughout.
#[allow(clippy::undocumented_unsafe_blocks)]
mod tests {
    use super::*;
    use std::ffi::{CStr, CString};

    #[test]
    fn object_dirs_and_kinds_agree_with_the_core() {
        for (kind, dir) in [
            (cb_object_kind::CB_OBJECT_BUNDLE, "bundles"),
            (cb_object_kind::CB_OBJECT_INDEX, "index"),
            (cb_object_kind::CB_OBJECT_SNAPSHOT, "snapshots"),
            (cb_object_kind::CB_OBJECT_LOCK, "locks"),
        ] {
            let p = cb_object_dir(kind as c_int);
            assert_eq!(unsafe { CStr::from_ptr(p) }.to_str().unwrap(), dir);
            assert_eq!(object_kind(kind as c_int).and_then(|k| k.dir()), Some(dir));
        }
        assert!(cb_object_dir(4).is_null());
        assert!(cb_object_dir(-1).is_null());
    }

    #[test]
    fn relative_paths_point_into_the_callers_string() {
        let path = CString::new("/a/b").unwrap();
        let mut out = ptr::null();
        let st = unsafe { cb_snapshot_path_relative(path.as_ptr(), &mut out) };
        assert_eq!(st, cb_status::CB_OK);
        assert_eq!(path.as_ptr().wrapping_add(1), out);
        let bad = CString::new("/a/../b").unwrap();
        let st = unsafe { cb_snapshot_path_relative(bad.as_ptr(), &mut out) };
        assert_eq!(st, cb_status::CB_INVALID_VALUE);
        assert!(out.is_null());
    }
}
