//! Organisations, workspaces, users, roles, API tokens and login sessions.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use chrono::{DateTime, Utc};

use super::Id;

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Organisation {
    pub id: Id,
    pub name: String,
    pub created_at: DateTime<Utc>,
}

/// How closing notes are asked for when a conversation is closed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema, Default)]
#[serde(rename_all = "snake_case")]
pub enum ClosingNoteMode {
    /// A category and summary may be given.
    #[default]
    Optional,
    /// A category is required.
    CategoryRequired,
    /// A category and a summary are required.
    CategoryAndSummaryRequired,
    /// No closing note is asked for; any given is ignored.
    Disabled,
}

impl ClosingNoteMode {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Optional => "optional",
            Self::CategoryRequired => "category_required",
            Self::CategoryAndSummaryRequired => "category_and_summary_required",
            Self::Disabled => "disabled",
        }
    }
    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "optional" => Self::Optional,
            "category_required" => Self::CategoryRequired,
            "category_and_summary_required" => Self::CategoryAndSummaryRequired,
            "disabled" => Self::Disabled,
            _ => return None,
        })
    }

    /// Whether closing a conversation needs a closing category, so the workspace must keep at least one.
    pub fn requires_category(self) -> bool {
        matches!(self, Self::CategoryRequired | Self::CategoryAndSummaryRequired)
    }
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Workspace {
    pub id: Id,
    pub organisation_id: Id,
    pub name: String,
    /// IANA time zone name used for dates shown to people and for workflow variables.
    pub timezone: String,
    pub closing_note_mode: ClosingNoteMode,
    /// Open conversations close by themselves this many minutes after a human agent's last reply, unless
    /// the contact answers first; `null` when off.
    pub auto_close_minutes: Option<u32>,
    /// Which conversations agents see (managers and owners see all).
    pub agent_access: AgentAccess,
    pub created_at: DateTime<Utc>,
}

/// Which conversations an agent of a workspace sees.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum AgentAccess {
    /// Every conversation (a shared inbox).
    #[default]
    All,
    /// Those assigned to them, to one of their teams, and those with neither assignee nor team.
    Teams,
    /// Those assigned to them and those without an assignee.
    Assigned,
}

impl AgentAccess {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::All => "all",
            Self::Teams => "teams",
            Self::Assigned => "assigned",
        }
    }
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "all" => Some(Self::All),
            "teams" => Some(Self::Teams),
            "assigned" => Some(Self::Assigned),
            _ => None,
        }
    }
}

/// Changes to a workspace's settings; absent fields are kept.
#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct WorkspaceUpdate {
    #[schema(min_length = 1, max_length = 100)]
    pub name: Option<String>,
    /// An IANA time zone such as `Asia/Dubai`.
    #[schema(min_length = 1)]
    pub timezone: Option<String>,
    pub closing_note_mode: Option<ClosingNoteMode>,
    /// 30 to 20,160 (14 days); `null` turns auto-close off.
    #[serde(default, deserialize_with = "super::double_option")]
    #[schema(value_type = Option<u32>, minimum = 30, maximum = 20160)]
    pub auto_close_minutes: Option<Option<u32>>,
    pub agent_access: Option<AgentAccess>,
}

/// A user's role in one workspace. Ordered: an owner can do everything a manager can, and so on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    Agent,
    Manager,
    Owner,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Agent => "agent",
            Self::Manager => "manager",
            Self::Owner => "owner",
        }
    }
    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "agent" => Self::Agent,
            "manager" => Self::Manager,
            "owner" => Self::Owner,
            _ => return None,
        })
    }
}

/// A user as seen inside one workspace (with their role there).
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct User {
    pub id: Id,
    pub email: String,
    pub name: String,
    pub role: Role,
    /// Online or away: teams that assign to online members only skip those away.
    pub availability: Availability,
    /// The language the user chose for the web app (`en`, `ar`); `null` follows the browser.
    pub language: Option<String>,
    pub created_at: DateTime<Utc>,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Availability {
    #[default]
    Online,
    Away,
}

impl Availability {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Online => "online",
            Self::Away => "away",
        }
    }
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "online" => Some(Self::Online),
            "away" => Some(Self::Away),
            _ => None,
        }
    }
}

/// A user with the secret needed to check a password; never serialised.
#[derive(Debug, Clone)]
pub struct UserCredentials {
    pub id: Id,
    pub email: String,
    pub password_hash: String,
}

/// A user to create; `password_hash` is already an argon2id PHC string.
#[derive(Debug, Clone)]
pub struct NewUser {
    pub email: String,
    pub name: String,
    pub password_hash: String,
    pub role: Role,
}

/// Changes to a member of a workspace.
#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UserUpdate {
    #[schema(min_length = 1, max_length = 100)]
    pub name: Option<String>,
    pub role: Option<Role>,
}

/// Who is calling: decided by the API token or the login session.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Principal {
    pub user_id: Id,
    pub workspace_id: Id,
    pub role: Role,
    /// The API token used, if the call is not from a login session.
    pub token_id: Option<Id>,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ApiToken {
    pub id: Id,
    pub workspace_id: Id,
    pub user_id: Id,
    pub name: String,
    /// The first characters of the token, to recognise it in a list.
    pub prefix: String,
    pub created_at: DateTime<Utc>,
    pub last_used_at: Option<DateTime<Utc>>,
}

/// A stored login session (the cookie holds the secret; the store only its hash).
#[derive(Debug, Clone)]
pub struct Session {
    pub principal: Principal,
    pub csrf_token: String,
    pub expires_at: DateTime<Utc>,
}
