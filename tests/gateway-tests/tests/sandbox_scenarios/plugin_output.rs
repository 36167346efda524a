//! What a plugin writes to the host's log (the `logging` interface, stdout, stderr) is capped per
//! call (`limits.log_bytes_per_call`) and per gateway (`limits.log_bytes_per_second`); what is
//! dropped is counted (`Gateway::stats`). The plugin's text in errors is escaped and bounded.
//! (That the log lines themselves are escaped is checked where the log can be captured:
//! `host/runtime/tests/plugin_logs.rs`.)

use super::*;
use std::time::Instant;

#[tokio::test]
async fn log_output_is_capped_per_call_and_what_is_dropped_is_counted() {
    let gateway = runtime()
        .load(
            "chatty",
            &GatewayConfig::new(misbehaving()).with_limits(Limits {
                log_bytes_per_call: 64 * 1024,
                log_bytes_per_second: 16 * 1024 * 1024,
                ..Limits::default()
            }),
        )
        .await
        .expect("loads");
    assert_eq!(gateway.stats().log_lines_dropped, 0);
    let started = Instant::now();
    // 2 MiB through `logging` and 2 MiB through stderr, in 1 KiB lines.
    gateway
        .charge(request("log-flood:2"))
        .await
        .expect("a chatty call still succeeds");
    let elapsed = started.elapsed();
    let stats = gateway.stats();
    println!("log-flood:2 took {elapsed:?}; dropped {stats:?}");
    // 4,096 lines of 1,023 bytes: 64 of them fit in 64 KiB.
    assert!(
        (4096 - 64..=4096 - 60).contains(&stats.log_lines_dropped),
        "{stats:?}"
    );
    assert!(stats.log_bytes_dropped >= (4096 - 64) * 1023, "{stats:?}");
    // The next call has a share of its own.
    gateway.charge(request("log:one line")).await.unwrap();
    assert_eq!(gateway.stats(), stats, "three short lines fit");
}

#[tokio::test]
async fn log_output_is_capped_per_gateway() {
    let gateway = runtime()
        .load(
            "chatty-gateway",
            &GatewayConfig::new(misbehaving()).with_limits(Limits {
                log_bytes_per_call: 4 * 1024 * 1024,
                log_bytes_per_second: 32 * 1024,
                ..Limits::default()
            }),
        )
        .await
        .expect("loads");
    let started = Instant::now();
    let calls: Vec<_> = (0..4)
        .map(|_| {
            let gateway = gateway.clone();
            tokio::spawn(async move { gateway.charge(request("log-flood:1")).await })
        })
        .collect();
    for call in calls {
        call.await.unwrap().expect("succeeds");
    }
    let seconds = started.elapsed().as_secs_f64();
    let stats = gateway.stats();
    // 8 MiB written; a second's worth (32 KiB) and 32 KiB a second after that go through.
    let admitted = 8192 - stats.log_lines_dropped;
    println!("4 x log-flood:1 in {seconds:.2} s: {admitted} lines admitted, {stats:?}");
    assert!(
        admitted as f64 <= 32.0 * (1.0 + seconds) + 1.0,
        "{admitted} lines admitted in {seconds:.2} s"
    );
}

#[tokio::test]
async fn a_plugins_error_text_is_escaped_and_bounded() {
    let gateway = runtime()
        .load("forger", &GatewayConfig::new(misbehaving()))
        .await
        .expect("loads");
    let forged = "declined\n2026-12-01T00:00:00Z ERROR omnicrm_pay: forged line\u{1b}[2J";
    let err = gateway
        .charge(request(&format!("fail:{forged}")))
        .await
        .expect_err("fails");
    let CallError::Gateway(GatewayError::OutcomeUnknown(failure)) = &err else {
        panic!("{err:?}")
    };
    assert!(
        !failure.message.chars().any(char::is_control),
        "{:?}",
        failure.message
    );
    assert!(
        failure
            .message
            .starts_with("declined\\n2026-12-01T00:00:00Z ERROR"),
        "{:?}",
        failure.message
    );
    assert!(!err.to_string().chars().any(char::is_control), "{err}");

    let long = "x".repeat(100_000);
    let err = gateway
        .charge(request(&format!("fail:{long}")))
        .await
        .expect_err("fails");
    let CallError::Gateway(GatewayError::OutcomeUnknown(failure)) = &err else {
        panic!("{err:?}")
    };
    assert!(failure.message.len() <= 1024, "{}", failure.message.len());
}
