//! The C boundary: the panic-catching guard every export runs in, the
//! thread-local last error message, the argument macros (`try_ref!`,
//! `try_mut!`, `try_str!`, `try_slice!`, `try_out!`...: NULL, UTF-8,
//! lengths) and the allocation of strings and bytes handed to C.

use std::any::Any;
use std::cell::RefCell;
use std::ffi::{c_char, CString};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::ptr;

use cloudbackup_core::Error;
use zeroize::Zeroize;

use crate::status::cb_status;

/// Why a call failed: an error of the core, or of the C boundary.
#[derive(Debug)]
pub(crate) enum Failure {
    /// The core's error, mapped by its [`Error::code`].
    Core(Error),
    /// A required pointer argument (named) was NULL.
    Null(&'static str),
    /// A string argument (named) was not UTF-8.
    Utf8(&'static str, std::str::Utf8Error),
}

impl From<Error> for Failure {
    fn from(e: Error) -> Self {
        Failure::Core(e)
    }
}

impl Failure {
    fn status(&self) -> cb_status {
        match self {
            Failure::Core(e) => e.code().into(),
            Failure::Null(_) => cb_status::CB_NULL_ARGUMENT,
            Failure::Utf8(..) => cb_status::CB_INVALID_UTF8,
        }
    }

    fn message(&self) -> String {
        match self {
            Failure::Core(e) => e.to_string(),
            Failure::Null(name) => format!("argument `{name}` is NULL"),
            Failure::Utf8(name, e) => format!("argument `{name}` is not UTF-8: {e}"),
        }
    }

    /// The structured details, as JSON text: the core's `Error::details()`
    /// (the same members as the other bindings), or the argument named by a
    /// boundary failure.
    fn details(&self) -> String {
        match self {
            Failure::Core(e) => e.details().to_string(),
            Failure::Null(name) => {
                serde_json::json!({"name": name, "reason": "is NULL"}).to_string()
            }
            Failure::Utf8(name, e) => {
                serde_json::json!({"name": name, "reason": format!("is not UTF-8: {e}")})
                    .to_string()
            }
        }
    }
}

/// The result of an export's body.
pub(crate) type FfiResult<T = ()> = Result<T, Failure>;

/// An argument error of the core's kind (`CB_INVALID_ARGUMENT`).
pub(crate) fn argument(name: &str, reason: impl Into<String>) -> Failure {
    Failure::Core(Error::argument(name, reason))
}

/// Item `i` of `list` for an `_at` export (the `i` of its `_count`):
/// `CB_INVALID_ARGUMENT` naming `i` and the list's length (`n <what>`)
/// when it is out of range.
pub(crate) fn item_at<'a, T>(list: &'a [T], i: usize, what: &str) -> FfiResult<&'a T> {
    list.get(i)
        .ok_or_else(|| argument("i", format!("{i} is out of range ({} {what})", list.len())))
}

thread_local! {
    /// The message of the last call on this thread that returned a status
    /// (empty after a success).
    static LAST_ERROR: RefCell<String> = const { RefCell::new(String::new()) };
    /// The details (a JSON object) of that call's error (`{}` after a success).
    static LAST_DETAILS: RefCell<String> = const { RefCell::new(String::new()) };
}

fn set_last_error(message: String, details: String) {
    // `try_with`: during thread teardown the slot may be gone; then the
    // message is simply not kept.
    for (slot, value) in [(&LAST_ERROR, message), (&LAST_DETAILS, details)] {
        let _ = slot.try_with(|slot| {
            if let Ok(mut slot) = slot.try_borrow_mut() {
                *slot = value;
            }
        });
    }
}

fn panic_message(payload: &(dyn Any + Send)) -> String {
    let what = payload
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "(no message)".to_string());
    format!("panic inside libcloudbackup (a bug; please report it): {what}")
}

