//! `rollgate serve --sink kubernetes` as a real process: the kubeconfig points kube-rs at the
//! loopback API fake (no API server can run here); creating an A/B test over HTTP applies the
//! service's filter config to its WasmPlugin (`<tenant>/rollgate-<service>`), and `/readyz`
//! names the sink.
#![allow(clippy::unwrap_used)]

use rollgate_kube_fake::{wasm_plugin_path, KubeFake};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};

const TOKEN: &str = "serve-kubernetes-token";

#[tokio::test(flavor = "multi_thread", worker_threads = 1)]
async fn an_ab_test_created_over_http_is_applied_to_the_services_wasm_plugin() {
    let fake = KubeFake::start();
    let dir = tempfile::tempdir().unwrap();
    let kubeconfig = fake.kubeconfig(dir.path(), "rollgate-serve");
    let hash = hex::encode(Sha256::digest(TOKEN.as_bytes()));
    let tokens = dir.path().join("tokens.yaml");
    std::fs::write(
        &tokens,
        format!("tenants:\n  - {{ name: acme, token_sha256: {hash} }}\n"),
    )
    .unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_rollgate"))
        .args(["serve", "--listen", "127.0.0.1:0", "--sink", "kubernetes"])
        .arg("--db")
        .arg(dir.path().join("rollgate.db"))
        .arg("--tokens")
        .arg(&tokens)
        .env("KUBECONFIG", &kubeconfig)
        .env_remove("KUBERNETES_SERVICE_HOST")
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn rollgate serve");
    let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
    let base = loop {
        let line = lines
            .next()
            .expect("server exited before listening")
            .unwrap();
        if let Some(rest) = line.split("listening on ").nth(1) {
            assert!(
                line.contains("sink kubernetes:{tenant}/rollgate-{service}"),
                "{line}"
            );
            break rest.split_whitespace().next().unwrap().to_string();
        }
    };
    std::thread::spawn(move || for _ in lines {});

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
    let _ = child.kill();
    let _ = child.wait();
}
