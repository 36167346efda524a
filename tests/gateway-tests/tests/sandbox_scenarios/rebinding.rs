//! An allowed host name that resolves to a private, loopback or link-local address is refused
//! when connecting (DNS rebinding: a public name pointed at the host's own network), unless the
//! gateway allows private networks (`allow_private_networks`). The runtime's static hosts stand
//! in for a resolver an attacker controls.

use super::*;
use std::collections::BTreeMap;
use std::net::IpAddr;

/// A runtime resolving `names` to `ips`.
fn runtime_resolving(names: &[(&str, &str)]) -> Runtime {
    let static_hosts: BTreeMap<String, Vec<IpAddr>> = names
        .iter()
        .map(|(name, ip)| (name.to_string(), vec![ip.parse().unwrap()]))
        .collect();
    Runtime::new(RuntimeOptions {
        max_instances: 8,
        static_hosts,
        ..RuntimeOptions::default()
    })
    .unwrap()
}

#[tokio::test]
async fn allowed_names_resolving_to_private_addresses_are_refused() {
    // Counts the connections it accepts, and closes them.
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let accepted = Arc::new(AtomicUsize::new(0));
    tokio::spawn({
        let accepted = accepted.clone();
        async move {
            while let Ok((socket, _)) = listener.accept().await {
                accepted.fetch_add(1, Ordering::SeqCst);
                drop(socket);
            }
        }
    });
    let runtime = runtime_resolving(&[
        ("api.rebound.example", "127.0.0.1"),
        ("metadata.rebound.example", "169.254.169.254"),
        ("lan.rebound.example", "10.1.2.3"),
        ("v6.rebound.example", "::1"),
    ]);
    let names = [
        "api.rebound.example",
        "metadata.rebound.example",
        "lan.rebound.example",
        "v6.rebound.example",
    ];
    let mut config = GatewayConfig::new(misbehaving());
    for name in names {
        config = config.allow_host(format!("https://{name}:{port}"));
    }
    let guarded = runtime.load("guarded", &config).await.expect("loads");
    for name in names {
        let answer = fetch(&guarded, &format!("https://{name}:{port}/v1/x")).await;
        assert_eq!(
            answer, "denied: ErrorCode::DestinationIpProhibited",
            "{name}"
        );
    }
    assert_eq!(accepted.load(Ordering::SeqCst), 0, "no connection was made");

    // Allowed explicitly, the same name connects (and fails at TLS: the listener hangs up).
    config.allow_private_networks = true;
    let open = runtime.load("open", &config).await.expect("loads");
    let answer = fetch(&open, &format!("https://api.rebound.example:{port}/v1/x")).await;
    assert!(!answer.contains("DestinationIpProhibited"), "{answer}");
    assert_eq!(accepted.load(Ordering::SeqCst), 1);
}
