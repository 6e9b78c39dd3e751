//! Provider webhooks: the channel's plugin verifies and parses the raw request, the store ingests every
//! item in one transaction, and only then is the plugin's answer returned to the provider.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use switchboard_plugin_sdk::event::{ContactProfile, DeliveryStatus, InboundEvent};

use super::validate;
use crate::app::App;
use crate::error::{AppError, AppResult};
use crate::model::*;
use crate::plugins::{CallContext, ChannelPlugin, HttpRequest, HttpResponse, PluginError, WebhookError};

/// A provider's request as it arrived.
#[derive(Debug, Clone)]
pub struct WebhookRequest {
    pub method: String,
    pub path: String,
    pub query: String,
    /// Names lower-cased.
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

/// A channel and its plugin, ready to be called for this channel instance.
pub struct ChannelCall {
    pub workspace_id: Id,
    pub channel: Channel,
    pub plugin: ChannelPlugin,
    pub ctx: CallContext,
}

/// A channel as webhooks need it: its workspace, its settings and its opened secrets.
type CachedChannel = Arc<(Id, Channel, BTreeMap<String, String>)>;

/// How long a channel read for a webhook is reused before it is read again.
const CHANNEL_TTL: Duration = Duration::from_secs(5);

/// Channels recently used by webhooks, with their opened secrets: a busy channel is read and its secrets
/// decrypted once every few seconds instead of on every delivery. A change made through this server forgets
/// the channel at once; a change made on another node is seen within [`CHANNEL_TTL`].
#[derive(Default)]
pub struct ChannelCache(Mutex<HashMap<Id, (Instant, CachedChannel)>>);

impl ChannelCache {
    fn get(&self, id: Id) -> Option<CachedChannel> {
        let map = self.0.lock().unwrap_or_else(|e| e.into_inner());
        map.get(&id).filter(|(at, _)| at.elapsed() < CHANNEL_TTL).map(|(_, c)| c.clone())
    }

    fn put(&self, id: Id, channel: CachedChannel) {
        let mut map = self.0.lock().unwrap_or_else(|e| e.into_inner());
        if map.len() >= 10_000 {
            map.retain(|_, (at, _)| at.elapsed() < CHANNEL_TTL);
        }
        map.insert(id, (Instant::now(), channel));
    }

