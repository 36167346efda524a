//! Checks of `invoicing`, `metrics` and `webhooks` answers, and of the plugin's description.

use super::payments::{decline, stored_card};
use super::{
    Checked, at, currency, each, expiry, label, last4, metadata, money, name, non_negative,
    optional_label, optional_reference, optional_text, optional_url, reference, text, violation,
};
use crate::contract::{
    BalancePage, EventKind, FinancialSummary, GatewayEvent, GatewayInfo, Invoice, InvoicePage,
    WebhookOutcome,
};

/// Longest webhook answer body.
const MAX_WEBHOOK_BODY: usize = 1024 * 1024;

/// `info.describe`.
pub(crate) fn gateway_info(info: &GatewayInfo) -> Checked {
    name("info.name", &info.name)?;
    name("info.display-name", &info.display_name)?;
    name("info.version", &info.version)?;
    each("info.currencies", &info.currencies, |f, c| currency(f, c))
}

/// An invoice, in `currency_asked` when the request named one (`create-invoice`).
pub(crate) fn invoice(field: &str, i: &Invoice, currency_asked: Option<&str>) -> Checked {
    reference(&at(field, "id"), &i.id)?;
    reference(&at(field, "customer"), &i.customer)?;
    optional_label(&at(field, "number"), i.number.as_ref())?;
    currency(&at(field, "currency"), &i.currency)?;
    if let Some(asked) = currency_asked
        && i.currency != asked
    {
        return violation(
            at(field, "currency"),
            format!("is not the currency asked for ({asked})"),
        );
    }
    each(&at(field, "lines"), &i.lines, |f, line| {
        text(&at(f, "description"), &line.description)
    })?;
    non_negative(&at(field, "amount-paid"), i.amount_paid)?;
    non_negative(&at(field, "amount-remaining"), i.amount_remaining)?;
    optional_url(&at(field, "hosted-url"), i.hosted_url.as_ref())?;
    optional_url(&at(field, "pdf-url"), i.pdf_url.as_ref())?;
    metadata(&at(field, "metadata"), &i.metadata)
}

/// `invoicing.list-invoices`.
pub(crate) fn invoice_page(page: &InvoicePage) -> Checked {
    each("invoices", &page.invoices, |f, i| invoice(f, i, None))?;
    optional_label("invoice-page.next-cursor", page.next_cursor.as_ref())
}

/// `metrics.summarize`: the figures of the currency asked for, non-negative where they must
/// be (volumes, refunds and disputes; fees and net may go either way).
pub(crate) fn summary(s: &FinancialSummary, currency_asked: &str) -> Checked {
    if !s.currency.eq_ignore_ascii_case(currency_asked) {
        return violation(
            "summary.currency",
            format!("is not the currency asked for ({currency_asked})"),
        );
    }
    non_negative("summary.gross-volume", s.gross_volume)?;
    non_negative("summary.refunded-amount", s.refunded_amount)?;
    non_negative("summary.disputed-amount", s.disputed_amount)?;
    non_negative("summary.disputes-lost-amount", s.disputes_lost_amount)
}

/// `metrics.list-balance-transactions`.
pub(crate) fn balance_page(page: &BalancePage) -> Checked {
    each("transactions", &page.transactions, |f, t| {
        name(&at(f, "id"), &t.id)?;
        label(&at(f, "gateway-type"), &t.gateway_type)?;
        money(&at(f, "amount"), &t.amount, true)?;
        optional_label(&at(f, "source"), t.source.as_ref())?;
        optional_text(&at(f, "description"), t.description.as_ref())
    })?;
    optional_label("balance-page.next-cursor", page.next_cursor.as_ref())
}

/// `webhooks.handle-webhook`: the events' references and amounts, and the answer to send.
pub(crate) fn webhook_outcome(outcome: &WebhookOutcome) -> Checked {
    each("events", &outcome.events, event)?;
    let response = &outcome.response;
    if !(100..=599).contains(&response.status) {
        return violation(
            "response.status",
            format!("is {}, not an HTTP status", response.status),
        );
    }
    optional_label("response.content-type", response.content_type.as_ref())?;
    if response.body.len() > MAX_WEBHOOK_BODY {
        return violation(
            "response.body",
            format!(
                "is {} bytes long, more than {MAX_WEBHOOK_BODY}",
                response.body.len()
            ),
        );
    }
    Ok(())
}

fn event(field: &str, e: &GatewayEvent) -> Checked {
    name(&at(field, "id"), &e.id)?;
    label(&at(field, "gateway-type"), &e.gateway_type)?;
    let field = &at(field, "kind");
    match &e.kind {
        EventKind::Payment(p) => {
            reference(&at(field, "payment"), &p.payment)?;
            money(&at(field, "amount"), &p.amount, false)?;
            if let Some(captured) = p.amount_captured {
                non_negative(&at(field, "amount-captured"), captured)?;
                if captured > p.amount.amount {
                    return violation(
                        at(field, "amount-captured"),
                        format!("is {captured}, more than the amount ({})", p.amount.amount),
                    );
                }
            }
            if let Some(d) = &p.decline {
                decline(&at(field, "decline"), d)?;
            }
            metadata(&at(field, "metadata"), &p.metadata)?;
            if let Some(fee) = &p.fee {
                money(&at(field, "fee"), fee, false)?;
            }
            optional_label(
                &at(field, "network-transaction-id"),
                p.network_transaction_id.as_ref(),
            )
        }
        EventKind::Modification(m) => {
            reference(&at(field, "modification"), &m.modification)?;
            reference(&at(field, "payment"), &m.payment)?;
            if let Some(amount) = &m.amount {
                money(&at(field, "amount"), amount, false)?;
            }
            optional_text(&at(field, "reason"), m.reason.as_ref())
        }
        EventKind::Dispute(d) => {
            reference(&at(field, "dispute"), &d.dispute)?;
            optional_reference(&at(field, "payment"), d.payment.as_ref())?;
            money(&at(field, "amount"), &d.amount, false)?;
            label(&at(field, "reason"), &d.reason)
        }
        EventKind::Invoice(i) => {
            reference(&at(field, "invoice"), &i.invoice)?;
            non_negative(&at(field, "amount-paid"), i.amount_paid)
        }
        EventKind::CardUpdated(c) => {
            reference(&at(field, "card"), &c.card)?;
            optional_reference(&at(field, "customer"), c.customer.as_ref())?;
            expiry(field, c.exp_month, c.exp_year)?;
            last4(field, &c.last4)
        }
        EventKind::CardStored(card) => stored_card(field, card, None),
        EventKind::Other(kind) => label(field, kind),
    }
}
