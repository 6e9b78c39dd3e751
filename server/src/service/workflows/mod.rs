//! Workflows: drafts, publishing (a frozen version per publish), runs started by hand, and the run logs.
//! Owners and managers only: agents do not see workflows.
//!
//! The rest lives beside: `validate` checks definitions, `triggers` starts runs from the event log,
//! `engine` takes their steps (the `workflow.run` job), `conditions` evaluates branches, `answers` checks
//! replies to questions.

pub mod answers;
pub mod assign;
pub mod conditions;
pub mod engine;
pub mod hours;
pub mod plugin_step;
pub mod triggers;
pub mod validate;

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::{actor, require, validate as fields};
use crate::app::App;
use crate::error::{AppError, AppResult};
use crate::model::*;
use crate::store::RunFilter;
pub use validate::Problem;

/// Largest definition accepted, as JSON.
const MAX_DEFINITION_BYTES: usize = 256 * 1024;

#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct WorkflowInput {
    /// 1 to 100 characters.
    #[schema(min_length = 1, max_length = 100)]
    pub name: String,
    /// The trigger and the steps (see docs/workflows.md). Drafts are kept even with problems; publishing
    /// needs none.
    #[schema(value_type = Object)]
    pub definition: serde_json::Value,
}

/// A workflow with what is wrong with its draft (empty when it can be published).
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct WorkflowView {
    #[serde(flatten)]
    pub workflow: Workflow,
    pub problems: Vec<Problem>,
    /// Where to POST to start it, when its trigger is an incoming webhook (a secret: the URL is the key).
    pub webhook_url: Option<String>,
}

/// A run with its log.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct RunView {
    #[serde(flatten)]
    pub run: WorkflowRun,
    pub steps: Vec<RunStep>,
}

#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct StartRun {
    pub contact_id: Id,
    /// Trigger variables (`$variables.NAME`).
    #[serde(default)]
    #[schema(value_type = Object)]
    pub variables: BTreeMap<String, serde_json::Value>,
}

fn check_input(req: &WorkflowInput) -> AppResult<String> {
    let name = fields::required("name", &req.name, 100)?;
    if !req.definition.is_object() {
        return Err(AppError::validation("definition", "must be an object with a trigger and steps"));
    }
    if req.definition.to_string().len() > MAX_DEFINITION_BYTES {
        return Err(AppError::validation("definition", format!("must be at most {MAX_DEFINITION_BYTES} bytes")));
    }
    Ok(name)
}

/// Every problem of a definition, its references to the workspace included.
pub async fn problems(
    app: &App,
    ws: Id,
    definition: &serde_json::Value,
) -> AppResult<(Option<Definition>, Vec<Problem>)> {
    let checked = validate::check(definition);
    let mut problems = checked.problems;
    let mut custom: Option<Vec<String>> = None;
    for (reference, field, step_id) in checked.references {
        let missing = match &reference {
            validate::Reference::User(id) => {
                app.store.get_user(ws, *id).await.is_err().then(|| format!("no user {id} in this workspace"))
            }
            validate::Reference::Channel(id) => {
                app.store.get_channel(ws, *id).await.is_err().then(|| format!("no channel {id}"))
            }
            validate::Reference::Workflow(id) => {
                app.store.get_workflow(ws, *id).await.is_err().then(|| format!("no workflow {id} in this workspace"))
            }
            validate::Reference::ClosingCategory(id) => {
                app.store.get_closing_category(ws, *id).await.is_err().then(|| format!("no closing category {id}"))
            }
            validate::Reference::CustomField(key) => {
                if custom.is_none() {
                    custom = Some(app.store.list_field_definitions(ws).await?.into_iter().map(|d| d.key).collect());
                }
                let known = custom.as_ref().is_some_and(|keys| keys.contains(key));
                (!known).then(|| format!("`{key}` is neither a standard contact field nor a custom field"))
            }
            validate::Reference::ChannelPlugin(id) => match app.plugins.get(id) {
                Some(entry) if entry.world() == Some(crate::plugins::manifest::World::Channel) => None,
                _ => Some(format!("`{id}` is not a channel plugin")),
            },
            validate::Reference::Team(id) => {
                app.store.get_team(ws, *id).await.is_err().then(|| format!("no team {id} in this workspace"))
            }
            validate::Reference::StepPlugin { id, branches, inputs } => step_plugin_problem(app, id, branches, inputs),
        };
        if let Some(message) = missing {
            problems.push(Problem { field, step_id, message });
        }
    }
    Ok((checked.definition, problems))
}

