//! The request log: one entry per request the fake answered, with who sent it.

use axum::http::Method;
use serde_json::Value;
use std::time::Instant;

/// One request the fake answered, stamped on the fake's clock.
#[derive(Debug, Clone)]
pub struct Request {
    /// When it was answered (the fake's clock: safety checks measure from here).
    pub at: Instant,
    /// HTTP method.
    pub method: Method,
    /// Path and query exactly as sent (kube-rs's query builder included).
    pub uri: String,
    /// URL path without the query.
    pub path: String,
    /// The `Impersonate-User` header: which process or client sent it (the kubeconfig's
    /// `as:`, see [`crate::KubeFake::kubeconfig`]).
    pub user: Option<String>,
    /// The `content-type` header.
    pub content_type: Option<String>,
    /// Status answered.
    pub status: u16,
    /// Request body as JSON (`Null` when empty or not JSON).
    pub body: Value,
    /// `spec.holderIdentity` of the stored Lease once the request was answered (`None` when
    /// there is no Lease or its holder is empty; the tests use one Lease per fake).
    pub lease_holder: Option<String>,
    /// resourceVersion of the object written, for successful writes.
    pub written_rv: Option<u64>,
}

impl Request {
    /// A successful write (create, replace, apply).
    pub fn is_write(&self) -> bool {
        self.method != Method::GET && self.written_rv.is_some()
    }

    /// A request on a Lease (collection or object).
    pub fn is_lease(&self) -> bool {
        is_lease_path(&self.path)
    }

    /// A request on a WasmPlugin object.
    pub fn is_wasm_plugin(&self) -> bool {
        self.path.contains("/wasmplugins/")
    }

    /// The value of query parameter `name` (`None` when absent).
    pub fn query_param(&self, name: &str) -> Option<&str> {
        query_param(&self.uri, name)
    }
}

/// True for a `coordination.k8s.io` Lease path.
pub(crate) fn is_lease_path(path: &str) -> bool {
    path.starts_with("/apis/coordination.k8s.io/") && path.contains("/leases")
}

/// The value of query parameter `name` in `uri`.
pub(crate) fn query_param<'a>(uri: &'a str, name: &str) -> Option<&'a str> {
    let (_, query) = uri.split_once('?')?;
    query
        .split('&')
        .filter_map(|pair| pair.split_once('='))
        .find(|(key, _)| *key == name)
        .map(|(_, value)| value)
}
