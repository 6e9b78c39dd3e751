//! The on-disk cache of compiled plugins: artifacts this host compiled itself, kept in the data directory
//! so a restart loads a plugin in milliseconds instead of compiling it again.
//!
//! Loading machine code is the one `unsafe` operation in the project. It is sound only for bytes that
//! wasmtime's own `serialize` produced for a compatible engine and that nobody altered. The cache makes
//! that hold by (1) writing only what `Component::serialize` returned, (2) keeping the files in a
//! directory named after the engine's compatibility hash, created owner-only, (3) prefixing every file
//! with the SHA-256 of its artifact and refusing any file whose checksum does not match (a torn write, a
//! full disk, a stray edit), and (4) writing through a temporary file and a rename, so a reader never
//! sees half a file. wasmtime itself checks the artifact's version and engine settings again on load.
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
        let dir = root.join(format!("wasmtime-{}-{:016x}", env!("CARGO_PKG_VERSION"), hasher.finish()));
        std::fs::create_dir_all(&dir)?;
        restrict(root);
        restrict(&dir);
        Ok(Self { dir })
    }

    fn path(&self, source_hash: &[u8; 32]) -> PathBuf {
        self.dir.join(format!("{}.cwasm", hex::encode(source_hash)))
    }

    /// The component compiled earlier from the source with this hash, if the cache holds an intact one.
    pub(crate) fn load(&self, engine: &Engine, source_hash: &[u8; 32]) -> Option<Component> {
        let path = self.path(source_hash);
        let bytes = std::fs::read(&path).ok()?;
        if bytes.len() < 32 || Sha256::digest(&bytes[32..]).as_slice() != &bytes[..32] {
            tracing::warn!(path = %path.display(), "ignoring a damaged precompiled plugin");
            let _ = std::fs::remove_file(&path);
            return None;
        }
        // SAFETY: the bytes are exactly what `Component::serialize` of an engine with the same
        // compatibility hash wrote (the checksum proves they are unchanged since), as `deserialize`
        // requires; see the module comment.
        match unsafe { Component::deserialize(engine, &bytes[32..]) } {
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
        let path = self.path(source_hash);
        static WRITES: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
        let n = WRITES.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let tmp = path.with_extension(format!("tmp{}-{n}", std::process::id()));
        let mut bytes = Vec::with_capacity(32 + artifact.len());
        bytes.extend_from_slice(&Sha256::digest(&artifact));
        bytes.extend_from_slice(&artifact);
        let written = std::fs::write(&tmp, &bytes).and_then(|()| std::fs::rename(&tmp, &path));
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
