//! v1 restore operations (`/v1.0/{tenant_id}/restore/...`).

use serde::{Deserialize, Serialize};

use super::{json_request, request};
use crate::api::{parse_empty, parse_json, require_id, Auth, Method, Operation, Request, Response};
use crate::model::v1::{
    OrBlank, Restore, RestoreActionRequest, RestoreFile, RestoreReport, RestoreSpec,
    UpdateRestoreRequest,
};
use crate::{Error, Result};

/// `PUT /v1.0/{tenant_id}/restore`: create a restore configuration (state
/// `Creating`); answers the restore.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreateRestore {
    /// What to restore and where.
    pub body: RestoreSpec,
}

impl Operation for CreateRestore {
    type Output = Restore;
    const NAME: &'static str = "create restore";
    const METHOD: Method = Method::Put;
    const PATH: &'static str = "/v1.0/{tenant_id}/restore";

    fn request(&self, auth: &Auth) -> Result<Request> {
        require_id("DestinationPath", &self.body.destination_path)?;
        json_request(auth, Self::METHOD, &["restore"], &self.body)
    }

    fn parse(&self, response: &Response) -> Result<Restore> {
        parse_json(Self::NAME, response, &[200])
    }
}

/// `POST /v1.0/{tenant_id}/restore`: update a restore configuration (only
/// while it is `Creating`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UpdateRestore {
    /// The restore and its new settings.
    pub body: UpdateRestoreRequest,
}

impl Operation for UpdateRestore {
    type Output = ();
    const NAME: &'static str = "update restore";
    const METHOD: Method = Method::Post;
    const PATH: &'static str = "/v1.0/{tenant_id}/restore";

    fn request(&self, auth: &Auth) -> Result<Request> {
        require_id("DestinationPath", &self.body.spec.destination_path)?;
        json_request(auth, Self::METHOD, &["restore"], &self.body)
    }

    fn parse(&self, response: &Response) -> Result<()> {
        parse_empty(Self::NAME, response, &[204])
    }
}

/// `POST /v1.0/{tenant_id}/restore/action-requested`: start or stop a
/// restore. A password with StopManual is refused before sending.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RequestRestoreAction {
    /// The action, the restore and (to start an encrypted one) the password.
    pub body: RestoreActionRequest,
}

impl Operation for RequestRestoreAction {
    type Output = ();
    const NAME: &'static str = "request restore action";
    const METHOD: Method = Method::Post;
    const PATH: &'static str = "/v1.0/{tenant_id}/restore/action-requested";

    fn request(&self, auth: &Auth) -> Result<Request> {
        self.body.validate()?;
        json_request(
            auth,
            Self::METHOD,
            &["restore", "action-requested"],
            &self.body,
        )
    }

    fn parse(&self, response: &Response) -> Result<()> {
        parse_empty(Self::NAME, response, &[204])
    }
}

/// `GET /v1.0/{tenant_id}/restore/{restoreId}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GetRestore {
    /// The restore.
    pub restore_id: String,
}

impl Operation for GetRestore {
    type Output = Restore;
    const NAME: &'static str = "get restore";
    const METHOD: Method = Method::Get;
    const PATH: &'static str = "/v1.0/{tenant_id}/restore/{restore_id}";

    fn request(&self, auth: &Auth) -> Result<Request> {
        require_id("restore_id", &self.restore_id)?;
        Ok(request(auth, Self::METHOD, &["restore", &self.restore_id]))
    }

    fn parse(&self, response: &Response) -> Result<Restore> {
        parse_json(Self::NAME, response, &[200])
    }
}

/// `GET /v1.0/{tenant_id}/restore/report/{restoreId}`: the report of a
/// finished restore.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GetRestoreReport {
    /// The restore.
    pub restore_id: String,
}

impl Operation for GetRestoreReport {
    type Output = RestoreReport;
    const NAME: &'static str = "get restore report";
    const METHOD: Method = Method::Get;
    const PATH: &'static str = "/v1.0/{tenant_id}/restore/report/{restore_id}";

    fn request(&self, auth: &Auth) -> Result<Request> {
        require_id("restore_id", &self.restore_id)?;
        Ok(request(
            auth,
            Self::METHOD,
            &["restore", "report", &self.restore_id],
        ))
    }

    fn parse(&self, response: &Response) -> Result<RestoreReport> {
        parse_json(Self::NAME, response, &[200])
    }
}

/// `PUT /v1.0/{tenant_id}/restore/files`: include or exclude a file in a
/// restore configuration (`ParentId` = the restore).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IncludeRestoreFile {
    /// The file entry; `ParentId` is required.
    pub body: RestoreFile,
}

impl Operation for IncludeRestoreFile {
    type Output = ();
    const NAME: &'static str = "include restore file";
    const METHOD: Method = Method::Put;
    const PATH: &'static str = "/v1.0/{tenant_id}/restore/files";

