//! The host's sandbox and runtime guarantees, with real components: refusing wrong components,
//! traps, runaway loops and memory growth becoming typed errors (and the next call working),
//! outbound HTTP restricted to allowed origins with host-injected credentials, the artifact
//! cache, and secrets kept out of errors and Debug output.
//!
//! The misbehaving component (`tests/components/misbehaving`) misbehaves on request through the
//! description of `charging.charge`: `trap`, `loop`, `grow-memory`, `fetch:<url>`.
//!
//! One file for every guarantee (hence its length): one test binary, so the components compile
//! once and the tests share one runtime.

// Calls answer `CallError`, which holds the contract's `GatewayError` by value (see
// `omnicrm_host`): past clippy's size threshold for `Err`.
#![allow(clippy::result_large_err)]

use gateway_tests::component_path;
use omnicrm_host::contract::{
    CaptureMode, ChargeRequest, GatewayError, Money, Payment, StoredCredentialUse,
};
use omnicrm_host::{
    ArtifactSource, CallError, Gateway, GatewayConfig, Limits, LoadError, OutboundAuth, Runtime,
    RuntimeOptions, SecretSource,
};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

/// One runtime for the tests of this file; its artifact cache lives in a temp dir, so each
/// component is compiled once.
fn runtime() -> Runtime {
    static RUNTIME: OnceLock<(Runtime, tempfile::TempDir)> = OnceLock::new();
    RUNTIME
        .get_or_init(|| {
            let dir = tempfile::tempdir().expect("temp dir");
            let runtime = Runtime::new(RuntimeOptions {
                cache_dir: Some(dir.path().to_path_buf()),
                max_instances: 64,
                ..RuntimeOptions::default()
            })
            .expect("runtime");
            (runtime, dir)
        })
        .0
        .clone()
}

fn misbehaving() -> PathBuf {
    component_path("misbehaving_gateway")
}

fn request(description: &str) -> ChargeRequest {
    ChargeRequest {
        customer: "cus_1".into(),
        card: "card_1".into(),
        amount: Money {
            amount: 1050,
            currency: "USD".into(),
        },
        description: Some(description.into()),
        metadata: vec![("crm_txn".into(), "t1".into())],
        capture: CaptureMode::Automatic,
        stored_credential: StoredCredentialUse::MerchantUnscheduled,
        network_transaction_id: None,
        return_url: None,
        idempotency_key: "key-1".into(),
    }
}

/// The message of the misbehaving component's `fetch:` answer.
fn fetch_outcome(result: Result<Payment, CallError>) -> String {
    match result {
        Err(CallError::Gateway(GatewayError::NotAttempted(failure))) => failure.message,
        other => {
            panic!("expected a not-attempted answer carrying the fetch outcome, got {other:?}")
        }
    }
}

async fn assert_healthy(gateway: &Gateway) {
    let payment = gateway
        .charge(request("fine"))
        .await
        .expect("the next call works");
    assert_eq!(payment.id, "mis_pay_key-1");
    assert_eq!(payment.amount.amount, 1050);
}

/// The call ended in a timeout of its 500 ms deadline, promptly.
fn assert_stopped_by_the_deadline(result: Result<Payment, CallError>, elapsed: Duration) {
    match result {
        Err(CallError::Timeout { after }) => assert_eq!(after, Duration::from_millis(500)),
        other => panic!("expected a timeout, got {other:?}"),
    }
    assert!(
        elapsed < Duration::from_secs(3),
        "stopped after {elapsed:?}"
    );
}

fn write_temp(dir: &Path, name: &str, text: &str) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path
}

/// The interfaces every gateway component exports (contract 0.2).
const REQUIRED_INTERFACES: [&str; 4] = ["info", "tokens", "charging", "webhooks"];

/// The interfaces of contract 0.1, all required.
const INTERFACES_V0_1: [&str; 6] = [
    "info",
    "tokens",
    "charging",
    "invoicing",
    "metrics",
    "webhooks",
];

