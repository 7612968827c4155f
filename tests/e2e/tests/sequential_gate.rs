//! The sequential comparison gate end to end: real Envoy with the filter, real Prometheus
//! scraping it, `rollgate run`; a canary failing 3 % of requests against a stable failing 1 %
//! is rolled back by the mSPRT gate (`sequential: error_rate`, tolerance 0.005) while the
//! step's pause is still running, and the reason names the gate.

use rollgate_e2e::controller::{exit, GateSpec};
use rollgate_e2e::scenario::CanaryScenario;
use rollgate_e2e::stack::ModelBehaviour;
use rollgate_e2e::E2eError;
use std::time::Duration;

#[test]
fn three_percent_canary_against_one_percent_is_rolled_back() -> Result<(), E2eError> {
    let scenario = CanaryScenario::builder("sequential_gate")
        .canary(ModelBehaviour {
            error_rate: 0.03,
            ..ModelBehaviour::healthy("v2")
        })
        .rps(400.0)
        .steps(&[(50.0, "90s"), (100.0, "")])
        .gate(GateSpec::template(
            "errors-sequential",
            "error_rate",
            "< 0.005",
            "2s",
        ))
        .start()?;
    // The builder writes template gates; this one is the sequential kind on the same metric.
    let spec = std::fs::read_to_string(&scenario.spec).map_err(|source| E2eError::Io {
        what: "reading the rollout spec".into(),
        source,
    })?;
    assert!(spec.contains("template: error_rate"), "{spec}");
    let spec = spec.replace("template: error_rate", "sequential: error_rate");
    std::fs::write(&scenario.spec, &spec).map_err(|source| E2eError::Io {
        what: "writing the rollout spec".into(),
        source,
    })?;
    // Stable fails 1 % of its requests too.
    scenario.stable.set_error_rate(0.01)?;
    let mut controller = scenario.controller()?;
    let result =
        scenario.expect_exit(&mut controller, exit::ROLLED_BACK, Duration::from_secs(80))?;
    assert_eq!(result["reason"]["gate"], "errors-sequential", "{result}");
    let value = result["reason"]["value"].as_f64().unwrap_or_default();
    assert!(
        value > 0.005,
        "canary minus stable error rate {value}: {result}"
    );
    Ok(())
}
