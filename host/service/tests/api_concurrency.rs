//! `Idempotency-Key` and concurrent requests over real HTTP, with the Stripe plugin and the
//! emulator (the gateway's calls counted in front of it): each request gets the answer for what
//! happened to it, a key stays bound to its request, and of requests racing on one
//! authorization or one invoice exactly one calls the gateway.

use std::time::Duration;

use crate::common::{Env, EnvOptions, expect_error, expect_error_code, expect_state, start};
use omnicrm_pay::client::ApiResponse;
use serde_json::{Value, json};
use tokio::task::JoinSet;

/// Sends `n` requests at once: `body(i)` to `path(i)`, with `key(i)` as Idempotency-Key when
/// given. The answers, in the order of `i`.
async fn at_once(
    env: &Env,
    n: usize,
    path: impl Fn(usize) -> String,
    body: impl Fn(usize) -> Value,
    key: impl Fn(usize) -> Option<String>,
) -> Vec<ApiResponse> {
    let mut tasks = JoinSet::new();
    for i in 0..n {
        let (api, path, body, key) = (env.api.clone(), path(i), body(i), key(i));
        tasks.spawn(async move {
            let headers: Vec<(&str, &str)> = match &key {
                Some(k) => vec![("idempotency-key", k.as_str())],
                None => vec![],
            };
            let r = api
                .send("POST", &path, Some(body.to_string().into_bytes()), &headers)
                .await
                .unwrap();
            (i, r)
        });
    }
    let mut out: Vec<(usize, ApiResponse)> = tasks.join_all().await;
    out.sort_by_key(|(i, _)| *i);
    out.into_iter().map(|(_, r)| r).collect()
}

/// An authorization of `amount` for customer `c-1`; its id and payment reference.
async fn authorize(env: &Env, amount: i64) -> (i64, String) {
    let r = env
        .charge(json!({ "customer_id": "c-1", "amount": amount, "currency": "USD", "capture": "manual" }))
        .await;
    expect_state(&r, 201, "authorized");
    (
        r.json["id"].as_i64().unwrap(),
        r.json["gateway_payment_ref"].as_str().unwrap().to_string(),
    )
}

/// The emulator's payment intent.
async fn payment_intent(env: &Env, id: &str) -> Value {
    env.payment_intents()
        .await
        .into_iter()
        .find(|p| p["id"] == id)
        .unwrap()
}