/// A component exporting every contract 0.1 interface at `version`, each an empty instance.
fn hollow_component(version: &str) -> String {
    let mut wat = String::from("(component\n");
    for interface in INTERFACES_V0_1 {
        wat.push_str(&format!(
            "  (instance ${interface})\n  (export \"omnicrm:payments/{interface}@{version}\" (instance ${interface}))\n"
        ));
    }
    wat.push(')');
    wat
}

/// Loads `config` on a new runtime whose artifact cache is `cache`: as after a restart of the
/// host.
async fn load_after_restart(cache: &Path, name: &str, config: &GatewayConfig) -> Gateway {
    Runtime::new(cached_runtime_options(cache))
        .unwrap()
        .load(name, config)
        .await
        .unwrap()
}

/// Runtime options with the artifact cache in `cache`.
fn cached_runtime_options(cache: &Path) -> RuntimeOptions {
    RuntimeOptions {
        cache_dir: Some(cache.to_path_buf()),
        max_instances: 8,
        ..RuntimeOptions::default()
    }
}

/// What the misbehaving component's `fetch:` of `url` came to.
async fn fetch(gateway: &Gateway, url: &str) -> String {
    fetch_outcome(gateway.charge(request(&format!("fetch:{url}"))).await)
}

/// The misbehaving component allowed to reach `origin`, with bearer auth from the secret
/// `api-key`.
fn bearer_config(origin: &str, api_key: SecretSource) -> GatewayConfig {
    GatewayConfig::new(misbehaving())
        .allow_host(origin)
        .with_auth(OutboundAuth::Bearer {
            secret: "api-key".into(),
        })
        .with_secret("api-key", api_key)
}

#[tokio::test]
async fn a_component_without_the_contract_exports_is_refused_naming_them() {
    let dir = tempfile::tempdir().unwrap();
    let path = write_temp(dir.path(), "empty.wat", "(component)");
    let err = runtime()
        .load("empty", &GatewayConfig::new(&path))
        .await
        .expect_err("an empty component must be refused");
    let message = err.to_string();
    assert!(matches!(err, LoadError::Incompatible { .. }), "{err:?}");
    // Checked against the newest contract.
    for interface in REQUIRED_INTERFACES {
        assert!(
            message.contains(&format!(
                "missing export omnicrm:payments/{interface}@0.2.x"
            )),
            "{message}"
        );
    }
    assert!(!message.contains("invoicing"), "optional: {message}");
}

#[tokio::test]
async fn a_component_of_another_contract_version_is_refused_naming_it() {
    let dir = tempfile::tempdir().unwrap();
    let path = write_temp(dir.path(), "v3.wat", &hollow_component("0.3.0"));
    let err = runtime()
        .load("v3", &GatewayConfig::new(&path))
        .await
        .expect_err("a 0.3 component must be refused");
    let message = err.to_string();
    assert!(
        message.contains(
            "exports omnicrm:payments/charging@0.3.0 but this host supports 0.1.x or 0.2.x"
        ),
        "{message}"
    );
    assert!(!message.contains("missing export"), "{message}");
}

#[tokio::test]
async fn a_component_importing_what_the_host_does_not_provide_is_refused_naming_it() {
    let dir = tempfile::tempdir().unwrap();
    let path = write_temp(
        dir.path(),
        "imports.wat",
        r#"(component
             (import "acme:backdoor/shell@1.0.0" (instance))
             (import "wasi:http/incoming-handler@0.2.12" (instance)))"#,
    );
    let message = runtime()
        .load("imports", &GatewayConfig::new(&path))
        .await
        .expect_err("must be refused")
        .to_string();
    assert!(
        message.contains("imports acme:backdoor/shell@1.0.0, which this host does not provide"),
        "{message}"
    );
    assert!(
        message.contains("imports wasi:http/incoming-handler@0.2.12"),
        "{message}"
    );
}

