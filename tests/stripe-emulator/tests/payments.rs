//! Customers, payment methods, setup and payment intents, refunds and every test card, over HTTP.

mod common;

use common::{s, start};
use serde_json::Value;

#[tokio::test]
async fn customers_crud_and_search_by_crm_id() {
    let (_emulator, api) = start().await;
    let created = api
        .post(
            "/v1/customers",
            &[
                ("email", "a@example.com"),
                ("name", "Ann"),
                ("metadata[crm_customer_id]", "CRM-42"),
            ],
        )
        .await
        .ok();
    let id = s(&created["id"]).to_string();
    assert!(id.starts_with("cus_"));
    assert_eq!(created["object"], "customer");
    assert_eq!(created["metadata"]["crm_customer_id"], "CRM-42");
    api.post("/v1/customers", &[("metadata[crm_customer_id]", "CRM-43")])
        .await
        .ok();

    let found = api
        .get_q(
            "/v1/customers/search",
            &[("query", "metadata['crm_customer_id']:'CRM-42'")],
        )
        .await
        .ok();
    assert_eq!(found["object"], "search_result");
    assert_eq!(found["data"].as_array().unwrap().len(), 1);
    assert_eq!(found["data"][0]["id"], id.as_str());
    let none = api
        .get_q(
            "/v1/customers/search",
            &[("query", "metadata['crm_customer_id']:'nobody'")],
        )
        .await
        .ok();
    assert_eq!(none["data"].as_array().unwrap().len(), 0);
    let bad = api
        .get_q("/v1/customers/search", &[("query", "gibberish")])
        .await;
    assert_eq!(bad.status, 400);

    // Update: metadata key removal with an empty value, default payment method.
    let pm = api.attach(&id, "pm_card_visa").await.ok();
    let updated = api
        .post(
            &format!("/v1/customers/{id}"),
            &[
                ("metadata[extra]", "1"),
                ("name", "Ann B"),
                ("invoice_settings[default_payment_method]", s(&pm["id"])),
            ],
        )
        .await
        .ok();
    assert_eq!(updated["name"], "Ann B");
    assert_eq!(
        updated["invoice_settings"]["default_payment_method"],
        pm["id"]
    );
    let updated = api
        .post(&format!("/v1/customers/{id}"), &[("metadata[extra]", "")])
        .await
        .ok();
    assert!(updated["metadata"].get("extra").is_none());
    assert_eq!(updated["metadata"]["crm_customer_id"], "CRM-42");
    // A payment method of somebody else can't be the default.
    let other = api.customer().await;
    let foreign = api.attach(&other, "pm_card_visa").await.ok();
    let refused = api
        .post(
            &format!("/v1/customers/{id}"),
            &[(
                "invoice_settings[default_payment_method]",
                s(&foreign["id"]),
            )],
        )
        .await;
    assert_eq!(refused.status, 400);

    let deleted = api.delete(&format!("/v1/customers/{id}")).await.ok();
    assert_eq!(deleted["deleted"], true);
    assert_eq!(
        api.get(&format!("/v1/customers/{id}")).await.ok()["deleted"],
        true
    );
    let missing = api.get("/v1/customers/cus_nope").await;
    assert_eq!(missing.status, 404);
    assert_eq!(missing.error()["code"], "resource_missing");
    assert_eq!(missing.error()["message"], "No such customer: 'cus_nope'");
}

