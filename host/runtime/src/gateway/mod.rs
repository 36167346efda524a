//! A loaded gateway: typed async calls into the plugin, each in a fresh instance with its own
//! store, memory limit and deadline (`call`), dispatched on the contract version the component
//! exports (`dispatch`), in the newest contract's types whatever that version.
//!
//! A function that needs a capability (`invoicing`, `metrics`, `payment-lookup`,
//! `refund-lookup`, `card-sessions`, `customer-actions`) answers `unsupported` without entering
//! the component when the plugin did not declare it.

mod call;
mod dispatch;

pub(crate) use call::{CallRunner, Sandbox};
pub(crate) use dispatch::ContractExports;

use crate::config::Limits;
use crate::contract::{
    ActionCompletion, BalanceFilter, BalancePage, Capabilities, CaptureRequest, CardSession,
    CardSessionRequest, ChargeRequest, Customer, CustomerRequest, FinancialSummary, GatewayError,
    GatewayInfo, Invoice, InvoiceFilter, InvoicePage, InvoiceRequest, Modification, PageRequest,
    Payment, Refund, RefundRequest, Rejection, StoreCardRequest, StoredCard, TimeRange,
    VoidRequest, WebhookOutcome, WebhookRequest,
};
use crate::error::CallError;
use crate::load_info::LoadInfo;
use call::run_call;
use std::sync::Arc;

/// A loaded gateway plugin. Cheap to clone (`Arc` inside), `Send + Sync`: share it across
/// tasks. Every call runs in a fresh instance, so no state carries over between calls.
#[derive(Clone)]
pub struct Gateway {
    inner: Arc<Loaded>,
}

/// A gateway as loading left it.
struct Loaded {
    runner: CallRunner,
    info: GatewayInfo,
    contract_version: String,
    load_info: LoadInfo,
}

impl std::fmt::Debug for Gateway {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Gateway")
            .field("name", &self.name())
            .field("plugin", &self.inner.info.name)
            .field("contract_version", &self.inner.contract_version)
            .field("capabilities", &self.capabilities())
            .field("limits", &self.limits())
            .finish_non_exhaustive()
    }
}

impl Gateway {
    /// The gateway run by `runner`, which described itself as `info` (its capabilities checked
    /// against its exports) and exports the contract at `contract_version`.
    pub(crate) fn new(
        runner: CallRunner,
        info: GatewayInfo,
        contract_version: String,
        load_info: LoadInfo,
    ) -> Gateway {
        Gateway {
            inner: Arc::new(Loaded {
                runner,
                info,
                contract_version,
                load_info,
            }),
        }
    }

    fn runner(&self) -> &CallRunner {
        &self.inner.runner
    }

    /// What the plugin says about itself (from `info.describe`, called once at load). A 0.1
    /// plugin's capabilities are what 0.1 can do.
    pub fn info(&self) -> &GatewayInfo {
        &self.inner.info
    }

    /// What the plugin declared it supports beyond the common operations: the host calls only
    /// what is declared.
    pub fn capabilities(&self) -> Capabilities {
        self.inner.info.capabilities
    }

    /// The name the gateway was loaded under (the key of its `[gateways.NAME]` table).
    pub fn name(&self) -> &str {
        self.runner().name()
    }

    /// The contract version the plugin exports (`0.1.0`, `0.2.0`), as its export names spell
    /// it: the version the host speaks with it.
    pub fn contract_version(&self) -> &str {
        &self.inner.contract_version
    }

    /// The per-call limits.
    pub fn limits(&self) -> Limits {
        self.runner().limits()
    }

    /// How the gateway was loaded (artifact cache hit or not, timings); always present for a
    /// gateway from [`Runtime::load`](crate::Runtime::load).
    pub fn load_info(&self) -> Option<&LoadInfo> {
        Some(&self.inner.load_info)
    }

