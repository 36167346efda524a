//! The sandbox's attacks and what stops them, with the misbehaving component
//! (`tests/components/misbehaving`, see its crate documentation for every behaviour) loaded
//! through the real host, and hostile servers on loopback:
//! - `outbound`: the allow-list, credentials injected by the host (bearer, basic, a named
//!   header, OAuth 2.0 client credentials), secrets kept out of errors;
//! - `host_memory`: host-side buffers (request bodies, header sets, requests in flight) held
//!   against the call's budget;
//! - `connections`: requests in flight per call and per gateway, connections per origin, a
//!   flooding gateway next to a well-behaved one;
//! - `credentials`: credentials only for the gateway's methods and paths, `TRACE` and
//!   `CONNECT` refused, responses reflecting a credential withheld, MAC keys kept to their
//!   purpose;
//! - `plugin_output`: log volume per call and per gateway, control characters escaped in what a
//!   plugin writes;
//! - `answers`: every answer checked against its request;
//! - `failures`: client-safe trap errors with a reference, a deadline hit while instantiating;
//! - `rebinding`: allowed names resolving to private addresses.
//!
//! The helpers here serve them and `sandbox.rs`.

#![allow(dead_code)]

mod answers;
mod connections;
mod credentials;
mod failures;
mod host_memory;
mod outbound;
mod plugin_output;
mod rebinding;

use gateway_tests::component_path;
use omnicrm_host::contract::{
    CaptureMode, ChargeRequest, GatewayError, Money, Payment, StoredCredentialUse,
};
use omnicrm_host::{
    CallError, Gateway, GatewayConfig, Limits, OutboundAuth, PluginTrap, Runtime, RuntimeOptions,
    SecretSource,
};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

