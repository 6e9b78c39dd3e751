//! A Twilio Messaging webhook's form parameters as events: an incoming SMS, MMS or WhatsApp message
//! (text, files, a location, a tapped quick reply) or the status callback of a message Switchboard sent.

use serde_json::json;
use switchboard_plugin_sdk::channel::{ContactProfile, DeliveryStatus, InboundEvent, WebhookError};

/// Twilio delivers at most 10 files with a message; anything beyond is not Twilio's.
const MAX_MEDIA: usize = 10;

fn bad(why: &str) -> WebhookError {
    WebhookError::BadRequest(why.to_owned())
}

/// The events of one webhook; statuses that are steps on the way (queued, sending, accepted…) give none.
pub fn events(params: &[(String, String)]) -> Result<Vec<InboundEvent>, WebhookError> {
    // Twilio sends empty fields (`Body=`) as often as it leaves them out.
    let get = |name: &str| params.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str()).filter(|v| !v.is_empty());
    let sid = get("MessageSid")
        .or_else(|| get("SmsSid"))
        .ok_or_else(|| bad("not a Twilio Messaging webhook: missing MessageSid"))?;
    match get("MessageStatus").or_else(|| get("SmsStatus")) {
        None | Some("received") => message(sid, &get),
        Some(status) => Ok(status_event(sid, status, get("ErrorCode")).into_iter().collect()),
    }
}

fn message<'a>(sid: &str, get: &impl Fn(&str) -> Option<&'a str>) -> Result<Vec<InboundEvent>, WebhookError> {
    let from = get("From").ok_or_else(|| bad("an incoming message without From"))?;
    // The contact is known by the number alone, on SMS and WhatsApp alike, so a conversation started from a
    // contact's phone number reaches the same contact; `send` puts the `whatsapp:` prefix back.
    let number = from.strip_prefix("whatsapp:").unwrap_or(from);
    let contact = ContactProfile {
        external_id: number.to_owned(),
        first_name: get("ProfileName").map(str::to_owned),
        phone: number.starts_with('+').then(|| number.to_owned()),
        ..Default::default()
    };
    let mut contents = Vec::new();
    match (get("ButtonText"), get("Body")) {
        (Some(text), _) => {
            let mut reply = json!({ "type": "reply", "text": text });
            if let Some(payload) = get("ButtonPayload") {
                reply["payload"] = payload.into();
            }
            contents.push(reply);
        }
        (None, Some(text)) => contents.push(json!({ "type": "text", "text": text })),
        (None, None) => {}
    }
    let coordinate = |name: &str| get(name).and_then(|v| v.parse::<f64>().ok());
    if let (Some(latitude), Some(longitude)) = (coordinate("Latitude"), coordinate("Longitude")) {
        let mut location = json!({ "type": "location", "latitude": latitude, "longitude": longitude });
        for (from, to) in [("Label", "name"), ("Address", "address")] {
            if let Some(v) = get(from) {
                location[to] = v.into();
            }
        }
        contents.push(location);
    }
    let files = get("NumMedia").and_then(|n| n.parse::<usize>().ok()).unwrap_or(0).min(MAX_MEDIA);
    for i in 0..files {
        let Some(url) = get(&format!("MediaUrl{i}")) else { continue };
        let mime = get(&format!("MediaContentType{i}"));
        let kind = mime
            .and_then(|m| m.split('/').next())
            .filter(|kind| matches!(*kind, "image" | "video" | "audio"))
            .unwrap_or("document");
        let mut media = json!({ "type": "media", "kind": kind, "media_ref": url });
        if let Some(mime) = mime {
            media["mime_type"] = mime.into();
        }
        contents.push(media);
    }
    if contents.is_empty() {
        let kind = get("MessageType").unwrap_or("empty");
        contents.push(json!({ "type": "text", "text": format!("[unsupported Twilio message: {kind}]") }));
    }
    Ok(contents
        .into_iter()
        .enumerate()
        .map(|(i, content)| InboundEvent::Message {
            contact: contact.clone(),
            provider_message_id: if i == 0 { sid.to_owned() } else { format!("{sid}#{}", i + 1) },
            timestamp_ms: None,
            content,
        })
        .collect())
}

