//! What leaves for MessageBird: the body of `POST /v1/send` for each kind of content (templates as WhatsApp
//! HSM), the length rules a text must meet, and the API's errors as send outcomes.

use serde_json::{Map, Value, json};
use switchboard_plugin_sdk::channel::SendError;
use switchboard_plugin_sdk::sms::{self, Segments};

/// MessageBird's WhatsApp error for a free-form message outside the 24-hour window (its troubleshooting
/// page: "outside the support window for freeform messages").
pub const WINDOW_CLOSED: i64 = 470;
/// Longer SMS texts are refused here rather than split into more parts than carriers join reliably.
const MAX_SEGMENTS: usize = 10;
/// WhatsApp's limit for a text message.
const MAX_WHATSAPP_CHARACTERS: usize = 4096;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Platform {
    Sms,
    WhatsApp,
}

/// The channel messages leave from.
#[derive(Debug)]
pub struct Sender {
    pub channel_id: String,
    pub platform: Platform,
    pub whatsapp_namespace: Option<String>,
}

fn permanent(why: impl Into<String>) -> SendError {
    SendError::Permanent(why.into())
}

/// The body of `POST /v1/send` of `content` to `to`, with the text it carries when it is one.
pub fn body(
    to: &str,
    content: &Value,
    sender: &Sender,
    report_url: Option<&str>,
) -> Result<(Value, Option<String>), SendError> {
    let text = |field: &str| {
        content[field]
            .as_str()
            .filter(|s| !s.is_empty())
            .map(str::to_owned)
            .ok_or_else(|| permanent(format!("the message has no `{field}`")))
    };
    let optional = |field: &str| text(field).ok();
    let (kind, payload, sent_text) = match content["type"].as_str().unwrap_or_default() {
        "text" => {
            let body = text("text")?;
            ("text", json!({ "text": body }), Some(body))
        }
        "media" => {
            let kind = match content["kind"].as_str().unwrap_or_default() {
                "image" => "image",
                "video" => "video",
                "audio" => "audio",
                "document" => "file",
                other => return Err(permanent(format!("MessageBird cannot send media of kind `{other}`"))),
            };
            let mut media = json!({ "url": text("url")? });
            if let Some(caption) = optional("caption") {
                if kind == "audio" {
                    return Err(permanent("MessageBird's audio messages cannot have a caption"));
                }
                media["caption"] = caption.into();
            }
            (kind, json!({ kind: media }), None)
        }
        "location" => {
            let (Some(latitude), Some(longitude)) = (content["latitude"].as_f64(), content["longitude"].as_f64())
            else {
                return Err(permanent("a location needs `latitude` and `longitude`"));
            };
            if sender.platform == Platform::WhatsApp {
                // MessageBird's location has coordinates only: the name and address do not travel.
                ("location", json!({ "location": { "latitude": latitude, "longitude": longitude } }), None)
            } else {
                // SMS has nothing better than a map link.
                let label = optional("name").or_else(|| optional("address")).unwrap_or_else(|| "Location".into());
                let body = format!("{label}\nhttps://maps.google.com/?q={latitude},{longitude}");
                ("text", json!({ "text": body }), Some(body))
            }
        }
        "template" => {
            if sender.platform != Platform::WhatsApp {
                return Err(permanent("templates are WhatsApp's: this channel's platform is SMS"));
            }
            let Some(namespace) = &sender.whatsapp_namespace else {
                return Err(permanent("the channel's whatsapp_namespace is not set, which templates need"));
            };
            ("hsm", json!({ "hsm": hsm(content, namespace, &text("name")?, &text("language")?)? }), None)
        }
        other => return Err(permanent(format!("MessageBird cannot send `{other}` messages"))),
    };
    let mut body = json!({ "to": to, "from": sender.channel_id, "type": kind, "content": payload });
    if let Some(url) = report_url {
        body["reportUrl"] = url.into();
    }
    Ok((body, sent_text))
}

