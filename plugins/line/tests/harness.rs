//! The LINE channel tested offline: its built component in a real host, fed LINE's recorded webhooks and
//! signature vectors, answering a stand-in Messaging API at `https://line.test`.

use base64::Engine as _;
use hmac::{Hmac, Mac};
use serde_json::{Value, json};
use sha2::Sha256;
use switchboard_plugin_host::testing::{DEFAULT_NOW_MS, Harness, Request};
use switchboard_plugin_host::{SendError, WebhookError};
use switchboard_plugin_sdk::event::{ContactProfile, InboundEvent, OutboundMessage};

const API: &str = "https://line.test";
const SECRET: &str = "channel_secret";
const USER: &str = "U206d25c2ea6bd87c17655609a1c37cb8";

fn fixture(name: &str) -> Value {
    let path = format!("{}/tests/fixtures/{name}", switchboard_plugin_host::plugin_dir!().display());
    serde_json::from_str(&std::fs::read_to_string(&path).expect("fixture")).expect("fixture JSON")
}

fn harness_with(secret: &str) -> Harness {
    Harness::build(switchboard_plugin_host::plugin_dir!())
        .config(json!({ "api_base_url": API }))
        .secret("channel_secret", secret)
        .secret("channel_access_token", "token-1")
        .grant(API)
}

fn harness() -> Harness {
    harness_with(SECRET)
}

fn sign(secret: &str, body: &[u8]) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("key");
    mac.update(body);
    base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes())
}

fn deliver(h: &Harness, body: &Value) -> Result<Vec<InboundEvent>, WebhookError> {
    let raw = body.to_string();
    let request = Request::post(raw.clone()).header("X-Line-Signature", &sign(SECRET, raw.as_bytes()));
    let (events, answer) = h.handle_webhook(request.into())?;
    assert_eq!(answer.status, 200);
    Ok(events)
}

#[test]
fn the_signature_vectors_hold_and_anything_else_is_refused() {
    let vectors = fixture("signature_vectors.json");
    for v in vectors["vectors"].as_array().expect("vectors") {
        let secret = v["channel_secret"].as_str().expect("secret");
        let body = v["raw_body"].as_str().expect("body");
        let expected = v["expected_signature"].as_str().expect("signature");
        assert_eq!(sign(secret, body.as_bytes()), expected, "the test's own HMAC agrees with the vector");
        let h = harness_with(secret);
        // A valid signature gets past the check; these bodies are not JSON, so the parse refuses them.
        let signed = h.handle_webhook(Request::post(body).header("X-Line-Signature", expected).into());
        assert!(matches!(signed, Err(WebhookError::BadRequest(_))), "{signed:?}");
        let invalid = v["invalid_example"].as_str().unwrap_or("AAAA");
        let refused = h.handle_webhook(Request::post(body).header("X-Line-Signature", invalid).into());
        assert!(matches!(refused, Err(WebhookError::Unauthorized(_))), "{refused:?}");
        let missing = h.handle_webhook(Request::post(body).into());
        assert!(matches!(missing, Err(WebhookError::Unauthorized(_))), "{missing:?}");
    }
}

#[test]
fn a_text_message_becomes_an_event_and_its_reply_uses_the_token() {
    let h = harness();
    let events = deliver(&h, &fixture("webhook_text_message.json")).expect("accepted");
    assert_eq!(
        events,
        vec![InboundEvent::Message {
            contact: ContactProfile { external_id: USER.into(), ..Default::default() },
            provider_message_id: "325708".into(),
            timestamp_ms: Some(1_462_629_479_859),
            content: json!({ "type": "text", "text": "Hello, world" }),
        }]
    );
    // Answered within the token's minute: a reply, exactly LINE's documented body.
    h.respond(
        "POST",
        &format!("{API}/v2/bot/message/reply"),
        200,
        json!({ "sentMessages": [{ "id": "461230966842064897", "quoteToken": "q" }] }).to_string(),
    );
    h.respond(
        "POST",
        &format!("{API}/v2/bot/message/push"),
        200,
        json!({ "sentMessages": [{ "id": "461230966842064898", "quoteToken": "q" }] }).to_string(),
    );
    let hello = OutboundMessage {
        to: USER.into(),
        content: json!({ "type": "text", "text": "Hello, world" }),
        ..Default::default()
    };
    assert_eq!(h.send(&hello).expect("sent"), "461230966842064897");
    let sent = h.requests();
    assert_eq!(sent[0].url, format!("{API}/v2/bot/message/reply"));
    assert_eq!(sent[0].json(), fixture("reply_request.json"));
    assert_eq!(sent[0].header("authorization"), Some("Bearer token-1"));
    // The token is used once: the next message is pushed, exactly LINE's documented body.
    assert_eq!(h.send(&hello).expect("sent"), "461230966842064898");
    let sent = h.requests();
    assert_eq!(sent[1].url, format!("{API}/v2/bot/message/push"));
    assert_eq!(sent[1].json(), fixture("push_request.json"));
}

