//! Search through the API with the real index: Arabic spelling variants, partial phone numbers, closed
//! conversations, what an agent may see, validation, and rebuilding the index — on SQLite and PostgreSQL.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use switchboard::model::{Actor, ContactFields, InboundItem, MessageContent, Principal, Role};
use switchboard::search::indexer::{Applied, Indexer};
use switchboard::service::accounts;
use switchboard::service::search::{SearchRequest, reindex};
use switchboard_tests::inbox::*;
use switchboard_tests::{Backend, TestDb, TestServer, assert_error, both_backends};

async fn start(backend: Backend) -> TestServer {
    TestServer::start_with(backend, |c| {
        c.search.enabled = true;
        c.search.poll_interval_ms = 50;
    })
    .await
}

/// A message from a contact called `name`, as a channel plugin hands it over.
async fn from_contact(s: &TestServer, channel: i64, external: &str, name: &str, text: &str) {
    let item = InboundItem::Message {
        external_id: external.into(),
        profile: ContactFields { first_name: Some(name.into()), ..Default::default() },
        provider_message_id: format!("{external}-{text}"),
        content: MessageContent::text(text),
    };
    s.app.store.ingest(s.workspace_id, channel, &[item]).await.expect("ingest");
    s.app.changed();
}

fn encode(q: &str) -> String {
    q.bytes().map(|b| if b.is_ascii_alphanumeric() { (b as char).to_string() } else { format!("%{b:02X}") }).collect()
}

async fn search(s: &TestServer, token: &str, query: &str) -> Value {
    let (status, body) = s.call(Method::GET, &format!("/api/v1/search?{query}"), Some(token), None).await;
    assert_eq!(status, StatusCode::OK, "{query}: {body}");
    body
}

/// Searches until `found` holds (the index follows the event log within about a second; a loaded test
/// machine gets 15).
async fn search_until(s: &TestServer, token: &str, q: &str, found: impl Fn(&Value) -> bool) -> Value {
    let query = format!("q={}", encode(q));
    for _ in 0..600 {
        let body = search(s, token, &query).await;
        if found(&body) {
            return body;
        }
        tokio::time::sleep(std::time::Duration::from_millis(25)).await;
    }
    panic!("`{q}` never found what was expected; last answer: {}", search(s, token, &query).await);
}

fn contact_ids(body: &Value) -> Vec<i64> {
    body["contacts"].as_array().expect("array").iter().map(|c| c["contact_id"].as_i64().expect("number")).collect()
}

fn message_texts(body: &Value) -> Vec<String> {
    body["messages"]
        .as_array()
        .expect("array")
        .iter()
        .map(|m| m["snippet"]["text"].as_str().expect("string").to_owned())
        .collect()
}

/// The marked parts of a highlight, as text.
fn marked(h: &Value) -> Vec<String> {
    let units: Vec<u16> = h["text"].as_str().expect("string").encode_utf16().collect();
    h["marks"]
        .as_array()
        .expect("marks")
        .iter()
        .map(|m| {
            String::from_utf16(&units[m[0].as_u64().expect("number") as usize..m[1].as_u64().expect("number") as usize])
                .expect("valid")
        })
        .collect()
}

