//! The routing core's one error type: why a filter configuration was refused.

use thiserror::Error;

/// A refused filter configuration. Every message names the JSON path and the rule broken,
/// so the person who wrote the config knows what to change.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum ConfigError {
    /// The text is not JSON of the expected shape (unknown field, wrong type, ...).
    #[error("config is not valid JSON for schema version 1 at {path}: {message}")]
    Syntax {
        /// JSON path (or line/column) where parsing stopped.
        path: String,
        /// What the parser expected.
        message: String,
    },
    /// The JSON parsed but breaks a rule of the schema.
    #[error("{path}: {rule}")]
    Invalid {
        /// JSON path of the offending value, e.g. `experiments[0].variants[1].weight`.
        path: String,
        /// The rule broken and, where it helps, what to do.
        rule: String,
    },
}