#[tokio::test]
async fn lists_paginate_both_ways_newest_first() {
    let (emulator, api) = start().await;
    let clock = emulator.clock();
    let mut ids = Vec::new();
    for i in 0..25 {
        // Many objects share a second: ties must still order deterministically.
        if i == 12 {
            clock.advance(std::time::Duration::from_secs(100));
        }
        ids.push(
            api.post("/v1/customers", &[("email", &format!("c{i}@example.com"))])
                .await
                .id(),
        );
    }
    ids.reverse(); // newest first
    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    let mut pages = 0;
    loop {
        let mut q = vec![("limit", "10".to_string())];
        if let Some(c) = &cursor {
            q.push(("starting_after", c.clone()));
        }
        let q: Vec<(&str, &str)> = q.iter().map(|(k, v)| (*k, v.as_str())).collect();
        let page = api.get_q("/v1/customers", &q).await.ok();
        assert_eq!(page["object"], "list");
        assert_eq!(page["url"], "/v1/customers");
        let data = page["data"].as_array().unwrap();
        seen.extend(data.iter().map(|c| s(&c["id"]).to_string()));
        pages += 1;
        if !page["has_more"].as_bool().unwrap() {
            break;
        }
        cursor = Some(s(&data.last().unwrap()["id"]).to_string());
    }
    assert_eq!(pages, 3);
    assert_eq!(seen, ids);
    // Default limit 10; ending_before walks back towards newer objects.
    let default = api.get("/v1/customers").await.ok();
    assert_eq!(default["data"].as_array().unwrap().len(), 10);
    let back = api
        .get_q(
            "/v1/customers",
            &[("ending_before", &ids[15]), ("limit", "5")],
        )
        .await
        .ok();
    let back_ids: Vec<&str> = back["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| s(&c["id"]))
        .collect();
    assert_eq!(
        back_ids,
        ids[10..15].iter().map(String::as_str).collect::<Vec<_>>()
    );
    assert_eq!(back["has_more"], true);
    // created filters.
    let first_created = api.get(&format!("/v1/customers/{}", ids[24])).await.ok()["created"]
        .as_i64()
        .unwrap();
    let later = api
        .get_q(
            "/v1/customers",
            &[
                ("created[gt]", &(first_created + 50).to_string()),
                ("limit", "100"),
            ],
        )
        .await
        .ok();
    assert_eq!(later["data"].as_array().unwrap().len(), 13);
    let earlier = api
        .get_q(
            "/v1/customers",
            &[
                ("created[lte]", &first_created.to_string()),
                ("limit", "100"),
            ],
        )
        .await
        .ok();
    assert_eq!(earlier["data"].as_array().unwrap().len(), 12);
    // Limits are checked.
    assert_eq!(
        api.get_q("/v1/customers", &[("limit", "101")]).await.status,
        400
    );
    assert_eq!(
        api.get_q("/v1/customers", &[("limit", "0")]).await.status,
        400
    );
    assert_eq!(
        api.get_q("/v1/customers", &[("starting_after", "cus_missing")])
            .await
            .status,
        400
    );
}

#[tokio::test]
async fn payment_methods_attach_list_detach_for_good() {
    let (_emulator, api) = start().await;
    let customer = api.customer().await;
    let visa = api.attach(&customer, "pm_card_visa").await.ok();
    assert!(s(&visa["id"]).starts_with("pm_"));
    assert_eq!(visa["customer"], customer.as_str());
    assert_eq!(visa["card"]["brand"], "visa");
    assert_eq!(visa["card"]["last4"], "4242");
    assert_eq!(visa["card"]["funding"], "credit");
    assert_eq!(visa["card"]["country"], "US");
    assert!(visa["card"]["exp_year"].as_i64().unwrap() > 2024);
    // A token makes a payment method with the same card: same fingerprint.
    let from_token = api
        .post(
            "/v1/payment_methods",
            &[("type", "card"), ("card[token]", "tok_visa")],
        )
        .await
        .ok();
    assert_eq!(
        from_token["card"]["fingerprint"],
        visa["card"]["fingerprint"]
    );
    assert_eq!(from_token["customer"], Value::Null);
    let attached = api.attach(&customer, s(&from_token["id"])).await.ok();
    assert_eq!(attached["id"], from_token["id"]);
    api.attach(&customer, "tok_mastercard").await.ok();

    let listed = api
        .get(&format!("/v1/customers/{customer}/payment_methods"))
        .await
        .ok();
    assert_eq!(listed["data"].as_array().unwrap().len(), 3);
    let listed2 = api
        .get_q(
            "/v1/payment_methods",
            &[("customer", &customer), ("type", "card")],
        )
        .await
        .ok();
    assert_eq!(listed2["data"], listed["data"]);
    assert_eq!(listed["data"][0]["card"]["brand"], "mastercard");

    let pm = s(&visa["id"]).to_string();
    api.post(
        &format!("/v1/customers/{customer}"),
        &[("invoice_settings[default_payment_method]", &pm)],
    )
    .await
    .ok();
    let detached = api
        .post(&format!("/v1/payment_methods/{pm}/detach"), &[])
        .await
        .ok();
    assert_eq!(detached["customer"], Value::Null);
    let c = api.get(&format!("/v1/customers/{customer}")).await.ok();
    assert_eq!(c["invoice_settings"]["default_payment_method"], Value::Null);
    // Detach is permanent.
    let again = api.attach(&customer, &pm).await;
    assert_eq!(again.status, 400);
    assert_eq!(again.error()["type"], "invalid_request_error");
    let charge = api.charge(&customer, &pm, 500, "usd").await;
    assert_eq!(charge.status, 400);
    let twice = api
        .post(&format!("/v1/payment_methods/{pm}/detach"), &[])
        .await;
    assert_eq!(twice.status, 400);
    assert_eq!(
        api.get(&format!("/v1/customers/{customer}/payment_methods"))
            .await
            .ok()["data"]
            .as_array()
            .unwrap()
            .len(),
        2
    );
    // Another customer can't take an attached card.
    let other = api.customer().await;
    let stolen = api.attach(&other, s(&from_token["id"])).await;
    assert_eq!(stolen.status, 400);
    assert_eq!(api.get("/v1/payment_methods/pm_missing").await.status, 404);
}

/// (test value, code, decline_code) of the cards that decline.
const DECLINES: &[(&str, &str, &str)] = &[
    ("chargeDeclined", "card_declined", "generic_decline"),
    (
        "chargeDeclinedInsufficientFunds",
        "card_declined",
        "insufficient_funds",
    ),
    ("chargeDeclinedLostCard", "card_declined", "lost_card"),
    ("chargeDeclinedStolenCard", "card_declined", "stolen_card"),
    ("chargeDeclinedExpiredCard", "expired_card", "expired_card"),
    (
        "chargeDeclinedIncorrectCvc",
        "incorrect_cvc",
        "incorrect_cvc",
    ),
    (
        "chargeDeclinedProcessingError",
        "processing_error",
        "processing_error",
    ),
    ("chargeDeclinedFraudulent", "card_declined", "fraudulent"),
];

#[track_caller]
fn assert_card_error(resp: &common::Resp, code: &str, decline_code: &str) -> String {
    assert_eq!(resp.status, 402, "{}", resp.json);
    let e = resp.error();
    assert_eq!(e["type"], "card_error");
    assert_eq!(e["code"], code);
    assert_eq!(e["decline_code"], decline_code);
    assert!(!s(&e["message"]).is_empty());
    assert!(s(&e["charge"]).starts_with("ch_"));
    let pi = &e["payment_intent"];
    assert_eq!(pi["status"], "requires_payment_method");
    assert_eq!(pi["last_payment_error"]["code"], code);
    assert_eq!(pi["last_payment_error"]["decline_code"], decline_code);
    s(&pi["id"]).to_string()
}

#[tokio::test]
async fn declining_cards_fail_attach_and_charge_with_their_codes() {
    let (_emulator, api) = start().await;
    let customer = api.customer().await;
    for prefix in ["pm_card_", "tok_"] {
        for (name, code, decline_code) in DECLINES {
            let token = format!("{prefix}{name}");
            // Stripe verifies a card when attaching it: these fail there already.
            let attach = api.attach(&customer, &token).await;
            assert_eq!(attach.status, 402, "{token}: {}", attach.json);
            assert_eq!(attach.error()["code"], *code, "{token}");
            assert_eq!(attach.error()["decline_code"], *decline_code, "{token}");
            // Charged directly, the intent fails and stays retryable.
            let resp = api.charge(&customer, &token, 1000, "usd").await;
            let pi = assert_card_error(&resp, code, decline_code);
            let stored = api.get(&format!("/v1/payment_intents/{pi}")).await.ok();
            assert_eq!(stored["status"], "requires_payment_method");
            assert_eq!(stored["last_payment_error"]["decline_code"], *decline_code);
            let charge = api
                .get(&format!("/v1/charges/{}", s(&stored["latest_charge"])))
                .await
                .ok();
            assert_eq!(charge["status"], "failed");
            assert_eq!(charge["failure_code"], *code);
            assert_eq!(charge["balance_transaction"], Value::Null);
        }
    }
    // chargeCustomerFail: attaching works, every charge declines.
    for token in ["pm_card_chargeCustomerFail", "tok_chargeCustomerFail"] {
        let pm = api.attach(&customer, token).await.ok();
        assert_eq!(pm["card"]["last4"], "0341");
        let resp = api.charge(&customer, s(&pm["id"]), 1000, "usd").await;
        assert_card_error(&resp, "card_declined", "generic_decline");
        // A retry after a decline can succeed with another card on the same intent.
        let pi = s(&resp.error()["payment_intent"]["id"]).to_string();
        let good = api.attach(&customer, "pm_card_visa").await.ok();
        let retried = api
            .post(
                &format!("/v1/payment_intents/{pi}/confirm"),
                &[("payment_method", s(&good["id"])), ("off_session", "true")],
            )
            .await
            .ok();
        assert_eq!(retried["status"], "succeeded");
    }
}

#[tokio::test]
async fn succeeding_cards_charge_with_their_details() {
    let (_emulator, api) = start().await;
    let cards = [
        ("visa", "visa", "4242", "credit"),
        ("visa_debit", "visa", "5556", "debit"),
        ("mastercard", "mastercard", "4444", "credit"),
        ("amex", "amex", "0005", "credit"),
        ("discover", "discover", "1117", "credit"),
        ("bypassPending", "visa", "0077", "credit"),
    ];
    for prefix in ["pm_card_", "tok_"] {
        for (name, brand, last4, funding) in cards {
            let token = format!("{prefix}{name}");
            let pi = api.paid_intent(&token, 1234, "usd").await;
            assert_eq!(pi["status"], "succeeded", "{token}");
            assert_eq!(pi["amount_received"], 1234);
            let charge = api
                .get(&format!("/v1/charges/{}", s(&pi["latest_charge"])))
                .await
                .ok();
            assert_eq!(
                charge["payment_method_details"]["card"]["brand"], brand,
                "{token}"
            );
            assert_eq!(
                charge["payment_method_details"]["card"]["last4"], last4,
                "{token}"
            );
            assert_eq!(
                charge["payment_method_details"]["card"]["funding"], funding,
                "{token}"
            );
            assert_eq!(charge["paid"], true);
            assert_eq!(charge["captured"], true);
            let txn = api
                .get(&format!(
                    "/v1/balance_transactions/{}",
                    s(&charge["balance_transaction"])
                ))
                .await
                .ok();
            // bypassPending makes the funds available at once; others wait two days.
            let expected = if name == "bypassPending" {
                "available"
            } else {
                "pending"
            };
            assert_eq!(txn["status"], expected, "{token}");
        }
    }
}

#[tokio::test]
async fn authentication_required_card() {
    let (_emulator, api) = start().await;
    let customer = api.customer().await;
    let pm = api
        .attach(&customer, "pm_card_authenticationRequired")
        .await
        .ok();
    let pm = s(&pm["id"]).to_string();
    // Off-session: 402 authentication_required, intent back to requires_payment_method.
    let off = api.charge(&customer, &pm, 2000, "usd").await;
    assert_card_error(&off, "authentication_required", "authentication_required");
    // On-session: requires_action with a next action, then the customer authenticates.
    let on = api
        .post(
            "/v1/payment_intents",
            &[
                ("amount", "2000"),
                ("currency", "usd"),
                ("customer", &customer),
                ("payment_method", &pm),
                ("confirm", "true"),
            ],
        )
        .await
        .ok();
    assert_eq!(on["status"], "requires_action");
    assert_eq!(on["next_action"]["type"], "use_stripe_sdk");
    let with_return = api
        .post(
            "/v1/payment_intents",
            &[
                ("amount", "2000"),
                ("currency", "usd"),
                ("customer", &customer),
                ("payment_method", &pm),
                ("confirm", "true"),
                ("return_url", "https://crm.example/back"),
            ],
        )
        .await
        .ok();
    assert_eq!(with_return["next_action"]["type"], "redirect_to_url");
    let url = s(&with_return["next_action"]["redirect_to_url"]["url"]).to_string();
    assert!(url.starts_with(&api.base), "{url}");
    // Visiting the URL (the customer's browser) completes 3-D Secure.
    let path = url.trim_start_matches(&api.base).to_string();
    let done = api.get(&path).await.ok();
    assert_eq!(done["status"], "succeeded");
    // A failed authentication leaves the intent for another payment method.
    let failed = api
        .post(
            &format!("/_emulator/authenticate/{}", s(&on["id"])),
            &[("outcome", "fail")],
        )
        .await
        .ok();
    assert_eq!(failed["status"], "requires_payment_method");
    assert_eq!(
        failed["last_payment_error"]["code"],
        "payment_intent_authentication_failure"
    );
    // Authenticating once doesn't help the next off-session charge with this card.
    let again = api.charge(&customer, &pm, 2000, "usd").await;
    assert_eq!(again.status, 402);
    // Setting it up requires authentication too.
    let seti = api
        .post(
            "/v1/setup_intents",
            &[
                ("customer", &customer),
                ("payment_method", &pm),
                ("confirm", "true"),
                ("usage", "off_session"),
            ],
        )
        .await
        .ok();
    assert_eq!(seti["status"], "requires_action");
}

#[tokio::test]
async fn authentication_required_on_setup_card_works_off_session_once_set_up() {
    let (_emulator, api) = start().await;
    let customer = api.customer().await;
    let pm = s(&api
        .attach(&customer, "pm_card_authenticationRequiredOnSetup")
        .await
        .ok()["id"])
    .to_string();
    let before = api.charge(&customer, &pm, 1500, "usd").await;
    assert_card_error(
        &before,
        "authentication_required",
        "authentication_required",
    );
    let seti = api
        .post(
            "/v1/setup_intents",
            &[
                ("customer", &customer),
                ("payment_method", &pm),
                ("confirm", "true"),
                ("usage", "off_session"),
            ],
        )
        .await
        .ok();
    assert!(s(&seti["id"]).starts_with("seti_"));
    assert_eq!(seti["status"], "requires_action");
    let done = api
        .post(&format!("/_emulator/authenticate/{}", s(&seti["id"])), &[])
        .await
        .ok();
    assert_eq!(done["status"], "succeeded");
    assert_eq!(
        api.get(&format!("/v1/setup_intents/{}", s(&seti["id"])))
            .await
            .ok()["status"],
        "succeeded"
    );
    let after = api.charge(&customer, &pm, 1500, "usd").await.ok();
    assert_eq!(after["status"], "succeeded");
}

#[tokio::test]
async fn setup_for_off_session_card() {
    let (_emulator, api) = start().await;
    let customer = api.customer().await;
    let pm_value = "pm_card_authenticationRequiredSetupForOffSession";
    // Saved with a SetupIntent (which authenticates on-session), off-session charges succeed.
    let seti = api.confirm_setup(&customer, pm_value).await.ok();
    assert_eq!(seti["status"], "requires_action");
    let done = api
        .get(&format!("/_emulator/authenticate/{}", s(&seti["id"])))
        .await
        .ok();
    assert_eq!(done["status"], "succeeded");
    let pm = s(&done["payment_method"]).to_string();
    assert_eq!(
        api.get(&format!("/v1/payment_methods/{pm}")).await.ok()["customer"],
        customer.as_str()
    );
    let off = api.charge(&customer, &pm, 700, "eur").await.ok();
    assert_eq!(off["status"], "succeeded");
    assert_eq!(off["currency"], "eur");
    // On-session payments still ask the customer.
    let on = api
        .post(
            "/v1/payment_intents",
            &[
                ("amount", "700"),
                ("currency", "eur"),
                ("customer", &customer),
                ("payment_method", &pm),
                ("confirm", "true"),
            ],
        )
        .await
        .ok();
    assert_eq!(on["status"], "requires_action");
    // A plain card sets up without action; a declining one fails the setup with a 402.
    let plain = api.confirm_setup(&customer, "pm_card_visa").await.ok();
    assert_eq!(plain["status"], "succeeded");
    let declined = api.confirm_setup(&customer, "pm_card_chargeDeclined").await;
    assert_eq!(declined.status, 402);
    assert_eq!(
        declined.error()["setup_intent"]["status"],
        "requires_payment_method"
    );
    assert_eq!(
        declined.error()["setup_intent"]["last_setup_error"]["decline_code"],
        "generic_decline"
    );
    // Listing and cancelling.
    let listed = api
        .get_q("/v1/setup_intents", &[("customer", &customer)])
        .await
        .ok();
    assert_eq!(listed["data"].as_array().unwrap().len(), 3);
    let pending = api
        .post("/v1/setup_intents", &[("customer", &customer)])
        .await
        .ok();
    assert_eq!(pending["status"], "requires_payment_method");
    let canceled = api
        .post(
            &format!("/v1/setup_intents/{}/cancel", s(&pending["id"])),
            &[],
        )
        .await
        .ok();
    assert_eq!(canceled["status"], "canceled");
}

#[tokio::test]
async fn manual_capture_partial_cancel_and_expand() {
    let (emulator, api) = start().await;
    let customer = api.customer().await;
    let pm = s(&api.attach(&customer, "pm_card_visa").await.ok()["id"]).to_string();
    let create = |capture: &'static str| {
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
                    ("capture_method", capture),
                    ("metadata[crm_txn]", "T1"),
                    ("description", "Order 1"),
                ],
            )
            .await
            .ok()
        }
    };
    let pi = create("manual").await;
    assert_eq!(pi["status"], "requires_capture");
    assert_eq!(pi["amount_capturable"], 5000);
    assert_eq!(pi["metadata"]["crm_txn"], "T1");
    let id = s(&pi["id"]).to_string();
    let too_much = api
        .post(
            &format!("/v1/payment_intents/{id}/capture"),
            &[("amount_to_capture", "6000")],
        )
        .await;
    assert_eq!(too_much.status, 400);
    assert_eq!(too_much.error()["param"], "amount_to_capture");
    let captured = api
        .post(
            &format!("/v1/payment_intents/{id}/capture"),
            &[
                ("amount_to_capture", "3000"),
                ("expand[]", "latest_charge.balance_transaction"),
            ],
        )
        .await
        .ok();
    assert_eq!(captured["status"], "succeeded");
    assert_eq!(captured["amount_received"], 3000);
    let charge = &captured["latest_charge"];
    assert_eq!(charge["amount_captured"], 3000);
    assert_eq!(charge["amount_refunded"], 2000, "the rest is released");
    assert_eq!(charge["balance_transaction"]["amount"], 3000);
    assert_eq!(charge["balance_transaction"]["fee"], 3000 * 29 / 1000 + 30);
    let again = api
        .post(&format!("/v1/payment_intents/{id}/capture"), &[])
        .await;
    assert_eq!(again.status, 400);
    assert_eq!(again.error()["code"], "payment_intent_unexpected_state");
    // Only the captured part is refundable.
    let over = api
        .post(
            "/v1/refunds",
            &[("payment_intent", &id), ("amount", "3001")],
        )
        .await;
    assert_eq!(over.status, 400);

    // Cancel releases an authorization; a succeeded intent can't be canceled.
    let held = create("manual").await;
    let canceled = api
        .post(
            &format!("/v1/payment_intents/{}/cancel", s(&held["id"])),
            &[("cancellation_reason", "requested_by_customer")],
        )
        .await
        .ok();
    assert_eq!(canceled["status"], "canceled");
    assert_eq!(canceled["cancellation_reason"], "requested_by_customer");
    assert_eq!(
        api.post(&format!("/v1/payment_intents/{id}/cancel"), &[])
            .await
            .status,
        400
    );

    // Authorizations expire after 7 days of the emulator clock, when next read or acted on.
    let stale = create("manual").await;
    let stale_id = s(&stale["id"]).to_string();
    emulator
        .clock()
        .advance(std::time::Duration::from_secs(7 * 24 * 3600 + 1));
    let read = api
        .get(&format!("/v1/payment_intents/{stale_id}"))
        .await
        .ok();
    assert_eq!(read["status"], "canceled");
    assert_eq!(read["cancellation_reason"], "automatic");
    assert_eq!(
        api.post(&format!("/v1/payment_intents/{stale_id}/capture"), &[])
            .await
            .status,
        400
    );

    // Expanding on retrieve and list.
    let auto = create("automatic").await;
    let expanded = api
        .get_q(
            &format!("/v1/payment_intents/{}", s(&auto["id"])),
            &[
                ("expand[]", "latest_charge.balance_transaction"),
                ("expand[]", "customer"),
            ],
        )
        .await
        .ok();
    assert_eq!(
        expanded["latest_charge"]["balance_transaction"]["fee"],
        5000 * 29 / 1000 + 30
    );
    assert_eq!(expanded["customer"]["id"], customer.as_str());
    let listed = api
        .get_q(
            "/v1/payment_intents",
            &[("customer", &customer), ("expand[]", "data.latest_charge")],
        )
        .await
        .ok();
    assert_eq!(listed["data"].as_array().unwrap().len(), 4);
    assert_eq!(listed["data"][0]["latest_charge"]["object"], "charge");
    let charges = api
        .get_q("/v1/charges", &[("payment_intent", s(&auto["id"]))])
        .await
        .ok();
    assert_eq!(charges["data"].as_array().unwrap().len(), 1);
}

