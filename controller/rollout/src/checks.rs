//! Running a step's gates: render their queries, ask the [`QuerySource`], judge the results.

use crate::engine::{RolloutState, UnixMillis};
use crate::gates::sequential::{
    evaluate_sequential, SequentialResults, SequentialSettings, SEQUENTIAL_ERRORS_QUERY,
    SEQUENTIAL_RESPONSES_QUERY,
};
use crate::gates::{
    evaluate_sampled, evaluate_srm, srm_window_ms, Gate, GateQueries, GateResults, GateSource,
    GateVerdict, QueryResult,
};
use crate::gates::{render_query, QueryVars};
use crate::prometheus::QuerySource;
use crate::spec::{Plan, Rollout};

/// What a rollout's gates measure: the experiment, its two variants, the namespace. The CLI
/// takes it from the spec ([`Rollout::gate_target`]), the API from its canary record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GateTarget<'a> {
    /// Experiment id (`{{experiment}}`).
    pub experiment: &'a str,
    /// Namespace (`{{namespace}}`).
    pub namespace: &'a str,
    /// Canary variant name.
    pub canary: &'a str,
    /// Stable variant name.
    pub stable: &'a str,
}

impl Rollout {
    /// What this rollout's gates measure.
    pub fn gate_target(&self) -> GateTarget<'_> {
        GateTarget {
            experiment: &self.experiment,
            namespace: &self.namespace,
            canary: &self.canary,
            stable: &self.stable,
        }
    }
}

/// Checks the gates named `names` of `rollout` against `source`. `state` and `now` give the
/// `srm` gate the weight the sink holds and how long it has held it.
pub async fn check_gates<Q: QuerySource>(
    rollout: &Rollout,
    source: &Q,
    names: &[String],
    state: &RolloutState,
    now: UnixMillis,
) -> Vec<GateVerdict> {
    check_plan_gates(
        &rollout.gate_target(),
        &rollout.plan,
        source,
        names,
        state,
        now,
    )
    .await
}

/// Checks the gates named `names` of `plan`, measuring `target`, against `source`: every gate
/// kind, the one evaluation `rollgate run` and the API share.
pub async fn check_plan_gates<Q: QuerySource>(
    target: &GateTarget<'_>,
    plan: &Plan,
    source: &Q,
    names: &[String],
    state: &RolloutState,
    now: UnixMillis,
) -> Vec<GateVerdict> {
    let mut verdicts = Vec::with_capacity(names.len());
    for gate in names.iter().filter_map(|name| plan.gate(name)) {
        let verdict = match gate.source {
            GateSource::Srm => check_srm(target, source, gate, state, now).await,
            GateSource::Sequential(settings) => {
                check_sequential(target, source, gate, &settings, state, now).await
            }
            _ => check_one(target, source, gate).await,
        };
        verdicts.push(verdict);
    }
    verdicts
}

async fn check_one<Q: QuerySource>(
    target: &GateTarget<'_>,
    source: &Q,
    gate: &Gate,
) -> GateVerdict {
    let queries = match GateQueries::render(
        gate,
        target.experiment,
        target.namespace,
        target.canary,
        target.stable,
    ) {
        Ok(q) => q,
        Err(e) => {
            let failed = GateResults {
                canary: QueryResult::Failed(e),
                stable: None,
                canary_samples: None,
                stable_samples: None,
            };
            return evaluate_sampled(gate, &failed);
        }
    };
    let results = GateResults {
        canary: source.query(&queries.canary).await,
        stable: optional(source, queries.stable.as_deref()).await,
        canary_samples: optional(source, queries.canary_samples.as_deref()).await,
        stable_samples: optional(source, queries.stable_samples.as_deref()).await,
    };
    evaluate_sampled(gate, &results)
}

async fn optional<Q: QuerySource>(source: &Q, query: Option<&str>) -> Option<QueryResult> {
    match query {
        Some(q) => Some(source.query(q).await),
        None => None,
    }
}

/// Errors and responses of both variants since the current weight was pushed (or the rollout
/// resumed), judged by the mSPRT.
async fn check_sequential<Q: QuerySource>(
    target: &GateTarget<'_>,
    source: &Q,
    gate: &Gate,
    settings: &SequentialSettings,
    state: &RolloutState,
    now: UnixMillis,
) -> GateVerdict {
    let missing = |why: String| SequentialResults {
        stable_errors: QueryResult::Empty(why.clone()),
        stable_total: QueryResult::Empty(why.clone()),
        canary_errors: QueryResult::Empty(why.clone()),
        canary_total: QueryResult::Empty(why),
    };
    let Some(window_ms) = srm_window_ms(state.observed_since_ms(), now, gate.interval_ms) else {
        let why = "the step's weight was pushed (or resumed) less than 1s ago".to_string();
        return evaluate_sequential(gate, settings, &missing(why));
    };
    let interval = crate::duration::format_duration_ms(window_ms);
    let query = |template: &str, variant: &str| {
        render_query(
            template,
            &QueryVars {
                experiment: target.experiment,
                variant,
                namespace: target.namespace,
                interval: &interval,
            },
        )
    };
    let mut results = Vec::with_capacity(4);
    for (template, variant) in [
        (SEQUENTIAL_ERRORS_QUERY, target.stable),
        (SEQUENTIAL_RESPONSES_QUERY, target.stable),
        (SEQUENTIAL_ERRORS_QUERY, target.canary),
        (SEQUENTIAL_RESPONSES_QUERY, target.canary),
    ] {
        results.push(match query(template, variant) {
            Ok(q) => source.query(&q).await,
            Err(e) => QueryResult::Failed(e),
        });
    }
    let mut it = results.into_iter();
    let mut next = || {
        it.next()
            .unwrap_or(QueryResult::Empty("no result".to_string()))
    };
    let results = SequentialResults {
        stable_errors: next(),
        stable_total: next(),
        canary_errors: next(),
        canary_total: next(),
    };
    evaluate_sequential(gate, settings, &results)
}

