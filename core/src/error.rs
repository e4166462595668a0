//! The core's one error type. Every binding maps [`Error`] once, using
//! [`Error::code`] for a stable machine-readable classification.

use crate::api::ApiError;
use crate::lifecycle::TransitionError;

/// Result alias used throughout the core.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Stable classification of an [`Error`], the same in every binding
/// (C status codes, JS `code` strings, Python exception classes).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ErrorCode {
    /// A body was not JSON, or not the JSON an operation expects.
    InvalidJson,
    /// A value (field, enum name, date, size, hex...) was out of its domain.
    InvalidValue,
    /// An argument given to a builder or function was unusable.
    InvalidArgument,
    /// The service answered with an error status.
    Api,
    /// The service answered with something the operation does not define.
    UnexpectedResponse,
    /// A lifecycle transition was refused.
    Transition,
    /// A JSON Patch was malformed or not allowed by the endpoint's policy (400).
    PatchRejected,
    /// A JSON Patch conflicts with the resource's state (409).
    PatchConflict,
    /// A JSON Patch is well-formed but forbidden in this situation (403).
    PatchForbidden,
    /// No key slot opens with the given password.
    WrongPassword,
    /// A vault object failed authentication or does not match its id.
    Corrupt,
    /// A vault object belongs to another vault.
    ForeignVault,
    /// A vault object uses a format version this build cannot read.
    UnsupportedVersion,
    /// A blob, bundle or other object the operation needs is missing.
    NotFound,
    /// A session was used out of order (after it finished, or a result
    /// taken before it finished).
    InvalidState,
    /// The vault is locked by another process (a gc, prune or repair holds
    /// it exclusively, or backups hold it while an exclusive lock is wanted).
    Locked,
}

impl ErrorCode {
    /// Every code, in declaration order (for bindings' and tests' tables).
    pub const ALL: [ErrorCode; 16] = [
        ErrorCode::InvalidJson,
        ErrorCode::InvalidValue,
        ErrorCode::InvalidArgument,
        ErrorCode::Api,
        ErrorCode::UnexpectedResponse,
        ErrorCode::Transition,
        ErrorCode::PatchRejected,
        ErrorCode::PatchConflict,
        ErrorCode::PatchForbidden,
        ErrorCode::WrongPassword,
        ErrorCode::Corrupt,
        ErrorCode::ForeignVault,
        ErrorCode::UnsupportedVersion,
        ErrorCode::NotFound,
        ErrorCode::InvalidState,
        ErrorCode::Locked,
    ];

    /// The code as a short `snake_case` string (used as the JS `code`).
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorCode::InvalidJson => "invalid_json",
            ErrorCode::InvalidValue => "invalid_value",
            ErrorCode::InvalidArgument => "invalid_argument",
            ErrorCode::Api => "api",
            ErrorCode::UnexpectedResponse => "unexpected_response",
            ErrorCode::Transition => "transition",
            ErrorCode::PatchRejected => "patch_rejected",
            ErrorCode::PatchConflict => "patch_conflict",
            ErrorCode::PatchForbidden => "patch_forbidden",
            ErrorCode::WrongPassword => "wrong_password",
            ErrorCode::Corrupt => "corrupt",
            ErrorCode::ForeignVault => "foreign_vault",
            ErrorCode::UnsupportedVersion => "unsupported_version",
            ErrorCode::NotFound => "not_found",
            ErrorCode::InvalidState => "invalid_state",
            ErrorCode::Locked => "locked",
        }
    }
}

