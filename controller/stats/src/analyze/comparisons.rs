//! Two-group comparisons of the analyze contract: z, t, Mann-Whitney, sequential, bootstrap.

use serde_json::{json, Value};

use super::fields::{join, Obj};
use crate::bootstrap::{bootstrap_difference, BootstrapStatistic};
use crate::decision::{decide, DecisionCriteria, Direction, Evidence};
use crate::error::StatsError;
use crate::mann_whitney::{mann_whitney_u, MannWhitneyMethod};
use crate::proportions::two_proportion_z;
use crate::sequential::{sequential_means, sequential_proportions, DEFAULT_N_STAR};
use crate::srm::{srm_check, SRM_P_THRESHOLD};
use crate::summary::{MeanSummary, ProportionCounts};
use crate::ttest::{t_test, TTestKind};

fn counts(group: &Obj) -> Result<ProportionCounts, StatsError> {
    let counts = ProportionCounts {
        successes: group.u64("successes")?,
        total: group.u64("total")?,
    };
    counts.validate(group.path)?;
    Ok(counts)
}

/// `{values: [..]}` or a stored summary `{count, mean, variance}`.
fn summary(group: &Obj) -> Result<MeanSummary, StatsError> {
    if group.has("values") || !group.has("count") {
        return Ok(MeanSummary::from_values(&group.samples("values")?));
    }
    let variance = group.f64("variance")?;
    if variance < 0.0 {
        return Err(StatsError::invalid(
            join(group.path, "variance"),
            "must be >= 0",
        ));
    }
    Ok(MeanSummary::from_mean_variance(
        group.u64("count")?,
        group.f64("mean")?,
        variance,
    ))
}

fn groups<'a>(root: &Obj<'a>) -> Result<(Obj<'a>, Obj<'a>), StatsError> {
    Ok((
        root.object("control", "control")?,
        root.object("treatment", "treatment")?,
    ))
}

/// Decision criteria from the request (seed 001 `ABTestConfig` fields and defaults).
fn criteria(root: &Obj, confidence: f64) -> Result<DecisionCriteria, StatsError> {
    let direction = match root.opt_string("direction", "higher_is_better")? {
        "higher_is_better" => Direction::HigherIsBetter,
        "lower_is_better" => Direction::LowerIsBetter,
        other => {
            return Err(StatsError::invalid(
                "direction",
                format!("unknown {other:?}; expected higher_is_better or lower_is_better"),
            ))
        }
    };
    let defaults = DecisionCriteria::default();
    Ok(DecisionCriteria {
        alpha: 1.0 - confidence,
        minimum_improvement: root.opt_f64("minimum_improvement", defaults.minimum_improvement)?,
        min_sample_size: root.opt_u64("min_sample_size", defaults.min_sample_size)?,
        direction,
    })
}

/// Optional SRM check of the group sizes against `weights` [control, treatment].
fn srm_of_sizes(root: &Obj, n_control: u64, n_treatment: u64) -> Result<Option<Value>, StatsError> {
    if !root.has("weights") {
        return Ok(None);
    }
    let weights = root.f64_array("weights")?;
    let srm = srm_check(&[n_control, n_treatment], &weights, SRM_P_THRESHOLD)?;
    Ok(Some(
        json!({ "p_value": srm.p_value, "mismatch": srm.mismatch, "statistic": srm.statistic }),
    ))
}

fn decision_value(
    root: &Obj,
    confidence: f64,
    evidence_without_srm: Evidence,
    srm: &Option<Value>,
) -> Result<Value, StatsError> {
    let evidence = Evidence {
        srm_mismatch: srm
            .as_ref()
            .and_then(|s| s.get("mismatch"))
            .and_then(Value::as_bool)
            .unwrap_or(false),
        ..evidence_without_srm
    };
    Ok(
        serde_json::to_value(decide(&evidence, &criteria(root, confidence)?))
            .unwrap_or(Value::Null),
    )
}

pub(super) fn two_proportion(root: &Obj, confidence: f64) -> Result<Value, StatsError> {
    let (c, t) = groups(root)?;
    let (control, treatment) = (counts(&c)?, counts(&t)?);
    let r = two_proportion_z(control, treatment, confidence)?;
    let srm = srm_of_sizes(root, control.total, treatment.total)?;
    let evidence = Evidence {
        p_value: r.p_value,
        lift: r.lift,
        difference: r.difference,
        sample_size: control.total.min(treatment.total),
        srm_mismatch: false,
    };
    let decision = decision_value(root, confidence, evidence, &srm)?;
    Ok(json!({
        "statistic": r.statistic, "p_value": r.p_value, "ci": r.ci, "lift": r.lift,
        "difference": r.difference, "control_rate": r.control_rate,
        "treatment_rate": r.treatment_rate, "significant": r.significant,
        "decision": decision, "srm": srm,
    }))
}

