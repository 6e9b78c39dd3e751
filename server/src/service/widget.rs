//! The website chat: visitors of a business's site talk to its team through the `webchat` channel. The
//! widget's public endpoints land here: a visitor is identified by a token the server signs (the channel
//! and a random visitor id), so a visitor only ever sees their own conversation on that channel; their
//! messages go through group commit like any provider delivery; replies reach them from the history and
//! the live stream.

use chrono::{DateTime, Utc};
use rand::RngCore;
use serde::{Deserialize, Serialize};

use super::validate;
use crate::app::App;
use crate::error::{AppError, AppResult};
use crate::model::*;

/// The plugin id of website-chat channels.
pub const PLUGIN_ID: &str = "webchat";

/// Longest visitor message, in characters.
const MAX_TEXT: usize = 4000;

/// What the widget shows before the first message (from the channel's configuration).
#[derive(Debug, Clone, Serialize)]
pub struct WidgetConfig {
    pub channel_id: Id,
    /// The admin's heading; absent: the widget's own, in the visitor's language.
    pub title: Option<String>,
    /// The admin's first line; absent: the widget's own, in the visitor's language.
    pub greeting: Option<String>,
    pub color: String,
    /// `off`, `optional` or `required`.
    pub prechat: String,
}

/// A visitor's session: the token the widget keeps, and what the server knows of the visitor.
#[derive(Debug, Clone, Serialize)]
pub struct Session {
    pub token: String,
    pub visitor_id: String,
    pub name: Option<String>,
    pub email: Option<String>,
}

/// A message as the visitor sees it.
#[derive(Debug, Clone, Serialize)]
pub struct WidgetMessage {
    pub id: Id,
    /// `incoming` (from the visitor) or `outgoing` (from the business).
    pub direction: Direction,
    pub text: String,
    pub media: Option<WidgetMedia>,
    /// The agent's name on replies.
    pub sender_name: Option<String>,
    pub created_at: DateTime<Utc>,
    /// The widget's own id of a visitor's message, so it can match its optimistic copy.
    pub client_id: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct WidgetMedia {
    pub url: String,
    pub mime_type: Option<String>,
    pub caption: Option<String>,
}

/// A visitor's message.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VisitorMessage {
    /// The widget's id for this message (a UUID): sending it again stores it once.
    pub client_id: String,
    pub text: String,
    /// From the pre-chat form.
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub email: Option<String>,
}

/// A website-chat channel, found by id from a public request.
#[derive(Debug, Clone)]
pub struct WidgetChannel {
    pub workspace_id: Id,
    pub channel: Channel,
}

impl WidgetChannel {
    fn setting(&self, key: &str) -> Option<String> {
        self.channel.config.get(key).and_then(|v| v.as_str()).map(str::trim).filter(|s| !s.is_empty()).map(Into::into)
    }

    pub fn config(&self) -> WidgetConfig {
        let color = self.setting("color").filter(|c| is_color(c)).unwrap_or_else(|| "#2563eb".into());
        let prechat = match self.setting("prechat").as_deref() {
            Some(p @ ("optional" | "required")) => p.to_owned(),
            _ => "off".to_owned(),
        };
        WidgetConfig {
            channel_id: self.channel.id,
            title: self.setting("title"),
            greeting: self.setting("greeting"),
            color,
            prechat,
        }
    }

    /// Whether a page of `origin` may use this chat: any page unless `allowed_origins` lists some.
    pub fn allows_origin(&self, origin: Option<&str>) -> bool {
        let allowed: Vec<String> = match self.channel.config.get("allowed_origins") {
            Some(serde_json::Value::Array(list)) => {
                list.iter().filter_map(|v| v.as_str()).map(|s| s.trim().trim_end_matches('/').to_owned()).collect()
            }
            Some(serde_json::Value::String(s)) => s
                .split([',', ' '])
                .map(|o| o.trim().trim_end_matches('/').to_owned())
                .filter(|o| !o.is_empty())
                .collect(),
            _ => Vec::new(),
        };
        allowed.is_empty() || origin.is_some_and(|o| allowed.iter().any(|a| a.eq_ignore_ascii_case(o)))
    }
}

