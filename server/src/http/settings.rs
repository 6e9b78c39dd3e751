//! Workspace settings resources: teams, tags, closing categories, snippets, templates and channels.

use std::sync::Arc;

use axum::extract::State;
use axum::http::StatusCode;
use serde::Deserialize;
use utoipa::IntoParams;
use utoipa_axum::routes;

use super::extract::{Auth, Json, Path, Query};
use super::{ApiRouter, PageQuery};
use crate::app::App;
use crate::error::{AppResult, ErrorBody};
use crate::model::*;
use crate::service::settings::{
    self, ChannelInput, ChannelUpdate, ChannelView, NameInput, SnippetInput, TagInput, TeamUpdate, TemplateInput,
};

pub(super) fn router() -> ApiRouter {
    ApiRouter::new()
        .routes(routes!(list_teams, create_team))
        .routes(routes!(get_team, update_team, delete_team))
        .routes(routes!(add_team_member, remove_team_member))
        .routes(routes!(list_tags, create_tag))
        .routes(routes!(delete_tag))
        .routes(routes!(list_closing_categories, create_closing_category))
        .routes(routes!(delete_closing_category))
        .routes(routes!(list_snippets, create_snippet))
        .routes(routes!(search_snippets))
        .routes(routes!(get_snippet, update_snippet, delete_snippet))
        .routes(routes!(list_templates, create_template))
        .routes(routes!(get_template, update_template, delete_template))
        .routes(routes!(list_channels, create_channel))
        .routes(routes!(get_channel, update_channel, delete_channel))
        .routes(routes!(reconnect_channel))
        .routes(routes!(sync_channel_templates))
        .routes(routes!(poll_channel))
}

type Created<T> = AppResult<(StatusCode, Json<T>)>;

fn created<T>(value: T) -> Created<T> {
    Ok((StatusCode::CREATED, Json(value)))
}

#[utoipa::path(get, path = "/api/v1/teams", tag = "teams", params(PageQuery),
    responses((status = 200, body = Page<Team>), (status = "4XX", body = ErrorBody)))]
async fn list_teams(
    State(app): State<Arc<App>>,
    Auth(who): Auth,
    Query(q): Query<PageQuery>,
) -> AppResult<Json<Page<Team>>> {
    Ok(Json(app.store.list_teams(who.workspace_id, &q.page()?).await?))
}

#[utoipa::path(post, path = "/api/v1/teams", tag = "teams", request_body = NameInput,
    responses((status = 201, body = Team), (status = "4XX", body = ErrorBody)))]
async fn create_team(State(app): State<Arc<App>>, Auth(who): Auth, Json(req): Json<NameInput>) -> Created<Team> {
    created(settings::create_team(&app, &who, req).await?)
}

#[utoipa::path(get, path = "/api/v1/teams/{id}", tag = "teams", params(("id" = i64, Path)),
    responses((status = 200, body = Team), (status = "4XX", body = ErrorBody)))]
async fn get_team(State(app): State<Arc<App>>, Auth(who): Auth, Path(id): Path<Id>) -> AppResult<Json<Team>> {
    Ok(Json(app.store.get_team(who.workspace_id, id).await?))
}

/// Renames a team or changes its auto-assignment.
#[utoipa::path(patch, path = "/api/v1/teams/{id}", tag = "teams", params(("id" = i64, Path)), request_body = TeamUpdate,
    responses((status = 200, body = Team), (status = "4XX", body = ErrorBody)))]
async fn update_team(
    State(app): State<Arc<App>>,
    Auth(who): Auth,
    Path(id): Path<Id>,
    Json(req): Json<TeamUpdate>,
) -> AppResult<Json<Team>> {
    Ok(Json(settings::update_team(&app, &who, id, req).await?))
}

#[utoipa::path(delete, path = "/api/v1/teams/{id}", tag = "teams", params(("id" = i64, Path)),
    responses((status = 204), (status = "4XX", body = ErrorBody)))]
async fn delete_team(State(app): State<Arc<App>>, Auth(who): Auth, Path(id): Path<Id>) -> AppResult<StatusCode> {
    settings::delete_team(&app, &who, id).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(put, path = "/api/v1/teams/{id}/members/{user_id}", tag = "teams", params(("id" = i64, Path), ("user_id" = i64, Path)),
    responses((status = 200, body = Team), (status = "4XX", body = ErrorBody)))]
