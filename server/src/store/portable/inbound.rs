//! The messaging pipeline's storage: a parsed delivery ingested in one transaction (contacts by channel
//! identity, conversations, idempotent messages, forward-only statuses, events), and send results.

use async_trait::async_trait;
use serde_json::json;

use super::rows::*;
use super::{Conn, EventBuffer, ThisStore, append_event, event, found, now_ms, to_json};
use crate::model::*;
use crate::store::{Delivery, InboundStore, StoreResult};

/// The contact with this identity on the channel, created (with its identity) when there is none.
async fn resolve_contact(
    conn: &mut Conn,
    ws: Id,
    channel: Id,
    external_id: &str,
    profile: &ContactFields,
    report: &mut IngestReport,
    events: &mut EventBuffer,
) -> StoreResult<Id> {
    let known: Option<Id> = sqlx::query_scalar(
        "SELECT contact_id FROM channel_identities WHERE workspace_id = $1 AND channel_id = $2 AND external_id = $3",
    )
    .bind(ws)
    .bind(channel)
    .bind(external_id)
    .fetch_optional(&mut *conn)
    .await?;
    if let Some(id) = known {
        return Ok(id);
    }
    let now = now_ms();
    let id: Id = sqlx::query_scalar(
        "INSERT INTO contacts (workspace_id, first_name, last_name, phone, email, country, language, avatar_url, \
         blocked, custom_fields, created_at, updated_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, FALSE, '{}', $9, $9) RETURNING id",
    )
    .bind(ws)
    .bind(&profile.first_name)
    .bind(&profile.last_name)
    .bind(&profile.phone)
    .bind(&profile.email)
    .bind(&profile.country)
    .bind(&profile.language)
    .bind(&profile.avatar_url)
    .bind(now)
    .fetch_one(&mut *conn)
    .await?;
    sqlx::query(
        "INSERT INTO channel_identities (workspace_id, channel_id, external_id, contact_id, created_at) \
         VALUES ($1, $2, $3, $4, $5)",
    )
    .bind(ws)
    .bind(channel)
    .bind(external_id)
    .bind(id)
    .bind(now)
    .execute(&mut *conn)
    .await?;
    let data = json!({ "tags": [], "channel_id": channel, "external_id": external_id });
    events.push(ws, event("contact.created", id, Actor::contact(id), data));
    report.contacts_created += 1;
    Ok(id)
}

/// The contact's open conversation, opened by the contact when there is none.
async fn resolve_conversation(
    conn: &mut Conn,
    ws: Id,
    contact: Id,
    report: &mut IngestReport,
    events: &mut EventBuffer,
) -> StoreResult<Id> {
    let open: Option<Id> = sqlx::query_scalar(
        "SELECT id FROM conversations WHERE workspace_id = $1 AND contact_id = $2 AND status = 'open'",
    )
    .bind(ws)
    .bind(contact)
    .fetch_optional(&mut *conn)
    .await?;
    if let Some(id) = open {
        return Ok(id);
    }
    let now = now_ms();
    let actor = Actor::contact(contact);
    let id: Id = sqlx::query_scalar(
        "INSERT INTO conversations (workspace_id, contact_id, status, opened_at, opened_by_kind, opened_by_id, \
         last_activity_at) VALUES ($1, $2, 'open', $3, $4, $5, $3) RETURNING id",
    )
    .bind(ws)
    .bind(contact)
    .bind(now)
    .bind(actor.kind.as_str())
    .bind(actor.id)
    .fetch_one(&mut *conn)
    .await?;
    let data = json!({ "contact_id": contact, "team_id": null, "opened_by": actor });
    events.push(ws, event("conversation.opened", id, actor, data));
    report.conversations_opened += 1;
    Ok(id)
}

/// Fills the contact's empty profile fields from what the provider says; returns whether anything changed.
async fn fill_profile(conn: &mut Conn, ws: Id, contact: Id, profile: &ContactFields) -> StoreResult<bool> {
    let changed = sqlx::query(
        "UPDATE contacts SET first_name = COALESCE(first_name, $1), last_name = COALESCE(last_name, $2), \
         phone = COALESCE(phone, $3), email = COALESCE(email, $4), country = COALESCE(country, $5), \
         language = COALESCE(language, $6), avatar_url = COALESCE(avatar_url, $7), updated_at = $8 \
         WHERE workspace_id = $9 AND id = $10 AND ( \
           (first_name IS NULL AND $1 IS NOT NULL) OR (last_name IS NULL AND $2 IS NOT NULL) OR \
           (phone IS NULL AND $3 IS NOT NULL) OR (email IS NULL AND $4 IS NOT NULL) OR \
           (country IS NULL AND $5 IS NOT NULL) OR (language IS NULL AND $6 IS NOT NULL) OR \
           (avatar_url IS NULL AND $7 IS NOT NULL))",
    )
    .bind(&profile.first_name)
    .bind(&profile.last_name)
    .bind(&profile.phone)
    .bind(&profile.email)
    .bind(&profile.country)
    .bind(&profile.language)
    .bind(&profile.avatar_url)
    .bind(now_ms())
    .bind(ws)
    .bind(contact)
    .execute(&mut *conn)
    .await?;
    Ok(changed.rows_affected() > 0)
}

