//! Metric ids of one routing table, defined once at configure time so requests only increment.

use super::abi::types::MetricType;
use super::host::define;
use rollgate_core::metrics::{
    self, stat_name, LABEL_CLASS, LABEL_EXPERIMENT, LABEL_RESULT, LABEL_VARIANT,
};
use rollgate_core::routing::RoutingTable;

/// Status classes in label order; index with [`class_index`].
pub const CLASSES: [&str; 4] = ["2xx", "3xx", "4xx", "5xx"];
/// Shadow request results in label order.
pub const SHADOW_RESULTS: [&str; 4] = ["sent", "skipped_too_large", "failed", "evicted"];
/// Comparison results in label order.
pub const COMPARISON_RESULTS: [&str; 3] = ["agree", "disagree", "incomparable"];

/// Index of a shadow result in [`SHADOW_RESULTS`].
#[derive(Debug, Clone, Copy)]
pub enum ShadowResult {
    /// Dispatched.
    Sent = 0,
    /// Body over `max_body_bytes` (or the VM budget).
    SkippedTooLarge = 1,
    /// The host refused the call.
    Failed = 2,
    /// Dropped from the pending store.
    Evicted = 3,
}

/// Index of a class label in [`CLASSES`].
pub fn class_index(class: &str) -> usize {
    CLASSES.iter().position(|c| *c == class).unwrap_or(3)
}

/// Ids of one variant's metrics.
pub struct VariantIds {
    pub requests: Option<u32>,
    pub exposures: Option<u32>,
    pub responses: [Option<u32>; 4],
    pub duration: Option<u32>,
    pub guard_tripped: Option<u32>,
}

/// Ids of one experiment's metrics.
pub struct ExperimentIds {
    pub variants: Vec<VariantIds>,
    pub shadow_requests: [Option<u32>; 4],
    pub shadow_responses: [Option<u32>; 4],
    pub comparisons: [Option<u32>; 3],
    pub shadow_duration: Option<u32>,
}

fn counter(base: &str, labels: &[(&str, &str)]) -> Option<u32> {
    define(MetricType::Counter, &stat_name(base, labels))
}

fn histogram(base: &str, labels: &[(&str, &str)]) -> Option<u32> {
    define(MetricType::Histogram, &stat_name(base, labels))
}

/// Defines every metric of `table`.
pub fn define_all(table: &RoutingTable) -> Vec<ExperimentIds> {
    table
        .experiments()
        .iter()
        .map(|experiment| {
            let exp = experiment.id.as_str();
            let variants = experiment
                .variants
                .iter()
                .map(|variant| {
                    let labels = [
                        (LABEL_EXPERIMENT, exp),
                        (LABEL_VARIANT, variant.name.as_str()),
                    ];
                    VariantIds {
                        requests: counter(metrics::REQUESTS_TOTAL, &labels),
                        exposures: counter(metrics::EXPOSURES_TOTAL, &labels),
                        responses: CLASSES.map(|class| {
                            counter(
                                metrics::RESPONSES_TOTAL,
                                &[labels[0], labels[1], (LABEL_CLASS, class)],
                            )
                        }),
                        duration: histogram(metrics::REQUEST_DURATION_MS, &labels),
                        guard_tripped: counter(metrics::GUARD_TRIPPED_TOTAL, &labels),
                    }
                })
                .collect();
            let with_shadow = experiment.shadow.is_some();
            let shadow_counter = |base: &str, label: &str, value: &str| {
                with_shadow
                    .then(|| counter(base, &[(LABEL_EXPERIMENT, exp), (label, value)]))
                    .flatten()
            };
            ExperimentIds {
                variants,
                shadow_requests: SHADOW_RESULTS
                    .map(|r| shadow_counter(metrics::SHADOW_REQUESTS_TOTAL, LABEL_RESULT, r)),
                shadow_responses: CLASSES
                    .map(|c| shadow_counter(metrics::SHADOW_RESPONSES_TOTAL, LABEL_CLASS, c)),
                comparisons: COMPARISON_RESULTS
                    .map(|r| shadow_counter(metrics::SHADOW_COMPARISONS_TOTAL, LABEL_RESULT, r)),
                shadow_duration: with_shadow
                    .then(|| histogram(metrics::SHADOW_DURATION_MS, &[(LABEL_EXPERIMENT, exp)]))
                    .flatten(),
            }
        })
        .collect()
}
