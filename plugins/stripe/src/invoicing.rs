//! `invoicing`: Invoices and InvoiceItems.

use omnicrm_gateway_sdk::exports::omnicrm::payments::invoicing::{
    CollectionMethod, Guest, Invoice, InvoiceFilter, InvoiceLine, InvoicePage, InvoiceRequest,
    InvoiceStatus,
};
use omnicrm_gateway_sdk::omnicrm::payments::types::{GatewayError, PageRequest};

use crate::Stripe;
use crate::client::{Client, check_id, step_key};
use crate::errors::{Target, invalid};
use crate::form::{Form, encode};
use crate::json::Json;
use crate::money;

impl Guest for Stripe {
    fn create_invoice(request: InvoiceRequest) -> Result<Invoice, GatewayError> {
        let customer = check_id("customer", "customer", &request.customer)?;
        let currency = crate::currency_to_stripe(&request.currency)?;
        if request.items.is_empty() {
            return Err(invalid("items", "an invoice needs at least one line"));
        }
        if request.items.iter().any(|i| i.quantity == 0) {
            return Err(invalid("quantity", "must be at least 1"));
        }
        let unit_amounts = request
            .items
            .iter()
            .map(|i| money::to_stripe(i.unit_amount, &currency))
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| match e {
                GatewayError::InvalidInput(mut i) => {
                    i.field = "unit-amount".into();
                    GatewayError::InvalidInput(i)
                }
                other => other,
            })?;
        let client = Client::from_config()?;

        // The draft, without the customer's pending items: only the lines given here.
        let mut form = Form::new();
        form.add("customer", customer)
            .add("currency", &currency)
            .add("pending_invoice_items_behavior", "exclude")
            .add("auto_advance", "false")
            .opt("description", request.description.as_ref())
            .metadata(&request.metadata);
        match request.collection {
            CollectionMethod::ChargeAutomatically => {
                form.add("collection_method", "charge_automatically");
            }
            CollectionMethod::SendInvoice => {
                form.add("collection_method", "send_invoice")
                    .add("days_until_due", request.days_until_due.unwrap_or(30));
            }
        }
        let key = step_key(&request.idempotency_key, "invoice")?;
        let invoice = client.post("/v1/invoices", &form, Some(&key), Target::any("invoice"))?;
        let id = invoice.get("id").string().unwrap_or_default();
        check_id("invoice", "invoice", &id)?;

