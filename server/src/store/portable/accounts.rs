//! Organisations, workspaces, users, memberships, API tokens and sessions.

use async_trait::async_trait;
use serde_json::json;

use super::rows::*;
use super::{Conn, ThisStore, append_event, event, fetch_limit, found, now_ms, on_unique};
use crate::model::*;
use crate::store::{AccountStore, StoreError, StoreResult};

async fn load_workspace(conn: &mut Conn, ws: Id) -> StoreResult<Workspace> {
    let sql = format!("SELECT {WORKSPACE_COLUMNS} FROM workspaces w WHERE w.id = $1");
    let row: Option<WorkspaceRow> = sqlx::query_as(&sql).bind(ws).fetch_optional(&mut *conn).await?;
    Ok(found(row, "workspace")?.into())
}

async fn load_user(conn: &mut Conn, ws: Id, id: Id) -> StoreResult<User> {
    let sql = format!(
        "SELECT {USER_COLUMNS} FROM users u JOIN memberships m ON m.user_id = u.id \
         WHERE m.workspace_id = $1 AND u.id = $2"
    );
    let row: Option<UserRow> = sqlx::query_as(&sql).bind(ws).bind(id).fetch_optional(&mut *conn).await?;
    Ok(found(row, "user")?.into())
}

async fn owner_count(conn: &mut Conn, ws: Id) -> StoreResult<i64> {
    Ok(sqlx::query_scalar("SELECT COUNT(*) FROM memberships WHERE workspace_id = $1 AND role = 'owner'")
        .bind(ws)
        .fetch_one(&mut *conn)
        .await?)
}

#[async_trait]
impl AccountStore for ThisStore {
    async fn init_organisation(
        &self,
        organisation: &str,
        workspace: &str,
        owner: &NewUser,
    ) -> StoreResult<(Organisation, Workspace, User)> {
        let mut tx = self.begin().await?;
        let existing: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM organisations").fetch_one(&mut *tx).await?;
        if existing > 0 {
            return Err(StoreError::conflict("already_initialized", "an organisation already exists"));
        }
        let now = now_ms();
        let org: OrganisationRow = sqlx::query_as(
            "INSERT INTO organisations (name, created_at) VALUES ($1, $2) RETURNING id, name, created_at",
        )
        .bind(organisation)
        .bind(now)
        .fetch_one(&mut *tx)
        .await?;
        let ws_id: Id = sqlx::query_scalar(
            "INSERT INTO workspaces (organisation_id, name, created_at) VALUES ($1, $2, $3) RETURNING id",
        )
        .bind(org.id)
        .bind(workspace)
        .bind(now)
        .fetch_one(&mut *tx)
        .await?;
        let user_id: Id = sqlx::query_scalar(
            "INSERT INTO users (organisation_id, email, name, password_hash, created_at) \
             VALUES ($1, $2, $3, $4, $5) RETURNING id",
        )
        .bind(org.id)
        .bind(&owner.email)
        .bind(&owner.name)
        .bind(&owner.password_hash)
        .bind(now)
        .fetch_one(&mut *tx)
        .await?;
        sqlx::query("INSERT INTO memberships (workspace_id, user_id, role, created_at) VALUES ($1, $2, 'owner', $3)")
            .bind(ws_id)
            .bind(user_id)
            .bind(now)
            .execute(&mut *tx)
            .await?;
        let actor = Actor::system();
        append_event(&mut tx, ws_id, event("workspace.created", ws_id, actor, json!({ "name": workspace }))).await?;
        append_event(&mut tx, ws_id, event("user.created", user_id, actor, json!({ "role": "owner" }))).await?;
        let ws = load_workspace(&mut tx, ws_id).await?;
        let user = load_user(&mut tx, ws_id, user_id).await?;
        tx.commit().await?;
        Ok((org.into(), ws, user))
    }

    async fn is_initialized(&self) -> StoreResult<bool> {
        let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM organisations").fetch_one(&self.pool).await?;
        Ok(n > 0)
    }

    async fn create_workspace(&self, organisation: Id, name: &str, owner: Id) -> StoreResult<Workspace> {
        let mut tx = self.begin().await?;
        let member: Option<Id> = sqlx::query_scalar("SELECT id FROM users WHERE id = $1 AND organisation_id = $2")
            .bind(owner)
            .bind(organisation)
            .fetch_optional(&mut *tx)
            .await?;
        found(member, "user")?;
        let now = now_ms();
        let ws: Id = sqlx::query_scalar(
            "INSERT INTO workspaces (organisation_id, name, created_at) VALUES ($1, $2, $3) RETURNING id",
        )
        .bind(organisation)
        .bind(name)
        .bind(now)
        .fetch_one(&mut *tx)
        .await?;
        sqlx::query("INSERT INTO memberships (workspace_id, user_id, role, created_at) VALUES ($1, $2, 'owner', $3)")
            .bind(ws)
            .bind(owner)
            .bind(now)
            .execute(&mut *tx)
            .await?;
        let actor = Actor::user(owner);
        append_event(&mut tx, ws, event("workspace.created", ws, actor, json!({ "name": name }))).await?;
        let workspace = load_workspace(&mut tx, ws).await?;
        tx.commit().await?;
        Ok(workspace)
    }

