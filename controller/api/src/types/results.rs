//! `GET /ab-tests/{id}/results`: the statistics module's answer for the primary metric.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// One arm's aggregate.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct ArmSummary {
    /// Events of the metric.
    pub count: u64,
    /// Mean value (the rate for a binary metric).
    pub mean: f64,
    /// Sample standard deviation (ddof 1; 0 below 2 values).
    pub std_dev: f64,
}

/// Sample-ratio mismatch check of the arms' counts against the configured split.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct SrmSummary {
    /// Chi-squared statistic.
    pub statistic: f64,
    /// p-value.
    pub p_value: f64,
    /// Whether the split is off (p below 0.001).
    pub mismatch: bool,
}

/// Statistics and the seed 001 decision.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct AbResults {
    /// The test.
    pub experiment_id: String,
    /// Its status.
    pub status: String,
    /// Metric analysed (default the primary metric).
    pub metric: String,
    /// `higher_is_better` or `lower_is_better` (names with error/latency/loss are lower).
    pub direction: String,
    /// Test run: two_proportion_z, welch_t, student_t, mann_whitney_u, cuped or ratio_delta;
    /// none without enough data.
    pub test: Option<String>,
    /// Control arm.
    pub control: ArmSummary,
    /// Treatment arm.
    pub treatment: ArmSummary,
    /// Test statistic (z, t or U of treatment).
    pub statistic: Option<f64>,
    /// Two-sided p-value.
    pub p_value: Option<f64>,
    /// Confidence interval of the difference (not for rank tests).
    pub ci: Option<[f64; 2]>,
    /// Treatment minus control (CUPED: of the adjusted means; ratio_delta: of the ratios).
    pub difference: Option<f64>,
    /// Relative lift (difference / control).
    pub lift: Option<f64>,
    /// Cohen's d (t-tests) or rank-biserial correlation (Mann-Whitney).
    pub effect_size: Option<f64>,
    /// p below 1 - confidence_level.
    pub significant: bool,
    /// CUPED: cov(X, Y) / var(X) over both arms (null for other tests).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub theta: Option<f64>,
    /// CUPED: 1 - var(adjusted) / var(values) over both arms.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub variance_reduction: Option<f64>,
    /// ratio_delta: control Σmetric / Σdenominator.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub control_ratio: Option<f64>,
    /// ratio_delta: treatment Σmetric / Σdenominator.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub treatment_ratio: Option<f64>,
    /// ratio_delta: delta-method standard error of the difference.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub se: Option<f64>,
    /// Sample-ratio mismatch check.
    pub srm: Option<SrmSummary>,
    /// promote, continue, keep_control, no_difference or invalid_srm.
    pub decision: String,
    /// Why no test could run, when none did.
    pub note: Option<String>,
}
