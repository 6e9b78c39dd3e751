//! Custom inboxes: saved filters checked field by field and turned into rules the store can run, who may
//! see (private, public, shared with users and teams) and who may change them (the owner, managers).

use serde::Deserialize;
use utoipa::ToSchema;

use super::{actor, validate};
use crate::app::App;
use crate::error::{AppError, AppResult};
use crate::model::*;

/// Contact columns a condition may name (besides custom field keys).
const CONTACT_COLUMNS: &[&str] =
    &["first_name", "last_name", "email", "phone", "country", "language", "lifecycle_stage"];
const MAX_DEPTH: usize = 4;
const MAX_CONDITIONS: usize = 30;

#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct InboxInput {
    /// At most 60 characters.
    #[schema(min_length = 1, max_length = 60)]
    pub name: String,
    #[serde(default)]
    pub sharing: Sharing,
    /// With `shared`: the users who see it.
    #[serde(default)]
    pub user_ids: Vec<Id>,
    /// With `shared`: the teams whose members see it.
    #[serde(default)]
    pub team_ids: Vec<Id>,
    pub filter: InboxFilter,
}

/// Whether `who` sees the inbox.
async fn visible(app: &App, who: &Principal, inbox: &CustomInbox) -> AppResult<bool> {
    Ok(match inbox.sharing {
        _ if inbox.owner_id == who.user_id => true,
        Sharing::Public => true,
        Sharing::Private => false,
        Sharing::Shared => {
            if inbox.user_ids.contains(&who.user_id) {
                return Ok(true);
            }
            for team in &inbox.team_ids {
                if let Ok(team) = app.store.get_team(who.workspace_id, *team).await
                    && team.member_ids.contains(&who.user_id)
                {
                    return Ok(true);
                }
            }
            false
        }
    })
}

/// The custom inboxes `who` sees, in id order.
pub async fn list(app: &App, who: &Principal) -> AppResult<Vec<CustomInbox>> {
    let mut seen = Vec::new();
    for inbox in app.store.list_inboxes(who.workspace_id).await? {
        if visible(app, who, &inbox).await? {
            seen.push(inbox);
        }
    }
    Ok(seen)
}

/// One inbox `who` sees (another one is not found, as if it did not exist).
pub async fn get(app: &App, who: &Principal, id: Id) -> AppResult<CustomInbox> {
    let inbox = app.store.get_inbox(who.workspace_id, id).await?;
    if visible(app, who, &inbox).await? { Ok(inbox) } else { Err(AppError::NotFound("inbox")) }
}

pub async fn create(app: &App, who: &Principal, req: InboxInput) -> AppResult<CustomInbox> {
    let fields = check(app, who.workspace_id, req).await?;
    Ok(app.store.create_inbox(who.workspace_id, who.user_id, &fields, actor(who)).await?)
}

pub async fn update(app: &App, who: &Principal, id: Id, req: InboxInput) -> AppResult<CustomInbox> {
    may_change(who, &get(app, who, id).await?)?;
    let fields = check(app, who.workspace_id, req).await?;
    Ok(app.store.update_inbox(who.workspace_id, id, &fields, actor(who)).await?)
}

pub async fn delete(app: &App, who: &Principal, id: Id) -> AppResult<()> {
    may_change(who, &get(app, who, id).await?)?;
    Ok(app.store.delete_inbox(who.workspace_id, id, actor(who)).await?)
}

fn may_change(who: &Principal, inbox: &CustomInbox) -> AppResult<()> {
    if inbox.owner_id == who.user_id || who.role >= Role::Manager {
        Ok(())
    } else {
        Err(AppError::forbidden("only the inbox's owner or a manager may change it"))
    }
}

/// The saved filter of the inbox `id`, as a rule for listing and counting (`view=inbox:{id}`).
pub async fn rule(app: &App, who: &Principal, id: Id) -> AppResult<Rule> {
    let inbox = get(app, who, id).await.map_err(|_| AppError::validation("view", "no such custom inbox"))?;
    let custom = custom_keys(app, who.workspace_id).await?;
    // A field deleted since the inbox was saved matches nothing rather than failing the whole view.
    Ok(compile(&inbox.filter, "filter", 0, &custom, &mut 0).unwrap_or(Rule::Or(vec![])))
}

