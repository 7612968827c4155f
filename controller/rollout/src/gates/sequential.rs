//! The sequential comparison gate: canary against stable error rates with the always-valid
//! mSPRT of [`rollgate_stats::sequential`], so it can be checked at every interval without
//! inflating false alarms (a fixed threshold checked again and again does inflate them).
//!
//! Both variants' errors and responses are counted from the step's start (the filter's
//! `rollgate_responses_total`, `class="5xx"` for errors). With d = canary rate − stable rate and
//! the confidence sequence [lo, hi] of d at `confidence`:
//! - `lo > tolerance`: the canary is significantly worse by more than the tolerance → roll back;
//! - `hi < tolerance`: significantly not worse by more than the tolerance (non-inferiority) →
//!   the step may advance early;
//! - else keep collecting.
//!
//! The confidence sequence holds at every look at once, so stopping at the first look that
//! excludes the tolerance keeps the chance of a wrong rollback at or under 1 − `confidence`
//! however often the gate is checked. Pure: counts in, decision out.

use super::{Gate, GateOutcome, GateVerdict, QueryResult};
use rollgate_stats::sequential::{msprt, DEFAULT_N_STAR};
use rollgate_stats::summary::ProportionCounts;
use serde::{Deserialize, Serialize};

/// PromQL template of one variant's 5xx responses over `{{interval}}` (the step so far).
pub const SEQUENTIAL_ERRORS_QUERY: &str = r#"sum(increase(rollgate_responses_total{experiment="{{experiment}}",variant="{{variant}}",class="5xx"}[{{interval}}]))"#;

/// PromQL template of one variant's responses over `{{interval}}` (the step so far).
pub const SEQUENTIAL_RESPONSES_QUERY: &str = r#"sum(increase(rollgate_responses_total{experiment="{{experiment}}",variant="{{variant}}"}[{{interval}}]))"#;

/// Settings of a sequential comparison gate.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct SequentialSettings {
    /// Largest acceptable increase of the canary's error rate over stable's (absolute, ≥ 0).
    pub tolerance: f64,
    /// Confidence of the sequence; 1 − confidence bounds the false rollback rate.
    pub confidence: f64,
    /// mSPRT tuning: the total responses (both variants) at which the sequence is tightest.
    pub n_star: f64,
}

// Validation keeps every field finite, so equality is reflexive.
impl Eq for SequentialSettings {}

impl Default for SequentialSettings {
    fn default() -> Self {
        SequentialSettings {
            tolerance: 0.0,
            confidence: 0.95,
            n_star: DEFAULT_N_STAR,
        }
    }
}

/// What one look of the sequential gate decided.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SequentialDecision {
    /// Canary significantly worse than stable by more than the tolerance.
    Rollback,
    /// Canary significantly not worse than stable by more than the tolerance.
    Advance,
    /// Not conclusive yet (or no variance yet): keep collecting.
    Continue,
}

/// One look: the decision and the evidence behind it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SequentialCheck {
    /// The decision.
    pub decision: SequentialDecision,
    /// Canary error rate minus stable error rate.
    pub difference: f64,
    /// Always-valid confidence interval of the difference (none without variance yet).
    pub ci: Option<[f64; 2]>,
    /// Always-valid p-value of "difference = tolerance".
    pub p_value: Option<f64>,
    /// Why no test could run, when none did.
    pub detail: Option<String>,
}