        for (n, (item, unit_amount)) in request.items.iter().zip(unit_amounts).enumerate() {
            let mut form = Form::new();
            form.add("customer", customer)
                .add("invoice", &id)
                .add("currency", &currency)
                .add("description", &item.description)
                .add("unit_amount_decimal", unit_amount)
                .add("quantity", item.quantity)
                .metadata(&item.metadata);
            let key = step_key(&request.idempotency_key, &format!("item:{n}"))?;
            client.post(
                "/v1/invoiceitems",
                &form,
                Some(&key),
                Target::new("invoice", &id),
            )?;
        }
        fetch(&client, &id)
    }

    fn finalize_invoice(invoice: String, idempotency_key: String) -> Result<Invoice, GatewayError> {
        let mut form = Form::new();
        form.add("auto_advance", "false");
        action(&invoice, "finalize", &form, &idempotency_key)
    }

    fn pay_invoice(
        invoice: String,
        card: Option<String>,
        idempotency_key: String,
    ) -> Result<Invoice, GatewayError> {
        let mut form = Form::new();
        if let Some(card) = &card {
            form.add("payment_method", check_id("card", "card", card)?);
        }
        form.add("off_session", "true");
        action(&invoice, "pay", &form, &idempotency_key)
    }

    /// Voids an open or uncollectible invoice; deletes a draft (Stripe voids only finalized
    /// invoices) and reports it `void`. See [`delete_draft`] for how a repeat stays safe.
    fn void_invoice(invoice: String, idempotency_key: String) -> Result<Invoice, GatewayError> {
        let id = check_id("invoice", "invoice", &invoice)?;
        let client = Client::from_config()?;
        let path = format!("/v1/invoices/{}", encode(id));
        match client.get(&path, &Form::new(), Target::new("invoice", id)) {
            Ok(inv) if inv.get("status").str() != Some("draft") => {
                action(id, "void", &Form::new(), &idempotency_key)
            }
            // A draft, or gone: maybe deleted by an earlier attempt of this operation.
            Ok(_) | Err(GatewayError::NotFound(_)) => delete_draft(&client, id, &idempotency_key),
            Err(e) => Err(e),
        }
    }

    fn mark_uncollectible(
        invoice: String,
        idempotency_key: String,
    ) -> Result<Invoice, GatewayError> {
        action(
            &invoice,
            "mark_uncollectible",
            &Form::new(),
            &idempotency_key,
        )
    }

    fn get_invoice(invoice: String) -> Result<Invoice, GatewayError> {
        let id = check_id("invoice", "invoice", &invoice)?;
        fetch(&Client::from_config()?, id)
    }

    fn list_invoices(
        filter: InvoiceFilter,
        page: PageRequest,
    ) -> Result<InvoicePage, GatewayError> {
        let client = Client::from_config()?;
        let mut query = Form::new();
        query.add("limit", page.limit.clamp(1, 100));
        if let Some(cursor) = &page.cursor {
            query.add("starting_after", check_id("cursor", "cursor", cursor)?);
        }
        if let Some(customer) = &filter.customer {
            query.add("customer", check_id("customer", "customer", customer)?);
        }
        query.opt("status", filter.status.map(status_name));
        if let Some(range) = filter.created {
            query
                .add("created[gte]", range.start)
                .add("created[lt]", range.end);
        }
        let list = client.get("/v1/invoices", &query, Target::any("invoice"))?;
        let mut invoices = Vec::new();
        for inv in list.get("data").arr() {
            invoices.push(invoice_from(&client, inv)?);
        }
        let next_cursor = if list.get("has_more").bool() == Some(true) {
            invoices.last().map(|i| i.id.clone())
        } else {
            None
        };
        Ok(InvoicePage {
            invoices,
            next_cursor,
        })
    }
}

/// `POST /v1/invoices/{id}/{verb}` with its own key step.
fn action(invoice: &str, verb: &str, form: &Form, key: &str) -> Result<Invoice, GatewayError> {
    let id = check_id("invoice", "invoice", invoice)?;
    let key = step_key(key, verb)?;
    let client = Client::from_config()?;
    let path = format!("/v1/invoices/{}/{verb}", encode(id));
    let inv = client.post(&path, form, Some(&key), Target::new("invoice", id))?;
    invoice_from(&client, &inv)
}

/// Deletes a draft invoice and reports it `void`.
///
/// Stripe keeps nothing of a deleted draft and no idempotency key for a `DELETE`, so a first
/// step marks the draft (metadata `omnicrm_void`) under the operation's key: Stripe saves that
/// answer (the draft as it was) and replays it for 24 hours. A repeat after the deletion finds
/// the invoice gone, replays the mark (proof that this operation deleted it, and the invoice to
/// report), and its `DELETE` answering `not-found` means done. An invoice that never existed
/// stays `not-found`: its mark fails.
fn delete_draft(client: &Client, id: &str, key: &str) -> Result<Invoice, GatewayError> {
    let path = format!("/v1/invoices/{}", encode(id));
    let mut mark = Form::new();
    mark.add("metadata[omnicrm_void]", key);
    let mark_key = step_key(key, "void:mark")?;
    let draft = client.post(&path, &mark, Some(&mark_key), Target::new("invoice", id))?;
    if draft.get("status").str() != Some("draft") {
        // Finalized since the look-up: void it instead.
        return action(id, "void", &Form::new(), key);
    }
    // The lines, while the draft is still there (a replayed mark only embeds the first page).
    let lines = match lines_of(client, &draft) {
        Err(GatewayError::NotFound(_)) => embedded_lines(&draft),
        other => other?,
    };
    match client.delete(&path, Target::new("invoice", id)) {
        // Deleted now, or by an earlier attempt of this operation (which marked it).
        Ok(_) | Err(GatewayError::NotFound(_)) => {}
        Err(e) => return Err(e),
    }
    Ok(Invoice {
        status: InvoiceStatus::Void,
        ..record(&draft, lines)
    })
}

