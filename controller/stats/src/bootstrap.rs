//! Seeded percentile bootstrap confidence interval of a difference (treatment minus control) in
//! the mean or in a quantile such as p99, for skewed metrics (revenue, latency) where a t-test's
//! normality assumption is poor. Quantiles use numpy's default linear interpolation.

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::Serialize;

use crate::error::{alpha_from_confidence, check_sample, StatsError};

/// The statistic compared between the groups.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum BootstrapStatistic {
    /// Arithmetic mean.
    Mean,
    /// Quantile at the given probability (0.99 = p99), linear interpolation.
    Quantile(f64),
}

/// Result of [`bootstrap_difference`].
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct BootstrapResult {
    /// Statistic(treatment) - statistic(control) on the observed data.
    pub difference: f64,
    /// Percentile interval of the resampled differences.
    pub ci: [f64; 2],
    /// Number of resamples drawn.
    pub resamples: usize,
    /// Whether the interval excludes 0.
    pub significant: bool,
}

/// Linear-interpolation quantile (numpy `quantile(method="linear")`); reorders `values`.
pub fn quantile_in_place(values: &mut [f64], q: f64) -> f64 {
    let n = values.len();
    if n == 0 {
        return f64::NAN;
    }
    let h = (n - 1) as f64 * q;
    let k = (h.floor() as usize).min(n - 1);
    let frac = h - k as f64;
    let (_, &mut low, upper) = values.select_nth_unstable_by(k, f64::total_cmp);
    if frac == 0.0 || upper.is_empty() {
        return low;
    }
    let high = upper.iter().copied().fold(f64::INFINITY, f64::min);
    low + frac * (high - low)
}

fn statistic_of(values: &mut [f64], statistic: BootstrapStatistic) -> f64 {
    match statistic {
        BootstrapStatistic::Mean => values.iter().sum::<f64>() / values.len() as f64,
        BootstrapStatistic::Quantile(q) => quantile_in_place(values, q),
    }
}

/// Percentile bootstrap CI of statistic(treatment) - statistic(control), resampling each group
/// with replacement `resamples` times from a ChaCha8 stream seeded with `seed`.
pub fn bootstrap_difference(
    control: &[f64],
    treatment: &[f64],
    statistic: BootstrapStatistic,
    resamples: usize,
    confidence: f64,
    seed: u64,
) -> Result<BootstrapResult, StatsError> {
    let alpha = alpha_from_confidence(confidence)?;
    check_sample(control, "control.values")?;
    check_sample(treatment, "treatment.values")?;
    if let BootstrapStatistic::Quantile(q) = statistic {
        if !(0.0..=1.0).contains(&q) {
            return Err(StatsError::invalid(
                "quantile",
                format!("must be within [0, 1], got {q}"),
            ));
        }
    }
    if resamples < 100 {
        return Err(StatsError::invalid(
            "resamples",
            format!("must be at least 100 for a percentile interval, got {resamples}"),
        ));
    }
    let difference = statistic_of(&mut treatment.to_vec(), statistic)
        - statistic_of(&mut control.to_vec(), statistic);
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut buf_c = vec![0.0; control.len()];
    let mut buf_t = vec![0.0; treatment.len()];
    let mut diffs = Vec::with_capacity(resamples);
    for _ in 0..resamples {
        for slot in buf_c.iter_mut() {
            *slot = control[rng.random_range(0..control.len())];
        }
        for slot in buf_t.iter_mut() {
            *slot = treatment[rng.random_range(0..treatment.len())];
        }
        diffs.push(statistic_of(&mut buf_t, statistic) - statistic_of(&mut buf_c, statistic));
    }
    let low = quantile_in_place(&mut diffs, alpha / 2.0);
    let high = quantile_in_place(&mut diffs, 1.0 - alpha / 2.0);
    Ok(BootstrapResult {
        difference,
        ci: [low, high],
        resamples,
        significant: low > 0.0 || high < 0.0,
    })
}
