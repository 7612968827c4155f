//! The fake's HTTP handler: objects kept by URL path with one resourceVersion counter for all
//! writes (like etcd), and the checks the API server makes on what kube-rs sends.

use crate::log::{is_lease_path, query_param, Request};
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Instant;

/// The content type of a server-side apply (the only PATCH the fake serves).
pub const APPLY_PATCH: &str = "application/apply-patch+yaml";

/// Which requests the failure switch makes answer 500.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FailureScope {
    /// Lease requests only (WasmPlugins keep working).
    Leases,
    /// Every request.
    Everything,
}

/// A scripted API server failure.
#[derive(Debug, Clone)]
pub(crate) struct Failure {
    pub(crate) scope: FailureScope,
    pub(crate) message: String,
}

/// Objects, log and failure switch, shared by the handler and the test.
#[derive(Default)]
pub(crate) struct Store {
    last_rv: u64,
    pub(crate) objects: BTreeMap<String, Value>,
    pub(crate) log: Vec<Request>,
    pub(crate) failure: Option<Failure>,
}

/// Locks the store; a test that panicked while holding it left consistent data behind (every
/// change is one insert or push), so a poisoned lock is still read.
pub(crate) fn lock(store: &Mutex<Store>) -> MutexGuard<'_, Store> {
    store
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// What one request asked, parsed once.
struct Asked<'a> {
    method: &'a Method,
    uri: &'a str,
    path: &'a str,
    content_type: Option<&'a str>,
    body: &'a Value,
}

/// Answers every request and logs it.
pub(crate) async fn handle(
    State(store): State<Arc<Mutex<Store>>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let body: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    let header = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string)
    };
    let content_type = header("content-type");
    let uri_text = uri.to_string();
    let path = uri.path().to_string();
    let mut store = lock(&store);
    let asked = Asked {
        method: &method,
        uri: &uri_text,
        path: &path,
        content_type: content_type.as_deref(),
        body: &body,
    };
    let (response, written_rv) = answer(&mut store, &asked);
    let lease_holder = store
        .objects
        .iter()
        .find(|(p, _)| is_lease_path(p))
        .and_then(|(_, lease)| lease["spec"]["holderIdentity"].as_str())
        .filter(|h| !h.is_empty())
        .map(str::to_string);
    store.log.push(Request {
        at: Instant::now(),
        method,
        uri: uri_text,
        path,
        user: header("impersonate-user"),
        content_type,
        status: response.status().as_u16(),
        body,
        lease_holder,
        written_rv,
    });
    response
}

/// A Kubernetes `Status` failure body.
fn status(code: StatusCode, reason: &str, message: &str) -> Response {
    let body = json!({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
        "reason": reason, "code": code.as_u16(), "message": message});
    (code, axum::Json(body)).into_response()
}

type Answer = (Response, Option<u64>);

fn answer(store: &mut Store, asked: &Asked<'_>) -> Answer {
    if let Some(failure) = &store.failure {
        if failure.scope == FailureScope::Everything || is_lease_path(asked.path) {
            let message = failure.message.clone();
            return failed(StatusCode::INTERNAL_SERVER_ERROR, "InternalError", &message);
        }
    }
    match asked.method.clone() {
        Method::GET => match store.objects.get(asked.path) {
            Some(found) => (
                (StatusCode::OK, axum::Json(found.clone())).into_response(),
                None,
            ),
            None => not_found(asked.path),
        },
        Method::POST => create(store, asked),
        Method::PUT => replace(store, asked),
        Method::PATCH => apply(store, asked),
        _ => failed(
            StatusCode::METHOD_NOT_ALLOWED,
            "MethodNotAllowed",
            "the fake serves GET, POST (create), PUT (replace) and PATCH (server-side apply)",
        ),
    }
}

fn failed(code: StatusCode, reason: &str, message: &str) -> Answer {
    (status(code, reason, message), None)
}

fn not_found(path: &str) -> Answer {
    failed(
        StatusCode::NOT_FOUND,
        "NotFound",
        &format!("{path} not found"),
    )
}

/// `POST` to a collection: creates `<collection>/<metadata.name>`, 409 AlreadyExists when it
/// is there.
fn create(store: &mut Store, asked: &Asked<'_>) -> Answer {
    let Some(name) = asked.body["metadata"]["name"].as_str() else {
        return failed(
            StatusCode::UNPROCESSABLE_ENTITY,
            "Invalid",
            "metadata.name: Required value",
        );
    };
    let object_path = format!("{}/{name}", asked.path.trim_end_matches('/'));
    if store.objects.contains_key(&object_path) {
        return failed(
            StatusCode::CONFLICT,
            "AlreadyExists",
            &format!("{object_path} already exists"),
        );
    }
    write(store, object_path, asked.body.clone(), StatusCode::CREATED)
}

/// `PUT` on an object: replaces it only when the body's `metadata.resourceVersion` is the
/// stored one (409 Conflict otherwise, also when it is missing: stricter than the API server,
/// so a replace that forgets it fails), 404 when there is no object.
fn replace(store: &mut Store, asked: &Asked<'_>) -> Answer {
    let Some(found) = store.objects.get(asked.path) else {
        return not_found(asked.path);
    };
    let stored_rv = found["metadata"]["resourceVersion"].as_str();
    if asked.body["metadata"]["resourceVersion"].as_str() != stored_rv {
        return failed(
            StatusCode::CONFLICT,
            "Conflict",
            "the object has been modified; please apply your changes to the latest version and try again",
        );
    }
    write(
        store,
        asked.path.to_string(),
        asked.body.clone(),
        StatusCode::OK,
    )
}

/// `PATCH` as a server-side apply, checked like the API server does: apply content type, a
/// `fieldManager`, and a body naming the object of the URL. Annotations are merged key by
/// key and `spec` is replaced when sent (the fields Rollgate owns); creates when missing.
fn apply(store: &mut Store, asked: &Asked<'_>) -> Answer {
    if asked.content_type != Some(APPLY_PATCH) {
        return failed(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "UnsupportedMediaType",
            &format!("the fake serves only server-side apply ({APPLY_PATCH}) patches"),
        );
    }
    if query_param(asked.uri, "fieldManager").is_none_or(str::is_empty) {
        return failed(
            StatusCode::BAD_REQUEST,
            "BadRequest",
            "PatchOptions.meta.k8s.io \"\" is invalid: fieldManager: Required value: is required for apply patch",
        );
    }
    let url_name = asked.path.rsplit('/').next().unwrap_or_default();
    if asked.body["metadata"]["name"].as_str() != Some(url_name) {
        return failed(
            StatusCode::BAD_REQUEST,
            "BadRequest",
            &format!("the name of the object does not match the name on the URL ({url_name})"),
        );
    }
    let mut merged = store
        .objects
        .get(asked.path)
        .cloned()
        .unwrap_or_else(|| asked.body.clone());
    if let Some(annotations) = asked.body["metadata"]["annotations"].as_object() {
        for (key, value) in annotations {
            merged["metadata"]["annotations"][key] = value.clone();
        }
    }
    if !asked.body["spec"].is_null() {
        merged["spec"] = asked.body["spec"].clone();
    }
    write(store, asked.path.to_string(), merged, StatusCode::OK)
}

fn write(store: &mut Store, path: String, mut object: Value, code: StatusCode) -> Answer {
    store.last_rv += 1;
    let rv = store.last_rv;
    object["metadata"]["resourceVersion"] = json!(rv.to_string());
    store.objects.insert(path, object.clone());
    ((code, axum::Json(object)).into_response(), Some(rv))
}
