//! The plugin registry: every plugin the server knows (bundled in the binary, or installed as a `.wasm`
//! and `plugin.toml` in the plugins directory), loaded under the admin's settings, and reloadable without
//! a restart. A reload swaps in a new entry; calls already running hold the old one and finish on it.

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};

use chrono::{DateTime, Utc};
use serde::Serialize;
use switchboard_plugin_host::manifest::{Manifest, World};
use switchboard_plugin_host::{
    CallContext, ChannelPlugin, Grants, Info, IntegrationInfo, IntegrationPlugin, Limits, PluginEngine, StepInfo,
    StepPlugin, Wasm,
};

use crate::config::{Config, PluginsConfig};

/// A plugin compiled into the binary (see `server/build.rs`).
#[derive(Debug, Clone, Copy)]
pub struct Bundled {
    pub manifest: &'static str,
    pub wasm: &'static [u8],
    /// SHA-256 of `wasm`, computed by the build script.
    pub sha256: [u8; 32],
}

/// The first-party plugins built from `plugins/` when the server was compiled.
pub fn bundled() -> &'static [Bundled] {
    include!(concat!(env!("OUT_DIR"), "/bundled_plugins.rs"))
}

/// Where a plugin came from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Source {
    Bundled,
    Installed { path: PathBuf },
}

/// Whether a plugin can be called.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum PluginStatus {
    Ready,
    Disabled,
    /// It could not be loaded; the entry's `error` says why.
    Failed,
}

/// A loaded plugin of one of the three worlds, with its own description of itself.
#[derive(Clone)]
pub enum LoadedPlugin {
    Channel(ChannelPlugin, Box<Info>),
    Step(StepPlugin, Box<StepInfo>),
    Integration(IntegrationPlugin, Box<IntegrationInfo>),
}

/// One plugin as the registry holds it: immutable, replaced as a whole on reload.
#[derive(Clone)]
pub struct PluginEntry {
    pub id: String,
    pub manifest: Option<Manifest>,
    pub source: Source,
    /// SHA-256 of the component, hex.
    pub sha256: String,
    pub size_bytes: usize,
    pub status: PluginStatus,
    pub error: Option<String>,
    pub grants: Grants,
    pub limits: Limits,
    pub loaded_at: DateTime<Utc>,
    pub loaded: Option<LoadedPlugin>,
    /// Off because an owner switched it off through the API (not because of the configuration).
    pub switched_off: bool,
}

impl std::fmt::Debug for PluginEntry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PluginEntry").field("id", &self.id).field("status", &self.status).finish_non_exhaustive()
    }
}

impl PluginEntry {
    pub fn world(&self) -> Option<World> {
        self.manifest.as_ref().map(|m| m.plugin.world)
    }

    /// The channel plugin, if this entry is a ready channel.
    pub fn channel(&self) -> Option<&ChannelPlugin> {
        match &self.loaded {
            Some(LoadedPlugin::Channel(p, _)) if self.status == PluginStatus::Ready => Some(p),
            _ => None,
        }
    }

    /// The channel's own description (capabilities, messaging window), if it is a loaded channel.
    pub fn channel_info(&self) -> Option<&Info> {
        match &self.loaded {
            Some(LoadedPlugin::Channel(_, info)) => Some(info),
            _ => None,
        }
    }

    /// The step plugin, if this entry is a ready step.
    pub fn step(&self) -> Option<&StepPlugin> {
        match &self.loaded {
            Some(LoadedPlugin::Step(p, _)) if self.status == PluginStatus::Ready => Some(p),
            _ => None,
        }
    }

    /// The step's own description (inputs, outputs, branches), if it is a ready step.
    pub fn step_info(&self) -> Option<&StepInfo> {
        match &self.loaded {
            Some(LoadedPlugin::Step(_, info)) if self.status == PluginStatus::Ready => Some(info),
            _ => None,
        }
    }

    /// The integration plugin, if this entry is a ready integration.
    pub fn integration(&self) -> Option<&IntegrationPlugin> {
        match &self.loaded {
            Some(LoadedPlugin::Integration(p, _)) if self.status == PluginStatus::Ready => Some(p),
            _ => None,
        }
    }
}

/// A plugin's component as found: a bundled one's bytes stay in the binary, untouched until they must be
/// compiled.
struct FoundWasm {
    bytes: Cow<'static, [u8]>,
    sha256: [u8; 32],
}

