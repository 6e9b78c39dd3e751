//! What leaves for Twilio: the form of `POST /Messages.json` for each kind of content, the length rules a
//! text must meet, Twilio's errors as send outcomes, and Content API templates in the server's shape.

use serde_json::{Map, Value, json};
use switchboard_plugin_sdk::channel::SendError;
use switchboard_plugin_sdk::sms::{self, Segments};

/// Twilio refuses a body over 1600 characters; as SMS that is 10 segments of GSM-7 at most.
const MAX_SEGMENTS: usize = 10;
const MAX_CHARACTERS: usize = 1600;

/// Who sends: a Messaging Service (Twilio picks the number) or one sender.
#[derive(Debug, Default)]
pub struct Sender {
    pub from: Option<String>,
    pub messaging_service_sid: Option<String>,
}

fn permanent(why: impl Into<String>) -> SendError {
    SendError::Permanent(why.into())
}

/// The form fields of one message to `to`, in the order they are sent.
pub fn form(
    to: &str,
    content: &Value,
    sender: &Sender,
    status_callback: Option<&str>,
) -> Result<Vec<(&'static str, String)>, SendError> {
    let mut fields = vec![("To", to.to_owned())];
    match (&sender.messaging_service_sid, &sender.from) {
        (Some(service), _) => fields.push(("MessagingServiceSid", service.clone())),
        (None, Some(from)) => fields.push(("From", from.clone())),
        (None, None) => return Err(permanent("the channel's config has neither `from` nor `messaging_service_sid`")),
    }
    let text = |field: &str| {
        content[field]
            .as_str()
            .filter(|s| !s.is_empty())
            .map(str::to_owned)
            .ok_or_else(|| permanent(format!("the message has no `{field}`")))
    };
    match content["type"].as_str().unwrap_or_default() {
        "text" => fields.push(("Body", text("text")?)),
        "media" => {
            if let Ok(caption) = text("caption") {
                fields.push(("Body", caption));
            }
            fields.push(("MediaUrl", text("url")?));
        }
        "location" => {
            let (Some(lat), Some(lon)) = (content["latitude"].as_f64(), content["longitude"].as_f64()) else {
                return Err(permanent("a location needs `latitude` and `longitude`"));
            };
            let label = text("name").or_else(|_| text("address")).unwrap_or_else(|_| "Location".into());
            if to.starts_with("whatsapp:") {
                // WhatsApp shows a pin for a `geo:` action; SMS has nothing better than a map link.
                fields.push(("Body", label.clone()));
                fields.push(("PersistentAction", format!("geo:{lat},{lon}|{label}")));
            } else {
                fields.push(("Body", format!("{label}\nhttps://maps.google.com/?q={lat},{lon}")));
            }
        }
        "template" => {
            let sid = text("name")?;
            if !sid.starts_with("HX") {
                return Err(permanent(format!(
                    "`{sid}` is not a Content SID (HX…), which a Twilio template's name is"
                )));
            }
            fields.push(("ContentSid", sid));
            let variables = content_variables(content);
            if !variables.is_empty() {
                fields.push(("ContentVariables", Value::Object(variables).to_string()));
            }
        }
        other => return Err(permanent(format!("Twilio cannot send `{other}` messages"))),
    }
    if let Some(url) = status_callback {
        fields.push(("StatusCallback", url.to_owned()));
    }
    Ok(fields)
}

/// Refuses a body Twilio would: over 10 SMS segments, or over 1600 characters on WhatsApp (which does not
/// split messages).
pub fn check_length(body: &str, whatsapp: bool) -> Result<Segments, SendError> {
    let segments = sms::segments(body);
    let characters = body.chars().count();
    if whatsapp && characters > MAX_CHARACTERS {
        return Err(permanent(format!("the text has {characters} characters; Twilio sends at most {MAX_CHARACTERS}")));
    }
    if !whatsapp && segments.count > MAX_SEGMENTS {
        return Err(permanent(format!(
            "the text takes {} SMS segments ({:?}, {} units); Twilio sends at most {MAX_SEGMENTS}",
            segments.count, segments.encoding, segments.units
        )));
    }
    Ok(segments)
}

