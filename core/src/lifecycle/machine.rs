//! One transition function for every lifecycle, following the rules of the
//! design brief:
//!
//! * progress is ordered `requested < queued < preparing < in_progress`; the
//!   agent may move forward (skipping steps), never backward, and reporting the
//!   current state again is a no-op;
//! * the agent may end any started, non-terminal state in a terminal one;
//! * the user may request a stop in any started, non-terminal state (again: no-op);
//!   so may the agent of a restore (the restore PATCH reference: "The agent is
//!   issuing a request to stop the restore"); after `stop_requested` the agent
//!   may only report a terminal state;
//! * terminal states absorb: any change is a conflict (HTTP 409) naming the state;
//! * only the user starts things (v1 `StartManual`: `Creating` -> `StartRequested`);
//!   a not-started (`Creating`) resource is otherwise non-terminal like any
//!   other: the user may stop it, the agent may end it;
//! * the scheduler creates scheduled backups and may mark a backup that has not
//!   begun running `missed` or `skipped`.

use std::fmt;

use super::state::{BackupState, CleanupState, LogfileState, RestoreState};
use crate::wire::WireName;
use crate::wire_enum;

wire_enum! {
    /// Who causes a transition.
    pub enum Actor {
        /// A person, through a console or the API.
        User = "user",
        /// The backup agent on the machine.
        Agent = "agent",
        /// The service's scheduler.
        Scheduler = "scheduler",
    }
}

wire_enum! {
    /// The resource a lifecycle belongs to.
    pub enum ResourceKind {
        /// A restore.
        Restore = "restore",
        /// A backup.
        Backup = "backup",
        /// A vault cleanup.
        Cleanup = "cleanup",
        /// An agent log-file upload.
        Logfile = "logfile",
    }
}

wire_enum! {
    /// A button a console may offer a user for a resource in a given state.
    pub enum Action {
        /// Start it (v1 `StartManual`).
        Start = "start",
        /// Ask it to stop (v1 `StopManual`, v2 `stop_requested`).
        Stop = "stop",
    }
}

/// Where a state sits in a lifecycle.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    /// Exists but not started (v1 `Creating`).
    NotStarted,
    /// Moving forward; the number orders progress (requested 0 < queued 1 <
    /// preparing 2 < in_progress 3; log files: requested 0 < started 3).
    Progress(u8),
    /// A stop was requested.
    StopRequested,
    /// Finished; absorbs every change.
    Terminal,
}

/// A lifecycle's state enum: what [`transition`] needs to know about it.
pub trait Lifecycle: WireName + Eq + fmt::Debug {
    /// The resource this lifecycle belongs to.
    const RESOURCE: ResourceKind;
    /// Where this state sits.
    fn phase(self) -> Phase;
    /// The state a user's start request leads to, if users start this resource.
    fn start_target() -> Option<Self>;
    /// The stop-requested state, if this resource can be stopped.
    fn stop_target() -> Option<Self>;
    /// Whether `actor` may put the resource from `from` into terminal state `self`.
    fn may_finish(self, from: Self, actor: Actor) -> bool {
        let _ = from;
        actor == Actor::Agent
    }
    /// Whether `actor` may ask for a stop (move a non-terminal resource to
    /// the stop-requested state). Users may, for every resource.
    fn may_request_stop(actor: Actor) -> bool {
        actor == Actor::User
    }
    /// Whether `actor` may move the resource forward to progress state `self`.
    fn may_progress(self, actor: Actor) -> bool {
        actor == Actor::Agent && !self.is_start()
    }
    /// Whether this is a "start requested/scheduled" state, set only at
    /// creation or by a user's start.
    fn is_start(self) -> bool {
        matches!(self.phase(), Phase::Progress(0))
    }
    /// Whether the state is terminal.
    fn is_terminal(self) -> bool {
        self.phase() == Phase::Terminal
    }
    /// The terminal states, in declaration order.
    fn terminal_states() -> Vec<Self> {
        Self::ALL
            .iter()
            .copied()
            .filter(|s| s.is_terminal())
            .collect()
    }
}

/// What a permitted transition does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step<S> {
    /// The state changes.
    Changed {
        /// Before.
        from: S,
        /// After.
        to: S,
    },
    /// The request repeats the current state: nothing changes.
    Unchanged(S),
}

impl<S: Copy> Step<S> {
    /// The state after the step.
    pub fn state(self) -> S {
        match self {
            Step::Changed { to, .. } => to,
            Step::Unchanged(s) => s,
        }
    }
}

