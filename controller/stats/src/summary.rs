//! Running sufficient statistics: what an API keeps per variant so it can run z and t tests
//! without storing raw values. Both types merge associatively (partial aggregates from several
//! sidecars, windows or database rows combine into the same result).

use serde::{Deserialize, Serialize};

use crate::error::StatsError;

/// Conversions of a binary metric: `successes` out of `total` units.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct ProportionCounts {
    /// Units with the outcome (conversions, errors, ...).
    pub successes: u64,
    /// Units observed.
    pub total: u64,
}

impl ProportionCounts {
    /// Builds counts, checking `successes <= total`; `field` names them in errors.
    pub fn new(successes: u64, total: u64, field: &str) -> Result<Self, StatsError> {
        let counts = ProportionCounts { successes, total };
        counts.validate(field)?;
        Ok(counts)
    }

    /// Checks `successes <= total` and `total > 0`.
    pub fn validate(&self, field: &str) -> Result<(), StatsError> {
        if self.total == 0 {
            return Err(StatsError::invalid(
                format!("{field}.total"),
                "must be greater than 0 (no units observed yet)",
            ));
        }
        if self.successes > self.total {
            return Err(StatsError::invalid(
                format!("{field}.successes"),
                format!(
                    "{} successes exceed total {}; successes must be <= total",
                    self.successes, self.total
                ),
            ));
        }
        Ok(())
    }

    /// Records one unit.
    pub fn push(&mut self, success: bool) {
        self.total += 1;
        self.successes += u64::from(success);
    }

    /// Adds another aggregate of the same variant.
    pub fn merge(&mut self, other: &ProportionCounts) {
        self.successes += other.successes;
        self.total += other.total;
    }

    /// Observed rate successes / total (0 when total is 0).
    pub fn rate(&self) -> f64 {
        if self.total == 0 {
            0.0
        } else {
            self.successes as f64 / self.total as f64
        }
    }
}

/// Count, mean and sum of squared deviations of a continuous metric (Welford / Chan et al.),
/// numerically stable where raw sums of squares would cancel.
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize, Deserialize)]
pub struct MeanSummary {
    /// Number of values.
    pub count: u64,
    /// Arithmetic mean of the values (0 when empty).
    pub mean: f64,
    /// Sum of squared deviations from the mean, Σ (x - mean)².
    pub m2: f64,
}

impl MeanSummary {
    /// Summary of a slice with the two-pass algorithm numpy uses (mean, then squared deviations).
    pub fn from_values(values: &[f64]) -> Self {
        if values.is_empty() {
            return MeanSummary::default();
        }
        let n = values.len() as f64;
        let mean = values.iter().sum::<f64>() / n;
        let m2 = values.iter().map(|x| (x - mean) * (x - mean)).sum();
        MeanSummary {
            count: values.len() as u64,
            mean,
            m2,
        }
    }

    /// Summary from raw sums (count, Σx, Σx²), as kept by a store that only adds numbers.
    /// Loses precision when the mean is large next to the spread; prefer [`MeanSummary::merge`].
    pub fn from_sums(count: u64, sum: f64, sum_squares: f64) -> Self {
        if count == 0 {
            return MeanSummary::default();
        }
        let mean = sum / count as f64;
        let m2 = (sum_squares - sum * mean).max(0.0);
        MeanSummary { count, mean, m2 }
    }

    /// Summary from a reported mean and sample variance (ddof = 1).
    pub fn from_mean_variance(count: u64, mean: f64, variance: f64) -> Self {
        let m2 = if count > 1 {
            variance * (count - 1) as f64
        } else {
            0.0
        };
        MeanSummary { count, mean, m2 }
    }

    /// Adds one value (Welford's update).
    pub fn push(&mut self, x: f64) {
        self.count += 1;
        let delta = x - self.mean;
        self.mean += delta / self.count as f64;
        self.m2 += delta * (x - self.mean);
    }

    /// Combines another summary of the same variant (Chan et al. parallel update).
    pub fn merge(&mut self, other: &MeanSummary) {
        if other.count == 0 {
            return;
        }
        if self.count == 0 {
            *self = *other;
            return;
        }
        let n_a = self.count as f64;
        let n_b = other.count as f64;
        let n = n_a + n_b;
        let delta = other.mean - self.mean;
        self.mean += delta * n_b / n;
        self.m2 += other.m2 + delta * delta * n_a * n_b / n;
        self.count += other.count;
    }

    /// Sum of the values, count · mean.
    pub fn sum(&self) -> f64 {
        self.mean * self.count as f64
    }

    /// Sum of squared values, m2 + count · mean².
    pub fn sum_squares(&self) -> f64 {
        self.m2 + self.count as f64 * self.mean * self.mean
    }

    /// Sample variance with ddof = 1 (0 for fewer than two values).
    pub fn variance(&self) -> f64 {
        if self.count < 2 {
            0.0
        } else {
            self.m2 / (self.count - 1) as f64
        }
    }

    /// Checks that there are at least `min` values; `field` names the sample in the error.
    pub fn require_count(&self, min: u64, field: &str) -> Result<(), StatsError> {
        if self.count < min {
            return Err(StatsError::invalid(
                field,
                format!("needs at least {min} values, got {}", self.count),
            ));
        }
        if !self.mean.is_finite() || !self.m2.is_finite() {
            return Err(StatsError::invalid(
                field,
                "contains non-finite values (NaN or infinity); remove them",
            ));
        }
        Ok(())
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn merge_equals_one_pass() {
        let a = [1.0, 2.5, 3.0, 10.0];
        let b = [4.0, -2.0, 7.5];
        let mut left = MeanSummary::from_values(&a);
        left.merge(&MeanSummary::from_values(&b));
        let mut streamed = MeanSummary::default();
        a.iter().chain(b.iter()).for_each(|x| streamed.push(*x));
        let all: Vec<f64> = a.iter().chain(b.iter()).copied().collect();
        let whole = MeanSummary::from_values(&all);
        for s in [left, streamed] {
            assert_eq!(s.count, whole.count);
            assert!((s.mean - whole.mean).abs() < 1e-12);
            assert!((s.variance() - whole.variance()).abs() < 1e-12);
        }
        let from_sums = MeanSummary::from_sums(whole.count, whole.sum(), whole.sum_squares());
        assert!((from_sums.variance() - whole.variance()).abs() < 1e-9);
    }

    #[test]
    fn proportion_counts_validate_and_merge() {
        assert!(ProportionCounts::new(5, 4, "control").is_err());
        assert_eq!(
            ProportionCounts::new(0, 0, "treatment").map_err(|e| e.field().to_string()),
            Err("treatment.total".to_string())
        );
        let mut c = ProportionCounts::new(3, 10, "c").unwrap();
        c.merge(&ProportionCounts {
            successes: 2,
            total: 5,
        });
        c.push(true);
        assert_eq!(
            c,
            ProportionCounts {
                successes: 6,
                total: 16
            }
        );
    }
}
