//! The wire protocol: auth, headers, errors, idempotency, faults, the clock, webhooks and TLS.

mod common;

use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use http::Method;
use http_body_util::{BodyExt, Full};
use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo};
use serde_json::Value;
use stripe_emulator::{Emulator, EmulatorOptions, FailSpec};
use tokio::sync::mpsc;

use common::{Api, form, s, start};

#[tokio::test]
async fn auth_headers_and_errors() {
    let (_emulator, api) = start().await;
    let none = api
        .send(
            Method::GET,
            "/v1/customers",
            String::new(),
            &[("authorization", "")],
        )
        .await;
    assert_eq!(none.status, 401);
    assert_eq!(none.error()["type"], "invalid_request_error");
    assert!(none.header("request-id").unwrap().starts_with("req_"));
    let live = api
        .send(
            Method::GET,
            "/v1/customers",
            String::new(),
            &[("authorization", "Bearer sk_live_supersecret1234")],
        )
        .await;
    assert_eq!(live.status, 401);
    let message = s(&live.error()["message"]);
    assert!(
        message.contains("1234") && !message.contains("supersecret"),
        "{message}"
    );
    // HTTP Basic with the key as user name ("sk_test_abc:").
    let basic = api
        .send(
            Method::GET,
            "/v1/customers",
            String::new(),
            &[("authorization", "Basic c2tfdGVzdF9hYmM6")],
        )
        .await;
    assert_eq!(basic.status, 200);

    let pinned = api
        .send(
            Method::GET,
            "/v1/customers",
            String::new(),
            &[("stripe-version", "2024-06-20")],
        )
        .await;
    assert_eq!(pinned.header("stripe-version"), Some("2024-06-20"));
    let default = api.get("/v1/customers").await;
    assert_eq!(
        default.header("stripe-version"),
        Some(stripe_emulator::API_VERSION)
    );
    assert_ne!(default.header("request-id"), pinned.header("request-id"));

    let unknown = api.get("/v1/nothing_here").await;
    assert_eq!(unknown.status, 404);
    assert!(
        s(&unknown.error()["message"])
            .starts_with("Unrecognized request URL (GET: /v1/nothing_here)")
    );
    assert!(unknown.header("request-id").is_some());
    let conflict = api
        .send(
            Method::POST,
            "/v1/customers",
            "metadata=1&metadata[a]=2".into(),
            &[],
        )
        .await;
    assert_eq!(conflict.status, 400);
    // Query parameters on DELETE.
    let customer = api.customer().await;
    let deleted = api
        .delete(&format!("/v1/customers/{customer}?expand[]=nothing"))
        .await;
    assert_eq!(deleted.status, 200);
}

fn pi_form(customer: &str, amount: &str) -> Vec<(&'static str, String)> {
    [
        ("amount", amount),
        ("currency", "usd"),
        ("customer", customer),
        ("payment_method", "pm_card_visa"),
        ("confirm", "true"),
    ]
    .into_iter()
    .map(|(k, v)| (k, v.to_string()))
    .collect()
}

