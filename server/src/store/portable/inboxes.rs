//! Custom inboxes: their rows, and their saved filter turned into SQL conditions on `conversations`.

use async_trait::async_trait;
use serde_json::json;
use sqlx::QueryBuilder;

use super::{Db, ThisStore, append_event, delete_owned, event, found, from_json, now_ms, to_json};
use crate::model::*;
use crate::store::{CustomInboxStore, StoreResult};

/// Appends `AND (rule)` for a custom inbox's filter; columns are those of `conversations` (unqualified).
pub(super) fn push_rule(qb: &mut QueryBuilder<'_, Db>, ws: Id, rule: &Rule) {
    qb.push(" AND ");
    push_one(qb, ws, rule);
}

fn push_one(qb: &mut QueryBuilder<'_, Db>, ws: Id, rule: &Rule) {
    match rule {
        // Nothing to satisfy: all of none holds, any of none does not.
        Rule::And(rules) if rules.is_empty() => {
            qb.push("1 = 1");
        }
        Rule::Or(rules) if rules.is_empty() => {
            qb.push("1 = 0");
        }
        Rule::And(rules) | Rule::Or(rules) => {
            let joiner = if matches!(rule, Rule::And(_)) { " AND " } else { " OR " };
            qb.push("(");
            for (i, r) in rules.iter().enumerate() {
                if i > 0 {
                    qb.push(joiner);
                }
                push_one(qb, ws, r);
            }
            qb.push(")");
        }
        Rule::Tags { names, mode } => {
            let has = |qb: &mut QueryBuilder<'_, Db>, name: &str| {
                qb.push("contact_id IN (SELECT ct.contact_id FROM contact_tags ct JOIN tags t ON t.id = ct.tag_id ")
                    .push("WHERE t.workspace_id = ")
                    .push_bind(ws)
                    .push(" AND t.name = ")
                    .push_bind(name.to_owned())
                    .push(")");
            };
            let (joiner, negate) = match mode {
                TagMode::Any => (" OR ", false),
                TagMode::All => (" AND ", false),
                TagMode::None => (" AND ", true),
            };
            qb.push("(");
            for (i, name) in names.iter().enumerate() {
                if i > 0 {
                    qb.push(joiner);
                }
                if negate {
                    qb.push("NOT ");
                }
                has(qb, name);
            }
            qb.push(")");
        }
        Rule::ContactField { key, custom, test } => {
            // "not equal", "does not contain" and "does not exist" also hold for contacts without the value,
            // so they are written as "not among the contacts where the positive test holds".
            let negated = matches!(test, TextTest::NotEquals(_) | TextTest::NotContains(_) | TextTest::NotExists);
            qb.push(if negated { "contact_id NOT IN" } else { "contact_id IN" });
            qb.push(" (SELECT c.id FROM contacts c WHERE c.workspace_id = ").push_bind(ws).push(" AND ");
            let value = |qb: &mut QueryBuilder<'_, Db>| {
                if *custom {
                    super::super::push_json_text(qb, "c.custom_fields", key);
                } else {
                    // One of the standard columns: the inbox service accepts no other key here.
                    qb.push("c.").push(key.as_str());
                }
            };
            match test {
                TextTest::Equals(v) | TextTest::NotEquals(v) => {
                    qb.push("LOWER(");
                    value(qb);
                    qb.push(") = ").push_bind(v.to_lowercase());
                }
                TextTest::Contains(v) | TextTest::NotContains(v) => {
                    let escaped = v.to_lowercase().replace('\\', "\\\\").replace('%', "\\%").replace('_', "\\_");
                    qb.push("LOWER(");
                    value(qb);
                    qb.push(") LIKE ").push_bind(format!("%{escaped}%")).push(" ESCAPE '\\'");
                }
                TextTest::Exists | TextTest::NotExists => {
                    value(qb);
                    qb.push(" <> ''");
                }
            }
            qb.push(")");
        }
        Rule::Reference { column, test } => {
            match test {
                RefTest::Is(id) => qb.push(*column).push(" = ").push_bind(*id),
                RefTest::IsNot(id) => {
                    qb.push("(").push(*column).push(" IS NULL OR ").push(*column).push(" <> ").push_bind(*id).push(")")
                }
                RefTest::Exists => qb.push(*column).push(" IS NOT NULL"),
                RefTest::NotExists => qb.push(*column).push(" IS NULL"),
            };
        }
        Rule::LastIncoming { minutes, newer } => {
            let since = now_ms() - minutes * 60_000;
            if *newer {
                qb.push("last_incoming_at >= ").push_bind(since);
            } else {
                qb.push("last_incoming_at < ").push_bind(since);
            }
        }
    }
}

