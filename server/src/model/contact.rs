//! Contacts, their channel identities, tags and typed custom fields.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use chrono::{DateTime, Utc};

use super::Id;

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Contact {
    pub id: Id,
    pub workspace_id: Id,
    pub first_name: Option<String>,
    pub last_name: Option<String>,
    /// E.164, e.g. `+971501234567`.
    pub phone: Option<String>,
    pub email: Option<String>,
    /// ISO 3166-1 alpha-2; derived from the phone number when not given.
    pub country: Option<String>,
    /// BCP 47 language tag, e.g. `ar` or `en-GB`.
    pub language: Option<String>,
    pub avatar_url: Option<String>,
    pub lifecycle_stage: Option<String>,
    pub assignee_id: Option<Id>,
    pub blocked: bool,
    /// Values of the workspace's custom fields, by field key.
    #[schema(value_type = Object)]
    pub custom_fields: BTreeMap<String, serde_json::Value>,
    /// Tag names, sorted.
    pub tags: Vec<String>,
    pub identities: Vec<ChannelIdentity>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// The stored fields of a contact, already validated and normalised by the contacts service.
impl Contact {
    /// How people see the contact: first and last name, else the phone number, else the e-mail address.
    pub fn display_name(&self) -> String {
        contact_display_name(self.id, [&self.first_name, &self.last_name], &self.phone, &self.email)
    }
}

/// [`Contact::display_name`] from the columns alone (for lists that do not load whole contacts).
pub fn contact_display_name(
    id: Id,
    names: [&Option<String>; 2],
    phone: &Option<String>,
    email: &Option<String>,
) -> String {
    let name = names.into_iter().flatten().map(String::as_str).collect::<Vec<_>>().join(" ");
    if !name.trim().is_empty() {
        return name;
    }
    phone.clone().or_else(|| email.clone()).unwrap_or_else(|| format!("contact {id}"))
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct ContactFields {
    pub first_name: Option<String>,
    pub last_name: Option<String>,
    pub phone: Option<String>,
    pub email: Option<String>,
    pub country: Option<String>,
    pub language: Option<String>,
    pub avatar_url: Option<String>,
    pub lifecycle_stage: Option<String>,
    pub assignee_id: Option<Id>,
    pub blocked: bool,
    pub custom_fields: BTreeMap<String, serde_json::Value>,
}

/// A contact's address on one channel: the provider's id for them (WhatsApp id, Telegram chat id, PSID…).
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema, PartialEq)]
pub struct ChannelIdentity {
    pub channel_id: Id,
    #[schema(min_length = 1, max_length = 256)]
    pub external_id: String,
}

/// Filters for listing contacts.
#[derive(Debug, Clone, Default)]
pub struct ContactFilter {
    /// Case-insensitive match on name, email or phone digits.
    pub query: Option<String>,
    pub tag: Option<String>,
}

/// The type of a custom contact field; values are checked against it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum FieldType {
    Text,
    Number,
    /// `YYYY-MM-DD`.
    Date,
    /// `HH:MM` (24 h).
    Time,
    /// One of the definition's `options`.
    List,
    Checkbox,
    Url,
}

impl FieldType {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Text => "text",
            Self::Number => "number",
            Self::Date => "date",
            Self::Time => "time",
            Self::List => "list",
            Self::Checkbox => "checkbox",
            Self::Url => "url",
        }
    }
    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "text" => Self::Text,
            "number" => Self::Number,
            "date" => Self::Date,
            "time" => Self::Time,
            "list" => Self::List,
            "checkbox" => Self::Checkbox,
            "url" => Self::Url,
            _ => return None,
        })
    }
}

/// A workspace-level definition of a custom contact field.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema, PartialEq)]
pub struct FieldDefinition {
    #[serde(default)]
    pub id: Id,
    /// Stable key used in the API and in workflow variables (`$contact.<key>`): lower-case letters, digits, `_`.
    #[schema(pattern = "^[a-z][a-z0-9_]{0,63}$")]
    pub key: String,
    #[schema(min_length = 1, max_length = 100)]
    pub label: String,
    pub field_type: FieldType,
    /// The allowed values of a `list` field.
    #[serde(default)]
    pub options: Vec<String>,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Tag {
    pub id: Id,
    pub name: String,
    pub created_at: DateTime<Utc>,
}
