//! The `events` table (raw values, for rank tests and windows) and `event_stats`, the running
//! sufficient statistics per (experiment, variant, metric) updated in the same transaction.

use crate::error::ApiResult;
use crate::types::events::ValidEvent;
use rollgate_stats::summary::MeanSummary;
use rusqlite::{params, Connection, OptionalExtension};
use std::collections::BTreeMap;

/// Running aggregate of one (experiment, variant, metric).
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct RunningStats {
    /// Count, mean and squared deviations (merged with Chan's formula: stable).
    pub summary: MeanSummary,
    /// Σx.
    pub sum: f64,
    /// Σx².
    pub sum_squares: f64,
    /// Values that were not 0 or 1 (0 means the metric is binary so far).
    pub non_binary: u64,
}

impl RunningStats {
    /// Aggregate of a set of values.
    pub fn of(values: impl IntoIterator<Item = f64>) -> Self {
        let mut stats = RunningStats::default();
        for x in values {
            stats.summary.push(x);
            stats.sum += x;
            stats.sum_squares += x * x;
            stats.non_binary += u64::from(x != 0.0 && x != 1.0);
        }
        stats
    }

    /// Adds another aggregate.
    pub fn merge(&mut self, other: &RunningStats) {
        self.summary.merge(&other.summary);
        self.sum += other.sum;
        self.sum_squares += other.sum_squares;
        self.non_binary += other.non_binary;
    }

    /// Whether every value was 0 or 1.
    pub fn is_binary(&self) -> bool {
        self.non_binary == 0
    }
}

/// Stores a batch and folds it into the running statistics (call inside a transaction).
pub fn insert_batch(
    conn: &Connection,
    experiment_seq: i64,
    events: &[ValidEvent],
) -> ApiResult<()> {
    let mut insert = conn.prepare_cached(
        "INSERT INTO events (experiment_seq, variant, metric, value, unit, ts_ms) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
    )?;
    let mut batch: BTreeMap<(&str, &str), Vec<f64>> = BTreeMap::new();
    for event in events {
        insert.execute(params![
            experiment_seq,
            event.variant,
            event.metric,
            event.value,
            event.unit,
            event.ts_ms
        ])?;
        batch
            .entry((event.variant, event.metric.as_str()))
            .or_default()
            .push(event.value);
    }
    for ((variant, metric), values) in batch {
        let mut stats = load(conn, experiment_seq, variant, metric)?.unwrap_or_default();
        stats.merge(&RunningStats::of(values));
        save(conn, experiment_seq, variant, metric, &stats)?;
    }
    Ok(())
}

fn load(
    conn: &Connection,
    seq: i64,
    variant: &str,
    metric: &str,
) -> ApiResult<Option<RunningStats>> {
    let mut stmt = conn.prepare_cached(
        "SELECT count, sum, sum_squares, mean, m2, non_binary FROM event_stats
         WHERE experiment_seq = ?1 AND variant = ?2 AND metric = ?3",
    )?;
    Ok(stmt
        .query_row(params![seq, variant, metric], row_to_stats)
        .optional()?)
}

fn row_to_stats(row: &rusqlite::Row<'_>) -> rusqlite::Result<RunningStats> {
    Ok(RunningStats {
        summary: MeanSummary {
            count: row.get::<_, i64>(0)?.max(0) as u64,
            mean: row.get(3)?,
            m2: row.get(4)?,
        },
        sum: row.get(1)?,
        sum_squares: row.get(2)?,
        non_binary: row.get::<_, i64>(5)?.max(0) as u64,
    })
}

fn save(
    conn: &Connection,
    seq: i64,
    variant: &str,
    metric: &str,
    stats: &RunningStats,
) -> ApiResult<()> {
    let mut stmt = conn.prepare_cached(
        "INSERT INTO event_stats (experiment_seq, variant, metric, count, sum, sum_squares, mean, m2, non_binary)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)
         ON CONFLICT (experiment_seq, variant, metric) DO UPDATE SET
           count = excluded.count, sum = excluded.sum, sum_squares = excluded.sum_squares,
           mean = excluded.mean, m2 = excluded.m2, non_binary = excluded.non_binary",
    )?;
    stmt.execute(params![
        seq,
        variant,
        metric,
        stats.summary.count as i64,
        stats.sum,
        stats.sum_squares,
        stats.summary.mean,
        stats.summary.m2,
        stats.non_binary as i64
    ])?;
    Ok(())
}