#[tokio::test]
async fn a_core_module_or_garbage_is_not_a_component() {
    let dir = tempfile::tempdir().unwrap();
    let core = dir.path().join("core.wasm");
    std::fs::write(&core, b"\0asm\x01\0\0\0").unwrap();
    let err = runtime()
        .load("core", &GatewayConfig::new(&core))
        .await
        .expect_err("a core module must be refused");
    assert!(matches!(err, LoadError::NotAComponent { .. }), "{err:?}");
    assert!(err.to_string().contains("core WebAssembly module"), "{err}");

    let junk = write_temp(dir.path(), "junk.wasm", "not wasm at all");
    let err = runtime()
        .load("junk", &GatewayConfig::new(&junk))
        .await
        .expect_err("garbage must be refused");
    assert!(matches!(err, LoadError::NotAComponent { .. }), "{err:?}");

    let missing = dir.path().join("missing.wasm");
    let err = runtime()
        .load("missing", &GatewayConfig::new(&missing))
        .await
        .expect_err("a missing file must be refused");
    assert!(matches!(err, LoadError::Read { .. }), "{err:?}");
}

#[tokio::test]
async fn invalid_configurations_are_refused_before_loading() {
    let runtime = runtime();
    let plain_http = GatewayConfig::new(misbehaving()).allow_host("http://api.stripe.com");
    let err = runtime
        .load("m", &plain_http)
        .await
        .expect_err("plain http to a public host");
    assert!(
        err.to_string().contains("only allowed for loopback"),
        "{err}"
    );

    let unknown_secret = GatewayConfig::new(misbehaving()).with_auth(OutboundAuth::Bearer {
        secret: "api-key".into(),
    });
    let err = runtime
        .load("m", &unknown_secret)
        .await
        .expect_err("auth without its secret");
    assert!(err.to_string().contains("`api-key`"), "{err}");

    let too_big = GatewayConfig::new(misbehaving()).with_limits(Limits {
        memory_mib: 100_000,
        call_timeout_ms: 1000,
        ..Limits::default()
    });
    assert!(matches!(
        runtime.load("m", &too_big).await,
        Err(LoadError::Config { .. })
    ));
}

