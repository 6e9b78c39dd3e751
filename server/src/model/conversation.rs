//! Conversations, messages, comments and assignment history.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use chrono::{DateTime, Utc};

use super::{Actor, AgentAccess, Id, Rule};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ConversationStatus {
    Open,
    Closed,
}

impl ConversationStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Open => "open",
            Self::Closed => "closed",
        }
    }
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "open" => Some(Self::Open),
            "closed" => Some(Self::Closed),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Conversation {
    pub id: Id,
    pub workspace_id: Id,
    pub contact_id: Id,
    pub status: ConversationStatus,
    pub assignee_id: Option<Id>,
    pub team_id: Option<Id>,
    pub opened_at: DateTime<Utc>,
    pub opened_by: Actor,
    pub closed_at: Option<DateTime<Utc>>,
    pub closed_by: Option<Actor>,
    pub closing_category_id: Option<Id>,
    pub closing_summary: Option<String>,
    pub last_incoming_at: Option<DateTime<Utc>>,
    pub last_outgoing_at: Option<DateTime<Utc>>,
    /// When the first reply of a person (not a workflow or broadcast) went out.
    pub first_response_at: Option<DateTime<Utc>>,
    /// The channel of the last message in either direction; replies go there unless told otherwise.
    pub last_channel_id: Option<Id>,
    pub last_activity_at: DateTime<Utc>,
    /// Awaiting a reply: the last message is the contact's.
    pub unread: bool,
    /// Pinned by the user asking (pins are per user); false where no user asked.
    pub pinned: bool,
}

/// The inbox views of `GET /conversations?view=…`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum View {
    #[default]
    All,
    /// Assigned to the user asking.
    Mine,
    Unassigned,
    /// Where the user asking was @mentioned in a comment.
    Mentions,
    Team(Id),
    /// A custom inbox (its saved filter applies).
    Inbox(Id),
}

impl View {
    /// `all`, `mine`, `unassigned`, `mentions`, `team:{id}` or `inbox:{id}`.
    pub fn parse(s: &str) -> Option<Self> {
        let id = |rest: &str| rest.parse().ok().filter(|id: &Id| *id > 0);
        Some(match s {
            "all" => Self::All,
            "mine" => Self::Mine,
            "unassigned" => Self::Unassigned,
            "mentions" => Self::Mentions,
            _ => match s.split_once(':')? {
                ("team", rest) => Self::Team(id(rest)?),
                ("inbox", rest) => Self::Inbox(id(rest)?),
                _ => return None,
            },
        })
    }
}

/// The order of a conversation list, by last activity (pinned conversations come first either way).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Sort {
    #[default]
    Newest,
    Oldest,
}

/// Filters for listing conversations. Every field narrows the list; the default lists them all.
#[derive(Debug, Clone, Default)]
pub struct ConversationFilter {
    /// The user asking: whose pins, mentions and "mine" count. `None` (system callers) has no pins.
    pub user_id: Option<Id>,
    pub view: View,
    pub status: Option<ConversationStatus>,
    pub contact_id: Option<Id>,
    pub assignee_id: Option<Id>,
    pub team_id: Option<Id>,
    /// Only conversations with no assignee.
    pub unassigned: bool,
    /// Only conversations awaiting a reply.
    pub unread: bool,
    /// Only conversations whose last message went through this channel.
    pub channel_id: Option<Id>,
    /// Only conversations whose contact has the tag with this name.
    pub tag: Option<String>,
    /// `Some(true)`: only the user's pinned conversations; `Some(false)`: only the others.
    pub pinned: Option<bool>,
    /// A custom inbox's saved filter, checked by the inbox service (`view` names the inbox).
    pub rule: Option<Rule>,
    /// What the user asking may see, when that is not everything.
    pub visible_to: Option<Visibility>,
    /// Only these conversations.
    pub ids: Option<Vec<Id>>,
    /// Only conversations opened in `[from, to)`.
    pub opened: Option<(DateTime<Utc>, DateTime<Utc>)>,
    pub sort: Sort,
}

/// The conversations an agent may see under a restricting [`AgentAccess`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Visibility {
    pub user_id: Id,
    /// The agent's teams (used with `AgentAccess::Teams`).
    pub team_ids: Vec<Id>,
    pub access: AgentAccess,
}

impl Visibility {
    /// Whether the conversation is visible.
    pub fn allows(&self, c: &Conversation) -> bool {
        self.allows_owner(c.team_id, c.assignee_id)
    }

    /// Whether a conversation with this team and assignee is visible.
    pub fn allows_owner(&self, team: Option<Id>, assignee: Option<Id>) -> bool {
        match self.access {
            AgentAccess::All => true,
            AgentAccess::Assigned => assignee.is_none_or(|u| u == self.user_id),
            AgentAccess::Teams => {
                assignee == Some(self.user_id)
                    || (assignee.is_none() && team.is_none())
                    || team.is_some_and(|t| self.team_ids.contains(&t))
            }
        }
    }
}

