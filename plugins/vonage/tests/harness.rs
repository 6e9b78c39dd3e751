//! The Vonage channel tested offline: its built component in a real host, fed Vonage's documented webhook
//! examples under JWTs signed here as Vonage signs them, answering a stand-in Messages API at `https://vonage.test`.

use base64::Engine as _;
use serde_json::{Value, json};
use switchboard_plugin_host::testing::{DEFAULT_NOW_MS, Harness, Request};
use switchboard_plugin_host::{HttpRequest, SendError, WebhookError};
use switchboard_plugin_sdk::event::{ContactProfile, DeliveryStatus, InboundEvent, OutboundMessage};
use switchboard_plugin_sdk::verify::{jwt, sha256_hex};

const API: &str = "https://vonage.test";
const MESSAGES: &str = "https://vonage.test/v1/messages";
const API_KEY: &str = "a1b2c3d";
const API_SECRET: &str = "api-secret-123";
const SIGNATURE_SECRET: &str = "signature-secret-of-32-characters";
/// The channel's webhook URL, as the server passes it to `connect`.
const WEBHOOK: &str = "https://sb.example.org/webhooks/7";

fn fixture_text(name: &str) -> String {
    let path = format!("{}/tests/fixtures/{name}", switchboard_plugin_host::plugin_dir!().display());
    std::fs::read_to_string(&path).expect("fixture")
}

fn harness_on(channel: &str) -> Harness {
    Harness::build(switchboard_plugin_host::plugin_dir!())
        .config(json!({ "api_key": API_KEY, "from": "447700900000", "channel": channel, "api_base_url": API }))
        .secret("api_secret", API_SECRET)
        .secret("signature_secret", SIGNATURE_SECRET)
        .grant(API)
}

fn harness() -> Harness {
    harness_on("whatsapp")
}

/// The claims Vonage's signed-webhooks page documents, for `body`, issued at the harness's clock.
fn claims(body: &str) -> Value {
    json!({
        "iat": DEFAULT_NOW_MS / 1000, "jti": "c5ba8f24-1a14-4c10-bfdf-3fbe8ce511b5", "iss": "Vonage",
        "payload_hash": sha256_hex(body.as_bytes()), "api_key": API_KEY,
        "application_id": "aaaaaaaa-bbbb-cccc-dddd-0123456789ab"
    })
}

fn with_token(body: &str, claims: &Value, secret: &str) -> HttpRequest {
    let token = jwt::sign_hs256(claims, secret.as_bytes());
    Request::post(body.to_owned()).header("Authorization", &format!("Bearer {token}")).into()
}

fn signed(body: &str) -> HttpRequest {
    with_token(body, &claims(body), SIGNATURE_SECRET)
}

fn deliver(h: &Harness, body: &str) -> Vec<InboundEvent> {
    let (events, answer) = h.handle_webhook(signed(body)).expect("accepted");
    assert_eq!((answer.status, answer.body.len()), (200, 0), "an empty 200");
    events
}

fn refused(result: Result<(Vec<InboundEvent>, switchboard_plugin_host::HttpResponse), WebhookError>, what: &str) {
    match result {
        Err(WebhookError::Unauthorized(why)) => assert!(why.contains(what), "{why} should name {what}"),
        other => panic!("expected Unauthorized naming {what}, got {other:?}"),
    }
}

fn basic() -> String {
    format!("Basic {}", base64::engine::general_purpose::STANDARD.encode(format!("{API_KEY}:{API_SECRET}")))
}

fn message(to: &str, content: Value) -> OutboundMessage {
    OutboundMessage { to: to.into(), content, reference: "msg-1".into(), ..Default::default() }
}

#[test]
fn it_describes_itself_as_its_manifest_does() {
    let h = harness();
    let info = h.describe_channel();
    let manifest = h.manifest().expect("plugin.toml");
    assert_eq!(
        (info.id.as_str(), info.version.as_str()),
        (manifest.plugin.id.as_str(), manifest.plugin.version.as_str())
    );
    assert_eq!(info.name, "Vonage (SMS and WhatsApp)");
    assert!(info.capabilities.text && info.capabilities.media && info.capabilities.templates);
    assert!(info.capabilities.locations && !info.capabilities.interactive);
    assert_eq!(info.window.free_form_hours, None, "Vonage's refusal (1340) closes a WhatsApp window");
}

