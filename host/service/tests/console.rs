//! The operator console in a real browser: headless Chromium driven through chromedriver
//! against the service (the Stripe plugin loaded by the runtime, speaking HTTP to the emulator),
//! as an operator would use it. Screenshots of every page go to `target/console-screenshots/`.

use crate::common::browser::{
    Browser, ConsoleEnv, READ_ONLY_KEY, READER, WRITER, get_page, post_form,
};
use crate::common::customer_with_card;
use serde_json::{Value, json};

/// An operator signs in, adds a card through the gateway's card form, charges it, refunds part
/// of it, and reads on the dashboard the figures `GET /v1/summary` gives; every page is
/// photographed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_operator_adds_a_card_charges_refunds_and_reads_the_figures() {
    let mut env = ConsoleEnv::start().await;
    let customer = "cust-console-1";
    let r = env
        .api
        .post(
            "/v1/customers",
            json!({"customer_id": customer, "name": "Ada Lovelace", "email": "ada@example.com"}),
        )
        .await
        .unwrap();
    assert_eq!(r.status, 200, "{}", r.json);
    let b = Browser::start().await;

    // Without a session every page leads to the sign-in page.
    b.goto(&env.url("/console/customers")).await;
    assert!(
        b.url().await.ends_with("/console/sign-in"),
        "{}",
        b.url().await
    );
    b.screenshot("sign-in").await;
    // A wrong password is refused.
    b.fill("#name", WRITER.0).await;
    b.fill("#password", "not the password").await;
    b.submit("#sign-in").await;
    assert!(b.text("#notice").await.contains("not valid"));
    b.sign_in(&env.base, WRITER).await;
    assert!(b.text("#operator").await.contains("write"));

    // Customers: search, then the customer's page.
    b.goto(&env.url("/console/customers?q=lovelace")).await;
    assert!(b.text("#customers").await.contains(customer));
    b.screenshot("customers").await;
    b.submit(&format!("a[href='/console/customers/{customer}']"))
        .await;
    assert_eq!(b.text("#customer-id").await, customer);
    assert!(b.text("#cards").await.contains("No card stored"));

    // A card through the gateway's card form (the emulator's test card form, the stand-in for
    // Stripe Elements): the console starts a card session, the browser leaves for the form and
    // comes back with the SetupIntent, and the card is stored.
    b.submit("#add-card-submit").await;
    b.screenshot("card-form-link").await;
    b.submit("#card-form-link").await;
    b.fill("#card-number", "4000 0000 0000 0002").await;
    b.submit("#card-submit").await;
    assert!(
        b.text("#card-error").await.contains("declined"),
        "a declined card is refused on the form"
    );
    b.fill("#card-number", "4242 4242 4242 4242").await;
    b.screenshot("emulator-card-form").await;
    b.submit("#card-submit").await;
    let notice = b.text("#notice").await;
    assert!(
        notice.contains("4242") && notice.contains("stored"),
        "{notice}"
    );
    assert!(
        b.url()
            .await
            .ends_with(&format!("/console/customers/{customer}"))
    );
    let cards = b.text("#cards").await;
    assert!(
        cards.contains("visa") && cards.contains("4242") && cards.contains("default"),
        "{cards}"
    );
    let r = env
        .api
        .get(&format!("/v1/customers/{customer}/cards"))
        .await
        .unwrap();
    assert_eq!(r.json["cards"].as_array().unwrap().len(), 1, "{}", r.json);

    // Charge USD 49.99 from the customer's page (confirmed).
    b.fill("#charge-amount", "49.99").await;
    b.fill("#charge-currency", "USD").await;
    b.fill("#charge-description", "Fibre 1 Gbit/s, December")
        .await;
    b.click("#charge-confirm").await;
    b.submit("#charge-submit").await;
    assert_eq!(b.text("#txn-status").await, "succeeded");
    assert_eq!(b.text("#txn-amount").await, "USD 49.99");
    let txn_url = b.url().await;
    let txn_id: i64 = txn_url.rsplit('/').next().unwrap().parse().unwrap();
    let r = env
        .api
        .get(&format!("/v1/transactions/{txn_id}"))
        .await
        .unwrap();
    assert_eq!(
        (r.json["status"].as_str(), r.json["amount"].as_i64()),
        (Some("succeeded"), Some(4999))
    );

    // Refund USD 10.00 of it: the form wants a confirmation first.
    b.fill("#refund-amount", "10.00").await;
    b.screenshot("transaction").await;
    b.click("#refund-confirm").await;
    b.submit("#refund-submit").await;
    assert!(b.text("#notice").await.contains("USD 10.00"));
    assert_eq!(b.text("#txn-status").await, "partially_refunded");
    assert!(b.text("#refunds").await.contains("USD 10.00"));
    assert!(b.text("#operations").await.contains("refund"));
    let r = env
        .api
        .get(&format!("/v1/transactions/{txn_id}"))
        .await
        .unwrap();
    assert_eq!(r.json["amount_refunded"].as_i64(), Some(1000), "{}", r.json);

    // The transactions list, filtered by gateway and status.
    b.goto(&env.url("/console/transactions?gateway=stripe&status=partially_refunded"))
        .await;
    assert!(b.has(&format!("#txn-{txn_id}")).await);
    b.screenshot("transactions").await;
    b.goto(&env.url("/console/transactions?status=failed"))
        .await;
    assert!(!b.has(&format!("#txn-{txn_id}")).await);
    // Only the transactions an operator must settle: none here, the box stays ticked.
    b.goto(&env.url("/console/transactions")).await;
    b.click("#filter-attention").await;
    b.submit("#filter-submit").await;
    assert!(b.url().await.contains("attention=yes"), "{}", b.url().await);
    assert!(b.text("#transactions").await.contains("No transaction."));
    assert!(b.has("#filter-attention:checked").await);

    // The dashboard's figures are the API's summary over the same period.
    let summary = env
        .api
        .get("/v1/summary?currency=USD&from=2020-01-01&to=2100-01-01")
        .await
        .unwrap();
    assert_eq!(summary.status, 200, "{}", summary.json);
    b.goto(&env.url("/console?currency=USD&from=2020-01-01&to=2100-01-01"))
        .await;
    b.screenshot("dashboard").await;
    check_figures(&b, "combined", &summary.json["combined"]).await;
    for g in summary.json["gateways"].as_array().unwrap() {
        let name = g["gateway"].as_str().unwrap();
        check_figures(&b, name, &g["figures"]).await;
        if !g["gateway_figures"].is_null() {
            check_figures_as(&b, "own", name, &g["gateway_figures"]).await;
        }
    }
    assert_eq!(b.text("#fig-combined-revenue").await, "USD 49.99");
    assert_eq!(b.text("#fig-combined-refunds").await, "USD 10.00");
    assert!(b.has("svg.chart polyline").await, "the charts are drawn");

    // The other pages, with what this test did on them.
    b.goto(&env.url("/console/gateways")).await;
    assert!(b.text("#gateway-stripe").await.contains("ready"));
    let calls: u64 = b.text("#calls-stripe").await.parse().unwrap();
    assert!(
        calls >= 4,
        "link, card session, card, charge, refund: {calls}"
    );
    b.screenshot("gateways").await;
    b.goto(&env.url("/console/invoices")).await;
    b.screenshot("invoices").await;
    b.goto(&env.url("/console/disputes")).await;
    b.screenshot("disputes").await;

    // A billing run: charges left for later are charged by a run started from the console,
    // whose page follows it live (the emulator slowed down so that the page sees it running,
    // and the console's script brings the results without the test reloading anything).
    let mut later = Vec::new();
    for amount in [1500, 1600, 1700, 1800] {
        let r = env
            .api
            .post(
                "/v1/transactions",
                json!({"customer_id": customer, "amount": amount, "currency": "USD", "charge": "later"}),
            )
            .await
            .unwrap();
        assert_eq!(r.status, 201, "{}", r.json);
        later.push(r.json["id"].as_i64().unwrap());
    }
    env.emulator
        .faults()
        .set_latency(std::time::Duration::from_millis(400));
    b.goto(&env.url("/console/billing-runs")).await;
    b.fill("input[name=concurrency]", "1").await;
    b.click("#run-confirm").await;
    b.submit("#run-submit").await;
    assert_eq!(b.text("#run-state").await, "running");
    assert_eq!(b.text("#progress-total").await, "4");
    b.screenshot("billing-run-running").await;
    let mut state = String::new();
    for _ in 0..150 {
        state = b.try_text("#run-state").await.unwrap_or_default();
        // Done, and reloaded by the script to show the results.
        if state == "done" && b.try_text("#run-results").await.is_some() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert_eq!(
        state, "done",
        "the page followed the run to its end by itself"
    );
    env.emulator.faults().set_latency(std::time::Duration::ZERO);
    assert_eq!(b.text("#result-succeeded").await, "4");
    assert!(
        b.stays("#run-results", std::time::Duration::from_millis(2500))
            .await,
        "a finished run's page polls no more and stays put"
    );
    b.screenshot("billing-run").await;
    for id in later {
        let r = env
            .api
            .get(&format!("/v1/transactions/{id}"))
            .await
            .unwrap();
        assert_eq!(r.json["status"], "succeeded", "{}", r.json);
    }

    // Signing out ends the session.
    b.submit("#sign-out").await;
    b.goto(&env.url("/console")).await;
    assert!(b.url().await.ends_with("/console/sign-in"));
    b.close().await;
    env.stop().await;
}

