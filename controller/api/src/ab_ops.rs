//! State changes of an A/B test shared by the handlers and the monitor: each runs in one
//! transaction with the recomputed config pushed before the commit.

use crate::error::{ApiError, ApiResult};
use crate::publish::push_service;
use crate::state::AppState;
use crate::store::{ab_tests, WriteTx};
use crate::time::{format_rfc3339, now_ms};
use crate::types::ab::{AbOutcome, AbStatus, AbTest};

/// How an A/B test is ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ending {
    /// Treatment to 100 % (`POST .../promote`).
    Promote,
    /// Control to 100 % (`POST .../rollback`, auto-rollback).
    Rollback,
    /// Past `max_duration_hours`: control kept.
    Expire,
    /// `DELETE`: out of the filter config, history kept.
    Stop,
}

impl Ending {
    fn apply(self, test: &mut AbTest) {
        let (status, outcome) = match self {
            Ending::Promote => (AbStatus::Completed, AbOutcome::Promoted),
            Ending::Rollback => (AbStatus::RolledBack, AbOutcome::RolledBack),
            Ending::Expire => (AbStatus::Completed, AbOutcome::Expired),
            Ending::Stop => (AbStatus::Completed, AbOutcome::Stopped),
        };
        test.status = status;
        test.outcome = Some(outcome);
    }
}

/// Ends an active test, pushes the service's new config and commits. `Stop` on an ended test
/// returns it unchanged (DELETE is idempotent); the other endings answer 409 on it.
pub async fn end_test(
    state: &AppState,
    tenant: &str,
    experiment_id: &str,
    ending: Ending,
    reason: Option<String>,
) -> ApiResult<AbTest> {
    let mut tx = WriteTx::begin(&state.store).await?;
    let (_, mut test) = ab_tests::require(tx.conn(), tenant, experiment_id)?;
    if test.status != AbStatus::Active {
        if ending == Ending::Stop {
            return Ok(test);
        }
        return Err(ApiError::Conflict(format!(
            "ab-test `{experiment_id}` is {} already; only an active test can be promoted or rolled back",
            test.status.as_str()
        )));
    }
    let expected = test.version;
    ending.apply(&mut test);
    let now = now_ms();
    test.ended_at = Some(format_rfc3339(now));
    test.reason = reason;
    test.version += 1;
    if !ab_tests::replace(tx.conn(), &test, expected)? {
        return Err(ApiError::Conflict(format!(
            "ab-test `{experiment_id}` changed concurrently; retry"
        )));
    }
    if let (Ending::Rollback, Some(message)) = (ending, &test.reason) {
        ab_tests::insert_alert(tx.conn(), tenant, experiment_id, now, message)?;
    }
    push_service(state, &mut tx, tenant, &test.service.clone()).await?;
    tx.commit()?;
    Ok(test)
}
