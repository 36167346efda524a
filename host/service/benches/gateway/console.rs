//! Measurement 11: the operator console's pages with 10,000 transactions in the ledger. The
//! ledger is filled directly (10,000 charges, most of them succeeded, some refunded or disputed,
//! the rest invoiced, over 100 customers), then the service runs in this process with the Stripe plugin against the
//! emulator, an operator signs in over HTTP, and each page is loaded as a browser would (the
//! session cookie, the whole HTML answer read). Target: every page under 100 ms.

use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context as _, Result, bail};
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use omnicrm_pay::config::console::{ConsoleUser, Role, hash_password};
use omnicrm_pay::config::{GatewayEntry, ServiceConfig};
use omnicrm_pay::ledger::sqlite::SqliteLedger;
use omnicrm_pay::ledger::{
    Capture, CustomerLink, DisputeStatus, DisputeUpdate, Durability, Initiator, InvoiceKeeper,
    Ledger, NewInvoice, NewTransaction, TxnKind, TxnPatch, TxnStatus,
};
use omnicrm_pay::server;

use crate::measure::{Bench, STRIPE_WASM, stripe_config};
use crate::stats::{Row, Samples, Verdict, fmt_duration};

/// The target of every page.
const TARGET: Duration = Duration::from_millis(100);

type Http = Client<HttpConnector, Full<bytes::Bytes>>;

/// Fills a ledger with `count` charges over `customers` customers: 9 in 10 succeeded (one in
/// 20 of those refunded in part, one in 50 disputed), the rest pending and then invoiced, one
/// invoice per customer.
fn fill(ledger: &SqliteLedger, count: usize, customers: usize) -> Result<()> {
    for c in 0..customers {
        ledger.upsert_customer(&CustomerLink {
            crm_customer_id: format!("bench-console-{c}"),
            gateway: "stripe".into(),
            gateway_customer_ref: format!("cus_bench_console_{c}"),
            email: Some(format!("customer{c}@example.com")),
            name: Some(format!("Customer {c}")),
            created_at: omnicrm_pay::ledger::now(),
        })?;
    }
    for i in 0..count {
        let customer = format!("bench-console-{}", i % customers);
        let (txn, _) = ledger.insert_transaction(&NewTransaction {
            crm_customer_id: customer,
            card_id: None,
            gateway: Some("stripe".into()),
            amount: 1000 + (i % 500) as i64,
            currency: "USD".into(),
            description: Some(format!("monthly plan #{i}")),
            kind: TxnKind::Charge,
            capture: Capture::Automatic,
            status: TxnStatus::Pending,
            idempotency_key: format!("bench-console-{i}"),
            initiator: Initiator::MerchantRecurring,
            return_url: None,
        })?;
        if i % 10 != 0 {
            let refunded = i % 20 == 1;
            ledger.update_transaction(
                txn.id,
                &[TxnStatus::Pending],
                &TxnPatch {
                    status: Some(if refunded {
                        TxnStatus::PartiallyRefunded
                    } else {
                        TxnStatus::Succeeded
                    }),
                    gateway_payment_ref: Some(format!("pi_bench_console_{i}")),
                    amount_captured: Some(txn.amount),
                    fee: Some(30 + txn.amount * 29 / 1000),
                    ..Default::default()
                },
            )?;
            if i % 50 == 3 {
                ledger.upsert_dispute(&DisputeUpdate {
                    evidence_due_by: None,
                    gateway: "stripe".into(),
                    gateway_dispute_ref: format!("du_bench_console_{i}"),
                    gateway_payment_ref: Some(format!("pi_bench_console_{i}")),
                    transaction_id: None,
                    amount: txn.amount,
                    currency: "USD".into(),
                    reason: "fraudulent".into(),
                    status: DisputeStatus::Open,
                })?;
            }
        }
    }
    // Each customer's pending charges on an invoice.
    for c in 0..customers {
        ledger.create_invoice(&NewInvoice {
            crm_customer_id: format!("bench-console-{c}"),
            gateway: "stripe".into(),
            currency: "USD".into(),
            description: Some("monthly statement".into()),
            period_start: None,
            period_end: None,
            due_date: None,
            idempotency_key: format!("bench-console-invoice-{c}"),
            now: omnicrm_pay::ledger::now(),
            kept_by: InvoiceKeeper::Ledger,
        })?;
    }
    Ok(())
}

/// One GET with the session cookie: its time, the whole body read.
async fn load(http: &Http, url: &str, cookie: &str) -> Result<Duration> {
    let started = Instant::now();
    let request = http::Request::get(url)
        .header("cookie", cookie)
        .body(Full::new(bytes::Bytes::new()))?;
    let response = http.request(request).await?;
    let status = response.status();
    let body = response.into_body().collect().await?.to_bytes();
    let took = started.elapsed();
    if !status.is_success() || body.len() < 500 {
        bail!("GET {url}: {status} ({} bytes)", body.len());
    }
    Ok(took)
}