    /// Forgets a channel that changed or was deleted.
    pub fn forget(&self, id: Id) {
        self.0.lock().unwrap_or_else(|e| e.into_inner()).remove(&id);
    }
}

/// The enabled channel `id` (in any workspace) and its loaded plugin, with the instance's settings and
/// secrets in the call context.
pub async fn channel_call(app: &App, id: Id) -> AppResult<ChannelCall> {
    let cached = match app.channel_cache.get(id) {
        Some(c) => c,
        None => {
            let (ws, channel) = app.store.find_channel(id).await?.ok_or(AppError::NotFound("channel"))?;
            let secrets = super::settings::channel_secrets(app, ws, channel.id).await?;
            let entry = Arc::new((ws, channel, secrets));
            app.channel_cache.put(id, entry.clone());
            entry
        }
    };
    let (ws, channel, secrets) = cached.as_ref();
    if !channel.enabled {
        return Err(AppError::NotFound("channel"));
    }
    super::channels::call_with(app, *ws, channel, secrets.clone())
}

/// The call context of a known channel, with its stored secrets.
pub async fn call_for(app: &App, ws: Id, channel: Channel) -> AppResult<ChannelCall> {
    let secrets: BTreeMap<String, String> = super::settings::channel_secrets(app, ws, channel.id).await?;
    super::channels::call_with(app, ws, &channel, secrets)
}

fn plugin_failed(channel: Id, e: PluginError) -> AppError {
    tracing::warn!(channel, error = %e, "channel plugin failed on a webhook");
    AppError::PluginFailed(format!("the channel's plugin failed: {e}"))
}

fn refused(e: WebhookError) -> AppError {
    match e {
        WebhookError::Unauthorized(why) => AppError::WebhookUnauthorized(why),
        WebhookError::BadRequest(why) => AppError::WebhookRejected(why),
    }
}

fn to_plugin(request: WebhookRequest) -> HttpRequest {
    HttpRequest {
        method: request.method,
        path: request.path,
        query: request.query,
        headers: request.headers,
        body: request.body,
    }
}

/// A verification handshake (`GET /webhooks/{id}`).
pub async fn verify(app: &App, channel_id: Id, request: WebhookRequest) -> AppResult<HttpResponse> {
    let call = channel_call(app, channel_id).await?;
    match call.plugin.verify(call.ctx, to_plugin(request)).await.map_err(|e| plugin_failed(channel_id, e))? {
        Ok(Some(answer)) => Ok(answer),
        Ok(None) => Err(AppError::WebhookRejected("not a verification request this channel understands".into())),
        // A handshake is refused with a 403, as Meta's documentation asks, rather than a 401.
        Err(WebhookError::Unauthorized(why)) => Err(AppError::WebhookForbidden(why)),
        Err(e) => Err(refused(e)),
    }
}

/// A delivery (`POST /webhooks/{id}`) to the channel of `call` (from [`channel_call`]): verified and parsed by
/// the plugin, committed, then answered.
pub async fn deliver(app: &App, call: ChannelCall, request: WebhookRequest) -> AppResult<(HttpResponse, IngestReport)> {
    let channel_id = call.channel.id;
    let result = call
        .plugin
        .handle_webhook(call.ctx, to_plugin(request))
        .await
        .map_err(|e| plugin_failed(channel_id, e))?
        .map_err(|e| {
            tracing::info!(channel = channel_id, error = ?e, "webhook refused by the channel's plugin");
            refused(e)
        })?;
    let report = ingest_events(app, call.workspace_id, &call.channel, &result.events).await?;
    Ok((result.response, report))
}

/// Ingests a plugin's events (a webhook's or a poll's) in one transaction. Files a plugin handed over
/// inline (`"data"`, base64, e-mail attachments) are stored first: content-addressed, so a retry after a
/// failed commit stores nothing twice.
pub async fn ingest_events(app: &App, ws: Id, channel: &Channel, events_json: &str) -> AppResult<IngestReport> {
    let events: Vec<InboundEvent> = serde_json::from_str(events_json)
        .map_err(|e| AppError::PluginFailed(format!("the channel's plugin returned unreadable events: {e}")))?;
    let mut items = Vec::with_capacity(events.len());
    for mut event in events {
        if let InboundEvent::Message { content, .. } | InboundEvent::Echo { content, .. } = &mut event {
            store_inline_file(app, ws, content).await?;
        }
        items.push(item(event));
    }
    let report = app.committer.ingest(ws, channel.id, items).await?;
    app.changed();
    metrics::counter!("switchboard_inbound_messages_total", "plugin" => channel.plugin_id.clone())
        .increment(u64::from(report.messages));
    Ok(report)
}

/// Moves a media content's inline `data` into the media store and points its `url` at the stored file;
/// a file the store refuses (too large, not base64) becomes a text saying so, so the rest still lands.
async fn store_inline_file(app: &App, ws: Id, content: &mut serde_json::Value) -> AppResult<()> {
    use base64::Engine;
    let Some(data) = content.as_object_mut().and_then(|c| c.remove("data")) else { return Ok(()) };
    let filename = content["filename"].as_str().map(str::to_owned);
    let shown = filename.clone().unwrap_or_else(|| "a file".into());
    let bytes = match data.as_str().map(|d| base64::engine::general_purpose::STANDARD.decode(d.trim())) {
        Some(Ok(bytes)) => bytes,
        _ => {
            *content = serde_json::json!({ "type": "text", "text": format!("[{shown}: unreadable attachment]") });
            return Ok(());
        }
    };
    let mime = content["mime_type"].as_str().unwrap_or("application/octet-stream").to_owned();
    match super::media::store(app, ws, bytes, &mime, filename).await {
        Ok(file) => {
            content["url"] = serde_json::Value::String(file.url.clone());
            content["mime_type"] = serde_json::Value::String(file.content_type);
            if let Some(c) = content.as_object_mut() {
                c.remove("media_ref");
            }
        }
        Err(AppError::PayloadTooLarge) => {
            let text = format!("[{shown} is larger than media.max_bytes ({} bytes)]", app.config.media.max_bytes);
            *content = serde_json::json!({ "type": "text", "text": text });
        }
        Err(AppError::Validation { .. }) => {
            *content = serde_json::json!({ "type": "text", "text": format!("[{shown}: empty attachment]") });
        }
        Err(e) => return Err(e),
    }
    Ok(())
}

/// A plugin's event as the store takes it.
fn item(event: InboundEvent) -> InboundItem {
    match event {
        InboundEvent::Message { contact, provider_message_id, content, .. } => {
            let (external_id, profile) = profile(contact);
            InboundItem::Message { external_id, profile, provider_message_id, content: content_of(content) }
        }
        InboundEvent::Status { provider_message_id, status, reason, .. } => {
            InboundItem::Status { provider_message_id, status: status_of(status), reason }
        }
        InboundEvent::Contact { contact } => {
            let (external_id, profile) = profile(contact);
            InboundItem::Profile { external_id, profile }
        }
        InboundEvent::Watermark { contact_external_id, status, watermark_ms } => InboundItem::Watermark {
            external_id: contact_external_id,
            status: status_of(status),
            up_to_ms: watermark_ms,
        },
        InboundEvent::Echo { contact, provider_message_id, content, .. } => {
            let (external_id, profile) = profile(contact);
            InboundItem::Echo { external_id, profile, provider_message_id, content: content_of(content) }
        }
    }
}

fn status_of(status: DeliveryStatus) -> MessageStatus {
    match status {
        DeliveryStatus::Sent => MessageStatus::Sent,
        DeliveryStatus::Delivered => MessageStatus::Delivered,
        DeliveryStatus::Read => MessageStatus::Read,
        DeliveryStatus::Failed => MessageStatus::Failed,
    }
}

/// A plugin's content as the server's; content the server does not know is kept as a text saying so.
fn content_of(content: serde_json::Value) -> MessageContent {
    serde_json::from_value::<MessageContent>(content.clone()).unwrap_or_else(|_| {
        let kind = content.get("type").and_then(|t| t.as_str()).unwrap_or("unknown");
        tracing::warn!(kind, "a channel plugin returned content the server does not know; kept as text");
        MessageContent::text(format!("[unsupported {kind} message]"))
    })
}

/// The provider's profile as contact fields; values that do not validate are dropped, not fatal.
fn profile(c: ContactProfile) -> (String, ContactFields) {
    let clean =
        |v: Option<String>, max: usize| v.map(|s| s.trim().to_owned()).filter(|s| !s.is_empty() && s.len() <= max);
    // Providers often give the number without its `+` (WhatsApp's wa_id).
    let phone =
        c.phone.map(|p| if !p.is_empty() && p.chars().all(|d| d.is_ascii_digit()) { format!("+{p}") } else { p });
    // The provider knows the number reaches the contact even when the number plan does not list its range
    // yet; keep any plausible E.164 number, with a country only when it validates.
    let plausible = |p: &str| {
        let digits = p.strip_prefix('+').unwrap_or(p);
        (8..=15).contains(&digits.len()) && digits.chars().all(|d| d.is_ascii_digit())
    };
    let (phone, country) = match phone.as_deref().map(|p| (p, validate::phone("phone", p))) {
        Some((_, Ok((e164, country)))) => (Some(e164), country),
        Some((p, Err(_))) if plausible(p) => (Some(p.to_owned()), None),
        _ => (None, None),
    };
    let fields = ContactFields {
        first_name: clean(c.first_name, 100),
        last_name: clean(c.last_name, 100),
        phone,
        email: c.email.and_then(|e| validate::email("email", &e).ok()),
        country,
        language: c.language.and_then(|l| validate::language("language", &l).ok()),
        avatar_url: c.avatar_url.and_then(|u| validate::url("avatar_url", &u).ok()),
        ..Default::default()
    };
    (c.external_id, fields)
}
