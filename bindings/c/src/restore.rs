//! Restore sessions: the plan (what to create, which bundle ranges to
//! fetch), as JSON and as C structs; feeding fetched bytes; taking the
//! verified writes; the final report and the modes and times to apply.

use std::collections::VecDeque;
use std::ffi::{c_char, CString};
use std::ptr;

use cloudbackup_core::engine::restore::{
    filter_globs, ByteRange, Create, CreateKind, Fetch, RestoreOptions, Write,
};
use cloudbackup_core::engine::{RawPath, RestoreRun};

use crate::backup::cb_xattr;
use cloudbackup_core::error::from_json_slice;
use cloudbackup_core::model::v2::common::PathFilter;
use cloudbackup_core::Error;
use serde_json::{json, Value};

use crate::ffi::{
    c_bytes, c_path, free, guard, guard_void, into_handle, item_at, json_string, try_mut,
    try_opt_str, try_out, try_path, try_ref, try_slice, try_str, Failure, FfiResult,
};
use crate::status::cb_status;
use crate::vault::{cb_index, cb_snapshot, cb_vault, id_arg};

/// What a snapshot entry (or a thing to create) is.
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum cb_entry_kind {
    /// A regular file.
    CB_ENTRY_FILE = 0,
    /// A directory.
    CB_ENTRY_DIR = 1,
    /// A symbolic link.
    CB_ENTRY_SYMLINK = 2,
    /// A named pipe (FIFO).
    CB_ENTRY_FIFO = 3,
    /// A character device (`rdev` is its number).
    CB_ENTRY_CHARDEV = 4,
    /// A block device (`rdev` is its number).
    CB_ENTRY_BLOCKDEV = 5,
    /// In a create only: another name of the file `target` (a snapshot
    /// path created earlier), made as a hard link once that file is complete.
    CB_ENTRY_HARDLINK = 6,
}

/// One thing a restore creates, in snapshot order: a directory, a symlink,
/// or a file to create (or truncate) at `size` bytes, whose content then
/// arrives as writes. Its `mode` and `mtime` are applied after the content,
/// in the order of `cb_restore_session_apply_at` (the same struct).
/// The strings belong to the session: valid until it is freed.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct cb_create {
    /// File, directory, symlink, FIFO, device or hard link.
    pub kind: cb_entry_kind,
    /// The path, as the snapshot spells it (the operating system's bytes,
    /// not necessarily UTF-8).
    pub path: *const c_char,
    /// A symlink's target, or the path a hard link names; NULL for the others.
    pub target: *const c_char,
    /// A file's final size in bytes; 0 for the others.
    pub size: u64,
    /// Permission bits (with setuid, setgid and sticky).
    pub mode: u32,
    /// Modification time, seconds since the Unix epoch.
    pub mtime: i64,
    /// Its sub-second part, in nanoseconds.
    pub mtime_nanos: u32,
    /// Whether `uid` and `gid` are known (restore them when running as root).
    pub has_owner: bool,
    /// Owner user id.
    pub uid: u32,
    /// Owner group id.
    pub gid: u32,
    /// A device node's number.
    pub rdev: u64,
    /// Extended attributes (and so POSIX ACLs) to set once the content is
    /// in place (NULL only with `xattrs_len` 0). As non-root, set only
    /// `user.*` and `system.posix_acl_*`: the other namespaces need
    /// privileges. Valid as long as `path`.
    pub xattrs: *const cb_xattr,
    /// How many.
    pub xattrs_len: usize,
}

/// One byte range of a bundle to fetch, and feed back with
/// `cb_restore_session_feed(session, bundle_id, offset, bytes, length)`
/// (or, from `cb_dump_fetch_at`, open with `cb_dump_open`).
/// `bundle_id` (64 hex digits, the bundle's storage name) belongs to the
/// session or dump that lent it: valid until that is freed.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct cb_range {
    /// The bundle.
    pub bundle_id: *const c_char,
    /// First byte.
    pub offset: u64,
    /// Number of bytes.
    pub length: u64,
}