/// Runs an export's body: catches any panic (`CB_PANIC`), turns a failure
/// into its status, and records the message for `cb_last_error_message`
/// (cleared on success).
pub(crate) fn guard(body: impl FnOnce() -> FfiResult) -> cb_status {
    let (status, message, details) = match catch_unwind(AssertUnwindSafe(body)) {
        Ok(Ok(())) => (cb_status::CB_OK, String::new(), "{}".to_string()),
        Ok(Err(failure)) => (failure.status(), failure.message(), failure.details()),
        Err(payload) => (
            cb_status::CB_PANIC,
            panic_message(payload.as_ref()),
            "{}".to_string(),
        ),
    };
    set_last_error(message, details);
    status
}

/// Runs the body of an export that returns nothing (the free functions),
/// swallowing a panic: a free function cannot report one, and unwinding
/// into C would abort.
pub(crate) fn guard_void(body: impl FnOnce()) {
    let _ = catch_unwind(AssertUnwindSafe(body));
}

// The pointer contract. Every export is an `unsafe extern "C" fn` whose
// `# Safety` section (and the header's preamble) asks the same of its
// caller: each pointer argument, and each pointer inside a struct an
// argument points to, is NULL or valid for the duration of the call: a
// handle is live, made by this library and not freed, and (for a `*mut`
// handle) not used by another thread meanwhile; a string is NUL-terminated;
// an array holds its stated number of readable elements, properly aligned;
// an out-parameter points to writable memory for its type. The library
// keeps none of these pointers after the call returns.
//
// The `try_*!` macros below are the only place where the binding turns
// such a pointer into a Rust value (as rustls-ffi's `try_ref_from_ptr!`).
// Each states the contract once, in its one `// SAFETY:` comment, and is
// applied only to an export's own arguments (or the pointers inside the
// structs they point to), directly or through the argument readers of the
// modules, which say so. A NULL pointer never reaches a dereference: it
// fails the call with `CB_NULL_ARGUMENT` naming the argument (by default
// the argument's own name: `try_ref!(vault)`; `try_ref!(p, "name")` names
// it otherwise). The macros that can fail end in `?`, so they are used
// where the export's body returns an [`FfiResult`]. The argument readers
// that use them are plain functions, as in rustls-ffi: the contract is the
// export's, stated once here and in the header, not at every call.

/// `Ok` for a pointer that is not NULL, the failure naming it otherwise.
pub(crate) fn not_null<T>(p: *const T, name: &'static str) -> FfiResult {
    if p.is_null() {
        Err(Failure::Null(name))
    } else {
        Ok(())
    }
}

/// `Ok` for an array of `len` `T`s that fits in memory: `from_raw_parts`
/// requires it, and a length from C may be anything (`p` only names `T`).
pub(crate) fn array_fits_of<T>(_: *const T, len: usize, name: &'static str) -> FfiResult {
    match len.checked_mul(std::mem::size_of::<T>().max(1)) {
        Some(n) if n <= isize::MAX as usize => Ok(()),
        _ => Err(argument(
            name,
            format!("length {len} is larger than any buffer"),
        )),
    }
}

/// The UTF-8 text of a string argument's bytes.
pub(crate) fn utf8<'a>(bytes: &'a [u8], name: &'static str) -> FfiResult<&'a str> {
    std::str::from_utf8(bytes).map_err(|e| Failure::Utf8(name, e))
}

/// The value an out-parameter holds from the start of a call: what is safe
/// to free (NULL) or harmless to read (0, `false`) whatever happens next.
pub(crate) trait Unset {
    /// That value.
    fn unset() -> Self;
}

impl<T> Unset for *mut T {
    fn unset() -> Self {
        ptr::null_mut()
    }
}

impl<T> Unset for *const T {
    fn unset() -> Self {
        ptr::null()
    }
}

/// `Unset` as zero (`false`) for the numbers out-parameters hold.
macro_rules! unset_zero {
    ($($t:ty),*) => {$(
        impl Unset for $t {
            fn unset() -> Self {
                Default::default()
            }
        }
    )*};
}
unset_zero!(bool, u32, u64, usize, i32, i64, f64);

