//! The `pushes` table: the last config pushed per (tenant, service) and its version.

use crate::error::{ApiError, ApiResult};
use rollgate_core::config::FilterConfig;
use rusqlite::{params, Connection, OptionalExtension};

/// The next push version of a service.
pub fn next_version(conn: &Connection, tenant: &str, service: &str) -> ApiResult<u64> {
    let current: Option<i64> = conn
        .query_row(
            "SELECT version FROM pushes WHERE tenant_id = ?1 AND service = ?2",
            params![tenant, service],
            |r| r.get(0),
        )
        .optional()?;
    Ok(current.unwrap_or(0).max(0) as u64 + 1)
}

/// Records a push.
pub fn record(
    conn: &Connection,
    tenant: &str,
    service: &str,
    version: u64,
    config: &FilterConfig,
) -> ApiResult<()> {
    let text = serde_json::to_string(config).map_err(|e| ApiError::Internal(e.to_string()))?;
    conn.execute(
        "INSERT INTO pushes (tenant_id, service, version, config) VALUES (?1, ?2, ?3, ?4)
         ON CONFLICT (tenant_id, service) DO UPDATE SET version = excluded.version, config = excluded.config",
        params![tenant, service, version as i64, text],
    )?;
    Ok(())
}

/// The last pushed config of a service and its version.
pub fn latest(
    conn: &Connection,
    tenant: &str,
    service: &str,
) -> ApiResult<Option<(u64, FilterConfig)>> {
    let row: Option<(i64, String)> = conn
        .query_row(
            "SELECT version, config FROM pushes WHERE tenant_id = ?1 AND service = ?2",
            params![tenant, service],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .optional()?;
    row.map(|(v, text)| {
        serde_json::from_str(&text)
            .map(|c| (v.max(0) as u64, c))
            .map_err(|e| ApiError::Store(format!("stored config unreadable: {e}")))
    })
    .transpose()
}
