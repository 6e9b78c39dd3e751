//! Facebook Messenger channel: Meta's webhooks (checked with the app secret) in; the Send API out, with
//! quick replies, attachments by URL, message tags outside the 24-hour window and a private reply to a
//! post comment; `connect` subscribes the app to the Page's events.

mod inbound;

use serde_json::{Value, json};
use switchboard_plugin_sdk::channel::*;
use switchboard_plugin_sdk::host;
use switchboard_plugin_sdk::verify::meta;

const DEFAULT_API: &str = "https://graph.facebook.com";
const DEFAULT_VERSION: &str = "v21.0";
const SUBSCRIBED_FIELDS: &str =
    "messages,messaging_postbacks,message_deliveries,message_reads,message_echoes,message_reactions,feed";
const MAX_QUICK_REPLIES: usize = 13;
const MAX_TITLE: usize = 20;
/// Meta allows one private reply per comment, within 7 days.
const PRIVATE_REPLY_MS: i64 = 7 * 24 * 3600 * 1000;

struct Messenger;

impl Channel for Messenger {
    fn describe() -> Info {
        Info {
            id: "messenger".into(),
            name: "Facebook Messenger".into(),
            version: "0.1.0".into(),
            capabilities: Capabilities {
                text: true,
                media: true,
                templates: false,
                interactive: true,
                reactions: false,
                locations: false,
            },
            // Standard messaging for 24 hours after the person's last message; a message tag after that.
            window: WindowPolicy { free_form_hours: Some(24), templates_outside: false, tags_outside: true },
        }
    }

    fn verify(request: HttpRequest) -> Result<Option<HttpResponse>, WebhookError> {
        meta::handshake(&request, host::secret("verify_token").as_deref())
    }

    fn handle_webhook(request: HttpRequest) -> Result<(Vec<InboundEvent>, HttpResponse), WebhookError> {
        // Pages' webhooks still carry the SHA-1 header beside the SHA-256 one; either proves the sender.
        meta::check_signature(&request, host::secret("app_secret").as_deref(), true)?;
        let body: Value = serde_json::from_slice(&request.body)
            .map_err(|e| WebhookError::BadRequest(format!("not a Messenger delivery: {e}")))?;
        let mut parsed = inbound::parse(&body)?;
        for (from, comment) in &parsed.comments {
            let _ = host::store::set_stamped(&comment_key(from), comment);
        }
        for sender in &parsed.senders {
            add_profile(&mut parsed.events, sender);
        }
        Ok((parsed.events, HttpResponse::ok()))
    }

    fn send(message: OutboundMessage) -> Result<String, SendError> {
        let api = Api::from_settings()?;
        let comment = pending_comment(&message.to);
        let (recipient, private_reply) = match &comment {
            Some(comment) => (json!({ "comment_id": comment }), true),
            None => (json!({ "id": message.to }), false),
        };
        let mut body = json!({ "recipient": recipient });
        if private_reply {
            // A private reply opens the conversation; it is its own kind of message, not a tagged one.
        } else if message.outside_window {
            let tag = host::config::<String>("message_tag").filter(|t| !t.trim().is_empty());
            body["messaging_type"] = "MESSAGE_TAG".into();
            body["tag"] = tag.unwrap_or_else(|| "HUMAN_AGENT".into()).into();
        } else {
            body["messaging_type"] = "RESPONSE".into();
        }
        let metadata = format!("{}{}", inbound::OWN_METADATA, message.reference);
        let mut parts = outgoing(&message.content)?;
        let last = parts.pop().ok_or_else(|| SendError::Permanent("nothing to send".into()))?;
        // A caption goes first, as its own message; the file's id is the one kept.
        for mut part in parts {
            part["metadata"] = metadata.clone().into();
            body["message"] = part;
            api.call("POST", "/me/messages", &body)?;
        }
        let mut last = last;
        last["metadata"] = metadata.into();
        body["message"] = last;
        let answer = api.call("POST", "/me/messages", &body)?;
        if comment.is_some() {
            let _ = host::store::delete(&comment_key(&message.to));
        }
        answer["message_id"]
            .as_str()
            .map(str::to_owned)
            .ok_or_else(|| SendError::Permanent("the Send API answered without a message_id".into()))
    }

