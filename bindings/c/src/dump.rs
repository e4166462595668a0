//! Dump (`cb_dump`): one file of a snapshot, blob by blob in file order,
//! for a host writing it to a stream (`cloudbackup dump`): the ranges to
//! read, then each range's bytes checked and decrypted (the core's
//! `engine::browse::Dump`).

use std::ffi::{c_char, CString};
use std::ptr;

use cloudbackup_core::engine::browse::{Dump, DumpFetch};
use cloudbackup_core::Error;

use crate::ffi::{
    c_bytes, free, guard, guard_void, into_handle, item_at, json_string, try_out, try_ref,
    try_slice,
};
use crate::restore::cb_range;
use crate::status::cb_status;
use crate::vault::{cb_index, cb_snapshot, cb_vault};

/// One file being dumped. Made by `cb_dump_new`, freed by `cb_dump_free`.
pub struct cb_dump {
    dump: Dump,
    /// The fetches, with each bundle id as a C string (lent by
    /// `cb_dump_fetch_at`).
    fetches: Vec<(CString, DumpFetch)>,
}

/// Prepares the dump of the file at `path` (`path_len` bytes, any bytes:
/// snapshot paths need not be UTF-8) of `snapshot` (opened from `vault`),
/// using `index` (all of the vault's index deltas loaded).
///
/// Then: for each `i` below `cb_dump_fetch_count`, read the range of
/// `cb_dump_fetch_at` (or of `cb_dump_fetches`) and pass its bytes to
/// `cb_dump_open`; the plaintexts, in order, are the file (`cb_dump_size`
/// bytes).
///
/// Errors: `CB_NOT_FOUND` for a path not in the snapshot, or a blob of the
/// file no index lists (named: `cloudbackup repair` may find it);
/// `CB_INVALID_VALUE` for a folder, a symlink or any other non-file.
///
/// # Safety
/// The handles are live or NULL; `path` points to `path_len` readable bytes
/// (or is NULL with `path_len` 0); `out_dump` points to a writable
/// `cb_dump *` (freed with `cb_dump_free`).
#[no_mangle]
pub unsafe extern "C" fn cb_dump_new(
    vault: *const cb_vault,
    index: *const cb_index,
    snapshot: *const cb_snapshot,
    path: *const u8,
    path_len: usize,
    out_dump: *mut *mut cb_dump,
) -> cb_status {
    guard(|| {
        let out = try_out!(out_dump);
        let vault = &try_ref!(vault).vault;
        let index = &try_ref!(index).index;
        let snapshot = &try_ref!(snapshot).snapshot;
        let path = try_slice!(path, path_len);
        let dump = Dump::new(vault, index, snapshot, path)?;
        let fetches = dump
            .fetches()
            .into_iter()
            // Hex digits never hold a NUL.
            .map(|f| (CString::new(f.bundle.as_str()).unwrap_or_default(), f))
            .collect();
        *out = into_handle(cb_dump { dump, fetches });
        Ok(())
    })
}

/// The file's size in bytes.
///
/// # Safety
/// `dump` is a live dump or NULL; `out_size` points to a writable
/// `uint64_t`.
#[no_mangle]
pub unsafe extern "C" fn cb_dump_size(dump: *const cb_dump, out_size: *mut u64) -> cb_status {
    guard(|| {
        let out = try_out!(out_size);
        *out = try_ref!(dump).dump.size();
        Ok(())
    })
}

/// The ranges to read, one per blob in file order, as a JSON array of
/// `{"bundle": "<64 hex>", "offset", "length"}` (the same from every
/// binding; `cb_dump_fetch_at` gives them one by one).
///
/// # Safety
/// `dump` is a live dump or NULL; `out_json` points to a writable `char *`
/// (freed with `cb_string_free`).
#[no_mangle]
pub unsafe extern "C" fn cb_dump_fetches(
    dump: *const cb_dump,
    out_json: *mut *mut c_char,
) -> cb_status {
    guard(|| {
        let out = try_out!(out_json);
        let dump = try_ref!(dump);
        let value = serde_json::to_value(dump.dump.fetches())
            .map_err(|e| Error::json("dump fetches", &e))?;
        *out = json_string(&value)?;
        Ok(())
    })
}

/// The number of ranges to read (one per blob; 0 for an empty file).
///
/// # Safety
/// `dump` is a live dump or NULL; `out_count` points to a writable
/// `size_t`.
#[no_mangle]
pub unsafe extern "C" fn cb_dump_fetch_count(
    dump: *const cb_dump,
    out_count: *mut usize,
) -> cb_status {
    guard(|| {
        let out = try_out!(out_count);
        *out = try_ref!(dump).fetches.len();
        Ok(())
    })
}

/// The `i`-th range to read (0-based, in file order). Its `bundle_id`
/// belongs to the dump: valid until it is freed.
///
/// Errors: `CB_INVALID_ARGUMENT` for `i` out of range.
///
/// # Safety
/// `dump` is a live dump or NULL; `out_range` points to a writable
/// `cb_range`.
#[no_mangle]
pub unsafe extern "C" fn cb_dump_fetch_at(
    dump: *const cb_dump,
    i: usize,
    out_range: *mut cb_range,
) -> cb_status {
    guard(|| {
        let empty = cb_range {
            bundle_id: ptr::null(),
            offset: 0,
            length: 0,
        };
        let out = try_out!(out_range, empty);
        let dump = try_ref!(dump);
        let (id, f) = item_at(&dump.fetches, i, "fetches")?;
        *out = cb_range {
            bundle_id: id.as_ptr(),
            offset: f.offset,
            length: f.length,
        };
        Ok(())
    })
}

/// Blob `i`'s plaintext from the bytes of range `i` (`len` bytes at
/// `data`), checked and decrypted; the bytes go to `*out_data` /
/// `*out_len` (freed with `cb_bytes_free(data, len)`; NULL / 0 for an
/// empty blob).
///
/// Errors: `CB_CORRUPT` when the bytes are not that blob (tampered, the
/// wrong range, another vault's); `CB_INVALID_ARGUMENT` for `i` out of
/// range.
///
/// # Safety
/// `dump` is a live dump or NULL; `data` points to `len` readable bytes (or
/// is NULL with `len` 0); `out_data` and `out_len` point to a writable
/// `uint8_t *` and `size_t`.
#[no_mangle]
pub unsafe extern "C" fn cb_dump_open(
    dump: *const cb_dump,
    i: usize,
    data: *const u8,
    len: usize,
    out_data: *mut *mut u8,
    out_len: *mut usize,
) -> cb_status {
    guard(|| {
        let out_data = try_out!(out_data);
        let out_len = try_out!(out_len);
        let dump = try_ref!(dump);
        let sealed = try_slice!(data, len);
        (*out_data, *out_len) = c_bytes(dump.dump.open(i, sealed)?);
        Ok(())
    })
}

/// Frees a dump. NULL is ignored.
///
/// # Safety
/// `dump` is NULL or a dump made by this library, not freed before and not
/// in use.
#[no_mangle]
pub unsafe extern "C" fn cb_dump_free(dump: *mut cb_dump) {
    guard_void(|| free!(dump));
}
