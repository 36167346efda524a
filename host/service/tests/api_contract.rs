//! The API's contract over real HTTP: the OpenAPI document (valid 3.1, the same routes as the
//! router), the JSON error shape from every layer, and bad input refused before anything is
//! written, at the service or (for what only the gateway knows) at the gateway.

use crate::common;

use std::collections::BTreeSet;

use common::{EnvOptions, expect_error, expect_error_code, start};
use omnicrm_pay::client::ApiResponse;
use serde_json::{Value, json};

const METHODS: [&str; 5] = ["GET", "POST", "PUT", "PATCH", "DELETE"];

/// Every `$ref` in `v`.
fn refs<'a>(v: &'a Value, out: &mut Vec<&'a str>) {
    match v {
        Value::Object(m) => {
            for (k, x) in m {
                match (k.as_str(), x) {
                    ("$ref", Value::String(r)) => out.push(r),
                    _ => refs(x, out),
                }
            }
        }
        Value::Array(a) => a.iter().for_each(|x| refs(x, out)),
        _ => {}
    }
}

/// Checks what OpenAPI 3.1 requires of the document's structure, beyond what parsing it checks.
fn check_structure(doc: &Value) {
    assert_eq!(doc["openapi"], "3.1.0");
    assert!(!doc["info"]["title"].as_str().unwrap().is_empty());
    assert!(!doc["info"]["version"].as_str().unwrap().is_empty());
    let schemas = doc["components"]["schemas"].as_object().unwrap();
    let mut all = Vec::new();
    refs(doc, &mut all);
    assert!(!all.is_empty());
    for r in all {
        let name = r
            .strip_prefix("#/components/schemas/")
            .unwrap_or_else(|| panic!("{r} points outside the components"));
        assert!(schemas.contains_key(name), "{r} points nowhere");
    }
    let schemes = doc["components"]["securitySchemes"].as_object().unwrap();
    let mut operation_ids = BTreeSet::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        assert!(path.starts_with('/'), "{path}");
        let templated: BTreeSet<&str> = path
            .split('/')
            .filter_map(|s| s.strip_prefix('{').and_then(|s| s.strip_suffix('}')))
            .collect();
        for (method, op) in item.as_object().unwrap() {
            assert!(
                METHODS.contains(&method.to_uppercase().as_str()),
                "{method} {path}"
            );
            let in_path: BTreeSet<&str> = op["parameters"]
                .as_array()
                .map(|ps| {
                    ps.iter()
                        .filter(|p| p["in"] == "path")
                        .inspect(|p| assert_eq!(p["required"], true, "{method} {path}"))
                        .map(|p| p["name"].as_str().unwrap())
                        .collect()
                })
                .unwrap_or_default();
            assert_eq!(in_path, templated, "{method} {path}: path parameters");
            let responses = op["responses"].as_object().unwrap();
            assert!(
                responses.keys().any(|s| s.starts_with('2')),
                "{method} {path} documents no success"
            );
            assert!(!op["summary"].as_str().unwrap_or("").is_empty());
            let id = op["operationId"].as_str().unwrap();
            assert!(operation_ids.insert(id.to_string()), "{id} twice");
            if path.starts_with("/v1/") {
                let scheme = op["security"][0].as_object().unwrap();
                assert!(schemes.contains_key(scheme.keys().next().unwrap()));
            } else {
                assert!(op["security"].is_null(), "{method} {path} needs no key");
            }
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_document_is_valid_openapi_3_1_and_matches_the_router() {
    let mut env = start(EnvOptions::default()).await;
    let r = env.anonymous.get("/openapi.json").await.unwrap();
    assert_eq!(r.status, 200);
    assert_eq!(r.header("content-type"), Some("application/json"));
    let doc = r.json.clone();
    assert_eq!(
        doc,
        serde_json::to_value(omnicrm_pay::api::document()).unwrap(),
        "served as generated"
    );
    // Valid OpenAPI 3.1: it parses as such, and has the structure the specification requires.
    let spec = oas3::from_json(String::from_utf8_lossy(&r.raw).as_ref()).expect("OpenAPI 3.1");
    assert!(spec.openapi.starts_with("3.1"));
    check_structure(&doc);
    // A body is required where the API requires one.
    let paths = &doc["paths"];
    assert_eq!(
        paths["/v1/transactions"]["post"]["requestBody"]["required"],
        true
    );
    assert_ne!(
        paths["/v1/transactions/{id}/capture"]["post"]["requestBody"]["required"],
        true
    );
    // The amounts' documented bounds are the service's.
    let amount = &doc["components"]["schemas"]["CreateTransaction"]["properties"]["amount"];
    assert_eq!(
        (amount["minimum"].as_i64(), amount["maximum"].as_i64()),
        (Some(1), Some(omnicrm_pay::payments::MAX_AMOUNT))
    );

    // Every documented operation is routed, and the router answers exactly the documented
    // methods on each path: the others are 405 with an `Allow` of the documented ones.
    let mut operations = 0;
    for (path, item) in doc["paths"].as_object().unwrap() {
        let documented: BTreeSet<String> = item
            .as_object()
            .unwrap()
            .keys()
            .map(|m| m.to_uppercase())
            .collect();
        let concrete = path
            .replace("{customer_id}", "c-none")
            .replace("{card_id}", "1")
            .replace("{id}", "1")
            .replace("{gateway}", "stripe");
        for method in METHODS {
            let body = (method != "GET").then(|| b"{}".to_vec());
            let r = env.api.send(method, &concrete, body, &[]).await.unwrap();
            assert!(r.json["error"].is_object() || r.status < 400, "{r:?}");
            if documented.contains(method) {
                operations += 1;
                assert!(
                    !(r.status == 404 && r.json["error"]["field"] == "path") && r.status != 405,
                    "{method} {path} is documented but not routed: {} {}",
                    r.status,
                    r.json
                );
            } else {
                expect_error_code(&r, 405, "method_not_allowed");
                let allowed: BTreeSet<String> = r
                    .header("allow")
                    .unwrap_or_else(|| panic!("{method} {path}: no Allow"))
                    .split(',')
                    .map(|m| m.trim().to_string())
                    .filter(|m| m != "HEAD")
                    .collect();
                assert_eq!(allowed, documented, "{path}: routed methods");
            }
        }
    }
    assert!(operations >= 25, "{operations} operations");
    for path in [
        "/v1/nothing-here",
        "/nothing-here",
        "/v1/transactions/1/refund",
    ] {
        let r = env.get(path).await;
        expect_error(&r, 404, "path");
    }
    env.stop().await;
}

/// Asserts that `r` is an error in the JSON shape, naming a field.
#[track_caller]
fn json_error(r: &ApiResponse, status: u16, code: &str, field: &str) {
    assert_eq!(r.header("content-type"), Some("application/json"), "{r:?}");
    expect_error_code(r, status, code);
    assert_eq!(r.json["error"]["field"], field, "{}", r.json);
    assert!(
        !r.json["error"]["message"].as_str().unwrap().is_empty(),
        "{}",
        r.json
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_error_has_the_json_shape_and_changes_nothing() {
    let mut env = start(EnvOptions::default()).await;
    env.customer_with_card("c-1", "pm_card_visa").await;
    let base = env.base.clone();
    let send =
        |method: &'static str, path: &'static str, body: Option<Vec<u8>>, ct: &'static str| {
            let base = base.clone();
            async move {
                let headers: Vec<(&str, &str)> = if ct.is_empty() {
                    vec![]
                } else {
                    vec![("content-type", ct)]
                };
                // The client sets JSON on any body; these requests set their own.
                let mut req = http::Request::builder()
                    .method(method)
                    .uri(format!("{base}{path}"))
                    .header("authorization", format!("Bearer {}", common::RW_KEY));
                for (k, v) in headers {
                    req = req.header(k, v);
                }
                raw_send(req.body(body.unwrap_or_default()).unwrap()).await
            }
        };
    let charge = br#"{"customer_id": "c-1", "amount": 100, "currency": "USD"}"#.to_vec();

    // Too large: 413.
    let mut big = b"{\"customer_id\": \"c-1\", \"description\": \"".to_vec();
    big.extend(std::iter::repeat_n(b'x', 2 << 20));
    big.extend(b"\", \"amount\": 100, \"currency\": \"USD\"}");
    let r = send("POST", "/v1/transactions", Some(big), "application/json").await;
    json_error(&r, 413, "payload_too_large", "body");
    // Not JSON: 415, with or without a Content-Type.
    for ct in ["text/plain", "application/x-www-form-urlencoded", ""] {
        let r = send("POST", "/v1/transactions", Some(charge.clone()), ct).await;
        json_error(&r, 415, "unsupported_media_type", "Content-Type");
    }
    let r = send(
        "POST",
        "/v1/transactions",
        Some(charge.clone()),
        "application/json; charset=utf-8",
    )
    .await;
    assert_eq!(r.status, 201, "JSON with a charset: {}", r.json);
    // A key given twice: refused, naming it (serde_json alone would keep the last).
    let twice =
        br#"{"customer_id": "c-1", "amount": 100, "currency": "USD", "amount": 100000}"#.to_vec();
    let r = send("POST", "/v1/transactions", Some(twice), "application/json").await;
    json_error(&r, 400, "invalid_request", "amount");
    // An empty body where one is required; none needed where every field is optional.
    let r = send("POST", "/v1/transactions", None, "").await;
    json_error(&r, 400, "invalid_request", "body");
    let r = send(
        "POST",
        "/v1/customers",
        Some(b"  ".to_vec()),
        "application/json",
    )
    .await;
    json_error(&r, 400, "invalid_request", "body");
    let r = send("POST", "/v1/transactions/999/void", None, "").await;
    json_error(&r, 404, "not_found", "transaction_id");
    // Unknown fields, parameters given twice, wrong types, in bodies and query strings.
    let r = env
        .post(
            "/v1/transactions/1/capture",
            json!({ "amount": 5, "colour": 1 }),
        )
        .await;
    json_error(&r, 400, "invalid_request", "colour");
    let r = env.get("/v1/transactions?limit=5&limit=6").await;
    json_error(&r, 400, "invalid_request", "limit");
    let r = env.get("/v1/transactions?limit=many").await;
    json_error(&r, 400, "invalid_request", "limit");
    let r = env.get("/v1/transactions?colour=red").await;
    json_error(&r, 400, "invalid_request", "colour");
    let r = env.get("/v1/transactions?from=yesterday").await;
    json_error(&r, 400, "invalid_request", "from");
    // A method a route does not have: 405 with Allow; an unknown route: 404.
    let r = send(
        "PUT",
        "/v1/transactions",
        Some(charge.clone()),
        "application/json",
    )
    .await;
    json_error(&r, 405, "method_not_allowed", "method");
    let allow = r.header("allow").unwrap();
    assert!(allow.contains("GET") && allow.contains("POST"), "{allow}");
    let r = send("DELETE", "/health", None, "").await;
    json_error(&r, 405, "method_not_allowed", "method");
    let r = send("GET", "/v2/transactions", None, "").await;
    json_error(&r, 404, "not_found", "path");
    // A path segment axum cannot read (not UTF-8) is a JSON 400 too.
    let r = send("GET", "/v1/customers/%FF/cards", None, "").await;
    assert_eq!(r.status, 400, "{r:?}");
    assert_eq!(r.header("content-type"), Some("application/json"));
    assert!(r.json["error"]["code"].is_string(), "{}", r.json);
    // Authentication answers in the same shape.
    let r = env.anonymous.get("/v1/transactions").await.unwrap();
    json_error(&r, 401, "unauthorized", "authorization");

    // One transaction: the one sent with a charset.
    assert_eq!(env.transactions().await.len(), 1);
    assert_eq!(env.payment_intents().await.len(), 1);
    env.stop().await;
}

/// Sends a raw request (its own headers, no body rewriting).
async fn raw_send(req: http::Request<Vec<u8>>) -> ApiResponse {
    use http_body_util::{BodyExt, Full};
    use hyper_util::client::legacy::Client;
    use hyper_util::rt::TokioExecutor;
    let client = Client::builder(TokioExecutor::new()).build_http::<Full<bytes::Bytes>>();
    let (parts, body) = req.into_parts();
    let resp = client
        .request(http::Request::from_parts(parts, Full::new(body.into())))
        .await
        .unwrap();
    let status = resp.status().as_u16();
    let headers = resp
        .headers()
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_str().unwrap_or("").to_string()))
        .collect();
    let raw = resp.into_body().collect().await.unwrap().to_bytes();
    ApiResponse {
        status,
        headers,
        json: serde_json::from_slice(&raw).unwrap_or(Value::Null),
        raw,
    }
}

/// Amounts refused by the service (out of bounds: nothing reaches the gateway) or by the gateway
/// (as invalid input) leave no transaction and no operation behind, and do not use up the
/// request's Idempotency-Key.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refused_amounts_leave_nothing_behind() {
    // (amount, currency, calls that reach the emulator): the service refuses amounts above its
    // maximum; the Stripe plugin refuses a three-decimal amount not ending in 0 before calling;
    // Stripe refuses more than 99999999.
    let cases: [(Value, &str, usize); 4] = [
        (json!(i64::MAX), "USD", 0),
        (json!((1i64 << 53) + 1), "USD", 0),
        (json!(100_000_000), "USD", 1),
        (json!(1005), "KWD", 0),
    ];
    for (amount, currency, emulator_calls) in cases {
        let mut env = start(EnvOptions {
            count_gateway_calls: true,
            ..EnvOptions::default()
        })
        .await;
        env.customer_with_card("c-1", "pm_card_visa").await;
        let calls = env.calls.as_ref().unwrap();
        let body = json!({ "customer_id": "c-1", "amount": amount, "currency": currency });
        let r = env.post_with_key("/v1/transactions", "order-1", body).await;
        expect_error(&r, 400, "amount");
        assert!(r.json["error"]["details"].is_null(), "{}", r.json);
        assert_eq!(
            calls.count("POST", "/v1/payment_intents", ""),
            emulator_calls,
            "{amount} {currency}: {}",
            r.json
        );
        assert_eq!(env.transactions().await, Vec::<Value>::new(), "{amount}");
        assert!(env.payment_intents().await.is_empty(), "{amount}");
        let unsettled = env
            .service
            .db
            .run(|l| l.unsettled_operations(i64::MAX, 100))
            .await
            .unwrap();
        assert!(unsettled.is_empty());
        // The key was not used up: the corrected request runs with it.
        let fixed = json!({ "customer_id": "c-1", "amount": 1000, "currency": currency });
        let r = env
            .post_with_key("/v1/transactions", "order-1", fixed)
            .await;
        assert_eq!(r.status, 201, "{}", r.json);
        assert_eq!(r.json["status"], "succeeded");
        let txn = r.json["id"].as_i64().unwrap();
        assert_eq!(env.transactions().await.len(), 1);
        assert_eq!(env.payment_intents().await.len(), 1);
        let ops = env
            .service
            .db
            .run(move |l| l.operations_for(Some(txn), None))
            .await
            .unwrap();
        assert_eq!(ops.len(), 1, "{ops:?}");
        env.stop().await;
    }
}

/// A gateway that asks to slow down is named as the field at fault, like every other error.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rate_limited_gateway_is_named() {
    let mut env = start(EnvOptions {
        settings: vec![("max-retries", "0")],
        no_webhooks: true,
        ..EnvOptions::default()
    })
    .await;
    env.customer_with_card("c-1", "pm_card_visa").await;
    env.emulator.faults().fail_next(stripe_emulator::FailSpec {
        count: 10,
        status: 429,
        path_prefix: Some("/v1/payment_intents".into()),
        ..Default::default()
    });
    let r = env
        .charge(json!({ "customer_id": "c-1", "amount": 1500, "currency": "USD" }))
        .await;
    json_error(&r, 429, "rate_limited", "gateway");
    assert!(r.json["error"]["details"]["transaction"]["id"].is_i64());
    env.stop().await;
}