fn is_color(c: &str) -> bool {
    c.len() == 7 && c.starts_with('#') && c[1..].chars().all(|d| d.is_ascii_hexdigit())
}

/// The enabled website-chat channel `id`; anything else looks like an unknown channel.
pub async fn channel(app: &App, id: Id) -> AppResult<WidgetChannel> {
    match app.store.find_channel(id).await? {
        Some((workspace_id, channel)) if channel.enabled && channel.plugin_id == PLUGIN_ID => {
            Ok(WidgetChannel { workspace_id, channel })
        }
        _ => Err(AppError::NotFound("chat")),
    }
}

fn token_payload(channel: Id, visitor: &str) -> String {
    format!("widget-visitor|{channel}|{visitor}")
}

/// `v1.{visitor}.{signature}`: the signature covers the channel too, so a token works on one channel only.
fn issue_token(app: &App, channel: Id, visitor: &str) -> String {
    format!("v1.{visitor}.{}", app.secrets.sign(&token_payload(channel, visitor)))
}

/// The visitor id a token stands for on this channel.
pub fn visitor_of(app: &App, chat: &WidgetChannel, token: &str) -> AppResult<String> {
    let invalid =
        || AppError::VisitorTokenInvalid("the visitor token is missing, malformed or for another chat".into());
    let mut parts = token.trim().splitn(3, '.');
    let (Some("v1"), Some(visitor), Some(sig)) = (parts.next(), parts.next(), parts.next()) else {
        return Err(invalid());
    };
    let well_formed = visitor.len() == 32 && visitor.chars().all(|c| c.is_ascii_hexdigit());
    if !well_formed || !app.secrets.verify(&token_payload(chat.channel.id, visitor), sig) {
        return Err(invalid());
    }
    Ok(visitor.to_owned())
}

/// Resumes the session of a valid token, or starts a new visitor (a missing or foreign token).
pub async fn session(app: &App, chat: &WidgetChannel, token: Option<&str>) -> AppResult<Session> {
    if let Some(visitor) = token.and_then(|t| visitor_of(app, chat, t).ok()) {
        let contact = app.store.find_contact_by_identity(chat.workspace_id, chat.channel.id, &visitor).await?;
        let name = contact.as_ref().and_then(|c| {
            let full = [c.first_name.as_deref(), c.last_name.as_deref()].into_iter().flatten().collect::<Vec<_>>();
            (!full.is_empty()).then(|| full.join(" "))
        });
        let email = contact.and_then(|c| c.email);
        return Ok(Session { token: issue_token(app, chat.channel.id, &visitor), visitor_id: visitor, name, email });
    }
    let mut id = [0u8; 16];
    rand::rngs::OsRng.fill_bytes(&mut id);
    let visitor = hex::encode(id);
    metrics::counter!("switchboard_widget_sessions_total").increment(1);
    Ok(Session { token: issue_token(app, chat.channel.id, &visitor), visitor_id: visitor, name: None, email: None })
}

