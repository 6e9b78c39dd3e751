//! The offline test harness for plugin authors: loads a built plugin component into the real wasmtime
//! host, with recorded HTTP answers, in-memory key-value storage and a fixed clock, so a plugin's own
//! `cargo test` exercises it against real provider payloads without a network or a server.
//!
//! ```ignore
//! use switchboard_plugin_host::testing::{Harness, Request};
//!
//! #[test]
//! fn parses_a_text_message() {
//!     let h = Harness::build(env!("CARGO_MANIFEST_DIR")).secret("app_secret", "s3cret");
//!     let (events, response) = h.handle_webhook(Request::post(include_bytes!("fixtures/text.json"))).unwrap();
//!     assert_eq!(response.status, 200);
//! }
//! ```
//!
//! Calls panic on host-side failures (a trap, a limit, a bad component), which is what a test wants;
//! the plugin's own errors (`WebhookError`, `SendError`) are returned for the test to assert on.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Arc, Mutex, OnceLock};

use switchboard_plugin_sdk::event::{InboundEvent, OutboundMessage};

use crate::{
    CallContext, ChannelPlugin, EgressPolicy, Grants, HttpRequest, HttpResponse, Info, IntegrationInfo,
    IntegrationPlugin, KvBackend, Limits, Manifest, MemoryKv, OutgoingRequest, PluginEngine, PollError, RecordedHttp,
    RecordedRequest, RecordedResponse, SendError, SentMail, StepInfo, StepPlugin, StepResult, WebhookError,
};

/// The fixed time every harness starts at: 2026-01-01T00:00:00Z, in milliseconds.
pub const DEFAULT_NOW_MS: i64 = 1_767_225_600_000;

/// A plugin loaded in a real host, with everything outside it recorded or in memory.
pub struct Harness {
    runtime: tokio::runtime::Runtime,
    engine: PluginEngine,
    http: Arc<RecordedHttp>,
    kv: Arc<MemoryKv>,
    wasm: Arc<Vec<u8>>,
    manifest: Option<Manifest>,
    ctx: CallContext,
    grants: Grants,
    limits: Limits,
}

impl std::fmt::Debug for Harness {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Harness").field("plugin", &self.ctx.plugin_id).finish_non_exhaustive()
    }
}

impl Harness {
    /// Builds the plugin crate in `crate_dir` (pass `env!("CARGO_MANIFEST_DIR")`) for `wasm32-wasip2` and
    /// loads it, granted what its `plugin.toml` declares (if it has one).
    pub fn build(crate_dir: impl AsRef<Path>) -> Self {
        let dir = crate_dir.as_ref();
        let wasm = build_component(dir);
        let manifest = std::fs::read_to_string(dir.join("plugin.toml"))
            .ok()
            .map(|text| Manifest::parse(&text).unwrap_or_else(|e| panic!("{}/plugin.toml: {e}", dir.display())));
        let mut harness = Self::from_wasm(wasm);
        if let Some(m) = &manifest {
            harness.ctx.plugin_id = m.plugin.id.clone();
            harness.grants = m.effective_grants(None, true, true, true);
        }
        harness.manifest = manifest;
        harness
    }

    /// Loads an already built component, with no grants.
    pub fn from_wasm(wasm: Vec<u8>) -> Self {
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("a tokio runtime");
        let http = Arc::new(RecordedHttp::default());
        let kv = Arc::new(MemoryKv::default());
        let limits = Limits::default();
        let engine = runtime
            .block_on(async { PluginEngine::with_egress(limits.memory_bytes, EgressPolicy::standard()) })
            .expect("a plugin engine")
            .with_recorded_http(http.clone())
            .with_kv(kv.clone());
        // Compiled components are kept on disk by their content, so a plugin is compiled once for all the
        // tests (and test binaries) that load it, not once per test.
        let cache = std::env::temp_dir().join("switchboard-plugin-harness-cache");
        let engine = engine.clone().with_cache_dir(&cache).unwrap_or(engine);
        Self {
            runtime,
            engine,
            http,
            kv,
            wasm: Arc::new(wasm),
            manifest: None,
            ctx: CallContext {
                plugin_id: "plugin-under-test".into(),
                kv_scope: "test".into(),
                config: serde_json::json!({}),
                fixed_now_ms: Some(DEFAULT_NOW_MS),
                ..Default::default()
            },
            grants: Grants { outbound_hosts: Vec::new(), kv: true, mail: true },
            limits,
        }
    }

