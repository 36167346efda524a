//! The runtime: one wasmtime `Engine` (pooling allocator, copy-on-write memory images, epoch
//! interruption), one `Linker` with the sandboxed WASI, `wasi:http` and contract imports, the
//! shared outbound HTTP client and the compiled-artifact cache. Gateways are loaded from it.

use crate::cache::{self, ArtifactCache, Lookup};
use crate::config::GatewayConfig;
use crate::contract::bindings::omnicrm::payments::{
    call_context, config, credentials, logging, types,
};
use crate::error::{ContractProblem, LoadError};
use crate::exports::Exports;
use crate::gateway::{Gateway, GatewayInner};
use crate::host_api::{GatewayShared, HostClock, HostState};
use crate::outbound::{Authenticator, ClientSettings, OutboundClient, OutboundPolicy};
use crate::secrets::SecretStore;
use crate::validate;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use wasmtime::component::{Component, HasSelf, Linker};
use wasmtime::{Config, Enabled, Engine, InstanceAllocationStrategy, PoolingAllocationConfig};

/// How many compiled components a runtime keeps in memory for reloads of unchanged files.
const MAX_RECENT_COMPONENTS: usize = 8;

/// Options of a [`Runtime`].
#[derive(Clone)]
pub struct RuntimeOptions {
    /// Directory of the compiled-artifact cache; `None` disables it. The directory must be
    /// writable only by the host: its artifacts are loaded as native code.
    pub cache_dir: Option<PathBuf>,
    /// An extra trusted CA (PEM), for local TLS emulators; the public webpki roots are always
    /// trusted.
    pub extra_ca_pem: Option<Vec<u8>>,
    /// How many gateway instances may exist at once across all gateways (each call uses one
    /// for its duration; further calls wait for a slot). Sizes the pooling allocator, which
    /// reserves address space for `2 * max_instances` memories of `max_memory_mib` (plus guard
    /// pages) up front: the default, 256 with 256 MiB, reserves about 145 GiB of address space
    /// (not memory), and 256 calls at the default 64 MiB limit use at most 16 GiB of memory.
    pub max_instances: u32,
    /// The largest per-instance memory limit a gateway may configure, in MiB. Sizes the
    /// pooling allocator's memory slots (see `max_instances`).
    pub max_memory_mib: u32,
    /// How often the engine's epoch advances: the granularity at which a guest running pure
    /// computation yields and is stopped at its deadline.
    pub epoch_tick: Duration,
    /// Timeout of establishing an outbound connection (TCP + TLS) in the shared client.
    pub connect_timeout: Duration,
    /// Idle keep-alive connections kept per origin by the shared client.
    pub max_idle_connections_per_host: usize,
}

impl Default for RuntimeOptions {
    fn default() -> Self {
        RuntimeOptions {
            cache_dir: None,
            extra_ca_pem: None,
            max_instances: 256,
            max_memory_mib: 256,
            epoch_tick: Duration::from_millis(10),
            connect_timeout: Duration::from_secs(10),
            max_idle_connections_per_host: 32,
        }
    }
}

impl std::fmt::Debug for RuntimeOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RuntimeOptions")
            .field("cache_dir", &self.cache_dir)
            .field("extra_ca_pem", &self.extra_ca_pem.as_ref().map(|p| p.len()))
            .field("max_instances", &self.max_instances)
            .field("max_memory_mib", &self.max_memory_mib)
            .field("epoch_tick", &self.epoch_tick)
            .field("connect_timeout", &self.connect_timeout)
            .field(
                "max_idle_connections_per_host",
                &self.max_idle_connections_per_host,
            )
            .finish()
    }
}

