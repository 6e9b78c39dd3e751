//! Teams, closing categories, snippets, templates and channels.

use async_trait::async_trait;
use serde_json::json;

use super::rows::*;
use super::{
    Conn, ThisStore, append_event, clamp_limit, delete_owned, event, fetch_limit, found, now_ms, on_unique, to_json,
};
use crate::model::*;
use crate::store::{SettingsStore, StoreError, StoreResult};

fn duplicate_name(e: sqlx::Error) -> StoreError {
    on_unique(e, "already_exists", "an item with this name already exists in the workspace")
}

async fn load_team(conn: &mut Conn, ws: Id, id: Id) -> StoreResult<Team> {
    type TeamRow = (Id, String, String, bool, Option<i64>, i64);
    let row: Option<TeamRow> = sqlx::query_as(
        "SELECT id, name, auto_assign, only_online, max_open_per_user, created_at FROM teams \
         WHERE workspace_id = $1 AND id = $2",
    )
    .bind(ws)
    .bind(id)
    .fetch_optional(&mut *conn)
    .await?;
    let (id, name, auto_assign, only_online, max_open, created_at) = found(row, "team")?;
    let member_ids: Vec<Id> =
        sqlx::query_scalar("SELECT user_id FROM team_members WHERE team_id = $1 ORDER BY user_id")
            .bind(id)
            .fetch_all(&mut *conn)
            .await?;
    Ok(Team {
        id,
        name,
        member_ids,
        auto_assign: AutoAssign::parse(&auto_assign).unwrap_or_default(),
        only_online,
        max_open_per_user: max_open.and_then(|m| u32::try_from(m).ok()),
        created_at: ts_from_ms(created_at),
    })
}

async fn load_snippet(conn: &mut Conn, ws: Id, id: Id) -> StoreResult<Snippet> {
    let row: Option<SnippetRow> = sqlx::query_as(
        "SELECT id, shortcut, body, created_at, updated_at FROM snippets WHERE workspace_id = $1 AND id = $2",
    )
    .bind(ws)
    .bind(id)
    .fetch_optional(&mut *conn)
    .await?;
    Ok(found(row, "snippet")?.into())
}

async fn load_template(conn: &mut Conn, ws: Id, id: Id) -> StoreResult<Template> {
    let sql = format!("SELECT {TEMPLATE_COLUMNS} FROM templates WHERE workspace_id = $1 AND id = $2");
    let row: Option<TemplateRow> = sqlx::query_as(&sql).bind(ws).bind(id).fetch_optional(&mut *conn).await?;
    Ok(found(row, "template")?.into())
}

async fn check_channel(conn: &mut Conn, ws: Id, channel: Option<Id>) -> StoreResult<()> {
    if let Some(channel) = channel {
        let row: Option<Id> = sqlx::query_scalar("SELECT id FROM channels WHERE workspace_id = $1 AND id = $2")
            .bind(ws)
            .bind(channel)
            .fetch_optional(&mut *conn)
            .await?;
        found(row, "channel")?;
    }
    Ok(())
}

#[async_trait]
impl SettingsStore for ThisStore {
    async fn create_team(&self, ws: Id, name: &str, actor: Actor) -> StoreResult<Team> {
        let mut tx = self.begin().await?;
        let id: Id =
            sqlx::query_scalar("INSERT INTO teams (workspace_id, name, created_at) VALUES ($1, $2, $3) RETURNING id")
                .bind(ws)
                .bind(name)
                .bind(now_ms())
                .fetch_one(&mut *tx)
                .await
                .map_err(duplicate_name)?;
        append_event(&mut tx, ws, event("team.created", id, actor, json!({ "name": name }))).await?;
        let team = load_team(&mut tx, ws, id).await?;
        tx.commit().await?;
        Ok(team)
    }

    async fn get_team(&self, ws: Id, id: Id) -> StoreResult<Team> {
        load_team(&mut *self.pool.acquire().await?, ws, id).await
    }

