//! What a finished restore did ([`RestoreReport`]) and the `/errors`
//! report of the files it could not restore.

use serde::Serialize;

use super::Create;
use crate::engine::bundle::bundle_name;
use crate::engine::crypto::Id;
use crate::model::v2::common::{ErrorEntry, ErrorException, ErrorReport};
use crate::wire::LooseInt;
use crate::{Error, ErrorCode};

/// The `reason` of a restore's error report.
pub const ERRORS_REASON: &str = "unable_to_process_some_files";

/// What a finished restore did. JSON: `{"files_restored",
/// "bytes_restored", "files_skipped", "files_done", "errors",
/// "unmatched_includes"}` (`errors` null or the `/errors` patch value).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RestoreReport {
    /// Files and symlinks restored completely.
    pub files_restored: u64,
    /// Bytes of the files restored completely.
    pub bytes_restored: u64,
    /// Files and symlinks left alone because they exist and overwriting is off.
    pub files_skipped: u64,
    /// Files found complete from an earlier run (see
    /// [`RestoreOptions::resume`]), left alone.
    pub files_done: u64,
    /// The files that failed, as the value of the restore's `/errors`
    /// patch; `None` when none did.
    pub errors: Option<ErrorReport>,
    /// The inclusion patterns, as given, that matched no entry of the
    /// snapshot ([`Selector::unmatched_includes`]): hosts warn about them,
    /// as a pattern that selects nothing is most often a mistyped path.
    ///
    /// [`Selector::unmatched_includes`]: crate::engine::select::Selector::unmatched_includes
    pub unmatched_includes: Vec<String>,
    /// The modes and times to apply once content is written: every
    /// restored entry, deepest first (children before their directory, so
    /// writing into a directory does not change its time again), failed
    /// ones left out. Not part of the JSON report.
    #[serde(skip)]
    pub apply: Vec<Create>,
}

/// The exception code of a per-file error of class `code` (stable: agents
/// and consoles may key on it).
///
/// | class | code |
/// |---|---|
/// | not found (missing blob or bundle) | 7001 |
/// | corrupt | 7002 |
/// | foreign vault | 7003 |
/// | unsupported version | 7004 |
/// | wrong password | 7005 |
/// | anything else | 7099 |
///
/// A file the host could not write ([`RestoreSession::fail_path`]) has
/// type [`WRITE_FAILED`] and code [`WRITE_FAILED_CODE`].
pub fn exception_code(code: ErrorCode) -> i64 {
    match code {
        ErrorCode::NotFound => 7001,
        ErrorCode::Corrupt => 7002,
        ErrorCode::ForeignVault => 7003,
        ErrorCode::UnsupportedVersion => 7004,
        ErrorCode::WrongPassword => 7005,
        _ => 7099,
    }
}

/// The error type of a file the host could not write.
pub const WRITE_FAILED: &str = "write_failed";

/// The exception code of a file the host could not write.
pub const WRITE_FAILED_CODE: i64 = 7006;

/// Why a file failed: the core's error, or the host's message.
#[derive(Debug, Clone, PartialEq)]
pub(super) enum Failure {
    Core(Error),
    Host(String),
}

impl Failure {
    /// `(type, exception code, description)` of its error entry.
    pub(super) fn describe(&self) -> (String, i64, String) {
        match self {
            Failure::Core(e) => (
                e.code().as_str().to_string(),
                exception_code(e.code()),
                e.to_string(),
            ),
            Failure::Host(message) => {
                (WRITE_FAILED.to_string(), WRITE_FAILED_CODE, message.clone())
            }
        }
    }
}

/// The error report (the `/errors` patch value) of failed paths, in order;
/// `None` when the list is empty.
pub fn error_report<'a, P: AsRef<str>>(
    failed: impl IntoIterator<Item = (P, &'a Error)>,
    diagnostics: &str,
) -> Option<ErrorReport> {
    described_report(
        failed.into_iter().map(|(path, e)| {
            (
                path.as_ref().to_string(),
                e.code().as_str().to_string(),
                exception_code(e.code()),
                e.to_string(),
            )
        }),
        diagnostics,
    )
}

/// The error report of `(path, type, exception code, description)`.
pub(super) fn described_report(
    failed: impl IntoIterator<Item = (String, String, i64, String)>,
    diagnostics: &str,
) -> Option<ErrorReport> {
    let list: Vec<ErrorEntry> = failed
        .into_iter()
        .enumerate()
        .map(|(i, (path, kind, code, description))| ErrorEntry {
            index: LooseInt::new(i as i64),
            path,
            kind,
            description: None,
            exception: Some(ErrorException {
                code: LooseInt::new(code),
                description: Some(description),
                details: None,
            }),
        })
        .collect();
    if list.is_empty() {
        return None;
    }
    Some(ErrorReport {
        count: LooseInt::new(list.len() as i64),
        reason: Some(ERRORS_REASON.to_string()),
        diagnostics: Some(diagnostics.to_string()),
        list: Some(list),
        links: None,
    })
}

/// The name of blob `blob` of bundle `bundle`, for messages.
pub(crate) fn blob_name(blob: &Id, bundle: &Id) -> String {
    format!("blob {} in {}", blob.short(), bundle_name(bundle))
}
