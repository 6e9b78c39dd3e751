//! Accounts: first-run initialisation, users and roles, API tokens, login sessions and authentication.

use chrono::{Duration, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::{actor, require, validate};
use crate::app::App;
use crate::crypto;
use crate::error::{AppError, AppResult};
use crate::model::*;

const MIN_PASSWORD: usize = 8;

fn password(field: &str, value: &str) -> AppResult<String> {
    if value.chars().count() < MIN_PASSWORD {
        return Err(AppError::validation(field, format!("must be at least {MIN_PASSWORD} characters")));
    }
    if value.len() > 1024 {
        return Err(AppError::validation(field, "must be at most 1024 bytes"));
    }
    crypto::hash_password(value).map_err(AppError::internal)
}

/// What `switchboard init` (and the first-run page) creates.
#[derive(Debug, Clone)]
pub struct InitRequest {
    pub organisation: Option<String>,
    pub workspace: String,
    pub email: String,
    pub name: Option<String>,
    pub password: String,
}

/// Creates the organisation, its first workspace and owner; refuses to run twice.
pub async fn init(app: &App, req: InitRequest) -> AppResult<(Organisation, Workspace, User)> {
    let workspace = validate::required("workspace", &req.workspace, 100)?;
    let organisation = match req.organisation.as_deref() {
        Some(o) => validate::required("organisation", o, 100)?,
        None => workspace.clone(),
    };
    let email = validate::email("email", &req.email)?;
    let name = validate::optional("name", req.name.as_deref(), 100)?
        .unwrap_or_else(|| email.split('@').next().unwrap_or_default().to_owned());
    let password_hash = password("password", &req.password)?;
    let owner = NewUser { email, name, password_hash, role: Role::Owner };
    Ok(app.store.init_organisation(&organisation, &workspace, &owner).await?)
}

#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateUser {
    #[schema(format = Email)]
    pub email: String,
    #[schema(min_length = 1, max_length = 100)]
    pub name: String,
    /// At least 8 characters.
    #[schema(min_length = 8)]
    pub password: String,
    pub role: Role,
}

pub async fn create_user(app: &App, who: &Principal, req: CreateUser) -> AppResult<User> {
    require(who, Role::Manager)?;
    if req.role == Role::Owner {
        require(who, Role::Owner)?;
    }
    let user = NewUser {
        email: validate::email("email", &req.email)?,
        name: validate::required("name", &req.name, 100)?,
        password_hash: password("password", &req.password)?,
        role: req.role,
    };
    Ok(app.store.create_user(who.workspace_id, &user, actor(who)).await?)
}

pub async fn update_user(app: &App, who: &Principal, id: Id, req: UserUpdate) -> AppResult<User> {
    require(who, Role::Manager)?;
    let target = app.store.get_user(who.workspace_id, id).await?;
    // Only owners may make or unmake owners.
    if req.role == Some(Role::Owner) || (target.role == Role::Owner && req.role.is_some()) {
        require(who, Role::Owner)?;
    }
    let update =
        UserUpdate { name: req.name.map(|n| validate::required("name", &n, 100)).transpose()?, role: req.role };
    Ok(app.store.update_user(who.workspace_id, id, &update, actor(who)).await?)
}

pub async fn remove_user(app: &App, who: &Principal, id: Id) -> AppResult<()> {
    require(who, Role::Manager)?;
    let target = app.store.get_user(who.workspace_id, id).await?;
    if target.role == Role::Owner {
        require(who, Role::Owner)?;
    }
    Ok(app.store.remove_user(who.workspace_id, id, actor(who)).await?)
}

#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateToken {
    #[schema(min_length = 1, max_length = 100)]
    pub name: String,
    /// The user the token acts as; defaults to the caller. Only managers may create tokens for others.
    #[serde(default)]
    pub user_id: Option<Id>,
}

/// A newly created token: `token` is shown this once and never again.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct CreatedToken {
    #[serde(flatten)]
    pub info: ApiToken,
    pub token: String,
}