/// One create with its strings held for C.
struct CreateC {
    kind: cb_entry_kind,
    /// `None` when the path holds a NUL (C cannot name it).
    path: Option<CString>,
    target: Option<CString>,
    size: u64,
    mode: u32,
    mtime: i64,
    mtime_nanos: u32,
    owner: Option<(u32, u32)>,
    rdev: u64,
    /// The attributes' names and values, and the C views of them (pointing
    /// into those heap buffers, which stay put when the struct moves).
    xattr_bytes: Vec<(Vec<u8>, Vec<u8>)>,
    xattrs: Vec<cb_xattr>,
}

impl CreateC {
    fn new(c: &Create) -> Self {
        let string = |s: &RawPath| CString::new(s.as_bytes()).ok();
        CreateC {
            kind: match c.kind {
                CreateKind::Dir => cb_entry_kind::CB_ENTRY_DIR,
                CreateKind::File => cb_entry_kind::CB_ENTRY_FILE,
                CreateKind::Symlink => cb_entry_kind::CB_ENTRY_SYMLINK,
                CreateKind::Fifo => cb_entry_kind::CB_ENTRY_FIFO,
                CreateKind::CharDevice => cb_entry_kind::CB_ENTRY_CHARDEV,
                CreateKind::BlockDevice => cb_entry_kind::CB_ENTRY_BLOCKDEV,
                CreateKind::HardLink => cb_entry_kind::CB_ENTRY_HARDLINK,
            },
            path: string(&c.path),
            target: c.target.as_ref().and_then(string),
            size: c.size.unwrap_or(0),
            mode: c.mode,
            mtime: c.mtime,
            mtime_nanos: c.mtime_nanos,
            owner: c.uid.zip(c.gid),
            rdev: c.rdev,
            xattr_bytes: Vec::new(),
            xattrs: Vec::new(),
        }
        .with_xattrs(c)
    }

    fn with_xattrs(mut self, c: &Create) -> Self {
        self.xattr_bytes = c
            .xattrs
            .iter()
            .map(|x| (x.name.as_bytes().to_vec(), x.value.clone()))
            .collect();
        self.xattrs = self
            .xattr_bytes
            .iter()
            .map(|(name, value)| cb_xattr {
                name: name.as_ptr(),
                name_len: name.len(),
                value: if value.is_empty() {
                    ptr::null()
                } else {
                    value.as_ptr()
                },
                value_len: value.len(),
            })
            .collect();
        self
    }
}

/// A restore in progress. Made by `cb_restore_session_new`, freed by
/// `cb_restore_session_free`.
pub struct cb_restore_session {
    /// The core's run keeps the order rules (nothing fed after finishing,
    /// the report and the attributes to apply only after it).
    run: RestoreRun,
    /// The creates as JSON and as C structs (fixed once planned).
    creates_json: Value,
    creates: Vec<CreateC>,
    /// The folders to clear of a killed restore's temporaries, relative.
    leftover_dirs: Vec<CString>,
    /// The run's attributes to apply, as C structs (filled by finishing).
    applies: Vec<CreateC>,
    /// The plan, as fetches and flattened into C ranges.
    plan: Vec<Fetch>,
    ranges: Vec<(CString, ByteRange)>,
    /// Verified writes (one per blob, with its places) not yet taken.
    writes: VecDeque<Write>,
    /// The write whose places are being handed out, and how many were:
    /// kept until the next call, so the data `cb_restore_session_next_write`
    /// lends stays valid meanwhile.
    current: Option<(Write, usize)>,
    /// The path lent by the last `cb_restore_session_next_write`.
    current_path: CString,
}

impl cb_restore_session {
    /// The next place to write (path, offset), making its write current.
    fn next_place(&mut self) -> Option<(RawPath, u64)> {
        loop {
            if let Some((w, taken)) = &mut self.current {
                if let Some(p) = w.places.get(*taken) {
                    *taken += 1;
                    return Some((p.path.clone(), p.offset));
                }
            }
            self.current = Some((self.writes.pop_front()?, 0));
        }
    }

