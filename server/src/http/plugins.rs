//! Plugins: list them with their status, grants and limits, switch them off and on, and reload them without
//! a restart.

use std::sync::Arc;

use axum::extract::State;
use utoipa_axum::routes;

use super::ApiRouter;
use super::extract::{Auth, Json, Path};
use crate::app::App;
use crate::error::{AppResult, ErrorBody};
use crate::service::plugins::{self, PluginView};

pub(super) fn router() -> ApiRouter {
    ApiRouter::new()
        .routes(routes!(list_plugins))
        .routes(routes!(get_plugin))
        .routes(routes!(reload_plugin))
        .routes(routes!(reload_all_plugins))
        .routes(routes!(enable_plugin))
        .routes(routes!(disable_plugin))
}

/// Switches a plugin back on for the whole server (owners); the configuration's `enabled = false` still wins.
#[utoipa::path(post, path = "/api/v1/plugins/{id}/enable", tag = "plugins", params(("id" = String, Path)),
    responses((status = 200, body = PluginView), (status = "4XX", body = ErrorBody)))]
async fn enable_plugin(
    State(app): State<Arc<App>>,
    Auth(who): Auth,
    Path(id): Path<String>,
) -> AppResult<Json<PluginView>> {
    Ok(Json(plugins::switch(&app, &who, &id, true).await?))
}

/// Switches a plugin off for the whole server (owners): its channels answer 503 `plugin_unavailable` until
/// it is switched on again. Kept across restarts.
#[utoipa::path(post, path = "/api/v1/plugins/{id}/disable", tag = "plugins", params(("id" = String, Path)),
    responses((status = 200, body = PluginView), (status = "4XX", body = ErrorBody)))]
async fn disable_plugin(
    State(app): State<Arc<App>>,
    Auth(who): Auth,
    Path(id): Path<String>,
) -> AppResult<Json<PluginView>> {
    Ok(Json(plugins::switch(&app, &who, &id, false).await?))
}

#[utoipa::path(get, path = "/api/v1/plugins", tag = "plugins",
    responses((status = 200, body = Vec<PluginView>), (status = "4XX", body = ErrorBody)))]
async fn list_plugins(State(app): State<Arc<App>>, Auth(who): Auth) -> AppResult<Json<Vec<PluginView>>> {
    Ok(Json(plugins::list(&app, &who)?))
}

#[utoipa::path(get, path = "/api/v1/plugins/{id}", tag = "plugins", params(("id" = String, Path)),
    responses((status = 200, body = PluginView), (status = "4XX", body = ErrorBody)))]
async fn get_plugin(
    State(app): State<Arc<App>>,
    Auth(who): Auth,
    Path(id): Path<String>,
) -> AppResult<Json<PluginView>> {
    Ok(Json(plugins::get(&app, &who, &id)?))
}

/// Re-reads the plugin's files and the `[plugins]` configuration and swaps the new version in; calls in
/// flight finish on the old one.
#[utoipa::path(post, path = "/api/v1/plugins/{id}/reload", tag = "plugins", params(("id" = String, Path)),
    responses((status = 200, body = PluginView), (status = "4XX", body = ErrorBody)))]
async fn reload_plugin(
    State(app): State<Arc<App>>,
    Auth(who): Auth,
    Path(id): Path<String>,
) -> AppResult<Json<PluginView>> {
    Ok(Json(plugins::reload(&app, &who, &id).await?))
}

/// Reloads every plugin and picks up newly installed ones.
#[utoipa::path(post, path = "/api/v1/plugins/reload", tag = "plugins",
    responses((status = 200, body = Vec<PluginView>), (status = "4XX", body = ErrorBody)))]
async fn reload_all_plugins(State(app): State<Arc<App>>, Auth(who): Auth) -> AppResult<Json<Vec<PluginView>>> {
    Ok(Json(plugins::reload_all(&app, &who).await?))
}
