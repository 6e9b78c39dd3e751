//! Meta's side of the channel, offline in the plugin harness: the signature over the raw body, the
//! verification handshake, and recorded deliveries parsed to the exact events.

use hmac::{Hmac, Mac};
use serde_json::{Value, json};
use sha2::Sha256;
use switchboard_plugin_host::WebhookError;
use switchboard_plugin_host::testing::{Harness, Request};
use switchboard_plugin_sdk::event::{ContactProfile, DeliveryStatus, InboundEvent};

/// The app secret of the signature vector; every delivery in these tests is signed with it.
const APP_SECRET: &str = "1222e786b144d0e85b9f365372d93676";
/// The verify token of the handshake fixture.
const VERIFY_TOKEN: &str = "1qaz2wsx";

fn harness() -> Harness {
    Harness::build(switchboard_plugin_host::plugin_dir!())
        .config(json!({"phone_number_id": "1122334455667", "business_account_id": "5467539754836534"}))
        .secret("access_token", "EAAG-test")
        .secret("app_secret", APP_SECRET)
        .secret("verify_token", VERIFY_TOKEN)
}

fn fixture(name: &str) -> Vec<u8> {
    let path = format!("{}/tests/fixtures/{name}", switchboard_plugin_host::plugin_dir!().display());
    std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

fn fixture_json(name: &str) -> Value {
    serde_json::from_slice(&fixture(name)).unwrap_or_else(|e| panic!("{name}: {e}"))
}

fn signature(body: &[u8]) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(APP_SECRET.as_bytes()).expect("any key length");
    mac.update(body);
    format!("sha256={}", hex::encode(mac.finalize().into_bytes()))
}

/// Delivers `body` signed as Meta signs it.
fn deliver(h: &Harness, body: &[u8]) -> Result<(Vec<InboundEvent>, u16), WebhookError> {
    let request = Request::post(body).header("X-Hub-Signature-256", &signature(body));
    h.handle_webhook(request.into()).map(|(events, answer)| (events, answer.status))
}

fn refusal(result: Result<impl std::fmt::Debug, WebhookError>) -> (&'static str, String) {
    match result {
        Err(WebhookError::Unauthorized(why)) => ("unauthorized", why),
        Err(WebhookError::BadRequest(why)) => ("bad request", why),
        Ok(other) => panic!("accepted: {other:?}"),
    }
}

/// The contact of every pywa fixture.
fn test_name() -> ContactProfile {
    ContactProfile {
        external_id: "972987654321".into(),
        first_name: Some("Test Name".into()),
        phone: Some("972987654321".into()),
        ..Default::default()
    }
}

fn text_event() -> InboundEvent {
    InboundEvent::Message {
        contact: test_name(),
        provider_message_id: "wamid.xyzxyz".into(),
        timestamp_ms: Some(1_697_043_223_000),
        content: json!({"type": "text", "text": "Body Text"}),
    }
}

fn image_event() -> InboundEvent {
    InboundEvent::Message {
        contact: test_name(),
        provider_message_id: "wamid.xyzxyz".into(),
        timestamp_ms: Some(1_697_043_379_000),
        content: json!({"type": "media", "kind": "image", "media_ref": "65463453", "mime_type": "image/jpeg"}),
    }
}

fn button_reply_event() -> InboundEvent {
    InboundEvent::Message {
        contact: test_name(),
        provider_message_id: "wamid.xyzxyz".into(),
        timestamp_ms: Some(1_698_266_730_000),
        content: json!({"type": "reply", "text": "title", "payload": "callback_data"}),
    }
}

fn status_event(status: DeliveryStatus, seconds: i64, reason: Option<&str>) -> InboundEvent {
    InboundEvent::Status {
        provider_message_id: "wamid.xyzxyz".into(),
        status,
        reason: reason.map(str::to_owned),
        timestamp_ms: Some(seconds * 1000),
    }
}

const FAILED_REASON: &str = "User's number is part of an experiment: \
                             Failed to send message because this user's phone number is part of an experiment";

fn status_events() -> Vec<InboundEvent> {
    vec![
        status_event(DeliveryStatus::Sent, 1_698_266_945, None),
        status_event(DeliveryStatus::Delivered, 1_698_266_945, None),
        status_event(DeliveryStatus::Read, 1_689_380_458, None),
        status_event(DeliveryStatus::Failed, 1_689_380_458, Some(FAILED_REASON)),
    ]
}

