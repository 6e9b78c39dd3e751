//! Parsed deliveries written in the caller's transaction: contacts by channel identity, conversations,
//! idempotent messages, forward-only statuses, profile updates and their events (watermarks and echoes
//! are in `ingest_outgoing`).
//!
//! A batch's incoming messages are written set-wise: one query each finds the provider ids already stored,
//! the known identities and the open conversations of the whole batch, and one insert stores the new
//! messages. Every statement is a round trip to SQLite's connection thread (and to the PostgreSQL server),
//! so the number of statements per batch, not per message, is what bounds ingest throughput. Lists and rows
//! are bound as one parameter each (`in_list`, `json_rows`), so a statement's text is the same whatever the
//! batch's size and is prepared once, not once per batch.

use std::collections::{HashMap, HashSet};

use serde_json::json;

use super::super::{in_list, json_rows, list_of};
use super::ingest_outgoing::{ingest_echo, ingest_watermark};
use super::{Conn, EventBuffer, event, now_ms, to_json};
use crate::model::*;
use crate::store::{ColumnKind, Delivery, StoreResult};

/// Every item of a batch of deliveries, one report per delivery in order. The caller owns the transaction.
pub(super) async fn ingest_batch(conn: &mut Conn, deliveries: &[Delivery<'_>]) -> StoreResult<Vec<IngestReport>> {
    let mut reports = vec![IngestReport::default(); deliveries.len()];
    let mut events = EventBuffer::default();
    let mut incoming = Vec::new();
    for (delivery, d) in deliveries.iter().enumerate() {
        for item in d.items {
            if let InboundItem::Message { external_id, profile, provider_message_id, content } = item {
                incoming.push(Incoming {
                    delivery,
                    ws: d.workspace_id,
                    channel: d.channel_id,
                    external_id,
                    profile,
                    provider_id: provider_message_id,
                    content,
                });
            }
        }
    }
    ingest_messages(conn, incoming, &mut reports, &mut events).await?;
    // Receipts concern outgoing messages and profiles the contacts just resolved, so both follow the messages.
    for (d, report) in deliveries.iter().zip(reports.iter_mut()) {
        let (ws, channel) = (d.workspace_id, d.channel_id);
        for item in d.items {
            match item {
                InboundItem::Message { .. } => {}
                InboundItem::Status { provider_message_id, status, reason } => {
                    let receipt = (provider_message_id.as_str(), *status, reason.as_deref());
                    ingest_status(conn, ws, channel, receipt, report, &mut events).await?;
                }
                InboundItem::Profile { external_id, profile } => {
                    update_profile(conn, ws, channel, external_id, profile, &mut events).await?;
                }
                InboundItem::Watermark { external_id, status, up_to_ms } => {
                    let mark = (external_id.as_str(), *status, *up_to_ms);
                    ingest_watermark(conn, (ws, channel), mark, report, &mut events).await?;
                }
                InboundItem::Echo { external_id, profile, provider_message_id, content } => {
                    let echo = (external_id.as_str(), profile, provider_message_id.as_str(), content);
                    ingest_echo(conn, (ws, channel), echo, report, &mut events).await?;
                }
            }
        }
    }
    events.flush(conn).await?;
    Ok(reports)
}

/// One incoming message of a batch and the delivery it came in.
struct Incoming<'a> {
    delivery: usize,
    ws: Id,
    channel: Id,
    external_id: &'a str,
    profile: &'a ContactFields,
    provider_id: &'a str,
    content: &'a MessageContent,
}

