//! MessageBird (Bird) channel through the Conversations API: one MessageBird channel (SMS or WhatsApp) per
//! Switchboard channel. Webhooks are checked by `MessageBird-Signature-JWT` over the URL MessageBird called
//! (`connect` keeps it); messages and statuses come as JSON; replies leave through `POST /v1/send`.

mod inbound;
mod outbound;
mod signature;

use outbound::{Platform, Sender};
use switchboard_plugin_sdk::channel::*;
use switchboard_plugin_sdk::host::{self, Level};

const DEFAULT_API: &str = "https://conversations.messagebird.com";
/// The webhook URL MessageBird signs, as `connect` received it.
/// Where MessageBird's own files live; only there (and at the configured API) does the access key go.
const MESSAGEBIRD_DOMAIN: &str = "messagebird.com";

struct MessageBird;

impl Channel for MessageBird {
    fn describe() -> Info {
        Info {
            id: "messagebird".into(),
            name: "MessageBird / Bird (SMS and WhatsApp)".into(),
            version: "0.1.0".into(),
            capabilities: Capabilities {
                text: true,
                media: true,
                templates: true,
                interactive: false,
                reactions: false,
                locations: true,
            },
            // The policy is the plugin's, not the channel's: SMS has no window and a WhatsApp channel's 24 hours
            // cannot be declared for it alone, so MessageBird's refusal (error 470) closes the window instead.
            window: WindowPolicy { free_form_hours: None, templates_outside: false, tags_outside: false },
        }
    }

    fn handle_webhook(request: HttpRequest) -> Result<(Vec<InboundEvent>, HttpResponse), WebhookError> {
        let Some(key) = host::secret("signing_key").filter(|k| !k.is_empty()) else {
            return Err(WebhookError::Unauthorized("the channel's signing_key is not set".into()));
        };
        let Some(token) = request.header("messagebird-signature-jwt") else {
            return Err(WebhookError::Unauthorized("missing MessageBird-Signature-JWT".into()));
        };
        let urls = request.called_urls();
        if urls.is_empty() {
            let why = "the URL MessageBird called is unknown: the channel was not connected and no Host header came";
            return Err(WebhookError::Unauthorized(why.into()));
        }
        signature::check(token, &key, &urls, &request.body, host::now_ms())
            .map_err(|why| WebhookError::Unauthorized(format!("bad MessageBird-Signature-JWT: {why}")))?;
        let events = inbound::events(&request.body, &host::setting("channel_id").unwrap_or_default())?;
        Ok((events, HttpResponse::ok()))
    }

    fn send(message: OutboundMessage) -> Result<String, SendError> {
        let api = Api::from_settings()?;
        let channel_id =
            host::setting("channel_id").ok_or_else(|| SendError::Permanent("channel_id is not set".into()))?;
        let platform = match host::setting("platform").as_deref() {
            Some(p) if p.eq_ignore_ascii_case("whatsapp") => Platform::WhatsApp,
            _ => Platform::Sms,
        };
        let sender = Sender { channel_id, platform, whatsapp_namespace: host::setting("whatsapp_namespace") };
        let (body, text) = outbound::body(&message.to, &message.content, &sender, remembered_webhook_url().as_deref())?;
        if let Some(text) = text {
            let segments = outbound::check_length(&text, platform)?;
            if platform == Platform::Sms {
                let (count, units) = (segments.count.to_string(), segments.units.to_string());
                let encoding = format!("{:?}", segments.encoding);
                let fields = [("segments", count.as_str()), ("encoding", &encoding), ("units", &units)];
                host::log(Level::Info, "sending an SMS text", &fields);
            }
        }
        let headers = [("authorization", api.authorization.as_str()), ("accept", "application/json")];
        let answer = host::post_json(&format!("{}/v1/send", api.base), &body, &headers)
            .map_err(|e| SendError::unreached("MessageBird's API", e))?;
        if !(200..300).contains(&answer.status) {
            return Err(outbound::classify(answer.status, &answer.body));
        }
        let answer: serde_json::Value = serde_json::from_slice(&answer.body).unwrap_or_default();
        // Documented as `{id, status}`; some of MessageBird's own SDKs read `{message: {id, status}}`.
        answer["id"]
            .as_str()
            .or_else(|| answer["message"]["id"].as_str())
            .map(str::to_owned)
            .ok_or_else(|| SendError::Permanent("MessageBird answered without a message id".into()))
    }

    fn connect(webhook_url: String) -> Result<(), SendError> {
        // The webhook is created at MessageBird by hand (or its API); the URL is kept to check signatures
        // against and to ask for status reports.
        remember_webhook_url(&webhook_url)
    }

    fn media_request(reference: String) -> Result<OutgoingRequest, SendError> {
        let api = Api::from_settings()?;
        let download = OutgoingRequest::get(reference.clone());
        Ok(match takes_credentials(&reference, &api.base) {
            true => download.with_header("authorization", api.authorization),
            false => download,
        })
    }
}

/// The host of an `https` URL, unless it names a user (which could hide where it really goes).
fn https_host(url: &str) -> Option<&str> {
    let rest = url.strip_prefix("https://")?;
    let authority = rest.split(['/', '?', '#']).next()?;
    if authority.contains('@') {
        return None;
    }
    Some(authority.rsplit_once(':').map_or(authority, |(host, _)| host))
}

/// Whether the access key may go with a download of `url`: to MessageBird's hosts and the configured API.
fn takes_credentials(url: &str, api_base: &str) -> bool {
    let Some(host) = https_host(url).map(str::to_ascii_lowercase) else { return false };
    host == MESSAGEBIRD_DOMAIN
        || host.ends_with(&format!(".{MESSAGEBIRD_DOMAIN}"))
        || https_host(api_base).is_some_and(|api| api.eq_ignore_ascii_case(&host))
}

/// The Conversations API as configured: its base URL and the `AccessKey` authorization.
struct Api {
    base: String,
    authorization: String,
}

impl Api {
    fn from_settings() -> Result<Self, SendError> {
        let key = host::secret("access_key")
            .filter(|k| !k.is_empty())
            .ok_or_else(|| SendError::BadCredentials("access_key is not set".into()))?;
        let base = host::setting("api_base_url").unwrap_or_else(|| DEFAULT_API.into()).trim_end_matches('/').to_owned();
        Ok(Self { base, authorization: format!("AccessKey {key}") })
    }
}

switchboard_plugin_sdk::register_channel!(MessageBird);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_access_key_goes_to_messagebird_hosts_only() {
        let api = DEFAULT_API;
        assert!(takes_credentials("https://media.messagebird.com/v1/media/52296e61", api));
        assert!(takes_credentials("https://MEDIA.messagebird.com:443/v1/media/x", api));
        assert!(takes_credentials("https://messagebird.test/v1/media/x", "https://messagebird.test"));
        for other in [
            "http://media.messagebird.com/v1/media/x",
            "https://media.messagebird.com.evil.test/x",
            "https://evil.test/?u=https://media.messagebird.com/",
            "https://media.messagebird.com@evil.test/x",
            "https://evil.test#.messagebird.com",
            "https://notmessagebird.com/x",
            "https://internationaltreefoundation.org/tree.png",
        ] {
            assert!(!takes_credentials(other, api), "{other}");
        }
    }
}
