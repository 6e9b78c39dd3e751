//! The inbox: opening, assigning, closing and reopening conversations; messages and comments.

use serde::Deserialize;
use utoipa::ToSchema;

use super::{actor, double_option, validate};
use crate::app::App;
use crate::error::{AppError, AppResult};
use crate::model::*;

/// Largest comment, as in respond.io.
pub const MAX_COMMENT_CHARS: usize = 1000;
/// Largest text of one message.
pub const MAX_TEXT_CHARS: usize = 4096;

#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct OpenConversation {
    pub contact_id: Id,
    pub team_id: Option<Id>,
    pub assignee_id: Option<Id>,
}

/// Opens a conversation with a contact that has none open (opened by: the calling user).
pub async fn open(app: &App, who: &Principal, req: OpenConversation) -> AppResult<Conversation> {
    let ws = who.workspace_id;
    app.store
        .get_contact(ws, req.contact_id)
        .await
        .map_err(|_| AppError::validation("contact_id", "no such contact"))?;
    if req.team_id.is_some() || req.assignee_id.is_some() {
        check_assignment(app, ws, req.assignee_id, req.team_id).await?;
    }
    let conversation = app.store.open_conversation(ws, req.contact_id, req.team_id, actor(who)).await?;
    if req.assignee_id.is_some() {
        return Ok(app
            .store
            .assign_conversation(ws, conversation.id, req.assignee_id, req.team_id, actor(who))
            .await?);
    }
    super::assignment::apply(app, ws, conversation).await
}

#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AssignRequest {
    /// The agent to assign; `null` unassigns; absent keeps the current one.
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<i64>)]
    pub user_id: Option<Option<Id>>,
    /// The team; `null` removes it; absent keeps the current one.
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<i64>)]
    pub team_id: Option<Option<Id>>,
}

pub(super) async fn check_assignment(app: &App, ws: Id, user: Option<Id>, team: Option<Id>) -> AppResult<()> {
    if let Some(user) = user {
        app.store
            .get_user(ws, user)
            .await
            .map_err(|_| AppError::validation("user_id", "is not a member of this workspace"))?;
    }
    if let Some(team) = team {
        let team = app.store.get_team(ws, team).await.map_err(|_| AppError::validation("team_id", "no such team"))?;
        if let Some(user) = user
            && !team.member_ids.contains(&user)
        {
            return Err(AppError::validation("user_id", format!("is not a member of the team {}", team.name)));
        }
    }
    Ok(())
}

pub async fn assign(app: &App, who: &Principal, id: Id, req: AssignRequest) -> AppResult<Conversation> {
    let ws = who.workspace_id;
    if req.user_id.is_none() && req.team_id.is_none() {
        return Err(AppError::validation("user_id", "give user_id and/or team_id (null to unassign)"));
    }
    let current = super::access::conversation(app, who, id).await?;
    let user = req.user_id.unwrap_or(current.assignee_id);
    let team = req.team_id.unwrap_or(current.team_id);
    check_assignment(app, ws, user, team).await?;
    let assigned = app.store.assign_conversation(ws, id, user, team, actor(who)).await?;
    // Handed to a team without naming anyone: the team's rule picks.
    if req.team_id.is_some() {
        return super::assignment::apply(app, ws, assigned).await;
    }
    Ok(assigned)
}

#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CloseConversation {
    /// A closing category of the workspace; required when the workspace's closing-note mode says so.
    pub category_id: Option<Id>,
    /// What happened; required in the `category_and_summary_required` mode. At most 1000 characters.
    pub summary: Option<String>,
}

pub async fn close(app: &App, who: &Principal, id: Id, req: CloseConversation) -> AppResult<Conversation> {
    let ws = who.workspace_id;
    super::access::conversation(app, who, id).await?;
    let mode = app.store.get_workspace(ws).await?.closing_note_mode;
    let mut close = CloseRequest {
        category_id: req.category_id,
        summary: validate::optional("summary", req.summary.as_deref(), MAX_COMMENT_CHARS)?,
    };
    match mode {
        ClosingNoteMode::Disabled => close = CloseRequest::default(),
        ClosingNoteMode::Optional => {}
        ClosingNoteMode::CategoryRequired | ClosingNoteMode::CategoryAndSummaryRequired => {
            if close.category_id.is_none() {
                return Err(AppError::validation("category_id", "this workspace requires a closing category"));
            }
            if mode == ClosingNoteMode::CategoryAndSummaryRequired && close.summary.is_none() {
                return Err(AppError::validation("summary", "this workspace requires a closing summary"));
            }
        }
    }
    if let Some(category) = close.category_id {
        app.store
            .get_closing_category(ws, category)
            .await
            .map_err(|_| AppError::validation("category_id", "no such closing category"))?;
    }
    Ok(app.store.close_conversation(ws, id, &close, actor(who)).await?)
}