pub async fn create_token(app: &App, who: &Principal, req: CreateToken) -> AppResult<CreatedToken> {
    let user = req.user_id.unwrap_or(who.user_id);
    if user != who.user_id {
        require(who, Role::Manager)?;
    }
    issue_token(app, who.workspace_id, user, &req.name, actor(who)).await
}

/// Creates a token for `user` in `ws` (used by the API and by `switchboard token create`).
pub async fn issue_token(app: &App, ws: Id, user: Id, name: &str, by: Actor) -> AppResult<CreatedToken> {
    let name = validate::required("name", name, 100)?;
    let token = crypto::random_token(crypto::TOKEN_PREFIX);
    let prefix: String = token.chars().take(10).collect();
    let info = app.store.create_api_token(ws, user, &name, &crypto::token_hash(&token), &prefix, by).await?;
    Ok(CreatedToken { info, token })
}

/// Agents see their own tokens; managers and owners see all of the workspace's.
pub async fn list_tokens(app: &App, who: &Principal, page: &PageRequest) -> AppResult<Page<ApiToken>> {
    let only = if who.role >= Role::Manager { None } else { Some(who.user_id) };
    Ok(app.store.list_api_tokens(who.workspace_id, only, page).await?)
}

pub async fn delete_token(app: &App, who: &Principal, id: Id) -> AppResult<()> {
    let only = if who.role >= Role::Manager { None } else { Some(who.user_id) };
    Ok(app.store.delete_api_token(who.workspace_id, id, only, actor(who)).await?)
}

/// Finds the caller behind a bearer token.
pub async fn authenticate_token(app: &App, token: &str) -> AppResult<Principal> {
    app.store
        .principal_for_token(&crypto::token_hash(token), Utc::now())
        .await?
        .ok_or_else(|| AppError::Unauthorized("unknown or revoked API token".into()))
}

/// Finds the caller behind a session cookie, with the session's CSRF token.
pub async fn authenticate_session(app: &App, session_id: &str) -> AppResult<Session> {
    app.store
        .session(&crypto::token_hash(session_id), Utc::now())
        .await?
        .ok_or_else(|| AppError::Unauthorized("the session has expired; log in again".into()))
}

#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LoginRequest {
    pub email: String,
    pub password: String,
    /// The workspace to open; defaults to the user's first.
    #[serde(default)]
    pub workspace_id: Option<Id>,
}

/// A started session: the cookie value and the CSRF token the client sends back in `X-CSRF-Token`.
#[derive(Debug, Clone)]
pub struct LoginSession {
    pub session_id: String,
    pub csrf_token: String,
    pub principal: Principal,
    pub expires_at: Timestamp,
}

pub async fn login(app: &App, req: LoginRequest) -> AppResult<LoginSession> {
    let bad = || AppError::Unauthorized("wrong e-mail or password".into());
    let email = req.email.trim().to_lowercase();
    let Some(creds) = app.store.user_credentials(&email).await? else {
        crypto::dummy_verify(&req.password);
        return Err(bad());
    };
    if !crypto::verify_password(&req.password, &creds.password_hash) {
        return Err(bad());
    }
    let memberships = app.store.user_workspaces(creds.id).await?;
    let (workspace, role) = match req.workspace_id {
        Some(ws) => memberships.into_iter().find(|(w, _)| w.id == ws).ok_or(AppError::NotFound("workspace"))?,
        None => memberships
            .into_iter()
            .next()
            .ok_or_else(|| AppError::forbidden("this user is not a member of any workspace"))?,
    };
    let session_id = crypto::random_token("");
    let csrf_token = crypto::random_token("");
    let expires_at = Utc::now() + Duration::hours(i64::from(app.config.security.session_ttl_hours));
    app.store.create_session(&crypto::token_hash(&session_id), creds.id, workspace.id, &csrf_token, expires_at).await?;
    let principal = Principal { user_id: creds.id, workspace_id: workspace.id, role, token_id: None };
    Ok(LoginSession { session_id, csrf_token, principal, expires_at })
}

