//! The credentials the host injects: only on requests with the gateway's methods
//! (`credential_methods`, `GET`, `POST` and `DELETE` by default) and paths
//! (`credential_path_prefixes`), never on `TRACE` or `CONNECT` (refused outright); asked for
//! whole and uncompressed responses, in which a reflected credential is found, withheld from the
//! plugin and fails the call. MAC keys and outbound credentials keep to their purpose.

use super::*;
use hmac::Mac as _;

const SECRET: &str = "sk_test_scoped_credential_4242";

fn bearer_fingerprint() -> String {
    fingerprint(&format!("Bearer {SECRET}"))
}

#[tokio::test]
async fn credentials_go_only_with_the_gateways_methods() {
    let api = echo_server().await;
    let gateway = runtime()
        .load(
            "methods",
            &bearer_config(&api.origin, SecretSource::value(SECRET)),
        )
        .await
        .expect("loads");
    let url = format!("{}/v1/customers", api.origin);
    for method in ["GET", "POST", "DELETE"] {
        let answer = told(&gateway, &format!("send:{method}:{url}")).await;
        assert_eq!(
            answer,
            format!("status: 200, body: {}", bearer_fingerprint()),
            "{method}"
        );
    }
    for method in ["PUT", "PATCH", "OPTIONS", "PROPFIND"] {
        let answer = told(&gateway, &format!("send:{method}:{url}")).await;
        assert_eq!(
            answer, "status: 200, body: authorization=<none>",
            "{method}"
        );
    }
    let sent = api.requests.load(Ordering::SeqCst);
    for method in ["TRACE", "CONNECT"] {
        let answer = told(&gateway, &format!("send:{method}:{url}")).await;
        assert!(answer.contains("HttpRequestDenied"), "{method}: {answer}");
    }
    assert_eq!(
        api.requests.load(Ordering::SeqCst),
        sent,
        "nothing was sent"
    );

    // A gateway may name its own methods; TRACE and CONNECT it cannot.
    let mut config = bearer_config(&api.origin, SecretSource::value(SECRET));
    config.credential_methods = vec!["PUT".into()];
    let put_only = runtime().load("put-only", &config).await.expect("loads");
    let answer = told(&put_only, &format!("send:PUT:{url}")).await;
    assert_eq!(
        answer,
        format!("status: 200, body: {}", bearer_fingerprint())
    );
    let answer = told(&put_only, &format!("send:GET:{url}")).await;
    assert_eq!(answer, "status: 200, body: authorization=<none>");
    config.credential_methods = vec!["TRACE".into()];
    let err = runtime().load("trace", &config).await.unwrap_err();
    assert!(err.to_string().contains("credential_methods"), "{err}");
}

#[tokio::test]
async fn credentials_go_only_under_the_configured_path_prefixes() {
    let api = echo_server().await;
    let mut config = bearer_config(&api.origin, SecretSource::value(SECRET));
    config.credential_path_prefixes = vec!["/v1/".into()];
    let gateway = runtime().load("paths", &config).await.expect("loads");
    let with = format!("status: 200, body: {}", bearer_fingerprint());
    let without = "status: 200, body: authorization=<none>";
    for (path, expected) in [
        ("/v1/payment_intents", with.as_str()),
        ("/v1/customers?limit=3", with.as_str()),
        ("/v2/payments", without),
        ("/v1", without),
        ("/admin/keys", without),
        // The server resolves dot segments, so the path checked is not the path served.
        ("/v1/../admin/keys", without),
        ("/v1/%2e%2e/admin/keys", without),
        ("/v1/%2E%2E/admin/keys", without),
    ] {
        let answer = told(&gateway, &format!("fetch:{}{path}", api.origin)).await;
        assert_eq!(answer, expected, "{path}");
    }
}

