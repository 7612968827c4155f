//! Schema migrations, applied in order and recorded in `PRAGMA user_version`.

use rusqlite::Connection;

/// Each entry moves the schema from version `index` to `index + 1`. Never edit a released one:
/// append a new one.
const MIGRATIONS: &[&str] = &[
    // 1: registry, experiments, deployments, events with running sufficient statistics.
    "CREATE TABLE models (
        seq INTEGER PRIMARY KEY AUTOINCREMENT,
        tenant_id TEXT NOT NULL,
        model_id TEXT NOT NULL,
        version TEXT NOT NULL,
        cluster TEXT NOT NULL,
        image TEXT,
        metadata TEXT NOT NULL,
        created_ms INTEGER NOT NULL,
        UNIQUE (tenant_id, model_id, version)
    );
    CREATE TABLE ab_tests (
        seq INTEGER PRIMARY KEY AUTOINCREMENT,
        tenant_id TEXT NOT NULL,
        experiment_id TEXT NOT NULL,
        service TEXT NOT NULL,
        status TEXT NOT NULL,
        version INTEGER NOT NULL,
        doc TEXT NOT NULL,
        UNIQUE (tenant_id, experiment_id)
    );
    CREATE INDEX ab_tests_by_service ON ab_tests (tenant_id, service);
    CREATE INDEX ab_tests_by_status ON ab_tests (status);
    CREATE TABLE deployments (
        seq INTEGER PRIMARY KEY AUTOINCREMENT,
        tenant_id TEXT NOT NULL,
        deployment_id TEXT NOT NULL,
        kind TEXT NOT NULL,
        service TEXT NOT NULL,
        active INTEGER NOT NULL,
        doc TEXT NOT NULL,
        UNIQUE (tenant_id, deployment_id)
    );
    CREATE INDEX deployments_by_service ON deployments (tenant_id, service);
    CREATE TABLE events (
        id INTEGER PRIMARY KEY,
        experiment_seq INTEGER NOT NULL,
        variant TEXT NOT NULL,
        metric TEXT NOT NULL,
        value REAL NOT NULL,
        unit TEXT NOT NULL,
        ts_ms INTEGER NOT NULL
    );
    CREATE INDEX events_by_metric_time ON events (experiment_seq, metric, ts_ms);
    CREATE TABLE event_stats (
        experiment_seq INTEGER NOT NULL,
        variant TEXT NOT NULL,
        metric TEXT NOT NULL,
        count INTEGER NOT NULL,
        sum REAL NOT NULL,
        sum_squares REAL NOT NULL,
        mean REAL NOT NULL,
        m2 REAL NOT NULL,
        non_binary INTEGER NOT NULL,
        PRIMARY KEY (experiment_seq, variant, metric)
    ) WITHOUT ROWID;
    CREATE TABLE alerts (
        id INTEGER PRIMARY KEY,
        tenant_id TEXT NOT NULL,
        experiment_id TEXT NOT NULL,
        at_ms INTEGER NOT NULL,
        message TEXT NOT NULL
    );
    CREATE TABLE pushes (
        tenant_id TEXT NOT NULL,
        service TEXT NOT NULL,
        version INTEGER NOT NULL,
        config TEXT NOT NULL,
        PRIMARY KEY (tenant_id, service)
    );",
];

/// Brings the schema up to date inside one transaction.
pub fn apply(conn: &mut Connection) -> rusqlite::Result<()> {
    let current: i64 = conn.query_row("PRAGMA user_version", [], |row| row.get(0))?;
    let tx = conn.transaction()?;
    for (index, sql) in MIGRATIONS
        .iter()
        .enumerate()
        .skip(usize::try_from(current).unwrap_or(0))
    {
        tx.execute_batch(sql)?;
        tx.execute_batch(&format!("PRAGMA user_version = {}", index + 1))?;
    }
    tx.commit()
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn migrations_are_idempotent() {
        let mut conn = Connection::open_in_memory().unwrap();
        apply(&mut conn).unwrap();
        apply(&mut conn).unwrap();
        let version: i64 = conn
            .query_row("PRAGMA user_version", [], |r| r.get(0))
            .unwrap();
        assert_eq!(version as usize, MIGRATIONS.len());
    }
}