    /// `unsupported`, without entering the component, when the plugin did not declare
    /// `capability`.
    fn require(&self, capability: Capabilities, operation: &str) -> Result<(), CallError> {
        if self.capabilities().contains(capability) {
            return Ok(());
        }
        tracing::debug!(
            gateway = self.name(),
            operation,
            capability = %capability.name(),
            "not called: capability not declared"
        );
        Err(CallError::Gateway(GatewayError::Unsupported(format!(
            "{operation}: gateway `{}` does not declare the `{}` capability",
            self.name(),
            capability.name()
        ))))
    }

    // ---- tokens ----

    /// Creates the gateway customer for a CRM customer, or returns the one created before with
    /// the same idempotency key.
    pub async fn ensure_customer(
        &self,
        request: CustomerRequest,
        idempotency_key: &str,
    ) -> Result<Customer, CallError> {
        let idempotency_key = idempotency_key.to_owned();
        flatten(run_call!(
            self.runner(),
            "tokens.ensure-customer",
            |exports, store, instance| exports.ensure_customer(
                store,
                instance,
                &request,
                &idempotency_key
            )
        ))
    }

    /// Stores a card from a token made by the gateway's card form.
    pub async fn store_card(&self, request: StoreCardRequest) -> Result<StoredCard, CallError> {
        flatten(run_call!(
            self.runner(),
            "tokens.store-card",
            |exports, store, instance| exports.store_card(store, instance, &request)
        ))
    }

    /// Starts a session of the gateway's client-side card form (`card-sessions`).
    pub async fn start_card_session(
        &self,
        request: CardSessionRequest,
    ) -> Result<CardSession, CallError> {
        self.require(Capabilities::CARD_SESSIONS, "tokens.start-card-session")?;
        flatten(run_call!(
            self.runner(),
            "tokens.start-card-session",
            |exports, store, instance| exports.start_card_session(store, instance, &request)
        ))
    }

    /// The customer's stored cards, default first.
    pub async fn list_cards(&self, customer: &str) -> Result<Vec<StoredCard>, CallError> {
        let customer = customer.to_owned();
        flatten(run_call!(
            self.runner(),
            "tokens.list-cards",
            |exports, store, instance| exports.list_cards(store, instance, &customer)
        ))
    }

    /// Makes one of the customer's cards the default.
    pub async fn set_default_card(&self, customer: &str, card: &str) -> Result<(), CallError> {
        let (customer, card) = (customer.to_owned(), card.to_owned());
        flatten(run_call!(
            self.runner(),
            "tokens.set-default-card",
            |exports, store, instance| exports.set_default_card(store, instance, &customer, &card)
        ))
    }

    /// Removes a stored card.
    pub async fn remove_card(&self, customer: &str, card: &str) -> Result<(), CallError> {
        let (customer, card) = (customer.to_owned(), card.to_owned());
        flatten(run_call!(
            self.runner(),
            "tokens.remove-card",
            |exports, store, instance| exports.remove_card(store, instance, &customer, &card)
        ))
    }

    // ---- charging ----

    /// Charges a stored card (or authorizes it).
    pub async fn charge(&self, request: ChargeRequest) -> Result<Payment, CallError> {
        flatten(run_call!(
            self.runner(),
            "charging.charge",
            |exports, store, instance| exports.charge(store, instance, &request)
        ))
    }

    /// Captures all of an authorization, or part of it. The modification may be `pending` for
    /// a gateway with `async-modifications`.
    pub async fn capture_payment(
        &self,
        request: CaptureRequest,
    ) -> Result<Modification, CallError> {
        flatten(run_call!(
            self.runner(),
            "charging.capture-payment",
            |exports, store, instance| exports.capture_payment(store, instance, &request)
        ))
    }

    /// Voids an uncaptured payment. The modification may be `pending` for a gateway with
    /// `async-modifications`.
    pub async fn void_payment(&self, request: VoidRequest) -> Result<Modification, CallError> {
        flatten(run_call!(
            self.runner(),
            "charging.void-payment",
            |exports, store, instance| exports.void_payment(store, instance, &request)
        ))
    }

