//! Lifecycle state machines for restores, backups, cleanups and log files:
//! their states (v2 names, v1 names and ids), who may cause each transition,
//! which actions a console may offer in each state, and the patches an
//! agent sends about a job as it runs ([`JobReporter`]).
//!
//! ```
//! use cloudbackup_core::lifecycle::{transition, allowed_actions, Action, Actor, RestoreState, Step};
//! let step = transition(RestoreState::Queued, RestoreState::InProgress, Actor::Agent).unwrap();
//! assert_eq!(step, Step::Changed { from: RestoreState::Queued, to: RestoreState::InProgress });
//! assert!(transition(RestoreState::Completed, RestoreState::Failed, Actor::Agent).unwrap_err().is_conflict());
//! assert_eq!(allowed_actions(RestoreState::Creating), vec![Action::Start, Action::Stop]);
//! ```

mod machine;
pub mod report;
mod state;
mod v1_action;

pub use machine::{
    allowed_actions, allowed_targets, initial_states, transition, Action, Actor, InitialStates,
    Lifecycle, Phase, Rejection, ResourceKind, Step, TransitionError,
};
pub use report::{JobReporter, INTERRUPTED};
pub use state::{
    BackupState, CleanupState, LogfileState, RestoreState, V1BackupState, V1RestoreState,
};
pub use v1_action::{apply_v1_action, apply_v1_backup_action, V1Action};
