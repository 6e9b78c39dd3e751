//! Baseline for the ingest benchmark (bench/ingest.sh): raw inserts of message-shaped rows through the
//! same driver and durability settings the server uses (SQLite: WAL, synchronous=FULL), one row per
//! transaction and 64 rows per transaction; prints rows/s for each.
//!
//! `cargo run --release --example raw_insert -- sqlite:///tmp/raw.db` or `-- postgres://…/db`

use std::str::FromStr;
use std::time::Instant;

use sqlx::postgres::PgPoolOptions;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};

const CREATE: &str = "CREATE TABLE raw_messages (id BIGINT PRIMARY KEY, conversation_id BIGINT NOT NULL, \
    provider_message_id TEXT NOT NULL UNIQUE, content TEXT NOT NULL, created_at BIGINT NOT NULL)";
const INSERT: &str = "INSERT INTO raw_messages (id, conversation_id, provider_message_id, content, created_at) VALUES ($1, $2, $3, $4, $5)";

macro_rules! measure {
    ($pool:expr, $rows:expr, $per_tx:expr, $start:expr) => {{
        let started = Instant::now();
        let mut id: i64 = $start;
        for _ in 0..($rows / $per_tx) {
            let mut tx = $pool.begin().await.expect("begin");
            for _ in 0..$per_tx {
                id += 1;
                sqlx::query(INSERT)
                    .bind(id)
                    .bind(id % 500)
                    .bind(format!("wamid.raw.{id}"))
                    .bind(format!(r#"{{"type":"text","text":"message {id}"}}"#))
                    .bind(1_700_000_000_000_i64 + id)
                    .execute(&mut *tx)
                    .await
                    .expect("insert");
            }
            tx.commit().await.expect("commit");
        }
        ($rows as f64 / started.elapsed().as_secs_f64(), id)
    }};
}

#[tokio::main]
async fn main() {
    let url = std::env::args().nth(1).unwrap_or_else(|| {
        eprintln!("usage: raw_insert sqlite:///PATH | postgres://…");
        std::process::exit(2);
    });
    let (single, batched) = if url.starts_with("sqlite:") {
        let options = SqliteConnectOptions::from_str(&url)
            .expect("url")
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Full);
        let pool = SqlitePoolOptions::new().max_connections(1).connect_with(options).await.expect("open");
        sqlx::query("DROP TABLE IF EXISTS raw_messages").execute(&pool).await.expect("drop");
        sqlx::query(CREATE).execute(&pool).await.expect("create");
        let (single, last) = measure!(pool, 3_000, 1, 0);
        let (batched, _) = measure!(pool, 64 * 1_000, 64, last);
        (single, batched)
    } else {
        let pool = PgPoolOptions::new().max_connections(1).connect(&url).await.expect("connect");
        sqlx::query("DROP TABLE IF EXISTS raw_messages").execute(&pool).await.expect("drop");
        sqlx::query(CREATE).execute(&pool).await.expect("create");
        let (single, last) = measure!(pool, 3_000, 1, 0);
        let (batched, _) = measure!(pool, 64 * 1_000, 64, last);
        sqlx::query("DROP TABLE raw_messages").execute(&pool).await.expect("drop");
        (single, batched)
    };
    println!("single {single:.0}");
    println!("batched64 {batched:.0}");
}
