//! Prometheus text exposition (format 0.0.4) of the plugin's metrics and the proxy's upstream
//! statistics, with the names and labels Envoy would export (METRICS.md).

use std::collections::BTreeMap;
use std::fmt::Write;

use super::metrics::{MetricSnapshot, MetricValue};

/// Label pairs of one sample, in output order.
pub type Labels = Vec<(String, String)>;

/// One metric family: a name and its samples (one per label set).
#[derive(Debug, Clone, PartialEq)]
pub struct Family {
    /// Metric name (without `_bucket`/`_sum`/`_count` for histograms).
    pub name: String,
    /// Samples by label set.
    pub samples: Vec<(Labels, MetricValue)>,
}

impl Family {
    /// An empty family.
    pub fn new(name: &str) -> Self {
        Self {
            name: name.to_string(),
            samples: Vec::new(),
        }
    }

    /// Adds one sample.
    pub fn push(&mut self, labels: Labels, value: MetricValue) {
        self.samples.push((labels, value));
    }
}

/// Groups the plugin's stats into families: a stat name with Istio-style encoded tags
/// (`rollgate_filter::metrics::stat_name`) becomes the base name with those labels, the way
/// Istio's `extraStatTags` and Envoy's `wasmcustom.` export show it.
pub fn filter_families(snapshot: &MetricSnapshot) -> Vec<Family> {
    let mut families: BTreeMap<String, Family> = BTreeMap::new();
    for (stat, value) in &snapshot.values {
        let (base, labels) = rollgate_filter::metrics::parse_stat_name(stat)
            .unwrap_or_else(|| (stat.clone(), Vec::new()));
        let name = sanitize_name(&base);
        let labels = labels
            .into_iter()
            .map(|(key, value)| (sanitize_name(&key), value))
            .collect();
        families
            .entry(name.clone())
            .or_insert_with(|| Family::new(&name))
            .push(labels, value.clone());
    }
    families.into_values().collect()
}

/// Renders families as Prometheus text. Families without samples are left out; a family
/// whose samples mix kinds keeps only the samples of its first sample's kind.
pub fn render(families: &[Family]) -> String {
    let mut out = String::new();
    for family in families {
        let Some((_, first)) = family.samples.first() else {
            continue;
        };
        let kind = first.type_name();
        let _ = writeln!(out, "# TYPE {} {}", family.name, kind);
        let mut samples: Vec<&(Labels, MetricValue)> = family
            .samples
            .iter()
            .filter(|(_, value)| value.type_name() == kind)
            .collect();
        samples.sort_by(|a, b| a.0.cmp(&b.0));
        for (labels, value) in samples {
            match value {
                MetricValue::Counter(count) => {
                    let _ = writeln!(out, "{}{} {}", family.name, label_text(labels, None), count);
                }
                MetricValue::Gauge(level) => {
                    let _ = writeln!(out, "{}{} {}", family.name, label_text(labels, None), level);
                }
                MetricValue::Histogram(histogram) => {
                    for (bound, count) in histogram.cumulative() {
                        let le = format!("{bound}");
                        let _ = writeln!(
                            out,
                            "{}_bucket{} {}",
                            family.name,
                            label_text(labels, Some(&le)),
                            count
                        );
                    }
                    let _ = writeln!(
                        out,
                        "{}_bucket{} {}",
                        family.name,
                        label_text(labels, Some("+Inf")),
                        histogram.count
                    );
                    let _ = writeln!(
                        out,
                        "{}_sum{} {}",
                        family.name,
                        label_text(labels, None),
                        histogram.sum
                    );
                    let _ = writeln!(
                        out,
                        "{}_count{} {}",
                        family.name,
                        label_text(labels, None),
                        histogram.count
                    );
                }
            }
        }
    }
    out
}

fn label_text(labels: &Labels, le: Option<&str>) -> String {
    let mut pairs: Vec<String> = labels
        .iter()
        .map(|(key, value)| format!("{key}=\"{}\"", escape_label_value(value)))
        .collect();
    if let Some(le) = le {
        pairs.push(format!("le=\"{le}\""));
    }
    if pairs.is_empty() {
        String::new()
    } else {
        format!("{{{}}}", pairs.join(","))
    }
}

fn escape_label_value(value: &str) -> String {
    let mut escaped = String::with_capacity(value.len());
    for c in value.chars() {
        match c {
            '\\' => escaped.push_str("\\\\"),
            '"' => escaped.push_str("\\\""),
            '\n' => escaped.push_str("\\n"),
            other => escaped.push(other),
        }
    }
    escaped
}

/// Replaces characters Prometheus does not allow in names (`[a-zA-Z_:][a-zA-Z0-9_:]*`) by `_`,
/// as Envoy's exporter does.
fn sanitize_name(name: &str) -> String {
    let mut out: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '_' || c == ':' {
                c
            } else {
                '_'
            }
        })
        .collect();
    if out.is_empty() || out.starts_with(|c: char| c.is_ascii_digit()) {
        out.insert(0, '_');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::serve::metrics::Histogram;

    #[test]
    fn renders_counters_and_histograms_with_escaped_labels() {
        let mut counter = Family::new("c_total");
        counter.push(
            vec![("k".into(), "a\"b\\c\nd".into())],
            MetricValue::Counter(3),
        );
        counter.push(Vec::new(), MetricValue::Counter(1));
        let mut histogram = Histogram::default();
        histogram.record(2.0);
        let mut hist = Family::new("h_ms");
        hist.push(
            vec![("x".into(), "y".into())],
            MetricValue::Histogram(histogram),
        );
        let empty = Family::new("nothing");
        let text = render(&[counter, hist, empty]);
        assert!(
            text.contains("# TYPE c_total counter\nc_total 1\nc_total{k=\"a\\\"b\\\\c\\nd\"} 3\n"),
            "{text}"
        );
        assert!(text.contains("h_ms_bucket{x=\"y\",le=\"1\"} 0\n"), "{text}");
        assert!(text.contains("h_ms_bucket{x=\"y\",le=\"5\"} 1\n"), "{text}");
        assert!(text.contains(
            "h_ms_bucket{x=\"y\",le=\"+Inf\"} 1\nh_ms_sum{x=\"y\"} 2\nh_ms_count{x=\"y\"} 1\n"
        ));
        assert!(!text.contains("nothing"));
    }

    #[test]
    fn names_are_sanitized() {
        assert_eq!(sanitize_name("a.b-c"), "a_b_c");
        assert_eq!(sanitize_name("9x"), "_9x");
    }
}