/// The distinct `{{n}}` variables of a text, in ascending order.
fn variable_numbers(text: &str) -> Vec<u32> {
    let mut numbers: Vec<u32> = text
        .split("{{")
        .skip(1)
        .filter_map(|rest| rest.split_once("}}").and_then(|(n, _)| n.trim().parse().ok()))
        .collect();
    numbers.sort_unstable();
    numbers.dedup();
    numbers
}

/// `ContentVariables` from the server's template content: the body's parameters fill the body's variables
/// in ascending order, a button's parameter the variable of that button's URL.
fn content_variables(content: &Value) -> Map<String, Value> {
    let component = |kind: &str| {
        content["components"]
            .as_array()
            .into_iter()
            .flatten()
            .find(|c| c["type"].as_str().is_some_and(|t| t.eq_ignore_ascii_case(kind)))
    };
    let body_numbers = component("BODY").and_then(|b| b["text"].as_str()).map(variable_numbers).unwrap_or_default();
    let as_text = |v: &Value| v.as_str().map_or_else(|| v.to_string(), str::to_owned);
    let mut variables = Map::new();
    for (i, value) in content["body"].as_array().into_iter().flatten().enumerate() {
        // A template stored without components numbers its parameters from 1.
        let number = body_numbers.get(i).copied().unwrap_or(i as u32 + 1);
        variables.insert(number.to_string(), as_text(value).into());
    }
    for button in content["buttons"].as_array().into_iter().flatten() {
        let index = button["index"].as_u64().unwrap_or(u64::MAX) as usize;
        let url = component("BUTTONS").and_then(|b| b["buttons"].get(index)).and_then(|b| b["url"].as_str());
        if let Some(number) = url.map(variable_numbers).and_then(|n| n.first().copied()) {
            variables.insert(number.to_string(), as_text(&button["parameter"]).into());
        }
    }
    variables
}

/// A non-2xx answer of Twilio's API (`{code, message, more_info, status}`) as a send outcome.
pub fn classify(status: u16, body: &[u8]) -> SendError {
    let error: Value = serde_json::from_slice(body).unwrap_or_default();
    let code = error["code"].as_i64();
    let why = match (error["message"].as_str(), code) {
        (Some(message), Some(code)) => format!("Twilio answered {status}: {message} (error {code})"),
        (Some(message), None) => format!("Twilio answered {status}: {message}"),
        _ => format!("Twilio answered HTTP {status}"),
    };
    match (status, code) {
        (401, _) | (_, Some(20003)) => SendError::BadCredentials(why),
        (_, Some(63016)) => SendError::WindowClosed(why),
        (429 | 500..=599, _) | (_, Some(20429)) => SendError::Transient(why),
        // Invalid (21211), not mobile (21614), unsubscribed (21610) and the rest: retrying will not help.
        _ => SendError::Permanent(why),
    }
}