/// One runtime for the tests of this file; its artifact cache lives in a temp dir, so each
/// component is compiled once.
pub fn runtime() -> Runtime {
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

pub fn misbehaving() -> PathBuf {
    component_path("misbehaving_gateway")
}

pub fn request(description: &str) -> ChargeRequest {
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
pub fn fetch_outcome(result: Result<Payment, CallError>) -> String {
    match result {
        Err(CallError::Gateway(GatewayError::NotAttempted(failure))) => failure.message,
        other => {
            panic!("expected a not-attempted answer carrying the fetch outcome, got {other:?}")
        }
    }
}

pub async fn assert_healthy(gateway: &Gateway) {
    let payment = gateway
        .charge(request("fine"))
        .await
        .expect("the next call works");
    assert_eq!(payment.id, "mis_pay_key-1");
    assert_eq!(payment.amount.amount, 1050);
}

/// The call ended in a timeout of its 500 ms deadline, promptly.
pub fn assert_stopped_by_the_deadline(result: Result<Payment, CallError>, elapsed: Duration) {
    match result {
        Err(CallError::Timeout { after }) => assert_eq!(after, Duration::from_millis(500)),
        other => panic!("expected a timeout, got {other:?}"),
    }
    assert!(
        elapsed < Duration::from_secs(3),
        "stopped after {elapsed:?}"
    );
}

pub fn write_temp(dir: &Path, name: &str, text: &str) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path
}

/// The interfaces every gateway component exports (contract 0.2).
pub const REQUIRED_INTERFACES: [&str; 4] = ["info", "tokens", "charging", "webhooks"];

/// The interfaces of contract 0.1, all required.
pub const INTERFACES_V0_1: [&str; 6] = [
    "info",
    "tokens",
    "charging",
    "invoicing",
    "metrics",
    "webhooks",
];

/// A component exporting every contract 0.1 interface at `version`, each an empty instance.
pub fn hollow_component(version: &str) -> String {
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
pub async fn load_after_restart(cache: &Path, name: &str, config: &GatewayConfig) -> Gateway {
    Runtime::new(cached_runtime_options(cache))
        .unwrap()
        .load(name, config)
        .await
        .unwrap()
}

/// Runtime options with the artifact cache in `cache`.
pub fn cached_runtime_options(cache: &Path) -> RuntimeOptions {
    RuntimeOptions {
        cache_dir: Some(cache.to_path_buf()),
        max_instances: 8,
        ..RuntimeOptions::default()
    }
}

/// What the misbehaving component's `fetch:` of `url` came to.
pub async fn fetch(gateway: &Gateway, url: &str) -> String {
    fetch_outcome(gateway.charge(request(&format!("fetch:{url}"))).await)
}

/// The misbehaving component allowed to reach `origin`, with bearer auth from the secret
/// `api-key`.
pub fn bearer_config(origin: &str, api_key: SecretSource) -> GatewayConfig {
    GatewayConfig::new(misbehaving())
        .allow_host(origin)
        .with_auth(OutboundAuth::Bearer {
            secret: "api-key".into(),
        })
        .with_secret("api-key", api_key)
}

/// What the echo server answers for an `Authorization` header: a fingerprint of it (a server
/// that reflected the credential itself would have its response withheld by the host).
pub fn fingerprint(authorization: &str) -> String {
    use sha2::Digest as _;
    format!(
        "authorization=sha256:{}",
        hex::encode(&sha2::Sha256::digest(authorization.as_bytes())[..8])
    )
}

/// A loopback HTTP/1.1 server that answers every request with `authorization=<none>` or
/// [`fingerprint`] of the `Authorization` header it received, counting requests and keeping their
/// heads.
pub struct EchoServer {
    pub origin: String,
    pub requests: Arc<AtomicUsize>,
    pub seen: Arc<Mutex<Vec<String>>>,
}

pub async fn echo_server() -> EchoServer {
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

/// The value of header `name` (any case) in a request head the echo server received.
pub fn header_in(head: &str, name: &str) -> Option<String> {
    head.lines().skip(1).find_map(|line| {
        let (key, value) = line.split_once(':')?;
        key.eq_ignore_ascii_case(name)
            .then(|| value.trim().to_string())
    })
}

/// The misbehaving component's answer to `description`, which carries a message
/// (`not-attempted`, as `fetch:` and the other HTTP behaviours answer).
pub async fn told(gateway: &Gateway, description: &str) -> String {
    fetch_outcome(gateway.charge(request(description)).await)
}

/// A loopback HTTP/1.1 server with keep-alive that answers each request after `delay` with
/// what `answer` makes of its head (the raw response, in pieces written 20 ms apart), and
/// counts requests, requests in flight and open connections (the most of each at once).
pub struct Server {
    pub origin: String,
    pub requests: Arc<AtomicUsize>,
    pub heads: Arc<Mutex<Vec<String>>>,
    pub in_flight: Arc<AtomicUsize>,
    pub max_in_flight: Arc<AtomicUsize>,
    pub open: Arc<AtomicUsize>,
    pub max_open: Arc<AtomicUsize>,
    pub accepted: Arc<AtomicUsize>,
}

/// A response with status 200 and `body`, in one piece.
pub fn ok_response(body: &str) -> Vec<Vec<u8>> {
    vec![
        format!(
            "HTTP/1.1 200 OK\r\ncontent-type: text/plain\r\ncontent-length: {}\r\n\r\n{body}",
            body.len()
        )
        .into_bytes(),
    ]
}

pub async fn server(
    delay: Duration,
    answer: impl Fn(&str) -> Vec<Vec<u8>> + Send + Sync + 'static,
) -> Server {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let server = Server {
        origin: format!("http://{}", listener.local_addr().unwrap()),
        requests: Default::default(),
        heads: Default::default(),
        in_flight: Default::default(),
        max_in_flight: Default::default(),
        open: Default::default(),
        max_open: Default::default(),
        accepted: Default::default(),
    };
    let answer = Arc::new(answer);
    let counters = (
        server.requests.clone(),
        server.heads.clone(),
        server.in_flight.clone(),
        server.max_in_flight.clone(),
        server.open.clone(),
        server.max_open.clone(),
        server.accepted.clone(),
    );
    tokio::spawn(async move {
        while let Ok((mut socket, _)) = listener.accept().await {
            let (requests, heads, in_flight, max_in_flight, open, max_open, accepted) =
                counters.clone();
            let answer = answer.clone();
            accepted.fetch_add(1, Ordering::SeqCst);
            let now_open = open.fetch_add(1, Ordering::SeqCst) + 1;
            max_open.fetch_max(now_open, Ordering::SeqCst);
            tokio::spawn(async move {
                let mut buf = Vec::new();
                let mut chunk = [0u8; 4096];
                'connection: loop {
                    let head_end = loop {
                        if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                            break i + 4;
                        }
                        match socket.read(&mut chunk).await {
                            Ok(0) | Err(_) => break 'connection,
                            Ok(n) => buf.extend_from_slice(&chunk[..n]),
                        }
                    };
                    let head = String::from_utf8_lossy(&buf[..head_end]).to_string();
                    let length: usize = header_in(&head, "content-length")
                        .and_then(|v| v.parse().ok())
                        .unwrap_or(0);
                    while buf.len() < head_end + length {
                        match socket.read(&mut chunk).await {
                            Ok(0) | Err(_) => break 'connection,
                            Ok(n) => buf.extend_from_slice(&chunk[..n]),
                        }
                    }
                    buf.drain(..head_end + length);
                    requests.fetch_add(1, Ordering::SeqCst);
                    heads.lock().unwrap().push(head.clone());
                    let now = in_flight.fetch_add(1, Ordering::SeqCst) + 1;
                    max_in_flight.fetch_max(now, Ordering::SeqCst);
                    // A client that hangs up while it waits is noticed.
                    let hung_up = tokio::select! {
                        () = tokio::time::sleep(delay) => false,
                        read = socket.read(&mut chunk) => match read {
                            Ok(0) | Err(_) => true,
                            Ok(n) => {
                                buf.extend_from_slice(&chunk[..n]);
                                false
                            }
                        },
                    };
                    if hung_up {
                        in_flight.fetch_sub(1, Ordering::SeqCst);
                        break;
                    }
                    let pieces = answer(&head);
                    let last = pieces.len().saturating_sub(1);
                    let mut failed = false;
                    for (i, piece) in pieces.iter().enumerate() {
                        if socket.write_all(piece).await.is_err() || socket.flush().await.is_err() {
                            failed = true;
                            break;
                        }
                        if i < last {
                            tokio::time::sleep(Duration::from_millis(20)).await;
                        }
                    }
                    in_flight.fetch_sub(1, Ordering::SeqCst);
                    if failed {
                        break;
                    }
                }
                open.fetch_sub(1, Ordering::SeqCst);
            });
        }
    });
    server
}

/// A loopback server that accepts connections and reads requests but never answers.
pub async fn tarpit() -> Server {
    server(Duration::from_secs(3600), |_| Vec::new()).await
}

/// The resident memory of this process, in MiB.
pub fn resident_mib() -> f64 {
    let statm = std::fs::read_to_string("/proc/self/statm").unwrap_or_default();
    let pages: f64 = statm
        .split_whitespace()
        .nth(1)
        .and_then(|p| p.parse().ok())
        .unwrap_or(0.0);
    pages * 4096.0 / (1024.0 * 1024.0)
}

/// The misbehaving component with `limits`, allowed to reach `origin`.
pub fn limited_config(origin: &str, limits: Limits) -> GatewayConfig {
    GatewayConfig::new(misbehaving())
        .allow_host(origin)
        .with_limits(limits)
}

/// The trap a call ended in; panics on anything else.
pub fn trap_of<T: std::fmt::Debug>(result: Result<T, CallError>) -> PluginTrap {
    match result {
        Err(CallError::Trap(trap)) => trap,
        other => panic!("expected a trap, got {other:?}"),
    }
}
