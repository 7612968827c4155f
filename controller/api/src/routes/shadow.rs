//! `/api/v1/shadow`: start, get and stop a shadow deployment.

use crate::auth::Tenant;
use crate::error::{ApiError, ApiResult, Problem};
use crate::extract::ApiJson;
use crate::publish::{push_service, snapshot};
use crate::routes::new_id;
use crate::state::AppState;
use crate::store::{deployments, models, WriteTx};
use crate::time::{format_rfc3339, now_ms};
use crate::types::deploy::{Shadow, ShadowCreate};
use crate::validate;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;
use rollgate_core::config::{DEFAULT_MAX_BODY_BYTES, DEFAULT_SHADOW_TIMEOUT_MS};

/// Start a shadow deployment: a sample of the service's traffic is copied to the shadow version.
#[utoipa::path(post, path = "/api/v1/shadow", request_body = ShadowCreate, tag = "shadow",
    responses((status = 201, body = Shadow), (status = 400, body = Problem), (status = 401, body = Problem),
              (status = 409, body = Problem), (status = 422, body = Problem), (status = 502, body = Problem)))]
pub async fn start(
    State(state): State<AppState>,
    Tenant(tenant): Tenant,
    ApiJson(body): ApiJson<ShadowCreate>,
) -> ApiResult<(StatusCode, Json<Shadow>)> {
    validate::label("model_id", &body.model_id)?;
    validate::label("primary_version", &body.primary_version)?;
    validate::label("shadow_version", &body.shadow_version)?;
    validate::closed_interval("sample", body.sample, 0.0, 1.0)?;
    let mut tx = WriteTx::begin(&state.store).await?;
    let primary_cluster = models::cluster_of(
        tx.conn(),
        &tenant,
        &body.model_id,
        &body.primary_version,
        "primary_version",
    )?;
    let shadow_cluster = models::cluster_of(
        tx.conn(),
        &tenant,
        &body.model_id,
        &body.shadow_version,
        "shadow_version",
    )?;
    if let Some(existing) = snapshot(tx.conn(), &tenant, &body.model_id)?.active_shadow() {
        return Err(ApiError::Conflict(format!(
            "service `{}` already has shadow `{}`; DELETE it first",
            body.model_id, existing.shadow_id
        )));
    }
    let shadow = Shadow {
        shadow_id: new_id("shadow"),
        tenant_id: tenant.clone(),
        authority: body
            .authority
            .unwrap_or_else(|| format!("{}-shadow", body.model_id)),
        model_id: body.model_id,
        primary_version: body.primary_version,
        shadow_version: body.shadow_version,
        primary_cluster,
        shadow_cluster,
        sample: body.sample,
        timeout_ms: body.timeout_ms.unwrap_or(DEFAULT_SHADOW_TIMEOUT_MS),
        max_body_bytes: body.max_body_bytes.unwrap_or(DEFAULT_MAX_BODY_BYTES),
        compare: body.compare,
        active: true,
        created_at: format_rfc3339(now_ms()),
    };
    deployments::save_shadow(tx.conn(), &shadow)?;
    // The filter's validator checks authority, timeout, body limit and JSON pointer (422).
    push_service(&state, &mut tx, &tenant, &shadow.model_id.clone()).await?;
    tx.commit()?;
    Ok((StatusCode::CREATED, Json(shadow)))
}

/// Get a shadow deployment.
#[utoipa::path(get, path = "/api/v1/shadow/{id}", tag = "shadow", params(("id" = String, Path)),
    responses((status = 200, body = Shadow), (status = 404, body = Problem)))]
pub async fn get(
    State(state): State<AppState>,
    Tenant(tenant): Tenant,
    Path(id): Path<String>,
) -> ApiResult<Json<Shadow>> {
    let conn = state.store.lock().await;
    Ok(Json(deployments::shadow(&conn, &tenant, &id)?))
}

/// Stop a shadow deployment (kept, inactive).
#[utoipa::path(delete, path = "/api/v1/shadow/{id}", tag = "shadow", params(("id" = String, Path)),
    responses((status = 200, body = Shadow), (status = 404, body = Problem)))]
pub async fn stop(
    State(state): State<AppState>,
    Tenant(tenant): Tenant,
    Path(id): Path<String>,
) -> ApiResult<Json<Shadow>> {
    let mut tx = WriteTx::begin(&state.store).await?;
    let mut shadow = deployments::shadow(tx.conn(), &tenant, &id)?;
    if !shadow.active {
        return Ok(Json(shadow));
    }
    shadow.active = false;
    deployments::save_shadow(tx.conn(), &shadow)?;
    push_service(&state, &mut tx, &tenant, &shadow.model_id.clone()).await?;
    tx.commit()?;
    Ok(Json(shadow))
}
