//! Dynamic variables in message text, resolved when a message is sent: `$contact.first_name` (and
//! `last_name`, `name`, `phone`, `email`, `country`, `language`, `lifecycle_stage`, `id`, or any custom field
//! key), `$assignee.name` / `$assignee.email` (the conversation's assignee), `$system.current_date`,
//! `$system.current_time` and `$system.current_datetime` (in the workspace's time zone), and in workflows
//! `$variables.NAME` (the run's variables), `$message.*` (the conversation's last incoming message: `text`,
//! `type`, `channel_id`, `created_at`, `id`) and `$last_outgoing.*` (its last outgoing one, with `source`:
//! user, workflow, broadcast, api, …).
//!
//! A known variable without a value becomes empty; anything else that starts with `$` (a price, an unknown
//! name) is left as written.

use chrono::Utc;

use crate::app::App;
use crate::error::AppResult;
use crate::model::*;

/// What the variables of one message refer to.
pub struct Scope {
    pub contact: Contact,
    pub assignee: Option<User>,
    pub tz: chrono_tz::Tz,
    /// A workflow run's variables (`$variables.NAME`); empty elsewhere.
    pub variables: std::collections::BTreeMap<String, serde_json::Value>,
    /// The conversation's last incoming and last outgoing messages, where a workflow loaded them.
    pub last_incoming: Option<Message>,
    pub last_outgoing: Option<Message>,
}

/// The names `$message.*` and `$last_outgoing.*` offer.
pub const MESSAGE_FIELDS: [&str; 6] = ["id", "text", "type", "channel_id", "created_at", "source"];

/// One field of a message for `$message.NAME` / `$last_outgoing.NAME`; `None` for an unknown name.
pub fn message_field(m: Option<&Message>, name: &str) -> Option<serde_json::Value> {
    use serde_json::Value;
    if !MESSAGE_FIELDS.contains(&name) {
        return None;
    }
    let Some(m) = m else { return Some(Value::Null) };
    Some(match name {
        "id" => Value::from(m.id),
        "text" => Value::from(m.content.preview()),
        "type" => Value::from(m.content.type_name()),
        "channel_id" => m.channel_id.map_or(Value::Null, Value::from),
        "created_at" => Value::from(m.created_at.to_rfc3339()),
        _ => Value::from(m.sender.kind.as_str()),
    })
}

impl Scope {
    /// The scope of a message in `conversation`.
    pub async fn of(app: &App, ws: Id, conversation: &Conversation) -> AppResult<Self> {
        let contact = app.store.get_contact(ws, conversation.contact_id).await?;
        let assignee = match conversation.assignee_id {
            Some(user) => app.store.get_user(ws, user).await.ok(),
            None => None,
        };
        let tz = app.store.get_workspace(ws).await?.timezone.parse().unwrap_or(chrono_tz::UTC);
        Ok(Self { contact, assignee, tz, variables: Default::default(), last_incoming: None, last_outgoing: None })
    }

    /// The value of `scope.name`: `None` when no such variable exists.
    fn value(&self, scope: &str, name: &str) -> Option<String> {
        let text = |v: &Option<String>| Some(v.clone().unwrap_or_default());
        let c = &self.contact;
        match (scope, name) {
            ("contact", "first_name") => text(&c.first_name),
            ("contact", "last_name") => text(&c.last_name),
            ("contact", "name") => Some(
                [c.first_name.as_deref(), c.last_name.as_deref()].into_iter().flatten().collect::<Vec<_>>().join(" "),
            ),
            ("contact", "phone") => text(&c.phone),
            ("contact", "email") => text(&c.email),
            ("contact", "country") => text(&c.country),
            ("contact", "language") => text(&c.language),
            ("contact", "lifecycle_stage") => text(&c.lifecycle_stage),
            ("contact", "id") => Some(c.id.to_string()),
            ("contact", key) => c.custom_fields.get(key).map(|v| match v {
                serde_json::Value::String(s) => s.clone(),
                serde_json::Value::Null => String::new(),
                other => other.to_string(),
            }),
            ("assignee", "name") => Some(self.assignee.as_ref().map(|u| u.name.clone()).unwrap_or_default()),
            ("assignee", "email") => Some(self.assignee.as_ref().map(|u| u.email.clone()).unwrap_or_default()),
            // A name the run does not have is unknown, so stays as written.
            ("variables", key) => self.variables.get(key).map(|v| match v {
                serde_json::Value::String(s) => s.clone(),
                serde_json::Value::Null => String::new(),
                other => other.to_string(),
            }),
            ("message", name) => message_field(self.last_incoming.as_ref(), name).map(|v| plain(&v)),
            ("last_outgoing", name) => message_field(self.last_outgoing.as_ref(), name).map(|v| plain(&v)),
            ("system", "current_date") => Some(Utc::now().with_timezone(&self.tz).format("%Y-%m-%d").to_string()),
            ("system", "current_time") => Some(Utc::now().with_timezone(&self.tz).format("%H:%M").to_string()),
            ("system", "current_datetime") => {
                Some(Utc::now().with_timezone(&self.tz).format("%Y-%m-%d %H:%M").to_string())
            }
            _ => None,
        }
    }