#[test]
fn signed_messages_become_events_and_media_downloads_without_credentials() {
    let h = harness();
    let contact = ContactProfile {
        external_id: "447700900001".into(),
        first_name: Some("Jane Smith".into()),
        phone: Some("+447700900001".into()),
        ..Default::default()
    };
    assert_eq!(
        deliver(&h, &fixture_text("inbound_whatsapp_text.json")),
        vec![InboundEvent::Message {
            contact: contact.clone(),
            provider_message_id: "52afe398-e31a-4362-8c42-beb0c3b1d098".into(),
            timestamp_ms: None,
            content: json!({ "type": "text", "text": "Nexmo Verification code: 12345.<br />Valid for 10 minutes." }),
        }]
    );
    let events = deliver(&h, &fixture_text("inbound_whatsapp_sticker.json"));
    let media = "https://api-us.nexmo.com/v3/media/1b456509-974c-458b-aafa-45fc48a4d976";
    assert_eq!(
        events,
        vec![InboundEvent::Message {
            contact,
            provider_message_id: "52afe398-e31a-4362-8c42-beb0c3b1d098".into(),
            timestamp_ms: None,
            content: json!({ "type": "media", "kind": "sticker", "media_ref": media }),
        }]
    );
    let download = h.media_request(media).expect("a download");
    assert_eq!((download.method.as_str(), download.url.as_str()), ("GET", media));
    assert!(download.headers.iter().all(|(k, _)| k != "authorization"), "{:?}", download.headers);
    assert!(matches!(h.media_request("ftp://example.com/x"), Err(SendError::Permanent(_))));

    let sms = deliver(&harness_on("sms"), &fixture_text("inbound_sms.json"));
    assert!(matches!(&sms[..], [InboundEvent::Message { content, .. }] if content["text"] == "Hello From Vonage!"));
    assert!(h.requests().is_empty(), "nothing was fetched");
}

#[test]
fn bad_signatures_are_refused() {
    let h = harness();
    let body = fixture_text("inbound_whatsapp_text.json");
    refused(h.handle_webhook(with_token(&body, &claims(&body), "another secret")), "signature");
    let tampered = body.replace("12345", "99999");
    refused(h.handle_webhook(with_token(&tampered, &claims(&body), SIGNATURE_SECRET)), "payload_hash");
    refused(h.handle_webhook(Request::post(body.clone()).into()), "Authorization");
    let mut other_account = claims(&body);
    other_account["api_key"] = "zzz999".into();
    refused(h.handle_webhook(with_token(&body, &other_account, SIGNATURE_SECRET)), "zzz999");
    let mut expired = claims(&body);
    expired["exp"] = (DEFAULT_NOW_MS / 1000 - 3600).into();
    refused(h.handle_webhook(with_token(&body, &expired, SIGNATURE_SECRET)), "expired");
    let unset = Harness::build(switchboard_plugin_host::plugin_dir!()).config(json!({ "api_key": API_KEY }));
    refused(unset.handle_webhook(signed(&body)), "signature_secret");
}

#[test]
fn statuses_arrive_on_the_same_url() {
    let h = harness();
    assert_eq!(
        deliver(&h, &fixture_text("status.json")),
        vec![InboundEvent::Status {
            provider_message_id: "aaaaaaaa-bbbb-4ccc-8ddd-0123456789ab".into(),
            status: DeliveryStatus::Sent,
            reason: None,
            timestamp_ms: None,
        }]
    );
    let rejected = json!({
        "message_uuid": "aaaaaaaa-bbbb-4ccc-8ddd-0123456789ab", "to": "447700900001", "from": "447700900000",
        "timestamp": "2025-02-03T12:14:25Z", "status": "rejected", "channel": "whatsapp",
        "error": { "type": "https://developer.vonage.com/api-errors/messages#1340", "title": "1340",
                   "detail": "Outside of the allowed window", "instance": "bf0ca0bf927b3b52e3cb03217e1a1ddf" }
    })
    .to_string();
    match &deliver(&h, &rejected)[..] {
        [InboundEvent::Status { status: DeliveryStatus::Failed, reason: Some(reason), .. }] => {
            assert!(reason.starts_with("Vonage error 1340: Outside of the allowed window"), "{reason}");
        }
        other => panic!("{other:?}"),
    }
    let read = rejected.replace("\"rejected\"", "\"read\"");
    assert!(matches!(&deliver(&h, &read)[..], [InboundEvent::Status { status: DeliveryStatus::Read, .. }]));
}