async fn ingest_messages(
    conn: &mut Conn,
    incoming: Vec<Incoming<'_>>,
    reports: &mut [IngestReport],
    events: &mut EventBuffer,
) -> StoreResult<()> {
    if incoming.is_empty() {
        return Ok(());
    }
    // A retried delivery (or the same message twice in one batch): stored once, and so is all it created.
    let stored = stored_provider_ids(conn, &incoming).await?;
    let mut taken = HashSet::new();
    let mut fresh = Vec::with_capacity(incoming.len());
    for m in incoming {
        let key = (m.channel, m.provider_id);
        if stored.contains(&(m.channel, m.provider_id.to_owned())) || !taken.insert(key) {
            reports[m.delivery].duplicates += 1;
        } else {
            fresh.push(m);
        }
    }
    if fresh.is_empty() {
        return Ok(());
    }

    let mut contacts = known_identities(conn, &fresh).await?;
    let mut contact_of = Vec::with_capacity(fresh.len());
    for m in &fresh {
        let contact = match contacts.get(&(m.channel, m.external_id)) {
            Some(&id) => id,
            None => {
                let id = create_contact(conn, m.ws, m.channel, m.external_id, m.profile, events).await?;
                reports[m.delivery].contacts_created += 1;
                contacts.insert((m.channel, m.external_id), id);
                id
            }
        };
        contact_of.push(contact);
    }

    let mut open = open_conversations(conn, &fresh, &contact_of).await?;
    let mut conversation_of = Vec::with_capacity(fresh.len());
    for (m, &contact) in fresh.iter().zip(&contact_of) {
        let conversation = match open.get(&contact) {
            Some(&id) => id,
            None => {
                let id = create_conversation(conn, m.ws, contact, Actor::contact(contact), events).await?;
                reports[m.delivery].conversations_opened += 1;
                open.insert(contact, id);
                id
            }
        };
        conversation_of.push(conversation);
    }

    let now = now_ms();
    let ids = insert_messages(conn, &fresh, &contact_of, &conversation_of, now).await?;
    touch_conversations(conn, &fresh, &conversation_of, now).await?;
    for (i, m) in fresh.iter().enumerate() {
        let (id, contact, conversation) = (ids[i], contact_of[i], conversation_of[i]);
        let data = json!({
            "conversation_id": conversation, "contact_id": contact, "channel_id": m.channel,
            "direction": Direction::Incoming, "content_type": m.content.type_name(),
        });
        events.push(m.ws, event("message.created", id, Actor::contact(contact), data));
        if let MessageContent::Media { media_ref: Some(_), url, .. } = m.content
            && url.is_empty()
        {
            queue_media_fetch(conn, m.ws, id, now).await?;
        }
        reports[m.delivery].messages += 1;
    }
    Ok(())
}

/// Queues the download of a message's file: fetched after the commit, by a job, so the provider's answer
/// never waits on a download.
pub(super) async fn queue_media_fetch(conn: &mut Conn, ws: Id, message: Id, now: i64) -> StoreResult<()> {
    sqlx::query(
        "INSERT INTO jobs (workspace_id, kind, payload, status, run_at, attempts, max_attempts, \
         created_at, updated_at) VALUES ($1, $2, $3, 'queued', $4, 0, 6, $4, $4)",
    )
    .bind(ws)
    .bind(FETCH_MEDIA_JOB)
    .bind(to_json(&json!({ "message_id": message }))?)
    .bind(now)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// Groups values by key, keys in first-seen order.
fn grouped<K: PartialEq, V>(pairs: impl IntoIterator<Item = (K, V)>) -> Vec<(K, Vec<V>)> {
    let mut groups: Vec<(K, Vec<V>)> = Vec::new();
    for (k, v) in pairs {
        match groups.iter_mut().find(|(g, _)| *g == k) {
            Some((_, values)) => values.push(v),
            None => groups.push((k, vec![v])),
        }
    }
    groups
}

/// The batch's (channel, provider id) pairs that are stored already.
async fn stored_provider_ids(conn: &mut Conn, incoming: &[Incoming<'_>]) -> StoreResult<HashSet<(Id, String)>> {
    let sql = format!(
        "SELECT provider_message_id FROM messages WHERE channel_id = $1 AND provider_message_id {}",
        in_list(2)
    );
    let mut stored = HashSet::new();
    for (channel, ids) in grouped(incoming.iter().map(|m| (m.channel, m.provider_id))) {
        let found: Vec<String> =
            sqlx::query_scalar(&sql).bind(channel).bind(list_of(&ids)).fetch_all(&mut *conn).await?;
        stored.extend(found.into_iter().map(|id| (channel, id)));
    }
    Ok(stored)
}

/// The contacts already known by the batch's (channel, external id) identities.
async fn known_identities<'a>(conn: &mut Conn, fresh: &[Incoming<'a>]) -> StoreResult<HashMap<(Id, &'a str), Id>> {
    let sql = format!(
        "SELECT external_id, contact_id FROM channel_identities \
         WHERE workspace_id = $1 AND channel_id = $2 AND external_id {}",
        in_list(3)
    );
    let mut known = HashMap::new();
    for ((ws, channel), externals) in grouped(fresh.iter().map(|m| ((m.ws, m.channel), m.external_id))) {
        let externals: HashSet<&'a str> = externals.into_iter().collect();
        let list: Vec<&str> = externals.iter().copied().collect();
        let rows: Vec<(String, Id)> =
            sqlx::query_as(&sql).bind(ws).bind(channel).bind(list_of(&list)).fetch_all(&mut *conn).await?;
        for (external, contact) in rows {
            if let Some(&key) = externals.get(external.as_str()) {
                known.insert((channel, key), contact);
            }
        }
    }
    Ok(known)
}