/// Signs in as `name`: the session cookie (`name=value`).
async fn sign_in(http: &Http, base: &str, name: &str, password: &str) -> Result<String> {
    let cookie_of = |r: &http::Response<hyper::body::Incoming>| -> Option<String> {
        r.headers()
            .get_all("set-cookie")
            .iter()
            .filter_map(|v| v.to_str().ok())
            .map(|v| v.split(';').next().unwrap_or("").to_string())
            .find(|c| c.starts_with(omnicrm_pay::console::session::COOKIE))
    };
    let page = http
        .request(
            http::Request::get(format!("{base}/console/sign-in"))
                .body(Full::new(bytes::Bytes::new()))?,
        )
        .await?;
    let cookie = cookie_of(&page).context("the sign-in page set no cookie")?;
    let html = String::from_utf8_lossy(&page.into_body().collect().await?.to_bytes()).into_owned();
    let csrf = html
        .split("name=\"csrf\" value=\"")
        .nth(1)
        .and_then(|s| s.split('"').next())
        .context("no CSRF token on the sign-in page")?
        .to_string();
    let form = form_urlencoded::Serializer::new(String::new())
        .append_pair("csrf", &csrf)
        .append_pair("name", name)
        .append_pair("password", password)
        .finish();
    let signed = http
        .request(
            http::Request::post(format!("{base}/console/sign-in"))
                .header("cookie", &cookie)
                .header("content-type", "application/x-www-form-urlencoded")
                .body(Full::new(bytes::Bytes::from(form)))?,
        )
        .await?;
    if signed.status() != http::StatusCode::SEE_OTHER {
        bail!("signing in answered {}", signed.status());
    }
    cookie_of(&signed).context("signing in set no cookie")
}

/// Measurement 11.
pub async fn pages(bench: &mut Bench) -> Result<()> {
    let count = if bench.options.quick { 2_000 } else { 10_000 };
    let samples = bench.options.count(30, 5);
    let dir = tempfile::tempdir()?;
    let path = dir.path().join("ledger.db");
    {
        let ledger = SqliteLedger::open(&path, Durability::Normal)?;
        let filling = Instant::now();
        fill(&ledger, count, 100)?;
        tracing::debug!(took = ?filling.elapsed(), "ledger filled");
    }
    let password = "bench-console-password";
    let mut config = ServiceConfig::default();
    config.service.database = path;
    config.service.durability = Durability::Normal;
    config.service.watch_components = false;
    config.service.reconcile_interval_secs = 3600;
    config.service.console.users = vec![ConsoleUser {
        name: "bench".into(),
        password_hash: hash_password(password)?,
        role: Role::Read,
    }];
    let mut entry = GatewayEntry::new(stripe_config(
        &bench.path(STRIPE_WASM),
        &bench.emulator.base_url,
    ));
    entry.default = true;
    config.gateways.insert("stripe".into(), entry);
    let mut options = server::runtime_options(&config)?;
    options.cache_dir = Some(bench.cache_dir.path().join("console"));
    options.extra_ca_pem = Some(bench.emulator.ca_pem.as_bytes().to_vec());
    let service = server::build(&config, options).await?;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let running = server::start(&config, Arc::clone(&service), Some(listener)).await?;
    let base = format!("http://{}", running.addr);
    let http: Http = Client::builder(TokioExecutor::new()).build(HttpConnector::new());
    let cookie = sign_in(&http, &base, "bench", password).await?;
    let pages = [
        (
            "dashboard (30 days, figures and charts)",
            "/console".to_string(),
        ),
        (
            "transactions (newest 50)",
            "/console/transactions".to_string(),
        ),
        (
            "transactions filtered (gateway, status)",
            "/console/transactions?gateway=stripe&status=succeeded".to_string(),
        ),
        (
            "a customer (100 transactions, 50 shown)",
            "/console/customers/bench-console-7".to_string(),
        ),
        ("a transaction", "/console/transactions/5000".to_string()),
        (
            "customers (search)",
            "/console/customers?q=bench".to_string(),
        ),
        ("gateways", "/console/gateways".to_string()),
        (
            "dashboard (since 2000, 120 weekly buckets)",
            "/console?from=2000-01-01".to_string(),
        ),
        ("invoices", "/console/invoices".to_string()),
        ("an invoice (its lines)", "/console/invoices/1".to_string()),
        ("disputes", "/console/disputes".to_string()),
        ("billing runs", "/console/billing-runs".to_string()),
    ];
    let mut worst = Duration::ZERO;
    for (what, path) in pages {
        let url = format!("{base}{path}");
        load(&http, &url, &cookie).await?; // warm
        let mut times = Vec::with_capacity(samples);
        for _ in 0..samples {
            times.push(load(&http, &url, &cookie).await?);
        }
        let s = Samples::new(times);
        let p99 = s.p99().unwrap_or_default();
        worst = worst.max(p99);
        bench.rows.push(
            Row::new(11, format!("console page: {what}, {count} transactions"), s)
                .note(format!("GET {path}, signed in, whole page read")),
        );
    }
    bench.verdicts.push(Verdict {
        section: 11,
        target: format!("console pages under 100 ms with {count} transactions (p99 of each)"),
        met: Some(worst < TARGET),
        figure: format!("worst p99 {}", fmt_duration(worst)),
    });
    running.shutdown().await;
    Ok(())
}