pub(super) fn t(root: &Obj, confidence: f64, kind: TTestKind) -> Result<Value, StatsError> {
    let (c, tr) = groups(root)?;
    let (control, treatment) = (summary(&c)?, summary(&tr)?);
    let r = t_test(&control, &treatment, kind, confidence)?;
    let srm = srm_of_sizes(root, control.count, treatment.count)?;
    let evidence = Evidence {
        p_value: r.p_value,
        lift: r.lift,
        difference: r.difference,
        sample_size: control.count.min(treatment.count),
        srm_mismatch: false,
    };
    let decision = decision_value(root, confidence, evidence, &srm)?;
    Ok(json!({
        "statistic": r.statistic, "p_value": r.p_value, "df": r.df, "ci": r.ci, "lift": r.lift,
        "difference": r.difference, "control_mean": r.control_mean,
        "treatment_mean": r.treatment_mean, "cohens_d": r.cohens_d,
        "significant": r.significant, "decision": decision, "srm": srm,
    }))
}

pub(super) fn mann_whitney(root: &Obj, confidence: f64) -> Result<Value, StatsError> {
    let (c, t) = groups(root)?;
    let method = match root.opt_string("method", "auto")? {
        "auto" => MannWhitneyMethod::Auto,
        "asymptotic" => MannWhitneyMethod::Asymptotic,
        "exact" => MannWhitneyMethod::Exact,
        other => {
            return Err(StatsError::invalid(
                "method",
                format!("unknown {other:?}; expected auto, asymptotic or exact"),
            ))
        }
    };
    let r = mann_whitney_u(
        &c.samples("values")?,
        &t.samples("values")?,
        method,
        1.0 - confidence,
    )?;
    Ok(json!({
        "statistic": r.statistic, "p_value": r.p_value, "method": r.method,
        "rank_biserial": r.rank_biserial, "significant": r.significant,
    }))
}

pub(super) fn sequential(root: &Obj, confidence: f64) -> Result<Value, StatsError> {
    let (c, t) = groups(root)?;
    let n_star = root.opt_f64("n_star", DEFAULT_N_STAR)?;
    let (r, metric) = if c.has("successes") {
        let r = sequential_proportions(counts(&c)?, counts(&t)?, confidence, n_star)?;
        (r, "proportion")
    } else {
        (
            sequential_means(&summary(&c)?, &summary(&t)?, confidence, n_star)?,
            "mean",
        )
    };
    Ok(json!({
        "statistic": r.statistic, "p_value": r.p_value, "ci": r.ci, "difference": r.difference,
        "significant": r.significant, "metric": metric, "n_star": n_star,
    }))
}

pub(super) fn bootstrap(root: &Obj, confidence: f64) -> Result<Value, StatsError> {
    let (c, t) = groups(root)?;
    let statistic = match root.opt_string("statistic", "mean")? {
        "mean" => BootstrapStatistic::Mean,
        "p50" | "median" => BootstrapStatistic::Quantile(0.5),
        "p90" => BootstrapStatistic::Quantile(0.9),
        "p95" => BootstrapStatistic::Quantile(0.95),
        "p99" => BootstrapStatistic::Quantile(0.99),
        "quantile" => BootstrapStatistic::Quantile(root.f64("quantile")?),
        other => {
            return Err(StatsError::invalid(
                "statistic",
                format!("unknown {other:?}; expected mean, median, p90, p95, p99 or quantile"),
            ))
        }
    };
    let resamples = root.opt_u64("resamples", 2000)?;
    let seed = root.opt_u64("seed", 0)?;
    let r = bootstrap_difference(
        &c.samples("values")?,
        &t.samples("values")?,
        statistic,
        usize::try_from(resamples).unwrap_or(usize::MAX),
        confidence,
        seed,
    )?;
    Ok(json!({
        "statistic": r.difference, "difference": r.difference, "ci": r.ci,
        "resamples": r.resamples, "seed": seed, "significant": r.significant,
    }))
}
