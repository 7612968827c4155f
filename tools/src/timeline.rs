//! Builds the report's timeline (`rollgate_report::Timeline`) for the demo from what the run
//! left behind: the controllers' `--output json` lines (weights, decisions) and Prometheus range
//! query results (per-variant traffic, errors, p99, shadow agreement).

use rollgate_report::{Decision, DecisionAction, ShadowSample, VariantSample, WeightPoint};
use serde_json::Value;
use std::collections::BTreeMap;

/// Seconds since `start_ms` of a Unix-millisecond time (never negative).
fn since(start_ms: u64, at_ms: u64) -> f64 {
    at_ms.saturating_sub(start_ms) as f64 / 1000.0
}

/// A rollback reason as one readable line: `gate error-rate: 0.0812 breaks < 0.01 (2 in a row)`.
pub fn describe_reason(reason: &Value) -> String {
    match reason["kind"].as_str() {
        Some("gate") => format!(
            "gate {}: {} breaks {} ({} in a row)",
            reason["gate"].as_str().unwrap_or("?"),
            reason["value"]
                .as_f64()
                .map_or_else(|| "no data".to_string(), |v| format!("{v:.4}")),
            reason["condition"].as_str().unwrap_or("?"),
            reason["failures"].as_u64().unwrap_or(1)
        ),
        Some("inconclusive") => format!(
            "gate {} inconclusive: {}",
            reason["gate"].as_str().unwrap_or("?"),
            reason["detail"].as_str().unwrap_or("no data")
        ),
        Some(kind) => kind.to_string(),
        None => reason.to_string(),
    }
}

/// Weights and decisions from controller JSON lines (`{"at_ms", "canary_bp", "event": {...}}`).
/// `breach_ms` is attached to rollbacks that happen after it.
pub fn weights_and_decisions(
    lines: &[Value],
    start_ms: u64,
    breach_ms: Option<u64>,
) -> (Vec<WeightPoint>, Vec<Decision>) {
    let mut weights = vec![WeightPoint {
        t_s: 0.0,
        canary_percent: 0.0,
    }];
    let mut decisions = Vec::new();
    for line in lines {
        let Some(at_ms) = line["at_ms"].as_u64() else {
            continue;
        };
        let t_s = since(start_ms, at_ms);
        let event = &line["event"];
        let bp = event["canary_bp"].as_f64().or(line["canary_bp"].as_f64());
        let decision = |action, percent: Option<f64>, reason: String| Decision {
            t_s,
            action,
            canary_percent: percent,
            reason,
            breach_t_s: None,
        };
        match event["event"].as_str() {
            Some("pushed") => {
                let percent = bp.unwrap_or(0.0) / 100.0;
                if weights.last().is_none_or(|w| w.canary_percent != percent) {
                    weights.push(WeightPoint {
                        t_s,
                        canary_percent: percent,
                    });
                }
            }
            Some("step_started") => decisions.push(decision(
                DecisionAction::Step,
                bp.map(|b| b / 100.0),
                format!("step {}", event["step"].as_u64().unwrap_or(0) + 1),
            )),
            Some("rolled_back") => {
                let mut d = decision(
                    DecisionAction::Rollback,
                    Some(0.0),
                    describe_reason(&event["reason"]),
                );
                d.breach_t_s = breach_ms
                    .filter(|b| *b <= at_ms)
                    .map(|b| since(start_ms, b));
                decisions.push(d);
            }
            Some("promoted") => decisions.push(decision(
                DecisionAction::Promote,
                Some(100.0),
                "all gates passed at every step".to_string(),
            )),
            Some("paused") => decisions.push(decision(
                DecisionAction::Pause,
                None,
                describe_reason(&event["reason"]),
            )),
            Some("resumed") => decisions.push(decision(
                DecisionAction::Resume,
                None,
                "resumed".to_string(),
            )),
            _ => {}
        }
    }
    (weights, decisions)
}

/// `(unix seconds, value)` points of a range-query series.
fn points(series: &Value) -> Vec<(f64, f64)> {
    series["values"]
        .as_array()
        .map(|values| {
            values
                .iter()
                .filter_map(|p| {
                    let t = p[0].as_f64()?;
                    let v = p[1].as_str()?.parse::<f64>().ok()?;
                    Some((t, v))
                })
                .collect()
        })
        .unwrap_or_default()
}

/// Range-query results keyed by one label's value, then by timestamp (milliseconds).
fn by_label(result: &[Value], label: &str) -> BTreeMap<String, BTreeMap<u64, f64>> {
    let mut map: BTreeMap<String, BTreeMap<u64, f64>> = BTreeMap::new();
    for series in result {
        let key = series["metric"][label].as_str().unwrap_or("").to_string();
        let entry = map.entry(key).or_default();
        for (t, v) in points(series) {
            entry.insert((t * 1000.0).round() as u64, v);
        }
    }
    map
}

