//! Restores (v2): files of a backup written back by an agent.

use serde::{Deserialize, Serialize};

use crate::lifecycle::RestoreState;
use crate::model::require_id;
use crate::model::v2::common::{ErrorReport, Link, PathFilter, ResourceRef};
use crate::wire::{HexString, Timestamp};
use crate::{Error, Result};

/// A restore.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Restore {
    /// The project (tenant) it belongs to.
    pub project_id: String,
    /// Its id.
    pub id: String,
    /// The backup restored from.
    pub backup: ResourceRef,
    /// The agent that writes the files.
    pub destination_agent: ResourceRef,
    /// Where files go; `null` means their original locations.
    pub destination_path: Option<String>,
    /// Whether existing files are overwritten.
    pub overwrite_files: bool,
    /// What is restored (absent from list answers).
    pub inclusions: Option<Vec<PathFilter>>,
    /// What is left out (absent from list answers).
    pub exclusions: Option<Vec<PathFilter>>,
    /// Its state.
    pub state: RestoreState,
    /// When it started (`null` until it does).
    pub started_time: Option<Timestamp>,
    /// When it ended (`null` until it does).
    pub ended_time: Option<Timestamp>,
    /// The error summary, with a link to the full `/errors` list.
    pub errors: Option<ErrorReport>,
    /// Files written.
    pub files_restored: u64,
    /// Bytes written.
    pub bytes_restored: u64,
    /// Links (`self`/`full`, `events`).
    #[serde(default)]
    pub links: Vec<Link>,
}

/// `{"restores": [...], "links": [...]}`: a page of a project's restores.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RestoreList {
    /// The restores.
    pub restores: Vec<Restore>,
    /// Paging links (`next`, `previous`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub links: Vec<Link>,
}

/// The body of "start a restore".
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StartRestoreBody {
    /// The backup to restore from.
    pub backup_id: String,
    /// The agent that writes the files. The reference's table spells it
    /// `destination_agent_ID`, its example `destination_agent_id`: the
    /// example's form is sent, both are read.
    #[serde(alias = "destination_agent_ID")]
    pub destination_agent_id: String,
    /// Where files go; `None` is sent as `null`, which restores them to their
    /// original locations (only meaningful on the host that was backed up).
    pub destination_path: Option<String>,
    /// Whether to overwrite existing files (the service's default is `false`).
    #[serde(default)]
    pub overwrite_files: bool,
    /// The vault passphrase encrypted with the destination agent's public key
    /// (PKCS#1 v1.5, hex). Required by the reference; `None` is sent as
    /// `null`, for vaults that are not encrypted.
    pub encrypted_password_hex: Option<HexString>,
    /// What to restore.
    pub inclusions: Vec<PathFilter>,
    /// What to leave out.
    pub exclusions: Vec<PathFilter>,
}

impl StartRestoreBody {
    /// Checks what the service would otherwise refuse: ids present, a
    /// destination path that is `null` rather than empty, and something to
    /// restore.
    pub fn validate(&self) -> Result<()> {
        require_id("backup_id", &self.backup_id)?;
        require_id("destination_agent_id", &self.destination_agent_id)?;
        if self
            .destination_path
            .as_deref()
            .is_some_and(|p| p.trim().is_empty())
        {
            return Err(Error::argument(
                "destination_path",
                "must not be empty; use None (null) to restore to the original locations",
            ));
        }
        if self.inclusions.is_empty() {
            return Err(Error::argument(
                "inclusions",
                "name at least one file or folder to restore",
            ));
        }
        Ok(())
    }
}
