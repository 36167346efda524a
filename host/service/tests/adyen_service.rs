//! The service with the Adyen plugin against the Adyen emulator, over HTTP and over TLS: the
//! emulator's signed notification batches delivered to `/webhooks/adyen` (duplicated, out of
//! order, about a payment the service never made, a refund that fails after it was received),
//! and both gateways in one service, each card charged through its own. Facts are checked
//! against the emulator's record as well as the service's answers.

use crate::common::{self, adyen};

use adyen::{AdyenEnv, AdyenOptions, MERCHANT_ACCOUNT, RETURN_URL, Transport, visa};
use adyen_emulator::ModKind;
use common::emulator_list;
use omnicrm_pay::client::ApiClient;
use serde_json::{Value, json};

/// One `#[tokio::test]` per transport for each scenario.
macro_rules! over_http_and_tls {
    ($($scenario:ident => $http:ident, $tls:ident;)+) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $http() {
                $scenario(Transport::Http).await
            }
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $tls() {
                $scenario(Transport::Tls).await
            }
        )+
    };
}

over_http_and_tls! {
    duplicate_and_out_of_order_notifications =>
        duplicate_and_out_of_order_notifications_over_http,
        duplicate_and_out_of_order_notifications_over_tls;
    notifications_about_an_unknown_payment =>
        notifications_about_an_unknown_payment_over_http,
        notifications_about_an_unknown_payment_over_tls;
    refund_failing_asynchronously =>
        refund_failing_asynchronously_over_http,
        refund_failing_asynchronously_over_tls;
}

async fn start(transport: Transport) -> AdyenEnv {
    adyen::start(AdyenOptions {
        transport,
        ..AdyenOptions::default()
    })
    .await
}

fn id(v: &Value) -> i64 {
    v["id"].as_i64().unwrap()
}

fn psp(v: &Value) -> String {
    v["gateway_payment_ref"].as_str().unwrap().to_string()
}

/// A duplicated REFUND is answered `[accepted]` both times and refunds once; captures delivered
/// before the authorisation they capture (newest first) leave the transaction captured.
async fn duplicate_and_out_of_order_notifications(transport: Transport) {
    let env = start(transport).await;
    env.customer_with_card("crm-dup").await;
    let paid = env.charge("crm-dup", 900, "automatic").await;
    assert_eq!(paid["status"], "succeeded", "{paid}");
    // Everything so far delivered, so that the next item delivered is the refund's.
    env.accepted("AUTHORISATION", &psp(&paid), 1).await;

    env.adyen.webhooks().duplicate_next(1);
    let r = env
        .post(
            &format!("/v1/transactions/{}/refunds", id(&paid)),
            json!({ "amount": 300 }),
        )
        .await;
    assert_eq!(
        (r.status, r.json["status"].as_str()),
        (202, Some("pending")),
        "{}",
        r.json
    );
    let refund_ref = r.json["gateway_refund_ref"].as_str().unwrap().to_string();
    assert_eq!(env.settle(), 1);
    let attempts = env.accepted("REFUND", &refund_ref, 2).await;
    assert!(
        attempts
            .iter()
            .all(|(status, ok)| *status == Some(200) && *ok),
        "every delivery answered 200 [accepted]: {attempts:?}"
    );
    let t = env
        .wait_txn(id(&paid), "the refund settled", |t| {
            t["refunds"][0]["status"] == "succeeded"
        })
        .await;
    assert_eq!(t["refunds"].as_array().unwrap().len(), 1, "{t:#}");
    assert_eq!(
        (t["amount_refunded"].as_i64(), t["status"].as_str()),
        (Some(300), Some("partially_refunded")),
        "refunded once: {t:#}"
    );
    assert_eq!(
        env.emitted("REFUND", &refund_ref).len(),
        1,
        "one refund at Adyen"
    );

    // Held, then delivered newest first, one per batch: CAPTURE, CAPTURE, AUTHORISATION.
    env.adyen.webhooks().hold();
    let auth = env.charge("crm-dup", 1_000, "manual").await;
    assert_eq!(auth["status"], "authorized", "{auth}");
    for (amount, final_capture) in [(300, false), (500, true)] {
        let r = env
            .post(
                &format!("/v1/transactions/{}/capture", id(&auth)),
                json!({ "amount": amount, "final_capture": final_capture }),
            )
            .await;
        assert_eq!(r.status, 202, "{}", r.json);
    }
    let auth_psp = psp(&auth);
    assert_eq!(env.settle(), 2);
    assert_eq!(
        env.emitted("CAPTURE", &auth_psp).len(),
        2,
        "both captures settled at Adyen"
    );
    env.adyen.webhooks().release(true);
    env.accepted("AUTHORISATION", &auth_psp, 1).await;
    let order: Vec<String> = env
        .adyen
        .webhooks()
        .deliveries()
        .iter()
        .flat_map(|d| d.items.clone())
        .filter(|i| {
            i["pspReference"] == auth_psp.as_str() || i["originalReference"] == auth_psp.as_str()
        })
        .map(|i| i["eventCode"].as_str().unwrap_or_default().to_string())
        .collect();
    assert_eq!(
        order,
        ["CAPTURE", "CAPTURE", "AUTHORISATION"],
        "newest first"
    );
    let t = env
        .wait_txn(id(&auth), "both captures settled", |t| {
            t["captures"]
                .as_array()
                .is_some_and(|c| c.len() == 2 && c.iter().all(|c| c["status"] == "succeeded"))
        })
        .await;
    assert_eq!(
        (t["status"].as_str(), t["amount_captured"].as_i64()),
        (Some("succeeded"), Some(800)),
        "the late AUTHORISATION moved nothing back: {t:#}"
    );
    let captured: i64 = env
        .emitted("CAPTURE", &auth_psp)
        .iter()
        .filter(|i| i["success"] == "true")
        .map(|i| i["amount"]["value"].as_i64().unwrap())
        .sum();
    assert_eq!(captured, 800, "Adyen captured what the ledger says");
}

