//! Workspace exports (managers and owners): request, follow the progress, download the file when done.

use std::sync::Arc;

use axum::body::Body;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use tokio::io::AsyncReadExt;
use utoipa_axum::routes;

use super::ApiRouter;
use super::extract::{Auth, Json, Path};
use crate::app::App;
use crate::error::{AppError, AppResult, ErrorBody};
use crate::model::*;
use crate::service::exports::{self, ExportRequest};

pub(super) fn router() -> ApiRouter {
    ApiRouter::new()
        .routes(routes!(list_exports, request_export))
        .routes(routes!(get_export))
        .routes(routes!(download_export))
}

/// The latest exports, newest first.
#[utoipa::path(get, path = "/api/v1/exports", tag = "exports",
    responses((status = 200, body = Vec<WorkspaceExport>), (status = "4XX", body = ErrorBody)))]
async fn list_exports(State(app): State<Arc<App>>, Auth(who): Auth) -> AppResult<Json<Vec<WorkspaceExport>>> {
    Ok(Json(exports::list(&app, &who).await?))
}

/// Exports the conversations opened in a date range, in the background; follow it with `GET …/{id}`.
#[utoipa::path(post, path = "/api/v1/exports", tag = "exports", request_body = ExportRequest,
    responses((status = 202, body = WorkspaceExport), (status = "4XX", body = ErrorBody)))]
async fn request_export(
    State(app): State<Arc<App>>,
    Auth(who): Auth,
    Json(req): Json<ExportRequest>,
) -> AppResult<(StatusCode, Json<WorkspaceExport>)> {
    Ok((StatusCode::ACCEPTED, Json(exports::request(&app, &who, req).await?)))
}

/// An export and its progress (`done` of `total` conversations).
#[utoipa::path(get, path = "/api/v1/exports/{id}", tag = "exports", params(("id" = i64, Path)),
    responses((status = 200, body = WorkspaceExport), (status = "4XX", body = ErrorBody)))]
async fn get_export(
    State(app): State<Arc<App>>,
    Auth(who): Auth,
    Path(id): Path<Id>,
) -> AppResult<Json<WorkspaceExport>> {
    Ok(Json(exports::get(&app, &who, id).await?))
}

/// The file of a finished export (409 `export_not_ready` before).
#[utoipa::path(get, path = "/api/v1/exports/{id}/download", tag = "exports", params(("id" = i64, Path)),
    responses((status = 200, description = "The file, as an attachment"), (status = "4XX", body = ErrorBody)))]
async fn download_export(State(app): State<Arc<App>>, Auth(who): Auth, Path(id): Path<Id>) -> AppResult<Response> {
    let (path, filename, content_type) = exports::file(&app, &who, id).await?;
    let file = tokio::fs::File::open(&path)
        .await
        .map_err(|e| AppError::Internal(format!("cannot read the export file {}: {e}", path.display())))?;
    // Streamed in chunks: an export can be far larger than a response held in memory should be.
    let chunks = futures_util::stream::try_unfold(file, |mut file| async move {
        let mut buf = vec![0u8; 64 * 1024];
        let n = file.read(&mut buf).await?;
        buf.truncate(n);
        Ok::<_, std::io::Error>((n > 0).then_some((buf, file)))
    });
    let disposition = format!("attachment; filename=\"{filename}\"");
    Ok((
        [(header::CONTENT_TYPE, content_type.to_owned()), (header::CONTENT_DISPOSITION, disposition)],
        Body::from_stream(chunks),
    )
        .into_response())
}
