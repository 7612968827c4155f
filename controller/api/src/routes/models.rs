//! `/api/v1/models`: seed 002's registry (register, list versions newest first, list models).

use crate::auth::Tenant;
use crate::error::{ApiResult, Problem};
use crate::extract::ApiJson;
use crate::state::AppState;
use crate::store::{models, WriteTx};
use crate::time::now_ms;
use crate::types::registry::{ModelList, ModelVersion, ModelVersionCreate, ModelVersionList};
use crate::validate;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;

/// Register a model version (`created_at` set by the server).
#[utoipa::path(post, path = "/api/v1/models/{model_id}/versions", request_body = ModelVersionCreate, tag = "models",
    params(("model_id" = String, Path)),
    responses((status = 201, body = ModelVersion), (status = 400, body = Problem), (status = 401, body = Problem),
              (status = 409, body = Problem), (status = 422, body = Problem)))]
pub async fn register(
    State(state): State<AppState>,
    Tenant(tenant): Tenant,
    Path(model_id): Path<String>,
    ApiJson(body): ApiJson<ModelVersionCreate>,
) -> ApiResult<(StatusCode, Json<ModelVersion>)> {
    body.validate(&model_id)?;
    let tx = WriteTx::begin(&state.store).await?;
    let version = models::insert(tx.conn(), &tenant, &model_id, &body, now_ms())?;
    tx.commit()?;
    Ok((StatusCode::CREATED, Json(version)))
}

/// A model's versions, newest first (seed 002 `list_versions`).
#[utoipa::path(get, path = "/api/v1/models/{model_id}/versions", tag = "models", params(("model_id" = String, Path)),
    responses((status = 200, body = ModelVersionList), (status = 401, body = Problem), (status = 404, body = Problem)))]
pub async fn versions(
    State(state): State<AppState>,
    Tenant(tenant): Tenant,
    Path(model_id): Path<String>,
) -> ApiResult<Json<ModelVersionList>> {
    validate::label("model_id", &model_id)
        .map_err(|_| crate::error::ApiError::not_found("model", &model_id))?;
    let conn = state.store.lock().await;
    let versions = models::list_versions(&conn, &tenant, &model_id)?;
    if versions.is_empty() {
        return Err(crate::error::ApiError::not_found("model", &model_id));
    }
    Ok(Json(ModelVersionList { model_id, versions }))
}

/// This tenant's models.
#[utoipa::path(get, path = "/api/v1/models", tag = "models",
    responses((status = 200, body = ModelList), (status = 401, body = Problem)))]
pub async fn list(
    State(state): State<AppState>,
    Tenant(tenant): Tenant,
) -> ApiResult<Json<ModelList>> {
    let conn = state.store.lock().await;
    Ok(Json(ModelList {
        models: models::list_models(&conn, &tenant)?,
    }))
}
