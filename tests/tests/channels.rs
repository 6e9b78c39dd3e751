//! The bundled channel plugins end to end through the server, against a fake provider on loopback: the
//! channel's setup at the provider, a real payload in (the plugins' own fixtures), the contact, conversation
//! and message through the API, an agent's reply, and the exact request the provider received (Telegram,
//! Custom Channel, WhatsApp Cloud API and 360dialog, LINE, Viber, Messenger; the SMS providers are in
//! sms_channels.rs).

use reqwest::StatusCode;
use serde_json::{Value, json};
use switchboard::jobs::Worker;
use switchboard_tests::providers::{fixture, meta_signature, post_webhook, server};
use switchboard_tests::{Backend, FakeProvider, TestServer, both_backends};

/// The one conversation's id and its messages, newest first.
async fn conversation(s: &TestServer) -> (i64, Vec<Value>) {
    let conv = s.get("/api/v1/conversations").await.1["items"][0].clone();
    let id = conv["id"].as_i64().expect("a conversation");
    let messages = s.get(&format!("/api/v1/conversations/{id}/messages")).await.1["items"].as_array().cloned();
    (id, messages.expect("messages"))
}

both_backends!(telegram_end_to_end, telegram);

async fn telegram(backend: Backend) {
    let provider = FakeProvider::start().await;
    provider.answer("/bot123:ABC/setWebhook", 200, json!({"ok": true, "result": true}));
    provider.answer(
        "/bot123:ABC/sendMessage",
        200,
        json!({"ok": true, "result": {"message_id": 6558, "chat": {"id": 218485655}}}),
    );
    let s = server(backend, "telegram", &provider).await;

    // A wrong token: the setup is refused and nothing is stored.
    provider.answer(
        "/botwrong/setWebhook",
        401,
        json!({"ok": false, "error_code": 401, "description": "Unauthorized"}),
    );
    let body = |token: &str| {
        json!({"name": "Support bot", "plugin_id": "telegram", "config": {"api_base_url": provider.base()},
               "secrets": {"bot_token": token, "webhook_secret": "s3cret-Token_1"}})
    };
    let refused = s.post("/api/v1/channels", body("wrong")).await;
    assert_eq!(
        (refused.0, refused.1["error"]["code"].clone()),
        (StatusCode::UNPROCESSABLE_ENTITY, json!("channel_setup_failed"))
    );
    assert_eq!(s.get("/api/v1/channels").await.1["items"], json!([]));

    // The right token: the webhook is registered at Telegram with the channel's URL and secret.
    let (status, channel) = s.post("/api/v1/channels", body("123:ABC")).await;
    assert_eq!(status, StatusCode::CREATED, "{channel}");
    let ch = channel["id"].as_i64().expect("id");
    let set = provider.requests().into_iter().rfind(|r| r.path == "/bot123:ABC/setWebhook").expect("setWebhook");
    assert_eq!(set.json()["url"], channel["webhook_url"]);
    assert_eq!(set.json()["secret_token"], "s3cret-Token_1");

    // Telegram's update with the secret header; without it nothing is stored.
    let update = fixture("plugins/telegram/tests/fixtures/update_message_text.json");
    assert_eq!(post_webhook(&s, ch, &[], &update).await.0, StatusCode::UNAUTHORIZED);
    let secret = [("x-telegram-bot-api-secret-token", "s3cret-Token_1"), ("content-type", "application/json")];
    assert_eq!(post_webhook(&s, ch, &secret, &update).await.0, StatusCode::OK);
    assert_eq!(post_webhook(&s, ch, &secret, &update).await.0, StatusCode::OK, "a retried update");
    let contact = s.get("/api/v1/contacts").await.1["items"][0].clone();
    assert_eq!(
        (contact["first_name"].clone(), contact["language"].clone()),
        (json!("Waffle"), json!("en")),
        "{contact}"
    );
    assert_eq!(contact["identities"], json!([{"channel_id": ch, "external_id": "218485655"}]));
    let (conv_id, messages) = conversation(&s).await;
    assert_eq!(messages.len(), 1, "one message for two deliveries of the same update");
    assert_eq!(messages[0]["content"], json!({"type": "text", "text": "hello there"}));

    // The agent's reply goes out as sendMessage to the chat.
    let reply = json!({"content": {"type": "text", "text": "Hi Waffle"}});
    assert_eq!(s.post(&format!("/api/v1/conversations/{conv_id}/messages"), reply).await.0, StatusCode::ACCEPTED);
    assert!(Worker::new(s.app.clone()).run_once().await.expect("worker"));
    let sent = provider.requests().into_iter().rfind(|r| r.path == "/bot123:ABC/sendMessage").expect("sent");
    assert_eq!((sent.json()["chat_id"].clone(), sent.json()["text"].clone()), (json!(218485655), json!("Hi Waffle")));
    let (_, messages) = conversation(&s).await;
    assert_eq!(
        (messages[0]["status"].clone(), messages[0]["provider_message_id"].clone()),
        (json!("sent"), json!("218485655:6558"))
    );

    // Deleting the channel removes the webhook at Telegram.
    assert_eq!(s.delete(&format!("/api/v1/channels/{ch}")).await.0, StatusCode::NO_CONTENT);
    assert!(provider.requests().iter().any(|r| r.path == "/bot123:ABC/deleteWebhook"), "deleteWebhook was called");
    s.stop().await;
}

