//! The Custom Channel tested offline against respond.io's contract: the recorded inbound delivery, the
//! outbound request and both answers, with a fake external system at `https://custom.test`.

use serde_json::{Value, json};
use switchboard_plugin_host::testing::{DEFAULT_NOW_MS, Harness, Request};
use switchboard_plugin_host::{SendError, WebhookError};
use switchboard_plugin_sdk::event::{ContactProfile, DeliveryStatus, InboundEvent, OutboundMessage};

const TOKEN: &str = "aaaxczsadzxcasdacxzcasd";
const BASE: &str = "https://custom.test/switchboard";

fn fixture(name: &str) -> String {
    let path = format!("{}/tests/fixtures/{name}", switchboard_plugin_host::plugin_dir!().display());
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

fn json_fixture(name: &str) -> Value {
    serde_json::from_str(&fixture(name)).expect("fixture JSON")
}

fn harness() -> Harness {
    Harness::build(switchboard_plugin_host::plugin_dir!())
        .config(json!({ "base_url": BASE, "channel_id": "gfd8g7fd89dgfd" }))
        .secret("api_token", TOKEN)
        // The manifest declares `*`: the plugin gets what an admin grants, here the fake external system.
        .grant("https://custom.test")
}

fn deliver(h: &Harness, body: impl Into<Vec<u8>>) -> Result<Vec<InboundEvent>, WebhookError> {
    let request = Request::post(body).header("Authorization", &format!("Bearer {TOKEN}"));
    let (events, answer) = h.handle_webhook(request.into())?;
    assert_eq!((answer.status, answer.body.as_slice()), (200, &b"{}"[..]));
    Ok(events)
}

/// The inbound fixture with its one message replaced.
fn inbound_with(message: Value) -> String {
    let mut body = json_fixture("custom_channel_inbound_message.json");
    body["events"][0]["message"] = message;
    body.to_string()
}

fn content_of(events: &[InboundEvent]) -> &Value {
    match events {
        [InboundEvent::Message { content, .. }] => content,
        other => panic!("expected one message, got {other:?}"),
    }
}

fn hello() -> OutboundMessage {
    OutboundMessage {
        to: "+60177872890".into(),
        content: json!({ "type": "text", "text": "Hello World" }),
        ..Default::default()
    }
}

#[test]
fn the_manifest_and_the_component_agree() {
    let h = harness();
    let info = h.describe_channel();
    let manifest = h.manifest().expect("plugin.toml");
    assert_eq!(
        (info.id.as_str(), info.version.as_str()),
        (manifest.plugin.id.as_str(), manifest.plugin.version.as_str())
    );
    assert_eq!(info.name, "Custom Channel");
    let c = info.capabilities;
    assert!(c.text && c.media && c.locations && !c.interactive && !c.templates && !c.reactions);
    assert_eq!(info.window.free_form_hours, None);
}

#[test]
fn deliveries_need_the_channels_bearer_token() {
    let h = harness();
    let body = fixture("custom_channel_inbound_message.json");
    for auth in
        [None, Some("Bearer wrong"), Some(TOKEN), Some(&*format!("Basic {TOKEN}")), Some(&*format!("Bearer {TOKEN}x"))]
    {
        let mut request = Request::post(body.clone());
        if let Some(value) = auth {
            request = request.header("authorization", value);
        }
        let refused = h.handle_webhook(request.into());
        assert!(matches!(refused, Err(WebhookError::Unauthorized(_))), "{auth:?}: {refused:?}");
    }
    // The scheme name is case-insensitive.
    let accepted = h.handle_webhook(Request::post(body).header("authorization", &format!("bearer {TOKEN}")).into());
    assert!(accepted.is_ok(), "{accepted:?}");
    // The token is checked before the body is read.
    let garbage = h.handle_webhook(Request::post("{not json").into());
    assert!(matches!(garbage, Err(WebhookError::Unauthorized(_))), "{garbage:?}");
    let garbage =
        h.handle_webhook(Request::post("{not json").header("authorization", &format!("Bearer {TOKEN}")).into());
    assert!(matches!(garbage, Err(WebhookError::BadRequest(_))), "{garbage:?}");
}

#[test]
fn the_inbound_fixture_becomes_one_message() {
    let events = deliver(&harness(), fixture("custom_channel_inbound_message.json")).expect("accepted");
    assert_eq!(
        events,
        vec![InboundEvent::Message {
            contact: ContactProfile {
                external_id: "+60177872890".into(),
                first_name: Some("John".into()),
                last_name: Some("Doe".into()),
                ..Default::default()
            },
            provider_message_id: "xcvzzxcxczxczxc".into(),
            timestamp_ms: Some(2_132_131_321_000),
            content: json!({ "type": "text", "text": "Hello World" }),
        }]
    );
}

#[test]
fn the_full_contact_profile_is_kept() {
    let mut body = json_fixture("custom_channel_inbound_message.json");
    body["contact"] = json!({
        "firstName": "John", "lastName": "Doe", "profilePic": "https://cdn.test/john.jpg", "countryCode": "MY",
        "email": "john@example.com", "phone": "+60177872890", "language": "en"
    });
    let events = deliver(&harness(), body.to_string()).expect("accepted");
    let [InboundEvent::Message { contact, .. }] = events.as_slice() else { panic!("{events:?}") };
    assert_eq!(
        contact,
        &ContactProfile {
            external_id: "+60177872890".into(),
            first_name: Some("John".into()),
            last_name: Some("Doe".into()),
            phone: Some("+60177872890".into()),
            email: Some("john@example.com".into()),
            avatar_url: Some("https://cdn.test/john.jpg".into()),
            language: Some("en".into()),
        }
    );
}

#[test]
fn attachments_and_locations_are_understood() {
    let h = harness();
    let image = inbound_with(json!({ "type": "attachment", "attachment": {
        "type": "image", "url": "https://custom.test/files/a.jpg", "mimeType": "image/jpeg", "fileName": "a.jpg", "description": "the receipt"
    }}));
    assert_eq!(
        content_of(&deliver(&h, image).expect("accepted")),
        &json!({ "type": "media", "kind": "image", "media_ref": "https://custom.test/files/a.jpg",
                 "mime_type": "image/jpeg", "filename": "a.jpg", "caption": "the receipt" })
    );
    let file = inbound_with(
        json!({ "type": "attachment", "attachment": { "type": "file", "url": "https://cdn.test/b.pdf" } }),
    );
    assert_eq!(
        content_of(&deliver(&h, file).expect("accepted")),
        &json!({ "type": "media", "kind": "document", "media_ref": "https://cdn.test/b.pdf" })
    );
    let pin = inbound_with(
        json!({ "type": "location", "latitude": 3.139, "longitude": 101.6869, "address": "Kuala Lumpur" }),
    );
    assert_eq!(
        content_of(&deliver(&h, pin).expect("accepted")),
        &json!({ "type": "location", "latitude": 3.139, "longitude": 101.6869, "address": "Kuala Lumpur" })
    );
    let odd = inbound_with(json!({ "type": "quick_reply", "title": "?" }));
    assert_eq!(
        content_of(&deliver(&h, odd).expect("accepted")),
        &json!({ "type": "text", "text": "[unsupported message]" })
    );
}

#[test]
fn receipts_become_statuses_and_echoes_are_acknowledged() {
    let mut body = json_fixture("custom_channel_inbound_message.json");
    body["events"] = json!([
        { "type": "message_status", "mId": "1234567890", "timestamp": 2_132_131_322_000_i64, "status": { "value": "delivered" } },
        { "type": "message_status", "mId": "1234567891", "timestamp": 2_132_131_323_000_i64, "status": { "value": "failed", "message": "number unreachable" } },
        { "type": "message_echo", "mId": "echo-1", "timestamp": 2_132_131_324_000_i64, "message": { "type": "text", "text": "sent elsewhere" } }
    ]);
    let events = deliver(&harness(), body.to_string()).expect("accepted");
    assert_eq!(
        events,
        vec![
            InboundEvent::Status {
                provider_message_id: "1234567890".into(),
                status: DeliveryStatus::Delivered,
                reason: None,
                timestamp_ms: Some(2_132_131_322_000),
            },
            InboundEvent::Status {
                provider_message_id: "1234567891".into(),
                status: DeliveryStatus::Failed,
                reason: Some("number unreachable".into()),
                timestamp_ms: Some(2_132_131_323_000),
            },
        ]
    );
}

#[test]
fn deliveries_for_another_channel_or_without_ids_are_refused() {
    let h = harness();
    let mut body = json_fixture("custom_channel_inbound_message.json");
    body["channelId"] = "someone-else".into();
    assert!(matches!(deliver(&h, body.to_string()), Err(WebhookError::BadRequest(_))));
    let mut body = json_fixture("custom_channel_inbound_message.json");
    body["events"][0].as_object_mut().expect("event").remove("mId");
    assert!(matches!(deliver(&h, body.to_string()), Err(WebhookError::BadRequest(_))));
    // Without a timestamp the message is dated when it arrives.
    let mut body = json_fixture("custom_channel_inbound_message.json");
    body["events"][0].as_object_mut().expect("event").remove("timestamp");
    let events = deliver(&h, body.to_string()).expect("accepted");
    assert!(matches!(events.as_slice(), [InboundEvent::Message { timestamp_ms: Some(DEFAULT_NOW_MS), .. }]));
}

#[test]
fn sending_posts_the_contracts_body_with_the_token_and_returns_the_mid() {
    let h = harness();
    h.respond("POST", &format!("{BASE}/message"), 200, fixture("custom_channel_outbound_response_ok.json"));
    assert_eq!(h.send(&hello()).expect("sent"), "1234567890");
    let sent = h.requests();
    assert_eq!(sent.len(), 1);
    assert_eq!((sent[0].method.as_str(), sent[0].url.as_str()), ("POST", "https://custom.test/switchboard/message"));
    assert_eq!(sent[0].header("authorization"), Some(&*format!("Bearer {TOKEN}")));
    assert_eq!(sent[0].header("content-type"), Some("application/json"));
    assert_eq!(sent[0].json(), json_fixture("custom_channel_outbound_message.json"));
}

#[test]
fn media_and_locations_go_out_in_the_contracts_shapes() {
    let h = harness();
    h.respond("POST", BASE, 200, r#"{"mId": 77}"#);
    let photo = json!({ "type": "media", "kind": "image", "url": "https://cdn.test/p.jpg", "caption": "menu" });
    assert_eq!(
        h.send(&OutboundMessage { to: "c-1".into(), content: photo, ..Default::default() }).expect("sent"),
        "77"
    );
    let pdf = json!({ "type": "media", "kind": "document", "url": "https://cdn.test/a.pdf", "filename": "a.pdf" });
    h.send(&OutboundMessage { to: "c-1".into(), content: pdf, ..Default::default() }).expect("sent");
    let pin = json!({ "type": "location", "latitude": 3.139, "longitude": 101.6869, "name": "Office" });
    h.send(&OutboundMessage { to: "c-1".into(), content: pin, ..Default::default() }).expect("sent");
    let messages: Vec<Value> = h.requests().iter().map(|r| r.json()["message"].clone()).collect();
    assert_eq!(
        messages,
        vec![
            json!({ "type": "attachment", "attachment": { "type": "image", "url": "https://cdn.test/p.jpg", "description": "menu" } }),
            json!({ "type": "attachment", "attachment": { "type": "file", "url": "https://cdn.test/a.pdf", "fileName": "a.pdf" } }),
            json!({ "type": "location", "latitude": 3.139, "longitude": 101.6869, "address": "Office" }),
        ]
    );
    let buttons = json!({ "type": "interactive", "text": "?", "buttons": ["a"] });
    let refused = h.send(&OutboundMessage { to: "c-1".into(), content: buttons, ..Default::default() });
    assert!(matches!(refused, Err(SendError::Permanent(_))), "{refused:?}");
}

#[test]
fn refusals_are_classified_with_the_systems_message() {
    let h = harness();
    let error = fixture("custom_channel_outbound_response_error.json");
    h.respond("POST", BASE, 400, error.clone());
    match h.send(&hello()) {
        Err(SendError::Permanent(why)) => assert!(why.contains("401: UNAUTHORIZED"), "{why}"),
        other => panic!("{other:?}"),
    }
    h.respond("POST", BASE, 401, error.clone());
    assert!(matches!(h.send(&hello()), Err(SendError::BadCredentials(why)) if why.contains("401: UNAUTHORIZED")));
    h.respond("POST", BASE, 403, error);
    assert!(matches!(h.send(&hello()), Err(SendError::BadCredentials(_))));
    h.respond("POST", BASE, 500, "upstream down");
    assert!(matches!(h.send(&hello()), Err(SendError::Transient(_))));
    h.respond("POST", BASE, 429, "{}");
    assert!(matches!(h.send(&hello()), Err(SendError::Transient(_))));
    h.respond("POST", BASE, 200, "{}");
    assert!(matches!(h.send(&hello()), Err(SendError::Permanent(why)) if why.contains("mId")));
}

#[test]
fn network_failures_are_transient_and_ungranted_hosts_permanent() {
    // No recorded answer: the connection fails.
    assert!(matches!(harness().send(&hello()), Err(SendError::Transient(_))));
    let h = Harness::build(switchboard_plugin_host::plugin_dir!())
        .config(json!({ "base_url": "https://elsewhere.test" }))
        .secret("api_token", TOKEN)
        .grant("https://custom.test");
    assert!(matches!(h.send(&hello()), Err(SendError::Permanent(why)) if why.contains("not granted")));
    assert!(h.requests().is_empty(), "nothing was sent");
}

#[test]
fn without_a_channel_id_the_body_has_none() {
    let h = Harness::build(switchboard_plugin_host::plugin_dir!())
        .config(json!({ "base_url": BASE }))
        .secret("api_token", TOKEN)
        .grant("https://custom.test");
    h.respond("POST", BASE, 200, fixture("custom_channel_outbound_response_ok.json"));
    h.send(&hello()).expect("sent");
    let mut expected = json_fixture("custom_channel_outbound_message.json");
    expected.as_object_mut().expect("object").remove("channelId");
    assert_eq!(h.requests()[0].json(), expected);
    // And any channelId is accepted inbound.
    assert_eq!(deliver(&h, fixture("custom_channel_inbound_message.json")).expect("accepted").len(), 1);
}

#[test]
fn media_request_downloads_the_url_with_the_token_only_from_the_external_system() {
    let h = harness();
    let own = h.media_request("https://custom.test/switchboard/files/a.jpg").expect("a download");
    assert_eq!((own.method.as_str(), own.url.as_str()), ("GET", "https://custom.test/switchboard/files/a.jpg"));
    assert_eq!(own.headers, vec![("authorization".to_owned(), format!("Bearer {TOKEN}"))]);
    let cdn = h.media_request("https://cdn.test/b.pdf").expect("a download");
    assert_eq!((cdn.url.as_str(), cdn.headers.len()), ("https://cdn.test/b.pdf", 0));
    // A URL that merely starts with the same characters is not under the base URL.
    let lookalike = h.media_request("https://custom.test/switchboard.evil.test/x").expect("a download");
    assert!(lookalike.headers.is_empty(), "{lookalike:?}");
    assert!(matches!(h.media_request("file-123"), Err(SendError::Permanent(_))));
}
