//! CUPED and ratio-metric (delta method) tests of the analyze contract.

use serde_json::{json, Value};

use super::fields::Obj;
use crate::cuped::{cuped as cuped_test, CupedGroup};
use crate::error::StatsError;
use crate::ratio::{ratio_delta as ratio_test, RatioGroup};

pub(super) fn cuped(root: &Obj, confidence: f64) -> Result<Value, StatsError> {
    let c = root.object("control", "control")?;
    let t = root.object("treatment", "treatment")?;
    let (c_values, c_cov) = (c.samples("values")?, c.samples("covariate")?);
    let (t_values, t_cov) = (t.samples("values")?, t.samples("covariate")?);
    let r = cuped_test(
        CupedGroup {
            values: &c_values,
            covariate: &c_cov,
        },
        CupedGroup {
            values: &t_values,
            covariate: &t_cov,
        },
        confidence,
    )?;
    Ok(json!({
        "theta": r.theta, "effect": r.effect, "difference": r.effect,
        "statistic": r.statistic, "p_value": r.p_value, "df": r.df, "ci": r.ci,
        "variance_reduction": r.variance_reduction, "control_mean": r.control_mean,
        "treatment_mean": r.treatment_mean, "unadjusted_effect": r.unadjusted_effect,
        "significant": r.significant,
    }))
}

pub(super) fn ratio_delta(root: &Obj, confidence: f64) -> Result<Value, StatsError> {
    let c = root.object("control", "control")?;
    let t = root.object("treatment", "treatment")?;
    let (c_num, c_den) = (c.samples("numerator")?, c.samples("denominator")?);
    let (t_num, t_den) = (t.samples("numerator")?, t.samples("denominator")?);
    let r = ratio_test(
        RatioGroup {
            numerator: &c_num,
            denominator: &c_den,
        },
        RatioGroup {
            numerator: &t_num,
            denominator: &t_den,
        },
        confidence,
    )?;
    Ok(json!({
        "control_ratio": r.control_ratio, "treatment_ratio": r.treatment_ratio,
        "difference": r.difference, "se": r.se, "statistic": r.statistic,
        "p_value": r.p_value, "ci": r.ci, "lift": r.lift, "significant": r.significant,
    }))
}
