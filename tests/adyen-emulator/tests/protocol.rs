//! The wire protocol: API keys, merchant accounts, errors, idempotency, faults, the clock, TLS
//! and shutdown.

mod common;

use std::sync::Arc;
use std::time::{Duration, Instant};

use adyen_emulator::{Emulator, EmulatorOptions, FailSpec};
use bytes::Bytes;
use http::Method;
use http_body_util::{BodyExt, Full};
use hyper_util::rt::TokioExecutor;
use serde_json::{Value, json};

use common::{Api, MERCHANT, card, emitted, payment, s, start, start_with};

fn authorisations(emulator: &Emulator) -> usize {
    emulator
        .webhooks()
        .emitted()
        .iter()
        .filter(|i| i["eventCode"] == "AUTHORISATION")
        .count()
}

#[tokio::test]
async fn api_keys_merchant_accounts_and_unknown_paths() {
    let (_emulator, api) = start_with(EmulatorOptions {
        api_keys: vec![common::KEY.to_string()],
        merchant_accounts: vec![MERCHANT.to_string()],
        ..EmulatorOptions::default()
    })
    .await;
    let body = payment(100, "EUR", card("4111111111111111"));
    let none = api
        .send(
            Method::POST,
            "/v71/payments",
            Some(&body),
            &[("x-api-key", "")],
        )
        .await;
    let e = none.error(401, "000");
    assert_eq!(e["errorType"], "security");
    assert_eq!(e["message"], "HTTP Status Response - Unauthorized");
    api.send(
        Method::POST,
        "/v71/payments",
        Some(&body),
        &[("x-api-key", "AQE_wrong")],
    )
    .await
    .error(401, "000");
    let mut other = body.clone();
    other["merchantAccount"] = json!("SomeoneElse");
    let forbidden = api.post("/payments", &other).await;
    assert_eq!(
        forbidden.error(403, "901")["message"],
        "Invalid Merchant Account"
    );
    assert_eq!(api.post("/payments", &body).await.status, 200);
    api.get("/nothing").await.error(404, "000");
    // Another API version is not served.
    let v70 = api
        .send(Method::POST, "/v70/payments", Some(&body), &[])
        .await;
    assert_eq!(v70.status, 404);
    assert_eq!(api.page("/_emulator/health").await.ok()["apiVersion"], 71);
}

#[tokio::test]
async fn idempotent_replay_mismatch_and_limits() {
    let (emulator, api) = start().await;
    let body = payment(1000, "EUR", card("4111111111111111"));
    let first = api.post_key("/payments", &body, "order-1").await;
    assert_eq!(first.status, 200);
    assert_eq!(first.header("idempotency-key"), Some("order-1"));
    // Same key, same body (keys in another order): the saved answer, no second payment.
    let reordered: Value = serde_json::from_str(&{
        let mut fields: Vec<(String, Value)> =
            body.as_object().unwrap().clone().into_iter().collect();
        fields.reverse();
        let map: serde_json::Map<String, Value> = fields.into_iter().collect();
        Value::Object(map).to_string()
    })
    .unwrap();
    let replay = api.post_key("/payments", &reordered, "order-1").await;
    assert_eq!(replay.status, 200);
    assert_eq!(replay.text, first.text);
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert_eq!(authorisations(&emulator), 1);
    // Same key, another body, or another endpoint: 422 / 704, not to be retried.
    let mut changed = body.clone();
    changed["amount"]["value"] = json!(1001);
    let mismatch = api.post_key("/payments", &changed, "order-1").await;
    mismatch.error(422, "704");
    assert_eq!(
        mismatch.json["message"],
        "request already processed or in progress"
    );
    assert_eq!(mismatch.header("transient-error"), Some("false"));
    let elsewhere = api.post_key("/sessions", &body, "order-1").await;
    elsewhere.error(422, "704");
    // Refusals are answers too: replayed.
    let mut refused = payment(1000, "EUR", card("4111111111111111"));
    refused["paymentMethod"]["holderName"] = json!("DECLINED");
    let a = api.post_key("/payments", &refused, "order-2").await;
    let b = api.post_key("/payments", &refused, "order-2").await;
    assert_eq!(
        (a.json["resultCode"].as_str(), a.text.as_str()),
        (Some("Refused"), b.text.as_str())
    );
    // Validation failures are not saved: the key works once the request is corrected.
    let mut invalid = body.clone();
    invalid["amount"]["currency"] = json!("XXX");
    api.post_key("/payments", &invalid, "order-3")
        .await
        .error(422, "138");
    assert_eq!(
        api.post_key("/payments", &body, "order-3").await.status,
        200
    );
    // At most 64 characters.
    api.post_key("/payments", &body, &"k".repeat(65))
        .await
        .error(400, "702");
    assert_eq!(
        api.post_key("/payments", &body, &"k".repeat(64))
            .await
            .status,
        200
    );
    // Kept 7 days of the emulator's clock, then forgotten.
    let before = authorisations(&emulator);
    emulator.clock().advance(Duration::from_secs(6 * 86_400));
    assert_eq!(
        api.post_key("/payments", &body, "order-1").await.text,
        first.text
    );
    emulator.clock().advance(Duration::from_secs(86_400 + 60));
    let fresh = api.post_key("/payments", &body, "order-1").await.ok();
    assert_ne!(fresh["pspReference"], first.json["pspReference"]);
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert_eq!(authorisations(&emulator), before + 1);
}

