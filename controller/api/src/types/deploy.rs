//! Canary rollouts and shadow deployments as the API reads and writes them.

use rollgate_core::config::LayerConfig;
use rollgate_rollout::engine::RolloutState;
use rollgate_rollout::spec::raw::{RawGate, RawPrometheus, RawStep};
use rollgate_rollout::spec::{Plan, PrometheusTarget};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// `POST /canary` body: the `rollgate run` spec's steps, gates and Prometheus, as JSON, over
/// two registered versions of one model.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CanaryCreate {
    /// Human-readable name (default: `<model_id> <stable_version> → <canary_version>`).
    #[serde(default)]
    pub name: Option<String>,
    /// The model (and service) rolled out.
    pub model_id: String,
    /// Registered version now serving.
    pub stable_version: String,
    /// Registered version rolled out.
    pub canary_version: String,
    /// Steps `[{weight (percent), pause ("30m"), gates}]`; default seed 001's six stages.
    #[serde(default)]
    #[schema(value_type = Option<Vec<Object>>)]
    pub steps: Option<Vec<RawStep>>,
    /// Gates `[{name, template|query|compare, condition, interval, failure_limit, no_data}]`.
    #[serde(default)]
    #[schema(value_type = Vec<Object>)]
    pub gates: Vec<RawGate>,
    /// Prometheus-compatible source, as `spec.prometheus` of `rollgate run`: `{url, ca_file,
    /// bearer_token: {file|env}, basic_auth: {username, password: {file|env}}, headers,
    /// timeout, scrape_interval}`; required when there are gates. Files are read on the server,
    /// relative paths against its working directory.
    #[serde(default)]
    #[schema(value_type = Option<Object>)]
    pub prometheus: Option<RawPrometheus>,
    /// Exclusive layer `{name, from, to}` (as on A/B tests): the canary takes only users whose
    /// layer bucket is in `[from, to)`, so it may share its service with experiments in
    /// disjoint ranges of the same layer; absent: all users.
    #[serde(default)]
    #[schema(value_type = Option<Object>)]
    pub layer: Option<LayerConfig>,
}

/// A canary rollout as stored: what it rolls out, the engine's plan and its persisted state.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CanaryDoc {
    /// Server-assigned id (also the experiment id in the filter config).
    pub canary_id: String,
    /// Owning tenant.
    pub tenant_id: String,
    /// Name.
    pub name: String,
    /// Model / service.
    pub model_id: String,
    /// Stable version.
    pub stable_version: String,
    /// Canary version.
    pub canary_version: String,
    /// Stable cluster, from the registry.
    pub stable_cluster: String,
    /// Canary cluster, from the registry.
    pub canary_cluster: String,
    /// The engine's plan.
    pub plan: Plan,
    /// The gates' Prometheus-compatible source with every `spec.prometheus` setting (https CA
    /// file, bearer token or basic auth by file or environment variable, headers, timeout).
    #[serde(default)]
    pub prometheus: Option<PrometheusTarget>,
    /// Exclusive layer, when it has one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub layer: Option<LayerConfig>,
    /// The engine state, persisted after every transition.
    pub state: RolloutState,
    /// Creation time (RFC 3339).
    pub created_at: String,
}

/// `POST /canary/{id}/advance` body (optional).
#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CanaryAdvance {
    /// Skip the gate check (an operator override, recorded in the history).
    #[serde(default)]
    pub force: bool,
}

