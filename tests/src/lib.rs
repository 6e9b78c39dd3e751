//! Test harness: a fresh database per test on each backend, and the real server on `127.0.0.1:0`.
//!
//! SQLite always runs. PostgreSQL runs when `SWITCHBOARD_TEST_DATABASE_URL` names a server: each test
//! creates its own database there and drops it at the end.

pub mod inbox;
pub mod mail;
pub mod providers;
pub mod workflows;

use std::sync::Arc;

use rand::Rng;
use reqwest::{Method, StatusCode};
use serde_json::Value;
use switchboard::App;
use switchboard::config::Config;
use switchboard::jobs::JobRegistry;
use switchboard::model::{Actor, Id};
use switchboard::service::accounts::{self, InitRequest};
use tokio::sync::oneshot;

/// Environment variable naming the PostgreSQL server for the PostgreSQL variants.
pub const PG_ENV: &str = "SWITCHBOARD_TEST_DATABASE_URL";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// Runs `$body(backend)` once per backend as two tests, `$name::sqlite` and `$name::postgres`.
/// The PostgreSQL variant passes without doing anything when `SWITCHBOARD_TEST_DATABASE_URL` is unset
/// (it says so on stderr); CI sets it.
#[macro_export]
macro_rules! both_backends {
    ($name:ident, $body:ident) => {
        mod $name {
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                super::$body($crate::Backend::Sqlite).await;
            }
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() {
                if !$crate::postgres_enabled() {
                    eprintln!("skipped: set {} to run the PostgreSQL variant", $crate::PG_ENV);
                    return;
                }
                super::$body($crate::Backend::Postgres).await;
            }
        }
    };
}

pub fn postgres_enabled() -> bool {
    std::env::var(PG_ENV).is_ok_and(|v| !v.is_empty())
}

/// A fresh, empty database for one test; dropped (PostgreSQL) or deleted (SQLite) afterwards.
pub struct TestDb {
    pub config: Config,
    pub dir: tempfile::TempDir,
    pg_admin: Option<(String, String)>,
}

impl TestDb {
    pub async fn new(backend: Backend) -> Self {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut config = Config { data_dir: dir.path().to_path_buf(), ..Default::default() };
        config.jobs.enabled = false;
        // Search tests turn indexing on; elsewhere it would only add a background writer per server.
        config.search.enabled = false;
        // One cache of compiled plugins for the whole suite: only the first server compiles the bundled ones.
        config.plugins.cache_dir = shared_plugin_cache().display().to_string();
        let mut pg_admin = None;
        if backend == Backend::Postgres {
            let admin = std::env::var(PG_ENV).expect("PostgreSQL URL");
            let name = format!("sbtest_{:016x}", rand::thread_rng().r#gen::<u64>());
            let pool = sqlx::PgPool::connect(&admin).await.expect("connect to the PostgreSQL test server");
            sqlx::query(&format!("CREATE DATABASE {name}")).execute(&pool).await.expect("create test database");
            pool.close().await;
            config.database.url = with_database(&admin, &name);
            pg_admin = Some((admin, name));
        }
        Self { config, dir, pg_admin }
    }

    /// Opens the application (migrations applied) on this database.
    pub async fn app(&self) -> Arc<App> {
        App::open(self.config.clone()).await.expect("open app")
    }

    pub async fn app_with(&self, jobs: JobRegistry) -> Arc<App> {
        App::open_with(self.config.clone(), jobs).await.expect("open app")
    }

    /// Drops the PostgreSQL database (SQLite's directory goes with `dir`).
    pub async fn cleanup(self) {
        if let Some((admin, name)) = &self.pg_admin
            && let Ok(pool) = sqlx::PgPool::connect(admin).await
        {
            let _ = sqlx::query(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)")).execute(&pool).await;
            pool.close().await;
        }
    }
}

/// `target/test-plugin-cache`, shared by every test server.
pub fn shared_plugin_cache() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).parent().expect("repo root").join("target/test-plugin-cache")
}

/// Replaces the database name of a PostgreSQL URL.
fn with_database(url: &str, name: &str) -> String {
    let (base, query) = match url.split_once('?') {
        Some((b, q)) => (b, Some(q)),
        None => (url, None),
    };
    let scheme_end = base.find("://").map_or(0, |i| i + 3);
    let host_part = match base[scheme_end..].find('/') {
        Some(i) => &base[..scheme_end + i],
        None => base,
    };
    match query {
        Some(q) => format!("{host_part}/{name}?{q}"),
        None => format!("{host_part}/{name}"),
    }
}

