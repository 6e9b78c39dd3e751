//! A WhatsApp channel plugin that only parses webhooks with `whatsapp_parse`: the subject of the plugin-call
//! benchmark (`plugin-host/benches/plugin_call.rs`), which runs the same parse natively to compare.
//! It checks no signature and sends nothing; the real WhatsApp plugin is a first-party plugin.

use switchboard_plugin_sdk::channel::*;

struct BenchWhatsApp;

impl Channel for BenchWhatsApp {
    fn describe() -> Info {
        Info {
            id: "bench-whatsapp".into(),
            name: "WhatsApp (benchmark)".into(),
            version: "0.1.0".into(),
            capabilities: Capabilities {
                text: true,
                media: false,
                templates: false,
                interactive: false,
                reactions: false,
                locations: false,
            },
            window: WindowPolicy { free_form_hours: Some(24), templates_outside: true, tags_outside: false },
        }
    }

    fn handle_webhook(request: HttpRequest) -> Result<(Vec<InboundEvent>, HttpResponse), WebhookError> {
        let events = whatsapp_parse::parse(&request.body).map_err(WebhookError::BadRequest)?;
        Ok((events, HttpResponse::ok()))
    }

    fn send(_message: OutboundMessage) -> Result<String, SendError> {
        Err(SendError::Permanent("bench-whatsapp does not send messages".into()))
    }
}

switchboard_plugin_sdk::register_channel!(BenchWhatsApp);
