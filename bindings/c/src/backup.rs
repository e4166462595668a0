//! Backup sessions: the host walks its files and pushes their bytes; the
//! session hands back finished bundles, then the index delta and the
//! snapshot to store.

use std::ffi::c_char;
use std::ptr;
use std::sync::Arc;

use cloudbackup_core::engine::{BackupOptions, BackupRun, FileMeta, SnapshotInfo};
use cloudbackup_core::Error;

use crate::ffi::{
    bytes_arg, c_bytes, c_string, free_handle, guard, guard_void, handle, handle_mut, into_handle,
    json_string, opt_str_arg, out_arg, path_arg, FfiResult,
};
use crate::status::cb_status;
use crate::vault::{cb_index, cb_vault};

/// A backup in progress. Made by `cb_backup_session_new`, freed by
/// `cb_backup_session_free`.
pub struct cb_backup_session {
    /// The core's run keeps the order rules.
    run: BackupRun,
}

/// The (id, bytes) of a stored object, for C.
type ObjectOut<'a> = (&'a mut *mut c_char, &'a mut *mut u8, &'a mut usize);

/// Reads the three out-parameters of an object (id, data, length).
///
/// # Safety
/// Each pointer is NULL or points to writable memory of its type.
unsafe fn object_out<'a>(
    out_id: *mut *mut c_char,
    out_data: *mut *mut u8,
    out_len: *mut usize,
) -> FfiResult<ObjectOut<'a>> {
    // SAFETY: `out_id` is as the caller guarantees (see # Safety).
    let id = unsafe { out_arg(out_id, "out_id", ptr::null_mut()) }?;
    // SAFETY: `out_data` is as the caller guarantees (see # Safety).
    let data = unsafe { out_arg(out_data, "out_data", ptr::null_mut()) }?;
    // SAFETY: `out_len` is as the caller guarantees (see # Safety).
    let len = unsafe { out_arg(out_len, "out_len", 0) }?;
    Ok((id, data, len))
}

/// Hands an object's id and bytes to C (nothing when there is none).
fn give_object(out: ObjectOut<'_>, object: Option<(String, Vec<u8>)>) -> FfiResult {
    if let Some((id, bytes)) = object {
        let id = c_string(id, "id")?;
        *out.0 = id;
        (*out.1, *out.2) = c_bytes(bytes);
    }
    Ok(())
}

/// Starts a backup into `vault`, deduplicating against `index` (load every
/// index delta of the vault into it first; the session keeps the index as
/// it is now). `threads` is the number of threads that hash, compress and
/// encrypt (1: all on the calling thread).
///
/// Then, for each path: `cb_backup_session_start_file` / `_write` (as many
/// times as needed) / `_finish_file` for a regular file,
/// `cb_backup_session_add_dir` and `cb_backup_session_add_symlink` for the
/// others; take finished bundles with `cb_backup_session_take_bundle` as
/// you go (memory stays bounded); end with `cb_backup_session_finish`.
///
/// Errors: `CB_INVALID_ARGUMENT` for 0 threads.
///
/// # Safety
/// The handles are live or NULL; `out_session` points to a writable
/// `cb_backup_session *` (freed with `cb_backup_session_free`).
#[no_mangle]
pub unsafe extern "C" fn cb_backup_session_new(
    vault: *const cb_vault,
    index: *const cb_index,
    threads: u32,
    out_session: *mut *mut cb_backup_session,
) -> cb_status {
    guard(|| {
        // SAFETY: `out_session` is as the caller guarantees (see # Safety).
        let out = unsafe { out_arg(out_session, "out_session", ptr::null_mut()) }?;
        // SAFETY: `vault` is as the caller guarantees (see # Safety).
        let vault = &unsafe { handle(vault, "vault") }?.vault;
        // SAFETY: `index` is as the caller guarantees (see # Safety).
        let index = &unsafe { handle(index, "index") }?.index;
        let options = BackupOptions {
            threads: threads as usize,
        };
        let run = BackupRun::new(vault, Arc::clone(index), options)?;
        *out = into_handle(cb_backup_session { run });
        Ok(())
    })
}

