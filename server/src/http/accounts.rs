//! Login sessions, the current user, users and roles, API tokens and the workspace's settings.

use std::sync::Arc;

use axum::extract::State;
use axum::http::StatusCode;
use axum_extra::extract::CookieJar;
use axum_extra::extract::cookie::{Cookie, SameSite};
use serde::Serialize;
use utoipa::ToSchema;
use utoipa_axum::routes;

use super::extract::{Auth, CSRF_COOKIE, Json, Path, Query, SESSION_COOKIE};
use super::{ApiRouter, PageQuery};
use crate::app::App;
use crate::error::{AppResult, ErrorBody};
use crate::model::*;
use crate::service::accounts::{self, CreateToken, CreateUser, CreatedToken, LoginRequest, Me};

pub(super) fn router() -> ApiRouter {
    ApiRouter::new()
        .routes(routes!(setup_state, setup))
        .routes(routes!(login))
        .routes(routes!(switch_workspace))
        .routes(routes!(logout))
        .routes(routes!(me))
        .routes(routes!(set_availability))
        .routes(routes!(set_language))
        .routes(routes!(get_workspace, update_workspace))
        .routes(routes!(list_users, create_user))
        .routes(routes!(get_user, update_user, remove_user))
        .routes(routes!(list_tokens, create_token))
        .routes(routes!(delete_token))
}

#[derive(Debug, Serialize, ToSchema)]
struct LoginResponse {
    #[serde(flatten)]
    me: Me,
    /// Send this back in the `X-CSRF-Token` header of every state-changing request of this session.
    csrf_token: String,
}

/// Starts a session: sets the HttpOnly `sb_session` cookie and the readable `sb_csrf` cookie.
#[utoipa::path(post, path = "/api/v1/auth/login", tag = "auth", security(()), request_body = LoginRequest,
    responses((status = 200, body = LoginResponse), (status = "4XX", body = ErrorBody)))]
async fn login(
    State(app): State<Arc<App>>,
    jar: CookieJar,
    Json(req): Json<LoginRequest>,
) -> AppResult<(CookieJar, Json<LoginResponse>)> {
    start_session(&app, jar, req).await
}

/// Logs in and sets the session's cookies (login, and the owner's first session after setup).
async fn start_session(app: &App, jar: CookieJar, req: LoginRequest) -> AppResult<(CookieJar, Json<LoginResponse>)> {
    let session = accounts::login(app, req).await?;
    with_session(app, jar, session).await
}

/// The session's cookies (`sb_session` HttpOnly, `sb_csrf` readable by the page) and the login answer.
async fn with_session(
    app: &App,
    jar: CookieJar,
    session: accounts::LoginSession,
) -> AppResult<(CookieJar, Json<LoginResponse>)> {
    let max_age = time::Duration::hours(i64::from(app.config.security.session_ttl_hours));
    let secure = app.config.security.cookie_secure;
    let session_cookie = Cookie::build((SESSION_COOKIE, session.session_id))
        .http_only(true)
        .same_site(SameSite::Lax)
        .secure(secure)
        .path("/")
        .max_age(max_age);
    let csrf_cookie = Cookie::build((CSRF_COOKIE, session.csrf_token.clone()))
        .same_site(SameSite::Strict)
        .secure(secure)
        .path("/")
        .max_age(max_age);
    let me = accounts::me(app, &session.principal).await?;
    Ok((jar.add(session_cookie).add(csrf_cookie), Json(LoginResponse { me, csrf_token: session.csrf_token })))
}

#[derive(Debug, serde::Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct SwitchWorkspace {
    workspace_id: Id,
}

/// Moves this login session to another of your workspaces: new session cookies and CSRF token replace the
/// old ones (API tokens belong to one workspace: 403).
#[utoipa::path(post, path = "/api/v1/auth/workspace", tag = "auth", request_body = SwitchWorkspace,
    responses((status = 200, body = LoginResponse), (status = "4XX", body = ErrorBody)))]
async fn switch_workspace(
    State(app): State<Arc<App>>,
    Auth(who): Auth,
    jar: CookieJar,
    Json(req): Json<SwitchWorkspace>,
) -> AppResult<(CookieJar, Json<LoginResponse>)> {
    let current = jar.get(SESSION_COOKIE).map(|c| c.value().to_owned());
    let session = accounts::switch_workspace(&app, &who, current.as_deref(), req.workspace_id).await?;
    with_session(&app, jar, session).await
}

#[derive(Debug, Serialize, ToSchema)]
struct SetupState {
    /// `true` until the organisation, its first workspace and owner exist (first run).
    needed: bool,
}

