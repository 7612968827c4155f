//! Two-proportion z-test: pooled standard error for the test (statsmodels `proportions_ztest`),
//! unpooled Wald interval for the difference (statsmodels `confint_proportions_2indep`,
//! `method="wald"`), relative lift. Sign convention: treatment minus control.

use serde::Serialize;

use crate::dist::{normal_isf, normal_sf};
use crate::error::{alpha_from_confidence, StatsError};
use crate::summary::ProportionCounts;

/// Result of [`two_proportion_z`].
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TwoProportionResult {
    /// z statistic with pooled standard error.
    pub statistic: f64,
    /// Two-sided p-value.
    pub p_value: f64,
    /// Control rate.
    pub control_rate: f64,
    /// Treatment rate.
    pub treatment_rate: f64,
    /// Treatment rate minus control rate.
    pub difference: f64,
    /// Unpooled Wald interval of the difference at the requested confidence.
    pub ci: [f64; 2],
    /// Relative lift (treatment - control) / control; `None` when the control rate is 0.
    pub lift: Option<f64>,
    /// Whether `p_value < 1 - confidence`.
    pub significant: bool,
}

/// Two-sided two-proportion z-test of treatment against control.
///
/// When both groups are all successes or all failures the pooled variance is 0; the difference
/// is then exactly 0, and the result is defined as z = 0, p = 1 (statsmodels returns NaN).
pub fn two_proportion_z(
    control: ProportionCounts,
    treatment: ProportionCounts,
    confidence: f64,
) -> Result<TwoProportionResult, StatsError> {
    let alpha = alpha_from_confidence(confidence)?;
    control.validate("control")?;
    treatment.validate("treatment")?;
    let (n_c, n_t) = (control.total as f64, treatment.total as f64);
    let (p_c, p_t) = (control.rate(), treatment.rate());
    let difference = p_t - p_c;
    let pooled = (control.successes as f64 + treatment.successes as f64) / (n_c + n_t);
    let se_pooled = (pooled * (1.0 - pooled) * (1.0 / n_t + 1.0 / n_c)).sqrt();
    let (statistic, p_value) = if se_pooled > 0.0 {
        let z = difference / se_pooled;
        (z, (2.0 * normal_sf(z.abs())).min(1.0))
    } else {
        (0.0, 1.0)
    };
    let se_unpooled = (p_t * (1.0 - p_t) / n_t + p_c * (1.0 - p_c) / n_c).sqrt();
    let z_crit = normal_isf(alpha / 2.0);
    let half = z_crit * se_unpooled;
    let lift = (p_c > 0.0).then(|| difference / p_c);
    Ok(TwoProportionResult {
        statistic,
        p_value,
        control_rate: p_c,
        treatment_rate: p_t,
        difference,
        ci: [difference - half, difference + half],
        lift,
        significant: p_value < alpha,
    })
}