#[tokio::test]
async fn concurrent_use_of_one_key_is_a_transient_704() {
    let (emulator, api) = start().await;
    emulator.faults().set_latency(Duration::from_millis(400));
    let body = payment(1000, "EUR", card("4111111111111111"));
    let first = {
        let (api, body) = (api.clone(), body.clone());
        tokio::spawn(async move { api.post_key("/payments", &body, "same").await })
    };
    tokio::time::sleep(Duration::from_millis(100)).await;
    let second = api.post_key("/payments", &body, "same").await;
    second.error(409, "704");
    assert_eq!(second.header("transient-error"), Some("true"));
    let first = first.await.unwrap();
    assert_eq!(first.status, 200);
    emulator.faults().set_latency(Duration::ZERO);
    let retry = api.post_key("/payments", &body, "same").await;
    assert_eq!(retry.text, first.text);
    assert_eq!(authorisations(&emulator), 1);
}

#[tokio::test]
async fn faults_fail_delay_and_drop() {
    let (emulator, api) = start().await;
    let body = payment(100, "EUR", card("4111111111111111"));
    emulator.faults().fail_next(FailSpec {
        count: 2,
        status: 503,
        path_prefix: Some("/v71/payments".into()),
        transient_error: Some(true),
    });
    // Other paths, and admin routes, are not affected.
    assert_eq!(api.post("/sessions", &json!({})).await.status, 403);
    assert_eq!(api.page("/_emulator/health").await.status, 200);
    for _ in 0..2 {
        let failed = api.post_key("/payments", &body, "k-1").await;
        failed.error(503, "000");
        assert_eq!(failed.header("transient-error"), Some("true"));
    }
    // Nothing executed nor saved: the key now pays.
    let paid = api.post_key("/payments", &body, "k-1").await.ok();
    assert_eq!(paid["resultCode"], "Authorised");
    emulator.faults().fail_next(FailSpec {
        status: 429,
        ..FailSpec::default()
    });
    api.post("/payments", &body).await.error(429, "000");
    api.admin("faults/fail_next", &[("count", "1"), ("status", "500")])
        .await;
    let internal = api.post("/payments", &body).await;
    assert_eq!(internal.error(500, "000")["errorType"], "internal");
    api.admin("faults/fail_next", &[("count", "3")]).await;
    api.admin("faults/clear", &[]).await;
    assert_eq!(api.post("/payments", &body).await.status, 200);
    // Latency.
    api.admin("faults/latency", &[("ms", "150")]).await;
    let t = Instant::now();
    assert_eq!(api.post("/payments", &body).await.status, 200);
    assert!(t.elapsed() >= Duration::from_millis(150));
    api.admin("faults/latency", &[("ms", "0")]).await;
    // Commit then drop: the payment happened, the client saw nothing, the key replays it.
    emulator
        .faults()
        .drop_after_commit(1, Some("/v71/payments".into()));
    let before = authorisations(&emulator);
    let lost = api
        .try_send(
            Method::POST,
            "/v71/payments",
            Some(Bytes::from(body.to_string())),
            &[
                ("content-type", "application/json"),
                ("idempotency-key", "lost-1"),
            ],
        )
        .await;
    assert!(lost.is_err(), "the client must see no answer: {lost:?}");
    let replay = api.post_key("/payments", &body, "lost-1").await.ok();
    let psp = s(&replay["pspReference"]).to_string();
    assert_eq!(
        emitted(&emulator, "AUTHORISATION", &psp).await["success"],
        "true"
    );
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert_eq!(authorisations(&emulator), before + 1);
    api.admin("faults/drop_after_commit", &[("count", "1")])
        .await;
    assert!(
        api.try_send(Method::GET, "/v71/storedPaymentMethods", None, &[])
            .await
            .is_err()
    );
}

