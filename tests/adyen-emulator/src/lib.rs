//! A stateful Adyen Checkout API emulator (v71) for tests, benchmarks and the demo.
//!
//! It speaks Adyen's wire protocol on loopback: `X-API-Key` authentication, JSON bodies,
//! `merchantAccount` on every request, Adyen's `ServiceError` bodies and status codes,
//! `Idempotency-Key` as Adyen keeps it, the test environment's cards and forced outcomes, 3-D
//! Secure 2 (redirect and native) completed through pages the emulator serves, stored payment
//! methods per shopper, modifications that answer `received` and settle later by notification,
//! chargebacks, and HMAC-signed notification batches delivered until answered `[accepted]`. It
//! injects faults, runs on a clock tests can move, and serves HTTPS (HTTP/1.1 and h2) on request.
//!
//! ```no_run
//! # async fn demo() -> Result<(), adyen_emulator::EmulatorError> {
//! use adyen_emulator::{Emulator, EmulatorOptions, FailSpec, SettleDelay};
//! let emulator = Emulator::start(EmulatorOptions::default()).await?;
//! let api = emulator.api_base_url(); // "http://127.0.0.1:PORT/v71"
//! let endpoint = emulator.add_webhook_endpoint("http://127.0.0.1:9999/adyen")?;
//! println!("HMAC key {}", endpoint.hmac_key);
//! emulator.set_settle_delay(SettleDelay::Manual); // modifications wait for release_settlements()
//! emulator.faults().fail_next(FailSpec { count: 2, status: 503, ..FailSpec::default() });
//! # let _ = api; Ok(()) }
//! ```
//!
//! Admin routes under `/_emulator/` mirror the library's controls (see [`admin`]).

#![warn(missing_docs)]

pub mod admin;
pub mod body;
pub mod cards;
pub mod currency;
mod dates;
pub mod disputes;
mod error;
pub mod faults;
pub mod fields;
pub mod idempotency;
mod ids;
pub mod modifications;
pub mod notifications;
pub mod pages;
pub mod payments;
pub mod router;
mod server;
pub mod sessions;
pub mod settlement;
mod shared;
pub mod state;
pub mod stored;
pub mod threeds;
pub mod webhooks;

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use emulator_support::{Endpoints, ListenError, ListenOptions, OwnRuntime};
use serde_json::Value;

pub use emulator_support::Clock;
pub use error::{ApiError, ApiErrorFields, EmulatorError, ErrorType};
pub use faults::{FailSpec, Faults};
pub use notifications::{SignatureError, hmac_signature, signing_string};
pub use shared::{DEFAULT_SETTLE_DELAY, SettleDelay};
pub use state::{API_VERSION, DisputeStage, ModKind};
pub use webhooks::{Delivery, Hub, WebhookEndpoint};

use shared::Shared;
use state::{Account, State};

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
    /// Accepted `X-API-Key` values. Empty (the default): any non-empty key.
    pub api_keys: Vec<String>,
    /// Accepted merchant accounts. Empty (the default): any non-empty name.
    pub merchant_accounts: Vec<String>,
    /// When modifications settle. Default [`DEFAULT_SETTLE_DELAY`].
    pub settle_delay: SettleDelay,
    /// Several partial captures per authorisation (default true); false releases the rest of the
    /// authorisation after a partial capture.
    pub multiple_partial_captures: bool,
}

impl Default for EmulatorOptions {
    fn default() -> Self {
        EmulatorOptions {
            addr: SocketAddr::from(([127, 0, 0, 1], 0)),
            tls: false,
            tls_addr: SocketAddr::from(([127, 0, 0, 1], 0)),
            clock_start: None,
            worker_threads: 2,
            api_keys: Vec::new(),
            merchant_accounts: Vec::new(),
            settle_delay: SettleDelay::default(),
            multiple_partial_captures: true,
        }
    }
}

