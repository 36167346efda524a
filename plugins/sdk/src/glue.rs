//! The generated `Guest` traits, implemented once for every gateway by delegating to the facade:
//! [`Component<G>`] is the type `register_gateway!` hands to the generated export macro.

use core::marker::PhantomData;

use crate::bindings::exports::omnicrm::payments::{charging, info, tokens, webhooks};
use crate::charging::{
    ActionCompletion, CaptureRequest, ChargeRequest, Modification, Payment, Refund, RefundRequest,
    VoidRequest,
};
use crate::gateway::{Gateway, WORLD_CAPABILITIES};
use crate::info::{Capabilities, GatewayInfo};
use crate::tokens::{
    CardSession, CardSessionRequest, Customer, CustomerRequest, StoreCardRequest, StoredCard,
};
use crate::types::GatewayError;
use crate::webhooks::{Rejection, WebhookOutcome, WebhookRequest};

/// The exported component of the gateway `G`. Never constructed: the contract's functions are
/// associated functions.
pub struct Component<G>(PhantomData<fn() -> G>);

impl<G: Gateway> info::Guest for Component<G> {
    fn describe() -> GatewayInfo {
        let mut info = G::describe();
        let world = Capabilities::INVOICING | Capabilities::METRICS;
        info.capabilities = info.capabilities.difference(world) | WORLD_CAPABILITIES;
        info
    }
}

impl<G: Gateway> tokens::Guest for Component<G> {
    fn ensure_customer(
        request: CustomerRequest,
        idempotency_key: String,
    ) -> Result<Customer, GatewayError> {
        G::ensure_customer(request, idempotency_key)
    }

    fn store_card(request: StoreCardRequest) -> Result<StoredCard, GatewayError> {
        G::store_card(request)
    }

    fn start_card_session(request: CardSessionRequest) -> Result<CardSession, GatewayError> {
        G::start_card_session(request)
    }

    fn list_cards(customer: String) -> Result<Vec<StoredCard>, GatewayError> {
        G::list_cards(customer)
    }

    fn set_default_card(customer: String, card: String) -> Result<(), GatewayError> {
        G::set_default_card(customer, card)
    }

    fn remove_card(customer: String, card: String) -> Result<(), GatewayError> {
        G::remove_card(customer, card)
    }
}

impl<G: Gateway> charging::Guest for Component<G> {
    fn charge(request: ChargeRequest) -> Result<Payment, GatewayError> {
        G::charge(request)
    }

    fn capture_payment(request: CaptureRequest) -> Result<Modification, GatewayError> {
        G::capture_payment(request)
    }

    fn void_payment(request: VoidRequest) -> Result<Modification, GatewayError> {
        G::void_payment(request)
    }

    fn refund_payment(request: RefundRequest) -> Result<Refund, GatewayError> {
        G::refund_payment(request)
    }

    fn complete_action(request: ActionCompletion) -> Result<Payment, GatewayError> {
        G::complete_action(request)
    }

    fn get_payment(payment: String) -> Result<Payment, GatewayError> {
        G::get_payment(payment)
    }

    fn get_refund(refund: String) -> Result<Refund, GatewayError> {
        G::get_refund(refund)
    }
}

impl<G: Gateway> webhooks::Guest for Component<G> {
    fn handle_webhook(request: WebhookRequest) -> Result<WebhookOutcome, Rejection> {
        G::handle_webhook(request)
    }
}

#[cfg(feature = "invoicing")]
mod invoicing_glue {
    use super::Component;
    use crate::bindings::exports::omnicrm::payments::invoicing::Guest;
    use crate::gateway::Invoicing;
    use crate::invoicing::{Invoice, InvoiceFilter, InvoicePage, InvoiceRequest};
    use crate::types::{GatewayError, PageRequest};

    impl<G: Invoicing> Guest for Component<G> {
        fn create_invoice(request: InvoiceRequest) -> Result<Invoice, GatewayError> {
            G::create_invoice(request)
        }

        fn finalize_invoice(invoice: String, key: String) -> Result<Invoice, GatewayError> {
            G::finalize_invoice(invoice, key)
        }

        fn pay_invoice(
            invoice: String,
            card: Option<String>,
            key: String,
        ) -> Result<Invoice, GatewayError> {
            G::pay_invoice(invoice, card, key)
        }

        fn void_invoice(invoice: String, key: String) -> Result<Invoice, GatewayError> {
            G::void_invoice(invoice, key)
        }

        fn mark_uncollectible(invoice: String, key: String) -> Result<Invoice, GatewayError> {
            G::mark_uncollectible(invoice, key)
        }

