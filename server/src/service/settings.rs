//! Workspace settings: teams, tags, closing categories, snippets, templates and channels. Reading is open
//! to every member; changing needs the manager role.

use std::collections::BTreeMap;

use serde::Deserialize;
use utoipa::ToSchema;

use super::{actor, require, validate};
use crate::app::App;
use crate::error::{AppError, AppResult};
use crate::model::*;

/// A named settings item (team, closing category).
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NameInput {
    /// 1 to 100 characters, not only spaces.
    #[schema(min_length = 1, max_length = 100, pattern = r"\S")]
    pub name: String,
}

/// A tag's name.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TagInput {
    /// 1 to 50 characters, not only spaces.
    #[schema(min_length = 1, max_length = 50, pattern = r"\S")]
    pub name: String,
}

fn name(req: &NameInput) -> AppResult<String> {
    validate::required("name", &req.name, 100)
}

pub async fn create_team(app: &App, who: &Principal, req: NameInput) -> AppResult<Team> {
    require(who, Role::Manager)?;
    Ok(app.store.create_team(who.workspace_id, &name(&req)?, actor(who)).await?)
}

/// Changes to a team; absent fields are kept.
#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TeamUpdate {
    #[schema(min_length = 1, max_length = 100)]
    pub name: Option<String>,
    /// `off`, `round_robin` or `least_open`: how conversations opening for the team without an assignee get one.
    pub auto_assign: Option<AutoAssign>,
    /// Auto-assign only to members who are online.
    pub only_online: Option<bool>,
    /// Auto-assign only to members with fewer open conversations than this (1–1000); `null` removes the cap.
    #[serde(default, deserialize_with = "super::double_option")]
    #[schema(value_type = Option<u32>, minimum = 1, maximum = 1000)]
    pub max_open_per_user: Option<Option<u32>>,
}

pub async fn update_team(app: &App, who: &Principal, id: Id, req: TeamUpdate) -> AppResult<Team> {
    require(who, Role::Manager)?;
    let current = app.store.get_team(who.workspace_id, id).await?;
    let name = match &req.name {
        Some(n) => validate::required("name", n, 100)?,
        None => current.name,
    };
    let max_open_per_user = req.max_open_per_user.unwrap_or(current.max_open_per_user);
    if max_open_per_user.is_some_and(|m| !(1..=1000).contains(&m)) {
        return Err(AppError::validation("max_open_per_user", "must be between 1 and 1000, or null"));
    }
    let settings = TeamSettings {
        name,
        auto_assign: req.auto_assign.unwrap_or(current.auto_assign),
        only_online: req.only_online.unwrap_or(current.only_online),
        max_open_per_user,
    };
    Ok(app.store.update_team(who.workspace_id, id, &settings, actor(who)).await?)
}

pub async fn delete_team(app: &App, who: &Principal, id: Id) -> AppResult<()> {
    require(who, Role::Manager)?;
    Ok(app.store.delete_team(who.workspace_id, id, actor(who)).await?)
}

pub async fn set_team_member(app: &App, who: &Principal, team: Id, user: Id, member: bool) -> AppResult<Team> {
    require(who, Role::Manager)?;
    Ok(app.store.set_team_member(who.workspace_id, team, user, member, actor(who)).await?)
}

pub async fn create_tag(app: &App, who: &Principal, req: TagInput) -> AppResult<Tag> {
    require(who, Role::Manager)?;
    let name = validate::required("name", &req.name, super::contacts::MAX_TAG_CHARS)?;
    Ok(app.store.create_tag(who.workspace_id, &name, actor(who)).await?)
}

pub async fn delete_tag(app: &App, who: &Principal, id: Id) -> AppResult<()> {
    require(who, Role::Manager)?;
    Ok(app.store.delete_tag(who.workspace_id, id, actor(who)).await?)
}

/// Whether the workspace has a closing category to choose when closing a conversation.
pub async fn has_closing_category(app: &App, ws: Id) -> AppResult<bool> {
    let page = app.store.list_closing_categories(ws, &PageRequest { after: None, limit: 1 }).await?;
    Ok(!page.items.is_empty())
}

pub async fn create_closing_category(app: &App, who: &Principal, req: NameInput) -> AppResult<ClosingCategory> {
    require(who, Role::Manager)?;
    Ok(app.store.create_closing_category(who.workspace_id, &name(&req)?, actor(who)).await?)
}