    fn connect(_webhook_url: String) -> Result<(), SendError> {
        // The callback URL itself is set in the Meta app's dashboard; the Page must subscribe the app.
        let path = format!("/me/subscribed_apps?subscribed_fields={SUBSCRIBED_FIELDS}");
        Api::from_settings()?.call("POST", &path, &json!({})).map(drop)
    }

    fn disconnect() -> Result<(), SendError> {
        Api::from_settings()?.call("DELETE", "/me/subscribed_apps", &json!({})).map(drop)
    }

    fn media_request(reference: String) -> Result<OutgoingRequest, SendError> {
        // Attachments are signed CDN links that Meta gives with the message.
        if !reference.starts_with("https://") {
            return Err(SendError::Permanent(format!("`{reference}` is not a Messenger attachment link")));
        }
        Ok(OutgoingRequest::get(reference))
    }
}

fn comment_key(from: &str) -> String {
    format!("comment:{from}")
}

/// The comment awaiting this contact's private reply, if still answerable (Meta takes one, so it is
/// forgotten once the reply is sent).
fn pending_comment(to: &str) -> Option<String> {
    host::store::get_fresh(&comment_key(to), PRIVATE_REPLY_MS)
}

/// The first time a person writes, their name and picture from the Graph API, as a profile update. Best
/// effort: a failure leaves the contact nameless and is not retried.
fn add_profile(events: &mut Vec<InboundEvent>, psid: &str) {
    let key = format!("profile:{psid}");
    if host::store::get(&key).ok().flatten().is_some()
        || events.iter().any(|e| matches!(e, InboundEvent::Contact { contact } if contact.external_id == psid))
    {
        return;
    }
    let _ = host::store::set(&key, b"1");
    let Ok(mut api) = Api::from_settings() else { return };
    // The provider waits for the webhook's answer; a slow profile is not worth a redelivery.
    api.timeout_ms = Some(3000);
    let Ok(p) = api.call("GET", &format!("/{psid}?fields=first_name,last_name,profile_pic"), &Value::Null) else {
        return;
    };
    let text = |v: &Value| v.as_str().filter(|s| !s.is_empty()).map(str::to_owned);
    let contact = ContactProfile {
        external_id: psid.to_owned(),
        first_name: text(&p["first_name"]),
        last_name: text(&p["last_name"]),
        avatar_url: text(&p["profile_pic"]),
        ..Default::default()
    };
    events.push(InboundEvent::Contact { contact });
}

/// Switchboard content as Send API `message` objects, sent in order.
fn outgoing(c: &Value) -> Result<Vec<Value>, SendError> {
    let permanent = |why: &str| SendError::Permanent(why.to_owned());
    let text = |field: &str| {
        c[field].as_str().filter(|s| !s.is_empty()).ok_or_else(|| permanent(&format!("the message has no `{field}`")))
    };
    Ok(match c["type"].as_str().unwrap_or_default() {
        "text" => vec![json!({ "text": text("text")? })],
        "media" => {
            let kind = match c["kind"].as_str() {
                Some("image") => "image",
                Some("video") => "video",
                Some("audio") => "audio",
                _ => "file",
            };
            let file =
                json!({ "attachment": { "type": kind, "payload": { "url": text("url")?, "is_reusable": true } } });
            match c["caption"].as_str().filter(|s| !s.is_empty()) {
                Some(caption) => vec![json!({ "text": caption }), file],
                None => vec![file],
            }
        }
        "interactive" => {
            let buttons = c["buttons"].as_array().map(Vec::as_slice).unwrap_or_default();
            if buttons.is_empty() || buttons.len() > MAX_QUICK_REPLIES {
                return Err(permanent(&format!("Messenger takes 1 to {MAX_QUICK_REPLIES} quick replies")));
            }
            let replies: Vec<Value> = buttons
                .iter()
                .map(|b| {
                    let title = b.as_str().or_else(|| b["title"].as_str()).unwrap_or_default();
                    let payload = b["id"].as_str().unwrap_or(title);
                    json!({ "content_type": "text", "title": title.chars().take(MAX_TITLE).collect::<String>(), "payload": payload })
                })
                .collect();
            vec![json!({ "text": text("text")?, "quick_replies": replies })]
        }
        other => return Err(permanent(&format!("Messenger cannot send `{other}` messages"))),
    })
}

