//! The WhatsApp Cloud API channel: Meta's webhooks, checked against the app secret, in; messages,
//! template lists and media downloads through the Graph API out. The payloads themselves are
//! `whatsapp-common`'s; this crate adds what is Cloud-API-specific (signature, handshake, URLs, auth).

use serde_json::Value as Json;
use switchboard_plugin_sdk::channel::*;
use switchboard_plugin_sdk::host;
use switchboard_plugin_sdk::verify::meta;
use whatsapp_common::errors::{not_reached, send_error};

const DEFAULT_GRAPH_BASE_URL: &str = "https://graph.facebook.com";
const DEFAULT_API_VERSION: &str = "v21.0";
/// Templates are listed 100 a page; a provider that keeps answering with a `next` page must not use up
/// the call's time and host-call budget.
const MAX_TEMPLATE_PAGES: usize = 20;

struct WhatsAppCloud;

impl Channel for WhatsAppCloud {
    fn describe() -> Info {
        Info {
            id: "whatsapp-cloud".into(),
            name: "WhatsApp (Cloud API)".into(),
            version: "0.1.0".into(),
            capabilities: Capabilities {
                text: true,
                media: true,
                templates: true,
                interactive: true,
                reactions: true,
                locations: true,
            },
            // Free-form messages only within 24 hours of the contact's last message; templates any time.
            window: WindowPolicy { free_form_hours: Some(24), templates_outside: true, tags_outside: false },
        }
    }

    fn verify(request: HttpRequest) -> Result<Option<HttpResponse>, WebhookError> {
        meta::handshake(&request, host::secret("verify_token").as_deref())
    }

    fn handle_webhook(request: HttpRequest) -> Result<(Vec<InboundEvent>, HttpResponse), WebhookError> {
        // Meta signs WhatsApp deliveries with SHA-256 only.
        meta::check_signature(&request, host::secret("app_secret").as_deref(), false)?;
        let events = whatsapp_common::parse_webhook(&request.body).map_err(WebhookError::BadRequest)?;
        Ok((events, HttpResponse::ok()))
    }

    fn send(message: OutboundMessage) -> Result<String, SendError> {
        let body = whatsapp_common::send_body(&message.to, &message.content).map_err(SendError::Permanent)?;
        let graph = Graph::from_settings()?;
        let url = graph.url(&format!("{}/messages", required_setting("phone_number_id")?));
        let answer = graph.call("POST", &url, Some(&body))?;
        whatsapp_common::parse_send_response(&answer).map_err(SendError::Permanent)
    }

    fn list_templates() -> Result<Vec<Json>, SendError> {
        let graph = Graph::from_settings()?;
        let mut url = graph.url(&format!("{}/message_templates?limit=100", required_setting("business_account_id")?));
        let mut templates = Vec::new();
        for _ in 0..MAX_TEMPLATE_PAGES {
            let answer = graph.call("GET", &url, None)?;
            let page = whatsapp_common::parse_templates(&answer).map_err(SendError::Permanent)?;
            templates.extend(page.templates);
            // The token goes with every page, so only pages on the configured Graph API are followed.
            match page.next {
                Some(next) if graph.owns(&next) => url = next,
                _ => return Ok(templates),
            }
        }
        Ok(templates)
    }

    fn media_request(reference: String) -> Result<OutgoingRequest, SendError> {
        // The reference becomes a URL path segment: only what a media id can be.
        if reference.is_empty() || !reference.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-') {
            return Err(SendError::Permanent(format!("`{reference}` is not a WhatsApp media id")));
        }
        let graph = Graph::from_settings()?;
        let answer = graph.call("GET", &graph.url(&reference), None)?;
        let media = whatsapp_common::parse_media(&answer).map_err(SendError::Permanent)?;
        // The download URL wants the same bearer token as the API.
        let (name, value) = graph.authorization();
        Ok(OutgoingRequest::get(media.url).with_header(&name, value))
    }
}

/// The Graph API as this channel instance reaches it.
struct Graph {
    /// `{graph_base_url}` without a trailing slash.
    base: String,
    /// `{graph_base_url}/{api_version}`.
    root: String,
    token: String,
}

impl Graph {
    fn from_settings() -> Result<Self, SendError> {
        let token = host::secret("access_token")
            .filter(|t| !t.is_empty())
            .ok_or_else(|| SendError::BadCredentials("the channel's access_token is not set".into()))?;
        let base = host::setting("graph_base_url").unwrap_or_else(|| DEFAULT_GRAPH_BASE_URL.into());
        let base = base.trim_end_matches('/').to_owned();
        let version = host::setting("api_version").unwrap_or_else(|| DEFAULT_API_VERSION.into());
        let version = version.trim_matches('/');
        // Accept "21.0" as well as Meta's own "v21.0".
        let root = if version.starts_with('v') { format!("{base}/{version}") } else { format!("{base}/v{version}") };
        Ok(Self { base, root, token })
    }

    fn url(&self, path: &str) -> String {
        format!("{}/{path}", self.root)
    }

    fn owns(&self, url: &str) -> bool {
        url.strip_prefix(&self.base).is_some_and(|rest| rest.starts_with('/'))
    }

    fn authorization(&self) -> (String, String) {
        ("authorization".into(), format!("Bearer {}", self.token))
    }

    /// Calls the API; the body of a 2xx answer, or the error classified for retrying.
    fn call(&self, method: &str, url: &str, body: Option<&Json>) -> Result<Vec<u8>, SendError> {
        let mut headers = vec![self.authorization()];
        if body.is_some() {
            headers.push(("content-type".into(), "application/json".into()));
        }
        let body = body.map(|b| serde_json::to_vec(b).unwrap_or_default()).unwrap_or_default();
        let request = OutgoingRequest { method: method.into(), url: url.into(), headers, body, timeout_ms: None };
        let answer = host::fetch(&request).map_err(not_reached)?;
        match answer.status {
            200..=299 => Ok(answer.body),
            status => Err(send_error(whatsapp_common::classify_failure(status, &answer.body))),
        }
    }
}

fn required_setting(name: &str) -> Result<String, SendError> {
    host::setting(name).ok_or_else(|| SendError::Permanent(format!("the channel's {name} is not set")))
}

switchboard_plugin_sdk::register_channel!(WhatsAppCloud);
