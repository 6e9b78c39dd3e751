//! The PostgreSQL backend, for several nodes sharing one database.
//!
//! The portable SQL shared with SQLite lives in `portable/` and is compiled once per backend with
//! `Db` set to `sqlx::Postgres`; this file holds what is PostgreSQL-specific.

use std::time::Duration;

use async_trait::async_trait;
use sqlx::postgres::PgPoolOptions;
use sqlx::{Pool, Transaction};

use super::{ColumnKind, Store, StoreError, StoreResult};

// The portable SQL is compiled once per backend on purpose (see store/portable/mod.rs).
#[allow(clippy::duplicate_mod)]
#[path = "portable/mod.rs"]
mod portable;

type Db = sqlx::Postgres;
type ThisStore = PgStore;

/// Several workers may claim at once: each skips rows another has locked.
const CLAIM_JOB_SUFFIX: &str = " FOR UPDATE SKIP LOCKED";

/// One key of a JSON text column as text.
fn push_json_text(qb: &mut sqlx::QueryBuilder<'_, Db>, column: &str, key: &str) {
    qb.push("(").push(column).push("::jsonb ->> ").push_bind(key.to_owned()).push(")");
}

/// `IN` a list bound as one parameter, `$param`, given by [`list_of`]. The statement's text then does not
/// change with the list's length, so it is prepared once and found in sqlx's statement cache after that.
fn in_list(param: u32) -> String {
    format!("= ANY(${param})")
}

/// The bound value of an [`in_list`]: an array.
fn list_of<T: Clone>(values: &[T]) -> Vec<T> {
    values.to_vec()
}

/// Rows bound as one parameter, `$param`, a JSON array of arrays: `SELECT` them with
/// `c0`, `c1`, … naming the columns in order (`columns` gives each one's kind). Like [`in_list`], the
/// text does not change with the number of rows, unlike a multi-row `VALUES`.
fn json_rows(param: u32, columns: &[ColumnKind]) -> String {
    let list: Vec<String> = columns
        .iter()
        .enumerate()
        .map(|(i, kind)| match kind {
            ColumnKind::Int => format!("(value ->> {i})::BIGINT AS c{i}"),
            ColumnKind::Text => format!("value ->> {i} AS c{i}"),
        })
        .collect();
    format!("SELECT {} FROM json_array_elements(${param}::json)", list.join(", "))
}

/// The PostgreSQL implementation of [`Store`].
#[derive(Clone)]
pub struct PgStore {
    pool: Pool<Db>,
}

impl PgStore {
    /// Connects to the server; an unreachable server or a missing database is an error.
    pub async fn connect(url: &str, max_connections: u32) -> StoreResult<Self> {
        let pool = PgPoolOptions::new()
            .max_connections(max_connections.max(1))
            .acquire_timeout(Duration::from_secs(10))
            .connect(url)
            .await
            .map_err(|e| {
                StoreError::Database(format!("cannot connect to PostgreSQL at {}: {e}", crate::config::redact_url(url)))
            })?;
        Ok(Self { pool })
    }

    async fn begin(&self) -> StoreResult<Transaction<'_, Db>> {
        Ok(self.pool.begin().await?)
    }
}

#[async_trait]
impl Store for PgStore {
    fn backend(&self) -> &'static str {
        "postgres"
    }

    async fn migrate(&self) -> StoreResult<()> {
        // sqlx takes an advisory lock, so nodes starting together apply each migration once.
        sqlx::migrate!("../migrations/postgres").run(&self.pool).await?;
        Ok(())
    }

    async fn ping(&self) -> StoreResult<()> {
        sqlx::query("SELECT 1").execute(&self.pool).await?;
        Ok(())
    }

    async fn close(&self) {
        self.pool.close().await;
    }
}