async fn view(app: &App, workflow: Workflow) -> AppResult<WorkflowView> {
    let (_, problems) = problems(app, workflow.workspace_id, &workflow.definition).await?;
    let webhook_url = (workflow.definition["trigger"]["type"] == "incoming_webhook").then(|| {
        let signature = hook_signature(app, workflow.workspace_id, workflow.id);
        format!("{}/hooks/workflows/{}/{signature}", app.config.public_url(), workflow.id)
    });
    Ok(WorkflowView { workflow, problems, webhook_url })
}

/// The secret part of a workflow's webhook URL: derived from the server's key, so nothing is stored.
fn hook_signature(app: &App, ws: Id, id: Id) -> String {
    app.secrets.sign(&format!("workflow-webhook:{ws}:{id}"))
}

/// Largest incoming-webhook body.
pub const MAX_HOOK_BYTES: usize = 64 * 1024;

/// A POST to a workflow's webhook URL: finds (or creates) the contact the body names, and starts a run
/// with the body's top-level values as variables. A wrong URL is 404, as for a workflow that does not exist.
pub async fn hook(app: &App, id: Id, signature: &str, body: &serde_json::Value) -> AppResult<WorkflowRun> {
    let not_found = || AppError::NotFound("workflow");
    let workflow = app.store.find_workflow(id).await?.ok_or_else(not_found)?;
    let ws = workflow.workspace_id;
    if !app.secrets.verify(&format!("workflow-webhook:{ws}:{id}"), signature) {
        return Err(not_found());
    }
    let Some(version) = workflow.published_version.filter(|_| workflow.status == WorkflowStatus::Published) else {
        return Err(AppError::conflict("workflow_not_published", "the workflow is not published"));
    };
    let definition = app.store.workflow_version(ws, id, version).await?;
    let Trigger::IncomingWebhook { identify_by, key } = &definition.trigger else {
        return Err(AppError::conflict("workflow_not_webhook", "this workflow does not start on a webhook"));
    };
    let Some(object) = body.as_object() else {
        return Err(AppError::validation("body", "must be a JSON object"));
    };
    let found = key.split('.').try_fold(body, |v, part| v.get(part));
    let value = match found {
        Some(serde_json::Value::String(s)) => s.trim().to_owned(),
        Some(serde_json::Value::Number(n)) => n.to_string(),
        _ => return Err(AppError::validation(key.clone(), "the contact's key is missing or not text")),
    };
    let value = match identify_by {
        IdentifyBy::Phone => fields::phone(key, &value)?.0,
        IdentifyBy::Email => fields::email(key, &value)?,
        IdentifyBy::ContactId => value,
    };
    let contact_id = match app.store.contact_with(ws, *identify_by, &value).await? {
        Some(id) => id,
        None if *identify_by == IdentifyBy::ContactId => {
            return Err(AppError::validation(key.clone(), "no such contact"));
        }
        None => {
            let mut new = ContactFields::default();
            match identify_by {
                IdentifyBy::Phone => new.phone = Some(value),
                _ => new.email = Some(value),
            }
            let req = serde_json::from_value(serde_json::json!({ "phone": new.phone, "email": new.email }))
                .map_err(|e| AppError::validation("body", e.to_string()))?;
            let prepared = super::contacts::prepare(app, ws, req).await?;
            let actor = Actor { kind: ActorKind::Workflow, id: Some(id) };
            app.store.create_contact(ws, &prepared.fields, &prepared.tags, &prepared.identities, actor).await?.id
        }
    };
    let variables = object.iter().filter(|(k, _)| validate::is_name(k)).map(|(k, v)| (k.clone(), v.clone())).collect();
    let start = Start { workflow_id: id, version, contact_id, conversation_id: None };
    start_one(app, ws, start, &definition, variables).await
}

/// Who and what a run started by hand, by a webhook or by a shortcut is for.
struct Start {
    workflow_id: Id,
    version: i64,
    contact_id: Id,
    conversation_id: Option<Id>,
}

