//! Backup selection for a host's walker (`cb_backup_filter`): the core's
//! `BackupFilter` (restic's pattern language, docs/PATTERNS.md). The host
//! walks; per entry it asks `cb_backup_filter_visit`, and per folder it
//! looks for the `cb_backup_filter_tag_*` files.

use std::ffi::c_char;

use cloudbackup_core::engine::select::{read_pattern_file, Visit};
use cloudbackup_core::engine::{BackupFilter, BackupFilterOptions};
use cloudbackup_core::error::from_json_slice;
use serde_json::json;

use crate::ffi::{
    c_string, free, guard, guard_void, into_handle, json_string, try_opt_str, try_out, try_path,
    try_ref, try_slice, try_str,
};
use crate::status::cb_status;

/// What a backup does with one entry (`cb_backup_filter_visit`).
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum cb_visit {
    /// Leave it out (a folder with everything below: do not enter it).
    CB_VISIT_SKIP = 0,
    /// Back it up (and enter a folder).
    CB_VISIT_KEEP = 1,
    /// Back the folder up empty, without entering it (a mount point under
    /// `one_file_system`).
    CB_VISIT_KEEP_EMPTY = 2,
}

/// A backup's selection. Made by `cb_backup_filter_new`, freed by
/// `cb_backup_filter_free`; immutable, so it may be shared by threads.
pub struct cb_backup_filter {
    filter: BackupFilter,
}

/// A filter from `options_json` (NULL: keep everything): `{"exclude":
/// [patterns], "iexclude": [patterns ignoring case], "exclusions": [v2
/// path filters], "exclude_if_present": ["NAME[:HEADER]"],
/// "one_file_system": bool}`, every member optional. Patterns match
/// snapshot paths (`/` is the source root) with restic's meaning.
///
/// Errors: `CB_INVALID_JSON` for options that do not fit,
/// `CB_INVALID_ARGUMENT` for a bad pattern or rule (naming its list and
/// index).
///
/// # Safety
/// `options_json` is NUL-terminated or NULL; `out_filter` points to a
/// writable `cb_backup_filter *` (freed with `cb_backup_filter_free`).
#[no_mangle]
pub unsafe extern "C" fn cb_backup_filter_new(
    options_json: *const c_char,
    out_filter: *mut *mut cb_backup_filter,
) -> cb_status {
    guard(|| {
        let out = try_out!(out_filter);
        let options: BackupFilterOptions = match try_opt_str!(options_json) {
            Some(text) => from_json_slice("options_json", text.as_bytes())?,
            None => BackupFilterOptions::default(),
        };
        *out = into_handle(cb_backup_filter {
            filter: options.build()?,
        });
        Ok(())
    })
}

/// What to do with the entry `path` (its snapshot path, bytes; its folder
/// was entered) of kind folder or not (`is_dir`) on `device` (`st_dev`),
/// the source root being on `root_device`.
///
/// # Safety
/// `filter` is a live filter; `path` is NUL-terminated; `out_visit`
/// points to a writable `cb_visit`.
#[no_mangle]
pub unsafe extern "C" fn cb_backup_filter_visit(
    filter: *const cb_backup_filter,
    path: *const c_char,
    is_dir: bool,
    device: u64,
    root_device: u64,
    out_visit: *mut cb_visit,
) -> cb_status {
    guard(|| {
        let out = try_out!(out_visit, cb_visit::CB_VISIT_SKIP);
        let filter = &try_ref!(filter).filter;
        let path = String::from_utf8_lossy(try_path!(path));
        *out = match filter.visit(&path, is_dir, device, root_device) {
            Visit::Skip => cb_visit::CB_VISIT_SKIP,
            Visit::Keep => cb_visit::CB_VISIT_KEEP,
            Visit::KeepEmpty => cb_visit::CB_VISIT_KEEP_EMPTY,
        };
        Ok(())
    })
}

/// The number of `exclude_if_present` rules: look for each one's file
/// (`cb_backup_filter_tag_at`) in every folder entered.
///
/// # Safety
/// `filter` is a live filter; `out_count` points to a writable `size_t`.
#[no_mangle]
pub unsafe extern "C" fn cb_backup_filter_tag_count(
    filter: *const cb_backup_filter,
    out_count: *mut usize,
) -> cb_status {
    guard(|| {
        let out = try_out!(out_count);
        *out = try_ref!(filter).filter.tag_files().len();
        Ok(())
    })
}

