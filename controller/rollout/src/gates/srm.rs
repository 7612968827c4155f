//! The built-in `srm` gate: a sample-ratio-mismatch check of the exposures each variant got
//! during the current step against the weights pushed for that step (chi-squared goodness of
//! fit, [`rollgate_stats::srm::srm_check`]). A mismatch (p < [`SRM_P_THRESHOLD`]) makes the
//! step's data invalid: the engine pauses and takes no decision on it. Evaluation is pure.

use super::{Gate, GateOutcome, GateVerdict, QueryResult};
use rollgate_core::config::TOTAL_WEIGHT;
use rollgate_stats::srm::srm_check;
use serde::{Deserialize, Serialize};

pub use rollgate_stats::srm::SRM_P_THRESHOLD;

/// Default fewest exposures (stable + canary) over the window before the check is run (the
/// gate's `min_samples`); below it the gate has no data (keep collecting during the pause,
/// then its `no_data` policy).
pub const MIN_SRM_EXPOSURES: u64 = 100;

/// PromQL template of one variant's exposures over the window (`{{interval}}` is rendered as
/// the time since the current step's weight was pushed, see [`srm_window_ms`]).
pub const SRM_EXPOSURES_QUERY: &str = r#"sum(increase(rollgate_exposures_total{experiment="{{experiment}}",variant="{{variant}}"}[{{interval}}]))"#;

/// What the `srm` gate found: the counts, the shares they were tested against, the p-value.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SrmEvidence {
    /// Exposures of the stable variant over the window.
    pub stable_exposures: u64,
    /// Exposures of the canary variant over the window.
    pub canary_exposures: u64,
    /// Share of traffic the pushed weights give the canary (0..=1).
    pub expected_canary_share: f64,
    /// Chi-squared goodness-of-fit p-value.
    pub p_value: f64,
}

impl std::fmt::Display for SrmEvidence {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let total = self.stable_exposures + self.canary_exposures;
        let observed = if total == 0 {
            0.0
        } else {
            self.canary_exposures as f64 / total as f64
        };
        write!(
            f,
            "exposures stable={} canary={} (canary share {:.4}), expected shares stable={:.4} canary={:.4}, p={:.3e}",
            self.stable_exposures,
            self.canary_exposures,
            observed,
            1.0 - self.expected_canary_share,
            self.expected_canary_share,
            self.p_value
        )
    }
}

/// The window the exposures are counted over: the time since the current step's weight was
/// pushed (or the rollout resumed, [`crate::engine::RolloutState::observed_since_ms`]), whole
/// seconds (Prometheus range), or the gate's interval when that time is unknown.
/// `None` while less than one second has passed.
pub fn srm_window_ms(pushed_at_ms: Option<u64>, now_ms: u64, interval_ms: u64) -> Option<u64> {
    let window = match pushed_at_ms {
        Some(at) => now_ms.saturating_sub(at),
        None => interval_ms,
    };
    let whole_seconds = window / 1_000 * 1_000;
    (whole_seconds > 0).then_some(whole_seconds)
}

/// Judges the `srm` gate from the exposure counts of both variants and the canary weight
/// (basis points) pushed for the current step: [`GateOutcome::Invalid`] on a mismatch, a pass
/// otherwise, no data when a count is missing or there are fewer than [`MIN_SRM_EXPOSURES`].
/// The verdict's value is the p-value; its condition is `>= 0.001`.
pub fn evaluate_srm(
    gate: &Gate,
    stable: &QueryResult,
    canary: &QueryResult,
    canary_bp: u32,
) -> GateVerdict {
    let verdict = |outcome, value, detail, srm| GateVerdict {
        gate: gate.name.clone(),
        outcome,
        value,
        condition: gate.condition.to_string(),
        threshold: gate.condition.threshold,
        detail,
        srm,
        samples: None,
        query_failed: matches!(stable, QueryResult::Failed(_))
            || matches!(canary, QueryResult::Failed(_)),
    };
    let counts = (count("stable", stable), count("canary", canary));
    let (stable_exposures, canary_exposures) = match counts {
        (Ok(s), Ok(c)) => (s, c),
        (Err(why), _) | (_, Err(why)) => {
            return verdict(GateOutcome::NoData, None, Some(why), None)
        }
    };
    let total = stable_exposures + canary_exposures;
    let needed = if gate.min_samples == 0 {
        MIN_SRM_EXPOSURES
    } else {
        gate.min_samples
    };
    if total < needed {
        let why = format!(
            "only {total} exposures (stable {stable_exposures}, canary {canary_exposures}) since the step's weight was pushed; the SRM check needs at least {needed} (min_samples)"
        );
        return verdict(GateOutcome::NoData, None, Some(why), None);
    }
    let canary_bp = canary_bp.min(TOTAL_WEIGHT);
    let weights = [f64::from(TOTAL_WEIGHT - canary_bp), f64::from(canary_bp)];
    let expected_canary_share = f64::from(canary_bp) / f64::from(TOTAL_WEIGHT);
    let observed = [stable_exposures, canary_exposures];
    // A variant with weight 0 that still got traffic is a mismatch by construction.
    let zero_weight_hit = weights
        .iter()
        .zip(observed)
        .any(|(&w, o)| w == 0.0 && o > 0);
    let p_value = if zero_weight_hit {
        0.0
    } else {
        match srm_check(&observed, &weights, SRM_P_THRESHOLD) {
            Ok(result) => result.p_value,
            Err(e) => return verdict(GateOutcome::NoData, None, Some(e.to_string()), None),
        }
    };
    let evidence = SrmEvidence {
        stable_exposures,
        canary_exposures,
        expected_canary_share,
        p_value,
    };
    if p_value < SRM_P_THRESHOLD {
        let detail = format!("sample-ratio mismatch: {evidence}");
        verdict(
            GateOutcome::Invalid,
            Some(p_value),
            Some(detail),
            Some(evidence),
        )
    } else {
        verdict(GateOutcome::Pass, Some(p_value), None, Some(evidence))
    }
}

