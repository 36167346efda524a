//! Invoices: the list, creating one from a customer's uninvoiced transactions, an invoice's
//! page (its lines, the gateway's hosted page and PDF), finalize, pay and void (confirmed).

use std::sync::Arc;

use askama::Template;
use axum::extract::{Path, State};
use axum::response::Response;
use axum::{Extension, Form};
use serde::Deserialize;

use crate::api::views::{InvoiceView, TransactionView};
use crate::invoices::InvoiceRequestIn;
use crate::ledger::{InvoiceFilter, InvoiceStatus};
use crate::retry::RetryPolicy;

use super::super::format::safe_link;
use super::super::guard::Signed;
use super::super::state::ConsoleState;
use super::{Chrome, after_form, domain_error, render, segment};

#[derive(Template)]
#[template(path = "console/invoices.html")]
struct InvoicesPage {
    chrome: Chrome,
    invoices: Vec<InvoiceView>,
    gateways: Vec<String>,
}

/// `GET /console/invoices`.
pub async fn list(
    State(st): State<Arc<ConsoleState>>,
    Extension(signed): Extension<Signed>,
) -> Response {
    let rows = st
        .service
        .db
        .run(|l| {
            l.invoices(&InvoiceFilter {
                limit: 200,
                ..Default::default()
            })
        })
        .await;
    match rows {
        Ok(rows) => render(&InvoicesPage {
            chrome: Chrome::new(&st, &signed, "invoices"),
            invoices: rows.iter().map(|i| InvoiceView::new(i, None)).collect(),
            gateways: st.service.gateways.names(),
        }),
        Err(e) => domain_error(&e.into()),
    }
}

/// The form creating an invoice.
#[derive(Debug, Deserialize)]
pub struct CreateForm {
    customer_id: String,
    currency: String,
    #[serde(default)]
    gateway: String,
    #[serde(default)]
    description: String,
    #[serde(default)]
    days_until_due: String,
}

/// `POST /console/invoices`.
pub async fn create(
    State(st): State<Arc<ConsoleState>>,
    Extension(signed): Extension<Signed>,
    Form(f): Form<CreateForm>,
) -> Response {
    let days = match f.days_until_due.trim() {
        "" => 30,
        s => match s.parse::<u32>() {
            Ok(d) if d <= 365 => d,
            _ => {
                return after_form(
                    &st,
                    &signed,
                    "/console/invoices",
                    Err("Days until due: a number from 0 to 365.".into()),
                );
            }
        },
    };
    let request = InvoiceRequestIn {
        customer_id: f.customer_id.trim().to_string(),
        gateway: Some(f.gateway).filter(|g| !g.is_empty()),
        currency: f.currency.trim().to_ascii_uppercase(),
        description: Some(f.description.trim().to_string()).filter(|d| !d.is_empty()),
        period_start: None,
        period_end: None,
        days_until_due: days,
        client_key: None,
    };
    match st.service.create_invoice(request).await {
        Ok(i) => after_form(
            &st,
            &signed,
            &format!("/console/invoices/{}", i.id),
            Ok(format!("Invoice {} created.", i.number)),
        ),
        Err(e) => after_form(&st, &signed, "/console/invoices", Err(e.message)),
    }
}

#[derive(Template)]
#[template(path = "console/invoice.html")]
struct InvoicePage {
    chrome: Chrome,
    i: InvoiceView,
    customer_path: String,
    hosted: Option<String>,
    pdf: Option<String>,
    transactions: Vec<TransactionView>,
    can_finalize: bool,
    can_pay: bool,
    can_void: bool,
}

/// `GET /console/invoices/{id}`.
pub async fn show(
    State(st): State<Arc<ConsoleState>>,
    Extension(signed): Extension<Signed>,
    Path(id): Path<i64>,
) -> Response {
    let invoice = match st.service.invoice(id).await {
        Ok(i) => i,
        Err(e) => return domain_error(&e),
    };
    let lines = match st.service.db.run(move |l| l.invoice_lines(id)).await {
        Ok(l) => l,
        Err(e) => return domain_error(&e.into()),
    };
    let status = invoice.status;
    render(&InvoicePage {
        chrome: Chrome::new(&st, &signed, "invoices"),
        customer_path: segment(&invoice.crm_customer_id),
        hosted: safe_link(invoice.hosted_url.as_deref()),
        pdf: safe_link(invoice.pdf_url.as_deref()),
        transactions: lines.iter().map(TransactionView::from).collect(),
        can_finalize: status == InvoiceStatus::Draft,
        can_pay: matches!(status, InvoiceStatus::Draft | InvoiceStatus::Open),
        can_void: matches!(status, InvoiceStatus::Draft | InvoiceStatus::Open),
        i: InvoiceView::new(&invoice, None),
    })
}

/// A confirmed invoice action.
#[derive(Debug, Deserialize)]
pub struct Confirmed {
    #[serde(default)]
    confirm: Option<String>,
}

/// `POST /console/invoices/{id}/{action}`: `finalize`, `pay` or `void` (confirmed).
pub async fn act(
    State(st): State<Arc<ConsoleState>>,
    Extension(signed): Extension<Signed>,
    Path((id, action)): Path<(i64, String)>,
    Form(f): Form<Confirmed>,
) -> Response {
    let back = format!("/console/invoices/{id}");
    if f.confirm.is_none() {
        return after_form(&st, &signed, &back, Err("Tick the box to confirm.".into()));
    }
    let result = match action.as_str() {
        "finalize" => st.service.finalize_invoice(id).await,
        "pay" => {
            st.service
                .pay_invoice(id, None, RetryPolicy::INTERACTIVE)
                .await
        }
        "void" => st.service.void_invoice(id).await,
        _ => return after_form(&st, &signed, &back, Err("No such action.".into())),
    };
    after_form(
        &st,
        &signed,
        &back,
        result
            .map(|i| format!("Invoice {} is {}.", i.number, i.status))
            .map_err(|e| e.message),
    )
}
