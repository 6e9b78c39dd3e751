//! Custom Channel, compatible with respond.io's Custom Channel contract: the external system POSTs
//! `{channelId, contactId, events, contact}` to our webhook with the channel's API token as a bearer token,
//! and we POST `{channelId, contactId, message}` to `{base_url}/message` with the same token, answered
//! `{"mId"}` or a 4xx `{"error": {"message"}}`.

use serde_json::{Value, json};
use switchboard_plugin_sdk::channel::*;
use switchboard_plugin_sdk::host;

struct CustomChannel;

impl Channel for CustomChannel {
    fn describe() -> Info {
        Info {
            id: "custom-channel".into(),
            name: "Custom Channel".into(),
            version: "0.1.0".into(),
            // The contract's message types: text, attachment and location.
            capabilities: Capabilities {
                text: true,
                media: true,
                templates: false,
                interactive: false,
                reactions: false,
                locations: true,
            },
            window: WindowPolicy { free_form_hours: None, templates_outside: false, tags_outside: false },
        }
    }

    fn handle_webhook(request: HttpRequest) -> Result<(Vec<InboundEvent>, HttpResponse), WebhookError> {
        let token = host::secret("api_token").unwrap_or_default();
        let given = request.header("authorization").and_then(bearer).unwrap_or_default();
        if token.is_empty() || !same_bytes(given.as_bytes(), token.as_bytes()) {
            return Err(WebhookError::Unauthorized("bad or missing `Authorization: Bearer` token".into()));
        }
        let body: Value = serde_json::from_slice(&request.body)
            .map_err(|e| WebhookError::BadRequest(format!("not a Custom Channel delivery: {e}")))?;
        let bad = |why: &str| WebhookError::BadRequest(why.into());
        if let (Some(ours), Some(theirs)) = (channel_id(), text(&body["channelId"]))
            && ours != theirs
        {
            return Err(WebhookError::BadRequest(format!("the delivery is for channelId `{theirs}`, not `{ours}`")));
        }
        let contact_id = text(&body["contactId"]).ok_or_else(|| bad("`contactId` is missing"))?;
        let contact = profile(contact_id, &body["contact"]);
        let mut events = Vec::new();
        for event in body["events"].as_array().ok_or_else(|| bad("`events` must be a list"))? {
            let mid = || text(&event["mId"]).ok_or_else(|| bad("an event without `mId`"));
            let timestamp_ms = event["timestamp"].as_i64();
            match event["type"].as_str() {
                Some("message") => events.push(InboundEvent::Message {
                    contact: contact.clone(),
                    provider_message_id: mid()?,
                    timestamp_ms: timestamp_ms.or_else(|| Some(host::now_ms())),
                    content: content(&event["message"]),
                }),
                Some("message_status") => {
                    if let Some(status) = delivery_status(event["status"]["value"].as_str()) {
                        events.push(InboundEvent::Status {
                            provider_message_id: mid()?,
                            status,
                            reason: text(&event["status"]["message"]),
                            timestamp_ms,
                        });
                    }
                }
                // `message_echo` reports what the business sent from the other system's own tools: Switchboard
                // has no event for messages it did not send, so echoes (and unknown kinds) are acknowledged.
                _ => {}
            }
        }
        let answer = HttpResponse {
            status: 200,
            headers: vec![("content-type".into(), "application/json".into())],
            body: b"{}".to_vec(),
        };
        Ok((events, answer))
    }

    fn send(message: OutboundMessage) -> Result<String, SendError> {
        let url = format!("{}/message", base_url()?);
        let mut body = json!({ "contactId": message.to, "message": outgoing(&message.content)? });
        if let Some(id) = channel_id() {
            body["channelId"] = id.into();
        }
        let auth = format!("Bearer {}", token()?);
        let answer =
            host::post_json(&url, &body, &[("authorization", &auth)]).map_err(|e| SendError::unreached(&url, e))?;
        let reply: Value = serde_json::from_slice(&answer.body).unwrap_or_default();
        let why = || {
            let said = reply["error"]["message"].as_str().unwrap_or("no error message");
            format!("the external system answered {}: {said}", answer.status)
        };
        match answer.status {
            200..=299 => text(&reply["mId"])
                .ok_or_else(|| SendError::Permanent(format!("answered {} without an `mId`", answer.status))),
            401 | 403 => Err(SendError::BadCredentials(why())),
            429 | 500..=599 => Err(SendError::Transient(why())),
            _ => Err(SendError::Permanent(why())),
        }
    }

    /// Inbound attachments carry a URL, which is their reference. The token goes along only to the external
    /// system itself, never to whatever other host (a CDN, a bucket) the URL names.
    fn media_request(reference: String) -> Result<OutgoingRequest, SendError> {
        if !(reference.starts_with("https://") || reference.starts_with("http://")) {
            return Err(SendError::Permanent("an attachment reference must be an http(s) URL".into()));
        }
        let base = base_url()?;
        let own = reference.starts_with(&format!("{base}/"));
        let request = OutgoingRequest::get(reference);
        Ok(if own { request.with_header("authorization", format!("Bearer {}", token()?)) } else { request })
    }
}

