//! `rollgate run` with the `kubernetes` sink, end to end against a loopback fake of the
//! Kubernetes API (no API server can run here): the kubeconfig points kube-rs at it, the fake
//! merges server-side applies like the API server does for our fields, and the rollout goes
//! from the first step to promotion with its state in the WasmPlugin's annotation.

mod run_support;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{Method, StatusCode, Uri};
use axum::response::IntoResponse;
use run_support::*;
use std::sync::{Arc, Mutex};

#[derive(Default)]
struct FakeApi {
    requests: Mutex<Vec<(Method, String)>>,
    object: Mutex<Option<serde_json::Value>>,
}

async fn handle(
    State(api): State<Arc<FakeApi>>,
    method: Method,
    uri: Uri,
    body: Bytes,
) -> impl IntoResponse {
    api.requests
        .lock()
        .expect("lock")
        .push((method.clone(), uri.to_string()));
    let mut object = api.object.lock().expect("lock");
    if method == Method::PATCH {
        let patch: serde_json::Value = serde_json::from_slice(&body).unwrap_or_default();
        let mut merged = object.clone().unwrap_or_else(|| patch.clone());
        if let Some(annotations) = patch["metadata"]["annotations"].as_object() {
            for (key, value) in annotations {
                merged["metadata"]["annotations"][key] = value.clone();
            }
        }
        if !patch["spec"].is_null() {
            merged["spec"] = patch["spec"].clone();
        }
        *object = Some(merged.clone());
        return (StatusCode::OK, axum::Json(merged)).into_response();
    }
    match object.clone() {
        Some(found) => (StatusCode::OK, axum::Json(found)).into_response(),
        None => (
            StatusCode::NOT_FOUND,
            axum::Json(serde_json::json!({"kind":"Status","apiVersion":"v1","status":"Failure","reason":"NotFound","code":404})),
        )
            .into_response(),
    }
}

#[test]
fn a_rollout_through_the_wasm_plugin_is_promoted_with_its_state_in_the_annotation() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .expect("runtime");
    let api = Arc::new(FakeApi::default());
    let app = axum::Router::new()
        .fallback(handle)
        .with_state(Arc::clone(&api));
    let listener = runtime
        .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
        .expect("bind");
    let server = format!("http://{}", listener.local_addr().expect("addr"));
    runtime.spawn(async move { axum::serve(listener, app).await });

    let (_prometheus, fx) = scenario(FakePrometheus::rates(0.0, 0.0), "100ms", 1);
    let text = std::fs::read_to_string(&fx.spec).expect("spec");
    let text = text
        .replace(
            "ecds_file: { path: out/ecds.yaml, name: rollgate }",
            "kubernetes: { wasm_plugin: fraud-detector-rollgate }",
        )
        .replace("  state_file: .rollgate/state.json\n", "");
    std::fs::write(&fx.spec, text).expect("write spec");
    let kubeconfig = fx.dir.path().join("kubeconfig");
    std::fs::write(
        &kubeconfig,
        format!(
            "apiVersion: v1\nkind: Config\nclusters:\n- name: fake\n  cluster: {{ server: \"{server}\" }}\nusers:\n- name: u\n  user: {{}}\ncontexts:\n- name: c\n  context: {{ cluster: fake, user: u, namespace: ml }}\ncurrent-context: c\n"
        ),
    )
    .expect("kubeconfig");

    let child = rollgate(&["run", fx.spec_arg(), "--tick", "50ms"])
        .env("KUBECONFIG", &kubeconfig)
        .env_remove("KUBERNETES_SERVICE_HOST")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("spawn");
    let output = wait_with_deadline(child, std::time::Duration::from_secs(30));
    assert_eq!(output.status.code(), Some(0), "{}", describe(&output));

    let object = api
        .object
        .lock()
        .expect("lock")
        .clone()
        .expect("the WasmPlugin was applied");
    let variants = &object["spec"]["pluginConfig"]["experiments"][0]["variants"];
    assert_eq!(
        (variants[0]["weight"].clone(), variants[1]["weight"].clone()),
        (0.into(), 10_000.into())
    );
    let state: serde_json::Value = serde_json::from_str(
        object["metadata"]["annotations"]["rollgate.dev/state"]
            .as_str()
            .expect("state annotation"),
    )
    .expect("state JSON");
    assert_eq!(state["phase"], "promoted");
    let pushed: Vec<u64> = events(&state, "pushed")
        .iter()
        .filter_map(|e| e["canary_bp"].as_u64())
        .collect();
    assert_eq!(pushed, vec![1_000, 5_000, 10_000]);

    let requests = api.requests.lock().expect("lock").clone();
    let path =
        "/apis/extensions.istio.io/v1alpha1/namespaces/ml/wasmplugins/fraud-detector-rollgate";
    assert!(
        requests.iter().all(|(_, uri)| uri.starts_with(path)),
        "{requests:?}"
    );
    let patches: Vec<&String> = requests
        .iter()
        .filter(|(m, _)| m == Method::PATCH)
        .map(|(_, u)| u)
        .collect();
    assert!(
        patches
            .iter()
            .all(|u| u.contains("fieldManager=rollgate") && u.contains("force=true")),
        "{patches:?}"
    );
    assert!(
        patches.len() >= 3,
        "at least one apply per weight: {patches:?}"
    );

    // `rollgate status` reads the state back from the cluster.
    let status = rollgate(&["status", fx.spec_arg()])
        .env("KUBECONFIG", &kubeconfig)
        .output()
        .expect("status");
    assert!(
        String::from_utf8_lossy(&status.stdout).contains("promoted"),
        "{}",
        describe(&status)
    );
}