    /// The plugin's manifest, if it has one.
    pub fn manifest(&self) -> Option<&Manifest> {
        self.manifest.as_ref()
    }

    /// Sets the configuration (a JSON object) the plugin reads with `host::config`.
    pub fn config(mut self, config: serde_json::Value) -> Self {
        self.ctx.config = config;
        self
    }

    /// Sets one secret.
    pub fn secret(mut self, name: &str, value: &str) -> Self {
        self.ctx.secrets.insert(name.to_owned(), value.to_owned());
        self
    }

    /// Fixes the clock the plugin sees.
    pub fn now_ms(mut self, now_ms: i64) -> Self {
        self.ctx.fixed_now_ms = Some(now_ms);
        self
    }

    /// Grants one more host pattern (as an admin would), e.g. `http://fake.provider.test`.
    pub fn grant(mut self, host: &str) -> Self {
        self.grants.outbound_hosts.push(host.to_owned());
        self
    }

    /// Changes the limits of every call.
    pub fn limits(mut self, limits: Limits) -> Self {
        self.limits = limits;
        self
    }

    /// Answers requests with `method` to URLs starting with `url_prefix`; the latest answer added wins.
    pub fn respond(&self, method: &str, url_prefix: &str, status: u16, body: impl Into<Vec<u8>>) -> &Self {
        self.http.add(RecordedResponse {
            method: method.to_owned(),
            url_prefix: url_prefix.to_owned(),
            status,
            headers: vec![("content-type".into(), "application/json".into())],
            body: body.into(),
        });
        self
    }

    /// Every HTTP request the plugin made, in order.
    pub fn requests(&self) -> Vec<RecordedRequest> {
        self.http.requests()
    }

    /// Puts a message in a recorded mailbox (UIDVALIDITY 1) for the plugin's `mail::fetch`.
    pub fn mail_message(&self, mailbox: &str, uid: u32, raw: impl Into<Vec<u8>>) -> &Self {
        self.http.add_mail(mailbox, uid, raw.into());
        self
    }

    /// Every message the plugin sent with `mail::send`, in order.
    pub fn mail_sent(&self) -> Vec<SentMail> {
        self.http.sent_mail()
    }

    /// Every message the plugin added with `mail::append`, as (mailbox, message), in order.
    pub fn mail_appended(&self) -> Vec<(String, Vec<u8>)> {
        self.http.appended_mail()
    }

    /// A polling channel's `poll`: the events, the new cursor and whether more is waiting.
    pub fn poll(&self, cursor: &str) -> Result<(Vec<InboundEvent>, String, bool), PollError> {
        let p = self.channel_plugin();
        assert!(p.polls(), "the plugin does not export `poller`");
        let result = self.runtime.block_on(p.poll(self.ctx.clone(), cursor.to_owned())).expect("poll ran")?;
        let events = serde_json::from_str(&result.events).expect("events are a JSON array of InboundEvent");
        Ok((events, result.cursor, result.more))
    }

    /// A value the plugin stored.
    pub fn kv_get(&self, key: &str) -> Option<Vec<u8>> {
        self.runtime.block_on(self.kv.get(&self.ctx.kv_scope, key)).expect("in-memory kv")
    }

    /// Stores a value as if the plugin had stored it earlier.
    pub fn kv_set(&self, key: &str, value: &[u8]) {
        self.runtime.block_on(self.kv.set(&self.ctx.kv_scope, key, value)).expect("in-memory kv");
    }

