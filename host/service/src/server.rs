//! Starting the service: the ledger, the gateways (loaded in the background while it serves),
//! the reconciler (a start-up pass in the background, then periodic), the component watcher and
//! the HTTP server.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::api::{self, AppState, api_keys::ApiKeys};
use crate::config::{ServiceConfig, ServiceSection};
use crate::console;
use crate::ledger::postgres::PgLedger;
use crate::ledger::sqlite::SqliteLedger;
use crate::ledger::{Db, Ledger, LedgerError};
use crate::live_gateways::{GatewayLoadError, Gateways};
use crate::reconcile;
use crate::service::{ReconcileSettings, Service};
use omnicrm_host::runtime::{Runtime, RuntimeOptions};

/// Why the service could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// The ledger could not be opened or migrated.
    #[error("ledger: {0}")]
    Ledger(#[from] LedgerError),
    /// The runtime could not be created.
    #[error("runtime: {0}")]
    Runtime(String),
    /// A gateway did not load.
    #[error(transparent)]
    Gateway(#[from] GatewayLoadError),
    /// No gateway is configured.
    #[error("no gateway is configured: add a [gateways.NAME] table")]
    NoGateway,
    /// Network or file trouble.
    #[error("{0}")]
    Io(String),
}

/// Runtime options from the configuration.
pub fn runtime_options(config: &ServiceConfig) -> Result<RuntimeOptions, StartError> {
    // Instance slots: the gateways' call limits plus room for webhook verification; each slot
    // reserves address space, so no more than needed (and never more than the runtime default).
    let wanted: usize = config
        .gateways
        .values()
        .map(|g| g.max_concurrency)
        .sum::<usize>()
        + 32;
    let defaults = RuntimeOptions::default();
    let mut opts = RuntimeOptions {
        cache_dir: config.service.cache_dir.clone(),
        max_instances: (wanted as u32).min(defaults.max_instances),
        ..defaults
    };
    if let Some(pem) = &config.service.extra_ca_pem {
        opts.extra_ca_pem = Some(
            std::fs::read(pem)
                .map_err(|e| StartError::Io(format!("reading {}: {e}", pem.display())))?,
        );
    }
    Ok(opts)
}

/// Opens the ledger and loads every gateway (the command-line tools, which need them all).
pub async fn build(
    config: &ServiceConfig,
    options: RuntimeOptions,
) -> Result<Arc<Service>, StartError> {
    let service = build_unloaded(config, options).await?;
    if let Some(e) = service.gateways.load_pending().await.into_iter().next() {
        return Err(e.into());
    }
    Ok(service)
}

/// Opens the ledger and configures the gateways without loading them: [`start`] loads them in
/// the background while the service answers (`serve`).
pub async fn build_unloaded(
    config: &ServiceConfig,
    options: RuntimeOptions,
) -> Result<Arc<Service>, StartError> {
    if config.gateways.is_empty() {
        return Err(StartError::NoGateway);
    }
    let ledger = open_ledger(&config.service).await?;
    let runtime = Arc::new(Runtime::new(options).map_err(|e| StartError::Runtime(e.to_string()))?);
    let gateways = Arc::new(Gateways::configure(runtime, config));
    let db = Db::new(ledger);
    gateways.share_pacing(&db);
    let mut service = Service::new(db, gateways);
    service.reconcile = ReconcileSettings::from_config(&config.service);
    Ok(Arc::new(service))
}

/// Opens the ledger the configuration names: a PostgreSQL database for a `postgres://` URL, else
/// the SQLite file.
async fn open_ledger(service: &ServiceSection) -> Result<Arc<dyn Ledger>, StartError> {
    let postgres = service.postgres();
    let (path, durability) = (service.database.clone(), service.durability);
    tokio::task::spawn_blocking(move || -> Result<Arc<dyn Ledger>, LedgerError> {
        Ok(match postgres {
            Some(options) => Arc::new(PgLedger::open(&options)?),
            None => Arc::new(SqliteLedger::open(&path, durability)?),
        })
    })
    .await
    .map_err(|e| StartError::Io(e.to_string()))?
    .map_err(StartError::from)
}

/// Opens the ledger with no gateway loaded: for the command-line tools that only read or write
/// the ledger (settling a flagged transaction by hand).
pub async fn build_ledger_only(config: &ServiceConfig) -> Result<Arc<Service>, StartError> {
    let ledger = open_ledger(&config.service).await?;
    let gateways = Arc::new(Gateways::from_gateways(Vec::new(), None));
    let mut service = Service::new(Db::new(ledger), gateways);
    service.reconcile = ReconcileSettings::from_config(&config.service);
    Ok(Arc::new(service))
}

/// A running service.
pub struct Running {
    /// Where it listens.
    pub addr: SocketAddr,
    /// Its state.
    pub service: Arc<Service>,
    shutdown: watch::Sender<bool>,
    server: JoinHandle<()>,
    background: Vec<JoinHandle<()>>,
}

impl Running {
    /// Stops accepting requests, lets requests in flight finish, stops the background tasks.
    pub async fn shutdown(self) {
        let _ = self.shutdown.send(true);
        let _ = self.server.await;
        for t in self.background {
            let _ = t.await;
        }
    }
}

/// Starts the service on `listener` (or the configured address).
pub async fn start(
    config: &ServiceConfig,
    service: Arc<Service>,
    listener: Option<TcpListener>,
) -> Result<Running, StartError> {
    let listener = match listener {
        Some(l) => l,
        None => TcpListener::bind(config.service.listen)
            .await
            .map_err(|e| StartError::Io(format!("listening on {}: {e}", config.service.listen)))?,
    };
    let addr = listener
        .local_addr()
        .map_err(|e| StartError::Io(e.to_string()))?;
    let (tx, rx) = watch::channel(false);
    // Gateways not loaded yet load in the background: the service answers meanwhile (calls to
    // a gateway still loading are refused at once), and a slow or broken component delays or
    // fails only its own gateway.
    let loading = service.gateways.clone();
    let mut stop_loading = rx.clone();
    let mut background = vec![tokio::spawn(async move {
        tokio::select! {
            _ = loading.load_pending() => {}
            _ = stop_loading.wait_for(|v| *v) => {}
        }
    })];
    // What an earlier run left unsettled is reconciled in the background too, once the
    // gateways are loaded, then periodically.
    background.push(tokio::spawn(reconcile::run_in_background(
        service.clone(),
        Duration::from_secs(config.service.reconcile_interval_secs),
        Duration::from_secs(config.service.reconcile_grace_secs),
        rx.clone(),
    )));
    if config.service.watch_components {
        background.push(tokio::spawn(service.gateways.clone().watch(
            Duration::from_millis(config.service.watch_interval_ms),
            rx.clone(),
        )));
    }
    if config.service.api_keys.is_empty() {
        tracing::warn!("no API keys are configured: every /v1 request will be refused");
    }
    let state = Arc::new(AppState {
        service: service.clone(),
        keys: ApiKeys::new(&config.service.api_keys),
    });
    let app = api::router(state).merge(console::router(service.clone(), &config.service, addr));
    let mut stop = rx.clone();
    let server = tokio::spawn(async move {
        let result = axum::serve(
            listener,
            app.into_make_service_with_connect_info::<std::net::SocketAddr>(),
        )
        .with_graceful_shutdown(async move {
            let _ = stop.wait_for(|v| *v).await;
        })
        .await;
        if let Err(e) = result {
            tracing::error!(error = %e, "the HTTP server stopped");
        }
    });
    tracing::info!(%addr, gateways = ?service.gateways.names(), "omnicrm-pay listening");
    Ok(Running {
        addr,
        service,
        shutdown: tx,
        server,
        background,
    })
}

/// Catches SIGTERM from now on (call it before the server answers, so that a SIGTERM sent
/// once it is up never kills the process uncleanly) and returns a future that resolves on Ctrl-C
/// or SIGTERM. Needs a Tokio runtime.
pub fn shutdown_signal() -> impl std::future::Future<Output = ()> {
    #[cfg(unix)]
    let term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).ok();
    async move {
        let ctrl_c = tokio::signal::ctrl_c();
        #[cfg(unix)]
        if let Some(mut term) = term {
            tokio::select! {
                _ = ctrl_c => {}
                _ = term.recv() => {}
            }
            return;
        }
        let _ = ctrl_c.await;
    }
}
