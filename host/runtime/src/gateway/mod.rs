//! A loaded gateway: typed async calls into the plugin, each in a fresh instance with its own
//! store, memory limit and deadline (`call`), dispatched on the contract version the component
//! exports (`dispatch`).

mod call;
mod dispatch;

pub(crate) use call::{CallRunner, Sandbox};
pub(crate) use dispatch::ContractExports;

use crate::config::Limits;
use crate::contract::{
    BalanceFilter, BalancePage, ChargeRequest, Customer, CustomerRequest, FinancialSummary,
    GatewayError, GatewayEvent, GatewayInfo, Invoice, InvoiceFilter, InvoicePage, InvoiceRequest,
    PageRequest, Payment, Refund, RefundRequest, Rejection, StoredCard, TimeRange,
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
            .field("limits", &self.limits())
            .finish_non_exhaustive()
    }
}

impl Gateway {
    /// The gateway run by `runner`, which described itself as `info` and exports the contract at
    /// `contract_version`.
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

    /// What the plugin says about itself (from `info.describe`, called once at load).
    pub fn info(&self) -> &GatewayInfo {
        &self.inner.info
    }

    /// The name the gateway was loaded under (the key of its `[gateways.NAME]` table).
    pub fn name(&self) -> &str {
        self.runner().name()
    }

    /// The contract version the plugin exports (`0.1.0`), as its export names spell it: the
    /// version the host speaks with it.
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

    // ---- tokens ----

