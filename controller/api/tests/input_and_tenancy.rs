//! Auth, tenancy (foreign ids are 404 on every endpoint) and hostile input: malformed JSON,
//! wrong types, unknown fields, oversize bodies, wrong content type.
#![allow(clippy::unwrap_used)]

mod common;

use axum::http::{Method, StatusCode};
use common::{TestApp, ACME, GLOBEX};
use serde_json::json;

#[tokio::test]
async fn no_or_wrong_token_is_401_problem_json() {
    let app = TestApp::new();
    for token in [None, Some("nope")] {
        let answer = app.send(Method::GET, "/api/v1/ab-tests", token, None).await;
        assert_eq!(answer.status, StatusCode::UNAUTHORIZED);
        assert_eq!(answer.content_type(), "application/problem+json");
        assert!(answer.headers.contains_key("www-authenticate"));
    }
    let basic = app
        .send_raw(
            Method::GET,
            "/api/v1/models",
            None,
            None,
            &[("authorization", "Basic YTpi")],
        )
        .await;
    assert_eq!(basic.status, StatusCode::UNAUTHORIZED);
    assert_eq!(
        app.send(Method::GET, "/healthz", None, None).await.status,
        StatusCode::OK
    );
}

/// Method, path, JSON body, extra headers.
type Case = (
    Method,
    String,
    Option<serde_json::Value>,
    &'static [(&'static str, &'static str)],
);

#[tokio::test]
async fn every_endpoint_answers_404_for_another_tenants_ids() {
    let app = TestApp::new();
    let test = app.ab_test(ACME, json!({})).await;
    let id = test["experiment_id"].as_str().unwrap().to_string();
    app.register(ACME, "scorer", "v1").await;
    app.register(ACME, "scorer", "v2").await;
    let canary = app
        .post(
            "/api/v1/canary",
            ACME,
            json!({"model_id": "scorer", "stable_version": "v1", "canary_version": "v2",
            "steps": [{"weight": 10, "pause": "1h"}, {"weight": 100}]}),
        )
        .await;
    assert_eq!(canary.status, StatusCode::CREATED, "{}", canary.text);
    let canary_id = canary.body["canary_id"].as_str().unwrap().to_string();
    let shadow = app
        .post(
            "/api/v1/shadow",
            ACME,
            json!({"model_id": "fraud", "primary_version": "v1", "shadow_version": "v2"}),
        )
        .await;
    let shadow_id = shadow.body["shadow_id"].as_str().unwrap().to_string();

    let events = json!([{"unit": "u", "variant": "control", "metric": "accuracy", "value": 1.0}]);
    let cases: Vec<Case> = vec![
        (Method::GET, format!("/api/v1/ab-tests/{id}"), None, &[]),
        (
            Method::PUT,
            format!("/api/v1/ab-tests/{id}"),
            Some(json!({"treatment_fraction": 0.5})),
            &[("if-match", "\"1\"")],
        ),
        (Method::DELETE, format!("/api/v1/ab-tests/{id}"), None, &[]),
        (
            Method::GET,
            format!("/api/v1/ab-tests/{id}/results"),
            None,
            &[],
        ),
        (
            Method::POST,
            format!("/api/v1/ab-tests/{id}/events"),
            Some(events),
            &[],
        ),
        (
            Method::POST,
            format!("/api/v1/ab-tests/{id}/promote"),
            Some(json!({})),
            &[],
        ),
        (
            Method::POST,
            format!("/api/v1/ab-tests/{id}/rollback"),
            Some(json!({})),
            &[],
        ),
        (
            Method::GET,
            format!("/api/v1/canary/{canary_id}/status"),
            None,
            &[],
        ),
        (
            Method::POST,
            format!("/api/v1/canary/{canary_id}/advance"),
            Some(json!({"force": true})),
            &[],
        ),
        (
            Method::GET,
            format!("/api/v1/shadow/{shadow_id}"),
            None,
            &[],
        ),
        (
            Method::DELETE,
            format!("/api/v1/shadow/{shadow_id}"),
            None,
            &[],
        ),
        (
            Method::GET,
            "/api/v1/models/fraud/versions".to_string(),
            None,
            &[],
        ),
    ];
    for (method, path, body, extra) in &cases {
        let bytes = body.as_ref().map(|b| b.to_string().into_bytes());
        let answer = app
            .send_raw(method.clone(), path, Some(GLOBEX), bytes, extra)
            .await;
        assert_eq!(
            answer.status,
            StatusCode::NOT_FOUND,
            "{method} {path}: {}",
            answer.text
        );
        assert!(
            !answer.text.contains("acme"),
            "nothing about the owner leaks: {}",
            answer.text
        );
    }
    // globex's own view is empty; creating on acme's model names is refused as unregistered
    assert_eq!(app.get("/api/v1/ab-tests", GLOBEX).await.body["total"], 0);
    assert_eq!(
        app.get("/api/v1/models", GLOBEX).await.body["models"],
        json!([])
    );
    let foreign_model = app
        .post(
            "/api/v1/ab-tests",
            GLOBEX,
            json!({"name": "x", "control_model_id": "fraud", "control_version": "v1",
            "treatment_model_id": "fraud", "treatment_version": "v2"}),
        )
        .await;
    assert_eq!(foreign_model.status, StatusCode::UNPROCESSABLE_ENTITY);
    let foreign_canary = app
        .post(
            "/api/v1/canary",
            GLOBEX,
            json!({"model_id": "scorer", "stable_version": "v1", "canary_version": "v2"}),
        )
        .await;
    assert_eq!(foreign_canary.status, StatusCode::UNPROCESSABLE_ENTITY);
    // and acme's objects are untouched
    let still = app.get(&format!("/api/v1/ab-tests/{id}"), ACME).await;
    assert_eq!(still.body["status"], "active");
    assert_eq!(still.body["version"], 1);
    let shadow_now = app.get(&format!("/api/v1/shadow/{shadow_id}"), ACME).await;
    assert_eq!(shadow_now.body["active"], true);
    // the same model name in another tenant is another model
    app.register(GLOBEX, "fraud", "v1").await;
    assert_eq!(
        app.get("/api/v1/models/fraud/versions", GLOBEX).await.body["versions"]
            .as_array()
            .unwrap()
            .len(),
        1
    );
}

