//! Viber REST Bot API channel: callbacks checked by `X-Viber-Content-Signature` (hex HMAC-SHA256 of the raw
//! body with the bot's token); messages, receipts and subscriptions become events; replies leave through
//! `send_message`; `connect` registers the webhook with `set_webhook`. Message tokens are 64-bit integers
//! and are kept exact (never through a float).

use serde_json::{Value, json};
use switchboard_plugin_sdk::channel::*;
use switchboard_plugin_sdk::host;
use switchboard_plugin_sdk::verify::{Algorithm, Encoding, signature_matches};

const DEFAULT_API: &str = "https://chatapi.viber.com";
const EVENT_TYPES: [&str; 6] = ["delivered", "seen", "failed", "subscribed", "unsubscribed", "conversation_started"];
/// Viber's limits: a picture's caption and a sender name.
const MAX_CAPTION: usize = 120;
const MAX_SENDER_NAME: usize = 28;

struct Viber;

impl Channel for Viber {
    fn describe() -> Info {
        Info {
            id: "viber".into(),
            name: "Viber".into(),
            version: "0.1.0".into(),
            capabilities: Capabilities {
                text: true,
                media: true,
                templates: false,
                interactive: true,
                reactions: false,
                locations: true,
            },
            // A bot may message a subscribed user at any time.
            window: WindowPolicy { free_form_hours: None, templates_outside: false, tags_outside: false },
        }
    }

    fn handle_webhook(request: HttpRequest) -> Result<(Vec<InboundEvent>, HttpResponse), WebhookError> {
        let token = host::secret("auth_token").unwrap_or_default();
        let given = request.header("x-viber-content-signature").unwrap_or_default();
        if !signature_matches(Algorithm::Sha256, Encoding::Hex, token.as_bytes(), &request.body, given) {
            return Err(WebhookError::Unauthorized("bad or missing X-Viber-Content-Signature".into()));
        }
        let body: Value = serde_json::from_slice(&request.body)
            .map_err(|e| WebhookError::BadRequest(format!("not a Viber callback: {e}")))?;
        Ok((events(&body)?, HttpResponse::ok()))
    }

    fn send(message: OutboundMessage) -> Result<String, SendError> {
        let mut body = content(&message.content)?;
        let name: String = host::config::<String>("sender_name")
            .filter(|n| !n.trim().is_empty())
            .ok_or_else(|| SendError::Permanent("the channel's config has no sender_name".into()))?;
        let mut sender = json!({ "name": name.chars().take(MAX_SENDER_NAME).collect::<String>() });
        if let Some(avatar) = host::config::<String>("sender_avatar").filter(|a| !a.is_empty()) {
            sender["avatar"] = avatar.into();
        }
        body["receiver"] = message.to.clone().into();
        body["min_api_version"] = 1.into();
        body["sender"] = sender;
        let answer = call("/pa/send_message", &body)?;
        token_text(&answer["message_token"])
            .ok_or_else(|| SendError::Permanent("send_message answered without a message_token".into()))
    }

    fn connect(webhook_url: String) -> Result<(), SendError> {
        call(
            "/pa/set_webhook",
            &json!({ "url": webhook_url, "event_types": EVENT_TYPES, "send_name": true, "send_photo": true }),
        )
        .map(drop)
    }

    fn disconnect() -> Result<(), SendError> {
        call("/pa/set_webhook", &json!({ "url": "" })).map(drop)
    }

    fn media_request(reference: String) -> Result<OutgoingRequest, SendError> {
        // Incoming media are links Viber gives with the message, valid for a while.
        if !reference.starts_with("https://") {
            return Err(SendError::Permanent(format!("`{reference}` is not a Viber media link")));
        }
        Ok(OutgoingRequest::get(reference))
    }
}

/// A message token as exact decimal text (it exceeds 2^53).
fn token_text(v: &Value) -> Option<String> {
    v.as_u64()
        .map(|t| t.to_string())
        .or_else(|| v.as_i64().map(|t| t.to_string()))
        .or_else(|| v.as_str().map(str::to_owned))
}

fn bad(why: &str) -> WebhookError {
    WebhookError::BadRequest(why.into())
}

fn profile(user: &Value) -> Result<ContactProfile, WebhookError> {
    let text = |v: &Value| v.as_str().filter(|s| !s.is_empty()).map(str::to_owned);
    let id = text(&user["id"]).ok_or_else(|| bad("a Viber user without id"))?;
    Ok(ContactProfile {
        external_id: id,
        first_name: text(&user["name"]),
        avatar_url: text(&user["avatar"]),
        language: text(&user["language"]),
        ..Default::default()
    })
}

fn events(body: &Value) -> Result<Vec<InboundEvent>, WebhookError> {
    let timestamp_ms = body["timestamp"].as_i64();
    let token = || token_text(&body["message_token"]).ok_or_else(|| bad("a callback without message_token"));
    Ok(match body["event"].as_str().unwrap_or_default() {
        "message" => vec![InboundEvent::Message {
            contact: profile(&body["sender"])?,
            provider_message_id: token()?,
            timestamp_ms,
            content: inbound_content(&body["message"]),
        }],
        kind @ ("delivered" | "seen" | "failed") => vec![InboundEvent::Status {
            provider_message_id: token()?,
            status: match kind {
                "delivered" => DeliveryStatus::Delivered,
                "seen" => DeliveryStatus::Read,
                _ => DeliveryStatus::Failed,
            },
            reason: body["desc"].as_str().map(str::to_owned),
            timestamp_ms,
        }],
        "subscribed" | "conversation_started" => vec![InboundEvent::Contact { contact: profile(&body["user"])? }],
        // `webhook` (the set-up check), `unsubscribed` and anything newer: acknowledged, nothing to store.
        _ => Vec::new(),
    })
}

