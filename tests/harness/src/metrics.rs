//! Metric storage shared by every VM of one plugin (like Envoy's stats store shared by its
//! workers), and snapshots of it for tests and the dev proxy's `/stats/prometheus`.

use crate::types::{MetricKind, Status};
use serde::Serialize;
use std::collections::{BTreeMap, HashMap};

/// Envoy's default histogram bucket upper bounds (`le`), in the metric's unit.
pub const ENVOY_DEFAULT_BUCKETS: [f64; 19] = [
    0.5, 1.0, 5.0, 10.0, 25.0, 50.0, 100.0, 250.0, 500.0, 1000.0, 2500.0, 5000.0, 10000.0, 30000.0,
    60000.0, 300000.0, 600000.0, 1800000.0, 3600000.0,
];

/// At most this many raw samples are kept per histogram (count, sum and buckets stay exact).
pub const MAX_HISTOGRAM_SAMPLES: usize = 1_000_000;

/// A histogram's state.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct HistogramValue {
    /// Number of recorded values.
    pub count: u64,
    /// Sum of recorded values.
    pub sum: u64,
    /// Cumulative counts per bound of [`ENVOY_DEFAULT_BUCKETS`] (same order; `+Inf` is `count`).
    pub cumulative_buckets: Vec<u64>,
    /// Recorded values in order (the first [`MAX_HISTOGRAM_SAMPLES`]).
    pub samples: Vec<u64>,
}

impl HistogramValue {
    fn record(&mut self, value: u64) {
        if self.cumulative_buckets.is_empty() {
            self.cumulative_buckets = vec![0; ENVOY_DEFAULT_BUCKETS.len()];
        }
        self.count += 1;
        self.sum = self.sum.saturating_add(value);
        for (bound, bucket) in ENVOY_DEFAULT_BUCKETS
            .iter()
            .zip(&mut self.cumulative_buckets)
        {
            if (value as f64) <= *bound {
                *bucket += 1;
            }
        }
        if self.samples.len() < MAX_HISTOGRAM_SAMPLES {
            self.samples.push(value);
        }
    }
}

/// A metric's current value.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "kind", content = "value", rename_all = "lowercase")]
pub enum MetricValue {
    /// Counter total.
    Counter(u64),
    /// Gauge value.
    Gauge(i64),
    /// Histogram state.
    Histogram(HistogramValue),
}

/// Every metric the plugin defined, by the name the guest gave it.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct MetricsSnapshot {
    /// name → value.
    pub metrics: BTreeMap<String, MetricValue>,
}

impl MetricsSnapshot {
    /// Counter value, `None` if undefined or not a counter.
    pub fn counter(&self, name: &str) -> Option<u64> {
        match self.metrics.get(name)? {
            MetricValue::Counter(v) => Some(*v),
            _ => None,
        }
    }

    /// Gauge value, `None` if undefined or not a gauge.
    pub fn gauge(&self, name: &str) -> Option<i64> {
        match self.metrics.get(name)? {
            MetricValue::Gauge(v) => Some(*v),
            _ => None,
        }
    }

    /// Histogram state, `None` if undefined or not a histogram.
    pub fn histogram(&self, name: &str) -> Option<&HistogramValue> {
        match self.metrics.get(name)? {
            MetricValue::Histogram(h) => Some(h),
            _ => None,
        }
    }
}

#[derive(Debug)]
struct Metric {
    name: String,
    value: MetricValue,
}

/// The shared metric store. Ids are `index << 2 | kind`, stable across the plugin's VMs.
#[derive(Debug, Default)]
pub(crate) struct MetricStore {
    metrics: Vec<Metric>,
    by_name: HashMap<String, usize>,
}

impl MetricStore {
    /// Defines (or finds) a metric; redefining a name returns the same id, as Envoy does.
    pub(crate) fn define(&mut self, kind: MetricKind, name: &str) -> Result<u32, Status> {
        if let Some(&index) = self.by_name.get(name) {
            return Ok(Self::id(index, &self.metrics[index].value));
        }
        let value = match kind {
            MetricKind::Counter => MetricValue::Counter(0),
            MetricKind::Gauge => MetricValue::Gauge(0),
            MetricKind::Histogram => MetricValue::Histogram(HistogramValue::default()),
        };
        let index = self.metrics.len();
        let id = Self::id(index, &value);
        self.metrics.push(Metric {
            name: name.to_string(),
            value,
        });
        self.by_name.insert(name.to_string(), index);
        Ok(id)
    }

