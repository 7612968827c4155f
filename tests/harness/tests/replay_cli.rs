//! `rollgate-harness replay` end to end on the probe filter: JSON Lines in, JSON Lines out,
//! http calls answered, refused config → non-zero exit with the plugin's log on stderr.

mod common;

use std::io::Write;
use std::process::{Command, Stdio};

fn replay(config: &str, clusters: Option<&str>, input: &str) -> std::process::Output {
    let wasm = common::build_wasm("harness-probe-filter", "harness_probe_filter.wasm");
    let dir = tempfile::tempdir().expect("tempdir");
    let config_path = dir.path().join("config.txt");
    std::fs::write(&config_path, config).expect("write config");
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_rollgate-harness"));
    cmd.arg("replay")
        .arg("--wasm")
        .arg(&wasm)
        .arg("--config")
        .arg(&config_path);
    if let Some(c) = clusters {
        cmd.args(["--clusters", c]);
    }
    let mut child = cmd
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(input.as_bytes())
        .expect("write stdin");
    child.wait_with_output().expect("output")
}

fn lines(output: &std::process::Output) -> Vec<serde_json::Value> {
    String::from_utf8_lossy(&output.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).expect("json line"))
        .collect()
}

#[test]
fn replays_requests_with_bodies_calls_and_local_responses() {
    let input = [
        r#"{"request": {"headers": {":method": "POST", ":path": "/a", ":authority": "svc", "x-probe-set": "r9", "x-probe-call": "/shadow", "x-probe-body": "upper"}, "body": "hi"}, "response": {"headers": {":status": "200"}, "body": "ok"}, "call_response": {"headers": {":status": "202"}, "body": "shadow-said"}}"#,
        "",
        r#"{"request": {"headers": {":method": "GET", ":path": "/b", ":authority": "svc", "x-probe-local": "451"}}}"#,
        r#"{"request": {"headers": {":method": "GET", ":path": "/c", ":authority": "svc", "x-bin": "x"}, "body_base64": "/wA="}}"#,
    ]
    .join("\n");
    let output = replay("cluster=shadow-cluster", None, &input);
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let out = lines(&output);
    assert_eq!(out.len(), 3);

    let first = &out[0];
    assert_eq!(first["request_headers"]["x-probe-route"], "r9");
    assert_eq!(first["response_headers"]["x-probe-response"], "seen-200");
    assert_eq!(first["local_response"], serde_json::Value::Null);
    let calls = first["http_calls"].as_array().expect("calls");
    assert_eq!(calls.len(), 1);
    assert_eq!(calls[0]["cluster"], "shadow-cluster");
    assert_eq!(calls[0]["headers"][":path"], "/shadow");
    assert_eq!(calls[0]["body"], "call-body");
    let logs = first["logs"].as_array().expect("logs");
    assert!(
        logs.contains(&serde_json::json!(["info", "request headers: 6 eos=false"])),
        "{logs:?}"
    );
    assert!(
        logs.contains(&serde_json::json!(["info", "dispatched 1"])),
        "{logs:?}"
    );

    assert_eq!(out[1]["local_response"]["status"], 451);
    assert_eq!(out[1]["local_response"]["body"], "denied by probe");
    assert_eq!(out[2]["request_headers"][":path"], "/c");
}

#[test]
fn refused_config_exits_non_zero_with_the_plugins_error_log() {
    let output = replay("reject=weights must sum to 10000", None, "");
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("[error] probe config refused: weights must sum to 10000"),
        "{stderr}"
    );
    assert!(output.stdout.is_empty());
}

#[test]
fn calls_to_clusters_not_listed_get_bad_argument() {
    let input = r#"{"request": {"headers": {":method": "GET", ":path": "/", ":authority": "svc", "x-probe-call": "/x"}}}"#;
    let output = replay("cluster=missing", Some("a,b"), input);
    assert!(output.status.success());
    let out = lines(&output);
    assert_eq!(out[0]["http_calls"], serde_json::json!([]));
    assert_eq!(out[0]["request_headers"]["x-probe-dispatch"], "BadArgument");
}

#[test]
fn malformed_input_lines_are_reported_with_their_line_number() {
    let output = replay("", None, "{\"request\": {\"headers\": {}}}\nnot json\n");
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("replay input line 2"), "{stderr}");
}
