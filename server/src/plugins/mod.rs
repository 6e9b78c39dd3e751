//! Plugins in the server: the registry of bundled and installed plugins (manifests, admin settings,
//! reload) on top of the sandboxed host in the `switchboard-plugin-host` crate, and the database-backed
//! key-value storage plugins see.

mod kv;
pub mod registry;

pub use kv::StoreKv;
pub use registry::{LoadedPlugin, PluginEntry, PluginRegistry, PluginStatus};
pub use switchboard_plugin_host::*;
