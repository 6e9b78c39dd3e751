//! The WebAssembly plugin host: one wasmtime engine, a compiled component and an `InstancePre` per
//! plugin, and a fresh sandboxed `Store` with limits for every call. Plugins reach the outside only
//! through the host imports in `host.rs`, each scoped to the calling plugin.

mod bindings;
mod engine;
mod host;
mod limits;

pub use bindings::exports::switchboard::plugin::channel::{Info, SendError, WebhookError, WebhookResult};
pub use bindings::switchboard::plugin::types::{HttpRequest, HttpResponse};
pub use engine::{ChannelPlugin, PluginEngine, PluginError};
pub use host::CallContext;
pub use limits::Limits;
