//! The engine: compiles components once, keeps an `InstancePre` per plugin, and runs every call in a
//! fresh `Store` with a wall-clock deadline (epoch interruption), a memory cap, a host-call budget and
//! input/output size caps. A trap or a limit hit fails that call only.

use std::sync::Arc;
use std::time::{Duration, Instant};

use wasmtime::component::{Component, ComponentExportIndex, ComponentNamedList, HasSelf, Lift, Linker, Lower};
use wasmtime::{Config, Enabled, Engine, InstanceAllocationStrategy, PoolingAllocationConfig, Store, UpdateDeadline};

use super::bindings::channel::exports::switchboard::plugin::channel::{Info, SendError, WebhookError, WebhookResult};
use super::bindings::channel::switchboard::plugin::http::OutgoingRequest;
use super::bindings::channel::switchboard::plugin::types::{HttpRequest, HttpResponse};
use super::bindings::channel::{ChannelPlugin as ChannelWorld, ChannelPluginIndices};
use super::bindings::integration::exports::switchboard::plugin::integration::IntegrationInfo;
use super::bindings::integration::{IntegrationPlugin as IntegrationWorld, IntegrationPluginPre};
use super::bindings::poller::PollerPluginIndices;
use super::bindings::poller::exports::switchboard::plugin::poller::{PollError, PollResult};
use super::bindings::step::exports::switchboard::plugin::step::{StepInfo, StepResult};
use super::bindings::step::{StepPlugin as StepWorld, StepPluginPre};
use super::cache::DiskCache;
use super::egress::{Egress, EgressPolicy, Grants};
use super::host::{CallContext, KvBackend, KvSpace, MemoryKv, Net, PluginState, Transport};
use super::limits::Limits;
use super::recorded::RecordedHttp;

/// How often the epoch advances; deadlines are counted in these ticks.
const TICK: Duration = Duration::from_millis(10);

/// Why a plugin call failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PluginError {
    /// The component is not a valid plugin of a supported interface version.
    #[error("invalid plugin: {0}")]
    Invalid(String),
    /// The call ran past its deadline.
    #[error("plugin call timed out after {0} ms")]
    Timeout(u64),
    /// The call hit a resource limit (memory, host calls, input or output size).
    #[error("plugin limit exceeded: {0}")]
    Limit(String),
    /// The plugin trapped (a panic, an unreachable, a bad memory access).
    #[error("plugin trapped: {0}")]
    Trap(String),
}

/// A plugin's component: its bytes and their SHA-256, which names it in the compile caches.
///
/// The hash is usually computed here ([`Wasm::new`]). A bundled plugin's was computed when the server was
/// built ([`Wasm::with_sha256`]), so loading it from the cache of compiled plugins does not read its bytes,
/// which then never become resident.
#[derive(Debug, Clone, Copy)]
pub struct Wasm<'a> {
    bytes: &'a [u8],
    sha256: [u8; 32],
}

impl<'a> Wasm<'a> {
    pub fn new(bytes: &'a [u8]) -> Self {
        use sha2::Digest;
        Self { bytes, sha256: sha2::Sha256::digest(bytes).into() }
    }

    /// Bytes whose SHA-256 is already known. It must be theirs: the caches would otherwise hand out
    /// another component compiled under that hash.
    pub fn with_sha256(bytes: &'a [u8], sha256: [u8; 32]) -> Self {
        Self { bytes, sha256 }
    }

    pub fn bytes(&self) -> &'a [u8] {
        self.bytes
    }

    pub fn sha256(&self) -> [u8; 32] {
        self.sha256
    }
}

impl<'a> From<&'a [u8]> for Wasm<'a> {
    fn from(bytes: &'a [u8]) -> Self {
        Self::new(bytes)
    }
}

impl<'a> From<&'a Vec<u8>> for Wasm<'a> {
    fn from(bytes: &'a Vec<u8>) -> Self {
        Self::new(bytes)
    }
}

impl<'a, const N: usize> From<&'a [u8; N]> for Wasm<'a> {
    fn from(bytes: &'a [u8; N]) -> Self {
        Self::new(bytes)
    }
}

/// The process's one wasmtime engine and its epoch ticker.
#[derive(Clone)]
pub struct PluginEngine {
    engine: Engine,
    linker: Arc<Linker<PluginState>>,
    kv: KvSpace,
    transport: Transport,
    max_concurrent_requests: usize,
    /// Compiled components by SHA-256 of their bytes: a plugin is compiled once per content, however
    /// often it is loaded or reloaded.
    compiled: Arc<std::sync::Mutex<std::collections::HashMap<[u8; 32], Component>>>,
    /// Artifacts compiled by an earlier run of this host, if a cache directory was given.
    disk: Option<DiskCache>,
    /// Keeps the epoch ticker thread running; it stops when the last clone is dropped.
    _alive: Arc<()>,
}