/// Exposures of both variants since the current weight was pushed (or the rollout resumed),
/// against that weight.
async fn check_srm<Q: QuerySource>(
    target: &GateTarget<'_>,
    source: &Q,
    gate: &Gate,
    state: &RolloutState,
    now: UnixMillis,
) -> GateVerdict {
    let no_data = |why: String| {
        let missing = QueryResult::Empty(why);
        evaluate_srm(gate, &missing, &missing, 0)
    };
    let Some(canary_bp) = state.applied_canary_bp else {
        return no_data("no weight has been pushed yet".to_string());
    };
    let Some(window_ms) = srm_window_ms(state.observed_since_ms(), now, gate.interval_ms) else {
        return no_data("the step's weight was pushed (or resumed) less than 1s ago".to_string());
    };
    let queries = GateQueries::render_over(
        gate,
        window_ms,
        target.experiment,
        target.namespace,
        target.canary,
        target.stable,
    );
    let (canary_query, stable_query) = match queries {
        Ok(GateQueries {
            canary,
            stable: Some(stable),
            ..
        }) => (canary, stable),
        Ok(_) => return no_data("no stable query rendered".to_string()),
        Err(e) => return no_data(e),
    };
    let canary = source.query(&canary_query).await;
    let stable = source.query(&stable_query).await;
    evaluate_srm(gate, &stable, &canary, canary_bp)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::{step, Input};
    use std::future::Future;
    use std::sync::Mutex;

    /// Answers exposure queries with fixed counts and keeps every query.
    struct Exposures {
        stable: f64,
        canary: f64,
        seen: Mutex<Vec<String>>,
    }

    impl QuerySource for Exposures {
        fn query(&self, promql: &str) -> impl Future<Output = QueryResult> + Send {
            if let Ok(mut seen) = self.seen.lock() {
                seen.push(promql.to_string());
            }
            let value = if promql.contains(r#"variant="canary""#) {
                self.canary
            } else {
                self.stable
            };
            std::future::ready(QueryResult::Value(value))
        }
    }

    fn rollout(dir: &std::path::Path) -> Rollout {
        std::fs::write(
            dir.join("base.json"),
            r#"{"version":1,"experiments":[{"id":"e","kind":"canary","salt":"e","variants":[
              {"name":"stable","cluster":"s","weight":10000},{"name":"canary","cluster":"c","weight":0}]}]}"#,
        )
        .expect("base");
        let spec = "apiVersion: rollgate.dev/v1\nkind: Rollout\nmetadata: { name: r }\nspec:\n  experiment: e\n  stable: stable\n  canary: canary\n  base_config: base.json\n  sink: { stdout: {} }\n  prometheus: { url: http://127.0.0.1:9 }\n  state_file: s.json\n  steps: [{ weight: 20, pause: 10m }, { weight: 100 }]\n  gates:\n    - { name: srm, template: srm }\n";
        crate::spec::parse_rollout(spec, dir).expect("valid")
    }

    #[tokio::test]
    async fn srm_counts_exposures_since_the_push_against_the_pushed_weight() {
        let dir = tempfile::tempdir().expect("temp dir");
        let rollout = rollout(dir.path());
        let t0 = 1_700_000_000_000;
        let state = RolloutState::new("r", t0);
        let (state, _) = step(&rollout.plan, state, Input::Tick, t0);
        let (state, _) = step(&rollout.plan, state, Input::Pushed { canary_bp: 2_000 }, t0);
        // 80/20 expected; 20 % of 5,000 is exactly 1,000 canary exposures.
        let source = Exposures {
            stable: 4_000.0,
            canary: 1_000.0,
            seen: Mutex::new(Vec::new()),
        };
        let names = vec!["srm".to_string()];
        let verdicts = check_gates(&rollout, &source, &names, &state, t0 + 95_400).await;
        let evidence = verdicts[0].srm.clone().expect("evidence");
        assert!((evidence.expected_canary_share - 0.2).abs() < 1e-12);
        assert_eq!(verdicts[0].value, Some(1.0));
        let seen = source.seen.lock().map(|s| s.clone()).unwrap_or_default();
        assert_eq!(
            seen,
            vec![
                r#"sum(increase(rollgate_exposures_total{experiment="e",variant="canary"}[1m35s]))"#,
                r#"sum(increase(rollgate_exposures_total{experiment="e",variant="stable"}[1m35s]))"#,
            ]
        );
        // The same counts against a 10 % weight are a mismatch.
        let mut at_ten = state.clone();
        at_ten.applied_canary_bp = Some(1_000);
        let verdicts = check_gates(&rollout, &source, &names, &at_ten, t0 + 95_400).await;
        assert_eq!(verdicts[0].outcome, crate::gates::GateOutcome::Invalid);
    }
}
