//! The agent's inbox lists: views (all, mine, unassigned, mentions, a team's), filters, the user's pinned
//! conversations first, keyset pages across the pinned and unpinned parts, the sidebar's counts, and the
//! user's notifications.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::app::App;
use crate::error::{AppError, AppResult};
use crate::model::*;

/// Where a conversation list continues: inside the caller's pinned conversations, or after them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ListCursor {
    Pinned(Cursor),
    /// The unpinned part, from its start (`None`) or after a conversation.
    Rest(Option<Cursor>),
}

impl ListCursor {
    fn encode(self) -> String {
        match self {
            Self::Pinned(c) => format!("p{}", c.encode()),
            Self::Rest(None) => "r".into(),
            Self::Rest(Some(c)) => format!("r{}", c.encode()),
        }
    }

    fn decode(s: &str) -> Option<Self> {
        match (s.get(..1)?, s.get(1..)?) {
            ("p", c) => Some(Self::Pinned(Cursor::decode(c)?)),
            ("r", "") => Some(Self::Rest(None)),
            ("r", c) => Some(Self::Rest(Some(Cursor::decode(c)?))),
            _ => None,
        }
    }
}

/// What `GET /conversations` asks for, as text from the query string.
#[derive(Debug, Clone, Default)]
pub struct ListRequest {
    pub view: Option<String>,
    pub status: Option<String>,
    pub sort: Option<String>,
    pub unread: bool,
    pub channel_id: Option<Id>,
    pub tag: Option<String>,
    pub contact_id: Option<Id>,
    pub assignee_id: Option<Id>,
    pub team_id: Option<Id>,
    pub unassigned: bool,
    pub cursor: Option<String>,
    pub limit: Option<u32>,
}

/// What the inbox rows of `conversations` (already checked as visible to `who`) show: contact and latest message.
pub async fn summaries(
    app: &App,
    who: &Principal,
    conversations: &[Conversation],
) -> AppResult<HashMap<Id, ConversationSummary>> {
    let ids: Vec<Id> = conversations.iter().map(|c| c.id).collect();
    Ok(app.store.conversation_summaries(who.workspace_id, &ids).await?.into_iter().collect())
}

/// One page of a view: the caller's pinned conversations first, then the others, each part in the sort order.
pub async fn list(app: &App, who: &Principal, req: ListRequest) -> AppResult<Page<Conversation>> {
    let ws = who.workspace_id;
    let view = match req.view.as_deref() {
        None | Some("") => View::All,
        Some(v) => View::parse(v).ok_or_else(|| {
            AppError::validation("view", "must be all, mine, unassigned, mentions, team:{id} or inbox:{id}")
        })?,
    };
    let rule = match view {
        View::Team(team) => {
            app.store.get_team(ws, team).await.map_err(|_| AppError::validation("view", "no such team"))?;
            None
        }
        View::Inbox(inbox) => Some(super::inboxes::rule(app, who, inbox).await?),
        _ => None,
    };
    let status = match req.status.as_deref() {
        None | Some("") | Some("all") => None,
        Some(s) => Some(
            ConversationStatus::parse(s)
                .ok_or_else(|| AppError::validation("status", "must be open, closed or all"))?,
        ),
    };
    let sort = match req.sort.as_deref() {
        None | Some("") | Some("newest") => Sort::Newest,
        Some("oldest") => Sort::Oldest,
        Some(_) => return Err(AppError::validation("sort", "must be newest or oldest")),
    };
    let limit = req.limit.unwrap_or(Cursor::DEFAULT_LIMIT);
    if limit == 0 || limit > Cursor::MAX_LIMIT {
        return Err(AppError::validation("limit", format!("must be between 1 and {}", Cursor::MAX_LIMIT)));
    }
    let cursor = match req.cursor.as_deref().filter(|c| !c.is_empty()) {
        None => None,
        Some(c) => {
            Some(ListCursor::decode(c).ok_or_else(|| AppError::validation("cursor", "is not a cursor from this API"))?)
        }
    };
    let filter = ConversationFilter {
        user_id: Some(who.user_id),
        view,
        status,
        contact_id: req.contact_id,
        assignee_id: req.assignee_id,
        team_id: req.team_id,
        unassigned: req.unassigned,
        unread: req.unread,
        channel_id: req.channel_id,
        tag: req.tag.filter(|t| !t.is_empty()),
        pinned: None,
        rule,
        visible_to: super::access::scope(app, who).await?,
        ids: None,
        opened: None,
        sort,
    };

    // Pins are few: their ids lead the pinned part's query (no pins, no query), and the rest leaves them out.
    let pins = app.store.list_pins(ws, who.user_id).await?;
    let mut items = Vec::new();
    let rest_after = match cursor {
        None | Some(ListCursor::Pinned(_)) if pins.is_empty() => None,
        None | Some(ListCursor::Pinned(_)) => {
            let after = match cursor {
                Some(ListCursor::Pinned(c)) => Some(c),
                _ => None,
            };
            let pinned = ConversationFilter { pinned: Some(true), ids: Some(pins.clone()), ..filter.clone() };
            let page = app.store.list_conversations(ws, &pinned, &PageRequest { after, limit }).await?;
            if let Some(next) = page.next_cursor {
                let next = Cursor::decode(&next).map(ListCursor::Pinned).map(ListCursor::encode);
                return Ok(Page { items: page.items, next_cursor: next });
            }
            items = page.items;
            None
        }
        Some(ListCursor::Rest(after)) => after,
    };
    let room = limit - items.len() as u32;
    let others = ConversationFilter { pinned: (!pins.is_empty()).then_some(false), ..filter };
    // With no room left, one row is still asked for: it says whether a next page exists.
    let page =
        app.store.list_conversations(ws, &others, &PageRequest { after: rest_after, limit: room.max(1) }).await?;
    let next_cursor = if room == 0 {
        (!page.items.is_empty()).then(|| ListCursor::Rest(None).encode())
    } else {
        let next = page.next_cursor.as_deref().and_then(Cursor::decode);
        items.extend(page.items);
        next.map(|c| ListCursor::Rest(Some(c)).encode())
    };
    Ok(Page { items, next_cursor })
}

