//! Search over a workspace's contacts and messages (closed conversations included), limited to what the
//! asking user may see: message hits in conversations out of their sight are dropped, and a contact hit
//! links only to a conversation they may open.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use serde::Deserialize;
use utoipa::ToSchema;

use crate::app::App;
use crate::error::{AppError, AppResult};
use crate::model::*;
use crate::search::highlight::{self, SNIPPET_CHARS};
use crate::search::{ParsedQuery, SearchIndex, SearchSort};

pub const MAX_QUERY_CHARS: usize = 200;
pub const DEFAULT_LIMIT: u32 = 20;
pub const MAX_LIMIT: u32 = 50;
/// How many message candidates a restricted agent's search looks through for hits they may see.
const MAX_SCANNED: usize = 2000;

/// What to look for.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum SearchKind {
    #[default]
    All,
    Contacts,
    Messages,
}

#[derive(Debug, Clone, Default)]
pub struct SearchRequest {
    pub q: String,
    pub kind: SearchKind,
    pub sort: SearchSort,
    pub limit: Option<u32>,
}

pub async fn search(app: &App, who: &Principal, req: &SearchRequest) -> AppResult<SearchResults> {
    let q = req.q.trim();
    if q.is_empty() {
        return Err(AppError::Validation { field: "q".into(), message: "must not be empty".into() });
    }
    if q.chars().count() > MAX_QUERY_CHARS {
        return Err(AppError::Validation {
            field: "q".into(),
            message: format!("must be at most {MAX_QUERY_CHARS} characters"),
        });
    }
    let limit = match req.limit {
        None => DEFAULT_LIMIT,
        Some(n @ 1..=MAX_LIMIT) => n,
        Some(_) => {
            return Err(AppError::Validation { field: "limit".into(), message: format!("must be 1 to {MAX_LIMIT}") });
        }
    } as usize;
    let query = ParsedQuery::parse(q);
    let mut results = SearchResults::default();
    if query.is_empty() {
        return Ok(results);
    }
    let scope = super::access::scope(app, who).await?;
    let ws = who.workspace_id;
    if req.kind != SearchKind::Messages {
        results.contacts = contacts(app, ws, &query, scope.as_ref(), limit.min(10)).await?;
    }
    if req.kind != SearchKind::Contacts {
        results.messages = messages(app, ws, &query.for_messages(), scope.as_ref(), req.sort, limit).await?;
    }
    Ok(results)
}

/// Runs a search on a blocking thread (the index reads memory-mapped files).
async fn in_index<T: Send + 'static>(
    app: &App,
    f: impl FnOnce(&SearchIndex) -> anyhow::Result<T> + Send + 'static,
) -> AppResult<T> {
    let index = app.search.clone();
    tokio::task::spawn_blocking(move || f(&index))
        .await
        .map_err(|e| AppError::Internal(e.to_string()))?
        .map_err(|e| AppError::Internal(format!("search: {e}")))
}

async fn contacts(
    app: &App,
    ws: Id,
    query: &ParsedQuery,
    scope: Option<&Visibility>,
    limit: usize,
) -> AppResult<Vec<ContactHit>> {
    let q = query.clone();
    let found = in_index(app, move |index| index.contacts(ws, &q, 0, limit)).await?;
    let ids: Vec<Id> = found.iter().map(|c| c.id).collect();
    let conversations = app.store.conversations_of_contacts(ws, &ids).await?;
    Ok(found
        .into_iter()
        .map(|c| {
            let latest = conversations.iter().find(|cv| cv.contact_id == c.id && scope.is_none_or(|s| s.allows(cv)));
            ContactHit {
                contact_id: c.id,
                highlights: contact_highlights(query, &c),
                name: c.name,
                phone: c.phone,
                email: c.email,
                conversation_id: latest.map(|cv| cv.id),
                conversation_status: latest.map(|cv| cv.status),
                score: c.score,
            }
        })
        .collect())
}

