//! The web pages in a real headless Chromium, each driven by a script in `tests/browser/` (playwright-core)
//! line by line over its stdin and stdout:
//! - the agent app (`agent-app.mjs`): log in, a WhatsApp message arriving live, a reply whose ticks follow
//!   the provider's receipts, assigning to a team, a comment mentioning a teammate who finds it under
//!   Mentions, the contact panel, pinning, a lost connection caught up after it is back, the Arabic layout (a
//!   refusal read in Arabic too), closing with a note and quick search, a new
//!   conversation with a template; screenshots of the main screens go to `target/browser-artifacts/`;
//! - the website chat (`widget-visitor.mjs`): a visitor page on another origin loads `/widget.js`, the
//!   visitor writes, the team sees the message through the API, an agent's reply appears on the page
//!   without a reload, and the conversation is still there after one, and on the shop's Arabic page (the
//!   widget in Arabic, right to left).
//!
//! Needs Chromium (`/usr/bin/chromium` or `$CHROMIUM`) and `npm ci --prefix tests/browser`; `.ci/run`
//! installs both. Without them the test is skipped with a notice, except under CI (`CI` set), where it fails.

use std::path::PathBuf;
use std::process::Stdio;
use std::time::Duration;

use reqwest::StatusCode;
use serde_json::{Value, json};
use switchboard::model::{ContactFields, InboundItem, MessageContent};
use switchboard_tests::providers::{fixture, meta_signature, post_webhook, server_with};
use switchboard_tests::{Backend, FakeProvider, TestServer};
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

/// Whether this machine can drive a browser; without one the test is skipped with a notice, except under CI.
fn browser_ready() -> bool {
    match missing() {
        None => true,
        Some(what) => {
            assert!(std::env::var_os("CI").is_none(), "the browser test needs {what}");
            eprintln!("skipped: the browser test needs {what}");
            false
        }
    }
}

/// A driver script, spoken to line by line.
struct Driver {
    child: tokio::process::Child,
    stdin: tokio::process::ChildStdin,
    lines: tokio::io::Lines<BufReader<tokio::process::ChildStdout>>,
}

impl Driver {
    fn spawn(script: &str, args: &[&str]) -> Self {
        let mut child = tokio::process::Command::new("node")
            .current_dir(repo())
            .arg(format!("tests/browser/{script}"))
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .expect("start node");
        let stdin = child.stdin.take().expect("stdin");
        let lines = BufReader::new(child.stdout.take().expect("stdout")).lines();
        Self { child, stdin, lines }
    }

    /// The driver's next answer.
    async fn next(&mut self) -> String {
        let line = tokio::time::timeout(Duration::from_secs(60), self.lines.next_line()).await;
        line.expect("the browser driver answers within 60 s").expect("read").expect("the driver exited early")
    }

    async fn send(&mut self, command: &str) {
        self.stdin.write_all(format!("{command}\n").as_bytes()).await.expect("write");
        self.stdin.flush().await.expect("flush");
    }

