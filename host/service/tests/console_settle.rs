//! Settling by hand in the console: a charge whose outcome the reconciler gave up learning (the
//! Stripe emulator answers 500 to every payment) is shown as needing an operator; only an
//! operator with the `admin` role gets the form, and settling it moves the ledger once.

use std::time::Duration;

use crate::common::browser::{ADMIN, Browser, ConsoleEnv, WRITER, post_form};
use crate::common::customer_with_card;
use omnicrm_pay::reconcile::reconcile_once;
use serde_json::json;
use stripe_emulator::FailSpec;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_admin_settles_a_flagged_charge_in_the_console() {
    let mut env = ConsoleEnv::start().await;
    let customer = "crm-2001";
    customer_with_card(
        &env.api,
        json!({"customer_id": customer, "name": "Grace Hopper"}),
        "tok_visa",
    )
    .await;

    // Stripe answers 500 to every payment: the charge's outcome stays unknown, and the
    // reconciler's one repeat (as configured) learns nothing either: it flags the charge.
    env.emulator.faults().fail_next(FailSpec {
        count: 1000,
        status: 500,
        path_prefix: Some("/v1/payment_intents".into()),
        ..FailSpec::default()
    });
    let r = env
        .api
        .post(
            "/v1/transactions",
            json!({"customer_id": customer, "amount": 2500, "currency": "USD", "description": "Fibre, January"}),
        )
        .await
        .unwrap();
    assert_eq!(r.status, 504, "{}", r.json);
    let id = r.json["error"]["details"]["transaction"]["id"]
        .as_i64()
        .unwrap();
    let report = reconcile_once(&env.service, Duration::ZERO).await.unwrap();
    assert_eq!(report.flagged, 1, "{report:?}");
    env.emulator.faults().clear();
    let page = env.url(&format!("/console/transactions/{id}"));

    // A `write` operator sees why it needs an operator, but no form, and a forged one is refused.
    let b = Browser::start().await;
    b.sign_in(&env.base, WRITER).await;
    b.goto(&page).await;
    assert!(b.text("#txn-attention").await.contains("Needs an operator"));
    assert!(b.has("#txn-attention").await && !b.has("#settle").await);
    let settle_url = format!("{page}/settle");
    let (status, body) = post_settlement(&b, &settle_url).await;
    assert_eq!(status, 403, "{body}");
    assert!(body.contains("admin role"), "{body}");
    b.close().await;

    // The admin settles it: the money was taken, at the payment the gateway shows.
    let b = Browser::start().await;
    b.sign_in(&env.base, ADMIN).await;
    assert!(b.text("#operator").await.contains("admin"));
    b.goto(&page).await;
    b.screenshot("settle-by-hand").await;
    b.select("#settle-outcome", "succeeded").await;
    b.fill("#settle-reason", "paid in the Stripe dashboard")
        .await;
    b.click("#settle-confirm").await;
    // Money taken needs the gateway's payment: refused, nothing changes.
    b.submit("#settle-submit").await;
    assert!(
        b.text("#notice").await.contains("gateway's payment"),
        "{}",
        b.text("#notice").await
    );
    assert_eq!(b.text("#txn-status").await, "unknown");
    b.select("#settle-outcome", "succeeded").await;
    b.fill("#settle-payment", "pi_found_in_dashboard").await;
    b.fill("#settle-reason", "paid in the Stripe dashboard")
        .await;
    b.click("#settle-confirm").await;
    b.submit("#settle-submit").await;
    assert!(b.text("#notice").await.contains("Settled by hand"));
    assert_eq!(b.text("#txn-status").await, "succeeded");
    assert_eq!(b.text("#txn-captured").await, "USD 25.00");
    assert_eq!(
        b.text("#txn-settled").await,
        "by lead: paid in the Stripe dashboard"
    );
    assert!(!b.has("#txn-attention").await && !b.has("#settle").await);
    b.screenshot("settled-by-hand").await;

    // The API agrees, and nothing is left for an operator.
    let r = env
        .api
        .get(&format!("/v1/transactions/{id}"))
        .await
        .unwrap();
    assert_eq!(
        (
            &r.json["status"],
            &r.json["amount_captured"],
            &r.json["gateway_payment_ref"],
            &r.json["settled_by"]
        ),
        (
            &json!("succeeded"),
            &json!(2500),
            &json!("pi_found_in_dashboard"),
            &json!("lead")
        )
    );
    let r = env
        .api
        .get("/v1/transactions?attention=true")
        .await
        .unwrap();
    assert_eq!(r.json["transactions"], json!([]), "{}", r.json);
    // Settled once: a second settlement is refused.
    let (status, _) = post_settlement(&b, &settle_url).await;
    assert_eq!(status, 303);
    b.goto(&page).await;
    assert!(b.text("#notice").await.contains("not flagged"));
    assert_eq!(b.text("#txn-status").await, "succeeded");
    b.close().await;
    env.stop().await;
}

/// Posts a settlement ("nothing was taken") to `url` with the browser's session and CSRF token,
/// as a script would, bypassing the page's form.
async fn post_settlement(b: &Browser, url: &str) -> (u16, String) {
    let (csrf, session) = (b.csrf().await, b.session_cookie().await);
    let form = [
        ("csrf", csrf.as_str()),
        ("outcome", "failed"),
        ("reason", "posted by a script"),
        ("confirm", "on"),
    ];
    post_form(url, &session, &form).await
}
