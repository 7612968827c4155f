//! `manifests/prometheus/`: the rules and gates read only metrics the filter defines, the
//! thresholds are the values file's, and Debian's `promtool` accepts the rules, the config and
//! the rules' unit tests (`rules_test.yml`). When `promtool` is missing those checks say so
//! loudly and skip (`make test` installs it).

use rollgate_core::metrics;
use rollgate_rollout::gates::BuiltinTemplate;
use serde_yaml::Value;
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;

/// The filter's metrics as PromQL reads them (METRICS.md, `rollgate_core::metrics`).
const FILTER_COUNTERS: [&str; 8] = [
    metrics::REQUESTS_TOTAL,
    metrics::EXPOSURES_TOTAL,
    metrics::RESPONSES_TOTAL,
    metrics::SHADOW_REQUESTS_TOTAL,
    metrics::SHADOW_RESPONSES_TOTAL,
    metrics::SHADOW_COMPARISONS_TOTAL,
    metrics::GUARD_TRIPPED_TOTAL,
    metrics::CONFIG_REJECTED_TOTAL,
];
/// The filter's histograms; Prometheus reads them as `_bucket`, `_sum` and `_count`.
const FILTER_HISTOGRAMS: [&str; 2] = [metrics::REQUEST_DURATION_MS, metrics::SHADOW_DURATION_MS];

fn prometheus_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../manifests/prometheus")
}

fn load(path: &Path) -> Value {
    let text = std::fs::read_to_string(path)
        .unwrap_or_else(|err| panic!("cannot read {}: {err}", path.display()));
    serde_yaml::from_str(&text)
        .unwrap_or_else(|err| panic!("{} is not YAML: {err}", path.display()))
}

/// Every series name a PromQL expression selects: identifiers outside quotes, braces and
/// brackets that are not functions, keywords or `by`/`without` labels.
fn series_names(expr: &str) -> BTreeSet<String> {
    // Keywords and aggregation operators (which may put `by (...)` before their parenthesis).
    const WORDS: [&str; 21] = [
        "by",
        "without",
        "on",
        "ignoring",
        "group_left",
        "group_right",
        "and",
        "or",
        "unless",
        "bool",
        "offset",
        "sum",
        "min",
        "max",
        "avg",
        "count",
        "stddev",
        "stdvar",
        "topk",
        "bottomk",
        "quantile",
    ];
    let mut names = BTreeSet::new();
    let chars: Vec<char> = expr.chars().collect();
    let (mut i, mut depth_brace, mut depth_bracket, mut after_grouping) = (0, 0, 0, false);
    while i < chars.len() {
        let c = chars[i];
        match c {
            '"' | '\'' | '`' => {
                i += 1;
                while i < chars.len() && chars[i] != c {
                    i += if chars[i] == '\\' { 2 } else { 1 };
                }
            }
            '{' => depth_brace += 1,
            '}' => depth_brace -= 1,
            '[' => depth_bracket += 1,
            ']' => depth_bracket -= 1,
            ')' if after_grouping => after_grouping = false,
            c if c.is_ascii_alphabetic() || c == '_' || c == ':' => {
                let start = i;
                while i < chars.len()
                    && (chars[i].is_ascii_alphanumeric() || chars[i] == '_' || chars[i] == ':')
                {
                    i += 1;
                }
                let word: String = chars[start..i].iter().collect();
                let next = chars[i..].iter().find(|c| !c.is_whitespace());
                if matches!(word.as_str(), "by" | "without" | "on" | "ignoring") {
                    after_grouping = true;
                } else if depth_brace == 0
                    && depth_bracket == 0
                    && !after_grouping
                    && next != Some(&'(')
                    && !WORDS.contains(&word.as_str())
                {
                    names.insert(word);
                }
                continue;
            }
            _ => {}
        }
        i += 1;
    }
    names
}

