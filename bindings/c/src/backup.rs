//! Backup sessions: the host walks its files and pushes their bytes; the
//! session hands back finished bundles, then the index delta and the
//! snapshot to store.

use std::ffi::{c_char, CString};
use std::os::raw::c_int;
use std::ptr;
use std::sync::Arc;

use cloudbackup_core::engine::{
    BackupOptions, BackupRun, EntryKind, FileMeta, RawPath, SnapshotInfo, Xattr,
};
use cloudbackup_core::Error;

use crate::ffi::{
    argument, c_bytes, c_string, free, guard, guard_void, into_handle, json_string, try_mut,
    try_opt_str, try_out, try_path, try_ref, try_slice, try_str, Failure, FfiResult, Unset,
};
use crate::restore::cb_entry_kind;
use crate::status::cb_status;
use crate::vault::{cb_index, cb_snapshot, cb_vault};

/// A backup in progress. Made by `cb_backup_session_new`, freed by
/// `cb_backup_session_free`.
pub struct cb_backup_session {
    /// The core's run keeps the order rules.
    run: BackupRun,
    /// The roots given by `cb_backup_session_set_paths`, recorded at finish.
    paths: Vec<RawPath>,
    /// The bundle `cb_backup_session_next_bundle` lent to C: its id (hex,
    /// NUL-terminated) and bytes, kept until the next such call, which
    /// hands the buffer back to the core for a later bundle.
    lent: Option<(CString, Vec<u8>)>,
}

/// Bytes the library lends: `len` bytes at `data` (NULL with `len` 0),
/// owned by the handle they came from and valid for as long as its function
/// says. Never freed by the caller.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct cb_bytes_view {
    /// The bytes (NULL only with `len` 0).
    pub data: *const u8,
    /// How many.
    pub len: usize,
}

impl Unset for cb_bytes_view {
    fn unset() -> Self {
        cb_bytes_view {
            data: ptr::null(),
            len: 0,
        }
    }
}

/// A path (or any name) as bytes: `len` bytes at `data`, not
/// NUL-terminated, UTF-8 or not (the operating system's bytes).
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct cb_path {
    /// The bytes (NULL only with `len` 0).
    pub data: *const u8,
    /// How many.
    pub len: usize,
}

/// One extended attribute of a `cb_file_meta` (POSIX ACLs are the
/// `system.posix_acl_*` attributes).
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct cb_xattr {
    /// The attribute's name (bytes, as `llistxattr` gives them, without
    /// the NUL).
    pub name: *const u8,
    /// Its length.
    pub name_len: usize,
    /// Its value (NULL only with `value_len` 0).
    pub value: *const u8,
    /// The value's length.
    pub value_len: usize,
}

/// What the agent knows about a path before its bytes (from `lstat`,
/// `readlink` and `llistxattr`): a snapshot entry's metadata, and what
/// `cb_backup_session_reuse` compares with the parent snapshot. Zero
/// (`memset` or `= {0}`) is "unknown" for every number; set `uid` and `gid`
/// to -1 when the owner is unknown. The library copies what it needs: the
/// pointers need only stay valid during the call.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct cb_file_meta {
    /// The path in the snapshot (e.g. `"/etc/hosts"`), as bytes: any byte
    /// but NUL, UTF-8 or not. Required.
    pub path: *const u8,
    /// Its length.
    pub path_len: usize,
    /// A `cb_entry_kind`: `CB_ENTRY_FILE` for `cb_backup_session_start` and
    /// `_reuse`; `CB_ENTRY_DIR`, `_SYMLINK`, `_FIFO`, `_CHARDEV` or
    /// `_BLOCKDEV` for `cb_backup_session_add` (an `int`, so that any value
    /// is safe: others are refused).
    pub kind: c_int,
    /// Permission bits (with setuid, setgid and sticky).
    pub mode: u32,
    /// Modification time, seconds since the Unix epoch (`st_mtim.tv_sec`).
    pub mtime: i64,
    /// Its sub-second part (`st_mtim.tv_nsec`, below 1000000000).
    pub mtime_nanos: u32,
    /// Status change time (`st_ctim.tv_sec`).
    pub ctime: i64,
    /// Its sub-second part (`st_ctim.tv_nsec`, below 1000000000).
    pub ctime_nanos: u32,
    /// The size `lstat` gave (files: compared with the parent's).
    pub size: u64,
    /// A symlink's target (bytes, as `readlink` gives them); NULL for none.
    pub target: *const u8,
    /// Its length.
    pub target_len: usize,
    /// Owner user id, or -1 when unknown.
    pub uid: i64,
    /// Owner group id, or -1 when unknown.
    pub gid: i64,
    /// Inode number (0: unknown).
    pub inode: u64,
    /// Device of the filesystem (`st_dev`; 0: unknown).
    pub device: u64,
    /// Number of hard links (`st_nlink`; 0: unknown).
    pub links: u64,
    /// A device node's number (`st_rdev`).
    pub rdev: u64,
    /// Extended attributes (NULL only with `xattrs_len` 0).
    pub xattrs: *const cb_xattr,
    /// How many.
    pub xattrs_len: usize,
}

