//! Tools around the inbox through the API: a conversation's export (JSON, CSV, transcript), workspace exports
//! in the background, auto-close timers, snippet search and message variables, generated data, and starting
//! a new conversation with a template — on SQLite and PostgreSQL.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use switchboard_tests::inbox::*;
use switchboard_tests::{Backend, TestServer, assert_error, both_backends};

async fn export_formats(backend: Backend) {
    let s = TestServer::start(backend).await;
    let (agent_id, _) = s.user("agent@acme.test", "agent").await;
    assert_eq!(s.patch("/api/v1/workspace", json!({"timezone": "Asia/Dubai"})).await.0, StatusCode::OK);
    let (_, category) = s.post("/api/v1/closing-categories", json!({"name": "Resolved"})).await;
    let channel = example_channel(&s, "A").await;
    incoming(&s, channel, "971500000001", "hello, my order is late").await;
    let conv = ids(&s, &s.token, "").await[0];
    let reply = json!({"content": {"type": "text", "text": "Sorry!\nChecking now"}});
    assert_eq!(s.post(&format!("/api/v1/conversations/{conv}/messages"), reply).await.0, StatusCode::ACCEPTED);
    let comment = json!({"body": "courier, again", "mentions": [agent_id]});
    assert_eq!(s.post(&format!("/api/v1/conversations/{conv}/comments"), comment).await.0, StatusCode::CREATED);
    let assign = json!({"user_id": agent_id});
    assert_eq!(s.post(&format!("/api/v1/conversations/{conv}/assign"), assign).await.0, StatusCode::OK);
    let close = json!({"category_id": id(&category), "summary": "refunded"});
    assert_eq!(s.post(&format!("/api/v1/conversations/{conv}/close"), close).await.0, StatusCode::OK);

    let (status, content_type, disposition, body) =
        download(&s, &format!("/api/v1/conversations/{conv}/export?format=json")).await;
    assert_eq!((status, content_type.as_str()), (StatusCode::OK, "application/json"));
    assert_eq!(disposition, format!("attachment; filename=\"conversation-{conv}.json\""));
    let full: Value = serde_json::from_str(&body).expect("JSON export");
    let texts: Vec<_> =
        full["messages"].as_array().expect("messages").iter().map(|m| m["content"]["text"].clone()).collect();
    assert_eq!(texts, [json!("hello, my order is late"), json!("Sorry!\nChecking now")], "oldest first");
    assert_eq!(full["comments"][0]["body"], "courier, again");
    assert_eq!(full["assignments"][0]["to_user_id"], json!(agent_id));
    assert_eq!(full["closing_note"], json!({"category": "Resolved", "summary": "refunded"}));
    assert_eq!(
        (full["contact"]["first_name"].clone(), full["complete"].clone()),
        (json!("Contact 971500000001"), json!(true))
    );

    let (status, content_type, _, body) =
        download(&s, &format!("/api/v1/conversations/{conv}/export?format=csv")).await;
    assert_eq!((status, content_type.as_str()), (StatusCode::OK, "text/csv; charset=utf-8"));
    let mut reader = csv::Reader::from_reader(body.as_bytes());
    assert_eq!(
        reader.headers().expect("header").iter().collect::<Vec<_>>(),
        ["time", "type", "author", "text", "status"]
    );
    let rows: Vec<csv::StringRecord> = reader.records().map(|r| r.expect("row")).collect();
    let kinds: Vec<_> = rows.iter().map(|r| r[1].to_owned()).collect();
    assert_eq!(kinds, ["opened", "incoming", "outgoing", "comment", "assignment", "closed"], "{body}");
    assert_eq!(&rows[2][3], "Sorry!\nChecking now", "a multi-line text stays one field");
    assert!(rows[0][0].ends_with("+04"), "times in the workspace's time zone: {body}");
    assert_eq!((&rows[0][2], &rows[3][2]), ("Contact 971500000001", "Olivia Owner"));

    let (status, _, _, text) = download(&s, &format!("/api/v1/conversations/{conv}/export?format=text")).await;
    assert_eq!(status, StatusCode::OK);
    for line in [
        format!("Conversation {conv} with Contact 971500000001"),
        "Closing note: Resolved — refunded".to_owned(),
        "Contact 971500000001: hello, my order is late".to_owned(),
        "Olivia Owner: Sorry!\n    Checking now [".to_owned(),
        "(comment) Olivia Owner: courier, again".to_owned(),
        "(assignment) Olivia Owner: assigned to agent@acme.test (no team)".to_owned(),
        "(closed) Olivia Owner: closed the conversation: Resolved — refunded".to_owned(),
    ] {
        assert!(text.contains(&line), "missing {line:?} in:\n{text}");
    }
    assert!(text.lines().nth(4).is_some_and(|l| l.starts_with('[') && l.contains(" +04]")), "{text}");
    let bad = s.get(&format!("/api/v1/conversations/{conv}/export?format=pdf")).await;
    assert_error(&bad, 422, "validation_failed");
    assert_eq!(bad.1["error"]["field"], "format");
    assert_error(&s.get("/api/v1/conversations/424242/export").await, 404, "not_found");
    s.stop().await;
}
both_backends!(export, export_formats);

