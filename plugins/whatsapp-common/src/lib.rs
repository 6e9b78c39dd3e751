//! WhatsApp Cloud-API-shaped payloads, shared by the WhatsApp channel plugins (Meta's Cloud API, and BSPs
//! such as 360dialog that relay the same JSON behind a different address and auth header): webhook
//! deliveries in, message bodies out, and the Graph API's answers (send results, errors, templates, media).
//!
//! Nothing here talks to the network or the host, so it builds natively and its tests run without wasm;
//! `errors` (feature `guest`) maps failures to the SDK's send errors.

#[cfg(feature = "guest")]
pub mod errors;
mod inbound;
mod outbound;
mod responses;
mod wire;

pub use inbound::parse_webhook;
pub use outbound::send_body;
pub use responses::{
    Failure, FailureKind, MediaLocation, TemplatePage, classify_failure, parse_media, parse_send_response,
    parse_templates,
};
