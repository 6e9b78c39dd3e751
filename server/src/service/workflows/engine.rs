//! Running workflows: the `workflow.run` job takes one step of one run. It reads what the step needs,
//! decides the step's effect and where the run goes next, and hands both to the store, which applies them
//! in one transaction guarded by the run's step counter. A job that runs twice (a worker died after the
//! commit) finds the counter moved and does nothing, so no step's effect is ever applied twice.

use std::collections::HashMap;
use std::sync::Arc;

use async_trait::async_trait;
use chrono::Utc;
use serde_json::json;

use super::conditions::Facts;
use super::validate::MAX_JUMPS;
use crate::app::App;
use crate::error::{AppError, AppResult};
use crate::jobs::{JobError, JobHandler};
use crate::model::*;
use crate::service::{contacts, variables};
use crate::store::StoreError;

/// The handler of `workflow.run` jobs. A job takes its run's steps one after the other while the run is
/// `active` (each step its own transaction), and stops when the run waits or ends; the job stays leased
/// meanwhile, so a worker that dies mid-way leaves it to be taken over, and the run goes on from its last
/// commit. Published versions never change, so they are kept in memory once read.
#[derive(Default)]
pub struct RunStep {
    definitions: std::sync::Mutex<HashMap<(Id, i64), Arc<Definition>>>,
}

/// What wakes a run that waits: the end of its wait (or its question's time), or the contact's reply.
struct Wake {
    step_seq: i64,
    message_id: Option<Id>,
}

impl RunStep {
    async fn definition(&self, app: &App, ws: Id, run: &WorkflowRun) -> Result<Arc<Definition>, StoreError> {
        let key = (run.workflow_id, run.version);
        if let Some(found) = self.definitions.lock().ok().and_then(|cache| cache.get(&key).cloned()) {
            return Ok(found);
        }
        let definition = Arc::new(app.store.workflow_version(ws, run.workflow_id, run.version).await?);
        if let Ok(mut cache) = self.definitions.lock() {
            if cache.len() >= 1000 {
                cache.clear();
            }
            cache.insert(key, definition.clone());
        }
        Ok(definition)
    }
}

#[async_trait]
impl JobHandler for RunStep {
    async fn run(&self, app: &App, job: &Job) -> Result<(), JobError> {
        let ws = job.workspace_id.ok_or_else(|| JobError::Permanent("a workflow job without a workspace".into()))?;
        let (Some(run_id), Some(step_seq)) = (job.payload["run_id"].as_i64(), job.payload["step_seq"].as_i64()) else {
            return Err(JobError::Permanent("a workflow job without run_id and step_seq".into()));
        };
        let mut wake = Some(Wake { step_seq, message_id: job.payload["message_id"].as_i64() });
        // The step counter at which this job itself marked a plugin step as started (see `Calling`).
        let mut started_here: Option<i64> = None;
        loop {
            let run = match app.store.get_run(ws, run_id).await {
                Ok(run) => run,
                // Deleted with its workflow.
                Err(StoreError::NotFound(_)) => return Ok(()),
                Err(e) => return Err(JobError::Transient(e.to_string())),
            };
            // A waiting run moves only for the wake-up this job carries (the wait it ends, or a reply to
            // the question it waits at); an active run moves for any of its jobs.
            let answer = match (run.status, wake.take()) {
                (RunStatus::Active, _) => None,
                (RunStatus::Waiting, Some(w)) if w.step_seq == run.step_seq => match w.message_id {
                    Some(_) if !run.awaiting_answer => return Ok(()),
                    Some(message) => match app.store.get_message(ws, message).await {
                        Ok(m) => Some(m),
                        Err(StoreError::NotFound(_)) => return Ok(()),
                        Err(e) => return Err(JobError::Transient(e.to_string())),
                    },
                    // Due: the job runs when the wait or the question's time is over.
                    None => None,
                },
                _ => return Ok(()),
            };
            let commit = match self.definition(app, ws, &run).await {
                Ok(definition) => match next_step(
                    app,
                    ws,
                    &run,
                    &definition,
                    answer.as_ref(),
                    Calling(started_here == Some(run.step_seq)),
                )
                .await
                {
                    Ok(commit) => commit,
                    Err(AppError::Internal(e)) => return Err(JobError::Transient(e)),
                    Err(e) => ending(&run, "error", RunStatus::Failed, e.to_string()),
                },
                Err(StoreError::NotFound(_)) => {
                    ending(&run, "error", RunStatus::Failed, "the workflow version is gone".to_owned())
                }
                Err(e) => return Err(JobError::Transient(e.to_string())),
            };
            let (step_type, status) = (commit.step_type, commit.status);
            let marks_start = commit.output.get("started") == Some(&json!(true)) && step_type == "plugin";
            match app.store.commit_step(ws, &commit).await {
                Ok(true) => {
                    if marks_start {
                        started_here = Some(commit.expected_seq + 1);
                    }
                    app.changed();
                    metrics::counter!("switchboard_workflow_steps_total", "type" => step_type).increment(1);
                    if status != RunStatus::Active {
                        return Ok(());
                    }
                }
                // Another job moved the run first: look again.
                Ok(false) => {}
                // The effect could not be applied as computed (the conversation closed meanwhile, say):
                // computed again on the next attempt from what is stored then.
                Err(e) => return Err(JobError::Transient(e.to_string())),
            }
        }
    }
}

