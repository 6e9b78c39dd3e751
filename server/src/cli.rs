//! The `switchboard` command line: serve, migrate, config, init, token and user management.

use std::path::PathBuf;

use anyhow::{Context, bail};
use clap::{Args, Parser, Subcommand};

use crate::app::App;
use crate::config::Config;
use crate::model::{Actor, Id, NewUser, PageRequest, Role};
use crate::service::{accounts, validate};
use crate::{crypto, telemetry};

/// Switchboard: self-hosted omnichannel customer conversations.
#[derive(Debug, Parser)]
#[command(name = "switchboard", version, about, long_about = None)]
pub struct Cli {
    /// Configuration file (default: ./switchboard.toml if it exists).
    #[arg(long, global = true, env = "SWITCHBOARD_CONFIG", value_name = "PATH")]
    pub config: Option<PathBuf>,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the server (HTTP API and background jobs).
    Serve,
    /// Apply pending database migrations and exit.
    Migrate,
    /// Print the effective configuration, with secrets redacted.
    Config,
    /// Create the organisation, its first workspace and its owner (once).
    Init(InitArgs),
    /// Manage workspaces.
    #[command(subcommand)]
    Workspace(WorkspaceCommand),
    /// Inspect plugins.
    #[command(subcommand)]
    Plugin(PluginCommand),
    /// Inspect the background jobs and retry failed ones.
    #[command(subcommand)]
    Jobs(JobsCommand),
    /// Manage API tokens.
    #[command(subcommand)]
    Token(TokenCommand),
    /// Manage users.
    #[command(subcommand)]
    User(UserCommand),
    /// Rebuild the search index from the database (stop the server first; a server also rebuilds a
    /// missing or outdated index on its own when it starts).
    Reindex,
    /// Tools for development and benchmarks.
    #[command(subcommand)]
    Dev(DevCommand),
}

#[derive(Debug, Subcommand)]
pub enum DevCommand {
    /// Fill a workspace with realistic generated data (agents, teams, channels, contacts with English and
    /// Arabic names, conversations with messages in both languages, assignments, tags, closed conversations).
    Seed {
        /// Workspace id (default: the only workspace).
        #[arg(long)]
        workspace: Option<Id>,
        /// How many conversations (one contact each).
        #[arg(long, default_value_t = 1000)]
        conversations: u32,
        /// How many messages in all (at least one per conversation).
        #[arg(long, default_value_t = 10_000)]
        messages: u64,
        /// The same seed makes the same data.
        #[arg(long, default_value_t = 1)]
        seed: u64,
    },
}

#[derive(Debug, Args)]
pub struct InitArgs {
    /// Name of the first workspace.
    #[arg(long)]
    pub workspace: String,
    /// E-mail of the owner; also their login.
    #[arg(long)]
    pub email: String,
    /// Password of the owner (at least 8 characters).
    #[arg(long)]
    pub password: String,
    /// Display name of the owner (default: the part of the e-mail before @).
    #[arg(long)]
    pub name: Option<String>,
    /// Name of the organisation (default: the workspace name).
    #[arg(long)]
    pub organisation: Option<String>,
}

#[derive(Debug, Subcommand)]
pub enum WorkspaceCommand {
    /// Add a workspace to the organisation, owned by an existing user.
    Create {
        /// Name of the new workspace.
        #[arg(long)]
        name: String,
        /// E-mail of the user who becomes its owner.
        #[arg(long)]
        owner_email: String,
    },
    /// List every workspace.
    List,
}