    fn id(index: usize, value: &MetricValue) -> u32 {
        let kind = match value {
            MetricValue::Counter(_) => 0,
            MetricValue::Gauge(_) => 1,
            MetricValue::Histogram(_) => 2,
        };
        ((index as u32) << 2) | kind
    }

    fn metric_mut(&mut self, id: u32) -> Result<&mut Metric, Status> {
        self.metrics
            .get_mut((id >> 2) as usize)
            .ok_or(Status::NotFound)
    }

    /// Name of a defined metric.
    pub(crate) fn name(&self, id: u32) -> Option<&str> {
        self.metrics
            .get((id >> 2) as usize)
            .map(|m| m.name.as_str())
    }

    /// `proxy_increment_metric`: counters only grow; histograms cannot be incremented.
    pub(crate) fn increment(&mut self, id: u32, offset: i64) -> Result<(), Status> {
        match &mut self.metric_mut(id)?.value {
            MetricValue::Counter(v) if offset >= 0 => *v = v.saturating_add(offset as u64),
            MetricValue::Gauge(v) => *v = v.saturating_add(offset),
            _ => return Err(Status::BadArgument),
        }
        Ok(())
    }

    /// `proxy_record_metric`: counter += value, gauge = value, histogram records the value.
    pub(crate) fn record(&mut self, id: u32, value: u64) -> Result<(), Status> {
        match &mut self.metric_mut(id)?.value {
            MetricValue::Counter(v) => *v = v.saturating_add(value),
            MetricValue::Gauge(v) => *v = value as i64,
            MetricValue::Histogram(h) => h.record(value),
        }
        Ok(())
    }

    /// `proxy_get_metric`: counters and gauges only.
    pub(crate) fn get(&mut self, id: u32) -> Result<u64, Status> {
        match &self.metric_mut(id)?.value {
            MetricValue::Counter(v) => Ok(*v),
            MetricValue::Gauge(v) => Ok(*v as u64),
            MetricValue::Histogram(_) => Err(Status::BadArgument),
        }
    }

    /// A copy of every metric.
    pub(crate) fn snapshot(&self) -> MetricsSnapshot {
        MetricsSnapshot {
            metrics: self
                .metrics
                .iter()
                .map(|m| (m.name.clone(), m.value.clone()))
                .collect(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counters_gauges_histograms_follow_envoy_rules() {
        let mut store = MetricStore::default();
        let c = store.define(MetricKind::Counter, "c").unwrap_or_default();
        assert_eq!(store.define(MetricKind::Counter, "c"), Ok(c));
        let g = store.define(MetricKind::Gauge, "g").unwrap_or_default();
        let h = store.define(MetricKind::Histogram, "h").unwrap_or_default();
        assert_eq!(store.increment(c, 2), Ok(()));
        assert_eq!(store.increment(c, -1), Err(Status::BadArgument));
        assert_eq!(store.increment(g, -5), Ok(()));
        assert_eq!(store.increment(h, 1), Err(Status::BadArgument));
        assert_eq!(store.record(h, 7), Ok(()));
        assert_eq!(store.get(h), Err(Status::BadArgument));
        assert_eq!(store.get(c), Ok(2));
        assert_eq!(store.increment(999, 1), Err(Status::NotFound));
        let snap = store.snapshot();
        assert_eq!(snap.counter("c"), Some(2));
        assert_eq!(snap.gauge("g"), Some(-5));
        let hist = snap.histogram("h").cloned().unwrap_or_default();
        assert_eq!((hist.count, hist.sum, hist.samples), (1, 7, vec![7]));
        assert_eq!(hist.cumulative_buckets[2], 0, "7 > 5");
        assert_eq!(hist.cumulative_buckets[3], 1, "7 <= 10");
    }
}
