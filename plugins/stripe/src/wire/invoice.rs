//! Invoice, its lines and invoice items: the contract's invoice.

use omnicrm_gateway_sdk::invoicing::{
    Invoice as ContractInvoice, InvoiceLine as ContractInvoiceLine,
};
use omnicrm_gateway_sdk::types::InvoiceStatus as ContractInvoiceStatus;
use omnicrm_gateway_sdk::webhooks::InvoiceUpdate;
use serde::Deserialize;

use super::common::{Expandable, List, Metadata, Unmapped, has_id, id, status_enum};
use super::customer::Customer;
use crate::money;

status_enum! {
    /// `status` of an invoice.
    InvoiceStatus {
        /// Being prepared.
        Draft = "draft",
        /// Finalized, waiting for payment.
        Open = "open",
        /// Paid in full.
        Paid = "paid",
        /// Written off.
        Uncollectible = "uncollectible",
        /// Cancelled.
        Void = "void",
    }
}

impl InvoiceStatus {
    /// Stripe's name of a contract status (list filters).
    pub fn name_of(status: ContractInvoiceStatus) -> &'static str {
        match status {
            ContractInvoiceStatus::Draft => "draft",
            ContractInvoiceStatus::Open => "open",
            ContractInvoiceStatus::Paid => "paid",
            ContractInvoiceStatus::Void => "void",
            ContractInvoiceStatus::Uncollectible => "uncollectible",
        }
    }
}

/// An invoice (API version 2025-03-31.basil: taxes in `total_taxes`, no `payment_intent`).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct Invoice {
    /// `in_...`.
    #[serde(deserialize_with = "id")]
    pub id: String,
    /// Where it stands.
    pub status: InvoiceStatus,
    /// Lower-case ISO 4217 code, shared by every line.
    pub currency: String,
    /// Who is billed.
    pub customer: Expandable<Customer>,
    /// The number, once finalized.
    pub number: Option<String>,
    /// The first page of the lines.
    pub lines: List<InvoiceLine>,
    /// Sum of the lines before tax, in Stripe's unit of `currency`.
    pub subtotal: i64,
    /// Taxes (2025-03-31.basil).
    pub total_taxes: Option<Vec<TotalTax>>,
    /// Tax (API versions before 2025-03-31.basil).
    pub tax: Option<i64>,
    /// What is billed in all.
    pub total: i64,
    /// Paid so far.
    pub amount_paid: i64,
    /// Still to pay.
    pub amount_remaining: i64,
    /// The page where the customer sees and pays it.
    pub hosted_invoice_url: Option<String>,
    /// The PDF.
    pub invoice_pdf: Option<String>,
    /// When it was created.
    pub created: i64,
    /// When it is due.
    pub due_date: Option<i64>,
    /// The metadata given.
    #[serde(default)]
    pub metadata: Metadata,
}

has_id!(Invoice);

/// One entry of `total_taxes`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct TotalTax {
    /// The tax, in Stripe's unit of the invoice's currency.
    pub amount: i64,
}

/// A line of an invoice.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct InvoiceLine {
    /// `il_...`: the cursor of the lines' pages.
    #[serde(deserialize_with = "id")]
    pub id: String,
    /// What is billed.
    pub description: Option<String>,
    /// The line's total, in Stripe's unit of the invoice's currency.
    pub amount: i64,
    /// How many units (none for some kinds of lines: one).
    pub quantity: Option<u32>,
}

has_id!(InvoiceLine);

/// An invoice item, as its creation answers: only its id matters.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct InvoiceItem {
    /// `ii_...`.
    #[serde(deserialize_with = "id")]
    pub id: String,
}

impl InvoiceLine {
    /// The contract's line, in `currency` (the invoice's).
    pub fn record(&self, currency: &str) -> ContractInvoiceLine {
        ContractInvoiceLine {
            description: self.description.clone().unwrap_or_default(),
            amount: money::from_stripe(self.amount, currency),
            quantity: self.quantity.unwrap_or(1),
        }
    }
}

impl Invoice {
    /// Where the invoice stands; a status the plugin does not know is [`Unmapped`].
    pub fn status(&self) -> Result<ContractInvoiceStatus, Unmapped> {
        Ok(match &self.status {
            InvoiceStatus::Draft => ContractInvoiceStatus::Draft,
            InvoiceStatus::Open => ContractInvoiceStatus::Open,
            InvoiceStatus::Paid => ContractInvoiceStatus::Paid,
            InvoiceStatus::Uncollectible => ContractInvoiceStatus::Uncollectible,
            InvoiceStatus::Void => ContractInvoiceStatus::Void,
            other @ InvoiceStatus::Other(_) => {
                return Err(Unmapped::status("invoice", &self.id, other.as_str()));
            }
        })
    }

    /// The lines embedded in the invoice (the first page).
    pub fn embedded_lines(&self) -> Vec<ContractInvoiceLine> {
        self.lines
            .data
            .iter()
            .map(|l| l.record(&self.currency))
            .collect()
    }

    /// The contract's invoice with `lines` (every page).
    pub fn record(&self, lines: Vec<ContractInvoiceLine>) -> Result<ContractInvoice, Unmapped> {
        let currency = self.currency.to_ascii_uppercase();
        let amount = |stripe| money::from_stripe(stripe, &currency);
        let tax = match &self.total_taxes {
            Some(taxes) => taxes.iter().map(|t| t.amount).sum(),
            None => self.tax.unwrap_or(0),
        };
        Ok(ContractInvoice {
            id: self.id.clone(),
            customer: self.customer.id().to_owned(),
            status: self.status()?,
            number: self.number.clone(),
            lines,
            subtotal: amount(self.subtotal),
            tax: amount(tax),
            total: amount(self.total),
            amount_paid: amount(self.amount_paid),
            amount_remaining: amount(self.amount_remaining),
            hosted_url: self.hosted_invoice_url.clone(),
            pdf_url: self.invoice_pdf.clone(),
            created: self.created,
            due_date: self.due_date,
            metadata: self.metadata.0.clone(),
            currency,
        })
    }

