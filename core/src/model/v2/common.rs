//! Pieces shared by many v2 resources: links, references to other
//! resources, path filters, and error reports.

use serde::{Deserialize, Serialize};

use crate::wire::LooseInt;
use crate::wire_enum;

/// A hypermedia link (`{"href": ..., "rel": ...}`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Link {
    /// Target URL.
    pub href: String,
    /// Relation: `self`, `full`, `events`, `next`, `logfile`, ...
    pub rel: String,
}

/// A reference to another resource: its id and links.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ResourceRef {
    /// The referenced resource's id.
    pub id: String,
    /// Links to it.
    #[serde(default)]
    pub links: Vec<Link>,
}

wire_enum! {
    /// Whether a path filter names a file or a folder.
    pub enum PathType {
        /// A single file.
        File = "file",
        /// A folder and everything below it.
        Folder = "folder",
    }
}

/// An inclusion or exclusion of a backup configuration or restore.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PathFilter {
    /// File or folder.
    #[serde(rename = "type")]
    pub kind: PathType,
    /// The path, in the agent's own syntax.
    pub path: String,
}

/// The exception behind one failed file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorException {
    /// The agent's error code.
    pub code: LooseInt,
    /// Short description.
    pub description: Option<String>,
    /// Details (stack, OS message).
    pub details: Option<String>,
}

/// One failed file of a backup, restore or cleanup.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorEntry {
    /// Position of the error in the run's error list.
    pub index: LooseInt,
    /// The file's path.
    pub path: String,
    /// Error type, e.g. `phx_exception`, `file_or_folder_missing`.
    #[serde(rename = "type")]
    pub kind: String,
    /// Human description of the type, when the service adds one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// The exception, if any.
    pub exception: Option<ErrorException>,
}

/// The `errors` of a backup, restore or cleanup: the summary embedded in the
/// resource (with `links`), the `/errors` patch value (with `list`), and the
/// `/errors` sub-resource (both).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorReport {
    /// Number of errors.
    pub count: LooseInt,
    /// Machine-readable reason, e.g. `unable_to_process_some_files`.
    pub reason: Option<String>,
    /// Human diagnostics.
    pub diagnostics: Option<String>,
    /// The failed files (patch value and `/errors` resource).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub list: Option<Vec<ErrorEntry>>,
    /// Links (embedded summary and `/errors` resource).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub links: Option<Vec<Link>>,
}

/// The body of v2 error answers (`{"message": "Agent not found."}`), also
/// used for 409 Conflict.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ServiceMessage {
    /// The service's message.
    pub message: String,
}