/// Whether `name` is a series the filter exports (histograms as `_bucket`, `_sum`, `_count`).
fn filter_exports(name: &str) -> bool {
    FILTER_COUNTERS.contains(&name)
        || FILTER_HISTOGRAMS.iter().any(|h| {
            ["_bucket", "_sum", "_count"]
                .iter()
                .any(|suffix| name == format!("{h}{suffix}"))
        })
}

struct Rule {
    record: Option<String>,
    alert: Option<String>,
    expr: String,
}

fn rules() -> Vec<Rule> {
    let file = load(&prometheus_dir().join("rules.yml"));
    let groups = file["groups"]
        .as_sequence()
        .expect("rules.yml: groups is a list");
    groups
        .iter()
        .flat_map(|g| g["rules"].as_sequence().expect("rules is a list").iter())
        .map(|r| Rule {
            record: r["record"].as_str().map(str::to_string),
            alert: r["alert"].as_str().map(str::to_string),
            expr: r["expr"]
                .as_str()
                .expect("every rule has an expr")
                .to_string(),
        })
        .collect()
}

#[test]
fn series_names_skips_labels_functions_and_strings() {
    let names = series_names(
        r#"histogram_quantile(0.99, sum by (experiment, le) (rate(rollgate_request_duration_ms_bucket{variant="x_y"}[5m]))) / on (experiment) rollgate:recorded > bool 1"#,
    );
    let expected: BTreeSet<String> = ["rollgate_request_duration_ms_bucket", "rollgate:recorded"]
        .map(String::from)
        .into();
    assert_eq!(names, expected);
}

#[test]
fn rules_read_only_filter_metrics_or_recorded_series() {
    let rules = rules();
    let recorded: BTreeSet<String> = rules.iter().filter_map(|r| r.record.clone()).collect();
    assert!(recorded.len() >= 3, "recording rules: {recorded:?}");
    let mut used = BTreeSet::new();
    for rule in &rules {
        for name in series_names(&rule.expr) {
            assert!(
                filter_exports(&name) || recorded.contains(&name),
                "rule {:?} reads `{name}`, which neither the filter (METRICS.md) nor a recording rule defines",
                rule.record.as_ref().or(rule.alert.as_ref())
            );
            used.insert(name);
        }
    }
    for needed in [
        "rollgate_responses_total",
        "rollgate_request_duration_ms_bucket",
        "rollgate_shadow_comparisons_total",
    ] {
        assert!(used.contains(needed), "no rule reads {needed}");
    }
}

#[test]
fn gate_templates_read_only_filter_metrics() {
    for template in BuiltinTemplate::ALL {
        let names = series_names(template.query());
        assert!(!names.is_empty(), "{} reads no series", template.name());
        for name in names {
            assert!(
                filter_exports(&name),
                "gate template {} reads `{name}`",
                template.name()
            );
        }
    }
}

