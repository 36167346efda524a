//! Modifications answer `received` and settle later by notification: partial captures, cancels,
//! refunds (and their asynchronous failures), reversals, cancels by merchant reference, and
//! chargebacks.

mod common;

use std::time::{Duration, Instant};

use adyen_emulator::{DisputeStage, EmulatorOptions, ModKind, SettleDelay};
use serde_json::{Value, json};

use common::{Api, MERCHANT, card, emitted, payment, s, start, start_with};

/// An authorised, not captured payment of `amount` EUR.
async fn authorised(api: &Api, amount: i64) -> String {
    let mut body = payment(amount, "EUR", card("4111111111111111"));
    body["additionalData"] = json!({"manualCapture": "true"});
    body["metadata"] = json!({"crm": "X"});
    let answer = api.post("/payments", &body).await.ok();
    assert_eq!(answer["resultCode"], "Authorised");
    s(&answer["pspReference"]).to_string()
}

async fn modify(api: &Api, psp: &str, what: &str, amount: Option<i64>) -> Value {
    let mut body = json!({"merchantAccount": MERCHANT, "reference": format!("{what}-ref")});
    if let Some(value) = amount {
        body["amount"] = json!({"value": value, "currency": "EUR"});
    }
    let answer = api.post(&format!("/payments/{psp}/{what}"), &body).await;
    assert_eq!(answer.status, 201, "{}", answer.text);
    let answer = answer.json;
    assert_eq!(answer["status"], "received");
    assert_eq!(answer["paymentPspReference"], psp);
    assert_eq!(s(&answer["pspReference"]).len(), 16);
    answer
}

fn manual() -> EmulatorOptions {
    EmulatorOptions {
        settle_delay: SettleDelay::Manual,
        ..EmulatorOptions::default()
    }
}

#[tokio::test]
async fn several_partial_captures_then_over_capture_fails() {
    let (emulator, api) = start_with(manual()).await;
    let psp = authorised(&api, 10_000).await;
    let first = modify(&api, &psp, "captures", Some(3_000)).await;
    assert_eq!(first["amount"], json!({"currency": "EUR", "value": 3000}));
    let second = modify(&api, &psp, "captures", Some(5_000)).await;
    let third = modify(&api, &psp, "captures", Some(2_500)).await;
    // Nothing settles until released.
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert!(
        !emulator
            .webhooks()
            .emitted()
            .iter()
            .any(|i| i["eventCode"] == "CAPTURE")
    );
    let pending = api.page("/_emulator/settlements").await.ok();
    assert_eq!(pending["pending"].as_array().unwrap().len(), 3);
    assert_eq!(emulator.release_settlements(), 3);
    let ok1 = emitted(&emulator, "CAPTURE", s(&first["pspReference"])).await;
    assert_eq!(
        (ok1["success"].as_str(), ok1["originalReference"].as_str()),
        (Some("true"), Some(psp.as_str()))
    );
    assert_eq!(ok1["additionalData"]["metadata.crm"], "X");
    assert_eq!(
        emitted(&emulator, "CAPTURE", s(&second["pspReference"])).await["success"],
        "true"
    );
    let over = emitted(&emulator, "CAPTURE", s(&third["pspReference"])).await;
    assert_eq!(over["success"], "false");
    assert_eq!(over["reason"], "Insufficient balance on payment");
    // The 2,000 left can still be captured.
    let last = modify(&api, &psp, "captures", Some(2_000)).await;
    api.admin("settlements/release", &[("pspReference", &psp)])
        .await;
    assert_eq!(
        emitted(&emulator, "CAPTURE", s(&last["pspReference"])).await["success"],
        "true"
    );
}

#[tokio::test]
async fn single_partial_capture_accounts_release_the_rest() {
    let (emulator, api) = start_with(EmulatorOptions {
        multiple_partial_captures: false,
        settle_delay: SettleDelay::After(Duration::ZERO),
        ..EmulatorOptions::default()
    })
    .await;
    let psp = authorised(&api, 1_000).await;
    let first = modify(&api, &psp, "captures", Some(400)).await;
    assert_eq!(
        emitted(&emulator, "CAPTURE", s(&first["pspReference"])).await["success"],
        "true"
    );
    let second = modify(&api, &psp, "captures", Some(100)).await;
    assert_eq!(
        emitted(&emulator, "CAPTURE", s(&second["pspReference"])).await["success"],
        "false"
    );
}