pub async fn reopen(app: &App, who: &Principal, id: Id) -> AppResult<Conversation> {
    super::access::conversation(app, who, id).await?;
    Ok(app.store.reopen_conversation(who.workspace_id, id, actor(who)).await?)
}

#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SendMessage {
    pub content: MessageContent,
    /// The channel to send through; defaults to the conversation's last interacted channel.
    pub channel_id: Option<Id>,
}

fn check_content(app_content: &MessageContent) -> AppResult<()> {
    match app_content {
        MessageContent::Text { text, .. } => {
            validate::required("content.text", text, MAX_TEXT_CHARS)?;
        }
        MessageContent::Media { kind, url, caption, .. } => {
            if !["image", "video", "audio", "document", "sticker"].contains(&kind.as_str()) {
                return Err(AppError::validation("content.kind", "must be image, video, audio, document or sticker"));
            }
            // This server's own files (uploaded with POST /api/v1/media) go by their path.
            if !url.starts_with("/api/v1/media/") {
                validate::url("content.url", url)?;
            }
            validate::optional("content.caption", caption.as_deref(), 1024)?;
        }
        MessageContent::Location { latitude, longitude, .. } => {
            if !(-90.0..=90.0).contains(latitude) {
                return Err(AppError::validation("content.latitude", "must be between -90 and 90"));
            }
            if !(-180.0..=180.0).contains(longitude) {
                return Err(AppError::validation("content.longitude", "must be between -180 and 180"));
            }
        }
        MessageContent::Interactive { text, buttons } => {
            validate::required("content.text", text, 1024)?;
            if buttons.is_empty() || buttons.len() > 3 {
                return Err(AppError::validation("content.buttons", "must have 1 to 3 buttons"));
            }
            for (i, b) in buttons.iter().enumerate() {
                validate::required(&format!("content.buttons[{i}]"), b, 20)?;
            }
        }
        MessageContent::List { text, button, sections } => check_list(text, button, sections)?,
        MessageContent::ContactCard { card } => {
            let cards: Vec<&serde_json::Value> = match card {
                serde_json::Value::Array(list) => list.iter().collect(),
                one => vec![one],
            };
            if cards.is_empty() || cards.len() > 10 {
                return Err(AppError::validation("content.card", "must be a contact object or a list of 1 to 10"));
            }
            for (i, c) in cards.iter().enumerate() {
                let named = c["name"]["formatted_name"].as_str().is_some_and(|n| !n.trim().is_empty());
                if !named {
                    return Err(AppError::validation(format!("content.card[{i}].name.formatted_name"), "is required"));
                }
            }
        }
        MessageContent::Reaction { emoji, provider_message_id } => {
            validate::required("content.emoji", emoji, 16)?;
            validate::required("content.provider_message_id", provider_message_id, 256)?;
        }
        MessageContent::Reply { .. } => {
            return Err(AppError::validation("content.type", "replies to buttons come from contacts, not agents"));
        }
        MessageContent::Template { .. } => {}
    }
    Ok(())
}

/// The limits of interactive lists (WhatsApp's, the strictest provider's).
fn check_list(text: &str, button: &str, sections: &[ListSection]) -> AppResult<()> {
    validate::required("content.text", text, 1024)?;
    validate::required("content.button", button, 20)?;
    if sections.is_empty() || sections.len() > 10 {
        return Err(AppError::validation("content.sections", "must have 1 to 10 sections"));
    }
    let rows: usize = sections.iter().map(|s| s.rows.len()).sum();
    if rows == 0 || rows > 10 {
        return Err(AppError::validation("content.sections", "must have 1 to 10 rows in all"));
    }
    let mut ids = std::collections::HashSet::new();
    for (i, section) in sections.iter().enumerate() {
        let field = format!("content.sections[{i}].title");
        match section.title.as_deref() {
            Some(t) => validate::required(&field, t, 24).map(|_| ())?,
            None if sections.len() > 1 => return Err(AppError::validation(field, "is required with several sections")),
            None => {}
        }
        for (j, row) in section.rows.iter().enumerate() {
            let field = |f: &str| format!("content.sections[{i}].rows[{j}].{f}");
            validate::required(&field("title"), &row.title, 24)?;
            validate::optional(&field("description"), row.description.as_deref(), 72)?;
            let id = row.id.clone().unwrap_or_else(|| format!("{i}.{j}"));
            if id.is_empty() || id.chars().count() > 200 || !ids.insert(id) {
                return Err(AppError::validation(field("id"), "must be 1 to 200 characters and unique in the list"));
            }
        }
    }
    Ok(())
}

