//! The write path every change takes: inside one transaction, apply the change, recompute the
//! service's filter config, have the filter's validator accept it, push it through the sink,
//! then commit. A refused config (422) or a failed push (502) rolls everything back.

use crate::error::{ApiError, ApiResult};
use crate::routing::{build_config, ServiceSnapshot};
use crate::state::AppState;
use crate::store::{ab_tests, deployments, pushes, WriteTx};
use rollgate_core::config::{FilterConfig, LayerConfig};
use rusqlite::Connection;

/// Loads everything stored about a service.
pub fn snapshot(conn: &Connection, tenant: &str, service: &str) -> ApiResult<ServiceSnapshot> {
    Ok(ServiceSnapshot {
        ab_tests: ab_tests::by_service(conn, tenant, service)?,
        canaries: deployments::canaries_of(conn, tenant, service)?,
        shadows: deployments::shadows_of(conn, tenant, service)?,
    })
}

/// 409 unless a new experiment (`what`, e.g. `this canary`) in `layer` would share no user
/// with a live experiment of the service (see [`crate::layers`]).
pub fn ensure_exclusive(
    conn: &Connection,
    tenant: &str,
    service: &str,
    layer: Option<&LayerConfig>,
    what: &str,
) -> ApiResult<()> {
    match snapshot(conn, tenant, service)?.live_conflict(layer) {
        None => Ok(()),
        Some(owner) => Err(ApiError::Conflict(format!(
            "service `{service}` is already routed by {owner}, which would share users with \
             {what} ({}); end it first (promote, rollback, DELETE), or put both in disjoint \
             ranges of one layer (`layer: {{name, from, to}}`)",
            crate::layers::describe(layer)
        ))),
    }
}

/// The config to push and its version, validated by the filter crate.
fn prepare(conn: &Connection, tenant: &str, service: &str) -> ApiResult<(FilterConfig, u64)> {
    let config = build_config(service, &snapshot(conn, tenant, service)?);
    // The exact bytes a sidecar would receive must pass the filter's own parser + validator.
    let text = serde_json::to_vec(&config).map_err(|e| ApiError::Internal(e.to_string()))?;
    let config = FilterConfig::from_json(&text)?;
    let version = pushes::next_version(conn, tenant, service)?;
    Ok((config, version))
}

/// Recomputes and pushes the service's config inside `tx` (not committed here).
pub async fn push_service(
    state: &AppState,
    tx: &mut WriteTx<'_>,
    tenant: &str,
    service: &str,
) -> ApiResult<u64> {
    // The fence sits next to the push: a follower, or a leader past its renew deadline,
    // pushes nothing and the transaction rolls back.
    state.push_gate.check(crate::time::now_ms().max(0) as u64)?;
    let (config, version) = prepare(tx.conn(), tenant, service)?;
    state
        .sink
        .for_service(tenant, service)
        .push_config(&config, version)
        .await
        .map_err(|err| {
            state.metrics.push_failed();
            ApiError::Sink(err.to_string())
        })?;
    pushes::record(tx.conn(), tenant, service, version, &config)?;
    state.metrics.pushed();
    Ok(version)
}