/// Open conversations with one team and one assignee (either may be none): the sidebar's counts of every
/// user of a workspace are sums of these.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OpenGroup {
    pub team_id: Option<Id>,
    pub assignee_id: Option<Id>,
    pub open: u64,
    pub unread: u64,
}

/// Open conversations per inbox view, for the sidebar.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, ToSchema)]
pub struct InboxCounts {
    pub all: ViewCount,
    pub mine: ViewCount,
    pub unassigned: ViewCount,
    pub mentions: ViewCount,
    /// Every team of the workspace, in id order.
    pub teams: Vec<TeamCount>,
    /// The custom inboxes the caller sees, in id order.
    pub inboxes: Vec<InboxCount>,
    /// The caller's unread notifications (mentions and assignments).
    pub notifications_unread: u64,
}

/// Open conversations in one view, and how many of them await a reply.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, ToSchema)]
pub struct ViewCount {
    pub open: u64,
    pub unread: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
pub struct InboxCount {
    pub inbox_id: Id,
    #[serde(flatten)]
    pub count: ViewCount,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
pub struct TeamCount {
    pub team_id: Id,
    #[serde(flatten)]
    pub count: ViewCount,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Direction {
    Incoming,
    Outgoing,
}

impl Direction {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Incoming => "incoming",
            Self::Outgoing => "outgoing",
        }
    }
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "incoming" => Some(Self::Incoming),
            "outgoing" => Some(Self::Outgoing),
            _ => None,
        }
    }
}

/// Delivery status; it only moves forward: pending → sent → delivered → read, or to failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum MessageStatus {
    Pending,
    Sent,
    Delivered,
    Read,
    Failed,
}

impl MessageStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Sent => "sent",
            Self::Delivered => "delivered",
            Self::Read => "read",
            Self::Failed => "failed",
        }
    }
    /// Whether a message in this status may move to `next`: forward along pending → sent → delivered →
    /// read, or to failed from pending or sent. Late or repeated receipts never move it back.
    pub fn can_advance_to(self, next: Self) -> bool {
        match (self, next) {
            (Self::Failed, _) => false,
            (Self::Pending | Self::Sent, Self::Failed) => true,
            (_, Self::Failed) => false,
            (current, next) => next > current,
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "pending" => Self::Pending,
            "sent" => Self::Sent,
            "delivered" => Self::Delivered,
            "read" => Self::Read,
            "failed" => Self::Failed,
            _ => return None,
        })
    }
}

/// The parameter of a template's header: media by URL, or the value of its text variable.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum TemplateHeader {
    Image { url: String },
    Video { url: String },
    Document { url: String },
    Text { text: String },
}

/// The parameter of one template button (0-based index among the template's buttons).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TemplateButton {
    pub index: u32,
    pub parameter: String,
}

/// One section of an interactive list.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ListSection {
    /// Required when the list has more than one section.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    pub rows: Vec<ListRow>,
}

/// One choice of an interactive list; its `id` comes back as the payload of the contact's reply
/// (default: `"{section index}.{row index}"`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ListRow {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    pub title: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
}

/// The content of a message as structured JSON, tagged by `type`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum MessageContent {
    Text {
        text: String,
        /// An e-mail's subject (e-mail channels; others leave it out).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        subject: Option<String>,
        /// An incoming e-mail's HTML, sanitised by its channel's plugin (no scripts, styles or event
        /// handlers); `text` is its plain-text part.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        html: Option<String>,
    },
    Media {
        /// image, video, audio, document or sticker.
        kind: String,
        /// Where the file is: for outgoing media a URL the provider can fetch; for incoming media the
        /// server's own URL once it has downloaded the file (empty until then).
        #[serde(default)]
        url: String,
        /// The provider's reference to an incoming file (a WhatsApp media id, a Telegram file id), which the
        /// channel's plugin turns into a download.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        media_ref: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        mime_type: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        caption: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        filename: Option<String>,
    },
    Location {
        latitude: f64,
        longitude: f64,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        name: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        address: Option<String>,
    },
    Template {
        template_id: Id,
        /// Body variables `{{1}}`, `{{2}}`, … in order.
        #[serde(default)]
        parameters: Vec<String>,
        /// The header's parameter, when the template's header is media or has a variable.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        header: Option<TemplateHeader>,
        /// Parameters of buttons with a variable (a URL suffix, a coupon code), by button index.
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        buttons: Vec<TemplateButton>,
    },
    Interactive {
        text: String,
        buttons: Vec<String>,
    },
    /// A text with a menu button opening a list of choices (WhatsApp list messages).
    List {
        text: String,
        /// The label of the button that opens the list.
        button: String,
        sections: Vec<ListSection>,
    },
    Reaction {
        emoji: String,
        provider_message_id: String,
    },
    /// The contact tapped a button or picked a list item (WhatsApp button / list replies, template quick
    /// replies, Telegram callback data): the text shown and the payload the button carried.
    Reply {
        text: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        payload: Option<String>,
    },
    ContactCard {
        #[schema(value_type = Object)]
        card: serde_json::Value,
    },
}

impl MessageContent {
    /// A plain text message.
    pub fn text(text: impl Into<String>) -> Self {
        Self::Text { text: text.into(), subject: None, html: None }
    }