/// One page of `GET /v1/Content` as templates the server stores: the Content SID as the name (what `send`
/// gets back), the body as the `BODY` component and actions as `BUTTONS`.
pub fn templates(page: &Value) -> Vec<Value> {
    let Some(contents) = page["contents"].as_array() else { return Vec::new() };
    contents
        .iter()
        .filter_map(|c| {
            let sid = c["sid"].as_str().filter(|s| !s.is_empty())?;
            // One content has a variant per channel type; the first one with a text stands for all.
            let types = c["types"].as_object()?;
            let variant = types.values().find(|t| t["body"].is_string() || t["title"].is_string())?;
            let body = variant["body"].as_str().or_else(|| variant["title"].as_str()).unwrap_or_default();
            let mut components = vec![json!({ "type": "BODY", "text": body })];
            let buttons: Vec<Value> = variant["actions"]
                .as_array()
                .into_iter()
                .flatten()
                .map(|a| {
                    let mut b = json!({ "type": a["type"].as_str().unwrap_or("QUICK_REPLY"), "text": a["title"] });
                    for (from, to) in [("url", "url"), ("phone", "phone_number")] {
                        if let Some(v) = a[from].as_str() {
                            b[to] = v.into();
                        }
                    }
                    b
                })
                .collect();
            if !buttons.is_empty() {
                components.push(json!({ "type": "BUTTONS", "buttons": buttons }));
            }
            let approval = &c["approval_requests"];
            Some(json!({
                "name": sid,
                "language": c["language"].as_str().unwrap_or("en"),
                "category": approval["category"].as_str().unwrap_or("utility").to_ascii_lowercase(),
                "status": approval["status"].as_str().unwrap_or("approved").to_ascii_lowercase(),
                "components": components,
            }))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sms_sender() -> Sender {
        Sender { from: Some("+15017122661".into()), messaging_service_sid: None }
    }

    fn fields(to: &str, content: Value) -> Vec<(&'static str, String)> {
        form(to, &content, &sms_sender(), Some("https://sb.test/webhooks/7")).expect("a form")
    }

    fn owned(pairs: &[(&'static str, &str)]) -> Vec<(&'static str, String)> {
        pairs.iter().map(|(k, v)| (*k, (*v).to_owned())).collect()
    }

    #[test]
    fn texts_and_files_name_the_sender_and_ask_for_statuses() {
        assert_eq!(
            fields("+15558675310", json!({ "type": "text", "text": "Hello" })),
            owned(&[
                ("To", "+15558675310"),
                ("From", "+15017122661"),
                ("Body", "Hello"),
                ("StatusCallback", "https://sb.test/webhooks/7")
            ])
        );
        let file = json!({ "type": "media", "kind": "image", "url": "https://cdn.test/a.jpg", "caption": "Receipt" });
        let service = Sender { from: Some("+1".into()), messaging_service_sid: Some("MG123".into()) };
        assert_eq!(
            form("whatsapp:+1555", &file, &service, None).expect("a form"),
            owned(&[
                ("To", "whatsapp:+1555"),
                ("MessagingServiceSid", "MG123"),
                ("Body", "Receipt"),
                ("MediaUrl", "https://cdn.test/a.jpg")
            ])
        );
        let no_sender = form("+1", &json!({ "type": "text", "text": "x" }), &Sender::default(), None);
        assert!(matches!(no_sender, Err(SendError::Permanent(why)) if why.contains("messaging_service_sid")));
        assert!(matches!(
            form("+1", &json!({ "type": "interactive" }), &sms_sender(), None),
            Err(SendError::Permanent(_))
        ));
        assert!(matches!(
            form("+1", &json!({ "type": "text", "text": "" }), &sms_sender(), None),
            Err(SendError::Permanent(_))
        ));
    }

    #[test]
    fn locations_are_a_pin_on_whatsapp_and_a_link_by_sms() {
        let place = json!({ "type": "location", "latitude": 37.78789, "longitude": -122.391664, "name": "Twilio" });
        let whatsapp = fields("whatsapp:+1", place.clone());
        assert!(whatsapp.contains(&("PersistentAction", "geo:37.78789,-122.391664|Twilio".to_owned())));
        let sms = fields("+1", place);
        assert!(sms.contains(&("Body", "Twilio\nhttps://maps.google.com/?q=37.78789,-122.391664".to_owned())));
    }

    #[test]
    fn templates_become_a_content_sid_and_numbered_variables() {
        let content = json!({
            "type": "template", "name": "HX1234", "language": "en", "category": "utility",
            "components": [
                { "type": "BODY", "text": "Hi {{1}}, order {{3}} ships {{1}}" },
                { "type": "BUTTONS", "buttons": [{ "type": "QUICK_REPLY", "text": "OK" },
                                                 { "type": "URL", "text": "Track", "url": "https://t.test/{{2}}" }] }
            ],
            "body": ["Ana", "#42"], "header": null, "buttons": [{ "index": 1, "sub_type": "url", "parameter": "A1" }]
        });
        let sent = fields("whatsapp:+1", content);
        assert_eq!(sent[2], ("ContentSid", "HX1234".to_owned()));
        let variables: Value = serde_json::from_str(&sent[3].1).expect("JSON");
        assert_eq!(variables, json!({ "1": "Ana", "2": "A1", "3": "#42" }));
        assert_eq!(sent[3].0, "ContentVariables");
        // Without stored components the parameters are numbered from 1; without parameters nothing is sent.
        let bare = fields("+1", json!({ "type": "template", "name": "HX9", "body": ["x", "y"] }));
        assert_eq!(bare[3], ("ContentVariables", r#"{"1":"x","2":"y"}"#.to_owned()));
        let none = fields("+1", json!({ "type": "template", "name": "HX9", "body": [] }));
        assert_eq!(none.iter().map(|(k, _)| *k).collect::<Vec<_>>(), ["To", "From", "ContentSid", "StatusCallback"]);
        let named = form("+1", &json!({ "type": "template", "name": "order_shipped" }), &sms_sender(), None);
        assert!(matches!(named, Err(SendError::Permanent(why)) if why.contains("HX")));
    }

    #[test]
    fn long_texts_are_refused_with_their_segment_count() {
        assert_eq!(check_length(&"a".repeat(1530), false).expect("fits").count, 10);
        match check_length(&"a".repeat(1531), false) {
            Err(SendError::Permanent(why)) => assert!(why.contains("11 SMS segments"), "{why}"),
            other => panic!("{other:?}"),
        }
        assert!(matches!(check_length(&"ж".repeat(671), false), Err(SendError::Permanent(why)) if why.contains("11")));
        // WhatsApp does not split: only the character limit applies.
        assert!(check_length(&"ж".repeat(1600), true).is_ok());
        assert!(check_length(&"a".repeat(1601), true).is_err());
    }

    #[test]
    fn twilio_errors_are_classified() {
        let e = |status: u16, code: i64| {
            let body = json!({ "code": code, "message": "m", "more_info": format!("https://www.twilio.com/docs/errors/{code}"), "status": status });
            classify(status, body.to_string().as_bytes())
        };
        assert!(matches!(e(401, 20003), SendError::BadCredentials(_)));
        assert!(matches!(e(429, 20429), SendError::Transient(_)));
        assert!(matches!(classify(503, b"<html>"), SendError::Transient(why) if why == "Twilio answered HTTP 503"));
        assert!(matches!(e(400, 63016), SendError::WindowClosed(_)));
        for code in [21211, 21614, 21610] {
            assert!(
                matches!(e(400, code), SendError::Permanent(why) if why == format!("Twilio answered 400: m (error {code})"))
            );
        }
    }

    #[test]
    fn content_api_pages_map_to_the_servers_template_shape() {
        let page = json!({ "contents": [
            { "sid": "HXa", "friendly_name": "order_shipped", "language": "en", "variables": { "1": "x" },
              "types": { "twilio/text": { "body": "Your order {{1}} shipped" } } },
            { "sid": "HXb", "language": "pt_BR", "types": { "twilio/call-to-action": {
                "body": "Track {{1}}", "actions": [{ "type": "URL", "title": "Track", "url": "https://t.test/{{2}}" }] } },
              "approval_requests": { "category": "UTILITY", "status": "rejected" } },
            { "sid": "HXc", "types": { "twilio/quick-reply": { "body": "OK?", "actions": [{ "title": "Yes", "id": "y" }] } } },
            { "sid": "HXd", "types": { "twilio/catalog": { "id": "1" } } }
        ], "meta": { "next_page_url": null } });
        let listed = templates(&page);
        assert_eq!(
            listed[0],
            json!({ "name": "HXa", "language": "en", "category": "utility", "status": "approved",
                    "components": [{ "type": "BODY", "text": "Your order {{1}} shipped" }] })
        );
        assert_eq!((listed[1]["status"].clone(), listed[1]["language"].clone()), (json!("rejected"), json!("pt_BR")));
        assert_eq!(
            listed[1]["components"][1]["buttons"][0],
            json!({ "type": "URL", "text": "Track", "url": "https://t.test/{{2}}" })
        );
        assert_eq!(listed[2]["components"][1]["buttons"][0], json!({ "type": "QUICK_REPLY", "text": "Yes" }));
        assert_eq!(listed.len(), 3, "a content without text is left out");
    }
}