impl std::fmt::Debug for PluginEngine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("PluginEngine")
    }
}

impl PluginEngine {
    /// Builds the engine: component model, epoch interruption, pooling allocator sized by `max_memory`.
    pub fn new(max_memory: usize) -> Result<Self, PluginError> {
        Self::with_egress(max_memory, EgressPolicy::standard())
    }

    /// Like [`PluginEngine::new`], with the admin's outbound HTTP policy.
    pub fn with_egress(max_memory: usize, policy: EgressPolicy) -> Result<Self, PluginError> {
        let egress = Egress::new(policy).map_err(|e| PluginError::Invalid(format!("HTTP client: {e}")))?;
        let mut pooling = PoolingAllocationConfig::new();
        pooling.total_component_instances(256);
        pooling.total_memories(256);
        pooling.total_tables(256);
        pooling.max_memory_size(max_memory);
        // When a call ends, copy the pages it dirtied (found with PAGEMAP_SCAN, up to this much) back from
        // the module's image instead of dropping them with madvise: the next call still starts from fresh
        // memory and tables, without the TLB shootdowns and page faults that were most of a short call.
        // A pool slot keeps at most this much resident between calls. Without PAGEMAP_SCAN (Linux < 6.7)
        // wasmtime would memset the whole amount on every call, so it stays off there.
        if PoolingAllocationConfig::is_pagemap_scan_available() {
            pooling.pagemap_scan(Enabled::Yes);
            pooling.linear_memory_keep_resident(1 << 20);
            pooling.table_keep_resident(64 << 10);
        }
        let mut config = Config::new();
        config.wasm_component_model(true);
        config.epoch_interruption(true);
        config.max_wasm_stack(512 * 1024);
        config.allocation_strategy(InstanceAllocationStrategy::Pooling(pooling));
        let engine = match Engine::new(&config) {
            Ok(engine) => engine,
            Err(_) => {
                // Some machines cannot reserve the pool's virtual memory; allocate on demand instead.
                config.allocation_strategy(InstanceAllocationStrategy::OnDemand);
                Engine::new(&config).map_err(|e| PluginError::Invalid(e.to_string()))?
            }
        };
        let mut linker = Linker::new(&engine);
        wasmtime_wasi::p2::add_to_linker_async(&mut linker).map_err(|e| PluginError::Invalid(e.to_string()))?;
        // The channel world's imports are the host interfaces every world shares.
        ChannelWorld::add_to_linker::<_, HasSelf<_>>(&mut linker, |s| s)
            .map_err(|e| PluginError::Invalid(e.to_string()))?;
        // The ticker runs while any clone of this engine lives: it holds only a weak reference.
        let alive = Arc::new(());
        let (ticking, watch) = (engine.clone(), Arc::downgrade(&alive));
        std::thread::Builder::new()
            .name("plugin-epoch".into())
            .spawn(move || {
                while watch.strong_count() > 0 {
                    std::thread::sleep(TICK);
                    ticking.increment_epoch();
                }
            })
            .map_err(|e| PluginError::Invalid(format!("cannot start the epoch ticker: {e}")))?;
        Ok(Self {
            engine,
            linker: Arc::new(linker),
            kv: Arc::new(MemoryKv::default()),
            max_concurrent_requests: egress.policy().max_concurrent_per_plugin.max(1),
            transport: Transport::Live(egress),
            compiled: Arc::default(),
            disk: None,
            _alive: alive,
        })
    }

    /// Refuses plugins' requests to `host:port`, the server's own address (see [`Egress::block_origin`]).
    pub fn block_origin(&self, host: &str, port: u16) {
        if let Transport::Live(egress) = &self.transport {
            egress.block_origin(host, port);
        }
    }

    /// Keeps plugins' key-value data in `kv` (the database, in the server) instead of the process.
    pub fn with_kv(mut self, kv: Arc<dyn KvBackend>) -> Self {
        self.kv = kv;
        self
    }

    /// Answers plugins' HTTP requests from `recorded` instead of the network (the offline test harness).
    pub fn with_recorded_http(mut self, recorded: Arc<RecordedHttp>) -> Self {
        self.transport = Transport::Recorded(recorded);
        self
    }

