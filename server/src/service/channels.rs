//! A channel's life at its provider: registering the webhook URL when a channel is created, changed or
//! enabled (`connect`), undoing it when it is disabled or deleted, and syncing the provider's message
//! templates on demand and periodically (job `templates.sync`).

use std::collections::BTreeMap;

use async_trait::async_trait;
use chrono::Utc;

use super::inbound::ChannelCall;
use super::{require, settings};
use crate::app::App;
use crate::error::{AppError, AppResult};
use crate::jobs::{JobError, JobHandler};
use crate::model::*;
use crate::plugins::{CallContext, SendError};

/// The job that syncs a channel's templates and schedules its next run.
pub const SYNC_TEMPLATES_JOB: &str = "templates.sync";
/// How often templates are synced in the background.
const SYNC_EVERY_HOURS: i64 = 6;

/// Where the provider must send this channel's webhooks.
pub fn webhook_url(app: &App, channel: Id) -> String {
    format!("{}/webhooks/{}", app.config.public_url(), channel)
}

/// The plugin call for a channel with the given (possibly not yet stored) settings and secrets; the
/// key-value scope is the plugin and the channel instance.
pub fn call_with(app: &App, ws: Id, channel: &Channel, secrets: BTreeMap<String, String>) -> AppResult<ChannelCall> {
    let plugin = app.plugins.channel(&channel.plugin_id).ok_or_else(|| {
        AppError::PluginUnavailable(format!("the channel plugin `{}` is not loaded", channel.plugin_id))
    })?;
    let ctx = CallContext {
        plugin_id: channel.plugin_id.clone(),
        kv_scope: format!("{}/{}", channel.plugin_id, channel.id),
        config: channel.config.clone(),
        secrets,
        fixed_now_ms: None,
    };
    Ok(ChannelCall { workspace_id: ws, channel: channel.clone(), plugin, ctx })
}

fn setup_failed(e: SendError) -> AppError {
    let why = match e {
        SendError::BadCredentials(why) => format!("the provider refused the credentials: {why}"),
        SendError::Transient(why) | SendError::Permanent(why) | SendError::WindowClosed(why) => why,
    };
    AppError::Unprocessable { code: "channel_setup_failed", message: format!("the channel's setup failed: {why}") }
}

/// Registers the webhook URL at the provider with these settings (before they are stored, for updates).
pub async fn connect(app: &App, ws: Id, channel: &Channel, secrets: BTreeMap<String, String>) -> AppResult<()> {
    let call = call_with(app, ws, channel, secrets)?;
    let url = webhook_url(app, channel.id);
    call.plugin
        .connect(call.ctx, url)
        .await
        .map_err(|e| AppError::PluginFailed(format!("the channel's plugin failed: {e}")))?
        .map_err(setup_failed)
}

/// Undoes `connect`; a failure is logged, never blocks disabling or deleting a channel.
pub async fn disconnect_quietly(app: &App, ws: Id, channel: &Channel) {
    let outcome = match settings::channel_secrets(app, ws, channel.id).await {
        Ok(secrets) => match call_with(app, ws, channel, secrets) {
            Ok(call) => call
                .plugin
                .disconnect(call.ctx)
                .await
                .map_err(|e| e.to_string())
                .and_then(|r| r.map_err(|e| format!("{e:?}"))),
            Err(e) => Err(e.to_string()),
        },
        Err(e) => Err(e.to_string()),
    };
    if let Err(why) = outcome {
        tracing::warn!(channel = channel.id, error = %why, "could not disconnect the channel at its provider");
    }
}

/// Whether the channel's plugin lists templates.
pub fn has_templates(app: &App, channel: &Channel) -> bool {
    app.plugins
        .get(&channel.plugin_id)
        .and_then(|e| e.channel_info().map(|i| i.capabilities.templates))
        .unwrap_or(false)
}