/// Judges the step so far from both variants' counts (`successes` = 5xx responses).
pub fn sequential_check(
    stable: ProportionCounts,
    canary: ProportionCounts,
    settings: &SequentialSettings,
) -> SequentialCheck {
    let continue_with = |detail: String| SequentialCheck {
        decision: SequentialDecision::Continue,
        difference: canary.rate() - stable.rate(),
        ci: None,
        p_value: None,
        detail: Some(detail),
    };
    if stable.total == 0 || canary.total == 0 {
        return continue_with(format!(
            "no responses yet (stable {}, canary {})",
            stable.total, canary.total
        ));
    }
    // The mSPRT of H0: d = tolerance, on the shifted difference (unpooled variance, as
    // `rollgate_stats::sequential::sequential_proportions`).
    let (p_s, p_c) = (stable.rate(), canary.rate());
    let variance =
        p_s * (1.0 - p_s) / stable.total as f64 + p_c * (1.0 - p_c) / canary.total as f64;
    let r = match msprt(
        p_c - p_s - settings.tolerance,
        variance,
        (stable.total + canary.total) as f64,
        settings.confidence,
        settings.n_star,
    ) {
        Ok(r) => r,
        Err(_) => {
            return continue_with("no variance yet (no errors in either variant)".to_string())
        }
    };
    let ci = [r.ci[0] + settings.tolerance, r.ci[1] + settings.tolerance];
    let decision = if ci[0] > settings.tolerance {
        SequentialDecision::Rollback
    } else if ci[1] < settings.tolerance {
        SequentialDecision::Advance
    } else {
        SequentialDecision::Continue
    };
    SequentialCheck {
        decision,
        difference: canary.rate() - stable.rate(),
        ci: Some(ci),
        p_value: Some(r.p_value),
        detail: None,
    }
}

/// The four counts of one look: 5xx responses and responses of each variant since the step
/// started.
#[derive(Debug, Clone, PartialEq)]
pub struct SequentialResults {
    /// Stable 5xx responses.
    pub stable_errors: QueryResult,
    /// Stable responses.
    pub stable_total: QueryResult,
    /// Canary 5xx responses.
    pub canary_errors: QueryResult,
    /// Canary responses.
    pub canary_total: QueryResult,
}

fn count(what: &str, result: &QueryResult) -> Result<u64, String> {
    match result {
        QueryResult::Value(v) if *v > 0.0 => Ok(v.round() as u64),
        // no series yet (e.g. no 5xx ever) counts as 0
        QueryResult::Value(_) | QueryResult::Empty(_) => Ok(0),
        QueryResult::Failed(why) => Err(format!("{what}: query failed ({why})")),
    }
}

/// Judges the sequential gate: [`SequentialDecision::Rollback`] → fail,
/// [`SequentialDecision::Advance`] → [`GateOutcome::Advance`], keep collecting → no data
/// (which the engine treats as "keep collecting" while the step's pause runs). The verdict's
/// value is canary minus stable error rate; its threshold the tolerance.
pub fn evaluate_sequential(
    gate: &Gate,
    settings: &SequentialSettings,
    results: &SequentialResults,
) -> GateVerdict {
    let verdict = |outcome, value, detail| GateVerdict {
        gate: gate.name.clone(),
        outcome,
        value,
        condition: gate.condition.to_string(),
        threshold: settings.tolerance,
        detail,
        srm: None,
        samples: None,
        query_failed: false,
    };
    let counts = (|| {
        let stable_total = count("stable responses", &results.stable_total)?;
        let canary_total = count("canary responses", &results.canary_total)?;
        Ok::<_, String>((
            ProportionCounts {
                successes: count("stable errors", &results.stable_errors)?.min(stable_total),
                total: stable_total,
            },
            ProportionCounts {
                successes: count("canary errors", &results.canary_errors)?.min(canary_total),
                total: canary_total,
            },
        ))
    })();
    let (stable, canary) = match counts {
        Ok(c) => c,
        Err(why) => {
            let mut failed = verdict(GateOutcome::NoData, None, Some(why));
            failed.query_failed = true;
            return failed;
        }
    };
    let check = sequential_check(stable, canary, settings);
    let evidence = format!(
        "canary {}/{} vs stable {}/{} errors, always-valid CI {:?}, p {:?}",
        canary.successes, canary.total, stable.successes, stable.total, check.ci, check.p_value
    );
    match check.decision {
        SequentialDecision::Rollback => verdict(
            GateOutcome::Fail,
            Some(check.difference),
            Some(format!(
                "significantly worse than stable by more than the tolerance: {evidence}"
            )),
        ),
        SequentialDecision::Advance => verdict(
            GateOutcome::Advance,
            Some(check.difference),
            Some(format!(
                "significantly not worse (non-inferior): {evidence}"
            )),
        ),
        SequentialDecision::Continue => verdict(
            GateOutcome::NoData,
            None,
            Some(format!(
                "keep collecting: {}",
                check.detail.unwrap_or(evidence)
            )),
        ),
    }
}

#[cfg(test)]
mod tests;
