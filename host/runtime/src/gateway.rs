//! A loaded gateway: typed async calls into the plugin, each in a fresh instance with its own
//! store, memory limit and deadline.

use crate::config::Limits;
use crate::contract::{
    BalanceFilter, BalancePage, ChargeRequest, Customer, CustomerRequest, FinancialSummary,
    GatewayEvent, GatewayInfo, Invoice, InvoiceFilter, InvoicePage, InvoiceRequest, PageRequest,
    Payment, Refund, RefundRequest, Rejection, StoredCard, TimeRange,
};
use crate::error::CallError;
use crate::exports::Exports;
use crate::host_api::{
    Diagnostics, GatewayShared, GuestLimiter, HostState, sandboxed_wasi, truncate,
};
use crate::outbound::{Authenticator, OutboundHooks, OutboundPolicy};
use crate::runtime::{LoadInfo, RuntimeInner};
use std::sync::Arc;
use std::time::{Duration, Instant};
use wasmtime::component::{InstancePre, ResourceTable};
use wasmtime::{Store, Trap, UpdateDeadline};
use wasmtime_wasi_http::WasiHttpCtx;

/// Most resources (HTTP requests, streams, fields, ...) a guest may hold at once in one call.
const MAX_RESOURCES: usize = 4096;
/// Roughly the most bytes of headers a guest may build in one `fields` resource.
const MAX_FIELD_BYTES: usize = 64 * 1024;
/// Longest trap message kept in a [`CallError::Trap`].
const MAX_TRAP_MESSAGE: usize = 2048;

/// A loaded gateway plugin. Cheap to clone (`Arc` inside), `Send + Sync`: share it across
/// tasks. Every call runs in a fresh instance, so no state carries over between calls.
#[derive(Clone)]
pub struct Gateway {
    inner: Arc<GatewayInner>,
}

impl std::fmt::Debug for Gateway {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Gateway")
            .field("name", &self.name())
            .field("plugin", &self.inner.info.as_ref().map(|i| &i.name))
            .field("limits", &self.inner.limits)
            .finish_non_exhaustive()
    }
}

pub(crate) struct GatewayInner {
    runtime: Arc<RuntimeInner>,
    pre: InstancePre<HostState>,
    exports: Exports,
    shared: Arc<GatewayShared>,
    policy: Arc<OutboundPolicy>,
    auth: Arc<Authenticator>,
    limits: Limits,
    info: Option<GatewayInfo>,
    load_info: Option<LoadInfo>,
}

impl GatewayInner {
    pub(crate) fn new(
        runtime: Arc<RuntimeInner>,
        pre: InstancePre<HostState>,
        exports: Exports,
        shared: Arc<GatewayShared>,
        policy: Arc<OutboundPolicy>,
        auth: Arc<Authenticator>,
        limits: Limits,
    ) -> Self {
        GatewayInner {
            runtime,
            pre,
            exports,
            shared,
            policy,
            auth,
            limits,
            info: None,
            load_info: None,
        }
    }
}

/// Runs one guest call in a fresh store and instance, under the gateway's deadline.
///
/// `$exports` names the field of [`Exports`] to load from the new instance (only that
/// interface's functions are looked up and type-checked); `$b` names the loaded bindings and
/// `$store` the `&mut Store`; `$call` is the generated export call (a future of
/// `wasmtime::Result<T>`).
macro_rules! guest_call {
    ($self:ident, $op:literal, $exports:ident, |$b:ident, $store:ident| $call:expr) => {{
        let started = Instant::now();
        let deadline = started + $self.inner.limits.call_timeout();
        // Wait (within the deadline) for a free instance slot of the pooling allocator.
        match $self.acquire_slot(deadline).await {
            Err(e) => Err(e),
            Ok(permit) => {
                let (mut store, diagnostics) = $self.new_store(deadline);
                let inner = &$self.inner;
                let work = async {
                    let instance = inner
                        .pre
                        .instantiate_async(&mut store)
                        .await
                        .map_err(Failure::Instantiate)?;
                    let $b = inner
                        .exports
                        .$exports
                        .load(&mut store, &instance)
                        .map_err(Failure::Instantiate)?;
                    let $store = &mut store;
                    $call.await.map_err(Failure::Guest)
                };
                let outcome = tokio::time::timeout_at(deadline.into(), work).await;
                // The instance and its slot go with the store; then the permit.
                drop(store);
                drop(permit);
                $self.finish($op, started, outcome, &diagnostics)
            }
        }
    }};
}

