//! Auto-close after inactivity: a human agent's reply starts (or resets) a timer in the jobs table; when it
//! ends, the conversation closes unless the contact answered in the meantime, a later reply started a newer
//! timer, or the conversation was closed or reopened since.

use async_trait::async_trait;
use chrono::{TimeZone, Utc};

use crate::app::App;
use crate::jobs::{JobError, JobHandler};
use crate::model::*;

/// The handler of `conversation.auto_close` jobs.
pub struct AutoClose;

#[async_trait]
impl JobHandler for AutoClose {
    async fn run(&self, app: &App, job: &Job) -> Result<(), JobError> {
        let ws = job.workspace_id.ok_or_else(|| JobError::Permanent("an auto-close job without a workspace".into()))?;
        let (Some(id), Some(replied_at)) =
            (job.payload["conversation_id"].as_i64(), job.payload["replied_at"].as_i64())
        else {
            return Err(JobError::Permanent("an auto-close job without conversation_id and replied_at".into()));
        };
        let replied_at = Utc.timestamp_millis_opt(replied_at).single().unwrap_or_default();
        let transient = |e: crate::store::StoreError| JobError::Transient(e.to_string());
        let conversation = match app.store.get_conversation(ws, id).await {
            Ok(c) => c,
            Err(crate::store::StoreError::NotFound(_)) => return Ok(()),
            Err(e) => return Err(transient(e)),
        };
        let still_due = conversation.status == ConversationStatus::Open
            // Reopened after the reply: a new period, started by the next reply.
            && conversation.opened_at <= replied_at
            // The contact answered: cancelled.
            && conversation.last_incoming_at.is_none_or(|at| at <= replied_at)
            // A later reply started its own timer.
            && app.store.last_human_reply_at(ws, id).await.map_err(transient)?.is_none_or(|at| at <= replied_at);
        if !still_due {
            return Ok(());
        }
        let close = CloseRequest { category_id: None, summary: None };
        match app.store.close_conversation(ws, id, &close, Actor::system()).await {
            Ok(_) => {
                app.changed();
                metrics::counter!("switchboard_conversations_auto_closed_total").increment(1);
                Ok(())
            }
            // Closed by someone else in the meantime.
            Err(crate::store::StoreError::Conflict { .. }) => Ok(()),
            Err(e) => Err(transient(e)),
        }
    }
}