    /// Keeps compiled plugins in `dir` (created owner-only) and reuses them on the next start.
    pub fn with_cache_dir(mut self, dir: &std::path::Path) -> Result<Self, PluginError> {
        let cache = DiskCache::open(dir, &self.engine)
            .map_err(|e| PluginError::Invalid(format!("plugin cache {}: {e}", dir.display())))?;
        self.disk = Some(cache);
        Ok(self)
    }

    /// Compiles `wasm`, or returns the component compiled earlier from the same bytes (in this process or,
    /// with a cache directory, in an earlier one).
    fn compile(&self, id: &str, wasm: Wasm<'_>) -> Result<Component, PluginError> {
        let hash = wasm.sha256();
        let cached = self.compiled.lock().ok().and_then(|map| map.get(&hash).cloned());
        if let Some(component) = cached {
            return Ok(component);
        }
        let started = Instant::now();
        let from_disk = self.disk.as_ref().and_then(|d| d.load(&self.engine, &hash));
        let component = match from_disk {
            Some(component) => {
                tracing::debug!(plugin = id, "loaded a precompiled plugin");
                component
            }
            None => {
                let component = Component::new(&self.engine, wasm.bytes())
                    .map_err(|e| PluginError::Invalid(format!("{id}: {e}")))?;
                let ms = started.elapsed().as_millis() as u64;
                tracing::info!(plugin = id, bytes = wasm.bytes().len(), ms, "compiled plugin");
                metrics::counter!("switchboard_plugin_compilations_total", "plugin" => id.to_owned()).increment(1);
                if let Some(disk) = &self.disk {
                    disk.store(&hash, &component);
                }
                component
            }
        };
        if let Ok(mut map) = self.compiled.lock() {
            map.insert(hash, component.clone());
        }
        Ok(component)
    }

    /// How many distinct components have been compiled.
    pub fn compiled_count(&self) -> usize {
        self.compiled.lock().map(|m| m.len()).unwrap_or(0)
    }

    fn instance_pre(
        &self,
        id: &str,
        wasm: Wasm<'_>,
    ) -> Result<wasmtime::component::InstancePre<PluginState>, PluginError> {
        let component = self.compile(id, wasm)?;
        // Name the interface version before anything else can fail with a less helpful linking error.
        let ty = component.component_type();
        let imports = ty.imports(&self.engine).map(|(name, _)| name.to_owned());
        let exports = ty.exports(&self.engine).map(|(name, _)| name.to_owned());
        for name in imports.chain(exports) {
            check_interface_version(id, &name)?;
        }
        self.linker.instantiate_pre(&component).map_err(|e| PluginError::Invalid(format!("{id}: {e}")))
    }

    /// Compiles a channel plugin and checks it against the interface (imports and exports); a plugin that
    /// also exports `poller` (1.1.0) polls.
    pub fn load_channel<'a>(
        &self,
        id: &str,
        wasm: impl Into<Wasm<'a>>,
        limits: Limits,
    ) -> Result<ChannelPlugin, PluginError> {
        let instance_pre = self.instance_pre(id, wasm.into())?;
        let exports_poller = instance_pre
            .component()
            .component_type()
            .exports(&self.engine)
            .any(|(name, _)| name.starts_with(&format!("{PACKAGE}poller@")));
        let channel = ChannelPluginIndices::new(&instance_pre)
            .map_err(|e| PluginError::Invalid(format!("{id}: not a channel plugin: {e}")))?;
        let poller = if exports_poller {
            let indices = PollerPluginIndices::new(&instance_pre)
                .map_err(|e| PluginError::Invalid(format!("{id}: its poller export does not match: {e}")))?;
            Some(indices)
        } else {
            None
        };
        let exports = ChannelExports::find(instance_pre.component(), exports_poller)
            .map_err(|e| PluginError::Invalid(format!("{id}: not a channel plugin: {e}")))?;
        let checks = Arc::new(ExportChecks { channel, poller, done: std::sync::atomic::AtomicBool::new(false) });
        let pre = ChannelPre { pre: instance_pre, exports: Arc::new(exports), checks };
        Ok(Plugin { id: id.to_owned(), engine: self.clone(), pre, limits, net: self.net(Grants::default()) })
    }

    /// Compiles a workflow-step plugin.
    pub fn load_step<'a>(
        &self,
        id: &str,
        wasm: impl Into<Wasm<'a>>,
        limits: Limits,
    ) -> Result<StepPlugin, PluginError> {
        let pre = StepPluginPre::new(self.instance_pre(id, wasm.into())?)
            .map_err(|e| PluginError::Invalid(format!("{id}: not a step plugin: {e}")))?;
        Ok(Plugin { id: id.to_owned(), engine: self.clone(), pre, limits, net: self.net(Grants::default()) })
    }

    /// Compiles an integration plugin.
    pub fn load_integration<'a>(
        &self,
        id: &str,
        wasm: impl Into<Wasm<'a>>,
        limits: Limits,
    ) -> Result<IntegrationPlugin, PluginError> {
        let pre = IntegrationPluginPre::new(self.instance_pre(id, wasm.into())?)
            .map_err(|e| PluginError::Invalid(format!("{id}: not an integration plugin: {e}")))?;
        Ok(Plugin { id: id.to_owned(), engine: self.clone(), pre, limits, net: self.net(Grants::default()) })
    }

    fn net(&self, grants: Grants) -> Net {
        Net {
            transport: self.transport.clone(),
            grants: Arc::new(grants),
            inflight: Arc::new(tokio::sync::Semaphore::new(self.max_concurrent_requests)),
        }
    }

    fn store(&self, call: CallContext, limits: Limits, net: Net) -> Store<PluginState> {
        let mut store = Store::new(&self.engine, PluginState::new(call, self.kv.clone(), limits, net));
        store.limiter(|s| &mut s.limits);
        // Every tick the guest yields to the executor (so a spinning plugin never holds a worker thread), and
        // once the wall-clock deadline has passed the call is interrupted.
        let deadline = Instant::now() + Duration::from_millis(limits.timeout_ms);
        store.set_epoch_deadline(1);
        store.epoch_deadline_callback(move |_| {
            Ok(if Instant::now() >= deadline { UpdateDeadline::Interrupt } else { UpdateDeadline::Yield(1) })
        });
        store.set_hostcall_fuel(limits.hostcall_bytes);
        store
    }
}

