//! `omnicrm-pay demo --gateway adyen`: the whole Adyen story, run by the binary on its in-process
//! Adyen emulator.

use std::process::Command;

use crate::common::component_dir;

fn demo(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_omnicrm-pay"))
        .arg("demo")
        .args(args)
        .env_remove("STRIPE_SECRET_KEY")
        .env("OMNICRM_COMPONENT_DIR", component_dir())
        .env("RUST_LOG", "error")
        .output()
        .unwrap()
}

/// Without the `emulator` feature (a lean build) the Adyen demo says how to get an Adyen to charge.
#[cfg(not(feature = "emulator"))]
#[test]
fn a_lean_build_explains_that_the_adyen_demo_needs_the_emulator_feature() {
    let out = demo(&["--gateway", "adyen"]);
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("`emulator` feature"), "{stderr}");
}

#[cfg(feature = "emulator")]
#[test]
fn the_demo_walks_the_adyen_story_on_the_adyen_emulator() {
    let started = std::time::Instant::now();
    let out = demo(&["--gateway", "adyen"]);
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "demo --gateway adyen failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    eprintln!("the Adyen demo took {:?}", started.elapsed());
    for needle in [
        "Adyen plugin -> Adyen emulator",
        "contract 0.2.0",
        "shopper reference      crm-2001",
        "visa •••• 1111",
        "#1 EUR 49.99 succeeded",
        // Declined when stored, and declined at the charge once the issuer refuses the card.
        "refused at storage     HTTP 400: the card was declined",
        "#2 EUR 25.00 failed (12 / Not enough balance, insufficient_funds)",
        // 3-D Secure: the card session's card, then an on-session payment completed by the
        // customer at the emulator's page.
        "visa •••• 0006",
        "#3 EUR 19.99 requires_action (HTTP 402 authentication_required)",
        "next action            redirect GET /_emulator/threeds/",
        "authenticated          #3 EUR 19.99 succeeded",
        // Two partial captures, settled by notifications.
        "capture                EUR 30.00 final=false HTTP 202",
        "capture (notification) EUR 30.00 succeeded",
        "capture (notification) EUR 20.00 succeeded",
        "transaction now        #4 EUR 80.00 succeeded captured EUR 50.00",
        // A refund answered pending, settled by the REFUND notification.
        "refund                 #1 EUR 10.00 HTTP 202",
        "refund (notification)  EUR 10.00 succeeded",
        "partially_refunded (refunded EUR 10.00)",
        // The chargeback, reported by notifications.
        "CHARGEBACK reason 10.4",
        "EUR 75.00 reason 10.4 status open",
        // The ledger's figures.
        "revenue                EUR 194.98",
        "successful payments    4",
        "refunds                EUR 10.00 (1)",
        "fees                   EUR 0.00 (Adyen reports none per payment)",
        "net                    EUR 109.98",
        "disputes               1 (EUR 75.00)",
    ] {
        assert!(stdout.contains(needle), "missing {needle:?} in:\n{stdout}");
    }
}

/// An unknown gateway names the ones the demo knows.
#[test]
fn the_demo_names_its_gateways() {
    let out = demo(&["--gateway", "worldpay"]);
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("use stripe, adyen or offline"), "{stderr}");
}