#[tokio::test]
async fn payment_intent_validation_and_statuses() {
    let (_emulator, api) = start().await;
    let customer = api.customer().await;
    let missing = api
        .post("/v1/payment_intents", &[("currency", "usd")])
        .await;
    assert_eq!(missing.status, 400);
    assert_eq!(missing.error()["param"], "amount");
    assert_eq!(missing.error()["code"], "parameter_missing");
    let unknown = api
        .post(
            "/v1/payment_intents",
            &[("amount", "100"), ("currency", "usd"), ("bogus", "1")],
        )
        .await;
    assert_eq!(unknown.status, 400);
    assert_eq!(unknown.error()["param"], "bogus");
    let bad_int = api
        .post(
            "/v1/payment_intents",
            &[("amount", "ten"), ("currency", "usd")],
        )
        .await;
    assert_eq!(bad_int.status, 400);
    // Upper-case currency is answered lower-case.
    let draft = api
        .post(
            "/v1/payment_intents",
            &[
                ("amount", "100"),
                ("currency", "USD"),
                ("customer", &customer),
            ],
        )
        .await
        .ok();
    assert_eq!(draft["currency"], "usd");
    assert_eq!(draft["status"], "requires_payment_method");
    assert!(s(&draft["client_secret"]).starts_with(s(&draft["id"])));
    let id = s(&draft["id"]).to_string();
    let with_pm = api
        .post(
            &format!("/v1/payment_intents/{id}"),
            &[("payment_method", "pm_card_visa")],
        )
        .await
        .ok();
    assert_eq!(with_pm["status"], "requires_confirmation");
    let confirmed = api
        .post(&format!("/v1/payment_intents/{id}/confirm"), &[])
        .await
        .ok();
    assert_eq!(confirmed["status"], "succeeded");
}