/// A run's steps by id, each with the step that follows it in its list.
struct Flow<'a> {
    steps: HashMap<&'a str, (&'a Step, Option<&'a str>)>,
}

impl<'a> Flow<'a> {
    fn of(definition: &'a Definition) -> Self {
        let mut flow = Self { steps: HashMap::new() };
        flow.add(&definition.steps);
        flow
    }

    fn add(&mut self, list: &'a [Step]) {
        for (i, step) in list.iter().enumerate() {
            let next = list.get(i + 1).map(|s| s.id.as_str());
            self.steps.insert(step.id.as_str(), (step, next));
            for (_, children) in step.kind.children() {
                self.add(children);
            }
        }
    }
}

/// A commit that ends the run at its current position without an effect.
fn ending(run: &WorkflowRun, step_type: &'static str, status: RunStatus, reason: String) -> StepCommit {
    StepCommit {
        run_id: run.id,
        expected_seq: run.step_seq,
        effect: StepEffect::None,
        step_id: run.position.clone().unwrap_or_default(),
        step_type,
        input: json!({}),
        output: json!({}),
        branch: None,
        error: Some(reason.clone()),
        status,
        position: None,
        jumps: run.jumps,
        variables: run.variables.clone(),
        awaiting_answer: false,
        wake_at: None,
        end_reason: Some(reason),
    }
}

/// What the run's contact looks like now: the contact, its open conversation (or the run's), the
/// assignee of that conversation, and the channel it last used.
struct Context {
    contact: Contact,
    conversation: Option<Conversation>,
    last_channel: Option<Id>,
    assignee: Option<User>,
}

/// Whether this job marked the run's plugin step as started just before: only then is the plugin called.
/// A plugin step found started by someone else was cut off mid-call by a crash, and is not called again
/// (its request may have reached the other side), so no step's outside effect happens twice.
#[derive(Debug, Clone, Copy)]
pub struct Calling(pub bool);

/// The conversation's last incoming and outgoing messages, read only for steps that use them.
async fn last_messages(app: &App, ws: Id, ctx: &Context) -> AppResult<(Option<Message>, Option<Message>)> {
    let Some(conversation) = &ctx.conversation else { return Ok((None, None)) };
    let incoming = app.store.last_message(ws, conversation.id, Direction::Incoming).await?;
    let outgoing = app.store.last_message(ws, conversation.id, Direction::Outgoing).await?;
    Ok((incoming, outgoing))
}

