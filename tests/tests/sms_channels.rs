//! The SMS providers' channel plugins end to end through the server, against a fake provider on loopback:
//! Twilio, Vonage and MessageBird. A signed delivery in (a bad signature refused, a retry stored once), the
//! contact and message through the API, an agent's reply and the exact request the provider received, its
//! status callbacks, and a conversation started from a contact's phone number (SMS as a channel kind).

use reqwest::StatusCode;
use serde_json::{Value, json};
use switchboard::jobs::Worker;
use switchboard_plugin_sdk::verify::{jwt, sha256_hex};
use switchboard_tests::providers::{fixture, post_webhook, server};
use switchboard_tests::{Backend, FakeProvider, TestServer, both_backends};

/// The newest conversation's id and its messages, newest first.
async fn conversation(s: &TestServer) -> (i64, Vec<Value>) {
    let conv = s.get("/api/v1/conversations").await.1["items"][0].clone();
    let id = conv["id"].as_i64().expect("a conversation");
    let messages = s.get(&format!("/api/v1/conversations/{id}/messages")).await.1["items"].as_array().cloned();
    (id, messages.expect("messages"))
}

/// Starts a conversation with a new contact known only by phone number and lets the worker send it.
async fn start_by_phone(s: &TestServer, channel: i64, phone: &str) {
    let start = json!({"contact": {"first_name": "Rita", "phone": phone}, "channel_id": channel,
                       "content": {"type": "text", "text": "Your order has shipped"}});
    let (status, started) = s.post("/api/v1/conversations/start", start).await;
    assert_eq!(status, StatusCode::CREATED, "{started}");
    let worker = Worker::new(s.app.clone());
    while worker.run_once().await.expect("worker") {}
}

both_backends!(twilio_end_to_end, twilio);