enum Failure {
    Instantiate(wasmtime::Error),
    Guest(wasmtime::Error),
}

impl Gateway {
    pub(crate) fn from_inner(inner: GatewayInner) -> Self {
        Gateway {
            inner: Arc::new(inner),
        }
    }

    pub(crate) fn set_loaded(&mut self, info: GatewayInfo, load_info: LoadInfo) {
        if let Some(inner) = Arc::get_mut(&mut self.inner) {
            inner.info = Some(info);
            inner.load_info = Some(load_info);
        }
    }

    /// Calls `info.describe` (used while loading). It loads the whole world, so every export's
    /// type is checked once here, at load time; the calls after it load only their interface.
    pub(crate) async fn describe_now(&self) -> Result<GatewayInfo, CallError> {
        guest_call!(self, "info.describe", world, |b, store| b
            .omnicrm_payments_info()
            .call_describe(store))
    }

    /// What the plugin says about itself (from `info.describe`, called once at load).
    pub fn info(&self) -> &GatewayInfo {
        static EMPTY: std::sync::OnceLock<GatewayInfo> = std::sync::OnceLock::new();
        self.inner.info.as_ref().unwrap_or_else(|| {
            EMPTY.get_or_init(|| GatewayInfo {
                name: String::new(),
                display_name: String::new(),
                version: String::new(),
                currencies: Vec::new(),
            })
        })
    }

    /// The name the gateway was loaded under (the key of its `[gateways.NAME]` table).
    pub fn name(&self) -> &str {
        &self.inner.shared.name
    }

    /// The contract version the host speaks with this plugin (`0.1.0`).
    pub fn contract_version(&self) -> &str {
        crate::contract::CONTRACT_VERSION
    }

    /// The per-call limits.
    pub fn limits(&self) -> Limits {
        self.inner.limits
    }

    /// How the gateway was loaded (artifact cache hit or not, timings).
    pub fn load_info(&self) -> Option<&LoadInfo> {
        self.inner.load_info.as_ref()
    }

    async fn acquire_slot(
        &self,
        deadline: Instant,
    ) -> Result<tokio::sync::OwnedSemaphorePermit, CallError> {
        let permits = self.inner.runtime.instance_permits.clone();
        match tokio::time::timeout_at(deadline.into(), permits.acquire_owned()).await {
            Ok(Ok(permit)) => Ok(permit),
            Ok(Err(_)) => Err(CallError::Host("the runtime is shutting down".into())),
            // The plugin did not run: not a timeout of the operation.
            Err(_) => Err(CallError::Host(
                "no instance slot became free before the call's deadline (max_instances reached)"
                    .into(),
            )),
        }
    }

