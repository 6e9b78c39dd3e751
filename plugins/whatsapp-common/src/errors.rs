//! What a failed call to a WhatsApp API means to the server, as the SDK's `SendError` (feature `guest`):
//! shared by every plugin that reaches a Cloud-API-shaped endpoint, whoever hosts it.

use switchboard_plugin_sdk::channel::SendError;
use switchboard_plugin_sdk::host::HttpError;

use crate::{Failure, FailureKind};

/// A refusal the API answered, classified by [`crate::classify_failure`].
pub fn send_error(failure: Failure) -> SendError {
    match failure.kind {
        FailureKind::Transient => SendError::Transient(failure.reason),
        FailureKind::Permanent => SendError::Permanent(failure.reason),
        FailureKind::WindowClosed => SendError::WindowClosed(failure.reason),
        FailureKind::BadCredentials => SendError::BadCredentials(failure.reason),
    }
}

/// The request did not reach the API: worth retrying when the network was at fault, not when the host
/// refused it (a host that is not granted stays refused until an admin changes the settings).
pub fn not_reached(error: HttpError) -> SendError {
    match error {
        HttpError::Timeout => SendError::Transient("WhatsApp did not answer in time".into()),
        HttpError::Connection(why) => SendError::Transient(format!("could not reach WhatsApp: {why}")),
        HttpError::Limited(why) => SendError::Transient(format!("too many requests in flight: {why}")),
        HttpError::TooLarge => SendError::Permanent("WhatsApp's answer is larger than the host allows".into()),
        HttpError::Denied(why) => SendError::Permanent(format!("the request was refused by the host: {why}")),
        HttpError::InvalidRequest(why) => SendError::Permanent(format!("invalid request: {why}")),
    }
}
