//! Good canary → promoted to 100 % through every step.

use rollgate_e2e::controller::{exit, is_pushed, GateSpec};
use rollgate_e2e::scenario::CanaryScenario;
use rollgate_e2e::E2eError;
use std::time::Duration;

#[test]
fn good_canary_is_promoted_to_100_percent() -> Result<(), E2eError> {
    let scenario = CanaryScenario::builder("good_canary")
        .steps(&[(10.0, "4s"), (50.0, "4s"), (100.0, "")])
        .gate(GateSpec::error_rate("< 0.02", "4s"))
        .gate(GateSpec::template("p99", "p99_latency_ms", "< 250", "4s"))
        .gate(GateSpec::template("vs-stable", "error_rate", "< 0.05", "4s").compared())
        .start()?;
    let mut controller = scenario.controller()?;
    scenario.expect_exit(&mut controller, exit::PROMOTED, Duration::from_secs(60))?;
    let full = scenario.watcher.wait_for(
        "canary at 10000 bp in the filter",
        Duration::from_secs(5),
        |w| w.canary_bp == 10_000,
    )?;
    assert_eq!(full.canary_bp, 10_000);
    let served = scenario.watcher.served_bp();
    assert_eq!(
        served,
        vec![0, 1000, 5000, 10_000],
        "weights the filter served, in order"
    );
    let events = controller.events();
    let passed = events
        .iter()
        .filter(|e| e["event"] == "gate_checked" && e["verdict"]["outcome"] == "pass")
        .count();
    assert!(
        passed >= 6,
        "every gate passed at both paused steps: {passed} passes"
    );
    assert!(events.iter().any(|e| is_pushed(e, 10_000)));
    Ok(())
}
