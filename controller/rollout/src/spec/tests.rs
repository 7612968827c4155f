//! Spec validation: the contract's shape, defaults, and errors that name the field.

use super::*;
use crate::gates::{BuiltinTemplate, GateSource, NoDataPolicy};
use std::path::Path;

const BASE: &str = r#"{"version":1,"experiments":[{"id":"fraud-v2","kind":"canary","salt":"fraud-v2",
  "variants":[{"name":"stable","cluster":"s","weight":10000},{"name":"canary","cluster":"c","weight":0}]}]}"#;

const SPEC: &str = r#"
apiVersion: rollgate.dev/v1
kind: Rollout
metadata: { name: fraud-detector, namespace: ml }
spec:
  experiment: fraud-v2
  stable: stable
  canary: canary
  base_config: filter-config.json
  sink:
    ecds_file: { path: /var/run/rollgate/ecds.yaml, name: rollgate }
  prometheus: { url: http://127.0.0.1:9090 }
  state_file: .rollgate/fraud-detector.json
  steps:
    - { weight: 1, pause: 30m }
    - { weight: 5, pause: 1h }
    - { weight: 100 }
  gates:
    - name: error-rate
      template: error_rate
      condition: "< 0.01"
      interval: 1m
      failure_limit: 2
      no_data: inconclusive
    - name: vs-stable
      compare: error_rate
      condition: "< 0.05"
"#;

fn parse_in(dir: &Path, text: &str) -> Result<Rollout, crate::RolloutError> {
    std::fs::write(dir.join("filter-config.json"), BASE).expect("write base");
    parse_rollout(text, dir)
}

fn field_of(text: &str) -> String {
    let dir = tempfile::tempdir().expect("temp dir");
    match parse_in(dir.path(), text) {
        Err(crate::RolloutError::Spec { field, .. }) => field,
        other => panic!("expected a spec error, got {other:?}"),
    }
}

#[test]
fn the_design_example_parses() {
    let dir = tempfile::tempdir().expect("temp dir");
    let rollout = parse_in(dir.path(), SPEC).expect("valid");
    assert_eq!(
        (rollout.name.as_str(), rollout.namespace.as_str()),
        ("fraud-detector", "ml")
    );
    let weights: Vec<(u32, u64)> = rollout
        .plan
        .steps
        .iter()
        .map(|s| (s.canary_bp, s.pause_ms))
        .collect();
    assert_eq!(
        weights,
        vec![(100, 1_800_000), (500, 3_600_000), (10_000, 0)]
    );
    assert_eq!(rollout.plan.gates[0].failure_limit, 2);
    assert_eq!(rollout.plan.gates[0].no_data, NoDataPolicy::Inconclusive);
    assert_eq!(
        rollout.plan.gates[1].source,
        GateSource::Compare(BuiltinTemplate::ErrorRate)
    );
    assert_eq!(rollout.plan.gates[1].interval_ms, 60_000);
    assert_eq!(
        rollout.state_file,
        Some(dir.path().join(".rollgate/fraud-detector.json"))
    );
    assert_eq!(
        rollout.plan.steps[0].gates,
        vec!["error-rate".to_string(), "vs-stable".to_string()]
    );
    assert_eq!(
        rollout.plan.steps[2].gates,
        vec!["error-rate".to_string()],
        "no comparison at 100 %"
    );
    assert!(matches!(rollout.sink, SinkTarget::EcdsFile { ref name, .. } if name == "rollgate"));
}

#[test]
fn default_steps_are_seed_001_stages() {
    let text = SPEC.replace("  steps:\n    - { weight: 1, pause: 30m }\n    - { weight: 5, pause: 1h }\n    - { weight: 100 }\n", "");
    let dir = tempfile::tempdir().expect("temp dir");
    let rollout = parse_in(dir.path(), &text).expect("valid");
    let steps: Vec<(u32, u64)> = rollout
        .plan
        .steps
        .iter()
        .map(|s| (s.canary_bp, s.pause_ms / 60_000))
        .collect();
    assert_eq!(
        steps,
        vec![
            (100, 30),
            (500, 60),
            (1_000, 120),
            (2_500, 240),
            (5_000, 360),
            (10_000, 0)
        ]
    );
}

#[test]
fn errors_name_the_field() {
    let cases = [
        (
            SPEC.replace("condition: \"< 0.05\"", "condition: \"about 0.05\""),
            "spec.gates[1].condition",
        ),
        (
            SPEC.replace("interval: 1m", "interval: 1 minute"),
            "spec.gates[0].interval",
        ),
        (
            SPEC.replace("pause: 1h", "pause: 1hour"),
            "spec.steps[1].pause",
        ),
        (
            SPEC.replace("weight: 100 }", "weight: 90 }"),
            "spec.steps[2].weight",
        ),
        (
            SPEC.replace("weight: 5,", "weight: 150,"),
            "spec.steps[1].weight",
        ),
        (
            SPEC.replace("experiment: fraud-v2", "experiment: nope"),
            "spec.experiment",
        ),
        (
            SPEC.replace("canary: canary", "canary: green"),
            "spec.canary",
        ),
        (
            SPEC.replace("template: error_rate", "template: latency"),
            "spec.gates[0].template",
        ),
        (
            SPEC.replace("no_data: inconclusive", "no_data: maybe"),
            "spec.gates[0].no_data",
        ),
        (
            SPEC.replace("failure_limit: 2", "failure_limit: 0"),
            "spec.gates[0].failure_limit",
        ),
        (
            SPEC.replace("name: vs-stable", "name: error-rate"),
            "spec.gates[1].name",
        ),
        (SPEC.replace("    # x", ""), "ok"),
        (
            SPEC.replace(
                "base_config: filter-config.json",
                "base_config: missing.json",
            ),
            "spec.base_config",
        ),
        (
            SPEC.replace("apiVersion: rollgate.dev/v1", "apiVersion: v2"),
            "apiVersion",
        ),
        (
            SPEC.replace("  state_file: .rollgate/fraud-detector.json\n", ""),
            "spec.state_file",
        ),
        (
            SPEC.replace("http://127.0.0.1:9090", "127.0.0.1:9090"),
            "spec.prometheus.url",
        ),
        (
            SPEC.replace(
                "ecds_file: { path: /var/run/rollgate/ecds.yaml, name: rollgate }",
                "stdout: {}\n    kubernetes: { wasm_plugin: x }",
            ),
            "spec.sink",
        ),
    ];
    for (text, expected) in cases {
        if expected == "ok" {
            continue;
        }
        assert_eq!(
            field_of(&text),
            expected,
            "for a spec expected to fail on {expected}"
        );
    }
}

#[test]
fn unknown_fields_are_refused_with_their_place() {
    let text = SPEC.replace("failure_limit: 2", "failure_limit: 2\n      treshold: 3");
    assert!(
        field_of(&text).starts_with("spec.gates"),
        "{}",
        field_of(&text)
    );
}

#[test]
fn unknown_placeholder_in_a_custom_query_is_refused() {
    let text = SPEC.replace("template: error_rate", "query: 'up{x=\"{{cluster}}\"}'");
    assert_eq!(field_of(&text), "spec.gates[0].query");
}

#[test]
fn step_gates_must_exist() {
    let text = SPEC.replace(
        "{ weight: 1, pause: 30m }",
        "{ weight: 1, pause: 30m, gates: [nope] }",
    );
    assert_eq!(field_of(&text), "spec.steps[0].gates[0]");
}

#[test]
fn fractional_percent_becomes_basis_points() {
    let dir = tempfile::tempdir().expect("temp dir");
    let text = SPEC.replace("weight: 1,", "weight: 0.25,");
    let rollout = parse_in(dir.path(), &text).expect("valid");
    assert_eq!(rollout.plan.steps[0].canary_bp, 25);
    assert_eq!(
        field_of(&SPEC.replace("weight: 1,", "weight: 0.001,")),
        "spec.steps[0].weight"
    );
}

const SRM_GATE: &str = "    - name: srm\n      template: srm\n";

#[test]
fn the_srm_gate_has_a_fixed_condition_and_checks_every_step() {
    let dir = tempfile::tempdir().expect("temp dir");
    let text = format!("{SPEC}{SRM_GATE}      interval: 30s\n");
    let rollout = parse_in(dir.path(), &text).expect("valid");
    let srm = rollout.plan.gate("srm").expect("srm gate");
    assert_eq!(srm.source, GateSource::Srm);
    assert_eq!(srm.condition.to_string(), ">= 0.001");
    assert_eq!(
        (srm.interval_ms, srm.no_data),
        (30_000, NoDataPolicy::Inconclusive)
    );
    for step in &rollout.plan.steps {
        assert!(step.gates.iter().any(|g| g == "srm"), "{step:?}");
    }
}

#[test]
fn srm_gate_mistakes_name_the_field() {
    let with = |extra: &str| format!("{SPEC}{SRM_GATE}{extra}");
    assert_eq!(
        field_of(&with("      condition: \"> 0.5\"\n")),
        "spec.gates[2].condition"
    );
    assert_eq!(
        field_of(&with("      failure_limit: 2\n")),
        "spec.gates[2].failure_limit"
    );
    assert_eq!(
        field_of(&format!(
            "{SPEC}    - name: srm\n      compare: srm\n      condition: \"< 1\"\n"
        )),
        "spec.gates[2].compare"
    );
    assert_eq!(
        field_of(&SPEC.replace("      condition: \"< 0.05\"\n", "")),
        "spec.gates[1].condition",
        "condition stays required for every other gate"
    );
}

#[test]
fn gate_windows_span_four_scrapes_and_samples_have_defaults() {
    let dir = tempfile::tempdir().expect("temp dir");
    let fast = SPEC
        .replace(
            "prometheus: { url: http://127.0.0.1:9090 }",
            "prometheus: { url: http://127.0.0.1:9090, scrape_interval: 1s }",
        )
        .replace("interval: 1m", "interval: 2s");
    let rollout = parse_in(dir.path(), &fast).expect("valid");
    let gate = rollout.plan.gate("error-rate").expect("gate");
    assert_eq!(
        (gate.interval_ms, gate.window(), gate.min_samples),
        (2_000, 4_000, crate::gates::DEFAULT_MIN_SAMPLES),
        "window = max(interval, 4 x scrape interval)"
    );
    // The default scrape interval (15s) makes a 2s gate look at the last minute.
    let rollout =
        parse_in(dir.path(), &SPEC.replace("interval: 1m", "interval: 2s")).expect("valid");
    assert_eq!(
        rollout.plan.gate("error-rate").map(|g| g.window()),
        Some(60_000)
    );
    let explicit = fast.replace(
        "interval: 2s",
        "interval: 2s\n      window: 10s\n      min_samples: 20",
    );
    let rollout = parse_in(dir.path(), &explicit).expect("valid");
    let gate = rollout.plan.gate("error-rate").expect("gate");
    assert_eq!((gate.window(), gate.min_samples), (10_000, 20));
}

#[test]
fn window_and_sample_mistakes_name_the_field() {
    let short = SPEC.replace("interval: 1m", "interval: 1m\n      window: 30s");
    assert_eq!(field_of(&short), "spec.gates[0].window");
    let custom = SPEC.replace(
        "template: error_rate",
        "query: 'sum(up)'\n      min_samples: 10",
    );
    assert_eq!(field_of(&custom), "spec.gates[0].min_samples");
    let misplaced = SPEC.replace(
        "template: error_rate",
        "template: error_rate\n      samples_query: 'sum(up)'",
    );
    assert_eq!(field_of(&misplaced), "spec.gates[0].samples_query");
    let dir = tempfile::tempdir().expect("temp dir");
    let counted = SPEC.replace(
        "template: error_rate",
        "query: 'sum(up)'\n      samples_query: 'sum(increase(x{v=\"{{variant}}\"}[{{interval}}]))'",
    );
    let rollout = parse_in(dir.path(), &counted).expect("valid");
    let gate = rollout.plan.gate("error-rate").expect("gate");
    assert_eq!(gate.min_samples, crate::gates::DEFAULT_MIN_SAMPLES);
}

#[test]
fn secured_sources_read_secrets_from_files_or_env_and_mistakes_name_the_field() {
    let dir = tempfile::tempdir().expect("temp dir");
    let with = |prometheus: &str| {
        SPEC.replace(
            "prometheus: { url: http://127.0.0.1:9090 }",
            &format!("prometheus: {prometheus}"),
        )
    };
    let secured = with(
        "{ url: 'https://mimir:8080/prometheus/', ca_file: ca.pem, basic_auth: { username: u, password: { env: PROM_PASSWORD } }, headers: { X-Scope-OrgID: team-a }, timeout: 3s }",
    );
    let rollout = parse_in(dir.path(), &secured).expect("valid");
    let target = rollout.prometheus.expect("prometheus");
    assert_eq!(target.url, "https://mimir:8080/prometheus");
    assert_eq!(target.ca_file, Some(dir.path().join("ca.pem")));
    assert_eq!(
        target.auth,
        SourceAuth::Basic {
            username: "u".into(),
            password: SecretRef::Env("PROM_PASSWORD".into())
        }
    );
    assert_eq!(
        (target.headers, target.timeout_ms),
        (
            vec![("X-Scope-OrgID".to_string(), "team-a".to_string())],
            3_000
        )
    );
    let cases = [
        ("{ url: 'ftp://x' }", "spec.prometheus.url"),
        ("{ url: 'http://x', ca_file: ca.pem }", "spec.prometheus.ca_file"),
        (
            "{ url: 'http://x', bearer_token: { file: t, env: T } }",
            "spec.prometheus.bearer_token",
        ),
        (
            "{ url: 'http://x', bearer_token: { file: t }, basic_auth: { username: u, password: { env: P } } }",
            "spec.prometheus",
        ),
        (
            "{ url: 'http://x', headers: { Authorization: 'Bearer abc' } }",
            "spec.prometheus.headers.Authorization",
        ),
        (
            "{ url: 'http://x', basic_auth: { username: u, password: 'in-clear' } }",
            "spec.prometheus.basic_auth",
        ),
    ];
    for (prometheus, field) in cases {
        let text = with(prometheus);
        let dir = tempfile::tempdir().expect("temp dir");
        match parse_in(dir.path(), &text) {
            Err(crate::RolloutError::Spec { field: got, .. }) => {
                assert!(got.starts_with(field), "{prometheus}: {got}")
            }
            other => panic!("{prometheus}: expected a spec error, got {other:?}"),
        }
    }
}

#[test]
fn sequential_gate_parses_and_errors_name_the_field() {
    let dir = tempfile::tempdir().expect("temp dir");
    let sequential = "compare: error_rate\n      condition: \"< 0.05\"";
    let text = SPEC.replace(
        sequential,
        "sequential: error_rate\n      condition: \"< 0.005\"\n      confidence: 0.9\n      n_star: 2000",
    );
    let rollout = parse_in(dir.path(), &text).expect("valid");
    let gate = rollout.plan.gate("vs-stable").expect("gate");
    assert_eq!(
        gate.source,
        GateSource::Sequential(crate::gates::sequential::SequentialSettings {
            tolerance: 0.005,
            confidence: 0.9,
            n_star: 2000.0
        })
    );
    for (replacement, field) in [
        (
            "sequential: p99_latency_ms\n      condition: \"< 0.005\"",
            "spec.gates[1].sequential",
        ),
        (
            "sequential: error_rate\n      condition: \"> 0.005\"",
            "spec.gates[1].condition",
        ),
        (
            "sequential: error_rate\n      condition: \"< 0.005\"\n      confidence: 1.5",
            "spec.gates[1].confidence",
        ),
        (
            "sequential: error_rate\n      compare: error_rate\n      condition: \"< 0.005\"",
            "spec.gates[1]",
        ),
        (
            "compare: error_rate\n      condition: \"< 0.05\"\n      n_star: 10",
            "spec.gates[1]",
        ),
    ] {
        assert_eq!(
            field_of(&SPEC.replace(sequential, replacement)),
            field,
            "{replacement}"
        );
    }
}