/// Borrows a handle argument: `try_ref!(vault)` is the `&cb_vault` behind
/// the export's argument `vault`.
macro_rules! try_ref {
    ($p:ident) => {
        $crate::ffi::try_ref!($p, stringify!($p))
    };
    ($p:expr, $name:expr) => {{
        let p = $p;
        // SAFETY: the pointer contract (`crate::ffi`): a handle argument is
        // NULL (refused here) or live, made by this library, for the call.
        unsafe { p.as_ref() }.ok_or($crate::ffi::Failure::Null($name))?
    }};
}

/// Borrows an optional handle argument: `None` for NULL.
macro_rules! try_opt_ref {
    ($p:ident) => {{
        // SAFETY: the pointer contract (`crate::ffi`): a handle argument is
        // NULL (`None`) or live, made by this library, for the call.
        unsafe { $p.as_ref() }
    }};
}

/// Borrows a `*mut` handle argument for mutation.
macro_rules! try_mut {
    ($p:ident) => {
        $crate::ffi::try_mut!($p, stringify!($p))
    };
    ($p:expr, $name:expr) => {{
        let p = $p;
        // SAFETY: the pointer contract (`crate::ffi`): a `*mut` handle
        // argument is NULL (refused here) or live, made by this library,
        // and used by nothing else during the call.
        unsafe { p.as_mut() }.ok_or($crate::ffi::Failure::Null($name))?
    }};
}

/// Reads a required NUL-terminated path argument as its bytes (`&[u8]`,
/// the operating system's bytes, UTF-8 or not).
macro_rules! try_path {
    ($p:ident) => {
        $crate::ffi::try_path!($p, stringify!($p))
    };
    ($p:expr, $name:expr) => {{
        let p: *const std::ffi::c_char = $p;
        $crate::ffi::not_null(p, $name)?;
        // SAFETY: the pointer contract (`crate::ffi`): a string argument,
        // not NULL (checked above), is NUL-terminated and unchanged during
        // the call.
        unsafe { std::ffi::CStr::from_ptr(p) }.to_bytes()
    }};
}

/// Reads a required NUL-terminated UTF-8 string argument as `&str` (bad
/// UTF-8: `CB_INVALID_UTF8`).
macro_rules! try_str {
    ($p:ident) => {
        $crate::ffi::try_str!($p, stringify!($p))
    };
    ($p:expr, $name:expr) => {{
        let name = $name;
        $crate::ffi::utf8($crate::ffi::try_path!($p, name), name)?
    }};
}

/// Reads an optional NUL-terminated UTF-8 string argument as
/// `Option<&str>` (NULL: `None`).
macro_rules! try_opt_str {
    ($p:ident) => {
        $crate::ffi::try_opt_str!($p, stringify!($p))
    };
    ($p:expr, $name:expr) => {{
        let p: *const std::ffi::c_char = $p;
        if p.is_null() {
            None
        } else {
            Some($crate::ffi::try_str!(p, $name))
        }
    }};
}

/// Reads an array argument, `len` elements at `p`, as a slice (bytes,
/// structs or pointers; NULL is allowed with `len` 0: an empty array).
macro_rules! try_slice {
    ($p:ident, $len:expr) => {
        $crate::ffi::try_slice!($p, $len, stringify!($p))
    };
    ($p:expr, $len:expr, $name:expr) => {{
        let (p, len, name) = ($p, $len, $name);
        if len == 0 {
            &[]
        } else {
            $crate::ffi::not_null(p, name)?;
            $crate::ffi::array_fits_of(p, len, name)?;
            // SAFETY: the pointer contract (`crate::ffi`): an array
            // argument, not NULL (checked above), holds `len` readable
            // elements, unchanged during the call; `len` fits in memory
            // (checked above).
            unsafe { std::slice::from_raw_parts(p, len) }
        }
    }};
}

