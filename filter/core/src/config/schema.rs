//! The filter configuration as it travels on the wire (DESIGN.md "Filter configuration").
//!
//! These types are the contract between the controller and every sidecar: field names never
//! change without a new [`CONFIG_VERSION`]. Parsing refuses unknown fields; semantic rules
//! (weights summing to 10,000, unique names, ...) live in [`super::validate`].

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// The only configuration version this filter understands.
pub const CONFIG_VERSION: u32 = 1;

/// Total of all variant weights of an experiment, in basis points (100 % = 10,000).
pub const TOTAL_WEIGHT: u32 = 10_000;

/// Default of `unit.header`: the request header holding the user id.
pub const DEFAULT_UNIT_HEADER: &str = "x-user-id";

/// Default of `route_header`: set to the chosen cluster (Envoy `cluster_header` routes).
pub const DEFAULT_ROUTE_HEADER: &str = "x-rollgate-cluster";

/// Default of `variant_header`: set to the chosen variant name (Istio header match).
pub const DEFAULT_VARIANT_HEADER: &str = "x-rollgate-variant";

/// The conventional `force_header` (forcing is off unless an experiment names a header).
pub const DEFAULT_FORCE_HEADER: &str = "x-rollgate-force";

/// Default of `shadow.timeout_ms`.
pub const DEFAULT_SHADOW_TIMEOUT_MS: u32 = 1000;

/// Default of `shadow.max_body_bytes` (1 MiB).
pub const DEFAULT_MAX_BODY_BYTES: u32 = 1_048_576;

/// The whole plugin configuration, as found in `WasmPlugin.spec.pluginConfig` or the ECDS
/// `configuration` string value.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FilterConfig {
    /// Schema version; must equal [`CONFIG_VERSION`].
    pub version: u32,
    /// How the randomization unit (the user) is identified.
    #[serde(default)]
    pub unit: UnitSource,
    /// Request header the filter sets to the chosen cluster (Envoy `cluster_header` routes).
    #[serde(default = "default_route_header")]
    pub route_header: String,
    /// Request header the filter sets to the chosen variant name (Istio header match).
    #[serde(default = "default_variant_header")]
    pub variant_header: String,
    /// The experiments; a request takes part in at most one (the best match).
    #[serde(default)]
    pub experiments: Vec<Experiment>,
}

/// Where the unit key comes from: a header first, then a cookie.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UnitSource {
    /// Request header holding the unit key (lower-case).
    /// Written as `null` when absent: leaving it out would read back as the default.
    #[serde(default = "default_unit_header")]
    pub header: Option<String>,
    /// Cookie holding the unit key, used when the header is absent or empty.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cookie: Option<String>,
    /// What to do with a request that carries no unit key.
    #[serde(default)]
    pub missing_unit: MissingUnit,
}

impl Default for UnitSource {
    fn default() -> Self {
        Self {
            header: default_unit_header(),
            cookie: None,
            missing_unit: MissingUnit::default(),
        }
    }
}

/// Policy for requests without a unit key.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MissingUnit {
    /// Send them to the first variant (stable / control).
    #[default]
    Stable,
    /// Hash the request's `x-request-id` (or a per-request random value) instead.
    Random,
}

/// What an experiment is for; it changes reporting, not routing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ExperimentKind {
    /// A progressive rollout: variants `stable` then `canary`.
    Canary,
    /// An A/B test: variants such as `control` then `treatment`.
    Ab,
}

/// What a randomization unit is for one experiment (DESIGN.md "Beyond").
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum UnitKind {
    /// A user: the unit key from the header, then the cookie.
    #[default]
    User,
    /// A request: `x-request-id`, else a per-request random value.
    Request,
}

