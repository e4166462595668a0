//! Every request and response body type by name, for the bindings: parse
//! JSON into the typed model (so it is checked exactly as the Rust API
//! checks it) and get it back re-serialised, in its normal form.
//!
//! Names are `version.Type`: `v1.Agent`, `v2.Restore`, `v2.StartRestoreBody`,
//! and `v2.Patch` for the JSON Patch body of the v2 PATCH operations. Any
//! name takes a `[]` suffix for a JSON array of that type (`v1.Agent[]`, as
//! v1 list operations answer).
//!
//! ```
//! use cloudbackup_core::by_name::parse_model;
//! let restore = parse_model("v2.StartRestoreBody", br#"{"backup_id": "b1",
//!     "destination_agent_ID": "a1", "destination_path": "/tmp/r",
//!     "overwrite_files": false, "encrypted_password_hex": null,
//!     "inclusions": [{"type": "file", "path": "/etc/hosts"}], "exclusions": []}"#).unwrap();
//! // The reference table's spelling of the agent id is read, and written normally.
//! assert_eq!(restore["destination_agent_id"], "a1");
//! let err = parse_model("v2.StartRestoreBody", br#"{"backup_id": 7}"#).unwrap_err();
//! assert!(err.to_string().contains("backup_id"), "{err}");
//! ```

use serde::de::DeserializeOwned;
use serde::Serialize;
use serde_json::Value;

use crate::error::{from_json_slice, unknown_name};
use crate::{Error, Result};

/// Parses JSON bytes (an array of the type when the flag is set) into a
/// typed model and re-serialises it; the name is used in errors.
type ParseFn = fn(&str, &[u8], bool) -> Result<Value>;

/// The names of every registered model type (without the `[]` form), v1
/// then v2, grouped by module.
pub fn model_types() -> &'static [&'static str] {
    NAMES
}

/// Parses `json` as the model type `type_name` (see the
/// [module documentation](self) for names) and returns it re-serialised:
/// unknown members dropped, quirks kept as they came, optional members
/// written as `null`.
///
/// Errors: an unknown `type_name` is an [`Error::InvalidArgument`]
/// suggesting the closest names; JSON that is not valid, or does not fit
/// the type, is an [`Error::InvalidJson`] naming the type and the path of
/// the offending member (``at `inclusions[0].type`: ...``).
pub fn parse_model(type_name: &str, json: &[u8]) -> Result<Value> {
    let (base, list) = match type_name.strip_suffix("[]") {
        Some(base) => (base, true),
        None => (type_name, false),
    };
    let parse = NAMES
        .iter()
        .zip(PARSERS)
        .find(|(name, _)| **name == base)
        .map(|(_, parse)| parse)
        .ok_or_else(|| {
            unknown_name(
                "type_name",
                "model type",
                type_name,
                NAMES.iter().copied(),
                "by_name::model_types()",
            )
        })?;
    parse(type_name, json, list)
}

fn parse_as<T: Serialize + DeserializeOwned>(what: &str, json: &[u8], list: bool) -> Result<Value> {
    let value = if list {
        serde_json::to_value(from_json_slice::<Vec<T>>(what, json)?)
    } else {
        serde_json::to_value(from_json_slice::<T>(what, json)?)
    };
    value.map_err(|e| Error::json(what, &e))
}

/// Declares [`NAMES`] and, in the same order, [`PARSERS`]: the model types
/// as `version::module::{Type, ...}` (named `version.Type`), then any type
/// outside `model` with its name.
macro_rules! model_registry {
    (
        $( $version:ident :: $module:ident :: { $( $ty:ident ),+ $(,)? } )+
        ;
        $( $name:literal => $other:ty ),* $(,)?
    ) => {
        static NAMES: &[&str] = &[
            $($( concat!(stringify!($version), ".", stringify!($ty)), )+)+
            $( $name, )*
        ];
        static PARSERS: &[ParseFn] = &[
            $($( parse_as::<crate::model::$version::$module::$ty>, )+)+
            $( parse_as::<$other>, )*
        ];
        /// [`PARSERS`] reading the text straight into each type, as the
        /// core did before it read every type from a `Value`.
        #[cfg(test)]
        static TEXT_PARSERS: &[ParseFn] = &[
            $($( tests::parse_text_as::<crate::model::$version::$module::$ty>, )+)+
            $( tests::parse_text_as::<$other>, )*
        ];
        /// Each type read from text, then written by `serde_json::to_vec`
        /// and by [`to_json_vec`](crate::error::to_json_vec).
        #[cfg(test)]
        static TEXT_WRITERS: &[tests::WriteFn] = &[
            $($( tests::write_both::<crate::model::$version::$module::$ty>, )+)+
            $( tests::write_both::<$other>, )*
        ];
    };
}