    fn new_store(&self, deadline: Instant) -> (Store<HostState>, Arc<Diagnostics>) {
        let inner = &self.inner;
        let runtime = &inner.runtime;
        let diagnostics = Arc::new(Diagnostics::default());
        let name = inner.shared.name.clone();

        let wasi = sandboxed_wasi(&name, runtime.clock, &diagnostics);
        let mut http = WasiHttpCtx::new();
        http.set_field_size_limit(MAX_FIELD_BYTES);
        let mut table = ResourceTable::new();
        table.set_max_capacity(MAX_RESOURCES);
        let state = HostState {
            wasi,
            http,
            table,
            hooks: OutboundHooks {
                gateway: name,
                policy: inner.policy.clone(),
                auth: inner.auth.clone(),
                secrets: inner.shared.secrets.clone(),
                client: runtime.client.clone(),
            },
            limiter: GuestLimiter::new(inner.limits.memory_bytes(), diagnostics.clone()),
            shared: inner.shared.clone(),
            deadline: runtime.clock.instant_of(deadline),
        };
        let mut store = Store::new(&runtime.engine, state);
        store.limiter(|s| &mut s.limiter);
        // Every epoch tick, a guest in pure computation yields to the executor so the call's
        // timeout can fire; past the deadline it is interrupted (a backstop for executors
        // that stop polling).
        store.set_epoch_deadline(1);
        store.epoch_deadline_callback(move |_| {
            if Instant::now() >= deadline {
                Ok(UpdateDeadline::Interrupt)
            } else {
                Ok(UpdateDeadline::Yield(1))
            }
        });
        (store, diagnostics)
    }

    fn finish<T>(
        &self,
        op: &'static str,
        started: Instant,
        outcome: Result<Result<T, Failure>, tokio::time::error::Elapsed>,
        diagnostics: &Diagnostics,
    ) -> Result<T, CallError> {
        let gateway = self.name();
        let timeout = self.inner.limits.call_timeout();
        let result = match outcome {
            Ok(Ok(value)) => Ok(value),
            Err(_elapsed) => Err(CallError::Timeout { after: timeout }),
            Ok(Err(Failure::Instantiate(e))) => {
                let detail = format!("{e:#}");
                let detail = truncate(&detail, MAX_TRAP_MESSAGE);
                Err(CallError::Host(if diagnostics.memory_limit_hit() {
                    format!(
                        "cannot instantiate the plugin: its initial memory exceeds its memory limit of {} MiB ({detail})",
                        self.inner.limits.memory_mib
                    )
                } else {
                    format!("cannot instantiate the plugin: {detail}")
                }))
            }
            Ok(Err(Failure::Guest(e))) => Err(self.trap_error(e, diagnostics, timeout)),
        };
        let elapsed_ms = started.elapsed().as_secs_f64() * 1000.0;
        match &result {
            Ok(_) => tracing::debug!(gateway, op, elapsed_ms, "gateway call"),
            Err(e) => tracing::warn!(gateway, op, elapsed_ms, error = %e, "gateway call failed"),
        }
        result
    }

    fn trap_error(
        &self,
        e: wasmtime::Error,
        diagnostics: &Diagnostics,
        timeout: Duration,
    ) -> CallError {
        if e.downcast_ref::<Trap>() == Some(&Trap::Interrupt) {
            return CallError::Timeout { after: timeout };
        }
        let detail = format!("{e:#}");
        let stderr = diagnostics.stderr_tail();
        let mut message = if diagnostics.memory_limit_hit() {
            format!(
                "the plugin exceeded its memory limit of {} MiB ({detail})",
                self.inner.limits.memory_mib
            )
        } else {
            detail
        };
        if !stderr.is_empty() {
            let tail = last_chars(&stderr, 512);
            message = format!("{message}; plugin stderr: {tail}");
        }
        CallError::Trap(truncate(&message, MAX_TRAP_MESSAGE).to_string())
    }

    // ---- tokens ----

    /// Creates the gateway customer for a CRM customer, or finds the one created before.
    pub async fn ensure_customer(
        &self,
        request: CustomerRequest,
        idempotency_key: &str,
    ) -> Result<Customer, CallError> {
        flatten(guest_call!(
            self,
            "tokens.ensure-customer",
            tokens,
            |g, store| g.call_ensure_customer(store, &request, &idempotency_key.to_owned())
        ))
    }

    /// Stores a card from a token made by the gateway's card form.
    pub async fn store_card(
        &self,
        customer: &str,
        token: &str,
        make_default: bool,
        idempotency_key: &str,
    ) -> Result<StoredCard, CallError> {
        flatten(guest_call!(
            self,
            "tokens.store-card",
            tokens,
            |g, store| g.call_store_card(
                store,
                &customer.to_owned(),
                token,
                make_default,
                &idempotency_key.to_owned()
            )
        ))
    }

