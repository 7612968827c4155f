//! The API pushing to Kubernetes: `--sink kubernetes` gives every (tenant, service) its own
//! Istio WasmPlugin (`<tenant>/rollgate-<service>`), applied through the rollout crate's
//! sink against the loopback API fake; versions follow the API's pushes table; an API server
//! failure is a 502 that stores nothing.
#![allow(clippy::unwrap_used)]

mod common;

use axum::http::{Method, StatusCode};
use common::{ab_body, pushed_weights, TestApp, ACME, GLOBEX};
use rollgate_api::ServiceSinks;
use rollgate_core::config::FilterConfig;
use rollgate_kube_fake::{wasm_plugin_path, FailureScope, KubeFake};
use rollgate_rollout::sinks::kubernetes::CONFIG_VERSION_ANNOTATION;
use rollgate_rollout::sinks::DEFAULT_KUBERNETES_TEMPLATE;
use serde_json::json;

fn plugin_config(object: &serde_json::Value) -> FilterConfig {
    let text = serde_json::to_vec(&object["spec"]["pluginConfig"]).unwrap();
    FilterConfig::from_json(&text).expect("the filter accepts the applied pluginConfig")
}

#[tokio::test]
async fn each_service_is_pushed_to_its_wasm_plugin_with_increasing_versions() {
    let fake = KubeFake::start();
    let client = fake.client().unwrap();
    let app =
        TestApp::with_sinks(ServiceSinks::kubernetes(client, DEFAULT_KUBERNETES_TEMPLATE).unwrap());
    let test = app.ab_test(ACME, json!({"treatment_fraction": 0.25})).await;
    let path = wasm_plugin_path("acme", "rollgate-fraud");
    let object = fake.object(&path).expect("the WasmPlugin was applied");
    assert_eq!(
        object["metadata"]["annotations"][CONFIG_VERSION_ANNOTATION],
        "1"
    );
    let config = plugin_config(&object);
    assert_eq!(
        config.experiments[0].id,
        test["experiment_id"].as_str().unwrap()
    );
    assert_eq!(
        pushed_weights(&config),
        vec![("control".into(), 7500), ("treatment".into(), 2500)]
    );
    let apply = fake.log().into_iter().last().unwrap();
    assert_eq!(apply.method, Method::PATCH);
    assert!(
        apply.uri.starts_with(&path)
            && apply.uri.contains("fieldManager=rollgate-config")
            && apply.uri.contains("force=true"),
        "{}",
        apply.uri
    );

    let update = app
        .send_raw(
            Method::PUT,
            &format!(
                "/api/v1/ab-tests/{}",
                test["experiment_id"].as_str().unwrap()
            ),
            Some(ACME),
            Some(json!({"treatment_fraction": 0.5}).to_string().into_bytes()),
            &[("if-match", "\"1\"")],
        )
        .await;
    assert_eq!(update.status, StatusCode::OK, "{}", update.text);
    let object = fake.object(&path).unwrap();
    assert_eq!(
        object["metadata"]["annotations"][CONFIG_VERSION_ANNOTATION],
        "2"
    );
    assert_eq!(pushed_weights(&plugin_config(&object))[1].1, 5000);

    // Another tenant's service of the same name is another WasmPlugin.
    app.ab_test(GLOBEX, json!({})).await;
    let other = fake
        .object(&wasm_plugin_path("globex", "rollgate-fraud"))
        .expect("globex's WasmPlugin");
    assert_eq!(
        other["metadata"]["annotations"][CONFIG_VERSION_ANNOTATION],
        "1"
    );
    assert_eq!(
        fake.object(&path).unwrap()["metadata"]["annotations"][CONFIG_VERSION_ANNOTATION],
        "2"
    );
}

#[tokio::test]
async fn an_api_server_failure_is_502_naming_the_wasm_plugin_and_stores_nothing() {
    let fake = KubeFake::start();
    let client = fake.client().unwrap();
    let app =
        TestApp::with_sinks(ServiceSinks::kubernetes(client, "ml/{tenant}-{service}").unwrap());
    app.register(ACME, "fraud", "v1").await;
    app.register(ACME, "fraud", "v2").await;
    fake.set_failure(Some((FailureScope::Everything, "etcd unavailable")));
    let answer = app.post("/api/v1/ab-tests", ACME, ab_body(json!({}))).await;
    assert_eq!(answer.status, StatusCode::BAD_GATEWAY, "{}", answer.text);
    let detail = answer.body["detail"].as_str().unwrap();
    assert!(detail.contains("WasmPlugin ml/acme-fraud"), "{detail}");
    fake.set_failure(None);
    assert_eq!(app.get("/api/v1/ab-tests", ACME).await.body["total"], 0);
    let readyz = app.send(Method::GET, "/readyz", None, None).await;
    assert_eq!(readyz.body["sink"], "kubernetes:ml/{tenant}-{service}");
}
