//! Every endpoint once over real loopback HTTP (axum::serve on 127.0.0.1:0, reqwest client).
#![allow(clippy::unwrap_used)]

use rollgate_api::{app, AppState, MemorySink, Store, TenantTokens};
use serde_json::{json, Value};
use std::sync::Arc;

const TOKEN: &str = "loopback-token";

#[tokio::test]
async fn every_endpoint_over_loopback_http() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&dir.path().join("db.sqlite")).unwrap();
    let state = AppState::new(
        store,
        TenantTokens::from_plain_tokens([("acme", TOKEN)]),
        Arc::new(MemorySink::default()),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let server = tokio::spawn(async move { axum::serve(listener, app(state)).await });
    let client = reqwest::Client::new();
    let call = |method: reqwest::Method, path: &str, body: Option<Value>| {
        let mut request = client
            .request(method, format!("{base}{path}"))
            .bearer_auth(TOKEN);
        if let Some(body) = body {
            request = request.json(&body);
        }
        async move {
            let response = request.send().await.unwrap();
            let status = response.status().as_u16();
            let etag = response
                .headers()
                .get("etag")
                .map(|v| v.to_str().unwrap().to_string());
            let text = response.text().await.unwrap();
            (
                status,
                serde_json::from_str::<Value>(&text).unwrap_or(Value::String(text)),
                etag,
            )
        }
    };
    use reqwest::Method as M;
    for (model, version) in [
        ("fraud", "v1"),
        ("fraud", "v2"),
        ("scorer", "v1"),
        ("scorer", "v2"),
    ] {
        let (status, _, _) = call(
            M::POST,
            &format!("/api/v1/models/{model}/versions"),
            Some(json!({"version": version, "cluster": format!("c-{model}-{version}")})),
        )
        .await;
        assert_eq!(status, 201);
    }
    assert_eq!(call(M::GET, "/api/v1/models", None).await.0, 200);
    assert_eq!(
        call(M::GET, "/api/v1/models/fraud/versions", None).await.0,
        200
    );
    let (status, test, etag) = call(
        M::POST,
        "/api/v1/ab-tests",
        Some(json!({"name": "t", "control_model_id": "fraud",
        "control_version": "v1", "treatment_model_id": "fraud", "treatment_version": "v2"})),
    )
    .await;
    assert_eq!(status, 201, "{test}");
    assert_eq!(etag.as_deref(), Some("\"1\""));
    let id = test["experiment_id"].as_str().unwrap().to_string();
    assert_eq!(call(M::GET, "/api/v1/ab-tests", None).await.0, 200);
    assert_eq!(
        call(M::GET, &format!("/api/v1/ab-tests/{id}"), None)
            .await
            .0,
        200
    );
    let put = client
        .put(format!("{base}/api/v1/ab-tests/{id}"))
        .bearer_auth(TOKEN)
        .header("if-match", "\"1\"")
        .json(&json!({"treatment_fraction": 0.3}))
        .send()
        .await
        .unwrap();
    assert_eq!(put.status().as_u16(), 200);
    let events: Vec<Value> = (0..100)
        .map(|i| {
            json!({"unit": format!("u{i}"), "variant": if i % 2 == 0 {"control"} else {"treatment"},
        "metric": "accuracy", "value": f64::from(i % 7), "ts": "2026-11-23T12:00:00Z"})
        })
        .collect();
    let (status, accepted, _) = call(
        M::POST,
        &format!("/api/v1/ab-tests/{id}/events"),
        Some(Value::Array(events)),
    )
    .await;
    assert_eq!((status, accepted["accepted"].as_u64()), (200, Some(100)));
    let (status, results, _) = call(M::GET, &format!("/api/v1/ab-tests/{id}/results"), None).await;
    assert_eq!(status, 200);
    assert_eq!(results["control"]["count"], 50);
    assert_eq!(
        call(M::POST, &format!("/api/v1/ab-tests/{id}/promote"), None)
            .await
            .0,
        200
    );
    assert_eq!(
        call(M::POST, &format!("/api/v1/ab-tests/{id}/rollback"), None)
            .await
            .0,
        409
    );
    assert_eq!(
        call(M::DELETE, &format!("/api/v1/ab-tests/{id}"), None)
            .await
            .0,
        200
    );
    let (status, canary, _) = call(
        M::POST,
        "/api/v1/canary",
        Some(json!({"model_id": "scorer", "stable_version": "v1",
        "canary_version": "v2", "steps": [{"weight": 10, "pause": "1h"}, {"weight": 100}]})),
    )
    .await;
    assert_eq!(status, 201, "{canary}");
    let canary_id = canary["canary_id"].as_str().unwrap().to_string();
    assert_eq!(
        call(M::GET, &format!("/api/v1/canary/{canary_id}/status"), None)
            .await
            .0,
        200
    );
    assert_eq!(
        call(
            M::POST,
            &format!("/api/v1/canary/{canary_id}/advance"),
            None
        )
        .await
        .0,
        200
    );
    let (status, shadow, _) = call(
        M::POST,
        "/api/v1/shadow",
        Some(json!({"model_id": "fraud", "primary_version": "v2", "shadow_version": "v1"})),
    )
    .await;
    assert_eq!(status, 201, "{shadow}");
    let shadow_id = shadow["shadow_id"].as_str().unwrap().to_string();
    assert_eq!(
        call(M::GET, &format!("/api/v1/shadow/{shadow_id}"), None)
            .await
            .0,
        200
    );
    assert_eq!(
        call(M::DELETE, &format!("/api/v1/shadow/{shadow_id}"), None)
            .await
            .0,
        200
    );
    for path in ["/healthz", "/readyz", "/metrics", "/openapi.json"] {
        assert_eq!(
            reqwest::get(format!("{base}{path}"))
                .await
                .unwrap()
                .status()
                .as_u16(),
            200,
            "{path}"
        );
    }
    let unauthorized = reqwest::get(format!("{base}/api/v1/ab-tests"))
        .await
        .unwrap();
    assert_eq!(unauthorized.status().as_u16(), 401);
    server.abort();
}
