//! The seam between the service and a gateway: [`PaymentGateway`], the operations the service
//! calls, named as the service names them (see the glossary in the crate's documentation). It is
//! implemented for the runtime's [`Gateway`] (a loaded component); the live-gateway slots
//! ([`crate::live_gateways`]) hold an `Arc<dyn PaymentGateway>`, so tests can put a scripted
//! fake in a slot and drive the exactly-once executor without a component.
//!
//! Every operation that changes something at the gateway takes an idempotency key: repeated with
//! the same key and inputs, the gateway answers with the original outcome and does nothing again.

use std::future::Future;
use std::pin::Pin;

use omnicrm_host::Gateway;
use omnicrm_host::contract::{
    ActionCompletion, Capabilities, CaptureRequest, CardSession, CardSessionRequest, ChargeRequest,
    Customer, CustomerRequest, FinancialSummary, GatewayInfo, Invoice, InvoiceRequest,
    Modification, Payment, Refund, RefundRequest, Rejection, StoreCardRequest, StoredCard,
    TimeRange, VoidRequest, WebhookOutcome, WebhookRequest,
};
use omnicrm_host::error::CallError;

/// The future of a gateway call.
pub type GatewayFuture<'a, T> = Pin<Box<dyn Future<Output = Result<T, CallError>> + Send + 'a>>;

/// The operations the service calls on a payment gateway.
pub trait PaymentGateway: Send + Sync {
    /// What the gateway says about itself: name, display name, version, currencies,
    /// capabilities.
    fn describe(&self) -> &GatewayInfo;

    /// The contract version the service speaks with this gateway.
    fn contract_version(&self) -> &str;

    /// What the gateway declared it supports beyond the common operations: the service calls
    /// only what is declared, and does the rest itself.
    fn capabilities(&self) -> Capabilities {
        self.describe().capabilities
    }

    /// Creates the gateway customer of a CRM customer, or finds the one created before.
    fn ensure_customer<'a>(
        &'a self,
        request: CustomerRequest,
        idempotency_key: &'a str,
    ) -> GatewayFuture<'a, Customer>;

    /// Stores a card from a token made by the gateway's card form.
    fn store_card(&self, request: StoreCardRequest) -> GatewayFuture<'_, StoredCard>;

    /// Starts a session of the gateway's client-side card form (`card-sessions`).
    fn start_card_session(&self, request: CardSessionRequest) -> GatewayFuture<'_, CardSession>;

    /// The customer's stored cards, default first.
    fn list_cards<'a>(&'a self, customer: &'a str) -> GatewayFuture<'a, Vec<StoredCard>>;

    /// Makes one of the customer's stored cards the default.
    fn set_default_card<'a>(&'a self, customer: &'a str, card: &'a str) -> GatewayFuture<'a, ()>;

    /// Removes a stored card.
    fn remove_card<'a>(&'a self, customer: &'a str, card: &'a str) -> GatewayFuture<'a, ()>;

    /// Charges a stored card, or authorizes it (manual capture).
    fn charge(&self, request: ChargeRequest) -> GatewayFuture<'_, Payment>;

    /// Captures all of an authorization, or part of it: the contract's `capture-payment`. The
    /// modification carries the payment after it, or is `pending` (its outcome comes later).
    fn capture(&self, request: CaptureRequest) -> GatewayFuture<'_, Modification>;

    /// Voids a payment not captured yet (an authorization, or one awaiting authentication): the
    /// contract's `void-payment`. The payment ends `canceled`, now or (`pending`) later.
    fn void(&self, request: VoidRequest) -> GatewayFuture<'_, Modification>;

    /// Refunds all or part of a payment.
    fn refund(&self, request: RefundRequest) -> GatewayFuture<'_, Refund>;

    /// Finishes a payment after the customer's action (`customer-actions`).
    fn complete_action(&self, request: ActionCompletion) -> GatewayFuture<'_, Payment>;

    /// Looks a payment up (`payment-lookup`).
    fn get_payment<'a>(&'a self, payment: &'a str) -> GatewayFuture<'a, Payment>;

    /// Looks a refund up (`refund-lookup`).
    fn get_refund<'a>(&'a self, refund: &'a str) -> GatewayFuture<'a, Refund>;

    /// Creates a draft invoice.
    fn create_invoice(&self, request: InvoiceRequest) -> GatewayFuture<'_, Invoice>;

    /// Finalizes a draft invoice.
    fn finalize_invoice<'a>(
        &'a self,
        invoice: &'a str,
        idempotency_key: &'a str,
    ) -> GatewayFuture<'a, Invoice>;

    /// Pays an open invoice with `card`, or the customer's default card.
    fn pay_invoice<'a>(
        &'a self,
        invoice: &'a str,
        card: Option<&'a str>,
        idempotency_key: &'a str,
    ) -> GatewayFuture<'a, Invoice>;

    /// Voids an invoice (a draft is deleted).
    fn void_invoice<'a>(
        &'a self,
        invoice: &'a str,
        idempotency_key: &'a str,
    ) -> GatewayFuture<'a, Invoice>;

    /// Volume, refunds, fees and disputes over a time range in one currency.
    fn summarize<'a>(
        &'a self,
        range: TimeRange,
        currency: &'a str,
    ) -> GatewayFuture<'a, FinancialSummary>;

    /// Verifies and normalizes a webhook request as received: the events it holds and the HTTP
    /// answer the gateway expects. The outer error is the call failing; the inner one is the
    /// gateway's rejection of the request.
    fn handle_webhook(
        &self,
        request: WebhookRequest,
    ) -> GatewayFuture<'_, Result<WebhookOutcome, Rejection>>;
}

