//! Seed 001's `ABTestConfig` as the API reads and writes it (snake_case field names).

use crate::error::ApiResult;
use crate::validate;
use rollgate_core::config::LayerConfig;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// Lifecycle of an A/B test (seed 001: active, completed, rolled_back).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum AbStatus {
    /// Traffic is split; events are analysed; the monitor watches it.
    Active,
    /// Finished: promoted, stopped or expired.
    Completed,
    /// Control took all traffic back (manually or by the auto-rollback monitor).
    RolledBack,
}

impl AbStatus {
    /// Text stored in the database.
    pub fn as_str(self) -> &'static str {
        match self {
            AbStatus::Active => "active",
            AbStatus::Completed => "completed",
            AbStatus::RolledBack => "rolled_back",
        }
    }
}

/// How an A/B test ended, which decides what the filter keeps routing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum AbOutcome {
    /// Treatment took 100 % of the traffic.
    Promoted,
    /// Control took 100 % of the traffic back.
    RolledBack,
    /// Ran past `max_duration_hours`: control kept at 100 %.
    Expired,
    /// Stopped (DELETE): removed from the filter config; history kept.
    Stopped,
}

/// `POST /ab-tests` body: seed 001 `ABTestConfig` without the fields the server sets
/// (`experiment_id`, `tenant_id`, `status`, `started_at`); defaults are seed 001's.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AbTestCreate {
    /// Human-readable name.
    pub name: String,
    /// Model serving control; also the service the experiment routes (`:authority`).
    pub control_model_id: String,
    /// Registered version of the control model.
    pub control_version: String,
    /// Model serving treatment.
    pub treatment_model_id: String,
    /// Registered version of the treatment model.
    pub treatment_version: String,
    /// Share of users sent to treatment (default 0.2).
    #[serde(default = "default_treatment_fraction")]
    pub treatment_fraction: f64,
    /// Metric the decision is based on (default `accuracy`).
    #[serde(default = "default_primary_metric")]
    pub primary_metric: String,
    /// Minimum relative improvement worth promoting (default 0.01).
    #[serde(default = "default_minimum_improvement")]
    pub minimum_improvement: f64,
    /// Statistical confidence (default 0.95).
    #[serde(default = "default_confidence_level")]
    pub confidence_level: f64,
    /// Longest run; past it the monitor stops the test with control kept (default 168).
    #[serde(default = "default_max_duration_hours")]
    pub max_duration_hours: u32,
    /// Units per group before "no difference" can be concluded (default 1000).
    #[serde(default = "default_min_sample_size")]
    pub min_sample_size: u64,
    /// Roll back when treatment's error rate exceeds control's by more than this (default 0.05).
    #[serde(default = "default_auto_rollback_threshold")]
    pub auto_rollback_threshold: f64,
    /// Window of the auto-rollback monitor, in minutes (default 15, as seed 001).
    #[serde(default = "default_rollback_window_minutes")]
    pub rollback_window_minutes: u32,
    /// Exclusive layer `{name, from, to}`: the test takes only users whose layer bucket
    /// (0-9999, salt = name) is in `[from, to)`. Several experiments may run on one service
    /// when they all sit in disjoint ranges of the same layer; absent: all users.
    #[serde(default)]
    #[schema(value_type = Option<Object>)]
    pub layer: Option<LayerConfig>,
}

/// `PUT /ab-tests/{id}` body: the fields that may change while the test runs (weights and
/// thresholds); absent fields keep their value. Models cannot change: start a new test.
#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AbTestUpdate {
    /// New name.
    pub name: Option<String>,
    /// New treatment share.
    pub treatment_fraction: Option<f64>,
    /// New primary metric.
    pub primary_metric: Option<String>,
    /// New minimum improvement.
    pub minimum_improvement: Option<f64>,
    /// New confidence level.
    pub confidence_level: Option<f64>,
    /// New maximum duration.
    pub max_duration_hours: Option<u32>,
    /// New minimum sample size.
    pub min_sample_size: Option<u64>,
    /// New auto-rollback threshold.
    pub auto_rollback_threshold: Option<f64>,
    /// New monitor window.
    pub rollback_window_minutes: Option<u32>,
}

