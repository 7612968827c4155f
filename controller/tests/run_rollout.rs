//! `rollgate run` as a process against a scripted fake Prometheus, with sub-second steps:
//! rollback on a bad canary, promotion of a good one, no promotion while Prometheus is down,
//! and resuming after SIGKILL.

mod run_support;

use run_support::*;
use std::process::Stdio;

#[test]
fn bad_canary_is_rolled_back_with_weight_zero_written_and_the_reason_printed() {
    let (_prometheus, fx) = scenario(FakePrometheus::rates(0.2, 0.0), "300ms", 2);
    let spec = fx.spec_arg();
    let output = run_to_end(&["run", spec, "--tick", "50ms"]);
    assert_eq!(output.status.code(), Some(3), "{}", describe(&output));
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        stdout.contains("rolled back") && stdout.contains("error-rate"),
        "{stdout}"
    );
    assert!(
        stdout.contains("0.2") && stdout.contains("< 0.05"),
        "value and threshold printed: {stdout}"
    );
    assert_eq!(
        ecds_canary(&fx.ecds).map(|(w, _)| w),
        Some(0),
        "weight 0 reached the ECDS file"
    );
    let state = state_json(&fx.state).expect("state persisted");
    assert_eq!(state["phase"], "rolled_back");
    assert_eq!(state["reason"]["gate"], "error-rate");
    assert_eq!(state["reason"]["failures"], 2);
    let weights: Vec<u64> = events(&state, "pushed")
        .iter()
        .filter_map(|e| e["canary_bp"].as_u64())
        .collect();
    assert_eq!(
        weights,
        vec![1_000, 0],
        "never went past the first step, then one push to 0"
    );
}

#[test]
fn good_canary_is_promoted_to_full_traffic() {
    let (prometheus, fx) = scenario(FakePrometheus::rates(0.001, 0.001), "200ms", 1);
    let spec = fx.spec_arg();
    let output = run_to_end(&["run", spec, "--tick", "50ms", "--output", "json"]);
    assert_eq!(output.status.code(), Some(0), "{}", describe(&output));
    assert_eq!(ecds_canary(&fx.ecds), Some((10_000, "3".to_string())));
    let stdout = String::from_utf8_lossy(&output.stdout);
    let lines: Vec<serde_json::Value> = stdout
        .lines()
        .map(|l| serde_json::from_str(l).expect("every stdout line is JSON"))
        .collect();
    assert_eq!(
        lines.last().map(|l| l["result"].clone()),
        Some(serde_json::json!("promoted"))
    );
    assert!(
        lines.iter().any(|l| l["event"]["event"] == "gate_checked"),
        "gate checks reported"
    );
    let state = state_json(&fx.state).expect("state persisted");
    let weights: Vec<u64> = events(&state, "pushed")
        .iter()
        .filter_map(|e| e["canary_bp"].as_u64())
        .collect();
    assert_eq!(weights, vec![1_000, 5_000, 10_000]);
    assert!(
        prometheus.queries.load(std::sync::atomic::Ordering::SeqCst) >= 2,
        "gates were queried"
    );
}

#[test]
fn prometheus_down_in_the_middle_pauses_and_never_promotes() {
    // Healthy answers for the first two queries, then an outage.
    let (_prometheus, fx) = scenario(
        FakePrometheus::start(|query, index| match index {
            // value and sample count of the first two checks
            0..4 if is_sample_count(query) => Some(SAMPLES),
            0..4 => Some(0.0),
            _ => None,
        }),
        "300ms",
        2,
    );
    let spec = fx.spec_arg();
    let output = run_to_end(&["run", spec, "--tick", "50ms"]);
    assert_eq!(output.status.code(), Some(4), "{}", describe(&output));
    let (weight, _) = ecds_canary(&fx.ecds).expect("ECDS written");
    assert!(weight < 10_000, "not promoted on missing data: {weight}");
    let state = state_json(&fx.state).expect("state");
    assert_eq!(state["phase"], "paused");
    assert_eq!(state["reason"]["kind"], "inconclusive");
    // Running again without `rollgate resume` stays paused: still no promotion.
    let again = run_to_end(&["run", spec, "--tick", "50ms"]);
    assert_eq!(again.status.code(), Some(4), "{}", describe(&again));
    assert_eq!(ecds_canary(&fx.ecds).map(|(w, _)| w), Some(weight));
}

#[test]
fn sigkill_mid_rollout_then_rerun_resumes_and_never_replays_a_weight() {
    let (_prometheus, fx) = scenario(FakePrometheus::rates(0.0, 0.0), "700ms", 1);
    let spec = fx.spec_arg();
    let mut child = rollgate(&["run", spec, "--tick", "50ms"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn");
    wait_for_applied(&fx, 5_000);
    child.kill().expect("SIGKILL");
    let _ = child.wait();
    let killed_at = state_json(&fx.state).expect("state");
    assert_eq!(killed_at["step"], 1);

    let output = run_to_end(&["run", spec, "--tick", "50ms"]);
    assert_eq!(output.status.code(), Some(0), "{}", describe(&output));
    let state = state_json(&fx.state).expect("state");
    let started: Vec<u64> = events(&state, "step_started")
        .iter()
        .filter_map(|e| e["step"].as_u64())
        .collect();
    assert_eq!(
        started,
        vec![0, 1, 2],
        "each step started once: resumed, not restarted"
    );
    let planned: Vec<u64> = events(&state, "push_planned")
        .iter()
        .filter_map(|e| e["canary_bp"].as_u64())
        .collect();
    assert_eq!(planned, vec![1_000, 5_000, 10_000], "no weight re-played");
    assert_eq!(ecds_canary(&fx.ecds), Some((10_000, "3".to_string())));
}

#[test]
fn a_finished_rollout_run_again_reports_the_same_result() {
    let (_prometheus, fx) = scenario(FakePrometheus::rates(0.2, 0.0), "200ms", 1);
    let spec = fx.spec_arg();
    assert_eq!(
        run_to_end(&["run", spec, "--tick", "50ms"]).status.code(),
        Some(3)
    );
    let before = std::fs::read_to_string(&fx.ecds).expect("ecds");
    let again = run_to_end(&["run", spec, "--tick", "50ms"]);
    assert_eq!(again.status.code(), Some(3), "{}", describe(&again));
    assert_eq!(
        std::fs::read_to_string(&fx.ecds).expect("ecds"),
        before,
        "nothing pushed again"
    );
}