    /// The customer's stored cards, default first.
    pub async fn list_cards(&self, customer: &str) -> Result<Vec<StoredCard>, CallError> {
        flatten(guest_call!(
            self,
            "tokens.list-cards",
            tokens,
            |g, store| g.call_list_cards(store, &customer.to_owned())
        ))
    }

    /// Makes one of the customer's cards the default.
    pub async fn set_default_card(&self, customer: &str, card: &str) -> Result<(), CallError> {
        flatten(guest_call!(
            self,
            "tokens.set-default-card",
            tokens,
            |g, store| g.call_set_default_card(store, &customer.to_owned(), &card.to_owned())
        ))
    }

    /// Removes a stored card.
    pub async fn remove_card(&self, customer: &str, card: &str) -> Result<(), CallError> {
        flatten(guest_call!(
            self,
            "tokens.remove-card",
            tokens,
            |g, store| g.call_remove_card(store, &customer.to_owned(), &card.to_owned())
        ))
    }

    // ---- charging ----

    /// Charges a stored card off-session (or authorizes it).
    pub async fn charge(&self, request: ChargeRequest) -> Result<Payment, CallError> {
        flatten(guest_call!(
            self,
            "charging.charge",
            charging,
            |g, store| g.call_charge(store, &request)
        ))
    }

    /// Captures all of an authorization, or `amount` minor units of it.
    pub async fn capture(
        &self,
        payment: &str,
        amount: Option<i64>,
        idempotency_key: &str,
    ) -> Result<Payment, CallError> {
        flatten(guest_call!(
            self,
            "charging.capture",
            charging,
            |g, store| g.call_capture(
                store,
                &payment.to_owned(),
                amount,
                &idempotency_key.to_owned()
            )
        ))
    }

    /// Cancels an uncaptured payment.
    pub async fn cancel(&self, payment: &str, idempotency_key: &str) -> Result<Payment, CallError> {
        flatten(guest_call!(
            self,
            "charging.cancel",
            charging,
            |g, store| g.call_cancel(store, &payment.to_owned(), &idempotency_key.to_owned())
        ))
    }

    /// Refunds all or part of a payment.
    pub async fn refund_payment(&self, request: RefundRequest) -> Result<Refund, CallError> {
        flatten(guest_call!(
            self,
            "charging.refund-payment",
            charging,
            |g, store| g.call_refund_payment(store, &request)
        ))
    }

    /// Looks a payment up.
    pub async fn get_payment(&self, payment: &str) -> Result<Payment, CallError> {
        flatten(guest_call!(
            self,
            "charging.get-payment",
            charging,
            |g, store| g.call_get_payment(store, &payment.to_owned())
        ))
    }

    // ---- invoicing ----

    /// Creates a draft invoice.
    pub async fn create_invoice(&self, request: InvoiceRequest) -> Result<Invoice, CallError> {
        flatten(guest_call!(
            self,
            "invoicing.create-invoice",
            invoicing,
            |g, store| g.call_create_invoice(store, &request)
        ))
    }

    /// Finalizes a draft invoice.
    pub async fn finalize_invoice(
        &self,
        invoice: &str,
        idempotency_key: &str,
    ) -> Result<Invoice, CallError> {
        flatten(guest_call!(
            self,
            "invoicing.finalize-invoice",
            invoicing,
            |g, store| g.call_finalize_invoice(
                store,
                &invoice.to_owned(),
                &idempotency_key.to_owned()
            )
        ))
    }

    /// Pays an open invoice, with `card` or the customer's default card.
    pub async fn pay_invoice(
        &self,
        invoice: &str,
        card: Option<&str>,
        idempotency_key: &str,
    ) -> Result<Invoice, CallError> {
        flatten(guest_call!(
            self,
            "invoicing.pay-invoice",
            invoicing,
            |g, store| g.call_pay_invoice(
                store,
                &invoice.to_owned(),
                card.map(str::to_owned).as_ref(),
                &idempotency_key.to_owned()
            )
        ))
    }

