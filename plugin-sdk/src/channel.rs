//! The channel world: implement [`Channel`] and register it with [`register_channel!`](crate::register_channel).

pub use crate::bindings::channel::exports::switchboard::plugin::channel::{
    Capabilities, Info, SendError, WebhookError, WebhookResult, WindowPolicy,
};
pub use crate::event::{ContactProfile, DeliveryStatus, InboundEvent, OutboundMessage};
use crate::host::{self, HttpError};
pub use crate::host::{HttpRequest, HttpResponse, OutgoingRequest};

/// The plugin-KV key under which [`remember_webhook_url`] keeps the channel's webhook URL.
const WEBHOOK_URL_KEY: &str = "webhook_url";

impl SendError {
    /// A call through the host that got no answer, `what` naming it: permanent when the host refused the
    /// request (a host that is not granted stays refused until an admin changes the settings), worth
    /// retrying otherwise (a timeout, a connection that failed, too many requests in flight).
    pub fn unreached(what: &str, error: HttpError) -> Self {
        match error {
            HttpError::Denied(why) | HttpError::InvalidRequest(why) => {
                Self::Permanent(format!("{what} could not be reached: {why}"))
            }
            other => Self::Transient(format!("{what} failed: {other:?}")),
        }
    }
}

/// Keeps the webhook URL `connect` was given, for providers that sign the URL they call (Twilio,
/// MessageBird) or are told where statuses go with each message. Needs `kv` in the manifest.
pub fn remember_webhook_url(url: &str) -> Result<(), SendError> {
    host::store::set(WEBHOOK_URL_KEY, url.as_bytes())
        .map_err(|e| SendError::Transient(format!("the webhook URL could not be stored: {e}")))
}

/// The URL [`remember_webhook_url`] kept, if any.
pub fn remembered_webhook_url() -> Option<String> {
    let stored = host::store::get(WEBHOOK_URL_KEY).ok().flatten()?;
    String::from_utf8(stored).ok().filter(|u| !u.is_empty())
}

impl HttpRequest {
    /// The URLs the provider may have called, for a signature over the URL: the remembered webhook URL, and
    /// the one the request reached as the proxy headers tell it (`X-Forwarded-Proto`, default `https`;
    /// `X-Forwarded-Host` or `Host`); each with the query the provider called.
    pub fn called_urls(&self) -> Vec<String> {
        let query = if self.query.is_empty() { String::new() } else { format!("?{}", self.query) };
        let mut urls = Vec::new();
        if let Some(stored) = remembered_webhook_url() {
            let base = stored.split(['?', '#']).next().unwrap_or_default();
            urls.push(format!("{base}{query}"));
        }
        let first =
            |name: &str| self.header(name).and_then(|v| v.split(',').next()).map(str::trim).filter(|v| !v.is_empty());
        if let Some(host) = first("x-forwarded-host").or_else(|| first("host")) {
            let proto = first("x-forwarded-proto").unwrap_or("https");
            urls.push(format!("{proto}://{host}{}{query}", self.path));
        }
        urls
    }
}

/// A messaging channel. Only `describe`, `handle_webhook` and `send` are required.
pub trait Channel {
    /// Who the plugin is and what it supports.
    fn describe() -> Info;

    /// Answers a verification handshake; the default treats no request as one.
    fn verify(_request: HttpRequest) -> Result<Option<HttpResponse>, WebhookError> {
        Ok(None)
    }

    /// Verifies a delivery and turns it into events, with the response to give the provider.
    fn handle_webhook(request: HttpRequest) -> Result<(Vec<InboundEvent>, HttpResponse), WebhookError>;

    /// Sends one message; returns the provider's message id.
    fn send(message: OutboundMessage) -> Result<String, SendError>;

    /// The provider's templates; the default says the provider offers none.
    fn list_templates() -> Result<Vec<serde_json::Value>, SendError> {
        Ok(Vec::new())
    }

    /// Registers `webhook_url` at the provider; the default (providers configured by hand) does nothing.
    fn connect(_webhook_url: String) -> Result<(), SendError> {
        Ok(())
    }

    /// Undoes [`Channel::connect`]; the default does nothing.
    fn disconnect() -> Result<(), SendError> {
        Ok(())
    }

    /// The request that downloads the media item `reference` (as the plugin put it in an inbound event);
    /// the host makes it and stores the body. The default says the channel has no media to download.
    fn media_request(_reference: String) -> Result<OutgoingRequest, SendError> {
        Err(SendError::Permanent("this channel has no media to download".into()))
    }
}

/// Glue between a [`Channel`] and the generated export trait; used by [`register_channel!`](crate::register_channel).
#[doc(hidden)]
pub mod glue {
    use super::*;

    pub fn handle_webhook<C: Channel>(request: HttpRequest) -> Result<WebhookResult, WebhookError> {
        let (events, response) = C::handle_webhook(request)?;
        let events = serde_json::to_string(&events).map_err(|e| WebhookError::BadRequest(e.to_string()))?;
        Ok(WebhookResult { events, response })
    }

    pub fn send<C: Channel>(message: String) -> Result<String, SendError> {
        let message: OutboundMessage =
            serde_json::from_str(&message).map_err(|e| SendError::Permanent(format!("bad message: {e}")))?;
        C::send(message)
    }

    pub fn list_templates<C: Channel>() -> Result<String, SendError> {
        let list = C::list_templates()?;
        serde_json::to_string(&list).map_err(|e| SendError::Permanent(e.to_string()))
    }
}

/// Registers a [`Channel`] implementation as the plugin's export.
#[macro_export]
macro_rules! register_channel {
    ($ty:ty) => {
        struct __SwitchboardChannelExport;

        impl $crate::bindings::channel::exports::switchboard::plugin::channel::Guest for __SwitchboardChannelExport {
            fn describe() -> $crate::channel::Info {
                <$ty as $crate::channel::Channel>::describe()
            }
            fn verify(
                request: $crate::channel::HttpRequest,
            ) -> Result<Option<$crate::channel::HttpResponse>, $crate::channel::WebhookError> {
                <$ty as $crate::channel::Channel>::verify(request)
            }
            fn handle_webhook(
                request: $crate::channel::HttpRequest,
            ) -> Result<$crate::channel::WebhookResult, $crate::channel::WebhookError> {
                $crate::channel::glue::handle_webhook::<$ty>(request)
            }
            fn send(message: String) -> Result<String, $crate::channel::SendError> {
                $crate::channel::glue::send::<$ty>(message)
            }
            fn list_templates() -> Result<String, $crate::channel::SendError> {
                $crate::channel::glue::list_templates::<$ty>()
            }
            fn connect(webhook_url: String) -> Result<(), $crate::channel::SendError> {
                <$ty as $crate::channel::Channel>::connect(webhook_url)
            }
            fn disconnect() -> Result<(), $crate::channel::SendError> {
                <$ty as $crate::channel::Channel>::disconnect()
            }
            fn media_request(reference: String) -> Result<$crate::channel::OutgoingRequest, $crate::channel::SendError> {
                <$ty as $crate::channel::Channel>::media_request(reference)
            }
        }

        $crate::bindings::channel::export_channel_plugin!(__SwitchboardChannelExport with_types_in $crate::bindings::channel);
    };
}