impl PaymentGateway for Gateway {
    fn describe(&self) -> &GatewayInfo {
        self.info()
    }

    fn contract_version(&self) -> &str {
        Gateway::contract_version(self)
    }

    fn ensure_customer<'a>(
        &'a self,
        request: CustomerRequest,
        idempotency_key: &'a str,
    ) -> GatewayFuture<'a, Customer> {
        Box::pin(Gateway::ensure_customer(self, request, idempotency_key))
    }

    fn store_card(&self, request: StoreCardRequest) -> GatewayFuture<'_, StoredCard> {
        Box::pin(Gateway::store_card(self, request))
    }

    fn start_card_session(&self, request: CardSessionRequest) -> GatewayFuture<'_, CardSession> {
        Box::pin(Gateway::start_card_session(self, request))
    }

    fn list_cards<'a>(&'a self, customer: &'a str) -> GatewayFuture<'a, Vec<StoredCard>> {
        Box::pin(Gateway::list_cards(self, customer))
    }

    fn set_default_card<'a>(&'a self, customer: &'a str, card: &'a str) -> GatewayFuture<'a, ()> {
        Box::pin(Gateway::set_default_card(self, customer, card))
    }

    fn remove_card<'a>(&'a self, customer: &'a str, card: &'a str) -> GatewayFuture<'a, ()> {
        Box::pin(Gateway::remove_card(self, customer, card))
    }

    fn charge(&self, request: ChargeRequest) -> GatewayFuture<'_, Payment> {
        Box::pin(Gateway::charge(self, request))
    }

    fn capture(&self, request: CaptureRequest) -> GatewayFuture<'_, Modification> {
        Box::pin(Gateway::capture_payment(self, request))
    }

    fn void(&self, request: VoidRequest) -> GatewayFuture<'_, Modification> {
        Box::pin(Gateway::void_payment(self, request))
    }

    fn refund(&self, request: RefundRequest) -> GatewayFuture<'_, Refund> {
        Box::pin(Gateway::refund_payment(self, request))
    }

    fn complete_action(&self, request: ActionCompletion) -> GatewayFuture<'_, Payment> {
        Box::pin(Gateway::complete_action(self, request))
    }

    fn get_payment<'a>(&'a self, payment: &'a str) -> GatewayFuture<'a, Payment> {
        Box::pin(Gateway::get_payment(self, payment))
    }

    fn get_refund<'a>(&'a self, refund: &'a str) -> GatewayFuture<'a, Refund> {
        Box::pin(Gateway::get_refund(self, refund))
    }

    fn create_invoice(&self, request: InvoiceRequest) -> GatewayFuture<'_, Invoice> {
        Box::pin(Gateway::create_invoice(self, request))
    }

    fn finalize_invoice<'a>(
        &'a self,
        invoice: &'a str,
        idempotency_key: &'a str,
    ) -> GatewayFuture<'a, Invoice> {
        Box::pin(Gateway::finalize_invoice(self, invoice, idempotency_key))
    }

    fn pay_invoice<'a>(
        &'a self,
        invoice: &'a str,
        card: Option<&'a str>,
        idempotency_key: &'a str,
    ) -> GatewayFuture<'a, Invoice> {
        Box::pin(Gateway::pay_invoice(self, invoice, card, idempotency_key))
    }

    fn void_invoice<'a>(
        &'a self,
        invoice: &'a str,
        idempotency_key: &'a str,
    ) -> GatewayFuture<'a, Invoice> {
        Box::pin(Gateway::void_invoice(self, invoice, idempotency_key))
    }

    fn summarize<'a>(
        &'a self,
        range: TimeRange,
        currency: &'a str,
    ) -> GatewayFuture<'a, FinancialSummary> {
        Box::pin(Gateway::summarize(self, range, currency))
    }

    fn handle_webhook(
        &self,
        request: WebhookRequest,
    ) -> GatewayFuture<'_, Result<WebhookOutcome, Rejection>> {
        Box::pin(Gateway::handle_webhook(self, request))
    }
}
