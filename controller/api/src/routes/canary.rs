//! `/api/v1/canary`: start a rollout (the `rollgate run` spec as JSON), status, manual advance.

use crate::auth::Tenant;
use crate::canary_driver::{apply, engine_now, feed_verdicts, run_gates};
use crate::error::{ApiError, ApiResult, Problem};
use crate::extract::{parse_json, ApiJson};
use crate::layers;
use crate::publish::snapshot;
use crate::routes::new_id;
use crate::state::AppState;
use crate::store::{deployments, models, WriteTx};
use crate::time::{format_rfc3339, now_ms};
use crate::types::deploy::{CanaryAdvance, CanaryCreate, CanaryDoc, CanaryStatus};
use crate::validate;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;
use rollgate_core::config::{
    Experiment, ExperimentKind, FilterConfig, MatchRule, Variant, TOTAL_WEIGHT,
};
use rollgate_rollout::engine::{ControlRequest, Input, ManualAction, Phase, RolloutState};
use rollgate_rollout::spec::raw::{RawMetadata, RawRollout, RawSink, RawSpec, RawStdoutSink};
use rollgate_rollout::spec::{validate as validate_spec, API_VERSION, KIND};
use rollgate_rollout::RolloutError;

fn base_config(canary_id: &str, service: &str, stable: &str, canary: &str) -> FilterConfig {
    FilterConfig {
        experiments: vec![Experiment {
            id: canary_id.into(),
            kind: ExperimentKind::Canary,
            salt: canary_id.into(),
            match_rule: MatchRule {
                authority: Some(service.into()),
                ..MatchRule::default()
            },
            variants: vec![
                Variant {
                    name: "stable".into(),
                    cluster: stable.into(),
                    weight: TOTAL_WEIGHT,
                },
                Variant {
                    name: "canary".into(),
                    cluster: canary.into(),
                    weight: 0,
                },
            ],
            force_header: None,
            shadow: None,
            guard: None,
            layer: None,
            unit_kind: Default::default(),
        }],
        ..FilterConfig::default()
    }
}

/// Spec errors name `spec.steps[1].weight`; the API body calls it `steps[1].weight`.
fn spec_error(err: RolloutError) -> ApiError {
    match err {
        RolloutError::Spec { field, message } => ApiError::invalid(
            field.strip_prefix("spec.").unwrap_or(&field).to_string(),
            message,
        ),
        RolloutError::Config(e) => e.into(),
        other => ApiError::invalid(".", other.to_string()),
    }
}

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
    validate::label("model_id", &body.model_id)?;
    validate::label("stable_version", &body.stable_version)?;
    validate::label("canary_version", &body.canary_version)?;
    if body.stable_version == body.canary_version {
        return Err(ApiError::invalid(
            "canary_version",
            "must differ from stable_version",
        ));
    }
    let name = body.name.clone().unwrap_or_else(|| {
        format!(
            "{} {} -> {}",
            body.model_id, body.stable_version, body.canary_version
        )
    });
    validate::text("name", &name, 200)?;
    if let Some(layer) = &body.layer {
        layers::check("layer", layer)?;
    }
    let canary_id = new_id("canary");
    let mut tx = WriteTx::begin(&state.store).await?;
    let stable_cluster = models::cluster_of(
        tx.conn(),
        &tenant,
        &body.model_id,
        &body.stable_version,
        "stable_version",
    )?;
    let canary_cluster = models::cluster_of(
        tx.conn(),
        &tenant,
        &body.model_id,
        &body.canary_version,
        "canary_version",
    )?;
    if let Some(owner) =
        snapshot(tx.conn(), &tenant, &body.model_id)?.live_conflict(body.layer.as_ref())
    {
        return Err(ApiError::Conflict(format!(
            "service `{}` is already routed by {owner}, which would share users with this \
             canary ({}); end it first, or put both in disjoint ranges of one layer \
             (`layer: {{name, from, to}}`)",
            body.model_id,
            layers::describe(body.layer.as_ref())
        )));
    }
    let raw = RawRollout {
        api_version: API_VERSION.to_string(),
        kind: KIND.to_string(),
        metadata: RawMetadata {
            name: canary_id.clone(),
            namespace: Some(tenant.clone()),
        },
        spec: RawSpec {
            experiment: canary_id.clone(),
            stable: "stable".into(),
            canary: "canary".into(),
            base_config: "(api)".into(),
            sink: RawSink {
                ecds_file: None,
                kubernetes: None,
                stdout: Some(RawStdoutSink {}),
            },
            prometheus: body.prometheus,
            state_file: Some("(sqlite)".into()),
            steps: body.steps,
            gates: body.gates,
        },
    };
    let base = base_config(&canary_id, &body.model_id, &stable_cluster, &canary_cluster);
    let rollout = validate_spec(raw, std::path::Path::new("."), base).map_err(spec_error)?;
    let now = engine_now();
    let doc = CanaryDoc {
        canary_id: canary_id.clone(),
        tenant_id: tenant.clone(),
        name,
        model_id: body.model_id,
        stable_version: body.stable_version,
        canary_version: body.canary_version,
        stable_cluster,
        canary_cluster,
        prometheus: rollout.prometheus,
        layer: body.layer,
        plan: rollout.plan,
        state: RolloutState::new(&canary_id, now),
        created_at: format_rfc3339(now_ms()),
    };
    let plan = doc.plan.clone();
    let (doc, _) = apply(&state, &mut tx, doc, &plan, Input::Tick, now).await?;
    tx.commit()?;
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