/// Whether a text uses `$message.*` or `$last_outgoing.*`.
fn uses_messages(text: &str) -> bool {
    text.contains("$message.") || text.contains("$last_outgoing.")
}

async fn context(app: &App, ws: Id, run: &WorkflowRun) -> AppResult<Context> {
    let contact = app.store.get_contact(ws, run.contact_id).await?;
    let conversations = app.store.conversations_of_contacts(ws, &[run.contact_id]).await?;
    let last_channel = conversations.iter().find_map(|c| c.last_channel_id);
    let conversation = conversations
        .iter()
        .find(|c| c.status == ConversationStatus::Open)
        .or_else(|| conversations.iter().find(|c| Some(c.id) == run.conversation_id))
        .cloned();
    let assignee = match conversation.as_ref().and_then(|c| c.assignee_id) {
        Some(user) => app.store.get_user(ws, user).await.ok(),
        None => None,
    };
    Ok(Context { contact, conversation, last_channel, assignee })
}

fn open_conversation(ctx: &Context) -> Option<&Conversation> {
    ctx.conversation.as_ref().filter(|c| c.status == ConversationStatus::Open)
}

/// Decides the run's current step: its effect, its log entry and where the run goes next.
///
/// `answer` is a reply for a run waiting at a question; a run waiting at a question without one has
/// reached the question's timeout.
pub async fn next_step(
    app: &App,
    ws: Id,
    run: &WorkflowRun,
    definition: &Definition,
    answer: Option<&Message>,
    calling: Calling,
) -> AppResult<StepCommit> {
    let flow = Flow::of(definition);
    let Some(position) = run.position.as_deref() else {
        return Ok(ending(run, "end", RunStatus::Completed, "the end of the workflow".to_owned()));
    };
    let Some(&(step, next)) = flow.steps.get(position) else {
        return Ok(ending(run, "error", RunStatus::Failed, format!("the step `{position}` does not exist")));
    };
    let mut commit = StepCommit {
        run_id: run.id,
        expected_seq: run.step_seq,
        effect: StepEffect::None,
        step_id: step.id.clone(),
        step_type: step.kind.type_name(),
        input: json!({}),
        output: json!({}),
        branch: None,
        error: None,
        status: RunStatus::Active,
        position: next.map(str::to_owned),
        jumps: run.jumps,
        variables: run.variables.clone(),
        awaiting_answer: false,
        wake_at: None,
        end_reason: None,
    };
    // What the contact looks like, read once and only by the steps that need it.
    let ctx_cell = tokio::sync::OnceCell::new();
    let load = || ctx_cell.get_or_try_init(|| context(app, ws, run));
    // A failure goes down the step's failure path when it has one; otherwise the contact exits.
    let fail = |commit: &mut StepCommit, on_failure: &[Step], reason: String| {
        commit.error = Some(reason.clone());
        match on_failure.first() {
            Some(first) => {
                commit.branch = Some("failure".into());
                commit.position = Some(first.id.clone());
            }
            None => {
                commit.status = RunStatus::Exited;
                commit.position = None;
                commit.end_reason = Some(reason);
            }
        }
    };
    match &step.kind {
        StepKind::SendMessage { text, channel_id, per_channel, on_failure } => {
            let ctx = load().await?;
            let target = channel_id.or(ctx.last_channel);
            let own = match target {
                Some(channel) if !per_channel.is_empty() => match app.store.get_channel(ws, channel).await {
                    Ok(c) => per_channel.get(&c.plugin_id),
                    Err(_) => None,
                },
                _ => None,
            };
            let with_messages = uses_messages(text) || own.is_some_and(|c| uses_messages(&c.preview()));
            let scope = scope_of(app, ws, run, ctx, with_messages).await?;
            let content = match own {
                Some(content) => variables::apply(&scope, content.clone()),
                None => MessageContent::text(scope.resolve(text)),
            };
            commit.input = json!({ "content": content, "channel_id": target });
            let empty = matches!(&content, MessageContent::Text { text, .. } if text.trim().is_empty());
            let checked = if empty {
                Ok(Err("the step has no content for this channel".to_owned()))
            } else {
                send_check(app, ws, ctx, target, &content).await
            };
            match checked? {
                Ok(channel) => {
                    commit.effect = StepEffect::SendMessage(outgoing(run, channel, content));
                }
                Err(reason) => fail(&mut commit, on_failure, reason),
            }
        }
        StepKind::AskQuestion { text, answer: kind, save_to, timeout_seconds, on_timeout, on_failure } => {
            let ctx = load().await?;
            let waiting = run.awaiting_answer;
            match answer {
                // The reply: checked, saved, and the run goes on (or down the failure path).
                Some(reply) if waiting => {
                    let said = super::answers::reply_text(&reply.content);
                    commit.input = json!({ "message_id": reply.id, "reply": said });
                    match super::answers::check(kind, said) {
                        Ok(value) => {
                            commit.output = json!({ "answer": value });
                            match save_to {
                                Some(SaveTo::Variable(name)) => {
                                    commit.variables.insert(name.clone(), value);
                                }
                                Some(SaveTo::Tag) => {
                                    let tag = value.as_str().unwrap_or_default().to_owned();
                                    commit.effect = StepEffect::AddTags(vec![tag]);
                                }
                                Some(SaveTo::ContactField(field)) => {
                                    match field_update(app, ws, &ctx.contact, field, value).await? {
                                        Ok(effect) => commit.effect = effect,
                                        Err(reason) => fail(&mut commit, on_failure, reason),
                                    }
                                }
                                None => {}
                            }
                        }
                        Err(reason) => fail(&mut commit, on_failure, reason),
                    }
                }
                // No answer in time.
                None if waiting => {
                    commit.branch = Some("timeout".into());
                    commit.output = json!({ "timed_out": true });
                    match on_timeout.first() {
                        Some(first) => commit.position = Some(first.id.clone()),
                        None => {
                            commit.status = RunStatus::Exited;
                            commit.position = None;
                            commit.end_reason = Some("the contact did not answer in time".to_owned());
                        }
                    }
                }
                // Asking: sent on the last interacted channel; then the run waits here.
                _ => {
                    let scope = scope_of(app, ws, run, ctx, uses_messages(text)).await?;
                    let content = MessageContent::text(super::answers::question_text(&scope.resolve(text), kind));
                    commit.input = json!({ "content": content, "channel_id": ctx.last_channel });
                    match send_check(app, ws, ctx, ctx.last_channel, &content).await? {
                        Ok(channel) => {
                            commit.effect = StepEffect::SendMessage(outgoing(run, channel, content));
                            let seconds = i64::try_from(*timeout_seconds).unwrap_or(i64::MAX / 1000);
                            let until = Utc::now() + chrono::Duration::seconds(seconds);
                            commit.output = json!({ "answer_by": until });
                            commit.status = RunStatus::Waiting;
                            commit.awaiting_answer = true;
                            commit.wake_at = Some(until);
                            commit.position = Some(step.id.clone());
                        }
                        // The seed: the contact exits when the question cannot reach them.
                        Err(reason) => fail(&mut commit, &[], reason),
                    }
                }
            }
        }
        StepKind::UpdateTag { action, tags } => {
            commit.input = json!({ "action": action, "tags": tags });
            commit.effect = match action {
                TagChange::Add => StepEffect::AddTags(tags.iter().map(|t| t.trim().to_owned()).collect()),
                TagChange::Remove => StepEffect::RemoveTags(tags.iter().map(|t| t.trim().to_owned()).collect()),
            };
        }
        StepKind::UpdateField { field, value } => {
            let ctx = load().await?;
            let scope = scope_of(app, ws, run, ctx, value.as_str().is_some_and(uses_messages)).await?;
            let value = match value {
                serde_json::Value::String(s) => serde_json::Value::String(scope.resolve(s)),
                other => other.clone(),
            };
            commit.input = json!({ "field": field, "value": value });
            match field_update(app, ws, &ctx.contact, field, value).await? {
                Ok(effect) => commit.effect = effect,
                Err(reason) => fail(&mut commit, &[], reason),
            }
        }
        StepKind::Branch { branches, otherwise } => {
            let ctx = load().await?;
            let tests_messages =
                branches.iter().flat_map(|b| &b.conditions).any(|c| super::conditions::needs_messages(&c.variable));
            let (last_incoming, last_outgoing) =
                if tests_messages { last_messages(app, ws, ctx).await? } else { (None, None) };
            let facts = Facts {
                contact: &ctx.contact,
                conversation: ctx.conversation.as_ref(),
                assignee: ctx.assignee.as_ref(),
                variables: &run.variables,
                last_incoming: last_incoming.as_ref(),
                last_outgoing: last_outgoing.as_ref(),
                now: Utc::now(),
            };
            let taken = branches.iter().find(|b| facts.branch_holds(b));
            let (name, steps) = match taken {
                Some(b) => (b.name.clone(), b.steps.as_slice()),
                None => ("else".to_owned(), otherwise.as_slice()),
            };
            let tested: serde_json::Map<String, serde_json::Value> = branches
                .iter()
                .flat_map(|b| &b.conditions)
                .map(|c| (c.variable.clone(), facts.value(&c.variable).unwrap_or(serde_json::Value::Null)))
                .collect();
            commit.input = serde_json::Value::Object(tested);
            commit.branch = Some(name);
            commit.position = steps.first().map(|s| s.id.clone());
        }
        StepKind::Wait { seconds } => {
            let until = Utc::now() + chrono::Duration::seconds(i64::try_from(*seconds).unwrap_or(i64::MAX / 1000));
            commit.input = json!({ "seconds": seconds });
            commit.output = json!({ "until": until });
            commit.status = RunStatus::Waiting;
            commit.wake_at = Some(until);
        }
        StepKind::Jump { to } => {
            if run.jumps >= MAX_JUMPS {
                commit.output = json!({ "jumped": false, "reason": format!("{MAX_JUMPS} jumps already") });
            } else {
                commit.output = json!({ "jumped": true, "to": to });
                commit.jumps = run.jumps + 1;
                commit.position = Some(to.clone());
            }
        }
        StepKind::Assign { to, user_id, team_id, rule, online_only, max_open, timeout_seconds, on_timeout } => {
            let ctx = load().await?;
            let to = to.unwrap_or(if user_id.is_some() { AssignTo::User } else { AssignTo::Unassign });
            commit.input = json!({ "to": to, "user_id": user_id, "team_id": team_id });
            let Some(conversation) = open_conversation(ctx) else {
                fail(&mut commit, &[], "the contact has no open conversation to assign".to_owned());
                return Ok(finish(commit));
            };
            let options = super::assign::Options {
                to,
                user_id: *user_id,
                team_id: *team_id,
                least_open: *rule == AssignRule::LeastOpen,
                online_only: *online_only,
                max_open: *max_open,
            };
            match super::assign::choose(app, ws, &options).await? {
                Err(reason) => fail(&mut commit, &[], reason),
                Ok(super::assign::Choice::Assign(user)) => {
                    commit.output = json!({ "assigned": user });
                    let team = if to == AssignTo::Team { *team_id } else { None };
                    commit.effect =
                        StepEffect::Assign { conversation_id: conversation.id, user_id: user, team_id: team };
                }
                Ok(super::assign::Choice::Nobody) => match timeout_seconds {
                    None => commit.output = json!({ "assigned": null, "reason": "nobody is eligible" }),
                    Some(seconds) => {
                        let now = Utc::now();
                        let deadline = match super::assign::waiting_until(app, ws, run, &step.id).await? {
                            Some(deadline) => deadline,
                            None => now + chrono::Duration::seconds(i64::try_from(*seconds).unwrap_or(i64::MAX / 1000)),
                        };
                        if now >= deadline {
                            commit.branch = Some("timeout".into());
                            commit.output = json!({ "assigned": null, "timed_out": true });
                            match on_timeout.first() {
                                Some(first) => commit.position = Some(first.id.clone()),
                                None => {
                                    commit.status = RunStatus::Exited;
                                    commit.position = None;
                                    commit.end_reason = Some("nobody could be assigned in time".to_owned());
                                }
                            }
                        } else {
                            // Nobody yet: look again in a while, until the deadline.
                            commit.output = json!({ "assigned": null, "waiting_until": deadline });
                            commit.status = RunStatus::Waiting;
                            commit.wake_at = Some(deadline.min(now + super::assign::RETRY));
                            commit.position = Some(step.id.clone());
                        }
                    }
                },
            }
        }
        StepKind::AddComment { text, mentions } => {
            let ctx = load().await?;
            let scope = scope_of(app, ws, run, ctx, uses_messages(text)).await?;
            let text = scope.resolve(text);
            let mut present = Vec::with_capacity(mentions.len());
            for user in mentions {
                // A mentioned user who left the workspace is left out rather than failing the step.
                if app.store.get_user(ws, *user).await.is_ok() {
                    present.push(*user);
                }
            }
            commit.input = json!({ "text": text, "mentions": present });
            match &ctx.conversation {
                Some(conversation) => {
                    commit.effect = StepEffect::Comment { conversation_id: conversation.id, text, mentions: present };
                }
                None => fail(&mut commit, &[], "the contact has no conversation to comment on".to_owned()),
            }
        }
        StepKind::Plugin { plugin, inputs, branches } => {
            let ctx = load().await?;
            let scope = scope_of(app, ws, run, ctx, true).await?;
            let inputs = super::plugin_step::resolve_inputs(&scope, inputs);
            commit.input = json!({ "plugin": plugin, "inputs": inputs });
            let failure = branches.get("failure").map_or(&[][..], Vec::as_slice);
            if !calling.0 {
                if super::assign::last_log_of(app, ws, run, &step.id)
                    .await?
                    .is_some_and(|o| o["started"] == json!(true))
                {
                    let reason = "the server stopped during the plugin's call; it is not called again".to_owned();
                    fail(&mut commit, failure, reason);
                } else {
                    // Marked first, called after: see `Calling`.
                    commit.output = json!({ "started": true });
                    commit.position = Some(step.id.clone());
                }
                return Ok(finish(commit));
            }
            let context = super::plugin_step::context(ws, &scope, ctx.conversation.as_ref());
            match super::plugin_step::call(app, ws, plugin, &context, &inputs).await {
                Err(reason) => fail(&mut commit, failure, reason),
                Ok(outcome) => {
                    for (name, value) in &outcome.outputs {
                        if super::validate::is_name(name) {
                            commit.variables.insert(name.clone(), value.clone());
                        }
                    }
                    commit.output = serde_json::Value::Object(outcome.outputs.clone());
                    let reply = outcome.outputs.get("$reply").and_then(|r| r.as_str()).filter(|r| !r.trim().is_empty());
                    if let Some(reply) = reply {
                        let content = MessageContent::text(reply.chars().take(4096).collect::<String>());
                        match send_check(app, ws, ctx, ctx.last_channel, &content).await? {
                            Ok(channel) => commit.effect = StepEffect::SendMessage(outgoing(run, channel, content)),
                            Err(reason) => {
                                fail(&mut commit, failure, format!("the reply cannot be sent: {reason}"));
                                return Ok(finish(commit));
                            }
                        }
                    }
                    if outcome.branch != "default" {
                        commit.branch = Some(outcome.branch.clone());
                        match branches.get(&outcome.branch).and_then(|steps| steps.first()) {
                            Some(first) => commit.position = Some(first.id.clone()),
                            None if outcome.branch == "failure" => {
                                let why = outcome.outputs.get("error").and_then(|e| e.as_str()).unwrap_or("failed");
                                fail(&mut commit, &[], format!("the plugin `{plugin}`: {why}"));
                            }
                            // A branch without steps goes on after the step.
                            None => {}
                        }
                    }
                }
            }
        }
        StepKind::DateTime { timezone, business_hours, date_range, on_failure } => {
            let tz = match timezone {
                Some(tz) => tz.parse().unwrap_or(chrono_tz::UTC),
                None => workspace_tz(app, ws).await?,
            };
            let now = Utc::now();
            let within = match (business_hours, date_range) {
                (Some(hours), _) => super::hours::in_business_hours(hours, tz, now),
                (None, Some(range)) => super::hours::in_range(range, tz, now),
                (None, None) => false,
            };
            commit.input = json!({ "now": now.with_timezone(&tz).to_rfc3339(), "timezone": tz.name() });
            commit.output = json!({ "within": within });
            if !within {
                fail(&mut commit, on_failure, "outside the step's hours".to_owned());
            }
        }
        StepKind::TriggerWorkflow { workflow_id } => {
            commit.input = json!({ "workflow_id": workflow_id });
            match started_run(app, ws, run, *workflow_id).await? {
                Ok(new_run) => commit.effect = StepEffect::StartRun(Box::new(new_run)),
                Err(reason) => fail(&mut commit, &[], reason),
            }
        }
        StepKind::OpenConversation {} => match open_conversation(load().await?) {
            Some(open) => commit.output = json!({ "already_open": open.id }),
            None => commit.effect = StepEffect::OpenConversation,
        },
        StepKind::CloseConversation { category_id, summary } => {
            let ctx = load().await?;
            commit.input = json!({ "category_id": category_id, "summary": summary });
            match open_conversation(ctx) {
                Some(open) => {
                    let close = CloseRequest { category_id: *category_id, summary: summary.clone() };
                    commit.effect = StepEffect::CloseConversation { conversation_id: open.id, close };
                }
                None => commit.output = json!({ "already_closed": true }),
            }
        }
    }
    Ok(finish(commit))
}