/// Everything that can go wrong in the core.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A body could not be parsed as the expected JSON.
    #[error("invalid JSON for {what}: {message}")]
    InvalidJson {
        /// What was being parsed (an operation or type name).
        what: String,
        /// The parser's message, with line and column.
        message: String,
    },
    /// A value was outside its domain.
    #[error("invalid {field}: {reason}")]
    InvalidValue {
        /// The field or type that was wrong.
        field: String,
        /// Why.
        reason: String,
    },
    /// An argument to a builder or function was unusable.
    #[error("invalid argument `{name}`: {reason}")]
    InvalidArgument {
        /// The argument's name.
        name: String,
        /// Why.
        reason: String,
    },
    /// The service answered with an error status (4xx/5xx).
    #[error(transparent)]
    Api(#[from] ApiError),
    /// The service answered with a status the operation does not define.
    #[error("unexpected HTTP {status} from {operation}")]
    UnexpectedResponse {
        /// The operation that was parsed.
        operation: String,
        /// The status received.
        status: u16,
    },
    /// A lifecycle transition was refused.
    #[error(transparent)]
    Transition(#[from] TransitionError),
    /// A JSON Patch was malformed or not allowed (the service would answer 400).
    #[error("patch rejected{}: {reason}", op_label(*.index, .path))]
    PatchRejected {
        /// Index of the offending operation in the patch, if one is to blame.
        index: Option<usize>,
        /// Its path, if known.
        path: Option<String>,
        /// Why it was rejected.
        reason: String,
    },
    /// A JSON Patch conflicts with the resource's state (the service would answer 409).
    #[error("conflict: {message}")]
    PatchConflict {
        /// The resource's current state (wire name).
        state: String,
        /// The service-style message, e.g. "Modifying a restore that is already in a state of [...] is not allowed."
        message: String,
    },
    /// A JSON Patch is forbidden in the resource's situation (the service would answer 403).
    #[error("forbidden: {message}")]
    PatchForbidden {
        /// The service-style message, e.g. "The vault property (region) cannot be updated, reason: vault is not empty."
        message: String,
    },
    /// No key slot of the vault opens with the given password.
    #[error("wrong password: no key slot of this vault opens with it")]
    WrongPassword,
    /// A vault object failed authentication, is truncated, or does not
    /// match the id it was asked for. Nothing of it was used.
    #[error("corrupt {object}: {reason}")]
    Corrupt {
        /// Which object (e.g. "bundle 3fa2…", "blob 91c0… in bundle 3fa2…").
        object: String,
        /// What failed.
        reason: String,
    },
    /// A vault object was written for another vault.
    #[error("{object} belongs to another vault")]
    ForeignVault {
        /// Which object.
        object: String,
    },
    /// A vault object uses a format version this build cannot read.
    #[error("{object} has format version {found}; this build reads version {supported}")]
    UnsupportedVersion {
        /// Which object.
        object: String,
        /// The version found.
        found: u16,
        /// The version this build reads.
        supported: u16,
    },
    /// Something the operation needs is missing.
    #[error("{what} {id} not found")]
    NotFound {
        /// What kind of thing ("blob", "bundle", ...).
        what: String,
        /// Its id.
        id: String,
    },
    /// A session (backup, restore, verify) was used out of order.
    #[error("the {session} session {reason}")]
    InvalidState {
        /// Which kind of session ("backup", "restore").
        session: String,
        /// What is wrong, e.g. "has finished", "has not finished".
        reason: String,
    },
    /// Another process holds a lock that conflicts with the one wanted.
    #[error("vault is locked: {holder}{}", if *.stale { "; that lock is stale (its process is gone or has not refreshed it in time): `cloudbackup unlock` removes it" } else { "; try again once it is done" })]
    Locked {
        /// The lock object's id (hex).
        lock: String,
        /// Who holds it, e.g. "backup (shared) by pid 4242 on web1 since 2026-12-04T12:00:00Z".
        holder: String,
        /// Whether that lock is stale (crashed holder): removable with unlock.
        stale: bool,
    },
}

fn op_label(index: Option<usize>, path: &Option<String>) -> String {
    match (index, path) {
        (Some(i), Some(p)) => format!(" at operation {i} ({p})"),
        (Some(i), None) => format!(" at operation {i}"),
        (None, Some(p)) => format!(" ({p})"),
        (None, None) => String::new(),
    }
}

impl Error {
    /// The stable classification of this error.
    pub fn code(&self) -> ErrorCode {
        match self {
            Error::InvalidJson { .. } => ErrorCode::InvalidJson,
            Error::InvalidValue { .. } => ErrorCode::InvalidValue,
            Error::InvalidArgument { .. } => ErrorCode::InvalidArgument,
            Error::Api(_) => ErrorCode::Api,
            Error::UnexpectedResponse { .. } => ErrorCode::UnexpectedResponse,
            Error::Transition(_) => ErrorCode::Transition,
            Error::PatchRejected { .. } => ErrorCode::PatchRejected,
            Error::PatchConflict { .. } => ErrorCode::PatchConflict,
            Error::PatchForbidden { .. } => ErrorCode::PatchForbidden,
            Error::WrongPassword => ErrorCode::WrongPassword,
            Error::Corrupt { .. } => ErrorCode::Corrupt,
            Error::ForeignVault { .. } => ErrorCode::ForeignVault,
            Error::UnsupportedVersion { .. } => ErrorCode::UnsupportedVersion,
            Error::NotFound { .. } => ErrorCode::NotFound,
            Error::InvalidState { .. } => ErrorCode::InvalidState,
            Error::Locked { .. } => ErrorCode::Locked,
        }
    }

    /// The error's fields as a JSON object, for bindings that attach
    /// structured details to their exceptions (Python attributes, a JS
    /// `details` object): the same names in every binding.
    ///
    /// | code | members |
    /// |---|---|
    /// | `invalid_json` | `what`, `message` |
    /// | `invalid_value` | `field`, `reason` |
    /// | `invalid_argument` | `name`, `reason` |
    /// | `api` | `operation`, `status`, `kind`, `message`, `errors` (the body's list of errors, or null), `retry_after` (seconds or an HTTP date, or null) |
    /// | `unexpected_response` | `operation`, `status` |
    /// | `transition` | `resource`, `from`, `to`, `actor`, `rejection`, `conflict` |
    /// | `patch_rejected` | `index`, `path`, `reason` |
    /// | `patch_conflict` | `state`, `message` |
    /// | `patch_forbidden` | `message` |
    /// | `wrong_password` | (none) |
    /// | `corrupt` | `object`, `reason` |
    /// | `foreign_vault` | `object` |
    /// | `unsupported_version` | `object`, `found`, `supported` |
    /// | `not_found` | `what`, `id` |
    /// | `invalid_state` | `session`, `reason` |
    /// | `locked` | `lock`, `holder`, `stale` |
    pub fn details(&self) -> serde_json::Value {
        use crate::api::RetryAfter;
        use crate::lifecycle::Rejection;
        use serde_json::json;
        match self {
            Error::InvalidJson { what, message } => json!({"what": what, "message": message}),
            Error::InvalidValue { field, reason } => json!({"field": field, "reason": reason}),
            Error::InvalidArgument { name, reason } => json!({"name": name, "reason": reason}),
            Error::Api(e) => json!({
                "operation": e.operation,
                "status": e.status,
                "kind": e.kind.as_str(),
                "message": e.message,
                "errors": e.errors,
                "retry_after": match &e.retry_after {
                    Some(RetryAfter::Seconds(n)) => json!(n),
                    Some(RetryAfter::Date(d)) => json!(d),
                    None => serde_json::Value::Null,
                },
            }),
            Error::UnexpectedResponse { operation, status } => {
                json!({"operation": operation, "status": status})
            }
            Error::Transition(e) => json!({
                "resource": e.resource.as_str(),
                "from": e.from,
                "to": e.to,
                "actor": e.actor.as_str(),
                "rejection": match e.rejection {
                    Rejection::Terminal => "terminal",
                    Rejection::Backward => "backward",
                    Rejection::StopPending => "stop_pending",
                    Rejection::NotStarted => "not_started",
                    Rejection::NotPermitted => "not_permitted",
                },
                "conflict": e.is_conflict(),
            }),
            Error::PatchRejected {
                index,
                path,
                reason,
            } => json!({"index": index, "path": path, "reason": reason}),
            Error::PatchConflict { state, message } => json!({"state": state, "message": message}),
            Error::PatchForbidden { message } => json!({"message": message}),
            Error::WrongPassword => json!({}),
            Error::Corrupt { object, reason } => json!({"object": object, "reason": reason}),
            Error::ForeignVault { object } => json!({"object": object}),
            Error::UnsupportedVersion {
                object,
                found,
                supported,
            } => json!({"object": object, "found": found, "supported": supported}),
            Error::NotFound { what, id } => json!({"what": what, "id": id}),
            Error::InvalidState { session, reason } => {
                json!({"session": session, "reason": reason})
            }
            Error::Locked {
                lock,
                holder,
                stale,
            } => json!({"lock": lock, "holder": holder, "stale": stale}),
        }
    }

    /// Wraps a serde_json error met while parsing `what`.
    pub fn json(what: impl Into<String>, err: &serde_json::Error) -> Self {
        Error::InvalidJson {
            what: what.into(),
            message: err.to_string(),
        }
    }

    /// Shorthand for [`Error::Corrupt`].
    pub fn corrupt(object: impl Into<String>, reason: impl Into<String>) -> Self {
        Error::Corrupt {
            object: object.into(),
            reason: reason.into(),
        }
    }

    /// [`Error::InvalidState`] for a `session` ("backup", "restore") used
    /// after it finished.
    pub fn finished(session: impl Into<String>) -> Self {
        Error::InvalidState {
            session: session.into(),
            reason: "has finished".into(),
        }
    }

    /// Shorthand for [`Error::InvalidArgument`].
    pub fn argument(name: impl Into<String>, reason: impl Into<String>) -> Self {
        Error::InvalidArgument {
            name: name.into(),
            reason: reason.into(),
        }
    }
}

/// `bytes` as JSON of type `T` on a fast path: `None` for anything that
/// does not parse, and for text that is not UTF-8, which the caller then
/// reads its slower way for the exact message. The whole text's UTF-8 is
/// checked once and serde_json reads a `str`, so it does not check each
/// string again (5.6% of a patch plan).
pub(crate) fn from_utf8_json<'a, T: serde::Deserialize<'a>>(bytes: &'a [u8]) -> Option<T> {
    serde_json::from_str(std::str::from_utf8(bytes).ok()?).ok()
}

/// Parses `bytes` as JSON of type `T`, naming `what` and, for a value that
/// does not fit the model, the path of the offending field
/// (e.g. ``at `restores[0].started_time`: ...``).
///
/// The text is read into a [`serde_json::Value`] first (refusing repeated
/// keys, with serde_json's line and column for anything that is not JSON)
/// and `T` from that, as [`from_json_argument`] reads it: one
/// deserialisation path, so each model type's `Deserialize` is compiled once
/// (docs/PERFORMANCE.md, "One deserialisation path").
pub fn from_json_slice<T: serde::de::DeserializeOwned>(what: &str, bytes: &[u8]) -> Result<T> {
    let tree = json_value_from_slice(what, bytes)?;
    from_json_value(what, &tree)
}

/// [`from_json_slice`] for a caller that wants the [`serde_json::Value`]
/// itself: the same parse and errors, without reading the value again.
pub fn json_value_from_slice(what: &str, bytes: &[u8]) -> Result<serde_json::Value> {
    crate::json_text::parse(bytes).map_err(|e| Error::json(what, &e))
}

/// `value`, read from the JSON text of `what`, as a `T`: an
/// [`Error::InvalidJson`] naming the offending field's path.
fn from_json_value<T: serde::de::DeserializeOwned>(
    what: &str,
    value: &serde_json::Value,
) -> Result<T> {
    crate::value_path::deserialize(value).map_err(|failure| invalid_json(what, failure))
}

/// The [`Error::InvalidJson`] for a [`value_path::Failure`](crate::value_path::Failure)
/// (kept out of the generic callers, which are compiled once per type).
#[inline(never)]
fn invalid_json(what: &str, (path, e): crate::value_path::Failure) -> Error {
    let message = e.to_string();
    Error::InvalidJson {
        what: what.to_string(),
        message: match path {
            Some(path) => format!("at `{path}`: {message}"),
            None => message,
        },
    }
}

/// Converts a JSON value a caller passed as argument `arg` (an operation's
/// parameters, a response object) into `T`. A value that does not fit is an
/// [`Error::InvalidArgument`] named by the path of the offending field
/// (`params.body.backup_id`), or by `arg` itself for a problem at the top
/// (a missing or unknown member, which the message names).
pub fn from_json_argument<T: serde::de::DeserializeOwned>(
    arg: &str,
    value: &serde_json::Value,
) -> Result<T> {
    crate::value_path::deserialize(value).map_err(|failure| invalid_argument(arg, failure))
}

/// The [`Error::InvalidArgument`] for a [`value_path::Failure`](crate::value_path::Failure)
/// of argument `arg`.
#[inline(never)]
fn invalid_argument(arg: &str, (path, e): crate::value_path::Failure) -> Error {
    Error::InvalidArgument {
        name: match path {
            Some(path) => format!("{arg}.{path}"),
            None => arg.to_string(),
        },
        reason: e.to_string(),
    }
}

/// What a serde `Deserialize` reports for a value its parser refused: the
/// reason alone for an [`Error::InvalidArgument`] (the field's path is
/// added by [`from_json_argument`], so the name is not said twice), else
/// the whole message.
pub fn serde_reason(e: Error) -> String {
    match e {
        Error::InvalidArgument { reason, .. } => reason,
        other => other.to_string(),
    }
}

/// An [`Error::InvalidArgument`] for `given`, which is not one of the `known`
/// names of a `what` (argument `arg`): a short list is given whole; from a
/// long one the closest names are suggested, and `listed_by` says where to
/// find them all.
pub(crate) fn unknown_name<'a>(
    arg: &str,
    what: &str,
    given: &str,
    known: impl Iterator<Item = &'a str> + Clone,
    listed_by: &str,
) -> Error {
    /// Up to this many names are listed in full.
    const LIST_ALL: usize = 16;
    let count = known.clone().count();
    let reason = if count <= LIST_ALL {
        let all: Vec<&str> = known.collect();
        format!(
            "unknown {what} {given:?}; expected one of: {}",
            all.join(", ")
        )
    } else {
        let near = near_matches(given, known);
        let hint = if near.is_empty() {
            String::new()
        } else {
            format!("; did you mean {}?", near.join(" or "))
        };
        format!("unknown {what} {given:?}{hint} ({listed_by} lists all {count})")
    };
    Error::argument(arg, reason)
}

