//! Twilio Programmable Messaging channel (SMS, MMS and WhatsApp): one sender per channel. Webhooks are
//! checked by `X-Twilio-Signature` over the URL Twilio was given (`connect` keeps it); messages and
//! statuses come as forms; replies leave through the Messages API and templates through the Content API.

mod inbound;
mod outbound;
mod signature;

use serde_json::Value;
use switchboard_plugin_sdk::channel::*;
use switchboard_plugin_sdk::form;
use switchboard_plugin_sdk::host::{self, Level};
use switchboard_plugin_sdk::verify::base64_encode;

const DEFAULT_API: &str = "https://api.twilio.com";
const DEFAULT_CONTENT_API: &str = "https://content.twilio.com";
/// The webhook URL Twilio signs, as `connect` received it.
/// An empty TwiML answer, so that Twilio sends no automatic reply.
const EMPTY_TWIML: &str = r#"<?xml version="1.0" encoding="UTF-8"?><Response/>"#;
const MAX_TEMPLATE_PAGES: usize = 20;
/// Media links redirect once or twice (to a short-lived CDN link) before the file.
const MAX_MEDIA_HOPS: usize = 4;

struct Twilio;

/// Where a message to the contact `to` (a number) goes: `whatsapp:+…` when the channel sends from a
/// WhatsApp sender, the number itself for SMS.
fn address(to: &str, from: Option<&str>) -> String {
    match from {
        Some(f) if f.starts_with("whatsapp:") && !to.starts_with("whatsapp:") => format!("whatsapp:{to}"),
        _ => to.to_owned(),
    }
}

impl Channel for Twilio {
    fn describe() -> Info {
        Info {
            id: "twilio".into(),
            name: "Twilio (SMS and WhatsApp)".into(),
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
            // cannot be declared for it alone, so Twilio's refusal (63016) closes the window instead.
            window: WindowPolicy { free_form_hours: None, templates_outside: false, tags_outside: false },
        }
    }

    fn handle_webhook(request: HttpRequest) -> Result<(Vec<InboundEvent>, HttpResponse), WebhookError> {
        let token = host::secret("auth_token").filter(|t| !t.is_empty());
        let Some(token) = token else {
            return Err(WebhookError::Unauthorized("the channel's auth_token is not set".into()));
        };
        let given = request.header("x-twilio-signature").unwrap_or_default();
        if !request.called_urls().iter().any(|url| signature::valid(&token, url, &request.body, given)) {
            return Err(WebhookError::Unauthorized("bad or missing X-Twilio-Signature".into()));
        }
        if form::value(&request.query, "bodySHA256").is_some() {
            return Err(WebhookError::BadRequest("a JSON body is not a Twilio Messaging webhook".into()));
        }
        let events = inbound::events(&request.form())?;
        let answer = HttpResponse {
            status: 200,
            headers: vec![("content-type".into(), "text/xml".into())],
            body: EMPTY_TWIML.as_bytes().to_vec(),
        };
        Ok((events, answer))
    }

    fn send(message: OutboundMessage) -> Result<String, SendError> {
        let api = Api::from_settings()?;
        let sender = outbound::Sender {
            from: host::setting("from"),
            messaging_service_sid: host::setting("messaging_service_sid"),
        };
        let to = address(&message.to, sender.from.as_deref());
        let fields = outbound::form(&to, &message.content, &sender, remembered_webhook_url().as_deref())?;
        if let Some((_, body)) = fields.iter().find(|(k, _)| *k == "Body") {
            let segments = outbound::check_length(body, to.starts_with("whatsapp:"))?;
            let (count, units) = (segments.count.to_string(), segments.units.to_string());
            let encoding = format!("{:?}", segments.encoding);
            host::log(
                Level::Info,
                "sending a text",
                &[("segments", &count), ("encoding", &encoding), ("units", &units)],
            );
        }
        let url = format!("{}/2010-04-01/Accounts/{}/Messages.json", api.base, api.account_sid);
        let answer = api.call("POST", &url, Some(form::encode_pairs(&fields)))?;
        answer["sid"]
            .as_str()
            .map(str::to_owned)
            .ok_or_else(|| SendError::Permanent("Twilio answered without a message sid".into()))
    }

    fn list_templates() -> Result<Vec<Value>, SendError> {
        let api = Api::from_settings()?;
        let mut url = format!("{}/v1/Content?PageSize=100", api.content_base);
        let mut templates = Vec::new();
        for _ in 0..MAX_TEMPLATE_PAGES {
            let page = api.call("GET", &url, None)?;
            templates.extend(outbound::templates(&page));
            // The credentials go with every page, so only pages on the configured Content API are followed.
            match page["meta"]["next_page_url"].as_str() {
                Some(next) if next.starts_with(&format!("{}/", api.content_base)) => url = next.to_owned(),
                _ => break,
            }
        }
        Ok(templates)
    }

    fn connect(webhook_url: String) -> Result<(), SendError> {
        // The URL is set at Twilio by hand (a number's or a Messaging Service's settings); it is kept to check
        // signatures against and to ask for status callbacks.
        remember_webhook_url(&webhook_url)
    }