#[test]
fn seed_alerts_use_the_values_thresholds() {
    let values = load(&prometheus_dir().join("../values.yaml"));
    let alerts = &values["alerts"];
    let threshold = |key: &str| {
        alerts[key]
            .as_f64()
            .unwrap_or_else(|| panic!("alerts.{key}"))
    };
    let rules = rules();
    let expr_of = |alert: &str| {
        rules
            .iter()
            .find(|r| r.alert.as_deref() == Some(alert))
            .unwrap_or_else(|| panic!("no alert {alert} in rules.yml"))
            .expr
            .clone()
    };
    let bound = |alert: &str, op: &str| -> f64 {
        let expr = expr_of(alert);
        let (_, right) = expr
            .rsplit_once(op)
            .unwrap_or_else(|| panic!("{alert}: no `{op}` in {expr}"));
        right
            .trim()
            .parse()
            .unwrap_or_else(|err| panic!("{alert}: bound {right:?}: {err}"))
    };
    assert_eq!(bound("CanaryHighLatency", ">"), threshold("p99_latency_ms"));
    assert_eq!(bound("CanaryHighErrorRate", ">"), threshold("error_rate"));
    assert_eq!(
        bound("ShadowLowAgreement", "<"),
        threshold("shadow_agreement")
    );
    for alert in ["CanaryHighLatency", "CanaryHighErrorRate"] {
        assert!(
            expr_of(alert).contains(r#"variant="canary""#),
            "{alert} watches the canary"
        );
    }
    let file = load(&prometheus_dir().join("rules.yml"));
    let for_of = |alert: &str| {
        file["groups"]
            .as_sequence()
            .into_iter()
            .flatten()
            .flat_map(|g| g["rules"].as_sequence().into_iter().flatten())
            .find(|r| r["alert"].as_str() == Some(alert))
            .and_then(|r| r["for"].as_str())
            .map(str::to_string)
    };
    let expected_for = alerts["for"].as_str().map(str::to_string);
    assert_eq!(for_of("CanaryHighLatency"), expected_for);
    assert_eq!(for_of("CanaryHighErrorRate"), expected_for);
}

#[test]
fn scrape_config_reads_envoy_prometheus_stats() {
    let config = load(&prometheus_dir().join("prometheus.yml"));
    let values = load(&prometheus_dir().join("../values.yaml"));
    let job = &config["scrape_configs"][0];
    assert_eq!(job["metrics_path"].as_str(), Some("/stats/prometheus"));
    let target = format!(
        "{}:{}",
        values["envoy"]["admin_address"]
            .as_str()
            .expect("admin_address"),
        values["envoy"]["admin_port"].as_u64().expect("admin_port")
    );
    assert_eq!(
        job["static_configs"][0]["targets"][0].as_str(),
        Some(target.as_str())
    );
    assert_eq!(config["rule_files"][0].as_str(), Some("rules.yml"));
    let istio = load(&prometheus_dir().join("istio-scrape.yml"));
    let istio_job = &istio["scrape_configs"][0];
    assert_eq!(
        istio_job["metrics_path"].as_str(),
        Some("/stats/prometheus")
    );
    assert_eq!(
        istio_job["kubernetes_sd_configs"][0]["role"].as_str(),
        Some("pod")
    );
}

/// Runs `promtool ARGS` in manifests/prometheus: (success, stdout + stderr). A missing
/// promtool fails the test, naming the fix (`make test` installs it): it never skips.
fn promtool(args: &[&str]) -> (bool, String) {
    let out = Command::new("promtool")
        .args(args)
        .current_dir(prometheus_dir())
        .output()
        .unwrap_or_else(|err| {
            panic!(
                "promtool not found ({err}): install Debian's `prometheus` package \
                 (`make prometheus`, which `make test` does)"
            )
        });
    (
        out.status.success(),
        format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ),
    )
}

#[test]
fn promtool_accepts_rules_config_and_rule_unit_tests() {
    for args in [
        &["check", "rules", "rules.yml"][..],
        &["check", "config", "prometheus.yml"][..],
        &["test", "rules", "rules_test.yml"][..],
    ] {
        let (ok, output) = promtool(args);
        assert!(ok, "promtool {} failed:\n{output}", args.join(" "));
        assert!(
            output.contains("SUCCESS"),
            "promtool {}:\n{output}",
            args.join(" ")
        );
    }
}

#[test]
fn promtool_rejects_a_broken_rule() {
    let dir = tempfile::tempdir().expect("tempdir");
    let broken = dir.path().join("broken.yml");
    std::fs::write(
        &broken,
        "groups:\n  - name: x\n    rules:\n      - alert: Broken\n        expr: sum(rate(rollgate_requests_total[5m]) > \n",
    )
    .expect("write");
    let path = broken.to_string_lossy().to_string();
    let (ok, output) = promtool(&["check", "rules", &path]);
    assert!(
        !ok,
        "promtool accepted a rule with unbalanced parentheses:\n{output}"
    );
}