/// Starts one run of a live version (its first step queued); 409 when the workflow runs once per contact
/// and this contact had its run.
async fn start_one(
    app: &App,
    ws: Id,
    start: Start,
    definition: &Definition,
    variables: BTreeMap<String, serde_json::Value>,
) -> AppResult<WorkflowRun> {
    let run = NewRun {
        workflow_id: start.workflow_id,
        version: start.version,
        contact_id: start.contact_id,
        conversation_id: start.conversation_id,
        position: definition.steps.first().map(|s| s.id.clone()),
        variables,
        trigger_seq: None,
        once_per_contact: definition.trigger_once_per_contact,
    };
    let started = app.store.start_runs(ws, None, &[run], &[]).await?.unwrap_or_default();
    let Some(run) = started.into_iter().next() else {
        return Err(AppError::conflict(
            "workflow_already_run",
            "this workflow runs once per contact, and this contact had its run",
        ));
    };
    app.changed();
    Ok(run)
}

pub async fn list(app: &App, who: &Principal, page: &PageRequest) -> AppResult<Page<Workflow>> {
    require(who, Role::Manager)?;
    Ok(app.store.list_workflows(who.workspace_id, page).await?)
}

pub async fn create(app: &App, who: &Principal, req: WorkflowInput) -> AppResult<WorkflowView> {
    require(who, Role::Manager)?;
    let name = check_input(&req)?;
    let ws = who.workspace_id;
    if app.store.count_workflows(ws).await? >= validate::MAX_WORKFLOWS {
        return Err(AppError::Unprocessable {
            code: "workflow_limit",
            message: format!("a workspace has at most {} workflows; delete one first", validate::MAX_WORKFLOWS),
        });
    }
    let workflow = app.store.create_workflow(ws, &name, &req.definition, actor(who)).await?;
    view(app, workflow).await
}

pub async fn get(app: &App, who: &Principal, id: Id) -> AppResult<WorkflowView> {
    require(who, Role::Manager)?;
    let workflow = app.store.get_workflow(who.workspace_id, id).await?;
    view(app, workflow).await
}

/// Replaces the draft; runs in progress keep the version they started on.
pub async fn update(app: &App, who: &Principal, id: Id, req: WorkflowInput) -> AppResult<WorkflowView> {
    require(who, Role::Manager)?;
    let name = check_input(&req)?;
    let workflow = app.store.update_workflow(who.workspace_id, id, &name, &req.definition, actor(who)).await?;
    view(app, workflow).await
}

pub async fn delete(app: &App, who: &Principal, id: Id) -> AppResult<()> {
    require(who, Role::Manager)?;
    Ok(app.store.delete_workflow(who.workspace_id, id, actor(who)).await?)
}

/// Freezes the draft as the next version and makes it live; refused with the first problem (and how
/// many there are) while the draft has any.
pub async fn publish(app: &App, who: &Principal, id: Id) -> AppResult<WorkflowView> {
    require(who, Role::Manager)?;
    let ws = who.workspace_id;
    let workflow = app.store.get_workflow(ws, id).await?;
    let (definition, problems) = problems(app, ws, &workflow.definition).await?;
    if let Some(first) = problems.first() {
        let step = first.step_id.as_ref().map(|s| format!("step `{s}`: ")).unwrap_or_default();
        let more = match problems.len() {
            1 => String::new(),
            n => format!(" ({} more problems: GET the workflow to see them all)", n - 1),
        };
        let field = match first.field.as_str() {
            "definition" => "definition".to_owned(),
            f => format!("definition.{f}"),
        };
        return Err(AppError::validation(field, format!("{step}{}{more}", first.message)));
    }
    let Some(definition) = definition else {
        return Err(AppError::validation("definition", "cannot be read"));
    };
    let published = app.store.publish_workflow(ws, id, &definition, actor(who)).await?;
    app.changed();
    view(app, published).await
}

pub async fn unpublish(app: &App, who: &Principal, id: Id) -> AppResult<WorkflowView> {
    require(who, Role::Manager)?;
    let workflow = app.store.unpublish_workflow(who.workspace_id, id, actor(who)).await?;
    view(app, workflow).await
}

