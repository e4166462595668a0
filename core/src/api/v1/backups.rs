//! v1 backup operations (`/v1.0/{tenant_id}/backup/...`).

use serde::{Deserialize, Serialize};

use super::{json_request, request};
use crate::api::{
    parse_empty, parse_integer, parse_json, require_id, Auth, Method, Operation, Request, Response,
};
use crate::lifecycle::V1Action;
use crate::model::v1::{
    AvailableBackup, Backup, BackupActionRequest, BackupReport, CompletedBackup,
};
use crate::wire::LooseInt;
use crate::Result;

/// `POST /v1.0/{tenant_id}/backup/action-requested`: start a backup of a
/// configuration, or stop a running backup.
///
/// StartManual answers 200 with the new backup's id as a bare integer
/// (`Some(id)`). StopManual answers 200 or 204, normally without a body
/// (`None`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RequestBackupAction {
    /// StartManual or StopManual.
    pub action: V1Action,
    /// The backup configuration to start, or the backup to stop (a number,
    /// or a string holding one).
    pub id: LooseInt,
}

impl Operation for RequestBackupAction {
    type Output = Option<i64>;
    const NAME: &'static str = "request backup action";
    const METHOD: Method = Method::Post;
    const PATH: &'static str = "/v1.0/{tenant_id}/backup/action-requested";

    fn request(&self, auth: &Auth) -> Result<Request> {
        let body = BackupActionRequest {
            action: self.action,
            id: self.id,
        };
        json_request(auth, Self::METHOD, &["backup", "action-requested"], &body)
    }

    fn parse(&self, response: &Response) -> Result<Option<i64>> {
        match self.action {
            V1Action::StartManual => parse_integer(Self::NAME, response, &[200]).map(Some),
            V1Action::StopManual if response.body_is_blank() => {
                parse_empty(Self::NAME, response, &[200, 204]).map(|()| None)
            }
            V1Action::StopManual => parse_integer(Self::NAME, response, &[200, 204]).map(Some),
        }
    }
}

/// `GET /v1.0/{tenant_id}/backup/{backupId}`: a backup and its state.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GetBackup {
    /// The backup.
    pub backup_id: String,
}

impl Operation for GetBackup {
    type Output = Backup;
    const NAME: &'static str = "get backup";
    const METHOD: Method = Method::Get;
    const PATH: &'static str = "/v1.0/{tenant_id}/backup/{backup_id}";

    fn request(&self, auth: &Auth) -> Result<Request> {
        require_id("backup_id", &self.backup_id)?;
        Ok(request(auth, Self::METHOD, &["backup", &self.backup_id]))
    }

    fn parse(&self, response: &Response) -> Result<Backup> {
        parse_json(Self::NAME, response, &[200])
    }
}

/// `GET /v1.0/{tenant_id}/backup/report/{backupId}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GetBackupReport {
    /// The backup.
    pub backup_id: String,
}

impl Operation for GetBackupReport {
    type Output = BackupReport;
    const NAME: &'static str = "get backup report";
    const METHOD: Method = Method::Get;
    const PATH: &'static str = "/v1.0/{tenant_id}/backup/report/{backup_id}";

    fn request(&self, auth: &Auth) -> Result<Request> {
        require_id("backup_id", &self.backup_id)?;
        Ok(request(
            auth,
            Self::METHOD,
            &["backup", "report", &self.backup_id],
        ))
    }

    fn parse(&self, response: &Response) -> Result<BackupReport> {
        parse_json(Self::NAME, response, &[200])
    }
}

/// `GET /v1.0/{tenant_id}/backup/completed/{backupConfigurationId}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ListCompletedBackups {
    /// The configuration.
    pub backup_configuration_id: String,
}

impl Operation for ListCompletedBackups {
    type Output = Vec<CompletedBackup>;
    const NAME: &'static str = "list completed backups";
    const METHOD: Method = Method::Get;
    const PATH: &'static str = "/v1.0/{tenant_id}/backup/completed/{backup_configuration_id}";

    fn request(&self, auth: &Auth) -> Result<Request> {
        require_id("backup_configuration_id", &self.backup_configuration_id)?;
        Ok(request(
            auth,
            Self::METHOD,
            &["backup", "completed", &self.backup_configuration_id],
        ))
    }

    fn parse(&self, response: &Response) -> Result<Vec<CompletedBackup>> {
        parse_json(Self::NAME, response, &[200])
    }
}

/// `GET /v1.0/{tenant_id}/backup/availableforrestore`: configurations with a
/// completed, unexpired, undeleted backup.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ListBackupsAvailableForRestore;

crate::api::no_params!(ListBackupsAvailableForRestore);

impl Operation for ListBackupsAvailableForRestore {
    type Output = Vec<AvailableBackup>;
    const NAME: &'static str = "list backups available for restore";
    const METHOD: Method = Method::Get;
    const PATH: &'static str = "/v1.0/{tenant_id}/backup/availableforrestore";

