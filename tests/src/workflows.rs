//! Driving workflows in tests: the trigger reader and the workflow jobs run by the test itself, so every
//! step is deterministic; publishing through the API; reading runs and their logs.

use chrono::{Duration, Utc};
use reqwest::StatusCode;
use serde_json::{Value, json};
use switchboard::jobs::JobHandler;
use switchboard::model::{Job, PageRequest, Timestamp, WORKFLOW_RUN_JOB};
use switchboard::service::workflows::{engine::RunStep, triggers};
use switchboard::store::RunFilter;

use crate::TestServer;
use crate::inbox::{example_channel, id, ids, incoming};

/// Claims the next due workflow job as of `now`.
pub async fn claim(s: &TestServer, now: Timestamp) -> Option<Job> {
    let kinds = [WORKFLOW_RUN_JOB.to_owned()];
    s.app.store.claim_job(&kinds, now, now + Duration::minutes(5)).await.expect("claim")
}

/// Every step the workspace's runs committed so far.
pub async fn steps_taken(s: &TestServer) -> i64 {
    let page = PageRequest { after: None, limit: 200 };
    let runs = s.app.store.list_runs(s.workspace_id, RunFilter::default(), &page).await.expect("runs");
    runs.items.iter().map(|r| r.step_seq).sum()
}

/// Reads the triggers and runs every workflow job due by `now`, until none is left; returns the number of
/// steps the runs took meanwhile.
pub async fn drive_at(s: &TestServer, now: Timestamp) -> i64 {
    let before = steps_taken(s).await;
    let mut jobs = 0;
    loop {
        triggers::poll(&s.app).await.expect("trigger reader");
        // Steps queue their next step as of the real clock: due at once unless they wait.
        let at = now.max(Utc::now());
        let Some(job) = claim(s, at).await else { return steps_taken(s).await - before };
        RunStep::default().run(&s.app, &job).await.expect("workflow step");
        s.app.store.complete_job(job.id, at).await.expect("complete");
        jobs += 1;
        assert!(jobs < 500, "a workflow that never stops");
    }
}

pub async fn drive(s: &TestServer) -> i64 {
    drive_at(s, Utc::now()).await
}

/// Saves and publishes a workflow; returns its id.
pub async fn publish(s: &TestServer, name: &str, definition: Value) -> i64 {
    let (status, created) = s.post("/api/v1/workflows", json!({"name": name, "definition": definition})).await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    assert_eq!(created["problems"], json!([]), "{created}");
    let wf = id(&created);
    let (status, published) = s.post(&format!("/api/v1/workflows/{wf}/publish"), json!({})).await;
    assert_eq!(status, StatusCode::OK, "{published}");
    wf
}

/// The workflow's runs, newest first.
pub async fn runs(s: &TestServer, workflow: i64) -> Vec<Value> {
    let (status, page) = s.get(&format!("/api/v1/workflows/{workflow}/runs")).await;
    assert_eq!(status, StatusCode::OK, "{page}");
    page["items"].as_array().expect("items").clone()
}

/// A run with its log.
pub async fn run_log(s: &TestServer, run: i64) -> Value {
    let (status, run) = s.get(&format!("/api/v1/workflow-runs/{run}")).await;
    assert_eq!(status, StatusCode::OK, "{run}");
    run
}

/// `(step_id, branch)` of each logged step.
pub fn path(run: &Value) -> Vec<(String, Value)> {
    run["steps"]
        .as_array()
        .expect("steps")
        .iter()
        .map(|s| (s["step_id"].as_str().unwrap_or_default().to_owned(), s["branch"].clone()))
        .collect()
}

pub async fn contact(s: &TestServer, id: i64) -> Value {
    s.get(&format!("/api/v1/contacts/{id}")).await.1
}

/// The contact who wrote "hello" on a new example channel, with their open conversation.
pub async fn writer(s: &TestServer, from: &str) -> (i64, i64, i64) {
    let channel = example_channel(s, &format!("channel {from}")).await;
    incoming(s, channel, from, "hello").await;
    let conversation = ids(s, &s.token, "").await[0];
    let (_, c) = s.get(&format!("/api/v1/conversations/{conversation}")).await;
    (channel, c["contact_id"].as_i64().expect("contact"), conversation)
}

/// The texts of a conversation's messages, oldest first.
pub async fn texts(s: &TestServer, conversation: i64) -> Vec<String> {
    let (_, page) = s.get(&format!("/api/v1/conversations/{conversation}/messages?limit=100")).await;
    let mut texts: Vec<String> = page["items"]
        .as_array()
        .expect("items")
        .iter()
        .map(|m| m["content"]["text"].as_str().unwrap_or_default().to_owned())
        .collect();
    texts.reverse();
    texts
}