/// Whether the server still needs its first-run setup (the web app then shows the setup page).
#[utoipa::path(get, path = "/api/v1/setup", tag = "auth", security(()), responses((status = 200, body = SetupState)))]
async fn setup_state(State(app): State<Arc<App>>) -> AppResult<Json<SetupState>> {
    Ok(Json(SetupState { needed: !app.store.is_initialized().await? }))
}

#[derive(Debug, serde::Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct SetupRequest {
    /// Defaults to the workspace's name.
    #[serde(default)]
    #[schema(min_length = 1, max_length = 100)]
    organisation: Option<String>,
    #[schema(min_length = 1, max_length = 100)]
    workspace: String,
    #[schema(format = Email)]
    email: String,
    #[serde(default)]
    name: Option<String>,
    /// At least 8 characters.
    #[schema(min_length = 8)]
    password: String,
}

/// First run: creates the organisation, its first workspace and the owner (what `switchboard init` does) and
/// logs the owner in. Refused with 409 `already_initialized` once an organisation exists.
#[utoipa::path(post, path = "/api/v1/setup", tag = "auth", security(()), request_body = SetupRequest,
    responses((status = 201, body = LoginResponse), (status = "4XX", body = ErrorBody)))]
async fn setup(
    State(app): State<Arc<App>>,
    jar: CookieJar,
    Json(req): Json<SetupRequest>,
) -> AppResult<(StatusCode, CookieJar, Json<LoginResponse>)> {
    let init = accounts::InitRequest {
        organisation: req.organisation,
        workspace: req.workspace,
        email: req.email.clone(),
        name: req.name,
        password: req.password.clone(),
    };
    let (_, workspace, _) = accounts::init(&app, init).await?;
    let login = LoginRequest { email: req.email, password: req.password, workspace_id: Some(workspace.id) };
    let (jar, body) = start_session(&app, jar, login).await?;
    Ok((StatusCode::CREATED, jar, body))
}

/// Ends the current session.
#[utoipa::path(post, path = "/api/v1/auth/logout", tag = "auth", responses((status = 204), (status = "4XX", body = ErrorBody)))]
async fn logout(State(app): State<Arc<App>>, Auth(_who): Auth, jar: CookieJar) -> AppResult<(CookieJar, StatusCode)> {
    if let Some(cookie) = jar.get(SESSION_COOKIE) {
        accounts::logout(&app, cookie.value()).await?;
    }
    let jar = jar.remove(Cookie::build(SESSION_COOKIE).path("/")).remove(Cookie::build(CSRF_COOKIE).path("/"));
    Ok((jar, StatusCode::NO_CONTENT))
}

/// The caller, the workspace the credentials open, and the workspaces they belong to.
#[utoipa::path(get, path = "/api/v1/auth/me", tag = "auth", responses((status = 200, body = Me), (status = "4XX", body = ErrorBody)))]
async fn me(State(app): State<Arc<App>>, Auth(who): Auth) -> AppResult<Json<Me>> {
    Ok(Json(accounts::me(&app, &who).await?))
}

#[derive(Debug, serde::Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct AvailabilityInput {
    /// `online` or `away`.
    availability: Availability,
}

/// Sets whether you are online or away (teams that auto-assign to online members skip those away).
#[utoipa::path(put, path = "/api/v1/auth/me/availability", tag = "auth", request_body = AvailabilityInput,
    responses((status = 200, body = User), (status = "4XX", body = ErrorBody)))]
async fn set_availability(
    State(app): State<Arc<App>>,
    Auth(who): Auth,
    Json(req): Json<AvailabilityInput>,
) -> AppResult<Json<User>> {
    Ok(Json(accounts::set_availability(&app, &who, req.availability).await?))
}

#[derive(Debug, serde::Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct LanguageInput {
    /// `en` or `ar`; `null` lets each browser choose.
    #[schema(pattern = "^(en|ar)$")]
    language: Option<String>,
}

/// Sets the language the web app speaks to you, in every browser you use.
#[utoipa::path(put, path = "/api/v1/auth/me/language", tag = "auth", request_body = LanguageInput,
    responses((status = 200, body = User), (status = "4XX", body = ErrorBody)))]
async fn set_language(
    State(app): State<Arc<App>>,
    Auth(who): Auth,
    Json(req): Json<LanguageInput>,
) -> AppResult<Json<User>> {
    Ok(Json(accounts::set_language(&app, &who, req.language.as_deref()).await?))
}

#[utoipa::path(get, path = "/api/v1/workspace", tag = "workspace", responses((status = 200, body = Workspace), (status = "4XX", body = ErrorBody)))]
async fn get_workspace(State(app): State<Arc<App>>, Auth(who): Auth) -> AppResult<Json<Workspace>> {
    Ok(Json(app.store.get_workspace(who.workspace_id).await?))
}

