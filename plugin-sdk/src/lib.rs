//! SDK for Switchboard plugins: the versioned WIT interface (`wit/`), a trait per world with sensible
//! defaults and a register macro, typed helpers for the host calls, and the JSON types plugins exchange
//! with the server.
//!
//! A plugin is one small `cdylib` crate built with `cargo build --target wasm32-wasip2 --release`; see
//! `docs/plugins.md`.

pub mod event;
pub mod form;
pub mod sms;

#[cfg(feature = "guest")]
pub mod channel;
#[cfg(feature = "guest")]
pub mod host;
#[cfg(feature = "guest")]
pub mod integration;
#[cfg(feature = "guest")]
pub mod poller;
#[cfg(feature = "guest")]
pub mod step;
#[cfg(feature = "verify")]
pub mod verify;

/// The version of the plugin interface this SDK targets (the WIT package `switchboard:plugin`).
pub const INTERFACE_VERSION: &str = "1.1.0";

/// Bindings generated from the WIT interface. Each world's module reuses the host interfaces generated
/// once here, so a plugin sees one set of host types.
#[cfg(feature = "guest")]
#[allow(missing_docs, clippy::all)]
pub mod bindings {
    pub mod host {
        wit_bindgen::generate!({
            path: "wit/switchboard-plugin@1.1.0",
            world: "host",
            generate_all,
        });
    }

    pub mod channel {
        wit_bindgen::generate!({
            path: "wit/switchboard-plugin@1.1.0",
            world: "channel-plugin",
            with: {
                "switchboard:plugin/types@1.1.0": crate::bindings::host::switchboard::plugin::types,
                "switchboard:plugin/log@1.1.0": crate::bindings::host::switchboard::plugin::log,
                "switchboard:plugin/kv@1.1.0": crate::bindings::host::switchboard::plugin::kv,
                "switchboard:plugin/config@1.1.0": crate::bindings::host::switchboard::plugin::config,
                "switchboard:plugin/http@1.1.0": crate::bindings::host::switchboard::plugin::http,
                "switchboard:plugin/clock@1.1.0": crate::bindings::host::switchboard::plugin::clock,
                "switchboard:plugin/mail@1.1.0": crate::bindings::host::switchboard::plugin::mail,
            },
            pub_export_macro: true,
            export_macro_name: "export_channel_plugin",
            default_bindings_module: "switchboard_plugin_sdk::bindings::channel",
        });
    }

    /// The `poller` export a polling channel (e-mail over IMAP) adds to the channel world, generated as a
    /// world of its own so that its export macro stands beside the channel's; see
    /// [`register_poller!`](crate::register_poller).
    pub mod poller {
        wit_bindgen::generate!({
            path: "wit/switchboard-plugin@1.1.0",
            world: "poller-plugin",
            with: {
                "switchboard:plugin/types@1.1.0": crate::bindings::host::switchboard::plugin::types,
                "switchboard:plugin/log@1.1.0": crate::bindings::host::switchboard::plugin::log,
                "switchboard:plugin/kv@1.1.0": crate::bindings::host::switchboard::plugin::kv,
                "switchboard:plugin/config@1.1.0": crate::bindings::host::switchboard::plugin::config,
                "switchboard:plugin/http@1.1.0": crate::bindings::host::switchboard::plugin::http,
                "switchboard:plugin/clock@1.1.0": crate::bindings::host::switchboard::plugin::clock,
                "switchboard:plugin/mail@1.1.0": crate::bindings::host::switchboard::plugin::mail,
            },
            pub_export_macro: true,
            export_macro_name: "export_poller_plugin",
            default_bindings_module: "switchboard_plugin_sdk::bindings::poller",
        });
    }

    pub mod step {
        wit_bindgen::generate!({
            path: "wit/switchboard-plugin@1.1.0",
            world: "step-plugin",
            with: {
                "switchboard:plugin/types@1.1.0": crate::bindings::host::switchboard::plugin::types,
                "switchboard:plugin/log@1.1.0": crate::bindings::host::switchboard::plugin::log,
                "switchboard:plugin/kv@1.1.0": crate::bindings::host::switchboard::plugin::kv,
                "switchboard:plugin/config@1.1.0": crate::bindings::host::switchboard::plugin::config,
                "switchboard:plugin/http@1.1.0": crate::bindings::host::switchboard::plugin::http,
                "switchboard:plugin/clock@1.1.0": crate::bindings::host::switchboard::plugin::clock,
                "switchboard:plugin/mail@1.1.0": crate::bindings::host::switchboard::plugin::mail,
            },
            pub_export_macro: true,
            export_macro_name: "export_step_plugin",
            default_bindings_module: "switchboard_plugin_sdk::bindings::step",
        });
    }

    pub mod integration {
        wit_bindgen::generate!({
            path: "wit/switchboard-plugin@1.1.0",
            world: "integration-plugin",
            with: {
                "switchboard:plugin/types@1.1.0": crate::bindings::host::switchboard::plugin::types,
                "switchboard:plugin/log@1.1.0": crate::bindings::host::switchboard::plugin::log,
                "switchboard:plugin/kv@1.1.0": crate::bindings::host::switchboard::plugin::kv,
                "switchboard:plugin/config@1.1.0": crate::bindings::host::switchboard::plugin::config,
                "switchboard:plugin/http@1.1.0": crate::bindings::host::switchboard::plugin::http,
                "switchboard:plugin/clock@1.1.0": crate::bindings::host::switchboard::plugin::clock,
                "switchboard:plugin/mail@1.1.0": crate::bindings::host::switchboard::plugin::mail,
            },
            pub_export_macro: true,
            export_macro_name: "export_integration_plugin",
            default_bindings_module: "switchboard_plugin_sdk::bindings::integration",
        });
    }
}
