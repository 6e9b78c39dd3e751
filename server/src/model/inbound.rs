//! What a channel delivery becomes once its plugin parsed it: the items the store ingests in one
//! transaction, and what that transaction did.

use super::{Channel, ContactFields, Message, MessageContent, MessageStatus};

/// One normalised item of a provider's delivery.
#[derive(Debug, Clone, PartialEq)]
pub enum InboundItem {
    /// A message from a contact, identified on the channel by `external_id`.
    Message { external_id: String, profile: ContactFields, provider_message_id: String, content: MessageContent },
    /// A delivery receipt for a message sent on this channel.
    Status { provider_message_id: String, status: MessageStatus, reason: Option<String> },
    /// New profile details of a contact known on this channel (applied only to empty fields).
    Profile { external_id: String, profile: ContactFields },
    /// Every outgoing message to this contact on this channel stored up to `up_to_ms` reached `status`.
    Watermark { external_id: String, status: MessageStatus, up_to_ms: i64 },
    /// A message the business sent the contact outside Switchboard: stored as outgoing and sent.
    Echo { external_id: String, profile: ContactFields, provider_message_id: String, content: MessageContent },
}

/// What ingesting one delivery changed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct IngestReport {
    pub messages: u32,
    /// Messages already stored from an earlier delivery of the same provider id.
    pub duplicates: u32,
    pub statuses: u32,
    /// Receipts that would move a status backwards, or for incoming messages.
    pub statuses_ignored: u32,
    /// Receipts for messages whose send is not recorded yet (the provider was faster than its own API
    /// answer): kept for a day and applied when the send is recorded.
    pub statuses_early: u32,
    /// Messages the business sent outside Switchboard, stored as outgoing.
    pub echoes: u32,
    pub contacts_created: u32,
    pub conversations_opened: u32,
}

/// A stored outgoing message with what its channel's plugin needs to send it.
#[derive(Debug, Clone)]
pub struct OutboundContext {
    pub message: Message,
    /// The channel it goes out on (`None` if it was deleted since).
    pub channel: Option<Channel>,
    /// The contact's id on that channel (`None` if the contact is not reachable there).
    pub recipient: Option<String>,
}

/// The job that downloads an incoming media file through its channel's plugin.
pub const FETCH_MEDIA_JOB: &str = "media.fetch";

/// A file the server keeps, by the SHA-256 of its bytes.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, utoipa::ToSchema)]
pub struct MediaFile {
    pub sha256: String,
    pub content_type: String,
    pub size: u64,
    pub filename: Option<String>,
    /// Where authenticated users fetch it.
    pub url: String,
}
