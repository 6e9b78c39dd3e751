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
    /// Every message sent to this contact on this channel up to `watermark_ms` (the provider's clock) has
    /// reached `status`: Messenger's delivery and read watermarks. Only `delivered` and `read` mean anything.
    /// Needs a server of 2026-11-30 or newer, as does [`InboundEvent::Echo`].
    Watermark { contact_external_id: String, status: DeliveryStatus, watermark_ms: i64 },
    /// A message the business sent to the contact outside Switchboard (from the provider's own inbox or
    /// another app), stored as an outgoing message that was sent. The echoes of Switchboard's own sends are
    /// the plugin's to recognise and drop.
    Echo {
        /// The contact the message went to.
        contact: ContactProfile,
        provider_message_id: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        timestamp_ms: Option<i64>,
        content: serde_json::Value,
    },
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
    /// The contact's messaging window on this channel was closed when the message went out: a channel whose
    /// policy sends with tags outside the window (Messenger's message tags) tags it. `false` from servers
    /// older than the field and on channels without a window.
    #[serde(default)]
    pub outside_window: bool,
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
