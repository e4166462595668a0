//! v2 browse requests: list a folder on an agent's host or in a backup. A
//! client posts the request, the agent answers through the service, and the
//! client reads the result (404 until the agent answered).

use serde::{Deserialize, Serialize};

use crate::model::v2::event::EventHeader;
use crate::wire::HexString;

/// The body of `POST /agents/{id}/browse-requests`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HostBrowseRequest {
    /// The folder to list.
    pub path: String,
    /// Base64 of the path when it is not valid UTF-8.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path_encoded: Option<String>,
}

/// The body of `POST /backups/{id}/browse-requests`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BackupBrowseRequest {
    /// The agent that reads the backup.
    pub agent_id: String,
    /// The vault password encrypted with that agent's key; `null` for an
    /// unencrypted vault. Always sent, `null` included.
    pub encrypted_password_hex: Option<HexString>,
    /// The folder to list.
    pub path: String,
    /// Base64 of the path when it is not valid UTF-8.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path_encoded: Option<String>,
}

/// One entry of a listed folder.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BrowseItem {
    /// File or folder name.
    pub name: String,
    /// Base64 of the name when it is not valid UTF-8.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name_encoded: Option<String>,
    /// Size in bytes.
    pub bytes: u64,
    /// MIME type; the agent reports folders and links with its own types
    /// (e.g. `application/x-symlink-file`).
    pub mime_type: String,
}

/// The body of `GET .../browse-requests/{request_id}`: a `host_browsed` or
/// `backup_browsed` event with the folder's entries.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BrowseResult {
    /// Event id, time, name, agent and request id.
    #[serde(flatten)]
    pub header: EventHeader,
    /// Whether the agent could list the folder.
    pub succeeded: bool,
    /// The folder listed.
    pub path: String,
    /// Base64 of the path when it is not valid UTF-8.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path_encoded: Option<String>,
    /// Its entries.
    #[serde(default)]
    pub items: Vec<BrowseItem>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::v2::event::EventType;
    use crate::test_support::sample_v2;

    #[test]
    fn browse_results_carry_items() {
        let r: BrowseResult =
            serde_json::from_str(sample_v2!("cbu-getBackupBrowseResult_response.json")).unwrap();
        assert_eq!(r.header.event, EventType::BackupBrowsed);
        assert_eq!(
            r.header.request_id.as_deref(),
            Some("ae7528c8-bcc3-4356-a237-f20fbdd79ee4")
        );
        assert_eq!(r.items[0].name, "initrd.img");
        assert_eq!(r.items[0].bytes, 0);
    }

    #[test]
    fn backup_browse_requests_send_a_null_password() {
        let req = BackupBrowseRequest {
            agent_id: "a".into(),
            encrypted_password_hex: None,
            path: "/".into(),
            path_encoded: None,
        };
        assert_eq!(
            serde_json::to_value(req).unwrap(),
            serde_json::json!({"agent_id": "a", "encrypted_password_hex": null, "path": "/"})
        );
    }
}
