//! The rollout engine: a pure state machine over a persisted [`RolloutState`].

mod state;
mod step;

pub use state::{
    ControlRequest, Event, GateStatus, HistoryEntry, ManualAction, PauseReason, Phase,
    RollbackReason, RolloutState, UnixMillis, MAX_HISTORY,
};
pub use step::{step, Action, Input};

#[cfg(test)]
mod srm_tests;
#[cfg(test)]
mod tests;