/// Stores a visitor's message (once per `client_id`) and returns it as the visitor sees it.
pub async fn post(app: &App, chat: &WidgetChannel, visitor: &str, msg: VisitorMessage) -> AppResult<WidgetMessage> {
    let client_id = msg.client_id.trim();
    if client_id.is_empty() || client_id.len() > 64 || !client_id.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
    {
        return Err(AppError::validation("client_id", "must be 1–64 letters, digits or dashes (a UUID)"));
    }
    let text = msg.text.trim();
    if text.is_empty() {
        return Err(AppError::validation("text", "must not be empty"));
    }
    if text.chars().count() > MAX_TEXT {
        return Err(AppError::validation("text", format!("must be at most {MAX_TEXT} characters")));
    }
    let name = msg.name.map(|n| n.trim().to_owned()).filter(|n| !n.is_empty());
    if name.as_ref().is_some_and(|n| n.chars().count() > 100) {
        return Err(AppError::validation("name", "must be at most 100 characters"));
    }
    let email = match msg.email.map(|e| e.trim().to_owned()).filter(|e| !e.is_empty()) {
        Some(e) => Some(validate::email("email", &e)?),
        None => None,
    };
    let (ws, channel) = (chat.workspace_id, chat.channel.id);
    if chat.config().prechat == "required" && (name.is_none() || email.is_none()) {
        let known = app.store.find_contact_by_identity(ws, channel, visitor).await?;
        let has = |v: Option<&String>, known: Option<&str>| v.is_some() || known.is_some();
        let complete = known
            .as_ref()
            .is_some_and(|c| has(name.as_ref(), c.first_name.as_deref()) && has(email.as_ref(), c.email.as_deref()));
        if !complete {
            return Err(AppError::Unprocessable {
                code: "prechat_required",
                message: "this chat asks for your name and email before the first message".into(),
            });
        }
    }
    let (first_name, last_name) = match name.as_deref().map(|n| n.split_once(' ').unwrap_or((n, ""))) {
        Some((first, last)) => (Some(first.to_owned()), Some(last.trim().to_owned()).filter(|l| !l.is_empty())),
        None => (None, None),
    };
    let profile = ContactFields { first_name, last_name, email, ..Default::default() };
    let provider_id = format!("{visitor}:{client_id}");
    let items = vec![
        InboundItem::Message {
            external_id: visitor.to_owned(),
            profile: profile.clone(),
            provider_message_id: provider_id.clone(),
            content: MessageContent::text(text.to_owned()),
        },
        // A visitor who fills the form after a first message still gets a name on their contact.
        InboundItem::Profile { external_id: visitor.to_owned(), profile },
    ];
    app.committer.ingest(ws, channel, items).await?;
    app.changed();
    metrics::counter!("switchboard_inbound_messages_total", "plugin" => PLUGIN_ID).increment(1);
    let stored = app.store.message_by_provider_id(ws, channel, &provider_id).await?;
    let stored = stored.ok_or_else(|| AppError::internal("a committed visitor message is missing"))?;
    Ok(view(app, ws, stored, &mut Names::default()).await)
}

/// The visitor's messages after `after`, oldest first (at most 200); failed replies are left out.
pub async fn history(app: &App, chat: &WidgetChannel, visitor: &str, after: Id) -> AppResult<Vec<WidgetMessage>> {
    let ws = chat.workspace_id;
    let messages = app.store.channel_history(ws, chat.channel.id, visitor, after, 200).await?;
    let mut names = Names::default();
    let mut out = Vec::with_capacity(messages.len());
    for m in messages {
        if m.direction == Direction::Outgoing && m.status == MessageStatus::Failed {
            continue;
        }
        out.push(view(app, ws, m, &mut names).await);
    }
    Ok(out)
}

/// Agents' names, looked up once per request.
#[derive(Default)]
struct Names(std::collections::HashMap<Id, Option<String>>);

async fn view(app: &App, ws: Id, m: Message, names: &mut Names) -> WidgetMessage {
    let sender_name = match (m.direction, m.sender.kind, m.sender.id) {
        (Direction::Outgoing, ActorKind::User, Some(user)) => match names.0.get(&user) {
            Some(name) => name.clone(),
            None => {
                let name = app.store.get_user(ws, user).await.ok().map(|u| u.name);
                names.0.insert(user, name.clone());
                name
            }
        },
        _ => None,
    };
    let client_id = match m.direction {
        Direction::Incoming => {
            m.provider_message_id.as_deref().and_then(|p| p.split_once(':')).map(|(_, c)| c.to_owned())
        }
        Direction::Outgoing => None,
    };
    let (text, media) = match &m.content {
        MessageContent::Text { text, .. } => (text.clone(), None),
        MessageContent::Media { mime_type, caption, .. } => {
            // Files of this server become links the visitor's browser can fetch without an account.
            let url = super::media::for_provider(app, ws, &m.content, false)
                .await
                .ok()
                .and_then(|v| v["url"].as_str().map(str::to_owned))
                .unwrap_or_default();
            let media =
                (!url.is_empty()).then(|| WidgetMedia { url, mime_type: mime_type.clone(), caption: caption.clone() });
            (caption.clone().unwrap_or_default(), media)
        }
        other => (other.preview(), None),
    };
    WidgetMessage { id: m.id, direction: m.direction, text, media, sender_name, created_at: m.created_at, client_id }
}