fn counted() -> EnvOptions {
    EnvOptions {
        count_gateway_calls: true,
        ..EnvOptions::default()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_key_is_bound_to_its_request_whatever_became_of_it() {
    let mut env = start(EnvOptions {
        settings: vec![("max-retries", "0")],
        no_webhooks: true,
        count_gateway_calls: true,
        ..Default::default()
    })
    .await;
    let visa = env.customer_with_card("c-1", "pm_card_visa").await;
    let charge = |amount: i64| json!({ "customer_id": "c-1", "amount": amount, "currency": "USD" });

    // A success is replayed; another request with its key is refused, naming the difference.
    let first = env
        .post_with_key("/v1/transactions", "k-ok", charge(5000))
        .await;
    assert_eq!(first.status, 201, "{}", first.json);
    let again = env
        .post_with_key("/v1/transactions", "k-ok", charge(5000))
        .await;
    assert_eq!((again.status, &again.json), (201, &first.json));
    assert_eq!(again.header("idempotent-replayed"), Some("true"));
    let other = env
        .post_with_key("/v1/transactions", "k-ok", charge(7000))
        .await;
    expect_error_code(&other, 422, "idempotency_key_reused");
    let message = other.json["error"]["message"].as_str().unwrap();
    assert!(message.contains("`amount` was 5000, now 7000"), "{message}");
    let elsewhere = env
        .post_with_key("/v1/transactions/1/refunds", "k-ok", json!({}))
        .await;
    expect_error(&elsewhere, 422, "Idempotency-Key");
    // The same JSON written otherwise is the same request.
    let reordered = env
        .api
        .send(
            "POST",
            "/v1/transactions",
            Some(br#"{"currency":"USD",  "amount":5000,"customer_id":"c-1"}"#.to_vec()),
            &[("idempotency-key", "k-ok")],
        )
        .await
        .unwrap();
    assert_eq!((reordered.status, &reordered.json), (201, &first.json));

    // Refused before anything was written (invalid, not found, a conflict): the key is free.
    let r = env
        .post_with_key("/v1/transactions", "k-fix", charge(0))
        .await;
    expect_error(&r, 400, "amount");
    let r = env
        .post_with_key(
            "/v1/transactions",
            "k-fix",
            json!({ "customer_id": "c-1", "amount": 10, "currency": "USD", "card_id": 999 }),
        )
        .await;
    expect_error(&r, 404, "card_id");
    let paid = first.json["id"].as_i64().unwrap();
    let r = env
        .post_with_key(
            &format!("/v1/transactions/{paid}/capture"),
            "k-fix",
            json!({}),
        )
        .await;
    expect_error(&r, 409, "transaction_id");
    let r = env
        .post_with_key("/v1/transactions", "k-fix", charge(6000))
        .await;
    assert_eq!(r.status, 201, "the corrected request runs: {}", r.json);
    assert_eq!(r.json["amount"], 6000);

    // No final answer (the connection dropped after Stripe charged): the key stays bound. Another
    // amount is refused rather than answered with the 5000 charge; the same request settles it.
    env.emulator
        .faults()
        .drop_after_commit(1, Some("/v1/payment_intents".into()));
    let r = env
        .post_with_key("/v1/transactions", "k-lost", charge(5000))
        .await;
    expect_error_code(&r, 504, "outcome_unknown");
    assert_eq!(r.json["error"]["field"], "gateway");
    let lost = r.json["error"]["details"]["transaction"]["id"]
        .as_i64()
        .unwrap();
    let r = env
        .post_with_key("/v1/transactions", "k-lost", charge(7000))
        .await;
    expect_error_code(&r, 422, "idempotency_key_reused");
    assert!(
        r.json["error"]["message"]
            .as_str()
            .unwrap()
            .contains("`amount` was 5000, now 7000"),
        "{}",
        r.json
    );
    let before = env.payment_intents().await.len();
    let r = env
        .post_with_key("/v1/transactions", "k-lost", charge(5000))
        .await;
    expect_state(&r, 201, "succeeded");
    assert_eq!(r.json["id"], lost, "the same transaction");
    assert_eq!(r.header("idempotent-replayed"), None);
    assert_eq!(env.payment_intents().await.len(), before, "charged once");
    let r = env
        .post_with_key("/v1/transactions", "k-lost", charge(5000))
        .await;
    assert_eq!(r.header("idempotent-replayed"), Some("true"));

    // A capture without a final answer: the key stays bound to it, and nobody else reports its
    // outcome as theirs.
    let (auth, pi) = authorize(&env, 1000).await;
    let capture = format!("/v1/transactions/{auth}/capture");
    env.emulator
        .faults()
        .drop_after_commit(1, Some(format!("/v1/payment_intents/{pi}/capture")));
    let r = env
        .post_with_key(&capture, "k-cap", json!({ "amount": 500 }))
        .await;
    expect_error_code(&r, 504, "outcome_unknown");
    let r = env
        .post_with_key(&capture, "k-cap", json!({ "amount": 700 }))
        .await;
    expect_error_code(&r, 422, "idempotency_key_reused");
    let r = env
        .post(&format!("/v1/transactions/{auth}/void"), json!({}))
        .await;
    expect_error(&r, 409, "transaction_id");
    let message = r.json["error"]["message"].as_str().unwrap();
    assert!(
        message.contains("capture of USD 5.00") && message.contains("unknown outcome"),
        "{message}"
    );
    let r = env.post(&capture, json!({ "amount": 500 })).await;
    expect_error(&r, 409, "transaction_id");
    let r = env
        .post_with_key(&capture, "k-cap", json!({ "amount": 500 }))
        .await;
    expect_state(&r, 200, "succeeded");
    assert_eq!(r.json["amount_captured"], 500);
    let calls = env.calls.as_ref().unwrap();
    assert_eq!(
        calls.count("POST", "/v1/payment_intents/", "/capture"),
        2,
        "the lost capture and its repeat with the same key"
    );
    assert_eq!(calls.count("POST", "/v1/payment_intents/", "/cancel"), 0);
    assert_eq!(payment_intent(&env, &pi).await["amount_received"], 500);

    // A decline is a final answer: replayed.
    let bad = env.add_card("c-1", "pm_card_chargeCustomerFail").await;
    env.charge(
        json!({ "customer_id": "c-1", "amount": 2000, "currency": "USD", "charge": "later" }),
    )
    .await;
    let inv = env.create_invoice("c-1").await.json["id"].as_i64().unwrap();
    let pay = format!("/v1/invoices/{inv}/pay");
    let r = env
        .post_with_key(&pay, "k-pay", json!({ "card_id": bad }))
        .await;
    expect_error_code(&r, 402, "card_declined");
    let replayed = env
        .post_with_key(&pay, "k-pay", json!({ "card_id": bad }))
        .await;
    assert_eq!((replayed.status, &replayed.json), (402, &r.json));
    assert_eq!(replayed.header("idempotent-replayed"), Some("true"));
    let r = env
        .post_with_key(&pay, "k-pay", json!({ "card_id": visa }))
        .await;
    expect_error_code(&r, 422, "idempotency_key_reused");
    let r = env
        .post_with_key(&pay, "k-pay-2", json!({ "card_id": visa }))
        .await;
    expect_state(&r, 200, "paid");
    assert_eq!(calls.count("POST", "/v1/invoices/", "/pay"), 2);
    env.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn captures_and_voids_racing_on_one_authorization_change_it_once() {
    let mut env = start(counted()).await;
    env.customer_with_card("c-1", "pm_card_visa").await;
    // Slow answers, so that the requests overlap.
    env.emulator
        .faults()
        .set_latency(Duration::from_millis(150));

    // Captures of 500 and 502 and voids, 30 at once.
    let (auth, pi) = authorize(&env, 1000).await;
    let answers = at_once(
        &env,
        30,
        |i| {
            if i % 3 == 2 {
                format!("/v1/transactions/{auth}/void")
            } else {
                format!("/v1/transactions/{auth}/capture")
            }
        },
        |i| match i % 3 {
            0 => json!({ "amount": 500 }),
            1 => json!({ "amount": 502 }),
            _ => json!({}),
        },
        |_| None,
    )
    .await;
    let won: Vec<usize> = (0..30).filter(|i| answers[*i].status == 200).collect();
    assert_eq!(
        won.len(),
        1,
        "{:?}",
        answers.iter().map(|a| a.status).collect::<Vec<_>>()
    );
    for (i, r) in answers.iter().enumerate() {
        if r.status != 200 {
            expect_error_code(r, 409, "conflict");
            let m = r.json["error"]["message"].as_str().unwrap();
            assert!(
                m.contains("in progress") || m.contains("was captured") || m.contains("was voided"),
                "{i}: {m}"
            );
        }
    }
    let winner = &answers[won[0]];
    let pi_now = payment_intent(&env, &pi).await;
    match won[0] % 3 {
        2 => {
            expect_state(winner, 200, "canceled");
            assert_eq!(pi_now["status"], "canceled");
        }
        k => {
            let amount = if k == 0 { 500 } else { 502 };
            assert_eq!(winner.json["amount_captured"], amount);
            assert_eq!(pi_now["amount_received"], amount);
        }
    }
    let calls = env.calls.as_ref().unwrap();
    let changes = |env: &Env| {
        let c = env.calls.as_ref().unwrap();
        c.count("POST", "/v1/payment_intents/", "/capture")
            + c.count("POST", "/v1/payment_intents/", "/cancel")
    };
    assert_eq!(changes(&env), 1, "one change reached the gateway");
    let _ = calls;

    // Thirty full captures: one captures, the others hear it is in progress or done, as a
    // sequential second capture does.
    let (auth, _) = authorize(&env, 2000).await;
    let answers = at_once(
        &env,
        30,
        |_| format!("/v1/transactions/{auth}/capture"),
        |_| json!({}),
        |_| None,
    )
    .await;
    assert_eq!(answers.iter().filter(|a| a.status == 200).count(), 1);
    assert_eq!(answers.iter().filter(|a| a.status == 409).count(), 29);
    assert_eq!(changes(&env), 2);
    let r = env
        .post(&format!("/v1/transactions/{auth}/capture"), json!({}))
        .await;
    expect_error(&r, 409, "transaction_id");
    assert!(
        r.json["error"]["message"]
            .as_str()
            .unwrap()
            .contains("it was captured (USD 20.00)"),
        "{}",
        r.json
    );

    // Thirty times the same request (one Idempotency-Key): one capture, the same answer to all.
    let (auth, _) = authorize(&env, 3000).await;
    let answers = at_once(
        &env,
        30,
        |_| format!("/v1/transactions/{auth}/capture"),
        |_| json!({ "amount": 1200 }),
        |_| Some("capture-once".to_string()),
    )
    .await;
    for r in &answers {
        assert_eq!((r.status, &r.json), (200, &answers[0].json), "{}", r.json);
    }
    assert_eq!(answers[0].json["amount_captured"], 1200);
    assert_eq!(changes(&env), 3);
    env.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn payments_racing_on_one_invoice_call_the_gateway_once() {
    let mut env = start(counted()).await;
    let card = env.customer_with_card("c-1", "pm_card_visa").await;
    for amount in [1500, 2500] {
        let r = env
            .charge(json!({ "customer_id": "c-1", "amount": amount, "currency": "USD", "charge": "later" }))
            .await;
        assert_eq!(r.status, 201);
    }
    let inv = env.create_invoice("c-1").await.json["id"].as_i64().unwrap();
    let r = env
        .post(&format!("/v1/invoices/{inv}/finalize"), json!({}))
        .await;
    expect_state(&r, 200, "open");
    env.emulator
        .faults()
        .set_latency(Duration::from_millis(150));
    let answers = at_once(
        &env,
        20,
        |_| format!("/v1/invoices/{inv}/pay"),
        |_| json!({ "card_id": card }),
        |_| None,
    )
    .await;
    let paid: Vec<&ApiResponse> = answers.iter().filter(|a| a.status == 200).collect();
    assert_eq!(
        paid.len(),
        1,
        "{:?}",
        answers.iter().map(|a| a.status).collect::<Vec<_>>()
    );
    expect_state(paid[0], 200, "paid");
    for r in answers.iter().filter(|a| a.status != 200) {
        expect_error(r, 409, "invoice_id");
        let m = r.json["error"]["message"].as_str().unwrap();
        assert!(
            m.contains("payment of invoice") || m.contains("is paid"),
            "{m}"
        );
    }
    let calls = env.calls.as_ref().unwrap();
    assert_eq!(
        calls.count("POST", "/v1/invoices/", "/pay"),
        1,
        "one payment call"
    );
    let r = env.get(&format!("/v1/invoices/{inv}")).await;
    assert_eq!(
        (
            r.json["amount_paid"].as_i64(),
            r.json["pay_attempts"].as_i64()
        ),
        (Some(4000), Some(1))
    );
    env.stop().await;
}
