//! v1 backup configuration operations (`/v1.0/{tenant_id}/backup-configuration/...`).

use serde::{Deserialize, Serialize};

use super::{json_request, request};
use crate::api::{parse_empty, parse_json, require_id, Auth, Method, Operation, Request, Response};
use crate::model::v1::{BackupConfiguration, BackupConfigurationSpec, EnableRequest};
use crate::wire::LooseBool;
use crate::Result;

/// `POST /v1.0/{tenant_id}/backup-configuration`: create a configuration;
/// answers it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreateBackupConfiguration {
    /// The settings (validated before sending).
    pub body: BackupConfigurationSpec,
}

impl Operation for CreateBackupConfiguration {
    type Output = BackupConfiguration;
    const NAME: &'static str = "create backup configuration";
    const METHOD: Method = Method::Post;
    const PATH: &'static str = "/v1.0/{tenant_id}/backup-configuration";

    fn request(&self, auth: &Auth) -> Result<Request> {
        self.body.validate()?;
        json_request(auth, Self::METHOD, &["backup-configuration"], &self.body)
    }

    fn parse(&self, response: &Response) -> Result<BackupConfiguration> {
        parse_json(Self::NAME, response, &[200])
    }
}

/// `PUT /v1.0/{tenant_id}/backup-configuration/{backupConfigurationId}`:
/// replace a configuration's settings.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UpdateBackupConfiguration {
    /// The configuration.
    pub backup_configuration_id: String,
    /// The settings. `BackupConfigurationScheduleId` is sent when given
    /// (read it from the configuration) and may be left out, as clients do
    /// (the Chef cookbook rackspace_cloudbackup updates with the settable
    /// members only) and the service accepts. Build the body from the
    /// configuration the service returned (`spec`) so that the members it
    /// carries, the pre- and post-backup scripts among them, are kept.
    pub body: BackupConfigurationSpec,
}

impl Operation for UpdateBackupConfiguration {
    type Output = ();
    const NAME: &'static str = "update backup configuration";
    const METHOD: Method = Method::Put;
    const PATH: &'static str = "/v1.0/{tenant_id}/backup-configuration/{backup_configuration_id}";

    fn request(&self, auth: &Auth) -> Result<Request> {
        require_id("backup_configuration_id", &self.backup_configuration_id)?;
        self.body.validate()?;
        json_request(
            auth,
            Self::METHOD,
            &["backup-configuration", &self.backup_configuration_id],
            &self.body,
        )
    }

    fn parse(&self, response: &Response) -> Result<()> {
        parse_empty(Self::NAME, response, &[200])
    }
}

/// `GET /v1.0/{tenant_id}/backup-configuration/{backupConfigurationId}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GetBackupConfiguration {
    /// The configuration.
    pub backup_configuration_id: String,
}

impl Operation for GetBackupConfiguration {
    type Output = BackupConfiguration;
    const NAME: &'static str = "get backup configuration";
    const METHOD: Method = Method::Get;
    const PATH: &'static str = "/v1.0/{tenant_id}/backup-configuration/{backup_configuration_id}";

    fn request(&self, auth: &Auth) -> Result<Request> {
        require_id("backup_configuration_id", &self.backup_configuration_id)?;
        Ok(request(
            auth,
            Self::METHOD,
            &["backup-configuration", &self.backup_configuration_id],
        ))
    }

    fn parse(&self, response: &Response) -> Result<BackupConfiguration> {
        parse_json(Self::NAME, response, &[200])
    }
}

/// `GET /v1.0/{tenant_id}/backup-configuration`: all of the user's configurations.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ListBackupConfigurations;

crate::api::no_params!(ListBackupConfigurations);

impl Operation for ListBackupConfigurations {
    type Output = Vec<BackupConfiguration>;
    const NAME: &'static str = "list backup configurations";
    const METHOD: Method = Method::Get;
    const PATH: &'static str = "/v1.0/{tenant_id}/backup-configuration";

    fn request(&self, auth: &Auth) -> Result<Request> {
        Ok(request(auth, Self::METHOD, &["backup-configuration"]))
    }

    fn parse(&self, response: &Response) -> Result<Vec<BackupConfiguration>> {
        parse_json(Self::NAME, response, &[200])
    }
}

/// `GET /v1.0/{tenant_id}/backup-configuration/system/{machineAgentId}`:
/// one agent's configurations.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ListAgentBackupConfigurations {
    /// The agent.
    pub machine_agent_id: String,
}

impl Operation for ListAgentBackupConfigurations {
    type Output = Vec<BackupConfiguration>;
    const NAME: &'static str = "list agent backup configurations";
    const METHOD: Method = Method::Get;
    const PATH: &'static str = "/v1.0/{tenant_id}/backup-configuration/system/{machine_agent_id}";