/// An A/B test as stored and returned.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct AbTest {
    /// Server-assigned id (also the experiment id in the filter config).
    pub experiment_id: String,
    /// Owning tenant.
    pub tenant_id: String,
    /// Human-readable name.
    pub name: String,
    /// Control model.
    pub control_model_id: String,
    /// Control version.
    pub control_version: String,
    /// Treatment model.
    pub treatment_model_id: String,
    /// Treatment version.
    pub treatment_version: String,
    /// Share of users sent to treatment.
    pub treatment_fraction: f64,
    /// Decision metric.
    pub primary_metric: String,
    /// Minimum relative improvement.
    pub minimum_improvement: f64,
    /// Statistical confidence.
    pub confidence_level: f64,
    /// Longest run in hours.
    pub max_duration_hours: u32,
    /// Units per group before deciding "no difference".
    pub min_sample_size: u64,
    /// Error-rate degradation that triggers a rollback.
    pub auto_rollback_threshold: f64,
    /// Monitor window in minutes.
    pub rollback_window_minutes: u32,
    /// active, completed or rolled_back.
    pub status: AbStatus,
    /// How it ended, once it has.
    pub outcome: Option<AbOutcome>,
    /// Why it ended (auto-rollback message, ...).
    pub reason: Option<String>,
    /// Start (RFC 3339).
    pub started_at: String,
    /// End (RFC 3339), once ended.
    pub ended_at: Option<String>,
    /// Optimistic-concurrency version (the ETag); bumps on every change.
    pub version: i64,
    /// Service whose filter config carries the test (the control model id).
    pub service: String,
    /// Cluster of the control version, from the registry.
    pub control_cluster: String,
    /// Cluster of the treatment version, from the registry.
    pub treatment_cluster: String,
    /// Exclusive layer of the test, when it has one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Object>)]
    pub layer: Option<LayerConfig>,
}

impl AbTest {
    /// Start as unix milliseconds.
    pub fn started_ms(&self) -> i64 {
        crate::time::parse_rfc3339(&self.started_at).unwrap_or(0)
    }
}

/// `GET /ab-tests`.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct AbTestList {
    /// This tenant's tests, oldest first.
    pub items: Vec<AbTest>,
    /// Items on this page.
    pub limit: i64,
    /// Items skipped.
    pub offset: i64,
    /// All of this tenant's tests.
    pub total: i64,
}

/// The tunable fields shared by create and update, checked together.
pub struct Tunables<'a> {
    /// Name.
    pub name: &'a str,
    /// Treatment share.
    pub treatment_fraction: f64,
    /// Metric.
    pub primary_metric: &'a str,
    /// Minimum improvement.
    pub minimum_improvement: f64,
    /// Confidence.
    pub confidence_level: f64,
    /// Maximum duration.
    pub max_duration_hours: u32,
    /// Minimum sample.
    pub min_sample_size: u64,
    /// Rollback threshold.
    pub auto_rollback_threshold: f64,
    /// Monitor window.
    pub rollback_window_minutes: u32,
}

impl Tunables<'_> {
    /// Checks every field, naming the first bad one.
    pub fn validate(&self) -> ApiResult<()> {
        validate::text("name", self.name, 200)?;
        validate::fraction_bp("treatment_fraction", self.treatment_fraction)?;
        validate::label("primary_metric", self.primary_metric)?;
        validate::closed_interval("minimum_improvement", self.minimum_improvement, 0.0, 100.0)?;
        validate::open_interval("confidence_level", self.confidence_level, 0.5, 1.0)?;
        validate::at_least("max_duration_hours", u64::from(self.max_duration_hours), 1)?;
        validate::at_least("min_sample_size", self.min_sample_size, 1)?;
        validate::closed_interval(
            "auto_rollback_threshold",
            self.auto_rollback_threshold,
            0.0,
            1.0,
        )?;
        validate::at_least(
            "rollback_window_minutes",
            u64::from(self.rollback_window_minutes),
            1,
        )?;
        Ok(())
    }
}

impl AbTest {
    /// The tunable fields of this test.
    pub fn tunables(&self) -> Tunables<'_> {
        Tunables {
            name: &self.name,
            treatment_fraction: self.treatment_fraction,
            primary_metric: &self.primary_metric,
            minimum_improvement: self.minimum_improvement,
            confidence_level: self.confidence_level,
            max_duration_hours: self.max_duration_hours,
            min_sample_size: self.min_sample_size,
            auto_rollback_threshold: self.auto_rollback_threshold,
            rollback_window_minutes: self.rollback_window_minutes,
        }
    }

    /// Applies an update (not yet validated).
    pub fn apply(&mut self, update: AbTestUpdate) {
        if let Some(v) = update.name {
            self.name = v;
        }
        if let Some(v) = update.treatment_fraction {
            self.treatment_fraction = v;
        }
        if let Some(v) = update.primary_metric {
            self.primary_metric = v;
        }
        if let Some(v) = update.minimum_improvement {
            self.minimum_improvement = v;
        }
        if let Some(v) = update.confidence_level {
            self.confidence_level = v;
        }
        if let Some(v) = update.max_duration_hours {
            self.max_duration_hours = v;
        }
        if let Some(v) = update.min_sample_size {
            self.min_sample_size = v;
        }
        if let Some(v) = update.auto_rollback_threshold {
            self.auto_rollback_threshold = v;
        }
        if let Some(v) = update.rollback_window_minutes {
            self.rollback_window_minutes = v;
        }
    }
}

fn default_treatment_fraction() -> f64 {
    0.2
}
fn default_primary_metric() -> String {
    "accuracy".to_string()
}
fn default_minimum_improvement() -> f64 {
    0.01
}
fn default_confidence_level() -> f64 {
    0.95
}
fn default_max_duration_hours() -> u32 {
    168
}
fn default_min_sample_size() -> u64 {
    1000
}
fn default_auto_rollback_threshold() -> f64 {
    0.05
}
fn default_rollback_window_minutes() -> u32 {
    15
}
