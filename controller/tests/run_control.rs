//! `rollgate pause|resume|abort|status` acting on a running `rollgate run` through the
//! control file, and `rollgate run` exiting 2 on invalid specs.

mod run_support;

use run_support::*;
use std::process::Stdio;
use std::time::Duration;

#[test]
fn pause_stops_the_run_with_code_4_and_resume_continues_to_promotion() {
    let (_prometheus, fx) = scenario(FakePrometheus::rates(0.0, 0.0), "600ms", 1);
    let spec = fx.spec_arg();
    let child = spawn_run(&fx);
    wait_for_applied(&fx, 1_000);
    let paused = run_to_end(&["pause", spec]);
    assert_eq!(paused.status.code(), Some(0), "{}", describe(&paused));
    let output = wait_with_deadline(child, Duration::from_secs(20));
    assert_eq!(output.status.code(), Some(4), "{}", describe(&output));
    let state = state_json(&fx.state).expect("state");
    assert_eq!(
        (state["phase"].clone(), state["reason"]["kind"].clone()),
        ("paused".into(), "manual".into())
    );
    assert_eq!(
        ecds_canary(&fx.ecds).map(|(w, _)| w),
        Some(1_000),
        "weight held"
    );

    let status = run_to_end(&["status", spec]);
    assert!(
        String::from_utf8_lossy(&status.stdout).contains("paused"),
        "{}",
        describe(&status)
    );

    assert_eq!(run_to_end(&["resume", spec]).status.code(), Some(0));
    let resumed = run_to_end(&["run", spec, "--tick", "50ms"]);
    assert_eq!(resumed.status.code(), Some(0), "{}", describe(&resumed));
    assert_eq!(ecds_canary(&fx.ecds).map(|(w, _)| w), Some(10_000));
}

#[test]
fn abort_rolls_a_running_rollout_back_at_once() {
    let (_prometheus, fx) = scenario(FakePrometheus::rates(0.0, 0.0), "30s", 1);
    let spec = fx.spec_arg();
    let child = spawn_run(&fx);
    wait_for_applied(&fx, 1_000);
    assert_eq!(run_to_end(&["abort", spec]).status.code(), Some(0));
    let output = wait_with_deadline(child, Duration::from_secs(10));
    assert_eq!(output.status.code(), Some(3), "{}", describe(&output));
    assert!(
        String::from_utf8_lossy(&output.stdout).contains("aborted by request"),
        "{}",
        describe(&output)
    );
    assert_eq!(ecds_canary(&fx.ecds).map(|(w, _)| w), Some(0));
}

#[test]
fn invalid_specs_exit_2_naming_the_field() {
    let cases = [
        (
            "condition: \"< 0.05\"",
            "condition: \"below 0.05\"",
            "spec.gates[0].condition",
        ),
        (
            "interval: 100ms",
            "interval: 100 ms",
            "spec.gates[0].interval",
        ),
        ("weight: 50,", "weight: 500,", "spec.steps[1].weight"),
        (
            "experiment: fraud-v2",
            "experiment: missing",
            "spec.experiment",
        ),
        (
            "no_data: inconclusive",
            "no_data: sometimes",
            "spec.gates[0].no_data",
        ),
    ];
    for (from, to, field) in cases {
        let fx = fixture(
            "http://127.0.0.1:9",
            &steps("1s"),
            &error_rate_gate(1, "inconclusive"),
        );
        let text = std::fs::read_to_string(&fx.spec).expect("spec");
        assert!(text.contains(from), "fixture has {from}");
        std::fs::write(&fx.spec, text.replace(from, to)).expect("write");
        let spec = fx.spec_arg();
        for command in ["run", "render"] {
            let output = run_to_end(&[command, spec]);
            assert_eq!(
                output.status.code(),
                Some(2),
                "{command} {field}: {}",
                describe(&output)
            );
            let stderr = String::from_utf8_lossy(&output.stderr);
            assert!(
                stderr.contains(field),
                "{command}: error names {field}: {stderr}"
            );
            assert!(output.stdout.is_empty(), "nothing on stdout");
        }
        assert!(
            !fx.ecds.exists() && !fx.state.exists(),
            "nothing written for an invalid spec"
        );
    }
}

#[test]
fn the_controller_serves_its_own_metrics() {
    use std::io::{BufRead, BufReader, Read, Write};
    let (_prometheus, fx) = scenario(FakePrometheus::rates(0.0, 0.0), "30s", 1);
    let spec = fx.spec_arg();
    let mut child = rollgate(&[
        "run",
        spec,
        "--tick",
        "50ms",
        "--metrics-listen",
        "127.0.0.1:0",
    ])
    .stdout(Stdio::piped())
    .stderr(Stdio::piped())
    .spawn()
    .expect("spawn");
    let mut stderr = BufReader::new(child.stderr.take().expect("stderr"));
    let mut line = String::new();
    let addr = loop {
        line.clear();
        assert!(
            stderr.read_line(&mut line).expect("read stderr") > 0,
            "no metrics address printed"
        );
        if let Some(rest) = line.trim().strip_prefix("rollgate: metrics at http://") {
            break rest.trim_end_matches("/metrics").to_string();
        }
    };
    std::thread::spawn(move || std::io::copy(&mut stderr, &mut std::io::sink()));
    let scrape = || {
        let mut stream = std::net::TcpStream::connect(&addr).expect("connect");
        stream
            .write_all(b"GET /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            .expect("request");
        let mut text = String::new();
        stream.read_to_string(&mut text).expect("response");
        text
    };
    wait_for("the canary weight in the metrics", || {
        scrape().contains("rollgate_rollout_canary_weight_bp{rollout=\"fraud-detector\"} 1000")
    });
    let text = scrape();
    assert!(
        text.contains("rollgate_rollout_step{rollout=\"fraud-detector\"} 0"),
        "{text}"
    );
    assert!(
        text.contains(
            "rollgate_gate_failures_total{rollout=\"fraud-detector\",gate=\"error-rate\"} 0"
        ),
        "{text}"
    );
    assert_eq!(run_to_end(&["abort", spec]).status.code(), Some(0));
    let output = wait_with_deadline(child, Duration::from_secs(10));
    assert_eq!(output.status.code(), Some(3));
}

#[test]
fn a_held_run_waits_while_paused_and_resumes_on_request() {
    let (_prometheus, fx) = scenario(FakePrometheus::rates(0.0, 0.0), "300ms", 1);
    let spec = fx.spec_arg();
    let child = rollgate(&["run", spec, "--tick", "50ms", "--hold"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn");
    wait_for_applied(&fx, 1_000);
    assert_eq!(run_to_end(&["pause", spec]).status.code(), Some(0));
    wait_for("the run to pause", || {
        state_json(&fx.state).is_some_and(|s| s["phase"] == "paused")
    });
    assert_eq!(run_to_end(&["resume", spec]).status.code(), Some(0));
    let output = wait_with_deadline(child, Duration::from_secs(20));
    assert_eq!(output.status.code(), Some(0), "{}", describe(&output));
    let state = state_json(&fx.state).expect("state");
    assert_eq!(events(&state, "paused").len(), 1);
    assert_eq!(events(&state, "resumed").len(), 1);
    assert_eq!(ecds_canary(&fx.ecds).map(|(w, _)| w), Some(10_000));
}