/// Notifications about a payment the service never made (made at Adyen by another system) are
/// answered `[accepted]` once each (Adyen stops retrying) and change nothing; a batch that is
/// not signed with the endpoint's key is refused.
async fn notifications_about_an_unknown_payment(transport: Transport) {
    let env = start(transport).await;
    // Another system of the merchant pays and refunds at Adyen directly.
    let back_office = ApiClient::new(env.adyen.api_base_url(), None);
    let pay = json!({
        "merchantAccount": MERCHANT_ACCOUNT,
        "amount": {"value": 1500, "currency": "EUR"},
        "reference": "not-from-the-crm",
        "returnUrl": RETURN_URL,
        "paymentMethod": serde_json::from_str::<Value>(&visa()).unwrap(),
    });
    let headers = [("x-api-key", adyen::API_KEY)];
    let r = back_office
        .send(
            "POST",
            "/payments",
            Some(pay.to_string().into_bytes()),
            &headers,
        )
        .await
        .unwrap();
    assert_eq!(r.json["resultCode"], "Authorised", "{}", r.json);
    let stranger = r.json["pspReference"].as_str().unwrap().to_string();
    let refund = json!({
        "merchantAccount": MERCHANT_ACCOUNT,
        "amount": {"value": 500, "currency": "EUR"},
        "reference": "not-from-the-crm-refund",
    });
    let r = back_office
        .send(
            "POST",
            &format!("/payments/{stranger}/refunds"),
            Some(refund.to_string().into_bytes()),
            &headers,
        )
        .await
        .unwrap();
    assert_eq!(r.status, 201, "{}", r.json);
    assert_eq!(env.settle(), 1);
    for event in ["AUTHORISATION", "REFUND"] {
        let attempts = env.accepted(event, &stranger, 1).await;
        assert_eq!(
            attempts,
            [(Some(200), true)],
            "{event} answered [accepted] at the first attempt"
        );
    }
    let r = env.get("/v1/transactions").await;
    assert_eq!(r.json["transactions"], json!([]), "nothing recorded");
    let r = env.get("/v1/disputes").await;
    assert_eq!(r.json["disputes"], json!([]));

    // A batch signed with another key: refused, nothing accepted.
    let mut item = env.emitted("AUTHORISATION", &stranger)[0].clone();
    item["additionalData"]["hmacSignature"] =
        json!(adyen_emulator::hmac_signature(&"00".repeat(32), &item).unwrap());
    let forged = json!({"live": "false", "notificationItems": [{"NotificationRequestItem": item}]});
    let r = ApiClient::new(&env.base, None)
        .send(
            "POST",
            "/webhooks/adyen",
            Some(forged.to_string().into_bytes()),
            &[],
        )
        .await
        .unwrap();
    assert_eq!(r.status, 400, "{}", String::from_utf8_lossy(&r.raw));
    assert_ne!(&r.raw[..], b"[accepted]");

    // The service still acts on its own payments.
    env.customer_with_card("crm-known").await;
    let paid = env.charge("crm-known", 700, "automatic").await;
    assert_eq!(paid["status"], "succeeded", "{paid}");
    assert_eq!(
        env.accepted("AUTHORISATION", &psp(&paid), 1).await,
        [(Some(200), true)]
    );
}