async fn custom_keys(app: &App, ws: Id) -> AppResult<Vec<String>> {
    Ok(app.store.list_field_definitions(ws).await?.into_iter().map(|d| d.key).collect())
}

async fn check(app: &App, ws: Id, req: InboxInput) -> AppResult<InboxFields> {
    let name = validate::required("name", &req.name, 60)?;
    let (user_ids, team_ids) = match req.sharing {
        Sharing::Shared => {
            if req.user_ids.is_empty() && req.team_ids.is_empty() {
                return Err(AppError::validation("user_ids", "a shared inbox names users or teams"));
            }
            for (i, user) in req.user_ids.iter().enumerate() {
                app.store
                    .get_user(ws, *user)
                    .await
                    .map_err(|_| AppError::validation(format!("user_ids[{i}]"), "is not a member of this workspace"))?;
            }
            for (i, team) in req.team_ids.iter().enumerate() {
                app.store
                    .get_team(ws, *team)
                    .await
                    .map_err(|_| AppError::validation(format!("team_ids[{i}]"), "no such team"))?;
            }
            (req.user_ids, req.team_ids)
        }
        _ if !req.user_ids.is_empty() || !req.team_ids.is_empty() => {
            return Err(AppError::validation("sharing", "user_ids and team_ids need sharing: shared"));
        }
        _ => (vec![], vec![]),
    };
    let custom = custom_keys(app, ws).await?;
    let rule = compile(&req.filter, "filter", 0, &custom, &mut 0)?;
    check_references(app, ws, &rule).await?;
    Ok(InboxFields { name, sharing: req.sharing, user_ids, team_ids, filter: req.filter })
}

/// Ids named by `is` / `is not` conditions must exist in the workspace.
async fn check_references(app: &App, ws: Id, rule: &Rule) -> AppResult<()> {
    let mut stack = vec![rule];
    while let Some(rule) = stack.pop() {
        match rule {
            Rule::And(rules) | Rule::Or(rules) => stack.extend(rules),
            Rule::Reference { column, test: RefTest::Is(id) | RefTest::IsNot(id) } => {
                let exists = match *column {
                    "assignee_id" => app.store.get_user(ws, *id).await.is_ok(),
                    "team_id" => app.store.get_team(ws, *id).await.is_ok(),
                    _ => app.store.get_channel(ws, *id).await.is_ok(),
                };
                if !exists {
                    return Err(AppError::validation(
                        "filter",
                        format!("no {} with id {id}", column.trim_end_matches("_id")),
                    ));
                }
            }
            _ => {}
        }
    }
    Ok(())
}

/// Checks a filter and turns it into a rule; errors name the path of the offending part.
fn compile(filter: &InboxFilter, path: &str, depth: usize, custom: &[String], count: &mut usize) -> AppResult<Rule> {
    if depth > MAX_DEPTH {
        return Err(AppError::validation(path, format!("nested deeper than {MAX_DEPTH} levels")));
    }
    let group = |items: &[InboxFilter], key: &str, count: &mut usize| -> AppResult<Vec<Rule>> {
        if items.is_empty() {
            return Err(AppError::validation(format!("{path}.{key}"), "needs at least one condition"));
        }
        items
            .iter()
            .enumerate()
            .map(|(i, f)| compile(f, &format!("{path}.{key}[{i}]"), depth + 1, custom, count))
            .collect()
    };
    match filter {
        InboxFilter::And { and } => Ok(Rule::And(group(and, "and", count)?)),
        InboxFilter::Or { or } => Ok(Rule::Or(group(or, "or", count)?)),
        InboxFilter::Condition(c) => {
            *count += 1;
            if *count > MAX_CONDITIONS {
                return Err(AppError::validation(path, format!("at most {MAX_CONDITIONS} conditions")));
            }
            condition(c, path, custom)
        }
    }
}