fn contact_highlights(query: &ParsedQuery, c: &crate::search::FoundContact) -> BTreeMap<String, Highlight> {
    let mut out = BTreeMap::new();
    let marked = |text: &str| Some(highlight::words(text, query, usize::MAX)).filter(|h| !h.marks.is_empty());
    let fields = [("name", marked(&c.name)), ("email", c.email.as_deref().and_then(marked))];
    for (name, h) in fields.into_iter().chain([("fields", c.fields.iter().find_map(|v| marked(v)))]) {
        if let Some(h) = h {
            out.insert(name.to_string(), h);
        }
    }
    if let Some(phone) = &c.phone
        && let Some(h) = query.phone.iter().find_map(|d| highlight::digits(phone, d))
    {
        out.insert("phone".into(), h);
    }
    out
}

async fn messages(
    app: &App,
    ws: Id,
    query: &ParsedQuery,
    scope: Option<&Visibility>,
    sort: SearchSort,
    limit: usize,
) -> AppResult<Vec<MessageHit>> {
    // Everyone who sees every conversation gets the index's top hits; a restricted agent's are taken
    // from successive pages of candidates until enough are visible.
    let page = if scope.is_none() { limit } else { (limit * 4).max(100) };
    let mut kept = Vec::new();
    let mut conversations: HashMap<Id, Conversation> = HashMap::new();
    let mut offset = 0;
    while kept.len() < limit && offset < MAX_SCANNED {
        let q = query.clone();
        let found = in_index(app, move |index| index.messages(ws, &q, sort, offset, page)).await?;
        let ids: Vec<Id> =
            found.iter().map(|m| m.conversation_id).filter(|id| !conversations.contains_key(id)).collect();
        for c in app.store.conversations_by_ids(ws, &dedup(ids)).await? {
            conversations.insert(c.id, c);
        }
        let fetched = found.len();
        for m in found {
            // A conversation that is gone (its contact deleted) is dropped with its messages.
            let visible = conversations.get(&m.conversation_id).is_some_and(|c| scope.is_none_or(|s| s.allows(c)));
            if visible && kept.len() < limit {
                kept.push(m);
            }
        }
        offset += fetched;
        if fetched < page {
            break;
        }
    }
    let contact_ids = dedup(kept.iter().map(|m| m.contact_id).collect());
    let names: HashMap<Id, String> = app
        .store
        .contacts_to_index(IndexPick::Ids { ws, ids: &contact_ids })
        .await?
        .into_iter()
        .map(|c| (c.id, c.name))
        .collect();
    Ok(kept
        .into_iter()
        .filter_map(|m| {
            let conversation = conversations.get(&m.conversation_id)?;
            Some(MessageHit {
                message_id: m.id,
                conversation_id: m.conversation_id,
                conversation_status: conversation.status,
                contact_id: m.contact_id,
                contact_name: names.get(&m.contact_id).cloned().unwrap_or_default(),
                direction: m.direction,
                created_at: ts_from_ms(m.at_ms),
                snippet: highlight::words(&m.text, query, SNIPPET_CHARS),
                score: m.score,
            })
        })
        .collect())
}

fn dedup(mut ids: Vec<Id>) -> Vec<Id> {
    ids.sort_unstable();
    ids.dedup();
    ids
}

/// Rebuilds `app`'s search index from the database (`switchboard reindex`), telling `progress`
/// (done, total) as it goes. Fails when a running server holds the index.
pub async fn reindex(app: &App, progress: impl Fn(u64, u64)) -> anyhow::Result<u64> {
    let mut indexer =
        crate::search::indexer::Indexer::open(Arc::clone(&app.search), app.config.search.writer_memory_mb)?;
    let docs = indexer.rebuild(&*app.store, progress).await?;
    // Whatever happened while the tables were read.
    indexer.catch_up(&*app.store).await?;
    Ok(docs)
}