/// A WhatsApp template as MessageBird's HSM: the body's values as `params` when they are all there is,
/// `components` (WhatsApp's, with `url` for media) when a header or buttons take values too.
fn hsm(content: &Value, namespace: &str, name: &str, language: &str) -> Result<Value, SendError> {
    let as_text = |v: &Value| v.as_str().map_or_else(|| v.to_string(), str::to_owned);
    let body: Vec<String> = content["body"].as_array().into_iter().flatten().map(as_text).collect();
    let header = content["header"].as_object();
    let buttons = content["buttons"].as_array().map(Vec::as_slice).unwrap_or_default();
    let mut hsm = json!({
        "namespace": namespace,
        "templateName": name,
        "language": { "policy": "deterministic", "code": language },
    });
    if header.is_none() && buttons.is_empty() {
        if !body.is_empty() {
            hsm["params"] = body.iter().map(|text| json!({ "default": text })).collect();
        }
        return Ok(hsm);
    }
    let mut components = Vec::new();
    if let Some(header) = header {
        components.push(json!({ "type": "header", "parameters": [header_parameter(header)?] }));
    }
    if !body.is_empty() {
        let parameters: Vec<Value> = body.iter().map(|text| json!({ "type": "text", "text": text })).collect();
        components.push(json!({ "type": "body", "parameters": parameters }));
    }
    for button in buttons {
        let index = button["index"]
            .as_u64()
            .or_else(|| button["index"].as_str().and_then(|i| i.parse().ok()))
            .ok_or_else(|| permanent("a template button without an index"))?;
        let value = as_text(&button["parameter"]);
        let (sub_type, parameter) = match button["sub_type"].as_str().unwrap_or_default() {
            "quick_reply" => ("quick_reply", json!({ "type": "payload", "payload": value })),
            "url" => ("url", json!({ "type": "text", "text": value })),
            other => return Err(permanent(format!("template button {index}: MessageBird takes no `{other}` value"))),
        };
        components.push(json!({ "type": "button", "sub_type": sub_type, "index": index, "parameters": [parameter] }));
    }
    hsm["components"] = components.into();
    Ok(hsm)
}

fn header_parameter(header: &Map<String, Value>) -> Result<Value, SendError> {
    let field = |name: &str| header.get(name).and_then(Value::as_str).filter(|v| !v.is_empty());
    let kind = field("type").unwrap_or_default();
    match (kind, field("url"), field("text")) {
        ("image" | "video" | "document", Some(url), _) => Ok(json!({ "type": kind, kind: { "url": url } })),
        ("text", _, Some(text)) => Ok(json!({ "type": "text", "text": text })),
        _ => Err(permanent(format!("a template header of type `{kind}` needs its `url` or `text`"))),
    }
}

/// Refuses a text over 10 SMS segments, or over 4096 characters on WhatsApp (which does not split).
pub fn check_length(text: &str, platform: Platform) -> Result<Segments, SendError> {
    let segments = sms::segments(text);
    let characters = text.chars().count();
    if platform == Platform::WhatsApp && characters > MAX_WHATSAPP_CHARACTERS {
        return Err(permanent(format!(
            "the text has {characters} characters; WhatsApp takes at most {MAX_WHATSAPP_CHARACTERS}"
        )));
    }
    if platform == Platform::Sms && segments.count > MAX_SEGMENTS {
        return Err(permanent(format!(
            "the text takes {} SMS segments ({:?}, {} units); this channel sends at most {MAX_SEGMENTS}",
            segments.count, segments.encoding, segments.units
        )));
    }
    Ok(segments)
}