/// A run whose step leaves it nowhere to go is complete.
fn finish(mut commit: StepCommit) -> StepCommit {
    if commit.status == RunStatus::Active && commit.position.is_none() {
        commit.status = RunStatus::Completed;
    }
    commit
}

/// What the variables of a step's texts refer to; the last messages are read only when `with_messages`.
async fn scope_of(
    app: &App,
    ws: Id,
    run: &WorkflowRun,
    ctx: &Context,
    with_messages: bool,
) -> AppResult<variables::Scope> {
    let (last_incoming, last_outgoing) = if with_messages { last_messages(app, ws, ctx).await? } else { (None, None) };
    Ok(variables::Scope {
        contact: ctx.contact.clone(),
        assignee: ctx.assignee.clone(),
        tz: workspace_tz(app, ws).await?,
        variables: run.variables.clone(),
        last_incoming,
        last_outgoing,
    })
}

/// The effect of setting one contact field (a standard one or a custom field's key), checked as the API
/// checks it; `Err(reason)` when the value does not fit the field.
async fn field_update(
    app: &App,
    ws: Id,
    contact: &Contact,
    field: &str,
    value: serde_json::Value,
) -> AppResult<Result<StepEffect, String>> {
    let request = if super::validate::STANDARD_FIELDS.contains(&field) {
        json!({ field: value })
    } else {
        json!({ "custom_fields": { field: value } })
    };
    let update = serde_json::from_value(request).map_err(|e| AppError::validation(field, e.to_string()));
    match async { contacts::changes(app, ws, contact, update?).await }.await {
        Ok((fields, changed)) => Ok(Ok(StepEffect::UpdateContact { fields: Box::new(fields), changed })),
        Err(AppError::Internal(e)) => Err(AppError::Internal(e)),
        Err(e) => Ok(Err(format!("cannot set `{field}`: {e}"))),
    }
}