/// Starts the regular file `path` (in the agent's own syntax) with
/// permission bits `mode` and modification time `mtime` (Unix seconds); its
/// bytes follow with `cb_backup_session_write`.
///
/// Errors: `CB_INVALID_ARGUMENT` while another file is open;
/// `CB_INVALID_STATE` after finishing.
///
/// # Safety
/// `session` is a live session or NULL, not used by another thread
/// meanwhile; `path` is NUL-terminated.
#[no_mangle]
pub unsafe extern "C" fn cb_backup_session_start_file(
    session: *mut cb_backup_session,
    path: *const c_char,
    mode: u32,
    mtime: i64,
) -> cb_status {
    guard(|| {
        // SAFETY: `session` is as the caller guarantees (see # Safety).
        let session = unsafe { handle_mut(session, "session") }?;
        // SAFETY: `path` is as the caller guarantees (see # Safety).
        let path = unsafe { path_arg(path, "path") }?;
        session
            .run
            .session()?
            .start_file(FileMeta::file(path, mode, mtime))?;
        Ok(())
    })
}

/// Pushes the next `len` bytes of the open file.
///
/// Errors: `CB_INVALID_ARGUMENT` when no file is open; `CB_INVALID_STATE`
/// after finishing.
///
/// # Safety
/// `session` is a live session or NULL, not used by another thread
/// meanwhile; `data` points to `len` readable bytes (or is NULL with `len`
/// 0).
#[no_mangle]
pub unsafe extern "C" fn cb_backup_session_write(
    session: *mut cb_backup_session,
    data: *const u8,
    len: usize,
) -> cb_status {
    guard(|| {
        // SAFETY: `session` is as the caller guarantees (see # Safety).
        let session = unsafe { handle_mut(session, "session") }?;
        // SAFETY: `data` is as the caller guarantees (see # Safety).
        let bytes = unsafe { bytes_arg(data, len, "data") }?;
        session.run.session()?.write(bytes)?;
        Ok(())
    })
}

/// Ends the open file.
///
/// Errors: `CB_INVALID_ARGUMENT` when no file is open; `CB_INVALID_STATE`
/// after finishing.
///
/// # Safety
/// `session` is a live session or NULL, not used by another thread
/// meanwhile.
#[no_mangle]
pub unsafe extern "C" fn cb_backup_session_finish_file(
    session: *mut cb_backup_session,
) -> cb_status {
    guard(|| {
        // SAFETY: the caller's guarantee.
        let session = unsafe { handle_mut(session, "session") }?;
        session.run.session()?.finish_file()?;
        Ok(())
    })
}

/// Records the directory `path` with permission bits `mode` and
/// modification time `mtime`.
///
/// Errors: `CB_INVALID_STATE` after finishing.
///
/// # Safety
/// `session` is a live session or NULL, not used by another thread
/// meanwhile; `path` is NUL-terminated.
#[no_mangle]
pub unsafe extern "C" fn cb_backup_session_add_dir(
    session: *mut cb_backup_session,
    path: *const c_char,
    mode: u32,
    mtime: i64,
) -> cb_status {
    guard(|| {
        // SAFETY: `session` is as the caller guarantees (see # Safety).
        let session = unsafe { handle_mut(session, "session") }?;
        // SAFETY: `path` is as the caller guarantees (see # Safety).
        let path = unsafe { path_arg(path, "path") }?;
        session
            .run
            .session()?
            .add_entry(FileMeta::dir(path, mode, mtime))?;
        Ok(())
    })
}

