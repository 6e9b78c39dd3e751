//! Telegram Bot API channel: updates arrive on a webhook that `connect` registers with `setWebhook` and that
//! is checked by its secret token; messages leave through the Bot API's `send*` methods.

mod inbound;

use serde_json::{Value, json};
use switchboard_plugin_sdk::channel::*;
use switchboard_plugin_sdk::host::{self, HttpError};

const DEFAULT_API: &str = "https://api.telegram.org";

/// The update kinds `handle_webhook` turns into events; asking for only these keeps Telegram from
/// posting polls, chat-member changes and the like that would be dropped anyway.
const ALLOWED_UPDATES: [&str; 3] = ["message", "edited_message", "callback_query"];

/// Telegram's limit on an inline button's `callback_data`, in bytes.
const MAX_CALLBACK_DATA: usize = 64;

struct Telegram;

impl Channel for Telegram {
    fn describe() -> Info {
        Info {
            id: "telegram".into(),
            name: "Telegram".into(),
            version: "0.1.0".into(),
            capabilities: Capabilities {
                text: true,
                media: true,
                templates: false,
                interactive: true,
                reactions: false,
                locations: true,
            },
            // Bots may write to a chat at any time once the user has started them.
            window: WindowPolicy { free_form_hours: None, templates_outside: false, tags_outside: false },
        }
    }

    fn handle_webhook(request: HttpRequest) -> Result<(Vec<InboundEvent>, HttpResponse), WebhookError> {
        // Checked before the body is even parsed: an unauthenticated sender learns nothing about it.
        let expected = host::secret("webhook_secret").unwrap_or_default();
        let given = request.header("x-telegram-bot-api-secret-token").unwrap_or_default();
        if expected.is_empty() || !same_bytes(given.as_bytes(), expected.as_bytes()) {
            return Err(WebhookError::Unauthorized("bad or missing X-Telegram-Bot-Api-Secret-Token".into()));
        }
        let update: Value = serde_json::from_slice(&request.body)
            .map_err(|e| WebhookError::BadRequest(format!("not a Telegram update: {e}")))?;
        inbound::events(&update, host::now_ms())
    }

    fn send(message: OutboundMessage) -> Result<String, SendError> {
        let c = &message.content;
        let text = |field: &str| {
            c[field].as_str().ok_or_else(|| SendError::Permanent(format!("the message has no `{field}`")))
        };
        let (method, mut body) = match c["type"].as_str().unwrap_or_default() {
            "text" => ("sendMessage", json!({ "text": text("text")? })),
            "media" => {
                let (method, field) = match c["kind"].as_str() {
                    Some("image") => ("sendPhoto", "photo"),
                    Some("video") => ("sendVideo", "video"),
                    Some("audio") => ("sendAudio", "audio"),
                    _ => ("sendDocument", "document"),
                };
                let mut body = json!({ field: text("url")? });
                if let Some(caption) = c["caption"].as_str() {
                    body["caption"] = caption.into();
                }
                (method, body)
            }
            "location" => {
                let (Some(latitude), Some(longitude)) = (c["latitude"].as_f64(), c["longitude"].as_f64()) else {
                    return Err(SendError::Permanent("a location needs `latitude` and `longitude`".into()));
                };
                // A named place with an address is a venue on Telegram; a bare pin is a location.
                match (c["name"].as_str(), c["address"].as_str()) {
                    (Some(title), Some(address)) => (
                        "sendVenue",
                        json!({ "latitude": latitude, "longitude": longitude, "title": title, "address": address }),
                    ),
                    _ => ("sendLocation", json!({ "latitude": latitude, "longitude": longitude })),
                }
            }
            "interactive" => {
                let buttons = c["buttons"].as_array().map(Vec::as_slice).unwrap_or_default();
                // The index comes back as callback data.
                let buttons = buttons.iter().enumerate().map(|(i, b)| {
                    let title = b.as_str().or_else(|| b["title"].as_str()).unwrap_or_default();
                    (title.to_owned(), i.to_string())
                });
                ("sendMessage", json!({ "text": text("text")?, "reply_markup": keyboard(buttons) }))
            }
            "list" => {
                // Telegram has no list messages: the rows become buttons like an interactive message's, the
                // section titles are not shown, and the row's id comes back as callback data.
                let sections = c["sections"].as_array().map(Vec::as_slice).unwrap_or_default();
                let mut buttons = Vec::new();
                for (i, section) in sections.iter().enumerate() {
                    let rows = section["rows"].as_array().map(Vec::as_slice).unwrap_or_default();
                    for (j, row) in rows.iter().enumerate() {
                        let id = row["id"].as_str().map_or_else(|| format!("{i}.{j}"), str::to_owned);
                        if !(1..=MAX_CALLBACK_DATA).contains(&id.len()) {
                            return Err(SendError::Permanent(format!(
                                "section {i}, row {j}: Telegram takes an id of 1 to {MAX_CALLBACK_DATA} bytes, not {}",
                                id.len()
                            )));
                        }
                        buttons.push((row["title"].as_str().unwrap_or_default().to_owned(), id));
                    }
                }
                if buttons.is_empty() {
                    return Err(SendError::Permanent("a list needs at least one row".into()));
                }
                ("sendMessage", json!({ "text": text("text")?, "reply_markup": keyboard(buttons) }))
            }
            "contact_card" => ("sendContact", contact(&c["card"])?),
            other => return Err(SendError::Permanent(format!("Telegram cannot send `{other}` messages"))),
        };
        body["chat_id"] = chat_ref(&message.to);
        let result = call(method, &body)?;
        let message_id = result["message_id"]
            .as_i64()
            .ok_or_else(|| SendError::Permanent(format!("{method} answered without a message_id")))?;
        // The answer's chat id is numeric even when `to` was an @username, and inbound ids use numbers.
        let chat = result["chat"]["id"].as_i64().map_or_else(|| message.to.clone(), |id| id.to_string());
        Ok(format!("{chat}:{message_id}"))
    }