/// The core's kind of an entry kind given as an `int` (files, directories,
/// symlinks, FIFOs and devices: a hard link is no kind a backup records).
fn entry_kind(kind: c_int) -> FfiResult<EntryKind> {
    use cb_entry_kind::*;
    [
        (CB_ENTRY_FILE, EntryKind::File),
        (CB_ENTRY_DIR, EntryKind::Dir),
        (CB_ENTRY_SYMLINK, EntryKind::Symlink),
        (CB_ENTRY_FIFO, EntryKind::Fifo),
        (CB_ENTRY_CHARDEV, EntryKind::CharDevice),
        (CB_ENTRY_BLOCKDEV, EntryKind::BlockDevice),
    ]
    .into_iter()
    .find(|(c, _)| *c as c_int == kind)
    .map(|(_, k)| k)
    .ok_or_else(|| {
        argument(
            "kind",
            format!("{kind} is not a cb_entry_kind a backup records"),
        )
    })
}

/// An owner id given as -1 (unknown) or 0..=u32::MAX.
fn owner_id(value: i64, name: &str) -> FfiResult<Option<u32>> {
    if value == -1 {
        return Ok(None);
    }
    u32::try_from(value)
        .map(Some)
        .map_err(|_| argument(name, format!("{value} is neither -1 nor a 32-bit id")))
}

/// Reads a required path given as bytes and length (NULL is refused).
/// The pointer contract of [`crate::ffi`] applies: pass only an export's
/// own arguments.
fn raw_path_arg(p: *const u8, len: usize, name: &'static str) -> FfiResult<RawPath> {
    if p.is_null() {
        return Err(Failure::Null(name));
    }
    Ok(RawPath::from(try_slice!(p, len, name)))
}

/// Reads an array of `count` `cb_path`s (NULL only with `count` 0).
/// The pointer contract of [`crate::ffi`] applies: pass only an export's
/// own arguments.
pub(crate) fn paths_arg(
    paths: *const cb_path,
    count: usize,
    name: &'static str,
) -> FfiResult<Vec<RawPath>> {
    try_slice!(paths, count, name)
        .iter()
        .map(|p| raw_path_arg(p.data, p.len, name))
        .collect()
}

/// Copies a `cb_file_meta` into the core's `FileMeta`.
/// The pointer contract of [`crate::ffi`] applies: pass only an export's
/// own arguments.
fn meta_arg(meta: *const cb_file_meta) -> FfiResult<FileMeta> {
    let m = try_ref!(meta);
    let path = raw_path_arg(m.path, m.path_len, "meta.path")?;
    let target = if m.target.is_null() {
        None
    } else {
        Some(raw_path_arg(m.target, m.target_len, "meta.target")?)
    };
    let xattrs = try_slice!(m.xattrs, m.xattrs_len, "meta.xattrs")
        .iter()
        .map(|x| {
            Ok(Xattr {
                name: raw_path_arg(x.name, x.name_len, "meta.xattrs.name")?,
                value: try_slice!(x.value, x.value_len, "meta.xattrs.value").to_vec(),
            })
        })
        .collect::<FfiResult<Vec<Xattr>>>()?;
    Ok(FileMeta {
        path,
        kind: entry_kind(m.kind)?,
        mode: m.mode,
        mtime: m.mtime,
        mtime_nanos: m.mtime_nanos,
        ctime: m.ctime,
        ctime_nanos: m.ctime_nanos,
        size: m.size,
        target,
        uid: owner_id(m.uid, "meta.uid")?,
        gid: owner_id(m.gid, "meta.gid")?,
        inode: m.inode,
        device: m.device,
        links: m.links,
        rdev: m.rdev,
        xattrs,
    })
}

/// The (id, bytes) of a stored object, for C.
type ObjectOut<'a> = (&'a mut *mut c_char, &'a mut *mut u8, &'a mut usize);

