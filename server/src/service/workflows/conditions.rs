//! Branch conditions: what a condition's variable is for a run (`$contact.*`, `$conversation.*`,
//! `$assignee.*`, `$variables.*`, `$message.*` and `$last_outgoing.*`), and the operators that compare it with the condition's value.

use std::collections::BTreeMap;

use chrono::{DateTime, NaiveDate, Utc};
use serde_json::Value;

use crate::model::*;

const CONVERSATION: [&str; 9] = [
    "id",
    "status",
    "last_channel_id",
    "assignee_id",
    "team_id",
    "last_incoming_at",
    "last_outgoing_at",
    "minutes_since_last_incoming",
    "minutes_since_last_outgoing",
];
const ASSIGNEE: [&str; 4] = ["id", "name", "email", "status"];

/// Whether a condition may test `variable` (custom contact fields and workflow variables are any key).
pub fn is_known_variable(variable: &str) -> bool {
    let Some((scope, name)) = variable.strip_prefix('$').and_then(|v| v.split_once('.')) else {
        return false;
    };
    let key = !name.is_empty() && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
    key && match scope {
        "contact" => true,
        "variables" => true,
        "conversation" => CONVERSATION.contains(&name),
        "assignee" => ASSIGNEE.contains(&name),
        "message" | "last_outgoing" => crate::service::variables::MESSAGE_FIELDS.contains(&name),
        _ => false,
    }
}

/// What the conditions of one run see.
pub struct Facts<'a> {
    pub contact: &'a Contact,
    pub conversation: Option<&'a Conversation>,
    pub assignee: Option<&'a User>,
    pub variables: &'a BTreeMap<String, Value>,
    pub last_incoming: Option<&'a Message>,
    pub last_outgoing: Option<&'a Message>,
    pub now: Timestamp,
}

/// Whether testing `variable` needs the conversation's last messages.
pub fn needs_messages(variable: &str) -> bool {
    variable.starts_with("$message.") || variable.starts_with("$last_outgoing.")
}

impl Facts<'_> {
    /// The variable's value; `None` when it has none (an empty field, no conversation, no assignee).
    pub fn value(&self, variable: &str) -> Option<Value> {
        let (scope, name) = variable.strip_prefix('$')?.split_once('.')?;
        let text = |v: &Option<String>| v.clone().filter(|s| !s.is_empty()).map(Value::String);
        let c = self.contact;
        match scope {
            "message" => crate::service::variables::message_field(self.last_incoming, name).filter(|v| !v.is_null()),
            "last_outgoing" => {
                crate::service::variables::message_field(self.last_outgoing, name).filter(|v| !v.is_null())
            }
            "contact" => match name {
                "id" => Some(Value::from(c.id)),
                "first_name" => text(&c.first_name),
                "last_name" => text(&c.last_name),
                "name" => text(&Some(
                    [c.first_name.as_deref(), c.last_name.as_deref()]
                        .into_iter()
                        .flatten()
                        .collect::<Vec<_>>()
                        .join(" "),
                )),
                "phone" => text(&c.phone),
                "email" => text(&c.email),
                "country" => text(&c.country),
                "language" => text(&c.language),
                "lifecycle_stage" => text(&c.lifecycle_stage),
                "tags" => Some(Value::from(c.tags.clone())),
                key => c.custom_fields.get(key).filter(|v| !v.is_null()).cloned(),
            },
            "conversation" => {
                let conv = self.conversation?;
                let minutes = |at: Option<Timestamp>| at.map(|t| Value::from((self.now - t).num_minutes()));
                match name {
                    "id" => Some(Value::from(conv.id)),
                    "status" => {
                        Some(Value::from(if conv.status == ConversationStatus::Open { "open" } else { "closed" }))
                    }
                    "last_channel_id" => conv.last_channel_id.map(Value::from),
                    "assignee_id" => conv.assignee_id.map(Value::from),
                    "team_id" => conv.team_id.map(Value::from),
                    "last_incoming_at" => conv.last_incoming_at.map(|t| Value::from(t.to_rfc3339())),
                    "last_outgoing_at" => conv.last_outgoing_at.map(|t| Value::from(t.to_rfc3339())),
                    "minutes_since_last_incoming" => minutes(conv.last_incoming_at),
                    "minutes_since_last_outgoing" => minutes(conv.last_outgoing_at),
                    _ => None,
                }
            }
            "assignee" => {
                let user = self.assignee?;
                match name {
                    "id" => Some(Value::from(user.id)),
                    "name" => Some(Value::from(user.name.clone())),
                    "email" => Some(Value::from(user.email.clone())),
                    "status" => serde_json::to_value(user.availability).ok(),
                    _ => None,
                }
            }
            "variables" => self.variables.get(name).filter(|v| !v.is_null()).cloned(),
            _ => None,
        }
    }

    /// Whether the condition holds.
    pub fn holds(&self, c: &StepCondition) -> bool {
        compare(self.value(&c.variable).as_ref(), c.operator, &c.value)
    }

    /// Whether a branch's conditions hold, joined by AND or OR.
    pub fn branch_holds(&self, branch: &Branch) -> bool {
        match branch.join {
            Join::All => branch.conditions.iter().all(|c| self.holds(c)),
            Join::Any => branch.conditions.iter().any(|c| self.holds(c)),
        }
    }
}