    fn media_request(reference: String) -> Result<OutgoingRequest, SendError> {
        let api = Api::from_settings()?;
        // The credentials only ever go to the configured API.
        if !reference.starts_with(&format!("{}/2010-04-01/Accounts/", api.base)) {
            return Err(SendError::Permanent(format!("`{reference}` is not a Twilio media link")));
        }
        // The host follows no redirect, and the CDN link Twilio redirects to must go without credentials:
        // the hops are taken here, each fetching one byte, and the host downloads from where the file is.
        let mut url = reference;
        for _ in 0..MAX_MEDIA_HOPS {
            let download = api.get(&url);
            let mut probe = download.clone();
            probe.headers.push(("range".into(), "bytes=0-0".into()));
            let answer = host::fetch(&probe).map_err(|e| SendError::unreached("the media link", e))?;
            let location = answer.headers.iter().find(|(k, _)| k.eq_ignore_ascii_case("location")).map(|(_, v)| v);
            match (answer.status, location) {
                (300..=399, Some(next)) => url = absolute(&url, next),
                // The file, or an error the host's download reports as it is.
                _ => return Ok(download),
            }
        }
        Err(SendError::Transient(format!("the media link redirected more than {MAX_MEDIA_HOPS} times")))
    }
}

/// A redirect's `Location`, which may be relative to the URL that answered.
fn absolute(base: &str, location: &str) -> String {
    if location.contains("://") {
        return location.to_owned();
    }
    if let Some(rest) = location.strip_prefix("//") {
        let scheme = base.split("://").next().unwrap_or("https");
        return format!("{scheme}://{rest}");
    }
    let origin_end = base.find("://").map_or(0, |i| i + 3);
    let origin = &base[..base[origin_end..].find('/').map_or(base.len(), |i| origin_end + i)];
    format!("{origin}/{}", location.trim_start_matches('/'))
}

/// Twilio's APIs as configured: base URLs, the account and HTTP Basic credentials (an API key when one is
/// set, the account's auth token otherwise).
struct Api {
    base: String,
    content_base: String,
    account_sid: String,
    authorization: String,
}

impl Api {
    fn from_settings() -> Result<Self, SendError> {
        let account_sid =
            host::setting("account_sid").ok_or_else(|| SendError::BadCredentials("account_sid is not set".into()))?;
        let secret = |name: &str| host::secret(name).filter(|s| !s.is_empty());
        let (user, password) = match (secret("api_key_sid"), secret("api_key_secret")) {
            (Some(key), Some(secret)) => (key, secret),
            _ => (
                account_sid.clone(),
                secret("auth_token").ok_or_else(|| SendError::BadCredentials("auth_token is not set".into()))?,
            ),
        };
        let base = |name: &str, default: &str| {
            host::setting(name).unwrap_or_else(|| default.into()).trim_end_matches('/').to_owned()
        };
        Ok(Self {
            base: base("api_base_url", DEFAULT_API),
            content_base: base("content_api_base_url", DEFAULT_CONTENT_API),
            account_sid,
            authorization: format!("Basic {}", base64_encode(format!("{user}:{password}").as_bytes())),
        })
    }

    /// A GET of `url`, with the credentials only when it is on the API itself.
    fn get(&self, url: &str) -> OutgoingRequest {
        let request = OutgoingRequest::get(url);
        match url.starts_with(&format!("{}/", self.base)) {
            true => request.with_header("authorization", self.authorization.clone()),
            false => request,
        }
    }

    /// Calls the API (a form body, if any) and returns its JSON answer, classifying Twilio's errors.
    fn call(&self, method: &str, url: &str, form: Option<String>) -> Result<Value, SendError> {
        let mut headers = vec![("authorization".to_owned(), self.authorization.clone())];
        if form.is_some() {
            headers.push(("content-type".into(), "application/x-www-form-urlencoded".into()));
        }
        let answer = host::fetch(&OutgoingRequest {
            method: method.into(),
            url: url.into(),
            headers,
            body: form.map(String::into_bytes).unwrap_or_default(),
            timeout_ms: None,
        })
        .map_err(|e| SendError::unreached("Twilio's API", e))?;
        if !(200..300).contains(&answer.status) {
            return Err(outbound::classify(answer.status, &answer.body));
        }
        Ok(serde_json::from_slice(&answer.body).unwrap_or_default())
    }
}

switchboard_plugin_sdk::register_channel!(Twilio);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn relative_redirects_keep_the_origin() {
        assert_eq!(absolute("https://api.twilio.com/2010-04-01/x", "/y/z"), "https://api.twilio.com/y/z");
        assert_eq!(
            absolute("https://api.twilio.com/a", "https://media.twiliocdn.com/f?s=1"),
            "https://media.twiliocdn.com/f?s=1"
        );
        assert_eq!(absolute("https://h.test", "f"), "https://h.test/f");
        assert_eq!(absolute("https://h.test/a", "//cdn.test/b"), "https://cdn.test/b");
    }
}