/// What `switchboard plugin check` reports about a component.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Inspection {
    /// `channel`, `step` or `integration`.
    pub world: &'static str,
    /// A channel that also exports `poller` (1.1.0): the server polls it.
    pub polls: bool,
    /// The `switchboard:plugin` versions it imports or exports.
    pub interface_versions: Vec<String>,
    /// Every import, e.g. `switchboard:plugin/http@1.0.0`, `wasi:cli/environment@0.2.x`.
    pub imports: Vec<String>,
    pub size_bytes: usize,
    pub compile_ms: u64,
    /// The plugin's own description (`describe()`), as JSON.
    pub describe: serde_json::Value,
}

impl PluginEngine {
    /// Loads a component as whichever world it implements and reports on it, calling `describe()` under
    /// the given limits.
    pub async fn inspect(&self, bytes: &[u8], limits: Limits) -> Result<Inspection, PluginError> {
        let wasm = Wasm::new(bytes);
        let started = Instant::now();
        let component = self.compile("inspected", wasm)?;
        let compile_ms = started.elapsed().as_millis() as u64;
        let ty = component.component_type();
        let imports: Vec<String> = ty.imports(&self.engine).map(|(n, _)| n.to_owned()).collect();
        let exports: Vec<String> = ty.exports(&self.engine).map(|(n, _)| n.to_owned()).collect();
        let mut interface_versions: Vec<String> = imports
            .iter()
            .chain(&exports)
            .filter_map(|n| n.strip_prefix(PACKAGE).and_then(|r| r.split_once('@')).map(|(_, v)| v.to_owned()))
            .collect();
        interface_versions.sort();
        interface_versions.dedup();
        let exported = |iface: &str| exports.iter().any(|e| e.starts_with(&format!("{PACKAGE}{iface}@")));
        let ctx = CallContext { plugin_id: "inspected".into(), kv_scope: "inspected".into(), ..Default::default() };
        let polls = exported("poller");
        let (world, describe) = if exported("channel") {
            let info = self.load_channel("inspected", wasm, limits)?.describe(ctx).await?;
            ("channel", serde_json::json!({ "id": info.id, "name": info.name, "version": info.version }))
        } else if exported("step") {
            let info = self.load_step("inspected", wasm, limits)?.describe(ctx).await?;
            ("step", serde_json::json!({ "id": info.id, "name": info.name, "version": info.version }))
        } else if exported("integration") {
            let info = self.load_integration("inspected", wasm, limits)?.describe(ctx).await?;
            ("integration", serde_json::json!({ "id": info.id, "name": info.name, "version": info.version }))
        } else {
            for name in imports.iter().chain(&exports) {
                check_interface_version("inspected", name)?;
            }
            return Err(PluginError::Invalid("exports none of the channel, step or integration interfaces".into()));
        };
        Ok(Inspection { world, polls, interface_versions, imports, size_bytes: bytes.len(), compile_ms, describe })
    }
}

