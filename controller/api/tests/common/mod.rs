//! Shared helpers of the API tests: an app over a temporary database, two tenants, requests
//! through `tower::ServiceExt::oneshot`.
#![allow(dead_code)]

use axum::body::Body;
use axum::http::{header, HeaderMap, Method, Request, StatusCode};
use axum::Router;
use http_body_util::BodyExt;
use rollgate_api::store::deployments;
use rollgate_api::types::deploy::CanaryDoc;
use rollgate_api::{app, AppState, MemorySink, Store, TenantTokens};
use rollgate_rollout::engine::Event;
use serde_json::{json, Value};
use std::sync::Arc;
use tower::ServiceExt;

/// Bearer token of tenant `acme`.
pub const ACME: &str = "token-acme-0123456789";
/// Bearer token of tenant `globex`.
pub const GLOBEX: &str = "token-globex-9876543210";

/// An answer: status, headers, JSON body (Null when empty or not JSON).
pub struct Answer {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Value,
    pub text: String,
}

impl Answer {
    pub fn etag(&self) -> String {
        self.headers
            .get(header::ETAG)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_string()
    }
    pub fn content_type(&self) -> String {
        self.headers
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_string()
    }
}

pub struct TestApp {
    pub dir: tempfile::TempDir,
    pub state: AppState,
    pub sink: Arc<MemorySink>,
}