/// Reads the three out-parameters of an object (id, data, length).
/// The pointer contract of [`crate::ffi`] applies: pass only an export's
/// own arguments.
fn object_out<'a>(
    out_id: *mut *mut c_char,
    out_data: *mut *mut u8,
    out_len: *mut usize,
) -> FfiResult<ObjectOut<'a>> {
    let id = try_out!(out_id);
    let data = try_out!(out_data);
    let len = try_out!(out_len);
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
/// Errors: `CB_INVALID_ARGUMENT` for 0 threads or more than 256.
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
        let out = try_out!(out_session);
        let vault = &try_ref!(vault).vault;
        let index = &try_ref!(index).index;
        let options = BackupOptions {
            threads: threads as usize,
        };
        let run = BackupRun::new(vault, Arc::clone(index), options)?;
        *out = into_handle(cb_backup_session {
            run,
            paths: Vec::new(),
            lent: None,
        });
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
        let session = try_mut!(session);
        let path = try_path!(path);
        session
            .run
            .session()?
            .start_file(FileMeta::file(path, mode, mtime))?;
        Ok(())
    })
}

/// Starts the regular file `*meta` (`kind` `CB_ENTRY_FILE`) with all its
/// metadata; its bytes follow with `cb_backup_session_write`. Record the
/// `ctime`, `inode` and `device` too: the next backup's
/// `cb_backup_session_reuse` compares them.
///
/// Errors: `CB_NULL_ARGUMENT` for a NULL `meta` or path;
/// `CB_INVALID_ARGUMENT` for another kind, nanoseconds over 999999999, an
/// owner id that is neither -1 nor 32 bits, or while another file is open;
/// `CB_INVALID_VALUE` for a path the snapshot cannot hold (relative, `..`,
/// a NUL); `CB_INVALID_STATE` after finishing.
///
/// # Safety
/// `session` is a live session or NULL, not used by another thread
/// meanwhile; `meta` is NULL or a readable `cb_file_meta` as documented.
#[no_mangle]
pub unsafe extern "C" fn cb_backup_session_start(
    session: *mut cb_backup_session,
    meta: *const cb_file_meta,
) -> cb_status {
    guard(|| {
        let session = try_mut!(session);
        let meta = meta_arg(meta)?;
        session.run.session()?.start_file(meta)?;
        Ok(())
    })
}

/// Records a directory, symlink (with its `target`), FIFO or device node
/// (with its `rdev`) described by `*meta`.
///
/// Errors: as `cb_backup_session_start`, and `CB_INVALID_ARGUMENT` for a
/// file (files go through `_start`/`_write`/`_finish_file`) or a symlink
/// without a target.
///
/// # Safety
/// As `cb_backup_session_start`.
#[no_mangle]
pub unsafe extern "C" fn cb_backup_session_add(
    session: *mut cb_backup_session,
    meta: *const cb_file_meta,
) -> cb_status {
    guard(|| {
        let session = try_mut!(session);
        let meta = meta_arg(meta)?;
        session.run.session()?.add_entry(meta)?;
        Ok(())
    })
}

/// Uses `parent` (the previous backup of the same roots: see
/// `cb_vault_state_parent_for`) as the parent snapshot, whose unchanged
/// files `cb_backup_session_reuse` takes over unread. The session copies
/// what it needs: `parent` may be freed afterwards.
///
/// Errors: `CB_INVALID_STATE` after finishing.
///
/// # Safety
/// `session` is a live session or NULL, not used by another thread
/// meanwhile; `parent` is a live snapshot or NULL.
#[no_mangle]
pub unsafe extern "C" fn cb_backup_session_set_parent(
    session: *mut cb_backup_session,
    parent: *const cb_snapshot,
) -> cb_status {
    guard(|| {
        let session = try_mut!(session);
        let parent = &try_ref!(parent).snapshot;
        session.run.session()?.set_parent(parent);
        Ok(())
    })
}

/// Before reading a regular file: `*out_reused` is true when the parent
/// snapshot has it unchanged (same path, size, mtime and ctime to the
/// nanosecond, inode and device, and its chunks are all still in the
/// index). Then the file is recorded with the parent's content and the
/// new metadata, and done: do not read it. When false, nothing was
/// recorded: back it up with `cb_backup_session_start` as usual. Skip this
/// call to read everything again (a `--force`).
///
/// Errors: as `cb_backup_session_start` (`*out_reused` stays false).
///
/// # Safety
/// As `cb_backup_session_start`; `out_reused` points to a writable `bool`.
#[no_mangle]
pub unsafe extern "C" fn cb_backup_session_reuse(
    session: *mut cb_backup_session,
    meta: *const cb_file_meta,
    out_reused: *mut bool,
) -> cb_status {
    guard(|| {
        let out = try_out!(out_reused);
        let session = try_mut!(session);
        let meta = meta_arg(meta)?;
        *out = session.run.session()?.reuse(meta)?;
        Ok(())
    })
}

