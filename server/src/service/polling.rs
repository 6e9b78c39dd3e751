//! Channels that fetch what arrived instead of being called (e-mail over IMAP): job `channel.poll` polls
//! a channel every `poll_interval_seconds` of its settings, ingests the events as a webhook's and only
//! then keeps the cursor, so a crash in between fetches the same messages again (and ingestion drops the
//! duplicates) rather than losing them. `POST /api/v1/channels/{id}/poll` polls at once.

use async_trait::async_trait;
use chrono::Utc;

use super::require;
use crate::app::App;
use crate::error::{AppError, AppResult};
use crate::jobs::{JobError, JobHandler};
use crate::model::*;
use crate::plugins::PollError;

/// The job that polls a channel and schedules its next poll.
pub const POLL_JOB: &str = "channel.poll";
/// Polls one run makes while the plugin says more is waiting; then the next run goes on at once.
const ROUNDS: u32 = 10;
const DEFAULT_INTERVAL_SECONDS: i64 = 60;

/// What one poll brought in.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize, utoipa::ToSchema)]
pub struct PollReport {
    pub messages: u32,
    /// Messages already stored (fetched again after a crash, or also delivered by a webhook).
    pub duplicates: u32,
    pub statuses: u32,
    /// The plugin has more waiting; the next poll goes on at once.
    pub more: bool,
}

/// Whether the channel's plugin polls.
pub fn polls(app: &App, channel: &Channel) -> bool {
    app.plugins.channel(&channel.plugin_id).is_some_and(|p| p.polls())
}

/// Where the cursor of a channel's polls is kept: apart from the plugin's own keys, which it cannot reach.
fn cursor_scope(channel: &Channel) -> String {
    format!("poll/{}", channel.id)
}

/// The channel's `poll_interval_seconds` (a number or a numeric text), between 10 s and a day.
fn interval(channel: &Channel) -> chrono::Duration {
    let raw = &channel.config["poll_interval_seconds"];
    let seconds = raw.as_i64().or_else(|| raw.as_str().and_then(|s| s.trim().parse().ok()));
    chrono::Duration::seconds(seconds.unwrap_or(DEFAULT_INTERVAL_SECONDS).clamp(10, 86_400))
}

/// Schedules a poll of a channel whose plugin polls.
pub async fn schedule_poll(app: &App, ws: Id, channel: &Channel, at: Timestamp) -> AppResult<()> {
    if polls(app, channel) {
        let job = NewJob {
            workspace_id: Some(ws),
            kind: POLL_JOB.into(),
            payload: serde_json::json!({ "channel_id": channel.id }),
            run_at: at,
            max_attempts: 3,
        };
        app.store.enqueue_job(&job).await?;
    }
    Ok(())
}

/// `POST /api/v1/channels/{id}/poll` (managers): polls now, as often as the plugin has more.
pub async fn poll_now_for(app: &App, who: &Principal, id: Id) -> AppResult<PollReport> {
    require(who, Role::Manager)?;
    let channel = app.store.get_channel(who.workspace_id, id).await?;
    if !channel.enabled {
        return Err(AppError::Unprocessable { code: "channel_disabled", message: "the channel is disabled".into() });
    }
    poll_now(app, who.workspace_id, &channel).await
}

/// Polls until the plugin has nothing more (at most [`ROUNDS`] times), committing each round's events
/// before keeping its cursor.
pub async fn poll_now(app: &App, ws: Id, channel: &Channel) -> AppResult<PollReport> {
    if !polls(app, channel) {
        return Err(AppError::Unprocessable {
            code: "polling_unsupported",
            message: format!("the channel plugin `{}` does not poll", channel.plugin_id),
        });
    }
    let scope = cursor_scope(channel);
    let mut report = PollReport::default();
    for _ in 0..ROUNDS {
        let cursor = app.store.kv_get(&scope, "cursor").await?.map(|c| String::from_utf8_lossy(&c).into_owned());
        let call = super::inbound::call_for(app, ws, channel.clone()).await?;
        let polled = call
            .plugin
            .poll(call.ctx, cursor.unwrap_or_default())
            .await
            .map_err(|e| AppError::PluginFailed(format!("the channel's plugin failed: {e}")))?
            .map_err(|e| {
                let why = match e {
                    PollError::Transient(why) | PollError::Permanent(why) => why,
                };
                AppError::Unprocessable { code: "channel_poll_failed", message: format!("polling failed: {why}") }
            })?;
        let ingested = super::inbound::ingest_events(app, ws, channel, &polled.events).await?;
        app.store.kv_set(&scope, "cursor", polled.cursor.as_bytes()).await?;
        report.messages += ingested.messages;
        report.duplicates += ingested.duplicates;
        report.statuses += ingested.statuses;
        report.more = polled.more;
        if !polled.more {
            break;
        }
    }
    Ok(report)
}

/// The periodic poll: polls, then schedules the next one. A failed poll is logged and tried again at the
/// next interval (a mail server that is down must not end the chain).
pub struct PollChannel;

#[async_trait]
impl JobHandler for PollChannel {
    async fn run(&self, app: &App, job: &Job) -> Result<(), JobError> {
        let ws = job.workspace_id.ok_or_else(|| JobError::Permanent("a poll job without a workspace".into()))?;
        let id = job.payload["channel_id"].as_i64().ok_or_else(|| JobError::Permanent("no channel_id".into()))?;
        let channel = match app.store.get_channel(ws, id).await {
            Ok(channel) => channel,
            // The channel was deleted: the chain of polls ends here.
            Err(crate::store::StoreError::NotFound(_)) => return Ok(()),
            Err(e) => return Err(JobError::Transient(e.to_string())),
        };
        let mut next = Utc::now() + interval(&channel);
        if channel.enabled && polls(app, &channel) {
            match poll_now(app, ws, &channel).await {
                Ok(report) if report.more => next = Utc::now(),
                Ok(_) => {}
                Err(e) => {
                    tracing::warn!(channel = channel.id, error = %e, "polling the channel failed");
                    metrics::counter!("switchboard_channel_poll_failures_total", "plugin" => channel.plugin_id.clone())
                        .increment(1);
                }
            }
        }
        schedule_poll(app, ws, &channel, next).await.map_err(|e| JobError::Transient(e.to_string()))
    }
}