async fn add_team_member(
    State(app): State<Arc<App>>,
    Auth(who): Auth,
    Path((id, user)): Path<(Id, Id)>,
) -> AppResult<Json<Team>> {
    Ok(Json(settings::set_team_member(&app, &who, id, user, true).await?))
}

#[utoipa::path(delete, path = "/api/v1/teams/{id}/members/{user_id}", tag = "teams", params(("id" = i64, Path), ("user_id" = i64, Path)),
    responses((status = 200, body = Team), (status = "4XX", body = ErrorBody)))]
async fn remove_team_member(
    State(app): State<Arc<App>>,
    Auth(who): Auth,
    Path((id, user)): Path<(Id, Id)>,
) -> AppResult<Json<Team>> {
    Ok(Json(settings::set_team_member(&app, &who, id, user, false).await?))
}

#[utoipa::path(get, path = "/api/v1/tags", tag = "tags", params(PageQuery),
    responses((status = 200, body = Page<Tag>), (status = "4XX", body = ErrorBody)))]
async fn list_tags(
    State(app): State<Arc<App>>,
    Auth(who): Auth,
    Query(q): Query<PageQuery>,
) -> AppResult<Json<Page<Tag>>> {
    Ok(Json(app.store.list_tags(who.workspace_id, &q.page()?).await?))
}

#[utoipa::path(post, path = "/api/v1/tags", tag = "tags", request_body = TagInput,
    responses((status = 201, body = Tag), (status = "4XX", body = ErrorBody)))]
async fn create_tag(State(app): State<Arc<App>>, Auth(who): Auth, Json(req): Json<TagInput>) -> Created<Tag> {
    created(settings::create_tag(&app, &who, req).await?)
}

/// Deletes a tag and removes it from every contact.
#[utoipa::path(delete, path = "/api/v1/tags/{id}", tag = "tags", params(("id" = i64, Path)),
    responses((status = 204), (status = "4XX", body = ErrorBody)))]
async fn delete_tag(State(app): State<Arc<App>>, Auth(who): Auth, Path(id): Path<Id>) -> AppResult<StatusCode> {
    settings::delete_tag(&app, &who, id).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(get, path = "/api/v1/closing-categories", tag = "closing categories", params(PageQuery),
    responses((status = 200, body = Page<ClosingCategory>), (status = "4XX", body = ErrorBody)))]
async fn list_closing_categories(
    State(app): State<Arc<App>>,
    Auth(who): Auth,
    Query(q): Query<PageQuery>,
) -> AppResult<Json<Page<ClosingCategory>>> {
    Ok(Json(app.store.list_closing_categories(who.workspace_id, &q.page()?).await?))
}

#[utoipa::path(post, path = "/api/v1/closing-categories", tag = "closing categories", request_body = NameInput,
    responses((status = 201, body = ClosingCategory), (status = "4XX", body = ErrorBody)))]
async fn create_closing_category(
    State(app): State<Arc<App>>,
    Auth(who): Auth,
    Json(req): Json<NameInput>,
) -> Created<ClosingCategory> {
    created(settings::create_closing_category(&app, &who, req).await?)
}

#[utoipa::path(delete, path = "/api/v1/closing-categories/{id}", tag = "closing categories", params(("id" = i64, Path)),
    responses((status = 204), (status = "4XX", body = ErrorBody)))]
async fn delete_closing_category(
    State(app): State<Arc<App>>,
    Auth(who): Auth,
    Path(id): Path<Id>,
) -> AppResult<StatusCode> {
    settings::delete_closing_category(&app, &who, id).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(get, path = "/api/v1/snippets", tag = "snippets", params(PageQuery),
    responses((status = 200, body = Page<Snippet>), (status = "4XX", body = ErrorBody)))]
async fn list_snippets(
    State(app): State<Arc<App>>,
    Auth(who): Auth,
    Query(q): Query<PageQuery>,
) -> AppResult<Json<Page<Snippet>>> {
    Ok(Json(app.store.list_snippets(who.workspace_id, &q.page()?).await?))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
struct SnippetSearch {
    /// What was typed after `/` in the composer: shortcuts starting with it come first, then snippets whose
    /// text contains it (any case).
    #[serde(default)]
    q: String,
    /// 1–50, default 10.
    #[param(minimum = 1, maximum = 50)]
    limit: Option<u32>,
}

/// Snippets for the composer's `/` shortcut.
#[utoipa::path(get, path = "/api/v1/snippets/search", tag = "snippets", params(SnippetSearch),
    responses((status = 200, body = Vec<Snippet>), (status = "4XX", body = ErrorBody)))]
