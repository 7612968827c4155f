//! Canary rollouts driven by the rollout engine (start, status, advance with and without
//! gates), shadows, and a restart over the same database that loses nothing and resumes.
#![allow(clippy::unwrap_used)]

mod common;

use axum::http::{Method, StatusCode};
use common::{pushed_weights, TestApp, ACME};
use rollgate_api::canary_driver::tick_all;
use serde_json::json;

async fn start_canary(app: &TestApp, body: serde_json::Value) -> serde_json::Value {
    app.register(ACME, "scorer", "v1").await;
    app.register(ACME, "scorer", "v2").await;
    let answer = app.post("/api/v1/canary", ACME, body).await;
    assert_eq!(answer.status, StatusCode::CREATED, "{}", answer.text);
    answer.body
}

#[tokio::test]
async fn canary_starts_at_the_first_step_and_advances_manually() {
    let app = TestApp::new();
    let status = start_canary(
        &app,
        json!({"model_id": "scorer", "stable_version": "v1", "canary_version": "v2",
               "steps": [{"weight": 5, "pause": "1h"}, {"weight": 50, "pause": "1h"}, {"weight": 100}]}),
    )
    .await;
    let id = status["canary_id"].as_str().unwrap().to_string();
    assert_eq!(status["phase"], "progressing");
    assert_eq!(status["weight_percent"], 5.0);
    assert_eq!(status["steps_total"], 3);
    let config = app.sink.latest("acme/scorer").unwrap();
    assert_eq!(
        pushed_weights(&config),
        vec![("stable".into(), 9500), ("canary".into(), 500)]
    );
    assert_eq!(
        config.experiments[0].variants[1].cluster,
        "cluster-scorer-v2"
    );

    // time passing inside the pause changes nothing
    tick_all(&app.state).await.unwrap();
    assert_eq!(
        app.get(&format!("/api/v1/canary/{id}/status"), ACME)
            .await
            .body["step"],
        0
    );

    let advanced = app
        .post(&format!("/api/v1/canary/{id}/advance"), ACME, json!({}))
        .await;
    assert_eq!(advanced.status, StatusCode::OK, "{}", advanced.text);
    assert_eq!(advanced.body["step"], 1);
    assert_eq!(advanced.body["weight_percent"], 50.0);
    assert_eq!(
        pushed_weights(&app.sink.latest("acme/scorer").unwrap())[1].1,
        5000
    );

    let last = app
        .send(
            Method::POST,
            &format!("/api/v1/canary/{id}/advance"),
            Some(ACME),
            None,
        )
        .await;
    assert_eq!(last.body["phase"], "promoted", "{}", last.text);
    assert_eq!(last.body["weight_percent"], 100.0);
    assert!(last.body["history"].as_array().unwrap().len() >= 6);
    let done = app
        .post(&format!("/api/v1/canary/{id}/advance"), ACME, json!({}))
        .await;
    assert_eq!(done.status, StatusCode::CONFLICT);
    // a finished canary frees the service
    let again = app
        .post(
            "/api/v1/canary",
            ACME,
            json!({"model_id": "scorer", "stable_version": "v2", "canary_version": "v1"}),
        )
        .await;
    assert_eq!(again.status, StatusCode::CREATED, "{}", again.text);
}

#[tokio::test]
async fn gates_are_checked_before_advancing_unless_forced() {
    let app = TestApp::new();
    // Port 9 on loopback (discard) is closed: the gate has no data.
    let status = start_canary(
        &app,
        json!({"model_id": "scorer", "stable_version": "v1", "canary_version": "v2",
               "steps": [{"weight": 10, "pause": "1h"}, {"weight": 100}],
               "gates": [{"name": "errors", "template": "error_rate", "condition": "< 0.01", "no_data": "inconclusive"}],
               "prometheus": {"url": "http://127.0.0.1:9", "timeout": "1s"}}),
    )
    .await;
    let id = status["canary_id"].as_str().unwrap().to_string();
    let refused = app
        .post(&format!("/api/v1/canary/{id}/advance"), ACME, json!({}))
        .await;
    assert_eq!(refused.status, StatusCode::CONFLICT, "{}", refused.text);
    assert!(
        refused.body["detail"].as_str().unwrap().contains("errors"),
        "{}",
        refused.text
    );
    let paused = app
        .get(&format!("/api/v1/canary/{id}/status"), ACME)
        .await
        .body;
    assert_eq!(paused["phase"], "paused");
    assert_eq!(paused["weight_percent"], 10.0);
    assert!(paused["gates"]["errors"]["last"].is_object(), "{paused}");
    let forced = app
        .post(
            &format!("/api/v1/canary/{id}/advance"),
            ACME,
            json!({"force": true}),
        )
        .await;
    assert_eq!(forced.status, StatusCode::OK, "{}", forced.text);
    assert_eq!(forced.body["phase"], "promoted");
    assert_eq!(
        pushed_weights(&app.sink.latest("acme/scorer").unwrap())[1].1,
        10000
    );
}