both_backends!(custom_channel_end_to_end, custom_channel);

async fn custom_channel(backend: Backend) {
    let provider = FakeProvider::start().await;
    provider.answer(
        "/message",
        200,
        serde_json::from_str(&fixture(
            "plugins/custom-channel/tests/fixtures/custom_channel_outbound_response_ok.json",
        ))
        .expect("json"),
    );
    let s = server(backend, "custom-channel", &provider).await;
    let (status, channel) = s
        .post(
            "/api/v1/channels",
            json!({"name": "Shop system", "plugin_id": "custom-channel",
                   "config": {"base_url": provider.base(), "channel_id": "gfd8g7fd89dgfd"},
                   "secrets": {"api_token": "tok-123"}}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{channel}");
    let ch = channel["id"].as_i64().expect("id");

    let inbound = fixture("plugins/custom-channel/tests/fixtures/custom_channel_inbound_message.json");
    assert_eq!(post_webhook(&s, ch, &[("authorization", "Bearer nope")], &inbound).await.0, StatusCode::UNAUTHORIZED);
    let auth = [("authorization", "Bearer tok-123"), ("content-type", "application/json")];
    let (status, body) = post_webhook(&s, ch, &auth, &inbound).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let contact = s.get("/api/v1/contacts").await.1["items"][0].clone();
    assert_eq!(
        (contact["first_name"].clone(), contact["last_name"].clone()),
        (json!("John"), json!("Doe")),
        "{contact}"
    );
    // A delivery may be as large as the plugin takes as input, above the API's body limit (the same delivery,
    // padded with whitespace: still one message); above the plugin's input limit it is refused, in JSON.
    let (api_limit, input_limit) = (s.app.config.server.max_body_bytes, s.app.config.plugins.limits.input_bytes);
    assert!(api_limit + 1024 * 1024 < input_limit, "the test needs room between {api_limit} and {input_limit}");
    let padded = format!("{inbound}{}", " ".repeat(api_limit + 1024 * 1024));
    let (status, body) = post_webhook(&s, ch, &auth, &padded).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let lone = reqwest::Client::builder().pool_max_idle_per_host(0).build().expect("client");
    let resp = lone
        .post(format!("{}/webhooks/{ch}", s.base))
        .bearer_auth("tok-123")
        .header("content-type", "application/json")
        .body(format!("{inbound}{}", " ".repeat(input_limit)))
        .send()
        .await
        .expect("webhook");
    assert_eq!(resp.status(), StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(resp.json::<Value>().await.expect("json")["error"]["code"], "payload_too_large");
    let (conv_id, messages) = conversation(&s).await;
    assert_eq!(messages.len(), 1, "{messages:?}");
    assert_eq!(messages[0]["content"], json!({"type": "text", "text": "Hello World"}));
    assert_eq!(messages[0]["provider_message_id"], "xcvzzxcxczxczxc");

    let reply = json!({"content": {"type": "text", "text": "Hello World"}});
    assert_eq!(s.post(&format!("/api/v1/conversations/{conv_id}/messages"), reply).await.0, StatusCode::ACCEPTED);
    assert!(Worker::new(s.app.clone()).run_once().await.expect("worker"));
    let sent = provider.requests().into_iter().rfind(|r| r.path == "/message").expect("sent");
    let expected: Value =
        serde_json::from_str(&fixture("plugins/custom-channel/tests/fixtures/custom_channel_outbound_message.json"))
            .expect("json");
    assert_eq!(sent.json(), expected, "the exact body of respond.io's contract");
    assert_eq!(sent.headers.get("authorization").map(String::as_str), Some("Bearer tok-123"));
    let (_, messages) = conversation(&s).await;
    assert_eq!(
        (messages[0]["status"].clone(), messages[0]["provider_message_id"].clone()),
        (json!("sent"), json!("1234567890"))
    );
    s.stop().await;
}

const WA_FIXTURES: &str = "plugins/whatsapp-cloud/tests/fixtures";

both_backends!(whatsapp_cloud_end_to_end, whatsapp_cloud);

async fn whatsapp_cloud(backend: Backend) {
    let provider = FakeProvider::start().await;
    // The reply gets the id the status fixtures refer to, so they move it forward.
    provider.answer(
        "/v21.0/1122334455667/messages",
        200,
        json!({"messaging_product": "whatsapp",
        "contacts": [{"input": "972987654321", "wa_id": "972987654321"}], "messages": [{"id": "wamid.xyzxyz"}]}),
    );
    provider.answer(
        "/v21.0/5467539754836534/message_templates",
        200,
        json!({"data": [
        {"name": "order_update", "language": "en_US", "category": "UTILITY", "status": "APPROVED", "id": "1",
         "components": [{"type": "BODY", "text": "Your order {{1}} has shipped"}]}]}),
    );
    let s = server(backend, "whatsapp-cloud", &provider).await;
    let secret = "app-secret-1";
    let (status, channel) = s
        .post(
            "/api/v1/channels",
            json!({"name": "WhatsApp +972 12 345 6789", "plugin_id": "whatsapp-cloud",
                   "config": {"phone_number_id": "1122334455667", "business_account_id": "5467539754836534",
                              "graph_base_url": provider.base(), "api_version": "v21.0"},
                   "secrets": {"access_token": "EAAG-token", "app_secret": secret, "verify_token": "1qaz2wsx"}}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{channel}");
    let ch = channel["id"].as_i64().expect("id");

    // Creating the channel scheduled its template sync; the worker runs it.
    let worker = Worker::new(s.app.clone());
    while worker.run_once().await.expect("worker") {}
    let templates = s.get("/api/v1/templates").await.1;
    let synced = &templates["items"][0];
    assert_eq!(
        (synced["name"].clone(), synced["status"].clone(), synced["channel_id"].clone()),
        (json!("order_update"), json!("approved"), json!(ch)),
        "{templates}"
    );

    // Meta's handshake.
    let shake = s
        .http
        .get(format!("{}/webhooks/{ch}?hub.mode=subscribe&hub.verify_token=1qaz2wsx&hub.challenge=abc", s.base))
        .send()
        .await
        .expect("handshake");
    assert_eq!((shake.status(), shake.text().await.expect("body")), (StatusCode::OK, "abc".to_owned()));

    // The text fixture, with its own id for the incoming message, signed with the app secret.
    let text = fixture(&format!("{WA_FIXTURES}/inbound_text.json")).replace("wamid.xyzxyz", "wamid.inbound-1");
    let signed = |body: &str| meta_signature(secret, body);
    let post = |body: String, signature: String| {
        let s = &s;
        async move {
            post_webhook(s, ch, &[("x-hub-signature-256", &signature), ("content-type", "application/json")], &body)
                .await
        }
    };
    let tampered = text.replace("Body Text", "Body Text!");
    assert_eq!(post(tampered, signed(&text)).await.0, StatusCode::UNAUTHORIZED, "a tampered body");
    assert_eq!(s.get("/api/v1/contacts").await.1["items"], json!([]), "nothing stored");
    assert_eq!(post(text.clone(), signed(&text)).await.0, StatusCode::OK);
    assert_eq!(post(text.clone(), signed(&text)).await.0, StatusCode::OK, "Meta retries");
    let contact = s.get("/api/v1/contacts").await.1["items"][0].clone();
    assert_eq!(
        (contact["first_name"].clone(), contact["phone"].clone()),
        (json!("Test Name"), json!("+972987654321")),
        "{contact}"
    );
    assert_eq!(contact["country"], Value::Null, "the fixture's number is outside Israel's number plan");
    // The stored number does not stop an edit of another field (only what a request changes is checked).
    let (status, edited) =
        s.patch(&format!("/api/v1/contacts/{}", contact["id"]), json!({"lifecycle_stage": "customer"})).await;
    assert_eq!((status, edited["phone"].clone()), (StatusCode::OK, json!("+972987654321")), "{edited}");
    assert_eq!(edited["lifecycle_stage"], "customer");
    let again = s.patch(&format!("/api/v1/contacts/{}", contact["id"]), json!({"phone": "+972987654321"})).await;
    assert_eq!(again.0, StatusCode::UNPROCESSABLE_ENTITY, "setting such a number is still refused: {}", again.1);
    let (conv_id, messages) = conversation(&s).await;
    assert_eq!(messages.len(), 1);
    assert_eq!(messages[0]["content"], json!({"type": "text", "text": "Body Text"}));

    // One delivery carrying three messages: three messages.
    let mut batch: Value = serde_json::from_str(&text).expect("json");
    let one = batch["entry"][0]["changes"][0]["value"]["messages"][0].clone();
    let three: Vec<Value> = (1..=3)
        .map(|i| {
            let mut m = one.clone();
            m["id"] = json!(format!("wamid.batch-{i}"));
            m["text"]["body"] = json!(format!("part {i}"));
            m
        })
        .collect();
    batch["entry"][0]["changes"][0]["value"]["messages"] = json!(three);
    let batch = batch.to_string();
    assert_eq!(post(batch.clone(), signed(&batch)).await.0, StatusCode::OK);
    let (_, messages) = conversation(&s).await;
    assert_eq!(messages.len(), 4, "1 + 3 messages");
    let detail = s.get(&format!("/api/v1/conversations/{conv_id}")).await.1;
    assert_eq!(detail["window"]["open"], true, "the contact just wrote: {detail}");

    // The agent's reply: the exact Graph API request.
    let reply = json!({"content": {"type": "text", "text": "Hello from support"}});
    assert_eq!(s.post(&format!("/api/v1/conversations/{conv_id}/messages"), reply).await.0, StatusCode::ACCEPTED);
    assert!(worker.run_once().await.expect("worker"));
    let sent = provider.requests().into_iter().rfind(|r| r.path == "/v21.0/1122334455667/messages").expect("sent");
    assert_eq!(sent.headers.get("authorization").map(String::as_str), Some("Bearer EAAG-token"));
    assert_eq!(
        sent.json(),
        json!({"messaging_product": "whatsapp", "recipient_type": "individual", "to": "972987654321",
               "type": "text", "text": {"body": "Hello from support"}})
    );
    let reply_status = || async {
        let (_, messages) = conversation(&s).await;
        (messages[0]["status"].clone(), messages[0]["failure_reason"].clone())
    };
    assert_eq!(reply_status().await.0, json!("sent"));

    // Receipts move it forward only: delivered, read; a late "sent" and a "failed" change nothing.
    for (name, expected) in
        [("status_delivered", "delivered"), ("status_read", "read"), ("status_sent", "read"), ("status_failed", "read")]
    {
        let body = fixture(&format!("{WA_FIXTURES}/{name}.json"));
        assert_eq!(post(body.clone(), signed(&body)).await.0, StatusCode::OK, "{name}");
        assert_eq!(reply_status().await.0, json!(expected), "after {name}");
    }
    s.stop().await;
}

both_backends!(line_end_to_end, line);

async fn line(backend: Backend) {
    use base64::Engine as _;
    use hmac::Mac as _;
    let provider = FakeProvider::start().await;
    provider.answer("/v2/bot/channel/webhook/endpoint", 200, json!({}));
    provider.answer("/v2/bot/message/reply", 200, json!({"sentMessages": [{"id": "5001", "quoteToken": "q1"}]}));
    provider.answer("/v2/bot/message/push", 200, json!({"sentMessages": [{"id": "5002", "quoteToken": "q2"}]}));
    let s = server(backend, "line", &provider).await;
    let body = json!({"name": "LINE", "plugin_id": "line", "config": {"api_base_url": provider.base()},
                      "secrets": {"channel_secret": "line-secret", "channel_access_token": "line-token"}});
    let (status, channel) = s.post("/api/v1/channels", body).await;
    assert_eq!(status, StatusCode::CREATED, "{channel}");
    let ch = channel["id"].as_i64().expect("id");
    // The channel's setup set its webhook URL at LINE.
    let set = provider.requests().into_iter().find(|r| r.path == "/v2/bot/channel/webhook/endpoint").expect("set");
    assert_eq!((set.method.as_str(), set.json()["endpoint"].clone()), ("PUT", channel["webhook_url"].clone()));

    // LINE's delivery, signed with the channel secret; unsigned, nothing is stored.
    let update = fixture("plugins/line/tests/fixtures/webhook_text_message.json");
    let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(b"line-secret").expect("key");
    mac.update(update.as_bytes());
    let signature = base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes());
    assert_eq!(
        post_webhook(&s, ch, &[("x-line-signature", "c2lnbmF0dXJl")], &update).await.0,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(s.get("/api/v1/contacts").await.1["items"], json!([]));
    assert_eq!(post_webhook(&s, ch, &[("x-line-signature", signature.as_str())], &update).await.0, StatusCode::OK);
    let contact = s.get("/api/v1/contacts").await.1["items"][0].clone();
    assert_eq!(contact["identities"], json!([{"channel_id": ch, "external_id": "U206d25c2ea6bd87c17655609a1c37cb8"}]));
    let (conv_id, messages) = conversation(&s).await;
    assert_eq!(messages[0]["content"], json!({"type": "text", "text": "Hello, world"}));

    // The first answer uses the delivery's reply token; the next is a push.
    for text in ["Hi!", "Anything else?"] {
        let reply = json!({"content": {"type": "text", "text": text}});
        assert_eq!(s.post(&format!("/api/v1/conversations/{conv_id}/messages"), reply).await.0, StatusCode::ACCEPTED);
        assert!(Worker::new(s.app.clone()).run_once().await.expect("worker"));
    }
    let sent: Vec<_> = provider.requests().into_iter().filter(|r| r.path.starts_with("/v2/bot/message/")).collect();
    assert_eq!(sent.len(), 2);
    assert_eq!(sent[0].path, "/v2/bot/message/reply");
    assert_eq!(
        sent[0].json(),
        json!({"replyToken": "nHuyWiB7yP5Zw52FIkcQobQuGDXCTA", "messages": [{"type": "text", "text": "Hi!"}]})
    );
    assert_eq!(sent[0].headers.get("authorization").map(String::as_str), Some("Bearer line-token"));
    assert_eq!(sent[1].path, "/v2/bot/message/push");
    assert_eq!(sent[1].json()["to"], "U206d25c2ea6bd87c17655609a1c37cb8");
    let (_, messages) = conversation(&s).await;
    let ids: Vec<Value> = messages.iter().take(2).map(|m| m["provider_message_id"].clone()).collect();
    assert_eq!(ids, [json!("5002"), json!("5001")]);
    s.stop().await;
}

both_backends!(viber_end_to_end, viber);

async fn viber(backend: Backend) {
    use hmac::Mac as _;
    let provider = FakeProvider::start().await;
    provider.answer("/pa/set_webhook", 200, json!({"status": 0, "status_message": "ok"}));
    provider.answer_bytes(
        "/pa/send_message",
        200,
        "application/json",
        br#"{"status":0,"status_message":"ok","message_token":5741311803571721087}"#.to_vec(),
    );
    let s = server(backend, "viber", &provider).await;
    let body = json!({"name": "Viber", "plugin_id": "viber", "config": {"api_base_url": provider.base(), "sender_name": "Acme"},
                      "secrets": {"auth_token": "viber-token"}});
    let (status, channel) = s.post("/api/v1/channels", body).await;
    assert_eq!(status, StatusCode::CREATED, "{channel}");
    let ch = channel["id"].as_i64().expect("id");
    let set = provider.requests().into_iter().find(|r| r.path == "/pa/set_webhook").expect("set_webhook");
    assert_eq!(set.json()["url"], channel["webhook_url"]);
    assert_eq!(set.headers.get("x-viber-auth-token").map(String::as_str), Some("viber-token"));

    let signed = |raw: &str| {
        let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(b"viber-token").expect("key");
        mac.update(raw.as_bytes());
        hex::encode(mac.finalize().into_bytes())
    };
    let update = fixture("plugins/viber/tests/fixtures/webhook_message_text.json");
    assert_eq!(post_webhook(&s, ch, &[("x-viber-content-signature", "00")], &update).await.0, StatusCode::UNAUTHORIZED);
    let signature = signed(&update);
    assert_eq!(
        post_webhook(&s, ch, &[("x-viber-content-signature", signature.as_str())], &update).await.0,
        StatusCode::OK
    );
    let contact = s.get("/api/v1/contacts").await.1["items"][0].clone();
    assert_eq!(
        (contact["first_name"].clone(), contact["identities"][0]["external_id"].clone()),
        (json!("John McClane"), json!("01234567890A="))
    );
    let (conv_id, messages) = conversation(&s).await;
    assert_eq!(messages[0]["provider_message_id"], "4912661846655238145", "the 64-bit token is exact");

    let reply = json!({"content": {"type": "text", "text": "Hello John"}});
    assert_eq!(s.post(&format!("/api/v1/conversations/{conv_id}/messages"), reply).await.0, StatusCode::ACCEPTED);
    assert!(Worker::new(s.app.clone()).run_once().await.expect("worker"));
    let sent = provider.requests().into_iter().rfind(|r| r.path == "/pa/send_message").expect("sent").json();
    assert_eq!(
        (sent["receiver"].clone(), sent["text"].clone(), sent["sender"]["name"].clone()),
        (json!("01234567890A="), json!("Hello John"), json!("Acme"))
    );
    // Viber's receipt for that message, by its 64-bit token, moves it to delivered.
    let receipt = r#"{"event":"delivered","timestamp":1457764197628,"message_token":5741311803571721087,"user_id":"01234567890A="}"#;
    assert_eq!(
        post_webhook(&s, ch, &[("x-viber-content-signature", signed(receipt).as_str())], receipt).await.0,
        StatusCode::OK
    );
    let (_, messages) = conversation(&s).await;
    assert_eq!(
        (messages[0]["provider_message_id"].clone(), messages[0]["status"].clone()),
        (json!("5741311803571721087"), json!("delivered"))
    );
    s.stop().await;
}

both_backends!(messenger_end_to_end, messenger);

async fn messenger(backend: Backend) {
    const PSID: &str = "1412611362105802";
    let provider = FakeProvider::start().await;
    provider.answer("/v21.0/me/subscribed_apps", 200, json!({"success": true}));
    provider.answer(&format!("/v21.0/{PSID}"), 200, json!({"first_name": "Peter", "last_name": "Chang", "id": PSID}));
    provider.answer("/v21.0/me/messages", 200, json!({"recipient_id": PSID, "message_id": "m_reply-1"}));
    let s = server(backend, "messenger", &provider).await;
    let secret = "meta-app-secret";
    let body = json!({"name": "Acme Page", "plugin_id": "messenger", "config": {"api_base_url": provider.base()},
                      "secrets": {"page_access_token": "PAGE-TOKEN", "app_secret": secret, "verify_token": "1qaz2wsx"}});
    let (status, channel) = s.post("/api/v1/channels", body).await;
    assert_eq!(status, StatusCode::CREATED, "{channel}");
    let ch = channel["id"].as_i64().expect("id");
    let subscribe =
        provider.requests().into_iter().find(|r| r.path.starts_with("/v21.0/me/subscribed_apps?")).expect("subscribed");
    assert!(subscribe.path.contains("message_echoes"), "{}", subscribe.path);
    assert_eq!(subscribe.headers.get("authorization").map(String::as_str), Some("Bearer PAGE-TOKEN"));

    let shake = s
        .http
        .get(format!("{}/webhooks/{ch}?hub.mode=subscribe&hub.verify_token=1qaz2wsx&hub.challenge=abc", s.base))
        .send()
        .await
        .expect("handshake");
    assert_eq!((shake.status(), shake.text().await.expect("body")), (StatusCode::OK, "abc".to_owned()));
    // Meta's mismatch case: another verify token is refused with a 403.
    let wrong = s
        .http
        .get(format!("{}/webhooks/{ch}?hub.mode=subscribe&hub.verify_token=3edc4rfv&hub.challenge=abc", s.base))
        .send()
        .await
        .expect("handshake");
    assert_eq!(wrong.status(), StatusCode::FORBIDDEN);

    let post = |body: String| {
        let s = &s;
        async move {
            let signature = meta_signature(secret, &body);
            post_webhook(s, ch, &[("x-hub-signature-256", &signature), ("content-type", "application/json")], &body)
                .await
                .0
        }
    };
    let text = fixture("plugins/messenger/tests/fixtures/webhook_text_message.json");
    let forged = meta_signature("another-secret", &text);
    assert_eq!(post_webhook(&s, ch, &[("x-hub-signature-256", &forged)], &text).await.0, StatusCode::UNAUTHORIZED);
    assert_eq!(s.get("/api/v1/contacts").await.1["items"], json!([]), "nothing stored");
    assert_eq!(post(text.clone()).await, StatusCode::OK);
    assert_eq!(post(text.clone()).await, StatusCode::OK, "Meta retries");
    let contact = s.get("/api/v1/contacts").await.1["items"][0].clone();
    assert_eq!(
        (contact["first_name"].clone(), contact["last_name"].clone(), contact["identities"][0]["external_id"].clone()),
        (json!("Peter"), json!("Chang"), json!(PSID)),
        "the name from the Graph API: {contact}"
    );
    let (conv_id, messages) = conversation(&s).await;
    assert_eq!(messages.len(), 1, "stored once");
    assert_eq!(messages[0]["content"], json!({"type": "text", "text": "text"}));

    // The agent's reply: Meta's documented Send API request, marked as ours.
    let reply = json!({"content": {"type": "text", "text": "hello, world"}});
    let (_, queued) = s.post(&format!("/api/v1/conversations/{conv_id}/messages"), reply).await;
    let worker = Worker::new(s.app.clone());
    assert!(worker.run_once().await.expect("worker"));
    let sent = provider.requests().into_iter().rfind(|r| r.path == "/v21.0/me/messages").expect("sent");
    assert_eq!(
        sent.json(),
        json!({"recipient": {"id": PSID}, "messaging_type": "RESPONSE",
               "message": {"text": "hello, world", "metadata": format!("switchboard:m{}", queued["id"])}})
    );

    // Meta echoes every message the Page sends: Switchboard's own is known already, one written in the
    // Page's inbox is stored as an outgoing message.
    let echo = |mid: &str, metadata: Option<String>, text: &str| {
        let mut message = json!({"mid": mid, "is_echo": true, "app_id": 1517776481860111_i64, "text": text});
        if let Some(m) = metadata {
            message["metadata"] = m.into();
        }
        json!({"object": "page", "entry": [{"id": "1895382890692545", "time": 1, "messaging": [{
            "sender": {"id": "1895382890692545"}, "recipient": {"id": PSID}, "timestamp": 1, "message": message}]}]})
        .to_string()
    };
    assert_eq!(
        post(echo("m_reply-1", Some(format!("switchboard:m{}", queued["id"])), "hello, world")).await,
        StatusCode::OK
    );
    assert_eq!(post(echo("m_inbox-1", None, "Sent from the Page inbox")).await, StatusCode::OK);
    assert_eq!(post(echo("m_inbox-1", None, "Sent from the Page inbox")).await, StatusCode::OK, "Meta retries");
    let (_, messages) = conversation(&s).await;
    let summary: Vec<(Value, Value, Value)> =
        messages.iter().map(|m| (m["direction"].clone(), m["content"]["text"].clone(), m["status"].clone())).collect();
    assert_eq!(
        summary,
        vec![
            (json!("outgoing"), json!("Sent from the Page inbox"), json!("sent")),
            (json!("outgoing"), json!("hello, world"), json!("sent")),
            (json!("incoming"), json!("text"), json!("delivered")),
        ]
    );

    // Watermarks: everything sent up to then is delivered, then read.
    let watermark = |kind: &str| {
        let now = chrono::Utc::now().timestamp_millis() + 1000;
        json!({"object": "page", "entry": [{"id": "1895382890692545", "time": now, "messaging": [{
            "sender": {"id": PSID}, "recipient": {"id": "1895382890692545"}, "timestamp": now,
            kind: {"watermark": now, "seq": 37}}]}]})
        .to_string()
    };
    assert_eq!(post(watermark("delivery")).await, StatusCode::OK);
    let statuses = || async {
        let (_, messages) = conversation(&s).await;
        messages.iter().filter(|m| m["direction"] == "outgoing").map(|m| m["status"].clone()).collect::<Vec<_>>()
    };
    assert_eq!(statuses().await, vec![json!("delivered"), json!("delivered")]);
    assert_eq!(post(watermark("read")).await, StatusCode::OK);
    assert_eq!(statuses().await, vec![json!("read"), json!("read")]);
    assert_eq!(post(watermark("delivery")).await, StatusCode::OK, "a late delivery watermark");
    assert_eq!(statuses().await, vec![json!("read"), json!("read")], "statuses move forward only");
    s.stop().await;
}

both_backends!(whatsapp_360dialog_end_to_end, whatsapp_360dialog);

async fn whatsapp_360dialog(backend: Backend) {
    let provider = FakeProvider::start().await;
    provider.answer("/v1/configs/webhook", 200, json!({"url": "registered"}));
    provider.answer("/v1/configs/templates", 200, json!({"count": 0, "total": 0, "waba_templates": []}));
    provider.answer(
        "/messages",
        200,
        json!({"messaging_product": "whatsapp", "contacts": [{"input": "972987654321", "wa_id": "972987654321"}],
               "messages": [{"id": "wamid.xyzxyz"}]}),
    );
    let s = server(backend, "whatsapp-360dialog", &provider).await;
    let body = json!({"name": "WhatsApp via 360dialog", "plugin_id": "whatsapp-360dialog",
                      "config": {"api_base_url": provider.base()}, "secrets": {"api_key": "d360-key"}});
    let (status, channel) = s.post("/api/v1/channels", body).await;
    assert_eq!(status, StatusCode::CREATED, "{channel}");
    let ch = channel["id"].as_i64().expect("id");
    // Creating the channel registered its webhook at 360dialog, with the token deliveries must bring back.
    let registered = provider.requests().into_iter().find(|r| r.path == "/v1/configs/webhook").expect("registered");
    assert_eq!(registered.headers.get("d360-api-key").map(String::as_str), Some("d360-key"));
    assert_eq!(registered.json()["url"], channel["webhook_url"]);
    let token = registered.json()["headers"]["X-Switchboard-Token"].as_str().expect("token").to_owned();

    // The fixtures' incoming message and receipt share an id; the incoming one gets its own.
    let text = fixture(&format!("{WA_FIXTURES}/inbound_text.json")).replace("wamid.xyzxyz", "wamid.inbound-1");
    let post = |body: String, token: String| {
        let s = &s;
        async move { post_webhook(s, ch, &[("x-switchboard-token", &token)], &body).await.0 }
    };
    assert_eq!(post(text.clone(), "not-the-token".into()).await, StatusCode::UNAUTHORIZED);
    assert_eq!(s.get("/api/v1/contacts").await.1["items"], json!([]), "nothing stored");
    assert_eq!(post(text.clone(), token.clone()).await, StatusCode::OK);
    assert_eq!(post(text.clone(), token.clone()).await, StatusCode::OK, "a redelivery");
    let (conv_id, messages) = conversation(&s).await;
    assert_eq!(messages.len(), 1, "stored once");
    assert_eq!(messages[0]["content"], json!({"type": "text", "text": "Body Text"}));

    let reply = json!({"content": {"type": "text", "text": "Hello from support"}});
    assert_eq!(s.post(&format!("/api/v1/conversations/{conv_id}/messages"), reply).await.0, StatusCode::ACCEPTED);
    let worker = Worker::new(s.app.clone());
    while worker.run_once().await.expect("worker") {}
    let sent = provider.requests().into_iter().rfind(|r| r.path == "/messages").expect("sent");
    assert_eq!(sent.headers.get("d360-api-key").map(String::as_str), Some("d360-key"));
    assert_eq!(
        sent.json(),
        json!({"messaging_product": "whatsapp", "recipient_type": "individual", "to": "972987654321",
               "type": "text", "text": {"body": "Hello from support"}})
    );
    let delivered = fixture(&format!("{WA_FIXTURES}/status_delivered.json"));
    assert_eq!(post(delivered, token).await, StatusCode::OK);
    let (_, messages) = conversation(&s).await;
    assert_eq!(
        (messages[0]["provider_message_id"].clone(), messages[0]["status"].clone()),
        (json!("wamid.xyzxyz"), json!("delivered"))
    );
    s.stop().await;
}
