//! The story on Adyen, against the Adyen emulator (in-process, or the one a configuration file's
//! `base-url` names): a shopper, a card from Adyen Web's card form, a charge, declines, 3-D
//! Secure completed by the customer on the emulator's pages (a card session, then an on-session
//! payment), an authorization captured in two parts, a refund, a chargeback, and the ledger's
//! summary. Captures and refunds are answered `pending` and settled by Adyen's signed
//! notification batches, which the emulator delivers to the service's `/webhooks/adyen`.
//!
//! What the customer's browser and the card's issuer do (pages, a later refusal, a chargeback)
//! goes to the emulator's own routes (`/_emulator/...`), never through the service.

use std::path::Path;
use std::time::Duration;

use serde_json::{Value, json};

use super::output::{
    BillingTab, DemoError, Printer, billing_tab, dispute_line, err, expect, get, post, s,
    summary_lines, wait_for,
};
use crate::client::{ApiClient, ApiResponse};
use crate::currency::format_amount;
use crate::ledger::now;
use omnicrm_host::config::GatewayConfig;

/// The customer of the story.
const CUSTOMER: &str = "crm-2001";

/// How long the story waits for a notification.
const NOTIFICATION_WAIT: Duration = Duration::from_secs(15);

/// Adyen Web's card form hands over `paymentMethod` with encrypted fields; these are the test
/// environment's unencrypted `test_` form.
fn card_form_token(number: &str, holder: &str) -> String {
    json!({
        "type": "scheme",
        "encryptedCardNumber": format!("test_{number}"),
        "encryptedExpiryMonth": "test_03",
        "encryptedExpiryYear": "test_2030",
        "encryptedSecurityCode": "test_737",
        "holderName": holder,
    })
    .to_string()
}

/// The in-process Adyen emulator.
#[cfg(feature = "emulator")]
pub type Emulator = adyen_emulator::Emulator;
/// Without the `emulator` feature there is none.
#[cfg(not(feature = "emulator"))]
pub type Emulator = std::convert::Infallible;

/// The emulator's base URL (its pages and controls are under `/_emulator`).
#[cfg(feature = "emulator")]
pub fn emulator_url(emulator: &Emulator) -> String {
    emulator.base_url().to_string()
}

/// The emulator's base URL (never called without the feature: there is no emulator).
#[cfg(not(feature = "emulator"))]
pub fn emulator_url(emulator: &Emulator) -> String {
    match *emulator {}
}

/// Starts the Adyen emulator in-process, with the service at `addr` as its notification endpoint,
/// and the Adyen gateway's configuration against it: the API key added by the host as
/// `X-API-Key`, the endpoint's HMAC key, and the plugin's settings.
#[cfg(feature = "emulator")]
pub async fn gateway(
    component: &Path,
    addr: std::net::SocketAddr,
) -> Result<(GatewayConfig, Emulator), DemoError> {
    use omnicrm_host::config::{OutboundAuth, SecretSource};
    let emulator = adyen_emulator::Emulator::start(adyen_emulator::EmulatorOptions::default())
        .await
        .map_err(|e| err(format!("starting the Adyen emulator: {e}")))?;
    let endpoint = emulator
        .add_webhook_endpoint(&format!("http://{addr}/webhooks/adyen"))
        .map_err(|e| err(format!("registering the notification endpoint: {e}")))?;
    let base = emulator.base_url().to_string();
    let gc = GatewayConfig::new(component)
        .allow_host(base.clone())
        .with_auth(OutboundAuth::Header {
            name: "X-API-Key".into(),
            secret: "api-key".into(),
            prefix: None,
        })
        .with_secret("api-key", SecretSource::value("AQE_omnicrm_demo"))
        .with_secret("hmac-key", SecretSource::value(endpoint.hmac_key))
        .with_setting("base-url", base.clone())
        .with_setting("merchant-account", "OmniCRMDemo")
        .with_setting("return-url", format!("http://{addr}/payments/return"))
        .with_setting("client-key", "test_OMNICRMDEMOCLIENTKEY")
        .with_setting("environment", "test")
        .with_setting("default-currency", "EUR")
        .with_setting("card-form-url", format!("{base}/_emulator/card-form"));
    Ok((gc, emulator))
}