/// The token of an `Authorization: Bearer …` header; the scheme name is case-insensitive (RFC 9110).
fn bearer(header: &str) -> Option<&str> {
    let (scheme, token) = header.trim().split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then(|| token.trim())
}

/// Ids may come as strings or numbers; empty strings (the contract's examples send them) count as absent.
fn text(v: &Value) -> Option<String> {
    match v {
        Value::String(s) if !s.is_empty() => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

fn profile(contact_id: String, c: &Value) -> ContactProfile {
    ContactProfile {
        external_id: contact_id,
        first_name: text(&c["firstName"]),
        last_name: text(&c["lastName"]),
        phone: text(&c["phone"]),
        email: text(&c["email"]),
        avatar_url: text(&c["profilePic"]),
        language: text(&c["language"]),
    }
}

fn delivery_status(value: Option<&str>) -> Option<DeliveryStatus> {
    match value? {
        "sent" => Some(DeliveryStatus::Sent),
        "delivered" => Some(DeliveryStatus::Delivered),
        "read" => Some(DeliveryStatus::Read),
        "failed" => Some(DeliveryStatus::Failed),
        _ => None,
    }
}

/// An inbound `message` object in Switchboard's content shape.
fn content(m: &Value) -> Value {
    let a = &m["attachment"];
    let pin = (m["latitude"].as_f64(), m["longitude"].as_f64());
    match m["type"].as_str() {
        Some("attachment") if a["url"].is_string() => {
            // The contract's fourth kind, `file`, and anything unknown are documents.
            let kind = a["type"].as_str().filter(|k| matches!(*k, "image" | "video" | "audio")).unwrap_or("document");
            let mut c = json!({ "type": "media", "kind": kind, "media_ref": a["url"] });
            put(&mut c, "mime_type", &a["mimeType"]);
            put(&mut c, "filename", &a["fileName"]);
            put(&mut c, "caption", &a["description"]);
            c
        }
        Some("location") if pin.0.is_some() && pin.1.is_some() => {
            let mut c = json!({ "type": "location", "latitude": pin.0, "longitude": pin.1 });
            put(&mut c, "address", &m["address"]);
            c
        }
        _ => match m["text"].as_str() {
            Some(t) => json!({ "type": "text", "text": t }),
            None => json!({ "type": "text", "text": "[unsupported message]" }),
        },
    }
}

/// A Switchboard message in the contract's `message` shape.
fn outgoing(c: &Value) -> Result<Value, SendError> {
    let need = |field: &str| {
        c.get(field)
            .filter(|v| !v.is_null())
            .ok_or_else(|| SendError::Permanent(format!("the message has no `{field}`")))
    };
    Ok(match c["type"].as_str().unwrap_or_default() {
        "text" => json!({ "type": "text", "text": need("text")? }),
        "media" => {
            let kind = match c["kind"].as_str() {
                Some(kind @ ("image" | "video" | "audio")) => kind,
                Some("sticker") => "image",
                _ => "file",
            };
            let mut attachment = json!({ "type": kind, "url": need("url")? });
            put(&mut attachment, "fileName", &c["filename"]);
            put(&mut attachment, "description", &c["caption"]);
            json!({ "type": "attachment", "attachment": attachment })
        }
        "location" => {
            let mut m = json!({ "type": "location", "latitude": need("latitude")?, "longitude": need("longitude")? });
            // The contract has one place description; a name alone is better than nothing.
            put(&mut m, "address", if c["address"].is_string() { &c["address"] } else { &c["name"] });
            m
        }
        other => return Err(SendError::Permanent(format!("the Custom Channel cannot send `{other}` messages"))),
    })
}

fn put(target: &mut Value, field: &str, value: &Value) {
    if let Some(s) = value.as_str().filter(|s| !s.is_empty()) {
        target[field] = s.into();
    }
}

fn base_url() -> Result<String, SendError> {
    host::config::<String>("base_url")
        .map(|u| u.trim().trim_end_matches('/').to_owned())
        .filter(|u| !u.is_empty())
        .ok_or_else(|| SendError::Permanent("base_url is not set".into()))
}

fn channel_id() -> Option<String> {
    host::config::<Value>("channel_id").as_ref().and_then(text)
}

fn token() -> Result<String, SendError> {
    host::secret("api_token")
        .filter(|t| !t.is_empty())
        .ok_or_else(|| SendError::BadCredentials("api_token is not set".into()))
}

/// Equality whose duration does not depend on where the first difference is.
fn same_bytes(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

switchboard_plugin_sdk::register_channel!(CustomChannel);