pub async fn delete_closing_category(app: &App, who: &Principal, id: Id) -> AppResult<()> {
    require(who, Role::Manager)?;
    let mode = app.store.get_workspace(who.workspace_id).await?.closing_note_mode;
    if mode.requires_category() {
        let page = app.store.list_closing_categories(who.workspace_id, &PageRequest { after: None, limit: 2 }).await?;
        if page.items.len() == 1 && page.items[0].id == id {
            return Err(AppError::conflict(
                "last_closing_category",
                format!(
                    "the workspace's closing-note mode is {} and this is its only closing category; \
                     add another or change the mode first",
                    mode.as_str()
                ),
            ));
        }
    }
    Ok(app.store.delete_closing_category(who.workspace_id, id, actor(who)).await?)
}

#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SnippetInput {
    /// Typed after `/` in the composer: letters, digits, `-` and `_`.
    #[schema(min_length = 1, max_length = 32, pattern = r"^[\w-]+$")]
    pub shortcut: String,
    /// At most 2000 characters.
    #[schema(min_length = 1, max_length = 2000)]
    pub body: String,
}

fn snippet(req: &SnippetInput) -> AppResult<(String, String)> {
    let shortcut = validate::required("shortcut", &req.shortcut, 32)?;
    if !shortcut.chars().all(|c| c.is_alphanumeric() || c == '-' || c == '_') {
        return Err(AppError::validation("shortcut", "may contain only letters, digits, - and _"));
    }
    Ok((shortcut, validate::required("body", &req.body, 2000)?))
}

/// Snippets for the composer's `/` shortcut.
pub async fn search_snippets(app: &App, who: &Principal, q: &str, limit: Option<u32>) -> AppResult<Vec<Snippet>> {
    let limit = limit.unwrap_or(10);
    if !(1..=50).contains(&limit) {
        return Err(AppError::validation("limit", "must be between 1 and 50"));
    }
    let q = q.trim().trim_start_matches('/');
    if q.chars().count() > 100 {
        return Err(AppError::validation("q", "at most 100 characters"));
    }
    Ok(app.store.search_snippets(who.workspace_id, q, limit).await?)
}

pub async fn create_snippet(app: &App, who: &Principal, req: SnippetInput) -> AppResult<Snippet> {
    require(who, Role::Manager)?;
    let (shortcut, body) = snippet(&req)?;
    Ok(app.store.create_snippet(who.workspace_id, &shortcut, &body, actor(who)).await?)
}

pub async fn update_snippet(app: &App, who: &Principal, id: Id, req: SnippetInput) -> AppResult<Snippet> {
    require(who, Role::Manager)?;
    let (shortcut, body) = snippet(&req)?;
    Ok(app.store.update_snippet(who.workspace_id, id, &shortcut, &body, actor(who)).await?)
}

pub async fn delete_snippet(app: &App, who: &Principal, id: Id) -> AppResult<()> {
    require(who, Role::Manager)?;
    Ok(app.store.delete_snippet(who.workspace_id, id, actor(who)).await?)
}

#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TemplateInput {
    pub channel_id: Option<Id>,
    /// Lower-case letters, digits and `_`, as WhatsApp requires.
    #[schema(pattern = "^[a-z][a-z0-9_]{0,63}$")]
    pub name: String,
    /// e.g. `en_US`, `ar`.
    #[schema(min_length = 1, max_length = 16)]
    pub language: String,
    pub category: TemplateCategory,
    /// Components in WhatsApp's shape: `{"type":"HEADER"|"BODY"|"FOOTER"|"BUTTONS", …}`; exactly one BODY.
    #[schema(value_type = Vec<Object>)]
    pub components: Vec<serde_json::Value>,
    /// Defaults to `approved` for templates created by hand.
    pub status: Option<String>,
}