/// Without the `emulator` feature there is no local Adyen to charge.
#[cfg(not(feature = "emulator"))]
pub async fn gateway(
    _component: &Path,
    _addr: std::net::SocketAddr,
) -> Result<(GatewayConfig, Emulator), DemoError> {
    Err(err(
        "this omnicrm-pay was built without the `emulator` feature: run `cargo xtask demo -- --gateway adyen`, \
         or `omnicrm-pay demo --config FILE` with an Adyen gateway pointed at a running adyen-emulator",
    ))
}

/// The customer's browser and the card's issuer, at the emulator: no API key, form parameters
/// in the query.
struct Outside {
    client: ApiClient,
}

impl Outside {
    /// Sends `method` to the emulator's `url` (absolute, or a path) and answers where it
    /// redirects the browser.
    async fn visit(
        &self,
        method: &str,
        url: &str,
        params: &[(&str, &str)],
    ) -> Result<String, DemoError> {
        let path = path_of(url);
        let query = form_urlencoded::Serializer::new(String::new())
            .extend_pairs(params)
            .finish();
        let separator = if path.contains('?') { '&' } else { '?' };
        let target = if query.is_empty() {
            path.clone()
        } else {
            format!("{path}{separator}{query}")
        };
        let r = self
            .client
            .send(method, &target, None, &[])
            .await
            .map_err(err)?;
        match r.header("location") {
            Some(location) if r.status == 303 || r.status == 302 => Ok(location.to_string()),
            _ => Err(err(format!(
                "{method} {path} at the emulator: HTTP {} {}",
                r.status,
                String::from_utf8_lossy(&r.raw)
                    .chars()
                    .take(200)
                    .collect::<String>()
            ))),
        }
    }

    /// Calls an emulator control (`/_emulator/...`); its JSON answer.
    async fn control(&self, path: &str) -> Result<Value, DemoError> {
        let r = self
            .client
            .send("POST", path, None, &[])
            .await
            .map_err(err)?;
        Ok(expect(r, &[200], path)?.json)
    }
}

/// The path and query of an emulator URL.
fn path_of(url: &str) -> String {
    match url.find("/_emulator") {
        Some(i) => url[i..].to_string(),
        None => url.to_string(),
    }
}

/// A query parameter of a URL.
fn query_value(url: &str, name: &str) -> Option<String> {
    let query = url.split_once('?')?.1;
    form_urlencoded::parse(query.as_bytes())
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.into_owned())
}

fn card_line(r: &ApiResponse) -> String {
    format!(
        "#{} {} •••• {}  exp {}  {}",
        s(&r.json["id"]),
        s(&r.json["brand"]),
        s(&r.json["last4"]),
        s(&r.json["expiry"]),
        s(&r.json["nickname"]),
    )
}

fn txn_line(t: &Value) -> String {
    format!(
        "#{} {} {}",
        s(&t["id"]),
        s(&t["amount_display"]),
        s(&t["status"])
    )
}

