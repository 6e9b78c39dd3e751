//! Workflow triggers, read from the event log: each workspace's log is read from the reader's cursor, every
//! event is matched against the published workflows, and the runs it starts are stored together with the
//! cursor's move, so across a crash or a restart no trigger is missed and none starts a run twice.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::Duration;

use serde_json::Value;

use crate::app::App;
use crate::model::*;

/// Events read per workspace and pass.
const BATCH: u32 = 500;

/// Reads the log until `stop` turns true: at once after a change, else every `poll_interval_ms`.
pub async fn run(app: Arc<App>, mut stop: tokio::sync::watch::Receiver<bool>) {
    let idle = Duration::from_millis(app.config.jobs.poll_interval_ms);
    let mut changes = app.changes.subscribe();
    loop {
        if *stop.borrow() {
            return;
        }
        let more = match poll(&app).await {
            Ok(more) => more,
            Err(e) => {
                tracing::error!(error = %e, "workflow trigger reader error");
                false
            }
        };
        if !more {
            tokio::select! {
                _ = tokio::time::sleep(idle) => {}
                _ = changes.changed() => {}
                _ = stop.changed() => {}
            }
        }
    }
}

/// One pass over every workspace; returns whether a workspace has more events waiting.
pub async fn poll(app: &App) -> anyhow::Result<bool> {
    let mut more = false;
    for ws in app.store.list_all_workspaces().await? {
        let cursor = app.store.workflow_cursor(ws.id).await?;
        let published = app.store.published_workflows(ws.id).await?;
        if published.is_empty() && !app.store.has_waiting_runs(ws.id).await? {
            // Nothing to start or answer: skip the log read so far (a workflow published later starts from then).
            let last = app.store.last_event_seq(ws.id).await?;
            if cursor != Some(last) {
                app.store.start_runs(ws.id, Some((cursor, last)), &[], &[]).await?;
            }
            continue;
        }
        let events = app.store.list_events(ws.id, cursor.unwrap_or(0), BATCH).await?;
        let Some(last) = events.last().map(|e| e.seq) else { continue };
        let mut runs = Vec::new();
        let mut answers = Vec::new();
        let mut versions = HashMap::new();
        for event in &events {
            if let Some(answer) = answer(app, ws.id, event, &mut versions).await? {
                answers.push(answer);
            }
            for workflow in &published {
                // Only what happened after the version went live.
                if event.created_at < workflow.published_at {
                    continue;
                }
                if let Some(run) = matches(app, ws.id, workflow, event).await? {
                    runs.push(run);
                }
            }
        }
        if let Some(started) = app.store.start_runs(ws.id, Some((cursor, last)), &runs, &answers).await?
            && !started.is_empty()
        {
            metrics::counter!("switchboard_workflow_runs_started_total").increment(started.len() as u64);
            app.changed();
        }
        more |= events.len() == BATCH as usize;
    }
    Ok(more)
}

/// A contact's incoming message, routed to the run that asked them a question and waits for the answer
/// (the latest to ask, when several do). Messages that came before the question was asked answer nothing.
async fn answer(
    app: &App,
    ws: Id,
    event: &Event,
    versions: &mut HashMap<(Id, i64), Definition>,
) -> anyhow::Result<Option<RunAnswer>> {
    if event.kind != "message.created" || event.data["direction"] != "incoming" {
        return Ok(None);
    }
    let (Some(contact), Some(message_id)) = (event.data["contact_id"].as_i64(), event.subject_id) else {
        return Ok(None);
    };
    for run in app.store.waiting_runs(ws, contact).await? {
        if !run.awaiting_answer || event.created_at < run.updated_at {
            continue;
        }
        let key = (run.workflow_id, run.version);
        if let std::collections::hash_map::Entry::Vacant(slot) = versions.entry(key) {
            slot.insert(app.store.workflow_version(ws, run.workflow_id, run.version).await?);
        }
        let asks = versions
            .get(&key)
            .zip(run.position.as_deref())
            .is_some_and(|(d, at)| find(&d.steps, at).is_some_and(|s| matches!(s.kind, StepKind::AskQuestion { .. })));
        if asks {
            return Ok(Some(RunAnswer { run_id: run.id, step_seq: run.step_seq, message_id }));
        }
    }
    Ok(None)
}

