//! Checking a workflow definition: its JSON shape, then every limit and reference, collecting every
//! problem with the field (a path such as `steps[2].branches[0].conditions[1].value`) and the step it is in,
//! so a builder can mark each one. Publishing needs a definition without problems; drafts may have some.

use std::collections::{HashMap, HashSet};

use serde::Serialize;
use utoipa::ToSchema;

use crate::model::*;

pub const MAX_STEPS: usize = 100;
pub const MAX_WORKFLOWS: u64 = 100;
pub const MAX_JUMPS: i64 = 10;
pub const MAX_WAIT_SECONDS: u64 = 7 * 24 * 3600;
pub const MAX_CONDITIONS: usize = 10;
pub const MAX_BRANCHES: usize = 9;
pub const MAX_TEXT_CHARS: usize = 2000;
pub const MAX_TAGS: usize = 10;
pub const MAX_OPTIONS: usize = 10;
pub const MAX_OPTION_CHARS: usize = 20;
pub const MAX_MENTIONS: usize = 10;

/// A variable's name: 1 to 64 letters, digits or `_`.
pub fn is_name(name: &str) -> bool {
    !name.is_empty() && name.len() <= 64 && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// Standard contact fields a step may set (custom fields are named by their key).
pub const STANDARD_FIELDS: [&str; 7] =
    ["first_name", "last_name", "phone", "email", "country", "language", "lifecycle_stage"];

/// One thing wrong with a definition.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct Problem {
    /// Where: a path into the definition (`definition` for the definition itself).
    pub field: String,
    /// The id of the step the problem is in, if any.
    pub step_id: Option<String>,
    pub message: String,
}

/// Something a definition refers to, checked against the workspace afterwards.
#[derive(Debug, Clone, PartialEq)]
pub enum Reference {
    User(Id),
    Channel(Id),
    ClosingCategory(Id),
    /// Another workflow of the workspace, for `trigger_workflow`.
    Workflow(Id),
    /// A contact field key that is not a standard field: must be a custom field of the workspace.
    CustomField(String),
    Team(Id),
    /// A channel plugin's id, for content meant for that channel kind.
    ChannelPlugin(String),
    /// A step plugin, with the branches the step fills and the inputs it gives.
    StepPlugin {
        id: String,
        branches: Vec<String>,
        inputs: serde_json::Map<String, serde_json::Value>,
    },
}

/// What checking found: the parsed definition (when the shape is right), its problems, and what it
/// refers to (with the field and step of each reference).
#[derive(Debug, Default)]
pub struct Checked {
    pub definition: Option<Definition>,
    pub problems: Vec<Problem>,
    pub references: Vec<(Reference, String, Option<String>)>,
}

/// Checks a definition's shape and limits (not yet its references to the workspace).
pub fn check(value: &serde_json::Value) -> Checked {
    let mut out = Checked::default();
    let definition: Definition = match serde_path_to_error::deserialize(value) {
        Ok(d) => d,
        Err(e) => {
            let path = e.path().to_string();
            let step_id = step_at(value, e.path());
            let message = e.into_inner().to_string();
            // Relative to the definition, as every other problem's field; "definition" for its root. A
            // missing field is named itself, as the API names a missing field of a request.
            let (field, message) = match crate::model::missing_field(&message) {
                Some(name) if path == "." => (name.to_owned(), "is required".to_owned()),
                Some(name) => (format!("{path}.{name}"), "is required".to_owned()),
                None if path == "." => ("definition".to_owned(), message),
                None => (path, message),
            };
            out.problems.push(Problem { field, step_id, message });
            return out;
        }
    };
    let mut walk = Walk { ids: HashMap::new(), count: 0, jumps: Vec::new(), out: &mut out };
    walk.trigger(&definition.trigger);
    walk.steps("steps", &definition.steps);
    if walk.count > MAX_STEPS {
        let message = format!("a workflow has at most {MAX_STEPS} steps; this one has {}", walk.count);
        walk.problem("steps", None, message);
    }
    let jumps = std::mem::take(&mut walk.jumps);
    for (field, id, to) in jumps {
        if to == id {
            walk.problem(&field, Some(&id), "a jump cannot go to itself".to_owned());
        } else if !walk.ids.contains_key(&to) {
            walk.problem(&field, Some(&id), format!("no step has the id `{to}`"));
        }
    }
    out.definition = Some(definition);
    out
}