/// The run `trigger_workflow` starts: the target's live version, for this run's contact, with this run's
/// variables; `Err(reason)` when the target cannot be started by hand now.
async fn started_run(app: &App, ws: Id, run: &WorkflowRun, target: Id) -> AppResult<Result<NewRun, String>> {
    if target == run.workflow_id {
        return Ok(Err("a workflow cannot trigger itself".to_owned()));
    }
    let workflow = match app.store.get_workflow(ws, target).await {
        Ok(w) => w,
        Err(StoreError::NotFound(_)) => return Ok(Err(format!("workflow {target} no longer exists"))),
        Err(e) => return Err(e.into()),
    };
    let Some(version) = workflow.published_version.filter(|_| workflow.status == WorkflowStatus::Published) else {
        return Ok(Err(format!("the workflow `{}` is not published", workflow.name)));
    };
    let definition = app.store.workflow_version(ws, target, version).await?;
    if definition.trigger != (Trigger::Manual {}) {
        return Ok(Err(format!("the workflow `{}` does not have a manual trigger", workflow.name)));
    }
    Ok(Ok(NewRun {
        workflow_id: target,
        version,
        contact_id: run.contact_id,
        conversation_id: run.conversation_id,
        position: definition.steps.first().map(|s| s.id.clone()),
        variables: run.variables.clone(),
        trigger_seq: None,
        once_per_contact: definition.trigger_once_per_contact,
    }))
}