/// A plugin found on disk or in the binary, not yet loaded.
struct Found {
    source: Source,
    manifest: Result<Manifest, String>,
    wasm: Result<FoundWasm, String>,
    /// The id to file the entry under (the manifest's, or the directory's name when the manifest is bad).
    id: String,
}

/// Why a reload did not happen.
#[derive(Debug, thiserror::Error)]
pub enum ReloadError {
    #[error("no plugin `{0}` is bundled or installed")]
    NotFound(String),
    #[error("{0}")]
    Config(String),
}

/// Every plugin the server knows, by id.
pub struct PluginRegistry {
    engine: PluginEngine,
    dir: PathBuf,
    config_file: Option<PathBuf>,
    bundled: &'static [Bundled],
    settings: RwLock<Arc<PluginsConfig>>,
    entries: RwLock<BTreeMap<String, Arc<PluginEntry>>>,
    /// One reload at a time, so two admins reloading cannot interleave their swaps.
    reloading: tokio::sync::Mutex<()>,
    /// Set once the first load finished (readiness).
    loaded: std::sync::atomic::AtomicBool,
    /// Plugins owners switched off through the API (kept in the database; see `service::plugins::switch`).
    switched_off: RwLock<std::collections::HashSet<String>>,
}

impl std::fmt::Debug for PluginRegistry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PluginRegistry").field("dir", &self.dir).finish_non_exhaustive()
    }
}

impl PluginRegistry {
    /// A registry for `config`, with the bundled plugins and those installed in its plugins directory.
    /// Nothing is loaded until [`PluginRegistry::load_all`].
    pub fn new(config: &Config, engine: PluginEngine) -> Self {
        Self::with_bundled(config, engine, bundled())
    }

    /// Like [`PluginRegistry::new`] with a given set of bundled plugins (tests use none).
    pub fn with_bundled(config: &Config, engine: PluginEngine, bundled: &'static [Bundled]) -> Self {
        Self {
            engine,
            dir: config.plugins_dir(),
            config_file: config.source_file.clone(),
            bundled,
            settings: RwLock::new(Arc::new(config.plugins.clone())),
            entries: RwLock::default(),
            reloading: tokio::sync::Mutex::new(()),
            loaded: std::sync::atomic::AtomicBool::new(false),
            switched_off: RwLock::default(),
        }
    }

    /// The plugins owners switched off; they load as `Disabled` from the next load or reload on.
    /// Refuses plugins' requests to the server's own address (`host`, port): see `Egress::block_origin`.
    pub fn block_origin(&self, host: &str, port: u16) {
        self.engine.block_origin(host, port);
    }

    pub fn set_switched_off(&self, ids: std::collections::HashSet<String>) {
        if let Ok(mut set) = self.switched_off.write() {
            *set = ids;
        }
    }

    fn is_switched_off(&self, id: &str) -> bool {
        self.switched_off.read().is_ok_and(|set| set.contains(id))
    }

    /// Whether the first load has finished.
    pub fn is_loaded(&self) -> bool {
        self.loaded.load(std::sync::atomic::Ordering::Acquire)
    }

    /// The directory installed plugins are read from.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Every plugin, by id.
    pub fn list(&self) -> Vec<Arc<PluginEntry>> {
        self.entries.read().map(|m| m.values().cloned().collect()).unwrap_or_default()
    }

    /// One plugin.
    pub fn get(&self, id: &str) -> Option<Arc<PluginEntry>> {
        self.entries.read().ok().and_then(|m| m.get(id).cloned())
    }

    /// The ready channel plugin `id`.
    pub fn channel(&self, id: &str) -> Option<ChannelPlugin> {
        self.get(id).and_then(|e| e.channel().cloned())
    }

    /// Loads every bundled and installed plugin, replacing what was loaded before.
    pub async fn load_all(&self) -> Vec<Arc<PluginEntry>> {
        let _one = self.reloading.lock().await;
        let settings = self.current_settings();
        let mut next = BTreeMap::new();
        for found in self.discover() {
            let entry = Arc::new(self.load(found, &settings).await);
            if next.contains_key(&entry.id) {
                tracing::error!(plugin = %entry.id, "two plugins share this id; keeping the first");
                continue;
            }
            next.insert(entry.id.clone(), entry);
        }
        let list: Vec<_> = next.values().cloned().collect();
        if let Ok(mut map) = self.entries.write() {
            *map = next;
        }
        self.loaded.store(true, std::sync::atomic::Ordering::Release);
        list
    }

