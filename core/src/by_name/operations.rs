//! Every operation by name, with JSON parameters and JSON results, for the
//! bindings: they look an operation up by name, build its request from a
//! JSON object of its parameters, and parse the response into JSON, without
//! knowing any operation themselves.
//!
//! Names are `version.module.operation`: the Rust type
//! [`v2::restores::GetRestore`](crate::api::v2::restores::GetRestore) is
//! `v2.restores.get_restore`. Its parameters are the type's fields, in JSON
//! (`{"restore_id": "e87e6f7d"}`): bodies in their wire form, enums by their
//! wire names, optional fields and `page` may be left out, and an operation
//! without fields takes `{}` (or `null`). Unknown members are refused.
//! A result is the typed output in its JSON form: `null` for "no content",
//! a number for the ids v1 answers as bare integers.
//!
//! ```
//! use cloudbackup_core::api::{Auth, Response};
//! use cloudbackup_core::by_name::{build_request, parse_response};
//! use serde_json::json;
//! let auth = Auth::new("token", "123456").unwrap();
//! let params = json!({"restore_id": "e87e6f7d"});
//! let req = build_request("v2.restores.get_restore", &params, &auth).unwrap();
//! assert_eq!(req.to_json_value().unwrap()["path"], "/v2/123456/restores/e87e6f7d");
//! let resp = Response::from_json_value(&json!({"status": 404, "body": "{\"message\": \"Restore not found.\"}"})).unwrap();
//! let err = parse_response("v2.restores.get_restore", &params, &resp).unwrap_err();
//! assert!(err.to_string().contains("Restore not found."));
//! ```

use serde::de::DeserializeOwned;
use serde::Serialize;
use serde_json::Value;

use crate::api::{v1, v2, Auth, Method, Operation, Request, Response};
use crate::error::{from_json_argument, unknown_name};
use crate::{Error, Result};

/// One registered operation: its name, HTTP method, path template and
/// summary; it builds requests from JSON parameters and parses responses
/// into JSON. Serialises as `{"name", "method", "path", "summary"}`.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct OperationInfo {
    /// `version.module.operation`, e.g. `v2.restores.get_restore`.
    pub name: &'static str,
    /// The HTTP method.
    pub method: Method,
    /// The path template, e.g. `/v2/{project_id}/restores/{restore_id}`:
    /// `{tenant_id}` (v1) and `{project_id}` (v2) come from the [`Auth`]
    /// (for `v2.agents.authenticate_agent`, from `credentials.project_id`);
    /// every other `{name}` is the parameter of that name.
    pub path: &'static str,
    /// What it does, in words ([`Operation::NAME`], e.g. `get restore`).
    pub summary: &'static str,
    /// The Rust type that implements it, under `cloudbackup_core::api`
    /// (e.g. `v2::restores::GetRestore`), whose documentation describes
    /// the parameters.
    #[serde(skip)]
    pub rust_type: &'static str,
    #[serde(skip)]
    build: fn(&OperationInfo, &Value, &Auth) -> Result<Request>,
    #[serde(skip)]
    parse: fn(&OperationInfo, &Value, &Response) -> Result<Value>,
}

impl OperationInfo {
    /// Builds the request from the operation's JSON parameters (see the
    /// [module documentation](self)). Parameters that do not fit are an
    /// [`Error::InvalidArgument`] naming the field; the operation's own checks
    /// (ids, bodies, paging) apply as in Rust.
    pub fn build_request(&self, params: &Value, auth: &Auth) -> Result<Request> {
        (self.build)(self, params, auth)
    }

    /// Parses `response` into the operation's output as JSON. `params` are
    /// the parameters the request was built from (some operations parse
    /// differently by parameter, e.g. v1's start and stop actions).
    pub fn parse_response(&self, params: &Value, response: &Response) -> Result<Value> {
        (self.parse)(self, params, response)
    }
}

/// Every registered operation, v1 then v2, grouped by module.
pub fn operations() -> &'static [OperationInfo] {
    OPERATIONS
}

