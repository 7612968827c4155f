//! Sequential testing that survives peeking: the normal-mixture mSPRT (Johari, Pekelis, Walsh)
//! in GrowthBook's parametrisation. The mixing variance is τ² = ρ² · s², where s² = n · V is the
//! per-unit variance of the estimate (V = its variance, n = units in both groups) and
//! ρ² = (-2 ln α + ln(-2 ln α + 1)) / N*, which makes the confidence sequence tightest when
//! N* units have been seen.
//!
//! Mixture likelihood ratio Λ = sqrt(V / (V + τ²)) · exp(τ² θ̂² / (2 V (V + τ²))); the
//! always-valid p-value is min over looks of 1/Λ, and the confidence sequence is
//! θ̂ ± sqrt(V (V + τ²) / τ² · (ln((V + τ²) / V) - 2 ln α)). Both stay valid at every look.

use serde::Serialize;

use crate::error::{alpha_from_confidence, StatsError};
use crate::summary::{MeanSummary, ProportionCounts};

/// GrowthBook's default tuning parameter N* (expected total sample size).
pub const DEFAULT_N_STAR: f64 = 5000.0;

/// Result of one look of the sequential test.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SequentialResult {
    /// Estimated difference, treatment minus control.
    pub difference: f64,
    /// The z statistic θ̂ / sqrt(V) (for display; the decision uses `p_value`).
    pub statistic: f64,
    /// Always-valid p-value of this look, min(1, 1/Λ). Keep the running minimum across looks
    /// with [`SequentialMonitor`].
    pub p_value: f64,
    /// Confidence-sequence interval of the difference at the requested confidence.
    pub ci: [f64; 2],
    /// Whether the interval excludes 0 (equivalently `p_value < alpha`).
    pub significant: bool,
}

/// mSPRT on a difference `difference` whose estimate has variance `variance`, after `n_total`
/// units, at `confidence`, with tuning parameter `n_star`.
pub fn msprt(
    difference: f64,
    variance: f64,
    n_total: f64,
    confidence: f64,
    n_star: f64,
) -> Result<SequentialResult, StatsError> {
    let alpha = alpha_from_confidence(confidence)?;
    if !(n_star.is_finite() && n_star > 0.0) {
        return Err(StatsError::invalid(
            "n_star",
            format!("must be a positive expected sample size, got {n_star}"),
        ));
    }
    if !(variance.is_finite() && variance > 0.0) {
        return Err(StatsError::zero_variance(
            "treatment",
            "the difference has zero variance (no outcome varies yet); wait for more data",
        ));
    }
    let rho2 = (-2.0 * alpha.ln() + (-2.0 * alpha.ln() + 1.0).ln()) / n_star;
    let tau2 = rho2 * variance * n_total;
    let v = variance;
    let log_lr =
        0.5 * (v / (v + tau2)).ln() + tau2 * difference * difference / (2.0 * v * (v + tau2));
    let p_value = (-log_lr).exp().min(1.0);
    let half = (v * (v + tau2) / tau2 * (((v + tau2) / v).ln() - 2.0 * alpha.ln())).sqrt();
    let ci = [difference - half, difference + half];
    Ok(SequentialResult {
        difference,
        statistic: difference / v.sqrt(),
        p_value,
        ci,
        significant: p_value < alpha,
    })
}

/// Sequential test of a difference in conversion rates (unpooled variance).
pub fn sequential_proportions(
    control: ProportionCounts,
    treatment: ProportionCounts,
    confidence: f64,
    n_star: f64,
) -> Result<SequentialResult, StatsError> {
    control.validate("control")?;
    treatment.validate("treatment")?;
    let (p_c, p_t) = (control.rate(), treatment.rate());
    let (n_c, n_t) = (control.total as f64, treatment.total as f64);
    let variance = p_c * (1.0 - p_c) / n_c + p_t * (1.0 - p_t) / n_t;
    msprt(p_t - p_c, variance, n_c + n_t, confidence, n_star)
}

/// Sequential test of a difference in means (Welch variance of the difference).
pub fn sequential_means(
    control: &MeanSummary,
    treatment: &MeanSummary,
    confidence: f64,
    n_star: f64,
) -> Result<SequentialResult, StatsError> {
    control.require_count(2, "control.values")?;
    treatment.require_count(2, "treatment.values")?;
    let (n_c, n_t) = (control.count as f64, treatment.count as f64);
    let variance = control.variance() / n_c + treatment.variance() / n_t;
    msprt(
        treatment.mean - control.mean,
        variance,
        n_c + n_t,
        confidence,
        n_star,
    )
}

/// Keeps the running minimum p-value and the running intersection of intervals across looks,
/// which is what makes them always valid.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct SequentialMonitor {
    /// Smallest p-value seen so far (1 before any look).
    pub p_value: f64,
    /// Intersection of all intervals seen so far.
    pub ci: [f64; 2],
}

impl Default for SequentialMonitor {
    fn default() -> Self {
        SequentialMonitor {
            p_value: 1.0,
            ci: [f64::NEG_INFINITY, f64::INFINITY],
        }
    }
}

impl SequentialMonitor {
    /// Folds in one look and returns the always-valid p-value so far.
    pub fn observe(&mut self, look: &SequentialResult) -> f64 {
        self.p_value = self.p_value.min(look.p_value);
        self.ci = [self.ci[0].max(look.ci[0]), self.ci[1].min(look.ci[1])];
        self.p_value
    }
}
