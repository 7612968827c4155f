//! The validated rollout: everything the engine, gates and sinks need, typed.

use crate::gates::Gate;
use rollgate_core::config::FilterConfig;
use serde::{Deserialize, Serialize};
use std::path::PathBuf;

/// A validated Rollout spec with its base filter config loaded.
#[derive(Debug, Clone, PartialEq)]
pub struct Rollout {
    /// `metadata.name`.
    pub name: String,
    /// `metadata.namespace` (empty when absent).
    pub namespace: String,
    /// Experiment id in the filter config.
    pub experiment: String,
    /// Stable variant name.
    pub stable: String,
    /// Canary variant name.
    pub canary: String,
    /// The base filter config (validated by the filter crate).
    pub base_config: FilterConfig,
    /// Where the base config was read from.
    pub base_config_path: PathBuf,
    /// Where configs are pushed.
    pub sink: SinkTarget,
    /// Prometheus, when gates need it.
    pub prometheus: Option<PrometheusTarget>,
    /// State file (ecds_file and stdout sinks), resolved against the spec's directory.
    pub state_file: Option<PathBuf>,
    /// Steps and gates: what the engine follows.
    pub plan: Plan,
}

/// The sink, validated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SinkTarget {
    /// Envoy ECDS file written atomically.
    EcdsFile {
        /// The file Envoy watches (resolved against the spec's directory).
        path: PathBuf,
        /// Extension config name.
        name: String,
        /// Path of the `.wasm` on the Envoy host.
        wasm_filename: String,
    },
    /// Server-side apply of an Istio WasmPlugin's `spec.pluginConfig`.
    Kubernetes {
        /// WasmPlugin name.
        wasm_plugin: String,
        /// Its namespace.
        namespace: String,
    },
    /// Print what would be applied.
    Stdout,
}

/// Prometheus connection settings (serializable: secrets are references, never values).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PrometheusTarget {
    /// Base URL without trailing slash (`http://` or `https://`).
    pub url: String,
    /// CA certificate (PEM) trusted for https, besides none of the system's when set.
    pub ca_file: Option<PathBuf>,
    /// How requests authenticate.
    pub auth: SourceAuth,
    /// Extra headers sent with every query (e.g. `X-Scope-OrgID`).
    pub headers: Vec<(String, String)>,
    /// Per-query timeout in milliseconds.
    pub timeout_ms: u64,
    /// Scrape interval of the proxies' metrics, in milliseconds (gate windows are at least 4 ×).
    pub scrape_interval_ms: u64,
}

/// Where a secret is read from when the client is built (never kept in the spec).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SecretRef {
    /// The file's content, trailing whitespace trimmed.
    File(PathBuf),
    /// The environment variable's value.
    Env(String),
}

/// How queries authenticate.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SourceAuth {
    /// No credentials.
    None,
    /// `Authorization: Bearer <token>`.
    Bearer(SecretRef),
    /// `Authorization: Basic ...`.
    Basic {
        /// User name.
        username: String,
        /// Password.
        password: SecretRef,
    },
}

impl SecretRef {
    /// Reads the secret; the error says where it was looked for, never its value.
    pub fn read(&self) -> Result<String, String> {
        match self {
            Self::File(path) => std::fs::read_to_string(path)
                .map(|s| s.trim_end().to_string())
                .map_err(|e| format!("reading the secret file {}: {e}", path.display())),
            Self::Env(name) => std::env::var(name)
                .map_err(|_| format!("the environment variable {name} is not set")),
        }
    }
}

impl PrometheusTarget {
    /// Plain http, no credentials, no extra headers.
    pub fn plain(url: &str, timeout_ms: u64) -> Self {
        Self {
            url: url.trim_end_matches('/').to_string(),
            ca_file: None,
            auth: SourceAuth::None,
            headers: Vec::new(),
            timeout_ms,
            scrape_interval_ms: super::DEFAULT_SCRAPE_INTERVAL_MS,
        }
    }
}

/// What the engine follows: the steps and the gates.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Plan {
    /// Steps in order; the last one has weight 10,000 basis points.
    pub steps: Vec<Step>,
    /// Every gate of the rollout.
    pub gates: Vec<Gate>,
}

/// One step: hold the canary at `canary_bp` for `pause_ms` while `gates` are checked.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Step {
    /// Canary weight in basis points (1 % = 100).
    pub canary_bp: u32,
    /// Pause at this weight, in milliseconds.
    pub pause_ms: u64,
    /// Names of the gates checked during this step.
    pub gates: Vec<String>,
}

impl Plan {
    /// The gate named `name`.
    pub fn gate(&self, name: &str) -> Option<&Gate> {
        self.gates.iter().find(|g| g.name == name)
    }

    /// Period between checks at step `index`: the smallest interval of its gates.
    pub fn check_period_ms(&self, index: usize) -> Option<u64> {
        let step = self.steps.get(index)?;
        step.gates
            .iter()
            .filter_map(|name| self.gate(name))
            .map(|g| g.interval_ms)
            .min()
    }
}

/// Seed 001's stages: 1 % 30 min, 5 % 1 h, 10 % 2 h, 25 % 4 h, 50 % 6 h, then 100 %.
pub fn default_steps() -> Vec<(u32, u64)> {
    const MINUTE: u64 = 60_000;
    vec![
        (100, 30 * MINUTE),
        (500, 60 * MINUTE),
        (1_000, 120 * MINUTE),
        (2_500, 240 * MINUTE),
        (5_000, 360 * MINUTE),
        (10_000, 0),
    ]
}

impl Rollout {
    /// The filter config with the canary at `canary_bp`, validated by the filter's validator.
    pub fn config_at(&self, canary_bp: u32) -> Result<FilterConfig, crate::error::RolloutError> {
        crate::weights::apply_canary_weight(
            &self.base_config,
            &self.experiment,
            &self.stable,
            &self.canary,
            canary_bp,
        )
    }

    /// The config the sink holds for `state`: the target weight applied, or the base config
    /// unchanged before the first push.
    pub fn config_for(
        &self,
        state: Option<&crate::engine::RolloutState>,
    ) -> Result<FilterConfig, crate::error::RolloutError> {
        match state.and_then(|s| s.target_canary_bp()) {
            Some(bp) => self.config_at(bp),
            None => {
                self.base_config.validate()?;
                Ok(self.base_config.clone())
            }
        }
    }
}
