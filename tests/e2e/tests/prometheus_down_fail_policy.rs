//! Prometheus killed mid-rollout with `no_data: fail`: a failed query is never judged (the
//! controller cannot tell a broken canary from a broken metric source), so even the `fail`
//! policy pauses — exit 4, the canary held at its step's weight in Envoy, never promoted and
//! not rolled back on an outage. (`no_data: fail` decides only on answered queries without
//! data; the engine's unit tests cover that.)

use rollgate_e2e::controller::{exit, is_pushed, GateSpec};
use rollgate_e2e::scenario::CanaryScenario;
use rollgate_e2e::E2eError;
use std::time::Duration;

#[test]
fn prometheus_down_with_fail_policy_pauses_and_holds_the_weight() -> Result<(), E2eError> {
    let mut gate = GateSpec::error_rate("< 0.02", "4s");
    gate.no_data = "fail".to_string();
    gate.failure_limit = 2;
    let mut scenario = CanaryScenario::builder("prometheus_down_fail_policy")
        .steps(&[(10.0, "4s"), (50.0, "6s"), (100.0, "")])
        .gate(gate)
        .start()?;
    let mut controller = scenario.controller()?;
    controller.wait_event("push of 50 %", Duration::from_secs(30), |e| {
        is_pushed(e, 5000)
    })?;
    scenario.prometheus.kill();

    let result = scenario.expect_exit(&mut controller, exit::PAUSED, Duration::from_secs(30))?;
    assert_eq!(result["reason"]["kind"], "inconclusive", "{result}");
    assert_eq!(result["reason"]["gate"], "error-rate", "{result}");
    assert!(
        result["reason"]["detail"]
            .as_str()
            .is_some_and(|d| d.contains("query failed")),
        "paused on the failed query: {result}"
    );
    assert_eq!(scenario.watcher.max_weight(), Some(5000));
    assert_eq!(
        scenario.served_canary_weight()?,
        Some(5000),
        "Envoy still serves the step's weight"
    );
    assert!(!controller.events().iter().any(|e| is_pushed(e, 10_000)));
    assert!(!controller.events().iter().any(|e| is_pushed(e, 0)));
    Ok(())
}
