//! A conversation exported to save or share: JSON (everything, machine-readable), CSV (one row per timeline
//! entry) or a readable text transcript, each with its messages, comments, assignments and closing note, and
//! times in the workspace's time zone.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::app::App;
use crate::error::{AppError, AppResult};
use crate::model::*;

/// Messages in one export at most; a longer conversation is cut, and the export says so.
const MAX_MESSAGES: usize = 100_000;

/// A file to download.
#[derive(Debug)]
pub struct Export {
    pub content_type: &'static str,
    pub filename: String,
    pub body: Vec<u8>,
}

/// Everything about one conversation, as the JSON export and the source of the other two.
#[derive(Debug, Serialize)]
struct Full {
    conversation: Conversation,
    contact: Contact,
    closing_note: Option<ClosingNote>,
    messages: Vec<Message>,
    comments: Vec<Comment>,
    assignments: Vec<Assignment>,
    /// False when the conversation has more messages than an export holds.
    complete: bool,
    exported_at: DateTime<Utc>,
    #[serde(skip)]
    names: Names,
}

#[derive(Debug, Serialize)]
struct ClosingNote {
    category: Option<String>,
    summary: Option<String>,
}

/// Names for ids: users, teams, and the workspace's time zone.
#[derive(Debug, Default)]
struct Names {
    users: HashMap<Id, String>,
    teams: HashMap<Id, String>,
    contact: String,
    tz: Option<chrono_tz::Tz>,
}

impl Names {
    fn actor(&self, actor: &Actor) -> String {
        match (actor.kind, actor.id) {
            (ActorKind::User, Some(id)) => self.users.get(&id).cloned().unwrap_or_else(|| format!("user {id}")),
            (ActorKind::Contact, _) => self.contact.clone(),
            (kind, _) => kind.as_str().replace('_', " "),
        }
    }

    fn user(&self, id: Option<Id>) -> String {
        id.map_or_else(|| "nobody".into(), |id| self.users.get(&id).cloned().unwrap_or_else(|| format!("user {id}")))
    }

    fn team(&self, id: Option<Id>) -> String {
        id.map_or_else(|| "no team".into(), |id| self.teams.get(&id).cloned().unwrap_or_else(|| format!("team {id}")))
    }

    fn time(&self, at: DateTime<Utc>) -> String {
        match self.tz {
            Some(tz) => at.with_timezone(&tz).format("%Y-%m-%d %H:%M:%S %Z").to_string(),
            None => at.format("%Y-%m-%d %H:%M:%S UTC").to_string(),
        }
    }
}

/// One line of the timeline, in time order.
struct Entry {
    at: DateTime<Utc>,
    kind: &'static str,
    author: String,
    text: String,
    status: String,
}

/// The conversation in `format`: `json`, `csv` or `text`.
pub async fn conversation(app: &App, who: &Principal, id: Id, format: &str) -> AppResult<Export> {
    if !["json", "csv", "text", "txt"].contains(&format) {
        return Err(AppError::validation("format", "must be json, csv or text"));
    }
    super::access::conversation(app, who, id).await?;
    let full = gather(app, who.workspace_id, id).await?;
    let (content_type, extension, body) = match format {
        "json" => ("application/json", "json", serde_json::to_vec_pretty(&full).map_err(internal)?),
        "csv" => ("text/csv; charset=utf-8", "csv", csv(&full)?),
        _ => ("text/plain; charset=utf-8", "txt", transcript(&full).into_bytes()),
    };
    Ok(Export { content_type, filename: format!("conversation-{id}.{extension}"), body })
}

/// The header of a workspace export in CSV: the conversation's rows, each with its id.
pub const CSV_HEADER: &str = "conversation_id,time,type,author,text,status\n";