const INBOX_COLUMNS: &str = "id, name, owner_id, sharing, user_ids, team_ids, filter, created_at, updated_at";

async fn load_inbox(conn: &mut super::Conn, ws: Id, id: Id) -> StoreResult<CustomInbox> {
    let row: Option<InboxRow> =
        sqlx::query_as(&format!("SELECT {INBOX_COLUMNS} FROM custom_inboxes WHERE workspace_id = $1 AND id = $2"))
            .bind(ws)
            .bind(id)
            .fetch_optional(&mut *conn)
            .await?;
    Ok(found(row, "inbox")?.into())
}

#[async_trait]
impl CustomInboxStore for ThisStore {
    async fn create_inbox(&self, ws: Id, owner: Id, fields: &InboxFields, actor: Actor) -> StoreResult<CustomInbox> {
        let mut tx = self.begin().await?;
        let now = now_ms();
        let id: Id = sqlx::query_scalar(
            "INSERT INTO custom_inboxes (workspace_id, owner_id, name, sharing, user_ids, team_ids, filter, \
             created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $8) RETURNING id",
        )
        .bind(ws)
        .bind(owner)
        .bind(&fields.name)
        .bind(fields.sharing.as_str())
        .bind(to_json(&fields.user_ids)?)
        .bind(to_json(&fields.team_ids)?)
        .bind(to_json(&fields.filter)?)
        .bind(now)
        .fetch_one(&mut *tx)
        .await?;
        let data = json!({ "name": fields.name, "sharing": fields.sharing });
        append_event(&mut tx, ws, event("inbox.created", id, actor, data)).await?;
        let inbox = load_inbox(&mut tx, ws, id).await?;
        tx.commit().await?;
        Ok(inbox)
    }

    async fn get_inbox(&self, ws: Id, id: Id) -> StoreResult<CustomInbox> {
        load_inbox(&mut *self.pool.acquire().await?, ws, id).await
    }

    async fn list_inboxes(&self, ws: Id) -> StoreResult<Vec<CustomInbox>> {
        let rows: Vec<InboxRow> =
            sqlx::query_as(&format!("SELECT {INBOX_COLUMNS} FROM custom_inboxes WHERE workspace_id = $1 ORDER BY id"))
                .bind(ws)
                .fetch_all(&self.pool)
                .await?;
        Ok(rows.into_iter().map(Into::into).collect())
    }

    async fn update_inbox(&self, ws: Id, id: Id, fields: &InboxFields, actor: Actor) -> StoreResult<CustomInbox> {
        let mut tx = self.begin().await?;
        load_inbox(&mut tx, ws, id).await?;
        sqlx::query(
            "UPDATE custom_inboxes SET name = $1, sharing = $2, user_ids = $3, team_ids = $4, filter = $5, \
             updated_at = $6 WHERE workspace_id = $7 AND id = $8",
        )
        .bind(&fields.name)
        .bind(fields.sharing.as_str())
        .bind(to_json(&fields.user_ids)?)
        .bind(to_json(&fields.team_ids)?)
        .bind(to_json(&fields.filter)?)
        .bind(now_ms())
        .bind(ws)
        .bind(id)
        .execute(&mut *tx)
        .await?;
        let data = json!({ "name": fields.name, "sharing": fields.sharing });
        append_event(&mut tx, ws, event("inbox.updated", id, actor, data)).await?;
        let inbox = load_inbox(&mut tx, ws, id).await?;
        tx.commit().await?;
        Ok(inbox)
    }

    async fn delete_inbox(&self, ws: Id, id: Id, actor: Actor) -> StoreResult<()> {
        delete_owned(self, "custom_inboxes", "inbox", "inbox.deleted", ws, id, actor).await
    }
}

#[derive(sqlx::FromRow)]
struct InboxRow {
    id: Id,
    name: String,
    owner_id: Id,
    sharing: String,
    user_ids: String,
    team_ids: String,
    filter: String,
    created_at: i64,
    updated_at: i64,
}

impl From<InboxRow> for CustomInbox {
    fn from(r: InboxRow) -> Self {
        CustomInbox {
            id: r.id,
            name: r.name,
            owner_id: r.owner_id,
            sharing: Sharing::parse(&r.sharing).unwrap_or_default(),
            user_ids: from_json(&r.user_ids),
            team_ids: from_json(&r.team_ids),
            filter: serde_json::from_str(&r.filter).unwrap_or(InboxFilter::And { and: vec![] }),
            created_at: ts_from_ms(r.created_at),
            updated_at: ts_from_ms(r.updated_at),
        }
    }
}
