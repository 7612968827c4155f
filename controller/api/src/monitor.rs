//! Seed 001's `AutoRollbackMonitor`, run inside the server for every active A/B test: when
//! treatment's error rate minus control's over the window exceeds `auto_rollback_threshold`,
//! the test is rolled back (control to 100 %, pushed) and an alert is logged, stored and
//! counted. Tests past `max_duration_hours` are ended with control kept. The decision is the
//! pure [`decide`]; [`check_all`] applies it once; [`run`] repeats that on a timer.

use crate::ab_ops::{end_test, Ending};
use crate::error::ApiResult;
use crate::state::AppState;
use crate::store::{ab_tests, events};
use crate::types::ab::AbTest;
use crate::types::events::ERROR_METRIC;
use std::time::Duration;

/// Fewest `error` events per arm in the window before the rates are compared (a handful of
/// requests says nothing about a rate).
pub const MIN_WINDOW_EVENTS: u64 = 20;

/// One arm's `error` events in the window.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct ArmWindow {
    /// Events of the `error` metric.
    pub total: u64,
    /// Sum of their values (failures).
    pub errors: f64,
}

impl ArmWindow {
    /// Failure rate (0 without events).
    pub fn rate(&self) -> f64 {
        if self.total == 0 {
            0.0
        } else {
            self.errors / self.total as f64
        }
    }
}

/// What the monitor does with one test.
#[derive(Debug, Clone, PartialEq)]
pub enum MonitorDecision {
    /// Leave it running.
    Keep,
    /// Roll back, with the alert text.
    Rollback {
        /// Control's error rate in the window.
        control_rate: f64,
        /// Treatment's error rate in the window.
        treatment_rate: f64,
        /// The alert message.
        message: String,
    },
    /// Past its maximum duration: end it, control kept.
    Expire,
}

/// The monitor's decision for `test` at `now_ms` given the window's error counts. Pure.
pub fn decide(
    test: &AbTest,
    control: ArmWindow,
    treatment: ArmWindow,
    now_ms: i64,
) -> MonitorDecision {
    if control.total >= MIN_WINDOW_EVENTS && treatment.total >= MIN_WINDOW_EVENTS {
        let (c, t) = (control.rate(), treatment.rate());
        if t - c > test.auto_rollback_threshold {
            return MonitorDecision::Rollback {
                control_rate: c,
                treatment_rate: t,
                message: format!(
                    "A/B test {} auto-rolled back: treatment error rate {:.2}% vs control {:.2}% over the last {} min (threshold {:.2} points)",
                    test.experiment_id,
                    t * 100.0,
                    c * 100.0,
                    test.rollback_window_minutes,
                    test.auto_rollback_threshold * 100.0
                ),
            };
        }
    }
    let deadline = test
        .started_ms()
        .saturating_add(i64::from(test.max_duration_hours) * 3_600_000);
    if now_ms >= deadline {
        return MonitorDecision::Expire;
    }
    MonitorDecision::Keep
}

/// Checks every active test once at `now_ms`; returns the decisions acted upon.
pub async fn check_all(state: &AppState, now_ms: i64) -> ApiResult<Vec<(String, MonitorDecision)>> {
    let candidates = {
        let conn = state.store.lock().await;
        let mut out = Vec::new();
        for (seq, test) in ab_tests::all_active(&conn)? {
            let since = now_ms - i64::from(test.rollback_window_minutes) * 60_000;
            let window = events::window(&conn, seq, ERROR_METRIC, since)?;
            let arm = |name: &str| {
                window
                    .get(name)
                    .map(|&(total, errors)| ArmWindow { total, errors })
                    .unwrap_or_default()
            };
            let decision = decide(&test, arm("control"), arm("treatment"), now_ms);
            if decision != MonitorDecision::Keep {
                out.push((test, decision));
            }
        }
        out
    };
    let mut acted = Vec::new();
    for (test, decision) in candidates {
        let result = match &decision {
            MonitorDecision::Rollback { message, .. } => {
                tracing::warn!(tenant = %test.tenant_id, experiment = %test.experiment_id, alert = %message, "auto-rollback");
                end_test(
                    state,
                    &test.tenant_id,
                    &test.experiment_id,
                    Ending::Rollback,
                    Some(message.clone()),
                )
                .await
                .map(|_| {
                    state.metrics.auto_rollback();
                })
            }
            MonitorDecision::Expire => {
                let reason = format!(
                    "ran past max_duration_hours ({} h); control kept",
                    test.max_duration_hours
                );
                end_test(
                    state,
                    &test.tenant_id,
                    &test.experiment_id,
                    Ending::Expire,
                    Some(reason),
                )
                .await
                .map(|_| {
                    state.metrics.expired();
                })
            }
            MonitorDecision::Keep => Ok(()),
        };
        match result {
            Ok(()) => acted.push((test.experiment_id.clone(), decision)),
            // Ended meanwhile (409) or a sink failure: logged, retried on the next pass.
            Err(err) => {
                tracing::warn!(experiment = %test.experiment_id, error = %err, "monitor action failed")
            }
        }
    }
    state.metrics.monitor_ran();
    Ok(acted)
}

/// Runs [`check_all`] every `period` until the task is dropped.
pub async fn run(state: AppState, period: Duration) {
    let mut ticker = tokio::time::interval(period);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        ticker.tick().await;
        if let Err(err) = check_all(&state, crate::time::now_ms()).await {
            tracing::error!(error = %err, "auto-rollback monitor pass failed");
        }
    }
}
