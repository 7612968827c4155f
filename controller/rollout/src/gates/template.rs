//! PromQL templating (`{{experiment}}`, `{{variant}}`, `{{namespace}}`, `{{interval}}`) and the
//! built-in templates on the filter's own metrics (METRICS.md).

use serde::{Deserialize, Serialize};

/// A built-in gate query on the filter's metrics.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BuiltinTemplate {
    /// Share of 5xx responses of the variant.
    ErrorRate,
    /// Share of 2xx responses of the variant.
    SuccessRate,
    /// 99th percentile of the variant's request duration, in milliseconds.
    P99LatencyMs,
}

impl BuiltinTemplate {
    /// Every built-in, for error messages.
    pub const ALL: [BuiltinTemplate; 3] = [Self::ErrorRate, Self::SuccessRate, Self::P99LatencyMs];

    /// The name used in the spec (`error_rate`, ...).
    pub fn name(self) -> &'static str {
        match self {
            Self::ErrorRate => "error_rate",
            Self::SuccessRate => "success_rate",
            Self::P99LatencyMs => "p99_latency_ms",
        }
    }

    /// Looks a built-in up by its spec name.
    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|t| t.name() == name)
    }

    /// The PromQL template text.
    pub fn query(self) -> &'static str {
        match self {
            Self::ErrorRate => concat!(
                r#"sum(rate(rollgate_responses_total{experiment="{{experiment}}",variant="{{variant}}",class="5xx"}[{{interval}}]))"#,
                " / ",
                r#"sum(rate(rollgate_responses_total{experiment="{{experiment}}",variant="{{variant}}"}[{{interval}}]))"#
            ),
            Self::SuccessRate => concat!(
                r#"sum(rate(rollgate_responses_total{experiment="{{experiment}}",variant="{{variant}}",class="2xx"}[{{interval}}]))"#,
                " / ",
                r#"sum(rate(rollgate_responses_total{experiment="{{experiment}}",variant="{{variant}}"}[{{interval}}]))"#
            ),
            Self::P99LatencyMs => {
                r#"histogram_quantile(0.99, sum by (le) (rate(rollgate_request_duration_ms_bucket{experiment="{{experiment}}",variant="{{variant}}"}[{{interval}}])))"#
            }
        }
    }
}

/// Values substituted into a query template.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueryVars<'a> {
    /// `{{experiment}}`: experiment id in the filter config.
    pub experiment: &'a str,
    /// `{{variant}}`: the variant measured (canary, or stable for the comparison side).
    pub variant: &'a str,
    /// `{{namespace}}`: the rollout's namespace (empty when none).
    pub namespace: &'a str,
    /// `{{interval}}`: the gate's range, Prometheus text such as `1m`.
    pub interval: &'a str,
}

/// Substitutes the placeholders; an unknown or unclosed placeholder is an error naming it.
pub fn render_query(template: &str, vars: &QueryVars<'_>) -> Result<String, String> {
    let mut out = String::with_capacity(template.len() + 32);
    let mut rest = template;
    while let Some(start) = rest.find("{{") {
        out.push_str(&rest[..start]);
        let after = &rest[start + 2..];
        let Some(end) = after.find("}}") else {
            return Err("unclosed `{{` in query template".to_string());
        };
        let value = match after[..end].trim() {
            "experiment" => vars.experiment,
            "variant" => vars.variant,
            "namespace" => vars.namespace,
            "interval" => vars.interval,
            other => {
                return Err(format!(
                    "unknown placeholder {{{{{other}}}}}; use {{{{experiment}}}}, {{{{variant}}}}, {{{{namespace}}}} or {{{{interval}}}}"
                ))
            }
        };
        out.push_str(value);
        rest = &after[end + 2..];
    }
    out.push_str(rest);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vars() -> QueryVars<'static> {
        QueryVars {
            experiment: "fraud-v2",
            variant: "canary",
            namespace: "ml",
            interval: "1m",
        }
    }

    #[test]
    fn error_rate_matches_the_metrics_contract() {
        let query = render_query(BuiltinTemplate::ErrorRate.query(), &vars());
        assert_eq!(
            query.as_deref(),
            Ok(
                r#"sum(rate(rollgate_responses_total{experiment="fraud-v2",variant="canary",class="5xx"}[1m])) / sum(rate(rollgate_responses_total{experiment="fraud-v2",variant="canary"}[1m]))"#
            )
        );
    }

    #[test]
    fn p99_uses_the_histogram_buckets() {
        let query = render_query(BuiltinTemplate::P99LatencyMs.query(), &vars());
        assert_eq!(
            query.as_deref(),
            Ok(
                r#"histogram_quantile(0.99, sum by (le) (rate(rollgate_request_duration_ms_bucket{experiment="fraud-v2",variant="canary"}[1m])))"#
            )
        );
    }

    #[test]
    fn every_placeholder_is_substituted() {
        let query = render_query(
            "a{{ namespace }}b{{experiment}}{{variant}}[{{interval}}]",
            &vars(),
        );
        assert_eq!(query.as_deref(), Ok("amlbfraud-v2canary[1m]"));
    }

    #[test]
    fn unknown_and_unclosed_placeholders_are_errors() {
        let unknown = render_query("x{{region}}", &vars()).expect_err("unknown placeholder");
        assert!(unknown.contains("{{region}}"), "{unknown}");
        assert!(render_query("x{{variant", &vars()).is_err());
    }

    #[test]
    fn names_round_trip() {
        for template in BuiltinTemplate::ALL {
            assert_eq!(BuiltinTemplate::from_name(template.name()), Some(template));
        }
        assert_eq!(BuiltinTemplate::from_name("latency"), None);
    }
}
