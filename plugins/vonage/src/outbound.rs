//! What leaves for Vonage: the body of `POST /v1/messages` for each kind of content on SMS and on WhatsApp,
//! the length rules a text must meet, and Vonage's problem answers (RFC 7807) as send outcomes.

use serde_json::{Value, json};
use switchboard_plugin_sdk::channel::SendError;
use switchboard_plugin_sdk::sms::{self, Segments};

use crate::inbound::{WINDOW_ERROR, error_code};

/// Vonage splits a long SMS; past 10 segments carriers drop parts, so longer texts are refused.
const MAX_SEGMENTS: usize = 10;
/// WhatsApp's limit on a text message.
const MAX_WHATSAPP_CHARACTERS: usize = 4096;
/// Vonage keeps a `client_ref` of at most 100 characters.
const MAX_CLIENT_REF: usize = 100;

/// The Messages API channel one sender is on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Network {
    Sms,
    WhatsApp,
}

impl Network {
    /// The `channel` setting: `sms` when unset.
    pub fn from_setting(value: Option<&str>) -> Result<Self, SendError> {
        match value.map(str::to_ascii_lowercase).as_deref() {
            None | Some("") | Some("sms") => Ok(Self::Sms),
            Some("whatsapp") => Ok(Self::WhatsApp),
            Some(other) => Err(permanent(format!("the channel setting must be `sms` or `whatsapp`, not `{other}`"))),
        }
    }

    fn name(self) -> &'static str {
        match self {
            Self::Sms => "sms",
            Self::WhatsApp => "whatsapp",
        }
    }
}

/// Who sends, on which channel, and where Vonage should post the message's statuses.
#[derive(Debug, Clone, Copy)]
pub struct Sender<'a> {
    pub network: Network,
    pub from: &'a str,
    pub status_url: Option<&'a str>,
}

fn permanent(why: impl Into<String>) -> SendError {
    SendError::Permanent(why.into())
}

/// The JSON body that sends `content` to `to`; `reference` (the server's id) goes as `client_ref`.
pub fn body(to: &str, content: &Value, reference: &str, sender: &Sender) -> Result<Value, SendError> {
    // Vonage writes numbers without `+` and refuses them with it.
    let to = to.strip_prefix('+').unwrap_or(to);
    let text = |field: &str| {
        content[field]
            .as_str()
            .filter(|s| !s.trim().is_empty())
            .map(str::to_owned)
            .ok_or_else(|| permanent(format!("the message has no `{field}`")))
    };
    let optional = |field: &str| text(field).ok();
    let kind = content["type"].as_str().unwrap_or_default();
    let mut body = match (sender.network, kind) {
        (_, "text") => json!({ "message_type": "text", "text": text("text")? }),
        // SMS carries text only: a file goes as its link, a place as a map link.
        (Network::Sms, "media") => {
            let url = text("url")?;
            let text = optional("caption").map_or_else(|| url.clone(), |caption| format!("{caption}\n{url}"));
            json!({ "message_type": "text", "text": text })
        }
        (Network::Sms, "location") => {
            let (lat, lon) = coordinates(content)?;
            let label = optional("name").or_else(|| optional("address")).unwrap_or_else(|| "Location".into());
            json!({ "message_type": "text", "text": format!("{label}\nhttps://maps.google.com/?q={lat},{lon}") })
        }
        (Network::Sms, "template") => {
            return Err(permanent("templates are WhatsApp's; this Vonage channel is an SMS sender"));
        }
        (Network::WhatsApp, "media") => {
            whatsapp_media(&text("kind")?, text("url")?, optional("caption"), optional("filename"))?
        }
        // Vonage passes a `custom` object to WhatsApp as it is: the Cloud API's own message object.
        (Network::WhatsApp, "location" | "template") => {
            let mut custom = whatsapp_common::send_body(to, content).map_err(SendError::Permanent)?;
            if let Some(object) = custom.as_object_mut() {
                for key in ["messaging_product", "recipient_type", "to"] {
                    object.remove(key);
                }
            }
            json!({ "message_type": "custom", "custom": custom })
        }
        (network, other) => {
            return Err(permanent(format!("Vonage's {} channel cannot send `{other}` messages", network.name())));
        }
    };
    body["channel"] = sender.network.name().into();
    body["to"] = to.into();
    body["from"] = sender.from.into();
    if !reference.is_empty() && reference.chars().count() <= MAX_CLIENT_REF {
        body["client_ref"] = reference.into();
    }
    // Statuses come to the channel's own webhook whatever the Vonage application's Status URL says.
    if let Some(url) = sender.status_url {
        body["webhook_url"] = url.into();
        body["webhook_version"] = "v1".into();
    }
    Ok(body)
}

