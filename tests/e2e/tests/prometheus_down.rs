//! Prometheus killed mid-rollout → the no-data policy (inconclusive) pauses the rollout;
//! nothing is promoted on missing data.

use rollgate_e2e::controller::{exit, is_pushed, GateSpec};
use rollgate_e2e::scenario::CanaryScenario;
use rollgate_e2e::E2eError;
use std::time::Duration;

#[test]
fn prometheus_down_pauses_and_never_promotes() -> Result<(), E2eError> {
    let mut scenario = CanaryScenario::builder("prometheus_down")
        .steps(&[(10.0, "4s"), (50.0, "8s"), (100.0, "")])
        .gate(GateSpec::error_rate("< 0.02", "4s"))
        .start()?;
    let mut controller = scenario.controller()?;
    // Healthy data moves the rollout to its second step; then the metrics source disappears.
    controller.wait_event("push of 50 %", Duration::from_secs(30), |e| {
        is_pushed(e, 5000)
    })?;
    scenario.prometheus.kill();

    let result = scenario.expect_exit(&mut controller, exit::PAUSED, Duration::from_secs(30))?;
    assert_eq!(result["result"], "paused");
    assert_eq!(result["reason"]["kind"], "inconclusive", "{result}");
    assert_eq!(result["reason"]["gate"], "error-rate", "{result}");
    assert_eq!(
        scenario.watcher.max_weight(),
        Some(5000),
        "the filter never served more than the step reached before the outage"
    );
    assert_eq!(
        scenario.served_canary_weight()?,
        Some(5000),
        "paused at the step's weight"
    );
    assert!(!controller.events().iter().any(|e| is_pushed(e, 10_000)));
    Ok(())
}
