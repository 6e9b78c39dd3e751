//! The rows the search index is built from, and the conversations a search shows and filters its hits by.

use async_trait::async_trait;
use sqlx::QueryBuilder;

use super::rows::{CONVERSATION_COLUMNS, ConversationRow};
use super::{Db, ThisStore, push_list};
use crate::model::*;
use crate::store::{SearchSourceStore, StoreResult};

/// Appends the rows `pick` names to a `SELECT … FROM table` and orders them by id.
fn push_pick(qb: &mut QueryBuilder<'_, Db>, pick: IndexPick<'_>) {
    match pick {
        IndexPick::After { after, limit } => {
            qb.push(" WHERE id > ").push_bind(after).push(" ORDER BY id LIMIT ").push_bind(i64::from(limit));
        }
        IndexPick::Ids { ws, ids } => {
            qb.push(" WHERE workspace_id = ").push_bind(ws).push(" AND id IN ");
            push_list(qb, ids.iter().copied());
            qb.push(" ORDER BY id");
        }
    }
}

fn is_empty(pick: &IndexPick<'_>) -> bool {
    matches!(pick, IndexPick::Ids { ids, .. } if ids.is_empty())
}

/// The rows of workspace `ws`. Lookups by id leave the workspace out of the SQL: with it, SQLite's planner
/// (which has no statistics) walks the workspace's whole activity index instead of the few ids
/// (bench/search.sh: 10-40 ms at 100k conversations, against well under 1 ms).
fn in_workspace(ws: Id, rows: Vec<ConversationRow>) -> Vec<Conversation> {
    rows.into_iter().map(Conversation::from).filter(|c| c.workspace_id == ws).collect()
}

type ContactRow = (Id, Id, Option<String>, Option<String>, Option<String>, Option<String>, String);
type MessageRow = (Id, Id, Id, Id, String, String, i64);

#[async_trait]
impl SearchSourceStore for ThisStore {
    async fn contacts_to_index(&self, pick: IndexPick<'_>) -> StoreResult<Vec<IndexContact>> {
        if is_empty(&pick) {
            return Ok(vec![]);
        }
        let mut qb = QueryBuilder::<Db>::new(
            "SELECT id, workspace_id, first_name, last_name, phone, email, custom_fields FROM contacts",
        );
        push_pick(&mut qb, pick);
        let rows: Vec<ContactRow> = qb.build_query_as().fetch_all(&self.pool).await?;
        Ok(rows
            .into_iter()
            .map(|(id, workspace_id, first, last, phone, email, custom)| {
                let name = [first, last].into_iter().flatten().collect::<Vec<_>>().join(" ");
                let custom: serde_json::Map<String, serde_json::Value> =
                    serde_json::from_str(&custom).unwrap_or_default();
                let fields = custom
                    .into_iter()
                    .filter_map(|(_, v)| match v {
                        serde_json::Value::String(s) => Some(s),
                        serde_json::Value::Null => None,
                        v => Some(v.to_string()),
                    })
                    .collect();
                IndexContact { id, workspace_id, name, phone, email, fields }
            })
            .collect())
    }

    async fn messages_to_index(&self, pick: IndexPick<'_>) -> StoreResult<Vec<IndexMessage>> {
        if is_empty(&pick) {
            return Ok(vec![]);
        }
        let mut qb = QueryBuilder::<Db>::new(
            "SELECT id, workspace_id, conversation_id, contact_id, direction, content, created_at FROM messages",
        );
        push_pick(&mut qb, pick);
        let rows: Vec<MessageRow> = qb.build_query_as().fetch_all(&self.pool).await?;
        Ok(rows
            .into_iter()
            .map(|(id, workspace_id, conversation_id, contact_id, direction, content, created_at)| IndexMessage {
                id,
                workspace_id,
                conversation_id,
                contact_id,
                direction: Direction::parse(&direction).unwrap_or(Direction::Incoming),
                content: serde_json::from_str(&content).unwrap_or(MessageContent::text(String::new())),
                created_at: ts_from_ms(created_at),
            })
            .collect())
    }

    async fn count_to_index(&self) -> StoreResult<(u64, u64)> {
        let (contacts, messages): (i64, i64) =
            sqlx::query_as("SELECT (SELECT COUNT(*) FROM contacts), (SELECT COUNT(*) FROM messages)")
                .fetch_one(&self.pool)
                .await?;
        Ok((contacts.max(0) as u64, messages.max(0) as u64))
    }

    async fn conversations_by_ids(&self, ws: Id, ids: &[Id]) -> StoreResult<Vec<Conversation>> {
        if ids.is_empty() {
            return Ok(vec![]);
        }
        let mut qb = QueryBuilder::<Db>::new(format!("SELECT {CONVERSATION_COLUMNS} FROM conversations WHERE id IN "));
        push_list(&mut qb, ids.iter().copied());
        let rows: Vec<ConversationRow> = qb.build_query_as().fetch_all(&self.pool).await?;
        Ok(in_workspace(ws, rows))
    }

    async fn conversations_of_contacts(&self, ws: Id, contacts: &[Id]) -> StoreResult<Vec<Conversation>> {
        if contacts.is_empty() {
            return Ok(vec![]);
        }
        let mut qb =
            QueryBuilder::<Db>::new(format!("SELECT {CONVERSATION_COLUMNS} FROM conversations WHERE contact_id IN "));
        push_list(&mut qb, contacts.iter().copied());
        let rows: Vec<ConversationRow> = qb.build_query_as().fetch_all(&self.pool).await?;
        let mut found = in_workspace(ws, rows);
        found.sort_by_key(|c| std::cmp::Reverse((c.last_activity_at, c.id)));
        Ok(found)
    }
}