/// Takes an out-parameter as `&mut T`, set at once to its [`Unset`] value
/// (or to the value given: `try_out!(out_range, empty)`), so that it holds
/// something safe to free whatever happens next.
macro_rules! try_out {
    ($p:ident) => {
        $crate::ffi::try_out!($p, $crate::ffi::Unset::unset())
    };
    ($p:ident, $empty:expr) => {{
        let p = $p;
        $crate::ffi::not_null(p, stringify!($p))?;
        // SAFETY: the pointer contract (`crate::ffi`): an out-parameter,
        // not NULL (checked above), points to writable memory for its type,
        // used by nothing else during the call. The old value (possibly
        // uninitialised) is overwritten, never read.
        unsafe {
            p.write($empty);
            &mut *p
        }
    }};
}

/// Frees the handle argument `p` (made by [`into_handle`]); NULL is
/// ignored.
macro_rules! free {
    ($p:ident) => {
        if !$p.is_null() {
            // SAFETY: the contract of every `cb_<type>_free`: the handle was
            // made by this library (`into_handle`: `Box::into_raw`), is not
            // freed before and no longer in use; ownership comes back here.
            drop(unsafe { Box::from_raw($p) })
        }
    };
}

pub(crate) use {
    free, try_mut, try_opt_ref, try_opt_str, try_out, try_path, try_ref, try_slice, try_str,
};

/// Moves a Rust value into a new handle.
pub(crate) fn into_handle<T>(value: T) -> *mut T {
    Box::into_raw(Box::new(value))
}

/// A string for C, freed by `cb_string_free`. A string with a NUL inside
/// (which C cannot hold) is an invalid value.
pub(crate) fn c_string(s: String, what: &str) -> FfiResult<*mut c_char> {
    CString::new(s).map(CString::into_raw).map_err(|_| {
        Failure::Core(Error::InvalidValue {
            field: what.to_string(),
            reason: "contains a NUL character, which a C string cannot hold".into(),
        })
    })
}

/// A path's bytes as a C string, freed by `cb_string_free` (snapshot paths
/// never hold a NUL: the core refuses them).
pub(crate) fn c_path(path: &[u8], what: &str) -> FfiResult<*mut c_char> {
    CString::new(path).map(CString::into_raw).map_err(|_| {
        Failure::Core(Error::InvalidValue {
            field: what.to_string(),
            reason: "contains a NUL byte, which a C string cannot hold".into(),
        })
    })
}

/// A JSON value as a C string.
pub(crate) fn json_string(value: &serde_json::Value) -> FfiResult<*mut c_char> {
    // JSON text never holds a raw NUL (serde_json escapes it as \u0000).
    c_string(value.to_string(), "JSON")
}

/// Bytes for C, freed by `cb_bytes_free(data, len)`: (NULL, 0) when empty.
pub(crate) fn c_bytes(bytes: Vec<u8>) -> (*mut u8, usize) {
    if bytes.is_empty() {
        return (ptr::null_mut(), 0);
    }
    let boxed = bytes.into_boxed_slice();
    let len = boxed.len();
    (Box::into_raw(boxed).cast::<u8>(), len)
}

/// Frees a string returned by this library (JSON, ids, paths, a decrypted
/// passphrase). NULL is ignored. Free each string exactly once. The memory
/// is zeroed before it is released, so secrets do not linger.
///
/// # Safety
/// `s` is NULL or a string returned by this library and not freed before.
#[no_mangle]
pub unsafe extern "C" fn cb_string_free(s: *mut c_char) {
    guard_void(|| {
        if !s.is_null() {
            // SAFETY: made by CString::into_raw in this library, not freed
            // before (the caller's guarantee).
            let owned = unsafe { CString::from_raw(s) };
            Zeroize::zeroize(&mut owned.into_bytes_with_nul());
        }
    });
}

/// Frees bytes returned by this library, with the length returned along
/// with them. NULL is ignored. Free each buffer exactly once. The memory is
/// zeroed before it is released (a private key's DER, say).
///
/// # Safety
/// `data` is NULL or a buffer returned by this library with length `len`
/// exactly, and not freed before.
#[no_mangle]
pub unsafe extern "C" fn cb_bytes_free(data: *mut u8, len: usize) {
    guard_void(|| {
        if !data.is_null() {
            let slice = ptr::slice_from_raw_parts_mut(data, len);
            // SAFETY: made by Box::<[u8]>::into_raw with this length in
            // `c_bytes`, not freed before (the caller's guarantee).
            let mut owned = unsafe { Box::from_raw(slice) };
            Zeroize::zeroize(&mut owned[..]);
        }
    });
}

