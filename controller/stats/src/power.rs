//! Power and sample size for two independent groups, two-sided, like statsmodels
//! `NormalIndPower` and `TTestIndPower` (`power` and `solve_power` for `nobs1`).
//! `ratio` = n_treatment / n_control as in statsmodels (`nobs2 = nobs1 * ratio`).

use serde::Serialize;

use crate::dist::{normal_cdf, normal_isf, normal_sf, t_ppf};
use crate::error::{check_probability, StatsError};
use crate::nct::{nct_cdf, nct_sf};

/// Which approximation of the test's distribution the power calculation uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum PowerModel {
    /// z-test (statsmodels `NormalIndPower`).
    Normal,
    /// Two-sample t-test with pooled variance (statsmodels `TTestIndPower`).
    StudentT,
}

/// Power of the two-sided test with `nobs1` units in the first group and `nobs1 · ratio` in the
/// second, at standardized effect size `effect_size` (Cohen's d).
pub fn power(model: PowerModel, effect_size: f64, nobs1: f64, alpha: f64, ratio: f64) -> f64 {
    let nobs2 = nobs1 * ratio;
    let nobs = 1.0 / (1.0 / nobs1 + 1.0 / nobs2);
    let shift = effect_size * nobs.sqrt();
    match model {
        PowerModel::Normal => {
            let crit = normal_isf(alpha / 2.0);
            normal_sf(crit - shift) + normal_cdf(-crit - shift)
        }
        PowerModel::StudentT => {
            let df = nobs1 + nobs2 - 2.0;
            if df.is_nan() || df <= 0.0 {
                return f64::NAN;
            }
            let crit_upper = -t_ppf(alpha / 2.0, df);
            let crit_lower = t_ppf(alpha / 2.0, df);
            nct_sf(crit_upper, df, shift) + nct_cdf(crit_lower, df, shift)
        }
    }
}

/// Validated inputs of a sample-size question.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SampleSizeQuery {
    /// Standardized effect size (nonzero).
    pub effect_size: f64,
    /// Two-sided significance level.
    pub alpha: f64,
    /// Wanted power.
    pub power: f64,
    /// n_treatment / n_control.
    pub ratio: f64,
}

impl SampleSizeQuery {
    /// Checks every field; errors name `effect_size`, `alpha`, `power` or `ratio`.
    pub fn new(effect_size: f64, alpha: f64, power: f64, ratio: f64) -> Result<Self, StatsError> {
        if !effect_size.is_finite() || effect_size == 0.0 {
            return Err(StatsError::invalid(
                "effect_size",
                format!("must be a finite nonzero number, got {effect_size}"),
            ));
        }
        check_probability("alpha", alpha)?;
        check_probability("power", power)?;
        if power <= alpha {
            return Err(StatsError::invalid(
                "power",
                format!("must exceed alpha ({alpha}); a test reaches power alpha with no data"),
            ));
        }
        if !(ratio.is_finite() && ratio > 0.0) {
            return Err(StatsError::invalid(
                "ratio",
                format!("must be a positive number (n_treatment / n_control), got {ratio}"),
            ));
        }
        Ok(SampleSizeQuery {
            effect_size,
            alpha,
            power,
            ratio,
        })
    }
}

/// Solves for the (fractional) size of the first group reaching the wanted power
/// (statsmodels `solve_power(nobs1=None, ...)`). Round up for a plan.
pub fn solve_nobs1(model: PowerModel, query: &SampleSizeQuery) -> Result<f64, StatsError> {
    let f = |n: f64| power(model, query.effect_size, n, query.alpha, query.ratio) - query.power;
    // The t model needs df >= 1; start where both groups hold a little more than one unit.
    let mut lo = match model {
        PowerModel::Normal => 1e-6,
        PowerModel::StudentT => (3.0 / (1.0 + query.ratio)).max(1.0 + 1e-9),
    };
    let mut hi = lo.max(2.0);
    while f(hi) < 0.0 {
        lo = hi;
        hi *= 2.0;
        if hi > 1e15 {
            return Err(StatsError::invalid(
                "effect_size",
                "is too small: more than 1e15 units per group would be needed",
            ));
        }
    }
    if f(lo) > 0.0 {
        return Ok(lo);
    }
    for _ in 0..200 {
        let mid = 0.5 * (lo + hi);
        if f(mid) < 0.0 {
            lo = mid;
        } else {
            hi = mid;
        }
        if hi - lo <= 1e-13 * hi {
            break;
        }
    }
    Ok(0.5 * (lo + hi))
}

/// Answer to "how many units per group" for a conversion-rate test.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SampleSizePlan {
    /// Effect size used, mde / sqrt(baseline (1 - baseline)).
    pub effect_size: f64,
    /// Exact solution of `TTestIndPower.solve_power` for the control group.
    pub n_control_exact: f64,
    /// Control group size, rounded up.
    pub n_per_group: u64,
    /// Treatment group size, ceil(n_control_exact · ratio).
    pub n_treatment: u64,
    /// Both groups together.
    pub n_total: u64,
}

/// Sample size for detecting an absolute change `mde` from conversion rate `baseline`
/// (seed 004: `TTestIndPower().solve_power(effect_size=mde/sqrt(b(1-b)), ...)`).
pub fn sample_size_for_proportions(
    baseline: f64,
    mde: f64,
    alpha: f64,
    power_wanted: f64,
    ratio: f64,
) -> Result<SampleSizePlan, StatsError> {
    check_probability("baseline", baseline)?;
    if !mde.is_finite() || mde == 0.0 {
        return Err(StatsError::invalid(
            "mde",
            format!("must be a nonzero absolute change in rate (e.g. 0.01), got {mde}"),
        ));
    }
    let effect_size = mde.abs() / (baseline * (1.0 - baseline)).sqrt();
    let query = SampleSizeQuery::new(effect_size, alpha, power_wanted, ratio)?;
    let exact = solve_nobs1(PowerModel::StudentT, &query)?;
    let n_control = exact.ceil() as u64;
    let n_treatment = (exact * ratio).ceil() as u64;
    Ok(SampleSizePlan {
        effect_size,
        n_control_exact: exact,
        n_per_group: n_control,
        n_treatment,
        n_total: n_control + n_treatment,
    })
}
