//! `rollgate run` with the built-in `srm` gate against a scripted fake Prometheus: exposures
//! that do not match the pushed weights pause the rollout (exit 4, SRM reason, weight kept);
//! exposures that match let it proceed to 100 %.

mod run_support;

use run_support::*;
use std::sync::{Arc, Mutex};

/// 10 % for 1.2 s (one SRM check after 1 s: the window is whole seconds since the push),
/// then 100 %.
const STEPS: &str = "    - { weight: 10, pause: 1200ms }\n    - { weight: 100 }";
const SRM_GATE: &str = "    - name: srm\n      template: srm\n      interval: 1s";

/// A fake Prometheus answering exposure queries with fixed counts; every query is kept.
fn exposures(stable: f64, canary: f64) -> (FakePrometheus, Arc<Mutex<Vec<String>>>) {
    let seen = Arc::new(Mutex::new(Vec::new()));
    let log = Arc::clone(&seen);
    let prometheus = FakePrometheus::start(move |query, _| {
        if let Ok(mut log) = log.lock() {
            log.push(query.to_string());
        }
        if !query.contains("rollgate_exposures_total") {
            return None;
        }
        Some(if query.contains(r#"variant="canary""#) {
            canary
        } else {
            stable
        })
    });
    (prometheus, seen)
}

#[test]
fn a_sample_ratio_mismatch_pauses_with_the_srm_reason_and_keeps_the_weight() {
    // 6 % canary exposures at a 10 % weight:
    // scipy.stats.chisquare([9400, 600], f_exp=[9000, 1000]).pvalue -> 1.48e-40
    let (prometheus, queries) = exposures(9_400.0, 600.0);
    let fx = fixture(&prometheus.url, STEPS, SRM_GATE);
    let output = run_to_end(&["run", fx.spec_arg(), "--tick", "50ms"]);
    assert_eq!(output.status.code(), Some(4), "{}", describe(&output));
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        stdout.contains("paused")
            && stdout.contains("SRM")
            && stdout.contains("stable=9400")
            && stdout.contains("canary=600"),
        "{stdout}"
    );
    assert_eq!(
        ecds_canary(&fx.ecds).map(|(w, _)| w),
        Some(1_000),
        "held at the step's weight"
    );
    let state = state_json(&fx.state).expect("state persisted");
    assert_eq!(state["phase"], "paused");
    assert_eq!(state["reason"]["kind"], "sample_ratio_mismatch");
    assert_eq!(state["reason"]["evidence"]["canary_exposures"], 600);
    assert_eq!(state["reason"]["evidence"]["expected_canary_share"], 0.1);
    assert!(
        state["reason"]["evidence"]["p_value"]
            .as_f64()
            .unwrap_or(1.0)
            < 1e-30
    );
    let seen = queries.lock().map(|q| q.clone()).unwrap_or_default();
    assert!(
        seen.iter()
            .any(|q| q.starts_with("sum(increase(rollgate_exposures_total{")
                && q.contains(r#"experiment="fraud-v2",variant="stable""#)
                && q.ends_with("s]))")),
        "exposures counted over the seconds since the push: {seen:?}"
    );
    // Running again without `rollgate resume` stays paused: never promoted on that data.
    let again = run_to_end(&["run", fx.spec_arg(), "--tick", "50ms"]);
    assert_eq!(again.status.code(), Some(4), "{}", describe(&again));
    assert_eq!(ecds_canary(&fx.ecds).map(|(w, _)| w), Some(1_000));
}

#[test]
fn balanced_exposures_let_the_rollout_proceed_to_full_traffic() {
    // scipy.stats.chisquare([9040, 960], f_exp=[9000, 1000]).pvalue -> 0.1824
    let (prometheus, _) = exposures(9_040.0, 960.0);
    let fx = fixture(&prometheus.url, STEPS, SRM_GATE);
    let output = run_to_end(&["run", fx.spec_arg(), "--tick", "50ms"]);
    assert_eq!(output.status.code(), Some(0), "{}", describe(&output));
    assert_eq!(ecds_canary(&fx.ecds).map(|(w, _)| w), Some(10_000));
    let state = state_json(&fx.state).expect("state persisted");
    let srm_checks: Vec<serde_json::Value> = events(&state, "gate_checked")
        .into_iter()
        .filter(|e| e["verdict"]["gate"] == "srm")
        .collect();
    assert!(
        srm_checks.iter().any(|e| e["verdict"]["outcome"] == "pass"
            && e["verdict"]["srm"]["stable_exposures"] == 9040),
        "{srm_checks:?}"
    );
}