    /// Creates the gateway customer for a CRM customer, or finds the one created before.
    pub async fn ensure_customer(
        &self,
        request: CustomerRequest,
        idempotency_key: &str,
    ) -> Result<Customer, CallError> {
        flatten(run_call!(
            self.runner(),
            "tokens.ensure-customer",
            |exports, store, instance| exports.ensure_customer(
                store,
                instance,
                &request,
                &idempotency_key.to_owned()
            )
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
        flatten(run_call!(
            self.runner(),
            "tokens.store-card",
            |exports, store, instance| exports.store_card(
                store,
                instance,
                &customer.to_owned(),
                token,
                make_default,
                &idempotency_key.to_owned()
            )
        ))
    }

    /// The customer's stored cards, default first.
    pub async fn list_cards(&self, customer: &str) -> Result<Vec<StoredCard>, CallError> {
        flatten(run_call!(
            self.runner(),
            "tokens.list-cards",
            |exports, store, instance| exports.list_cards(store, instance, &customer.to_owned())
        ))
    }

    /// Makes one of the customer's cards the default.
    pub async fn set_default_card(&self, customer: &str, card: &str) -> Result<(), CallError> {
        flatten(run_call!(
            self.runner(),
            "tokens.set-default-card",
            |exports, store, instance| exports.set_default_card(
                store,
                instance,
                &customer.to_owned(),
                &card.to_owned()
            )
        ))
    }

    /// Removes a stored card.
    pub async fn remove_card(&self, customer: &str, card: &str) -> Result<(), CallError> {
        flatten(run_call!(
            self.runner(),
            "tokens.remove-card",
            |exports, store, instance| exports.remove_card(
                store,
                instance,
                &customer.to_owned(),
                &card.to_owned()
            )
        ))
    }

    // ---- charging ----

    /// Charges a stored card off-session (or authorizes it).
    pub async fn charge(&self, request: ChargeRequest) -> Result<Payment, CallError> {
        flatten(run_call!(
            self.runner(),
            "charging.charge",
            |exports, store, instance| exports.charge(store, instance, &request)
        ))
    }

    /// Captures all of an authorization, or `amount` minor units of it.
    pub async fn capture(
        &self,
        payment: &str,
        amount: Option<i64>,
        idempotency_key: &str,
    ) -> Result<Payment, CallError> {
        flatten(run_call!(
            self.runner(),
            "charging.capture",
            |exports, store, instance| exports.capture(
                store,
                instance,
                &payment.to_owned(),
                amount,
                &idempotency_key.to_owned()
            )
        ))
    }

    /// Cancels an uncaptured payment.
    pub async fn cancel(&self, payment: &str, idempotency_key: &str) -> Result<Payment, CallError> {
        flatten(run_call!(
            self.runner(),
            "charging.cancel",
            |exports, store, instance| exports.cancel(
                store,
                instance,
                &payment.to_owned(),
                &idempotency_key.to_owned()
            )
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

    /// Looks a payment up.
    pub async fn get_payment(&self, payment: &str) -> Result<Payment, CallError> {
        flatten(run_call!(
            self.runner(),
            "charging.get-payment",
            |exports, store, instance| exports.get_payment(store, instance, &payment.to_owned())
        ))
    }

    // ---- invoicing ----

    /// Creates a draft invoice.
    pub async fn create_invoice(&self, request: InvoiceRequest) -> Result<Invoice, CallError> {
        flatten(run_call!(
            self.runner(),
            "invoicing.create-invoice",
            |exports, store, instance| exports.create_invoice(store, instance, &request)
        ))
    }

    /// Finalizes a draft invoice.
    pub async fn finalize_invoice(
        &self,
        invoice: &str,
        idempotency_key: &str,
    ) -> Result<Invoice, CallError> {
        flatten(run_call!(
            self.runner(),
            "invoicing.finalize-invoice",
            |exports, store, instance| exports.finalize_invoice(
                store,
                instance,
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
        flatten(run_call!(
            self.runner(),
            "invoicing.pay-invoice",
            |exports, store, instance| exports.pay_invoice(
                store,
                instance,
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
        flatten(run_call!(
            self.runner(),
            "invoicing.void-invoice",
            |exports, store, instance| exports.void_invoice(
                store,
                instance,
                &invoice.to_owned(),
                &idempotency_key.to_owned()
            )
        ))
    }

    /// Marks an open invoice uncollectible.
    pub async fn mark_uncollectible(
        &self,
        invoice: &str,
        idempotency_key: &str,
    ) -> Result<Invoice, CallError> {
        flatten(run_call!(
            self.runner(),
            "invoicing.mark-uncollectible",
            |exports, store, instance| exports.mark_uncollectible(
                store,
                instance,
                &invoice.to_owned(),
                &idempotency_key.to_owned()
            )
        ))
    }

    /// Looks an invoice up.
    pub async fn get_invoice(&self, invoice: &str) -> Result<Invoice, CallError> {
        flatten(run_call!(
            self.runner(),
            "invoicing.get-invoice",
            |exports, store, instance| exports.get_invoice(store, instance, &invoice.to_owned())
        ))
    }

    /// Lists invoices, one page at a time.
    pub async fn list_invoices(
        &self,
        filter: InvoiceFilter,
        page: PageRequest,
    ) -> Result<InvoicePage, CallError> {
        flatten(run_call!(
            self.runner(),
            "invoicing.list-invoices",
            |exports, store, instance| exports.list_invoices(store, instance, &filter, &page)
        ))
    }

    // ---- metrics ----

    /// Summarizes volume, refunds, fees and disputes over a time range in one currency.
    pub async fn summarize(
        &self,
        range: TimeRange,
        currency: &str,
    ) -> Result<FinancialSummary, CallError> {
        flatten(run_call!(
            self.runner(),
            "metrics.summarize",
            |exports, store, instance| exports.summarize(store, instance, range, currency)
        ))
    }

    /// Lists balance transactions, one page at a time.
    pub async fn list_balance_transactions(
        &self,
        filter: BalanceFilter,
        page: PageRequest,
    ) -> Result<BalancePage, CallError> {
        flatten(run_call!(
            self.runner(),
            "metrics.list-balance-transactions",
            |exports, store, instance| exports
                .list_balance_transactions(store, instance, &filter, &page)
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
        run_call!(
            self.runner(),
            "webhooks.verify-event",
            |exports, store, instance| exports.verify_event(store, instance, &headers, &body)
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
    fn futures_are_send(g: &Gateway, request: ChargeRequest) {
        assert_send_sync::<Gateway>();
        assert_send(&g.charge(request));
        assert_send(&g.verify_event(Vec::new(), Vec::new()));
        assert_send(&g.pay_invoice("in_1", Some("pm_1"), "k"));
    }
}
