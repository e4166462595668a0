//! Sample file name -> typed model: agents, tokens, agent settings, vault,
//! browse, log files, events, activities, summary settings, health.

use cloudbackup_core::model::v2::activity::ActivityList;
use cloudbackup_core::model::v2::agent::{
    Agent, AgentList, AgentStatus, NewAgent, TokenRequest, TokenResponse,
};
use cloudbackup_core::model::v2::browse::{BackupBrowseRequest, BrowseResult, HostBrowseRequest};
use cloudbackup_core::model::v2::common::ServiceMessage;
use cloudbackup_core::model::v2::event::{AgentEvent, EventList, ProjectEvent};
use cloudbackup_core::model::v2::logfile::{Logfile, LogfileList};
use cloudbackup_core::model::v2::settings::{
    AgentSettings, HealthReport, SummarySettings, SystemHealth,
};
use cloudbackup_core::model::v2::vault::{
    MoveVault, VaultEncryptionReport, VaultEncryptionRequest, VaultEncryptionResult,
    VaultPasswordReport, VaultPasswordRequest, VaultPasswordResult,
};

use super::support::{rt, RoundTrip};

/// The samples this table maps.
pub fn table() -> Vec<(&'static str, RoundTrip)> {
    vec![
        // agents
        ("cbu-postAgent_request.json", rt::<NewAgent> as RoundTrip),
        ("cbu-postAgent_response.json", rt::<Agent>),
        ("cbu-getProjectAgents_response.json", rt::<AgentList>),
        ("cbu-getAgentDetails_response.json", rt::<Agent>),
        ("cbu-getAgentStatus_response.json", rt::<AgentStatus>),
        ("cbu-updateAgent_request.json", rt::<json_patch::Patch>),
        ("cbu-updateAgent_response2.json", rt::<ServiceMessage>),
        ("cbu-updateAgent_response3.json", rt::<ServiceMessage>),
        ("cbu-postAgentTokens_request.json", rt::<TokenRequest>),
        ("cbu-postAgentTokens_response.json", rt::<TokenResponse>),
        // agent configuration settings
        ("cbu-getAgentConfig_response.json", rt::<AgentSettings>),
        // vault
        ("cbu-postAgentVault_request.json", rt::<MoveVault>),
        (
            "cbu-postAgentVaultEncryptionRequest_request.json",
            rt::<VaultEncryptionRequest>,
        ),
        (
            "cbu-postAgentVaultEncryptionReport_request.json",
            rt::<VaultEncryptionReport>,
        ),
        (
            "cbu-getAgentVaultEncryptionReport_response.json",
            rt::<VaultEncryptionResult>,
        ),
        (
            "cbu-postAgentVaultPasswordRequest_request.json",
            rt::<VaultPasswordRequest>,
        ),
        (
            "cbu-postAgentVaultPasswordReport_request.json",
            rt::<VaultPasswordReport>,
        ),
        (
            "cbu-getAgentVaultPasswordReport_response.json",
            rt::<VaultPasswordResult>,
        ),
        // browse
        (
            "cbu-postAgentBrowseRequest_request.json",
            rt::<HostBrowseRequest>,
        ),
        ("cbu-getAgentBrowseResult_response.json", rt::<BrowseResult>),
        (
            "cbu-postBackupBrowseRequest_request.json",
            rt::<BackupBrowseRequest>,
        ),
        (
            "cbu-getBackupBrowseResult_response.json",
            rt::<BrowseResult>,
        ),
        // log files
        ("cbu-postAgentLogfile_response.json", rt::<Logfile>),
        ("cbu-getAgentLogfiles_response.json", rt::<LogfileList>),
        ("cbu-getAgentLogfileDetails_response.json", rt::<Logfile>),
        ("cbu-updateLogfile_request.json", rt::<json_patch::Patch>),
        // events
        ("cbu-getEvents_response.json", rt::<EventList>),
        ("cbu-postEvents_request.json", rt::<ProjectEvent>),
        ("cbu-postAgentEvents_request.json", rt::<AgentEvent>),
        ("cbu-getAgentEvents_response.json", rt::<EventList>),
        ("cbu-getBackupEvents_response.json", rt::<EventList>),
        ("cbu-getRestoreEvents_response.json", rt::<EventList>),
        ("cbu-getCleanupEvents_response.json", rt::<EventList>),
        ("cbu-getConfigEvents_response.json", rt::<EventList>),
        // activities
        ("cbu-getProjectActivities_response.json", rt::<ActivityList>),
        ("cbu-getAgentActivities_response.json", rt::<ActivityList>),
        ("cbu-getConfigActivities_response.json", rt::<ActivityList>),
        // summary settings
        (
            "cbu-getSummarySettings_response.json",
            rt::<SummarySettings>,
        ),
        ("cbu-putSummarySettings_request.json", rt::<SummarySettings>),
        // health
        ("cbu-getHealthCheck1_response.json", rt::<HealthReport>),
        ("cbu-getHealthCheck2_response.json", rt::<HealthReport>),
        ("cbu-getHealthDetails1_response.json", rt::<SystemHealth>),
        ("cbu-getHealthDetails2_response.json", rt::<SystemHealth>),
    ]
}
