//! Invoices, balance transactions (fees, net, filters), disputes and events, over HTTP.

mod common;

use common::{Api, s, start};
use serde_json::Value;

async fn draft(api: &Api, customer: &str) -> String {
    let inv = api
        .post(
            "/v1/invoices",
            &[
                ("customer", customer),
                ("currency", "usd"),
                ("description", "March"),
                ("metadata[crm_invoice]", "I-1"),
            ],
        )
        .await
        .ok();
    assert_eq!(inv["status"], "draft");
    assert_eq!(inv["number"], Value::Null);
    let id = s(&inv["id"]).to_string();
    api.post(
        "/v1/invoiceitems",
        &[
            ("customer", customer),
            ("invoice", &id),
            ("amount", "1500"),
            ("description", "Seat"),
            ("metadata[crm_txn]", "T-1"),
        ],
    )
    .await
    .ok();
    api.post(
        "/v1/invoiceitems",
        &[
            ("customer", customer),
            ("invoice", &id),
            ("unit_amount_decimal", "250"),
            ("quantity", "3"),
            ("description", "Extra"),
        ],
    )
    .await
    .ok();
    id
}

#[tokio::test]
async fn invoice_lifecycle_finalize_and_pay_with_default_card() {
    let (_emulator, api) = start().await;
    let customer = api.customer().await;
    let pm = api.attach(&customer, "pm_card_visa").await.ok();
    api.post(
        &format!("/v1/customers/{customer}"),
        &[("invoice_settings[default_payment_method]", s(&pm["id"]))],
    )
    .await
    .ok();
    let id = draft(&api, &customer).await;
    let inv = api.get(&format!("/v1/invoices/{id}")).await.ok();
    assert_eq!(inv["total"], 2250);
    assert_eq!(inv["amount_due"], 2250);
    assert_eq!(inv["lines"]["data"].as_array().unwrap().len(), 2);
    assert_eq!(inv["lines"]["data"][0]["metadata"]["crm_txn"], "T-1");
    assert_eq!(inv["collection_method"], "charge_automatically");

    let finalized = api.finalize(&id).await;
    assert_eq!(finalized["status"], "open");
    assert!(!s(&finalized["number"]).is_empty());
    let hosted = s(&finalized["hosted_invoice_url"]).to_string();
    assert!(hosted.starts_with("http"));
    assert!(s(&finalized["invoice_pdf"]).starts_with("http"));
    let page = api.get(hosted.trim_start_matches(&api.base)).await;
    assert_eq!(page.status, 200);
    assert!(s(&page.json).contains(s(&finalized["number"])));
    // Finalized invoices don't take new items and can't be finalized twice or deleted.
    let late = api
        .post(
            "/v1/invoiceitems",
            &[("customer", &customer), ("invoice", &id), ("amount", "1")],
        )
        .await;
    assert_eq!(late.status, 400);
    assert_eq!(
        api.post(&format!("/v1/invoices/{id}/finalize"), &[])
            .await
            .status,
        400
    );
    assert_eq!(api.delete(&format!("/v1/invoices/{id}")).await.status, 400);

    let paid = api.post(&format!("/v1/invoices/{id}/pay"), &[]).await.ok();
    assert_eq!(paid["status"], "paid");
    assert_eq!(paid["amount_paid"], 2250);
    assert_eq!(paid["amount_remaining"], 0);
    assert!(paid["status_transitions"]["paid_at"].is_i64());
    let payments = api
        .get_q("/v1/invoice_payments", &[("invoice", &id)])
        .await
        .ok();
    let payment = &payments["data"][0];
    assert_eq!(payment["status"], "paid");
    let pi = api
        .get(&format!(
            "/v1/payment_intents/{}",
            s(&payment["payment"]["payment_intent"])
        ))
        .await
        .ok();
    assert_eq!(pi["status"], "succeeded");
    assert_eq!(pi["amount"], 2250);
    assert_eq!(pi["payment_method"], pm["id"]);
    assert_eq!(
        api.post(&format!("/v1/invoices/{id}/pay"), &[])
            .await
            .status,
        400
    );
    assert_eq!(
        api.post(&format!("/v1/invoices/{id}/void"), &[])
            .await
            .status,
        400
    );
}