async fn twilio(backend: Backend) {
    use switchboard_tests::providers::twilio_signature;
    const MESSAGES: &str = "/2010-04-01/Accounts/AC123/Messages.json";
    let provider = FakeProvider::start().await;
    provider.answer(MESSAGES, 201, json!({"sid": "SM-reply-1", "status": "queued"}));
    let s = server(backend, "twilio", &provider).await;
    let body = json!({"name": "Support SMS", "plugin_id": "twilio",
                      "config": {"account_sid": "AC123", "from": "+15017122661", "api_base_url": provider.base()},
                      "secrets": {"auth_token": "twilio-token"}});
    let (status, channel) = s.post("/api/v1/channels", body).await;
    assert_eq!(status, StatusCode::CREATED, "{channel}");
    let ch = channel["id"].as_i64().expect("id");
    let url = channel["webhook_url"].as_str().expect("webhook URL").to_owned();

    // Twilio's recorded SMS, signed over the URL it was given.
    let form = fixture("plugins/twilio/tests/fixtures/inbound_sms.form");
    let post = |form: String, signature: String| {
        let s = &s;
        async move {
            let headers =
                [("x-twilio-signature", signature.as_str()), ("content-type", "application/x-www-form-urlencoded")];
            post_webhook(s, ch, &headers, &form).await
        }
    };
    let forged = twilio_signature("another-token", &url, &form);
    assert_eq!(post(form.clone(), forged).await.0, StatusCode::UNAUTHORIZED);
    assert_eq!(s.get("/api/v1/contacts").await.1["items"], json!([]), "nothing stored");
    let (status, answer) = post(form.clone(), twilio_signature("twilio-token", &url, &form)).await;
    assert_eq!(status, StatusCode::OK);
    assert!(answer.contains("<Response/>"), "an empty TwiML answer, so Twilio replies nothing itself: {answer}");
    assert_eq!(post(form.clone(), twilio_signature("twilio-token", &url, &form)).await.0, StatusCode::OK, "a retry");
    let contact = s.get("/api/v1/contacts").await.1["items"][0].clone();
    assert_eq!(contact["phone"], "+19253920364", "{contact}");
    let (conv_id, messages) = conversation(&s).await;
    assert_eq!(messages.len(), 1, "stored once");
    assert_eq!(
        (messages[0]["content"].clone(), messages[0]["provider_message_id"].clone()),
        (json!({"type": "text", "text": "twilio-go testing!"}), json!("SM1521fa559fb923c1ed64f56cd1bed8ef"))
    );

    // The agent's reply: the exact form the Messages API receives, asking for status callbacks.
    let reply = json!({"content": {"type": "text", "text": "Hello from support"}});
    assert_eq!(s.post(&format!("/api/v1/conversations/{conv_id}/messages"), reply).await.0, StatusCode::ACCEPTED);
    // Creating the channel also queued its template sync (the Content API), so the worker runs until idle.
    let worker = Worker::new(s.app.clone());
    while worker.run_once().await.expect("worker") {}
    let sent = provider.requests().into_iter().rfind(|r| r.path == MESSAGES).expect("sent");
    let basic =
        format!("Basic {}", base64::Engine::encode(&base64::engine::general_purpose::STANDARD, "AC123:twilio-token"));
    assert_eq!(sent.headers.get("authorization"), Some(&basic));
    let expected = switchboard_plugin_sdk::form::encode_pairs(&[
        ("To", "+19253920364"),
        ("From", "+15017122661"),
        ("Body", "Hello from support"),
        ("StatusCallback", url.as_str()),
    ]);
    assert_eq!(String::from_utf8_lossy(&sent.body), expected);

    // Twilio's status callbacks for it: delivered, then a late `sent` changes nothing.
    let callback = |status: &str| {
        format!(
            "MessageSid=SM-reply-1&MessageStatus={status}&AccountSid=AC123&From=%2B15017122661&To=%2B19253920364&ApiVersion=2010-04-01"
        )
    };
    for (name, expected) in [("delivered", "delivered"), ("sent", "delivered")] {
        let form = callback(name);
        assert_eq!(post(form.clone(), twilio_signature("twilio-token", &url, &form)).await.0, StatusCode::OK);
        let (_, messages) = conversation(&s).await;
        assert_eq!(messages[0]["status"], expected, "after {name}");
    }
    let failed = "MessageSid=SM-reply-1&MessageStatus=undelivered&ErrorCode=30005&AccountSid=AC123";
    assert_eq!(post(failed.into(), twilio_signature("twilio-token", &url, failed)).await.0, StatusCode::OK);
    let (_, messages) = conversation(&s).await;
    assert_eq!(messages[0]["status"], "delivered", "a delivered message does not fail afterwards");

    // SMS as a channel kind: a conversation started with a new contact's phone number, as E.164.
    start_by_phone(&s, ch, "+14155550123").await;
    let sent = provider.requests().into_iter().rfind(|r| r.path == MESSAGES).expect("sent");
    let form = switchboard_plugin_sdk::form::pairs(&String::from_utf8_lossy(&sent.body));
    assert_eq!(form[0], ("To".to_owned(), "+14155550123".to_owned()));
    s.stop().await;
}

both_backends!(vonage_end_to_end, vonage);