/// `GET /canary/{id}/status` (also the answer of start and advance).
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct CanaryStatus {
    /// Id.
    pub canary_id: String,
    /// Name.
    pub name: String,
    /// Model / service.
    pub model_id: String,
    /// Stable version.
    pub stable_version: String,
    /// Canary version.
    pub canary_version: String,
    /// progressing, paused, rolled_back or promoted.
    pub phase: String,
    /// Current step index (0-based).
    pub step: usize,
    /// Number of steps.
    pub steps_total: usize,
    /// Canary share of traffic the sink holds, in percent.
    pub weight_percent: f64,
    /// Canary share targeted (pending push or applied), in percent.
    pub target_weight_percent: f64,
    /// Gate values and failure counts.
    #[schema(value_type = Object)]
    pub gates: serde_json::Value,
    /// Transitions, oldest first.
    #[schema(value_type = Vec<Object>)]
    pub history: serde_json::Value,
    /// Creation time.
    pub created_at: String,
    /// Exclusive layer `{name, from, to}`, when it has one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Object>)]
    pub layer: Option<LayerConfig>,
}

impl CanaryDoc {
    /// The status view.
    pub fn status(&self) -> CanaryStatus {
        let percent = |bp: Option<u32>| f64::from(bp.unwrap_or(0)) / 100.0;
        CanaryStatus {
            canary_id: self.canary_id.clone(),
            name: self.name.clone(),
            model_id: self.model_id.clone(),
            stable_version: self.stable_version.clone(),
            canary_version: self.canary_version.clone(),
            phase: self.state.phase.name().to_string(),
            step: self.state.step,
            steps_total: self.plan.steps.len(),
            weight_percent: percent(self.state.applied_canary_bp),
            target_weight_percent: percent(self.state.target_canary_bp()),
            gates: serde_json::to_value(&self.state.gates).unwrap_or_default(),
            history: serde_json::to_value(&self.state.history).unwrap_or_default(),
            created_at: self.created_at.clone(),
            layer: self.layer.clone(),
        }
    }

    /// Whether the engine still drives it.
    pub fn is_live(&self) -> bool {
        !self.state.is_finished() || self.state.pending_push.is_some()
    }
}

/// Comparison of shadow and primary answers.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ShadowCompare {
    /// RFC 6901 pointer of the compared value (`/prediction`).
    pub json_pointer: String,
    /// Numbers agree within this tolerance.
    #[serde(default)]
    pub tolerance: f64,
}

/// `POST /shadow` body.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ShadowCreate {
    /// The model (and service) whose traffic is copied.
    pub model_id: String,
    /// Registered version answering users.
    pub primary_version: String,
    /// Registered version receiving the copies (its cluster comes from the registry).
    pub shadow_version: String,
    /// Share of users shadowed, 0 to 1 (default 1: all traffic, as seed 001).
    #[serde(default = "default_sample")]
    pub sample: f64,
    /// `:authority` of the copies (default `<model_id>-shadow`).
    #[serde(default)]
    pub authority: Option<String>,
    /// Shadow call timeout (default 1000 ms).
    #[serde(default)]
    pub timeout_ms: Option<u32>,
    /// Largest body copied (default 1 MiB).
    #[serde(default)]
    pub max_body_bytes: Option<u32>,
    /// How answers are compared; none when absent.
    #[serde(default)]
    pub compare: Option<ShadowCompare>,
}

fn default_sample() -> f64 {
    1.0
}

/// A shadow deployment as stored and returned.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Shadow {
    /// Server-assigned id.
    pub shadow_id: String,
    /// Owning tenant.
    pub tenant_id: String,
    /// Model / service.
    pub model_id: String,
    /// Primary version.
    pub primary_version: String,
    /// Shadow version.
    pub shadow_version: String,
    /// Primary cluster, from the registry.
    pub primary_cluster: String,
    /// Shadow cluster, from the registry.
    pub shadow_cluster: String,
    /// Share of users shadowed (0 to 1).
    pub sample: f64,
    /// Authority of the copies.
    pub authority: String,
    /// Timeout of shadow calls.
    pub timeout_ms: u32,
    /// Largest body copied.
    pub max_body_bytes: u32,
    /// Comparison.
    pub compare: Option<ShadowCompare>,
    /// Whether it still runs.
    pub active: bool,
    /// Creation time.
    pub created_at: String,
}