async fn search_snippets(
    State(app): State<Arc<App>>,
    Auth(who): Auth,
    Query(q): Query<SnippetSearch>,
) -> AppResult<Json<Vec<Snippet>>> {
    Ok(Json(settings::search_snippets(&app, &who, &q.q, q.limit).await?))
}

#[utoipa::path(post, path = "/api/v1/snippets", tag = "snippets", request_body = SnippetInput,
    responses((status = 201, body = Snippet), (status = "4XX", body = ErrorBody)))]
async fn create_snippet(
    State(app): State<Arc<App>>,
    Auth(who): Auth,
    Json(req): Json<SnippetInput>,
) -> Created<Snippet> {
    created(settings::create_snippet(&app, &who, req).await?)
}

#[utoipa::path(get, path = "/api/v1/snippets/{id}", tag = "snippets", params(("id" = i64, Path)),
    responses((status = 200, body = Snippet), (status = "4XX", body = ErrorBody)))]
async fn get_snippet(State(app): State<Arc<App>>, Auth(who): Auth, Path(id): Path<Id>) -> AppResult<Json<Snippet>> {
    Ok(Json(app.store.get_snippet(who.workspace_id, id).await?))
}

#[utoipa::path(put, path = "/api/v1/snippets/{id}", tag = "snippets", params(("id" = i64, Path)), request_body = SnippetInput,
    responses((status = 200, body = Snippet), (status = "4XX", body = ErrorBody)))]
async fn update_snippet(
    State(app): State<Arc<App>>,
    Auth(who): Auth,
    Path(id): Path<Id>,
    Json(req): Json<SnippetInput>,
) -> AppResult<Json<Snippet>> {
    Ok(Json(settings::update_snippet(&app, &who, id, req).await?))
}

#[utoipa::path(delete, path = "/api/v1/snippets/{id}", tag = "snippets", params(("id" = i64, Path)),
    responses((status = 204), (status = "4XX", body = ErrorBody)))]
async fn delete_snippet(State(app): State<Arc<App>>, Auth(who): Auth, Path(id): Path<Id>) -> AppResult<StatusCode> {
    settings::delete_snippet(&app, &who, id).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(get, path = "/api/v1/templates", tag = "templates", params(PageQuery),
    responses((status = 200, body = Page<Template>), (status = "4XX", body = ErrorBody)))]
async fn list_templates(
    State(app): State<Arc<App>>,
    Auth(who): Auth,
    Query(q): Query<PageQuery>,
) -> AppResult<Json<Page<Template>>> {
    Ok(Json(app.store.list_templates(who.workspace_id, &q.page()?).await?))
}

#[utoipa::path(post, path = "/api/v1/templates", tag = "templates", request_body = TemplateInput,
    responses((status = 201, body = Template), (status = "4XX", body = ErrorBody)))]
async fn create_template(
    State(app): State<Arc<App>>,
    Auth(who): Auth,
    Json(req): Json<TemplateInput>,
) -> Created<Template> {
    created(settings::create_template(&app, &who, req).await?)
}

#[utoipa::path(get, path = "/api/v1/templates/{id}", tag = "templates", params(("id" = i64, Path)),
    responses((status = 200, body = Template), (status = "4XX", body = ErrorBody)))]
async fn get_template(State(app): State<Arc<App>>, Auth(who): Auth, Path(id): Path<Id>) -> AppResult<Json<Template>> {
    Ok(Json(app.store.get_template(who.workspace_id, id).await?))
}

#[utoipa::path(put, path = "/api/v1/templates/{id}", tag = "templates", params(("id" = i64, Path)), request_body = TemplateInput,
    responses((status = 200, body = Template), (status = "4XX", body = ErrorBody)))]
async fn update_template(
    State(app): State<Arc<App>>,
    Auth(who): Auth,
    Path(id): Path<Id>,
    Json(req): Json<TemplateInput>,
) -> AppResult<Json<Template>> {
    Ok(Json(settings::update_template(&app, &who, id, req).await?))
}

#[utoipa::path(delete, path = "/api/v1/templates/{id}", tag = "templates", params(("id" = i64, Path)),
    responses((status = 204), (status = "4XX", body = ErrorBody)))]
