//! Starting the service: the ledger, the gateways, the start-up reconciliation, the periodic
//! reconciler, the component watcher and the HTTP server.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::api::{self, AppState, api_keys::ApiKeys};
use crate::config::ServiceConfig;
use crate::ledger::sqlite::SqliteLedger;
use crate::ledger::{Db, LedgerError};
use crate::live_gateways::{GatewayLoadError, Gateways};
use crate::reconcile::{self, ReconcileReport};
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

/// Opens the ledger and loads the gateways.
pub async fn build(
    config: &ServiceConfig,
    options: RuntimeOptions,
) -> Result<Arc<Service>, StartError> {
    if config.gateways.is_empty() {
        return Err(StartError::NoGateway);
    }
    let path = config.service.database.clone();
    let durability = config.service.durability;
    let ledger = tokio::task::spawn_blocking(move || SqliteLedger::open(&path, durability))
        .await
        .map_err(|e| StartError::Io(e.to_string()))??;
    let runtime = Arc::new(Runtime::new(options).map_err(|e| StartError::Runtime(e.to_string()))?);
    let gateways = Arc::new(Gateways::load(runtime, config).await?);
    let mut service = Service::new(Db::new(Arc::new(ledger)), gateways);
    service.reconcile = ReconcileSettings::from_config(&config.service);
    Ok(Arc::new(service))
}

/// A running service.
pub struct Running {
    /// Where it listens.
    pub addr: SocketAddr,
    /// Its state.
    pub service: Arc<Service>,
    /// What the start-up reconciliation did.
    pub startup_reconcile: ReconcileReport,
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
    // Settle whatever an earlier run left unsettled before taking new requests.
    let startup_reconcile = reconcile::reconcile_once(&service, Duration::ZERO)
        .await
        .map_err(|e| StartError::Io(format!("start-up reconciliation: {e}")))?;
    let (tx, rx) = watch::channel(false);
    let mut background = vec![tokio::spawn(reconcile::run_periodically(
        service.clone(),
        Duration::from_secs(config.service.reconcile_interval_secs),
        Duration::from_secs(config.service.reconcile_grace_secs),
        rx.clone(),
    ))];
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
    let app = api::router(state);
    let mut stop = rx.clone();
    let server = tokio::spawn(async move {
        let result = axum::serve(listener, app)
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
        startup_reconcile,
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