    /// The contract's invoice update (webhooks); `payment_failed` for `invoice.payment_failed`.
    pub fn update(&self, payment_failed: bool) -> Result<InvoiceUpdate, Unmapped> {
        Ok(InvoiceUpdate {
            invoice: self.id.clone(),
            status: self.status()?,
            amount_paid: money::from_stripe(self.amount_paid, &self.currency),
            payment_failed,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::decode;

    #[test]
    fn a_paid_invoice_as_stripe_sends_it() {
        let inv: Invoice = decode(include_bytes!("fixtures/invoice.json")).unwrap();
        let lines = inv.embedded_lines();
        let i = inv.record(lines).unwrap();
        assert_eq!(i.id, "in_RTIywSKZu1xGt2iWziVpKd7Y");
        assert_eq!(i.customer, "cus_Kdn9fxFCpbx3DtJOb3Kb6VvH");
        assert_eq!(i.status, ContractInvoiceStatus::Paid);
        assert_eq!(i.currency, "USD");
        assert_eq!(i.number.as_deref(), Some("KDN9FXFC-0001"));
        assert_eq!((i.subtotal, i.tax, i.total), (3000, 0, 3000));
        assert_eq!((i.amount_paid, i.amount_remaining), (3000, 0));
        let [line] = &i.lines[..] else {
            panic!("{:?}", i.lines)
        };
        assert_eq!(
            (line.description.as_str(), line.amount, line.quantity),
            ("Line", 3000, 2)
        );
        assert!(i.hosted_url.is_some() && i.pdf_url.is_some() && i.due_date.is_none());
        assert!(!inv.lines.has_more);
    }

    /// An open ISK invoice with taxes, shaped as Stripe's 2025-03-31.basil reference describes
    /// it: `total_taxes` entries, an expanded customer, a line without quantity.
    const ISK_OPEN: &str = r#"{
        "id": "in_1", "object": "invoice", "status": "open", "currency": "isk",
        "customer": {"id": "cus_1", "object": "customer", "metadata": {"crm_customer_id": "c"}},
        "number": "A-1", "subtotal": 1000000, "total": 1240000, "amount_due": 1240000,
        "amount_paid": 0, "amount_remaining": 1240000, "created": 1700000000,
        "due_date": 1702592000, "hosted_invoice_url": null, "invoice_pdf": null,
        "metadata": {"b": "2", "a": "1"},
        "total_taxes": [
            {"amount": 200000, "tax_behavior": "exclusive", "taxability_reason": "standard_rated",
             "taxable_amount": 1000000, "type": "tax_rate_details",
             "tax_rate_details": {"tax_rate": "txr_1"}},
            {"amount": 40050, "tax_behavior": "exclusive", "taxability_reason": "standard_rated",
             "taxable_amount": 1000000, "type": "tax_rate_details",
             "tax_rate_details": {"tax_rate": "txr_2"}}
        ],
        "lines": {"object": "list", "has_more": true, "url": "/v1/invoices/in_1/lines",
            "data": [{"id": "il_1", "object": "line_item", "amount": 1000000,
                      "currency": "isk", "description": null, "quantity": null}]}
    }"#;

    #[test]
    fn taxes_isk_and_lines() {
        let inv: Invoice = decode(ISK_OPEN.as_bytes()).unwrap();
        assert!(inv.lines.has_more);
        let i = inv.record(inv.embedded_lines()).unwrap();
        assert_eq!(
            (i.status, i.customer.as_str()),
            (ContractInvoiceStatus::Open, "cus_1")
        );
        assert_eq!((i.subtotal, i.tax, i.total), (10_000, 2_401, 12_400));
        assert_eq!(i.due_date, Some(1_702_592_000));
        assert_eq!(
            i.metadata,
            [("b".into(), "2".into()), ("a".into(), "1".into())]
        );
        let line = &i.lines[0];
        assert_eq!(
            (line.description.as_str(), line.amount, line.quantity),
            ("", 10_000, 1)
        );
        // Before 2025-03-31.basil: `tax`.
        let old = ISK_OPEN.replace("\"total_taxes\"", "\"tax\": 240000, \"unused\"");
        let i = decode::<Invoice>(old.as_bytes())
            .unwrap()
            .record(vec![])
            .unwrap();
        assert_eq!(i.tax, 2_400);
    }

    #[test]
    fn an_unknown_status_is_unmapped_and_required_fields_are_required() {
        let odd = ISK_OPEN.replace("\"open\"", "\"scheduled\"");
        let inv: Invoice = decode(odd.as_bytes()).unwrap();
        assert_eq!(inv.status, InvoiceStatus::Other("scheduled".into()));
        assert!(inv.record(vec![]).is_err() && inv.update(false).is_err());
        for field in [
            "\"id\"",
            "\"status\"",
            "\"currency\"",
            "\"total\"",
            "\"lines\"",
        ] {
            let body = ISK_OPEN.replacen(field, "\"renamed\"", 1);
            let err = decode::<Invoice>(body.as_bytes()).unwrap_err();
            assert!(err.to_string().contains("missing field"), "{field}: {err}");
        }
        let no_line_amount = ISK_OPEN.replace("\"amount\": 1000000,", "");
        let err = decode::<Invoice>(no_line_amount.as_bytes()).unwrap_err();
        assert!(
            err.to_string().starts_with("missing field `amount`"),
            "{err}"
        );
    }
}