const STATUS_FIXTURES: [&str; 4] =
    ["status_sent.json", "status_delivered.json", "status_read.json", "status_failed.json"];

#[test]
fn the_signature_vector_is_accepted() {
    let vector = fixture_json("signature_vector.json");
    let body = fixture("signature_vector_body.raw");
    let request = Request::post(body).header("X-Hub-Signature-256", vector["header_value"].as_str().expect("header"));
    let (events, answer) = harness().handle_webhook(request.into()).expect("a valid signature");
    assert_eq!((answer.status, answer.body), (200, Vec::new()));
    assert_eq!(
        events,
        vec![InboundEvent::Message {
            contact: ContactProfile {
                external_id: "972544401243".into(),
                first_name: Some("PyWa Tests".into()),
                phone: Some("972544401243".into()),
                ..Default::default()
            },
            provider_message_id: "wamid.HBgMOTcyNTQ0NDAxMjQzFQIAEhggM0RFQTNCMEEwRTY3QzUwODYzMDc4NjQ4QzM4ODAxM0YA"
                .into(),
            timestamp_ms: Some(1_730_231_903_000),
            content: json!({"type": "text", "text": "Hey there! I am using PyWa."}),
        }]
    );
}

#[test]
fn a_changed_byte_a_missing_or_a_malformed_signature_is_refused() {
    let h = harness();
    let header = fixture_json("signature_vector.json")["header_value"].as_str().expect("header").to_owned();
    let mut body = fixture("signature_vector_body.raw");
    // "Hey there!" becomes "Hey there?": still valid JSON, no longer what Meta signed.
    let at = body.iter().position(|b| *b == b'!').expect("a `!` in the body");
    body[at] = b'?';
    let tampered = h.handle_webhook(Request::post(body.clone()).header("x-hub-signature-256", &header).into());
    assert_eq!(
        refusal(tampered),
        ("unauthorized", "X-Hub-Signature-256 does not match the body and the app secret".to_owned())
    );
    assert_eq!(
        refusal(h.handle_webhook(Request::post(body.clone()).into())),
        ("unauthorized", "missing X-Hub-Signature-256".to_owned())
    );
    let bare_hex = header.trim_start_matches("sha256=");
    assert_eq!(
        refusal(h.handle_webhook(Request::post(body).header("x-hub-signature-256", bare_hex).into())),
        ("unauthorized", "X-Hub-Signature-256 is not `sha256=<hex>`".to_owned())
    );
}

#[test]
fn without_an_app_secret_nothing_is_accepted() {
    let h = Harness::build(switchboard_plugin_host::plugin_dir!()).secret("verify_token", VERIFY_TOKEN);
    let body = fixture("signature_vector_body.raw");
    let signed = Request::post(body.clone()).header("x-hub-signature-256", &signature(&body));
    assert_eq!(
        refusal(h.handle_webhook(signed.into())),
        ("unauthorized", "the channel's app_secret is not set".to_owned())
    );
}