/// An exposure count from a query result (rounded: `increase()` extrapolates).
fn count(side: &str, result: &QueryResult) -> Result<u64, String> {
    match result {
        QueryResult::Value(v) if *v >= 0.0 => Ok(v.round() as u64),
        QueryResult::Value(v) => Err(format!("{side}: negative exposure count {v}")),
        QueryResult::Empty(why) => Err(format!("{side} exposures: no data ({why})")),
        QueryResult::Failed(why) => Err(format!("{side} exposures: query failed ({why})")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::gates::{Condition, GateSource, NoDataPolicy};

    fn srm_gate() -> Gate {
        Gate {
            name: "srm".into(),
            source: GateSource::Srm,
            condition: Condition::parse(">= 0.001").expect("condition"),
            interval_ms: 60_000,
            window_ms: 0,
            min_samples: MIN_SRM_EXPOSURES,
            samples_query: None,
            failure_limit: 1,
            no_data: NoDataPolicy::Inconclusive,
        }
    }

    fn judge(stable: f64, canary: f64, canary_bp: u32) -> GateVerdict {
        evaluate_srm(
            &srm_gate(),
            &QueryResult::Value(stable),
            &QueryResult::Value(canary),
            canary_bp,
        )
    }

    #[test]
    fn a_clear_mismatch_is_invalid_with_counts_shares_and_p_value() {
        // scipy.stats.chisquare([9400, 600], f_exp=[9000, 1000])
        //   -> statistic 177.78, pvalue 1.481282554381437e-40
        let v = judge(9_400.0, 600.0, 1_000);
        assert_eq!(v.outcome, GateOutcome::Invalid, "{v:?}");
        let evidence = v.srm.clone().expect("evidence");
        assert_eq!(
            (evidence.stable_exposures, evidence.canary_exposures),
            (9_400, 600)
        );
        assert!((evidence.expected_canary_share - 0.1).abs() < 1e-12);
        let relative = (evidence.p_value - 1.481_282_554_381_437e-40).abs() / 1.481e-40;
        assert!(relative < 1e-6, "{}", evidence.p_value);
        let detail = v.detail.unwrap_or_default();
        assert!(
            detail.contains("sample-ratio mismatch")
                && detail.contains("stable=9400")
                && detail.contains("canary=600")
                && detail.contains("canary=0.1000"),
            "{detail}"
        );
    }

    #[test]
    fn counts_matching_the_weights_pass_with_the_p_value() {
        // scipy.stats.chisquare([9040, 960], f_exp=[9000, 1000]).pvalue -> 0.18242243945173192
        let v = judge(9_040.0, 960.0, 1_000);
        assert_eq!(v.outcome, GateOutcome::Pass, "{v:?}");
        let p = v.value.expect("p-value");
        assert!((p - 0.182_422_439_451_731_92).abs() < 1e-9, "{p}");
        assert_eq!(v.condition, ">= 0.001");
    }

    #[test]
    fn the_threshold_is_p_below_one_in_a_thousand() {
        // scipy.stats.chisquare([5165, 4835], f_exp=[5000, 5000]).pvalue -> 0.0009668482847675553
        let v = judge(5_165.0, 4_835.0, 5_000);
        assert_eq!(v.outcome, GateOutcome::Invalid, "{v:?}");
        // scipy.stats.chisquare([5160, 4840], f_exp=[5000, 5000]).pvalue -> 0.0013742758758316976
        let v = judge(5_160.0, 4_840.0, 5_000);
        assert_eq!(v.outcome, GateOutcome::Pass, "{v:?}");
    }

    #[test]
    fn too_few_exposures_or_missing_counts_are_no_data() {
        let v = judge(60.0, 39.0, 1_000);
        assert_eq!((v.outcome, v.value), (GateOutcome::NoData, None));
        assert!(v.detail.unwrap_or_default().contains("only 99 exposures"));
        let v = evaluate_srm(
            &srm_gate(),
            &QueryResult::Failed("connection refused".into()),
            &QueryResult::Value(500.0),
            1_000,
        );
        assert_eq!(v.outcome, GateOutcome::NoData);
        assert!(v
            .detail
            .unwrap_or_default()
            .contains("stable exposures: query failed"));
    }

    #[test]
    fn traffic_to_a_zero_weight_variant_is_a_mismatch() {
        let v = judge(150.0, 9_850.0, 10_000);
        assert_eq!(v.outcome, GateOutcome::Invalid, "{v:?}");
        assert_eq!(v.value, Some(0.0));
        let v = judge(0.0, 10_000.0, 10_000);
        assert_eq!(v.outcome, GateOutcome::Pass, "{v:?}");
    }

    #[test]
    fn the_window_is_the_time_since_the_push_in_whole_seconds() {
        assert_eq!(srm_window_ms(Some(1_000), 95_500, 60_000), Some(94_000));
        assert_eq!(srm_window_ms(Some(1_000), 1_900, 60_000), None);
        assert_eq!(srm_window_ms(None, 5_000, 60_000), Some(60_000));
    }
}