/// Copies the message of the last call on this thread that returned a
/// status into `buf` (`len` bytes), NUL-terminated; the message is empty
/// when that call succeeded. `*out_needed` (if `out_needed` is not NULL)
/// receives the bytes the whole message needs, NUL included.
///
/// Returns `CB_OK` when it fitted, `CB_BUFFER_TOO_SMALL` when it did not
/// (then as much as fits is written, cut at a character boundary, and
/// NUL-terminated when `len` > 0), `CB_NULL_ARGUMENT` when `buf` is NULL and
/// `len` > 0. With `len` 0 (and `buf` NULL, say) it only reports the size,
/// returning `CB_BUFFER_TOO_SMALL`. This call does not change the recorded
/// message.
///
/// # Safety
/// `buf` is NULL or points to `len` writable bytes; `out_needed` is NULL or
/// points to a writable `size_t`.
#[no_mangle]
pub unsafe extern "C" fn cb_last_error_message(
    buf: *mut c_char,
    len: usize,
    out_needed: *mut usize,
) -> cb_status {
    let run = || -> cb_status {
        let message = LAST_ERROR
            .try_with(|slot| slot.try_borrow().map(|s| s.clone()).unwrap_or_default())
            .unwrap_or_default();
        let needed = message.len() + 1;
        if !out_needed.is_null() {
            // SAFETY: not NULL; the caller guarantees a writable size_t.
            unsafe { out_needed.write(needed) };
        }
        if len == 0 {
            // Not even the NUL fits.
            return cb_status::CB_BUFFER_TOO_SMALL;
        }
        if buf.is_null() {
            return cb_status::CB_NULL_ARGUMENT;
        }
        let mut take = message.len().min(len - 1);
        while !message.is_char_boundary(take) {
            take -= 1;
        }
        // SAFETY: `buf` has `len` writable bytes (the caller's guarantee),
        // and take + 1 <= len; source and destination cannot overlap (the
        // source is our own String).
        unsafe {
            ptr::copy_nonoverlapping(message.as_ptr(), buf.cast::<u8>(), take);
            buf.add(take).write(0);
        }
        if take == message.len() {
            cb_status::CB_OK
        } else {
            cb_status::CB_BUFFER_TOO_SMALL
        }
    };
    catch_unwind(AssertUnwindSafe(run)).unwrap_or(cb_status::CB_PANIC)
}

/// The details of the last call on this thread that returned a status, as a
/// JSON object in `*out_json` (freed with `cb_string_free`): the error's
/// members as the other bindings give them (e.g. for `CB_API`:
/// `{"operation", "status", "kind", "message", "errors", "retry_after"}`,
/// `errors` being the service's list of individual errors or null; for
/// `CB_INVALID_ARGUMENT`: `{"name", "reason"}`), `{}` when that call
/// succeeded. This call does not change the recorded error.
///
/// Errors: `CB_NULL_ARGUMENT` when `out_json` is NULL.
///
/// # Safety
/// `out_json` is NULL or points to a writable `char *`.
#[no_mangle]
pub unsafe extern "C" fn cb_last_error_details(out_json: *mut *mut c_char) -> cb_status {
    let run = || -> cb_status {
        if out_json.is_null() {
            return cb_status::CB_NULL_ARGUMENT;
        }
        let details = LAST_DETAILS
            .try_with(|slot| slot.try_borrow().map(|s| s.clone()).unwrap_or_default())
            .unwrap_or_default();
        let details = if details.is_empty() {
            "{}".to_string()
        } else {
            details
        };
        // JSON text holds no raw NUL (serde_json escapes it).
        let made = CString::new(details)
            .map(CString::into_raw)
            .unwrap_or(ptr::null_mut());
        // SAFETY: not NULL; the caller guarantees a writable `char *`.
        unsafe { out_json.write(made) };
        if made.is_null() {
            cb_status::CB_PANIC
        } else {
            cb_status::CB_OK
        }
    };
    catch_unwind(AssertUnwindSafe(run)).unwrap_or(cb_status::CB_PANIC)
}