        fn get_invoice(invoice: String) -> Result<Invoice, GatewayError> {
            G::get_invoice(invoice)
        }

        fn list_invoices(
            filter: InvoiceFilter,
            page: PageRequest,
        ) -> Result<InvoicePage, GatewayError> {
            G::list_invoices(filter, page)
        }
    }
}

#[cfg(feature = "metrics")]
mod metrics_glue {
    use super::Component;
    use crate::bindings::exports::omnicrm::payments::metrics::Guest;
    use crate::gateway::Metrics;
    use crate::metrics::{BalanceFilter, BalancePage, FinancialSummary};
    use crate::types::{GatewayError, PageRequest, TimeRange};

    impl<G: Metrics> Guest for Component<G> {
        fn summarize(range: TimeRange, currency: String) -> Result<FinancialSummary, GatewayError> {
            G::summarize(range, currency)
        }

        fn list_balance_transactions(
            filter: BalanceFilter,
            page: PageRequest,
        ) -> Result<BalancePage, GatewayError> {
            G::list_balance_transactions(filter, page)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::types::{CardRef, CustomerRef, IdempotencyKey};

    /// A gateway implementing only what is required.
    struct Minimal;

    impl Gateway for Minimal {
        fn describe() -> GatewayInfo {
            GatewayInfo {
                name: "minimal".into(),
                display_name: "Minimal".into(),
                version: "1.0.0".into(),
                currencies: Vec::new(),
                // Claims invoicing whatever the world: the SDK corrects it.
                capabilities: Capabilities::PARTIAL_CAPTURE | Capabilities::INVOICING,
            }
        }
        fn ensure_customer(
            _: CustomerRequest,
            _: IdempotencyKey,
        ) -> Result<Customer, GatewayError> {
            unreachable!()
        }
        fn store_card(_: StoreCardRequest) -> Result<StoredCard, GatewayError> {
            unreachable!()
        }
        fn list_cards(_: CustomerRef) -> Result<Vec<StoredCard>, GatewayError> {
            unreachable!()
        }
        fn set_default_card(_: CustomerRef, _: CardRef) -> Result<(), GatewayError> {
            unreachable!()
        }
        fn remove_card(_: CustomerRef, _: CardRef) -> Result<(), GatewayError> {
            unreachable!()
        }
        fn charge(_: ChargeRequest) -> Result<Payment, GatewayError> {
            unreachable!()
        }
        fn capture_payment(_: CaptureRequest) -> Result<Modification, GatewayError> {
            unreachable!()
        }
        fn void_payment(_: VoidRequest) -> Result<Modification, GatewayError> {
            unreachable!()
        }
        fn refund_payment(_: RefundRequest) -> Result<Refund, GatewayError> {
            unreachable!()
        }
        fn handle_webhook(_: WebhookRequest) -> Result<WebhookOutcome, Rejection> {
            unreachable!()
        }
    }

    type Exported = Component<Minimal>;

    #[test]
    fn describe_declares_what_the_world_exports() {
        let info = <Exported as info::Guest>::describe();
        assert_eq!(info.name, "minimal");
        assert!(info.capabilities.contains(Capabilities::PARTIAL_CAPTURE));
        assert_eq!(
            info.capabilities.contains(Capabilities::INVOICING),
            cfg!(feature = "invoicing")
        );
        assert_eq!(
            info.capabilities.contains(Capabilities::METRICS),
            cfg!(feature = "metrics")
        );
    }

    #[test]
    fn optional_operations_answer_unsupported_by_default() {
        let unsupported = |result: Result<(), GatewayError>| match result {
            Err(GatewayError::Unsupported(operation)) => operation,
            other => panic!("{other:?}"),
        };
        assert_eq!(
            unsupported(<Exported as charging::Guest>::get_payment("p".into()).map(drop)),
            "get-payment"
        );
        assert_eq!(
            unsupported(<Exported as charging::Guest>::get_refund("r".into()).map(drop)),
            "get-refund"
        );
        let completion = ActionCompletion {
            payment: "p".into(),
            details: Vec::new(),
            idempotency_key: "k".into(),
        };
        assert_eq!(
            unsupported(<Exported as charging::Guest>::complete_action(completion).map(drop)),
            "complete-action"
        );
        let session = CardSessionRequest {
            customer: "c".into(),
            return_url: None,
            currency: None,
            idempotency_key: "k".into(),
        };
        assert_eq!(
            unsupported(<Exported as tokens::Guest>::start_card_session(session).map(drop)),
            "start-card-session"
        );
    }
}
