//! The website chat channel. Visitors' browsers talk to the Switchboard server's public widget endpoints
//! (`/widget.js`, `/widget/{channel}/…`), which authenticate each visitor with a signed token, rate-limit
//! them and store their messages; this plugin declares what the channel supports and accepts the agents'
//! replies, which reach the visitor from the server itself (the live stream or the history on reload).

use switchboard_plugin_sdk::channel::*;

struct WebChat;

impl Channel for WebChat {
    fn describe() -> Info {
        Info {
            id: "webchat".into(),
            name: "Website chat".into(),
            version: "0.1.0".into(),
            capabilities: Capabilities {
                text: true,
                media: true,
                templates: false,
                interactive: false,
                reactions: false,
                locations: false,
            },
            // A visitor can be answered at any time; they read the reply when they come back to the page.
            window: WindowPolicy { free_form_hours: None, templates_outside: false, tags_outside: false },
        }
    }

    /// Visitors never post to the provider webhook: their messages arrive through the widget endpoints,
    /// which check the visitor's signed token. Anything posted here is refused.
    fn handle_webhook(_request: HttpRequest) -> Result<(Vec<InboundEvent>, HttpResponse), WebhookError> {
        Err(WebhookError::Unauthorized(
            "the website chat takes visitors' messages only through its widget endpoints (/widget/{channel}/…)".into(),
        ))
    }

    /// The server is the transport: a reply is delivered once it is accepted, and its provider id is the
    /// server's own reference for it.
    fn send(message: OutboundMessage) -> Result<String, SendError> {
        if message.reference.is_empty() {
            return Err(SendError::Permanent("the server gave no message reference (a server too old)".into()));
        }
        match message.content["type"].as_str() {
            Some("text") | Some("media") => Ok(format!("webchat.{}", message.reference)),
            other => Err(SendError::Permanent(format!(
                "the website chat shows text and media, not {}",
                other.unwrap_or("this message")
            ))),
        }
    }
}

switchboard_plugin_sdk::register_channel!(WebChat);
