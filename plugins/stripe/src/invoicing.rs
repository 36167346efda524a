//! `invoicing`: Invoices and InvoiceItems.

use omnicrm_gateway_sdk::Invoicing;
use omnicrm_gateway_sdk::http::Method;
use omnicrm_gateway_sdk::invoicing::{
    CollectionMethod, Invoice, InvoiceFilter, InvoiceLine, InvoicePage, InvoiceRequest,
    InvoiceStatus,
};
use omnicrm_gateway_sdk::types::{GatewayError, PageRequest};

use crate::Stripe;
use crate::client::{Client, check_id, step_key};
use crate::errors::{Target, failure, invalid, unusable};
use crate::form::{Form, encode};
use crate::money;
use crate::wire::{self, InvoiceItem, List};

impl Invoicing for Stripe {
    fn create_invoice(request: InvoiceRequest) -> Result<Invoice, GatewayError> {
        let customer = check_id("customer", "customer", &request.customer)?;
        let currency = money::currency_to_stripe(&request.currency)?;
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
        let invoice: wire::Invoice =
            client.post("/v1/invoices", &form, Some(&key), Target::any("invoice"))?;
        // The id goes into the next URLs: an odd one is not used.
        let id = invoice.id;
        check_id("invoice", "invoice", &id).map_err(|_| {
            unusable(
                Method::Post,
                format!("new invoice id {id:?} is not an id"),
                None,
            )
        })?;

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
            let _: InvoiceItem = client.post(
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
        match client.get::<wire::Invoice>(&path, &Form::new(), Target::new("invoice", id)) {
            Ok(inv) if inv.status != wire::InvoiceStatus::Draft => {
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
        query.opt("status", filter.status.map(wire::InvoiceStatus::name_of));
        if let Some(range) = filter.created {
            query
                .add("created[gte]", range.start)
                .add("created[lt]", range.end);
        }
        let list: List<wire::Invoice> =
            client.get("/v1/invoices", &query, Target::any("invoice"))?;
        let mut invoices = Vec::new();
        for inv in &list.data {
            invoices.push(invoice_from(&client, inv, Method::Get)?);
        }
        let next_cursor = if list.has_more {
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
///
/// Once Stripe answered, the verb is done (paying may have moved money): a failure to read the
/// rest of the lines afterwards is `outcome-unknown`, never `not-attempted`. Repeating the call
/// with the same key replays the verb's answer without acting again.
fn action(invoice: &str, verb: &str, form: &Form, key: &str) -> Result<Invoice, GatewayError> {
    let id = check_id("invoice", "invoice", invoice)?;
    let key = step_key(key, verb)?;
    let client = Client::from_config()?;
    let path = format!("/v1/invoices/{}/{verb}", encode(id));
    let inv: wire::Invoice = client.post(&path, form, Some(&key), Target::new("invoice", id))?;
    invoice_from(&client, &inv, Method::Post).map_err(|e| match e {
        GatewayError::NotAttempted(f) => GatewayError::OutcomeUnknown(failure(
            format!(
                "Stripe answered the {verb} of invoice {id}, then: {}",
                f.message
            ),
            f.request_id,
        )),
        other => other,
    })
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
    let draft: wire::Invoice =
        client.post(&path, &mark, Some(&mark_key), Target::new("invoice", id))?;
    if draft.status != wire::InvoiceStatus::Draft {
        // Finalized since the look-up: void it instead.
        return action(id, "void", &Form::new(), key);
    }
    // The lines, while the draft is still there (a replayed mark only embeds the first page).
    let lines = match lines_of(client, &draft) {
        Err(GatewayError::NotFound(_)) => draft.embedded_lines(),
        other => other?,
    };
    match client.delete::<wire::Ref>(&path, Target::new("invoice", id)) {
        // Deleted now, or by an earlier attempt of this operation (which marked it).
        Ok(_) | Err(GatewayError::NotFound(_)) => {}
        Err(e) => return Err(e),
    }
    let mut record = draft
        .record(lines)
        .map_err(|e| unusable(Method::Post, e.to_string(), None))?;
    record.status = InvoiceStatus::Void;
    Ok(record)
}

fn fetch(client: &Client, id: &str) -> Result<Invoice, GatewayError> {
    let path = format!("/v1/invoices/{}", encode(id));
    let inv: wire::Invoice = client.get(&path, &Form::new(), Target::new("invoice", id))?;
    invoice_from(client, &inv, Method::Get)
}

/// Converts an invoice that `method` brought back, fetching the rest of its lines when Stripe
/// returned only the first page. An invoice whose status the plugin does not know is
/// [`unusable`].
fn invoice_from(
    client: &Client,
    inv: &wire::Invoice,
    method: Method,
) -> Result<Invoice, GatewayError> {
    let lines = lines_of(client, inv)?;
    inv.record(lines)
        .map_err(|e| unusable(method, e.to_string(), None))
}

/// Every line of an invoice: the embedded ones, then the other pages.
fn lines_of(client: &Client, inv: &wire::Invoice) -> Result<Vec<InvoiceLine>, GatewayError> {
    let mut lines = inv.embedded_lines();
    if inv.lines.has_more && check_id("invoice", "invoice", &inv.id).is_ok() {
        let after = inv.lines.data.last().map(|l| l.id.clone());
        let path = format!("/v1/invoices/{}/lines", encode(&inv.id));
        client.walk(
            &path,
            &Form::new(),
            after,
            Target::new("invoice", &inv.id),
            |l: wire::InvoiceLine| lines.push(l.record(&inv.currency)),
        )?;
    }
    Ok(lines)
}