/// The library's version (e.g. `"0.1.0"`), a static string (never freed).
#[no_mangle]
pub extern "C" fn cb_version() -> *const c_char {
    concat!(env!("CARGO_PKG_VERSION"), "\0").as_ptr().cast()
}

/// Diagnostic: panics inside the library's guard and so always returns
/// `CB_PANIC` (with the panic's message as the last error), proving that a
/// panic in the core surfaces as a status, never as an abort. The panic
/// message is also printed on stderr by Rust's default panic hook. Has no
/// other effect.
#[no_mangle]
pub extern "C" fn cb_test_panic() -> cb_status {
    guard(|| panic!("cb_test_panic was called"))
}

#[cfg(test)]
// The tests call the exports as C would, with pointers they own or just got
// from the library, each freed once: the exports' contract, met throughout.
#[allow(clippy::undocumented_unsafe_blocks)]
mod tests {
    use std::ffi::CStr;

    use super::*;

    fn last_message() -> String {
        let mut buf = [0 as c_char; 256];
        let status = unsafe { cb_last_error_message(buf.as_mut_ptr(), buf.len(), ptr::null_mut()) };
        assert_eq!(status, cb_status::CB_OK);
        unsafe { CStr::from_ptr(buf.as_ptr()) }
            .to_string_lossy()
            .into_owned()
    }

    #[test]
    fn the_guard_turns_panics_and_failures_into_statuses() {
        assert_eq!(cb_test_panic(), cb_status::CB_PANIC);
        assert!(last_message().contains("cb_test_panic was called"));
        assert_eq!(
            guard(|| Err(Failure::Null("thing"))),
            cb_status::CB_NULL_ARGUMENT
        );
        assert_eq!(last_message(), "argument `thing` is NULL");
        assert_eq!(guard(|| Ok(())), cb_status::CB_OK);
        assert_eq!(last_message(), "");
        assert_eq!(
            guard(|| Err(Error::WrongPassword.into())),
            cb_status::CB_WRONG_PASSWORD
        );
    }

    fn last_details() -> serde_json::Value {
        let mut out = ptr::null_mut();
        assert_eq!(unsafe { cb_last_error_details(&mut out) }, cb_status::CB_OK);
        let text = unsafe { CStr::from_ptr(out) }
            .to_string_lossy()
            .into_owned();
        unsafe { cb_string_free(out) };
        serde_json::from_str(&text).unwrap()
    }

    #[test]
    fn details_come_with_the_last_error_and_leave_it_alone() {
        let failing = || guard(|| Err(Error::argument("limit", "is 0").into()));
        assert_eq!(failing(), cb_status::CB_INVALID_ARGUMENT);
        assert_eq!(
            last_details(),
            serde_json::json!({"name": "limit", "reason": "is 0"})
        );
        // Reading the details changed nothing.
        assert_eq!(last_message(), "invalid argument `limit`: is 0");
        assert_eq!(
            guard(|| Err(Failure::Null("out"))),
            cb_status::CB_NULL_ARGUMENT
        );
        assert_eq!(last_details()["name"], "out");
        assert_eq!(guard(|| Ok(())), cb_status::CB_OK);
        assert_eq!(last_details(), serde_json::json!({}));
        let st = unsafe { cb_last_error_details(ptr::null_mut()) };
        assert_eq!(st, cb_status::CB_NULL_ARGUMENT);
    }

    #[test]
    fn bytes_round_trip_through_c() {
        let (p, len) = c_bytes(vec![1, 2, 3]);
        assert_eq!(len, 3);
        unsafe { cb_bytes_free(p, len) };
        assert_eq!(c_bytes(Vec::new()), (ptr::null_mut(), 0));
        let s = c_string("hi".into(), "s").unwrap();
        unsafe { cb_string_free(s) };
        assert!(c_string("a\0b".into(), "s").is_err());
    }
}