/// Why a [`Runtime`] could not be created.
#[derive(Debug, thiserror::Error)]
pub enum RuntimeError {
    /// The wasmtime engine could not be configured.
    #[error("cannot create the WebAssembly engine: {0}")]
    Engine(String),
    /// The outbound HTTP client could not be configured (for example an invalid extra CA).
    #[error("cannot create the outbound HTTP client: {0}")]
    Http(String),
    /// The artifact cache directory could not be created.
    #[error("cannot use the artifact cache directory {path}: {source}")]
    Cache {
        /// The directory.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
}

/// Where a loaded gateway's compiled code came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ArtifactSource {
    /// Compiled now (and written to the cache, if any).
    Compiled,
    /// Loaded from the on-disk artifact cache.
    DiskCache,
    /// Already loaded by this runtime.
    Memory,
}

/// How a gateway was loaded.
#[derive(Debug, Clone)]
pub struct LoadInfo {
    /// Where the compiled code came from.
    pub artifact: ArtifactSource,
    /// Why an existing cache entry was discarded, if one was.
    pub discarded_cache_entry: Option<String>,
    /// Time to get the compiled component (read, hash, compile or deserialize).
    pub compile_time: Duration,
    /// Total load time (including validation, linking and the `describe` call).
    pub total_time: Duration,
    /// SHA-256 of the component's bytes (hex).
    pub component_sha256: String,
}

/// The WebAssembly runtime of the host. Cheap to clone; create one per process.
#[derive(Clone)]
pub struct Runtime {
    inner: Arc<RuntimeInner>,
}

pub(crate) struct RuntimeInner {
    pub(crate) engine: Engine,
    pub(crate) linker: Linker<HostState>,
    pub(crate) client: OutboundClient,
    pub(crate) clock: HostClock,
    /// One permit per instance slot of the pooling allocator: calls beyond it wait (within
    /// their deadline) instead of failing.
    pub(crate) instance_permits: Arc<tokio::sync::Semaphore>,
    cache: Option<ArtifactCache>,
    /// The most recently loaded compiled components, by content digest: a reload of an unchanged
    /// file costs nothing. Bounded, so a service rebuilt and hot-reloaded all day does not keep
    /// every old build (a gateway still using an evicted one keeps it alive itself).
    components: Mutex<Vec<([u8; 32], Component)>>,
    max_memory_mib: u32,
}

impl std::fmt::Debug for Runtime {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Runtime")
            .field("cache", &self.inner.cache)
            .finish_non_exhaustive()
    }
}

impl Runtime {
    /// Creates the engine, linker and shared HTTP client, and starts the epoch ticker thread
    /// (it stops when the last clone of the runtime and its gateways are dropped).
    pub fn new(options: RuntimeOptions) -> Result<Runtime, RuntimeError> {
        let engine = build_engine(&options).map_err(RuntimeError::Engine)?;
        let linker = build_linker(&engine).map_err(RuntimeError::Engine)?;
        let client = OutboundClient::new(&ClientSettings {
            extra_ca_pem: options.extra_ca_pem.clone(),
            connect_timeout: options.connect_timeout,
            max_idle_per_host: options.max_idle_connections_per_host,
            max_response_header_bytes: 64 * 1024,
        })
        .map_err(RuntimeError::Http)?;
        let cache =
            match &options.cache_dir {
                Some(dir) => Some(ArtifactCache::new(dir, &engine).map_err(|source| {
                    RuntimeError::Cache {
                        path: dir.clone(),
                        source,
                    }
                })?),
                None => None,
            };
        start_epoch_ticker(&engine, options.epoch_tick.max(Duration::from_millis(1)));
        Ok(Runtime {
            inner: Arc::new(RuntimeInner {
                engine,
                linker,
                client,
                clock: HostClock {
                    base: Instant::now(),
                },
                instance_permits: Arc::new(tokio::sync::Semaphore::new(
                    options.max_instances.max(1) as usize,
                )),
                cache,
                components: Mutex::new(Vec::new()),
                max_memory_mib: options.max_memory_mib,
            }),
        })
    }

    /// The wasmtime engine (shared by every gateway of this runtime).
    pub fn engine(&self) -> &Engine {
        &self.inner.engine
    }

