//! Writes the search index: a full rebuild from the database, then the event log's contact and message
//! events as they come. Each commit carries the event cursors it reached (see `Progress`), so after a
//! crash the next start re-reads only what the last commit had not covered; re-applying an event is
//! harmless because a document is always replaced whole from the database's current row.

use std::collections::BTreeSet;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tantivy::{IndexWriter, TantivyDocument, Term};

use super::{FORMAT_VERSION, Fields, Progress, SearchIndex};
use crate::app::App;
use crate::model::{Id, IndexContact, IndexMessage, IndexPick};
use crate::store::Store;

/// Events read per workspace per round.
const EVENT_BATCH: u32 = 1000;
/// Rows read per round of a rebuild.
const REBUILD_BATCH: u32 = 5000;
/// The least time between two commits while events keep coming (each commit writes a segment).
const MIN_COMMIT_GAP: Duration = Duration::from_millis(100);
/// The gap after a round that indexed at least [`BUSY_ROUND`] events: under a steady stream of messages,
/// fewer and larger segments (a commit's fixed cost, and the merges that follow, were a sixth of the
/// server's time at 5,000 messages/s), while a change is still searchable within the 1 s target.
const BUSY_COMMIT_GAP: Duration = Duration::from_millis(400);
const BUSY_ROUND: u64 = 200;

/// Why the index could not be opened for writing.
#[derive(Debug, thiserror::Error)]
pub enum OpenError {
    #[error("the search index in {0} is being written by another process (a running server?)")]
    Busy(String),
    #[error("cannot open the search index for writing: {0}")]
    Other(#[from] tantivy::TantivyError),
}

/// What a round of catching up did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Applied {
    pub events: u64,
    pub documents: u64,
}

/// The only writer of an index (tantivy's lock file keeps others out, in this process or another).
pub struct Indexer {
    index: Arc<SearchIndex>,
    writer: Arc<Mutex<IndexWriter>>,
    progress: Progress,
}

impl Indexer {
    pub fn open(index: Arc<SearchIndex>, memory_mb: u32) -> Result<Self, OpenError> {
        let bytes = usize::try_from(memory_mb).unwrap_or(24) << 20;
        let writer = match index.index.writer_with_num_threads(1, bytes) {
            Ok(w) => w,
            Err(tantivy::TantivyError::LockFailure(..)) => {
                return Err(OpenError::Busy(index.dir.display().to_string()));
            }
            Err(e) => return Err(e.into()),
        };
        let progress = index.progress();
        Ok(Self { index, writer: Arc::new(Mutex::new(writer)), progress })
    }

    /// Whether the index has never been built (new, or started afresh after a format change).
    pub fn needs_rebuild(&self) -> bool {
        !self.progress.built
    }

    /// Replaces everything in the index with what the database holds now; `progress` hears (done, total)
    /// after each batch. Searches keep seeing the old contents until the final commit.
    pub async fn rebuild(&mut self, store: &dyn Store, progress: impl Fn(u64, u64)) -> anyhow::Result<u64> {
        // Cursors first: whatever changes while the tables are read is in the log after them, and is
        // applied again afterwards.
        let mut cursors = std::collections::BTreeMap::new();
        for ws in store.list_all_workspaces().await? {
            cursors.insert(ws.id, store.last_event_seq(ws.id).await?);
        }
        self.with_writer(|w| {
            w.delete_all_documents()?;
            Ok(())
        })
        .await?;
        let (contacts, messages) = store.count_to_index().await?;
        let total = contacts + messages;
        let mut done = 0;
        let mut after = 0;
        loop {
            let page = store.contacts_to_index(IndexPick::After { after, limit: REBUILD_BATCH }).await?;
            let Some(last) = page.last() else { break };
            after = last.id;
            done += page.len() as u64;
            let f = self.index.fields;
            let docs: Vec<_> = page.iter().map(|c| contact_doc(&f, c)).collect();
            self.add(docs).await?;
            progress(done, total.max(done));
        }
        after = 0;
        loop {
            let page = store.messages_to_index(IndexPick::After { after, limit: REBUILD_BATCH }).await?;
            let Some(last) = page.last() else { break };
            after = last.id;
            done += page.len() as u64;
            let f = self.index.fields;
            let docs: Vec<_> = page.iter().filter_map(|m| message_doc(&f, m)).collect();
            self.add(docs).await?;
            progress(done, total.max(done));
        }
        self.commit(Progress { version: FORMAT_VERSION, built: true, cursors }).await?;
        Ok(done)
    }

