//! The service with heavy and faulty plugins, through real HTTP and real components: it
//! answers while gateways load (and says which failed, and why), reconciles in the background
//! with bounded attempts, flags what never settles for an operator who settles it by hand, and
//! never hands a plugin's trap text to API clients or the ledger.

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use omnicrm_pay::client::{ApiClient, ApiResponse};
use omnicrm_pay::config::{ServiceConfig, hash_api_key};
use omnicrm_pay::server::{self, Running};
use serde_json::{Value, json};
use tokio::net::TcpListener;

use crate::common::{cache_dir, component, customer_with_card};

const RW_KEY: &str = "robust-read-write";
const ADMIN_KEY: &str = "robust-admin";
/// What the misbehaving component panics with: it must reach the log only.
const PANIC_TEXT: &str = "trap requested";

/// A configuration file in `dir`: the misbehaving gateway (calls time out after 1 s), plus
/// `extra` TOML.
fn write_config(dir: &Path, service_extra: &str, extra: &str) -> std::path::PathBuf {
    let text = format!(
        r#"
[service]
database = "ledger.db"
durability = "normal"
default_gateway = "mis"
watch_components = false
{service_extra}

[[service.api_keys]]
name = "crm"
sha256 = "{rw}"
scopes = ["read", "write"]

[[service.api_keys]]
name = "ops"
sha256 = "{admin}"
scopes = ["admin"]

[gateways.mis]
component = "{mis}"
[gateways.mis.limits]
call_timeout_ms = 1000
{extra}
"#,
        rw = hash_api_key(RW_KEY),
        admin = hash_api_key(ADMIN_KEY),
        mis = component("misbehaving_gateway").display(),
    );
    let path = dir.join("omnicrm-pay.toml");
    std::fs::write(&path, text).unwrap();
    path
}

/// Starts the service as `serve` does: the gateways load in the background. With `hold`, their
/// loading waits until the returned guard is dropped.
async fn serve(
    config_path: &Path,
    hold: bool,
) -> (
    Running,
    ApiClient,
    Option<tokio::sync::OwnedRwLockWriteGuard<()>>,
) {
    let config = ServiceConfig::load(config_path).unwrap();
    let mut options = server::runtime_options(&config).unwrap();
    options.cache_dir = Some(cache_dir());
    let service = server::build_unloaded(&config, options).await.unwrap();
    let guard = if hold {
        Some(service.gateways.hold_loading().await)
    } else {
        None
    };
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let running = server::start(&config, service, Some(listener))
        .await
        .unwrap();
    let api = ApiClient::new(format!("http://{}", running.addr), Some(RW_KEY.into()));
    (running, api, guard)
}

async fn get(api: &ApiClient, path: &str) -> ApiResponse {
    api.get(path).await.unwrap()
}

async fn post(api: &ApiClient, path: &str, body: Value) -> ApiResponse {
    api.post(path, body).await.unwrap()
}

