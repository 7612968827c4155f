//! Rollgate report: a self-contained HTML file with SVG plots of a rollout's history.
//!
//! Input is a [`Timeline`] (`timeline.json`, see [`timeline`] for the shape the demo and the
//! controller write). [`render_html`] draws, with plotters' SVG backend, the canary weight over
//! time, the error rate and p99 latency per variant with the gate thresholds, the shadow
//! agreement, and marks every promote / rollback / pause on the time axis; a summary reports
//! the time from breach to rollback. The HTML needs no network, scripts or fonts to display.

mod error;
mod html;
mod plots;
pub mod summary;
pub mod timeline;

pub use error::ReportError;
pub use html::render_html;
pub use summary::{summarize, Summary};
pub use timeline::{
    AbArm, AbSummary, Decision, DecisionAction, GateMetric, GateThreshold, ShadowSample, Timeline,
    VariantSample, WeightPoint,
};

/// The `id` of each plot's `<figure>` in the HTML, in page order.
pub const PLOT_IDS: [&str; 4] = ["plot-weight", "plot-error-rate", "plot-p99", "plot-shadow"];
