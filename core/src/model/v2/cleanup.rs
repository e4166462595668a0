//! Cleanups (v2): an agent removing expired snapshots from its vault.

use serde::{Deserialize, Serialize};

use crate::lifecycle::CleanupState;
use crate::model::v2::backup::StartState;
use crate::model::v2::common::{ErrorReport, Link, ResourceRef};
use crate::wire::{LooseInt, Timestamp};

/// A vault cleanup.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Cleanup {
    /// The project (tenant) it belongs to.
    pub project_id: String,
    /// Its id.
    pub id: String,
    /// The agent whose vault is cleaned.
    pub agent: ResourceRef,
    /// Its state.
    pub state: CleanupState,
    /// When it started (`null` until it does).
    pub started_time: Option<Timestamp>,
    /// When it ended (`null` until it does).
    pub ended_time: Option<Timestamp>,
    /// The snapshots removed.
    #[serde(default)]
    pub snapshot_ids: Vec<LooseInt>,
    /// The error summary, with a link to the full `/errors` list.
    pub errors: Option<ErrorReport>,
    /// Vault size before the cleanup, bytes.
    pub bytes_before: u64,
    /// Vault size after the cleanup, bytes.
    pub bytes_after: u64,
    /// Links (`self`, `events`).
    #[serde(default)]
    pub links: Vec<Link>,
}

impl Cleanup {
    /// Bytes the cleanup freed (0 if the vault grew meanwhile).
    pub fn bytes_freed(&self) -> u64 {
        self.bytes_before.saturating_sub(self.bytes_after)
    }
}

/// `{"cleanups": [...], "links": [...]}`: a page of a project's cleanups.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CleanupList {
    /// The cleanups.
    pub cleanups: Vec<Cleanup>,
    /// Paging links (`next`, `previous`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub links: Vec<Link>,
}

/// The body of "start a cleanup".
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StartCleanupBody {
    /// The agent whose vault to clean.
    pub agent_id: String,
    /// Manual (`start_requested`) or scheduled (`start_scheduled`).
    pub state: StartState,
}
