//! The messaging pipeline end to end with the bundled example channel: a signed webhook in → contact,
//! conversation and message through the API → an agent's reply → the exact request on a fake provider on
//! loopback; retried deliveries, tampered and malformed ones, handshakes, and provider failures.

use reqwest::StatusCode;
use serde_json::{Value, json};
use switchboard::jobs::Worker;
use switchboard::model::{JobStatus, PageRequest};
use switchboard_tests::{Backend, FakeProvider, TestServer, both_backends};

/// The bodies of the messages the example provider received (`POST /messages`).
fn sent_bodies(provider: &FakeProvider) -> Vec<Value> {
    provider.requests().iter().filter(|r| r.path == "/messages").map(|r| r.json()).collect()
}

async fn server_with(backend: Backend, provider: &FakeProvider) -> TestServer {
    let base = provider.base();
    TestServer::start_with(backend, move |c| {
        c.plugins.allow_private_addresses = vec!["127.0.0.1".parse().expect("ip")];
        let settings = format!("outbound_hosts = [\"{base}\"]");
        c.plugins.settings.insert("example-channel".into(), toml::from_str(&settings).expect("settings"));
    })
    .await
}

async fn webhook(s: &TestServer, channel: i64, secret: &str, body: &str) -> (StatusCode, String) {
    let resp = s
        .http
        .post(format!("{}/webhooks/{channel}", s.base))
        .header("x-example-secret", secret)
        .header("content-type", "application/json")
        .body(body.to_owned())
        .send()
        .await
        .expect("webhook");
    (resp.status(), resp.text().await.expect("body"))
}

async fn event_count(s: &TestServer) -> usize {
    let page = s.get("/api/v1/events?limit=1000").await.1;
    page["items"].as_array().map(Vec::len).expect("an event page")
}

both_backends!(inbound_and_outbound_through_the_example_channel, inbound_and_outbound);

