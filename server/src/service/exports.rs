//! Workspace exports: managers ask for the conversations opened in a date range; the `workspace.export` job
//! writes them (JSON lines: one conversation with its messages, comments, assignments and closing note per
//! line; or CSV: one row per timeline entry) into the data directory, recording its progress, and the file
//! is downloaded when done.

use std::path::PathBuf;

use async_trait::async_trait;
use chrono::{DateTime, Duration, Utc};
use serde::Deserialize;
use tokio::io::AsyncWriteExt;
use utoipa::ToSchema;

use super::require;
use crate::app::App;
use crate::error::{AppError, AppResult};
use crate::jobs::{JobError, JobHandler};
use crate::model::*;

/// The longest range one export covers.
const MAX_DAYS: i64 = 366;

#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ExportRequest {
    /// `json` (default) or `csv`.
    #[serde(default)]
    #[schema(value_type = Option<String>, pattern = "^(json|csv)$")]
    pub format: Option<String>,
    /// Conversations opened at or after this time…
    pub from: DateTime<Utc>,
    /// …and before this one (at most 366 days later).
    pub to: DateTime<Utc>,
}

pub async fn request(app: &App, who: &Principal, req: ExportRequest) -> AppResult<WorkspaceExport> {
    require(who, Role::Manager)?;
    let format = req.format.as_deref().unwrap_or("json");
    if !["json", "csv"].contains(&format) {
        return Err(AppError::validation("format", "must be json or csv"));
    }
    if req.to <= req.from {
        return Err(AppError::validation("to", "must be after from"));
    }
    if req.to - req.from > Duration::days(MAX_DAYS) {
        return Err(AppError::validation("to", format!("at most {MAX_DAYS} days after from")));
    }
    Ok(app.store.create_export(who.workspace_id, who.user_id, format, req.from, req.to).await?)
}

pub async fn get(app: &App, who: &Principal, id: Id) -> AppResult<WorkspaceExport> {
    require(who, Role::Manager)?;
    Ok(app.store.get_export(who.workspace_id, id).await?)
}

pub async fn list(app: &App, who: &Principal) -> AppResult<Vec<WorkspaceExport>> {
    require(who, Role::Manager)?;
    Ok(app.store.list_exports(who.workspace_id).await?)
}

/// The finished file of an export: its path, download name and content type.
pub async fn file(app: &App, who: &Principal, id: Id) -> AppResult<(PathBuf, String, &'static str)> {
    let export = get(app, who, id).await?;
    if export.status != "done" {
        return Err(AppError::conflict("export_not_ready", format!("the export is {}", export.status)));
    }
    let (extension, content_type) = kind(&export.format);
    Ok((path(app, who.workspace_id, id, extension), format!("export-{id}.{extension}"), content_type))
}

fn kind(format: &str) -> (&'static str, &'static str) {
    if format == "csv" { ("csv", "text/csv; charset=utf-8") } else { ("jsonl", "application/x-ndjson") }
}

fn path(app: &App, ws: Id, id: Id, extension: &str) -> PathBuf {
    app.config.data_dir.join("exports").join(format!("export-{ws}-{id}.{extension}"))
}

/// The handler of `workspace.export` jobs.
pub struct WriteExport;

#[async_trait]
impl JobHandler for WriteExport {
    async fn run(&self, app: &App, job: &Job) -> Result<(), JobError> {
        let ws = job.workspace_id.ok_or_else(|| JobError::Permanent("an export job without a workspace".into()))?;
        let id = job.payload["export_id"]
            .as_i64()
            .ok_or_else(|| JobError::Permanent("an export job without export_id".into()))?;
        match write(app, ws, id).await {
            Ok(bytes) => {
                app.store.finish_export(ws, id, Ok(bytes)).await.map_err(|e| JobError::Transient(e.to_string()))?;
                app.changed();
                Ok(())
            }
            Err(e) if job.attempts < job.max_attempts => Err(JobError::Transient(e)),
            Err(e) => {
                let _ = app.store.finish_export(ws, id, Err(&e)).await;
                app.changed();
                Err(JobError::Permanent(e))
            }
        }
    }
}

/// Writes the whole file again (a retried job starts over); returns its size.
async fn write(app: &App, ws: Id, id: Id) -> Result<u64, String> {
    let export = app.store.get_export(ws, id).await.map_err(|e| e.to_string())?;
    let filter = ConversationFilter {
        opened: Some((export.opened_from, export.opened_to)),
        sort: Sort::Oldest,
        ..Default::default()
    };
    let total = app.store.count_conversations(ws, &filter).await.map_err(|e| e.to_string())?.open;
    app.store.export_progress(ws, id, "running", total, 0).await.map_err(|e| e.to_string())?;
    let (extension, _) = kind(&export.format);
    let target = path(app, ws, id, extension);
    let dir = target.parent().map(PathBuf::from).unwrap_or_default();
    tokio::fs::create_dir_all(&dir).await.map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    let partial = target.with_extension("partial");
    let mut out = tokio::fs::File::create(&partial).await.map_err(|e| format!("cannot write the export: {e}"))?;
    if export.format == "csv" {
        out.write_all(super::export::CSV_HEADER.as_bytes()).await.map_err(|e| e.to_string())?;
    }
    let mut page = PageRequest { after: None, limit: Cursor::MAX_LIMIT };
    let mut done = 0;
    loop {
        let got = app.store.list_conversations(ws, &filter, &page).await.map_err(|e| e.to_string())?;
        for conversation in &got.items {
            let chunk = super::export::for_workspace(app, ws, conversation.id, &export.format)
                .await
                .map_err(|e| format!("conversation {}: {e}", conversation.id))?;
            out.write_all(&chunk).await.map_err(|e| format!("cannot write the export: {e}"))?;
            done += 1;
        }
        app.store.export_progress(ws, id, "running", total, done).await.map_err(|e| e.to_string())?;
        match got.next_cursor.as_deref().and_then(Cursor::decode) {
            Some(next) => page.after = Some(next),
            None => break,
        }
    }
    out.sync_all().await.map_err(|e| format!("cannot write the export: {e}"))?;
    drop(out);
    // Renamed only once complete, so a download never sees half a file.
    tokio::fs::rename(&partial, &target).await.map_err(|e| format!("cannot finish the export: {e}"))?;
    let bytes = tokio::fs::metadata(&target).await.map_err(|e| e.to_string())?.len();
    Ok(bytes)
}
