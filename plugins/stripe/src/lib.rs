//! OmniCRM's Stripe gateway: the `omnicrm:payments@0.2.0` contract (world `full-gateway`: with
//! invoicing and metrics) over the Stripe API, as a WebAssembly component.
//!
//! - API version pinned to [`client::STRIPE_VERSION`] on every request.
//! - The API key is added by the host (`auth = { scheme = "bearer", secret = "api-key" }`); the
//!   webhook secret (`webhook-secret`) stays in the host, which verifies the signature MAC.
//! - Settings: `base-url` (default `https://api.stripe.com`), `timeout-ms` (per attempt, default
//!   30000), `max-retries` (default 2), `retry-backoff-ms` (default 500), `retry-backoff-max-ms`
//!   (default 5000), `page-size` (default 100), `webhook-tolerance-secs` (default 300), and for
//!   card sessions `publishable-key` (required by `start-card-session`: Stripe Elements' key,
//!   `pk_...`, made to be sent to browsers) and `card-form-url` (optional: see card sessions
//!   below).
//! - Idempotency: every request of an operation carries `<caller key>:<step>` (`:customer`,
//!   `:payment_method`, `:attach`, `:setup_intent`, `:card_session`, `:payment_intent`,
//!   `:capture`, `:cancel`, `:refund`, `:confirm`, `:invoice`, `:item:<n>`, `:finalize`, `:pay`,
//!   `:void`, `:mark_uncollectible`); a detach and setting the default card, harmless to repeat,
//!   carry a random key made for the call (its own retries are applied at most once).
//! - Retries (same key): `Stripe-Should-Retry` first, then 409, 429 with `lock_timeout`, 503,
//!   500 on GET, transport failures; exponential backoff with jitter, never past the deadline.
//!
//! Capabilities declared: `partial-capture`, `async-modifications` (refunds can be `pending` at
//! Stripe; captures and voids answer at once), `payment-lookup`, `refund-lookup`, `invoicing`,
//! `metrics`, `payment-fees`, `disputes`, `card-sessions`, `customer-actions`. Not
//! `multiple-captures`: a capture releases the rest of the authorization, so `final-capture`
//! false is treated as final.
//!
//! Amounts (module `money`, the only place they are converted): contract amounts are ISO 4217
//! minor units; Stripe agrees (zero-decimal JPY, KRW, ... included) except for
//! - ISK, which Stripe keeps two-decimal (`100` is 1 króna, only multiples of 100 accepted):
//!   every ISK amount sent (charges, captures, refunds, invoice lines) is multiplied by 100, every
//!   ISK amount read (payments, refunds, invoices, balance transactions, disputes, webhook events,
//!   metrics) divided by 100, rounded to the nearest króna, half away from zero (only Stripe's fees
//!   can have hundredths; a balance transaction's `net` is then the converted `amount - fee`). An
//!   amount too large for Stripe's unit is `invalid-input` on `amount`.
//! - three-decimal currencies (BHD, JOD, KWD, OMR, TND): same unit, but Stripe's card acquirers
//!   need the last digit to be 0; any other amount is refused as `invalid-input` on `amount`
//!   (`unit-amount` for invoice lines), nothing sent.
//! - Captures and refunds name their amount in money: it is converted like every other amount.
//!
//! Mapping choices worth knowing:
//! - `ensure-customer` creates the customer with the caller's key (a repeat replays it); Stripe's
//!   customer search is tried first only as a safety net for keys older than Stripe keeps them,
//!   and any failure of it is ignored. The CRM id is taken exactly (never trimmed).
//! - `store-card` takes a PaymentMethod (`pm_...`), a card token (`tok_...`, made into a
//!   PaymentMethod) or a card session's succeeded SetupIntent (`seti_...`: its card, already set
//!   up). A `pm_`/`tok_` card is attached and set up with a confirmed off-session SetupIntent
//!   (with the request's `return-url`); when the bank wants the customer to authenticate, the
//!   card stays attached and the error is `action-required` whose `payment` is the SetupIntent.
//! - Card sessions: `start-card-session` creates an off-session SetupIntent for the customer
//!   (`seti_...`, the session's id), for Stripe Elements (`sdk` `stripe-elements`, `client-config`
//!   `{"publishable_key", "client_secret"}`). Stripe hosts no card page for a SetupIntent:
//!   `hosted-url` is the setting `card-form-url` (a page of the CRM's, or the test card form a
//!   Stripe test double serves) with `setup_intent`, `client_secret` and `return_url` added to
//!   its query, or none without the setting.
//! - Charges: a `customer-initiated` charge is confirmed on-session (`off_session=false`, with the
//!   `return-url`), so a bank asking for 3-D Secure is answered `action-required` with Stripe's
//!   `next_action`: `redirect_to_url` is a `get` redirect, anything else (`use_stripe_sdk`) is
//!   `client-sdk` `stripe-js` whose payload is `{"client_secret": ...}`. Merchant-initiated
//!   charges (`merchant-recurring`, `merchant-unscheduled`) stay off-session (`off_session=true`);
//!   one that needs authentication is `action-required` with `client-sdk` (the customer confirms
//!   the same PaymentIntent on-session with Stripe.js), or `bring-customer-on-session` when
//!   Stripe gives no client secret. The request's network transaction id is not sent (Stripe
//!   quotes those of the cards it stored); a payment's comes from
//!   `latest_charge.payment_method_details.card.network_transaction_id` when Stripe gives it.
//! - Declines carry a category from Stripe's `decline_code`, else its `code` (module `decline`).
//! - `complete-action` looks the PaymentIntent (or a card session's SetupIntent) up, confirms it
//!   when Stripe left it `requires_confirmation`, and answers the payment as it stands (a
//!   SetupIntent as a payment of 0 `XXX`, ISO 4217's "no currency", whose card is the set-up
//!   card).
//! - `capture-payment` and `void-payment` answer a `modification` whose id is the payment's, with
//!   the payment after it (`pending` only while Stripe is `processing`). Capture metadata is
//!   merged into the PaymentIntent's; Stripe keeps none with a void.
//! - No response to a POST (or a 5xx after the retries) is `outcome-unknown`; to a GET it is
//!   `not-attempted` (nothing can have changed).
//! - Answers are decoded into typed structs (module `wire`), never guessed: a 2xx answer that
//!   lacks a required field (`id`, `status`, `amount`, `currency`, ...) or carries a status the
//!   plugin does not know is `outcome-unknown` after a POST (Stripe acted; repeating with the same
//!   key is safe) and `not-attempted` after a GET, with a message naming what was wrong. Once an
//!   invoice verb was answered, failing to read the rest of its lines is `outcome-unknown` too.
//! - Webhooks (`handle-webhook`): only `POST`; `Stripe-Signature` is verified by the host
//!   (`verify-mac`, HMAC-SHA256, the secret read `raw`; at most 8 `v1` values tried) before
//!   anything is parsed, then the tolerance is checked; the answer is `200 {"received": true}`.
//!   `payment_intent.{succeeded, payment_failed, canceled, processing, requires_action,
//!   amount_capturable_updated}` are `payment` updates with the intent's metadata;
//!   `refund.{created, updated, failed}` and `charge.refund.updated` are refund `modification`s;
//!   `charge.dispute.{created, updated, closed, funds_withdrawn, funds_reinstated}` are disputes
//!   (with `evidence_details.due_by`); `invoice.{paid, finalized, voided, marked_uncollectible,
//!   payment_failed}` are invoice updates; `payment_method.{updated, automatically_updated}` are
//!   card updates and `payment_method.attached` a stored card; other types are `other`. An event
//!   whose object lacks a required field is `malformed`; one whose object has a status the plugin
//!   does not know (or a payment method that is not a card) is `other`, so that the host acts on
//!   nothing it would have to guess.
//! - Metrics: disputes count chargebacks only (inquiries, `warning_*`, are left out); `net` sums
//!   every balance transaction of the range except payouts.

