//! Repository hygiene checks that keep the architecture's invariants true (docs/ARCHITECTURE.md):
//! every Rust file says what it is for, only `http` knows axum, only `store` knows SQL, request bodies are read
//! through the API's own extractors, and `unsafe` appears in one reviewed place.

use std::path::{Path, PathBuf};

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).expect("read dir").flatten() {
        let path = entry.path();
        let name = entry.file_name();
        if path.is_dir() {
            if name != "target" && name != ".git" && name != "node_modules" {
                rust_files(&path, out);
            }
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().expect("repo root").to_path_buf()
}

fn code_lines(text: &str) -> impl Iterator<Item = &str> {
    text.lines().map(str::trim_start).filter(|l| !l.starts_with("//"))
}

#[test]
fn every_rust_file_starts_with_a_purpose_line() {
    let mut files = Vec::new();
    rust_files(&repo_root(), &mut files);
    assert!(files.len() > 20, "found only {} files", files.len());
    let missing: Vec<_> =
        files.iter().filter(|f| !std::fs::read_to_string(f).expect("read").starts_with("//!")).collect();
    assert!(missing.is_empty(), "these files do not start with a //! line: {missing:?}");
}

#[test]
fn only_http_knows_axum_only_store_knows_sql_only_search_knows_tantivy() {
    let src = repo_root().join("server/src");
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    for file in files {
        let rel = file.strip_prefix(&src).expect("relative").to_string_lossy().replace('\\', "/");
        let text = std::fs::read_to_string(&file).expect("read");
        let uses = |krate: &str| code_lines(&text).any(|l| l.contains(&format!("{krate}::")));
        if !rel.starts_with("http/") {
            assert!(!uses("axum") && !uses("axum_extra") && !uses("tower_http"), "{rel} uses axum; only http/ may");
        }
        if !rel.starts_with("store/") {
            assert!(!uses("sqlx"), "{rel} uses sqlx; only store/ may");
        }
        if !rel.starts_with("search/") {
            assert!(!uses("tantivy"), "{rel} uses tantivy; only search/ may");
        }
    }
}

#[test]
fn request_bodies_are_read_through_the_apis_extractors() {
    // axum's own body extractors answer a malformed or oversized body in plain text; the ones in
    // http/extract.rs answer in the API's JSON error shape with a stable code.
    let http = repo_root().join("server/src/http");
    let mut files = Vec::new();
    rust_files(&http, &mut files);
    let forbidden = ["body: Bytes,", "axum::body::Bytes,", "extract::Multipart", "extract::Form", "axum::Json<"];
    for file in files.iter().filter(|f| !f.ends_with("extract.rs")) {
        let text = std::fs::read_to_string(file).expect("read");
        for line in code_lines(&text) {
            let imports_body_extractor = line.starts_with("use axum::extract::")
                && ["Multipart", "Form", "Json"]
                    .iter()
                    .any(|name| line.contains(&format!("{name},")) || line.contains(&format!("{name}}}")));
            assert!(
                !imports_body_extractor && !forbidden.iter().any(|f| line.contains(f)),
                "{} reads a request body with axum's extractor: {line}",
                file.display()
            );
        }
    }
}

#[test]
fn unsafe_code_lives_only_in_the_precompiled_plugin_cache() {
    let mut files = Vec::new();
    for dir in ["server", "plugin-host", "tests", "plugin-sdk/src"] {
        rust_files(&repo_root().join(dir), &mut files);
    }
    let allowed = repo_root().join("plugin-host/src/cache.rs");
    for file in files.iter().filter(|f| **f != allowed) {
        let text = std::fs::read_to_string(file).expect("read");
        let offends = code_lines(&text).any(|l| l.contains("unsafe {") || l.contains("allow(unsafe_code)"));
        // This test names the pattern it looks for; it is not an offender.
        assert!(
            !offends || file.ends_with("tidy.rs"),
            "{} uses unsafe; only plugin-host/src/cache.rs may",
            file.display()
        );
    }
    let cache = std::fs::read_to_string(&allowed).expect("read cache.rs");
    assert!(cache.contains("// SAFETY:"), "the one unsafe block explains why it is sound");
}

/// SHA-256 over a WIT folder's files (name, NUL, contents), in name order.
fn folder_hash(dir: &Path) -> String {
    use sha2::Digest;
    let mut names: Vec<_> = std::fs::read_dir(dir).expect("read wit folder").flatten().map(|e| e.path()).collect();
    names.sort();
    let mut hasher = sha2::Sha256::new();
    for path in names {
        hasher.update(path.file_name().expect("name").to_string_lossy().as_bytes());
        hasher.update([0]);
        hasher.update(std::fs::read(&path).expect("read wit file"));
    }
    format!("{:x}", hasher.finalize())
}

#[test]
fn released_interface_versions_are_frozen() {
    let wit = repo_root().join("plugin-sdk/wit");
    let released = std::fs::read_to_string(wit.join("RELEASED")).expect("plugin-sdk/wit/RELEASED");
    let changelog = std::fs::read_to_string(wit.join("CHANGELOG.md")).expect("CHANGELOG.md");
    let mut listed = Vec::new();
    for line in released.lines().map(str::trim).filter(|l| !l.is_empty() && !l.starts_with('#')) {
        let (version, hash) = line.split_once(' ').expect("`VERSION SHA256` per line");
        let folder = wit.join(format!("switchboard-plugin@{version}"));
        assert_eq!(
            folder_hash(&folder),
            hash.trim(),
            "switchboard-plugin@{version} changed after its release; make a new version instead (see CHANGELOG.md)"
        );
        assert!(changelog.contains(&format!("## {version}")), "CHANGELOG.md has no entry for {version}");
        listed.push(version.to_owned());
    }
    // Every version folder is either released (and so listed) or the one pending release.
    let folders: Vec<String> = std::fs::read_dir(&wit)
        .expect("read wit")
        .flatten()
        .filter_map(|e| e.file_name().to_string_lossy().strip_prefix("switchboard-plugin@").map(str::to_owned))
        .collect();
    let unreleased: Vec<_> = folders.iter().filter(|v| !listed.contains(v)).collect();
    assert!(unreleased.len() <= 1, "more than one unreleased interface version: {unreleased:?}");
    for v in folders.iter().chain(&listed) {
        assert!(!v.contains('-'), "interface versions carry no pre-release tag: {v}");
    }
}

/// Lines of a plugin crate's `src/` before each file's unit tests (`#[cfg(test)]`), as the channel table
/// in docs/channels/README.md counts them.
fn plugin_code_lines(plugin: &str) -> usize {
    let mut files = Vec::new();
    rust_files(&repo_root().join("plugins").join(plugin).join("src"), &mut files);
    files
        .iter()
        .map(|f| {
            std::fs::read_to_string(f).expect("read").lines().take_while(|l| !l.starts_with("#[cfg(test)]")).count()
        })
        .sum()
}

#[test]
fn the_channel_table_gives_each_plugins_size_as_it_is() {
    let table = std::fs::read_to_string(repo_root().join("docs/channels/README.md")).expect("read");
    let rows: Vec<(&str, usize)> = table
        .lines()
        .filter_map(|l| l.strip_prefix("| `")?.split_once("` | "))
        .filter_map(|(plugin, rest)| Some((plugin, rest.split(" |").next()?.trim().parse().ok()?)))
        .collect();
    assert!(rows.len() >= 10, "the size table lists only {} plugins", rows.len());
    let wrong: Vec<String> = rows
        .iter()
        .filter(|(plugin, lines)| plugin_code_lines(plugin) != *lines)
        .map(|(plugin, lines)| format!("{plugin}: the table says {lines}, the code has {}", plugin_code_lines(plugin)))
        .collect();
    assert!(wrong.is_empty(), "update the sizes in docs/channels/README.md: {wrong:?}");
}

/// The strings of one language in the web app's `i18n.js`: key and text, as the file writes them (one
/// `'key': 'text',` per line).
fn app_strings(source: &str, language: &str) -> Vec<(String, String)> {
    let start = source.find(&format!("const {language} = {{")).unwrap_or_else(|| panic!("no `const {language}`"));
    let block = &source[start..];
    let block = &block[..block.find("\n};").expect("the block ends")];
    block
        .lines()
        .filter_map(|line| {
            let rest = line.trim().strip_prefix('\'')?;
            let (key, text) = rest.split_once("': ")?;
            Some((key.to_owned(), text.trim_end_matches(',').to_owned()))
        })
        .collect()
}

/// The `{name}` placeholders of a string, sorted.
fn placeholders(text: &str) -> Vec<String> {
    let mut out: Vec<String> = text
        .split('{')
        .skip(1)
        .filter_map(|s| s.split_once('}').map(|(name, _)| name))
        .filter(|name| !name.is_empty() && name.chars().all(|c| c.is_ascii_lowercase() || c == '_'))
        .map(str::to_owned)
        .collect();
    out.sort();
    out
}

#[test]
fn every_string_of_the_web_app_is_in_arabic_too() {
    let source = std::fs::read_to_string(repo_root().join("server/assets/app/js/i18n.js")).expect("i18n.js");
    let english = app_strings(&source, "en");
    let arabic: std::collections::HashMap<_, _> = app_strings(&source, "ar").into_iter().collect();
    assert!(english.len() > 300, "{} English strings read", english.len());
    let missing: Vec<&str> = english.iter().filter(|(k, _)| !arabic.contains_key(k)).map(|(k, _)| k.as_str()).collect();
    assert!(missing.is_empty(), "English strings without an Arabic one (the app would show English): {missing:?}");
    for (key, text) in &english {
        assert_eq!(placeholders(text), placeholders(&arabic[key]), "the placeholders of `{key}`");
    }
    let unknown: Vec<&String> = arabic.keys().filter(|k| !english.iter().any(|(e, _)| e == *k)).collect();
    assert!(unknown.is_empty(), "Arabic strings no English one has: {unknown:?}");
}

/// The stable error codes the server's sources can answer with: the arms of `AppError::code` and every
/// code literal given to a conflict, a unique-key clash or an `Unprocessable`.
fn server_error_codes() -> std::collections::BTreeSet<String> {
    let mut files = Vec::new();
    rust_files(&repo_root().join("server/src"), &mut files);
    let mut codes = std::collections::BTreeSet::new();
    for file in files {
        let text = std::fs::read_to_string(&file).expect("read");
        // Squeezing the whitespace out lets one pattern match calls split over lines.
        let squeezed: String = text.split_whitespace().collect();
        let code_fn = squeezed
            .split_once("pubfncode(&self)")
            .map(|(_, rest)| &rest[..rest.find("pubfn").unwrap_or(rest.len())])
            .unwrap_or("");
        for (source, opener) in
            [(&squeezed[..], "conflict(\""), (&squeezed, "on_unique(e,\""), (&squeezed, "code:\""), (code_fn, "=>\"")]
        {
            for (at, _) in source.match_indices(opener) {
                let rest = &source[at + opener.len()..];
                let code = &rest[..rest.find('"').unwrap_or(0)];
                if !code.is_empty() && code.chars().all(|c| c.is_ascii_lowercase() || c == '_') {
                    codes.insert(code.to_owned());
                }
            }
        }
    }
    codes
}

#[test]
fn every_error_code_of_the_api_is_documented_and_reads_in_arabic() {
    let codes = server_error_codes();
    for expected in ["validation_failed", "not_found", "conversation_closed", "window_closed", "already_exists"] {
        assert!(codes.contains(expected), "`{expected}` not found among the server's codes: {codes:?}");
    }
    let source = std::fs::read_to_string(repo_root().join("server/assets/app/js/i18n.js")).expect("i18n.js");
    let arabic: std::collections::HashMap<_, _> = app_strings(&source, "arErrors").into_iter().collect();
    let missing: Vec<&String> = codes.iter().filter(|c| !arabic.contains_key(c.as_str())).collect();
    assert!(missing.is_empty(), "error codes an Arabic user would read in English: {missing:?}");
    let unknown: Vec<&String> = arabic
        .keys()
        .filter(|k| !codes.contains(k.as_str()) && !["http_error", "network"].contains(&k.as_str()))
        .collect();
    assert!(unknown.is_empty(), "Arabic sentences for codes the server no longer gives: {unknown:?}");
    let api_doc = std::fs::read_to_string(repo_root().join("docs/api.md")).expect("docs/api.md");
    let errors = api_doc.split_once("## Errors").expect("docs/api.md has an Errors section").1;
    let errors = &errors[..errors.find("\n## ").unwrap_or(errors.len())];
    let undocumented: Vec<&String> = codes.iter().filter(|c| !errors.contains(&format!("`{c}`"))).collect();
    assert!(undocumented.is_empty(), "error codes missing from docs/api.md's Errors table: {undocumented:?}");
}
