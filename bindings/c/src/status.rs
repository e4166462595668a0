//! `cb_status`: the one status every fallible function returns, and the one
//! place the core's [`ErrorCode`] is mapped to it.

use std::ffi::c_char;
use std::os::raw::c_int;

use cloudbackup_core::ErrorCode;

/// What a call did: `CB_OK` (0) or why it failed. Values are stable: new
/// ones are only ever added. Values 1..=99 classify errors of the core (the
/// same classes as the JS `code` strings and the Python exceptions, one
/// each); 100 and up are errors of the C boundary itself. 103 is unused: it
/// was `CB_INVALID_STATE` (a core class) before the first release, and is
/// not given to another status.
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum cb_status {
    /// Success.
    CB_OK = 0,
    /// A body or argument was not JSON, or not the JSON expected.
    CB_INVALID_JSON = 1,
    /// A value (field, enum name, date, size, hex...) was out of its domain.
    CB_INVALID_VALUE = 2,
    /// An argument was unusable (unknown name, bad parameters, bad id...).
    CB_INVALID_ARGUMENT = 3,
    /// The service answered with an error status (4xx/5xx); the message has
    /// the status, the service's message and any Retry-After.
    CB_API = 4,
    /// The service answered with a status the operation does not define.
    CB_UNEXPECTED_RESPONSE = 5,
    /// A lifecycle transition was refused.
    CB_TRANSITION = 6,
    /// A JSON Patch was malformed or not allowed (the service answers 400).
    CB_PATCH_REJECTED = 7,
    /// A JSON Patch conflicts with the resource's state (409).
    CB_PATCH_CONFLICT = 8,
    /// A JSON Patch is forbidden in this situation (403).
    CB_PATCH_FORBIDDEN = 9,
    /// No key slot of the vault opens with the password.
    CB_WRONG_PASSWORD = 10,
    /// A vault object failed authentication or does not match its id.
    CB_CORRUPT = 11,
    /// A vault object belongs to another vault.
    CB_FOREIGN_VAULT = 12,
    /// A vault object uses a format version this build cannot read.
    CB_UNSUPPORTED_VERSION = 13,
    /// A blob, bundle or other object the operation needs is missing.
    CB_NOT_FOUND = 14,
    /// The vault is locked by another process (its message names the
    /// holder, and says `cloudbackup unlock` removes the lock when it is
    /// stale); also a lock too old for its holder to act safely.
    CB_LOCKED = 15,
    /// A session was used out of order: after it finished (or failed to
    /// finish), or a result taken before it finished.
    CB_INVALID_STATE = 16,
    /// An error of a class newer than this header; the message tells more.
    CB_OTHER_ERROR = 99,
    /// A required pointer argument was NULL.
    CB_NULL_ARGUMENT = 100,
    /// A string argument was not valid UTF-8.
    CB_INVALID_UTF8 = 101,
    /// The caller's buffer was too small; what fitted was written.
    CB_BUFFER_TOO_SMALL = 102,
    /// The library panicked: a bug. The call had no effect that can be
    /// relied upon; the handles it was given may only be freed.
    CB_PANIC = 104,
}

/// Every status, for the name table and the tests.
pub(crate) const ALL_STATUSES: [cb_status; 22] = [
    cb_status::CB_OK,
    cb_status::CB_INVALID_JSON,
    cb_status::CB_INVALID_VALUE,
    cb_status::CB_INVALID_ARGUMENT,
    cb_status::CB_API,
    cb_status::CB_UNEXPECTED_RESPONSE,
    cb_status::CB_TRANSITION,
    cb_status::CB_PATCH_REJECTED,
    cb_status::CB_PATCH_CONFLICT,
    cb_status::CB_PATCH_FORBIDDEN,
    cb_status::CB_WRONG_PASSWORD,
    cb_status::CB_CORRUPT,
    cb_status::CB_FOREIGN_VAULT,
    cb_status::CB_UNSUPPORTED_VERSION,
    cb_status::CB_NOT_FOUND,
    cb_status::CB_LOCKED,
    cb_status::CB_INVALID_STATE,
    cb_status::CB_OTHER_ERROR,
    cb_status::CB_NULL_ARGUMENT,
    cb_status::CB_INVALID_UTF8,
    cb_status::CB_BUFFER_TOO_SMALL,
    cb_status::CB_PANIC,
];

impl From<ErrorCode> for cb_status {
    /// The mapping of the core's error classes, done once, here.
    fn from(code: ErrorCode) -> Self {
        match code {
            ErrorCode::InvalidJson => cb_status::CB_INVALID_JSON,
            ErrorCode::InvalidValue => cb_status::CB_INVALID_VALUE,
            ErrorCode::InvalidArgument => cb_status::CB_INVALID_ARGUMENT,
            ErrorCode::Api => cb_status::CB_API,
            ErrorCode::UnexpectedResponse => cb_status::CB_UNEXPECTED_RESPONSE,
            ErrorCode::Transition => cb_status::CB_TRANSITION,
            ErrorCode::PatchRejected => cb_status::CB_PATCH_REJECTED,
            ErrorCode::PatchConflict => cb_status::CB_PATCH_CONFLICT,
            ErrorCode::PatchForbidden => cb_status::CB_PATCH_FORBIDDEN,
            ErrorCode::WrongPassword => cb_status::CB_WRONG_PASSWORD,
            ErrorCode::Corrupt => cb_status::CB_CORRUPT,
            ErrorCode::ForeignVault => cb_status::CB_FOREIGN_VAULT,
            ErrorCode::UnsupportedVersion => cb_status::CB_UNSUPPORTED_VERSION,
            ErrorCode::NotFound => cb_status::CB_NOT_FOUND,
            ErrorCode::InvalidState => cb_status::CB_INVALID_STATE,
            ErrorCode::Locked => cb_status::CB_LOCKED,
            // `ErrorCode` is non-exhaustive: a class added to the core before
            // this binding learns it still surfaces as an error.
            _ => cb_status::CB_OTHER_ERROR,
        }
    }
}