/// A running server with an initialised workspace and an owner's API token.
pub struct TestServer {
    pub app: Arc<App>,
    pub base: String,
    pub http: reqwest::Client,
    /// The owner's bearer token in the first workspace.
    pub token: String,
    pub workspace_id: Id,
    pub owner_id: Id,
    stop: Option<oneshot::Sender<()>>,
    task: Option<tokio::task::JoinHandle<()>>,
    db: Option<TestDb>,
}

impl TestServer {
    pub async fn start(backend: Backend) -> Self {
        Self::start_with(backend, |_| {}).await
    }

    /// Like [`TestServer::start`], after `adjust` changed the configuration (its `data_dir` is the test's).
    pub async fn start_with(backend: Backend, adjust: impl FnOnce(&mut Config)) -> Self {
        let mut db = TestDb::new(backend).await;
        adjust(&mut db.config);
        let app = db.app().await;
        app.load_plugins().await;
        let (_, ws, owner) = accounts::init(
            &app,
            InitRequest {
                organisation: Some("Acme".into()),
                workspace: "Support".into(),
                email: "owner@acme.test".into(),
                name: Some("Olivia Owner".into()),
                password: "owner-password".into(),
            },
        )
        .await
        .expect("init");
        let token = accounts::issue_token(&app, ws.id, owner.id, "tests", Actor::system()).await.expect("token").token;
        Self::serve(app, db, token, ws.id, owner.id).await
    }

    /// A server on a database where nothing was set up yet (no organisation, so no token): the first run.
    pub async fn start_uninitialized(backend: Backend) -> Self {
        let db = TestDb::new(backend).await;
        let app = db.app().await;
        app.load_plugins().await;
        Self::serve(app, db, String::new(), 0, 0).await
    }

    async fn serve(app: Arc<App>, db: TestDb, token: String, workspace_id: Id, owner_id: Id) -> Self {
        // Bind first, then serve: the port is known before any request, so no sleeps are needed.
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let base = format!("http://{}", listener.local_addr().expect("addr"));
        let (stop, stopped) = oneshot::channel::<()>();
        let server_app = app.clone();
        let task = tokio::spawn(async move {
            switchboard::run(server_app, listener, async {
                let _ = stopped.await;
            })
            .await
            .expect("server runs");
        });
        let http = reqwest::Client::builder().cookie_store(true).build().expect("client");
        Self { app, base, http, token, workspace_id, owner_id, stop: Some(stop), task: Some(task), db: Some(db) }
    }

    /// Sends a request with `token` (none when `None`) and returns the status and JSON body (`Null` if empty).
    pub async fn call(
        &self,
        method: Method,
        path: &str,
        token: Option<&str>,
        body: Option<Value>,
    ) -> (StatusCode, Value) {
        let mut req = self.http.request(method, format!("{}{path}", self.base));
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        if let Some(b) = body {
            req = req.json(&b);
        }
        let resp = req.send().await.expect("request");
        let status = resp.status();
        let text = resp.text().await.expect("body");
        let json =
            if text.is_empty() { Value::Null } else { serde_json::from_str(&text).unwrap_or(Value::String(text)) };
        (status, json)
    }

    /// As the owner.
    pub async fn get(&self, path: &str) -> (StatusCode, Value) {
        self.call(Method::GET, path, Some(&self.token.clone()), None).await
    }
    pub async fn post(&self, path: &str, body: Value) -> (StatusCode, Value) {
        self.call(Method::POST, path, Some(&self.token.clone()), Some(body)).await
    }
    pub async fn patch(&self, path: &str, body: Value) -> (StatusCode, Value) {
        self.call(Method::PATCH, path, Some(&self.token.clone()), Some(body)).await
    }
    pub async fn put(&self, path: &str, body: Option<Value>) -> (StatusCode, Value) {
        self.call(Method::PUT, path, Some(&self.token.clone()), body).await
    }
    pub async fn delete(&self, path: &str) -> (StatusCode, Value) {
        self.call(Method::DELETE, path, Some(&self.token.clone()), None).await
    }

