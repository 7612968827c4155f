//! Slow canary (300 ms answers) → rolled back by the p99 latency gate.

use rollgate_e2e::controller::{exit, GateSpec};
use rollgate_e2e::scenario::CanaryScenario;
use rollgate_e2e::stack::ModelBehaviour;
use rollgate_e2e::E2eError;
use std::time::Duration;

#[test]
fn slow_canary_is_rolled_back_by_the_latency_gate() -> Result<(), E2eError> {
    let scenario = CanaryScenario::builder("slow_canary")
        .canary(ModelBehaviour {
            latency_ms: 300,
            ..ModelBehaviour::healthy("v2")
        })
        .steps(&[(10.0, "30s"), (100.0, "")])
        .gate(GateSpec::error_rate("< 0.02", "4s"))
        .gate(GateSpec::template("p99", "p99_latency_ms", "< 250", "4s"))
        .start()?;
    let mut controller = scenario.controller()?;
    let result =
        scenario.expect_exit(&mut controller, exit::ROLLED_BACK, Duration::from_secs(40))?;
    assert_eq!(result["reason"]["gate"], "p99", "{result}");
    assert!(
        result["reason"]["value"]
            .as_f64()
            .is_some_and(|v| v >= 250.0),
        "the measured p99 is over the threshold: {result}"
    );
    scenario.watcher.wait_for(
        "canary back at 0 in the filter",
        Duration::from_secs(5),
        |w| w.canary_bp == 0 && w.at > scenario.watcher.changes()[0].at,
    )?;
    assert_eq!(scenario.watcher.max_weight(), Some(1000));
    Ok(())
}
