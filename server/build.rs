//! Builds the first-party plugins in `plugins/` for `wasm32-wasip2` and writes the list that
//! `plugins::registry::bundled()` embeds, so `cargo build` alone yields a binary with its plugins.

use std::path::{Path, PathBuf};
use std::process::Command;

use sha2::Digest;

fn main() {
    let manifest_dir = PathBuf::from(env("CARGO_MANIFEST_DIR"));
    let root = manifest_dir.parent().expect("the server crate lives in the repository").to_path_buf();
    let plugins = root.join("plugins");
    let out = PathBuf::from(env("OUT_DIR")).join("bundled_plugins.rs");
    // The plugins' sources only: `plugins/target` (their own tests' builds) must not trigger a rebuild.
    println!("cargo:rerun-if-changed={}", plugins.join("Cargo.toml").display());
    println!("cargo:rerun-if-changed={}", plugins.join("Cargo.lock").display());
    println!("cargo:rerun-if-changed={}", root.join("plugin-sdk/src").display());
    println!("cargo:rerun-if-changed={}", root.join("plugin-sdk/wit").display());
    println!("cargo:rerun-if-changed={}", root.join("plugin-sdk/Cargo.toml").display());
    println!("cargo:rerun-if-env-changed=SWITCHBOARD_SKIP_PLUGIN_BUILD");

    let crates = plugin_crates(&plugins);
    for (_, dir) in &crates {
        println!("cargo:rerun-if-changed={}", dir.display());
    }
    if crates.is_empty() || std::env::var_os("SWITCHBOARD_SKIP_PLUGIN_BUILD").is_some() {
        std::fs::write(&out, "&[]").expect("write the bundled plugin list");
        return;
    }
    // Not the main target directory (the outer cargo holds its lock), but the one the SDK's test harness
    // builds the same plugins in (`plugin-host/src/testing.rs`, `target_dir`), so `cargo test` compiles
    // the plugins and their dependencies for wasm once, not once here and again for their harness tests.
    let target_dir = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| plugins.join("target"))
        .join("wasm-plugins");
    ensure_wasm_target();
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let mut cmd = Command::new(cargo);
    cmd.args(["build", "--release", "--target", "wasm32-wasip2", "--manifest-path"])
        .arg(plugins.join("Cargo.toml"))
        .args(crates.iter().flat_map(|(name, _)| ["-p".to_owned(), name.clone()]))
        .arg("--target-dir")
        .arg(&target_dir);
    // What the outer build set for the server must not leak into the plugins' build (clippy's driver,
    // host rustflags, coverage wrappers).
    for var in [
        "RUSTC_WORKSPACE_WRAPPER",
        "RUSTC_WRAPPER",
        "RUSTFLAGS",
        "CARGO_ENCODED_RUSTFLAGS",
        "CARGO_BUILD_TARGET",
        "CARGO_TARGET_DIR",
        "CARGO_BUILD_RUSTFLAGS",
    ] {
        cmd.env_remove(var);
    }
    let status = cmd.status().expect("run cargo to build the bundled plugins");
    assert!(status.success(), "building the plugins in plugins/ for wasm32-wasip2 failed (see above)");

    let mut list = String::from("&[\n");
    for (name, dir) in crates {
        let wasm = target_dir.join("wasm32-wasip2/release").join(format!("{}.wasm", name.replace('-', "_")));
        let manifest = dir.join("plugin.toml");
        assert!(manifest.is_file(), "{} has no plugin.toml", dir.display());
        assert!(wasm.is_file(), "{} was not built", wasm.display());
        // Hashed here, so that a start that finds the plugin compiled in its cache never reads the bytes.
        // The binary embeds a copy in OUT_DIR, which nothing else writes: the plugins' target directory is
        // shared with the test harness, whose builds could replace the file after it was hashed.
        let bytes = std::fs::read(&wasm).expect("read a built plugin");
        let sha256: [u8; 32] = sha2::Sha256::digest(&bytes).into();
        let embedded = out.with_file_name(format!("{name}.wasm"));
        std::fs::write(&embedded, &bytes).expect("copy a built plugin");
        list.push_str(&format!(
            "    Bundled {{ manifest: include_str!({:?}), wasm: include_bytes!({:?}), sha256: {:?} }},\n",
            manifest.display().to_string(),
            embedded.display().to_string(),
            sha256
        ));
    }
    list.push(']');
    std::fs::write(&out, list).expect("write the bundled plugin list");
}

/// `(package name, directory)` of every plugin listed in `[workspace.metadata.switchboard] bundle` of
/// the plugins workspace (members that are libraries or not finished stay out of the binary).
fn plugin_crates(plugins: &Path) -> Vec<(String, PathBuf)> {
    let Ok(text) = std::fs::read_to_string(plugins.join("Cargo.toml")) else { return Vec::new() };
    let workspace: toml::Table = toml::from_str(&text).expect("plugins/Cargo.toml parses");
    let members = workspace
        .get("workspace")
        .and_then(|w| w.get("metadata"))
        .and_then(|m| m.get("switchboard"))
        .and_then(|m| m.get("bundle"))
        .and_then(|m| m.as_array())
        .cloned()
        .unwrap_or_default();
    members
        .iter()
        .filter_map(|m| m.as_str())
        .map(|member| {
            let dir = plugins.join(member);
            let text = std::fs::read_to_string(dir.join("Cargo.toml")).expect("a plugin crate has a Cargo.toml");
            let package: toml::Table = toml::from_str(&text).expect("a plugin's Cargo.toml parses");
            let name = package["package"]["name"].as_str().expect("package.name").to_owned();
            (name, dir)
        })
        .collect()
}

/// Adds the `wasm32-wasip2` target when it is missing (rustup does not install it on its own here).
fn ensure_wasm_target() {
    let installed = Command::new("rustup")
        .args(["target", "list", "--installed"])
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).lines().any(|l| l.trim() == "wasm32-wasip2"))
        .unwrap_or(true);
    if !installed {
        let _ = Command::new("rustup").args(["target", "add", "wasm32-wasip2"]).status();
    }
}

fn env(name: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| panic!("cargo sets {name}"))
}
