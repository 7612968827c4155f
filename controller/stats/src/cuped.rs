//! CUPED (Deng, Xu, Kohavi, Walker 2013): variance reduction with a pre-experiment covariate.
//!
//! With Y the metric and X the same unit's pre-experiment value, pooled over both groups,
//! `theta = cov(X, Y) / var(X)` and each unit's adjusted value is
//! `Y - theta · (X - mean(X))`. The adjusted values keep the treatment effect (X is
//! independent of the assignment) with smaller variance; the comparison is Welch's t-test on
//! them (scipy `ttest_ind(adj_treatment, adj_control, equal_var=False)`).

use serde::Serialize;

use crate::error::{alpha_from_confidence, check_sample, StatsError};
use crate::summary::MeanSummary;
use crate::ttest::{t_test, TTestKind};

/// One group's per-unit metric values and covariates (same order, same length).
#[derive(Debug, Clone, Copy)]
pub struct CupedGroup<'a> {
    /// The metric per unit during the experiment (Y).
    pub values: &'a [f64],
    /// The same unit's pre-experiment value of the metric (X).
    pub covariate: &'a [f64],
}

/// Result of [`cuped`].
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CupedResult {
    /// cov(X, Y) / var(X) over both groups pooled.
    pub theta: f64,
    /// Mean of the adjusted treatment values minus mean of the adjusted control values.
    pub effect: f64,
    /// Welch t statistic of the adjusted values, treatment minus control.
    pub statistic: f64,
    /// Two-sided p-value of that t-test.
    pub p_value: f64,
    /// Welch–Satterthwaite degrees of freedom.
    pub df: f64,
    /// Welch confidence interval of the difference of the adjusted means.
    pub ci: [f64; 2],
    /// 1 - var(adjusted) / var(values), both over the two groups pooled.
    pub variance_reduction: f64,
    /// Adjusted control mean.
    pub control_mean: f64,
    /// Adjusted treatment mean.
    pub treatment_mean: f64,
    /// Treatment minus control of the raw (unadjusted) means, for comparison.
    pub unadjusted_effect: f64,
    /// Whether `p_value < 1 - confidence`.
    pub significant: bool,
}

fn check_group(group: &CupedGroup, name: &str) -> Result<(), StatsError> {
    check_sample(group.values, &format!("{name}.values"))?;
    check_sample(group.covariate, &format!("{name}.covariate"))?;
    if group.values.len() != group.covariate.len() {
        return Err(StatsError::invalid(
            format!("{name}.covariate"),
            format!(
                "lengths differ: {} covariates for {} values; give one pre-experiment value per \
                 unit, in the same order as `{name}.values`",
                group.covariate.len(),
                group.values.len()
            ),
        ));
    }
    if group.values.len() < 2 {
        return Err(StatsError::invalid(
            format!("{name}.values"),
            "needs at least 2 units for Welch's t-test",
        ));
    }
    Ok(())
}

fn mean(xs: impl Iterator<Item = f64> + Clone) -> f64 {
    let n = xs.clone().count() as f64;
    xs.sum::<f64>() / n
}

/// CUPED-adjusted Welch comparison of treatment against control.
///
/// Errors name the field: `control.covariate` when the lengths differ, `covariate` when the
/// covariate does not vary (theta undefined), `treatment.values` when the adjusted values have
/// no variance.
pub fn cuped(
    control: CupedGroup,
    treatment: CupedGroup,
    confidence: f64,
) -> Result<CupedResult, StatsError> {
    alpha_from_confidence(confidence)?;
    check_group(&control, "control")?;
    check_group(&treatment, "treatment")?;
    let xs = || control.covariate.iter().chain(treatment.covariate).copied();
    let ys = || control.values.iter().chain(treatment.values).copied();
    let (mean_x, mean_y) = (mean(xs()), mean(ys()));
    let (mut sxx, mut sxy, mut syy) = (0.0, 0.0, 0.0);
    for (x, y) in xs().zip(ys()) {
        let (dx, dy) = (x - mean_x, y - mean_y);
        sxx += dx * dx;
        sxy += dx * dy;
        syy += dy * dy;
    }
    if !(sxx > 0.0 && sxx.is_finite()) {
        return Err(StatsError::zero_variance(
            "covariate",
            "the covariate is identical for every unit, so theta = cov(X, Y) / var(X) is \
             undefined; use a pre-experiment metric that varies, or welch_t without CUPED",
        ));
    }
    let theta = sxy / sxx;
    let adjust = |group: &CupedGroup| -> Vec<f64> {
        group
            .values
            .iter()
            .zip(group.covariate)
            .map(|(y, x)| y - theta * (x - mean_x))
            .collect()
    };
    let (adj_c, adj_t) = (adjust(&control), adjust(&treatment));
    let mut pooled = MeanSummary::from_values(&adj_c);
    pooled.merge(&MeanSummary::from_values(&adj_t));
    // var(adjusted) / var(values): the ddof cancels; m2 is Σ(a - mean)².
    let variance_reduction = if syy > 0.0 {
        1.0 - pooled.m2 / syy
    } else {
        0.0
    };
    let r = t_test(
        &MeanSummary::from_values(&adj_c),
        &MeanSummary::from_values(&adj_t),
        TTestKind::Welch,
        confidence,
    )?;
    Ok(CupedResult {
        theta,
        effect: r.difference,
        statistic: r.statistic,
        p_value: r.p_value,
        df: r.df,
        ci: r.ci,
        variance_reduction,
        control_mean: r.control_mean,
        treatment_mean: r.treatment_mean,
        unadjusted_effect: mean(treatment.values.iter().copied())
            - mean(control.values.iter().copied()),
        significant: r.significant,
    })
}
