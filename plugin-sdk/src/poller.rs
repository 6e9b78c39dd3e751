//! Polling channels (since interface 1.1.0): implement [`Poller`] beside [`Channel`](crate::channel::Channel)
//! and register both, `register_channel!(T); register_poller!(T);`. The server then calls `poll` from a job
//! every `poll_interval_seconds` of the channel (default 60) and ingests the events as a webhook's.

pub use crate::bindings::poller::exports::switchboard::plugin::poller::{PollError, PollResult};
pub use crate::event::InboundEvent;

/// What one poll found.
#[derive(Debug, Clone, Default)]
pub struct Polled {
    pub events: Vec<InboundEvent>,
    /// Where the next poll starts; the server keeps it only once `events` are committed.
    pub cursor: String,
    /// More is waiting: the server polls again at once.
    pub more: bool,
}

/// A channel that fetches what arrived.
pub trait Poller {
    /// Fetches what arrived after `cursor` (empty on the first poll).
    fn poll(cursor: String) -> Result<Polled, PollError>;
}

#[doc(hidden)]
pub mod glue {
    use super::*;

    pub fn poll<P: Poller>(cursor: String) -> Result<PollResult, PollError> {
        let polled = P::poll(cursor)?;
        let events = serde_json::to_string(&polled.events).map_err(|e| PollError::Permanent(e.to_string()))?;
        Ok(PollResult { events, cursor: polled.cursor, more: polled.more })
    }
}

/// Registers a [`Poller`] implementation as the plugin's `poller` export.
#[macro_export]
macro_rules! register_poller {
    ($ty:ty) => {
        struct __SwitchboardPollerExport;

        impl $crate::bindings::poller::exports::switchboard::plugin::poller::Guest for __SwitchboardPollerExport {
            fn poll(cursor: String) -> Result<$crate::poller::PollResult, $crate::poller::PollError> {
                $crate::poller::glue::poll::<$ty>(cursor)
            }
        }

        $crate::bindings::poller::export_poller_plugin!(__SwitchboardPollerExport with_types_in $crate::bindings::poller);
    };
}
