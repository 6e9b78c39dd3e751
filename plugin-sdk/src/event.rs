//! The JSON that travels between plugins and the server: normalised inbound events and outbound
//! messages. Plain serde types, usable on both sides (the server builds this crate without `guest`).

use serde::{Deserialize, Serialize};

/// Who a provider says the contact is.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ContactProfile {
    /// The provider's id for the contact on this channel (WhatsApp id, Telegram chat id, PSID…).
    pub external_id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub first_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phone: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub avatar_url: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub language: Option<String>,
}

/// A delivery status reported by the provider.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DeliveryStatus {
    Sent,
    Delivered,
    Read,
    Failed,
}

/// One normalised item of a webhook delivery.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum InboundEvent {
    /// A message from the contact. `content` has the server's message content shape
    /// (`{"type":"text","text":…}`, `{"type":"media","kind":"image","url":…}`, …).
    Message {
        contact: ContactProfile,
        provider_message_id: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        timestamp_ms: Option<i64>,
        content: serde_json::Value,
    },
    /// A status update of a message we sent.
    Status {
        provider_message_id: String,
        status: DeliveryStatus,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        reason: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        timestamp_ms: Option<i64>,
    },
    /// New profile details of a contact.
    Contact { contact: ContactProfile },
}

/// A message the server asks a channel plugin to send.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct OutboundMessage {
    /// The contact's id on this channel.
    pub to: String,
    /// The server's message content shape.
    pub content: serde_json::Value,
    /// The server's own id for this message, unique per server and stable across retries of the send. A
    /// channel whose transport is the server itself (the website chat) has no provider id and answers with
    /// one made from this. Empty from servers older than the field.
    #[serde(default)]
    pub reference: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_round_trip_as_tagged_json() {
        let e = InboundEvent::Status {
            provider_message_id: "wamid.1".into(),
            status: DeliveryStatus::Read,
            reason: None,
            timestamp_ms: Some(1),
        };
        let json = serde_json::to_string(&e).expect("serialise");
        assert_eq!(json, r#"{"type":"status","provider_message_id":"wamid.1","status":"read","timestamp_ms":1}"#);
        assert_eq!(serde_json::from_str::<InboundEvent>(&json).expect("parse"), e);
    }
}
