//! Table-shaped tests of the analyze contract: chi-squared, SRM, sample size, corrections.

use serde_json::{json, Value};

use super::fields::{self, Obj};
use crate::chi_squared::chi_squared_contingency;
use crate::error::StatsError;
use crate::multiple::{correct, Correction};
use crate::power::sample_size_for_proportions;
use crate::srm::{srm_check, SRM_P_THRESHOLD};

pub(super) fn chi_squared(root: &Obj, confidence: f64) -> Result<Value, StatsError> {
    let rows = root.array("table")?;
    let mut table = Vec::with_capacity(rows.len());
    for (i, row) in rows.iter().enumerate() {
        let path = format!("table[{i}]");
        let items = row
            .as_array()
            .ok_or_else(|| StatsError::invalid(&path, "must be an array of counts"))?;
        let mut counts = Vec::with_capacity(items.len());
        for (j, item) in items.iter().enumerate() {
            counts.push(fields::count(item, &format!("{path}[{j}]"))?);
        }
        table.push(counts);
    }
    let r = chi_squared_contingency(&table)?;
    Ok(json!({
        "statistic": r.statistic, "p_value": r.p_value, "dof": r.dof, "expected": r.expected,
        "significant": r.p_value < 1.0 - confidence,
    }))
}

pub(super) fn srm(root: &Obj) -> Result<Value, StatsError> {
    let observed = root.u64_array("observed")?;
    let weights = root.f64_array("weights")?;
    let threshold = root.opt_f64("threshold", SRM_P_THRESHOLD)?;
    let r = srm_check(&observed, &weights, threshold)?;
    Ok(json!({
        "statistic": r.statistic, "p_value": r.p_value, "dof": r.dof, "expected": r.expected,
        "srm": r.mismatch, "significant": r.mismatch, "threshold": r.threshold,
        "decision": if r.mismatch { "invalid_srm" } else { "ok" },
    }))
}

pub(super) fn sample_size(root: &Obj, confidence: f64) -> Result<Value, StatsError> {
    let baseline = root.f64("baseline")?;
    let mde = root.f64("mde")?;
    let alpha = root.opt_f64("alpha", 1.0 - confidence)?;
    let power = root.opt_f64("power", 0.8)?;
    let ratio = root.opt_f64("ratio", 1.0)?;
    let plan = sample_size_for_proportions(baseline, mde, alpha, power, ratio)?;
    Ok(json!({
        "n_per_group": plan.n_per_group, "n_control": plan.n_per_group,
        "n_treatment": plan.n_treatment, "n_total": plan.n_total,
        "n_exact": plan.n_control_exact, "effect_size": plan.effect_size,
        "alpha": alpha, "power": power, "ratio": ratio,
    }))
}

pub(super) fn correction(
    root: &Obj,
    confidence: f64,
    method: Correction,
) -> Result<Value, StatsError> {
    let p_values = root.f64_array("p_values")?;
    let alpha = root.opt_f64("alpha", 1.0 - confidence)?;
    let r = correct(&p_values, alpha, method)?;
    Ok(json!({
        "p_values": r.p_values, "reject": r.reject, "alpha": alpha,
        "significant": r.reject.iter().any(|&x| x),
    }))
}
