//! The report crate's one error type.

use thiserror::Error;

/// Why a report could not be made.
#[derive(Debug, Error)]
pub enum ReportError {
    /// `timeline.json` is not JSON of the [`crate::Timeline`] shape.
    #[error("timeline is not valid at line {line}, column {column}: {message}")]
    Parse {
        /// Line of the error.
        line: usize,
        /// Column of the error.
        column: usize,
        /// What the parser expected.
        message: String,
    },
    /// The timeline parsed but breaks a rule (negative time, more errors than requests, ...).
    #[error("timeline field {path}: {rule}")]
    Invalid {
        /// JSON path of the offending value, e.g. `samples[3].errors`.
        path: String,
        /// The rule broken.
        rule: String,
    },
    /// Plotters failed to draw a plot (a bug: the inputs are validated first).
    #[error("drawing the {plot} plot failed: {message}")]
    Draw {
        /// Which plot.
        plot: &'static str,
        /// The backend's message.
        message: String,
    },
}