    fn request(&self, auth: &Auth) -> Result<Request> {
        if self
            .body
            .parent_id
            .as_ref()
            .and_then(OrBlank::value)
            .is_none()
        {
            return Err(Error::argument(
                "ParentId",
                "required: the restore this file belongs to",
            ));
        }
        if self.body.filter.is_none() {
            return Err(Error::argument(
                "Filter",
                "required: 1 to include the file, 2 to exclude it",
            ));
        }
        require_id("FilePath", &self.body.file_path)?;
        json_request(auth, Self::METHOD, &["restore", "files"], &self.body)
    }

    fn parse(&self, response: &Response) -> Result<()> {
        parse_empty(Self::NAME, response, &[200])
    }
}

/// `GET /v1.0/{tenant_id}/restore/files/{restoreId}`: the files a restore
/// includes or excludes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ListRestoreFiles {
    /// The restore.
    pub restore_id: String,
}

impl Operation for ListRestoreFiles {
    type Output = Vec<RestoreFile>;
    const NAME: &'static str = "list restore files";
    const METHOD: Method = Method::Get;
    const PATH: &'static str = "/v1.0/{tenant_id}/restore/files/{restore_id}";

    fn request(&self, auth: &Auth) -> Result<Request> {
        require_id("restore_id", &self.restore_id)?;
        Ok(request(
            auth,
            Self::METHOD,
            &["restore", "files", &self.restore_id],
        ))
    }

    fn parse(&self, response: &Response) -> Result<Vec<RestoreFile>> {
        parse_json(Self::NAME, response, &[200])
    }
}

/// `DELETE /v1.0/{tenant_id}/restore/files/{restoreId}`: delete a restore
/// configuration ("restore configuration file" in `apidoc_external.xml`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DeleteRestore {
    /// The restore.
    pub restore_id: String,
}

impl Operation for DeleteRestore {
    type Output = ();
    const NAME: &'static str = "delete restore";
    const METHOD: Method = Method::Delete;
    const PATH: &'static str = "/v1.0/{tenant_id}/restore/files/{restore_id}";

    fn request(&self, auth: &Auth) -> Result<Request> {
        require_id("restore_id", &self.restore_id)?;
        Ok(request(
            auth,
            Self::METHOD,
            &["restore", "files", &self.restore_id],
        ))
    }

