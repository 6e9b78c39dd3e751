//! The Messenger channel tested offline: its built component in a real host, fed Meta's recorded
//! deliveries, handshake and signature vector, answering a stand-in Graph API at `https://graph.test`.

use hmac::{Hmac, Mac};
use serde_json::{Value, json};
use sha2::Sha256;
use switchboard_plugin_host::testing::{Harness, Request};
use switchboard_plugin_host::{SendError, WebhookError};
use switchboard_plugin_sdk::event::{ContactProfile, DeliveryStatus, InboundEvent, OutboundMessage};

const API: &str = "https://graph.test";
const SECRET: &str = "FAKE_SECRET";

fn fixture_text(name: &str) -> String {
    let path = format!("{}/tests/fixtures/{name}", switchboard_plugin_host::plugin_dir!().display());
    std::fs::read_to_string(&path).expect("fixture")
}

fn fixture(name: &str) -> Value {
    serde_json::from_str(&fixture_text(name)).expect("fixture JSON")
}

fn harness() -> Harness {
    Harness::build(switchboard_plugin_host::plugin_dir!())
        .config(json!({ "api_base_url": API }))
        .secret("app_secret", SECRET)
        .secret("verify_token", "1qaz2wsx")
        .secret("page_access_token", "PAGE_TOKEN")
        .grant(API)
}

fn sign(body: &[u8]) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(SECRET.as_bytes()).expect("key");
    mac.update(body);
    format!("sha256={}", hex::encode(mac.finalize().into_bytes()))
}

/// Delivers a fixture's exact bytes, signed.
fn deliver(h: &Harness, raw: &str) -> Result<Vec<InboundEvent>, WebhookError> {
    let request = Request::post(raw.to_owned()).header("X-Hub-Signature-256", &sign(raw.as_bytes()));
    h.handle_webhook(request.into()).map(|(events, answer)| {
        assert_eq!(answer.status, 200);
        events
    })
}

#[test]
fn the_signature_vector_holds_in_both_headers_and_anything_else_is_refused() {
    let v = fixture("signature_vector.json");
    let body = v["raw_body"].as_str().expect("body");
    assert_eq!(sign(body.as_bytes()), v["x_hub_signature_256_computed"].as_str().expect("sha256"));
    let h = harness();
    let with = |name: &str, value: &str| h.handle_webhook(Request::post(body).header(name, value).into());
    // `{}` is signed correctly but is no Messenger delivery: past the signature, refused by the parser.
    let sha256 = with("X-Hub-Signature-256", v["x_hub_signature_256_computed"].as_str().expect("sha256"));
    assert!(matches!(sha256, Err(WebhookError::BadRequest(_))), "{sha256:?}");
    let sha1 = with("X-Hub-Signature", v["x_hub_signature_sha1"].as_str().expect("sha1"));
    assert!(matches!(sha1, Err(WebhookError::BadRequest(_))), "{sha1:?}");
    let wrong = with("X-Hub-Signature", v["x_hub_signature_sha1_invalid_example"].as_str().expect("invalid"));
    assert!(matches!(wrong, Err(WebhookError::Unauthorized(_))), "{wrong:?}");
    let missing = h.handle_webhook(Request::post(body).into());
    assert!(matches!(missing, Err(WebhookError::Unauthorized(_))), "{missing:?}");
    // A delivery signed for another body.
    let raw = fixture_text("webhook_text_message.json");
    let forged = h.handle_webhook(Request::post(raw).header("X-Hub-Signature-256", &sign(b"{}")).into());
    assert!(matches!(forged, Err(WebhookError::Unauthorized(_))), "{forged:?}");
}

#[test]
fn the_handshake_answers_the_challenge_only_with_the_right_token() {
    let v = fixture("verify_handshake.json");
    let query = |q: &Value| {
        q.as_object()
            .expect("query")
            .iter()
            .map(|(k, v)| format!("{k}={}", v.as_str().expect("value")))
            .collect::<Vec<_>>()
            .join("&")
    };
    let h = harness();
    let answer = h.verify(Request::get(&query(&v["request"]["query"])).into()).expect("accepted").expect("a handshake");
    assert_eq!(answer.status, 200);
    assert_eq!(String::from_utf8_lossy(&answer.body), v["expected_response"]["body"].as_str().expect("body"));
    let refused = h.verify(Request::get(&query(&v["mismatch_case"]["query"])).into());
    assert!(matches!(refused, Err(WebhookError::Unauthorized(_))), "{refused:?}");
}

