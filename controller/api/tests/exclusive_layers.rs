//! Several experiments on one service in exclusive layers: disjoint ranges of one layer are
//! accepted and pushed side by side (each experiment with its `layer`, the filter's validator
//! accepting the config); an overlapping range, another layer or no layer is a 409 naming the
//! experiment it would share users with; an ended test keeps pinning its split in its range.
#![allow(clippy::unwrap_used)]

mod common;

use axum::http::StatusCode;
use common::{pushed_weights, TestApp, ACME};
use rollgate_core::config::LayerConfig;
use rollgate_core::{HeaderList, RoutingTable};
use serde_json::{json, Value};

fn ab_body(layer: Value) -> Value {
    common::ab_body(json!({ "layer": layer }))
}

fn layer(from: u32, to: u32) -> Option<LayerConfig> {
    Some(LayerConfig {
        name: "ranking".into(),
        from,
        to,
    })
}

#[tokio::test]
async fn disjoint_ranges_of_one_layer_share_a_service_and_overlaps_are_409() {
    let app = TestApp::new();
    let first = app
        .ab_test(
            ACME,
            json!({"layer": {"name": "ranking", "from": 0, "to": 5000}}),
        )
        .await;
    assert_eq!(first["layer"]["to"], 5000);
    let second = app
        .post(
            "/api/v1/ab-tests",
            ACME,
            ab_body(json!({"name": "ranking", "from": 5000, "to": 10000})),
        )
        .await;
    assert_eq!(second.status, StatusCode::CREATED, "{}", second.text);

    let config = app.sink.latest("acme/fraud").unwrap();
    assert_eq!(config.experiments.len(), 2, "{config:?}");
    let mut layers: Vec<_> = config.experiments.iter().map(|e| e.layer.clone()).collect();
    layers.sort_by_key(|l| l.as_ref().map(|l| l.from));
    assert_eq!(layers, vec![layer(0, 5_000), layer(5_000, 10_000)]);
    config
        .validate()
        .expect("the filter accepts both layered experiments");
    // Through the filter's own routing: every user is in exactly one of the two tests, about
    // half in each (the layer bucket is a hash of "ranking:<user>").
    let table = RoutingTable::compile(&config).unwrap();
    let mut per_test = std::collections::BTreeMap::<String, u32>::new();
    for user in 0..4_000 {
        let request = HeaderList::new(vec![
            (":authority".into(), b"fraud".to_vec()),
            ("x-user-id".into(), format!("user-{user}").into_bytes()),
        ]);
        let decision = table.decide(&request, 0).expect("every user is routed");
        *per_test
            .entry(decision.experiment_id.to_string())
            .or_default() += 1;
    }
    assert_eq!(per_test.len(), 2, "{per_test:?}");
    let first_share = f64::from(per_test[first["experiment_id"].as_str().unwrap()]) / 4_000.0;
    assert!((0.45..0.55).contains(&first_share), "{per_test:?}");

    for (body, clash) in [
        (
            json!({"name": "ranking", "from": 4000, "to": 6000}),
            "layer \"ranking\"",
        ),
        (
            json!({"name": "pricing", "from": 0, "to": 10000}),
            "layer \"ranking\"",
        ),
        (Value::Null, "layer \"ranking\""),
    ] {
        let answer = app.post("/api/v1/ab-tests", ACME, ab_body(body)).await;
        assert_eq!(answer.status, StatusCode::CONFLICT, "{}", answer.text);
        let detail = answer.body["detail"].as_str().unwrap();
        assert!(
            detail.contains(first["experiment_id"].as_str().unwrap())
                && detail.contains(clash)
                && detail.contains("disjoint ranges of one layer"),
            "{detail}"
        );
    }
    assert_eq!(app.get("/api/v1/ab-tests", ACME).await.body["total"], 2);

    let bad = app
        .post(
            "/api/v1/ab-tests",
            ACME,
            ab_body(json!({"name": "ranking", "from": 7000, "to": 7000})),
        )
        .await;
    assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", bad.text);
    assert_eq!(bad.body["field"], "layer.from");

    let doc = app
        .send(axum::http::Method::GET, "/openapi.json", None, None)
        .await;
    assert!(
        doc.body["components"]["schemas"]["AbTestCreate"]["properties"]["layer"].is_object()
            && doc.body["components"]["schemas"]["CanaryCreate"]["properties"]["layer"].is_object(),
        "the OpenAPI document lists the layer field"
    );
}

#[tokio::test]
async fn a_canary_runs_beside_an_ab_test_in_the_other_half_of_the_layer() {
    let app = TestApp::new();
    let test = app
        .ab_test(
            ACME,
            json!({"layer": {"name": "ranking", "from": 0, "to": 5000}}),
        )
        .await;
    app.register(ACME, "fraud", "v3").await;
    let canary = app
        .post(
            "/api/v1/canary",
            ACME,
            json!({"model_id": "fraud", "stable_version": "v1", "canary_version": "v3",
                   "steps": [{"weight": 10, "pause": "1h"}, {"weight": 100}],
                   "layer": {"name": "ranking", "from": 5000, "to": 10000}}),
        )
        .await;
    assert_eq!(canary.status, StatusCode::CREATED, "{}", canary.text);
    assert_eq!(canary.body["layer"]["from"], 5000);
    let config = app.sink.latest("acme/fraud").unwrap();
    assert_eq!(config.experiments.len(), 2, "{config:?}");
    let canary_experiment = config
        .experiments
        .iter()
        .find(|e| e.id == canary.body["canary_id"].as_str().unwrap())
        .unwrap();
    assert_eq!(canary_experiment.layer, layer(5_000, 10_000));
    assert_eq!(canary_experiment.variants[1].weight, 1_000);

    // Rolled back, the A/B test keeps control at 100 % in its half; the canary keeps its own.
    let id = test["experiment_id"].as_str().unwrap();
    let rolled = app
        .post(&format!("/api/v1/ab-tests/{id}/rollback"), ACME, json!({}))
        .await;
    assert_eq!(rolled.status, StatusCode::OK, "{}", rolled.text);
    let config = app.sink.latest("acme/fraud").unwrap();
    assert_eq!(config.experiments.len(), 2, "{config:?}");
    let ab = config.experiments.iter().find(|e| e.id == id).unwrap();
    assert_eq!(ab.layer, layer(0, 5_000));
    let weights: Vec<u32> = ab.variants.iter().map(|v| v.weight).collect();
    assert_eq!(weights, vec![10_000, 0]);
    assert_eq!(
        pushed_weights(&config),
        vec![("stable".into(), 9_000), ("canary".into(), 1_000)],
        "the live canary comes first"
    );
}
