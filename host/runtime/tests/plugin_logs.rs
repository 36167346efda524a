//! What a plugin writes reaches the host's log as the host's own lines: attributed to the
//! gateway, control characters escaped (a plugin cannot start a line that passes for the host's,
//! or send terminal escapes), within the call's share; a trap is logged with its reference and
//! the detail callers do not see. The log is captured from a `tracing` subscriber while the
//! misbehaving component (`tests/components/misbehaving`, built by `cargo xtask plugins`) runs in
//! the real runtime.

use omnicrm_host::contract::{CaptureMode, ChargeRequest, Money, StoredCredentialUse};
use omnicrm_host::{CallError, Gateway, GatewayConfig, Limits, Runtime, RuntimeOptions};
use std::io::Write;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, OnceLock};

/// Everything logged by this test binary, from the first call of [`captured`] on.
fn log() -> &'static Arc<Mutex<Vec<u8>>> {
    static LOG: OnceLock<Arc<Mutex<Vec<u8>>>> = OnceLock::new();
    LOG.get_or_init(|| {
        let log = Arc::new(Mutex::new(Vec::new()));
        let sink = log.clone();
        tracing_subscriber::fmt()
            .with_ansi(false)
            .with_max_level(tracing::Level::INFO)
            .with_writer(move || Capture(sink.clone()))
            .init();
        log
    })
}

/// A writer appending to the captured log.
struct Capture(Arc<Mutex<Vec<u8>>>);

impl Write for Capture {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// The captured log's lines that name `gateway`.
fn lines_of(gateway: &str) -> Vec<String> {
    let text = String::from_utf8_lossy(&log().lock().unwrap()).to_string();
    let tag = format!("gateway=\"{gateway}\"");
    let tag_display = format!("gateway={gateway}");
    text.lines()
        .filter(|l| l.contains(&tag) || l.contains(&tag_display))
        .map(str::to_string)
        .collect()
}

fn misbehaving() -> PathBuf {
    omnicrm_host::built::component_path("misbehaving_gateway").unwrap_or_else(|e| panic!("{e}"))
}

async fn load(name: &str, limits: Limits) -> Gateway {
    log();
    let runtime = Runtime::new(RuntimeOptions {
        max_instances: 8,
        ..RuntimeOptions::default()
    })
    .unwrap();
    runtime
        .load(name, &GatewayConfig::new(misbehaving()).with_limits(limits))
        .await
        .expect("loads")
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
        metadata: Vec::new(),
        capture: CaptureMode::Automatic,
        stored_credential: StoredCredentialUse::MerchantUnscheduled,
        network_transaction_id: None,
        return_url: None,
        idempotency_key: "key-1".into(),
    }
}

#[tokio::test]
async fn plugin_lines_are_escaped_and_cannot_pass_for_the_hosts() {
    let gateway = load("forging-logger", Limits::default()).await;
    let forged = "ok\n2026-12-01T00:00:00.000000Z ERROR omnicrm_pay: forged admin login\u{1b}[2J";
    let result = gateway.charge(request(&format!("log:{forged}"))).await;
    // The payment echoes the description, escape included: not a valid answer either.
    assert!(
        matches!(&result, Err(CallError::InvalidOutput { field, .. }) if field == "payment.description"),
        "{result:?}"
    );
    let text = String::from_utf8_lossy(&log().lock().unwrap()).to_string();
    assert!(
        !text.contains('\u{1b}'),
        "a terminal escape reached the log"
    );
    // Every line with the plugin's text is the host's line (its own timestamp and level first)
    // naming the gateway.
    for line in text.lines().filter(|l| l.contains("forged admin login")) {
        assert!(
            !line.starts_with("2026-12-01T00:00:00") && line.contains("forging-logger"),
            "a plugin's line passes for the host's: {line}"
        );
        assert!(line.contains("forged admin login\\u{1b}[2J"), "{line}");
    }
    let lines: Vec<String> = lines_of("forging-logger")
        .into_iter()
        .filter(|l| l.contains("forged admin login"))
        .collect();
    // Through `logging` a message stays on one line, its line break escaped; stdout and stderr
    // are line streams, each line of them a line of the host's log.
    assert_eq!(lines.len(), 3, "{lines:#?}");
    assert_eq!(
        lines
            .iter()
            .filter(|l| l.contains("ok\\n2026-12-01T00:00:00.000000Z ERROR omnicrm_pay"))
            .count(),
        1,
        "{lines:#?}"
    );
    for stream in ["stdout", "stderr"] {
        assert!(
            lines
                .iter()
                .any(|l| l.contains(&format!("stream=\"{stream}\""))),
            "{lines:#?}"
        );
    }
}

#[tokio::test]
async fn a_chatty_call_logs_within_its_share_and_says_what_it_dropped() {
    let gateway = load(
        "flooding-logger",
        Limits {
            log_bytes_per_call: 16 * 1024,
            ..Limits::default()
        },
    )
    .await;
    gateway
        .charge(request("log-flood:1"))
        .await
        .expect("succeeds");
    let lines = lines_of("flooding-logger");
    let plugin_lines = lines.iter().filter(|l| l.contains("llllllll")).count();
    // 16 KiB of 1,023-byte lines.
    assert_eq!(plugin_lines, 16, "{plugin_lines} plugin lines logged");
    let summary = lines
        .iter()
        .find(|l| l.contains("dropped plugin log output"))
        .unwrap_or_else(|| panic!("no summary of what was dropped: {lines:#?}"));
    assert!(summary.contains("lines=2032"), "{summary}");
    assert_eq!(gateway.stats().log_lines_dropped, 2032);
}

#[tokio::test]
async fn a_trap_is_logged_with_its_reference_and_detail() {
    let gateway = load("trapping-logger", Limits::default()).await;
    let err = gateway
        .charge(request("trap:boom\nINFO forged"))
        .await
        .expect_err("traps");
    let CallError::Trap(trap) = &err else {
        panic!("{err:?}")
    };
    let lines = lines_of("trapping-logger");
    let line = lines
        .iter()
        .find(|l| l.contains(trap.reference()))
        .unwrap_or_else(|| panic!("no log line with {}: {lines:#?}", trap.reference()));
    assert!(line.contains("the plugin failed unexpectedly"), "{line}");
    assert!(
        line.contains("boom\\\\nINFO forged") || line.contains("boom\\nINFO forged"),
        "{line}"
    );
    assert!(!err.to_string().contains("boom"), "{err}");
}
