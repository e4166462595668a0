//! Locks (`cb_lock`) and the table of other clients' locks that decides
//! whether one may go on (`cb_lock_table`). The host stores, lists, fetches
//! and deletes `locks/<id>` objects; every decision is the core's. The
//! protocol a host runs:
//!
//! 1. `cb_lock_new`, `cb_lock_seal`; store the bytes as `locks/<id>`.
//! 2. List `locks/`; `cb_lock_table_new`; `cb_lock_table_add` every other
//!    lock (skip one gone meanwhile); for each pid of
//!    `cb_lock_table_local_pid_at`, `cb_lock_table_set_pid_alive`; then
//!    `cb_lock_table_decide`: granted (go on), wait (keep the lock, sleep,
//!    list again), back off (delete the lock; retry later or fail) or give
//!    up (a lock of a process gone from this host is in the way: list and
//!    decide once more, and if it says give up again, delete the lock and
//!    fail now).
//! 3. While holding it, when `cb_lock_needs_refresh`: store
//!    `cb_lock_refreshed` under its new id, then delete the old object.
//! 4. Before committing (a backup's index delta and snapshot, gc's
//!    deletions): `cb_lock_check_fresh`.
//! 5. Release: delete `locks/<id>`.
//!
//! Backups, restores and verifies take a shared lock; gc, prune and repair
//! an exclusive one.

use std::ffi::c_char;

use cloudbackup_core::engine::lock::retry_lock_seconds;
use cloudbackup_core::engine::{Lock, LockDecision, LockTable};

use crate::ffi::{
    c_bytes, c_string, free, guard, guard_void, into_handle, item_at, try_mut, try_out, try_path,
    try_ref, try_slice, try_str, Failure,
};
use crate::status::cb_status;
use crate::vault::{cb_vault, id_arg};

/// A lock of this process on a vault. Made by `cb_lock_new` (or
/// `cb_lock_refreshed`), freed by `cb_lock_free`.
pub struct cb_lock {
    lock: Lock,
}

/// The locks other clients hold on a vault, as listed after storing one's
/// own. Made by `cb_lock_table_new`, freed by `cb_lock_table_free`.
pub struct cb_lock_table {
    table: LockTable,
}

/// What `cb_lock_table_decide` says.
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum cb_lock_decision {
    /// No conflict: go on, holding the lock.
    CB_LOCK_GRANTED = 0,
    /// Keep the lock and list again shortly (an exclusive lock waiting for
    /// the shared ones it saw to go; new shared lockers back off meanwhile).
    CB_LOCK_WAIT = 1,
    /// Delete the lock; retry later, or fail with the message.
    CB_LOCK_BACK_OFF = 2,
    /// Delete the lock and fail now with the message: a lock in the way was
    /// written on this host by a process that is gone (`cb_lock_table_set_pid_alive`),
    /// so waiting cannot make it go; `cloudbackup unlock` removes it.
    CB_LOCK_GIVE_UP = 3,
}

/// A new lock for `operation` (`"backup"`, `"restore"`, `"gc"`...,
/// for messages), shared or `exclusive`, held by process `pid` on
/// `hostname`, taken at `now_ns` (nanoseconds since the Unix epoch, the
/// host's clock). Store it with `cb_lock_seal`.
///
/// Errors: `CB_INVALID_ARGUMENT` for an empty operation.
///
/// # Safety
/// The strings are NUL-terminated; `out_lock` points to a writable
/// `cb_lock *` (freed with `cb_lock_free`).
#[no_mangle]
pub unsafe extern "C" fn cb_lock_new(
    operation: *const c_char,
    exclusive: bool,
    hostname: *const c_char,
    pid: u32,
    now_ns: i64,
    out_lock: *mut *mut cb_lock,
) -> cb_status {
    guard(|| {
        let out = try_out!(out_lock);
        let operation = try_str!(operation);
        let hostname = try_str!(hostname);
        let lock = Lock::new(operation, exclusive, hostname, pid, now_ns)?;
        *out = into_handle(cb_lock { lock });
        Ok(())
    })
}

/// Seals the lock as an object of `vault`: store the bytes as
/// `locks/<id>` (`cb_object_name(CB_OBJECT_LOCK, id, ...)`). Free the id
/// with `cb_string_free` and the bytes with `cb_bytes_free(data, len)`.
///
/// # Safety
/// The handles are live or NULL; the out-pointers point to writable values.
#[no_mangle]
pub unsafe extern "C" fn cb_lock_seal(
    lock: *const cb_lock,
    vault: *const cb_vault,
    out_id: *mut *mut c_char,
    out_data: *mut *mut u8,
    out_len: *mut usize,
) -> cb_status {
    guard(|| {
        let out_id = try_out!(out_id);
        let out_data = try_out!(out_data);
        let out_len = try_out!(out_len);
        let lock = &try_ref!(lock).lock;
        let vault = &try_ref!(vault).vault;
        let sealed = lock.seal(vault)?;
        *out_id = c_string(sealed.id.to_hex(), "id")?;
        (*out_data, *out_len) = c_bytes(sealed.bytes);
        Ok(())
    })
}