/// Why a transition was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Rejection {
    /// The resource is in a terminal state (HTTP 409).
    Terminal,
    /// The target is behind the current progress.
    Backward,
    /// A stop was requested: only a terminal state may follow.
    StopPending,
    /// The resource has not been started; it can only be started.
    NotStarted,
    /// This actor may not cause this transition.
    NotPermitted,
}

/// A refused transition, naming the resource, both states and the actor.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{resource} cannot go from {from} to {to} by {actor}: {}", self.explain())]
pub struct TransitionError {
    /// The resource.
    pub resource: ResourceKind,
    /// Current state (wire name).
    pub from: &'static str,
    /// Requested state (wire name).
    pub to: &'static str,
    /// Who asked.
    pub actor: Actor,
    /// Why it was refused.
    pub rejection: Rejection,
}

impl TransitionError {
    /// Whether the service answers this with 409 Conflict (else 400).
    pub fn is_conflict(&self) -> bool {
        self.rejection == Rejection::Terminal
    }

    fn explain(&self) -> &'static str {
        match self.rejection {
            Rejection::Terminal => "it has already finished",
            Rejection::Backward => "progress never moves backward",
            Rejection::StopPending => "a stop was requested, only a final state may follow",
            Rejection::NotStarted => "it has not been started",
            Rejection::NotPermitted => "that actor may not make this change",
        }
    }
}

/// Decides whether `actor` may move a resource from `from` to `to`.
pub fn transition<S: Lifecycle>(from: S, to: S, actor: Actor) -> Result<Step<S>, TransitionError> {
    let reject = |rejection| TransitionError {
        resource: S::RESOURCE,
        from: from.wire_name(),
        to: to.wire_name(),
        actor,
        rejection,
    };
    let changed = Ok(Step::Changed { from, to });
    match from.phase() {
        Phase::Terminal => Err(reject(Rejection::Terminal)),
        _ if from == to => Ok(Step::Unchanged(from)),
        // Not started (v1 `Creating`): like any non-terminal state it may be
        // ended by the agent or stopped by the user, but only a user's start
        // moves it into progress.
        Phase::NotStarted => match to.phase() {
            Phase::Terminal if to.may_finish(from, actor) => changed,
            Phase::StopRequested if S::may_request_stop(actor) => changed,
            _ if actor == Actor::User && S::start_target() == Some(to) => changed,
            Phase::Progress(_) if actor == Actor::User || to.may_progress(actor) => {
                Err(reject(Rejection::NotStarted))
            }
            _ => Err(reject(Rejection::NotPermitted)),
        },
        Phase::StopRequested => match to.phase() {
            Phase::Terminal if to.may_finish(from, actor) => changed,
            Phase::Terminal => Err(reject(Rejection::NotPermitted)),
            _ => Err(reject(Rejection::StopPending)),
        },
        Phase::Progress(rank) => match to.phase() {
            Phase::Terminal if to.may_finish(from, actor) => changed,
            Phase::StopRequested if S::may_request_stop(actor) => changed,
            Phase::Progress(target) if to.may_progress(actor) => {
                if target > rank {
                    changed
                } else {
                    Err(reject(Rejection::Backward))
                }
            }
            _ => Err(reject(Rejection::NotPermitted)),
        },
    }
}

/// Every state `actor` may move a resource to from `state` (no-ops excluded).
pub fn allowed_targets<S: Lifecycle>(state: S, actor: Actor) -> Vec<S> {
    S::ALL
        .iter()
        .copied()
        .filter(|&to| matches!(transition(state, to, actor), Ok(Step::Changed { .. })))
        .collect()
}

/// The buttons a console should offer a user for a resource in `state`.
pub fn allowed_actions<S: Lifecycle>(state: S) -> Vec<Action> {
    let offers = |target: Option<S>| {
        target.is_some_and(|to| {
            matches!(transition(state, to, Actor::User), Ok(Step::Changed { .. }))
        })
    };
    let mut actions = Vec::new();
    if offers(S::start_target()) {
        actions.push(Action::Start);
    }
    if offers(S::stop_target()) {
        actions.push(Action::Stop);
    }
    actions
}

/// The states a newly created resource may start in, when `actor` creates it.
pub fn initial_states<S: Lifecycle + InitialStates>(actor: Actor) -> Vec<S> {
    S::initial(actor)
}

/// Which states each actor may create a resource in.
pub trait InitialStates: Sized {
    /// The states `actor` may create this resource in.
    fn initial(actor: Actor) -> Vec<Self>;
}

