//! A loopback fake of the Kubernetes API for Rollgate's tests. It exists because no
//! kube-apiserver can be installed or run here: the Kubernetes code (the WasmPlugin sinks,
//! leader election, `rollgate run`/`serve` as processes) is tested against this fake, which
//! keeps the API server's rules Rollgate relies on. Test-only: a dev-dependency, never
//! shipped.
//!
//! - Objects are kept by URL path with one resourceVersion counter for all writes (like etcd).
//! - `coordination.k8s.io/v1` Leases (and any object): `POST` to the collection creates (409
//!   AlreadyExists when present), `GET` reads (404 when missing), `PUT` replaces only when the
//!   body's `metadata.resourceVersion` is the stored one (409 Conflict otherwise, 404 when
//!   missing).
//! - Istio WasmPlugins: `PATCH` must be a server-side apply (content type
//!   [`APPLY_PATCH`], a `fieldManager`, the body naming the URL's object); annotations are
//!   merged key by key and `spec` is replaced when sent.
//! - Every request is logged ([`Request`]) on the fake's clock with the caller's
//!   `Impersonate-User` (set per process by the kubeconfig's `as:`), the lease holder at that
//!   moment and the resourceVersion written.
//! - A failure switch makes lease requests, or all requests, answer 500.

mod error;
mod log;
mod server;

pub use error::KubeFakeError;
pub use log::Request;
pub use server::{FailureScope, APPLY_PATCH};

use server::{lock, Failure, Store};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

/// The namespace of the kubeconfigs the fake writes.
pub const KUBECONFIG_NAMESPACE: &str = "ml";

/// The running fake, served by its own one-thread runtime (so it answers while the test
/// blocks); stopped when dropped.
pub struct KubeFake {
    /// Base URL (`http://127.0.0.1:PORT`).
    pub url: String,
    store: Arc<Mutex<Store>>,
    runtime: Option<tokio::runtime::Runtime>,
}

impl KubeFake {
    /// Starts the fake on an OS-chosen loopback port.
    pub fn try_start() -> Result<Self, KubeFakeError> {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .map_err(KubeFakeError::Runtime)?;
        let store = Arc::new(Mutex::new(Store::default()));
        let app = axum::Router::new()
            .fallback(server::handle)
            .with_state(Arc::clone(&store));
        // Bound without `block_on`, so the fake also starts inside an async test.
        let std_listener =
            std::net::TcpListener::bind("127.0.0.1:0").map_err(KubeFakeError::Bind)?;
        std_listener
            .set_nonblocking(true)
            .map_err(KubeFakeError::Bind)?;
        let listener = {
            let _entered = runtime.enter();
            tokio::net::TcpListener::from_std(std_listener).map_err(KubeFakeError::Bind)?
        };
        let url = format!(
            "http://{}",
            listener.local_addr().map_err(KubeFakeError::Bind)?
        );
        runtime.spawn(async move { axum::serve(listener, app).await });
        Ok(Self {
            url,
            store,
            runtime: Some(runtime),
        })
    }

    /// [`KubeFake::try_start`] for tests: panics naming the cause when the fake cannot start.
    pub fn start() -> Self {
        Self::try_start().unwrap_or_else(|e| panic!("{e}"))
    }

    /// A kube-rs client for the fake, without an identity. Call it inside a tokio runtime.
    pub fn client(&self) -> Result<kube::Client, KubeFakeError> {
        self.client_with(None)
    }

    /// A kube-rs client for the fake whose requests carry `Impersonate-User: user`. Call it
    /// inside a tokio runtime.
    pub fn client_as(&self, user: &str) -> Result<kube::Client, KubeFakeError> {
        self.client_with(Some(user))
    }

    fn client_with(&self, user: Option<&str>) -> Result<kube::Client, KubeFakeError> {
        let client_error = |source| KubeFakeError::Client {
            url: self.url.clone(),
            source,
        };
        let uri = self.url.parse().map_err(|source| KubeFakeError::Url {
            url: self.url.clone(),
            source,
        })?;
        let mut config = kube::Config::new(uri);
        config.auth_info.impersonate = user.map(str::to_string);
        kube::Client::try_from(config).map_err(client_error)
    }

    /// Writes `dir/kubeconfig-<user>` pointing at the fake, namespace
    /// [`KUBECONFIG_NAMESPACE`], whose requests carry `Impersonate-User: user` (the kubeconfig
    /// user's `as:`), so the log shows which process sent what.
    pub fn try_kubeconfig(&self, dir: &Path, user: &str) -> Result<PathBuf, KubeFakeError> {
        let path = dir.join(format!("kubeconfig-{user}"));
        let text = format!(
            "apiVersion: v1\nkind: Config\nclusters:\n- name: fake\n  cluster: {{ server: \"{}\" }}\nusers:\n- name: u\n  user: {{ as: {user} }}\ncontexts:\n- name: c\n  context: {{ cluster: fake, user: u, namespace: {KUBECONFIG_NAMESPACE} }}\ncurrent-context: c\n",
            self.url
        );
        std::fs::write(&path, text).map_err(|source| KubeFakeError::Kubeconfig {
            path: path.clone(),
            source,
        })?;
        Ok(path)
    }

    /// [`KubeFake::try_kubeconfig`] for tests: panics naming the file when it cannot write.
    pub fn kubeconfig(&self, dir: &Path, user: &str) -> PathBuf {
        self.try_kubeconfig(dir, user)
            .unwrap_or_else(|e| panic!("{e}"))
    }

    /// The requests so far, oldest first.
    pub fn log(&self) -> Vec<Request> {
        lock(&self.store).log.clone()
    }

    /// The object stored at URL path `path`.
    pub fn object(&self, path: &str) -> Option<serde_json::Value> {
        lock(&self.store).objects.get(path).cloned()
    }

    /// Makes the requests in `scope` answer 500 with `message` (`None` ends the failure).
    pub fn set_failure(&self, failure: Option<(FailureScope, &str)>) {
        lock(&self.store).failure = failure.map(|(scope, message)| Failure {
            scope,
            message: message.to_string(),
        });
    }

    /// While `on`, every Lease request answers 500 (WasmPlugins keep working).
    pub fn set_lease_outage(&self, on: bool) {
        self.set_failure(on.then_some((FailureScope::Leases, "scripted lease outage")));
    }
}

impl Drop for KubeFake {
    fn drop(&mut self) {
        // Also dropped inside async tests, where a blocking runtime shutdown would panic.
        if let Some(runtime) = self.runtime.take() {
            runtime.shutdown_background();
        }
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