/// Tells the story through the service's API on `gateway` (an Adyen gateway), with the emulator
/// at `emulator`.
pub async fn story(
    api: &ApiClient,
    gateway: &str,
    emulator: &str,
    verbose: bool,
) -> Result<(), DemoError> {
    let mut p = Printer::new(verbose);
    let outside = Outside {
        client: ApiClient::new(emulator, None),
    };
    let r = expect(get(api, "/v1/gateways").await?, &[200], "listing gateways")?;
    for g in r.json["gateways"].as_array().cloned().unwrap_or_default() {
        p.line(
            "plugin",
            format!(
                "{} {} (contract {}, capabilities {})",
                s(&g["display_name"]),
                s(&g["version"]),
                s(&g["contract_version"]),
                g["capabilities"]
                    .as_array()
                    .map(|c| c.iter().map(s).collect::<Vec<_>>().join(", "))
                    .unwrap_or_default()
            ),
        );
    }

    p.section(&format!("Link CRM customer {CUSTOMER} to Adyen (a shopper reference: Adyen keeps no customer objects)"));
    let r = expect(
        post(
            api,
            "/v1/customers",
            json!({ "customer_id": CUSTOMER, "email": "grace@example.com", "name": "Grace Hopper", "gateway": gateway }),
        )
        .await?,
        &[200],
        "linking the customer",
    )?;
    p.raw(&r);
    p.line("shopper reference", s(&r.json["gateway_customer_ref"]));

    p.section("Store a card from Adyen Web's card form (encrypted fields), nickname \"Work Visa\"");
    let r = expect(
        post(
            api,
            &format!("/v1/customers/{CUSTOMER}/cards"),
            json!({ "token": card_form_token("4111111111111111", "Grace Hopper"), "nickname": "Work Visa" }),
        )
        .await?,
        &[201],
        "storing the card",
    )?;
    p.raw(&r);
    p.line(
        "card",
        format!("{} default={}", card_line(&r), r.json["default"]),
    );
    p.line("stored payment method", s(&r.json["gateway_card_ref"]));

    p.section("Charge EUR 49.99 to the default card (merchant-initiated, card on file)");
    let r = expect(
        post(
            api,
            "/v1/transactions",
            json!({ "customer_id": CUSTOMER, "amount": 4999, "currency": "EUR", "description": "Fibre 1 Gbps, March" }),
        )
        .await?,
        &[201],
        "charging",
    )?;
    p.raw(&r);
    let charge = r.json["id"].as_i64().unwrap_or_default();
    p.line("transaction", txn_line(&r.json));
    p.line("pspReference", s(&r.json["gateway_payment_ref"]));
    p.line("idempotency key", s(&r.json["idempotency_key"]));

    p.section("Declines: a card refused when stored, and a stored card its issuer refuses later");
    let r = post(
        api,
        &format!("/v1/customers/{CUSTOMER}/cards"),
        json!({ "token": card_form_token("4111111111111111", "NOT_ENOUGH_BALANCE"), "nickname": "Old debit card" }),
    )
    .await?;
    p.raw(&r);
    p.line(
        "refused at storage",
        format!("HTTP {}: {}", r.status, s(&r.json["error"]["message"])),
    );
    let r = expect(
        post(
            api,
            &format!("/v1/customers/{CUSTOMER}/cards"),
            json!({ "token": card_form_token("5555555555554444", "Grace Hopper"), "nickname": "Shared Mastercard" }),
        )
        .await?,
        &[201],
        "storing the second card",
    )?;
    let mastercard = r.json["id"].as_i64().unwrap_or_default();
    p.line("card stored", card_line(&r));
    // The issuer refuses this card from now on (the emulator's control, code 12).
    outside
        .control(&format!(
            "/_emulator/stored_payment_methods/{}/refuse?code=12",
            s(&r.json["gateway_card_ref"])
        ))
        .await?;
    let r = expect(
        post(
            api,
            "/v1/transactions",
            json!({ "customer_id": CUSTOMER, "amount": 2500, "currency": "EUR", "description": "Top-up", "card_id": mastercard }),
        )
        .await?,
        &[201],
        "charging the refused card",
    )?;
    p.raw(&r);
    p.line(
        "transaction",
        format!(
            "{} ({} / {}, {})",
            txn_line(&r.json),
            s(&r.json["decline_code"]),
            s(&r.json["decline_reason"]),
            s(&r.json["decline_category"])
        ),
    );
    p.line("message", s(&r.json["last_error"]));

    p.section("3-D Secure: a card session, then a payment the customer authenticates");
    let r = expect(
        post(
            api,
            &format!("/v1/customers/{CUSTOMER}/card-sessions"),
            json!({ "currency": "EUR" }),
        )
        .await?,
        &[200, 201],
        "starting a card session",
    )?;
    p.raw(&r);
    let session = s(&r.json["id"]);
    p.line(
        "card session",
        format!(
            "{session} for {} (client key {})",
            s(&r.json["sdk"]),
            s(&r.json["client_config"]["client_key"])
        ),
    );
    // The customer enters a card enrolled in 3-D Secure on the session's page ...
    let challenge = outside
        .visit(
            "POST",
            &format!("/_emulator/sessions/{session}"),
            &[
                ("number", "4212345678910006"),
                ("expiryMonth", "03"),
                ("expiryYear", "2030"),
                ("cvc", "737"),
                ("holderName", "Grace Hopper"),
            ],
        )
        .await?;
    p.line("issuer's challenge", path_of(&challenge));
    // ... passes the issuer's challenge, and comes back to the CRM with the session's result.
    let back = outside
        .visit("POST", &challenge, &[("password", "password")])
        .await?;
    let session_result = query_value(&back, "sessionResult")
        .ok_or_else(|| err(format!("no sessionResult in {back}")))?;
    p.line("back with", "sessionId, sessionResult");
    let r = expect(
        post(
            api,
            &format!("/v1/customers/{CUSTOMER}/cards"),
            json!({
                "token": json!({ "sessionId": session, "sessionResult": session_result }).to_string(),
                "nickname": "Travel Visa",
            }),
        )
        .await?,
        &[201],
        "storing the session's card",
    )?;
    p.raw(&r);
    let travel = r.json["id"].as_i64().unwrap_or_default();
    p.line("card", card_line(&r));
    let r = post(
        api,
        "/v1/transactions",
        json!({
            "customer_id": CUSTOMER, "amount": 1999, "currency": "EUR", "description": "Roaming pass",
            "card_id": travel, "initiator": "customer", "return_url": "https://crm.example/payments/return",
        }),
    )
    .await?;
    p.raw(&r);
    let r = expect(r, &[402], "charging on-session")?;
    let waiting = &r.json["error"]["details"]["transaction"];
    let txn_3ds = waiting["id"].as_i64().unwrap_or_default();
    let page = s(&waiting["next_action"]["url"]);
    p.line(
        "transaction",
        format!(
            "{} (HTTP 402 {})",
            txn_line(waiting),
            s(&r.json["error"]["code"])
        ),
    );
    p.line(
        "next action",
        format!(
            "{} {} {}",
            s(&waiting["next_action"]["type"]),
            s(&waiting["next_action"]["method"]),
            path_of(&page)
        ),
    );
    let back = outside
        .visit("POST", &page, &[("password", "password")])
        .await?;
    let redirect_result = query_value(&back, "redirectResult")
        .ok_or_else(|| err(format!("no redirectResult in {back}")))?;
    let r = expect(
        post(
            api,
            &format!("/v1/transactions/{txn_3ds}/complete-action"),
            json!({ "details": { "redirectResult": redirect_result } }),
        )
        .await?,
        &[200],
        "completing the payment",
    )?;
    p.raw(&r);
    p.line("authenticated", txn_line(&r.json));

    p.section("Authorize EUR 80.00, capture EUR 30.00 and then EUR 20.00 (settled by CAPTURE notifications)");
    let r = expect(
        post(
            api,
            "/v1/transactions",
            json!({ "customer_id": CUSTOMER, "amount": 8000, "currency": "EUR", "description": "Handset deposit", "capture": "manual" }),
        )
        .await?,
        &[201],
        "authorizing",
    )?;
    let auth = r.json["id"].as_i64().unwrap_or_default();
    p.line("authorization", txn_line(&r.json));
    for (amount, final_capture) in [(3000, false), (2000, true)] {
        let r = expect(
            post(
                api,
                &format!("/v1/transactions/{auth}/capture"),
                json!({ "amount": amount, "final_capture": final_capture }),
            )
            .await?,
            &[200, 202],
            "capturing",
        )?;
        p.raw(&r);
        let last = r.json["captures"]
            .as_array()
            .and_then(|c| c.last())
            .cloned()
            .unwrap_or_default();
        p.line(
            "capture",
            format!(
                "{} final={} HTTP {} {}",
                s(&last["amount_display"]),
                final_capture,
                r.status,
                s(&last["status"])
            ),
        );
    }
    let (t, settled) = wait_for(
        api,
        &format!("/v1/transactions/{auth}"),
        NOTIFICATION_WAIT,
        |t| {
            t["captures"]
                .as_array()
                .is_some_and(|c| c.len() == 2 && c.iter().all(|c| c["status"] != "pending"))
                && t["status"] != "authorized"
        },
    )
    .await?;
    for c in t["captures"].as_array().cloned().unwrap_or_default() {
        p.line(
            "capture (notification)",
            format!("{} {}", s(&c["amount_display"]), s(&c["status"])),
        );
    }
    p.line(
        if settled {
            "transaction now"
        } else {
            "transaction (waiting)"
        },
        format!(
            "{} captured {}",
            txn_line(&t),
            format_amount(t["amount_captured"].as_i64().unwrap_or(0), "EUR")
        ),
    );

    p.section("Refund EUR 10.00 of the first charge (settled by the REFUND notification)");
    let r = expect(
        post(
            api,
            &format!("/v1/transactions/{charge}/refunds"),
            json!({ "amount": 1000, "reason": "requested_by_customer" }),
        )
        .await?,
        &[201, 202],
        "refunding",
    )?;
    p.raw(&r);
    let refund = r.json["id"].as_i64().unwrap_or_default();
    p.line(
        "refund",
        format!(
            "#{refund} {} HTTP {} {}",
            s(&r.json["amount_display"]),
            r.status,
            s(&r.json["status"])
        ),
    );
    let (t, _) = wait_for(
        api,
        &format!("/v1/transactions/{charge}"),
        NOTIFICATION_WAIT,
        |t| {
            t["refunds"]
                .as_array()
                .is_some_and(|r| r.iter().all(|r| r["status"] != "pending"))
        },
    )
    .await?;
    if let Some(r) = t["refunds"]
        .as_array()
        .and_then(|r| r.iter().find(|r| r["id"] == json!(refund)))
    {
        p.line(
            "refund (notification)",
            format!(
                "{} {} ({})",
                s(&r["amount_display"]),
                s(&r["status"]),
                s(&r["gateway_refund_ref"])
            ),
        );
    }
    p.line(
        "transaction now",
        format!(
            "{} (refunded {})",
            txn_line(&t),
            format_amount(t["amount_refunded"].as_i64().unwrap_or(0), "EUR")
        ),
    );

    p.section("A chargeback: the cardholder's bank disputes a payment");
    let r = expect(
        post(
            api,
            "/v1/transactions",
            json!({ "customer_id": CUSTOMER, "amount": 7500, "currency": "EUR", "description": "Router" }),
        )
        .await?,
        &[201],
        "charging the disputed payment",
    )?;
    let disputed = r.json["id"].as_i64().unwrap_or_default();
    let psp = s(&r.json["gateway_payment_ref"]);
    p.line("transaction", txn_line(&r.json));
    for stage in ["notification_of_chargeback", "chargeback"] {
        let item = outside
            .control(&format!(
                "/_emulator/payments/{psp}/chargeback?stage={stage}"
            ))
            .await?;
        p.line(
            "issuer (emulator)",
            format!("{} reason {}", s(&item["eventCode"]), s(&item["reason"])),
        );
    }
    let (d, _) = wait_for(
        api,
        &format!("/v1/disputes?transaction_id={disputed}"),
        NOTIFICATION_WAIT,
        |d| {
            d["disputes"]
                .as_array()
                .and_then(|d| d.first())
                .is_some_and(|d| d["status"] == "open" || d["status"] == "lost")
        },
    )
    .await?;
    match d["disputes"].as_array().and_then(|d| d.first()) {
        Some(dispute) => p.line("dispute (notification)", dispute_line(dispute)),
        None => p.line("dispute", "not received"),
    }

    billing_tab(
        &mut p,
        api,
        BillingTab {
            customer: CUSTOMER,
            nickname_width: 18,
            invoiced_column: false,
        },
    )
    .await?;

    p.section("Financial summary (EUR, from the ledger: Adyen keeps no figures to ask)");
    let from = now() - 86_400;
    let to = now() + 86_400;
    let r = expect(
        get(
            api,
            &format!("/v1/summary?currency=EUR&from={from}&to={to}&gateway={gateway}"),
        )
        .await?,
        &[200],
        "the financial summary",
    )?;
    // Adyen reports fees in its settlement reports, not with each payment.
    summary_lines(&p, &r, "EUR", Some("Adyen reports none per payment"));
    println!(
        "\nDone: every step above went through the service's HTTP API, its ledger and the Adyen plugin; \
         captures, refunds and the chargeback were settled by the emulator's signed notifications."
    );
    Ok(())
}