/// The interface majors this host links.
pub const SUPPORTED_MAJORS: &[u64] = &[1];
const PACKAGE: &str = "switchboard:plugin/";

/// Refuses an import or export of `switchboard:plugin` from an unsupported major, naming both versions.
fn check_interface_version(id: &str, name: &str) -> Result<(), PluginError> {
    let Some(rest) = name.strip_prefix(PACKAGE) else { return Ok(()) };
    let version = rest.split_once('@').map(|(_, v)| v).unwrap_or("");
    let major = version.split('.').next().and_then(|m| m.parse::<u64>().ok());
    match major {
        Some(m) if SUPPORTED_MAJORS.contains(&m) && !version.contains('-') => Ok(()),
        _ => Err(PluginError::Invalid(format!(
            "{id}: built against switchboard:plugin {} ({name}); this server supports {}",
            if version.is_empty() { "without a version" } else { version },
            SUPPORTED_MAJORS.iter().map(|m| format!("{m}.x")).collect::<Vec<_>>().join(", ")
        ))),
    }
}

/// A pre-instantiated world: what a [`Plugin`] instantiates for every call.
pub trait WorldPre: Clone + Send + Sync + 'static {
    type Instance: Send + Sync;
    fn instantiate<'a>(
        &'a self,
        store: &'a mut Store<PluginState>,
    ) -> std::pin::Pin<Box<dyn std::future::Future<Output = wasmtime::Result<Self::Instance>> + Send + 'a>>;
}

macro_rules! world_pre {
    ($pre:ident, $world:ident) => {
        impl WorldPre for $pre<PluginState> {
            type Instance = $world;
            fn instantiate<'a>(
                &'a self,
                store: &'a mut Store<PluginState>,
            ) -> std::pin::Pin<Box<dyn std::future::Future<Output = wasmtime::Result<$world>> + Send + 'a>> {
                Box::pin(self.instantiate_async(store))
            }
        }
    };
}

/// A channel plugin ready to instantiate: its channel export and, for a polling channel, its poller.
#[derive(Clone)]
pub struct ChannelPre {
    pre: wasmtime::component::InstancePre<PluginState>,
    exports: Arc<ChannelExports>,
    checks: Arc<ExportChecks>,
}

/// The generated bindings' check of every export's types, run on the plugin's first instance (its
/// `describe()` when it is loaded), so a plugin with a mistyped function is refused at once rather than
/// when that function is first called.
struct ExportChecks {
    channel: ChannelPluginIndices,
    poller: Option<PollerPluginIndices>,
    done: std::sync::atomic::AtomicBool,
}

/// A channel plugin's exported functions, found once by name when the plugin is loaded. A call looks up
/// and type-checks only the function it calls: the generated bindings would look up and check all eight
/// on every instance, a tenth of a call's fixed cost.
struct ChannelExports {
    describe: ComponentExportIndex,
    verify: ComponentExportIndex,
    handle_webhook: ComponentExportIndex,
    send: ComponentExportIndex,
    list_templates: ComponentExportIndex,
    connect: ComponentExportIndex,
    disconnect: ComponentExportIndex,
    media_request: ComponentExportIndex,
    poll: Option<ComponentExportIndex>,
}

impl ChannelExports {
    fn find(component: &Component, polls: bool) -> wasmtime::Result<Self> {
        // The interface is looked up by its 1.1.0 name; wasmtime matches a semver-compatible export, so a
        // plugin built against 1.0.0 is found too.
        let lookup = |iface: &str, names: &[&str]| -> wasmtime::Result<Vec<ComponentExportIndex>> {
            let name = format!("{PACKAGE}{iface}@{}", switchboard_plugin_sdk::INTERFACE_VERSION);
            let instance = component
                .get_export_index(None, &name)
                .ok_or_else(|| wasmtime::format_err!("no exported instance named `{name}`"))?;
            names
                .iter()
                .map(|f| {
                    component
                        .get_export_index(Some(&instance), f)
                        .ok_or_else(|| wasmtime::format_err!("`{name}` does not export `{f}`"))
                })
                .collect()
        };
        let [describe, verify, handle_webhook, send, list_templates, connect, disconnect, media_request]: [_; 8] =
            lookup(
                "channel",
                &[
                    "describe",
                    "verify",
                    "handle-webhook",
                    "send",
                    "list-templates",
                    "connect",
                    "disconnect",
                    "media-request",
                ],
            )?
            .try_into()
            .map_err(|_| wasmtime::format_err!("channel exports"))?;
        let poll = if polls { lookup("poller", &["poll"])?.pop() } else { None };
        Ok(Self { describe, verify, handle_webhook, send, list_templates, connect, disconnect, media_request, poll })
    }
}

