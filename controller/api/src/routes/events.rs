//! `POST /ab-tests/{id}/events` (batched outcomes) and `GET /ab-tests/{id}/results`.

use crate::auth::Tenant;
use crate::error::{ApiError, ApiResult, Problem};
use crate::extract::{serde_urlencoded_like, ApiJson};
use crate::results::{analyze, RawData, TestKind};
use crate::state::AppState;
use crate::store::{ab_tests, events, WriteTx};
use crate::time::now_ms;
use crate::types::events::{validate_batch, EventIn, EventsAccepted};
use crate::types::results::AbResults;
use axum::extract::{Path, RawQuery, State};
use axum::Json;
use serde::Deserialize;

/// Record a batch of outcomes; answered once they are committed to disk.
#[utoipa::path(post, path = "/api/v1/ab-tests/{id}/events", request_body = Vec<EventIn>, tag = "ab-tests",
    params(("id" = String, Path)),
    responses((status = 200, body = EventsAccepted), (status = 400, body = Problem), (status = 404, body = Problem),
              (status = 413, body = Problem), (status = 422, body = Problem)))]
pub async fn record(
    State(state): State<AppState>,
    Tenant(tenant): Tenant,
    Path(id): Path<String>,
    ApiJson(batch): ApiJson<Vec<EventIn>>,
) -> ApiResult<Json<EventsAccepted>> {
    let valid = validate_batch(batch, now_ms())?;
    let tx = WriteTx::begin(&state.store).await?;
    let (seq, _) = ab_tests::require(tx.conn(), &tenant, &id)?;
    events::insert_batch(tx.conn(), seq, &valid)?;
    tx.commit()?;
    state.metrics.events(valid.len());
    Ok(Json(EventsAccepted {
        experiment_id: id,
        accepted: valid.len(),
    }))
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
pub(crate) struct ResultsQuery {
    /// Metric to analyse (default the primary metric).
    metric: Option<String>,
    /// two_proportion_z, welch_t, student_t, mann_whitney_u, cuped or ratio_delta (default: z
    /// for 0/1 metrics, else Welch).
    test: Option<String>,
    /// cuped: the pre-experiment metric, summed per unit (0 for a unit without one).
    covariate: Option<String>,
    /// ratio_delta: the denominator metric, summed per unit (the numerator is `metric`).
    denominator: Option<String>,
}

/// Statistics and decision (running sufficient statistics; raw values only for rank tests).
#[utoipa::path(get, path = "/api/v1/ab-tests/{id}/results", tag = "ab-tests",
    params(("id" = String, Path), ResultsQuery),
    responses((status = 200, body = AbResults), (status = 404, body = Problem), (status = 422, body = Problem)))]
pub async fn results(
    State(state): State<AppState>,
    Tenant(tenant): Tenant,
    Path(id): Path<String>,
    RawQuery(query): RawQuery,
) -> ApiResult<Json<AbResults>> {
    let query: ResultsQuery = serde_urlencoded_like(query.as_deref().unwrap_or(""))?;
    let (seq, test, control, treatment) = {
        let conn = state.store.lock().await;
        let (seq, test) = ab_tests::require(&conn, &tenant, &id)?;
        let metric = query
            .metric
            .clone()
            .unwrap_or_else(|| test.primary_metric.clone());
        let control = events::running(&conn, seq, "control", &metric)?;
        let treatment = events::running(&conn, seq, "treatment", &metric)?;
        (seq, test, control, treatment)
    };
    let metric = query.metric.unwrap_or_else(|| test.primary_metric.clone());
    let kind = match query.test.as_deref() {
        None => TestKind::default_for(&control, &treatment),
        Some(name) => TestKind::parse(name).ok_or_else(|| {
            ApiError::invalid(
                "test",
                format!(
                    "{name:?} must be two_proportion_z, welch_t, student_t, mann_whitney_u, \
                     cuped or ratio_delta"
                ),
            )
        })?,
    };
    let second = match kind {
        TestKind::Cuped => Some(query.covariate.clone().ok_or_else(|| {
            ApiError::invalid(
                "covariate",
                "test=cuped needs covariate=<pre-experiment metric>",
            )
        })?),
        TestKind::RatioDelta => Some(query.denominator.clone().ok_or_else(|| {
            ApiError::invalid("denominator", "test=ratio_delta needs denominator=<metric>")
        })?),
        _ => None,
    };
    let raw = if kind == TestKind::MannWhitneyU || second.is_some() {
        let store = state.store.clone();
        let metric = metric.clone();
        let values = tokio::task::spawn_blocking(move || -> ApiResult<RawData> {
            let reader = store.reader()?;
            Ok(match second {
                Some(second) => RawData {
                    pairs: Some((
                        events::per_unit_pairs(&reader, seq, "control", &metric, &second)?,
                        events::per_unit_pairs(&reader, seq, "treatment", &metric, &second)?,
                    )),
                    ..RawData::default()
                },
                None => RawData {
                    values: Some((
                        events::values(&reader, seq, "control", &metric)?,
                        events::values(&reader, seq, "treatment", &metric)?,
                    )),
                    ..RawData::default()
                },
            })
        })
        .await
        .map_err(|e| ApiError::Internal(format!("per-unit scan failed: {e}")))??;
        Some(values)
    } else {
        None
    };
    Ok(Json(analyze(
        &test,
        &metric,
        &control,
        &treatment,
        kind,
        raw.as_ref(),
    )))
}