/// Changes the workspace's name, time zone or closing-note mode (managers and owners).
#[utoipa::path(patch, path = "/api/v1/workspace", tag = "workspace", request_body = WorkspaceUpdate,
    responses((status = 200, body = Workspace), (status = "4XX", body = ErrorBody)))]
async fn update_workspace(
    State(app): State<Arc<App>>,
    Auth(who): Auth,
    Json(req): Json<WorkspaceUpdate>,
) -> AppResult<Json<Workspace>> {
    Ok(Json(accounts::update_workspace(&app, &who, req).await?))
}

#[utoipa::path(get, path = "/api/v1/users", tag = "users", params(PageQuery),
    responses((status = 200, body = Page<User>), (status = "4XX", body = ErrorBody)))]
async fn list_users(
    State(app): State<Arc<App>>,
    Auth(who): Auth,
    Query(q): Query<PageQuery>,
) -> AppResult<Json<Page<User>>> {
    Ok(Json(app.store.list_users(who.workspace_id, &q.page()?).await?))
}

/// Adds a user to the workspace (managers; only owners add owners).
#[utoipa::path(post, path = "/api/v1/users", tag = "users", request_body = CreateUser,
    responses((status = 201, body = User), (status = "4XX", body = ErrorBody)))]
async fn create_user(
    State(app): State<Arc<App>>,
    Auth(who): Auth,
    Json(req): Json<CreateUser>,
) -> AppResult<(StatusCode, Json<User>)> {
    Ok((StatusCode::CREATED, Json(accounts::create_user(&app, &who, req).await?)))
}

#[utoipa::path(get, path = "/api/v1/users/{id}", tag = "users", params(("id" = i64, Path)),
    responses((status = 200, body = User), (status = "4XX", body = ErrorBody)))]
async fn get_user(State(app): State<Arc<App>>, Auth(who): Auth, Path(id): Path<Id>) -> AppResult<Json<User>> {
    Ok(Json(app.store.get_user(who.workspace_id, id).await?))
}

/// Renames a user or changes their role (managers; only owners touch owners).
#[utoipa::path(patch, path = "/api/v1/users/{id}", tag = "users", params(("id" = i64, Path)), request_body = UserUpdate,
    responses((status = 200, body = User), (status = "4XX", body = ErrorBody)))]
async fn update_user(
    State(app): State<Arc<App>>,
    Auth(who): Auth,
    Path(id): Path<Id>,
    Json(req): Json<UserUpdate>,
) -> AppResult<Json<User>> {
    Ok(Json(accounts::update_user(&app, &who, id, req).await?))
}

/// Removes a user from the workspace; their open conversations become unassigned.
#[utoipa::path(delete, path = "/api/v1/users/{id}", tag = "users", params(("id" = i64, Path)),
    responses((status = 204), (status = "4XX", body = ErrorBody)))]
async fn remove_user(State(app): State<Arc<App>>, Auth(who): Auth, Path(id): Path<Id>) -> AppResult<StatusCode> {
    accounts::remove_user(&app, &who, id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// API tokens: an agent sees their own, managers and owners all of the workspace's. Secrets are never listed.
#[utoipa::path(get, path = "/api/v1/tokens", tag = "tokens", params(PageQuery),
    responses((status = 200, body = Page<ApiToken>), (status = "4XX", body = ErrorBody)))]
async fn list_tokens(
    State(app): State<Arc<App>>,
    Auth(who): Auth,
    Query(q): Query<PageQuery>,
) -> AppResult<Json<Page<ApiToken>>> {
    Ok(Json(accounts::list_tokens(&app, &who, &q.page()?).await?))
}

/// Creates a token; the `token` field of the answer is shown only this once.
#[utoipa::path(post, path = "/api/v1/tokens", tag = "tokens", request_body = CreateToken,
    responses((status = 201, body = CreatedToken), (status = "4XX", body = ErrorBody)))]
async fn create_token(
    State(app): State<Arc<App>>,
    Auth(who): Auth,
    Json(req): Json<CreateToken>,
) -> AppResult<(StatusCode, Json<CreatedToken>)> {
    Ok((StatusCode::CREATED, Json(accounts::create_token(&app, &who, req).await?)))
}

/// Revokes a token at once.
#[utoipa::path(delete, path = "/api/v1/tokens/{id}", tag = "tokens", params(("id" = i64, Path)),
    responses((status = 204), (status = "4XX", body = ErrorBody)))]
async fn delete_token(State(app): State<Arc<App>>, Auth(who): Auth, Path(id): Path<Id>) -> AppResult<StatusCode> {
    accounts::delete_token(&app, &who, id).await?;
    Ok(StatusCode::NO_CONTENT)
}
