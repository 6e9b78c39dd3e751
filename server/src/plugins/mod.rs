//! The WebAssembly plugin host: one wasmtime engine, a compiled component and an `InstancePre` per
//! plugin, and a fresh sandboxed `Store` with limits for every call. Plugins reach the outside only
//! through the host imports in `host.rs`, each scoped to the calling plugin.

mod bindings;
mod egress;
mod engine;
mod host;
mod limits;

pub use bindings::channel::exports::switchboard::plugin::channel::{Info, SendError, WebhookError, WebhookResult};
pub use bindings::channel::switchboard::plugin::types::{HttpRequest, HttpResponse};
pub use bindings::integration::exports::switchboard::plugin::integration::{ActionInfo, IntegrationInfo};
pub use bindings::step::exports::switchboard::plugin::step::{StepInfo, StepResult};
pub use egress::{EgressPolicy, Grants, is_granted, is_public};
pub use engine::{ChannelPlugin, Inspection, IntegrationPlugin, Plugin, PluginEngine, PluginError, StepPlugin};
pub use host::{CallContext, KvBackend, MemoryKv, StoreKv};
pub use limits::Limits;
