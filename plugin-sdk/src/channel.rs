//! The channel world: implement [`Channel`] and register it with [`register_channel!`](crate::register_channel).

pub use crate::bindings::channel::exports::switchboard::plugin::channel::{
    Capabilities, Info, SendError, WebhookError, WebhookResult, WindowPolicy,
};
pub use crate::event::{ContactProfile, DeliveryStatus, InboundEvent, OutboundMessage};
pub use crate::host::{HttpRequest, HttpResponse, OutgoingRequest};

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
