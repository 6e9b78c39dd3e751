//! Delivery status notifications (RFC 3464 bounces): a `multipart/report` about a message we sent becomes
//! that message's status instead of a conversation message from the mailer daemon.

use mail_parser::{Message, MessageParser, MimeHeaders, PartType};
use switchboard_plugin_sdk::channel::{DeliveryStatus, InboundEvent};

use crate::text::message_ids;
use crate::thread;

/// What a message is as a delivery report.
pub enum Report {
    /// Not a delivery report about a message we sent: an ordinary message.
    NotOurs,
    /// The status of one of our messages.
    Status(Box<InboundEvent>),
    /// A report about our message that changes nothing we track (a delay, a relay): nothing to store.
    Notice,
}

pub fn classify(message: &Message<'_>, timestamp_ms: Option<i64>) -> Report {
    let is_report = message.root_part().content_type().is_some_and(|ct| {
        ct.ctype().eq_ignore_ascii_case("multipart")
            && ct.subtype().is_some_and(|s| s.eq_ignore_ascii_case("report"))
            && ct.attribute("report-type").is_some_and(|t| t.eq_ignore_ascii_case("delivery-status"))
    });
    if !is_report {
        return Report::NotOurs;
    }
    let Some(original) = original_ids(message).into_iter().find(|id| thread::was_sent(id)) else {
        return Report::NotOurs;
    };
    let fields = delivery_fields(message);
    let field = |name: &str| {
        fields.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str()).filter(|v| !v.is_empty())
    };
    let action = field("Action").unwrap_or("failed").to_ascii_lowercase();
    let status = match action.as_str() {
        "failed" => DeliveryStatus::Failed,
        "delivered" => DeliveryStatus::Delivered,
        _ => return Report::Notice,
    };
    let reason = match (field("Diagnostic-Code"), field("Status")) {
        // `smtp; 550 5.1.1 …`: the type before the semicolon says nothing to a person.
        (Some(code), _) => code.split_once(';').map_or(code, |(_, text)| text).trim().to_owned(),
        (None, Some(status)) => format!("{action} ({status})"),
        (None, None) => format!("{action} (the mail server gave no reason)"),
    };
    Report::Status(Box::new(InboundEvent::Status {
        provider_message_id: original,
        status,
        reason: (status == DeliveryStatus::Failed).then_some(reason),
        timestamp_ms,
    }))
}

/// The Message-IDs a report says it is about: from its own `X-Original-Message-ID`/`Original-Message-ID`
/// fields, and from the returned message or its headers.
fn original_ids(message: &Message<'_>) -> Vec<String> {
    let mut ids = Vec::new();
    for name in ["X-Original-Message-ID", "Original-Message-ID"] {
        if let Some(value) = message.header_raw(name) {
            ids.extend(message_ids(value));
        }
    }
    for part in &message.parts {
        let subtype = part.content_type().and_then(|ct| ct.subtype()).unwrap_or_default().to_ascii_lowercase();
        match &part.body {
            PartType::Message(returned) => ids.extend(returned.message_id().map(str::to_owned)),
            // Some servers label the headers `message/rfc822-headers`; either way they parse as headers.
            _ if subtype == "rfc822-headers" => {
                let headers = MessageParser::default().parse_headers(part.contents());
                ids.extend(headers.as_ref().and_then(|h| h.message_id()).map(str::to_owned));
            }
            _ => {}
        }
    }
    ids
}

/// The `name: value` fields of the report's `message/delivery-status` part, per-message fields first,
/// with folded lines joined.
fn delivery_fields(message: &Message<'_>) -> Vec<(String, String)> {
    let Some(part) = message.parts.iter().find(|p| {
        p.content_type()
            .and_then(|ct| ct.subtype())
            .is_some_and(|s| s.to_ascii_lowercase().ends_with("delivery-status"))
    }) else {
        return Vec::new();
    };
    let text = String::from_utf8_lossy(part.contents());
    let mut fields: Vec<(String, String)> = Vec::new();
    for line in text.lines() {
        let continues = line.starts_with([' ', '\t']);
        match fields.last_mut() {
            Some((_, value)) if continues => {
                value.push(' ');
                value.push_str(line.trim());
            }
            _ => {
                if let Some((name, value)) = line.split_once(':') {
                    fields.push((name.trim().to_owned(), value.trim().to_owned()));
                }
            }
        }
    }
    fields
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_bounce_names_the_original_and_the_reason() {
        let raw =
            std::fs::read(format!("{}/tests/fixtures/05-bounce.eml", env!("CARGO_MANIFEST_DIR"))).expect("fixture");
        let message = MessageParser::default().parse(&raw).expect("parses");
        assert_eq!(original_ids(&message), vec!["sb.out-bounce-1@shop.example"]);
        let fields = delivery_fields(&message);
        let diagnostic = fields.iter().find(|(k, _)| k == "Diagnostic-Code").map(|(_, v)| v.as_str());
        assert_eq!(diagnostic, Some("smtp; 550 5.1.1 <nobody@example.net>: Recipient address rejected: User unknown"));
    }
}
