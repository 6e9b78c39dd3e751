//! Durable background jobs: outbound sends, retries, timers, deliveries.

use serde::Serialize;
use utoipa::ToSchema;

use chrono::{DateTime, Utc};

use super::Id;

/// The job kind that delivers a pending outgoing message through its channel's plugin; enqueued by the
/// store in the same transaction as the message.
pub const SEND_MESSAGE_JOB: &str = "message.send";

/// The auto-close timer of a conversation (payload `{"conversation_id", "replied_at"}`), started by a human
/// agent's reply when the workspace has auto-close on.
pub const AUTO_CLOSE_JOB: &str = "conversation.auto_close";

/// The auto-close periods a workspace may set, in minutes: 30 minutes to 14 days.
pub const AUTO_CLOSE_MINUTES: std::ops::RangeInclusive<u32> = 30..=20_160;
/// Attempts of a `message.send` job before the message is given up.
pub const SEND_MESSAGE_MAX_ATTEMPTS: u32 = 8;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum JobStatus {
    /// Waiting for `run_at`, or for a retry.
    Queued,
    /// Claimed by a worker until `locked_until`; after that another worker may take it over.
    Running,
    Done,
    /// Gave up after its last attempt (or a permanent error); `last_error` says why.
    Failed,
}

impl JobStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Queued => "queued",
            Self::Running => "running",
            Self::Done => "done",
            Self::Failed => "failed",
        }
    }
    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "queued" => Self::Queued,
            "running" => Self::Running,
            "done" => Self::Done,
            "failed" => Self::Failed,
            _ => return None,
        })
    }
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Job {
    pub id: Id,
    pub workspace_id: Option<Id>,
    pub kind: String,
    #[schema(value_type = Object)]
    pub payload: serde_json::Value,
    pub status: JobStatus,
    pub run_at: DateTime<Utc>,
    /// Attempts started so far (including the running one).
    pub attempts: u32,
    pub max_attempts: u32,
    pub locked_until: Option<DateTime<Utc>>,
    pub last_error: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// A job to enqueue.
#[derive(Debug, Clone)]
pub struct NewJob {
    pub workspace_id: Option<Id>,
    pub kind: String,
    pub payload: serde_json::Value,
    pub run_at: DateTime<Utc>,
    pub max_attempts: u32,
}

/// The job that writes a workspace export (payload `{"export_id"}`).
pub const EXPORT_JOB: &str = "workspace.export";

/// A workspace export: conversations opened in a date range, written to a file by a background job.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct WorkspaceExport {
    pub id: Id,
    /// `json` (one JSON object per conversation and line) or `csv` (one row per timeline entry).
    pub format: String,
    pub opened_from: DateTime<Utc>,
    pub opened_to: DateTime<Utc>,
    /// `queued`, `running`, `done` or `failed`.
    pub status: String,
    /// Conversations to write, once counted.
    pub total: u64,
    /// Conversations written so far.
    pub done: u64,
    /// Size of the file when done.
    pub bytes: u64,
    pub error: Option<String>,
    pub requested_by: Option<Id>,
    pub created_at: DateTime<Utc>,
    pub finished_at: Option<DateTime<Utc>>,
    /// Where to download the file once `done`.
    pub download_url: Option<String>,
}