/// A refund Adyen received and then failed (REFUND, then REFUND_FAILED): the ledger's refund
/// ends failed, its amount refundable again, and a new refund of the whole payment succeeds.
async fn refund_failing_asynchronously(transport: Transport) {
    let env = start(transport).await;
    env.customer_with_card("crm-refund").await;
    let paid = env.charge("crm-refund", 2_000, "automatic").await;
    let payment = psp(&paid);
    env.adyen
        .fail_next_modification(&payment, ModKind::Refund)
        .unwrap();
    let r = env
        .post(
            &format!("/v1/transactions/{}/refunds", id(&paid)),
            json!({ "amount": 700, "reason": "requested_by_customer" }),
        )
        .await;
    assert_eq!(
        (r.status, r.json["status"].as_str()),
        (202, Some("pending")),
        "{}",
        r.json
    );
    let refund_ref = r.json["gateway_refund_ref"].as_str().unwrap().to_string();
    env.settle();
    env.accepted("REFUND_FAILED", &refund_ref, 1).await;
    let failed = env.emitted("REFUND_FAILED", &refund_ref);
    assert_eq!(failed.len(), 1, "Adyen failed the refund");
    let t = env
        .wait_txn(id(&paid), "the refund failed", |t| {
            t["refunds"][0]["status"] == "failed"
        })
        .await;
    assert_eq!(
        (t["status"].as_str(), t["amount_refunded"].as_i64()),
        (Some("succeeded"), Some(0)),
        "nothing refunded: {t:#}"
    );
    assert!(t["refunds"][0]["last_error"].is_string(), "{t:#}");

    // The whole payment is refundable again.
    let r = env
        .post(
            &format!("/v1/transactions/{}/refunds", id(&paid)),
            json!({}),
        )
        .await;
    assert_eq!(r.status, 202, "{}", r.json);
    assert_eq!(r.json["amount"], 2_000, "{}", r.json);
    env.settle();
    let t = env
        .wait_txn(id(&paid), "the second refund settled", |t| {
            t["status"] == "refunded"
        })
        .await;
    assert_eq!(t["amount_refunded"], 2_000, "{t:#}");
    let refunded: i64 = env
        .emitted("REFUND", &payment)
        .iter()
        .filter(|i| i["success"] == "true")
        .map(|i| i["amount"]["value"].as_i64().unwrap())
        .sum();
    // Adyen received 700 (failed later) and 2,000.
    assert_eq!(refunded, 2_700);
    assert_eq!(env.emitted("REFUND_FAILED", &payment).len(), 1);
}