fn pairs<'a>(v: &'a [(&'static str, String)]) -> Vec<(&'static str, &'a str)> {
    v.iter().map(|(k, v)| (*k, v.as_str())).collect()
}

async fn count_intents(api: &Api) -> usize {
    api.get_q("/v1/payment_intents", &[("limit", "100")])
        .await
        .ok()["data"]
        .as_array()
        .unwrap()
        .len()
}

#[tokio::test]
async fn idempotent_replay_conflicts_and_scoping() {
    let (_emulator, api) = start().await;
    let customer = api.customer().await;
    let body = pi_form(&customer, "1000");
    let first = api
        .post_key("/v1/payment_intents", &pairs(&body), "order-1")
        .await;
    assert_eq!(first.status, 200);
    assert_eq!(first.header("idempotent-replayed"), None);
    // Same key, same parameters (in another order): the saved answer, not a second charge.
    let mut reordered = pairs(&body);
    reordered.reverse();
    let replay = api
        .post_key("/v1/payment_intents", &reordered, "order-1")
        .await;
    assert_eq!(replay.status, 200);
    assert_eq!(replay.header("idempotent-replayed"), Some("true"));
    assert_eq!(
        replay.header("original-request"),
        first.header("request-id")
    );
    assert_eq!(replay.json, first.json);
    assert_eq!(count_intents(&api).await, 1);

    // Same key, other parameters: 400 idempotency_error.
    let other = api
        .post_key(
            "/v1/payment_intents",
            &pairs(&pi_form(&customer, "1001")),
            "order-1",
        )
        .await;
    assert_eq!(other.status, 400);
    assert_eq!(other.error()["type"], "idempotency_error");
    // Same key on another endpoint: refused too.
    let elsewhere = api.post_key("/v1/customers", &[], "order-1").await;
    assert_eq!(elsewhere.status, 400);
    assert_eq!(elsewhere.error()["type"], "idempotency_error");

    // Errors are saved and replayed: a decline stays a decline under its key.
    let declined_form = vec![
        ("amount", "1000"),
        ("currency", "usd"),
        ("customer", customer.as_str()),
        ("payment_method", "pm_card_chargeDeclined"),
        ("confirm", "true"),
    ];
    let declined = api
        .post_key("/v1/payment_intents", &declined_form, "order-2")
        .await;
    assert_eq!(declined.status, 402);
    let declined_again = api
        .post_key("/v1/payment_intents", &declined_form, "order-2")
        .await;
    assert_eq!(declined_again.status, 402);
    assert_eq!(declined_again.header("idempotent-replayed"), Some("true"));
    assert_eq!(declined_again.json, declined.json);

    // Validation failures are not saved: the same key works once corrected.
    let invalid = api
        .post_key("/v1/payment_intents", &[("currency", "usd")], "order-3")
        .await;
    assert_eq!(invalid.status, 400);
    let corrected = api
        .post_key(
            "/v1/payment_intents",
            &pairs(&pi_form(&customer, "500")),
            "order-3",
        )
        .await;
    assert_eq!(corrected.status, 200);
    assert_eq!(corrected.header("idempotent-replayed"), None);
    // Keys do nothing on GET.
    let get = api
        .send(
            Method::GET,
            "/v1/customers",
            String::new(),
            &[("idempotency-key", "order-1")],
        )
        .await;
    assert_eq!(get.status, 200);
    let too_long = api.post_key("/v1/customers", &[], &"k".repeat(256)).await;
    assert_eq!(too_long.status, 400);
}

#[tokio::test]
async fn concurrent_request_with_the_same_key_gets_409() {
    let (emulator, api) = start().await;
    let customer = api.customer().await;
    emulator.faults().set_latency(Duration::from_millis(400));
    let intent = pi_form(&customer, "1000");
    let a = {
        let (api, intent) = (api.clone(), intent.clone());
        tokio::spawn(async move {
            api.post_key("/v1/payment_intents", &pairs(&intent), "same")
                .await
        })
    };
    tokio::time::sleep(Duration::from_millis(100)).await;
    let b = api
        .post_key("/v1/payment_intents", &pairs(&intent), "same")
        .await;
    let a = a.await.unwrap();
    assert_eq!(a.status, 200);
    assert_eq!(b.status, 409);
    assert_eq!(b.error()["code"], "idempotency_key_in_use");
    emulator.faults().set_latency(Duration::ZERO);
    // Not saved: the retry replays the first request's answer.
    let retry = api
        .post_key("/v1/payment_intents", &pairs(&intent), "same")
        .await;
    assert_eq!(retry.status, 200);
    assert_eq!(retry.header("idempotent-replayed"), Some("true"));
    assert_eq!(retry.json["id"], a.json["id"]);
    assert_eq!(count_intents(&api).await, 1);
}

#[tokio::test]
async fn fail_next_with_status_retry_header_and_prefix() {
    let (emulator, api) = start().await;
    let faults = emulator.faults();
    faults.fail_next(FailSpec {
        count: 2,
        status: 503,
        path_prefix: Some("/v1/customers".into()),
        should_retry: Some(true),
        lock_timeout: false,
    });
    // Other paths are not affected.
    assert_eq!(api.get("/v1/balance").await.status, 200);
    for _ in 0..2 {
        let failed = api
            .post_key("/v1/customers", &[("email", "x@example.com")], "cust-1")
            .await;
        assert_eq!(failed.status, 503);
        assert_eq!(failed.error()["type"], "api_error");
        assert_eq!(failed.header("stripe-should-retry"), Some("true"));
        assert!(failed.header("request-id").is_some());
    }
    // Nothing was executed or saved: the same key now creates the customer.
    let ok = api
        .post_key("/v1/customers", &[("email", "x@example.com")], "cust-1")
        .await;
    assert_eq!(ok.status, 200);
    assert_eq!(ok.header("idempotent-replayed"), None);
    let listed = api.get("/v1/customers").await.ok();
    assert_eq!(listed["data"].as_array().unwrap().len(), 1);

    faults.fail_next(FailSpec {
        status: 429,
        lock_timeout: true,
        ..FailSpec::default()
    });
    let locked = api.get("/v1/customers").await;
    assert_eq!(locked.status, 429);
    assert_eq!(locked.error()["code"], "lock_timeout");
    faults.fail_next(FailSpec {
        status: 429,
        should_retry: Some(false),
        ..FailSpec::default()
    });
    let limited = api.get("/v1/customers").await;
    assert_eq!(limited.status, 429);
    assert_eq!(limited.error()["code"], "rate_limit");
    assert_eq!(limited.header("stripe-should-retry"), Some("false"));
    faults.fail_next(FailSpec::default());
    let internal = api.get("/v1/customers").await;
    assert_eq!(internal.status, 500);
    assert_eq!(internal.header("stripe-should-retry"), None);
    assert_eq!(api.get("/v1/customers").await.status, 200);

    // The same through the admin routes.
    api.admin(
        "faults/fail_next",
        &[
            ("count", "1"),
            ("status", "503"),
            ("path_prefix", "/v1/payment_intents"),
        ],
    )
    .await;
    assert_eq!(api.get("/v1/payment_intents").await.status, 503);
    assert_eq!(api.get("/v1/payment_intents").await.status, 200);
    api.admin("faults/fail_next", &[("count", "5")]).await;
    api.admin("faults/clear", &[]).await;
    assert_eq!(api.get("/v1/payment_intents").await.status, 200);
}

#[tokio::test]
async fn latency_is_added() {
    let (emulator, api) = start().await;
    emulator.faults().set_latency(Duration::from_millis(150));
    let t = Instant::now();
    assert_eq!(api.get("/v1/customers").await.status, 200);
    assert!(t.elapsed() >= Duration::from_millis(150));
    api.admin("faults/latency", &[("ms", "0")]).await;
    let t = Instant::now();
    api.get("/v1/customers").await.ok();
    assert!(t.elapsed() < Duration::from_millis(150));
    api.admin("faults/latency", &[("ms", "120")]).await;
    let t = Instant::now();
    api.get("/v1/customers").await.ok();
    assert!(t.elapsed() >= Duration::from_millis(120));
}

#[tokio::test]
async fn commit_then_drop_the_connection() {
    let (emulator, api) = start().await;
    let customer = api.customer().await;
    emulator
        .faults()
        .drop_after_commit(1, Some("/v1/payment_intents".into()));
    let intent = pi_form(&customer, "4200");
    let lost = api
        .try_send(
            Method::POST,
            "/v1/payment_intents",
            form(&pairs(&intent)),
            &[("idempotency-key", "pay-1")],
        )
        .await;
    assert!(lost.is_err(), "the client must see no response: {lost:?}");
    // The charge happened anyway.
    let listed = api.get("/v1/payment_intents").await.ok();
    assert_eq!(listed["data"].as_array().unwrap().len(), 1);
    assert_eq!(listed["data"][0]["status"], "succeeded");
    // Reconciling with the same key returns the original outcome without charging again.
    let replay = api
        .post_key("/v1/payment_intents", &pairs(&intent), "pay-1")
        .await;
    assert_eq!(replay.status, 200);
    assert_eq!(replay.header("idempotent-replayed"), Some("true"));
    assert_eq!(replay.json["id"], listed["data"][0]["id"]);
    assert_eq!(count_intents(&api).await, 1);
    // Admin route variant.
    api.admin("faults/drop_after_commit", &[("count", "1")])
        .await;
    assert!(
        api.try_send(Method::GET, "/v1/customers", String::new(), &[])
            .await
            .is_err()
    );
    assert_eq!(api.get("/v1/customers").await.status, 200);
}

#[tokio::test]
async fn clock_controls_created_and_admin_routes() {
    let emulator = Emulator::start(EmulatorOptions {
        clock_start: Some(1_700_000_000),
        ..EmulatorOptions::default()
    })
    .await
    .unwrap();
    let api = Api::new(emulator.base_url());
    let near = |t: i64, expected: i64| (expected..expected + 5).contains(&t);
    assert!(near(emulator.clock().now(), 1_700_000_000));
    let c = api.post("/v1/customers", &[]).await.ok();
    assert!(near(c["created"].as_i64().unwrap(), 1_700_000_000));
    emulator.clock().set(1_800_000_000);
    let c = api.post("/v1/customers", &[]).await.ok();
    assert!(near(c["created"].as_i64().unwrap(), 1_800_000_000));
    let now = api.get("/_emulator/clock").await.ok()["now"]
        .as_i64()
        .unwrap();
    assert!(near(now, 1_800_000_000));
    let advanced = api.admin("clock/advance", &[("seconds", "86400")]).await;
    assert!(near(advanced["now"].as_i64().unwrap(), 1_800_086_400));
    let set = api.admin("clock/set", &[("now", "1750000000")]).await;
    assert!(near(set["now"].as_i64().unwrap(), 1_750_000_000));
    assert_eq!(api.get("/_emulator/health").await.status, 200);
}

/// A webhook receiver that fails the first `fail_first` deliveries with a 500.
async fn receiver(fail_first: usize) -> (String, mpsc::UnboundedReceiver<(String, Bytes, u16)>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/hook", listener.local_addr().unwrap());
    let (tx, rx) = mpsc::unbounded_channel();
    let seen = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                return;
            };
            let (tx, seen) = (tx.clone(), seen.clone());
            tokio::spawn(async move {
                let service = service_fn(move |req: http::Request<hyper::body::Incoming>| {
                    let (tx, seen) = (tx.clone(), seen.clone());
                    async move {
                        let signature = req
                            .headers()
                            .get("stripe-signature")
                            .map(|v| v.to_str().unwrap().to_string())
                            .unwrap_or_default();
                        let body = req.into_body().collect().await.unwrap().to_bytes();
                        let n = seen.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                        let status = if n < fail_first { 500 } else { 200 };
                        let _ = tx.send((signature, body, status));
                        Ok::<_, std::convert::Infallible>(
                            http::Response::builder()
                                .status(status)
                                .body(Full::new(Bytes::new()))
                                .unwrap(),
                        )
                    }
                });
                let _ = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new())
                    .serve_connection(TokioIo::new(stream), service)
                    .await;
            });
        }
    });
    (url, rx)
}