    /// The stored `content_type` column.
    pub fn type_name(&self) -> &'static str {
        match self {
            Self::Text { .. } => "text",
            Self::Media { .. } => "media",
            Self::Location { .. } => "location",
            Self::Template { .. } => "template",
            Self::Interactive { .. } => "interactive",
            Self::List { .. } => "list",
            Self::Reaction { .. } => "reaction",
            Self::Reply { .. } => "reply",
            Self::ContactCard { .. } => "contact_card",
        }
    }

    /// A one-line reading of the content, for places that show text only (previews, the website chat).
    pub fn preview(&self) -> String {
        match self {
            Self::Text { text, .. } | Self::Reply { text, .. } => text.clone(),
            Self::Media { kind, caption, .. } => caption.clone().unwrap_or_else(|| format!("[{kind}]")),
            Self::Location { name, address, latitude, longitude } => match (name, address) {
                (Some(n), Some(a)) => format!("📍 {n}, {a}"),
                (Some(n), None) => format!("📍 {n}"),
                (None, Some(a)) => format!("📍 {a}"),
                (None, None) => format!("📍 {latitude}, {longitude}"),
            },
            Self::Template { .. } => "[template]".into(),
            Self::Interactive { text, buttons } => format!("{text} [{}]", buttons.join(" | ")),
            Self::List { text, sections, .. } => {
                let rows: Vec<&str> = sections.iter().flat_map(|s| s.rows.iter().map(|r| r.title.as_str())).collect();
                format!("{text} [{}]", rows.join(" | "))
            }
            Self::Reaction { emoji, .. } => emoji.clone(),
            Self::ContactCard { card } => {
                let name = card["name"]["formatted_name"].as_str().or_else(|| card["name"].as_str());
                format!("[contact: {}]", name.unwrap_or("card"))
            }
        }
    }
}

/// What an inbox row shows besides the conversation: who it is with and the latest message.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ConversationSummary {
    pub contact_name: String,
    pub contact_phone: Option<String>,
    /// `null` while the conversation has no message yet.
    pub last_message: Option<LastMessage>,
}

/// The latest message of a conversation, read for a list row.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct LastMessage {
    pub id: Id,
    pub direction: Direction,
    /// The content's type: `text`, `media`, `template`, …
    pub kind: String,
    /// One line of text (see the content types); the client shortens it.
    pub preview: String,
    pub status: MessageStatus,
    pub channel_id: Option<Id>,
    pub created_at: DateTime<Utc>,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Message {
    pub id: Id,
    pub workspace_id: Id,
    pub conversation_id: Id,
    pub contact_id: Id,
    pub channel_id: Option<Id>,
    pub direction: Direction,
    pub sender: Actor,
    pub content: MessageContent,
    /// The provider's id: unique per channel, the idempotency key of inbound deliveries.
    pub provider_message_id: Option<String>,
    pub status: MessageStatus,
    pub failure_reason: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// A message to store.
#[derive(Debug, Clone)]
pub struct NewMessage {
    pub channel_id: Option<Id>,
    pub direction: Direction,
    pub sender: Actor,
    pub content: MessageContent,
    pub provider_message_id: Option<String>,
    pub status: MessageStatus,
}

/// Someone is typing in a conversation: an agent in the composer, or the contact where the channel reports
/// it (the website chat). Never stored; live streams pass it on as it happens.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct Typing {
    pub workspace_id: Id,
    pub conversation_id: Id,
    pub contact_id: Id,
    pub actor: Actor,
    /// The agent's name (for "Olivia is typing…"); `null` for the contact.
    pub name: Option<String>,
}

/// An internal note on a conversation, visible to users only.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Comment {
    pub id: Id,
    pub workspace_id: Id,
    pub conversation_id: Id,
    /// The user who wrote it; `null` for a comment a workflow wrote.
    pub author_id: Option<Id>,
    /// The workflow that wrote it (its add-comment step).
    pub workflow_id: Option<Id>,
    pub body: String,
    /// Ids of the users mentioned with `@`.
    pub mentions: Vec<Id>,
    pub created_at: DateTime<Utc>,
}

/// One assignment change of a conversation.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Assignment {
    pub id: Id,
    pub conversation_id: Id,
    pub actor: Actor,
    pub from_user_id: Option<Id>,
    pub to_user_id: Option<Id>,
    pub from_team_id: Option<Id>,
    pub to_team_id: Option<Id>,
    pub created_at: DateTime<Utc>,
}

/// Closing a conversation.
#[derive(Debug, Clone, Default)]
pub struct CloseRequest {
    pub category_id: Option<Id>,
    pub summary: Option<String>,
}

/// Something a user is told about: a mention of them in a comment, or a conversation assigned to them.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Notification {
    pub id: Id,
    /// `mention` or `assignment`.
    pub kind: String,
    pub conversation_id: Id,
    /// The comment that mentions the user (`mention` only).
    pub comment_id: Option<Id>,
    /// Who mentioned or assigned.
    pub actor: Actor,
    pub created_at: DateTime<Utc>,
    pub read_at: Option<DateTime<Utc>>,
}
