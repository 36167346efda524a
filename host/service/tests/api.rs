//! The service's HTTP API over real HTTP, with the Stripe plugin and the Stripe emulator.

use crate::common;

use std::time::Duration;

use common::{EnvOptions, expect_error, expect_error_code, expect_state, start};
use omnicrm_pay::reconcile::reconcile_once;
use serde_json::{Value, json};

fn ids(v: &Value, key: &str) -> Vec<i64> {
    v[key]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["id"].as_i64().unwrap())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_endpoint_end_to_end() {
    let mut env = start(EnvOptions::default()).await;

    // Public routes.
    let r = env.anonymous.get("/health").await.unwrap();
    expect_state(&r, 200, "ok");
    let r = env.anonymous.get("/openapi.json").await.unwrap();
    assert_eq!(r.status, 200);
    assert_eq!(r.json["openapi"], "3.1.0");
    let r = env.get("/v1/gateways").await;
    assert_eq!(r.status, 200, "{}", r.json);
    assert_eq!(r.json["default"], "stripe");
    assert_eq!(
        r.json["gateways"][0]["contract_version"]
            .as_str()
            .unwrap()
            .split('.')
            .next(),
        Some("0")
    );
    assert_eq!(r.json["gateways"][0]["display_name"], "Stripe");

    // Customers and cards.
    let r = env
        .post(
            "/v1/customers",
            json!({ "customer_id": "c-1", "email": "a@example.com", "name": "Ada" }),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.json);
    let cus = r.json["gateway_customer_ref"].as_str().unwrap().to_string();
    assert!(cus.starts_with("cus_"));
    let r = env
        .post("/v1/customers", json!({ "customer_id": "c-1" }))
        .await;
    assert_eq!(
        r.json["gateway_customer_ref"],
        cus.as_str(),
        "linking again finds the same customer"
    );
    let r = env
        .post(
            "/v1/customers/c-1/cards",
            json!({ "token": "pm_card_visa", "nickname": "Work Visa" }),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.json);
    assert_eq!(
        (r.json["brand"].as_str(), r.json["last4"].as_str()),
        (Some("visa"), Some("4242"))
    );
    assert_eq!(r.json["default"], true, "the first card is the default");
    assert_eq!(r.json["gateway"], "stripe");
    assert_eq!(r.json["funding"], "credit");
    let visa = r.json["id"].as_i64().unwrap();
    let r = env
        .post(
            "/v1/customers/c-1/cards",
            json!({ "token": "pm_card_mastercard", "nickname": "Home" }),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.json);
    assert_eq!(r.json["default"], false);
    let mc = r.json["id"].as_i64().unwrap();
    let r = env
        .post(&format!("/v1/customers/c-1/cards/{mc}/default"), json!({}))
        .await;
    assert_eq!(
        (r.status, &r.json["default"]),
        (200, &json!(true)),
        "{}",
        r.json
    );
    let r = env.get("/v1/customers/c-1/cards").await;
    assert_eq!(ids(&r.json, "cards"), vec![mc, visa], "default first");
    assert_eq!(r.json["cards"][0]["nickname"], "Home");
    assert!(r.json["cards"][0]["expiry"].as_str().unwrap().contains('/'));
    let r = env.get("/v1/customers/c-1").await;
    assert_eq!(r.status, 200);
    assert_eq!(r.json["links"][0]["gateway_customer_ref"], cus.as_str());
    let r = env.get("/v1/cards/expiring?within_days=3650").await;
    assert_eq!(r.json["cards"].as_array().unwrap().len(), 2, "{}", r.json);
    let r = env.get("/v1/cards/expiring?within_days=0").await;
    assert_eq!(r.status, 200);
    let r = env
        .post(
            &format!("/v1/customers/c-1/cards/{visa}/default"),
            json!({}),
        )
        .await;
    assert_eq!(r.status, 200);
    let r = env.delete(&format!("/v1/customers/c-1/cards/{mc}")).await;
    assert_eq!(r.status, 200, "{}", r.json);
    let r = env.get("/v1/customers/c-1/cards").await;
    assert_eq!(ids(&r.json, "cards"), vec![visa]);

    // A charge to the default card.
    let r = env
        .charge(json!({ "customer_id": "c-1", "amount": 4999, "currency": "USD", "description": "Fibre" }))
        .await;
    assert_eq!(r.status, 201, "{}", r.json);
    assert_eq!(r.json["status"], "succeeded");
    assert_eq!(r.json["card_id"], visa);
    assert_eq!(r.json["amount_captured"], 4999);
    let paid = r.json["id"].as_i64().unwrap();
    assert!(
        r.json["gateway_payment_ref"]
            .as_str()
            .unwrap()
            .starts_with("pi_")
    );

    // Authorize, then capture part.
    let r = env
        .charge(json!({ "customer_id": "c-1", "amount": 3000, "currency": "USD", "capture": "manual", "card_id": visa }))
        .await;
    expect_state(&r, 201, "authorized");
    let auth = r.json["id"].as_i64().unwrap();
    let r = env
        .post(
            &format!("/v1/transactions/{auth}/capture"),
            json!({ "amount": 2500 }),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.json);
    assert_eq!(
        (
            r.json["status"].as_str(),
            r.json["amount_captured"].as_i64()
        ),
        (Some("succeeded"), Some(2500))
    );
    let r = env
        .post(&format!("/v1/transactions/{auth}/capture"), json!({}))
        .await;
    assert_eq!(r.status, 409, "captured twice: {}", r.json);

    // Authorize, then void.
    let r = env
        .charge(
            json!({ "customer_id": "c-1", "amount": 1200, "currency": "USD", "capture": "manual" }),
        )
        .await;
    let voided = r.json["id"].as_i64().unwrap();
    let r = env
        .post(&format!("/v1/transactions/{voided}/void"), json!({}))
        .await;
    expect_state(&r, 200, "canceled");

    // A pending transaction voided before it is charged.
    let r = env
        .charge(
            json!({ "customer_id": "c-1", "amount": 700, "currency": "USD", "charge": "later" }),
        )
        .await;
    expect_state(&r, 201, "pending");
    let later = r.json["id"].as_i64().unwrap();
    let r = env
        .post(&format!("/v1/transactions/{later}/void"), json!({}))
        .await;
    expect_state(&r, 200, "canceled");

    // A decline is a failed transaction, recorded.
    env.add_card("c-1", "pm_card_chargeCustomerFail").await;
    let r = env.get("/v1/customers/c-1/cards").await;
    let failing = r.json["cards"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["last4"] == "0341")
        .unwrap()["id"]
        .as_i64()
        .unwrap();
    let r = env
        .charge(
            json!({ "customer_id": "c-1", "amount": 999, "currency": "USD", "card_id": failing }),
        )
        .await;
    expect_state(&r, 201, "failed");
    assert_eq!(r.json["decline_code"], "card_declined");
    let declined = r.json["id"].as_i64().unwrap();

    // Refunds: partial, then the rest.
    let r = env
        .post(
            &format!("/v1/transactions/{paid}/refunds"),
            json!({ "amount": 999, "reason": "requested_by_customer" }),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.json);
    assert_eq!(r.json["status"], "succeeded");
    assert_eq!(r.json["transaction"]["status"], "partially_refunded");
    let r = env
        .post(&format!("/v1/transactions/{paid}/refunds"), json!({}))
        .await;
    assert_eq!(r.status, 201, "{}", r.json);
    assert_eq!(r.json["amount"], 4000);
    assert_eq!(r.json["transaction"]["status"], "refunded");
    assert_eq!(r.json["transaction"]["amount_refunded"], 4999);
    let r = env.get(&format!("/v1/transactions/{paid}")).await;
    assert_eq!(r.json["refunds"].as_array().unwrap().len(), 2);

    // Invoices from uninvoiced transactions.
    for (amount, kind) in [(2000, "charge"), (300, "credit"), (1500, "charge")] {
        let r = env
            .charge(json!({ "customer_id": "c-1", "amount": amount, "currency": "USD", "kind": kind, "charge": "later", "description": format!("{kind} {amount}") }))
            .await;
        assert_eq!(r.status, 201, "{}", r.json);
    }
    let r = env
        .get("/v1/transactions?customer_id=c-1&invoiced=false&status=pending")
        .await;
    assert_eq!(
        r.json["transactions"].as_array().unwrap().len(),
        3,
        "{}",
        r.json
    );
    let r = env
        .post(
            "/v1/invoices",
            json!({ "customer_id": "c-1", "currency": "USD", "days_until_due": 10 }),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.json);
    assert_eq!(
        (r.json["status"].as_str(), r.json["total"].as_i64()),
        (Some("draft"), Some(3200))
    );
    assert!(r.json["number"].as_str().unwrap().starts_with("INV-"));
    assert_eq!(
        r.json["number"].as_str().unwrap().len(),
        "INV-2026-000001".len()
    );
    assert_eq!(r.json["lines"].as_array().unwrap().len(), 3);
    let inv = r.json["id"].as_i64().unwrap();
    let r = env
        .get("/v1/transactions?customer_id=c-1&invoiced=true")
        .await;
    assert_eq!(r.json["transactions"].as_array().unwrap().len(), 3);
    let r = env
        .post(&format!("/v1/invoices/{inv}/finalize"), json!({}))
        .await;
    expect_state(&r, 200, "open");
    assert!(!r.json["gateway_number"].is_null());
    let r = env
        .post(
            &format!("/v1/invoices/{inv}/pay"),
            json!({ "card_id": visa }),
        )
        .await;
    expect_state(&r, 200, "paid");
    assert_eq!(r.json["amount_paid"], 3200);
    let r = env.get(&format!("/v1/invoices/{inv}")).await;
    assert!(
        r.json["lines"]
            .as_array()
            .unwrap()
            .iter()
            .all(|l| l["status"] == "succeeded")
    );
    // A second invoice, voided: its transaction becomes uninvoiced again.
    env.charge(
        json!({ "customer_id": "c-1", "amount": 800, "currency": "USD", "charge": "later" }),
    )
    .await;
    let r = env.create_invoice("c-1").await;
    let inv2 = r.json["id"].as_i64().unwrap();
    let r = env
        .post(&format!("/v1/invoices/{inv2}/finalize"), json!({}))
        .await;
    assert_eq!(r.status, 200, "{}", r.json);
    let r = env
        .post(&format!("/v1/invoices/{inv2}/void"), json!({}))
        .await;
    expect_state(&r, 200, "void");
    let r = env
        .get("/v1/transactions?customer_id=c-1&invoiced=false&status=pending")
        .await;
    assert_eq!(r.json["transactions"].as_array().unwrap().len(), 1);
    let r = env.get("/v1/invoices?status=paid").await;
    assert_eq!(ids(&r.json, "invoices"), vec![inv]);
    let r = env.get("/v1/invoices?customer_id=c-1").await;
    assert_eq!(ids(&r.json, "invoices"), vec![inv2, inv]);

    // Listing with filters.
    let r = env.get("/v1/transactions?status=failed").await;
    assert_eq!(ids(&r.json, "transactions"), vec![declined]);
    let r = env.get("/v1/transactions?kind=credit").await;
    assert_eq!(r.json["transactions"].as_array().unwrap().len(), 1);
    let r = env
        .get("/v1/transactions?from=2000-01-01&to=2001-01-01")
        .await;
    assert!(r.json["transactions"].as_array().unwrap().is_empty());
    let r = env.get("/v1/transactions?limit=2").await;
    let next = r.json["next_before_id"].as_i64().unwrap();
    let r = env
        .get(&format!("/v1/transactions?limit=100&before_id={next}"))
        .await;
    assert!(ids(&r.json, "transactions").iter().all(|id| *id < next));

    // The financial summary, from the gateway's figures.
    let r = env.get("/v1/summary?currency=USD").await;
    assert_eq!(r.status, 200, "{}", r.json);
    assert_eq!(r.json["revenue"], 4999 + 2500 + 3200, "{}", r.json);
    assert_eq!(r.json["refunds"], 4999);
    assert!(r.json["fees"].as_i64().unwrap() > 0);
    let r = env.get("/v1/disputes").await;
    assert_eq!(r.status, 200);

    // The emulator agrees: one payment intent per charged transaction.
    let pis = env.payment_intents().await;
    let ours: Vec<&Value> = pis
        .iter()
        .filter(|p| !p["metadata"]["crm_transaction_id"].is_null())
        .collect();
    assert_eq!(
        ours.len(),
        4,
        "charge, authorization (captured), voided, declined"
    );
    env.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_input_is_refused_naming_the_field_and_changes_nothing() {
    let mut env = start(EnvOptions::default()).await;
    let visa = env.customer_with_card("c-1", "pm_card_visa").await;
    let other = env.customer_with_card("c-2", "pm_card_visa").await;
    let r = env
        .charge(json!({ "customer_id": "c-1", "amount": 1000, "currency": "USD" }))
        .await;
    let paid = r.json["id"].as_i64().unwrap();
    let before_pis = env.payment_intents().await.len();
    let count = |env: &common::Env| {
        let api = env.api.clone();
        async move {
            api.get("/v1/transactions").await.unwrap().json["transactions"]
                .as_array()
                .unwrap()
                .len()
        }
    };
    let before = count(&env).await;

    let cases: Vec<(Value, u16, &str)> = vec![
        (
            json!({ "customer_id": "nobody", "amount": 100, "currency": "USD" }),
            404,
            "customer_id",
        ),
        (
            json!({ "customer_id": "c-1", "amount": 100, "currency": "USD", "card_id": 9999 }),
            404,
            "card_id",
        ),
        (
            json!({ "customer_id": "c-1", "amount": 100, "currency": "USD", "card_id": other }),
            404,
            "card_id",
        ),
        (
            json!({ "customer_id": "c-1", "amount": 0, "currency": "USD" }),
            400,
            "amount",
        ),
        (
            json!({ "customer_id": "c-1", "amount": -5, "currency": "USD" }),
            400,
            "amount",
        ),
        (
            json!({ "customer_id": "c-1", "amount": 10.5, "currency": "USD" }),
            400,
            "amount",
        ),
        (
            json!({ "customer_id": "c-1", "amount": "100", "currency": "USD" }),
            400,
            "amount",
        ),
        (
            json!({ "customer_id": "c-1", "amount": 100, "currency": "XYZ" }),
            400,
            "currency",
        ),
        (
            json!({ "customer_id": "c-1", "amount": 100, "currency": "usd" }),
            400,
            "currency",
        ),
        (
            json!({ "customer_id": "c-1", "amount": 100 }),
            400,
            "currency",
        ),
        (
            json!({ "customer_id": "c-1", "amount": 100, "currency": "USD", "capture": "later" }),
            400,
            "capture",
        ),
        (
            json!({ "customer_id": "c-1", "amount": 100, "currency": "USD", "colour": "red" }),
            400,
            "colour",
        ),
    ];
    for (body, status, field) in cases {
        let r = env.post("/v1/transactions", body.clone()).await;
        assert_eq!(r.status, status, "{body} -> {}", r.json);
        assert_eq!(r.json["error"]["field"], field, "{body} -> {}", r.json);
        assert!(!r.json["error"]["message"].as_str().unwrap().is_empty());
    }
    // Malformed JSON.
    let r = env
        .api
        .send(
            "POST",
            "/v1/transactions",
            Some(b"{\"customer_id\": \"c-1\", ".to_vec()),
            &[],
        )
        .await
        .unwrap();
    expect_error(&r, 400, "body");
    let r = env
        .api
        .send("POST", "/v1/transactions", Some(b"[1,2]".to_vec()), &[])
        .await
        .unwrap();
    expect_error(&r, 400, "body");
    // Refund above what remains.
    let r = env
        .post(
            &format!("/v1/transactions/{paid}/refunds"),
            json!({ "amount": 1001 }),
        )
        .await;
    expect_error(&r, 400, "amount");
    let r = env
        .post(
            &format!("/v1/transactions/{paid}/refunds"),
            json!({ "amount": 600 }),
        )
        .await;
    assert_eq!(r.status, 201);
    let r = env
        .post(
            &format!("/v1/transactions/{paid}/refunds"),
            json!({ "amount": 401 }),
        )
        .await;
    expect_error(&r, 400, "amount");
    let r = env
        .post(
            &format!("/v1/transactions/{paid}/refunds"),
            json!({ "reason": "bored" }),
        )
        .await;
    expect_error(&r, 400, "reason");
    let r = env.post("/v1/transactions/99999/refunds", json!({})).await;
    expect_error(&r, 404, "transaction_id");
    let r = env.post("/v1/transactions/abc/refunds", json!({})).await;
    expect_error(&r, 400, "transaction_id");
    // Paying a void invoice.
    env.charge(
        json!({ "customer_id": "c-1", "amount": 500, "currency": "USD", "charge": "later" }),
    )
    .await;
    let r = env.create_invoice("c-1").await;
    let inv = r.json["id"].as_i64().unwrap();
    let r = env
        .post(&format!("/v1/invoices/{inv}/void"), json!({}))
        .await;
    assert_eq!(r.status, 200, "{}", r.json);
    let r = env
        .post(
            &format!("/v1/invoices/{inv}/pay"),
            json!({ "card_id": visa }),
        )
        .await;
    expect_error(&r, 409, "invoice_id");
    let r = env.create_invoice("c-2").await;
    expect_error(&r, 409, "customer_id"); // Nothing to invoice.
    let r = env.create_invoice("ghost").await;
    expect_error(&r, 404, "customer_id");
    // Unknown customer or card elsewhere.
    let r = env
        .post(
            "/v1/customers/ghost/cards",
            json!({ "token": "pm_card_visa" }),
        )
        .await;
    expect_error(&r, 404, "customer_id");
    let r = env.delete("/v1/customers/c-1/cards/424242").await;
    expect_error(&r, 404, "card_id");
    let r = env
        .post("/v1/customers/c-1/cards", json!({ "token": "pm_bogus" }))
        .await;
    assert_eq!(
        (r.status / 100, r.json["error"]["field"].as_str()),
        (4, Some("token")),
        "{}",
        r.json
    );
    let r = env.get("/v1/transactions?status=lost").await;
    expect_error(&r, 400, "status");
    let r = env.get("/v1/summary?currency=ABC").await;
    expect_error(&r, 400, "currency");
    // Keys: missing, wrong, wrong scope.
    let r = env
        .anonymous
        .post("/v1/transactions", json!({}))
        .await
        .unwrap();
    assert_eq!(r.status, 401);
    let r = env.anonymous.get("/v1/transactions").await.unwrap();
    assert_eq!(r.status, 401);
    let r = env
        .api
        .with_key(Some("not-a-key".into()))
        .get("/v1/transactions")
        .await
        .unwrap();
    expect_error(&r, 401, "authorization");
    let r = env
        .read_only
        .post(
            "/v1/transactions",
            json!({ "customer_id": "c-1", "amount": 100, "currency": "USD" }),
        )
        .await
        .unwrap();
    assert_eq!(r.status, 403);
    let r = env.read_only.get("/v1/transactions").await.unwrap();
    assert_eq!(r.status, 200);

    // Nothing changed: no new transaction (beyond the invoice line), no new payment.
    assert_eq!(count(&env).await, before + 1);
    assert_eq!(env.payment_intents().await.len(), before_pis);
    env.stop().await;
}

/// A CRM customer id is taken exactly as given, so ids with white space or invisible characters
/// are refused everywhere (they would be other customers that people and gateways confuse), and
/// one CRM customer is never linked to another's gateway customer.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn customer_ids_are_exact_and_never_merged() {
    let env = start(EnvOptions::default()).await;
    let card = env.customer_with_card("acme-7", "pm_card_visa").await;
    for bad in [
        "acme-7 ",
        " acme-7",
        "acme-7\t",
        "acme-7\n",
        "acme\u{200B}-7",
        "acme-7\u{00A0}",
        "x AND metadata['crm_customer_id']:'acme-7'",
        "x OR y",
    ] {
        let r = env
            .post("/v1/customers", json!({ "customer_id": bad }))
            .await;
        expect_error(&r, 400, "customer_id");
        let r = env
            .charge(json!({ "customer_id": bad, "amount": 100, "currency": "USD" }))
            .await;
        expect_error(&r, 400, "customer_id");
        let r = env
            .post(
                "/v1/invoices",
                json!({ "customer_id": bad, "currency": "USD" }),
            )
            .await;
        expect_error(&r, 400, "customer_id");
    }
    let r = env
        .post(
            "/v1/customers/acme-7%20/cards",
            json!({ "token": "pm_card_visa" }),
        )
        .await;
    expect_error(&r, 400, "customer_id");
    let r = env.get("/v1/customers/acme-7%20/cards").await;
    expect_error(&r, 400, "customer_id");
    let r = env.get("/v1/transactions?customer_id=acme-7%20").await;
    expect_error(&r, 400, "customer_id");

    // Nothing reached the gateway: one customer there, one card, no payment.
    let customers = common::emulator_list(env.emulator.base_url(), "customers").await;
    assert_eq!(customers.len(), 1, "{customers:?}");
    assert!(env.payment_intents().await.is_empty());
    let r = env.get("/v1/transactions").await;
    assert_eq!(r.json["transactions"], json!([]), "no row was written");

    // Linking again uses the ledger's reference: no second gateway customer.
    let r = env
        .post(
            "/v1/customers",
            json!({ "customer_id": "acme-7", "name": "Acme" }),
        )
        .await;
    assert_eq!(
        (r.status, &r.json["created_at_gateway"]),
        (200, &json!(false))
    );
    assert_eq!(r.json["name"], "Acme");
    assert_eq!(r.json["gateway_customer_ref"], customers[0]["id"]);
    let r = env
        .charge(
            json!({ "customer_id": "acme-7", "amount": 700, "currency": "USD", "card_id": card }),
        )
        .await;
    expect_state(&r, 201, "succeeded");
    assert_eq!(
        common::emulator_list(env.emulator.base_url(), "customers")
            .await
            .len(),
        1
    );
}

