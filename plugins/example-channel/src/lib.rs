//! A minimal channel plugin: accepts `{"from": "...", "id": "...", "text": "..."}` (or `"media_url"` instead
//! of `"text"`) webhooks signed with a shared secret in `x-example-secret`, and sends messages by POSTing
//! JSON to the configured `base_url`.

use switchboard_plugin_sdk::channel::*;
use switchboard_plugin_sdk::host;

struct Example;

impl Channel for Example {
    fn describe() -> Info {
        Info {
            id: "example-channel".into(),
            name: "Example channel".into(),
            version: "0.1.0".into(),
            capabilities: Capabilities {
                text: true,
                media: true,
                templates: false,
                interactive: false,
                reactions: false,
                locations: false,
            },
            window: WindowPolicy { free_form_hours: None, templates_outside: false, tags_outside: false },
        }
    }

    fn verify(request: HttpRequest) -> Result<Option<HttpResponse>, WebhookError> {
        // A GET with ?challenge=X is answered with X.
        Ok(request.query_param("challenge").map(|c| HttpResponse::text(200, c)))
    }

    fn handle_webhook(request: HttpRequest) -> Result<(Vec<InboundEvent>, HttpResponse), WebhookError> {
        let expected = host::secret("shared_secret").unwrap_or_default();
        if expected.is_empty() || request.header("x-example-secret") != Some(expected.as_str()) {
            return Err(WebhookError::Unauthorized("bad or missing x-example-secret".into()));
        }
        let body: serde_json::Value =
            serde_json::from_slice(&request.body).map_err(|e| WebhookError::BadRequest(e.to_string()))?;
        let field = |name: &str| {
            body.get(name)
                .and_then(|v| v.as_str())
                .map(str::to_owned)
                .ok_or_else(|| WebhookError::BadRequest(format!("missing `{name}`")))
        };
        // A file is referred to by its URL; the host downloads it later through `media_request`.
        let content = match body.get("media_url").and_then(|v| v.as_str()) {
            Some(url) => serde_json::json!({ "type": "media", "kind": "image", "media_ref": url }),
            None => serde_json::json!({ "type": "text", "text": field("text")? }),
        };
        let event = InboundEvent::Message {
            contact: ContactProfile { external_id: field("from")?, ..Default::default() },
            provider_message_id: field("id")?,
            timestamp_ms: Some(host::now_ms()),
            content,
        };
        host::log(host::Level::Info, "received a message", &[("id", &field("id")?)]);
        Ok((vec![event], HttpResponse::ok()))
    }

    fn media_request(reference: String) -> Result<OutgoingRequest, SendError> {
        Ok(OutgoingRequest {
            method: "GET".into(),
            url: reference,
            headers: Vec::new(),
            body: Vec::new(),
            timeout_ms: None,
        })
    }

    fn send(message: OutboundMessage) -> Result<String, SendError> {
        let base: String = host::config("base_url").ok_or_else(|| SendError::Permanent("base_url not set".into()))?;
        let body = serde_json::json!({ "to": message.to, "content": message.content });
        let response = host::post_json(&format!("{base}/messages"), &body, &[])
            .map_err(|e| SendError::Transient(format!("{e:?}")))?;
        match response.status {
            200..=299 => {
                let answer: serde_json::Value = serde_json::from_slice(&response.body).unwrap_or_default();
                answer["id"].as_str().map(str::to_owned).ok_or_else(|| SendError::Permanent("no id in answer".into()))
            }
            401 | 403 => Err(SendError::BadCredentials(format!("provider answered {}", response.status))),
            500..=599 | 429 => Err(SendError::Transient(format!("provider answered {}", response.status))),
            other => Err(SendError::Permanent(format!("provider answered {other}"))),
        }
    }
}

switchboard_plugin_sdk::register_channel!(Example);
