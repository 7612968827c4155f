//! Sample-ratio mismatch: chi-squared goodness of fit of observed per-variant counts against the
//! configured weights (scipy `chisquare(observed, f_exp=total * weights / sum(weights))`).
//! An SRM means assignment or logging is broken and invalidates every other result.

use serde::Serialize;

use crate::dist::chi2_sf;
use crate::error::StatsError;

/// Alert threshold used by GrowthBook and Eppo: p below it flags a sample-ratio mismatch.
pub const SRM_P_THRESHOLD: f64 = 0.001;

/// Result of [`srm_check`].
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SrmResult {
    /// Pearson's X² goodness-of-fit statistic.
    pub statistic: f64,
    /// Upper-tail p-value with k - 1 degrees of freedom.
    pub p_value: f64,
    /// Degrees of freedom (variants with a nonzero weight, minus one).
    pub dof: u64,
    /// Expected counts per variant.
    pub expected: Vec<f64>,
    /// Whether `p_value < threshold`.
    pub mismatch: bool,
    /// The threshold applied.
    pub threshold: f64,
}

/// Tests observed counts against configured weights (any positive scale: basis points,
/// fractions, percent). A variant with weight 0 must have 0 observations.
pub fn srm_check(
    observed: &[u64],
    weights: &[f64],
    threshold: f64,
) -> Result<SrmResult, StatsError> {
    if observed.len() < 2 {
        return Err(StatsError::invalid(
            "observed",
            format!(
                "needs counts for at least 2 variants, got {}",
                observed.len()
            ),
        ));
    }
    if weights.len() != observed.len() {
        return Err(StatsError::invalid(
            "weights",
            format!(
                "has {} entries but observed has {}; give one weight per variant",
                weights.len(),
                observed.len()
            ),
        ));
    }
    if let Some(i) = weights.iter().position(|w| !w.is_finite() || *w < 0.0) {
        return Err(StatsError::invalid(
            format!("weights[{i}]"),
            format!("must be a finite number >= 0, got {}", weights[i]),
        ));
    }
    if !(threshold > 0.0 && threshold < 1.0) {
        return Err(StatsError::invalid(
            "threshold",
            format!("must be strictly between 0 and 1, got {threshold}"),
        ));
    }
    let weight_sum: f64 = weights.iter().sum();
    let total: f64 = observed.iter().map(|&x| x as f64).sum();
    if weight_sum <= 0.0 {
        return Err(StatsError::invalid("weights", "must not all be 0"));
    }
    if total <= 0.0 {
        return Err(StatsError::invalid(
            "observed",
            "all counts are 0; nothing to check yet",
        ));
    }
    if let Some(i) = (0..weights.len()).find(|&i| weights[i] == 0.0 && observed[i] > 0) {
        return Err(StatsError::invalid(
            format!("observed[{i}]"),
            format!(
                "{} units observed in a variant configured with weight 0: assignment is broken \
                 (sample-ratio mismatch by construction)",
                observed[i]
            ),
        ));
    }
    let mut statistic = 0.0;
    let mut expected = Vec::with_capacity(weights.len());
    let mut categories = 0u64;
    for (&o, &w) in observed.iter().zip(weights) {
        let e = total * w / weight_sum;
        expected.push(e);
        if w > 0.0 {
            let d = o as f64 - e;
            statistic += d * d / e;
            categories += 1;
        }
    }
    let dof = categories.saturating_sub(1);
    let p_value = if dof == 0 {
        1.0
    } else {
        chi2_sf(statistic, dof as f64)
    };
    Ok(SrmResult {
        statistic,
        p_value,
        dof,
        expected,
        mismatch: p_value < threshold,
        threshold,
    })
}
