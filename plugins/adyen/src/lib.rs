//! OmniCRM's Adyen gateway: the `omnicrm:payments@0.2.0` contract (world `gateway`: no invoicing,
//! no metrics) over Adyen's Checkout API, as a WebAssembly component.
//!
//! - Checkout API version pinned to `config::API_VERSION` (`v71`), appended to `base-url`.
//! - The API key is added by the host (`auth = { scheme = "header", name = "X-API-Key", secret =
//!   "api-key" }`): the plugin never sets it. The webhook HMAC key (`hmac-key`, hexadecimal as
//!   Adyen's Customer Area shows it; optionally `hmac-key-previous` while a key is rolled) stays
//!   in the host, which verifies the MACs.
//!
//! # Settings
//!
//! | setting | meaning | default |
//! |---|---|---|
//! | `base-url` | the Checkout API, without the version: `https://checkout-test.adyen.com`, or live `https://{PREFIX}-checkout-live.adyenpayments.com/checkout` | the test URL |
//! | `merchant-account` | the merchant account every request names | required |
//! | `return-url` | where shoppers come back after 3-D Secure when a request names no return URL; Adyen requires one on every payment, merchant-initiated ones included | none: then every charge and card set-up must pass one |
//! | `store-recurring-model` | the `recurringProcessingModel` cards are stored for: `Subscription`, `CardOnFile` or `UnscheduledCardOnFile` | `Subscription` |
//! | `client-key`, `environment` | Adyen Web's client key and environment, for card sessions | none (card sessions refused), `test` |
//! | `card-form-url` | a hosted card form (test doubles' `/_emulator/card-form`) given as a card session's `hosted-url` | none |
//! | `default-currency` | the currency of zero-amount card set-ups and sessions that name none | `EUR` |
//! | `timeout-ms` | one attempt | 30000 |
//! | `max-retries` | retries of one request, with the same idempotency key | 2 |
//! | `retry-backoff-ms`, `retry-backoff-max-ms` | exponential backoff with jitter | 500, 5000 |
//!
//! # Requests
//!
//! - Idempotency: every POST carries `Idempotency-Key: <caller key>:<step>` (`store`, `session`,
//!   `payment`, `details`, `capture`, `cancel`, `refund`), or `k-` and a digest of it when that is
//!   longer than Adyen's 64 characters (module `keys`): the same every time, one per step (Adyen
//!   keeps keys per account, not per endpoint). Retries (module `client`) reuse it and never
//!   outlast the call's deadline.
//! - Customers: Adyen has none; `ensure-customer` answers a shopper reference derived from the
//!   CRM id (the id itself when it fits Adyen's rules, else a digest), with no call.
//! - Cards: `store-card` takes the card form's `paymentMethod` JSON (Adyen Web's encrypted
//!   fields; `test_` fields in the test environment; raw card numbers are refused), a card
//!   session's result `{"sessionId", "sessionResult"}`, or a stored card's id; see
//!   `tokens::store_card` for 3-D Secure. `list-cards` and `remove-card` use
//!   `/storedPaymentMethods`; `set-default-card` does nothing (Adyen keeps no default).
//! - Charges (module `charging`): `shopperInteraction` / `recurringProcessingModel` `ContAuth` /
//!   `Subscription` for `merchant-recurring`, `ContAuth` / `UnscheduledCardOnFile` for
//!   `merchant-unscheduled`, `Ecommerce` / `CardOnFile` for `customer-initiated`; the network
//!   transaction id as `additionalData.networkTxReference` on merchant-initiated charges;
//!   `additionalData.manualCapture` for manual capture (not for customer-initiated charges: see
//!   `charging::complete_action`); `reference` the CRM transaction id of the metadata, else the
//!   idempotency key (digested past 80 characters); metadata at most 19 entries of 20-character
//!   keys and 80-character values, plus the plugin's `omnicrm_capture`. The description is not
//!   sent: an Adyen payment has no field for it (`shopperStatement` is printed on the
//!   cardholder's statement).
//! - Result codes, declines and actions: module `outcome`, refusal categories module `decline`.
//! - Captures, voids and refunds answer `pending` with the modification's `pspReference`; the
//!   outcome comes by notification. Adyen has no payment or refund lookup ("You need to rely on
//!   your webhooks", help.adyen.com): `get-payment` and `get-refund` answer `unsupported`.
//! - Amounts: module `money` (Adyen's decimals differ from ISO 4217 for CLP, CVE, IDR, ISK).
//! - Webhooks: module `webhooks`; the answer is exactly `[accepted]`.
//!
//! Capabilities: `partial-capture`, `multiple-captures`, `async-modifications`, `disputes`,
//! `card-sessions`, `customer-actions`. Not `payment-lookup`, `refund-lookup` (Adyen has no such
//! API), `invoicing`, `metrics` (Adyen keeps neither; the host does from its ledger),
//! `payment-fees` (fees come in settlement reports, not per payment).

mod cards;
mod charging;
mod client;
mod config;
mod dates;
mod decline;
mod errors;
mod keys;
mod money;
mod outcome;
mod tokens;
mod webhooks;
mod wire;

use omnicrm_gateway_sdk::prelude::*;

/// The component's implementation of the contract.
pub struct Adyen;

omnicrm_gateway_sdk::register_gateway!(Adyen);

/// What the Adyen gateway does besides the common operations.
const CAPABILITIES: Capabilities = Capabilities::PARTIAL_CAPTURE
    .union(Capabilities::MULTIPLE_CAPTURES)
    .union(Capabilities::ASYNC_MODIFICATIONS)
    .union(Capabilities::DISPUTES)
    .union(Capabilities::CARD_SESSIONS)
    .union(Capabilities::CUSTOMER_ACTIONS);

impl Gateway for Adyen {
    fn describe() -> GatewayInfo {
        GatewayInfo {
            name: "adyen".into(),
            display_name: "Adyen".into(),
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

    fn handle_webhook(request: WebhookRequest) -> Result<WebhookOutcome, Rejection> {
        webhooks::handle_webhook(request)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn describes_what_it_does() {
        let info = Adyen::describe();
        assert_eq!(
            (info.name.as_str(), info.display_name.as_str()),
            ("adyen", "Adyen")
        );
        assert!(info.currencies.is_empty());
        assert_eq!(info.capabilities, CAPABILITIES);
        for missing in [
            Capabilities::PAYMENT_LOOKUP,
            Capabilities::REFUND_LOOKUP,
            Capabilities::INVOICING,
            Capabilities::METRICS,
            Capabilities::PAYMENT_FEES,
        ] {
            assert!(!info.capabilities.contains(missing), "{missing:?}");
        }
        // The `gateway` world: the SDK declares neither invoicing nor metrics.
        assert!(omnicrm_gateway_sdk::WORLD_CAPABILITIES.is_empty());
    }

    #[test]
    fn lookups_are_unsupported() {
        assert!(
            matches!(Adyen::get_payment("PSP1".into()), Err(GatewayError::Unsupported(op)) if op == "get-payment")
        );
        assert!(
            matches!(Adyen::get_refund("PSP1".into()), Err(GatewayError::Unsupported(op)) if op == "get-refund")
        );
    }
}
