//! Pure gate evaluation: query results in, verdict out.

use super::{render_query, Gate, GateSource, QueryVars, SrmEvidence, SRM_EXPOSURES_QUERY};
use crate::duration::format_duration_ms;
use serde::{Deserialize, Serialize};

/// The outcome of one instant query.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum QueryResult {
    /// One finite value.
    Value(f64),
    /// No data: no series, NaN (no traffic), or several series where one was expected.
    Empty(String),
    /// The query could not be run (Prometheus down, timeout, bad query).
    Failed(String),
}

/// The queries a gate needs, rendered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GateQueries {
    /// Query for the canary variant.
    pub canary: String,
    /// Query for the stable variant (comparison gates only).
    pub stable: Option<String>,
    /// Sample count of the canary over the window, when the gate counts samples.
    pub canary_samples: Option<String>,
    /// Sample count of the stable variant (comparison gates that count samples).
    pub stable_samples: Option<String>,
}

impl GateQueries {
    /// Renders `gate`'s queries for the rollout's experiment and variants, over the gate's
    /// window ([`Gate::window`]).
    pub fn render(
        gate: &Gate,
        experiment: &str,
        namespace: &str,
        canary: &str,
        stable: &str,
    ) -> Result<Self, String> {
        Self::render_over(gate, gate.window(), experiment, namespace, canary, stable)
    }

    /// Renders `gate`'s queries with `{{interval}}` set to `window_ms` (the `srm` gate counts
    /// exposures since the step's weight was pushed, [`super::srm_window_ms`]).
    pub fn render_over(
        gate: &Gate,
        window_ms: u64,
        experiment: &str,
        namespace: &str,
        canary: &str,
        stable: &str,
    ) -> Result<Self, String> {
        let interval = format_duration_ms(window_ms);
        let vars = |variant| QueryVars {
            experiment,
            variant,
            namespace,
            interval: &interval,
        };
        let (template, compare) = match &gate.source {
            GateSource::Template(builtin) => (builtin.query(), false),
            GateSource::Query(text) => (text.as_str(), false),
            GateSource::Compare(builtin) => (builtin.query(), true),
            GateSource::Srm => (SRM_EXPOSURES_QUERY, true),
            GateSource::Sequential(_) => (super::sequential::SEQUENTIAL_RESPONSES_QUERY, true),
        };
        let samples = match &gate.source {
            GateSource::Srm | GateSource::Sequential(_) => None,
            _ => gate.samples_template(),
        };
        let side = |text: Option<&str>, variant| text.map(|t| render_query(t, &vars(variant)));
        Ok(Self {
            canary: render_query(template, &vars(canary))?,
            stable: side(compare.then_some(template), stable).transpose()?,
            canary_samples: side(samples, canary).transpose()?,
            stable_samples: side(samples.filter(|_| compare), stable).transpose()?,
        })
    }
}

/// Whether a check passed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum GateOutcome {
    /// The value met the condition.
    Pass,
    /// The value broke the condition.
    Fail,
    /// There was no value to judge.
    NoData,
    /// The data itself is not trustworthy (sample-ratio mismatch): no decision may be taken
    /// on it, the rollout pauses.
    Invalid,
    /// Passed conclusively (the sequential gate's non-inferiority): counts as a pass, and the
    /// step may advance before its pause has elapsed when every other gate passed too.
    Advance,
}

/// The result of checking one gate once.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GateVerdict {
    /// Gate name.
    pub gate: String,
    /// Pass, fail or no data.
    pub outcome: GateOutcome,
    /// The measured value (canary minus stable for comparisons), when there was one.
    pub value: Option<f64>,
    /// The condition, as text (`< 0.01`).
    pub condition: String,
    /// The condition's threshold.
    pub threshold: f64,
    /// Why there was no data, when there was none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
    /// The `srm` gate's counts, expected shares and p-value.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub srm: Option<SrmEvidence>,
    /// Fewest samples of the measured variants over the window, when the gate counts them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub samples: Option<u64>,
    /// A query could not be run (source down, refused credentials, timeout): the check has
    /// no data, and no `no_data` policy turns it into a pass or a failure; nothing is decided
    /// on it.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub query_failed: bool,
}

/// Every query result of one check of a gate ([`GateQueries`] answered).
#[derive(Debug, Clone, PartialEq)]
pub struct GateResults {
    /// The canary's value.
    pub canary: QueryResult,
    /// The stable variant's value (comparisons).
    pub stable: Option<QueryResult>,
    /// The canary's sample count, when the gate counts samples.
    pub canary_samples: Option<QueryResult>,
    /// The stable variant's sample count (comparisons that count samples).
    pub stable_samples: Option<QueryResult>,
}