async fn arabic_names_and_texts(backend: Backend) {
    let s = start(backend).await;
    let ch = example_channel(&s, "A").await;
    from_contact(&s, ch, "1", "أحمد", "السلام عليكم، أريد تتبع الطلب").await;
    from_contact(&s, ch, "2", "Fatima", "مرحبا، أنا أَحْمَد من المدرسة").await;
    from_contact(&s, ch, "3", "مصطفى", "شكرا").await;
    let ahmed = ids(&s, &s.token, "").await[2];

    // Every spelling finds the contact «أحمد» and the message with «أَحْمَد».
    for q in ["احمد", "أحمد", "أَحْمَد", "إحمد", "احـــمد"] {
        // Each delivery is indexed as it commits: wait for both hits, then check them.
        let both = |b: &Value| {
            !b["contacts"].as_array().expect("array").is_empty() && !b["messages"].as_array().expect("array").is_empty()
        };
        let body = search_until(&s, &s.token, q, both).await;
        assert_eq!(body["contacts"].as_array().map(Vec::len), Some(1), "{q}: {body}");
        assert_eq!(body["contacts"][0]["name"], json!("أحمد"), "{q}: {body}");
        assert_eq!(body["contacts"][0]["conversation_id"], json!(ahmed), "{q}: the contact's conversation");
        assert_eq!(marked(&body["contacts"][0]["highlights"]["name"]), vec!["أحمد"]);
        assert_eq!(message_texts(&body), vec!["مرحبا، أنا أَحْمَد من المدرسة"], "{q}: {body}");
        assert_eq!(marked(&body["messages"][0]["snippet"]), vec!["أَحْمَد"], "marks the original spelling");
        assert_eq!(body["messages"][0]["contact_name"], json!("Fatima"));
    }
    // Alef maqsura and yaa, taa marbuta and haa.
    let body = search_until(&s, &s.token, "مصطفي", |b| !b["contacts"].as_array().expect("array").is_empty()).await;
    assert_eq!(body["contacts"][0]["name"], json!("مصطفى"));
    let body = search_until(&s, &s.token, "المدرسه", |b| !b["messages"].as_array().expect("array").is_empty()).await;
    assert_eq!(marked(&body["messages"][0]["snippet"]), vec!["المدرسة"]);
    // A word being typed matches the words it starts; other words do not match.
    let body = search_until(&s, &s.token, "الطل", |b| !b["messages"].as_array().expect("array").is_empty()).await;
    assert_eq!(marked(&body["messages"][0]["snippet"]), vec!["الطلب"]);
    assert_eq!(search(&s, &s.token, &format!("q={}", encode("محمود"))).await, json!({"contacts": [], "messages": []}));
    s.stop().await;
}
both_backends!(arabic_spelling_variants_find_each_other, arabic_names_and_texts);

async fn phones_emails_and_closed(backend: Backend) {
    let s = start(backend).await;
    let body = json!({"first_name": "Maria", "last_name": "Lopez", "phone": "+971501234567",
                      "email": "maria.lopez@example.com", "custom_fields": {}});
    let (status, maria) = s.post("/api/v1/contacts", body).await;
    assert_eq!(status, StatusCode::CREATED, "{maria}");
    let maria = id(&maria);
    let (_, other) = s.post("/api/v1/contacts", json!({"first_name": "Omar", "phone": "+447911123456"})).await;
    let other = id(&other);

    // Any run of 4 or more digits, written any way.
    for q in ["5012", "+971 50 123", "050 123 4567", "00971501234567", "٥٠١٢٣٤", "(050) 123-45"] {
        let body = search_until(&s, &s.token, q, |b| !b["contacts"].as_array().expect("array").is_empty()).await;
        assert_eq!(contact_ids(&body), vec![maria], "{q}: {body}");
        assert!(body["contacts"][0]["highlights"]["phone"]["marks"].as_array().is_some_and(|m| m.len() == 1));
    }
    let body = search_until(&s, &s.token, "7911 123", |b| !b["contacts"].as_array().expect("array").is_empty()).await;
    assert_eq!(contact_ids(&body), vec![other]);
    assert!(contact_ids(&search(&s, &s.token, "q=501").await).is_empty(), "3 digits are too few");
    assert!(contact_ids(&search(&s, &s.token, "q=9876").await).is_empty());
    // E-mail, whole or in part; names with a prefix of the last word.
    let body = search_until(&s, &s.token, "maria.lopez@example.com", |b| !contact_ids(b).is_empty()).await;
    assert_eq!(contact_ids(&body), vec![maria]);
    assert_eq!(contact_ids(&search(&s, &s.token, "q=lop").await), vec![maria]);
    assert_eq!(contact_ids(&search(&s, &s.token, "q=MARIA%20LOPEZ").await), vec![maria]);

    // A closed conversation's messages are found, marked as closed.
    let ch = example_channel(&s, "A").await;
    incoming(&s, ch, "77", "where is parcel 88231?").await;
    let conv = ids(&s, &s.token, "").await[0];
    assert_eq!(s.post(&format!("/api/v1/conversations/{conv}/close"), json!({})).await.0, StatusCode::OK);
    incoming(&s, ch, "78", "parcel arrived, thanks").await;
    let body = search_until(&s, &s.token, "parcel", |b| b["messages"].as_array().expect("array").len() == 2).await;
    let closed: Vec<&Value> =
        body["messages"].as_array().expect("array").iter().filter(|m| m["conversation_id"] == json!(conv)).collect();
    assert_eq!(closed.len(), 1, "{body}");
    assert_eq!(closed[0]["conversation_status"], json!("closed"));
    // Newest first on request.
    let newest = search(&s, &s.token, "q=parcel&sort=newest&kind=messages").await;
    assert_eq!(message_texts(&newest), vec!["parcel arrived, thanks", "where is parcel 88231?"]);
    assert!(newest["contacts"].as_array().expect("array").is_empty(), "kind=messages leaves contacts out");
    let body = search(&s, &s.token, "q=88231").await;
    assert_eq!(marked(&body["messages"][0]["snippet"]), vec!["88231"]);
    s.stop().await;
}
both_backends!(phone_digits_email_and_closed_conversations, phones_emails_and_closed);