    async fn round_robin_position(&self, ws: Id, team: Option<Id>) -> StoreResult<Option<Id>> {
        let last: Option<Option<Id>> = match team {
            Some(team) => sqlx::query_scalar("SELECT last_assigned_id FROM teams WHERE workspace_id = $1 AND id = $2")
                .bind(ws)
                .bind(team),
            None => sqlx::query_scalar("SELECT last_assigned_id FROM workspaces WHERE id = $1").bind(ws),
        }
        .fetch_optional(&self.pool)
        .await?;
        Ok(last.flatten())
    }

    async fn set_round_robin_position(&self, ws: Id, team: Option<Id>, user: Id) -> StoreResult<()> {
        match team {
            Some(team) => sqlx::query("UPDATE teams SET last_assigned_id = $1 WHERE workspace_id = $2 AND id = $3")
                .bind(user)
                .bind(ws)
                .bind(team),
            None => sqlx::query("UPDATE workspaces SET last_assigned_id = $1 WHERE id = $2").bind(user).bind(ws),
        }
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    async fn team_ids(&self, ws: Id) -> StoreResult<Vec<Id>> {
        let ids: Vec<Id> = sqlx::query_scalar("SELECT id FROM teams WHERE workspace_id = $1 ORDER BY id")
            .bind(ws)
            .fetch_all(&self.pool)
            .await?;
        Ok(ids)
    }

    async fn user_team_ids(&self, ws: Id, user: Id) -> StoreResult<Vec<Id>> {
        let ids: Vec<Id> = sqlx::query_scalar(
            "SELECT team_id FROM team_members WHERE workspace_id = $1 AND user_id = $2 ORDER BY team_id",
        )
        .bind(ws)
        .bind(user)
        .fetch_all(&self.pool)
        .await?;
        Ok(ids)
    }

    async fn list_teams(&self, ws: Id, page: &PageRequest) -> StoreResult<Page<Team>> {
        let mut conn = self.pool.acquire().await?;
        let ids: Vec<Id> =
            sqlx::query_scalar("SELECT id FROM teams WHERE workspace_id = $1 AND id > $2 ORDER BY id LIMIT $3")
                .bind(ws)
                .bind(page.after.map_or(0, |c| c.id))
                .bind(fetch_limit(page))
                .fetch_all(&mut *conn)
                .await?;
        let mut teams = Vec::with_capacity(ids.len());
        for id in ids {
            teams.push(load_team(&mut conn, ws, id).await?);
        }
        Ok(Page::from_overfetch(teams, clamp_limit(page), |t| Cursor { key: 0, id: t.id }))
    }

    async fn update_team(&self, ws: Id, id: Id, settings: &TeamSettings, actor: Actor) -> StoreResult<Team> {
        let mut tx = self.begin().await?;
        load_team(&mut tx, ws, id).await?;
        sqlx::query(
            "UPDATE teams SET name = $1, auto_assign = $2, only_online = $3, max_open_per_user = $4 \
             WHERE workspace_id = $5 AND id = $6",
        )
        .bind(&settings.name)
        .bind(settings.auto_assign.as_str())
        .bind(settings.only_online)
        .bind(settings.max_open_per_user.map(i64::from))
        .bind(ws)
        .bind(id)
        .execute(&mut *tx)
        .await
        .map_err(duplicate_name)?;
        let data = json!({
            "name": settings.name, "auto_assign": settings.auto_assign, "only_online": settings.only_online,
            "max_open_per_user": settings.max_open_per_user,
        });
        append_event(&mut tx, ws, event("team.updated", id, actor, data)).await?;
        let team = load_team(&mut tx, ws, id).await?;
        tx.commit().await?;
        Ok(team)
    }

    async fn delete_team(&self, ws: Id, id: Id, actor: Actor) -> StoreResult<()> {
        delete_owned(self, "teams", "team", "team.deleted", ws, id, actor).await
    }

    async fn set_team_member(&self, ws: Id, team: Id, user: Id, member: bool, actor: Actor) -> StoreResult<Team> {
        let mut tx = self.begin().await?;
        load_team(&mut tx, ws, team).await?;
        let is_member: Option<Id> =
            sqlx::query_scalar("SELECT user_id FROM memberships WHERE workspace_id = $1 AND user_id = $2")
                .bind(ws)
                .bind(user)
                .fetch_optional(&mut *tx)
                .await?;
        found(is_member, "user")?;
        let changed = if member {
            sqlx::query(
                "INSERT INTO team_members (team_id, user_id, workspace_id) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING",
            )
            .bind(team)
            .bind(user)
            .bind(ws)
            .execute(&mut *tx)
            .await?
        } else {
            sqlx::query("DELETE FROM team_members WHERE team_id = $1 AND user_id = $2")
                .bind(team)
                .bind(user)
                .execute(&mut *tx)
                .await?
        };
        if changed.rows_affected() > 0 {
            let kind = if member { "team.member_added" } else { "team.member_removed" };
            append_event(&mut tx, ws, event(kind, team, actor, json!({ "user_id": user }))).await?;
        }
        let updated = load_team(&mut tx, ws, team).await?;
        tx.commit().await?;
        Ok(updated)
    }

    async fn create_closing_category(&self, ws: Id, name: &str, actor: Actor) -> StoreResult<ClosingCategory> {
        let mut tx = self.begin().await?;
        let row: NamedRow = sqlx::query_as(
            "INSERT INTO closing_categories (workspace_id, name, created_at) VALUES ($1, $2, $3) \
             RETURNING id, name, created_at",
        )
        .bind(ws)
        .bind(name)
        .bind(now_ms())
        .fetch_one(&mut *tx)
        .await
        .map_err(duplicate_name)?;
        append_event(&mut tx, ws, event("closing_category.created", row.id, actor, json!({ "name": name }))).await?;
        tx.commit().await?;
        Ok(row.into())
    }

    async fn list_closing_categories(&self, ws: Id, page: &PageRequest) -> StoreResult<Page<ClosingCategory>> {
        self.list_by_id::<NamedRow, ClosingCategory>("closing_categories", "id, name, created_at", ws, page, |c| c.id)
            .await
    }

    async fn get_closing_category(&self, ws: Id, id: Id) -> StoreResult<ClosingCategory> {
        let row: Option<NamedRow> =
            sqlx::query_as("SELECT id, name, created_at FROM closing_categories WHERE workspace_id = $1 AND id = $2")
                .bind(ws)
                .bind(id)
                .fetch_optional(&self.pool)
                .await?;
        Ok(found(row, "closing category")?.into())
    }

    async fn delete_closing_category(&self, ws: Id, id: Id, actor: Actor) -> StoreResult<()> {
        delete_owned(self, "closing_categories", "closing category", "closing_category.deleted", ws, id, actor).await
    }

    async fn create_snippet(&self, ws: Id, shortcut: &str, body: &str, actor: Actor) -> StoreResult<Snippet> {
        let mut tx = self.begin().await?;
        let id: Id = sqlx::query_scalar(
            "INSERT INTO snippets (workspace_id, shortcut, body, created_at, updated_at) VALUES ($1, $2, $3, $4, $4) \
             RETURNING id",
        )
        .bind(ws)
        .bind(shortcut)
        .bind(body)
        .bind(now_ms())
        .fetch_one(&mut *tx)
        .await
        .map_err(|e| on_unique(e, "already_exists", "a snippet with this shortcut already exists"))?;
        append_event(&mut tx, ws, event("snippet.created", id, actor, json!({ "shortcut": shortcut }))).await?;
        let snippet = load_snippet(&mut tx, ws, id).await?;
        tx.commit().await?;
        Ok(snippet)
    }

    async fn get_snippet(&self, ws: Id, id: Id) -> StoreResult<Snippet> {
        load_snippet(&mut *self.pool.acquire().await?, ws, id).await
    }

    async fn list_snippets(&self, ws: Id, page: &PageRequest) -> StoreResult<Page<Snippet>> {
        self.list_by_id::<SnippetRow, Snippet>(
            "snippets",
            "id, shortcut, body, created_at, updated_at",
            ws,
            page,
            |s| s.id,
        )
        .await
    }

    async fn search_snippets(&self, ws: Id, q: &str, limit: u32) -> StoreResult<Vec<Snippet>> {
        // LIKE's wildcards in what was typed match themselves.
        let escaped = q.to_lowercase().replace('\\', "\\\\").replace('%', "\\%").replace('_', "\\_");
        let rows: Vec<SnippetRow> = sqlx::query_as(
            "SELECT id, shortcut, body, created_at, updated_at FROM snippets WHERE workspace_id = $1 \
             AND (LOWER(shortcut) LIKE $2 ESCAPE '\\' OR LOWER(body) LIKE $3 ESCAPE '\\') \
             ORDER BY CASE WHEN LOWER(shortcut) LIKE $2 ESCAPE '\\' THEN 0 ELSE 1 END, shortcut LIMIT $4",
        )
        .bind(ws)
        .bind(format!("{escaped}%"))
        .bind(format!("%{escaped}%"))
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await?;
        Ok(rows.into_iter().map(Into::into).collect())
    }

    async fn update_snippet(&self, ws: Id, id: Id, shortcut: &str, body: &str, actor: Actor) -> StoreResult<Snippet> {
        let mut tx = self.begin().await?;
        load_snippet(&mut tx, ws, id).await?;
        sqlx::query(
            "UPDATE snippets SET shortcut = $1, body = $2, updated_at = $3 WHERE workspace_id = $4 AND id = $5",
        )
        .bind(shortcut)
        .bind(body)
        .bind(now_ms())
        .bind(ws)
        .bind(id)
        .execute(&mut *tx)
        .await
        .map_err(|e| on_unique(e, "already_exists", "a snippet with this shortcut already exists"))?;
        append_event(&mut tx, ws, event("snippet.updated", id, actor, json!({ "shortcut": shortcut }))).await?;
        let snippet = load_snippet(&mut tx, ws, id).await?;
        tx.commit().await?;
        Ok(snippet)
    }

    async fn delete_snippet(&self, ws: Id, id: Id, actor: Actor) -> StoreResult<()> {
        delete_owned(self, "snippets", "snippet", "snippet.deleted", ws, id, actor).await
    }

    async fn create_template(&self, ws: Id, fields: &TemplateFields, actor: Actor) -> StoreResult<Template> {
        let mut tx = self.begin().await?;
        check_channel(&mut tx, ws, fields.channel_id).await?;
        let now = now_ms();
        let id: Id = sqlx::query_scalar(
            "INSERT INTO templates (workspace_id, channel_id, name, language, category, components, status, \
             created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $8) RETURNING id",
        )
        .bind(ws)
        .bind(fields.channel_id)
        .bind(&fields.name)
        .bind(&fields.language)
        .bind(fields.category.as_str())
        .bind(to_json(&fields.components)?)
        .bind(&fields.status)
        .bind(now)
        .fetch_one(&mut *tx)
        .await
        .map_err(|e| on_unique(e, "already_exists", "a template with this name and language already exists"))?;
        let data = json!({ "name": fields.name, "language": fields.language });
        append_event(&mut tx, ws, event("template.created", id, actor, data)).await?;
        let template = load_template(&mut tx, ws, id).await?;
        tx.commit().await?;
        Ok(template)
    }

    async fn sync_templates(&self, ws: Id, channel: Id, templates: &[TemplateFields]) -> StoreResult<TemplateSync> {
        let mut tx = self.begin().await?;
        check_channel(&mut tx, ws, Some(channel)).await?;
        let now = now_ms();
        let mut report = TemplateSync::default();
        let mut kept = Vec::new();
        for t in templates {
            let current: Option<(Id, String, String, String)> = sqlx::query_as(
                "SELECT id, category, components, status FROM templates \
                 WHERE workspace_id = $1 AND channel_id = $2 AND name = $3 AND language = $4",
            )
            .bind(ws)
            .bind(channel)
            .bind(&t.name)
            .bind(&t.language)
            .fetch_optional(&mut *tx)
            .await?;
            let components = to_json(&t.components)?;
            match current {
                Some((id, category, stored, status))
                    if category == t.category.as_str() && stored == components && status == t.status =>
                {
                    report.unchanged += 1;
                    kept.push(id);
                }
                Some((id, ..)) => {
                    sqlx::query(
                        "UPDATE templates SET category = $1, components = $2, status = $3, updated_at = $4 WHERE id = $5",
                    )
                    .bind(t.category.as_str())
                    .bind(&components)
                    .bind(&t.status)
                    .bind(now)
                    .bind(id)
                    .execute(&mut *tx)
                    .await?;
                    report.updated += 1;
                    kept.push(id);
                }
                None => {
                    let id: Id = sqlx::query_scalar(
                        "INSERT INTO templates (workspace_id, channel_id, name, language, category, components, status, \
                         created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $8) RETURNING id",
                    )
                    .bind(ws)
                    .bind(channel)
                    .bind(&t.name)
                    .bind(&t.language)
                    .bind(t.category.as_str())
                    .bind(&components)
                    .bind(&t.status)
                    .bind(now)
                    .fetch_one(&mut *tx)
                    .await?;
                    report.created += 1;
                    kept.push(id);
                }
            }
        }
        let stale: Vec<Id> = sqlx::query_scalar(
            "SELECT id FROM templates WHERE workspace_id = $1 AND channel_id = $2 AND status <> 'deleted'",
        )
        .bind(ws)
        .bind(channel)
        .fetch_all(&mut *tx)
        .await?;
        for id in stale.into_iter().filter(|id| !kept.contains(id)) {
            sqlx::query("UPDATE templates SET status = 'deleted', updated_at = $1 WHERE id = $2")
                .bind(now)
                .bind(id)
                .execute(&mut *tx)
                .await?;
            report.deleted += 1;
        }
        if report != (TemplateSync { unchanged: report.unchanged, ..Default::default() }) {
            let data = json!({ "channel_id": channel, "report": report });
            append_event(&mut tx, ws, event("templates.synced", channel, Actor::system(), data)).await?;
        }
        tx.commit().await?;
        Ok(report)
    }

    async fn get_template(&self, ws: Id, id: Id) -> StoreResult<Template> {
        load_template(&mut *self.pool.acquire().await?, ws, id).await
    }

    async fn list_templates(&self, ws: Id, page: &PageRequest) -> StoreResult<Page<Template>> {
        self.list_by_id::<TemplateRow, Template>("templates", TEMPLATE_COLUMNS, ws, page, |t| t.id).await
    }

    async fn update_template(&self, ws: Id, id: Id, fields: &TemplateFields, actor: Actor) -> StoreResult<Template> {
        let mut tx = self.begin().await?;
        load_template(&mut tx, ws, id).await?;
        check_channel(&mut tx, ws, fields.channel_id).await?;
        sqlx::query(
            "UPDATE templates SET channel_id = $1, name = $2, language = $3, category = $4, components = $5, \
             status = $6, updated_at = $7 WHERE workspace_id = $8 AND id = $9",
        )
        .bind(fields.channel_id)
        .bind(&fields.name)
        .bind(&fields.language)
        .bind(fields.category.as_str())
        .bind(to_json(&fields.components)?)
        .bind(&fields.status)
        .bind(now_ms())
        .bind(ws)
        .bind(id)
        .execute(&mut *tx)
        .await
        .map_err(|e| on_unique(e, "already_exists", "a template with this name and language already exists"))?;
        let data = json!({ "name": fields.name, "language": fields.language });
        append_event(&mut tx, ws, event("template.updated", id, actor, data)).await?;
        let template = load_template(&mut tx, ws, id).await?;
        tx.commit().await?;
        Ok(template)
    }

    async fn delete_template(&self, ws: Id, id: Id, actor: Actor) -> StoreResult<()> {
        delete_owned(self, "templates", "template", "template.deleted", ws, id, actor).await
    }

    async fn create_channel(&self, ws: Id, fields: &ChannelFields, actor: Actor) -> StoreResult<Channel> {
        let mut tx = self.begin().await?;
        let sql = format!(
            "INSERT INTO channels (workspace_id, name, plugin_id, config, secret_names, secrets_sealed, enabled, \
             created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING {CHANNEL_COLUMNS}"
        );
        let row: ChannelRow = sqlx::query_as(&sql)
            .bind(ws)
            .bind(&fields.name)
            .bind(&fields.plugin_id)
            .bind(to_json(&fields.config)?)
            .bind(to_json(&fields.secret_names)?)
            .bind(&fields.secrets_sealed)
            .bind(fields.enabled)
            .bind(now_ms())
            .fetch_one(&mut *tx)
            .await
            .map_err(duplicate_name)?;
        let channel = Channel::from(row);
        let data = json!({ "name": fields.name, "plugin_id": fields.plugin_id });
        append_event(&mut tx, ws, event("channel.created", channel.id, actor, data)).await?;
        tx.commit().await?;
        Ok(channel)
    }

    async fn get_channel(&self, ws: Id, id: Id) -> StoreResult<Channel> {
        let sql = format!("SELECT {CHANNEL_COLUMNS} FROM channels WHERE workspace_id = $1 AND id = $2");
        let row: Option<ChannelRow> = sqlx::query_as(&sql).bind(ws).bind(id).fetch_optional(&self.pool).await?;
        Ok(found(row, "channel")?.into())
    }

    async fn list_channels(&self, ws: Id, page: &PageRequest) -> StoreResult<Page<Channel>> {
        self.list_by_id::<ChannelRow, Channel>("channels", CHANNEL_COLUMNS, ws, page, |c| c.id).await
    }

    async fn channel_secrets(&self, ws: Id, id: Id) -> StoreResult<String> {
        let row: Option<String> =
            sqlx::query_scalar("SELECT secrets_sealed FROM channels WHERE workspace_id = $1 AND id = $2")
                .bind(ws)
                .bind(id)
                .fetch_optional(&self.pool)
                .await?;
        found(row, "channel")
    }

    async fn update_channel(&self, ws: Id, id: Id, fields: &ChannelFields, actor: Actor) -> StoreResult<Channel> {
        let mut tx = self.begin().await?;
        let done = sqlx::query(
            "UPDATE channels SET name = $1, config = $2, secret_names = $3, secrets_sealed = $4, enabled = $5 \
             WHERE workspace_id = $6 AND id = $7",
        )
        .bind(&fields.name)
        .bind(to_json(&fields.config)?)
        .bind(to_json(&fields.secret_names)?)
        .bind(&fields.secrets_sealed)
        .bind(fields.enabled)
        .bind(ws)
        .bind(id)
        .execute(&mut *tx)
        .await
        .map_err(duplicate_name)?;
        if done.rows_affected() == 0 {
            return Err(StoreError::NotFound("channel"));
        }
        let data = json!({ "name": fields.name, "enabled": fields.enabled, "secret_names": fields.secret_names });
        append_event(&mut tx, ws, event("channel.updated", id, actor, data)).await?;
        let sql = format!("SELECT {CHANNEL_COLUMNS} FROM channels WHERE id = $1");
        let row: ChannelRow = sqlx::query_as(&sql).bind(id).fetch_one(&mut *tx).await?;
        tx.commit().await?;
        Ok(row.into())
    }

    async fn delete_channel(&self, ws: Id, id: Id, actor: Actor) -> StoreResult<()> {
        delete_owned(self, "channels", "channel", "channel.deleted", ws, id, actor).await
    }
}