/// The step with this id anywhere in the tree.
fn find<'a>(steps: &'a [Step], id: &str) -> Option<&'a Step> {
    steps.iter().find_map(|s| {
        if s.id == id {
            return Some(s);
        }
        s.kind.children().into_iter().find_map(|(_, children)| find(children, id))
    })
}

fn strings(v: &Value) -> Vec<String> {
    v.as_array().map(|a| a.iter().filter_map(|s| s.as_str().map(str::to_owned)).collect()).unwrap_or_default()
}

/// The run `event` starts for `workflow`, if its trigger matches.
async fn matches(app: &App, ws: Id, workflow: &PublishedWorkflow, event: &Event) -> anyhow::Result<Option<NewRun>> {
    // A workflow never triggers itself (a loop of opening, closing and opening again).
    if event.actor.kind == ActorKind::Workflow && event.actor.id == Some(workflow.id) {
        return Ok(None);
    }
    let d = &event.data;
    let mut variables = BTreeMap::new();
    let (contact, conversation) = match (&workflow.definition.trigger, event.kind.as_str()) {
        (Trigger::ConversationOpened { sources }, "conversation.opened") => {
            let source = match d["opened_by"]["kind"].as_str() {
                Some("user") | Some("api_token") => Some(OpenSource::User),
                Some("workflow") => Some(OpenSource::Workflow),
                Some("contact") => Some(OpenSource::Contact),
                _ => None,
            };
            if !sources.is_empty() && !source.is_some_and(|s| sources.contains(&s)) {
                return Ok(None);
            }
            (d["contact_id"].as_i64(), event.subject_id)
        }
        (Trigger::ConversationClosed {}, "conversation.closed") => {
            let Some(id) = event.subject_id else { return Ok(None) };
            match app.store.get_conversation(ws, id).await {
                Ok(c) => {
                    if let Some(summary) = &c.closing_summary {
                        variables.insert("closing_summary".to_owned(), Value::from(summary.clone()));
                    }
                    (Some(c.contact_id), Some(id))
                }
                Err(crate::store::StoreError::NotFound(_)) => return Ok(None),
                Err(e) => return Err(e.into()),
            }
        }
        (Trigger::ContactTagUpdated { tags, action }, "contact.tag.updated") => {
            let (added, removed) = (strings(&d["added"]), strings(&d["removed"]));
            let changed: Vec<&String> = match action {
                TagEvent::Added => added.iter().collect(),
                TagEvent::Removed => removed.iter().collect(),
                TagEvent::Any => added.iter().chain(&removed).collect(),
            };
            let wanted = |t: &String| tags.is_empty() || tags.iter().any(|w| w.eq_ignore_ascii_case(t));
            if !changed.into_iter().any(wanted) {
                return Ok(None);
            }
            variables.insert("tags_added".to_owned(), Value::from(added));
            variables.insert("tags_removed".to_owned(), Value::from(removed));
            (event.subject_id, None)
        }
        (Trigger::ContactFieldUpdated { fields }, "contact.updated") => {
            let changed: Vec<String> = strings(&d["changed"]).into_iter().chain(strings(&d["custom_fields"])).collect();
            if !fields.iter().any(|f| changed.contains(f)) {
                return Ok(None);
            }
            variables.insert("fields_changed".to_owned(), Value::from(changed));
            (event.subject_id, None)
        }
        (Trigger::LifecycleUpdated { stages }, "contact.lifecycle.updated") => {
            let stage = d["lifecycle_stage"].as_str().unwrap_or_default();
            if !stages.is_empty() && !stages.iter().any(|s| s.eq_ignore_ascii_case(stage)) {
                return Ok(None);
            }
            variables.insert("lifecycle_stage".to_owned(), Value::from(stage));
            (event.subject_id, None)
        }
        _ => return Ok(None),
    };
    let Some(contact_id) = contact else { return Ok(None) };
    Ok(Some(NewRun {
        workflow_id: workflow.id,
        version: workflow.version,
        contact_id,
        conversation_id: conversation,
        position: workflow.definition.steps.first().map(|s| s.id.clone()),
        variables,
        trigger_seq: Some(event.seq),
        once_per_contact: workflow.definition.trigger_once_per_contact,
    }))
}
