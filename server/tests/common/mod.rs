//! What the tests of the real binary share: running a command, and starting `serve` on a free port.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};

pub const BIN: &str = env!("CARGO_BIN_EXE_switchboard");

/// `target/test-plugin-cache`: one cache of compiled plugins for every server the tests start (the same one
/// the `tests` crate's servers use). A debug build compiles the bundled plugins with unoptimised Cranelift,
/// minutes of CPU, so only the first server of a run should do it.
pub fn shared_plugin_cache() -> String {
    concat!(env!("CARGO_MANIFEST_DIR"), "/../target/test-plugin-cache").to_owned()
}

/// Runs a command in `dir` and returns its output (a test failure if it fails).
pub fn run(dir: &Path, args: &[&str]) -> String {
    let o = Command::new(BIN).current_dir(dir).env_clear().args(args).output().expect("run switchboard");
    assert!(o.status.success(), "{args:?}: {}", String::from_utf8_lossy(&o.stderr));
    String::from_utf8_lossy(&o.stdout).into_owned()
}

/// Starts `serve` in `dir` on a free loopback port with `env` added, and returns it with its address once
/// it listens; its log is drained so it never blocks on a full pipe.
pub fn serve(dir: &Path, env: &[(&str, &str)]) -> (Child, String) {
    let mut server = Command::new(BIN)
        .current_dir(dir)
        .env_clear()
        .args(["serve"])
        .env("SWITCHBOARD_SERVER__LISTEN", "127.0.0.1:0")
        .env("SWITCHBOARD_LOG__FORMAT", "json")
        .env("SWITCHBOARD_LOG__LEVEL", "warn,switchboard=info")
        .env("SWITCHBOARD_PLUGINS__CACHE_DIR", shared_plugin_cache())
        .envs(env.iter().copied())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start server");
    let mut lines = BufReader::new(server.stderr.take().expect("stderr")).lines();
    let addr = loop {
        let line = lines.next().expect("server exited before listening").expect("read log");
        let Ok(entry) = serde_json::from_str::<serde_json::Value>(&line) else { continue };
        if entry["message"] == "switchboard listening" {
            break entry["addr"].as_str().expect("addr").to_owned();
        }
    };
    std::thread::spawn(move || for _ in lines {});
    (server, addr)
}