/// Rule `index`'s file name (freed with `cb_string_free`) and how many of
/// its leading bytes to read for `cb_backup_filter_tag_confirms` (0: its
/// existence is enough).
///
/// Errors: `CB_INVALID_ARGUMENT` for an index out of range.
///
/// # Safety
/// `filter` is a live filter; `out_name` points to a writable `char *`;
/// `out_header_len` to a writable `size_t`.
#[no_mangle]
pub unsafe extern "C" fn cb_backup_filter_tag_at(
    filter: *const cb_backup_filter,
    index: usize,
    out_name: *mut *mut c_char,
    out_header_len: *mut usize,
) -> cb_status {
    guard(|| {
        let name = try_out!(out_name);
        let header_len = try_out!(out_header_len);
        let tags = try_ref!(filter).filter.tag_files();
        let tag = tags.get(index).ok_or_else(|| {
            crate::ffi::argument("index", format!("{index} is not below {}", tags.len()))
        })?;
        *header_len = tag.header_len();
        *name = c_string(tag.name.clone(), "tag name")?;
        Ok(())
    })
}

/// Whether rule `index`'s file, whose first bytes are `head` (`len`
/// bytes, up to its header length), tags its folder.
///
/// # Safety
/// `filter` is a live filter; `head` points to `len` readable bytes (NULL
/// when 0); `out_confirms` points to a writable `bool`.
#[no_mangle]
pub unsafe extern "C" fn cb_backup_filter_tag_confirms(
    filter: *const cb_backup_filter,
    index: usize,
    head: *const u8,
    len: usize,
    out_confirms: *mut bool,
) -> cb_status {
    guard(|| {
        let out = try_out!(out_confirms);
        let filter = &try_ref!(filter).filter;
        let head = try_slice!(head, len);
        *out = filter
            .tag_files()
            .get(index)
            .is_some_and(|t| t.confirms(head));
        Ok(())
    })
}

/// Whether the child `name` of a folder is left out because of the tag
/// files found there: `confirmed` are the names (`n` of them) of the rules
/// whose file the folder holds with the right header. Each such rule keeps
/// only its own file.
///
/// # Safety
/// `filter` is a live filter; `confirmed` points to `n` NUL-terminated
/// strings (NULL when `n` is 0); `name` is NUL-terminated; `out_excluded`
/// points to a writable `bool`.
#[no_mangle]
pub unsafe extern "C" fn cb_backup_filter_excluded_by_tags(
    filter: *const cb_backup_filter,
    confirmed: *const *const c_char,
    n: usize,
    name: *const c_char,
    out_excluded: *mut bool,
) -> cb_status {
    guard(|| {
        let out = try_out!(out_excluded);
        let filter = &try_ref!(filter).filter;
        let mut names = Vec::with_capacity(n);
        for &p in try_slice!(confirmed, n) {
            names.push(String::from_utf8_lossy(try_path!(p, "confirmed")).into_owned());
        }
        let name = String::from_utf8_lossy(try_path!(name));
        *out = filter.excluded_by_tags(&names, &name);
        Ok(())
    })
}

/// Frees a filter. NULL is ignored.
///
/// # Safety
/// `filter` is NULL or a filter made by this library, not freed before
/// and not in use.
#[no_mangle]
pub unsafe extern "C" fn cb_backup_filter_free(filter: *mut cb_backup_filter) {
    guard_void(|| free!(filter));
}

/// The patterns of an exclude file's text (`--exclude-file`), as restic
/// reads them: lines trimmed, blank lines and `#` comments skipped, `$VAR`
/// and `${VAR}` from this process's environment (`$$` for `$`). Returns a
/// JSON array of strings (freed with `cb_string_free`).
///
/// # Safety
/// `text` is NUL-terminated UTF-8; `out_json` points to a writable
/// `char *`.
#[no_mangle]
pub unsafe extern "C" fn cb_read_pattern_file(
    text: *const c_char,
    out_json: *mut *mut c_char,
) -> cb_status {
    guard(|| {
        let out = try_out!(out_json);
        let text = try_str!(text);
        let patterns = read_pattern_file(text, |name| std::env::var(name).ok());
        *out = json_string(&json!(patterns))?;
        Ok(())
    })
}
