//! Invalid input names the field at fault; references the gateway never issued, or that
//! belong to another customer, are `not-found`.

use super::{Recorder, fail, not_applicable, pass};
use crate::kit::{Kit, Payer, describe};
use crate::report::Outcome;
use omnicrm_host::CallError;
use omnicrm_host::contract::{Capabilities, CaptureMode, GatewayError, Money, RefundRequest};

fn names_field(result: Result<impl std::fmt::Debug, CallError>, fields: &[&str]) -> Outcome {
    match result {
        Err(CallError::Gateway(GatewayError::InvalidInput(i)))
            if fields.contains(&i.field.as_str()) =>
        {
            pass()
        }
        Err(CallError::Gateway(GatewayError::InvalidInput(i))) => fail(format!(
            "invalid-input names `{}`, not {}",
            i.field,
            fields.join(" or ")
        )),
        Err(e) => fail(format!("expected invalid-input, got {}", describe(&e))),
        Ok(answer) => fail(format!("accepted: {answer:?}")),
    }
}

fn not_found(result: Result<impl std::fmt::Debug, CallError>) -> Outcome {
    match result {
        Err(CallError::Gateway(GatewayError::NotFound(_))) => pass(),
        Err(e) => fail(format!("expected not-found, got {}", describe(&e))),
        Ok(answer) => fail(format!("answered as if it existed: {answer:?}")),
    }
}

pub(crate) async fn run(kit: &Kit, payer: &Payer, recorder: &mut Recorder) {
    let g = &kit.gateway;
    let refs = &kit.fixtures.references;
    recorder
        .check(
            "input.zero-amount-names-field",
            "a charge of 0 is invalid-input naming `amount`",
            async {
                let request =
                    kit.charge_request(payer, 0, CaptureMode::Automatic, &kit.key("zero"));
                names_field(g.charge(request).await, &["amount"])
            },
        )
        .await;
    recorder
        .check(
            "input.bad-currency-names-field",
            "a charge in currency `Z1` is invalid-input naming `currency` (or `amount`)",
            async {
                let mut request = kit.charge_request(
                    payer,
                    kit.fixtures.amount,
                    CaptureMode::Automatic,
                    &kit.key("currency"),
                );
                request.amount = Money {
                    amount: kit.fixtures.amount,
                    currency: "Z1".into(),
                };
                names_field(
                    g.charge(request).await,
                    &["currency", "amount", "amount.currency"],
                )
            },
        )
        .await;
    recorder
        .check(
            "references.unknown-payment-not-found",
            "a refund of a payment the gateway never issued is not-found",
            async {
                let request = RefundRequest {
                    payment: refs.payment.clone(),
                    amount: kit.money(kit.fixtures.amount),
                    reason: None,
                    metadata: Vec::new(),
                    idempotency_key: kit.key("refund-unknown"),
                };
                not_found(g.refund_payment(request).await)
            },
        )
        .await;
    recorder
        .check(
            "references.unknown-customer-not-found",
            "the cards of a customer the gateway never issued are not-found",
            async {
                if refs.customer.is_empty() {
                    return not_applicable(
                        "the fixtures say the gateway has no customer objects (`references.customer` is empty)",
                    );
                }
                not_found(g.list_cards(&refs.customer).await)
            },
        )
        .await;
    recorder
        .check(
            "references.unknown-payment-lookup-not-found",
            "looking up a payment the gateway never issued is not-found",
            async {
                if !kit.capabilities().contains(Capabilities::PAYMENT_LOOKUP) {
                    return not_applicable("`payment-lookup` is not declared");
                }
                not_found(g.get_payment(&refs.payment).await)
            },
        )
        .await;
    recorder
        .check(
            "references.unknown-refund-lookup-not-found",
            "looking up a refund the gateway never issued is not-found",
            async {
                if !kit.capabilities().contains(Capabilities::REFUND_LOOKUP) {
                    return not_applicable("`refund-lookup` is not declared");
                }
                not_found(g.get_refund(&refs.refund).await)
            },
        )
        .await;
    recorder
        .check(
            "references.other-customers-card-refused",
            "charging a customer with another customer's card is refused (not-found, or invalid-input naming `card`)",
            async {
                let other = match kit.customer("other").await {
                    Ok(c) => c,
                    Err(e) => return fail(format!("creating a second customer: {}", describe(&e))),
                };
                let thief = Payer {
                    customer: other,
                    card: payer.card.clone(),
                };
                let request = kit.charge_request(
                    &thief,
                    kit.fixtures.amount,
                    CaptureMode::Automatic,
                    &kit.key("foreign-card"),
                );
                match g.charge(request).await {
                    Err(CallError::Gateway(GatewayError::InvalidInput(i))) if i.field == "card" => pass(),
                    other => not_found(other),
                }
            },
        )
        .await;
}
