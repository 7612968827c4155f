//! Every transition of the engine, with time as a parameter (no sleeping).

use super::*;
use crate::gates::{
    BuiltinTemplate, Condition, Gate, GateOutcome, GateSource, GateVerdict, NoDataPolicy,
};
use crate::spec::{Plan, Step};

const T0: UnixMillis = 1_700_000_000_000;

fn gate(name: &str, failure_limit: u32, no_data: NoDataPolicy) -> Gate {
    Gate {
        name: name.into(),
        source: GateSource::Template(BuiltinTemplate::ErrorRate),
        condition: Condition::parse("< 0.01").expect("condition"),
        interval_ms: 500,
        window_ms: 0,
        min_samples: 0,
        samples_query: None,
        failure_limit,
        no_data,
    }
}

fn plan_with(gates: Vec<Gate>) -> Plan {
    let names: Vec<String> = gates.iter().map(|g| g.name.clone()).collect();
    Plan {
        steps: vec![
            Step {
                canary_bp: 100,
                pause_ms: 1_000,
                gates: names.clone(),
            },
            Step {
                canary_bp: 5_000,
                pause_ms: 1_000,
                gates: names,
            },
            Step {
                canary_bp: 10_000,
                pause_ms: 0,
                gates: vec![],
            },
        ],
        gates,
    }
}

fn plan() -> Plan {
    plan_with(vec![gate("err", 2, NoDataPolicy::Inconclusive)])
}

fn verdict(gate: &str, outcome: GateOutcome, value: Option<f64>) -> GateVerdict {
    GateVerdict {
        gate: gate.into(),
        outcome,
        value,
        condition: "< 0.01".into(),
        threshold: 0.01,
        detail: None,
        srm: None,
        samples: None,
        query_failed: false,
    }
}

fn pushes(actions: &[Action]) -> Vec<(u32, u64)> {
    actions
        .iter()
        .filter_map(|a| match a {
            Action::PushWeight { canary_bp, version } => Some((*canary_bp, *version)),
            _ => None,
        })
        .collect()
}

fn runs_gates(actions: &[Action]) -> bool {
    actions.iter().any(|a| matches!(a, Action::RunGates { .. }))
}

/// Started rollout: step 0 pushed and confirmed at T0.
fn at_step0(plan: &Plan) -> RolloutState {
    let (state, actions) = step(plan, RolloutState::new("r", T0), Input::Tick, T0);
    assert_eq!(pushes(&actions), vec![(100, 1)]);
    let (state, _) = step(plan, state, Input::Pushed { canary_bp: 100 }, T0);
    state
}

#[test]
fn first_tick_decides_the_first_push_before_making_it() {
    let plan = plan();
    let (state, actions) = step(&plan, RolloutState::new("r", T0), Input::Tick, T0);
    assert_eq!(pushes(&actions), vec![(100, 1)]);
    assert_eq!(
        (
            state.pending_push,
            state.applied_canary_bp,
            state.config_version
        ),
        (Some(100), None, 1)
    );
    assert!(matches!(
        state.history[0].event,
        Event::PushPlanned {
            canary_bp: 100,
            version: 1
        }
    ));
}

#[test]
fn confirmed_push_starts_the_pause_and_schedules_the_first_check() {
    let state = at_step0(&plan());
    assert_eq!(state.applied_canary_bp, Some(100));
    assert_eq!(state.pending_push, None);
    assert_eq!(state.pause_until_ms, Some(T0 + 1_000));
    assert_eq!(state.next_check_ms, Some(T0 + 500));
    assert!(state.history.iter().any(|h| matches!(
        h.event,
        Event::StepStarted {
            step: 0,
            canary_bp: 100,
            ..
        }
    )));
}

#[test]
fn gates_run_when_due_and_not_before() {
    let plan = plan();
    let state = at_step0(&plan);
    let (state, actions) = step(&plan, state, Input::Tick, T0 + 499);
    assert!(!runs_gates(&actions), "{actions:?}");
    let (_, actions) = step(&plan, state, Input::Tick, T0 + 500);
    assert_eq!(
        actions,
        vec![Action::RunGates {
            gates: vec!["err".into()]
        }]
    );
}

