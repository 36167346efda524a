//! Customers: search, link a customer to a gateway, a customer's page (gateway links, cards
//! with those expiring soon highlighted, transactions, invoices), adding a card through the
//! gateway's own card form (a card session: its hosted page, or Stripe Elements), the default
//! card, removal, and charging a stored card.

use std::sync::Arc;

use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::Response;
use axum::{Extension, Form};
use serde::Deserialize;

use crate::api::views::{CardView, CustomerLinkView, InvoiceView, TransactionView};
use crate::ledger::{Capture, CustomerLink, Initiator, InvoiceFilter, TxnFilter, TxnKind, now};
use crate::payments::charge::TxnRequest;
use crate::time::date_of;

use super::super::format::{origin, parse_amount, safe_link};
use super::super::guard::{CSP, Signed};
use super::super::session::{PendingCardForm, random_token};
use super::super::state::ConsoleState;
use super::{Chrome, after_form, domain_error, error_page, render, segment};

/// Customers listed at most.
const LIST_LIMIT: u32 = 100;

#[derive(Template)]
#[template(path = "console/customers.html")]
struct CustomersPage {
    chrome: Chrome,
    q: String,
    customers: Vec<CustomerLinkRow>,
    gateways: Vec<String>,
}

/// A customer link in the list.
pub struct CustomerLinkRow {
    /// The CRM id.
    pub id: String,
    /// Its path segment.
    pub path: String,
    /// The link.
    pub link: CustomerLinkView,
}

/// The search.
#[derive(Debug, Default, Deserialize)]
pub struct SearchQuery {
    #[serde(default)]
    q: String,
}

/// `GET /console/customers`.
pub async fn list(
    State(st): State<Arc<ConsoleState>>,
    Extension(signed): Extension<Signed>,
    Query(q): Query<SearchQuery>,
) -> Response {
    let query = q.q.trim().to_string();
    let term = query.clone();
    let found = st
        .service
        .db
        .run(move |l| l.search_customers(&term, LIST_LIMIT))
        .await;
    let links: Vec<CustomerLink> = match found {
        Ok(l) => l,
        Err(e) => return domain_error(&e.into()),
    };
    render(&CustomersPage {
        chrome: Chrome::new(&st, &signed, "customers"),
        q: query,
        customers: links
            .iter()
            .map(|l| CustomerLinkRow {
                id: l.crm_customer_id.clone(),
                path: segment(&l.crm_customer_id),
                link: CustomerLinkView::from(l),
            })
            .collect(),
        gateways: st.service.gateways.names(),
    })
}

/// The form linking a customer.
#[derive(Debug, Deserialize)]
pub struct LinkForm {
    customer_id: String,
    #[serde(default)]
    gateway: String,
    #[serde(default)]
    name: String,
    #[serde(default)]
    email: String,
}

fn some(s: String) -> Option<String> {
    let t = s.trim();
    (!t.is_empty()).then(|| t.to_string())
}

/// `POST /console/customers`.
pub async fn link(
    State(st): State<Arc<ConsoleState>>,
    Extension(signed): Extension<Signed>,
    Form(f): Form<LinkForm>,
) -> Response {
    let gateway = some(f.gateway);
    let result = st
        .service
        .link_customer(
            &f.customer_id,
            gateway.as_deref(),
            some(f.email),
            some(f.name),
            None,
        )
        .await;
    match result {
        Ok((link, _)) => after_form(
            &st,
            &signed,
            &format!("/console/customers/{}", segment(&link.crm_customer_id)),
            Ok(format!("Customer linked to {}.", link.gateway)),
        ),
        Err(e) => after_form(&st, &signed, "/console/customers", Err(e.message)),
    }
}

/// A card in the customer's page.
pub struct CardRow {
    /// The card.
    pub card: CardView,
    /// `expired`, `expiring` (this month or the next two) or empty.
    pub expiry_class: &'static str,
}

#[derive(Template)]
#[template(path = "console/customer.html")]
struct CustomerPage {
    chrome: Chrome,
    id: String,
    path: String,
    links: Vec<CustomerLinkView>,
    cards: Vec<CardRow>,
    transactions: Vec<TransactionView>,
    invoices: Vec<InvoiceView>,
    currency: String,
}

