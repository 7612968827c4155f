//! Bandit plan, weights and a whole round against a scripted query source and a memory sink.

use super::spec::parse_bandit;
use super::*;
use crate::prometheus::QuerySource;
use crate::sinks::{ConfigSink, MemorySink};
use crate::spec::parse_rollout;
use rollgate_stats::bandit::BanditAlgorithm;
use std::collections::HashMap;
use std::future::Future;
use std::sync::Arc;

const BASE: &str = r#"{"version":1,"experiments":[{"id":"rank-ab","kind":"ab","salt":"rank-ab",
  "variants":[{"name":"control","cluster":"c","weight":5000},
              {"name":"treatment","cluster":"t","weight":5000}]}]}"#;

fn rollout(dir: &std::path::Path, prometheus: &str) -> crate::spec::Rollout {
    std::fs::write(dir.join("filter.json"), BASE).expect("base config");
    let text = format!(
        "apiVersion: rollgate.dev/v1\nkind: Rollout\nmetadata: {{ name: rank, namespace: ml }}\n\
         spec:\n  experiment: rank-ab\n  stable: control\n  canary: treatment\n  \
         base_config: filter.json\n  sink: {{ stdout: {{}} }}\n  state_file: state.json\n{prometheus}"
    );
    parse_rollout(&text, dir).expect("rollout")
}

fn bandit(spec: &str) -> spec::BanditSpec {
    let text = format!(
        "apiVersion: rollgate.dev/v1\nkind: Bandit\nmetadata: {{ name: b }}\nspec:\n{spec}"
    );
    parse_bandit(&text, std::path::Path::new(".")).expect("bandit spec")
}

const PROMETHEUS: &str = "  prometheus: { url: http://127.0.0.1:9, scrape_interval: 15s }\n";

/// Answers each query from a table; unknown queries fail.
struct Scripted(HashMap<String, QueryResult>);

impl QuerySource for Scripted {
    fn query(&self, promql: &str) -> impl Future<Output = QueryResult> + Send {
        let answer = self
            .0
            .get(promql)
            .cloned()
            .unwrap_or_else(|| QueryResult::Failed(format!("unscripted query {promql}")));
        async move { answer }
    }
}

fn scripted(plan: &BanditPlan, counts: &[(f64, f64)]) -> Scripted {
    let mut table = HashMap::new();
    for (q, (s, t)) in plan.queries.iter().zip(counts) {
        table.insert(q.first.clone(), QueryResult::Value(*s));
        table.insert(q.second.clone(), QueryResult::Value(*t));
    }
    Scripted(table)
}

#[test]
fn plan_checks_arms_prometheus_and_window() {
    let dir = tempfile::tempdir().expect("tempdir");
    let with_prometheus = rollout(dir.path(), PROMETHEUS);
    let plan = BanditPlan::new(
        &bandit("  rollout: r\n  reward: { template: success_rate }\n"),
        &with_prometheus,
    )
    .expect("plan");
    let arms: Vec<&str> = plan.queries.iter().map(|q| q.arm.as_str()).collect();
    assert_eq!(arms, ["control", "treatment"]);
    assert!(plan.queries[1].first.contains(r#"variant="treatment""#));
    assert!(plan.queries[1].first.contains("[10m]"));

    let unknown = BanditPlan::new(
        &bandit("  rollout: r\n  arms: [control, v3]\n  reward: { template: success_rate }\n"),
        &with_prometheus,
    );
    assert!(matches!(unknown, Err(RolloutError::Spec { field, .. }) if field == "spec.arms[1]"));
    let short = BanditPlan::new(
        &bandit("  rollout: r\n  reward: { template: success_rate, window: 30s }\n"),
        &with_prometheus,
    );
    match short {
        Err(RolloutError::Spec { field, message }) => {
            assert_eq!(field, "spec.reward.window");
            assert!(message.contains("1m"), "{message}");
        }
        other => panic!("expected a window error, got {other:?}"),
    }
    let without = BanditPlan::new(
        &bandit("  rollout: r\n  reward: { template: success_rate }\n"),
        &rollout(dir.path(), ""),
    );
    assert!(matches!(without, Err(RolloutError::Spec { field, .. }) if field == "spec.prometheus"));
}

#[test]
fn weights_go_into_the_experiment() {
    let dir = tempfile::tempdir().expect("tempdir");
    let rollout = rollout(dir.path(), PROMETHEUS);
    let allocation = Allocation {
        arms: vec!["treatment".into()],
        probabilities: vec![1.0],
        weights_bp: vec![10_000],
    };
    let config = weighted_config(&rollout.base_config, "rank-ab", &allocation).expect("valid");
    let weights: Vec<u32> = config.experiments[0]
        .variants
        .iter()
        .map(|v| v.weight)
        .collect();
    assert_eq!(weights, [0, 10_000]);
    let stranger = Allocation {
        arms: vec!["v9".into()],
        ..allocation
    };
    assert!(weighted_config(&rollout.base_config, "rank-ab", &stranger).is_err());
}

#[tokio::test]
async fn a_round_moves_weight_to_the_better_arm_and_a_failed_query_pushes_nothing() {
    let dir = tempfile::tempdir().expect("tempdir");
    let rollout = rollout(dir.path(), PROMETHEUS);
    let plan = BanditPlan::new(
        &bandit("  rollout: r\n  reward: { template: success_rate }\n"),
        &rollout,
    )
    .expect("plan");
    let log = Arc::new(MemorySink::default());
    let sink = ConfigSink::Memory {
        log: log.clone(),
        destination: "rank".into(),
    };
    let thompson = BanditAlgorithm::Thompson {
        draws: 10_000,
        seed: 3,
    };
    let source = scripted(&plan, &[(40.0, 100.0), (90.0, 100.0)]);
    let report = run_round(&plan, &source, &sink, thompson, 100)
        .await
        .expect("round");
    assert_eq!(report.version, 1);
    assert_eq!(report.rewards[1].successes, 90);
    // Beta(41, 61) vs Beta(91, 11): the control arm is best with probability ~1e-13, so the
    // control keeps exactly the floor.
    assert_eq!(report.allocation.weights_bp, [100, 9900]);
    let pushed = log.latest("rank").expect("pushed");
    assert_eq!(pushed.experiments[0].variants[1].weight, 9900);

    let mut failing = scripted(&plan, &[(40.0, 100.0), (90.0, 100.0)]);
    failing.0.insert(
        plan.queries[0].second.clone(),
        QueryResult::Failed("Prometheus http://p unreachable".into()),
    );
    let err = run_round(&plan, &failing, &sink, thompson, 100)
        .await
        .expect_err("failed query");
    assert!(err.to_string().contains("nothing pushed"), "{err}");
    assert_eq!(log.pushes().len(), 1, "no second push");

    let next = run_round(&plan, &source, &sink, BanditAlgorithm::Ucb1, 2500)
        .await
        .expect("round");
    assert_eq!(next.version, 2);
    assert_eq!(next.allocation.weights_bp, [2500, 7500]);
}

#[test]
fn the_example_spec_binds_to_the_example_rollout() {
    let examples = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples");
    let spec = spec::load_bandit(&examples.join("bandit.yaml")).expect("examples/bandit.yaml");
    let rollout = crate::spec::load_rollout(&spec.rollout).expect("examples/rollout.yaml");
    let plan = BanditPlan::new(&spec, &rollout).expect("plan");
    assert_eq!(plan.queries.len(), 2);
    assert!(plan.queries[1].second.contains(r#"variant="canary""#));
}
