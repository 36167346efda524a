//! The `omnicrm-pay` binary: the demo (Stripe emulator and offline), `serve` from a
//! configuration file with a clean stop on SIGTERM, and the helper commands.

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::common::component_dir;
use omnicrm_pay::client::ApiClient;

fn bin() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_omnicrm-pay"));
    c.env_remove("STRIPE_SECRET_KEY")
        .env("OMNICRM_COMPONENT_DIR", component_dir())
        .env("RUST_LOG", "error");
    c
}

fn demo(args: &[&str]) -> String {
    let out = bin().arg("demo").args(args).output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "demo {args:?} failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    stdout
}

/// Without the `emulator` feature (a lean build) the demo says how to get a Stripe to charge.
#[cfg(not(feature = "emulator"))]
#[test]
fn a_lean_build_explains_that_the_demo_needs_the_emulator_feature() {
    let out = bin()
        .arg("demo")
        .env_remove("STRIPE_SECRET_KEY")
        .output()
        .unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("`emulator` feature"), "{stderr}");
}

#[cfg(feature = "emulator")]
#[test]
fn the_demo_walks_the_whole_story_on_the_stripe_emulator() {
    let out = demo(&[]);
    for needle in [
        "Stripe emulator",
        "gateway customer       cus_",
        "visa •••• 4242",
        "USD 49.99 succeeded",
        "insufficient funds",
        "failed (card_declined",
        "USD 10.00 succeeded",
        "partially_refunded",
        "INV-",
        "paid amount paid USD 15.00",
        "reason fraudulent",
        "revenue",
        "fees",
        "net",
        "disputes               1",
    ] {
        assert!(out.contains(needle), "missing {needle:?} in:\n{out}");
    }
}

#[test]
fn the_demo_runs_on_the_offline_plugin_with_the_same_binary() {
    let out = demo(&["--gateway", "offline"]);
    for needle in [
        "offline plugin",
        "off_cus_",
        "USD 49.99 succeeded",
        "failed (card_declined / insufficient_funds)",
        "paid amount paid USD 15.00",
        // The plugin's acknowledgement, for the duplicate too (applied once: one dispute).
        "duplicate delivery     HTTP 200 {\"received\":true}",
        "off_du_demo_1",
    ] {
        assert!(out.contains(needle), "missing {needle:?} in:\n{out}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serve_runs_from_a_configuration_file_and_stops_on_sigterm() {
    let dir = tempfile::tempdir().unwrap();
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let key = "cli-test-key";
    let config = format!(
        r#"
[service]
listen = "127.0.0.1:{port}"
database = "ledger.db"
[[service.api_keys]]
name = "crm"
sha256 = "{hash}"
scopes = ["read", "write"]
[gateways.offline]
component = "{component}"
"#,
        hash = omnicrm_pay::config::hash_api_key(key),
        component = component_dir()
            .join("omnicrm_offline_gateway.wasm")
            .display(),
    );
    let path = dir.path().join("omnicrm-pay.toml");
    std::fs::write(&path, config).unwrap();
    let check = bin()
        .args(["check-config", "--config"])
        .arg(&path)
        .output()
        .unwrap();
    assert!(check.status.success());
    assert!(String::from_utf8_lossy(&check.stdout).contains("gateway offline"));

    let mut child = bin()
        .args(["serve", "--config"])
        .arg(&path)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let api = ApiClient::new(format!("http://127.0.0.1:{port}"), Some(key.into()));
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        if let Ok(r) = api.get("/health").await
            && r.status == 200
        {
            break;
        }
        assert!(Instant::now() < deadline, "serve did not come up");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let r = api.get("/v1/gateways").await.unwrap();
    assert_eq!(r.json["default"], "offline");
    assert!(
        dir.path().join("ledger.db").exists(),
        "the ledger is next to the file"
    );
    let term = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(term.success());
    let deadline = Instant::now() + Duration::from_secs(30);
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        assert!(Instant::now() < deadline, "serve did not stop on SIGTERM");
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert!(status.success(), "{status}");
}

#[test]
fn helper_commands() {
    let out = bin().args(["hash-key", "password"]).output().unwrap();
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        "5e884898da28047151d0e56f8dc6292773603d0d6aabbdd62a11ef721d1542d8"
    );
    let out = bin().arg("generate-key").output().unwrap();
    assert!(String::from_utf8_lossy(&out.stdout).contains("sha256: "));
    let out = bin().arg("--help").output().unwrap();
    let help = String::from_utf8_lossy(&out.stdout);
    for cmd in ["serve", "billing-run", "demo", "reconcile"] {
        assert!(help.contains(cmd), "{help}");
    }
    let out = bin()
        .args(["serve", "--config", "/nonexistent/omnicrm-pay.toml"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("/nonexistent/omnicrm-pay.toml"));
}
