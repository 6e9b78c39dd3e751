//! Webhook deliveries (`entry[].changes[].value`) turned into the server's inbound events: every message
//! and every status of the delivery, in order.

use serde::{Deserialize, Serialize};
use serde_json::Value as Json;
use switchboard_plugin_sdk::event::{ContactProfile, DeliveryStatus, InboundEvent};

use crate::wire::{GraphError, Number};

#[derive(Deserialize)]
struct Webhook {
    object: String,
    entry: Vec<Entry>,
}

#[derive(Deserialize)]
struct Entry {
    #[serde(default)]
    changes: Vec<Change>,
}

/// Kept untyped until `field` says what it is: other fields (template status updates, account alerts…)
/// carry values of other shapes, which must not make the delivery unreadable.
#[derive(Deserialize)]
struct Change {
    #[serde(default)]
    field: String,
    #[serde(default)]
    value: Json,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct Messages {
    contacts: Vec<Contact>,
    messages: Vec<Message>,
    statuses: Vec<Status>,
}

#[derive(Deserialize)]
struct Contact {
    wa_id: String,
    #[serde(default)]
    profile: Option<Profile>,
}

#[derive(Deserialize)]
struct Profile {
    #[serde(default)]
    name: Option<String>,
}

#[derive(Deserialize)]
struct Message {
    from: String,
    id: String,
    timestamp: Number,
    #[serde(rename = "type")]
    kind: String,
    text: Option<Text>,
    image: Option<Media>,
    video: Option<Media>,
    audio: Option<Media>,
    document: Option<Media>,
    sticker: Option<Media>,
    location: Option<Location>,
    contacts: Option<Vec<Json>>,
    interactive: Option<Interactive>,
    button: Option<Button>,
    reaction: Option<Reaction>,
}

#[derive(Deserialize)]
struct Text {
    body: String,
}

#[derive(Deserialize)]
struct Media {
    id: String,
    mime_type: Option<String>,
    caption: Option<String>,
    filename: Option<String>,
}

#[derive(Deserialize)]
struct Location {
    latitude: f64,
    longitude: f64,
    name: Option<String>,
    address: Option<String>,
}

#[derive(Deserialize)]
struct Interactive {
    button_reply: Option<Choice>,
    list_reply: Option<Choice>,
}

#[derive(Deserialize)]
struct Choice {
    id: String,
    title: String,
}

/// A tap on a template's quick-reply button.
#[derive(Deserialize)]
struct Button {
    text: String,
    payload: Option<String>,
}

#[derive(Deserialize)]
struct Reaction {
    message_id: String,
    /// Absent when the contact removed their reaction.
    emoji: Option<String>,
}

#[derive(Deserialize)]
struct Status {
    id: String,
    status: String,
    timestamp: Number,
    #[serde(default)]
    errors: Vec<GraphError>,
}

/// The server's message content (docs/plugins.md, "Message content"); the server refuses unknown fields.
#[derive(Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
enum Content {
    Text {
        text: String,
    },
    Media {
        kind: &'static str,
        media_ref: String,
        #[serde(skip_serializing_if = "Option::is_none")]
        mime_type: Option<String>,
        #[serde(skip_serializing_if = "Option::is_none")]
        caption: Option<String>,
        #[serde(skip_serializing_if = "Option::is_none")]
        filename: Option<String>,
    },
    Location {
        latitude: f64,
        longitude: f64,
        #[serde(skip_serializing_if = "Option::is_none")]
        name: Option<String>,
        #[serde(skip_serializing_if = "Option::is_none")]
        address: Option<String>,
    },
    ContactCard {
        card: Json,
    },
    Reply {
        text: String,
        #[serde(skip_serializing_if = "Option::is_none")]
        payload: Option<String>,
    },
    Reaction {
        emoji: String,
        provider_message_id: String,
    },
}

/// Parses one webhook delivery into events: a `Message` per message (any type; those without a
/// counterpart become a placeholder text so nothing is dropped) and a `Status` per sent, delivered, read
/// or failed status. Fails when the body is not a WhatsApp Business webhook.
pub fn parse_webhook(body: &[u8]) -> Result<Vec<InboundEvent>, String> {
    let webhook: Webhook = serde_json::from_slice(body).map_err(|e| format!("not a WhatsApp webhook: {e}"))?;
    if webhook.object != "whatsapp_business_account" {
        return Err(format!("not a WhatsApp webhook: object is `{}`", webhook.object));
    }
    let mut events = Vec::new();
    for change in webhook.entry.into_iter().flat_map(|e| e.changes) {
        if change.field != "messages" {
            continue;
        }
        let value: Messages =
            serde_json::from_value(change.value).map_err(|e| format!("unreadable `messages` change: {e}"))?;
        for message in value.messages {
            events.push(message_event(message, &value.contacts)?);
        }
        for status in value.statuses {
            events.extend(status_event(status)?);
        }
    }
    Ok(events)
}

fn message_event(message: Message, contacts: &[Contact]) -> Result<InboundEvent, String> {
    let name = contacts
        .iter()
        .find(|c| c.wa_id == message.from)
        .and_then(|c| c.profile.as_ref())
        .and_then(|p| p.name.clone())
        .filter(|n| !n.is_empty());
    let timestamp_ms =
        Some(message.timestamp.millis().map_err(|e| format!("message {}: bad timestamp: {e}", message.id))?);
    let contact = ContactProfile {
        external_id: message.from.clone(),
        first_name: name,
        phone: Some(message.from.clone()),
        ..Default::default()
    };
    let provider_message_id = message.id.clone();
    let content = serde_json::to_value(content(message)).map_err(|e| e.to_string())?;
    Ok(InboundEvent::Message { contact, provider_message_id, timestamp_ms, content })
}

fn content(m: Message) -> Content {
    let placeholder = match m.kind.as_str() {
        "unsupported" => "[unsupported message]".to_owned(),
        kind => format!("[unsupported {kind} message]"),
    };
    let media = |kind: &'static str, media: Option<Media>| {
        media.map(|f| Content::Media {
            kind,
            media_ref: f.id,
            mime_type: f.mime_type,
            caption: f.caption.filter(|c| !c.is_empty()),
            filename: f.filename,
        })
    };
    let known = match m.kind.as_str() {
        "text" => m.text.map(|t| Content::Text { text: t.body }),
        "image" => media("image", m.image),
        "video" => media("video", m.video),
        "audio" => media("audio", m.audio),
        "document" => media("document", m.document),
        "sticker" => media("sticker", m.sticker),
        "location" => m.location.map(|l| Content::Location {
            latitude: l.latitude,
            longitude: l.longitude,
            name: l.name,
            address: l.address,
        }),
        // One message can share several contacts; a single one is given as the object itself.
        "contacts" => m.contacts.filter(|c| !c.is_empty()).map(|mut cards| Content::ContactCard {
            card: if cards.len() == 1 { cards.remove(0) } else { Json::Array(cards) },
        }),
        "interactive" => m
            .interactive
            .and_then(|i| i.button_reply.or(i.list_reply))
            .map(|c| Content::Reply { text: c.title, payload: Some(c.id) }),
        "button" => m.button.map(|b| Content::Reply { text: b.text, payload: b.payload }),
        "reaction" => m
            .reaction
            .map(|r| Content::Reaction { emoji: r.emoji.unwrap_or_default(), provider_message_id: r.message_id }),
        _ => None,
    };
    known.unwrap_or(Content::Text { text: placeholder })
}

