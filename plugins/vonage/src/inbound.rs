//! A Messages API v1 webhook body as events: an inbound message (SMS or WhatsApp: text, media, a location, a
//! tapped reply or button) or the status of a message Switchboard sent. Both may come to the same URL.

use serde_json::{Value, json};
use switchboard_plugin_sdk::channel::{ContactProfile, DeliveryStatus, InboundEvent, WebhookError};

/// The error Vonage reports for a free-form WhatsApp message outside the 24-hour customer care window.
pub const WINDOW_ERROR: &str = "1340";

fn bad(why: impl Into<String>) -> WebhookError {
    WebhookError::BadRequest(why.into())
}

/// The events of one webhook body; statuses that say nothing Switchboard tracks give none.
pub fn events(body: &[u8]) -> Result<Vec<InboundEvent>, WebhookError> {
    let body: Value = serde_json::from_slice(body).map_err(|e| bad(format!("not a Messages API webhook: {e}")))?;
    let text = |name: &str| body[name].as_str().filter(|s| !s.is_empty());
    let uuid = text("message_uuid").ok_or_else(|| bad("not a Messages API webhook: missing message_uuid"))?;
    match text("status") {
        Some(status) => Ok(status_event(uuid, status, &body).into_iter().collect()),
        None => message(uuid, &body).map(|event| vec![event]),
    }
}

fn message(uuid: &str, body: &Value) -> Result<InboundEvent, WebhookError> {
    let from = body["from"].as_str().filter(|s| !s.is_empty()).ok_or_else(|| bad("an inbound message without from"))?;
    // Replies go back to `from` as Vonage wrote it; only a number (not an SMS sender name) is a phone.
    let digits = from.trim_start_matches('+');
    let contact = ContactProfile {
        external_id: from.to_owned(),
        first_name: body["profile"]["name"].as_str().filter(|n| !n.is_empty()).map(str::to_owned),
        phone: (!digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit())).then(|| format!("+{digits}")),
        ..Default::default()
    };
    // SMS bodies in the reference carry only `text`; every other channel names its type.
    let kind = body["message_type"].as_str().unwrap_or(if body["text"].is_string() { "text" } else { "" });
    let content = content(kind, body)
        .unwrap_or_else(|| json!({ "type": "text", "text": format!("[unsupported Vonage message: {kind}]") }));
    Ok(InboundEvent::Message { contact, provider_message_id: uuid.to_owned(), timestamp_ms: None, content })
}

/// The server's content for a message of `kind`, if it has one.
fn content(kind: &str, body: &Value) -> Option<Value> {
    let part = &body[kind];
    let text = |v: &Value| v.as_str().filter(|s| !s.trim().is_empty()).map(str::to_owned);
    Some(match kind {
        "text" => json!({ "type": "text", "text": text(&body["text"])? }),
        "image" | "video" | "audio" | "file" | "sticker" => {
            let kind = if kind == "file" { "document" } else { kind };
            let mut media = json!({ "type": "media", "kind": kind, "media_ref": text(&part["url"])? });
            for (from, to) in [("caption", "caption"), ("name", "filename")] {
                if let Some(v) = text(&part[from]) {
                    media[to] = v.into();
                }
            }
            media
        }
        "location" => {
            let mut location =
                json!({ "type": "location", "latitude": part["lat"].as_f64()?, "longitude": part["long"].as_f64()? });
            for name in ["name", "address"] {
                if let Some(v) = text(&part[name]) {
                    location[name] = v.into();
                }
            }
            location
        }
        // A row of a list or a reply button (`reply`), or a template's quick-reply button (`button`).
        "reply" => reply(text(&part["title"]), text(&part["id"]))?,
        "button" => reply(text(&part["text"]), text(&part["payload"]))?,
        _ => return None,
    })
}

fn reply(text: Option<String>, payload: Option<String>) -> Option<Value> {
    let mut reply = json!({ "type": "reply", "text": text.clone().or_else(|| payload.clone())? });
    if let Some(payload) = payload {
        reply["payload"] = payload.into();
    }
    Some(reply)
}

fn status_event(uuid: &str, status: &str, body: &Value) -> Option<InboundEvent> {
    let (status, reason) = match status {
        "submitted" => (DeliveryStatus::Sent, None),
        "delivered" => (DeliveryStatus::Delivered, None),
        "read" => (DeliveryStatus::Read, None),
        "rejected" | "undeliverable" | "failed" => {
            (DeliveryStatus::Failed, Some(failure_reason(status, &body["error"])))
        }
        _ => return None,
    };
    Some(InboundEvent::Status { provider_message_id: uuid.to_owned(), status, reason, timestamp_ms: None })
}