#[tokio::test]
async fn malformed_json_wrong_types_and_unknown_fields_are_400_naming_the_field() {
    let app = TestApp::new();
    let malformed = app
        .send_raw(
            Method::POST,
            "/api/v1/ab-tests",
            Some(ACME),
            Some(b"{\"name\": ".to_vec()),
            &[],
        )
        .await;
    assert_eq!(malformed.status, StatusCode::BAD_REQUEST);
    assert!(
        malformed.body["detail"]
            .as_str()
            .unwrap()
            .contains("malformed JSON"),
        "{}",
        malformed.text
    );

    let wrong_type = app
        .post("/api/v1/ab-tests", ACME, json!({"name": "x", "control_model_id": "fraud", "control_version": "v1",
            "treatment_model_id": "fraud", "treatment_version": "v2", "treatment_fraction": "lots"}))
        .await;
    assert_eq!(wrong_type.status, StatusCode::BAD_REQUEST);
    assert_eq!(wrong_type.body["field"], "treatment_fraction");

    let unknown = app
        .post(
            "/api/v1/ab-tests",
            ACME,
            json!({"name": "x", "control_model_id": "fraud", "control_version": "v1",
            "treatment_model_id": "fraud", "treatment_version": "v2", "treatment_fracton": 0.3}),
        )
        .await;
    assert_eq!(unknown.status, StatusCode::BAD_REQUEST);
    assert!(
        unknown.body["detail"]
            .as_str()
            .unwrap()
            .contains("treatment_fracton"),
        "{}",
        unknown.text
    );

    let missing = app
        .post("/api/v1/ab-tests", ACME, json!({"name": "x"}))
        .await;
    assert_eq!(missing.status, StatusCode::BAD_REQUEST);
    assert!(
        missing.body["detail"]
            .as_str()
            .unwrap()
            .contains("control_model_id"),
        "{}",
        missing.text
    );

    let test = app.ab_test(ACME, json!({})).await;
    let id = test["experiment_id"].as_str().unwrap();
    let bad_event = app
        .post(
            &format!("/api/v1/ab-tests/{id}/events"),
            ACME,
            json!([{"unit": "u", "variant": "control", "metric": "m", "value": 1},
            {"unit": "u", "variant": "control", "metric": "m", "value": true}]),
        )
        .await;
    assert_eq!(bad_event.status, StatusCode::BAD_REQUEST);
    assert_eq!(bad_event.body["field"], "[1].value");
    let bad_variant = app
        .post(
            &format!("/api/v1/ab-tests/{id}/events"),
            ACME,
            json!([{"unit": "u", "variant": "blue", "metric": "m", "value": 1}]),
        )
        .await;
    assert_eq!(bad_variant.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(bad_variant.body["field"], "[0].variant");
    let bad_fraction = app
        .post(
            "/api/v1/ab-tests",
            ACME,
            json!({"name": "x", "control_model_id": "fraud", "control_version": "v1",
            "treatment_model_id": "fraud", "treatment_version": "v2", "treatment_fraction": 1.5}),
        )
        .await;
    assert_eq!(bad_fraction.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(bad_fraction.body["field"], "treatment_fraction");
}

#[tokio::test]
async fn oversize_bodies_are_413_and_non_json_is_415() {
    let app = TestApp::new();
    let huge = vec![b' '; 2 * 1024 * 1024];
    let answer = app
        .send_raw(
            Method::POST,
            "/api/v1/models/fraud/versions",
            Some(ACME),
            Some(huge),
            &[],
        )
        .await;
    assert_eq!(answer.status, StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(answer.content_type(), "application/problem+json");
    let text = app
        .send_raw(
            Method::POST,
            "/api/v1/models/fraud/versions",
            Some(ACME),
            Some(b"version=v1".to_vec()),
            &[("content-type", "text/plain")],
        )
        .await;
    assert_eq!(text.status, StatusCode::UNSUPPORTED_MEDIA_TYPE);
}

#[tokio::test]
async fn registry_lists_newest_first_and_refuses_duplicates() {
    let app = TestApp::new();
    for version in ["v1", "v2", "v3"] {
        let answer = app.register(ACME, "fraud", version).await;
        assert!(answer.body["created_at"].as_str().unwrap().ends_with('Z'));
    }
    let dup = app
        .post(
            "/api/v1/models/fraud/versions",
            ACME,
            json!({"version": "v2", "cluster": "other"}),
        )
        .await;
    assert_eq!(dup.status, StatusCode::CONFLICT);
    let bad = app
        .post(
            "/api/v1/models/fraud/versions",
            ACME,
            json!({"version": "v 4", "cluster": "c"}),
        )
        .await;
    assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(bad.body["field"], "version");
    let listed = app.get("/api/v1/models/fraud/versions", ACME).await;
    let versions: Vec<&str> = listed.body["versions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["version"].as_str().unwrap())
        .collect();
    assert_eq!(versions, ["v3", "v2", "v1"]);
    app.register(ACME, "ranker", "a").await;
    let models = app.get("/api/v1/models", ACME).await;
    assert_eq!(models.body["models"][0]["model_id"], "fraud");
    assert_eq!(models.body["models"][0]["version_count"], 3);
    assert_eq!(models.body["models"][0]["latest_version"], "v3");
    assert_eq!(models.body["models"][1]["model_id"], "ranker");
    assert_eq!(
        app.get("/api/v1/models/nothing/versions", ACME)
            .await
            .status,
        StatusCode::NOT_FOUND
    );
}

#[tokio::test]
async fn health_metrics_and_openapi() {
    let app = TestApp::new();
    assert_eq!(
        app.send(Method::GET, "/readyz", None, None).await.body["status"],
        "ready"
    );
    let metrics = app.send(Method::GET, "/metrics", None, None).await;
    assert!(
        metrics
            .text
            .contains("rollgate_api_events_ingested_total 0"),
        "{}",
        metrics.text
    );
    let doc = app
        .send(Method::GET, "/openapi.json", None, None)
        .await
        .body;
    for path in [
        "/api/v1/ab-tests",
        "/api/v1/ab-tests/{id}/results",
        "/api/v1/canary/{id}/advance",
        "/api/v1/shadow",
        "/api/v1/models/{model_id}/versions",
    ] {
        assert!(
            doc["paths"][path].is_object(),
            "{path} missing from the OpenAPI document"
        );
    }
    assert!(
        doc["components"]["schemas"]["AbTestCreate"]["properties"]["auto_rollback_threshold"]
            .is_object()
    );
}