/// One experiment: which requests it takes, and how it splits them.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Experiment {
    /// Unique id, used in metrics and by the controller.
    pub id: String,
    /// Canary or A/B.
    pub kind: ExperimentKind,
    /// Hash salt; changing it reshuffles every user.
    pub salt: String,
    /// Which requests the experiment applies to.
    #[serde(default, rename = "match")]
    pub match_rule: MatchRule,
    /// Variants in order; each takes a contiguous bucket range of `weight` buckets.
    pub variants: Vec<Variant>,
    /// Header whose value (a variant name) pins the request to that variant; off when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub force_header: Option<String>,
    /// Copies of a sample of requests to a shadow cluster.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shadow: Option<ShadowConfig>,
    /// In-filter automatic revert on a high 5xx rate.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub guard: Option<GuardConfig>,
    /// Mutually exclusive layer membership.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub layer: Option<LayerConfig>,
    /// Whether units are users or requests.
    #[serde(default, skip_serializing_if = "is_default_unit_kind")]
    pub unit_kind: UnitKind,
}

/// Request matching; every present field must match. Best match wins across experiments.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MatchRule {
    /// Exact `:authority` (port ignored); absent matches any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub authority: Option<String>,
    /// Prefix of `:path`; absent matches any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path_prefix: Option<String>,
    /// Headers that must be present with exactly these values.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub headers: BTreeMap<String, String>,
}

/// One arm of an experiment.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Variant {
    /// Variant name, unique within the experiment.
    pub name: String,
    /// Upstream cluster the route header is set to.
    pub cluster: String,
    /// Share of buckets in basis points (0..=10000); all weights sum to 10,000.
    pub weight: u32,
}

/// Shadow traffic settings of an experiment.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ShadowConfig {
    /// Cluster the copies go to.
    pub cluster: String,
    /// `:authority` of the copies.
    pub authority: String,
    /// Share of units shadowed, in basis points (0..=10000).
    pub sample: u32,
    /// Timeout of the shadow call.
    #[serde(default = "default_shadow_timeout_ms")]
    pub timeout_ms: u32,
    /// Largest request body copied; larger requests are not shadowed.
    #[serde(default = "default_max_body_bytes")]
    pub max_body_bytes: u32,
    /// How primary and shadow answers are compared; no comparison when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub compare: Option<CompareConfig>,
}

impl ShadowConfig {
    /// `max_body_bytes` as a length (saturating on a 16-bit target).
    pub fn body_limit(&self) -> usize {
        usize::try_from(self.max_body_bytes).unwrap_or(usize::MAX)
    }
}

/// Comparison of the shadow's answer with the primary's.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CompareConfig {
    /// RFC 6901 JSON pointer of the value compared in both response bodies.
    pub json_pointer: String,
    /// Numbers agree when they differ by at most this much.
    #[serde(default)]
    pub tolerance: f64,
}

/// In-filter guard: revert non-first variants when their 5xx rate is too high.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GuardConfig {
    /// 5xx rate above which the guard trips (0..1).
    pub max_error_rate: f64,
    /// Responses needed in the window before the guard may trip.
    pub min_requests: u32,
    /// Number of most recent responses considered.
    pub window: u32,
}

/// Layer membership: the experiment applies only to units whose layer bucket is in `[from, to)`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LayerConfig {
    /// Layer name, also the salt of the layer bucket.
    pub name: String,
    /// First bucket of the range (inclusive).
    pub from: u32,
    /// End of the range (exclusive), at most 10,000.
    pub to: u32,
}

fn default_unit_header() -> Option<String> {
    Some(DEFAULT_UNIT_HEADER.to_string())
}
fn default_route_header() -> String {
    DEFAULT_ROUTE_HEADER.to_string()
}
fn default_variant_header() -> String {
    DEFAULT_VARIANT_HEADER.to_string()
}
fn default_shadow_timeout_ms() -> u32 {
    DEFAULT_SHADOW_TIMEOUT_MS
}
fn default_max_body_bytes() -> u32 {
    DEFAULT_MAX_BODY_BYTES
}
fn is_default_unit_kind(kind: &UnitKind) -> bool {
    *kind == UnitKind::User
}

/// The configuration `{"version": 1}` reads as: current version, default unit and headers, no
/// experiments. Builders start from it (`FilterConfig { experiments, ..Default::default() }`).
impl Default for FilterConfig {
    fn default() -> Self {
        Self {
            version: CONFIG_VERSION,
            unit: UnitSource::default(),
            route_header: default_route_header(),
            variant_header: default_variant_header(),
            experiments: Vec::new(),
        }
    }
}
