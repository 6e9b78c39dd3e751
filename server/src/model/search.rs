//! Search: what the store hands the indexer (contacts and messages as documents) and what a search returns.

use chrono::{DateTime, Utc};
use serde::Serialize;
use utoipa::ToSchema;

use super::{ConversationStatus, Direction, Id, MessageContent};

/// Which rows the indexer wants: the next page across every workspace (a rebuild), or named rows of one
/// workspace (events to apply).
#[derive(Debug, Clone, Copy)]
pub enum IndexPick<'a> {
    After { after: Id, limit: u32 },
    Ids { ws: Id, ids: &'a [Id] },
}

/// A contact as the search index sees it.
#[derive(Debug, Clone, PartialEq)]
pub struct IndexContact {
    pub id: Id,
    pub workspace_id: Id,
    pub name: String,
    pub phone: Option<String>,
    pub email: Option<String>,
    /// Custom field values, as text.
    pub fields: Vec<String>,
}

/// A message as the search index sees it.
#[derive(Debug, Clone)]
pub struct IndexMessage {
    pub id: Id,
    pub workspace_id: Id,
    pub conversation_id: Id,
    pub contact_id: Id,
    pub direction: Direction,
    pub content: MessageContent,
    pub created_at: DateTime<Utc>,
}

impl IndexMessage {
    /// The words a message is found by (none for reactions and bare media).
    pub fn search_text(&self) -> String {
        match &self.content {
            MessageContent::Text { text, .. } | MessageContent::Reply { text, .. } => text.clone(),
            MessageContent::Media { caption, filename, .. } => {
                [caption.as_deref(), filename.as_deref()].into_iter().flatten().collect::<Vec<_>>().join("\n")
            }
            MessageContent::Location { name, address, .. } => {
                [name.as_deref(), address.as_deref()].into_iter().flatten().collect::<Vec<_>>().join("\n")
            }
            MessageContent::Template { parameters, .. } => parameters.join("\n"),
            MessageContent::Reaction { .. } => String::new(),
            content => content.preview(),
        }
    }
}

/// A piece of text with the parts that matched: `marks` are `[start, end)` offsets in UTF-16 code units
/// (what a browser's string indexes count).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, ToSchema)]
pub struct Highlight {
    pub text: String,
    pub marks: Vec<[usize; 2]>,
}

/// A contact found by name, phone number, e-mail or a custom field value.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ContactHit {
    pub contact_id: Id,
    pub name: String,
    pub phone: Option<String>,
    pub email: Option<String>,
    /// The contact's latest conversation the user may see (open or closed), if any.
    pub conversation_id: Option<Id>,
    pub conversation_status: Option<ConversationStatus>,
    /// The fields that matched, by name: `name`, `phone`, `email`, `fields`.
    pub highlights: std::collections::BTreeMap<String, Highlight>,
    pub score: f32,
}

/// A message found by its text.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct MessageHit {
    pub message_id: Id,
    pub conversation_id: Id,
    pub conversation_status: ConversationStatus,
    pub contact_id: Id,
    pub contact_name: String,
    pub direction: Direction,
    pub created_at: DateTime<Utc>,
    /// The message text around the matches (the whole text when short).
    pub snippet: Highlight,
    pub score: f32,
}

/// The answer of `GET /api/v1/search`.
#[derive(Debug, Clone, Default, Serialize, ToSchema)]
pub struct SearchResults {
    pub contacts: Vec<ContactHit>,
    pub messages: Vec<MessageHit>,
}