    /// The current write's bytes.
    fn current_data(&self) -> &[u8] {
        self.current.as_ref().map_or(&[], |(w, _)| &w.data)
    }
}

/// A C string that cannot be: `path` or `target` holding a NUL.
fn nul_inside(field: &str) -> Failure {
    Failure::Core(Error::InvalidValue {
        field: field.into(),
        reason: "contains a NUL character, which a C string cannot hold".into(),
    })
}

impl CreateC {
    /// The C struct, pointing into `self`'s strings.
    fn to_c(&self) -> FfiResult<cb_create> {
        let path = self.path.as_ref().ok_or_else(|| nul_inside("path"))?;
        let target = match (self.kind, &self.target) {
            (cb_entry_kind::CB_ENTRY_SYMLINK | cb_entry_kind::CB_ENTRY_HARDLINK, None) => {
                return Err(nul_inside("target"))
            }
            (_, target) => target.as_ref().map_or(ptr::null(), |t| t.as_ptr()),
        };
        Ok(cb_create {
            kind: self.kind,
            path: path.as_ptr(),
            target,
            size: self.size,
            mode: self.mode,
            mtime: self.mtime,
            mtime_nanos: self.mtime_nanos,
            has_owner: self.owner.is_some(),
            uid: self.owner.map_or(0, |o| o.0),
            gid: self.owner.map_or(0, |o| o.1),
            rdev: self.rdev,
            xattrs: if self.xattrs.is_empty() {
                ptr::null()
            } else {
                self.xattrs.as_ptr()
            },
            xattrs_len: self.xattrs.len(),
        })
    }
}

/// A `cb_create` with nothing in it (what out-parameters start as).
fn empty_create() -> cb_create {
    cb_create {
        kind: cb_entry_kind::CB_ENTRY_FILE,
        path: ptr::null(),
        target: ptr::null(),
        size: 0,
        mode: 0,
        mtime: 0,
        mtime_nanos: 0,
        has_owner: false,
        uid: 0,
        gid: 0,
        rdev: 0,
        xattrs: ptr::null(),
        xattrs_len: 0,
    }
}

/// Item `i` of `list` (`what`: "creates", "applies") as a C struct.
fn create_at(list: &[CreateC], i: usize, what: &str) -> FfiResult<cb_create> {
    item_at(list, i, what)?.to_c()
}

/// The JSON form of a plan (see `cb_restore_session_plan`).
pub(crate) fn plan_json(plan: &[Fetch]) -> FfiResult<Value> {
    Ok(serde_json::to_value(plan).map_err(|e| Error::json("restore plan", &e))?)
}

/// Patterns (docs/PATTERNS.md; for the restore options' `inclusions` /
/// `exclusions`) equivalent to v2 path filters, `filters_json` being a JSON
/// array of `{"type": "file"|"folder", "path": ...}`: each path escaped, one
/// pattern per filter (a folder's pattern also takes everything below it).
/// Returns a JSON array of strings.
///
/// Errors: `CB_INVALID_JSON` when `filters_json` is not such an array.
///
/// # Safety
/// `filters_json` is NUL-terminated; `out_json` points to a writable
/// `char *` (freed with `cb_string_free`).
#[no_mangle]
pub unsafe extern "C" fn cb_filter_globs(
    filters_json: *const c_char,
    out_json: *mut *mut c_char,
) -> cb_status {
    guard(|| {
        let out = try_out!(out_json);
        let text = try_str!(filters_json);
        let filters: Vec<PathFilter> = from_json_slice("filters_json", text.as_bytes())?;
        *out = json_string(&json!(filter_globs(&filters)))?;
        Ok(())
    })
}