#[tokio::test]
async fn a_trap_is_an_error_and_the_next_call_works() {
    let gateway = runtime()
        .load("misbehaving", &GatewayConfig::new(misbehaving()))
        .await
        .expect("loads");
    assert_eq!(gateway.info().name, "misbehaving");
    assert_eq!(gateway.name(), "misbehaving");
    assert_eq!(gateway.contract_version(), "0.1.0");
    let err = gateway.charge(request("trap")).await.expect_err("traps");
    match &err {
        CallError::Trap(trap) => {
            assert!(
                trap.detail().contains("trap requested"),
                "the panic message is kept for the operator: {}",
                trap.detail()
            );
            assert!(
                !err.to_string().contains("trap requested"),
                "but not shown: {err}"
            );
        }
        other => panic!("expected a trap, got {other:?}"),
    }
    assert!(err.may_have_moved_money());
    assert_healthy(&gateway).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_infinite_loop_is_stopped_by_the_deadline() {
    let config = GatewayConfig::new(misbehaving()).with_limits(Limits {
        memory_mib: 32,
        call_timeout_ms: 500,
        ..Limits::default()
    });
    let gateway = runtime().load("looping", &config).await.expect("loads");

    // While one call spins, other calls on the same runtime are still served.
    let spinning = tokio::spawn({
        let gateway = gateway.clone();
        async move {
            let started = Instant::now();
            (gateway.charge(request("loop")).await, started.elapsed())
        }
    });
    tokio::time::sleep(Duration::from_millis(50)).await;
    let others_started = Instant::now();
    for _ in 0..5 {
        assert_healthy(&gateway).await;
    }
    let others = others_started.elapsed();

    let (result, elapsed) = spinning.await.unwrap();
    assert_stopped_by_the_deadline(result, elapsed);
    assert!(
        others < Duration::from_millis(450),
        "other calls were served while the loop ran ({others:?})"
    );
    assert_healthy(&gateway).await;

    // A loop is also stopped when the caller runs it on a current-thread executor.
    let result = tokio::task::spawn_blocking(move || {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap()
            .block_on(async move { gateway.charge(request("loop")).await })
    })
    .await
    .unwrap();
    assert!(
        matches!(result, Err(CallError::Timeout { .. })),
        "{result:?}"
    );
}

/// A call whose plugin waits in a host HTTP call (epochs do not stop a guest that is not
/// running) is stopped by the deadline all the same, and its request is abandoned.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_call_blocked_in_a_host_http_request_is_stopped_by_the_deadline() {
    // Accepts connections, reads the request, never answers; counts closed connections.
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let origin = format!("http://{}", listener.local_addr().unwrap());
    let (accepted, closed) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
    tokio::spawn({
        let (accepted, closed) = (accepted.clone(), closed.clone());
        async move {
            while let Ok((mut socket, _)) = listener.accept().await {
                accepted.fetch_add(1, Ordering::SeqCst);
                let closed = closed.clone();
                tokio::spawn(async move {
                    let mut chunk = [0u8; 4096];
                    while let Ok(n) = socket.read(&mut chunk).await {
                        if n == 0 {
                            break;
                        }
                    }
                    closed.fetch_add(1, Ordering::SeqCst);
                });
            }
        }
    });
    let config = GatewayConfig::new(misbehaving())
        .allow_host(&origin)
        .with_limits(Limits {
            memory_mib: 32,
            call_timeout_ms: 500,
            ..Limits::default()
        });
    let gateway = runtime().load("tarpit", &config).await.expect("loads");

    let started = Instant::now();
    let result = gateway
        .charge(request(&format!("fetch:{origin}/v1/never")))
        .await;
    let elapsed = started.elapsed();
    assert_stopped_by_the_deadline(result, elapsed);
    assert_eq!(accepted.load(Ordering::SeqCst), 1, "the request was sent");
    // Dropping the call's store aborted the request: the connection is closed, not left to
    // the guest's 600 s default timeouts.
    let waited = Instant::now();
    while closed.load(Ordering::SeqCst) == 0 && waited.elapsed() < Duration::from_secs(5) {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(
        closed.load(Ordering::SeqCst),
        1,
        "the abandoned request's connection was closed"
    );
    assert_healthy(&gateway).await;
}

#[tokio::test]
async fn growing_memory_past_the_limit_fails_cleanly() {
    let config = GatewayConfig::new(misbehaving()).with_limits(Limits {
        memory_mib: 16,
        call_timeout_ms: 20_000,
        ..Limits::default()
    });
    let gateway = runtime().load("greedy", &config).await.expect("loads");
    let err = gateway
        .charge(request("grow-memory"))
        .await
        .expect_err("fails");
    match &err {
        CallError::Trap(trap) => assert!(
            trap.detail()
                .contains("exceeded its memory limit of 16 MiB"),
            "{}",
            trap.detail()
        ),
        other => panic!("expected a trap naming the memory limit, got {other:?}"),
    }
    assert_healthy(&gateway).await;
}

/// What the echo server answers for an `Authorization` header: a fingerprint of it (a server
/// that reflected the credential itself would have its response withheld by the host).
fn fingerprint(authorization: &str) -> String {
    use sha2::Digest as _;
    format!(
        "authorization=sha256:{}",
        hex::encode(&sha2::Sha256::digest(authorization.as_bytes())[..8])
    )
}

/// A loopback HTTP/1.1 server that answers every request with `authorization=<none>` or
/// [`fingerprint`] of the `Authorization` header it received, counting requests and keeping their
/// heads.
struct EchoServer {
    origin: String,
    requests: Arc<AtomicUsize>,
    seen: Arc<Mutex<Vec<String>>>,
}

async fn echo_server() -> EchoServer {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let origin = format!("http://{}", listener.local_addr().unwrap());
    let requests = Arc::new(AtomicUsize::new(0));
    let seen = Arc::new(Mutex::new(Vec::new()));
    let (count, log) = (requests.clone(), seen.clone());
    tokio::spawn(async move {
        while let Ok((mut socket, _)) = listener.accept().await {
            let (count, log) = (count.clone(), log.clone());
            tokio::spawn(async move {
                let mut buf = Vec::new();
                let mut chunk = [0u8; 4096];
                while !buf.windows(4).any(|w| w == b"\r\n\r\n") {
                    match socket.read(&mut chunk).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => buf.extend_from_slice(&chunk[..n]),
                    }
                }
                count.fetch_add(1, Ordering::SeqCst);
                let head = String::from_utf8_lossy(&buf).to_string();
                log.lock().unwrap().push(head.clone());
                let body = head
                    .lines()
                    .find_map(|l| {
                        let (name, value) = l.split_once(':')?;
                        name.eq_ignore_ascii_case("authorization")
                            .then(|| fingerprint(value.trim()))
                    })
                    .unwrap_or_else(|| "authorization=<none>".into());
                let response = format!(
                    "HTTP/1.1 200 OK\r\ncontent-type: text/plain\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                    body.len()
                );
                let _ = socket.write_all(response.as_bytes()).await;
                let _ = socket.shutdown().await;
            });
        }
    });
    EchoServer {
        origin,
        requests,
        seen,
    }
}

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