mod charging;
mod client;
mod decline;
mod errors;
mod form;
mod invoicing;
mod metrics;
mod money;
mod signature;
mod tokens;
mod webhooks;
mod wire;

use omnicrm_gateway_sdk::prelude::*;

/// The component's implementation of the contract.
pub struct Stripe;

omnicrm_gateway_sdk::register_gateway!(Stripe);

/// What the Stripe gateway does besides the common operations.
const CAPABILITIES: Capabilities = Capabilities::PARTIAL_CAPTURE
    .union(Capabilities::ASYNC_MODIFICATIONS)
    .union(Capabilities::PAYMENT_LOOKUP)
    .union(Capabilities::REFUND_LOOKUP)
    .union(Capabilities::INVOICING)
    .union(Capabilities::METRICS)
    .union(Capabilities::PAYMENT_FEES)
    .union(Capabilities::DISPUTES)
    .union(Capabilities::CARD_SESSIONS)
    .union(Capabilities::CUSTOMER_ACTIONS);

impl Gateway for Stripe {
    fn describe() -> GatewayInfo {
        GatewayInfo {
            name: "stripe".into(),
            display_name: "Stripe".into(),
            version: env!("CARGO_PKG_VERSION").into(),
            currencies: Vec::new(),
            capabilities: CAPABILITIES,
        }
    }