#[test]
fn passing_gate_mid_pause_waits_then_advances_at_the_end() {
    let plan = plan();
    let state = at_step0(&plan);
    let (state, actions) = step(
        &plan,
        state,
        Input::GateResults(vec![verdict("err", GateOutcome::Pass, Some(0.0))]),
        T0 + 500,
    );
    assert!(pushes(&actions).is_empty());
    assert_eq!(state.next_check_ms, Some(T0 + 1_000));
    let (state, actions) = step(
        &plan,
        state,
        Input::GateResults(vec![verdict("err", GateOutcome::Pass, Some(0.0))]),
        T0 + 1_000,
    );
    assert_eq!(pushes(&actions), vec![(5_000, 2)]);
    assert_eq!((state.step, state.pending_push), (1, Some(5_000)));
}

#[test]
fn failures_below_the_limit_hold_the_step_and_the_limit_rolls_back() {
    let plan = plan();
    let state = at_step0(&plan);
    let fail = || Input::GateResults(vec![verdict("err", GateOutcome::Fail, Some(0.2))]);
    let (state, actions) = step(&plan, state, fail(), T0 + 1_000);
    assert!(
        pushes(&actions).is_empty(),
        "one failure of two must not roll back"
    );
    assert_eq!(state.phase, Phase::Progressing);
    assert_eq!(
        state.next_check_ms,
        Some(T0 + 1_500),
        "pause is over, so check again one period later"
    );
    let (state, actions) = step(&plan, state, fail(), T0 + 1_500);
    assert_eq!(pushes(&actions), vec![(0, 2)], "rollback is one push to 0");
    match &state.phase {
        Phase::RolledBack {
            reason:
                RollbackReason::Gate {
                    gate,
                    value,
                    threshold,
                    failures,
                    ..
                },
        } => {
            assert_eq!(
                (gate.as_str(), *value, *threshold, *failures),
                ("err", Some(0.2), 0.01, 2)
            );
        }
        other => panic!("expected rolled back, got {other:?}"),
    }
    assert!(
        !state.is_finished(),
        "not finished until the 0 % push is confirmed"
    );
    let (state, _) = step(&plan, state, Input::Pushed { canary_bp: 0 }, T0 + 1_501);
    assert!(state.is_finished());
    assert_eq!(state.gates["err"].failures_total, 2);
}

#[test]
fn a_pass_resets_the_consecutive_failures() {
    let plan = plan();
    let state = at_step0(&plan);
    let (state, _) = step(
        &plan,
        state,
        Input::GateResults(vec![verdict("err", GateOutcome::Fail, Some(0.2))]),
        T0 + 500,
    );
    let (state, _) = step(
        &plan,
        state,
        Input::GateResults(vec![verdict("err", GateOutcome::Pass, Some(0.0))]),
        T0 + 700,
    );
    assert_eq!(state.gates["err"].consecutive_failures, 0);
    let (state, actions) = step(
        &plan,
        state,
        Input::GateResults(vec![verdict("err", GateOutcome::Fail, Some(0.2))]),
        T0 + 900,
    );
    assert!(pushes(&actions).is_empty());
    assert_eq!(state.phase, Phase::Progressing);
}

#[test]
fn no_data_inconclusive_pauses_after_the_pause_and_never_promotes() {
    let plan = plan();
    let state = at_step0(&plan);
    let (state, actions) = step(
        &plan,
        state,
        Input::GateResults(vec![verdict("err", GateOutcome::NoData, None)]),
        T0 + 1_000,
    );
    assert!(pushes(&actions).is_empty());
    assert!(
        matches!(&state.phase, Phase::Paused { reason: PauseReason::Inconclusive { gate, .. } } if gate == "err")
    );
    assert_eq!(state.pause_remaining_ms, Some(0));
    for later in [T0 + 1_000, T0 + 100_000] {
        let (same, actions) = step(&plan, state.clone(), Input::Tick, later);
        assert!(
            actions.is_empty(),
            "a paused rollout does nothing: {actions:?}"
        );
        assert_eq!(same.phase, state.phase);
    }
}

#[test]
fn no_data_policies_fail_and_pass() {
    let plan = plan_with(vec![
        gate("strict", 1, NoDataPolicy::Fail),
        gate("lenient", 1, NoDataPolicy::Pass),
    ]);
    let state = at_step0(&plan);
    let (lenient, actions) = step(
        &plan,
        state.clone(),
        Input::GateResults(vec![verdict("lenient", GateOutcome::NoData, None)]),
        T0 + 1_000,
    );
    assert_eq!(
        pushes(&actions),
        vec![(5_000, 2)],
        "no data counted as pass advances"
    );
    assert_eq!(lenient.step, 1);
    let (strict, actions) = step(
        &plan,
        state,
        Input::GateResults(vec![verdict("strict", GateOutcome::NoData, None)]),
        T0 + 1_000,
    );
    assert_eq!(
        pushes(&actions),
        vec![(0, 2)],
        "no data counted as failure rolls back at limit 1"
    );
    assert!(matches!(
        strict.phase,
        Phase::RolledBack {
            reason: RollbackReason::Gate { value: None, .. }
        }
    ));
}