fn fetch(client: &Client, id: &str) -> Result<Invoice, GatewayError> {
    let path = format!("/v1/invoices/{}", encode(id));
    let inv = client.get(&path, &Form::new(), Target::new("invoice", id))?;
    invoice_from(client, &inv)
}

fn status_name(status: InvoiceStatus) -> &'static str {
    match status {
        InvoiceStatus::Draft => "draft",
        InvoiceStatus::Open => "open",
        InvoiceStatus::Paid => "paid",
        InvoiceStatus::Void => "void",
        InvoiceStatus::Uncollectible => "uncollectible",
    }
}

pub(crate) fn invoice_status(status: &str) -> InvoiceStatus {
    match status {
        "open" => InvoiceStatus::Open,
        "paid" => InvoiceStatus::Paid,
        "void" => InvoiceStatus::Void,
        "uncollectible" => InvoiceStatus::Uncollectible,
        _ => InvoiceStatus::Draft,
    }
}

/// A line of an invoice in `currency` (the invoice's, which its lines share).
fn line(l: &Json, currency: &str) -> InvoiceLine {
    InvoiceLine {
        description: l.get("description").string().unwrap_or_default(),
        amount: money::field(l, "amount", currency),
        quantity: l.get("quantity").int().unwrap_or(1),
    }
}

/// Converts an invoice, fetching the rest of its lines when Stripe returned only the first page.
fn invoice_from(client: &Client, inv: &Json) -> Result<Invoice, GatewayError> {
    Ok(record(inv, lines_of(client, inv)?))
}

/// The lines embedded in an invoice object (the first page).
fn embedded_lines(inv: &Json) -> Vec<InvoiceLine> {
    let currency = inv.get("currency").str().unwrap_or("");
    inv.get("lines")
        .get("data")
        .arr()
        .iter()
        .map(|l| line(l, currency))
        .collect()
}

/// Every line of an invoice: the embedded ones, then the other pages.
fn lines_of(client: &Client, inv: &Json) -> Result<Vec<InvoiceLine>, GatewayError> {
    let id = inv.get("id").string().unwrap_or_default();
    let currency = inv.get("currency").str().unwrap_or("");
    let embedded = inv.get("lines");
    let mut lines = embedded_lines(inv);
    if embedded.get("has_more").bool() == Some(true) && check_id("invoice", "invoice", &id).is_ok()
    {
        let after = embedded
            .get("data")
            .arr()
            .last()
            .and_then(|l| l.get("id").string());
        let path = format!("/v1/invoices/{}/lines", encode(&id));
        client.walk(
            &path,
            &Form::new(),
            after,
            Target::new("invoice", &id),
            |l| {
                lines.push(line(l, currency));
            },
        )?;
    }
    Ok(lines)
}

/// The contract's invoice of a Stripe invoice object with its lines.
fn record(inv: &Json, lines: Vec<InvoiceLine>) -> Invoice {
    let id = inv.get("id").string().unwrap_or_default();
    let currency = inv.get("currency").str().unwrap_or("").to_ascii_uppercase();
    // 2025-03-31.basil replaced `tax` with `total_taxes[]`.
    let tax = match inv.get("total_taxes") {
        Json::Arr(taxes) => taxes.iter().filter_map(|t| t.get("amount").i64()).sum(),
        _ => inv.get("tax").i64().unwrap_or(0),
    };
    Invoice {
        customer: inv.get("customer").id().unwrap_or_default(),
        status: invoice_status(inv.get("status").str().unwrap_or("")),
        number: inv.get("number").string(),
        lines,
        subtotal: money::field(inv, "subtotal", &currency),
        tax: money::from_stripe(tax, &currency),
        total: money::field(inv, "total", &currency),
        amount_paid: money::field(inv, "amount_paid", &currency),
        amount_remaining: money::field(inv, "amount_remaining", &currency),
        hosted_url: inv.get("hosted_invoice_url").string(),
        pdf_url: inv.get("invoice_pdf").string(),
        created: inv.get("created").i64().unwrap_or(0),
        due_date: inv.get("due_date").i64(),
        metadata: crate::metadata(inv.get("metadata")),
        currency,
        id,
    }
}