    /// Loads the gateway `name` from its configuration: reads, validates and compiles (or
    /// fetches from the artifact cache) the component, links it, and asks it to describe itself.
    pub async fn load(&self, name: &str, config: &GatewayConfig) -> Result<Gateway, LoadError> {
        let started = Instant::now();
        let bad_config = |reason: String| LoadError::Config {
            gateway: name.to_string(),
            reason,
        };
        if name.is_empty() {
            return Err(bad_config("the gateway name is empty".into()));
        }
        if config.limits.memory_mib == 0 || config.limits.memory_mib > self.inner.max_memory_mib {
            return Err(bad_config(format!(
                "limits.memory_mib must be between 1 and {} (the runtime's max_memory_mib), not {}",
                self.inner.max_memory_mib, config.limits.memory_mib
            )));
        }
        if config.limits.call_timeout_ms == 0 {
            return Err(bad_config("limits.call_timeout_ms must be positive".into()));
        }
        let policy = OutboundPolicy::new(&config.allowed_hosts)
            .map_err(|e| bad_config(format!("allowed_hosts: {e}")))?;
        let gateway_name: Arc<str> = Arc::from(name);
        let secrets = Arc::new(SecretStore::new(config.secrets.clone()));
        let auth = Authenticator::new(&gateway_name, &config.auth, &secrets, &self.inner.client)
            .map_err(bad_config)?;

        let (component, artifact, discarded, digest) =
            self.component(name, &config.component).await?;
        let compile_time = started.elapsed();
        let path = &config.component;

        let problems = validate::check(&self.inner.engine, &component);
        if !problems.is_empty() {
            return Err(LoadError::Incompatible {
                path: path.clone(),
                problems,
            });
        }
        let mismatch = |e: wasmtime::Error| LoadError::Incompatible {
            path: path.clone(),
            problems: vec![ContractProblem::Mismatch {
                detail: format!("{e:#}"),
            }],
        };
        let instance_pre = self
            .inner
            .linker
            .instantiate_pre(&component)
            .map_err(mismatch)?;
        let exports = Exports::new(&instance_pre).map_err(mismatch)?;

        let shared = Arc::new(GatewayShared {
            name: gateway_name,
            settings: config.settings.clone(),
            secrets,
        });
        let mut gateway = Gateway::from_inner(GatewayInner::new(
            self.inner.clone(),
            instance_pre,
            exports,
            shared,
            Arc::new(policy),
            Arc::new(auth),
            config.limits,
        ));
        let info = gateway
            .describe_now()
            .await
            .map_err(|source| LoadError::Describe {
                gateway: name.to_string(),
                source: Box::new(source),
            })?;
        let load_info = LoadInfo {
            artifact,
            discarded_cache_entry: discarded,
            compile_time,
            total_time: started.elapsed(),
            component_sha256: hex::encode(digest),
        };
        gateway.set_loaded(info, load_info);
        tracing::info!(
            gateway = name,
            plugin = %gateway.info().name,
            version = %gateway.info().version,
            artifact = ?artifact,
            load_ms = started.elapsed().as_secs_f64() * 1000.0,
            "loaded gateway"
        );
        Ok(gateway)
    }

    /// The compiled component for a file: from memory, the disk cache, or compiled now.
    async fn component(
        &self,
        name: &str,
        path: &Path,
    ) -> Result<(Component, ArtifactSource, Option<String>, [u8; 32]), LoadError> {
        let bytes = tokio::fs::read(path)
            .await
            .map_err(|source| LoadError::Read {
                path: path.to_path_buf(),
                source,
            })?;
        check_header(path, &bytes)?;
        let inner = self.inner.clone();
        let path_owned = path.to_path_buf();
        // Hashing, deserializing and compiling are CPU work: keep them off the async workers.
        tokio::task::spawn_blocking(move || inner.component_blocking(&path_owned, &bytes))
            .await
            .map_err(|e| LoadError::Setup {
                gateway: name.to_string(),
                reason: format!("compiling {} failed: {e}", path.display()),
            })?
    }
}