/// The (at most three) names closest to `given`: those at the smallest edit
/// distance (ignoring case), if it is small, and those with the same last
/// `.` segment.
fn near_matches<'a>(given: &str, known: impl Iterator<Item = &'a str>) -> Vec<&'a str> {
    let lower = |s: &str| s.to_ascii_lowercase();
    let last = |s: &str| lower(s.rsplit('.').next().unwrap_or(s));
    let threshold = (given.chars().count() / 4).max(2);
    let scored: Vec<(usize, bool, &str)> = known
        .map(|name| {
            let distance = edit_distance(&lower(given), &lower(name));
            (distance, last(name) == last(given), name)
        })
        .collect();
    let best = scored.iter().map(|(d, _, _)| *d).min().unwrap_or(0);
    let mut near: Vec<(usize, &str)> = scored
        .into_iter()
        .filter(|&(d, same_last, _)| same_last || (d == best && d <= threshold))
        .map(|(d, _, name)| (d, name))
        .collect();
    near.sort();
    near.into_iter().take(3).map(|(_, name)| name).collect()
}

/// Levenshtein distance in characters.
fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut diagonal = row[0];
        row[0] = i + 1;
        for (j, &cb) in b.iter().enumerate() {
            let substitute = diagonal + usize::from(ca != cb);
            diagonal = row[j + 1];
            row[j + 1] = substitute.min(row[j] + 1).min(diagonal + 1);
        }
    }
    row[b.len()]
}

