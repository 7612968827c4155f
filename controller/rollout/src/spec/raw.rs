//! The Rollout YAML exactly as written (DESIGN.md "Rollout spec contract"), before validation.
//! Durations and conditions stay text here so validation can name the field that is wrong.

use serde::Deserialize;

/// A `rollgate.dev/v1` `Rollout` document.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawRollout {
    /// Must be `rollgate.dev/v1`.
    #[serde(rename = "apiVersion")]
    pub api_version: String,
    /// Must be `Rollout`.
    pub kind: String,
    /// Name and namespace.
    pub metadata: RawMetadata,
    /// What is rolled out and how.
    pub spec: RawSpec,
}

/// `metadata`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawMetadata {
    /// Rollout name.
    pub name: String,
    /// Namespace (`{{namespace}}` in queries).
    #[serde(default)]
    pub namespace: Option<String>,
}

/// `spec`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawSpec {
    /// Experiment id in the filter config.
    pub experiment: String,
    /// Name of the stable variant.
    pub stable: String,
    /// Name of the canary variant.
    pub canary: String,
    /// Filter config file, relative to the spec file.
    pub base_config: String,
    /// Where the config is pushed.
    pub sink: RawSink,
    /// Prometheus to query (needed when there are gates).
    #[serde(default)]
    pub prometheus: Option<RawPrometheus>,
    /// Where progress is kept (ecds_file and stdout sinks), relative to the spec file.
    #[serde(default)]
    pub state_file: Option<String>,
    /// Steps; absent means seed 001's six stages.
    #[serde(default)]
    pub steps: Option<Vec<RawStep>>,
    /// Gates checked during every step's pause.
    #[serde(default)]
    pub gates: Vec<RawGate>,
}

/// `spec.sink`: exactly one field set.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawSink {
    /// Envoy ECDS file.
    #[serde(default)]
    pub ecds_file: Option<RawEcdsFileSink>,
    /// Istio WasmPlugin.
    #[serde(default)]
    pub kubernetes: Option<RawKubernetesSink>,
    /// Print only.
    #[serde(default)]
    pub stdout: Option<RawStdoutSink>,
}

/// `spec.sink.ecds_file`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawEcdsFileSink {
    /// The file Envoy watches.
    pub path: String,
    /// Extension config name (the listener's `http_filters[].name`); default `rollgate`.
    #[serde(default)]
    pub name: Option<String>,
    /// Path of the `.wasm` on the Envoy host; default `/etc/envoy/rollgate_filter.wasm`.
    #[serde(default)]
    pub wasm_filename: Option<String>,
}

/// `spec.sink.kubernetes`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawKubernetesSink {
    /// WasmPlugin name.
    pub wasm_plugin: String,
    /// Its namespace; default `metadata.namespace`.
    #[serde(default)]
    pub namespace: Option<String>,
}

/// `spec.sink.stdout` (no fields).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawStdoutSink {}

/// `spec.prometheus`: any Prometheus-compatible query API (Prometheus, Thanos, Mimir,
/// Cortex, VictoriaMetrics).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawPrometheus {
    /// Base URL, `http://` or `https://`, e.g. `http://127.0.0.1:9090`.
    pub url: String,
    /// PEM file of the CA that signed the server's certificate (https); default the system's
    /// roots.
    #[serde(default)]
    pub ca_file: Option<String>,
    /// Bearer token, read from a file or an environment variable (never written in the spec).
    #[serde(default)]
    pub bearer_token: Option<RawSecret>,
    /// HTTP basic auth; the password is read from a file or an environment variable.
    #[serde(default)]
    pub basic_auth: Option<RawBasicAuth>,
    /// Extra request headers, e.g. `X-Scope-OrgID: tenant-a` for Mimir/Cortex/Thanos tenants.
    #[serde(default)]
    pub headers: std::collections::BTreeMap<String, String>,
    /// Query timeout; default `5s`.
    #[serde(default)]
    pub timeout: Option<String>,
    /// How often Prometheus scrapes the proxies; default `15s`. Gate windows are at least
    /// 4 × this, so `rate()` has enough samples.
    #[serde(default)]
    pub scrape_interval: Option<String>,
}

/// A secret's location: exactly one of `file` (its content, trailing newline trimmed) or
/// `env` (an environment variable of the controller).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawSecret {
    /// File holding the secret.
    #[serde(default)]
    pub file: Option<String>,
    /// Environment variable holding the secret.
    #[serde(default)]
    pub env: Option<String>,
}

/// `spec.prometheus.basic_auth`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawBasicAuth {
    /// User name.
    pub username: String,
    /// Where the password is.
    pub password: RawSecret,
}

/// One entry of `spec.steps`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawStep {
    /// Percent of traffic to the canary (0.01 steps).
    pub weight: f64,
    /// How long to hold this weight while the gates are checked; default none.
    #[serde(default)]
    pub pause: Option<String>,
    /// Names of the gates checked at this step; default all.
    #[serde(default)]
    pub gates: Option<Vec<String>>,
}

/// One entry of `spec.gates`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawGate {
    /// Unique name.
    pub name: String,
    /// Built-in template name (`error_rate`, `success_rate`, `p99_latency_ms`, or `srm` for
    /// the sample-ratio-mismatch check).
    #[serde(default)]
    pub template: Option<String>,
    /// Custom PromQL template.
    #[serde(default)]
    pub query: Option<String>,
    /// Built-in template compared canary minus stable.
    #[serde(default)]
    pub compare: Option<String>,
    /// `error_rate`: the sequential comparison canary vs stable (mSPRT; `condition: "< tolerance"`).
    #[serde(default)]
    pub sequential: Option<String>,
    /// Sequential gate: confidence of the sequence (default 0.95; 1 - it bounds false rollbacks).
    #[serde(default)]
    pub confidence: Option<f64>,
    /// Sequential gate: responses (both variants) where the sequence is tightest (default 5000).
    #[serde(default)]
    pub n_star: Option<f64>,
    /// Pass condition, e.g. `< 0.01`; required except for `template: srm` (fixed p >= 0.001).
    #[serde(default)]
    pub condition: Option<String>,
    /// Check period; default `1m`.
    #[serde(default)]
    pub interval: Option<String>,
    /// Query range (`{{interval}}` in templates); default the larger of `interval` and
    /// 4 × `spec.prometheus.scrape_interval`; at least 4 × the scrape interval.
    #[serde(default)]
    pub window: Option<String>,
    /// Fewest samples (responses) of each measured variant over the window before the value
    /// is judged; default 100 (built-ins, comparisons, srm exposures), 0 for custom queries.
    #[serde(default)]
    pub min_samples: Option<u64>,
    /// PromQL template counting a custom `query` gate's samples (needed for its `min_samples`).
    #[serde(default)]
    pub samples_query: Option<String>,
    /// Consecutive failures before rollback; default 1.
    #[serde(default)]
    pub failure_limit: Option<u32>,
    /// `fail`, `pass` or `inconclusive` (default).
    #[serde(default)]
    pub no_data: Option<String>,
}