/// The same lock rewritten at `now_ns`, as a new handle: seal and store it
/// under its new id, then delete the old object (so the holder is never
/// without a lock), and go on with the new handle.
///
/// # Safety
/// `lock` is a live lock or NULL; `out_lock` points to a writable
/// `cb_lock *` (freed with `cb_lock_free`).
#[no_mangle]
pub unsafe extern "C" fn cb_lock_refreshed(
    lock: *const cb_lock,
    now_ns: i64,
    out_lock: *mut *mut cb_lock,
) -> cb_status {
    guard(|| {
        let out = try_out!(out_lock);
        let lock = &try_ref!(lock).lock;
        *out = into_handle(cb_lock {
            lock: lock.refreshed(now_ns),
        });
        Ok(())
    })
}

/// Whether it is time to refresh the lock (`cb_lock_refreshed`) at
/// `now_ns`: a holder asks between pieces of work (between files, say).
///
/// # Safety
/// `lock` is a live lock or NULL; `out_needs` points to a writable `bool`.
#[no_mangle]
pub unsafe extern "C" fn cb_lock_needs_refresh(
    lock: *const cb_lock,
    now_ns: i64,
    out_needs: *mut bool,
) -> cb_status {
    guard(|| {
        let out = try_out!(out_needs);
        *out = try_ref!(lock).lock.needs_refresh(now_ns);
        Ok(())
    })
}

/// `CB_OK` while the holder of the lock stored as `id` may still act at
/// `now_ns`; `CB_LOCKED` once it was last written too long ago for that
/// (another client could call it stale): then commit nothing. A backup
/// checks this before storing its index delta and snapshot, gc before
/// deleting.
///
/// Errors: `CB_LOCKED` as said; `CB_INVALID_VALUE` for an id that is not
/// 64 hex digits.
///
/// # Safety
/// `lock` is a live lock or NULL; `id` is NUL-terminated.
#[no_mangle]
pub unsafe extern "C" fn cb_lock_check_fresh(
    lock: *const cb_lock,
    id: *const c_char,
    now_ns: i64,
) -> cb_status {
    guard(|| {
        let lock = &try_ref!(lock).lock;
        let id = id_arg(id, "id")?;
        lock.check_fresh(&id, now_ns)?;
        Ok(())
    })
}

/// Frees a lock handle (the stored object is the host's to delete). NULL
/// is ignored.
///
/// # Safety
/// `lock` is NULL or a lock made by this library, not freed before and not
/// in use.
#[no_mangle]
pub unsafe extern "C" fn cb_lock_free(lock: *mut cb_lock) {
    guard_void(|| free!(lock));
}

/// An empty table, as seen at `now_ns` by a process on `hostname` (the
/// same host name its own locks carry).
///
/// # Safety
/// `hostname` is NUL-terminated; `out_table` points to a writable
/// `cb_lock_table *` (freed with `cb_lock_table_free`).
#[no_mangle]
pub unsafe extern "C" fn cb_lock_table_new(
    now_ns: i64,
    hostname: *const c_char,
    out_table: *mut *mut cb_lock_table,
) -> cb_status {
    guard(|| {
        let out = try_out!(out_table);
        let hostname = try_str!(hostname);
        *out = into_handle(cb_lock_table {
            table: LockTable::new(now_ns, hostname),
        });
        Ok(())
    })
}

/// Adds another client's lock stored as `id` (`len` bytes of `vault`). An
/// unreadable one is kept as such (it blocks everyone: nobody can tell what
/// it protects) and its error returned; a host goes on to decide.
///
/// Errors: `CB_CORRUPT`, `CB_FOREIGN_VAULT`, `CB_UNSUPPORTED_VERSION` for
/// an unreadable lock (kept); `CB_INVALID_VALUE` for an id that is not 64
/// hex digits (not added).
///
/// # Safety
/// `table` is a live table or NULL, not used by another thread meanwhile;
/// `vault` is a live vault or NULL; `id` is NUL-terminated; `data` points
/// to `len` readable bytes (or is NULL with `len` 0).
#[no_mangle]
pub unsafe extern "C" fn cb_lock_table_add(
    table: *mut cb_lock_table,
    vault: *const cb_vault,
    id: *const c_char,
    data: *const u8,
    len: usize,
) -> cb_status {
    guard(|| {
        let table = try_mut!(table);
        let vault = &try_ref!(vault).vault;
        let id = id_arg(id, "id")?;
        let bytes = try_slice!(data, len);
        table.table.add(vault, &id, bytes)?;
        Ok(())
    })
}

/// The number of distinct process ids of locks written on this host (see
/// `cb_lock_table_local_pid_at`).
///
/// # Safety
/// `table` is a live table or NULL; `out_count` points to a writable
/// `size_t`.
#[no_mangle]
pub unsafe extern "C" fn cb_lock_table_local_pid_count(
    table: *const cb_lock_table,
    out_count: *mut usize,
) -> cb_status {
    guard(|| {
        let out = try_out!(out_count);
        *out = try_ref!(table).table.local_pids().len();
        Ok(())
    })
}

