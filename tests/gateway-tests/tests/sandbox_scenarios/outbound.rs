//! The plugin's only way out: requests to hosts that are not allowed are denied; the host
//! adds the gateway's credentials (bearer, basic, a named header, OAuth 2.0 tokens it obtains
//! and shares) and the plugin never sees them, nor do errors.

use super::*;
use omnicrm_host::{LoadError, OutboundAuth};
#[tokio::test]
async fn requests_to_hosts_that_are_not_allowed_are_denied() {
    let allowed = echo_server().await;
    let other = echo_server().await;
    let config = GatewayConfig::new(misbehaving()).allow_host(&allowed.origin);
    let gateway = runtime().load("fetcher", &config).await.expect("loads");

    for url in [
        format!("{}/v1/charges", other.origin),
        "http://192.0.2.1/v1".to_string(),
        "https://example.com/".to_string(),
        // Same host, other scheme; and userinfo tricks.
        allowed.origin.replace("http://", "https://") + "/x",
        format!(
            "http://user@{}/x",
            allowed.origin.trim_start_matches("http://")
        ),
    ] {
        let outcome = fetch(&gateway, &url).await;
        assert!(
            outcome.starts_with("denied:") && outcome.contains("HttpRequestDenied"),
            "{url}: {outcome}"
        );
    }
    assert_eq!(
        other.requests.load(Ordering::SeqCst),
        0,
        "nothing reached a denied host"
    );
    assert_eq!(allowed.requests.load(Ordering::SeqCst), 0);

    let outcome = fetch(&gateway, &format!("{}/v1/ok", allowed.origin)).await;
    assert_eq!(outcome, "status: 200, body: authorization=<none>");
    assert_eq!(allowed.requests.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn authorization_is_injected_by_the_host_for_allowed_hosts_only() {
    let api = echo_server().await;
    let elsewhere = echo_server().await;
    let secret = "sk_test_host_injected_4242";
    let config = bearer_config(&api.origin, SecretSource::value(secret));
    let gateway = runtime().load("authed", &config).await.expect("loads");

    let outcome = fetch(&gateway, &format!("{}/v1/customers", api.origin)).await;
    assert_eq!(
        outcome,
        format!(
            "status: 200, body: {}",
            fingerprint(&format!("Bearer {secret}"))
        )
    );
    let head = api.seen.lock().unwrap()[0].clone();
    assert!(head.starts_with("GET /v1/customers HTTP/1.1"), "{head}");

    let outcome = fetch(&gateway, &format!("{}/v1/customers", elsewhere.origin)).await;
    assert!(outcome.contains("HttpRequestDenied"), "{outcome}");
    assert_eq!(elsewhere.requests.load(Ordering::SeqCst), 0);

    // Basic auth: `user` alone means an empty password (base64 of "sk_basic:").
    let config = GatewayConfig::new(misbehaving())
        .allow_host(&api.origin)
        .with_auth(OutboundAuth::Basic {
            secret: "api-key".into(),
        })
        .with_secret("api-key", SecretSource::value("sk_basic"));
    let basic = runtime().load("basic", &config).await.expect("loads");
    let outcome = fetch(&basic, &format!("{}/v1/x", api.origin)).await;
    assert_eq!(
        outcome,
        format!("status: 200, body: {}", fingerprint("Basic c2tfYmFzaWM6"))
    );
}

#[tokio::test]
async fn secrets_stay_out_of_errors_and_debug_output() {
    let api = echo_server().await;
    let secret = "sk_test_never_printed_31337";
    let config = bearer_config(&api.origin, SecretSource::value(secret)).with_secret(
        "webhook-secret",
        SecretSource::Env("OMNICRM_TEST_UNSET_VARIABLE".into()),
    );
    assert!(!format!("{config:?}").contains(secret));

    let gateway = runtime().load("secretive", &config).await.expect("loads");
    assert!(!format!("{gateway:?}").contains(secret));

    // Every failure mode's error text.
    let mut texts = Vec::new();
    for description in ["trap", "grow-memory", "fetch:https://example.com/"] {
        let err = gateway
            .charge(request(description))
            .await
            .expect_err("fails");
        texts.push(format!("{err} {err:?}"));
    }
    // An unavailable secret fails the request as a configuration error (the host log names the
    // secret); nothing is sent.
    let config = bearer_config(
        &api.origin,
        SecretSource::Env("OMNICRM_TEST_UNSET_VARIABLE".into()),
    );
    let unavailable = runtime().load("unavailable", &config).await.expect("loads");
    let outcome = fetch(&unavailable, &format!("{}/x", api.origin)).await;
    assert!(outcome.contains("ConfigurationError"), "{outcome}");
    assert_eq!(
        api.requests.load(Ordering::SeqCst),
        0,
        "no unauthenticated request was sent"
    );
    texts.push(outcome);

    for text in texts {
        assert!(!text.contains(secret), "secret leaked: {text}");
    }
}

#[tokio::test]
async fn a_named_header_is_injected_by_the_host_for_allowed_hosts_only() {
    let api = echo_server().await;
    let elsewhere = echo_server().await;
    let secret = "adyen_key_host_injected_4242";
    let config = GatewayConfig::new(misbehaving())
        .allow_host(&api.origin)
        .with_auth(OutboundAuth::Header {
            name: "X-API-Key".into(),
            secret: "api-key".into(),
            prefix: Some("Key ".into()),
        })
        .with_secret("api-key", SecretSource::value(secret));
    let gateway = runtime().load("header-auth", &config).await.expect("loads");

    let outcome = fetch(&gateway, &format!("{}/v1/payments", api.origin)).await;
    assert_eq!(outcome, "status: 200, body: authorization=<none>");
    let head = api.seen.lock().unwrap()[0].clone();
    assert_eq!(
        header_in(&head, "x-api-key").as_deref(),
        Some(format!("Key {secret}").as_str()),
        "{head}"
    );

    let outcome = fetch(&gateway, &format!("{}/v1/payments", elsewhere.origin)).await;
    assert!(outcome.contains("HttpRequestDenied"), "{outcome}");
    assert_eq!(elsewhere.requests.load(Ordering::SeqCst), 0);
    assert!(!format!("{config:?} {gateway:?}").contains(secret));
}

#[tokio::test]
async fn invalid_auth_schemes_are_refused_on_load() {
    let header = |name: &str| {
        GatewayConfig::new(misbehaving())
            .with_auth(OutboundAuth::Header {
                name: name.into(),
                secret: "api-key".into(),
                prefix: None,
            })
            .with_secret("api-key", SecretSource::value("k"))
    };
    for name in [
        "Host",
        "Content-Length",
        "Transfer-Encoding",
        "Connection",
        "X API Key",
    ] {
        let err = runtime()
            .load("m", &header(name))
            .await
            .expect_err("a header the host manages, or not a token");
        assert!(matches!(err, LoadError::Config { .. }), "{err:?}");
        assert!(err.to_string().contains(name), "{err}");
    }
    let oauth = |token_url: &str| {
        GatewayConfig::new(misbehaving())
            .with_auth(oauth2_auth(token_url))
            .with_secret("client-id", SecretSource::value(CLIENT_ID))
    };
    let err = runtime()
        .load("m", &oauth("https://t.example/token"))
        .await
        .expect_err("the client secret is not configured");
    assert!(err.to_string().contains("`client-secret`"), "{err}");
    let err = runtime()
        .load(
            "m",
            &oauth("http://t.example/token")
                .with_secret("client-secret", SecretSource::value(CLIENT_SECRET)),
        )
        .await
        .expect_err("plain http to a public token endpoint");
    assert!(err.to_string().contains("token_url"), "{err}");
}

const CLIENT_ID: &str = "mis-client";
const CLIENT_SECRET: &str = "cs_oauth_never_printed_77";
/// `Basic base64("mis-client:cs_oauth_never_printed_77")`.
const CLIENT_BASIC: &str = "Basic bWlzLWNsaWVudDpjc19vYXV0aF9uZXZlcl9wcmludGVkXzc3";

/// A loopback OAuth token endpoint: counts token requests and checks each one (`POST`, HTTP
/// Basic client authentication, form body), then answers `answer` (status and body, `{n}`
/// replaced by the request's number) after `delay`. Requests that fail a check get a 400 and
/// are recorded in `problems`.
struct TokenServer {
    url: String,
    requests: Arc<AtomicUsize>,
    answer: Arc<Mutex<(u16, String)>>,
    problems: Arc<Mutex<Vec<String>>>,
}

async fn token_server(status: u16, answer: &str, delay: Duration) -> TokenServer {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/oauth2/token", listener.local_addr().unwrap());
    let server = TokenServer {
        url,
        requests: Arc::new(AtomicUsize::new(0)),
        answer: Arc::new(Mutex::new((status, answer.to_string()))),
        problems: Arc::new(Mutex::new(Vec::new())),
    };
    let (requests, answer, problems) = (
        server.requests.clone(),
        server.answer.clone(),
        server.problems.clone(),
    );
    tokio::spawn(async move {
        while let Ok((mut socket, _)) = listener.accept().await {
            let (requests, answer, problems) = (requests.clone(), answer.clone(), problems.clone());
            tokio::spawn(async move {
                let mut buf = Vec::new();
                let mut chunk = [0u8; 4096];
                let head_end = loop {
                    if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                        break i + 4;
                    }
                    match socket.read(&mut chunk).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => buf.extend_from_slice(&chunk[..n]),
                    }
                };
                let head = String::from_utf8_lossy(&buf[..head_end]).to_string();
                let length: usize = header_in(&head, "content-length")
                    .and_then(|v| v.parse().ok())
                    .unwrap_or(0);
                while buf.len() < head_end + length {
                    match socket.read(&mut chunk).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => buf.extend_from_slice(&chunk[..n]),
                    }
                }
                let body = String::from_utf8_lossy(&buf[head_end..]).to_string();
                let n = requests.fetch_add(1, Ordering::SeqCst) + 1;
                tokio::time::sleep(delay).await;
                let mut wrong = Vec::new();
                if !head.starts_with("POST /oauth2/token HTTP/1.1") {
                    wrong.push("request line");
                }
                if header_in(&head, "authorization").as_deref() != Some(CLIENT_BASIC) {
                    wrong.push("client authentication");
                }
                if header_in(&head, "content-type").as_deref()
                    != Some("application/x-www-form-urlencoded")
                {
                    wrong.push("content type");
                }
                if body != "grant_type=client_credentials&scope=payments" {
                    wrong.push("form body");
                }
                let (status, text) = if wrong.is_empty() {
                    let (status, text) = answer.lock().unwrap().clone();
                    (status, text.replace("{n}", &n.to_string()))
                } else {
                    problems
                        .lock()
                        .unwrap()
                        .push(format!("{wrong:?} in {head}{body}"));
                    (400, r#"{"error":"invalid_request"}"#.to_string())
                };
                let response = format!(
                    "HTTP/1.1 {status} X\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{text}",
                    text.len()
                );
                let _ = socket.write_all(response.as_bytes()).await;
                let _ = socket.shutdown().await;
            });
        }
    });
    server
}

