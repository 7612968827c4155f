//! Controller SIGKILLed mid-rollout, then started again → resumes from its state file, never
//! re-plays a weight, and ends in the same result as an uninterrupted run (promoted).

use rollgate_e2e::controller::{exit, is_pushed, GateSpec};
use rollgate_e2e::scenario::CanaryScenario;
use rollgate_e2e::E2eError;
use std::time::Duration;

#[test]
fn killed_controller_resumes_and_promotes() -> Result<(), E2eError> {
    let scenario = CanaryScenario::builder("controller_restart")
        .steps(&[(10.0, "4s"), (25.0, "4s"), (50.0, "4s"), (100.0, "")])
        .gate(GateSpec::error_rate("< 0.02", "4s"))
        .start()?;
    let mut first = scenario.controller()?;
    first.wait_event("push of 25 %", Duration::from_secs(30), |e| {
        is_pushed(e, 2500)
    })?;
    first.process.kill(); // SIGKILL: no chance to clean up
    let state = std::fs::read_to_string(&scenario.state).map_err(|source| E2eError::Io {
        what: format!("reading the state file {}", scenario.state.display()),
        source,
    })?;
    assert!(
        state.contains("2500"),
        "state persisted the 25 % step: {state}"
    );

    let mut second = scenario.controller()?;
    scenario.expect_exit(&mut second, exit::PROMOTED, Duration::from_secs(60))?;
    let replayed: Vec<_> = second
        .events()
        .into_iter()
        .filter(|e| is_pushed(e, 1000))
        .collect();
    assert!(
        replayed.is_empty(),
        "the restart re-played 10 %: {replayed:?}"
    );
    scenario.watcher.wait_for(
        "canary at 10000 bp in the filter",
        Duration::from_secs(5),
        |w| w.canary_bp == 10_000,
    )?;
    let served = scenario.watcher.served_bp();
    assert_eq!(
        served,
        vec![0, 1000, 2500, 5000, 10_000],
        "weights the filter served, in order, across the restart"
    );
    Ok(())
}
