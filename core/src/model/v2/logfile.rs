//! v2 agent log files: a user requests one, the agent uploads it to Cloud
//! Files and moves it through `requested` -> `started` -> `completed`.

use serde::{Deserialize, Serialize};

use crate::lifecycle::LogfileState;
use crate::model::v2::common::Link;
use crate::wire::Timestamp;

/// A log file of an agent (details, list items, and the answer to a download request).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Logfile {
    /// Log file id.
    pub id: String,
    /// When it was requested.
    pub date: Timestamp,
    /// Upload state.
    pub state: LogfileState,
    /// `self`, and once uploaded `logfile` and `logfile_temp_url` (a signed download URL).
    #[serde(default)]
    pub links: Vec<Link>,
}

impl Logfile {
    /// The signed download URL, once the agent has uploaded the file.
    pub fn temp_url(&self) -> Option<&str> {
        self.links
            .iter()
            .find(|l| l.rel == "logfile_temp_url")
            .map(|l| l.href.as_str())
    }
}

/// The body of `GET /agents/{id}/logfiles`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LogfileList {
    /// The agent's log files (empty when there are none).
    pub logfiles: Vec<Logfile>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_support::sample_v2;

    #[test]
    fn completed_logfiles_have_a_temp_url() {
        let l: Logfile =
            serde_json::from_str(sample_v2!("cbu-getAgentLogfileDetails_response.json")).unwrap();
        assert_eq!(l.state, LogfileState::Completed);
        assert!(l.temp_url().unwrap().contains("temp_url_sig="));
        let e = serde_json::from_str::<Logfile>(
            r#"{"id": "a", "date": "2014-09-23T12:22:40.606703Z", "state": "lost", "links": []}"#,
        )
        .unwrap_err()
        .to_string();
        assert!(e.contains("lost"), "{e}");
    }
}