async fn workspace_export(backend: Backend) {
    // The server's own job worker writes the files.
    let s = TestServer::start_with(backend, |c| {
        c.jobs.enabled = true;
        c.jobs.poll_interval_ms = 50;
    })
    .await;
    let (_, agent) = s.user("agent@acme.test", "agent").await;
    let channel = example_channel(&s, "A").await;
    for from in ["1", "2", "3"] {
        incoming(&s, channel, from, "سلام, hello").await;
    }
    let now = chrono::Utc::now();
    let range = |format: &str, from: chrono::DateTime<chrono::Utc>, to: chrono::DateTime<chrono::Utc>| json!({"format": format, "from": from.to_rfc3339(), "to": to.to_rfc3339()});
    let hour = chrono::Duration::hours(1);
    let by_agent =
        s.call(Method::POST, "/api/v1/exports", Some(&agent), Some(range("json", now - hour, now + hour))).await;
    assert_error(&by_agent, 403, "forbidden");
    assert_error(&s.post("/api/v1/exports", range("json", now, now - hour)).await, 422, "validation_failed");
    let long = s.post("/api/v1/exports", range("json", now - chrono::Duration::days(400), now)).await;
    assert_eq!(long.1["error"]["field"], "to");
    assert_error(&s.post("/api/v1/exports", range("xml", now - hour, now)).await, 422, "validation_failed");

    // Runs in the background (the server's job worker); followed by polling.
    let wait = |export: i64| {
        let s = &s;
        async move {
            for _ in 0..200 {
                let (_, e) = s.get(&format!("/api/v1/exports/{export}")).await;
                if e["status"] == "done" || e["status"] == "failed" {
                    return e;
                }
                tokio::time::sleep(std::time::Duration::from_millis(100)).await;
            }
            panic!("export {export} did not finish");
        }
    };
    let (status, json_export) = s.post("/api/v1/exports", range("json", now - hour, now + hour)).await;
    assert_eq!((status, json_export["status"].clone()), (StatusCode::ACCEPTED, json!("queued")));
    let done = wait(id(&json_export)).await;
    assert_eq!(
        (done["status"].clone(), done["total"].clone(), done["done"].clone()),
        (json!("done"), json!(3), json!(3)),
        "{done}"
    );
    let url = done["download_url"].as_str().expect("download url").to_owned();
    let (status, content_type, disposition, body) = download(&s, &url).await;
    assert_eq!((status, content_type.as_str()), (StatusCode::OK, "application/x-ndjson"));
    assert!(disposition.contains(".jsonl"), "{disposition}");
    assert_eq!(done["bytes"], json!(body.len()));
    let lines: Vec<Value> = body.lines().map(|l| serde_json::from_str(l).expect("a JSON line")).collect();
    assert_eq!(lines.len(), 3);
    assert!(lines.iter().all(|l| l["messages"][0]["content"]["text"] == "سلام, hello"), "{body}");

    let (_, csv_export) = s.post("/api/v1/exports", range("csv", now - hour, now + hour)).await;
    let done = wait(id(&csv_export)).await;
    let (_, _, _, body) = download(&s, done["download_url"].as_str().expect("url")).await;
    let mut reader = csv::Reader::from_reader(body.as_bytes());
    assert_eq!(reader.headers().expect("header").get(0), Some("conversation_id"));
    let kinds: Vec<String> = reader.records().map(|r| r.expect("row")[2].to_owned()).collect();
    assert_eq!(kinds, ["opened", "incoming", "opened", "incoming", "opened", "incoming"], "{body}");

    let (_, empty) = s.post("/api/v1/exports", range("csv", now - hour * 48, now - hour * 24)).await;
    let done = wait(id(&empty)).await;
    assert_eq!((done["status"].clone(), done["total"].clone()), (json!("done"), json!(0)));
    let (_, list) = s.get("/api/v1/exports").await;
    assert_eq!(list.as_array().map(Vec::len), Some(3));
    assert_error(&s.get("/api/v1/exports/424242/download").await, 404, "not_found");
    s.stop().await;
}
both_backends!(workspace_exports, workspace_export);

