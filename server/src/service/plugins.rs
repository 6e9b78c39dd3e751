//! Plugins as admins and the API see them: the list with status, grants and limits, reloads, and the
//! check that a channel instance's settings and secrets are what its plugin's manifest declares.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::Serialize;
use utoipa::ToSchema;

use super::require;
use crate::app::App;
use crate::error::{AppError, AppResult};
use crate::model::{Principal, Role};
use crate::plugins::registry::{PluginEntry, ReloadError, Source};
use crate::plugins::{LoadedPlugin, PluginStatus};

/// A plugin as `GET /api/v1/plugins` shows it.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct PluginView {
    pub id: String,
    pub name: String,
    pub version: String,
    /// `channel`, `step` or `integration`.
    pub world: Option<String>,
    pub description: String,
    /// `bundled` (built into the binary) or `installed` (from the plugins directory).
    pub source: String,
    /// The plugin's directory, for installed plugins.
    pub path: Option<String>,
    /// SHA-256 of the component.
    pub sha256: String,
    pub size_bytes: usize,
    /// `ready`, `disabled` or `failed`.
    pub status: String,
    /// Why it failed to load.
    pub error: Option<String>,
    /// What the manifest asks for.
    #[schema(value_type = Object)]
    pub declared: serde_json::Value,
    /// What it got: the declaration intersected with the admin's grant.
    #[schema(value_type = Object)]
    pub granted: serde_json::Value,
    /// Per-call limits in force.
    #[schema(value_type = Object)]
    pub limits: serde_json::Value,
    /// Settings a channel instance takes (`[[config]]`).
    #[schema(value_type = Vec<Object>)]
    pub config: serde_json::Value,
    /// Secrets a channel instance takes (`[[secrets]]`).
    #[schema(value_type = Vec<Object>)]
    pub secrets: serde_json::Value,
    /// For channels: capabilities and messaging-window policy, from the plugin itself.
    #[schema(value_type = Option<Object>)]
    pub channel: Option<serde_json::Value>,
    pub loaded_at: DateTime<Utc>,
    /// `true` when an owner switched it off through the API (`POST /plugins/{id}/disable`); a plugin the
    /// configuration disables is `disabled` with this `false`.
    pub switched_off: bool,
}

impl From<&PluginEntry> for PluginView {
    fn from(e: &PluginEntry) -> Self {
        let m = e.manifest.as_ref();
        let channel = match &e.loaded {
            Some(LoadedPlugin::Channel(_, info)) => {
                let c = &info.capabilities;
                let w = &info.window;
                Some(serde_json::json!({
                    "capabilities": {
                        "text": c.text, "media": c.media, "templates": c.templates,
                        "interactive": c.interactive, "reactions": c.reactions, "locations": c.locations,
                    },
                    "window": {
                        "free_form_hours": w.free_form_hours,
                        "templates_outside": w.templates_outside,
                        "tags_outside": w.tags_outside,
                    },
                }))
            }
            _ => None,
        };
        let (source, path) = match &e.source {
            Source::Bundled => ("bundled", None),
            Source::Installed { path } => ("installed", Some(path.display().to_string())),
        };
        PluginView {
            id: e.id.clone(),
            name: m.map(|m| m.plugin.name.clone()).unwrap_or_default(),
            version: m.map(|m| m.plugin.version.clone()).unwrap_or_default(),
            world: m.map(|m| m.plugin.world.as_str().to_owned()),
            description: m.map(|m| m.plugin.description.clone()).unwrap_or_default(),
            source: source.to_owned(),
            path,
            sha256: e.sha256.clone(),
            size_bytes: e.size_bytes,
            status: status_name(&e.status).to_owned(),
            error: e.error.clone(),
            declared: m.map(|m| serde_json::json!(m.capabilities)).unwrap_or_default(),
            granted: serde_json::json!(e.grants),
            limits: serde_json::json!(e.limits),
            config: m.map(|m| serde_json::json!(m.config)).unwrap_or_else(|| serde_json::json!([])),
            secrets: m.map(|m| serde_json::json!(m.secrets)).unwrap_or_else(|| serde_json::json!([])),
            channel,
            loaded_at: e.loaded_at,
            switched_off: e.switched_off,
        }
    }
}

pub fn status_name(s: &PluginStatus) -> &'static str {
    match s {
        PluginStatus::Ready => "ready",
        PluginStatus::Disabled => "disabled",
        PluginStatus::Failed => "failed",
    }
}