/// The operation called `name`; an unknown name is an
/// [`Error::InvalidArgument`] suggesting the closest names.
pub fn operation(name: &str) -> Result<&'static OperationInfo> {
    OPERATIONS.iter().find(|op| op.name == name).ok_or_else(|| {
        unknown_name(
            "operation",
            "operation",
            name,
            OPERATIONS.iter().map(|op| op.name),
            "by_name::operations()",
        )
    })
}

/// Builds the request of the operation called `name` from its JSON
/// parameters (see [`OperationInfo::build_request`]).
pub fn build_request(name: &str, params: &Value, auth: &Auth) -> Result<Request> {
    operation(name)?.build_request(params, auth)
}

/// Parses a response of the operation called `name` into JSON (see
/// [`OperationInfo::parse_response`]).
pub fn parse_response(name: &str, params: &Value, response: &Response) -> Result<Value> {
    operation(name)?.parse_response(params, response)
}

/// Reads an operation's parameters: a JSON object, or `null` for `{}`.
/// (Compiled once per operation, so what does not depend on `T` is in
/// [`params_object`] and [`of_operation`].)
fn read_params<T: DeserializeOwned>(info: &OperationInfo, params: &Value) -> Result<T> {
    let empty = Value::Object(serde_json::Map::new());
    let params = params_object(info, params, &empty)?;
    from_json_argument("params", params).map_err(|e| of_operation(info, e))
}

/// `params` if it is an object, `empty` for `null`, else an error.
#[inline(never)]
fn params_object<'a>(
    info: &OperationInfo,
    params: &'a Value,
    empty: &'a Value,
) -> Result<&'a Value> {
    match params {
        Value::Null => Ok(empty),
        Value::Object(_) => Ok(params),
        // Serde would also read a struct from an array of its fields in order.
        other => {
            let kind = match other {
                Value::Array(_) => "an array",
                Value::String(_) => "a string",
                Value::Number(_) => "a number",
                _ => "a boolean",
            };
            Err(Error::argument(
                "params",
                format!(
                    "must be a JSON object (or null), got {kind} (parameters of {})",
                    info.name
                ),
            ))
        }
    }
}

/// `e`, a parameter's error, saying whose parameters they are.
#[inline(never)]
fn of_operation(info: &OperationInfo, e: Error) -> Error {
    match e {
        Error::InvalidArgument { name, reason } => Error::InvalidArgument {
            name,
            reason: format!("{reason} (parameters of {})", info.name),
        },
        other => other,
    }
}

fn build<T: Operation + DeserializeOwned>(
    info: &OperationInfo,
    params: &Value,
    auth: &Auth,
) -> Result<Request> {
    read_params::<T>(info, params)?.request(auth)
}

fn parse<T>(info: &OperationInfo, params: &Value, response: &Response) -> Result<Value>
where
    T: Operation + DeserializeOwned,
    T::Output: Serialize,
{
    let output = read_params::<T>(info, params)?.parse(response)?;
    serde_json::to_value(&output).map_err(|e| Error::json(info.name, &e))
}

/// Declares [`OPERATIONS`]: per module, each type with its snake_case name,
/// method and path template. The summary comes from [`Operation::NAME`].
macro_rules! registry {
    ($(
        $version:ident :: $module:ident {
            $( $ty:ident as $snake:ident ; )+
        }
    )+) => {
        static OPERATIONS: &[OperationInfo] = &[$($(
            OperationInfo {
                name: concat!(stringify!($version), ".", stringify!($module), ".", stringify!($snake)),
                method: <$version::$module::$ty as Operation>::METHOD,
                path: <$version::$module::$ty as Operation>::PATH,
                summary: <$version::$module::$ty as Operation>::NAME,
                rust_type: concat!(stringify!($version), "::", stringify!($module), "::", stringify!($ty)),
                build: build::<$version::$module::$ty>,
                parse: parse::<$version::$module::$ty>,
            },
        )+)+];
    };
}