    fn parse(&self, response: &Response) -> Result<()> {
        parse_empty(Self::NAME, response, &[204])
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lifecycle::{V1Action, V1RestoreState};
    use crate::model::v1::{FileFilter, FileItemType, OrBlank};
    use crate::test_support::v1::{assert_request_line, auth};
    use crate::test_support::{assert_bodiless, assert_json_request, sample_v1, status_of};
    use crate::wire::HexString;
    use crate::wire::{ById, LooseInt};

    #[test]
    fn create_restore() {
        let body: RestoreSpec =
            serde_json::from_str(sample_v1!("createRestoreConfig_request.json")).unwrap();
        let op = CreateRestore { body };
        let req = op.request(&auth()).unwrap();
        assert_json_request(
            &req,
            Method::Put,
            "/v1.0/1234/restore",
            sample_v1!("createRestoreConfig_request.json"),
        );
        let r = op
            .parse(&Response::new(
                200,
                sample_v1!("createRestoreConfig_response.json"),
            ))
            .unwrap();
        assert_eq!(
            (r.restore_id, r.restore_state_id.value),
            (LooseInt::new(1394), V1RestoreState::Creating)
        );
        assert_eq!(
            status_of(op.parse(&Response::new(400, "")).unwrap_err()),
            400
        );
    }

    #[test]
    fn update_restore() {
        let body: UpdateRestoreRequest =
            serde_json::from_str(sample_v1!("updateRestoreConfig_request.json")).unwrap();
        let op = UpdateRestore { body };
        let req = op.request(&auth()).unwrap();
        assert_json_request(
            &req,
            Method::Post,
            "/v1.0/1234/restore",
            sample_v1!("updateRestoreConfig_request.json"),
        );
        op.parse(&Response::new(204, "")).unwrap();
        assert_eq!(
            status_of(op.parse(&Response::new(404, "")).unwrap_err()),
            404
        );
    }

    #[test]
    fn start_and_stop_restores() {
        // A start carries "EncryptedPassword": null ("specify null or the
        // encrypted key"); the reference's sample leaves it out.
        let start = sample_v1!("startUnencryptedRestore_request.json")
            .replace("\"Id\"", "\"EncryptedPassword\": null, \"Id\"");
        for (action, id, sample) in [
            (V1Action::StartManual, 13692, start.as_str()),
            (
                V1Action::StopManual,
                13689,
                sample_v1!("stopRestoreManually_request.json"),
            ),
        ] {
            let op = RequestRestoreAction {
                body: RestoreActionRequest {
                    action,
                    encrypted_password: None,
                    id: id.into(),
                },
            };
            let req = op.request(&auth()).unwrap();
            assert_json_request(
                &req,
                Method::Post,
                "/v1.0/1234/restore/action-requested",
                sample,
            );
            op.parse(&Response::new(204, "")).unwrap();
            assert_eq!(
                status_of(op.parse(&Response::new(404, "")).unwrap_err()),
                404
            );
        }
    }

    #[test]
    fn an_encrypted_start_sends_the_password_and_a_stop_refuses_it() {
        let password = Some(HexString::parse("0bff42a5 26c78076").unwrap());
        let start = RequestRestoreAction {
            body: RestoreActionRequest {
                action: V1Action::StartManual,
                encrypted_password: password.clone(),
                id: 13689.into(),
            },
        };
        let req = start.request(&auth()).unwrap();
        let expected =
            r#"{"Action":"StartManual","EncryptedPassword":"0bff42a5 26c78076","Id":13689}"#;
        assert_json_request(
            &req,
            Method::Post,
            "/v1.0/1234/restore/action-requested",
            expected,
        );
        let stop = RequestRestoreAction {
            body: RestoreActionRequest {
                action: V1Action::StopManual,
                encrypted_password: password,
                id: 13689.into(),
            },
        };
        let e = stop.request(&auth()).unwrap_err();
        assert!(
            matches!(&e, Error::InvalidArgument { name, .. } if name == "EncryptedPassword"),
            "{e}"
        );
    }

    #[test]
    fn get_restore() {
        let op = GetRestore {
            restore_id: "1394".into(),
        };
        let req = op.request(&auth()).unwrap();
        assert_request_line(&req, sample_v1!("getRestoreDetails-json-http_request.txt"));
        let r = op
            .parse(&Response::new(
                200,
                sample_v1!("getRestoreDetails_response.json"),
            ))
            .unwrap();
        assert!(r.spec.overwrite_files.value);
        assert_eq!(
            status_of(op.parse(&Response::new(404, "")).unwrap_err()),
            404
        );
    }

    #[test]
    fn get_restore_report() {
        let op = GetRestoreReport {
            restore_id: "1394".into(),
        };
        let req = op.request(&auth()).unwrap();
        assert_request_line(&req, sample_v1!("getRestoreReport-json-http_request.txt"));
        let r = op
            .parse(&Response::new(
                200,
                sample_v1!("getRestoreReport_response.json"),
            ))
            .unwrap();
        assert_eq!(r.state, V1RestoreState::CompletedWithErrors);
        assert_eq!(
            r.num_bytes_restored.map(|s| s.bytes()),
            Some(18 * 1024 * 1024)
        );
        assert_eq!(r.num_files_restored.map(|n| n.value), Some(35));
        assert_eq!(
            status_of(op.parse(&Response::new(500, "")).unwrap_err()),
            500
        );
    }

    #[test]
    fn include_restore_file() {
        let body: RestoreFile =
            serde_json::from_str(sample_v1!("includeRestoreFile_request.json")).unwrap();
        assert_eq!(
            (body.filter.unwrap().value, body.file_item_type.value),
            (FileFilter::Include, FileItemType::File)
        );
        let op = IncludeRestoreFile { body: body.clone() };
        let req = op.request(&auth()).unwrap();
        assert_json_request(
            &req,
            Method::Put,
            "/v1.0/1234/restore/files",
            sample_v1!("includeRestoreFile_request.json"),
        );
        op.parse(&Response::new(200, "")).unwrap();
        assert_eq!(
            status_of(op.parse(&Response::new(404, "")).unwrap_err()),
            404
        );
        let unfiltered = IncludeRestoreFile {
            body: RestoreFile {
                filter: None,
                ..body.clone()
            },
        };
        let e = unfiltered.request(&auth()).unwrap_err();
        assert!(
            matches!(&e, Error::InvalidArgument { name, .. } if name == "Filter"),
            "{e}"
        );
        let orphan = IncludeRestoreFile {
            body: RestoreFile {
                parent_id: Some(OrBlank::Blank),
                ..body
            },
        };
        assert!(orphan
            .request(&auth())
            .unwrap_err()
            .to_string()
            .contains("ParentId"));
    }

    #[test]
    fn list_restore_files() {
        let op = ListRestoreFiles {
            restore_id: "148325".into(),
        };
        let req = op.request(&auth()).unwrap();
        assert_request_line(&req, sample_v1!("getRestoreFiles_request.txt"));
        let files = op
            .parse(&Response::new(
                200,
                sample_v1!("getRestoreFiles_request.json"),
            ))
            .unwrap();
        assert_eq!(files[0].filter, Some(ById::new(FileFilter::Exclude)));
        assert_eq!(files[0].file_item_type.value, FileItemType::Folder);
        assert_eq!(
            files[0].restore_id,
            Some(OrBlank::Value(LooseInt::new(1394)))
        );
        assert_eq!(
            status_of(op.parse(&Response::new(403, "")).unwrap_err()),
            403
        );
    }

    #[test]
    fn delete_restore() {
        let op = DeleteRestore {
            restore_id: "1394".into(),
        };
        let req = op.request(&auth()).unwrap();
        assert_request_line(&req, sample_v1!("deleteRestoreConfig_request.txt"));
        assert_bodiless(&req, Method::Delete, "/v1.0/1234/restore/files/1394");
        op.parse(&Response::new(204, "")).unwrap();
        assert_eq!(
            status_of(op.parse(&Response::new(404, "")).unwrap_err()),
            404
        );
    }
}