/// Serialises `value` to JSON bytes, by way of a [`serde_json::Value`]: the
/// model types are serialised to values for the bindings anyway, so their
/// `Serialize` is compiled for one serializer, not two (docs/PERFORMANCE.md,
/// "Request bodies through a value"). The text is the same as
/// `serde_json::to_vec`'s (`by_name::models`'s differential test checks every
/// model type) as long as serde_json keeps members in order (its
/// `preserve_order` feature) and the type holds no raw JSON text (`RawValue`,
/// which a `Value` reads again), no `f32` (written as the `f64` it widens to)
/// and no integer beyond 64 bits (refused).
pub fn to_json_vec<T: serde::Serialize + ?Sized>(what: &str, value: &T) -> Result<Vec<u8>> {
    let value = serde_json::to_value(value).map_err(|e| Error::json(what, &e))?;
    serde_json::to_vec(&value).map_err(|e| Error::json(what, &e))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_code_has_a_distinct_name() {
        let codes = ErrorCode::ALL;
        let names: std::collections::HashSet<_> = codes.iter().map(|c| c.as_str()).collect();
        assert_eq!(names.len(), codes.len());
    }

    #[test]
    fn json_errors_name_what_was_parsed() {
        let e = from_json_slice::<u32>("restore", b"{'a': 1}").unwrap_err();
        assert_eq!(e.code(), ErrorCode::InvalidJson);
        assert!(
            e.to_string().starts_with("invalid JSON for restore: "),
            "{e}"
        );
    }

    #[test]
    fn json_errors_name_the_field_path() {
        #[derive(Debug, serde::Deserialize)]
        #[allow(dead_code)]
        struct Item {
            when: crate::wire::Timestamp,
        }
        #[derive(Debug, serde::Deserialize)]
        #[allow(dead_code)]
        struct List {
            items: Vec<Item>,
        }
        let e = from_json_slice::<List>(
            "list",
            br#"{"items": [{"when": "2014-10-20T13:11:58Z"}, {"when": "soon"}]}"#,
        )
        .unwrap_err()
        .to_string();
        assert!(
            e.contains("at `items[1].when`") && e.contains("soon"),
            "{e}"
        );
        assert!(
            from_json_slice::<u32>("n", b"1 2").is_err(),
            "trailing data is refused"
        );
        assert_eq!(from_json_slice::<u32>("n", b" 7 \n").unwrap(), 7);
    }

    #[test]
    fn edit_distance_counts_characters() {
        assert_eq!(edit_distance("", "abc"), 3);
        assert_eq!(edit_distance("kitten", "sitting"), 3);
        assert_eq!(edit_distance("v2.restore", "v2.restores"), 1);
        assert_eq!(edit_distance("état", "etat"), 1);
    }

    #[test]
    fn unknown_names_list_few_and_suggest_among_many() {
        let few = ["user", "agent", "scheduler"];
        let e = unknown_name("actor", "actor", "robot", few.iter().copied(), "");
        assert_eq!(e.code(), ErrorCode::InvalidArgument);
        assert_eq!(
            e.to_string(),
            "invalid argument `actor`: unknown actor \"robot\"; expected one of: user, agent, scheduler"
        );
        let many: Vec<String> = (0..40).map(|i| format!("v2.things.op_{i}")).collect();
        let known = || many.iter().map(String::as_str);
        let e = unknown_name("operation", "operation", "v2.thing.op_7", known(), "list()");
        assert_eq!(
            e.to_string(),
            "invalid argument `operation`: unknown operation \"v2.thing.op_7\"; \
             did you mean v2.things.op_7? (list() lists all 40)"
        );
        let e = unknown_name("operation", "operation", "zzz", known(), "list()");
        assert_eq!(
            e.to_string(),
            "invalid argument `operation`: unknown operation \"zzz\" (list() lists all 40)"
        );
    }

    #[test]
    fn patch_rejections_name_the_operation() {
        let e = Error::PatchRejected {
            index: Some(2),
            path: Some("/state".into()),
            reason: "not allowed".into(),
        };
        assert_eq!(
            e.to_string(),
            "patch rejected at operation 2 (/state): not allowed"
        );
    }
}