fn status_event(sid: &str, status: &str, code: Option<&str>) -> Option<InboundEvent> {
    let (status, reason) = match status {
        "sent" => (DeliveryStatus::Sent, None),
        "delivered" => (DeliveryStatus::Delivered, None),
        "read" => (DeliveryStatus::Read, None),
        "undelivered" | "failed" | "canceled" => {
            let reason = match code {
                Some(code) => error_reason(code),
                None => format!("Twilio reported the message {status}"),
            };
            (DeliveryStatus::Failed, Some(reason))
        }
        _ => return None,
    };
    Some(InboundEvent::Status { provider_message_id: sid.to_owned(), status, reason, timestamp_ms: None })
}

/// `Twilio error <code>`, with what the common codes mean (twilio.com/docs/api/errors).
pub fn error_reason(code: &str) -> String {
    let meaning = match code {
        "21211" => "invalid To number",
        "21610" => "the recipient unsubscribed (replied STOP)",
        "21614" => "the To number is not a mobile number",
        "30003" => "unreachable destination handset",
        "30004" => "message blocked",
        "30005" => "unknown destination handset",
        "30006" => "landline or unreachable carrier",
        "30007" => "filtered by the carrier",
        "30008" => "unknown error",
        "30034" => "the sender is not registered for US A2P 10DLC",
        "63016" => "outside the allowed window: only a template can be sent",
        _ => return format!("Twilio error {code}"),
    };
    format!("Twilio error {code}: {meaning}")
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::Value;
    use switchboard_plugin_sdk::form;

    fn parse(body: &str) -> Result<Vec<InboundEvent>, WebhookError> {
        events(&form::pairs(body))
    }

    fn contents(events: &[InboundEvent]) -> Vec<(String, Value)> {
        events
            .iter()
            .map(|e| match e {
                InboundEvent::Message { provider_message_id, content, .. } => {
                    (provider_message_id.clone(), content.clone())
                }
                other => panic!("{other:?}"),
            })
            .collect()
    }

    #[test]
    fn the_recorded_sms_becomes_one_text() {
        let events = parse(include_str!("../tests/fixtures/inbound_sms.form")).expect("parsed");
        assert_eq!(
            events,
            vec![InboundEvent::Message {
                contact: ContactProfile {
                    external_id: "+19253920364".into(),
                    phone: Some("+19253920364".into()),
                    ..Default::default()
                },
                provider_message_id: "SM1521fa559fb923c1ed64f56cd1bed8ef".into(),
                timestamp_ms: None,
                content: json!({ "type": "text", "text": "twilio-go testing!" }),
            }]
        );
    }

    #[test]
    fn files_follow_the_text_one_event_each() {
        let body = "MessageSid=MM1&From=%2B15551230000&To=%2B15557654321&Body=Look&NumMedia=3\
                    &MediaUrl0=https%3A%2F%2Fapi.twilio.com%2Fm%2FME0&MediaContentType0=image%2Fjpeg\
                    &MediaUrl1=https%3A%2F%2Fapi.twilio.com%2Fm%2FME1&MediaContentType1=application%2Fpdf\
                    &MediaUrl2=https%3A%2F%2Fapi.twilio.com%2Fm%2FME2&MediaContentType2=audio%2Fogg&SmsStatus=received";
        assert_eq!(
            contents(&parse(body).expect("parsed")),
            vec![
                ("MM1".into(), json!({ "type": "text", "text": "Look" })),
                (
                    "MM1#2".into(),
                    json!({ "type": "media", "kind": "image", "media_ref": "https://api.twilio.com/m/ME0", "mime_type": "image/jpeg" })
                ),
                (
                    "MM1#3".into(),
                    json!({ "type": "media", "kind": "document", "media_ref": "https://api.twilio.com/m/ME1", "mime_type": "application/pdf" })
                ),
                (
                    "MM1#4".into(),
                    json!({ "type": "media", "kind": "audio", "media_ref": "https://api.twilio.com/m/ME2", "mime_type": "audio/ogg" })
                ),
            ]
        );
        let only_file =
            "MessageSid=MM2&From=%2B1555&NumMedia=1&Body=&MediaUrl0=https%3A%2F%2Fx%2Fv&MediaContentType0=video%2Fmp4";
        assert_eq!(contents(&parse(only_file).expect("parsed"))[0].0, "MM2", "the first event keeps the plain SID");
    }

    #[test]
    fn whatsapp_senders_keep_their_address_and_name() {
        let body = "SmsMessageSid=SMa&MessageSid=SMa&From=whatsapp%3A%2B14155238886&To=whatsapp%3A%2B15005550006\
                    &ProfileName=Ana+Lima&WaId=14155238886&Body=Hi&NumMedia=0&SmsStatus=received";
        match &parse(body).expect("parsed")[..] {
            [InboundEvent::Message { contact, .. }] => {
                assert_eq!(contact.external_id, "+14155238886");
                assert_eq!(contact.phone.as_deref(), Some("+14155238886"));
                assert_eq!(contact.first_name.as_deref(), Some("Ana Lima"));
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn locations_and_quick_replies_have_their_own_shapes() {
        let location = "MessageSid=SMl&From=whatsapp%3A%2B1&MessageType=location&Latitude=37.7879&Longitude=-122.3916\
                        &Label=Twilio+HQ&Address=101+Spear+St&Body=&NumMedia=0";
        assert_eq!(
            contents(&parse(location).expect("parsed"))[0].1,
            json!({ "type": "location", "latitude": 37.7879, "longitude": -122.3916, "name": "Twilio HQ", "address": "101 Spear St" })
        );
        let button =
            "MessageSid=SMb&From=whatsapp%3A%2B1&MessageType=button&Body=Yes&ButtonText=Yes&ButtonPayload=confirm_yes";
        assert_eq!(
            contents(&parse(button).expect("parsed")),
            vec![("SMb".into(), json!({ "type": "reply", "text": "Yes", "payload": "confirm_yes" }))]
        );
        let sticker = "MessageSid=SMs&From=whatsapp%3A%2B1&MessageType=sticker&NumMedia=0";
        assert_eq!(
            contents(&parse(sticker).expect("parsed"))[0].1,
            json!({ "type": "text", "text": "[unsupported Twilio message: sticker]" })
        );
    }

    #[test]
    fn status_callbacks_become_statuses_and_failures_say_why() {
        let status = |s: &str, code: &str| {
            parse(&format!(
                "MessageSid=SM9&SmsSid=SM9&MessageStatus={s}&SmsStatus={s}&ErrorCode={code}&To=%2B1&From=%2B2"
            ))
            .expect("parsed")
        };
        assert_eq!(
            status("delivered", ""),
            vec![InboundEvent::Status {
                provider_message_id: "SM9".into(),
                status: DeliveryStatus::Delivered,
                reason: None,
                timestamp_ms: None
            }]
        );
        assert!(matches!(&status("read", "")[..], [InboundEvent::Status { status: DeliveryStatus::Read, .. }]));
        assert!(matches!(&status("sent", "")[..], [InboundEvent::Status { status: DeliveryStatus::Sent, .. }]));
        for step in ["queued", "sending", "accepted", "scheduled"] {
            assert_eq!(status(step, ""), Vec::new(), "{step}");
        }
        let reason = |s: &str, code: &str| match &status(s, code)[..] {
            [InboundEvent::Status { status: DeliveryStatus::Failed, reason: Some(r), .. }] => r.clone(),
            other => panic!("{other:?}"),
        };
        assert_eq!(reason("undelivered", "30003"), "Twilio error 30003: unreachable destination handset");
        assert_eq!(
            reason("failed", "63016"),
            "Twilio error 63016: outside the allowed window: only a template can be sent"
        );
        assert_eq!(reason("failed", "12345"), "Twilio error 12345");
        assert_eq!(reason("failed", ""), "Twilio reported the message failed");
        for code in ["30005", "30006", "30007"] {
            assert!(reason("undelivered", code).len() > format!("Twilio error {code}").len(), "{code} has a meaning");
        }
    }

    #[test]
    fn what_is_missing_is_named() {
        let err = |body: &str| match parse(body) {
            Err(WebhookError::BadRequest(why)) => why,
            other => panic!("{other:?}"),
        };
        assert!(err("").contains("MessageSid"));
        assert!(err("Body=hi&From=%2B1").contains("MessageSid"));
        assert!(err("MessageSid=SM1&Body=hi").contains("From"));
    }
}
