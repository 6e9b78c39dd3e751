//! LINE webhook events turned into Switchboard events: messages, postbacks and follows. Each event's reply
//! token is kept (per chat) so that the answer to it can be a free reply instead of a push.

use serde_json::{Value, json};
use switchboard_plugin_sdk::channel::{ContactProfile, InboundEvent, WebhookError};

/// A reply token and when it came, for the chat it belongs to.
pub struct ReplyToken {
    pub chat: String,
    pub token: String,
}

/// The events of one delivery, and the reply tokens it brought. Event kinds the channel does not handle
/// (joins, beacons, unsend, membership…) give no event; `unfollow` neither: the contact stays, and sends
/// to them fail with LINE's reason.
pub fn events(body: &Value) -> Result<(Vec<InboundEvent>, Vec<ReplyToken>), WebhookError> {
    let list = body["events"].as_array().ok_or_else(|| bad("a LINE webhook without `events`"))?;
    let mut out = Vec::new();
    let mut tokens = Vec::new();
    for (i, e) in list.iter().enumerate() {
        let Some(chat) = chat_of(&e["source"]) else { continue };
        if let Some(token) = e["replyToken"].as_str().filter(|t| !t.is_empty()) {
            tokens.push(ReplyToken { chat: chat.clone(), token: token.to_owned() });
        }
        let contact = contact(&chat, &e["source"]);
        let timestamp_ms = e["timestamp"].as_i64();
        match e["type"].as_str().unwrap_or_default() {
            "message" => {
                let m = &e["message"];
                let id = m["id"].as_str().ok_or_else(|| bad(&format!("events[{i}]: a message without id")))?;
                out.push(InboundEvent::Message {
                    contact,
                    provider_message_id: id.to_owned(),
                    timestamp_ms,
                    content: content(m),
                });
            }
            "postback" => {
                let data = e["postback"]["data"].as_str().unwrap_or_default();
                // The event id is LINE's idempotency key for redeliveries; postbacks have no message id.
                let id = e["webhookEventId"]
                    .as_str()
                    .map_or_else(|| format!("postback:{chat}:{}", timestamp_ms.unwrap_or(0)), str::to_owned);
                let text = label_of(data).unwrap_or(data);
                out.push(InboundEvent::Message {
                    contact,
                    provider_message_id: id,
                    timestamp_ms,
                    content: json!({ "type": "reply", "text": text, "payload": data }),
                });
            }
            "follow" => out.push(InboundEvent::Contact { contact }),
            _ => {}
        }
    }
    Ok((out, tokens))
}

fn bad(why: &str) -> WebhookError {
    WebhookError::BadRequest(why.into())
}

/// The chat a source writes from: a user, or a group or room (one conversation however members change).
pub fn chat_of(source: &Value) -> Option<String> {
    let key = match source["type"].as_str()? {
        "group" => "groupId",
        "room" => "roomId",
        _ => "userId",
    };
    source[key].as_str().filter(|s| !s.is_empty()).map(str::to_owned)
}

fn contact(chat: &str, _source: &Value) -> ContactProfile {
    // Webhooks carry no names; a profile lookup would need another call per message.
    ContactProfile { external_id: chat.to_owned(), ..Default::default() }
}

/// The button title a postback from our own quick replies carries: `i=3|t=Yes` gives `Yes`.
fn label_of(data: &str) -> Option<&str> {
    data.split('|').find_map(|part| part.strip_prefix("t="))
}

fn content(m: &Value) -> Value {
    let id = m["id"].clone();
    match m["type"].as_str().unwrap_or_default() {
        "text" => json!({ "type": "text", "text": m["text"] }),
        // Media is fetched through the content API by message id (media_request).
        "image" => json!({ "type": "media", "kind": "image", "media_ref": id }),
        "video" => json!({ "type": "media", "kind": "video", "media_ref": id }),
        "audio" => json!({ "type": "media", "kind": "audio", "media_ref": id }),
        "file" => {
            let mut c = json!({ "type": "media", "kind": "document", "media_ref": id });
            if let Some(name) = m["fileName"].as_str() {
                c["filename"] = name.into();
            }
            c
        }
        "location" => {
            let mut c = json!({ "type": "location", "latitude": m["latitude"], "longitude": m["longitude"] });
            for (from, to) in [("title", "name"), ("address", "address")] {
                if let Some(v) = m[from].as_str().filter(|s| !s.is_empty()) {
                    c[to] = v.into();
                }
            }
            c
        }
        // Stickers cannot be downloaded through the content API; their ids name them.
        "sticker" => {
            json!({ "type": "text", "text": format!("[sticker {}/{}]", m["packageId"].as_str().unwrap_or("?"), m["stickerId"].as_str().unwrap_or("?")) })
        }
        other => json!({ "type": "text", "text": format!("[unsupported LINE message: {other}]") }),
    }
}