fn oauth2_auth(token_url: &str) -> OutboundAuth {
    OutboundAuth::OAuth2ClientCredentials {
        token_url: token_url.into(),
        client_id_secret: "client-id".into(),
        client_secret_secret: "client-secret".into(),
        scope: Some("payments".into()),
    }
}

/// The misbehaving component allowed to reach `origin` (only), authenticated with OAuth tokens
/// from `token_url`.
fn oauth2_config(origin: &str, token_url: &str) -> GatewayConfig {
    GatewayConfig::new(misbehaving())
        .allow_host(origin)
        .with_auth(oauth2_auth(token_url))
        .with_secret("client-id", SecretSource::value(CLIENT_ID))
        .with_secret("client-secret", SecretSource::value(CLIENT_SECRET))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oauth_tokens_are_obtained_once_and_shared_by_concurrent_calls() {
    let api = echo_server().await;
    let tokens = token_server(
        200,
        r#"{"access_token":"at_{n}","token_type":"Bearer","expires_in":3600}"#,
        Duration::from_millis(300),
    )
    .await;
    let gateway = runtime()
        .load("oauth", &oauth2_config(&api.origin, &tokens.url))
        .await
        .expect("loads");

    let calls: Vec<_> = (0..20)
        .map(|i| {
            let (gateway, url) = (gateway.clone(), format!("{}/v1/payments/{i}", api.origin));
            tokio::spawn(async move { fetch(&gateway, &url).await })
        })
        .collect();
    for call in calls {
        assert_eq!(
            call.await.unwrap(),
            format!("status: 200, body: {}", fingerprint("Bearer at_1"))
        );
    }
    assert_eq!(
        tokens.requests.load(Ordering::SeqCst),
        1,
        "one token request"
    );
    assert!(
        tokens.problems.lock().unwrap().is_empty(),
        "{:?}",
        tokens.problems
    );
    assert_eq!(api.requests.load(Ordering::SeqCst), 20);
    for head in api.seen.lock().unwrap().iter() {
        assert!(
            !head.contains(CLIENT_SECRET) && !head.contains(CLIENT_BASIC),
            "{head}"
        );
    }

    // The token endpoint is the host's, not the plugin's: it is not an allowed host.
    let outcome = fetch(&gateway, &tokens.url).await;
    assert!(outcome.contains("HttpRequestDenied"), "{outcome}");
    assert_eq!(tokens.requests.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn an_expired_oauth_token_is_replaced() {
    let api = echo_server().await;
    let tokens = token_server(
        200,
        r#"{"access_token":"at_{n}","token_type":"bearer","expires_in":1}"#,
        Duration::ZERO,
    )
    .await;
    let gateway = runtime()
        .load("oauth-short", &oauth2_config(&api.origin, &tokens.url))
        .await
        .expect("loads");
    let url = format!("{}/v1/x", api.origin);
    assert_eq!(
        fetch(&gateway, &url).await,
        format!("status: 200, body: {}", fingerprint("Bearer at_1"))
    );
    assert_eq!(
        fetch(&gateway, &url).await,
        format!("status: 200, body: {}", fingerprint("Bearer at_1"))
    );
    // A 1 s token is refreshed a little before it expires.
    tokio::time::sleep(Duration::from_millis(1000)).await;
    assert_eq!(
        fetch(&gateway, &url).await,
        format!("status: 200, body: {}", fingerprint("Bearer at_2"))
    );
    assert_eq!(tokens.requests.load(Ordering::SeqCst), 2);
}

#[tokio::test]
async fn a_failing_token_endpoint_fails_the_request_before_it_is_sent() {
    let api = echo_server().await;
    let tokens = token_server(401, r#"{"error":"invalid_client"}"#, Duration::ZERO).await;
    let gateway = runtime()
        .load("oauth-failing", &oauth2_config(&api.origin, &tokens.url))
        .await
        .expect("loads");
    let url = format!("{}/v1/payments", api.origin);
    let mut texts = Vec::new();

    // Refused credentials: a configuration error; nothing was sent, so safe to retry.
    let outcome = fetch(&gateway, &url).await;
    assert_eq!(outcome, "denied: ErrorCode::ConfigurationError");
    texts.push(outcome);

    // The endpoint failing: the gateway is unavailable for now.
    *tokens.answer.lock().unwrap() = (500, "internal error".into());
    let outcome = fetch(&gateway, &url).await;
    assert_eq!(outcome, "denied: ErrorCode::DestinationUnavailable");
    texts.push(outcome);

    // An answer that is not a bearer token.
    *tokens.answer.lock().unwrap() = (
        200,
        r#"{"access_token":"at_mac","token_type":"mac"}"#.into(),
    );
    let outcome = fetch(&gateway, &url).await;
    assert_eq!(outcome, "denied: ErrorCode::ConfigurationError");
    texts.push(outcome);
    *tokens.answer.lock().unwrap() = (200, r#"{"token_type":"bearer"}"#.into());
    texts.push(fetch(&gateway, &url).await);

    assert_eq!(
        api.requests.load(Ordering::SeqCst),
        0,
        "nothing reached the API"
    );
    assert_eq!(
        tokens.requests.load(Ordering::SeqCst),
        4,
        "failures are not cached"
    );
    assert!(
        tokens.problems.lock().unwrap().is_empty(),
        "{:?}",
        tokens.problems
    );

    // Once the endpoint answers again, so does the gateway.
    *tokens.answer.lock().unwrap() = (
        200,
        r#"{"access_token":"at_{n}","token_type":"bearer","expires_in":60}"#.into(),
    );
    assert_eq!(
        fetch(&gateway, &url).await,
        format!("status: 200, body: {}", fingerprint("Bearer at_5"))
    );

    let config = oauth2_config(&api.origin, &tokens.url);
    texts.push(format!("{config:?} {gateway:?}"));
    for text in texts {
        assert!(
            !text.contains(CLIENT_SECRET) && !text.contains("at_5") && !text.contains("at_mac"),
            "secret or token leaked: {text}"
        );
    }
}