    fn channel_plugin(&self) -> ChannelPlugin {
        let id = self.ctx.plugin_id.clone();
        self.engine
            .load_channel(&id, self.wasm.as_slice(), self.limits)
            .unwrap_or_else(|e| panic!("loading {id} as a channel: {e}"))
            .with_grants(self.grants.clone())
    }

    fn step_plugin(&self) -> StepPlugin {
        let id = self.ctx.plugin_id.clone();
        self.engine
            .load_step(&id, self.wasm.as_slice(), self.limits)
            .unwrap_or_else(|e| panic!("loading {id} as a step: {e}"))
            .with_grants(self.grants.clone())
    }

    fn integration_plugin(&self) -> IntegrationPlugin {
        let id = self.ctx.plugin_id.clone();
        self.engine
            .load_integration(&id, self.wasm.as_slice(), self.limits)
            .unwrap_or_else(|e| panic!("loading {id} as an integration: {e}"))
            .with_grants(self.grants.clone())
    }

    /// A channel's description of itself.
    pub fn describe_channel(&self) -> Info {
        let p = self.channel_plugin();
        self.runtime.block_on(p.describe(self.ctx.clone())).expect("describe")
    }

    /// A verification handshake.
    pub fn verify(&self, request: HttpRequest) -> Result<Option<HttpResponse>, WebhookError> {
        let p = self.channel_plugin();
        self.runtime.block_on(p.verify(self.ctx.clone(), request)).expect("verify ran")
    }

    /// A webhook delivery: the normalised events and the answer for the provider.
    pub fn handle_webhook(&self, request: HttpRequest) -> Result<(Vec<InboundEvent>, HttpResponse), WebhookError> {
        let p = self.channel_plugin();
        let result = self.runtime.block_on(p.handle_webhook(self.ctx.clone(), request)).expect("handle_webhook ran")?;
        let events: Vec<InboundEvent> = serde_json::from_str(&result.events)
            .unwrap_or_else(|e| panic!("the plugin returned events that are not InboundEvent JSON: {e}"));
        Ok((events, result.response))
    }

    /// Sends one message; the provider's id on success.
    pub fn send(&self, message: &OutboundMessage) -> Result<String, SendError> {
        let p = self.channel_plugin();
        let json = serde_json::to_string(message).expect("a message serialises");
        self.runtime.block_on(p.send(self.ctx.clone(), json)).expect("send ran")
    }

    /// The provider's templates, as the plugin lists them.
    pub fn list_templates(&self) -> Result<serde_json::Value, SendError> {
        let p = self.channel_plugin();
        let json = self.runtime.block_on(p.list_templates(self.ctx.clone())).expect("list_templates ran")?;
        Ok(serde_json::from_str(&json).unwrap_or_else(|e| panic!("templates are not JSON: {e}")))
    }

    /// Registers the webhook URL at the provider.
    pub fn connect(&self, webhook_url: &str) -> Result<(), SendError> {
        let p = self.channel_plugin();
        self.runtime.block_on(p.connect(self.ctx.clone(), webhook_url.to_owned())).expect("connect ran")
    }

    /// Undoes `connect`.
    pub fn disconnect(&self) -> Result<(), SendError> {
        let p = self.channel_plugin();
        self.runtime.block_on(p.disconnect(self.ctx.clone())).expect("disconnect ran")
    }

    /// The request the host would make to download a media item.
    pub fn media_request(&self, reference: &str) -> Result<OutgoingRequest, SendError> {
        let p = self.channel_plugin();
        self.runtime.block_on(p.media_request(self.ctx.clone(), reference.to_owned())).expect("media_request ran")
    }

    /// A step's description of itself.
    pub fn describe_step(&self) -> StepInfo {
        let p = self.step_plugin();
        self.runtime.block_on(p.describe(self.ctx.clone())).expect("describe")
    }

    /// Runs a step with a context and inputs (JSON).
    pub fn run_step(&self, context: serde_json::Value, inputs: serde_json::Value) -> Result<StepResult, String> {
        let p = self.step_plugin();
        self.runtime.block_on(p.run(self.ctx.clone(), context.to_string(), inputs.to_string())).expect("run ran")
    }

