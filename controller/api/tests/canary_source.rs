//! API canaries query their Prometheus-compatible source with every `spec.prometheus` setting
//! `rollgate run` honours (bearer token from a file, basic auth password from an environment
//! variable, extra headers, timeout, https CA file), and judge the `sequential` gate with the
//! CLI's evaluation. The source is a loopback fake that refuses requests without the right
//! credentials and tenant header, as Mimir/Cortex do; TLS against a real Prometheus is
//! covered by the CLI's `run_secured_prometheus` test of the same client.
#![allow(clippy::unwrap_used)]

mod common;

use axum::http::{HeaderMap, StatusCode};
use axum::response::IntoResponse;
use common::{TestApp, ACME};
use rollgate_api::canary_driver::run_gates;
use rollgate_api::types::deploy::CanaryDoc;
use rollgate_rollout::gates::GateOutcome;
use serde_json::{json, Value};
use std::collections::HashMap;

/// A source answering only requests carrying `authorization` and `X-Scope-OrgID: team-a`:
/// response counts per variant (`errors` 5xx of `total`), 0 for anything else.
async fn source(authorization: &'static str, counts: [(f64, f64); 2]) -> String {
    let app = axum::Router::new().route(
        "/api/v1/query",
        axum::routing::get(
            move |headers: HeaderMap,
                  axum::extract::Query(q): axum::extract::Query<HashMap<String, String>>| async move {
                let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
                if header("authorization") != Some(authorization)
                    || header("x-scope-orgid") != Some("team-a")
                {
                    return (StatusCode::UNAUTHORIZED, "no org or bad credentials").into_response();
                }
                let query = q.get("query").cloned().unwrap_or_default();
                let (errors, total) = if query.contains(r#"variant="canary""#) {
                    counts[1]
                } else {
                    counts[0]
                };
                let value = match (query.contains("rollgate_responses_total"), query.contains("5xx")) {
                    (true, true) => errors,
                    (true, false) => total,
                    (false, _) => 0.0,
                };
                axum::Json(json!({"status": "success", "data": {"resultType": "vector",
                    "result": [{"metric": {}, "value": [1, value.to_string()]}]}}))
                .into_response()
            },
        ),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await });
    url
}

/// Starts a canary with `gates` over `prometheus`, its first weight live for a minute.
async fn canary(app: &TestApp, gates: Value, prometheus: Value) -> CanaryDoc {
    let steps = json!([{"weight": 50, "pause": "1h"}, {"weight": 100}]);
    app.canary_live_for_a_minute(
        ACME,
        json!({"steps": steps, "gates": gates, "prometheus": prometheus}),
    )
    .await
}

#[tokio::test]
async fn bearer_token_file_and_tenant_header_are_sent_and_a_wrong_token_decides_nothing() {
    let url = source("Bearer api-token-1", [(0.0, 0.0), (0.0, 0.0)]).await;
    let app = TestApp::new();
    let token = app.dir.path().join("token");
    std::fs::write(&token, "api-token-1\n").unwrap();
    let doc = canary(
        &app,
        json!([{"name": "up", "query": "vector(0)", "condition": "< 1"}]),
        json!({"url": url, "bearer_token": {"file": token.display().to_string()},
               "headers": {"X-Scope-OrgID": "team-a"}, "timeout": "2s"}),
    )
    .await;
    let verdict = run_gates(&doc, &["up".to_string()]).await.remove(0);
    assert_eq!(verdict.outcome, GateOutcome::Pass, "{verdict:?}");

    // The token is read on every check: a rotated (here: wrong) one is refused by the source.
    std::fs::write(&token, "stale-token").unwrap();
    let verdict = run_gates(&doc, &["up".to_string()]).await.remove(0);
    assert_eq!(verdict.outcome, GateOutcome::NoData, "{verdict:?}");
    assert!(verdict.query_failed, "{verdict:?}");
    let detail = verdict.detail.unwrap_or_default();
    assert!(
        detail.contains(&url) && detail.contains("refused the credentials"),
        "{detail}"
    );
}

#[tokio::test]
async fn basic_auth_from_the_environment_and_the_sequential_gate_fail_a_bad_canary() {
    // printf 'rollgate:pw-from-env' | base64 -> cm9sbGdhdGU6cHctZnJvbS1lbnY=
    let variable = "ROLLGATE_API_TEST_SOURCE_PASSWORD";
    std::env::set_var(variable, "pw-from-env");
    // 1 % errors on stable, 30 % on the canary, 2,000 responses each.
    let url = source(
        "Basic cm9sbGdhdGU6cHctZnJvbS1lbnY=",
        [(20.0, 2_000.0), (600.0, 2_000.0)],
    )
    .await;
    let app = TestApp::new();
    let doc = canary(
        &app,
        json!([{"name": "errors", "sequential": "error_rate", "condition": "< 0.005"}]),
        json!({"url": url, "basic_auth": {"username": "rollgate", "password": {"env": variable}},
               "headers": {"X-Scope-OrgID": "team-a"}}),
    )
    .await;
    let verdict = run_gates(&doc, &["errors".to_string()]).await.remove(0);
    assert_eq!(verdict.outcome, GateOutcome::Fail, "{verdict:?}");
    assert!(!verdict.query_failed);
}

#[tokio::test]
async fn a_missing_ca_file_fails_the_checks_naming_the_source_and_the_setting() {
    let app = TestApp::new();
    let ca = app.dir.path().join("missing-ca.pem");
    let doc = canary(
        &app,
        json!([{"name": "up", "query": "vector(0)", "condition": "< 1", "no_data": "fail"}]),
        json!({"url": "https://127.0.0.1:1", "ca_file": ca.display().to_string()}),
    )
    .await;
    let verdict = run_gates(&doc, &["up".to_string()]).await.remove(0);
    assert_eq!(verdict.outcome, GateOutcome::NoData, "{verdict:?}");
    assert!(
        verdict.query_failed,
        "no no_data policy acts on a failed source"
    );
    let detail = verdict.detail.unwrap_or_default();
    assert!(
        detail.contains("https://127.0.0.1:1")
            && detail.contains("ca_file")
            && detail.contains("missing-ca.pem"),
        "{detail}"
    );
}
