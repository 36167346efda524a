//! The offline gateway: the whole `omnicrm:payments` contract without any network, for demos and
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
//! # Reference scheme
//!
//! `<hash>` and `<nonce>` are 16 lower-case hex digits of a 64-bit FNV-1a hash (not
//! cryptographic, not secret). Numbers are decimal in canonical form (no `+`, no leading zeros).
//! A reference that does not parse, or that this gateway could not have issued, is `not-found`.
//!
//! | object   | reference |
//! |----------|-----------|
//! | customer | `off_cus_<hash of the crm-customer-id>` |
//! | card     | `off_card_<brand>_<last4>_<kind>_<customer hash>` (e.g. `off_card_visa_4242_visa_0123456789abcdef`) |
//! | payment  | `off_pay_<status>_<amount>_<CURRENCY>_<captured>_<card kind>_<customer hash>_<nonce>`, status one of `succeeded`, `requirescapture`, `requiresaction`, `failed`, `canceled` |
//! | refund   | `off_re_<amount>_<CURRENCY>_<payment nonce>_<nonce>` |
//! | invoice  | `off_in_<status>_<CURRENCY>_<total>_<paid>_<auto\|send>_<days-until-due\|none>_<customer hash>_<nonce>`, status one of `draft`, `open`, `paid`, `void`, `uncollectible` |
//!
//! A reference is a snapshot: `capture`, `cancel` and the invoice operations return the object
//! under a **new** reference that encodes its new state (same nonce: the same payment or
//! invoice); the old reference keeps describing the old state. Callers keep the reference of the
//! latest answer. Nonces hash the operation's inputs and idempotency key, so a repeat with the
//! same key and input gives the same reference; a reused key with different input is not
//! detected (there is nothing to compare with) and gives a different reference.
//!
//! # Customers and cards (`tokens`)
//!
//! - `ensure-customer` returns `off_cus_<hash>` with `created` always true and no default card.
//!   An empty `crm-customer-id` is `invalid-input` on `crm-customer-id`.
//! - `store-card` accepts Stripe's test tokens, `tok_<name>` or `pm_card_<name>`, for the names
//!   below; any other token is `invalid-input` on `token`. Every card expires 12/2034, country
//!   `US`, fingerprint `offfp_<hash of the kind>` (equal for the same test card). `is-default`
//!   echoes `make-default`.
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
//! | `chargeDeclined` | visa 0002 | declined `card_declined` / `generic_decline` |
//! | `chargeDeclinedInsufficientFunds` | visa 9995 | declined `card_declined` / `insufficient_funds` |
//! | `chargeDeclinedLostCard`, `chargeDeclinedStolenCard` | visa 9987, 9979 | declined `card_declined` / `lost_card`, `stolen_card` |
//! | `chargeDeclinedFraudulent` | visa 0019 | declined `card_declined` / `fraudulent` |
//! | `chargeCustomerFail` | visa 0341 | declined `card_declined` / `generic_decline` |
//! | `chargeDeclinedExpiredCard` | visa 0069 | declined `expired_card` (no reason) |
//! | `chargeDeclinedIncorrectCvc` | visa 0127 | declined `incorrect_cvc` (no reason) |
//! | `chargeDeclinedProcessingError` | visa 0119 | declined `processing_error` (no reason) |
//! | `authenticationRequired`, `authenticationRequiredOnSetup` | visa 3184, 3155 | `action-required`, next action `bring-customer-on-session` |
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
//!   `declined` whose `payment` is the failed payment's reference; authentication is
//!   `action-required` whose `payment` is a `requires-action` payment. The answer echoes
//!   description and metadata; lookups don't have them (`none` and empty).
//! - Fees are synthetic: 2.9% of the captured amount (rounded) + 30 minor units, on succeeded
//!   payments only. `amount-refunded` is always 0 (refunds don't change the payment reference).
//! - `capture`: only `requires-capture` (else `invalid-input` on `payment`); `amount` 1 to the
//!   authorized amount (else on `amount`), none captures everything.
//! - `cancel`: `requires-capture`, `requires-action` or `failed` become `canceled`; others are
//!   `invalid-input` on `payment`.
//! - `refund-payment`: only `succeeded` payments (else on `payment`); `amount` none refunds the
//!   captured amount; zero, negative or more than captured is `invalid-input` on `amount`. Earlier
//!   refunds are not known, so over-refunding across several refunds is not detected. The refund
//!   is `succeeded`.
//! - `get-payment` answers from the reference.
//!
//! # Invoicing
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
//! - `pay-invoice` with a card charges it like `charge` (the card must belong to the invoice's
//!   customer): a declining card is `declined` (with a failed payment reference), an
//!   authentication card `action-required`, and the invoice stays open. Without a card, the
//!   invoice is paid as if by a card that succeeds (no default card is kept).
//! - `list-invoices` is always an empty page (nothing is stored); limit must be 1 to 100
//!   (`invalid-input` on `limit`), and any cursor is `invalid-input` on `cursor`.
//!
//! # Metrics: a synthetic schedule
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
//! Header `offline-signature: t=<unix seconds>,v1=<hex>[,v1=<hex>...]`, where the `v1` is
//! `hex(HMAC-SHA256(webhook-secret, "<t>.<raw body>"))`, computed by the host through
//! `credentials.compute-mac("webhook-secret", hmac-sha256, ...)` and compared in constant time.
//! No header: `missing-signature`. A header without a timestamp or a well-formed `v1`, or no
//! matching `v1`: `bad-signature`. Secret unknown or unavailable: `not-configured`. Then
//! `|now - t|` must be at most the setting `webhook-tolerance-secs` (default 300; `0` disables the
//! check), else `outside-tolerance`. Only then is the body parsed; anything wrong is
//! `malformed` naming the field.
//!
//! The body is a JSON object `{"id": "<non-empty>", "created": <int>, "type": "<type>", "data":
//! {...}}`; `data` is required for the types below, ignored for others (which become
//! `other(<type>)`):
//!
//! | type | kind | data |
//! |---|---|---|
//! | `payment.succeeded`, `payment.failed` | `payment-succeeded` / `payment-failed` | `payment`, `amount`, `currency`; for failed, optional `decline: {code, reason?, message?}` |
//! | `refund.created`, `refund.updated` | `refund` | `refund`, `payment?`, `amount`, `currency`, `status?` (`pending`, `requires-action`, `succeeded` (default), `failed`, `canceled`) |
//! | `dispute.opened`, `dispute.closed` | `dispute-opened` / `dispute-closed` | `dispute`, `payment?`, `amount`, `currency`, `reason`, `status` (`warning`, `open`, `won`, `lost`) |
//! | `invoice.paid`, `invoice.payment_failed` | `invoice-paid` (status paid) / `invoice-payment-failed` (status open) | `invoice`, `amount_paid` |
//! | `card.updated` | `card-updated` | `card`, `customer?`, `exp_month` (1-12), `exp_year`, `last4` |
//!
//! # Info
//!
//! `describe`: name `offline`, display name `Offline (no network)`, the crate version,
//! currencies empty (any well-formed code is accepted).

mod cards;
mod charging;
mod invoicing;
mod metrics;
mod refs;
mod tokens;
mod webhooks;

use omnicrm_gateway_sdk::exports::omnicrm::payments::info::{self, GatewayInfo};

/// The offline gateway.
struct Offline;

omnicrm_gateway_sdk::export_gateway!(Offline with_types_in omnicrm_gateway_sdk);

impl info::Guest for Offline {
    fn describe() -> GatewayInfo {
        GatewayInfo {
            name: "offline".into(),
            display_name: "Offline (no network)".into(),
            version: env!("CARGO_PKG_VERSION").into(),
            currencies: Vec::new(),
        }
    }
}