#[derive(Debug, Subcommand)]
pub enum PluginCommand {
    /// List bundled and installed plugins with their status, version, grants and where they come from.
    List {
        /// Print JSON (as `GET /api/v1/plugins` does) instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Load a plugin component and report its world, interface version, imports, size and compile time.
    Check {
        /// The `.wasm` component.
        file: PathBuf,
    },
}

#[derive(Debug, Subcommand)]
pub enum JobsCommand {
    /// List jobs, oldest first: kind, status, attempts, next run, last error.
    List {
        /// queued, running, done or failed.
        #[arg(long, value_parser = parse_job_status)]
        status: Option<crate::model::JobStatus>,
        /// At most this many (1-200).
        #[arg(long, default_value_t = 50)]
        limit: u32,
    },
    /// Put a failed job back in the queue with a fresh set of attempts.
    Retry {
        /// The job's id (from `jobs list`).
        id: Id,
    },
}

fn parse_job_status(s: &str) -> Result<crate::model::JobStatus, String> {
    crate::model::JobStatus::parse(s).ok_or_else(|| format!("`{s}` is not one of queued, running, done, failed"))
}

#[derive(Debug, Subcommand)]
pub enum TokenCommand {
    /// Create an API token for a user; the token is printed as the last line.
    Create {
        /// The user the token acts as.
        #[arg(long)]
        email: String,
        /// A name to recognise the token by.
        #[arg(long)]
        name: String,
        /// Workspace id (default: the only workspace, or the user's first).
        #[arg(long)]
        workspace: Option<Id>,
    },
}

#[derive(Debug, Subcommand)]
pub enum UserCommand {
    /// Add a user to a workspace.
    Create {
        #[arg(long)]
        email: String,
        #[arg(long)]
        name: String,
        /// At least 8 characters.
        #[arg(long)]
        password: String,
        /// owner, manager or agent.
        #[arg(long, default_value = "agent", value_parser = parse_role)]
        role: Role,
        /// Workspace id (default: the only workspace).
        #[arg(long)]
        workspace: Option<Id>,
    },
    /// List the users of a workspace.
    List {
        /// Workspace id (default: the only workspace).
        #[arg(long)]
        workspace: Option<Id>,
    },
}

fn parse_role(s: &str) -> Result<Role, String> {
    Role::parse(s).ok_or_else(|| format!("`{s}` is not a role (owner, manager or agent)"))
}

/// Runs one command to completion.
pub async fn run(cli: Cli) -> anyhow::Result<()> {
    let config = Config::load(cli.config.as_deref())?;
    match cli.command {
        Command::Config => {
            print!("{}", config.redacted_toml());
            Ok(())
        }
        Command::Serve => serve(config).await,
        Command::Migrate => {
            let mut config = config;
            config.database.migrate_on_start = false;
            let app = App::open(config).await?;
            app.store.migrate().await.context("migration failed")?;
            println!("migrations applied ({})", app.store.backend());
            Ok(())
        }
        Command::Init(args) => {
            let app = App::open(config).await?;
            let req = accounts::InitRequest {
                organisation: args.organisation,
                workspace: args.workspace,
                email: args.email,
                name: args.name,
                password: args.password,
            };
            let (org, ws, owner) = accounts::init(&app, req).await?;
            println!("created organisation {} (id {})", org.name, org.id);
            println!("created workspace {} (id {})", ws.name, ws.id);
            println!("created owner {} (id {})", owner.email, owner.id);
            Ok(())
        }
        Command::Plugin(PluginCommand::Check { file }) => {
            let wasm = std::fs::read(&file).with_context(|| format!("cannot read {}", file.display()))?;
            let limits = crate::plugins::Limits::default();
            let engine = crate::plugins::PluginEngine::new(limits.memory_bytes)?;
            let report = engine
                .inspect(&wasm, limits)
                .await
                .with_context(|| format!("{} is not a usable plugin", file.display()))?;
            println!("file:       {}", file.display());
            let polls =
                if report.polls { " (polls: the server calls its poller every poll_interval_seconds)" } else { "" };
            println!("world:      {}{polls}", report.world);
            println!("interface:  switchboard:plugin {}", report.interface_versions.join(", "));
            println!("plugin:     {}", report.describe);
            println!("size:       {} bytes", report.size_bytes);
            println!("compile:    {} ms", report.compile_ms);
            let id = report.describe["id"].as_str().unwrap_or_default();
            let l = config.plugins.settings_for(id).limits.apply(config.plugins.limits);
            println!(
                "limits:     {} ms, {} MiB memory, {} host calls, {} table entries, input/output {}/{} KiB (this configuration)",
                l.timeout_ms,
                l.memory_bytes >> 20,
                l.host_calls,
                l.table_entries,
                l.input_bytes >> 10,
                l.output_bytes >> 10
            );
            println!("imports:");
            for import in &report.imports {
                println!("  {import}");
            }
            let manifest_path = file.with_file_name("plugin.toml");
            if let Ok(text) = std::fs::read_to_string(&manifest_path) {
                let manifest = crate::plugins::Manifest::parse(&text)
                    .map_err(|e| anyhow::anyhow!("{}: {e}", manifest_path.display()))?;
                let declared = &manifest.capabilities;
                println!("manifest:   {}", manifest_path.display());
                println!("  id:             {} ({})", manifest.plugin.id, manifest.plugin.world.as_str());
                println!("  outbound hosts: {}", declared.outbound_hosts.join(", "));
                println!("  kv:             {}", declared.kv);
                let names = |l: &[crate::plugins::manifest::Setting]| {
                    l.iter()
                        .map(|s| if s.required { format!("{}*", s.name) } else { s.name.clone() })
                        .collect::<Vec<_>>()
                };
                println!("  config:         {}", names(&manifest.config).join(", "));
                println!("  secrets:        {}", names(&manifest.secrets).join(", "));
                if manifest.plugin.world.as_str() != report.world {
                    bail!(
                        "the manifest says world `{}` but the component is a {} plugin",
                        manifest.plugin.world.as_str(),
                        report.world
                    );
                }
                if report.describe["id"] != manifest.plugin.id.as_str() {
                    bail!(
                        "the manifest says id `{}` but the component describes itself as {}",
                        manifest.plugin.id,
                        report.describe["id"]
                    );
                }
            }
            Ok(())
        }
        Command::Plugin(PluginCommand::List { json }) => {
            // No database: plugins' key-value data is not touched, and the cache is used only if the data
            // directory already exists.
            let limits = config.plugins.limits;
            let mut engine = crate::plugins::PluginEngine::with_egress(
                config.plugins.max_memory_bytes().max(limits.memory_bytes),
                config.plugins.egress_policy(),
            )?;
            if config.plugins.cache && config.data_dir.is_dir() {
                engine = engine.with_cache_dir(&config.plugin_cache_dir())?;
            }
            let registry = crate::plugins::PluginRegistry::new(&config, engine);
            let entries = registry.load_all().await;
            let views: Vec<_> = entries.iter().map(|e| crate::service::plugins::PluginView::from(e.as_ref())).collect();
            if json {
                println!("{}", serde_json::to_string_pretty(&views)?);
                return Ok(());
            }
            println!("plugins directory: {}", registry.dir().display());
            println!(
                "{:<24} {:<12} {:<10} {:<10} {:<9} {:<12} OUTBOUND HOSTS",
                "ID", "WORLD", "VERSION", "SOURCE", "STATUS", "SHA256"
            );
            for v in &views {
                let hosts = v.granted["outbound_hosts"]
                    .as_array()
                    .map(|a| a.iter().filter_map(|h| h.as_str()).collect::<Vec<_>>().join(", "));
                println!(
                    "{:<24} {:<12} {:<10} {:<10} {:<9} {:<12} {}",
                    v.id,
                    v.world.as_deref().unwrap_or("?"),
                    v.version,
                    v.source,
                    v.status,
                    v.sha256.get(..12).unwrap_or(""),
                    hosts.unwrap_or_default()
                );
                if let Some(error) = &v.error {
                    println!("    error: {error}");
                }
            }
            Ok(())
        }
        Command::Workspace(WorkspaceCommand::Create { name, owner_email }) => {
            let app = App::open(config).await?;
            let name = validate::required("--name", &name, 100)?;
            let email = validate::email("--owner-email", &owner_email)?;
            let owner =
                app.store.user_credentials(&email).await?.with_context(|| format!("no user with e-mail {email}"))?;
            let first = app.store.user_workspaces(owner.id).await?;
            let org = first.first().map(|(w, _)| w.organisation_id).context("that user belongs to no organisation")?;
            let ws = app.store.create_workspace(org, &name, owner.id).await?;
            println!("created workspace {} (id {}) owned by {email}", ws.name, ws.id);
            Ok(())
        }
        Command::Jobs(JobsCommand::List { status, limit }) => {
            let app = App::open(config).await?;
            let page = PageRequest { after: None, limit: limit.clamp(1, 200) };
            let jobs = app.store.list_jobs(status, &page).await?;
            println!("{:<8} {:<16} {:<8} {:<9} {:<25} LAST ERROR", "ID", "KIND", "STATUS", "ATTEMPTS", "RUN AT");
            for j in jobs.items {
                println!(
                    "{:<8} {:<16} {:<8} {:<9} {:<25} {}",
                    j.id,
                    j.kind,
                    j.status.as_str(),
                    format!("{}/{}", j.attempts, j.max_attempts),
                    j.run_at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
                    j.last_error.unwrap_or_default()
                );
            }
            Ok(())
        }
        Command::Jobs(JobsCommand::Retry { id }) => {
            let app = App::open(config).await?;
            let job = app.store.retry_job(id, chrono::Utc::now()).await.with_context(|| format!("job {id}"))?;
            println!("job {} ({}) is {} again", job.id, job.kind, job.status.as_str());
            Ok(())
        }
        Command::Workspace(WorkspaceCommand::List) => {
            let app = App::open(config).await?;
            for w in app.store.list_all_workspaces().await? {
                println!("{:<8} {}", w.id, w.name);
            }
            Ok(())
        }
        Command::Token(TokenCommand::Create { email, name, workspace }) => {
            let app = App::open(config).await?;
            let email = validate::email("--email", &email)?;
            let creds =
                app.store.user_credentials(&email).await?.with_context(|| format!("no user with e-mail {email}"))?;
            let memberships = app.store.user_workspaces(creds.id).await?;
            let ws = match workspace {
                Some(id) => memberships.iter().find(|(w, _)| w.id == id).map(|(w, _)| w.id),
                None => memberships.first().map(|(w, _)| w.id),
            }
            .with_context(|| format!("{email} is not a member of that workspace"))?;
            let created = accounts::issue_token(&app, ws, creds.id, &name, Actor::system()).await?;
            println!(
                "created API token {} (id {}) for {email} in workspace {ws}; it is shown only once:",
                created.info.name, created.info.id
            );
            println!("{}", created.token);
            Ok(())
        }
        Command::User(UserCommand::Create { email, name, password, role, workspace }) => {
            let app = App::open(config).await?;
            let ws = pick_workspace(&app, workspace).await?;
            let user = NewUser {
                email: validate::email("--email", &email)?,
                name: validate::required("--name", &name, 100)?,
                password_hash: password_hash(&password)?,
                role,
            };
            let created = app.store.create_user(ws, &user, Actor::system()).await?;
            println!(
                "created user {} (id {}) as {} in workspace {ws}",
                created.email,
                created.id,
                created.role.as_str()
            );
            Ok(())
        }
        Command::Reindex => {
            let app = App::open(config).await?;
            let bar = indicatif::ProgressBar::new(0);
            bar.set_style(
                indicatif::ProgressStyle::with_template(
                    "{bar:40} {pos}/{len} contacts and messages ({per_sec}, {eta} left)",
                )
                .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
            );
            let started = std::time::Instant::now();
            let docs = crate::service::search::reindex(&app, |done, total| {
                bar.set_length(total);
                bar.set_position(done);
            })
            .await;
            bar.finish_and_clear();
            let docs = docs?;
            let secs = started.elapsed().as_secs_f64();
            println!(
                "reindexed {docs} contacts and messages in {secs:.1} s ({:.0}/s) into {}",
                docs as f64 / secs.max(0.001),
                app.search.dir().display()
            );
            app.store.close().await;
            Ok(())
        }
        Command::Dev(DevCommand::Seed { workspace, conversations, messages, seed }) => {
            let app = App::open(config).await?;
            let ws = pick_workspace(&app, workspace).await?;
            let bar = indicatif::ProgressBar::new(u64::from(conversations));
            bar.set_style(
                indicatif::ProgressStyle::with_template("{bar:40} {pos}/{len} conversations ({per_sec}, {eta} left)")
                    .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
            );
            let started = std::time::Instant::now();
            let plan = crate::service::seed::SeedPlan { conversations, messages, seed };
            let report = crate::service::seed::seed(&app, ws, &plan, |done| bar.set_position(done)).await?;
            bar.finish_and_clear();
            println!(
                "seeded workspace {ws}: {} conversations ({} closed), {} messages in {:.1} s",
                report.conversations,
                report.closed,
                report.messages,
                started.elapsed().as_secs_f64()
            );
            Ok(())
        }
        Command::User(UserCommand::List { workspace }) => {
            let app = App::open(config).await?;
            let ws = pick_workspace(&app, workspace).await?;
            let mut page = PageRequest { after: None, limit: 200 };
            println!("{:<8} {:<8} {:<32} name", "id", "role", "email");
            loop {
                let users = app.store.list_users(ws, &page).await?;
                for u in &users.items {
                    println!("{:<8} {:<8} {:<32} {}", u.id, u.role.as_str(), u.email, u.name);
                }
                match users.next_cursor.as_deref().and_then(crate::model::Cursor::decode) {
                    Some(next) => page.after = Some(next),
                    None => break,
                }
            }
            Ok(())
        }
    }
}

fn password_hash(password: &str) -> anyhow::Result<String> {
    if password.chars().count() < 8 {
        bail!("--password: must be at least 8 characters");
    }
    crypto::hash_password(password).map_err(anyhow::Error::msg)
}

async fn pick_workspace(app: &App, requested: Option<Id>) -> anyhow::Result<Id> {
    let all = app.store.list_all_workspaces().await?;
    match requested {
        Some(id) if all.iter().any(|w| w.id == id) => Ok(id),
        Some(id) => bail!("--workspace: no workspace with id {id}"),
        None => match all.as_slice() {
            [only] => Ok(only.id),
            [] => bail!("no workspace yet: run `switchboard init` first"),
            _ => bail!("there are several workspaces: pass --workspace ID"),
        },
    }
}

async fn serve(config: Config) -> anyhow::Result<()> {
    telemetry::init_logging(&config.log);
    telemetry::init_metrics();
    let listen = config.server.listen;
    let app = App::open(config).await?;
    let listener = tokio::net::TcpListener::bind(listen).await.with_context(|| format!("cannot listen on {listen}"))?;
    let loader = app.clone();
    tokio::spawn(async move { loader.load_plugins().await });
    // The number plan is built on first use (about 140 ms of CPU in a release build); build it now rather
    // than in the first webhook that carries a phone number.
    tokio::task::spawn_blocking(crate::service::validate::warm_up);
    let reloader = tokio::spawn(reload_plugins_on_hangup(app.clone()));
    let result = crate::app::run(app.clone(), listener, shutdown_signal()).await;
    reloader.abort();
    app.store.close().await;
    result
}

/// Reloads every plugin (and the `[plugins]` configuration) on SIGHUP, as `POST /api/v1/plugins/reload` does.
async fn reload_plugins_on_hangup(app: std::sync::Arc<App>) {
    #[cfg(unix)]
    {
        let Ok(mut hangups) = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup()) else { return };
        while hangups.recv().await.is_some() {
            match app.plugins.reload_all().await {
                Ok(entries) => {
                    let ready = entries.iter().filter(|e| e.status == crate::plugins::PluginStatus::Ready).count();
                    tracing::info!(ready, known = entries.len(), "plugins reloaded on SIGHUP");
                }
                Err(e) => tracing::error!(error = %e, "plugins not reloaded: the configuration is invalid"),
            }
        }
    }
    #[cfg(not(unix))]
    let _ = app;
}

/// Resolves on Ctrl-C or SIGTERM.
async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {}
        () = term => {}
    }
}