/// One service, both gateways: a customer with a card at Stripe and a card at Adyen; each
/// charge goes through its card's gateway, and each emulator holds exactly the charges of its
/// cards; refunds settle through each gateway's own webhook route.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stripe_and_adyen_side_by_side() {
    let env = adyen::start(AdyenOptions {
        with_stripe: true,
        ..AdyenOptions::default()
    })
    .await;
    let stripe = env.stripe.as_ref().unwrap();
    let r = env.get("/v1/gateways").await;
    assert_eq!(r.json["default"], "stripe", "{}", r.json);
    let linked = env.link("crm-both", None).await;
    assert_eq!(linked["gateway"], "stripe", "{linked}");
    let linked = env.link("crm-both", Some("adyen")).await;
    assert_eq!(
        (
            linked["gateway"].as_str(),
            linked["gateway_customer_ref"].as_str()
        ),
        (Some("adyen"), Some("crm-both")),
        "{linked}"
    );
    let stripe_card = env.add_card("crm-both", "pm_card_visa", None).await;
    let adyen_card = env.add_card("crm-both", &visa(), Some("adyen")).await;
    assert_eq!(
        (
            stripe_card["gateway"].as_str(),
            stripe_card["default"].as_bool()
        ),
        (Some("stripe"), Some(true))
    );
    assert_eq!(
        (adyen_card["gateway"].as_str(), adyen_card["last4"].as_str()),
        (Some("adyen"), Some("1111"))
    );
    let r = env.get("/v1/customers/crm-both").await;
    assert_eq!(r.json["links"].as_array().unwrap().len(), 2, "{}", r.json);
    assert_eq!(r.json["cards"].as_array().unwrap().len(), 2, "{}", r.json);

    let mut at_stripe = Vec::new();
    let mut at_adyen = Vec::new();
    for (card, amount, currency) in [
        (&stripe_card, 1_234, "USD"),
        (&adyen_card, 5_678, "EUR"),
        (&adyen_card, 910, "EUR"),
        (&stripe_card, 4_321, "EUR"),
    ] {
        let r = env
            .post(
                "/v1/transactions",
                json!({ "customer_id": "crm-both", "amount": amount, "currency": currency, "card_id": id(card) }),
            )
            .await;
        assert_eq!(
            (r.status, r.json["status"].as_str()),
            (201, Some("succeeded")),
            "{}",
            r.json
        );
        assert_eq!(r.json["gateway"], card["gateway"], "{}", r.json);
        if card["gateway"] == "stripe" {
            at_stripe.push(r.json);
        } else {
            at_adyen.push(r.json);
        }
    }
    // The default card is Stripe's.
    let r = env
        .post(
            "/v1/transactions",
            json!({ "customer_id": "crm-both", "amount": 777, "currency": "USD" }),
        )
        .await;
    assert_eq!(
        (r.status, r.json["gateway"].as_str()),
        (201, Some("stripe")),
        "{}",
        r.json
    );
    at_stripe.push(r.json);

    // Stripe holds exactly the Stripe charges, to the cent.
    let intents = emulator_list(stripe.base_url(), "payment_intents").await;
    assert_eq!(intents.len(), at_stripe.len(), "{intents:#?}");
    for t in &at_stripe {
        let pi = intents
            .iter()
            .find(|pi| pi["id"].as_str() == t["gateway_payment_ref"].as_str())
            .unwrap_or_else(|| panic!("no payment intent for {t}"));
        assert_eq!(pi["amount"], t["amount"]);
        assert_eq!(
            pi["currency"],
            t["currency"].as_str().unwrap().to_lowercase()
        );
        assert_eq!(pi["metadata"]["crm_transaction_id"], t["id"].to_string());
    }
    // Adyen made exactly the Adyen charges (besides the zero-amount card set-up).
    let payments: Vec<Value> = env
        .adyen
        .webhooks()
        .emitted()
        .into_iter()
        .filter(|i| i["eventCode"] == "AUTHORISATION" && i["amount"]["value"] != 0)
        .collect();
    assert_eq!(payments.len(), at_adyen.len(), "{payments:#?}");
    for t in &at_adyen {
        let item = payments
            .iter()
            .find(|i| i["pspReference"].as_str() == t["gateway_payment_ref"].as_str())
            .unwrap_or_else(|| panic!("no Adyen payment for {t}"));
        assert_eq!(item["amount"]["value"], t["amount"]);
        assert_eq!(item["amount"]["currency"], "EUR");
        assert_eq!(item["merchantReference"], t["id"].to_string());
        assert_eq!(item["success"], "true");
    }

    // Refunds: Stripe's answered at once, Adyen's settled by its notification.
    let stripe_txn = id(&at_stripe[0]);
    let r = env
        .post(
            &format!("/v1/transactions/{stripe_txn}/refunds"),
            json!({ "amount": 234 }),
        )
        .await;
    assert_eq!(
        (r.status, r.json["status"].as_str()),
        (201, Some("succeeded")),
        "{}",
        r.json
    );
    let adyen_txn = id(&at_adyen[0]);
    let r = env
        .post(
            &format!("/v1/transactions/{adyen_txn}/refunds"),
            json!({ "amount": 678 }),
        )
        .await;
    assert_eq!(
        (r.status, r.json["status"].as_str()),
        (202, Some("pending")),
        "{}",
        r.json
    );
    assert_eq!(env.settle(), 1);
    let t = env
        .wait_txn(adyen_txn, "the Adyen refund settled", |t| {
            t["refunds"][0]["status"] == "succeeded"
        })
        .await;
    assert_eq!(t["amount_refunded"], 678);
    let refunds = emulator_list(stripe.base_url(), "refunds").await;
    assert_eq!(refunds.len(), 1, "one refund at Stripe: {refunds:#?}");
    assert_eq!(refunds[0]["amount"], 234);
    assert_eq!(env.emitted("REFUND", &psp(&at_adyen[0])).len(), 1);

    // The summary has each gateway's figures.
    let r = env.get("/v1/summary?currency=EUR").await;
    assert_eq!(r.status, 200, "{}", r.json);
    let by_gateway = |name: &str| -> Value {
        r.json["gateways"]
            .as_array()
            .unwrap()
            .iter()
            .find(|g| g["gateway"] == name)
            .cloned()
            .unwrap_or_else(|| panic!("no {name} figures in {}", r.json))
    };
    assert_eq!(by_gateway("adyen")["figures"]["revenue"], 5_678 + 910);
    assert_eq!(by_gateway("adyen")["figures"]["refunds"], 678);
    assert_eq!(by_gateway("stripe")["figures"]["revenue"], 4_321);
}