    fn connect(webhook_url: String) -> Result<(), SendError> {
        let secret = host::secret("webhook_secret").unwrap_or_default();
        let allowed = |b: u8| b.is_ascii_alphanumeric() || b == b'_' || b == b'-';
        if !(1..=256).contains(&secret.len()) || !secret.bytes().all(allowed) {
            return Err(SendError::Permanent("webhook_secret must be 1-256 characters of A-Z a-z 0-9 _ -".into()));
        }
        call("setWebhook", &json!({ "url": webhook_url, "secret_token": secret, "allowed_updates": ALLOWED_UPDATES }))
            .map(drop)
    }

    fn disconnect() -> Result<(), SendError> {
        call("deleteWebhook", &json!({})).map(drop)
    }

    fn media_request(reference: String) -> Result<OutgoingRequest, SendError> {
        let file = call("getFile", &json!({ "file_id": reference }))?;
        let path = file["file_path"].as_str().ok_or_else(|| {
            SendError::Permanent("Telegram gave no file_path (bots cannot download files over 20 MB)".into())
        })?;
        Ok(OutgoingRequest::get(format!("{}/file/bot{}/{path}", api_base(), token()?)))
    }
}

/// An inline keyboard of `(title, callback data)` buttons, one per row so that titles are never squeezed.
fn keyboard(buttons: impl IntoIterator<Item = (String, String)>) -> Value {
    let rows: Vec<Value> =
        buttons.into_iter().map(|(title, data)| json!([{ "text": title, "callback_data": data }])).collect();
    json!({ "inline_keyboard": rows })
}

/// The `sendContact` fields of a contact card in WhatsApp's contact shape (what the server sends): the first
/// phone number, and the first name (or the formatted name) with the last name.
fn contact(card: &Value) -> Result<Value, SendError> {
    let card = match card.as_array().map(Vec::as_slice) {
        None => card,
        Some([one]) => one,
        Some([]) => return Err(SendError::Permanent("a contact card needs a contact".into())),
        Some(_) => return Err(SendError::Permanent("Telegram sends one contact per message".into())),
    };
    fn text(v: &Value) -> Option<&str> {
        v.as_str().map(str::trim).filter(|s| !s.is_empty())
    }
    let phones = card["phones"].as_array().map(Vec::as_slice).unwrap_or_default();
    let phone = phones
        .iter()
        .find_map(|p| text(&p["phone"]))
        .ok_or_else(|| SendError::Permanent("Telegram cannot send a contact card without a phone number".into()))?;
    let name = &card["name"];
    let first_name = text(&name["first_name"])
        .or_else(|| text(&name["formatted_name"]))
        .ok_or_else(|| SendError::Permanent("Telegram cannot send a contact card without a name".into()))?;
    let mut body = json!({ "phone_number": phone, "first_name": first_name });
    if let Some(last_name) = text(&name["last_name"]) {
        body["last_name"] = last_name.into();
    }
    Ok(body)
}

/// Numeric chat ids are sent as JSON integers (they exceed 2^53 for supergroups, so never via f64);
/// anything else (`@channelname`) as the string Telegram also accepts.
fn chat_ref(to: &str) -> Value {
    to.parse::<i64>().map_or_else(|_| Value::from(to), Value::from)
}

fn api_base() -> String {
    host::config::<String>("api_base_url")
        .filter(|u| !u.trim().is_empty())
        .unwrap_or_else(|| DEFAULT_API.into())
        .trim_end_matches('/')
        .to_owned()
}

fn token() -> Result<String, SendError> {
    host::secret("bot_token")
        .filter(|t| !t.is_empty())
        .ok_or_else(|| SendError::BadCredentials("bot_token is not set".into()))
}

/// Calls a Bot API method and returns its `result`, classifying Telegram's `{ok:false, error_code}` answers.
fn call(method: &str, body: &Value) -> Result<Value, SendError> {
    let token = token()?;
    let url = format!("{}/bot{token}/{method}", api_base());
    // The token is part of the URL, and transport errors may quote the URL: keep it out of every message.
    let hide = |why: String| why.replace(&token, "<bot_token>");
    let answer = host::post_json(&url, body, &[]).map_err(|e| match e {
        HttpError::Denied(why) | HttpError::InvalidRequest(why) => {
            SendError::Permanent(hide(format!("{method} could not be sent: {why}")))
        }
        other => SendError::Transient(hide(format!("{method} failed: {other:?}"))),
    })?;
    let reply: Value = serde_json::from_slice(&answer.body).unwrap_or_default();
    if (200..300).contains(&answer.status) && reply["ok"] == true {
        return Ok(reply["result"].clone());
    }
    let code = reply["error_code"].as_i64().unwrap_or(i64::from(answer.status));
    let why = hide(format!(
        "Telegram {method} answered {code}: {}",
        reply["description"].as_str().unwrap_or("no description")
    ));
    Err(match code {
        // A revoked token gives 401; a malformed one makes the whole /bot… path unknown, so 404.
        401 | 404 => SendError::BadCredentials(why),
        429 | 500..=599 => SendError::Transient(match reply["parameters"]["retry_after"].as_i64() {
            Some(seconds) => format!("{why} (retry after {seconds} s)"),
            None => why,
        }),
        _ => SendError::Permanent(why),
    })
}

/// Equality whose duration does not depend on where the first difference is.
fn same_bytes(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

switchboard_plugin_sdk::register_channel!(Telegram);