impl cb_status {
    /// The status's name as a NUL-terminated string (`"CB_OK"`, ...).
    fn name(self) -> &'static [u8] {
        match self {
            cb_status::CB_OK => b"CB_OK\0",
            cb_status::CB_INVALID_JSON => b"CB_INVALID_JSON\0",
            cb_status::CB_INVALID_VALUE => b"CB_INVALID_VALUE\0",
            cb_status::CB_INVALID_ARGUMENT => b"CB_INVALID_ARGUMENT\0",
            cb_status::CB_API => b"CB_API\0",
            cb_status::CB_UNEXPECTED_RESPONSE => b"CB_UNEXPECTED_RESPONSE\0",
            cb_status::CB_TRANSITION => b"CB_TRANSITION\0",
            cb_status::CB_PATCH_REJECTED => b"CB_PATCH_REJECTED\0",
            cb_status::CB_PATCH_CONFLICT => b"CB_PATCH_CONFLICT\0",
            cb_status::CB_PATCH_FORBIDDEN => b"CB_PATCH_FORBIDDEN\0",
            cb_status::CB_WRONG_PASSWORD => b"CB_WRONG_PASSWORD\0",
            cb_status::CB_CORRUPT => b"CB_CORRUPT\0",
            cb_status::CB_FOREIGN_VAULT => b"CB_FOREIGN_VAULT\0",
            cb_status::CB_UNSUPPORTED_VERSION => b"CB_UNSUPPORTED_VERSION\0",
            cb_status::CB_NOT_FOUND => b"CB_NOT_FOUND\0",
            cb_status::CB_LOCKED => b"CB_LOCKED\0",
            cb_status::CB_INVALID_STATE => b"CB_INVALID_STATE\0",
            cb_status::CB_OTHER_ERROR => b"CB_OTHER_ERROR\0",
            cb_status::CB_NULL_ARGUMENT => b"CB_NULL_ARGUMENT\0",
            cb_status::CB_INVALID_UTF8 => b"CB_INVALID_UTF8\0",
            cb_status::CB_BUFFER_TOO_SMALL => b"CB_BUFFER_TOO_SMALL\0",
            cb_status::CB_PANIC => b"CB_PANIC\0",
        }
    }
}

/// The name of a status, e.g. `"CB_WRONG_PASSWORD"`, as a static string
/// (never freed); `"CB_UNKNOWN_STATUS"` for a value that is no status.
/// Takes an `int` so that any value, even one outside the enum, is safe.
#[no_mangle]
pub extern "C" fn cb_status_name(status: c_int) -> *const c_char {
    const UNKNOWN: &[u8] = b"CB_UNKNOWN_STATUS\0";
    let name = std::panic::catch_unwind(|| {
        ALL_STATUSES
            .iter()
            .find(|s| **s as c_int == status)
            .map_or(UNKNOWN, |s| s.name())
    })
    .unwrap_or(UNKNOWN);
    name.as_ptr().cast()
}

#[cfg(test)]
// The tests call the exports as C would, with pointers they own or just got
// from the library, each freed once: the exports' contract, met throughout.
#[allow(clippy::undocumented_unsafe_blocks)]
mod tests {
    use super::*;
    use std::collections::HashSet;
    use std::ffi::CStr;

    #[test]
    fn statuses_have_distinct_values_and_names() {
        let values: HashSet<i32> = ALL_STATUSES.iter().map(|s| *s as i32).collect();
        assert_eq!(values.len(), ALL_STATUSES.len());
        for s in ALL_STATUSES {
            let name = unsafe { CStr::from_ptr(cb_status_name(s as c_int)) };
            assert_eq!(name.to_str().unwrap(), format!("{s:?}"));
        }
        let unknown = unsafe { CStr::from_ptr(cb_status_name(-1)) };
        assert_eq!(unknown.to_str().unwrap(), "CB_UNKNOWN_STATUS");
        let locked = unsafe { CStr::from_ptr(cb_status_name(15)) };
        assert_eq!(locked.to_str().unwrap(), "CB_LOCKED");
    }

    #[test]
    fn every_error_code_has_its_own_status() {
        let codes = ErrorCode::ALL;
        let statuses: HashSet<cb_status> = codes.iter().map(|c| cb_status::from(*c)).collect();
        assert_eq!(statuses.len(), codes.len());
        assert!(!statuses.contains(&cb_status::CB_OTHER_ERROR));
        assert!(!statuses.contains(&cb_status::CB_OK));
        assert_eq!(cb_status::from(ErrorCode::Locked), cb_status::CB_LOCKED);
        // The core's classes keep to 1..=99; the boundary's own from 100.
        assert!(statuses.iter().all(|s| (1..=99).contains(&(*s as i32))));
        for s in ALL_STATUSES {
            let core = statuses.contains(&s) || s == cb_status::CB_OTHER_ERROR;
            assert_eq!(core, (1..=99).contains(&(s as i32)), "{s:?}");
        }
        let retired = unsafe { CStr::from_ptr(cb_status_name(103)) };
        assert_eq!(retired.to_str().unwrap(), "CB_UNKNOWN_STATUS");
        for c in codes {
            // The status name is the code's name, upper-cased.
            let name = format!("{:?}", cb_status::from(c));
            assert_eq!(name, format!("CB_{}", c.as_str().to_ascii_uppercase()));
        }
    }
}
