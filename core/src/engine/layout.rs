//! Where a vault's objects live in the host's storage, and what a listed
//! name is. Every host (the Python CLI, the C agent, node) stores objects
//! under exactly these names, so any of them reads what another wrote:
//!
//! ```text
//! config                      the vault's config
//! bundles/<64 hex>            bundles
//! index/<64 hex>              index deltas
//! snapshots/<64 hex>          snapshots
//! locks/<64 hex>              locks (see `lock`)
//! lost+found/<dir>/<64 hex>   objects `repair` set aside (unreadable)
//! <dir>/<anything>.tmp        a host's temporary object (a write in flight,
//!                             or left by a killed process)
//! ```

use serde::Serialize;

use super::crypto::Id;
use super::format::ObjectKind;
use crate::{Error, Result};

/// The name of the config object.
pub const CONFIG_NAME: &str = "config";

/// The directory `repair` moves unreadable objects into (kept, not deleted,
/// so nothing is lost that a later build or a person could still read).
pub const SET_ASIDE_DIR: &str = "lost+found";

/// The suffix of a host's temporary objects (written, then renamed).
pub const TEMPORARY_SUFFIX: &str = ".tmp";

/// The name object `id` of `kind` is stored under, e.g. `bundles/<hex>`
/// (`config` for the config, whose id is not part of its name).
pub fn object_name(kind: ObjectKind, id: &Id) -> String {
    match kind.dir() {
        Some(dir) => format!("{dir}/{}", id.to_hex()),
        None => CONFIG_NAME.to_string(),
    }
}

/// The name `repair` sets an unreadable object aside under.
pub fn set_aside_name(kind: ObjectKind, id: &Id) -> String {
    format!("{SET_ASIDE_DIR}/{}", object_name(kind, id))
}

/// What a listed name is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StoredName {
    /// The config.
    Config,
    /// An object of the vault.
    Object {
        /// Its kind.
        kind: ObjectKind,
        /// Its id.
        id: Id,
    },
    /// A host's temporary object in a kind's directory.
    Temporary {
        /// The directory's kind.
        kind: ObjectKind,
    },
    /// An object `repair` set aside.
    SetAside {
        /// Its kind.
        kind: ObjectKind,
        /// Its id.
        id: Id,
    },
    /// Anything else (never touched by the core's rules).
    Unknown,
}

/// Classifies a stored name (`/`-separated, relative to the vault).
pub fn parse_name(name: &str) -> StoredName {
    if name == CONFIG_NAME {
        return StoredName::Config;
    }
    let (aside, rest) = match name
        .strip_prefix(SET_ASIDE_DIR)
        .and_then(|r| r.strip_prefix('/'))
    {
        Some(rest) => (true, rest),
        None => (false, name),
    };
    let Some((dir, base)) = rest.split_once('/') else {
        return StoredName::Unknown;
    };
    let Some(kind) = ObjectKind::from_dir(dir) else {
        return StoredName::Unknown;
    };
    // Only the canonical (lower-case) spelling is the object's name.
    let id = Id::parse(base).ok().filter(|id| id.to_hex() == base);
    match (id.ok_or(()), aside) {
        (Ok(id), false) => StoredName::Object { kind, id },
        (Ok(id), true) => StoredName::SetAside { kind, id },
        (Err(_), false) if base.ends_with(TEMPORARY_SUFFIX) && !base.contains('/') => {
            StoredName::Temporary { kind }
        }
        _ => StoredName::Unknown,
    }
}

/// Whether the stored object `name` belongs in a host's local metadata
/// cache ([`ObjectKind::is_cached`]): an index delta or snapshot under its
/// canonical name. Temporary and set-aside objects, the config, locks and
/// bundles are never cached.
pub fn is_cached(name: &str) -> bool {
    matches!(parse_name(name), StoredName::Object { kind, .. } if kind.is_cached())
}

/// One object as the host's listing shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Listed {
    /// Its name, relative to the vault (`bundles/<hex>`).
    pub name: String,
    /// Its size in bytes.
    pub size: u64,
    /// When it was last written, nanoseconds since the Unix epoch (storage's
    /// clock: the file's mtime, Swift's last_modified).
    pub mtime_ns: i64,
}