/// A value as text for comparisons (numbers and booleans as written in JSON).
fn as_text(v: &Value) -> String {
    match v {
        Value::String(s) => s.trim().to_lowercase(),
        other => other.to_string(),
    }
}

fn as_number(v: &Value) -> Option<f64> {
    match v {
        Value::Number(n) => n.as_f64(),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

/// A date or a date-time (RFC 3339, `YYYY-MM-DD`, or the seeds' `MM/DD/YYYY`) as a point in time (UTC).
fn as_time(v: &Value) -> Option<DateTime<Utc>> {
    let s = v.as_str()?.trim();
    if let Ok(t) = DateTime::parse_from_rfc3339(s) {
        return Some(t.with_timezone(&Utc));
    }
    let date = NaiveDate::parse_from_str(s, "%Y-%m-%d").or_else(|_| NaiveDate::parse_from_str(s, "%m/%d/%Y")).ok()?;
    Some(date.and_hms_opt(0, 0, 0)?.and_utc())
}

/// The items of a list value, or the value alone.
fn items(v: &Value) -> Vec<String> {
    match v {
        Value::Array(a) => a.iter().map(as_text).collect(),
        Value::Null => vec![],
        other => vec![as_text(other)],
    }
}

/// `left operator right`; a missing `left` satisfies only the negative operators.
pub fn compare(left: Option<&Value>, op: Operator, right: &Value) -> bool {
    let Some(left) = left else {
        return matches!(op, Operator::NotEqual | Operator::NotContains | Operator::NotExists | Operator::HasNoneOf);
    };
    let equal = || match (as_number(left), as_number(right)) {
        (Some(a), Some(b)) if !left.is_string() || !right.is_string() => a == b,
        _ => match left {
            Value::Array(_) => items(left).contains(&as_text(right)),
            _ => as_text(left) == as_text(right),
        },
    };
    let contains = || match left {
        Value::Array(_) => items(left).contains(&as_text(right)),
        _ => as_text(left).contains(&as_text(right)),
    };
    let (have, want) = (items(left), items(right));
    match op {
        Operator::Equal => equal(),
        Operator::NotEqual => !equal(),
        Operator::Contains => contains(),
        Operator::NotContains => !contains(),
        Operator::Exists => true,
        Operator::NotExists => false,
        Operator::GreaterThan => matches!((as_number(left), as_number(right)), (Some(a), Some(b)) if a > b),
        Operator::LessThan => matches!((as_number(left), as_number(right)), (Some(a), Some(b)) if a < b),
        Operator::Before => matches!((as_time(left), as_time(right)), (Some(a), Some(b)) if a < b),
        Operator::After => matches!((as_time(left), as_time(right)), (Some(a), Some(b)) if a > b),
        Operator::HasAnyOf => want.iter().any(|w| have.contains(w)),
        Operator::HasAllOf => want.iter().all(|w| have.contains(w)),
        Operator::HasNoneOf => !want.iter().any(|w| have.contains(w)),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn operators_compare_text_numbers_dates_and_lists() {
        let c = |l: Value, op, r: Value| compare(Some(&l), op, &r);
        assert!(c(json!("Gold"), Operator::Equal, json!("gold")));
        assert!(c(json!(3), Operator::Equal, json!("3")));
        assert!(!c(json!("3"), Operator::Equal, json!("03")), "two texts compare as text");
        assert!(c(json!("hello world"), Operator::Contains, json!("WORLD")));
        assert!(c(json!(10), Operator::GreaterThan, json!(9.5)));
        assert!(!c(json!("ten"), Operator::GreaterThan, json!(9)));
        assert!(c(json!("2026-01-02"), Operator::After, json!("01/01/2026")));
        assert!(c(json!("2026-01-02T10:00:00+04:00"), Operator::Before, json!("2026-01-02T07:00:00Z")));
        assert!(c(json!(["vip", "lead"]), Operator::HasAnyOf, json!(["VIP"])));
        assert!(!c(json!(["vip"]), Operator::HasAllOf, json!(["vip", "lead"])));
        assert!(c(json!(["vip"]), Operator::HasNoneOf, json!(["lead"])));
        assert!(c(json!(["vip"]), Operator::Contains, json!("vip")));
    }

    #[test]
    fn a_missing_value_satisfies_only_negative_operators() {
        for op in [Operator::NotEqual, Operator::NotContains, Operator::NotExists, Operator::HasNoneOf] {
            assert!(compare(None, op, &json!("x")), "{op:?}");
        }
        for op in [Operator::Equal, Operator::Contains, Operator::Exists, Operator::GreaterThan, Operator::HasAnyOf] {
            assert!(!compare(None, op, &json!("x")), "{op:?}");
        }
    }

    #[test]
    fn known_variables() {
        assert!(is_known_variable("$contact.plan"));
        assert!(is_known_variable("$variables.answer_1"));
        assert!(is_known_variable("$conversation.minutes_since_last_incoming"));
        assert!(!is_known_variable("$conversation.colour"));
        assert!(!is_known_variable("contact.first_name"));
        assert!(!is_known_variable("$contact."));
        assert!(!is_known_variable("$weather.today"));
    }
}
