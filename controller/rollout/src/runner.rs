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
use crate::leader::{Fence, Unfenced};
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

/// Runs `rollout` until it is promoted, rolled back, or paused (unless holding). Refuses to
/// start while another controller holds the rollout's state ([`Sink::lock`]).
pub async fn run<Q: QuerySource>(
    rollout: &Rollout,
    sink: &Sink,
    source: &Q,
    clock: &dyn Fn() -> UnixMillis,
    observer: &mut dyn Observer,
    options: &RunOptions,
) -> Result<Outcome, RolloutError> {
    run_fenced(rollout, sink, source, clock, observer, options, &Unfenced).await
}

/// [`run`] as the holder of a leader-election lease: `fence` is asked before every write
/// (state or config) and at every tick, and the run stops with
/// [`RolloutError::LeadershipLost`] as soon as it says no.
pub async fn run_fenced<Q: QuerySource>(
    rollout: &Rollout,
    sink: &Sink,
    source: &Q,
    clock: &dyn Fn() -> UnixMillis,
    observer: &mut dyn Observer,
    options: &RunOptions,
    fence: &dyn Fence,
) -> Result<Outcome, RolloutError> {
    // One controller per state, held until this function returns (or the process dies).
    let _lock = sink.lock()?;
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
            fence.check(clock())?;
            sink.save_state(rollout, &state).await?;
            state
        }
    };
    let mut saved = state.clone();
    loop {
        fence.check(clock())?;
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
            // Persist every change before acting on it; a tick that changed nothing but the
            // clock is not written (no file rewrite or API call per tick).
            if changed(&saved, &state) {
                fence.check(clock())?;
                sink.save_state(rollout, &state).await?;
                saved = state.clone();
            }
            for action in actions {
                match action {
                    Action::PushWeight { canary_bp, version } => {
                        fence.check(clock())?;
                        sink.push(rollout, &state, canary_bp, version).await?;
                        inputs.push_front(Input::Pushed { canary_bp });
                    }
                    Action::RunGates { gates } => {
                        let verdicts = check_gates(rollout, source, &gates, &state, clock()).await;
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

/// True when `now` differs from `saved` in anything but `updated_at_ms`.
fn changed(saved: &RolloutState, now: &RolloutState) -> bool {
    let mut same_clock = now.clone();
    same_clock.updated_at_ms = saved.updated_at_ms;
    same_clock != *saved
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_real_changes_count() {
        let saved = RolloutState::new("r", 1);
        let mut later = saved.clone();
        later.updated_at_ms = 99;
        assert!(!changed(&saved, &later), "clock only");
        later.step = 1;
        assert!(changed(&saved, &later));
        let mut same_ms = saved.clone();
        same_ms.pending_push = Some(100);
        assert!(
            changed(&saved, &same_ms),
            "a change within the same millisecond still counts"
        );
    }

    #[test]
    fn waits_until_the_next_deadline_within_the_tick() {
        let mut state = RolloutState::new("r", 0);
        let tick = Duration::from_secs(1);
        assert_eq!(wait(&state, 0, tick), tick);
        state.next_check_ms = Some(250);
        state.pause_until_ms = Some(400);
        assert_eq!(wait(&state, 100, tick), Duration::from_millis(150));
        assert_eq!(
            wait(&state, 500, tick),
            Duration::from_millis(10),
            "overdue: poll soon"
        );
        state.next_check_ms = Some(10_000);
        state.pause_until_ms = None;
        assert_eq!(wait(&state, 0, tick), tick);
    }
}
