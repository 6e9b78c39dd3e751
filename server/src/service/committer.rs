//! Group commit for inbound deliveries: concurrent webhook requests queue their parsed items, and a
//! committer writes every delivery waiting at that moment in one transaction, so a burst shares one durable
//! commit (one fsync) instead of paying one each. Each request is answered only after the commit that holds
//! it, so acknowledging a delivery still means it is on disk.

use std::sync::Arc;

use tokio::sync::{Mutex, mpsc, oneshot};

use crate::model::{Id, InboundItem, IngestReport};
use crate::store::{Delivery, Store, StoreError, StoreResult};

/// At most this many deliveries share a transaction; a larger burst simply takes several.
const MAX_BATCH: usize = 256;

/// Deliveries waiting for a commit (bounded so a stalled database pushes back on the webhook handlers).
const QUEUE: usize = 4096;

struct Pending {
    workspace_id: Id,
    channel_id: Id,
    items: Vec<InboundItem>,
    reply: oneshot::Sender<StoreResult<IngestReport>>,
}

/// Where the committer tasks run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Writers {
    /// One committer on a thread of its own. SQLite has one writer at a time, so every delivery waits for
    /// this one task; on the server's runtime it waited behind every runnable request handler each time
    /// one of its statements returned, which made each commit (and so each batch) about twice as long.
    /// Only for stores whose connections belong to no runtime (SQLite's run on their own threads): a
    /// PostgreSQL connection opened here would be driven by this thread's runtime.
    Dedicated,
    /// This many committer tasks on the server's runtime, each batching what it finds (PostgreSQL commits
    /// in parallel).
    Shared(usize),
}

/// The queue in front of the committer tasks.
#[derive(Clone)]
pub struct Committer {
    queue: mpsc::Sender<Pending>,
}

impl std::fmt::Debug for Committer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Committer").finish_non_exhaustive()
    }
}

impl Committer {
    /// Starts the committers. The tasks end when the last `Committer` clone is dropped.
    pub fn start(store: Arc<dyn Store>, writers: Writers) -> std::io::Result<Self> {
        let (queue, rx) = mpsc::channel(QUEUE);
        let rx = Arc::new(Mutex::new(rx));
        match writers {
            Writers::Dedicated => {
                let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
                std::thread::Builder::new().name("committer".into()).spawn(move || runtime.block_on(run(store, rx)))?;
            }
            Writers::Shared(n) => {
                for _ in 0..n.max(1) {
                    tokio::spawn(run(store.clone(), rx.clone()));
                }
            }
        }
        Ok(Self { queue })
    }

    /// Ingests one delivery; returns once the transaction holding it has committed.
    pub async fn ingest(&self, workspace_id: Id, channel_id: Id, items: Vec<InboundItem>) -> StoreResult<IngestReport> {
        let (reply, answer) = oneshot::channel();
        let pending = Pending { workspace_id, channel_id, items, reply };
        self.queue.send(pending).await.map_err(|_| StoreError::Database("the committer has stopped".into()))?;
        answer.await.map_err(|_| StoreError::Database("the committer stopped before committing".into()))?
    }
}

async fn run(store: Arc<dyn Store>, rx: Arc<Mutex<mpsc::Receiver<Pending>>>) {
    loop {
        let mut batch = Vec::new();
        {
            // One task at a time takes what is waiting; the others commit meanwhile.
            let mut rx = rx.lock().await;
            match rx.recv().await {
                Some(first) => batch.push(first),
                None => return,
            }
            while batch.len() < MAX_BATCH {
                match rx.try_recv() {
                    Ok(next) => batch.push(next),
                    Err(_) => break,
                }
            }
        }
        commit(store.as_ref(), batch).await;
    }
}

async fn commit(store: &dyn Store, batch: Vec<Pending>) {
    metrics::histogram!("switchboard_ingest_batch_size").record(batch.len() as f64);
    if batch.len() > 1 {
        let deliveries: Vec<Delivery<'_>> = batch
            .iter()
            .map(|p| Delivery { workspace_id: p.workspace_id, channel_id: p.channel_id, items: &p.items })
            .collect();
        match store.ingest_many(&deliveries).await {
            Ok(reports) => {
                for (pending, report) in batch.into_iter().zip(reports) {
                    let _ = pending.reply.send(Ok(report));
                }
                return;
            }
            // Nothing of the batch was written. Each delivery now commits alone, so one that fails (or a
            // transient conflict) cannot fail the others.
            Err(e) => tracing::debug!(error = %e, size = batch.len(), "group commit failed; committing one by one"),
        }
    }
    for pending in batch {
        let result = ingest_one(store, pending.workspace_id, pending.channel_id, &pending.items).await;
        let _ = pending.reply.send(result);
    }
}

/// One delivery in its own transaction, retried when a concurrent delivery created the same contact or
/// conversation first (possible on PostgreSQL; SQLite has one writer).
async fn ingest_one(store: &dyn Store, ws: Id, channel: Id, items: &[InboundItem]) -> StoreResult<IngestReport> {
    let mut attempt = 0;
    loop {
        attempt += 1;
        match store.ingest(ws, channel, items).await {
            Err(StoreError::Conflict { code: "already_exists", .. }) if attempt < 3 => {
                tracing::debug!(channel, "a concurrent delivery created the same rows; retrying");
            }
            other => return other,
        }
    }
}