    async fn exits_cleanly(mut self) {
        let exit =
            tokio::time::timeout(Duration::from_secs(20), self.child.wait()).await.expect("exits").expect("wait");
        assert!(exit.success(), "driver: {exit}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_visitor_chats_with_an_agent_in_a_real_browser() {
    if !browser_ready() {
        return;
    }
    let s = TestServer::start(Backend::Sqlite).await;
    let (status, channel) = s
        .post("/api/v1/channels", json!({"name": "Website", "plugin_id": "webchat", "config": {"prechat": "optional"}}))
        .await;
    assert_eq!(status, StatusCode::CREATED, "{channel}");
    let chat = channel["id"].as_i64().expect("id");

    let mut driver = Driver::spawn("widget-visitor.mjs", &["--base", &s.base, "--channel", &chat.to_string()]);
    assert_eq!(driver.next().await, "SENT");
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
    driver.send("EXPECT Hi Vera, how can I help?").await;
    assert_eq!(driver.next().await, "SEEN");
    assert_eq!(driver.next().await, "PERSISTED");
    assert_eq!(driver.next().await, "ARABIC", "the widget on an Arabic page");
    driver.exits_cleanly().await;
    s.stop().await;
}

const WA_FIXTURES: &str = "plugins/whatsapp-cloud/tests/fixtures";
const APP_SECRET: &str = "app-secret-1";

/// Posts a WhatsApp fixture, signed as Meta signs it.
async fn whatsapp(s: &TestServer, channel: i64, body: &str) {
    let signature = meta_signature(APP_SECRET, body);
    let headers = [("x-hub-signature-256", signature.as_str()), ("content-type", "application/json")];
    let (status, answer) = post_webhook(s, channel, &headers, body).await;
    assert_eq!(status, StatusCode::OK, "{answer}");
}

/// The text fixture as another message: its id, text and (optionally) another sender.
fn inbound(id: &str, text: &str, from: Option<(&str, &str)>) -> String {
    let mut body = fixture(&format!("{WA_FIXTURES}/inbound_text.json"))
        .replace("wamid.xyzxyz", id)
        .replace("\"Body Text\"", &serde_json::to_string(text).expect("json"));
    if let Some((number, name)) = from {
        body = body.replace("972987654321", number).replace("Test Name", name);
    }
    body
}

const GRAPH_MESSAGES: &str = "/v21.0/1122334455667/messages";

/// The first message the fake Graph API received that `wanted` accepts, waiting up to 20 s for it.
async fn graph_message(provider: &FakeProvider, wanted: impl Fn(&Value) -> bool) -> Value {
    let found = async {
        loop {
            let hit =
                provider.requests().into_iter().filter(|r| r.path == GRAPH_MESSAGES).map(|r| r.json()).find(&wanted);
            if let Some(body) = hit {
                return body;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    };
    tokio::time::timeout(Duration::from_secs(20), found).await.expect("the message reaches the provider")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_agent_works_the_inbox_in_the_web_app() {
    if !browser_ready() {
        return;
    }
    let provider = FakeProvider::start().await;
    // The reply gets the id the status fixtures refer to, so the receipts move it forward.
    provider.answer(
        GRAPH_MESSAGES,
        200,
        json!({"messaging_product": "whatsapp", "contacts": [{"input": "972987654321", "wa_id": "972987654321"}],
               "messages": [{"id": "wamid.xyzxyz"}]}),
    );
    provider.answer(
        "/v21.0/5467539754836534/message_templates",
        200,
        json!({"data": [
            {"name": "order_update", "language": "en_US", "category": "UTILITY", "status": "APPROVED", "id": "1",
             "components": [{"type": "BODY", "text": "Your order {{1}} has shipped"}]},
            {"name": "delivery_photo", "language": "en_US", "category": "UTILITY", "status": "APPROVED", "id": "2",
             "components": [{"type": "HEADER", "format": "IMAGE"}, {"type": "BODY", "text": "Hi {{1}}, here it is"},
                            {"type": "BUTTONS", "buttons": [{"type": "URL", "text": "Track",
                                                             "url": "https://shop.example/track/{{1}}"}]}]}]}),
    );
    let s = server_with(Backend::Sqlite, "whatsapp-cloud", &provider, |c| {
        c.jobs.enabled = true;
        c.jobs.poll_interval_ms = 50;
        c.search.enabled = true;
        c.search.poll_interval_ms = 50;
    })
    .await;
    let (status, channel) = s
        .post(
            "/api/v1/channels",
            json!({"name": "WhatsApp", "plugin_id": "whatsapp-cloud",
                   "config": {"phone_number_id": "1122334455667", "business_account_id": "5467539754836534",
                              "graph_base_url": provider.base(), "api_version": "v21.0"},
                   "secrets": {"access_token": "EAAG-token", "app_secret": APP_SECRET, "verify_token": "v"}}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{channel}");
    let ch = channel["id"].as_i64().expect("id");
    let (_, team) = s.post("/api/v1/teams", json!({"name": "Billing"})).await;
    let team = team["id"].as_i64().expect("team id");
    // A team with a long name, as real ones have: the assignee list is as wide as its longest entry, and
    // the conversation's actions must still fit a phone's screen.
    let (status, _) = s.post("/api/v1/teams", json!({"name": "Customer Success and Renewals (EMEA weekends)"})).await;
    assert_eq!(status, StatusCode::CREATED);
    // And one long name without a space or a hyphen, which must wrap inside the sidebar and the settings rows.
    let (status, _) = s
        .post(
            "/api/v1/teams",
            json!({"name": "EnterpriseRenewalsTeamForEuropeMiddleEastAfricaAndAsiaPacificWeekendAndHolidayCoverage"}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED);
    let agent = json!({"email": "adam@acme.test", "name": "Adam Agent", "password": "adam-password", "role": "agent"});
    let (status, agent) = s.post("/api/v1/users", agent).await;
    assert_eq!(status, StatusCode::CREATED, "{agent}");
    let thanks = "Thank you for your patience!";
    let (status, snippet) = s.post("/api/v1/snippets", json!({"shortcut": "thanks", "body": thanks})).await;
    assert_eq!(status, StatusCode::CREATED, "{snippet}");
    // The channel's template sync (a job) has run before the browser needs the template.
    let synced = async {
        while s.get("/api/v1/templates").await.1["items"].as_array().is_none_or(Vec::is_empty) {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    };
    tokio::time::timeout(Duration::from_secs(20), synced).await.expect("the templates are synced");

    let artifacts = repo().join("target/browser-artifacts/agent-app");
    let artifacts = artifacts.to_str().expect("utf-8 path");
    let args = [
        "--base",
        &s.base,
        "--email",
        "owner@acme.test",
        "--password",
        "owner-password",
        "--agent-email",
        "adam@acme.test",
        "--agent-password",
        "adam-password",
        "--artifacts",
        artifacts,
    ];
    let mut driver = Driver::spawn("agent-app.mjs", &args);
    assert_eq!(driver.next().await, "LOGGED_IN");

    let question = "Hello, is my order on its way?";
    whatsapp(&s, ch, &inbound("wamid.inbound-1", question, None)).await;
    driver.send(&format!("EXPECT_INBOUND {question}")).await;
    let seen = driver.next().await;
    let conversation = s.get("/api/v1/conversations").await.1["items"][0]["id"].as_i64().expect("a conversation");
    assert_eq!(seen, format!("SEEN_INBOUND {conversation}"));

    // The reply typed in the browser reaches the provider as WhatsApp's text message.
    let answer = "Yes, it ships today";
    driver.send(&format!("REPLY {answer}")).await;
    assert_eq!(driver.next().await, "REPLIED");
    let sent = graph_message(&provider, |b| b["type"] == "text").await;
    assert_eq!(sent["text"], json!({"body": answer}), "{sent}");
    assert_eq!(sent["to"], "972987654321", "{sent}");
    // Wait for the worker to record the provider's id, then the receipts arrive.
    let recorded = async {
        loop {
            let messages = s.get(&format!("/api/v1/conversations/{conversation}/messages")).await.1;
            if messages["items"][0]["status"] == "sent" {
                return;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    };
    tokio::time::timeout(Duration::from_secs(20), recorded).await.expect("the reply is sent");
    for receipt in ["status_delivered", "status_read"] {
        whatsapp(&s, ch, &fixture(&format!("{WA_FIXTURES}/{receipt}.json"))).await;
    }
    driver.send("EXPECT_READ").await;
    assert_eq!(driver.next().await, "READ");

    driver.send("SNIPPET_AND_FILE thanks").await;
    assert_eq!(driver.next().await, format!("CAPTION {thanks}"), "the snippet's text is in the composer");
    assert_eq!(driver.next().await, "SENT_FILE");
    let image = graph_message(&provider, |b| b["type"] == "image").await;
    assert_eq!(image["image"]["caption"], thanks, "{image}");
    assert!(image["image"]["link"].as_str().is_some_and(|l| l.contains("/media/")), "{image}");

    driver.send(&format!("TEAM {team}")).await;
    assert_eq!(driver.next().await, "IN_TEAM");
    assert_eq!(s.get(&format!("/api/v1/conversations/{conversation}")).await.1["team_id"], team);

    driver.send("MENTION Adam Agent").await;
    assert_eq!(driver.next().await, "MENTIONED");
    let comments = s.get(&format!("/api/v1/conversations/{conversation}/comments")).await.1;
    assert_eq!(
        (comments["items"][0]["body"].clone(), comments["items"][0]["mentions"].clone()),
        (json!("@Adam Agent please check the invoice"), json!([agent["id"]])),
        "{comments}"
    );

    driver.send("CONTACT").await;
    assert_eq!(driver.next().await, "CONTACT_SAVED");
    let detail = s.get(&format!("/api/v1/conversations/{conversation}")).await.1;
    assert_eq!(
        (detail["contact"]["lifecycle_stage"].clone(), detail["contact"]["tags"].clone()),
        (json!("customer"), json!(["vip"])),
        "{detail}"
    );

    let other = "Do you deliver to Dubai?";
    whatsapp(&s, ch, &inbound("wamid.inbound-2", other, Some(("971501234567", "Second Customer")))).await;
    driver.send(&format!("PIN_OLDER {other}")).await;
    assert_eq!(driver.next().await, "PINNED");
    assert_eq!(s.get(&format!("/api/v1/conversations/{conversation}")).await.1["pinned"], true);

    driver.send("OFFLINE").await;
    assert_eq!(driver.next().await, "OFFLINE");
    let missed = "Are you still there?";
    whatsapp(&s, ch, &inbound("wamid.inbound-3", missed, Some(("971501234567", "Second Customer")))).await;
    driver.send(&format!("ONLINE {missed}")).await;
    assert_eq!(driver.next().await, "CAUGHT_UP");

    driver.send("ARABIC").await;
    assert_eq!(driver.next().await, "RTL");
    assert_eq!(s.get("/api/v1/auth/me").await.1["user"]["language"], "ar", "the choice is kept for the user");

    // More tags than one page of the API holds: the tag added through the page comes after all of them,
    // and the settings list shows it (the app reads every page).
    for i in 0..200 {
        let (status, _) = s.post("/api/v1/tags", json!({"name": format!("bulk-{i:03}")})).await;
        assert_eq!(status, StatusCode::CREATED);
    }
    driver.send("SETTINGS returning").await;
    assert_eq!(driver.next().await, "SETTINGS_DONE");
    let (mut names, mut cursor) = (Vec::new(), String::new());
    loop {
        let page = s.get(&format!("/api/v1/tags?limit=200&cursor={cursor}")).await.1;
        names.extend(page["items"].as_array().expect("tags").iter().map(|t| t["name"].clone()));
        let Some(next) = page["next_cursor"].as_str() else { break };
        cursor = next.to_owned();
    }
    assert_eq!(names.len(), 202, "vip, 200 bulk tags and the one added through the page");
    assert_eq!(names.last(), Some(&json!("returning")));
    let switches = s.app.store.plugin_switches().await.expect("switches");
    assert_eq!(switches, vec![("telegram".to_owned(), true)], "switched off and back on from the plugins page");

    // A workflow built in the browser, published, and run for the customer: the question goes out and the
    // run waits for the answer; the browser shows the run and its log.
    driver.send("WORKFLOW Ask for feedback").await;
    assert_eq!(driver.next().await, "PUBLISHED");
    let workflows = s.get("/api/v1/workflows").await.1;
    let built = workflows["items"].as_array().and_then(|l| l.iter().find(|w| w["name"] == "Ask for feedback")).cloned();
    let built = built.unwrap_or_else(|| panic!("no workflow from the builder in {workflows}"));
    assert_eq!(built["status"], "published");
    assert_eq!(
        built["definition"]["steps"],
        json!([
            {"id": "ask_question-1", "type": "ask_question", "text": "Did we help?",
             "answer": {"type": "multiple_choice", "options": ["Yes", "No"]}, "save_to": {"variable": "answer"}},
            {"id": "send_message-1", "type": "send_message", "text": "Thanks $variables.answer"}
        ]),
        "{built}"
    );
    let contact = s.get(&format!("/api/v1/conversations/{conversation}")).await.1["contact_id"].clone();
    let (status, run) =
        s.post(&format!("/api/v1/workflows/{}/runs", built["id"]), json!({"contact_id": contact})).await;
    assert_eq!(status, StatusCode::CREATED, "{run}");
    let asked =
        graph_message(&provider, |b| b["text"]["body"].as_str().is_some_and(|t| t.starts_with("Did we help?"))).await;
    assert_eq!(asked["to"], "972987654321", "{asked}");
    driver.send("RUNS").await;
    assert_eq!(driver.next().await, "RUN_SEEN");

    driver.send("CLOSE_AND_FIND Test Name").await;
    assert_eq!(driver.next().await, "FOUND_CLOSED");
    let closed = s.get(&format!("/api/v1/conversations/{conversation}")).await.1;
    assert_eq!(
        (closed["status"].clone(), closed["closing_summary"].clone()),
        (json!("closed"), json!("Order shipped, customer informed")),
        "{closed}"
    );

    driver.send("NEW_CONVERSATION A-1001").await;
    assert_eq!(driver.next().await, "STARTED");
    let body = graph_message(&provider, |b| b["type"] == "template").await;
    assert_eq!(
        (
            body["to"].clone(),
            body["template"]["name"].clone(),
            body["template"]["components"][0]["parameters"][0]["text"].clone()
        ),
        (json!("971507654321"), json!("order_update"), json!("A-1001")),
        "{body}"
    );
    driver.send("TEMPLATE_WITH_MEDIA https://cdn.example/parcel.jpg TRK42").await;
    assert_eq!(driver.next().await, "TEMPLATE_SENT");
    let body = graph_message(&provider, |b| b["template"]["name"] == "delivery_photo").await;
    let components = body["template"]["components"].to_string();
    for part in ["https://cdn.example/parcel.jpg", "Nadia", "TRK42"] {
        assert!(components.contains(part), "{part} missing from {body}");
    }

    // 205 messages from one contact in one delivery's worth of ingest.
    let items: Vec<InboundItem> = (1..=205)
        .map(|i| InboundItem::Message {
            external_id: "971509999999".into(),
            profile: ContactFields { first_name: Some("History Person".into()), ..Default::default() },
            provider_message_id: format!("wamid.history-{i}"),
            content: MessageContent::text(format!("history {i}")),
        })
        .collect();
    s.app.store.ingest(s.workspace_id, ch, &items).await.expect("ingest");
    s.app.changed();
    driver.send("EARLIER history 205").await;
    assert_eq!(driver.next().await, "EARLIER_LOADED");

    // An e-mail channel's message (its subject and sanitised HTML ride in the text content).
    let mail = InboundItem::Message {
        external_id: "971508888888".into(),
        profile: ContactFields { first_name: Some("Mail Person".into()), ..Default::default() },
        provider_message_id: "invoice-1@example.test".into(),
        content: MessageContent::Text {
            text: "Please see below".into(),
            subject: Some("Invoice question".into()),
            html: Some("<p>Please see <b>below</b></p>".into()),
        },
    };
    s.app.store.ingest(s.workspace_id, ch, &[mail]).await.expect("ingest");
    s.app.changed();
    driver.send("EXPECT_MAIL Please see below|Invoice question").await;
    assert_eq!(driver.next().await, "MAIL_SHOWN");
    assert_eq!(driver.next().await, "DONE");
    driver.exits_cleanly().await;
    s.stop().await;
}