fn condition(c: &Condition, path: &str, custom: &[String]) -> AppResult<Rule> {
    let bad_op =
        |ops: &str| AppError::validation(format!("{path}.op"), format!("must be one of {ops} for {}", c.field));
    let no_value = || {
        if c.value.is_null() { Ok(()) } else { Err(AppError::validation(format!("{path}.value"), "takes no value")) }
    };
    let text = || -> AppResult<String> {
        let v = match &c.value {
            serde_json::Value::String(s) => s.trim().to_owned(),
            serde_json::Value::Number(n) => n.to_string(),
            serde_json::Value::Bool(b) => b.to_string(),
            _ => String::new(),
        };
        if v.is_empty() || v.chars().count() > 200 {
            return Err(AppError::validation(format!("{path}.value"), "must be a text of 1 to 200 characters"));
        }
        Ok(v)
    };
    let id = || -> AppResult<Id> {
        c.value
            .as_i64()
            .filter(|id| *id > 0)
            .ok_or_else(|| AppError::validation(format!("{path}.value"), "must be an id"))
    };
    match c.field.as_str() {
        "tag" => {
            let mode = match c.op.as_str() {
                "has_any" => TagMode::Any,
                "has_all" => TagMode::All,
                "has_none" => TagMode::None,
                _ => return Err(bad_op("has_any, has_all, has_none")),
            };
            let names: Option<Vec<String>> = c
                .value
                .as_array()
                .map(|a| a.iter().filter_map(|v| v.as_str().map(|s| s.trim().to_lowercase())).collect());
            match names {
                Some(names) if (1..=20).contains(&names.len()) && names.iter().all(|n| !n.is_empty()) => {
                    Ok(Rule::Tags { names, mode })
                }
                _ => Err(AppError::validation(format!("{path}.value"), "must list 1 to 20 tag names")),
            }
        }
        "last_channel" | "assignee" | "team" => {
            let column = match c.field.as_str() {
                "last_channel" => "last_channel_id",
                "assignee" => "assignee_id",
                _ => "team_id",
            };
            let test = match c.op.as_str() {
                "is" => RefTest::Is(id()?),
                "is_not" => RefTest::IsNot(id()?),
                "exists" => no_value().map(|_| RefTest::Exists)?,
                "not_exists" => no_value().map(|_| RefTest::NotExists)?,
                _ => return Err(bad_op("is, is_not, exists, not_exists")),
            };
            Ok(Rule::Reference { column, test })
        }
        "last_incoming" => {
            let minutes = c
                .value
                .as_i64()
                .filter(|m| (1..=525_600).contains(m))
                .ok_or_else(|| AppError::validation(format!("{path}.value"), "must be minutes, 1 to 525600"))?;
            match c.op.as_str() {
                "within" => Ok(Rule::LastIncoming { minutes, newer: true }),
                "older_than" => Ok(Rule::LastIncoming { minutes, newer: false }),
                _ => Err(bad_op("within, older_than")),
            }
        }
        field => {
            let Some(key) = field.strip_prefix("contact.") else {
                return Err(AppError::validation(
                    format!("{path}.field"),
                    "must be tag, contact.{field}, last_channel, assignee, team or last_incoming",
                ));
            };
            let custom_key = if CONTACT_COLUMNS.contains(&key) {
                false
            } else if custom.iter().any(|k| k == key) {
                true
            } else {
                return Err(AppError::validation(format!("{path}.field"), format!("no contact field `{key}`")));
            };
            let test = match c.op.as_str() {
                "equals" => TextTest::Equals(text()?),
                "not_equals" => TextTest::NotEquals(text()?),
                "contains" => TextTest::Contains(text()?),
                "not_contains" => TextTest::NotContains(text()?),
                "exists" => no_value().map(|_| TextTest::Exists)?,
                "not_exists" => no_value().map(|_| TextTest::NotExists)?,
                _ => return Err(bad_op("equals, not_equals, contains, not_contains, exists, not_exists")),
            };
            Ok(Rule::ContactField { key: key.to_owned(), custom: custom_key, test })
        }
    }
}
