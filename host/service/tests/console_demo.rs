//! The console as the README opens it: `omnicrm-pay demo --keep-serving` runs the demo's story,
//! stays up and prints the console's address and a sign-in; an operator signs in with them in
//! a real browser and finds the story's data on every page. The screenshots
//! (`target/console-screenshots/demo-*.png`) are the ones the README shows.

use std::process::Stdio;
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::Command;

use crate::common::browser::Browser;

/// What the demo prints once its story is told and it keeps serving.
struct Printed {
    /// `http://127.0.0.1:PORT`.
    base: String,
    /// The console user and its password.
    user: String,
    password: String,
}

/// Reads the demo's output up to the sign-in it prints, keeping every line for a failure.
async fn read_sign_in(
    lines: &mut tokio::io::Lines<BufReader<tokio::process::ChildStdout>>,
) -> Result<Printed, String> {
    let mut seen = String::new();
    let mut base = None;
    while let Some(line) = lines.next_line().await.map_err(|e| e.to_string())? {
        seen.push_str(&line);
        seen.push('\n');
        let words: Vec<&str> = line.split_whitespace().collect();
        match words.as_slice() {
            ["console", url] => base = url.strip_suffix("/console").map(str::to_string),
            ["sign", "in", user, "/", password] => {
                let base = base.ok_or_else(|| format!("no console address before:\n{seen}"))?;
                return Ok(Printed {
                    base,
                    user: user.to_string(),
                    password: password.to_string(),
                });
            }
            _ => {}
        }
    }
    Err(format!("the demo ended without a sign-in:\n{seen}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_demo_keeps_serving_and_every_console_page_shows_its_data() {
    let dir = tempfile::tempdir().unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_omnicrm-pay"))
        .args(["demo", "--keep-serving"])
        .current_dir(dir.path())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .kill_on_drop(true)
        .spawn()
        .expect("starting the demo");
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let printed = tokio::time::timeout(Duration::from_secs(180), read_sign_in(&mut lines))
        .await
        .expect("the demo printed a sign-in within 3 minutes")
        .unwrap_or_else(|e| panic!("{e}"));
    // The rest of the output is drained so that the demo never blocks on a full pipe.
    tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
    let url = |path: &str| format!("{}{path}", printed.base);

    let b = Browser::start().await;
    b.sign_in(&printed.base, (&printed.user, &printed.password))
        .await;
    assert!(b.text("#operator").await.contains("write"));

    // The dashboard opens on the last 30 days in the demo gateway's currency: the story's
    // payments, its refund and its dispute, charted.
    b.goto(&url("/console")).await;
    let payments: u64 = b
        .text("#fig-combined-successful_payments")
        .await
        .parse()
        .unwrap();
    assert!(
        payments >= 3,
        "charge, invoice and the disputed charge: {payments}"
    );
    assert!(b.text("#fig-combined-refunds").await.starts_with("USD "));
    assert_ne!(b.text("#fig-combined-refunds").await, "USD 0.00");
    assert_eq!(b.text("#fig-combined-disputes").await, "1");
    assert!(b.has("svg.chart polyline").await, "the charts are drawn");
    b.screenshot("demo-dashboard").await;

    b.goto(&url("/console/customers")).await;
    assert!(b.text("#customers").await.contains("crm-1001"));
    b.screenshot("demo-customers").await;
    b.goto(&url("/console/customers/crm-1001")).await;
    assert!(b.text("#cards").await.contains("4242"));
    assert!(b.text("#transactions").await.contains("Fibre 1 Gbps"));
    b.screenshot("demo-customer").await;

    b.goto(&url("/console/transactions")).await;
    let listed = b.text("#transactions").await;
    for what in ["Fibre 1 Gbps", "Top-up", "Router", "failed"] {
        assert!(listed.contains(what), "{what} in:\n{listed}");
    }
    b.screenshot("demo-transactions").await;
    // The disputed charge, through the disputes page's link.
    b.goto(&url("/console/disputes")).await;
    assert!(b.text("#disputes").await.contains("USD 75.00"));
    b.screenshot("demo-disputes").await;
    b.submit("#disputes a[href^='/console/transactions/']")
        .await;
    assert!(b.text("#txn-description").await.contains("Router"));
    assert!(b.text("#txn-disputes").await.contains("USD 75.00"));
    b.screenshot("demo-transaction").await;

    b.goto(&url("/console/invoices")).await;
    assert!(b.text("#invoices").await.contains("paid"));
    b.screenshot("demo-invoices").await;
    b.submit("#invoices a[href^='/console/invoices/']").await;
    assert!(b.text("#invoice-status").await.contains("paid"));
    let lines = b.text("#transactions").await;
    assert!(
        lines.contains("Mobile plan, April") && lines.contains("credit −USD 5.00"),
        "the invoice's lines, its credit shown as one:\n{lines}"
    );
    b.screenshot("demo-invoice").await;

    b.goto(&url("/console/gateways")).await;
    assert!(b.text("#gateway-stripe").await.contains("ready"));
    b.screenshot("demo-gateways").await;
    b.goto(&url("/console/billing-runs")).await;
    assert!(b.has("#start-run").await);
    b.screenshot("demo-billing-runs").await;
    b.close().await;

    child.kill().await.expect("stopping the demo");
}