fn inbound_content(m: &Value) -> Value {
    let media = |kind: &str| {
        let mut c = json!({ "type": "media", "kind": kind, "media_ref": m["media"] });
        if let Some(caption) = m["text"].as_str().filter(|s| !s.is_empty()) {
            c["caption"] = caption.into();
        }
        if let Some(name) = m["file_name"].as_str() {
            c["filename"] = name.into();
        }
        c
    };
    match m["type"].as_str().unwrap_or_default() {
        "text" => json!({ "type": "text", "text": m["text"] }),
        "picture" => media("image"),
        "video" => media("video"),
        "file" => media("document"),
        "sticker" => json!({ "type": "text", "text": format!("[sticker {}]", m["sticker_id"]) }),
        "url" => json!({ "type": "text", "text": m["media"] }),
        "location" => {
            json!({ "type": "location", "latitude": m["location"]["lat"], "longitude": m["location"]["lon"] })
        }
        "contact" => json!({ "type": "contact_card", "card": { "name": { "formatted_name": m["contact"]["name"] },
                                                                "phones": [{ "phone": m["contact"]["phone_number"] }] } }),
        other => json!({ "type": "text", "text": format!("[unsupported Viber message: {other}]") }),
    }
}

/// Switchboard content as a `send_message` body (without receiver and sender).
fn content(c: &Value) -> Result<Value, SendError> {
    let text = |field: &str| {
        c[field]
            .as_str()
            .filter(|s| !s.is_empty())
            .ok_or_else(|| SendError::Permanent(format!("the message has no `{field}`")))
    };
    Ok(match c["type"].as_str().unwrap_or_default() {
        "text" => json!({ "type": "text", "text": text("text")? }),
        "media" => match c["kind"].as_str() {
            Some("image") => {
                let caption: String = c["caption"].as_str().unwrap_or_default().chars().take(MAX_CAPTION).collect();
                json!({ "type": "picture", "media": text("url")?, "text": caption })
            }
            // Video and files need their size up front, which Switchboard does not know: sent as a link.
            _ => json!({ "type": "url", "media": text("url")? }),
        },
        "location" => {
            let (Some(lat), Some(lon)) = (c["latitude"].as_f64(), c["longitude"].as_f64()) else {
                return Err(SendError::Permanent("a location needs `latitude` and `longitude`".into()));
            };
            json!({ "type": "location", "location": { "lat": lat, "lon": lon } })
        }
        "interactive" => {
            let buttons = c["buttons"].as_array().map(Vec::as_slice).unwrap_or_default();
            if buttons.is_empty() {
                return Err(SendError::Permanent("buttons are needed".into()));
            }
            let buttons: Vec<Value> = buttons
                .iter()
                .map(|b| {
                    let title = b.as_str().or_else(|| b["title"].as_str()).unwrap_or_default();
                    json!({ "ActionType": "reply", "ActionBody": title, "Text": title, "Columns": 6, "Rows": 1 })
                })
                .collect();
            json!({ "type": "text", "text": text("text")?, "keyboard": { "Type": "keyboard", "DefaultHeight": false, "Buttons": buttons } })
        }
        other => return Err(SendError::Permanent(format!("Viber cannot send `{other}` messages"))),
    })
}

/// Calls the Bot API; Viber answers 200 with `status` 0 for success and a code otherwise.
fn call(path: &str, body: &Value) -> Result<Value, SendError> {
    let token = host::secret("auth_token")
        .filter(|t| !t.is_empty())
        .ok_or_else(|| SendError::BadCredentials("auth_token is not set".into()))?;
    let base =
        host::config::<String>("api_base_url").filter(|u| !u.trim().is_empty()).unwrap_or_else(|| DEFAULT_API.into());
    let answer =
        host::post_json(&format!("{}{path}", base.trim_end_matches('/')), body, &[("x-viber-auth-token", &token)])
            .map_err(|e| SendError::unreached(path, e))?;
    let reply: Value = serde_json::from_slice(&answer.body).unwrap_or_default();
    if !(200..300).contains(&answer.status) {
        return Err(SendError::Transient(format!("Viber answered HTTP {}", answer.status)));
    }
    let status = reply["status"].as_i64().unwrap_or(-1);
    if status == 0 {
        return Ok(reply);
    }
    let why = format!("Viber {path} answered {status}: {}", reply["status_message"].as_str().unwrap_or("no message"));
    Err(match status {
        // invalidAuthToken
        2 => SendError::BadCredentials(why),
        // tooManyRequests
        12 => SendError::Transient(why),
        // receiverNotSubscribed, badData, publicAccountBlocked, …
        _ => SendError::Permanent(why),
    })
}

switchboard_plugin_sdk::register_channel!(Viber);
