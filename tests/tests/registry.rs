//! Plugin lifecycle in the running server: bundled and installed plugins listed through the API, grants
//! as the intersection of manifest and config, refusal of an unsupported interface major and of bad
//! manifests, reload without restart (a call in flight finishes on the old version), enable and disable
//! through the configuration file or by an owner through the API (kept across restarts), and the roles that
//! may do each.

use std::path::Path;
use std::sync::Arc;

use axum::routing::post;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use switchboard::config::Config;
use switchboard::plugins::CallContext;
use switchboard_tests::{Backend, TestServer, assert_error, both_backends, build_wasm, build_wasm_with};
use tokio::sync::{Notify, oneshot};

fn install(dir: &Path, folder: &str, manifest: &str, wasm: &[u8]) {
    let at = dir.join(folder);
    std::fs::create_dir_all(&at).expect("plugin folder");
    std::fs::write(at.join("plugin.toml"), manifest).expect("manifest");
    std::fs::write(at.join("plugin.wasm"), wasm).expect("wasm");
}

fn echo_manifest(port: u16) -> String {
    format!(
        r#"
[plugin]
id = "echo-step"
name = "Echo"
version = "0.1.0"
world = "step"
wasm = "plugin.wasm"

[capabilities]
outbound_hosts = ["http://127.0.0.1:{port}", "https://api.declared.test"]
"#
    )
}

fn config_file(plugins_dir: &Path, extra: &str) -> String {
    format!(
        "[plugins]\ndir = {:?}\nallow_private_addresses = [\"127.0.0.1\"]\n{extra}",
        plugins_dir.display().to_string()
    )
}