#[tokio::test]
async fn refunds_full_partial_and_over_refund() {
    let (_emulator, api) = start().await;
    let pi = api.paid_intent("pm_card_visa", 10_000, "usd").await;
    let pi_id = s(&pi["id"]).to_string();
    let partial = api
        .post(
            "/v1/refunds",
            &[
                ("payment_intent", &pi_id),
                ("amount", "2500"),
                ("reason", "requested_by_customer"),
                ("metadata[crm]", "R1"),
            ],
        )
        .await
        .ok();
    assert!(s(&partial["id"]).starts_with("re_"));
    assert_eq!(partial["status"], "succeeded");
    assert_eq!(partial["amount"], 2500);
    assert_eq!(partial["reason"], "requested_by_customer");
    let txn = api
        .get(&format!(
            "/v1/balance_transactions/{}",
            s(&partial["balance_transaction"])
        ))
        .await
        .ok();
    assert_eq!(txn["type"], "refund");
    assert_eq!(txn["amount"], -2500);
    assert_eq!(txn["fee"], 0);
    assert_eq!(txn["net"], -2500);
    let over = api
        .post(
            "/v1/refunds",
            &[("payment_intent", &pi_id), ("amount", "7501")],
        )
        .await;
    assert_eq!(over.status, 400);
    assert_eq!(over.error()["type"], "invalid_request_error");
    assert_eq!(over.error()["param"], "amount");
    let rest = api
        .post("/v1/refunds", &[("charge", s(&pi["latest_charge"]))])
        .await
        .ok();
    assert_eq!(rest["amount"], 7500);
    let charge = api
        .get(&format!("/v1/charges/{}", s(&pi["latest_charge"])))
        .await
        .ok();
    assert_eq!(charge["amount_refunded"], 10_000);
    assert_eq!(charge["refunded"], true);
    let done = api.post("/v1/refunds", &[("payment_intent", &pi_id)]).await;
    assert_eq!(done.status, 400);
    assert_eq!(done.error()["code"], "charge_already_refunded");
    let listed = api
        .get_q("/v1/refunds", &[("payment_intent", &pi_id)])
        .await
        .ok();
    assert_eq!(listed["data"].as_array().unwrap().len(), 2);
    assert_eq!(api.post("/v1/refunds", &[]).await.status, 400);
    // An intent that never succeeded has nothing to refund.
    let customer = api.customer().await;
    let failed = api
        .charge(&customer, "pm_card_chargeDeclined", 100, "usd")
        .await;
    let failed_pi = s(&failed.error()["payment_intent"]["id"]).to_string();
    assert_eq!(
        api.post("/v1/refunds", &[("payment_intent", &failed_pi)])
            .await
            .status,
        400
    );
}