async fn only_what_the_user_may_see(backend: Backend) {
    let s = start(backend).await;
    let (_, agent) = s.user("a@acme.test", "agent").await;
    let (_, manager) = s.user("m@acme.test", "manager").await;
    let ch = example_channel(&s, "A").await;
    incoming(&s, ch, "1", "invoice for the owner").await;
    let owners = ids(&s, &s.token, "").await[0];
    let assign = json!({"user_id": s.owner_id});
    assert_eq!(s.post(&format!("/api/v1/conversations/{owners}/assign"), assign).await.0, StatusCode::OK);
    incoming(&s, ch, "2", "invoice for anyone").await;
    assert_eq!(s.patch("/api/v1/workspace", json!({"agent_access": "assigned"})).await.0, StatusCode::OK);

    let both = |b: &Value| b["messages"].as_array().expect("array").len() == 2;
    search_until(&s, &manager, "invoice", both).await;
    let body = search(&s, &agent, "q=invoice").await;
    assert_eq!(message_texts(&body), vec!["invoice for anyone"], "the owner's conversation is out of sight");
    // The contact is found, without a link to a conversation the agent may not open.
    let body = search(&s, &agent, "q=contact%201").await;
    assert_eq!(body["contacts"][0]["name"], json!("Contact 1"), "{body}");
    assert_eq!(body["contacts"][0]["conversation_id"], Value::Null);
    let body = search(&s, &manager, "q=contact%201").await;
    assert_eq!(body["contacts"][0]["conversation_id"], json!(owners));
    // Another workspace's data is never found.
    let org = s.app.store.get_workspace(s.workspace_id).await.expect("workspace").organisation_id;
    let other = s.app.store.create_workspace(org, "Other", s.owner_id).await.expect("workspace");
    let token = accounts::issue_token(&s.app, other.id, s.owner_id, "t", Actor::system()).await.expect("token").token;
    let token = token.as_str();
    assert_eq!(search(&s, token, "q=invoice").await, json!({"contacts": [], "messages": []}));
    s.stop().await;
}
both_backends!(search_respects_agent_access, only_what_the_user_may_see);

