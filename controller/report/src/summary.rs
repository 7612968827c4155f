//! Numbers derived from a [`Timeline`]: per-variant totals, rollbacks with the time from the
//! breach to the rollback, the overall shadow agreement and the outcome.

use crate::timeline::{DecisionAction, GateMetric, Timeline, VariantSample};

/// Totals of one variant over the whole timeline.
#[derive(Debug, Clone, PartialEq)]
pub struct VariantTotals {
    /// Variant name.
    pub variant: String,
    /// Responses.
    pub requests: u64,
    /// 5xx responses.
    pub errors: u64,
    /// Highest interval p99 seen, in milliseconds.
    pub max_p99_ms: Option<f64>,
}

impl VariantTotals {
    /// Share of 5xx responses overall.
    pub fn error_rate(&self) -> Option<f64> {
        (self.requests > 0).then(|| self.errors as f64 / self.requests as f64)
    }
}

/// A rollback and the breach that led to it.
#[derive(Debug, Clone, PartialEq)]
pub struct Rollback {
    /// When the rollback was applied.
    pub at_s: f64,
    /// When the breach started (from the decision, else the first breaching canary sample of
    /// the run of breaching samples that ends the segment); `None` when no sample breached.
    pub breach_s: Option<f64>,
    /// Why the controller rolled back.
    pub reason: String,
}

impl Rollback {
    /// Seconds from the start of the breach to the rollback.
    pub fn reaction_s(&self) -> Option<f64> {
        self.breach_s.map(|b| self.at_s - b)
    }
}

/// Everything the report's summary cards and tables show.
#[derive(Debug, Clone, PartialEq)]
pub struct Summary {
    /// Per variant, in display order.
    pub variants: Vec<VariantTotals>,
    /// Every rollback, in time order.
    pub rollbacks: Vec<Rollback>,
    /// Overall `agree / (agree + disagree)`.
    pub shadow_agreement: Option<f64>,
    /// Shadow comparisons made (agree + disagree + incomparable).
    pub shadow_compared: u64,
    /// Last promote / rollback / pause decision, or `None` while in progress.
    pub outcome: Option<DecisionAction>,
    /// Canary weight at the end.
    pub final_canary_percent: f64,
}

/// Computes the [`Summary`] of a validated timeline.
pub fn summarize(timeline: &Timeline) -> Summary {
    let variants = timeline
        .variants()
        .into_iter()
        .map(|variant| {
            let samples = timeline.samples.iter().filter(|s| s.variant == variant);
            let (mut requests, mut errors, mut max_p99_ms) = (0, 0, None::<f64>);
            for s in samples {
                requests += s.requests;
                errors += s.errors;
                if let Some(p) = s.p99_ms {
                    max_p99_ms = Some(max_p99_ms.map_or(p, |m| m.max(p)));
                }
            }
            VariantTotals {
                variant,
                requests,
                errors,
                max_p99_ms,
            }
        })
        .collect();
    let (agree, disagree, incomparable) = timeline.shadow.iter().fold((0, 0, 0), |acc, s| {
        (acc.0 + s.agree, acc.1 + s.disagree, acc.2 + s.incomparable)
    });
    let outcome = timeline.decisions.iter().rev().map(|d| d.action).find(|a| {
        matches!(
            a,
            DecisionAction::Promote | DecisionAction::Rollback | DecisionAction::Pause
        )
    });
    let final_canary_percent = last_weight(timeline);
    Summary {
        variants,
        rollbacks: rollbacks(timeline),
        shadow_agreement: (agree + disagree > 0).then(|| agree as f64 / (agree + disagree) as f64),
        shadow_compared: agree + disagree + incomparable,
        outcome,
        final_canary_percent,
    }
}

fn last_weight(timeline: &Timeline) -> f64 {
    let from_weights = timeline.weights.iter().map(|w| (w.t_s, w.canary_percent));
    let from_decisions = timeline
        .decisions
        .iter()
        .filter_map(|d| d.canary_percent.map(|p| (d.t_s, p)));
    from_weights
        .chain(from_decisions)
        .fold(None::<(f64, f64)>, |best, (t, p)| match best {
            Some((bt, _)) if bt > t => best,
            _ => Some((t, p)),
        })
        .map_or(0.0, |(_, p)| p)
}

/// Whether a canary sample breaks any gate threshold on its error rate or p99.
fn breaches(timeline: &Timeline, sample: &VariantSample) -> bool {
    timeline.gates.iter().any(|gate| {
        let value = match gate.metric {
            GateMetric::ErrorRate => sample.error_rate(),
            GateMetric::P99LatencyMs => sample.p99_ms,
            GateMetric::ShadowAgreement => None,
        };
        value.is_some_and(|v| gate.metric.breaches(v, gate.threshold))
    })
}