/// Records the symbolic link `path` pointing to `target`, with
/// modification time `mtime`.
///
/// Errors: `CB_INVALID_STATE` after finishing.
///
/// # Safety
/// `session` is a live session or NULL, not used by another thread
/// meanwhile; `path` and `target` are NUL-terminated.
#[no_mangle]
pub unsafe extern "C" fn cb_backup_session_add_symlink(
    session: *mut cb_backup_session,
    path: *const c_char,
    target: *const c_char,
    mtime: i64,
) -> cb_status {
    guard(|| {
        // SAFETY: `session` is as the caller guarantees (see # Safety).
        let session = unsafe { handle_mut(session, "session") }?;
        // SAFETY: `path` is as the caller guarantees (see # Safety).
        let path = unsafe { path_arg(path, "path") }?;
        // SAFETY: `target` is as the caller guarantees (see # Safety).
        let target = unsafe { path_arg(target, "target") }?;
        session
            .run
            .session()?
            .add_entry(FileMeta::symlink(path, target, mtime))?;
        Ok(())
    })
}

/// Takes the next finished bundle: store its bytes as `bundles/<id>` (the
/// id is 64 hex digits). When none is ready, `*out_id` and `*out_data` are
/// NULL and `*out_len` 0 (still `CB_OK`). Works before and after
/// `cb_backup_session_finish` (which seals the last bundles). Free the id
/// with `cb_string_free` and the bytes with `cb_bytes_free(data, len)`.
///
/// # Safety
/// `session` is a live session or NULL, not used by another thread
/// meanwhile; the out-pointers point to writable values.
#[no_mangle]
pub unsafe extern "C" fn cb_backup_session_take_bundle(
    session: *mut cb_backup_session,
    out_id: *mut *mut c_char,
    out_data: *mut *mut u8,
    out_len: *mut usize,
) -> cb_status {
    guard(|| {
        // SAFETY: `out_id` is as the caller guarantees (see # Safety).
        let out = unsafe { object_out(out_id, out_data, out_len) }?;
        // SAFETY: `session` is as the caller guarantees (see # Safety).
        let session = unsafe { handle_mut(session, "session") }?;
        let bundle = session.run.take_bundle();
        give_object(out, bundle.map(|b| (b.id.to_hex(), b.bytes)))
    })
}

/// The counters so far (final once finished), as JSON:
/// `{"files_searched", "files_backed_up", "bytes_searched",
/// "bytes_backed_up", "bytes_in_db"}` (those of the v2 backup resource).
///
/// # Safety
/// `session` is a live session or NULL; `out_json` points to a writable
/// `char *` (freed with `cb_string_free`).
#[no_mangle]
pub unsafe extern "C" fn cb_backup_session_counters(
    session: *const cb_backup_session,
    out_json: *mut *mut c_char,
) -> cb_status {
    guard(|| {
        // SAFETY: `out_json` is as the caller guarantees (see # Safety).
        let out = unsafe { out_arg(out_json, "out_json", ptr::null_mut()) }?;
        // SAFETY: `session` is as the caller guarantees (see # Safety).
        let session = unsafe { handle(session, "session") }?;
        let value = serde_json::to_value(session.run.counters())
            .map_err(|e| Error::json("counters", &e))?;
        *out = json_string(&value)?;
        Ok(())
    })
}