fn verify(secret: &str, header: &str, body: &[u8]) -> i64 {
    let mut t = None;
    let mut v1 = Vec::new();
    for part in header.split(',') {
        match part.split_once('=') {
            Some(("t", value)) => t = Some(value.parse::<i64>().unwrap()),
            Some(("v1", value)) => v1.push(value.to_string()),
            _ => {}
        }
    }
    let t = t.expect("t= in Stripe-Signature");
    // Independent HMAC computation, as a webhook consumer would do it.
    use hmac::{Hmac, Mac};
    let mut mac = Hmac::<sha2::Sha256>::new_from_slice(secret.as_bytes()).unwrap();
    mac.update(format!("{t}.").as_bytes());
    mac.update(body);
    let expected = hex::encode(mac.finalize().into_bytes());
    assert!(v1.contains(&expected), "signature mismatch: {header}");
    t
}

async fn next_delivery(
    rx: &mut mpsc::UnboundedReceiver<(String, Bytes, u16)>,
) -> (String, Bytes, u16) {
    tokio::time::timeout(Duration::from_secs(10), rx.recv())
        .await
        .expect("a webhook delivery")
        .unwrap()
}

#[tokio::test]
async fn webhooks_are_signed_retried_and_filtered() {
    let emulator = Emulator::start(EmulatorOptions {
        clock_start: Some(1_700_000_000),
        ..EmulatorOptions::default()
    })
    .await
    .unwrap();
    let api = Api::new(emulator.base_url());
    let (url, mut rx) = receiver(2).await;
    let secret = emulator.add_webhook_endpoint(&url);
    assert!(secret.starts_with("whsec_"));
    // A second endpoint through the admin route, only for invoice events.
    let (invoice_url, mut invoice_rx) = receiver(0).await;
    let endpoint = api
        .admin(
            "webhook_endpoints",
            &[("url", &invoice_url), ("enabled_events[]", "invoice.*")],
        )
        .await;
    let invoice_secret = s(&endpoint["secret"]).to_string();

    let pi = api.paid_intent("pm_card_visa", 1000, "usd").await;
    let mut failures = 0;
    let mut succeeded_event = None;
    while succeeded_event.is_none() {
        let (signature, body, status) = next_delivery(&mut rx).await;
        let t = verify(&secret, &signature, &body);
        assert!(
            (1_700_000_000..1_700_000_100).contains(&t),
            "t from the emulator clock: {t}"
        );
        if status != 200 {
            failures += 1;
            continue;
        }
        let event: Value = serde_json::from_slice(&body).unwrap();
        assert!((1_700_000_000..1_700_000_100).contains(&event["created"].as_i64().unwrap()));
        if event["type"] == "payment_intent.succeeded" {
            assert_eq!(event["data"]["object"]["id"], pi["id"]);
            succeeded_event = Some(event);
        }
    }
    assert_eq!(failures, 2, "the refused deliveries were retried");
    // Each event is in GET /v1/events too.
    let id = s(&succeeded_event.unwrap()["id"]).to_string();
    assert_eq!(api.get(&format!("/v1/events/{id}")).await.status, 200);

    // The invoice endpoint only gets invoice events.
    let customer = api.customer().await;
    api.open_invoice(&customer, "100").await;
    let mut kinds = Vec::new();
    while kinds.len() < 2 {
        let (signature, body, _) = next_delivery(&mut invoice_rx).await;
        verify(&invoice_secret, &signature, &body);
        let event: Value = serde_json::from_slice(&body).unwrap();
        kinds.push(s(&event["type"]).to_string());
    }
    kinds.sort();
    assert_eq!(kinds, vec!["invoice.created", "invoice.finalized"]);

    // The signature helper the library exports agrees with an independent computation.
    let header = stripe_emulator::signature_header(&secret, 1_700_000_000, b"{}");
    assert_eq!(verify(&secret, &header, b"{}"), 1_700_000_000);
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
        // Several requests over one connection (reuse), on both host spellings.
        for host in [base.clone(), base.replace("localhost", "127.0.0.1")] {
            for _ in 0..3 {
                let request = http::Request::post(format!("{host}/v1/customers"))
                    .header("authorization", "Bearer sk_test_tls")
                    .header("content-type", "application/x-www-form-urlencoded")
                    .body(Full::new(Bytes::from("email=tls%40example.com")))
                    .unwrap();
                let response = client.request(request).await.unwrap();
                assert_eq!(response.version(), expected);
                assert_eq!(response.status(), 200);
                let body = response.into_body().collect().await.unwrap().to_bytes();
                let json: Value = serde_json::from_slice(&body).unwrap();
                assert_eq!(json["email"], "tls@example.com");
            }
        }
    }
    // The plain listener shares the same state.
    let api = Api::new(emulator.base_url());
    let listed = api.get_q("/v1/customers", &[("limit", "100")]).await.ok();
    assert_eq!(listed["data"].as_array().unwrap().len(), 12);
}

#[tokio::test]
async fn dropping_the_emulator_stops_it() {
    let (emulator, api) = start().await;
    assert_eq!(api.get("/v1/customers").await.status, 200);
    drop(emulator);
    tokio::time::sleep(Duration::from_millis(50)).await;
    let fresh = Api::new(&api.base);
    assert!(
        fresh
            .try_send(Method::GET, "/v1/customers", String::new(), &[])
            .await
            .is_err()
    );
}
