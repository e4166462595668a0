//! The v1 `action-requested` endpoints: `StartManual` and `StopManual`.

use super::machine::{transition, Actor, Lifecycle, Step};
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
    fn start_manual_on_a_finished_restore_is_a_conflict() {
        let e = apply_v1_action(RestoreState::Completed, V1Action::StartManual, false).unwrap_err();
        match e {
            Error::Transition(TransitionError { .. }) => {}
            other => panic!("unexpected {other:?}"),
        }
    }
}