    fn request(&self, auth: &Auth) -> Result<Request> {
        Ok(request(
            auth,
            Self::METHOD,
            &["backup", "availableforrestore"],
        ))
    }

    fn parse(&self, response: &Response) -> Result<Vec<AvailableBackup>> {
        parse_json(Self::NAME, response, &[200])
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lifecycle::V1BackupState;
    use crate::test_support::v1::{assert_request_line, auth};
    use crate::test_support::{assert_bodiless, assert_json_request, sample_v1, status_of};
    use crate::Error;

    #[test]
    fn start_backup_answers_the_new_backup_id() {
        let op = RequestBackupAction {
            action: V1Action::StartManual,
            id: 148_325.into(),
        };
        let req = op.request(&auth()).unwrap();
        assert_json_request(
            &req,
            Method::Post,
            "/v1.0/1234/backup/action-requested",
            sample_v1!("startBackupManually_request.json"),
        );
        let id = op
            .parse(&Response::new(
                200,
                sample_v1!("startBackupManually_response.txt"),
            ))
            .unwrap();
        assert_eq!(id, Some(368_785));
        assert!(matches!(
            op.parse(&Response::new(200, "")).unwrap_err(),
            Error::InvalidJson { .. }
        ));
        assert!(matches!(
            op.parse(&Response::new(204, "")).unwrap_err(),
            Error::UnexpectedResponse { .. }
        ));
        assert_eq!(
            status_of(op.parse(&Response::new(404, "")).unwrap_err()),
            404
        );
    }

    #[test]
    fn stop_backup_answers_nothing() {
        let op = RequestBackupAction {
            action: V1Action::StopManual,
            id: 368_785.into(),
        };
        let req = op.request(&auth()).unwrap();
        assert_json_request(
            &req,
            Method::Post,
            "/v1.0/1234/backup/action-requested",
            sample_v1!("stopBackupManually_request.json"),
        );
        assert_eq!(op.parse(&Response::new(204, "")).unwrap(), None);
        assert_eq!(op.parse(&Response::new(200, "")).unwrap(), None);
        assert_eq!(
            status_of(op.parse(&Response::new(400, "")).unwrap_err()),
            400
        );
    }

    #[test]
    fn get_backup() {
        let op = GetBackup {
            backup_id: "134332".into(),
        };
        let req = op.request(&auth()).unwrap();
        assert_request_line(&req, sample_v1!("getBackupDetails-json-http_request.txt"));
        let b = op
            .parse(&Response::new(
                200,
                sample_v1!("getBackupDetails_response.json"),
            ))
            .unwrap();
        assert_eq!(b.current_state, V1BackupState::Queued);
        assert_eq!(b.encryption_key.unwrap().exponent_hex.digits(), "20010");
        assert_eq!(
            status_of(op.parse(&Response::new(404, "")).unwrap_err()),
            404
        );
    }

    #[test]
    fn get_backup_report() {
        let op = GetBackupReport {
            backup_id: "92500".into(),
        };
        let req = op.request(&auth()).unwrap();
        assert_request_line(&req, sample_v1!("getBackupReport-json-http_request.txt"));
        let r = op
            .parse(&Response::new(
                200,
                sample_v1!("getBackupReport_response.json"),
            ))
            .unwrap();
        assert_eq!(r.num_errors.map(|n| n.value), Some(2));
        assert_eq!(
            status_of(op.parse(&Response::new(500, "")).unwrap_err()),
            500
        );
    }

    #[test]
    fn list_completed_backups() {
        let op = ListCompletedBackups {
            backup_configuration_id: "158638".into(),
        };
        let req = op.request(&auth()).unwrap();
        assert_request_line(
            &req,
            sample_v1!("getCompletedBackups-json-http_request.txt"),
        );
        let list = op
            .parse(&Response::new(
                200,
                sample_v1!("getCompletedBackups_response.json"),
            ))
            .unwrap();
        assert_eq!(
            list[0].bytes_searched.map(|n| n.value),
            Some(10_245_674_584)
        );
        assert_eq!(
            status_of(op.parse(&Response::new(401, "")).unwrap_err()),
            401
        );
    }

    #[test]
    fn list_backups_available_for_restore() {
        let req = ListBackupsAvailableForRestore.request(&auth()).unwrap();
        assert_request_line(
            &req,
            sample_v1!("getAvailableBackups-json-http_request.txt"),
        );
        assert_bodiless(&req, Method::Get, "/v1.0/1234/backup/availableforrestore");
        let list = ListBackupsAvailableForRestore
            .parse(&Response::new(
                200,
                sample_v1!("getAvailableBackups_response.json"),
            ))
            .unwrap();
        assert_eq!(list.len(), 2);
        assert_eq!(
            list[0].public_key_hex.as_ref().map(|h| h.to_bytes()),
            Some(vec![1, 0, 1])
        );
        assert_eq!(
            status_of(
                ListBackupsAvailableForRestore
                    .parse(&Response::new(503, ""))
                    .unwrap_err()
            ),
            503
        );
    }
}
