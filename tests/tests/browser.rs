//! The website chat in a real headless Chromium: a visitor page on another origin loads `/widget.js`,
//! the visitor writes, the team sees the message through the API, an agent's reply appears on the page
//! without a reload, and the conversation is still there after one. The browser side is driven by
//! `tests/browser/widget-visitor.mjs` (playwright-core), line by line over its stdin and stdout.
//!
//! Needs Chromium (`/usr/bin/chromium` or `$CHROMIUM`) and `npm ci --prefix tests/browser`; `.ci/run`
//! installs both. Without them the test is skipped with a notice, except under CI (`CI` set), where it fails.

use std::path::PathBuf;
use std::process::Stdio;
use std::time::Duration;

use reqwest::StatusCode;
use serde_json::json;
use switchboard_tests::{Backend, TestServer};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).parent().expect("repo root").to_path_buf()
}

/// What is missing to drive a browser here, if anything.
fn missing() -> Option<String> {
    let chromium = std::env::var("CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".into());
    if !std::path::Path::new(&chromium).exists() {
        return Some(format!("Chromium at {chromium} (apt-get install chromium)"));
    }
    if !repo().join("tests/browser/node_modules/playwright-core").is_dir() {
        return Some("playwright-core (npm ci --prefix tests/browser)".into());
    }
    if std::process::Command::new("node").arg("--version").output().is_err() {
        return Some("Node.js".into());
    }
    None
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_visitor_chats_with_an_agent_in_a_real_browser() {
    if let Some(what) = missing() {
        assert!(std::env::var_os("CI").is_none(), "the browser test needs {what}");
        eprintln!("skipped: the browser test needs {what}");
        return;
    }
    let s = TestServer::start(Backend::Sqlite).await;
    let (status, channel) = s
        .post("/api/v1/channels", json!({"name": "Website", "plugin_id": "webchat", "config": {"prechat": "optional"}}))
        .await;
    assert_eq!(status, StatusCode::CREATED, "{channel}");
    let chat = channel["id"].as_i64().expect("id");

    let mut driver = tokio::process::Command::new("node")
        .current_dir(repo())
        .args(["tests/browser/widget-visitor.mjs", "--base", &s.base, "--channel", &chat.to_string()])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("start node");
    let mut stdin = driver.stdin.take().expect("stdin");
    let mut lines = BufReader::new(driver.stdout.take().expect("stdout")).lines();
    let mut next = async || {
        let line = tokio::time::timeout(Duration::from_secs(60), lines.next_line()).await;
        line.expect("the browser driver answers within 60 s").expect("read").expect("the driver exited early")
    };

    assert_eq!(next().await, "SENT");
    // The team sees the visitor, named from the pre-chat form, and the message.
    let conv = s.get("/api/v1/conversations").await.1["items"][0].clone();
    let conv_id = conv["id"].as_i64().expect("a conversation was opened");
    let contact = s.get(&format!("/api/v1/contacts/{}", conv["contact_id"])).await.1;
    assert_eq!(contact["first_name"], "Vera", "{contact}");
    assert_eq!(contact["email"], "vera@example.test", "{contact}");
    let messages = s.get(&format!("/api/v1/conversations/{conv_id}/messages")).await.1["items"].clone();
    assert_eq!(messages[0]["content"], json!({"type": "text", "text": "Hello from the browser"}), "{messages}");

    // The agent replies through the API; the page shows it without a reload.
    let reply = json!({"content": {"type": "text", "text": "Hi Vera, how can I help?"}});
    let (status, sent) = s.post(&format!("/api/v1/conversations/{conv_id}/messages"), reply).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{sent}");
    stdin.write_all(b"EXPECT Hi Vera, how can I help?\n").await.expect("write");
    stdin.flush().await.expect("flush");
    assert_eq!(next().await, "SEEN");
    assert_eq!(next().await, "PERSISTED");
    let exit = tokio::time::timeout(Duration::from_secs(20), driver.wait()).await.expect("driver exits").expect("wait");
    assert!(exit.success(), "driver: {exit}");
    s.stop().await;
}
