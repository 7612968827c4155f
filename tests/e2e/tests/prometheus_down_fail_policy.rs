//! Prometheus killed mid-rollout with `no_data: fail` → the missing data counts as a failure
//! and the canary is rolled back to 0 % (never promoted).

use rollgate_e2e::controller::{exit, is_pushed, Controller, GateSpec};
use rollgate_e2e::scenario::{prometheus_or_skip, CanaryScenario};
use rollgate_e2e::stack::{Binaries, ModelBehaviour};
use rollgate_e2e::E2eError;
use std::time::Duration;

#[test]
fn prometheus_down_with_fail_policy_rolls_back() -> Result<(), E2eError> {
    let Some(prometheus) = prometheus_or_skip("prometheus_down_fail_policy") else {
        return Ok(());
    };
    let bins = Binaries::locate()?;
    let mut scenario =
        CanaryScenario::start(&bins, &prometheus, ModelBehaviour::healthy("v2"), 150.0)?;
    let mut gate = GateSpec::template("error-rate", "error_rate", "< 0.02", "3s");
    gate.no_data = "fail".to_string();
    gate.failure_limit = 2;
    let spec = scenario.write_spec(&[(10.0, "3s"), (50.0, "20s"), (100.0, "")], &[gate])?;
    let mut controller = Controller::start(&bins, &spec)?;
    controller.wait_event("push of 50 %", Duration::from_secs(30), |e| {
        is_pushed(e, 5000)
    })?;
    scenario.prometheus.kill();

    let (code, result) = controller.wait_result(Duration::from_secs(30))?;
    assert_eq!(
        code,
        exit::ROLLED_BACK,
        "result {result}\n{}",
        controller.process.stderr_tail(20)
    );
    assert_eq!(result["reason"]["gate"], "error-rate", "{result}");
    assert!(
        result["reason"]["value"].is_null(),
        "rolled back on missing data, not on a value: {result}"
    );
    scenario.watcher.wait_for(
        "canary back at 0 in the filter",
        Duration::from_secs(5),
        |w| w.canary_bp == 0 && w.at > scenario.watcher.changes()[0].at,
    )?;
    assert_eq!(scenario.watcher.max_weight(), Some(5000));
    assert!(!controller.events().iter().any(|e| is_pushed(e, 10_000)));
    Ok(())
}
