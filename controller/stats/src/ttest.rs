//! Student and Welch two-sample t-tests with confidence intervals of the difference in means
//! (scipy `ttest_ind(treatment, control, equal_var=...)` and its `confidence_interval`), and
//! Cohen's d. Work from [`MeanSummary`] so stored aggregates can be tested without raw values.

use serde::Serialize;

use crate::dist::{t_ppf, t_two_sided_p};
use crate::error::{alpha_from_confidence, StatsError};
use crate::summary::MeanSummary;

/// Which variance assumption the t-test makes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum TTestKind {
    /// Equal variances, pooled (Student).
    Student,
    /// Unequal variances, Welch–Satterthwaite degrees of freedom.
    Welch,
}

/// Result of [`t_test`].
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TTestResult {
    /// t statistic of treatment minus control.
    pub statistic: f64,
    /// Two-sided p-value.
    pub p_value: f64,
    /// Degrees of freedom (fractional for Welch).
    pub df: f64,
    /// Treatment mean minus control mean.
    pub difference: f64,
    /// Confidence interval of the difference.
    pub ci: [f64; 2],
    /// Control mean.
    pub control_mean: f64,
    /// Treatment mean.
    pub treatment_mean: f64,
    /// Relative lift difference / control mean; `None` when the control mean is 0.
    pub lift: Option<f64>,
    /// Cohen's d with the pooled (ddof = 1) standard deviation; `None` when it is 0.
    pub cohens_d: Option<f64>,
    /// Whether `p_value < 1 - confidence`.
    pub significant: bool,
}

/// Two-sided two-sample t-test of treatment against control from summaries.
///
/// Errors when a group is too small (Welch needs 2 values per group, Student 1 per group and 3
/// in all) or when the standard error is 0 (all values identical within each group).
pub fn t_test(
    control: &MeanSummary,
    treatment: &MeanSummary,
    kind: TTestKind,
    confidence: f64,
) -> Result<TTestResult, StatsError> {
    let alpha = alpha_from_confidence(confidence)?;
    let min = match kind {
        TTestKind::Welch => 2,
        TTestKind::Student => 1,
    };
    control.require_count(min, "control.values")?;
    treatment.require_count(min, "treatment.values")?;
    let (n_c, n_t) = (control.count as f64, treatment.count as f64);
    if kind == TTestKind::Student && n_c + n_t < 3.0 {
        return Err(StatsError::invalid(
            "treatment.values",
            "Student's t-test needs at least 3 values in all (df = n1 + n2 - 2 >= 1)",
        ));
    }
    let (v_c, v_t) = (control.variance(), treatment.variance());
    let pooled_var = (control.m2 + treatment.m2) / (n_c + n_t - 2.0);
    let (se, df) = match kind {
        TTestKind::Student => (
            (pooled_var * (1.0 / n_c + 1.0 / n_t)).sqrt(),
            n_c + n_t - 2.0,
        ),
        TTestKind::Welch => {
            let (a, b) = (v_t / n_t, v_c / n_c);
            let se2 = a + b;
            let df = se2 * se2 / (a * a / (n_t - 1.0) + b * b / (n_c - 1.0));
            (se2.sqrt(), df)
        }
    };
    if se <= 0.0 || !se.is_finite() {
        return Err(StatsError::zero_variance(
            "treatment.values",
            "both groups have zero variance (every value identical), so the t statistic is \
             undefined; compare the means directly or use mann_whitney_u",
        ));
    }
    let difference = treatment.mean - control.mean;
    let statistic = difference / se;
    let p_value = t_two_sided_p(statistic, df);
    let half = t_ppf(1.0 - alpha / 2.0, df) * se;
    let pooled_sd = pooled_var.sqrt();
    Ok(TTestResult {
        statistic,
        p_value,
        df,
        difference,
        ci: [difference - half, difference + half],
        control_mean: control.mean,
        treatment_mean: treatment.mean,
        lift: (control.mean != 0.0).then(|| difference / control.mean),
        cohens_d: (pooled_sd > 0.0 && pooled_sd.is_finite()).then(|| difference / pooled_sd),
        significant: p_value < alpha,
    })
}

/// [`t_test`] on raw values.
pub fn t_test_values(
    control: &[f64],
    treatment: &[f64],
    kind: TTestKind,
    confidence: f64,
) -> Result<TTestResult, StatsError> {
    t_test(
        &MeanSummary::from_values(control),
        &MeanSummary::from_values(treatment),
        kind,
        confidence,
    )
}