fn coordinates(content: &Value) -> Result<(f64, f64), SendError> {
    match (content["latitude"].as_f64(), content["longitude"].as_f64()) {
        (Some(lat), Some(lon)) => Ok((lat, lon)),
        _ => Err(permanent("a location needs `latitude` and `longitude`")),
    }
}

fn whatsapp_media(kind: &str, url: String, caption: Option<String>, name: Option<String>) -> Result<Value, SendError> {
    let (message_type, captioned) = match kind {
        "image" => ("image", true),
        "video" => ("video", true),
        "document" => ("file", true),
        "audio" => ("audio", false),
        "sticker" => ("sticker", false),
        other => return Err(permanent(format!("WhatsApp cannot send media of kind `{other}`"))),
    };
    let mut part = json!({ "url": url });
    match caption {
        Some(caption) if captioned => part["caption"] = caption.into(),
        Some(_) => return Err(permanent(format!("WhatsApp {kind} messages cannot have a caption"))),
        None => {}
    }
    if let Some(name) = name.filter(|_| kind == "document") {
        part["name"] = name.into();
    }
    let mut body = json!({ "message_type": message_type });
    body[message_type] = part;
    Ok(body)
}

/// Refuses a text Vonage would cut or refuse: over 10 SMS segments, or over WhatsApp's 4096 characters. The
/// segments of an SMS, to log.
pub fn check_length(text: &str, network: Network) -> Result<Option<Segments>, SendError> {
    if network == Network::WhatsApp {
        let characters = text.chars().count();
        if characters > MAX_WHATSAPP_CHARACTERS {
            return Err(permanent(format!(
                "the text has {characters} characters; WhatsApp takes at most {MAX_WHATSAPP_CHARACTERS}"
            )));
        }
        return Ok(None);
    }
    let segments = sms::segments(text);
    if segments.count > MAX_SEGMENTS {
        return Err(permanent(format!(
            "the text takes {} SMS segments ({:?}, {} units); at most {MAX_SEGMENTS} are sent",
            segments.count, segments.encoding, segments.units
        )));
    }
    Ok(Some(segments))
}