/// The queued auto-close timers of a conversation, oldest first.
async fn timers(s: &TestServer, conversation: i64) -> Vec<switchboard::model::Job> {
    use switchboard::model::{AUTO_CLOSE_JOB, JobStatus, PageRequest};
    let page = PageRequest { after: None, limit: 200 };
    let jobs = s.app.store.list_jobs(Some(JobStatus::Queued), &page).await.expect("jobs").items;
    let mut mine: Vec<_> = jobs
        .into_iter()
        .filter(|j| j.kind == AUTO_CLOSE_JOB && j.payload["conversation_id"] == json!(conversation))
        .collect();
    mine.sort_by_key(|j| j.id);
    mine
}

/// Runs a timer now, as the worker would when it is due.
async fn fire(s: &TestServer, job: &switchboard::model::Job) {
    use switchboard::jobs::JobHandler;
    switchboard::service::auto_close::AutoClose.run(&s.app, job).await.expect("auto-close job");
}

async fn status_of(s: &TestServer, conversation: i64) -> Value {
    let (_, c) = s.get(&format!("/api/v1/conversations/{conversation}")).await;
    json!([c["status"], c["closed_by"]])
}

async fn reply(s: &TestServer, conversation: i64) {
    let body = json!({"content": {"type": "text", "text": "Anything else?"}});
    let (status, sent) = s.post(&format!("/api/v1/conversations/{conversation}/messages"), body).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{sent}");
}

async fn auto_close(backend: Backend) {
    let s = TestServer::start(backend).await;
    for bad in [json!(29), json!(20_161), json!(-5), json!("soon")] {
        let got = s.patch("/api/v1/workspace", json!({"auto_close_minutes": bad})).await;
        assert_eq!(got.0.as_u16(), 422, "{bad}: {}", got.1);
    }
    let ch = example_channel(&s, "A").await;

    // Off by default: replies start no timer.
    incoming(&s, ch, "1", "hi").await;
    let off = ids(&s, &s.token, "").await[0];
    reply(&s, off).await;
    assert!(timers(&s, off).await.is_empty());

    let (status, ws) = s.patch("/api/v1/workspace", json!({"auto_close_minutes": 60})).await;
    assert_eq!((status, ws["auto_close_minutes"].clone()), (StatusCode::OK, json!(60)));

    // A reply starts the timer; with no answer from the contact, the conversation closes by itself.
    incoming(&s, ch, "2", "hi").await;
    let quiet = ids(&s, &s.token, "").await[0];
    reply(&s, quiet).await;
    let started = timers(&s, quiet).await;
    assert_eq!(started.len(), 1);
    let due_in = started[0].run_at - started[0].created_at;
    assert_eq!(due_in.num_minutes(), 60, "due when the period ends");
    fire(&s, &started[0]).await;
    assert_eq!(status_of(&s, quiet).await, json!(["closed", {"kind": "system", "id": null}]));

    // The contact answers before the period ends: cancelled.
    incoming(&s, ch, "3", "hi").await;
    let answered = ids(&s, &s.token, "status=open").await[0];
    reply(&s, answered).await;
    tokio::time::sleep(std::time::Duration::from_millis(3)).await;
    incoming(&s, ch, "3", "thanks, one more thing").await;
    fire(&s, &timers(&s, answered).await[0]).await;
    assert_eq!(status_of(&s, answered).await, json!(["open", null]));

    // A second reply resets the timer: the first one does nothing, the second closes.
    tokio::time::sleep(std::time::Duration::from_millis(3)).await;
    reply(&s, answered).await;
    tokio::time::sleep(std::time::Duration::from_millis(3)).await;
    reply(&s, answered).await;
    let both = timers(&s, answered).await;
    assert_eq!(both.len(), 3, "one per reply");
    fire(&s, &both[1]).await;
    assert_eq!(status_of(&s, answered).await, json!(["open", null]), "superseded by the later reply");
    fire(&s, &both[2]).await;
    assert_eq!(status_of(&s, answered).await[0], "closed");

    // Closed by hand and reopened after the reply: the old timer does not close the new period.
    incoming(&s, ch, "4", "hi").await;
    let reopened = ids(&s, &s.token, "status=open").await[0];
    reply(&s, reopened).await;
    assert_eq!(s.post(&format!("/api/v1/conversations/{reopened}/close"), json!({})).await.0, StatusCode::OK);
    tokio::time::sleep(std::time::Duration::from_millis(3)).await;
    assert_eq!(s.post(&format!("/api/v1/conversations/{reopened}/open"), json!({})).await.0, StatusCode::OK);
    fire(&s, &timers(&s, reopened).await[0]).await;
    assert_eq!(status_of(&s, reopened).await[0], "open");

    // Turned off again with null.
    let (_, ws) = s.patch("/api/v1/workspace", json!({"auto_close_minutes": null})).await;
    assert_eq!(ws["auto_close_minutes"], Value::Null);
    s.stop().await;
}
both_backends!(auto_close_timer, auto_close);

