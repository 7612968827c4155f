//! A loopback fake of the Kubernetes API for process tests of the Kubernetes sink and of
//! leader election (no API server can run here). It keeps objects by URL path with one
//! resourceVersion counter for all writes, like etcd:
//!
//! - `coordination.k8s.io/v1` Leases: `POST` to the collection creates (409 AlreadyExists
//!   when present), `GET` reads (404 when missing), `PUT` replaces only when the body's
//!   `metadata.resourceVersion` is the stored one (409 Conflict otherwise, 404 when missing).
//! - Istio WasmPlugins: `PATCH` (server-side apply) merges annotations key by key and replaces
//!   `spec` when sent; `GET` reads.
//!
//! Every request is logged with the caller's `Impersonate-User` (set per process by the
//! kubeconfig's `as:`), the lease holder at that moment and the resourceVersion written.
//! [`KubeApi::set_lease_outage`] makes lease requests answer 500.

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Instant;

/// One request the fake answered.
#[derive(Debug, Clone)]
pub struct Logged {
    /// When it was answered.
    pub at: Instant,
    /// HTTP method.
    pub method: Method,
    /// URL path (no query).
    pub path: String,
    /// The `Impersonate-User` header: which process sent it.
    pub user: Option<String>,
    /// Status answered.
    pub status: u16,
    /// Request body (`Null` when empty).
    pub body: Value,
    /// `holderIdentity` of the stored lease (the tests use one) once the request was
    /// answered.
    pub lease_holder: Option<String>,
    /// resourceVersion of the object written, for successful writes.
    pub written_rv: Option<u64>,
}

impl Logged {
    /// A successful write (create, replace, patch).
    pub fn is_write(&self) -> bool {
        self.method != Method::GET && self.written_rv.is_some()
    }

    /// A request on a Lease.
    pub fn is_lease(&self) -> bool {
        self.path.contains("/leases")
    }

    /// A request on a WasmPlugin.
    pub fn is_wasm_plugin(&self) -> bool {
        self.path.contains("/wasmplugins/")
    }
}

#[derive(Default)]
struct Store {
    last_rv: u64,
    objects: BTreeMap<String, Value>,
    log: Vec<Logged>,
    lease_outage: bool,
}

/// The running fake.
pub struct KubeApi {
    /// Base URL (`http://127.0.0.1:PORT`).
    pub url: String,
    store: Arc<Mutex<Store>>,
    _runtime: tokio::runtime::Runtime,
}

impl KubeApi {
    /// Starts the fake on an OS-chosen loopback port.
    pub fn start() -> Self {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .expect("runtime");
        let store = Arc::new(Mutex::new(Store::default()));
        let app = axum::Router::new()
            .fallback(handle)
            .with_state(Arc::clone(&store));
        let listener = runtime
            .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
            .expect("bind");
        let url = format!("http://{}", listener.local_addr().expect("addr"));
        runtime.spawn(async move { axum::serve(listener, app).await });
        Self {
            url,
            store,
            _runtime: runtime,
        }
    }

    /// Writes a kubeconfig for this fake in `dir` whose requests carry `Impersonate-User:
    /// user` (namespace `ml`).
    pub fn kubeconfig(&self, dir: &Path, user: &str) -> PathBuf {
        let path = dir.join(format!("kubeconfig-{user}"));
        std::fs::write(
            &path,
            format!(
                "apiVersion: v1\nkind: Config\nclusters:\n- name: fake\n  cluster: {{ server: \"{}\" }}\nusers:\n- name: u\n  user: {{ as: {user} }}\ncontexts:\n- name: c\n  context: {{ cluster: fake, user: u, namespace: ml }}\ncurrent-context: c\n",
                self.url
            ),
        )
        .expect("kubeconfig");
        path
    }

    /// The requests so far, oldest first.
    pub fn log(&self) -> Vec<Logged> {
        self.store.lock().expect("lock").log.clone()
    }

    /// The object at `path`.
    pub fn object(&self, path: &str) -> Option<Value> {
        self.store.lock().expect("lock").objects.get(path).cloned()
    }

    /// While `on`, every lease request answers 500 (WasmPlugins keep working).
    pub fn set_lease_outage(&self, on: bool) {
        self.store.lock().expect("lock").lease_outage = on;
    }
}

