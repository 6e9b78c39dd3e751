//! Media files: upload (`POST /api/v1/media`, multipart), download for the workspace's users
//! (`GET /api/v1/media/{sha256}`), and the signed links providers fetch outgoing files from (`GET /media/{sha256}`).

use std::sync::Arc;

use axum::Router;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde::Deserialize;
use utoipa::ToSchema;
use utoipa_axum::routes;

use super::ApiRouter;
use super::extract::{Auth, Json, Multipart, Path, Query};
use crate::app::App;
use crate::error::{AppError, AppResult, ErrorBody};
use crate::model::MediaFile;
use crate::service::media;

/// Uploads may exceed the API's usual body limit; `media.max_bytes` is enforced while reading.
const UPLOAD_LIMIT: usize = 1 << 30;

pub(super) fn router() -> ApiRouter {
    ApiRouter::new().routes(routes!(upload_media)).layer(DefaultBodyLimit::max(UPLOAD_LIMIT)).routes(routes!(get_media))
}

pub(super) fn public_router() -> Router<Arc<App>> {
    Router::new().route("/media/{sha256}", get(public_media))
}

fn file_response(content_type: &str, filename: Option<&str>, bytes: Vec<u8>) -> Response {
    let disposition = match filename {
        Some(name) => format!("inline; filename=\"{}\"", name.replace('"', "")),
        None => "inline".to_owned(),
    };
    (
        StatusCode::OK,
        [
            (header::CONTENT_TYPE, content_type.to_owned()),
            (header::CONTENT_DISPOSITION, disposition),
            (header::CACHE_CONTROL, "private, max-age=31536000, immutable".to_owned()),
            (header::X_CONTENT_TYPE_OPTIONS, "nosniff".to_owned()),
        ],
        bytes,
    )
        .into_response()
}

/// The upload form of `POST /api/v1/media`.
#[derive(ToSchema)]
#[allow(dead_code)] // Describes the form for the OpenAPI document; the handler reads it field by field.
struct MediaUpload {
    /// The file, with its name and content type in the part's headers; at most `media.max_bytes`.
    #[schema(value_type = String, format = Binary)]
    file: Vec<u8>,
}

/// Uploads one file (form field `file`); send it with a media message using the returned `url`.
#[utoipa::path(post, path = "/api/v1/media", tag = "media",
    request_body(content = MediaUpload, content_type = "multipart/form-data"),
    responses((status = 201, body = MediaFile), (status = "4XX", body = ErrorBody)))]
async fn upload_media(
    State(app): State<Arc<App>>,
    Auth(who): Auth,
    Multipart(mut form): Multipart,
) -> AppResult<(StatusCode, Json<MediaFile>)> {
    let max = app.config.media.max_bytes;
    while let Some(mut field) = form.next_field().await? {
        if field.name() != Some("file") {
            continue;
        }
        let content_type = field.content_type().unwrap_or("application/octet-stream").to_owned();
        let filename = field.file_name().map(str::to_owned);
        let mut bytes = Vec::new();
        while let Some(chunk) = field.chunk().await? {
            if bytes.len() + chunk.len() > max {
                return Err(AppError::PayloadTooLarge);
            }
            bytes.extend_from_slice(&chunk);
        }
        let file = media::store(&app, who.workspace_id, bytes, &content_type, filename).await?;
        return Ok((StatusCode::CREATED, Json(file)));
    }
    Err(AppError::validation("file", "the form has no `file` field"))
}

/// A file of the caller's workspace.
#[utoipa::path(get, path = "/api/v1/media/{sha256}", tag = "media", params(("sha256" = String, Path)),
    responses((status = 200, description = "the file's bytes"), (status = "4XX", body = ErrorBody)))]
async fn get_media(State(app): State<Arc<App>>, Auth(who): Auth, Path(sha256): Path<String>) -> AppResult<Response> {
    let (file, bytes) = media::read(&app, who.workspace_id, &sha256).await?;
    Ok(file_response(&file.content_type, file.filename.as_deref(), bytes))
}

#[derive(Debug, Deserialize)]
struct Signed {
    #[serde(rename = "type")]
    content_type: String,
    expires: i64,
    sig: String,
}

async fn public_media(
    State(app): State<Arc<App>>,
    Path(sha256): Path<String>,
    Query(q): Query<Signed>,
) -> AppResult<Response> {
    let bytes = media::read_public(&app, &sha256, &q.content_type, q.expires, &q.sig).await?;
    Ok(file_response(&q.content_type, None, bytes))
}