async fn vonage(backend: Backend) {
    let provider = FakeProvider::start().await;
    provider.answer("/v1/messages", 202, json!({"message_uuid": "aaaaaaaa-bbbb-4ccc-8ddd-0123456789ab"}));
    let s = server(backend, "vonage", &provider).await;
    let body = json!({"name": "Vonage SMS", "plugin_id": "vonage",
                      "config": {"api_key": "a1b2c3d", "from": "447700900000", "channel": "sms", "api_base_url": provider.base()},
                      "secrets": {"api_secret": "api-secret", "signature_secret": "signature-secret"}});
    let (status, channel) = s.post("/api/v1/channels", body).await;
    assert_eq!(status, StatusCode::CREATED, "{channel}");
    let ch = channel["id"].as_i64().expect("id");

    let signed = |body: &str, secret: &str| {
        let claims = json!({"iat": chrono::Utc::now().timestamp(), "iss": "Vonage", "api_key": "a1b2c3d",
                            "payload_hash": sha256_hex(body.as_bytes())});
        format!("Bearer {}", jwt::sign_hs256(&claims, secret.as_bytes()))
    };
    let post = |body: String, secret: &'static str| {
        let s = &s;
        async move {
            let auth = signed(&body, secret);
            post_webhook(s, ch, &[("authorization", auth.as_str()), ("content-type", "application/json")], &body)
                .await
                .0
        }
    };
    let sms = fixture("plugins/vonage/tests/fixtures/inbound_sms.json");
    assert_eq!(post(sms.clone(), "another-secret").await, StatusCode::UNAUTHORIZED);
    assert_eq!(s.get("/api/v1/contacts").await.1["items"], json!([]), "nothing stored");
    assert_eq!(post(sms.clone(), "signature-secret").await, StatusCode::OK);
    assert_eq!(post(sms.clone(), "signature-secret").await, StatusCode::OK, "a retry");
    let contact = s.get("/api/v1/contacts").await.1["items"][0].clone();
    assert_eq!(contact["phone"], "+447700900001", "{contact}");
    let (conv_id, messages) = conversation(&s).await;
    assert_eq!(messages.len(), 1, "stored once");
    assert_eq!(messages[0]["content"], json!({"type": "text", "text": "Hello From Vonage!"}));

    let reply = json!({"content": {"type": "text", "text": "Hello from support"}});
    assert_eq!(s.post(&format!("/api/v1/conversations/{conv_id}/messages"), reply).await.0, StatusCode::ACCEPTED);
    let worker = Worker::new(s.app.clone());
    while worker.run_once().await.expect("worker") {}
    let sent = provider.requests().into_iter().rfind(|r| r.path == "/v1/messages").expect("sent");
    let basic =
        format!("Basic {}", base64::Engine::encode(&base64::engine::general_purpose::STANDARD, "a1b2c3d:api-secret"));
    assert_eq!(sent.headers.get("authorization"), Some(&basic));
    let body = sent.json();
    assert_eq!(
        (
            body["message_type"].clone(),
            body["channel"].clone(),
            body["to"].clone(),
            body["from"].clone(),
            body["text"].clone()
        ),
        (json!("text"), json!("sms"), json!("447700900001"), json!("447700900000"), json!("Hello from support"))
    );
    assert_eq!(body["webhook_url"], channel["webhook_url"], "statuses come back to the channel");

    let status = |name: &str| {
        json!({"message_uuid": "aaaaaaaa-bbbb-4ccc-8ddd-0123456789ab", "to": "447700900001", "from": "447700900000",
               "timestamp": "2025-02-03T12:14:25Z", "status": name, "channel": "sms"})
        .to_string()
    };
    for (name, expected) in [("delivered", "delivered"), ("submitted", "delivered")] {
        assert_eq!(post(status(name), "signature-secret").await, StatusCode::OK);
        let (_, messages) = conversation(&s).await;
        assert_eq!(messages[0]["status"], expected, "after {name}");
    }

    start_by_phone(&s, ch, "+447911123456").await;
    let sent = provider.requests().into_iter().rfind(|r| r.path == "/v1/messages").expect("sent").json();
    assert_eq!(sent["to"], "447911123456", "Vonage takes the number's digits");
    s.stop().await;
}

both_backends!(messagebird_end_to_end, messagebird);

