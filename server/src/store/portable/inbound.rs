//! The messaging pipeline's storage: parsed deliveries ingested in one transaction (the writing itself is
//! in `ingest.rs`), outbound messages and their send results, and a channel's history for the widget.

use async_trait::async_trait;
use serde_json::json;

use super::ingest::{apply_early_receipts, ingest_batch};
use super::rows::*;
use super::{ThisStore, append_event, event, found, now_ms};
use crate::model::*;
use crate::store::{Delivery, InboundStore, StoreResult};

#[async_trait]
impl InboundStore for ThisStore {
    async fn find_channel(&self, id: Id) -> StoreResult<Option<(Id, Channel)>> {
        let sql = format!("SELECT workspace_id, {CHANNEL_COLUMNS} FROM channels WHERE id = $1");
        let row: Option<WorkspaceChannelRow> =
            sqlx::query_as(&sql).bind(id).fetch_optional(&mut *self.pool.acquire().await?).await?;
        Ok(row.map(WorkspaceChannelRow::split))
    }

    async fn ingest(&self, ws: Id, channel: Id, items: &[InboundItem]) -> StoreResult<IngestReport> {
        let delivery = Delivery { workspace_id: ws, channel_id: channel, items };
        let mut reports = self.ingest_many(std::slice::from_ref(&delivery)).await?;
        Ok(reports.pop().unwrap_or_default())
    }

    async fn ingest_many(&self, deliveries: &[Delivery<'_>]) -> StoreResult<Vec<IngestReport>> {
        let mut tx = self.begin().await?;
        let reports = ingest_batch(&mut tx, deliveries).await?;
        tx.commit().await?;
        Ok(reports)
    }

    async fn outbound(&self, ws: Id, message: Id) -> StoreResult<OutboundContext> {
        let mut conn = self.pool.acquire().await?;
        let sql = format!("SELECT {MESSAGE_COLUMNS} FROM messages WHERE workspace_id = $1 AND id = $2");
        let row: Option<MessageRow> = sqlx::query_as(&sql).bind(ws).bind(message).fetch_optional(&mut *conn).await?;
        let message: Message = found(row, "message")?.into();
        let Some(channel_id) = message.channel_id else {
            return Ok(OutboundContext { message, channel: None, recipient: None });
        };
        let sql = format!("SELECT {CHANNEL_COLUMNS} FROM channels WHERE workspace_id = $1 AND id = $2");
        let channel: Option<ChannelRow> =
            sqlx::query_as(&sql).bind(ws).bind(channel_id).fetch_optional(&mut *conn).await?;
        let recipient: Option<String> = sqlx::query_scalar(
            "SELECT external_id FROM channel_identities \
             WHERE workspace_id = $1 AND channel_id = $2 AND contact_id = $3 ORDER BY id LIMIT 1",
        )
        .bind(ws)
        .bind(channel_id)
        .bind(message.contact_id)
        .fetch_optional(&mut *conn)
        .await?;
        Ok(OutboundContext { message, channel: channel.map(Channel::from), recipient })
    }

    async fn last_incoming_at(&self, ws: Id, contact: Id, channel: Id) -> StoreResult<Option<Timestamp>> {
        let at: Option<i64> = sqlx::query_scalar(
            "SELECT MAX(created_at) FROM messages \
             WHERE workspace_id = $1 AND contact_id = $2 AND channel_id = $3 AND direction = 'incoming'",
        )
        .bind(ws)
        .bind(contact)
        .bind(channel)
        .fetch_one(&mut *self.pool.acquire().await?)
        .await?;
        Ok(at.map(ts_from_ms))
    }

    async fn record_sent(&self, ws: Id, message: Id, provider_message_id: &str) -> StoreResult<Message> {
        let mut tx = self.begin().await?;
        let sql = format!("SELECT {MESSAGE_COLUMNS} FROM messages WHERE workspace_id = $1 AND id = $2");
        let row: Option<MessageRow> = sqlx::query_as(&sql).bind(ws).bind(message).fetch_optional(&mut *tx).await?;
        let current: Message = found(row, "message")?.into();
        let advance = current.status.can_advance_to(MessageStatus::Sent);
        let status = if advance { MessageStatus::Sent } else { current.status };
        // The provider accepted the message: it is sent whatever id came back. An id another message of the
        // channel already holds (a provider or plugin fault) is not stored twice, rather than failing the job,
        // whose retry would deliver the message again.
        let taken: Option<Id> = match current.channel_id {
            Some(channel) => {
                sqlx::query_scalar(
                    "SELECT id FROM messages WHERE channel_id = $1 AND provider_message_id = $2 AND id <> $3",
                )
                .bind(channel)
                .bind(provider_message_id)
                .bind(message)
                .fetch_optional(&mut *tx)
                .await?
            }
            None => None,
        };
        if let Some(other) = taken {
            tracing::warn!(message, other, provider_message_id, "the provider gave an id another message has");
        }
        let stored = taken.is_none().then_some(provider_message_id);
        sqlx::query("UPDATE messages SET provider_message_id = $1, status = $2, updated_at = $3 WHERE id = $4")
            .bind(stored)
            .bind(status.as_str())
            .bind(now_ms())
            .bind(message)
            .execute(&mut *tx)
            .await?;
        if advance {
            let data = json!({
                "conversation_id": current.conversation_id, "from": current.status, "to": MessageStatus::Sent,
                "provider_message_id": provider_message_id,
            });
            append_event(&mut tx, ws, event("message.status.updated", message, Actor::system(), data)).await?;
        }
        if let (Some(channel), Some(id)) = (current.channel_id, stored) {
            apply_early_receipts(&mut tx, ws, channel, id).await?;
        }
        let sql = format!("SELECT {MESSAGE_COLUMNS} FROM messages WHERE id = $1");
        let row: MessageRow = sqlx::query_as(&sql).bind(message).fetch_one(&mut *tx).await?;
        tx.commit().await?;
        Ok(row.into())
    }

    async fn message_by_provider_id(
        &self,
        ws: Id,
        channel: Id,
        provider_message_id: &str,
    ) -> StoreResult<Option<Message>> {
        let sql = format!(
            "SELECT {MESSAGE_COLUMNS} FROM messages \
             WHERE workspace_id = $1 AND channel_id = $2 AND provider_message_id = $3"
        );
        let row: Option<MessageRow> = sqlx::query_as(&sql)
            .bind(ws)
            .bind(channel)
            .bind(provider_message_id)
            .fetch_optional(&mut *self.pool.acquire().await?)
            .await?;
        Ok(row.map(Into::into))
    }

    async fn channel_history(
        &self,
        ws: Id,
        channel: Id,
        external_id: &str,
        after: Id,
        limit: u32,
    ) -> StoreResult<Vec<Message>> {
        let sql = format!(
            "SELECT {MESSAGE_COLUMNS} FROM messages WHERE workspace_id = $1 AND channel_id = $2 AND id > $4 \
             AND contact_id = (SELECT contact_id FROM channel_identities \
                               WHERE workspace_id = $1 AND channel_id = $2 AND external_id = $3) \
             ORDER BY id LIMIT $5"
        );
        let rows: Vec<MessageRow> = sqlx::query_as(&sql)
            .bind(ws)
            .bind(channel)
            .bind(external_id)
            .bind(after)
            .bind(i64::from(limit.clamp(1, 500)))
            .fetch_all(&mut *self.pool.acquire().await?)
            .await?;
        Ok(rows.into_iter().map(Into::into).collect())
    }
}