/// Whether a card expiring `(year, month)` has expired or expires within two months of `today`.
pub fn expiry_class(exp_year: u16, exp_month: u8, today: (i64, u32)) -> &'static str {
    let card = i64::from(exp_year) * 12 + i64::from(exp_month);
    let now = today.0 * 12 + i64::from(today.1);
    if card < now {
        "expired"
    } else if card <= now + 2 {
        "expiring"
    } else {
        ""
    }
}

/// `GET /console/customers/{id}`.
pub async fn show(
    State(st): State<Arc<ConsoleState>>,
    Extension(signed): Extension<Signed>,
    Path(id): Path<String>,
) -> Response {
    let links = match st.service.require_customer(&id).await {
        Ok(l) => l,
        Err(e) => return domain_error(&e),
    };
    let key = id.clone();
    let data = st
        .service
        .db
        .run(move |l| {
            let cards = l.cards(&key)?;
            let txns = l.transactions(&TxnFilter {
                customer: Some(key.clone()),
                limit: 50,
                ..Default::default()
            })?;
            let invoices = l.invoices(&InvoiceFilter {
                customer: Some(key.clone()),
                limit: 50,
                ..Default::default()
            })?;
            Ok((cards, txns, invoices))
        })
        .await;
    let (cards, txns, invoices) = match data {
        Ok(d) => d,
        Err(e) => return domain_error(&e.into()),
    };
    let (y, m, _) = date_of(now());
    let currency = txns
        .first()
        .map(|t| t.currency.clone())
        .unwrap_or_else(|| "USD".to_string());
    render(&CustomerPage {
        chrome: Chrome::new(&st, &signed, "customers"),
        path: segment(&id),
        id,
        links: links.iter().map(CustomerLinkView::from).collect(),
        cards: cards
            .iter()
            .map(|c| CardRow {
                expiry_class: expiry_class(c.exp_year, c.exp_month, (y, m)),
                card: CardView::from(c),
            })
            .collect(),
        transactions: txns.iter().map(TransactionView::from).collect(),
        invoices: invoices.iter().map(|i| InvoiceView::new(i, None)).collect(),
        currency,
    })
}

/// The form starting a card form.
#[derive(Debug, Deserialize)]
pub struct CardFormStart {
    #[serde(default)]
    gateway: String,
}

#[derive(Template)]
#[template(path = "console/card_form.html")]
struct CardFormPage {
    chrome: Chrome,
    id: String,
    path: String,
    gateway: String,
    hosted_url: Option<String>,
    elements: Option<StripeElements>,
}

/// What the Stripe Elements page needs.
pub struct StripeElements {
    /// The account's publishable key.
    pub publishable_key: String,
    /// The SetupIntent's client secret.
    pub client_secret: String,
    /// Where Stripe.js sends the browser back.
    pub return_url: String,
}

/// The console's address as the browser sees it.
fn console_origin(st: &ConsoleState, headers: &HeaderMap) -> Option<String> {
    if let Some(u) = &st.public_url {
        return Some(u.clone());
    }
    let host = headers.get(header::HOST)?.to_str().ok()?;
    let scheme = if st.secure_cookies { "https" } else { "http" };
    origin(&format!("{scheme}://{host}/"))
}