    /// Applies the contact and message events that every workspace's log holds beyond the cursors, and
    /// commits when the cursors moved.
    pub async fn catch_up(&mut self, store: &dyn Store) -> anyhow::Result<Applied> {
        let mut applied = Applied::default();
        let mut next = self.progress.clone();
        for ws in store.list_all_workspaces().await? {
            let mut cursor = next.cursors.get(&ws.id).copied().unwrap_or(0);
            loop {
                let events = store.list_events(ws.id, cursor, EVENT_BATCH).await?;
                let Some(last) = events.last() else { break };
                cursor = last.seq;
                let mut change = Change::default();
                for e in &events {
                    let Some(id) = e.subject_id else { continue };
                    match e.kind.as_str() {
                        "contact.created" | "contact.updated" | "contact.identity.added" => change.contacts.insert(id),
                        "contact.deleted" => change.deleted_contacts.insert(id),
                        "message.created" => change.messages.insert(id),
                        _ => continue,
                    };
                }
                applied.events += events.len() as u64;
                applied.documents += self.apply(store, ws.id, &change).await?;
                if events.len() < EVENT_BATCH as usize {
                    break;
                }
            }
            if cursor > 0 {
                next.cursors.insert(ws.id, cursor);
            }
        }
        if next != self.progress {
            self.commit(next).await?;
        }
        Ok(applied)
    }

    /// Replaces the documents of the changed rows with their current state.
    async fn apply(&mut self, store: &dyn Store, ws: Id, change: &Change) -> anyhow::Result<u64> {
        let f = self.index.fields;
        let ids: Vec<Id> = change.contacts.iter().copied().collect();
        let contacts = store.contacts_to_index(IndexPick::Ids { ws, ids: &ids }).await?;
        let ids: Vec<Id> = change.messages.iter().copied().collect();
        let messages = store.messages_to_index(IndexPick::Ids { ws, ids: &ids }).await?;
        let docs: Vec<TantivyDocument> = contacts
            .iter()
            .map(|c| contact_doc(&f, c))
            .chain(messages.iter().filter_map(|m| message_doc(&f, m)))
            .collect();
        let count = docs.len() as u64;
        let (contact_ids, message_ids, deleted) =
            (change.contacts.clone(), change.messages.clone(), change.deleted_contacts.clone());
        self.with_writer(move |w| {
            for id in contact_ids {
                w.delete_term(Term::from_field_text(f.key, &format!("c:{id}")));
            }
            for id in message_ids {
                w.delete_term(Term::from_field_text(f.key, &format!("m:{id}")));
            }
            for id in deleted {
                w.delete_term(Term::from_field_i64(f.contact, id));
            }
            for doc in docs {
                w.add_document(doc)?;
            }
            Ok(())
        })
        .await?;
        Ok(count)
    }

    async fn add(&self, docs: Vec<TantivyDocument>) -> anyhow::Result<()> {
        self.with_writer(move |w| {
            for doc in docs {
                w.add_document(doc)?;
            }
            Ok(())
        })
        .await
    }

    async fn commit(&mut self, progress: Progress) -> anyhow::Result<()> {
        let payload = serde_json::to_string(&progress)?;
        self.with_writer(move |w| {
            let mut prepared = w.prepare_commit()?;
            prepared.set_payload(&payload);
            prepared.commit()?;
            Ok(())
        })
        .await?;
        self.index.reload()?;
        self.progress = progress;
        Ok(())
    }

    /// Runs `f` on the writer on a blocking thread: adding documents can wait for the indexing thread and
    /// a commit waits for the disk.
    async fn with_writer(
        &self,
        f: impl FnOnce(&mut IndexWriter) -> tantivy::Result<()> + Send + 'static,
    ) -> anyhow::Result<()> {
        let writer = self.writer.clone();
        tokio::task::spawn_blocking(move || {
            let mut w = writer.lock().map_err(|_| anyhow::anyhow!("the search index writer failed earlier"))?;
            f(&mut w).map_err(anyhow::Error::from)
        })
        .await?
    }
}