/// Refuses content the channel's plugin declares it cannot send (when the plugin is loaded; otherwise
/// the send job finds out and fails the message with the reason).
fn check_capability(app: &App, channel: &Channel, content: &MessageContent) -> AppResult<()> {
    let Some(entry) = app.plugins.get(&channel.plugin_id) else {
        return Ok(());
    };
    let Some(info) = entry.channel_info() else {
        return Ok(());
    };
    let c = &info.capabilities;
    let (supported, what) = match content {
        MessageContent::Text { .. } => (c.text, "text"),
        MessageContent::Media { .. } => (c.media, "media"),
        MessageContent::Location { .. } => (c.locations, "locations"),
        MessageContent::Template { .. } => (c.templates, "templates"),
        MessageContent::Interactive { .. } | MessageContent::List { .. } => (c.interactive, "interactive messages"),
        MessageContent::Reaction { .. } => (c.reactions, "reactions"),
        MessageContent::Reply { .. } | MessageContent::ContactCard { .. } => (true, ""),
    };
    if supported {
        return Ok(());
    }
    Err(AppError::Unprocessable {
        code: "content_unsupported",
        message: format!("the channel {} ({}) cannot send {what}", channel.name, info.name),
    })
}

/// Checks content an agent sends on `channel`: its shape and limits, that an uploaded file and a template
/// exist (and the template is approved), and that the channel can send it. Writes nothing.
pub(super) async fn check_outgoing(app: &App, ws: Id, channel: &Channel, content: &MessageContent) -> AppResult<()> {
    check_content(content)?;
    if let MessageContent::Media { url, .. } = content
        && let Some(sha) = url.strip_prefix("/api/v1/media/")
        && app.store.get_media(ws, sha).await?.is_none()
    {
        return Err(AppError::validation("content.url", "no such file in this workspace; upload it first"));
    }
    if let MessageContent::Template { template_id, parameters, header, buttons } = content {
        let template = app
            .store
            .get_template(ws, *template_id)
            .await
            .map_err(|_| AppError::validation("content.template_id", "no such template"))?;
        if template.channel_id.is_some() && !template.status.eq_ignore_ascii_case("approved") {
            return Err(AppError::Unprocessable {
                code: "template_not_approved",
                message: format!(
                    "the template `{}` is {}, not approved by the provider",
                    template.name, template.status
                ),
            });
        }
        super::templates::check(&template, parameters, header.as_ref(), buttons)?;
    }
    check_capability(app, channel, content)
}

/// Stores an outgoing message from the calling user as `pending`, with its send job.
pub async fn send(app: &App, who: &Principal, id: Id, mut req: SendMessage) -> AppResult<Message> {
    let ws = who.workspace_id;
    let conversation = super::access::conversation(app, who, id).await?;
    if conversation.status != ConversationStatus::Open {
        return Err(AppError::conflict("conversation_closed", "the conversation is closed; reopen it to reply"));
    }
    // `$contact.first_name` and the like become their values; the limits apply to what is sent.
    if matches!(&req.content, MessageContent::Text { text, .. } if text.contains('$'))
        || matches!(&req.content, MessageContent::Media { caption: Some(c), .. } if c.contains('$'))
    {
        let scope = super::variables::Scope::of(app, ws, &conversation).await?;
        req.content = super::variables::apply(&scope, req.content);
    }
    let channel_id = req.channel_id.or(conversation.last_channel_id);
    let Some(channel_id) = channel_id else {
        return Err(AppError::validation("channel_id", "the conversation has no channel yet; name one"));
    };
    let channel = app
        .store
        .get_channel(ws, channel_id)
        .await
        .map_err(|_| AppError::validation("channel_id", "no such channel"))?;
    check_outgoing(app, ws, &channel, &req.content).await?;
    super::window::check(app, ws, conversation.contact_id, &channel, &req.content).await?;
    let message = NewMessage {
        channel_id: Some(channel_id),
        direction: Direction::Outgoing,
        sender: actor(who),
        content: req.content,
        provider_message_id: None,
        status: MessageStatus::Pending,
    };
    let stored = app.store.add_message(ws, id, &message).await?;
    app.changed();
    Ok(stored)
}

#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AddComment {
    /// At most 1000 characters.
    pub body: String,
    /// Ids of the users mentioned with `@`; each must be a member of the workspace.
    #[serde(default)]
    pub mentions: Vec<Id>,
}

pub async fn comment(app: &App, who: &Principal, id: Id, req: AddComment) -> AppResult<Comment> {
    let ws = who.workspace_id;
    super::access::conversation(app, who, id).await?;
    let body = validate::required("body", &req.body, MAX_COMMENT_CHARS)?;
    let mut mentions = Vec::new();
    for (i, user) in req.mentions.iter().enumerate() {
        app.store
            .get_user(ws, *user)
            .await
            .map_err(|_| AppError::validation(format!("mentions[{i}]"), "is not a member of this workspace"))?;
        if !mentions.contains(user) {
            mentions.push(*user);
        }
    }
    Ok(app.store.add_comment(ws, id, who.user_id, &body, &mentions).await?)
}

/// Pins or unpins a conversation for the caller only.
pub async fn set_pin(app: &App, who: &Principal, id: Id, pinned: bool) -> AppResult<()> {
    super::access::conversation(app, who, id).await?;
    Ok(app.store.set_pin(who.workspace_id, who.user_id, id, pinned).await?)
}