    /// Voids an open invoice.
    pub async fn void_invoice(
        &self,
        invoice: &str,
        idempotency_key: &str,
    ) -> Result<Invoice, CallError> {
        flatten(guest_call!(
            self,
            "invoicing.void-invoice",
            invoicing,
            |g, store| g.call_void_invoice(store, &invoice.to_owned(), &idempotency_key.to_owned())
        ))
    }

    /// Marks an open invoice uncollectible.
    pub async fn mark_uncollectible(
        &self,
        invoice: &str,
        idempotency_key: &str,
    ) -> Result<Invoice, CallError> {
        flatten(guest_call!(
            self,
            "invoicing.mark-uncollectible",
            invoicing,
            |g, store| g.call_mark_uncollectible(
                store,
                &invoice.to_owned(),
                &idempotency_key.to_owned()
            )
        ))
    }

    /// Looks an invoice up.
    pub async fn get_invoice(&self, invoice: &str) -> Result<Invoice, CallError> {
        flatten(guest_call!(
            self,
            "invoicing.get-invoice",
            invoicing,
            |g, store| g.call_get_invoice(store, &invoice.to_owned())
        ))
    }

    /// Lists invoices, one page at a time.
    pub async fn list_invoices(
        &self,
        filter: InvoiceFilter,
        page: PageRequest,
    ) -> Result<InvoicePage, CallError> {
        flatten(guest_call!(
            self,
            "invoicing.list-invoices",
            invoicing,
            |g, store| g.call_list_invoices(store, &filter, &page)
        ))
    }

    // ---- metrics ----

    /// Summarizes volume, refunds, fees and disputes over a time range in one currency.
    pub async fn summarize(
        &self,
        range: TimeRange,
        currency: &str,
    ) -> Result<FinancialSummary, CallError> {
        flatten(guest_call!(
            self,
            "metrics.summarize",
            metrics,
            |g, store| g.call_summarize(store, range, currency)
        ))
    }

    /// Lists balance transactions, one page at a time.
    pub async fn list_balance_transactions(
        &self,
        filter: BalanceFilter,
        page: PageRequest,
    ) -> Result<BalancePage, CallError> {
        flatten(guest_call!(
            self,
            "metrics.list-balance-transactions",
            metrics,
            |g, store| g.call_list_balance_transactions(store, &filter, &page)
        ))
    }

    // ---- webhooks ----

    /// Verifies and normalizes a webhook event from its raw headers (lower-case names) and
    /// body. The outer error is the call failing; the inner one is the plugin's rejection.
    pub async fn verify_event(
        &self,
        headers: Vec<(String, Vec<u8>)>,
        body: Vec<u8>,
    ) -> Result<Result<GatewayEvent, Rejection>, CallError> {
        guest_call!(self, "webhooks.verify-event", webhooks, |g, store| g
            .call_verify_event(store, &headers, &body))
    }
}

fn flatten<T>(
    r: Result<Result<T, crate::contract::GatewayError>, CallError>,
) -> Result<T, CallError> {
    r?.map_err(CallError::Gateway)
}

fn last_chars(s: &str, max: usize) -> &str {
    if s.len() <= max {
        return s;
    }
    let mut start = s.len() - max;
    while !s.is_char_boundary(start) {
        start += 1;
    }
    &s[start..]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn assert_send<T: Send>(_: &T) {}
    fn assert_send_sync<T: Send + Sync + Clone + 'static>() {}

    /// The service spawns gateway calls on tokio and axum: the futures must be `Send`.
    #[allow(dead_code)]
    fn futures_are_send(g: &Gateway, request: ChargeRequest) {
        assert_send_sync::<Gateway>();
        assert_send(&g.charge(request));
        assert_send(&g.verify_event(Vec::new(), Vec::new()));
        assert_send(&g.pay_invoice("in_1", Some("pm_1"), "k"));
    }
}