async fn messagebird(backend: Backend) {
    const CHANNEL: &str = "2ceefea7c1b8c79673215c42c1a6b916";
    let provider = FakeProvider::start().await;
    provider.answer("/v1/send", 202, json!({"id": "2e15efafec384e1c82e9842075e87beb", "status": "accepted"}));
    let s = server(backend, "messagebird", &provider).await;
    let body = json!({"name": "MessageBird SMS", "plugin_id": "messagebird",
                      "config": {"channel_id": CHANNEL, "platform": "sms", "api_base_url": provider.base()},
                      "secrets": {"access_key": "live-key", "signing_key": "signing-key"}});
    let (status, channel) = s.post("/api/v1/channels", body).await;
    assert_eq!(status, StatusCode::CREATED, "{channel}");
    let ch = channel["id"].as_i64().expect("id");
    let url = channel["webhook_url"].as_str().expect("webhook URL").to_owned();

    let token = |body: &str, key: &str| {
        let now = chrono::Utc::now().timestamp();
        let claims = json!({"iss": "MessageBird", "nbf": now, "exp": now + 60, "url_hash": sha256_hex(url.as_bytes()),
                            "payload_hash": sha256_hex(body.as_bytes())});
        jwt::sign_hs256(&claims, key.as_bytes())
    };
    let post = |body: String, key: &'static str| {
        let s = &s;
        let signature = token(&body, key);
        async move {
            let headers = [("messagebird-signature-jwt", signature.as_str()), ("content-type", "application/json")];
            post_webhook(s, ch, &headers, &body).await.0
        }
    };
    // MessageBird's documented text webhook, from a number on this channel.
    let mut text: Value =
        serde_json::from_str(&fixture("plugins/messagebird/tests/fixtures/webhook_text_doc.json")).expect("JSON");
    text["contact"] =
        json!({"id": "73afe0acee2127fd3e7d9a7dc622826e", "msisdn": 31612345678_i64, "displayName": "Ann"});
    text["message"]["from"] = json!("+31612345678");
    text["message"]["platform"] = json!("sms");
    let text = text.to_string();
    assert_eq!(post(text.clone(), "another-key").await, StatusCode::UNAUTHORIZED);
    assert_eq!(s.get("/api/v1/contacts").await.1["items"], json!([]), "nothing stored");
    assert_eq!(post(text.clone(), "signing-key").await, StatusCode::OK);
    assert_eq!(post(text.clone(), "signing-key").await, StatusCode::OK, "a retry");
    let contact = s.get("/api/v1/contacts").await.1["items"][0].clone();
    assert_eq!(
        (contact["phone"].clone(), contact["first_name"].clone()),
        (json!("+31612345678"), json!("Ann")),
        "{contact}"
    );
    let (conv_id, messages) = conversation(&s).await;
    assert_eq!(messages.len(), 1, "stored once");
    assert_eq!(messages[0]["content"], json!({"type": "text", "text": "Testing webhook functionality."}));

    let reply = json!({"content": {"type": "text", "text": "Hello from support"}});
    assert_eq!(s.post(&format!("/api/v1/conversations/{conv_id}/messages"), reply).await.0, StatusCode::ACCEPTED);
    let worker = Worker::new(s.app.clone());
    while worker.run_once().await.expect("worker") {}
    let sent = provider.requests().into_iter().rfind(|r| r.path == "/v1/send").expect("sent");
    assert_eq!(sent.headers.get("authorization").map(String::as_str), Some("AccessKey live-key"));
    assert_eq!(
        sent.json(),
        json!({"to": "31612345678", "from": CHANNEL, "type": "text", "content": {"text": "Hello from support"}, "reportUrl": url})
    );

    let update = |status: &str| {
        json!({"type": "message.updated", "message": {"id": "2e15efafec384e1c82e9842075e87beb", "channelId": CHANNEL,
               "platform": "sms", "direction": "sent", "status": status, "type": "text", "content": {"text": "Hello from support"}}})
        .to_string()
    };
    for (name, expected) in [("delivered", "delivered"), ("sent", "delivered")] {
        assert_eq!(post(update(name), "signing-key").await, StatusCode::OK);
        let (_, messages) = conversation(&s).await;
        assert_eq!(messages[0]["status"], expected, "after {name}");
    }

    start_by_phone(&s, ch, "+31612340000").await;
    let sent = provider.requests().into_iter().rfind(|r| r.path == "/v1/send").expect("sent").json();
    assert_eq!(sent["to"], "31612340000", "MessageBird takes the number's digits");
    s.stop().await;
}