/// Plans the restore of `snapshot` (opened from `vault`) using `index` (all
/// of the vault's index deltas loaded). `options_json` (NULL: restore
/// everything, overwrite nothing) is `{"inclusions": [patterns],
/// "exclusions": [patterns], "iinclusions": [patterns], "iexclusions":
/// [patterns], "overwrite": bool, "existing": [paths already at the
/// destination], "found": [{"path", "size", "mtime", "mtime_nanos"} of
/// regular files there], "resume": bool, "sparse": bool, "max_gap": bytes,
/// "max_range": bytes, "threads": n}`, every member optional. Patterns
/// have restic's meaning (docs/PATTERNS.md): `/a` is that path, everything below it and
/// (for inclusions) the folders above it; `*.log` matches a name at any
/// depth; `*` stays within a name, `**` crosses folders; the `i` lists
/// ignore case (`cb_filter_globs` turns v2 path filters into patterns).
/// `sparse`, the default, leaves blobs of zeros unwritten, so files MUST be
/// created at their `size` (`ftruncate`); `resume` takes found files
/// matching the snapshot's size and mtime as done; `threads` (default one, at most 256)
/// opens each fed range's blobs on that many worker threads, the call
/// returning once all are opened, with the same writes (see the core's
/// `RestoreOptions`).
///
/// Then: unless the target is new, clear the folders
/// `cb_restore_session_leftover_dir_at` lists of what a killed restore left;
/// create what `cb_restore_session_create_at` lists; fetch each range
/// of `cb_restore_session_range_at` and feed it; take the writes after each
/// feed; finish for the report; apply the modes and times
/// `cb_restore_session_apply_at` lists, in its order.
///
/// Errors: `CB_INVALID_JSON` for options that do not fit,
/// `CB_INVALID_ARGUMENT` for a bad pattern (naming its list and index). A file whose content the index
/// lacks is not an error here: it goes into the final report.
///
/// # Safety
/// The handles are live or NULL; `options_json` is NUL-terminated or NULL;
/// `out_session` points to a writable `cb_restore_session *` (freed with
/// `cb_restore_session_free`).
#[no_mangle]
pub unsafe extern "C" fn cb_restore_session_new(
    vault: *const cb_vault,
    snapshot: *const cb_snapshot,
    index: *const cb_index,
    options_json: *const c_char,
    out_session: *mut *mut cb_restore_session,
) -> cb_status {
    guard(|| {
        let out = try_out!(out_session);
        let vault = &try_ref!(vault).vault;
        let snapshot = &try_ref!(snapshot).snapshot;
        let index = &try_ref!(index).index;
        let options = match try_opt_str!(options_json) {
            None => RestoreOptions::default(),
            Some(text) => from_json_slice("options_json", text.as_bytes())?,
        };
        let run = RestoreRun::new(vault, snapshot, index, options)?;
        let session = run.session()?;
        let creates_json = serde_json::to_value(session.creates().collect::<Vec<_>>())
            .map_err(|e| Error::json("restore creates", &e))?;
        let creates = session.creates().map(CreateC::new).collect();
        // Relative snapshot paths, which never hold a NUL.
        let leftover_dirs = session
            .leftover_dirs()
            .into_iter()
            .filter_map(|d| CString::new(d).ok())
            .collect();
        let plan = session.plan();
        let mut ranges = Vec::new();
        for f in &plan {
            // Hex digits never hold a NUL.
            let id = CString::new(f.bundle.to_hex()).unwrap_or_default();
            for r in &f.ranges {
                ranges.push((id.clone(), *r));
            }
        }
        *out = into_handle(cb_restore_session {
            run,
            creates_json,
            creates,
            leftover_dirs,
            applies: Vec::new(),
            plan,
            ranges,
            writes: VecDeque::new(),
            current: None,
            current_path: CString::default(),
        });
        Ok(())
    })
}

/// What to create, as a JSON array in snapshot order:
/// `{"kind": "dir", "path", "mode", "mtime"}`,
/// `{"kind": "file", "path", "size", "mode", "mtime"}`,
/// `{"kind": "symlink", "path", "target", "mtime"}`.
/// (`cb_restore_session_create_at` gives the same as C structs.)
///
/// # Safety
/// `session` is a live session or NULL; `out_json` points to a writable
/// `char *` (freed with `cb_string_free`).
#[no_mangle]
pub unsafe extern "C" fn cb_restore_session_creates(
    session: *const cb_restore_session,
    out_json: *mut *mut c_char,
) -> cb_status {
    guard(|| {
        let out = try_out!(out_json);
        *out = json_string(&try_ref!(session).creates_json)?;
        Ok(())
    })
}

