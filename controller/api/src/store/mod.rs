//! Durable state in SQLite: one writer connection (WAL, transactions), migrations, and the
//! tables of each resource in its own module.

pub mod ab_tests;
pub mod deployments;
pub mod events;
mod migrations;
pub mod models;
pub mod pushes;

use crate::error::{ApiError, ApiResult};
use rusqlite::{Connection, OpenFlags};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use tokio::sync::{Mutex, MutexGuard};

/// The database: a single writer connection behind an async mutex (SQLite has one writer at a
/// time anyway), plus fresh read-only connections for long scans.
#[derive(Clone)]
pub struct Store {
    conn: Arc<Mutex<Connection>>,
    path: PathBuf,
}

impl Store {
    /// Opens (creating if needed) the database at `path`, in WAL mode, and applies migrations.
    pub fn open(path: &Path) -> ApiResult<Self> {
        if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
            std::fs::create_dir_all(parent).map_err(|e| {
                ApiError::Store(format!("cannot create directory {}: {e}", parent.display()))
            })?;
        }
        let mut conn = Connection::open(path).map_err(|e| {
            ApiError::Store(format!("cannot open database {}: {e}", path.display()))
        })?;
        // WAL + synchronous=NORMAL: a committed transaction survives a crash of the process
        // (SIGKILL); FULL would also survive power loss at the price of an fsync per commit.
        conn.execute_batch(
            "PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; PRAGMA foreign_keys = ON; PRAGMA busy_timeout = 5000;",
        )?;
        migrations::apply(&mut conn)?;
        Ok(Store {
            conn: Arc::new(Mutex::new(conn)),
            path: path.to_path_buf(),
        })
    }

    /// The writer connection. Hold it only for short synchronous work (and a sink push).
    pub async fn lock(&self) -> MutexGuard<'_, Connection> {
        self.conn.lock().await
    }

    /// A new read-only connection, for scans run on a blocking thread.
    pub fn reader(&self) -> ApiResult<Connection> {
        let conn = Connection::open_with_flags(
            &self.path,
            OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )?;
        conn.execute_batch("PRAGMA busy_timeout = 5000;")?;
        Ok(conn)
    }

    /// Path of the database file.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

/// A write transaction on the locked writer connection; rolled back when dropped without
/// [`WriteTx::commit`] (an error, or a client that went away during a sink push).
pub struct WriteTx<'a> {
    conn: MutexGuard<'a, Connection>,
    open: bool,
}

impl<'a> WriteTx<'a> {
    /// Locks the writer and begins an immediate transaction.
    pub async fn begin(store: &'a Store) -> ApiResult<WriteTx<'a>> {
        let conn = store.lock().await;
        conn.execute_batch("BEGIN IMMEDIATE")?;
        Ok(WriteTx { conn, open: true })
    }

    /// The connection, inside the transaction.
    pub fn conn(&self) -> &Connection {
        &self.conn
    }

    /// Commits.
    pub fn commit(mut self) -> ApiResult<()> {
        self.conn.execute_batch("COMMIT")?;
        self.open = false;
        Ok(())
    }
}

impl Drop for WriteTx<'_> {
    fn drop(&mut self) {
        if self.open {
            if let Err(err) = self.conn.execute_batch("ROLLBACK") {
                tracing::error!(error = %err, "rollback failed");
            }
        }
    }
}
