//! SQL that both backends accept, compiled once per backend: `super::Db` is `sqlx::Sqlite` or
//! `sqlx::Postgres`, and `super::ThisStore` the backend's store type.
//!
//! Portable means: `$n` placeholders, `RETURNING`, `ON CONFLICT`, times as BIGINT epoch milliseconds,
//! JSON as TEXT, and `QueryBuilder` (which writes each backend's own placeholders) for dynamic filters.
//! Where a statement's size would follow its input's (batches), the backend's `in_list` and `json_rows`
//! bind a whole list or row set as one parameter instead, so the statement is prepared once.

mod accounts;
mod contacts;
mod conversations;
mod exports;
mod inbound;
mod inboxes;
mod ingest;
mod ingest_outgoing;
mod jobs;
mod kv;
mod media;
mod notifications;
mod rows;
mod search;
mod settings;
mod workflows;

use async_trait::async_trait;
use chrono::Utc;
use sqlx::{Database, QueryBuilder};

use super::{Db, ThisStore};
use crate::model::*;
use crate::store::{EventStore, StoreError, StoreResult};

type Conn = <Db as Database>::Connection;

fn now_ms() -> i64 {
    Utc::now().timestamp_millis()
}

/// The page size to fetch: one more than asked, to know whether another page follows.
fn fetch_limit(page: &PageRequest) -> i64 {
    i64::from(clamp_limit(page)) + 1
}

fn clamp_limit(page: &PageRequest) -> u32 {
    match page.limit {
        0 => Cursor::DEFAULT_LIMIT,
        n => n.min(Cursor::MAX_LIMIT),
    }
}

fn to_json(v: &impl serde::Serialize) -> StoreResult<String> {
    serde_json::to_string(v).map_err(|e| StoreError::Database(format!("cannot encode JSON: {e}")))
}

fn from_json<T: serde::de::DeserializeOwned + Default>(s: &str) -> T {
    serde_json::from_str(s).unwrap_or_default()
}

/// Appends `(v1, v2, …)` with every value bound: the list of a `column IN` filter. `values` must not be empty.
fn push_list<'a, T>(qb: &mut QueryBuilder<'a, Db>, values: impl IntoIterator<Item = T>)
where
    T: 'a + sqlx::Encode<'a, Db> + sqlx::Type<Db> + Send,
{
    qb.push("(");
    let mut list = qb.separated(", ");
    for v in values {
        list.push_bind(v);
    }
    qb.push(")");
}

/// Maps "no row" to a not-found error naming the item.
fn found<T>(row: Option<T>, what: &'static str) -> StoreResult<T> {
    row.ok_or(StoreError::NotFound(what))
}

/// Maps a unique-constraint violation to a conflict with a specific code.
fn on_unique(e: sqlx::Error, code: &'static str, message: &str) -> StoreError {
    match &e {
        sqlx::Error::Database(db) if db.is_unique_violation() => StoreError::conflict(code, message),
        _ => e.into(),
    }
}

/// Appends one event to the workspace's log, in the caller's transaction.
///
/// Bumping `workspaces.event_seq` row-locks the workspace until commit, so sequence numbers are gap-free
/// and become visible in order: a reader that saw `seq = n` will never later see a new `seq < n`.
async fn append_event(conn: &mut Conn, ws: Id, event: NewEvent) -> StoreResult<i64> {
    let seq: Option<i64> =
        sqlx::query_scalar("UPDATE workspaces SET event_seq = event_seq + 1 WHERE id = $1 RETURNING event_seq")
            .bind(ws)
            .fetch_optional(&mut *conn)
            .await?;
    let seq = found(seq, "workspace")?;
    sqlx::query(
        "INSERT INTO events (workspace_id, seq, kind, subject_id, actor_kind, actor_id, data, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
    )
    .bind(ws)
    .bind(seq)
    .bind(event.kind)
    .bind(event.subject_id)
    .bind(event.actor.kind.as_str())
    .bind(event.actor.id)
    .bind(to_json(&event.data)?)
    .bind(now_ms())
    .execute(&mut *conn)
    .await?;
    Ok(seq)
}

/// Events of a batch, appended together before its commit: one sequence bump and one insert per
/// workspace instead of two statements per event (each statement is a round trip to SQLite's connection
/// thread). Same guarantees as [`append_event`]: same transaction, gap-free sequence numbers, in push order.
#[derive(Default)]
struct EventBuffer(Vec<(Id, NewEvent)>);

impl EventBuffer {
    fn push(&mut self, ws: Id, event: NewEvent) {
        self.0.push((ws, event));
    }

