//! The one error type of the statistics crate.

use thiserror::Error;

/// Everything that can go wrong when computing a statistic.
///
/// Every variant names the input field at fault (dotted path such as `control.successes`) so
/// that a CLI or API can tell the caller exactly what to fix.
#[derive(Debug, Clone, PartialEq, Error)]
pub enum StatsError {
    /// An input value is missing, out of range or inconsistent with another input.
    #[error("invalid `{field}`: {reason}")]
    InvalidInput {
        /// Dotted path of the offending field.
        field: String,
        /// What is wrong and what would be accepted.
        reason: String,
    },
    /// The samples have no variance, so the test statistic is undefined (division by zero).
    #[error("`{field}`: {reason}")]
    ZeroVariance {
        /// Dotted path of the samples involved.
        field: String,
        /// Which quantity is zero and what to use instead.
        reason: String,
    },
}

impl StatsError {
    /// Shorthand for [`StatsError::InvalidInput`].
    pub fn invalid(field: impl Into<String>, reason: impl Into<String>) -> Self {
        StatsError::InvalidInput {
            field: field.into(),
            reason: reason.into(),
        }
    }

    /// Shorthand for [`StatsError::ZeroVariance`].
    pub fn zero_variance(field: impl Into<String>, reason: impl Into<String>) -> Self {
        StatsError::ZeroVariance {
            field: field.into(),
            reason: reason.into(),
        }
    }

    /// The dotted path of the field the error is about.
    pub fn field(&self) -> &str {
        match self {
            StatsError::InvalidInput { field, .. } | StatsError::ZeroVariance { field, .. } => {
                field
            }
        }
    }
}

/// Checks that a confidence level lies strictly between 0 and 1; returns alpha = 1 - confidence.
pub fn alpha_from_confidence(confidence: f64) -> Result<f64, StatsError> {
    if confidence.is_finite() && confidence > 0.0 && confidence < 1.0 {
        Ok(1.0 - confidence)
    } else {
        Err(StatsError::invalid(
            "confidence",
            format!("must be strictly between 0 and 1 (e.g. 0.95), got {confidence}"),
        ))
    }
}

/// Checks that a significance level lies strictly between 0 and 1.
pub fn check_probability(field: &str, value: f64) -> Result<f64, StatsError> {
    if value.is_finite() && value > 0.0 && value < 1.0 {
        Ok(value)
    } else {
        Err(StatsError::invalid(
            field,
            format!("must be strictly between 0 and 1, got {value}"),
        ))
    }
}

/// Checks that a sample is non-empty and finite; errors name `field` (or `field[i]`).
pub fn check_sample(values: &[f64], field: &str) -> Result<(), StatsError> {
    if values.is_empty() {
        return Err(StatsError::invalid(
            field,
            "must contain at least one value",
        ));
    }
    if let Some(i) = values.iter().position(|x| !x.is_finite()) {
        return Err(StatsError::invalid(
            format!("{field}[{i}]"),
            "must be a finite number (no NaN or infinity)",
        ));
    }
    Ok(())
}
