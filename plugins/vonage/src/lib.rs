//! Vonage Messages API channel (SMS or WhatsApp): one sender per channel. Inbound messages and statuses come
//! as JSON to one webhook URL, each with a JWT signed with the account's signature secret; messages leave
//! through `POST /v1/messages` with the API key and secret as HTTP Basic auth.

mod inbound;
mod outbound;
mod signature;

use serde_json::Value;
use switchboard_plugin_sdk::channel::*;
use switchboard_plugin_sdk::host::{self, Level};
use switchboard_plugin_sdk::verify::base64_encode;

const DEFAULT_API: &str = "https://api.nexmo.com";

struct Vonage;

impl Channel for Vonage {
    fn describe() -> Info {
        Info {
            id: "vonage".into(),
            name: "Vonage (SMS and WhatsApp)".into(),
            version: "0.1.0".into(),
            capabilities: Capabilities {
                text: true,
                media: true,
                templates: true,
                interactive: false,
                reactions: false,
                locations: true,
            },
            // The policy is the plugin's, not the sender's: SMS has no window and a WhatsApp sender's 24 hours
            // cannot be declared for it alone, so Vonage's refusal (1340) closes the window instead.
            window: WindowPolicy { free_form_hours: None, templates_outside: false, tags_outside: false },
        }
    }

    fn handle_webhook(request: HttpRequest) -> Result<(Vec<InboundEvent>, HttpResponse), WebhookError> {
        let Some(secret) = host::secret("signature_secret").filter(|s| !s.is_empty()) else {
            return Err(WebhookError::Unauthorized("the channel's signature_secret is not set".into()));
        };
        let api_key = host::setting("api_key");
        signature::check(request.header("authorization"), &request.body, &secret, api_key.as_deref(), host::now_ms())
            .map_err(WebhookError::Unauthorized)?;
        Ok((inbound::events(&request.body)?, HttpResponse::ok()))
    }

    fn send(message: OutboundMessage) -> Result<String, SendError> {
        let (base, authorization) = api()?;
        let network = outbound::Network::from_setting(host::setting("channel").as_deref())?;
        let from =
            host::setting("from").ok_or_else(|| SendError::Permanent("the channel's config has no `from`".into()))?;
        // A number goes without its `+`; an SMS sender name as it is.
        let from = from.strip_prefix('+').filter(|n| n.bytes().all(|b| b.is_ascii_digit())).unwrap_or(&from);
        let status_url = remembered_webhook_url();
        let sender = outbound::Sender { network, from, status_url: status_url.as_deref() };
        let body = outbound::body(&message.to, &message.content, &message.reference, &sender)?;
        if let Some(text) = body["text"].as_str()
            && let Some(segments) = outbound::check_length(text, network)?
        {
            let (count, units) = (segments.count.to_string(), segments.units.to_string());
            let encoding = format!("{:?}", segments.encoding);
            host::log(
                Level::Info,
                "sending an SMS",
                &[("segments", &count), ("encoding", &encoding), ("units", &units)],
            );
        }
        let answer = host::post_json(&format!("{base}/v1/messages"), &body, &[("authorization", &authorization)])
            .map_err(|e| SendError::unreached("Vonage's Messages API", e))?;
        if !(200..300).contains(&answer.status) {
            return Err(outbound::classify(answer.status, &answer.body));
        }
        let answer: Value = serde_json::from_slice(&answer.body).unwrap_or_default();
        answer["message_uuid"]
            .as_str()
            .map(str::to_owned)
            .ok_or_else(|| SendError::Permanent("Vonage answered without a message_uuid".into()))
    }

    fn connect(webhook_url: String) -> Result<(), SendError> {
        // The Inbound and Status URLs are set in the Vonage application by hand; the URL is kept so that every
        // message asks for its statuses there too.
        remember_webhook_url(&webhook_url)
    }

    fn media_request(reference: String) -> Result<OutgoingRequest, SendError> {
        // Inbound media links are unguessable and need no credentials, unless "Secure Inbound Media" is on, which
        // takes an application JWT (RS256) this plugin does not make; the API secret never goes with them.
        if !reference.starts_with("https://") {
            return Err(SendError::Permanent(format!("`{reference}` is not a Vonage media link")));
        }
        Ok(OutgoingRequest::get(reference))
    }
}

/// The Messages API's base URL and the `Authorization` header of the account's API key and secret.
fn api() -> Result<(String, String), SendError> {
    let key = host::setting("api_key").ok_or_else(|| SendError::BadCredentials("api_key is not set".into()))?;
    let secret = host::secret("api_secret")
        .filter(|s| !s.is_empty())
        .ok_or_else(|| SendError::BadCredentials("api_secret is not set".into()))?;
    let base = host::setting("api_base_url").unwrap_or_else(|| DEFAULT_API.into()).trim_end_matches('/').to_owned();
    Ok((base, format!("Basic {}", base64_encode(format!("{key}:{secret}").as_bytes()))))
}

switchboard_plugin_sdk::register_channel!(Vonage);
