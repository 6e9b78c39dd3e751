//! LINE Messaging API channel: webhooks checked by `X-Line-Signature` (base64 HMAC-SHA256 of the raw body
//! with the channel secret); messages leave as a reply while the chat's latest reply token is fresh (free,
//! single use) and as a push otherwise; `connect` sets the channel's webhook URL.

mod inbound;

use serde_json::{Value, json};
use switchboard_plugin_sdk::channel::*;
use switchboard_plugin_sdk::host;
use switchboard_plugin_sdk::verify::{Algorithm, Encoding, signature_matches};

const DEFAULT_API: &str = "https://api.line.me";
const DEFAULT_DATA_API: &str = "https://api-data.line.me";
/// LINE accepts a reply token for about a minute; past this it pushes instead.
const REPLY_TOKEN_MS: i64 = 50_000;
/// A quick reply's label, in characters.
const MAX_LABEL: usize = 20;
const MAX_QUICK_REPLIES: usize = 13;

struct Line;

impl Channel for Line {
    fn describe() -> Info {
        Info {
            id: "line".into(),
            name: "LINE".into(),
            version: "0.1.0".into(),
            capabilities: Capabilities {
                text: true,
                media: true,
                templates: false,
                interactive: true,
                reactions: false,
                locations: true,
            },
            // An official account may push to anyone who follows it, at any time.
            window: WindowPolicy { free_form_hours: None, templates_outside: false, tags_outside: false },
        }
    }

    fn handle_webhook(request: HttpRequest) -> Result<(Vec<InboundEvent>, HttpResponse), WebhookError> {
        // Checked over the raw bytes before anything is parsed.
        let secret = host::secret("channel_secret").unwrap_or_default();
        let given = request.header("x-line-signature").unwrap_or_default();
        if !signature_matches(Algorithm::Sha256, Encoding::Base64, secret.as_bytes(), &request.body, given) {
            return Err(WebhookError::Unauthorized("bad or missing X-Line-Signature".into()));
        }
        let body: Value = serde_json::from_slice(&request.body)
            .map_err(|e| WebhookError::BadRequest(format!("not a LINE webhook: {e}")))?;
        let (events, tokens) = inbound::events(&body)?;
        for t in tokens {
            // Only the latest token of a chat matters; a lost one just means a push instead of a reply.
            let _ = host::store::set_stamped(&token_key(&t.chat), &t.token);
        }
        Ok((events, HttpResponse::ok()))
    }

    fn send(message: OutboundMessage) -> Result<String, SendError> {
        let messages = line_messages(&message.content)?;
        let api = Api::from_settings()?;
        if let Some(token) = take_reply_token(&message.to) {
            match api.call("POST", "/v2/bot/message/reply", &json!({ "replyToken": token, "messages": messages })) {
                Ok(answer) => return Ok(sent_id(&answer, &message.to)),
                // The token ran out or was used after all: push instead.
                Err(SendError::Permanent(why)) if why.contains("reply token") => {}
                Err(e) => return Err(e),
            }
        }
        let answer = api.call("POST", "/v2/bot/message/push", &json!({ "to": message.to, "messages": messages }))?;
        Ok(sent_id(&answer, &message.to))
    }

    fn connect(webhook_url: String) -> Result<(), SendError> {
        Api::from_settings()?
            .call("PUT", "/v2/bot/channel/webhook/endpoint", &json!({ "endpoint": webhook_url }))
            .map(drop)
    }

    fn media_request(reference: String) -> Result<OutgoingRequest, SendError> {
        if reference.is_empty() || !reference.chars().all(|c| c.is_ascii_digit()) {
            return Err(SendError::Permanent(format!("`{reference}` is not a LINE message id")));
        }
        let api = Api::from_settings()?;
        Ok(OutgoingRequest::get(format!("{}/v2/bot/message/{reference}/content", api.data_base))
            .with_header("authorization", format!("Bearer {}", api.token)))
    }
}

fn token_key(chat: &str) -> String {
    format!("reply-token:{chat}")
}

/// The chat's reply token if it is fresh enough, removed so that it is never used twice.
fn take_reply_token(chat: &str) -> Option<String> {
    let token = host::store::get_fresh(&token_key(chat), REPLY_TOKEN_MS);
    let _ = host::store::delete(&token_key(chat));
    token
}

/// The first sent message's id (the Messaging API lists them), or a stand-in for an older API's empty answer.
fn sent_id(answer: &Value, to: &str) -> String {
    answer["sentMessages"][0]["id"].as_str().map_or_else(|| format!("line:{to}:{}", host::now_ms()), str::to_owned)
}

