//! The offline gateway: the `omnicrm:payments@0.2.0` contract without any network, for demos and
//! tests.
//!
//! It never makes an HTTP request and keeps **no state**: the host serves every call with a fresh
//! instance, so everything the gateway knows about an object is encoded in the object's
//! reference, and every answer is computed from the call's arguments alone. Results are
//! deterministic, except the `created` (and `due-date`) fields, which are the wall-clock time of
//! the call, and the webhook tolerance check, which compares against the wall clock. The same
//! input (idempotency key included) always gives the same references, so repeating an operation
//! returns the same outcome.
//!
//! # Features and capabilities
//!
//! The cargo features `invoicing` and `metrics` (both on by default) choose the world: with both,
//! `full-gateway`; built with `--no-default-features`, the plain `gateway` world, exporting
//! neither (the host then keeps invoices and figures in its own ledger). `describe` declares
//! `partial-capture`, `refund-lookup`, `payment-fees`, `disputes` (dispute events),
//! `card-sessions` and `customer-actions`, plus `invoicing` and `metrics` exactly when the
//! component exports them. It does not declare `payment-lookup` (see below), `multiple-captures`
//! or `async-modifications` (every modification is answered `succeeded` at once).
//!
//! # References, and what statelessness implies for them
//!
//! `<hash>` and `<nonce>` are 16 lower-case hex digits of a 64-bit FNV-1a hash (not
//! cryptographic, not secret). Numbers are decimal in canonical form (no `+`, no leading zeros).
//! A reference that does not parse, or that this gateway could not have issued, is `not-found`.
//!
//! | object   | reference |
//! |----------|-----------|
//! | customer | `off_cus_<hash of the crm-customer-id>` |
//! | card     | `off_card_<brand>_<last4>_<kind>_<customer hash>` (e.g. `off_card_visa_4242_visa_0123456789abcdef`) |
//! | payment  | `off_pay_<auto\|manual>_<amount>_<CURRENCY>_<card kind>_<customer hash>_<nonce>` |
//! | refund   | `off_re_<amount>_<nonce>_<payment reference>` |
//! | card session | `off_cs_<nonce>` |
//! | invoice  | `off_in_<status>_<CURRENCY>_<total>_<paid>_<auto\|send>_<days-until-due\|none>_<customer hash>_<nonce>`, status one of `draft`, `open`, `paid`, `void`, `uncollectible` |
//!
//! The contract wants a reference to name one object for its whole life. A gateway without state
//! can then only encode what never changes about the object: a payment's reference says how it
//! was created (capture mode, amount, card, customer), never where it stands now. Hence:
//! - Captures, voids, refunds and completed customer actions keep the payment's reference; their
//!   answers (`modification.payment-after`, the completed payment) say where it stands. Nothing
//!   remembers them: a second capture, a void after a capture, or refunds beyond what was
//!   captured or already refunded are not detected (refunds are checked against the payment's
//!   amount), and a lookup could only tell how the payment was created, so `get-payment` is
//!   `unsupported` and `payment-lookup` is not declared.
//! - A refund never changes (it succeeds at once), so `get-refund` answers it from its reference,
//!   which embeds the payment's.
//! - Invoices are the exception: `get-invoice` is not optional, and must say where an invoice
//!   stands, so an invoice's reference encodes its status and every transition answers a **new**
//!   reference (same nonce: the same invoice); the old reference keeps describing the old state.
//!   Callers keep the reference of the latest answer.
//!
//! Nonces hash the operation's inputs and idempotency key, so a repeat with the same key and
//! input gives the same reference; a reused key with different input is not detected (there is
//! nothing to compare with) and gives a different reference.
//!
//! # Customers and cards (`tokens`)
//!
//! - `ensure-customer` returns `off_cus_<hash>` with `created` always true and no default card.
//!   An empty `crm-customer-id` is `invalid-input` on `crm-customer-id`.
//! - `store-card` accepts Stripe's test tokens, `tok_<name>` or `pm_card_<name>`, for the names
//!   below; any other token is `invalid-input` on `token` (`return-url` is not used: storing never
//!   needs the customer). Every card expires 12/2034, country `US`, fingerprint
//!   `offfp_<hash of the kind>` (equal for the same test card), network transaction id
//!   `offntid_<hash of the card reference>`. `is-default` echoes `make-default`.
//! - `start-card-session` (checks key, customer and, when given, currency) answers a fake session
//!   `off_cs_<nonce>` of SDK `offline`: its `client-config` is
//!   `{"session", "customer", "return_url", "test_tokens": ["tok_visa", ...]}`, the tokens a card
//!   form would hand back, to be stored with `store-card`; no hosted page, no expiry.
//! - `list-cards` is always empty (nothing is stored); `set-default-card` and `remove-card`
//!   succeed when the card reference belongs to the customer, else `not-found` on `card`.
//!
//! | name (`tok_`/`pm_card_`) | brand, last4 | when charged |
//! |---|---|---|
//! | `visa` | visa 4242 | succeeds |
//! | `visa_debit` | visa 5556 (debit) | succeeds |
//! | `mastercard`, `amex`, `discover` | 4444, 8431, 1117 | succeed |
//! | `bypassPending`, `createDispute`, `createDisputeProductNotReceived`, `createDisputeInquiry` | visa 0077, 0259, 2685, 1976 | succeed (no dispute is simulated) |
//! | `authenticationRequiredSetupForOffSession` | visa 0446 | succeeds (storing the card counts as setting it up) |
//! | `chargeDeclined` | visa 0002 | declined `card_declined` / `generic_decline`: `do-not-honor` |
//! | `chargeDeclinedInsufficientFunds` | visa 9995 | declined `card_declined` / `insufficient_funds`: `insufficient-funds` |
//! | `chargeDeclinedLostCard`, `chargeDeclinedStolenCard` | visa 9987, 9979 | declined `card_declined` / `lost_card`, `stolen_card`: `suspected-fraud` |
//! | `chargeDeclinedFraudulent` | visa 0019 | declined `card_declined` / `fraudulent`: `suspected-fraud` |
//! | `chargeCustomerFail` | visa 0341 | declined `card_declined` / `generic_decline`: `do-not-honor` |
//! | `chargeDeclinedExpiredCard` | visa 0069 | declined `expired_card` (no reason): `expired-card` |
//! | `chargeDeclinedIncorrectCvc` | visa 0127 | declined `incorrect_cvc` (no reason): `incorrect-details` |
//! | `chargeDeclinedProcessingError` | visa 0119 | declined `processing_error` (no reason): `try-again-later` |
//! | `authenticationRequired`, `authenticationRequiredOnSetup` | visa 3184, 3155 | `action-required`, next action `bring-customer-on-session` |
//! | `threeDSecure2Required` | visa 3220 | `action-required`: a customer-initiated charge gets a `get` redirect to `https://offline.invalid/authenticate/<payment reference>` (with `?return_url=<percent-encoded return-url>` when given), a merchant-initiated one `bring-customer-on-session` |
//!
//! # Charging
//!
//! - `charge` checks, in order: the idempotency key (1 to 200 of `[A-Za-z0-9._:-]`, else
//!   `invalid-input` on `idempotency-key`), the amount (1 to 99 999 999, else `invalid-input` on
//!   `amount`), the currency (three upper-case letters, else on `currency`), the metadata
//!   (Stripe's limits: 50 keys, keys 1-40 characters, values up to 500, unique; else on
//!   `metadata`), the customer (`not-found` customer) and the card (`not-found` card, also when
//!   it belongs to another customer). Then, by the card: `succeeded` with `amount-captured` =
//!   amount (automatic) or `requires-capture` with 0 captured (manual); a decline is
//!   `declined` (category as in the table) whose `payment` is the failed payment's reference;
//!   authentication is `action-required` whose `payment` is the waiting payment. The answer
//!   echoes description and metadata; other answers don't have them (`none` and empty).
//!   The stored-credential use matters only for the 3-D Secure card; the network transaction id
//!   given is not used.
//! - Fees are synthetic: 2.9% of the captured amount (rounded) + 30 minor units, on succeeded
//!   payments only. Succeeded and authorized payments carry the network transaction id
//!   `offntid_<nonce>`. `amount-refunded` is always 0.
//! - `complete-action` finishes a payment of an authentication card: `succeeded` (automatic
//!   capture) or `requires-capture` (manual); with `details` holding `outcome` = `fail`, the
//!   authentication fails: `failed`, decline `authentication_failed` (`authentication-required`).
//!   Any other payment is answered as its charge left it.
//! - `capture-payment`: only payments charged with manual capture on a card that does not
//!   decline (else `invalid-input` on `payment`); `amount` 1 to the authorized amount (else on
//!   `amount`), none captures everything. The `modification` is `succeeded`, its id the payment's
//!   reference, its `payment-after` the payment `succeeded` with the captured amount and its fee.
//!   `final-capture` is not read: every capture is final.
//! - `void-payment`: every payment but one charged with automatic capture on a card that succeeds
//!   (`invalid-input` on `payment`: refund it); `payment-after` is the payment `canceled`.
//! - `refund-payment`: not for declining cards (`invalid-input` on `payment`); `amount` none
//!   refunds the payment's amount; zero, negative or more than the payment's amount is
//!   `invalid-input` on `amount`. The refund is `succeeded`.
//! - `get-refund` answers from the reference (no reason); `get-payment` is `unsupported`.
//!
//! # Invoicing (feature `invoicing`)
//!
//! - `create-invoice` checks key, customer, currency, metadata, `items` (at least one;
//!   `items[i].quantity` at least 1; each line and the total within ±99 999 999, else on
//!   `items[i].unit-amount` / `items`), and `days-until-due` (required for `send-invoice`, at
//!   most 3650; ignored for `charge-automatically`). It returns a `draft` with the lines, tax 0.
//! - Other answers (lookups and transitions) have no lines, metadata or links, and tax 0;
//!   `number` is `OFF-<first 8 nonce digits, upper case>` once finalized. `hosted-url` and
//!   `pdf-url` are always none. `due-date` = `created` + days for `send-invoice`.
//! - Transitions, else `invalid-input` on `invoice`: `finalize` draft -> open; `pay` open or
//!   uncollectible -> paid (`amount-paid` = total, or 0 for a non-positive total);
//!   `void` open or uncollectible -> void; `mark-uncollectible` open -> uncollectible.
//! - `pay-invoice` with a card charges it like a merchant-initiated `charge` (the card must belong
//!   to the invoice's customer): a declining card is `declined` (with a failed payment
//!   reference), an authentication card `action-required` (`bring-customer-on-session`), and the
//!   invoice stays open. Without a card, the
//!   invoice is paid as if by a card that succeeds (no default card is kept).
//! - `list-invoices` is always an empty page (nothing is stored); limit must be 1 to 100
//!   (`invalid-input` on `limit`), and any cursor is `invalid-input` on `cursor`.
//!
//! # Metrics (feature `metrics`): a synthetic schedule
//!
//! The figures are **made up**, by a fixed schedule, so that demos show non-zero numbers and
//! paging can be tested. They don't reflect any charge made through this gateway. Activity
//! exists only in `USD` (other currencies: all zero / empty) and only from 2020-01-01 to
//! 2099-12-31 UTC. On day `d` (days since the Unix epoch):
//! - 12:00 UTC: a charge of `1000 + (d mod 10) * 100`, fee 2.9% + 30 as above
//!   (`off_txn_ch_<d>`, source `off_syn_ch_<d>`);
//! - 18:00 UTC when `d mod 7 == 0`: a refund of 500 (amount -500, fee 0; `off_txn_re_<d>`);
//! - 21:00 UTC when `d mod 30 == 0`: a dispute of that day's charge (amount minus the charge,
//!   fee 1500, kind `dispute`, gateway type `adjustment`; `off_txn_du_<d>`), counted as lost
//!   when `d mod 60 == 0`.
//!
//! `summarize` sums the events whose time is in `[start, end)`; `net` is the sum of
//! `amount - fee` over them. `list-balance-transactions` lists them newest first; the cursor is
//! the `created` of the last one returned. `end < start` is `invalid-input` on `range`.
//!
//! # Webhooks
//!
//! `handle-webhook` takes only `POST` (else `malformed`). Header
//! `offline-signature: t=<unix seconds>,v1=<hex>[,v1=<hex>...]`, where a `v1` is
//! `hex(HMAC-SHA256(webhook-secret, "<t>.<raw body>"))`, verified by the host through
//! `credentials.verify-mac` with the secret `webhook-secret` read `raw` (at most the first 8
//! `v1` values of a header are tried). No header: `missing-signature`. A header without a
//! timestamp or a well-formed `v1`, or no matching `v1`: `bad-signature`. Secret unknown or
//! unusable: `not-configured`. Then `|now - t|` must be at most the setting
//! `webhook-tolerance-secs` (default 300; `0` disables the check), else `outside-tolerance`. Only
//! then is the body parsed; anything wrong is `malformed` naming the field. The answer is 200
//! `{"received":true}` (`application/json`) with the one event.
//!
//! The body is a JSON object `{"id": "<non-empty>", "created": <int>, "type": "<type>", "data":
//! {...}}`; `data` is required for the types below, ignored for others (which become
//! `other(<type>)`):
//!
//! | type | kind | data |
//! |---|---|---|
//! | `payment.succeeded`, `payment.authorized`, `payment.failed`, `payment.canceled` | `payment`, status `succeeded` / `requires-capture` / `failed` / `canceled` | `payment`, `amount`, `currency`, optional `amount_captured`, `fee` (minor units), `network_transaction_id`, `metadata` (an object of strings); for failed, optional `decline: {code, reason?, message?, category?}` (category by its contract name, else from code and reason as in the table) |
//! | `refund.created`, `refund.updated`, `refund.failed` | `modification`, kind `refund` | `refund`, `payment`, `amount`, `currency`, `status?` (`succeeded` (default), `pending`, `requires-action` (pending), `failed`, `canceled` (failed)), `failure_reason?` |
//! | `capture.succeeded`, `capture.failed`, `void.succeeded`, `void.failed` | `modification`, kind `capture` / `void`, id the payment | `payment`, optional `amount` with `currency`, `failure_reason?` |
//! | `dispute.opened`, `dispute.updated`, `dispute.closed` | `dispute` | `dispute`, `payment?`, `amount`, `currency`, `reason`, `status` (`warning`, `open`, `won`, `lost`), `evidence_due_by?` |
//! | `invoice.paid`, `invoice.payment_failed` | `invoice`, status paid / open (`payment-failed` set) | `invoice`, `amount_paid` |
//! | `card.updated` | `card-updated` | `card`, `customer?`, `exp_month` (1-12), `exp_year`, `last4` |
//! | `card.stored` | `card-stored`, the card its reference describes | `card` (a card reference of this gateway), `default?` |
//!
//! # Info
//!
//! `describe`: name `offline`, display name `Offline (no network)`, the crate version,
//! currencies empty (any well-formed code is accepted), the capabilities above.

