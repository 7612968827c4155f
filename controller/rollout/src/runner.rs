//! The reconcile loop behind `rollgate run`: observe (state, control requests, clock) →
//! decide ([`engine::step`], pure) → act (persist, push, query gates), once per tick.
//!
//! The state is persisted after every engine step and before its actions run, so a
//! `kill -9` at any point resumes at the same step with the remaining pause, and a push that
//! may or may not have happened is simply repeated with the same weight and version.

use crate::checks::check_gates;
use crate::engine::{
    self, Action, Event, Input, PauseReason, Phase, RollbackReason, RolloutState, UnixMillis,
};
use crate::error::RolloutError;
use crate::prometheus::QuerySource;
use crate::sinks::Sink;
use crate::spec::Rollout;
use std::collections::VecDeque;
use std::time::Duration;

/// How a run ended.
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    /// The canary serves 100 %.
    Promoted,
    /// The canary serves 0 %.
    RolledBack(RollbackReason),
    /// The rollout is paused (and the run was not asked to wait).
    Paused(PauseReason),
}

/// What the terminal (or a test) sees while a rollout runs.
pub trait Observer {
    /// Something happened.
    fn event(&mut self, state: &RolloutState, event: &Event);
    /// End of a tick: the state as persisted.
    fn tick(&mut self, state: &RolloutState, now: UnixMillis);
}

/// An observer that ignores everything.
pub struct NoObserver;

impl Observer for NoObserver {
    fn event(&mut self, _: &RolloutState, _: &Event) {}
    fn tick(&mut self, _: &RolloutState, _: UnixMillis) {}
}

/// Run settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunOptions {
    /// Longest wait between two reconciles.
    pub tick: Duration,
    /// Keep running while paused (waiting for `rollgate resume`) instead of returning.
    pub hold_when_paused: bool,
}

/// Runs `rollout` until it is promoted, rolled back, or paused (unless holding).
pub async fn run<Q: QuerySource>(
    rollout: &Rollout,
    sink: &Sink,
    source: &Q,
    clock: &dyn Fn() -> UnixMillis,
    observer: &mut dyn Observer,
    options: &RunOptions,
) -> Result<Outcome, RolloutError> {
    let mut state = match sink.load_state().await? {
        Some(state) if state.rollout != rollout.name => {
            return Err(RolloutError::State {
                location: "the rollout state".to_string(),
                message: format!(
                    "it belongs to rollout {:?}, not {:?}",
                    state.rollout, rollout.name
                ),
            })
        }
        Some(state) if state.step >= rollout.plan.steps.len() => {
            return Err(RolloutError::State {
                location: "the rollout state".to_string(),
                message: format!(
                    "it is at step {} but the spec has {} steps; restore the steps or start over",
                    state.step + 1,
                    rollout.plan.steps.len()
                ),
            })
        }
        Some(state) => state,
        None => {
            let state = RolloutState::new(&rollout.name, clock());
            sink.save_state(rollout, &state).await?;
            state
        }
    };
    loop {
        let mut inputs = VecDeque::new();
        if let Some(request) = sink.read_control().await? {
            if state.last_control_id.as_deref() != Some(request.id.as_str()) {
                inputs.push_back(Input::Control(request));
            }
        }
        inputs.push_back(Input::Tick);
        while let Some(input) = inputs.pop_front() {
            let (next, actions) = engine::step(&rollout.plan, state, input, clock());
            state = next;
            sink.save_state(rollout, &state).await?;
            for action in actions {
                match action {
                    Action::PushWeight { canary_bp, version } => {
                        sink.push(rollout, &state, canary_bp, version).await?;
                        inputs.push_front(Input::Pushed { canary_bp });
                    }
                    Action::RunGates { gates } => {
                        let verdicts = check_gates(rollout, source, &gates).await;
                        inputs.push_back(Input::GateResults(verdicts));
                    }
                    Action::RecordEvent(event) => observer.event(&state, &event),
                }
            }
        }
        let now = clock();
        observer.tick(&state, now);
        if state.is_finished() {
            return Ok(match &state.phase {
                Phase::RolledBack { reason } => Outcome::RolledBack(reason.clone()),
                _ => Outcome::Promoted,
            });
        }
        if let Phase::Paused { reason } = &state.phase {
            if !options.hold_when_paused && state.pending_push.is_none() {
                return Ok(Outcome::Paused(reason.clone()));
            }
        }
        tokio::time::sleep(wait(&state, now, options.tick)).await;
    }
}

/// Time to the next deadline (gate check or end of pause), at most `tick`, at least 10 ms.
fn wait(state: &RolloutState, now: UnixMillis, tick: Duration) -> Duration {
    let tick_ms = u64::try_from(tick.as_millis()).unwrap_or(u64::MAX);
    let due = [state.next_check_ms, state.pause_until_ms]
        .into_iter()
        .flatten()
        .map(|at| at.saturating_sub(now))
        .min()
        .unwrap_or(tick_ms);
    Duration::from_millis(due.clamp(10, tick_ms.max(10)))
}