fn template(req: TemplateInput) -> AppResult<TemplateFields> {
    let name = validate::key("name", &req.name)?;
    let language = validate::required("language", &req.language, 16)?;
    let mut bodies = 0;
    for (i, c) in req.components.iter().enumerate() {
        let kind = c.get("type").and_then(|t| t.as_str()).map(str::to_uppercase);
        match kind.as_deref() {
            Some("BODY") => {
                bodies += 1;
                if c.get("text").and_then(|t| t.as_str()).is_none_or(|t| t.trim().is_empty()) {
                    return Err(AppError::validation(format!("components[{i}].text"), "a BODY needs a text"));
                }
            }
            Some("HEADER" | "FOOTER" | "BUTTONS") => {}
            _ => {
                return Err(AppError::validation(
                    format!("components[{i}].type"),
                    "must be HEADER, BODY, FOOTER or BUTTONS",
                ));
            }
        }
    }
    if bodies != 1 {
        return Err(AppError::validation("components", "a template has exactly one BODY component"));
    }
    let status = validate::optional("status", req.status.as_deref(), 32)?.unwrap_or_else(|| "approved".into());
    Ok(TemplateFields {
        channel_id: req.channel_id,
        name,
        language,
        category: req.category,
        components: req.components,
        status,
    })
}

pub async fn create_template(app: &App, who: &Principal, req: TemplateInput) -> AppResult<Template> {
    require(who, Role::Manager)?;
    let fields = template(req)?;
    Ok(app.store.create_template(who.workspace_id, &fields, actor(who)).await?)
}

pub async fn update_template(app: &App, who: &Principal, id: Id, req: TemplateInput) -> AppResult<Template> {
    require(who, Role::Manager)?;
    let fields = template(req)?;
    Ok(app.store.update_template(who.workspace_id, id, &fields, actor(who)).await?)
}

pub async fn delete_template(app: &App, who: &Principal, id: Id) -> AppResult<()> {
    require(who, Role::Manager)?;
    Ok(app.store.delete_template(who.workspace_id, id, actor(who)).await?)
}

#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ChannelInput {
    #[schema(min_length = 1, max_length = 100)]
    pub name: String,
    /// The channel plugin, e.g. `whatsapp-cloud`, `telegram`.
    #[schema(min_length = 1, max_length = 64)]
    pub plugin_id: String,
    /// Non-secret settings of the plugin.
    #[serde(default = "empty_object")]
    #[schema(value_type = Object)]
    pub config: serde_json::Value,
    /// Secrets (access tokens, app secrets); encrypted at rest and never returned.
    #[serde(default)]
    pub secrets: BTreeMap<String, String>,
    #[serde(default = "yes")]
    pub enabled: bool,
}

fn empty_object() -> serde_json::Value {
    serde_json::json!({})
}

fn yes() -> bool {
    true
}

/// A channel as the API shows it: with the URL to paste at the provider.
#[derive(Debug, Clone, serde::Serialize, ToSchema)]
pub struct ChannelView {
    #[serde(flatten)]
    pub channel: Channel,
    /// Where the provider must send this channel's webhooks.
    pub webhook_url: String,
}

fn view(app: &App, channel: Channel) -> ChannelView {
    let webhook_url = super::channels::webhook_url(app, channel.id);
    ChannelView { channel, webhook_url }
}

pub async fn get_channel(app: &App, who: &Principal, id: Id) -> AppResult<ChannelView> {
    Ok(view(app, app.store.get_channel(who.workspace_id, id).await?))
}

pub async fn list_channels(app: &App, who: &Principal, page: &PageRequest) -> AppResult<Page<ChannelView>> {
    let page = app.store.list_channels(who.workspace_id, page).await?;
    Ok(Page { items: page.items.into_iter().map(|c| view(app, c)).collect(), next_cursor: page.next_cursor })
}

/// Changes to a channel: absent fields are kept. `secrets` merges by name; `null` removes a secret.
#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ChannelUpdate {
    #[schema(min_length = 1, max_length = 100)]
    pub name: Option<String>,
    #[schema(value_type = Option<Object>)]
    pub config: Option<serde_json::Value>,
    /// Secrets to set by name; `null` removes one. Names not given are kept.
    pub secrets: Option<BTreeMap<String, Option<String>>>,
    pub enabled: Option<bool>,
}