#[test]
fn sms_sends_as_json_with_basic_auth_and_the_status_url() {
    let h = harness_on("sms");
    h.connect(WEBHOOK).expect("connected");
    assert_eq!(h.kv_get("webhook_url").as_deref(), Some(WEBHOOK.as_bytes()));
    assert!(h.requests().is_empty(), "the URLs are set at Vonage by hand");
    h.respond("POST", MESSAGES, 202, fixture_text("send_response.json"));
    let sent = h.send(&message("447700900001", json!({ "type": "text", "text": "Hello from Switchboard!" })));
    assert_eq!(sent.expect("sent"), "aaaaaaaa-bbbb-cccc-dddd-0123456789ab");
    let request = &h.requests()[0];
    assert_eq!((request.method.as_str(), request.url.as_str()), ("POST", MESSAGES));
    assert_eq!(request.header("authorization"), Some(basic().as_str()));
    assert_eq!(request.header("content-type"), Some("application/json"));
    assert_eq!(
        request.json(),
        json!({ "message_type": "text", "text": "Hello from Switchboard!", "channel": "sms", "to": "447700900001",
                "from": "447700900000", "client_ref": "msg-1", "webhook_url": WEBHOOK, "webhook_version": "v1" })
    );
    let place = json!({ "type": "location", "latitude": 51.5, "longitude": -0.12, "name": "Office" });
    h.send(&message("+447700900001", place)).expect("sent");
    let location = h.requests()[1].json();
    assert_eq!(
        (&location["to"], &location["text"]),
        (&json!("447700900001"), &json!("Office\nhttps://maps.google.com/?q=51.5,-0.12"))
    );
}

#[test]
fn whatsapp_sends_files_and_templates() {
    let h = harness();
    h.respond("POST", MESSAGES, 202, fixture_text("send_response.json"));
    let image = json!({ "type": "media", "kind": "image", "url": "https://cdn.test/a.jpg", "caption": "Receipt" });
    h.send(&message("447700900001", image)).expect("sent");
    let template = json!({
        "type": "template", "name": "order_shipped", "language": "en_GB", "category": "utility",
        "components": [{ "type": "BODY", "text": "Your order {{1}} ships on {{2}}" }],
        "body": ["#42", "Monday"], "header": null, "buttons": []
    });
    h.send(&message("447700900001", template)).expect("sent");
    let bodies: Vec<Value> = h.requests().iter().map(|r| r.json()).collect();
    assert_eq!(
        bodies[0],
        json!({ "message_type": "image", "image": { "url": "https://cdn.test/a.jpg", "caption": "Receipt" },
                "channel": "whatsapp", "to": "447700900001", "from": "447700900000", "client_ref": "msg-1" })
    );
    assert_eq!(
        bodies[1],
        json!({ "message_type": "custom", "channel": "whatsapp", "to": "447700900001", "from": "447700900000",
                "client_ref": "msg-1",
                "custom": { "type": "template", "template": {
                    "name": "order_shipped", "language": { "policy": "deterministic", "code": "en_GB" },
                    "components": [{ "type": "body", "parameters": [{ "type": "text", "text": "#42" },
                                                                    { "type": "text", "text": "Monday" }] }] } } })
    );
    assert!(h.requests().iter().all(|r| r.header("authorization") == Some(basic().as_str())));
}

#[test]
fn vonage_errors_are_classified_and_long_texts_refused() {
    let h = harness_on("sms");
    let hi = message("447700900001", json!({ "type": "text", "text": "hi" }));
    let window = json!({ "type": "https://developer.vonage.com/api-errors/messages#1340",
                         "title": "Outside of the allowed window", "detail": "This message is sent outside of allowed response window." });
    let invalid = json!({ "type": "https://developer.nexmo.com/api-errors/messages#1150", "title": "Invalid params",
                          "detail": "The value of one or more parameters is invalid." });
    for (status, body, check) in [
        (401, fixture_text("error_unauthorized.json"), "bad credentials"),
        (402, fixture_text("error_out_of_credit.json"), "permanent"),
        (422, invalid.to_string(), "permanent"),
        (422, window.to_string(), "window closed"),
        (429, json!({ "title": "Too Many Requests" }).to_string(), "transient"),
        (503, "<html>".to_owned(), "transient"),
    ] {
        h.respond("POST", MESSAGES, status, body);
        let got = h.send(&hi);
        let ok = match (check, &got) {
            ("bad credentials", Err(SendError::BadCredentials(_)))
            | ("transient", Err(SendError::Transient(_)))
            | ("window closed", Err(SendError::WindowClosed(_))) => true,
            ("permanent", Err(SendError::Permanent(why))) => why.starts_with(&format!("Vonage answered {status}: ")),
            _ => false,
        };
        assert!(ok, "{status}: expected {check}, got {got:?}");
    }
    let before = h.requests().len();
    let long = message("447700900001", json!({ "type": "text", "text": "a".repeat(1531) }));
    match h.send(&long) {
        Err(SendError::Permanent(why)) => assert!(why.contains("11 SMS segments"), "{why}"),
        other => panic!("{other:?}"),
    }
    assert_eq!(h.requests().len(), before, "refused before any request");
}