/// One instance of a channel plugin.
pub struct ChannelInstance {
    instance: wasmtime::component::Instance,
    exports: Arc<ChannelExports>,
}

impl ChannelInstance {
    /// Calls the export at `index`, checking it has the interface's types.
    async fn call<P, R>(
        &self,
        store: &mut Store<PluginState>,
        index: &ComponentExportIndex,
        params: P,
    ) -> wasmtime::Result<R>
    where
        P: ComponentNamedList + Lower + Send + Sync,
        R: ComponentNamedList + Lift + Send + Sync + 'static,
    {
        let func = self
            .instance
            .get_func(&mut *store, index)
            .ok_or_else(|| wasmtime::format_err!("the plugin lacks an export it had when loaded"))?;
        func.typed::<P, R>(&*store)?.call_async(&mut *store, params).await
    }
}

impl WorldPre for ChannelPre {
    type Instance = ChannelInstance;
    fn instantiate<'a>(
        &'a self,
        store: &'a mut Store<PluginState>,
    ) -> std::pin::Pin<Box<dyn std::future::Future<Output = wasmtime::Result<ChannelInstance>> + Send + 'a>> {
        Box::pin(async move {
            let instance = self.pre.instantiate_async(&mut *store).await?;
            let checks = &self.checks;
            if !checks.done.load(std::sync::atomic::Ordering::Relaxed) {
                checks.channel.load(&mut *store, &instance)?;
                if let Some(poller) = &checks.poller {
                    poller.load(&mut *store, &instance)?;
                }
                checks.done.store(true, std::sync::atomic::Ordering::Relaxed);
            }
            Ok(ChannelInstance { instance, exports: self.exports.clone() })
        })
    }
}
world_pre!(StepPluginPre, StepWorld);
world_pre!(IntegrationPluginPre, IntegrationWorld);

/// A loaded plugin of one world: compiled once, instantiated in a fresh store per call.
#[derive(Clone)]
pub struct Plugin<P: WorldPre> {
    id: String,
    engine: PluginEngine,
    pre: P,
    limits: Limits,
    net: Net,
}

pub type ChannelPlugin = Plugin<ChannelPre>;
pub type StepPlugin = Plugin<StepPluginPre<PluginState>>;
pub type IntegrationPlugin = Plugin<IntegrationPluginPre<PluginState>>;

impl<P: WorldPre> std::fmt::Debug for Plugin<P> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Plugin").field("id", &self.id).finish_non_exhaustive()
    }
}

/// Maps a failed wasmtime call to why it failed.
fn classify(err: wasmtime::Error, store: &Store<PluginState>, limits: &Limits) -> PluginError {
    if let Some(why) = &store.data().host_limit_hit {
        return PluginError::Limit(why.clone());
    }
    if err.downcast_ref::<wasmtime::Trap>() == Some(&wasmtime::Trap::Interrupt) {
        return PluginError::Timeout(limits.timeout_ms);
    }
    // StoreLimits turns a refused memory.grow into a trap that says so.
    let text = format!("{err:?}");
    if text.contains("memory") && (text.contains("grow") || text.contains("limit")) {
        return PluginError::Limit(format!("memory above {} bytes", limits.memory_bytes));
    }
    PluginError::Trap(err.to_string())
}

impl<P: WorldPre> Plugin<P> {
    pub fn id(&self) -> &str {
        &self.id
    }

    /// The limits every call of this plugin runs under.
    pub fn limits(&self) -> &Limits {
        &self.limits
    }

    /// Grants outbound hosts (the manifest's declaration intersected with the admin's grant).
    pub fn with_grants(mut self, grants: Grants) -> Self {
        self.net = self.engine.net(grants);
        self
    }

