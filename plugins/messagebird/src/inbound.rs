//! A Conversations API webhook as events: a contact's message (`message.created`, received) or the status of
//! a message sent through the channel (`message.updated`, sent). Conversation events give none.

use serde_json::{Value, json};
use switchboard_plugin_sdk::channel::{ContactProfile, DeliveryStatus, InboundEvent, WebhookError};

fn bad(why: &str) -> WebhookError {
    WebhookError::BadRequest(why.to_owned())
}

/// The events of one webhook for the channel `channel_id`.
pub fn events(body: &[u8], channel_id: &str) -> Result<Vec<InboundEvent>, WebhookError> {
    let payload: Value = serde_json::from_slice(body).map_err(|_| bad("the body is not JSON"))?;
    let message = &payload["message"];
    // An account-wide webhook also reports the account's other channels.
    if message["channelId"].as_str().is_some_and(|c| !channel_id.is_empty() && c != channel_id) {
        return Ok(Vec::new());
    }
    let id = || message["id"].as_str().filter(|id| !id.is_empty()).ok_or_else(|| bad("a message without id"));
    // How a status report to a send's `reportUrl` is framed is not documented: one without `type` is read as
    // the update of the message it carries.
    let kind = payload["type"].as_str().or_else(|| message["status"].is_string().then_some("message.updated"));
    match (kind, message["direction"].as_str()) {
        (Some("message.created"), Some("received")) => Ok(vec![incoming(&payload, id()?)?]),
        // Echoes of the channel's own sends cannot be told from messages sent elsewhere (nothing set on a send
        // comes back in its webhook), so every message the business sent is left out.
        (Some("message.created"), _) => Ok(Vec::new()),
        (Some("message.updated"), Some("sent") | None) => Ok(status_event(id()?, message).into_iter().collect()),
        (Some(_), _) => Ok(Vec::new()),
        (None, _) => Err(bad("not a MessageBird Conversations webhook: missing type")),
    }
}

/// MessageBird writes `msisdn` as a number or a string; either way it is digits.
fn digits(value: &Value) -> Option<String> {
    let text = value.as_u64().map(|n| n.to_string()).or_else(|| value.as_str().map(str::to_owned))?;
    let text = text.trim_start_matches('+');
    (!text.is_empty() && text.bytes().all(|b| b.is_ascii_digit())).then(|| text.to_owned())
}

fn incoming(payload: &Value, id: &str) -> Result<InboundEvent, WebhookError> {
    let (contact, message) = (&payload["contact"], &payload["message"]);
    let number = digits(&contact["msisdn"]).or_else(|| digits(&message["from"]));
    // Without a number, MessageBird's contact id is still an address `POST /v1/send` takes.
    let contact_id = contact["id"].as_str().or_else(|| payload["conversation"]["contactId"].as_str());
    let external_id = number
        .clone()
        .or_else(|| contact_id.map(str::to_owned))
        .ok_or_else(|| bad("a received message without msisdn, from or contact id"))?;
    let name = |key: &str| contact[key].as_str().map(str::trim).filter(|n| !n.is_empty()).map(str::to_owned);
    // The display name is the number itself until the contact tells another.
    let display = name("displayName").filter(|d| number.as_deref() != Some(d.trim_start_matches('+')));
    let profile = ContactProfile {
        external_id,
        first_name: name("firstName").or(display),
        last_name: name("lastName"),
        phone: number.map(|n| format!("+{n}")),
        ..Default::default()
    };
    Ok(InboundEvent::Message {
        contact: profile,
        provider_message_id: id.to_owned(),
        timestamp_ms: None,
        content: content(message),
    })
}

fn content(message: &Value) -> Value {
    let kind = message["type"].as_str().unwrap_or("empty");
    let body = &message["content"];
    let media = |kind: &str, item: &Value, url_key: &str| {
        let url = item[url_key].as_str().filter(|u| !u.is_empty())?;
        let mut media = json!({ "type": "media", "kind": kind, "media_ref": url });
        if let Some(caption) = item["caption"].as_str().filter(|c| !c.is_empty()) {
            media["caption"] = caption.into();
        }
        Some(media)
    };
    let found = match kind {
        "text" => body["text"].as_str().map(|text| json!({ "type": "text", "text": text })),
        "image" | "video" | "audio" => media(kind, &body[kind], "url"),
        "file" => media("document", &body["file"], "url"),
        "whatsappSticker" => media("sticker", &body["whatsappSticker"], "link"),
        "location" => {
            let location = &body["location"];
            match (location["latitude"].as_f64(), location["longitude"].as_f64()) {
                (Some(latitude), Some(longitude)) => {
                    Some(json!({ "type": "location", "latitude": latitude, "longitude": longitude }))
                }
                _ => None,
            }
        }
        // A tapped reply button or list row: what the contact saw, and the id the business gave it.
        "interactive" => {
            let reply = &body["interactive"]["reply"];
            reply["text"].as_str().map(|text| {
                let mut reply_content = json!({ "type": "reply", "text": text });
                if let Some(id) = reply["id"].as_str().filter(|id| !id.is_empty()) {
                    reply_content["payload"] = id.into();
                }
                reply_content
            })
        }
        _ => None,
    };
    found.unwrap_or_else(|| json!({ "type": "text", "text": format!("[unsupported MessageBird message: {kind}]") }))
}

