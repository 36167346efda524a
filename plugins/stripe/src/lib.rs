//! OmniCRM's Stripe gateway: the whole `omnicrm:payments/gateway` contract over the Stripe API,
//! as a WebAssembly component.
//!
//! - API version pinned to [`client::STRIPE_VERSION`] on every request.
//! - The API key is added by the host (`auth = { scheme = "bearer", secret = "api-key" }`); the
//!   webhook secret (`webhook-secret`) stays in the host, which computes the signature MAC.
//! - Settings: `base-url` (default `https://api.stripe.com`), `timeout-ms` (per attempt, default
//!   30000), `max-retries` (default 2), `retry-backoff-ms` (default 500), `retry-backoff-max-ms`
//!   (default 5000), `page-size` (default 100), `webhook-tolerance-secs` (default 300).
//! - Idempotency: every request of an operation carries `<caller key>:<step>` (`:customer`,
//!   `:payment_method`, `:attach`, `:setup_intent`, `:payment_intent`, `:capture`, `:cancel`,
//!   `:refund`, `:invoice`, `:item:<n>`, `:finalize`, `:pay`, `:void`, `:mark_uncollectible`);
//!   a detach and setting the default card, harmless to repeat, carry a random key made for the
//!   call (its own retries are applied at most once).
//! - Retries (same key): `Stripe-Should-Retry` first, then 409, 429 with `lock_timeout`, 503,
//!   500 on GET, transport failures; exponential backoff with jitter, never past the deadline.
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
//! - A partial capture or refund gives no currency: the plugin reads the PaymentIntent first (one
//!   extra GET) to convert the amount in the payment's currency.
//!
//! Mapping choices worth knowing:
//! - `ensure-customer` creates the customer with the caller's key (a repeat replays it); Stripe's
//!   customer search is tried first only as a safety net for keys older than Stripe keeps them,
//!   and any failure of it is ignored. The CRM id is taken exactly (never trimmed).
//! - `store-card` always confirms an off-session SetupIntent; when the bank wants the customer to
//!   authenticate, the card stays attached and the error is `action-required` whose `payment` is
//!   the SetupIntent (`seti_...`).
//! - An off-session charge that needs authentication is `action-required` with
//!   `confirm-with-client-sdk(<client_secret>)` (the customer confirms the same PaymentIntent
//!   on-session), or `bring-customer-on-session` when Stripe gives no secret.
//! - No response to a POST (or a 5xx after the retries) is `outcome-unknown`; to a GET it is
//!   `not-attempted` (nothing can have changed).
//! - Answers are decoded into typed structs (module `wire`), never guessed: a 2xx answer that
//!   lacks a required field (`id`, `status`, `amount`, `currency`, ...) or carries a status the
//!   plugin does not know is `outcome-unknown` after a POST (Stripe acted; repeating with the same
//!   key is safe) and `not-attempted` after a GET, with a message naming what was wrong. Once an
//!   invoice verb was answered, failing to read the rest of its lines is `outcome-unknown` too.
//! - Webhooks: `payment_intent.canceled` is `payment-failed` with status `canceled`;
//!   `refund.*`/`charge.refund.updated` are `refund`; `charge.dispute.created`/`closed` are
//!   dispute events; other types are `other`. An event whose object lacks a required field is
//!   `malformed`; one whose object has a status the plugin does not know (or a payment method
//!   that is not a card) is `other`, so that the host acts on nothing it would have to guess.
//! - Metrics: disputes count chargebacks only (inquiries, `warning_*`, are left out); `net` sums
//!   every balance transaction of the range except payouts.

mod charging;
mod client;
mod errors;
mod form;
mod invoicing;
mod metrics;
mod money;
mod signature;
mod tokens;
mod webhooks;
mod wire;

use omnicrm_gateway_sdk::exports::omnicrm::payments::info::{GatewayInfo, Guest as InfoGuest};
use omnicrm_gateway_sdk::omnicrm::payments::types::GatewayError;

/// The component's implementation of every exported interface.
pub struct Stripe;

impl InfoGuest for Stripe {
    fn describe() -> GatewayInfo {
        GatewayInfo {
            name: "stripe".into(),
            display_name: "Stripe".into(),
            version: env!("CARGO_PKG_VERSION").into(),
            currencies: Vec::new(),
        }
    }
}

/// Checks an ISO 4217 code and spells it as Stripe does (lower case). Stripe decides which codes
/// it supports (an unknown one is `invalid-input` on `currency`). Amounts are converted apart, by
/// [`money`].
fn currency_to_stripe(currency: &str) -> Result<String, GatewayError> {
    let c = currency.trim();
    if c.len() != 3 || !c.bytes().all(|b| b.is_ascii_alphabetic()) {
        return Err(errors::invalid(
            "currency",
            "expected a three-letter ISO 4217 code",
        ));
    }
    Ok(c.to_ascii_lowercase())
}

omnicrm_gateway_sdk::export_gateway!(Stripe with_types_in omnicrm_gateway_sdk);