/// Resolves `text` (a whole id or a unique prefix of at least one hex
/// digit) among `ids` of objects called `what` ("snapshot").
///
/// Errors: [`Error::InvalidValue`] when `text` is not hex,
/// [`Error::NotFound`] when nothing matches, [`Error::InvalidArgument`]
/// when several do.
pub fn resolve_prefix<'a>(
    what: &str,
    ids: impl IntoIterator<Item = &'a Id>,
    text: &str,
) -> Result<Id> {
    let wanted = text.to_ascii_lowercase();
    if wanted.is_empty() || wanted.len() > 64 || !wanted.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(Error::InvalidValue {
            field: what.to_string(),
            reason: format!("{text:?} is not an id or id prefix (1 to 64 hex digits)"),
        });
    }
    let mut matches: Vec<Id> = ids
        .into_iter()
        .filter(|id| id.to_hex().starts_with(&wanted))
        .copied()
        .collect();
    matches.sort_unstable();
    matches.dedup();
    match matches.as_slice() {
        [] => Err(Error::NotFound {
            what: what.to_string(),
            id: text.to_string(),
        }),
        [one] => Ok(*one),
        many => Err(Error::argument(
            what,
            format!("{text} matches {} {what}s; give more digits", many.len()),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_through_parse() {
        let id = Id([0xab; 32]);
        for kind in ObjectKind::STORED {
            let name = object_name(kind, &id);
            assert_eq!(parse_name(&name), StoredName::Object { kind, id });
            assert_eq!(
                parse_name(&set_aside_name(kind, &id)),
                StoredName::SetAside { kind, id }
            );
            let tmp = format!("{name}.123.456.tmp");
            assert_eq!(parse_name(&tmp), StoredName::Temporary { kind });
        }
        assert_eq!(object_name(ObjectKind::Config, &id), "config");
        assert_eq!(parse_name("config"), StoredName::Config);
        for other in [
            "bundles/xyz",
            "nope/abc",
            "bundles",
            "",
            "lost+found/config",
            "x.tmp",
        ] {
            assert_eq!(parse_name(other), StoredName::Unknown, "{other}");
        }
    }

    #[test]
    fn only_index_deltas_and_snapshots_are_cached() {
        let id = Id([0xcd; 32]);
        assert!(is_cached(&object_name(ObjectKind::Index, &id)));
        assert!(is_cached(&object_name(ObjectKind::Snapshot, &id)));
        for name in [
            object_name(ObjectKind::Bundle, &id),
            object_name(ObjectKind::Lock, &id),
            "config".to_string(),
            set_aside_name(ObjectKind::Index, &id),
            format!("{}.1.2.tmp", object_name(ObjectKind::Snapshot, &id)),
            format!("index/{}", "CD".repeat(32)),
            "index/abc".to_string(),
        ] {
            assert!(!is_cached(&name), "{name}");
        }
        for kind in ObjectKind::STORED {
            assert!(!kind.is_cached() || kind.is_immutable(), "{kind:?}");
        }
        assert!(ObjectKind::Bundle.is_immutable());
        assert!(!ObjectKind::Lock.is_immutable() && !ObjectKind::Config.is_immutable());
    }

    #[test]
    fn prefixes_resolve_uniquely_or_say_why_not() {
        let a = Id::parse(&format!("ab{}", "0".repeat(62))).unwrap();
        let b = Id::parse(&format!("ac{}", "0".repeat(62))).unwrap();
        let ids = [a, b];
        assert_eq!(resolve_prefix("snapshot", &ids, "AB").unwrap(), a);
        assert_eq!(resolve_prefix("snapshot", &ids, &b.to_hex()).unwrap(), b);
        let e = resolve_prefix("snapshot", &ids, "a").unwrap_err();
        assert_eq!(e.code(), crate::ErrorCode::InvalidArgument, "{e}");
        let e = resolve_prefix("snapshot", &ids, "ff").unwrap_err();
        assert_eq!(e.code(), crate::ErrorCode::NotFound, "{e}");
        for bad in ["", "xyz", "../a"] {
            let e = resolve_prefix("snapshot", &ids, bad).unwrap_err();
            assert_eq!(e.code(), crate::ErrorCode::InvalidValue, "{bad}: {e}");
        }
    }
}
