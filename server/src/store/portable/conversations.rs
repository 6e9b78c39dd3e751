//! Conversations, messages, comments, assignments and pins.

use std::collections::HashMap;

use async_trait::async_trait;
use serde_json::json;
use sqlx::QueryBuilder;

use super::notifications::notify;
use super::rows::*;
use super::{
    Conn, Db, ThisStore, append_event, clamp_limit, event, fetch_limit, found, now_ms, on_unique, push_list, to_json,
};
use crate::model::*;
use crate::store::{ConversationStore, StoreError, StoreResult};

async fn load_conversation(conn: &mut Conn, ws: Id, id: Id) -> StoreResult<Conversation> {
    let sql = format!("SELECT {CONVERSATION_COLUMNS} FROM conversations WHERE workspace_id = $1 AND id = $2");
    let row: Option<ConversationRow> = sqlx::query_as(&sql).bind(ws).bind(id).fetch_optional(&mut *conn).await?;
    Ok(found(row, "conversation")?.into())
}

async fn load_message(conn: &mut Conn, ws: Id, id: Id) -> StoreResult<Message> {
    let sql = format!("SELECT {MESSAGE_COLUMNS} FROM messages WHERE workspace_id = $1 AND id = $2");
    let row: Option<MessageRow> = sqlx::query_as(&sql).bind(ws).bind(id).fetch_optional(&mut *conn).await?;
    Ok(found(row, "message")?.into())
}

fn already_open(e: sqlx::Error) -> StoreError {
    on_unique(e, "conversation_already_open", "the contact already has an open conversation")
}

