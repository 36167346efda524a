//! The story on Stripe (the emulator in-process, or Stripe's test mode) and on the offline plugin,
//! which takes the same test tokens: a customer, a card, a charge, a decline, a refund, an invoice
//! paid with the stored card, a dispute delivered as a signed webhook, and the financial summary.

use std::path::Path;
use std::time::Duration;

use serde_json::{Value, json};

use super::output::{
    BillingTab, DemoError, Printer, billing_tab, dispute_line, err, expect, s, summary_lines,
};
use crate::client::ApiClient;
use crate::currency::format_amount;
use crate::ledger::now;
use omnicrm_host::config::{GatewayConfig, OutboundAuth, SecretSource};

/// The in-process Stripe emulator, when the demo runs one.
#[cfg(feature = "emulator")]
pub type Emulator = stripe_emulator::Emulator;
/// Without the `emulator` feature there is none.
#[cfg(not(feature = "emulator"))]
pub type Emulator = std::convert::Infallible;

/// The Stripe gateway's configuration: Stripe's test mode with `STRIPE_SECRET_KEY` (an `sk_test_`
/// key; live keys are refused), else the emulator started in-process (webhooks to the demo's
/// service at `addr`), returned to be kept alive.
pub async fn gateway(
    component: &Path,
    addr: std::net::SocketAddr,
) -> Result<(GatewayConfig, Option<Emulator>), DemoError> {
    let real_key = std::env::var("STRIPE_SECRET_KEY")
        .ok()
        .filter(|k| !k.is_empty());
    match real_key {
        Some(k) if k.starts_with("sk_test_") => Ok((
            GatewayConfig::new(component)
                .allow_host("https://api.stripe.com")
                .with_auth(OutboundAuth::Bearer {
                    secret: "api-key".into(),
                })
                .with_secret("api-key", SecretSource::Env("STRIPE_SECRET_KEY".into()))
                .with_secret(
                    "webhook-secret",
                    SecretSource::Env("STRIPE_WEBHOOK_SECRET".into()),
                )
                .with_setting("base-url", "https://api.stripe.com"),
            None,
        )),
        Some(_) => Err(err(
            "STRIPE_SECRET_KEY is not a test key (sk_test_...): the demo never uses live keys",
        )),
        None => {
            let (emulator, gc) = start_emulator(component, addr).await?;
            Ok((gc, Some(emulator)))
        }
    }
}

/// The in-process Stripe emulator the demo charges when no Stripe test key is set, and the Stripe
/// gateway's configuration against it (webhooks to the demo's service at `addr`).
#[cfg(feature = "emulator")]
async fn start_emulator(
    component: &Path,
    addr: std::net::SocketAddr,
) -> Result<(Emulator, GatewayConfig), DemoError> {
    let emulator = stripe_emulator::Emulator::start(stripe_emulator::EmulatorOptions::default())
        .await
        .map_err(|e| err(format!("starting the Stripe emulator: {e}")))?;
    let base = emulator.base_url().to_string();
    let secret = emulator.add_webhook_endpoint(&format!("http://{addr}/webhooks/stripe"));
    let gc = GatewayConfig::new(component)
        .allow_host(base.clone())
        .with_auth(OutboundAuth::Bearer {
            secret: "api-key".into(),
        })
        .with_secret("api-key", SecretSource::value("sk_test_omnicrm_demo"))
        .with_secret("webhook-secret", SecretSource::value(secret))
        .with_setting("base-url", base);
    Ok((emulator, gc))
}

/// Without the `emulator` feature there is no local Stripe to charge.
#[cfg(not(feature = "emulator"))]
async fn start_emulator(
    _component: &Path,
    _addr: std::net::SocketAddr,
) -> Result<(Emulator, GatewayConfig), DemoError> {
    Err(err(
        "this omnicrm-pay was built without the `emulator` feature: set STRIPE_SECRET_KEY=sk_test_... \
         for Stripe test mode, use --gateway offline, or run `cargo xtask demo`",
    ))
}