#[test]
fn a_text_message_becomes_an_event_with_the_profile_fetched_once() {
    let h = harness();
    h.respond(
        "GET",
        &format!("{API}/v21.0/1412611362105802"),
        200,
        json!({ "first_name": "Peter", "last_name": "Chang", "profile_pic": "https://x.fbcdn.net/p.jpg", "id": "1412611362105802" })
            .to_string(),
    );
    let raw = fixture_text("webhook_text_message.json");
    let events = deliver(&h, &raw).expect("accepted");
    let sender = ContactProfile { external_id: "1412611362105802".into(), ..Default::default() };
    assert_eq!(
        events,
        vec![
            InboundEvent::Message {
                contact: sender.clone(),
                provider_message_id: "mid.1486464322190:cb04e5a654".into(),
                timestamp_ms: Some(1_486_464_322_190),
                content: json!({ "type": "text", "text": "text" }),
            },
            InboundEvent::Contact {
                contact: ContactProfile {
                    first_name: Some("Peter".into()),
                    last_name: Some("Chang".into()),
                    avatar_url: Some("https://x.fbcdn.net/p.jpg".into()),
                    ..sender
                }
            },
        ]
    );
    let profile_call = &h.requests()[0];
    assert_eq!(profile_call.url, format!("{API}/v21.0/1412611362105802?fields=first_name,last_name,profile_pic"));
    assert!(profile_call.headers.iter().any(|(k, v)| k == "authorization" && v == "Bearer PAGE_TOKEN"));
    // The second message of the same person asks no more.
    let again = deliver(&h, &raw).expect("accepted");
    assert_eq!(again.len(), 1);
    assert_eq!(h.requests().len(), 1);
}

#[test]
fn deliveries_and_reads_become_receipts_and_watermarks() {
    let h = harness();
    let delivered = deliver(&h, &fixture_text("webhook_delivery.json")).expect("accepted");
    assert_eq!(
        delivered,
        vec![
            InboundEvent::Status {
                provider_message_id: "mid.1458668856218:ed81099e15d3f4f233".into(),
                status: DeliveryStatus::Delivered,
                reason: None,
                timestamp_ms: None,
            },
            InboundEvent::Watermark {
                contact_external_id: "404217156637689".into(),
                status: DeliveryStatus::Delivered,
                watermark_ms: 1_458_668_856_253,
            },
        ]
    );
    let read = deliver(&h, &fixture_text("webhook_read.json")).expect("accepted");
    assert_eq!(
        read,
        vec![InboundEvent::Watermark {
            contact_external_id: "404217156637689".into(),
            status: DeliveryStatus::Read,
            watermark_ms: 1_458_668_856_253,
        }]
    );
}

#[test]
fn a_reply_is_the_documented_send_request() {
    let h = harness();
    h.respond("POST", &format!("{API}/v21.0/me/messages"), 200, fixture_text("send_response.json"));
    let message = OutboundMessage {
        to: "1254477777772919".into(),
        content: json!({ "type": "text", "text": "hello, world" }),
        reference: "m42".into(),
        ..Default::default()
    };
    assert_eq!(
        h.send(&message).expect("sent"),
        "AG5Hz2Uq7tuwNEhXfYYKj8mJEM_QPpz5jdCK48PnKAjSdjfipqxqMvK8ma6AC8fplwlqLP_5cgXIbu7I3rBN0P"
    );
    let sent = &h.requests()[0];
    assert_eq!((sent.method.as_str(), sent.url.as_str()), ("POST", format!("{API}/v21.0/me/messages").as_str()));
    let body: Value = serde_json::from_slice(&sent.body).expect("JSON body");
    let mut documented = fixture("send_text_request.json");
    documented["recipient"]["id"] = "1254477777772919".into();
    // Meta's documented request, plus the metadata that marks the echo of this message as ours.
    documented["message"]["metadata"] = "switchboard:m42".into();
    assert_eq!(body, documented);

    // Outside the 24 hours: tagged.
    h.send(&OutboundMessage { outside_window: true, ..message }).expect("sent");
    let tagged: Value = serde_json::from_slice(&h.requests()[1].body).expect("JSON body");
    assert_eq!((tagged["messaging_type"].as_str(), tagged["tag"].as_str()), (Some("MESSAGE_TAG"), Some("HUMAN_AGENT")));
}

