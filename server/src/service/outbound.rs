//! Sending: the `message.send` job hands a stored outgoing message to its channel's plugin and records
//! the outcome — the provider's id and `sent`, a retry later, or `failed` with the provider's reason.

use async_trait::async_trait;
use switchboard_plugin_sdk::event::OutboundMessage;

use crate::app::App;
use crate::jobs::{JobError, JobHandler};
use crate::model::*;
use crate::plugins::SendError;

/// The handler of `message.send` jobs (payload `{"message_id": …}`).
pub struct SendMessage;

#[async_trait]
impl JobHandler for SendMessage {
    async fn run(&self, app: &App, job: &Job) -> Result<(), JobError> {
        let ws = job.workspace_id.ok_or_else(|| JobError::Permanent("a send job without a workspace".into()))?;
        let id = job.payload["message_id"]
            .as_i64()
            .ok_or_else(|| JobError::Permanent("a send job without message_id".into()))?;
        let last_attempt = job.attempts >= job.max_attempts;
        let outcome = send(app, ws, id).await;
        let failure = match outcome {
            Ok(()) => return Ok(()),
            Err(Failure::Retry(why)) if !last_attempt => return Err(JobError::Transient(why)),
            Err(Failure::Retry(why)) => format!("gave up after {} attempts: {why}", job.attempts),
            Err(Failure::Final(why)) => why,
        };
        // The message shows why it was not delivered; the job ends here.
        app.store
            .update_message_status(ws, id, MessageStatus::Failed, Some(&failure))
            .await
            .map_err(|e| JobError::Transient(format!("cannot record the failure: {e}")))?;
        app.changed();
        metrics::counter!("switchboard_outbound_failed_total").increment(1);
        Err(JobError::Permanent(failure))
    }
}

enum Failure {
    /// Worth another attempt (network, provider busy, plugin not loaded yet).
    Retry(String),
    /// Will never succeed; the message is marked failed with this reason.
    Final(String),
}

async fn send(app: &App, ws: Id, id: Id) -> Result<(), Failure> {
    let ctx = app.store.outbound(ws, id).await.map_err(|e| match e {
        crate::store::StoreError::NotFound(_) => Failure::Final("the message no longer exists".into()),
        other => Failure::Retry(other.to_string()),
    })?;
    if ctx.message.status != MessageStatus::Pending {
        // Already sent or failed (a repeated job): nothing to do.
        return Ok(());
    }
    let channel = ctx.channel.ok_or_else(|| Failure::Final("the message has no channel".into()))?;
    if !channel.enabled {
        return Err(Failure::Final(format!("the channel {} is disabled", channel.name)));
    }
    let to = ctx
        .recipient
        .ok_or_else(|| Failure::Final(format!("the contact is not reachable on the channel {}", channel.name)))?;
    let outside_window = super::window::is_closed(app, ws, ctx.message.contact_id, &channel)
        .await
        .map_err(|e| Failure::Retry(e.to_string()))?;
    let call = super::inbound::call_for(app, ws, channel).await.map_err(|e| Failure::Retry(e.to_string()))?;
    let content = match &ctx.message.content {
        MessageContent::Template { template_id, parameters, header, buttons } => {
            let template = app.store.get_template(ws, *template_id).await.map_err(|e| match e {
                crate::store::StoreError::NotFound(_) => Failure::Final("the template was deleted".into()),
                other => Failure::Retry(other.to_string()),
            })?;
            super::templates::provider_content(&template, parameters, header.as_ref(), buttons)
        }
        other => {
            // Only a file asks the registry whether the channel takes files inline: texts skip the lookup.
            let inline = matches!(other, MessageContent::Media { .. })
                && app
                    .plugins
                    .get(&call.channel.plugin_id)
                    .is_some_and(|e| e.manifest.as_ref().is_some_and(|m| m.channel.inline_media));
            super::media::for_provider(app, ws, other, inline).await.map_err(Failure::Final)?
        }
    };
    let message = serde_json::to_string(&OutboundMessage { to, content, reference: format!("m{id}"), outside_window })
        .map_err(|e| Failure::Final(e.to_string()))?;
    let sent = call.plugin.send(call.ctx, message).await.map_err(|e| Failure::Retry(format!("plugin: {e}")))?;
    match sent {
        Ok(provider_id) => {
            app.store.record_sent(ws, id, &provider_id).await.map_err(|e| Failure::Retry(e.to_string()))?;
            app.changed();
            metrics::counter!("switchboard_outbound_sent_total", "plugin" => call.channel.plugin_id).increment(1);
            Ok(())
        }
        Err(SendError::Transient(why)) => Err(Failure::Retry(why)),
        Err(SendError::Permanent(why)) => Err(Failure::Final(why)),
        Err(SendError::WindowClosed(why)) => Err(Failure::Final(format!("messaging window closed: {why}"))),
        Err(SendError::BadCredentials(why)) => Err(Failure::Final(format!("the channel's credentials: {why}"))),
    }
}