/// The number of things to create (see `cb_restore_session_create_at`).
///
/// # Safety
/// `session` is a live session or NULL; `out_count` points to a writable
/// `size_t`.
#[no_mangle]
pub unsafe extern "C" fn cb_restore_session_create_count(
    session: *const cb_restore_session,
    out_count: *mut usize,
) -> cb_status {
    guard(|| {
        let out = try_out!(out_count);
        *out = try_ref!(session).creates.len();
        Ok(())
    })
}

/// The `i`-th thing to create (0-based, in snapshot order). Its strings
/// belong to the session (valid until it is freed).
///
/// Errors: `CB_INVALID_ARGUMENT` for `i` out of range; `CB_INVALID_VALUE`
/// for a path holding a NUL character (which C cannot name).
///
/// # Safety
/// `session` is a live session or NULL; `out_create` points to a writable
/// `cb_create`.
#[no_mangle]
pub unsafe extern "C" fn cb_restore_session_create_at(
    session: *const cb_restore_session,
    i: usize,
    out_create: *mut cb_create,
) -> cb_status {
    guard(|| {
        let out = try_out!(out_create, empty_create());
        let session = try_ref!(session);
        *out = create_at(&session.creates, i, "creates")?;
        Ok(())
    })
}

/// The number of folders to clear of what a killed restore left (see
/// `cb_restore_session_leftover_dir_at`).
///
/// # Safety
/// `session` is a live session or NULL; `out_count` points to a writable
/// `size_t`.
#[no_mangle]
pub unsafe extern "C" fn cb_restore_session_leftover_dir_count(
    session: *const cb_restore_session,
    out_count: *mut usize,
) -> cb_status {
    guard(|| {
        let out = try_out!(out_count);
        *out = try_ref!(session).leftover_dirs.len();
        Ok(())
    })
}

/// The `i`-th folder (0-based) a killed restore may have left temporaries
/// in where this one writes, relative to the target: `""` (the target
/// itself, always first), then every folder the restore creates or creates
/// something in. Before creating anything, a host that is not restoring
/// into a fresh folder opens each that exists (without following symlinks)
/// and removes every name `cb_partial_owner` gives no running owner. The
/// string belongs to the session (valid until it is freed).
///
/// Errors: `CB_INVALID_ARGUMENT` for `i` out of range.
///
/// # Safety
/// `session` is a live session or NULL; `out_dir` points to a writable
/// `const char *`.
#[no_mangle]
pub unsafe extern "C" fn cb_restore_session_leftover_dir_at(
    session: *const cb_restore_session,
    i: usize,
    out_dir: *mut *const c_char,
) -> cb_status {
    guard(|| {
        let out = try_out!(out_dir);
        *out = item_at(&try_ref!(session).leftover_dirs, i, "folders")?.as_ptr();
        Ok(())
    })
}

/// The bundle ranges to fetch, as a JSON array of `{"bundle": "<64 hex>",
/// "ranges": [{"offset", "length"}...]}`, bundles in order of first use.
/// (`cb_restore_session_range_at` gives the same ranges one by one.)
///
/// # Safety
/// `session` is a live session or NULL; `out_json` points to a writable
/// `char *` (freed with `cb_string_free`).
#[no_mangle]
pub unsafe extern "C" fn cb_restore_session_plan(
    session: *const cb_restore_session,
    out_json: *mut *mut c_char,
) -> cb_status {
    guard(|| {
        let out = try_out!(out_json);
        *out = json_string(&plan_json(&try_ref!(session).plan)?)?;
        Ok(())
    })
}