#[test]
fn a_signed_body_that_is_not_a_whatsapp_webhook_is_a_bad_request() {
    let h = harness();
    assert_eq!(
        refusal(deliver(&h, br#"{"object": "page", "entry": []}"#)),
        ("bad request", "not a WhatsApp webhook: object is `page`".to_owned())
    );
    let (kind, why) = refusal(deliver(&h, b"hello"));
    assert_eq!(kind, "bad request");
    assert!(why.starts_with("not a WhatsApp webhook: expected value"), "{why}");
}

#[test]
fn the_handshake_answers_the_challenge() {
    let handshake = fixture_json("verify_handshake.json");
    let query = |q: &Value| {
        ["hub.mode", "hub.verify_token", "hub.challenge"]
            .map(|k| format!("{k}={}", q[k].as_str().expect("a string")))
            .join("&")
    };
    let h = harness();
    let answer = h.verify(Request::get(&query(&handshake["request"]["query"])).into()).expect("accepted");
    let answer = answer.expect("a handshake");
    assert_eq!(answer.status, handshake["expected_response"]["status"]);
    assert_eq!(answer.body, handshake["expected_response"]["body"].as_str().expect("body").as_bytes());

    let mismatch = h.verify(Request::get(&query(&handshake["mismatch_case"]["query"])).into());
    assert_eq!(
        refusal(mismatch),
        ("unauthorized", "hub.verify_token does not match the channel's verify_token".to_owned())
    );
    assert!(h.verify(Request::get("").into()).expect("accepted").is_none(), "no query: not a handshake");
    assert!(h.verify(Request::get("page=2").into()).expect("accepted").is_none(), "no hub.*: not a handshake");
    assert_eq!(
        refusal(h.verify(Request::get("hub.mode=unsubscribe&hub.verify_token=1qaz2wsx&hub.challenge=1").into())),
        ("bad request", "hub.mode must be `subscribe`".to_owned())
    );
}

#[test]
fn the_handshake_query_is_percent_decoded() {
    let h = Harness::build(switchboard_plugin_host::plugin_dir!()).secret("verify_token", "my token&é=1");
    let query = "hub.mode=subscribe&hub.verify_token=my+token%26%C3%A9%3D1&hub%2Echallenge=12%2034";
    let answer = h.verify(Request::get(query).into()).expect("accepted").expect("a handshake");
    assert_eq!((answer.status, answer.body), (200, b"12 34".to_vec()));
    // Undecoded, the token would not match.
    let raw = "hub.mode=subscribe&hub.verify_token=my token&é=1&hub.challenge=1";
    assert!(matches!(h.verify(Request::get(raw).into()), Err(WebhookError::Unauthorized(_))));
}

#[test]
fn each_inbound_fixture_becomes_its_event() {
    let h = harness();
    for (name, expected) in [
        ("inbound_text.json", text_event()),
        ("inbound_image.json", image_event()),
        ("inbound_interactive_button_reply.json", button_reply_event()),
    ] {
        assert_eq!(deliver(&h, &fixture(name)).expect(name), (vec![expected], 200), "{name}");
    }
}

#[test]
fn a_list_reply_becomes_a_reply_with_the_row_id_as_payload() {
    let mut body = fixture_json("inbound_interactive_button_reply.json");
    body["entry"][0]["changes"][0]["value"]["messages"][0]["interactive"] = json!({
        "type": "list_reply",
        "list_reply": {"id": "s-m", "title": "Medium", "description": "Chest 96-101 cm"},
    });
    let (events, status) = deliver(&harness(), body.to_string().as_bytes()).expect("accepted");
    assert_eq!(status, 200);
    assert_eq!(
        events,
        vec![InboundEvent::Message {
            contact: test_name(),
            provider_message_id: "wamid.xyzxyz".into(),
            timestamp_ms: Some(1_698_266_730_000),
            content: json!({"type": "reply", "text": "Medium", "payload": "s-m"}),
        }]
    );
}

#[test]
fn every_status_fixture_becomes_a_status() {
    let h = harness();
    for (name, expected) in STATUS_FIXTURES.into_iter().zip(status_events()) {
        assert_eq!(deliver(&h, &fixture(name)).expect(name), (vec![expected], 200), "{name}");
    }
}

#[test]
fn one_delivery_with_several_messages_and_statuses_gives_all_of_them() {
    let value = |name: &str| fixture_json(name)["entry"][0]["changes"][0]["value"].clone();
    let mut messages = value("inbound_text.json");
    messages["messages"] = ["inbound_text.json", "inbound_image.json", "inbound_interactive_button_reply.json"]
        .iter()
        .map(|name| value(name)["messages"][0].clone())
        .collect();
    let mut statuses = value("status_sent.json");
    statuses["statuses"] = STATUS_FIXTURES.iter().map(|name| value(name)["statuses"][0].clone()).collect();
    let body = json!({
        "object": "whatsapp_business_account",
        "entry": [
            {"id": "1234567890987654321", "changes": [{"field": "messages", "value": messages}]},
            {"id": "5467539754836534", "changes": [{"field": "messages", "value": statuses}]},
        ],
    });
    let (events, status) = deliver(&harness(), body.to_string().as_bytes()).expect("accepted");
    assert_eq!(status, 200);
    let mut expected = vec![text_event(), image_event(), button_reply_event()];
    expected.extend(status_events());
    assert_eq!(events, expected);
}