/// The value of header `name` (any case) in a request head the echo server received.
fn header_in(head: &str, name: &str) -> Option<String> {
    head.lines().skip(1).find_map(|line| {
        let (key, value) = line.split_once(':')?;
        key.eq_ignore_ascii_case(name)
            .then(|| value.trim().to_string())
    })
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

#[tokio::test]
async fn the_artifact_cache_is_hit_on_a_second_load_and_recovers_from_corruption() {
    let dir = tempfile::tempdir().unwrap();
    let config = GatewayConfig::new(misbehaving());

    // A fresh runtime per load: as after a restart of the host.
    let cold = load_after_restart(dir.path(), "m", &config).await;
    let cold_info = cold.load_info().unwrap().clone();
    assert_eq!(cold_info.artifact, ArtifactSource::Compiled);

    let warm = load_after_restart(dir.path(), "m", &config).await;
    let warm_info = warm.load_info().unwrap().clone();
    assert_eq!(warm_info.artifact, ArtifactSource::DiskCache);
    assert_healthy(&warm).await;
    println!(
        "misbehaving component: cold load {:?} (compile {:?}), warm load {:?} (artifact {:?})",
        cold_info.total_time, cold_info.compile_time, warm_info.total_time, warm_info.compile_time
    );
    assert!(warm_info.compile_time < cold_info.compile_time);

    // The same runtime loading it again reuses the compiled component.
    let runtime = Runtime::new(cached_runtime_options(dir.path())).unwrap();
    runtime.load("a", &config).await.unwrap();
    let again = runtime.load("b", &config).await.unwrap();
    assert_eq!(again.load_info().unwrap().artifact, ArtifactSource::Memory);

    // Corrupt every entry: truncate one way, flip bytes another.
    let entries: Vec<PathBuf> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "cwasm"))
        .collect();
    assert_eq!(entries.len(), 1, "{entries:?}");
    let bytes = std::fs::read(&entries[0]).unwrap();
    let mut flipped = bytes.clone();
    let middle = flipped.len() / 2;
    flipped[middle] ^= 0xff;
    for corrupt in [
        flipped,
        bytes[..bytes.len() / 3].to_vec(),
        b"garbage".to_vec(),
    ] {
        std::fs::write(&entries[0], &corrupt).unwrap();
        let recovered = load_after_restart(dir.path(), "m", &config).await;
        let info = recovered.load_info().unwrap();
        assert_eq!(info.artifact, ArtifactSource::Compiled);
        assert!(info.discarded_cache_entry.is_some());
        assert_healthy(&recovered).await;
        // The recompiled artifact replaced the corrupt entry.
        let reloaded = load_after_restart(dir.path(), "m", &config).await;
        assert_eq!(
            reloaded.load_info().unwrap().artifact,
            ArtifactSource::DiskCache
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_calls_each_get_their_own_instance() {
    let gateway = runtime()
        .load("concurrent", &GatewayConfig::new(misbehaving()))
        .await
        .expect("loads");
    let mut tasks = Vec::new();
    for i in 0..40 {
        let gateway = gateway.clone();
        tasks.push(tokio::spawn(async move {
            let mut req = request("fine");
            req.idempotency_key = format!("key-{i}");
            if i % 10 == 3 {
                req.description = Some("trap".into());
            }
            (i, gateway.charge(req).await)
        }));
    }
    for task in tasks {
        let (i, result) = task.await.unwrap();
        if i % 10 == 3 {
            assert!(matches!(result, Err(CallError::Trap(_))), "{result:?}");
        } else {
            assert_eq!(result.unwrap().id, format!("mis_pay_key-{i}"));
        }
    }
}

#[tokio::test]
async fn no_state_survives_from_one_call_to_the_next() {
    let gateway = runtime()
        .load("isolated", &GatewayConfig::new(misbehaving()))
        .await
        .expect("loads");
    for _ in 0..3 {
        let payment = gateway.charge(request("count")).await.expect("counts");
        assert_eq!(
            payment.amount_captured, 1,
            "a fresh instance serves every call, so its counter starts from zero"
        );
    }
}

/// Cold (compile) and warm (artifact cache, as after a restart) load times of every built
/// component; run with `--nocapture` to see them.
#[tokio::test]
async fn cold_and_warm_load_times() {
    let dir = tempfile::tempdir().unwrap();
    for name in [
        "misbehaving_gateway",
        "omnicrm_offline_gateway",
        "omnicrm_stripe_gateway",
    ] {
        let path = gateway_tests::component_dir().join(format!("{name}.wasm"));
        if !path.exists() {
            println!("{name}: not built, skipped");
            continue;
        }
        let size = std::fs::metadata(&path).unwrap().len();
        let config = GatewayConfig::new(&path);
        let cold = load_after_restart(dir.path(), name, &config).await;
        let warm = load_after_restart(dir.path(), name, &config).await;
        let (cold, warm) = (cold.load_info().unwrap(), warm.load_info().unwrap());
        assert_eq!(cold.artifact, ArtifactSource::Compiled);
        assert_eq!(warm.artifact, ArtifactSource::DiskCache);
        println!(
            "{name} ({} KB): cold load {:.1} ms (compile {:.1} ms), warm load {:.1} ms (cached artifact {:.1} ms)",
            size / 1024,
            cold.total_time.as_secs_f64() * 1e3,
            cold.compile_time.as_secs_f64() * 1e3,
            warm.total_time.as_secs_f64() * 1e3,
            warm.compile_time.as_secs_f64() * 1e3,
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn calls_beyond_the_instance_pool_wait_for_a_slot() {
    let runtime = Runtime::new(RuntimeOptions {
        max_instances: 2,
        ..RuntimeOptions::default()
    })
    .unwrap();
    let gateway = runtime
        .load("small-pool", &GatewayConfig::new(misbehaving()))
        .await
        .unwrap();
    let calls = (0..12).map(|i| {
        let gateway = gateway.clone();
        tokio::spawn(async move {
            let mut req = request("fine");
            req.idempotency_key = format!("key-{i}");
            gateway.charge(req).await
        })
    });
    for call in calls.collect::<Vec<_>>() {
        call.await
            .unwrap()
            .expect("waits for a slot instead of failing");
    }
}

#[tokio::test]
async fn a_component_whose_interfaces_lack_functions_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let path = write_temp(dir.path(), "hollow.wat", &hollow_component("0.1.0"));
    let err = runtime()
        .load("hollow", &GatewayConfig::new(&path))
        .await
        .expect_err("interfaces without their functions must be refused");
    assert!(matches!(err, LoadError::Incompatible { .. }), "{err:?}");
    let message = err.to_string();
    println!("{message}");
    assert!(message.contains("does not match the contract"), "{message}");
}
