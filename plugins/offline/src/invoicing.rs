//! `invoicing`: invoices whose state lives in their references.

use omnicrm_gateway_sdk::Invoicing;
use omnicrm_gateway_sdk::charging::{CaptureMode, StoredCredentialUse};
use omnicrm_gateway_sdk::invoicing::{
    CollectionMethod, Invoice, InvoiceFilter, InvoiceLine, InvoicePage, InvoiceRequest,
    InvoiceStatus,
};
use omnicrm_gateway_sdk::types::{GatewayError, Money, PageRequest};

use crate::Offline;
use crate::charging;
use crate::refs::{
    self, CardRef, InvoiceRef, MAX_AMOUNT, MAX_DAYS_UNTIL_DUE, check_currency, check_key,
    check_metadata, check_page, invalid, now,
};

/// The invoice a reference describes. Lines, description and metadata are not kept.
fn invoice_of(invoice: &InvoiceRef) -> Invoice {
    let created = now();
    Invoice {
        id: invoice.encode(),
        customer: format!("off_cus_{}", invoice.customer),
        status: invoice.status,
        number: (invoice.status != InvoiceStatus::Draft)
            .then(|| format!("OFF-{}", invoice.nonce[..8].to_uppercase())),
        currency: invoice.currency.clone(),
        lines: Vec::new(),
        subtotal: invoice.total,
        tax: 0,
        total: invoice.total,
        amount_paid: invoice.paid,
        amount_remaining: (invoice.total - invoice.paid).max(0),
        hosted_url: None,
        pdf_url: None,
        created,
        due_date: invoice
            .days_until_due
            .map(|days| created.saturating_add(i64::from(days) * 86_400)),
        metadata: Vec::new(),
    }
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

/// Moves an invoice to `to` when it is in one of `from`, else `invalid-input` on `invoice`.
fn transition(
    invoice: &str,
    key: &str,
    from: &[InvoiceStatus],
    to: InvoiceStatus,
) -> Result<InvoiceRef, GatewayError> {
    check_key(key)?;
    let mut parsed = InvoiceRef::parse(invoice)?;
    if !from.contains(&parsed.status) {
        let allowed: Vec<&str> = from.iter().map(|s| status_name(*s)).collect();
        return Err(invalid(
            "invoice",
            format!(
                "the invoice is {}; this needs one that is {}",
                status_name(parsed.status),
                allowed.join(" or ")
            ),
        ));
    }
    parsed.status = to;
    Ok(parsed)
}

impl Invoicing for Offline {
    fn create_invoice(request: InvoiceRequest) -> Result<Invoice, GatewayError> {
        check_key(&request.idempotency_key)?;
        let customer = refs::parse_customer(&request.customer)?;
        check_currency("currency", &request.currency)?;
        check_metadata("metadata", &request.metadata)?;
        if request.items.is_empty() {
            return Err(invalid("items", "an invoice needs at least one line"));
        }
        let mut lines = Vec::with_capacity(request.items.len());
        let mut total: i64 = 0;
        let mut nonce_input = vec![
            "invoice".to_string(),
            request.customer.clone(),
            request.currency.clone(),
            format!("{:?}", request.collection),
            format!("{:?}", request.days_until_due),
            request.description.clone().unwrap_or_default(),
        ];
        for (i, item) in request.items.iter().enumerate() {
            if item.quantity == 0 {
                return Err(invalid(
                    &format!("items[{i}].quantity"),
                    "must be at least 1",
                ));
            }
            check_metadata(&format!("items[{i}].metadata"), &item.metadata)?;
            let amount = item
                .unit_amount
                .checked_mul(i64::from(item.quantity))
                .filter(|a| a.abs() <= MAX_AMOUNT)
                .ok_or_else(|| {
                    invalid(
                        &format!("items[{i}].unit-amount"),
                        format!("the line exceeds {MAX_AMOUNT} minor units"),
                    )
                })?;
            total = total.saturating_add(amount);
            nonce_input.extend([
                item.description.clone(),
                amount.to_string(),
                item.quantity.to_string(),
            ]);
            lines.push(InvoiceLine {
                description: item.description.clone(),
                amount,
                quantity: item.quantity,
            });
        }
        if total.abs() > MAX_AMOUNT {
            return Err(invalid(
                "items",
                format!("the total exceeds {MAX_AMOUNT} minor units"),
            ));
        }
        let days_until_due = match request.collection {
            CollectionMethod::ChargeAutomatically => None,
            CollectionMethod::SendInvoice => match request.days_until_due {
                Some(days) if days <= MAX_DAYS_UNTIL_DUE => Some(days),
                Some(_) => {
                    return Err(invalid(
                        "days-until-due",
                        format!("at most {MAX_DAYS_UNTIL_DUE}"),
                    ));
                }
                None => return Err(invalid("days-until-due", "required for send-invoice")),
            },
        };
        nonce_input.push(request.idempotency_key.clone());
        let parts: Vec<&str> = nonce_input.iter().map(String::as_str).collect();
        let invoice = InvoiceRef {
            status: InvoiceStatus::Draft,
            currency: request.currency,
            total,
            paid: 0,
            collection: request.collection,
            days_until_due,
            customer: customer.to_string(),
            nonce: refs::hash(&parts),
        };
        Ok(Invoice {
            lines,
            metadata: request.metadata,
            ..invoice_of(&invoice)
        })
    }

    fn finalize_invoice(invoice: String, idempotency_key: String) -> Result<Invoice, GatewayError> {
        transition(
            &invoice,
            &idempotency_key,
            &[InvoiceStatus::Draft],
            InvoiceStatus::Open,
        )
        .map(|i| invoice_of(&i))
    }

    fn pay_invoice(
        invoice: String,
        card: Option<String>,
        idempotency_key: String,
    ) -> Result<Invoice, GatewayError> {
        let mut paid = transition(
            &invoice,
            &idempotency_key,
            &[InvoiceStatus::Open, InvoiceStatus::Uncollectible],
            InvoiceStatus::Paid,
        )?;
        if let Some(card) = card {
            let card_ref = CardRef::parse_owned(&card, &paid.customer)?;
            if paid.total > 0 {
                let nonce = refs::hash(&["invoice-payment", &invoice, &card, &idempotency_key]);
                let amount = Money {
                    amount: paid.total,
                    currency: paid.currency.clone(),
                };
                // The CRM pays the invoice with the customer's stored card, without the customer.
                charging::attempt(
                    card_ref,
                    amount,
                    CaptureMode::Automatic,
                    StoredCredentialUse::MerchantUnscheduled,
                    None,
                    nonce,
                )?;
            }
        }
        paid.paid = paid.total.max(0);
        Ok(invoice_of(&paid))
    }

    /// Voids an open or uncollectible invoice; a draft (which the offline gateway keeps nowhere)
    /// is deleted, reported as `void` like the others.
    fn void_invoice(invoice: String, idempotency_key: String) -> Result<Invoice, GatewayError> {
        transition(
            &invoice,
            &idempotency_key,
            &[
                InvoiceStatus::Draft,
                InvoiceStatus::Open,
                InvoiceStatus::Uncollectible,
            ],
            InvoiceStatus::Void,
        )
        .map(|i| invoice_of(&i))
    }

    fn mark_uncollectible(
        invoice: String,
        idempotency_key: String,
    ) -> Result<Invoice, GatewayError> {
        transition(
            &invoice,
            &idempotency_key,
            &[InvoiceStatus::Open],
            InvoiceStatus::Uncollectible,
        )
        .map(|i| invoice_of(&i))
    }

    fn get_invoice(invoice: String) -> Result<Invoice, GatewayError> {
        Ok(invoice_of(&InvoiceRef::parse(&invoice)?))
    }

    fn list_invoices(
        filter: InvoiceFilter,
        page: PageRequest,
    ) -> Result<InvoicePage, GatewayError> {
        check_page(&page)?;
        if page.cursor.is_some() {
            return Err(invalid(
                "cursor",
                "the offline gateway issues no invoice cursors",
            ));
        }
        if let Some(customer) = &filter.customer {
            refs::parse_customer(customer)?;
        }
        if let Some(range) = &filter.created
            && range.end < range.start
        {
            return Err(invalid("created", "end is before start"));
        }
        Ok(InvoicePage {
            invoices: Vec::new(),
            next_cursor: None,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use omnicrm_gateway_sdk::Gateway;
    use omnicrm_gateway_sdk::invoicing::LineItem;
    use omnicrm_gateway_sdk::tokens::StoreCardRequest;

    fn customer() -> String {
        refs::customer_ref("crm-1")
    }

    fn card(token: &str) -> String {
        Offline::store_card(StoreCardRequest {
            customer: customer(),
            token: token.into(),
            make_default: false,
            return_url: None,
            idempotency_key: "c".into(),
        })
        .unwrap()
        .id
    }

    fn draft(key: &str) -> Invoice {
        Offline::create_invoice(InvoiceRequest {
            customer: customer(),
            currency: "USD".into(),
            items: vec![LineItem {
                description: "Mobile plan".into(),
                unit_amount: 1500,
                quantity: 2,
                metadata: Vec::new(),
            }],
            description: None,
            collection: CollectionMethod::SendInvoice,
            days_until_due: Some(14),
            metadata: Vec::new(),
            idempotency_key: key.into(),
        })
        .unwrap()
    }

    #[test]
    fn an_invoice_is_finalized_and_paid_through_new_references() {
        let invoice = draft("inv-1");
        assert_eq!(
            (invoice.status, invoice.total),
            (InvoiceStatus::Draft, 3000)
        );
        assert_eq!(invoice.lines.len(), 1);
        assert_eq!(draft("inv-1").id, invoice.id);
        let open = Offline::finalize_invoice(invoice.id.clone(), "fin".into()).unwrap();
        assert_eq!(open.status, InvoiceStatus::Open);
        assert!(open.number.is_some() && open.due_date.is_some());
        assert_ne!(open.id, invoice.id);
        // The draft's reference still describes the draft.
        assert_eq!(
            Offline::get_invoice(invoice.id).unwrap().status,
            InvoiceStatus::Draft
        );
        let declined = Offline::pay_invoice(
            open.id.clone(),
            Some(card("tok_chargeDeclined")),
            "pay-1".into(),
        );
        assert!(matches!(declined, Err(GatewayError::Declined(_))));
        let paid =
            Offline::pay_invoice(open.id.clone(), Some(card("tok_visa")), "pay-2".into()).unwrap();
        assert_eq!(
            (paid.status, paid.amount_paid, paid.amount_remaining),
            (InvoiceStatus::Paid, 3000, 0)
        );
        assert!(matches!(
            Offline::void_invoice(paid.id, "void".into()),
            Err(GatewayError::InvalidInput(i)) if i.field == "invoice"
        ));
        let uncollectible = Offline::mark_uncollectible(open.id, "unc".into()).unwrap();
        assert_eq!(uncollectible.status, InvoiceStatus::Uncollectible);
    }
}
