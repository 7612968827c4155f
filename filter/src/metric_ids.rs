//! Metric ids of one routing table, defined once at configure time so requests only increment.

use crate::host::{Host, MetricKind};
use rollgate_core::metrics::{
    self, stat_name, LABEL_CLASS, LABEL_EXPERIMENT, LABEL_RESULT, LABEL_VARIANT,
};
use rollgate_core::routing::RoutingTable;
use rollgate_core::shadow::{Comparison, ShadowResult};

/// Status classes in label order; index with [`class_index`].
pub const CLASSES: [&str; 4] = ["2xx", "3xx", "4xx", "5xx"];
/// Comparison results in label order.
pub const COMPARISONS: [Comparison; 3] = [
    Comparison::Agree,
    Comparison::Disagree,
    Comparison::Incomparable,
];

/// Index of a class label in [`CLASSES`].
pub fn class_index(class: &str) -> usize {
    CLASSES.iter().position(|c| *c == class).unwrap_or(3)
}

/// Ids of one variant's metrics.
pub struct VariantIds {
    /// `rollgate_requests_total`.
    pub requests: Option<u32>,
    /// `rollgate_exposures_total`.
    pub exposures: Option<u32>,
    /// `rollgate_responses_total` by class.
    pub responses: [Option<u32>; 4],
    /// `rollgate_request_duration_ms`.
    pub duration: Option<u32>,
    /// `rollgate_guard_tripped_total`.
    pub guard_tripped: Option<u32>,
}

/// Ids of one experiment's metrics (the shadow ones only when it has a shadow).
pub struct ExperimentIds {
    /// Per variant, in config order.
    pub variants: Vec<VariantIds>,
    /// `rollgate_shadow_requests_total` by [`ShadowResult`] (index = enum value).
    pub shadow_requests: [Option<u32>; 5],
    /// `rollgate_shadow_responses_total` by class.
    pub shadow_responses: [Option<u32>; 4],
    /// `rollgate_shadow_comparisons_total` in [`COMPARISONS`] order.
    pub comparisons: [Option<u32>; 3],
    /// `rollgate_shadow_duration_ms`.
    pub shadow_duration: Option<u32>,
}

impl ExperimentIds {
    /// The counter of a shadow result.
    pub fn shadow_result(&self, result: ShadowResult) -> Option<u32> {
        self.shadow_requests.get(result as usize).copied().flatten()
    }

    /// The counter of a comparison outcome.
    pub fn comparison(&self, outcome: Comparison) -> Option<u32> {
        let index = COMPARISONS.iter().position(|c| *c == outcome)?;
        self.comparisons.get(index).copied().flatten()
    }
}

/// Defines every metric of `table`.
pub fn define_all(host: &impl Host, table: &RoutingTable) -> Vec<ExperimentIds> {
    let counter = |base: &str, labels: &[(&str, &str)]| {
        host.define_metric(MetricKind::Counter, &stat_name(base, labels))
    };
    let histogram = |base: &str, labels: &[(&str, &str)]| {
        host.define_metric(MetricKind::Histogram, &stat_name(base, labels))
    };
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
                shadow_requests: ShadowResult::ALL.map(|r| {
                    shadow_counter(metrics::SHADOW_REQUESTS_TOTAL, LABEL_RESULT, r.label())
                }),
                shadow_responses: CLASSES
                    .map(|c| shadow_counter(metrics::SHADOW_RESPONSES_TOTAL, LABEL_CLASS, c)),
                comparisons: COMPARISONS.map(|c| {
                    shadow_counter(metrics::SHADOW_COMPARISONS_TOTAL, LABEL_RESULT, c.label())
                }),
                shadow_duration: with_shadow
                    .then(|| histogram(metrics::SHADOW_DURATION_MS, &[(LABEL_EXPERIMENT, exp)]))
                    .flatten(),
            }
        })
        .collect()
}
