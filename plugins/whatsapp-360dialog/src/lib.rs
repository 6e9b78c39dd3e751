//! WhatsApp through 360dialog: the Cloud API's webhooks and message bodies (`whatsapp-common`'s, shared with
//! the Cloud API plugin), sent to 360dialog with the `D360-API-KEY` header. 360dialog does not sign its
//! webhooks, so `connect` registers the webhook with a header carrying a token derived from the API key,
//! and every delivery must bring it back.

use serde_json::{Value as Json, json};
use switchboard_plugin_sdk::channel::*;
use switchboard_plugin_sdk::host;
use switchboard_plugin_sdk::verify::{Algorithm, constant_time_eq, hmac};
use whatsapp_common::errors::{not_reached, send_error};

const DEFAULT_API: &str = "https://waba-v2.360dialog.io";
/// The header 360dialog adds to every webhook it delivers, as `connect` asked.
const TOKEN_HEADER: &str = "x-switchboard-token";
const PAGE: usize = 100;
const MAX_TEMPLATE_PAGES: usize = 20;
/// Meta's host for media downloads, which 360dialog serves under its own address.
const META_MEDIA_HOST: &str = "https://lookaside.fbsbx.com";

struct Whatsapp360;

impl Channel for Whatsapp360 {
    fn describe() -> Info {
        Info {
            id: "whatsapp-360dialog".into(),
            name: "WhatsApp (360dialog)".into(),
            version: "0.1.0".into(),
            capabilities: Capabilities {
                text: true,
                media: true,
                templates: true,
                interactive: true,
                reactions: true,
                locations: true,
            },
            // WhatsApp's rule, whoever hosts the number: free-form for 24 hours, templates any time.
            window: WindowPolicy { free_form_hours: Some(24), templates_outside: true, tags_outside: false },
        }
    }

    fn handle_webhook(request: HttpRequest) -> Result<(Vec<InboundEvent>, HttpResponse), WebhookError> {
        let Some(key) = host::secret("api_key").filter(|k| !k.is_empty()) else {
            return Err(WebhookError::Unauthorized("the channel's api_key is not set".into()));
        };
        let given = request.header(TOKEN_HEADER).unwrap_or_default();
        if !constant_time_eq(given.trim().as_bytes(), webhook_token(&key).as_bytes()) {
            return Err(WebhookError::Unauthorized(
                "missing or wrong X-Switchboard-Token (the webhook was not registered by this channel)".into(),
            ));
        }
        let events = whatsapp_common::parse_webhook(&request.body).map_err(WebhookError::BadRequest)?;
        Ok((events, HttpResponse::ok()))
    }

    fn send(message: OutboundMessage) -> Result<String, SendError> {
        let body = whatsapp_common::send_body(&message.to, &message.content).map_err(SendError::Permanent)?;
        let api = Api::from_settings()?;
        let answer = api.call("POST", &format!("{}/messages", api.base), Some(&body))?;
        whatsapp_common::parse_send_response(&answer).map_err(SendError::Permanent)
    }

    fn list_templates() -> Result<Vec<Json>, SendError> {
        let api = Api::from_settings()?;
        let mut templates = Vec::new();
        for page in 0..MAX_TEMPLATE_PAGES {
            let url = format!("{}/v1/configs/templates?limit={PAGE}&offset={}", api.base, page * PAGE);
            let answer = api.call("GET", &url, None)?;
            let total = serde_json::from_slice::<Json>(&answer).ok().and_then(|a| a["total"].as_u64());
            let listed = whatsapp_common::parse_templates(&answer).map_err(SendError::Permanent)?.templates;
            let last = listed.len() < PAGE || total.is_some_and(|t| (templates.len() + listed.len()) as u64 >= t);
            templates.extend(listed);
            if last {
                break;
            }
        }
        Ok(templates)
    }

    fn connect(webhook_url: String) -> Result<(), SendError> {
        let api = Api::from_settings()?;
        let body = json!({ "url": webhook_url, "headers": { "X-Switchboard-Token": webhook_token(&api.key) } });
        api.call("POST", &format!("{}/v1/configs/webhook", api.base), Some(&body)).map(drop)
    }

    fn media_request(reference: String) -> Result<OutgoingRequest, SendError> {
        // The reference becomes a URL path segment: only what a media id can be.
        if reference.is_empty() || !reference.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-') {
            return Err(SendError::Permanent(format!("`{reference}` is not a WhatsApp media id")));
        }
        let api = Api::from_settings()?;
        let answer = api.call("GET", &format!("{}/{reference}", api.base), None)?;
        let media = whatsapp_common::parse_media(&answer).map_err(SendError::Permanent)?;
        // Meta's download link is served by 360dialog under its own address, with the same key.
        let url = match media.url.strip_prefix(META_MEDIA_HOST) {
            Some(rest) => format!("{}{rest}", api.base),
            None if media.url.starts_with(&format!("{}/", api.base)) => media.url,
            None => return Err(SendError::Permanent(format!("the media link `{}` is not 360dialog's", media.url))),
        };
        Ok(OutgoingRequest::get(url).with_header("d360-api-key", api.key))
    }
}

/// The token 360dialog is asked to send with every delivery: derived from the API key, so it needs no
/// storage and changes when the key does (after which the channel is connected again).
fn webhook_token(api_key: &str) -> String {
    let mac = hmac(Algorithm::Sha256, api_key.as_bytes(), b"switchboard 360dialog webhook");
    mac.iter().map(|b| format!("{b:02x}")).collect()
}

/// 360dialog's API as configured: its address and the number's key.
struct Api {
    base: String,
    key: String,
}

impl Api {
    fn from_settings() -> Result<Self, SendError> {
        let key = host::secret("api_key")
            .filter(|k| !k.is_empty())
            .ok_or_else(|| SendError::BadCredentials("the channel's api_key is not set".into()))?;
        let base = host::config::<String>("api_base_url").filter(|u| !u.trim().is_empty());
        Ok(Self { base: base.as_deref().unwrap_or(DEFAULT_API).trim_end_matches('/').to_owned(), key })
    }

    /// Calls the API; the body of a 2xx answer, or the error classified as the Cloud API's are.
    fn call(&self, method: &str, url: &str, body: Option<&Json>) -> Result<Vec<u8>, SendError> {
        let mut request = OutgoingRequest::get(url).with_header("d360-api-key", self.key.clone());
        request.method = method.into();
        if let Some(body) = body {
            request = request.with_header("content-type", "application/json");
            request.body = body.to_string().into_bytes();
        }
        let answer = host::fetch(&request).map_err(not_reached)?;
        match answer.status {
            200..=299 => Ok(answer.body),
            status => Err(send_error(whatsapp_common::classify_failure(status, &answer.body))),
        }
    }
}

switchboard_plugin_sdk::register_channel!(Whatsapp360);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_webhook_token_is_stable_per_key_and_differs_between_keys() {
        assert_eq!(webhook_token("key-1"), webhook_token("key-1"));
        assert_ne!(webhook_token("key-1"), webhook_token("key-2"));
        assert_eq!(webhook_token("key-1").len(), 64);
    }
}