/// One conversation as a part of a workspace export: a JSON line, or CSV rows under [`CSV_HEADER`].
pub async fn for_workspace(app: &App, ws: Id, id: Id, format: &str) -> AppResult<Vec<u8>> {
    let full = gather(app, ws, id).await?;
    if format == "csv" {
        return rows(&full, Some(id), false);
    }
    let mut line = serde_json::to_vec(&full).map_err(internal)?;
    line.push(b'\n');
    Ok(line)
}

fn internal(e: impl std::fmt::Display) -> AppError {
    AppError::Internal(format!("cannot write the export: {e}"))
}

async fn gather(app: &App, ws: Id, id: Id) -> AppResult<Full> {
    let conversation = app.store.get_conversation(ws, id).await?;
    let contact = app.store.get_contact(ws, conversation.contact_id).await?;
    let mut messages = Vec::new();
    let mut complete = true;
    let mut page = PageRequest { after: None, limit: Cursor::MAX_LIMIT };
    loop {
        let got = app.store.list_messages(ws, id, &page).await?;
        messages.extend(got.items);
        if messages.len() >= MAX_MESSAGES {
            complete = got.next_cursor.is_none() && messages.len() == MAX_MESSAGES;
            messages.truncate(MAX_MESSAGES);
            break;
        }
        match got.next_cursor.as_deref().and_then(Cursor::decode) {
            Some(next) => page.after = Some(next),
            None => break,
        }
    }
    messages.reverse();
    let comments = every(|page| async move { app.store.list_comments(ws, id, &page).await }).await?;
    let assignments = app.store.list_assignments(ws, id).await?;
    let users = every(|page| async move { app.store.list_users(ws, &page).await }).await?;
    let teams = every(|page| async move { app.store.list_teams(ws, &page).await }).await?;
    let closing_note = match (conversation.closing_category_id, &conversation.closing_summary) {
        (None, None) => None,
        (category, summary) => {
            let categories = every(|page| async move { app.store.list_closing_categories(ws, &page).await }).await?;
            let category = category.and_then(|c| categories.into_iter().find(|k| k.id == c)).map(|k| k.name);
            Some(ClosingNote { category, summary: summary.clone() })
        }
    };
    let workspace = app.store.get_workspace(ws).await?;
    let names = Names {
        users: users.into_iter().map(|u| (u.id, u.name)).collect(),
        teams: teams.into_iter().map(|t| (t.id, t.name)).collect(),
        contact: contact_name(&contact),
        tz: workspace.timezone.parse().ok(),
    };
    Ok(Full {
        conversation,
        contact,
        closing_note,
        messages,
        comments,
        assignments,
        complete,
        exported_at: Utc::now(),
        names,
    })
}

/// Every page of a settings-style list (oldest first).
async fn every<T, F, Fut>(mut list: F) -> AppResult<Vec<T>>
where
    F: FnMut(PageRequest) -> Fut,
    Fut: std::future::Future<Output = Result<Page<T>, crate::store::StoreError>>,
{
    let mut all = Vec::new();
    let mut after = None;
    loop {
        let page = list(PageRequest { after, limit: Cursor::MAX_LIMIT }).await?;
        all.extend(page.items);
        match page.next_cursor.as_deref().and_then(Cursor::decode) {
            Some(next) => after = Some(next),
            None => return Ok(all),
        }
    }
}

fn contact_name(c: &Contact) -> String {
    c.display_name()
}

