//! The `deployments` table: canaries (with their engine state) and shadows, as JSON documents.

use crate::error::{ApiError, ApiResult};
use crate::types::deploy::{CanaryDoc, Shadow};
use rusqlite::{params, Connection, OptionalExtension};
use serde::de::DeserializeOwned;
use serde::Serialize;

/// Kind column of canaries.
pub const CANARY: &str = "canary";
/// Kind column of shadows.
pub const SHADOW: &str = "shadow";

fn decode<T: DeserializeOwned>(doc: &str) -> rusqlite::Result<T> {
    serde_json::from_str(doc).map_err(|e| {
        rusqlite::Error::FromSqlConversionFailure(0, rusqlite::types::Type::Text, Box::new(e))
    })
}

fn encode<T: Serialize>(doc: &T) -> ApiResult<String> {
    serde_json::to_string(doc).map_err(|e| ApiError::Internal(format!("encoding deployment: {e}")))
}

/// Inserts or replaces a deployment document.
pub fn upsert<T: Serialize>(
    conn: &Connection,
    kind: &str,
    tenant: &str,
    id: &str,
    service: &str,
    active: bool,
    doc: &T,
) -> ApiResult<()> {
    conn.execute(
        "INSERT INTO deployments (tenant_id, deployment_id, kind, service, active, doc) VALUES (?1, ?2, ?3, ?4, ?5, ?6)
         ON CONFLICT (tenant_id, deployment_id) DO UPDATE SET active = excluded.active, doc = excluded.doc",
        params![tenant, id, kind, service, active, encode(doc)?],
    )?;
    Ok(())
}

/// Saves a canary.
pub fn save_canary(conn: &Connection, canary: &CanaryDoc) -> ApiResult<()> {
    upsert(
        conn,
        CANARY,
        &canary.tenant_id,
        &canary.canary_id,
        &canary.model_id,
        canary.is_live(),
        canary,
    )
}

/// Saves a shadow.
pub fn save_shadow(conn: &Connection, shadow: &Shadow) -> ApiResult<()> {
    upsert(
        conn,
        SHADOW,
        &shadow.tenant_id,
        &shadow.shadow_id,
        &shadow.model_id,
        shadow.active,
        shadow,
    )
}

fn get<T: DeserializeOwned>(
    conn: &Connection,
    kind: &'static str,
    tenant: &str,
    id: &str,
) -> ApiResult<T> {
    let mut stmt = conn.prepare_cached(
        "SELECT doc FROM deployments WHERE tenant_id = ?1 AND deployment_id = ?2 AND kind = ?3",
    )?;
    stmt.query_row(params![tenant, id, kind], |r| {
        decode(&r.get::<_, String>(0)?)
    })
    .optional()?
    .ok_or_else(|| ApiError::not_found(kind, id))
}

/// A canary of this tenant; 404 otherwise.
pub fn canary(conn: &Connection, tenant: &str, id: &str) -> ApiResult<CanaryDoc> {
    get(conn, CANARY, tenant, id)
}

/// A shadow of this tenant; 404 otherwise.
pub fn shadow(conn: &Connection, tenant: &str, id: &str) -> ApiResult<Shadow> {
    get(conn, SHADOW, tenant, id)
}

fn by_service<T: DeserializeOwned>(
    conn: &Connection,
    kind: &str,
    tenant: &str,
    service: &str,
) -> ApiResult<Vec<T>> {
    let mut stmt = conn.prepare_cached(
        "SELECT doc FROM deployments WHERE tenant_id = ?1 AND service = ?2 AND kind = ?3 ORDER BY seq",
    )?;
    let rows = stmt.query_map(params![tenant, service, kind], |r| {
        decode(&r.get::<_, String>(0)?)
    })?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// Canaries of a service, oldest first.
pub fn canaries_of(conn: &Connection, tenant: &str, service: &str) -> ApiResult<Vec<CanaryDoc>> {
    by_service(conn, CANARY, tenant, service)
}

/// Shadows of a service, oldest first.
pub fn shadows_of(conn: &Connection, tenant: &str, service: &str) -> ApiResult<Vec<Shadow>> {
    by_service(conn, SHADOW, tenant, service)
}

/// Every live canary of every tenant (the driver resumes these after a restart).
pub fn live_canaries(conn: &Connection) -> ApiResult<Vec<CanaryDoc>> {
    let mut stmt = conn.prepare_cached(
        "SELECT doc FROM deployments WHERE kind = 'canary' AND active = 1 ORDER BY seq",
    )?;
    let rows = stmt.query_map([], |r| decode(&r.get::<_, String>(0)?))?;
    Ok(rows.collect::<Result<_, _>>()?)
}
