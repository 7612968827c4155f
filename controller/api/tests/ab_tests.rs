//! A/B test lifecycle through `app().oneshot(...)`: create, get, list, update with If-Match,
//! stop, promote, rollback; configs pushed; refused configs store nothing.
#![allow(clippy::unwrap_used)]

mod common;

use axum::http::{Method, StatusCode};
use common::{ab_body, pushed_weights, TestApp, ACME};
use serde_json::json;

#[tokio::test]
async fn create_returns_201_with_seed_fields_and_pushes_the_split() {
    let app = TestApp::new();
    let test = app.ab_test(ACME, json!({"treatment_fraction": 0.25})).await;
    assert_eq!(test["status"], "active");
    assert_eq!(test["tenant_id"], "acme");
    assert!(test["experiment_id"].as_str().unwrap().starts_with("ab-"));
    // seed 001 defaults
    assert_eq!(test["primary_metric"], "accuracy");
    assert_eq!(test["minimum_improvement"], 0.01);
    assert_eq!(test["confidence_level"], 0.95);
    assert_eq!(test["max_duration_hours"], 168);
    assert_eq!(test["min_sample_size"], 1000);
    assert_eq!(test["auto_rollback_threshold"], 0.05);
    assert_eq!(test["control_cluster"], "cluster-fraud-v1");
    let config = app.sink.latest("acme/fraud").expect("pushed");
    assert_eq!(
        config.experiments[0].id,
        test["experiment_id"].as_str().unwrap()
    );
    assert_eq!(
        pushed_weights(&config),
        vec![("control".into(), 7500), ("treatment".into(), 2500)]
    );
    assert_eq!(
        config.experiments[0].match_rule.authority.as_deref(),
        Some("fraud")
    );
}

#[tokio::test]
async fn unknown_model_version_is_422_naming_the_field_and_stores_nothing() {
    let app = TestApp::new();
    app.register(ACME, "fraud", "v1").await;
    let answer = app
        .post(
            "/api/v1/ab-tests",
            ACME,
            json!({"name": "x", "control_model_id": "fraud", "control_version": "v1",
            "treatment_model_id": "fraud", "treatment_version": "v9"}),
        )
        .await;
    assert_eq!(
        answer.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "{}",
        answer.text
    );
    assert_eq!(answer.body["field"], "treatment_version");
    assert_eq!(answer.content_type(), "application/problem+json");
    assert_eq!(app.get("/api/v1/ab-tests", ACME).await.body["total"], 0);
    assert!(app.sink.pushes().is_empty());
}

#[tokio::test]
async fn get_list_and_paging() {
    let app = TestApp::new();
    let first = app.ab_test(ACME, json!({})).await;
    let id = first["experiment_id"].as_str().unwrap();
    app.post(&format!("/api/v1/ab-tests/{id}/promote"), ACME, json!({}))
        .await;
    app.register(ACME, "fraud", "v3").await;
    let second = app
        .post(
            "/api/v1/ab-tests",
            ACME,
            json!({"name": "second", "control_model_id": "fraud", "control_version": "v2",
            "treatment_model_id": "fraud", "treatment_version": "v3"}),
        )
        .await;
    assert_eq!(second.status, StatusCode::CREATED, "{}", second.text);
    let got = app.get(&format!("/api/v1/ab-tests/{id}"), ACME).await;
    assert_eq!(got.status, StatusCode::OK);
    assert_eq!(got.etag(), "\"2\"");
    let page = app.get("/api/v1/ab-tests?limit=1&offset=1", ACME).await;
    assert_eq!(page.body["total"], 2);
    assert_eq!(page.body["items"].as_array().unwrap().len(), 1);
    assert_eq!(page.body["items"][0]["name"], "second");
    let bad = app.get("/api/v1/ab-tests?limit=0", ACME).await;
    assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(bad.body["field"], "limit");
    let unknown = app.get("/api/v1/ab-tests?colour=red", ACME).await;
    assert_eq!(
        unknown.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "{}",
        unknown.text
    );
}