registry! {
    v1::activity {
        ListUserActivity as list_user_activity;
        ListAgentActivity as list_agent_activity;
    }
    v1::agents {
        GetAgent as get_agent;
        GetAgentByHostServer as get_agent_by_host_server;
        UpdateAgentBackupBehavior as update_agent_backup_behavior;
        EnableAgent as enable_agent;
        DeleteAgent as delete_agent;
        ChangeEncryptionPassword as change_encryption_password;
        EnableVolumeEncryption as enable_volume_encryption;
        MigrateVault as migrate_vault;
        ChangeLogLevel as change_log_level;
    }
    v1::backups {
        RequestBackupAction as request_backup_action;
        GetBackup as get_backup;
        GetBackupReport as get_backup_report;
        ListCompletedBackups as list_completed_backups;
        ListBackupsAvailableForRestore as list_backups_available_for_restore;
    }
    v1::configurations {
        CreateBackupConfiguration as create_backup_configuration;
        UpdateBackupConfiguration as update_backup_configuration;
        GetBackupConfiguration as get_backup_configuration;
        ListBackupConfigurations as list_backup_configurations;
        ListAgentBackupConfigurations as list_agent_backup_configurations;
        EnableBackupConfiguration as enable_backup_configuration;
        DeleteBackupConfiguration as delete_backup_configuration;
    }
    v1::restores {
        CreateRestore as create_restore;
        UpdateRestore as update_restore;
        RequestRestoreAction as request_restore_action;
        GetRestore as get_restore;
        GetRestoreReport as get_restore_report;
        IncludeRestoreFile as include_restore_file;
        ListRestoreFiles as list_restore_files;
        DeleteRestore as delete_restore;
    }
    v1::users {
        ListUserAgents as list_user_agents;
        WakeUpAgents as wake_up_agents;
    }
    v2::activities {
        ListProjectActivities as list_project_activities;
        ListAgentActivities as list_agent_activities;
        ListConfigurationActivities as list_configuration_activities;
    }
    v2::agents {
        RegisterAgent as register_agent;
        AuthenticateAgent as authenticate_agent;
        ListAgents as list_agents;
        GetAgent as get_agent;
        UpdateAgent as update_agent;
        DeleteAgent as delete_agent;
        GetAgentStatus as get_agent_status;
    }
    v2::backups {
        StartBackup as start_backup;
        ListBackups as list_backups;
        GetBackup as get_backup;
        UpdateBackup as update_backup;
        ListBackupErrors as list_backup_errors;
    }
    v2::browse {
        BrowseHost as browse_host;
        GetHostBrowseResult as get_host_browse_result;
        BrowseBackup as browse_backup;
        GetBackupBrowseResult as get_backup_browse_result;
    }
    v2::cleanups {
        StartCleanup as start_cleanup;
        ListCleanups as list_cleanups;
        GetCleanup as get_cleanup;
        UpdateCleanup as update_cleanup;
        ListCleanupErrors as list_cleanup_errors;
    }
    v2::configurations {
        CreateConfiguration as create_configuration;
        ListConfigurations as list_configurations;
        ListAgentConfigurations as list_agent_configurations;
        GetConfiguration as get_configuration;
        UpdateConfiguration as update_configuration;
        DeleteConfiguration as delete_configuration;
    }
    v2::events {
        ListProjectEvents as list_project_events;
        PostProjectEvent as post_project_event;
        PostAgentEvent as post_agent_event;
        ListAgentEvents as list_agent_events;
        ListBackupEvents as list_backup_events;
        ListRestoreEvents as list_restore_events;
        ListCleanupEvents as list_cleanup_events;
        ListConfigurationEvents as list_configuration_events;
    }
    v2::logfiles {
        RequestLogfile as request_logfile;
        ListLogfiles as list_logfiles;
        GetLogfile as get_logfile;
        UpdateLogfile as update_logfile;
        DeleteLogfile as delete_logfile;
    }
    v2::restores {
        StartRestore as start_restore;
        ListRestores as list_restores;
        GetRestore as get_restore;
        UpdateRestore as update_restore;
        ListRestoreErrors as list_restore_errors;
    }
    v2::settings {
        GetAgentSettings as get_agent_settings;
        GetSummarySettings as get_summary_settings;
        UpdateSummarySettings as update_summary_settings;
        HealthCheck as health_check;
        GetHealthDetails as get_health_details;
        Ping as ping;
    }
    v2::vault {
        MoveVault as move_vault;
        RequestVaultEncryption as request_vault_encryption;
        ReportVaultEncryption as report_vault_encryption;
        GetVaultEncryptionResult as get_vault_encryption_result;
        RequestPasswordVerification as request_password_verification;
        ReportPasswordVerification as report_password_verification;
        GetPasswordVerificationResult as get_password_verification_result;
    }
}

