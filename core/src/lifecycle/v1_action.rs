//! The v1 `action-requested` endpoints: `StartManual` and `StopManual`.

use super::machine::{transition, Actor, Lifecycle, Step};
use super::state::BackupState;
use crate::wire_enum;
use crate::{Error, Result};

wire_enum! {
    /// The `Action` of v1's `restore/action-requested` and `backup/action-requested`.
    pub enum V1Action {
        /// Start a restore (from `Creating`) or a backup configuration.
        StartManual = "StartManual",
        /// Stop a running restore or backup.
        StopManual = "StopManual",
    }
}

/// Applies a v1 action to a resource in `state`, as a user.
///
/// `has_encrypted_password` says whether the request carries an
/// `EncryptedPassword`: it is only meaningful with `StartManual`, so sending
/// one with `StopManual` is an error.
pub fn apply_v1_action<S: Lifecycle>(
    state: S,
    action: V1Action,
    has_encrypted_password: bool,
) -> Result<Step<S>> {
    let target = match action {
        V1Action::StartManual => S::start_target(),
        V1Action::StopManual => {
            if has_encrypted_password {
                return Err(Error::argument(
                    "EncryptedPassword",
                    "only meaningful with StartManual; send null with StopManual",
                ));
            }
            S::stop_target()
        }
    };
    let target = target.ok_or_else(|| {
        Error::argument(
            "Action",
            format!("{action} does not apply to a {}", S::RESOURCE),
        )
    })?;
    Ok(transition(state, target, Actor::User)?)
}

/// Applies a v1 `backup/action-requested` to a backup *configuration*, whose
/// latest backup is `latest` (`None`: it never ran).
///
/// `StartManual` creates a new backup in `StartRequested` unless the latest
/// one is still running; `StopManual` asks the running one to stop. Returns
/// the state of the backup the action creates or changes.
pub fn apply_v1_backup_action(
    latest: Option<BackupState>,
    action: V1Action,
) -> Result<BackupState> {
    let running = latest.filter(|s| !s.is_terminal());
    match (action, running) {
        (V1Action::StartManual, None) => Ok(BackupState::StartRequested),
        (V1Action::StartManual, Some(state)) => Err(Error::argument(
            "Action",
            format!("StartManual: a backup of this configuration is still {state}; stop it first"),
        )),
        (V1Action::StopManual, Some(state)) => {
            Ok(transition(state, BackupState::StopRequested, Actor::User)?.state())
        }
        (V1Action::StopManual, None) => Err(Error::argument(
            "Action",
            "StopManual: no backup of this configuration is running",
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lifecycle::{RestoreState, TransitionError};

    #[test]
    fn start_manual_moves_creating_to_start_requested() {
        let step = apply_v1_action(RestoreState::Creating, V1Action::StartManual, true).unwrap();
        assert_eq!(step.state(), RestoreState::StartRequested);
    }

    #[test]
    fn stop_manual_moves_a_running_restore_to_stop_requested() {
        let step = apply_v1_action(RestoreState::InProgress, V1Action::StopManual, false).unwrap();
        assert_eq!(step.state(), RestoreState::StopRequested);
    }

    #[test]
    fn stop_manual_with_a_password_is_an_argument_error() {
        let e = apply_v1_action(RestoreState::InProgress, V1Action::StopManual, true).unwrap_err();
        assert!(e.to_string().contains("EncryptedPassword"), "{e}");
    }

    #[test]
    fn backup_configurations_start_a_new_backup_or_stop_the_running_one() {
        use crate::lifecycle::BackupState::*;
        assert_eq!(
            apply_v1_backup_action(None, V1Action::StartManual).unwrap(),
            StartRequested
        );
        assert_eq!(
            apply_v1_backup_action(Some(Completed), V1Action::StartManual).unwrap(),
            StartRequested
        );
        let e = apply_v1_backup_action(Some(InProgress), V1Action::StartManual).unwrap_err();
        assert!(e.to_string().contains("still in_progress"), "{e}");
        assert_eq!(
            apply_v1_backup_action(Some(Queued), V1Action::StopManual).unwrap(),
            StopRequested
        );
        assert!(apply_v1_backup_action(Some(Failed), V1Action::StopManual).is_err());
        assert!(apply_v1_backup_action(None, V1Action::StopManual).is_err());
    }

    #[test]
    fn start_manual_on_a_finished_restore_is_a_conflict() {
        let e = apply_v1_action(RestoreState::Completed, V1Action::StartManual, false).unwrap_err();
        match e {
            Error::Transition(TransitionError { .. }) => {}
            other => panic!("unexpected {other:?}"),
        }
    }
}