/// Judges `gate` from all its results: while a measured variant has fewer than the gate's
/// `min_samples` over the window (no series counts as 0), the check has no data, whatever
/// the value says; otherwise as [`evaluate`].
pub fn evaluate_sampled(gate: &Gate, results: &GateResults) -> GateVerdict {
    let sides = [
        ("canary", results.canary_samples.as_ref()),
        ("stable", results.stable_samples.as_ref()),
    ];
    let mut fewest: Option<u64> = None;
    for (side, result) in sides {
        let count = match result {
            None => continue,
            Some(QueryResult::Value(v)) if *v > 0.0 => v.round() as u64,
            Some(QueryResult::Value(_) | QueryResult::Empty(_)) => 0,
            Some(QueryResult::Failed(why)) => {
                let detail = format!("{side} sample count: query failed ({why})");
                let mut verdict = no_data(gate, detail, None);
                verdict.query_failed = true;
                return verdict;
            }
        };
        fewest = Some(fewest.map_or(count, |f| f.min(count)));
        if count < gate.min_samples {
            let detail = format!(
                "{side}: {count} samples over the last {}, the gate needs at least {} (min_samples)",
                format_duration_ms(gate.window()),
                gate.min_samples
            );
            return no_data(gate, detail, Some(count));
        }
    }
    let mut verdict = evaluate(gate, &results.canary, results.stable.as_ref());
    verdict.samples = fewest;
    verdict
}

fn no_data(gate: &Gate, detail: String, samples: Option<u64>) -> GateVerdict {
    GateVerdict {
        gate: gate.name.clone(),
        outcome: GateOutcome::NoData,
        value: None,
        condition: gate.condition.to_string(),
        threshold: gate.condition.threshold,
        detail: Some(detail),
        srm: None,
        samples,
        query_failed: false,
    }
}

/// Judges `gate` from its query results (`stable` only for comparison gates). The `srm` gate
/// also needs the pushed weight: judge it with [`super::evaluate_srm`]; here it has no data.
pub fn evaluate(gate: &Gate, canary: &QueryResult, stable: Option<&QueryResult>) -> GateVerdict {
    let verdict = |outcome, value, detail| GateVerdict {
        gate: gate.name.clone(),
        outcome,
        value,
        condition: gate.condition.to_string(),
        threshold: gate.condition.threshold,
        detail,
        srm: None,
        samples: None,
        query_failed: matches!(canary, QueryResult::Failed(_))
            || matches!(stable, Some(QueryResult::Failed(_))),
    };
    let measured = match (&gate.source, canary, stable) {
        (GateSource::Srm, _, _) => Err(
            "the srm gate is judged against the pushed weights (gates::evaluate_srm)".to_string(),
        ),
        (GateSource::Sequential(_), _, _) => Err(
            "the sequential gate is judged on counts since the step started \
             (gates::sequential::evaluate_sequential)"
                .to_string(),
        ),
        (GateSource::Compare(_), QueryResult::Value(c), Some(QueryResult::Value(s))) => Ok(c - s),
        (GateSource::Compare(_), QueryResult::Value(_), Some(other)) => {
            Err(describe("stable", other))
        }
        (GateSource::Compare(_), QueryResult::Value(_), None) => {
            Err("no stable result given".to_string())
        }
        (_, QueryResult::Value(c), _) => Ok(*c),
        (_, other, _) => Err(describe("canary", other)),
    };
    match measured {
        Ok(value) if gate.condition.holds(value) => verdict(GateOutcome::Pass, Some(value), None),
        Ok(value) => verdict(GateOutcome::Fail, Some(value), None),
        Err(detail) => verdict(GateOutcome::NoData, None, Some(detail)),
    }
}

