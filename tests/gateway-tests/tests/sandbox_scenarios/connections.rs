//! Requests in flight are capped per call (`limits.max_requests_in_flight_per_call`) and per
//! gateway (`limits.max_requests_in_flight`), connections per origin
//! (`limits.max_connections_per_origin`); requests beyond wait for their turn. Each gateway
//! has its own client and pool, so a gateway flooding a slow host does not hold the
//! connections, descriptors or slots a neighbour needs.

use super::*;
use std::time::Instant;

/// A server answering `ok` after 150 ms.
async fn slow_server() -> Server {
    server(Duration::from_millis(150), |_| ok_response("ok")).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn requests_in_flight_are_capped_per_call() {
    let api = slow_server().await;
    let limits = Limits {
        max_requests_in_flight_per_call: 3,
        ..Limits::default()
    };
    let gateway = runtime()
        .load("per-call-cap", &limited_config(&api.origin, limits))
        .await
        .expect("loads");
    let answer = told(&gateway, &format!("flood:12:{}/v1/x", api.origin)).await;
    assert_eq!(answer, "flood: 12 ok, 0 failed");
    let most = api.max_in_flight.load(Ordering::SeqCst);
    assert!((2..=3).contains(&most), "{most} requests in flight at once");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn requests_in_flight_are_capped_per_gateway() {
    let api = slow_server().await;
    let limits = Limits {
        max_requests_in_flight_per_call: 8,
        max_requests_in_flight: 4,
        ..Limits::default()
    };
    let gateway = runtime()
        .load("per-gateway-cap", &limited_config(&api.origin, limits))
        .await
        .expect("loads");
    let calls: Vec<_> = (0..4)
        .map(|_| {
            let (gateway, url) = (gateway.clone(), format!("flood:6:{}/v1/x", api.origin));
            tokio::spawn(async move { told(&gateway, &url).await })
        })
        .collect();
    for call in calls {
        assert_eq!(call.await.unwrap(), "flood: 6 ok, 0 failed");
    }
    let most = api.max_in_flight.load(Ordering::SeqCst);
    assert!((2..=4).contains(&most), "{most} requests in flight at once");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connections_per_origin_are_capped() {
    let api = slow_server().await;
    let limits = Limits {
        max_requests_in_flight_per_call: 8,
        max_connections_per_origin: 2,
        ..Limits::default()
    };
    let gateway = runtime()
        .load("per-origin-cap", &limited_config(&api.origin, limits))
        .await
        .expect("loads");
    let answer = told(&gateway, &format!("flood:8:{}/v1/x", api.origin)).await;
    assert_eq!(answer, "flood: 8 ok, 0 failed");
    let most = api.max_open.load(Ordering::SeqCst);
    assert!((1..=2).contains(&most), "{most} connections open at once");
}

/// The descriptors this process has open.
fn open_descriptors() -> usize {
    std::fs::read_dir("/proc/self/fd").map_or(0, |d| d.count())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_flooding_gateway_does_not_slow_its_neighbour() {
    let tarpit = tarpit().await;
    let api = echo_server().await;
    let flooder_limits = Limits {
        call_timeout_ms: 3_000,
        host_buffer_mib: 64,
        max_requests_in_flight_per_call: 64,
        max_requests_in_flight: 16,
        ..Limits::default()
    };
    let flooder = runtime()
        .load("flooder", &limited_config(&tarpit.origin, flooder_limits))
        .await
        .expect("loads");
    let neighbour = runtime()
        .load(
            "neighbour",
            &GatewayConfig::new(misbehaving()).allow_host(&api.origin),
        )
        .await
        .expect("loads");
    let url = format!("{}/v1/ok", api.origin);

    let mut quiet = Vec::new();
    for _ in 0..10 {
        let started = Instant::now();
        assert_eq!(
            fetch(&neighbour, &url).await,
            "status: 200, body: authorization=<none>"
        );
        quiet.push(started.elapsed());
    }
    let descriptors_before = open_descriptors();

    // Eight calls of the flooder each start 100 requests to a host that never answers.
    let floods: Vec<_> = (0..8)
        .map(|_| {
            let (flooder, url) = (
                flooder.clone(),
                format!("flood:100:{}/v1/slow", tarpit.origin),
            );
            tokio::spawn(async move { flooder.charge(request(&url)).await })
        })
        .collect();
    tokio::time::sleep(Duration::from_millis(300)).await;
    let descriptors_during = open_descriptors();
    let mut busy = Vec::new();
    for _ in 0..20 {
        let started = Instant::now();
        assert_eq!(
            fetch(&neighbour, &url).await,
            "status: 200, body: authorization=<none>"
        );
        busy.push(started.elapsed());
    }
    // Measured while the flood runs (when its calls end, the requests still waiting take the
    // slots of the abandoned ones for a moment).
    let connections = tarpit.max_open.load(Ordering::SeqCst);
    let in_flight = tarpit.max_in_flight.load(Ordering::SeqCst);
    for flood in floods {
        let result = flood.await.unwrap();
        assert!(
            matches!(result, Err(CallError::Timeout { .. })),
            "{result:?}"
        );
    }
    quiet.sort();
    busy.sort();
    let (quiet_median, busy_median, busy_max) = (quiet[5], busy[10], busy[19]);
    println!(
        "neighbour fetch: median {quiet_median:?} alone, {busy_median:?} (max {busy_max:?}) next to a flood of 800 requests; \
         the flood held {connections} connections, descriptors {descriptors_before} -> {descriptors_during}"
    );
    assert!(
        (1..=16).contains(&connections),
        "the flooder held {connections} connections to one host"
    );
    assert!(in_flight <= 16, "{in_flight} requests in flight");
    // Other tests of this binary run meanwhile: a margin for their descriptors.
    assert!(
        descriptors_during <= descriptors_before + 64,
        "descriptors {descriptors_before} -> {descriptors_during}"
    );
    assert!(busy_max < Duration::from_secs(1), "{busy:?}");
}
