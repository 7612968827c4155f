//! `ConfigSink::Kubernetes` against the loopback API fake: a config push is a forced
//! server-side apply of `spec.pluginConfig` and the version annotation with the field manager
//! `rollgate-config`, leaves a rollout's state annotation alone, and continues versions from
//! the one the WasmPlugin holds.

use rollgate_core::config::FilterConfig;
use rollgate_kube_fake::{wasm_plugin_path, FailureScope, KubeFake};
use rollgate_rollout::engine::RolloutState;
use rollgate_rollout::sinks::kubernetes::{
    KubernetesSink, CONFIG_VERSION_ANNOTATION, STATE_ANNOTATION,
};
use rollgate_rollout::sinks::ConfigSink;

/// The filter config with `canary_bp` of 10,000 on the canary.
fn config(canary_bp: u32) -> FilterConfig {
    let variants = serde_json::json!([
        {"name": "stable", "cluster": "s", "weight": 10_000 - canary_bp},
        {"name": "canary", "cluster": "c", "weight": canary_bp},
    ]);
    let value = serde_json::json!({"version": 1, "experiments": [
        {"id": "e", "kind": "canary", "salt": "e", "variants": variants}]});
    FilterConfig::from_json(value.to_string().as_bytes()).expect("valid")
}

#[tokio::test]
async fn a_config_push_applies_plugin_config_and_version_and_keeps_the_state() {
    let fake = KubeFake::start();
    let client = fake.client().expect("client");
    let k8s = KubernetesSink::new(client, "ml", "fraud-rollgate");
    // A rollout ran on this WasmPlugin before: its state annotation is there.
    let state = RolloutState::new("fraud", 1);
    k8s.apply(None, &state).await.expect("state applied");
    let sink = ConfigSink::Kubernetes(Box::new(k8s));
    assert_eq!(sink.pushed_version().await.expect("reads"), None);

    assert_eq!(sink.push_next(&config(2_500)).await.expect("pushes"), 1);
    sink.push_config(&config(5_000), 9).await.expect("pushes");
    assert_eq!(sink.push_next(&config(7_500)).await.expect("pushes"), 10);

    let push = fake
        .log()
        .into_iter()
        .rfind(|r| r.method == http::Method::PATCH)
        .expect("a patch");
    assert!(
        push.uri.contains("fieldManager=rollgate-config") && push.uri.contains("force=true"),
        "{}",
        push.uri
    );
    assert_eq!(
        push.content_type.as_deref(),
        Some("application/apply-patch+yaml")
    );
    assert!(
        push.body["metadata"]["annotations"][STATE_ANNOTATION].is_null(),
        "a config push never carries rollout state"
    );
    let object = fake
        .object(&wasm_plugin_path("ml", "fraud-rollgate"))
        .expect("stored");
    assert_eq!(
        object["spec"]["pluginConfig"],
        serde_json::to_value(config(7_500)).expect("json")
    );
    assert_eq!(
        object["metadata"]["annotations"][CONFIG_VERSION_ANNOTATION],
        "10"
    );
    assert!(object["metadata"]["annotations"][STATE_ANNOTATION].is_string());
    assert_eq!(sink.describe(), "kubernetes:ml/fraud-rollgate");
}

#[tokio::test]
async fn refused_configs_are_never_sent_and_api_errors_name_the_wasm_plugin() {
    let fake = KubeFake::start();
    let client = fake.client().expect("client");
    let sink = ConfigSink::Kubernetes(Box::new(KubernetesSink::new(client, "ml", "p")));
    let mut bad = config(500);
    bad.experiments[0].variants[1].weight = 9_999;
    assert!(sink.push_config(&bad, 1).await.is_err());
    assert!(fake.log().is_empty());

    fake.set_failure(Some((FailureScope::Everything, "etcd unavailable")));
    let err = sink
        .push_config(&config(500), 1)
        .await
        .expect_err("the API server failed");
    let text = err.to_string();
    assert!(text.contains("WasmPlugin ml/p"), "{text}");
}
