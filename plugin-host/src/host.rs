//! The host imports every plugin sees, and the per-call state behind them. Each import counts against
//! the call's host-call budget; configuration and secrets are those of the calling plugin only.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};

use wasmtime::StoreLimits;
use wasmtime::component::ResourceTable;
use wasmtime_wasi::{WasiCtx, WasiCtxView, WasiView};

use super::bindings::channel::switchboard::plugin::{clock, config, http, kv, log, types};
use super::egress::{Egress, EgressError, Grants, OutboundRequest};
use super::limits::Limits;
use super::recorded::RecordedHttp;

/// What the host knows about the call: whose it is and what that plugin may see.
#[derive(Debug, Clone, Default)]
pub struct CallContext {
    /// The plugin's id (for logs and metrics).
    pub plugin_id: String,
    /// Key-value scope: the plugin and, for channels, the channel instance.
    pub kv_scope: String,
    /// Non-secret configuration, a JSON object.
    pub config: serde_json::Value,
    /// Secrets the plugin may read.
    pub secrets: BTreeMap<String, String>,
    /// A fixed clock (tests and the SDK harness); `None` is the real clock.
    pub fixed_now_ms: Option<i64>,
}

/// Where the `kv` host interface keeps values, partitioned by scope.
#[async_trait::async_trait]
pub trait KvBackend: Send + Sync {
    async fn get(&self, scope: &str, key: &str) -> Result<Option<Vec<u8>>, String>;
    async fn set(&self, scope: &str, key: &str, value: &[u8]) -> Result<(), String>;
    async fn delete(&self, scope: &str, key: &str) -> Result<(), String>;
}

/// Values kept in the process: for `plugin check`, the test harness and tests. The server keeps them in
/// its database instead.
#[derive(Debug, Default)]
pub struct MemoryKv {
    inner: Mutex<HashMap<(String, String), Vec<u8>>>,
}

#[async_trait::async_trait]
impl KvBackend for MemoryKv {
    async fn get(&self, scope: &str, key: &str) -> Result<Option<Vec<u8>>, String> {
        let map = self.inner.lock().map_err(|_| "kv lock poisoned".to_owned())?;
        Ok(map.get(&(scope.to_owned(), key.to_owned())).cloned())
    }
    async fn set(&self, scope: &str, key: &str, value: &[u8]) -> Result<(), String> {
        let mut map = self.inner.lock().map_err(|_| "kv lock poisoned".to_owned())?;
        map.insert((scope.to_owned(), key.to_owned()), value.to_vec());
        Ok(())
    }
    async fn delete(&self, scope: &str, key: &str) -> Result<(), String> {
        let mut map = self.inner.lock().map_err(|_| "kv lock poisoned".to_owned())?;
        map.remove(&(scope.to_owned(), key.to_owned()));
        Ok(())
    }
}

/// The KV backend shared by every call.
pub type KvSpace = Arc<dyn KvBackend>;

/// The `T` of every plugin `Store`.
pub struct PluginState {
    pub(super) wasi: WasiCtx,
    pub(super) table: ResourceTable,
    pub(super) limits: StoreLimits,
    pub(super) call: CallContext,
    pub(super) kv: KvSpace,
    pub(super) budget: Limits,
    pub(super) host_calls: u32,
    /// Why the call was stopped by a host-side limit, if it was.
    pub(super) host_limit_hit: Option<String>,
    pub(crate) net: Net,
}

/// Outbound HTTP as one plugin may use it.
#[derive(Clone)]
pub(crate) struct Net {
    pub transport: Transport,
    pub grants: Arc<Grants>,
    /// Caps the plugin's requests in flight across all its concurrent calls.
    pub inflight: Arc<tokio::sync::Semaphore>,
}

/// Where a plugin's requests go: the network (through the egress policy), or recorded answers (the
/// offline test harness). Grants are checked the same way on both.
#[derive(Clone)]
pub(crate) enum Transport {
    Live(Egress),
    Recorded(Arc<RecordedHttp>),
}

impl PluginState {
    pub(super) fn new(call: CallContext, kv: KvSpace, budget: Limits, net: Net) -> Self {
        let mut table = ResourceTable::new();
        table.set_max_capacity(budget.table_entries);
        // No environment, arguments, preopened directories, sockets or name lookups.
        let wasi = WasiCtx::builder()
            .allow_tcp(false)
            .allow_udp(false)
            .allow_ip_name_lookup(false)
            .max_random_size(64 * 1024)
            .build();
        let limits = wasmtime::StoreLimitsBuilder::new()
            .memory_size(budget.memory_bytes)
            .table_elements(100_000)
            .instances(16)
            .tables(16)
            .memories(4)
            .trap_on_grow_failure(true)
            .build();
        Self { wasi, table, limits, call, kv, budget, host_calls: 0, host_limit_hit: None, net }
    }

