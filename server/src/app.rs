//! The application: configuration, storage and keys wired together, and `run`, which serves HTTP on a
//! listener the caller bound (so tests bind `127.0.0.1:0`) until the shutdown future resolves.

use std::future::Future;
use std::sync::Arc;

use anyhow::Context;
use tokio::net::TcpListener;

use crate::config::{Config, DatabaseUrl};
use crate::crypto::SecretBox;
use crate::jobs::{JobRegistry, Worker};
use crate::plugins::{PluginEngine, PluginRegistry, StoreKv};
use crate::service::committer::{Committer, Writers};
use crate::store::{self, Store};

/// Everything a request or a job needs; shared as `Arc<App>`.
pub struct App {
    pub config: Arc<Config>,
    pub store: Arc<dyn Store>,
    pub secrets: SecretBox,
    pub jobs: JobRegistry,
    pub plugins: Arc<PluginRegistry>,
    /// Group commit for inbound deliveries.
    pub committer: Committer,
    /// Channels recently used by webhooks (settings and opened secrets).
    pub channel_cache: crate::service::inbound::ChannelCache,
    /// The search index (read side; `search::indexer::run` writes it).
    pub search: Arc<crate::search::SearchIndex>,
    /// The inbox counts' per-workspace groups (see `service::inbox::CountCache`).
    pub count_cache: crate::service::inbox::CountCache,
    /// Bumped after changes that live readers wait for (new messages, status changes): a wake-up hint for
    /// streams, which also re-read on a timer, so a change made elsewhere (another node) is only late.
    pub changes: tokio::sync::watch::Sender<u64>,
    /// Typing indicators, passed from whoever reports them to the live streams of this process.
    pub typing: tokio::sync::broadcast::Sender<crate::model::Typing>,
    /// Set when the server begins to shut down: long-lived responses end.
    pub stopping: tokio::sync::watch::Sender<bool>,
}

impl std::fmt::Debug for App {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("App").field("backend", &self.store.backend()).finish_non_exhaustive()
    }
}

impl App {
    /// Opens the data directory and the database and (if configured) applies migrations.
    pub async fn open(config: Config) -> anyhow::Result<Arc<Self>> {
        Self::open_with(config, standard_jobs()).await
    }

    /// Like [`App::open`], with the job handlers to run.
    pub async fn open_with(config: Config, jobs: JobRegistry) -> anyhow::Result<Arc<Self>> {
        config.validate()?;
        std::fs::create_dir_all(&config.data_dir)
            .map_err(|e| anyhow::anyhow!("cannot create data directory {}: {e}", config.data_dir.display()))?;
        let url = config.database_url()?;
        let store = store::connect(&url, &config.database).await?;
        if config.database.migrate_on_start {
            store.migrate().await?;
        }
        let secrets = SecretBox::load(&config.security.secret_key, &config.data_dir).map_err(anyhow::Error::msg)?;
        if let DatabaseUrl::Sqlite(path) = &url {
            tracing::info!(path = %path.display(), "using SQLite");
        } else {
            tracing::info!("using PostgreSQL");
        }
        // Plugins are loaded by `load_plugins`, which `serve` runs beside the listener: a first start
        // compiles them (about a second), and commands that do not need them should not wait for that.
        let plugins = Arc::new(open_plugins(&config, store.clone())?);
        let search = Arc::new(crate::search::SearchIndex::open(&config.search_dir())?);
        // SQLite has one writer; PostgreSQL commits in parallel.
        let writers = if matches!(url, DatabaseUrl::Sqlite(_)) { Writers::Dedicated } else { Writers::Shared(4) };
        let committer = Committer::start(store.clone(), writers).context("cannot start the committer")?;
        let (changes, stopping) = (tokio::sync::watch::Sender::new(0), tokio::sync::watch::Sender::new(false));
        let config = Arc::new(config);
        let (channel_cache, count_cache) = Default::default();
        Ok(Arc::new(Self {
            config,
            store,
            secrets,
            jobs,
            plugins,
            committer,
            channel_cache,
            search,
            count_cache,
            changes,
            typing: tokio::sync::broadcast::Sender::new(256),
            stopping,
        }))
    }

    /// Wakes whoever waits on [`App::changes`].
    pub fn changed(&self) {
        self.changes.send_modify(|n| *n = n.wrapping_add(1));
    }