pub async fn update_channel(app: &App, who: &Principal, id: Id, req: ChannelUpdate) -> AppResult<ChannelView> {
    require(who, Role::Manager)?;
    let ws = who.workspace_id;
    let current = app.store.get_channel(ws, id).await?;
    let name = match req.name {
        Some(n) => validate::required("name", &n, 100)?,
        None => current.name.clone(),
    };
    let changes_settings = req.config.is_some() || req.secrets.is_some();
    let config = req.config.unwrap_or(current.config.clone());
    if !config.is_object() {
        return Err(AppError::validation("config", "must be a JSON object"));
    }
    let mut secrets = channel_secrets(app, ws, id).await?;
    for (key, value) in req.secrets.unwrap_or_default() {
        match value {
            Some(v) => secrets.insert(key, v),
            None => secrets.remove(&key),
        };
    }
    if changes_settings {
        super::plugins::check_channel_settings(app, &current.plugin_id, &config, &secrets)?;
    }
    let enabled = req.enabled.unwrap_or(current.enabled);
    if enabled && (changes_settings || !current.enabled) {
        // Registered at the provider with the new settings before they are stored: a refusal changes nothing.
        let next = Channel { config: config.clone(), enabled, ..current.clone() };
        super::channels::connect(app, ws, &next, secrets.clone()).await?;
    }
    let plain = serde_json::to_vec(&secrets).map_err(AppError::internal)?;
    let fields = ChannelFields {
        name,
        plugin_id: current.plugin_id.clone(),
        config,
        secret_names: secrets.keys().cloned().collect(),
        secrets_sealed: app.secrets.seal(&plain).map_err(AppError::internal)?,
        enabled,
    };
    let updated = app.store.update_channel(ws, id, &fields, actor(who)).await?;
    app.channel_cache.forget(id);
    if current.enabled && !enabled {
        super::channels::disconnect_quietly(app, ws, &current).await;
    }
    Ok(view(app, updated))
}

pub async fn create_channel(app: &App, who: &Principal, req: ChannelInput) -> AppResult<ChannelView> {
    require(who, Role::Manager)?;
    let name = validate::required("name", &req.name, 100)?;
    let plugin_id = validate::required("plugin_id", &req.plugin_id, 64)?;
    if !plugin_id.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_') {
        return Err(AppError::validation("plugin_id", "must be lower-case letters, digits, - and _"));
    }
    if !req.config.is_object() {
        return Err(AppError::validation("config", "must be a JSON object"));
    }
    super::plugins::check_channel_settings(app, &plugin_id, &req.config, &req.secrets)?;
    let plain = serde_json::to_vec(&req.secrets).map_err(AppError::internal)?;
    let fields = ChannelFields {
        name,
        plugin_id,
        config: req.config,
        secret_names: req.secrets.keys().cloned().collect(),
        secrets_sealed: app.secrets.seal(&plain).map_err(AppError::internal)?,
        enabled: req.enabled,
    };
    let ws = who.workspace_id;
    let channel = app.store.create_channel(ws, &fields, actor(who)).await?;
    if channel.enabled
        && let Err(e) = super::channels::connect(app, ws, &channel, req.secrets.clone()).await
    {
        // The webhook URL needs the channel's id, so the channel exists before its setup; a refused setup
        // removes it again.
        app.store.delete_channel(ws, channel.id, actor(who)).await?;
        return Err(e);
    }
    super::channels::schedule_sync(app, ws, &channel, chrono::Utc::now()).await?;
    super::polling::schedule_poll(app, ws, &channel, chrono::Utc::now()).await?;
    Ok(view(app, channel))
}

/// Runs the channel's setup at the provider again (e.g. after fixing something there).
pub async fn reconnect_channel(app: &App, who: &Principal, id: Id) -> AppResult<ChannelView> {
    require(who, Role::Manager)?;
    let channel = app.store.get_channel(who.workspace_id, id).await?;
    let secrets = channel_secrets(app, who.workspace_id, id).await?;
    super::channels::connect(app, who.workspace_id, &channel, secrets).await?;
    Ok(view(app, channel))
}

/// The decrypted secrets of a channel, for its plugin.
pub async fn channel_secrets(app: &App, ws: Id, id: Id) -> AppResult<BTreeMap<String, String>> {
    let sealed = app.store.channel_secrets(ws, id).await?;
    let plain = app.secrets.open(&sealed).map_err(AppError::internal)?;
    serde_json::from_slice(&plain).map_err(AppError::internal)
}

pub async fn delete_channel(app: &App, who: &Principal, id: Id) -> AppResult<()> {
    require(who, Role::Manager)?;
    let channel = app.store.get_channel(who.workspace_id, id).await?;
    if channel.enabled {
        super::channels::disconnect_quietly(app, who.workspace_id, &channel).await;
    }
    app.store.delete_channel(who.workspace_id, id, actor(who)).await?;
    app.channel_cache.forget(id);
    Ok(())
}