#[tokio::test]
async fn invalid_canary_specs_name_the_field() {
    let app = TestApp::new();
    app.register(ACME, "scorer", "v1").await;
    app.register(ACME, "scorer", "v2").await;
    let bad_step = app
        .post(
            "/api/v1/canary",
            ACME,
            json!({"model_id": "scorer", "stable_version": "v1", "canary_version": "v2",
            "steps": [{"weight": 150}]}),
        )
        .await;
    assert_eq!(
        bad_step.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "{}",
        bad_step.text
    );
    assert!(
        bad_step.body["field"]
            .as_str()
            .unwrap()
            .starts_with("steps[0]"),
        "{}",
        bad_step.text
    );
    let no_prom = app
        .post(
            "/api/v1/canary",
            ACME,
            json!({"model_id": "scorer", "stable_version": "v1", "canary_version": "v2",
            "gates": [{"name": "e", "template": "error_rate", "condition": "< 0.01"}]}),
        )
        .await;
    assert_eq!(no_prom.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(no_prom.body["field"], "prometheus");
    let unknown = app
        .post(
            "/api/v1/canary",
            ACME,
            json!({"model_id": "scorer", "stable_version": "v1", "canary_version": "v2",
            "steps": [{"weight": 10, "hold": "1h"}]}),
        )
        .await;
    assert_eq!(unknown.status, StatusCode::BAD_REQUEST);
    assert_eq!(unknown.body["field"], "steps[0].hold");
}

#[tokio::test]
async fn shadow_rides_on_the_live_experiment_and_stops() {
    let app = TestApp::new();
    let test = app.ab_test(ACME, json!({})).await;
    app.register(ACME, "fraud", "v3").await;
    let shadow = app
        .post("/api/v1/shadow", ACME, json!({"model_id": "fraud", "primary_version": "v1", "shadow_version": "v3", "sample": 0.1,
            "compare": {"json_pointer": "/prediction", "tolerance": 0.01}}))
        .await;
    assert_eq!(shadow.status, StatusCode::CREATED, "{}", shadow.text);
    let config = app.sink.latest("acme/fraud").unwrap();
    assert_eq!(config.experiments.len(), 1);
    assert_eq!(
        config.experiments[0].id,
        test["experiment_id"].as_str().unwrap()
    );
    let copy = config.experiments[0].shadow.as_ref().unwrap();
    assert_eq!(
        (copy.cluster.as_str(), copy.sample, copy.authority.as_str()),
        ("cluster-fraud-v3", 1000, "fraud-shadow")
    );
    let second = app
        .post(
            "/api/v1/shadow",
            ACME,
            json!({"model_id": "fraud", "primary_version": "v1", "shadow_version": "v2"}),
        )
        .await;
    assert_eq!(second.status, StatusCode::CONFLICT);
    let id = shadow.body["shadow_id"].as_str().unwrap();
    let stopped = app
        .send(
            Method::DELETE,
            &format!("/api/v1/shadow/{id}"),
            Some(ACME),
            None,
        )
        .await;
    assert_eq!(stopped.body["active"], false);
    assert!(app.sink.latest("acme/fraud").unwrap().experiments[0]
        .shadow
        .is_none());
    let unknown = app
        .post(
            "/api/v1/shadow",
            ACME,
            json!({"model_id": "fraud", "primary_version": "v1", "shadow_version": "v7"}),
        )
        .await;
    assert_eq!(unknown.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(unknown.body["field"], "shadow_version");
}

#[tokio::test]
async fn restart_loses_nothing_and_resumes_the_canary() {
    let app = TestApp::new();
    let test = app.ab_test(ACME, json!({})).await;
    let ab_id = test["experiment_id"].as_str().unwrap().to_string();
    let events: Vec<(&str, &str, f64)> = (0..40)
        .map(|i| {
            (
                if i % 2 == 0 { "control" } else { "treatment" },
                "accuracy",
                f64::from(i) / 40.0,
            )
        })
        .collect();
    app.events(ACME, &ab_id, &events).await;
    let status = start_canary(
        &app,
        json!({"model_id": "scorer", "stable_version": "v1", "canary_version": "v2",
               "steps": [{"weight": 20, "pause": "1h"}, {"weight": 100}]}),
    )
    .await;
    let canary_id = status["canary_id"].as_str().unwrap().to_string();
    let before_results = app
        .get(&format!("/api/v1/ab-tests/{ab_id}/results"), ACME)
        .await
        .body;

    let TestApp { dir, state, .. } = app;
    drop(state);
    let app = TestApp::open(dir);
    let after = app
        .get(&format!("/api/v1/canary/{canary_id}/status"), ACME)
        .await
        .body;
    assert_eq!(after["phase"], "progressing");
    assert_eq!(after["weight_percent"], 20.0);
    assert_eq!(
        app.get(&format!("/api/v1/ab-tests/{ab_id}/results"), ACME)
            .await
            .body,
        before_results
    );
    assert_eq!(
        app.get("/api/v1/models", ACME).await.body["models"]
            .as_array()
            .unwrap()
            .len(),
        2
    );
    // the driver picks the canary up again after the restart
    assert_eq!(tick_all(&app.state).await.unwrap(), 1);
    let advanced = app
        .post(
            &format!("/api/v1/canary/{canary_id}/advance"),
            ACME,
            json!({}),
        )
        .await;
    assert_eq!(advanced.body["phase"], "promoted", "{}", advanced.text);
    assert_eq!(
        pushed_weights(&app.sink.latest("acme/scorer").unwrap())[1].1,
        10000
    );
}