#[tokio::test]
async fn the_clock_dates_notifications_and_sessions() {
    let (emulator, api) = start_with(EmulatorOptions {
        clock_start: Some(1_700_000_000),
        ..EmulatorOptions::default()
    })
    .await;
    let answer = api.pay("4111111111111111", 100).await;
    let item = emitted(&emulator, "AUTHORISATION", s(&answer["pspReference"])).await;
    assert!(
        s(&item["eventDate"]).starts_with("2023-11-14T22:13"),
        "{}",
        item["eventDate"]
    );
    let now = api.page("/_emulator/clock").await.ok()["now"]
        .as_i64()
        .unwrap();
    assert!((1_700_000_000..1_700_000_010).contains(&now));
    let advanced = api.admin("clock/advance", &[("seconds", "86400")]).await;
    assert!(advanced["now"].as_i64().unwrap() >= 1_700_086_400);
    api.admin("clock/set", &[("now", "1800000000")]).await;
    let session = api
        .post(
            "/sessions",
            &json!({"merchantAccount": MERCHANT, "amount": {"value": 100, "currency": "EUR"}, "reference": "r", "returnUrl": common::RETURN_URL}),
        )
        .await
        .ok();
    assert!(
        s(&session["expiresAt"]).starts_with("2027-01-15T09:00"),
        "{}",
        session["expiresAt"]
    );
    // An expired card is judged by the emulator's clock.
    emulator.clock().set(1_924_992_000 + 40 * 86_400); // 2031
    let refused = api.pay("4111111111111111", 100).await;
    assert_eq!(refused["refusalReason"], "Expired Card");
}

#[tokio::test]
async fn tls_listener_speaks_h2_and_http1_with_the_generated_ca() {
    let emulator = Emulator::start(EmulatorOptions {
        tls: true,
        ..EmulatorOptions::default()
    })
    .await
    .unwrap();
    let base = emulator.tls_base_url().unwrap().to_string();
    assert!(base.starts_with("https://localhost:"));
    let pem = emulator.ca_certificate_pem().unwrap();
    use rustls::pki_types::CertificateDer;
    use rustls::pki_types::pem::PemObject;
    let mut roots = rustls::RootCertStore::empty();
    for cert in CertificateDer::pem_slice_iter(pem.as_bytes()) {
        roots.add(cert.unwrap()).unwrap();
    }
    let config = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_root_certificates(roots)
    .with_no_client_auth();
    let body = payment(100, "EUR", card("4111111111111111"));
    for (h2, expected) in [
        (true, http::Version::HTTP_2),
        (false, http::Version::HTTP_11),
    ] {
        let builder = hyper_rustls::HttpsConnectorBuilder::new()
            .with_tls_config(config.clone())
            .https_only()
            .enable_http1();
        let connector = if h2 {
            builder.enable_http2().build()
        } else {
            builder.build()
        };
        let client: hyper_util::client::legacy::Client<_, Full<Bytes>> =
            hyper_util::client::legacy::Client::builder(TokioExecutor::new()).build(connector);
        for host in [base.clone(), base.replace("localhost", "127.0.0.1")] {
            for _ in 0..3 {
                let request = http::Request::post(format!("{host}/v71/payments"))
                    .header("x-api-key", common::KEY)
                    .header("content-type", "application/json")
                    .body(Full::new(Bytes::from(body.to_string())))
                    .unwrap();
                let response = client.request(request).await.unwrap();
                assert_eq!(response.version(), expected);
                assert_eq!(response.status(), 200);
                let bytes = response.into_body().collect().await.unwrap().to_bytes();
                let json: Value = serde_json::from_slice(&bytes).unwrap();
                assert_eq!(json["resultCode"], "Authorised");
            }
        }
    }
    // 3-D Secure actions name the listener the request came through.
    let api = Api::new(emulator.base_url());
    let answer = api.pay("4212345678910006", 100).await;
    assert!(s(&answer["action"]["url"]).starts_with(emulator.base_url()));
}

#[tokio::test]
async fn dropping_the_emulator_stops_it() {
    let (emulator, api) = start().await;
    assert_eq!(api.page("/_emulator/health").await.status, 200);
    drop(emulator);
    tokio::time::sleep(Duration::from_millis(50)).await;
    let fresh = Api::new(&api.base);
    assert!(
        fresh
            .try_send(Method::GET, "/_emulator/health", None, &[])
            .await
            .is_err()
    );
}