impl Lifecycle for RestoreState {
    const RESOURCE: ResourceKind = ResourceKind::Restore;
    fn phase(self) -> Phase {
        use RestoreState::*;
        match self {
            Creating => Phase::NotStarted,
            StartRequested => Phase::Progress(0),
            Queued => Phase::Progress(1),
            Preparing => Phase::Progress(2),
            InProgress => Phase::Progress(3),
            StopRequested => Phase::StopRequested,
            Completed | CompletedWithErrors | Failed | Stopped => Phase::Terminal,
        }
    }
    fn start_target() -> Option<Self> {
        Some(RestoreState::StartRequested)
    }
    fn stop_target() -> Option<Self> {
        Some(RestoreState::StopRequested)
    }
    /// The user, and the agent too: the restore PATCH reference describes
    /// `stop_requested` as "The agent is issuing a request to stop the
    /// restore".
    fn may_request_stop(actor: Actor) -> bool {
        matches!(actor, Actor::User | Actor::Agent)
    }
}

impl InitialStates for RestoreState {
    fn initial(actor: Actor) -> Vec<Self> {
        match actor {
            // v1 creates a restore configuration (Creating); v2 POST starts it.
            Actor::User => vec![RestoreState::Creating, RestoreState::StartRequested],
            Actor::Agent | Actor::Scheduler => vec![],
        }
    }
}

impl Lifecycle for BackupState {
    const RESOURCE: ResourceKind = ResourceKind::Backup;
    fn phase(self) -> Phase {
        use BackupState::*;
        match self {
            StartRequested | StartScheduled => Phase::Progress(0),
            Queued => Phase::Progress(1),
            Preparing => Phase::Progress(2),
            InProgress => Phase::Progress(3),
            StopRequested => Phase::StopRequested,
            Completed | CompletedWithErrors | Failed | Stopped | Skipped | Missed => {
                Phase::Terminal
            }
        }
    }
    // A backup resource is created already started; users start backups by
    // creating one (v2 POST) or by StartManual on a configuration (v1).
    fn start_target() -> Option<Self> {
        None
    }
    fn stop_target() -> Option<Self> {
        Some(BackupState::StopRequested)
    }
    fn may_finish(self, from: Self, actor: Actor) -> bool {
        // The agent may end any run in any terminal state; the scheduler only
        // judges runs that have not begun (missed, or skipped because the
        // previous one is still going).
        let not_running = matches!(from.phase(), Phase::Progress(0 | 1));
        match actor {
            Actor::Agent => true,
            Actor::Scheduler => {
                matches!(self, BackupState::Missed | BackupState::Skipped) && not_running
            }
            Actor::User => false,
        }
    }
}

impl InitialStates for BackupState {
    fn initial(actor: Actor) -> Vec<Self> {
        match actor {
            Actor::User => vec![BackupState::StartRequested],
            // start_scheduled requires the X-Agent-Id header: the agent runs the schedule.
            Actor::Agent | Actor::Scheduler => vec![BackupState::StartScheduled],
        }
    }
}

impl Lifecycle for CleanupState {
    const RESOURCE: ResourceKind = ResourceKind::Cleanup;
    fn phase(self) -> Phase {
        use CleanupState::*;
        match self {
            StartRequested | StartScheduled => Phase::Progress(0),
            Queued => Phase::Progress(1),
            InProgress => Phase::Progress(3),
            StopRequested => Phase::StopRequested,
            Completed | CompletedWithErrors | Failed | Stopped => Phase::Terminal,
        }
    }
    fn start_target() -> Option<Self> {
        None
    }
    fn stop_target() -> Option<Self> {
        Some(CleanupState::StopRequested)
    }
}

impl InitialStates for CleanupState {
    fn initial(actor: Actor) -> Vec<Self> {
        match actor {
            Actor::User => vec![CleanupState::StartRequested],
            Actor::Agent | Actor::Scheduler => vec![CleanupState::StartScheduled],
        }
    }
}

impl Lifecycle for LogfileState {
    const RESOURCE: ResourceKind = ResourceKind::Logfile;
    fn phase(self) -> Phase {
        match self {
            LogfileState::Requested => Phase::Progress(0),
            LogfileState::Started => Phase::Progress(3),
            LogfileState::Completed => Phase::Terminal,
        }
    }
    fn start_target() -> Option<Self> {
        None
    }
    fn stop_target() -> Option<Self> {
        None
    }
}

impl InitialStates for LogfileState {
    fn initial(actor: Actor) -> Vec<Self> {
        match actor {
            Actor::User => vec![LogfileState::Requested],
            Actor::Agent | Actor::Scheduler => vec![],
        }
    }
}
