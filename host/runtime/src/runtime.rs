//! The runtime: one wasmtime engine (see `engine`), one linker with the sandboxed WASI,
//! `wasi:http` and contract imports (see `imports`), the shared outbound HTTP client and the
//! compiled components. Gateways are loaded from it: checked, compiled or fetched, validated
//! against the contract, linked, and asked to describe themselves.

use crate::cache::ArtifactCache;
use crate::components::Components;
use crate::config::GatewayConfig;
use crate::engine;
use crate::error::{ContractProblem, LoadError};
use crate::gateway::{CallRunner, ContractExports, Gateway, Sandbox};
use crate::imports::{self, GatewayShared, HostClock, HostState};
use crate::outbound::{
    Authenticator, ClientFactory, ClientSettings, CredentialScope, NetworkRules, OutboundHooks,
    OutboundInterceptor, OutboundPolicy,
};
use crate::secrets::SecretStore;
use crate::validate;
use std::collections::BTreeMap;
use std::net::IpAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};
use wasmtime::Engine;
use wasmtime::component::Linker;

pub use crate::load_info::{ArtifactSource, LoadInfo};

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
    /// Timeout of establishing an outbound connection (TCP + TLS).
    pub connect_timeout: Duration,
    /// Idle keep-alive connections each gateway's client keeps per origin (at most its
    /// `limits.max_connections_per_origin`).
    pub max_idle_connections_per_host: usize,
    /// Host names resolved to these addresses instead of asking the system's resolver (as
    /// `/etc/hosts` or curl's `--resolve` would): to pin a gateway's host to known addresses,
    /// or to point a name at a test server. Keys in lower case. The gateways' rule on private
    /// networks applies to them as to any resolved name.
    pub static_hosts: BTreeMap<String, Vec<IpAddr>>,
    /// A hook that sees every outbound request of this runtime's gateways and may inject a
    /// network fault instead (test harnesses such as the conformance kit); `None` in production.
    pub outbound_interceptor: Option<Arc<dyn OutboundInterceptor>>,
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
            static_hosts: BTreeMap::new(),
            outbound_interceptor: None,
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
            .field("static_hosts", &self.static_hosts)
            .field("outbound_interceptor", &self.outbound_interceptor.is_some())
            .finish()
    }
}

/// Why a [`Runtime`] could not be created.
#[derive(Debug, thiserror::Error)]
pub enum RuntimeError {
    /// The wasmtime engine could not be configured.
    #[error("cannot create the WebAssembly engine: {0}")]
    Engine(String),
    /// The outbound HTTP clients could not be configured (for example an invalid extra CA).
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

/// The WebAssembly runtime of the host. Cheap to clone; create one per process.
#[derive(Clone)]
pub struct Runtime {
    inner: Arc<RuntimeInner>,
}

struct RuntimeInner {
    engine: Engine,
    linker: Linker<HostState>,
    clients: ClientFactory,
    sandbox: Sandbox,
    components: Arc<Components>,
    max_memory_mib: u32,
    interceptor: Option<Arc<dyn OutboundInterceptor>>,
}

impl std::fmt::Debug for Runtime {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Runtime")
            .field("cache", &self.inner.components.cache())
            .finish_non_exhaustive()
    }
}

