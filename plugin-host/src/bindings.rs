//! Host-side bindings generated from the WIT interface in `plugin-sdk/wit/` (the single source of truth).
//! The channel world's bindings define the host imports; the step and integration worlds reuse them, so
//! one set of host implementations serves every world.

pub mod channel {
    wasmtime::component::bindgen!({
        world: "channel-plugin",
        path: "../plugin-sdk/wit/switchboard-plugin@1.1.0",
        imports: { default: async | trappable },
        exports: { default: async },
    });
}

pub mod step {
    wasmtime::component::bindgen!({
        world: "step-plugin",
        path: "../plugin-sdk/wit/switchboard-plugin@1.1.0",
        imports: { default: async | trappable },
        exports: { default: async },
        with: {
            "switchboard:plugin/types": super::channel::switchboard::plugin::types,
            "switchboard:plugin/log": super::channel::switchboard::plugin::log,
            "switchboard:plugin/kv": super::channel::switchboard::plugin::kv,
            "switchboard:plugin/config": super::channel::switchboard::plugin::config,
            "switchboard:plugin/http": super::channel::switchboard::plugin::http,
            "switchboard:plugin/clock": super::channel::switchboard::plugin::clock,
            "switchboard:plugin/mail": super::channel::switchboard::plugin::mail,
        },
    });
}

pub mod integration {
    wasmtime::component::bindgen!({
        world: "integration-plugin",
        path: "../plugin-sdk/wit/switchboard-plugin@1.1.0",
        imports: { default: async | trappable },
        exports: { default: async },
        with: {
            "switchboard:plugin/types": super::channel::switchboard::plugin::types,
            "switchboard:plugin/log": super::channel::switchboard::plugin::log,
            "switchboard:plugin/kv": super::channel::switchboard::plugin::kv,
            "switchboard:plugin/config": super::channel::switchboard::plugin::config,
            "switchboard:plugin/http": super::channel::switchboard::plugin::http,
            "switchboard:plugin/clock": super::channel::switchboard::plugin::clock,
            "switchboard:plugin/mail": super::channel::switchboard::plugin::mail,
        },
    });
}

/// The `poller` export of a polling channel (since 1.1.0), looked up beside the channel's.
pub mod poller {
    wasmtime::component::bindgen!({
        world: "poller-plugin",
        path: "../plugin-sdk/wit/switchboard-plugin@1.1.0",
        imports: { default: async | trappable },
        exports: { default: async },
        with: {
            "switchboard:plugin/types": super::channel::switchboard::plugin::types,
            "switchboard:plugin/log": super::channel::switchboard::plugin::log,
            "switchboard:plugin/kv": super::channel::switchboard::plugin::kv,
            "switchboard:plugin/config": super::channel::switchboard::plugin::config,
            "switchboard:plugin/http": super::channel::switchboard::plugin::http,
            "switchboard:plugin/clock": super::channel::switchboard::plugin::clock,
            "switchboard:plugin/mail": super::channel::switchboard::plugin::mail,
        },
    });
}
