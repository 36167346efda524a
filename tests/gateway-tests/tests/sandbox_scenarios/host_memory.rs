//! What the host holds on a plugin's behalf counts against the call's host buffer budget
//! (`limits.host_buffer_mib`, 16 MiB by default): request bodies not sent yet, header sets,
//! requests in flight; what a request holds of the plugin's text (method, authority, path) is
//! bounded. Going over it fails the call at once, as a trap naming the budget, and
//! the process does not grow with what the plugin asked for.

use super::*;
use std::time::Instant;

/// Taken by the tests that measure the process's memory, so that they do not measure each other.
/// (Other tests of the binary still run meanwhile, the other scenarios' included: the bounds
/// leave room for them.)
static MEASURING: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// The detail of a trap that names the host buffer budget.
fn assert_over_budget(trap: &PluginTrap, mib: u32) {
    assert!(
        trap.detail()
            .contains(&format!("exceeded its host buffer budget of {mib} MiB")),
        "{}",
        trap.detail()
    );
}

#[tokio::test]
async fn unsent_request_bodies_count_against_the_call_budget() {
    let api = echo_server().await;
    let gateway = runtime()
        .load(
            "body-hoarder",
            &limited_config(&api.origin, Limits::default()),
        )
        .await
        .expect("loads");
    let _measuring = MEASURING.lock().await;
    let before = resident_mib();
    let started = Instant::now();
    // 1,300 requests, each with as much of a 2 MiB body written as the host takes: 2.6 GB if
    // the host buffered what it was given.
    let result = gateway
        .charge(request(&format!(
            "hoard-bodies:1300:{}/v1/upload",
            api.origin
        )))
        .await;
    let elapsed = started.elapsed();
    let grown = resident_mib() - before;
    println!(
        "hoard-bodies:1300 (2 MiB each): failed after {elapsed:?}, resident memory grew by {grown:.1} MiB"
    );
    let trap = trap_of(result);
    assert_over_budget(&trap, 16);
    assert!(!trap.to_string().contains("budget"), "{trap}");
    assert!(grown < 512.0, "the process grew by {grown:.1} MiB");
    assert_eq!(api.requests.load(Ordering::SeqCst), 0, "nothing was sent");
    assert_healthy(&gateway).await;
}

#[tokio::test]
async fn header_sets_count_against_the_call_budget() {
    let gateway = runtime()
        .load(
            "header-hoarder",
            &GatewayConfig::new(misbehaving()).with_limits(Limits {
                host_buffer_mib: 4,
                ..Limits::default()
            }),
        )
        .await
        .expect("loads");
    let measuring = MEASURING.lock().await;
    let before = resident_mib();
    // 5,000 header sets of 8,000 bytes each: 40 MB if the host kept them all.
    let result = gateway.charge(request("hoard-headers:5000:8000")).await;
    let grown = resident_mib() - before;
    println!("hoard-headers:5000:8000: resident memory grew by {grown:.1} MiB");
    drop(measuring);
    assert_over_budget(&trap_of(result), 4);

    // A header set is bounded too: one of more than 16 KiB fails the call.
    let trap = trap_of(gateway.charge(request("hoard-headers:1:60000")).await);
    assert!(
        trap.detail().contains("total size of fields exceeds limit"),
        "{}",
        trap.detail()
    );
    assert_eq!(
        told(&gateway, "hoard-headers:3:15000").await,
        "hoarded: 3 header sets, 45000 bytes"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn requests_in_flight_count_against_the_call_budget() {
    let tarpit = tarpit().await;
    // 4 MiB hold 15 requests in flight (256 KiB each, with their handles).
    let limits = Limits {
        host_buffer_mib: 4,
        max_requests_in_flight_per_call: 64,
        call_timeout_ms: 20_000,
        ..Limits::default()
    };
    let gateway = runtime()
        .load("in-flight-hoarder", &limited_config(&tarpit.origin, limits))
        .await
        .expect("loads");
    let started = Instant::now();
    let result = gateway
        .charge(request(&format!("flood:40:{}/v1/slow", tarpit.origin)))
        .await;
    let elapsed = started.elapsed();
    assert_over_budget(&trap_of(result), 4);
    // Stopped when the budget ran out, not at the deadline (the tarpit never answers).
    assert!(
        elapsed < Duration::from_secs(5),
        "stopped after {elapsed:?}"
    );
    let sent = tarpit.requests.load(Ordering::SeqCst);
    assert!(sent < 16, "{sent} requests reached the server");
    assert_healthy(&gateway).await;
}

#[tokio::test]
async fn the_text_of_a_request_is_bounded() {
    let gateway = runtime()
        .load("long-requests", &GatewayConfig::new(misbehaving()))
        .await
        .expect("loads");
    let measuring = MEASURING.lock().await;
    let before = resident_mib();
    // 200 requests with a 1 MiB authority, path and method each: 600 MB if the host kept them.
    let answer = told(&gateway, "hoard-long-requests:200:1048576").await;
    let grown = resident_mib() - before;
    drop(measuring);
    println!("hoard-long-requests:200:1048576: {answer}; resident memory grew by {grown:.1} MiB");
    assert_eq!(
        answer,
        "kept: 200 requests; accepted 0 authorities, 0 paths, 0 methods"
    );
    assert!(grown < 256.0, "the process grew by {grown:.1} MiB");
    // What real requests use is accepted.
    assert_eq!(
        told(&gateway, "hoard-long-requests:3:60").await,
        "kept: 3 requests; accepted 3 authorities, 3 paths, 3 methods"
    );
}
