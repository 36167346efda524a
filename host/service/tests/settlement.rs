//! What the gateway settles on its own terms, with the Stripe plugin and the emulator: card
//! authorizations that expire, payments left waiting for 3-D Secure, and drafts voided by
//! deleting them at the gateway.

use std::time::Duration;

use crate::common::{
    Env, EnvOptions, emulator_list, expect_error, expect_error_code, expect_state, start,
};
use omnicrm_pay::client::ApiResponse;
use omnicrm_pay::ledger::{TxnPatch, now};
use omnicrm_pay::reconcile::reconcile_once;
use serde_json::json;

/// Creates a transaction for `customer`; returns its id and gateway payment reference. One that
/// waits for the customer is answered 402 with the transaction in the error's details.
async fn transaction(env: &Env, customer: &str, capture: &str, state: &str) -> (i64, String) {
    let r = env
        .charge(json!({ "customer_id": customer, "amount": 2500, "currency": "USD", "capture": capture }))
        .await;
    let txn = if state == "requires_action" {
        expect_error_code(&r, 402, "authentication_required");
        r.json["error"]["details"]["transaction"].clone()
    } else {
        assert_eq!(r.status, 201, "{}", r.json);
        r.json.clone()
    };
    assert_eq!(txn["status"], state, "{}", r.json);
    let payment = txn["gateway_payment_ref"].as_str().unwrap().to_string();
    (txn["id"].as_i64().unwrap(), payment)
}