mod cards;
mod charging;
#[cfg(feature = "invoicing")]
mod invoicing;
#[cfg(feature = "metrics")]
mod metrics;
mod refs;
mod tokens;
mod webhooks;

use omnicrm_gateway_sdk::prelude::*;

/// The offline gateway.
struct Offline;

omnicrm_gateway_sdk::register_gateway!(Offline);

/// What the offline gateway does besides the common operations (`invoicing` and `metrics` follow
/// from the features it is built with).
const CAPABILITIES: Capabilities = Capabilities::PARTIAL_CAPTURE
    .union(Capabilities::REFUND_LOOKUP)
    .union(Capabilities::PAYMENT_FEES)
    .union(Capabilities::DISPUTES)
    .union(Capabilities::CARD_SESSIONS)
    .union(Capabilities::CUSTOMER_ACTIONS)
    .union(omnicrm_gateway_sdk::WORLD_CAPABILITIES);

impl Gateway for Offline {
    fn describe() -> GatewayInfo {
        GatewayInfo {
            name: "offline".into(),
            display_name: "Offline (no network)".into(),
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
    fn describes_exactly_what_it_exports() {
        let info = Offline::describe();
        assert_eq!(info.name, "offline");
        let caps = info.capabilities;
        assert_eq!(
            caps.contains(Capabilities::INVOICING),
            cfg!(feature = "invoicing")
        );
        assert_eq!(
            caps.contains(Capabilities::METRICS),
            cfg!(feature = "metrics")
        );
        assert!(caps.contains(Capabilities::CARD_SESSIONS | Capabilities::CUSTOMER_ACTIONS));
        assert!(caps.contains(Capabilities::REFUND_LOOKUP));
        assert!(!caps.intersects(
            Capabilities::PAYMENT_LOOKUP
                | Capabilities::MULTIPLE_CAPTURES
                | Capabilities::ASYNC_MODIFICATIONS
        ));
        assert!(matches!(
            Offline::get_payment("off_pay_x".into()),
            Err(GatewayError::Unsupported(op)) if op == "get-payment"
        ));
    }
}