/// Starts (or, by superseding the one before, resets) the workspace's auto-close timer after a human
/// agent's reply, when auto-close is on: a job due when the inactivity period ends.
async fn schedule_auto_close(conn: &mut Conn, ws: Id, conversation: Id, now: i64) -> StoreResult<()> {
    let minutes: Option<Option<i64>> = sqlx::query_scalar("SELECT auto_close_minutes FROM workspaces WHERE id = $1")
        .bind(ws)
        .fetch_optional(&mut *conn)
        .await?;
    let Some(minutes) = minutes.flatten() else { return Ok(()) };
    sqlx::query(
        "INSERT INTO jobs (workspace_id, kind, payload, status, run_at, attempts, max_attempts, created_at, \
         updated_at) VALUES ($1, $2, $3, 'queued', $4, 0, 5, $5, $5)",
    )
    .bind(ws)
    .bind(AUTO_CLOSE_JOB)
    .bind(to_json(&json!({ "conversation_id": conversation, "replied_at": now }))?)
    .bind(now + minutes * 60_000)
    .bind(now)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// The condition "awaits a reply" (the last message is the contact's) on table alias `t` ("" for none).
fn awaiting_reply(t: &str) -> String {
    format!(
        "{t}last_incoming_at IS NOT NULL AND ({t}last_outgoing_at IS NULL OR {t}last_outgoing_at < {t}last_incoming_at)"
    )
}

/// `AND` the conversations an agent may see; `p` is the table alias with its dot ("" for none).
fn push_visibility(qb: &mut QueryBuilder<'_, Db>, v: &Visibility, p: &str) {
    match v.access {
        AgentAccess::All => {}
        AgentAccess::Assigned => {
            qb.push(format!(" AND ({p}assignee_id IS NULL OR {p}assignee_id = ")).push_bind(v.user_id).push(")");
        }
        AgentAccess::Teams => {
            qb.push(format!(" AND ({p}assignee_id = ")).push_bind(v.user_id);
            qb.push(format!(" OR ({p}assignee_id IS NULL AND {p}team_id IS NULL)"));
            if !v.team_ids.is_empty() {
                qb.push(format!(" OR {p}team_id IN "));
                push_list(qb, v.team_ids.iter().copied());
            }
            qb.push(")");
        }
    }
}

/// The `WHERE` conditions of a conversation filter, after `workspace_id = ws`.
fn push_filter(qb: &mut QueryBuilder<'_, Db>, ws: Id, filter: &ConversationFilter) {
    if let Some(status) = filter.status {
        qb.push(" AND status = ").push_bind(status.as_str());
    }
    let user = filter.user_id.unwrap_or(0);
    match filter.view {
        View::All => {}
        View::Mine => {
            qb.push(" AND assignee_id = ").push_bind(user);
        }
        View::Unassigned => {
            qb.push(" AND assignee_id IS NULL");
        }
        View::Mentions => {
            qb.push(" AND id IN (SELECT cm.conversation_id FROM comment_mentions m JOIN comments cm ON cm.id = m.comment_id WHERE m.user_id = ")
                .push_bind(user)
                .push(" AND m.workspace_id = ")
                .push_bind(ws)
                .push(")");
        }
        View::Team(team) => {
            qb.push(" AND team_id = ").push_bind(team);
        }
        // The inbox's saved filter comes as `filter.rule`.
        View::Inbox(_) => {}
    }
    if let Some(contact) = filter.contact_id {
        qb.push(" AND contact_id = ").push_bind(contact);
    }
    if let Some(assignee) = filter.assignee_id {
        qb.push(" AND assignee_id = ").push_bind(assignee);
    }
    if let Some(team) = filter.team_id {
        qb.push(" AND team_id = ").push_bind(team);
    }
    if filter.unassigned {
        qb.push(" AND assignee_id IS NULL");
    }
    if filter.unread {
        qb.push(" AND ").push(awaiting_reply(""));
    }
    if let Some(channel) = filter.channel_id {
        qb.push(" AND last_channel_id = ").push_bind(channel);
    }
    if let Some(tag) = &filter.tag {
        qb.push(" AND contact_id IN (SELECT ct.contact_id FROM contact_tags ct JOIN tags t ON t.id = ct.tag_id WHERE t.workspace_id = ")
            .push_bind(ws)
            .push(" AND t.name = ")
            .push_bind(tag.clone())
            .push(")");
    }
    if let Some(v) = &filter.visible_to {
        push_visibility(qb, v, "");
    }
    if let Some(ids) = &filter.ids {
        if ids.is_empty() {
            qb.push(" AND 1 = 0");
        } else {
            qb.push(" AND id IN ");
            push_list(qb, ids.iter().copied());
        }
    }
    if let Some(rule) = &filter.rule {
        super::inboxes::push_rule(qb, ws, rule);
    }
    if let Some((from, to)) = filter.opened {
        qb.push(" AND opened_at >= ").push_bind(from.timestamp_millis());
        qb.push(" AND opened_at < ").push_bind(to.timestamp_millis());
    }
    if let Some(pinned) = filter.pinned {
        qb.push(if pinned { " AND id IN" } else { " AND id NOT IN" })
            .push(" (SELECT conversation_id FROM pins WHERE user_id = ")
            .push_bind(user)
            .push(")");
    }
}

pub(super) async fn open_conversation_in(
    conn: &mut Conn,
    ws: Id,
    contact: Id,
    team: Option<Id>,
    actor: Actor,
) -> StoreResult<Conversation> {
    let exists: Option<Id> = sqlx::query_scalar("SELECT id FROM contacts WHERE workspace_id = $1 AND id = $2")
        .bind(ws)
        .bind(contact)
        .fetch_optional(&mut *conn)
        .await?;
    found(exists, "contact")?;
    let now = now_ms();
    let id: Id = sqlx::query_scalar(
        "INSERT INTO conversations (workspace_id, contact_id, status, team_id, opened_at, opened_by_kind, \
         opened_by_id, last_activity_at) VALUES ($1, $2, 'open', $3, $4, $5, $6, $4) RETURNING id",
    )
    .bind(ws)
    .bind(contact)
    .bind(team)
    .bind(now)
    .bind(actor.kind.as_str())
    .bind(actor.id)
    .fetch_one(&mut *conn)
    .await
    .map_err(already_open)?;
    let data = json!({ "contact_id": contact, "team_id": team, "opened_by": actor });
    append_event(&mut *conn, ws, event("conversation.opened", id, actor, data)).await?;
    let conversation = load_conversation(&mut *conn, ws, id).await?;
    Ok(conversation)
}

pub(super) async fn assign_conversation_in(
    conn: &mut Conn,
    ws: Id,
    id: Id,
    user: Option<Id>,
    team: Option<Id>,
    actor: Actor,
) -> StoreResult<Conversation> {
    let before = load_conversation(&mut *conn, ws, id).await?;
    let now = now_ms();
    sqlx::query("UPDATE conversations SET assignee_id = $1, team_id = $2 WHERE workspace_id = $3 AND id = $4")
        .bind(user)
        .bind(team)
        .bind(ws)
        .bind(id)
        .execute(&mut *conn)
        .await?;
    sqlx::query(
        "INSERT INTO assignments (workspace_id, conversation_id, actor_kind, actor_id, from_user_id, to_user_id, \
         from_team_id, to_team_id, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
    )
    .bind(ws)
    .bind(id)
    .bind(actor.kind.as_str())
    .bind(actor.id)
    .bind(before.assignee_id)
    .bind(user)
    .bind(before.team_id)
    .bind(team)
    .bind(now)
    .execute(&mut *conn)
    .await?;
    let data = json!({
        "from_user_id": before.assignee_id, "to_user_id": user,
        "from_team_id": before.team_id, "to_team_id": team,
    });
    append_event(&mut *conn, ws, event("conversation.assigned", id, actor, data)).await?;
    if let Some(assignee) = user.filter(|u| before.assignee_id != Some(*u)) {
        notify(&mut *conn, ws, assignee, "assignment", id, None, actor).await?;
    }
    let after = load_conversation(&mut *conn, ws, id).await?;
    Ok(after)
}

pub(super) async fn close_conversation_in(
    conn: &mut Conn,
    ws: Id,
    id: Id,
    close: &CloseRequest,
    actor: Actor,
) -> StoreResult<Conversation> {
    let current = load_conversation(&mut *conn, ws, id).await?;
    if current.status != ConversationStatus::Open {
        return Err(StoreError::conflict("conversation_closed", "the conversation is already closed"));
    }
    let now = now_ms();
    sqlx::query(
        "UPDATE conversations SET status = 'closed', closed_at = $1, closed_by_kind = $2, closed_by_id = $3, \
         closing_category_id = $4, closing_summary = $5, last_activity_at = $1 WHERE workspace_id = $6 AND id = $7",
    )
    .bind(now)
    .bind(actor.kind.as_str())
    .bind(actor.id)
    .bind(close.category_id)
    .bind(&close.summary)
    .bind(ws)
    .bind(id)
    .execute(&mut *conn)
    .await?;
    let data = json!({ "category_id": close.category_id, "summary": close.summary, "closed_by": actor });
    append_event(&mut *conn, ws, event("conversation.closed", id, actor, data)).await?;
    let closed = load_conversation(&mut *conn, ws, id).await?;
    Ok(closed)
}

/// Writes a comment by a user or a workflow (`author`), notifies the users it mentions and records the
/// event, inside the caller's transaction.
pub(super) async fn add_comment_in(
    conn: &mut Conn,
    ws: Id,
    conversation: Id,
    author: Actor,
    body: &str,
    mentions: &[Id],
) -> StoreResult<Comment> {
    load_conversation(conn, ws, conversation).await?;
    let (user, workflow) = match author.kind {
        ActorKind::Workflow => (None, author.id),
        _ => (author.id, None),
    };
    let row: CommentRow = sqlx::query_as(
        "INSERT INTO comments (workspace_id, conversation_id, author_id, workflow_id, body, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6) \
         RETURNING id, workspace_id, conversation_id, author_id, workflow_id, body, created_at",
    )
    .bind(ws)
    .bind(conversation)
    .bind(user)
    .bind(workflow)
    .bind(body)
    .bind(now_ms())
    .fetch_one(&mut *conn)
    .await?;
    for &user in mentions {
        sqlx::query(
            "INSERT INTO comment_mentions (comment_id, user_id, workspace_id) VALUES ($1, $2, $3) \
             ON CONFLICT DO NOTHING",
        )
        .bind(row.id)
        .bind(user)
        .bind(ws)
        .execute(&mut *conn)
        .await?;
        notify(conn, ws, user, "mention", conversation, Some(row.id), author).await?;
    }
    let data = json!({ "conversation_id": conversation, "mentions": mentions });
    append_event(conn, ws, event("comment.created", row.id, author, data)).await?;
    Ok(row.into_comment(mentions.to_vec()))
}

pub(super) async fn add_message_in(
    conn: &mut Conn,
    ws: Id,
    conversation: Id,
    message: &NewMessage,
) -> StoreResult<Message> {
    let conv = load_conversation(&mut *conn, ws, conversation).await?;
    let now = now_ms();
    let sql = format!(
        "INSERT INTO messages (workspace_id, conversation_id, contact_id, channel_id, direction, sender_kind, \
         sender_id, content_type, content, provider_message_id, status, created_at, updated_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $12) RETURNING {MESSAGE_COLUMNS}"
    );
    let row: MessageRow = sqlx::query_as(&sql)
        .bind(ws)
        .bind(conversation)
        .bind(conv.contact_id)
        .bind(message.channel_id)
        .bind(message.direction.as_str())
        .bind(message.sender.kind.as_str())
        .bind(message.sender.id)
        .bind(message.content.type_name())
        .bind(to_json(&message.content)?)
        .bind(&message.provider_message_id)
        .bind(message.status.as_str())
        .bind(now)
        .fetch_one(&mut *conn)
        .await
        .map_err(|e| on_unique(e, "duplicate_message", "a message with this provider id already exists"))?;
    let stored = Message::from(row);
    let human_reply = message.direction == Direction::Outgoing && message.sender.kind == ActorKind::User;
    let update = match message.direction {
        Direction::Incoming => {
            "UPDATE conversations SET last_incoming_at = $1, last_activity_at = $1, \
             last_channel_id = COALESCE($2, last_channel_id) WHERE id = $3"
        }
        Direction::Outgoing if human_reply => {
            "UPDATE conversations SET last_outgoing_at = $1, last_activity_at = $1, \
             first_response_at = COALESCE(first_response_at, $1), \
             last_channel_id = COALESCE($2, last_channel_id) WHERE id = $3"
        }
        Direction::Outgoing => {
            "UPDATE conversations SET last_outgoing_at = $1, last_activity_at = $1, \
             last_channel_id = COALESCE($2, last_channel_id) WHERE id = $3"
        }
    };
    sqlx::query(update).bind(now).bind(message.channel_id).bind(conversation).execute(&mut *conn).await?;
    let data = json!({
        "conversation_id": conversation, "contact_id": conv.contact_id,
        "direction": message.direction, "content_type": message.content.type_name(),
    });
    append_event(&mut *conn, ws, event("message.created", stored.id, message.sender, data)).await?;
    if human_reply {
        schedule_auto_close(&mut *conn, ws, conversation, now).await?;
    }
    if message.direction == Direction::Outgoing && message.status == MessageStatus::Pending {
        sqlx::query(
            "INSERT INTO jobs (workspace_id, kind, payload, status, run_at, attempts, max_attempts, created_at, \
             updated_at) VALUES ($1, $2, $3, 'queued', $4, 0, $5, $4, $4)",
        )
        .bind(ws)
        .bind(SEND_MESSAGE_JOB)
        .bind(to_json(&json!({ "message_id": stored.id }))?)
        .bind(now)
        .bind(i64::from(SEND_MESSAGE_MAX_ATTEMPTS))
        .execute(&mut *conn)
        .await?;
    }
    Ok(stored)
}

#[async_trait]
impl ConversationStore for ThisStore {
    async fn open_conversation(
        &self,
        ws: Id,
        contact: Id,
        team: Option<Id>,
        actor: Actor,
    ) -> StoreResult<Conversation> {
        let mut tx = self.begin().await?;
        let out = open_conversation_in(&mut tx, ws, contact, team, actor).await?;
        tx.commit().await?;
        Ok(out)
    }

    async fn get_conversation(&self, ws: Id, id: Id) -> StoreResult<Conversation> {
        load_conversation(&mut *self.pool.acquire().await?, ws, id).await
    }

    async fn list_conversations(
        &self,
        ws: Id,
        filter: &ConversationFilter,
        page: &PageRequest,
    ) -> StoreResult<Page<Conversation>> {
        let mut qb =
            QueryBuilder::<Db>::new(format!("SELECT {CONVERSATION_COLUMNS} FROM conversations WHERE workspace_id = "));
        qb.push_bind(ws);
        push_filter(&mut qb, ws, filter);
        let newest = filter.sort == Sort::Newest;
        if let Some(after) = page.after {
            let before = if newest { " < " } else { " > " };
            qb.push(" AND (last_activity_at")
                .push(before)
                .push_bind(after.key)
                .push(" OR (last_activity_at = ")
                .push_bind(after.key)
                .push(" AND id")
                .push(before)
                .push_bind(after.id)
                .push("))");
        }
        let order = if newest { " DESC" } else { " ASC" };
        qb.push(" ORDER BY last_activity_at").push(order).push(", id").push(order);
        qb.push(" LIMIT ").push_bind(fetch_limit(page));
        let rows: Vec<ConversationRow> = qb.build_query_as().fetch_all(&self.pool).await?;
        let pinned = filter.pinned == Some(true);
        let items = rows.into_iter().map(|r| Conversation { pinned, ..Conversation::from(r) }).collect();
        Ok(Page::from_overfetch(items, clamp_limit(page), |c| Cursor {
            key: c.last_activity_at.timestamp_millis(),
            id: c.id,
        }))
    }

    async fn open_groups(&self, ws: Id) -> StoreResult<Vec<OpenGroup>> {
        // Read from the `conversations_counts` index alone, grouped in its order (no sort).
        let rows: Vec<(Option<Id>, Option<Id>, i64, i64)> = sqlx::query_as(&format!(
            "SELECT team_id, assignee_id, COUNT(*), COALESCE(SUM(CASE WHEN {} THEN 1 ELSE 0 END), 0) \
             FROM conversations WHERE workspace_id = $1 AND status = 'open' GROUP BY team_id, assignee_id",
            awaiting_reply("")
        ))
        .bind(ws)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows
            .into_iter()
            .map(|(team_id, assignee_id, open, unread)| OpenGroup {
                team_id,
                assignee_id,
                open: open as u64,
                unread: unread as u64,
            })
            .collect())
    }

    async fn mentioned_conversations(&self, ws: Id, user: Id) -> StoreResult<Vec<Id>> {
        let ids: Vec<Id> = sqlx::query_scalar(
            "SELECT DISTINCT cm.conversation_id FROM comment_mentions m JOIN comments cm ON cm.id = m.comment_id \
             WHERE m.user_id = $1 AND m.workspace_id = $2",
        )
        .bind(user)
        .bind(ws)
        .fetch_all(&self.pool)
        .await?;
        Ok(ids)
    }

    async fn open_counts(&self, ws: Id, users: &[Id]) -> StoreResult<Vec<(Id, u64)>> {
        if users.is_empty() {
            return Ok(vec![]);
        }
        let mut qb = QueryBuilder::<Db>::new("SELECT assignee_id, COUNT(*) FROM conversations WHERE workspace_id = ");
        qb.push_bind(ws).push(" AND status = 'open' AND assignee_id IN ");
        push_list(&mut qb, users.iter().copied());
        qb.push(" GROUP BY assignee_id");
        let rows: Vec<(Id, i64)> = qb.build_query_as().fetch_all(&self.pool).await?;
        Ok(rows.into_iter().map(|(user, n)| (user, n as u64)).collect())
    }

    async fn count_conversations(&self, ws: Id, filter: &ConversationFilter) -> StoreResult<ViewCount> {
        let unread = format!("CASE WHEN {} THEN 1 ELSE 0 END", awaiting_reply(""));
        let mut qb = QueryBuilder::<Db>::new(format!(
            "SELECT COUNT(*), COALESCE(SUM({unread}), 0) FROM conversations WHERE workspace_id = "
        ));
        qb.push_bind(ws);
        push_filter(&mut qb, ws, filter);
        let (open, unread): (i64, i64) = qb.build_query_as().fetch_one(&self.pool).await?;
        Ok(ViewCount { open: open as u64, unread: unread as u64 })
    }

    async fn assign_conversation(
        &self,
        ws: Id,
        id: Id,
        user: Option<Id>,
        team: Option<Id>,
        actor: Actor,
    ) -> StoreResult<Conversation> {
        let mut tx = self.begin().await?;
        let out = assign_conversation_in(&mut tx, ws, id, user, team, actor).await?;
        tx.commit().await?;
        Ok(out)
    }

    async fn list_assignments(&self, ws: Id, conversation: Id) -> StoreResult<Vec<Assignment>> {
        let rows: Vec<AssignmentRow> = sqlx::query_as(
            "SELECT id, conversation_id, actor_kind, actor_id, from_user_id, to_user_id, from_team_id, to_team_id, \
             created_at FROM assignments WHERE workspace_id = $1 AND conversation_id = $2 ORDER BY id",
        )
        .bind(ws)
        .bind(conversation)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows.into_iter().map(Into::into).collect())
    }

    async fn close_conversation(
        &self,
        ws: Id,
        id: Id,
        close: &CloseRequest,
        actor: Actor,
    ) -> StoreResult<Conversation> {
        let mut tx = self.begin().await?;
        let out = close_conversation_in(&mut tx, ws, id, close, actor).await?;
        tx.commit().await?;
        Ok(out)
    }

    async fn reopen_conversation(&self, ws: Id, id: Id, actor: Actor) -> StoreResult<Conversation> {
        let mut tx = self.begin().await?;
        let current = load_conversation(&mut tx, ws, id).await?;
        if current.status == ConversationStatus::Open {
            return Err(StoreError::conflict("conversation_already_open", "the conversation is already open"));
        }
        sqlx::query(
            "UPDATE conversations SET status = 'open', opened_at = $1, opened_by_kind = $2, opened_by_id = $3, \
             closed_at = NULL, closed_by_kind = NULL, closed_by_id = NULL, closing_category_id = NULL, \
             closing_summary = NULL, last_activity_at = $1 WHERE workspace_id = $4 AND id = $5",
        )
        .bind(now_ms())
        .bind(actor.kind.as_str())
        .bind(actor.id)
        .bind(ws)
        .bind(id)
        .execute(&mut *tx)
        .await
        .map_err(already_open)?;
        let data = json!({ "contact_id": current.contact_id, "reopened": true, "opened_by": actor });
        append_event(&mut tx, ws, event("conversation.opened", id, actor, data)).await?;
        let reopened = load_conversation(&mut tx, ws, id).await?;
        tx.commit().await?;
        Ok(reopened)
    }

    async fn add_message(&self, ws: Id, conversation: Id, message: &NewMessage) -> StoreResult<Message> {
        let mut tx = self.begin().await?;
        let out = add_message_in(&mut tx, ws, conversation, message).await?;
        tx.commit().await?;
        Ok(out)
    }

    async fn get_message(&self, ws: Id, id: Id) -> StoreResult<Message> {
        load_message(&mut *self.pool.acquire().await?, ws, id).await
    }

    async fn last_human_reply_at(&self, ws: Id, conversation: Id) -> StoreResult<Option<Timestamp>> {
        let at: Option<i64> = sqlx::query_scalar(
            "SELECT MAX(created_at) FROM messages WHERE workspace_id = $1 AND conversation_id = $2 \
             AND direction = 'outgoing' AND sender_kind = 'user'",
        )
        .bind(ws)
        .bind(conversation)
        .fetch_one(&self.pool)
        .await?;
        Ok(at.map(ts_from_ms))
    }

    async fn list_messages(&self, ws: Id, conversation: Id, page: &PageRequest) -> StoreResult<Page<Message>> {
        let mut conn = self.pool.acquire().await?;
        load_conversation(&mut conn, ws, conversation).await?;
        let sql = format!(
            "SELECT {MESSAGE_COLUMNS} FROM messages WHERE workspace_id = $1 AND conversation_id = $2 AND id < $3 \
             ORDER BY id DESC LIMIT $4"
        );
        let rows: Vec<MessageRow> = sqlx::query_as(&sql)
            .bind(ws)
            .bind(conversation)
            .bind(page.after.map_or(i64::MAX, |c| c.id))
            .bind(fetch_limit(page))
            .fetch_all(&mut *conn)
            .await?;
        let items = rows.into_iter().map(Message::from).collect();
        Ok(Page::from_overfetch(items, clamp_limit(page), |m| Cursor { key: 0, id: m.id }))
    }

    async fn conversation_summaries(&self, ws: Id, ids: &[Id]) -> StoreResult<Vec<(Id, ConversationSummary)>> {
        if ids.is_empty() {
            return Ok(vec![]);
        }
        // The latest message through the (conversation_id, id) index: one probe per conversation.
        let mut qb = QueryBuilder::<Db>::new(
            "SELECT c.id, c.workspace_id, ct.id, ct.first_name, ct.last_name, ct.phone, ct.email, \
             m.id, m.direction, m.content, m.status, m.channel_id, m.created_at \
             FROM conversations c JOIN contacts ct ON ct.id = c.contact_id \
             LEFT JOIN messages m ON m.id = \
               (SELECT l.id FROM messages l WHERE l.conversation_id = c.id ORDER BY l.id DESC LIMIT 1) \
             WHERE c.id IN ",
        );
        push_list(&mut qb, ids.iter().copied());
        let rows: Vec<SummaryRow> = qb.build_query_as().fetch_all(&self.pool).await?;
        Ok(rows.into_iter().filter(|r| r.1 == ws).map(SummaryRow::into_summary).collect())
    }

    async fn update_message_status(
        &self,
        ws: Id,
        id: Id,
        status: MessageStatus,
        failure_reason: Option<&str>,
    ) -> StoreResult<Message> {
        let mut tx = self.begin().await?;
        let current = load_message(&mut tx, ws, id).await?;
        if !current.status.can_advance_to(status) {
            // A late or repeated receipt: keep the newer state.
            return Ok(current);
        }
        sqlx::query("UPDATE messages SET status = $1, failure_reason = $2, updated_at = $3 WHERE id = $4")
            .bind(status.as_str())
            .bind(failure_reason)
            .bind(now_ms())
            .bind(id)
            .execute(&mut *tx)
            .await?;
        let data = json!({
            "conversation_id": current.conversation_id, "from": current.status, "to": status,
            "failure_reason": failure_reason,
        });
        append_event(&mut tx, ws, event("message.status.updated", id, Actor::system(), data)).await?;
        let updated = load_message(&mut tx, ws, id).await?;
        tx.commit().await?;
        Ok(updated)
    }

    async fn add_comment(
        &self,
        ws: Id,
        conversation: Id,
        author: Id,
        body: &str,
        mentions: &[Id],
    ) -> StoreResult<Comment> {
        let mut tx = self.begin().await?;
        let comment = add_comment_in(&mut tx, ws, conversation, Actor::user(author), body, mentions).await?;
        tx.commit().await?;
        Ok(comment)
    }

    async fn list_comments(&self, ws: Id, conversation: Id, page: &PageRequest) -> StoreResult<Page<Comment>> {
        let mut conn = self.pool.acquire().await?;
        load_conversation(&mut conn, ws, conversation).await?;
        let rows: Vec<CommentRow> = sqlx::query_as(
            "SELECT id, workspace_id, conversation_id, author_id, workflow_id, body, created_at FROM comments \
             WHERE workspace_id = $1 AND conversation_id = $2 AND id > $3 ORDER BY id LIMIT $4",
        )
        .bind(ws)
        .bind(conversation)
        .bind(page.after.map_or(0, |c| c.id))
        .bind(fetch_limit(page))
        .fetch_all(&mut *conn)
        .await?;
        let mut mentions: HashMap<Id, Vec<Id>> = HashMap::new();
        if !rows.is_empty() {
            let mut qb =
                QueryBuilder::<Db>::new("SELECT comment_id, user_id FROM comment_mentions WHERE comment_id IN ");
            push_list(&mut qb, rows.iter().map(|r| r.id));
            qb.push(" ORDER BY user_id");
            let pairs: Vec<(Id, Id)> = qb.build_query_as().fetch_all(&mut *conn).await?;
            for (comment, user) in pairs {
                mentions.entry(comment).or_default().push(user);
            }
        }
        let items = rows
            .into_iter()
            .map(|r| {
                let m = mentions.remove(&r.id).unwrap_or_default();
                r.into_comment(m)
            })
            .collect();
        Ok(Page::from_overfetch(items, clamp_limit(page), |c: &Comment| Cursor { key: 0, id: c.id }))
    }

    async fn set_pin(&self, ws: Id, user: Id, conversation: Id, pinned: bool) -> StoreResult<()> {
        let mut tx = self.begin().await?;
        load_conversation(&mut tx, ws, conversation).await?;
        let changed = if pinned {
            sqlx::query(
                "INSERT INTO pins (user_id, conversation_id, workspace_id, created_at) VALUES ($1, $2, $3, $4) \
                 ON CONFLICT DO NOTHING",
            )
            .bind(user)
            .bind(conversation)
            .bind(ws)
            .bind(now_ms())
            .execute(&mut *tx)
            .await?
        } else {
            sqlx::query("DELETE FROM pins WHERE user_id = $1 AND conversation_id = $2")
                .bind(user)
                .bind(conversation)
                .execute(&mut *tx)
                .await?
        };
        if changed.rows_affected() > 0 {
            let kind = if pinned { "conversation.pinned" } else { "conversation.unpinned" };
            append_event(&mut tx, ws, event(kind, conversation, Actor::user(user), json!({ "user_id": user }))).await?;
        }
        tx.commit().await?;
        Ok(())
    }

    async fn list_pins(&self, ws: Id, user: Id) -> StoreResult<Vec<Id>> {
        Ok(sqlx::query_scalar(
            "SELECT conversation_id FROM pins WHERE workspace_id = $1 AND user_id = $2 ORDER BY created_at DESC",
        )
        .bind(ws)
        .bind(user)
        .fetch_all(&self.pool)
        .await?)
    }
}