#[tokio::test]
async fn cancels_refunds_and_their_refusals() {
    let (emulator, api) = start_with(manual()).await;
    // Cancel an authorisation.
    let psp = authorised(&api, 500).await;
    let cancel = modify(&api, &psp, "cancels", None).await;
    emulator.release_settlements();
    let item = emitted(&emulator, "CANCELLATION", s(&cancel["pspReference"])).await;
    assert_eq!(item["success"], "true");
    assert_eq!(item["amount"]["value"], 500);
    // A captured payment can't be cancelled.
    let captured = s(&api.pay("4111111111111111", 800).await["pspReference"]).to_string();
    let cancel = modify(&api, &captured, "cancels", None).await;
    emulator.release_settlements();
    assert_eq!(
        emitted(&emulator, "CANCELLATION", s(&cancel["pspReference"])).await["success"],
        "false"
    );
    // Partial refunds up to the captured amount.
    let r1 = modify(&api, &captured, "refunds", Some(300)).await;
    let r2 = modify(&api, &captured, "refunds", Some(500)).await;
    let r3 = modify(&api, &captured, "refunds", Some(1)).await;
    emulator.release_settlements();
    assert_eq!(
        emitted(&emulator, "REFUND", s(&r1["pspReference"])).await["success"],
        "true"
    );
    assert_eq!(
        emitted(&emulator, "REFUND", s(&r2["pspReference"])).await["success"],
        "true"
    );
    let over = emitted(&emulator, "REFUND", s(&r3["pspReference"])).await;
    assert_eq!(
        (over["success"].as_str(), over["reason"].as_str()),
        (Some("false"), Some("Insufficient balance on payment"))
    );
    // Nothing captured, nothing to refund.
    let uncaptured = authorised(&api, 900).await;
    let r = modify(&api, &uncaptured, "refunds", Some(100)).await;
    emulator.release_settlements();
    let refused = emitted(&emulator, "REFUND", s(&r["pspReference"])).await;
    assert_eq!(
        refused["reason"],
        "Transaction hasn't been captured, refund not possible"
    );
    // An unknown payment is refused at once.
    api.post(
        "/payments/ABCDEFGHIJKLMNOP/refunds",
        &json!({"merchantAccount": MERCHANT, "amount": {"value": 1, "currency": "EUR"}}),
    )
    .await
    .error(422, "167");
    // Another currency than the payment's.
    api.post(
        &format!("/payments/{captured}/refunds"),
        &json!({"merchantAccount": MERCHANT, "amount": {"value": 1, "currency": "USD"}}),
    )
    .await
    .error(422, "137");
}

#[tokio::test]
async fn refunds_and_captures_can_fail_after_succeeding() {
    let (emulator, api) = start_with(manual()).await;
    let captured = s(&api.pay("4111111111111111", 1_000).await["pspReference"]).to_string();
    emulator
        .fail_next_modification(&captured, ModKind::Refund)
        .unwrap();
    let refund = modify(&api, &captured, "refunds", Some(1_000)).await;
    emulator.release_settlements();
    let r = s(&refund["pspReference"]);
    assert_eq!(emitted(&emulator, "REFUND", r).await["success"], "true");
    let failed = emitted(&emulator, "REFUND_FAILED", r).await;
    assert_eq!(failed["reason"], "Refund Failed");
    assert_eq!(failed["originalReference"], captured.as_str());
    // The money was not refunded: a new refund of the full amount goes through.
    let again = modify(&api, &captured, "refunds", Some(1_000)).await;
    emulator.release_settlements();
    assert_eq!(
        emitted(&emulator, "REFUND", s(&again["pspReference"])).await["success"],
        "true"
    );
    // The same for captures, through the admin route.
    let psp = authorised(&api, 600).await;
    api.admin(&format!("payments/{psp}/fail_next"), &[("kind", "capture")])
        .await;
    let capture = modify(&api, &psp, "captures", Some(600)).await;
    emulator.release_settlements();
    assert_eq!(
        emitted(&emulator, "CAPTURE_FAILED", s(&capture["pspReference"])).await["reason"],
        "Capture Failed"
    );
}

