//! Metric names and their label encoding (helpers/METRICS.md).
//!
//! # How a stat name maps to Prometheus
//!
//! Wasm metrics carry no labels, so the labels are encoded in the stat name in Istio's tag
//! format: each label is `<label>=.=<value>;.;`, all labels come first, the base name last:
//!
//! ```text
//! experiment=.=fraud-v2;.;variant=.=canary;.;rollgate_requests_total
//! ```
//!
//! 1. The filter defines the metric with `proxy_define_metric` under that name; Envoy puts it
//!    in its custom stat namespace: `wasmcustom.experiment=.=fraud-v2;.;variant=.=canary;.;rollgate_requests_total`.
//! 2. Tag extraction: Istio's `extraStatTags: [experiment, variant, class, result]` adds one
//!    stats tag per label with regex `(<label>=\.=(.+?);\.;)` (the form Istio uses for its own
//!    `response_code=.=...;.;` tag). Envoy removes the first capture group from the name and
//!    makes the second the tag value. On plain Envoy, put the same four regexes in the
//!    bootstrap's `stats_config.stats_tags`. What remains is `wasmcustom.rollgate_requests_total`.
//! 3. Envoy's Prometheus exporter strips the `wasmcustom.` custom namespace (no `envoy_` prefix),
//!    giving `rollgate_requests_total{experiment="fraud-v2",variant="canary"}`. Histograms get
//!    `_bucket{le=...}`, `_sum` and `_count`.
//!
//! The dev proxy does steps 2 and 3 with [`parse_stat_name`]. Label values come from validated
//! ids and names (`[A-Za-z0-9._-]`); [`stat_name`] still replaces `;` and `=` with `_` so no
//! value can break the encoding.

/// Counter `{experiment, variant}`: one per decided request.
pub const REQUESTS_TOTAL: &str = "rollgate_requests_total";
/// Counter `{experiment, variant}`: requests actually routed to the variant's cluster.
pub const EXPOSURES_TOTAL: &str = "rollgate_exposures_total";
/// Counter `{experiment, variant, class}`: responses by status class (2xx|3xx|4xx|5xx).
pub const RESPONSES_TOTAL: &str = "rollgate_responses_total";
/// Histogram `{experiment, variant}`: request duration in milliseconds.
pub const REQUEST_DURATION_MS: &str = "rollgate_request_duration_ms";
/// Counter `{experiment, result}`: shadow copies (sent|skipped_too_large|failed|evicted|cancelled;
/// see `shadow::ShadowResult`: sent = answered + failed + cancelled + evicted).
pub const SHADOW_REQUESTS_TOTAL: &str = "rollgate_shadow_requests_total";
/// Counter `{experiment, class}`: shadow responses by status class.
pub const SHADOW_RESPONSES_TOTAL: &str = "rollgate_shadow_responses_total";
/// Counter `{experiment, result}`: comparisons (agree|disagree|incomparable).
pub const SHADOW_COMPARISONS_TOTAL: &str = "rollgate_shadow_comparisons_total";
/// Histogram `{experiment}`: shadow call duration in milliseconds.
pub const SHADOW_DURATION_MS: &str = "rollgate_shadow_duration_ms";
/// Counter `{experiment, variant}`: guard trips.
pub const GUARD_TRIPPED_TOTAL: &str = "rollgate_guard_tripped_total";
/// Counter (no labels): refused plugin configurations.
pub const CONFIG_REJECTED_TOTAL: &str = "rollgate_config_rejected_total";

/// Label name of the experiment id.
pub const LABEL_EXPERIMENT: &str = "experiment";
/// Label name of the variant name.
pub const LABEL_VARIANT: &str = "variant";
/// Label name of a status class.
pub const LABEL_CLASS: &str = "class";
/// Label name of a shadow/comparison result.
pub const LABEL_RESULT: &str = "result";

const TAG_VALUE: &str = "=.=";
const TAG_END: &str = ";.;";

/// The status class label of an HTTP status: `2xx`, `3xx`, `4xx`, `5xx` (others → `5xx` for
/// codes ≥ 600 or missing, `2xx` for 1xx which never ends a response).
pub fn status_class(status: u32) -> &'static str {
    match status {
        300..=399 => "3xx",
        400..=499 => "4xx",
        100..=299 => "2xx",
        _ => "5xx",
    }
}