    /// An integration's description of itself.
    pub fn describe_integration(&self) -> IntegrationInfo {
        let p = self.integration_plugin();
        self.runtime.block_on(p.describe(self.ctx.clone())).expect("describe")
    }

    /// Delivers one event to an integration.
    pub fn on_event(&self, event: serde_json::Value) -> Result<(), String> {
        let p = self.integration_plugin();
        self.runtime.block_on(p.on_event(self.ctx.clone(), event.to_string())).expect("on_event ran")
    }

    /// Runs an integration's action.
    pub fn run_action(&self, name: &str, input: serde_json::Value) -> Result<serde_json::Value, String> {
        let p = self.integration_plugin();
        let out = self
            .runtime
            .block_on(p.run_action(self.ctx.clone(), name.to_owned(), input.to_string()))
            .expect("run_action ran")?;
        Ok(serde_json::from_str(&out).unwrap_or(serde_json::Value::String(out)))
    }
}

/// Builds requests as a provider would send them.
#[derive(Debug, Clone)]
pub struct Request(HttpRequest);

impl Request {
    /// A `POST /webhooks/test` with this body.
    pub fn post(body: impl Into<Vec<u8>>) -> Self {
        Self(HttpRequest {
            method: "POST".into(),
            path: "/webhooks/test".into(),
            query: String::new(),
            headers: vec![("content-type".into(), "application/json".into())],
            body: body.into(),
        })
    }

    /// A `GET /webhooks/test?{query}` (verification handshakes).
    pub fn get(query: &str) -> Self {
        Self(HttpRequest {
            method: "GET".into(),
            path: "/webhooks/test".into(),
            query: query.to_owned(),
            headers: Vec::new(),
            body: Vec::new(),
        })
    }

    /// Adds a header (names are lower-cased, as the server passes them).
    pub fn header(mut self, name: &str, value: &str) -> Self {
        self.0.headers.push((name.to_ascii_lowercase(), value.to_owned()));
        self
    }

    /// Sets the raw query string.
    pub fn query(mut self, query: &str) -> Self {
        self.0.query = query.to_owned();
        self
    }
}

impl From<Request> for HttpRequest {
    fn from(r: Request) -> Self {
        r.0
    }
}

/// Builds the plugin crate at `dir` for `wasm32-wasip2` (release) and returns the component's bytes.
/// Builds are serialised within a process; the target is added when rustup lacks it.
pub fn build_component(dir: &Path) -> Vec<u8> {
    build_component_with(dir, &[])
}

/// Like [`build_component`], with cargo features of the plugin crate turned on.
pub fn build_component_with(dir: &Path, features: &[&str]) -> Vec<u8> {
    // Built once per test process and plugin: the sources do not change while the tests run, and every
    // cargo invocation costs a second or more even when there is nothing to rebuild.
    type Built = std::collections::HashMap<(PathBuf, Vec<String>), Vec<u8>>;
    static BUILT: Mutex<Option<Built>> = Mutex::new(None);
    let key = (dir.to_path_buf(), features.iter().map(|f| (*f).to_owned()).collect::<Vec<_>>());
    let mut built = BUILT.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
    if let Some(wasm) = built.as_ref().and_then(|b| b.get(&key)) {
        return wasm.clone();
    }
    let wasm = build_uncached(dir, features);
    built.get_or_insert_with(Default::default).insert(key, wasm.clone());
    wasm
}