/// The gate timeline: while the step's pause runs, no data (no series, too few samples) is
/// "keep collecting"; failures still count; only once the pause has elapsed does `no_data`
/// decide.
#[test]
fn no_data_during_the_pause_keeps_collecting_for_every_policy() {
    for policy in [
        NoDataPolicy::Inconclusive,
        NoDataPolicy::Fail,
        NoDataPolicy::Pass,
    ] {
        let plan = plan_with(vec![gate("err", 1, policy)]);
        let state = at_step0(&plan);
        let mut state = state;
        for at in [T0 + 1, T0 + 500, T0 + 999] {
            let (next, actions) = step(
                &plan,
                state,
                Input::GateResults(vec![verdict("err", GateOutcome::NoData, None)]),
                at,
            );
            state = next;
            assert!(
                pushes(&actions).is_empty(),
                "{policy:?} at {at}: {actions:?}"
            );
            assert_eq!(state.phase, Phase::Progressing, "{policy:?} at {at}");
            assert_eq!(state.step, 0);
            assert_eq!(state.gates["err"].consecutive_failures, 0);
            assert_eq!(
                state.next_check_ms,
                Some((at + 500).min(T0 + 1_000)),
                "the next check is one period later, and never after the pause's end"
            );
        }
        assert_eq!(
            state.gates["err"].last.as_ref().map(|v| v.outcome),
            Some(GateOutcome::NoData),
            "what was seen is recorded"
        );
    }
}

#[test]
fn data_arriving_before_the_pause_ends_decides_as_usual() {
    let plan = plan();
    let state = at_step0(&plan);
    let no_data = || Input::GateResults(vec![verdict("err", GateOutcome::NoData, None)]);
    let pass = || Input::GateResults(vec![verdict("err", GateOutcome::Pass, Some(0.0))]);
    let (state, _) = step(&plan, state, no_data(), T0 + 500);
    let (state, actions) = step(&plan, state, pass(), T0 + 1_000);
    assert_eq!(
        pushes(&actions),
        vec![(5_000, 2)],
        "passes at the end: advance"
    );
    assert_eq!(state.step, 1);

    // Failures during the pause count as always: a bad canary is rolled back mid-pause.
    let plan = plan_with(vec![gate("err", 2, NoDataPolicy::Inconclusive)]);
    let state = at_step0(&plan);
    let fail = || Input::GateResults(vec![verdict("err", GateOutcome::Fail, Some(0.3))]);
    let (state, _) = step(&plan, state, no_data(), T0 + 100);
    let (state, _) = step(&plan, state, fail(), T0 + 300);
    let (state, _) = step(&plan, state, no_data(), T0 + 400);
    assert_eq!(
        state.gates["err"].consecutive_failures, 1,
        "no data while collecting neither counts nor resets"
    );
    let (state, actions) = step(&plan, state, fail(), T0 + 600);
    assert_eq!(pushes(&actions), vec![(0, 2)]);
    assert!(matches!(state.phase, Phase::RolledBack { .. }));
}

#[test]
fn a_failed_query_is_never_judged_whatever_the_no_data_policy() {
    for policy in [NoDataPolicy::Pass, NoDataPolicy::Fail] {
        let plan = plan_with(vec![gate("err", 1, policy)]);
        let state = at_step0(&plan);
        let mut failed = verdict("err", GateOutcome::NoData, None);
        failed.query_failed = true;
        let (state, actions) = step(&plan, state, Input::GateResults(vec![failed]), T0 + 1_000);
        assert!(pushes(&actions).is_empty(), "{policy:?}: {actions:?}");
        assert!(
            matches!(
                &state.phase,
                Phase::Paused {
                    reason: PauseReason::Inconclusive { .. }
                }
            ),
            "{policy:?}: {:?}",
            state.phase
        );
    }
}

#[test]
fn a_step_without_pause_lets_no_data_decide_at_once() {
    let mut plan = plan_with(vec![gate("err", 1, NoDataPolicy::Inconclusive)]);
    plan.steps[0].pause_ms = 0;
    let state = at_step0(&plan);
    let (state, _) = step(
        &plan,
        state,
        Input::GateResults(vec![verdict("err", GateOutcome::NoData, None)]),
        T0,
    );
    assert!(
        matches!(state.phase, Phase::Paused { .. }),
        "{:?}",
        state.phase
    );
}