/// A message from the run's workflow, queued for the channel like an agent's reply.
fn outgoing(run: &WorkflowRun, channel: Id, content: MessageContent) -> NewMessage {
    NewMessage {
        channel_id: Some(channel),
        direction: Direction::Outgoing,
        sender: Actor { kind: ActorKind::Workflow, id: Some(run.workflow_id) },
        content,
        provider_message_id: None,
        status: MessageStatus::Pending,
    }
}

async fn workspace_tz(app: &App, ws: Id) -> AppResult<chrono_tz::Tz> {
    Ok(app.store.get_workspace(ws).await?.timezone.parse().unwrap_or(chrono_tz::UTC))
}

/// Whether a message can go out on `channel` now: the channel exists and is enabled, the content suits
/// it, and its messaging window is open. `Err(reason)` is a step failure, not an error of the server.
async fn send_check(
    app: &App,
    ws: Id,
    ctx: &Context,
    channel: Option<Id>,
    content: &MessageContent,
) -> AppResult<Result<Id, String>> {
    let Some(channel_id) = channel else {
        return Ok(Err("the contact has no channel to send on".to_owned()));
    };
    let channel = match app.store.get_channel(ws, channel_id).await {
        Ok(c) => c,
        Err(StoreError::NotFound(_)) => return Ok(Err(format!("channel {channel_id} no longer exists"))),
        Err(e) => return Err(e.into()),
    };
    if !channel.enabled {
        return Ok(Err(format!("the channel {} is disabled", channel.name)));
    }
    if !ctx.contact.identities.iter().any(|i| i.channel_id == channel_id) {
        return Ok(Err(format!("the contact cannot be reached on the channel {}", channel.name)));
    }
    let checked = async {
        crate::service::conversations::check_outgoing(app, ws, &channel, content).await?;
        crate::service::window::check(app, ws, ctx.contact.id, &channel, content).await
    };
    match checked.await {
        Ok(()) => Ok(Ok(channel_id)),
        Err(AppError::Internal(e)) => Err(AppError::Internal(e)),
        Err(e) => Ok(Err(e.to_string())),
    }
}
