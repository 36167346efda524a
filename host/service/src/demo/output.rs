//! What every story of the demo shares: its error, the printer of its steps, the checks of the
//! service's answers, and the views every story ends with (the Billing tab, the summary).

use std::time::Duration;

use serde_json::Value;

use crate::client::{ApiClient, ApiResponse};
use crate::currency::format_amount;

/// Why the demo stopped.
#[derive(Debug, thiserror::Error)]
#[error("demo: {0}")]
pub struct DemoError(String);

/// A [`DemoError`] saying `m`.
pub fn err(m: impl Into<String>) -> DemoError {
    DemoError(m.into())
}

/// Prints numbered sections and aligned lines.
pub struct Printer {
    /// Also print the raw JSON of responses.
    pub verbose: bool,
    step: u32,
}

impl Printer {
    /// A printer at the first section.
    pub fn new(verbose: bool) -> Self {
        Printer { verbose, step: 0 }
    }

    /// Starts the next numbered section.
    pub fn section(&mut self, title: &str) {
        self.step += 1;
        println!("\n{}. {title}", self.step);
    }

    /// One aligned line.
    pub fn line(&self, label: &str, value: impl std::fmt::Display) {
        println!("   {label:<22} {value}");
    }

    /// The raw JSON of a response, in verbose mode.
    pub fn raw(&self, r: &ApiResponse) {
        if self.verbose {
            println!(
                "   {}",
                serde_json::to_string_pretty(&r.json)
                    .unwrap_or_default()
                    .replace('\n', "\n   ")
            );
        }
    }
}

/// A JSON value as text: strings unquoted, null as `-`.
pub fn s(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Null => "-".into(),
        other => other.to_string(),
    }
}

/// `r` when its status is one of `ok`, else an error naming `what`.
pub fn expect(r: ApiResponse, ok: &[u16], what: &str) -> Result<ApiResponse, DemoError> {
    if ok.contains(&r.status) {
        Ok(r)
    } else {
        Err(err(format!("{what}: HTTP {} {}", r.status, r.json)))
    }
}

/// `GET path`.
pub async fn get(api: &ApiClient, path: &str) -> Result<ApiResponse, DemoError> {
    api.get(path).await.map_err(err)
}

/// `POST path` with a JSON body.
pub async fn post(api: &ApiClient, path: &str, body: Value) -> Result<ApiResponse, DemoError> {
    api.post(path, body).await.map_err(err)
}

/// Polls `GET path` until `done` holds for its JSON (events arrive by webhook): the last answer,
/// and whether `done` held within `within`.
pub async fn wait_for(
    api: &ApiClient,
    path: &str,
    within: Duration,
    done: impl Fn(&Value) -> bool,
) -> Result<(Value, bool), DemoError> {
    let deadline = tokio::time::Instant::now() + within;
    loop {
        let r = expect(get(api, path).await?, &[200], path)?;
        if done(&r.json) {
            return Ok((r.json, true));
        }
        if tokio::time::Instant::now() >= deadline {
            return Ok((r.json, false));
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// How a story lays out the Billing tab (see [`billing_tab`]).
pub struct BillingTab<'a> {
    /// The CRM's customer.
    pub customer: &'a str,
    /// The width of the cards' nickname column.
    pub nickname_width: usize,
    /// Whether transactions have a column saying they were invoiced.
    pub invoiced_column: bool,
}

/// A section with the customer's cards and transactions (newest last) as the CRM's Billing tab
/// shows them.
pub async fn billing_tab(
    p: &mut Printer,
    api: &ApiClient,
    tab: BillingTab<'_>,
) -> Result<(), DemoError> {
    let customer = tab.customer;
    p.section("Cards and transactions as the CRM's Billing tab shows them");
    let r = expect(
        get(api, &format!("/v1/customers/{customer}/cards")).await?,
        &[200],
        "listing cards",
    )?;
    for c in r.json["cards"].as_array().cloned().unwrap_or_default() {
        p.line(
            if c["default"] == Value::Bool(true) {
                "card (default)"
            } else {
                "card"
            },
            format!(
                "{:<width$} {} •••• {}  exp {}",
                s(&c["nickname"]),
                s(&c["brand"]),
                s(&c["last4"]),
                s(&c["expiry"]),
                width = tab.nickname_width,
            ),
        );
    }
    let r = expect(
        get(api, &format!("/v1/transactions?customer_id={customer}")).await?,
        &[200],
        "listing transactions",
    )?;
    for t in r.json["transactions"]
        .as_array()
        .cloned()
        .unwrap_or_default()
        .iter()
        .rev()
    {
        let (amount, status, description) = (
            s(&t["amount_display"]),
            s(&t["status"]),
            s(&t["description"]),
        );
        let line = if tab.invoiced_column {
            let invoiced = if t["invoiced"] == Value::Bool(true) {
                "invoiced"
            } else {
                ""
            };
            format!("{amount:>12} {status:<20} {description:<22} {invoiced}")
        } else {
            format!("{amount:>12} {status:<20} {description}")
        };
        p.line(&format!("#{} {}", s(&t["id"]), s(&t["kind"])), line);
    }
    Ok(())
}

/// The lines of a financial summary (`summary`, the answer of `GET /v1/summary`) in `currency`.
/// `no_fees_note` follows the fees when they are zero (a gateway that reports none per payment).
pub fn summary_lines(
    p: &Printer,
    summary: &ApiResponse,
    currency: &str,
    no_fees_note: Option<&str>,
) {
    let j = &summary.json;
    p.raw(summary);
    p.line("revenue", s(&j["revenue_display"]));
    p.line("successful payments", s(&j["successful_payments"]));
    p.line(
        "refunds",
        format!("{} ({})", s(&j["refunds_display"]), s(&j["refund_count"])),
    );
    p.line(
        "fees",
        match no_fees_note {
            Some(note) if j["fees"].as_i64().unwrap_or(0) == 0 => {
                format!("{} ({note})", s(&j["fees_display"]))
            }
            _ => s(&j["fees_display"]),
        },
    );
    p.line("net", s(&j["net_display"]));
    p.line(
        "disputes",
        format!(
            "{} ({}); chargebacks lost {} ({})",
            s(&j["disputes"]),
            format_amount(j["disputed_amount"].as_i64().unwrap_or(0), currency),
            s(&j["chargebacks"]),
            format_amount(j["chargeback_amount"].as_i64().unwrap_or(0), currency)
        ),
    );
    // A gateway with metrics reports its own figures; where they differ from the ledger's.
    let money = [
        "revenue",
        "refunds",
        "fees",
        "net",
        "disputed_amount",
        "chargeback_amount",
    ];
    for d in j["differences"].as_array().into_iter().flatten() {
        let field = s(&d["field"]);
        let show = |v: &Value| match v.as_i64() {
            Some(n) if money.contains(&field.as_str()) => format_amount(n, currency),
            _ => s(v),
        };
        p.line(
            &format!("{field} (gateway's)"),
            format!(
                "{} (the ledger: {})",
                show(&d["gateway"]),
                show(&d["ledger"])
            ),
        );
    }
}

/// A dispute of the service's API on one line.
pub fn dispute_line(dispute: &Value) -> String {
    format!(
        "{} {} reason {} status {}",
        s(&dispute["gateway_dispute_ref"]),
        s(&dispute["amount_display"]),
        s(&dispute["reason"]),
        s(&dispute["status"])
    )
}
