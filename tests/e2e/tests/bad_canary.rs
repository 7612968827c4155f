//! Bad canary (5 % errors) → rolled back, and the time from breach to weight 0 in the filter.

use rollgate_e2e::controller::{exit, GateSpec};
use rollgate_e2e::scenario::{CanaryScenario, SCRAPE};
use rollgate_e2e::stack::ModelBehaviour;
use rollgate_e2e::E2eError;
use std::time::Duration;

/// Gate interval: the query range and the check period.
const GATE_INTERVAL: Duration = Duration::from_secs(5);

#[test]
fn bad_canary_is_rolled_back_within_one_gate_interval_of_the_breach() -> Result<(), E2eError> {
    let scenario = CanaryScenario::builder("bad_canary")
        .canary(ModelBehaviour {
            error_rate: 0.05,
            ..ModelBehaviour::healthy("v2")
        })
        .steps(&[(10.0, "30s"), (50.0, "30s"), (100.0, "")])
        .gate(GateSpec::error_rate("< 0.02", "5s"))
        .start()?;
    let mut controller = scenario.controller()?;

    // The canary fails 5 % of its requests from its first one, so the breach starts the moment
    // its weight reaches the filter.
    let breach = scenario
        .watcher
        .wait_for(
            "canary weight > 0 in the filter",
            Duration::from_secs(30),
            |w| w.canary_bp > 0,
        )
        .map_err(|e| controller.process.failure("first push", &e.to_string()))?;
    let rollback = scenario.watcher.wait_for(
        "canary weight back to 0 in the filter",
        Duration::from_secs(40),
        |w| w.at > breach.at && w.canary_bp == 0,
    )?;
    let (code, result) = controller.wait_result(Duration::from_secs(20))?;
    let took = rollback.at.duration_since(breach.at);
    println!(
        "bad canary: breach (canary at {} bp in the filter) → weight 0 in the filter: {:.3} s",
        breach.canary_bp,
        took.as_secs_f64()
    );

    // Keep the measurement for the README (target/e2e/bad_canary.json).
    let out = rollgate_e2e::paths::workspace_root().join("target/e2e");
    if std::fs::create_dir_all(&out).is_ok() {
        let record = serde_json::json!({
            "breach_to_rollback_s": took.as_secs_f64(),
            "gate_interval_s": GATE_INTERVAL.as_secs_f64(),
            "scrape_interval_s": SCRAPE.as_secs_f64(),
        });
        let _ = std::fs::write(out.join("bad_canary.json"), record.to_string());
    }
    assert_eq!(
        code,
        exit::ROLLED_BACK,
        "result {result}\n{}",
        scenario.diagnostics()
    );
    assert_eq!(result["result"], "rolled_back");
    assert_eq!(
        result["reason"]["gate"], "error-rate",
        "reason names the gate: {result}"
    );
    assert!(
        result["reason"]["value"].as_f64().is_some_and(|v| v > 0.02),
        "reason carries the measured error rate: {result}"
    );
    assert_eq!(
        scenario.watcher.max_weight(),
        Some(1000),
        "the canary never went past its first step"
    );
    // Bound: the first check runs one gate interval after the step started (which is no later
    // than the weight reaching the filter), then the push takes a controller tick (100 ms) and
    // Envoy's watched-directory reload: within interval + 1 s. Scrape slack: the check reads
    // data up to one scrape interval old, and a rate over a window whose newest sample lags by
    // a scrape can put the failing value one scrape later on a loaded machine; we allow it.
    let bound = GATE_INTERVAL + Duration::from_secs(1) + SCRAPE;
    assert!(
        took <= bound,
        "breach → rollback took {took:?}, over {bound:?}"
    );
    Ok(())
}
