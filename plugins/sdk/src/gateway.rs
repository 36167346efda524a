//! The traits a gateway implements: [`Gateway`] for what every gateway exports, [`Invoicing`] and
//! [`Metrics`] for the optional parts (compiled in by the crate's features of the same names).
//!
//! Every method is an associated function without `self`: each call runs in a fresh instance of
//! the component, so there is no gateway value that could carry anything from one call to the
//! next (see the crate documentation).

use crate::charging::{
    ActionCompletion, CaptureRequest, ChargeRequest, Modification, Payment, Refund, RefundRequest,
    VoidRequest,
};
use crate::info::{Capabilities, GatewayInfo};
use crate::tokens::{
    CardSession, CardSessionRequest, Customer, CustomerRequest, StoreCardRequest, StoredCard,
};
use crate::types::{CardRef, CustomerRef, GatewayError, IdempotencyKey, PaymentRef, RefundRef};
use crate::webhooks::{Rejection, WebhookOutcome, WebhookRequest};

#[cfg(feature = "invoicing")]
use crate::invoicing::{Invoice, InvoiceFilter, InvoicePage, InvoiceRequest};
#[cfg(feature = "metrics")]
use crate::metrics::{BalanceFilter, BalancePage, FinancialSummary};
#[cfg(feature = "invoicing")]
use crate::types::InvoiceRef;
#[cfg(any(feature = "invoicing", feature = "metrics"))]
use crate::types::PageRequest;
#[cfg(feature = "metrics")]
use crate::types::TimeRange;

/// The capabilities that follow from the world the bindings were generated for (this crate's
/// features): `invoicing` and `metrics` when the component exports them. The SDK sets these two
/// flags in [`Gateway::describe`]'s answer; a gateway may use the constant to say so itself.
pub const WORLD_CAPABILITIES: Capabilities = {
    let mut capabilities = Capabilities::empty();
    if cfg!(feature = "invoicing") {
        capabilities = capabilities.union(Capabilities::INVOICING);
    }
    if cfg!(feature = "metrics") {
        capabilities = capabilities.union(Capabilities::METRICS);
    }
    capabilities
};

/// A payment gateway: the operations every gateway has (the contract's `info`, `tokens`,
/// `charging` and `webhooks` interfaces), registered with [`register_gateway!`](crate::register_gateway).
///
/// Optional operations have default methods answering `unsupported`; a gateway that implements
/// one declares the matching flag in [`describe`](Gateway::describe) (`card-sessions`,
/// `customer-actions`, `payment-lookup`, `refund-lookup`), and the host calls only what is declared.
pub trait Gateway {
    /// Describes the plugin: name, version, currencies and capabilities. Must not call the
    /// network (the host calls it when loading). The `invoicing` and `metrics` flags are set by the
    /// SDK from the world the component is built for, whatever this returns for them.
    fn describe() -> GatewayInfo;

    /// Creates the gateway customer of a CRM customer, or returns the one created before with the
    /// same idempotency key.
    fn ensure_customer(
        request: CustomerRequest,
        idempotency_key: IdempotencyKey,
    ) -> Result<Customer, GatewayError>;

    /// Stores a card from a token made by the gateway's card form.
    fn store_card(request: StoreCardRequest) -> Result<StoredCard, GatewayError>;

    /// Starts a session of the gateway's client-side card form (`card-sessions` capability).
    fn start_card_session(request: CardSessionRequest) -> Result<CardSession, GatewayError> {
        let _ = request;
        Err(GatewayError::unsupported("start-card-session"))
    }

    /// The customer's stored cards, default first, then newest first.
    fn list_cards(customer: CustomerRef) -> Result<Vec<StoredCard>, GatewayError>;

    /// Makes one of the customer's cards the default.
    fn set_default_card(customer: CustomerRef, card: CardRef) -> Result<(), GatewayError>;

    /// Removes a stored card for good.
    fn remove_card(customer: CustomerRef, card: CardRef) -> Result<(), GatewayError>;

    /// Charges a stored card, or authorizes it (`capture-mode::manual`).
    fn charge(request: ChargeRequest) -> Result<Payment, GatewayError>;

    /// Captures an authorized payment.
    fn capture_payment(request: CaptureRequest) -> Result<Modification, GatewayError>;

    /// Voids an authorization.
    fn void_payment(request: VoidRequest) -> Result<Modification, GatewayError>;

    /// Refunds all or part of a captured payment.
    fn refund_payment(request: RefundRequest) -> Result<Refund, GatewayError>;

    /// Finishes a payment after the customer's action (`customer-actions` capability).
    fn complete_action(request: ActionCompletion) -> Result<Payment, GatewayError> {
        let _ = request;
        Err(GatewayError::unsupported("complete-action"))
    }

    /// Looks a payment up (`payment-lookup` capability).
    fn get_payment(payment: PaymentRef) -> Result<Payment, GatewayError> {
        let _ = payment;
        Err(GatewayError::unsupported("get-payment"))
    }

    /// Looks a refund up (`refund-lookup` capability).
    fn get_refund(refund: RefundRef) -> Result<Refund, GatewayError> {
        let _ = refund;
        Err(GatewayError::unsupported("get-refund"))
    }

    /// Verifies and normalizes a webhook request; returns its events and the HTTP answer.
    fn handle_webhook(request: WebhookRequest) -> Result<WebhookOutcome, Rejection>;
}

/// Invoices kept at the gateway (the contract's `invoicing` interface). Compiled with the
/// `invoicing` feature, which makes the component export it and the SDK declare the
/// `invoicing` capability.
#[cfg(feature = "invoicing")]
pub trait Invoicing: Gateway {
    /// Creates a draft invoice with its lines.
    fn create_invoice(request: InvoiceRequest) -> Result<Invoice, GatewayError>;

    /// Finalizes a draft.
    fn finalize_invoice(
        invoice: InvoiceRef,
        idempotency_key: IdempotencyKey,
    ) -> Result<Invoice, GatewayError>;

    /// Pays an open (or uncollectible) invoice with a stored card, or the default card.
    fn pay_invoice(
        invoice: InvoiceRef,
        card: Option<CardRef>,
        idempotency_key: IdempotencyKey,
    ) -> Result<Invoice, GatewayError>;

    /// Voids an open or uncollectible invoice; deletes a draft and reports it `void`.
    fn void_invoice(
        invoice: InvoiceRef,
        idempotency_key: IdempotencyKey,
    ) -> Result<Invoice, GatewayError>;

    /// Marks an open invoice uncollectible.
    fn mark_uncollectible(
        invoice: InvoiceRef,
        idempotency_key: IdempotencyKey,
    ) -> Result<Invoice, GatewayError>;

    /// Looks an invoice up.
    fn get_invoice(invoice: InvoiceRef) -> Result<Invoice, GatewayError>;

    /// Lists invoices, newest first.
    fn list_invoices(filter: InvoiceFilter, page: PageRequest)
    -> Result<InvoicePage, GatewayError>;
}

/// The gateway's own financial figures (the contract's `metrics` interface). Compiled with the
/// `metrics` feature, which makes the component export it and the SDK declare the `metrics`
/// capability.
#[cfg(feature = "metrics")]
pub trait Metrics: Gateway {
    /// Sums the account's activity over a range in one currency.
    fn summarize(range: TimeRange, currency: String) -> Result<FinancialSummary, GatewayError>;

    /// Lists balance transactions, newest first.
    fn list_balance_transactions(
        filter: BalanceFilter,
        page: PageRequest,
    ) -> Result<BalancePage, GatewayError>;
}