#[cfg(test)]
mod tests {
    use std::collections::{BTreeMap, BTreeSet};

    use serde_json::json;

    use super::*;
    use crate::api::{JSON, JSON_PATCH};
    use crate::test_support::{api_error, sample_v1, sample_v2};
    use crate::ErrorCode;

    const RESTORE_ID: &str = "e87e6f7d-d166-11e4-8689-c8e0eb190e3d";

    fn auth() -> Auth {
        Auth::new("tok", "110011").unwrap()
    }

    fn json_of(text: &str) -> Value {
        serde_json::from_str(text).unwrap()
    }

    /// A response from its JSON form, as a binding hands it over.
    fn response(status: u16, body: &str) -> Response {
        Response::from_json_value(&json!({"status": status, "body": body})).unwrap()
    }

    /// `ListUserActivity` -> `list_user_activity`.
    fn snake_case(name: &str) -> String {
        let mut out = String::new();
        for (i, c) in name.chars().enumerate() {
            if c.is_ascii_uppercase() && i > 0 {
                out.push('_');
            }
            out.push(c.to_ascii_lowercase());
        }
        out
    }

    /// Each operation type is registered once; the count is the reference's
    /// (its method and path come from the type itself, `Operation::METHOD`
    /// and `PATH`, which the template test below checks against the request
    /// the type builds).
    #[test]
    fn every_operation_is_registered_once() {
        let registered: Vec<&str> = operations().iter().map(|op| op.rust_type).collect();
        let unique: BTreeSet<&str> = registered.iter().copied().collect();
        assert_eq!(unique.len(), registered.len(), "a type is registered twice");
        let v1 = registered.iter().filter(|t| t.starts_with("v1::")).count();
        assert_eq!(
            (v1, registered.len() - v1),
            (33, 61),
            "33 v1 and 61 v2 operations"
        );
    }

    #[test]
    fn names_follow_the_convention_and_are_unique() {
        let names: BTreeSet<&str> = operations().iter().map(|op| op.name).collect();
        assert_eq!(names.len(), operations().len());
        for op in operations() {
            let parts: Vec<&str> = op.rust_type.split("::").collect();
            let [version, module, ty] = parts[..] else {
                panic!("{}", op.rust_type)
            };
            assert_eq!(op.name, format!("{version}.{module}.{}", snake_case(ty)));
            let root = if version == "v1" {
                "/v1.0/{tenant_id}/"
            } else {
                "/v2/{project_id}/"
            };
            assert!(op.path.starts_with(root), "{}: {}", op.name, op.path);
            assert!(!op.summary.is_empty());
            assert_eq!(operation(op.name).unwrap().rust_type, op.rust_type);
        }
        assert_eq!(
            serde_json::to_value(operation("v2.restores.get_restore").unwrap()).unwrap(),
            json!({
                "name": "v2.restores.get_restore",
                "method": "GET",
                "path": "/v2/{project_id}/restores/{restore_id}",
                "summary": "get restore",
            })
        );
    }