    /// Re-reads the configuration file and reloads every plugin.
    pub async fn reload_all(&self) -> Result<Vec<Arc<PluginEntry>>, ReloadError> {
        self.reread_settings()?;
        Ok(self.load_all().await)
    }

    /// Re-reads the configuration file and plugin `id`'s files and swaps the new version in. Calls in
    /// flight keep the version they started with.
    pub async fn reload(&self, id: &str) -> Result<Arc<PluginEntry>, ReloadError> {
        self.reread_settings()?;
        let _one = self.reloading.lock().await;
        let settings = self.current_settings();
        let Some(found) = self.discover().into_iter().find(|f| f.id == id) else {
            // Uninstalled since the last load: forget it.
            if let Ok(mut map) = self.entries.write() {
                map.remove(id);
            }
            return Err(ReloadError::NotFound(id.to_owned()));
        };
        let entry = Arc::new(self.load(found, &settings).await);
        if let Ok(mut map) = self.entries.write() {
            map.insert(entry.id.clone(), entry.clone());
        }
        tracing::info!(plugin = id, sha256 = %entry.sha256, status = ?entry.status, "reloaded plugin");
        Ok(entry)
    }

    fn current_settings(&self) -> Arc<PluginsConfig> {
        self.settings.read().map(|s| s.clone()).unwrap_or_default()
    }

    /// Takes the `[plugins]` section from the configuration file again, if the server was started with one.
    fn reread_settings(&self) -> Result<(), ReloadError> {
        let Some(file) = &self.config_file else { return Ok(()) };
        let config = Config::load(Some(file)).map_err(|e| ReloadError::Config(e.to_string()))?;
        if let Ok(mut s) = self.settings.write() {
            *s = Arc::new(config.plugins);
        }
        Ok(())
    }

    /// Bundled plugins first, then one per sub-directory of the plugins directory that holds a
    /// `plugin.toml`.
    fn discover(&self) -> Vec<Found> {
        let mut found: Vec<Found> = self
            .bundled
            .iter()
            .map(|b| {
                let manifest = Manifest::parse(b.manifest);
                let id = manifest.as_ref().map(|m| m.plugin.id.clone()).unwrap_or_else(|_| "bundled".into());
                let wasm = FoundWasm { bytes: Cow::Borrowed(b.wasm), sha256: b.sha256 };
                Found { source: Source::Bundled, manifest, wasm: Ok(wasm), id }
            })
            .collect();
        let Ok(read) = std::fs::read_dir(&self.dir) else { return found };
        let mut dirs: Vec<PathBuf> = read.filter_map(|e| e.ok().map(|e| e.path())).filter(|p| p.is_dir()).collect();
        dirs.sort();
        for dir in dirs {
            let manifest_path = dir.join("plugin.toml");
            if !manifest_path.is_file() {
                continue;
            }
            let manifest = std::fs::read_to_string(&manifest_path)
                .map_err(|e| format!("cannot read {}: {e}", manifest_path.display()))
                .and_then(|text| Manifest::parse(&text).map_err(|e| format!("{}: {e}", manifest_path.display())));
            let wasm = match &manifest {
                Ok(m) => {
                    let file = dir.join(m.wasm_file());
                    std::fs::read(&file)
                        .map(|bytes| {
                            let sha256 = Wasm::new(&bytes).sha256();
                            FoundWasm { bytes: Cow::Owned(bytes), sha256 }
                        })
                        .map_err(|e| format!("cannot read {}: {e}", file.display()))
                }
                Err(e) => Err(e.clone()),
            };
            let id = match &manifest {
                Ok(m) => m.plugin.id.clone(),
                Err(_) => dir.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default(),
            };
            found.push(Found { source: Source::Installed { path: dir }, manifest, wasm, id });
        }
        found
    }

