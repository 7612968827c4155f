//! Envoy's admin stats, parsed: `/stats?format=json` (counters and gauges by full stat name)
//! and `/stats/prometheus` (series with labels, through `prometheus-parse`).

use crate::E2eError;
use std::collections::{BTreeMap, HashMap};

/// Counters and gauges of `/stats?format=json`, by full stat name.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Stats {
    values: HashMap<String, u64>,
}

impl Stats {
    /// Parses the JSON of `/stats?format=json` (histograms are skipped).
    pub fn parse(json: &str) -> Result<Self, E2eError> {
        let parsed: serde_json::Value =
            serde_json::from_str(json).map_err(|err| E2eError::Protocol {
                what: "parsing /stats?format=json".to_string(),
                why: err.to_string(),
            })?;
        let values = parsed["stats"]
            .as_array()
            .map(|stats| {
                stats
                    .iter()
                    .filter_map(|s| Some((s["name"].as_str()?.to_string(), s["value"].as_u64()?)))
                    .collect()
            })
            .unwrap_or_default();
        Ok(Self { values })
    }

    /// The value of stat `name`; `None` when Envoy has no such stat.
    pub fn get(&self, name: &str) -> Option<u64> {
        self.values.get(name).copied()
    }

    /// The value of stat `name`, 0 when absent (a counter never incremented may not exist).
    pub fn counter(&self, name: &str) -> u64 {
        self.get(name).unwrap_or(0)
    }

    /// Every stat whose name contains `part`, sorted by name.
    pub fn matching(&self, part: &str) -> Vec<(String, u64)> {
        let mut found: Vec<(String, u64)> = self
            .values
            .iter()
            .filter(|(n, _)| n.contains(part))
            .map(|(n, v)| (n.clone(), *v))
            .collect();
        found.sort();
        found
    }
}

/// One Prometheus series: name, labels, value. Histogram buckets appear as `<name>_bucket`
/// series with an `le` label, as PromQL sees them.
#[derive(Debug, Clone, PartialEq)]
pub struct Series {
    /// Metric name.
    pub name: String,
    /// Labels.
    pub labels: BTreeMap<String, String>,
    /// Value.
    pub value: f64,
}

/// The series of a `/stats/prometheus` scrape.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct PromScrape {
    /// Every series.
    pub series: Vec<Series>,
}

impl PromScrape {
    /// Parses Prometheus text exposition (through `prometheus-parse`).
    pub fn parse(text: &str) -> Result<Self, E2eError> {
        let lines = text.lines().map(|l| Ok(l.to_string()));
        let scrape = prometheus_parse::Scrape::parse(lines).map_err(|err| E2eError::Protocol {
            what: "parsing /stats/prometheus".to_string(),
            why: err.to_string(),
        })?;
        let mut series = Vec::new();
        for sample in scrape.samples {
            let labels: BTreeMap<String, String> = sample
                .labels
                .iter()
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect();
            match sample.value {
                prometheus_parse::Value::Counter(v)
                | prometheus_parse::Value::Gauge(v)
                | prometheus_parse::Value::Untyped(v) => series.push(Series {
                    name: sample.metric,
                    labels,
                    value: v,
                }),
                prometheus_parse::Value::Histogram(buckets) => {
                    for bucket in buckets {
                        let mut labels = labels.clone();
                        labels.insert("le".to_string(), format_le(bucket.less_than));
                        series.push(Series {
                            name: format!("{}_bucket", sample.metric),
                            labels,
                            value: bucket.count,
                        });
                    }
                }
                prometheus_parse::Value::Summary(quantiles) => {
                    for q in quantiles {
                        let mut labels = labels.clone();
                        labels.insert("quantile".to_string(), q.quantile.to_string());
                        series.push(Series {
                            name: sample.metric.clone(),
                            labels,
                            value: q.count,
                        });
                    }
                }
            }
        }
        Ok(Self { series })
    }

    /// Series named `name` whose labels include every `(label, value)` of `selector`
    /// (the `name{a="b",...}` selector of PromQL, equality matchers only).
    pub fn select<'a>(
        &'a self,
        name: &'a str,
        selector: &'a [(&'a str, &'a str)],
    ) -> impl Iterator<Item = &'a Series> + 'a {
        self.series.iter().filter(move |s| {
            s.name == name
                && selector
                    .iter()
                    .all(|(k, v)| s.labels.get(*k).map(String::as_str) == Some(*v))
        })
    }

    /// Sum of the values of [`Self::select`].
    pub fn sum(&self, name: &str, selector: &[(&str, &str)]) -> f64 {
        self.select(name, selector).map(|s| s.value).sum()
    }
}

fn format_le(le: f64) -> String {
    if le.is_infinite() {
        "+Inf".to_string()
    } else {
        le.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_counters_and_histograms() -> Result<(), E2eError> {
        let text = "# TYPE rollgate_requests_total counter\n\
            rollgate_requests_total{experiment=\"e\",variant=\"canary\"} 7\n\
            # TYPE rollgate_request_duration_ms histogram\n\
            rollgate_request_duration_ms_bucket{experiment=\"e\",variant=\"canary\",le=\"1\"} 3\n\
            rollgate_request_duration_ms_bucket{experiment=\"e\",variant=\"canary\",le=\"+Inf\"} 7\n\
            rollgate_request_duration_ms_sum{experiment=\"e\",variant=\"canary\"} 12\n\
            rollgate_request_duration_ms_count{experiment=\"e\",variant=\"canary\"} 7\n";
        let scrape = PromScrape::parse(text)?;
        assert_eq!(
            scrape.sum("rollgate_requests_total", &[("variant", "canary")]),
            7.0
        );
        assert_eq!(
            scrape.sum("rollgate_request_duration_ms_bucket", &[("le", "+Inf")]),
            7.0
        );
        let stats = Stats::parse(r#"{"stats":[{"name":"a.b","value":3},{"histograms":{}}]}"#)?;
        assert_eq!(stats.get("a.b"), Some(3));
        assert_eq!(stats.counter("nope"), 0);
        Ok(())
    }
}
