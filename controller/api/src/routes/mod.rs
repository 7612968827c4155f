//! The HTTP surface: one module per resource, assembled by [`crate::app`].

pub mod ab_tests;
pub mod canary;
pub mod events;
pub mod health;
pub mod models;
pub mod shadow;

use crate::extract::etag;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};

/// A fresh random id such as `ab-3f9c0a1b2c3d4e5f` (random, so ids reveal nothing about other
/// tenants' activity).
pub fn new_id(prefix: &str) -> String {
    format!("{prefix}-{:016x}", rand::random::<u64>())
}

/// A response with an `ETag` of `version`.
pub fn with_etag(status: StatusCode, version: i64, body: impl IntoResponse) -> Response {
    let mut response = (status, body).into_response();
    if let Ok(value) = HeaderValue::from_str(&etag(version)) {
        response.headers_mut().insert(header::ETAG, value);
    }
    response
}