/// A running emulator. It serves from its own Tokio runtime (so a caller that blocks its own
/// runtime's threads can't starve it) and shuts down (listeners, open connections, settlements,
/// webhook deliveries) when dropped.
pub struct Emulator {
    shared: Arc<Shared>,
    endpoints: Endpoints,
    // Dropped last (fields drop in order): stops every task.
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

fn launch(runtime: OwnRuntime, options: &EmulatorOptions) -> Result<Emulator, EmulatorError> {
    let handle = runtime.handle().clone();
    let clock = Clock::default();
    if let Some(start) = options.clock_start {
        clock.set(start);
    }
    let (settle_queue, settle_items) = tokio::sync::mpsc::unbounded_channel();
    let account = Account {
        merchant_accounts: options.merchant_accounts.clone(),
        multiple_partial_captures: options.multiple_partial_captures,
    };
    let state = State::new(
        clock.clone(),
        account,
        Hub::new(handle.clone()),
        settle_queue,
    );
    let shared = Arc::new(Shared {
        state: Mutex::new(state),
        faults: Faults::default(),
        clock,
        settle_delay: Mutex::new(options.settle_delay),
        api_keys: options.api_keys.clone(),
    });
    handle.spawn(settlement::run(settle_items, shared.clone()));
    let listen = ListenOptions {
        addr: options.addr,
        tls_addr: options.tls.then_some(options.tls_addr),
        ca_name: "OmniCRM Adyen Emulator CA",
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
        let runtime = OwnRuntime::new(options.worker_threads, "adyen-emulator")
            .map_err(EmulatorError::Runtime)?;
        let handle = runtime.handle().clone();
        let _entered = handle.enter();
        // On failure the runtime is dropped, which shuts it down without blocking.
        launch(runtime, &options)
    }

    /// `http://127.0.0.1:PORT` (no trailing slash; the API is under `/v71`, admin routes under
    /// `/_emulator`).
    pub fn base_url(&self) -> &str {
        &self.endpoints.base_url
    }

    /// `http://127.0.0.1:PORT/v71`: what a client sets as its Checkout API base URL.
    pub fn api_base_url(&self) -> String {
        format!("{}{}", self.endpoints.base_url, router::prefix())
    }

    /// `https://localhost:PORT` when started with `tls: true`.
    pub fn tls_base_url(&self) -> Option<&str> {
        self.endpoints.tls_base_url.as_deref()
    }

    /// PEM of the CA that signed the TLS certificate, to add to a client's trust store.
    pub fn ca_certificate_pem(&self) -> Option<&str> {
        self.endpoints.ca_pem.as_deref()
    }

    fn hub(&self) -> Hub {
        self.shared.lock().webhooks.clone()
    }

    /// Registers a webhook endpoint with a new HMAC key (returned).
    pub fn add_webhook_endpoint(&self, url: &str) -> Result<WebhookEndpoint, EmulatorError> {
        self.hub().add(url, None)
    }

    /// Registers a webhook endpoint with the given HMAC key (hex).
    pub fn add_webhook_endpoint_with_key(
        &self,
        url: &str,
        hmac_key: &str,
    ) -> Result<WebhookEndpoint, EmulatorError> {
        self.hub().add(url, Some(hmac_key))
    }

    /// The webhook endpoints, the notifications emitted, the delivery attempts, and the controls
    /// that duplicate, hold and reorder deliveries.
    pub fn webhooks(&self) -> Hub {
        self.hub()
    }

    /// Fault injection controls.
    pub fn faults(&self) -> Faults {
        self.shared.faults.clone()
    }

    /// The emulator's clock.
    pub fn clock(&self) -> Clock {
        self.shared.clock.clone()
    }

    /// Changes when modifications settle (items already waiting under [`SettleDelay::Manual`]
    /// wait for a release).
    pub fn set_settle_delay(&self, delay: SettleDelay) {
        self.shared.set_settle_delay(delay);
    }

    /// Settles everything waiting now; returns how many settled.
    pub fn release_settlements(&self) -> usize {
        settlement::release(&mut self.shared.lock(), None)
    }

    /// Settles what waits for one pspReference (a modification, a `Received` payment, or a
    /// payment's modifications); returns how many settled.
    pub fn release_settlements_for(&self, psp_reference: &str) -> usize {
        settlement::release(&mut self.shared.lock(), Some(psp_reference))
    }

    /// How many modifications and payments wait to settle.
    pub fn pending_settlements(&self) -> usize {
        self.shared.lock().unsettled.len()
    }

    /// Completes the `action` of a `/payments` (or `/payments/details`) answer as the shopper
    /// would on the emulator's page, authenticating or not; returns the `details` object to send
    /// to `/payments/details`.
    pub fn authenticate(&self, action: &Value, succeed: bool) -> Result<Value, ApiError> {
        let mut st = self.shared.lock();
        st.base_url = self.endpoints.base_url.clone();
        admin::authenticate(&mut st, action, succeed)
    }

    /// Moves payment `psp_reference`'s dispute to `stage` and sends its notification; returns the
    /// (unsigned) notification item.
    pub fn chargeback(
        &self,
        psp_reference: &str,
        stage: DisputeStage,
        amount: Option<i64>,
        reason_code: Option<&str>,
    ) -> Result<Value, ApiError> {
        disputes::advance(
            &mut self.shared.lock(),
            psp_reference,
            stage,
            amount,
            reason_code,
        )
    }

    /// Makes the next capture or refund of a payment fail asynchronously (CAPTURE then
    /// CAPTURE_FAILED, REFUND then REFUND_FAILED).
    pub fn fail_next_modification(
        &self,
        psp_reference: &str,
        kind: ModKind,
    ) -> Result<(), ApiError> {
        admin::fail_next_modification(&mut self.shared.lock(), psp_reference, kind)
    }

    /// Refuses charges of a stored payment method with the refusal reason `code` (see
    /// [`cards::OUTCOMES`]): the next `count`, or every one until [`Emulator::clear_refusal`].
    pub fn refuse_stored_method(
        &self,
        id: &str,
        code: &str,
        count: Option<u32>,
    ) -> Result<(), ApiError> {
        let outcome = cards::by_code(code).ok_or_else(|| {
            ApiError::new(
                400,
                "000",
                ErrorType::Validation,
                format!("unknown refusal code {code}"),
            )
        })?;
        admin::refuse_stored(&mut self.shared.lock(), id, Some(outcome), count)
    }

    /// Lets a stored payment method's charges through again.
    pub fn clear_refusal(&self, id: &str) -> Result<(), ApiError> {
        admin::refuse_stored(&mut self.shared.lock(), id, None, None)
    }
}