#[tokio::test]
async fn reversals_and_cancels_by_merchant_reference() {
    let (emulator, api) = start_with(manual()).await;
    let authorised_only = authorised(&api, 700).await;
    let captured = s(&api.pay("4111111111111111", 900).await["pspReference"]).to_string();
    let a = modify(&api, &authorised_only, "reversals", None).await;
    let b = modify(&api, &captured, "reversals", None).await;
    emulator.release_settlements();
    let cancelled = emitted(&emulator, "CANCEL_OR_REFUND", s(&a["pspReference"])).await;
    assert_eq!(cancelled["additionalData"]["modification.action"], "cancel");
    let refunded = emitted(&emulator, "CANCEL_OR_REFUND", s(&b["pspReference"])).await;
    assert_eq!(refunded["additionalData"]["modification.action"], "refund");
    assert_eq!(refunded["amount"]["value"], 900);
    // POST /cancels finds the payment by its merchant reference.
    let mut body = payment(300, "EUR", card("4111111111111111"));
    body["reference"] = json!("lost-order-9");
    body["additionalData"] = json!({"manualCapture": "true"});
    let psp = s(&api.post("/payments", &body).await.ok()["pspReference"]).to_string();
    let answer = api
        .post("/cancels", &json!({"merchantAccount": MERCHANT, "paymentReference": "lost-order-9", "reference": "c-1"}))
        .await;
    assert_eq!(answer.status, 201);
    assert_eq!(answer.json["paymentReference"], "lost-order-9");
    emulator.release_settlements();
    let item = emitted(
        &emulator,
        "TECHNICAL_CANCEL",
        s(&answer.json["pspReference"]),
    )
    .await;
    assert_eq!(
        (item["success"].as_str(), item["originalReference"].as_str()),
        (Some("true"), Some(psp.as_str()))
    );
}

#[tokio::test]
async fn modifications_settle_after_the_default_delay() {
    let (emulator, api) = start().await;
    let psp = authorised(&api, 100).await;
    let started = Instant::now();
    let capture = modify(&api, &psp, "captures", Some(100)).await;
    assert_eq!(
        emitted(&emulator, "CAPTURE", s(&capture["pspReference"])).await["success"],
        "true"
    );
    assert!(started.elapsed() >= adyen_emulator::DEFAULT_SETTLE_DELAY);
    // The admin route changes it.
    api.admin("settlements/delay", &[("manual", "true")]).await;
    let refund = modify(&api, &psp, "refunds", Some(100)).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(emulator.pending_settlements(), 1);
    api.admin("settlements/delay", &[("ms", "0")]).await;
    assert_eq!(api.admin("settlements/release", &[]).await["released"], 1);
    assert_eq!(
        emitted(&emulator, "REFUND", s(&refund["pspReference"])).await["success"],
        "true"
    );
}

#[tokio::test]
async fn chargebacks_arrive_as_notifications() {
    let (emulator, api) = start().await;
    let psp = s(&api.pay("5555555555554444", 2_000).await["pspReference"]).to_string();
    let noc = api
        .admin(
            &format!("payments/{psp}/chargeback"),
            &[("stage", "notification_of_chargeback")],
        )
        .await;
    assert_eq!(noc["eventCode"], "NOTIFICATION_OF_CHARGEBACK");
    assert_eq!(noc["originalReference"], psp.as_str());
    assert_eq!(noc["additionalData"]["chargebackSchemeCode"], "mc");
    assert_eq!(noc["additionalData"]["chargebackReasonCode"], "4837");
    assert!(noc["additionalData"]["defensePeriodEndsAt"].is_string());
    let dispute = s(&noc["pspReference"]).to_string();
    let cb = emulator
        .chargeback(&psp, DisputeStage::Chargeback, None, None)
        .unwrap();
    assert_eq!(
        (cb["pspReference"].as_str(), cb["amount"]["value"].as_i64()),
        (Some(dispute.as_str()), Some(2_000))
    );
    assert_eq!(cb["reason"], "4837:No Cardholder Authorization");
    let reversed = emulator
        .chargeback(&psp, DisputeStage::Reversed, None, None)
        .unwrap();
    assert_eq!(reversed["additionalData"]["disputeStatus"], "Won");
    let second = emulator
        .chargeback(&psp, DisputeStage::SecondChargeback, None, None)
        .unwrap();
    assert_eq!(second["eventCode"], "SECOND_CHARGEBACK");
    assert_eq!(
        emitted(&emulator, "SECOND_CHARGEBACK", &psp).await["success"],
        "true"
    );
    // Out of order, or on a payment that wasn't captured: refused.
    assert!(
        emulator
            .chargeback(&psp, DisputeStage::Reversed, None, None)
            .is_err()
    );
    let uncaptured = authorised(&api, 100).await;
    assert!(
        emulator
            .chargeback(&uncaptured, DisputeStage::Chargeback, None, None)
            .is_err()
    );
    // A partial chargeback with its own reason code.
    let visa = s(&api.pay("4111111111111111", 5_000).await["pspReference"]).to_string();
    let partial = emulator
        .chargeback(&visa, DisputeStage::Chargeback, Some(1_500), Some("13.1"))
        .unwrap();
    assert_eq!(
        (
            partial["amount"]["value"].as_i64(),
            partial["additionalData"]["chargebackReasonCode"].as_str()
        ),
        (Some(1_500), Some("13.1"))
    );
}