/// `Vonage error <code>: <title>: <detail>` from a status's `error`, with what the window error means.
pub fn failure_reason(status: &str, error: &Value) -> String {
    // Some callbacks nest the problem object once more.
    let error = if error["error"].is_object() { &error["error"] } else { error };
    let as_text = |v: &Value| v.as_str().map_or_else(|| v.as_i64().map(|n| n.to_string()), |s| Some(s.to_owned()));
    let title = as_text(&error["title"]).filter(|t| !t.trim().is_empty());
    let code = error_code(error).or_else(|| title.clone().filter(|t| t.bytes().all(|b| b.is_ascii_digit())));
    let parts: Vec<String> = [title.filter(|t| Some(t) != code.as_ref()), as_text(&error["detail"])]
        .into_iter()
        .flatten()
        .filter(|p| !p.trim().is_empty())
        .collect();
    let mut reason = match (&code, parts.is_empty()) {
        (Some(code), true) => format!("Vonage error {code}"),
        (Some(code), false) => format!("Vonage error {code}: {}", parts.join(": ")),
        (None, false) => parts.join(": "),
        (None, true) => format!("Vonage reported the message {status}"),
    };
    if code.as_deref() == Some(WINDOW_ERROR) {
        reason.push_str(" (outside the WhatsApp 24-hour window: only a template can be sent)");
    }
    reason
}

