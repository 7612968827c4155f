//! What can go wrong while starting or configuring the fake.

/// Errors of the loopback Kubernetes API fake.
#[derive(Debug, thiserror::Error)]
pub enum KubeFakeError {
    /// The fake's tokio runtime could not be built.
    #[error("kube fake: building its tokio runtime failed: {0}")]
    Runtime(#[source] std::io::Error),
    /// No loopback port could be bound.
    #[error("kube fake: binding a loopback port on 127.0.0.1 failed: {0}")]
    Bind(#[source] std::io::Error),
    /// A kubeconfig could not be written.
    #[error("kube fake: writing the kubeconfig {path} failed: {source}")]
    Kubeconfig {
        /// The file it tried to write.
        path: std::path::PathBuf,
        /// The IO error.
        #[source]
        source: std::io::Error,
    },
    /// The fake's base URL is not a URI kube-rs accepts.
    #[error("kube fake: its base URL {url} is not a valid URI: {source}")]
    Url {
        /// The fake's base URL.
        url: String,
        /// Why it does not parse.
        #[source]
        source: axum::http::uri::InvalidUri,
    },
    /// A kube-rs client for the fake could not be built.
    #[error("kube fake: building a kube client for {url} failed: {source}")]
    Client {
        /// The fake's base URL.
        url: String,
        /// What kube-rs said.
        #[source]
        source: kube::Error,
    },
}
