//! A channel plugin compiled against the released 1.0.0 interface (the frozen WIT folder itself, not the
//! SDK, which follows the newest minor): every host import of 1.0.0 is used once, so a host that broke
//! any of them for 1.0.0 plugins fails the tests that load this one.

wit_bindgen::generate!({ path: "../../../plugin-sdk/wit/switchboard-plugin@1.0.0", world: "channel-plugin" });

use exports::switchboard::plugin::channel::{
    Capabilities, Guest, Info, SendError, WebhookError, WebhookResult, WindowPolicy,
};
use switchboard::plugin::http::OutgoingRequest;
use switchboard::plugin::types::{HttpRequest, HttpResponse};
use switchboard::plugin::{clock, config, http, kv, log};

struct V1;

fn text_of(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

impl Guest for V1 {
    fn describe() -> Info {
        Info {
            id: "v1-channel".into(),
            name: "Built against 1.0.0".into(),
            version: "1.0.0".into(),
            capabilities: Capabilities {
                text: true,
                media: false,
                templates: false,
                interactive: false,
                reactions: false,
                locations: false,
            },
            window: WindowPolicy { free_form_hours: None, templates_outside: false, tags_outside: false },
        }
    }

    fn verify(_request: HttpRequest) -> Result<Option<HttpResponse>, WebhookError> {
        Ok(None)
    }

    /// The body is `from:text`; the secret `token` must come as the `x-token` header.
    fn handle_webhook(request: HttpRequest) -> Result<WebhookResult, WebhookError> {
        let token = config::secret("token").ok_or_else(|| WebhookError::Unauthorized("no token set".into()))?;
        let given = request.headers.iter().find(|(k, _)| k == "x-token").map(|(_, v)| v.as_str());
        if given != Some(token.as_str()) {
            return Err(WebhookError::Unauthorized("wrong token".into()));
        }
        let body = text_of(&request.body);
        let (from, text) = body.split_once(':').ok_or_else(|| WebhookError::BadRequest("expected from:text".into()))?;
        let seen = kv::get("seen").ok().flatten().map(|v| text_of(&v)).unwrap_or_default();
        let count = seen.parse::<u32>().unwrap_or(0) + 1;
        kv::set("seen", count.to_string().as_bytes()).map_err(WebhookError::BadRequest)?;
        log::log(log::Level::Info, "message", &[("from".into(), from.into())]);
        let now = clock::now_ms();
        let events = format!(
            r#"[{{"type":"message","contact":{{"external_id":{from:?}}},"provider_message_id":"v1-{count}","timestamp_ms":{now},"content":{{"type":"text","text":{text:?}}}}}]"#
        );
        Ok(WebhookResult { events, response: HttpResponse { status: 200, headers: Vec::new(), body: b"ok".to_vec() } })
    }

    /// POSTs the message's JSON to the `base_url` setting; the answer's body is the provider id.
    fn send(message: String) -> Result<String, SendError> {
        let base = config::get("base_url").ok_or_else(|| SendError::Permanent("base_url is not set".into()))?;
        let base = base.trim_matches('"').to_owned();
        let request = OutgoingRequest {
            method: "POST".into(),
            url: format!("{base}/send"),
            headers: vec![("content-type".into(), "application/json".into())],
            body: message.into_bytes(),
            timeout_ms: Some(5_000),
        };
        let answer = http::fetch(&request).map_err(|e| SendError::Transient(format!("{e:?}")))?;
        if answer.status != 200 {
            return Err(SendError::Permanent(format!("status {}", answer.status)));
        }
        Ok(text_of(&answer.body))
    }

    fn list_templates() -> Result<String, SendError> {
        Ok("[]".into())
    }

    fn connect(_webhook_url: String) -> Result<(), SendError> {
        Ok(())
    }

    fn disconnect() -> Result<(), SendError> {
        Ok(())
    }

    fn media_request(_reference: String) -> Result<OutgoingRequest, SendError> {
        Err(SendError::Permanent("no media".into()))
    }
}

export!(V1);