/// The numeric code at the end of a problem's `type` (`…/api-errors/messages#1340`).
pub fn error_code(error: &Value) -> Option<String> {
    let code = error["type"].as_str()?.rsplit_once('#')?.1;
    (!code.is_empty() && code.bytes().all(|b| b.is_ascii_digit())).then(|| code.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(body: &str) -> Result<Vec<InboundEvent>, WebhookError> {
        events(body.as_bytes())
    }

    fn one(body: &str) -> (ContactProfile, String, Value) {
        match parse(body).expect("parsed").as_slice() {
            [InboundEvent::Message { contact, provider_message_id, content, .. }] => {
                (contact.clone(), provider_message_id.clone(), content.clone())
            }
            other => panic!("{other:?}"),
        }
    }

    fn content_of(fixture: &str) -> Value {
        one(fixture).2
    }

    const UUID: &str = "52afe398-e31a-4362-8c42-beb0c3b1d098";

    #[test]
    fn the_documented_sms_is_a_text_from_a_number() {
        let (contact, id, content) = one(include_str!("../tests/fixtures/inbound_sms.json"));
        assert_eq!(
            contact,
            ContactProfile {
                external_id: "447700900001".into(),
                phone: Some("+447700900001".into()),
                ..Default::default()
            }
        );
        assert_eq!((id.as_str(), content), (UUID, json!({ "type": "text", "text": "Hello From Vonage!" })));
    }

    #[test]
    fn whatsapp_messages_carry_the_profile_name() {
        let (contact, id, content) = one(include_str!("../tests/fixtures/inbound_whatsapp_text.json"));
        assert_eq!(contact.first_name.as_deref(), Some("Jane Smith"));
        assert_eq!((contact.external_id.as_str(), contact.phone.as_deref()), ("447700900001", Some("+447700900001")));
        assert_eq!(id, UUID);
        assert_eq!(
            content,
            json!({ "type": "text", "text": "Nexmo Verification code: 12345.<br />Valid for 10 minutes." })
        );
    }

    #[test]
    fn every_documented_whatsapp_type_has_its_content() {
        assert_eq!(
            content_of(include_str!("../tests/fixtures/inbound_whatsapp_image.json")),
            json!({ "type": "media", "kind": "image", "media_ref": "https://example.com/image.jpg", "filename": "image.jpg" })
        );
        assert_eq!(
            content_of(include_str!("../tests/fixtures/inbound_whatsapp_file.json")),
            json!({ "type": "media", "kind": "document", "media_ref": "https://example.com/file.pdf", "filename": "file.pdf" })
        );
        assert_eq!(
            content_of(include_str!("../tests/fixtures/inbound_whatsapp_sticker.json")),
            json!({ "type": "media", "kind": "sticker", "media_ref": "https://api-us.nexmo.com/v3/media/1b456509-974c-458b-aafa-45fc48a4d976" })
        );
        assert_eq!(
            content_of(include_str!("../tests/fixtures/inbound_whatsapp_location.json")),
            json!({ "type": "location", "latitude": 40.34772, "longitude": -74.18847, "name": "Vonage",
                    "address": "23 Main St, Holmdel, NJ 07733, USA" })
        );
        assert_eq!(
            content_of(include_str!("../tests/fixtures/inbound_whatsapp_reply.json")),
            json!({ "type": "reply", "text": "9am", "payload": "row1" })
        );
        assert_eq!(
            content_of(include_str!("../tests/fixtures/inbound_whatsapp_unsupported.json")),
            json!({ "type": "text", "text": "[unsupported Vonage message: unsupported]" })
        );
    }

    #[test]
    fn captions_buttons_and_unknown_types() {
        let message =
            |rest: &str| format!(r#"{{"message_uuid":"u1","from":"15551230000","channel":"whatsapp",{rest}}}"#);
        assert_eq!(
            content_of(&message(r#""message_type":"video","video":{"url":"https://v.test/a.mp4","caption":"Look"}"#)),
            json!({ "type": "media", "kind": "video", "media_ref": "https://v.test/a.mp4", "caption": "Look" })
        );
        assert_eq!(
            content_of(&message(r#""message_type":"button","button":{"payload":"yes_1","text":"Yes"}"#)),
            json!({ "type": "reply", "text": "Yes", "payload": "yes_1" })
        );
        assert_eq!(
            content_of(&message(r#""message_type":"order","order":{"catalog_id":"1"}"#)),
            json!({ "type": "text", "text": "[unsupported Vonage message: order]" })
        );
        // A type whose part is missing is unsupported rather than empty.
        assert_eq!(
            content_of(&message(r#""message_type":"image""#)),
            json!({ "type": "text", "text": "[unsupported Vonage message: image]" })
        );
        // An SMS from a sender name has no phone.
        let (contact, _, _) = one(r#"{"message_uuid":"u2","from":"Vonage","channel":"sms","text":"hi"}"#);
        assert_eq!((contact.external_id.as_str(), contact.phone), ("Vonage", None));
    }

    #[test]
    fn statuses_map_and_failures_say_why() {
        // The documented status example is `submitted` (its error object is only an illustration).
        assert_eq!(
            parse(include_str!("../tests/fixtures/status.json")).expect("parsed"),
            vec![InboundEvent::Status {
                provider_message_id: "aaaaaaaa-bbbb-4ccc-8ddd-0123456789ab".into(),
                status: DeliveryStatus::Sent,
                reason: None,
                timestamp_ms: None,
            }]
        );
        let status = |s: &str, error: &str| {
            let body =
                format!(r#"{{"message_uuid":"u9","to":"1","from":"2","status":"{s}","channel":"whatsapp"{error}}}"#);
            parse(&body).expect("parsed")
        };
        assert!(matches!(
            &status("delivered", "")[..],
            [InboundEvent::Status { status: DeliveryStatus::Delivered, .. }]
        ));
        assert!(matches!(&status("read", "")[..], [InboundEvent::Status { status: DeliveryStatus::Read, .. }]));
        assert_eq!(status("accepted", ""), Vec::new(), "an unknown step is no status");
        let reason = |s: &str, error: &str| match &status(s, error)[..] {
            [InboundEvent::Status { status: DeliveryStatus::Failed, reason: Some(r), .. }] => r.clone(),
            other => panic!("{other:?}"),
        };
        let window = r#","error":{"type":"https://developer.vonage.com/api-errors/messages#1340","title":"1340","detail":"Outside of the allowed window"}"#;
        assert_eq!(
            reason("rejected", window),
            "Vonage error 1340: Outside of the allowed window (outside the WhatsApp 24-hour window: only a template can be sent)"
        );
        let named = r#","error":{"type":"https://developer.vonage.com/api-errors/messages#1330","title":"Rejected","detail":"The number is blacklisted"}"#;
        assert_eq!(reason("rejected", named), "Vonage error 1330: Rejected: The number is blacklisted");
        let nested = r#","error":{"error":{"type":"https://developer.vonage.com/api-errors/messages#rejected","title":1030,"detail":"Internal error"}}"#;
        assert_eq!(reason("undeliverable", nested), "Vonage error 1030: Internal error");
        assert_eq!(reason("failed", ""), "Vonage reported the message failed");
    }

    #[test]
    fn what_is_missing_is_named() {
        let err = |body: &str| match parse(body) {
            Err(WebhookError::BadRequest(why)) => why,
            other => panic!("{other:?}"),
        };
        assert!(err("not json").contains("not a Messages API webhook"));
        assert!(err(r#"{"from":"1","text":"hi"}"#).contains("message_uuid"));
        assert!(err(r#"{"message_uuid":"u","text":"hi"}"#).contains("from"));
    }
}
