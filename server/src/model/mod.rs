//! Domain types shared by the services, the store traits and the HTTP layer; no SQL and no axum here.

mod account;
mod contact;
mod conversation;
mod inbound;
mod inbox;
mod job;
mod search;
mod settings;
mod workflow;

pub use account::*;
pub use contact::*;
pub use conversation::*;
pub use inbound::*;
pub use inbox::*;
pub use job::*;
pub use search::*;
pub use settings::*;
pub use workflow::*;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Deserializer, Serialize};
use utoipa::ToSchema;

/// Row ids are 64-bit integers, unique per table across workspaces.
pub type Id = i64;
/// Every timestamp is UTC; stored as epoch milliseconds.
pub type Timestamp = DateTime<Utc>;

/// Converts epoch milliseconds (the storage form) into a timestamp.
pub fn ts_from_ms(ms: i64) -> Timestamp {
    DateTime::from_timestamp_millis(ms).unwrap_or_default()
}

/// One page of a list: `next_cursor` is passed back as `cursor` to get the next page; `null` means the end.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Page<T> {
    pub items: Vec<T>,
    pub next_cursor: Option<String>,
}

/// A page request: where to continue and how many items at most.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct PageRequest {
    /// Opaque cursor from a previous page's `next_cursor`.
    pub after: Option<Cursor>,
    pub limit: u32,
}

/// A keyset position: the sort key of the last item seen and its id (for ties).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
pub struct Cursor {
    pub key: i64,
    pub id: Id,
}

impl Cursor {
    pub const MAX_LIMIT: u32 = 200;
    pub const DEFAULT_LIMIT: u32 = 50;

    /// The opaque text form handed to clients.
    pub fn encode(&self) -> String {
        format!("{}.{}", self.key, self.id)
    }

    pub fn decode(s: &str) -> Option<Self> {
        let (k, i) = s.split_once('.')?;
        Some(Self { key: k.parse().ok()?, id: i.parse().ok()? })
    }
}

impl<T> Page<T> {
    /// Builds a page from up to `limit + 1` fetched items: the extra item only signals that more exist.
    pub fn from_overfetch(mut items: Vec<T>, limit: u32, cursor_of: impl Fn(&T) -> Cursor) -> Self {
        let limit = limit as usize;
        let next_cursor = if items.len() > limit {
            items.truncate(limit);
            items.last().map(|last| cursor_of(last).encode())
        } else {
            None
        };
        Self { items, next_cursor }
    }
}

/// Who or what did something: recorded on conversations and in the event log.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ActorKind {
    User,
    Contact,
    Workflow,
    Broadcast,
    Ai,
    System,
    ApiToken,
}

impl ActorKind {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::User => "user",
            Self::Contact => "contact",
            Self::Workflow => "workflow",
            Self::Broadcast => "broadcast",
            Self::Ai => "ai",
            Self::System => "system",
            Self::ApiToken => "api_token",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "user" => Self::User,
            "contact" => Self::Contact,
            "workflow" => Self::Workflow,
            "broadcast" => Self::Broadcast,
            "ai" => Self::Ai,
            "system" => Self::System,
            "api_token" => Self::ApiToken,
            _ => return None,
        })
    }
}

/// An actor with its id where it has one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Actor {
    pub kind: ActorKind,
    pub id: Option<Id>,
}

impl Actor {
    pub fn user(id: Id) -> Self {
        Self { kind: ActorKind::User, id: Some(id) }
    }
    pub fn contact(id: Id) -> Self {
        Self { kind: ActorKind::Contact, id: Some(id) }
    }
    pub fn system() -> Self {
        Self { kind: ActorKind::System, id: None }
    }
}

/// One entry of the append-only event log.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Event {
    pub id: Id,
    pub workspace_id: Id,
    /// Per-workspace sequence number: 1, 2, 3, … without gaps.
    pub seq: i64,
    /// e.g. `contact.created`, `conversation.opened`, `message.created`.
    pub kind: String,
    pub subject_id: Option<Id>,
    pub actor: Actor,
    #[schema(value_type = Object)]
    pub data: serde_json::Value,
    pub created_at: DateTime<Utc>,
}

/// An event about to be appended, written by the store in the same transaction as its change.
#[derive(Debug, Clone)]
pub struct NewEvent {
    pub kind: &'static str,
    pub subject_id: Option<Id>,
    pub actor: Actor,
    pub data: serde_json::Value,
}

/// The name in serde's "missing field `name`" (followed, from JSON, by the line and column): every error
/// that reports a field that was not sent says "is required" with that name instead.
pub fn missing_field(serde_message: &str) -> Option<&str> {
    serde_message.strip_prefix("missing field `")?.split_once('`').map(|(name, _)| name)
}

/// Deserialises a field that distinguishes "absent" (`None`) from "null" (`Some(None)`), for PATCH bodies.
pub fn double_option<'de, D, T>(d: D) -> Result<Option<Option<T>>, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de>,
{
    Option::<T>::deserialize(d).map(Some)
}
