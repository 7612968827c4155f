//! The pure state machine: `step(plan, state, input, now) -> (state, actions)`.
//!
//! The runner feeds it inputs (time passing, push confirmations, gate verdicts, control
//! requests), persists the returned state, then carries out the actions. A push is decided
//! (state with `pending_push`, persisted) before it is made, and confirmed after, so a crash
//! in between re-pushes the same weight with the same version: pushes are idempotent and a
//! weight is never re-played.

use super::state::{
    ControlRequest, Event, ManualAction, PauseReason, Phase, RollbackReason, RolloutState,
    UnixMillis,
};
use crate::gates::{GateOutcome, GateVerdict, NoDataPolicy};
use crate::spec::Plan;
use rollgate_core::config::TOTAL_WEIGHT;

/// What the engine is told.
#[derive(Debug, Clone, PartialEq)]
pub enum Input {
    /// Time passed (the runner's tick).
    Tick,
    /// The sink now holds this canary weight.
    Pushed {
        /// The weight pushed.
        canary_bp: u32,
    },
    /// Results of a [`Action::RunGates`].
    GateResults(Vec<GateVerdict>),
    /// A control request (applied once per id).
    Control(ControlRequest),
}

/// What the runner must do, in order.
#[derive(Debug, Clone, PartialEq)]
pub enum Action {
    /// Push the config with the canary at this weight and version, then feed [`Input::Pushed`].
    PushWeight {
        /// Canary weight in basis points.
        canary_bp: u32,
        /// Config version (ECDS `version_info`).
        version: u64,
    },
    /// Check these gates and feed [`Input::GateResults`].
    RunGates {
        /// Gate names.
        gates: Vec<String>,
    },
    /// Something worth telling the operator (also in the state's history).
    RecordEvent(Event),
}

/// Advances the rollout. Pure: the same arguments always give the same result.
pub fn step(
    plan: &Plan,
    mut state: RolloutState,
    input: Input,
    now: UnixMillis,
) -> (RolloutState, Vec<Action>) {
    let mut actions = Vec::new();
    state.updated_at_ms = now;
    let mut ctx = Ctx {
        plan,
        state: &mut state,
        actions: &mut actions,
        now,
    };
    match input {
        Input::Tick => ctx.on_tick(),
        Input::Pushed { canary_bp } => ctx.on_pushed(canary_bp),
        Input::GateResults(verdicts) => ctx.on_gates(verdicts),
        Input::Control(request) => ctx.on_control(request),
    }
    (state, actions)
}

struct Ctx<'a> {
    plan: &'a Plan,
    state: &'a mut RolloutState,
    actions: &'a mut Vec<Action>,
    now: UnixMillis,
}

