//! Skeleton of the whatsapp-cloud channel plugin (being written).

use switchboard_plugin_sdk::channel::*;

struct Skeleton;

impl Channel for Skeleton {
    fn describe() -> Info {
        Info {
            id: "whatsapp-cloud".into(),
            name: "whatsapp-cloud".into(),
            version: "0.1.0".into(),
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

    fn handle_webhook(_request: HttpRequest) -> Result<(Vec<InboundEvent>, HttpResponse), WebhookError> {
        Err(WebhookError::BadRequest("not written yet".into()))
    }

    fn send(_message: OutboundMessage) -> Result<String, SendError> {
        Err(SendError::Permanent("not written yet".into()))
    }
}

switchboard_plugin_sdk::register_channel!(Skeleton);