/// The number of ranges to fetch, over all bundles.
///
/// # Safety
/// `session` is a live session or NULL; `out_count` points to a writable
/// `size_t`.
#[no_mangle]
pub unsafe extern "C" fn cb_restore_session_range_count(
    session: *const cb_restore_session,
    out_count: *mut usize,
) -> cb_status {
    guard(|| {
        let out = try_out!(out_count);
        *out = try_ref!(session).ranges.len();
        Ok(())
    })
}

/// The `i`-th range to fetch (0-based; bundle by bundle, each bundle's
/// ranges in order). Its `bundle_id` belongs to the session.
///
/// Errors: `CB_INVALID_ARGUMENT` for `i` out of range.
///
/// # Safety
/// `session` is a live session or NULL; `out_range` points to a writable
/// `cb_range`.
#[no_mangle]
pub unsafe extern "C" fn cb_restore_session_range_at(
    session: *const cb_restore_session,
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
        let session = try_ref!(session);
        let (id, r) = item_at(&session.ranges, i, "ranges")?;
        *out = cb_range {
            bundle_id: id.as_ptr(),
            offset: r.offset,
            length: r.length,
        };
        Ok(())
    })
}

/// Feeds the fetched bytes (`len` bytes) of the planned range at `offset`
/// of bundle `bundle_id`. Every blob in it is authenticated before any of
/// its bytes is released; take the resulting writes with
/// `cb_restore_session_next_write` (or `cb_restore_session_take_write`).
/// Blobs of zeros give no write when sparse. A blob that fails (a tampered or
/// truncated bundle) is not an error of this call: the files using it fail
/// and are listed in the final report.
///
/// Errors: `CB_INVALID_ARGUMENT` for a bundle or range that is not planned
/// or was already fed, or more bytes than planned; `CB_INVALID_VALUE` for
/// an id that is not 64 hex digits; `CB_INVALID_STATE` after finishing.
///
/// # Safety
/// `session` is a live session or NULL, not used by another thread
/// meanwhile; `bundle_id` is NUL-terminated; `data` points to `len`
/// readable bytes (or is NULL with `len` 0).
#[no_mangle]
pub unsafe extern "C" fn cb_restore_session_feed(
    session: *mut cb_restore_session,
    bundle_id: *const c_char,
    offset: u64,
    data: *const u8,
    len: usize,
) -> cb_status {
    guard(|| {
        let session = try_mut!(session);
        let bundle = id_arg(bundle_id, "bundle_id")?;
        let bytes = try_slice!(data, len);
        let writes = session.run.feed(&bundle, offset, bytes)?;
        session.writes.extend(writes);
        Ok(())
    })
}

/// Tells the session that bundle `bundle_id` cannot be fetched: every file
/// needing a blob of it not fed yet fails (`not_found` in the report).
///
/// Errors: `CB_INVALID_ARGUMENT` for a bundle not in the plan;
/// `CB_INVALID_VALUE` for an id that is not 64 hex digits;
/// `CB_INVALID_STATE` after finishing.
///
/// # Safety
/// `session` is a live session or NULL, not used by another thread
/// meanwhile; `bundle_id` is NUL-terminated.
#[no_mangle]
pub unsafe extern "C" fn cb_restore_session_missing(
    session: *mut cb_restore_session,
    bundle_id: *const c_char,
) -> cb_status {
    guard(|| {
        let session = try_mut!(session);
        let bundle = id_arg(bundle_id, "bundle_id")?;
        session.run.missing(&bundle)?;
        Ok(())
    })
}

