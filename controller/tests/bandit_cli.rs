//! `rollgate bandit --spec` as a process against a loopback Prometheus stand-in that requires a
//! bearer token (read from an environment variable, as `spec.prometheus.bearer_token`) and an
//! `X-Scope-OrgID` header, and answers `increase()` queries per arm from a table: rounds print
//! rewards and weights and push through the stdout sink; a failed query skips the round without
//! a push; SIGTERM stops the loop.

use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use serde_json::Value;
use std::collections::HashMap;
use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::sync::Arc;

/// Successes and trials per arm; a query for `broken` answers HTTP 500.
fn answer(promql: &str) -> Option<f64> {
    let variant = ["control", "treatment", "broken"]
        .into_iter()
        .find(|v| promql.contains(&format!("variant=\"{v}\"")))?;
    let successes = promql.contains("class=\"2xx\"");
    match (variant, successes) {
        ("control", true) => Some(40.4),
        ("control", false) => Some(100.0),
        ("treatment", true) => Some(90.0),
        ("treatment", false) => Some(100.2),
        _ => None,
    }
}

async fn query(
    State(seen): State<Arc<std::sync::Mutex<Vec<String>>>>,
    headers: HeaderMap,
    Query(params): Query<HashMap<String, String>>,
) -> (StatusCode, String) {
    let get = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    if get("authorization") != Some("Bearer b4ndit") || get("x-scope-orgid") != Some("team-a") {
        return (StatusCode::UNAUTHORIZED, "unauthorized".into());
    }
    let promql = params.get("query").cloned().unwrap_or_default();
    if let Ok(mut seen) = seen.lock() {
        seen.push(promql.clone());
    }
    match answer(&promql) {
        Some(v) => (
            StatusCode::OK,
            format!(
                r#"{{"status":"success","data":{{"resultType":"vector","result":[{{"metric":{{}},"value":[1,"{v}"]}}]}}}}"#
            ),
        ),
        None => (StatusCode::INTERNAL_SERVER_ERROR, "boom".into()),
    }
}

/// Starts the stand-in on a thread's runtime; returns its URL.
fn prometheus() -> String {
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let runtime = tokio::runtime::Runtime::new().expect("runtime");
        runtime.block_on(async move {
            let seen = Arc::new(std::sync::Mutex::new(Vec::new()));
            let app = axum::Router::new()
                .route("/api/v1/query", axum::routing::get(query))
                .with_state(seen);
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
                .await
                .expect("bind");
            let addr = listener.local_addr().expect("addr");
            tx.send(format!("http://{addr}")).expect("send url");
            axum::serve(listener, app).await.expect("serve");
        });
    });
    rx.recv().expect("stand-in url")
}

/// Writes filter config, Rollout (stdout sink) and Bandit spec with `arms`; returns the dir.
fn specs(url: &str, arms: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("tempdir");
    let write =
        |name: &str, text: &str| std::fs::write(dir.path().join(name), text).expect("write");
    write(
        "filter.json",
        r#"{"version":1,"experiments":[{"id":"rank-ab","kind":"ab","salt":"rank-ab","variants":[
            {"name":"control","cluster":"c","weight":5000},{"name":"treatment","cluster":"t","weight":5000},
            {"name":"broken","cluster":"b","weight":0}]}]}"#,
    );
    write(
        "rollout.yaml",
        &format!(
            "apiVersion: rollgate.dev/v1\nkind: Rollout\nmetadata: {{ name: rank, namespace: ml }}\n\
             spec:\n  experiment: rank-ab\n  stable: control\n  canary: treatment\n  \
             base_config: filter.json\n  sink: {{ stdout: {{}} }}\n  state_file: state.json\n  \
             prometheus:\n    url: {url}\n    bearer_token: {{ env: ROLLGATE_TEST_BANDIT_TOKEN }}\n    \
             headers: {{ X-Scope-OrgID: team-a }}\n    scrape_interval: 15s\n"
        ),
    );
    write(
        "bandit.yaml",
        &format!(
            "apiVersion: rollgate.dev/v1\nkind: Bandit\nmetadata: {{ name: rank-bandit }}\n\
             spec:\n  rollout: rollout.yaml\n  arms: {arms}\n  reward: {{ template: success_rate, window: 1m }}\n"
        ),
    );
    dir
}

