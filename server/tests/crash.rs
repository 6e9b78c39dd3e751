//! Crash safety of the inbound path with the real binary: signed WhatsApp webhooks are posted concurrently,
//! the server is killed with SIGKILL mid-run and restarted; every delivery that was answered 200 is in the
//! database, and replaying every delivery (twice) adds nothing beyond one message per delivery.

mod common;

#[path = "../examples/loadgen.rs"]
#[allow(dead_code)]
mod loadgen;

use std::collections::HashSet;
use std::path::Path;
use std::process::Child;

use common::run;

const APP_SECRET: &str = "crash-test-secret";

/// Starts `serve`; no background jobs: nothing here may reach outside loopback (the template sync would).
fn serve(dir: &Path) -> (Child, String) {
    common::serve(dir, &[("SWITCHBOARD_JOBS__ENABLED", "false")])
}

async fn stored_ids(dir: &Path) -> Vec<String> {
    let url = format!("sqlite://{}?mode=ro", dir.join("data/switchboard.db").display());
    let pool = sqlx::SqlitePool::connect(&url).await.expect("open the database");
    let ids: Vec<String> = sqlx::query_scalar("SELECT provider_message_id FROM messages WHERE direction = 'incoming'")
        .fetch_all(&pool)
        .await
        .expect("read messages");
    pool.close().await;
    ids
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn acknowledged_deliveries_survive_sigkill_and_replays_add_nothing() {
    let dir = tempfile::tempdir().expect("tempdir");
    let d = dir.path();
    run(d, &["init", "--workspace", "Crash", "--email", "owner@crash.test", "--password", "correct-horse"]);
    let token = run(d, &["token", "create", "--email", "owner@crash.test", "--name", "crash"]);
    let token = token.lines().last().expect("token").trim().to_owned();

    let (mut server, addr) = serve(d);
    let client = reqwest::Client::new();
    // Ready once the bundled plugins are loaded (the first start compiles them).
    while !client.get(format!("http://{addr}/readyz")).send().await.is_ok_and(|r| r.status().is_success()) {
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    let channel: serde_json::Value = client
        .post(format!("http://{addr}/api/v1/channels"))
        .bearer_auth(&token)
        .json(&serde_json::json!({"name": "WhatsApp", "plugin_id": "whatsapp-cloud",
            "config": {"phone_number_id": "1122334455667", "business_account_id": "1"},
            "secrets": {"access_token": "t", "app_secret": APP_SECRET, "verify_token": "v"}}))
        .send()
        .await
        .expect("create channel")
        .json()
        .await
        .expect("json");
    let channel_id = channel["id"].as_i64().unwrap_or_else(|| panic!("{channel}"));

    // Deliveries go out concurrently; the server is killed while they do.
    let deliveries = loadgen::deliveries(3000, APP_SECRET, "crash");
    let url = format!("http://{addr}/webhooks/{channel_id}");
    let acks = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let load = {
        let (url, deliveries, acks) = (url.clone(), deliveries.clone(), acks.clone());
        tokio::spawn(async move { loadgen::post_all(&url, &deliveries, 32, acks).await })
    };
    // Killed mid-run: once a few hundred deliveries were acknowledged (and many more are in flight).
    while acks.load(std::sync::atomic::Ordering::Relaxed) < 300 {
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    }
    server.kill().expect("SIGKILL");
    server.wait().expect("reap");
    let acked = load.await.expect("load generator");
    let acked_ids: Vec<&str> =
        deliveries.iter().zip(&acked).filter(|(_, ok)| **ok).map(|(d, _)| d.message_id.as_str()).collect();
    assert!(!acked_ids.is_empty(), "nothing was acknowledged before the kill");
    assert!(acked_ids.len() < deliveries.len(), "the kill came after the last delivery; post more");

    // After a restart, every acknowledged delivery is there.
    let (mut server, addr) = serve(d);
    while !client.get(format!("http://{addr}/readyz")).send().await.is_ok_and(|r| r.status().is_success()) {
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    let stored: HashSet<String> = stored_ids(d).await.into_iter().collect();
    let lost: Vec<&&str> = acked_ids.iter().filter(|id| !stored.contains(**id)).collect();
    assert!(lost.is_empty(), "{} acknowledged deliveries were lost, e.g. {:?}", lost.len(), lost.first());

    // The provider retries everything: one message per delivery, no matter how often it arrives.
    let url = format!("http://{addr}/webhooks/{channel_id}");
    for round in 0..2 {
        let acked = loadgen::post_all(&url, &deliveries, 32, std::sync::Arc::default()).await;
        assert!(acked.iter().all(|ok| *ok), "round {round}: every replayed delivery is answered 200");
        let ids = stored_ids(d).await;
        let distinct: HashSet<&String> = ids.iter().collect();
        assert_eq!((ids.len(), distinct.len()), (deliveries.len(), deliveries.len()), "round {round}");
    }
    server.kill().expect("stop");
    let _ = server.wait();
}