/// Records that `path` (`len` bytes) could not be read or listed, and
/// `reason` (e.g. `strerror(errno)`): the snapshot lists it in `errors` and
/// counts it in `files_with_errors`, and the backup goes on. Report the
/// backup as completed with errors (exit status 3, as restic).
///
/// Errors: `CB_NULL_ARGUMENT`, `CB_INVALID_UTF8` for `reason`;
/// `CB_INVALID_STATE` after finishing.
///
/// # Safety
/// `session` is a live session or NULL, not used by another thread
/// meanwhile; `path` points to `len` readable bytes; `reason` is
/// NUL-terminated.
#[no_mangle]
pub unsafe extern "C" fn cb_backup_session_file_error(
    session: *mut cb_backup_session,
    path: *const u8,
    len: usize,
    reason: *const c_char,
) -> cb_status {
    guard(|| {
        let session = try_mut!(session);
        let path = raw_path_arg(path, len, "path")?;
        let reason = try_str!(reason);
        session.run.session()?.file_error(path, reason);
        Ok(())
    })
}

/// Gives up the open file (a read failed half-way, or it vanished): its
/// entry is dropped and recorded as a file error with `reason`. Chunks
/// already stored stay unreferenced (a later gc removes them).
///
/// Errors: `CB_INVALID_ARGUMENT` when no file is open; `CB_NULL_ARGUMENT`,
/// `CB_INVALID_UTF8` for `reason`; `CB_INVALID_STATE` after finishing.
///
/// # Safety
/// `session` is a live session or NULL, not used by another thread
/// meanwhile; `reason` is NUL-terminated.
#[no_mangle]
pub unsafe extern "C" fn cb_backup_session_abandon_file(
    session: *mut cb_backup_session,
    reason: *const c_char,
) -> cb_status {
    guard(|| {
        let session = try_mut!(session);
        let reason = try_str!(reason);
        session.run.session()?.abandon_file(reason)?;
        Ok(())
    })
}

/// Sets the roots this backup covers (`count` paths, as the agent names
/// them: `"/home"`), recorded in the snapshot at finish: with the host
/// name they find the next backup's parent (`cb_vault_state_parent_for`).
/// A later call replaces the earlier list.
///
/// Errors: `CB_NULL_ARGUMENT` for a NULL array (with `count` > 0) or path;
/// `CB_INVALID_STATE` after finishing.
///
/// # Safety
/// `session` is a live session or NULL, not used by another thread
/// meanwhile; `paths` points to `count` readable `cb_path`s (NULL with 0).
#[no_mangle]
pub unsafe extern "C" fn cb_backup_session_set_paths(
    session: *mut cb_backup_session,
    paths: *const cb_path,
    count: usize,
) -> cb_status {
    guard(|| {
        let session = try_mut!(session);
        let paths = paths_arg(paths, count, "paths")?;
        session.run.session()?;
        session.paths = paths;
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
        let session = try_mut!(session);
        let bytes = try_slice!(data, len);
        session.run.session()?.write(bytes)?;
        Ok(())
    })
}

/// Continues the open file with `n` zero bytes (a hole of a sparse file,
/// see `SEEK_HOLE`) without the caller holding them: the same chunks and
/// snapshot as writing `n` zeros with `cb_backup_session_write`, at a cost
/// that does not grow with `n`.
///
/// Errors: `CB_INVALID_ARGUMENT` when no file is open; `CB_INVALID_STATE`
/// after finishing.
///
/// # Safety
/// `session` is a live session or NULL, not used by another thread
/// meanwhile.
#[no_mangle]
pub unsafe extern "C" fn cb_backup_session_write_zeros(
    session: *mut cb_backup_session,
    n: u64,
) -> cb_status {
    guard(|| {
        let session = try_mut!(session);
        session.run.session()?.write_zeros(n)?;
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
        let session = try_mut!(session);
        session.run.session()?.finish_file()?;
        Ok(())
    })
}

