//! On-disk cache of compiled components.
//!
//! An entry is keyed by the engine's compatibility hash (compiler, settings, wasmtime version)
//! and the SHA-256 of the component's bytes. Its file holds a magic tag, the SHA-256 of the
//! artifact and the artifact from `Component::serialize`. Entries are written atomically (temp
//! file + rename). An entry that fails its checksum or does not deserialize is removed and the
//! component recompiled.

use sha2::{Digest, Sha256};
use std::hash::{Hash, Hasher};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use wasmtime::Engine;
use wasmtime::component::Component;

const MAGIC: &[u8; 12] = b"OMNICWASM\x00v1";

/// Feeds `Hash` output into SHA-256, for a hash that is stable across processes.
struct ShaHasher(Sha256);

impl Hasher for ShaHasher {
    fn finish(&self) -> u64 {
        // Unused: the digest is taken with `finalize`.
        0
    }
    fn write(&mut self, bytes: &[u8]) {
        self.0.update(bytes);
    }
}

/// The engine part of cache keys.
pub(crate) fn engine_key(engine: &Engine) -> String {
    let mut hasher = ShaHasher(Sha256::new());
    engine.precompile_compatibility_hash().hash(&mut hasher);
    hex::encode(&hasher.0.finalize()[..12])
}

/// SHA-256 of component bytes.
pub(crate) fn digest(bytes: &[u8]) -> [u8; 32] {
    Sha256::digest(bytes).into()
}

/// A directory of compiled artifacts for one engine configuration.
#[derive(Debug)]
pub(crate) struct ArtifactCache {
    dir: PathBuf,
    engine_key: String,
}

/// What happened when looking an entry up.
pub(crate) enum Lookup {
    Hit(Component),
    Miss,
    /// The entry existed but was unusable; it was removed.
    Corrupt(String),
}

static TEMP_COUNTER: AtomicU64 = AtomicU64::new(0);

impl ArtifactCache {
    pub(crate) fn new(dir: &Path, engine: &Engine) -> std::io::Result<Self> {
        std::fs::create_dir_all(dir)?;
        Ok(ArtifactCache {
            dir: dir.to_path_buf(),
            engine_key: engine_key(engine),
        })
    }

    /// The file of the entry for a component digest.
    pub(crate) fn entry_path(&self, digest: &[u8; 32]) -> PathBuf {
        self.dir
            .join(format!("{}-{}.cwasm", self.engine_key, hex::encode(digest)))
    }

    pub(crate) fn load(&self, engine: &Engine, digest: &[u8; 32]) -> Lookup {
        let path = self.entry_path(digest);
        let bytes = match std::fs::read(&path) {
            Ok(bytes) => bytes,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Lookup::Miss,
            Err(e) => return Lookup::Corrupt(format!("cannot read {}: {e}", path.display())),
        };
        match Self::decode(engine, &bytes) {
            Ok(component) => Lookup::Hit(component),
            Err(reason) => {
                let _ = std::fs::remove_file(&path);
                Lookup::Corrupt(format!("{}: {reason}", path.display()))
            }
        }
    }

    fn decode(engine: &Engine, bytes: &[u8]) -> Result<Component, String> {
        let header = MAGIC.len() + 32;
        if bytes.len() < header || &bytes[..MAGIC.len()] != MAGIC {
            return Err("not a cache entry".into());
        }
        let (sum, artifact) = bytes[MAGIC.len()..].split_at(32);
        if Sha256::digest(artifact).as_slice() != sum {
            return Err("checksum mismatch".into());
        }
        // SAFETY: the artifact was produced by `Component::serialize` of an engine with the same
        // compatibility hash (part of the file name), written by this host into its own cache
        // directory, and its checksum matches: it is the exact bytes that were written. The
        // cache directory must not be writable by untrusted parties (documented on
        // `RuntimeOptions::cache_dir`).
        unsafe { Component::deserialize(engine, artifact) }.map_err(|e| format!("{e:#}"))
    }

    /// Writes an entry atomically.
    pub(crate) fn store(&self, digest: &[u8; 32], component: &Component) -> Result<(), String> {
        let artifact = component.serialize().map_err(|e| format!("{e:#}"))?;
        let sum = Sha256::digest(&artifact);
        let path = self.entry_path(digest);
        let temp = self.dir.join(format!(
            ".tmp-{}-{}-{}",
            std::process::id(),
            TEMP_COUNTER.fetch_add(1, Ordering::Relaxed),
            hex::encode(&digest[..8])
        ));
        let write = || -> std::io::Result<()> {
            let mut file = std::fs::File::create(&temp)?;
            file.write_all(MAGIC)?;
            file.write_all(&sum)?;
            file.write_all(&artifact)?;
            file.sync_all()?;
            drop(file);
            std::fs::rename(&temp, &path)
        };
        write().map_err(|e| {
            let _ = std::fs::remove_file(&temp);
            format!("cannot write {}: {e}", path.display())
        })
    }
}