/// Schedules the periodic template sync of a new channel whose plugin has templates.
pub async fn schedule_sync(app: &App, ws: Id, channel: &Channel, at: Timestamp) -> AppResult<()> {
    if has_templates(app, channel) {
        let job = NewJob {
            workspace_id: Some(ws),
            kind: SYNC_TEMPLATES_JOB.into(),
            payload: serde_json::json!({ "channel_id": channel.id }),
            run_at: at,
            max_attempts: 5,
        };
        app.store.enqueue_job(&job).await?;
    }
    Ok(())
}

/// `POST /api/v1/channels/{id}/templates/sync` (managers).
pub async fn sync_templates(app: &App, who: &Principal, id: Id) -> AppResult<TemplateSync> {
    require(who, Role::Manager)?;
    let channel = app.store.get_channel(who.workspace_id, id).await?;
    sync_templates_of(app, who.workspace_id, &channel).await
}

/// Asks the plugin for the provider's templates and stores them.
pub async fn sync_templates_of(app: &App, ws: Id, channel: &Channel) -> AppResult<TemplateSync> {
    if !has_templates(app, channel) {
        return Err(AppError::Unprocessable {
            code: "templates_unsupported",
            message: format!("the channel plugin `{}` has no provider templates", channel.plugin_id),
        });
    }
    let secrets = settings::channel_secrets(app, ws, channel.id).await?;
    let call = call_with(app, ws, channel, secrets)?;
    let listed = call
        .plugin
        .list_templates(call.ctx)
        .await
        .map_err(|e| AppError::PluginFailed(format!("the channel's plugin failed: {e}")))?
        .map_err(|e| AppError::Unprocessable { code: "template_sync_failed", message: format!("{e:?}") })?;
    let listed: Vec<serde_json::Value> = serde_json::from_str(&listed)
        .map_err(|e| AppError::PluginFailed(format!("the plugin listed templates that are not JSON: {e}")))?;
    let templates: Vec<TemplateFields> = listed.iter().filter_map(|t| template(channel.id, t)).collect();
    let report = app.store.sync_templates(ws, channel.id, &templates).await?;
    tracing::info!(channel = channel.id, ?report, "templates synced");
    Ok(report)
}

/// One listed template as stored; entries without a name or language are skipped.
fn template(channel: Id, t: &serde_json::Value) -> Option<TemplateFields> {
    let name = t["name"].as_str().filter(|n| !n.is_empty())?;
    let language = t["language"].as_str().filter(|l| !l.is_empty())?;
    let category = t["category"]
        .as_str()
        .and_then(|c| TemplateCategory::parse(&c.to_ascii_lowercase()))
        .unwrap_or(TemplateCategory::Utility);
    Some(TemplateFields {
        channel_id: Some(channel),
        name: name.to_owned(),
        language: language.to_owned(),
        category,
        components: t["components"].as_array().cloned().unwrap_or_default(),
        status: t["status"].as_str().unwrap_or("approved").to_ascii_lowercase(),
    })
}

/// The periodic sync: runs, then schedules the next run.
pub struct SyncTemplates;

#[async_trait]
impl JobHandler for SyncTemplates {
    async fn run(&self, app: &App, job: &Job) -> Result<(), JobError> {
        let ws = job.workspace_id.ok_or_else(|| JobError::Permanent("a sync job without a workspace".into()))?;
        let id = job.payload["channel_id"].as_i64().ok_or_else(|| JobError::Permanent("no channel_id".into()))?;
        let channel = match app.store.get_channel(ws, id).await {
            Ok(channel) => channel,
            // The channel was deleted: the chain of syncs ends here.
            Err(crate::store::StoreError::NotFound(_)) => return Ok(()),
            Err(e) => return Err(JobError::Transient(e.to_string())),
        };
        if channel.enabled {
            sync_templates_of(app, ws, &channel).await.map_err(|e| JobError::Transient(e.to_string()))?;
        }
        schedule_sync(app, ws, &channel, Utc::now() + chrono::Duration::hours(SYNC_EVERY_HOURS))
            .await
            .map_err(|e| JobError::Transient(e.to_string()))
    }
}
