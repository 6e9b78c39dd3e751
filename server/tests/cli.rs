//! The `switchboard` binary as an operator uses it: config, migrate, init, user and token commands,
//! then `serve` answering a request made with the printed token, exactly as the README shows.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, Output, Stdio};

#[allow(dead_code)]
mod common;
use common::{BIN, shared_plugin_cache};

fn run(dir: &Path, args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut cmd = Command::new(BIN);
    cmd.current_dir(dir).env_clear().args(args);
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd.output().expect("run switchboard")
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

#[test]
fn help_on_every_command() {
    let dir = tempfile::tempdir().expect("tempdir");
    for args in [
        vec!["--help"],
        vec!["serve", "--help"],
        vec!["migrate", "--help"],
        vec!["config", "--help"],
        vec!["init", "--help"],
        vec!["token", "--help"],
        vec!["token", "create", "--help"],
        vec!["user", "--help"],
        vec!["user", "create", "--help"],
        vec!["user", "list", "--help"],
        vec!["workspace", "create", "--help"],
        vec!["plugin", "check", "--help"],
        vec!["plugin", "list", "--help"],
        vec!["jobs", "list", "--help"],
        vec!["jobs", "retry", "--help"],
    ] {
        let o = run(dir.path(), &args, &[]);
        assert!(o.status.success(), "{args:?}: {}", stderr(&o));
        assert!(stdout(&o).contains("Usage:"), "{args:?}");
    }
}

#[test]
fn plugin_list_shows_bundled_and_installed_plugins() {
    let dir = tempfile::tempdir().expect("tempdir");
    // An installed plugin whose manifest is wrong is listed as failed, with the key at fault.
    let broken = dir.path().join("data/plugins/broken");
    std::fs::create_dir_all(&broken).expect("plugin dir");
    std::fs::write(
        broken.join("plugin.toml"),
        "[plugin]\nid = \"broken\"\nname = \"B\"\nversion = \"1\"\nworld = \"gateway\"\n",
    )
    .expect("manifest");
    let cache = shared_plugin_cache();
    let env = [("SWITCHBOARD_PLUGINS__CACHE_DIR", cache.as_str())];
    let o = run(dir.path(), &["plugin", "list"], &env);
    assert!(o.status.success(), "{}", stderr(&o));
    let out = stdout(&o);
    let example = out.lines().find(|l| l.starts_with("example-channel")).unwrap_or_else(|| panic!("{out}"));
    assert!(example.contains("channel") && example.contains("bundled") && example.contains("ready"), "{out}");
    assert!(out.contains("broken") && out.contains("failed") && out.contains("world"), "{out}");
    // The compiled plugins are cached where the configuration says (the default, `data/plugin-cache`, is
    // checked by the config's tests), not in the data directory; JSON output has the API's shape.
    assert!(!dir.path().join("data/plugin-cache").exists());
    let cached = std::fs::read_dir(&cache)
        .expect("the configured cache exists")
        .flatten()
        .filter_map(|engine_dir| std::fs::read_dir(engine_dir.path()).ok())
        .flatten()
        .flatten()
        .filter(|f| f.path().extension().is_some_and(|e| e == "cwasm"))
        .count();
    assert!(cached >= 1, "no compiled plugin in {cache}");
    let o = run(dir.path(), &["plugin", "list", "--json"], &env);
    let list: serde_json::Value = serde_json::from_slice(&o.stdout).expect("JSON");
    let example = list.as_array().and_then(|l| l.iter().find(|p| p["id"] == "example-channel")).expect("listed");
    assert_eq!((example["source"].as_str(), example["status"].as_str()), (Some("bundled"), Some("ready")));
    assert_eq!(example["sha256"].as_str().map(str::len), Some(64));
}

#[test]
fn jobs_are_listed_and_unknown_ones_named() {
    let dir = tempfile::tempdir().expect("tempdir");
    let o = run(dir.path(), &["jobs", "list", "--status", "failed"], &[]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(stdout(&o).starts_with("ID"), "{}", stdout(&o));
    let o = run(dir.path(), &["jobs", "list", "--status", "stuck"], &[]);
    assert!(!o.status.success() && stderr(&o).contains("stuck"), "{}", stderr(&o));
    let o = run(dir.path(), &["jobs", "retry", "4242"], &[]);
    assert!(!o.status.success() && stderr(&o).contains("job 4242"), "{}", stderr(&o));
}

#[test]
fn configuration_errors_name_the_key_and_create_nothing() {
    let dir = tempfile::tempdir().expect("tempdir");
    let o = run(dir.path(), &["config"], &[]);
    assert!(o.status.success());
    assert!(stdout(&o).contains("listen = \"127.0.0.1:8080\""), "{}", stdout(&o));

    let o = run(
        dir.path(),
        &["config"],
        &[
            ("SWITCHBOARD_SERVER__LISTEN", "127.0.0.1:9000"),
            ("SWITCHBOARD_DATABASE__URL", "postgres://u:hunter2@db/sb"),
        ],
    );
    let shown = stdout(&o);
    assert!(shown.contains("127.0.0.1:9000"), "{shown}");
    assert!(shown.contains("postgres://u:<redacted>@db/sb") && !shown.contains("hunter2"), "{shown}");

    let o = run(dir.path(), &["config"], &[("SWITCHBOARD_SERVER__LISTEN", "not-an-address")]);
    assert!(!o.status.success());
    assert!(stderr(&o).contains("server.listen"), "{}", stderr(&o));

    std::fs::write(dir.path().join("switchboard.toml"), "[server]\nlisen = \"127.0.0.1:1\"\n").expect("write");
    let o = run(dir.path(), &["config"], &[]);
    assert!(!o.status.success());
    assert!(stderr(&o).contains("lisen"), "{}", stderr(&o));
    std::fs::remove_file(dir.path().join("switchboard.toml")).expect("rm");

    let o = run(dir.path(), &["config", "--config", "missing.toml"], &[]);
    assert!(!o.status.success() && stderr(&o).contains("missing.toml"), "{}", stderr(&o));

    let o = run(dir.path(), &["migrate"], &[("SWITCHBOARD_DATABASE__URL", "mysql://localhost/sb")]);
    assert!(!o.status.success());
    assert!(stderr(&o).contains("database.url"), "{}", stderr(&o));
    // An unreachable PostgreSQL server is an error, never a fallback to a new SQLite file.
    let o = run(dir.path(), &["migrate"], &[("SWITCHBOARD_DATABASE__URL", "postgres://nobody@127.0.0.1:1/none")]);
    assert!(!o.status.success());
    assert!(!dir.path().join("data/switchboard.db").exists());
}

#[tokio::test]
async fn init_token_serve_and_create_a_contact() {
    let dir = tempfile::tempdir().expect("tempdir");
    let d = dir.path();
    let o = run(d, &["migrate"], &[]);
    assert!(o.status.success(), "{}", stderr(&o));
    let o = run(
        d,
        &["init", "--workspace", "Acme Support", "--email", "owner@acme.test", "--password", "correct-horse"],
        &[],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(stdout(&o).contains("created workspace Acme Support"));
    let again = run(d, &["init", "--workspace", "Again", "--email", "x@acme.test", "--password", "correct-horse"], &[]);
    assert!(!again.status.success(), "init refuses to run twice");
    assert!(stderr(&again).contains("already exists"), "{}", stderr(&again));

    let o = run(
        d,
        &[
            "user",
            "create",
            "--email",
            "agent@acme.test",
            "--name",
            "Agent",
            "--password",
            "agent-pass",
            "--role",
            "agent",
        ],
        &[],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let o = run(d, &["user", "create", "--email", "bad", "--name", "B", "--password", "agent-pass"], &[]);
    assert!(!o.status.success() && stderr(&o).contains("--email"), "{}", stderr(&o));
    let o = run(d, &["user", "list"], &[]);
    assert!(stdout(&o).contains("agent@acme.test") && stdout(&o).contains("owner@acme.test"), "{}", stdout(&o));

    let o = run(d, &["token", "create", "--email", "owner@acme.test", "--name", "readme"], &[]);
    assert!(o.status.success(), "{}", stderr(&o));
    let token = stdout(&o).lines().last().expect("token line").trim().to_owned();
    assert!(token.starts_with("sb_"), "{token}");
    let key = std::fs::metadata(d.join("data/secret.key")).expect("secret key generated");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(key.permissions().mode() & 0o777, 0o600);
    }

    // Its stdout goes nowhere and it is killed if this test fails: a server left running would keep the
    // test runner's output pipe open and hang whatever reads it (CI's `tee`).
    let mut server = KillOnDrop(
        Command::new(BIN)
            .current_dir(d)
            .env_clear()
            .args(["serve"])
            .env("SWITCHBOARD_SERVER__LISTEN", "127.0.0.1:0")
            .env("SWITCHBOARD_LOG__FORMAT", "json")
            .env("SWITCHBOARD_PLUGINS__CACHE_DIR", shared_plugin_cache())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start server"),
    );
    // The server logs its address once it is listening; read it instead of guessing or sleeping.
    // A thread drains the log all the time: a server writing into a full pipe nobody reads would block.
    let (log_tx, lines) = std::sync::mpsc::channel::<String>();
    let stderr = BufReader::new(server.0.stderr.take().expect("stderr"));
    std::thread::spawn(move || {
        for line in stderr.lines().map_while(Result::ok) {
            let _ = log_tx.send(line);
        }
    });
    let mut lines = lines.into_iter();
    let addr = loop {
        let line = lines.next().expect("server exited before listening");
        let Ok(entry) = serde_json::from_str::<serde_json::Value>(&line) else { continue };
        if entry["message"] == "switchboard listening" {
            break entry["addr"].as_str().expect("addr").to_owned();
        }
    };
    let client = reqwest::Client::new();
    let resp = client
        .post(format!("http://{addr}/api/v1/contacts"))
        .bearer_auth(&token)
        .json(&serde_json::json!({"first_name": "Ana", "phone": "+971501234567"}))
        .send()
        .await
        .expect("create contact");
    assert_eq!(resp.status(), 201);
    let contact: serde_json::Value = resp.json().await.expect("json");
    assert_eq!(contact["country"], "AE");
    // Ready once the bundled plugins are loaded (in the background: the API answered before). The deadline
    // only stops a hang: when the shared cache is empty, a debug build compiles every bundled plugin with
    // unoptimised Cranelift, which took over two minutes on a slow 2-core machine.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(600);
    loop {
        assert!(std::time::Instant::now() < deadline, "the plugins did not load within 10 minutes");
        let health = client.get(format!("http://{addr}/readyz")).send().await.expect("readyz");
        match health.status().as_u16() {
            200 => break,
            503 => tokio::time::sleep(std::time::Duration::from_millis(20)).await,
            other => panic!("readyz answered {other}"),
        }
    }

    // A plugin installed while the server runs is picked up on SIGHUP, without a restart.
    let late = d.join("data/plugins/late");
    std::fs::create_dir_all(&late).expect("plugin dir");
    std::fs::write(
        late.join("plugin.toml"),
        "[plugin]\nid = \"late\"\nname = \"L\"\nversion = \"1\"\nworld = \"step\"\n",
    )
    .expect("manifest");
    let hup = Command::new("kill").args(["-HUP", &server.0.id().to_string()]).status().expect("kill -HUP");
    assert!(hup.success());
    loop {
        let line = lines.next().expect("server exited before reloading");
        let Ok(entry) = serde_json::from_str::<serde_json::Value>(&line) else { continue };
        if entry["message"] == "plugins reloaded on SIGHUP" {
            break;
        }
    }
    let plugins: serde_json::Value = client
        .get(format!("http://{addr}/api/v1/plugins"))
        .bearer_auth(&token)
        .send()
        .await
        .expect("plugins")
        .json()
        .await
        .expect("json");
    let late = plugins.as_array().and_then(|l| l.iter().find(|p| p["id"] == "late")).expect("late is listed");
    assert_eq!(late["status"], "failed", "its .wasm is missing: {late}");

    // SIGTERM stops it cleanly.
    let pid = server.0.id().to_string();
    let killed = Command::new("kill").args(["-TERM", &pid]).status().expect("kill");
    assert!(killed.success());
    let status = server.0.wait().expect("wait");
    assert!(status.success(), "graceful shutdown exits 0: {status:?}");
}

/// A child process killed when the test ends, even by a failed assertion.
struct KillOnDrop(std::process::Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        if let Ok(None) = self.0.try_wait() {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
}