impl RuntimeInner {
    fn component_blocking(
        &self,
        path: &Path,
        bytes: &[u8],
    ) -> Result<(Component, ArtifactSource, Option<String>, [u8; 32]), LoadError> {
        let digest = cache::digest(bytes);
        if let Some(component) = self.recent_component(&digest) {
            return Ok((component, ArtifactSource::Memory, None, digest));
        }
        let mut discarded = None;
        if let Some(cache) = &self.cache {
            match cache.load(&self.engine, &digest) {
                Lookup::Hit(component) => {
                    self.remember_component(digest, component.clone());
                    return Ok((component, ArtifactSource::DiskCache, None, digest));
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
        Ok((component, ArtifactSource::Compiled, discarded, digest))
    }

    fn recent_component(&self, digest: &[u8; 32]) -> Option<Component> {
        let components = self.lock_components();
        components
            .iter()
            .find(|(d, _)| d == digest)
            .map(|(_, component)| component.clone())
    }

    fn remember_component(&self, digest: [u8; 32], component: Component) {
        let mut components = self.lock_components();
        components.retain(|(d, _)| *d != digest);
        if components.len() >= MAX_RECENT_COMPONENTS {
            components.remove(0);
        }
        components.push((digest, component));
    }

    fn lock_components(&self) -> std::sync::MutexGuard<'_, Vec<([u8; 32], Component)>> {
        self.components.lock().unwrap_or_else(|p| p.into_inner())
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

fn build_engine(options: &RuntimeOptions) -> Result<Engine, String> {
    let max_memory = (options.max_memory_mib.max(1) as usize) * 1024 * 1024;
    let instances = options.max_instances.max(1);
    let mut pool = PoolingAllocationConfig::new();
    pool.total_component_instances(instances)
        // A Rust component has a handful of core instances (main module and shims).
        .total_core_instances(instances.saturating_mul(8))
        .max_core_instances_per_component(32)
        .total_memories(instances.saturating_mul(2))
        .max_memories_per_component(4)
        .total_tables(instances.saturating_mul(4))
        .max_tables_per_component(16)
        .total_stacks(instances)
        .max_memory_size(max_memory)
        .table_elements(100_000)
        .max_unused_warm_slots(64);
    configure_slot_reset(&mut pool, pagemap_scan_supported());
    let mut config = Config::new();
    config
        .wasm_component_model(true)
        .epoch_interruption(true)
        .memory_init_cow(true)
        .allocation_strategy(InstanceAllocationStrategy::Pooling(pool))
        // Memory slots reserve only what the largest allowed memory needs (plus guard pages),
        // so many instances fit in the address space.
        .memory_reservation(max_memory as u64)
        .memory_reservation_for_growth(0)
        .max_wasm_stack(1024 * 1024)
        .async_stack_size(2 * 1024 * 1024);
    Engine::new(&config).map_err(|e| format!("{e:#}"))
}

/// Bytes of a linear memory slot kept resident (reset in place) between instances.
const MEMORY_KEEP_RESIDENT: usize = 1 << 20;
/// Bytes of a table slot kept resident (reset in place) between instances.
const TABLE_KEEP_RESIDENT: usize = 64 << 10;

/// How a freed pool slot is reset to its pristine state before the next instance uses it.
///
/// Every call runs in a fresh instance, so this reset is on the per-call path. By default
/// wasmtime `madvise`s a slot's dirty range away, and the next instance page-faults it back
/// in: most of the per-call time (plus TLB-shootdown IPIs). With the `PAGEMAP_SCAN` ioctl
/// (Linux >= 6.7) wasmtime finds exactly the pages the guest dirtied and restores those in
/// place (copied from the memory image, or zeroed), up to the keep-resident size; pages
/// beyond it are still `madvise`d. Either way the slot is back to its pristine image before
/// reuse, so nothing of one call is visible to the next (the sandbox tests check this).
///
/// Keep-resident is enabled only together with `PAGEMAP_SCAN`: without it wasmtime would
/// `memset` the whole first MiB on every reset, which is slower than `madvise` for our
/// guests. Cost: up to 1 MiB + 64 KiB stays resident per warm slot (`max_unused_warm_slots`).
fn configure_slot_reset(pool: &mut PoolingAllocationConfig, pagemap_scan: bool) {
    pool.pagemap_scan(if pagemap_scan {
        Enabled::Auto
    } else {
        Enabled::No
    });
    if pagemap_scan {
        pool.linear_memory_keep_resident(MEMORY_KEEP_RESIDENT)
            .table_keep_resident(TABLE_KEEP_RESIDENT);
    }
}

/// Whether the `PAGEMAP_SCAN` ioctl works in this process.
///
/// This asks wasmtime's own probe (it issues the ioctl on `/proc/self/pagemap`), which is
/// the check `Enabled::Auto` makes, rather than parsing the kernel version: a version number
/// says nothing about seccomp filters, gVisor-style kernels or backports, and a wrong "yes"
/// would turn on keep-resident without the scan (the slow `memset` path above). Called once
/// per engine.
fn pagemap_scan_supported() -> bool {
    PoolingAllocationConfig::is_pagemap_scan_available()
}

fn build_linker(engine: &Engine) -> Result<Linker<HostState>, String> {
    let mut linker: Linker<HostState> = Linker::new(engine);
    let err = |e: wasmtime::Error| format!("{e:#}");
    wasmtime_wasi::p2::add_to_linker_async(&mut linker).map_err(err)?;
    wasmtime_wasi_http::p2::add_only_http_to_linker_async(&mut linker).map_err(err)?;
    types::add_to_linker::<_, HasSelf<_>>(&mut linker, |s| s).map_err(err)?;
    config::add_to_linker::<_, HasSelf<_>>(&mut linker, |s| s).map_err(err)?;
    logging::add_to_linker::<_, HasSelf<_>>(&mut linker, |s| s).map_err(err)?;
    credentials::add_to_linker::<_, HasSelf<_>>(&mut linker, |s| s).map_err(err)?;
    call_context::add_to_linker::<_, HasSelf<_>>(&mut linker, |s| s).map_err(err)?;
    Ok(linker)
}

/// A thread that advances the engine's epoch every `tick`, so guests in pure computation
/// yield (and are stopped at their deadline). It exits when the engine is dropped.
fn start_epoch_ticker(engine: &Engine, tick: Duration) {
    let weak = engine.weak();
    let spawned = std::thread::Builder::new()
        .name("omnicrm-epoch".into())
        .spawn(move || {
            loop {
                std::thread::sleep(tick);
                match weak.upgrade() {
                    Some(engine) => engine.increment_epoch(),
                    None => break,
                }
            }
        });
    if let Err(e) = spawned {
        tracing::error!(
            "cannot start the epoch ticker thread: {e}; deadlines rely on the async timeout only"
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slots_stay_resident_only_with_pagemap_scan() {
        let mut pool = PoolingAllocationConfig::new();
        configure_slot_reset(&mut pool, true);
        assert_eq!(pool.get_memory_keep_resident(), MEMORY_KEEP_RESIDENT);
        assert_eq!(pool.get_table_keep_resident(), TABLE_KEEP_RESIDENT);
        assert_eq!(pool.get_pagemap_scan(), Enabled::Auto);

        let mut pool = PoolingAllocationConfig::new();
        configure_slot_reset(&mut pool, false);
        assert_eq!(pool.get_memory_keep_resident(), 0);
        assert_eq!(pool.get_table_keep_resident(), 0);
        assert_eq!(pool.get_pagemap_scan(), Enabled::No);
    }

    #[test]
    fn engine_builds_with_the_detected_slot_reset() {
        let options = RuntimeOptions {
            max_instances: 2,
            max_memory_mib: 8,
            ..Default::default()
        };
        build_engine(&options).expect("engine");
    }
}
