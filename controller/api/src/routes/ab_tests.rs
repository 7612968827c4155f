//! `/api/v1/ab-tests`: create, list, get, update (If-Match), stop, promote, rollback.

use crate::ab_ops::{self, end_test, Ending};
use crate::auth::Tenant;
use crate::error::{ApiError, ApiResult, Problem};
use crate::extract::{etag, if_match, ApiJson, Paging};
use crate::publish::push_service;
use crate::routes::with_etag;
use crate::state::AppState;
use crate::store::{ab_tests, WriteTx};
use crate::types::ab::{AbStatus, AbTest, AbTestCreate, AbTestList, AbTestUpdate};
use axum::extract::{Path, RawQuery, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::Response;
use axum::Json;

/// Create an A/B test (409 when a live experiment of the service would share its users:
/// only disjoint ranges of one exclusive layer may share a service).
#[utoipa::path(post, path = "/api/v1/ab-tests", request_body = AbTestCreate, tag = "ab-tests",
    responses((status = 201, body = AbTest), (status = 400, body = Problem), (status = 401, body = Problem),
              (status = 409, body = Problem), (status = 422, body = Problem), (status = 502, body = Problem)))]
pub async fn create(
    State(state): State<AppState>,
    Tenant(tenant): Tenant,
    ApiJson(body): ApiJson<AbTestCreate>,
) -> ApiResult<Response> {
    let test = ab_ops::create(&state, &tenant, body).await?;
    let mut response = with_etag(StatusCode::CREATED, test.version, Json(&test));
    if let Ok(location) = HeaderValue::from_str(&format!("/api/v1/ab-tests/{}", test.experiment_id))
    {
        response.headers_mut().insert(header::LOCATION, location);
    }
    Ok(response)
}

/// List this tenant's A/B tests.
#[utoipa::path(get, path = "/api/v1/ab-tests", params(Paging), tag = "ab-tests",
    responses((status = 200, body = AbTestList), (status = 401, body = Problem), (status = 422, body = Problem)))]
pub async fn list(
    State(state): State<AppState>,
    Tenant(tenant): Tenant,
    RawQuery(query): RawQuery,
) -> ApiResult<Json<AbTestList>> {
    let paging = Paging::from_query(query.as_deref())?;
    let conn = state.store.lock().await;
    let (items, total) = ab_tests::list(&conn, &tenant, paging.limit(), paging.offset())?;
    Ok(Json(AbTestList {
        items,
        limit: paging.limit(),
        offset: paging.offset(),
        total,
    }))
}

/// Get one A/B test (ETag = its version).
#[utoipa::path(get, path = "/api/v1/ab-tests/{id}", tag = "ab-tests", params(("id" = String, Path)),
    responses((status = 200, body = AbTest), (status = 401, body = Problem), (status = 404, body = Problem)))]
pub async fn get(
    State(state): State<AppState>,
    Tenant(tenant): Tenant,
    Path(id): Path<String>,
) -> ApiResult<Response> {
    let conn = state.store.lock().await;
    let (_, test) = ab_tests::require(&conn, &tenant, &id)?;
    Ok(with_etag(StatusCode::OK, test.version, Json(&test)))
}

/// Update weights and thresholds; needs `If-Match` with the current ETag.
#[utoipa::path(put, path = "/api/v1/ab-tests/{id}", request_body = AbTestUpdate, tag = "ab-tests",
    params(("id" = String, Path), ("If-Match" = String, Header, description = "ETag from GET")),
    responses((status = 200, body = AbTest), (status = 404, body = Problem), (status = 409, body = Problem),
              (status = 412, body = Problem), (status = 422, body = Problem), (status = 428, body = Problem)))]
pub async fn update(
    State(state): State<AppState>,
    Tenant(tenant): Tenant,
    Path(id): Path<String>,
    headers: HeaderMap,
    ApiJson(body): ApiJson<AbTestUpdate>,
) -> ApiResult<Response> {
    let mut tx = WriteTx::begin(&state.store).await?;
    let (_, mut test) = ab_tests::require(tx.conn(), &tenant, &id)?;
    if_match(&headers, test.version)?;
    if test.status != AbStatus::Active {
        return Err(ApiError::Conflict(format!(
            "ab-test `{id}` is {}; only an active test can be updated",
            test.status.as_str()
        )));
    }
    let expected = test.version;
    test.apply(body);
    test.tunables().validate()?;
    test.version += 1;
    if !ab_tests::replace(tx.conn(), &test, expected)? {
        return Err(ApiError::PreconditionFailed {
            given: etag(expected),
            current: expected + 1,
        });
    }
    push_service(&state, &mut tx, &tenant, &test.service.clone()).await?;
    tx.commit()?;
    Ok(with_etag(StatusCode::OK, test.version, Json(&test)))
}

/// Stop: status completed, out of the filter config, history kept.
#[utoipa::path(delete, path = "/api/v1/ab-tests/{id}", tag = "ab-tests", params(("id" = String, Path)),
    responses((status = 200, body = AbTest), (status = 404, body = Problem)))]
pub async fn stop(
    State(state): State<AppState>,
    Tenant(tenant): Tenant,
    Path(id): Path<String>,
) -> ApiResult<Response> {
    let test = end_test(&state, &tenant, &id, Ending::Stop, None).await?;
    Ok(with_etag(StatusCode::OK, test.version, Json(&test)))
}

/// Promote: treatment takes 100 % of the traffic.
#[utoipa::path(post, path = "/api/v1/ab-tests/{id}/promote", tag = "ab-tests", params(("id" = String, Path)),
    responses((status = 200, body = AbTest), (status = 404, body = Problem), (status = 409, body = Problem)))]
pub async fn promote(
    State(state): State<AppState>,
    Tenant(tenant): Tenant,
    Path(id): Path<String>,
) -> ApiResult<Response> {
    let test = end_test(
        &state,
        &tenant,
        &id,
        Ending::Promote,
        Some("promoted by request".into()),
    )
    .await?;
    Ok(with_etag(StatusCode::OK, test.version, Json(&test)))
}

/// Roll back: control takes 100 % of the traffic.
#[utoipa::path(post, path = "/api/v1/ab-tests/{id}/rollback", tag = "ab-tests", params(("id" = String, Path)),
    responses((status = 200, body = AbTest), (status = 404, body = Problem), (status = 409, body = Problem)))]
pub async fn rollback(
    State(state): State<AppState>,
    Tenant(tenant): Tenant,
    Path(id): Path<String>,
) -> ApiResult<Response> {
    let test = end_test(&state, &tenant, &id, Ending::Rollback, None).await?;
    Ok(with_etag(StatusCode::OK, test.version, Json(&test)))
}