/// Starts a published workflow with a manual trigger for a contact.
pub async fn start(app: &App, who: &Principal, id: Id, req: StartRun) -> AppResult<WorkflowRun> {
    require(who, Role::Manager)?;
    let ws = who.workspace_id;
    let workflow = app.store.get_workflow(ws, id).await?;
    let Some(version) = workflow.published_version.filter(|_| workflow.status == WorkflowStatus::Published) else {
        return Err(AppError::conflict("workflow_not_published", "publish the workflow before starting it"));
    };
    let definition = app.store.workflow_version(ws, id, version).await?;
    if definition.trigger != (Trigger::Manual {}) {
        return Err(AppError::conflict(
            "workflow_not_manual",
            format!("this workflow starts on its trigger ({}), not by hand", definition.trigger.type_name()),
        ));
    }
    app.store
        .get_contact(ws, req.contact_id)
        .await
        .map_err(|_| AppError::validation("contact_id", "no such contact"))?;
    for key in req.variables.keys() {
        if key.is_empty() || !key.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') || key.len() > 64 {
            return Err(AppError::validation(format!("variables.{key}"), "names are 1 to 64 letters, digits or `_`"));
        }
    }
    let start = Start { workflow_id: id, version, contact_id: req.contact_id, conversation_id: None };
    start_one(app, ws, start, &definition, req.variables).await
}

/// A shortcut an agent can run from a conversation: a published workflow with a shortcut trigger.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Shortcut {
    pub workflow_id: Id,
    pub name: String,
    pub fields: Vec<ShortcutField>,
}

/// The workspace's shortcuts (everyone: agents run them from the inbox).
pub async fn shortcuts(app: &App, who: &Principal) -> AppResult<Vec<Shortcut>> {
    let ws = who.workspace_id;
    let mut out = Vec::new();
    for live in app.store.published_workflows(ws).await? {
        if let Trigger::Shortcut { fields } = live.definition.trigger {
            let name = app.store.get_workflow(ws, live.id).await?.name;
            out.push(Shortcut { workflow_id: live.id, name, fields });
        }
    }
    Ok(out)
}

#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RunShortcut {
    /// The form's values by field name.
    #[serde(default)]
    pub values: BTreeMap<String, String>,
}

/// Runs a shortcut for the conversation's contact (anyone who may see the conversation).
pub async fn run_shortcut(
    app: &App,
    who: &Principal,
    conversation: Id,
    workflow: Id,
    req: RunShortcut,
) -> AppResult<WorkflowRun> {
    let ws = who.workspace_id;
    let conversation = super::access::conversation(app, who, conversation).await?;
    let live = app.store.published_workflows(ws).await?.into_iter().find(|w| w.id == workflow);
    let Some(live) = live else {
        return Err(AppError::NotFound("shortcut"));
    };
    let Trigger::Shortcut { fields: form } = &live.definition.trigger else {
        return Err(AppError::NotFound("shortcut"));
    };
    let mut variables = BTreeMap::new();
    for (key, value) in &req.values {
        if !form.iter().any(|f| &f.name == key) {
            return Err(AppError::validation(format!("values.{key}"), "is not a field of this shortcut"));
        }
        if value.chars().count() > 1000 {
            return Err(AppError::validation(format!("values.{key}"), "must be at most 1000 characters"));
        }
        if !value.trim().is_empty() {
            variables.insert(key.clone(), serde_json::Value::from(value.trim()));
        }
    }
    if let Some(missing) = form.iter().find(|f| f.required && !variables.contains_key(&f.name)) {
        return Err(AppError::validation(
            format!("values.{}", missing.name),
            format!("`{}` is required", missing.label),
        ));
    }
    variables.insert("run_by".to_owned(), serde_json::Value::from(who.user_id));
    let start = Start {
        workflow_id: live.id,
        version: live.version,
        contact_id: conversation.contact_id,
        conversation_id: Some(conversation.id),
    };
    start_one(app, ws, start, &live.definition, variables).await
}

pub async fn runs(app: &App, who: &Principal, filter: RunFilter, page: &PageRequest) -> AppResult<Page<WorkflowRun>> {
    require(who, Role::Manager)?;
    if let Some(id) = filter.workflow_id {
        app.store.get_workflow(who.workspace_id, id).await?;
    }
    if let Some(id) = filter.contact_id {
        app.store.get_contact(who.workspace_id, id).await?;
    }
    Ok(app.store.list_runs(who.workspace_id, filter, page).await?)
}