    fn ensure_customer(
        request: CustomerRequest,
        idempotency_key: IdempotencyKey,
    ) -> Result<Customer, GatewayError> {
        tokens::ensure_customer(request, idempotency_key)
    }

    fn store_card(request: StoreCardRequest) -> Result<StoredCard, GatewayError> {
        tokens::store_card(request)
    }

    fn start_card_session(request: CardSessionRequest) -> Result<CardSession, GatewayError> {
        tokens::start_card_session(request)
    }

    fn list_cards(customer: CustomerRef) -> Result<Vec<StoredCard>, GatewayError> {
        tokens::list_cards(customer)
    }

    fn set_default_card(customer: CustomerRef, card: CardRef) -> Result<(), GatewayError> {
        tokens::set_default_card(customer, card)
    }

    fn remove_card(customer: CustomerRef, card: CardRef) -> Result<(), GatewayError> {
        tokens::remove_card(customer, card)
    }

    fn charge(request: ChargeRequest) -> Result<Payment, GatewayError> {
        charging::charge(request)
    }

    fn capture_payment(request: CaptureRequest) -> Result<Modification, GatewayError> {
        charging::capture_payment(request)
    }

    fn void_payment(request: VoidRequest) -> Result<Modification, GatewayError> {
        charging::void_payment(request)
    }

    fn refund_payment(request: RefundRequest) -> Result<Refund, GatewayError> {
        charging::refund_payment(request)
    }

    fn complete_action(request: ActionCompletion) -> Result<Payment, GatewayError> {
        charging::complete_action(request)
    }

    fn get_payment(payment: PaymentRef) -> Result<Payment, GatewayError> {
        charging::get_payment(payment)
    }

    fn get_refund(refund: RefundRef) -> Result<Refund, GatewayError> {
        charging::get_refund(refund)
    }

    fn handle_webhook(request: WebhookRequest) -> Result<WebhookOutcome, Rejection> {
        webhooks::handle_webhook(request)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn describes_what_it_does() {
        let info = Stripe::describe();
        assert_eq!(
            (info.name.as_str(), info.display_name.as_str()),
            ("stripe", "Stripe")
        );
        assert!(info.currencies.is_empty());
        assert_eq!(info.capabilities, CAPABILITIES);
        assert!(!info.capabilities.contains(Capabilities::MULTIPLE_CAPTURES));
        // What the world exports, the SDK declares too.
        assert!(
            omnicrm_gateway_sdk::WORLD_CAPABILITIES
                .difference(CAPABILITIES)
                .is_empty()
        );
    }
}
