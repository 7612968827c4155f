//! Gates: what is measured (PromQL), the condition it must meet, and how failures and missing
//! data are treated. Evaluation is pure ([`evaluate`]); the Prometheus IO is in
//! [`crate::prometheus`].

mod condition;
mod evaluate;
pub mod sequential;
mod srm;
mod template;

pub use condition::{CompareOp, Condition};
pub use evaluate::{
    evaluate, evaluate_sampled, GateOutcome, GateQueries, GateResults, GateVerdict, QueryResult,
};
pub use srm::{
    evaluate_srm, srm_window_ms, SrmEvidence, MIN_SRM_EXPOSURES, SRM_EXPOSURES_QUERY,
    SRM_P_THRESHOLD,
};
pub use template::{render_query, BuiltinTemplate, QueryVars};

use serde::{Deserialize, Serialize};

/// What a gate measures.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum GateSource {
    /// A built-in template evaluated for the canary.
    Template(BuiltinTemplate),
    /// A custom PromQL template evaluated for the canary.
    Query(String),
    /// Canary minus stable of a built-in template (seed 001's `auto_rollback_threshold`).
    Compare(BuiltinTemplate),
    /// The built-in sample-ratio-mismatch check (`template: srm`): exposures of both variants
    /// against the pushed weights; a mismatch invalidates the step ([`evaluate_srm`]).
    Srm,
    /// The sequential comparison (`sequential: error_rate`): canary vs stable error counts
    /// since the step started, judged by an always-valid mSPRT against a tolerance
    /// ([`sequential::evaluate_sequential`]): rollback, advance early or keep collecting.
    Sequential(sequential::SequentialSettings),
}

/// What a gate result with no data (no series, NaN, Prometheus down) counts as.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum NoDataPolicy {
    /// Counts as a failed check.
    Fail,
    /// Counts as a passed check.
    Pass,
    /// Pauses the rollout; it is never promoted on missing data.
    #[default]
    Inconclusive,
}

/// Default `min_samples` of the built-in templates and comparisons: responses of each
/// measured variant over the gate's window before its value is judged (seed 001's "continue
/// testing" while samples are below the minimum).
pub const DEFAULT_MIN_SAMPLES: u64 = 100;

/// PromQL template counting one variant's responses over the gate's window: the sample count
/// of the built-in templates and comparisons.
pub const SAMPLES_QUERY: &str = r#"sum(increase(rollgate_responses_total{experiment="{{experiment}}",variant="{{variant}}"}[{{interval}}]))"#;

/// One validated gate of a rollout.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Gate {
    /// Unique name, used in state, metrics and messages.
    pub name: String,
    /// What is measured.
    pub source: GateSource,
    /// What the value must satisfy.
    pub condition: Condition,
    /// Period between checks, in milliseconds.
    pub interval_ms: u64,
    /// Range of the query (`{{interval}}`), in milliseconds; 0 (older stored plans) means the
    /// interval. Validation sets it to the gate's `window`, else the larger of the interval
    /// and 4 × `spec.prometheus.scrape_interval`, so `rate()` always has samples.
    #[serde(default)]
    pub window_ms: u64,
    /// Fewest samples (responses) of each measured variant over the window before the value
    /// is judged; below it the check has no data. 0: not checked.
    #[serde(default)]
    pub min_samples: u64,
    /// PromQL template counting a custom `query` gate's samples (the built-ins count
    /// responses, [`SAMPLES_QUERY`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub samples_query: Option<String>,
    /// Consecutive failed checks that roll the canary back (at least 1).
    pub failure_limit: u32,
    /// What a check without data counts as.
    pub no_data: NoDataPolicy,
}

impl Gate {
    /// The query range (`{{interval}}`) in milliseconds.
    pub fn window(&self) -> u64 {
        if self.window_ms == 0 {
            self.interval_ms
        } else {
            self.window_ms
        }
    }

    /// The template counting this gate's samples, when it counts them: [`SAMPLES_QUERY`] for
    /// the built-ins and comparisons, `samples_query` for custom queries, none for `srm`
    /// (which counts exposures itself).
    pub fn samples_template(&self) -> Option<&str> {
        if self.min_samples == 0 {
            return None;
        }
        match &self.source {
            GateSource::Template(_) | GateSource::Compare(_) => Some(SAMPLES_QUERY),
            GateSource::Query(_) => self.samples_query.as_deref(),
            GateSource::Srm | GateSource::Sequential(_) => None,
        }
    }
}