#[tokio::test]
async fn zero_decimal_currency_fees() {
    let (_emulator, api) = start().await;
    let pi = api.paid_intent("pm_card_visa", 10_000, "JPY").await;
    assert_eq!(pi["currency"], "jpy");
    assert_eq!(pi["amount"], 10_000);
    let expanded = api
        .get_q(
            &format!("/v1/payment_intents/{}", s(&pi["id"])),
            &[("expand[]", "latest_charge.balance_transaction")],
        )
        .await
        .ok();
    let txn = &expanded["latest_charge"]["balance_transaction"];
    assert_eq!(txn["currency"], "jpy");
    assert_eq!(txn["amount"], 10_000);
    assert_eq!(txn["fee"], 290 + 30);
    assert_eq!(txn["net"], 10_000 - 320);
    let over = api
        .post(
            "/v1/refunds",
            &[("payment_intent", s(&pi["id"])), ("amount", "10001")],
        )
        .await;
    assert!(
        s(&over.error()["message"]).contains("10001 JPY"),
        "{}",
        over.json
    );
}

/// ISK is two-decimal at Stripe (`100` is 1 króna) and only whole krónur are accepted; three-decimal
/// amounts must end in 0. Refused amounts change nothing: no intent, capture or refund.
#[tokio::test]
async fn isk_and_three_decimal_amounts() {
    let (_emulator, api) = start().await;
    let customer = api.customer().await;
    let pm = s(&api.attach(&customer, "pm_card_visa").await.ok()["id"]).to_string();
    let assert_refused = |resp: &common::Resp, code: &str, param: &str| {
        assert_eq!(resp.status, 400, "{}", resp.json);
        assert_eq!(resp.error()["type"], "invalid_request_error");
        assert_eq!(resp.error()["code"], code);
        assert_eq!(resp.error()["param"], param);
    };

    // ISK 5000 is 500000: priced as a two-decimal currency (2.9% + 30 hundredths).
    let pi = api.charge(&customer, &pm, 500_000, "isk").await.ok();
    assert_eq!(pi["status"], "succeeded");
    let expanded = api
        .get_q(
            &format!("/v1/payment_intents/{}", s(&pi["id"])),
            &[("expand[]", "latest_charge.balance_transaction")],
        )
        .await
        .ok();
    let txn = &expanded["latest_charge"]["balance_transaction"];
    assert_eq!(txn["currency"], "isk");
    assert_eq!(txn["amount"], 500_000);
    assert_eq!(txn["fee"], 14_500 + 30);
    assert_eq!(txn["net"], 500_000 - 14_530);

    let fractional = api.charge(&customer, &pm, 500_050, "ISK").await;
    assert_refused(
        &fractional,
        "invalid_charge_amount_no_decimal_compatible",
        "amount",
    );
    assert!(
        s(&fractional.error()["message"]).contains("evenly divisible by 100"),
        "{}",
        fractional.json
    );
    let refund = |amount: &'static str| {
        let (api, pi) = (api.clone(), s(&pi["id"]).to_string());
        async move {
            api.post(
                "/v1/refunds",
                &[("payment_intent", &pi), ("amount", amount)],
            )
            .await
        }
    };
    assert_refused(
        &refund("150").await,
        "invalid_charge_amount_no_decimal_compatible",
        "amount",
    );
    assert_eq!(refund("100000").await.ok()["amount"], 100_000);

    // A partial capture in ISK, and an update, are checked too.
    let held = api
        .post(
            "/v1/payment_intents",
            &[
                ("amount", "300000"),
                ("currency", "isk"),
                ("customer", &customer),
                ("payment_method", &pm),
                ("confirm", "true"),
                ("off_session", "true"),
                ("capture_method", "manual"),
            ],
        )
        .await
        .ok();
    let held_id = s(&held["id"]).to_string();
    let capture = api
        .post(
            &format!("/v1/payment_intents/{held_id}/capture"),
            &[("amount_to_capture", "100001")],
        )
        .await;
    assert_refused(
        &capture,
        "invalid_charge_amount_no_decimal_compatible",
        "amount_to_capture",
    );
    let captured = api
        .post(
            &format!("/v1/payment_intents/{held_id}/capture"),
            &[("amount_to_capture", "100000")],
        )
        .await
        .ok();
    assert_eq!(captured["amount_received"], 100_000);
    let draft = api
        .post(
            "/v1/payment_intents",
            &[
                ("amount", "1000"),
                ("currency", "usd"),
                ("customer", &customer),
            ],
        )
        .await
        .ok();
    let update = api
        .post(
            &format!("/v1/payment_intents/{}", s(&draft["id"])),
            &[("currency", "isk")],
        )
        .await;
    assert_eq!(update.status, 200, "1000 is ISK 10: {}", update.json);
    let update = api
        .post(
            &format!("/v1/payment_intents/{}", s(&draft["id"])),
            &[("amount", "1010")],
        )
        .await;
    assert_refused(
        &update,
        "invalid_charge_amount_no_decimal_compatible",
        "amount",
    );

    // Three-decimal currencies: the last digit must be 0.
    let kwd = api.charge(&customer, &pm, 1_005, "kwd").await;
    assert_refused(&kwd, "invalid_charge_amount", "amount");
    assert!(s(&kwd.error()["message"]).contains("KWD"), "{}", kwd.json);
    let kwd = api.charge(&customer, &pm, 1_010, "kwd").await.ok();
    assert_eq!(kwd["amount"], 1_010);
    let kwd_refund = api
        .post(
            "/v1/refunds",
            &[("payment_intent", s(&kwd["id"])), ("amount", "5")],
        )
        .await;
    assert_refused(&kwd_refund, "invalid_charge_amount", "amount");

    // Nothing refused was created: two ISK intents, one KWD intent, one draft, one refund.
    let intents = api
        .get_q(
            "/v1/payment_intents",
            &[("customer", &customer), ("limit", "100")],
        )
        .await
        .ok();
    assert_eq!(intents["data"].as_array().unwrap().len(), 4);
    let refunds = api.get_q("/v1/refunds", &[("limit", "100")]).await.ok();
    assert_eq!(refunds["data"].as_array().unwrap().len(), 1);
}