    /// Parameters besides the path's ids, for the operations that need them.
    fn extra_params() -> BTreeMap<&'static str, Value> {
        let body = |text: &str| json!({"body": json_of(text)});
        let patch = |text: &str| json!({"patch": json_of(text)});
        BTreeMap::from([
            (
                "v1.agents.update_agent_backup_behavior",
                body(sample_v1!("updateAgentBackupBehavior_request.json")),
            ),
            (
                "v1.agents.enable_agent",
                body(sample_v1!("enableAgent_request.json")),
            ),
            ("v1.agents.delete_agent", json!({"machine_agent_id": 42})),
            // Both of the reference's samples have a new password ending in
            // "fgh", which is not hex.
            (
                "v1.agents.change_encryption_password",
                json!({"body": {
                    "MachineAgentId": 869,
                    "OldEncryptedPasswordHex": "0bff42a5",
                    "NewEncryptedPasswordHex": "76a3d986",
                }}),
            ),
            (
                "v1.agents.enable_volume_encryption",
                body(sample_v1!("encryptVolume_request.json")),
            ),
            (
                "v1.agents.migrate_vault",
                body(sample_v1!("migrateVault_request.json")),
            ),
            (
                "v1.agents.change_log_level",
                json!({"machine_agent_id": 42, "level": "Debug"}),
            ),
            (
                "v1.backups.request_backup_action",
                json!({"action": "StartManual", "id": 148325}),
            ),
            (
                "v1.configurations.create_backup_configuration",
                body(sample_v1!("createBackupConfiguration-request.json")),
            ),
            // The reference's example sends the placeholder "AM|PM".
            (
                "v1.configurations.update_backup_configuration",
                body(&sample_v1!("updateBackupConfiguration-request.json").replace("AM|PM", "AM")),
            ),
            (
                "v1.configurations.enable_backup_configuration",
                json!({"enable": true}),
            ),
            (
                "v1.restores.create_restore",
                body(sample_v1!("createRestoreConfig_request.json")),
            ),
            (
                "v1.restores.update_restore",
                body(sample_v1!("updateRestoreConfig_request.json")),
            ),
            (
                "v1.restores.request_restore_action",
                body(sample_v1!("startUnencryptedRestore_request.json")),
            ),
            (
                "v1.restores.include_restore_file",
                body(sample_v1!("includeRestoreFile_request.json")),
            ),
            (
                "v2.agents.register_agent",
                json!({"agent": json_of(sample_v2!("cbu-postAgent_request.json"))}),
            ),
            (
                "v2.agents.authenticate_agent",
                json!({"credentials": json_of(sample_v2!("cbu-postAgentTokens_request.json"))}),
            ),
            (
                "v2.agents.update_agent",
                patch(sample_v2!("cbu-updateAgent_request.json")),
            ),
            (
                "v2.backups.start_backup",
                body(sample_v2!("cbu-postBackup_request.json")),
            ),
            (
                "v2.backups.update_backup",
                patch(sample_v2!("cbu-updateBackup_request.json")),
            ),
            (
                "v2.browse.browse_host",
                body(sample_v2!("cbu-postAgentBrowseRequest_request.json")),
            ),
            (
                "v2.browse.browse_backup",
                body(sample_v2!("cbu-postBackupBrowseRequest_request.json")),
            ),
            (
                "v2.cleanups.start_cleanup",
                body(sample_v2!("cbu-postCleanup_request.json")),
            ),
            (
                "v2.cleanups.update_cleanup",
                patch(sample_v2!("cbu-updateCleanup_request.json")),
            ),
            (
                "v2.configurations.create_configuration",
                body(sample_v2!("cbu-postConfig_request.json")),
            ),
            (
                "v2.configurations.update_configuration",
                patch(sample_v2!("cbu-updateConfiguration_request.json")),
            ),
            (
                "v2.events.post_project_event",
                json!({"event": json_of(sample_v2!("cbu-postEvents_request.json"))}),
            ),
            (
                "v2.events.post_agent_event",
                json!({"event": json_of(sample_v2!("cbu-postAgentEvents_request.json"))}),
            ),
            ("v2.logfiles.update_logfile", json!({"state": "started"})),
            (
                "v2.restores.start_restore",
                body(sample_v2!("cbu-postRestore_request.json")),
            ),
            (
                "v2.restores.update_restore",
                patch(sample_v2!("cbu-updateRestore_request.json")),
            ),
            (
                "v2.settings.update_summary_settings",
                json!({"settings": json_of(sample_v2!("cbu-putSummarySettings_request.json"))}),
            ),
            (
                "v2.vault.move_vault",
                body(sample_v2!("cbu-postAgentVault_request.json")),
            ),
            (
                "v2.vault.request_vault_encryption",
                body(sample_v2!(
                    "cbu-postAgentVaultEncryptionRequest_request.json"
                )),
            ),
            (
                "v2.vault.report_vault_encryption",
                body(sample_v2!(
                    "cbu-postAgentVaultEncryptionReport_request.json"
                )),
            ),
            (
                "v2.vault.request_password_verification",
                body(sample_v2!("cbu-postAgentVaultPasswordRequest_request.json")),
            ),
            (
                "v2.vault.report_password_verification",
                body(sample_v2!("cbu-postAgentVaultPasswordReport_request.json")),
            ),
        ])
    }

    /// Every operation builds, from its path's ids (named as in the template)
    /// plus the parameters above, a request with the registered method and
    /// the template's path; and parses an error status into an API error.
    #[test]
    fn every_operation_builds_the_request_its_template_describes() {
        let auth = auth();
        let extra = extra_params();
        for name in extra.keys() {
            operation(name).unwrap();
        }
        for op in operations() {
            let mut params = extra.get(op.name).cloned().unwrap_or_else(|| json!({}));
            let mut expected = op.path.to_string();
            let placeholders = op
                .path
                .split('/')
                .filter_map(|s| s.strip_prefix('{')?.strip_suffix('}'));
            for id in placeholders {
                let value = match id {
                    "tenant_id" | "project_id" => params
                        .pointer("/credentials/project_id")
                        .and_then(Value::as_str)
                        .unwrap_or(&auth.tenant_id)
                        .to_string(),
                    _ => {
                        let value = format!("{id}-1");
                        params[id] = json!(value);
                        value
                    }
                };
                expected = expected.replace(&format!("{{{id}}}"), &value);
            }
            let req = op
                .build_request(&params, &auth)
                .unwrap_or_else(|e| panic!("{}: {e}", op.name));
            assert_eq!(
                (req.method, req.path.as_str()),
                (op.method, expected.as_str())
            );
            let token = (op.name != "v2.agents.authenticate_agent").then_some("tok");
            assert_eq!(req.header_value("X-Auth-Token"), token, "{}", op.name);
            let e = op.parse_response(&params, &response(500, "")).unwrap_err();
            assert_eq!(api_error(e).status, 500, "{}", op.name);
        }
    }

    #[test]
    fn start_restore_round_trips_through_json() {
        let request_sample = sample_v2!("cbu-postRestore_request.json");
        let params = json!({"body": json_of(request_sample)});
        let req = build_request("v2.restores.start_restore", &params, &auth()).unwrap();
        let sent = req.to_json_value().unwrap();
        assert_eq!(
            (&sent["method"], &sent["path"]),
            (&json!("POST"), &json!("/v2/110011/restores"))
        );
        assert!(sent["headers"]
            .as_array()
            .unwrap()
            .contains(&json!(["Content-Type", JSON])));
        assert_eq!(
            json_of(sent["body"].as_str().unwrap()),
            json_of(request_sample)
        );

        let answer = sample_v2!("cbu-postRestore_response.json");
        let restore =
            parse_response("v2.restores.start_restore", &params, &response(201, answer)).unwrap();
        assert_eq!(restore["state"], "start_requested");
        assert_eq!(restore["id"], json_of(answer)["id"]);
        assert_eq!(
            restore,
            crate::by_name::parse_model("v2.Restore", answer.as_bytes()).unwrap()
        );
        let e = parse_response("v2.restores.start_restore", &params, &response(200, answer))
            .unwrap_err();
        assert_eq!(e.code(), ErrorCode::UnexpectedResponse);
        let e = parse_response(
            "v2.restores.start_restore",
            &params,
            &response(201, "{'a': 1}"),
        )
        .unwrap_err();
        assert_eq!(e.code(), ErrorCode::InvalidJson);
    }

    #[test]
    fn update_restore_sends_a_patch_and_reads_204_and_409() {
        let patch_sample = sample_v2!("cbu-updateRestore_request.json");
        let params = json!({
            "restore_id": RESTORE_ID,
            "patch": json_of(patch_sample),
            "agent_id": "agent-7",
        });
        let name = "v2.restores.update_restore";
        let req = build_request(name, &params, &auth()).unwrap();
        assert_eq!(req.method, Method::Patch);
        assert_eq!(req.path, format!("/v2/110011/restores/{RESTORE_ID}"));
        assert_eq!(req.header_value("Content-Type"), Some(JSON_PATCH));
        assert_eq!(req.header_value("X-Agent-Id"), Some("agent-7"));
        assert_eq!(
            json_of(req.body_text().unwrap().unwrap()),
            json_of(patch_sample)
        );
        assert_eq!(
            parse_response(name, &params, &response(204, "")).unwrap(),
            Value::Null
        );
        let conflict = sample_v2!("cbu-updateRestore_response409.json");
        let e = parse_response(name, &params, &response(409, conflict)).unwrap_err();
        assert_eq!(e.code(), ErrorCode::Api);
        let api = api_error(e);
        assert_eq!(api.status, 409);
        assert_eq!(
            api.message.as_deref(),
            json_of(conflict)["message"].as_str()
        );
        let empty = json!({"restore_id": RESTORE_ID, "patch": []});
        let e = build_request(name, &empty, &auth()).unwrap_err();
        assert!(
            matches!(&e, Error::InvalidArgument { name, .. } if name == "patch"),
            "{e}"
        );
    }

    #[test]
    fn v1_start_backup_answers_a_plain_integer() {
        let name = "v1.backups.request_backup_action";
        let start = json!({"action": "StartManual", "id": 148325});
        let req = build_request(name, &start, &auth()).unwrap();
        assert_eq!(req.path, "/v1.0/110011/backup/action-requested");
        assert_eq!(
            json_of(req.body_text().unwrap().unwrap()),
            json_of(sample_v1!("startBackupManually_request.json"))
        );
        let answer = sample_v1!("startBackupManually_response.txt");
        let id = parse_response(name, &start, &response(200, answer)).unwrap();
        assert_eq!(id, json!(368785));
        assert!(id.is_i64());
        let stop = json!({"action": "StopManual", "id": 368785});
        assert_eq!(
            parse_response(name, &stop, &response(204, "")).unwrap(),
            Value::Null
        );
    }

    #[test]
    fn other_outputs_have_their_json_form() {
        let params = json!({
            "agent_id": "8f135b4f-7a69-4b8a-947f-5e80d772fd97",
            "body": json_of(sample_v2!("cbu-postAgentBrowseRequest_request.json")),
        });
        let location = "https://h/v2/agents/8f135b4f/browse-request/16ce47f7-88b2";
        let accepted = Response::from_json_value(&json!({
            "status": 202,
            "headers": [["Location", location]],
        }))
        .unwrap();
        assert_eq!(
            parse_response("v2.browse.browse_host", &params, &accepted).unwrap(),
            json!({"location": location, "request_id": "16ce47f7-88b2"})
        );
        let form = build_request(
            "v1.agents.change_log_level",
            &json!({"machine_agent_id": 42, "level": "Debug"}),
            &auth(),
        )
        .unwrap()
        .to_json_value()
        .unwrap();
        assert_eq!(form["body"], "MachineAgentId=42&LoggingLevelId=5");
        let agents = parse_response(
            "v1.users.list_user_agents",
            &Value::Null,
            &response(200, "[]"),
        )
        .unwrap();
        assert_eq!(agents, json!([]));
    }

    /// The `InvalidArgument`'s name and reason; panics on any other error.
    fn invalid_argument(result: Result<impl std::fmt::Debug>) -> (String, String) {
        match result {
            Err(Error::InvalidArgument { name, reason }) => (name, reason),
            other => panic!("expected an invalid argument: {other:?}"),
        }
    }

    #[test]
    fn unknown_operations_suggest_names() {
        let (name, reason) =
            invalid_argument(build_request("v2.restore.get_restore", &json!({}), &auth()));
        assert_eq!(name, "operation");
        assert!(
            reason.contains("did you mean v2.restores.get_restore"),
            "{reason}"
        );
        let (_, reason) = invalid_argument(parse_response(
            "frobnicate",
            &json!({}),
            &Response::new(200, ""),
        ));
        assert!(
            reason.contains("\"frobnicate\"")
                && reason.contains("by_name::operations() lists all 94"),
            "{reason}"
        );
        let (_, reason) = invalid_argument(operation("get_restore"));
        assert!(
            reason.contains("v1.restores.get_restore")
                && reason.contains("v2.restores.get_restore"),
            "{reason}"
        );
    }

    #[test]
    fn bad_parameters_name_the_field() {
        let get = "v2.restores.get_restore";
        let (name, reason) =
            invalid_argument(build_request(get, &json!({"restore_idd": "x"}), &auth()));
        assert_eq!(name, "params.restore_idd");
        assert!(
            reason.contains("unknown field `restore_idd`") && reason.contains(get),
            "{reason}"
        );
        for missing in [json!({}), Value::Null] {
            let (name, reason) = invalid_argument(build_request(get, &missing, &auth()));
            assert_eq!(name, "params");
            assert!(reason.contains("missing field `restore_id`"), "{reason}");
        }
        let (name, _) = invalid_argument(build_request(get, &json!({"restore_id": 7}), &auth()));
        assert_eq!(name, "params.restore_id");
        for not_an_object in [json!(["x"]), json!("x"), json!(1), json!(true)] {
            let (name, reason) = invalid_argument(build_request(get, &not_an_object, &auth()));
            assert_eq!(name, "params");
            assert!(reason.contains("must be a JSON object"), "{reason}");
        }

        let mut body = json_of(sample_v2!("cbu-postRestore_request.json"));
        body["inclusions"] = json!("/etc");
        let (name, _) = invalid_argument(build_request(
            "v2.restores.start_restore",
            &json!({"body": body}),
            &auth(),
        ));
        assert_eq!(name, "params.body.inclusions");

        let (name, reason) = invalid_argument(build_request(
            "v1.backups.request_backup_action",
            &json!({"action": "Start", "id": 1}),
            &auth(),
        ));
        assert_eq!(name, "params.action");
        assert!(reason.contains("StartManual, StopManual"), "{reason}");

        let (name, _) = invalid_argument(build_request(
            "v2.restores.list_restores",
            &json!({"page": {"limt": 5}}),
            &auth(),
        ));
        assert_eq!(name, "params.page.limt");
        // The operation's own checks apply as in Rust.
        let (name, _) = invalid_argument(build_request(
            "v2.restores.list_restores",
            &json!({"page": {"limit": 0}}),
            &auth(),
        ));
        assert_eq!(name, "limit");
        // Parsing reads the parameters first.
        let (name, _) = invalid_argument(parse_response(get, &json!({}), &response(200, "{}")));
        assert_eq!(name, "params");
    }

    #[test]
    fn operations_without_parameters_take_an_empty_object() {
        let ping = "v2.settings.ping";
        for params in [json!({}), Value::Null] {
            let req = build_request(ping, &params, &auth()).unwrap();
            assert_eq!(req.path, "/v2/110011/ping");
            assert_eq!(
                parse_response(ping, &params, &response(204, "")).unwrap(),
                Value::Null
            );
        }
        let (name, reason) = invalid_argument(build_request(ping, &json!({"x": 1}), &auth()));
        assert_eq!(name, "params.x");
        assert!(reason.contains("unknown field `x`"), "{reason}");
        let params = serde_json::to_value(crate::api::v2::settings::Ping).unwrap();
        assert_eq!(params, json!({}));
    }
}
