//! A loaded gateway: typed async calls into the plugin, each in a fresh instance with its own
//! store, memory limit and deadline (`call`), dispatched on the contract version the component
//! exports (`dispatch`), in the newest contract's types whatever that version.
//!
//! A function that needs a capability (`invoicing`, `metrics`, `payment-lookup`,
//! `refund-lookup`, `card-sessions`, `customer-actions`) answers `unsupported` without entering
//! the component when the plugin did not declare it.
//!
//! Every answer is checked against its request and the contract before it is handed on
//! (`checks`): a violation is [`CallError::InvalidOutput`]. A plugin's errors are handed on
//! with their text escaped and bounded.

mod call;
mod checks;
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
use checks::Checked;
use std::sync::Arc;

/// What the host counted of a gateway since it was loaded.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct GatewayStats {
    /// Log lines of the plugin (`logging`, stdout, stderr) dropped because they were over the
    /// gateway's limits (`limits.log_bytes_per_call`, `limits.log_bytes_per_second`).
    pub log_lines_dropped: u64,
    /// Their bytes.
    pub log_bytes_dropped: u64,
}

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

    /// What the host counted of the gateway since it was loaded.
    pub fn stats(&self) -> GatewayStats {
        let (log_lines_dropped, log_bytes_dropped) = self.runner().shared().log_dropped();
        GatewayStats {
            log_lines_dropped,
            log_bytes_dropped,
        }
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

    /// `value` if it passes `check`; else the violation, logged, as the call's error.
    fn checked<T>(
        &self,
        op: &str,
        value: T,
        check: impl FnOnce(&T) -> Checked,
    ) -> Result<T, CallError> {
        match check(&value) {
            Ok(()) => Ok(value),
            Err(violation) => {
                tracing::warn!(
                    gateway = self.name(),
                    op,
                    field = %violation.field,
                    problem = %violation.problem,
                    "the plugin's answer breaks the contract: not handed on (the outcome is unknown)"
                );
                Err(violation.into())
            }
        }
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
        let answer = flatten(run_call!(
            self.runner(),
            "tokens.ensure-customer",
            |exports, store, instance| exports.ensure_customer(
                store,
                instance,
                &request,
                &idempotency_key
            )
        ))?;
        self.checked("tokens.ensure-customer", answer, |c| {
            checks::customer(&request, c)
        })
    }

    /// Stores a card from a token made by the gateway's card form.
    pub async fn store_card(&self, request: StoreCardRequest) -> Result<StoredCard, CallError> {
        let answer = flatten(run_call!(
            self.runner(),
            "tokens.store-card",
            |exports, store, instance| exports.store_card(store, instance, &request)
        ))?;
        self.checked("tokens.store-card", answer, |c| {
            checks::stored_card("stored-card", c, Some(&request.customer))
        })
    }

    /// Starts a session of the gateway's client-side card form (`card-sessions`).
    pub async fn start_card_session(
        &self,
        request: CardSessionRequest,
    ) -> Result<CardSession, CallError> {
        self.require(Capabilities::CARD_SESSIONS, "tokens.start-card-session")?;
        let answer = flatten(run_call!(
            self.runner(),
            "tokens.start-card-session",
            |exports, store, instance| exports.start_card_session(store, instance, &request)
        ))?;
        self.checked("tokens.start-card-session", answer, checks::card_session)
    }

    /// The customer's stored cards, default first.
    pub async fn list_cards(&self, customer: &str) -> Result<Vec<StoredCard>, CallError> {
        let customer = customer.to_owned();
        let answer = flatten(run_call!(
            self.runner(),
            "tokens.list-cards",
            |exports, store, instance| exports.list_cards(store, instance, &customer)
        ))?;
        self.checked("tokens.list-cards", answer, |cards| {
            checks::stored_cards(&customer, cards)
        })
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
        let answer = flatten(run_call!(
            self.runner(),
            "charging.charge",
            |exports, store, instance| exports.charge(store, instance, &request)
        ))?;
        self.checked("charging.charge", answer, |p| checks::charge(&request, p))
    }

    /// Captures all of an authorization, or part of it. The modification may be `pending` for
    /// a gateway with `async-modifications`.
    pub async fn capture_payment(
        &self,
        request: CaptureRequest,
    ) -> Result<Modification, CallError> {
        let answer = flatten(run_call!(
            self.runner(),
            "charging.capture-payment",
            |exports, store, instance| exports.capture_payment(store, instance, &request)
        ))?;
        self.checked("charging.capture-payment", answer, |m| {
            checks::capture(&request, m)
        })
    }

    /// Voids an uncaptured payment. The modification may be `pending` for a gateway with
    /// `async-modifications`.
    pub async fn void_payment(&self, request: VoidRequest) -> Result<Modification, CallError> {
        let answer = flatten(run_call!(
            self.runner(),
            "charging.void-payment",
            |exports, store, instance| exports.void_payment(store, instance, &request)
        ))?;
        self.checked("charging.void-payment", answer, |m| {
            checks::void(&request, m)
        })
    }

    /// Refunds all or part of a payment.
    pub async fn refund_payment(&self, request: RefundRequest) -> Result<Refund, CallError> {
        let answer = flatten(run_call!(
            self.runner(),
            "charging.refund-payment",
            |exports, store, instance| exports.refund_payment(store, instance, &request)
        ))?;
        self.checked("charging.refund-payment", answer, |r| {
            checks::refund_of(&request, r)
        })
    }

    /// Finishes a payment after the customer's action (`customer-actions`).
    pub async fn complete_action(&self, request: ActionCompletion) -> Result<Payment, CallError> {
        self.require(Capabilities::CUSTOMER_ACTIONS, "charging.complete-action")?;
        let answer = flatten(run_call!(
            self.runner(),
            "charging.complete-action",
            |exports, store, instance| exports.complete_action(store, instance, &request)
        ))?;
        self.checked("charging.complete-action", answer, |p| {
            checks::payment("payment", p)
        })
    }

    /// Looks a payment up (`payment-lookup`).
    pub async fn get_payment(&self, payment: &str) -> Result<Payment, CallError> {
        self.require(Capabilities::PAYMENT_LOOKUP, "charging.get-payment")?;
        let payment = payment.to_owned();
        let answer = flatten(run_call!(
            self.runner(),
            "charging.get-payment",
            |exports, store, instance| exports.get_payment(store, instance, &payment)
        ))?;
        self.checked("charging.get-payment", answer, |p| {
            checks::payment("payment", p)
        })
    }

    /// Looks a refund up (`refund-lookup`).
    pub async fn get_refund(&self, refund: &str) -> Result<Refund, CallError> {
        self.require(Capabilities::REFUND_LOOKUP, "charging.get-refund")?;
        let refund = refund.to_owned();
        let answer = flatten(run_call!(
            self.runner(),
            "charging.get-refund",
            |exports, store, instance| exports.get_refund(store, instance, &refund)
        ))?;
        self.checked("charging.get-refund", answer, checks::refund)
    }

    // ---- invoicing ----

    /// Creates a draft invoice (`invoicing`).
    pub async fn create_invoice(&self, request: InvoiceRequest) -> Result<Invoice, CallError> {
        self.require(Capabilities::INVOICING, "invoicing.create-invoice")?;
        let answer = flatten(run_call!(
            self.runner(),
            "invoicing.create-invoice",
            |exports, store, instance| exports.create_invoice(store, instance, &request)
        ))?;
        self.checked("invoicing.create-invoice", answer, |i| {
            checks::invoice("invoice", i, Some(&request.currency))
        })
    }

    /// Finalizes a draft invoice (`invoicing`).
    pub async fn finalize_invoice(
        &self,
        invoice: &str,
        idempotency_key: &str,
    ) -> Result<Invoice, CallError> {
        self.require(Capabilities::INVOICING, "invoicing.finalize-invoice")?;
        let (invoice, key) = (invoice.to_owned(), idempotency_key.to_owned());
        let answer = flatten(run_call!(
            self.runner(),
            "invoicing.finalize-invoice",
            |exports, store, instance| exports.finalize_invoice(store, instance, &invoice, &key)
        ))?;
        self.checked("invoicing.finalize-invoice", answer, |i| {
            checks::invoice("invoice", i, None)
        })
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
        let answer = flatten(run_call!(
            self.runner(),
            "invoicing.pay-invoice",
            |exports, store, instance| exports.pay_invoice(
                store,
                instance,
                &invoice,
                card.as_ref(),
                &key
            )
        ))?;
        self.checked("invoicing.pay-invoice", answer, |i| {
            checks::invoice("invoice", i, None)
        })
    }

    /// Voids an open invoice; a draft is deleted (`invoicing`).
    pub async fn void_invoice(
        &self,
        invoice: &str,
        idempotency_key: &str,
    ) -> Result<Invoice, CallError> {
        self.require(Capabilities::INVOICING, "invoicing.void-invoice")?;
        let (invoice, key) = (invoice.to_owned(), idempotency_key.to_owned());
        let answer = flatten(run_call!(
            self.runner(),
            "invoicing.void-invoice",
            |exports, store, instance| exports.void_invoice(store, instance, &invoice, &key)
        ))?;
        self.checked("invoicing.void-invoice", answer, |i| {
            checks::invoice("invoice", i, None)
        })
    }

    /// Marks an open invoice uncollectible (`invoicing`).
    pub async fn mark_uncollectible(
        &self,
        invoice: &str,
        idempotency_key: &str,
    ) -> Result<Invoice, CallError> {
        self.require(Capabilities::INVOICING, "invoicing.mark-uncollectible")?;
        let (invoice, key) = (invoice.to_owned(), idempotency_key.to_owned());
        let answer = flatten(run_call!(
            self.runner(),
            "invoicing.mark-uncollectible",
            |exports, store, instance| exports.mark_uncollectible(store, instance, &invoice, &key)
        ))?;
        self.checked("invoicing.mark-uncollectible", answer, |i| {
            checks::invoice("invoice", i, None)
        })
    }

    /// Looks an invoice up (`invoicing`).
    pub async fn get_invoice(&self, invoice: &str) -> Result<Invoice, CallError> {
        self.require(Capabilities::INVOICING, "invoicing.get-invoice")?;
        let invoice = invoice.to_owned();
        let answer = flatten(run_call!(
            self.runner(),
            "invoicing.get-invoice",
            |exports, store, instance| exports.get_invoice(store, instance, &invoice)
        ))?;
        self.checked("invoicing.get-invoice", answer, |i| {
            checks::invoice("invoice", i, None)
        })
    }

    /// Lists invoices, one page at a time (`invoicing`).
    pub async fn list_invoices(
        &self,
        filter: InvoiceFilter,
        page: PageRequest,
    ) -> Result<InvoicePage, CallError> {
        self.require(Capabilities::INVOICING, "invoicing.list-invoices")?;
        let answer = flatten(run_call!(
            self.runner(),
            "invoicing.list-invoices",
            |exports, store, instance| exports.list_invoices(store, instance, &filter, &page)
        ))?;
        self.checked("invoicing.list-invoices", answer, checks::invoice_page)
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
        let answer = flatten(run_call!(
            self.runner(),
            "metrics.summarize",
            |exports, store, instance| exports.summarize(store, instance, range, currency)
        ))?;
        self.checked("metrics.summarize", answer, |s| {
            checks::summary(s, currency)
        })
    }

    /// Lists the gateway's balance transactions, one page at a time (`metrics`).
    pub async fn list_balance_transactions(
        &self,
        filter: BalanceFilter,
        page: PageRequest,
    ) -> Result<BalancePage, CallError> {
        self.require(Capabilities::METRICS, "metrics.list-balance-transactions")?;
        let answer = flatten(run_call!(
            self.runner(),
            "metrics.list-balance-transactions",
            |exports, store, instance| exports
                .list_balance_transactions(store, instance, &filter, &page)
        ))?;
        self.checked(
            "metrics.list-balance-transactions",
            answer,
            checks::balance_page,
        )
    }

    // ---- webhooks ----

    /// Verifies and normalizes a webhook request as received (method, path, query, lower-case
    /// header names, raw body): the events it holds and the HTTP answer the gateway expects. The
    /// outer error is the call failing; the inner one is the plugin's rejection.
    pub async fn handle_webhook(
        &self,
        request: WebhookRequest,
    ) -> Result<Result<WebhookOutcome, Rejection>, CallError> {
        let answer = run_call!(
            self.runner(),
            "webhooks.handle-webhook",
            |exports, store, instance| exports.handle_webhook(store, instance, &request)
        )?;
        match answer {
            Ok(outcome) => self
                .checked("webhooks.handle-webhook", outcome, checks::webhook_outcome)
                .map(Ok),
            Err(rejection) => Ok(Err(checks::sanitize_rejection(rejection))),
        }
    }
}

/// A contract function's result, its gateway error (its text made safe) turned into a
/// [`CallError`].
fn flatten<T>(r: Result<Result<T, GatewayError>, CallError>) -> Result<T, CallError> {
    r?.map_err(|e| CallError::Gateway(checks::sanitize_error(e)))
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