#[tokio::test]
async fn update_needs_if_match_and_pushes_new_weights() {
    let app = TestApp::new();
    let test = app.ab_test(ACME, json!({})).await;
    let path = format!(
        "/api/v1/ab-tests/{}",
        test["experiment_id"].as_str().unwrap()
    );
    let body = Some(json!({"treatment_fraction": 0.5}).to_string().into_bytes());
    let missing = app
        .send_raw(Method::PUT, &path, Some(ACME), body.clone(), &[])
        .await;
    assert_eq!(missing.status, StatusCode::PRECONDITION_REQUIRED);
    let stale = app
        .send_raw(
            Method::PUT,
            &path,
            Some(ACME),
            body.clone(),
            &[("if-match", "\"7\"")],
        )
        .await;
    assert_eq!(stale.status, StatusCode::PRECONDITION_FAILED);
    let ok = app
        .send_raw(
            Method::PUT,
            &path,
            Some(ACME),
            body.clone(),
            &[("if-match", "\"1\"")],
        )
        .await;
    assert_eq!(ok.status, StatusCode::OK, "{}", ok.text);
    assert_eq!(ok.body["treatment_fraction"], 0.5);
    assert_eq!(ok.etag(), "\"2\"");
    assert_eq!(
        pushed_weights(&app.sink.latest("acme/fraud").unwrap())[1].1,
        5000
    );
    let invalid = app
        .send_raw(
            Method::PUT,
            &path,
            Some(ACME),
            Some(br#"{"confidence_level": 1.5}"#.to_vec()),
            &[("if-match", "\"2\"")],
        )
        .await;
    assert_eq!(invalid.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(invalid.body["field"], "confidence_level");
    let models = app
        .send_raw(
            Method::PUT,
            &path,
            Some(ACME),
            Some(br#"{"control_version": "v2"}"#.to_vec()),
            &[("if-match", "\"2\"")],
        )
        .await;
    assert_eq!(
        models.status,
        StatusCode::BAD_REQUEST,
        "models cannot change: unknown field"
    );
    assert!(models.body["detail"]
        .as_str()
        .unwrap()
        .contains("control_version"));
}

#[tokio::test]
async fn concurrent_updates_with_the_same_etag_one_wins_one_gets_412() {
    let app = TestApp::new();
    let test = app.ab_test(ACME, json!({})).await;
    let path = format!(
        "/api/v1/ab-tests/{}",
        test["experiment_id"].as_str().unwrap()
    );
    let a = app.send_raw(
        Method::PUT,
        &path,
        Some(ACME),
        Some(br#"{"treatment_fraction": 0.3}"#.to_vec()),
        &[("if-match", "\"1\"")],
    );
    let b = app.send_raw(
        Method::PUT,
        &path,
        Some(ACME),
        Some(br#"{"min_sample_size": 5000}"#.to_vec()),
        &[("if-match", "\"1\"")],
    );
    let (a, b) = tokio::join!(a, b);
    let mut statuses = [a.status, b.status];
    statuses.sort();
    assert_eq!(statuses, [StatusCode::OK, StatusCode::PRECONDITION_FAILED]);
    let now = app.get(&path, ACME).await.body;
    assert_eq!(now["version"], 2);
    // exactly one of the two changes is there: no lost update, no silent merge
    let a_won = now["treatment_fraction"] == 0.3;
    let b_won = now["min_sample_size"] == 5000;
    assert!(a_won ^ b_won, "{now}");
}

#[tokio::test]
async fn promote_rollback_and_stop_route_and_refuse_what_no_longer_applies() {
    let app = TestApp::new();
    let test = app.ab_test(ACME, json!({})).await;
    let id = test["experiment_id"].as_str().unwrap();
    let promoted = app
        .post(&format!("/api/v1/ab-tests/{id}/promote"), ACME, json!({}))
        .await;
    assert_eq!(promoted.status, StatusCode::OK);
    assert_eq!(promoted.body["status"], "completed");
    assert_eq!(promoted.body["outcome"], "promoted");
    assert_eq!(
        pushed_weights(&app.sink.latest("acme/fraud").unwrap()),
        vec![("control".into(), 0), ("treatment".into(), 10000)]
    );
    let again = app
        .post(&format!("/api/v1/ab-tests/{id}/rollback"), ACME, json!({}))
        .await;
    assert_eq!(again.status, StatusCode::CONFLICT);

    app.register(ACME, "fraud", "v3").await;
    let second = app
        .post(
            "/api/v1/ab-tests",
            ACME,
            json!({"name": "b", "control_model_id": "fraud", "control_version": "v2",
            "treatment_model_id": "fraud", "treatment_version": "v3"}),
        )
        .await
        .body;
    let busy = app
        .post(
            "/api/v1/ab-tests",
            ACME,
            json!({"name": "c", "control_model_id": "fraud", "control_version": "v1",
            "treatment_model_id": "fraud", "treatment_version": "v3"}),
        )
        .await;
    assert_eq!(
        busy.status,
        StatusCode::CONFLICT,
        "one live experiment per service"
    );
    let id2 = second["experiment_id"].as_str().unwrap();
    let rolled = app
        .post(&format!("/api/v1/ab-tests/{id2}/rollback"), ACME, json!({}))
        .await;
    assert_eq!(rolled.body["status"], "rolled_back");
    assert_eq!(
        pushed_weights(&app.sink.latest("acme/fraud").unwrap()),
        vec![("control".into(), 10000), ("treatment".into(), 0)]
    );

    app.register(ACME, "fraud", "v4").await;
    let third = app
        .post(
            "/api/v1/ab-tests",
            ACME,
            json!({"name": "d", "control_model_id": "fraud", "control_version": "v3",
            "treatment_model_id": "fraud", "treatment_version": "v4"}),
        )
        .await
        .body;
    let id3 = third["experiment_id"].as_str().unwrap();
    let stopped = app
        .send(
            Method::DELETE,
            &format!("/api/v1/ab-tests/{id3}"),
            Some(ACME),
            None,
        )
        .await;
    assert_eq!(stopped.status, StatusCode::OK);
    assert_eq!(stopped.body["status"], "completed");
    assert_eq!(stopped.body["outcome"], "stopped");
    // history kept
    assert_eq!(
        app.get(&format!("/api/v1/ab-tests/{id3}"), ACME)
            .await
            .status,
        StatusCode::OK
    );
    // the previous pinned split (rolled back: control 100 %) stays in force
    let config = app.sink.latest("acme/fraud").unwrap();
    assert_eq!(config.experiments[0].id, id2);
}

#[tokio::test]
async fn a_config_the_filter_refuses_is_422_and_nothing_is_stored_or_pushed() {
    let app = TestApp::new();
    app.register(ACME, "fraud", "v1").await;
    app.register(ACME, "fraud", "v2").await;
    let before = app.sink.pushes().len();
    let answer = app
        .post(
            "/api/v1/shadow",
            ACME,
            json!({"model_id": "fraud", "primary_version": "v1", "shadow_version": "v2",
            "compare": {"json_pointer": "prediction"}}),
        )
        .await;
    assert_eq!(
        answer.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "{}",
        answer.text
    );
    assert_eq!(
        answer.body["field"],
        "experiments[0].shadow.compare.json_pointer"
    );
    assert_eq!(app.sink.pushes().len(), before);
    // nothing stored: a correct shadow is accepted afterwards (no "already has a shadow" 409)
    let ok = app
        .post(
            "/api/v1/shadow",
            ACME,
            json!({"model_id": "fraud", "primary_version": "v1", "shadow_version": "v2",
            "compare": {"json_pointer": "/prediction"}}),
        )
        .await;
    assert_eq!(ok.status, StatusCode::CREATED, "{}", ok.text);
}

#[tokio::test]
async fn a_failing_sink_is_502_and_nothing_is_stored() {
    let app = TestApp::new();
    app.register(ACME, "fraud", "v1").await;
    app.register(ACME, "fraud", "v2").await;
    app.sink.set_failing(Some("envoy unreachable"));
    let answer = app.post("/api/v1/ab-tests", ACME, ab_body(json!({}))).await;
    assert_eq!(answer.status, StatusCode::BAD_GATEWAY);
    assert!(answer.body["detail"]
        .as_str()
        .unwrap()
        .contains("envoy unreachable"));
    app.sink.set_failing(None);
    assert_eq!(app.get("/api/v1/ab-tests", ACME).await.body["total"], 0);
}
