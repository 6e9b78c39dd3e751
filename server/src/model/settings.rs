//! Workspace settings objects: teams, closing categories, snippets, message templates and channels.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use chrono::{DateTime, Utc};

use super::Id;

/// A team's auto-assignment rule.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum AutoAssign {
    #[default]
    Off,
    /// The next member after the one assigned last, in turn.
    RoundRobin,
    /// The member with the fewest open conversations.
    LeastOpen,
}

impl AutoAssign {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Off => "off",
            Self::RoundRobin => "round_robin",
            Self::LeastOpen => "least_open",
        }
    }
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "off" => Some(Self::Off),
            "round_robin" => Some(Self::RoundRobin),
            "least_open" => Some(Self::LeastOpen),
            _ => None,
        }
    }
}

/// A team's settings to store.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TeamSettings {
    pub name: String,
    pub auto_assign: AutoAssign,
    pub only_online: bool,
    pub max_open_per_user: Option<u32>,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Team {
    pub id: Id,
    pub name: String,
    /// Ids of the members.
    pub member_ids: Vec<Id>,
    /// How conversations that open for the team without an assignee get one.
    pub auto_assign: AutoAssign,
    /// Auto-assign to members who are online only.
    pub only_online: bool,
    /// Auto-assign only to members with fewer open conversations than this.
    pub max_open_per_user: Option<u32>,
    pub created_at: DateTime<Utc>,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ClosingCategory {
    pub id: Id,
    pub name: String,
    pub created_at: DateTime<Utc>,
}

/// A saved reply, inserted with `/shortcut` in the composer.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Snippet {
    pub id: Id,
    pub shortcut: String,
    pub body: String,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum TemplateCategory {
    Marketing,
    Utility,
    Authentication,
}

impl TemplateCategory {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Marketing => "marketing",
            Self::Utility => "utility",
            Self::Authentication => "authentication",
        }
    }
    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "marketing" => Self::Marketing,
            "utility" => Self::Utility,
            "authentication" => Self::Authentication,
            _ => return None,
        })
    }
}

/// A message template (e.g. a Meta-approved WhatsApp template).
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Template {
    pub id: Id,
    /// The channel it belongs to; `null` for a template usable on any channel.
    pub channel_id: Option<Id>,
    pub name: String,
    pub language: String,
    pub category: TemplateCategory,
    /// Header, body (with `{{n}}` variables), footer and buttons, as the provider structures them.
    #[schema(value_type = Vec<Object>)]
    pub components: Vec<serde_json::Value>,
    /// The provider's approval status, e.g. `approved`, `pending`, `rejected`.
    pub status: String,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// What a template sync changed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, ToSchema)]
pub struct TemplateSync {
    pub created: u32,
    pub updated: u32,
    pub unchanged: u32,
    /// Templates the provider no longer lists, now `deleted`.
    pub deleted: u32,
}

/// The stored fields of a template.
#[derive(Debug, Clone)]
pub struct TemplateFields {
    pub channel_id: Option<Id>,
    pub name: String,
    pub language: String,
    pub category: TemplateCategory,
    pub components: Vec<serde_json::Value>,
    pub status: String,
}

/// An instance of a channel plugin in a workspace (a WhatsApp number, a Telegram bot…).
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Channel {
    pub id: Id,
    pub name: String,
    /// The plugin that implements this channel, e.g. `whatsapp-cloud`.
    pub plugin_id: String,
    /// Non-secret settings, as the plugin's manifest declares them.
    #[schema(value_type = Object)]
    pub config: serde_json::Value,
    /// Names of the secrets that are set (their values are never returned).
    pub secret_names: Vec<String>,
    pub enabled: bool,
    pub created_at: DateTime<Utc>,
}

/// A channel to store; `secrets_sealed` is already encrypted by the service.
#[derive(Debug, Clone)]
pub struct ChannelFields {
    pub name: String,
    pub plugin_id: String,
    pub config: serde_json::Value,
    pub secret_names: Vec<String>,
    pub secrets_sealed: String,
    pub enabled: bool,
}