    /// Compiles and checks one plugin under the admin's settings; failures become a `Failed` entry.
    async fn load(&self, found: Found, settings: &PluginsConfig) -> PluginEntry {
        let admin = settings.settings_for(&found.id);
        let limits = admin.limits.apply(settings.limits);
        let (sha256, size_bytes) = match &found.wasm {
            Ok(wasm) => (hex::encode(wasm.sha256), wasm.bytes.len()),
            Err(_) => (String::new(), 0),
        };
        let trusted = found.source == Source::Bundled;
        let grants = match &found.manifest {
            Ok(m) => m.effective_grants(admin.outbound_hosts.as_deref(), admin.kv, admin.mail, trusted),
            Err(_) => Grants::default(),
        };
        let mut entry = PluginEntry {
            id: found.id.clone(),
            manifest: found.manifest.as_ref().ok().cloned(),
            source: found.source,
            sha256,
            size_bytes,
            status: PluginStatus::Failed,
            error: None,
            grants: grants.clone(),
            limits,
            loaded_at: Utc::now(),
            loaded: None,
            switched_off: self.is_switched_off(&found.id),
        };
        let (manifest, wasm) = match (found.manifest, found.wasm) {
            (Ok(m), Ok(w)) => (m, w),
            (Err(e), _) | (_, Err(e)) => {
                tracing::error!(plugin = %entry.id, error = %e, "cannot load plugin");
                entry.error = Some(e);
                return entry;
            }
        };
        if !admin.enabled || entry.switched_off {
            entry.status = PluginStatus::Disabled;
            return entry;
        }
        match self.instantiate(&manifest, wasm, limits, grants).await {
            Ok(loaded) => {
                entry.status = PluginStatus::Ready;
                entry.loaded = Some(loaded);
            }
            Err(e) => {
                tracing::error!(plugin = %entry.id, error = %e, "cannot load plugin");
                metrics::counter!("switchboard_plugin_load_failures_total", "plugin" => entry.id.clone()).increment(1);
                entry.error = Some(e);
            }
        }
        entry
    }

    /// Compiles off the async executor, then checks that the component is the world its manifest names
    /// and describes itself with the manifest's id.
    async fn instantiate(
        &self,
        manifest: &Manifest,
        wasm: FoundWasm,
        limits: Limits,
        grants: Grants,
    ) -> Result<LoadedPlugin, String> {
        let id = manifest.plugin.id.clone();
        let world = manifest.plugin.world;
        let engine = self.engine.clone();
        let ctx = CallContext { plugin_id: id.clone(), kv_scope: format!("describe:{id}"), ..Default::default() };
        let compiled = tokio::task::spawn_blocking(move || -> Result<Compiled, String> {
            let e = |err: switchboard_plugin_host::PluginError| err.to_string();
            let wasm = Wasm::with_sha256(&wasm.bytes, wasm.sha256);
            Ok(match world {
                World::Channel => {
                    Compiled::Channel(engine.load_channel(&id, wasm, limits).map_err(e)?.with_grants(grants))
                }
                World::Step => Compiled::Step(engine.load_step(&id, wasm, limits).map_err(e)?.with_grants(grants)),
                World::Integration => {
                    Compiled::Integration(engine.load_integration(&id, wasm, limits).map_err(e)?.with_grants(grants))
                }
            })
        })
        .await
        .map_err(|e| format!("loading task failed: {e}"))??;
        let want = &manifest.plugin.id;
        let mismatch = |got: &str| format!("the manifest says `{want}` but the component describes itself as `{got}`");
        Ok(match compiled {
            Compiled::Channel(p) => {
                let info = p.describe(ctx).await.map_err(|e| e.to_string())?;
                if &info.id != want {
                    return Err(mismatch(&info.id));
                }
                LoadedPlugin::Channel(p, Box::new(info))
            }
            Compiled::Step(p) => {
                let info = p.describe(ctx).await.map_err(|e| e.to_string())?;
                if &info.id != want {
                    return Err(mismatch(&info.id));
                }
                LoadedPlugin::Step(p, Box::new(info))
            }
            Compiled::Integration(p) => {
                let info = p.describe(ctx).await.map_err(|e| e.to_string())?;
                if &info.id != want {
                    return Err(mismatch(&info.id));
                }
                LoadedPlugin::Integration(p, Box::new(info))
            }
        })
    }
}

/// A compiled plugin that has not described itself yet.
enum Compiled {
    Channel(ChannelPlugin),
    Step(StepPlugin),
    Integration(IntegrationPlugin),
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Loading trusts the hash the build script wrote for each bundled plugin: it must be its bytes'.
    #[test]
    fn every_bundled_plugin_carries_the_hash_of_its_bytes() {
        if option_env!("SWITCHBOARD_SKIP_PLUGIN_BUILD").is_none() {
            assert!(!bundled().is_empty(), "the build bundles the plugins in plugins/");
        }
        for b in bundled() {
            assert_eq!(Wasm::new(b.wasm).sha256(), b.sha256, "{}", b.manifest.lines().next().unwrap_or_default());
        }
    }
}
