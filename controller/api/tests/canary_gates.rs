//! The API's canaries evaluate every gate kind with the code `rollgate run` uses: the `srm`
//! gate reads exposures from Prometheus and judges them against the pushed weight (it used to
//! report no data).
#![allow(clippy::unwrap_used)]

mod common;

use common::{TestApp, ACME};
use rollgate_api::canary_driver::run_gates;
use rollgate_rollout::gates::GateOutcome;
use serde_json::json;

/// A loopback Prometheus answering exposure counts: `stable` and `canary`.
async fn exposures(stable: f64, canary: f64) -> String {
    let app = axum::Router::new().route(
        "/api/v1/query",
        axum::routing::get(
            move |axum::extract::Query(q): axum::extract::Query<
                std::collections::HashMap<String, String>,
            >| async move {
                let query = q.get("query").cloned().unwrap_or_default();
                let value = if query.contains(r#"variant="canary""#) {
                    canary
                } else {
                    stable
                };
                let ok = query.contains("rollgate_exposures_total");
                axum::Json(if ok {
                    json!({"status": "success", "data": {"resultType": "vector",
                           "result": [{"metric": {}, "value": [1, value.to_string()]}]}})
                } else {
                    json!({"status": "success", "data": {"resultType": "vector", "result": []}})
                })
            },
        ),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await });
    url
}

#[tokio::test]
async fn the_srm_gate_is_judged_against_the_pushed_weight() {
    // scipy.stats.chisquare([9400, 600], f_exp=[9000, 1000]).pvalue -> 1.481282554381437e-40
    let url = exposures(9_400.0, 600.0).await;
    let app = TestApp::new();
    let doc = app
        .canary_live_for_a_minute(
            ACME,
            json!({"steps": [{"weight": 10, "pause": "1h"}, {"weight": 100}],
                   "gates": [{"name": "srm", "template": "srm"}],
                   "prometheus": {"url": url, "timeout": "2s"}}),
        )
        .await;
    let verdicts = run_gates(&doc, &["srm".to_string()]).await;
    assert_eq!(verdicts.len(), 1);
    let verdict = &verdicts[0];
    assert_eq!(verdict.outcome, GateOutcome::Invalid, "{verdict:?}");
    let evidence = verdict.srm.clone().expect("srm evidence");
    assert_eq!(
        (evidence.stable_exposures, evidence.canary_exposures),
        (9_400, 600)
    );
    assert!((evidence.expected_canary_share - 0.1).abs() < 1e-12);
    assert!(evidence.p_value < 1e-39, "{}", evidence.p_value);
}
