//! The on-disk cache of compiled plugins: artifacts this host compiled itself, kept in the data directory
//! so a restart loads a plugin in milliseconds instead of compiling it again.
//!
//! Loading machine code is the one `unsafe` operation in the project. It is sound only for bytes that
//! wasmtime's own `serialize` produced for a compatible engine and that nobody altered. The cache makes
//! that hold by (1) writing only what `Component::serialize` returned, (2) keeping the files in a
//! directory named after the engine's compatibility hash, created owner-only, (3) naming every file after
//! the SHA-256 of the plugin's source and of the artifact itself, and refusing any file whose content does
//! not hash to its name (a torn write, a full disk, a stray edit), and (4) writing through a temporary file
//! and a rename, so a reader never sees half a file and a name's content never changes. wasmtime itself
//! checks the artifact's version and engine settings again on load.
//!
//! The artifact is mapped from its file (`deserialize_file`) rather than copied into memory: only the
//! code pages a plugin actually runs become resident, which is most of the difference in idle memory
//! between a server with 15 bundled plugins and one with none.
#![allow(unsafe_code)]

use std::hash::{Hash, Hasher};
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};
use wasmtime::Engine;
use wasmtime::component::Component;

/// A directory of precompiled components for one engine configuration.
#[derive(Debug, Clone)]
pub(crate) struct DiskCache {
    dir: PathBuf,
}

impl DiskCache {
    /// Opens (creating if needed) the cache under `root` for `engine`'s configuration.
    pub(crate) fn open(root: &Path, engine: &Engine) -> std::io::Result<Self> {
        let mut hasher = std::collections::hash_map::DefaultHasher::new();
        engine.precompile_compatibility_hash().hash(&mut hasher);
        // `v2`: files named by source and artifact hash, mapped on load (the first format prefixed a checksum).
        let dir = root.join(format!("wasmtime-{}-{:016x}-v2", env!("CARGO_PKG_VERSION"), hasher.finish()));
        std::fs::create_dir_all(&dir)?;
        restrict(root);
        restrict(&dir);
        Ok(Self { dir })
    }

    fn path(&self, source_hash: &[u8; 32], artifact_hash: &[u8]) -> PathBuf {
        self.dir.join(format!("{}-{}.cwasm", hex::encode(source_hash), hex::encode(artifact_hash)))
    }

    /// The component compiled earlier from the source with this hash, if the cache holds an intact one.
    pub(crate) fn load(&self, engine: &Engine, source_hash: &[u8; 32]) -> Option<Component> {
        let prefix = format!("{}-", hex::encode(source_hash));
        let path = std::fs::read_dir(&self.dir).ok()?.flatten().map(|e| e.path()).find(|p| {
            p.file_name().and_then(|n| n.to_str()).is_some_and(|n| n.starts_with(&prefix) && n.ends_with(".cwasm"))
        })?;
        let name = path.file_name().and_then(|n| n.to_str()).unwrap_or_default();
        let expected = hex::decode(&name[prefix.len()..name.len() - ".cwasm".len()]).ok();
        // Hashed through a small buffer, so checking the file does not make it resident either.
        let mut hasher = Sha256::new();
        let read = std::fs::File::open(&path).and_then(|mut f| std::io::copy(&mut f, &mut hasher));
        if read.is_err() || expected.as_deref() != Some(hasher.finalize().as_slice()) {
            tracing::warn!(path = %path.display(), "ignoring a damaged precompiled plugin");
            let _ = std::fs::remove_file(&path);
            return None;
        }
        // SAFETY: the file holds exactly what `Component::serialize` of an engine with the same
        // compatibility hash wrote (its content hashes to its name, which no writer reuses for other
        // content, and files are only ever replaced by a rename), as `deserialize_file` requires; see the
        // module comment.
        match unsafe { Component::deserialize_file(engine, &path) } {
            Ok(component) => Some(component),
            Err(e) => {
                tracing::warn!(path = %path.display(), error = %e, "ignoring an incompatible precompiled plugin");
                let _ = std::fs::remove_file(&path);
                None
            }
        }
    }

    /// Keeps a compiled component for the next start; failures only cost a recompilation later.
    pub(crate) fn store(&self, source_hash: &[u8; 32], component: &Component) {
        let Ok(artifact) = component.serialize() else { return };
        let path = self.path(source_hash, &Sha256::digest(&artifact));
        static WRITES: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
        let n = WRITES.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let tmp = path.with_extension(format!("tmp{}-{n}", std::process::id()));
        let written = std::fs::write(&tmp, &artifact).and_then(|()| std::fs::rename(&tmp, &path));
        if let Err(e) = written {
            let _ = std::fs::remove_file(&tmp);
            tracing::warn!(path = %path.display(), error = %e, "cannot cache a compiled plugin");
        }
    }
}

#[cfg(unix)]
fn restrict(dir: &Path) {
    use std::os::unix::fs::PermissionsExt;
    let _ = std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700));
}

#[cfg(not(unix))]
fn restrict(_dir: &Path) {}

#[cfg(test)]
mod tests {
    use super::*;

    /// The smallest component: the binary header of a component with nothing in it.
    const EMPTY_COMPONENT: &[u8] = &[0x00, 0x61, 0x73, 0x6d, 0x0d, 0x00, 0x01, 0x00];

    #[test]
    fn a_stored_component_loads_and_a_damaged_one_is_refused_and_removed() {
        let engine = Engine::new(wasmtime::Config::new().wasm_component_model(true)).expect("engine");
        let component = Component::new(&engine, EMPTY_COMPONENT).expect("compiles");
        let root = tempfile::tempdir().expect("temp dir");
        let cache = DiskCache::open(root.path(), &engine).expect("cache");
        let source = [7u8; 32];
        assert!(cache.load(&engine, &source).is_none(), "nothing stored yet");
        cache.store(&source, &component);
        assert!(cache.load(&engine, &source).is_some(), "loads what it stored");
        assert!(cache.load(&engine, &[8u8; 32]).is_none(), "another source is not this one");

        let file = std::fs::read_dir(&cache.dir).expect("dir").flatten().map(|e| e.path()).next().expect("a file");
        let mut bytes = std::fs::read(&file).expect("read");
        let last = bytes.len() - 1;
        bytes[last] ^= 1;
        std::fs::write(&file, &bytes).expect("write");
        assert!(cache.load(&engine, &source).is_none(), "a changed file is refused");
        assert!(!file.exists(), "and removed, so the plugin is compiled and stored again");
    }
}