#[test]
fn manual_pause_keeps_the_remaining_pause_for_resume() {
    let plan = plan();
    let state = at_step0(&plan);
    let control = |id: &str, action| {
        Input::Control(ControlRequest {
            id: id.into(),
            action,
        })
    };
    let (state, actions) = step(&plan, state, control("1", ManualAction::Pause), T0 + 300);
    assert!(pushes(&actions).is_empty());
    assert_eq!(
        state.phase,
        Phase::Paused {
            reason: PauseReason::Manual
        }
    );
    assert_eq!(state.pause_remaining_ms, Some(700));
    let (state, _) = step(
        &plan,
        state,
        control("2", ManualAction::Resume),
        T0 + 10_000,
    );
    assert_eq!(state.phase, Phase::Progressing);
    assert_eq!(state.pause_until_ms, Some(T0 + 10_700));
    assert_eq!(state.next_check_ms, Some(T0 + 10_500));
}

#[test]
fn abort_rolls_back_in_one_push_and_promote_goes_to_full() {
    let plan = plan();
    let state = at_step0(&plan);
    let control = |action| {
        Input::Control(ControlRequest {
            id: "x".into(),
            action,
        })
    };
    let (aborted, actions) = step(&plan, state.clone(), control(ManualAction::Abort), T0 + 10);
    assert_eq!(pushes(&actions), vec![(0, 2)]);
    assert_eq!(
        aborted.phase,
        Phase::RolledBack {
            reason: RollbackReason::Manual
        }
    );
    let (promoted, actions) = step(&plan, state, control(ManualAction::Promote), T0 + 10);
    assert_eq!(pushes(&actions), vec![(10_000, 2)]);
    assert_eq!(promoted.phase, Phase::Promoted);
    let (promoted, _) = step(
        &plan,
        promoted,
        Input::Pushed { canary_bp: 10_000 },
        T0 + 11,
    );
    assert!(promoted.is_finished());
    assert_eq!(promoted.applied_canary_bp, Some(10_000));
}

#[test]
fn a_control_request_applies_once_and_not_after_the_end() {
    let plan = plan();
    let state = at_step0(&plan);
    let pause = Input::Control(ControlRequest {
        id: "same".into(),
        action: ManualAction::Pause,
    });
    let (state, _) = step(&plan, state, pause.clone(), T0 + 1);
    let resume_same_id = Input::Control(ControlRequest {
        id: "same".into(),
        action: ManualAction::Resume,
    });
    let (state, actions) = step(&plan, state, resume_same_id, T0 + 2);
    assert!(actions.is_empty());
    assert!(matches!(state.phase, Phase::Paused { .. }));
    let abort = Input::Control(ControlRequest {
        id: "a".into(),
        action: ManualAction::Abort,
    });
    let (state, _) = step(&plan, state, abort, T0 + 3);
    let (state, _) = step(&plan, state, Input::Pushed { canary_bp: 0 }, T0 + 4);
    let promote = Input::Control(ControlRequest {
        id: "p".into(),
        action: ManualAction::Promote,
    });
    let (state, actions) = step(&plan, state, promote, T0 + 5);
    assert!(pushes(&actions).is_empty());
    assert!(matches!(state.phase, Phase::RolledBack { .. }));
    assert!(matches!(
        state.history.last().map(|h| &h.event),
        Some(Event::ControlIgnored { .. })
    ));
}

#[test]
fn resume_when_not_paused_is_ignored() {
    let plan = plan();
    let state = at_step0(&plan);
    let resume = Input::Control(ControlRequest {
        id: "r".into(),
        action: ManualAction::Resume,
    });
    let (after, actions) = step(&plan, state.clone(), resume, T0 + 1);
    assert_eq!(after.phase, Phase::Progressing);
    assert_eq!(after.pause_until_ms, state.pause_until_ms);
    assert!(matches!(
        actions.as_slice(),
        [Action::RecordEvent(Event::ControlIgnored { .. })]
    ));
}

#[test]
fn a_crash_between_decision_and_push_repeats_the_same_push() {
    let plan = plan();
    let (decided, _) = step(&plan, RolloutState::new("r", T0), Input::Tick, T0);
    // The process dies here; the state was persisted with the pending push.
    let reloaded = RolloutState::from_json(&decided.to_json().expect("json")).expect("parses");
    let (state, actions) = step(&plan, reloaded, Input::Tick, T0 + 5_000);
    assert_eq!(
        pushes(&actions),
        vec![(100, 1)],
        "same weight, same version: idempotent"
    );
    assert_eq!(state.config_version, 1);
}