/// Where the gateway has no customer search (some Stripe accounts and regions, simpler test
/// doubles), customers are still linked once, through the ledger and an idempotent create.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn customers_link_without_the_gateways_search() {
    let env = start(EnvOptions {
        no_customer_search: true,
        ..EnvOptions::default()
    })
    .await;
    let card = env.customer_with_card("c-1", "pm_card_visa").await;
    let r = env
        .charge(json!({ "customer_id": "c-1", "amount": 1999, "currency": "USD", "card_id": card }))
        .await;
    expect_state(&r, 201, "succeeded");
    let first = env.get("/v1/customers/c-1").await.json["links"][0]["gateway_customer_ref"].clone();
    let r = env
        .post("/v1/customers", json!({ "customer_id": "c-1" }))
        .await;
    assert_eq!((r.status, &r.json["gateway_customer_ref"]), (200, &first));
    env.customer_with_card("c-2", "pm_card_mastercard").await;
    let customers = common::emulator_list(env.emulator.base_url(), "customers").await;
    assert_eq!(customers.len(), 2, "{customers:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn webhooks_are_verified_and_deduplicated() {
    let mut env = start(EnvOptions::default()).await;
    let card = env.customer_with_card("c-1", "pm_card_createDispute").await;
    let r = env
        .charge(json!({ "customer_id": "c-1", "amount": 7500, "currency": "USD", "card_id": card }))
        .await;
    assert_eq!(r.json["status"], "succeeded", "{}", r.json);
    let txn = r.json["id"].as_i64().unwrap();
    let payment = r.json["gateway_payment_ref"].as_str().unwrap().to_string();
    // The emulator opens a dispute and delivers signed events to /webhooks/stripe.
    let mut disputes = Vec::new();
    for _ in 0..100 {
        let r = env.get(&format!("/v1/disputes?transaction_id={txn}")).await;
        disputes = r.json["disputes"].as_array().unwrap().clone();
        if !disputes.is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(disputes.len(), 1, "the dispute webhook arrived");
    assert_eq!(disputes[0]["reason"], "fraudulent");
    assert_eq!(disputes[0]["transaction_id"], txn);

    // A self-signed event, delivered twice: applied once.
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    let body = json!({
        "id": "evt_test_dispute_closed", "object": "event", "type": "charge.dispute.closed", "created": now,
        "api_version": stripe_emulator::API_VERSION, "livemode": false,
        "data": { "object": {
            "id": disputes[0]["gateway_dispute_ref"], "object": "dispute", "amount": 7500, "currency": "usd",
            "payment_intent": payment, "charge": null, "reason": "fraudulent", "status": "lost",
        } },
    })
    .to_string();
    let header = stripe_emulator::signature_header(&env.webhook_secret, now, body.as_bytes());
    let post = |sig: Option<String>, body: String| {
        let api = env.anonymous.clone();
        async move {
            let headers: Vec<(&str, &str)> = match &sig {
                Some(s) => vec![("stripe-signature", s.as_str())],
                None => vec![],
            };
            api.send(
                "POST",
                "/webhooks/stripe",
                Some(body.into_bytes()),
                &headers,
            )
            .await
            .unwrap()
        }
    };
    // The answer is the plugin's, Stripe's acknowledgement, for the duplicate too.
    let r = post(Some(header.clone()), body.clone()).await;
    assert_eq!(
        (r.status, &r.json),
        (200, &json!({ "received": true })),
        "{}",
        r.json
    );
    let r = post(Some(header.clone()), body.clone()).await;
    assert_eq!(
        (r.status, &r.json),
        (200, &json!({ "received": true })),
        "{}",
        r.json
    );
    let r = env.get(&format!("/v1/disputes?transaction_id={txn}")).await;
    assert_eq!(r.json["disputes"].as_array().unwrap().len(), 1);
    assert_eq!(r.json["disputes"][0]["status"], "lost");

    // Refused: no signature, a wrong one, a tampered body. Nothing is applied.
    let r = post(None, body.clone()).await;
    expect_error_code(&r, 400, "missing_signature");
    let forged = stripe_emulator::signature_header("whsec_wrong", now, body.as_bytes());
    let r = post(
        Some(forged),
        body.replace("evt_test_dispute_closed", "evt_forged"),
    )
    .await;
    expect_error_code(&r, 400, "bad_signature");
    let r = post(Some(header), body.replace("\"lost\"", "\"won\"")).await;
    assert_eq!(r.status, 400, "tampered body: {}", r.json);
    let r = post(None, "{}".into()).await;
    assert_eq!(r.status, 400);
    let r = env
        .anonymous
        .send("POST", "/webhooks/nope", Some(b"{}".to_vec()), &[])
        .await
        .unwrap();
    expect_error(&r, 404, "gateway");
    let r = env.get(&format!("/v1/disputes?transaction_id={txn}")).await;
    assert_eq!(r.json["disputes"][0]["status"], "lost");
    env.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn idempotency_key_replays_the_first_response() {
    let mut env = start(EnvOptions::default()).await;
    env.customer_with_card("c-1", "pm_card_visa").await;
    let body = json!({ "customer_id": "c-1", "amount": 1234, "currency": "USD" }).to_string();
    let send = |key: &'static str, body: String| {
        let api = env.api.clone();
        async move {
            api.send(
                "POST",
                "/v1/transactions",
                Some(body.into_bytes()),
                &[("idempotency-key", key)],
            )
            .await
            .unwrap()
        }
    };
    let first = send("order-42", body.clone()).await;
    assert_eq!(first.status, 201, "{}", first.json);
    let again = send("order-42", body.clone()).await;
    assert_eq!(again.status, 201);
    assert_eq!(again.json["id"], first.json["id"]);
    assert_eq!(again.header("idempotent-replayed"), Some("true"));
    let other = send("order-42", body.replace("1234", "999")).await;
    expect_error(&other, 422, "Idempotency-Key");
    // Refused input is not saved: the corrected request may use the same key.
    let bad = send("order-44", body.replace("1234", "-1")).await;
    assert_eq!(bad.status, 400);
    let fixed = send("order-44", body.replace("1234", "1235")).await;
    assert_eq!(fixed.status, 201, "{}", fixed.json);
    let second = send("order-43", body.clone()).await;
    assert_ne!(second.json["id"], first.json["id"]);
    let pis = env.payment_intents().await;
    assert_eq!(pis.len(), 3, "one payment per distinct key");
    env.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unknown_outcome_is_reconciled_without_charging_twice() {
    // No retries inside the plugin: a dropped connection is reported as outcome-unknown. No
    // webhooks either, so that the reconciler is what settles it.
    let mut env = start(EnvOptions {
        settings: vec![("max-retries", "0")],
        no_webhooks: true,
        ..Default::default()
    })
    .await;
    env.customer_with_card("c-1", "pm_card_visa").await;
    env.emulator
        .faults()
        .drop_after_commit(1, Some("/v1/payment_intents".into()));
    let r = env
        .charge(json!({ "customer_id": "c-1", "amount": 2222, "currency": "USD" }))
        .await;
    assert_eq!(
        r.status / 100,
        5,
        "the client hears the outcome is unknown: {}",
        r.json
    );
    let txn = r.json["error"]["details"]["transaction"]["id"]
        .as_i64()
        .unwrap();
    let r = env.get(&format!("/v1/transactions/{txn}")).await;
    assert_eq!(r.json["status"], "unknown", "{}", r.json);
    assert_eq!(
        env.payment_intents().await.len(),
        1,
        "the charge went through"
    );

    let report = reconcile_once(&env.service, Duration::ZERO).await.unwrap();
    assert_eq!((report.examined, report.done), (1, 1), "{report:?}");
    let r = env.get(&format!("/v1/transactions/{txn}")).await;
    assert_eq!(r.json["status"], "succeeded", "{}", r.json);
    assert_eq!(r.json["amount_captured"], 2222);
    let pis = env.payment_intents().await;
    assert_eq!(
        pis.len(),
        1,
        "the repeat with the same key did not charge again"
    );
    assert_eq!(pis[0]["id"], r.json["gateway_payment_ref"]);
    // Nothing left to reconcile.
    assert_eq!(
        reconcile_once(&env.service, Duration::ZERO)
            .await
            .unwrap()
            .examined,
        0
    );
    env.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_retry_with_the_same_key_after_an_unknown_outcome_settles_the_first_charge() {
    // The transaction and its charge's intent are written in one commit: a retry of the request
    // (its unknown outcome is not saved for replay) finds them and repeats the same gateway call.
    let mut env = start(EnvOptions {
        settings: vec![("max-retries", "0")],
        no_webhooks: true,
        ..Default::default()
    })
    .await;
    env.customer_with_card("c-1", "pm_card_visa").await;
    env.emulator
        .faults()
        .drop_after_commit(1, Some("/v1/payment_intents".into()));
    let body = json!({ "customer_id": "c-1", "amount": 3333, "currency": "USD" }).to_string();
    let send = |body: String| {
        let api = env.api.clone();
        async move {
            api.send(
                "POST",
                "/v1/transactions",
                Some(body.into_bytes()),
                &[("idempotency-key", "order-7")],
            )
            .await
            .unwrap()
        }
    };
    let first = send(body.clone()).await;
    assert_eq!(first.status / 100, 5, "{}", first.json);
    let txn = first.json["error"]["details"]["transaction"]["id"]
        .as_i64()
        .unwrap();
    let again = send(body.clone()).await;
    assert_eq!(again.status, 201, "{}", again.json);
    assert_eq!(again.json["id"], txn, "the same transaction");
    assert_eq!(again.json["status"], "succeeded");
    assert_eq!(again.header("idempotent-replayed"), None);
    let pis = env.payment_intents().await;
    assert_eq!(pis.len(), 1, "charged once");
    assert_eq!(pis[0]["id"], again.json["gateway_payment_ref"]);
    assert_eq!(
        reconcile_once(&env.service, Duration::ZERO)
            .await
            .unwrap()
            .examined,
        0,
        "nothing left to reconcile"
    );
    env.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_webhook_settles_an_unknown_outcome_and_the_reconciler_agrees() {
    let mut env = start(EnvOptions {
        settings: vec![("max-retries", "0")],
        ..Default::default()
    })
    .await;
    env.customer_with_card("c-1", "pm_card_visa").await;
    env.emulator
        .faults()
        .drop_after_commit(1, Some("/v1/payment_intents".into()));
    let r = env
        .charge(json!({ "customer_id": "c-1", "amount": 3333, "currency": "USD" }))
        .await;
    assert_eq!(r.status / 100, 5, "{}", r.json);
    let txn = r.json["error"]["details"]["transaction"]["id"]
        .as_i64()
        .unwrap();
    // payment_intent.succeeded arrives (signed) and moves the transaction forward, although
    // the synchronous path never learnt the payment's reference.
    let mut status = String::new();
    for _ in 0..100 {
        let r = env.get(&format!("/v1/transactions/{txn}")).await;
        status = r.json["status"].as_str().unwrap().to_string();
        if status == "succeeded" {
            assert_eq!(r.json["amount_captured"], 3333);
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(status, "succeeded");
    // The reconciler repeats the call, gets the same payment, and changes nothing.
    let report = reconcile_once(&env.service, Duration::ZERO).await.unwrap();
    assert_eq!((report.examined, report.done), (1, 1), "{report:?}");
    let r = env.get(&format!("/v1/transactions/{txn}")).await;
    assert_eq!(
        (
            r.json["status"].as_str(),
            r.json["amount_captured"].as_i64()
        ),
        (Some("succeeded"), Some(3333))
    );
    assert_eq!(env.payment_intents().await.len(), 1);
    env.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn several_gateways_at_once_and_cards_remember_theirs() {
    let mut env = start(EnvOptions {
        with_offline: true,
        ..Default::default()
    })
    .await;
    let r = env.get("/v1/gateways").await;
    let names: Vec<&str> = r.json["gateways"]
        .as_array()
        .unwrap()
        .iter()
        .map(|g| g["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, vec!["offline", "stripe"]);
    let stripe_card = env.customer_with_card("c-1", "pm_card_visa").await;
    let r = env
        .post(
            "/v1/customers",
            json!({ "customer_id": "c-1", "gateway": "offline" }),
        )
        .await;
    assert!(
        r.json["gateway_customer_ref"]
            .as_str()
            .unwrap()
            .starts_with("off_cus_")
    );
    let card =
        json!({ "token": "pm_card_mastercard", "gateway": "offline", "nickname": "Offline MC" });
    let r = env.post("/v1/customers/c-1/cards", card).await;
    assert_eq!(
        (r.status, r.json["gateway"].as_str()),
        (201, Some("offline")),
        "{}",
        r.json
    );
    let offline_card = r.json["id"].as_i64().unwrap();
    let r = env
        .charge(json!({ "customer_id": "c-1", "amount": 1500, "currency": "EUR", "card_id": offline_card }))
        .await;
    expect_state(&r, 201, "succeeded");
    assert_eq!(r.json["gateway"], "offline");
    assert!(
        r.json["gateway_payment_ref"]
            .as_str()
            .unwrap()
            .starts_with("off_pay_")
    );
    let r = env
        .charge(json!({ "customer_id": "c-1", "amount": 1500, "currency": "EUR" }))
        .await;
    assert_eq!(
        r.json["gateway"], "stripe",
        "the default card is the Stripe one"
    );
    assert_eq!(r.json["card_id"], stripe_card);
    let r = env
        .post(
            "/v1/customers",
            json!({ "customer_id": "c-1", "gateway": "paypal" }),
        )
        .await;
    expect_error(&r, 400, "gateway");
    // Offline webhooks go to their own endpoint, verified by the offline plugin.
    let body = json!({ "id": "evt_off_1", "created": 0, "type": "something.else", "data": {} })
        .to_string();
    let header = omnicrm_pay::demo::offline_signature("whsec_offline", &body);
    let r = env
        .anonymous
        .send(
            "POST",
            "/webhooks/offline",
            Some(body.clone().into_bytes()),
            &[("offline-signature", &header)],
        )
        .await
        .unwrap();
    assert_eq!(
        (r.status, &r.json),
        (200, &json!({ "received": true })),
        "{}",
        r.json
    );
    let r = env
        .anonymous
        .send(
            "POST",
            "/webhooks/stripe",
            Some(body.into_bytes()),
            &[("offline-signature", &header)],
        )
        .await
        .unwrap();
    assert_eq!(
        r.status, 400,
        "a Stripe endpoint does not accept an offline signature"
    );
    env.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_declined_invoice_payment_leaves_it_open_and_another_card_pays_it() {
    let mut env = start(EnvOptions::default()).await;
    let bad = env
        .customer_with_card("c-1", "pm_card_chargeCustomerFail")
        .await;
    let r = env
        .charge(
            json!({ "customer_id": "c-1", "amount": 4200, "currency": "USD", "charge": "later" }),
        )
        .await;
    assert_eq!(r.status, 201);
    let r = env.create_invoice("c-1").await;
    let inv = r.json["id"].as_i64().unwrap();
    // Paying a draft finalizes it first; the card declines; the invoice stays open.
    let r = env
        .post(
            &format!("/v1/invoices/{inv}/pay"),
            json!({ "card_id": bad }),
        )
        .await;
    expect_error_code(&r, 402, "card_declined");
    let r = env.get(&format!("/v1/invoices/{inv}")).await;
    assert_eq!(
        (r.json["status"].as_str(), r.json["pay_attempts"].as_i64()),
        (Some("open"), Some(1))
    );
    // A good card, with a new key (a key reused after a decline would decline again).
    let good = env.add_card("c-1", "pm_card_visa").await;
    let r = env
        .post(
            &format!("/v1/invoices/{inv}/pay"),
            json!({ "card_id": good }),
        )
        .await;
    expect_state(&r, 200, "paid");
    assert_eq!(r.json["pay_attempts"], 2);
    let r = env.get(&format!("/v1/invoices/{inv}")).await;
    assert_eq!(r.json["lines"][0]["status"], "succeeded");
    // An invoice-paid transaction is not refunded on its own.
    let line = r.json["lines"][0]["id"].as_i64().unwrap();
    let r = env
        .post(&format!("/v1/transactions/{line}/refunds"), json!({}))
        .await;
    expect_error(&r, 409, "transaction_id");
    env.stop().await;
}