    /// Refunds all or part of a payment.
    pub async fn refund_payment(&self, request: RefundRequest) -> Result<Refund, CallError> {
        flatten(run_call!(
            self.runner(),
            "charging.refund-payment",
            |exports, store, instance| exports.refund_payment(store, instance, &request)
        ))
    }

    /// Finishes a payment after the customer's action (`customer-actions`).
    pub async fn complete_action(&self, request: ActionCompletion) -> Result<Payment, CallError> {
        self.require(Capabilities::CUSTOMER_ACTIONS, "charging.complete-action")?;
        flatten(run_call!(
            self.runner(),
            "charging.complete-action",
            |exports, store, instance| exports.complete_action(store, instance, &request)
        ))
    }

    /// Looks a payment up (`payment-lookup`).
    pub async fn get_payment(&self, payment: &str) -> Result<Payment, CallError> {
        self.require(Capabilities::PAYMENT_LOOKUP, "charging.get-payment")?;
        let payment = payment.to_owned();
        flatten(run_call!(
            self.runner(),
            "charging.get-payment",
            |exports, store, instance| exports.get_payment(store, instance, &payment)
        ))
    }

    /// Looks a refund up (`refund-lookup`).
    pub async fn get_refund(&self, refund: &str) -> Result<Refund, CallError> {
        self.require(Capabilities::REFUND_LOOKUP, "charging.get-refund")?;
        let refund = refund.to_owned();
        flatten(run_call!(
            self.runner(),
            "charging.get-refund",
            |exports, store, instance| exports.get_refund(store, instance, &refund)
        ))
    }

    // ---- invoicing ----

    /// Creates a draft invoice (`invoicing`).
    pub async fn create_invoice(&self, request: InvoiceRequest) -> Result<Invoice, CallError> {
        self.require(Capabilities::INVOICING, "invoicing.create-invoice")?;
        flatten(run_call!(
            self.runner(),
            "invoicing.create-invoice",
            |exports, store, instance| exports.create_invoice(store, instance, &request)
        ))
    }

    /// Finalizes a draft invoice (`invoicing`).
    pub async fn finalize_invoice(
        &self,
        invoice: &str,
        idempotency_key: &str,
    ) -> Result<Invoice, CallError> {
        self.require(Capabilities::INVOICING, "invoicing.finalize-invoice")?;
        let (invoice, key) = (invoice.to_owned(), idempotency_key.to_owned());
        flatten(run_call!(
            self.runner(),
            "invoicing.finalize-invoice",
            |exports, store, instance| exports.finalize_invoice(store, instance, &invoice, &key)
        ))
    }

    /// Pays an open invoice, with `card` or the customer's default card (`invoicing`).
    pub async fn pay_invoice(
        &self,
        invoice: &str,
        card: Option<&str>,
        idempotency_key: &str,
    ) -> Result<Invoice, CallError> {
        self.require(Capabilities::INVOICING, "invoicing.pay-invoice")?;
        let (invoice, key) = (invoice.to_owned(), idempotency_key.to_owned());
        let card = card.map(str::to_owned);
        flatten(run_call!(
            self.runner(),
            "invoicing.pay-invoice",
            |exports, store, instance| exports.pay_invoice(
                store,
                instance,
                &invoice,
                card.as_ref(),
                &key
            )
        ))
    }

    /// Voids an open invoice; a draft is deleted (`invoicing`).
    pub async fn void_invoice(
        &self,
        invoice: &str,
        idempotency_key: &str,
    ) -> Result<Invoice, CallError> {
        self.require(Capabilities::INVOICING, "invoicing.void-invoice")?;
        let (invoice, key) = (invoice.to_owned(), idempotency_key.to_owned());
        flatten(run_call!(
            self.runner(),
            "invoicing.void-invoice",
            |exports, store, instance| exports.void_invoice(store, instance, &invoice, &key)
        ))
    }

