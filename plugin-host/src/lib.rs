//! The WebAssembly plugin host: one wasmtime engine, a compiled component and an `InstancePre` per
//! plugin, and a fresh sandboxed `Store` with limits for every call. Plugins reach the outside only
//! through the host imports in `host.rs`, each scoped to the calling plugin.
//!
//! The server builds on this crate; plugin authors use its [`testing`] harness from their own
//! `cargo test` to run their built component offline.

mod bindings;
mod cache;
mod egress;
mod engine;
mod host;
mod limits;
mod mail;
pub mod manifest;
mod recorded;
pub mod testing;

pub use bindings::channel::exports::switchboard::plugin::channel::{
    Capabilities, Info, SendError, WebhookError, WebhookResult, WindowPolicy,
};
pub use bindings::channel::switchboard::plugin::http::OutgoingRequest;
pub use bindings::channel::switchboard::plugin::mail::{
    FetchResult, Fetched, MailError, Security, Server as MailServer,
};
pub use bindings::channel::switchboard::plugin::types::{HttpRequest, HttpResponse};
pub use bindings::integration::exports::switchboard::plugin::integration::{ActionInfo, IntegrationInfo};
pub use bindings::poller::exports::switchboard::plugin::poller::{PollError, PollResult};
pub use bindings::step::exports::switchboard::plugin::step::{StepInfo, StepResult};
pub use egress::{EgressPolicy, Grants, is_granted, is_public};
pub use engine::{
    ChannelPlugin, Inspection, IntegrationPlugin, Plugin, PluginEngine, PluginError, SUPPORTED_MAJORS, StepPlugin, Wasm,
};
pub use host::{CallContext, KvBackend, MemoryKv};
pub use limits::{LimitOverrides, Limits};
pub use manifest::{ChannelTraits, Manifest, PhoneAddress, World};
pub use recorded::{RecordedHttp, RecordedRequest, RecordedResponse, SentMail};
