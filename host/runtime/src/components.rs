//! Compiled components, by the content of their file: the ones this runtime loaded recently
//! (kept in memory), the on-disk artifact cache, or the compiler.

use crate::cache::{self, ArtifactCache, Lookup};
use crate::error::LoadError;
use crate::load_info::ArtifactSource;
use std::path::Path;
use std::sync::{Arc, Mutex, MutexGuard};
use wasmtime::Engine;
use wasmtime::component::Component;

/// How many compiled components are kept in memory for reloads of unchanged files.
const MAX_RECENT_COMPONENTS: usize = 8;

/// A compiled component and where it came from.
pub(crate) struct Compiled {
    pub(crate) component: Component,
    pub(crate) source: ArtifactSource,
    /// Why an existing cache entry was discarded, if one was.
    pub(crate) discarded_cache_entry: Option<String>,
    /// SHA-256 of the component's bytes.
    pub(crate) digest: [u8; 32],
}

/// Where a runtime gets its compiled components from.
pub(crate) struct Components {
    engine: Engine,
    cache: Option<ArtifactCache>,
    /// The most recently loaded compiled components, by content digest: a reload of an unchanged
    /// file costs nothing. Bounded, so a service rebuilt and hot-reloaded all day does not keep
    /// every old build (a gateway still using an evicted one keeps it alive itself).
    recent: Mutex<Vec<([u8; 32], Component)>>,
}

impl Components {
    pub(crate) fn new(engine: Engine, cache: Option<ArtifactCache>) -> Self {
        Components {
            engine,
            cache,
            recent: Mutex::new(Vec::new()),
        }
    }

    /// The on-disk artifact cache, if there is one.
    pub(crate) fn cache(&self) -> Option<&ArtifactCache> {
        self.cache.as_ref()
    }

    /// The compiled component of the file at `path` (for the gateway `gateway`): from memory,
    /// the disk cache, or compiled now.
    pub(crate) async fn get(
        self: &Arc<Self>,
        gateway: &str,
        path: &Path,
    ) -> Result<Compiled, LoadError> {
        let bytes = tokio::fs::read(path)
            .await
            .map_err(|source| LoadError::Read {
                path: path.to_path_buf(),
                source,
            })?;
        check_header(path, &bytes)?;
        let components = self.clone();
        let path_owned = path.to_path_buf();
        // Hashing, deserializing and compiling are CPU work: keep them off the async workers.
        tokio::task::spawn_blocking(move || components.get_blocking(&path_owned, &bytes))
            .await
            .map_err(|e| LoadError::Setup {
                gateway: gateway.to_string(),
                reason: format!("compiling {} failed: {e}", path.display()),
            })?
    }

    fn get_blocking(&self, path: &Path, bytes: &[u8]) -> Result<Compiled, LoadError> {
        let digest = cache::digest(bytes);
        let compiled = |component, source, discarded_cache_entry| Compiled {
            component,
            source,
            discarded_cache_entry,
            digest,
        };
        if let Some(component) = self.recent_component(&digest) {
            return Ok(compiled(component, ArtifactSource::Memory, None));
        }
        let mut discarded = None;
        if let Some(cache) = &self.cache {
            match cache.load(&self.engine, &digest) {
                Lookup::Hit(component) => {
                    self.remember_component(digest, component.clone());
                    return Ok(compiled(component, ArtifactSource::DiskCache, None));
                }
                Lookup::Miss => {}
                Lookup::Corrupt(reason) => {
                    tracing::warn!("discarded a corrupt artifact cache entry: {reason}");
                    discarded = Some(reason);
                }
            }
        }
        let component = Component::new(&self.engine, bytes).map_err(|e| LoadError::Compile {
            path: path.to_path_buf(),
            reason: format!("{e:#}"),
        })?;
        if let Some(cache) = &self.cache
            && let Err(e) = cache.store(&digest, &component)
        {
            tracing::warn!("cannot write the artifact cache: {e}");
        }
        self.remember_component(digest, component.clone());
        Ok(compiled(component, ArtifactSource::Compiled, discarded))
    }

    fn recent_component(&self, digest: &[u8; 32]) -> Option<Component> {
        let recent = self.lock_recent();
        recent
            .iter()
            .find(|(d, _)| d == digest)
            .map(|(_, component)| component.clone())
    }

    fn remember_component(&self, digest: [u8; 32], component: Component) {
        let mut recent = self.lock_recent();
        recent.retain(|(d, _)| *d != digest);
        if recent.len() >= MAX_RECENT_COMPONENTS {
            recent.remove(0);
        }
        recent.push((digest, component));
    }

    fn lock_recent(&self) -> MutexGuard<'_, Vec<([u8; 32], Component)>> {
        self.recent.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// Refuses core modules and non-WebAssembly binaries early, with a clear message. Text (WAT)
/// passes through to the compiler.
fn check_header(path: &Path, bytes: &[u8]) -> Result<(), LoadError> {
    let not_component = |reason: &str| LoadError::NotAComponent {
        path: path.to_path_buf(),
        reason: reason.to_string(),
    };
    if bytes.starts_with(b"\0asm") {
        if bytes.len() < 8 {
            return Err(not_component("truncated WebAssembly header"));
        }
        return match &bytes[4..8] {
            [1, 0, 0, 0] => Err(not_component(
                "it is a core WebAssembly module; build the plugin as a component (target wasm32-wasip2)",
            )),
            [_, _, 1, 0] => Ok(()),
            _ => Err(not_component("unknown WebAssembly version or layer")),
        };
    }
    let text = bytes.iter().take(4096).copied().collect::<Vec<u8>>();
    let looks_like_text = std::str::from_utf8(&text).is_ok() && text.contains(&b'(');
    if looks_like_text {
        // WebAssembly text; the compiler tells whether it is a component.
        let trimmed = String::from_utf8_lossy(&text);
        if trimmed.contains("(module") && !trimmed.contains("(component") {
            return Err(not_component(
                "it is a core WebAssembly module (text), not a component",
            ));
        }
        return Ok(());
    }
    Err(not_component("it is not a WebAssembly binary"))
}
