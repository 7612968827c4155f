//! A loopback fake of the Kubernetes API for sink tests (no API server can run here): one
//! object per URL path, server-side applies merged like the API server does for the fields
//! Rollgate owns (annotations merged key by key, `spec` replaced when sent), every request
//! recorded. Shared by the rollout and API tests (`#[path]`-included).
#![allow(dead_code)]

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::IntoResponse;
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

/// One request the fake received.
#[derive(Debug, Clone)]
pub struct Recorded {
    /// HTTP method.
    pub method: Method,
    /// Path and query, exactly as sent.
    pub uri: String,
    /// `content-type` header.
    pub content_type: Option<String>,
    /// JSON body (`Null` when empty).
    pub body: serde_json::Value,
}

/// The fake's objects and request log.
#[derive(Default)]
pub struct KubeFake {
    /// Every request, oldest first.
    pub requests: Mutex<Vec<Recorded>>,
    /// Objects by URL path.
    pub objects: Mutex<BTreeMap<String, serde_json::Value>>,
    /// When set, every request answers 500 with this message.
    pub failing: Mutex<Option<String>>,
    url: std::sync::OnceLock<String>,
}

impl KubeFake {
    /// Starts the fake on an OS-chosen loopback port; returns it and a client talking to it.
    pub async fn start() -> (Arc<Self>, kube::Client) {
        let fake = Arc::new(Self::default());
        let app = axum::Router::new()
            .fallback(handle)
            .with_state(Arc::clone(&fake));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind a loopback port");
        let port = listener.local_addr().expect("local address").port();
        tokio::spawn(async move { axum::serve(listener, app).await });
        let url = format!("http://127.0.0.1:{port}");
        let _ = fake.url.set(url.clone());
        let uri: http::Uri = url.parse().expect("uri");
        let client = kube::Client::try_from(kube::Config::new(uri)).expect("client");
        (fake, client)
    }

    /// `http://127.0.0.1:PORT`, for a kubeconfig's `server`.
    pub fn base_url(&self) -> String {
        self.url.get().cloned().unwrap_or_default()
    }

    /// The object stored at `path`.
    pub fn object(&self, path: &str) -> Option<serde_json::Value> {
        self.objects.lock().expect("lock").get(path).cloned()
    }

    /// The requests so far.
    pub fn requests(&self) -> Vec<Recorded> {
        self.requests.lock().expect("lock").clone()
    }
}

/// URL path of WasmPlugin `namespace/name`.
pub fn wasm_plugin_path(namespace: &str, name: &str) -> String {
    format!("/apis/extensions.istio.io/v1alpha1/namespaces/{namespace}/wasmplugins/{name}")
}

fn status(code: StatusCode, reason: &str, message: &str) -> axum::response::Response {
    let body = serde_json::json!({"kind": "Status", "apiVersion": "v1", "status": "Failure",
        "reason": reason, "code": code.as_u16(), "message": message});
    (code, axum::Json(body)).into_response()
}

async fn handle(
    State(fake): State<Arc<KubeFake>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> axum::response::Response {
    let body_json: serde_json::Value =
        serde_json::from_slice(&body).unwrap_or(serde_json::Value::Null);
    fake.requests.lock().expect("lock").push(Recorded {
        method: method.clone(),
        uri: uri.to_string(),
        content_type: headers
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .map(str::to_string),
        body: body_json.clone(),
    });
    if let Some(message) = fake.failing.lock().expect("lock").clone() {
        return status(StatusCode::INTERNAL_SERVER_ERROR, "InternalError", &message);
    }
    let mut objects = fake.objects.lock().expect("lock");
    let path = uri.path().to_string();
    if method == Method::PATCH {
        let mut merged = objects
            .get(&path)
            .cloned()
            .unwrap_or_else(|| body_json.clone());
        if let Some(annotations) = body_json["metadata"]["annotations"].as_object() {
            for (key, value) in annotations {
                merged["metadata"]["annotations"][key] = value.clone();
            }
        }
        if !body_json["spec"].is_null() {
            merged["spec"] = body_json["spec"].clone();
        }
        objects.insert(path, merged.clone());
        return (StatusCode::OK, axum::Json(merged)).into_response();
    }
    match objects.get(&path) {
        Some(found) => (StatusCode::OK, axum::Json(found.clone())).into_response(),
        None => status(StatusCode::NOT_FOUND, "NotFound", "not found"),
    }
}
