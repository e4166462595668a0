//! Sample file name -> typed model: agents, tokens, agent settings, vault,
//! browse, log files, events, activities, summary settings, health.

/// The samples this table maps, each to the name of its model type
/// (`cloudbackup_core::by_name::models`).
pub fn table() -> Vec<(&'static str, &'static str)> {
    vec![
        // agents
        ("cbu-postAgent_request.json", "v2.NewAgent"),
        ("cbu-postAgent_response.json", "v2.Agent"),
        ("cbu-getProjectAgents_response.json", "v2.AgentList"),
        ("cbu-getAgentDetails_response.json", "v2.Agent"),
        ("cbu-getAgentStatus_response.json", "v2.AgentStatus"),
        ("cbu-updateAgent_request.json", "v2.Patch"),
        ("cbu-updateAgent_response2.json", "v2.ServiceMessage"),
        ("cbu-updateAgent_response3.json", "v2.ServiceMessage"),
        ("cbu-postAgentTokens_request.json", "v2.TokenRequest"),
        ("cbu-postAgentTokens_response.json", "v2.TokenResponse"),
        // agent configuration settings
        ("cbu-getAgentConfig_response.json", "v2.AgentSettings"),
        // vault
        ("cbu-postAgentVault_request.json", "v2.MoveVault"),
        (
            "cbu-postAgentVaultEncryptionRequest_request.json",
            "v2.VaultEncryptionRequest",
        ),
        (
            "cbu-postAgentVaultEncryptionReport_request.json",
            "v2.VaultEncryptionReport",
        ),
        (
            "cbu-getAgentVaultEncryptionReport_response.json",
            "v2.VaultEncryptionResult",
        ),
        (
            "cbu-postAgentVaultPasswordRequest_request.json",
            "v2.VaultPasswordRequest",
        ),
        (
            "cbu-postAgentVaultPasswordReport_request.json",
            "v2.VaultPasswordReport",
        ),
        (
            "cbu-getAgentVaultPasswordReport_response.json",
            "v2.VaultPasswordResult",
        ),
        // browse
        (
            "cbu-postAgentBrowseRequest_request.json",
            "v2.HostBrowseRequest",
        ),
        ("cbu-getAgentBrowseResult_response.json", "v2.BrowseResult"),
        (
            "cbu-postBackupBrowseRequest_request.json",
            "v2.BackupBrowseRequest",
        ),
        ("cbu-getBackupBrowseResult_response.json", "v2.BrowseResult"),
        // log files
        ("cbu-postAgentLogfile_response.json", "v2.Logfile"),
        ("cbu-getAgentLogfiles_response.json", "v2.LogfileList"),
        ("cbu-getAgentLogfileDetails_response.json", "v2.Logfile"),
        ("cbu-updateLogfile_request.json", "v2.Patch"),
        // events
        ("cbu-getEvents_response.json", "v2.EventList"),
        ("cbu-postEvents_request.json", "v2.ProjectEvent"),
        ("cbu-postAgentEvents_request.json", "v2.AgentEvent"),
        ("cbu-getAgentEvents_response.json", "v2.EventList"),
        ("cbu-getBackupEvents_response.json", "v2.EventList"),
        ("cbu-getRestoreEvents_response.json", "v2.EventList"),
        ("cbu-getCleanupEvents_response.json", "v2.EventList"),
        ("cbu-getConfigEvents_response.json", "v2.EventList"),
        // activities
        ("cbu-getProjectActivities_response.json", "v2.ActivityList"),
        ("cbu-getAgentActivities_response.json", "v2.ActivityList"),
        ("cbu-getConfigActivities_response.json", "v2.ActivityList"),
        // summary settings
        ("cbu-getSummarySettings_response.json", "v2.SummarySettings"),
        ("cbu-putSummarySettings_request.json", "v2.SummarySettings"),
        // health
        ("cbu-getHealthCheck1_response.json", "v2.HealthReport"),
        ("cbu-getHealthCheck2_response.json", "v2.HealthReport"),
        ("cbu-getHealthDetails1_response.json", "v2.SystemHealth"),
        ("cbu-getHealthDetails2_response.json", "v2.SystemHealth"),
    ]
}