/// Per-variant samples from three range queries grouped `by (variant)`: responses, 5xx
/// responses (both as `increase` over the step) and p99 latency.
pub fn variant_samples(
    responses: &[Value],
    errors: &[Value],
    p99: &[Value],
    start_ms: u64,
) -> Vec<VariantSample> {
    let errors = by_label(errors, "variant");
    let p99 = by_label(p99, "variant");
    let mut samples = Vec::new();
    for (variant, series) in by_label(responses, "variant") {
        for (t_ms, total) in series {
            let requests = total.max(0.0).round() as u64;
            let errs = errors
                .get(&variant)
                .and_then(|s| s.get(&t_ms))
                .map_or(0, |e| e.max(0.0).round() as u64)
                .min(requests);
            let p = p99
                .get(&variant)
                .and_then(|s| s.get(&t_ms))
                .copied()
                .filter(|v| v.is_finite() && requests > 0);
            samples.push(VariantSample {
                t_s: since(start_ms, t_ms),
                variant: variant.clone(),
                requests,
                errors: errs,
                p99_ms: p,
            });
        }
    }
    samples.sort_by(|a, b| a.t_s.total_cmp(&b.t_s));
    samples
}

/// Shadow samples from a range query grouped `by (result)` (agree / disagree / incomparable).
pub fn shadow_samples(comparisons: &[Value], start_ms: u64) -> Vec<ShadowSample> {
    let by_result = by_label(comparisons, "result");
    let mut times: Vec<u64> = by_result.values().flat_map(|s| s.keys().copied()).collect();
    times.sort_unstable();
    times.dedup();
    let count = |result: &str, t: u64| {
        by_result
            .get(result)
            .and_then(|s| s.get(&t))
            .map_or(0, |v| v.max(0.0).round() as u64)
    };
    times
        .into_iter()
        .map(|t| ShadowSample {
            t_s: since(start_ms, t),
            agree: count("agree", t),
            disagree: count("disagree", t),
            incomparable: count("incomparable", t),
        })
        .filter(|s| s.agree + s.disagree + s.incomparable > 0)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn controller_lines_become_weights_and_decisions() {
        let lines = vec![
            json!({"at_ms": 1_000, "canary_bp": null, "event": {"event": "push_planned", "canary_bp": 100, "version": 1}}),
            json!({"at_ms": 1_100, "canary_bp": 100, "event": {"event": "pushed", "canary_bp": 100, "version": 1}}),
            json!({"at_ms": 1_100, "canary_bp": 100, "event": {"event": "step_started", "step": 0, "canary_bp": 100, "pause_ms": 4000}}),
            json!({"at_ms": 9_000, "canary_bp": 1000, "event": {"event": "rolled_back", "reason": {"kind": "gate", "gate": "error-rate", "value": 0.08, "condition": "< 0.01", "threshold": 0.01, "failures": 2}}}),
            json!({"at_ms": 9_050, "canary_bp": 0, "event": {"event": "pushed", "canary_bp": 0, "version": 4}}),
        ];
        let (weights, decisions) = weights_and_decisions(&lines, 0, Some(5_000));
        let w: Vec<(f64, f64)> = weights.iter().map(|w| (w.t_s, w.canary_percent)).collect();
        assert_eq!(w, vec![(0.0, 0.0), (1.1, 1.0), (9.05, 0.0)]);
        assert_eq!(decisions.len(), 2);
        assert_eq!(decisions[1].action, DecisionAction::Rollback);
        assert_eq!(decisions[1].breach_t_s, Some(5.0));
        assert_eq!(
            decisions[1].reason,
            "gate error-rate: 0.0800 breaks < 0.01 (2 in a row)"
        );
    }

    #[test]
    fn range_results_become_samples() {
        let responses = vec![
            json!({"metric": {"variant": "canary"}, "values": [[2.0, "20"], [4.0, "30.4"]]}),
            json!({"metric": {"variant": "stable"}, "values": [[2.0, "180"]]}),
        ];
        let errors = vec![json!({"metric": {"variant": "canary"}, "values": [[4.0, "2.6"]]})];
        let p99 =
            vec![json!({"metric": {"variant": "canary"}, "values": [[4.0, "12.5"], [2.0, "NaN"]]})];
        let samples = variant_samples(&responses, &errors, &p99, 0);
        assert_eq!(samples.len(), 3);
        let last = samples
            .iter()
            .find(|s| s.variant == "canary" && s.t_s == 4.0)
            .cloned();
        assert_eq!(
            last,
            Some(VariantSample {
                t_s: 4.0,
                variant: "canary".into(),
                requests: 30,
                errors: 3,
                p99_ms: Some(12.5)
            })
        );
        let shadow = shadow_samples(
            &[
                json!({"metric": {"result": "agree"}, "values": [[2.0, "97"]]}),
                json!({"metric": {"result": "disagree"}, "values": [[2.0, "3"]]}),
            ],
            0,
        );
        assert_eq!(shadow.len(), 1);
        assert_eq!(shadow[0].agreement(), Some(0.97));
    }
}
