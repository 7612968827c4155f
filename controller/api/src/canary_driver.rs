//! Drives canaries with the rollout crate's pure engine: feeds it inputs, persists its state in
//! SQLite after every transition (so a restart resumes), pushes the weights it asks for through
//! the service's config, and runs the gates it asks for against Prometheus.

use crate::error::{ApiError, ApiResult};
use crate::publish::push_service;
use crate::state::AppState;
use crate::store::{deployments, WriteTx};
use crate::types::deploy::CanaryDoc;
use rollgate_rollout::checks::{check_plan_gates, GateTarget};
use rollgate_rollout::engine::{step, Action, Input, UnixMillis};
use rollgate_rollout::gates::GateVerdict;
use rollgate_rollout::prometheus::PrometheusClient;
use rollgate_rollout::spec::Plan;
use std::time::Duration;

/// Most engine steps one input may cause (push confirmations chain); a guard, never reached
/// by a well-formed plan.
const MAX_CHAIN: usize = 16;

/// Feeds `input` to the engine under `plan`, saving the state and carrying out pushes inside
/// `tx`. Returns the canary and the gates the engine asked to check (run them outside the
/// transaction, then feed [`Input::GateResults`]).
pub async fn apply(
    state: &AppState,
    tx: &mut WriteTx<'_>,
    mut doc: CanaryDoc,
    plan: &Plan,
    input: Input,
    now: UnixMillis,
) -> ApiResult<(CanaryDoc, Vec<String>)> {
    let mut queue = vec![input];
    let mut gates = Vec::new();
    let mut steps = 0;
    while let Some(input) = queue.pop() {
        steps += 1;
        if steps > MAX_CHAIN {
            return Err(ApiError::Internal(format!(
                "canary `{}`: engine did not settle",
                doc.canary_id
            )));
        }
        let (next, actions) = step(plan, doc.state.clone(), input, now);
        doc.state = next;
        deployments::save_canary(tx.conn(), &doc)?;
        for action in actions {
            match action {
                Action::PushWeight { canary_bp, .. } => {
                    push_service(state, tx, &doc.tenant_id.clone(), &doc.model_id.clone()).await?;
                    queue.push(Input::Pushed { canary_bp });
                }
                Action::RunGates { gates: names } => gates = names,
                Action::RecordEvent(event) => {
                    tracing::info!(canary = %doc.canary_id, event = ?event, "canary event");
                }
            }
        }
    }
    deployments::save_canary(tx.conn(), &doc)?;
    Ok((doc, gates))
}

/// Checks `names` of `doc`'s plan against its Prometheus, with the same evaluation as
/// `rollgate run` (every gate kind, `srm` and `sequential` included, sample minimums and the
/// gate timeline) and the same source settings.
pub async fn run_gates(doc: &CanaryDoc, names: &[String]) -> Vec<GateVerdict> {
    // Secrets are read now, from their file or environment variable, on every check.
    let client = doc
        .prometheus
        .as_ref()
        .map(|target| PrometheusClient::from_target(target).map_err(|e| e.to_string()));
    let target = GateTarget {
        experiment: &doc.canary_id,
        namespace: &doc.tenant_id,
        canary: "canary",
        stable: "stable",
    };
    check_plan_gates(&target, &doc.plan, &client, names, &doc.state, engine_now()).await
}

/// Now as engine time.
pub fn engine_now() -> UnixMillis {
    crate::time::now_ms().max(0) as UnixMillis
}

/// One tick of one canary: time passes; gates asked for are run and their results fed back.
pub async fn tick(state: &AppState, tenant: &str, canary_id: &str) -> ApiResult<CanaryDoc> {
    let (doc, gates) = {
        let mut tx = WriteTx::begin(&state.store).await?;
        let doc = deployments::canary(tx.conn(), tenant, canary_id)?;
        let plan = doc.plan.clone();
        let out = apply(state, &mut tx, doc, &plan, Input::Tick, engine_now()).await?;
        tx.commit()?;
        out
    };
    if gates.is_empty() {
        return Ok(doc);
    }
    let verdicts = run_gates(&doc, &gates).await;
    feed_verdicts(state, tenant, canary_id, verdicts, false).await
}

/// Feeds gate results (re-reading the canary: it may have moved meanwhile). With
/// `end_pause`, the current pause ends now (manual advance).
pub async fn feed_verdicts(
    state: &AppState,
    tenant: &str,
    canary_id: &str,
    verdicts: Vec<GateVerdict>,
    end_pause: bool,
) -> ApiResult<CanaryDoc> {
    let mut tx = WriteTx::begin(&state.store).await?;
    let mut doc = deployments::canary(tx.conn(), tenant, canary_id)?;
    let now = engine_now();
    if end_pause {
        doc.state.pause_until_ms = Some(now);
    }
    let plan = doc.plan.clone();
    let (doc, _) = apply(
        state,
        &mut tx,
        doc,
        &plan,
        Input::GateResults(verdicts),
        now,
    )
    .await?;
    tx.commit()?;
    Ok(doc)
}

/// Ticks every live canary of every tenant once (after a restart this resumes them).
pub async fn tick_all(state: &AppState) -> ApiResult<usize> {
    let live = {
        let conn = state.store.lock().await;
        deployments::live_canaries(&conn)?
    };
    for doc in &live {
        if let Err(err) = tick(state, &doc.tenant_id, &doc.canary_id).await {
            tracing::warn!(canary = %doc.canary_id, error = %err, "canary tick failed");
        }
    }
    Ok(live.len())
}

/// Runs [`tick_all`] every `period` until the task is dropped.
pub async fn run(state: AppState, period: Duration) {
    let mut ticker = tokio::time::interval(period);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        ticker.tick().await;
        if let Err(err) = tick_all(&state).await {
            tracing::error!(error = %err, "canary driver pass failed");
        }
    }
}