    fn request(&self, auth: &Auth) -> Result<Request> {
        require_id("machine_agent_id", &self.machine_agent_id)?;
        Ok(request(
            auth,
            Self::METHOD,
            &["backup-configuration", "system", &self.machine_agent_id],
        ))
    }

    fn parse(&self, response: &Response) -> Result<Vec<BackupConfiguration>> {
        parse_json(Self::NAME, response, &[200])
    }
}

/// `POST /v1.0/{tenant_id}/backup-configuration/enable/{backupConfigurationId}`:
/// enable or disable a configuration; answers it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EnableBackupConfiguration {
    /// The configuration.
    pub backup_configuration_id: String,
    /// `true` enables, `false` disables (or `"true"` / `"false"`).
    pub enable: LooseBool,
}

impl Operation for EnableBackupConfiguration {
    type Output = BackupConfiguration;
    const NAME: &'static str = "enable backup configuration";
    const METHOD: Method = Method::Post;
    const PATH: &'static str =
        "/v1.0/{tenant_id}/backup-configuration/enable/{backup_configuration_id}";

    fn request(&self, auth: &Auth) -> Result<Request> {
        require_id("backup_configuration_id", &self.backup_configuration_id)?;
        let body = EnableRequest {
            enable: self.enable.clone(),
        };
        json_request(
            auth,
            Self::METHOD,
            &[
                "backup-configuration",
                "enable",
                &self.backup_configuration_id,
            ],
            &body,
        )
    }

    fn parse(&self, response: &Response) -> Result<BackupConfiguration> {
        parse_json(Self::NAME, response, &[200])
    }
}

/// `DELETE /v1.0/{tenant_id}/backup-configuration/{backupConfigurationId}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DeleteBackupConfiguration {
    /// The configuration.
    pub backup_configuration_id: String,
}

impl Operation for DeleteBackupConfiguration {
    type Output = ();
    const NAME: &'static str = "delete backup configuration";
    const METHOD: Method = Method::Delete;
    const PATH: &'static str = "/v1.0/{tenant_id}/backup-configuration/{backup_configuration_id}";

    fn request(&self, auth: &Auth) -> Result<Request> {
        require_id("backup_configuration_id", &self.backup_configuration_id)?;
        Ok(request(
            auth,
            Self::METHOD,
            &["backup-configuration", &self.backup_configuration_id],
        ))
    }