/// The stat name of metric `base` with `labels`, in Istio's tag encoding (see module docs).
pub fn stat_name(base: &str, labels: &[(&str, &str)]) -> String {
    let mut name = String::with_capacity(base.len() + labels.len() * 32);
    for (label, value) in labels {
        name.push_str(&sanitize(label));
        name.push_str(TAG_VALUE);
        name.push_str(&sanitize(value));
        name.push_str(TAG_END);
    }
    name.push_str(base);
    name
}

/// The inverse of [`stat_name`]: the base name and the labels in order. `None` when `name` is
/// not in the encoding (an unterminated tag, an empty base or label name). A leading
/// `wasmcustom.` namespace is accepted and dropped.
pub fn parse_stat_name(name: &str) -> Option<(String, Vec<(String, String)>)> {
    let mut rest = name.strip_prefix("wasmcustom.").unwrap_or(name);
    let mut labels = Vec::new();
    while let Some(split) = rest.find(TAG_VALUE) {
        let label = rest.get(..split)?;
        let after = rest.get(split + TAG_VALUE.len()..)?;
        let end = after.find(TAG_END)?;
        let value = after.get(..end)?;
        if label.is_empty() || label.contains(TAG_END) {
            return None;
        }
        labels.push((label.to_string(), value.to_string()));
        rest = after.get(end + TAG_END.len()..)?;
    }
    if rest.is_empty() || rest.contains(TAG_END) {
        return None;
    }
    Some((rest.to_string(), labels))
}

fn sanitize(value: &str) -> String {
    value.replace([';', '='], "_")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encodes_labels_before_the_base_name() {
        let name = stat_name(
            REQUESTS_TOTAL,
            &[("experiment", "fraud-v2"), ("variant", "canary")],
        );
        assert_eq!(
            name,
            "experiment=.=fraud-v2;.;variant=.=canary;.;rollgate_requests_total"
        );
        assert_eq!(
            stat_name(CONFIG_REJECTED_TOTAL, &[]),
            "rollgate_config_rejected_total"
        );
    }

    #[test]
    fn parse_inverts_stat_name() {
        let labels = [
            ("experiment", "a.b-c"),
            ("variant", "v_1"),
            ("class", "5xx"),
        ];
        let name = stat_name(RESPONSES_TOTAL, &labels);
        let Some((base, parsed)) = parse_stat_name(&name) else {
            panic!("{name} parses");
        };
        assert_eq!(base, RESPONSES_TOTAL);
        let expected: Vec<(String, String)> = labels
            .iter()
            .map(|(l, v)| (l.to_string(), v.to_string()))
            .collect();
        assert_eq!(parsed, expected);
        let Some((base, parsed)) = parse_stat_name(&format!("wasmcustom.{name}")) else {
            panic!("wasmcustom.{name} parses");
        };
        assert_eq!((base.as_str(), parsed.len()), (RESPONSES_TOTAL, 3));
    }

    #[test]
    fn hostile_values_cannot_break_the_encoding() {
        let name = stat_name("m", &[("experiment", "x;.;y=.=z")]);
        let Some((base, labels)) = parse_stat_name(&name) else {
            panic!("{name} parses");
        };
        assert_eq!(base, "m");
        assert_eq!(
            labels,
            vec![("experiment".to_string(), "x_._y_._z".to_string())]
        );
    }

    #[test]
    fn malformed_names_are_refused() {
        assert_eq!(parse_stat_name("experiment=.=a"), None);
        assert_eq!(parse_stat_name("experiment=.=a;.;"), None);
        assert_eq!(parse_stat_name("=.=a;.;m"), None);
        assert_eq!(parse_stat_name(""), None);
        assert_eq!(
            parse_stat_name("plain_metric"),
            Some(("plain_metric".to_string(), vec![]))
        );
    }

    #[test]
    fn status_classes() {
        assert_eq!(status_class(200), "2xx");
        assert_eq!(status_class(302), "3xx");
        assert_eq!(status_class(404), "4xx");
        assert_eq!(status_class(503), "5xx");
        assert_eq!(status_class(0), "5xx");
    }
}
