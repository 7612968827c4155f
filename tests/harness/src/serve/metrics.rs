//! Metric values as the dev proxy collects them: the plugin's metrics from every VM of the
//! pool (summed, like Envoy's shared stats store) and the proxy's own upstream statistics.

use std::collections::BTreeMap;

/// Envoy's default histogram bucket bounds (`HistogramSettingsImpl::defaultBuckets`), in the
/// unit of the recorded values (milliseconds for every histogram Rollgate defines).
pub const ENVOY_DEFAULT_BUCKETS: [f64; 19] = [
    0.5, 1.0, 5.0, 10.0, 25.0, 50.0, 100.0, 250.0, 500.0, 1000.0, 2500.0, 5000.0, 10000.0, 30000.0,
    60000.0, 300000.0, 600000.0, 1800000.0, 3600000.0,
];

/// Recorded values of one histogram, bucketed with [`ENVOY_DEFAULT_BUCKETS`].
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Histogram {
    /// Per-bucket counts (not cumulative): `counts[i]` holds values `<= ENVOY_DEFAULT_BUCKETS[i]`
    /// and above the previous bound; values above the last bound only show in `count`.
    pub counts: [u64; ENVOY_DEFAULT_BUCKETS.len()],
    /// Sum of all recorded values.
    pub sum: f64,
    /// Number of recorded values.
    pub count: u64,
}

impl Histogram {
    /// Records one value.
    pub fn record(&mut self, value: f64) {
        if let Some(index) = ENVOY_DEFAULT_BUCKETS
            .iter()
            .position(|bound| value <= *bound)
        {
            self.counts[index] += 1;
        }
        self.sum += value;
        self.count += 1;
    }

    /// Adds every value recorded in `other`.
    pub fn merge(&mut self, other: &Histogram) {
        for (mine, theirs) in self.counts.iter_mut().zip(other.counts.iter()) {
            *mine += theirs;
        }
        self.sum += other.sum;
        self.count += other.count;
    }

    /// Cumulative counts per bound, as Prometheus `_bucket{le}` wants them.
    pub fn cumulative(&self) -> impl Iterator<Item = (f64, u64)> + '_ {
        ENVOY_DEFAULT_BUCKETS
            .iter()
            .zip(self.counts.iter())
            .scan(0u64, |total, (bound, count)| {
                *total += count;
                Some((*bound, *total))
            })
    }
}

/// The value of one metric.
#[derive(Debug, Clone, PartialEq)]
pub enum MetricValue {
    /// A monotonically growing count.
    Counter(u64),
    /// A value that goes up and down.
    Gauge(i64),
    /// Recorded values.
    Histogram(Histogram),
}

impl MetricValue {
    /// Prometheus `# TYPE` of this value.
    pub fn type_name(&self) -> &'static str {
        match self {
            MetricValue::Counter(_) => "counter",
            MetricValue::Gauge(_) => "gauge",
            MetricValue::Histogram(_) => "histogram",
        }
    }

    /// Adds `other` into `self` when both are the same kind; returns false otherwise.
    fn merge(&mut self, other: &MetricValue) -> bool {
        match (self, other) {
            (MetricValue::Counter(a), MetricValue::Counter(b)) => *a += b,
            (MetricValue::Gauge(a), MetricValue::Gauge(b)) => *a += b,
            (MetricValue::Histogram(a), MetricValue::Histogram(b)) => a.merge(b),
            _ => return false,
        }
        true
    }
}

/// Metrics by stat name (as the plugin defined them, labels still encoded in the name).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct MetricSnapshot {
    /// Values by stat name.
    pub values: BTreeMap<String, MetricValue>,
}

impl MetricSnapshot {
    /// Adds `other` into `self`: counters, gauges and histograms of the same name sum up (one
    /// stat shared by every worker, like Envoy's stats store). A name seen with two kinds keeps
    /// the first one.
    pub fn merge(&mut self, other: &MetricSnapshot) {
        for (name, value) in &other.values {
            match self.values.get_mut(name) {
                Some(mine) => {
                    mine.merge(value);
                }
                None => {
                    self.values.insert(name.clone(), value.clone());
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn histogram_buckets_are_upper_inclusive_and_cumulative() {
        let mut histogram = Histogram::default();
        for value in [0.5, 0.7, 1.0, 7.0, 4_000_000.0] {
            histogram.record(value);
        }
        let cumulative: Vec<(f64, u64)> = histogram.cumulative().take(4).collect();
        assert_eq!(cumulative, vec![(0.5, 1), (1.0, 3), (5.0, 3), (10.0, 4)]);
        assert_eq!(histogram.cumulative().last(), Some((3_600_000.0, 4)));
        assert_eq!(histogram.count, 5);
        assert!((histogram.sum - 4_000_009.2).abs() < 1e-6);
    }

    #[test]
    fn snapshots_sum_by_name_across_vms() {
        let mut first = MetricSnapshot::default();
        first.values.insert("a".into(), MetricValue::Counter(2));
        let mut hist = Histogram::default();
        hist.record(3.0);
        first
            .values
            .insert("h".into(), MetricValue::Histogram(hist.clone()));
        let mut second = MetricSnapshot::default();
        second.values.insert("a".into(), MetricValue::Counter(5));
        second.values.insert("b".into(), MetricValue::Gauge(-1));
        second
            .values
            .insert("h".into(), MetricValue::Histogram(hist));
        first.merge(&second);
        assert_eq!(first.values["a"], MetricValue::Counter(7));
        assert_eq!(first.values["b"], MetricValue::Gauge(-1));
        match &first.values["h"] {
            MetricValue::Histogram(h) => assert_eq!((h.count, h.sum), (2, 6.0)),
            other => panic!("not a histogram: {other:?}"),
        }
    }
}