fn gateway<'a>(list: &'a ApiResponse, name: &str) -> &'a Value {
    list.json["gateways"]
        .as_array()
        .unwrap()
        .iter()
        .find(|g| g["name"] == name)
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serve_answers_while_gateways_load_and_names_the_one_that_failed() {
    let dir = tempfile::tempdir().unwrap();
    let broken = dir.path().join("broken.wasm");
    std::fs::write(&broken, b"this is not WebAssembly").unwrap();
    let config = write_config(
        dir.path(),
        "",
        &format!("[gateways.broken]\ncomponent = \"{}\"\n", broken.display()),
    );
    let (running, api, hold) = serve(&config, true).await;

    // Listening at once, while the components load.
    let health = get(&api, "/health").await;
    assert_eq!(health.status, 200, "{}", health.json);
    assert_eq!(health.json["status"], "starting", "{}", health.json);
    assert_eq!(health.json["loading"], json!(["broken", "mis"]));
    let list = get(&api, "/v1/gateways").await;
    assert_eq!(list.status, 200, "{}", list.json);
    assert_eq!(gateway(&list, "mis")["state"], "loading", "{}", list.json);
    // A call to a gateway still loading is refused at once, never held.
    let asked = Instant::now();
    let r = post(&api, "/v1/customers", json!({ "customer_id": "c-1" })).await;
    assert!(asked.elapsed() < Duration::from_secs(2));
    assert_eq!(r.status, 503, "{}", r.json);
    assert_eq!(r.json["error"]["code"], "gateway_loading", "{}", r.json);
    assert_eq!(r.json["error"]["field"], "gateway");
    assert_eq!(r.header("retry-after"), Some("5"));

    drop(hold);
    tokio::time::timeout(
        Duration::from_secs(120),
        running.service.gateways.wait_settled(),
    )
    .await
    .expect("the gateways settle");

    let health = get(&api, "/health").await;
    assert_eq!(health.status, 200, "{}", health.json);
    assert_eq!(health.json["status"], "degraded", "{}", health.json);
    assert_eq!(health.json["loading"], json!([]));
    assert_eq!(
        health.json["failed"][0]["name"], "broken",
        "{}",
        health.json
    );
    let reason = health.json["failed"][0]["error"].as_str().unwrap();
    assert!(reason.contains("not a WebAssembly component"), "{reason}");
    let list = get(&api, "/v1/gateways").await;
    assert_eq!(gateway(&list, "mis")["state"], "ready", "{}", list.json);
    assert_eq!(
        gateway(&list, "mis")["display_name"],
        "Misbehaving test gateway"
    );
    assert_eq!(gateway(&list, "broken")["state"], "failed");
    assert_eq!(gateway(&list, "broken")["error"], reason);
    // The failed gateway is refused at once; the loaded one works.
    let r = post(
        &api,
        "/v1/customers",
        json!({ "customer_id": "c-1", "gateway": "broken" }),
    )
    .await;
    assert_eq!(r.status, 503, "{}", r.json);
    assert_eq!(r.json["error"]["code"], "gateway_load_failed");
    let r = post(&api, "/v1/customers", json!({ "customer_id": "c-1" })).await;
    assert_eq!(r.status, 200, "{}", r.json);
    running.shutdown().await;
}

