//! The seed 001 decision table turning a test result into an action.
//!
//! | decision       | condition                                                  |
//! |----------------|------------------------------------------------------------|
//! | `invalid_srm`  | sample-ratio mismatch detected (overrides everything)      |
//! | `promote`      | p < α and improvement ≥ minimum improvement                |
//! | `keep_control` | p < α and improvement < 0 (treatment is worse)             |
//! | `continue`     | not decided yet and n < min sample size                    |
//! | `no_difference`| not significant (or below the minimum) and n ≥ min sample  |
//!
//! "Improvement" is the relative lift (treatment - control) / control, sign-flipped for metrics
//! where lower is better (error rate, latency). A significant gain smaller than the minimum
//! improvement is not worth a promotion: it counts as no difference once the sample is complete.

use serde::{Deserialize, Serialize};

/// Whether larger values of the metric are better.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Direction {
    /// Conversion, accuracy, revenue: larger is better.
    #[default]
    HigherIsBetter,
    /// Error rate, latency: smaller is better.
    LowerIsBetter,
}

/// What to do with the experiment.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Decision {
    /// Replace control with treatment.
    Promote,
    /// Collect more data.
    Continue,
    /// Treatment is significantly worse: keep control.
    KeepControl,
    /// Enough data and no worthwhile difference.
    NoDifference,
    /// Sample-ratio mismatch: the data cannot be trusted, fix assignment first.
    InvalidSrm,
}

/// The decision criteria of an experiment (seed 001 `ABTestConfig`).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct DecisionCriteria {
    /// Significance level α = 1 - confidence level.
    pub alpha: f64,
    /// Minimum relative improvement worth promoting (0.01 = 1 %).
    pub minimum_improvement: f64,
    /// Units per group needed before "no difference" can be concluded.
    pub min_sample_size: u64,
    /// Whether larger is better for the metric.
    pub direction: Direction,
}

impl Default for DecisionCriteria {
    fn default() -> Self {
        DecisionCriteria {
            alpha: 0.05,
            minimum_improvement: 0.01,
            min_sample_size: 1000,
            direction: Direction::HigherIsBetter,
        }
    }
}

/// The evidence a decision is based on.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Evidence {
    /// p-value of the primary test (fixed-horizon or always-valid).
    pub p_value: f64,
    /// Relative lift, treatment minus control over control (`None` if the control is 0).
    pub lift: Option<f64>,
    /// Absolute difference, treatment minus control (used for the sign when lift is `None`).
    pub difference: f64,
    /// Units in the smaller group.
    pub sample_size: u64,
    /// Whether a sample-ratio mismatch was detected.
    pub srm_mismatch: bool,
}

/// Applies the decision table.
pub fn decide(evidence: &Evidence, criteria: &DecisionCriteria) -> Decision {
    if evidence.srm_mismatch {
        return Decision::InvalidSrm;
    }
    let sign = match criteria.direction {
        Direction::HigherIsBetter => 1.0,
        Direction::LowerIsBetter => -1.0,
    };
    let improvement_sign = sign * evidence.difference;
    let enough = evidence.sample_size >= criteria.min_sample_size;
    if evidence.p_value < criteria.alpha {
        if improvement_sign < 0.0 {
            return Decision::KeepControl;
        }
        let worthwhile = match evidence.lift {
            Some(lift) => sign * lift >= criteria.minimum_improvement,
            // Control at 0: any significant gain is infinitely large in relative terms.
            None => improvement_sign > 0.0,
        };
        if worthwhile {
            return Decision::Promote;
        }
    }
    if enough {
        Decision::NoDifference
    } else {
        Decision::Continue
    }
}
