//! The same idempotency key gives the same outcome and moves money once; a new key charges
//! again.

use super::{Recorder, fail, pass};
use crate::kit::{Kit, Payer, customer_request, describe};
use omnicrm_host::contract::{CaptureMode, RefundRequest};

pub(crate) async fn run(kit: &Kit, payer: &Payer, recorder: &mut Recorder) {
    let g = &kit.gateway;
    let amount = kit.fixtures.amount;
    recorder
        .check(
            "idempotency.customer-same-key",
            "ensure-customer repeated with the same key returns the same customer",
            async {
                let (crm_id, key) = (kit.key("crm"), kit.key("customer"));
                let first = g.ensure_customer(customer_request(&crm_id), &key).await;
                let again = g.ensure_customer(customer_request(&crm_id), &key).await;
                match (first, again) {
                    (Ok(a), Ok(b)) if a.id == b.id => pass(),
                    (Ok(a), Ok(b)) => fail(format!("first {}, then {}", a.id, b.id)),
                    (Err(e), _) | (_, Err(e)) => fail(describe(&e)),
                }
            },
        )
        .await;
    let key = kit.key("charge-once");
    let mut first_payment = None;
    recorder
        .check(
            "idempotency.charge-same-key",
            "a charge repeated with the same key returns the original payment and moves money once",
            async {
                let request = kit.charge_request(payer, amount, CaptureMode::Automatic, &key);
                let first = match g.charge(request.clone()).await {
                    Ok(p) => p,
                    Err(e) => return fail(format!("first charge: {}", describe(&e))),
                };
                let again = match g.charge(request).await {
                    Ok(p) => p,
                    Err(e) => return fail(format!("repeated charge: {}", describe(&e))),
                };
                first_payment = Some(first.id.clone());
                if again.id != first.id {
                    return fail(format!(
                        "the repeat charged again: payment {} then {}",
                        first.id, again.id
                    ));
                }
                if again.status != first.status || again.amount != first.amount {
                    return fail(format!(
                        "the repeat answered another outcome: {:?} {:?}, then {:?} {:?}",
                        first.status, first.amount, again.status, again.amount
                    ));
                }
                if kit
                    .capabilities()
                    .contains(omnicrm_host::contract::Capabilities::PAYMENT_LOOKUP)
                {
                    match g.get_payment(&first.id).await {
                        Ok(p) if p.amount_captured > amount => {
                            return fail(format!(
                                "{} captured for a charge of {amount}",
                                p.amount_captured
                            ));
                        }
                        Ok(_) => {}
                        Err(e) => return fail(format!("looking the payment up: {}", describe(&e))),
                    }
                }
                pass()
            },
        )
        .await;
    recorder
        .check(
            "idempotency.new-key-charges-again",
            "the same charge with a new key is a new payment",
            async {
                let request = kit.charge_request(
                    payer,
                    amount,
                    CaptureMode::Automatic,
                    &kit.key("charge-new"),
                );
                match (g.charge(request).await, &first_payment) {
                    (Ok(p), Some(first)) if &p.id == first => {
                        fail(format!("a new key answered the earlier payment {first}"))
                    }
                    (Ok(_), _) => pass(),
                    (Err(e), _) => fail(describe(&e)),
                }
            },
        )
        .await;
    recorder
        .check(
            "idempotency.refund-same-key",
            "a refund repeated with the same key returns the original refund",
            async {
                let request =
                    kit.charge_request(payer, amount, CaptureMode::Automatic, &kit.key("charge"));
                let payment = match g.charge(request).await {
                    Ok(p) => p,
                    Err(e) => return fail(format!("charging first: {}", describe(&e))),
                };
                let refund = RefundRequest {
                    payment: payment.id,
                    amount: kit.money(amount / 2),
                    reason: None,
                    metadata: Vec::new(),
                    idempotency_key: kit.key("refund-once"),
                };
                match (
                    g.refund_payment(refund.clone()).await,
                    g.refund_payment(refund).await,
                ) {
                    (Ok(a), Ok(b)) if a.id == b.id => pass(),
                    (Ok(a), Ok(b)) => fail(format!(
                        "the repeat refunded again: refund {} then {}",
                        a.id, b.id
                    )),
                    (Err(e), _) | (_, Err(e)) => fail(describe(&e)),
                }
            },
        )
        .await;
}