/// URL path of Lease `namespace/name`.
pub fn lease_path(namespace: &str, name: &str) -> String {
    format!("/apis/coordination.k8s.io/v1/namespaces/{namespace}/leases/{name}")
}

/// URL path of WasmPlugin `namespace/name`.
pub fn wasm_plugin_path(namespace: &str, name: &str) -> String {
    format!("/apis/extensions.istio.io/v1alpha1/namespaces/{namespace}/wasmplugins/{name}")
}

fn status(code: StatusCode, reason: &str, message: &str) -> Response {
    let body = json!({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
        "reason": reason, "code": code.as_u16(), "message": message});
    (code, axum::Json(body)).into_response()
}

async fn handle(
    State(store): State<Arc<Mutex<Store>>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let body: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    let path = uri.path().to_string();
    let mut store = store.lock().expect("lock");
    let (response, written_rv) = answer(&mut store, &method, &path, &body);
    let lease_holder = store
        .objects
        .iter()
        .filter(|(p, _)| p.contains("/leases/"))
        .map(|(_, lease)| lease["spec"]["holderIdentity"].as_str().map(str::to_string))
        .next()
        .flatten()
        .filter(|h| !h.is_empty());
    let user = headers
        .get("impersonate-user")
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    store.log.push(Logged {
        at: Instant::now(),
        method,
        path,
        user,
        status: response.status().as_u16(),
        body,
        lease_holder,
        written_rv,
    });
    response
}

fn answer(store: &mut Store, method: &Method, path: &str, body: &Value) -> (Response, Option<u64>) {
    let is_lease = path.contains("/leases");
    if is_lease && store.lease_outage {
        return (
            status(
                StatusCode::INTERNAL_SERVER_ERROR,
                "InternalError",
                "scripted outage",
            ),
            None,
        );
    }
    if is_lease && *method == Method::POST {
        let name = body["metadata"]["name"].as_str().unwrap_or_default();
        let object_path = format!("{}/{name}", path.trim_end_matches('/'));
        if store.objects.contains_key(&object_path) {
            return (
                status(
                    StatusCode::CONFLICT,
                    "AlreadyExists",
                    "leases already exists",
                ),
                None,
            );
        }
        return write(store, object_path, body.clone(), StatusCode::CREATED);
    }
    let existing = store.objects.get(path).cloned();
    match (method.clone(), existing) {
        (Method::GET, Some(found)) => ((StatusCode::OK, axum::Json(found)).into_response(), None),
        (Method::GET | Method::PUT, None) => {
            (status(StatusCode::NOT_FOUND, "NotFound", "not found"), None)
        }
        (Method::PUT, Some(found)) => {
            let stored_rv = found["metadata"]["resourceVersion"]
                .as_str()
                .unwrap_or_default();
            if body["metadata"]["resourceVersion"].as_str() != Some(stored_rv) {
                return (
                    status(
                        StatusCode::CONFLICT,
                        "Conflict",
                        "the object has been modified; please apply your changes to the latest version and try again",
                    ),
                    None,
                );
            }
            write(store, path.to_string(), body.clone(), StatusCode::OK)
        }
        (Method::PATCH, existing) => {
            let mut merged = existing.unwrap_or_else(|| body.clone());
            if let Some(annotations) = body["metadata"]["annotations"].as_object() {
                for (key, value) in annotations {
                    merged["metadata"]["annotations"][key] = value.clone();
                }
            }
            if !body["spec"].is_null() {
                merged["spec"] = body["spec"].clone();
            }
            write(store, path.to_string(), merged, StatusCode::OK)
        }
        _ => (
            status(
                StatusCode::METHOD_NOT_ALLOWED,
                "MethodNotAllowed",
                "not faked",
            ),
            None,
        ),
    }
}

fn write(
    store: &mut Store,
    path: String,
    mut object: Value,
    code: StatusCode,
) -> (Response, Option<u64>) {
    store.last_rv += 1;
    let rv = store.last_rv;
    object["metadata"]["resourceVersion"] = json!(rv.to_string());
    store.objects.insert(path, object.clone());
    ((code, axum::Json(object)).into_response(), Some(rv))
}