/// A non-2xx answer of the Conversations API (`{errors: [{code, description, parameter}]}`) as a send outcome.
pub fn classify(status: u16, body: &[u8]) -> SendError {
    let answer: Value = serde_json::from_slice(body).unwrap_or_default();
    let error = &answer["errors"][0];
    let code = error["code"].as_i64();
    let mut why = match (error["description"].as_str(), code) {
        (Some(description), Some(code)) => format!("MessageBird answered {status}: {description} (error {code})"),
        (Some(description), None) => format!("MessageBird answered {status}: {description}"),
        _ => format!("MessageBird answered HTTP {status}"),
    };
    if let Some(parameter) = error["parameter"].as_str().filter(|p| !p.is_empty()) {
        why.push_str(&format!(", parameter `{parameter}`"));
    }
    match (status, code) {
        // 1001: "You are requesting with an invalid credential."
        (401 | 403, _) | (_, Some(1001)) => SendError::BadCredentials(why),
        (_, Some(WINDOW_CLOSED)) => SendError::WindowClosed(why),
        (429 | 500..=599, _) => SendError::Transient(why),
        _ => SendError::Permanent(why),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sender(platform: Platform) -> Sender {
        Sender {
            channel_id: "853eeb5348e541a595da93b48c61a1ae".into(),
            platform,
            whatsapp_namespace: Some("ns".into()),
        }
    }

    fn sent(platform: Platform, content: Value) -> Value {
        body("31612345678", &content, &sender(platform), None).expect("a body").0
    }

    #[test]
    fn an_sms_text_names_the_channel_and_asks_for_reports() {
        let (sent, text) = body(
            "31612345678",
            &json!({ "type": "text", "text": "Hello" }),
            &sender(Platform::Sms),
            Some("https://sb.test/webhooks/7"),
        )
        .expect("a body");
        assert_eq!(
            sent,
            json!({ "to": "31612345678", "from": "853eeb5348e541a595da93b48c61a1ae", "type": "text",
                    "content": { "text": "Hello" }, "reportUrl": "https://sb.test/webhooks/7" })
        );
        assert_eq!(text.as_deref(), Some("Hello"));
    }

    #[test]
    fn whatsapp_media_go_by_url_with_their_caption() {
        let image = json!({ "type": "media", "kind": "image", "url": "https://cdn.test/a.jpg", "caption": "Receipt" });
        assert_eq!(
            sent(Platform::WhatsApp, image),
            json!({ "to": "31612345678", "from": "853eeb5348e541a595da93b48c61a1ae", "type": "image",
                    "content": { "image": { "url": "https://cdn.test/a.jpg", "caption": "Receipt" } } })
        );
        let pdf = json!({ "type": "media", "kind": "document", "url": "https://cdn.test/a.pdf", "filename": "a.pdf" });
        assert_eq!(sent(Platform::WhatsApp, pdf)["content"], json!({ "file": { "url": "https://cdn.test/a.pdf" } }));
        let refused = |content: Value| body("1", &content, &sender(Platform::WhatsApp), None).map(|(b, _)| b);
        let voice = json!({ "type": "media", "kind": "audio", "url": "https://cdn.test/a.ogg", "caption": "x" });
        assert!(matches!(refused(voice), Err(SendError::Permanent(why)) if why.contains("caption")));
        let sticker = json!({ "type": "media", "kind": "sticker", "url": "https://cdn.test/a.webp" });
        assert!(matches!(refused(sticker), Err(SendError::Permanent(why)) if why.contains("sticker")));
        assert!(matches!(refused(json!({ "type": "interactive", "text": "?" })), Err(SendError::Permanent(_))));
        assert!(matches!(refused(json!({ "type": "text", "text": "" })), Err(SendError::Permanent(_))));
    }

    #[test]
    fn locations_are_a_pin_on_whatsapp_and_a_link_by_sms() {
        let place = json!({ "type": "location", "latitude": 52.3766, "longitude": 4.8858, "name": "Office" });
        assert_eq!(
            sent(Platform::WhatsApp, place.clone())["content"],
            json!({ "location": { "latitude": 52.3766, "longitude": 4.8858 } })
        );
        let (sms, text) = body("1", &place, &sender(Platform::Sms), None).expect("a body");
        assert_eq!(sms["type"], "text");
        assert_eq!(text.as_deref(), Some("Office\nhttps://maps.google.com/?q=52.3766,4.8858"));
    }

    #[test]
    fn templates_become_hsm_with_params_or_components() {
        let fixture: Value =
            serde_json::from_str(include_str!("../tests/fixtures/send_hsm_request.json")).expect("fixture");
        let plain = json!({ "type": "template", "name": "template", "language": "en_US", "category": "utility",
                            "components": [{ "type": "BODY", "text": "{{1}}" }], "body": ["Hello!"], "header": null, "buttons": [] });
        let hsm = &sent(Platform::WhatsApp, plain)["content"]["hsm"];
        let documented = &fixture["content"]["hsm"];
        for key in ["namespace", "templateName", "language"] {
            assert_eq!(hsm[key], documented[key], "{key}");
        }
        assert_eq!(hsm["params"], json!([documented["params"][0]]));
        assert_eq!(
            sent(Platform::WhatsApp, json!({ "type": "template", "name": "t", "language": "en" }))["content"]["hsm"]
                .get("params"),
            None
        );

        let rich = json!({ "type": "template", "name": "order_shipped", "language": "pt_BR",
                           "body": ["Ana", 42], "header": { "type": "image", "url": "https://cdn.test/box.jpg" },
                           "buttons": [{ "index": 0, "sub_type": "quick_reply", "parameter": "track" },
                                       { "index": 1, "sub_type": "url", "parameter": "A1" }] });
        assert_eq!(
            sent(Platform::WhatsApp, rich),
            json!({ "to": "31612345678", "from": "853eeb5348e541a595da93b48c61a1ae", "type": "hsm", "content": { "hsm": {
                "namespace": "ns", "templateName": "order_shipped", "language": { "policy": "deterministic", "code": "pt_BR" },
                "components": [
                    { "type": "header", "parameters": [{ "type": "image", "image": { "url": "https://cdn.test/box.jpg" } }] },
                    { "type": "body", "parameters": [{ "type": "text", "text": "Ana" }, { "type": "text", "text": "42" }] },
                    { "type": "button", "sub_type": "quick_reply", "index": 0, "parameters": [{ "type": "payload", "payload": "track" }] },
                    { "type": "button", "sub_type": "url", "index": 1, "parameters": [{ "type": "text", "text": "A1" }] }
                ] } } })
        );
        let text_header =
            json!({ "type": "template", "name": "t", "language": "en", "header": { "type": "text", "text": "Hi" } });
        assert_eq!(
            sent(Platform::WhatsApp, text_header)["content"]["hsm"]["components"],
            json!([{ "type": "header", "parameters": [{ "type": "text", "text": "Hi" }] }])
        );

        let refused = |content: Value, sender: &Sender| match body("1", &content, sender, None) {
            Err(SendError::Permanent(why)) => why,
            other => panic!("{other:?}"),
        };
        let template = json!({ "type": "template", "name": "t", "language": "en" });
        assert!(refused(template.clone(), &sender(Platform::Sms)).contains("SMS"));
        let no_namespace = Sender { whatsapp_namespace: None, ..sender(Platform::WhatsApp) };
        assert!(refused(template, &no_namespace).contains("whatsapp_namespace"));
        let code = json!({ "type": "template", "name": "t", "language": "en",
                           "buttons": [{ "index": 0, "sub_type": "copy_code", "parameter": "X" }] });
        assert!(refused(code, &sender(Platform::WhatsApp)).contains("copy_code"));
    }

    #[test]
    fn long_texts_are_refused_with_their_segment_count() {
        assert_eq!(check_length(&"a".repeat(1530), Platform::Sms).expect("fits").count, 10);
        match check_length(&"a".repeat(1531), Platform::Sms) {
            Err(SendError::Permanent(why)) => assert!(why.contains("11 SMS segments"), "{why}"),
            other => panic!("{other:?}"),
        }
        assert!(check_length(&"ж".repeat(671), Platform::Sms).is_err(), "UCS-2: 67 per part");
        assert!(check_length(&"ж".repeat(4096), Platform::WhatsApp).is_ok(), "WhatsApp does not split");
        assert!(check_length(&"a".repeat(4097), Platform::WhatsApp).is_err());
    }

    #[test]
    fn messagebird_errors_are_classified() {
        let e = |status: u16, code: i64| {
            let body = json!({ "errors": [{ "code": code, "description": "d", "parameter": "to" }] });
            classify(status, body.to_string().as_bytes())
        };
        let documented = classify(401, include_bytes!("../tests/fixtures/error_response.json"));
        assert!(matches!(
            documented,
            SendError::BadCredentials(why) if why == "MessageBird answered 401: You are requesting with an invalid credential. (error 1001)"
        ));
        assert!(matches!(e(403, 2), SendError::BadCredentials(_)));
        assert!(matches!(e(429, 0), SendError::Transient(_)));
        assert!(
            matches!(classify(503, b"<html>"), SendError::Transient(why) if why == "MessageBird answered HTTP 503")
        );
        assert!(matches!(e(422, WINDOW_CLOSED), SendError::WindowClosed(_)));
        assert!(
            matches!(e(422, 21), SendError::Permanent(why) if why == "MessageBird answered 422: d (error 21), parameter `to`")
        );
        assert!(matches!(classify(400, b""), SendError::Permanent(_)));
    }
}