/// `POST /console/customers/{id}/card-form`: starts a card session at the gateway and shows
/// the way to its form (the gateway's hosted page, or Stripe Elements on this page).
pub async fn start_card_form(
    State(st): State<Arc<ConsoleState>>,
    Extension(signed): Extension<Signed>,
    headers: HeaderMap,
    Path(id): Path<String>,
    Form(f): Form<CardFormStart>,
) -> Response {
    let back = format!("/console/customers/{}", segment(&id));
    let Some(base) = console_origin(&st, &headers) else {
        return error_page(StatusCode::BAD_REQUEST, "The request names no host.");
    };
    let nonce = random_token();
    let return_url = format!("{base}/console/card-return?form={nonce}");
    let gateway = some(f.gateway);
    let started = st
        .service
        .start_card_session(
            &id,
            gateway.as_deref(),
            Some(return_url.clone()),
            None,
            None,
        )
        .await;
    let (gateway, session) = match started {
        Ok(s) => s,
        Err(e) => return after_form(&st, &signed, &back, Err(e.message)),
    };
    st.sessions.add_card_form(
        &signed.0.id,
        nonce,
        PendingCardForm {
            customer_id: id.clone(),
            gateway: gateway.clone(),
            session_id: session.id.clone(),
            sdk: session.sdk.clone(),
        },
    );
    let hosted_url = safe_link(session.hosted_url.as_deref());
    let elements = if hosted_url.is_none() && session.sdk == "stripe-elements" {
        let config: serde_json::Value =
            serde_json::from_str(&session.client_config).unwrap_or_default();
        match (
            config["publishable_key"].as_str(),
            config["client_secret"].as_str(),
        ) {
            (Some(k), Some(s)) => Some(StripeElements {
                publishable_key: k.to_string(),
                client_secret: s.to_string(),
                return_url,
            }),
            _ => None,
        }
    } else {
        None
    };
    let loads_stripe = elements.is_some();
    let mut res = render(&CardFormPage {
        chrome: Chrome::new(&st, &signed, "customers"),
        path: segment(&id),
        id,
        gateway,
        hosted_url,
        elements,
    });
    if res.status().is_success() && loads_stripe {
        // Only this page may load Stripe.js, and only from Stripe.
        let csp =
            CSP.replace(
                "script-src 'self'",
                "script-src 'self' https://js.stripe.com",
            )
            .replace(
                "connect-src 'self'",
                "connect-src 'self' https://api.stripe.com",
            ) + "; frame-src https://js.stripe.com https://hooks.stripe.com";
        if let Ok(v) = HeaderValue::from_str(&csp) {
            res.headers_mut().insert(header::CONTENT_SECURITY_POLICY, v);
        }
    }
    res
}

/// The return from a gateway's card form: `form` (the nonce of the session's card form), and
/// the gateway's own parameters (Stripe: `setup_intent`; Adyen: `sessionId`, `sessionResult`).
#[derive(Debug, Deserialize)]
pub struct CardReturn {
    form: String,
    setup_intent: Option<String>,
    #[serde(rename = "sessionId")]
    session_id: Option<String>,
    #[serde(rename = "sessionResult")]
    session_result: Option<String>,
}

/// `GET /console/card-return`: stores the card the gateway's form made. Only the session that
/// started the form can finish it, once, and only for the gateway's session it started.
pub async fn card_return(
    State(st): State<Arc<ConsoleState>>,
    Extension(signed): Extension<Signed>,
    Query(r): Query<CardReturn>,
) -> Response {
    if !signed.0.operator.as_ref().is_some_and(|o| o.can_write()) {
        return error_page(
            StatusCode::FORBIDDEN,
            "Your sign-in is read-only: it cannot change anything.",
        );
    }
    let Some(form) = st.sessions.take_card_form(&signed.0.id, &r.form) else {
        return error_page(
            StatusCode::FORBIDDEN,
            "This card form was not started from your session, or was finished already.",
        );
    };
    let back = format!("/console/customers/{}", segment(&form.customer_id));
    let token = match form.sdk.as_str() {
        "stripe-elements" => r.setup_intent.filter(|s| *s == form.session_id),
        "adyen-web" => match (r.session_id, r.session_result) {
            (Some(id), Some(result)) if id == form.session_id => {
                Some(serde_json::json!({ "sessionId": id, "sessionResult": result }).to_string())
            }
            _ => None,
        },
        _ => None,
    };
    let Some(token) = token else {
        return after_form(
            &st,
            &signed,
            &back,
            Err("The gateway's card form came back without a card for this session.".into()),
        );
    };
    let stored = st
        .service
        .store_card(
            &form.customer_id,
            Some(&form.gateway),
            &token,
            None,
            false,
            None,
        )
        .await;
    match stored {
        Ok(card) => after_form(
            &st,
            &signed,
            &back,
            Ok(format!(
                "Card {} •••• {} stored at {}.",
                card.brand, card.last4, card.gateway
            )),
        ),
        Err(e) => after_form(&st, &signed, &back, Err(e.message)),
    }
}