/// The next verified write, without a copy: `len` bytes at `data` to write
/// at `offset` of the file `path`. A blob used in several places (identical
/// files, repeated content) is decrypted once: its places come one after
/// the other with the same `data`. Both pointers belong to the session and
/// stay valid until its next call (any `cb_restore_session_*` function
/// taking it as mutable) or until it is freed; do not free them. When there
/// is none, `*out_path` and `*out_data` are NULL and `*out_len` is 0 (still
/// `CB_OK`).
///
/// Errors: `CB_INVALID_VALUE` for a path holding a NUL byte (the write is
/// dropped).
///
/// # Safety
/// `session` is a live session or NULL, not used by another thread
/// meanwhile; the out-pointers point to writable values.
#[no_mangle]
pub unsafe extern "C" fn cb_restore_session_next_write(
    session: *mut cb_restore_session,
    out_path: *mut *const c_char,
    out_offset: *mut u64,
    out_data: *mut *const u8,
    out_len: *mut usize,
) -> cb_status {
    guard(|| {
        let out_path = try_out!(out_path);
        let out_offset = try_out!(out_offset);
        let out_data = try_out!(out_data);
        let out_len = try_out!(out_len);
        let session = try_mut!(session);
        if let Some((path, offset)) = session.next_place() {
            session.current_path =
                CString::new(path.into_bytes()).map_err(|_| nul_inside("path"))?;
            *out_path = session.current_path.as_ptr();
            *out_offset = offset;
            let data = session.current_data();
            (*out_data, *out_len) = (data.as_ptr(), data.len());
        }
        Ok(())
    })
}

/// Takes the next verified write as copies the caller frees: `len` bytes
/// to write at `offset` of the file `path` (free the path with
/// `cb_string_free` and the data with `cb_bytes_free(data, len)`). Copies
/// the bytes for every place: `cb_restore_session_next_write` lends them
/// instead. When there is none, `*out_path` and `*out_data` are NULL and
/// `*out_len` is 0 (still `CB_OK`).
///
/// Errors: `CB_INVALID_VALUE` for a path holding a NUL character (the write
/// is dropped).
///
/// # Safety
/// `session` is a live session or NULL, not used by another thread
/// meanwhile; the out-pointers point to writable values.
#[no_mangle]
pub unsafe extern "C" fn cb_restore_session_take_write(
    session: *mut cb_restore_session,
    out_path: *mut *mut c_char,
    out_offset: *mut u64,
    out_data: *mut *mut u8,
    out_len: *mut usize,
) -> cb_status {
    guard(|| {
        let out_path = try_out!(out_path);
        let out_offset = try_out!(out_offset);
        let out_data = try_out!(out_data);
        let out_len = try_out!(out_len);
        let session = try_mut!(session);
        if let Some((path, offset)) = session.next_place() {
            *out_path = c_path(path.as_bytes(), "path")?;
            *out_offset = offset;
            (*out_data, *out_len) = c_bytes(session.current_data().to_vec());
        }
        Ok(())
    })
}

/// The host could not create, write or move `path` (as the creates name
/// it) into place; `error` (UTF-8) says why, e.g. `strerror(errno)`. The
/// file fails (`write_failed` in the report, code 7006), gets no further
/// writes and no attributes to apply; the restore goes on. Also after
/// `cb_restore_session_finish`: read the report again with
/// `cb_restore_session_report`.
///
/// Errors: `CB_INVALID_ARGUMENT` for a path not in the restore.
///
/// # Safety
/// `session` is a live session or NULL, not used by another thread
/// meanwhile; `path` and `error` are NUL-terminated.
#[no_mangle]
pub unsafe extern "C" fn cb_restore_session_fail_path(
    session: *mut cb_restore_session,
    path: *const c_char,
    error: *const c_char,
) -> cb_status {
    guard(|| {
        let session = try_mut!(session);
        let path = RawPath::from_bytes(try_path!(path));
        let error = try_str!(error);
        session.run.fail_path(&path, error)?;
        if session.run.report().is_ok() {
            session.applies = session.run.apply()?.iter().map(CreateC::new).collect();
        }
        Ok(())
    })
}

