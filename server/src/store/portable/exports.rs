//! Workspace exports: the request row with its job (one transaction), progress, and the outcome.

use async_trait::async_trait;
use serde_json::json;

use super::{ThisStore, append_event, event, found, now_ms, to_json};
use crate::model::*;
use crate::store::{ExportStore, StoreResult};

const EXPORT_COLUMNS: &str =
    "id, format, opened_from, opened_to, status, total, done, bytes, error, requested_by, created_at, finished_at";

type ExportRow = (Id, String, i64, i64, String, i64, i64, i64, Option<String>, Option<Id>, i64, Option<i64>);

fn from_row(r: ExportRow) -> WorkspaceExport {
    let (id, format, from, to, status, total, done, bytes, error, requested_by, created_at, finished_at) = r;
    WorkspaceExport {
        download_url: (status == "done").then(|| format!("/api/v1/exports/{id}/download")),
        id,
        format,
        opened_from: ts_from_ms(from),
        opened_to: ts_from_ms(to),
        status,
        total: total as u64,
        done: done as u64,
        bytes: bytes as u64,
        error,
        requested_by,
        created_at: ts_from_ms(created_at),
        finished_at: finished_at.map(ts_from_ms),
    }
}

#[async_trait]
impl ExportStore for ThisStore {
    async fn create_export(
        &self,
        ws: Id,
        user: Id,
        format: &str,
        from: Timestamp,
        to: Timestamp,
    ) -> StoreResult<WorkspaceExport> {
        let mut tx = self.begin().await?;
        let now = now_ms();
        let id: Id = sqlx::query_scalar(
            "INSERT INTO exports (workspace_id, requested_by, format, opened_from, opened_to, status, created_at) \
             VALUES ($1, $2, $3, $4, $5, 'queued', $6) RETURNING id",
        )
        .bind(ws)
        .bind(user)
        .bind(format)
        .bind(from.timestamp_millis())
        .bind(to.timestamp_millis())
        .bind(now)
        .fetch_one(&mut *tx)
        .await?;
        sqlx::query(
            "INSERT INTO jobs (workspace_id, kind, payload, status, run_at, attempts, max_attempts, created_at, \
             updated_at) VALUES ($1, $2, $3, 'queued', $4, 0, 3, $4, $4)",
        )
        .bind(ws)
        .bind(EXPORT_JOB)
        .bind(to_json(&json!({ "export_id": id }))?)
        .bind(now)
        .execute(&mut *tx)
        .await?;
        append_event(&mut tx, ws, event("export.requested", id, Actor::user(user), json!({ "format": format })))
            .await?;
        let sql = format!("SELECT {EXPORT_COLUMNS} FROM exports WHERE id = $1");
        let row: ExportRow = sqlx::query_as(&sql).bind(id).fetch_one(&mut *tx).await?;
        tx.commit().await?;
        Ok(from_row(row))
    }

    async fn get_export(&self, ws: Id, id: Id) -> StoreResult<WorkspaceExport> {
        let sql = format!("SELECT {EXPORT_COLUMNS} FROM exports WHERE workspace_id = $1 AND id = $2");
        let row: Option<ExportRow> = sqlx::query_as(&sql).bind(ws).bind(id).fetch_optional(&self.pool).await?;
        Ok(from_row(found(row, "export")?))
    }

    async fn list_exports(&self, ws: Id) -> StoreResult<Vec<WorkspaceExport>> {
        let sql = format!("SELECT {EXPORT_COLUMNS} FROM exports WHERE workspace_id = $1 ORDER BY id DESC LIMIT 100");
        let rows: Vec<ExportRow> = sqlx::query_as(&sql).bind(ws).fetch_all(&self.pool).await?;
        Ok(rows.into_iter().map(from_row).collect())
    }

    async fn export_progress(&self, ws: Id, id: Id, status: &str, total: u64, done: u64) -> StoreResult<()> {
        sqlx::query("UPDATE exports SET status = $1, total = $2, done = $3 WHERE workspace_id = $4 AND id = $5")
            .bind(status)
            .bind(total as i64)
            .bind(done as i64)
            .bind(ws)
            .bind(id)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    async fn finish_export(&self, ws: Id, id: Id, outcome: Result<u64, &str>) -> StoreResult<()> {
        let mut tx = self.begin().await?;
        let (status, bytes, error) = match outcome {
            Ok(bytes) => ("done", bytes as i64, None),
            Err(e) => ("failed", 0, Some(e)),
        };
        sqlx::query(
            "UPDATE exports SET status = $1, bytes = $2, error = $3, finished_at = $4 WHERE workspace_id = $5 AND id = $6",
        )
        .bind(status)
        .bind(bytes)
        .bind(error)
        .bind(now_ms())
        .bind(ws)
        .bind(id)
        .execute(&mut *tx)
        .await?;
        let kind = if error.is_none() { "export.finished" } else { "export.failed" };
        append_event(&mut tx, ws, event(kind, id, Actor::system(), json!({ "bytes": bytes, "error": error }))).await?;
        tx.commit().await?;
        Ok(())
    }
}
