//! Workflow throughput (bench/workflows.sh): CONTACTS contacts get a tag that triggers a workflow (send a
//! message → wait 1 s → ask a question); the server's own trigger reader and job worker run it. Prints the
//! steps committed per second, the lag from each tag to its run's first step (p50 / p99), and a baseline
//! measured in the same run: plain one-transaction store changes per second (tagging contacts), since a
//! step is one transaction too.
//!
//! `cargo run --release --example workflow_bench -- [CONTACTS] [DATABASE_URL]` (SQLite in a temporary
//! directory by default). Sends are not delivered: only the workflow job runs, so the messages stay pending.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::Utc;
use serde_json::json;
use switchboard::app::App;
use switchboard::config::Config;
use switchboard::jobs::{JobRegistry, Worker};
use switchboard::model::*;
use switchboard::service::accounts::{self, InitRequest};
use switchboard::store::{Delivery, RunFilter};

fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    sorted[((sorted.len() - 1) as f64 * p).round() as usize]
}

#[tokio::main]
async fn main() {
    let contacts: usize = std::env::args().nth(1).and_then(|n| n.parse().ok()).unwrap_or(10_000);
    let dir = tempfile::tempdir().expect("tempdir");
    let mut config = Config { data_dir: dir.path().to_path_buf(), ..Default::default() };
    if let Some(url) = std::env::args().nth(2) {
        config.database.url = url;
    }
    config.jobs.poll_interval_ms = 20;
    config.search.enabled = false;
    let mut jobs = JobRegistry::default();
    jobs.register(WORKFLOW_RUN_JOB, Arc::new(switchboard::service::workflows::engine::RunStep::default()));
    let app = App::open_with(config, jobs).await.expect("open");
    let (_, ws, _) = accounts::init(
        &app,
        InitRequest {
            organisation: Some("Bench".into()),
            workspace: "Bench".into(),
            email: "owner@bench.test".into(),
            name: None,
            password: "bench-password".into(),
        },
    )
    .await
    .expect("init");
    let ws = ws.id;
    let channel = app
        .store
        .create_channel(
            ws,
            &ChannelFields {
                name: "Bench".into(),
                plugin_id: "example-channel".into(),
                config: json!({}),
                secret_names: vec![],
                secrets_sealed: String::new(),
                enabled: true,
            },
            Actor::system(),
        )
        .await
        .expect("channel");

    // Contacts who wrote once on the channel (so the workflow can write back).
    let started = Instant::now();
    let mut ids = Vec::with_capacity(contacts);
    for chunk in (0..contacts).collect::<Vec<_>>().chunks(500) {
        let items: Vec<Vec<InboundItem>> = chunk
            .iter()
            .map(|i| {
                vec![InboundItem::Message {
                    external_id: format!("c{i}"),
                    profile: ContactFields { first_name: Some(format!("Contact {i}")), ..Default::default() },
                    provider_message_id: format!("m{i}"),
                    content: MessageContent::text("hello"),
                }]
            })
            .collect();
        let deliveries: Vec<Delivery<'_>> =
            items.iter().map(|items| Delivery { workspace_id: ws, channel_id: channel.id, items }).collect();
        app.store.ingest_many(&deliveries).await.expect("ingest");
    }
    for i in 0..contacts {
        let contact = app.store.find_contact_by_identity(ws, channel.id, &format!("c{i}")).await.expect("find");
        ids.push(contact.expect("contact").id);
    }
    eprintln!("{contacts} contacts in {:.1} s", started.elapsed().as_secs_f64());

    // Baseline: one-transaction store changes, one after the other.
    let sample = contacts.min(2_000);
    let t = Instant::now();
    for id in &ids[..sample] {
        app.store.add_contact_tags(ws, *id, &["baseline".to_owned()], Actor::system()).await.expect("tag");
    }
    let baseline = sample as f64 / t.elapsed().as_secs_f64();

    let definition: Definition = serde_json::from_value(json!({
        "trigger": {"type": "contact_tag_updated", "tags": ["go"], "action": "added"},
        "steps": [
            {"id": "hello", "type": "send_message", "text": "Hi $contact.first_name"},
            {"id": "pause", "type": "wait", "seconds": 1},
            {"id": "ask", "type": "ask_question", "text": "How can we help?", "answer": {"type": "text"},
             "save_to": {"variable": "need"}}
        ]
    }))
    .expect("definition");
    let raw = serde_json::to_value(&definition).expect("json");
    let workflow = app.store.create_workflow(ws, "Bench", &raw, Actor::system()).await.expect("create");
    app.store.publish_workflow(ws, workflow.id, &definition, Actor::system()).await.expect("publish");

    // The server's background work: the trigger reader and the job worker.
    let (stop, stop_rx) = tokio::sync::watch::channel(false);
    let reader = tokio::spawn(switchboard::service::workflows::triggers::run(app.clone(), stop_rx.clone()));
    let worker = tokio::spawn(Worker::new(app.clone()).run(stop_rx));

    let t0 = Instant::now();
    let mut tagged_at: HashMap<Id, chrono::DateTime<Utc>> = HashMap::new();
    for id in &ids {
        app.store.add_contact_tags(ws, *id, &["go".to_owned()], Actor::system()).await.expect("tag");
        tagged_at.insert(*id, Utc::now());
        app.changed();
    }
    let tagging = t0.elapsed().as_secs_f64();
    // Until every run waits at its question.
    let runs = loop {
        let mut all = Vec::new();
        let mut page = PageRequest { after: None, limit: 200 };
        loop {
            let got = app
                .store
                .list_runs(ws, RunFilter { workflow_id: Some(workflow.id), contact_id: None }, &page)
                .await
                .expect("runs");
            all.extend(got.items);
            match got.next_cursor.and_then(|c| Cursor::decode(&c)) {
                Some(after) => page.after = Some(after),
                None => break,
            }
        }
        if all.len() == contacts && all.iter().all(|r| r.awaiting_answer) {
            break all;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    let elapsed = t0.elapsed().as_secs_f64();
    let _ = stop.send(true);
    let _ = reader.await;
    let _ = worker.await;

    let mut lags = Vec::with_capacity(runs.len());
    let mut steps = 0usize;
    for run in &runs {
        let log = app.store.run_steps(ws, run.id).await.expect("log");
        steps += log.len();
        if let (Some(first), Some(tagged)) = (log.first(), tagged_at.get(&run.contact_id)) {
            lags.push((first.created_at - *tagged).num_milliseconds() as f64);
        }
    }
    lags.sort_by(f64::total_cmp);
    let rate = steps as f64 / elapsed;
    println!("backend: {}", app.store.backend());
    println!("contacts: {contacts}; steps committed: {steps} (send, wait, ask per run)");
    println!("tagging all contacts took {tagging:.1} s; every run at its question after {elapsed:.1} s");
    println!("workflow steps/s: {rate:.0}");
    println!("baseline (one-transaction tag changes/s, same store): {baseline:.0}");
    println!("ratio: {:.2}", rate / baseline);
    println!("lag tag → first step: p50 {:.0} ms, p99 {:.0} ms", percentile(&lags, 0.5), percentile(&lags, 0.99));
    app.store.close().await;
}