/// Checks the dashboard's `fig-COLUMN-*` cells against a figures object of `/v1/summary`.
async fn check_figures(b: &Browser, column: &str, f: &Value) {
    check_figures_as(b, "fig", column, f).await;
}

async fn check_figures_as(b: &Browser, prefix: &str, column: &str, f: &Value) {
    for (cell, field) in [
        ("revenue", "revenue_display"),
        ("refunds", "refunds_display"),
        ("fees", "fees_display"),
        ("net", "net_display"),
        ("successful_payments", "successful_payments"),
        ("refund_count", "refund_count"),
        ("disputes", "disputes"),
        ("chargebacks", "chargebacks"),
    ] {
        let want = match &f[field] {
            Value::String(s) => s.clone(),
            v => v.to_string(),
        };
        let shown = b.text(&format!("#{prefix}-{column}-{cell}")).await;
        assert_eq!(
            shown.trim_end_matches(" ≠"),
            want,
            "{prefix} {column} {cell}"
        );
    }
}

/// A read-only operator sees no write form and is refused any write; a form posted without the
/// session's CSRF token is refused; a `<script>` in a description or a customer id renders as
/// text.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn read_only_csrf_and_escaping_hold() {
    let mut env = ConsoleEnv::start().await;
    let payload = "<script>window.__xss=1</script><img src=x onerror=\"window.__xss=2\">";
    let customer = "cust<script>window.__xss=3</script>";
    customer_with_card(
        &env.api,
        json!({"customer_id": customer, "name": payload}),
        "tok_visa",
    )
    .await;
    let r = env
        .api
        .post(
            "/v1/transactions",
            json!({"customer_id": customer, "amount": 2500, "currency": "USD", "description": payload}),
        )
        .await
        .unwrap();
    assert_eq!(r.status, 201, "{}", r.json);
    let txn_id = r.json["id"].as_i64().unwrap();
    assert_eq!(r.json["status"], "succeeded");

    // The read-only user: pages show, write forms do not.
    let b = Browser::start().await;
    b.sign_in(&env.base, READER).await;
    assert!(b.text("#operator").await.contains("read-only"));
    b.goto(&env.url(&format!("/console/transactions/{txn_id}")))
        .await;
    assert_eq!(b.text("#txn-status").await, "succeeded");
    assert!(
        !b.has("#refund").await && !b.has("#refund-submit").await,
        "no refund form"
    );
    // Everything the plugin or the CRM sent renders as text.
    assert_eq!(b.text("#txn-description").await, payload);
    b.screenshot("transaction-read-only-xss").await;
    b.goto(&env.url("/console/transactions")).await;
    assert!(b.text("#transactions").await.contains(payload));
    b.goto(&env.url("/console/customers")).await;
    assert!(b.text("#customers").await.contains(customer));
    assert!(!b.has("#link-customer").await, "no link form");
    b.submit("#customers a").await;
    assert_eq!(b.text("#customer-id").await, customer);
    assert!(!b.has("#charge").await && !b.has("#add-card").await);
    b.screenshot("customer-read-only-xss").await;
    let injected = b
        .client
        .execute(
            "return window.__xss === undefined ? 0 : window.__xss;",
            vec![],
        )
        .await
        .unwrap();
    assert_eq!(injected, json!(0), "no injected script ran");
    assert!(!b.has("td script, td img").await, "no injected element");

    // A write by the read-only user, with the session's own CSRF token, is refused.
    let session = b.session_cookie().await;
    let csrf = b.csrf().await;
    let (status, body) = post_form(
        &env.url(&format!("/console/transactions/{txn_id}/refund")),
        &session,
        &[("csrf", &csrf), ("amount", "5.00"), ("confirm", "on")],
    )
    .await;
    assert_eq!(status, 403, "{body}");
    assert!(body.contains("read-only"));
    b.close().await;

    // The writer: a form without the CSRF token, or with another, is refused; with it, it works.
    let b = Browser::start().await;
    b.sign_in(&env.base, WRITER).await;
    b.goto(&env.url(&format!("/console/transactions/{txn_id}")))
        .await;
    assert!(b.has("#refund-submit").await);
    let session = b.session_cookie().await;
    let url = env.url(&format!("/console/transactions/{txn_id}/refund"));
    let (status, body) = post_form(&url, &session, &[("amount", "5.00"), ("confirm", "on")]).await;
    assert_eq!(status, 403, "{body}");
    assert!(body.contains("security token"));
    let (status, _) = post_form(
        &url,
        &session,
        &[("csrf", "0000"), ("amount", "5.00"), ("confirm", "on")],
    )
    .await;
    assert_eq!(status, 403);
    let r = env
        .api
        .get(&format!("/v1/transactions/{txn_id}"))
        .await
        .unwrap();
    assert_eq!(
        r.json["amount_refunded"], 0,
        "nothing was refunded: {}",
        r.json
    );
    // Without a session at all, a form is refused too.
    let (status, _) = post_form(&url, "no-such-session", &[("amount", "5.00")]).await;
    assert_eq!(status, 403);

    // Every answer carries the policy: the console's own origin only, no inline script.
    let (status, headers, _) = get_page(
        &env.url(&format!("/console/transactions/{txn_id}")),
        &session,
    )
    .await;
    assert_eq!(status, 200);
    let csp = headers["content-security-policy"].to_str().unwrap();
    assert!(
        csp.contains("default-src 'self'") && csp.contains("script-src 'self';"),
        "{csp}"
    );
    assert!(!csp.contains("unsafe-inline"), "{csp}");
    assert_eq!(headers["x-frame-options"], "DENY");
    b.close().await;

    // Signing in with an API key of the read scope gives a read-only session.
    let b = Browser::start().await;
    b.goto(&env.url("/console/sign-in")).await;
    b.fill("#api-key", READ_ONLY_KEY).await;
    b.submit("#sign-in-key").await;
    assert!(b.text("#operator").await.contains("key:reports"));
    assert!(b.text("#operator").await.contains("read-only"));
    b.close().await;
    env.stop().await;
}