async fn bad_queries(backend: Backend) {
    let s = start(backend).await;
    assert_error(&s.get("/api/v1/search?q=").await, 422, "validation_failed");
    assert_error(&s.get("/api/v1/search?q=%20%20").await, 422, "validation_failed");
    assert_error(&s.get(&format!("/api/v1/search?q={}", "a".repeat(201))).await, 422, "validation_failed");
    assert_error(&s.get("/api/v1/search?q=x&limit=0").await, 422, "validation_failed");
    assert_error(&s.get("/api/v1/search?q=x&limit=51").await, 422, "validation_failed");
    assert_error(&s.get("/api/v1/search?q=x&kind=files").await, 422, "validation_failed");
    assert_error(&s.get("/api/v1/search").await, 422, "validation_failed");
    // Punctuation alone (and query syntax, which is not interpreted) finds nothing and fails nothing.
    for q in ["%3F%21", "title%3A*", "%22%28%5B"] {
        assert_eq!(search(&s, &s.token, &format!("q={q}")).await, json!({"contacts": [], "messages": []}));
    }
    let (status, _) = s.call(Method::GET, "/api/v1/search?q=x", None, None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    s.stop().await;
}
both_backends!(search_rejects_bad_queries, bad_queries);

async fn rebuild(backend: Backend) {
    let s = start(backend).await;
    let ch = example_channel(&s, "A").await;
    incoming(&s, ch, "1", "kumquat season").await;
    search_until(&s, &s.token, "kumquat", |b| !b["messages"].as_array().expect("array").is_empty()).await;
    // The running server holds the index: a second writer is refused with a reason.
    let err = reindex(&s.app, |_, _| {}).await.expect_err("index in use");
    assert!(err.to_string().contains("being written by another process"), "{err}");
    s.stop().await;

    // Without a server: data written with no indexer running is found once the index is rebuilt.
    let db = TestDb::new(backend).await;
    let app = db.app().await;
    let init = accounts::InitRequest {
        organisation: None,
        workspace: "Support".into(),
        email: "owner@acme.test".into(),
        name: None,
        password: "owner-password".into(),
    };
    let (_, ws, owner) = accounts::init(&app, init).await.expect("init");
    let fields =
        ContactFields { first_name: Some("Zainab".into()), phone: Some("+201001234567".into()), ..Default::default() };
    let zainab = app.store.create_contact(ws.id, &fields, &[], &[], Actor::system()).await.expect("contact");
    let who = Principal { user_id: owner.id, workspace_id: ws.id, role: Role::Owner, token_id: None };
    let find = |q: &str| SearchRequest { q: q.into(), ..Default::default() };
    let found = switchboard::service::search::search(&app, &who, &find("zainab")).await.expect("search");
    assert!(found.contacts.is_empty(), "nothing indexed yet");
    let seen = std::sync::Mutex::new(Vec::new());
    let docs = reindex(&app, |done, total| seen.lock().expect("lock").push((done, total))).await.expect("reindex");
    assert_eq!(docs, 1);
    assert_eq!(seen.lock().expect("lock").last(), Some(&(1, 1)), "progress reaches the total");
    for q in ["zainab", "1001234"] {
        let found = switchboard::service::search::search(&app, &who, &find(q)).await.expect("search");
        assert_eq!(found.contacts.iter().map(|c| c.contact_id).collect::<Vec<_>>(), vec![zainab.id], "{q}");
    }

    // The indexer resumes from the cursors of its last commit: after a restart it applies only what is new.
    let mut indexer = Indexer::open(app.search.clone(), 24).expect("writer");
    assert!(!indexer.needs_rebuild());
    let fields = ContactFields { first_name: Some("Yusuf".into()), ..Default::default() };
    app.store.create_contact(ws.id, &fields, &[], &[], Actor::system()).await.expect("contact");
    assert_eq!(indexer.catch_up(&*app.store).await.expect("catch up"), Applied { events: 1, documents: 1 });
    drop(indexer);
    let fields = ContactFields { first_name: Some("Yara".into()), ..Default::default() };
    app.store.create_contact(ws.id, &fields, &[], &[], Actor::system()).await.expect("contact");
    let mut indexer = Indexer::open(app.search.clone(), 24).expect("writer after a restart");
    assert_eq!(indexer.catch_up(&*app.store).await.expect("catch up"), Applied { events: 1, documents: 1 });
    assert_eq!(indexer.catch_up(&*app.store).await.expect("again"), Applied::default(), "nothing twice");
    for q in ["yusuf", "yara", "ya"] {
        let found = switchboard::service::search::search(&app, &who, &find(q)).await.expect("search");
        assert!(!found.contacts.is_empty(), "{q}");
    }
    drop(indexer);
    app.store.close().await;
    drop(app);
    db.cleanup().await;
}
both_backends!(reindex_rebuilds_and_refuses_while_the_server_writes, rebuild);