    /// Runs `f` against a fresh instance in a fresh store, under the plugin's limits.
    async fn call<R, F>(&self, ctx: CallContext, f: F) -> Result<R, PluginError>
    where
        F: for<'a> FnOnce(
            &'a P::Instance,
            &'a mut Store<PluginState>,
        )
            -> std::pin::Pin<Box<dyn std::future::Future<Output = wasmtime::Result<R>> + Send + 'a>>,
    {
        let started = Instant::now();
        let mut store = self.engine.store(ctx, self.limits, self.net.clone());
        let result = match self.pre.instantiate(&mut store).await {
            Ok(instance) => f(&instance, &mut store).await,
            Err(e) => Err(e),
        };
        let outcome = result.map_err(|e| classify(e, &store, &self.limits));
        let kind = match &outcome {
            Ok(_) => "ok",
            Err(PluginError::Timeout(_)) => "timeout",
            Err(PluginError::Limit(_)) => "limit",
            Err(PluginError::Trap(_)) => "trap",
            Err(PluginError::Invalid(_)) => "invalid",
        };
        metrics::counter!("switchboard_plugin_calls_total", "plugin" => self.id.clone(), "outcome" => kind)
            .increment(1);
        metrics::histogram!("switchboard_plugin_call_duration_seconds", "plugin" => self.id.clone())
            .record(started.elapsed().as_secs_f64());
        if let Err(e) = &outcome {
            tracing::warn!(plugin = %self.id, error = %e, "plugin call failed");
        }
        outcome
    }

    /// Makes an HTTP request on the plugin's behalf (a media download it described), under the same
    /// grants, address checks and caps as the plugin's own requests.
    pub async fn fetch_for(&self, request: OutgoingRequest) -> Result<HttpResponse, String> {
        let outbound = super::egress::OutboundRequest {
            method: request.method,
            url: request.url,
            headers: request.headers,
            body: request.body,
            timeout_ms: request.timeout_ms,
        };
        let result = match &self.net.transport {
            Transport::Live(egress) => egress.send(&self.net.grants, outbound).await,
            Transport::Recorded(recorded) => recorded.answer(&self.net.grants, outbound),
        };
        result
            .map(|r| HttpResponse { status: r.status, headers: r.headers, body: r.body })
            .map_err(|e| format!("{e:?}"))
    }

    fn check_input(&self, bytes: usize) -> Result<(), PluginError> {
        if bytes > self.limits.input_bytes {
            return Err(PluginError::Limit(format!("input of {bytes} bytes above {}", self.limits.input_bytes)));
        }
        Ok(())
    }

    fn check_output(&self, bytes: usize) -> Result<(), PluginError> {
        if bytes > self.limits.output_bytes {
            return Err(PluginError::Limit(format!("output of {bytes} bytes above {}", self.limits.output_bytes)));
        }
        Ok(())
    }
}

impl ChannelPlugin {
    /// The plugin's description of itself.
    pub async fn describe(&self, ctx: CallContext) -> Result<Info, PluginError> {
        self.call(ctx, |p, s| {
            Box::pin(async move { p.call::<(), (Info,)>(s, &p.exports.describe, ()).await.map(|r| r.0) })
        })
        .await
    }

    /// A verification handshake.
    pub async fn verify(
        &self,
        ctx: CallContext,
        request: HttpRequest,
    ) -> Result<Result<Option<HttpResponse>, WebhookError>, PluginError> {
        self.check_input(request.body.len())?;
        self.call(ctx, move |p, s| {
            Box::pin(async move {
                p.call::<(&HttpRequest,), (Result<Option<HttpResponse>, WebhookError>,)>(
                    s,
                    &p.exports.verify,
                    (&request,),
                )
                .await
                .map(|r| r.0)
            })
        })
        .await
    }

    /// Verifies and parses a webhook delivery.
    pub async fn handle_webhook(
        &self,
        ctx: CallContext,
        request: HttpRequest,
    ) -> Result<Result<WebhookResult, WebhookError>, PluginError> {
        self.check_input(request.body.len())?;
        let out = self
            .call(ctx, move |p, s| {
                Box::pin(async move {
                    let index = &p.exports.handle_webhook;
                    p.call::<(&HttpRequest,), (Result<WebhookResult, WebhookError>,)>(s, index, (&request,))
                        .await
                        .map(|r| r.0)
                })
            })
            .await?;
        if let Ok(result) = &out {
            self.check_output(result.events.len() + result.response.body.len())?;
        }
        Ok(out)
    }

    /// Sends one message (JSON of `OutboundMessage`); returns the provider's id.
    pub async fn send(&self, ctx: CallContext, message: String) -> Result<Result<String, SendError>, PluginError> {
        self.check_input(message.len())?;
        self.call(ctx, move |p, s| {
            Box::pin(async move {
                p.call::<(&str,), (Result<String, SendError>,)>(s, &p.exports.send, (&message,)).await.map(|r| r.0)
            })
        })
        .await
    }
}

impl ChannelPlugin {
    /// Registers the channel's webhook URL at the provider.
    pub async fn connect(&self, ctx: CallContext, webhook_url: String) -> Result<Result<(), SendError>, PluginError> {
        self.call(ctx, move |p, s| {
            Box::pin(async move {
                p.call::<(&str,), (Result<(), SendError>,)>(s, &p.exports.connect, (&webhook_url,)).await.map(|r| r.0)
            })
        })
        .await
    }