/// A non-2xx answer of the Messages API (`{type, title, detail, instance, invalid_parameters?}`) as a send
/// outcome.
pub fn classify(status: u16, body: &[u8]) -> SendError {
    let problem: Value = serde_json::from_slice(body).unwrap_or_default();
    let text = |name: &str| problem[name].as_str().map(str::trim).filter(|s| !s.is_empty());
    let mut why = match (text("title"), text("detail")) {
        (Some(title), Some(detail)) => format!("Vonage answered {status}: {title}: {detail}"),
        (Some(one), None) | (None, Some(one)) => format!("Vonage answered {status}: {one}"),
        (None, None) => format!("Vonage answered HTTP {status}"),
    };
    let invalid: Vec<String> = problem["invalid_parameters"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|p| Some(format!("{} ({})", p["name"].as_str()?, p["reason"].as_str().unwrap_or("invalid"))))
        .collect();
    if !invalid.is_empty() {
        why = format!("{why} [{}]", invalid.join(", "));
    }
    let window = error_code(&problem).as_deref() == Some(WINDOW_ERROR) || text("title") == Some(WINDOW_ERROR);
    match status {
        _ if window => SendError::WindowClosed(why),
        401 | 403 => SendError::BadCredentials(why),
        429 | 500..=599 => SendError::Transient(why),
        // No balance (402), invalid parameters (422) and the rest: retrying will not help.
        _ => SendError::Permanent(why),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SMS: Sender = Sender { network: Network::Sms, from: "447700900000", status_url: None };
    const WHATSAPP: Sender =
        Sender { network: Network::WhatsApp, from: "447700900000", status_url: Some("https://sb.test/webhooks/7") };

    fn built(sender: &Sender, content: Value) -> Value {
        body("+447700900001", &content, "", sender).expect("a body")
    }

    #[test]
    fn texts_name_the_channel_sender_and_status_url() {
        assert_eq!(
            body("447700900001", &json!({ "type": "text", "text": "Hello" }), "msg-42", &SMS).expect("a body"),
            json!({ "message_type": "text", "text": "Hello", "channel": "sms", "to": "447700900001",
                    "from": "447700900000", "client_ref": "msg-42" })
        );
        assert_eq!(
            built(&WHATSAPP, json!({ "type": "text", "text": "Hello" })),
            json!({ "message_type": "text", "text": "Hello", "channel": "whatsapp", "to": "447700900001",
                    "from": "447700900000", "webhook_url": "https://sb.test/webhooks/7", "webhook_version": "v1" })
        );
        assert!(matches!(
            body("1", &json!({ "type": "text", "text": " " }), "", &SMS),
            Err(SendError::Permanent(why)) if why.contains("`text`")
        ));
        assert!(
            body("1", &json!({ "type": "text", "text": "x" }), &"r".repeat(101), &SMS).expect("a body")["client_ref"]
                .is_null()
        );
    }

    #[test]
    fn whatsapp_media_goes_by_url_and_sms_media_as_a_link() {
        let image = json!({ "type": "media", "kind": "image", "url": "https://cdn.test/a.jpg", "caption": "Receipt" });
        let sent = built(&WHATSAPP, image.clone());
        assert_eq!(
            (&sent["message_type"], &sent["image"]),
            (&json!("image"), &json!({ "url": "https://cdn.test/a.jpg", "caption": "Receipt" }))
        );
        let file = json!({ "type": "media", "kind": "document", "url": "https://cdn.test/a.pdf", "filename": "a.pdf" });
        assert_eq!(built(&WHATSAPP, file)["file"], json!({ "url": "https://cdn.test/a.pdf", "name": "a.pdf" }));
        let voice = json!({ "type": "media", "kind": "audio", "url": "https://cdn.test/a.ogg", "caption": "no" });
        assert!(matches!(body("1", &voice, "", &WHATSAPP), Err(SendError::Permanent(why)) if why.contains("caption")));
        let sms = built(&SMS, image);
        assert_eq!((&sms["message_type"], &sms["text"]), (&json!("text"), &json!("Receipt\nhttps://cdn.test/a.jpg")));
        assert!(sms["image"].is_null());
    }

    #[test]
    fn locations_are_a_custom_pin_on_whatsapp_and_a_link_by_sms() {
        let place = json!({ "type": "location", "latitude": 40.34772, "longitude": -74.18847, "name": "Vonage" });
        assert_eq!(
            built(&WHATSAPP, place.clone())["custom"],
            json!({ "type": "location", "location": { "latitude": 40.34772, "longitude": -74.18847, "name": "Vonage" } })
        );
        assert_eq!(built(&SMS, place)["text"], json!("Vonage\nhttps://maps.google.com/?q=40.34772,-74.18847"));
        assert!(body("1", &json!({ "type": "location", "latitude": 1.0 }), "", &WHATSAPP).is_err());
    }

    #[test]
    fn templates_are_whatsapp_custom_templates() {
        let template = json!({
            "type": "template", "name": "order_shipped", "language": "en_GB", "category": "utility",
            "components": [{ "type": "BODY", "text": "Hi {{1}}, order {{2}} shipped" }],
            "body": ["Ana", "#42"], "header": { "type": "image", "url": "https://cdn.test/h.jpg" },
            "buttons": [{ "index": 0, "sub_type": "url", "parameter": "A1" }]
        });
        let sent = built(&WHATSAPP, template.clone());
        assert_eq!(sent["message_type"], "custom");
        assert_eq!(
            sent["custom"],
            json!({ "type": "template", "template": {
                "name": "order_shipped",
                "language": { "policy": "deterministic", "code": "en_GB" },
                "components": [
                    { "type": "header", "parameters": [{ "type": "image", "image": { "link": "https://cdn.test/h.jpg" } }] },
                    { "type": "body", "parameters": [{ "type": "text", "text": "Ana" }, { "type": "text", "text": "#42" }] },
                    { "type": "button", "sub_type": "url", "index": "0", "parameters": [{ "type": "text", "text": "A1" }] }
                ]
            } })
        );
        assert_eq!((&sent["to"], &sent["channel"]), (&json!("447700900001"), &json!("whatsapp")));
        assert!(matches!(body("1", &template, "", &SMS), Err(SendError::Permanent(why)) if why.contains("SMS")));
        assert!(matches!(
            body("1", &json!({ "type": "template", "name": "x" }), "", &WHATSAPP),
            Err(SendError::Permanent(_))
        ));
        assert!(matches!(
            body("1", &json!({ "type": "interactive", "text": "?", "buttons": ["a"] }), "", &WHATSAPP),
            Err(SendError::Permanent(why)) if why.contains("`interactive`")
        ));
    }

    #[test]
    fn the_channel_setting_defaults_to_sms() {
        assert_eq!(Network::from_setting(None).expect("sms"), Network::Sms);
        assert_eq!(Network::from_setting(Some("WhatsApp")).expect("whatsapp"), Network::WhatsApp);
        assert!(
            matches!(Network::from_setting(Some("viber")), Err(SendError::Permanent(why)) if why.contains("viber"))
        );
    }

    #[test]
    fn long_texts_are_refused_with_their_segment_count() {
        assert_eq!(check_length(&"a".repeat(1530), Network::Sms).expect("fits").map(|s| s.count), Some(10));
        match check_length(&"a".repeat(1531), Network::Sms) {
            Err(SendError::Permanent(why)) => assert!(why.contains("11 SMS segments"), "{why}"),
            other => panic!("{other:?}"),
        }
        assert!(
            matches!(check_length(&"ж".repeat(671), Network::Sms), Err(SendError::Permanent(why)) if why.contains("11"))
        );
        assert_eq!(check_length(&"ж".repeat(4096), Network::WhatsApp).expect("fits"), None);
        assert!(check_length(&"a".repeat(4097), Network::WhatsApp).is_err());
    }

    #[test]
    fn vonage_problems_are_classified() {
        let unauthorized = include_bytes!("../tests/fixtures/error_unauthorized.json");
        assert!(matches!(classify(401, unauthorized), SendError::BadCredentials(why)
            if why == "Vonage answered 401: You did not provide correct credentials.: Check that you're using the correct credentials, and that your account has this feature enabled"));
        assert!(matches!(classify(403, b"{}"), SendError::BadCredentials(why) if why == "Vonage answered HTTP 403"));
        let credit = include_bytes!("../tests/fixtures/error_out_of_credit.json");
        assert!(
            matches!(classify(402, credit), SendError::Permanent(why) if why.contains("You do not have enough credit"))
        );
        let invalid = json!({ "type": "https://developer.nexmo.com/api-errors/messages#1150", "title": "Invalid params",
            "detail": "The value of one or more parameters is invalid.", "instance": "x",
            "invalid_parameters": [{ "name": "to", "reason": "Invalid value" }] });
        assert!(matches!(classify(422, invalid.to_string().as_bytes()), SendError::Permanent(why)
            if why == "Vonage answered 422: Invalid params: The value of one or more parameters is invalid. [to (Invalid value)]"));
        assert!(matches!(classify(429, br#"{"title":"Rate Limit Hit"}"#), SendError::Transient(_)));
        assert!(matches!(classify(503, b"<html>"), SendError::Transient(why) if why == "Vonage answered HTTP 503"));
        let window = json!({ "type": "https://developer.vonage.com/api-errors/messages#1340", "title": "Outside of the allowed window",
            "detail": "This message is sent outside of allowed response window." });
        assert!(matches!(classify(422, window.to_string().as_bytes()), SendError::WindowClosed(_)));
    }
}
