//! Gates: what is measured (PromQL), the condition it must meet, and how failures and missing
//! data are treated. Evaluation is pure ([`evaluate`]); the Prometheus IO is in
//! [`crate::prometheus`].

mod condition;
mod evaluate;
mod srm;
mod template;

pub use condition::{CompareOp, Condition};
pub use evaluate::{evaluate, GateOutcome, GateQueries, GateVerdict, QueryResult};
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

/// One validated gate of a rollout.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Gate {
    /// Unique name, used in state, metrics and messages.
    pub name: String,
    /// What is measured.
    pub source: GateSource,
    /// What the value must satisfy.
    pub condition: Condition,
    /// Range of the query (`{{interval}}`) and period between checks, in milliseconds.
    pub interval_ms: u64,
    /// Consecutive failed checks that roll the canary back (at least 1).
    pub failure_limit: u32,
    /// What a check without data counts as.
    pub no_data: NoDataPolicy,
}
