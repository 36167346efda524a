//! Settlement delays over HTTP: refunds answered `pending` and captures answered `processing`,
//! each settled later with its event.

mod common;

use std::time::Duration;

use common::{Api, s, start};
use serde_json::Value;

/// Polls `path` until `done` holds of its answer (at most 5 s).
async fn wait_for(api: &Api, path: &str, done: impl Fn(&Value) -> bool) -> Value {
    for _ in 0..100 {
        let v = api.get(path).await.ok();
        if done(&v) {
            return v;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("{path} never reached the expected state");
}

/// The events of `kind` about the object `id`.
async fn events_about(api: &Api, kind: &str, id: &str) -> Vec<Value> {
    let events = api
        .get_q("/v1/events", &[("type", kind), ("limit", "100")])
        .await
        .ok();
    events["data"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["data"]["object"]["id"] == id)
        .cloned()
        .collect()
}

#[tokio::test]
async fn delayed_refunds_are_pending_then_succeed_or_fail_with_an_event() {
    let (emulator, api) = start().await;
    let pi = api.paid_intent("pm_card_visa", 10_000, "usd").await;
    let pi_id = s(&pi["id"]).to_string();
    let charge_path = format!("/v1/charges/{}", s(&pi["latest_charge"]));

    // Through the admin route: the next refund fails after 100 ms.
    api.admin(
        "delays/refunds",
        &[("count", "1"), ("after_ms", "100"), ("outcome", "fail")],
    )
    .await;
    let failing = api
        .post(
            "/v1/refunds",
            &[("payment_intent", &pi_id), ("amount", "4000")],
        )
        .await
        .ok();
    assert_eq!(failing["status"], "pending");
    assert_eq!(failing["balance_transaction"], Value::Null);
    // While pending, its amount is not refundable again.
    assert_eq!(api.get(&charge_path).await.ok()["amount_refunded"], 4000);
    let over = api
        .post(
            "/v1/refunds",
            &[("payment_intent", &pi_id), ("amount", "6001")],
        )
        .await;
    assert_eq!(over.status, 400);
    let failing_id = s(&failing["id"]).to_string();
    let failed = wait_for(&api, &format!("/v1/refunds/{failing_id}"), |r| {
        r["status"] != "pending"
    })
    .await;
    assert_eq!(failed["status"], "failed");
    assert_eq!(failed["failure_reason"], "expired_or_canceled_card");
    assert_eq!(failed["balance_transaction"], Value::Null);
    assert_eq!(api.get(&charge_path).await.ok()["amount_refunded"], 0);
    let updated = events_about(&api, "charge.refund.updated", &failing_id).await;
    assert_eq!(updated.len(), 1);
    assert_eq!(updated[0]["data"]["object"]["status"], "failed");

    // Through the handle: the next refund succeeds after 100 ms, with its balance transaction.
    emulator.delays().refunds(
        1,
        Duration::from_millis(100),
        stripe_emulator::Settle::Succeed,
    );
    let pending = api
        .post("/v1/refunds", &[("payment_intent", &pi_id)])
        .await
        .ok();
    assert_eq!(pending["status"], "pending");
    assert_eq!(
        pending["amount"], 10_000,
        "the failed refund's amount is refundable again"
    );
    let pending_id = s(&pending["id"]).to_string();
    let succeeded = wait_for(&api, &format!("/v1/refunds/{pending_id}"), |r| {
        r["status"] != "pending"
    })
    .await;
    assert_eq!(succeeded["status"], "succeeded");
    let txn = api
        .get(&format!(
            "/v1/balance_transactions/{}",
            s(&succeeded["balance_transaction"])
        ))
        .await
        .ok();
    assert_eq!(txn["amount"], -10_000);
    let updated = events_about(&api, "charge.refund.updated", &pending_id).await;
    assert_eq!(updated.len(), 1);
    assert_eq!(updated[0]["data"]["object"]["status"], "succeeded");

    // The delay applied to one refund only: the next one settles at once.
    let pi = api.paid_intent("pm_card_visa", 500, "usd").await;
    let now = api
        .post("/v1/refunds", &[("payment_intent", s(&pi["id"]))])
        .await
        .ok();
    assert_eq!(now["status"], "succeeded");
}

#[tokio::test]
async fn delayed_captures_are_processing_then_captured_with_their_events() {
    let (emulator, api) = start().await;
    let customer = api.customer().await;
    let pm = s(&api.attach(&customer, "pm_card_visa").await.ok()["id"]).to_string();
    let authorize = || {
        let (api, customer, pm) = (api.clone(), customer.clone(), pm.clone());
        async move {
            api.post(
                "/v1/payment_intents",
                &[
                    ("amount", "5000"),
                    ("currency", "usd"),
                    ("customer", &customer),
                    ("payment_method", &pm),
                    ("confirm", "true"),
                    ("off_session", "true"),
                    ("capture_method", "manual"),
                ],
            )
            .await
            .ok()
        }
    };
    api.admin("delays/captures", &[("count", "1"), ("after_ms", "100")])
        .await;
    let pi = authorize().await;
    let id = s(&pi["id"]).to_string();
    let capture = api
        .post(
            &format!("/v1/payment_intents/{id}/capture"),
            &[("amount_to_capture", "3000")],
        )
        .await
        .ok();
    assert_eq!(capture["status"], "processing");
    assert_eq!(
        events_about(&api, "payment_intent.processing", &id)
            .await
            .len(),
        1
    );
    // A processing intent can not be captured twice.
    let again = api
        .post(&format!("/v1/payment_intents/{id}/capture"), &[])
        .await;
    assert_eq!(again.status, 400);
    let done = wait_for(&api, &format!("/v1/payment_intents/{id}"), |pi| {
        pi["status"] != "processing"
    })
    .await;
    assert_eq!(done["status"], "succeeded");
    assert_eq!(done["amount_received"], 3000);
    let charge = api
        .get(&format!("/v1/charges/{}", s(&done["latest_charge"])))
        .await
        .ok();
    assert_eq!(charge["captured"], true);
    assert_eq!(charge["amount_captured"], 3000);
    assert_eq!(
        events_about(&api, "payment_intent.succeeded", &id)
            .await
            .len(),
        1
    );

    // Cleared delays: captures settle at once.
    emulator.delays().captures(5, Duration::from_secs(60));
    emulator.delays().clear();
    let pi = authorize().await;
    let now = api
        .post(
            &format!("/v1/payment_intents/{}/capture", s(&pi["id"])),
            &[],
        )
        .await
        .ok();
    assert_eq!(now["status"], "succeeded");
}