fn rollbacks(timeline: &Timeline) -> Vec<Rollback> {
    let mut decisions: Vec<_> = timeline.decisions.iter().collect();
    decisions.sort_by(|a, b| a.t_s.total_cmp(&b.t_s));
    let mut canary: Vec<&VariantSample> = timeline
        .samples
        .iter()
        .filter(|s| s.variant == timeline.canary)
        .collect();
    canary.sort_by(|a, b| a.t_s.total_cmp(&b.t_s));
    let mut segment_start = f64::NEG_INFINITY;
    let mut found = Vec::new();
    for decision in decisions {
        match decision.action {
            DecisionAction::Rollback => {
                let breach_s = decision.breach_t_s.or_else(|| {
                    let in_segment: Vec<&&VariantSample> = canary
                        .iter()
                        .filter(|s| s.t_s > segment_start && s.t_s <= decision.t_s)
                        .collect();
                    let last_breach = in_segment.iter().rposition(|s| breaches(timeline, s))?;
                    let run_start = in_segment[..=last_breach]
                        .iter()
                        .rposition(|s| !breaches(timeline, s))
                        .map_or(0, |i| i + 1);
                    Some(in_segment[run_start].t_s)
                });
                found.push(Rollback {
                    at_s: decision.t_s,
                    breach_s,
                    reason: decision.reason.clone(),
                });
                segment_start = decision.t_s;
            }
            DecisionAction::Promote => segment_start = decision.t_s,
            _ => {}
        }
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::timeline::{Decision, GateThreshold, ShadowSample, WeightPoint};

    fn sample(t_s: f64, variant: &str, requests: u64, errors: u64) -> VariantSample {
        VariantSample {
            t_s,
            variant: variant.into(),
            requests,
            errors,
            p99_ms: Some(10.0 + t_s),
        }
    }

    fn decision(t_s: f64, action: DecisionAction, percent: f64) -> Decision {
        Decision {
            t_s,
            action,
            canary_percent: Some(percent),
            reason: String::new(),
            breach_t_s: None,
        }
    }

    fn timeline() -> Timeline {
        Timeline {
            title: "t".into(),
            experiment: "e".into(),
            stable: "stable".into(),
            canary: "canary".into(),
            metric_source: None,
            started_at: None,
            samples: vec![
                sample(1.0, "stable", 100, 1),
                sample(1.0, "canary", 10, 0),
                // a blip that recovers: not the breach that caused the rollback
                sample(2.0, "canary", 10, 2),
                sample(3.0, "canary", 10, 0),
                sample(4.0, "canary", 10, 1),
                sample(5.0, "canary", 10, 3),
                sample(6.0, "canary", 10, 4),
                // after the rollback, a second rollout breaches once and is promoted
                sample(9.0, "canary", 10, 5),
                sample(10.0, "canary", 10, 0),
            ],
            weights: vec![
                WeightPoint {
                    t_s: 0.0,
                    canary_percent: 10.0,
                },
                WeightPoint {
                    t_s: 6.5,
                    canary_percent: 0.0,
                },
            ],
            gates: vec![GateThreshold {
                name: "error-rate".into(),
                metric: GateMetric::ErrorRate,
                threshold: 0.05,
            }],
            decisions: vec![
                decision(6.5, DecisionAction::Rollback, 0.0),
                decision(11.0, DecisionAction::Promote, 100.0),
            ],
            shadow: vec![
                ShadowSample {
                    t_s: 1.0,
                    agree: 90,
                    disagree: 10,
                    incomparable: 1,
                },
                ShadowSample {
                    t_s: 2.0,
                    agree: 100,
                    disagree: 0,
                    incomparable: 0,
                },
            ],
            ab: None,
        }
    }

    #[test]
    fn breach_start_is_the_first_sample_of_the_last_breaching_run() {
        let summary = summarize(&timeline());
        assert_eq!(summary.rollbacks.len(), 1);
        let rollback = &summary.rollbacks[0];
        // 4.0 (10 %), 5.0, 6.0 breach; 3.0 does not: the run starts at 4.0
        assert_eq!(rollback.breach_s, Some(4.0));
        assert_eq!(rollback.reaction_s(), Some(2.5));
    }

    #[test]
    fn a_breach_time_given_by_the_controller_wins() {
        let mut t = timeline();
        t.decisions[0].breach_t_s = Some(5.5);
        assert_eq!(summarize(&t).rollbacks[0].breach_s, Some(5.5));
    }

    #[test]
    fn no_breaching_sample_means_unknown_breach() {
        let mut t = timeline();
        t.gates[0].threshold = 0.9;
        assert_eq!(summarize(&t).rollbacks[0].breach_s, None);
    }

    #[test]
    fn totals_outcome_weight_and_agreement() {
        let summary = summarize(&timeline());
        let canary = &summary.variants[1];
        assert_eq!((canary.requests, canary.errors), (80, 15));
        assert_eq!(canary.max_p99_ms, Some(20.0));
        assert_eq!(summary.variants[0].error_rate(), Some(0.01));
        assert_eq!(summary.outcome, Some(DecisionAction::Promote));
        assert_eq!(summary.final_canary_percent, 100.0);
        assert_eq!(summary.shadow_agreement, Some(190.0 / 200.0));
        assert_eq!(summary.shadow_compared, 201);
    }
}
