//! The `models` table: seed 002's registry, per tenant.

use crate::error::{ApiError, ApiResult};
use crate::time::format_rfc3339;
use crate::types::registry::{ModelSummary, ModelVersion, ModelVersionCreate};
use rusqlite::{params, Connection, OptionalExtension};

/// Registers a version; 409 when it exists.
pub fn insert(
    conn: &Connection,
    tenant: &str,
    model_id: &str,
    body: &ModelVersionCreate,
    now_ms: i64,
) -> ApiResult<ModelVersion> {
    let metadata = body
        .metadata
        .clone()
        .unwrap_or_else(|| serde_json::json!({}));
    let inserted = conn.execute(
        "INSERT INTO models (tenant_id, model_id, version, cluster, image, metadata, created_ms)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7) ON CONFLICT (tenant_id, model_id, version) DO NOTHING",
        params![
            tenant,
            model_id,
            body.version,
            body.cluster,
            body.image,
            metadata.to_string(),
            now_ms
        ],
    )?;
    if inserted == 0 {
        return Err(ApiError::Conflict(format!(
            "model `{model_id}` already has a version `{}`; versions are immutable, register a new one",
            body.version
        )));
    }
    Ok(ModelVersion {
        model_id: model_id.to_string(),
        version: body.version.clone(),
        cluster: body.cluster.clone(),
        image: body.image.clone(),
        metadata,
        created_at: format_rfc3339(now_ms),
    })
}

fn row_to_version(row: &rusqlite::Row<'_>) -> rusqlite::Result<ModelVersion> {
    let metadata: String = row.get(4)?;
    Ok(ModelVersion {
        model_id: row.get(0)?,
        version: row.get(1)?,
        cluster: row.get(2)?,
        image: row.get(3)?,
        metadata: serde_json::from_str(&metadata).unwrap_or(serde_json::Value::Null),
        created_at: format_rfc3339(row.get(5)?),
    })
}

/// Versions of a model, newest first (registration order breaks ties).
pub fn list_versions(
    conn: &Connection,
    tenant: &str,
    model_id: &str,
) -> ApiResult<Vec<ModelVersion>> {
    let mut stmt = conn.prepare_cached(
        "SELECT model_id, version, cluster, image, metadata, created_ms FROM models
         WHERE tenant_id = ?1 AND model_id = ?2 ORDER BY created_ms DESC, seq DESC",
    )?;
    let rows = stmt.query_map(params![tenant, model_id], row_to_version)?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// One version, if registered.
pub fn get(
    conn: &Connection,
    tenant: &str,
    model_id: &str,
    version: &str,
) -> ApiResult<Option<ModelVersion>> {
    let mut stmt = conn.prepare_cached(
        "SELECT model_id, version, cluster, image, metadata, created_ms FROM models
         WHERE tenant_id = ?1 AND model_id = ?2 AND version = ?3",
    )?;
    Ok(stmt
        .query_row(params![tenant, model_id, version], row_to_version)
        .optional()?)
}

/// The cluster of a registered version; 422 naming `field` when it is not registered.
pub fn cluster_of(
    conn: &Connection,
    tenant: &str,
    model_id: &str,
    version: &str,
    field: &str,
) -> ApiResult<String> {
    match get(conn, tenant, model_id, version)? {
        Some(found) => Ok(found.cluster),
        None => Err(ApiError::invalid(
            field,
            format!(
                "model `{model_id}` has no registered version `{version}`; register it first with POST /api/v1/models/{model_id}/versions"
            ),
        )),
    }
}

/// This tenant's models with their newest version.
pub fn list_models(conn: &Connection, tenant: &str) -> ApiResult<Vec<ModelSummary>> {
    let mut stmt = conn.prepare_cached(
        "SELECT m.model_id, COUNT(*) AS n,
            (SELECT version FROM models l WHERE l.tenant_id = m.tenant_id AND l.model_id = m.model_id ORDER BY created_ms DESC, seq DESC LIMIT 1),
            MAX(m.created_ms)
         FROM models m WHERE m.tenant_id = ?1 GROUP BY m.model_id ORDER BY m.model_id",
    )?;
    let rows = stmt.query_map(params![tenant], |row| {
        Ok(ModelSummary {
            model_id: row.get(0)?,
            version_count: row.get::<_, i64>(1)?.max(0) as u64,
            latest_version: row.get(2)?,
            latest_created_at: format_rfc3339(row.get(3)?),
        })
    })?;
    Ok(rows.collect::<Result<_, _>>()?)
}
