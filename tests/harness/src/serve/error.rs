//! Why the dev proxy could not start or could not take a file.

use std::path::PathBuf;

/// Errors of `rollgate-harness serve`. Each names the file or address and what to do.
#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    /// A file could not be read.
    #[error("cannot read {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// The OS error.
        source: std::io::Error,
    },
    /// The clusters file is malformed or breaks a rule.
    #[error("clusters file {path}: {message}")]
    Clusters {
        /// The clusters file.
        path: PathBuf,
        /// What is wrong and where.
        message: String,
    },
    /// The plugin config file could not be read as JSON or as an ECDS file, or the filter
    /// refused it.
    #[error("plugin config {path}: {message}")]
    Config {
        /// The config file.
        path: PathBuf,
        /// What is wrong (the filter's own log when it refused).
        message: String,
    },
    /// The `.wasm` could not be loaded.
    #[error("wasm module {path}: {message}")]
    Wasm {
        /// The module.
        path: PathBuf,
        /// Why it does not load.
        message: String,
    },
    /// A listener could not be bound.
    #[error("cannot listen on {addr}: {source} (is the port taken? use port 0 for any free port)")]
    Bind {
        /// The address asked for.
        addr: String,
        /// The OS error.
        source: std::io::Error,
    },
    /// The command line is inconsistent.
    #[error("{0}")]
    Usage(String),
    /// The async runtime could not start.
    #[error("cannot start the tokio runtime: {0}")]
    Runtime(std::io::Error),
}
