//! Workflow runs across SIGKILL with the real binary: runs are started, the server is killed while they
//! wait (on a wait step, then on a question) and restarted each time; every run then finishes, and every
//! step that sends a message sent exactly one.

use std::path::Path;
use std::process::Child;
use std::time::{Duration, Instant};

use common::run;
use serde_json::{Value, json};

mod common;

const CONTACTS: usize = 30;

/// Starts `serve` with the job worker on, once its plugins are loaded; returns it with its base URL.
async fn serve(dir: &Path) -> (Child, String) {
    let (server, addr) = common::serve(
        dir,
        &[
            ("SWITCHBOARD_JOBS__ENABLED", "true"),
            ("SWITCHBOARD_JOBS__POLL_INTERVAL_MS", "50"),
            // A job its killed worker held is taken over once its lease ends: short here, so the test need
            // not wait the default five minutes when the kill lands in the middle of one.
            ("SWITCHBOARD_JOBS__LEASE_SECONDS", "3"),
        ],
    );
    let base = format!("http://{addr}");
    let client = reqwest::Client::new();
    while !client.get(format!("{base}/readyz")).send().await.is_ok_and(|r| r.status().is_success()) {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    (server, base)
}

fn kill(mut server: Child) {
    server.kill().expect("SIGKILL");
    server.wait().expect("reap");
}

struct Api {
    client: reqwest::Client,
    base: String,
    token: String,
}

impl Api {
    async fn call(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> Value {
        let mut req = self.client.request(method, format!("{}{path}", self.base)).bearer_auth(&self.token);
        if let Some(body) = body {
            req = req.json(&body);
        }
        let resp = req.send().await.expect("request");
        let status = resp.status();
        let body: Value = resp.json().await.unwrap_or(Value::Null);
        assert!(status.is_success(), "{path}: {status} {body}");
        body
    }

    /// A message from contact `from` through the example channel's webhook.
    async fn incoming(&self, channel: i64, from: &str, id: &str, text: &str) {
        let resp = self
            .client
            .post(format!("{}/webhooks/{channel}", self.base))
            .header("x-example-secret", "s")
            .json(&json!({"from": from, "id": id, "text": text}))
            .send()
            .await
            .expect("webhook");
        assert!(resp.status().is_success(), "webhook: {}", resp.status());
    }

    /// The workflow's runs once `done` holds for all of them (a test failure after 60 s).
    async fn runs_once(&self, workflow: i64, what: &str, done: impl Fn(&Value) -> bool) -> Vec<Value> {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let page =
                self.call(reqwest::Method::GET, &format!("/api/v1/workflows/{workflow}/runs?limit=200"), None).await;
            let runs = page["items"].as_array().cloned().unwrap_or_default();
            if runs.len() == CONTACTS && runs.iter().all(&done) {
                return runs;
            }
            assert!(Instant::now() < deadline, "runs never got {what}: {runs:?}");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn runs_continue_exactly_once_across_sigkill() {
    let dir = tempfile::tempdir().expect("tempdir");
    let d = dir.path();
    run(d, &["init", "--workspace", "Crash", "--email", "owner@crash.test", "--password", "correct-horse"]);
    let token = run(d, &["token", "create", "--email", "owner@crash.test", "--name", "crash"]);
    let token = token.lines().last().expect("token").trim().to_owned();
    let (server, base) = serve(d).await;
    let api = Api { client: reqwest::Client::new(), base, token };
    // Sends go to a port where nothing answers (the plugin host refuses loopback anyway): the messages
    // fail, which is not what this test is about; what it counts is the messages the workflow wrote.
    let channel = api
        .call(
            reqwest::Method::POST,
            "/api/v1/channels",
            Some(json!({"name": "Example", "plugin_id": "example-channel",
                        "config": {"base_url": "http://127.0.0.1:9"}, "secrets": {"shared_secret": "s"}})),
        )
        .await;
    let channel = channel["id"].as_i64().expect("channel id");
    for i in 0..CONTACTS {
        api.incoming(channel, &format!("c{i}"), &format!("hello-{i}"), "hello").await;
    }
    let definition = json!({"trigger": {"type": "manual"}, "steps": [
        {"id": "one", "type": "send_message", "text": "step one"},
        {"id": "pause", "type": "wait", "seconds": 2},
        {"id": "two", "type": "send_message", "text": "step two"},
        {"id": "ask", "type": "ask_question", "text": "question?", "answer": {"type": "text"},
         "save_to": {"variable": "answer"}},
        {"id": "thanks", "type": "send_message", "text": "thanks: $variables.answer"}
    ]});
    let created = api
        .call(reqwest::Method::POST, "/api/v1/workflows", Some(json!({"name": "Survey", "definition": definition})))
        .await;
    let wf = created["id"].as_i64().expect("workflow id");
    api.call(reqwest::Method::POST, &format!("/api/v1/workflows/{wf}/publish"), Some(json!({}))).await;
    let contacts = api.call(reqwest::Method::GET, "/api/v1/contacts?limit=200", None).await;
    let contact_ids: Vec<i64> =
        contacts["items"].as_array().expect("contacts").iter().filter_map(|c| c["id"].as_i64()).collect();
    assert_eq!(contact_ids.len(), CONTACTS);
    for contact in &contact_ids {
        api.call(reqwest::Method::POST, &format!("/api/v1/workflows/{wf}/runs"), Some(json!({"contact_id": contact})))
            .await;
    }

    // Killed while the runs wait on the wait step (or are still on their way to it).
    tokio::time::sleep(Duration::from_millis(700)).await;
    kill(server);
    let (server, base) = serve(d).await;
    let api = Api { base, ..api };
    // After the restart the waits end and every run comes to its question; killed again there.
    api.runs_once(wf, "to the question", |r| r["awaiting_answer"] == true).await;
    kill(server);
    let (server, base) = serve(d).await;
    let api = Api { base, ..api };
    for i in 0..CONTACTS {
        api.incoming(channel, &format!("c{i}"), &format!("answer-{i}"), &format!("answer {i}")).await;
    }
    let runs = api.runs_once(wf, "completed", |r| r["status"] == "completed").await;
    kill(server);

    // Exactly one message per sending step, in order, for every contact.
    let url = format!("sqlite://{}?mode=ro", d.join("data/switchboard.db").display());
    let pool = sqlx::SqlitePool::connect(&url).await.expect("open the database");
    for run in &runs {
        let contact = run["contact_id"].as_i64().expect("contact");
        let texts: Vec<String> = sqlx::query_scalar(
            "SELECT content FROM messages WHERE contact_id = $1 AND sender_kind = 'workflow' ORDER BY id",
        )
        .bind(contact)
        .fetch_all(&pool)
        .await
        .expect("messages");
        let texts: Vec<String> = texts
            .iter()
            .map(|c| serde_json::from_str::<Value>(c).expect("content")["text"].as_str().unwrap_or_default().to_owned())
            .collect();
        let answer = &run["variables"]["answer"];
        let expected = [
            "step one".to_owned(),
            "step two".to_owned(),
            "question?".to_owned(),
            format!("thanks: {}", answer.as_str().unwrap_or_default()),
        ];
        assert_eq!(texts, expected, "contact {contact}");
        let steps: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM workflow_run_steps WHERE run_id = $1")
            .bind(run["id"].as_i64().expect("run id"))
            .fetch_one(&pool)
            .await
            .expect("steps");
        assert_eq!(steps, 6, "one, pause, two, ask, the answer, thanks");
    }
    pool.close().await;
}