    async fn list_all_workspaces(&self) -> StoreResult<Vec<Workspace>> {
        let sql = format!("SELECT {WORKSPACE_COLUMNS} FROM workspaces w ORDER BY w.id");
        let rows: Vec<WorkspaceRow> = sqlx::query_as(&sql).fetch_all(&self.pool).await?;
        Ok(rows.into_iter().map(Into::into).collect())
    }

    async fn get_workspace(&self, ws: Id) -> StoreResult<Workspace> {
        load_workspace(&mut *self.pool.acquire().await?, ws).await
    }

    async fn update_workspace(&self, ws: Id, update: &WorkspaceUpdate, actor: Actor) -> StoreResult<Workspace> {
        let mut tx = self.begin().await?;
        let current = load_workspace(&mut tx, ws).await?;
        let name = update.name.clone().unwrap_or(current.name);
        let timezone = update.timezone.clone().unwrap_or(current.timezone);
        let mode = update.closing_note_mode.unwrap_or(current.closing_note_mode);
        let auto_close = update.auto_close_minutes.unwrap_or(current.auto_close_minutes);
        let access = update.agent_access.unwrap_or(current.agent_access);
        sqlx::query(
            "UPDATE workspaces SET name = $1, timezone = $2, closing_note_mode = $3, auto_close_minutes = $4, \
             agent_access = $5 WHERE id = $6",
        )
        .bind(&name)
        .bind(&timezone)
        .bind(mode.as_str())
        .bind(auto_close.map(i64::from))
        .bind(access.as_str())
        .bind(ws)
        .execute(&mut *tx)
        .await?;
        let data = json!({
            "name": name, "timezone": timezone, "closing_note_mode": mode, "auto_close_minutes": auto_close,
            "agent_access": access,
        });
        append_event(&mut tx, ws, event("workspace.updated", ws, actor, data)).await?;
        let updated = load_workspace(&mut tx, ws).await?;
        tx.commit().await?;
        Ok(updated)
    }

    async fn user_workspaces(&self, user: Id) -> StoreResult<Vec<(Workspace, Role)>> {
        let sql = format!(
            "SELECT {WORKSPACE_COLUMNS}, m.role FROM workspaces w JOIN memberships m ON m.workspace_id = w.id \
             WHERE m.user_id = $1 ORDER BY w.id"
        );
        let rows: Vec<WorkspaceRoleRow> = sqlx::query_as(&sql).bind(user).fetch_all(&self.pool).await?;
        Ok(rows.into_iter().map(Into::into).collect())
    }

    async fn create_user(&self, ws: Id, user: &NewUser, actor: Actor) -> StoreResult<User> {
        let mut tx = self.begin().await?;
        let workspace = load_workspace(&mut tx, ws).await?;
        let now = now_ms();
        let existing: Option<Id> = sqlx::query_scalar("SELECT id FROM users WHERE email = $1")
            .bind(&user.email)
            .fetch_optional(&mut *tx)
            .await?;
        let user_id = match existing {
            Some(id) => id,
            None => {
                sqlx::query_scalar(
                    "INSERT INTO users (organisation_id, email, name, password_hash, created_at) \
                     VALUES ($1, $2, $3, $4, $5) RETURNING id",
                )
                .bind(workspace.organisation_id)
                .bind(&user.email)
                .bind(&user.name)
                .bind(&user.password_hash)
                .bind(now)
                .fetch_one(&mut *tx)
                .await?
            }
        };
        sqlx::query("INSERT INTO memberships (workspace_id, user_id, role, created_at) VALUES ($1, $2, $3, $4)")
            .bind(ws)
            .bind(user_id)
            .bind(user.role.as_str())
            .bind(now)
            .execute(&mut *tx)
            .await
            .map_err(|e| on_unique(e, "user_exists", "a user with this email is already a member"))?;
        append_event(&mut tx, ws, event("user.created", user_id, actor, json!({ "role": user.role }))).await?;
        let created = load_user(&mut tx, ws, user_id).await?;
        tx.commit().await?;
        Ok(created)
    }

    async fn get_user(&self, ws: Id, id: Id) -> StoreResult<User> {
        load_user(&mut *self.pool.acquire().await?, ws, id).await
    }