async fn ingest_message(
    conn: &mut Conn,
    ws: Id,
    channel: Id,
    (external_id, profile, provider_id, content): (&str, &ContactFields, &str, &MessageContent),
    report: &mut IngestReport,
    events: &mut EventBuffer,
) -> StoreResult<()> {
    // A retried delivery: the message is there already, and so is everything it created.
    let seen: Option<Id> =
        sqlx::query_scalar("SELECT id FROM messages WHERE channel_id = $1 AND provider_message_id = $2")
            .bind(channel)
            .bind(provider_id)
            .fetch_optional(&mut *conn)
            .await?;
    if seen.is_some() {
        report.duplicates += 1;
        return Ok(());
    }
    let contact = resolve_contact(conn, ws, channel, external_id, profile, report, events).await?;
    let conversation = resolve_conversation(conn, ws, contact, report, events).await?;
    let now = now_ms();
    let id: Id = sqlx::query_scalar(
        "INSERT INTO messages (workspace_id, conversation_id, contact_id, channel_id, direction, sender_kind, \
         sender_id, content_type, content, provider_message_id, status, created_at, updated_at) \
         VALUES ($1, $2, $3, $4, 'incoming', 'contact', $3, $5, $6, $7, 'delivered', $8, $8) RETURNING id",
    )
    .bind(ws)
    .bind(conversation)
    .bind(contact)
    .bind(channel)
    .bind(content.type_name())
    .bind(to_json(content)?)
    .bind(provider_id)
    .bind(now)
    .fetch_one(&mut *conn)
    .await?;
    sqlx::query(
        "UPDATE conversations SET last_incoming_at = $1, last_activity_at = $1, last_channel_id = $2 WHERE id = $3",
    )
    .bind(now)
    .bind(channel)
    .bind(conversation)
    .execute(&mut *conn)
    .await?;
    let data = json!({
        "conversation_id": conversation, "contact_id": contact, "channel_id": channel,
        "direction": Direction::Incoming, "content_type": content.type_name(),
    });
    events.push(ws, event("message.created", id, Actor::contact(contact), data));
    if let MessageContent::Media { media_ref: Some(_), url, .. } = content
        && url.is_empty()
    {
        // The file is fetched after the commit, by a job, so the provider's answer never waits on a download.
        sqlx::query(
            "INSERT INTO jobs (workspace_id, kind, payload, status, run_at, attempts, max_attempts, created_at, \
             updated_at) VALUES ($1, $2, $3, 'queued', $4, 0, 6, $4, $4)",
        )
        .bind(ws)
        .bind(FETCH_MEDIA_JOB)
        .bind(to_json(&json!({ "message_id": id }))?)
        .bind(now)
        .execute(&mut *conn)
        .await?;
    }
    report.messages += 1;
    Ok(())
}

async fn ingest_status(
    conn: &mut Conn,
    ws: Id,
    channel: Id,
    (provider_id, status, reason): (&str, MessageStatus, Option<&str>),
    report: &mut IngestReport,
    events: &mut EventBuffer,
) -> StoreResult<()> {
    let current: Option<(Id, Id, String)> = sqlx::query_as(
        "SELECT id, conversation_id, status FROM messages \
         WHERE workspace_id = $1 AND channel_id = $2 AND provider_message_id = $3 AND direction = 'outgoing'",
    )
    .bind(ws)
    .bind(channel)
    .bind(provider_id)
    .fetch_optional(&mut *conn)
    .await?;
    let Some((id, conversation, from)) = current else {
        keep_early_receipt(conn, ws, channel, provider_id, status, reason).await?;
        report.statuses_early += 1;
        return Ok(());
    };
    let from = MessageStatus::parse(&from).unwrap_or(MessageStatus::Pending);
    if !from.can_advance_to(status) {
        report.statuses_ignored += 1;
        return Ok(());
    }
    sqlx::query("UPDATE messages SET status = $1, failure_reason = $2, updated_at = $3 WHERE id = $4")
        .bind(status.as_str())
        .bind(reason)
        .bind(now_ms())
        .bind(id)
        .execute(&mut *conn)
        .await?;
    let data = json!({ "conversation_id": conversation, "from": from, "to": status, "failure_reason": reason });
    events.push(ws, event("message.status.updated", id, Actor::system(), data));
    report.statuses += 1;
    Ok(())
}

/// How long a receipt for a message not known yet is kept.
const EARLY_RECEIPT_MS: i64 = 24 * 3600 * 1000;