fn status_event(status: Status) -> Result<Option<InboundEvent>, String> {
    let kind = match status.status.as_str() {
        "sent" => DeliveryStatus::Sent,
        "delivered" => DeliveryStatus::Delivered,
        "read" => DeliveryStatus::Read,
        "failed" => DeliveryStatus::Failed,
        // Other statuses (`deleted`, `warning`, …) say nothing the server tracks.
        _ => return Ok(None),
    };
    let timestamp_ms =
        Some(status.timestamp.millis().map_err(|e| format!("status of {}: bad timestamp: {e}", status.id))?);
    let reason = match kind {
        DeliveryStatus::Failed => status.errors.iter().find_map(GraphError::describe),
        _ => None,
    };
    Ok(Some(InboundEvent::Status { provider_message_id: status.id, status: kind, reason, timestamp_ms }))
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    /// A delivery of one `messages` change with these messages, from contact 15550001111 "Ana".
    fn delivery(messages: Json) -> Vec<u8> {
        json!({
            "object": "whatsapp_business_account",
            "entry": [{"id": "1", "changes": [{"field": "messages", "value": {
                "messaging_product": "whatsapp",
                "contacts": [{"wa_id": "15550001111", "profile": {"name": "Ana"}}],
                "messages": messages,
            }}]}],
        })
        .to_string()
        .into_bytes()
    }

    fn contents(messages: Json) -> Vec<Json> {
        parse_webhook(&delivery(messages))
            .expect("parsed")
            .into_iter()
            .map(|e| match e {
                InboundEvent::Message { content, .. } => content,
                other => panic!("not a message: {other:?}"),
            })
            .collect()
    }

    fn message(kind: &str, body: Json) -> Json {
        let mut m = json!({"from": "15550001111", "id": "wamid.1", "timestamp": "1700000000", "type": kind});
        if !body.is_null() {
            m[kind] = body;
        }
        m
    }

    #[test]
    fn the_contact_and_timestamp_come_from_the_delivery() {
        let events = parse_webhook(&delivery(json!([message("text", json!({"body": "hi"}))]))).expect("parsed");
        assert_eq!(
            events,
            vec![InboundEvent::Message {
                contact: ContactProfile {
                    external_id: "15550001111".into(),
                    first_name: Some("Ana".into()),
                    phone: Some("15550001111".into()),
                    ..Default::default()
                },
                provider_message_id: "wamid.1".into(),
                timestamp_ms: Some(1_700_000_000_000),
                content: json!({"type": "text", "text": "hi"}),
            }]
        );
    }

    #[test]
    fn every_message_type_has_a_content() {
        let card = json!({"name": {"formatted_name": "Bo"}, "phones": [{"phone": "+1555", "wa_id": "1555"}]});
        let got = contents(json!([
            message("video", json!({"id": "v1", "mime_type": "video/mp4", "caption": "look"})),
            message("audio", json!({"id": "a1", "mime_type": "audio/ogg; codecs=opus", "voice": true})),
            message(
                "document",
                json!({"id": "d1", "mime_type": "application/pdf", "filename": "a.pdf", "sha256": "x"})
            ),
            message("sticker", json!({"id": "s1", "mime_type": "image/webp", "animated": false})),
            message("location", json!({"latitude": 52.5, "longitude": 13.4, "name": "Office", "address": "Main St 1"})),
            message("contacts", json!([card])),
            message("contacts", json!([card, card])),
            message(
                "interactive",
                json!({"type": "list_reply", "list_reply": {"id": "row-2", "title": "Tuesday", "description": "x"}})
            ),
            message("button", json!({"text": "Yes", "payload": "YES_PAYLOAD"})),
            message("reaction", json!({"message_id": "wamid.out", "emoji": "👍"})),
            message("reaction", json!({"message_id": "wamid.out"})),
            message("order", json!({"catalog_id": "c"})),
            message("unsupported", Json::Null),
            message("text", Json::Null),
        ]));
        assert_eq!(
            got,
            vec![
                json!({"type": "media", "kind": "video", "media_ref": "v1", "mime_type": "video/mp4", "caption": "look"}),
                json!({"type": "media", "kind": "audio", "media_ref": "a1", "mime_type": "audio/ogg; codecs=opus"}),
                json!({"type": "media", "kind": "document", "media_ref": "d1", "mime_type": "application/pdf", "filename": "a.pdf"}),
                json!({"type": "media", "kind": "sticker", "media_ref": "s1", "mime_type": "image/webp"}),
                json!({"type": "location", "latitude": 52.5, "longitude": 13.4, "name": "Office", "address": "Main St 1"}),
                json!({"type": "contact_card", "card": card}),
                json!({"type": "contact_card", "card": [card, card]}),
                json!({"type": "reply", "text": "Tuesday", "payload": "row-2"}),
                json!({"type": "reply", "text": "Yes", "payload": "YES_PAYLOAD"}),
                json!({"type": "reaction", "emoji": "👍", "provider_message_id": "wamid.out"}),
                json!({"type": "reaction", "emoji": "", "provider_message_id": "wamid.out"}),
                json!({"type": "text", "text": "[unsupported order message]"}),
                json!({"type": "text", "text": "[unsupported message]"}),
                json!({"type": "text", "text": "[unsupported text message]"}),
            ]
        );
    }

    #[test]
    fn other_fields_and_unknown_statuses_give_no_events() {
        let body = json!({
            "object": "whatsapp_business_account",
            "entry": [{"id": "1", "changes": [
                {"field": "message_template_status_update", "value": {"event": "APPROVED", "messages": "not a list"}},
                {"field": "messages", "value": {"statuses": [
                    {"id": "wamid.1", "status": "deleted", "timestamp": "1700000000", "recipient_id": "1"}
                ]}},
            ]}],
        });
        assert_eq!(parse_webhook(body.to_string().as_bytes()), Ok(Vec::new()));
    }

    #[test]
    fn what_is_not_a_whatsapp_webhook_is_refused() {
        let refused = |body: &str| parse_webhook(body.as_bytes()).expect_err("refused");
        assert!(refused("{not json").starts_with("not a WhatsApp webhook: "), "{}", refused("{not json"));
        assert_eq!(refused(r#"{"object": "page", "entry": []}"#), "not a WhatsApp webhook: object is `page`");
        assert!(refused(r#"{"object": "whatsapp_business_account"}"#).contains("missing field `entry`"));
        let bad_time = delivery(json!([{"from": "1", "id": "wamid.9", "timestamp": "soon", "type": "text"}]));
        assert_eq!(parse_webhook(&bad_time), Err("message wamid.9: bad timestamp: `soon` is not a number".to_owned()));
    }
}