fn build_uncached(dir: &Path, features: &[&str]) -> Vec<u8> {
    ensure_wasm_target();
    let manifest = dir.join("Cargo.toml");
    let text = std::fs::read_to_string(&manifest).unwrap_or_else(|e| panic!("{}: {e}", manifest.display()));
    let package: toml::Table = toml::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", manifest.display()));
    let name = package
        .get("package")
        .and_then(|p| p.get("name"))
        .and_then(|n| n.as_str())
        .unwrap_or_else(|| panic!("{} has no package.name", manifest.display()))
        .to_owned();
    let target_dir = target_dir(dir);
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let status = Command::new(cargo)
        .args(["build", "--quiet", "--release", "--target", "wasm32-wasip2", "--manifest-path"])
        .arg(&manifest)
        .arg("--target-dir")
        .arg(&target_dir)
        .args(if features.is_empty() { Vec::new() } else { vec!["--features".to_owned(), features.join(",")] })
        .env_remove("RUSTFLAGS")
        .env_remove("CARGO_ENCODED_RUSTFLAGS")
        .env_remove("RUSTC_WORKSPACE_WRAPPER")
        .status()
        .expect("run cargo to build the plugin");
    assert!(status.success(), "building {name} for wasm32-wasip2 failed (see above)");
    let file = target_dir.join("wasm32-wasip2/release").join(format!("{}.wasm", name.replace('-', "_")));
    std::fs::read(&file).unwrap_or_else(|e| panic!("read {}: {e}", file.display()))
}

/// The directory of the plugin crate whose test file `file` (`file!()` of that test) is, found from
/// `manifest_dir` (the `CARGO_MANIFEST_DIR` the test was compiled in) and its parents. The same test file
/// compiles in the plugin's own workspace and, as a test target of the server's test crate, in the main
/// workspace (where CI runs it, sharing the host's native build); `env!("CARGO_MANIFEST_DIR")` would name
/// the server's test crate there. Use it through [`plugin_dir!`](crate::plugin_dir).
pub fn plugin_dir_of(file: &str, manifest_dir: &str) -> PathBuf {
    let file = Path::new(file);
    let found = Path::new(manifest_dir).ancestors().map(|root| root.join(file)).find(|candidate| candidate.is_file());
    let Some(found) = found else { return PathBuf::from(manifest_dir) };
    found
        .ancestors()
        .skip(1)
        .find(|dir| dir.join("Cargo.toml").is_file())
        .map_or_else(|| PathBuf::from(manifest_dir), Path::to_path_buf)
}

/// The directory of the plugin crate the calling test file belongs to (see [`plugin_dir_of`]).
#[macro_export]
macro_rules! plugin_dir {
    () => {
        $crate::testing::plugin_dir_of(file!(), env!("CARGO_MANIFEST_DIR"))
    };
}

/// The harness's own target directory inside the plugin workspace's, so it never waits on the lock of the
/// `cargo test` that is running it.
fn target_dir(crate_dir: &Path) -> PathBuf {
    static DIR: OnceLock<Mutex<std::collections::HashMap<PathBuf, PathBuf>>> = OnceLock::new();
    let cache = DIR.get_or_init(Default::default);
    if let Some(dir) = cache.lock().ok().and_then(|m| m.get(crate_dir).cloned()) {
        return dir;
    }
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let output = Command::new(cargo)
        .args(["metadata", "--format-version", "1", "--no-deps", "--manifest-path"])
        .arg(crate_dir.join("Cargo.toml"))
        .output()
        .expect("run cargo metadata");
    let meta: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap_or_default();
    let base = meta["target_directory"].as_str().map(PathBuf::from).unwrap_or_else(|| crate_dir.join("target"));
    // The directory `server/build.rs` bundles the first-party plugins from, so those builds are shared.
    let dir = base.join("wasm-plugins");
    if let Ok(mut m) = cache.lock() {
        m.insert(crate_dir.to_path_buf(), dir.clone());
    }
    dir
}

/// Adds the `wasm32-wasip2` target when it is missing (some machines do not let rustup add it on demand).
pub fn ensure_wasm_target() {
    let installed = Command::new("rustup")
        .args(["target", "list", "--installed"])
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).lines().any(|l| l.trim() == "wasm32-wasip2"))
        .unwrap_or(true);
    if !installed {
        let _ = Command::new("rustup").args(["target", "add", "wasm32-wasip2"]).status();
    }
}
