//! The job worker: claims due jobs from the durable jobs table, runs the handler registered for the
//! job's kind, and records the outcome: done, retried later with exponential backoff, or failed.
//!
//! A claim is a lease: a worker that dies mid-job leaves the job `running` with a `locked_until` in the
//! past, and the next claim takes it over. Handlers must therefore be safe to run twice.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use chrono::Utc;

use crate::app::App;
use crate::model::{Job, Timestamp};

/// How a job attempt ended badly.
#[derive(Debug, Clone)]
pub enum JobError {
    /// Worth another attempt later (network error, provider busy).
    Transient(String),
    /// Will never succeed; fail now without using up the remaining attempts.
    Permanent(String),
}

impl std::fmt::Display for JobError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Transient(m) => write!(f, "{m}"),
            Self::Permanent(m) => write!(f, "permanent: {m}"),
        }
    }
}

/// Code that runs jobs of one kind.
#[async_trait]
pub trait JobHandler: Send + Sync {
    async fn run(&self, app: &App, job: &Job) -> Result<(), JobError>;
}

/// The handlers by job kind. Jobs of kinds with no handler stay queued until one is registered.
#[derive(Clone, Default)]
pub struct JobRegistry {
    handlers: HashMap<String, Arc<dyn JobHandler>>,
}

impl JobRegistry {
    pub fn register(&mut self, kind: impl Into<String>, handler: Arc<dyn JobHandler>) {
        self.handlers.insert(kind.into(), handler);
    }

    pub fn is_empty(&self) -> bool {
        self.handlers.is_empty()
    }

    pub fn kinds(&self) -> Vec<String> {
        let mut kinds: Vec<String> = self.handlers.keys().cloned().collect();
        kinds.sort();
        kinds
    }

    fn get(&self, kind: &str) -> Option<&Arc<dyn JobHandler>> {
        self.handlers.get(kind)
    }
}

/// The delay before retry number `attempt` (1-based): base × 2^(attempt−1), capped.
pub fn backoff(attempt: u32, base_ms: u64, max_ms: u64) -> Duration {
    let factor = 1u64.checked_shl(attempt.saturating_sub(1)).unwrap_or(u64::MAX);
    Duration::from_millis(base_ms.saturating_mul(factor).min(max_ms))
}

/// Runs jobs until told to stop.
pub struct Worker {
    app: Arc<App>,
}

impl Worker {
    pub fn new(app: Arc<App>) -> Self {
        Self { app }
    }

    /// Claims and runs one due job; returns whether there was one.
    pub async fn run_once(&self) -> anyhow::Result<bool> {
        self.run_once_at(Utc::now()).await
    }

    /// [`Worker::run_once`] with the clock given, so tests can step time instead of sleeping.
    pub async fn run_once_at(&self, now: Timestamp) -> anyhow::Result<bool> {
        let cfg = &self.app.config.jobs;
        let lease = now + chrono::Duration::seconds(i64::try_from(cfg.lease_seconds).unwrap_or(i64::MAX / 1000));
        let Some(job) = self.app.store.claim_job(&self.app.jobs.kinds(), now, lease).await? else {
            return Ok(false);
        };
        let result = match self.app.jobs.get(&job.kind) {
            Some(handler) => handler.run(&self.app, &job).await,
            None => Err(JobError::Permanent(format!("no handler for job kind {}", job.kind))),
        };
        match result {
            Ok(()) => {
                self.app.store.complete_job(job.id, now).await?;
                metrics::counter!("switchboard_jobs_total", "kind" => job.kind.clone(), "outcome" => "done")
                    .increment(1);
            }
            Err(err) => {
                let retry_at = match &err {
                    JobError::Transient(_) if job.attempts < job.max_attempts => {
                        let delay = backoff(job.attempts, cfg.backoff_base_ms, cfg.backoff_max_ms);
                        Some(now + chrono::Duration::from_std(delay).unwrap_or_default())
                    }
                    _ => None,
                };
                let outcome = if retry_at.is_some() { "retry" } else { "failed" };
                tracing::warn!(job = job.id, kind = %job.kind, attempt = job.attempts, error = %err, outcome, "job attempt failed");
                self.app.store.fail_job(job.id, &err.to_string(), retry_at, now).await?;
                metrics::counter!("switchboard_jobs_total", "kind" => job.kind.clone(), "outcome" => outcome)
                    .increment(1);
            }
        }
        Ok(true)
    }

    /// Loops over [`Worker::run_once`], sleeping `poll_interval_ms` when idle, until `stop` turns true.
    pub async fn run(self, mut stop: tokio::sync::watch::Receiver<bool>) {
        let idle = Duration::from_millis(self.app.config.jobs.poll_interval_ms);
        loop {
            if *stop.borrow() {
                return;
            }
            let pause = match self.run_once().await {
                Ok(true) => Duration::ZERO,
                Ok(false) => idle,
                Err(e) => {
                    tracing::error!(error = %e, "job worker error");
                    idle
                }
            };
            if !pause.is_zero() {
                tokio::select! {
                    _ = tokio::time::sleep(pause) => {}
                    _ = stop.changed() => {}
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_and_caps() {
        assert_eq!(backoff(1, 1000, 60_000), Duration::from_millis(1000));
        assert_eq!(backoff(2, 1000, 60_000), Duration::from_millis(2000));
        assert_eq!(backoff(4, 1000, 60_000), Duration::from_millis(8000));
        assert_eq!(backoff(30, 1000, 60_000), Duration::from_millis(60_000));
        assert_eq!(backoff(200, 1000, 60_000), Duration::from_millis(60_000));
    }
}