/// A workspace's open conversations by team and assignee, and its team ids.
type Groups = Arc<(Vec<OpenGroup>, Vec<Id>)>;

/// How long a workspace's groups serve the sidebars of all its users when nothing changed here (changes made
/// through this server refresh them at once; other nodes' changes show within this).
const GROUPS_TTL: Duration = Duration::from_secs(2);

/// The counts every user's sidebar is summed from, computed once per workspace and change instead of once
/// per user and request: counting tens of thousands of open conversations is the expensive part.
#[derive(Default)]
pub struct CountCache(Mutex<HashMap<Id, (u64, Instant, Groups)>>);

impl CountCache {
    async fn groups(&self, app: &App, ws: Id) -> AppResult<Groups> {
        let version = *app.changes.borrow();
        {
            let map = self.0.lock().unwrap_or_else(|e| e.into_inner());
            if let Some((v, at, groups)) = map.get(&ws)
                && *v == version
                && at.elapsed() < GROUPS_TTL
            {
                return Ok(groups.clone());
            }
        }
        let groups = app.store.open_groups(ws).await?;
        let teams = app.store.team_ids(ws).await?;
        let fresh: Groups = Arc::new((groups, teams));
        let mut map = self.0.lock().unwrap_or_else(|e| e.into_inner());
        if map.len() >= 10_000 {
            map.clear();
        }
        map.insert(ws, (version, Instant::now(), fresh.clone()));
        Ok(fresh)
    }
}

/// Open conversations per view for the sidebar, as the caller sees them, and their unread notifications.
pub async fn counts(app: &App, who: &Principal) -> AppResult<InboxCounts> {
    let ws = who.workspace_id;
    let visible_to = super::access::scope(app, who).await?;
    let groups = app.count_cache.groups(app, ws).await?;
    let (groups, team_ids) = groups.as_ref();
    let mut counts = InboxCounts {
        teams: team_ids.iter().map(|&team_id| TeamCount { team_id, count: ViewCount::default() }).collect(),
        ..Default::default()
    };
    for g in groups {
        if visible_to.as_ref().is_some_and(|v| !v.allows_owner(g.team_id, g.assignee_id)) {
            continue;
        }
        let add = |c: &mut ViewCount| {
            c.open += g.open;
            c.unread += g.unread;
        };
        add(&mut counts.all);
        match g.assignee_id {
            None => add(&mut counts.unassigned),
            Some(user) if user == who.user_id => add(&mut counts.mine),
            Some(_) => {}
        }
        if let Some(t) = counts.teams.iter_mut().find(|t| Some(t.team_id) == g.team_id) {
            add(&mut t.count);
        }
    }
    let mentioned = app.store.mentioned_conversations(ws, who.user_id).await?;
    if !mentioned.is_empty() {
        let filter = ConversationFilter {
            ids: Some(mentioned),
            status: Some(ConversationStatus::Open),
            visible_to: visible_to.clone(),
            ..Default::default()
        };
        counts.mentions = app.store.count_conversations(ws, &filter).await?;
    }
    for inbox in super::inboxes::list(app, who).await? {
        let filter = ConversationFilter {
            user_id: Some(who.user_id),
            status: Some(ConversationStatus::Open),
            rule: Some(super::inboxes::rule(app, who, inbox.id).await?),
            visible_to: visible_to.clone(),
            ..Default::default()
        };
        let count = app.store.count_conversations(ws, &filter).await?;
        counts.inboxes.push(InboxCount { inbox_id: inbox.id, count });
    }
    counts.notifications_unread = app.store.unread_notifications(ws, who.user_id).await?;
    Ok(counts)
}

/// Marks the caller's notifications read: those listed, or all of them.
pub async fn mark_read(app: &App, who: &Principal, ids: Option<Vec<Id>>) -> AppResult<u64> {
    if let Some(ids) = &ids
        && ids.len() > 1000
    {
        return Err(AppError::validation("ids", "at most 1000 at a time"));
    }
    Ok(app.store.mark_notifications_read(who.workspace_id, who.user_id, ids.as_deref()).await?)
}
