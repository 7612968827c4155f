//! Field rules shared by the request types; each failure names the field.

use crate::error::{ApiError, ApiResult};

/// Ids, names and labels that travel in headers, metric labels and filter configs:
/// 1 to 128 characters of `[A-Za-z0-9._-]`.
pub fn is_label(value: &str) -> bool {
    !value.is_empty()
        && value.len() <= 128
        && value
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b))
}

/// 422 unless `value` is a label.
pub fn label(field: &str, value: &str) -> ApiResult<()> {
    if is_label(value) {
        Ok(())
    } else {
        Err(ApiError::invalid(
            field,
            format!("{value:?} must be 1 to 128 characters of A-Z, a-z, 0-9, '.', '_' or '-'"),
        ))
    }
}

/// 422 unless `value` is non-empty text of at most `max` characters without control characters.
pub fn text(field: &str, value: &str, max: usize) -> ApiResult<()> {
    if value.trim().is_empty() || value.chars().count() > max || value.chars().any(char::is_control)
    {
        Err(ApiError::invalid(
            field,
            format!("must be 1 to {max} characters without control characters"),
        ))
    } else {
        Ok(())
    }
}

/// 422 unless `low < value < high`.
pub fn open_interval(field: &str, value: f64, low: f64, high: f64) -> ApiResult<()> {
    if value.is_finite() && value > low && value < high {
        Ok(())
    } else {
        Err(ApiError::invalid(
            field,
            format!("{value} must lie strictly between {low} and {high}"),
        ))
    }
}

/// 422 unless `low <= value <= high`.
pub fn closed_interval(field: &str, value: f64, low: f64, high: f64) -> ApiResult<()> {
    if value.is_finite() && value >= low && value <= high {
        Ok(())
    } else {
        Err(ApiError::invalid(
            field,
            format!("{value} must lie between {low} and {high} inclusive"),
        ))
    }
}

/// 422 unless `value >= min`.
pub fn at_least(field: &str, value: u64, min: u64) -> ApiResult<()> {
    if value >= min {
        Ok(())
    } else {
        Err(ApiError::invalid(
            field,
            format!("{value} must be at least {min}"),
        ))
    }
}

/// A fraction of traffic as basis points, `1..=9999` so both arms get traffic.
pub fn fraction_bp(field: &str, fraction: f64) -> ApiResult<u32> {
    open_interval(field, fraction, 0.0, 1.0)?;
    let bp = (fraction * 10_000.0).round() as u32;
    if (1..=9_999).contains(&bp) {
        Ok(bp)
    } else {
        Err(ApiError::invalid(
            field,
            format!(
                "{fraction} rounds to {bp} basis points; use a fraction between 0.0001 and 0.9999"
            ),
        ))
    }
}