/// The open conversation of each of the batch's contacts that has one.
async fn open_conversations(conn: &mut Conn, fresh: &[Incoming<'_>], contacts: &[Id]) -> StoreResult<HashMap<Id, Id>> {
    let sql = format!(
        "SELECT contact_id, id FROM conversations WHERE workspace_id = $1 AND status = 'open' AND contact_id {}",
        in_list(2)
    );
    let mut open = HashMap::new();
    for (ws, ids) in grouped(fresh.iter().zip(contacts).map(|(m, &c)| (m.ws, c))) {
        let ids: Vec<Id> = ids.into_iter().collect::<HashSet<_>>().into_iter().collect();
        let rows: Vec<(Id, Id)> = sqlx::query_as(&sql).bind(ws).bind(list_of(&ids)).fetch_all(&mut *conn).await?;
        open.extend(rows);
    }
    Ok(open)
}

/// Stores the batch's new messages; returns their ids in the batch's order.
async fn insert_messages(
    conn: &mut Conn,
    fresh: &[Incoming<'_>],
    contacts: &[Id],
    conversations: &[Id],
    now: i64,
) -> StoreResult<Vec<Id>> {
    use ColumnKind::{Int, Text};
    let sql = format!(
        "INSERT INTO messages (workspace_id, conversation_id, contact_id, channel_id, direction, sender_kind, \
         sender_id, content_type, content, provider_message_id, status, created_at, updated_at) \
         SELECT c0, c1, c2, c3, 'incoming', 'contact', c2, c4, c5, c6, 'delivered', $2, $2 FROM ({}) AS r \
         RETURNING id, channel_id, provider_message_id",
        json_rows(1, &[Int, Int, Int, Int, Text, Text, Text])
    );
    let mut rows = Vec::with_capacity(fresh.len());
    for (i, m) in fresh.iter().enumerate() {
        let content = to_json(m.content)?;
        rows.push(json!([
            m.ws,
            conversations[i],
            contacts[i],
            m.channel,
            m.content.type_name(),
            content,
            m.provider_id
        ]));
    }
    // Neither backend promises RETURNING rows in the input's order, so they are matched by their unique key.
    let returned: Vec<(Id, Id, String)> =
        sqlx::query_as(&sql).bind(to_json(&rows)?).bind(now).fetch_all(&mut *conn).await?;
    let ids: HashMap<(Id, String), Id> =
        returned.into_iter().map(|(id, channel, provider)| ((channel, provider), id)).collect();
    fresh
        .iter()
        .map(|m| {
            let key = (m.channel, m.provider_id.to_owned());
            ids.get(&key).copied().ok_or_else(|| {
                crate::store::StoreError::Database(format!("message {} was inserted without an id", m.provider_id))
            })
        })
        .collect()
}

/// Marks each conversation as just written to by its contact, on the channel of its latest message.
async fn touch_conversations(
    conn: &mut Conn,
    fresh: &[Incoming<'_>],
    conversations: &[Id],
    now: i64,
) -> StoreResult<()> {
    let mut last_channel: HashMap<Id, Id> = HashMap::new();
    for (m, &conversation) in fresh.iter().zip(conversations) {
        last_channel.insert(conversation, m.channel);
    }
    let sql = format!(
        "UPDATE conversations SET last_incoming_at = $1, last_activity_at = $1, last_channel_id = $2 WHERE id {}",
        in_list(3)
    );
    for (channel, ids) in grouped(last_channel.into_iter().map(|(conversation, channel)| (channel, conversation))) {
        sqlx::query(&sql).bind(now).bind(channel).bind(list_of(&ids)).execute(&mut *conn).await?;
    }
    Ok(())
}

/// Creates a contact with this identity on the channel (name, phone, … from the provider's profile).
pub(super) async fn create_contact(
    conn: &mut Conn,
    ws: Id,
    channel: Id,
    external_id: &str,
    profile: &ContactFields,
    events: &mut EventBuffer,
) -> StoreResult<Id> {
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
    Ok(id)
}

/// Opens a conversation for a contact that has none open, opened by `actor`.
pub(super) async fn create_conversation(
    conn: &mut Conn,
    ws: Id,
    contact: Id,
    actor: Actor,
    events: &mut EventBuffer,
) -> StoreResult<Id> {
    let now = now_ms();
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
    Ok(id)
}

/// Fills the empty profile fields of the contact known by this identity from what the provider says.
async fn update_profile(
    conn: &mut Conn,
    ws: Id,
    channel: Id,
    external_id: &str,
    profile: &ContactFields,
    events: &mut EventBuffer,
) -> StoreResult<()> {
    let Some(contact) = super::ingest_outgoing::identity(conn, ws, channel, external_id).await? else {
        return Ok(());
    };
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
    if changed.rows_affected() > 0 {
        let data = json!({ "source": "channel", "channel_id": channel });
        events.push(ws, event("contact.updated", contact, Actor::contact(contact), data));
    }
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
pub(super) async fn apply_early_receipts(conn: &mut Conn, ws: Id, channel: Id, provider_id: &str) -> StoreResult<()> {
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
