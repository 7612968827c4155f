//! State changes of an A/B test (creation, endings) shared by the handlers and the monitor:
//! each runs in one transaction with the recomputed config pushed before the commit.

use crate::error::{ApiError, ApiResult};
use crate::layers;
use crate::publish::{ensure_exclusive, push_service};
use crate::routes::new_id;
use crate::state::AppState;
use crate::store::{ab_tests, models, WriteTx};
use crate::time::{format_rfc3339, now_ms};
use crate::types::ab::{AbOutcome, AbStatus, AbTest, AbTestCreate, Tunables};
use crate::validate;

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

/// Creates an A/B test of `tenant` from `body` (fields checked, clusters from the registry, 409
/// when it would share users with a live experiment of its service) and pushes its split.
pub async fn create(state: &AppState, tenant: &str, body: AbTestCreate) -> ApiResult<AbTest> {
    let tenant = tenant.to_string();
    Tunables {
        name: &body.name,
        treatment_fraction: body.treatment_fraction,
        primary_metric: &body.primary_metric,
        minimum_improvement: body.minimum_improvement,
        confidence_level: body.confidence_level,
        max_duration_hours: body.max_duration_hours,
        min_sample_size: body.min_sample_size,
        auto_rollback_threshold: body.auto_rollback_threshold,
        rollback_window_minutes: body.rollback_window_minutes,
    }
    .validate()?;
    if let Some(layer) = &body.layer {
        layers::check("layer", layer)?;
    }
    for (field, value) in [
        ("control_model_id", &body.control_model_id),
        ("control_version", &body.control_version),
        ("treatment_model_id", &body.treatment_model_id),
        ("treatment_version", &body.treatment_version),
    ] {
        validate::label(field, value)?;
    }
    if body.control_model_id == body.treatment_model_id
        && body.control_version == body.treatment_version
    {
        return Err(ApiError::invalid(
            "treatment_version",
            "treatment must differ from control (same model and version)",
        ));
    }
    let mut tx = WriteTx::begin(&state.store).await?;
    let control_cluster = models::cluster_of(
        tx.conn(),
        &tenant,
        &body.control_model_id,
        &body.control_version,
        "control_version",
    )?;
    let treatment_cluster = models::cluster_of(
        tx.conn(),
        &tenant,
        &body.treatment_model_id,
        &body.treatment_version,
        "treatment_version",
    )?;
    let service = body.control_model_id.clone();
    ensure_exclusive(
        tx.conn(),
        &tenant,
        &service,
        body.layer.as_ref(),
        "this test",
    )?;
    let test = AbTest {
        experiment_id: new_id("ab"),
        tenant_id: tenant.clone(),
        name: body.name,
        control_model_id: body.control_model_id,
        control_version: body.control_version,
        treatment_model_id: body.treatment_model_id,
        treatment_version: body.treatment_version,
        treatment_fraction: body.treatment_fraction,
        primary_metric: body.primary_metric,
        minimum_improvement: body.minimum_improvement,
        confidence_level: body.confidence_level,
        max_duration_hours: body.max_duration_hours,
        min_sample_size: body.min_sample_size,
        auto_rollback_threshold: body.auto_rollback_threshold,
        rollback_window_minutes: body.rollback_window_minutes,
        status: AbStatus::Active,
        outcome: None,
        reason: None,
        started_at: format_rfc3339(now_ms()),
        ended_at: None,
        version: 1,
        service: service.clone(),
        control_cluster,
        treatment_cluster,
        layer: body.layer,
    };
    ab_tests::insert(tx.conn(), &test)?;
    push_service(state, &mut tx, &tenant, &service).await?;
    tx.commit()?;
    Ok(test)
}