/// The id of the innermost step on `path` in the raw JSON, for a problem found while parsing.
fn step_at(value: &serde_json::Value, path: &serde_path_to_error::Path) -> Option<String> {
    use serde_path_to_error::Segment;
    let mut at = value;
    let mut id = None;
    for segment in path.iter() {
        at = match segment {
            Segment::Seq { index } => at.get(index)?,
            Segment::Map { key } => at.get(key.as_str())?,
            _ => return id,
        };
        if let Some(s) = at.get("id").and_then(|v| v.as_str())
            && at.get("type").is_some()
        {
            id = Some(s.to_owned());
        }
    }
    id
}

struct Walk<'a> {
    /// Step ids seen, with their field.
    ids: HashMap<String, String>,
    count: usize,
    /// (field, jump step id, target) to check once every id is known.
    jumps: Vec<(String, String, String)>,
    out: &'a mut Checked,
}

impl Walk<'_> {
    fn problem(&mut self, field: &str, step: Option<&str>, message: String) {
        self.out.problems.push(Problem { field: field.to_owned(), step_id: step.map(str::to_owned), message });
    }

    fn refer(&mut self, reference: Reference, field: String, step: &str) {
        self.out.references.push((reference, field, Some(step.to_owned())));
    }

    fn text(&mut self, field: &str, step: Option<&str>, value: &str, max: usize) {
        let n = value.trim().chars().count();
        if n == 0 {
            self.problem(field, step, "must not be empty".to_owned());
        } else if n > max {
            self.problem(field, step, format!("must be at most {max} characters (has {n})"));
        }
    }

    fn tags(&mut self, field: &str, step: Option<&str>, tags: &[String], required: bool) {
        if required && tags.is_empty() {
            self.problem(field, step, "name at least one tag".to_owned());
        }
        if tags.len() > MAX_TAGS {
            self.problem(field, step, format!("at most {MAX_TAGS} tags"));
        }
        for (i, tag) in tags.iter().enumerate() {
            self.text(&format!("{field}[{i}]"), step, tag, 50);
        }
    }

    fn trigger(&mut self, trigger: &Trigger) {
        match trigger {
            Trigger::ContactTagUpdated { tags, .. } => self.tags("trigger.tags", None, tags, false),
            Trigger::ContactFieldUpdated { fields } => {
                if fields.is_empty() {
                    self.problem("trigger.fields", None, "name at least one field".to_owned());
                }
                for (i, f) in fields.iter().enumerate() {
                    let field = format!("trigger.fields[{i}]");
                    self.text(&field, None, f, 100);
                    if !STANDARD_FIELDS.contains(&f.as_str()) {
                        self.out.references.push((Reference::CustomField(f.clone()), field, None));
                    }
                }
            }
            Trigger::LifecycleUpdated { stages } => {
                for (i, s) in stages.iter().enumerate() {
                    self.text(&format!("trigger.stages[{i}]"), None, s, 50);
                }
            }
            Trigger::Shortcut { fields } => {
                if fields.len() > 10 {
                    self.problem("trigger.fields", None, "a shortcut has at most 10 fields".to_owned());
                }
                let mut names = HashSet::new();
                for (i, field) in fields.iter().enumerate() {
                    if !is_name(&field.name) || !names.insert(field.name.as_str()) {
                        let message = "must be 1 to 64 letters, digits or `_`, unique in the form".to_owned();
                        self.problem(&format!("trigger.fields[{i}].name"), None, message);
                    }
                    self.text(&format!("trigger.fields[{i}].label"), None, &field.label, 100);
                }
            }
            Trigger::IncomingWebhook { key, .. } => {
                let parts_ok = !key.is_empty() && key.split('.').all(|p| !p.is_empty() && p.len() <= 64);
                if !parts_ok {
                    self.problem(
                        "trigger.key",
                        None,
                        "must be a key of the body, e.g. `phone` or `customer.email`".to_owned(),
                    );
                }
            }
            Trigger::ConversationOpened { .. } | Trigger::ConversationClosed {} | Trigger::Manual {} => {}
        }
    }

    fn steps(&mut self, field: &str, steps: &[Step]) {
        for (i, step) in steps.iter().enumerate() {
            let at = format!("{field}[{i}]");
            self.step(&at, step);
            if matches!(step.kind, StepKind::Branch { .. }) && i + 1 < steps.len() {
                let message = "a branch step ends its path: put the steps after it into its branches".to_owned();
                self.problem(&format!("{field}[{}]", i + 1), Some(&steps[i + 1].id), message);
            }
        }
    }

    fn step(&mut self, at: &str, step: &Step) {
        self.count += 1;
        let id = step.id.as_str();
        let valid_id =
            !id.is_empty() && id.len() <= 64 && id.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
        if !valid_id {
            self.problem(&format!("{at}.id"), Some(id), "must be 1 to 64 letters, digits, `_` or `-`".to_owned());
        } else if let Some(first) = self.ids.insert(id.to_owned(), at.to_owned()) {
            self.problem(&format!("{at}.id"), Some(id), format!("the id `{id}` is used already at {first}"));
        }
        let f = |name: &str| format!("{at}.{name}");
        match &step.kind {
            StepKind::SendMessage { text, channel_id, per_channel, on_failure } => {
                // The text is what every channel without its own content gets: needed unless some have theirs.
                if !text.trim().is_empty() || per_channel.is_empty() {
                    self.text(&f("text"), Some(id), text, MAX_TEXT_CHARS);
                }
                for plugin in per_channel.keys() {
                    self.refer(Reference::ChannelPlugin(plugin.clone()), format!("{at}.per_channel.{plugin}"), id);
                }
                if let Some(channel) = channel_id {
                    self.refer(Reference::Channel(*channel), f("channel_id"), id);
                }
                self.steps(&f("on_failure"), on_failure);
            }
            StepKind::AskQuestion { text, answer, save_to, timeout_seconds, on_timeout, on_failure } => {
                self.text(&f("text"), Some(id), text, MAX_TEXT_CHARS);
                match answer {
                    AnswerType::MultipleChoice { options } => {
                        if options.is_empty() || options.len() > MAX_OPTIONS {
                            self.problem(&f("answer.options"), Some(id), format!("1 to {MAX_OPTIONS} options"));
                        }
                        let mut seen = HashSet::new();
                        for (i, option) in options.iter().enumerate() {
                            self.text(&format!("{at}.answer.options[{i}]"), Some(id), option, MAX_OPTION_CHARS);
                            if !seen.insert(option.trim().to_lowercase()) {
                                let message = "options must differ".to_owned();
                                self.problem(&format!("{at}.answer.options[{i}]"), Some(id), message);
                            }
                        }
                    }
                    AnswerType::Number { min: Some(min), max: Some(max) } if min > max => {
                        self.problem(&f("answer.min"), Some(id), "must not be above max".to_owned());
                    }
                    _ => {}
                }
                match save_to {
                    Some(SaveTo::ContactField(field)) => {
                        self.text(&f("save_to.contact_field"), Some(id), field, 100);
                        if !STANDARD_FIELDS.contains(&field.as_str()) && !field.trim().is_empty() {
                            self.refer(Reference::CustomField(field.clone()), f("save_to.contact_field"), id);
                        }
                    }
                    Some(SaveTo::Variable(name)) if !is_name(name) => {
                        let message = "must be 1 to 64 letters, digits or `_`".to_owned();
                        self.problem(&f("save_to.variable"), Some(id), message);
                    }
                    Some(SaveTo::Tag) if !matches!(answer, AnswerType::MultipleChoice { .. }) => {
                        let message = "only a multiple-choice answer can be saved as a tag".to_owned();
                        self.problem(&f("save_to"), Some(id), message);
                    }
                    _ => {}
                }
                if *timeout_seconds == 0 || *timeout_seconds > MAX_WAIT_SECONDS {
                    let message = format!("must be 1 to {MAX_WAIT_SECONDS} (7 days)");
                    self.problem(&f("timeout_seconds"), Some(id), message);
                }
                self.steps(&f("on_timeout"), on_timeout);
                self.steps(&f("on_failure"), on_failure);
            }
            StepKind::UpdateTag { tags, .. } => self.tags(&f("tags"), Some(id), tags, true),
            StepKind::UpdateField { field, value } => {
                self.text(&f("field"), Some(id), field, 100);
                if !STANDARD_FIELDS.contains(&field.as_str()) && !field.trim().is_empty() {
                    self.refer(Reference::CustomField(field.clone()), f("field"), id);
                }
                if matches!(value, serde_json::Value::Object(_) | serde_json::Value::Array(_)) {
                    self.problem(&f("value"), Some(id), "must be text, a number, true/false or null".to_owned());
                }
            }
            StepKind::Branch { branches, otherwise } => {
                if branches.is_empty() || branches.len() > MAX_BRANCHES {
                    let message = format!("a branch step has 1 to {MAX_BRANCHES} branches besides `else`");
                    self.problem(&f("branches"), Some(id), message);
                }
                let mut names = HashSet::new();
                for (i, branch) in branches.iter().enumerate() {
                    let b = format!("{at}.branches[{i}]");
                    self.text(&format!("{b}.name"), Some(id), &branch.name, 50);
                    if !names.insert(branch.name.trim().to_lowercase()) || branch.name.trim() == "else" {
                        self.problem(&format!("{b}.name"), Some(id), "branch names must be unique".to_owned());
                    }
                    if branch.conditions.is_empty() || branch.conditions.len() > MAX_CONDITIONS {
                        let message = format!("a branch has 1 to {MAX_CONDITIONS} conditions");
                        self.problem(&format!("{b}.conditions"), Some(id), message);
                    }
                    for (j, condition) in branch.conditions.iter().enumerate() {
                        self.condition(&format!("{b}.conditions[{j}]"), id, condition);
                    }
                    self.steps(&format!("{b}.steps"), &branch.steps);
                }
                self.steps(&f("else"), otherwise);
            }
            StepKind::Wait { seconds } => {
                if *seconds == 0 || *seconds > MAX_WAIT_SECONDS {
                    self.problem(&f("seconds"), Some(id), format!("must be 1 to {MAX_WAIT_SECONDS} (7 days)"));
                }
            }
            StepKind::Jump { to } => self.jumps.push((f("to"), id.to_owned(), to.clone())),
            StepKind::Assign { to, user_id, team_id, max_open, timeout_seconds, on_timeout, .. } => {
                let to = to.unwrap_or(if user_id.is_some() { AssignTo::User } else { AssignTo::Unassign });
                match (to, user_id, team_id) {
                    (AssignTo::User, Some(user), None) => self.refer(Reference::User(*user), f("user_id"), id),
                    (AssignTo::User, None, _) => self.problem(&f("user_id"), Some(id), "name the user".to_owned()),
                    (AssignTo::Team, None, Some(team)) => self.refer(Reference::Team(*team), f("team_id"), id),
                    (AssignTo::Team, _, None) => self.problem(&f("team_id"), Some(id), "name the team".to_owned()),
                    (AssignTo::Workspace | AssignTo::Unassign, None, None) => {}
                    _ => self.problem(
                        &f("to"),
                        Some(id),
                        "give user_id only with `user`, team_id only with `team`".to_owned(),
                    ),
                }
                if max_open == &Some(0) {
                    self.problem(&f("max_open"), Some(id), "must be at least 1".to_owned());
                }
                match timeout_seconds {
                    Some(t) if *t == 0 || *t > MAX_WAIT_SECONDS => {
                        let message = format!("must be 1 to {MAX_WAIT_SECONDS} (7 days)");
                        self.problem(&f("timeout_seconds"), Some(id), message);
                    }
                    None if !on_timeout.is_empty() => {
                        let message = "steps on timeout need a timeout_seconds".to_owned();
                        self.problem(&f("on_timeout"), Some(id), message);
                    }
                    _ => {}
                }
                if matches!(to, AssignTo::User | AssignTo::Unassign) && timeout_seconds.is_some() {
                    let message = "a timeout applies to assigning within a team or the workspace".to_owned();
                    self.problem(&f("timeout_seconds"), Some(id), message);
                }
                self.steps(&f("on_timeout"), on_timeout);
            }
            StepKind::AddComment { text, mentions } => {
                self.text(&f("text"), Some(id), text, MAX_TEXT_CHARS);
                if mentions.len() > MAX_MENTIONS {
                    self.problem(&f("mentions"), Some(id), format!("at most {MAX_MENTIONS} mentions"));
                }
                for (i, user) in mentions.iter().enumerate() {
                    self.refer(Reference::User(*user), format!("{at}.mentions[{i}]"), id);
                }
            }
            StepKind::Plugin { plugin, inputs, branches } => {
                self.text(&f("plugin"), Some(id), plugin, 64);
                if inputs.len() > 50 || serde_json::to_string(inputs).map_or(0, |s| s.len()) > 20_000 {
                    self.problem(&f("inputs"), Some(id), "at most 50 inputs and 20,000 characters".to_owned());
                }
                let names: Vec<String> = branches.keys().cloned().collect();
                for (name, steps) in branches {
                    self.steps(&format!("{at}.branches.{name}"), steps);
                }
                let reference = Reference::StepPlugin { id: plugin.clone(), branches: names, inputs: inputs.clone() };
                self.refer(reference, f("plugin"), id);
            }
            StepKind::DateTime { timezone, business_hours, date_range, on_failure } => {
                if let Some(tz) = timezone
                    && tz.parse::<chrono_tz::Tz>().is_err()
                {
                    self.problem(&f("timezone"), Some(id), format!("`{tz}` is not a time zone (e.g. Asia/Dubai)"));
                }
                match (business_hours, date_range) {
                    (Some(hours), None) => {
                        for (day, spans) in hours {
                            for (i, [from, to]) in spans.iter().enumerate() {
                                let field = format!(
                                    "{at}.business_hours.{}[{i}]",
                                    serde_json::to_value(day).unwrap_or_default().as_str().unwrap_or_default()
                                );
                                match (super::hours::parse_time(from), super::hours::parse_time(to)) {
                                    (Some(a), Some(b)) if a < b => {}
                                    _ => self.problem(
                                        &field,
                                        Some(id),
                                        "must be [\"hh:mm\", \"hh:mm\"], the first before the second".to_owned(),
                                    ),
                                }
                            }
                        }
                    }
                    (None, Some(range)) => {
                        let from = super::hours::parse_moment(&range.from, false);
                        let to = super::hours::parse_moment(&range.to, true);
                        match (from, to) {
                            (Some(a), Some(b)) if a <= b => {}
                            _ => self.problem(
                                &f("date_range"),
                                Some(id),
                                "from and to are yyyy-mm-dd or yyyy-mm-ddThh:mm, from first".to_owned(),
                            ),
                        }
                    }
                    _ => self.problem(
                        &f("business_hours"),
                        Some(id),
                        "give either business_hours or date_range".to_owned(),
                    ),
                }
                self.steps(&f("on_failure"), on_failure);
            }
            StepKind::TriggerWorkflow { workflow_id } => {
                self.refer(Reference::Workflow(*workflow_id), f("workflow_id"), id)
            }
            StepKind::OpenConversation {} => {}
            StepKind::CloseConversation { category_id, summary } => {
                if let Some(category) = category_id {
                    self.refer(Reference::ClosingCategory(*category), f("category_id"), id);
                }
                if let Some(summary) = summary
                    && summary.chars().count() > 1000
                {
                    self.problem(&f("summary"), Some(id), "must be at most 1000 characters".to_owned());
                }
            }
        }
    }

    fn condition(&mut self, at: &str, step: &str, c: &StepCondition) {
        let known = super::conditions::is_known_variable(&c.variable);
        if !known {
            let message = format!(
                "`{}` is not a variable a condition can test ($contact.*, $conversation.*, $variables.*, \
                 $assignee.*, $message.*)",
                c.variable
            );
            self.problem(&format!("{at}.variable"), Some(step), message);
        }
        if c.operator.needs_value() && c.value.is_null() {
            self.problem(&format!("{at}.value"), Some(step), "this operator compares with a value".to_owned());
        }
        if matches!(c.operator, Operator::HasAnyOf | Operator::HasAllOf | Operator::HasNoneOf) && !c.value.is_array() {
            self.problem(&format!("{at}.value"), Some(step), "must be a list".to_owned());
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn problems(v: serde_json::Value) -> Vec<Problem> {
        check(&v).problems
    }

    #[test]
    fn a_good_definition_has_no_problems() {
        let checked = check(&json!({
            "trigger": { "type": "contact_tag_updated", "tags": ["lead"], "action": "added" },
            "steps": [
                { "id": "hi", "type": "send_message", "text": "Hi $contact.first_name",
                  "on_failure": [{ "id": "tag-failed", "type": "update_tag", "action": "add", "tags": ["unreachable"] }] },
                { "id": "wait", "type": "wait", "seconds": 3600 },
                { "id": "vip", "type": "branch", "branches": [
                    { "name": "VIP", "conditions": [{ "variable": "$contact.tags", "operator": "has_any_of", "value": ["vip"] }],
                      "steps": [{ "id": "again", "type": "jump", "to": "hi" }] }
                ], "else": [{ "id": "close", "type": "close_conversation" }] }
            ]
        }));
        assert_eq!(checked.problems, vec![]);
        assert!(checked.definition.is_some());
    }

    #[test]
    fn a_shape_error_names_the_field_and_the_step() {
        let p = problems(json!({
            "trigger": { "type": "conversation_closed" },
            "steps": [{ "id": "a", "type": "wait", "seconds": 5 }, { "id": "b", "type": "send_message", "txt": "x" }]
        }));
        assert_eq!(p.len(), 1, "{p:?}");
        assert_eq!(p[0].field, "steps[1]");
        assert_eq!(p[0].step_id.as_deref(), Some("b"));
        assert!(p[0].message.contains("txt"), "{}", p[0].message);
        let p = problems(json!({ "trigger": { "type": "sometimes" } }));
        assert_eq!(p[0].field, "trigger.type");
    }

    #[test]
    fn limits_and_references_are_each_a_problem() {
        let p = problems(json!({
            "trigger": { "type": "manual" },
            "steps": [
                { "id": "w", "type": "wait", "seconds": 604801 },
                { "id": "w", "type": "send_message", "text": "" },
                { "id": "j", "type": "jump", "to": "nowhere" },
                { "id": "b", "type": "branch", "branches": [
                    { "name": "x", "conditions": [{ "variable": "$weather.today", "operator": "equal" }] }
                ] },
                { "id": "after-branch", "type": "open_conversation" }
            ]
        }));
        let fields: Vec<&str> = p.iter().map(|p| p.field.as_str()).collect();
        assert_eq!(
            fields,
            vec![
                "steps[0].seconds",
                "steps[1].id",
                "steps[1].text",
                "steps[3].branches[0].conditions[0].variable",
                "steps[3].branches[0].conditions[0].value",
                "steps[4]",
                "steps[2].to"
            ],
            "{p:#?}"
        );
        assert_eq!(p[6].step_id.as_deref(), Some("j"));
    }

    #[test]
    fn more_than_a_hundred_steps_is_refused() {
        let steps: Vec<_> = (0..101).map(|i| json!({ "id": format!("s{i}"), "type": "open_conversation" })).collect();
        let p = problems(json!({ "trigger": { "type": "manual" }, "steps": steps }));
        assert_eq!(p.len(), 1);
        assert!(p[0].message.contains("101"));
    }
}