#[tokio::test]
async fn every_card_of_the_reference_table_is_known() {
    // The table's test values, pm_card_ and tok_ alike, make payment methods.
    let (_emulator, api) = start().await;
    let names = [
        "visa",
        "mastercard",
        "amex",
        "discover",
        "visa_debit",
        "chargeDeclined",
        "chargeDeclinedInsufficientFunds",
        "chargeDeclinedLostCard",
        "chargeDeclinedStolenCard",
        "chargeDeclinedExpiredCard",
        "chargeDeclinedIncorrectCvc",
        "chargeDeclinedProcessingError",
        "chargeDeclinedFraudulent",
        "chargeCustomerFail",
        "authenticationRequired",
        "authenticationRequiredOnSetup",
        "authenticationRequiredSetupForOffSession",
        "createDispute",
        "createDisputeProductNotReceived",
        "createDisputeInquiry",
        "bypassPending",
    ];
    for name in names {
        for prefix in ["pm_card_", "tok_"] {
            let pm = api
                .get(&format!("/v1/payment_methods/{prefix}{name}"))
                .await
                .ok();
            assert!(s(&pm["id"]).starts_with("pm_"), "{prefix}{name}");
            assert_eq!(pm["type"], "card");
        }
    }
    let unknown = api
        .post(
            "/v1/payment_methods",
            &[("type", "card"), ("card[token]", "tok_nonsense")],
        )
        .await;
    assert_eq!(unknown.status, 400);
}
