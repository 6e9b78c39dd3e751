//! Switchboard: a self-hosted omnichannel customer-conversation server (library side of the binary).

pub mod config;
pub mod error;
pub mod model;
pub mod store;