async fn delete_template(State(app): State<Arc<App>>, Auth(who): Auth, Path(id): Path<Id>) -> AppResult<StatusCode> {
    settings::delete_template(&app, &who, id).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(get, path = "/api/v1/channels", tag = "channels", params(PageQuery),
    responses((status = 200, body = Page<ChannelView>), (status = "4XX", body = ErrorBody)))]
async fn list_channels(
    State(app): State<Arc<App>>,
    Auth(who): Auth,
    Query(q): Query<PageQuery>,
) -> AppResult<Json<Page<ChannelView>>> {
    Ok(Json(settings::list_channels(&app, &who, &q.page()?).await?))
}

/// Connects a channel; its secrets are encrypted at rest and never returned. The answer carries the
/// webhook URL to paste at the provider.
#[utoipa::path(post, path = "/api/v1/channels", tag = "channels", request_body = ChannelInput,
    responses((status = 201, body = ChannelView), (status = "4XX", body = ErrorBody)))]
async fn create_channel(
    State(app): State<Arc<App>>,
    Auth(who): Auth,
    Json(req): Json<ChannelInput>,
) -> Created<ChannelView> {
    created(settings::create_channel(&app, &who, req).await?)
}

#[utoipa::path(get, path = "/api/v1/channels/{id}", tag = "channels", params(("id" = i64, Path)),
    responses((status = 200, body = ChannelView), (status = "4XX", body = ErrorBody)))]
async fn get_channel(State(app): State<Arc<App>>, Auth(who): Auth, Path(id): Path<Id>) -> AppResult<Json<ChannelView>> {
    Ok(Json(settings::get_channel(&app, &who, id).await?))
}

/// Renames, reconfigures, enables or disables a channel; `secrets` merge by name (`null` removes one).
#[utoipa::path(patch, path = "/api/v1/channels/{id}", tag = "channels", params(("id" = i64, Path)), request_body = ChannelUpdate,
    responses((status = 200, body = ChannelView), (status = "4XX", body = ErrorBody)))]
async fn update_channel(
    State(app): State<Arc<App>>,
    Auth(who): Auth,
    Path(id): Path<Id>,
    Json(req): Json<ChannelUpdate>,
) -> AppResult<Json<ChannelView>> {
    Ok(Json(settings::update_channel(&app, &who, id, req).await?))
}

#[utoipa::path(delete, path = "/api/v1/channels/{id}", tag = "channels", params(("id" = i64, Path)),
    responses((status = 204), (status = "4XX", body = ErrorBody)))]
async fn delete_channel(State(app): State<Arc<App>>, Auth(who): Auth, Path(id): Path<Id>) -> AppResult<StatusCode> {
    settings::delete_channel(&app, &who, id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Runs the channel's setup at the provider again (e.g. Telegram's webhook registration).
#[utoipa::path(post, path = "/api/v1/channels/{id}/connect", tag = "channels", params(("id" = i64, Path)),
    responses((status = 200, body = ChannelView), (status = "4XX", body = ErrorBody)))]
async fn reconnect_channel(
    State(app): State<Arc<App>>,
    Auth(who): Auth,
    Path(id): Path<Id>,
) -> AppResult<Json<ChannelView>> {
    Ok(Json(settings::reconnect_channel(&app, &who, id).await?))
}

/// Polls a channel whose plugin fetches what arrived (e-mail over IMAP) now, instead of waiting for its
/// `poll_interval_seconds`.
#[utoipa::path(post, path = "/api/v1/channels/{id}/poll", tag = "channels", params(("id" = i64, Path)),
    responses((status = 200, body = crate::service::polling::PollReport), (status = "4XX", body = ErrorBody)))]
async fn poll_channel(
    State(app): State<Arc<App>>,
    Auth(who): Auth,
    Path(id): Path<Id>,
) -> AppResult<Json<crate::service::polling::PollReport>> {
    Ok(Json(crate::service::polling::poll_now_for(&app, &who, id).await?))
}

/// Fetches the provider's message templates for this channel now (they are also synced every 6 hours).
#[utoipa::path(post, path = "/api/v1/channels/{id}/templates/sync", tag = "templates", params(("id" = i64, Path)),
    responses((status = 200, body = TemplateSync), (status = "4XX", body = ErrorBody)))]
async fn sync_channel_templates(
    State(app): State<Arc<App>>,
    Auth(who): Auth,
    Path(id): Path<Id>,
) -> AppResult<Json<TemplateSync>> {
    Ok(Json(crate::service::channels::sync_templates(&app, &who, id).await?))
}
