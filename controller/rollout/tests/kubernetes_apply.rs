//! The Kubernetes sink against a loopback API server that records the exact requests kube-rs
//! sends (no real API server can run here): server-side apply of the WasmPlugin's
//! `spec.pluginConfig` with the state annotation, then reading the state back.

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::IntoResponse;
use rollgate_core::config::FilterConfig;
use rollgate_rollout::engine::{ControlRequest, ManualAction, RolloutState};
use rollgate_rollout::sinks::kubernetes::{KubernetesSink, CONTROL_ANNOTATION, STATE_ANNOTATION};
use std::sync::{Arc, Mutex};

#[derive(Debug, Clone)]
struct Recorded {
    method: Method,
    uri: String,
    content_type: Option<String>,
    body: serde_json::Value,
}

#[derive(Default)]
struct FakeApi {
    requests: Mutex<Vec<Recorded>>,
    object: Mutex<Option<serde_json::Value>>,
}

async fn handle(
    State(api): State<Arc<FakeApi>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> impl IntoResponse {
    let body_json: serde_json::Value =
        serde_json::from_slice(&body).unwrap_or(serde_json::Value::Null);
    let content_type = headers
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    api.requests.lock().expect("lock").push(Recorded {
        method: method.clone(),
        uri: uri.to_string(),
        content_type,
        body: body_json.clone(),
    });
    let mut object = api.object.lock().expect("lock");
    if method == Method::PATCH {
        // Merge annotations like the API server would for two field managers.
        let mut merged = object.clone().unwrap_or_else(|| body_json.clone());
        if let Some(annotations) = body_json["metadata"]["annotations"].as_object() {
            for (k, v) in annotations {
                merged["metadata"]["annotations"][k] = v.clone();
            }
        }
        if !body_json["spec"].is_null() {
            merged["spec"] = body_json["spec"].clone();
        }
        *object = Some(merged.clone());
        return (StatusCode::OK, axum::Json(merged)).into_response();
    }
    match object.clone() {
        Some(found) => (StatusCode::OK, axum::Json(found)).into_response(),
        None => (
            StatusCode::NOT_FOUND,
            axum::Json(serde_json::json!({"kind":"Status","apiVersion":"v1","status":"Failure","reason":"NotFound","code":404,"message":"not found"})),
        )
            .into_response(),
    }
}

async fn start() -> (Arc<FakeApi>, kube::Client) {
    let api = Arc::new(FakeApi::default());
    let app = axum::Router::new()
        .fallback(handle)
        .with_state(Arc::clone(&api));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let port = listener.local_addr().expect("addr").port();
    tokio::spawn(async move { axum::serve(listener, app).await });
    let uri: http::Uri = format!("http://127.0.0.1:{port}").parse().expect("uri");
    let client = kube::Client::try_from(kube::Config::new(uri)).expect("client");
    (api, client)
}

fn config() -> FilterConfig {
    let json = r#"{"version":1,"experiments":[{"id":"fraud-v2","kind":"canary","salt":"fraud-v2","variants":[
        {"name":"stable","cluster":"s","weight":9500},{"name":"canary","cluster":"c","weight":500}]}]}"#;
    FilterConfig::from_json(json.as_bytes()).expect("valid")
}

#[tokio::test]
async fn apply_is_a_forced_server_side_apply_of_plugin_config_and_state() {
    let (api, client) = start().await;
    let sink = KubernetesSink::new(client, "ml", "fraud-detector-rollgate");
    let state = RolloutState::new("fraud-detector", 1_700_000_000_000);
    sink.apply(Some(&config()), &state).await.expect("applies");

    let requests = api.requests.lock().expect("lock").clone();
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
    let (api, client) = start().await;
    let sink = KubernetesSink::new(client, "ml", "fraud-detector-rollgate");
    assert_eq!(sink.load_state().await.expect("404 is no state"), None);
    let state = RolloutState::new("fraud-detector", 42);
    sink.apply(None, &state)
        .await
        .expect("applies the state alone");
    assert!(api
        .requests
        .lock()
        .expect("lock")
        .last()
        .is_some_and(|r| r.body["spec"].is_null()));
    assert_eq!(sink.load_state().await.expect("reads"), Some(state));

    let request = ControlRequest {
        id: "7".into(),
        action: ManualAction::Abort,
    };
    sink.write_control(&request).await.expect("writes");
    let last = api
        .requests
        .lock()
        .expect("lock")
        .last()
        .cloned()
        .expect("request");
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
    let (api, client) = start().await;
    let sink = KubernetesSink::new(client, "ml", "p");
    let mut bad = config();
    bad.experiments[0].variants[1].weight = 9_999;
    assert!(sink
        .apply(Some(&bad), &RolloutState::new("r", 0))
        .await
        .is_err());
    assert!(api.requests.lock().expect("lock").is_empty());
}
