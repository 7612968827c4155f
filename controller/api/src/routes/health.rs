//! `/healthz`, `/readyz`, `/metrics`, `/openapi.json` (no token needed).

use crate::state::AppState;
use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::IntoResponse;
use axum::Json;

/// Liveness: the process answers.
pub async fn healthz() -> impl IntoResponse {
    Json(serde_json::json!({ "status": "ok" }))
}

/// Readiness: the database answers.
pub async fn readyz(State(state): State<AppState>) -> impl IntoResponse {
    let conn = state.store.lock().await;
    match conn.query_row("SELECT 1", [], |r| r.get::<_, i64>(0)) {
        Ok(_) => (
            StatusCode::OK,
            Json(serde_json::json!({ "status": "ready", "sink": state.sink.describe() })),
        ),
        Err(e) => (
            StatusCode::SERVICE_UNAVAILABLE,
            Json(serde_json::json!({ "status": "not ready", "reason": e.to_string() })),
        ),
    }
}

/// Prometheus text exposition of the server's metrics.
pub async fn metrics(State(state): State<AppState>) -> impl IntoResponse {
    (
        [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
        state.metrics.render(),
    )
}

/// The OpenAPI document, generated from the types.
pub async fn openapi() -> impl IntoResponse {
    Json(crate::openapi::document())
}