/// A loopback "provider" that holds every request until the test releases it, and says when one arrived.
async fn gate() -> (u16, Arc<Notify>, oneshot::Sender<()>) {
    let arrived = Arc::new(Notify::new());
    let (release_tx, release_rx) = oneshot::channel::<()>();
    let release = Arc::new(tokio::sync::Mutex::new(Some(release_rx)));
    let seen = arrived.clone();
    let app = axum::Router::new().route(
        "/hold",
        post(move || {
            let (seen, release) = (seen.clone(), release.clone());
            async move {
                seen.notify_one();
                if let Some(rx) = release.lock().await.take() {
                    let _ = rx.await;
                }
                axum::Json(json!({}))
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let port = listener.local_addr().expect("addr").port();
    tokio::spawn(async move { axum::serve(listener, app).await.expect("serve") });
    (port, arrived, release_tx)
}

fn by_id<'a>(list: &'a Value, id: &str) -> &'a Value {
    list.as_array().and_then(|l| l.iter().find(|p| p["id"] == id)).unwrap_or_else(|| panic!("no {id} in {list}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn plugins_are_listed_reloaded_and_swapped_without_restart() {
    let v1 = build_wasm("tests/plugins", "echo-step");
    let v2 = build_wasm_with("tests/plugins", "echo-step", &["v2"]);
    let future = build_wasm("tests/plugins", "future-major");
    let (port, arrived, release) = gate().await;

    let root = tempfile::tempdir().expect("tempdir");
    let plugins_dir = root.path().join("plugins");
    install(&plugins_dir, "echo", &echo_manifest(port), &v1);
    let future_manifest = "[plugin]\nid = \"future-major\"\nname = \"F\"\nversion = \"9.0.0\"\nworld = \"channel\"\nwasm = \"plugin.wasm\"\n";
    install(&plugins_dir, "future", future_manifest, &future);
    install(
        &plugins_dir,
        "broken",
        "[plugin]\nid = \"Not Valid\"\nname = \"x\"\nversion = \"1\"\nworld = \"step\"\n",
        b"",
    );
    // The admin grants the loopback gate and a host the plugin never declared.
    let grant = format!(
        "[plugins.settings.echo-step]\noutbound_hosts = [\"http://127.0.0.1:{port}\", \"https://other.test\"]\n"
    );
    let file = root.path().join("switchboard.toml");
    std::fs::write(&file, config_file(&plugins_dir, &grant)).expect("config");
    let loaded = Config::load(Some(&file)).expect("config loads");
    let s = TestServer::start_with(Backend::Sqlite, |c| {
        c.plugins = loaded.plugins.clone();
        c.source_file = Some(file.clone());
    })
    .await;

    // The list: bundled, installed, and those that failed with the reason.
    let (status, list) = s.get("/api/v1/plugins").await;
    assert_eq!(status, StatusCode::OK, "{list}");
    let example = by_id(&list, "example-channel");
    assert_eq!((example["source"].clone(), example["status"].clone()), (json!("bundled"), json!("ready")));
    assert_eq!(example["channel"]["capabilities"]["text"], true, "{example}");
    assert_eq!(example["secrets"][0]["name"], "shared_secret");
    let echo = by_id(&list, "echo-step");
    assert_eq!(
        (echo["source"].clone(), echo["status"].clone(), echo["world"].clone()),
        (json!("installed"), json!("ready"), json!("step"))
    );
    assert_eq!(echo["granted"]["outbound_hosts"], json!([format!("http://127.0.0.1:{port}")]), "declared ∩ granted");
    assert_eq!(echo["declared"]["outbound_hosts"][1], "https://api.declared.test");
    let refused = by_id(&list, "future-major");
    assert_eq!(refused["status"], "failed");
    let why = refused["error"].as_str().expect("a reason");
    assert!(why.contains("2.0.0") && why.contains("1.x"), "{why}");
    let broken = by_id(&list, "broken");
    assert!(broken["error"].as_str().is_some_and(|e| e.contains("plugin.id")), "{broken}");

    // A call in flight on version 1: it waits at the gate while version 2 replaces it on disk.
    let entry = s.app.plugins.get("echo-step").expect("echo entry");
    let step = entry.step().cloned().expect("ready step");
    let ctx = CallContext { plugin_id: "echo-step".into(), ..Default::default() };
    let inputs = json!({"text": "old", "wait_on": format!("http://127.0.0.1:{port}/hold")}).to_string();
    let in_flight = tokio::spawn(async move { step.run(ctx, "{}".into(), inputs).await });
    arrived.notified().await;
    std::fs::write(plugins_dir.join("echo/plugin.wasm"), &v2).expect("swap the component");
    let (status, reloaded) = s.post("/api/v1/plugins/echo-step/reload", json!({})).await;
    assert_eq!(status, StatusCode::OK, "{reloaded}");
    assert_ne!(reloaded["sha256"], echo["sha256"], "the new file was read");
    assert!(!in_flight.is_finished(), "the old call is still waiting at the gate");
    release.send(()).expect("release the gate");
    let old = in_flight.await.expect("join").expect("call").expect("ok");
    assert_eq!(serde_json::from_str::<Value>(&old.outputs).expect("json")["version"], "0.1.0");
    let new_step = s.app.plugins.get("echo-step").and_then(|e| e.step().cloned()).expect("reloaded step");
    let ctx = CallContext { plugin_id: "echo-step".into(), ..Default::default() };
    let new = new_step.run(ctx, "{}".into(), json!({"text": "new"}).to_string()).await.expect("call").expect("ok");
    assert_eq!(serde_json::from_str::<Value>(&new.outputs).expect("json")["version"], "0.2.0");

    // Disabled through the configuration file, then a reload: no longer callable, still listed.
    let disabled = grant.clone() + "enabled = false\n";
    std::fs::write(&file, config_file(&plugins_dir, &disabled)).expect("config");
    let (status, off) = s.post("/api/v1/plugins/echo-step/reload", json!({})).await;
    assert_eq!((status, off["status"].clone()), (StatusCode::OK, json!("disabled")), "{off}");
    assert!(s.app.plugins.get("echo-step").is_some_and(|e| e.step().is_none()));
    // A broken configuration file is refused and changes nothing.
    std::fs::write(&file, "[plugins]\nsettings = 3\n").expect("config");
    let bad = s.post("/api/v1/plugins/echo-step/reload", json!({})).await;
    assert_error(&bad, 409, "config_invalid");
    assert!(bad.1["error"]["message"].as_str().is_some_and(|m| m.contains("plugins.settings")), "{}", bad.1);
    assert_eq!(s.get("/api/v1/plugins/echo-step").await.1["status"], "disabled");

    // Re-enabled with per-plugin limits; a plugin installed meanwhile appears on reloading all.
    let limited = grant + "limits = { timeout_ms = 1234 }\n";
    std::fs::write(&file, config_file(&plugins_dir, &limited)).expect("config");
    let integration = "[plugin]\nid = \"echo-integration\"\nname = \"I\"\nversion = \"0.1.0\"\nworld = \"integration\"\nwasm = \"plugin.wasm\"\n";
    install(&plugins_dir, "integration", integration, &build_wasm("tests/plugins", "echo-integration"));
    let (status, all) = s.post("/api/v1/plugins/reload", json!({})).await;
    assert_eq!(status, StatusCode::OK, "{all}");
    let echo = by_id(&all, "echo-step");
    assert_eq!((echo["status"].clone(), echo["limits"]["timeout_ms"].clone()), (json!("ready"), json!(1234)));
    assert_eq!(by_id(&all, "echo-integration")["status"], "ready", "{all}");

    // Uninstalled: a reload forgets it.
    std::fs::remove_dir_all(plugins_dir.join("echo")).expect("uninstall");
    assert_error(&s.post("/api/v1/plugins/echo-step/reload", json!({})).await, 404, "not_found");
    assert_error(&s.get("/api/v1/plugins/echo-step").await, 404, "not_found");

    // Who may do what: agents see no plugins, managers may look but not reload.
    let (_, agent) = s.user("agent@acme.test", "agent").await;
    let (_, manager) = s.user("manager@acme.test", "manager").await;
    assert_error(&s.call(Method::GET, "/api/v1/plugins", Some(&agent), None).await, 403, "forbidden");
    assert_eq!(s.call(Method::GET, "/api/v1/plugins", Some(&manager), None).await.0, StatusCode::OK);
    let by_manager = s.call(Method::POST, "/api/v1/plugins/example-channel/reload", Some(&manager), None).await;
    assert_error(&by_manager, 403, "forbidden");
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_third_party_plugin_gets_no_hosts_it_was_not_granted() {
    let root = tempfile::tempdir().expect("tempdir");
    let plugins_dir = root.path().join("plugins");
    install(&plugins_dir, "echo", &echo_manifest(9), &build_wasm("tests/plugins", "echo-step"));
    let s = TestServer::start_with(Backend::Sqlite, |c| {
        c.plugins.dir = plugins_dir.display().to_string();
        // The bundled example declares `*`: it gets exactly what the admin grants.
        c.plugins.settings.insert(
            "example-channel".into(),
            toml_settings("outbound_hosts = [\"https://provider.test\"]\nkv = false"),
        );
    })
    .await;
    let list = s.get("/api/v1/plugins").await.1;
    assert_eq!(by_id(&list, "echo-step")["granted"], json!({"outbound_hosts": [], "kv": false, "mail": false}));
    assert_eq!(by_id(&list, "example-channel")["granted"]["outbound_hosts"], json!(["https://provider.test"]));
    s.stop().await;
}

fn toml_settings(text: &str) -> switchboard::config::PluginSettings {
    toml::from_str(text).expect("settings parse")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_server_keeps_answering_while_installed_plugins_misbehave() {
    let root = tempfile::tempdir().expect("tempdir");
    let plugins_dir = root.path().join("plugins");
    let manifest =
        "[plugin]\nid = \"hostile\"\nname = \"H\"\nversion = \"0.1.0\"\nworld = \"channel\"\nwasm = \"plugin.wasm\"\n";
    install(&plugins_dir, "hostile", manifest, &build_wasm("tests/plugins", "hostile"));
    let s = TestServer::start_with(Backend::Sqlite, |c| {
        c.plugins.dir = plugins_dir.display().to_string();
        c.plugins.settings.insert("hostile".into(), toml_settings("limits = { timeout_ms = 8000 }"));
    })
    .await;
    let hostile = s.app.plugins.channel("hostile").expect("hostile is ready");
    // More spinning calls than the runtime has worker threads, plus a memory bomb and a panic.
    let started = std::time::Instant::now();
    let mut calls = Vec::new();
    for what in ["loop", "loop", "loop", "loop", "memory", "panic"] {
        let p = hostile.clone();
        let request = switchboard::plugins::HttpRequest {
            method: "POST".into(),
            path: "/webhooks/1".into(),
            query: String::new(),
            headers: Vec::new(),
            body: what.as_bytes().to_vec(),
        };
        let ctx = CallContext { plugin_id: "hostile".into(), ..Default::default() };
        calls.push(tokio::spawn(async move { p.handle_webhook(ctx, request).await }));
    }
    // Meanwhile the API answers, including a request that reads the plugin registry.
    for path in ["/healthz", "/api/v1/plugins", "/api/v1/contacts"] {
        let (status, body) = s.get(path).await;
        assert_eq!(status, StatusCode::OK, "{path}: {body}");
    }
    // Had the spinning calls held the server's threads, they would have reached their deadline by now.
    let still_spinning = calls[..4].iter().filter(|c| !c.is_finished()).count();
    assert_eq!(still_spinning, 4, "the API answered while every spinning call was still running");
    let mut outcomes = Vec::new();
    for call in calls {
        outcomes.push(call.await.expect("join").expect_err("every hostile call fails"));
    }
    let finished_at = started.elapsed();
    assert!(finished_at < std::time::Duration::from_secs(30), "stopped near their deadline: {finished_at:?}");
    let timeouts = outcomes.iter().filter(|e| matches!(e, switchboard::plugins::PluginError::Timeout(8000))).count();
    assert_eq!(timeouts, 4, "{outcomes:?}");
    // The failures are counted by kind.
    let metrics = s.http.get(format!("{}/metrics", s.base)).send().await.expect("metrics").text().await.expect("text");
    assert!(
        metrics.lines().any(|l| l.starts_with("switchboard_plugin_calls_total")
            && l.contains("plugin=\"hostile\"")
            && l.contains("outcome=\"timeout\"")),
        "{metrics}"
    );
    s.stop().await;
}

both_backends!(owners_switch_a_plugin_off_and_on, plugin_switch);

async fn plugin_switch(backend: Backend) {
    let s = TestServer::start(backend).await;
    let ch = switchboard_tests::inbox::example_channel(&s, "Example").await;
    let deliver = |id: &'static str| {
        let s = &s;
        async move {
            let body = format!(r#"{{"from": "user-7", "id": "{id}", "text": "hello"}}"#);
            s.http
                .post(format!("{}/webhooks/{ch}", s.base))
                .header("x-example-secret", "s")
                .header("content-type", "application/json")
                .body(body)
                .send()
                .await
                .expect("webhook")
                .status()
        }
    };
    assert_eq!(deliver("m-1").await, StatusCode::OK);

    let (_, manager) = s.user("manager@acme.test", "manager").await;
    let by_manager = s.call(Method::POST, "/api/v1/plugins/example-channel/disable", Some(&manager), Some(json!({})));
    assert_error(&by_manager.await, 403, "forbidden");
    assert_error(&s.post("/api/v1/plugins/no-such-plugin/disable", json!({})).await, 404, "not_found");

    let (status, view) = s.post("/api/v1/plugins/example-channel/disable", json!({})).await;
    assert_eq!(
        (status, view["status"].clone(), view["switched_off"].clone()),
        (StatusCode::OK, json!("disabled"), json!(true)),
        "{view}"
    );
    assert_eq!(deliver("m-2").await, StatusCode::SERVICE_UNAVAILABLE, "its channels stop taking deliveries");
    // Kept in the database: loading the plugins again (as a restart does) keeps it off.
    s.app.load_plugins().await;
    assert_eq!(s.get("/api/v1/plugins/example-channel").await.1["status"], "disabled");

    let (status, view) = s.post("/api/v1/plugins/example-channel/enable", json!({})).await;
    assert_eq!(
        (status, view["status"].clone(), view["switched_off"].clone()),
        (StatusCode::OK, json!("ready"), json!(false)),
        "{view}"
    );
    assert_eq!(deliver("m-2").await, StatusCode::OK, "back on, the provider's retry is taken");
    s.stop().await;
}