async fn snippets_and_variables(backend: Backend) {
    let s = TestServer::start(backend).await;
    let (_, agent) = s.user("agent@acme.test", "agent").await;
    s.post("/api/v1/contact-fields", json!({"key": "plan", "label": "Plan", "field_type": "text"})).await;
    for (shortcut, body) in [
        (
            "thanks",
            "Thanks $contact.first_name, your $contact.plan plan is active. $contact.nothing, $5, [$contact.email]",
        ),
        ("hours", "We answer 9–17; thank you for waiting"),
        ("refund", "100% refunded"),
    ] {
        let (status, created) = s.post("/api/v1/snippets", json!({"shortcut": shortcut, "body": body})).await;
        assert_eq!(status, StatusCode::CREATED, "{created}");
    }
    let search = |q: &str| {
        let path = format!("/api/v1/snippets/search?q={q}");
        let agent = agent.clone();
        let s = &s;
        async move {
            let (status, found) = s.call(Method::GET, &path, Some(&agent), None).await;
            assert_eq!(status, StatusCode::OK, "{found}");
            found
                .as_array()
                .expect("list")
                .iter()
                .map(|x| x["shortcut"].as_str().expect("shortcut").to_owned())
                .collect::<Vec<_>>()
        }
    };
    assert_eq!(search("%2Fthanks").await, ["thanks"], "what follows the slash, by shortcut prefix");
    assert_eq!(search("THANK").await, ["thanks", "hours"], "shortcut matches first, then text matches");
    assert_eq!(search("plan").await, ["thanks"]);
    assert_eq!(search("100%25").await, ["refund"]);
    assert_eq!(search("%25").await, ["refund"], "a typed % is not a wildcard");
    assert_eq!(search("1_0").await, Vec::<String>::new(), "nor is _");
    assert_eq!(search("").await.len(), 3);
    assert_error(&s.get("/api/v1/snippets/search?q=a&limit=0").await, 422, "validation_failed");

    // Variables in a sent text become the contact's values; unknown ones and prices stay as written.
    let channel = example_channel(&s, "A").await;
    incoming(&s, channel, "555", "hello").await;
    let conv = ids(&s, &s.token, "").await[0];
    let (_, detail) = s.get(&format!("/api/v1/conversations/{conv}")).await;
    let contact = detail["contact"]["id"].as_i64().expect("contact");
    let patch = json!({"first_name": "Ana", "custom_fields": {"plan": "gold"}});
    assert_eq!(s.patch(&format!("/api/v1/contacts/{contact}"), patch).await.0, StatusCode::OK);
    let body = "Thanks $contact.first_name, your $contact.plan plan is active. $contact.nothing, $5, [$contact.email]";
    let (status, sent) = s
        .post(&format!("/api/v1/conversations/{conv}/messages"), json!({"content": {"type": "text", "text": body}}))
        .await;
    assert_eq!(status, StatusCode::ACCEPTED, "{sent}");
    assert_eq!(sent["content"]["text"], "Thanks Ana, your gold plan is active. $contact.nothing, $5, []");
    s.stop().await;
}
both_backends!(snippets, snippets_and_variables);