    /// Counts one host call; past the budget the call traps.
    pub(crate) fn charge(&mut self) -> wasmtime::Result<()> {
        self.host_calls += 1;
        if self.host_calls > self.budget.host_calls {
            let why = format!("more than {} host calls", self.budget.host_calls);
            self.host_limit_hit = Some(why.clone());
            return Err(wasmtime::format_err!("host call limit: {why}"));
        }
        Ok(())
    }
}

impl WasiView for PluginState {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView { ctx: &mut self.wasi, table: &mut self.table }
    }
}

impl types::Host for PluginState {}

impl log::Host for PluginState {
    async fn log(&mut self, level: log::Level, message: String, fields: Vec<(String, String)>) -> wasmtime::Result<()> {
        self.charge()?;
        let mut message = message;
        if message.len() > self.budget.log_bytes {
            let mut cut = self.budget.log_bytes;
            while !message.is_char_boundary(cut) {
                cut -= 1;
            }
            message.truncate(cut);
            message.push('…');
        }
        let fields = fields.iter().take(16).map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join(" ");
        let plugin = self.call.plugin_id.as_str();
        match level {
            log::Level::Trace => tracing::trace!(plugin, fields, "{message}"),
            log::Level::Debug => tracing::debug!(plugin, fields, "{message}"),
            log::Level::Info => tracing::info!(plugin, fields, "{message}"),
            log::Level::Warn => tracing::warn!(plugin, fields, "{message}"),
            log::Level::Error => tracing::error!(plugin, fields, "{message}"),
        }
        Ok(())
    }
}

impl PluginState {
    fn kv_allowed(&self) -> Result<(), String> {
        if self.net.grants.kv { Ok(()) } else { Err("key-value storage is not granted to this plugin".into()) }
    }
}

impl kv::Host for PluginState {
    async fn get(&mut self, key: String) -> wasmtime::Result<Result<Option<Vec<u8>>, String>> {
        self.charge()?;
        if let Err(why) = self.kv_allowed() {
            return Ok(Err(why));
        }
        Ok(self.kv.get(&self.call.kv_scope, &key).await)
    }

    async fn set(&mut self, key: String, value: Vec<u8>) -> wasmtime::Result<Result<(), String>> {
        self.charge()?;
        if let Err(why) = self.kv_allowed() {
            return Ok(Err(why));
        }
        if key.len() > 512 || value.len() > 1 << 20 {
            return Ok(Err("keys are at most 512 bytes and values at most 1 MiB".into()));
        }
        Ok(self.kv.set(&self.call.kv_scope, &key, &value).await)
    }

    async fn delete(&mut self, key: String) -> wasmtime::Result<Result<(), String>> {
        self.charge()?;
        if let Err(why) = self.kv_allowed() {
            return Ok(Err(why));
        }
        Ok(self.kv.delete(&self.call.kv_scope, &key).await)
    }
}

impl config::Host for PluginState {
    async fn get(&mut self, key: String) -> wasmtime::Result<Option<String>> {
        self.charge()?;
        Ok(self.call.config.get(&key).map(ToString::to_string))
    }

    async fn all(&mut self) -> wasmtime::Result<String> {
        self.charge()?;
        Ok(self.call.config.to_string())
    }

    async fn secret(&mut self, name: String) -> wasmtime::Result<Option<String>> {
        self.charge()?;
        Ok(self.call.secrets.get(&name).cloned())
    }
}

impl http::Host for PluginState {
    async fn fetch(
        &mut self,
        request: http::OutgoingRequest,
    ) -> wasmtime::Result<Result<types::HttpResponse, http::HttpError>> {
        self.charge()?;
        let Ok(_permit) = self.net.inflight.clone().try_acquire_owned() else {
            return Ok(Err(http::HttpError::Limited("too many requests in flight for this plugin".into())));
        };
        let outbound = OutboundRequest {
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
        let outcome = match &result {
            Ok(_) => "ok",
            Err(EgressError::Denied(_)) => "denied",
            Err(_) => "error",
        };
        metrics::counter!("switchboard_plugin_http_requests_total", "plugin" => self.call.plugin_id.clone(), "outcome" => outcome)
            .increment(1);
        Ok(match result {
            Ok(r) => Ok(types::HttpResponse { status: r.status, headers: r.headers, body: r.body }),
            Err(EgressError::Denied(why)) => Err(http::HttpError::Denied(why)),
            Err(EgressError::Invalid(why)) => Err(http::HttpError::InvalidRequest(why)),
            Err(EgressError::Timeout) => Err(http::HttpError::Timeout),
            Err(EgressError::Connection(why)) => Err(http::HttpError::Connection(why)),
            Err(EgressError::TooLarge) => Err(http::HttpError::TooLarge),
        })
    }
}

impl clock::Host for PluginState {
    async fn now_ms(&mut self) -> wasmtime::Result<i64> {
        self.charge()?;
        Ok(self.call.fixed_now_ms.unwrap_or_else(|| chrono::Utc::now().timestamp_millis()))
    }
}