impl TestApp {
    pub fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        Self::open(dir)
    }

    /// An app over the database in `dir` (a restart when the directory was used before).
    pub fn open(dir: tempfile::TempDir) -> Self {
        let store = Store::open(&dir.path().join("rollgate.db")).unwrap();
        let tokens = TenantTokens::from_plain_tokens([("acme", ACME), ("globex", GLOBEX)]);
        let sink = Arc::new(MemorySink::default());
        let state = AppState::new(store, tokens, sink.clone());
        TestApp { dir, state, sink }
    }

    /// An app over a fresh database pushing to `sinks` (its `sink` field then records nothing).
    pub fn with_sinks(sinks: rollgate_api::ServiceSinks) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("rollgate.db")).unwrap();
        let tokens = TenantTokens::from_plain_tokens([("acme", ACME), ("globex", GLOBEX)]);
        let state = AppState::new(store, tokens, sinks);
        TestApp {
            dir,
            state,
            sink: Arc::new(MemorySink::default()),
        }
    }

    pub fn router(&self) -> Router {
        app(self.state.clone())
    }

    /// Sends a request; `body` is sent as JSON when given.
    pub async fn send(
        &self,
        method: Method,
        path: &str,
        token: Option<&str>,
        body: Option<Value>,
    ) -> Answer {
        let bytes = body.map(|b| b.to_string().into_bytes());
        self.send_raw(method, path, token, bytes, &[]).await
    }

    /// Sends raw bytes (declared as JSON unless a content-type is in `extra`).
    pub async fn send_raw(
        &self,
        method: Method,
        path: &str,
        token: Option<&str>,
        body: Option<Vec<u8>>,
        extra: &[(&str, &str)],
    ) -> Answer {
        let mut builder = Request::builder().method(method).uri(path);
        if let Some(token) = token {
            builder = builder.header(header::AUTHORIZATION, format!("Bearer {token}"));
        }
        let has_type = extra
            .iter()
            .any(|(k, _)| k.eq_ignore_ascii_case("content-type"));
        if body.is_some() && !has_type {
            builder = builder.header(header::CONTENT_TYPE, "application/json");
        }
        for (k, v) in extra {
            builder = builder.header(*k, *v);
        }
        let request = builder
            .body(body.map(Body::from).unwrap_or_else(Body::empty))
            .unwrap();
        let response = self.router().oneshot(request).await.unwrap();
        let status = response.status();
        let headers = response.headers().clone();
        let bytes = response.into_body().collect().await.unwrap().to_bytes();
        let text = String::from_utf8_lossy(&bytes).into_owned();
        let body = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
        Answer {
            status,
            headers,
            body,
            text,
        }
    }

    pub async fn get(&self, path: &str, token: &str) -> Answer {
        self.send(Method::GET, path, Some(token), None).await
    }

    pub async fn post(&self, path: &str, token: &str, body: Value) -> Answer {
        self.send(Method::POST, path, Some(token), Some(body)).await
    }

    /// Registers `model`/`version` at cluster `cluster-<model>-<version>`.
    pub async fn register(&self, token: &str, model: &str, version: &str) -> Answer {
        let answer = self
            .post(
                &format!("/api/v1/models/{model}/versions"),
                token,
                json!({"version": version, "cluster": format!("cluster-{model}-{version}")}),
            )
            .await;
        assert_eq!(answer.status, StatusCode::CREATED, "{}", answer.text);
        answer
    }

    /// Registers fraud v1/v2 and creates an A/B test between them for `token`'s tenant.
    pub async fn ab_test(&self, token: &str, extra: Value) -> Value {
        self.register(token, "fraud", "v1").await;
        self.register(token, "fraud", "v2").await;
        let answer = self.post("/api/v1/ab-tests", token, ab_body(extra)).await;
        assert_eq!(answer.status, StatusCode::CREATED, "{}", answer.text);
        answer.body
    }

    /// Registers scorer v1/v2, starts a canary between them with `extra` fields (steps, gates,
    /// prometheus, ...) and returns its stored document with the first weight pushed a
    /// minute ago (gates measure since the push).
    pub async fn canary_live_for_a_minute(&self, token: &str, extra: Value) -> CanaryDoc {
        self.register(token, "scorer", "v1").await;
        self.register(token, "scorer", "v2").await;
        let body = merged(
            json!({"model_id": "scorer", "stable_version": "v1", "canary_version": "v2"}),
            extra,
        );
        let answer = self.post("/api/v1/canary", token, body).await;
        assert_eq!(answer.status, StatusCode::CREATED, "{}", answer.text);
        let id = answer.body["canary_id"].as_str().unwrap().to_string();
        let tenant = self.state.tokens.tenant_for(token).unwrap().to_string();
        let mut doc = {
            let conn = self.state.store.lock().await;
            deployments::canary(&conn, &tenant, &id).unwrap()
        };
        for entry in &mut doc.state.history {
            if matches!(entry.event, Event::Pushed { .. }) {
                entry.at_ms -= 60_000;
            }
        }
        doc
    }

    /// Posts events `[(variant, metric, value)]` with unit ids `u0..`.
    pub async fn events(&self, token: &str, id: &str, events: &[(&str, &str, f64)]) -> Answer {
        let batch: Vec<Value> = events
            .iter()
            .enumerate()
            .map(|(i, (variant, metric, value))| json!({"unit": format!("u{i}"), "variant": variant, "metric": metric, "value": value}))
            .collect();
        self.post(
            &format!("/api/v1/ab-tests/{id}/events"),
            token,
            Value::Array(batch),
        )
        .await
    }
}

/// Treatment weight of the only experiment in a pushed config.
pub fn pushed_weights(config: &rollgate_core::config::FilterConfig) -> Vec<(String, u32)> {
    config.experiments[0]
        .variants
        .iter()
        .map(|v| (v.name.clone(), v.weight))
        .collect()
}

/// `POST /ab-tests` body between fraud v1 and v2, with `extra` fields merged in.
pub fn ab_body(extra: Value) -> Value {
    merged(
        json!({
            "name": "fraud v2", "control_model_id": "fraud", "control_version": "v1",
            "treatment_model_id": "fraud", "treatment_version": "v2"
        }),
        extra,
    )
}

fn merged(mut body: Value, extra: Value) -> Value {
    if let (Some(map), Some(more)) = (body.as_object_mut(), extra.as_object()) {
        for (k, v) in more {
            map.insert(k.clone(), v.clone());
        }
    }
    body
}
