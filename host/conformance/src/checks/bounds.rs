//! Bounds: no capture above what was authorized, no refund above what was captured.

use super::{Recorder, fail, not_applicable, pass};
use crate::kit::{Kit, Payer, describe};
use crate::report::Outcome;
use omnicrm_host::CallError;
use omnicrm_host::contract::{
    Capabilities, CaptureMode, CaptureRequest, GatewayError, ModificationStatus, RefundRequest,
    RefundStatus,
};
use std::time::Duration;

/// The outcome of an over-limit request that failed: it must be invalid-input on `amount`.
fn refused_on_amount(error: &CallError) -> Outcome {
    match error {
        CallError::Gateway(GatewayError::InvalidInput(i)) if i.field == "amount" => pass(),
        CallError::Gateway(GatewayError::InvalidInput(i)) => fail(format!(
            "refused, but invalid-input names `{}`, not `amount`",
            i.field
        )),
        e => fail(format!(
            "expected invalid-input on `amount`, got {}",
            describe(e)
        )),
    }
}

const PENDING: &str = "answered `pending` (the gateway declares `async-modifications`): the refusal comes later by event, which this kit does not receive";

pub(crate) async fn run(kit: &Kit, payer: &Payer, recorder: &mut Recorder) {
    let g = &kit.gateway;
    let amount = kit.fixtures.amount;
    let is_async = kit
        .capabilities()
        .contains(Capabilities::ASYNC_MODIFICATIONS);
    recorder
        .check(
            "bounds.capture-above-authorized",
            "capturing more than was authorized is invalid-input on `amount`",
            async {
                let request =
                    kit.charge_request(payer, amount, CaptureMode::Manual, &kit.key("authorize"));
                let authorized = match g.charge(request).await {
                    Ok(p) => p,
                    Err(e) => return fail(format!("authorizing first: {}", describe(&e))),
                };
                let result = g
                    .capture_payment(CaptureRequest {
                        payment: authorized.id,
                        amount: kit.money(amount + 1),
                        final_capture: true,
                        metadata: Vec::new(),
                        idempotency_key: kit.key("over-capture"),
                    })
                    .await;
                match result {
                    Err(e) => refused_on_amount(&e),
                    Ok(m) if m.status == ModificationStatus::Pending && is_async => {
                        not_applicable(PENDING)
                    }
                    Ok(m) if m.status == ModificationStatus::Failed => pass(),
                    Ok(m) => fail(format!(
                        "captured {} of an authorization of {amount}: {:?}",
                        amount + 1,
                        m.status
                    )),
                }
            },
        )
        .await;
    recorder
        .check(
            "bounds.refund-above-captured",
            "refunding more than was captured is invalid-input on `amount`",
            async {
                let request =
                    kit.charge_request(payer, amount, CaptureMode::Automatic, &kit.key("charge"));
                let payment = match g.charge(request).await {
                    Ok(p) => p,
                    Err(e) => return fail(format!("charging first: {}", describe(&e))),
                };
                let result = g
                    .refund_payment(RefundRequest {
                        payment: payment.id,
                        amount: kit.money(amount + 1),
                        reason: None,
                        metadata: Vec::new(),
                        idempotency_key: kit.key("over-refund"),
                    })
                    .await;
                match result {
                    Err(e) => refused_on_amount(&e),
                    Ok(r) if r.status == RefundStatus::Pending && is_async => {
                        settle_pending_refund(kit, &r.id).await
                    }
                    Ok(r) if matches!(r.status, RefundStatus::Failed | RefundStatus::Canceled) => {
                        pass()
                    }
                    Ok(r) => fail(format!(
                        "refunded {} of a payment of {amount}: refund {} {:?}",
                        amount + 1,
                        r.id,
                        r.status
                    )),
                }
            },
        )
        .await;
}

/// A pending over-refund, followed by lookups when the gateway has them: it must fail.
async fn settle_pending_refund(kit: &Kit, refund: &str) -> Outcome {
    if !kit.capabilities().contains(Capabilities::REFUND_LOOKUP) {
        return not_applicable(format!("{PENDING}, and `refund-lookup` is not declared"));
    }
    for _ in 0..10 {
        match kit.gateway.get_refund(refund).await {
            Ok(r) if r.status == RefundStatus::Pending => {
                tokio::time::sleep(Duration::from_millis(300)).await;
            }
            Ok(r) if matches!(r.status, RefundStatus::Failed | RefundStatus::Canceled) => {
                return pass();
            }
            Ok(r) => return fail(format!("the over-refund {} became {:?}", r.id, r.status)),
            Err(e) => return fail(format!("looking the refund up: {}", describe(&e))),
        }
    }
    not_applicable(format!("{PENDING}; still pending after 3 s"))
}
