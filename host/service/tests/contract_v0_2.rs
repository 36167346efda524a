//! What contract 0.2 brings to the service, through the real service, the real plugins and the
//! Stripe emulator on loopback: 3-D Secure finished with `complete-action`, captures and refunds
//! the gateway settles later (ended by a webhook, or by the reconciler), and a gateway without
//! invoicing or metrics that still gets invoices and a summary from the ledger.

use crate::common;

use std::time::Duration;

use common::{Env, EnvOptions, expect_error_code, expect_state, start};
use omnicrm_pay::client::{ApiClient, ApiResponse};
use omnicrm_pay::reconcile::reconcile_once;
use serde_json::{Value, json};
use stripe_emulator::Settle;

async fn get_txn(env: &Env, id: i64) -> ApiResponse {
    env.get(&format!("/v1/transactions/{id}")).await
}

/// Polls the transaction until `done` holds of it (at most 10 s).
async fn wait_for_txn(env: &Env, id: i64, done: impl Fn(&Value) -> bool) -> Value {
    for _ in 0..200 {
        let r = get_txn(env, id).await;
        assert_eq!(r.status, 200, "{}", r.json);
        if done(&r.json) {
            return r.json;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!(
        "transaction {id} never reached the expected state: {}",
        get_txn(env, id).await.json
    );
}

/// The refund `refund` of the transaction as it reads it.
fn refund_of(txn: &Value, refund: i64) -> Value {
    txn["refunds"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["id"] == refund)
        .cloned()
        .unwrap_or_else(|| panic!("refund {refund} not in {txn}"))
}

/// An authorization of 5 000 cents; returns its id.
async fn authorization(env: &Env, customer: &str) -> i64 {
    let r = env
        .charge(json!({ "customer_id": customer, "amount": 5000, "currency": "USD", "capture": "manual" }))
        .await;
    expect_state(&r, 201, "authorized");
    r.json["id"].as_i64().unwrap()
}

/// A captured charge of 4 000 cents; returns its id.
async fn payment(env: &Env, customer: &str) -> i64 {
    let r = env
        .charge(json!({ "customer_id": customer, "amount": 4000, "currency": "USD" }))
        .await;
    expect_state(&r, 201, "succeeded");
    r.json["id"].as_i64().unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_d_secure_goes_through_complete_action_and_the_ledger_settles() {
    // Webhooks off: only the complete-action call can tell the service the payment succeeded.
    let mut env = start(EnvOptions {
        no_webhooks: true,
        ..EnvOptions::default()
    })
    .await;
    let card = env.sca_customer("sca-1").await;
    let r = env
        .charge(json!({
            "customer_id": "sca-1", "amount": 2500, "currency": "USD",
            "initiator": "customer", "return_url": "https://crm.example/pay/done",
        }))
        .await;
    // 402 with the next action: where to send the customer's browser.
    expect_error_code(&r, 402, "authentication_required");
    let txn = &r.json["error"]["details"]["transaction"];
    assert_eq!(txn["status"], "requires_action", "{}", r.json);
    assert_eq!(txn["card_id"], card);
    assert_eq!(txn["initiator"], "customer");
    let action = &txn["next_action"];
    assert_eq!(action["type"], "redirect", "{action}");
    assert_eq!(action["method"], "GET", "{action}");
    let url = action["url"].as_str().unwrap();
    assert!(url.starts_with(env.emulator.base_url()), "{url}");
    let id = txn["id"].as_i64().unwrap();
    expect_state(&get_txn(&env, id).await, 200, "requires_action");
    // Nothing is counted while the customer has not authenticated.
    let summary = env.get("/v1/summary?currency=USD").await;
    assert_eq!(
        (
            summary.json["revenue"].as_i64(),
            summary.json["successful_payments"].as_u64()
        ),
        (Some(0), Some(0)),
        "{}",
        summary.json
    );

    // The customer authenticates at the issuer's page (the emulator's).
    let path = url.strip_prefix(env.emulator.base_url()).unwrap();
    let r = ApiClient::new(env.emulator.base_url(), None)
        .get(path)
        .await
        .unwrap();
    assert_eq!(r.status, 200, "{}", r.json);

    // Back on the CRM's page: complete-action finishes the payment.
    let r = env
        .post(&format!("/v1/transactions/{id}/complete-action"), json!({}))
        .await;
    expect_state(&r, 200, "succeeded");
    assert_eq!(r.json["amount_captured"], 2500);
    assert_eq!(r.json["next_action"], Value::Null);
    // The ledger settled: the fee the gateway reported, the operation done, the money counted.
    let t = get_txn(&env, id).await.json;
    assert_eq!(t["status"], "succeeded");
    let fee = stripe_emulator::fees::processing_fee(2500, "usd");
    assert_eq!(t["fee"], fee, "{t}");
    let ops = env
        .service
        .db
        .ledger()
        .operations_for(Some(id), None)
        .unwrap();
    let complete = ops
        .iter()
        .find(|o| o.kind.as_str() == "complete_action")
        .unwrap_or_else(|| panic!("no complete-action operation in {ops:?}"));
    assert_eq!(complete.state.as_str(), "done");
    let summary = env.get("/v1/summary?currency=USD").await.json;
    assert_eq!(summary["revenue"], 2500, "{summary}");
    assert_eq!(summary["successful_payments"], 1);
    assert_eq!(summary["fees"], fee);
    // At the gateway too.
    let intents = env.payment_intents().await;
    let pi = intents
        .iter()
        .find(|pi| pi["id"] == t["gateway_payment_ref"])
        .unwrap();
    assert_eq!(pi["status"], "succeeded");
    // Asked again: answered as it stands, no second completion at the gateway.
    let r = env
        .post(&format!("/v1/transactions/{id}/complete-action"), json!({}))
        .await;
    expect_state(&r, 200, "succeeded");
    let completions = env
        .service
        .db
        .ledger()
        .operations_for(Some(id), None)
        .unwrap()
        .iter()
        .filter(|o| o.kind.as_str() == "complete_action")
        .count();
    assert_eq!(completions, 1);
    env.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn captures_and_refunds_settled_later_end_by_webhook() {
    let mut env = start(EnvOptions::default()).await;
    env.customer_with_card("late-1", "pm_card_visa").await;
    let delays = env.emulator.delays();

    // A capture the gateway settles 300 ms later: accepted (202), pending, then captured by
    // `payment_intent.succeeded`.
    let held = authorization(&env, "late-1").await;
    delays.captures(1, Duration::from_millis(300));
    let r = env
        .post(
            &format!("/v1/transactions/{held}/capture"),
            json!({ "amount": 3000 }),
        )
        .await;
    assert_eq!(r.status, 202, "{}", r.json);
    assert_eq!(r.json["status"], "authorized", "{}", r.json);
    assert_eq!(r.json["captures"][0]["status"], "pending", "{}", r.json);
    // The event moves the transaction, then settles the capture it was waiting for (a crash
    // between the two leaves the capture to the reconciler): wait for both.
    let t = wait_for_txn(&env, held, |t| {
        t["status"] == "succeeded" && t["captures"][0]["status"] == "succeeded"
    })
    .await;
    assert_eq!(t["amount_captured"], 3000, "{t}");
    assert_eq!(t["captures"][0]["status"], "succeeded", "{t}");

    // A refund that succeeds later.
    let paid = payment(&env, "late-1").await;
    delays.refunds(1, Duration::from_millis(300), Settle::Succeed);
    let r = env
        .post(
            &format!("/v1/transactions/{paid}/refunds"),
            json!({ "amount": 1500 }),
        )
        .await;
    assert_eq!(r.status, 202, "{}", r.json);
    assert_eq!(r.json["status"], "pending", "{}", r.json);
    let refund = r.json["id"].as_i64().unwrap();
    let t = wait_for_txn(&env, paid, |t| {
        refund_of(t, refund)["status"] == "succeeded"
    })
    .await;
    assert_eq!(
        (t["status"].as_str(), t["amount_refunded"].as_i64()),
        (Some("partially_refunded"), Some(1500)),
        "{t}"
    );

    // A refund that fails later: nothing refunded, the amount refundable again.
    delays.refunds(1, Duration::from_millis(300), Settle::Fail);
    let r = env
        .post(
            &format!("/v1/transactions/{paid}/refunds"),
            json!({ "amount": 2500 }),
        )
        .await;
    assert_eq!(r.status, 202, "{}", r.json);
    let failing = r.json["id"].as_i64().unwrap();
    let t = wait_for_txn(&env, paid, |t| refund_of(t, failing)["status"] == "failed").await;
    assert_eq!(t["amount_refunded"], 1500, "{t}");
    assert_eq!(t["status"], "partially_refunded");
    let r = env
        .post(
            &format!("/v1/transactions/{paid}/refunds"),
            json!({ "amount": 2500 }),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.json);
    assert_eq!(r.json["status"], "succeeded");

    // The summary counts what settled: the capture, the payment, the two refunds that succeeded.
    let summary = env.get("/v1/summary?currency=USD").await.json;
    assert_eq!(summary["revenue"], 3000 + 4000, "{summary}");
    assert_eq!(summary["refunds"], 1500 + 2500, "{summary}");
    assert_eq!(summary["refund_count"], 2, "{summary}");
    env.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn captures_and_refunds_settled_later_end_by_the_reconciler() {
    // Webhooks off: only the reconciler's lookups can tell.
    let mut env = start(EnvOptions {
        no_webhooks: true,
        ..EnvOptions::default()
    })
    .await;
    env.customer_with_card("late-2", "pm_card_visa").await;
    let delays = env.emulator.delays();
    let held = authorization(&env, "late-2").await;
    let paid = payment(&env, "late-2").await;
    let refunded = payment(&env, "late-2").await;
    delays.captures(1, Duration::from_millis(200));
    let r = env
        .post(&format!("/v1/transactions/{held}/capture"), json!({}))
        .await;
    assert_eq!(r.status, 202, "{}", r.json);
    delays.refunds(1, Duration::from_millis(200), Settle::Fail);
    let r = env
        .post(&format!("/v1/transactions/{paid}/refunds"), json!({}))
        .await;
    assert_eq!(r.status, 202, "{}", r.json);
    let failing = r.json["id"].as_i64().unwrap();
    delays.refunds(1, Duration::from_millis(200), Settle::Succeed);
    let r = env
        .post(&format!("/v1/transactions/{refunded}/refunds"), json!({}))
        .await;
    assert_eq!(r.status, 202, "{}", r.json);
    let succeeding = r.json["id"].as_i64().unwrap();

    // Before the gateway settled them, the reconciler finds them still waiting.
    let report = reconcile_once(&env.service, Duration::ZERO).await.unwrap();
    assert_eq!(
        (report.modifications.settled, report.modifications.waiting),
        (0, 3),
        "{report:?}"
    );
    tokio::time::sleep(Duration::from_millis(400)).await;
    let report = reconcile_once(&env.service, Duration::ZERO).await.unwrap();
    assert_eq!(
        (report.modifications.settled, report.modifications.waiting),
        (3, 0),
        "{report:?}"
    );
    let t = get_txn(&env, held).await.json;
    assert_eq!(
        (t["status"].as_str(), t["amount_captured"].as_i64()),
        (Some("succeeded"), Some(5000)),
        "{t}"
    );
    assert_eq!(t["captures"][0]["status"], "succeeded", "{t}");
    let t = get_txn(&env, paid).await.json;
    assert_eq!(refund_of(&t, failing)["status"], "failed", "{t}");
    assert_eq!(
        (t["status"].as_str(), t["amount_refunded"].as_i64()),
        (Some("succeeded"), Some(0)),
        "{t}"
    );
    let t = get_txn(&env, refunded).await.json;
    assert_eq!(refund_of(&t, succeeding)["status"], "succeeded", "{t}");
    assert_eq!(
        (t["status"].as_str(), t["amount_refunded"].as_i64()),
        (Some("refunded"), Some(4000)),
        "{t}"
    );
    // Settled: nothing left waiting.
    let report = reconcile_once(&env.service, Duration::ZERO).await.unwrap();
    assert_eq!(
        (report.modifications.settled, report.modifications.waiting),
        (0, 0),
        "{report:?}"
    );
    env.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_gateway_without_invoicing_or_metrics_gets_invoices_and_a_summary_from_the_ledger() {
    let mut env = start(EnvOptions {
        with_offline: true,
        offline_component: Some("omnicrm_offline_gateway_core"),
        ..EnvOptions::default()
    })
    .await;
    let gateways = env.get("/v1/gateways").await;
    assert_eq!(gateways.status, 200, "{}", gateways.json);
    let offline = gateways.json["gateways"]
        .as_array()
        .unwrap()
        .iter()
        .find(|g| g["name"] == "offline")
        .cloned()
        .unwrap();
    let capabilities: Vec<&str> = offline["capabilities"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c.as_str().unwrap())
        .collect();
    assert!(
        !capabilities.contains(&"invoicing") && !capabilities.contains(&"metrics"),
        "{offline}"
    );

    let r = env
        .post(
            "/v1/customers",
            json!({ "customer_id": "core-1", "gateway": "offline" }),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.json);
    let r = env
        .post(
            "/v1/customers/core-1/cards",
            json!({ "token": "pm_card_visa", "gateway": "offline" }),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.json);
    for amount in [1200, 800] {
        let r = env
            .charge(json!({ "customer_id": "core-1", "amount": amount, "currency": "EUR", "charge": "later" }))
            .await;
        assert_eq!(r.status, 201, "{}", r.json);
    }
    let r = env
        .charge(json!({ "customer_id": "core-1", "amount": 3000, "currency": "EUR" }))
        .await;
    expect_state(&r, 201, "succeeded");
    assert_eq!(r.json["gateway"], "offline");

    // An invoice kept in the ledger: created, finalized, paid by charging the stored card.
    let r = env
        .post(
            "/v1/invoices",
            json!({ "customer_id": "core-1", "currency": "EUR", "gateway": "offline" }),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.json);
    assert_eq!(r.json["kept_by"], "ledger", "{}", r.json);
    assert_eq!(r.json["total"], 2000, "{}", r.json);
    let invoice = r.json["id"].as_i64().unwrap();
    let r = env
        .post(&format!("/v1/invoices/{invoice}/finalize"), json!({}))
        .await;
    expect_state(&r, 200, "open");
    let r = env
        .post(&format!("/v1/invoices/{invoice}/pay"), json!({}))
        .await;
    expect_state(&r, 200, "paid");
    assert_eq!(r.json["hosted_url"], Value::Null);

    // The summary of the gateway: the ledger's figures, no gateway figures to compare.
    let r = env.get("/v1/summary?currency=EUR&gateway=offline").await;
    assert_eq!(r.status, 200, "{}", r.json);
    let s = &r.json;
    assert_eq!(s["gateway"], "offline");
    assert_eq!(s["source"], "ledger");
    assert_eq!(s["revenue"], 3000 + 2000, "{s}");
    assert_eq!(s["successful_payments"], 2, "{s}");
    assert_eq!(s["gateway_figures"], Value::Null, "{s}");
    assert_eq!(s["gateway_figures_error"], Value::Null, "{s}");
    assert_eq!(s["differences"], json!([]), "{s}");
    env.stop().await;
}

/// How many charges (`POST /v1/payment_intents`) and payment lookups (`GET
/// /v1/payment_intents/{id}`) reached the gateway so far.
fn charges_and_lookups(env: &Env) -> (usize, usize) {
    let calls = env.calls.as_ref().unwrap();
    (
        calls.count("POST", "/v1/payment_intents", "/payment_intents"),
        calls.count("GET", "/v1/payment_intents/", ""),
    )
}

/// Charges `count` payments of `customer`, `parallel` at a time; returns their ids.
async fn charge_many(
    env: &std::sync::Arc<Env>,
    customer: &str,
    count: usize,
    parallel: usize,
) -> Vec<i64> {
    let mut tasks = Vec::new();
    for worker in 0..parallel {
        let (env, customer) = (env.clone(), customer.to_string());
        tasks.push(tokio::spawn(async move {
            let mut ids = Vec::new();
            for n in (worker..count).step_by(parallel) {
                let r = env
                    .charge(json!({ "customer_id": customer, "amount": 1000 + n as i64, "currency": "USD" }))
                    .await;
                expect_state(&r, 201, "succeeded");
                ids.push(r.json["id"].as_i64().unwrap());
            }
            ids
        }));
    }
    let mut ids = Vec::new();
    for t in tasks {
        ids.extend(t.await.unwrap());
    }
    ids
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn events_carrying_the_payment_need_no_lookup_and_lookups_do_not_starve_charges() {
    let env = std::sync::Arc::new(
        start(EnvOptions {
            count_gateway_calls: true,
            requests_per_second: Some(25.0),
            ..EnvOptions::default()
        })
        .await,
    );
    env.customer_with_card("hooks-1", "pm_card_visa").await;

    // Webhooks on: every charge's events are applied, and none of them asks the gateway.
    let ids = charge_many(&env, "hooks-1", 12, 4).await;
    let events = common::emulator_list(env.emulator.base_url(), "events").await;
    let succeeded: Vec<String> = events
        .iter()
        .filter(|e| e["type"] == "payment_intent.succeeded")
        .map(|e| e["id"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(succeeded.len(), ids.len());
    for _ in 0..200 {
        let ledger = env.service.db.ledger();
        if succeeded
            .iter()
            .all(|e| ledger.webhook_seen("stripe", e).unwrap())
        {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let ledger = env.service.db.ledger();
    for e in &succeeded {
        assert!(
            ledger.webhook_seen("stripe", e).unwrap(),
            "event {e} not applied"
        );
    }
    assert_eq!(charges_and_lookups(&env), (ids.len(), 0));

    // Lookups flood the gateway (40 at once, without pause) while charges run: they keep to
    // their share of the rate (a fifth), and the charges get the rest.
    let mut flood = Vec::new();
    for n in 0..40 {
        let env = env.clone();
        let txn = env.service.transaction(ids[n % ids.len()]).await.unwrap();
        flood.push(tokio::spawn(async move {
            loop {
                let p = env.service.look_up_payment(&txn).await.unwrap();
                assert!(p.is_some());
            }
        }));
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    let before = charges_and_lookups(&env);
    let more = charge_many(&env, "hooks-1", 24, 6).await;
    let after = charges_and_lookups(&env);
    // The lookups still queued would take seconds at their pace: they are dropped.
    for f in &flood {
        f.abort();
    }
    let (charges, lookups) = (after.0 - before.0, after.1 - before.1);
    assert_eq!(charges, more.len());
    assert!(lookups > 0, "the lookups ran meanwhile");
    // A fifth of the calls at most, with room for the rate's first slots (sharing calls first
    // come, first served, 40 lookups to 6 charges would have given the lookups most of them).
    assert!(
        lookups * 4 <= charges + 4,
        "{lookups} lookups took more than their share beside {charges} charges"
    );
}