#[test]
fn after_a_restart_the_step_resumes_with_its_remaining_pause_and_no_push() {
    let plan = plan();
    let state = at_step0(&plan);
    let reloaded = RolloutState::from_json(&state.to_json().expect("json")).expect("parses");
    assert_eq!(reloaded, state);
    let (state, actions) = step(&plan, reloaded, Input::Tick, T0 + 200);
    assert!(actions.is_empty(), "no weight is re-played: {actions:?}");
    assert_eq!(state.pause_left_ms(T0 + 200), Some(800));
}

#[test]
fn stale_push_confirmations_are_ignored() {
    let plan = plan();
    let state = at_step0(&plan);
    let (after, actions) = step(
        &plan,
        state.clone(),
        Input::Pushed { canary_bp: 5_000 },
        T0 + 1,
    );
    assert!(actions.is_empty());
    assert_eq!(after.applied_canary_bp, state.applied_canary_bp);
}

#[test]
fn results_arriving_while_paused_are_ignored() {
    let plan = plan();
    let state = at_step0(&plan);
    let pause = Input::Control(ControlRequest {
        id: "1".into(),
        action: ManualAction::Pause,
    });
    let (state, _) = step(&plan, state, pause, T0 + 1);
    let (after, actions) = step(
        &plan,
        state.clone(),
        Input::GateResults(vec![verdict("err", GateOutcome::Fail, Some(1.0))]),
        T0 + 2,
    );
    assert!(actions.is_empty());
    assert_eq!(after.phase, state.phase);
}

#[test]
fn a_rollout_without_gates_advances_on_time_and_promotes_at_full() {
    let plan = plan_with(vec![]);
    let mut state = RolloutState::new("r", T0);
    let mut now = T0;
    let mut applied = Vec::new();
    for _ in 0..20 {
        let (next, actions) = step(&plan, state, Input::Tick, now);
        state = next;
        for (bp, _) in pushes(&actions) {
            applied.push(bp);
            let (next, _) = step(&plan, state, Input::Pushed { canary_bp: bp }, now);
            state = next;
        }
        if state.is_finished() {
            break;
        }
        now += 250;
    }
    assert_eq!(applied, vec![100, 5_000, 10_000]);
    assert_eq!(state.phase, Phase::Promoted);
    assert!(
        now >= T0 + 2_000,
        "each of the two pauses was held: ended at +{}ms",
        now - T0
    );
}

#[test]
fn history_is_capped_dropping_old_gate_checks_first() {
    let plan = plan();
    let mut state = at_step0(&plan);
    for i in 0..(MAX_HISTORY as u64 + 10) {
        let (next, _) = step(
            &plan,
            state,
            Input::GateResults(vec![verdict("err", GateOutcome::Pass, Some(0.0))]),
            T0 + i % 900,
        );
        state = next;
    }
    assert_eq!(state.history.len(), MAX_HISTORY);
    assert!(
        matches!(state.history[0].event, Event::PushPlanned { .. }),
        "decisions are kept"
    );
}

#[test]
fn a_conclusive_pass_advances_before_the_pause_ends_unless_another_gate_is_still_collecting() {
    let plan = plan_with(vec![
        gate("seq", 1, NoDataPolicy::Inconclusive),
        gate("err", 1, NoDataPolicy::Inconclusive),
    ]);
    let state = at_step0(&plan);
    // another gate still collecting (no data mid-pause): hold
    let (held, actions) = step(
        &plan,
        state.clone(),
        Input::GateResults(vec![
            verdict("seq", GateOutcome::Advance, Some(0.0)),
            verdict("err", GateOutcome::NoData, None),
        ]),
        T0 + 500,
    );
    assert!(pushes(&actions).is_empty(), "{actions:?}");
    assert_eq!(held.step, 0);
    // every gate passed, one conclusively: the step ends at once, mid-pause
    let (state, actions) = step(
        &plan,
        state,
        Input::GateResults(vec![
            verdict("seq", GateOutcome::Advance, Some(0.0)),
            verdict("err", GateOutcome::Pass, Some(0.0)),
        ]),
        T0 + 500,
    );
    assert_eq!(pushes(&actions), vec![(5_000, 2)]);
    assert_eq!(state.step, 1);
}