    /// Undoes `connect`.
    pub async fn disconnect(&self, ctx: CallContext) -> Result<Result<(), SendError>, PluginError> {
        self.call(ctx, |p, s| {
            Box::pin(
                async move { p.call::<(), (Result<(), SendError>,)>(s, &p.exports.disconnect, ()).await.map(|r| r.0) },
            )
        })
        .await
    }

    /// The request that downloads an inbound media item.
    pub async fn media_request(
        &self,
        ctx: CallContext,
        reference: String,
    ) -> Result<Result<OutgoingRequest, SendError>, PluginError> {
        self.check_input(reference.len())?;
        self.call(ctx, move |p, s| {
            Box::pin(async move {
                let index = &p.exports.media_request;
                p.call::<(&str,), (Result<OutgoingRequest, SendError>,)>(s, index, (&reference,)).await.map(|r| r.0)
            })
        })
        .await
    }

    /// Whether the plugin polls (exports `poller`, since 1.1.0).
    pub fn polls(&self) -> bool {
        self.pre.exports.poll.is_some()
    }

    /// Fetches what arrived after `cursor`; a plugin that does not poll answers a permanent error.
    pub async fn poll(&self, ctx: CallContext, cursor: String) -> Result<Result<PollResult, PollError>, PluginError> {
        if !self.polls() {
            return Ok(Err(PollError::Permanent("this channel's plugin does not poll".into())));
        }
        self.check_input(cursor.len())?;
        let out = self
            .call(ctx, move |p, s| {
                Box::pin(async move {
                    let index = p.exports.poll.as_ref().ok_or_else(|| wasmtime::format_err!("no poller export"))?;
                    p.call::<(&str,), (Result<PollResult, PollError>,)>(s, index, (&cursor,)).await.map(|r| r.0)
                })
            })
            .await?;
        if let Ok(result) = &out {
            self.check_output(result.events.len() + result.cursor.len())?;
        }
        Ok(out)
    }

    /// The provider's templates as a JSON array, where the provider offers a list.
    pub async fn list_templates(&self, ctx: CallContext) -> Result<Result<String, SendError>, PluginError> {
        let out = self
            .call(ctx, |p, s| {
                Box::pin(async move {
                    let index = &p.exports.list_templates;
                    p.call::<(), (Result<String, SendError>,)>(s, index, ()).await.map(|r| r.0)
                })
            })
            .await?;
        if let Ok(json) = &out {
            self.check_output(json.len())?;
        }
        Ok(out)
    }
}

impl StepPlugin {
    /// Inputs, outputs and branches of the step.
    pub async fn describe(&self, ctx: CallContext) -> Result<StepInfo, PluginError> {
        self.call(ctx, |p, s| Box::pin(async move { p.switchboard_plugin_step().call_describe(s).await })).await
    }

    /// Runs the step with JSON context and inputs.
    pub async fn run(
        &self,
        ctx: CallContext,
        context: String,
        inputs: String,
    ) -> Result<Result<StepResult, String>, PluginError> {
        self.check_input(context.len() + inputs.len())?;
        let out = self
            .call(ctx, move |p, s| {
                Box::pin(async move { p.switchboard_plugin_step().call_run(s, &context, &inputs).await })
            })
            .await?;
        if let Ok(result) = &out {
            self.check_output(result.outputs.len())?;
        }
        Ok(out)
    }
}

impl IntegrationPlugin {
    /// Subscriptions and actions.
    pub async fn describe(&self, ctx: CallContext) -> Result<IntegrationInfo, PluginError> {
        self.call(ctx, |p, s| Box::pin(async move { p.switchboard_plugin_integration().call_describe(s).await })).await
    }

    /// Delivers one event (JSON).
    pub async fn on_event(&self, ctx: CallContext, event: String) -> Result<Result<(), String>, PluginError> {
        self.check_input(event.len())?;
        self.call(ctx, move |p, s| {
            Box::pin(async move { p.switchboard_plugin_integration().call_on_event(s, &event).await })
        })
        .await
    }

    /// Runs an action with JSON input; returns JSON output.
    pub async fn run_action(
        &self,
        ctx: CallContext,
        name: String,
        input: String,
    ) -> Result<Result<String, String>, PluginError> {
        self.check_input(input.len())?;
        let out = self
            .call(ctx, move |p, s| {
                Box::pin(async move { p.switchboard_plugin_integration().call_run_action(s, &name, &input).await })
            })
            .await?;
        if let Ok(output) = &out {
            self.check_output(output.len())?;
        }
        Ok(out)
    }
}
