//! The proxy's own per-cluster upstream statistics, named as Envoy exports them
//! (`envoy_cluster_upstream_rq_total{envoy_cluster_name="..."}` and friends).

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::time::Duration;

use super::metrics::{Histogram, MetricValue};
use super::prometheus::Family;

/// How one upstream request (primary or dispatched call) ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UpstreamOutcome {
    /// Response headers arrived with this status.
    Status(u16),
    /// No response within the timeout.
    Timeout,
    /// Connection refused, reset, or another transport failure.
    Failed,
}

#[derive(Debug, Default, Clone)]
struct ClusterCounters {
    requests: u64,
    by_class: [u64; 5],
    timeouts: u64,
    failures: u64,
    latency_ms: Histogram,
}

/// Per-cluster counters and the upstream latency histogram.
#[derive(Debug, Default)]
pub struct UpstreamStats {
    clusters: Mutex<BTreeMap<String, ClusterCounters>>,
}

impl UpstreamStats {
    /// Counts one upstream request to `cluster` that took `elapsed` until its headers (or
    /// failure).
    pub fn record(&self, cluster: &str, outcome: UpstreamOutcome, elapsed: Duration) {
        let mut clusters = self
            .clusters
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let counters = clusters.entry(cluster.to_string()).or_default();
        counters.requests += 1;
        match outcome {
            UpstreamOutcome::Status(status) => {
                let class = usize::from(status / 100);
                if (1..=5).contains(&class) {
                    counters.by_class[class - 1] += 1;
                }
                counters.latency_ms.record(elapsed.as_secs_f64() * 1000.0);
            }
            UpstreamOutcome::Timeout => counters.timeouts += 1,
            UpstreamOutcome::Failed => counters.failures += 1,
        }
    }

    /// The statistics as Prometheus families.
    pub fn families(&self) -> Vec<Family> {
        let clusters = self
            .clusters
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .clone();
        let mut total = Family::new("envoy_cluster_upstream_rq_total");
        let mut by_class = Family::new("envoy_cluster_upstream_rq_xx");
        let mut timeouts = Family::new("envoy_cluster_upstream_rq_timeout");
        let mut failures = Family::new("envoy_cluster_upstream_cx_connect_fail");
        let mut latency = Family::new("envoy_cluster_upstream_rq_time");
        for (name, counters) in clusters {
            let cluster = vec![("envoy_cluster_name".to_string(), name)];
            total.push(cluster.clone(), MetricValue::Counter(counters.requests));
            for (index, count) in counters.by_class.iter().enumerate() {
                if *count > 0 {
                    let mut labels = vec![(
                        "envoy_response_code_class".to_string(),
                        (index + 1).to_string(),
                    )];
                    labels.extend(cluster.iter().cloned());
                    by_class.push(labels, MetricValue::Counter(*count));
                }
            }
            timeouts.push(cluster.clone(), MetricValue::Counter(counters.timeouts));
            failures.push(cluster.clone(), MetricValue::Counter(counters.failures));
            latency.push(cluster, MetricValue::Histogram(counters.latency_ms));
        }
        vec![total, by_class, timeouts, failures, latency]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_by_cluster_and_class() {
        let stats = UpstreamStats::default();
        stats.record("a", UpstreamOutcome::Status(200), Duration::from_millis(3));
        stats.record(
            "a",
            UpstreamOutcome::Status(503),
            Duration::from_millis(700),
        );
        stats.record("a", UpstreamOutcome::Timeout, Duration::from_secs(1));
        stats.record("b", UpstreamOutcome::Failed, Duration::ZERO);
        let families = stats.families();
        let text = super::super::prometheus::render(&families);
        assert!(
            text.contains("envoy_cluster_upstream_rq_total{envoy_cluster_name=\"a\"} 3\n"),
            "{text}"
        );
        assert!(
            text.contains("envoy_cluster_upstream_rq_total{envoy_cluster_name=\"b\"} 1\n"),
            "{text}"
        );
        assert!(
            text.contains("envoy_cluster_upstream_rq_xx{envoy_response_code_class=\"5\",envoy_cluster_name=\"a\"} 1\n"),
            "{text}"
        );
        assert!(
            text.contains("envoy_cluster_upstream_rq_timeout{envoy_cluster_name=\"a\"} 1\n"),
            "{text}"
        );
        assert!(
            text.contains("envoy_cluster_upstream_cx_connect_fail{envoy_cluster_name=\"b\"} 1\n"),
            "{text}"
        );
        assert!(
            text.contains("envoy_cluster_upstream_rq_time_count{envoy_cluster_name=\"a\"} 2\n"),
            "{text}"
        );
        assert!(
            text.contains(
                "envoy_cluster_upstream_rq_time_bucket{envoy_cluster_name=\"a\",le=\"5\"} 1\n"
            ),
            "{text}"
        );
    }
}