async fn inbound_and_outbound(backend: Backend) {
    let provider = FakeProvider::start().await;
    provider.answer("/messages", 200, json!({"id": "prov-1"}));
    let s = server_with(backend, &provider).await;
    let (status, channel) = s
        .post(
            "/api/v1/channels",
            json!({"name": "Example", "plugin_id": "example-channel",
                   "config": {"base_url": provider.base()}, "secrets": {"shared_secret": "s3cret"}}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{channel}");
    let ch = channel["id"].as_i64().expect("id");

    // The example channel needs no setup at its provider and has no provider templates.
    assert_eq!(s.post(&format!("/api/v1/channels/{ch}/connect"), json!({})).await.0, StatusCode::OK);
    let sync = s.post(&format!("/api/v1/channels/{ch}/templates/sync"), json!({})).await;
    assert_eq!(
        (sync.0, sync.1["error"]["code"].clone()),
        (StatusCode::UNPROCESSABLE_ENTITY, json!("templates_unsupported"))
    );

    // A handshake is answered by the plugin; a GET that is not one is refused.
    let shake = s.http.get(format!("{}/webhooks/{ch}?challenge=abc123", s.base)).send().await.expect("get");
    assert_eq!((shake.status(), shake.text().await.expect("body")), (StatusCode::OK, "abc123".to_owned()));
    let plain = s.http.get(format!("{}/webhooks/{ch}", s.base)).send().await.expect("get");
    assert_eq!(plain.status(), StatusCode::BAD_REQUEST);

    // A tampered or unsigned delivery: 401 and nothing stored.
    let before = event_count(&s).await;
    let delivery = r#"{"from": "user-7", "id": "m-1", "text": "Hello, I need help"}"#;
    let (status, body) = webhook(&s, ch, "wrong", delivery).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{body}");
    assert!(body.contains("webhook_unauthorized"), "{body}");
    // Malformed: 400 with the reason, nothing stored.
    let (status, body) = webhook(&s, ch, "s3cret", "{not json").await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert!(body.contains("webhook_rejected"), "{body}");
    assert_eq!(event_count(&s).await, before, "refused deliveries store nothing");
    assert_eq!(s.get("/api/v1/contacts").await.1["items"], json!([]));

    // A good delivery: contact (with its identity), conversation opened by the contact, the message.
    let (status, _) = webhook(&s, ch, "s3cret", delivery).await;
    assert_eq!(status, StatusCode::OK);
    let contacts = s.get("/api/v1/contacts").await.1;
    let contact = &contacts["items"][0];
    assert_eq!(contact["identities"], json!([{"channel_id": ch, "external_id": "user-7"}]), "{contact}");
    let conversations = s.get("/api/v1/conversations").await.1;
    let conv = &conversations["items"][0];
    assert_eq!((conv["contact_id"].clone(), conv["status"].clone()), (contact["id"].clone(), json!("open")));
    assert_eq!(conv["opened_by"]["kind"], "contact", "{conv}");
    let conv_id = conv["id"].as_i64().expect("conversation id");
    let messages = s.get(&format!("/api/v1/conversations/{conv_id}/messages")).await.1;
    assert_eq!(messages["items"].as_array().map(Vec::len), Some(1));
    let m = &messages["items"][0];
    assert_eq!(
        (m["direction"].clone(), m["content"].clone(), m["provider_message_id"].clone()),
        (json!("incoming"), json!({"type": "text", "text": "Hello, I need help"}), json!("m-1"))
    );

    // The same delivery again (a provider retry) changes nothing.
    let events = event_count(&s).await;
    assert_eq!(webhook(&s, ch, "s3cret", delivery).await.0, StatusCode::OK);
    assert_eq!(event_count(&s).await, events, "a retried delivery appends nothing");
    let again = s.get(&format!("/api/v1/conversations/{conv_id}/messages")).await.1;
    assert_eq!(again["items"].as_array().map(Vec::len), Some(1));
    // A second message from the same contact joins the same conversation.
    let (status, _) = webhook(&s, ch, "s3cret", r#"{"from": "user-7", "id": "m-2", "text": "Anyone?"}"#).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(s.get("/api/v1/conversations").await.1["items"].as_array().map(Vec::len), Some(1));

    // The agent replies on the conversation's channel: pending, then sent by the worker through the plugin.
    let (status, reply) = s
        .post(
            &format!("/api/v1/conversations/{conv_id}/messages"),
            json!({"content": {"type": "text", "text": "Hi! How can I help?"}}),
        )
        .await;
    assert_eq!((status, reply["status"].clone()), (StatusCode::ACCEPTED, json!("pending")), "{reply}");
    let reply_id = reply["id"].as_i64().expect("id");
    let worker = Worker::new(s.app.clone());
    assert!(worker.run_once().await.expect("worker"), "a job ran");
    assert_eq!(
        sent_bodies(&provider),
        vec![json!({"to": "user-7", "content": {"type": "text", "text": "Hi! How can I help?"}})],
        "the exact request the provider received"
    );
    let sent = s.get(&format!("/api/v1/conversations/{conv_id}/messages")).await.1["items"][0].clone();
    assert_eq!((sent["id"].as_i64(), sent["status"].clone()), (Some(reply_id), json!("sent")));
    assert_eq!(sent["provider_message_id"], "prov-1");

    // A provider that refuses for good: failed, with its reason, and no retry.
    provider.answer("/messages", 400, json!({"error": "bad recipient"}));
    let (_, refused) = s
        .post(&format!("/api/v1/conversations/{conv_id}/messages"), json!({"content": {"type": "text", "text": "x"}}))
        .await;
    assert!(worker.run_once().await.expect("worker"));
    let failed = s.get(&format!("/api/v1/conversations/{conv_id}/messages")).await.1["items"][0].clone();
    assert_eq!((failed["id"].clone(), failed["status"].clone()), (refused["id"].clone(), json!("failed")));
    assert!(failed["failure_reason"].as_str().is_some_and(|r| r.contains("400")), "{failed}");

    // A provider that is busy: still pending, the job waits for a retry; then it goes through.
    provider.answer("/messages", 503, json!({}));
    let (_, busy) = s
        .post(&format!("/api/v1/conversations/{conv_id}/messages"), json!({"content": {"type": "text", "text": "y"}}))
        .await;
    assert!(worker.run_once().await.expect("worker"));
    let pending = s.get(&format!("/api/v1/conversations/{conv_id}/messages")).await.1["items"][0].clone();
    assert_eq!((pending["id"].clone(), pending["status"].clone()), (busy["id"].clone(), json!("pending")));
    let queued = s.app.store.list_jobs(Some(JobStatus::Queued), &PageRequest::default()).await.expect("jobs");
    let job = queued.items.iter().find(|j| j.payload["message_id"] == busy["id"]).expect("the job waits");
    assert!(job.last_error.as_deref().is_some_and(|e| e.contains("503")), "{job:?}");
    provider.answer("/messages", 200, json!({"id": "prov-3"}));
    assert!(worker.run_once_at(job.run_at).await.expect("worker"), "the retry ran when due");
    let delivered = s.get(&format!("/api/v1/conversations/{conv_id}/messages")).await.1["items"][0].clone();
    assert_eq!(
        (delivered["status"].clone(), delivered["provider_message_id"].clone()),
        (json!("sent"), json!("prov-3"))
    );

    // Unknown and disabled channels are not found; nothing is stored.
    assert_eq!(webhook(&s, 999_999, "s3cret", delivery).await.0, StatusCode::NOT_FOUND);
    assert_eq!(s.patch(&format!("/api/v1/channels/{ch}"), json!({"enabled": false})).await.0, StatusCode::OK);
    assert_eq!(webhook(&s, ch, "s3cret", r#"{"from": "u", "id": "m-9", "text": "x"}"#).await.0, StatusCode::NOT_FOUND);
    s.stop().await;
}

both_backends!(messaging_window_is_enforced_for_every_sender, messaging_window);

async fn messaging_window(backend: Backend) {
    // A channel plugin with WhatsApp's policy: free-form for 24 h after the contact's last message,
    // templates outside (the test plugin `hostile` declares exactly that).
    let root = tempfile::tempdir().expect("tempdir");
    let dir = root.path().join("plugins/hostile");
    std::fs::create_dir_all(&dir).expect("plugin dir");
    std::fs::write(
        dir.join("plugin.toml"),
        "[plugin]\nid = \"hostile\"\nname = \"H\"\nversion = \"0.1.0\"\nworld = \"channel\"\n",
    )
    .expect("manifest");
    std::fs::write(dir.join("hostile.wasm"), switchboard_tests::build_wasm("tests/plugins", "hostile")).expect("wasm");
    let plugins_dir = root.path().join("plugins").display().to_string();
    let s = TestServer::start_with(backend, |c| c.plugins.dir = plugins_dir).await;
    let (_, channel) = s.post("/api/v1/channels", json!({"name": "WA-like", "plugin_id": "hostile"})).await;
    let ch = channel["id"].as_i64().expect("channel id");
    let (_, contact) = s.post("/api/v1/contacts", json!({"first_name": "Ana"})).await;
    let cid = contact["id"].as_i64().expect("contact id");
    let (_, conv) = s.post("/api/v1/conversations", json!({"contact_id": cid})).await;
    let conv_id = conv["id"].as_i64().expect("conversation id");
    let (_, tpl) = s
        .post(
            "/api/v1/templates",
            json!({"name": "hello", "language": "en", "category": "utility",
            "components": [{"type": "BODY", "text": "Hello {{1}}"}], "status": "approved"}),
        )
        .await;
    let text = json!({"content": {"type": "text", "text": "Hi"}, "channel_id": ch});
    let template =
        json!({"content": {"type": "template", "template_id": tpl["id"], "parameters": ["Ana"]}, "channel_id": ch});

    // The contact never wrote on this channel: the window is closed; only a template goes out.
    let refused = s.post(&format!("/api/v1/conversations/{conv_id}/messages"), text.clone()).await;
    assert_eq!(refused.0, StatusCode::UNPROCESSABLE_ENTITY, "{}", refused.1);
    assert_eq!(refused.1["error"]["code"], "window_closed");
    let short = json!({"content": {"type": "template", "template_id": tpl["id"], "parameters": []}, "channel_id": ch});
    let wrong = s.post(&format!("/api/v1/conversations/{conv_id}/messages"), short).await;
    assert_eq!(
        (wrong.0, wrong.1["error"]["field"].clone()),
        (StatusCode::UNPROCESSABLE_ENTITY, json!("content.parameters"))
    );
    assert!(wrong.1["error"]["message"].as_str().is_some_and(|m| m.contains("body")), "{}", wrong.1);
    let (status, sent) = s.post(&format!("/api/v1/conversations/{conv_id}/messages"), template).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{sent}");
    let detail = s.get(&format!("/api/v1/conversations/{conv_id}")).await.1;
    assert_eq!(
        (detail["window"]["open"].clone(), detail["window"]["outside"].clone()),
        (json!(false), json!(["templates"]))
    );

    // The contact writes: the window opens for 24 hours and free-form messages pass.
    let incoming = switchboard::model::InboundItem::Message {
        external_id: "ana-1".into(),
        profile: Default::default(),
        provider_message_id: "in-1".into(),
        content: switchboard::model::MessageContent::text("hello"),
    };
    // The identity links the message to Ana, as a provider delivery would.
    s.post(&format!("/api/v1/contacts/{cid}/identities"), json!({"channel_id": ch, "external_id": "ana-1"})).await;
    s.app.store.ingest(s.workspace_id, ch, &[incoming]).await.expect("ingest");
    let detail = s.get(&format!("/api/v1/conversations/{conv_id}")).await.1;
    let window = &detail["window"];
    assert_eq!((window["open"].clone(), window["channel_id"].clone()), (json!(true), json!(ch)), "{detail}");
    let left = window["seconds_left"].as_i64().expect("seconds left");
    assert!(left > 23 * 3600 && left <= 24 * 3600, "{window}");
    let (status, body) = s.post(&format!("/api/v1/conversations/{conv_id}/messages"), text).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{body}");
    s.stop().await;
}

both_backends!(media_in_and_out, media_in_and_out_body);

async fn media_in_and_out_body(backend: Backend) {
    // The provider also serves a file at /files/cat.jpg.
    let provider = FakeProvider::start().await;
    provider.answer("/messages", 200, json!({"id": "prov-1"}));
    let picture: Vec<u8> = (0..3000u32).map(|i| (i % 251) as u8).collect();
    provider.answer_bytes("/files/cat.jpg", 200, "image/jpeg", picture.clone());
    let files_base = provider.base();

    let (base, granted_files) = (provider.base(), files_base.clone());
    let s = TestServer::start_with(backend, move |c| {
        c.plugins.allow_private_addresses = vec!["127.0.0.1".parse().expect("ip")];
        let settings = format!("outbound_hosts = [\"{base}\", \"{granted_files}\"]");
        c.plugins.settings.insert("example-channel".into(), toml::from_str(&settings).expect("settings"));
        c.media.max_bytes = 4000;
    })
    .await;
    let (_, channel) = s
        .post(
            "/api/v1/channels",
            json!({"name": "Example", "plugin_id": "example-channel",
                   "config": {"base_url": provider.base()}, "secrets": {"shared_secret": "s3cret"}}),
        )
        .await;
    let ch = channel["id"].as_i64().expect("id");

    // Incoming: the message is stored at once; the file is fetched through the plugin by a job.
    let delivery = json!({"from": "user-7", "id": "m-img", "media_url": format!("{files_base}/files/cat.jpg")});
    assert_eq!(webhook(&s, ch, "s3cret", &delivery.to_string()).await.0, StatusCode::OK);
    let conv_id = s.get("/api/v1/conversations").await.1["items"][0]["id"].as_i64().expect("conversation");
    let messages = format!("/api/v1/conversations/{conv_id}/messages");
    let waiting = s.get(&messages).await.1["items"][0]["content"].clone();
    assert_eq!((waiting["type"].clone(), waiting["url"].clone()), (json!("media"), json!("")), "{waiting}");
    let worker = Worker::new(s.app.clone());
    assert!(worker.run_once().await.expect("worker"), "the fetch job ran");
    let stored = s.get(&messages).await.1["items"][0]["content"].clone();
    let url = stored["url"].as_str().expect("a url").to_owned();
    assert!(url.starts_with("/api/v1/media/"), "{stored}");
    assert_eq!(stored["mime_type"], "image/jpeg");
    let got = s.http.get(format!("{}{url}", s.base)).bearer_auth(&s.token).send().await.expect("get media");
    assert_eq!(got.headers()["content-type"], "image/jpeg");
    assert_eq!(got.bytes().await.expect("bytes").to_vec(), picture, "the exact bytes");
    let anonymous = s.http.get(format!("{}{url}", s.base)).send().await.expect("get media");
    assert_eq!(anonymous.status(), StatusCode::UNAUTHORIZED);

    // Outgoing: an upload, sent as a media message; the provider gets a signed link it can fetch.
    let form = reqwest::multipart::Form::new().part(
        "file",
        reqwest::multipart::Part::bytes(b"%PDF-1.4 invoice".to_vec())
            .file_name("invoice.pdf")
            .mime_str("application/pdf")
            .expect("mime"),
    );
    let up = s
        .http
        .post(format!("{}/api/v1/media", s.base))
        .bearer_auth(&s.token)
        .multipart(form)
        .send()
        .await
        .expect("upload");
    assert_eq!(up.status(), StatusCode::CREATED);
    let uploaded: Value = up.json().await.expect("json");
    assert_eq!((uploaded["content_type"].clone(), uploaded["size"].clone()), (json!("application/pdf"), json!(16)));
    let local =
        json!({"content": {"type": "media", "kind": "document", "url": uploaded["url"], "caption": "Your invoice"}});
    let (status, sent) = s.post(&messages, local).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{sent}");
    assert!(worker.run_once().await.expect("worker"));
    let request = sent_bodies(&provider).pop().expect("the provider got the message");
    let link = request["content"]["url"].as_str().expect("a link").to_owned();
    assert_eq!(request["content"]["caption"], "Your invoice");
    let path = &link[link.find("/media/").expect("a media link")..];
    // The link works without credentials (the provider has none) and only as signed.
    let fetched = s.http.get(format!("{}{path}", s.base)).send().await.expect("fetch link");
    assert_eq!(fetched.status(), StatusCode::OK, "{link}");
    assert_eq!(fetched.bytes().await.expect("bytes").as_ref(), b"%PDF-1.4 invoice");
    let forged = path.replace("application%2Fpdf", "text%2Fhtml");
    assert_eq!(s.http.get(format!("{}{forged}", s.base)).send().await.expect("get").status(), StatusCode::NOT_FOUND);
    // Files of no workspace of the caller's, and oversized uploads, are refused.
    let unknown =
        json!({"content": {"type": "media", "kind": "image", "url": format!("/api/v1/media/{}", "ab".repeat(32))}});
    let missing = s.post(&messages, unknown).await;
    assert_eq!(
        (missing.0, missing.1["error"]["field"].clone()),
        (StatusCode::UNPROCESSABLE_ENTITY, json!("content.url"))
    );
    let big = reqwest::multipart::Form::new()
        .part("file", reqwest::multipart::Part::bytes(vec![7u8; 5000]).file_name("big.bin"));
    let too_big = s
        .http
        .post(format!("{}/api/v1/media", s.base))
        .bearer_auth(&s.token)
        .multipart(big)
        .send()
        .await
        .expect("upload");
    assert_eq!(too_big.status(), StatusCode::PAYLOAD_TOO_LARGE);
    s.stop().await;
}

both_backends!(content_is_checked_against_the_channel, content_checks);

async fn content_checks(backend: Backend) {
    let provider = FakeProvider::start().await;
    let s = server_with(backend, &provider).await;
    let (_, channel) = s
        .post(
            "/api/v1/channels",
            json!({"name": "Example", "plugin_id": "example-channel",
                   "config": {"base_url": provider.base()}, "secrets": {"shared_secret": "s3cret"}}),
        )
        .await;
    let ch = channel["id"].as_i64().expect("id");
    assert_eq!(webhook(&s, ch, "s3cret", r#"{"from": "u-1", "id": "m-1", "text": "hi"}"#).await.0, StatusCode::OK);
    let conv_id = s.get("/api/v1/conversations").await.1["items"][0]["id"].as_i64().expect("conversation");
    let send = async |content: Value| {
        s.post(&format!("/api/v1/conversations/{conv_id}/messages"), json!({"content": content})).await
    };

    // What the channel's plugin declares it cannot send is refused up front, naming the channel.
    let list = json!({"type": "list", "text": "Pick a size", "button": "Sizes",
        "sections": [{"rows": [{"title": "Small"}, {"title": "Large", "description": "Roomy"}]}]});
    let (status, body) = send(list).await;
    assert_eq!(
        (status, body["error"]["code"].clone()),
        (StatusCode::UNPROCESSABLE_ENTITY, json!("content_unsupported"))
    );
    assert!(body["error"]["message"].as_str().is_some_and(|m| m.contains("Example")), "{body}");
    let (status, body) = send(json!({"type": "reaction", "emoji": "👍", "provider_message_id": "m-1"})).await;
    assert_eq!(
        (status, body["error"]["code"].clone()),
        (StatusCode::UNPROCESSABLE_ENTITY, json!("content_unsupported"))
    );

    // Malformed lists and cards name the part at fault, whatever the channel.
    let two_untitled = json!({"type": "list", "text": "t", "button": "b",
        "sections": [{"rows": [{"title": "a"}]}, {"rows": [{"title": "b"}]}]});
    let (status, body) = send(two_untitled).await;
    assert_eq!(
        (status, body["error"]["field"].clone()),
        (StatusCode::UNPROCESSABLE_ENTITY, json!("content.sections[0].title"))
    );
    let duplicate = json!({"type": "list", "text": "t", "button": "b",
        "sections": [{"rows": [{"id": "x", "title": "a"}, {"id": "x", "title": "b"}]}]});
    let (status, body) = send(duplicate).await;
    assert_eq!(
        (status, body["error"]["field"].clone()),
        (StatusCode::UNPROCESSABLE_ENTITY, json!("content.sections[0].rows[1].id"))
    );
    let eleven: Vec<Value> = (0..11).map(|i| json!({"title": format!("row {i}")})).collect();
    let (status, body) =
        send(json!({"type": "list", "text": "t", "button": "b", "sections": [{"rows": eleven}]})).await;
    assert_eq!((status, body["error"]["field"].clone()), (StatusCode::UNPROCESSABLE_ENTITY, json!("content.sections")));
    let (status, body) =
        send(json!({"type": "contact_card", "card": [{"name": {"formatted_name": "Ana"}}, {"phones": []}]})).await;
    assert_eq!(
        (status, body["error"]["field"].clone()),
        (StatusCode::UNPROCESSABLE_ENTITY, json!("content.card[1].name.formatted_name"))
    );
    // Nothing of it was stored.
    let messages = s.get(&format!("/api/v1/conversations/{conv_id}/messages")).await.1["items"].clone();
    assert_eq!(messages.as_array().map(Vec::len), Some(1), "{messages}");
    s.stop().await;
}

both_backends!(a_reused_provider_id_never_sends_twice, reused_provider_id);

/// A provider (or plugin) that answers two sends with the same id: both messages are sent, each exactly once,
/// and the id stays with the first; the job does not fail and retry, which would deliver the second again.
async fn reused_provider_id(backend: Backend) {
    let provider = FakeProvider::start().await;
    provider.answer("/messages", 200, json!({"id": "prov-same"}));
    let s = server_with(backend, &provider).await;
    let ch = switchboard_tests::inbox::example_channel(&s, "Example").await;
    // The example plugin sends to the channel's base_url; point it at the fake provider.
    let (status, _) =
        s.patch(&format!("/api/v1/channels/{ch}"), json!({"config": {"base_url": provider.base()}})).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(webhook(&s, ch, "s", r#"{"from": "user-9", "id": "in-1", "text": "hi"}"#).await.0, StatusCode::OK);
    let conv = s.get("/api/v1/conversations").await.1["items"][0]["id"].as_i64().expect("conversation");
    for text in ["first", "second"] {
        let reply = json!({"content": {"type": "text", "text": text}});
        assert_eq!(s.post(&format!("/api/v1/conversations/{conv}/messages"), reply).await.0, StatusCode::ACCEPTED);
    }
    let worker = Worker::new(s.app.clone());
    while worker.run_once().await.expect("worker") {}
    assert_eq!(sent_bodies(&provider).len(), 2, "each message reached the provider once");
    let messages = s.get(&format!("/api/v1/conversations/{conv}/messages")).await.1;
    let outgoing: Vec<(Value, Value)> = messages["items"]
        .as_array()
        .expect("items")
        .iter()
        .filter(|m| m["direction"] == "outgoing")
        .map(|m| (m["status"].clone(), m["provider_message_id"].clone()))
        .collect();
    assert_eq!(outgoing, vec![(json!("sent"), json!(null)), (json!("sent"), json!("prov-same"))], "{messages}");
    s.stop().await;
}