#[test]
fn a_stale_or_refused_token_means_a_push() {
    let h = harness();
    // A token that came more than a minute ago.
    h.kv_set("reply-token:U1", json!({ "value": "old", "at": DEFAULT_NOW_MS - 70_000 }).to_string().as_bytes());
    h.respond("POST", &format!("{API}/v2/bot/message/push"), 200, "{}");
    let hi =
        OutboundMessage { to: "U1".into(), content: json!({ "type": "text", "text": "hi" }), ..Default::default() };
    let id = h.send(&hi).expect("pushed");
    assert!(id.starts_with("line:U1:"), "an older API's empty answer still gives an id: {id}");
    assert_eq!(h.requests().len(), 1);
    assert!(h.requests()[0].url.ends_with("/push"));
    // A fresh token LINE refuses anyway: pushed after the refusal.
    h.kv_set("reply-token:U1", json!({ "value": "used", "at": DEFAULT_NOW_MS }).to_string().as_bytes());
    h.respond(
        "POST",
        &format!("{API}/v2/bot/message/reply"),
        400,
        json!({ "message": "Invalid reply token" }).to_string(),
    );
    h.send(&hi).expect("pushed");
    let urls: Vec<String> = h.requests().iter().map(|r| r.url.clone()).collect();
    assert!(urls[1].ends_with("/reply") && urls[2].ends_with("/push"), "{urls:?}");
}

#[test]
fn postbacks_follows_media_and_groups() {
    let h = harness();
    let body = json!({ "destination": "U0", "events": [
        { "type": "postback", "replyToken": "r1", "timestamp": 1, "webhookEventId": "ev-1",
          "source": { "type": "user", "userId": "U1" }, "postback": { "data": "i=1|t=Blue" } },
        { "type": "follow", "replyToken": "r2", "timestamp": 2, "webhookEventId": "ev-2", "source": { "type": "user", "userId": "U2" } },
        { "type": "unfollow", "timestamp": 3, "webhookEventId": "ev-3", "source": { "type": "user", "userId": "U3" } },
        { "type": "message", "replyToken": "r4", "timestamp": 4, "source": { "type": "group", "groupId": "C9", "userId": "U4" },
          "message": { "id": "77", "type": "image", "contentProvider": { "type": "line" } } },
        { "type": "message", "timestamp": 5, "source": { "type": "user", "userId": "U5" },
          "message": { "id": "78", "type": "file", "fileName": "invoice.pdf", "fileSize": 2048 } },
        { "type": "message", "timestamp": 6, "source": { "type": "user", "userId": "U6" },
          "message": { "id": "79", "type": "location", "title": "Office", "address": "1 Main St", "latitude": 35.6, "longitude": 139.7 } }
    ]});
    let events = deliver(&h, &body).expect("accepted");
    let contents: Vec<(String, Value)> = events
        .iter()
        .filter_map(|e| match e {
            InboundEvent::Message { contact, content, .. } => Some((contact.external_id.clone(), content.clone())),
            _ => None,
        })
        .collect();
    assert_eq!(
        contents,
        vec![
            ("U1".to_owned(), json!({ "type": "reply", "text": "Blue", "payload": "i=1|t=Blue" })),
            ("C9".to_owned(), json!({ "type": "media", "kind": "image", "media_ref": "77" })),
            (
                "U5".to_owned(),
                json!({ "type": "media", "kind": "document", "media_ref": "78", "filename": "invoice.pdf" })
            ),
            (
                "U6".to_owned(),
                json!({ "type": "location", "latitude": 35.6, "longitude": 139.7, "name": "Office", "address": "1 Main St" })
            ),
        ]
    );
    assert!(
        events.iter().any(|e| matches!(e, InboundEvent::Contact { contact } if contact.external_id == "U2")),
        "a follow is a contact"
    );
    assert_eq!(events.len(), 5, "an unfollow gives no event");
    // The group's token was kept for the group's chat; media downloads go to the content API.
    assert!(h.kv_get("reply-token:C9").is_some());
    let download = h.media_request("77").expect("a download");
    assert_eq!(
        (download.method.as_str(), download.url.as_str()),
        ("GET", "https://line.test/v2/bot/message/77/content")
    );
    assert!(h.media_request("../x").is_err());
}

