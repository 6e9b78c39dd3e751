//! What providers report about the business's side of a chat rather than about one message: delivery and
//! read watermarks (every message up to a time) and echoes (messages the business sent outside
//! Switchboard). Written in the caller's transaction, after the batch's incoming messages.

use serde_json::json;
use sqlx::QueryBuilder;

use super::ingest::{create_contact, create_conversation, queue_media_fetch};
use super::{Conn, Db, EventBuffer, event, now_ms, push_list, to_json};
use crate::model::*;
use crate::store::StoreResult;

/// The contact known on this channel by `external_id`.
pub(super) async fn identity(conn: &mut Conn, ws: Id, channel: Id, external_id: &str) -> StoreResult<Option<Id>> {
    Ok(sqlx::query_scalar(
        "SELECT contact_id FROM channel_identities WHERE workspace_id = $1 AND channel_id = $2 AND external_id = $3",
    )
    .bind(ws)
    .bind(channel)
    .bind(external_id)
    .fetch_optional(&mut *conn)
    .await?)
}

/// Moves every sent message to this contact on this channel, stored at or before `up_to_ms`, to `status`
/// (forward only). The provider's watermark is its own clock and a message is stored just before it is
/// sent, so a message stored before the watermark was sent before it too, give or take the clocks' skew.
pub(super) async fn ingest_watermark(
    conn: &mut Conn,
    (ws, channel): (Id, Id),
    (external_id, status, up_to_ms): (&str, MessageStatus, i64),
    report: &mut IngestReport,
    events: &mut EventBuffer,
) -> StoreResult<()> {
    let Some(contact) = identity(conn, ws, channel, external_id).await? else {
        report.statuses_ignored += 1;
        return Ok(());
    };
    let behind: &[&str] = match status {
        MessageStatus::Delivered => &["sent"],
        MessageStatus::Read => &["sent", "delivered"],
        _ => {
            report.statuses_ignored += 1;
            return Ok(());
        }
    };
    // Through the contact's conversations, so the messages index (conversation_id, id) bounds the scan.
    let mut qb = QueryBuilder::<Db>::new(
        "SELECT id, conversation_id, status FROM messages WHERE conversation_id IN \
         (SELECT id FROM conversations WHERE workspace_id = ",
    );
    qb.push_bind(ws).push(" AND contact_id = ").push_bind(contact).push(") AND channel_id = ").push_bind(channel);
    qb.push(" AND direction = 'outgoing' AND created_at <= ").push_bind(up_to_ms).push(" AND status IN ");
    push_list(&mut qb, behind.iter().copied());
    let rows: Vec<(Id, Id, String)> = qb.build_query_as().fetch_all(&mut *conn).await?;
    if rows.is_empty() {
        return Ok(());
    }
    let now = now_ms();
    let mut qb = QueryBuilder::<Db>::new("UPDATE messages SET status = ");
    qb.push_bind(status.as_str()).push(", updated_at = ").push_bind(now).push(" WHERE id IN ");
    push_list(&mut qb, rows.iter().map(|(id, _, _)| *id));
    qb.build().execute(&mut *conn).await?;
    for (id, conversation, from) in rows {
        let data = json!({ "conversation_id": conversation, "from": from, "to": status, "failure_reason": null });
        events.push(ws, event("message.status.updated", id, Actor::system(), data));
        report.statuses += 1;
    }
    Ok(())
}

/// Stores a message the business sent from elsewhere as an outgoing, sent message of the contact's open
/// conversation (opened by the system when there is none). Idempotent on the provider's message id.
pub(super) async fn ingest_echo(
    conn: &mut Conn,
    (ws, channel): (Id, Id),
    (external_id, profile, provider_id, content): (&str, &ContactFields, &str, &MessageContent),
    report: &mut IngestReport,
    events: &mut EventBuffer,
) -> StoreResult<()> {
    let stored: Option<Id> =
        sqlx::query_scalar("SELECT id FROM messages WHERE channel_id = $1 AND provider_message_id = $2")
            .bind(channel)
            .bind(provider_id)
            .fetch_optional(&mut *conn)
            .await?;
    if stored.is_some() {
        report.duplicates += 1;
        return Ok(());
    }
    let contact = match identity(conn, ws, channel, external_id).await? {
        Some(id) => id,
        None => {
            report.contacts_created += 1;
            create_contact(conn, ws, channel, external_id, profile, events).await?
        }
    };
    let open: Option<Id> = sqlx::query_scalar(
        "SELECT id FROM conversations WHERE workspace_id = $1 AND contact_id = $2 AND status = 'open'",
    )
    .bind(ws)
    .bind(contact)
    .fetch_optional(&mut *conn)
    .await?;
    let conversation = match open {
        Some(id) => id,
        None => {
            report.conversations_opened += 1;
            create_conversation(conn, ws, contact, Actor::system(), events).await?
        }
    };
    let now = now_ms();
    let id: Id = sqlx::query_scalar(
        "INSERT INTO messages (workspace_id, conversation_id, contact_id, channel_id, direction, sender_kind, \
         sender_id, content_type, content, provider_message_id, status, created_at, updated_at) \
         VALUES ($1, $2, $3, $4, 'outgoing', 'system', NULL, $5, $6, $7, 'sent', $8, $8) RETURNING id",
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
        "UPDATE conversations SET last_outgoing_at = $1, last_activity_at = $1, last_channel_id = $2 WHERE id = $3",
    )
    .bind(now)
    .bind(channel)
    .bind(conversation)
    .execute(&mut *conn)
    .await?;
    let data = json!({
        "conversation_id": conversation, "contact_id": contact, "channel_id": channel,
        "direction": Direction::Outgoing, "content_type": content.type_name(), "echo": true,
    });
    events.push(ws, event("message.created", id, Actor::system(), data));
    if let MessageContent::Media { media_ref: Some(_), url, .. } = content
        && url.is_empty()
    {
        queue_media_fetch(conn, ws, id, now).await?;
    }
    report.echoes += 1;
    Ok(())
}