    /// `text` with every known variable replaced by its value.
    pub fn resolve(&self, text: &str) -> String {
        let mut out = String::with_capacity(text.len());
        let mut rest = text;
        while let Some(at) = rest.find('$') {
            out.push_str(&rest[..at]);
            let after = &rest[at + 1..];
            match self.variable(after) {
                Some((value, used)) => {
                    out.push_str(&value);
                    rest = &after[used..];
                }
                None => {
                    out.push('$');
                    rest = after;
                }
            }
        }
        out.push_str(rest);
        out
    }

    /// The variable at the start of `s` (just after a `$`): its value and how many bytes it spans.
    fn variable(&self, s: &str) -> Option<(String, usize)> {
        let word = |s: &str| s.find(|c: char| !(c.is_ascii_alphanumeric() || c == '_')).unwrap_or(s.len());
        let scope_len = word(s);
        let (scope, rest) = s.split_at(scope_len);
        let name = rest.strip_prefix('.')?;
        let name_len = word(name);
        if scope_len == 0 || name_len == 0 {
            return None;
        }
        let value = self.value(scope, &name[..name_len])?;
        Some((value, scope_len + 1 + name_len))
    }
}

/// A value as text: strings as they are, null as nothing.
fn plain(v: &serde_json::Value) -> String {
    match v {
        serde_json::Value::String(s) => s.clone(),
        serde_json::Value::Null => String::new(),
        other => other.to_string(),
    }
}

/// Resolves the variables of a message's text (text messages, media captions, template body parameters,
/// interactive messages' text).
pub fn apply(scope: &Scope, content: MessageContent) -> MessageContent {
    match content {
        MessageContent::Text { text, .. } => MessageContent::text(scope.resolve(&text)),
        MessageContent::Media { caption: Some(caption), kind, url, media_ref, mime_type, filename } => {
            MessageContent::Media { caption: Some(scope.resolve(&caption)), kind, url, media_ref, mime_type, filename }
        }
        MessageContent::Template { template_id, parameters, header, buttons } => MessageContent::Template {
            template_id,
            parameters: parameters.iter().map(|p| scope.resolve(p)).collect(),
            header,
            buttons,
        },
        MessageContent::Interactive { text, buttons } => {
            MessageContent::Interactive { text: scope.resolve(&text), buttons }
        }
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scope() -> Scope {
        let contact = Contact {
            id: 7,
            workspace_id: 1,
            first_name: Some("Ana".into()),
            last_name: None,
            phone: Some("+971501234567".into()),
            email: None,
            country: None,
            language: None,
            avatar_url: None,
            lifecycle_stage: None,
            assignee_id: None,
            blocked: false,
            custom_fields: [("plan".to_owned(), serde_json::json!("gold")), ("seats".to_owned(), serde_json::json!(3))]
                .into_iter()
                .collect(),
            tags: vec![],
            identities: vec![],
            created_at: Utc::now(),
            updated_at: Utc::now(),
        };
        Scope {
            contact,
            assignee: None,
            tz: chrono_tz::UTC,
            variables: [("answer".to_owned(), serde_json::json!("yes"))].into(),
            last_incoming: None,
            last_outgoing: None,
        }
    }

    #[test]
    fn known_variables_are_replaced_and_the_rest_is_kept() {
        let s = scope();
        assert_eq!(s.resolve("Hi $contact.first_name!"), "Hi Ana!");
        assert_eq!(s.resolve("$contact.plan plan, $contact.seats seats"), "gold plan, 3 seats");
        assert_eq!(s.resolve("mail: [$contact.email]"), "mail: []", "known, empty");
        assert_eq!(
            s.resolve("$contact.unknown_field $other.x $5.00 $ $contact. end$"),
            "$contact.unknown_field $other.x $5.00 $ $contact. end$"
        );
        assert_eq!(s.resolve("$contact.name/$assignee.name"), "Ana/");
        assert_eq!(s.resolve("مرحبا $contact.first_name،"), "مرحبا Ana،");
        assert_eq!(s.resolve("$system.current_date").len(), 10);
        assert_eq!(s.resolve("[$variables.answer] [$variables.none]"), "[yes] [$variables.none]", "a run's variables");
    }
}