#[test]
fn sends_media_locations_and_quick_replies() {
    let h = harness();
    h.respond(
        "POST",
        &format!("{API}/v2/bot/message/push"),
        200,
        json!({ "sentMessages": [{ "id": "1" }] }).to_string(),
    );
    let send = |content: Value| h.send(&OutboundMessage { to: "U1".into(), content, ..Default::default() });
    send(json!({ "type": "media", "kind": "image", "url": "https://cdn.test/a.jpg", "caption": "Your receipt" }))
        .expect("sent");
    send(json!({ "type": "location", "latitude": 1.5, "longitude": 2.5, "name": "Shop" })).expect("sent");
    send(json!({ "type": "interactive", "text": "Pick one", "buttons": ["Blue", "A very long button title here"] }))
        .expect("sent");
    let bodies: Vec<Value> = h.requests().iter().map(|r| r.json()["messages"].clone()).collect();
    assert_eq!(
        bodies[0],
        json!([{ "type": "text", "text": "Your receipt" }, { "type": "image", "originalContentUrl": "https://cdn.test/a.jpg", "previewImageUrl": "https://cdn.test/a.jpg" }])
    );
    assert_eq!(
        bodies[1],
        json!([{ "type": "location", "title": "Shop", "address": "Shop", "latitude": 1.5, "longitude": 2.5 }])
    );
    let items = &bodies[2][0]["quickReply"]["items"];
    assert_eq!(
        items[0]["action"],
        json!({ "type": "postback", "label": "Blue", "data": "i=0|t=Blue", "displayText": "Blue" })
    );
    assert_eq!(items[1]["action"]["label"], "A very long button t", "labels are cut at 20 characters");
    let refused = send(json!({ "type": "template", "template_id": 1 }));
    assert!(matches!(refused, Err(SendError::Permanent(_))), "{refused:?}");
}

#[test]
fn line_errors_are_classified() {
    let h = harness();
    let hi =
        OutboundMessage { to: "U1".into(), content: json!({ "type": "text", "text": "hi" }), ..Default::default() };
    for (status, body, check) in [
        (401, json!({ "message": "Authentication failed" }), "bad credentials"),
        (429, json!({ "message": "You have reached your monthly limit." }), "transient"),
        (
            400,
            json!({ "message": "The request body has 1 error(s)", "details": [{ "message": "May not be empty", "property": "messages[0].text" }] }),
            "permanent",
        ),
    ] {
        h.respond("POST", &format!("{API}/v2/bot/message/push"), status, body.to_string());
        let got = h.send(&hi);
        match (check, &got) {
            ("bad credentials", Err(SendError::BadCredentials(_))) | ("transient", Err(SendError::Transient(_))) => {}
            ("permanent", Err(SendError::Permanent(why))) => {
                assert!(why.contains("messages[0].text: May not be empty"), "{why}")
            }
            _ => panic!("{status}: expected {check}, got {got:?}"),
        }
    }
    h.respond("PUT", &format!("{API}/v2/bot/channel/webhook/endpoint"), 200, "{}");
    h.connect("https://switchboard.test/webhooks/7").expect("connected");
    assert_eq!(
        h.requests().last().expect("a request").json(),
        json!({ "endpoint": "https://switchboard.test/webhooks/7" })
    );
}