#[tokio::test]
async fn invoice_decline_keeps_it_open_then_another_card_pays() {
    let (_emulator, api) = start().await;
    let customer = api.customer().await;
    let bad = api
        .attach(&customer, "pm_card_chargeCustomerFail")
        .await
        .ok();
    api.post(
        &format!("/v1/customers/{customer}"),
        &[("invoice_settings[default_payment_method]", s(&bad["id"]))],
    )
    .await
    .ok();
    let id = draft(&api, &customer).await;
    api.finalize(&id).await;
    let declined = api.post(&format!("/v1/invoices/{id}/pay"), &[]).await;
    assert_eq!(declined.status, 402);
    assert_eq!(declined.error()["type"], "card_error");
    assert_eq!(declined.error()["decline_code"], "generic_decline");
    let inv = api.get(&format!("/v1/invoices/{id}")).await.ok();
    assert_eq!(inv["status"], "open");
    assert_eq!(inv["attempt_count"], 1);
    assert_eq!(inv["amount_remaining"], 2250);
    let paid = api
        .post(
            &format!("/v1/invoices/{id}/pay"),
            &[("payment_method", "pm_card_visa")],
        )
        .await
        .ok();
    assert_eq!(paid["status"], "paid");
    assert_eq!(paid["attempt_count"], 2);
    // Without any card there's nothing to charge.
    let bare = api.customer().await;
    let inv2 = draft(&api, &bare).await;
    assert_eq!(
        api.post(&format!("/v1/invoices/{inv2}/pay"), &[])
            .await
            .status,
        400
    );
}

#[tokio::test]
async fn invoice_void_uncollectible_delete_and_status_filter() {
    let (_emulator, api) = start().await;
    let customer = api.customer().await;
    let to_void = draft(&api, &customer).await;
    api.finalize(&to_void).await;
    let voided = api
        .post(&format!("/v1/invoices/{to_void}/void"), &[])
        .await
        .ok();
    assert_eq!(voided["status"], "void");
    assert_eq!(voided["amount_remaining"], 0);

    let bad_debt = draft(&api, &customer).await;
    api.finalize(&bad_debt).await;
    let marked = api
        .post(&format!("/v1/invoices/{bad_debt}/mark_uncollectible"), &[])
        .await
        .ok();
    assert_eq!(marked["status"], "uncollectible");
    // Uncollectible can still be paid.
    let paid = api
        .post(
            &format!("/v1/invoices/{bad_debt}/pay"),
            &[("payment_method", "pm_card_mastercard")],
        )
        .await
        .ok();
    assert_eq!(paid["status"], "paid");

    let to_delete = draft(&api, &customer).await;
    let deleted = api.delete(&format!("/v1/invoices/{to_delete}")).await.ok();
    assert_eq!(deleted["deleted"], true);
    assert_eq!(
        api.get(&format!("/v1/invoices/{to_delete}")).await.status,
        404
    );

    let open = draft(&api, &customer).await;
    api.finalize(&open).await;
    let _still_draft = draft(&api, &customer).await;
    let send = api
        .post(
            "/v1/invoices",
            &[
                ("customer", &customer),
                ("collection_method", "send_invoice"),
                ("days_until_due", "30"),
            ],
        )
        .await
        .ok();
    assert_eq!(send["collection_method"], "send_invoice");
    assert_eq!(
        api.post(
            "/v1/invoices",
            &[
                ("customer", &customer),
                ("collection_method", "send_invoice")
            ]
        )
        .await
        .status,
        400
    );

    let count = |status: &'static str| {
        let api = api.clone();
        let customer = customer.clone();
        async move {
            api.get_q(
                "/v1/invoices",
                &[("customer", &customer), ("status", status)],
            )
            .await
            .ok()["data"]
                .as_array()
                .unwrap()
                .len()
        }
    };
    assert_eq!(count("void").await, 1);
    assert_eq!(count("paid").await, 1);
    assert_eq!(count("open").await, 1);
    assert_eq!(count("draft").await, 2);
    assert_eq!(count("uncollectible").await, 0);
    assert_eq!(
        api.get_q("/v1/invoices", &[("status", "bogus")])
            .await
            .status,
        400
    );

    // Pending items are only pulled in when asked.
    api.post(
        "/v1/invoiceitems",
        &[
            ("customer", &customer),
            ("amount", "900"),
            ("currency", "usd"),
        ],
    )
    .await
    .ok();
    let without = api
        .post("/v1/invoices", &[("customer", &customer)])
        .await
        .ok();
    assert_eq!(without["total"], 0);
    let with = api
        .post(
            "/v1/invoices",
            &[
                ("customer", &customer),
                ("pending_invoice_items_behavior", "include"),
            ],
        )
        .await
        .ok();
    assert_eq!(with["total"], 900);
}