    async fn flush(self, conn: &mut Conn) -> StoreResult<()> {
        let mut by_workspace: Vec<(Id, Vec<NewEvent>)> = Vec::new();
        for (ws, event) in self.0 {
            match by_workspace.iter_mut().find(|(w, _)| *w == ws) {
                Some((_, events)) => events.push(event),
                None => by_workspace.push((ws, vec![event])),
            }
        }
        use crate::store::ColumnKind::{Int, Text};
        let sql = format!(
            "INSERT INTO events (workspace_id, seq, kind, subject_id, actor_kind, actor_id, data, created_at) \
             SELECT $1, c0, c1, c2, c3, c4, c5, $3 FROM ({}) AS r",
            super::json_rows(2, &[Int, Text, Int, Text, Int, Text])
        );
        let now = now_ms();
        for (ws, events) in by_workspace {
            let count = events.len() as i64;
            let last: Option<i64> = sqlx::query_scalar(
                "UPDATE workspaces SET event_seq = event_seq + $1 WHERE id = $2 RETURNING event_seq",
            )
            .bind(count)
            .bind(ws)
            .fetch_optional(&mut *conn)
            .await?;
            let first = found(last, "workspace")? - count + 1;
            let mut rows = Vec::with_capacity(events.len());
            for (i, event) in events.into_iter().enumerate() {
                let data = to_json(&event.data)?;
                let (kind, actor) = (event.kind, event.actor);
                rows.push(serde_json::json!([
                    first + i as i64,
                    kind,
                    event.subject_id,
                    actor.kind.as_str(),
                    actor.id,
                    data
                ]));
            }
            // One parameter for all the rows: the statement's text, and so its prepared form, is always the same.
            sqlx::query(&sql).bind(ws).bind(to_json(&rows)?).bind(now).execute(&mut *conn).await?;
        }
        Ok(())
    }
}

/// Shorthand for an event about one subject.
fn event(kind: &'static str, subject_id: Id, actor: Actor, data: serde_json::Value) -> NewEvent {
    NewEvent { kind, subject_id: Some(subject_id), actor, data }
}

/// Deletes one workspace-owned row by id and logs `kind`; `what` names it in a not-found error.
async fn delete_owned(
    store: &ThisStore,
    table: &'static str,
    what: &'static str,
    kind: &'static str,
    ws: Id,
    id: Id,
    actor: Actor,
) -> StoreResult<()> {
    let mut tx = store.begin().await?;
    let mut qb = QueryBuilder::<Db>::new(format!("DELETE FROM {table} WHERE workspace_id = "));
    qb.push_bind(ws).push(" AND id = ").push_bind(id);
    let done = qb.build().execute(&mut *tx).await?;
    if done.rows_affected() == 0 {
        return Err(StoreError::NotFound(what));
    }
    append_event(&mut tx, ws, event(kind, id, actor, serde_json::json!({ "id": id }))).await?;
    tx.commit().await?;
    Ok(())
}

impl ThisStore {
    /// One page of a workspace-owned table in id order: the common shape of the settings lists.
    async fn list_by_id<R, T>(
        &self,
        table: &'static str,
        columns: &'static str,
        ws: Id,
        page: &PageRequest,
        id_of: impl Fn(&T) -> Id,
    ) -> StoreResult<Page<T>>
    where
        R: for<'r> sqlx::FromRow<'r, <Db as Database>::Row> + Send + Unpin,
        T: From<R>,
    {
        let sql = format!("SELECT {columns} FROM {table} WHERE workspace_id = $1 AND id > $2 ORDER BY id LIMIT $3");
        let rows: Vec<R> = sqlx::query_as(&sql)
            .bind(ws)
            .bind(page.after.map_or(0, |c| c.id))
            .bind(fetch_limit(page))
            .fetch_all(&self.pool)
            .await?;
        let items = rows.into_iter().map(T::from).collect();
        Ok(Page::from_overfetch(items, clamp_limit(page), |t| Cursor { key: 0, id: id_of(t) }))
    }
}

#[async_trait]
impl EventStore for ThisStore {
    async fn list_events(&self, ws: Id, after: i64, limit: u32) -> StoreResult<Vec<Event>> {
        let rows: Vec<rows::EventRow> = sqlx::query_as(
            "SELECT id, workspace_id, seq, kind, subject_id, actor_kind, actor_id, data, created_at \
             FROM events WHERE workspace_id = $1 AND seq > $2 ORDER BY seq LIMIT $3",
        )
        .bind(ws)
        .bind(after)
        .bind(i64::from(limit.clamp(1, 1000)))
        .fetch_all(&self.pool)
        .await?;
        Ok(rows.into_iter().map(Into::into).collect())
    }

    async fn last_event_seq(&self, ws: Id) -> StoreResult<i64> {
        let seq: Option<i64> = sqlx::query_scalar("SELECT event_seq FROM workspaces WHERE id = $1")
            .bind(ws)
            .fetch_optional(&self.pool)
            .await?;
        found(seq, "workspace")
    }
}
