//! Telegram updates turned into Switchboard events: messages, their edits, and inline-keyboard taps.

use serde_json::{Value, json};
use switchboard_plugin_sdk::channel::{ContactProfile, HttpResponse, InboundEvent, WebhookError};

/// The events of one update and the answer for Telegram. Kinds the channel does not handle are answered
/// 200 with no events, because Telegram retries anything else.
pub fn events(update: &Value, now_ms: i64) -> Result<(Vec<InboundEvent>, HttpResponse), WebhookError> {
    if update["message"].is_object() {
        return Ok((vec![message(&update["message"], false)?], HttpResponse::ok()));
    }
    if update["edited_message"].is_object() {
        return Ok((vec![message(&update["edited_message"], true)?], HttpResponse::ok()));
    }
    if update["callback_query"].is_object() {
        return callback(&update["callback_query"], now_ms);
    }
    Ok((Vec::new(), HttpResponse::ok()))
}

fn bad(why: &str) -> WebhookError {
    WebhookError::BadRequest(why.into())
}

/// Message ids are only unique within a chat, hence `{chat_id}:{message_id}`. An edit keeps the original
/// message id, so it gets its own id (with the edit time) and arrives as a new message carrying the
/// edited content, rather than being dropped as a duplicate of the original.
fn message(m: &Value, edited: bool) -> Result<InboundEvent, WebhookError> {
    let chat_id = m["chat"]["id"].as_i64().ok_or_else(|| bad("a message without chat.id"))?;
    let message_id = m["message_id"].as_i64().ok_or_else(|| bad("a message without message_id"))?;
    let (provider_message_id, seconds) = if edited {
        let edit_date = m["edit_date"].as_i64().or(m["date"].as_i64());
        (format!("{chat_id}:{message_id}:edit:{}", edit_date.unwrap_or_default()), edit_date)
    } else {
        (format!("{chat_id}:{message_id}"), m["date"].as_i64())
    };
    Ok(InboundEvent::Message {
        contact: contact(chat_id, &m["chat"], &m["from"]),
        provider_message_id,
        timestamp_ms: seconds.map(|s| s * 1000),
        content: content(m),
    })
}

/// The contact is the chat. In a private chat that is the user who wrote; in a group it is the group
/// itself, named by its title, because members come and go while the conversation stays one.
fn contact(chat_id: i64, chat: &Value, from: &Value) -> ContactProfile {
    let text = |v: &Value| v.as_str().filter(|s| !s.is_empty()).map(str::to_owned);
    let group = matches!(chat["type"].as_str(), Some("group" | "supergroup" | "channel"));
    ContactProfile {
        external_id: chat_id.to_string(),
        first_name: if group { text(&chat["title"]) } else { text(&from["first_name"]) },
        last_name: if group { None } else { text(&from["last_name"]) },
        language: if group { None } else { text(&from["language_code"]) },
        ..Default::default()
    }
}

fn content(m: &Value) -> Value {
    let caption = m["caption"].as_str();
    if let Some(text) = m["text"].as_str() {
        return json!({ "type": "text", "text": text });
    }
    if let Some(sizes) = m["photo"].as_array() {
        // The sizes are listed smallest first, but the area is what decides, not the order.
        let area = |p: &&Value| p["width"].as_i64().unwrap_or(0) * p["height"].as_i64().unwrap_or(0);
        if let Some(largest) = sizes.iter().max_by_key(area) {
            return media("image", largest, caption);
        }
    }
    // An animation also fills `document` for old clients, so it must be recognised before documents.
    let files = [
        ("animation", "video"),
        ("video", "video"),
        ("video_note", "video"),
        ("voice", "audio"),
        ("audio", "audio"),
        ("sticker", "sticker"),
        ("document", "document"),
    ];
    if let Some((field, kind)) = files.iter().find(|(field, _)| m[*field].is_object()) {
        return media(kind, &m[*field], caption);
    }
    // Likewise a venue also fills `location`.
    let pin = if m["venue"].is_object() { &m["venue"]["location"] } else { &m["location"] };
    if let (Some(latitude), Some(longitude)) = (pin["latitude"].as_f64(), pin["longitude"].as_f64()) {
        let mut c = json!({ "type": "location", "latitude": latitude, "longitude": longitude });
        put(&mut c, "name", m["venue"]["title"].as_str());
        put(&mut c, "address", m["venue"]["address"].as_str());
        return c;
    }
    if m["contact"].is_object() {
        return json!({ "type": "contact_card", "card": m["contact"] });
    }
    json!({ "type": "text", "text": "[unsupported message]" })
}

fn media(kind: &str, file: &Value, caption: Option<&str>) -> Value {
    let mut c = json!({ "type": "media", "kind": kind, "media_ref": file["file_id"] });
    put(&mut c, "mime_type", file["mime_type"].as_str());
    put(&mut c, "filename", file["file_name"].as_str());
    put(&mut c, "caption", caption);
    c
}

fn put(content: &mut Value, field: &str, value: Option<&str>) {
    if let Some(v) = value {
        content[field] = v.into();
    }
}

/// A tap on an inline-keyboard button. The event shows the button's title when the keyboard came with
/// the update, and carries its callback data as the payload.
fn callback(q: &Value, now_ms: i64) -> Result<(Vec<InboundEvent>, HttpResponse), WebhookError> {
    let id = q["id"].as_str().ok_or_else(|| bad("a callback query without id"))?;
    let chat = &q["message"]["chat"];
    // Buttons on inline-mode messages come without the message; their chat is then the user's own.
    let chat_id =
        chat["id"].as_i64().or(q["from"]["id"].as_i64()).ok_or_else(|| bad("a callback query without a chat"))?;
    let data = q["data"].as_str();
    let title = data.and_then(|d| button_title(&q["message"]["reply_markup"], d));
    let mut content = json!({ "type": "reply", "text": title.or(data).unwrap_or_default() });
    put(&mut content, "payload", data);
    let event = InboundEvent::Message {
        contact: contact(chat_id, chat, &q["from"]),
        provider_message_id: format!("cb:{id}"),
        // A callback query carries no time of its own.
        timestamp_ms: Some(now_ms),
        content,
    };
    // Telegram keeps a spinner on the button until the query is answered; answering inside the webhook
    // response does it without a call of our own.
    let answer = json!({ "method": "answerCallbackQuery", "callback_query_id": id });
    let response = HttpResponse {
        status: 200,
        headers: vec![("content-type".into(), "application/json".into())],
        body: answer.to_string().into_bytes(),
    };
    Ok((vec![event], response))
}

fn button_title<'a>(markup: &'a Value, data: &str) -> Option<&'a str> {
    markup["inline_keyboard"]
        .as_array()?
        .iter()
        .filter_map(Value::as_array)
        .flatten()
        .find(|button| button["callback_data"].as_str() == Some(data))
        .and_then(|button| button["text"].as_str())
}