async fn seeded_workspace(backend: Backend) {
    use switchboard::service::seed::{SeedPlan, seed};
    let s = TestServer::start(backend).await;
    let plan = SeedPlan { conversations: 40, messages: 160, seed: 7 };
    let report = seed(&s.app, s.workspace_id, &plan, |_| {}).await.expect("seed");
    assert_eq!(report.conversations, 40);
    assert!((40..=160).contains(&report.messages), "{report:?}");
    let total = walk(&s, "status=all", 200).await.len();
    let closed = walk(&s, "status=closed", 200).await.len();
    assert_eq!((total, closed as u64), (40, report.closed));
    let open = walk(&s, "status=open", 200).await.len() as u64;
    assert_eq!(open + report.closed, 40);
    let (_, counts) = s.get("/api/v1/inbox/counts").await;
    assert_eq!(counts["all"]["open"], json!(open));
    assert_eq!(counts["teams"].as_array().map(Vec::len), Some(2));
    let mut texts = String::new();
    let mut stored = 0;
    for (conv, _) in walk(&s, "status=all", 200).await {
        let (_, page) = s.get(&format!("/api/v1/conversations/{conv}/messages?limit=200")).await;
        for m in page["items"].as_array().expect("messages") {
            texts.push_str(m["content"]["text"].as_str().unwrap_or_default());
            stored += 1;
        }
    }
    assert_eq!(stored, report.messages, "every message the report counts is stored");
    assert!(texts.contains("طلب") && texts.contains("order"), "English and Arabic texts");
    // The seeded channels are channels like any other: they can be changed through the API (which opens
    // their sealed secrets).
    let (_, channels) = s.get("/api/v1/channels").await;
    let channels = channels["items"].as_array().cloned().unwrap_or_default();
    assert_eq!(channels.len(), 2);
    for channel in &channels {
        let path = format!("/api/v1/channels/{}", channel["id"]);
        let name = format!("Renamed {}", channel["id"]);
        let (status, changed) = s.patch(&path, json!({"name": name})).await;
        assert_eq!((status, changed["name"].clone()), (StatusCode::OK, json!(name)), "{changed}");
    }
    let again = seed(&s.app, s.workspace_id, &SeedPlan { conversations: 5, messages: 5, seed: 7 }, |_| {}).await;
    assert_eq!(again.expect("seeding again adds").conversations, 5);
    s.stop().await;
}
both_backends!(seed_data, seeded_workspace);

async fn contact_count(s: &TestServer) -> usize {
    let (status, page) = s.get("/api/v1/contacts?limit=200").await;
    assert_eq!(status, StatusCode::OK, "{page}");
    page["items"].as_array().expect("items").len()
}