/// After `cb_restore_session_finish`: the report as JSON again, with the
/// failures reported since (`cb_restore_session_fail_path`).
///
/// Errors: `CB_INVALID_STATE` before finishing.
///
/// # Safety
/// `session` is a live session or NULL; `out_json` points to a writable
/// `char *` (freed with `cb_string_free`).
#[no_mangle]
pub unsafe extern "C" fn cb_restore_session_report(
    session: *const cb_restore_session,
    out_json: *mut *mut c_char,
) -> cb_status {
    guard(|| {
        let out = try_out!(out_json);
        let session = try_ref!(session);
        let report = session.run.report()?;
        *out = json_string(
            &serde_json::to_value(report).map_err(|e| Error::json("restore report", &e))?,
        )?;
        Ok(())
    })
}

/// Ends the restore (ranges never fed count as missing bundles) and returns
/// its report as JSON: `{"files_restored", "bytes_restored",
/// "files_skipped", "files_done", "errors", "unmatched_includes"}`, `errors`
/// being `null` or the value of the v2 restore's `/errors` patch (each failed
/// path with its error class and message), `unmatched_includes` the inclusion
/// patterns that matched no entry of the snapshot (warn about them: most
/// often a mistyped path). Writes not taken yet can still be taken, and the modes and
/// times to apply are listed (`cb_restore_session_apply_at`); feeding and
/// finishing again return `CB_INVALID_STATE`.
///
/// # Safety
/// `session` is a live session or NULL, not used by another thread
/// meanwhile; `out_json` points to a writable `char *` (freed with
/// `cb_string_free`).
#[no_mangle]
pub unsafe extern "C" fn cb_restore_session_finish(
    session: *mut cb_restore_session,
    out_json: *mut *mut c_char,
) -> cb_status {
    guard(|| {
        let out = try_out!(out_json);
        let session = try_mut!(session);
        let report = session.run.finish()?;
        *out = json_string(
            &serde_json::to_value(report).map_err(|e| Error::json("restore report", &e))?,
        )?;
        session.applies = session.run.apply()?.iter().map(CreateC::new).collect();
        Ok(())
    })
}

/// The number of entries whose mode and time to apply once the content is
/// written (see `cb_restore_session_apply_at`).
///
/// Errors: `CB_INVALID_STATE` before `cb_restore_session_finish`.
///
/// # Safety
/// `session` is a live session or NULL; `out_count` points to a writable
/// `size_t`.
#[no_mangle]
pub unsafe extern "C" fn cb_restore_session_apply_count(
    session: *const cb_restore_session,
    out_count: *mut usize,
) -> cb_status {
    guard(|| {
        let out = try_out!(out_count);
        *out = try_ref!(session).run.apply()?.len();
        Ok(())
    })
}

/// The `i`-th entry (0-based) whose permission bits (`mode`; none for a
/// symlink) and modification time (`mtime`) to apply after the content:
/// every restored entry, deepest first (a directory after everything in
/// it, so writing into it does not change its time again), entries failed
/// by `cb_restore_session_finish` left out (the list stays the same after
/// it, through later `cb_restore_session_fail_path` calls: skip what you
/// failed). Apply them in this order. Its strings belong to the session
/// (valid until it is freed).
///
/// Errors: `CB_INVALID_STATE` before `cb_restore_session_finish`;
/// `CB_INVALID_ARGUMENT` for `i` out of range; `CB_INVALID_VALUE` for a
/// path holding a NUL character (which C cannot name).
///
/// # Safety
/// `session` is a live session or NULL; `out_create` points to a writable
/// `cb_create`.
#[no_mangle]
pub unsafe extern "C" fn cb_restore_session_apply_at(
    session: *const cb_restore_session,
    i: usize,
    out_create: *mut cb_create,
) -> cb_status {
    guard(|| {
        let out = try_out!(out_create, empty_create());
        let session = try_ref!(session);
        // Before finishing, the run's own InvalidState.
        session.run.apply()?;
        *out = create_at(&session.applies, i, "applies")?;
        Ok(())
    })
}

/// Frees a restore session (finished or not). NULL is ignored.
///
/// # Safety
/// `session` is NULL or a session made by this library, not freed before
/// and not in use.
#[no_mangle]
pub unsafe extern "C" fn cb_restore_session_free(session: *mut cb_restore_session) {
    guard_void(|| free!(session));
}