/// Ends the open file given what `fstat` of its descriptor shows after its
/// last byte (`size`, `mtime` in Unix seconds, `mtime_nanos`), and says
/// whether it changed while it was read: `*out_warning` is NULL, or why
/// (the size is not the bytes read, or the mtime moved; freed with
/// `cb_string_free`). The snapshot keeps what was read either way: warn
/// with the text, as restic and borg do.
///
/// Errors: `CB_NULL_ARGUMENT` for a NULL `out_warning`;
/// `CB_INVALID_ARGUMENT` when no file is open or `mtime_nanos` is over
/// 999999999 (the file stays open); `CB_INVALID_STATE` after finishing.
///
/// # Safety
/// `session` is a live session or NULL, not used by another thread
/// meanwhile; `out_warning` points to a writable `char *`.
#[no_mangle]
pub unsafe extern "C" fn cb_backup_session_finish_file_checked(
    session: *mut cb_backup_session,
    size: u64,
    mtime: i64,
    mtime_nanos: u32,
    out_warning: *mut *mut c_char,
) -> cb_status {
    guard(|| {
        let out = try_out!(out_warning);
        let session = try_mut!(session);
        if let Some(warning) =
            session
                .run
                .session()?
                .finish_file_checked(size, mtime, mtime_nanos)?
        {
            *out = c_string(warning, "warning")?;
        }
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
        let session = try_mut!(session);
        let path = try_path!(path);
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
        let session = try_mut!(session);
        let path = try_path!(path);
        let target = try_path!(target);
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
        let out = object_out(out_id, out_data, out_len)?;
        let session = try_mut!(session);
        let bundle = session.run.take_bundle();
        give_object(out, bundle.map(|b| (b.id.to_hex(), b.bytes)))
    })
}

/// Lends the next finished bundle without copying it: `*out_id` (64 hex
/// digits) and `*out_bundle` (its bytes) belong to the session and stay
/// valid until the next `cb_backup_session_next_bundle` or
/// `cb_backup_session_free`, whichever comes first; store the bytes as
/// `bundles/<id>` before that, and free neither. That next call hands the
/// buffer back to the session, which writes a later bundle into it: no
/// allocation, copy or zeroing per bundle, unlike
/// `cb_backup_session_take_bundle` (use that one to keep a bundle longer,
/// for an upload that outlives the call, say). When none is ready,
/// `*out_id` is NULL and `*out_bundle` is `{NULL, 0}` (still `CB_OK`).
/// Works before and after `cb_backup_session_finish`; mixing it with
/// `_take_bundle` is allowed (each bundle comes out once).
///
/// # Safety
/// `session` is a live session or NULL, not used by another thread
/// meanwhile; `out_id` points to a writable `const char *`, `out_bundle` to
/// a writable `cb_bytes_view`.
#[no_mangle]
pub unsafe extern "C" fn cb_backup_session_next_bundle(
    session: *mut cb_backup_session,
    out_id: *mut *const c_char,
    out_bundle: *mut cb_bytes_view,
) -> cb_status {
    guard(|| {
        let id_out = try_out!(out_id);
        let bundle_out = try_out!(out_bundle);
        let session = try_mut!(session);
        if let Some((_, buffer)) = session.lent.take() {
            // Only a running backup writes bundles; after finish the buffer
            // is simply dropped.
            if let Ok(running) = session.run.session() {
                running.recycle(buffer);
            }
        }
        if let Some(bundle) = session.run.take_bundle() {
            // Hex digits: never a NUL.
            let id = CString::new(bundle.id.to_hex()).map_err(|_| {
                Failure::Core(Error::InvalidValue {
                    field: "id".into(),
                    reason: "contains a NUL character".into(),
                })
            })?;
            let (id, bytes) = session.lent.insert((id, bundle.bytes));
            *id_out = id.as_ptr();
            *bundle_out = cb_bytes_view {
                data: bytes.as_ptr(),
                len: bytes.len(),
            };
        }
        Ok(())
    })
}

/// The counters so far (final once finished), as JSON:
/// `{"files_searched", "files_backed_up", "bytes_searched",
/// "bytes_backed_up", "bytes_in_db", "files_with_errors",
/// "files_unchanged"}` (those of the v2 backup resource).
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
        let out = try_out!(out_json);
        let session = try_ref!(session);
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
/// ran for) may be NULL; the roots set with `cb_backup_session_set_paths`
/// are recorded too. Store the bundles first, the index delta next, the
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
        let session = try_mut!(session);
        let hostname = try_opt_str!(hostname);
        let config_id = try_opt_str!(backup_configuration_id);
        let info = SnapshotInfo {
            time,
            time_nanos,
            hostname: hostname.map(str::to_string),
            backup_configuration_id: config_id.map(str::to_string),
            paths: session.paths.clone(),
            // Tags from C come with the forget round's C exports (issue 18).
            tags: Vec::new(),
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
        let out = object_out(out_id, out_data, out_len)?;
        let session = try_mut!(session);
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
        let out = object_out(out_id, out_data, out_len)?;
        let session = try_mut!(session);
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
    guard_void(|| free!(session));
}
