//! A stateful Stripe API emulator for tests, benchmarks and the demo.
//!
//! It speaks Stripe's wire protocol on loopback: form-encoded bodies with bracket nesting, Bearer
//! `sk_test_` keys, `Request-Id` and `Stripe-Version` headers, Stripe's error bodies, idempotency
//! keys exactly as Stripe keeps them, list pagination, and the test cards of Stripe's test mode
//! (declines, 3-D Secure, disputes). It keeps customers, payment methods, setup and payment
//! intents, charges, refunds, invoices, balance transactions with fees, disputes and events in
//! memory; delivers signed webhooks; injects faults; settles refunds and captures later on
//! request ([`delays`]); and runs on a clock tests can move.
//!
//! ```no_run
//! # async fn demo() -> Result<(), stripe_emulator::EmulatorError> {
//! use stripe_emulator::{Emulator, EmulatorOptions, FailSpec};
//! let emulator = Emulator::start(EmulatorOptions::default()).await?;
//! let base = emulator.base_url(); // "http://127.0.0.1:PORT", API under /v1
//! let secret = emulator.add_webhook_endpoint("http://127.0.0.1:9999/hook");
//! emulator.faults().fail_next(FailSpec { count: 2, status: 503, ..FailSpec::default() });
//! emulator.clock().advance(std::time::Duration::from_secs(8 * 24 * 3600));
//! emulator.delays().refunds(1, std::time::Duration::from_millis(200), stripe_emulator::Settle::Succeed);
//! # let _ = (base, secret); Ok(()) }
//! ```
//!
//! Admin routes under `/_emulator/` mirror the library's controls (see [`admin`]).

#![warn(missing_docs)]

pub mod admin;
mod auth;
pub mod card_form;
pub mod cards;
pub mod delays;
mod error;
pub mod faults;
pub mod fees;
pub mod form;
pub mod idempotency;
pub mod resources;
mod router;
mod server;
pub mod state;
pub mod webhooks;

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use emulator_support::{Endpoints, ListenError, ListenOptions, OwnRuntime};

pub use delays::{Delays, Settle};
pub use emulator_support::Clock;
pub use error::{ApiError, EmulatorError};
pub use faults::{FailSpec, Faults};
pub use state::API_VERSION;
pub use webhooks::{signature, signature_header};

use server::Shared;
use state::State;
use webhooks::WebhookRegistry;

/// How to start the emulator.
#[derive(Debug, Clone)]
pub struct EmulatorOptions {
    /// Where the plain HTTP listener binds. Default `127.0.0.1:0` (an ephemeral port).
    pub addr: SocketAddr,
    /// Also serve HTTPS (certificate generated at start, see [`Emulator::ca_certificate_pem`]).
    pub tls: bool,
    /// Where the HTTPS listener binds. Default `127.0.0.1:0`.
    pub tls_addr: SocketAddr,
    /// Start the clock at this Unix time instead of now.
    pub clock_start: Option<i64>,
    /// Worker threads of the emulator's own Tokio runtime. Default 2.
    pub worker_threads: usize,
    /// Serve `GET /v1/customers/search`. Default true; false answers it as an unknown URL, as
    /// Stripe does where search is not available.
    pub customer_search: bool,
}

impl Default for EmulatorOptions {
    fn default() -> Self {
        EmulatorOptions {
            addr: SocketAddr::from(([127, 0, 0, 1], 0)),
            tls: false,
            tls_addr: SocketAddr::from(([127, 0, 0, 1], 0)),
            clock_start: None,
            worker_threads: 2,
            customer_search: true,
        }
    }
}

/// A running emulator. It serves from its own Tokio runtime (so a caller that blocks its own
/// runtime's threads can't starve it) and shuts down (listeners, open connections, webhook
/// deliveries) when dropped.
pub struct Emulator {
    shared: Arc<Shared>,
    endpoints: Endpoints,
    // Dropped last (fields drop in order): stops the listeners, connections and deliveries.
    _runtime: OwnRuntime,
}

impl std::fmt::Debug for Emulator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Emulator")
            .field("base_url", &self.endpoints.base_url)
            .field("tls_base_url", &self.endpoints.tls_base_url)
            .finish_non_exhaustive()
    }
}

/// Binds the listeners and spawns the server and webhook tasks on the (entered) runtime.
fn launch(runtime: OwnRuntime, options: &EmulatorOptions) -> Result<Emulator, EmulatorError> {
    let handle = runtime.handle().clone();
    let clock = Clock::default();
    if let Some(start) = options.clock_start {
        clock.set(start);
    }
    let (queue, deliveries) = tokio::sync::mpsc::unbounded_channel();
    let mut state = State::new(clock.clone(), WebhookRegistry::new(queue));
    state.customer_search = options.customer_search;
    let shared = Arc::new(Shared {
        state: Mutex::new(state),
        faults: Faults::default(),
        clock: clock.clone(),
    });
    handle.spawn(webhooks::run_dispatcher(deliveries, clock));
    let listen = ListenOptions {
        addr: options.addr,
        tls_addr: options.tls.then_some(options.tls_addr),
        ca_name: "OmniCRM Stripe Emulator CA",
    };
    let endpoints = emulator_support::listen(&handle, &listen, |base_url| {
        let shared = shared.clone();
        move |request| server::handle(shared.clone(), base_url.clone(), request)
    })
    .map_err(listen_error)?;
    Ok(Emulator {
        shared,
        endpoints,
        _runtime: runtime,
    })
}

/// The emulator's error for listeners that could not start.
fn listen_error(error: ListenError) -> EmulatorError {
    match error {
        ListenError::Bind { addr, source } => EmulatorError::Bind { addr, source },
        ListenError::Tls(e) => EmulatorError::Tls(e.to_string()),
    }
}

impl Emulator {
    /// Binds the listener(s) and starts serving on a runtime of its own.
    pub async fn start(options: EmulatorOptions) -> Result<Emulator, EmulatorError> {
        let runtime = OwnRuntime::new(options.worker_threads, "stripe-emulator")
            .map_err(EmulatorError::Runtime)?;
        let handle = runtime.handle().clone();
        let _entered = handle.enter();
        // On failure the runtime is dropped, which shuts it down without blocking.
        launch(runtime, &options)
    }

    /// `http://127.0.0.1:PORT` (no trailing slash; the API is under `/v1`).
    pub fn base_url(&self) -> &str {
        &self.endpoints.base_url
    }

    /// `https://localhost:PORT` when started with `tls: true`.
    pub fn tls_base_url(&self) -> Option<&str> {
        self.endpoints.tls_base_url.as_deref()
    }

    /// PEM of the CA that signed the TLS certificate, to add to a client's trust store.
    pub fn ca_certificate_pem(&self) -> Option<&str> {
        self.endpoints.ca_pem.as_deref()
    }

    /// Registers a webhook endpoint receiving every event; returns its `whsec_...` signing secret.
    pub fn add_webhook_endpoint(&self, url: &str) -> String {
        let mut st = self.shared.lock();
        let now = self.shared.clock.now();
        st.webhooks.add(url, Vec::new(), now).secret
    }

    /// Fault injection controls.
    pub fn faults(&self) -> Faults {
        self.shared.faults.clone()
    }

    /// The emulator's clock.
    pub fn clock(&self) -> Clock {
        self.shared.clock.clone()
    }

    /// Settlement delays: refunds answered `pending` and captures answered `processing`, settled
    /// later (see [`delays`]).
    pub fn delays(&self) -> Delays {
        Delays::new(self.shared.clone())
    }
}
