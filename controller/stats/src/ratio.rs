//! Ratio metrics by the delta method (Deng, Knoblich, Lu 2018): one (numerator, denominator)
//! pair per unit, e.g. clicks and sessions per user, where the unit of analysis (session) is
//! not the unit of randomisation (user), so a naive per-session test understates the variance.
//!
//! Per group R = Σnum / Σden and
//! Var(R) = (1/n) · (s²_num / μ²_den − 2 μ_num · s_num,den / μ³_den + μ²_num · s²_den / μ⁴_den)
//! with sample (ddof 1) variances and covariance. The difference of the two ratios is tested
//! with a two-sided normal z-test.

use serde::Serialize;

use crate::dist::{normal_ppf, normal_sf};
use crate::error::{alpha_from_confidence, check_sample, StatsError};

/// One group's per-unit numerators and denominators (same order, same length).
#[derive(Debug, Clone, Copy)]
pub struct RatioGroup<'a> {
    /// Numerator per unit (e.g. clicks).
    pub numerator: &'a [f64],
    /// Denominator per unit (e.g. sessions).
    pub denominator: &'a [f64],
}

/// One group's ratio and its delta-method variance.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct RatioEstimate {
    /// Σnum / Σden.
    pub ratio: f64,
    /// Delta-method variance of the ratio.
    pub variance: f64,
    /// Units.
    pub n: u64,
}

/// Result of [`ratio_delta`].
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RatioDeltaResult {
    /// Control Σnum / Σden.
    pub control_ratio: f64,
    /// Treatment Σnum / Σden.
    pub treatment_ratio: f64,
    /// Treatment ratio minus control ratio.
    pub difference: f64,
    /// sqrt(Var_t + Var_c).
    pub se: f64,
    /// difference / se.
    pub statistic: f64,
    /// Two-sided normal p-value.
    pub p_value: f64,
    /// Normal confidence interval of the difference.
    pub ci: [f64; 2],
    /// difference / control_ratio; `None` when the control ratio is 0.
    pub lift: Option<f64>,
    /// Whether `p_value < 1 - confidence`.
    pub significant: bool,
}

/// Ratio and delta-method variance of one group; `name` prefixes the fields in errors.
pub fn ratio_estimate(group: RatioGroup, name: &str) -> Result<RatioEstimate, StatsError> {
    check_sample(group.numerator, &format!("{name}.numerator"))?;
    check_sample(group.denominator, &format!("{name}.denominator"))?;
    if group.numerator.len() != group.denominator.len() {
        return Err(StatsError::invalid(
            format!("{name}.denominator"),
            format!(
                "lengths differ: {} denominators for {} numerators; give one pair per unit",
                group.denominator.len(),
                group.numerator.len()
            ),
        ));
    }
    let n = group.numerator.len();
    if n < 2 {
        return Err(StatsError::invalid(
            format!("{name}.numerator"),
            "needs at least 2 units for the sample variances",
        ));
    }
    let nf = n as f64;
    let mu_num = group.numerator.iter().sum::<f64>() / nf;
    let mu_den = group.denominator.iter().sum::<f64>() / nf;
    if mu_den == 0.0 {
        return Err(StatsError::invalid(
            format!("{name}.denominator"),
            "sums to 0, so the ratio is undefined; every unit needs a denominator > 0 on average",
        ));
    }
    let (mut s_nn, mut s_dd, mut s_nd) = (0.0, 0.0, 0.0);
    for (a, b) in group.numerator.iter().zip(group.denominator) {
        let (da, db) = (a - mu_num, b - mu_den);
        s_nn += da * da;
        s_dd += db * db;
        s_nd += da * db;
    }
    let (var_num, var_den, cov) = (s_nn / (nf - 1.0), s_dd / (nf - 1.0), s_nd / (nf - 1.0));
    let variance = (var_num / mu_den.powi(2) - 2.0 * mu_num * cov / mu_den.powi(3)
        + mu_num.powi(2) * var_den / mu_den.powi(4))
        / nf;
    Ok(RatioEstimate {
        ratio: mu_num / mu_den,
        variance,
        n: n as u64,
    })
}

/// Delta-method z-test of the treatment ratio against the control ratio.
pub fn ratio_delta(
    control: RatioGroup,
    treatment: RatioGroup,
    confidence: f64,
) -> Result<RatioDeltaResult, StatsError> {
    let alpha = alpha_from_confidence(confidence)?;
    let c = ratio_estimate(control, "control")?;
    let t = ratio_estimate(treatment, "treatment")?;
    let se = (c.variance + t.variance).max(0.0).sqrt();
    if !(se > 0.0 && se.is_finite()) {
        return Err(StatsError::zero_variance(
            "treatment.numerator",
            "both ratios have zero delta-method variance (every unit has the same ratio), so \
             the z statistic is undefined; compare the ratios directly",
        ));
    }
    let difference = t.ratio - c.ratio;
    let statistic = difference / se;
    let p_value = (2.0 * normal_sf(statistic.abs())).min(1.0);
    let half = normal_ppf(1.0 - alpha / 2.0) * se;
    Ok(RatioDeltaResult {
        control_ratio: c.ratio,
        treatment_ratio: t.ratio,
        difference,
        se,
        statistic,
        p_value,
        ci: [difference - half, difference + half],
        lift: (c.ratio != 0.0).then(|| difference / c.ratio),
        significant: p_value < alpha,
    })
}