    /// Marks an open invoice uncollectible (`invoicing`).
    pub async fn mark_uncollectible(
        &self,
        invoice: &str,
        idempotency_key: &str,
    ) -> Result<Invoice, CallError> {
        self.require(Capabilities::INVOICING, "invoicing.mark-uncollectible")?;
        let (invoice, key) = (invoice.to_owned(), idempotency_key.to_owned());
        flatten(run_call!(
            self.runner(),
            "invoicing.mark-uncollectible",
            |exports, store, instance| exports.mark_uncollectible(store, instance, &invoice, &key)
        ))
    }

    /// Looks an invoice up (`invoicing`).
    pub async fn get_invoice(&self, invoice: &str) -> Result<Invoice, CallError> {
        self.require(Capabilities::INVOICING, "invoicing.get-invoice")?;
        let invoice = invoice.to_owned();
        flatten(run_call!(
            self.runner(),
            "invoicing.get-invoice",
            |exports, store, instance| exports.get_invoice(store, instance, &invoice)
        ))
    }

    /// Lists invoices, one page at a time (`invoicing`).
    pub async fn list_invoices(
        &self,
        filter: InvoiceFilter,
        page: PageRequest,
    ) -> Result<InvoicePage, CallError> {
        self.require(Capabilities::INVOICING, "invoicing.list-invoices")?;
        flatten(run_call!(
            self.runner(),
            "invoicing.list-invoices",
            |exports, store, instance| exports.list_invoices(store, instance, &filter, &page)
        ))
    }

    // ---- metrics ----

    /// The gateway's figures for volume, refunds, fees and disputes over a time range in one
    /// currency (`metrics`).
    pub async fn summarize(
        &self,
        range: TimeRange,
        currency: &str,
    ) -> Result<FinancialSummary, CallError> {
        self.require(Capabilities::METRICS, "metrics.summarize")?;
        flatten(run_call!(
            self.runner(),
            "metrics.summarize",
            |exports, store, instance| exports.summarize(store, instance, range, currency)
        ))
    }

    /// Lists the gateway's balance transactions, one page at a time (`metrics`).
    pub async fn list_balance_transactions(
        &self,
        filter: BalanceFilter,
        page: PageRequest,
    ) -> Result<BalancePage, CallError> {
        self.require(Capabilities::METRICS, "metrics.list-balance-transactions")?;
        flatten(run_call!(
            self.runner(),
            "metrics.list-balance-transactions",
            |exports, store, instance| exports
                .list_balance_transactions(store, instance, &filter, &page)
        ))
    }

    // ---- webhooks ----

    /// Verifies and normalizes a webhook request as received (method, path, query, lower-case
    /// header names, raw body): the events it holds and the HTTP answer the gateway expects. The
    /// outer error is the call failing; the inner one is the plugin's rejection.
    pub async fn handle_webhook(
        &self,
        request: WebhookRequest,
    ) -> Result<Result<WebhookOutcome, Rejection>, CallError> {
        run_call!(
            self.runner(),
            "webhooks.handle-webhook",
            |exports, store, instance| exports.handle_webhook(store, instance, &request)
        )
    }
}

/// A contract function's result, its gateway error turned into a [`CallError`].
fn flatten<T>(r: Result<Result<T, GatewayError>, CallError>) -> Result<T, CallError> {
    r?.map_err(CallError::Gateway)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn assert_send<T: Send>(_: &T) {}
    fn assert_send_sync<T: Send + Sync + Clone + 'static>() {}

    /// The service spawns gateway calls on tokio and axum: the futures must be `Send`.
    #[allow(dead_code)]
    fn futures_are_send(g: &Gateway, request: ChargeRequest, webhook: WebhookRequest) {
        assert_send_sync::<Gateway>();
        assert_send(&g.charge(request));
        assert_send(&g.handle_webhook(webhook));
        assert_send(&g.pay_invoice("in_1", Some("pm_1"), "k"));
    }
}