/// Messages, comments, assignments, opening and closing, in time order.
fn timeline(f: &Full) -> Vec<Entry> {
    let n = &f.names;
    let c = &f.conversation;
    let mut entries = vec![Entry {
        at: c.opened_at,
        kind: "opened",
        author: n.actor(&c.opened_by),
        text: "opened the conversation".into(),
        status: String::new(),
    }];
    for m in &f.messages {
        let status = match (&m.failure_reason, m.direction) {
            (Some(reason), _) => format!("{} ({reason})", m.status.as_str()),
            (None, Direction::Outgoing) => m.status.as_str().to_owned(),
            (None, Direction::Incoming) => String::new(),
        };
        let kind = if m.direction == Direction::Incoming { "incoming" } else { "outgoing" };
        entries.push(Entry { at: m.created_at, kind, author: n.actor(&m.sender), text: m.content.preview(), status });
    }
    for cm in &f.comments {
        let author = match (cm.author_id, cm.workflow_id) {
            (None, Some(workflow)) => format!("workflow {workflow}"),
            (author, _) => n.user(author),
        };
        entries.push(Entry {
            at: cm.created_at,
            kind: "comment",
            author,
            text: cm.body.clone(),
            status: String::new(),
        });
    }
    for a in &f.assignments {
        let text = format!("assigned to {} ({})", n.user(a.to_user_id), n.team(a.to_team_id));
        entries.push(Entry {
            at: a.created_at,
            kind: "assignment",
            author: n.actor(&a.actor),
            text,
            status: String::new(),
        });
    }
    if let (Some(at), Some(by)) = (c.closed_at, &c.closed_by) {
        let text = match &f.closing_note {
            Some(note) => format!(
                "closed the conversation: {}{}",
                note.category.as_deref().unwrap_or("no category"),
                note.summary.as_deref().map(|s| format!(" — {s}")).unwrap_or_default()
            ),
            None => "closed the conversation".into(),
        };
        entries.push(Entry { at, kind: "closed", author: n.actor(by), text, status: String::new() });
    }
    // Stable: entries of the same instant keep the order above (opening first, closing last).
    entries.sort_by_key(|e| e.at);
    entries
}

fn csv(f: &Full) -> AppResult<Vec<u8>> {
    rows(f, None, true)
}

/// The timeline as CSV rows, each led by the conversation's id when given.
fn rows(f: &Full, conversation: Option<Id>, header: bool) -> AppResult<Vec<u8>> {
    let mut w = csv::Writer::from_writer(Vec::new());
    let lead = conversation.map(|id| id.to_string());
    if header {
        w.write_record(["time", "type", "author", "text", "status"]).map_err(internal)?;
    }
    for e in timeline(f) {
        let time = f.names.time(e.at);
        let fields = [time.as_str(), e.kind, &e.author, &e.text, &e.status];
        match &lead {
            Some(id) => w.write_record(std::iter::once(id.as_str()).chain(fields)),
            None => w.write_record(fields),
        }
        .map_err(internal)?;
    }
    w.into_inner().map_err(internal)
}

fn transcript(f: &Full) -> String {
    use std::fmt::Write;
    let (n, c) = (&f.names, &f.conversation);
    let mut out = String::new();
    let contact = &f.contact;
    let reach = [contact.phone.as_deref(), contact.email.as_deref()].into_iter().flatten().collect::<Vec<_>>();
    let reach = if reach.is_empty() { String::new() } else { format!(" ({})", reach.join(", ")) };
    let _ = writeln!(out, "Conversation {} with {}{reach}", c.id, n.contact);
    let _ =
        writeln!(out, "Status: {}; assigned to {} ({})", c.status.as_str(), n.user(c.assignee_id), n.team(c.team_id));
    if let Some(note) = &f.closing_note {
        let _ = writeln!(
            out,
            "Closing note: {}{}",
            note.category.as_deref().unwrap_or("no category"),
            note.summary.as_deref().map(|s| format!(" — {s}")).unwrap_or_default()
        );
    }
    if !f.complete {
        let _ = writeln!(out, "(only the last {MAX_MESSAGES} messages are included)");
    }
    let _ = writeln!(out);
    for e in timeline(f) {
        let status = if e.status.is_empty() { String::new() } else { format!(" [{}]", e.status) };
        let text = e.text.replace('\n', "\n    ");
        match e.kind {
            "incoming" | "outgoing" => {
                let _ = writeln!(out, "[{}] {}: {text}{status}", n.time(e.at), e.author);
            }
            kind => {
                let _ = writeln!(out, "[{}] ({kind}) {}: {text}", n.time(e.at), e.author);
            }
        }
    }
    out
}
