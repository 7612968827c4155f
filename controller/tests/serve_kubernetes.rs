//! `rollgate serve --sink kubernetes` as a real process: the kubeconfig points kube-rs at the
//! loopback API fake (no API server can run here); creating an A/B test over HTTP applies the
//! service's filter config to its WasmPlugin (`<tenant>/rollgate-<service>`), and `/readyz`
//! names the sink.
#![allow(clippy::unwrap_used)]

mod run_support;

use rollgate_kube_fake::{wasm_plugin_path, KubeFake};
use run_support::serve::{serve_command, spawn, write_tokens};
use serde_json::{json, Value};

const TOKEN: &str = "serve-kubernetes-token";

#[tokio::test(flavor = "multi_thread", worker_threads = 1)]
async fn an_ab_test_created_over_http_is_applied_to_the_services_wasm_plugin() {
    let fake = KubeFake::start();
    let dir = tempfile::tempdir().unwrap();
    let kubeconfig = fake.kubeconfig(dir.path(), "rollgate-serve");
    write_tokens(dir.path(), TOKEN);
    let mut command = serve_command(dir.path(), "kubernetes");
    command.env("KUBECONFIG", &kubeconfig);
    let mut server = spawn(command);
    assert!(
        server
            .listening
            .contains("sink kubernetes:{tenant}/rollgate-{service}"),
        "{}",
        server.listening
    );
    let base = server.base.clone();

    let client = reqwest::Client::new();
    let post = |path: &str, body: Value| {
        client
            .post(format!("{base}/api/v1{path}"))
            .bearer_auth(TOKEN)
            .json(&body)
            .send()
    };
    for version in ["v1", "v2"] {
        let answer = post(
            "/models/fraud/versions",
            json!({"version": version, "cluster": format!("cluster-fraud-{version}")}),
        )
        .await
        .unwrap();
        assert_eq!(answer.status().as_u16(), 201);
    }
    let answer = post(
        "/ab-tests",
        json!({"name": "x", "control_model_id": "fraud", "control_version": "v1",
               "treatment_model_id": "fraud", "treatment_version": "v2", "treatment_fraction": 0.3}),
    )
    .await
    .unwrap();
    assert_eq!(answer.status().as_u16(), 201);
    let object = fake
        .object(&wasm_plugin_path("acme", "rollgate-fraud"))
        .expect("the WasmPlugin was applied");
    assert_eq!(
        object["spec"]["pluginConfig"]["experiments"][0]["variants"][1]["weight"],
        3_000
    );
    assert_eq!(
        object["metadata"]["annotations"]["rollgate.dev/config-version"],
        "1"
    );
    let ready: Value = client
        .get(format!("{base}/readyz"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(ready["sink"], "kubernetes:{tenant}/rollgate-{service}");
    let _ = server.child.kill();
    let _ = server.child.wait();
}