pub async fn run(app: &App, who: &Principal, id: Id) -> AppResult<RunView> {
    require(who, Role::Manager)?;
    let run = app.store.get_run(who.workspace_id, id).await?;
    let steps = app.store.run_steps(who.workspace_id, id).await?;
    Ok(RunView { run, steps })
}

/// What is wrong with a plugin step: the plugin is not a ready step plugin, a branch it never takes has
/// steps, or an input its schema requires is missing.
fn step_plugin_problem(
    app: &App,
    id: &str,
    branches: &[String],
    inputs: &serde_json::Map<String, serde_json::Value>,
) -> Option<String> {
    let Some(entry) = app.plugins.get(id) else {
        return Some(format!("no plugin `{id}` is installed"));
    };
    let Some(info) = entry.step_info() else {
        return Some(match entry.world() {
            Some(crate::plugins::manifest::World::Step) => {
                format!("the step plugin `{id}` is not ready ({:?})", entry.status)
            }
            _ => format!("`{id}` is not a step plugin"),
        });
    };
    if let Some(unknown) = branches.iter().find(|b| !info.branches.contains(b)) {
        return Some(format!(
            "`{id}` never takes a branch `{unknown}` (its branches: {})",
            if info.branches.is_empty() { "none".to_owned() } else { info.branches.join(", ") }
        ));
    }
    let schema: serde_json::Value = serde_json::from_str(&info.inputs_schema).unwrap_or_default();
    let required = schema["required"].as_array().into_iter().flatten().filter_map(|r| r.as_str());
    let missing: Vec<&str> = required.filter(|r| !inputs.contains_key(*r)).collect();
    (!missing.is_empty()).then(|| format!("`{id}` needs the inputs {}", missing.join(", ")))
}

/// A step a workflow can use, as `GET /workflow-steps` lists it for a builder.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct StepType {
    /// The step's `type` in a definition (`plugin` for a step plugin).
    #[serde(rename = "type")]
    pub kind: String,
    /// A step plugin's id: the step's `plugin` field.
    pub plugin: Option<String>,
    pub name: String,
    /// A step plugin's version.
    pub version: Option<String>,
    /// A step plugin's inputs, as a JSON Schema.
    #[schema(value_type = Option<Object>)]
    pub inputs_schema: Option<serde_json::Value>,
    /// The outputs it sets as variables.
    pub outputs: Vec<String>,
    /// The paths it may take besides going on (a branch step's are its own branches and `else`).
    pub branches: Vec<String>,
}

/// The built-in steps and every ready step plugin (bundled or third-party), for owners and managers.
pub fn step_types(app: &App, who: &Principal) -> AppResult<Vec<StepType>> {
    require(who, Role::Manager)?;
    let builtin = |kind: &str, name: &str, branches: &[&str]| StepType {
        kind: kind.to_owned(),
        plugin: None,
        name: name.to_owned(),
        version: None,
        inputs_schema: None,
        outputs: Vec::new(),
        branches: branches.iter().map(|b| (*b).to_owned()).collect(),
    };
    let mut out = vec![
        builtin("send_message", "Send a message", &["failure"]),
        builtin("ask_question", "Ask a question", &["failure", "timeout"]),
        builtin("assign", "Assign to", &["timeout"]),
        builtin("branch", "Branch", &["else"]),
        builtin("update_tag", "Update contact tag", &[]),
        builtin("update_field", "Update contact field", &[]),
        builtin("open_conversation", "Open conversation", &[]),
        builtin("close_conversation", "Close conversation", &[]),
        builtin("add_comment", "Add comment", &[]),
        builtin("jump", "Jump to", &[]),
        builtin("wait", "Wait", &[]),
        builtin("date_time", "Date & time", &["failure"]),
        builtin("trigger_workflow", "Trigger another workflow", &[]),
    ];
    let mut plugins: Vec<StepType> = app
        .plugins
        .list()
        .iter()
        .filter_map(|entry| {
            let info = entry.step_info()?;
            Some(StepType {
                kind: "plugin".to_owned(),
                plugin: Some(entry.id.clone()),
                name: info.name.clone(),
                version: Some(info.version.clone()),
                inputs_schema: serde_json::from_str(&info.inputs_schema).ok(),
                outputs: info.outputs.clone(),
                branches: info.branches.clone(),
            })
        })
        .collect();
    plugins.sort_by(|a, b| a.plugin.cmp(&b.plugin));
    out.extend(plugins);
    Ok(out)
}