/// The `i`-th (0-based, ascending) process id of the locks written on this
/// host: tell the table whether it is running
/// (`cb_lock_table_set_pid_alive`; on POSIX, `kill(pid, 0) == 0 || errno
/// == EPERM`), so that a crashed holder's lock counts as stale.
///
/// Errors: `CB_INVALID_ARGUMENT` for `i` out of range.
///
/// # Safety
/// `table` is a live table or NULL; `out_pid` points to a writable
/// `uint32_t`.
#[no_mangle]
pub unsafe extern "C" fn cb_lock_table_local_pid_at(
    table: *const cb_lock_table,
    i: usize,
    out_pid: *mut u32,
) -> cb_status {
    guard(|| {
        let out = try_out!(out_pid);
        *out = *item_at(&try_ref!(table).table.local_pids(), i, "pids")?;
        Ok(())
    })
}

/// Whether process `pid` of this host is running (`alive`).
///
/// # Safety
/// `table` is a live table or NULL, not used by another thread meanwhile.
#[no_mangle]
pub unsafe extern "C" fn cb_lock_table_set_pid_alive(
    table: *mut cb_lock_table,
    pid: u32,
    alive: bool,
) -> cb_status {
    guard(|| {
        try_mut!(table).table.set_pid_alive(pid, alive);
        Ok(())
    })
}

/// Whether `lock`, stored as `my_id`, may go on given the other locks:
/// `*out_decision` says granted (`CB_OK`), or wait, back off or give up
/// (all `CB_LOCKED`, the message naming the lock in the way and its holder,
/// and saying `cloudbackup unlock` removes it when it is stale).
///
/// Shared locks back off from any exclusive or unreadable lock. An
/// exclusive lock backs off from an older exclusive lock or an unreadable
/// one, and waits while shared locks remain. Stale locks conflict like
/// live ones; when the lock in the way was written on this host by a
/// process that is gone, the decision is `CB_LOCK_GIVE_UP`: fail now, as
/// no retry can succeed until `unlock`.
///
/// Errors: `CB_LOCKED` as said (`*out_decision` is `CB_LOCK_WAIT`,
/// `CB_LOCK_BACK_OFF` or `CB_LOCK_GIVE_UP`); `CB_INVALID_VALUE` for an id that is not 64 hex
/// digits. On any other failure `*out_decision` is `CB_LOCK_BACK_OFF`.
///
/// # Safety
/// The handles are live or NULL; `my_id` is NUL-terminated;
/// `out_decision` points to a writable `cb_lock_decision`.
#[no_mangle]
pub unsafe extern "C" fn cb_lock_table_decide(
    table: *const cb_lock_table,
    my_id: *const c_char,
    lock: *const cb_lock,
    out_decision: *mut cb_lock_decision,
) -> cb_status {
    guard(|| {
        let out = try_out!(out_decision, cb_lock_decision::CB_LOCK_BACK_OFF);
        let table = &try_ref!(table).table;
        let my_id = id_arg(my_id, "my_id")?;
        let lock = &try_ref!(lock).lock;
        match table.decide(&my_id, lock) {
            LockDecision::Granted => {
                *out = cb_lock_decision::CB_LOCK_GRANTED;
                Ok(())
            }
            LockDecision::Wait(e) => {
                *out = cb_lock_decision::CB_LOCK_WAIT;
                Err(Failure::Core(e))
            }
            LockDecision::BackOff(e) => {
                *out = cb_lock_decision::CB_LOCK_BACK_OFF;
                Err(Failure::Core(e))
            }
            LockDecision::GiveUp(e) => {
                *out = cb_lock_decision::CB_LOCK_GIVE_UP;
                Err(Failure::Core(e))
            }
        }
    })
}

/// Frees a lock table. NULL is ignored.
///
/// # Safety
/// `table` is NULL or a table made by this library, not freed before and
/// not in use.
#[no_mangle]
pub unsafe extern "C" fn cb_lock_table_free(table: *mut cb_lock_table) {
    guard_void(|| free!(table));
}

/// How many seconds a host waits for a busy vault's lock: `text` (the value
/// of `$CLOUDBACKUP_RETRY_LOCK`, or of an option called `name`) as a decimal
/// number of seconds from 0 to 9223372036; 60 when `text` is NULL or empty.
///
/// Errors: `CB_INVALID_ARGUMENT` naming `name` for any other text.
///
/// # Safety
/// `name` is NUL-terminated; `text` is NUL-terminated or NULL; `out_seconds`
/// points to a writable `double`.
#[no_mangle]
pub unsafe extern "C" fn cb_retry_lock_seconds(
    name: *const c_char,
    text: *const c_char,
    out_seconds: *mut f64,
) -> cb_status {
    guard(|| {
        let out = try_out!(out_seconds);
        let name = try_str!(name);
        // An environment value that is not UTF-8 is read with U+FFFD for
        // its bad bytes: refused naming `name`, as any text that is no
        // number of seconds.
        let text = if text.is_null() {
            None
        } else {
            Some(String::from_utf8_lossy(try_path!(text)))
        };
        *out = retry_lock_seconds(name, text.as_deref())?;
        Ok(())
    })
}