/// The side-by-side example file (`tests/fixtures/omnicrm-pay.side-by-side.example.toml`) is
/// valid, and a service started from it (its emulator addresses moved to the test's emulators,
/// its secrets given as values) charges through both gateways.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_side_by_side_example_configuration_runs() {
    use omnicrm_host::config::{OutboundAuth, SecretSource};
    use omnicrm_pay::config::ServiceConfig;
    use std::path::Path;

    let text = include_str!("fixtures/omnicrm-pay.side-by-side.example.toml");
    let example = ServiceConfig::from_toml_str(text, Path::new("/repo")).unwrap();
    assert_eq!(example.default_gateway(), Some("stripe"));
    let adyen_config = &example.gateways["adyen"].config;
    assert_eq!(
        adyen_config.auth,
        OutboundAuth::Header {
            name: "X-API-Key".into(),
            secret: "api-key".into(),
            prefix: None
        }
    );
    let mut secrets: Vec<&str> = adyen_config.secrets.keys().map(String::as_str).collect();
    secrets.sort_unstable();
    assert_eq!(secrets, ["api-key", "hmac-key"]);
    for setting in [
        "base-url",
        "merchant-account",
        "return-url",
        "client-key",
        "environment",
        "default-currency",
    ] {
        assert!(adyen_config.settings.contains_key(setting), "{setting}");
    }

    let stripe = stripe_emulator::Emulator::start(stripe_emulator::EmulatorOptions::default())
        .await
        .unwrap();
    let adyen_emulator = adyen_emulator::Emulator::start(adyen::emulator_options(
        false,
        adyen_emulator::SettleDelay::Manual,
    ))
    .await
    .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let text = text
        .replace("http://127.0.0.1:12111", stripe.base_url())
        .replace("http://127.0.0.1:12121", adyen_emulator.base_url())
        .replace("OmniCRMTest", MERCHANT_ACCOUNT)
        .replace("127.0.0.1:8080", "127.0.0.1:0");
    let mut config = ServiceConfig::from_toml_str(&text, dir.path()).unwrap();
    config.service.api_keys = common::api_keys();
    for (name, gateway) in &mut config.gateways {
        gateway.config.component = common::component(&format!("omnicrm_{name}_gateway"));
        let values: &[(&str, &str)] = match name.as_str() {
            "stripe" => &[
                ("api-key", "sk_test_side_by_side"),
                ("webhook-secret", "whsec_unused"),
            ],
            _ => &[
                ("api-key", adyen::API_KEY),
                ("hmac-key", "00112233445566778899AABBCCDDEEFF"),
            ],
        };
        for (secret, value) in values {
            gateway
                .config
                .secrets
                .insert((*secret).into(), SecretSource::value(*value));
        }
    }
    let mut options = omnicrm_pay::server::runtime_options(&config).unwrap();
    options.cache_dir = Some(common::cache_dir());
    let service = omnicrm_pay::server::build(&config, options).await.unwrap();
    let running = omnicrm_pay::server::start(&config, service, None)
        .await
        .unwrap();
    let api = ApiClient::new(
        format!("http://{}", running.addr),
        Some(common::RW_KEY.into()),
    );
    for (gateway, token, currency) in [
        ("stripe", "pm_card_visa".to_string(), "USD"),
        ("adyen", visa(), "EUR"),
    ] {
        let r = api
            .post(
                "/v1/customers",
                json!({ "customer_id": "crm-example", "gateway": gateway }),
            )
            .await
            .unwrap();
        assert_eq!(r.status, 200, "{}", r.json);
        let r = api
            .post(
                "/v1/customers/crm-example/cards",
                json!({ "token": token, "gateway": gateway }),
            )
            .await
            .unwrap();
        assert_eq!(r.status, 201, "{}", r.json);
        let r = api
            .post(
                "/v1/transactions",
                json!({ "customer_id": "crm-example", "amount": 1_500, "currency": currency, "card_id": r.json["id"] }),
            )
            .await
            .unwrap();
        assert_eq!(
            (
                r.status,
                r.json["gateway"].as_str(),
                r.json["status"].as_str()
            ),
            (201, Some(gateway), Some("succeeded")),
            "{}",
            r.json
        );
    }
    running.shutdown().await;
}
