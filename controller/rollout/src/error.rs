//! The crate's one error type.

use std::path::PathBuf;
use thiserror::Error;

/// Why a rollout could not be loaded, pushed or persisted.
#[derive(Debug, Error)]
pub enum RolloutError {
    /// The Rollout spec breaks the contract; `field` is its path, e.g. `spec.gates[1].condition`.
    #[error("invalid rollout spec: {field}: {message}")]
    Spec {
        /// Path of the offending field in the spec.
        field: String,
        /// The rule broken and what to write instead.
        message: String,
    },
    /// A file could not be read or written.
    #[error("{action} {path}: {source}")]
    Io {
        /// What was being done (`reading`, `writing`, ...).
        action: &'static str,
        /// The file concerned.
        path: PathBuf,
        /// The operating system's reason.
        source: std::io::Error,
    },
    /// The filter would refuse this config, so it was not pushed.
    #[error("filter config refused before push: {0}")]
    Config(#[from] rollgate_core::config::ConfigError),
    /// The persisted rollout state is unreadable.
    #[error(
        "rollout state in {location} is unreadable: {message} (fix or delete it to start over)"
    )]
    State {
        /// The state file or the Kubernetes object holding the state.
        location: String,
        /// What is wrong with it.
        message: String,
    },
    /// Another controller is running this rollout (its state is locked or leased).
    #[error("{0}")]
    Locked(String),
    /// This replica no longer holds the leader-election Lease (another replica took it, or
    /// it could not be renewed within the renew deadline); it must stop acting.
    #[error("leadership lost: {0}; stopped before acting again")]
    LeadershipLost(String),
    /// The Kubernetes API refused or failed a request.
    #[error("kubernetes: {0}")]
    Kubernetes(String),
    /// Anything else that stops the controller (a sink that cannot render, ...).
    #[error("{0}")]
    Other(String),
}

impl RolloutError {
    /// Shorthand for a [`RolloutError::Spec`] error.
    pub fn spec(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self::Spec {
            field: field.into(),
            message: message.into(),
        }
    }

    /// Shorthand for a [`RolloutError::Io`] error.
    pub fn io(action: &'static str, path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Self::Io {
            action,
            path: path.into(),
            source,
        }
    }

    /// True for an invalid spec (the CLI exits with code 2 on it).
    pub fn is_spec_error(&self) -> bool {
        matches!(self, Self::Spec { .. })
    }
}