/// The operations of a transaction, read from the ledger.
async fn charge_attempts(running: &Running, txn: i64) -> (i64, i64, bool) {
    let ops = running
        .service
        .db
        .run(move |l| l.operations_for(Some(txn), None))
        .await
        .unwrap();
    let op = &ops[0];
    (op.attempts, op.reconcile_attempts, op.flagged_at.is_some())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_outcomes_are_reconciled_in_the_background_a_bounded_number_of_times_then_settled_by_hand()
 {
    let dir = tempfile::tempdir().unwrap();
    // First run: no reconciliation to speak of (a pass an hour).
    let quiet = write_config(
        dir.path(),
        "reconcile_interval_secs = 3600\nreconcile_max_attempts = 3\nreconcile_backoff_secs = 0",
        "",
    );
    let (running, api, _) = serve(&quiet, false).await;
    running.service.gateways.wait_settled().await;
    customer_with_card(&api, json!({ "customer_id": "c-1" }), "tok").await;
    // Charges whose plugin traps (every time) or spins past its deadline (every time).
    let mut trapped = Vec::new();
    for i in 0..4 {
        let description = if i < 3 { "trap" } else { "loop" };
        let r = post(
            &api,
            "/v1/transactions",
            json!({ "customer_id": "c-1", "amount": 1000 + i, "currency": "USD", "description": description }),
        )
        .await;
        assert_eq!(r.status, 504, "{}", r.json);
        assert_eq!(r.json["error"]["code"], "outcome_unknown");
        let message = r.json["error"]["message"].as_str().unwrap();
        let txn = &r.json["error"]["details"]["transaction"];
        if description == "trap" {
            // The client hears a short message and a reference, never the plugin's text.
            assert!(
                !r.raw
                    .windows(PANIC_TEXT.len())
                    .any(|w| w == PANIC_TEXT.as_bytes())
            );
            assert!(!message.contains("panicked"), "{message}");
            assert!(message.contains("reference trap-"), "{message}");
            let last_error = txn["last_error"].as_str().unwrap();
            assert!(last_error.contains("reference trap-"), "{last_error}");
            assert!(!last_error.contains(PANIC_TEXT), "{last_error}");
        }
        assert_eq!(txn["status"], "unknown", "{}", r.json);
        trapped.push(txn["id"].as_i64().unwrap());
    }
    let ok = post(
        &api,
        "/v1/transactions",
        json!({ "customer_id": "c-1", "amount": 500, "currency": "USD" }),
    )
    .await;
    assert_eq!(ok.status, 201, "{}", ok.json);
    let settled_txn = ok.json["id"].as_i64().unwrap();
    // Nothing the plugin said is in the ledger either.
    let first = trapped[0];
    let (stored, ops) = running
        .service
        .db
        .run(move |l| Ok((l.transaction(first)?, l.operations_for(Some(first), None)?)))
        .await
        .unwrap();
    let stored = stored.unwrap().last_error.unwrap();
    assert!(
        stored.contains("reference trap-") && !stored.contains(PANIC_TEXT),
        "{stored}"
    );
    let op_error = ops[0].last_error.clone().unwrap();
    assert!(!op_error.contains(PANIC_TEXT), "{op_error}");
    running.shutdown().await;

    // Second run: a pass a second, three attempts at most, no wait between them.
    let busy = write_config(
        dir.path(),
        "reconcile_interval_secs = 1\nreconcile_grace_secs = 0\nreconcile_max_attempts = 3\nreconcile_backoff_secs = 0\nreconcile_concurrency = 4",
        "",
    );
    let started = Instant::now();
    let (running, api, _) = serve(&busy, false).await;
    let health = get(&api, "/health").await;
    assert_eq!(health.status, 200, "{}", health.json);
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "health answered after {:?}",
        started.elapsed()
    );
    // The reconciler repeats each three times, then flags its transaction.
    let deadline = Instant::now() + Duration::from_secs(60);
    for &txn in &trapped {
        loop {
            let t = get(&api, &format!("/v1/transactions/{txn}")).await;
            if t.json["attention"].is_string() {
                assert_eq!(t.json["status"], "unknown", "{}", t.json);
                break;
            }
            // /health keeps answering at once while the reconciler works.
            let asked = Instant::now();
            assert_eq!(get(&api, "/health").await.status, 200);
            assert!(asked.elapsed() < Duration::from_secs(1));
            assert!(Instant::now() < deadline, "never flagged: {}", t.json);
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        let (attempts, repeats, flagged) = charge_attempts(&running, txn).await;
        assert_eq!(
            (attempts, repeats, flagged),
            (4, 3, true),
            "transaction {txn}"
        );
    }
    running.shutdown().await;

    // Third run: the count was kept; nothing flagged is repeated again.
    let (running, api, _) = serve(&busy, false).await;
    tokio::time::sleep(Duration::from_millis(2500)).await;
    for &txn in &trapped {
        assert_eq!(charge_attempts(&running, txn).await, (4, 3, true));
    }
    let report = omnicrm_pay::reconcile::reconcile_once(&running.service, Duration::ZERO)
        .await
        .unwrap();
    assert_eq!(report.examined, 0, "{report:?}");
    assert_eq!(report.awaiting_operator.len(), trapped.len(), "{report:?}");
    // The list an operator works from: the flagged transactions, and only they.
    let flagged_ids = |json: &serde_json::Value| -> Vec<i64> {
        let mut ids: Vec<i64> = json["transactions"]
            .as_array()
            .expect("a list")
            .iter()
            .map(|t| t["id"].as_i64().unwrap())
            .collect();
        ids.sort();
        ids
    };
    let listed = get(&api, "/v1/transactions?attention=true").await;
    assert_eq!(listed.status, 200, "{}", listed.json);
    let mut expected = trapped.clone();
    expected.sort();
    assert_eq!(flagged_ids(&listed.json), expected);

    // An operator settles one by hand: an admin key only, a flagged transaction only.
    let txn = trapped[0];
    let body = json!({ "outcome": "succeeded", "gateway_payment_ref": "mis_pay_found", "reason": "found paid in the gateway's dashboard" });
    let path = format!("/v1/transactions/{txn}/settle");
    let r = post(&api, &path, body.clone()).await;
    assert_eq!(r.status, 403, "{}", r.json);
    let admin = api.with_key(Some(ADMIN_KEY.into()));
    let r = admin.post(&path, body.clone()).await.unwrap();
    assert_eq!(r.status, 200, "{}", r.json);
    assert_eq!(r.json["status"], "succeeded");
    assert_eq!(r.json["amount_captured"], 1000);
    assert_eq!(r.json["gateway_payment_ref"], "mis_pay_found");
    assert_eq!(r.json["settled_by"], "ops");
    assert_eq!(
        r.json["settled_note"],
        "found paid in the gateway's dashboard"
    );
    assert!(r.json.get("attention").is_none(), "{}", r.json);
    let listed = get(&api, "/v1/transactions?attention=true").await;
    let still: Vec<i64> = expected.iter().copied().filter(|&i| i != txn).collect();
    assert_eq!(
        flagged_ids(&listed.json),
        still,
        "settled, it needs no operator"
    );
    let again = admin.post(&path, body.clone()).await.unwrap();
    assert_eq!(again.status, 409, "{}", again.json);
    let never_flagged = admin
        .post(&format!("/v1/transactions/{settled_txn}/settle"), body)
        .await
        .unwrap();
    assert_eq!(never_flagged.status, 409, "{}", never_flagged.json);
    let report = omnicrm_pay::reconcile::reconcile_once(&running.service, Duration::ZERO)
        .await
        .unwrap();
    assert_eq!(report.awaiting_operator.len(), trapped.len() - 1);
    running.shutdown().await;

    // And one from the command line, with the service stopped.
    let out = Command::new(env!("CARGO_BIN_EXE_omnicrm-pay"))
        .args(["settle", "--config"])
        .arg(&busy)
        .arg(trapped[1].to_string())
        .args([
            "--outcome",
            "failed",
            "--reason",
            "no payment at the gateway",
            "--operator",
            "alice",
        ])
        .env("RUST_LOG", "error")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let printed: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(printed["status"], "failed");
    assert_eq!(printed["settled_by"], "alice");
    let refused = Command::new(env!("CARGO_BIN_EXE_omnicrm-pay"))
        .args(["settle", "--config"])
        .arg(&busy)
        .arg(trapped[1].to_string())
        .args([
            "--outcome",
            "failed",
            "--reason",
            "again",
            "--operator",
            "alice",
        ])
        .env("RUST_LOG", "error")
        .output()
        .unwrap();
    assert!(!refused.status.success());
    assert!(
        String::from_utf8_lossy(&refused.stderr).contains("not flagged"),
        "{}",
        String::from_utf8_lossy(&refused.stderr)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_charge_whose_answer_breaks_the_contract_is_held_then_settled_by_an_operator() {
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(dir.path(), "", "");
    let (running, api, _) = serve(&config, false).await;
    running.service.gateways.wait_settled().await;
    customer_with_card(&api, json!({ "customer_id": "c-1" }), "tok").await;

    // The plugin answers USD 10.00 charged and USD 50.00 captured: the host's checks catch it.
    let r = post(
        &api,
        "/v1/transactions",
        json!({ "customer_id": "c-1", "amount": 1000, "currency": "USD", "description": "captured:5000" }),
    )
    .await;
    assert_eq!(r.status, 502, "{}", r.json);
    assert_eq!(r.json["error"]["code"], "held_for_review", "{}", r.json);
    let txn = &r.json["error"]["details"]["transaction"];
    assert_eq!(txn["status"], "held_for_review", "{}", r.json);
    let attention = txn["attention"].as_str().unwrap();
    assert!(attention.contains("amount-captured"), "{attention}");
    let id = txn["id"].as_i64().unwrap();

    // Listed for an operator; never counted.
    let listed = get(&api, "/v1/transactions?attention=true").await;
    let ids: Vec<i64> = listed.json["transactions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["id"].as_i64().unwrap())
        .collect();
    assert_eq!(ids, vec![id], "{}", listed.json);
    let summary = get(&api, "/v1/summary?currency=USD").await;
    assert_eq!(summary.json["combined"]["revenue"], 0, "{}", summary.json);

    // The operator found USD 10.00 taken at the gateway.
    let path = format!("/v1/transactions/{id}/settle");
    let body = json!({ "outcome": "succeeded", "gateway_payment_ref": "mis_pay_found", "reason": "USD 10.00 captured in the gateway's dashboard" });
    let admin = api.with_key(Some(ADMIN_KEY.into()));
    let r = admin.post(&path, body.clone()).await.unwrap();
    assert_eq!(r.status, 200, "{}", r.json);
    assert_eq!(
        (
            &r.json["status"],
            &r.json["amount_captured"],
            &r.json["settled_by"]
        ),
        (&json!("succeeded"), &json!(1000), &json!("ops"))
    );
    assert!(r.json.get("attention").is_none(), "{}", r.json);
    let again = admin.post(&path, body).await.unwrap();
    assert_eq!(again.status, 409, "{}", again.json);
    let listed = get(&api, "/v1/transactions?attention=true").await;
    assert_eq!(listed.json["transactions"], json!([]), "{}", listed.json);
    let summary = get(&api, "/v1/summary?currency=USD").await;
    assert_eq!(
        summary.json["combined"]["revenue"], 1000,
        "{}",
        summary.json
    );
    running.shutdown().await;
}