/// Every plugin; managers and owners only (agents have no settings).
pub fn list(app: &App, who: &Principal) -> AppResult<Vec<PluginView>> {
    require(who, Role::Manager)?;
    Ok(app.plugins.list().iter().map(|e| PluginView::from(e.as_ref())).collect())
}

/// One plugin.
pub fn get(app: &App, who: &Principal, id: &str) -> AppResult<PluginView> {
    require(who, Role::Manager)?;
    app.plugins.get(id).map(|e| PluginView::from(e.as_ref())).ok_or(AppError::NotFound("plugin"))
}

/// Reloads one plugin from disk and the configuration file; owners only, since it changes every workspace.
pub async fn reload(app: &App, who: &Principal, id: &str) -> AppResult<PluginView> {
    require(who, Role::Owner)?;
    match app.plugins.reload(id).await {
        Ok(entry) => Ok(PluginView::from(entry.as_ref())),
        Err(ReloadError::NotFound(_)) => Err(AppError::NotFound("plugin")),
        Err(ReloadError::Config(why)) => Err(AppError::conflict("config_invalid", why)),
    }
}

/// Switches a plugin off or back on for the whole server (owners): kept in the database, applied by
/// reloading it here at once (other nodes apply it at their next reload or start). The configuration's
/// `enabled = false` still wins.
pub async fn switch(app: &App, who: &Principal, id: &str, enabled: bool) -> AppResult<PluginView> {
    require(who, Role::Owner)?;
    if app.plugins.get(id).is_none() {
        return Err(AppError::NotFound("plugin"));
    }
    app.store.set_plugin_switch(id, enabled, who.user_id).await?;
    let switches = app.store.plugin_switches().await?;
    app.plugins.set_switched_off(switches.into_iter().filter(|(_, on)| !on).map(|(id, _)| id).collect());
    reload(app, who, id).await
}

/// Reloads every plugin (and picks up newly installed ones).
pub async fn reload_all(app: &App, who: &Principal) -> AppResult<Vec<PluginView>> {
    require(who, Role::Owner)?;
    match app.plugins.reload_all().await {
        Ok(entries) => Ok(entries.iter().map(|e| PluginView::from(e.as_ref())).collect()),
        Err(ReloadError::Config(why)) => Err(AppError::conflict("config_invalid", why)),
        Err(ReloadError::NotFound(_)) => Err(AppError::NotFound("plugin")),
    }
}

/// Checks a channel instance against its plugin's manifest: the plugin is an installed channel, every
/// required setting and secret is present, and nothing undeclared is passed.
pub fn check_channel_settings(
    app: &App,
    plugin_id: &str,
    config: &serde_json::Value,
    secrets: &BTreeMap<String, String>,
) -> AppResult<()> {
    let Some(entry) = app.plugins.get(plugin_id) else {
        let known: Vec<String> = app
            .plugins
            .list()
            .iter()
            .filter(|e| e.world() == Some(crate::plugins::World::Channel))
            .map(|e| e.id.clone())
            .collect();
        return Err(AppError::validation(
            "plugin_id",
            format!("no channel plugin `{plugin_id}` is installed (installed: {})", known.join(", ")),
        ));
    };
    let Some(manifest) = entry.manifest.as_ref().filter(|m| m.plugin.world == crate::plugins::World::Channel) else {
        return Err(AppError::validation("plugin_id", format!("`{plugin_id}` is not a channel plugin")));
    };
    let config = config.as_object().ok_or_else(|| AppError::validation("config", "must be a JSON object"))?;
    for key in config.keys() {
        if !manifest.config.iter().any(|s| &s.name == key) {
            return Err(AppError::validation(format!("config.{key}"), format!("is not a setting of {plugin_id}")));
        }
    }
    for s in manifest.config.iter().filter(|s| s.required) {
        if config.get(&s.name).is_none_or(|v| v.is_null() || v.as_str() == Some("")) {
            return Err(AppError::validation(format!("config.{}", s.name), "is required"));
        }
    }
    for key in secrets.keys() {
        if !manifest.secrets.iter().any(|s| &s.name == key) {
            return Err(AppError::validation(format!("secrets.{key}"), format!("is not a secret of {plugin_id}")));
        }
    }
    for s in manifest.secrets.iter().filter(|s| s.required) {
        if secrets.get(&s.name).is_none_or(String::is_empty) {
            return Err(AppError::validation(format!("secrets.{}", s.name), "is required"));
        }
    }
    Ok(())
}