#[tokio::test]
async fn balance_transactions_fees_net_filters_and_pages() {
    let (emulator, api) = start().await;
    let clock = emulator.clock();
    let start_time = clock.now();
    let mut charges = Vec::new();
    for amount in [1000, 2000, 3333] {
        charges.push(api.paid_intent("pm_card_visa", amount, "usd").await);
    }
    clock.advance(std::time::Duration::from_secs(3600));
    let later = clock.now();
    let pi = s(&charges[2]["id"]).to_string();
    api.post("/v1/refunds", &[("payment_intent", &pi), ("amount", "333")])
        .await
        .ok();

    let all = api
        .get_q("/v1/balance_transactions", &[("limit", "100")])
        .await
        .ok();
    let data = all["data"].as_array().unwrap();
    assert_eq!(data.len(), 4);
    assert_eq!(data[0]["type"], "refund", "newest first");
    for txn in data {
        assert_eq!(
            txn["net"].as_i64().unwrap(),
            txn["amount"].as_i64().unwrap() - txn["fee"].as_i64().unwrap()
        );
        assert!(s(&txn["id"]).starts_with("txn_"));
    }
    let charge_txns = api
        .get_q("/v1/balance_transactions", &[("type", "charge")])
        .await
        .ok();
    let fees: Vec<i64> = charge_txns["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["fee"].as_i64().unwrap())
        .collect();
    // 2.9% + 30 cents, rounded: 3333 -> 96.657 -> 97 + 30.
    assert_eq!(fees, vec![127, 88, 59]);
    let detail = &charge_txns["data"][0]["fee_details"][0];
    assert_eq!(detail["type"], "stripe_fee");
    assert_eq!(detail["amount"], 127);
    assert_eq!(detail["currency"], "usd");
    assert_eq!(charge_txns["data"][0]["reporting_category"], "charge");
    assert!(s(&charge_txns["data"][0]["source"]).starts_with("ch_"));

    let recent = api
        .get_q(
            "/v1/balance_transactions",
            &[("created[gte]", &later.to_string())],
        )
        .await
        .ok();
    assert_eq!(recent["data"].as_array().unwrap().len(), 1);
    let old = api
        .get_q(
            "/v1/balance_transactions",
            &[
                ("created[gte]", &start_time.to_string()),
                ("created[lt]", &later.to_string()),
            ],
        )
        .await
        .ok();
    assert_eq!(old["data"].as_array().unwrap().len(), 3);

    let first = api
        .get_q("/v1/balance_transactions", &[("limit", "3")])
        .await
        .ok();
    assert_eq!(first["has_more"], true);
    let last_id = s(&first["data"][2]["id"]).to_string();
    let second = api
        .get_q(
            "/v1/balance_transactions",
            &[("limit", "3"), ("starting_after", &last_id)],
        )
        .await
        .ok();
    assert_eq!(second["has_more"], false);
    assert_eq!(second["data"].as_array().unwrap().len(), 1);

    // Charge funds become available two days later.
    assert_eq!(charge_txns["data"][0]["status"], "pending");
    clock.advance(std::time::Duration::from_secs(2 * 24 * 3600));
    let txn = api
        .get(&format!(
            "/v1/balance_transactions/{}",
            s(&charge_txns["data"][0]["id"])
        ))
        .await
        .ok();
    assert_eq!(txn["status"], "available");
    let balance = api.get("/v1/balance").await.ok();
    assert_eq!(balance["available"][0]["amount"], 6333 - 274 - 333);
}

#[tokio::test]
async fn disputes_move_money_and_close_as_lost() {
    let (_emulator, api) = start().await;
    for (card, reason) in [
        ("pm_card_createDispute", "fraudulent"),
        (
            "tok_createDisputeProductNotReceived",
            "product_not_received",
        ),
    ] {
        let pi = api.paid_intent(card, 8000, "usd").await;
        assert_eq!(pi["status"], "succeeded", "the charge itself succeeds");
        let charge_id = s(&pi["latest_charge"]).to_string();
        let listed = api
            .get_q("/v1/disputes", &[("charge", &charge_id)])
            .await
            .ok();
        let dispute = &listed["data"][0];
        assert!(s(&dispute["id"]).starts_with("du_"));
        assert_eq!(dispute["reason"], reason);
        assert_eq!(dispute["status"], "needs_response");
        assert_eq!(dispute["amount"], 8000);
        assert_eq!(dispute["payment_intent"], pi["id"]);
        let txn = &dispute["balance_transactions"][0];
        assert_eq!(txn["amount"], -8000);
        assert_eq!(txn["fee"], 1500);
        assert_eq!(txn["net"], -9500);
        assert_eq!(txn["reporting_category"], "dispute");
        assert_eq!(txn["type"], "adjustment");
        let charge = api.get(&format!("/v1/charges/{charge_id}")).await.ok();
        assert_eq!(charge["disputed"], true);
        // A charged-back payment can't be refunded.
        assert_eq!(
            api.post("/v1/refunds", &[("charge", &charge_id)])
                .await
                .status,
            400
        );
        let id = s(&dispute["id"]).to_string();
        let closed = api
            .post(&format!("/v1/disputes/{id}/close"), &[])
            .await
            .ok();
        assert_eq!(closed["status"], "lost");
        assert_eq!(
            api.get(&format!("/v1/disputes/{id}")).await.ok()["status"],
            "lost"
        );
        assert_eq!(
            api.post(&format!("/v1/disputes/{id}/close"), &[])
                .await
                .status,
            400
        );
    }
    // Net effect on the balance: two charges (8000 - 262 fee each), two withdrawals (-9500 each).
    let all = api
        .get_q("/v1/balance_transactions", &[("limit", "100")])
        .await
        .ok();
    let net: i64 = all["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["net"].as_i64().unwrap())
        .sum();
    assert_eq!(net, 2 * (8000 - 262) - 2 * 9500);
}

#[tokio::test]
async fn inquiry_moves_no_money_and_won_dispute_returns_it() {
    let (_emulator, api) = start().await;
    let pi = api
        .paid_intent("pm_card_createDisputeInquiry", 4000, "usd")
        .await;
    let listed = api
        .get_q("/v1/disputes", &[("payment_intent", s(&pi["id"]))])
        .await
        .ok();
    let inquiry = &listed["data"][0];
    assert_eq!(inquiry["status"], "warning_needs_response");
    assert_eq!(inquiry["balance_transactions"].as_array().unwrap().len(), 0);
    let txns = api
        .get_q("/v1/balance_transactions", &[("type", "adjustment")])
        .await
        .ok();
    assert_eq!(txns["data"].as_array().unwrap().len(), 0);
    // An inquiry's charge is still refundable.
    api.post(
        "/v1/refunds",
        &[("payment_intent", s(&pi["id"])), ("amount", "100")],
    )
    .await
    .ok();

    let disputed = api.paid_intent("pm_card_createDispute", 4000, "usd").await;
    let du = api
        .get_q("/v1/disputes", &[("payment_intent", s(&disputed["id"]))])
        .await
        .ok();
    let du_id = s(&du["data"][0]["id"]).to_string();
    let submitted = api
        .post(
            &format!("/v1/disputes/{du_id}"),
            &[
                ("evidence[uncategorized_text]", "signed receipt"),
                ("submit", "true"),
            ],
        )
        .await
        .ok();
    assert_eq!(submitted["status"], "under_review");
    let won = api
        .post(
            &format!("/_emulator/disputes/{du_id}/resolve"),
            &[("outcome", "won")],
        )
        .await
        .ok();
    assert_eq!(won["status"], "won");
    let txns = won["balance_transactions"].as_array().unwrap();
    assert_eq!(txns.len(), 2);
    assert_eq!(txns[1]["amount"], 4000);
    assert_eq!(txns[1]["reporting_category"], "dispute_reversal");
}

#[tokio::test]
async fn events_record_what_happened() {
    let (_emulator, api) = start().await;
    let pi = api.paid_intent("pm_card_visa", 1000, "usd").await;
    api.post("/v1/refunds", &[("payment_intent", s(&pi["id"]))])
        .await
        .ok();
    let customer = api.customer().await;
    let failed = api
        .charge(&customer, "pm_card_chargeDeclined", 100, "usd")
        .await;
    assert_eq!(failed.status, 402);

    // Disputes, invoices, 3-D Secure, cancels and detaches.
    let disputed = api.paid_intent("pm_card_createDispute", 1000, "usd").await;
    let du = api
        .get_q("/v1/disputes", &[("payment_intent", s(&disputed["id"]))])
        .await
        .ok();
    api.post(
        &format!("/v1/disputes/{}/close", s(&du["data"][0]["id"])),
        &[],
    )
    .await
    .ok();
    let pm = api
        .attach(&customer, "pm_card_authenticationRequired")
        .await
        .ok();
    let pending = api
        .post(
            "/v1/payment_intents",
            &[
                ("amount", "100"),
                ("currency", "usd"),
                ("customer", &customer),
                ("payment_method", s(&pm["id"])),
                ("confirm", "true"),
            ],
        )
        .await
        .ok();
    api.post(
        &format!("/v1/payment_intents/{}/cancel", s(&pending["id"])),
        &[],
    )
    .await
    .ok();
    api.post(&format!("/v1/payment_methods/{}/detach", s(&pm["id"])), &[])
        .await
        .ok();
    let failing = api
        .attach(&customer, "pm_card_chargeCustomerFail")
        .await
        .ok();
    let inv_id = api.open_invoice(&customer, "100").await;
    api.post(
        &format!("/v1/invoices/{inv_id}/pay"),
        &[("payment_method", s(&failing["id"]))],
    )
    .await;
    api.post(
        &format!("/v1/invoices/{inv_id}/pay"),
        &[("payment_method", "pm_card_visa")],
    )
    .await
    .ok();
    let voided = api.open_invoice(&customer, "100").await;
    api.post(&format!("/v1/invoices/{voided}/void"), &[])
        .await
        .ok();

    let types = |v: &Value| -> Vec<String> {
        v["data"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| s(&e["type"]).to_string())
            .collect()
    };
    let all = api.get_q("/v1/events", &[("limit", "100")]).await.ok();
    assert_eq!(all["has_more"], false);
    let all_types = types(&all);
    for expected in [
        "customer.created",
        "payment_method.attached",
        "payment_intent.succeeded",
        "charge.succeeded",
        "charge.refunded",
        "payment_intent.payment_failed",
        "charge.failed",
        "charge.dispute.created",
        "charge.dispute.closed",
        "payment_intent.requires_action",
        "payment_intent.canceled",
        "payment_method.detached",
        "invoice.finalized",
        "invoice.payment_failed",
        "invoice.paid",
        "invoice.voided",
    ] {
        assert!(
            all_types.iter().any(|t| t == expected),
            "missing {expected} in {all_types:?}"
        );
    }
    let succeeded = api
        .get_q("/v1/events", &[("type", "payment_intent.succeeded")])
        .await
        .ok();
    assert!(
        types(&succeeded)
            .iter()
            .all(|t| t == "payment_intent.succeeded")
    );
    let event = succeeded["data"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["data"]["object"]["id"] == pi["id"])
        .expect("the first intent's event");
    assert!(s(&event["id"]).starts_with("evt_"));
    assert_eq!(event["object"], "event");
    assert_eq!(event["data"]["object"]["id"], pi["id"]);
    assert!(s(&event["request"]["id"]).starts_with("req_"));
    let fetched = api
        .get(&format!("/v1/events/{}", s(&event["id"])))
        .await
        .ok();
    assert_eq!(&fetched, event);
    let both = api
        .get_q(
            "/v1/events",
            &[("types[]", "invoice.paid"), ("types[]", "invoice.voided")],
        )
        .await
        .ok();
    assert_eq!(types(&both), vec!["invoice.voided", "invoice.paid"]);
    let charges = api.get_q("/v1/events", &[("type", "charge.*")]).await.ok();
    assert!(types(&charges).iter().all(|t| t.starts_with("charge.")));
    assert_eq!(api.get("/v1/events/evt_missing").await.status, 404);
}
