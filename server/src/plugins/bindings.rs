//! Host-side bindings generated from the WIT interface in `plugin-sdk/wit/` (the single source of truth).

wasmtime::component::bindgen!({
    world: "channel-plugin",
    path: "../plugin-sdk/wit/switchboard-plugin@1.0.0",
    imports: { default: async | trappable },
    exports: { default: async },
});
