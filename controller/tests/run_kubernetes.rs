//! `rollgate run` with the `kubernetes` sink, end to end against a loopback fake of the
//! Kubernetes API (no API server can run here): the kubeconfig points kube-rs at it, the fake
//! merges server-side applies like the API server does for our fields, and the rollout goes
//! from the first step to promotion with its state in the WasmPlugin's annotation.

mod run_support;

use axum::http::Method;
use rollgate_kube_fake::{wasm_plugin_path, KubeFake};
use run_support::*;

#[test]
fn a_rollout_through_the_wasm_plugin_is_promoted_with_its_state_in_the_annotation() {
    let api = KubeFake::start();
    let (_prometheus, fx) = scenario(FakePrometheus::rates(0.0, 0.0), "100ms", 1);
    let text = std::fs::read_to_string(&fx.spec).expect("spec");
    let text = text
        .replace(
            "ecds_file: { path: out/ecds.yaml, name: rollgate }",
            "kubernetes: { wasm_plugin: fraud-detector-rollgate }",
        )
        .replace("  state_file: .rollgate/state.json\n", "");
    std::fs::write(&fx.spec, text).expect("write spec");
    let kubeconfig = api.kubeconfig(fx.dir.path(), "rollgate-run");

    let child = rollgate(&["run", fx.spec_arg(), "--tick", "50ms"])
        .env("KUBECONFIG", &kubeconfig)
        .env_remove("KUBERNETES_SERVICE_HOST")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("spawn");
    let output = wait_with_deadline(child, std::time::Duration::from_secs(30));
    assert_eq!(output.status.code(), Some(0), "{}", describe(&output));

    let path = wasm_plugin_path("ml", "fraud-detector-rollgate");
    let object = api.object(&path).expect("the WasmPlugin was applied");
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

    let requests: Vec<(Method, String)> =
        api.log().into_iter().map(|r| (r.method, r.uri)).collect();
    assert!(
        requests.iter().all(|(_, uri)| uri.starts_with(&path)),
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
