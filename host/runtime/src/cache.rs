//! On-disk cache of compiled components.
//!
//! An entry is keyed by the engine's compatibility hash (compiler, settings, wasmtime version)
//! and the SHA-256 of the component's bytes. Its file holds a magic tag, the SHA-256 of the
//! component it was compiled from, the SHA-256 of the artifact and the artifact from
//! `Component::serialize`. Entries are written atomically (a fresh temp file, then rename), so
//! concurrent loads, in this process or another, see a whole entry or none. An entry that is
//! not for the component asked for, fails its checksum or does not deserialize is removed and
//! the component recompiled.

use sha2::{Digest, Sha256};
use std::hash::{Hash, Hasher};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use wasmtime::Engine;
use wasmtime::component::Component;

/// Tags an entry file of this format (`v2`: its header holds the digest of the component).
const MAGIC: &[u8; 12] = b"OMNICWASM\x00v2";
/// Magic tag, component digest, artifact digest.
const HEADER_LEN: usize = MAGIC.len() + 32 + 32;

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
        match Self::decode(engine, digest, &bytes) {
            Ok(component) => Lookup::Hit(component),
            Err(reason) => {
                let _ = std::fs::remove_file(&path);
                Lookup::Corrupt(format!("{}: {reason}", path.display()))
            }
        }
    }

    fn decode(engine: &Engine, digest: &[u8; 32], bytes: &[u8]) -> Result<Component, String> {
        if bytes.len() < HEADER_LEN || &bytes[..MAGIC.len()] != MAGIC {
            return Err("not a cache entry of this version".into());
        }
        let (component_sum, rest) = bytes[MAGIC.len()..].split_at(32);
        let (artifact_sum, artifact) = rest.split_at(32);
        if component_sum != digest {
            return Err("compiled from another component".into());
        }
        if Sha256::digest(artifact).as_slice() != artifact_sum {
            return Err("checksum mismatch".into());
        }
        // SAFETY: the artifact was produced by `Component::serialize` of an engine with the same
        // compatibility hash (part of the file name), written by this host into its own cache
        // directory for this very component (its digest is in the header), and its checksum
        // matches: it is the exact bytes that were written. Wasmtime checks the engine
        // configuration recorded in the artifact as well. The cache directory must not be
        // writable by untrusted parties (documented on `RuntimeOptions::cache_dir`).
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
            // `create_new`: never write through a file (or link) someone else put there.
            let mut file = std::fs::File::options()
                .write(true)
                .create_new(true)
                .open(&temp)?;
            file.write_all(MAGIC)?;
            file.write_all(digest)?;
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

#[cfg(test)]
mod tests {
    use super::*;

    fn lookup(cache: &ArtifactCache, engine: &Engine, digest: &[u8; 32]) -> Result<(), String> {
        match cache.load(engine, digest) {
            Lookup::Hit(_) => Ok(()),
            Lookup::Miss => Err("miss".into()),
            Lookup::Corrupt(reason) => Err(reason),
        }
    }

    #[test]
    fn an_entry_only_serves_the_component_it_was_compiled_from() {
        let dir = tempfile::tempdir().unwrap();
        let engine = Engine::default();
        let cache = ArtifactCache::new(dir.path(), &engine).unwrap();
        let (a, b) = (digest(b"component a"), digest(b"component b"));
        let component = Component::new(&engine, "(component)").unwrap();
        cache.store(&a, &component).unwrap();
        assert_eq!(lookup(&cache, &engine, &a), Ok(()));
        assert_eq!(lookup(&cache, &engine, &b), Err("miss".into()));

        // A valid entry put under another component's name is refused and removed.
        std::fs::copy(cache.entry_path(&a), cache.entry_path(&b)).unwrap();
        let err = lookup(&cache, &engine, &b).unwrap_err();
        assert!(err.contains("compiled from another component"), "{err}");
        assert!(!cache.entry_path(&b).exists());

        // A flipped artifact byte fails the checksum before anything is deserialized.
        let mut bytes = std::fs::read(cache.entry_path(&a)).unwrap();
        let last = bytes.len() - 1;
        bytes[last] ^= 1;
        std::fs::write(cache.entry_path(&a), &bytes).unwrap();
        let err = lookup(&cache, &engine, &a).unwrap_err();
        assert!(err.contains("checksum mismatch"), "{err}");

        // No temp files are left behind.
        let names: Vec<_> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert!(names.is_empty(), "{names:?}");
    }
}