/// Switchboard content as LINE message objects (at most five per request; a caption goes as a text first).
fn line_messages(c: &Value) -> Result<Vec<Value>, SendError> {
    let permanent = |why: &str| SendError::Permanent(why.to_owned());
    let text = |field: &str| {
        c[field].as_str().filter(|s| !s.is_empty()).ok_or_else(|| permanent(&format!("the message has no `{field}`")))
    };
    Ok(match c["type"].as_str().unwrap_or_default() {
        "text" => vec![json!({ "type": "text", "text": text("text")? })],
        "media" => {
            let url = text("url")?;
            let mut out: Vec<Value> = c["caption"]
                .as_str()
                .filter(|s| !s.is_empty())
                .map(|t| json!({ "type": "text", "text": t }))
                .into_iter()
                .collect();
            match c["kind"].as_str() {
                Some("image") => {
                    out.push(json!({ "type": "image", "originalContentUrl": url, "previewImageUrl": url }))
                }
                // Video needs a preview image and audio its duration, which Switchboard does not have: the
                // file goes as a link.
                _ => out.push(json!({ "type": "text", "text": url })),
            }
            out
        }
        "location" => {
            let (Some(latitude), Some(longitude)) = (c["latitude"].as_f64(), c["longitude"].as_f64()) else {
                return Err(permanent("a location needs `latitude` and `longitude`"));
            };
            let title = c["name"].as_str().unwrap_or("Location");
            let address = c["address"].as_str().unwrap_or(title);
            vec![
                json!({ "type": "location", "title": title, "address": address, "latitude": latitude, "longitude": longitude }),
            ]
        }
        "interactive" => {
            let buttons = c["buttons"].as_array().map(Vec::as_slice).unwrap_or_default();
            if buttons.is_empty() || buttons.len() > MAX_QUICK_REPLIES {
                return Err(permanent(&format!("LINE takes 1 to {MAX_QUICK_REPLIES} quick replies")));
            }
            let items = buttons
                .iter()
                .enumerate()
                .map(|(i, b)| {
                    let title = b.as_str().or_else(|| b["title"].as_str()).unwrap_or_default();
                    let label: String = title.chars().take(MAX_LABEL).collect();
                    // The index and the full title come back in the postback's data.
                    json!({ "type": "action", "action": {
                        "type": "postback", "label": label, "data": format!("i={i}|t={title}"), "displayText": title
                    } })
                })
                .collect::<Vec<_>>();
            vec![json!({ "type": "text", "text": text("text")?, "quickReply": { "items": items } })]
        }
        other => return Err(SendError::Permanent(format!("LINE cannot send `{other}` messages"))),
    })
}

/// The Messaging API as configured: base URLs and the access token.
struct Api {
    base: String,
    data_base: String,
    token: String,
}

impl Api {
    fn from_settings() -> Result<Self, SendError> {
        let token = host::secret("channel_access_token")
            .filter(|t| !t.is_empty())
            .ok_or_else(|| SendError::BadCredentials("channel_access_token is not set".into()))?;
        let configured = host::config::<String>("api_base_url").filter(|u| !u.trim().is_empty());
        let (base, data_base) = match configured {
            // A stand-in serves both the API and the content downloads.
            Some(url) => (url.trim_end_matches('/').to_owned(), url.trim_end_matches('/').to_owned()),
            None => (DEFAULT_API.to_owned(), DEFAULT_DATA_API.to_owned()),
        };
        Ok(Self { base, data_base, token })
    }

    /// Calls the API and returns its JSON answer, classifying LINE's errors.
    fn call(&self, method: &str, path: &str, body: &Value) -> Result<Value, SendError> {
        let answer = host::fetch(&OutgoingRequest {
            method: method.into(),
            url: format!("{}{path}", self.base),
            headers: vec![
                ("content-type".into(), "application/json".into()),
                ("authorization".into(), format!("Bearer {}", self.token)),
            ],
            body: body.to_string().into_bytes(),
            timeout_ms: None,
        })
        .map_err(|e| SendError::unreached(path, e))?;
        let reply: Value = serde_json::from_slice(&answer.body).unwrap_or_default();
        if (200..300).contains(&answer.status) {
            return Ok(reply);
        }
        let why = format!("LINE answered {}: {}", answer.status, reply["message"].as_str().unwrap_or("no message"));
        let why = match reply["details"].as_array() {
            Some(details) if !details.is_empty() => {
                let parts: Vec<String> = details
                    .iter()
                    .map(|d| {
                        format!("{}: {}", d["property"].as_str().unwrap_or("?"), d["message"].as_str().unwrap_or("?"))
                    })
                    .collect();
                format!("{why} ({})", parts.join("; "))
            }
            _ => why,
        };
        Err(match answer.status {
            401 | 403 => SendError::BadCredentials(why),
            429 | 500..=599 => SendError::Transient(why),
            _ => SendError::Permanent(why),
        })
    }
}

switchboard_plugin_sdk::register_channel!(Line);