    /// Loads (compiles, or takes from the cache) every bundled and installed plugin.
    pub async fn load_plugins(&self) {
        let started = std::time::Instant::now();
        match self.store.plugin_switches().await {
            Ok(switches) => self
                .plugins
                .set_switched_off(switches.into_iter().filter(|(_, enabled)| !enabled).map(|(id, _)| id).collect()),
            Err(e) => tracing::error!(error = %e, "cannot read the plugins owners switched off; loading all"),
        }
        let loaded = self.plugins.load_all().await;
        let ready = loaded.iter().filter(|e| e.status == crate::plugins::PluginStatus::Ready).count();
        let ms = started.elapsed().as_millis() as u64;
        tracing::info!(ready, known = loaded.len(), ms, dir = %self.plugins.dir().display(), "plugins loaded");
    }
}

/// The job handlers a server runs: sending messages, fetching incoming media, syncing templates,
/// closing inactive conversations, writing workspace exports, taking workflow steps.
pub fn standard_jobs() -> JobRegistry {
    let mut jobs = JobRegistry::default();
    jobs.register(crate::model::SEND_MESSAGE_JOB, Arc::new(crate::service::outbound::SendMessage));
    jobs.register(crate::service::channels::SYNC_TEMPLATES_JOB, Arc::new(crate::service::channels::SyncTemplates));
    jobs.register(crate::service::polling::POLL_JOB, Arc::new(crate::service::polling::PollChannel));
    jobs.register(crate::model::FETCH_MEDIA_JOB, Arc::new(crate::service::media::FetchMedia));
    jobs.register(crate::model::AUTO_CLOSE_JOB, Arc::new(crate::service::auto_close::AutoClose));
    jobs.register(crate::model::EXPORT_JOB, Arc::new(crate::service::exports::WriteExport));
    jobs.register(crate::model::WORKFLOW_RUN_JOB, Arc::new(crate::service::workflows::engine::RunStep::default()));
    jobs
}

/// The plugin engine and registry for `config`: plugin data in the database, compiled plugins cached in
/// the data directory.
pub fn open_plugins(config: &Config, store: Arc<dyn Store>) -> anyhow::Result<PluginRegistry> {
    let settings = &config.plugins;
    let mut engine = PluginEngine::with_egress(settings.max_memory_bytes(), settings.egress_policy())?
        .with_kv(Arc::new(StoreKv(store)));
    if settings.cache {
        engine = engine.with_cache_dir(&config.plugin_cache_dir())?;
    }
    Ok(PluginRegistry::new(config, engine))
}

/// Serves the API on `listener` and runs the job worker until `shutdown` resolves, then lets in-flight
/// requests and the job being run finish. The caller owns `app` and closes its store.
pub async fn run(
    app: Arc<App>,
    listener: TcpListener,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    block_own_addresses(&app, &listener);
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let worker = if app.config.jobs.enabled && !app.jobs.is_empty() {
        let worker = Worker::new(app.clone());
        let rx = stop_rx.clone();
        Some(tokio::spawn(async move { worker.run(rx).await }))
    } else {
        None
    };
    let indexer =
        app.config.search.enabled.then(|| tokio::spawn(crate::search::indexer::run(app.clone(), stop_rx.clone())));
    // Workflow runs are taken by the job worker, so their triggers are read only where it runs.
    let triggers =
        worker.is_some().then(|| tokio::spawn(crate::service::workflows::triggers::run(app.clone(), stop_rx.clone())));
    crate::http::serve(app.clone(), listener, shutdown).await?;
    let _ = stop_tx.send(true);
    if let Some(worker) = worker {
        let _ = worker.await;
    }
    if let Some(indexer) = indexer {
        let _ = indexer.await;
    }
    if let Some(triggers) = triggers {
        let _ = triggers.await;
    }
    Ok(())
}

/// Plugins may not call this server: its listening address (every loopback name when it listens on all
/// interfaces or on loopback) and its public URL are refused to their HTTP requests.
fn block_own_addresses(app: &App, listener: &TcpListener) {
    if let Ok(addr) = listener.local_addr() {
        let port = addr.port();
        app.plugins.block_origin(&addr.ip().to_string(), port);
        if addr.ip().is_loopback() || addr.ip().is_unspecified() {
            for host in ["127.0.0.1", "::1", "localhost"] {
                app.plugins.block_origin(host, port);
            }
        }
    }
    if let Ok(public) = url::Url::parse(&app.config.public_url())
        && let (Some(host), Some(port)) = (public.host_str(), public.port_or_known_default())
    {
        app.plugins.block_origin(host, port);
    }
}