fn status_event(id: &str, message: &Value) -> Option<InboundEvent> {
    let status = message["status"].as_str().unwrap_or_default();
    let (status, reason) = match status {
        "sent" => (DeliveryStatus::Sent, None),
        "delivered" => (DeliveryStatus::Delivered, None),
        "read" => (DeliveryStatus::Read, None),
        "failed" | "rejected" | "deleted" => (DeliveryStatus::Failed, Some(failure_reason(status, &message["error"]))),
        // accepted, pending, transmitted…: steps on the way.
        _ => return None,
    };
    Some(InboundEvent::Status { provider_message_id: id.to_owned(), status, reason, timestamp_ms: None })
}

/// `MessageBird error <code>: <description>`, or the status alone when MessageBird gave no error.
pub fn failure_reason(status: &str, error: &Value) -> String {
    let description = error["description"].as_str().filter(|d| !d.is_empty());
    match (error["code"].as_i64(), description) {
        (Some(code), Some(description)) => format!("MessageBird error {code}: {description}"),
        (Some(code), None) => format!("MessageBird error {code}"),
        (None, Some(description)) => description.to_owned(),
        (None, None) => format!("MessageBird reported the message {status}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const CHANNEL: &str = "11a976e320d04baaa01382783727e8c5";

    fn parse(fixture: &str, channel: &str) -> Vec<InboundEvent> {
        events(fixture.as_bytes(), channel).expect("parsed")
    }

    fn received(content: Value) -> Vec<InboundEvent> {
        let body = json!({
            "type": "message.created",
            "contact": { "id": "c1", "msisdn": "31612345678", "displayName": "31612345678" },
            "message": { "id": "m1", "channelId": CHANNEL, "platform": "sms", "from": "31612345678",
                         "direction": "received", "status": "received", "type": content["type"],
                         "content": content["content"] }
        });
        events(body.to_string().as_bytes(), CHANNEL).expect("parsed")
    }

    fn content_of(events: &[InboundEvent]) -> Value {
        match events {
            [InboundEvent::Message { content, .. }] => content.clone(),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn the_documented_text_becomes_a_message_from_the_contact_id() {
        let events = parse(include_str!("../tests/fixtures/webhook_text_doc.json"), "2ceefea7c1b8c79673215c42c1a6b916");
        assert_eq!(
            events,
            vec![InboundEvent::Message {
                contact: ContactProfile {
                    external_id: "73afe0acee2127fd3e7d9a7dc622826e".into(),
                    ..Default::default()
                },
                provider_message_id: "93a1f7ba935c4ee298cb5ef952052ea7".into(),
                timestamp_ms: None,
                content: json!({ "type": "text", "text": "Testing webhook functionality." }),
            }]
        );
    }

    #[test]
    fn a_whatsapp_voice_note_keeps_the_msisdn_and_its_media_link() {
        let events = parse(include_str!("../tests/fixtures/webhook_audio_received.json"), CHANNEL);
        assert_eq!(
            events,
            vec![InboundEvent::Message {
                contact: ContactProfile {
                    external_id: "393383342437".into(),
                    phone: Some("+393383342437".into()),
                    ..Default::default()
                },
                provider_message_id: "c4a5cb6c9acc4eca9dbee9f619f9c1d7".into(),
                timestamp_ms: None,
                content: json!({ "type": "media", "kind": "audio",
                                 "media_ref": "https://media.messagebird.com/v1/media/52296e61-9e62-479b-9ce0-9cadebe40598" }),
            }]
        );
        assert_eq!(parse(include_str!("../tests/fixtures/webhook_audio_received.json"), "another"), Vec::new());
    }

    #[test]
    fn messages_the_business_sent_are_left_out() {
        let sent = include_str!("../tests/fixtures/webhook_text_sent.json");
        assert_eq!(parse(sent, "1cf5b8c9f58b499fa3cdafaaaaaaaaaa"), Vec::new());
    }

    #[test]
    fn button_replies_carry_the_text_and_id_and_names_come_from_the_contact() {
        match &parse(include_str!("../tests/fixtures/webhook_interactive_reply.json"), CHANNEL)[..] {
            [InboundEvent::Message { contact, content, .. }] => {
                assert_eq!(*content, json!({ "type": "reply", "text": "Yes", "payload": "confirm_yes" }));
                assert_eq!((contact.first_name.as_deref(), contact.last_name.as_deref()), (Some("Ana"), Some("Lima")));
                assert_eq!(contact.phone.as_deref(), Some("+393383342437"));
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn files_locations_and_the_rest_have_their_shapes() {
        let image = json!({ "type": "image", "content": { "image": { "url": "https://media.messagebird.com/v1/media/i1", "caption": "Receipt" } } });
        assert_eq!(
            content_of(&received(image)),
            json!({ "type": "media", "kind": "image", "media_ref": "https://media.messagebird.com/v1/media/i1", "caption": "Receipt" })
        );
        let file =
            json!({ "type": "file", "content": { "file": { "url": "https://media.messagebird.com/v1/media/f1" } } });
        assert_eq!(content_of(&received(file))["kind"], "document");
        let video =
            json!({ "type": "video", "content": { "video": { "url": "https://media.messagebird.com/v1/media/v1" } } });
        assert_eq!(content_of(&received(video))["kind"], "video");
        let place =
            json!({ "type": "location", "content": { "location": { "latitude": 52.3766, "longitude": 4.8858 } } });
        assert_eq!(
            content_of(&received(place)),
            json!({ "type": "location", "latitude": 52.3766, "longitude": 4.8858 })
        );
        let hsm = json!({ "type": "hsm", "content": { "hsm": {} } });
        assert_eq!(
            content_of(&received(hsm)),
            json!({ "type": "text", "text": "[unsupported MessageBird message: hsm]" })
        );
        let broken = json!({ "type": "image", "content": {} });
        assert_eq!(content_of(&received(broken))["text"], "[unsupported MessageBird message: image]");
        // A display name that is only the number is no name.
        match &received(json!({ "type": "text", "content": { "text": "hi" } }))[..] {
            [InboundEvent::Message { contact, .. }] => {
                assert_eq!((contact.external_id.as_str(), contact.first_name.as_deref()), ("31612345678", None));
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn status_updates_of_sent_messages_become_statuses_and_failures_say_why() {
        let failed =
            parse(include_str!("../tests/fixtures/webhook_failed_doc.json"), "853eeb5348e541a595da93b48c61a1ae");
        assert_eq!(
            failed,
            vec![InboundEvent::Status {
                provider_message_id: "5f3437fdb8444583aea093a047ac014b".into(),
                status: DeliveryStatus::Failed,
                reason: Some("MessageBird error 302: The contact is not registered on WhatsApp.".into()),
                timestamp_ms: None,
            }]
        );
        let window = parse(include_str!("../tests/fixtures/webhook_window_closed_doc.json"), "");
        assert!(matches!(
            &window[..],
            [InboundEvent::Status { status: DeliveryStatus::Failed, reason: Some(r), .. }] if r.starts_with("MessageBird error 470: Failed to send message because you are outside the support window")
        ));
        let update = |status: &str| {
            let body =
                json!({ "type": "message.updated", "message": { "id": "m9", "direction": "sent", "status": status } });
            events(body.to_string().as_bytes(), CHANNEL).expect("parsed")
        };
        for (given, expected) in
            [("sent", DeliveryStatus::Sent), ("delivered", DeliveryStatus::Delivered), ("read", DeliveryStatus::Read)]
        {
            assert!(
                matches!(&update(given)[..], [InboundEvent::Status { status, reason: None, .. }] if *status == expected)
            );
        }
        assert!(matches!(
            &update("deleted")[..],
            [InboundEvent::Status { status: DeliveryStatus::Failed, reason: Some(r), .. }] if r == "MessageBird reported the message deleted"
        ));
        for step in ["accepted", "pending", "transmitted", "unknown"] {
            assert_eq!(update(step), Vec::new(), "{step}");
        }
        let report = json!({ "message": { "id": "m9", "channelId": CHANNEL, "status": "delivered" } });
        assert!(matches!(
            &events(report.to_string().as_bytes(), CHANNEL).expect("parsed")[..],
            [InboundEvent::Status { status: DeliveryStatus::Delivered, .. }]
        ));
        let received =
            json!({ "type": "message.updated", "message": { "id": "m8", "direction": "received", "status": "read" } });
        assert_eq!(events(received.to_string().as_bytes(), CHANNEL).expect("parsed"), Vec::new());
    }

    #[test]
    fn what_is_not_a_message_gives_nothing_and_what_is_broken_is_named() {
        let conversation = json!({ "type": "conversation.created", "conversation": { "id": "c" } });
        assert_eq!(events(conversation.to_string().as_bytes(), CHANNEL).expect("parsed"), Vec::new());
        let err = |body: &[u8]| match events(body, CHANNEL) {
            Err(WebhookError::BadRequest(why)) => why,
            other => panic!("{other:?}"),
        };
        assert!(err(b"not json").contains("JSON"));
        assert!(err(b"{}").contains("type"));
        let no_id = json!({ "type": "message.created", "message": { "direction": "received" } });
        assert!(err(no_id.to_string().as_bytes()).contains("id"));
        let nobody = json!({ "type": "message.created", "message": { "id": "m", "direction": "received" } });
        assert!(err(nobody.to_string().as_bytes()).contains("msisdn"));
    }
}