    /// Creates a user with `role` in the first workspace and returns (id, token).
    pub async fn user(&self, email: &str, role: &str) -> (Id, String) {
        let (status, user) = self
            .post(
                "/api/v1/users",
                serde_json::json!({ "email": email, "name": email, "password": "password-123", "role": role }),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{user}");
        let id = user["id"].as_i64().expect("user id");
        let token =
            accounts::issue_token(&self.app, self.workspace_id, id, "t", Actor::system()).await.expect("token").token;
        (id, token)
    }

    /// Stops the server and drops the database.
    pub async fn stop(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(task) = self.task.take() {
            let _ = task.await;
        }
        if let Some(db) = self.db.take() {
            db.cleanup().await;
        }
    }
}

/// Asserts an error response: status and stable code.
#[track_caller]
pub fn assert_error(got: &(StatusCode, Value), status: u16, code: &str) {
    assert_eq!(got.0.as_u16(), status, "unexpected status; body: {}", got.1);
    assert_eq!(got.1["error"]["code"], code, "unexpected error code; body: {}", got.1);
    assert!(got.1["error"]["message"].as_str().is_some_and(|m| !m.is_empty()), "error without message: {}", got.1);
}

/// Builds a plugin crate for `wasm32-wasip2` (once per process and crate) and returns the component.
/// `workspace` is relative to the repository root: `plugins` (first-party) or `tests/plugins` (test-only).
pub fn build_wasm(workspace: &str, krate: &str) -> Vec<u8> {
    build_wasm_with(workspace, krate, &[])
}

/// Like [`build_wasm`], with cargo features of the plugin crate turned on.
pub fn build_wasm_with(workspace: &str, krate: &str, features: &[&str]) -> Vec<u8> {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).parent().expect("repo root").to_path_buf();
    switchboard_plugin_host::testing::build_component_with(&root.join(workspace).join(krate), features)
}

/// One request a [`FakeProvider`] received.
#[derive(Debug, Clone)]
pub struct Recorded {
    pub method: String,
    /// Path and query, e.g. `/bot123:ABC/sendMessage`.
    pub path: String,
    /// Header names lower-cased.
    pub headers: std::collections::BTreeMap<String, String>,
    pub body: Vec<u8>,
}

impl Recorded {
    /// The body as JSON (`Null` if it is not JSON).
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or_default()
    }
}

type Answer = (String, u16, String, Vec<u8>);

/// A provider API on loopback (WhatsApp's Graph API, Telegram's Bot API, a custom channel's system…): it
/// records every request and answers each path with what the test set (latest matching prefix wins;
/// `200 {}` otherwise), as the real API would.
#[derive(Clone)]
pub struct FakeProvider {
    pub port: u16,
    seen: Arc<std::sync::Mutex<Vec<Recorded>>>,
    answers: Arc<std::sync::Mutex<Vec<Answer>>>,
}

impl FakeProvider {
    pub async fn start() -> Self {
        let seen: Arc<std::sync::Mutex<Vec<Recorded>>> = Arc::default();
        let answers: Arc<std::sync::Mutex<Vec<Answer>>> = Arc::default();
        let (record, reply) = (seen.clone(), answers.clone());
        let app = axum::Router::new().fallback(move |req: axum::extract::Request| {
            let (record, reply) = (record.clone(), reply.clone());
            async move {
                let method = req.method().to_string();
                let path = req.uri().path_and_query().map(|p| p.to_string()).unwrap_or_default();
                let headers = req
                    .headers()
                    .iter()
                    .filter_map(|(k, v)| v.to_str().ok().map(|v| (k.as_str().to_owned(), v.to_owned())))
                    .collect();
                let body = axum::body::to_bytes(req.into_body(), 64 << 20).await.unwrap_or_default().to_vec();
                record.lock().expect("lock").push(Recorded { method, path: path.clone(), headers, body });
                let found =
                    reply.lock().expect("lock").iter().rev().find(|(p, ..)| path.starts_with(p.as_str())).cloned();
                let (_, status, content_type, body) =
                    found.unwrap_or_else(|| (String::new(), 200, "application/json".into(), b"{}".to_vec()));
                let status = axum::http::StatusCode::from_u16(status).expect("status");
                (status, [(axum::http::header::CONTENT_TYPE, content_type)], body)
            }
        });
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let port = listener.local_addr().expect("addr").port();
        tokio::spawn(async move { axum::serve(listener, app).await.expect("serve") });
        Self { port, seen, answers }
    }

    /// `http://127.0.0.1:PORT`.
    pub fn base(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// Answers requests whose path starts with `path_prefix` with this JSON.
    pub fn answer(&self, path_prefix: &str, status: u16, body: Value) {
        self.answer_bytes(path_prefix, status, "application/json", body.to_string().into_bytes());
    }

    /// Answers requests whose path starts with `path_prefix` with these bytes.
    pub fn answer_bytes(&self, path_prefix: &str, status: u16, content_type: &str, body: Vec<u8>) {
        self.answers.lock().expect("lock").push((path_prefix.to_owned(), status, content_type.to_owned(), body));
    }

    /// Every request so far, in order.
    pub fn requests(&self) -> Vec<Recorded> {
        self.seen.lock().expect("lock").clone()
    }
}