/// The Graph API as configured: base URL with version, and the Page's token.
struct Api {
    base: String,
    token: String,
    timeout_ms: Option<u32>,
}

impl Api {
    fn from_settings() -> Result<Self, SendError> {
        let token = host::secret("page_access_token")
            .filter(|t| !t.is_empty())
            .ok_or_else(|| SendError::BadCredentials("page_access_token is not set".into()))?;
        let base = host::config::<String>("api_base_url").filter(|u| !u.trim().is_empty());
        let version = host::config::<String>("api_version").filter(|v| !v.trim().is_empty());
        let base = base.as_deref().unwrap_or(DEFAULT_API).trim_end_matches('/');
        Ok(Self { base: format!("{base}/{}", version.as_deref().unwrap_or(DEFAULT_VERSION)), token, timeout_ms: None })
    }

    /// Calls the Graph API and returns its JSON answer, classifying Meta's errors.
    fn call(&self, method: &str, path: &str, body: &Value) -> Result<Value, SendError> {
        let mut headers = vec![("authorization".to_owned(), format!("Bearer {}", self.token))];
        if !body.is_null() {
            headers.push(("content-type".into(), "application/json".into()));
        }
        let answer = host::fetch(&OutgoingRequest {
            method: method.into(),
            url: format!("{}{path}", self.base),
            headers,
            body: if body.is_null() { Vec::new() } else { body.to_string().into_bytes() },
            timeout_ms: self.timeout_ms,
        })
        .map_err(|e| SendError::unreached("the Graph API", e))?;
        let reply: Value = serde_json::from_slice(&answer.body).unwrap_or_default();
        if (200..300).contains(&answer.status) {
            return Ok(reply);
        }
        Err(classify(answer.status, &reply["error"]))
    }
}

/// Meta's error codes as send outcomes (developers.facebook.com/docs/messenger-platform/error-codes).
fn classify(status: u16, error: &Value) -> SendError {
    let code = error["code"].as_i64().unwrap_or(0);
    let subcode = error["error_subcode"].as_i64().unwrap_or(0);
    let why = format!(
        "Messenger answered {status}: {} (code {code}{})",
        error["message"].as_str().unwrap_or("no message"),
        if subcode != 0 { format!(", subcode {subcode}") } else { String::new() }
    );
    match (code, subcode) {
        (10, 2018278) | (10, 2018065) | (100, 2018109) => SendError::WindowClosed(why),
        (190, _) | (102, _) | (200..=299, _) => SendError::BadCredentials(why),
        (1 | 2 | 4 | 17 | 32 | 341 | 613 | 1200 | 80006, _) => SendError::Transient(why),
        _ if status == 429 || status >= 500 => SendError::Transient(why),
        _ => SendError::Permanent(why),
    }
}

switchboard_plugin_sdk::register_channel!(Messenger);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn captions_precede_their_file() {
        let parts = outgoing(&json!({ "type": "media", "kind": "image", "url": "https://x/a.png", "caption": "Look" }))
            .expect("content");
        assert_eq!(parts[0], json!({ "text": "Look" }));
        assert_eq!(parts[1]["attachment"]["type"], "image");
        assert!(outgoing(&json!({ "type": "location", "latitude": 1, "longitude": 2 })).is_err());
    }

    #[test]
    fn meta_errors_are_classified() {
        let e = |code: i64, sub: i64| json!({ "message": "m", "code": code, "error_subcode": sub });
        assert!(matches!(classify(400, &e(10, 2018278)), SendError::WindowClosed(_)));
        assert!(matches!(classify(400, &e(190, 0)), SendError::BadCredentials(_)));
        assert!(matches!(classify(400, &e(613, 0)), SendError::Transient(_)));
        assert!(matches!(classify(400, &e(100, 0)), SendError::Permanent(_)));
        assert!(matches!(classify(503, &json!({})), SendError::Transient(_)));
    }
}
