//! Configuration: built-in defaults, then `switchboard.toml`, then `SWITCHBOARD_*` environment variables.
//!
//! The structs below are the reference for every key; `docs/switchboard.example.toml` documents them and a
//! test checks that the example file covers every key and parses.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use figment::Figment;
use figment::providers::{Env, Format, Serialized, Toml};
use serde::{Deserialize, Serialize};

/// Prefix of the environment variables read as configuration; `__` separates nested keys.
pub const ENV_PREFIX: &str = "SWITCHBOARD_";
/// Configuration file read from the working directory when `--config` is not given.
pub const DEFAULT_CONFIG_FILE: &str = "switchboard.toml";

/// The whole effective configuration of a server process.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    /// Directory for the SQLite database, the generated secret key and (later) media and the search index.
    pub data_dir: PathBuf,
    pub server: ServerConfig,
    pub database: DatabaseConfig,
    pub security: SecurityConfig,
    pub log: LogConfig,
    pub jobs: JobsConfig,
    pub plugins: PluginsConfig,
    pub media: MediaConfig,
    pub search: SearchConfig,
    /// The file this configuration was read from, if any (re-read when plugins are reloaded).
    #[serde(skip)]
    pub source_file: Option<PathBuf>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct ServerConfig {
    /// Address the HTTP server binds to.
    pub listen: SocketAddr,
    /// Largest request body accepted, in bytes.
    pub max_body_bytes: usize,
    /// The URL providers and browsers reach this server at, used to build webhook URLs. Empty: `http://` +
    /// the listen address.
    pub public_url: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct DatabaseConfig {
    /// `sqlite://PATH` or `postgres://USER:PASSWORD@HOST/DB`. Empty: `switchboard.db` in the data directory.
    pub url: String,
    /// Largest number of pooled connections.
    pub max_connections: u32,
    /// Apply pending migrations when the server starts (`switchboard migrate` always applies them).
    pub migrate_on_start: bool,
    /// SQLite only: `full` (default) makes every commit durable before it is acknowledged; `normal`
    /// may lose the last commits on a power cut (never on a crash of the process) and is for bulk loads
    /// such as `switchboard dev seed`, not for serving.
    pub sqlite_synchronous: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct SecurityConfig {
    /// Base64 of 32 bytes used to encrypt channel secrets at rest. Empty: read or generate
    /// `secret.key` in the data directory (mode 0600).
    pub secret_key: String,
    /// Lifetime of a login session, in hours.
    pub session_ttl_hours: u32,
    /// Mark the session cookie `Secure` (set this when serving over HTTPS).
    pub cookie_secure: bool,
}

#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    Text,
    Json,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct LogConfig {
    /// `text` for people, `json` for log collectors.
    pub format: LogFormat,
    /// A tracing filter such as `info` or `switchboard=debug,tower_http=info`; `RUST_LOG` overrides it.
    pub level: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct JobsConfig {
    /// Run the background job worker in this process.
    pub enabled: bool,
    /// How often an idle worker looks for due jobs, in milliseconds.
    pub poll_interval_ms: u64,
    /// How long a claimed job stays locked before another worker may take it over, in seconds.
    pub lease_seconds: u64,
    /// Attempts before a job is recorded as failed.
    pub max_attempts: u32,
    /// First retry delay in milliseconds; each later retry doubles it.
    pub backoff_base_ms: u64,
    /// Upper bound of a retry delay in milliseconds.
    pub backoff_max_ms: u64,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct SearchConfig {
    /// Keep the search index current in this process (a server whose index another process writes,
    /// or a test that does not search, turns it off).
    pub enabled: bool,
    /// Where the index lives; empty means `search` in the data directory.
    pub dir: String,
    /// Memory for buffering new documents before they are written out, in MiB (at least 15).
    pub writer_memory_mb: u32,
    /// How often the indexer looks at the event log when nothing woke it, in milliseconds.
    pub poll_interval_ms: u64,
}

impl Default for SearchConfig {
    fn default() -> Self {
        Self { enabled: true, dir: String::new(), writer_memory_mb: 24, poll_interval_ms: 1000 }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct MediaConfig {
    /// Largest media file kept (uploaded by users or downloaded from a provider), in bytes.
    pub max_bytes: usize,
    /// How long a signed link handed to a provider to fetch an outgoing file stays valid, in minutes.
    pub link_minutes: u32,
}

impl Default for MediaConfig {
    fn default() -> Self {
        Self { max_bytes: 16 << 20, link_minutes: 60 }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct PluginsConfig {
    /// Directory of installed (third-party) plugins: one sub-directory per plugin holding its
    /// `plugin.toml` and `.wasm`. Empty: `plugins` in the data directory.
    pub dir: String,
    /// Keep compiled plugins, so a restart skips compilation.
    pub cache: bool,
    /// Where compiled plugins are kept. Empty: `plugin-cache` in the data directory.
    pub cache_dir: String,
    /// Non-public addresses plugins may still reach, e.g. `127.0.0.1` for a provider on this machine.
    pub allow_private_addresses: Vec<std::net::IpAddr>,
    /// PEM files of certificate authorities plugins' TLS connections (HTTPS, IMAP, SMTP) trust besides
    /// the public web PKI's: a company's own mail server, say.
    pub extra_ca_files: Vec<PathBuf>,
    /// Upper bound of a plugin's HTTP request timeout, in milliseconds.
    pub http_timeout_max_ms: u64,
    /// Largest HTTP response body a plugin receives, in bytes.
    pub http_response_max_bytes: usize,
    /// HTTP requests one plugin may have in flight at once.
    pub http_concurrency: usize,
    /// Limits of every plugin call, unless a plugin's settings change them.
    pub limits: switchboard_plugin_host::Limits,
    /// Settings per plugin id: `[plugins.settings.whatsapp-cloud]`.
    pub settings: std::collections::BTreeMap<String, PluginSettings>,
}

/// An admin's settings for one plugin.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct PluginSettings {
    /// Load this plugin; a disabled plugin's channels stop receiving and sending.
    pub enabled: bool,
    /// Hosts granted to the plugin (it gets those it also declares). Unset: bundled plugins get what
    /// they declare, installed plugins get none.
    pub outbound_hosts: Option<Vec<String>>,
    /// Allow its key-value storage (if it declares it).
    pub kv: bool,
    /// Allow mail (SMTP and IMAP) to its granted hosts (if it declares it).
    pub mail: bool,
    /// Changes to the default limits for this plugin.
    pub limits: switchboard_plugin_host::LimitOverrides,
    /// The configuration a step or integration plugin reads (`[[config]]` of its manifest), e.g. the AI
    /// reply step's `base_url` and `model`. Channels are configured per channel instead.
    pub config: serde_json::Map<String, serde_json::Value>,
    /// Its secrets (`[[secrets]]` of its manifest), e.g. `api_key`; shown redacted by `switchboard config`.
    pub secrets: std::collections::BTreeMap<String, String>,
}

impl Default for PluginsConfig {
    fn default() -> Self {
        Self {
            dir: String::new(),
            cache: true,
            cache_dir: String::new(),
            allow_private_addresses: Vec::new(),
            extra_ca_files: Vec::new(),
            http_timeout_max_ms: 15_000,
            http_response_max_bytes: 16 << 20,
            http_concurrency: 16,
            limits: switchboard_plugin_host::Limits::default(),
            settings: Default::default(),
        }
    }
}

impl Default for PluginSettings {
    fn default() -> Self {
        Self {
            enabled: true,
            outbound_hosts: None,
            kv: true,
            mail: true,
            limits: Default::default(),
            config: Default::default(),
            secrets: Default::default(),
        }
    }
}

impl PluginsConfig {
    /// The admin's outbound HTTP policy for every plugin.
    pub fn egress_policy(&self) -> switchboard_plugin_host::EgressPolicy {
        switchboard_plugin_host::EgressPolicy {
            allow_private_addresses: self.allow_private_addresses.clone(),
            max_timeout_ms: self.http_timeout_max_ms,
            max_response_bytes: self.http_response_max_bytes,
            max_concurrent_per_plugin: self.http_concurrency,
            // Checked by `validate`, so a file that vanished since is the only way to get nothing here.
            extra_root_certificates: self
                .extra_ca_files
                .iter()
                .filter_map(|path| std::fs::read_to_string(path).ok())
                .collect(),
        }
    }

    /// The settings of plugin `id` (defaults when it has none).
    pub fn settings_for(&self, id: &str) -> PluginSettings {
        self.settings.get(id).cloned().unwrap_or_default()
    }

    /// The largest memory any plugin may use: the size of the engine's memory slots.
    pub fn max_memory_bytes(&self) -> usize {
        let each = self.settings.values().map(|s| s.limits.apply(self.limits).memory_bytes);
        each.fold(self.limits.memory_bytes, usize::max)
    }

    fn validate(&self) -> Result<(), ConfigError> {
        self.limits.validate().map_err(|e| ConfigError(format!("plugins.limits.{e}")))?;
        for (id, s) in &self.settings {
            s.limits
                .apply(self.limits)
                .validate()
                .map_err(|e| ConfigError(format!("plugins.settings.{id}.limits.{e}")))?;
        }
        for path in &self.extra_ca_files {
            let pem = std::fs::read_to_string(path)
                .map_err(|e| ConfigError(format!("plugins.extra_ca_files: {}: {e}", path.display())))?;
            if !pem.contains("-----BEGIN CERTIFICATE-----") {
                return Err(ConfigError(format!(
                    "plugins.extra_ca_files: {} holds no PEM certificate",
                    path.display()
                )));
            }
        }
        if self.http_timeout_max_ms == 0 || self.http_concurrency == 0 || self.http_response_max_bytes == 0 {
            return Err(ConfigError(
                "plugins: http_timeout_max_ms, http_response_max_bytes and http_concurrency must be at least 1".into(),
            ));
        }
        Ok(())
    }
}

impl Default for Config {
    fn default() -> Self {
        Self {
            data_dir: PathBuf::from("./data"),
            server: ServerConfig::default(),
            database: DatabaseConfig::default(),
            security: SecurityConfig::default(),
            log: LogConfig::default(),
            jobs: JobsConfig::default(),
            plugins: PluginsConfig::default(),
            media: MediaConfig::default(),
            search: SearchConfig::default(),
            source_file: None,
        }
    }
}

impl Default for ServerConfig {
    fn default() -> Self {
        Self {
            listen: SocketAddr::from(([127, 0, 0, 1], 8080)),
            max_body_bytes: 2 * 1024 * 1024,
            public_url: String::new(),
        }
    }
}

impl Default for DatabaseConfig {
    fn default() -> Self {
        Self { url: String::new(), max_connections: 10, migrate_on_start: true, sqlite_synchronous: "full".into() }
    }
}

impl Default for SecurityConfig {
    fn default() -> Self {
        Self { secret_key: String::new(), session_ttl_hours: 24 * 30, cookie_secure: false }
    }
}

impl Default for LogConfig {
    fn default() -> Self {
        Self { format: LogFormat::Text, level: "info".into() }
    }
}

impl Default for JobsConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            poll_interval_ms: 1000,
            lease_seconds: 300,
            max_attempts: 8,
            backoff_base_ms: 2000,
            backoff_max_ms: 3_600_000,
        }
    }
}

/// A configuration that could not be loaded; the message names the offending key.
#[derive(Debug, thiserror::Error)]
#[error("configuration error: {0}")]
pub struct ConfigError(pub String);

impl Config {
    /// Loads defaults, then the TOML file (`path`, or `switchboard.toml` in the working directory if it
    /// exists), then the environment. An explicitly named file that does not exist is an error.
    pub fn load(path: Option<&Path>) -> Result<Self, ConfigError> {
        Self::load_from(path, Env::prefixed(ENV_PREFIX))
    }

    fn load_from(path: Option<&Path>, env: Env) -> Result<Self, ConfigError> {
        let mut figment = Figment::from(Serialized::defaults(Config::default()));
        let source_file = match path {
            Some(p) => {
                if !p.is_file() {
                    return Err(ConfigError(format!("config file {} does not exist", p.display())));
                }
                figment = figment.merge(Toml::file_exact(p));
                Some(p.to_path_buf())
            }
            None => {
                figment = figment.merge(Toml::file(DEFAULT_CONFIG_FILE));
                Some(PathBuf::from(DEFAULT_CONFIG_FILE)).filter(|p| p.is_file())
            }
        };
        // SWITCHBOARD_CONFIG names the file and SWITCHBOARD_TEST_* steer the test suite; neither is a key.
        let env = env.split("__").filter(|k| {
            let k = k.as_str().to_ascii_lowercase();
            k != "config" && !k.starts_with("test_")
        });
        let mut config: Config = figment.merge(env).extract().map_err(|e| ConfigError(describe(e)))?;
        config.validate()?;
        config.source_file = source_file;
        Ok(config)
    }

    /// Checks rules that span keys or that serde cannot express.
    pub fn validate(&self) -> Result<(), ConfigError> {
        if self.data_dir.as_os_str().is_empty() {
            return Err(ConfigError("data_dir: must not be empty".into()));
        }
        if self.database.max_connections == 0 {
            return Err(ConfigError("database.max_connections: must be at least 1".into()));
        }
        self.database_url()?;
        if !matches!(self.database.sqlite_synchronous.as_str(), "full" | "normal") {
            return Err(ConfigError("database.sqlite_synchronous: must be `full` or `normal`".into()));
        }
        if self.jobs.poll_interval_ms == 0 || self.jobs.lease_seconds == 0 || self.jobs.max_attempts == 0 {
            return Err(ConfigError(
                "jobs: poll_interval_ms, lease_seconds and max_attempts must be at least 1".into(),
            ));
        }
        if self.jobs.backoff_base_ms > self.jobs.backoff_max_ms {
            return Err(ConfigError("jobs.backoff_base_ms: must not exceed jobs.backoff_max_ms".into()));
        }
        let public = self.server.public_url.trim();
        if !(public.is_empty() || public.starts_with("http://") || public.starts_with("https://")) {
            return Err(ConfigError("server.public_url: must start with http:// or https://".into()));
        }
        if self.security.session_ttl_hours == 0 {
            return Err(ConfigError("security.session_ttl_hours: must be at least 1".into()));
        }
        self.plugins.validate()?;
        if self.media.max_bytes == 0 || self.media.max_bytes > 1 << 30 || self.media.link_minutes == 0 {
            return Err(ConfigError("media: max_bytes must be 1 byte to 1 GiB and link_minutes at least 1".into()));
        }
        if self.search.writer_memory_mb < 15 || self.search.writer_memory_mb > 4096 {
            return Err(ConfigError("search.writer_memory_mb: must be 15 to 4096".into()));
        }
        if self.search.poll_interval_ms == 0 {
            return Err(ConfigError("search.poll_interval_ms: must be at least 1".into()));
        }
        if tracing_subscriber::EnvFilter::try_new(&self.log.level).is_err() {
            return Err(ConfigError(format!("log.level: `{}` is not a valid filter", self.log.level)));
        }
        Ok(())
    }

    /// The database URL to connect to: the configured one, or the SQLite file in the data directory.
    pub fn database_url(&self) -> Result<DatabaseUrl, ConfigError> {
        if self.database.url.trim().is_empty() {
            let path = self.data_dir.join("switchboard.db");
            return Ok(DatabaseUrl::Sqlite(path));
        }
        DatabaseUrl::parse(&self.database.url)
    }

    /// The directory of installed plugins.
    pub fn plugins_dir(&self) -> PathBuf {
        let dir = self.plugins.dir.trim();
        if dir.is_empty() { self.data_dir.join("plugins") } else { PathBuf::from(dir) }
    }

    /// Where the search index lives.
    pub fn search_dir(&self) -> PathBuf {
        let dir = self.search.dir.trim();
        if dir.is_empty() { self.data_dir.join("search") } else { PathBuf::from(dir) }
    }

    /// Where compiled plugins are cached.
    pub fn plugin_cache_dir(&self) -> PathBuf {
        let dir = self.plugins.cache_dir.trim();
        if dir.is_empty() { self.data_dir.join("plugin-cache") } else { PathBuf::from(dir) }
    }

    /// The base URL for links handed to providers and browsers, without a trailing slash.
    pub fn public_url(&self) -> String {
        let configured = self.server.public_url.trim().trim_end_matches('/');
        if configured.is_empty() { format!("http://{}", self.server.listen) } else { configured.to_owned() }
    }

    /// The effective configuration as TOML with secrets replaced by `<redacted>`.
    pub fn redacted_toml(&self) -> String {
        let mut shown = self.clone();
        shown.database.url = redact_url(&shown.database.url);
        if !shown.security.secret_key.is_empty() {
            shown.security.secret_key = "<redacted>".into();
        }
        for settings in shown.plugins.settings.values_mut() {
            for value in settings.secrets.values_mut() {
                *value = "<redacted>".into();
            }
        }
        toml::to_string_pretty(&shown).unwrap_or_else(|e| format!("# cannot render configuration: {e}\n"))
    }
}

/// Which backend a database URL selects.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DatabaseUrl {
    Sqlite(PathBuf),
    Postgres(String),
}

impl DatabaseUrl {
    /// Parses `sqlite://PATH`, `sqlite:PATH`, `postgres://…` or `postgresql://…`; anything else is an error.
    pub fn parse(url: &str) -> Result<Self, ConfigError> {
        let url = url.trim();
        if let Some(rest) = url.strip_prefix("sqlite://").or_else(|| url.strip_prefix("sqlite:")) {
            let path = rest.split('?').next().unwrap_or_default();
            if path.is_empty() || path == ":memory:" {
                return Err(ConfigError(
                    "database.url: a SQLite URL must name a file (sqlite://PATH); in-memory databases lose data".into(),
                ));
            }
            return Ok(Self::Sqlite(PathBuf::from(path)));
        }
        if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            let after = url.split_once("://").map(|(_, r)| r).unwrap_or_default();
            if after.is_empty() || after.starts_with('/') && after.len() == 1 {
                return Err(ConfigError("database.url: a PostgreSQL URL must name a host".into()));
            }
            return Ok(Self::Postgres(url.to_owned()));
        }
        let scheme = url.split(':').next().unwrap_or_default();
        Err(ConfigError(format!("database.url: unsupported scheme `{scheme}` (expected sqlite:// or postgres://)")))
    }
}

/// Replaces the password of a URL with `<redacted>`.
pub fn redact_url(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_owned();
    };
    let (authority, tail) = match rest.find('/') {
        Some(i) => rest.split_at(i),
        None => (rest, ""),
    };
    match authority.rsplit_once('@') {
        Some((userinfo, host)) => {
            let user = userinfo.split(':').next().unwrap_or_default();
            if userinfo.contains(':') { format!("{scheme}://{user}:<redacted>@{host}{tail}") } else { url.to_owned() }
        }
        None => url.to_owned(),
    }
}

/// Turns a figment error into one line that names the key and where its value came from.
fn describe(err: figment::Error) -> String {
    err.into_iter()
        .map(|e| {
            let key = if e.path.is_empty() { String::new() } else { format!("{}: ", e.path.join(".")) };
            let source = e
                .metadata
                .as_ref()
                .map(|m| match &m.source {
                    Some(src) => format!(" (from {src})"),
                    None => format!(" (from {})", m.name),
                })
                .unwrap_or_default();
            format!("{key}{}{source}", e.kind)
        })
        .collect::<Vec<_>>()
        .join("; ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[allow(clippy::result_large_err)]
    fn load_with(toml: &str, env: &[(&str, &str)]) -> Result<Config, ConfigError> {
        let dir = tempfile::tempdir().map_err(|e| ConfigError(e.to_string()))?;
        let path = dir.path().join("switchboard.toml");
        std::fs::write(&path, toml).map_err(|e| ConfigError(e.to_string()))?;
        let mut result = None;
        figment::Jail::expect_with(|jail| {
            jail.clear_env();
            for (k, v) in env {
                jail.set_env(k, v);
            }
            result = Some(Config::load_from(Some(&path), Env::prefixed(ENV_PREFIX)));
            Ok(())
        });
        result.unwrap_or_else(|| Err(ConfigError("jail did not run".into())))
    }

    #[test]
    fn defaults_when_nothing_is_set() {
        let c = load_with("", &[]).expect("defaults load");
        assert_eq!(c.server.listen.to_string(), "127.0.0.1:8080");
        assert_eq!(c.data_dir, PathBuf::from("./data"));
        assert_eq!(c.database_url().expect("url"), DatabaseUrl::Sqlite(PathBuf::from("./data/switchboard.db")));
        assert_eq!(c.plugin_cache_dir(), PathBuf::from("./data/plugin-cache"));
        let c = load_with("", &[("SWITCHBOARD_PLUGINS__CACHE_DIR", "/var/cache/sb")]).expect("loads");
        assert_eq!(c.plugin_cache_dir(), PathBuf::from("/var/cache/sb"));
    }

    #[test]
    fn file_then_env_with_double_underscore_nesting() {
        let c = load_with(
            "data_dir = \"/srv/sb\"\n[server]\nlisten = \"0.0.0.0:7000\"\n",
            &[
                ("SWITCHBOARD_SERVER__LISTEN", "127.0.0.1:9000"),
                ("SWITCHBOARD_DATABASE__URL", "postgres://u:p@localhost/db"),
                ("SWITCHBOARD_TEST_DATABASE_URL", "ignored"),
            ],
        )
        .expect("loads");
        assert_eq!(c.server.listen.to_string(), "127.0.0.1:9000");
        assert_eq!(c.data_dir, PathBuf::from("/srv/sb"));
        assert_eq!(c.database_url().expect("url"), DatabaseUrl::Postgres("postgres://u:p@localhost/db".into()));
    }

    #[test]
    fn unknown_key_is_named() {
        let err = load_with("[server]\nlisen = \"127.0.0.1:1\"\n", &[]).expect_err("unknown key");
        assert!(err.0.contains("lisen"), "{err}");
        let err = load_with("", &[("SWITCHBOARD_SERVER__PORTT", "1")]).expect_err("unknown env key");
        assert!(err.0.contains("portt"), "{err}");
    }

    #[test]
    fn bad_value_is_named() {
        let err = load_with("[server]\nlisten = \"not an address\"\n", &[]).expect_err("bad value");
        assert!(err.0.contains("server.listen"), "{err}");
        let err = load_with("[jobs]\nmax_attempts = 0\n", &[]).expect_err("zero attempts");
        assert!(err.0.contains("max_attempts"), "{err}");
    }

    #[test]
    fn bad_database_url_is_an_error_not_a_new_file() {
        let err = load_with("[database]\nurl = \"mysql://x/y\"\n", &[]).expect_err("bad scheme");
        assert!(err.0.contains("database.url"), "{err}");
        assert!(DatabaseUrl::parse("sqlite::memory:").is_err());
        assert!(DatabaseUrl::parse("postgres://").is_err());
    }

    #[test]
    fn redaction_hides_passwords() {
        assert_eq!(redact_url("postgres://u:secret@h:5432/db"), "postgres://u:<redacted>@h:5432/db");
        assert_eq!(redact_url("postgres://u@h/db"), "postgres://u@h/db");
        let mut c = Config::default();
        c.database.url = "postgres://u:secret@h/db".into();
        c.security.secret_key = "abc".into();
        let shown = c.redacted_toml();
        assert!(!shown.contains("secret@") && !shown.contains("\"abc\""), "{shown}");
    }

    #[test]
    fn example_file_covers_every_key_and_parses() {
        let example = include_str!("../../docs/switchboard.example.toml");
        let parsed: Config = toml::from_str(example).expect("example parses");
        parsed.validate().expect("example validates");
        // Every key of the full configuration appears in the example, uncommented.
        let full = toml::to_string(&Config::default()).expect("render");
        let full: toml::Table = toml::from_str(&full).expect("reparse");
        let example: toml::Table = toml::from_str(example).expect("reparse example");
        fn keys(prefix: &str, t: &toml::Table, out: &mut Vec<String>) {
            for (k, v) in t {
                let path = if prefix.is_empty() { k.clone() } else { format!("{prefix}.{k}") };
                match v {
                    toml::Value::Table(inner) => keys(&path, inner, out),
                    _ => out.push(path),
                }
            }
        }
        let (mut want, mut have) = (Vec::new(), Vec::new());
        keys("", &full, &mut want);
        keys("", &example, &mut have);
        // `database.url` and `security.secret_key` are empty by default and serialise as such; both must be present.
        for k in want {
            assert!(have.contains(&k), "docs/switchboard.example.toml lacks `{k}`");
        }
    }
}
