//! The engine with an `srm` gate: a mismatch invalidates the step's data (pause, no
//! decision); a clean SRM check lets the other gates decide as usual.

use super::*;
use crate::gates::{
    evaluate_srm, BuiltinTemplate, Condition, Gate, GateOutcome, GateSource, GateVerdict,
    NoDataPolicy, QueryResult,
};
use crate::spec::{Plan, Step};

const T0: UnixMillis = 1_700_000_000_000;

fn plan() -> Plan {
    let gates = vec![
        Gate {
            name: "err".into(),
            source: GateSource::Template(BuiltinTemplate::ErrorRate),
            condition: Condition::parse("< 0.01").expect("condition"),
            interval_ms: 500,
            window_ms: 0,
            min_samples: 0,
            samples_query: None,
            failure_limit: 1,
            no_data: NoDataPolicy::Inconclusive,
        },
        Gate {
            name: "srm".into(),
            source: GateSource::Srm,
            condition: Condition::parse(">= 0.001").expect("condition"),
            interval_ms: 500,
            window_ms: 0,
            min_samples: 0,
            samples_query: None,
            failure_limit: 1,
            no_data: NoDataPolicy::Inconclusive,
        },
    ];
    let names = vec!["err".to_string(), "srm".to_string()];
    Plan {
        steps: vec![
            Step {
                canary_bp: 1_000,
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

fn at_step0(plan: &Plan) -> RolloutState {
    let (state, _) = step(plan, RolloutState::new("r", T0), Input::Tick, T0);
    let (state, _) = step(plan, state, Input::Pushed { canary_bp: 1_000 }, T0);
    state
}

fn err(outcome: GateOutcome, value: f64) -> GateVerdict {
    GateVerdict {
        gate: "err".into(),
        outcome,
        value: Some(value),
        condition: "< 0.01".into(),
        threshold: 0.01,
        detail: None,
        srm: None,
        samples: None,
        query_failed: false,
    }
}

fn srm(plan: &Plan, stable: f64, canary: f64) -> GateVerdict {
    let gate = plan.gate("srm").expect("srm gate");
    evaluate_srm(
        gate,
        &QueryResult::Value(stable),
        &QueryResult::Value(canary),
        1_000,
    )
}

fn pushed_any(actions: &[Action]) -> bool {
    actions
        .iter()
        .any(|a| matches!(a, Action::PushWeight { .. }))
}

#[test]
fn a_mismatch_pauses_with_the_evidence_even_when_the_pause_is_over() {
    let plan = plan();
    let state = at_step0(&plan);
    // Pause over and the error rate passing: without the SRM this would advance.
    let verdicts = vec![err(GateOutcome::Pass, 0.001), srm(&plan, 9_400.0, 600.0)];
    let (state, actions) = step(&plan, state, Input::GateResults(verdicts), T0 + 1_000);
    assert!(!pushed_any(&actions), "no weight change on invalid data");
    assert_eq!(state.step, 0);
    let Phase::Paused {
        reason: PauseReason::SampleRatioMismatch { gate, evidence },
    } = &state.phase
    else {
        panic!("expected an SRM pause, got {:?}", state.phase);
    };
    assert_eq!(gate, "srm");
    assert_eq!(
        (evidence.stable_exposures, evidence.canary_exposures),
        (9_400, 600)
    );
    let text = PauseReason::SampleRatioMismatch {
        gate: gate.clone(),
        evidence: evidence.clone(),
    }
    .to_string();
    assert!(
        text.contains("SRM") && text.contains("stable=9400") && text.contains("p="),
        "{text}"
    );
    // Still paused at the same weight on the next tick: never promoted.
    let (state, actions) = step(&plan, state, Input::Tick, T0 + 5_000);
    assert!(!pushed_any(&actions));
    assert!(matches!(state.phase, Phase::Paused { .. }));
}

#[test]
fn a_mismatch_also_blocks_a_rollback_on_the_same_data() {
    let plan = plan();
    let state = at_step0(&plan);
    let verdicts = vec![err(GateOutcome::Fail, 0.5), srm(&plan, 9_400.0, 600.0)];
    let (state, actions) = step(&plan, state, Input::GateResults(verdicts), T0 + 500);
    assert!(!pushed_any(&actions), "no rollback push on invalid data");
    assert!(matches!(
        state.phase,
        Phase::Paused {
            reason: PauseReason::SampleRatioMismatch { .. }
        }
    ));
    let err_status = state.gates.get("err").expect("recorded");
    assert_eq!(
        (err_status.consecutive_failures, err_status.failures_total),
        (0, 0),
        "a failure seen on invalid data is not counted"
    );
    assert_eq!(
        err_status.last.as_ref().map(|v| v.outcome),
        Some(GateOutcome::Fail)
    );
}

#[test]
fn balanced_exposures_let_the_step_advance() {
    let plan = plan();
    let state = at_step0(&plan);
    let verdicts = vec![err(GateOutcome::Pass, 0.001), srm(&plan, 9_040.0, 960.0)];
    let (state, actions) = step(&plan, state, Input::GateResults(verdicts), T0 + 1_000);
    assert!(
        actions.iter().any(|a| matches!(
            a,
            Action::PushWeight {
                canary_bp: 10_000,
                ..
            }
        )),
        "{actions:?}"
    );
    assert_eq!((state.step, state.phase), (1, Phase::Progressing));
}

#[test]
fn too_few_exposures_follow_the_no_data_policy() {
    let plan = plan();
    let state = at_step0(&plan);
    let verdicts = vec![err(GateOutcome::Pass, 0.001), srm(&plan, 40.0, 10.0)];
    let (state, _) = step(&plan, state, Input::GateResults(verdicts), T0 + 1_000);
    assert!(matches!(
        &state.phase,
        Phase::Paused { reason: PauseReason::Inconclusive { gate, .. } } if gate == "srm"
    ));
}

#[test]
fn exposures_count_from_the_push_or_the_latest_resume() {
    let plan = plan();
    let state = at_step0(&plan);
    assert_eq!(state.observed_since_ms(), Some(T0));
    assert_eq!(RolloutState::new("r", T0).observed_since_ms(), None);
    let verdicts = vec![err(GateOutcome::Pass, 0.001), srm(&plan, 9_400.0, 600.0)];
    let (state, _) = step(&plan, state, Input::GateResults(verdicts), T0 + 500);
    let resume = ControlRequest {
        id: "1".into(),
        action: ManualAction::Resume,
    };
    let (state, _) = step(&plan, state, Input::Control(resume), T0 + 60_000);
    assert_eq!(state.phase, Phase::Progressing);
    assert_eq!(
        state.observed_since_ms(),
        Some(T0 + 60_000),
        "the mismatched data before the resume is not judged again"
    );
}