/// Tells the story through the service's API on `gateway`.
pub async fn story(
    api: &ApiClient,
    gateway: &str,
    offline_secret: Option<&str>,
    verbose: bool,
) -> Result<(), DemoError> {
    let mut p = Printer::new(verbose);
    let get = |path: String| {
        let api = api.clone();
        async move { api.get(&path).await.map_err(err) }
    };
    let post = |path: String, body: Value| {
        let api = api.clone();
        async move { api.post(&path, body).await.map_err(err) }
    };

    let r = expect(
        get("/v1/gateways".into()).await?,
        &[200],
        "listing gateways",
    )?;
    for g in r.json["gateways"].as_array().cloned().unwrap_or_default() {
        p.line(
            "plugin",
            format!(
                "{} {} (contract {}, component sha256 {}…)",
                s(&g["display_name"]),
                s(&g["version"]),
                s(&g["contract_version"]),
                &s(&g["component_sha256"])
                    .chars()
                    .take(12)
                    .collect::<String>()
            ),
        );
    }

    p.section("Link CRM customer crm-1001 to the gateway");
    let r = expect(
        post(
            "/v1/customers".into(),
            json!({ "customer_id": "crm-1001", "email": "ada@example.com", "name": "Ada Lovelace", "gateway": gateway }),
        )
        .await?,
        &[200],
        "linking the customer",
    )?;
    p.raw(&r);
    p.line("gateway customer", s(&r.json["gateway_customer_ref"]));

    p.section("Store a card from a client-side token (pm_card_visa), nickname \"Work Visa\"");
    let r = expect(
        post(
            "/v1/customers/crm-1001/cards".into(),
            json!({ "token": "pm_card_visa", "nickname": "Work Visa" }),
        )
        .await?,
        &[201],
        "storing the card",
    )?;
    p.raw(&r);
    let visa = r.json["id"].as_i64().unwrap_or_default();
    p.line(
        "card",
        format!(
            "#{visa} {} •••• {}  exp {}  {}  default={}",
            s(&r.json["brand"]),
            s(&r.json["last4"]),
            s(&r.json["expiry"]),
            s(&r.json["nickname"]),
            r.json["default"]
        ),
    );
    p.line("stored as", s(&r.json["gateway_card_ref"]));

    p.section("Charge USD 49.99 to the default card");
    let r = expect(
        post(
            "/v1/transactions".into(),
            json!({ "customer_id": "crm-1001", "amount": 4999, "currency": "USD", "description": "Fibre 1 Gbps, March" }),
        )
        .await?,
        &[201],
        "charging",
    )?;
    p.raw(&r);
    let charge = r.json["id"].as_i64().unwrap_or_default();
    p.line(
        "transaction",
        format!(
            "#{charge} {} {}",
            s(&r.json["amount_display"]),
            s(&r.json["status"])
        ),
    );
    p.line("gateway payment", s(&r.json["gateway_payment_ref"]));
    p.line("idempotency key", s(&r.json["idempotency_key"]));

    p.section("A declined card (pm_card_chargeDeclinedInsufficientFunds)");
    let r = post(
        "/v1/customers/crm-1001/cards".into(),
        json!({ "token": "pm_card_chargeDeclinedInsufficientFunds", "nickname": "Old debit card" }),
    )
    .await?;
    p.raw(&r);
    let r = if r.status == 201 {
        r
    } else {
        p.line(
            "declined at storage",
            format!("HTTP {}: {}", r.status, s(&r.json["error"]["message"])),
        );
        // A card that stores but declines every charge (pm_card_chargeCustomerFail).
        let r = post(
            "/v1/customers/crm-1001/cards".into(),
            json!({ "token": "pm_card_chargeCustomerFail", "nickname": "Old debit card" }),
        )
        .await?;
        p.raw(&r);
        r
    };
    if r.status == 201 {
        let declining = r.json["id"].as_i64().unwrap_or_default();
        p.line(
            "card stored",
            format!(
                "#{declining} {} •••• {}",
                s(&r.json["brand"]),
                s(&r.json["last4"])
            ),
        );
        let r = expect(
            post(
                "/v1/transactions".into(),
                json!({ "customer_id": "crm-1001", "amount": 2500, "currency": "USD", "description": "Top-up", "card_id": declining }),
            )
            .await?,
            &[201],
            "charging the declining card",
        )?;
        p.raw(&r);
        p.line(
            "transaction",
            format!(
                "#{} {} {} ({} / {})",
                s(&r.json["id"]),
                s(&r.json["amount_display"]),
                s(&r.json["status"]),
                s(&r.json["decline_code"]),
                s(&r.json["decline_reason"])
            ),
        );
        p.line("message", s(&r.json["last_error"]));
    } else {
        p.line(
            "declined at storage",
            format!("HTTP {}: {}", r.status, s(&r.json["error"]["message"])),
        );
    }

    p.section("Refund USD 10.00 of the first charge");
    let r = expect(
        post(
            format!("/v1/transactions/{charge}/refunds"),
            json!({ "amount": 1000, "reason": "requested_by_customer" }),
        )
        .await?,
        &[201],
        "refunding",
    )?;
    p.raw(&r);
    p.line(
        "refund",
        format!(
            "#{} {} {}",
            s(&r.json["id"]),
            s(&r.json["amount_display"]),
            s(&r.json["status"])
        ),
    );
    p.line(
        "transaction now",
        format!(
            "{} (refunded {})",
            s(&r.json["transaction"]["status"]),
            format_amount(
                r.json["transaction"]["amount_refunded"]
                    .as_i64()
                    .unwrap_or(0),
                "USD"
            )
        ),
    );

    p.section("An invoice from uninvoiced transactions, paid with the stored card");
    for (amount, desc, kind) in [
        (2000, "Mobile plan, April", "charge"),
        (500, "Loyalty credit", "credit"),
    ] {
        expect(
            post(
                "/v1/transactions".into(),
                json!({ "customer_id": "crm-1001", "amount": amount, "currency": "USD", "description": desc, "kind": kind, "charge": "later" }),
            )
            .await?,
            &[201],
            "recording a transaction",
        )?;
        p.line(
            &format!("{kind} recorded"),
            format!("{} {desc}", format_amount(amount, "USD")),
        );
    }
    let r = expect(
        post(
            "/v1/invoices".into(),
            json!({ "customer_id": "crm-1001", "currency": "USD", "days_until_due": 14 }),
        )
        .await?,
        &[201],
        "creating the invoice",
    )?;
    p.raw(&r);
    let invoice = r.json["id"].as_i64().unwrap_or_default();
    p.line(
        "invoice",
        format!(
            "{} {} total {} ({} lines, due {})",
            s(&r.json["number"]),
            s(&r.json["status"]),
            s(&r.json["total_display"]),
            r.json["lines"].as_array().map(|a| a.len()).unwrap_or(0),
            s(&r.json["due_date"])
        ),
    );
    let r = expect(
        post(format!("/v1/invoices/{invoice}/finalize"), json!({})).await?,
        &[200],
        "finalizing",
    )?;
    p.line(
        "finalized",
        format!(
            "{} gateway number {}",
            s(&r.json["status"]),
            s(&r.json["gateway_number"])
        ),
    );
    if !r.json["hosted_url"].is_null() {
        p.line("hosted page", s(&r.json["hosted_url"]));
    }
    let r = expect(
        post(
            format!("/v1/invoices/{invoice}/pay"),
            json!({ "card_id": visa }),
        )
        .await?,
        &[200],
        "paying the invoice",
    )?;
    p.raw(&r);
    p.line(
        "paid",
        format!(
            "{} amount paid {}",
            s(&r.json["status"]),
            format_amount(r.json["amount_paid"].as_i64().unwrap_or(0), "USD")
        ),
    );
    let r = post(format!("/v1/invoices/{invoice}/pay"), json!({})).await?;
    p.line(
        "paying it again",
        format!("HTTP {}: {}", r.status, s(&r.json["error"]["message"])),
    );

    p.section("A dispute (pm_card_createDispute)");
    let r = expect(
        post(
            "/v1/customers/crm-1001/cards".into(),
            json!({ "token": "pm_card_createDispute", "nickname": "Family card" }),
        )
        .await?,
        &[201],
        "storing the dispute card",
    )?;
    let dcard = r.json["id"].as_i64().unwrap_or_default();
    let r = expect(
        post(
            "/v1/transactions".into(),
            json!({ "customer_id": "crm-1001", "amount": 7500, "currency": "USD", "description": "Router", "card_id": dcard }),
        )
        .await?,
        &[201],
        "charging the dispute card",
    )?;
    let dtxn = r.json["id"].as_i64().unwrap_or_default();
    p.line(
        "transaction",
        format!(
            "#{dtxn} {} {}",
            s(&r.json["amount_display"]),
            s(&r.json["status"])
        ),
    );
    if let Some(secret) = offline_secret {
        // The offline gateway simulates no disputes: deliver a signed event as it would.
        let body = json!({
            "id": "evt_demo_dispute_1", "created": now(), "type": "dispute.opened",
            "data": { "dispute": "off_du_demo_1", "payment": r.json["gateway_payment_ref"], "amount": 7500,
                      "currency": "USD", "reason": "fraudulent", "status": "open" },
        })
        .to_string();
        let header = offline_signature(secret, &body);
        for attempt in ["first delivery", "duplicate delivery"] {
            let w = api
                .send(
                    "POST",
                    "/webhooks/offline",
                    Some(body.clone().into_bytes()),
                    &[("offline-signature", &header)],
                )
                .await
                .map_err(err)?;
            // The answer is the plugin's acknowledgement; the duplicate is acknowledged and
            // applied once (one dispute below).
            p.line(attempt, format!("HTTP {} {}", w.status, w.json));
        }
    }
    let mut dispute = Value::Null;
    for _ in 0..100 {
        let r = expect(
            get(format!("/v1/disputes?transaction_id={dtxn}")).await?,
            &[200],
            "listing disputes",
        )?;
        if let Some(d) = r.json["disputes"].as_array().and_then(|a| a.first()) {
            dispute = d.clone();
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    if dispute.is_null() {
        p.line(
            "dispute",
            "not received yet (Stripe delivers it by webhook to a public endpoint)",
        );
    } else {
        p.line("dispute (webhook)", dispute_line(&dispute));
    }

    billing_tab(
        &mut p,
        api,
        BillingTab {
            customer: "crm-1001",
            nickname_width: 16,
            invoiced_column: true,
        },
    )
    .await?;

    p.section(
        "Financial summary (USD, from the ledger; the gateway's own figures where they differ)",
    );
    let from = now() - 86_400;
    let to = now() + 86_400;
    let r = expect(
        get(format!("/v1/summary?currency=USD&from={from}&to={to}")).await?,
        &[200],
        "the financial summary",
    )?;
    summary_lines(&p, &r, "USD", None);
    println!(
        "\nDone: every step above went through the service's HTTP API, its ledger and the gateway plugin."
    );
    Ok(())
}

/// The `offline-signature` header of a body (the offline plugin's webhook scheme).
pub fn offline_signature(secret: &str, body: &str) -> String {
    use hmac::Mac;
    let t = now();
    let mut mac =
        hmac::Hmac::<sha2::Sha256>::new_from_slice(secret.as_bytes()).expect("any key length");
    mac.update(format!("{t}.{body}").as_bytes());
    format!("t={t},v1={}", hex::encode(mac.finalize().into_bytes()))
}
