//! Starting a canary: check the body, build its plan with the rollout crate's spec validator
//! (the `rollgate run` rules and messages), refuse a service it would share users with, store
//! it and push its first weight, all in one transaction.

use crate::canary_driver::{apply, engine_now};
use crate::error::{ApiError, ApiResult};
use crate::layers;
use crate::publish::ensure_exclusive;
use crate::routes::new_id;
use crate::state::AppState;
use crate::store::{models, WriteTx};
use crate::time::{format_rfc3339, now_ms};
use crate::types::deploy::{CanaryCreate, CanaryDoc};
use crate::validate;
use rollgate_core::config::{
    Experiment, ExperimentKind, FilterConfig, MatchRule, Variant, TOTAL_WEIGHT,
};
use rollgate_rollout::engine::{Input, RolloutState};
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

/// Starts a canary of `tenant` from `body`; the first step's weight is pushed before this
/// returns.
pub async fn start(state: &AppState, tenant: &str, body: CanaryCreate) -> ApiResult<CanaryDoc> {
    let tenant = tenant.to_string();
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
    ensure_exclusive(
        tx.conn(),
        &tenant,
        &body.model_id,
        body.layer.as_ref(),
        "this canary",
    )?;
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
    let (doc, _) = apply(state, &mut tx, doc, &plan, Input::Tick, now).await?;
    tx.commit()?;
    Ok(doc)
}