    async fn set_availability(&self, user: Id, availability: Availability) -> StoreResult<()> {
        // A user's own state, not a workspace's change: no event.
        sqlx::query("UPDATE users SET availability = $1 WHERE id = $2")
            .bind(availability.as_str())
            .bind(user)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    async fn set_language(&self, user: Id, language: Option<&str>) -> StoreResult<()> {
        // A user's own preference, not a workspace's change: no event.
        sqlx::query("UPDATE users SET language = $1 WHERE id = $2")
            .bind(language)
            .bind(user)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    async fn list_users(&self, ws: Id, page: &PageRequest) -> StoreResult<Page<User>> {
        let sql = format!(
            "SELECT {USER_COLUMNS} FROM users u JOIN memberships m ON m.user_id = u.id \
             WHERE m.workspace_id = $1 AND u.id > $2 ORDER BY u.id LIMIT $3"
        );
        let rows: Vec<UserRow> = sqlx::query_as(&sql)
            .bind(ws)
            .bind(page.after.map_or(0, |c| c.id))
            .bind(fetch_limit(page))
            .fetch_all(&self.pool)
            .await?;
        let users = rows.into_iter().map(User::from).collect();
        Ok(Page::from_overfetch(users, super::clamp_limit(page), |u| Cursor { key: 0, id: u.id }))
    }

    async fn update_user(&self, ws: Id, id: Id, update: &UserUpdate, actor: Actor) -> StoreResult<User> {
        let mut tx = self.begin().await?;
        let current = load_user(&mut tx, ws, id).await?;
        if let Some(name) = &update.name {
            sqlx::query("UPDATE users SET name = $1 WHERE id = $2").bind(name).bind(id).execute(&mut *tx).await?;
        }
        if let Some(role) = update.role {
            if current.role == Role::Owner && role != Role::Owner && owner_count(&mut tx, ws).await? <= 1 {
                return Err(StoreError::conflict("last_owner", "a workspace must keep at least one owner"));
            }
            sqlx::query("UPDATE memberships SET role = $1 WHERE workspace_id = $2 AND user_id = $3")
                .bind(role.as_str())
                .bind(ws)
                .bind(id)
                .execute(&mut *tx)
                .await?;
        }
        let data = json!({ "name": update.name, "role": update.role });
        append_event(&mut tx, ws, event("user.updated", id, actor, data)).await?;
        let user = load_user(&mut tx, ws, id).await?;
        tx.commit().await?;
        Ok(user)
    }

    async fn remove_user(&self, ws: Id, id: Id, actor: Actor) -> StoreResult<()> {
        let mut tx = self.begin().await?;
        let current = load_user(&mut tx, ws, id).await?;
        if current.role == Role::Owner && owner_count(&mut tx, ws).await? <= 1 {
            return Err(StoreError::conflict("last_owner", "a workspace must keep at least one owner"));
        }
        for sql in [
            "DELETE FROM memberships WHERE workspace_id = $1 AND user_id = $2",
            "DELETE FROM team_members WHERE workspace_id = $1 AND user_id = $2",
            "DELETE FROM api_tokens WHERE workspace_id = $1 AND user_id = $2",
            "DELETE FROM sessions WHERE workspace_id = $1 AND user_id = $2",
            "UPDATE conversations SET assignee_id = NULL WHERE workspace_id = $1 AND assignee_id = $2",
        ] {
            sqlx::query(sql).bind(ws).bind(id).execute(&mut *tx).await?;
        }
        append_event(&mut tx, ws, event("user.removed", id, actor, json!({}))).await?;
        tx.commit().await?;
        Ok(())
    }

    async fn user_credentials(&self, email: &str) -> StoreResult<Option<UserCredentials>> {
        let row: Option<(Id, String, String)> =
            sqlx::query_as("SELECT id, email, password_hash FROM users WHERE email = $1")
                .bind(email)
                .fetch_optional(&self.pool)
                .await?;
        Ok(row.map(|(id, email, password_hash)| UserCredentials { id, email, password_hash }))
    }

    async fn create_api_token(
        &self,
        ws: Id,
        user: Id,
        name: &str,
        token_hash: &str,
        prefix: &str,
        actor: Actor,
    ) -> StoreResult<ApiToken> {
        let mut tx = self.begin().await?;
        load_user(&mut tx, ws, user).await?;
        let sql = format!(
            "INSERT INTO api_tokens (workspace_id, user_id, name, token_hash, prefix, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6) RETURNING {TOKEN_COLUMNS}"
        );
        let row: TokenRow = sqlx::query_as(&sql)
            .bind(ws)
            .bind(user)
            .bind(name)
            .bind(token_hash)
            .bind(prefix)
            .bind(now_ms())
            .fetch_one(&mut *tx)
            .await?;
        let data = json!({ "user_id": user, "name": name });
        append_event(&mut tx, ws, event("api_token.created", row.id, actor, data)).await?;
        tx.commit().await?;
        Ok(row.into())
    }

    async fn list_api_tokens(&self, ws: Id, user: Option<Id>, page: &PageRequest) -> StoreResult<Page<ApiToken>> {
        let sql = format!(
            "SELECT {TOKEN_COLUMNS} FROM api_tokens WHERE workspace_id = $1 AND ($2 IS NULL OR user_id = $2) \
             AND id > $3 ORDER BY id LIMIT $4"
        );
        let rows: Vec<TokenRow> = sqlx::query_as(&sql)
            .bind(ws)
            .bind(user)
            .bind(page.after.map_or(0, |c| c.id))
            .bind(fetch_limit(page))
            .fetch_all(&self.pool)
            .await?;
        let tokens = rows.into_iter().map(ApiToken::from).collect();
        Ok(Page::from_overfetch(tokens, super::clamp_limit(page), |t| Cursor { key: 0, id: t.id }))
    }

    async fn delete_api_token(&self, ws: Id, id: Id, user: Option<Id>, actor: Actor) -> StoreResult<()> {
        let mut tx = self.begin().await?;
        let done =
            sqlx::query("DELETE FROM api_tokens WHERE workspace_id = $1 AND id = $2 AND ($3 IS NULL OR user_id = $3)")
                .bind(ws)
                .bind(id)
                .bind(user)
                .execute(&mut *tx)
                .await?;
        if done.rows_affected() == 0 {
            return Err(StoreError::NotFound("api token"));
        }
        append_event(&mut tx, ws, event("api_token.deleted", id, actor, json!({}))).await?;
        tx.commit().await?;
        Ok(())
    }

    async fn principal_for_token(&self, token_hash: &str, now: Timestamp) -> StoreResult<Option<Principal>> {
        let row: Option<PrincipalRow> = sqlx::query_as(
            "SELECT t.user_id, t.workspace_id, m.role, t.id AS token_id FROM api_tokens t \
             JOIN memberships m ON m.workspace_id = t.workspace_id AND m.user_id = t.user_id \
             WHERE t.token_hash = $1",
        )
        .bind(token_hash)
        .fetch_optional(&self.pool)
        .await?;
        if let Some(row) = &row {
            // Recording the last use is best effort and coarse (once a minute) to keep reads cheap.
            let now = now.timestamp_millis();
            sqlx::query(
                "UPDATE api_tokens SET last_used_at = $1 WHERE id = $2 \
                 AND (last_used_at IS NULL OR last_used_at < $3)",
            )
            .bind(now)
            .bind(row.token_id)
            .bind(now - 60_000)
            .execute(&self.pool)
            .await?;
        }
        Ok(row.map(Into::into))
    }

    async fn create_session(
        &self,
        token_hash: &str,
        user: Id,
        ws: Id,
        csrf_token: &str,
        expires_at: Timestamp,
    ) -> StoreResult<()> {
        // Expired sessions are useless; sweeping them at each login keeps the table small.
        sqlx::query("DELETE FROM sessions WHERE expires_at <= $1").bind(now_ms()).execute(&self.pool).await?;
        sqlx::query(
            "INSERT INTO sessions (token_hash, workspace_id, user_id, csrf_token, created_at, expires_at) \
             VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(token_hash)
        .bind(ws)
        .bind(user)
        .bind(csrf_token)
        .bind(now_ms())
        .bind(expires_at.timestamp_millis())
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    async fn session(&self, token_hash: &str, now: Timestamp) -> StoreResult<Option<Session>> {
        let row: Option<(Id, Id, String, String, i64)> = sqlx::query_as(
            "SELECT s.user_id, s.workspace_id, m.role, s.csrf_token, s.expires_at FROM sessions s \
             JOIN memberships m ON m.workspace_id = s.workspace_id AND m.user_id = s.user_id \
             WHERE s.token_hash = $1 AND s.expires_at > $2",
        )
        .bind(token_hash)
        .bind(now.timestamp_millis())
        .fetch_optional(&self.pool)
        .await?;
        Ok(row.map(|(user_id, workspace_id, role, csrf_token, expires_at)| Session {
            principal: Principal {
                user_id,
                workspace_id,
                role: Role::parse(&role).unwrap_or(Role::Agent),
                token_id: None,
            },
            csrf_token,
            expires_at: ts_from_ms(expires_at),
        }))
    }

    async fn delete_session(&self, token_hash: &str) -> StoreResult<()> {
        sqlx::query("DELETE FROM sessions WHERE token_hash = $1").bind(token_hash).execute(&self.pool).await?;
        Ok(())
    }
}