/// A server answering every request with what it received in its `Authorization` header, the
/// way a debugging endpoint echoes a request: in the body (`body`), in a header (`header`), or
/// in a chunked body split in the middle of the value (`split`).
async fn reflecting_server(shape: &'static str) -> Server {
    server(Duration::ZERO, move |head| {
        let authorization = header_in(head, "authorization").unwrap_or_default();
        let body = format!("{{\"you_sent\": \"{authorization}\"}}");
        match shape {
            "header" => vec![
                format!(
                    "HTTP/1.1 200 OK\r\nx-echo: {authorization}\r\ncontent-length: 2\r\n\r\n{{}}"
                )
                .into_bytes(),
            ],
            "split" => {
                let (first, second) = body.split_at(body.len() - 12);
                vec![
                    format!(
                        "HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n{:x}\r\n{first}\r\n",
                        first.len()
                    )
                    .into_bytes(),
                    format!("{:x}\r\n{second}\r\n0\r\n\r\n", second.len()).into_bytes(),
                ]
            }
            _ => ok_response(&body),
        }
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_response_reflecting_the_credential_fails_the_call_and_never_reaches_the_plugin() {
    let sink = echo_server().await;
    for shape in ["body", "header", "split"] {
        let reflector = reflecting_server(shape).await;
        let config =
            bearer_config(&reflector.origin, SecretSource::value(SECRET)).allow_host(&sink.origin);
        let gateway = runtime().load("reflected", &config).await.expect("loads");
        // The plugin reads the response, then passes on what it got to another allowed host.
        let result = gateway
            .charge(request(&format!(
                "relay:{}/v1/debug/echo {}/collect",
                reflector.origin, sink.origin
            )))
            .await;
        assert_eq!(reflector.requests.load(Ordering::SeqCst), 1, "{shape}");
        let trap = trap_of(result);
        assert!(
            trap.detail()
                .contains("contained a credential the host added"),
            "{shape}: {}",
            trap.detail()
        );
        assert!(!trap.detail().contains(SECRET), "{shape}");
        let secret_hex = hex::encode(SECRET);
        for head in sink.seen.lock().unwrap().iter() {
            assert!(
                !head.contains(SECRET) && !head.contains(&secret_hex),
                "{shape}: the plugin passed the secret on: {head}"
            );
        }
        assert_healthy(&gateway).await;
    }
}

#[tokio::test]
async fn credentialed_requests_ask_for_whole_uncompressed_responses() {
    let api = echo_server().await;
    let mut config = bearer_config(&api.origin, SecretSource::value(SECRET));
    config.credential_path_prefixes = vec!["/v1/".into()];
    let gateway = runtime().load("whole", &config).await.expect("loads");
    for header in [
        "range=bytes=20-40",
        "accept-encoding=gzip",
        "if-range=\"x\"",
    ] {
        told(&gateway, &format!("header:{header}:{}/v1/x", api.origin)).await;
    }
    // Without credentials the plugin's headers go as they are.
    told(
        &gateway,
        &format!("header:range=bytes=20-40:{}/public", api.origin),
    )
    .await;
    let heads = api.seen.lock().unwrap().clone();
    assert_eq!(heads.len(), 4);
    for head in &heads[..3] {
        assert_eq!(header_in(head, "range"), None, "{head}");
        assert_eq!(header_in(head, "if-range"), None, "{head}");
        assert_eq!(
            header_in(head, "accept-encoding").as_deref(),
            Some("identity"),
            "{head}"
        );
    }
    assert_eq!(
        header_in(&heads[3], "range").as_deref(),
        Some("bytes=20-40"),
        "{}",
        heads[3]
    );
}

#[tokio::test]
async fn mac_keys_and_outbound_credentials_keep_to_their_purpose() {
    const WEBHOOK_SECRET: &str = "whsec_purpose_test_1234";
    let api = echo_server().await;
    let config = bearer_config(&api.origin, SecretSource::value(SECRET))
        .with_secret("webhook-secret", SecretSource::value(WEBHOOK_SECRET))
        .with_secret(
            "from-env",
            SecretSource::Env("OMNICRM_TEST_NEVER_SET_MAC_KEY".into()),
        );
    let gateway = runtime().load("purposes", &config).await.expect("loads");

    let mut expected =
        hmac::Hmac::<sha2::Sha256>::new_from_slice(WEBHOOK_SECRET.as_bytes()).unwrap();
    expected.update(b"probe");
    assert_eq!(
        told(&gateway, "mac:webhook-secret").await,
        format!("mac: {}", hex::encode(expected.finalize().into_bytes()))
    );
    // The API key is no MAC key, and the plugin cannot tell it from a secret that does not
    // exist or has no value.
    let refusals: Vec<String> = answers_to(
        &gateway,
        ["mac:api-key", "mac:no-such-secret", "mac:from-env"],
    )
    .await;
    for refusal in &refusals {
        assert_eq!(refusal, &refusals[0]);
        assert!(refusal.starts_with("mac: unavailable"), "{refusal}");
        assert!(
            !refusal.contains("api-key") && !refusal.contains("OMNICRM_TEST"),
            "{refusal}"
        );
    }
}

/// The answers to `descriptions`, one call each, in order.
async fn answers_to<const N: usize>(gateway: &Gateway, descriptions: [&str; N]) -> Vec<String> {
    let mut answers = Vec::new();
    for description in descriptions {
        answers.push(told(gateway, description).await);
    }
    answers
}