model_registry! {
    v1::activity::{Activity}
    v1::agent::{
        Agent, UpdateAgentBehaviorRequest, EnableAgentRequest, MachineAgentRef,
        EncryptVolumeRequest, ChangeEncryptionPasswordRequest, MigrateVaultRequest,
    }
    v1::backup::{BackupActionRequest, Backup, BackupReport, CompletedBackup, AvailableBackup}
    v1::configuration::{BackupConfigurationSpec, BackupConfiguration, EnableRequest}
    v1::restore::{
        RestoreSpec, UpdateRestoreRequest, Restore, RestoreActionRequest, RestoreFile,
        RestoreReport,
    }
    v2::activity::{ActivityList}
    v2::agent::{Agent, AgentList, AgentStatus, NewAgent, TokenRequest, TokenResponse}
    v2::backup::{Backup, BackupList, StartBackupBody}
    v2::browse::{HostBrowseRequest, BackupBrowseRequest, BrowseResult}
    v2::cleanup::{Cleanup, CleanupList, StartCleanupBody}
    v2::common::{ErrorReport, ServiceMessage}
    v2::configuration::{Configuration, ConfigurationList, CreateConfigurationBody}
    v2::event::{EventList, ProjectEvent, AgentEvent}
    v2::logfile::{Logfile, LogfileList}
    v2::restore::{Restore, RestoreList, StartRestoreBody}
    v2::settings::{AgentSettings, SummarySettings, HealthReport, SystemHealth}
    v2::vault::{
        MoveVault, VaultEncryptionRequest, VaultEncryptionReport, VaultEncryptionResult,
        VaultPasswordRequest, VaultPasswordReport, VaultPasswordResult,
    }
    ;
    "v2.Patch" => crate::patch::Patch,
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use serde_json::json;

    use super::*;
    use crate::ErrorCode;

    #[test]
    fn names_are_unique_and_versioned() {
        let names: BTreeSet<&str> = model_types().iter().copied().collect();
        assert_eq!(names.len(), model_types().len());
        assert_eq!(names.len(), PARSERS.len());
        assert_eq!(names.len(), 63, "22 v1 types, 40 v2 types and v2.Patch");
        for name in model_types() {
            let (version, ty) = name.split_once('.').unwrap();
            assert!(["v1", "v2"].contains(&version), "{name}");
            assert!(ty.starts_with(|c: char| c.is_ascii_uppercase()), "{name}");
        }
        for name in ["v2.Restore", "v2.StartRestoreBody", "v1.Agent", "v2.Patch"] {
            assert!(names.contains(name), "{name}");
        }
    }

    #[test]
    fn bodies_are_checked_and_normalised() {
        let body = br#"{"backup_id": "b1", "destination_agent_ID": "a1",
            "destination_path": "/tmp/r", "overwrite_files": false,
            "inclusions": [{"type": "folder", "path": "/web/"}], "exclusions": [],
            "not_in_the_model": 1}"#;
        let value = parse_model("v2.StartRestoreBody", body).unwrap();
        assert_eq!(value["destination_agent_id"], "a1");
        assert!(value.get("destination_agent_ID").is_none());
        assert!(value.get("not_in_the_model").is_none());
        assert_eq!(value["encrypted_password_hex"], Value::Null);
        // v1 quirks are written back as they came.
        let agent_ref = parse_model("v1.MachineAgentRef", br#"{"MachineAgentId": 869}"#).unwrap();
        assert_eq!(agent_ref, json!({"MachineAgentId": 869}));
    }

    #[test]
    fn a_suffix_reads_an_array() {
        let list = parse_model(
            "v1.MachineAgentRef[]",
            br#"[{"MachineAgentId": 1}, {"MachineAgentId": 2}]"#,
        )
        .unwrap();
        assert_eq!(list, json!([{"MachineAgentId": 1}, {"MachineAgentId": 2}]));
        let e = parse_model(
            "v1.MachineAgentRef[]",
            br#"[{"MachineAgentId": 1}, {"MachineAgentId": "x"}]"#,
        )
        .unwrap_err();
        assert_eq!(e.code(), ErrorCode::InvalidJson);
        let message = e.to_string();
        assert!(
            message.contains("v1.MachineAgentRef[]") && message.contains("at `[1].MachineAgentId`"),
            "{message}"
        );
        let e = parse_model("v1.MachineAgentRef", b"[]").unwrap_err();
        assert_eq!(e.code(), ErrorCode::InvalidJson);
    }

    #[test]
    fn bad_json_names_the_type_and_the_field() {
        for (json, expected) in [
            (&b"{'state': 'queued'}"[..], "invalid JSON for v2.Restore"),
            (b"", "invalid JSON for v2.Restore"),
            (br#"{"id": 1}"#, "at `id`"),
        ] {
            let e = parse_model("v2.Restore", json).unwrap_err();
            assert_eq!(e.code(), ErrorCode::InvalidJson);
            assert!(e.to_string().contains(expected), "{e}");
        }
        let e = parse_model("v1.MachineAgentRef", br#"{"MachineAgentId": 1} {}"#).unwrap_err();
        assert!(e.to_string().contains("trailing characters"), "{e}");
        // A repeated key is refused in any object, a member the type ignores
        // too, with its position.
        for (json, key) in [
            (
                &br#"{"MachineAgentId": 1, "MachineAgentId": 2}"#[..],
                "MachineAgentId",
            ),
            (br#"{"MachineAgentId": 1, "x": [], "x": []}"#, "x"),
        ] {
            let e = parse_model("v1.MachineAgentRef", json).unwrap_err();
            assert_eq!(e.code(), ErrorCode::InvalidJson);
            assert!(
                e.to_string()
                    .contains(&format!("duplicate key `{key}` at line 1 column")),
                "{e}"
            );
        }
        let e = parse_model("v2.Patch", br#"[{"op": "jump", "path": "/a"}]"#).unwrap_err();
        assert!(e.to_string().contains("at `[0].op`"), "{e}");
        assert_eq!(
            parse_model("v2.Patch", br#"[{"op": "remove", "path": "/a"}]"#).unwrap(),
            json!([{"op": "remove", "path": "/a"}])
        );
    }

    /// [`write_both`] for one type.
    pub(super) type WriteFn = fn(&[u8], bool) -> Option<(Vec<u8>, Vec<u8>)>;

    /// `json` read as a `T` (or a list of them) and written back by
    /// `serde_json::to_vec` and by `to_json_vec` (through a `Value`); `None`
    /// if it does not read.
    pub(super) fn write_both<T: Serialize + DeserializeOwned>(
        json: &[u8],
        list: bool,
    ) -> Option<(Vec<u8>, Vec<u8>)> {
        fn both<T: Serialize + ?Sized>(value: &T) -> (Vec<u8>, Vec<u8>) {
            let direct = serde_json::to_vec(value).unwrap();
            (direct, crate::error::to_json_vec("body", value).unwrap())
        }
        if list {
            serde_json::from_slice::<Vec<T>>(json)
                .ok()
                .map(|v| both(&v))
        } else {
            serde_json::from_slice::<T>(json).ok().map(|v| both(&v))
        }
    }

    /// The text read straight into `T` (with path tracking), as
    /// `from_json_slice` read it before it went through a `Value`.
    pub(super) fn parse_text_as<T: Serialize + DeserializeOwned>(
        what: &str,
        json: &[u8],
        list: bool,
    ) -> Result<Value> {
        fn read<T: DeserializeOwned>(json: &[u8]) -> std::result::Result<T, String> {
            let mut de = serde_json::Deserializer::from_slice(json);
            let value = serde_path_to_error::deserialize(&mut de).map_err(|e| {
                match e.path().to_string() {
                    path if path == "." => e.into_inner().to_string(),
                    path => format!("at `{path}`: {}", e.into_inner()),
                }
            })?;
            de.end().map_err(|e| e.to_string())?;
            Ok(value)
        }
        let value = if list {
            read::<Vec<T>>(json).map(|v| serde_json::to_value(v).unwrap())
        } else {
            read::<T>(json).map(|v| serde_json::to_value(v).unwrap())
        };
        value.map_err(|message| Error::InvalidJson {
            what: what.into(),
            message,
        })
    }

    /// Every member of `value` (objects' members, arrays' first items) as a
    /// JSON Pointer, depth first.
    fn member_pointers(value: &Value, at: &str, out: &mut Vec<String>) {
        match value {
            Value::Object(members) => {
                for (key, member) in members {
                    let path = format!("{at}/{}", key.replace('~', "~0").replace('/', "~1"));
                    out.push(path.clone());
                    member_pointers(member, &path, out);
                }
            }
            Value::Array(items) if !items.is_empty() => {
                let path = format!("{at}/0");
                out.push(path.clone());
                member_pointers(&items[0], &path, out);
            }
            _ => {}
        }
    }

    /// Reading each type through a `Value` (one deserialisation path)
    /// accepts and refuses exactly what reading the text straight into it
    /// did, with the same result or the same message but for the text
    /// path's ` at line L column C`, over every reference sample each type
    /// reads, with each member removed or set to 18 other values. Two
    /// differences are intended: repeated keys are refused in every object
    /// (the mutations make none), and a struct given as an array is refused.
    /// Each body read is also written back both ways (`to_json_vec` goes
    /// through a `Value`): the same text.
    #[test]
    fn one_deserialisation_path_accepts_what_the_text_path_accepted() {
        let replacements = [
            json!(null),
            json!(0),
            json!(-1),
            json!(7),
            json!(1.5),
            json!(18446744073709551615u64),
            json!(""),
            json!("x"),
            json!("12"),
            json!("true"),
            json!(true),
            json!("2014-10-20T13:11:58Z"),
            json!("\\/Date(1357151359000)\\/"),
            json!("35.3 MB"),
            json!([]),
            json!([1]),
            json!({}),
            json!({"a": 1}),
        ];
        let mut samples = Vec::new();
        for dir in ["samples-v1", "samples-v2"] {
            let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("../tests/data/rackspace")
                .join(dir);
            let mut names: Vec<_> = std::fs::read_dir(&dir)
                .unwrap()
                .map(|e| e.unwrap().path())
                .collect();
            names.sort();
            for path in names {
                let text = std::fs::read(&path).unwrap();
                if let Ok(value) = serde_json::from_slice::<Value>(&text) {
                    samples.push((path, value));
                }
            }
        }
        let (mut cases, mut refused, mut written) = (0, 0, 0);
        for (path, sample) in &samples {
            for (index, name) in NAMES.iter().enumerate() {
                for list in [false, true] {
                    let mut check = |text: &[u8]| {
                        let old = TEXT_PARSERS[index](name, text, list);
                        let new = PARSERS[index](name, text, list);
                        match (old, new) {
                            (Ok(a), Ok(b)) => {
                                assert_eq!(a, b, "{name} {path:?}");
                                // Written through a value, as request bodies
                                // are, the same text as written directly.
                                let (direct, through) = TEXT_WRITERS[index](text, list)
                                    .unwrap_or_else(|| panic!("{name} {path:?} reads"));
                                assert_eq!(
                                    String::from_utf8_lossy(&direct),
                                    String::from_utf8_lossy(&through),
                                    "{name} (list {list}) on {path:?}"
                                );
                                written += 1;
                                false
                            }
                            // The same message, but for the text path's
                            // position at its end.
                            (Err(a), Err(b)) if !b.to_string().contains("invalid type: sequence, expected struct ") => {
                                let (a, b) = (a.to_string(), b.to_string());
                                let a = a.find(" at line ").map_or(&a[..], |at| &a[..at]);
                                assert_eq!(a, b, "{name} (list {list}) on {path:?}");
                                true
                            }
                            // A struct given as an array (serde_json reads
                            // its fields in order) is refused on purpose.
                            (_, Err(e)) if e.to_string().contains("invalid type: sequence, expected struct ") => true,
                            (old, new) => panic!(
                                "{name} (list {list}) on {path:?}: text path {old:?}, value path {new:?}\n{}",
                                String::from_utf8_lossy(text)
                            ),
                        }
                    };
                    let text = serde_json::to_vec(sample).unwrap();
                    if check(&text) {
                        continue;
                    }
                    let mut pointers = Vec::new();
                    member_pointers(sample, "", &mut pointers);
                    for pointer in &pointers {
                        let (parent, key) = pointer.rsplit_once('/').unwrap();
                        let mut removed = sample.clone();
                        match removed.pointer_mut(parent).unwrap() {
                            Value::Object(m) => {
                                m.shift_remove(&key.replace("~1", "/").replace("~0", "~"));
                            }
                            Value::Array(a) => {
                                a.remove(0);
                            }
                            _ => unreachable!(),
                        }
                        let mut variants = vec![removed];
                        for replacement in &replacements {
                            let mut changed = sample.clone();
                            *changed.pointer_mut(pointer).unwrap() = replacement.clone();
                            variants.push(changed);
                        }
                        for variant in variants {
                            cases += 1;
                            refused += usize::from(check(&serde_json::to_vec(&variant).unwrap()));
                        }
                    }
                }
            }
        }
        // 57,836 bodies, 29,602 refused, 28,413 written both ways (2026-12-07).
        assert!(
            cases > 50_000 && refused > 20_000 && written > 20_000,
            "{cases} bodies, {refused} refused, {written} written both ways"
        );
        println!("one deserialisation path: {cases} bodies, {refused} refused, {written} written both ways");
    }

    #[test]
    fn unknown_types_suggest_names() {
        for (given, suggested) in [
            ("v2.restore", "did you mean v2.Restore"),
            ("v3.Restore", "v1.Restore or v2.Restore"),
            ("Agent", "v1.Agent or v2.Agent"),
        ] {
            let e = parse_model(given, b"{}").unwrap_err();
            assert_eq!(e.code(), ErrorCode::InvalidArgument);
            let message = e.to_string();
            assert!(
                message.contains("`type_name`") && message.contains(suggested),
                "{message}"
            );
            assert!(
                message.contains("by_name::model_types() lists all 63"),
                "{message}"
            );
        }
        let e = parse_model("v2.Restore[][]", b"[]").unwrap_err();
        assert_eq!(e.code(), ErrorCode::InvalidArgument);
    }
}
