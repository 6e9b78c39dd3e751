//! Custom inboxes: saved, shareable filters over conversations (contact fields, tags, last channel,
//! assignee, team, time since the last incoming message), nested with AND and OR.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::Id;

/// Who sees a custom inbox besides its owner.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema, Default)]
#[serde(rename_all = "snake_case")]
pub enum Sharing {
    /// Only its owner.
    #[default]
    Private,
    /// Everyone in the workspace.
    Public,
    /// The users and the members of the teams it names.
    Shared,
}

impl Sharing {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Private => "private",
            Self::Public => "public",
            Self::Shared => "shared",
        }
    }
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "private" => Some(Self::Private),
            "public" => Some(Self::Public),
            "shared" => Some(Self::Shared),
            _ => None,
        }
    }
}

/// A saved filter: `{"and": [...]}`, `{"or": [...]}` or one condition.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
#[serde(untagged)]
pub enum InboxFilter {
    And {
        #[schema(no_recursion, min_items = 1)]
        and: Vec<InboxFilter>,
    },
    Or {
        #[schema(no_recursion, min_items = 1)]
        or: Vec<InboxFilter>,
    },
    Condition(Condition),
}

/// What a filter may be, for the message when a part of one is none of them.
const FILTER_SHAPE: &str =
    r#"expected {"and": [filters]}, {"or": [filters]} or a condition {"field": …, "op": …, "value": …}"#;

// By hand rather than serde's untagged enum, whose only message is "data did not match any variant":
// a mistake names the part of the filter it is in and what that part may be.
impl<'de> Deserialize<'de> for InboxFilter {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let value = serde_json::Value::deserialize(d)?;
        Self::from_json(value, "").map_err(serde::de::Error::custom)
    }
}

impl InboxFilter {
    /// The filter in `value`, found at `at` (`or[0].and[1]`, empty for the root) within the whole filter.
    fn from_json(value: serde_json::Value, at: &str) -> Result<Self, String> {
        let here = |message: String| if at.is_empty() { message } else { format!("at {at}: {message}") };
        let serde_json::Value::Object(mut map) = value else { return Err(here(FILTER_SHAPE.to_owned())) };
        let group = if map.len() == 1 { ["and", "or"].into_iter().find(|k| map.contains_key(*k)) } else { None };
        let Some(key) = group else {
            return serde_json::from_value::<Condition>(serde_json::Value::Object(map)).map(Self::Condition).map_err(
                |e| {
                    let e = e.to_string();
                    let why = match super::missing_field(&e) {
                        Some(name) => format!("`{name}` is required"),
                        None => e,
                    };
                    here(format!("{why}; {FILTER_SHAPE}"))
                },
            );
        };
        let Some(serde_json::Value::Array(items)) = map.remove(key) else {
            return Err(here(format!("`{key}` must be a list of filters")));
        };
        let prefix = if at.is_empty() { String::new() } else { format!("{at}.") };
        let items = items
            .into_iter()
            .enumerate()
            .map(|(i, item)| Self::from_json(item, &format!("{prefix}{key}[{i}]")))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(if key == "and" { Self::And { and: items } } else { Self::Or { or: items } })
    }
}

/// One condition of a custom inbox.
///
/// Fields and operators:
/// - `tag`: `has_any`, `has_all`, `has_none` with a list of tag names;
/// - `contact.first_name`, `contact.last_name`, `contact.email`, `contact.phone`, `contact.country`,
///   `contact.language`, `contact.lifecycle_stage` or `contact.{custom field key}`: `equals`, `not_equals`,
///   `contains`, `not_contains` (text, any case), `exists`, `not_exists`;
/// - `last_channel`, `assignee`, `team`: `is`, `is_not` (an id), `exists`, `not_exists`;
/// - `last_incoming`: `within`, `older_than` (minutes since the contact's last message).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Condition {
    #[schema(pattern = r"^(tag|last_channel|assignee|team|last_incoming|contact\.[a-z][a-z0-9_]{0,63})$")]
    pub field: String,
    #[schema(
        pattern = "^(has_any|has_all|has_none|is|is_not|exists|not_exists|within|older_than|equals|not_equals|contains|not_contains)$"
    )]
    pub op: String,
    #[serde(default, skip_serializing_if = "serde_json::Value::is_null")]
    #[schema(value_type = Object)]
    pub value: serde_json::Value,
}

/// A condition checked and typed, as the store turns it into SQL.
#[derive(Debug, Clone, PartialEq)]
pub enum Rule {
    And(Vec<Rule>),
    Or(Vec<Rule>),
    Tags {
        names: Vec<String>,
        mode: TagMode,
    },
    /// A standard contact column (`first_name`, …) or, when `custom`, a custom field key.
    ContactField {
        key: String,
        custom: bool,
        test: TextTest,
    },
    /// `last_channel_id`, `assignee_id` or `team_id` of the conversation.
    Reference {
        column: &'static str,
        test: RefTest,
    },
    /// Minutes since the last incoming message: within (`newer = true`) or older than.
    LastIncoming {
        minutes: i64,
        newer: bool,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TagMode {
    Any,
    All,
    None,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TextTest {
    Equals(String),
    NotEquals(String),
    Contains(String),
    NotContains(String),
    Exists,
    NotExists,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RefTest {
    Is(Id),
    IsNot(Id),
    Exists,
    NotExists,
}

/// A saved custom inbox.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct CustomInbox {
    pub id: Id,
    pub name: String,
    pub owner_id: Id,
    pub sharing: Sharing,
    /// With `shared`: the users who see it.
    pub user_ids: Vec<Id>,
    /// With `shared`: the teams whose members see it.
    pub team_ids: Vec<Id>,
    pub filter: InboxFilter,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// A custom inbox to store.
#[derive(Debug, Clone)]
pub struct InboxFields {
    pub name: String,
    pub sharing: Sharing,
    pub user_ids: Vec<Id>,
    pub team_ids: Vec<Id>,
    pub filter: InboxFilter,
}
