//! A small WhatsApp Cloud API webhook parser: the benchmark subject that the `bench-whatsapp` plugin runs
//! inside the host and `plugin-host/benches/plugin_call.rs` runs natively, so both do the same work.
//! Text messages and delivery statuses only; other message types are skipped. Not the WhatsApp plugin.

use serde::Deserialize;
use switchboard_plugin_sdk::event::{ContactProfile, DeliveryStatus, InboundEvent};

/// One webhook delivery: `entry[].changes[].value`.
#[derive(Deserialize)]
struct Webhook {
    #[serde(default)]
    entry: Vec<Entry>,
}

#[derive(Deserialize)]
struct Entry {
    #[serde(default)]
    changes: Vec<Change>,
}

#[derive(Deserialize)]
struct Change {
    value: Value,
}

#[derive(Deserialize)]
struct Value {
    #[serde(default)]
    contacts: Vec<Contact>,
    #[serde(default)]
    messages: Vec<Message>,
    #[serde(default)]
    statuses: Vec<Status>,
}

#[derive(Deserialize)]
struct Contact {
    #[serde(default)]
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
    /// Seconds since the epoch, as a string.
    timestamp: String,
    #[serde(rename = "type")]
    kind: String,
    #[serde(default)]
    text: Option<Text>,
}

#[derive(Deserialize)]
struct Text {
    body: String,
}

#[derive(Deserialize)]
struct Status {
    id: String,
    status: String,
    timestamp: String,
    #[serde(default)]
    errors: Vec<StatusError>,
}

#[derive(Deserialize)]
struct StatusError {
    #[serde(default)]
    title: Option<String>,
    #[serde(default)]
    message: Option<String>,
}

/// Turns a WhatsApp Cloud API webhook body into inbound events: one `Message` per text message (the
/// contact's `wa_id` and profile name from `contacts`, the timestamp in milliseconds) and one `Status` per
/// sent/delivered/read/failed status, in the order of the delivery.
pub fn parse(body: &[u8]) -> Result<Vec<InboundEvent>, String> {
    let webhook: Webhook = serde_json::from_slice(body).map_err(|e| format!("not a WhatsApp webhook: {e}"))?;
    let mut events = Vec::new();
    for value in webhook.entry.into_iter().flat_map(|e| e.changes).map(|c| c.value) {
        for message in value.messages {
            if message.kind != "text" {
                continue;
            }
            let Some(text) = message.text else {
                return Err(format!("text message {} has no text", message.id));
            };
            let name = value
                .contacts
                .iter()
                .find(|c| c.wa_id == message.from)
                .and_then(|c| c.profile.as_ref())
                .and_then(|p| p.name.clone());
            events.push(InboundEvent::Message {
                contact: ContactProfile { external_id: message.from, first_name: name, ..Default::default() },
                timestamp_ms: Some(millis(&message.timestamp)?),
                provider_message_id: message.id,
                content: serde_json::json!({ "type": "text", "text": text.body }),
            });
        }
        for status in value.statuses {
            let kind = match status.status.as_str() {
                "sent" => DeliveryStatus::Sent,
                "delivered" => DeliveryStatus::Delivered,
                "read" => DeliveryStatus::Read,
                "failed" => DeliveryStatus::Failed,
                _ => continue,
            };
            let reason = status.errors.into_iter().next().and_then(|e| e.message.or(e.title));
            events.push(InboundEvent::Status {
                timestamp_ms: Some(millis(&status.timestamp)?),
                provider_message_id: status.id,
                status: kind,
                reason,
            });
        }
    }
    Ok(events)
}

/// WhatsApp's timestamps are seconds as strings.
fn millis(seconds: &str) -> Result<i64, String> {
    seconds.parse::<i64>().ok().and_then(|s| s.checked_mul(1000)).ok_or_else(|| format!("bad timestamp {seconds:?}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_messages_and_statuses_become_events() {
        let body = br#"{"object":"whatsapp_business_account","entry":[{"id":"1","changes":[{"field":"messages",
            "value":{"contacts":[{"profile":{"name":"Ana"},"wa_id":"34600"}],
            "messages":[{"from":"34600","id":"wamid.1","timestamp":"1697043223","type":"text","text":{"body":"hi"}},
                        {"from":"34600","id":"wamid.2","timestamp":"1697043224","type":"image","image":{"id":"m"}}],
            "statuses":[{"id":"wamid.0","status":"failed","timestamp":"1689380458","recipient_id":"34600",
                         "errors":[{"code":130472,"title":"T","message":"M"}]}]}}]}]}"#;
        let events = parse(body).expect("parses");
        assert_eq!(
            events,
            vec![
                InboundEvent::Message {
                    contact: ContactProfile {
                        external_id: "34600".into(),
                        first_name: Some("Ana".into()),
                        ..Default::default()
                    },
                    provider_message_id: "wamid.1".into(),
                    timestamp_ms: Some(1_697_043_223_000),
                    content: serde_json::json!({ "type": "text", "text": "hi" }),
                },
                InboundEvent::Status {
                    provider_message_id: "wamid.0".into(),
                    status: DeliveryStatus::Failed,
                    reason: Some("M".into()),
                    timestamp_ms: Some(1_689_380_458_000),
                },
            ]
        );
    }

    #[test]
    fn malformed_deliveries_are_refused() {
        assert!(parse(b"not json").is_err());
        let bad_time = br#"{"entry":[{"changes":[{"value":{"messages":[
            {"from":"1","id":"w","timestamp":"soon","type":"text","text":{"body":"x"}}]}}]}]}"#;
        assert!(parse(bad_time).is_err());
    }
}