impl Ctx<'_> {
    fn event(&mut self, event: Event) {
        self.state.record(self.now, event.clone());
        self.actions.push(Action::RecordEvent(event));
    }

    fn plan_push(&mut self, canary_bp: u32) {
        self.state.config_version += 1;
        self.state.pending_push = Some(canary_bp);
        let version = self.state.config_version;
        self.event(Event::PushPlanned { canary_bp, version });
        self.actions.push(Action::PushWeight { canary_bp, version });
    }

    fn current_step_bp(&self) -> Option<u32> {
        self.plan.steps.get(self.state.step).map(|s| s.canary_bp)
    }

    fn on_tick(&mut self) {
        if let Some(canary_bp) = self.state.pending_push {
            let version = self.state.config_version;
            self.actions.push(Action::PushWeight { canary_bp, version });
            return;
        }
        if self.state.phase != Phase::Progressing {
            return;
        }
        let Some(step_bp) = self.current_step_bp() else {
            self.promote();
            return;
        };
        if self.state.applied_canary_bp != Some(step_bp) {
            self.plan_push(step_bp);
            return;
        }
        let gates = self.step_gates();
        let pause_over = self
            .state
            .pause_until_ms
            .is_none_or(|until| self.now >= until);
        if gates.is_empty() {
            if pause_over {
                self.advance();
            }
            return;
        }
        if self.state.next_check_ms.is_none_or(|at| self.now >= at) {
            self.actions.push(Action::RunGates { gates });
        }
    }

    fn step_gates(&self) -> Vec<String> {
        self.plan
            .steps
            .get(self.state.step)
            .map(|s| s.gates.clone())
            .unwrap_or_default()
    }

    fn on_pushed(&mut self, canary_bp: u32) {
        if self.state.pending_push != Some(canary_bp) {
            return; // stale confirmation
        }
        self.state.pending_push = None;
        self.state.applied_canary_bp = Some(canary_bp);
        let version = self.state.config_version;
        self.event(Event::Pushed { canary_bp, version });
        let Some(step) = self.plan.steps.get(self.state.step).cloned() else {
            return;
        };
        if step.canary_bp != canary_bp {
            return; // a rollback or promote push; the phase already says so
        }
        match self.state.phase {
            Phase::Progressing => self.start_step(),
            Phase::Paused { .. } => self.state.pause_remaining_ms = Some(step.pause_ms),
            _ => {}
        }
    }

    fn start_step(&mut self) {
        let Some(step) = self.plan.steps.get(self.state.step).cloned() else {
            return;
        };
        self.state.pause_until_ms = Some(self.now + step.pause_ms);
        self.state.next_check_ms = self.first_check(step.pause_ms);
        for status in self.state.gates.values_mut() {
            status.consecutive_failures = 0;
        }
        self.event(Event::StepStarted {
            step: self.state.step,
            canary_bp: step.canary_bp,
            pause_ms: step.pause_ms,
        });
        let last = self.state.step + 1 == self.plan.steps.len();
        if step.pause_ms == 0 && (last || step.gates.is_empty()) {
            self.advance();
        }
    }

    /// First check of a pause of `pause_ms`: one check period in, or at the pause's end.
    fn first_check(&self, pause_ms: u64) -> Option<UnixMillis> {
        let period = self.plan.check_period_ms(self.state.step)?;
        Some(self.now + period.min(pause_ms))
    }

    fn advance(&mut self) {
        if self.state.step + 1 >= self.plan.steps.len() {
            self.promote();
            return;
        }
        self.state.step += 1;
        self.state.pause_until_ms = None;
        self.state.next_check_ms = None;
        if let Some(bp) = self.current_step_bp() {
            self.plan_push(bp);
        }
    }

    fn promote(&mut self) {
        self.state.phase = Phase::Promoted;
        self.state.pause_until_ms = None;
        self.state.pause_remaining_ms = None;
        self.state.next_check_ms = None;
        self.event(Event::Promoted);
        if self.state.target_canary_bp() != Some(TOTAL_WEIGHT) {
            self.plan_push(TOTAL_WEIGHT);
        }
    }

    fn rollback(&mut self, reason: RollbackReason) {
        self.state.phase = Phase::RolledBack {
            reason: reason.clone(),
        };
        self.state.pause_until_ms = None;
        self.state.pause_remaining_ms = None;
        self.state.next_check_ms = None;
        self.event(Event::RolledBack { reason });
        if self.state.target_canary_bp() != Some(0) || self.state.applied_canary_bp.is_none() {
            self.plan_push(0);
        }
    }

    fn pause(&mut self, reason: PauseReason) {
        let remaining = match (self.state.pending_push, self.state.pause_until_ms) {
            (None, Some(until)) => until.saturating_sub(self.now),
            _ => self
                .plan
                .steps
                .get(self.state.step)
                .map_or(0, |s| s.pause_ms),
        };
        self.state.phase = Phase::Paused {
            reason: reason.clone(),
        };
        self.state.pause_remaining_ms = Some(remaining);
        self.state.pause_until_ms = None;
        self.state.next_check_ms = None;
        self.event(Event::Paused { reason });
    }

    fn resume(&mut self) {
        let remaining = self.state.pause_remaining_ms.take().unwrap_or(0);
        self.state.phase = Phase::Progressing;
        self.event(Event::Resumed);
        if self.state.applied_canary_bp == self.current_step_bp()
            && self.state.pending_push.is_none()
        {
            self.state.pause_until_ms = Some(self.now + remaining);
            self.state.next_check_ms = self.first_check(remaining);
        }
    }

    fn on_gates(&mut self, verdicts: Vec<GateVerdict>) {
        if self.state.phase != Phase::Progressing || self.state.pending_push.is_some() {
            return; // results of a check that no longer applies
        }
        if let Some(reason) = sample_ratio_mismatch(&verdicts) {
            // The data is invalid: record what was seen, count nothing, decide nothing.
            for verdict in verdicts {
                let status = self.state.gates.entry(verdict.gate.clone()).or_default();
                status.last = Some(verdict.clone());
                status.last_checked_ms = Some(self.now);
                self.event(Event::GateChecked { verdict });
            }
            self.pause(reason);
            return;
        }
        let mut failed_at_limit: Option<RollbackReason> = None;
        let mut all_passed = true;
        let mut inconclusive: Option<PauseReason> = None;
        let mut conclusive_pass = false;
        // While the step's pause runs, no data means "keep collecting": no verdict, no
        // pause. Only once the pause has elapsed does the gate's no-data policy decide.
        let pause_running = self
            .state
            .pause_until_ms
            .is_some_and(|until| self.now < until);
        for verdict in verdicts {
            let Some(gate) = self.plan.gate(&verdict.gate) else {
                continue;
            };
            let counts_as = match (verdict.outcome, gate.no_data) {
                (GateOutcome::NoData, _) if pause_running => None,
                // A failed query is never judged: no policy makes it a pass or a failure.
                (GateOutcome::NoData, _) if verdict.query_failed => Some(GateOutcome::NoData),
                (GateOutcome::NoData, NoDataPolicy::Pass) => Some(GateOutcome::Pass),
                (GateOutcome::NoData, NoDataPolicy::Fail) => Some(GateOutcome::Fail),
                (outcome, _) => Some(outcome),
            };
            let limit = gate.failure_limit;
            let status = self.state.gates.entry(verdict.gate.clone()).or_default();
            status.last = Some(verdict.clone());
            status.last_checked_ms = Some(self.now);
            let Some(counts_as) = counts_as else {
                all_passed = false; // collecting: nothing counted, nothing decided
                self.event(Event::GateChecked { verdict });
                continue;
            };
            match counts_as {
                GateOutcome::Pass => status.consecutive_failures = 0,
                GateOutcome::Advance => {
                    status.consecutive_failures = 0;
                    conclusive_pass = true;
                }
                GateOutcome::Fail => {
                    all_passed = false;
                    status.consecutive_failures += 1;
                    status.failures_total += 1;
                    if status.consecutive_failures >= limit && failed_at_limit.is_none() {
                        failed_at_limit = Some(RollbackReason::Gate {
                            gate: verdict.gate.clone(),
                            value: verdict.value,
                            condition: verdict.condition.clone(),
                            threshold: verdict.threshold,
                            failures: status.consecutive_failures,
                        });
                    }
                }
                GateOutcome::NoData | GateOutcome::Invalid => {
                    all_passed = false;
                    if inconclusive.is_none() {
                        inconclusive = Some(PauseReason::Inconclusive {
                            gate: verdict.gate.clone(),
                            detail: verdict
                                .detail
                                .clone()
                                .unwrap_or_else(|| "no data".to_string()),
                        });
                    }
                }
            }
            self.event(Event::GateChecked { verdict });
        }
        if let Some(reason) = failed_at_limit {
            self.rollback(reason);
            return;
        }
        if let Some(reason) = inconclusive {
            self.pause(reason);
            return;
        }
        let pause_over = self
            .state
            .pause_until_ms
            .is_none_or(|until| self.now >= until);
        // A conclusive pass (sequential non-inferiority) ends the pause early.
        if all_passed && (pause_over || conclusive_pass) {
            self.advance();
            return;
        }
        let period = self.plan.check_period_ms(self.state.step).unwrap_or(0);
        let next = match self.state.pause_until_ms {
            Some(until) if until > self.now => (self.now + period).min(until),
            _ => self.now + period,
        };
        self.state.next_check_ms = Some(next);
    }

    fn on_control(&mut self, request: ControlRequest) {
        if self.state.last_control_id.as_deref() == Some(request.id.as_str()) {
            return;
        }
        self.state.last_control_id = Some(request.id);
        let applies = match (request.action, &self.state.phase) {
            (_, phase) if phase.is_terminal() => false,
            (ManualAction::Abort | ManualAction::Promote, _) => true,
            (ManualAction::Pause, Phase::Progressing) => true,
            (ManualAction::Resume, Phase::Paused { .. }) => true,
            _ => false,
        };
        if !applies {
            let phase = self.state.phase.name().to_string();
            self.event(Event::ControlIgnored {
                action: request.action,
                phase,
            });
            return;
        }
        match request.action {
            ManualAction::Abort => self.rollback(RollbackReason::Manual),
            ManualAction::Promote => self.promote(),
            ManualAction::Pause => self.pause(PauseReason::Manual),
            ManualAction::Resume => self.resume(),
        }
    }
}

/// The pause reason of the first verdict that found a sample-ratio mismatch.
fn sample_ratio_mismatch(verdicts: &[GateVerdict]) -> Option<PauseReason> {
    verdicts
        .iter()
        .find(|v| v.outcome == GateOutcome::Invalid)
        .map(|v| match &v.srm {
            Some(evidence) => PauseReason::SampleRatioMismatch {
                gate: v.gate.clone(),
                evidence: evidence.clone(),
            },
            None => PauseReason::Inconclusive {
                gate: v.gate.clone(),
                detail: v
                    .detail
                    .clone()
                    .unwrap_or_else(|| "invalid data".to_string()),
            },
        })
}