/// A form that names a card and is confirmed.
#[derive(Debug, Deserialize)]
pub struct CardAction {
    #[serde(default)]
    confirm: Option<String>,
}

/// `POST /console/customers/{id}/cards/{card}/default`.
pub async fn set_default(
    State(st): State<Arc<ConsoleState>>,
    Extension(signed): Extension<Signed>,
    Path((id, card)): Path<(String, i64)>,
) -> Response {
    let back = format!("/console/customers/{}", segment(&id));
    let result = st.service.set_default_card(&id, card).await;
    after_form(
        &st,
        &signed,
        &back,
        result
            .map(|c| format!("Card •••• {} is the default.", c.last4))
            .map_err(|e| e.message),
    )
}

/// `POST /console/customers/{id}/cards/{card}/remove` (confirmed).
pub async fn remove(
    State(st): State<Arc<ConsoleState>>,
    Extension(signed): Extension<Signed>,
    Path((id, card)): Path<(String, i64)>,
    Form(f): Form<CardAction>,
) -> Response {
    let back = format!("/console/customers/{}", segment(&id));
    if f.confirm.is_none() {
        return after_form(&st, &signed, &back, Err("Tick the box to confirm.".into()));
    }
    let result = st.service.remove_card(&id, card).await;
    after_form(
        &st,
        &signed,
        &back,
        result
            .map(|()| "The card was removed.".to_string())
            .map_err(|e| e.message),
    )
}

/// The charge form.
#[derive(Debug, Deserialize)]
pub struct ChargeForm {
    amount: String,
    currency: String,
    #[serde(default)]
    description: String,
    #[serde(default)]
    card_id: String,
    #[serde(default)]
    capture: String,
    #[serde(default)]
    confirm: Option<String>,
}

/// `POST /console/customers/{id}/charge` (confirmed): charges a stored card now, as the
/// merchant (off-session).
pub async fn charge(
    State(st): State<Arc<ConsoleState>>,
    Extension(signed): Extension<Signed>,
    Path(id): Path<String>,
    Form(f): Form<ChargeForm>,
) -> Response {
    let back = format!("/console/customers/{}", segment(&id));
    if f.confirm.is_none() {
        return after_form(&st, &signed, &back, Err("Tick the box to confirm.".into()));
    }
    let currency = f.currency.trim().to_ascii_uppercase();
    let amount = match parse_amount(&f.amount, &currency) {
        Ok(a) => a,
        Err(e) => return after_form(&st, &signed, &back, Err(e)),
    };
    let card_id = match f.card_id.trim() {
        "" => None,
        s => match s.parse() {
            Ok(n) => Some(n),
            Err(_) => return after_form(&st, &signed, &back, Err("Choose a card.".into())),
        },
    };
    let request = TxnRequest {
        customer_id: id.clone(),
        amount,
        currency,
        description: some(f.description),
        kind: TxnKind::Charge,
        card_id,
        capture: if f.capture == "manual" {
            Capture::Manual
        } else {
            Capture::Automatic
        },
        charge_now: true,
        initiator: Initiator::MerchantUnscheduled,
        return_url: None,
        client_key: None,
    };
    match st.service.create_transaction(request).await {
        Ok((txn, error, _)) => {
            let to = format!("/console/transactions/{}", txn.id);
            let text = match error {
                Some(e) => Err(format!("Transaction #{}: {}", txn.id, e.message)),
                None => Ok(format!("Transaction #{} is {}.", txn.id, txn.status)),
            };
            after_form(&st, &signed, &to, text)
        }
        Err(e) => after_form(&st, &signed, &back, Err(e.message)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cards_expiring_within_two_months_are_marked() {
        let today = (2026, 12);
        assert_eq!(expiry_class(2026, 11, today), "expired");
        assert_eq!(expiry_class(2026, 12, today), "expiring");
        assert_eq!(expiry_class(2027, 2, today), "expiring");
        assert_eq!(expiry_class(2027, 3, today), "");
    }
}
