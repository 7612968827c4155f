//! The Kubernetes sink against the shared loopback API fake, which records the exact requests
//! kube-rs sends (no real API server can run here): server-side apply of the WasmPlugin's
//! `spec.pluginConfig` with the state annotation, then reading the state back.

use axum::http::Method;
use rollgate_core::config::FilterConfig;
use rollgate_kube_fake::KubeFake;
use rollgate_rollout::engine::{ControlRequest, ManualAction, RolloutState};
use rollgate_rollout::sinks::kubernetes::{KubernetesSink, CONTROL_ANNOTATION, STATE_ANNOTATION};

fn config() -> FilterConfig {
    let json = r#"{"version":1,"experiments":[{"id":"fraud-v2","kind":"canary","salt":"fraud-v2","variants":[
        {"name":"stable","cluster":"s","weight":9500},{"name":"canary","cluster":"c","weight":500}]}]}"#;
    FilterConfig::from_json(json.as_bytes()).expect("valid")
}

#[tokio::test]
async fn apply_is_a_forced_server_side_apply_of_plugin_config_and_state() {
    let api = KubeFake::start();
    let client = api.client().expect("client");
    let sink = KubernetesSink::new(client, "ml", "fraud-detector-rollgate");
    let state = RolloutState::new("fraud-detector", 1_700_000_000_000);
    sink.apply(Some(&config()), &state).await.expect("applies");

    let requests = api.log();
    assert_eq!(requests.len(), 1, "{requests:?}");
    let request = &requests[0];
    assert_eq!(request.method, Method::PATCH);
    // Exactly what kube-rs 5 sends (its query builder leaves an empty first pair).
    assert_eq!(
        request.uri,
        "/apis/extensions.istio.io/v1alpha1/namespaces/ml/wasmplugins/fraud-detector-rollgate?&force=true&fieldManager=rollgate"
    );
    let (path, query) = request.uri.split_once('?').expect("query string");
    assert_eq!(
        path,
        "/apis/extensions.istio.io/v1alpha1/namespaces/ml/wasmplugins/fraud-detector-rollgate"
    );
    let mut params: Vec<&str> = query.split('&').filter(|p| !p.is_empty()).collect();
    params.sort_unstable();
    assert_eq!(params, vec!["fieldManager=rollgate", "force=true"]);
    assert_eq!(
        request.content_type.as_deref(),
        Some("application/apply-patch+yaml")
    );
    assert_eq!(request.body["apiVersion"], "extensions.istio.io/v1alpha1");
    assert_eq!(request.body["kind"], "WasmPlugin");
    assert_eq!(request.body["metadata"]["name"], "fraud-detector-rollgate");
    assert_eq!(request.body["metadata"]["namespace"], "ml");
    assert_eq!(
        request.body["spec"]["pluginConfig"],
        serde_json::to_value(config()).expect("json")
    );
    let annotation = request.body["metadata"]["annotations"][STATE_ANNOTATION]
        .as_str()
        .expect("state annotation");
    assert_eq!(
        RolloutState::from_json(annotation).expect("state json"),
        state
    );
    let keys: Vec<&String> = request.body.as_object().expect("object").keys().collect();
    assert_eq!(
        keys.len(),
        4,
        "only apiVersion, kind, metadata, spec are applied: {keys:?}"
    );
}

#[tokio::test]
async fn state_and_control_requests_round_trip_through_annotations() {
    let api = KubeFake::start();
    let client = api.client().expect("client");
    let sink = KubernetesSink::new(client, "ml", "fraud-detector-rollgate");
    assert_eq!(sink.load_state().await.expect("404 is no state"), None);
    let state = RolloutState::new("fraud-detector", 42);
    sink.apply(None, &state)
        .await
        .expect("applies the state alone");
    assert!(api.log().last().is_some_and(|r| r.body["spec"].is_null()));
    assert_eq!(sink.load_state().await.expect("reads"), Some(state));

    let request = ControlRequest {
        id: "7".into(),
        action: ManualAction::Abort,
    };
    sink.write_control(&request).await.expect("writes");
    let last = api.log().last().cloned().expect("request");
    assert!(
        last.uri.contains("fieldManager=rollgate-control"),
        "{}",
        last.uri
    );
    assert!(last.body["metadata"]["annotations"][CONTROL_ANNOTATION].is_string());
    assert!(
        last.body["metadata"]["annotations"][STATE_ANNOTATION].is_null(),
        "control never touches the state"
    );
    assert_eq!(sink.read_control().await.expect("reads"), Some(request));
}

#[tokio::test]
async fn a_config_the_filter_refuses_is_never_sent() {
    let api = KubeFake::start();
    let client = api.client().expect("client");
    let sink = KubernetesSink::new(client, "ml", "p");
    let mut bad = config();
    bad.experiments[0].variants[1].weight = 9_999;
    assert!(sink
        .apply(Some(&bad), &RolloutState::new("r", 0))
        .await
        .is_err());
    assert!(api.log().is_empty());
}
