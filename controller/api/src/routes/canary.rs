//! `/api/v1/canary`: start a rollout (the `rollgate run` spec as JSON), status, manual advance.

use crate::auth::Tenant;
use crate::canary_driver::{apply, engine_now, feed_verdicts, run_gates};
use crate::canary_ops;
use crate::error::{ApiError, ApiResult, Problem};
use crate::extract::{parse_json, ApiJson};
use crate::routes::new_id;
use crate::state::AppState;
use crate::store::{deployments, WriteTx};
use crate::types::deploy::{CanaryAdvance, CanaryCreate, CanaryStatus};
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;
use rollgate_rollout::engine::{ControlRequest, Input, ManualAction, Phase};

/// Start a canary rollout; the first step's weight is pushed before this answers (409 when a
/// live experiment of the service would share its users, as for A/B tests).
#[utoipa::path(post, path = "/api/v1/canary", request_body = CanaryCreate, tag = "canary",
    responses((status = 201, body = CanaryStatus), (status = 400, body = Problem), (status = 401, body = Problem),
              (status = 409, body = Problem), (status = 422, body = Problem), (status = 502, body = Problem)))]
pub async fn start(
    State(state): State<AppState>,
    Tenant(tenant): Tenant,
    ApiJson(body): ApiJson<CanaryCreate>,
) -> ApiResult<(StatusCode, Json<CanaryStatus>)> {
    let doc = canary_ops::start(&state, &tenant, body).await?;
    Ok((StatusCode::CREATED, Json(doc.status())))
}

/// Step, weight, gate values and history of a canary.
#[utoipa::path(get, path = "/api/v1/canary/{id}/status", tag = "canary", params(("id" = String, Path)),
    responses((status = 200, body = CanaryStatus), (status = 401, body = Problem), (status = 404, body = Problem)))]
pub async fn status(
    State(state): State<AppState>,
    Tenant(tenant): Tenant,
    Path(id): Path<String>,
) -> ApiResult<Json<CanaryStatus>> {
    let conn = state.store.lock().await;
    Ok(Json(deployments::canary(&conn, &tenant, &id)?.status()))
}

/// Advance to the next step now: the current step's gates are checked first (a failing or
/// silent gate answers 409 and counts as a check), unless `{"force": true}`.
#[utoipa::path(post, path = "/api/v1/canary/{id}/advance", request_body = Option<CanaryAdvance>, tag = "canary",
    params(("id" = String, Path)),
    responses((status = 200, body = CanaryStatus), (status = 404, body = Problem), (status = 409, body = Problem)))]
pub async fn advance(
    State(state): State<AppState>,
    Tenant(tenant): Tenant,
    Path(id): Path<String>,
    body: Bytes,
) -> ApiResult<Json<CanaryStatus>> {
    let request: CanaryAdvance = if body.iter().all(u8::is_ascii_whitespace) {
        CanaryAdvance::default()
    } else {
        parse_json(&body)?
    };
    let doc = {
        let mut tx = WriteTx::begin(&state.store).await?;
        let mut doc = deployments::canary(tx.conn(), &tenant, &id)?;
        if doc.state.phase.is_terminal() {
            return Err(ApiError::Conflict(format!(
                "canary `{id}` is {} already",
                doc.state.phase.name()
            )));
        }
        if doc.state.pending_push.is_some() {
            return Err(ApiError::Conflict(format!(
                "canary `{id}` has a push in flight; retry in a moment"
            )));
        }
        let now = engine_now();
        if matches!(doc.state.phase, Phase::Paused { .. }) {
            let resume = ControlRequest {
                id: new_id("resume"),
                action: ManualAction::Resume,
            };
            let plan = doc.plan.clone();
            doc = apply(&state, &mut tx, doc, &plan, Input::Control(resume), now)
                .await?
                .0;
        }
        let gates = doc
            .plan
            .steps
            .get(doc.state.step)
            .map(|s| s.gates.clone())
            .unwrap_or_default();
        if request.force || gates.is_empty() {
            // An operator override: this step's pause ends now and its gates are not checked.
            let mut plan = doc.plan.clone();
            if let Some(current) = plan.steps.get_mut(doc.state.step) {
                current.gates.clear();
            }
            doc.state.pause_until_ms = Some(now);
            let (doc, _) = apply(&state, &mut tx, doc, &plan, Input::Tick, now).await?;
            tx.commit()?;
            return Ok(Json(doc.status()));
        }
        tx.commit()?;
        doc
    };
    let step_before = doc.state.step;
    let gates = doc
        .plan
        .steps
        .get(doc.state.step)
        .map(|s| s.gates.clone())
        .unwrap_or_default();
    let verdicts = run_gates(&doc, &gates).await;
    let after = feed_verdicts(&state, &tenant, &id, verdicts.clone(), true).await?;
    if after.state.step == step_before && !after.state.phase.is_terminal()
        || matches!(after.state.phase, Phase::RolledBack { .. })
    {
        let detail: Vec<String> = verdicts
            .iter()
            .map(|v| {
                format!(
                    "{} {:?} (value {:?}, {})",
                    v.gate, v.outcome, v.value, v.condition
                )
            })
            .collect();
        return Err(ApiError::Conflict(format!(
            "canary `{id}` did not advance: gates {}; phase is {} (use {{\"force\": true}} to override)",
            detail.join("; "),
            after.state.phase.name()
        )));
    }
    Ok(Json(after.status()))
}