/// Keeps a receipt whose message is not known (yet) on this channel, and forgets old ones.
async fn keep_early_receipt(
    conn: &mut Conn,
    ws: Id,
    channel: Id,
    provider_id: &str,
    status: MessageStatus,
    reason: Option<&str>,
) -> StoreResult<()> {
    let now = now_ms();
    sqlx::query("DELETE FROM pending_receipts WHERE created_at < $1")
        .bind(now - EARLY_RECEIPT_MS)
        .execute(&mut *conn)
        .await?;
    sqlx::query(
        "INSERT INTO pending_receipts (workspace_id, channel_id, provider_message_id, status, reason, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6)",
    )
    .bind(ws)
    .bind(channel)
    .bind(provider_id)
    .bind(status.as_str())
    .bind(reason)
    .bind(now)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// Applies the receipts that arrived before the send of this message was recorded, in arrival order.
async fn apply_early_receipts(conn: &mut Conn, ws: Id, channel: Id, provider_id: &str) -> StoreResult<()> {
    let early: Vec<(String, Option<String>)> = sqlx::query_as(
        "SELECT status, reason FROM pending_receipts \
         WHERE workspace_id = $1 AND channel_id = $2 AND provider_message_id = $3 ORDER BY id",
    )
    .bind(ws)
    .bind(channel)
    .bind(provider_id)
    .fetch_all(&mut *conn)
    .await?;
    if early.is_empty() {
        return Ok(());
    }
    let (mut report, mut events) = (IngestReport::default(), EventBuffer::default());
    for (status, reason) in early {
        if let Some(status) = MessageStatus::parse(&status) {
            let receipt = (provider_id, status, reason.as_deref());
            ingest_status(conn, ws, channel, receipt, &mut report, &mut events).await?;
        }
    }
    events.flush(conn).await?;
    sqlx::query(
        "DELETE FROM pending_receipts WHERE workspace_id = $1 AND channel_id = $2 AND provider_message_id = $3",
    )
    .bind(ws)
    .bind(channel)
    .bind(provider_id)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// Every item of one delivery, in the caller's transaction.
async fn ingest_items(
    conn: &mut Conn,
    ws: Id,
    channel: Id,
    items: &[InboundItem],
    events: &mut EventBuffer,
) -> StoreResult<IngestReport> {
    let mut report = IngestReport::default();
    for item in items {
        match item {
            InboundItem::Message { external_id, profile, provider_message_id, content } => {
                let message = (external_id.as_str(), profile, provider_message_id.as_str(), content);
                ingest_message(conn, ws, channel, message, &mut report, events).await?;
            }
            InboundItem::Status { provider_message_id, status, reason } => {
                let reason = reason.as_deref();
                let receipt = (provider_message_id.as_str(), *status, reason);
                ingest_status(conn, ws, channel, receipt, &mut report, events).await?;
            }
            InboundItem::Profile { external_id, profile } => {
                let known: Option<Id> = sqlx::query_scalar(
                    "SELECT contact_id FROM channel_identities \
                     WHERE workspace_id = $1 AND channel_id = $2 AND external_id = $3",
                )
                .bind(ws)
                .bind(channel)
                .bind(external_id)
                .fetch_optional(&mut *conn)
                .await?;
                if let Some(contact) = known
                    && fill_profile(conn, ws, contact, profile).await?
                {
                    let data = json!({ "source": "channel", "channel_id": channel });
                    events.push(ws, event("contact.updated", contact, Actor::contact(contact), data));
                }
            }
        }
    }
    Ok(report)
}

#[async_trait]
impl InboundStore for ThisStore {
    async fn find_channel(&self, id: Id) -> StoreResult<Option<(Id, Channel)>> {
        let sql = format!("SELECT workspace_id, {CHANNEL_COLUMNS} FROM channels WHERE id = $1");
        let row: Option<WorkspaceChannelRow> =
            sqlx::query_as(&sql).bind(id).fetch_optional(&mut *self.pool.acquire().await?).await?;
        Ok(row.map(WorkspaceChannelRow::split))
    }

    async fn ingest(&self, ws: Id, channel: Id, items: &[InboundItem]) -> StoreResult<IngestReport> {
        let mut tx = self.begin().await?;
        let mut events = EventBuffer::default();
        let report = ingest_items(&mut tx, ws, channel, items, &mut events).await?;
        events.flush(&mut tx).await?;
        tx.commit().await?;
        Ok(report)
    }

    async fn ingest_many(&self, deliveries: &[Delivery<'_>]) -> StoreResult<Vec<IngestReport>> {
        let mut tx = self.begin().await?;
        let mut reports = Vec::with_capacity(deliveries.len());
        let mut events = EventBuffer::default();
        for d in deliveries {
            reports.push(ingest_items(&mut tx, d.workspace_id, d.channel_id, d.items, &mut events).await?);
        }
        events.flush(&mut tx).await?;
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
        sqlx::query("UPDATE messages SET provider_message_id = $1, status = $2, updated_at = $3 WHERE id = $4")
            .bind(provider_message_id)
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
        if let Some(channel) = current.channel_id {
            apply_early_receipts(&mut tx, ws, channel, provider_message_id).await?;
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
