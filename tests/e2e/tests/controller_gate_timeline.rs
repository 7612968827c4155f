//! The gate timeline through real Envoy and real Prometheus: a gate checked every 2 s on a
//! canary that has just got its first 10 % keeps collecting while it has too few samples
//! (it never stops at once with "no data"); a canary failing 30 % of its requests is rolled
//! back (exit 3) and a healthy one promoted (exit 0) in a short rollout.

use rollgate_e2e::controller::{exit, GateSpec};
use rollgate_e2e::scenario::CanaryScenario;
use rollgate_e2e::stack::ModelBehaviour;
use rollgate_e2e::E2eError;
use std::time::Duration;

/// 10 % for 6 s, then 100 %; one error-rate gate every 2 s with the default window rule
/// (max(2 s, 4 × the 1 s scrape interval) = 4 s).
fn scenario(test: &str, error_rate: f64) -> Result<CanaryScenario, E2eError> {
    CanaryScenario::builder(test)
        .canary(ModelBehaviour {
            error_rate,
            ..ModelBehaviour::healthy("v2")
        })
        .steps(&[(10.0, "6s"), (100.0, "")])
        .gate(GateSpec::error_rate("< 0.05", "2s"))
        .start()
}

#[test]
fn a_canary_failing_30_percent_is_rolled_back_after_collecting() -> Result<(), E2eError> {
    let scenario = scenario("controller_gate_timeline_bad", 0.3)?;
    let mut controller = scenario.controller()?;
    let result =
        scenario.expect_exit(&mut controller, exit::ROLLED_BACK, Duration::from_secs(40))?;
    assert_eq!(result["reason"]["gate"], "error-rate", "{result}");
    assert!(
        result["reason"]["value"].as_f64().is_some_and(|v| v > 0.15),
        "the measured error rate is about 30 %: {result}"
    );
    assert_eq!(scenario.watcher.max_weight(), Some(1_000));
    Ok(())
}

#[test]
fn a_healthy_canary_is_promoted_and_never_paused_for_missing_data() -> Result<(), E2eError> {
    let scenario = scenario("controller_gate_timeline_good", 0.0)?;
    let mut controller = scenario.controller()?;
    scenario.expect_exit(&mut controller, exit::PROMOTED, Duration::from_secs(40))?;
    let paused = controller
        .events()
        .into_iter()
        .filter(|e| e["event"] == "paused")
        .count();
    assert_eq!(paused, 0, "no pause on the way");
    Ok(())
}