fn bandit(dir: &std::path::Path, extra: &[&str]) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_rollgate"));
    command
        .current_dir(dir)
        .env("ROLLGATE_TEST_BANDIT_TOKEN", "b4ndit")
        .args(["bandit", "--spec", "bandit.yaml", "--interval", "50ms"])
        .args(["--seed", "5", "--min-weight-bp", "200"])
        .args(extra);
    command
}

fn json_lines(stdout: &[u8]) -> Vec<Value> {
    String::from_utf8_lossy(stdout)
        .lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect()
}

#[test]
fn rounds_report_rewards_and_push_weights_through_the_sink() {
    let dir = specs(&prometheus(), "[control, treatment]");
    let out = bandit(dir.path(), &["--rounds", "3"])
        .output()
        .expect("run");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    let lines = json_lines(&out.stdout);
    let rounds: Vec<&Value> = lines.iter().filter(|l| l.get("round").is_some()).collect();
    let pushes: Vec<&Value> = lines
        .iter()
        .filter(|l| l["sink"] == "stdout" && l.get("config").is_some())
        .collect();
    assert_eq!(rounds.len(), 3, "{lines:?}");
    assert_eq!(pushes.len(), 3, "{lines:?}");
    for (i, round) in rounds.iter().enumerate() {
        assert_eq!(round["rewards"]["control"]["successes"], 40);
        assert_eq!(round["rewards"]["treatment"]["trials"], 100);
        // Beta(41, 61) vs Beta(91, 11): P(control best) is ~1e-13, so control keeps the floor.
        assert_eq!(round["weights"]["control"], 200, "{round}");
        assert_eq!(round["weights"]["treatment"], 9800, "{round}");
        assert_eq!(round["version"], i as u64 + 1);
        let variants = &pushes[i]["config"]["experiments"][0]["variants"];
        assert_eq!(variants[1]["weight"], 9800);
        assert_eq!(
            variants[2]["weight"], 0,
            "a variant that is not an arm gets 0"
        );
    }
}

#[test]
fn a_failed_query_skips_the_round_and_pushes_nothing() {
    let dir = specs(&prometheus(), "[control, broken]");
    let out = bandit(dir.path(), &["--rounds", "2"])
        .output()
        .expect("run");
    assert!(out.status.success());
    let lines = json_lines(&out.stdout);
    assert_eq!(lines.len(), 2, "two skipped rounds, no push: {lines:?}");
    for line in &lines {
        let why = line["skipped"].as_str().unwrap_or_default();
        assert!(
            why.contains("\"broken\"") && why.contains("HTTP 500"),
            "{why}"
        );
    }
    let wrong_token = bandit(dir.path(), &["--rounds", "1"])
        .env("ROLLGATE_TEST_BANDIT_TOKEN", "nope")
        .output()
        .expect("run");
    let lines = json_lines(&wrong_token.stdout);
    let why = lines[0]["skipped"].as_str().unwrap_or_default();
    assert!(why.contains("refused the credentials"), "{why}");
}

#[test]
fn sigterm_stops_the_loop() {
    let dir = specs(&prometheus(), "[control, treatment]");
    let mut child = bandit(dir.path(), &[])
        .stdout(Stdio::piped())
        .spawn()
        .expect("spawn");
    let stdout = child.stdout.take().expect("stdout");
    let mut lines = BufReader::new(stdout).lines();
    let first_round = lines
        .by_ref()
        .map_while(Result::ok)
        .find(|l| l.contains("\"round\""));
    assert!(first_round.is_some(), "a round was printed");
    let killed = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .expect("kill");
    assert!(killed.success());
    let status = child.wait().expect("wait");
    assert!(status.success(), "SIGTERM ends the loop cleanly: {status}");
}

#[test]
fn spec_errors_name_the_field_and_exit_2() {
    let dir = specs("http://127.0.0.1:9", "[control, v9]");
    let out = bandit(dir.path(), &["--rounds", "1"])
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("spec.arms[1]") && stderr.contains("v9"),
        "{stderr}"
    );
}
