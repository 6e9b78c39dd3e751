//! Which workspace holds which media file, and incoming media messages pointed at their stored file.

use async_trait::async_trait;
use serde_json::json;

use super::rows::*;
use super::{ThisStore, append_event, event, found, now_ms, to_json};
use crate::model::*;
use crate::store::{MediaStore, StoreResult};

type MediaRow = (String, String, i64, Option<String>);

fn file(row: MediaRow) -> MediaFile {
    let (sha256, content_type, size, filename) = row;
    let url = format!("/api/v1/media/{sha256}");
    MediaFile { sha256, content_type, size: size.max(0) as u64, filename, url }
}

#[async_trait]
impl MediaStore for ThisStore {
    async fn record_media(&self, ws: Id, f: &MediaFile) -> StoreResult<MediaFile> {
        let mut conn = self.pool.acquire().await?;
        sqlx::query(
            "INSERT INTO media (workspace_id, sha256, content_type, size, filename, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT DO NOTHING",
        )
        .bind(ws)
        .bind(&f.sha256)
        .bind(&f.content_type)
        .bind(f.size as i64)
        .bind(&f.filename)
        .bind(now_ms())
        .execute(&mut *conn)
        .await?;
        let row: MediaRow = sqlx::query_as(
            "SELECT sha256, content_type, size, filename FROM media WHERE workspace_id = $1 AND sha256 = $2",
        )
        .bind(ws)
        .bind(&f.sha256)
        .fetch_one(&mut *conn)
        .await?;
        Ok(file(row))
    }

    async fn get_media(&self, ws: Id, sha256: &str) -> StoreResult<Option<MediaFile>> {
        let row: Option<MediaRow> = sqlx::query_as(
            "SELECT sha256, content_type, size, filename FROM media WHERE workspace_id = $1 AND sha256 = $2",
        )
        .bind(ws)
        .bind(sha256)
        .fetch_optional(&mut *self.pool.acquire().await?)
        .await?;
        Ok(row.map(file))
    }

    async fn attach_media(&self, ws: Id, message: Id, f: &MediaFile) -> StoreResult<Message> {
        let mut tx = self.begin().await?;
        let sql = format!("SELECT {MESSAGE_COLUMNS} FROM messages WHERE workspace_id = $1 AND id = $2");
        let row: Option<MessageRow> = sqlx::query_as(&sql).bind(ws).bind(message).fetch_optional(&mut *tx).await?;
        let mut stored: Message = found(row, "message")?.into();
        if let MessageContent::Media { url, mime_type, filename, .. } = &mut stored.content {
            *url = f.url.clone();
            if mime_type.is_none() {
                *mime_type = Some(f.content_type.clone());
            }
            if filename.is_none() {
                filename.clone_from(&f.filename);
            }
        }
        sqlx::query("UPDATE messages SET content = $1, updated_at = $2 WHERE id = $3")
            .bind(to_json(&stored.content)?)
            .bind(now_ms())
            .bind(message)
            .execute(&mut *tx)
            .await?;
        let data = json!({ "conversation_id": stored.conversation_id, "sha256": f.sha256, "size": f.size });
        append_event(&mut tx, ws, event("message.media.stored", message, Actor::system(), data)).await?;
        tx.commit().await?;
        Ok(stored)
    }
}