async fn start_conversation(backend: Backend) {
    let s = TestServer::start(backend).await;
    let body = json!({"name": "WhatsApp", "plugin_id": "whatsapp-cloud",
                      "config": {"phone_number_id": "1122334455667", "business_account_id": "5467539754836534"},
                      "secrets": {"access_token": "t", "app_secret": "a", "verify_token": "v"}});
    let (status, wa) = s.post("/api/v1/channels", body).await;
    assert_eq!(status, StatusCode::CREATED, "{wa}");
    let wa = id(&wa);
    let other = example_channel(&s, "Example").await;
    let tpl = json!({"name": "hello", "language": "en", "category": "utility",
                     "components": [{"type": "BODY", "text": "Hello {{1}}"}], "status": "approved"});
    let (_, tpl) = s.post("/api/v1/templates", tpl).await;
    let template = json!({"type": "template", "template_id": id(&tpl), "parameters": ["Maria"]});
    let maria = json!({"first_name": "Maria", "phone": "+971 50 123 4567"});
    let start = |contact: Value, channel: i64, content: Value| {
        let mut body = json!({"channel_id": channel, "content": content});
        let key = if contact.is_number() { "contact_id" } else { "contact" };
        body[key] = contact;
        body
    };

    // Refused, and nothing is left behind.
    let text = json!({"type": "text", "text": "hi"});
    let refused = s.post("/api/v1/conversations/start", start(maria.clone(), wa, text)).await;
    assert_error(&refused, 422, "window_closed");
    let wrong = json!({"type": "template", "template_id": id(&tpl), "parameters": []});
    let refused = s.post("/api/v1/conversations/start", start(maria.clone(), wa, wrong)).await;
    assert_eq!(refused.0, StatusCode::UNPROCESSABLE_ENTITY, "{}", refused.1);
    let hello = json!({"type": "text", "text": "hello"});
    let refused = s.post("/api/v1/conversations/start", start(maria.clone(), other, hello)).await;
    assert_error(&refused, 422, "contact_unreachable");
    let no_phone = json!({"first_name": "Nour"});
    let refused = s.post("/api/v1/conversations/start", start(no_phone, wa, template.clone())).await;
    assert_error(&refused, 422, "contact_unreachable");
    let mut both = start(maria.clone(), wa, template.clone());
    both["contact_id"] = json!(1);
    assert_error(&s.post("/api/v1/conversations/start", both).await, 422, "validation_failed");
    assert_eq!(contact_count(&s).await, 0, "no contact was created by refused requests");
    assert!(ids(&s, &s.token, "").await.is_empty(), "nor a conversation");

    // A new contact: added, reachable on WhatsApp by the number's digits, written to with the template.
    let (status, started) = s.post("/api/v1/conversations/start", start(maria.clone(), wa, template.clone())).await;
    assert_eq!(status, StatusCode::CREATED, "{started}");
    assert_eq!(started["contact"]["phone"], json!("+971501234567"));
    assert_eq!(started["contact"]["identities"], json!([{"channel_id": wa, "external_id": "971501234567"}]));
    let conv = &started["conversation"];
    assert_eq!(conv["opened_by"], json!({"kind": "user", "id": s.owner_id}));
    assert_eq!((conv["status"].clone(), conv["assignee_id"].clone()), (json!("open"), json!(s.owner_id)));
    assert_eq!(started["message"]["status"], json!("pending"));
    assert_eq!(started["message"]["content"]["parameters"], json!(["Maria"]));
    assert_eq!(started["message"]["channel_id"], json!(wa));
    let conv_id = id(conv);
    let (_, messages) = s.get(&format!("/api/v1/conversations/{conv_id}/messages")).await;
    assert_eq!(messages["items"].as_array().map(Vec::len), Some(1));

    // Again: the conversation is open; the same number as a new contact is someone else's.
    let maria_id = id(&started["contact"]);
    let again = s.post("/api/v1/conversations/start", start(json!(maria_id), wa, template.clone())).await;
    assert_error(&again, 409, "conversation_already_open");
    let twin = json!({"first_name": "Maria 2", "phone": "+971501234567"});
    assert_error(
        &s.post("/api/v1/conversations/start", start(twin, wa, template.clone())).await,
        409,
        "contact_exists",
    );

    // An existing contact with a number but no WhatsApp address yet: the address is added.
    let (_, omar) = s.post("/api/v1/contacts", json!({"first_name": "Omar", "phone": "+447911123456"})).await;
    let (_, agent) = s.user("agent@acme.test", "agent").await;
    let body = start(json!(id(&omar)), wa, template.clone());
    let (status, started) = s.call(Method::POST, "/api/v1/conversations/start", Some(&agent), Some(body)).await;
    assert_eq!(status, StatusCode::CREATED, "{started}");
    assert_eq!(started["contact"]["identities"], json!([{"channel_id": wa, "external_id": "447911123456"}]));
    assert_ne!(started["conversation"]["assignee_id"], json!(s.owner_id), "assigned to whoever started it");
    assert_eq!(contact_count(&s).await, 2);
    s.stop().await;
}
both_backends!(new_conversation_with_a_template, start_conversation);