/// Moves a login session to another workspace of the same user: a new session (new id and CSRF token)
/// replaces the old one. API tokens belong to one workspace and cannot switch.
pub async fn switch_workspace(
    app: &App,
    who: &Principal,
    session_id: Option<&str>,
    workspace_id: Id,
) -> AppResult<LoginSession> {
    let Some(old) = session_id.filter(|_| who.token_id.is_none()) else {
        return Err(AppError::forbidden("only a login session can switch workspace; an API token belongs to one"));
    };
    let memberships = app.store.user_workspaces(who.user_id).await?;
    let (workspace, role) =
        memberships.into_iter().find(|(w, _)| w.id == workspace_id).ok_or(AppError::NotFound("workspace"))?;
    let session_id = crypto::random_token("");
    let csrf_token = crypto::random_token("");
    let expires_at = Utc::now() + Duration::hours(i64::from(app.config.security.session_ttl_hours));
    app.store
        .create_session(&crypto::token_hash(&session_id), who.user_id, workspace.id, &csrf_token, expires_at)
        .await?;
    app.store.delete_session(&crypto::token_hash(old)).await?;
    let principal = Principal { user_id: who.user_id, workspace_id: workspace.id, role, token_id: None };
    Ok(LoginSession { session_id, csrf_token, principal, expires_at })
}

pub async fn logout(app: &App, session_id: &str) -> AppResult<()> {
    Ok(app.store.delete_session(&crypto::token_hash(session_id)).await?)
}

/// The caller, their workspace and the other workspaces they may switch to.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Me {
    pub user: User,
    pub workspace: Workspace,
    pub workspaces: Vec<WorkspaceMembership>,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct WorkspaceMembership {
    pub workspace: Workspace,
    pub role: Role,
}

/// The languages the web app speaks.
pub const LANGUAGES: &[&str] = &["en", "ar"];

/// The caller's language for the web app, kept across browsers (`None`: each browser's own).
pub async fn set_language(app: &App, who: &Principal, language: Option<&str>) -> AppResult<User> {
    if let Some(l) = language
        && !LANGUAGES.contains(&l)
    {
        return Err(AppError::validation("language", format!("must be one of {}", LANGUAGES.join(", "))));
    }
    app.store.set_language(who.user_id, language).await?;
    Ok(app.store.get_user(who.workspace_id, who.user_id).await?)
}

/// The caller's availability (online or away), which teams' auto-assignment may require.
pub async fn set_availability(app: &App, who: &Principal, availability: Availability) -> AppResult<User> {
    app.store.set_availability(who.user_id, availability).await?;
    Ok(app.store.get_user(who.workspace_id, who.user_id).await?)
}

pub async fn me(app: &App, who: &Principal) -> AppResult<Me> {
    let user = app.store.get_user(who.workspace_id, who.user_id).await?;
    let workspace = app.store.get_workspace(who.workspace_id).await?;
    let workspaces = app
        .store
        .user_workspaces(who.user_id)
        .await?
        .into_iter()
        .map(|(workspace, role)| WorkspaceMembership { workspace, role })
        .collect();
    Ok(Me { user, workspace, workspaces })
}

pub async fn update_workspace(app: &App, who: &Principal, req: WorkspaceUpdate) -> AppResult<Workspace> {
    require(who, Role::Manager)?;
    let update = WorkspaceUpdate {
        name: req.name.map(|n| validate::required("name", &n, 100)).transpose()?,
        timezone: req.timezone.map(|t| validate::timezone("timezone", &t)).transpose()?,
        closing_note_mode: req.closing_note_mode,
        auto_close_minutes: req.auto_close_minutes,
        agent_access: req.agent_access,
    };
    if let Some(Some(minutes)) = update.auto_close_minutes
        && !(AUTO_CLOSE_MINUTES.contains(&minutes))
    {
        return Err(AppError::validation("auto_close_minutes", "must be between 30 and 20160 (14 days), or null"));
    }
    // A mode that requires a category with no category to choose would refuse every close.
    if let Some(mode) = update.closing_note_mode
        && mode.requires_category()
        && !super::settings::has_closing_category(app, who.workspace_id).await?
    {
        return Err(AppError::validation(
            "closing_note_mode",
            format!("{} needs at least one closing category; add one first", mode.as_str()),
        ));
    }
    Ok(app.store.update_workspace(who.workspace_id, &update, actor(who)).await?)
}
