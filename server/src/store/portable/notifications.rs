//! Per-user notifications: written beside the comment or assignment that causes them, listed newest
//! first, marked read.

use async_trait::async_trait;
use sqlx::QueryBuilder;

use super::rows::*;
use super::{Conn, Db, ThisStore, clamp_limit, fetch_limit, now_ms, push_list};
use crate::model::*;
use crate::store::{NotificationStore, StoreResult};

/// Tells `user` about `conversation`, in the caller's transaction; nobody is told about their own doing.
pub(super) async fn notify(
    conn: &mut Conn,
    ws: Id,
    user: Id,
    kind: &'static str,
    conversation: Id,
    comment: Option<Id>,
    actor: Actor,
) -> StoreResult<()> {
    if actor.kind == ActorKind::User && actor.id == Some(user) {
        return Ok(());
    }
    sqlx::query(
        "INSERT INTO notifications (workspace_id, user_id, kind, conversation_id, comment_id, actor_kind, actor_id, \
         created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
    )
    .bind(ws)
    .bind(user)
    .bind(kind)
    .bind(conversation)
    .bind(comment)
    .bind(actor.kind.as_str())
    .bind(actor.id)
    .bind(now_ms())
    .execute(&mut *conn)
    .await?;
    Ok(())
}

#[async_trait]
impl NotificationStore for ThisStore {
    async fn list_notifications(
        &self,
        ws: Id,
        user: Id,
        unread_only: bool,
        page: &PageRequest,
    ) -> StoreResult<Page<Notification>> {
        let mut qb =
            QueryBuilder::<Db>::new(format!("SELECT {NOTIFICATION_COLUMNS} FROM notifications WHERE workspace_id = "));
        qb.push_bind(ws).push(" AND user_id = ").push_bind(user);
        if unread_only {
            qb.push(" AND read_at IS NULL");
        }
        if let Some(after) = page.after {
            qb.push(" AND id < ").push_bind(after.id);
        }
        qb.push(" ORDER BY id DESC LIMIT ").push_bind(fetch_limit(page));
        let rows: Vec<NotificationRow> = qb.build_query_as().fetch_all(&self.pool).await?;
        let items = rows.into_iter().map(Notification::from).collect();
        Ok(Page::from_overfetch(items, clamp_limit(page), |n: &Notification| Cursor { key: 0, id: n.id }))
    }

    async fn mark_notifications_read(&self, ws: Id, user: Id, ids: Option<&[Id]>) -> StoreResult<u64> {
        let mut qb = QueryBuilder::<Db>::new("UPDATE notifications SET read_at = ");
        qb.push_bind(now_ms()).push(" WHERE workspace_id = ").push_bind(ws);
        qb.push(" AND user_id = ").push_bind(user).push(" AND read_at IS NULL");
        if let Some(ids) = ids {
            if ids.is_empty() {
                return Ok(0);
            }
            qb.push(" AND id IN ");
            push_list(&mut qb, ids.iter().copied());
        }
        Ok(qb.build().execute(&self.pool).await?.rows_affected())
    }

    async fn unread_notifications(&self, ws: Id, user: Id) -> StoreResult<u64> {
        let n: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM notifications WHERE workspace_id = $1 AND user_id = $2 AND read_at IS NULL",
        )
        .bind(ws)
        .bind(user)
        .fetch_one(&self.pool)
        .await?;
        Ok(n as u64)
    }
}
