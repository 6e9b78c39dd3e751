//! The job worker: retries with exponential backoff, records failures, takes over jobs whose worker
//! died, and runs in the background of a real server.

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};

use async_trait::async_trait;
use chrono::{Duration, Utc};
use serde_json::json;
use switchboard::App;
use switchboard::jobs::{JobError, JobHandler, JobRegistry, Worker};
use switchboard::model::{Job, JobStatus, NewJob, PageRequest, ts_from_ms};
use switchboard_tests::{Backend, TestDb, both_backends};

/// Fails the way it is told and counts its runs.
struct Scripted {
    runs: AtomicU32,
    fail: Option<JobError>,
    done: Option<tokio::sync::mpsc::UnboundedSender<i64>>,
}

#[async_trait]
impl JobHandler for Scripted {
    async fn run(&self, _app: &App, job: &Job) -> Result<(), JobError> {
        self.runs.fetch_add(1, Ordering::SeqCst);
        if let Some(tx) = &self.done {
            let _ = tx.send(job.id);
        }
        match &self.fail {
            Some(e) => Err(e.clone()),
            None => Ok(()),
        }
    }
}

fn handler(fail: Option<JobError>) -> Arc<Scripted> {
    Arc::new(Scripted { runs: AtomicU32::new(0), fail, done: None })
}

fn job(kind: &str, max_attempts: u32) -> NewJob {
    NewJob { workspace_id: None, kind: kind.into(), payload: json!({}), run_at: Utc::now(), max_attempts }
}

async fn retries_with_backoff_then_fails(backend: Backend) {
    let mut db = TestDb::new(backend).await;
    db.config.jobs.backoff_base_ms = 60_000;
    db.config.jobs.backoff_max_ms = 3_600_000;
    let flaky = handler(Some(JobError::Transient("provider answered 503".into())));
    let fatal = handler(Some(JobError::Permanent("bad credentials".into())));
    let mut jobs = JobRegistry::default();
    jobs.register("flaky", flaky.clone());
    jobs.register("fatal", fatal.clone());
    let app = db.app_with(jobs).await;
    let worker = Worker::new(app.clone());
    let j = app.store.enqueue_job(&job("flaky", 3)).await.expect("enqueue");

    // Stored times have millisecond precision.
    let t0 = ts_from_ms(Utc::now().timestamp_millis());
    assert!(worker.run_once_at(t0).await.expect("run"));
    let after1 = app.store.get_job(j.id).await.expect("job");
    assert_eq!((after1.status, after1.attempts), (JobStatus::Queued, 1));
    assert_eq!(after1.last_error.as_deref(), Some("provider answered 503"));
    assert_eq!((after1.run_at - t0).num_seconds(), 60, "first retry after the base delay");
    // Not before its time.
    assert!(!worker.run_once_at(t0 + Duration::seconds(59)).await.expect("run"));
    let t1 = t0 + Duration::seconds(60);
    assert!(worker.run_once_at(t1).await.expect("run"));
    let after2 = app.store.get_job(j.id).await.expect("job");
    assert_eq!(after2.attempts, 2);
    assert_eq!((after2.run_at - t1).num_seconds(), 120, "the delay doubles");
    let t2 = t1 + Duration::seconds(120);
    assert!(worker.run_once_at(t2).await.expect("run"));
    let dead = app.store.get_job(j.id).await.expect("job");
    assert_eq!((dead.status, dead.attempts), (JobStatus::Failed, 3), "recorded as failed after its last attempt");
    assert_eq!(dead.last_error.as_deref(), Some("provider answered 503"));
    assert_eq!(flaky.runs.load(Ordering::SeqCst), 3);
    assert!(!worker.run_once_at(t2 + Duration::days(1)).await.expect("run"), "a failed job is not retried by itself");
    let failed = app.store.list_jobs(Some(JobStatus::Failed), &PageRequest::default()).await.expect("list");
    assert_eq!(failed.items.len(), 1);

    // A permanent error fails at once, keeping the remaining attempts unused.
    let p = app.store.enqueue_job(&job("fatal", 5)).await.expect("enqueue");
    assert!(worker.run_once_at(Utc::now()).await.expect("run"));
    let p = app.store.get_job(p.id).await.expect("job");
    assert_eq!((p.status, p.attempts), (JobStatus::Failed, 1));
    assert_eq!(p.last_error.as_deref(), Some("permanent: bad credentials"));
    drop(app);
    db.cleanup().await;
}
both_backends!(backoff_and_failure, retries_with_backoff_then_fails);

async fn crashed_worker_job_is_taken_over(backend: Backend) {
    let db = TestDb::new(backend).await;
    let ok = handler(None);
    let mut jobs = JobRegistry::default();
    jobs.register("send", ok.clone());
    let app = db.app_with(jobs).await;
    let j = app.store.enqueue_job(&job("send", 5)).await.expect("enqueue");
    // A worker claims the job and dies before finishing it.
    let t0 = Utc::now();
    let lease = Duration::seconds(i64::try_from(app.config.jobs.lease_seconds).expect("lease"));
    let claimed = app.store.claim_job(&["send".into()], t0, t0 + lease).await.expect("claim").expect("job");
    assert_eq!(claimed.status, JobStatus::Running);
    let worker = Worker::new(app.clone());
    assert!(!worker.run_once_at(t0 + lease - Duration::seconds(1)).await.expect("run"), "still leased");
    assert!(worker.run_once_at(t0 + lease + Duration::seconds(1)).await.expect("run"), "lease expired: taken over");
    let done = app.store.get_job(j.id).await.expect("job");
    assert_eq!((done.status, done.attempts), (JobStatus::Done, 2));
    assert_eq!(ok.runs.load(Ordering::SeqCst), 1);
    drop(app);
    db.cleanup().await;
}
both_backends!(crash_recovery, crashed_worker_job_is_taken_over);

async fn background_worker_runs_jobs(backend: Backend) {
    let mut db = TestDb::new(backend).await;
    db.config.jobs.enabled = true;
    db.config.jobs.poll_interval_ms = 20;
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let mut jobs = JobRegistry::default();
    jobs.register("notify", Arc::new(Scripted { runs: AtomicU32::new(0), fail: None, done: Some(tx) }));
    let app = db.app_with(jobs).await;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(switchboard::run(app.clone(), listener, async {
        let _ = stopped.await;
    }));
    let j = app.store.enqueue_job(&job("notify", 3)).await.expect("enqueue");
    let ran =
        tokio::time::timeout(std::time::Duration::from_secs(30), rx.recv()).await.expect("the worker ran the job");
    assert_eq!(ran, Some(j.id));
    let _ = stop.send(());
    server.await.expect("join").expect("server stops cleanly");
    assert_eq!(app.store.get_job(j.id).await.expect("job").status, JobStatus::Done);
    drop(app);
    db.cleanup().await;
}
both_backends!(background_worker, background_worker_runs_jobs);