/// Running statistics of one variant and metric (empty when no event yet).
pub fn running(
    conn: &Connection,
    experiment_seq: i64,
    variant: &str,
    metric: &str,
) -> ApiResult<RunningStats> {
    Ok(load(conn, experiment_seq, variant, metric)?.unwrap_or_default())
}

/// Metrics with at least one event, and their counts per variant.
pub fn metric_counts(
    conn: &Connection,
    experiment_seq: i64,
) -> ApiResult<Vec<(String, String, u64)>> {
    let mut stmt =
        conn.prepare_cached("SELECT metric, variant, count FROM event_stats WHERE experiment_seq = ?1 ORDER BY metric, variant")?;
    let rows = stmt.query_map(params![experiment_seq], |r| {
        Ok((r.get(0)?, r.get(1)?, r.get::<_, i64>(2)?.max(0) as u64))
    })?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// Raw values of one variant and metric (rank tests).
pub fn values(
    conn: &Connection,
    experiment_seq: i64,
    variant: &str,
    metric: &str,
) -> ApiResult<Vec<f64>> {
    let mut stmt = conn.prepare_cached(
        "SELECT value FROM events WHERE experiment_seq = ?1 AND metric = ?2 AND variant = ?3",
    )?;
    let rows = stmt.query_map(params![experiment_seq, metric, variant], |r| r.get(0))?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// (count, Σvalue) of a metric per variant for events at or after `since_ms`.
pub fn window(
    conn: &Connection,
    experiment_seq: i64,
    metric: &str,
    since_ms: i64,
) -> ApiResult<BTreeMap<String, (u64, f64)>> {
    let mut stmt = conn.prepare_cached(
        "SELECT variant, COUNT(*), TOTAL(value) FROM events
         WHERE experiment_seq = ?1 AND metric = ?2 AND ts_ms >= ?3 GROUP BY variant",
    )?;
    let rows = stmt.query_map(params![experiment_seq, metric, since_ms], |r| {
        Ok((
            r.get::<_, String>(0)?,
            (r.get::<_, i64>(1)?.max(0) as u64, r.get::<_, f64>(2)?),
        ))
    })?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// Number of stored events of an experiment.
pub fn count(conn: &Connection, experiment_seq: i64) -> ApiResult<u64> {
    let n: i64 = conn.query_row(
        "SELECT COUNT(*) FROM events WHERE experiment_seq = ?1",
        params![experiment_seq],
        |r| r.get(0),
    )?;
    Ok(n.max(0) as u64)
}

/// Per-unit sums of two metrics for one variant, ordered by unit: `(Σ first, Σ second, events
/// of first)` for every unit with an event of either metric (CUPED covariates, ratio metrics).
pub fn per_unit_pairs(
    conn: &Connection,
    experiment_seq: i64,
    variant: &str,
    first: &str,
    second: &str,
) -> ApiResult<Vec<(f64, f64, u64)>> {
    let mut stmt = conn.prepare_cached(
        "SELECT TOTAL(CASE WHEN metric = ?3 THEN value END),
                TOTAL(CASE WHEN metric = ?4 THEN value END),
                COUNT(CASE WHEN metric = ?3 THEN 1 END)
         FROM events WHERE experiment_seq = ?1 AND variant = ?2 AND metric IN (?3, ?4)
         GROUP BY unit ORDER BY unit",
    )?;
    let rows = stmt.query_map(params![experiment_seq, variant, first, second], |r| {
        Ok((r.get(0)?, r.get(1)?, r.get::<_, i64>(2)?.max(0) as u64))
    })?;
    Ok(rows.collect::<Result<_, _>>()?)
}
