//! Outcome events posted to an A/B test (seed 001 `ABTestMetricsCollector.record_prediction`).

use crate::error::{ApiError, ApiResult};
use crate::validate;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// Largest number of events in one batch.
pub const MAX_BATCH: usize = 10_000;

/// Metric the auto-rollback monitor reads: value 1 for a failed prediction, 0 for a success.
pub const ERROR_METRIC: &str = "error";

/// When an event happened: unix seconds (number) or RFC 3339 text.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(untagged)]
pub enum Timestamp {
    /// Seconds since the unix epoch.
    Seconds(f64),
    /// RFC 3339 text, e.g. `2026-11-23T13:44:50Z`.
    Text(String),
}

/// One outcome.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EventIn {
    /// Randomization unit (user id).
    pub unit: String,
    /// `control` or `treatment`.
    pub variant: String,
    /// Metric name (`accuracy`, `latency_ms`, `error`: 1 failed / 0 ok, ...).
    pub metric: String,
    /// Observed value; 0/1 for binary metrics.
    pub value: f64,
    /// When it happened (unix seconds or RFC 3339); default: when received.
    #[serde(default)]
    #[schema(value_type = Option<String>)]
    pub ts: Option<Timestamp>,
}

/// A checked event, ready to store.
#[derive(Debug, Clone, PartialEq)]
pub struct ValidEvent {
    /// Unit.
    pub unit: String,
    /// Variant.
    pub variant: &'static str,
    /// Metric.
    pub metric: String,
    /// Value.
    pub value: f64,
    /// Unix milliseconds.
    pub ts_ms: i64,
}

/// Checks a batch; errors name the element and field (`[3].value`).
pub fn validate_batch(events: Vec<EventIn>, now_ms: i64) -> ApiResult<Vec<ValidEvent>> {
    if events.is_empty() {
        return Err(ApiError::invalid(
            ".",
            "the batch is empty; send an array of 1 to 10000 events",
        ));
    }
    if events.len() > MAX_BATCH {
        return Err(ApiError::invalid(
            ".",
            format!(
                "{} events in one batch; send at most {MAX_BATCH}",
                events.len()
            ),
        ));
    }
    events
        .into_iter()
        .enumerate()
        .map(|(i, event)| {
            let variant = match event.variant.as_str() {
                "control" => "control",
                "treatment" => "treatment",
                other => {
                    return Err(ApiError::invalid(
                        format!("[{i}].variant"),
                        format!("{other:?} must be \"control\" or \"treatment\""),
                    ))
                }
            };
            if event.unit.is_empty() || event.unit.len() > 256 {
                return Err(ApiError::invalid(
                    format!("[{i}].unit"),
                    "must be 1 to 256 bytes",
                ));
            }
            validate::label(&format!("[{i}].metric"), &event.metric)?;
            if !event.value.is_finite() {
                return Err(ApiError::invalid(
                    format!("[{i}].value"),
                    "must be a finite number",
                ));
            }
            let ts_ms = match &event.ts {
                None => now_ms,
                Some(Timestamp::Seconds(s)) if s.is_finite() && *s >= 0.0 && *s < 1.0e11 => {
                    (s * 1000.0).round() as i64
                }
                Some(Timestamp::Text(t)) => crate::time::parse_rfc3339(t).ok_or_else(|| {
                    ApiError::invalid(
                        format!("[{i}].ts"),
                        format!("{t:?} is not RFC 3339 (2026-11-23T13:44:50Z)"),
                    )
                })?,
                Some(Timestamp::Seconds(s)) => {
                    return Err(ApiError::invalid(
                        format!("[{i}].ts"),
                        format!("{s} is not a plausible unix time in seconds"),
                    ))
                }
            };
            Ok(ValidEvent {
                unit: event.unit,
                variant,
                metric: event.metric,
                value: event.value,
                ts_ms,
            })
        })
        .collect()
}

/// `POST /ab-tests/{id}/events` answer: the events are durably stored.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct EventsAccepted {
    /// The test.
    pub experiment_id: String,
    /// Events stored by this request.
    pub accepted: usize,
}