fn describe(side: &str, result: &QueryResult) -> String {
    match result {
        QueryResult::Value(v) => format!("{side}: {v}"),
        QueryResult::Empty(why) => format!("{side}: no data ({why})"),
        QueryResult::Failed(why) => format!("{side}: query failed ({why})"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::gates::{BuiltinTemplate, Condition, NoDataPolicy};

    fn gate(source: GateSource, condition: &str) -> Gate {
        Gate {
            name: "g".into(),
            source,
            condition: Condition::parse(condition).expect("valid condition"),
            interval_ms: 60_000,
            window_ms: 0,
            min_samples: 0,
            samples_query: None,
            failure_limit: 1,
            no_data: NoDataPolicy::Inconclusive,
        }
    }

    #[test]
    fn value_meeting_the_condition_passes() {
        let g = gate(GateSource::Template(BuiltinTemplate::ErrorRate), "< 0.01");
        let v = evaluate(&g, &QueryResult::Value(0.001), None);
        assert_eq!(
            (v.outcome, v.value, v.threshold),
            (GateOutcome::Pass, Some(0.001), 0.01)
        );
        let v = evaluate(&g, &QueryResult::Value(0.05), None);
        assert_eq!((v.outcome, v.value), (GateOutcome::Fail, Some(0.05)));
        assert_eq!(v.condition, "< 0.01");
    }

    #[test]
    fn comparison_is_canary_minus_stable() {
        let g = gate(GateSource::Compare(BuiltinTemplate::ErrorRate), "< 0.05");
        let v = evaluate(
            &g,
            &QueryResult::Value(0.08),
            Some(&QueryResult::Value(0.01)),
        );
        assert_eq!(v.outcome, GateOutcome::Fail);
        assert!((v.value.unwrap_or_default() - 0.07).abs() < 1e-12);
        let v = evaluate(
            &g,
            &QueryResult::Value(0.03),
            Some(&QueryResult::Value(0.01)),
        );
        assert_eq!(v.outcome, GateOutcome::Pass);
    }

    #[test]
    fn missing_or_failed_results_are_no_data_with_a_reason() {
        let g = gate(GateSource::Compare(BuiltinTemplate::ErrorRate), "< 0.05");
        let v = evaluate(
            &g,
            &QueryResult::Value(0.0),
            Some(&QueryResult::Failed("connection refused".into())),
        );
        assert_eq!(v.outcome, GateOutcome::NoData);
        assert!(
            v.detail
                .as_deref()
                .unwrap_or("")
                .contains("stable: query failed"),
            "{v:?}"
        );
        let v = evaluate(
            &g,
            &QueryResult::Empty("no series".into()),
            Some(&QueryResult::Value(0.0)),
        );
        assert_eq!((v.outcome, v.value), (GateOutcome::NoData, None));
    }

    #[test]
    fn queries_render_both_sides_for_comparisons() {
        let g = gate(GateSource::Compare(BuiltinTemplate::ErrorRate), "< 0.05");
        let q = GateQueries::render(&g, "fraud-v2", "ml", "canary", "stable").expect("renders");
        assert!(q.canary.contains(r#"variant="canary""#) && q.canary.contains("[1m]"));
        assert!(q
            .stable
            .as_deref()
            .unwrap_or("")
            .contains(r#"variant="stable""#));
        let g = gate(GateSource::Query("up{ns=\"{{namespace}}\"}".into()), "> 0");
        let q = GateQueries::render(&g, "e", "ml", "canary", "stable").expect("renders");
        assert_eq!((q.canary.as_str(), q.stable), ("up{ns=\"ml\"}", None));
    }

    #[test]
    fn the_window_and_sample_counts_are_rendered() {
        let mut g = gate(GateSource::Compare(BuiltinTemplate::ErrorRate), "< 0.05");
        g.interval_ms = 2_000;
        g.window_ms = 8_000;
        g.min_samples = 20;
        let q = GateQueries::render(&g, "e", "ml", "canary", "stable").expect("renders");
        assert!(q.canary.contains("[8s]"), "{}", q.canary);
        assert_eq!(
            q.canary_samples.as_deref(),
            Some(r#"sum(increase(rollgate_responses_total{experiment="e",variant="canary"}[8s]))"#)
        );
        assert!(q
            .stable_samples
            .as_deref()
            .is_some_and(|s| s.contains(r#"variant="stable""#)));
        g.min_samples = 0;
        let q = GateQueries::render(&g, "e", "ml", "canary", "stable").expect("renders");
        assert_eq!((q.canary_samples, q.stable_samples), (None, None));
    }

    #[test]
    fn too_few_samples_is_no_data_whatever_the_value() {
        let mut g = gate(GateSource::Compare(BuiltinTemplate::ErrorRate), "< 0.05");
        g.min_samples = 20;
        let results = |canary_n: QueryResult, stable_n: QueryResult| GateResults {
            canary: QueryResult::Value(0.5),
            stable: Some(QueryResult::Value(0.0)),
            canary_samples: Some(canary_n),
            stable_samples: Some(stable_n),
        };
        let v = evaluate_sampled(
            &g,
            &results(QueryResult::Value(19.4), QueryResult::Value(500.0)),
        );
        assert_eq!(
            (v.outcome, v.value, v.samples),
            (GateOutcome::NoData, None, Some(19))
        );
        let detail = v.detail.unwrap_or_default();
        assert!(
            detail.contains("canary: 19 samples") && detail.contains("min_samples"),
            "{detail}"
        );
        let v = evaluate_sampled(
            &g,
            &results(
                QueryResult::Empty("no series".into()),
                QueryResult::Value(500.0),
            ),
        );
        assert_eq!((v.outcome, v.samples), (GateOutcome::NoData, Some(0)));
        let v = evaluate_sampled(
            &g,
            &results(
                QueryResult::Value(30.0),
                QueryResult::Failed("timeout".into()),
            ),
        );
        assert_eq!(v.outcome, GateOutcome::NoData);
        assert!(v
            .detail
            .unwrap_or_default()
            .contains("stable sample count: query failed"));
        let v = evaluate_sampled(
            &g,
            &results(QueryResult::Value(30.0), QueryResult::Value(500.0)),
        );
        assert_eq!((v.outcome, v.samples), (GateOutcome::Fail, Some(30)));
    }
}