    fn parse(&self, response: &Response) -> Result<()> {
        parse_empty(Self::NAME, response, &[200])
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::ApiErrorKind;
    use crate::model::v1::{AmPm, Frequency, OrBlank};
    use crate::test_support::v1::{assert_request_line, auth};
    use crate::test_support::{assert_bodiless, assert_json_request, sample_v1, status_of};
    use crate::Error;

    #[test]
    fn create_backup_configuration() {
        let body: BackupConfigurationSpec =
            serde_json::from_str(sample_v1!("createBackupConfiguration-request.json")).unwrap();
        let op = CreateBackupConfiguration { body };
        let req = op.request(&auth()).unwrap();
        assert_json_request(
            &req,
            Method::Post,
            "/v1.0/1234/backup-configuration",
            sample_v1!("createBackupConfiguration-request.json"),
        );
        let created = op
            .parse(&Response::new(
                200,
                sample_v1!("createBackupConfiguration-response.json"),
            ))
            .unwrap();
        assert_eq!(created.backup_configuration_id.value, 174_084);
        assert_eq!(
            created.encryption_key.unwrap().exponent_hex.to_bytes(),
            vec![1, 0, 1]
        );
        let e = op
            .parse(&Response::new(
                409,
                r#"{"conflict":{"message":"Name in use"}}"#,
            ))
            .unwrap_err();
        assert_eq!(status_of(e), 409);
    }

    #[test]
    fn update_backup_configuration() {
        let mut body: BackupConfigurationSpec =
            serde_json::from_str(sample_v1!("updateBackupConfiguration-request.json")).unwrap();
        let op = UpdateBackupConfiguration {
            backup_configuration_id: "148325".into(),
            body: body.clone(),
        };
        // The reference's example sends the placeholder "AM|PM".
        let e = op.request(&auth()).unwrap_err();
        assert!(
            matches!(&e, Error::InvalidArgument { name, .. } if name == "StartTimeAmPm"),
            "{e}"
        );
        body.start_time_am_pm = Some(OrBlank::Value(AmPm::Am));
        let op = UpdateBackupConfiguration {
            backup_configuration_id: "148325".into(),
            body: body.clone(),
        };
        let req = op.request(&auth()).unwrap();
        let expected = sample_v1!("updateBackupConfiguration-request.json").replace("AM|PM", "AM");
        assert_json_request(
            &req,
            Method::Put,
            "/v1.0/1234/backup-configuration/148325",
            &expected,
        );
        op.parse(&Response::new(200, "")).unwrap();
        assert_eq!(
            status_of(op.parse(&Response::new(404, "")).unwrap_err()),
            404
        );
        // Without the schedule id (as the Chef cookbook updates): accepted,
        // and not sent.
        body.backup_configuration_schedule_id = None;
        let op = UpdateBackupConfiguration {
            backup_configuration_id: "148325".into(),
            body,
        };
        let sent: serde_json::Value =
            serde_json::from_slice(op.request(&auth()).unwrap().body.as_deref().unwrap()).unwrap();
        assert!(
            sent.get("BackupConfigurationScheduleId").is_none(),
            "{sent}"
        );
    }

    #[test]
    fn get_backup_configuration() {
        let op = GetBackupConfiguration {
            backup_configuration_id: "148325".into(),
        };
        let req = op.request(&auth()).unwrap();
        assert_request_line(&req, sample_v1!("getBackupConfig-json-http_request.txt"));
        let c = op
            .parse(&Response::new(
                200,
                sample_v1!("getBackupConfig-response.json"),
            ))
            .unwrap();
        assert_eq!(
            (c.spec.frequency, c.spec.exclusions.len()),
            (Frequency::Weekly, 2)
        );
        assert_eq!(
            status_of(op.parse(&Response::new(404, "")).unwrap_err()),
            404
        );
    }

    #[test]
    fn list_backup_configurations() {
        let req = ListBackupConfigurations.request(&auth()).unwrap();
        assert_bodiless(&req, Method::Get, "/v1.0/1234/backup-configuration");
        let list = ListBackupConfigurations
            .parse(&Response::new(
                200,
                sample_v1!("getAllBackupConfigforUser-response.json"),
            ))
            .unwrap();
        assert_eq!(list[1].spec.backup_configuration_name, "Manual DB Backup");
        assert_eq!(
            status_of(
                ListBackupConfigurations
                    .parse(&Response::new(500, ""))
                    .unwrap_err()
            ),
            500
        );
    }

    #[test]
    fn list_agent_backup_configurations() {
        let op = ListAgentBackupConfigurations {
            machine_agent_id: "224193".into(),
        };
        let req = op.request(&auth()).unwrap();
        assert_request_line(
            &req,
            sample_v1!("getAllBackupConfigforAgent-json-http_request .txt"),
        );
        let list = op
            .parse(&Response::new(
                200,
                sample_v1!("getAllBackupConfigforAgent-response.json"),
            ))
            .unwrap();
        assert_eq!(list.len(), 2);
        assert_eq!(
            status_of(op.parse(&Response::new(403, "")).unwrap_err()),
            403
        );
    }

    #[test]
    fn enable_and_disable_backup_configuration() {
        for (enable, sample) in [
            (true, sample_v1!("enableBackupConfig_request.json")),
            (false, sample_v1!("disableBackupConfig_request.json")),
        ] {
            let op = EnableBackupConfiguration {
                backup_configuration_id: "148325".into(),
                enable: enable.into(),
            };
            let req = op.request(&auth()).unwrap();
            assert_request_line(&req, sample_v1!("enableBackupConfig_request_http.txt"));
            assert_json_request(
                &req,
                Method::Post,
                "/v1.0/1234/backup-configuration/enable/148325",
                sample,
            );
        }
        let op = EnableBackupConfiguration {
            backup_configuration_id: "148325".into(),
            enable: false.into(),
        };
        let c = op
            .parse(&Response::new(
                200,
                sample_v1!("disableBackupConfig_response.json"),
            ))
            .unwrap();
        assert_eq!(c.backup_configuration_id, 148_325);
        let e = op.parse(&Response::new(400, "")).unwrap_err();
        assert!(matches!(e, Error::Api(ref api) if api.kind == ApiErrorKind::BadRequest));
    }

    #[test]
    fn delete_backup_configuration() {
        let op = DeleteBackupConfiguration {
            backup_configuration_id: "148325".into(),
        };
        let req = op.request(&auth()).unwrap();
        assert_request_line(&req, sample_v1!("deleteBackupConfig_request.txt"));
        assert_bodiless(
            &req,
            Method::Delete,
            "/v1.0/1234/backup-configuration/148325",
        );
        op.parse(&Response::new(200, "")).unwrap();
        assert_eq!(
            status_of(op.parse(&Response::new(404, "")).unwrap_err()),
            404
        );
    }
}