/// Ends the backup (closing a file still open): seals the last bundles (take
/// them with `cb_backup_session_take_bundle`), the index delta
/// (`cb_backup_session_take_index`) and the snapshot
/// (`cb_backup_session_take_snapshot`). `time` is when the backup started
/// (Unix seconds, the host's clock) and `time_nanos` its sub-second part
/// (0 to 999999999: `latest` tells two backups of the same second apart by
/// it); `hostname` and `backup_configuration_id` (the v2 configuration it
/// ran for) may be NULL. Store the bundles first, the index delta next, the
/// snapshot last (with a lock held: check `cb_lock_check_fresh` before
/// storing the index delta).
///
/// Errors: `CB_INVALID_ARGUMENT` for `time_nanos` over 999999999;
/// `CB_INVALID_STATE` when already finished. A finish that fails (bad
/// `time_nanos` included) ends the session: it then holds nothing more.
///
/// # Safety
/// `session` is a live session or NULL, not used by another thread
/// meanwhile; the strings are NUL-terminated or NULL.
#[no_mangle]
pub unsafe extern "C" fn cb_backup_session_finish(
    session: *mut cb_backup_session,
    time: i64,
    time_nanos: u32,
    hostname: *const c_char,
    backup_configuration_id: *const c_char,
) -> cb_status {
    guard(|| {
        // SAFETY: `session` is as the caller guarantees (see # Safety).
        let session = unsafe { handle_mut(session, "session") }?;
        // SAFETY: `hostname` is as the caller guarantees (see # Safety).
        let hostname = unsafe { opt_str_arg(hostname, "hostname") }?;
        // SAFETY: `backup_configuration_id` is as the caller guarantees (see # Safety).
        let config_id = unsafe { opt_str_arg(backup_configuration_id, "backup_configuration_id") }?;
        let info = SnapshotInfo {
            time,
            time_nanos,
            hostname: hostname.map(str::to_string),
            backup_configuration_id: config_id.map(str::to_string),
            paths: Vec::new(),
        };
        session.run.finish(info)?;
        Ok(())
    })
}

/// Takes the finished backup's index delta: store it as `index/<id>`, and
/// load it into the index before the next backup. After it was taken, the
/// outputs are NULL / 0 (still `CB_OK`).
///
/// Errors: `CB_INVALID_STATE` before `cb_backup_session_finish` succeeded.
///
/// # Safety
/// As `cb_backup_session_take_bundle`.
#[no_mangle]
pub unsafe extern "C" fn cb_backup_session_take_index(
    session: *mut cb_backup_session,
    out_id: *mut *mut c_char,
    out_data: *mut *mut u8,
    out_len: *mut usize,
) -> cb_status {
    guard(|| {
        // SAFETY: `out_id` is as the caller guarantees (see # Safety).
        let out = unsafe { object_out(out_id, out_data, out_len) }?;
        // SAFETY: `session` is as the caller guarantees (see # Safety).
        let session = unsafe { handle_mut(session, "session") }?;
        give_object(
            out,
            session.run.take_index()?.map(|o| (o.id.to_hex(), o.bytes)),
        )
    })
}

/// Takes the finished backup's snapshot: store it as `snapshots/<id>`
/// (open it with `cb_snapshot_open` to restore). After it was taken, the
/// outputs are NULL / 0 (still `CB_OK`).
///
/// Errors: `CB_INVALID_STATE` before `cb_backup_session_finish` succeeded.
///
/// # Safety
/// As `cb_backup_session_take_bundle`.
#[no_mangle]
pub unsafe extern "C" fn cb_backup_session_take_snapshot(
    session: *mut cb_backup_session,
    out_id: *mut *mut c_char,
    out_data: *mut *mut u8,
    out_len: *mut usize,
) -> cb_status {
    guard(|| {
        // SAFETY: `out_id` is as the caller guarantees (see # Safety).
        let out = unsafe { object_out(out_id, out_data, out_len) }?;
        // SAFETY: `session` is as the caller guarantees (see # Safety).
        let session = unsafe { handle_mut(session, "session") }?;
        give_object(
            out,
            session
                .run
                .take_snapshot()?
                .map(|o| (o.id.to_hex(), o.bytes)),
        )
    })
}

/// Frees a backup session (finished or not: an unfinished backup is
/// abandoned). NULL is ignored.
///
/// # Safety
/// `session` is NULL or a session made by this library, not freed before
/// and not in use.
#[no_mangle]
pub unsafe extern "C" fn cb_backup_session_free(session: *mut cb_backup_session) {
    // SAFETY: the caller's guarantee.
    guard_void(|| unsafe { free_handle(session) });
}
