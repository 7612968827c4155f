//! The `ab_tests` table: one JSON document per test, with the columns queries need.

use crate::error::{ApiError, ApiResult};
use crate::types::ab::AbTest;
use rusqlite::{params, Connection, OptionalExtension};

fn encode(test: &AbTest) -> ApiResult<String> {
    serde_json::to_string(test).map_err(|e| ApiError::Internal(format!("encoding ab-test: {e}")))
}

fn decode(doc: &str) -> rusqlite::Result<AbTest> {
    serde_json::from_str(doc).map_err(|e| {
        rusqlite::Error::FromSqlConversionFailure(0, rusqlite::types::Type::Text, Box::new(e))
    })
}

/// Stores a new test; returns its row number (the key of its events).
pub fn insert(conn: &Connection, test: &AbTest) -> ApiResult<i64> {
    conn.execute(
        "INSERT INTO ab_tests (tenant_id, experiment_id, service, status, version, doc) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        params![test.tenant_id, test.experiment_id, test.service, test.status.as_str(), test.version, encode(test)?],
    )?;
    Ok(conn.last_insert_rowid())
}

/// Replaces a test's document, only if its stored version is `expected_version`
/// (compare-and-swap: two writers never both win). Returns false when the version moved.
pub fn replace(conn: &Connection, test: &AbTest, expected_version: i64) -> ApiResult<bool> {
    let changed = conn.execute(
        "UPDATE ab_tests SET status = ?1, version = ?2, doc = ?3 WHERE tenant_id = ?4 AND experiment_id = ?5 AND version = ?6",
        params![test.status.as_str(), test.version, encode(test)?, test.tenant_id, test.experiment_id, expected_version],
    )?;
    Ok(changed == 1)
}

/// A test of this tenant with its row number; `None` for unknown or foreign ids.
pub fn get(
    conn: &Connection,
    tenant: &str,
    experiment_id: &str,
) -> ApiResult<Option<(i64, AbTest)>> {
    let mut stmt = conn.prepare_cached(
        "SELECT seq, doc FROM ab_tests WHERE tenant_id = ?1 AND experiment_id = ?2",
    )?;
    Ok(stmt
        .query_row(params![tenant, experiment_id], |row| {
            Ok((row.get(0)?, decode(&row.get::<_, String>(1)?)?))
        })
        .optional()?)
}

/// Like [`get`], 404 when absent.
pub fn require(conn: &Connection, tenant: &str, experiment_id: &str) -> ApiResult<(i64, AbTest)> {
    get(conn, tenant, experiment_id)?.ok_or_else(|| ApiError::not_found("ab-test", experiment_id))
}

/// A page of this tenant's tests (oldest first) and the total.
pub fn list(
    conn: &Connection,
    tenant: &str,
    limit: i64,
    offset: i64,
) -> ApiResult<(Vec<AbTest>, i64)> {
    let total: i64 = conn.query_row(
        "SELECT COUNT(*) FROM ab_tests WHERE tenant_id = ?1",
        params![tenant],
        |r| r.get(0),
    )?;
    let mut stmt = conn.prepare_cached(
        "SELECT doc FROM ab_tests WHERE tenant_id = ?1 ORDER BY seq LIMIT ?2 OFFSET ?3",
    )?;
    let rows = stmt.query_map(params![tenant, limit, offset], |row| {
        decode(&row.get::<_, String>(0)?)
    })?;
    Ok((rows.collect::<Result<_, _>>()?, total))
}

/// Every test of a tenant's service (for recomputing its filter config), oldest first.
pub fn by_service(conn: &Connection, tenant: &str, service: &str) -> ApiResult<Vec<AbTest>> {
    let mut stmt = conn.prepare_cached(
        "SELECT doc FROM ab_tests WHERE tenant_id = ?1 AND service = ?2 ORDER BY seq",
    )?;
    let rows = stmt.query_map(params![tenant, service], |row| {
        decode(&row.get::<_, String>(0)?)
    })?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// Every active test of every tenant, with row numbers (for the monitor).
pub fn all_active(conn: &Connection) -> ApiResult<Vec<(i64, AbTest)>> {
    let mut stmt =
        conn.prepare_cached("SELECT seq, doc FROM ab_tests WHERE status = 'active' ORDER BY seq")?;
    let rows = stmt.query_map([], |row| {
        Ok((row.get(0)?, decode(&row.get::<_, String>(1)?)?))
    })?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// Records an alert (auto-rollback) for the operator.
pub fn insert_alert(
    conn: &Connection,
    tenant: &str,
    experiment_id: &str,
    at_ms: i64,
    message: &str,
) -> ApiResult<()> {
    conn.execute(
        "INSERT INTO alerts (tenant_id, experiment_id, at_ms, message) VALUES (?1, ?2, ?3, ?4)",
        params![tenant, experiment_id, at_ms, message],
    )?;
    Ok(())
}