impl Runtime {
    /// Creates the engine, linker and what the gateways' HTTP clients share, and starts the
    /// epoch ticker thread (it stops when the last clone of the runtime and its gateways are
    /// dropped).
    pub fn new(options: RuntimeOptions) -> Result<Runtime, RuntimeError> {
        let engine = engine::new_engine(options.max_instances, options.max_memory_mib)
            .map_err(RuntimeError::Engine)?;
        let linker = imports::new_linker(&engine).map_err(RuntimeError::Engine)?;
        let clients = ClientFactory::new(&ClientSettings {
            extra_ca_pem: options.extra_ca_pem.clone(),
            connect_timeout: options.connect_timeout,
            max_idle_per_host: options.max_idle_connections_per_host,
            static_hosts: options
                .static_hosts
                .iter()
                .map(|(name, ips)| (name.to_ascii_lowercase(), ips.clone()))
                .collect(),
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
        engine::start_epoch_ticker(&engine, options.epoch_tick.max(Duration::from_millis(1)));
        Ok(Runtime {
            inner: Arc::new(RuntimeInner {
                engine: engine.clone(),
                linker,
                clients,
                sandbox: Sandbox::new(
                    engine.clone(),
                    HostClock::starting_now(),
                    options.max_instances,
                ),
                components: Arc::new(Components::new(engine, cache)),
                max_memory_mib: options.max_memory_mib,
                interceptor: options.outbound_interceptor.clone(),
            }),
        })
    }

    /// The wasmtime engine (shared by every gateway of this runtime).
    pub fn engine(&self) -> &Engine {
        &self.inner.engine
    }

    /// Loads the gateway `name` from its configuration: reads, validates and compiles (or
    /// fetches from the artifact cache) the component, links it, asks it to describe itself, and
    /// checks the capabilities it declares against what it exports.
    pub async fn load(&self, name: &str, config: &GatewayConfig) -> Result<Gateway, LoadError> {
        let started = Instant::now();
        let (shared, hooks) = self.prepare(name, config)?;

        let compiled = self.inner.components.get(name, &config.component).await?;
        let compile_time = started.elapsed();
        let path = &config.component;

        let compatible =
            validate::check(self.engine(), &compiled.component).map_err(|problems| {
                LoadError::Incompatible {
                    path: path.clone(),
                    problems,
                }
            })?;
        let mismatch = |e: wasmtime::Error| LoadError::Incompatible {
            path: path.clone(),
            problems: vec![ContractProblem::Mismatch {
                detail: format!("{e:#}"),
            }],
        };
        let instance_pre = self
            .inner
            .linker
            .instantiate_pre(&compiled.component)
            .map_err(mismatch)?;
        let exports = ContractExports::new(
            compatible.contract,
            &instance_pre,
            &compatible.optional_exports,
        )
        .map_err(mismatch)?;

        let runner = CallRunner::new(
            self.inner.sandbox.clone(),
            instance_pre,
            exports,
            shared,
            hooks,
            config.limits,
        );
        let info = runner
            .describe()
            .await
            .map_err(|source| LoadError::Describe {
                gateway: name.to_string(),
                source: Box::new(source),
            })?;
        validate::check_capabilities(name, &compatible, info.capabilities).map_err(|problems| {
            LoadError::Incompatible {
                path: path.clone(),
                problems,
            }
        })?;
        let artifact = compiled.source;
        let load_info = LoadInfo {
            artifact,
            discarded_cache_entry: compiled.discarded_cache_entry,
            compile_time,
            total_time: started.elapsed(),
            component_sha256: hex::encode(compiled.digest),
        };
        let gateway = Gateway::new(runner, info, compatible.version, load_info);
        tracing::info!(
            gateway = name,
            plugin = %gateway.info().name,
            version = %gateway.info().version,
            contract = %gateway.contract_version(),
            capabilities = %gateway.capabilities().name(),
            artifact = ?artifact,
            load_ms = started.elapsed().as_secs_f64() * 1000.0,
            "loaded gateway"
        );
        Ok(gateway)
    }

    /// Checks a gateway's configuration and prepares what its calls share: its settings and
    /// secrets, its log limits, and its outbound HTTP (allow-list, credentials and their scope,
    /// its own client).
    fn prepare(
        &self,
        name: &str,
        config: &GatewayConfig,
    ) -> Result<(Arc<GatewayShared>, OutboundHooks), LoadError> {
        let bad_config = |reason: String| LoadError::Config {
            gateway: name.to_string(),
            reason,
        };
        if name.is_empty() {
            return Err(bad_config("the gateway name is empty".into()));
        }
        let limits = &config.limits;
        if limits.memory_mib == 0 || limits.memory_mib > self.inner.max_memory_mib {
            return Err(bad_config(format!(
                "limits.memory_mib must be between 1 and {} (the runtime's max_memory_mib), not {}",
                self.inner.max_memory_mib, limits.memory_mib
            )));
        }
        if let Some(problem) = limits.problem() {
            return Err(bad_config(problem));
        }
        let policy = OutboundPolicy::new(&config.allowed_hosts)
            .map_err(|e| bad_config(format!("allowed_hosts: {e}")))?;
        let scope =
            CredentialScope::new(&config.credential_methods, &config.credential_path_prefixes)
                .map_err(bad_config)?;
        let gateway_name: Arc<str> = Arc::from(name);
        let secrets = Arc::new(SecretStore::new(
            config.secrets.clone(),
            config.auth.secret_names(),
        ));
        let client = self.inner.clients.client(NetworkRules {
            allow_private_networks: config.allow_private_networks,
            max_connections_per_origin: limits.max_connections_per_origin as usize,
        });
        let auth = Authenticator::new(&gateway_name, &config.auth, &secrets, &client)
            .map_err(bad_config)?;
        let hooks = OutboundHooks::new(
            gateway_name.clone(),
            policy,
            auth,
            scope,
            secrets.clone(),
            client,
            limits,
            self.inner.interceptor.clone(),
        );
        let shared = Arc::new(GatewayShared::new(
            gateway_name,
            config.settings.clone(),
            secrets,
            limits.log_bytes_per_second,
        ));
        Ok((shared, hooks))
    }
}