async fn get_txn(env: &Env, id: i64) -> ApiResponse {
    env.get(&format!("/v1/transactions/{id}")).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn expired_authorizations_are_settled_and_refused_at_capture() {
    // Webhooks off: the reconciler alone must notice.
    let mut env = start(EnvOptions {
        no_webhooks: true,
        authorization_max_age_secs: Some(0),
        ..EnvOptions::default()
    })
    .await;
    env.customer_with_card("auth-1", "pm_card_visa").await;
    let (to_capture, _) = transaction(&env, "auth-1", "manual", "authorized").await;
    let (forgotten, forgotten_pi) = transaction(&env, "auth-1", "manual", "authorized").await;
    let (elsewhere, elsewhere_pi) = transaction(&env, "auth-1", "manual", "authorized").await;
    // Captured in the Stripe dashboard, behind the service's back.
    let r = env
        .stripe_api()
        .send(
            "POST",
            &format!("/v1/payment_intents/{elsewhere_pi}/capture"),
            None,
            &[],
        )
        .await
        .unwrap();
    assert_eq!(r.status, 200, "{}", r.json);

    // A week later, the authorizations are gone at the gateway.
    env.emulator
        .clock()
        .advance(Duration::from_secs(8 * 86_400));
    let r = env
        .post(&format!("/v1/transactions/{to_capture}/capture"), json!({}))
        .await;
    expect_error(&r, 409, "transaction_id");
    let message = r.json["error"]["message"].as_str().unwrap();
    assert!(message.contains("authorization expired"), "{message}");
    let r = get_txn(&env, to_capture).await;
    expect_state(&r, 200, "canceled");
    assert!(
        r.json["last_error"]
            .as_str()
            .unwrap()
            .contains("authorization expired"),
        "{}",
        r.json
    );
    // Asked again: the same 409, without a gateway call (the row is settled).
    let r = env
        .post(&format!("/v1/transactions/{to_capture}/capture"), json!({}))
        .await;
    expect_error(&r, 409, "transaction_id");
    assert!(
        r.json["error"]["message"]
            .as_str()
            .unwrap()
            .contains("expired")
    );

    // The reconciler settles the others: one expired, one captured elsewhere.
    let report = reconcile_once(&env.service, Duration::ZERO).await.unwrap();
    assert_eq!((report.expired, report.refreshed), (1, 1), "{report:?}");
    let r = get_txn(&env, forgotten).await;
    expect_state(&r, 200, "canceled");
    assert!(
        r.json["last_error"]
            .as_str()
            .unwrap()
            .contains("authorization expired"),
        "{}",
        r.json
    );
    let r = get_txn(&env, elsewhere).await;
    expect_state(&r, 200, "succeeded");
    assert_eq!(r.json["amount_captured"], 2500);
    // The ledger agrees with the gateway.
    let intents = env.payment_intents().await;
    let status = |pi: &str| {
        intents.iter().find(|i| i["id"] == pi).unwrap()["status"]
            .as_str()
            .unwrap()
            .to_string()
    };
    assert_eq!(status(&forgotten_pi), "canceled");
    assert_eq!(status(&elsewhere_pi), "succeeded");
    // Nothing left to settle.
    let report = reconcile_once(&env.service, Duration::ZERO).await.unwrap();
    assert_eq!((report.expired, report.refreshed), (0, 0), "{report:?}");
    env.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn payments_waiting_for_authentication_are_polled_then_canceled() {
    // Webhooks off: the customer's authentication is only learnt by polling.
    let mut env = start(EnvOptions {
        no_webhooks: true,
        action_expiry_secs: Some(3_600),
        ..EnvOptions::default()
    })
    .await;
    env.sca_customer("sca-1").await;
    let (completed, completed_pi) =
        transaction(&env, "sca-1", "automatic", "requires_action").await;
    let (abandoned, abandoned_pi) =
        transaction(&env, "sca-1", "automatic", "requires_action").await;

    // The first customer comes back on-session and authenticates.
    let emulator = env.stripe_api();
    let r = emulator
        .send(
            "POST",
            &format!("/v1/payment_intents/{completed_pi}/confirm"),
            None,
            &[],
        )
        .await
        .unwrap();
    expect_state(&r, 200, "requires_action");
    let r = emulator
        .get(&format!("/_emulator/authenticate/{completed_pi}"))
        .await
        .unwrap();
    assert_eq!(r.status, 200, "{}", r.json);

    // Polled: the completed one succeeds; the other still waits (within the hour).
    let report = reconcile_once(&env.service, Duration::ZERO).await.unwrap();
    assert_eq!((report.refreshed, report.expired), (1, 0), "{report:?}");
    let r = get_txn(&env, completed).await;
    expect_state(&r, 200, "succeeded");
    assert_eq!(r.json["amount_captured"], 2500);
    expect_state(&get_txn(&env, abandoned).await, 200, "requires_action");

    // Two hours later with no customer action, it is canceled at the gateway, with a reason.
    let patch = TxnPatch {
        attempted_at: Some(now() - 7_200),
        ..TxnPatch::default()
    };
    env.service
        .db
        .ledger()
        .update_transaction(abandoned, &[], &patch)
        .unwrap();
    let report = reconcile_once(&env.service, Duration::ZERO).await.unwrap();
    assert_eq!((report.refreshed, report.expired), (0, 1), "{report:?}");
    let r = get_txn(&env, abandoned).await;
    expect_state(&r, 200, "canceled");
    let reason = r.json["last_error"].as_str().unwrap();
    assert!(
        reason.contains("did not authenticate") && reason.contains("1 h"),
        "{reason}"
    );
    let intents = env.payment_intents().await;
    let pi = intents.iter().find(|i| i["id"] == abandoned_pi).unwrap();
    assert_eq!(pi["status"], "canceled", "{pi}");
    // The cancellation was written to the intent log with a key derived from the transaction's.
    let ops = env
        .service
        .db
        .ledger()
        .operations_for(Some(abandoned), None)
        .unwrap();
    let cancel = ops.iter().find(|o| o.kind.as_str() == "cancel").unwrap();
    assert!(
        cancel.idempotency_key.ends_with(":cancel:unauthenticated"),
        "{cancel:?}"
    );
    assert_eq!(cancel.state.as_str(), "done");
    // Settled: a repeat does nothing.
    let report = reconcile_once(&env.service, Duration::ZERO).await.unwrap();
    assert_eq!((report.refreshed, report.expired), (0, 0), "{report:?}");
    env.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn voiding_a_draft_deletes_it_at_the_gateway() {
    let mut env = start(EnvOptions::default()).await;
    env.customer_with_card("inv-1", "pm_card_visa").await;
    let r = env
        .charge(
            json!({ "customer_id": "inv-1", "amount": 1200, "currency": "USD", "charge": "later" }),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.json);
    let txn = r.json["id"].as_i64().unwrap();
    let r = env.create_invoice("inv-1").await;
    expect_state(&r, 201, "draft");
    let inv = r.json["id"].as_i64().unwrap();
    let gref = r.json["gateway_invoice_ref"].as_str().unwrap().to_string();
    let at_gateway = |invoices: Vec<serde_json::Value>| invoices.iter().any(|i| i["id"] == gref);
    assert!(at_gateway(
        emulator_list(env.emulator.base_url(), "invoices").await
    ));

    let r = env
        .post(&format!("/v1/invoices/{inv}/void"), json!({}))
        .await;
    expect_state(&r, 200, "void");
    // Gone at the gateway, with its item; the transaction is uninvoiced again.
    assert!(!at_gateway(
        emulator_list(env.emulator.base_url(), "invoices").await
    ));
    let r = env
        .stripe_api()
        .get(&format!("/v1/invoices/{gref}"))
        .await
        .unwrap();
    assert_eq!(r.status, 404, "{}", r.json);
    let items = emulator_list(env.emulator.base_url(), "invoiceitems").await;
    assert!(
        items.iter().all(|i| i["invoice"] != gref.as_str()),
        "{items:?}"
    );
    let r = get_txn(&env, txn).await;
    assert!(r.json["invoice_id"].is_null(), "{}", r.json);
    // Voiding it again is a conflict that names the invoice; paying it too.
    let r = env
        .post(&format!("/v1/invoices/{inv}/void"), json!({}))
        .await;
    expect_error(&r, 409, "invoice_id");
    let r = env
        .post(&format!("/v1/invoices/{inv}/pay"), json!({}))
        .await;
    expect_error(&r, 409, "invoice_id");
    // The transaction can be invoiced again.
    let r = env.create_invoice("inv-1").await;
    expect_state(&r, 201, "draft");
    env.stop().await;
}