#[derive(Debug, Default)]
struct Change {
    contacts: BTreeSet<Id>,
    deleted_contacts: BTreeSet<Id>,
    messages: BTreeSet<Id>,
}

fn contact_doc(f: &Fields, c: &IndexContact) -> TantivyDocument {
    let mut doc = TantivyDocument::default();
    doc.add_text(f.key, format!("c:{}", c.id));
    doc.add_text(f.kind, "contact");
    doc.add_i64(f.ws, c.workspace_id);
    doc.add_i64(f.id, c.id);
    doc.add_i64(f.contact, c.id);
    doc.add_text(f.name, &c.name);
    if let Some(phone) = &c.phone {
        // Stored as written; indexed by its digits.
        doc.add_text(f.phone, phone);
    }
    if let Some(email) = &c.email {
        doc.add_text(f.email, email);
    }
    for value in &c.fields {
        doc.add_text(f.fields, value);
    }
    doc
}

fn message_doc(f: &Fields, m: &IndexMessage) -> Option<TantivyDocument> {
    let text = m.search_text();
    if text.trim().is_empty() {
        return None;
    }
    let mut doc = TantivyDocument::default();
    doc.add_text(f.key, format!("m:{}", m.id));
    doc.add_text(f.kind, "message");
    doc.add_i64(f.ws, m.workspace_id);
    doc.add_i64(f.id, m.id);
    doc.add_i64(f.contact, m.contact_id);
    doc.add_i64(f.conversation, m.conversation_id);
    doc.add_text(f.text, &text);
    doc.add_i64(f.at, m.created_at.timestamp_millis());
    doc.add_text(f.direction, m.direction.as_str());
    Some(doc)
}

/// Keeps the index current for as long as the server runs: opens the writer (waiting while another
/// process holds it), builds the index when it has never been built, then follows the event log, woken
/// by local changes and polling for the rest (other nodes' writes).
pub async fn run(app: Arc<App>, mut stop: tokio::sync::watch::Receiver<bool>) {
    let settings = &app.config.search;
    let poll = Duration::from_millis(settings.poll_interval_ms);
    let mut indexer = loop {
        match Indexer::open(app.search.clone(), settings.writer_memory_mb) {
            Ok(indexer) => break indexer,
            Err(e) => tracing::warn!(error = %e, "search indexing waits for the index"),
        }
        tokio::select! {
            _ = tokio::time::sleep(Duration::from_secs(5)) => {}
            _ = stop.changed() => return,
        }
    };
    if indexer.needs_rebuild() {
        let started = Instant::now();
        let logged = std::sync::atomic::AtomicU64::new(0);
        let report = |done: u64, total: u64| {
            let tenth = total.div_ceil(10).max(1);
            if done / tenth > logged.load(std::sync::atomic::Ordering::Relaxed) {
                logged.store(done / tenth, std::sync::atomic::Ordering::Relaxed);
                tracing::info!(done, total, "building the search index");
            }
        };
        match indexer.rebuild(&*app.store, report).await {
            Ok(docs) => tracing::info!(docs, ms = started.elapsed().as_millis() as u64, "search index built"),
            Err(e) => tracing::error!(error = %e, "building the search index failed; searches may miss older data"),
        }
    }
    let mut changes = app.changes.subscribe();
    loop {
        let round = Instant::now();
        let mut gap = MIN_COMMIT_GAP;
        match indexer.catch_up(&*app.store).await {
            Ok(applied) if applied.events >= BUSY_ROUND => gap = BUSY_COMMIT_GAP,
            Ok(_) => {}
            Err(e) => tracing::warn!(error = %e, "search indexing failed; retrying"),
        }
        tokio::select! {
            _ = changes.changed() => {}
            _ = tokio::time::sleep(poll) => {}
            _ = stop.changed() => break,
        }
        // Changes in quick succession share a commit.
        let gap = gap.saturating_sub(round.elapsed());
        if !gap.is_zero() {
            tokio::time::sleep(gap).await;
        }
    }
}
