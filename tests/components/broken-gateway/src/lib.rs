//! A gateway that breaks one promise of the contract, for the conformance kit's tests: the
//! offline gateway (its modules compiled in by path, so that it is conformant in everything
//! else) with one fault, chosen by the setting `fault`:
//!
//! | `fault` | what breaks | the kit's check that catches it |
//! |---|---|---|
//! | `none` (default) | nothing | |
//! | `wrong-error-kinds` | `not-found` answered as `invalid-input`, declines as `not-attempted` | `references.*-not-found`, `declines.reference-and-category` |
//! | `double-charge-on-replay` | a repeated charge ignores its idempotency key and charges again | `idempotency.charge-same-key` |
//! | `over-refund` | a refund above the payment's amount succeeds | `bounds.refund-above-captured` |
//! | `sets-authorization` | `ensure-customer` sends a request with its own `Authorization` to the setting `base-url` | `outbound.no-authorization-header` |
//! | `calls-foreign-host` | `ensure-customer` sends a request to `https://forbidden.example` | `outbound.allow-list-only` |

#[path = "../../../../plugins/offline/src/cards.rs"]
mod cards;
#[path = "../../../../plugins/offline/src/charging.rs"]
mod charging;
#[path = "../../../../plugins/offline/src/invoicing.rs"]
mod invoicing;
#[path = "../../../../plugins/offline/src/metrics.rs"]
mod metrics;
#[path = "../../../../plugins/offline/src/refs.rs"]
mod refs;
#[path = "../../../../plugins/offline/src/tokens.rs"]
mod tokens;
#[path = "../../../../plugins/offline/src/webhooks.rs"]
mod webhooks;

use omnicrm_gateway_sdk::http::{self, Method, Request};
use omnicrm_gateway_sdk::prelude::*;
use omnicrm_gateway_sdk::types::InvalidInput;
use omnicrm_gateway_sdk::{settings, time};
use std::time::Duration;

/// The broken gateway.
struct Broken;

/// The name the offline gateway's `invoicing` and `metrics` modules implement their traits for.
type Offline = Broken;

omnicrm_gateway_sdk::register_gateway!(Broken);

/// The promise this build breaks (the `fault` setting).
#[derive(PartialEq, Eq)]
enum Fault {
    None,
    WrongErrorKinds,
    DoubleChargeOnReplay,
    OverRefund,
    SetsAuthorization,
    CallsForeignHost,
}

fn fault() -> Fault {
    match settings::get("fault").as_deref() {
        Some("wrong-error-kinds") => Fault::WrongErrorKinds,
        Some("double-charge-on-replay") => Fault::DoubleChargeOnReplay,
        Some("over-refund") => Fault::OverRefund,
        Some("sets-authorization") => Fault::SetsAuthorization,
        Some("calls-foreign-host") => Fault::CallsForeignHost,
        _ => Fault::None,
    }
}

/// With `wrong-error-kinds`: `not-found` becomes `invalid-input`, a decline `not-attempted`.
fn misclassified(error: GatewayError) -> GatewayError {
    if fault() != Fault::WrongErrorKinds {
        return error;
    }
    match error {
        GatewayError::NotFound(n) => GatewayError::InvalidInput(InvalidInput {
            field: n.kind,
            message: "unknown".into(),
            request_id: None,
        }),
        GatewayError::Declined(d) => GatewayError::not_attempted(d.customer_message),
        other => other,
    }
}

const CAPABILITIES: Capabilities = Capabilities::PARTIAL_CAPTURE
    .union(Capabilities::REFUND_LOOKUP)
    .union(Capabilities::PAYMENT_FEES)
    .union(Capabilities::DISPUTES)
    .union(Capabilities::CARD_SESSIONS)
    .union(Capabilities::CUSTOMER_ACTIONS)
    .union(omnicrm_gateway_sdk::WORLD_CAPABILITIES);

impl Gateway for Broken {
    fn describe() -> GatewayInfo {
        GatewayInfo {
            name: "broken".into(),
            display_name: "Broken (conformance kit tests)".into(),
            version: env!("CARGO_PKG_VERSION").into(),
            currencies: Vec::new(),
            capabilities: CAPABILITIES,
        }
    }

    fn ensure_customer(
        request: CustomerRequest,
        idempotency_key: IdempotencyKey,
    ) -> Result<Customer, GatewayError> {
        // The answer does not matter: the request itself is the fault.
        match fault() {
            Fault::SetsAuthorization => {
                let base = settings::get("base-url").unwrap_or_default();
                let request = Request::new(Method::Get, format!("{base}/v1/ping"))
                    .header("authorization", "Bearer sk_plugin_own_key");
                let _ = http::send(&request, Duration::from_secs(2));
            }
            Fault::CallsForeignHost => {
                let request = Request::new(Method::Get, "https://forbidden.example/collect");
                let _ = http::send(&request, Duration::from_secs(2));
            }
            _ => {}
        }
        tokens::ensure_customer(request, idempotency_key)
    }

    fn store_card(request: StoreCardRequest) -> Result<StoredCard, GatewayError> {
        tokens::store_card(request)
    }

    fn start_card_session(request: CardSessionRequest) -> Result<CardSession, GatewayError> {
        tokens::start_card_session(request)
    }

    fn list_cards(customer: CustomerRef) -> Result<Vec<StoredCard>, GatewayError> {
        tokens::list_cards(customer).map_err(misclassified)
    }

    fn set_default_card(customer: CustomerRef, card: CardRef) -> Result<(), GatewayError> {
        tokens::set_default_card(customer, card)
    }

    fn remove_card(customer: CustomerRef, card: CardRef) -> Result<(), GatewayError> {
        tokens::remove_card(customer, card)
    }

    fn charge(mut request: ChargeRequest) -> Result<Payment, GatewayError> {
        if fault() == Fault::DoubleChargeOnReplay {
            request.idempotency_key =
                format!("{}.{:x}", request.idempotency_key, time::random_u64());
        }
        charging::charge(request).map_err(misclassified)
    }

    fn capture_payment(request: CaptureRequest) -> Result<Modification, GatewayError> {
        charging::capture_payment(request).map_err(misclassified)
    }

    fn void_payment(request: VoidRequest) -> Result<Modification, GatewayError> {
        charging::void_payment(request).map_err(misclassified)
    }

    fn refund_payment(request: RefundRequest) -> Result<Refund, GatewayError> {
        let over = fault() == Fault::OverRefund;
        match charging::refund_payment(request.clone()) {
            Err(GatewayError::InvalidInput(i)) if over && i.field == "amount" => Ok(Refund {
                id: format!("broken_re_{}", request.idempotency_key),
                payment: request.payment,
                amount: request.amount,
                status: RefundStatus::Succeeded,
                reason: request.reason,
                created: time::unix_now(),
                failure_reason: None,
            }),
            other => other.map_err(misclassified),
        }
    }

    fn complete_action(request: ActionCompletion) -> Result<Payment, GatewayError> {
        charging::complete_action(request)
    }

    fn get_refund(refund: RefundRef) -> Result<Refund, GatewayError> {
        charging::get_refund(refund).map_err(misclassified)
    }

    fn handle_webhook(request: WebhookRequest) -> Result<WebhookOutcome, Rejection> {
        webhooks::handle_webhook(request)
    }
}
