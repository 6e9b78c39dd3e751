//! What a user receives live: the workspace's event log after a sequence number, narrowed to the events
//! their role may see. The websocket in `http::realtime` streams this; resuming is reading from a number.

use crate::app::App;
use crate::error::AppResult;
use crate::model::*;

/// Event kinds (by prefix) an agent receives: the inbox's own. Managers and owners receive every event.
const AGENT_KINDS: &[&str] = &["message.", "conversation.", "comment.", "contact."];

/// How many log rows one read scans.
pub const BATCH: u32 = 200;

/// Whether `who` receives this event.
pub fn visible(who: &Principal, event: &Event) -> bool {
    who.role >= Role::Manager || AGENT_KINDS.iter().any(|prefix| event.kind.starts_with(prefix))
}

/// One read of the log after `after`.
#[derive(Debug)]
pub struct Batch {
    /// The events `who` may see, in sequence order.
    pub events: Vec<Event>,
    /// Where the next read starts (past the events `who` may not see, too).
    pub last_seq: i64,
    /// Whether the read reached the end of the log as it was.
    pub at_end: bool,
}

pub async fn read(app: &App, who: &Principal, after: i64) -> AppResult<Batch> {
    let events = app.store.list_events(who.workspace_id, after, BATCH).await?;
    let at_end = events.len() < BATCH as usize;
    let last_seq = events.last().map_or(after, |e| e.seq);
    let mut events: Vec<Event> = events.into_iter().filter(|e| visible(who, e)).collect();
    if let Some(scope) = super::access::scope(app, who).await? {
        // An agent who sees only some conversations receives only their events (and no contact events,
        // which are not tied to one conversation).
        let mut ids: Vec<Id> = events.iter().filter_map(conversation_of).collect();
        ids.sort_unstable();
        ids.dedup();
        let filter = ConversationFilter { ids: Some(ids.clone()), visible_to: Some(scope), ..Default::default() };
        let page = PageRequest { after: None, limit: (ids.len() as u32).clamp(1, Cursor::MAX_LIMIT) };
        let seen: Vec<Id> = if ids.is_empty() {
            vec![]
        } else {
            app.store.list_conversations(who.workspace_id, &filter, &page).await?.items.iter().map(|c| c.id).collect()
        };
        events.retain(|e| conversation_of(e).is_some_and(|c| seen.contains(&c)));
    }
    Ok(Batch { events, last_seq, at_end })
}

/// The conversation an event is about, if it is about one.
fn conversation_of(e: &Event) -> Option<Id> {
    if e.kind.starts_with("conversation.") {
        e.subject_id
    } else {
        e.data.get("conversation_id").and_then(|v| v.as_i64())
    }
}

/// The sequence number a stream without `after` starts from: the latest event now.
pub async fn head(app: &App, who: &Principal) -> AppResult<i64> {
    Ok(app.store.last_event_seq(who.workspace_id).await?)
}

/// Whether `who` is shown that someone is typing: in their workspace, someone else, in a conversation they
/// may see.
pub async fn shows_typing(app: &App, who: &Principal, typing: &Typing) -> bool {
    typing.workspace_id == who.workspace_id
        && typing.actor != Actor::user(who.user_id)
        && super::access::conversation(app, who, typing.conversation_id).await.is_ok()
}