#[test]
fn quick_replies_and_captioned_files() {
    let h = harness();
    h.respond(
        "POST",
        &format!("{API}/v21.0/me/messages"),
        200,
        json!({ "recipient_id": "U", "message_id": "m.9" }).to_string(),
    );
    let send = |content: Value| h.send(&OutboundMessage { to: "U".into(), content, ..Default::default() });
    send(json!({ "type": "interactive", "text": "Which size?", "buttons": ["Small", "A very long button title indeed"] }))
        .expect("sent");
    let body: Value = serde_json::from_slice(&h.requests()[0].body).expect("JSON body");
    assert_eq!(
        body["message"]["quick_replies"],
        json!([
            { "content_type": "text", "title": "Small", "payload": "Small" },
            { "content_type": "text", "title": "A very long button t", "payload": "A very long button title indeed" }
        ])
    );
    assert_eq!(
        send(
            json!({ "type": "media", "kind": "document", "url": "https://files.test/a.pdf", "caption": "The invoice" })
        )
        .expect("sent"),
        "m.9"
    );
    let bodies: Vec<Value> = h.requests()[1..].iter().map(|r| serde_json::from_slice(&r.body).expect("JSON")).collect();
    assert_eq!(bodies[0]["message"]["text"], "The invoice");
    assert_eq!(
        bodies[1]["message"]["attachment"],
        json!({ "type": "file", "payload": { "url": "https://files.test/a.pdf", "is_reusable": true } })
    );
}

#[test]
fn a_comment_is_answered_once_by_private_reply() {
    let h = harness();
    let raw = json!({ "object": "page", "entry": [{ "id": "PAGE", "time": 1, "changes": [{ "field": "feed", "value": {
        "item": "comment", "verb": "add", "comment_id": "POST_COMMENT", "post_id": "PAGE_POST",
        "message": "How much?", "created_time": 1_700_000_000, "from": { "id": "FAN", "name": "Ann Lee" } } }] }] })
    .to_string();
    let events = deliver(&h, &raw).expect("accepted");
    assert!(
        matches!(&events[..], [InboundEvent::Message { provider_message_id, .. }] if provider_message_id == "comment:POST_COMMENT")
    );
    h.respond(
        "POST",
        &format!("{API}/v21.0/me/messages"),
        200,
        json!({ "recipient_id": "FAN", "message_id": "m.1" }).to_string(),
    );
    let reply = OutboundMessage {
        to: "FAN".into(),
        content: json!({ "type": "text", "text": "10 EUR" }),
        ..Default::default()
    };
    h.send(&reply).expect("sent");
    h.send(&reply).expect("sent");
    let bodies: Vec<Value> = h.requests().iter().map(|r| serde_json::from_slice(&r.body).expect("JSON")).collect();
    assert_eq!(bodies[0]["recipient"], json!({ "comment_id": "POST_COMMENT" }));
    assert!(bodies[0].get("messaging_type").is_none());
    assert_eq!(bodies[1]["recipient"], json!({ "id": "FAN" }), "the private reply was the only one");
}

#[test]
fn meta_errors_are_classified() {
    let h = harness();
    let hello =
        OutboundMessage { to: "U".into(), content: json!({ "type": "text", "text": "hi" }), ..Default::default() };
    let refuse = |status: u16, code: i64, subcode: i64| {
        h.respond(
            "POST",
            &format!("{API}/v21.0/me/messages"),
            status,
            json!({ "error": { "message": "nope", "type": "OAuthException", "code": code, "error_subcode": subcode } })
                .to_string(),
        );
        h.send(&hello)
    };
    assert!(matches!(refuse(400, 10, 2_018_278), Err(SendError::WindowClosed(_))));
    assert!(matches!(refuse(401, 190, 0), Err(SendError::BadCredentials(_))));
    assert!(matches!(refuse(400, 613, 0), Err(SendError::Transient(_))));
    let Err(SendError::Permanent(why)) = refuse(400, 100, 2_018_001) else { panic!("a permanent failure") };
    assert!(why.contains("nope") && why.contains("2018001"), "{why}");
}

#[test]
fn connect_subscribes_the_page() {
    let h = harness();
    h.respond("POST", &format!("{API}/v21.0/me/subscribed_apps"), 200, r#"{"success":true}"#);
    h.connect("https://switchboard.example/webhooks/7").expect("connected");
    let call = &h.requests()[0];
    assert!(
        call.url.starts_with(&format!("{API}/v21.0/me/subscribed_apps?subscribed_fields=messages,")),
        "{}",
        call.url
    );
    assert!(call.url.contains("message_echoes") && call.url.contains("feed"));
    h.respond(
        "POST",
        &format!("{API}/v21.0/me/subscribed_apps"),
        400,
        json!({ "error": { "message": "Invalid OAuth access token.", "code": 190 } }).to_string(),
    );
    assert!(matches!(h.connect("https://switchboard.example/webhooks/7"), Err(SendError::BadCredentials(_))));
}
