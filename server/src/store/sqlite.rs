//! The SQLite backend: one file in the data directory, WAL mode, durable (`synchronous=FULL`) commits.
//!
//! The portable SQL shared with PostgreSQL lives in `portable/` and is compiled once per backend with
//! `Db` set to `sqlx::Sqlite`; this file holds what is SQLite-specific.

use std::path::Path;
use std::str::FromStr;
use std::time::Duration;

use async_trait::async_trait;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::{Pool, Transaction};

use super::{ColumnKind, Store, StoreError, StoreResult};

// The portable SQL is compiled once per backend on purpose (see store/portable/mod.rs).
#[allow(clippy::duplicate_mod)]
#[path = "portable/mod.rs"]
mod portable;

type Db = sqlx::Sqlite;
type ThisStore = SqliteStore;

/// Jobs are claimed inside a write transaction; SQLite has one writer at a time, so no row locks are needed.
const CLAIM_JOB_SUFFIX: &str = "";

/// One key of a JSON text column as text (booleans as `true`/`false`, as PostgreSQL's `->>` gives them).
fn push_json_text(qb: &mut sqlx::QueryBuilder<'_, Db>, column: &str, key: &str) {
    let path = format!("$.\"{}\"", key.replace('"', ""));
    qb.push("(CASE json_type(").push(column).push(", ").push_bind(path.clone()).push(") ");
    qb.push("WHEN 'true' THEN 'true' WHEN 'false' THEN 'false' ELSE CAST(json_extract(").push(column);
    qb.push(", ").push_bind(path).push(") AS TEXT) END)");
}

/// `IN` a list bound as one parameter, `$param`, given by [`list_of`]. The statement's text then does not
/// change with the list's length, so it is prepared once and found in sqlx's statement cache after that.
fn in_list(param: u32) -> String {
    format!("IN (SELECT value FROM json_each(${param}))")
}

/// The bound value of an [`in_list`]: a JSON array, read by `json_each`.
fn list_of<T: serde::Serialize>(values: &[T]) -> String {
    serde_json::to_string(values).unwrap_or_else(|_| "[]".into())
}

/// Rows bound as one parameter, `$param`, a JSON array of arrays: `SELECT` them with
/// `c0`, `c1`, … naming the columns in order (`columns` gives each one's kind). Like [`in_list`], the
/// text does not change with the number of rows, unlike a multi-row `VALUES`.
fn json_rows(param: u32, columns: &[ColumnKind]) -> String {
    let list: Vec<String> = (0..columns.len()).map(|i| format!("value ->> {i} AS c{i}")).collect();
    format!("SELECT {} FROM json_each(${param})", list.join(", "))
}

/// The SQLite implementation of [`Store`].
#[derive(Clone)]
pub struct SqliteStore {
    pool: Pool<Db>,
    /// The one connection write transactions use. SQLite has one writer at a time anyway; with the writes
    /// on one connection they queue in the pool in order instead of polling the lock with the busy
    /// timeout, and that connection's page cache stays warm instead of every write transaction starting
    /// on a connection whose cache another connection's commit made stale.
    writer: Pool<Db>,
}

impl SqliteStore {
    /// Opens (creating if needed) the database file. Its directory must exist. Not `durable`: commits
    /// are not synced to disk one by one (`synchronous=NORMAL`), for bulk loads.
    pub async fn open(path: &Path, max_connections: u32, durable: bool) -> StoreResult<Self> {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty())
            && !dir.is_dir()
        {
            return Err(StoreError::Database(format!("directory {} does not exist", dir.display())));
        }
        let options = SqliteConnectOptions::from_str("sqlite://")
            .map_err(|e| StoreError::Database(e.to_string()))?
            .filename(path)
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(if durable { SqliteSynchronous::Full } else { SqliteSynchronous::Normal })
            .foreign_keys(true)
            .busy_timeout(Duration::from_secs(10));
        let cannot_open =
            |e: sqlx::Error| StoreError::Database(format!("cannot open SQLite database {}: {e}", path.display()));
        let pool = SqlitePoolOptions::new()
            .max_connections(max_connections.max(1))
            .connect_with(options.clone())
            .await
            .map_err(cannot_open)?;
        let writer = SqlitePoolOptions::new().max_connections(1).connect_with(options).await.map_err(cannot_open)?;
        Ok(Self { pool, writer })
    }

    /// Starts a write transaction. `BEGIN IMMEDIATE` takes the write lock up front, so two writers never
    /// deadlock upgrading read locks; the busy timeout queues them instead.
    async fn begin(&self) -> StoreResult<Transaction<'_, Db>> {
        Ok(self.writer.begin_with("BEGIN IMMEDIATE").await?)
    }
}

#[async_trait]
impl Store for SqliteStore {
    fn backend(&self) -> &'static str {
        "sqlite"
    }

    async fn migrate(&self) -> StoreResult<()> {
        sqlx::migrate!("../migrations/sqlite").run(&self.pool).await?;
        Ok(())
    }

    async fn ping(&self) -> StoreResult<()> {
        sqlx::query("SELECT 1").execute(&self.pool).await?;
        Ok(())
    }

    async fn close(&self) {
        self.pool.close().await;
        self.writer.close().await;
    }
}
